//! ENVELOPE and BODYSTRUCTURE as a FETCH response carries them: borrowed and parsed on demand
//! (see [`LazyEnvelope`]).

use std::borrow::Cow;
use std::fmt;

use super::response::{BodyStructure, Envelope};
use crate::error::ParseError;
use crate::parse::Quirks;

/// The validated wire form and what is needed to parse it again exactly as it was checked.
#[derive(Clone)]
struct Raw<'a> {
    bytes: Cow<'a, [u8]>,
    quirks: Quirks,
    max_depth: usize,
}

impl Raw<'_> {
    fn into_owned(self) -> Raw<'static> {
        Raw {
            bytes: Cow::Owned(self.bytes.into_owned()),
            quirks: self.quirks,
            max_depth: self.max_depth,
        }
    }
}

#[derive(Clone)]
enum Repr<'a, T> {
    Raw(Raw<'a>),
    Built(Box<T>),
}

macro_rules! lazy {
    ($(#[$doc:meta])* $name:ident, $tree:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name<'a> {
            repr: Repr<'a, $tree<'a>>,
            /// BODYSTRUCTURE (with extension data) rather than BODY; unused for an envelope.
            ext: bool,
        }

        impl<'a> $name<'a> {
            #[doc = concat!("The ", $what, ", built from the wire bytes when held raw (each call")]
            /// parses again: keep the result), borrowed when built.
            ///
            /// An error is only possible for a value whose bytes did not come from this
            /// crate's parser, which checked them with the same grammar; none can be made
            /// through the public API.
            pub fn get(&self) -> Result<Cow<'_, $tree<'a>>, ParseError> {
                match &self.repr {
                    Repr::Built(t) => Ok(Cow::Borrowed(&**t)),
                    Repr::Raw(r) => match &r.bytes {
                        Cow::Borrowed(b) => Self::parse(b, r, self.ext).map(Cow::Owned),
                        Cow::Owned(b) => Self::parse(b, r, self.ext)
                            .map(|t| Cow::Owned(t.into_owned())),
                    },
                }
            }

            #[doc = concat!("The ", $what, " tree, built if held raw (see [`Self::get`]).")]
            pub fn into_tree(self) -> Result<$tree<'a>, ParseError> {
                match self.repr {
                    Repr::Built(t) => Ok(*t),
                    Repr::Raw(r) => match r.bytes {
                        Cow::Borrowed(b) => Self::parse(b, &r, self.ext),
                        Cow::Owned(ref b) => {
                            Self::parse(b, &r, self.ext).map($tree::into_owned)
                        }
                    },
                }
            }

            /// The wire bytes as received (from `(` to the matching `)`), or `None` when the
            /// value was built.
            pub fn raw(&self) -> Option<&[u8]> {
                match &self.repr {
                    Repr::Raw(r) => Some(&r.bytes),
                    Repr::Built(_) => None,
                }
            }

            /// The tree when the value was built rather than parsed.
            pub fn built(&self) -> Option<&$tree<'a>> {
                match &self.repr {
                    Repr::Built(t) => Some(t),
                    Repr::Raw(_) => None,
                }
            }

            /// Detaches from the input buffer: a raw value copies its bytes once (nothing is
            /// parsed); a built one detaches its tree.
            pub fn into_owned(self) -> $name<'static> {
                $name {
                    repr: match self.repr {
                        Repr::Raw(r) => Repr::Raw(r.into_owned()),
                        Repr::Built(t) => Repr::Built(Box::new(t.into_owned())),
                    },
                    ext: self.ext,
                }
            }
        }

        impl<'a> From<$tree<'a>> for $name<'a> {
            fn from(t: $tree<'a>) -> Self {
                $name {
                    repr: Repr::Built(Box::new(t)),
                    ext: true,
                }
            }
        }

        impl<'a> From<Box<$tree<'a>>> for $name<'a> {
            fn from(t: Box<$tree<'a>>) -> Self {
                $name {
                    repr: Repr::Built(t),
                    ext: true,
                }
            }
        }

        /// Equal when the trees are equal, however each is held.
        impl PartialEq for $name<'_> {
            fn eq(&self, other: &Self) -> bool {
                if let (Some(a), Some(b)) = (self.raw(), other.raw()) {
                    if a == b && self.ext == other.ext {
                        if let (Repr::Raw(x), Repr::Raw(y)) = (&self.repr, &other.repr) {
                            if x.quirks == y.quirks {
                                return true;
                            }
                        }
                    }
                }
                match (self.get(), other.get()) {
                    (Ok(a), Ok(b)) => a == b,
                    _ => false,
                }
            }
        }

        impl Eq for $name<'_> {}

        /// Shows the tree (as a `Box` of it would), or the raw bytes if they do not parse.
        impl fmt::Debug for $name<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.get() {
                    Ok(t) => fmt::Debug::fmt(&*t, f),
                    Err(_) => f
                        .debug_tuple(stringify!($name))
                        .field(&String::from_utf8_lossy(self.raw().unwrap_or_default()))
                        .finish(),
                }
            }
        }
    };
}

