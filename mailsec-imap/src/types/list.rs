//! [`SmallList`]: a list that holds up to three items inline and spills to the heap after.
//!
//! The `FLAGS` of a FETCH response ([`FlagList`](super::FlagList)) are one; a heap allocation
//! per FETCH for them was a measurable share of parsing a flag-synchronization stream
//! (`* 12 FETCH (UID 40 FLAGS (\Seen) MODSEQ (7))`). (The FETCH attribute list itself stays a
//! `Vec`: held inline it made every `Response` over 300 bytes, and moving those cost more than
//! the allocation.) Unlike the usual inline-vector crates this one is written without `unsafe`
//! and is covariant in `T`, so a `Response<'static>` still compares with, and stands in for, a
//! `Response<'a>`.

use std::fmt;
use std::ops::{Deref, DerefMut};

/// How many items a [`SmallList`] holds without a heap allocation.
pub const INLINE: usize = 3;

/// The capacity reserved when a [`SmallList`] spills to the heap: a client's FETCH usually asks
/// for up to 8 attributes, so one allocation and no regrowth.
const SPILL: usize = 8;

/// A list of `T` holding up to [`INLINE`] items inline, more on the heap. It derefs to a slice
/// (indexing, `iter`, slice patterns), compares with slices, arrays, `Vec`s and other lists, and
/// is built with [`push`](Self::push), `collect`, `From<Vec<T>>` or `From<[T; N]>`.
///
/// ```
/// use mailsec_imap::types::{Flag, FlagList};
///
/// let mut flags = FlagList::from([Flag::Seen]);
/// flags.push(Flag::Answered);
/// assert!(flags.is_inline());
/// assert_eq!(flags, [Flag::Seen, Flag::Answered]);
/// assert!(matches!(&flags[..], [Flag::Seen, _]));
/// let v: Vec<Flag<'static>> = flags.into_vec();
/// assert_eq!(v.len(), 2);
/// ```
#[derive(Clone)]
pub struct SmallList<T>(Repr<T>);

#[derive(Clone)]
enum Repr<T> {
    Empty,
    One([T; 1]),
    Two([T; 2]),
    Three([T; 3]),
    Heap(Vec<T>),
}

impl<T> SmallList<T> {
    /// An empty list (no allocation).
    pub const fn new() -> Self {
        SmallList(Repr::Empty)
    }

    /// Appends an item; the fourth moves the items to the heap.
    pub fn push(&mut self, item: T) {
        if let Repr::Heap(v) = &mut self.0 {
            v.push(item);
            return;
        }
        self.0 = match std::mem::replace(&mut self.0, Repr::Empty) {
            Repr::Empty => Repr::One([item]),
            Repr::One([a]) => Repr::Two([a, item]),
            Repr::Two([a, b]) => Repr::Three([a, b, item]),
            Repr::Three(inline) => {
                let mut v = Vec::with_capacity(SPILL);
                v.extend(inline);
                v.push(item);
                Repr::Heap(v)
            }
            Repr::Heap(mut v) => {
                v.push(item);
                Repr::Heap(v)
            }
        };
    }

    /// The items as a slice.
    pub fn as_slice(&self) -> &[T] {
        match &self.0 {
            Repr::Empty => &[],
            Repr::One(a) => a,
            Repr::Two(a) => a,
            Repr::Three(a) => a,
            Repr::Heap(v) => v,
        }
    }

    /// The items as a mutable slice.
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        match &mut self.0 {
            Repr::Empty => &mut [],
            Repr::One(a) => a,
            Repr::Two(a) => a,
            Repr::Three(a) => a,
            Repr::Heap(v) => v,
        }
    }

    /// Whether the items are held inline (no heap allocation).
    pub fn is_inline(&self) -> bool {
        !matches!(self.0, Repr::Heap(_))
    }

    /// The items as a `Vec` (without copying them when they are on the heap already).
    pub fn into_vec(self) -> Vec<T> {
        match self.0 {
            Repr::Heap(v) => v,
            _ => self.into_iter().collect(),
        }
    }
}

impl<T> Default for SmallList<T> {
    fn default() -> Self {
        SmallList::new()
    }
}

impl<T> Deref for SmallList<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        self.as_slice()
    }
}

impl<T> DerefMut for SmallList<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        self.as_mut_slice()
    }
}

impl<T: fmt::Debug> fmt::Debug for SmallList<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<T: PartialEq<U>, U> PartialEq<SmallList<U>> for SmallList<T> {
    fn eq(&self, other: &SmallList<U>) -> bool {
        self[..] == other[..]
    }
}

impl<T: Eq> Eq for SmallList<T> {}

impl<T: PartialEq<U>, U> PartialEq<Vec<U>> for SmallList<T> {
    fn eq(&self, other: &Vec<U>) -> bool {
        self[..] == other[..]
    }
}

impl<T: PartialEq<U>, U> PartialEq<[U]> for SmallList<T> {
    fn eq(&self, other: &[U]) -> bool {
        self[..] == other[..]
    }
}

