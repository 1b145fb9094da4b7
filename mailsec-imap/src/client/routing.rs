//! Responses to their owners: tagged completions end requests, untagged data goes to the
//! request in flight that asked for it or becomes [`Unsolicited`], `+` continues the one
//! command waiting for it.

use bytes::Bytes;
use mailsec_tls::text::sanitize;

use super::event::{ClientError, ClientEvent, CommandError, CopyUid, SelectedInfo, Unsolicited};
use super::request::{Acc, IdleState, Owner, Request};
use super::{Client, Stage};
use crate::types::{
    Capability, Code, CommandBody, Data, ESearchItem, Flag, MsgAtt, Response, SeqNumber, SeqRange,
    SequenceSet, SimpleCode, StatusKind,
};

impl Client {
    /// Whether untagged data may be reported: over TLS, or on a session the policy keeps in
    /// clear. Data received in clear before an upgrade is dropped (SECURITY.md invariant 5).
    fn trusted(&self) -> bool {
        self.secure || self.clear_ok
    }

    pub(super) fn response(&mut self, response: Response<'_>, frame: &Bytes) {
        match response {
            Response::Status {
                tag: Some(tag),
                kind,
                code,
                text,
            } => self.tagged(tag.as_str(), kind, code.map(Code::into_owned), &text),
            Response::Status {
                tag: None,
                kind,
                code,
                text,
            } => self.untagged_status(kind, code.map(Code::into_owned), &text),
            Response::Data(data) => self.data(data, frame),
            Response::Continuation { text, .. } => self.continuation(&text),
        }
    }

    // ----- tagged -----

    fn tagged(&mut self, tag: &str, kind: StatusKind, code: Option<Code<'static>>, text: &[u8]) {
        let Some(index) = self.inflight.iter().position(|f| f.tag == tag) else {
            return self.fail(ClientError::Unexpected {
                phase: self.phase(),
                what: "tagged response with a tag not in flight",
            });
        };
        if matches!(kind, StatusKind::Preauth | StatusKind::Bye) {
            return self.fail(ClientError::Unexpected {
                phase: self.phase(),
                what: "tagged PREAUTH or BYE",
            });
        }
        let f = self.inflight.remove(index);
        let text = sanitize(text);
        match f.owner {
            Owner::Internal(internal) => {
                let acc = match f.acc {
                    Acc::Capabilities(v) => v,
                    _ => Vec::new(),
                };
                self.setup_status(internal, kind, code, text, acc);
            }
            Owner::User(id, request) => {
                if let Some(Code::Capability(caps)) = &code {
                    self.capabilities = caps.clone();
                }
                self.request_done(id, request, f.command, f.acc, f.idle, kind, code, text);
            }
        }
        self.pump();
    }

