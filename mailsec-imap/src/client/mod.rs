//! The Sans-IO IMAP client machine (RFC 9051, RFC 3501; STARTTLS, SASL-IR RFC 4959, LITERAL+
//! RFC 7888, IDLE RFC 2177, UIDPLUS RFC 4315, MOVE RFC 6851, SPECIAL-USE RFC 6154, ESEARCH
//! RFC 4731).
//!
//! [`Client`] implements [`mailsec_tls::Machine`]: feed it what the server sent, drain
//! [`Machine::poll_output`] after every call, and call intents ([`Client::select`],
//! [`Client::fetch_headers`], …) whenever you like: those made before [`ClientEvent::Ready`]
//! wait until the login is done. Intents take `now` because sending one may start the
//! response timeout. The client logs in on its own:
//!
//! ```text
//! greeting  * OK [CAPABILITY ..]          * BYE / garbage → ClientError, whatever the policy
//!           * PREAUTH                     in clear with TLS required → PreauthWithoutTls
//! CAPABILITY (unless the greeting listed them)
//! STARTTLS (StartTlsRequired / Opportunistic)   missing, NO, BAD → ClientError (Required)
//!   tagged OK, nothing buffered behind it       anything buffered → ResponseInjection
//!   Output::StartTls … handle_tls_established: forget everything, CAPABILITY again
//! AUTHENTICATE mech [SASL-IR] / + challenges, else LOGIN (unless LOGINDISABLED)
//! CAPABILITY again unless the tagged OK carried [CAPABILITY]
//! Ready { capabilities, secure, auth }
//! intents, tagged A0001, A0002, …, pipelined when independent
//! ```
//!
//! # Security decisions
//!
//! - With [`ClientTls::StartTlsRequired`], STARTTLS is sent only if the capabilities list it;
//!   a missing STARTTLS, a NO or BAD to it or to CAPABILITY, a PREAUTH greeting in clear, or a
//!   BYE or malformed greeting ends the session before LOGIN or AUTHENTICATE is written
//!   (SECURITY.md invariant 4).
//! - With [`ClientTls::Implicit`], input before [`Machine::handle_tls_established`] ends the
//!   session ([`ClientError::PlaintextBeforeTls`]).
//! - The STARTTLS go-ahead must be the last byte received: anything after it, in the same
//!   read or before the handshake, is [`ClientError::ResponseInjection`] and no TLS starts.
//! - After the handshake the client forgets the plaintext capabilities and asks again; the
//!   SASL mechanism is chosen only from that list ([`mailsec_tls::sasl::choose_mechanism`]).
//! - Untagged data and response codes received in clear on a connection that is about to be
//!   upgraded are never reported (SECURITY.md invariant 5): only the CAPABILITY that decides
//!   the upgrade is read, and a BYE ends the session.
//! - Without TLS no credential of any kind (SASL, even SCRAM; LOGIN) is sent unless
//!   [`mailsec_tls::sasl::InsecureAuth::AllowPlaintextMechanismsWithoutTls`] is configured; LOGINDISABLED is
//!   honoured (RFC 9051 §6.2.3).
//! - Server text handed out is sanitized ([`mailsec_tls::text::sanitize`]).
//! - Lines, literals ([`ClientConfigBuilder::max_literal`]), collected responses, queued
//!   intents, the pipeline and time ([`ClientConfigBuilder::response_timeout`]) are bounded.
//!
//! # Large messages, session extensions, keepalive
//!
//! - [`Client::fetch_message_streamed`] streams a message of any size (up to
//!   [`ClientConfigBuilder::max_streamed_message`]) as [`ClientEvent::MessageStart`],
//!   [`ClientEvent::MessageData`] chunks of at most [`ClientConfigBuilder::stream_chunk`]
//!   octets, and [`ClientEvent::MessageEnd`]; the client never holds it.
//!   [`Client::fetch_message`] keeps giving one [`ClientEvent::Message`] buffer, bounded by
//!   [`ClientConfigBuilder::max_literal`].
//! - [`Client::enable`] (RFC 5161) records what the server enabled; UTF8=ACCEPT or IMAP4rev2
//!   switch mailbox names from modified UTF-7 to UTF-8 ([`Client::folder_name`] decodes what
//!   the server sends accordingly). [`Client::id`] (RFC 2971, limits of §3.3 enforced both
//!   ways), [`Client::namespace`] (RFC 2342), [`Client::unselect`] (RFC 3691, CLOSE as a
//!   fallback only when the caller accepts its expunge), [`Client::close`].
//! - [`ClientConfigBuilder::keepalive`]: a NOOP after a quiet interval outside IDLE, with the
//!   response timeout as dead-link detection.
//!
//! # Pipelining and routing
//!
//! Commands are sent as soon as the one before allows: a command with a synchronizing literal
//! (`{n}`) waits for the server's `+` before its octets (LITERAL+ / LITERAL- are used when
//! offered), and holds back later commands until then. SELECT, EXAMINE, EXPUNGE, MOVE, IDLE,
//! ENABLE, UNSELECT, CLOSE, the keepalive NOOP and LOGOUT are sent alone. Two commands that
//! collect the same untagged data (two FETCHes, two LISTs, …) are never in flight together, so
//! each untagged response has one owner: FETCH to the fetch (or non-silent store), LIST to the
//! list, SEARCH/ESEARCH to the search, STATUS to the status, FLAGS/EXISTS/OK codes to the
//! select, ENABLED to the enable, ID to the id, NAMESPACE to the namespace. Everything else —
//! EXISTS, EXPUNGE, VANISHED, flag changes, ALERT — is [`ClientEvent::Unsolicited`].
//!
//! # Example
//!
//! ```
//! use std::time::Instant;
//! use mailsec_imap::client::{Client, ClientConfig, ClientEvent};
//! use mailsec_tls::sasl::{Credentials, InsecureAuth};
//! use mailsec_tls::{ClientTls, Machine, Output};
//!
//! let config = ClientConfig::builder(Credentials::password("alice", "s3cret"))
//!     .tls(ClientTls::InsecurePlaintext) // a closed test network
//!     .insecure_auth(InsecureAuth::AllowPlaintextMechanismsWithoutTls)
//!     .build();
//! let now = Instant::now();
//! let mut client = Client::new(config, now);
//! let select = client.select(now, "INBOX").unwrap();
//! client.logout(now).unwrap();
//!
//! let mut wire = Vec::new();
//! let mut events = Vec::new();
//! for server in [
//!     &b"* OK [CAPABILITY IMAP4rev2 SASL-IR AUTH=PLAIN] ready\r\n"[..],
//!     b"A0001 OK [CAPABILITY IMAP4rev2] logged in\r\n",
//!     b"* 3 EXISTS\r\n* FLAGS (\\Seen)\r\nA0002 OK [READ-WRITE] done\r\n",
//!     b"* BYE\r\nA0003 OK bye\r\n",
//! ] {
//!     client.handle_input(now, server);
//!     while let Some(output) = client.poll_output() {
//!         match output {
//!             Output::Transmit(bytes) => wire.extend_from_slice(&bytes),
//!             Output::Event(event) => events.push(event),
//!             Output::Error(error) => panic!("{error}"),
//!             _ => {}
//!         }
//!     }
//! }
//! assert_eq!(
//!     wire,
//!     b"A0001 AUTHENTICATE PLAIN AGFsaWNlAHMzY3JldA==\r\nA0002 SELECT INBOX\r\nA0003 LOGOUT\r\n"
//! );
//! assert!(events.iter().any(|e| matches!(e,
//!     ClientEvent::Selected { id, info } if *id == select && info.exists == 3)));
//! assert_eq!(events.last(), Some(&ClientEvent::Closed));
//! ```
//!

