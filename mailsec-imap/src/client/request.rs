//! Queued intents, the commands they become, tags, and which commands may share the pipeline.

use std::borrow::Cow;

use bytes::Bytes;

use super::event::{CopyUid, RequestId, SelectedInfo};
use crate::types::chars::is_list_char;
use crate::types::{
    Capability, CommandBody, FetchAttribute, FetchItems, Flag, IString, ListData, ListMailbox,
    ListReturn, Literal, LiteralMode, Mailbox, NString, SearchKey, Section, SectionText,
    SequenceSet, StatusItem, StoreAction, StoreKind,
};

/// An intent waiting to be sent, with owned arguments.
#[derive(Clone, Debug)]
pub(crate) enum Request {
    Capability,
    Noop,
    Logout,
    List {
        reference: Mailbox<'static>,
        pattern: ListMailbox<'static>,
    },
    Create(Mailbox<'static>),
    Delete(Mailbox<'static>),
    Rename {
        from: Mailbox<'static>,
        to: Mailbox<'static>,
    },
    Subscribe(Mailbox<'static>, bool),
    Status {
        mailbox: Mailbox<'static>,
        items: Vec<StatusItem>,
    },
    Select {
        mailbox: Mailbox<'static>,
        read_only: bool,
    },
    Fetch {
        set: SequenceSet,
        items: FetchItems<'static>,
        uid: bool,
        /// `fetch_message`: the BODY[] literal becomes a `Message` event.
        message: bool,
        /// `fetch_message_streamed`: the body literal is streamed (framer streaming on while
        /// this request is in flight).
        stream: bool,
    },
    Store {
        set: SequenceSet,
        uid: bool,
        action: StoreAction<'static>,
    },
    Copy {
        uids: SequenceSet,
        mailbox: Mailbox<'static>,
    },
    Move {
        uids: SequenceSet,
        mailbox: Mailbox<'static>,
    },
    /// MOVE fallback (RFC 6851 §3.3 describes the equivalent): step 1, UID COPY.
    MoveCopy {
        uids: SequenceSet,
        mailbox: Mailbox<'static>,
    },
    /// Step 2: UID STORE +FLAGS.SILENT (\Deleted).
    MoveStore {
        uids: SequenceSet,
        copy_uid: Option<CopyUid>,
    },
    /// Step 3: UID EXPUNGE (UIDPLUS, so other `\Deleted` messages stay).
    MoveExpunge {
        uids: SequenceSet,
        copy_uid: Option<CopyUid>,
    },
    Append {
        mailbox: Mailbox<'static>,
        flags: Vec<Flag<'static>>,
        message: Bytes,
    },
    Expunge,
    Search(Vec<SearchKey<'static>>),
    Idle,
    Enable(Vec<Capability<'static>>),
    Id(Option<Vec<(IString<'static>, NString<'static>)>>),
    Namespace,
    /// UNSELECT, or CLOSE when the server lacks UNSELECT and `allow_close`.
    Unselect {
        allow_close: bool,
    },
    Close,
}

/// Which untagged data a request collects: two requests of one class are never in flight
/// together, so every untagged response has one owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    None,
    Capability,
    List,
    Status,
    Select,
    Fetch,
    Search,
    Move,
    Enable,
    Id,
    Namespace,
}

impl Request {
    pub(crate) fn class(&self) -> Class {
        match self {
            Request::Capability => Class::Capability,
            Request::List { .. } => Class::List,
            Request::Status { .. } => Class::Status,
            Request::Select { .. } => Class::Select,
            Request::Fetch { .. } => Class::Fetch,
            Request::Store { action, .. } if !action.silent => Class::Fetch,
            Request::Search(_) => Class::Search,
            Request::Move { .. } => Class::Move,
            Request::Enable(_) => Class::Enable,
            Request::Id(_) => Class::Id,
            Request::Namespace => Class::Namespace,
            _ => Class::None,
        }
    }

    /// Commands sent only when nothing else is in flight, and after which nothing is sent
    /// until they complete: they change the selected state or message numbers (RFC 9051
    /// §5.5), end the session, or take over the connection (IDLE).
    pub(crate) fn is_barrier(&self) -> bool {
        matches!(
            self,
            Request::Select { .. }
                | Request::Logout
                | Request::Idle
                | Request::Expunge
                | Request::Move { .. }
                | Request::MoveCopy { .. }
                | Request::MoveStore { .. }
                | Request::MoveExpunge { .. }
                // ENABLE changes how later commands are written (UTF-8 names, RFC 6855 §3).
                | Request::Enable(_)
                | Request::Unselect { .. }
                | Request::Close
        )
    }

    /// Rewrites the mailbox names (built in modified UTF-7) as UTF-8: after `ENABLE
    /// UTF8=ACCEPT` (RFC 6855 §3) or `IMAP4rev2` (RFC 9051 §5.1: modified UTF-7 is only for
    /// IMAP4rev1).
    pub(crate) fn use_utf8_names(&mut self) {
        let conv = |m: &mut Mailbox<'static>| {
            if let Mailbox::Other(_) = m {
                if let Ok(name) = crate::types::mailbox::decode_utf7(m.as_bytes()) {
                    if let Ok(new) = Mailbox::from_utf8(&name, true) {
                        *m = new;
                    }
                }
            }
        };
        match self {
            Request::List { reference, pattern } => {
                conv(reference);
                if let Ok(name) = crate::types::mailbox::decode_utf7(pattern.as_bytes()) {
                    if let Ok(p) = list_pattern_utf8(&name) {
                        *pattern = p;
                    }
                }
            }
            Request::Create(m) | Request::Delete(m) | Request::Subscribe(m, _) => conv(m),
            Request::Rename { from, to } => {
                conv(from);
                conv(to);
            }
            Request::Status { mailbox, .. }
            | Request::Select { mailbox, .. }
            | Request::Copy { mailbox, .. }
            | Request::Move { mailbox, .. }
            | Request::MoveCopy { mailbox, .. }
            | Request::Append { mailbox, .. } => conv(mailbox),
            _ => {}
        }
    }

    /// The command on the wire. `caps` decides LIST's RETURN (SPECIAL-USE).
    pub(crate) fn body<'r>(&'r self, caps: &[Capability<'_>]) -> CommandBody<'r> {
        match self {
            Request::Capability => CommandBody::Capability,
            Request::Noop => CommandBody::Noop,
            Request::Logout => CommandBody::Logout,
            Request::List { reference, pattern } => CommandBody::List {
                selection: None,
                reference: reference.clone(),
                patterns: vec![pattern.clone()],
                patterns_list: false,
                // RFC 6154 §5.2: ask for the special-use attributes when offered.
                return_opts: caps
                    .contains(&Capability::SpecialUse)
                    .then(|| vec![ListReturn::SpecialUse]),
            },
            Request::Create(m) => CommandBody::Create {
                mailbox: m.clone(),
                special_use: Vec::new(),
            },
            Request::Delete(m) => CommandBody::Delete(m.clone()),
            Request::Rename { from, to } => CommandBody::Rename {
                from: from.clone(),
                to: to.clone(),
            },
            Request::Subscribe(m, true) => CommandBody::Subscribe(m.clone()),
            Request::Subscribe(m, false) => CommandBody::Unsubscribe(m.clone()),
            Request::Status { mailbox, items } => CommandBody::Status {
                mailbox: mailbox.clone(),
                items: items.clone(),
            },
            Request::Select {
                mailbox,
                read_only: false,
            } => CommandBody::Select {
                mailbox: mailbox.clone(),
                params: Vec::new(),
            },
            Request::Select { mailbox, .. } => CommandBody::Examine {
                mailbox: mailbox.clone(),
                params: Vec::new(),
            },
            Request::Fetch {
                set, items, uid, ..
            } => CommandBody::Fetch {
                uid: *uid,
                set: set.clone(),
                items: items.clone(),
                modifiers: Vec::new(),
            },
            Request::Store { set, uid, action } => CommandBody::Store {
                uid: *uid,
                set: set.clone(),
                unchanged_since: None,
                action: action.clone(),
            },
            Request::Copy { uids, mailbox } | Request::MoveCopy { uids, mailbox } => {
                CommandBody::Copy {
                    uid: true,
                    set: uids.clone(),
                    mailbox: mailbox.clone(),
                }
            }
            Request::Move { uids, mailbox } => CommandBody::Move {
                uid: true,
                set: uids.clone(),
                mailbox: mailbox.clone(),
            },
            Request::MoveStore { uids, .. } => CommandBody::Store {
                uid: true,
                set: uids.clone(),
                unchanged_since: None,
                action: StoreAction {
                    kind: StoreKind::Add,
                    silent: true,
                    flags: vec![Flag::Deleted],
                    parenthesized: true,
                },
            },
            Request::MoveExpunge { uids, .. } => CommandBody::UidExpunge(uids.clone()),
            Request::Append {
                mailbox,
                flags,
                message,
            } => CommandBody::Append {
                mailbox: mailbox.clone(),
                flags: (!flags.is_empty()).then(|| flags.clone()),
                date: None,
                // Checked for NUL when the intent was made; non-synchronizing when the
                // server allows it (the serializer falls back to `{n}` otherwise).
                message: Literal::new(Cow::Borrowed(&message[..]), LiteralMode::NonSync)
                    .unwrap_or_else(|_| {
                        Literal::binary(Cow::Borrowed(&message[..]), LiteralMode::Sync)
                    }),
                utf8: false,
            },
            Request::Expunge => CommandBody::Expunge,
            Request::Search(criteria) => CommandBody::Search {
                uid: true,
                return_opts: None,
                charset: None,
                criteria: criteria.clone(),
            },
            Request::Idle => CommandBody::Idle,
            Request::Enable(caps) => CommandBody::Enable(caps.clone()),
            Request::Id(fields) => CommandBody::Id(fields.clone()),
            Request::Namespace => CommandBody::Namespace,
            // RFC 3691 / RFC 9051 §6.4.2; CLOSE expunges (RFC 9051 §6.4.1).
            Request::Unselect { allow_close } => {
                let unselect =
                    caps.contains(&Capability::Unselect) || caps.contains(&Capability::Imap4rev2);
                if !unselect && *allow_close {
                    CommandBody::Close
                } else {
                    CommandBody::Unselect
                }
            }
            Request::Close => CommandBody::Close,
        }
    }
}

/// RFC 2971 §3.3: at most 30 field-value pairs.
pub(crate) const ID_MAX_PAIRS: usize = 30;
/// RFC 2971 §3.3: field strings at most 30 octets.
pub(crate) const ID_MAX_FIELD: usize = 30;
/// RFC 2971 §3.3: value strings at most 1024 octets.
pub(crate) const ID_MAX_VALUE: usize = 1024;

/// A folder name (UTF-8, `/` or the server's delimiter) as a mailbox on the wire: modified
/// UTF-7 (RFC 3501 §5.1.3), `INBOX` case-insensitively the inbox.
pub(crate) fn mailbox(name: &str) -> Result<Mailbox<'static>, crate::error::ValidationError> {
    Mailbox::from_utf8(name, false)
}

/// A LIST pattern: bare when every octet is a `list-char`, else a string.
pub(crate) fn list_pattern(
    pattern: &str,
) -> Result<ListMailbox<'static>, crate::error::ValidationError> {
    let wire = crate::types::mailbox::encode_utf7(pattern);
    if !wire.is_empty() && wire.bytes().all(is_list_char) {
        return Ok(ListMailbox::Token(Cow::Owned(wire)));
    }
    Ok(ListMailbox::String(IString::new(wire.into_bytes())?))
}

/// A LIST pattern once UTF-8 names are in force: UTF-8 as it is.
fn list_pattern_utf8(pattern: &str) -> Result<ListMailbox<'static>, crate::error::ValidationError> {
    if !pattern.is_empty() && pattern.bytes().all(is_list_char) {
        return Ok(ListMailbox::Token(Cow::Owned(pattern.to_owned())));
    }
    Ok(ListMailbox::String(IString::new(
        pattern.as_bytes().to_vec(),
    )?))
}

/// `UID FLAGS BINARY.PEEK[]` (RFC 3516 §4.2) or `UID FLAGS BODY.PEEK[]`.
pub(crate) fn streamed_items(binary: bool) -> FetchItems<'static> {
    let body = if binary {
        FetchAttribute::Binary {
            peek: true,
            part: Vec::new(),
            partial: None,
        }
    } else {
        FetchAttribute::BodySection {
            peek: true,
            section: Section::default(),
            partial: None,
        }
    };
    FetchItems::List(vec![FetchAttribute::Uid, FetchAttribute::Flags, body])
}

