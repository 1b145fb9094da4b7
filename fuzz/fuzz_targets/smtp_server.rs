//! The ESMTP server machine fed arbitrary bytes in arbitrary chunks, in each role, with its
//! decisions answered by a simple rule, through the shared driver
//! (`mailsec_tls::testing::fuzz::drive`). It must never panic, never transmit after closing
//! nor anything but CRLF-ended replies, leave nothing pending after an error but the close,
//! and always end the session with a close.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use mailsec_smtp::server::{Event, Role, Server, ServerConfig, reply};
use mailsec_smtp::types::Domain;
use mailsec_tls::sasl::{CheckAnswer, InsecureAuth};
use mailsec_tls::testing::fuzz::{ChunkPlan, End, FuzzHarness, Timeouts, drive};

struct Harness {
    server: Server,
    /// Rotated at each decision: accept when its low bit is set (varied by the fuzzer).
    yes: u8,
}

impl FuzzHarness for Harness {
    type Machine = Server;

    fn machine(&mut self) -> &mut Server {
        &mut self.server
    }

    /// Answers each decision: accept when `yes` says so, refuse otherwise.
    fn on_event(&mut self, event: Event) {
        self.yes = self.yes.rotate_left(1);
        let accept = self.yes & 1 == 1;
        let server = &mut self.server;
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

    fn on_transmit(&mut self, bytes: &[u8]) {
        assert!(bytes.ends_with(b"\r\n"));
    }

    fn shutdown(&mut self) {
        self.server.shutdown();
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, input)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(control % 23) + 1;
    let t0 = Instant::now();
    let host = Domain::new(b"mx.fuzz.example").expect("a valid domain");

    for role in [Role::Mx, Role::Submission, Role::ImplicitSubmission] {
        let mut config = ServerConfig::new(role, host.clone())
            .with_max_message_size(4096)
            .with_max_recipients(5)
            .with_max_buffered(16 * 1024);
        if control & 0x40 != 0 {
            config = config.with_insecure_auth(InsecureAuth::AllowPlaintextMechanismsWithoutTls);
        }
        let mut harness = Harness {
            server: Server::new(config),
            yes: control | 0x11,
        };
        harness.server.start_clock(t0);
        // One second per chunk; every seventh chunk a timer fires at (or just after) the
        // deadline; nothing is fed after a close; the session ends with the application's
        // shutdown or the peer's end of stream, and must close either way (`drive` checks).
        let plan = ChunkPlan::new(chunk)
            .step(Duration::from_secs(1))
            .implicit_tls(role == Role::ImplicitSubmission)
            .timeouts(Timeouts::AtDeadline {
                every: 7,
                late: Duration::from_secs(u64::from(control & 1)),
            })
            .stop_when_closed(true)
            .end(if control & 0x20 != 0 {
                End::Shutdown
            } else {
                End::Eof
            });
        drive(&mut harness, t0, input, &plan);
    }
});
