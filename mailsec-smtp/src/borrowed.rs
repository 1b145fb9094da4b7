//! Commands parsed without copying: every value borrows from the command line.
//!
//! [`parse_command_ref`](crate::parse::parse_command_ref) checks a line exactly as
//! [`parse_command`](crate::parse::parse_command) does (same rules, same errors) but builds a
//! [`CommandRef`] whose addresses, domains, texts and parameters are slices of the line
//! ([`Checked`]): no allocation, no copy, and no UTF-8 conversion per value — the parser checks
//! the octets once (all ASCII, or UTF-8 where SMTPUTF8 allows it) and a value becomes `&str`
//! only when asked for.
//! Use it where a command is looked at and dropped (a server's dispatch, a proxy, a filter);
//! [`CommandRef::into_owned`] gives the owned [`Command`] when a value must outlive the line.
//!
//! Parameters are kept as the checked text after the path and typed as they are iterated
//! ([`MailParams::iter`], [`RcptParams::iter`]): a command that is never asked for its
//! parameters never builds them.
//!
//! ```
//! use mailsec_smtp::borrowed::{CommandRef, MailParamRef, ReversePathRef};
//! use mailsec_smtp::parse::{parse_command_ref, ParseOptions};
//! use mailsec_smtp::types::{BodyType, Command};
//!
//! let line = b"MAIL FROM:<alice@example.org> SIZE=1024 BODY=8BITMIME";
//! let cmd = parse_command_ref(line, ParseOptions::new())?;
//! let CommandRef::Mail { from: ReversePathRef::Mailbox(m), params } = &cmd else { panic!() };
//! assert_eq!((m.local_part(), m.host().to_string().as_str()), ("alice", "example.org"));
//! assert_eq!(
//!     params.iter().collect::<Vec<_>>(),
//!     [MailParamRef::Size(1024), MailParamRef::Body(BodyType::EightBitMime)]
//! );
//! assert_eq!(params.size(), Some(1024));
//! let owned: Command = cmd.into_owned();
//! assert_eq!(owned.verb(), "MAIL");
//! # Ok::<(), mailsec_smtp::CommandError>(())
//! ```

use std::fmt;

use crate::parse;
use crate::types::{
    AddressLiteral, BodyType, Command, Domain, EsmtpParam, ForwardPath, Host, InitialResponse,
    LocalPart, MailParam, Mailbox, Notify, Orcpt, RcptParam, Ret, ReversePath, SaslMechanism, Text,
    XText,
};

/// A value of the command line as the parser checked it (ASCII, or UTF-8 where SMTPUTF8
/// allows it), borrowed, not copied. The parser refused anything else, so
/// [`as_str`](Self::as_str) never fails; it converts on demand (a UTF-8 check, no copy) rather
/// than for every value parsed.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Checked<'a>(&'a [u8]);

impl<'a> Checked<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Checked<'a> {
        Checked(bytes)
    }

    /// The text.
    pub fn as_str(&self) -> &'a str {
        std::str::from_utf8(self.0).unwrap_or_default()
    }

    /// The octets as received.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.0
    }

    /// Whether it is all ASCII.
    pub fn is_ascii(&self) -> bool {
        self.0.is_ascii()
    }

    /// Its length in octets.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Checked<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Checked<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for Checked<'_> {
    fn eq(&self, other: &str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<&str> for Checked<'_> {
    fn eq(&self, other: &&str) -> bool {
        self.0 == other.as_bytes()
    }
}

/// A domain or an address literal, borrowed ([`Host`] owned).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum HostRef<'a> {
    /// A domain name as given (validated: RFC 5321 §4.1.2, U-labels only under SMTPUTF8).
    Domain(Checked<'a>),
    /// An address literal as received, brackets included (`[192.0.2.1]`, `[IPv6:…]`,
    /// `[tag:content]`), checked; [`HostRef::literal`] gives it typed.
    Literal(Checked<'a>),
}

impl HostRef<'_> {
    /// The address literal, typed (parsed again from the checked text), if this is one.
    pub fn literal(&self) -> Option<AddressLiteral> {
        match self {
            HostRef::Domain(_) => None,
            HostRef::Literal(l) => AddressLiteral::parse(l.as_bytes()).ok(),
        }
    }

    /// Whether the host is all ASCII.
    pub fn is_ascii(&self) -> bool {
        match self {
            HostRef::Domain(d) => d.is_ascii(),
            HostRef::Literal(_) => true,
        }
    }

    /// The owned [`Host`].
    pub fn into_owned(self) -> Host {
        match self {
            HostRef::Domain(d) => Host::Domain(Domain::from_validated(d.as_bytes())),
            // The parser checked the literal: this parse does not fail (and a default would
            // only stand for a literal that never got here).
            HostRef::Literal(l) => Host::Literal(
                AddressLiteral::parse(l.as_bytes())
                    .unwrap_or(AddressLiteral::Ipv4(std::net::Ipv4Addr::UNSPECIFIED)),
            ),
        }
    }
}

