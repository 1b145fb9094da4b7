//! (A copy of `fuzz/fuzz_targets/imap_server.rs` run as a test over fixed and pseudo-random
//! inputs, so that the fuzz target's invariants are checked by `cargo test` too.)
//!
//! The IMAP server machine fed arbitrary bytes in arbitrary chunks, with every event answered
//! by a simple rule and a `MemoryStore` behind it: it must never panic, never transmit after
//! Close, never start TLS with bytes pending behind STARTTLS, never emit a `+` continuation
//! or a credential check before TLS on a listener that requires it, and end every session
//! with exactly one `Closed` event. FETCH output is pulled one output at a time, as a slow
//! socket would; some inputs also time out or shut the session down part way.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mailsec_imap::server::{Server, ServerConfig, ServerEvent, StoreRefusal};
use mailsec_imap::store::MemoryStore;
use mailsec_tls::sasl::{CheckAnswer, CredentialCheck, ExposeSecret, Mechanism};
use mailsec_tls::{Machine, Output, ServerPolicy, TlsInfo};

struct State {
    closed: bool,
    closed_events: usize,
    start_tls: bool,
    /// The listener refuses credentials in clear and TLS is not up.
    must_not_check: bool,
    store: MemoryStore,
    control: u8,
}

fn answer(server: &mut Server, state: &mut State, event: ServerEvent) {
    let _ = match event {
        ServerEvent::CheckCredentials { check, .. } => {
            assert!(!state.must_not_check, "credential check before TLS");
            let ok = match &check {
                CredentialCheck::Password { password, .. } => {
                    password.expose_secret().len() % 2 == 0
                }
                CredentialCheck::Authorize { .. } => state.control & 1 == 0,
                _ => false,
            };
            server.answer_credentials(if ok {
                CheckAnswer::Accept
            } else {
                CheckAnswer::Reject
            })
        }
        ServerEvent::OpenStore { .. } => {
            if state.control & 2 == 0 {
                server.open_store(Box::new(state.store.clone()))
            } else {
                server.refuse_store(StoreRefusal::InUse)
            }
        }
        _ => Ok(()),
    };
}

fn drain(server: &mut Server, state: &mut State) {
    while let Some(output) = server.poll_output() {
        match output {
            Output::Transmit(bytes) => {
                assert!(!state.closed, "transmit after Close");
                if state.must_not_check {
                    assert!(
                        !bytes.starts_with(b"+ ") || bytes.starts_with(b"+ Ready"),
                        "SASL continuation before TLS"
                    );
                }
            }
            Output::Event(ServerEvent::Closed { .. }) => state.closed_events += 1,
            Output::Event(e) => answer(server, state, e),
            Output::StartTls => {
                assert_eq!(server.buffered_input(), 0, "StartTls with pending input");
                state.start_tls = true;
            }
            Output::Close => state.closed = true,
            _ => {}
        }
    }
}

fn run(data: &[u8]) {
    let Some((&control, input)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(control % 23) + 1;
    let mode = (control >> 4) & 3;
    let policy = match mode {
        0 => ServerPolicy::starttls_required(),
        1 => ServerPolicy::starttls_optional(),
        2 => ServerPolicy::implicit_tls(),
        _ => ServerPolicy::insecure_plaintext(),
    };
    let config = ServerConfig::builder()
        .policy(policy)
        .mechanisms([
            Mechanism::Plain,
            Mechanism::Login,
            Mechanism::ScramSha256,
            Mechanism::XOAuth2,
            Mechanism::OAuthBearer,
        ])
        .fetch_chunk(1024)
        .literal_plus(control & 8 != 0)
        .build()
        .expect("valid config");
    let now = Instant::now();
    let info = TlsInfo::for_testing("fuzz.example.test");
    let mut server = Server::new(Arc::new(config), now);
    let store = MemoryStore::new();
    let _ = store.deliver("INBOX", b"Subject: a\r\nFrom: x@y\r\n\r\nbody\r\n");
    let _ = store.deliver(
        "INBOX",
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\none\r\n--b\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC\r\n--b--\r\n",
    );
    let mut state = State {
        closed: false,
        closed_events: 0,
        start_tls: false,
        // PLAIN, LOGIN and tokens are plaintext-equivalent; the fuzz input may still pick
        // SCRAM under `starttls_optional`, which is allowed in clear.
        must_not_check: mode == 0,
        store,
        control,
    };
    if mode == 2 {
        server.handle_tls_established(now, &info);
    }
    drain(&mut server, &mut state);
    for (i, piece) in input.chunks(chunk).enumerate() {
        server.handle_input(now, piece);
        drain(&mut server, &mut state);
        if state.start_tls {
            state.start_tls = false;
            server.handle_tls_established(now, &info);
            state.must_not_check = false;
            drain(&mut server, &mut state);
        }
        if i % 7 == 6 {
            server.handle_timeout(now + Duration::from_secs(3 * 3600));
            drain(&mut server, &mut state);
        }
        if control & 128 != 0 && i % 13 == 12 {
            server.shutdown();
            drain(&mut server, &mut state);
        }
    }
    server.handle_eof(now);
    drain(&mut server, &mut state);
    assert!(state.closed, "EOF must close");
    assert_eq!(state.closed_events, 1, "one Closed event per session");
}

#[test]
fn smoke() {
    let scripts: [&[u8]; 6] = [
        b"a STARTTLS\r\nb LOGIN x yy\r\nc SELECT INBOX\r\n",
        b"a LOGIN alice ss\r\nb SELECT INBOX\r\nc FETCH 1:* (ENVELOPE BODYSTRUCTURE BODY[] BINARY[2] BODY[1.MIME])\r\nd IDLE\r\nDONE\r\ne SEARCH TEXT body\r\nf STORE 1 +FLAGS (\\Deleted)\r\ng EXPUNGE\r\nh LOGOUT\r\n",
        b"a AUTHENTICATE PLAIN\r\nAHgAeXk=\r\nb LIST \"\" *\r\nc APPEND INBOX {3}\r\nabc\r\nd MOVE 1 Nope\r\n",
        b"a LOGIN {2}\r\nxx {2}\r\nyy\r\nb CREATE a/b\r\nc RENAME a z\r\nd STATUS z/b (MESSAGES SIZE)\r\n",
        b"\x00\xff\r\n{99999999999999999999}\r\n* * *\r\n",
        b"a LOGIN alice ss\r\nb SELECT INBOX\r\nc UID FETCH 1:* BODY.PEEK[]<1.3>\r\nd COPY 2 INBOX\r\n",
    ];
    for s in scripts {
        for control in 0..=255u8 {
            let mut d = vec![control];
            d.extend_from_slice(s);
            run(&d);
        }
    }
    // Random-ish inputs.
    let mut x: u64 = 12345;
    for _ in 0..3000 {
        let mut d = Vec::new();
        for _ in 0..(x % 300) {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let words: [&[u8]; 12] = [
                b"a ",
                b"LOGIN ",
                b"alice ss",
                b"\r\n",
                b"SELECT INBOX",
                b"FETCH 1:* (BODY[] FLAGS)",
                b"{3}\r\n",
                b"IDLE",
                b"DONE",
                b"STARTTLS",
                b"AUTHENTICATE PLAIN",
                b"*",
            ];
            d.extend_from_slice(words[(x >> 33) as usize % 12]);
        }
        run(&d);
    }
}
