//! The ESMTP server machine, fed client transcripts in the four chunkings of SECURITY.md (all
//! at once, one byte at a time, split at each CRLF, split inside each CRLF), with the
//! application's decisions answered by a scripted rule.

use std::time::{Duration, Instant};

use mailsec_smtp::DataError;
use mailsec_smtp::server::{
    AbortReason, Event, Features, IntentError, Role, Server, ServerConfig, ServerError, reply,
};
use mailsec_smtp::types::{Domain, MailParam, Reply};
use mailsec_tls::sasl::wire::encode;
use mailsec_tls::sasl::{CheckAnswer, CredentialCheck, ExposeSecret, InsecureAuth, Mechanism};
use mailsec_tls::{Machine, Output, TlsInfo};

const HOST: &str = "mx.example.org";

fn config(role: Role) -> ServerConfig {
    ServerConfig::new(role, Domain::new(HOST.as_bytes()).unwrap())
}

/// The four chunkings of SECURITY.md.
#[derive(Clone, Copy, Debug)]
enum Cut {
    Whole,
    Bytes,
    AtCrlf,
    InsideCrlf,
}

const CUTS: [Cut; 4] = [Cut::Whole, Cut::Bytes, Cut::AtCrlf, Cut::InsideCrlf];

fn cut(data: &[u8], how: Cut) -> Vec<&[u8]> {
    match how {
        Cut::Whole => vec![data],
        Cut::Bytes => data.chunks(1).collect(),
        Cut::AtCrlf | Cut::InsideCrlf => {
            let mut out = Vec::new();
            let mut start = 0;
            for i in 0..data.len() {
                if data[i] == b'\n' {
                    let end = if matches!(how, Cut::AtCrlf) { i + 1 } else { i };
                    if end > start {
                        out.push(&data[start..end]);
                        start = end;
                    }
                }
            }
            if start < data.len() {
                out.push(&data[start..]);
            }
            out
        }
    }
}

/// How the scripted application answers decisions.
struct App {
    /// Recipients whose address contains this are refused with 550 5.1.1.
    refuse_rcpt: Option<&'static str>,
    /// Senders containing this are refused.
    refuse_sender: Option<&'static str>,
    /// Refuse messages instead of accepting them.
    refuse_message: bool,
    /// Answer decisions at all (otherwise the machine stays paused).
    answer: bool,
}

impl Default for App {
    fn default() -> Self {
        App {
            refuse_rcpt: None,
            refuse_sender: None,
            refuse_message: false,
            answer: true,
        }
    }
}

/// Everything a session produced.
#[derive(Default)]
struct Run {
    wire: Vec<u8>,
    events: Vec<Event>,
    errors: Vec<ServerError>,
    body: Vec<u8>,
    starttls: usize,
    closed: bool,
}

impl Run {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.wire).into_owned()
    }

    /// The reply lines, each without its CRLF.
    fn lines(&self) -> Vec<String> {
        self.text()
            .split("\r\n")
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    }

    fn has(&self, pred: impl Fn(&Event) -> bool) -> bool {
        self.events.iter().any(pred)
    }
}

fn drain(server: &mut Server, app: &App, run: &mut Run) {
    while let Some(output) = server.poll_output() {
        match output {
            Output::Transmit(b) => {
                assert!(!run.closed, "transmit after close");
                run.wire.extend_from_slice(&b);
            }
            Output::StartTls => run.starttls += 1,
            Output::Close => run.closed = true,
            Output::Error(e) => run.errors.push(e),
            Output::Event(e) => {
                if let Event::MessageData(chunk) = &e {
                    run.body.extend_from_slice(chunk);
                }
                if app.answer {
                    answer(server, app, &e);
                }
                run.events.push(e);
            }
            _ => {}
        }
    }
}

fn answer(server: &mut Server, app: &App, e: &Event) {
    match e {
        Event::MailFrom { from, .. } => {
            if app
                .refuse_sender
                .is_some_and(|s| from.to_string().contains(s))
            {
                server
                    .reject_sender(reply(550, (5, 7, 1), "Sender refused").unwrap())
                    .unwrap();
            } else {
                server.accept_sender().unwrap();
            }
        }
        Event::Recipient { to, .. } => {
            if app.refuse_rcpt.is_some_and(|s| to.to_string().contains(s)) {
                server
                    .reject_recipient(reply(550, (5, 1, 1), "No such user here").unwrap())
                    .unwrap();
            } else {
                server.accept_recipient().unwrap();
            }
        }
        Event::MessageEnd { .. } => {
            if app.refuse_message {
                server
                    .reject_message(reply(554, (5, 7, 1), "Message refused").unwrap())
                    .unwrap();
            } else {
                server.accept_message().unwrap();
            }
        }
        Event::CredentialCheck(check) => {
            let ok = match check {
                CredentialCheck::Password {
                    authcid, password, ..
                } => authcid == "tim" && password.expose_secret() == "tanstaaftanstaaf",
                _ => false,
            };
            server
                .answer_credentials(if ok {
                    CheckAnswer::Accept
                } else {
                    CheckAnswer::Reject
                })
                .unwrap();
        }
        _ => {}
    }
}

/// Runs a session: each segment is delivered in the chunking given; after a segment whose
/// processing asked for STARTTLS, TLS is reported established.
fn session(server: &mut Server, segments: &[&[u8]], how: Cut, app: &App) -> Run {
    let now = Instant::now();
    let mut run = Run::default();
    drain(server, app, &mut run);
    for seg in segments {
        for piece in cut(seg, how) {
            server.handle_input(now, piece);
            drain(server, app, &mut run);
        }
        if run.starttls > 0 && !server.is_secure() && !run.closed {
            server.handle_tls_established(now, &TlsInfo::for_testing(HOST));
            drain(server, app, &mut run);
        }
    }
    run
}

fn run_all(cfg: ServerConfig, segments: &[&[u8]], app: &App) -> Vec<(Cut, Run)> {
    CUTS.iter()
        .map(|&how| {
            let mut server = Server::new(cfg.clone());
            (how, session(&mut server, segments, how, app))
        })
        .collect()
}

fn plain(user: &str, pass: &str) -> String {
    encode(format!("\0{user}\0{pass}").as_bytes())
}

// ----- RFC transcripts -----

