//! The SMTP workload: one connection sends [`LoadOptions::count`](super::LoadOptions::count)
//! messages with [`mailsec_smtp::client::Client`] driven by [`Driver`], as
//! [`smtp_send`](crate::smtp_send) does for one message.
//!
//! Per connection: greeting, EHLO, STARTTLS (mode starttls) or TLS first (mode implicit), AUTH
//! when credentials are given (in mode none only with
//! [`allow_cleartext_credentials`](super::LoadOptions::allow_cleartext_credentials); without it
//! the messages go without AUTH, as to an MX), then per message MAIL, RCPT, DATA (or BDAT with
//! CHUNKING, pipelined when offered), and QUIT. The connection set-up is timed from the TCP
//! connect to the client's `Ready`; a message from `send_message` to the server's final
//! reply. After the session, clean or failed, the worker reads what the server still sends
//! (bounded: [`DRAIN_LIMIT`](super::DRAIN_LIMIT), [`DRAIN_MAX_BYTES`](super::DRAIN_MAX_BYTES)).

use std::time::Instant;

use mailsec_smtp::client::{Client, ClientConfig, ClientError, Envelope, Event, Phase};
use mailsec_tls::driver::{Driver, DriverError, TokioTimer};
use mailsec_tls::sasl::{Credentials, InsecureAuth};

use super::stats::{ErrorKind, Failure};
use super::{Ctx, Link, Mode};

/// Size of the pieces the message is handed to the client machine in.
const PIECE: usize = 64 * 1024;

/// A message of exactly `size` octets (or its headers and an empty line, if `size` is smaller
/// than those): `From`, `To`, `Subject` and `Message-ID` headers, then lines of
/// at most 78 letters, CRLF line endings, no line starting with a dot.
pub fn generate_message(size: usize, from: &str, to: &str) -> Vec<u8> {
    let header = |pad: &str| {
        format!(
            "From: <{from}>\r\nTo: <{to}>\r\nSubject: mailsec-load test message{pad}\r\n\
             Message-ID: <load@mailsec-load.invalid>\r\n\r\n"
        )
        .into_bytes()
    };
    let mut m = header("");
    if size == m.len() + 1 {
        // A body of one octet cannot end with CRLF: lengthen the subject instead.
        m = header(".");
    }
    let letters = b"abcdefghijklmnopqrstuvwxyz";
    let mut remaining = size.saturating_sub(m.len());
    let mut i = 0usize;
    while remaining > 0 {
        // Each line is text + CRLF; never leave a single octet behind.
        let mut line = remaining.min(80);
        if remaining - line == 1 {
            line -= 1;
        }
        if line < 2 {
            break;
        }
        for _ in 0..line - 2 {
            m.push(letters[i % letters.len()]);
            i += 1;
        }
        m.extend_from_slice(b"\r\n");
        remaining -= line;
    }
    m
}

fn failure(err: DriverError<ClientError>, setup: bool) -> Failure {
    match err {
        DriverError::Tls(e) => Failure::new(ErrorKind::Tls, e),
        DriverError::Io(e) => Failure::new(ErrorKind::Io, e),
        DriverError::Machine(e) => {
            let kind = match e.phase() {
                Some(Phase::Auth) => ErrorKind::Login,
                _ if setup => ErrorKind::Login,
                _ if e.reply().is_some() => ErrorKind::Refused,
                _ => ErrorKind::Session,
            };
            Failure::new(kind, e)
        }
        other => Failure::new(ErrorKind::Session, other),
    }
}

fn usage(e: ClientError) -> Failure {
    Failure::new(ErrorKind::Session, e)
}