/// `UID FLAGS RFC822.SIZE BODY.PEEK[HEADER]`.
pub(crate) fn header_items() -> FetchItems<'static> {
    FetchItems::List(vec![
        FetchAttribute::Uid,
        FetchAttribute::Flags,
        FetchAttribute::Rfc822Size,
        FetchAttribute::BodySection {
            peek: true,
            section: Section {
                part: Vec::new(),
                text: Some(SectionText::Header),
            },
            partial: None,
        },
    ])
}

/// `UID FLAGS BODY.PEEK[]`.
pub(crate) fn message_items() -> FetchItems<'static> {
    FetchItems::List(vec![
        FetchAttribute::Uid,
        FetchAttribute::Flags,
        FetchAttribute::BodySection {
            peek: true,
            section: Section::default(),
            partial: None,
        },
    ])
}

/// Unsent octets of a command after a synchronizing literal's announcement: sent when the
/// server's `+` comes (RFC 9051 §4.3, §7.5).
#[derive(Debug)]
pub(crate) struct Rest {
    pub(crate) bytes: Bytes,
    /// Offsets in `bytes` of later synchronizing literals' first octets.
    pub(crate) later: Vec<usize>,
}

/// The IDLE command's progress (RFC 2177).
#[derive(Debug, Default)]
pub(crate) struct IdleState {
    /// `+` received.
    pub(crate) started: bool,
    /// `DONE` sent.
    pub(crate) done_sent: bool,
    /// The DONE was the refresh timer's: start IDLE again after the tagged OK.
    pub(crate) renew: bool,
    /// The application asked to stop.
    pub(crate) stop: bool,
    /// An `IdleStarted` event was given for this intent.
    pub(crate) announced: bool,
}