mod config;
mod event;
mod request;
mod routing;
mod session;

use std::collections::VecDeque;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use mailsec_tls::{ClientTls, Machine, Output, TlsInfo};

pub use config::{
    ClientConfig, ClientConfigBuilder, DEFAULT_IDLE_REFRESH, DEFAULT_MAX_COLLECTED,
    DEFAULT_MAX_LITERAL, DEFAULT_MAX_PIPELINE, DEFAULT_MAX_QUEUED, DEFAULT_MAX_SEARCH_RESULTS,
    DEFAULT_MAX_STREAMED, DEFAULT_RESPONSE_TIMEOUT, DEFAULT_STREAM_CHUNK,
};
pub use event::{
    AuthMethod, ClientError, ClientEvent, CommandError, CopyUid, Phase, RequestId, SelectedInfo,
    Unsolicited, UsageError,
};

use crate::framing::{Framer, FramerConfig};
use crate::parse::ResponseOptions;
use crate::serialize::{self, SerializeOptions};
use crate::types::{
    Capability, Command, CommandBody, FetchItems, Flag, SearchKey, SequenceSet, StatusItem,
    StoreAction, StoreKind, Tag,
};
use request::{Acc, IdleState, InFlight, Internal, Owner, Request, Rest};

/// Where the session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Implicit TLS: waiting for the driver's handshake.
    AwaitTls,
    Greeting,
    /// Capabilities, STARTTLS, authentication: internal commands.
    Setup,
    /// `Output::StartTls` given; nothing is read or sent until the handshake completes.
    Handshake,
    Ready,
    Done,
}

/// The IMAP client machine. See the [module documentation](self).
#[derive(Debug)]
pub struct Client {
    config: ClientConfig,
    framer: Framer,
    parse_opts: ResponseOptions,
    out: VecDeque<Output<ClientEvent, ClientError>>,
    stage: Stage,
    secure: bool,
    /// The policy lets this session go on without TLS (InsecurePlaintext, or opportunistic
    /// and STARTTLS unavailable): untagged data received in clear may be reported.
    clear_ok: bool,
    capabilities: Vec<Capability<'static>>,
    caps_known: bool,
    auth: Option<AuthMethod>,
    queue: VecDeque<(RequestId, Request)>,
    inflight: Vec<InFlight>,
    next_id: u64,
    next_tag: u32,
    logout_requested: bool,
    logout_sent: bool,
    deadline: Option<Instant>,
    idle_deadline: Option<Instant>,
    /// When the keepalive NOOP is due (nothing in flight, nothing queued).
    keepalive_deadline: Option<Instant>,
    now: Instant,
    /// Capabilities the server confirmed in `* ENABLED` (RFC 5161).
    enabled: Vec<Capability<'static>>,
    /// UTF-8 mailbox names in force (UTF8=ACCEPT or IMAP4rev2 enabled).
    utf8: bool,
    /// A SELECT or EXAMINE was requested: ENABLE may no longer be sent (RFC 5161 §3.1).
    select_requested: bool,
    /// The streamed message being handed out: intent, sequence number, size.
    stream: Option<(RequestId, u32, u64)>,
}

impl Client {
    /// A client that has not received anything yet; the response timeout starts at `now`
    /// (a server that never greets is noticed). With [`ClientTls::Implicit`] it waits for
    /// [`Machine::handle_tls_established`]; otherwise for the plaintext greeting.
    pub fn new(config: ClientConfig, now: Instant) -> Self {
        let stage = if config.tls == ClientTls::Implicit {
            Stage::AwaitTls
        } else {
            Stage::Greeting
        };
        let clear_ok = config.tls == ClientTls::InsecurePlaintext;
        let framer = Self::make_framer(&config);
        let mut client = Client {
            config,
            framer,
            parse_opts: ResponseOptions::default(),
            out: VecDeque::new(),
            stage,
            secure: false,
            clear_ok,
            capabilities: Vec::new(),
            caps_known: false,
            auth: None,
            queue: VecDeque::new(),
            inflight: Vec::new(),
            next_id: 0,
            next_tag: 1,
            logout_requested: false,
            logout_sent: false,
            deadline: None,
            idle_deadline: None,
            keepalive_deadline: None,
            now,
            enabled: Vec::new(),
            utf8: false,
            select_requested: false,
            stream: None,
        };
        client.rearm(now, true);
        client
    }

