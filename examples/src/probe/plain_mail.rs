//! Does the SMTP service take mail from a client that cannot do TLS?
//!
//! On a separate plaintext connection the probe says `EHLO`, `MAIL FROM:<>` and
//! `RCPT TO:<postmaster@NAME>` (or `--rcpt`), then `RSET` and `QUIT`: never `DATA`, so nothing
//! is delivered. The answer means opposite things by role:
//!
//! - an MX (port 25) should accept: RFC 3207 §4 says "a publicly-referenced SMTP server MUST
//!   NOT require use of the STARTTLS extension in order to deliver mail locally", and mail from
//!   servers that cannot do TLS is otherwise lost (the two-server advice: an MX that keeps
//!   taking mail in clear, a submission service that never does);
//! - a submission service (port 587) must refuse until TLS and authentication: RFC 6409
//!   §4.3 (an MSA "MUST by default issue an error response to the MAIL command if the session
//!   has not been authenticated"), `530 5.7.0` per RFC 3207 §4 and RFC 4954 §6.

use serde::Serialize;

use super::{Conn, Prober, Protocol, ServiceReport, Severity, Target, TlsMode};

/// The part an SMTP service plays, for the plaintext-mail test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum SmtpRole {
    /// Receives mail from other servers (port 25, service `smtp`).
    Mx,
    /// Receives mail from users' clients (port 587, service `submission`).
    Submission,
}

impl Target {
    /// The SMTP role of a STARTTLS SMTP target, by its name: `smtp` is the MX,
    /// `submission` is submission; `None` for other targets.
    pub fn smtp_role(&self) -> Option<SmtpRole> {
        if self.protocol != Protocol::Smtp || self.mode != TlsMode::StartTls {
            return None;
        }
        match self.name.as_str() {
            "smtp" => Some(SmtpRole::Mx),
            "submission" => Some(SmtpRole::Submission),
            _ => None,
        }
    }
}

/// The outcome of the plaintext-mail test (`MAIL FROM:<>` and `RCPT TO` without TLS).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "result", content = "detail", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum PlaintextMail {
    /// Not run (not an MX or submission service).
    NotTested,
    /// `MAIL FROM:<>` and `RCPT TO` were both accepted without TLS.
    Accepts(String),
    /// `MAIL FROM:<>` was accepted without TLS and the recipient refused for another reason
    /// than TLS or authentication (an unknown mailbox, say): the service takes mail in clear.
    AcceptsSenderOnly(String),
    /// Refused until TLS or authentication is in place (`530`, `x.7.10`, a reply naming TLS;
    /// on submission also any `x.7.x` or a reply naming authentication).
    Refuses(String),
    /// The test could not conclude (greeting, EHLO or `MAIL` refused for other reasons,
    /// connection lost).
    Inconclusive(String),
}

impl PlaintextMail {
    /// One or two words for the summary table: `accepted`, `sender only`, `refused`, `?`,
    /// `-` (not tested).
    pub fn short(&self) -> &'static str {
        match self {
            PlaintextMail::NotTested => "-",
            PlaintextMail::Accepts(_) => "accepted",
            PlaintextMail::AcceptsSenderOnly(_) => "sender only",
            PlaintextMail::Refuses(_) => "refused",
            PlaintextMail::Inconclusive(_) => "?",
        }
    }

    /// Plain words for the text report.
    pub fn words(&self) -> String {
        match self {
            PlaintextMail::NotTested => "not tested".into(),
            PlaintextMail::Accepts(d) => format!("accepted ({d})"),
            PlaintextMail::AcceptsSenderOnly(d) => {
                format!("sender accepted, recipient refused ({d})")
            }
            PlaintextMail::Refuses(d) => format!("refused ({d})"),
            PlaintextMail::Inconclusive(d) => format!("inconclusive ({d})"),
        }
    }
}

/// Whether a refusal asks for TLS: `530` (RFC 3207 §4), enhanced status `x.7.10` / `x.7.11`
/// (RFC 5248 "Encryption needed"), or a reply text naming TLS.
fn wants_tls(code: u16, text: &str) -> bool {
    let upper = text.to_ascii_uppercase();
    code == 530
        || upper.starts_with("5.7.10")
        || upper.starts_with("4.7.10")
        || upper.starts_with("5.7.11")
        || upper.contains("TLS")
}