/// RFC 5321 Appendix D.1, one recipient refused.
#[test]
fn rfc5321_d1_transcript() {
    let input: &[u8] = b"EHLO bar.com\r\nMAIL FROM:<Smith@bar.com>\r\nRCPT TO:<Jones@foo.com>\r\n\
RCPT TO:<Green@foo.com>\r\nRCPT TO:<Brown@foo.com>\r\nDATA\r\nBlah blah blah...\r\n\
..etc. etc. etc.\r\n.\r\nQUIT\r\n";
    let app = App {
        refuse_rcpt: Some("Green"),
        ..App::default()
    };
    for (how, run) in run_all(config(Role::Mx), &[input], &app) {
        let lines = run.lines();
        assert_eq!(lines[0], format!("220 {HOST} ESMTP ready"), "{how:?}");
        assert_eq!(lines[1], format!("250-{HOST} greets bar.com"));
        let after_ehlo: Vec<&str> = lines
            .iter()
            .skip_while(|l| l.starts_with("250-") || l.starts_with("220"))
            .skip(1)
            .map(String::as_str)
            .collect();
        assert_eq!(
            after_ehlo,
            [
                "250 2.1.0 Sender OK",
                "250 2.1.5 Recipient OK",
                "550 5.1.1 No such user here",
                "250 2.1.5 Recipient OK",
                "354 Start mail input; end with <CRLF>.<CRLF>",
                "250 2.0.0 Message accepted",
                "221 2.0.0 mx.example.org closing connection",
            ],
            "{how:?}"
        );
        assert_eq!(
            run.body, b"Blah blah blah...\r\n.etc. etc. etc.\r\n",
            "{how:?}"
        );
        assert!(run.closed && run.errors.is_empty());
        assert!(matches!(run.events.last(), Some(Event::Closed)));
        assert!(run.has(|e| matches!(e, Event::MessageEnd { size: 36 })));
    }
}

#[test]
fn ehlo_advertises_extensions_and_helo_none() {
    let run = &run_all(
        config(Role::Mx),
        &[b"EHLO a.example\r\nHELO a.example\r\n"],
        &App::default(),
    )[0]
    .1;
    let text = run.text();
    for ext in [
        "250-PIPELINING",
        "250-SIZE 33554432",
        "250-8BITMIME",
        "250-SMTPUTF8",
        "250-CHUNKING",
        "250-BINARYMIME",
        "250-ENHANCEDSTATUSCODES",
        "250-DSN",
        "250 STARTTLS",
    ] {
        assert!(
            text.contains(&format!("{ext}\r\n")),
            "{ext} missing in {text}"
        );
    }
    assert!(!text.contains("AUTH"), "no AUTH on an MX");
    assert!(!text.contains("REQUIRETLS"), "REQUIRETLS only over TLS");
    assert!(
        text.ends_with(&format!("250 {HOST}\r\n")),
        "HELO: no extensions"
    );

    let mut features = Features::default();
    features.chunking = false;
    features.dsn = false;
    features.pipelining = false;
    let run = &run_all(
        config(Role::Mx)
            .with_features(features)
            .with_starttls(false),
        &[b"EHLO a.example\r\n"],
        &App::default(),
    )[0]
    .1;
    let text = run.text();
    assert!(!text.contains("CHUNKING") && !text.contains("BINARYMIME") && !text.contains("DSN"));
    assert!(!text.contains("PIPELINING") && !text.contains("STARTTLS"));
}

/// RFC 3207 §5: EHLO, STARTTLS, and EHLO again over TLS with a fresh set of extensions.
#[test]
fn rfc3207_starttls() {
    let input: [&[u8]; 2] = [
        b"EHLO mail.example.com\r\nSTARTTLS\r\n",
        b"EHLO mail.example.com\r\n",
    ];
    for (how, run) in run_all(config(Role::Submission), &input, &App::default()) {
        let text = run.text();
        let (clear, tls) = text.split_at(text.find("220 2.0.0 Ready to start TLS\r\n").unwrap());
        assert_eq!(run.starttls, 1, "{how:?}");
        assert!(
            clear.contains("250 STARTTLS\r\n") && !clear.contains("AUTH"),
            "{how:?}"
        );
        assert!(!tls.contains("STARTTLS\r\n"), "{how:?}");
        assert!(tls.contains("250-AUTH PLAIN LOGIN\r\n"), "{how:?}: {tls}");
        assert!(tls.contains("250 REQUIRETLS\r\n"), "{how:?}");
        let secured = run
            .events
            .iter()
            .position(|e| matches!(e, Event::Secured))
            .unwrap();
        let hellos: Vec<usize> = run
            .events
            .iter()
            .enumerate()
            .filter(|(_, e)| matches!(e, Event::Hello { extended: true, .. }))
            .map(|(i, _)| i)
            .collect();
        assert!(hellos.len() == 2 && hellos[0] < secured && secured < hellos[1]);
        assert!(run.errors.is_empty() && !run.closed);
    }
}

#[test]
fn starttls_twice_or_unoffered_is_refused() {
    let input: [&[u8]; 2] = [b"EHLO a.example\r\nSTARTTLS\r\n", b"STARTTLS\r\nNOOP\r\n"];
    for (how, run) in run_all(config(Role::Mx), &input, &App::default()) {
        assert_eq!(run.starttls, 1, "{how:?}");
        assert!(
            run.text()
                .ends_with("503 5.5.1 TLS already active\r\n250 2.0.0 OK\r\n")
        );
    }
    for (how, run) in run_all(
        config(Role::Mx).with_starttls(false),
        &[b"STARTTLS\r\n"],
        &App::default(),
    ) {
        assert_eq!(run.starttls, 0, "{how:?}");
        assert!(run.text().ends_with("454 4.7.0 TLS not available\r\n"));
    }
}

/// RFC 4954 §4: AUTH PLAIN with an initial response, without one, and LOGIN.
#[test]
fn rfc4954_auth_plain_and_login() {
    let good = plain("tim", "tanstaaftanstaaf");
    let with_ir = format!("EHLO c.example\r\nAUTH PLAIN {good}\r\nMAIL FROM:<tim@example.org>\r\n");
    let without_ir =
        format!("EHLO c.example\r\nAUTH PLAIN\r\n{good}\r\nMAIL FROM:<tim@example.org>\r\n");
    let login = format!(
        "EHLO c.example\r\nAUTH LOGIN\r\n{}\r\n{}\r\nMAIL FROM:<tim@example.org>\r\n",
        encode(b"tim"),
        encode(b"tanstaaftanstaaf")
    );
    let expect_challenges = [0, 1, 2];
    for (script, challenges) in [with_ir, without_ir, login].iter().zip(expect_challenges) {
        for (how, run) in run_all(
            config(Role::ImplicitSubmission),
            &[b"", script.as_bytes()],
            &App::default(),
        ) {
            // Implicit TLS: nothing before the handshake, greeting after it.
            assert!(run.wire.is_empty(), "{how:?}");
            let mut server = Server::new(config(Role::ImplicitSubmission));
            server.handle_tls_established(Instant::now(), &TlsInfo::for_testing(HOST));
            let run = session(&mut server, &[script.as_bytes()], how, &App::default());
            let text = run.text();
            assert!(text.starts_with("220 "), "{how:?}");
            assert_eq!(
                text.matches("\r\n334 ").count(),
                challenges,
                "{how:?}: {text}"
            );
            if challenges == 2 {
                assert!(text.contains("334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n"));
            }
            assert!(
                text.ends_with("235 2.7.0 Authentication successful\r\n250 2.1.0 Sender OK\r\n"),
                "{how:?}: {text}"
            );
            assert!(run.has(
                |e| matches!(e, Event::Authenticated { identity } if identity.authcid == "tim")
            ));
            assert!(run.has(|e| matches!(e, Event::MailFrom { identity: Some(i), secure: true, .. } if i.authcid == "tim")));
            assert_eq!(server.identity().map(|i| i.authcid.as_str()), Some("tim"));
        }
    }
}