    fn make_framer(config: &ClientConfig) -> Framer {
        let mut fc = FramerConfig::client();
        fc.after_auth.max_literal = config.max_literal;
        fc.after_auth.max_message = fc
            .after_auth
            .max_message
            .max(config.max_literal.saturating_add(1 << 20));
        Framer::new(fc)
    }

    /// The capabilities of the current phase (after TLS: those received over TLS).
    pub fn capabilities(&self) -> &[Capability<'static>] {
        &self.capabilities
    }

    /// Whether TLS is up (a handshake completed and the certificate was verified).
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// Whether the client is logged in and not closed.
    pub fn is_ready(&self) -> bool {
        self.stage == Stage::Ready
    }

    /// Whether the session has ended.
    pub fn is_closed(&self) -> bool {
        self.stage == Stage::Done
    }

    /// How the client authenticated, once it did.
    pub fn auth_method(&self) -> Option<AuthMethod> {
        self.auth
    }

    /// The capabilities the server confirmed enabled (`* ENABLED`, RFC 5161 §3.2).
    pub fn enabled(&self) -> &[Capability<'static>] {
        &self.enabled
    }

    /// Whether mailbox names travel as UTF-8 (UTF8=ACCEPT, RFC 6855 §3, or IMAP4rev2 was
    /// enabled) rather than modified UTF-7 (RFC 3501 §5.1.3).
    pub fn utf8_names(&self) -> bool {
        self.utf8
    }

    /// The Unicode name of a mailbox the server sent (in [`ClientEvent::Listed`],
    /// [`ClientEvent::Status`], …), decoded as the session requires: UTF-8 as it is once
    /// [`Client::utf8_names`], modified UTF-7 otherwise ([`Mailbox::to_utf8`](crate::types::Mailbox::to_utf8)).
    pub fn folder_name(
        &self,
        mailbox: &crate::types::Mailbox<'_>,
    ) -> Result<String, crate::error::ValidationError> {
        if self.utf8 {
            String::from_utf8(mailbox.as_bytes().to_vec()).map_err(|_| {
                crate::error::ValidationError::Encoding {
                    what: "mailbox name",
                }
            })
        } else {
            mailbox.to_utf8()
        }
    }

    /// Intents queued or in flight.
    pub fn pending(&self) -> usize {
        self.queue.len()
            + self
                .inflight
                .iter()
                .filter(|f| matches!(f.owner, Owner::User(..)))
                .count()
    }

    /// Where the session is.
    pub fn phase(&self) -> Phase {
        match self.stage {
            Stage::AwaitTls => Phase::AwaitTls,
            Stage::Greeting => Phase::Greeting,
            Stage::Handshake => Phase::StartTls,
            Stage::Setup => match self.inflight.first().map(|f| &f.owner) {
                Some(Owner::Internal(Internal::StartTls)) => Phase::StartTls,
                Some(Owner::Internal(Internal::Login | Internal::Authenticate(_))) => {
                    Phase::Authentication
                }
                _ => Phase::Capability,
            },
            Stage::Ready => Phase::Authenticated,
            Stage::Done => Phase::Closed,
        }
    }

    // ----- intents -----

    fn request(&mut self, now: Instant, request: Request) -> Result<RequestId, UsageError> {
        if self.stage == Stage::Done {
            return Err(UsageError::Closed);
        }
        if self.logout_requested {
            return Err(UsageError::LoggingOut);
        }
        if self.queue.len() >= self.config.max_queued {
            return Err(UsageError::QueueFull {
                limit: self.config.max_queued,
            });
        }
        let id = RequestId(self.next_id);
        self.next_id += 1;
        if matches!(request, Request::Logout) {
            self.logout_requested = true;
        }
        if matches!(request, Request::Select { .. }) {
            self.select_requested = true;
        }
        self.queue.push_back((id, request));
        self.now = now;
        self.pump();
        self.rearm(now, false);
        Ok(id)
    }

    /// `CAPABILITY` → [`ClientEvent::Capabilities`] (the client's list is updated too).
    pub fn capability(&mut self, now: Instant) -> Result<RequestId, UsageError> {
        self.request(now, Request::Capability)
    }

    /// `NOOP` → [`ClientEvent::Completed`]; unsolicited updates come before it. A NOOP that
    /// gets no answer within the response timeout ends the session (dead link).
    pub fn noop(&mut self, now: Instant) -> Result<RequestId, UsageError> {
        self.request(now, Request::Noop)
    }

    /// `LOGOUT` (after every intent queued before it) → [`ClientEvent::Closed`] and
    /// [`Output::Close`]. No intent is accepted afterwards.
    pub fn logout(&mut self, now: Instant) -> Result<RequestId, UsageError> {
        self.request(now, Request::Logout)
    }

    /// `LIST reference pattern` (with `RETURN (SPECIAL-USE)` when the server offers
    /// SPECIAL-USE, RFC 6154) → [`ClientEvent::Listed`]. Names are UTF-8, sent in modified
    /// UTF-7; `%` and `*` are wildcards.
    pub fn list(
        &mut self,
        now: Instant,
        reference: &str,
        pattern: &str,
    ) -> Result<RequestId, UsageError> {
        let reference = if reference.is_empty() {
            crate::types::Mailbox::new(crate::types::AString::String(
                crate::types::IString::new(&b""[..])?.into_owned(),
            ))
        } else {
            request::mailbox(reference)?
        };
        let pattern = request::list_pattern(pattern)?;
        self.request(now, Request::List { reference, pattern })
    }

    /// `CREATE folder` → [`ClientEvent::Completed`].
    pub fn create(&mut self, now: Instant, folder: &str) -> Result<RequestId, UsageError> {
        let m = request::mailbox(folder)?;
        self.request(now, Request::Create(m))
    }