/// One connection of the SMTP workload; records its successes in the context.
pub(crate) async fn connection(ctx: &Ctx, link: &Link) -> Result<(), Failure> {
    let opts = &ctx.options;
    let start = Instant::now();
    let stream = ctx.connect(link).await?;
    let mut config = ClientConfig::for_domain("mailsec-load.invalid")
        .map_err(|e| Failure::new(ErrorKind::Session, e))?
        .with_tls(ctx.mode.client_tls());
    if let Some(login) = &opts.login {
        if ctx.mode != Mode::None || opts.allow_cleartext_credentials {
            use secrecy::ExposeSecret;
            config = config.with_credentials(Credentials::password(
                login.user.clone(),
                login.password.expose_secret().to_owned(),
            ));
        }
        if opts.allow_cleartext_credentials {
            config = config.with_insecure_auth(InsecureAuth::AllowPlaintextMechanismsWithoutTls);
        }
    }
    let client = Client::new(config, Instant::now());
    let mut driver = match (ctx.mode, ctx.tls.clone()) {
        (Mode::Implicit, Some(setup)) => Driver::implicit_tls(client, stream, TokioTimer, setup)
            .map_err(|e| Failure::new(ErrorKind::Tls, e))?,
        (_, setup) => Driver::new(client, stream, TokioTimer, setup),
    };
    let message = &ctx.message;
    let new_envelope = || {
        Envelope::from_addresses(&opts.from, [opts.to.as_str()])
            .map_err(|e| Failure::new(ErrorKind::Session, e))
    };
    let mut ready = false;
    let mut sent = 0usize;
    let mut quitting = false;
    let mut op_start = Instant::now();
    let mut pos = 0usize;
    loop {
        let event = ctx
            .timed(
                if ready { "a message" } else { "the set-up" },
                driver.next_event(),
            )
            .await?
            .map_err(|e| failure(e, !ready))?;
        let Some(event) = event else { break };
        let now = Instant::now();
        match event {
            Event::Ready(info) => {
                ready = true;
                ctx.stats().connected(start.elapsed(), info.tls.is_some());
                op_start = now;
                pos = 0;
                driver
                    .machine_mut()
                    .send_message(now, new_envelope()?)
                    .map_err(usage)?;
            }
            Event::ReadyForData => {
                if pos < message.len() {
                    let end = (pos + PIECE).min(message.len());
                    driver
                        .machine_mut()
                        .send_data(now, &message[pos..end])
                        .map_err(usage)?;
                    pos = end;
                } else {
                    driver.machine_mut().finish_data(now).map_err(usage)?;
                }
            }
            Event::MessageAccepted { .. } => {
                sent += 1;
                ctx.stats()
                    .operation(op_start.elapsed(), message.len() as u64);
                ctx.progress.inc(1);
                if sent < opts.count {
                    op_start = now;
                    pos = 0;
                    driver
                        .machine_mut()
                        .send_message(now, new_envelope()?)
                        .map_err(usage)?;
                } else {
                    quitting = true;
                    driver.machine_mut().quit(now).map_err(usage)?;
                }
            }
            Event::MessageRejected { phase, reply } => {
                return Err(Failure::new(
                    ErrorKind::Refused,
                    format!("{phase}: {}", reply.summary()),
                ));
            }
            _ => {}
        }
    }
    if sent < opts.count || !quitting {
        return Err(Failure::new(
            ErrorKind::Session,
            format!(
                "the connection ended after {sent} of {} messages",
                opts.count
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_messages_have_the_exact_size_and_clean_lines() {
        let header = generate_message(0, "a@b.example", "c@d.example").len();
        let sizes = [
            0,
            10,
            header,
            header + 1,
            header + 2,
            header + 3,
            1000,
            10_000,
            65_537,
        ];
        for size in sizes {
            let m = generate_message(size, "a@b.example", "c@d.example");
            assert_eq!(m.len(), size.max(header), "size {size}");
            assert!(m.ends_with(b"\r\n"));
            for line in m.split(|&b| b == b'\n') {
                assert!(!line.starts_with(b"."));
                assert!(line.len() <= 80);
            }
            // Every LF is preceded by CR and every CR followed by LF.
            for (i, &b) in m.iter().enumerate() {
                if b == b'\n' {
                    assert_eq!(m[i - 1], b'\r');
                }
                if b == b'\r' {
                    assert_eq!(m[i + 1], b'\n');
                }
            }
        }
    }
}