impl<T: PartialEq<U>, U, const N: usize> PartialEq<[U; N]> for SmallList<T> {
    fn eq(&self, other: &[U; N]) -> bool {
        self[..] == other[..]
    }
}

impl<T: std::hash::Hash> std::hash::Hash for SmallList<T> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self[..].hash(state);
    }
}

impl<T> Extend<T> for SmallList<T> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, iter: I) {
        for item in iter {
            self.push(item);
        }
    }
}

impl<T> FromIterator<T> for SmallList<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut list = SmallList::new();
        list.extend(iter);
        list
    }
}

impl<T> From<Vec<T>> for SmallList<T> {
    fn from(v: Vec<T>) -> Self {
        if v.len() > INLINE {
            SmallList(Repr::Heap(v))
        } else {
            v.into_iter().collect()
        }
    }
}

impl<T, const N: usize> From<[T; N]> for SmallList<T> {
    fn from(a: [T; N]) -> Self {
        a.into_iter().collect()
    }
}

impl<T> From<SmallList<T>> for Vec<T> {
    fn from(list: SmallList<T>) -> Self {
        list.into_vec()
    }
}

/// The owning iterator of a [`SmallList`].
pub struct IntoIter<T>(IterRepr<T>);

enum IterRepr<T> {
    One(std::array::IntoIter<T, 1>),
    Two(std::array::IntoIter<T, 2>),
    Three(std::array::IntoIter<T, 3>),
    Heap(std::vec::IntoIter<T>),
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        match &mut self.0 {
            IterRepr::One(i) => i.next(),
            IterRepr::Two(i) => i.next(),
            IterRepr::Three(i) => i.next(),
            IterRepr::Heap(i) => i.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.0 {
            IterRepr::One(i) => i.size_hint(),
            IterRepr::Two(i) => i.size_hint(),
            IterRepr::Three(i) => i.size_hint(),
            IterRepr::Heap(i) => i.size_hint(),
        }
    }
}

impl<T> ExactSizeIterator for IntoIter<T> {}

impl<T: fmt::Debug> fmt::Debug for IntoIter<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rest = match &self.0 {
            IterRepr::One(i) => i.as_slice(),
            IterRepr::Two(i) => i.as_slice(),
            IterRepr::Three(i) => i.as_slice(),
            IterRepr::Heap(i) => i.as_slice(),
        };
        f.debug_tuple("IntoIter").field(&rest).finish()
    }
}

impl<T> IntoIterator for SmallList<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;

    fn into_iter(self) -> IntoIter<T> {
        IntoIter(match self.0 {
            Repr::Empty => IterRepr::Heap(Vec::new().into_iter()),
            Repr::One(a) => IterRepr::One(a.into_iter()),
            Repr::Two(a) => IterRepr::Two(a.into_iter()),
            Repr::Three(a) => IterRepr::Three(a.into_iter()),
            Repr::Heap(v) => IterRepr::Heap(v.into_iter()),
        })
    }
}

impl<'a, T> IntoIterator for &'a SmallList<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<'a, T> IntoIterator for &'a mut SmallList<T> {
    type Item = &'a mut T;
    type IntoIter = std::slice::IterMut<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_spills_after_three_and_keeps_order() {
        let mut l = SmallList::new();
        for i in 0..20 {
            assert_eq!(l.is_inline(), i <= INLINE, "{i}");
            assert_eq!(l[..], (0..i).collect::<Vec<_>>()[..]);
            l.push(i);
        }
        assert_eq!(
            l.clone().into_iter().collect::<Vec<_>>(),
            (0..20).collect::<Vec<_>>()
        );
        assert_eq!(l.into_vec(), (0..20).collect::<Vec<_>>());
    }

    #[test]
    fn conversions_and_iteration_agree() {
        for n in 0..6 {
            let v: Vec<String> = (0..n).map(|i| i.to_string()).collect();
            let l = SmallList::from(v.clone());
            assert_eq!(l, v);
            assert_eq!(l.is_inline(), n <= INLINE);
            let it = l.clone().into_iter();
            assert_eq!(it.len(), n);
            assert_eq!(it.collect::<Vec<_>>(), v);
            assert_eq!((&l).into_iter().count(), n);
            assert_eq!(l.iter().cloned().collect::<SmallList<_>>(), l);
            assert_eq!(format!("{l:?}"), format!("{v:?}"));
            assert_eq!(Vec::from(l), v);
        }
        let mut l = SmallList::from([1, 2]);
        l.as_mut_slice()[0] = 5;
        for x in &mut l {
            *x += 1;
        }
        assert_eq!(l, [6, 3]);
        assert_ne!(l, [6]);
    }

    #[test]
    fn is_covariant() {
        fn shorten<'a>(l: SmallList<&'static str>) -> SmallList<&'a str> {
            l
        }
        let owned = String::from("x");
        let short: SmallList<&str> = SmallList::from([owned.as_str()]);
        assert_eq!(shorten(SmallList::from(["x"])), short);
    }
}