    /// `DELETE folder` → [`ClientEvent::Completed`].
    pub fn delete(&mut self, now: Instant, folder: &str) -> Result<RequestId, UsageError> {
        let m = request::mailbox(folder)?;
        self.request(now, Request::Delete(m))
    }

    /// `RENAME from to` → [`ClientEvent::Completed`].
    pub fn rename(&mut self, now: Instant, from: &str, to: &str) -> Result<RequestId, UsageError> {
        let from = request::mailbox(from)?;
        let to = request::mailbox(to)?;
        self.request(now, Request::Rename { from, to })
    }

    /// `SUBSCRIBE folder` → [`ClientEvent::Completed`].
    pub fn subscribe(&mut self, now: Instant, folder: &str) -> Result<RequestId, UsageError> {
        let m = request::mailbox(folder)?;
        self.request(now, Request::Subscribe(m, true))
    }

    /// `UNSUBSCRIBE folder` → [`ClientEvent::Completed`].
    pub fn unsubscribe(&mut self, now: Instant, folder: &str) -> Result<RequestId, UsageError> {
        let m = request::mailbox(folder)?;
        self.request(now, Request::Subscribe(m, false))
    }

    /// `STATUS folder (items)` → [`ClientEvent::Status`].
    pub fn status(
        &mut self,
        now: Instant,
        folder: &str,
        items: &[StatusItem],
    ) -> Result<RequestId, UsageError> {
        if items.is_empty() {
            return Err(UsageError::Invalid(crate::error::ValidationError::Empty {
                what: "STATUS items",
            }));
        }
        let mailbox = request::mailbox(folder)?;
        self.request(
            now,
            Request::Status {
                mailbox,
                items: items.to_vec(),
            },
        )
    }

    /// `SELECT folder` → [`ClientEvent::Selected`].
    pub fn select(&mut self, now: Instant, folder: &str) -> Result<RequestId, UsageError> {
        let mailbox = request::mailbox(folder)?;
        self.request(
            now,
            Request::Select {
                mailbox,
                read_only: false,
            },
        )
    }

    /// `EXAMINE folder` (read-only) → [`ClientEvent::Selected`].
    pub fn examine(&mut self, now: Instant, folder: &str) -> Result<RequestId, UsageError> {
        let mailbox = request::mailbox(folder)?;
        self.request(
            now,
            Request::Select {
                mailbox,
                read_only: true,
            },
        )
    }

    /// `[UID] FETCH set items` → one [`ClientEvent::Fetched`] per message, then
    /// [`ClientEvent::Completed`].
    pub fn fetch(
        &mut self,
        now: Instant,
        set: SequenceSet,
        items: FetchItems<'static>,
        uid: bool,
    ) -> Result<RequestId, UsageError> {
        self.request(
            now,
            Request::Fetch {
                set,
                items,
                uid,
                message: false,
                stream: false,
            },
        )
    }

    /// `UID FETCH uids (UID FLAGS RFC822.SIZE BODY.PEEK[HEADER])`: headers without setting
    /// `\Seen` → [`ClientEvent::Fetched`]s, then [`ClientEvent::Completed`].
    pub fn fetch_headers(
        &mut self,
        now: Instant,
        uids: SequenceSet,
    ) -> Result<RequestId, UsageError> {
        self.request(
            now,
            Request::Fetch {
                set: uids,
                items: request::header_items(),
                uid: true,
                message: false,
                stream: false,
            },
        )
    }

    /// `UID FETCH uid (UID FLAGS BODY.PEEK[])`: the whole message, without setting `\Seen`
    /// → [`ClientEvent::Message`] (one buffer, bounded by
    /// [`ClientConfigBuilder::max_literal`]), then [`ClientEvent::Completed`]. For messages
    /// of any size, [`Client::fetch_message_streamed`].
    pub fn fetch_message(&mut self, now: Instant, uid: u32) -> Result<RequestId, UsageError> {
        let set = SequenceSet::single(uid)?;
        self.request(
            now,
            Request::Fetch {
                set,
                items: request::message_items(),
                uid: true,
                message: true,
                stream: false,
            },
        )
    }

    /// `UID FETCH uid (UID FLAGS BODY.PEEK[])`, or `BINARY.PEEK[]` when `binary` (RFC 3516;
    /// in IMAP4rev2): the whole message streamed, never held in memory →
    /// [`ClientEvent::MessageStart`], [`ClientEvent::MessageData`] chunks (each at most
    /// [`ClientConfigBuilder::stream_chunk`]), [`ClientEvent::MessageEnd`] (with the UID and
    /// flags, which may follow the body), then [`ClientEvent::Completed`]. The size is bounded
    /// by [`ClientConfigBuilder::max_streamed_message`], not by `max_literal`.
    ///
    /// While it is in flight, the body literal of every untagged FETCH response is streamed
    /// to it (no other FETCH is ever in flight at the same time). A FETCH without a body
    /// literal (`BODY[] NIL`, or no such message) gives no `MessageStart`: only
    /// [`ClientEvent::Fetched`] or nothing, then `Completed`.
    pub fn fetch_message_streamed(
        &mut self,
        now: Instant,
        uid: u32,
        binary: bool,
    ) -> Result<RequestId, UsageError> {
        let set = SequenceSet::single(uid)?;
        self.request(
            now,
            Request::Fetch {
                set,
                items: request::streamed_items(binary),
                uid: true,
                message: false,
                stream: true,
            },
        )
    }

