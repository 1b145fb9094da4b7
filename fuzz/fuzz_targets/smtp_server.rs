//! The ESMTP server machine fed arbitrary bytes in arbitrary chunks, in each role, with its
//! decisions answered by a simple rule. It must never panic, never transmit after closing,
//! always follow an error with a close, and never ask for STARTTLS with input left behind the
//! command in the same delivery.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use mailsec_smtp::server::{Event, Role, Server, ServerConfig, reply};
use mailsec_smtp::types::Domain;
use mailsec_tls::sasl::{CheckAnswer, InsecureAuth};
use mailsec_tls::{Machine, Output, TlsInfo};

#[derive(Default)]
struct Seen {
    start_tls: bool,
    closed: bool,
    error: bool,
}

/// Drains the outputs, answering each decision: accept when `yes` (varied by the fuzzer),
/// refuse otherwise.
fn drain(server: &mut Server, yes: &mut u8, seen: &mut Seen) {
    while let Some(output) = server.poll_output() {
        match output {
            Output::Transmit(bytes) => {
                assert!(!seen.closed, "transmit after close");
                assert!(bytes.ends_with(b"\r\n"));
            }
            Output::StartTls => seen.start_tls = true,
            Output::Close => seen.closed = true,
            Output::Error(_) => seen.error = true,
            Output::Event(event) => {
                *yes = yes.rotate_left(1);
                let accept = *yes & 1 == 1;
                let no = || reply(550, (5, 7, 1), "no").expect("a valid reply");
                let _ = match event {
                    Event::MailFrom { .. } if accept => server.accept_sender(),
                    Event::MailFrom { .. } => server.reject_sender(no()),
                    Event::Recipient { .. } if accept => server.accept_recipient(),
                    Event::Recipient { .. } => server.reject_recipient(no()),
                    Event::MessageEnd { .. } if accept => server.accept_message(),
                    Event::MessageEnd { .. } => server.reject_message(no()),
                    Event::CredentialCheck(_) => server.answer_credentials(if accept {
                        CheckAnswer::Accept
                    } else {
                        CheckAnswer::Reject
                    }),
                    _ => Ok(()),
                };
            }
            _ => {}
        }
    }
    if seen.error {
        assert!(seen.closed || server.poll_output().is_none());
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, input)) = data.split_first() else { return };
    let chunk = usize::from(control % 23) + 1;
    let t0 = Instant::now();
    let info = TlsInfo::for_testing("fuzz.example.test");
    let host = Domain::new(b"mx.fuzz.example").expect("a valid domain");

    for role in [Role::Mx, Role::Submission, Role::ImplicitSubmission] {
        let mut config = ServerConfig::new(role, host.clone())
            .with_max_message_size(4096)
            .with_max_recipients(5)
            .with_max_buffered(16 * 1024);
        if control & 0x40 != 0 {
            config = config.with_insecure_auth(InsecureAuth::AllowPlaintextMechanismsWithoutTls);
        }
        let mut server = Server::new(config);
        let mut yes = control | 0x11;
        let mut seen = Seen::default();
        server.start_clock(t0);
        drain(&mut server, &mut yes, &mut seen);
        if role == Role::ImplicitSubmission {
            server.handle_tls_established(t0, &info);
            drain(&mut server, &mut yes, &mut seen);
        }
        for (i, piece) in input.chunks(chunk).enumerate() {
            let now = t0 + Duration::from_secs(i as u64);
            server.handle_input(now, piece);
            seen.start_tls = false;
            drain(&mut server, &mut yes, &mut seen);
            if seen.start_tls && !seen.closed {
                server.handle_tls_established(now, &info);
                drain(&mut server, &mut yes, &mut seen);
            }
            if i % 7 == 6 {
                if let Some(deadline) = server.poll_timeout() {
                    server.handle_timeout(deadline + Duration::from_secs(u64::from(control & 1)));
                    drain(&mut server, &mut yes, &mut seen);
                }
            }
            if seen.closed {
                break;
            }
        }
        if control & 0x20 != 0 {
            server.shutdown();
        } else {
            server.handle_eof(t0);
        }
        drain(&mut server, &mut yes, &mut seen);
        assert!(seen.closed, "the session always ends with a close");
    }
});
