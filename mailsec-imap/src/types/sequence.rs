//! Sequence sets (RFC 9051 §9 `sequence-set`) and `$` (SEARCHRES, RFC 5182).

use std::num::NonZeroU32;

use crate::error::ValidationError;

/// One end of a range: a message number / UID or `*` (the largest in use).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SeqNumber {
    /// A non-zero number.
    Value(NonZeroU32),
    /// `*`.
    Largest,
}

/// A single number or a range (`a:b`, either end may be `*`; order is as sent — RFC 9051 §9
/// says `2:4` and `4:2` are the same set, and the type keeps the form for exact round trips).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SeqRange {
    /// `n` or `*`.
    Single(SeqNumber),
    /// `a:b`.
    Range(SeqNumber, SeqNumber),
}

impl SeqRange {
    /// Whether `n` is in this range, given the largest number in use (for `*`).
    pub fn contains(&self, n: u32, largest: u32) -> bool {
        let v = |s: SeqNumber| match s {
            SeqNumber::Value(v) => v.get(),
            SeqNumber::Largest => largest,
        };
        match *self {
            SeqRange::Single(s) => v(s) == n,
            SeqRange::Range(a, b) => {
                let (lo, hi) = (v(a).min(v(b)), v(a).max(v(b)));
                (lo..=hi).contains(&n)
            }
        }
    }
}

/// A `sequence-set`, or `$` (the saved search result, RFC 5182 §2.1; also in IMAP4rev2).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SequenceSet {
    /// One or more comma-separated numbers and ranges.
    Ranges(Vec<SeqRange>),
    /// `$`.
    Saved,
}

impl SequenceSet {
    /// A validated set of ranges (at least one).
    ///
    /// ```
    /// use mailsec_imap::types::{SeqNumber, SeqRange, SequenceSet};
    /// use std::num::NonZeroU32;
    /// let one = SeqNumber::Value(NonZeroU32::new(1).unwrap());
    /// let set = SequenceSet::new(vec![SeqRange::Range(one, SeqNumber::Largest)]).unwrap();
    /// assert!(matches!(set, SequenceSet::Ranges(_)));
    /// assert!(SequenceSet::new(vec![]).is_err());
    /// ```
    pub fn new(ranges: Vec<SeqRange>) -> Result<Self, ValidationError> {
        if ranges.is_empty() {
            return Err(ValidationError::Empty {
                what: "sequence set",
            });
        }
        Ok(SequenceSet::Ranges(ranges))
    }

    /// A set of one number; fails on zero.
    pub fn single(n: u32) -> Result<Self, ValidationError> {
        let n = NonZeroU32::new(n).ok_or(ValidationError::OutOfRange {
            what: "sequence number",
        })?;
        Ok(SequenceSet::Ranges(vec![SeqRange::Single(
            SeqNumber::Value(n),
        )]))
    }

    /// Whether `n` is in the set (`false` for `$`, which the caller resolves).
    pub fn contains(&self, n: u32, largest: u32) -> bool {
        match self {
            SequenceSet::Ranges(r) => r.iter().any(|r| r.contains(n, largest)),
            SequenceSet::Saved => false,
        }
    }
}