#[test]
fn auth_failures() {
    let bad = plain("tim", "wrong");
    let good = plain("tim", "tanstaaftanstaaf");
    let script = format!(
        "EHLO c.example\r\nAUTH PLAIN {bad}\r\nAUTH PLAIN\r\n*\r\nAUTH CRAM-MD5\r\nAUTH PLAIN\r\n!!notbase64\r\n\
MAIL FROM:<a@example.org>\r\nAUTH PLAIN {good}\r\nAUTH PLAIN {good}\r\n"
    );
    for how in CUTS {
        let mut server = Server::new(config(Role::ImplicitSubmission));
        server.handle_tls_established(Instant::now(), &TlsInfo::for_testing(HOST));
        let run = session(&mut server, &[script.as_bytes()], how, &App::default());
        let lines = run.lines();
        let tail: Vec<&str> = lines
            .iter()
            .map(String::as_str)
            .filter(|l| {
                !l.starts_with("250-")
                    && !l.starts_with("220")
                    && !l.starts_with("250 SMTP")
                    && !l.starts_with("250 REQUIRETLS")
            })
            .collect();
        assert_eq!(
            tail,
            [
                "535 5.7.8 Authentication credentials invalid",
                "334 ",
                "501 5.7.0 Authentication cancelled",
                "504 5.5.4 Unrecognized authentication type",
                "334 ",
                "501 5.5.2 Invalid authentication data",
                "530 5.7.0 Authentication required",
                "235 2.7.0 Authentication successful",
                "503 5.5.1 Already authenticated",
            ],
            "{how:?}"
        );
        assert_eq!(
            run.events
                .iter()
                .filter(|e| matches!(
                    e,
                    Event::AuthenticationFailed {
                        mechanism: Mechanism::Plain,
                        ..
                    }
                ))
                .count(),
            3
        );
    }
}

#[test]
fn no_auth_on_mx() {
    for (how, run) in run_all(
        config(Role::Mx),
        &[format!("EHLO a.example\r\nAUTH PLAIN {}\r\n", plain("tim", "x")).as_bytes()],
        &App::default(),
    ) {
        assert!(
            run.text().ends_with("502 5.5.1 AUTH not available\r\n"),
            "{how:?}"
        );
        assert!(!run.has(|e| matches!(e, Event::CredentialCheck(_))));
    }
}

/// RFC 2920 §3.1: a pipelined transaction, answered in order, with a paused machine that
/// answers nothing until the application decides.
#[test]
fn rfc2920_pipelined_transaction() {
    let input: &[u8] =
        b"EHLO c.example\r\nMAIL FROM:<mrose@dbc.mtview.ca.us>\r\nRCPT TO:<ned@innosoft.com>\r\n\
RCPT TO:<dan@innosoft.com>\r\nRCPT TO:<kvc@innosoft.com>\r\nDATA\r\n";
    let app = App {
        refuse_rcpt: Some("dan"),
        ..App::default()
    };
    for (how, run) in run_all(config(Role::Mx), &[input, b"Hi\r\n.\r\n"], &app) {
        let tail: Vec<String> = run
            .lines()
            .into_iter()
            .skip_while(|l| !l.contains("Sender OK"))
            .collect();
        assert_eq!(
            tail,
            [
                "250 2.1.0 Sender OK",
                "250 2.1.5 Recipient OK",
                "550 5.1.1 No such user here",
                "250 2.1.5 Recipient OK",
                "354 Start mail input; end with <CRLF>.<CRLF>",
                "250 2.0.0 Message accepted",
            ],
            "{how:?}"
        );
    }

    // The machine pauses: nothing after MAIL is read or answered before the decision.
    let mut server = Server::new(config(Role::Mx));
    let quiet = App {
        answer: false,
        ..App::default()
    };
    let mut run = session(&mut server, &[input], Cut::Whole, &quiet);
    assert!(server.is_waiting());
    assert!(matches!(run.events.last(), Some(Event::MailFrom { .. })));
    assert!(
        run.text().ends_with("250 DSN\r\n250 STARTTLS\r\n") || run.text().ends_with("STARTTLS\r\n")
    );
    assert_eq!(
        server.poll_timeout(),
        None,
        "no client timeout while the application decides"
    );
    assert_eq!(
        server.accept_recipient(),
        Err(IntentError::NotAwaiting {
            expected: "recipient"
        })
    );
    server.accept_sender().unwrap();
    drain(&mut server, &quiet, &mut run);
    assert!(run.text().ends_with("250 2.1.0 Sender OK\r\n"));
    assert!(matches!(run.events.last(), Some(Event::Recipient { .. })));
    assert!(server.poll_timeout().is_none());
}

/// RFC 3030 §4.2: BDAT chunks, with chunk contents that look like commands and a terminator.
#[test]
fn rfc3030_bdat_transcript() {
    let chunk1: &[u8] = b"To: ned@innosoft.com\r\n\r\n.\r\nQUIT\r\nbare\nLF and \rCR\r\n";
    let chunk2: &[u8] = b"The end.\r\n";
    let mut input = b"EHLO c.example\r\nMAIL FROM:<a@example.net> BODY=BINARYMIME\r\nRCPT TO:<b@example.org>\r\n".to_vec();
    input.extend_from_slice(format!("BDAT {}\r\n", chunk1.len()).as_bytes());
    input.extend_from_slice(chunk1);
    input.extend_from_slice(format!("BDAT {} LAST\r\n", chunk2.len()).as_bytes());
    input.extend_from_slice(chunk2);
    input.extend_from_slice(b"NOOP\r\n");
    for (how, run) in run_all(config(Role::Mx), &[&input], &App::default()) {
        let tail: Vec<String> = run
            .lines()
            .into_iter()
            .skip_while(|l| !l.contains("Sender OK"))
            .collect();
        assert_eq!(
            tail,
            [
                "250 2.1.0 Sender OK".to_owned(),
                "250 2.1.5 Recipient OK".to_owned(),
                format!("250 2.0.0 {} octets received", chunk1.len()),
                "250 2.0.0 Message accepted".to_owned(),
                "250 2.0.0 OK".to_owned(),
            ],
            "{how:?}"
        );
        let mut whole = chunk1.to_vec();
        whole.extend_from_slice(chunk2);
        assert_eq!(run.body, whole, "{how:?}");
        assert!(!run.closed && run.errors.is_empty());
    }
}

