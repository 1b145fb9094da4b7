//! The example server's users file, and the SASL [`Authenticator`] over it.
//!
//! # Format
//!
//! One credential per line, `name:scheme:secret`; blank lines and lines starting with `#`
//! (after leading spaces) are ignored. The name is everything before the first `:`, the scheme
//! everything up to the second, the secret the rest of the line (it may contain `:`).
//!
//! ```text
//! # name:scheme:secret
//! alice:argon2:$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$...
//! alice:scram-sha-256:SCRAM-SHA-256$8192:c2FsdA==$...:...
//! demo:plain:not-a-real-password
//! ```
//!
//! Schemes (case-insensitive):
//!
//! - `argon2`: an Argon2 PHC string (`$argon2id$v=19$...`), verified for PLAIN and LOGIN.
//! - `scram-sha-256`: the RFC 5803 §3 form written by
//!   [`ScramStored::to_rfc5803`]; serves SCRAM-SHA-256, and PLAIN/LOGIN too (the password is
//!   put through PBKDF2 with the stored salt and compared with the stored key).
//! - `plain`: the password itself. For demonstrations only: whoever reads the file has the
//!   password. Loading one produces a warning ([`Users::warnings`]). A plain user can also use
//!   SCRAM: its SCRAM keys are derived at load time with a random salt.
//!
//! A user may have one line per scheme (e.g. `argon2` for PLAIN and `scram-sha-256` for SCRAM);
//! a second line with the same name and scheme is an error. A user with only an `argon2` line
//! cannot use SCRAM-SHA-256: SCRAM needs keys derived with PBKDF2-HMAC-SHA-256, which an Argon2
//! hash cannot give; such a user's SCRAM attempts fail like a wrong password. Write both lines
//! with [`hash_password_line`] for both schemes.
//!
//! The SASL mechanisms the listeners offer follow from the file: see [`Users::mechanisms`]
//! (SCRAM-SHA-256 only when every user has SCRAM keys).
//!
//! Passwords are compared after SASLprep (RFC 4013), as RFC 4616 §2 asks. Secrets in `plain`
//! lines are compared through SHA-256 digests in constant time. Name lookups are exact
//! (case-sensitive).

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use mailsec_tls::sasl::{
    Authenticator, CheckAnswer, CredentialCheck, ExposeSecret, MIN_ITERATIONS, Mechanism,
    SaslError, ScramStored, SecretString, saslprep,
};
use sha2::{Digest, Sha256};

/// Longest users-file line accepted, in octets.
pub const MAX_LINE_LEN: usize = 4096;
/// Largest Argon2 memory cost accepted from the file, in KiB (256 MiB): a typo must not make
/// every login allocate gigabytes.
pub const MAX_ARGON2_M_COST: u32 = 256 * 1024;
/// Largest Argon2 time cost accepted from the file.
pub const MAX_ARGON2_T_COST: u32 = 16;

/// Every SASL mechanism a users file can serve, strongest first (the order they are
/// advertised in). Which of them a server offers is [`Users::mechanisms`].
pub const MECHANISMS: [Mechanism; 3] = [Mechanism::ScramSha256, Mechanism::Plain, Mechanism::Login];

/// A credential scheme of the users file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scheme {
    /// The password in clear (demonstrations only).
    Plain,
    /// An Argon2 PHC string.
    Argon2,
    /// RFC 5803 SCRAM-SHA-256 stored keys.
    ScramSha256,
}

