//! Capabilities before and after TLS: what appeared, what disappeared, what changed.
//!
//! A server must forget the plaintext session at STARTTLS and answer the capability request
//! made over TLS afresh: RFC 3207 §4.2 (SMTP: "The server MUST NOT return the STARTTLS
//! extension in response to an EHLO command received after a TLS handshake has completed"),
//! RFC 2595 §3.1 and §4 (IMAP and POP3), RFC 9051 §6.2.1. Authentication appearing only after
//! TLS is what "require secure channel" looks like from outside.

use serde::Serialize;

use super::{Protocol, ServiceReport, Severity};

/// A capability present on both sides of TLS whose parameters differ (`SIZE 10` → `SIZE 20`,
/// `AUTH SCRAM-SHA-256` → `AUTH SCRAM-SHA-256 PLAIN LOGIN`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChangedCapability {
    /// The line before TLS.
    pub before: String,
    /// The line after TLS.
    pub after: String,
}

/// How the capability list changed when TLS started.
///
/// Capabilities are matched by their first word, case-insensitively: the EHLO keyword, the
/// IMAP capability atom (`AUTH=PLAIN` is its own atom), the POP3 CAPA tag.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CapabilityDiff {
    /// Present after TLS only, in the order the server listed them.
    pub appeared: Vec<String>,
    /// Present before TLS only, in the order the server listed them.
    pub disappeared: Vec<String>,
    /// Present on both sides with different parameters.
    pub changed: Vec<ChangedCapability>,
}

fn key(capability: &str) -> String {
    capability
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_uppercase()
}

impl CapabilityDiff {
    /// The difference from `before` (plaintext) to `after` (over TLS).
    pub fn between(before: &[String], after: &[String]) -> CapabilityDiff {
        let find =
            |list: &[String], k: &str| -> Option<usize> { list.iter().position(|c| key(c) == k) };
        let mut diff = CapabilityDiff::default();
        for a in after {
            match find(before, &key(a)) {
                None => diff.appeared.push(a.clone()),
                Some(i) if !before[i].eq_ignore_ascii_case(a) => {
                    diff.changed.push(ChangedCapability {
                        before: before[i].clone(),
                        after: a.clone(),
                    })
                }
                Some(_) => {}
            }
        }
        for b in before {
            if find(after, &key(b)).is_none() {
                diff.disappeared.push(b.clone());
            }
        }
        diff
    }

    /// Whether the lists are the same (possibly a list cached from the plaintext session).
    pub fn is_unchanged(&self) -> bool {
        self.appeared.is_empty() && self.disappeared.is_empty() && self.changed.is_empty()
    }

    /// One line: `+AUTH PLAIN LOGIN, -STARTTLS, ~SIZE 10 => SIZE 20`, or `unchanged`.
    pub fn summary(&self) -> String {
        if self.is_unchanged() {
            return "unchanged".into();
        }
        let mut parts: Vec<String> = Vec::new();
        parts.extend(self.appeared.iter().map(|c| format!("+{c}")));
        parts.extend(self.disappeared.iter().map(|c| format!("-{c}")));
        parts.extend(
            self.changed
                .iter()
                .map(|c| format!("~{} => {}", c.before, c.after)),
        );
        parts.join(", ")
    }
}

/// Whether `capability` offers authentication in `protocol` (SMTP `AUTH`, IMAP `AUTH=`,
/// POP3 `USER` / `SASL`).
fn is_auth(protocol: Protocol, capability: &str) -> bool {
    let k = key(capability);
    match protocol {
        Protocol::Smtp => k == "AUTH" || k.starts_with("AUTH="),
        Protocol::Imap => k.starts_with("AUTH="),
        Protocol::Pop3 => k == "USER" || k == "SASL",
    }
}

/// Compares the capabilities of a STARTTLS service before and after TLS and records the
/// findings: STARTTLS still advertised over TLS (warning), authentication offered only after
/// TLS (note). An unchanged list is shown in the diff, not counted as a finding.
pub(super) fn record(report: &mut ServiceReport) {
    if report.capabilities_before_tls.is_empty() || report.capabilities_after_tls.is_empty() {
        return;
    }
    let protocol = report.target.protocol;
    let diff = CapabilityDiff::between(
        &report.capabilities_before_tls,
        &report.capabilities_after_tls,
    );
    if report
        .capabilities_after_tls
        .iter()
        .any(|c| matches!(key(c).as_str(), "STARTTLS" | "STLS"))
    {
        report.add(
            Severity::Warning,
            "starttls-after-tls",
            "STARTTLS is still advertised after TLS started: the server answers from the \
             plaintext session's capability list instead of starting afresh (RFC 3207 §4.2, \
             RFC 2595 §3.1)",
        );
    }
    let auth_before = report
        .capabilities_before_tls
        .iter()
        .any(|c| is_auth(protocol, c));
    let auth_after = report
        .capabilities_after_tls
        .iter()
        .any(|c| is_auth(protocol, c));
    let imap_login_opened =
        protocol == Protocol::Imap && diff.disappeared.iter().any(|c| key(c) == "LOGINDISABLED");
    if (auth_after && !auth_before) || imap_login_opened {
        report.add(
            Severity::Info,
            "auth-after-tls",
            "authentication is offered only after TLS: good",
        );
    }
    report.capability_diff = Some(diff);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn diff_by_first_word() {
        let before = list(&["PIPELINING", "SIZE 10", "STARTTLS", "8BITMIME"]);
        let after = list(&["pipelining", "SIZE 20", "AUTH PLAIN LOGIN", "8BITMIME"]);
        let diff = CapabilityDiff::between(&before, &after);
        assert_eq!(diff.appeared, list(&["AUTH PLAIN LOGIN"]));
        assert_eq!(diff.disappeared, list(&["STARTTLS"]));
        assert_eq!(
            diff.changed,
            vec![ChangedCapability {
                before: "SIZE 10".into(),
                after: "SIZE 20".into()
            }]
        );
        assert_eq!(
            diff.summary(),
            "+AUTH PLAIN LOGIN, -STARTTLS, ~SIZE 10 => SIZE 20"
        );
        let same = CapabilityDiff::between(&before, &before);
        assert!(same.is_unchanged());
        assert_eq!(same.summary(), "unchanged");
    }

    #[test]
    fn imap_atoms_are_their_own_keys() {
        let before = list(&["IMAP4rev1", "STARTTLS", "LOGINDISABLED"]);
        let after = list(&["IMAP4rev1", "AUTH=PLAIN", "AUTH=SCRAM-SHA-256"]);
        let diff = CapabilityDiff::between(&before, &after);
        assert_eq!(diff.appeared, list(&["AUTH=PLAIN", "AUTH=SCRAM-SHA-256"]));
        assert_eq!(diff.disappeared, list(&["STARTTLS", "LOGINDISABLED"]));
        assert!(diff.changed.is_empty());
    }
}