impl fmt::Display for HostRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostRef::Domain(d) => f.write_str(d.as_str()),
            HostRef::Literal(l) => f.write_str(l.as_str()),
        }
    }
}

/// A mailbox `local-part@host`, borrowed ([`Mailbox`] owned).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MailboxRef<'a> {
    pub(crate) local: Checked<'a>,
    pub(crate) host: HostRef<'a>,
}

impl<'a> MailboxRef<'a> {
    /// The local part in its wire form (a Dot-string, or a Quoted-string with its quotes).
    pub fn local_part(&self) -> &'a str {
        self.local.as_str()
    }

    /// The domain or address literal.
    pub fn host(&self) -> &HostRef<'a> {
        &self.host
    }

    /// Whether the mailbox is all ASCII.
    pub fn is_ascii(&self) -> bool {
        self.local.is_ascii() && self.host.is_ascii()
    }

    /// The owned [`Mailbox`].
    pub fn into_owned(self) -> Mailbox {
        Mailbox::new(
            LocalPart::from_validated(self.local.as_bytes()),
            self.host.into_owned(),
        )
    }
}

impl fmt::Display for MailboxRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local, self.host)
    }
}

/// The argument of `MAIL FROM:`, borrowed ([`ReversePath`] owned).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ReversePathRef<'a> {
    /// `<>`.
    Null,
    /// `<mailbox>` (a source route is dropped).
    Mailbox(MailboxRef<'a>),
}

impl ReversePathRef<'_> {
    /// Whether the path is all ASCII.
    pub fn is_ascii(&self) -> bool {
        match self {
            ReversePathRef::Null => true,
            ReversePathRef::Mailbox(m) => m.is_ascii(),
        }
    }

    /// The owned [`ReversePath`].
    pub fn into_owned(self) -> ReversePath {
        match self {
            ReversePathRef::Null => ReversePath::Null,
            ReversePathRef::Mailbox(m) => ReversePath::Mailbox(m.into_owned()),
        }
    }
}

/// The argument of `RCPT TO:`, borrowed ([`ForwardPath`] owned).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ForwardPathRef<'a> {
    /// `<Postmaster>`.
    Postmaster,
    /// `<mailbox>` (a source route is dropped).
    Mailbox(MailboxRef<'a>),
}

impl ForwardPathRef<'_> {
    /// Whether the path is all ASCII.
    pub fn is_ascii(&self) -> bool {
        match self {
            ForwardPathRef::Postmaster => true,
            ForwardPathRef::Mailbox(m) => m.is_ascii(),
        }
    }

    /// The owned [`ForwardPath`].
    pub fn into_owned(self) -> ForwardPath {
        match self {
            ForwardPathRef::Postmaster => ForwardPath::Postmaster,
            ForwardPathRef::Mailbox(m) => ForwardPath::Mailbox(m.into_owned()),
        }
    }
}

/// One `MAIL FROM` parameter, borrowed ([`MailParam`] owned). xtext values are kept in their
/// wire form (checked); [`MailParamRef::into_owned`] decodes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MailParamRef<'a> {
    /// `SIZE=n` (RFC 1870 §6).
    Size(u64),
    /// `BODY=` (RFC 6152, RFC 3030).
    Body(BodyType),
    /// `SMTPUTF8` (RFC 6531 §3.4).
    SmtpUtf8,
    /// `RET=` (RFC 3461 §4.3).
    Ret(Ret),
    /// `ENVID=`, the xtext wire form (RFC 3461 §4.4).
    EnvId(Checked<'a>),
    /// `AUTH=`, the xtext wire form; `None` is `AUTH=<>` (RFC 4954 §5).
    Auth(Option<Checked<'a>>),
    /// `REQUIRETLS` (RFC 8689 §4.1).
    RequireTls,
    /// Any other parameter, as received.
    Other {
        /// The keyword.
        keyword: Checked<'a>,
        /// The value, if any.
        value: Option<Checked<'a>>,
    },
}

impl MailParamRef<'_> {
    /// The owned [`MailParam`] (xtext decoded).
    pub fn into_owned(self) -> MailParam {
        let xtext = |w: Checked<'_>| {
            XText::decode(w.as_bytes()).unwrap_or_else(|_| XText::new(w.as_bytes()))
        };
        match self {
            MailParamRef::Size(n) => MailParam::Size(n),
            MailParamRef::Body(b) => MailParam::Body(b),
            MailParamRef::SmtpUtf8 => MailParam::SmtpUtf8,
            MailParamRef::Ret(r) => MailParam::Ret(r),
            MailParamRef::EnvId(w) => MailParam::EnvId(xtext(w)),
            MailParamRef::Auth(w) => MailParam::Auth(w.map(xtext)),
            MailParamRef::RequireTls => MailParam::RequireTls,
            MailParamRef::Other { keyword, value } => MailParam::Other(EsmtpParam::from_validated(
                keyword.as_bytes(),
                value.map(|v| v.as_bytes()),
            )),
        }
    }
}