impl Scheme {
    /// The name written in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Plain => "plain",
            Scheme::Argon2 => "argon2",
            Scheme::ScramSha256 => "scram-sha-256",
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Scheme {
    type Err = UsersError;
    fn from_str(s: &str) -> Result<Self, UsersError> {
        match s.to_ascii_lowercase().as_str() {
            "plain" => Ok(Scheme::Plain),
            "argon2" => Ok(Scheme::Argon2),
            "scram-sha-256" => Ok(Scheme::ScramSha256),
            _ => Err(UsersError::UnknownScheme(s.to_owned())),
        }
    }
}

/// What is wrong with one line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LineProblem {
    /// Not `name:scheme:secret`.
    #[error("expected name:scheme:secret")]
    MissingField,
    /// The name is empty, too long or has characters a mailbox name cannot have (see
    /// [`crate::maildir::validate_user`]).
    #[error("invalid user name")]
    BadName,
    /// The scheme is not one of `plain`, `argon2`, `scram-sha-256`.
    #[error("unknown scheme {0:?}")]
    UnknownScheme(String),
    /// The secret does not parse for its scheme.
    #[error("bad {scheme} secret: {reason}")]
    BadSecret {
        /// The scheme.
        scheme: Scheme,
        /// Why.
        reason: String,
    },
    /// The same user and scheme appear twice.
    #[error("second {0} entry for this user")]
    Duplicate(Scheme),
    /// The line is longer than [`MAX_LINE_LEN`].
    #[error("line too long")]
    TooLong,
}

/// Errors of the users file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UsersError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A line is wrong (1-based line number).
    #[error("line {line}: {problem}")]
    Line {
        /// The line number, from 1.
        line: usize,
        /// What is wrong.
        problem: LineProblem,
    },
    /// A scheme name given to [`hash_password_line`] is unknown.
    #[error("unknown scheme {0:?} (plain, argon2, scram-sha-256)")]
    UnknownScheme(String),
    /// Hashing a password failed.
    #[error("cannot hash the password: {0}")]
    Hash(String),
}

/// What is stored for one user.
#[derive(Clone, Default)]
pub struct UserEntry {
    plain: Option<SecretString>,
    argon2: Option<String>,
    scram: Option<ScramStored>,
}

impl fmt::Debug for UserEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserEntry")
            .field("plain", &self.plain.is_some())
            .field("argon2", &self.argon2.is_some())
            .field("scram", &self.scram.is_some())
            .finish()
    }
}

impl UserEntry {
    /// Whether the user can authenticate with SCRAM-SHA-256.
    pub fn has_scram(&self) -> bool {
        self.scram.is_some()
    }

    /// The SCRAM-SHA-256 keys, if any.
    pub fn scram(&self) -> Option<&ScramStored> {
        self.scram.as_ref()
    }

    /// The schemes this user has lines for (a `plain` user's derived SCRAM keys are not a line).
    pub fn schemes(&self) -> Vec<Scheme> {
        let mut v = Vec::new();
        if self.plain.is_some() {
            v.push(Scheme::Plain);
        }
        if self.argon2.is_some() {
            v.push(Scheme::Argon2);
        }
        if self.scram.is_some() && self.plain.is_none() {
            v.push(Scheme::ScramSha256);
        }
        v
    }
}

/// The users of the server, loaded from a users file.
#[derive(Clone, Debug, Default)]
pub struct Users {
    users: HashMap<String, UserEntry>,
    warnings: Vec<String>,
    /// A user whose credentials are checked (result ignored) for unknown names, so that a
    /// PLAIN attempt for an unknown name costs about as much as one for a known name: the
    /// first user with an Argon2 hash, else the first user.
    decoy: Option<String>,
    argon2_decoy: Option<String>,
}

/// SHA-256 of a SASLprepped secret, or `None` when it does not prepare.
fn prepared_digest(secret: &str) -> Option<[u8; 32]> {
    let prepared = saslprep(secret).ok()?;
    Some(Sha256::digest(prepared.as_bytes()).into())
}

/// Compares two digests without an early exit.
fn ct_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let diff = a
        .iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

fn argon2_verify(phc: &str, password: &str) -> bool {
    let Ok(prepared) = saslprep(password) else {
        return false;
    };
    let Ok(hash) = PasswordHash::new(phc) else {
        return false;
    };
    Argon2::default()
        .verify_password(prepared.as_bytes(), &hash)
        .is_ok()
}