#[test]
fn bdat_refused_chunks_are_swallowed() {
    // No MAIL: the chunk is read and discarded, never run as commands.
    let input: &[u8] = b"EHLO c.example\r\nBDAT 12\r\nQUIT\r\nQUIT\r\nNOOP\r\n\
MAIL FROM:<a@example.net> BODY=BINARYMIME\r\nRCPT TO:<b@example.org>\r\nDATA\r\nRSET\r\n";
    for (how, run) in run_all(config(Role::Mx), &[input], &App::default()) {
        let tail: Vec<String> = run
            .lines()
            .into_iter()
            .skip_while(|l| !l.starts_with("503"))
            .collect();
        assert_eq!(
            tail,
            [
                "503 5.5.1 Need MAIL command",
                "250 2.0.0 OK",
                "250 2.1.0 Sender OK",
                "250 2.1.5 Recipient OK",
                "503 5.5.1 DATA not allowed with BINARYMIME or BDAT",
                "250 2.0.0 OK",
            ],
            "{how:?}"
        );
        assert!(!run.closed, "{how:?}");
        assert!(run.has(|e| matches!(e, Event::TransactionReset)));
    }
    // BDAT over the size limit: read to its end, 552, the message aborted.
    let input: &[u8] =
        b"EHLO c.example\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.org>\r\n\
BDAT 4\r\nabcdBDAT 20 LAST\r\n01234567890123456789NOOP\r\n";
    for (how, run) in run_all(
        config(Role::Mx).with_max_message_size(10),
        &[input],
        &App::default(),
    ) {
        assert!(
            run.text().ends_with("250 2.0.0 4 octets received\r\n552 5.3.4 Message size exceeds fixed maximum message size\r\n250 2.0.0 OK\r\n"),
            "{how:?}: {}", run.text()
        );
        assert_eq!(run.body, b"abcd");
        assert!(run.has(|e| matches!(
            e,
            Event::MessageAborted {
                reason: AbortReason::TooBig { limit: 10 }
            }
        )));
        assert!(!run.has(|e| matches!(e, Event::MessageEnd { .. })));
    }
}

// ----- SECURITY.md classes -----

/// Command injection at STARTTLS (CVE-2011-0411): nothing pipelined after STARTTLS is run,
/// in clear or inside TLS, whatever the chunking.
#[test]
fn command_injection_after_starttls() {
    let input: &[u8] = b"EHLO a.example\r\nSTARTTLS\r\nMAIL FROM:<attacker@evil.example>\r\nRCPT TO:<x@y.example>\r\n";
    for role in [Role::Mx, Role::Submission] {
        for (how, run) in run_all(config(role), &[input], &App::default()) {
            assert!(
                run.errors
                    .iter()
                    .any(|e| matches!(e, ServerError::CommandInjection(_))),
                "{role:?} {how:?}"
            );
            assert!(run.closed, "{how:?}");
            assert!(!run.has(|e| matches!(
                e,
                Event::MailFrom { .. } | Event::Recipient { .. } | Event::Secured
            )));
            assert!(!run.text().contains("Sender OK") && !run.text().contains("530"));
            if matches!(how, Cut::Whole) {
                assert_eq!(
                    run.starttls, 0,
                    "no upgrade when bytes are already buffered"
                );
                assert!(run.text().ends_with(
                    "421 4.7.0 mx.example.org Pipelined data after STARTTLS, closing\r\n"
                ));
            }
        }
    }
}

/// State carried across TLS (RFC 3207 §4.2): EHLO name, envelope and authentication are
/// forgotten at the cut.
#[test]
fn amnesia_after_tls() {
    let input: [&[u8]; 2] = [
        b"EHLO a.example\r\nMAIL FROM:<a@example.net>\r\nSTARTTLS\r\n",
        b"MAIL FROM:<a@example.net>\r\nEHLO a.example\r\nRCPT TO:<b@example.org>\r\n",
    ];
    for (how, run) in run_all(config(Role::Mx), &input, &App::default()) {
        assert_eq!(run.starttls, 1);
        let tls = &run.text()[run.text().find("Ready to start TLS").unwrap()..];
        assert!(
            tls.contains("503 5.5.1 Send EHLO or HELO first\r\n"),
            "{how:?}"
        );
        assert!(
            tls.ends_with("503 5.5.1 Need MAIL command\r\n"),
            "{how:?}: {tls}"
        );
        assert!(run.has(|e| matches!(e, Event::TransactionReset)));
    }
    // Authentication made in clear (insecure option) does not survive the upgrade.
    let cfg = config(Role::Submission)
        .with_insecure_auth(InsecureAuth::AllowPlaintextMechanismsWithoutTls);
    let auth = format!(
        "EHLO a.example\r\nAUTH PLAIN {}\r\nSTARTTLS\r\n",
        plain("tim", "tanstaaftanstaaf")
    );
    let input: [&[u8]; 2] = [
        auth.as_bytes(),
        b"EHLO a.example\r\nMAIL FROM:<tim@example.org>\r\n",
    ];
    for (how, run) in run_all(cfg, &input, &App::default()) {
        assert!(run.text().contains("235 2.7.0"), "{how:?}");
        assert!(
            run.text()
                .ends_with("530 5.7.0 Authentication required\r\n"),
            "{how:?}"
        );
        assert!(!run.has(|e| matches!(e, Event::MailFrom { .. })));
    }
}

/// Cleartext credentials (RFC 4954 §4, RFC 8314): a submission server offers and accepts no
/// AUTH and no mail before TLS.
#[test]
fn submission_requires_tls_then_auth() {
    let script = format!(
        "EHLO a.example\r\nAUTH PLAIN {}\r\nMAIL FROM:<a@example.net>\r\nVRFY tim\r\nNOOP\r\nRSET\r\nHELO a.example\r\nSTARTTLS\r\n",
        plain("tim", "tanstaaftanstaaf")
    );
    let input: [&[u8]; 2] = [
        script.as_bytes(),
        b"EHLO a.example\r\nMAIL FROM:<a@example.net>\r\n",
    ];
    for (how, run) in run_all(config(Role::Submission), &input, &App::default()) {
        let text = run.text();
        let clear = &text[..text.find("220 2.0.0").unwrap()];
        assert!(!clear.contains("AUTH"), "{how:?}");
        assert_eq!(
            clear
                .matches("530 5.7.0 Must issue a STARTTLS command first\r\n")
                .count(),
            3,
            "{how:?}"
        );
        assert!(clear.ends_with("250 2.0.0 OK\r\n250 2.0.0 OK\r\n250 mx.example.org\r\n"));
        assert!(!run.has(|e| matches!(e, Event::CredentialCheck(_))));
        assert!(
            text.ends_with("530 5.7.0 Authentication required\r\n"),
            "{how:?}"
        );
    }
    // Implicit TLS: input before the handshake is refused.
    let mut server = Server::new(config(Role::ImplicitSubmission));
    let run = session(
        &mut server,
        &[b"EHLO a.example\r\n"],
        Cut::Whole,
        &App::default(),
    );
    assert_eq!(run.errors, [ServerError::InputBeforeTls]);
    assert!(run.wire.is_empty() && run.closed);
}