    /// `ENABLE caps` (RFC 5161; in IMAP4rev2) → [`ClientEvent::Enabled`] with what the
    /// server's `* ENABLED` listed, also kept in [`Client::enabled`]. Enabling `UTF8=ACCEPT`
    /// (RFC 6855 §3) or `IMAP4rev2` (RFC 9051 §5.1) switches mailbox names to UTF-8, for
    /// every command sent after the answer ([`Client::utf8_names`],
    /// [`Client::folder_name`]); ENABLE is sent alone so nothing is written before it is
    /// known.
    ///
    /// Refused with [`UsageError::NotAllowed`] once a SELECT or EXAMINE was requested (RFC
    /// 5161 §3.1: clients MUST NOT issue ENABLE once they SELECT/EXAMINE a mailbox). When the
    /// server offers neither ENABLE nor IMAP4rev2, nothing is sent and the intent fails
    /// ([`ClientEvent::Failed`] with `[CANNOT]`).
    pub fn enable(
        &mut self,
        now: Instant,
        caps: &[Capability<'static>],
    ) -> Result<RequestId, UsageError> {
        if caps.is_empty() {
            return Err(UsageError::Invalid(crate::error::ValidationError::Empty {
                what: "ENABLE capabilities",
            }));
        }
        if self.select_requested {
            return Err(UsageError::NotAllowed(
                "ENABLE after SELECT or EXAMINE (RFC 5161 §3.1)",
            ));
        }
        self.request(now, Request::Enable(caps.to_vec()))
    }

    /// `ID (field value ...)` or `ID NIL` for `None` (RFC 2971) → [`ClientEvent::IdInfo`].
    /// RFC 2971 §3.3 holds both ways: at most 30 pairs, field names at most 30 octets, values
    /// at most 1024, no field twice — a violating argument is refused
    /// ([`UsageError::Invalid`]); a violating answer ends the session
    /// ([`ClientError::InvalidId`]).
    pub fn id(
        &mut self,
        now: Instant,
        fields: Option<&[(&str, Option<&str>)]>,
    ) -> Result<RequestId, UsageError> {
        let fields = match fields {
            None => None,
            Some(fields) => {
                use crate::error::ValidationError as V;
                if fields.len() > request::ID_MAX_PAIRS {
                    return Err(V::TooLong {
                        what: "ID field-value list (RFC 2971 §3.3)",
                        limit: request::ID_MAX_PAIRS,
                    }
                    .into());
                }
                let mut out = Vec::with_capacity(fields.len());
                for (i, (name, value)) in fields.iter().enumerate() {
                    if name.len() > request::ID_MAX_FIELD {
                        return Err(V::TooLong {
                            what: "ID field name (RFC 2971 §3.3)",
                            limit: request::ID_MAX_FIELD,
                        }
                        .into());
                    }
                    if value.is_some_and(|v| v.len() > request::ID_MAX_VALUE) {
                        return Err(V::TooLong {
                            what: "ID value (RFC 2971 §3.3)",
                            limit: request::ID_MAX_VALUE,
                        }
                        .into());
                    }
                    if fields[..i]
                        .iter()
                        .any(|(n, _)| n.eq_ignore_ascii_case(name))
                    {
                        return Err(V::NotAllowed {
                            what: "an ID field name twice (RFC 2971 §3.3)",
                        }
                        .into());
                    }
                    let name = crate::types::IString::new(name.as_bytes().to_vec())?;
                    let value = match value {
                        Some(v) => crate::types::NString(Some(crate::types::IString::new(
                            v.as_bytes().to_vec(),
                        )?)),
                        None => crate::types::NString(None),
                    };
                    out.push((name, value));
                }
                Some(out)
            }
        };
        self.request(now, Request::Id(fields))
    }

    /// `NAMESPACE` (RFC 2342; in IMAP4rev2) → [`ClientEvent::Namespaces`].
    pub fn namespace(&mut self, now: Instant) -> Result<RequestId, UsageError> {
        self.request(now, Request::Namespace)
    }

    /// Leaves the selected mailbox without expunging: `UNSELECT` (RFC 3691; in IMAP4rev2,
    /// RFC 9051 §6.4.2) → [`ClientEvent::Completed`].
    ///
    /// When the server offers neither UNSELECT nor IMAP4rev2: with `allow_close_expunge` the
    /// client sends `CLOSE` instead, which also **permanently removes every message marked
    /// `\Deleted`** in a mailbox selected read-write (RFC 9051 §6.4.1; the `Completed` event
    /// then names `CLOSE`); without it nothing is sent and the intent fails
    /// ([`ClientEvent::Failed`] with `[CANNOT]`). Sent alone.
    pub fn unselect(
        &mut self,
        now: Instant,
        allow_close_expunge: bool,
    ) -> Result<RequestId, UsageError> {
        self.request(
            now,
            Request::Unselect {
                allow_close: allow_close_expunge,
            },
        )
    }

    /// `CLOSE` (RFC 9051 §6.4.1): leaves the selected mailbox, removing the messages marked
    /// `\Deleted` (no untagged EXPUNGE is sent for them) → [`ClientEvent::Completed`]. Sent
    /// alone.
    pub fn close(&mut self, now: Instant) -> Result<RequestId, UsageError> {
        self.request(now, Request::Close)
    }

    /// `[UID] STORE set action` → [`ClientEvent::Fetched`]s unless `.SILENT`, then
    /// [`ClientEvent::Completed`].
    pub fn store(
        &mut self,
        now: Instant,
        set: SequenceSet,
        uid: bool,
        action: StoreAction<'static>,
    ) -> Result<RequestId, UsageError> {
        self.request(now, Request::Store { set, uid, action })
    }

    fn flag_seen(
        &mut self,
        now: Instant,
        uids: SequenceSet,
        kind: StoreKind,
    ) -> Result<RequestId, UsageError> {
        self.store(
            now,
            uids,
            true,
            StoreAction {
                kind,
                silent: true,
                flags: vec![Flag::Seen],
                parenthesized: true,
            },
        )
    }

    /// `UID STORE uids +FLAGS.SILENT (\Seen)` → [`ClientEvent::Completed`].
    pub fn mark_seen(&mut self, now: Instant, uids: SequenceSet) -> Result<RequestId, UsageError> {
        self.flag_seen(now, uids, StoreKind::Add)
    }

    /// `UID STORE uids -FLAGS.SILENT (\Seen)` → [`ClientEvent::Completed`].
    pub fn mark_unseen(
        &mut self,
        now: Instant,
        uids: SequenceSet,
    ) -> Result<RequestId, UsageError> {
        self.flag_seen(now, uids, StoreKind::Remove)
    }

    /// `UID COPY uids folder` → [`ClientEvent::Copied`] (with `[COPYUID]` when sent).
    pub fn copy(
        &mut self,
        now: Instant,
        uids: SequenceSet,
        folder: &str,
    ) -> Result<RequestId, UsageError> {
        let mailbox = request::mailbox(folder)?;
        self.request(now, Request::Copy { uids, mailbox })
    }

    /// `UID MOVE uids folder` (RFC 6851) → [`ClientEvent::Moved`]. Without MOVE, and with
    /// UIDPLUS, the same effect as `UID COPY`, `UID STORE +FLAGS.SILENT (\Deleted)`, `UID
    /// EXPUNGE` (only these messages are expunged); with neither the intent fails
    /// ([`ClientEvent::Failed`] with `[CANNOT]`, nothing sent).
    pub fn move_messages(
        &mut self,
        now: Instant,
        uids: SequenceSet,
        folder: &str,
    ) -> Result<RequestId, UsageError> {
        let mailbox = request::mailbox(folder)?;
        self.request(now, Request::Move { uids, mailbox })
    }

    /// `APPEND folder (flags) {n}` + message → [`ClientEvent::Appended`] (with
    /// `[APPENDUID]` when sent). The literal waits for the server's `+` unless LITERAL+ (or
    /// LITERAL- / IMAP4rev2 and at most 4096 octets) is offered. A message with a NUL octet is
    /// refused.
    pub fn append(
        &mut self,
        now: Instant,
        folder: &str,
        flags: &[Flag<'static>],
        message: impl Into<Bytes>,
    ) -> Result<RequestId, UsageError> {
        let mailbox = request::mailbox(folder)?;
        let message: Bytes = message.into();
        crate::types::Literal::new(&message[..], crate::types::LiteralMode::Sync)?;
        self.request(
            now,
            Request::Append {
                mailbox,
                flags: flags.to_vec(),
                message,
            },
        )
    }

    /// `EXPUNGE` → [`ClientEvent::Unsolicited`] `Expunge`s, then [`ClientEvent::Completed`].
    pub fn expunge(&mut self, now: Instant) -> Result<RequestId, UsageError> {
        self.request(now, Request::Expunge)
    }

    /// `UID SEARCH criteria` → [`ClientEvent::Searched`] with the matching UIDs (from SEARCH
    /// or ESEARCH responses).
    pub fn search(
        &mut self,
        now: Instant,
        criteria: Vec<SearchKey<'static>>,
    ) -> Result<RequestId, UsageError> {
        if criteria.is_empty() {
            return Err(UsageError::Invalid(crate::error::ValidationError::Empty {
                what: "search criteria",
            }));
        }
        self.request(now, Request::Search(criteria))
    }

    /// `IDLE` (RFC 2177) → [`ClientEvent::IdleStarted`] at the server's `+`; unsolicited
    /// updates then come as they happen. Every [`ClientConfigBuilder::idle_refresh`] the
    /// client sends DONE and IDLE again on its own (RFC 2177 §3: before 29 minutes); the
    /// deadline is in [`Machine::poll_timeout`]. Later intents wait until
    /// [`Client::idle_stop`].
    pub fn idle_start(&mut self, now: Instant) -> Result<RequestId, UsageError> {
        self.request(now, Request::Idle)
    }

    /// Ends the IDLE: `DONE` → [`ClientEvent::IdleEnded`] at the tagged OK. A DONE not
    /// answered within the response timeout ends the session (dead link).
    pub fn idle_stop(&mut self, now: Instant) -> Result<(), UsageError> {
        if self.stage == Stage::Done {
            return Err(UsageError::Closed);
        }
        self.now = now;
        if let Some(pos) = self
            .queue
            .iter()
            .position(|(_, r)| matches!(r, Request::Idle))
        {
            if let Some((id, _)) = self.queue.remove(pos) {
                self.event(ClientEvent::IdleEnded { id });
            }
            self.pump();
            return Ok(());
        }
        let Some(f) = self.inflight.iter_mut().find(|f| f.idle.is_some()) else {
            return Err(UsageError::NotIdling);
        };
        let Some(idle) = f.idle.as_mut() else {
            return Err(UsageError::NotIdling);
        };
        if idle.stop {
            return Ok(());
        }
        idle.stop = true;
        idle.renew = false;
        if idle.started && !idle.done_sent {
            idle.done_sent = true;
            self.idle_deadline = None;
            self.send_done();
        }
        self.rearm(now, false);
        Ok(())
    }

    // ----- output helpers -----

    fn event(&mut self, event: ClientEvent) {
        self.out.push_back(Output::Event(event));
    }

    fn transmit(&mut self, bytes: Bytes) {
        if !bytes.is_empty() {
            self.out.push_back(Output::Transmit(bytes));
        }
    }

    fn send_done(&mut self) {
        let mut buf = BytesMut::new();
        serialize::idle_done(&mut buf);
        self.transmit(buf.freeze());
    }

    fn fail(&mut self, err: ClientError) {
        if self.stage == Stage::Done {
            return;
        }
        self.out.push_back(Output::Error(err));
        self.out.push_back(Output::Close);
        self.end();
    }

    fn end(&mut self) {
        self.stage = Stage::Done;
        self.queue.clear();
        self.inflight.clear();
        self.framer = Self::make_framer(&self.config);
        self.deadline = None;
        self.idle_deadline = None;
        self.keepalive_deadline = None;
        self.stream = None;
    }

    fn closed(&mut self) {
        self.event(ClientEvent::Closed);
        self.out.push_back(Output::Close);
        self.end();
    }

    fn serialize_options(&self) -> SerializeOptions {
        let has = |c: Capability<'static>| self.capabilities.contains(&c);
        SerializeOptions::default()
            .literal_plus(has(Capability::LiteralPlus))
            .literal_minus(has(Capability::LiteralMinus) || has(Capability::Imap4rev2))
            .prefer_non_sync(true)
    }

    /// Tags a command, writes it, and sends it up to its first synchronizing literal's octets.
    fn send_command(&mut self, body: CommandBody<'_>, owner: Owner) {
        let tag_text = format!("A{:04}", self.next_tag);
        self.next_tag = self.next_tag.wrapping_add(1);
        let Ok(tag) = Tag::new(tag_text.clone()) else {
            return self.fail(ClientError::Unexpected {
                phase: self.phase(),
                what: "tag",
            });
        };
        let command = body.name();
        let idle = matches!(body, CommandBody::Idle).then(IdleState::default);
        let cmd = Command { tag, body };
        let mut buf = BytesMut::new();
        let lits = serialize::command_with(&cmd, &self.serialize_options(), &mut buf);
        drop(cmd);
        let bytes = buf.freeze();
        let mut syncs = lits.iter().filter(|l| l.sync).map(|l| l.offset);
        let rest = match syncs.next() {
            Some(first) => {
                self.transmit(bytes.slice(..first));
                Some(Rest {
                    bytes: bytes.slice(first..),
                    later: syncs.map(|o| o - first).collect(),
                })
            }
            None => {
                self.transmit(bytes);
                None
            }
        };
        let acc = match &owner {
            Owner::Internal(Internal::Capability) | Owner::User(_, Request::Capability) => {
                Acc::Capabilities(Vec::new())
            }
            Owner::User(_, Request::List { .. }) => Acc::List(Vec::new()),
            Owner::User(_, Request::Status { .. }) => Acc::Status(None),
            Owner::User(_, Request::Select { read_only, .. }) => {
                Acc::Select(Box::new(SelectedInfo {
                    read_only: *read_only,
                    ..SelectedInfo::default()
                }))
            }
            Owner::User(_, Request::Search(_)) => Acc::Search(Vec::new()),
            Owner::User(_, Request::Move { .. }) => Acc::CopyUid(None),
            Owner::User(_, Request::Enable(_)) => Acc::Enabled(Vec::new()),
            Owner::User(_, Request::Id(_)) => Acc::Id(None),
            Owner::User(_, Request::Namespace) => Acc::Namespace(None),
            _ => Acc::None,
        };
        self.inflight.push(InFlight {
            tag: tag_text,
            command,
            owner,
            rest,
            acc,
            idle,
        });
    }

    /// Sends the rest of a command after `+`, up to its next synchronizing literal.
    fn continue_literal(&mut self, index: usize) {
        let Some(rest) = self.inflight.get_mut(index).and_then(|f| f.rest.take()) else {
            return;
        };
        let mut later = rest.later.into_iter();
        match later.next() {
            Some(next) => {
                let now = rest.bytes.slice(..next);
                let after = rest.bytes.slice(next..);
                if let Some(f) = self.inflight.get_mut(index) {
                    f.rest = Some(Rest {
                        bytes: after,
                        later: later.map(|o| o - next).collect(),
                    });
                }
                self.transmit(now);
            }
            None => self.transmit(rest.bytes),
        }
        self.pump();
    }

    /// Sends queued intents while the pipeline rules allow (see the module documentation).
    fn pump(&mut self) {
        while self.stage == Stage::Ready {
            let Some((_, next)) = self.queue.front() else {
                return;
            };
            if !self.inflight.is_empty() {
                let class = next.class();
                let blocked = self.inflight.len() >= self.config.max_pipeline
                    || next.is_barrier()
                    || self.inflight.iter().any(|f| {
                        f.is_barrier()
                            || f.awaits_continuation()
                            || (class != request::Class::None && f.class() == class)
                    });
                if blocked {
                    return;
                }
            }
            let Some((id, request)) = self.queue.pop_front() else {
                return;
            };
            self.send_request(id, request);
        }
    }

    /// Fails an intent without sending anything (`NO [CANNOT]`-like).
    fn refuse(&mut self, id: RequestId, command: &'static str, why: &str) {
        self.event(ClientEvent::Failed {
            id,
            error: CommandError {
                command,
                status: crate::types::StatusKind::No,
                code: Some(crate::types::Code::Simple(crate::types::SimpleCode::Cannot)),
                text: why.to_owned(),
            },
        });
    }

    fn send_request(&mut self, id: RequestId, request: Request) {
        let request = match request {
            Request::Move { uids, mailbox } if !self.capabilities.contains(&Capability::Move) => {
                if !self.capabilities.contains(&Capability::UidPlus) {
                    // Plain EXPUNGE would also remove other \Deleted messages: refuse.
                    self.event(ClientEvent::Failed {
                        id,
                        error: CommandError {
                            command: "UID MOVE",
                            status: crate::types::StatusKind::No,
                            code: Some(crate::types::Code::Simple(
                                crate::types::SimpleCode::Cannot,
                            )),
                            text: "server offers neither MOVE nor UIDPLUS; nothing sent".to_owned(),
                        },
                    });
                    return;
                }
                Request::MoveCopy { uids, mailbox }
            }
            Request::Enable(_)
                if !self.capabilities.contains(&Capability::Enable)
                    && !self.capabilities.contains(&Capability::Imap4rev2) =>
            {
                return self.refuse(id, "ENABLE", "server offers neither ENABLE nor IMAP4rev2");
            }
            Request::Unselect { allow_close: false }
                if !self.capabilities.contains(&Capability::Unselect)
                    && !self.capabilities.contains(&Capability::Imap4rev2) =>
            {
                return self.refuse(
                    id,
                    "UNSELECT",
                    "server offers neither UNSELECT nor IMAP4rev2, and CLOSE (which expunges) \
                     was not allowed; nothing sent",
                );
            }
            other => other,
        };
        let mut request = request;
        if self.utf8 {
            request.use_utf8_names();
        }
        if matches!(request, Request::Logout) {
            self.logout_sent = true;
        }
        if matches!(request, Request::Fetch { stream: true, .. }) {
            self.framer
                .set_literal_streaming(Some((self.config.max_streamed, self.config.stream_chunk)));
        }
        let body = request.body(&self.capabilities).into_owned();
        self.send_command(body, Owner::User(id, request));
    }

    // ----- time -----

    fn expecting(&self) -> bool {
        match self.stage {
            Stage::Done => false,
            // Between intents, nothing is expected; an established IDLE waits for nothing.
            Stage::Ready => self.inflight.iter().any(|f| match &f.idle {
                Some(idle) => !idle.started || idle.done_sent,
                None => true,
            }),
            _ => true,
        }
    }

    /// Sets the response deadline: refreshed on progress, started when a wait begins,
    /// cleared when nothing is expected.
    fn rearm(&mut self, now: Instant, progress: bool) {
        if !self.expecting() {
            self.deadline = None;
        } else if progress || self.deadline.is_none() {
            self.deadline = now.checked_add(self.config.response_timeout);
        }
        let quiet = self.stage == Stage::Ready && self.inflight.is_empty() && self.queue.is_empty();
        match self.config.keepalive {
            Some(interval) if quiet => {
                if progress || self.keepalive_deadline.is_none() {
                    self.keepalive_deadline = now.checked_add(interval);
                }
            }
            _ => self.keepalive_deadline = None,
        }
    }

    /// The keepalive timer fired: a NOOP of the client's own (RFC 9051 §6.1.2), answered
    /// within the response timeout or the link is dead.
    fn keepalive(&mut self, now: Instant) {
        self.keepalive_deadline = None;
        if self.stage != Stage::Ready || !self.inflight.is_empty() || !self.queue.is_empty() {
            return self.rearm(now, false);
        }
        self.send_command(CommandBody::Noop, Owner::Internal(Internal::Keepalive));
        self.rearm(now, true);
    }

    // ----- input -----

    fn feed(&mut self, data: &[u8]) {
        if let Err(e) = self.framer.push(data) {
            return self.fail(e.into());
        }
        loop {
            if matches!(self.stage, Stage::Done | Stage::Handshake) {
                return;
            }
            match self.framer.next_frame() {
                None => return,
                Some(Err(e)) => return self.fail(e.into()),
                Some(Ok(crate::framing::Frame::Message(frame))) if self.stream.is_some() => {
                    self.stream_end(frame)
                }
                Some(Ok(crate::framing::Frame::Message(frame))) => self.message(frame),
                Some(Ok(crate::framing::Frame::StreamStart { head, size, .. })) => {
                    self.stream_start(&head, size)
                }
                Some(Ok(crate::framing::Frame::StreamData(data))) => self.stream_data(data),
                // Announcements were checked against the limits by the framer.
                Some(Ok(_)) => {}
            }
        }
    }

    fn message(&mut self, frame: Bytes) {
        if self.stage == Stage::Greeting {
            return self.greeting(&frame);
        }
        let response = match crate::parse::response_with(&frame, &self.parse_opts) {
            Ok((r, _)) => r,
            Err(error) => {
                return self.fail(ClientError::Malformed {
                    phase: self.phase(),
                    error,
                });
            }
        };
        self.response(response, &frame);
    }
}

impl Machine for Client {
    type Event = ClientEvent;
    type Error = ClientError;

    fn handle_input(&mut self, now: Instant, data: &[u8]) {
        self.now = now;
        match self.stage {
            Stage::Done => return,
            Stage::AwaitTls => return self.fail(ClientError::PlaintextBeforeTls),
            // Bytes between the go-ahead and the handshake can only be injected.
            Stage::Handshake => return self.fail(ClientError::ResponseInjection(data.len())),
            _ => {}
        }
        if data.is_empty() {
            return;
        }
        self.feed(data);
        self.rearm(now, true);
    }

    fn handle_eof(&mut self, now: Instant) {
        self.now = now;
        if self.stage == Stage::Done {
            return;
        }
        if self.logout_sent {
            self.closed();
        } else {
            self.fail(ClientError::ConnectionClosed {
                phase: self.phase(),
            });
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        if self.stage == Stage::Done {
            return;
        }
        if self.deadline.is_some_and(|d| d <= now) {
            return self.fail(ClientError::Timeout {
                phase: self.phase(),
            });
        }
        if self.idle_deadline.is_some_and(|d| d <= now) {
            self.idle_deadline = None;
            self.renew_idle();
            self.rearm(now, false);
        }
        if self.keepalive_deadline.is_some_and(|d| d <= now) {
            self.keepalive(now);
        }
    }

    fn handle_tls_established(&mut self, now: Instant, _info: &TlsInfo) {
        self.now = now;
        match self.stage {
            Stage::AwaitTls => {
                self.secure = true;
                self.stage = Stage::Greeting;
                self.event(ClientEvent::Secured);
            }
            Stage::Handshake => {
                // Amnesia (RFC 9051 §6.2.1, SECURITY.md invariant 2): nothing from plaintext.
                self.secure = true;
                self.framer = Self::make_framer(&self.config);
                self.capabilities.clear();
                self.caps_known = false;
                self.stage = Stage::Setup;
                self.event(ClientEvent::Secured);
                self.next_step();
            }
            Stage::Done => return,
            _ => return self.fail(ClientError::UnexpectedTls),
        }
        self.rearm(now, true);
    }

    fn poll_output(&mut self) -> Option<Output<ClientEvent, ClientError>> {
        self.out.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        [self.deadline, self.idle_deadline, self.keepalive_deadline]
            .into_iter()
            .flatten()
            .min()
    }
}