/// Checks a PHC string from the file: Argon2, parseable, costs within bounds.
fn check_argon2(phc: &str) -> Result<(), String> {
    let hash = PasswordHash::new(phc).map_err(|e| e.to_string())?;
    if !hash.algorithm.as_str().starts_with("argon2") {
        return Err(format!("algorithm {} is not Argon2", hash.algorithm));
    }
    let params = argon2::Params::try_from(&hash).map_err(|e| e.to_string())?;
    if params.m_cost() > MAX_ARGON2_M_COST || params.t_cost() > MAX_ARGON2_T_COST {
        return Err("cost parameters too high".to_owned());
    }
    if hash.hash.is_none() || hash.salt.is_none() {
        return Err("no salt or hash".to_owned());
    }
    Ok(())
}

impl Users {
    /// Reads and parses a users file.
    pub fn load(path: &Path) -> Result<Users, UsersError> {
        let text = std::fs::read_to_string(path).map_err(|source| UsersError::Io {
            path: path.to_owned(),
            source,
        })?;
        Users::parse(&text)
    }

    /// Parses the text of a users file (see the [module docs](self)).
    pub fn parse(text: &str) -> Result<Users, UsersError> {
        let mut users = Users::default();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let err = |problem| UsersError::Line { line, problem };
            if raw.len() > MAX_LINE_LEN {
                return Err(err(LineProblem::TooLong));
            }
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let mut fields = trimmed.splitn(3, ':');
            let (Some(name), Some(scheme), Some(secret)) =
                (fields.next(), fields.next(), fields.next())
            else {
                return Err(err(LineProblem::MissingField));
            };
            if crate::maildir::validate_user(name).is_err() {
                return Err(err(LineProblem::BadName));
            }
            let scheme: Scheme = scheme
                .parse()
                .map_err(|_| err(LineProblem::UnknownScheme(scheme.to_owned())))?;
            let bad = |reason: String| err(LineProblem::BadSecret { scheme, reason });
            if secret.is_empty() {
                return Err(bad("empty".to_owned()));
            }
            users.decoy.get_or_insert_with(|| name.to_owned());
            let entry = users.users.entry(name.to_owned()).or_default();
            match scheme {
                Scheme::Plain => {
                    if entry.plain.is_some() {
                        return Err(err(LineProblem::Duplicate(scheme)));
                    }
                    if entry.scram.is_some() {
                        // The derived keys would replace the stored ones.
                        return Err(err(LineProblem::Duplicate(Scheme::ScramSha256)));
                    }
                    saslprep(secret).map_err(|e| bad(e.to_string()))?;
                    let derived = ScramStored::derive_with_random_salt(secret, MIN_ITERATIONS)
                        .map_err(|e| bad(e.to_string()))?;
                    entry.plain = Some(SecretString::from(secret.to_owned()));
                    entry.scram = Some(derived);
                    users.warnings.push(format!(
                        "line {line}: user {name:?} has a plain-text password (demonstrations only)"
                    ));
                }
                Scheme::Argon2 => {
                    if entry.argon2.is_some() {
                        return Err(err(LineProblem::Duplicate(scheme)));
                    }
                    check_argon2(secret).map_err(bad)?;
                    entry.argon2 = Some(secret.to_owned());
                    users.argon2_decoy.get_or_insert_with(|| name.to_owned());
                }
                Scheme::ScramSha256 => {
                    if entry.scram.is_some() {
                        return Err(err(LineProblem::Duplicate(scheme)));
                    }
                    let stored =
                        ScramStored::from_rfc5803(secret).map_err(|e| bad(e.to_string()))?;
                    entry.scram = Some(stored);
                }
            }
        }
        Ok(users)
    }

    /// Warnings about the loaded file (plain-text passwords), for the operator.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The number of users.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether there are no users.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// The entry of `name`.
    pub fn get(&self, name: &str) -> Option<&UserEntry> {
        self.users.get(name)
    }

    /// Whether every user can authenticate with SCRAM-SHA-256 (a `scram-sha-256` or `plain`
    /// line); true for a file without users.
    pub fn all_have_scram(&self) -> bool {
        self.users.values().all(UserEntry::has_scram)
    }

    /// The users that cannot use SCRAM-SHA-256 (only an `argon2` line), sorted: why
    /// [`Users::mechanisms`] leaves SCRAM out, for the operator.
    pub fn without_scram(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .users
            .iter()
            .filter(|(_, entry)| !entry.has_scram())
            .map(|(name, _)| name.as_str())
            .collect();
        names.sort_unstable();
        names
    }

    /// The SASL mechanisms the server's listeners offer for these users, strongest first:
    /// SCRAM-SHA-256 only when [every user can use it](Users::all_have_scram), then PLAIN and
    /// LOGIN always (over TLS, or in clear under `--allow-plaintext-auth`: the listener's policy
    /// decides that, not this list).
    ///
    /// Why all-or-nothing: a server announces its mechanisms before the client has named a
    /// user (the EHLO `AUTH` keyword, RFC 4954 §3; IMAP `CAPABILITY` `AUTH=`, RFC 3501 §6.1.1 /
    /// RFC 9051 §6.1.1; POP3 `CAPA` `SASL`, RFC 5034 §3), so the list cannot depend on who
    /// logs in. A client picks from it, typically the strongest it knows (mailsec's does:
    /// SCRAM-SHA-256 first), and a user with only an Argon2 hash cannot do SCRAM (no PBKDF2
    /// keys): the exchange fails with `535` / `NO` / `-ERR` like a wrong password, and a client
    /// seldom tries another mechanism after that (mailsec's does not). Offering SCRAM whenever one user has keys would
    /// lock the Argon2 users out; leaving it out when one user lacks keys costs the SCRAM users
    /// only the mechanism (they log in with PLAIN or LOGIN over TLS). Give every user a
    /// `scram-sha-256` line to have SCRAM offered.
    ///
    /// The users file is read once at start (there is no reload); a server that reloaded it
    /// would rebuild its listeners' configurations from the new [`Users`], so that the
    /// advertisement follows.
    pub fn mechanisms(&self) -> Vec<Mechanism> {
        MECHANISMS
            .into_iter()
            .filter(|m| *m != Mechanism::ScramSha256 || self.all_have_scram())
            .collect()
    }

    /// Whether `password` is `name`'s password (PLAIN, LOGIN, POP3 `USER`/`PASS`). Checks the
    /// Argon2 hash if there is one, else the plain secret, else the SCRAM keys. An unknown name
    /// costs one check of another user's credentials (an Argon2 one when the file has any), so
    /// that timing tells little about which names exist.
    pub fn verify_password(&self, name: &str, password: &str) -> bool {
        match self.users.get(name) {
            Some(entry) => check_entry(entry, password),
            None => {
                let decoy = self.argon2_decoy.as_ref().or(self.decoy.as_ref());
                if let Some(entry) = decoy.and_then(|d| self.users.get(d)) {
                    let _ = std::hint::black_box(check_entry(entry, password));
                }
                false
            }
        }
    }
}