/// SMTP smuggling (CVE-2023-51764): `\n.\n`, `\r.\r`, `\r\n.\n` and bare LF never end a
/// message, and what follows is never run as commands.
#[test]
fn smtp_smuggling() {
    let prefix: &[u8] =
        b"EHLO a.example\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n";
    for smuggle in [
        &b"Hi\n.\nMAIL FROM:<evil@example.com>\r\nRCPT TO:<victim@example.org>\r\n"[..],
        b"Hi\r.\rMAIL FROM:<evil@example.com>\r\nRCPT TO:<victim@example.org>\r\n",
        b"Hi\r\n.\nMAIL FROM:<evil@example.com>\r\nRCPT TO:<victim@example.org>\r\n",
        b"Hi\n.\r\nMAIL FROM:<evil@example.com>\r\nRCPT TO:<victim@example.org>\r\n",
        b"bare\nLF only\r\n",
    ] {
        let mut input = prefix.to_vec();
        input.extend_from_slice(smuggle);
        input.extend_from_slice(b"tail\r\n.\r\nNOOP\r\n");
        for (how, run) in run_all(config(Role::Mx), &[&input], &App::default()) {
            assert_eq!(
                run.events
                    .iter()
                    .filter(|e| matches!(e, Event::MailFrom { .. }))
                    .count(),
                1,
                "{how:?}"
            );
            assert!(
                !run.has(|e| matches!(e, Event::MessageEnd { .. })),
                "{how:?}"
            );
            assert!(run.has(|e| matches!(
                e,
                Event::MessageAborted {
                    reason: AbortReason::Data(DataError::BareLf | DataError::BareCr)
                }
            )));
            assert!(
                run.text().ends_with(
                    "550 5.5.2 Bare CR or LF not allowed in message data\r\n250 2.0.0 OK\r\n"
                ),
                "{how:?}: {}",
                run.text()
            );
        }
    }
    // Bare LF or CR in a command line: 500, and nothing runs.
    for (how, run) in run_all(
        config(Role::Mx),
        &[b"EHLO a.example\nMAIL FROM:<a@b.example>\r\nNOOP\rX\r\n"],
        &App::default(),
    ) {
        assert_eq!(
            run.text()
                .matches("500 5.5.2 Bare CR or LF not allowed in commands\r\n")
                .count(),
            2,
            "{how:?}"
        );
        assert!(run.events.is_empty());
    }
}

#[test]
fn long_lines_and_too_many_errors() {
    let mut input = b"EHLO a.example\r\nNOOP ".to_vec();
    input.extend(std::iter::repeat_n(b'x', 600));
    input.extend_from_slice(b"\r\n");
    input.extend(std::iter::repeat_n(b'y', 20_000));
    input.extend_from_slice(b"\r\nNOOP\r\n");
    for (how, run) in run_all(config(Role::Mx), &[&input], &App::default()) {
        assert!(
            run.text().ends_with(
                "500 5.5.2 Line too long\r\n500 5.5.2 Line too long\r\n250 2.0.0 OK\r\n"
            ),
            "{how:?}: {}",
            run.text()
        );
    }
    let input = b"BOGUS\r\n".repeat(12);
    for (how, run) in run_all(config(Role::Mx), &[&input], &App::default()) {
        assert_eq!(
            run.text().matches("500 5.5.2 Command unrecognized").count(),
            10,
            "{how:?}"
        );
        assert!(
            run.text()
                .ends_with("421 4.7.0 mx.example.org Too many errors, closing\r\n")
        );
        assert_eq!(run.errors, [ServerError::TooManyErrors(10)]);
        assert!(run.closed);
    }
}

#[test]
fn too_many_recipients() {
    let mut input = b"EHLO a.example\r\nMAIL FROM:<a@example.net>\r\n".to_vec();
    for i in 0..5 {
        input.extend_from_slice(format!("RCPT TO:<r{i}@example.org>\r\n").as_bytes());
    }
    for (how, run) in run_all(
        config(Role::Mx).with_max_recipients(3),
        &[&input],
        &App::default(),
    ) {
        assert_eq!(run.text().matches("250 2.1.5").count(), 3, "{how:?}");
        assert!(
            run.text()
                .ends_with("452 4.5.3 Too many recipients\r\n452 4.5.3 Too many recipients\r\n")
        );
    }
    // The default allows at least the 100 of RFC 5321 §4.5.3.1.8.
    let mut input = b"EHLO a.example\r\nMAIL FROM:<a@example.net>\r\n".to_vec();
    for i in 0..101 {
        input.extend_from_slice(format!("RCPT TO:<r{i}@example.org>\r\n").as_bytes());
    }
    let run = session(
        &mut Server::new(config(Role::Mx)),
        &[&input],
        Cut::Whole,
        &App::default(),
    );
    assert_eq!(run.text().matches("250 2.1.5").count(), 100);
    assert!(run.text().ends_with("452 4.5.3 Too many recipients\r\n"));
}

#[test]
fn message_size_limits() {
    // Announced too big: refused at MAIL.
    let input: &[u8] = b"EHLO a.example\r\nMAIL FROM:<a@example.net> SIZE=1000\r\n";
    for (how, run) in run_all(
        config(Role::Mx).with_max_message_size(100),
        &[input],
        &App::default(),
    ) {
        assert!(
            run.text()
                .ends_with("552 5.3.4 Message size exceeds fixed maximum message size\r\n"),
            "{how:?}"
        );
        assert!(!run.has(|e| matches!(e, Event::MailFrom { .. })));
    }
    // Too big while streaming: read to the end, then 552, in step for the next command.
    let mut input =
        b"EHLO a.example\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n"
            .to_vec();
    for _ in 0..10 {
        input.extend_from_slice(b"0123456789012345678901234567890123456789\r\n");
    }
    input.extend_from_slice(b".\r\nNOOP\r\n");
    for (how, run) in run_all(
        config(Role::Mx).with_max_message_size(100),
        &[&input],
        &App::default(),
    ) {
        assert!(
            run.text().ends_with("354 Start mail input; end with <CRLF>.<CRLF>\r\n552 5.3.4 Message size exceeds fixed maximum message size\r\n250 2.0.0 OK\r\n"),
            "{how:?}"
        );
        assert!(run.body.len() <= 100);
        assert!(run.has(|e| matches!(
            e,
            Event::MessageAborted {
                reason: AbortReason::Data(DataError::MessageTooBig { limit: 100 })
            }
        )));
        assert!(!run.text().contains("Message accepted"));
    }
}

#[test]
fn pipelined_input_is_bounded_while_paused() {
    let cfg = config(Role::Mx).with_max_buffered(16 * 1024);
    let mut server = Server::new(cfg);
    let quiet = App {
        answer: false,
        ..App::default()
    };
    let mut input = b"EHLO a.example\r\nMAIL FROM:<a@example.net>\r\n".to_vec();
    input.extend(b"NOOP\r\n".repeat(4000));
    let run = session(&mut server, &[&input], Cut::Whole, &quiet);
    assert_eq!(
        run.errors,
        [ServerError::InputOverflow { limit: 16 * 1024 }]
    );
    assert!(run.closed);
    assert!(
        run.text()
            .ends_with("421 4.7.0 mx.example.org Too much pipelined input, closing\r\n")
    );
}