/// Whether a refusal asks for authentication or is a security policy refusal (`x.7.x`,
/// RFC 3463 §3.8; RFC 4954 §6 `530 5.7.0 Authentication required`).
fn wants_auth(code: u16, text: &str) -> bool {
    let upper = text.to_ascii_uppercase();
    code == 530
        || upper.starts_with("5.7.")
        || upper.starts_with("4.7.")
        || upper.contains("AUTH")
        || upper.contains("RELAY")
}

fn reply(code: u16, lines: &[String]) -> String {
    format!("{code} {}", lines.first().map(String::as_str).unwrap_or(""))
}

/// A valid `--rcpt`: `local@domain` with no spaces, control characters or angle brackets.
pub(super) fn valid_rcpt(addr: &str) -> bool {
    let Some((local, domain)) = addr.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && addr.len() <= 254
        && addr
            .chars()
            .all(|c| c.is_ascii_graphic() && c != '<' && c != '>')
}

impl Prober<'_> {
    /// The recipient of the test.
    fn rcpt(&self) -> String {
        self.options
            .rcpt
            .clone()
            .unwrap_or_else(|| format!("postmaster@{}", self.options.name()))
    }

    /// Runs the test on the fresh plaintext `conn`.
    pub(super) fn plaintext_mail(&self, mut conn: Conn, role: SmtpRole) -> PlaintextMail {
        let outcome = self.plaintext_mail_steps(&mut conn, role);
        let _ = conn
            .send(b"RSET\r\n")
            .and_then(|_| conn.smtp_reply().map(drop));
        self.quit(&mut conn);
        outcome
    }

    fn plaintext_mail_steps(&self, conn: &mut Conn, role: SmtpRole) -> PlaintextMail {
        let step = |conn: &mut Conn, command: &str| -> Result<(u16, Vec<String>), String> {
            conn.send(command.as_bytes())
                .and_then(|_| conn.smtp_reply())
                .map_err(|e| format!("{}: {e}", command.trim_end()))
        };
        match conn.smtp_reply() {
            Ok((220, _)) => {}
            Ok((code, lines)) => {
                return PlaintextMail::Inconclusive(format!("greeting {}", reply(code, &lines)));
            }
            Err(e) => return PlaintextMail::Inconclusive(format!("greeting: {e}")),
        }
        match step(conn, "EHLO mailsec-probe.invalid\r\n") {
            Ok((250, _)) => {}
            Ok((code, lines)) => {
                return PlaintextMail::Inconclusive(format!("EHLO {}", reply(code, &lines)));
            }
            Err(e) => return PlaintextMail::Inconclusive(e),
        }
        let refused = |code: u16, lines: &[String]| {
            let text = lines.first().map(String::as_str).unwrap_or("");
            match role {
                SmtpRole::Mx => wants_tls(code, text),
                SmtpRole::Submission => wants_tls(code, text) || wants_auth(code, text),
            }
        };
        let mail = match step(conn, "MAIL FROM:<>\r\n") {
            Ok((code, lines)) if (200..300).contains(&code) => {
                format!("MAIL {}", reply(code, &lines))
            }
            Ok((code, lines)) if refused(code, &lines) => {
                return PlaintextMail::Refuses(format!("MAIL {}", reply(code, &lines)));
            }
            Ok((code, lines)) => {
                return PlaintextMail::Inconclusive(format!("MAIL {}", reply(code, &lines)));
            }
            Err(e) => return PlaintextMail::Inconclusive(e),
        };
        let rcpt = self.rcpt();
        match step(conn, &format!("RCPT TO:<{rcpt}>\r\n")) {
            Ok((code, lines)) if (200..300).contains(&code) => {
                PlaintextMail::Accepts(format!("{mail}; RCPT <{rcpt}> {}", reply(code, &lines)))
            }
            Ok((code, lines)) if refused(code, &lines) => {
                PlaintextMail::Refuses(format!("{mail}; RCPT <{rcpt}> {}", reply(code, &lines)))
            }
            Ok((code, lines)) => PlaintextMail::AcceptsSenderOnly(format!(
                "{mail}; RCPT <{rcpt}> {}",
                reply(code, &lines)
            )),
            Err(e) => PlaintextMail::Inconclusive(format!("{mail}; {e}")),
        }
    }
}