/// Checks a password against one user's credentials (see [`Users::verify_password`]).
fn check_entry(entry: &UserEntry, password: &str) -> bool {
    if let Some(phc) = &entry.argon2 {
        return argon2_verify(phc, password);
    }
    if let Some(plain) = &entry.plain {
        return match (
            prepared_digest(plain.expose_secret()),
            prepared_digest(password),
        ) {
            (Some(a), Some(b)) => ct_eq(&a, &b),
            _ => false,
        };
    }
    if let Some(stored) = &entry.scram {
        return ScramStored::derive(password, stored.salt(), stored.iterations())
            .map(|d| {
                // Equal salt and count: equal keys iff equal (prepared) passwords.
                let a = Sha256::digest(d.stored_key()).into();
                let b = Sha256::digest(stored.stored_key()).into();
                ct_eq(&a, &b)
            })
            .unwrap_or(false);
    }
    false
}

impl Authenticator for Users {
    /// PLAIN/LOGIN through [`Users::verify_password`], SCRAM-SHA-256 from the stored keys.
    /// Bearer tokens and acting as another user (`Authorize`) are refused.
    fn check(&self, check: &CredentialCheck) -> CheckAnswer {
        match check {
            CredentialCheck::Password {
                authcid, password, ..
            } => {
                if self.verify_password(authcid, password.expose_secret()) {
                    CheckAnswer::Accept
                } else {
                    CheckAnswer::Reject
                }
            }
            CredentialCheck::ScramLookup { authcid, .. } => {
                CheckAnswer::ScramCredentials(self.users.get(authcid).and_then(|u| u.scram.clone()))
            }
            _ => CheckAnswer::Reject,
        }
    }
}