    #[allow(clippy::too_many_arguments)]
    fn request_done(
        &mut self,
        id: super::RequestId,
        request: Request,
        command: &'static str,
        acc: Acc,
        idle: Option<IdleState>,
        kind: StatusKind,
        code: Option<Code<'static>>,
        text: String,
    ) {
        if matches!(request, Request::Idle) {
            self.idle_deadline = None;
        }
        if matches!(request, Request::Fetch { stream: true, .. }) {
            self.framer.set_literal_streaming(None);
            self.stream = None;
        }
        if kind != StatusKind::Ok {
            if matches!(request, Request::Logout) {
                return self.closed();
            }
            return self.event(ClientEvent::Failed {
                id,
                error: CommandError {
                    command,
                    status: kind,
                    code,
                    text,
                },
            });
        }
        let copy_uid = |code: &Option<Code<'static>>| match code {
            Some(Code::CopyUid { validity, from, to }) => Some(CopyUid {
                uid_validity: *validity,
                from: from.clone(),
                to: to.clone(),
            }),
            _ => None,
        };
        let event = match request {
            Request::Logout => return self.closed(),
            Request::Capability => {
                let caps = match (code, acc) {
                    (Some(Code::Capability(c)), _) => c,
                    (_, Acc::Capabilities(c)) => c,
                    _ => Vec::new(),
                };
                self.capabilities = caps.clone();
                ClientEvent::Capabilities {
                    id,
                    capabilities: caps,
                }
            }
            Request::List { .. } => ClientEvent::Listed {
                id,
                folders: match acc {
                    Acc::List(v) => v,
                    _ => Vec::new(),
                },
            },
            Request::Status { mailbox, .. } => {
                let (mailbox, items) = match acc {
                    Acc::Status(Some(s)) => s,
                    _ => (mailbox, Vec::new()),
                };
                ClientEvent::Status { id, mailbox, items }
            }
            Request::Select { read_only, .. } => {
                let mut info = match acc {
                    Acc::Select(i) => *i,
                    _ => SelectedInfo::default(),
                };
                info.read_only = match code {
                    Some(Code::Simple(SimpleCode::ReadOnly)) => true,
                    Some(Code::Simple(SimpleCode::ReadWrite)) => false,
                    _ => read_only,
                };
                ClientEvent::Selected { id, info }
            }
            Request::Search(_) => ClientEvent::Searched {
                id,
                uids: match acc {
                    Acc::Search(v) => v,
                    _ => Vec::new(),
                },
            },
            Request::Append { .. } => {
                let (uid_validity, uids) = match code {
                    Some(Code::AppendUid { validity, uids }) => (Some(validity), Some(uids)),
                    _ => (None, None),
                };
                ClientEvent::Appended {
                    id,
                    uid_validity,
                    uids,
                }
            }
            Request::Copy { .. } => ClientEvent::Copied {
                id,
                copy_uid: copy_uid(&code),
            },
            Request::Move { .. } => {
                let from_acc = match acc {
                    Acc::CopyUid(c) => c,
                    _ => None,
                };
                ClientEvent::Moved {
                    id,
                    copy_uid: copy_uid(&code).or(from_acc),
                }
            }
            Request::MoveCopy { uids, .. } => {
                let copy_uid = copy_uid(&code);
                self.queue
                    .push_front((id, Request::MoveStore { uids, copy_uid }));
                return;
            }
            Request::MoveStore { uids, copy_uid } => {
                self.queue
                    .push_front((id, Request::MoveExpunge { uids, copy_uid }));
                return;
            }
            Request::MoveExpunge { copy_uid, .. } => ClientEvent::Moved { id, copy_uid },
            Request::Idle => {
                let idle = idle.unwrap_or_default();
                if idle.renew && !idle.stop {
                    // RFC 2177 §3: a new IDLE, silently, for the same intent.
                    self.send_command(CommandBody::Idle, Owner::User(id, Request::Idle));
                    if let Some(state) = self.inflight.last_mut().and_then(|f| f.idle.as_mut()) {
                        state.announced = true;
                    }
                    return;
                }
                ClientEvent::IdleEnded { id }
            }
            Request::Enable(requested) => {
                // RFC 5161 §3.2: ENABLED lists only what was asked for; anything else is
                // ignored (a server cannot switch the client to UTF-8 names unasked).
                let caps: Vec<Capability<'static>> = match acc {
                    Acc::Enabled(v) => v.into_iter().filter(|c| requested.contains(c)).collect(),
                    _ => Vec::new(),
                };
                for cap in &caps {
                    if !self.enabled.contains(cap) {
                        self.enabled.push(cap.clone());
                    }
                }
                // RFC 6855 §3, RFC 9051 §5.1: UTF-8 mailbox names from now on.
                if caps
                    .iter()
                    .any(|c| matches!(c, Capability::Utf8Accept | Capability::Imap4rev2))
                {
                    self.utf8 = true;
                }
                ClientEvent::Enabled {
                    id,
                    capabilities: caps,
                }
            }
            Request::Id(_) => ClientEvent::IdInfo {
                id,
                fields: match acc {
                    Acc::Id(Some(fields)) => fields,
                    _ => None,
                },
            },
            Request::Namespace => {
                let [personal, other, shared] = match acc {
                    Acc::Namespace(Some(ns)) => ns,
                    _ => [None, None, None],
                };
                ClientEvent::Namespaces {
                    id,
                    personal,
                    other,
                    shared,
                }
            }
            Request::Noop
            | Request::Unselect { .. }
            | Request::Close
            | Request::Create(_)
            | Request::Delete(_)
            | Request::Rename { .. }
            | Request::Subscribe(..)
            | Request::Fetch { .. }
            | Request::Store { .. }
            | Request::Expunge => ClientEvent::Completed {
                id,
                command,
                code,
                text,
            },
        };
        self.event(event);
    }

    // ----- untagged status -----

    fn untagged_status(&mut self, kind: StatusKind, code: Option<Code<'static>>, text: &[u8]) {
        match kind {
            StatusKind::Bye if self.logout_sent => return,
            StatusKind::Bye => {
                return self.fail(ClientError::Bye {
                    code,
                    text: sanitize(text),
                });
            }
            StatusKind::Preauth => {
                return self.fail(ClientError::Unexpected {
                    phase: self.phase(),
                    what: "PREAUTH after the greeting",
                });
            }
            _ => {}
        }
        if let Some(Code::Capability(caps)) = code {
            return self.route_capabilities(caps);
        }
        if !self.trusted() {
            return;
        }
        let text = sanitize(text);
        let code = match code {
            Some(Code::Simple(SimpleCode::Alert)) => {
                return self.event(ClientEvent::Unsolicited(Unsolicited::Alert(text)));
            }
            Some(code) => code,
            // `* OK still here` (IDLE keepalives) and other plain OKs carry nothing.
            None if kind == StatusKind::Ok => return,
            None => {
                return self.event(ClientEvent::Unsolicited(Unsolicited::Status {
                    status: kind,
                    code: None,
                    text,
                }));
            }
        };
        if kind == StatusKind::Ok {
            if let Some(info) = self.select_acc() {
                match &code {
                    Code::UidValidity(n) => return info.uid_validity = Some(*n),
                    Code::UidNext(n) => return info.uid_next = Some(*n),
                    Code::PermanentFlags(f) => return info.permanent_flags = Some(f.clone()),
                    Code::HighestModSeq(n) => return info.highest_modseq = Some(*n),
                    Code::Unseen(_) => return,
                    _ => {}
                }
            }
            if let Code::CopyUid { validity, from, to } = &code {
                let slot = self.inflight.iter_mut().find_map(|f| match &mut f.acc {
                    Acc::CopyUid(c) => Some(c),
                    _ => None,
                });
                if let Some(slot) = slot {
                    *slot = Some(CopyUid {
                        uid_validity: *validity,
                        from: from.clone(),
                        to: to.clone(),
                    });
                    return;
                }
            }
        }
        self.event(ClientEvent::Unsolicited(Unsolicited::Status {
            status: kind,
            code: Some(code),
            text,
        }));
    }

    fn select_acc(&mut self) -> Option<&mut SelectedInfo> {
        self.inflight.iter_mut().find_map(|f| match &mut f.acc {
            Acc::Select(info) => Some(&mut **info),
            _ => None,
        })
    }

    fn route_capabilities(&mut self, caps: Vec<Capability<'_>>) {
        let caps: Vec<Capability<'static>> = caps.into_iter().map(Capability::into_owned).collect();
        // The capability request in flight takes them, in clear too: before an upgrade they
        // decide STARTTLS only, and are forgotten at the cut.
        let slot = self.inflight.iter_mut().find_map(|f| match &mut f.acc {
            Acc::Capabilities(v) => Some(v),
            _ => None,
        });
        if let Some(slot) = slot {
            *slot = caps;
            return;
        }
        if !self.trusted() {
            return;
        }
        if self.stage == Stage::Ready {
            self.capabilities = caps.clone();
        }
        self.event(ClientEvent::Unsolicited(Unsolicited::Capabilities(caps)));
    }

    // ----- untagged data -----

    fn data(&mut self, data: Data<'_>, frame: &Bytes) {
        if let Data::Capability(caps) = data {
            return self.route_capabilities(caps);
        }
        if !self.trusted() {
            return;
        }
        let limit = self.config.max_collected;
        let unsolicited = match data {
            Data::List(entry) => {
                let slot = self.inflight.iter_mut().find_map(|f| match &mut f.acc {
                    Acc::List(v) => Some(v),
                    _ => None,
                });
                match slot {
                    Some(v) if v.len() >= limit => {
                        return self.fail(ClientError::TooMany {
                            what: "LIST entries",
                            limit,
                        });
                    }
                    Some(v) => return v.push(entry.into_owned()),
                    None => Unsolicited::Data(Data::List(entry).into_owned()),
                }
            }
            Data::Status { mailbox, items } => {
                let slot = self.inflight.iter_mut().find_map(|f| match &mut f.acc {
                    Acc::Status(s) => Some(s),
                    _ => None,
                });
                match slot {
                    Some(s) => return *s = Some((mailbox.into_owned(), items)),
                    None => Unsolicited::Data(Data::Status { mailbox, items }.into_owned()),
                }
            }
            Data::Search { ids, modseq } => {
                if self.search_acc().is_some() {
                    let values: Vec<u32> = ids.iter().map(|n| n.get()).collect();
                    self.add_results(values.len() as u64, |v| v.extend(values));
                    return;
                }
                Unsolicited::Data(Data::Search { ids, modseq })
            }
            Data::ESearch { tag, uid, items } => {
                let ours = tag.as_ref().is_none_or(|t| {
                    self.inflight.iter().any(|f| {
                        f.tag.as_bytes() == t.as_bytes() && matches!(f.acc, Acc::Search(_))
                    })
                });
                if ours && self.search_acc().is_some() {
                    for item in &items {
                        if let ESearchItem::All(set) = item {
                            let count = set_len(set);
                            if !self.add_results(count, |v| expand(set, v)) {
                                return;
                            }
                        }
                    }
                    return;
                }
                Unsolicited::Data(Data::ESearch { tag, uid, items }.into_owned())
            }
            Data::Flags(flags) => {
                if let Some(info) = self.select_acc() {
                    info.flags = flags.into_iter().map(|f| f.into_owned()).collect();
                    return;
                }
                Unsolicited::Flags(flags.into_iter().map(|f| f.into_owned()).collect())
            }
            Data::Exists(n) => {
                if let Some(info) = self.select_acc() {
                    info.exists = n;
                    return;
                }
                Unsolicited::Exists(n)
            }
            Data::Recent(n) => {
                if self.select_acc().is_some() {
                    return;
                }
                Unsolicited::Recent(n)
            }
            Data::Expunge(n) => Unsolicited::Expunge(n.get()),
            Data::Vanished { earlier, uids } => Unsolicited::Vanished { earlier, uids },
            Data::Fetch { seq, items } => return self.route_fetch(seq.get(), items, frame),
            Data::Enabled(caps) => {
                let slot = self.inflight.iter_mut().find_map(|f| match &mut f.acc {
                    Acc::Enabled(v) => Some(v),
                    _ => None,
                });
                match slot {
                    Some(v) => {
                        for cap in caps {
                            let cap = cap.into_owned();
                            if v.len() < limit && !v.contains(&cap) {
                                v.push(cap);
                            }
                        }
                        return;
                    }
                    None => Unsolicited::Data(Data::Enabled(caps).into_owned()),
                }
            }
            Data::Id(fields) => {
                if !self.inflight.iter().any(|f| matches!(f.acc, Acc::Id(_))) {
                    Unsolicited::Data(Data::Id(fields).into_owned())
                } else {
                    let fields = match check_id(fields) {
                        Ok(f) => f,
                        Err(what) => return self.fail(ClientError::InvalidId(what)),
                    };
                    if let Some(slot) = self.inflight.iter_mut().find_map(|f| match &mut f.acc {
                        Acc::Id(slot) => Some(slot),
                        _ => None,
                    }) {
                        // The first answer counts.
                        if slot.is_none() {
                            *slot = Some(fields);
                        }
                    }
                    return;
                }
            }
            Data::Namespace(ns) => {
                let slot = self.inflight.iter_mut().find_map(|f| match &mut f.acc {
                    Acc::Namespace(slot) => Some(slot),
                    _ => None,
                });
                match slot {
                    Some(slot) => {
                        *slot = Some(ns.map(|n| {
                            n.map(|v| {
                                v.into_iter()
                                    .map(crate::types::NamespaceDesc::into_owned)
                                    .collect()
                            })
                        }));
                        return;
                    }
                    None => Unsolicited::Data(Data::Namespace(ns).into_owned()),
                }
            }
            other => Unsolicited::Data(other.into_owned()),
        };
        self.event(ClientEvent::Unsolicited(unsolicited));
    }

    fn search_acc(&mut self) -> Option<&mut Vec<u32>> {
        self.inflight.iter_mut().find_map(|f| match &mut f.acc {
            Acc::Search(v) => Some(v),
            _ => None,
        })
    }

    /// Adds `count` results with `add`, or ends the session past the limit (checked before
    /// anything is expanded). Returns whether it went on.
    fn add_results(&mut self, count: u64, add: impl FnOnce(&mut Vec<u32>)) -> bool {
        let limit = self.config.max_search_results;
        let Some(v) = self.search_acc() else {
            return true;
        };
        if (v.len() as u64).saturating_add(count) > limit as u64 {
            self.fail(ClientError::TooMany {
                what: "search results",
                limit,
            });
            return false;
        }
        add(v);
        true
    }

    fn route_fetch(&mut self, seq: u32, items: Vec<MsgAtt<'_>>, frame: &Bytes) {
        let uid = items.iter().find_map(|a| match a {
            MsgAtt::Uid(u) => Some(u.get()),
            _ => None,
        });
        let owner = self.inflight.iter().find_map(|f| match &f.owner {
            Owner::User(
                id,
                Request::Fetch {
                    set,
                    uid: by_uid,
                    message,
                    stream,
                    ..
                },
            ) => Some((*id, set, *by_uid, *message || *stream)),
            Owner::User(
                id,
                Request::Store {
                    set,
                    uid: by_uid,
                    action,
                },
            ) if !action.silent => Some((*id, set, *by_uid, false)),
            _ => None,
        });
        // A UID command's responses carry the UID (RFC 9051 §6.4.9); a FETCH without it, or
        // with a UID outside the set, is a change notification for another message.
        let owner = owner.filter(|(_, set, by_uid, _)| {
            !*by_uid || uid.is_some_and(|u| set.contains(u, u32::MAX))
        });
        let Some((id, _, _, message)) = owner else {
            let attributes = items.into_iter().map(MsgAtt::into_owned).collect();
            return self.event(ClientEvent::Unsolicited(Unsolicited::Fetch {
                seq,
                attributes,
            }));
        };
        let streamed = self.inflight.iter().any(
            |f| matches!(&f.owner, Owner::User(i, Request::Fetch { stream: true, .. }) if *i == id),
        );
        if message {
            let body = items.iter().find_map(|a| match a {
                MsgAtt::BodySection { section, data, .. }
                    if section.part.is_empty() && section.text.is_none() =>
                {
                    Some(data.0.as_ref().map(|s| s.as_bytes()))
                }
                MsgAtt::Binary { part, data, .. } if part.is_empty() => {
                    Some(data.as_ref().map(|l| l.as_bytes()))
                }
                _ => None,
            });
            // `BODY[] NIL` of a streamed fetch: no message, the attributes as `Fetched`.
            let body = body.filter(|d| !streamed || d.is_some());
            if let Some(data) = body {
                let data = data.map_or_else(Bytes::new, |s| slice_of(frame, s));
                if streamed {
                    // A body sent as a quoted string (the framer streams literals only): the
                    // same events as a streamed one.
                    return self.stream_whole(id, seq, items, data);
                }
                let flags = items.iter().find_map(|a| match a {
                    MsgAtt::Flags(f) => Some(f.iter().cloned().map(|f| f.into_owned()).collect()),
                    _ => None,
                });
                return self.event(ClientEvent::Message {
                    id,
                    seq,
                    uid,
                    flags,
                    data,
                });
            }
        }
        let attributes = items.into_iter().map(MsgAtt::into_owned).collect();
        self.event(ClientEvent::Fetched {
            id,
            seq,
            attributes,
        });
    }

    // ----- streamed messages -----

    /// The owner of streamed literals: the streamed fetch in flight.
    fn stream_owner(&self) -> Option<super::RequestId> {
        self.inflight.iter().find_map(|f| match &f.owner {
            Owner::User(id, Request::Fetch { stream: true, .. }) => Some(*id),
            _ => None,
        })
    }

    /// A FETCH response parsed for its attributes: `(seq, uid, flags)`.
    fn fetch_summary(
        &mut self,
        bytes: &[u8],
    ) -> Option<(u32, Option<u32>, Option<Vec<Flag<'static>>>)> {
        match crate::parse::response_with(bytes, &self.parse_opts) {
            Ok((Response::Data(Data::Fetch { seq, items }), _)) => {
                let (uid, flags) = uid_flags(&items);
                Some((seq.get(), uid, flags))
            }
            Ok(_) => {
                self.fail(ClientError::Unexpected {
                    phase: self.phase(),
                    what: "streamed literal outside a FETCH response",
                });
                None
            }
            Err(error) => {
                self.fail(ClientError::Malformed {
                    phase: self.phase(),
                    error,
                });
                None
            }
        }
    }

    /// The framer began streaming a body literal; `head` is the response up to it.
    pub(super) fn stream_start(&mut self, head: &[u8], size: u64) {
        let Some(id) = self.stream_owner() else {
            return self.fail(ClientError::Unexpected {
                phase: self.phase(),
                what: "streamed literal with no streamed fetch in flight",
            });
        };
        if self.stream.is_some() {
            // One body per response was asked for.
            return self.fail(ClientError::Unexpected {
                phase: self.phase(),
                what: "two message bodies in one FETCH response",
            });
        }
        // What came before the body, closed as if the body were empty.
        let mut probe = Vec::with_capacity(head.len() + 5);
        probe.extend_from_slice(head);
        probe.extend_from_slice(b"\"\")\r\n");
        let Some((seq, uid, _)) = self.fetch_summary(&probe) else {
            return;
        };
        self.stream = Some((id, seq, size));
        self.event(ClientEvent::MessageStart { id, seq, uid, size });
    }

    pub(super) fn stream_data(&mut self, data: Bytes) {
        match self.stream {
            Some((id, ..)) => self.event(ClientEvent::MessageData { id, data }),
            None => self.fail(ClientError::Unexpected {
                phase: self.phase(),
                what: "streamed octets outside a streamed message",
            }),
        }
    }

    /// The rest of the response after a streamed literal (the literal replaced by `""`).
    pub(super) fn stream_end(&mut self, frame: Bytes) {
        let Some((id, start_seq, size)) = self.stream.take() else {
            return;
        };
        let Some((seq, uid, flags)) = self.fetch_summary(&frame) else {
            return;
        };
        if seq != start_seq {
            return self.fail(ClientError::Unexpected {
                phase: self.phase(),
                what: "streamed FETCH response changed its sequence number",
            });
        }
        self.event(ClientEvent::MessageEnd {
            id,
            seq,
            uid,
            flags,
            size,
        });
    }

    /// A whole body received inline (quoted string or small literal) for a streamed fetch.
    fn stream_whole(
        &mut self,
        id: super::RequestId,
        seq: u32,
        items: Vec<MsgAtt<'_>>,
        data: Bytes,
    ) {
        let (uid, flags) = uid_flags(&items);
        let size = data.len() as u64;
        self.event(ClientEvent::MessageStart { id, seq, uid, size });
        let chunk = self.config.stream_chunk.max(1);
        let mut rest = data;
        while !rest.is_empty() {
            let piece = rest.split_to(chunk.min(rest.len()));
            self.event(ClientEvent::MessageData { id, data: piece });
        }
        self.event(ClientEvent::MessageEnd {
            id,
            seq,
            uid,
            flags,
            size,
        });
    }

    // ----- continuation -----

    fn continuation(&mut self, text: &[u8]) {
        let Some(index) = self.inflight.iter().position(|f| f.awaits_continuation()) else {
            return self.fail(ClientError::Unexpected {
                phase: self.phase(),
                what: "continuation request with nothing to continue",
            });
        };
        if self.inflight[index].rest.is_some() {
            return self.continue_literal(index);
        }
        let idle_id = match &self.inflight[index].owner {
            Owner::User(id, Request::Idle) => Some(*id),
            _ => None,
        };
        let Some(id) = idle_id else {
            return self.sasl_challenge(index, text);
        };
        let refresh = self.now.checked_add(self.config.idle_refresh);
        let Some(idle) = self.inflight[index].idle.as_mut() else {
            return;
        };
        idle.started = true;
        let announce = !idle.announced;
        idle.announced = true;
        if idle.stop {
            idle.done_sent = true;
            self.send_done();
        } else {
            self.idle_deadline = refresh;
        }
        if announce {
            self.event(ClientEvent::IdleStarted { id });
        }
    }

    /// The refresh timer: DONE now, IDLE again after the tagged OK (RFC 2177 §3).
    pub(super) fn renew_idle(&mut self) {
        let idle = self
            .inflight
            .iter_mut()
            .find_map(|f| f.idle.as_mut())
            .filter(|i| i.started && !i.done_sent && !i.stop);
        if let Some(idle) = idle {
            idle.done_sent = true;
            idle.renew = true;
            self.send_done();
        }
    }
}

