//! What one message needs besides its body: sender, recipients and the extensions it uses.

use crate::error::CommandError;
use crate::types::{BodyType, ForwardPath, Mailbox, Notify, Orcpt, Ret, ReversePath, XText};

/// One recipient, with its DSN options (RFC 3461 §4.1, §4.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recipient {
    path: ForwardPath,
    notify: Option<Notify>,
    orcpt: Option<Orcpt>,
}

impl Recipient {
    /// A recipient without DSN options.
    pub fn new(path: ForwardPath) -> Recipient {
        Recipient {
            path,
            notify: None,
            orcpt: None,
        }
    }

    /// `NOTIFY=` (needs the server's DSN).
    #[must_use]
    pub fn with_notify(mut self, notify: Notify) -> Recipient {
        self.notify = Some(notify);
        self
    }

    /// `ORCPT=` (needs the server's DSN).
    #[must_use]
    pub fn with_orcpt(mut self, orcpt: Orcpt) -> Recipient {
        self.orcpt = Some(orcpt);
        self
    }

    /// The forward path.
    pub fn path(&self) -> &ForwardPath {
        &self.path
    }

    /// The DSN NOTIFY option.
    pub fn notify(&self) -> Option<Notify> {
        self.notify
    }

    /// The DSN ORCPT option.
    pub fn orcpt(&self) -> Option<&Orcpt> {
        self.orcpt.as_ref()
    }
}

/// The envelope of one message (RFC 5321 §2.3.1) and what its body needs.
///
/// ```
/// use mailsec_smtp::client::Envelope;
/// use mailsec_smtp::types::BodyType;
///
/// let env = Envelope::from_addresses("alice@example.org", ["bob@example.net", "用户@例子.广告"])?
///     .with_body_type(BodyType::EightBitMime)
///     .with_size(4096);
/// assert_eq!(env.recipients().len(), 2);
/// assert!(env.needs_smtputf8()); // detected from the non-ASCII recipient
/// # Ok::<(), mailsec_smtp::CommandError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    from: ReversePath,
    recipients: Vec<Recipient>,
    body: BodyType,
    size: Option<u64>,
    smtputf8: bool,
    ret: Option<Ret>,
    envid: Option<XText>,
    require_tls: bool,
}

impl Envelope {
    /// An envelope from `from` (use [`ReversePath::Null`] for bounces) without recipients,
    /// with a 7-bit body.
    pub fn new(from: ReversePath) -> Envelope {
        Envelope {
            from,
            recipients: Vec::new(),
            body: BodyType::SevenBit,
            size: None,
            smtputf8: false,
            ret: None,
            envid: None,
            require_tls: false,
        }
    }

    /// Parses `from` (empty for the null path `<>`) and each recipient as `local@domain`;
    /// UTF-8 addresses are accepted (and make the message need SMTPUTF8).
    pub fn from_addresses<'a>(
        from: &str,
        to: impl IntoIterator<Item = &'a str>,
    ) -> Result<Envelope, CommandError> {
        let from = if from.is_empty() {
            ReversePath::Null
        } else {
            ReversePath::Mailbox(Mailbox::parse(from.as_bytes(), true)?)
        };
        let mut env = Envelope::new(from);
        for addr in to {
            env = env.to(ForwardPath::Mailbox(Mailbox::parse(addr.as_bytes(), true)?));
        }
        Ok(env)
    }

    /// Adds a recipient without options.
    #[must_use]
    pub fn to(self, path: ForwardPath) -> Envelope {
        self.to_recipient(Recipient::new(path))
    }

    /// Adds a recipient with options.
    #[must_use]
    pub fn to_recipient(mut self, recipient: Recipient) -> Envelope {
        self.recipients.push(recipient);
        self
    }

    /// The body type: `8BITMIME` (RFC 6152) and `BINARYMIME` (RFC 3030, sent with BDAT) need
    /// the server's extension; `7BIT` (the default) sends no BODY parameter.
    #[must_use]
    pub fn with_body_type(mut self, body: BodyType) -> Envelope {
        self.body = body;
        self
    }

    /// The message size in octets, announced with `SIZE=` when the server offers SIZE and
    /// checked against its limit before MAIL is sent (RFC 1870).
    #[must_use]
    pub fn with_size(mut self, size: u64) -> Envelope {
        self.size = Some(size);
        self
    }

    /// Asks for SMTPUTF8 (RFC 6531) even if every address is ASCII (for UTF-8 headers).
    #[must_use]
    pub fn with_smtputf8(mut self, on: bool) -> Envelope {
        self.smtputf8 = on;
        self
    }

    /// DSN `RET=` (RFC 3461 §4.3).
    #[must_use]
    pub fn with_ret(mut self, ret: Ret) -> Envelope {
        self.ret = Some(ret);
        self
    }

    /// DSN `ENVID=` (RFC 3461 §4.4).
    #[must_use]
    pub fn with_envid(mut self, envid: XText) -> Envelope {
        self.envid = Some(envid);
        self
    }

    /// REQUIRETLS (RFC 8689): only over TLS, and only to a server that offers it.
    #[must_use]
    pub fn with_require_tls(mut self, on: bool) -> Envelope {
        self.require_tls = on;
        self
    }

    /// The reverse path.
    pub fn from(&self) -> &ReversePath {
        &self.from
    }

    /// The recipients, in order (their index is the one in
    /// [`super::Event::RecipientResult`]).
    pub fn recipients(&self) -> &[Recipient] {
        &self.recipients
    }

    /// The body type.
    pub fn body_type(&self) -> BodyType {
        self.body
    }

    /// The declared size.
    pub fn size(&self) -> Option<u64> {
        self.size
    }

    /// Whether REQUIRETLS is asked.
    pub fn require_tls(&self) -> bool {
        self.require_tls
    }

    /// Whether the message needs SMTPUTF8: asked for, or a non-ASCII address.
    pub fn needs_smtputf8(&self) -> bool {
        self.smtputf8 || !self.from.is_ascii() || self.recipients.iter().any(|r| !r.path.is_ascii())
    }

    /// Whether any DSN option is set (they need the server's DSN).
    pub fn uses_dsn(&self) -> bool {
        self.ret.is_some()
            || self.envid.is_some()
            || self
                .recipients
                .iter()
                .any(|r| r.notify.is_some() || r.orcpt.is_some())
    }

    pub(crate) fn ret(&self) -> Option<Ret> {
        self.ret
    }

    pub(crate) fn envid(&self) -> Option<&XText> {
        self.envid.as_ref()
    }
}