/// Records the findings of `outcome` for a service in `role`.
pub(super) fn record(report: &mut ServiceReport, role: SmtpRole, outcome: PlaintextMail) {
    match (role, &outcome) {
        (SmtpRole::Mx, PlaintextMail::Accepts(d)) => report.add(
            Severity::Info,
            "mx-accepts-plaintext",
            format!(
                "the MX accepts mail without TLS: good, servers that cannot do TLS can still \
                 deliver (RFC 3207 §4) ({d})"
            ),
        ),
        (SmtpRole::Mx, PlaintextMail::AcceptsSenderOnly(d)) => report.add(
            Severity::Info,
            "mx-accepts-plaintext",
            format!(
                "the MX accepts mail without TLS: good, servers that cannot do TLS can still \
                 deliver (RFC 3207 §4); the test recipient was refused, name a real mailbox \
                 with --rcpt to see it accepted ({d})"
            ),
        ),
        (SmtpRole::Mx, PlaintextMail::Refuses(d)) => report.add(
            Severity::Warning,
            "mx-requires-tls",
            format!(
                "the MX refuses mail without TLS: mail from servers that cannot do TLS is \
                 lost; a public MX must not require STARTTLS (RFC 3207 §4): keep TLS optional \
                 on the MX and require it on submission ({d})"
            ),
        ),
        (SmtpRole::Submission, PlaintextMail::Accepts(d)) => report.add(
            Severity::Failure,
            "submission-accepts-plaintext",
            format!(
                "the submission service accepts mail without TLS or authentication: anyone can \
                 submit mail in clear (RFC 6409 §4.3; §6.4 lets a server relax this for \
                 postmaster only: check with --rcpt) ({d})"
            ),
        ),
        (SmtpRole::Submission, PlaintextMail::AcceptsSenderOnly(d)) => report.add(
            Severity::Warning,
            "submission-accepts-plaintext",
            format!(
                "the submission service accepts MAIL without TLS or authentication (the \
                 recipient was refused) ({d})"
            ),
        ),
        (SmtpRole::Submission, PlaintextMail::Refuses(d)) => report.add(
            Severity::Info,
            "submission-refuses-plaintext",
            format!(
                "the submission service refuses mail without TLS or authentication: good ({d})"
            ),
        ),
        (_, PlaintextMail::Inconclusive(d)) => report.add(
            Severity::Info,
            "plaintext-mail-inconclusive",
            format!("the mail-without-TLS test is inconclusive: {d}"),
        ),
        (_, PlaintextMail::NotTested) => {}
    }
    report.plaintext_mail = outcome;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_classes() {
        assert!(wants_tls(530, "5.7.0 Must issue a STARTTLS command first"));
        assert!(wants_tls(554, "5.7.10 Encryption needed"));
        assert!(!wants_tls(550, "5.1.1 <postmaster@x>: user unknown"));
        assert!(!wants_tls(554, "5.7.1 Relay access denied"));
        assert!(wants_auth(554, "5.7.1 Relay access denied"));
        assert!(wants_auth(530, "5.7.0 Authentication required"));
        assert!(!wants_auth(550, "5.1.1 user unknown"));
    }

    #[test]
    fn rcpt_syntax() {
        assert!(valid_rcpt("postmaster@example.com"));
        assert!(!valid_rcpt("postmaster"));
        assert!(!valid_rcpt("a b@example.com"));
        assert!(!valid_rcpt("a@example.com>\r\nDATA"));
        assert!(!valid_rcpt("<a@example.com>"));
    }

    #[test]
    fn smtp_roles_by_name() {
        use super::super::{Protocol::*, TlsMode::*};
        assert_eq!(
            Target::new("smtp", Smtp, StartTls, 2525).smtp_role(),
            Some(SmtpRole::Mx)
        );
        assert_eq!(
            Target::new("submission", Smtp, StartTls, 587).smtp_role(),
            Some(SmtpRole::Submission)
        );
        assert_eq!(
            Target::new("submissions", Smtp, Implicit, 465).smtp_role(),
            None
        );
        assert_eq!(Target::new("imap", Imap, StartTls, 143).smtp_role(), None);
    }
}