#[test]
fn timeouts() {
    let t0 = Instant::now();
    let cfg = config(Role::Mx)
        .with_command_timeout(Duration::from_secs(300))
        .with_data_timeout(Duration::from_secs(180));
    let app = App::default();

    // Idle at the command prompt.
    let mut server = Server::new(cfg.clone());
    server.start_clock(t0);
    assert_eq!(server.poll_timeout(), Some(t0 + Duration::from_secs(300)));
    server.handle_timeout(t0 + Duration::from_secs(299));
    let mut run = Run::default();
    drain(&mut server, &app, &mut run);
    assert!(run.errors.is_empty());
    server.handle_timeout(t0 + Duration::from_secs(300));
    drain(&mut server, &app, &mut run);
    assert!(
        run.text()
            .ends_with("421 4.4.2 mx.example.org Error: timeout exceeded\r\n")
    );
    assert_eq!(run.errors, [ServerError::Timeout]);
    assert!(run.closed && server.poll_timeout().is_none());

    // Mid-data: the data timeout, and the message is aborted.
    let mut server = Server::new(cfg);
    let mut run = Run::default();
    server.handle_input(
        t0,
        b"EHLO a.example\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.org>\r\n",
    );
    drain(&mut server, &app, &mut run);
    // After intents the clock restarts at the next call that brings the time.
    assert_eq!(server.poll_timeout(), Some(t0));
    server.handle_timeout(t0 + Duration::from_secs(1));
    assert_eq!(server.poll_timeout(), Some(t0 + Duration::from_secs(301)));
    server.handle_input(t0 + Duration::from_secs(2), b"DATA\r\npart of a line");
    drain(&mut server, &app, &mut run);
    assert_eq!(server.poll_timeout(), Some(t0 + Duration::from_secs(182)));
    server.handle_timeout(t0 + Duration::from_secs(182));
    drain(&mut server, &app, &mut run);
    assert!(run.has(|e| matches!(
        e,
        Event::MessageAborted {
            reason: AbortReason::Timeout
        }
    )));
    assert_eq!(run.errors, [ServerError::Timeout]);
}

// ----- decisions, reject paths, end of session -----

#[test]
fn nothing_acknowledged_before_accept_message() {
    let input: &[u8] = b"EHLO a.example\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.org>\r\nDATA\r\nbody\r\n.\r\nNOOP\r\n";
    let mut server = Server::new(config(Role::Mx));
    let mut run = Run::default();
    server.handle_input(Instant::now(), input);
    // Answer everything but the message.
    loop {
        let before = run.events.len();
        while let Some(o) = server.poll_output() {
            match o {
                Output::Transmit(b) => run.wire.extend_from_slice(&b),
                Output::Event(e) => {
                    match &e {
                        Event::MailFrom { .. } => server.accept_sender().unwrap(),
                        Event::Recipient { .. } => server.accept_recipient().unwrap(),
                        _ => {}
                    }
                    run.events.push(e);
                }
                _ => {}
            }
        }
        if run.events.len() == before {
            break;
        }
    }
    assert!(matches!(
        run.events.last(),
        Some(Event::MessageEnd { size: 6 })
    ));
    assert!(
        run.text()
            .ends_with("354 Start mail input; end with <CRLF>.<CRLF>\r\n"),
        "no 250 yet, NOOP not answered"
    );
    server
        .reject_message(reply(451, (4, 3, 0), "Queue full, try later").unwrap())
        .unwrap();
    drain(&mut server, &App::default(), &mut run);
    assert!(
        run.text()
            .ends_with("451 4.3.0 Queue full, try later\r\n250 2.0.0 OK\r\n")
    );
    assert!(!run.text().contains("Message accepted"));
    assert_eq!(
        server.accept_message(),
        Err(IntentError::NotAwaiting {
            expected: "message"
        })
    );
}

#[test]
fn reject_paths() {
    let app = App {
        refuse_sender: Some("spam"),
        refuse_rcpt: Some("nobody"),
        refuse_message: true,
        ..App::default()
    };
    let input: &[u8] = b"EHLO a.example\r\nMAIL FROM:<spam@example.net>\r\nRCPT TO:<b@example.org>\r\n\
MAIL FROM:<ok@example.net>\r\nRCPT TO:<nobody@example.org>\r\nDATA\r\nRCPT TO:<b@example.org>\r\nDATA\r\nx\r\n.\r\n";
    for (how, run) in run_all(config(Role::Mx), &[input], &app) {
        let tail: Vec<String> = run
            .lines()
            .into_iter()
            .skip_while(|l| !l.starts_with("550"))
            .collect();
        assert_eq!(
            tail,
            [
                "550 5.7.1 Sender refused",
                "503 5.5.1 Need MAIL command",
                "250 2.1.0 Sender OK",
                "550 5.1.1 No such user here",
                "554 5.5.1 No valid recipients",
                "250 2.1.5 Recipient OK",
                "354 Start mail input; end with <CRLF>.<CRLF>",
                "554 5.7.1 Message refused",
            ],
            "{how:?}"
        );
    }
    let mut server = Server::new(config(Role::Mx));
    assert_eq!(
        server.accept_sender(),
        Err(IntentError::NotAwaiting { expected: "sender" })
    );
    let ok = Reply::single(250, "fine").unwrap();
    assert_eq!(server.reject_sender(ok), Err(IntentError::NotARefusal));
}

#[test]
fn mail_parameters_checked_and_passed_on() {
    let input: &[u8] = b"EHLO a.example\r\nMAIL FROM:<a@example.net> REQUIRETLS\r\nMAIL FROM:<a@example.net> FOO=bar\r\n\
MAIL FROM:<a@example.net> SIZE=10 BODY=8BITMIME RET=HDRS ENVID=x+2By\r\nRCPT TO:<b@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b@example.org\r\n\
RCPT TO:<c@example.org> XYZ\r\n";
    for (how, run) in run_all(config(Role::Mx), &[input], &App::default()) {
        let tail: Vec<String> = run
            .lines()
            .into_iter()
            .skip_while(|l| !l.starts_with("530"))
            .collect();
        assert_eq!(
            tail,
            [
                "530 5.7.10 REQUIRETLS needs a TLS connection",
                "555 5.5.4 Unsupported parameter",
                "250 2.1.0 Sender OK",
                "250 2.1.5 Recipient OK",
                "555 5.5.4 Unsupported parameter",
            ],
            "{how:?}"
        );
        assert!(run.has(|e| matches!(e, Event::MailFrom { params, secure: false, .. } if params.len() == 4 && params[0] == MailParam::Size(10))));
        assert!(run.has(|e| matches!(e, Event::Recipient { params, .. } if params.len() == 2)));
    }
    // Over TLS, REQUIRETLS is accepted and passed on.
    let input: [&[u8]; 2] = [
        b"STARTTLS\r\n",
        b"EHLO a.example\r\nMAIL FROM:<a@example.net> REQUIRETLS\r\n",
    ];
    for (how, run) in run_all(config(Role::Mx), &input, &App::default()) {
        assert!(run.text().ends_with("250 2.1.0 Sender OK\r\n"), "{how:?}");
        assert!(run.has(|e| matches!(e, Event::MailFrom { params, secure: true, .. } if params == &[MailParam::RequireTls])));
    }
}