/// RFC 2971 §3.3 on a server's `* ID`: at most 30 pairs, names at most 30 octets, values at
/// most 1024, no name twice. Sanitized text out.
#[allow(clippy::type_complexity)]
fn check_id(
    fields: Option<Vec<(crate::types::IString<'_>, crate::types::NString<'_>)>>,
) -> Result<Option<super::request::IdFields>, &'static str> {
    use super::request::{ID_MAX_FIELD, ID_MAX_PAIRS, ID_MAX_VALUE};
    let Some(fields) = fields else {
        return Ok(None);
    };
    if fields.len() > ID_MAX_PAIRS {
        return Err("more than 30 field-value pairs");
    }
    let mut out: Vec<(String, Option<String>)> = Vec::with_capacity(fields.len());
    for (name, value) in &fields {
        let name = name.as_bytes();
        if name.len() > ID_MAX_FIELD {
            return Err("a field name longer than 30 octets");
        }
        let value = value.0.as_ref().map(|v| v.as_bytes());
        if value.is_some_and(|v| v.len() > ID_MAX_VALUE) {
            return Err("a value longer than 1024 octets");
        }
        let name = sanitize(name);
        if out.iter().any(|(n, _)| n.eq_ignore_ascii_case(&name)) {
            return Err("a field name twice");
        }
        out.push((name, value.map(sanitize)));
    }
    Ok(Some(out))
}