/// Hashes `password` for `scheme` with today's default costs (Argon2id m=19 MiB t=2 p=1,
/// SCRAM [`mailsec_tls::sasl::DEFAULT_ITERATIONS`]) and returns the users-file line
/// `user:scheme:secret`, for a `hash-password` subcommand to print.
pub fn hash_password_line(
    user: &str,
    scheme: Scheme,
    password: &str,
) -> Result<String, UsersError> {
    hash_password_line_with(
        user,
        scheme,
        password,
        argon2::Params::default(),
        mailsec_tls::sasl::DEFAULT_ITERATIONS,
    )
}

/// [`hash_password_line`] with explicit costs (tests use cheap ones).
pub fn hash_password_line_with(
    user: &str,
    scheme: Scheme,
    password: &str,
    argon2_params: argon2::Params,
    scram_iterations: u32,
) -> Result<String, UsersError> {
    let hash_err = |e: &dyn fmt::Display| UsersError::Hash(e.to_string());
    if crate::maildir::validate_user(user).is_err() {
        return Err(UsersError::Line {
            line: 0,
            problem: LineProblem::BadName,
        });
    }
    let prepared = saslprep(password).map_err(|e: SaslError| hash_err(&e))?;
    if prepared.is_empty() {
        return Err(UsersError::Hash("empty password".to_owned()));
    }
    let secret = match scheme {
        Scheme::Plain => {
            if password.contains(['\r', '\n']) {
                return Err(UsersError::Hash("line break in password".to_owned()));
            }
            password.to_owned()
        }
        Scheme::Argon2 => {
            let argon = Argon2::new(
                argon2::Algorithm::Argon2id,
                argon2::Version::V0x13,
                argon2_params,
            );
            argon
                .hash_password(prepared.as_bytes())
                .map_err(|e| hash_err(&e))?
                .to_string()
        }
        Scheme::ScramSha256 => ScramStored::derive_with_random_salt(password, scram_iterations)
            .map_err(|e| hash_err(&e))?
            .to_rfc5803(),
    };
    Ok(format!("{user}:{scheme}:{secret}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailsec_tls::sasl::{
        ClientExchange, Credentials, Identity, Mechanism, ServerExchange, ServerStep,
    };

    /// Cheap Argon2 costs for tests (8 KiB, 1 pass).
    fn cheap() -> argon2::Params {
        argon2::Params::new(8, 1, 1, None).unwrap()
    }

    fn line(user: &str, scheme: Scheme, password: &str) -> String {
        hash_password_line_with(user, scheme, password, cheap(), MIN_ITERATIONS).unwrap()
    }

    fn line_err(text: &str) -> (usize, LineProblem) {
        match Users::parse(text) {
            Err(UsersError::Line { line, problem }) => (line, problem),
            other => panic!("expected a line error, got {other:?}"),
        }
    }

    #[test]
    fn parse_errors_name_the_line() {
        assert_eq!(
            line_err("# comment\n\nalice\n"),
            (3, LineProblem::MissingField)
        );
        assert_eq!(line_err("alice:plain\n"), (1, LineProblem::MissingField));
        assert_eq!(line_err("\n../x:plain:pw\n"), (2, LineProblem::BadName));
        assert_eq!(line_err(":plain:pw\n"), (1, LineProblem::BadName));
        assert_eq!(
            line_err("a:md5:xyz\n"),
            (1, LineProblem::UnknownScheme("md5".into()))
        );
        assert!(matches!(
            line_err("a:argon2:$argon2id$garbage\n"),
            (
                1,
                LineProblem::BadSecret {
                    scheme: Scheme::Argon2,
                    ..
                }
            )
        ));
        assert!(matches!(
            line_err("a:scram-sha-256:SCRAM-SHA-256$1:AA==$x:y\n"),
            (
                1,
                LineProblem::BadSecret {
                    scheme: Scheme::ScramSha256,
                    ..
                }
            )
        ));
        assert!(matches!(
            line_err("a:plain:\n"),
            (1, LineProblem::BadSecret { .. })
        ));
        assert_eq!(
            line_err("a:plain:x\n# c\na:plain:y\n"),
            (3, LineProblem::Duplicate(Scheme::Plain))
        );
        let long = format!("a:plain:{}\n", "x".repeat(MAX_LINE_LEN));
        assert_eq!(line_err(&long), (1, LineProblem::TooLong));
        // An Argon2 hash whose costs would make every login allocate gigabytes.
        let huge = "a:argon2:$argon2id$v=19$m=4194304,t=2,p=1$c2FsdHNhbHRzYWx0$\
                    YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXoxMjM0NTY\n";
        assert!(matches!(line_err(huge), (1, LineProblem::BadSecret { .. })));
        // The same hash with today's default cost loads: the cost alone was refused.
        assert!(Users::parse(&huge.replace("m=4194304", "m=19456")).is_ok());
    }

    #[test]
    fn comments_blank_lines_and_colons_in_secrets() {
        let users = Users::parse("  # header\n\n demo:PLAIN:pass:with:colons \n").unwrap();
        assert_eq!(users.len(), 1);
        assert!(users.verify_password("demo", "pass:with:colons"));
        assert_eq!(users.warnings().len(), 1);
        assert!(users.warnings()[0].contains("line 3"));
    }

    #[test]
    fn argon2_plain_verification() {
        let text = line("alice", Scheme::Argon2, "correct horse");
        assert!(text.starts_with("alice:argon2:$argon2id$v=19$"));
        let users = Users::parse(&text).unwrap();
        assert!(users.warnings().is_empty());
        assert!(users.verify_password("alice", "correct horse"));
        assert!(!users.verify_password("alice", "correct horse "));
        assert!(!users.verify_password("alice", ""));
        assert!(!users.verify_password("bob", "correct horse"));
        assert!(!users.get("alice").unwrap().has_scram());

        // Through the SASL exchange, PLAIN and LOGIN.
        assert_eq!(
            plain(&users, "alice", "correct horse").unwrap().authcid,
            "alice"
        );
        assert!(plain(&users, "alice", "wrong").is_none());
        assert!(plain(&users, "mallory", "correct horse").is_none());
        assert!(login(&users, "alice", "correct horse"));
        assert!(!login(&users, "alice", "nope"));
        // No SCRAM keys: SCRAM fails like a wrong password.
        assert!(scram(&users, "alice", "correct horse").is_none());
    }

    #[test]
    fn saslprep_applies_before_comparing() {
        // U+00AD (soft hyphen) is mapped to nothing by SASLprep.
        let users = Users::parse(&line("alice", Scheme::Argon2, "pass\u{AD}word")).unwrap();
        assert!(users.verify_password("alice", "password"));
        let users = Users::parse("bob:plain:pass\u{AD}word\n").unwrap();
        assert!(users.verify_password("bob", "password"));
        assert!(!users.verify_password("bob", "passwor"));
    }

    fn plain(users: &Users, user: &str, password: &str) -> Option<Identity> {
        let mut client =
            ClientExchange::new(Mechanism::Plain, Credentials::password(user, password)).unwrap();
        let mut server = ServerExchange::new(Mechanism::Plain);
        let ir = client.initial_response().unwrap().unwrap();
        match server.start_with(Some(ir.expose_secret()), users) {
            ServerStep::Success { identity, .. } => Some(identity),
            ServerStep::Failure(SaslError::AuthenticationFailed) => None,
            other => panic!("unexpected {other:?}"),
        }
    }

    fn login(users: &Users, user: &str, password: &str) -> bool {
        let mut client =
            ClientExchange::new(Mechanism::Login, Credentials::password(user, password)).unwrap();
        let mut server = ServerExchange::new(Mechanism::Login);
        let mut step = server.start_with(None, users);
        loop {
            match step {
                ServerStep::Challenge(c) => {
                    let r = client.step(&c).unwrap();
                    step = server.respond_with(r.expose_secret(), users);
                }
                ServerStep::Success { .. } => return true,
                ServerStep::Failure(SaslError::AuthenticationFailed) => return false,
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    /// A real SCRAM-SHA-256 exchange, both sides, with the server's signature checked.
    fn scram(users: &Users, user: &str, password: &str) -> Option<Identity> {
        let mut client = ClientExchange::new(
            Mechanism::ScramSha256,
            Credentials::password(user, password),
        )
        .unwrap();
        let mut server = ServerExchange::new(Mechanism::ScramSha256);
        let first = client.initial_response().unwrap().unwrap();
        let ServerStep::Challenge(server_first) =
            server.start_with(Some(first.expose_secret()), users)
        else {
            panic!("expected the server-first message");
        };
        let client_final = client.step(&server_first).unwrap();
        match server.respond_with(client_final.expose_secret(), users) {
            ServerStep::Success {
                identity,
                additional_data,
            } => {
                client.finish(additional_data.as_deref()).unwrap();
                assert!(client.is_done());
                Some(identity)
            }
            ServerStep::Failure(SaslError::AuthenticationFailed) => None,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn scram_against_the_store() {
        let text = format!(
            "{}\n{}\n",
            line("alice", Scheme::ScramSha256, "pencil"),
            line("alice", Scheme::Argon2, "pencil"),
        );
        let users = Users::parse(&text).unwrap();
        assert!(users.get("alice").unwrap().has_scram());
        assert_eq!(
            users.get("alice").unwrap().schemes(),
            [Scheme::Argon2, Scheme::ScramSha256]
        );
        assert_eq!(scram(&users, "alice", "pencil").unwrap().authcid, "alice");
        assert!(scram(&users, "alice", "pen").is_none());
        assert!(scram(&users, "nobody", "pencil").is_none());
        assert!(plain(&users, "alice", "pencil").is_some());
    }

    #[test]
    fn scram_only_user_can_use_plain_too() {
        let users = Users::parse(&line("carol", Scheme::ScramSha256, "s3cret")).unwrap();
        assert!(users.verify_password("carol", "s3cret"));
        assert!(!users.verify_password("carol", "s3cret!"));
        assert!(login(&users, "carol", "s3cret"));
    }

    #[test]
    fn plain_user_serves_every_mechanism_with_a_warning() {
        let users = Users::parse("demo:plain:demo-pass\n").unwrap();
        assert_eq!(users.warnings().len(), 1);
        assert!(plain(&users, "demo", "demo-pass").is_some());
        assert!(plain(&users, "demo", "demo-pas").is_none());
        assert!(scram(&users, "demo", "demo-pass").is_some());
        assert!(scram(&users, "demo", "x").is_none());
        // A second SCRAM line would conflict with the derived keys.
        let both = format!("demo:plain:x\n{}\n", line("demo", Scheme::ScramSha256, "x"));
        assert_eq!(
            line_err(&both),
            (2, LineProblem::Duplicate(Scheme::ScramSha256))
        );
    }

    #[test]
    fn acting_as_another_user_and_tokens_are_refused() {
        let users = Users::parse("a:plain:pw\nb:plain:pw2\n").unwrap();
        let creds = Credentials::password("a", "pw").with_authzid("b");
        let mut client = ClientExchange::new(Mechanism::Plain, creds).unwrap();
        let mut server = ServerExchange::new(Mechanism::Plain);
        let ir = client.initial_response().unwrap().unwrap();
        assert!(matches!(
            server.start_with(Some(ir.expose_secret()), &users),
            ServerStep::Failure(SaslError::AuthenticationFailed)
        ));
        let creds = Credentials::bearer_token("a", "pw");
        let mut client = ClientExchange::new(Mechanism::XOAuth2, creds).unwrap();
        let mut server = ServerExchange::new(Mechanism::XOAuth2);
        let ir = client.initial_response().unwrap().unwrap();
        assert!(matches!(
            server.start_with(Some(ir.expose_secret()), &users),
            ServerStep::Challenge(_)
        ));
    }

    #[test]
    fn scram_is_offered_only_when_every_user_has_keys() {
        use Mechanism::{Login, Plain, ScramSha256};
        let argon_alice = line("alice", Scheme::Argon2, "pw");
        let scram_alice = line("alice", Scheme::ScramSha256, "pw");
        let argon_bob = line("bob", Scheme::Argon2, "pw");
        let scram_bob = line("bob", Scheme::ScramSha256, "pw");
        let cases: [(String, &[Mechanism], &[&str]); 7] = [
            (String::new(), &MECHANISMS, &[]),
            ("demo:plain:x\n".into(), &MECHANISMS, &[]),
            (scram_alice.clone(), &MECHANISMS, &[]),
            (argon_alice.clone(), &[Plain, Login], &["alice"]),
            // Both lines for alice, a plain bob: everyone has SCRAM keys.
            (
                format!("{argon_alice}\n{scram_alice}\nbob:plain:y\n"),
                &[ScramSha256, Plain, Login],
                &[],
            ),
            // One Argon2-only user is enough to leave SCRAM out for everyone.
            (
                format!("{argon_alice}\n{scram_alice}\n{argon_bob}\n"),
                &[Plain, Login],
                &["bob"],
            ),
            (
                format!("{argon_bob}\n{argon_alice}\n{scram_bob}\n"),
                &[Plain, Login],
                &["alice"],
            ),
        ];
        for (text, mechanisms, without) in cases {
            let users = Users::parse(&text).unwrap();
            assert_eq!(users.mechanisms(), mechanisms, "{text}");
            assert_eq!(users.all_have_scram(), without.is_empty(), "{text}");
            assert_eq!(users.without_scram(), without, "{text}");
        }
        let two = Users::parse(&format!("{argon_bob}\n{argon_alice}\n")).unwrap();
        assert_eq!(two.without_scram(), ["alice", "bob"]);
    }

    #[test]
    fn hash_line_refuses_bad_input_and_round_trips() {
        assert!(hash_password_line_with("../x", Scheme::Argon2, "pw", cheap(), 4096).is_err());
        assert!(hash_password_line_with("a", Scheme::Plain, "", cheap(), 4096).is_err());
        assert!(hash_password_line_with("a", Scheme::Plain, "x\ny", cheap(), 4096).is_err());
        assert!(matches!(
            "md5".parse::<Scheme>(),
            Err(UsersError::UnknownScheme(_))
        ));
        assert_eq!(
            "SCRAM-SHA-256".parse::<Scheme>().unwrap(),
            Scheme::ScramSha256
        );
        for scheme in [Scheme::Plain, Scheme::Argon2, Scheme::ScramSha256] {
            let text = line("round", scheme, "trip");
            let users = Users::parse(&text).unwrap();
            assert!(users.verify_password("round", "trip"), "{scheme}");
            assert!(!users.verify_password("round", "trap"), "{scheme}");
        }
    }
}