#[test]
fn vrfy_expn_help_and_quit() {
    let input: &[u8] = b"VRFY tim\r\nEXPN list\r\nHELP\r\nQUIT\r\nNOOP\r\n";
    for (how, run) in run_all(config(Role::Mx), &[input], &App::default()) {
        assert_eq!(
            run.lines()[1..],
            [
                "252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery",
                "502 5.5.1 EXPN not available",
                "214 2.0.0 See RFC 5321",
                "221 2.0.0 mx.example.org closing connection",
            ],
            "{how:?}"
        );
        assert!(run.closed && matches!(run.events.last(), Some(Event::Closed)));
    }
    let cfg = config(Role::Mx).with_vrfy_reply(reply(550, (5, 7, 1), "No").unwrap());
    let run = session(
        &mut Server::new(cfg),
        &[b"VRFY tim\r\n"],
        Cut::Whole,
        &App::default(),
    );
    assert!(run.text().ends_with("550 5.7.1 No\r\n"));
}

#[test]
fn shutdown_and_eof() {
    let data: &[u8] = b"EHLO a.example\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.org>\r\nDATA\r\npartial\r\n";
    // Shutdown mid-message.
    let mut server = Server::new(config(Role::Mx));
    let mut run = session(&mut server, &[data], Cut::Whole, &App::default());
    server.shutdown();
    drain(&mut server, &App::default(), &mut run);
    assert!(
        run.text()
            .ends_with("421 4.3.2 mx.example.org Service shutting down\r\n")
    );
    assert!(run.has(|e| matches!(
        e,
        Event::MessageAborted {
            reason: AbortReason::Shutdown
        }
    )));
    assert!(run.closed && run.errors.is_empty());
    assert_eq!(server.accept_message(), Err(IntentError::Closed));

    // EOF mid-message.
    let mut server = Server::new(config(Role::Mx));
    let mut run = session(&mut server, &[data], Cut::Bytes, &App::default());
    server.handle_eof(Instant::now());
    drain(&mut server, &App::default(), &mut run);
    assert!(run.has(|e| matches!(
        e,
        Event::MessageAborted {
            reason: AbortReason::ConnectionLost
        }
    )));
    assert_eq!(run.errors, [ServerError::UnexpectedEof]);
    assert!(run.closed);

    // EOF between commands: an orderly close.
    let mut server = Server::new(config(Role::Mx));
    let mut run = session(
        &mut server,
        &[b"EHLO a.example\r\n"],
        Cut::Whole,
        &App::default(),
    );
    server.handle_eof(Instant::now());
    drain(&mut server, &App::default(), &mut run);
    assert!(run.errors.is_empty() && run.closed);
    assert!(matches!(run.events.last(), Some(Event::Closed)));
}

// ----- real STARTTLS handshake through the test Pair -----

mod pair {
    use std::collections::VecDeque;
    use std::time::Instant;

    use bytes::Bytes;
    use mailsec_smtp::server::{Event, Role, Server};
    use mailsec_tls::sasl::{CheckAnswer, CredentialCheck, ExposeSecret};
    use mailsec_tls::testing::{Chunking, Pair, TestPki};
    use mailsec_tls::{Machine, Output, TlsInfo};

    /// A tiny scripted client: sends the next line of its script after each final reply line,
    /// upgrades after `220` to STARTTLS, and records every reply line as an event.
    struct ScriptClient {
        script: VecDeque<String>,
        buf: Vec<u8>,
        out: VecDeque<Output<String, std::io::Error>>,
        awaiting_go_ahead: bool,
    }

    impl ScriptClient {
        fn new(script: &[&str]) -> Self {
            ScriptClient {
                script: script.iter().map(|s| (*s).to_owned()).collect(),
                buf: Vec::new(),
                out: VecDeque::new(),
                awaiting_go_ahead: false,
            }
        }

        fn send_next(&mut self) {
            if let Some(line) = self.script.pop_front() {
                self.awaiting_go_ahead = line == "STARTTLS";
                self.out
                    .push_back(Output::Transmit(Bytes::from(format!("{line}\r\n"))));
            }
        }
    }

    impl Machine for ScriptClient {
        type Event = String;
        type Error = std::io::Error;