lazy! {
    /// An ENVELOPE of a FETCH response (RFC 9051 §7.5.2): the validated wire bytes, parsed to an
    /// [`Envelope`] on demand, or a built [`Envelope`].
    ///
    /// The response parser checks an ENVELOPE, BODY or BODYSTRUCTURE against the full grammar
    /// (with the quirks and nesting limit in force) without building it, and keeps the
    /// validated wire bytes (no copy, no allocation). The tree is built only when asked for
    /// ([`LazyEnvelope::get`], [`LazyBody::get`]), by the same grammar code, so a client that
    /// only stores or forwards the value never pays for it
    /// ([`ResponseOptions::eager_trees`](crate::parse::ResponseOptions::eager_trees) builds
    /// every tree while parsing instead). Values built by hand (a server answering FETCH) hold
    /// the tree ([`From`]). [`LazyEnvelope::into_owned`] copies the bytes once: the cheap
    /// conversion from the borrowed form to the owned one. Two values are equal when their
    /// trees are, however each is held.
    ///
    /// ```
    /// use mailsec_imap::parse;
    /// use mailsec_imap::types::{Data, MsgAtt, Response};
    /// let input = b"* 1 FETCH (ENVELOPE (NIL \"Hi\" NIL NIL NIL NIL NIL NIL NIL NIL))\r\n";
    /// let (r, _) = parse::response(input).unwrap();
    /// let Response::Data(Data::Fetch { items, .. }) = r else { panic!() };
    /// let MsgAtt::Envelope(env) = &items[0] else { panic!() };
    /// assert_eq!(env.raw(), Some(&b"(NIL \"Hi\" NIL NIL NIL NIL NIL NIL NIL NIL)"[..]));
    /// let tree = env.get().unwrap();
    /// assert_eq!(tree.subject.0.as_ref().unwrap().as_bytes(), b"Hi");
    /// ```
    LazyEnvelope, Envelope, "envelope"
}

lazy! {
    /// A BODY or BODYSTRUCTURE of a FETCH response (RFC 9051 §7.5.2): the validated wire bytes,
    /// parsed to a [`BodyStructure`] on demand, or a built [`BodyStructure`]; see
    /// [`LazyEnvelope`].
    LazyBody, BodyStructure, "body structure"
}

impl<'a> LazyEnvelope<'a> {
    /// Wire bytes the response parser validated with these quirks and nesting limit.
    pub(crate) fn validated(bytes: &'a [u8], quirks: Quirks, max_depth: usize) -> Self {
        LazyEnvelope {
            repr: Repr::Raw(Raw {
                bytes: Cow::Borrowed(bytes),
                quirks,
                max_depth,
            }),
            ext: true,
        }
    }

    fn parse<'b>(bytes: &'b [u8], r: &Raw<'_>, _ext: bool) -> Result<Envelope<'b>, ParseError> {
        crate::parse::lazy_envelope(bytes, r.quirks, r.max_depth)
    }
}

impl<'a> LazyBody<'a> {
    /// Wire bytes the response parser validated as BODYSTRUCTURE (`ext`) or BODY.
    pub(crate) fn validated(bytes: &'a [u8], quirks: Quirks, max_depth: usize, ext: bool) -> Self {
        LazyBody {
            repr: Repr::Raw(Raw {
                bytes: Cow::Borrowed(bytes),
                quirks,
                max_depth,
            }),
            ext,
        }
    }

    /// A tree the parser built eagerly: BODYSTRUCTURE when `ext`, BODY otherwise.
    pub(crate) fn eager(tree: BodyStructure<'a>, ext: bool) -> Self {
        LazyBody {
            repr: Repr::Built(Box::new(tree)),
            ext,
        }
    }

    fn parse<'b>(bytes: &'b [u8], r: &Raw<'_>, ext: bool) -> Result<BodyStructure<'b>, ParseError> {
        crate::parse::lazy_body(bytes, r.quirks, r.max_depth, ext)
    }
}
