//! Capabilities (RFC 9051 §7.2.2) with the ones this crate knows typed.

use super::core::Atom;

macro_rules! capabilities {
    ($($(#[$doc:meta])* $variant:ident => $text:literal,)*) => {
        /// A capability name. Known names are typed (matched case-insensitively, serialized in
        /// their canonical spelling); others are kept as [`Capability::Other`].
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Capability<'a> {
            $($(#[$doc])* $variant,)*
            /// `AUTH=<mechanism>` (RFC 9051 §6.2.2).
            Auth(Atom<'a>),
            /// Anything else, as sent.
            Other(Atom<'a>),
        }

        impl<'a> Capability<'a> {
            /// Classifies a capability atom.
            ///
            /// ```
            /// use mailsec_imap::types::{Atom, Capability};
            /// assert_eq!(Capability::from_atom(Atom::new("literal+").unwrap()), Capability::LiteralPlus);
            /// assert!(matches!(Capability::from_atom(Atom::new("AUTH=PLAIN").unwrap()), Capability::Auth(_)));
            /// ```
            pub fn from_atom(atom: Atom<'a>) -> Self {
                let s = atom.as_str();
                $(if s.eq_ignore_ascii_case($text) { return Capability::$variant; })*
                if s.len() > 5 && s.as_bytes()[..5].eq_ignore_ascii_case(b"AUTH=") {
                    // The tail of an atom is an atom (non-empty here): no check, and no
                    // allocation for the borrowed atoms the parser makes.
                    use std::borrow::Cow;
                    let mechanism = match atom.into_cow() {
                        Cow::Borrowed(b) => Cow::Borrowed(&b[5..]),
                        Cow::Owned(mut o) => {
                            o.drain(..5);
                            Cow::Owned(o)
                        }
                    };
                    return Capability::Auth(Atom::unchecked_cow(mechanism));
                }
                Capability::Other(atom)
            }

            /// The capability as written on the wire (without `AUTH=` for [`Capability::Auth`],
            /// see [`Capability::write_to`]).
            pub fn name(&self) -> &str {
                match self {
                    $(Capability::$variant => $text,)*
                    Capability::Auth(a) | Capability::Other(a) => a.as_str(),
                }
            }

            /// Detaches from the input buffer.
            pub fn into_owned(self) -> Capability<'static> {
                match self {
                    $(Capability::$variant => Capability::$variant,)*
                    Capability::Auth(a) => Capability::Auth(a.into_owned()),
                    Capability::Other(a) => Capability::Other(a.into_owned()),
                }
            }
        }
    };
}

capabilities! {
    /// `IMAP4rev1` (RFC 3501).
    Imap4rev1 => "IMAP4rev1",
    /// `IMAP4rev2` (RFC 9051).
    Imap4rev2 => "IMAP4rev2",
    /// `STARTTLS`.
    StartTls => "STARTTLS",
    /// `LOGINDISABLED`.
    LoginDisabled => "LOGINDISABLED",
    /// `SASL-IR` (RFC 4959).
    SaslIr => "SASL-IR",
    /// `IDLE` (RFC 2177).
    Idle => "IDLE",
    /// `NAMESPACE` (RFC 2342).
    Namespace => "NAMESPACE",
    /// `UIDPLUS` (RFC 4315).
    UidPlus => "UIDPLUS",
    /// `LITERAL+` (RFC 7888).
    LiteralPlus => "LITERAL+",
    /// `LITERAL-` (RFC 7888).
    LiteralMinus => "LITERAL-",
    /// `ENABLE` (RFC 5161).
    Enable => "ENABLE",
    /// `ID` (RFC 2971).
    Id => "ID",
    /// `MOVE` (RFC 6851).
    Move => "MOVE",
    /// `SPECIAL-USE` (RFC 6154).
    SpecialUse => "SPECIAL-USE",
    /// `CREATE-SPECIAL-USE` (RFC 6154 §3).
    CreateSpecialUse => "CREATE-SPECIAL-USE",
    /// `LIST-EXTENDED` (RFC 5258).
    ListExtended => "LIST-EXTENDED",
    /// `LIST-STATUS` (RFC 5819).
    ListStatus => "LIST-STATUS",
    /// `ESEARCH` (RFC 4731).
    ESearch => "ESEARCH",
    /// `SEARCHRES` (RFC 5182).
    SearchRes => "SEARCHRES",
    /// `CONDSTORE` (RFC 7162).
    CondStore => "CONDSTORE",
    /// `QRESYNC` (RFC 7162).
    QResync => "QRESYNC",
    /// `QUOTA` (RFC 9208).
    Quota => "QUOTA",
    /// `UNSELECT` (RFC 3691).
    Unselect => "UNSELECT",
    /// `STATUS=SIZE` (RFC 8438).
    StatusSize => "STATUS=SIZE",
    /// `BINARY` (RFC 3516).
    Binary => "BINARY",
    /// `UTF8=ACCEPT` (RFC 6855).
    Utf8Accept => "UTF8=ACCEPT",
    /// `UTF8=ONLY` (RFC 6855).
    Utf8Only => "UTF8=ONLY",
    /// `COMPRESS=DEFLATE` (RFC 4978).
    CompressDeflate => "COMPRESS=DEFLATE",
}

impl Capability<'_> {
    /// Appends the wire form (`AUTH=` + mechanism for [`Capability::Auth`]).
    pub fn write_to(&self, out: &mut Vec<u8>) {
        if let Capability::Auth(_) = self {
            out.extend_from_slice(b"AUTH=");
        }
        out.extend_from_slice(self.name().as_bytes());
    }
}

impl Capability<'_> {
    /// `APPENDLIMIT` (RFC 7889 §3): `Some(Some(n))` for `APPENDLIMIT=n` (the server accepts no
    /// APPEND larger than `n` octets into any mailbox), `Some(None)` for a bare `APPENDLIMIT`
    /// (limits differ per mailbox: ask STATUS), `None` for any other capability. Kept as
    /// [`Capability::Other`]; this reads it.
    ///
    /// ```
    /// use mailsec_imap::types::{Atom, Capability};
    /// let c = Capability::from_atom(Atom::new("APPENDLIMIT=35651584").unwrap());
    /// assert_eq!(c.append_limit(), Some(Some(35_651_584)));
    /// assert_eq!(Capability::from_atom(Atom::new("appendlimit").unwrap()).append_limit(), Some(None));
    /// assert_eq!(Capability::Idle.append_limit(), None);
    /// assert_eq!(Capability::from_atom(Atom::new("APPENDLIMIT=x").unwrap()).append_limit(), None);
    /// ```
    pub fn append_limit(&self) -> Option<Option<u64>> {
        let Capability::Other(a) = self else {
            return None;
        };
        let s = a.as_str().as_bytes();
        let (name, value) = match s.iter().position(|&b| b == b'=') {
            Some(i) => (&s[..i], Some(&s[i + 1..])),
            None => (s, None),
        };
        if !name.eq_ignore_ascii_case(b"APPENDLIMIT") {
            return None;
        }
        match value {
            None => Some(None),
            Some(v) if !v.is_empty() && v.len() <= 19 && v.iter().all(u8::is_ascii_digit) => {
                let n = v.iter().fold(0u64, |n, &d| n * 10 + u64::from(d - b'0'));
                (n <= i64::MAX as u64).then_some(Some(n))
            }
            Some(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Atom, Capability};

    /// `AUTH=` is split off borrowed and owned atoms alike, case-insensitively; a bare
    /// `AUTH=` is another capability.
    #[test]
    fn auth_mechanism_split() {
        let borrowed = Capability::from_atom(Atom::new("auth=SCRAM-SHA-256").unwrap());
        let owned = Capability::from_atom(Atom::new(String::from("AUTH=PLAIN")).unwrap());
        let (Capability::Auth(b), Capability::Auth(o)) = (&borrowed, &owned) else {
            panic!("{borrowed:?} {owned:?}")
        };
        assert_eq!(b.as_str(), "SCRAM-SHA-256");
        assert_eq!(o.as_str(), "PLAIN");
        assert!(matches!(
            Capability::from_atom(Atom::new("AUTH=").unwrap()),
            Capability::Other(_)
        ));
    }
}