/// The UID and flags among FETCH attributes.
fn uid_flags(items: &[MsgAtt<'_>]) -> (Option<u32>, Option<Vec<Flag<'static>>>) {
    let uid = items.iter().find_map(|a| match a {
        MsgAtt::Uid(u) => Some(u.get()),
        _ => None,
    });
    let flags = items.iter().find_map(|a| match a {
        MsgAtt::Flags(f) => Some(f.iter().cloned().map(Flag::into_owned).collect()),
        _ => None,
    });
    (uid, flags)
}

/// The octets of `part`, sharing `frame`'s buffer when `part` lies inside it.
fn slice_of(frame: &Bytes, part: &[u8]) -> Bytes {
    let base = frame.as_ptr() as usize;
    let start = part.as_ptr() as usize;
    if start >= base && start + part.len() <= base + frame.len() {
        let from = start - base;
        frame.slice(from..from + part.len())
    } else {
        Bytes::copy_from_slice(part)
    }
}

fn bounds(range: &SeqRange) -> Option<(u32, u32)> {
    let v = |s: SeqNumber| match s {
        SeqNumber::Value(v) => Some(v.get()),
        SeqNumber::Largest => None,
    };
    match *range {
        SeqRange::Single(s) => v(s).map(|n| (n, n)),
        SeqRange::Range(a, b) => {
            let (a, b) = (v(a)?, v(b)?);
            Some((a.min(b), a.max(b)))
        }
    }
}

/// How many numbers a set holds (`*` and `$` count as none: not meaningful in results).
fn set_len(set: &SequenceSet) -> u64 {
    match set {
        SequenceSet::Ranges(r) => r
            .iter()
            .filter_map(bounds)
            .map(|(lo, hi)| u64::from(hi - lo) + 1)
            .sum(),
        SequenceSet::Saved => 0,
    }
}

fn expand(set: &SequenceSet, out: &mut Vec<u32>) {
    if let SequenceSet::Ranges(r) = set {
        for (lo, hi) in r.iter().filter_map(bounds) {
            out.extend(lo..=hi);
        }
    }
}