/// What the client sends on its own before login.
#[derive(Debug)]
pub(crate) enum Internal {
    Capability,
    StartTls,
    Login,
    Authenticate(Box<mailsec_tls::sasl::ClientExchange>),
    /// The keepalive NOOP (after login).
    Keepalive,
}

/// The fields of an ID response, sanitized.
pub(crate) type IdFields = Vec<(String, Option<String>)>;

/// What an in-flight command collects from untagged responses.
#[derive(Debug, Default)]
pub(crate) enum Acc {
    #[default]
    None,
    Capabilities(Vec<Capability<'static>>),
    List(Vec<ListData<'static>>),
    Status(Option<(Mailbox<'static>, Vec<(StatusItem, u64)>)>),
    Select(Box<SelectedInfo>),
    Search(Vec<u32>),
    CopyUid(Option<CopyUid>),
    Enabled(Vec<Capability<'static>>),
    /// `None` until a `* ID` came; then `Some(None)` for NIL.
    Id(Option<Option<IdFields>>),
    Namespace(Option<[Option<Vec<crate::types::NamespaceDesc<'static>>>; 3]>),
}

/// The owner of an in-flight command.
#[derive(Debug)]
pub(crate) enum Owner {
    Internal(Internal),
    User(RequestId, Request),
}

/// A command sent and not yet completed.
#[derive(Debug)]
pub(crate) struct InFlight {
    pub(crate) tag: String,
    pub(crate) command: &'static str,
    pub(crate) owner: Owner,
    pub(crate) rest: Option<Rest>,
    pub(crate) acc: Acc,
    pub(crate) idle: Option<IdleState>,
}

impl InFlight {
    pub(crate) fn class(&self) -> Class {
        match &self.owner {
            Owner::Internal(Internal::Capability) => Class::Capability,
            Owner::Internal(_) => Class::None,
            Owner::User(_, r) => r.class(),
        }
    }

    pub(crate) fn is_barrier(&self) -> bool {
        match &self.owner {
            Owner::Internal(_) => true,
            Owner::User(_, r) => r.is_barrier(),
        }
    }

    /// Whether this command waits for a `+` (a literal, an AUTHENTICATE challenge, IDLE's
    /// go-ahead); at most one command does at a time.
    pub(crate) fn awaits_continuation(&self) -> bool {
        self.rest.is_some()
            || matches!(self.owner, Owner::Internal(Internal::Authenticate(_)))
            || self.idle.as_ref().is_some_and(|i| !i.started)
    }
}