/// One `RCPT TO` parameter, borrowed ([`RcptParam`] owned).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RcptParamRef<'a> {
    /// `NOTIFY=` (RFC 3461 §4.1).
    Notify(Notify),
    /// `ORCPT=addr-type;xtext` (RFC 3461 §4.2), the address in its xtext wire form.
    Orcpt {
        /// The address type, e.g. `rfc822`.
        addr_type: Checked<'a>,
        /// The original recipient, xtext wire form.
        address: Checked<'a>,
    },
    /// Any other parameter, as received.
    Other {
        /// The keyword.
        keyword: Checked<'a>,
        /// The value, if any.
        value: Option<Checked<'a>>,
    },
}

impl RcptParamRef<'_> {
    /// The owned [`RcptParam`] (xtext decoded).
    pub fn into_owned(self) -> RcptParam {
        match self {
            RcptParamRef::Notify(n) => RcptParam::Notify(n),
            RcptParamRef::Orcpt { addr_type, address } => {
                let address = XText::decode(address.as_bytes())
                    .unwrap_or_else(|_| XText::new(address.as_bytes()));
                match Orcpt::new(addr_type.as_str(), address) {
                    Ok(o) => RcptParam::Orcpt(o),
                    // Cannot happen: the parser checked the address type.
                    Err(_) => RcptParam::Other(EsmtpParam::from_validated(b"ORCPT", None)),
                }
            }
            RcptParamRef::Other { keyword, value } => RcptParam::Other(EsmtpParam::from_validated(
                keyword.as_bytes(),
                value.map(|v| v.as_bytes()),
            )),
        }
    }
}

/// What the parser learned of the known MAIL parameters while checking them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct MailSummary {
    /// `SIZE`, when [`MailSummary::HAS_SIZE`] is set.
    pub(crate) size: u64,
    pub(crate) body: Option<BodyType>,
    /// [`MailSummary::HAS_SIZE`], [`MailSummary::SMTPUTF8`], [`MailSummary::REQUIRETLS`].
    pub(crate) flags: u8,
}

impl MailSummary {
    pub(crate) const HAS_SIZE: u8 = 1;
    pub(crate) const SMTPUTF8: u8 = 2;
    pub(crate) const REQUIRETLS: u8 = 4;
}

/// The parameters of a `MAIL FROM`, checked, borrowed from the line, typed as they are
/// iterated. Known keywords appear at most once (a second one is refused by the parser).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MailParams<'a> {
    pub(crate) raw: &'a [u8],
    pub(crate) utf8: bool,
    pub(crate) summary: MailSummary,
}

impl<'a> MailParams<'a> {
    /// The parameters in the order given.
    pub fn iter(&self) -> impl Iterator<Item = MailParamRef<'a>> + use<'a> {
        let utf8 = self.utf8;
        tokens(self.raw).filter_map(move |t| parse::mail_param(t, utf8).ok())
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.raw.iter().all(|&b| b == b' ')
    }

    /// The parameters as received (checked), without the space after the path.
    pub fn as_str(&self) -> &'a str {
        std::str::from_utf8(self.raw)
            .unwrap_or_default()
            .trim_start_matches(' ')
    }

    /// `SIZE=n`, if given.
    pub fn size(&self) -> Option<u64> {
        (self.summary.flags & MailSummary::HAS_SIZE != 0).then_some(self.summary.size)
    }

    /// `BODY=`, if given.
    pub fn body(&self) -> Option<BodyType> {
        self.summary.body
    }

    /// Whether `SMTPUTF8` was given.
    pub fn smtputf8(&self) -> bool {
        self.summary.flags & MailSummary::SMTPUTF8 != 0
    }

    /// Whether `REQUIRETLS` was given.
    pub fn requiretls(&self) -> bool {
        self.summary.flags & MailSummary::REQUIRETLS != 0
    }

    /// The owned parameters, in order.
    pub fn into_owned(self) -> Vec<MailParam> {
        self.iter().map(MailParamRef::into_owned).collect()
    }
}

/// The parameters of a `RCPT TO`, checked, borrowed from the line, typed as they are iterated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RcptParams<'a> {
    pub(crate) raw: &'a [u8],
    pub(crate) utf8: bool,
}

impl<'a> RcptParams<'a> {
    /// The parameters in the order given.
    pub fn iter(&self) -> impl Iterator<Item = RcptParamRef<'a>> + use<'a> {
        let utf8 = self.utf8;
        tokens(self.raw).filter_map(move |t| parse::rcpt_param(t, utf8).ok())
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.raw.iter().all(|&b| b == b' ')
    }