        fn handle_input(&mut self, _now: Instant, data: &[u8]) {
            self.buf.extend_from_slice(data);
            while let Some(pos) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = self.buf.drain(..pos + 2).collect();
                let line = String::from_utf8_lossy(&line[..pos]).into_owned();
                let last = line.as_bytes().get(3) != Some(&b'-');
                self.out.push_back(Output::Event(line.clone()));
                if !last {
                    continue;
                }
                if self.awaiting_go_ahead && line.starts_with("220 ") {
                    assert!(self.buf.is_empty(), "response injection");
                    self.awaiting_go_ahead = false;
                    self.out.push_back(Output::StartTls);
                    return;
                }
                self.send_next();
            }
        }
        fn handle_eof(&mut self, _now: Instant) {
            self.out.push_back(Output::Close);
        }
        fn handle_timeout(&mut self, _now: Instant) {}
        fn handle_tls_established(&mut self, _now: Instant, _info: &TlsInfo) {
            self.send_next();
        }
        fn poll_output(&mut self) -> Option<Output<String, std::io::Error>> {
            self.out.pop_front()
        }
        fn poll_timeout(&self) -> Option<Instant> {
            None
        }
    }

    fn settle(pair: &mut Pair<ScriptClient, Server>) -> Vec<Event> {
        let mut all = Vec::new();
        loop {
            pair.run();
            let events = pair.server.take_events();
            if events.is_empty() {
                return all;
            }
            for e in &events {
                let server = &mut pair.server.machine;
                match e {
                    Event::MailFrom { .. } => server.accept_sender().unwrap(),
                    Event::Recipient { .. } => server.accept_recipient().unwrap(),
                    Event::MessageEnd { .. } => server.accept_message().unwrap(),
                    Event::CredentialCheck(CredentialCheck::Password {
                        authcid, password, ..
                    }) => {
                        let ok = authcid == "tim" && password.expose_secret() == "tanstaaftanstaaf";
                        server
                            .answer_credentials(if ok {
                                CheckAnswer::Accept
                            } else {
                                CheckAnswer::Reject
                            })
                            .unwrap();
                    }
                    _ => {}
                }
            }
            all.extend(events);
        }
    }

    #[test]
    fn submission_over_real_starttls_in_every_chunking() {
        let pki = TestPki::new(super::HOST);
        let auth = format!(
            "AUTH PLAIN {}",
            mailsec_tls::sasl::wire::encode(b"\0tim\0tanstaaftanstaaf")
        );
        let script = [
            "EHLO client.example",
            "STARTTLS",
            "EHLO client.example",
            auth.as_str(),
            "MAIL FROM:<tim@example.org>",
            "RCPT TO:<b@example.net>",
            "DATA",
            "Subject: hi\r\n\r\nover TLS\r\n.",
            "QUIT",
        ];
        let mut chunkings = Chunking::BASIC.to_vec();
        chunkings.extend((1..40).map(Chunking::SplitAt));
        for chunking in chunkings {
            let mut pair = Pair::new(
                ScriptClient::new(&script),
                Server::new(super::config(Role::Submission)),
                &pki,
            );
            pair.set_chunking(chunking);
            let events = settle(&mut pair);
            // (Both pipes are closed after QUIT; the handshake count tells that TLS was up.)
            assert_eq!(pair.server.tls_established, 1, "{chunking:?}");
            assert_eq!(pair.client.tls_established, 1);
            assert!(pair.server.errors.is_empty() && pair.client.errors.is_empty());
            let lines = pair.client.take_events();
            let go = lines
                .iter()
                .position(|l| l == "220 2.0.0 Ready to start TLS")
                .unwrap();
            assert!(
                lines[..go].iter().all(|l| !l.contains("AUTH")),
                "{chunking:?}"
            );
            assert!(lines[go..].iter().any(|l| l == "250-AUTH PLAIN LOGIN"));
            assert!(
                lines
                    .iter()
                    .any(|l| l == "235 2.7.0 Authentication successful")
            );
            assert!(
                lines.iter().any(|l| l == "250 2.0.0 Message accepted"),
                "{chunking:?}: {lines:?}"
            );
            assert_eq!(
                lines.last().map(String::as_str),
                Some("221 2.0.0 mx.example.org closing connection")
            );
            let body: Vec<u8> = events
                .iter()
                .filter_map(|e| match e {
                    Event::MessageData(b) => Some(b.to_vec()),
                    _ => None,
                })
                .flatten()
                .collect();
            assert_eq!(body, b"Subject: hi\r\n\r\nover TLS\r\n");
            assert!(events.iter().any(|e| matches!(e, Event::Secured)));
            assert!(pair.server.closed);
            // Nothing of the session after the cut crossed the wire in clear.
            let wire = &pair.client.wire;
            assert!(
                !wire.windows(4).any(|w| w == b"AUTH"),
                "credentials in clear"
            );
        }
    }
}

#[test]
fn smtputf8_addresses_need_the_parameter() {
    let input = "EHLO a.example\r\nMAIL FROM:<jürgen@example.net>\r\nMAIL FROM:<a@example.net>\r\n\
RCPT TO:<ößé@example.org>\r\nRSET\r\nMAIL FROM:<jürgen@example.net> SMTPUTF8\r\nRCPT TO:<ößé@example.org>\r\n";
    for (how, run) in run_all(config(Role::Mx), &[input.as_bytes()], &App::default()) {
        let tail: Vec<String> = run
            .lines()
            .into_iter()
            .skip_while(|l| !l.starts_with("553"))
            .collect();
        assert_eq!(
            tail,
            [
                "553 5.6.7 Non-ASCII address needs SMTPUTF8",
                "250 2.1.0 Sender OK",
                "553 5.6.7 Non-ASCII address needs SMTPUTF8",
                "250 2.0.0 OK",
                "250 2.1.0 Sender OK",
                "250 2.1.5 Recipient OK",
            ],
            "{how:?}"
        );
        assert!(run.has(
            |e| matches!(e, Event::Recipient { to, .. } if to.to_string() == "<ößé@example.org>")
        ));
    }
    // Not offered: refused even with the parameter.
    let mut features = Features::default();
    features.smtputf8 = false;
    let run = session(
        &mut Server::new(config(Role::Mx).with_features(features)),
        &[b"EHLO a.example\r\nMAIL FROM:<a@example.net> SMTPUTF8\r\n"],
        Cut::Whole,
        &App::default(),
    );
    assert!(!run.text().contains("SMTPUTF8\r\n"));
    assert!(run.text().ends_with("555 5.5.4 Unsupported parameter\r\n"));
}

/// SCRAM-SHA-256 over SMTP: 235 cannot carry data, so the server's final message (`v=`) comes
/// as a last `334` challenge, answered with an empty line.
#[test]
fn scram_final_message_as_last_challenge() {
    use mailsec_tls::sasl::{ClientExchange, Credentials, ScramStored};

    let cfg = config(Role::ImplicitSubmission).with_mechanisms(vec![Mechanism::ScramSha256]);
    let mut server = Server::new(cfg);
    let now = Instant::now();
    server.handle_tls_established(now, &TlsInfo::for_testing(HOST));
    let stored = ScramStored::derive_with_random_salt("pencil", 4096).unwrap();
    let mut client = ClientExchange::new(
        Mechanism::ScramSha256,
        Credentials::password("user", "pencil"),
    )
    .unwrap();
    let first = client.initial_response().unwrap().unwrap();
    let line = format!(
        "EHLO c.example\r\nAUTH SCRAM-SHA-256 {}\r\n",
        encode(first.expose_secret())
    );
    server.handle_input(now, line.as_bytes());
    let mut wire = Vec::new();
    let mut stored = Some(stored);
    let mut step = |server: &mut Server, wire: &mut Vec<u8>| {
        while let Some(o) = server.poll_output() {
            match o {
                Output::Transmit(b) => wire.extend_from_slice(&b),
                Output::Event(Event::CredentialCheck(CredentialCheck::ScramLookup { .. })) => {
                    server
                        .answer_credentials(CheckAnswer::ScramCredentials(stored.take()))
                        .unwrap()
                }
                _ => {}
            }
        }
    };
    step(&mut server, &mut wire);
    let text = String::from_utf8(wire.clone()).unwrap();
    let challenge = text.lines().last().unwrap().strip_prefix("334 ").unwrap();
    let server_first = mailsec_tls::sasl::wire::decode(challenge.as_bytes()).unwrap();
    let client_final = client.step(&server_first).unwrap();
    server.handle_input(
        now,
        format!("{}\r\n", encode(client_final.expose_secret())).as_bytes(),
    );
    wire.clear();
    step(&mut server, &mut wire);
    let text = String::from_utf8(wire.clone()).unwrap();
    let v = text.trim_end().strip_prefix("334 ").unwrap();
    client
        .finish(Some(
            &mailsec_tls::sasl::wire::decode(v.as_bytes()).unwrap(),
        ))
        .unwrap();
    server.handle_input(now, b"\r\n");
    wire.clear();
    step(&mut server, &mut wire);
    assert_eq!(wire, b"235 2.7.0 Authentication successful\r\n");
    assert_eq!(server.identity().map(|i| i.authcid.as_str()), Some("user"));
}