    /// The parameters as received (checked), without the space after the path.
    pub fn as_str(&self) -> &'a str {
        std::str::from_utf8(self.raw)
            .unwrap_or_default()
            .trim_start_matches(' ')
    }

    /// The owned parameters, in order.
    pub fn into_owned(self) -> Vec<RcptParam> {
        self.iter().map(RcptParamRef::into_owned).collect()
    }
}

fn tokens(raw: &[u8]) -> impl Iterator<Item = &[u8]> {
    raw.split(|&b| b == b' ').filter(|t| !t.is_empty())
}

/// An SMTP command whose values borrow from the parsed line ([`Command`] owned). See the
/// [module documentation](self).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CommandRef<'a> {
    /// `EHLO host` (RFC 5321 §4.1.1.1).
    Ehlo(HostRef<'a>),
    /// `HELO host`.
    Helo(HostRef<'a>),
    /// `MAIL FROM:<path> [params]` (RFC 5321 §4.1.1.2).
    Mail {
        /// The reverse path.
        from: ReversePathRef<'a>,
        /// The parameters.
        params: MailParams<'a>,
    },
    /// `RCPT TO:<path> [params]` (RFC 5321 §4.1.1.3).
    Rcpt {
        /// The forward path.
        to: ForwardPathRef<'a>,
        /// The parameters.
        params: RcptParams<'a>,
    },
    /// `DATA`.
    Data,
    /// `BDAT size [LAST]` (RFC 3030 §2).
    Bdat {
        /// Exact octet count of the chunk that follows the CRLF.
        size: u64,
        /// Whether this is the last chunk.
        last: bool,
    },
    /// `RSET`.
    Rset,
    /// `NOOP [text]`.
    Noop(Option<Checked<'a>>),
    /// `QUIT`.
    Quit,
    /// `VRFY text`.
    Vrfy(Checked<'a>),
    /// `EXPN text`.
    Expn(Checked<'a>),
    /// `HELP [text]`.
    Help(Option<Checked<'a>>),
    /// `STARTTLS` (RFC 3207 §4).
    StartTls,
    /// `AUTH mechanism [initial-response]` (RFC 4954 §4). Owned values: the response is
    /// decoded from base64 into a secret.
    Auth {
        /// The mechanism name, upper case.
        mechanism: SaslMechanism,
        /// The initial response, decoded (`=` is the empty response).
        initial_response: Option<InitialResponse>,
    },
}

impl CommandRef<'_> {
    /// The verb, upper case.
    pub fn verb(&self) -> &'static str {
        match self {
            CommandRef::Ehlo(_) => "EHLO",
            CommandRef::Helo(_) => "HELO",
            CommandRef::Mail { .. } => "MAIL",
            CommandRef::Rcpt { .. } => "RCPT",
            CommandRef::Data => "DATA",
            CommandRef::Bdat { .. } => "BDAT",
            CommandRef::Rset => "RSET",
            CommandRef::Noop(_) => "NOOP",
            CommandRef::Quit => "QUIT",
            CommandRef::Vrfy(_) => "VRFY",
            CommandRef::Expn(_) => "EXPN",
            CommandRef::Help(_) => "HELP",
            CommandRef::StartTls => "STARTTLS",
            CommandRef::Auth { .. } => "AUTH",
        }
    }

    /// The owned [`Command`]: what [`parse_command`](crate::parse::parse_command) returns
    /// for the same line.
    pub fn into_owned(self) -> Command {
        let text = |t: Checked<'_>| Text::from_validated(t.as_bytes());
        match self {
            CommandRef::Ehlo(h) => Command::Ehlo(h.into_owned()),
            CommandRef::Helo(h) => Command::Helo(h.into_owned()),
            CommandRef::Mail { from, params } => Command::Mail {
                from: from.into_owned(),
                params: params.into_owned(),
            },
            CommandRef::Rcpt { to, params } => Command::Rcpt {
                to: to.into_owned(),
                params: params.into_owned(),
            },
            CommandRef::Data => Command::Data,
            CommandRef::Bdat { size, last } => Command::Bdat { size, last },
            CommandRef::Rset => Command::Rset,
            CommandRef::Noop(t) => Command::Noop(t.map(text)),
            CommandRef::Quit => Command::Quit,
            CommandRef::Vrfy(t) => Command::Vrfy(text(t)),
            CommandRef::Expn(t) => Command::Expn(text(t)),
            CommandRef::Help(t) => Command::Help(t.map(text)),
            CommandRef::StartTls => Command::StartTls,
            CommandRef::Auth {
                mechanism,
                initial_response,
            } => Command::Auth {
                mechanism,
                initial_response,
            },
        }
    }
}
