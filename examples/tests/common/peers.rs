//! Real mail servers for interop tests: Dovecot (POP3/IMAP) and Postfix (SMTP), each started on
//! loopback with a certificate from a [`TestPki`] and a private directory, and stopped on drop.
//!
//! `scripts/test` installs the Debian packages and allows Postfix's private configuration
//! directory ([`POSTFIX_DIR`]); under `CI=true` a missing peer fails the test instead of skipping.

#![allow(dead_code)] // each test binary uses a part of this module

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mailsec_tls::testing::{TestPki, Validity};

/// Whether `program` can run here; under `CI=true` its absence fails the calling test.
pub fn available(program: &str, args: &[&str]) -> bool {
    let found = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        assert!(
            std::env::var("CI").is_err(),
            "{program} is required under CI (scripts/test installs it)"
        );
        eprintln!("{program} not found: interop test not run");
    }
    found
}

/// A free loopback port (bound then released; good enough for tests on one machine).
pub fn free_port() -> u16 {
    let [port] = free_ports();
    port
}

/// `N` distinct free loopback ports. All `N` listeners stay bound until every port is chosen:
/// releasing each before binding the next lets the kernel hand the same port out twice, which
/// once gave Dovecot two listeners on one port ("duplicate listener").
pub fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: Vec<TcpListener> = (0..N)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("free port"))
        .collect();
    std::array::from_fn(|i| listeners[i].local_addr().expect("local addr").port())
}

/// Waits until something listens on `port`.
pub fn wait_for_port(port: u16, what: &str, log: &Path) {
    if !port_opens(port, None) {
        let log = std::fs::read_to_string(log).unwrap_or_default();
        panic!("{what} did not listen on {port}; its log:\n{log}");
    }
}

/// Whether something listens on `port` within 20 s; gives up early when `child` exits first.
fn port_opens(port: u16, mut child: Option<&mut Child>) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        if let Some(child) = child.as_deref_mut()
            && !matches!(child.try_wait(), Ok(None))
        {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

fn fresh_dir(path: &Path) {
    let _ = std::fs::remove_dir_all(path);
    std::fs::create_dir_all(path).expect("create peer dir");
}

/// Makes `path` and its parents traversable by the unprivileged users the servers run as.
fn open_up(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mut p = Some(path);
    while let Some(dir) = p {
        if dir == Path::new("/") {
            break;
        }
        let Ok(meta) = std::fs::metadata(dir) else {
            break;
        };
        let mut perm = meta.permissions();
        perm.set_mode(perm.mode() | 0o755);
        let _ = std::fs::set_permissions(dir, perm);
        p = dir.parent();
    }
}

/// A Dovecot serving POP3 (STLS and implicit TLS) and IMAP (STARTTLS and implicit TLS) for one
/// user, from a maildir. `disable_plaintext_auth = yes` is set, but Dovecot counts loopback
/// connections as secure and so still offers and accepts plaintext logins before TLS here: only
/// the client's own policy keeps the password out of the clear (what the tests check).
pub struct Dovecot {
    dir: PathBuf,
    child: Child,
    /// POP3 with STLS offered.
    pub pop3: u16,
    /// POP3 over implicit TLS.
    pub pop3s: u16,
    /// IMAP with STARTTLS offered.
    pub imap: u16,
    /// IMAP over implicit TLS.
    pub imaps: u16,
}

impl Dovecot {
    /// Starts Dovecot for `user`/`password` with the PKI's `localhost` certificate.
    /// Returns `None` when Dovecot is not installed (outside CI).
    pub fn start(pki: &TestPki, user: &str, password: &str) -> Option<Dovecot> {
        if !available("dovecot", &["--version"]) {
            return None;
        }
        // One directory per instance: several tests of one binary may each run a Dovecot.
        static INSTANCE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = INSTANCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("mailsec-dovecot-{}-{n}", std::process::id()));
        fresh_dir(&dir);
        for sub in ["run", "run/state", "mail"] {
            std::fs::create_dir_all(dir.join(sub)).expect("dovecot dirs");
        }
        // Dovecot never gives mail access to root ("userdb returned 0 as uid"): as root, mail
        // is served as nobody (65534) and the mail tree belongs to it; otherwise as ourselves.
        let (mail_uid, mail_gid) = mail_owner(&dir);
        chown_to(&dir.join("mail"), (mail_uid, mail_gid));
        let leaf = pki.issue(&["localhost"], Validity::Current);
        std::fs::write(dir.join("cert.pem"), &leaf.chain).expect("cert");
        std::fs::write(dir.join("key.pem"), &leaf.key).expect("key");
        std::fs::write(
            dir.join("passwd"),
            format!("{user}:{{PLAIN}}{password}:::::::\n"),
        )
        .expect("passwd");
        // A port chosen here may still be taken by another test before Dovecot binds it:
        // Dovecot then exits at once, and we try again with new ports.
        for attempt in 1.. {
            let ports = free_ports::<4>();
            match Dovecot::spawn(dir.clone(), ports) {
                Ok(dovecot) => return Some(dovecot),
                Err(log) if attempt < 3 => eprintln!("dovecot did not start, again: {log}"),
                Err(log) => panic!("dovecot did not listen on {ports:?}; its log:\n{log}"),
            }
        }
        unreachable!()
    }

    /// Writes the configuration for `ports` (POP3, POP3S, IMAP, IMAPS) and runs Dovecot until
    /// all four listen; on failure, stops it and returns its log.
    fn spawn(dir: PathBuf, [pop3, pop3s, imap, imaps]: [u16; 4]) -> Result<Dovecot, String> {
        let (mail_uid, mail_gid) = mail_owner(&dir);
        let d = dir.display();
        let conf = format!(
            r#"base_dir = {d}/run
state_dir = {d}/run/state
protocols = pop3 imap
listen = 127.0.0.1
log_path = {d}/dovecot.log
ssl = required
ssl_cert = <{d}/cert.pem
ssl_key = <{d}/key.pem
disable_plaintext_auth = yes
auth_mechanisms = plain login
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {d}/passwd
}}
userdb {{
  driver = static
  args = uid={mail_uid} gid={mail_gid} home={d}/mail/%u mail=maildir:{d}/mail/%u
}}
first_valid_uid = 0
service pop3-login {{
  inet_listener pop3 {{
    port = {pop3}
  }}
  inet_listener pop3s {{
    port = {pop3s}
    ssl = yes
  }}
}}
service imap-login {{
  inet_listener imap {{
    port = {imap}
  }}
  inet_listener imaps {{
    port = {imaps}
    ssl = yes
  }}
}}
pop3_uidl_format = %f
"#
        );
        std::fs::write(dir.join("dovecot.conf"), conf).expect("dovecot.conf");
        let mut child = Command::new("dovecot")
            .arg("-F")
            .arg("-c")
            .arg(dir.join("dovecot.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn dovecot");
        for port in [pop3, pop3s, imap, imaps] {
            if !port_opens(port, Some(&mut child)) {
                let _ = child.kill();
                let _ = child.wait();
                let log = std::fs::read_to_string(dir.join("dovecot.log"));
                return Err(log.unwrap_or_default());
            }
        }
        Ok(Dovecot {
            dir,
            child,
            pop3,
            pop3s,
            imap,
            imaps,
        })
    }

    fn mail_owner(&self) -> (u32, u32) {
        mail_owner(&self.dir)
    }

    /// The user's maildir (`new/`, `cur/`, `tmp/` are created).
    pub fn maildir(&self, user: &str) -> PathBuf {
        let md = self.dir.join("mail").join(user);
        for sub in ["new", "cur", "tmp"] {
            std::fs::create_dir_all(md.join(sub)).expect("maildir");
            chown_to(&md.join(sub), self.mail_owner());
        }
        chown_to(&md, self.mail_owner());
        md
    }

    /// Puts a message into the user's `new/` under `name`; returns its path.
    pub fn deliver(&self, user: &str, name: &str, message: &[u8]) -> PathBuf {
        let path = self.maildir(user).join("new").join(name);
        std::fs::write(&path, message).expect("deliver");
        chown_to(&path, self.mail_owner());
        path
    }
}

/// The uid and gid Dovecot serves mail as: ours (the owner of `dir`, which we created), or
/// nobody's when we are root.
fn mail_owner(dir: &Path) -> (u32, u32) {
    use std::os::unix::fs::MetadataExt;
    match std::fs::metadata(dir) {
        Ok(m) if m.uid() != 0 => (m.uid(), m.gid()),
        _ => (65534, 65534),
    }
}

fn chown_to(path: &Path, (uid, gid): (u32, u32)) {
    let _ = std::os::unix::fs::chown(path, Some(uid), Some(gid));
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Postfix's private configuration directory; `scripts/test` lists it in
/// `alternate_config_directories` of the default `main.cf`, as Postfix requires.
pub const POSTFIX_DIR: &str = "/tmp/mailsec-postfix";

/// A Postfix on loopback that requires STARTTLS (`smtpd_tls_security_level = encrypt`) and
/// delivers mail for `bob@example.test` into a maildir. One at a time (a fixed directory).
pub struct Postfix {
    dir: PathBuf,
    /// The SMTP port (STARTTLS required).
    pub port: u16,
}

impl Postfix {
    /// Starts Postfix with the PKI's `localhost` certificate; `None` when not installed or not
    /// allowed its configuration directory (outside CI).
    pub fn start(pki: &TestPki) -> Option<Postfix> {
        if !available("postconf", &["-d", "mail_version"]) {
            return None;
        }
        let allowed = Command::new("postconf")
            .args(["-h", "alternate_config_directories"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).contains(POSTFIX_DIR))
            .unwrap_or(false);
        if !allowed {
            assert!(
                std::env::var("CI").is_err(),
                "scripts/test must list {POSTFIX_DIR} in /etc/postfix/main.cf"
            );
            eprintln!("postfix not set up for tests (run scripts/test): interop test not run");
            return None;
        }
        let dir = PathBuf::from(POSTFIX_DIR);
        if dir.join("conf/main.cf").exists() {
            stop_postfix(&dir); // a previous run that did not stop cleanly
        }
        fresh_dir(&dir);
        open_up(&dir);
        for sub in ["conf", "queue", "data", "mail"] {
            std::fs::create_dir_all(dir.join(sub)).expect("postfix dirs");
        }
        chown(&dir.join("data"), "postfix");
        chown(&dir.join("mail"), "nobody");
        let leaf = pki.issue(&["localhost"], Validity::Current);
        std::fs::write(dir.join("cert.pem"), &leaf.chain).expect("cert");
        std::fs::write(dir.join("key.pem"), &leaf.key).expect("key");
        let port = free_port();
        let master = std::fs::read_to_string("/etc/postfix/master.cf").expect("master.cf");
        let mut out = String::new();
        for line in master.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() >= 8 && !line.starts_with('#') && !line.starts_with(char::is_whitespace)
            {
                // Our own listener instead of port 25; no chroot (the private dir is not in it).
                let service = if fields[0] == "smtp" && fields[1] == "inet" {
                    format!("127.0.0.1:{port}")
                } else {
                    fields[0].to_owned()
                };
                let mut f: Vec<String> = fields.iter().map(|s| s.to_string()).collect();
                f[0] = service;
                f[4] = "n".into();
                out.push_str(&f.join(" "));
            } else {
                out.push_str(line);
            }
            out.push('\n');
        }
        std::fs::write(dir.join("conf/master.cf"), out).expect("master.cf");
        let d = dir.display();
        let main = format!(
            "compatibility_level = 3.6
queue_directory = {d}/queue
data_directory = {d}/data
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = localhost
mydestination =
mynetworks = 127.0.0.0/8
relay_domains =
maillog_file_prefixes = {d}
maillog_file = {d}/postfix.log
smtpd_tls_security_level = encrypt
smtpd_tls_cert_file = {d}/cert.pem
smtpd_tls_key_file = {d}/key.pem
smtpd_tls_auth_only = yes
virtual_mailbox_domains = example.test
virtual_mailbox_base = {d}/mail
virtual_mailbox_maps = inline:{{ bob@example.test=bob/ }}
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
"
        );
        std::fs::write(dir.join("conf/main.cf"), main).expect("main.cf");
        let status = Command::new("postfix")
            .args(["-c", &format!("{d}/conf"), "start"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("postfix start");
        let log = dir.join("postfix.log");
        assert!(
            status.success(),
            "postfix start failed: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        wait_for_port(port, "postfix", &log);
        Some(Postfix { dir, port })
    }

    /// Waits for a message to arrive in bob's maildir and returns its bytes.
    pub fn wait_for_delivery(&self) -> Vec<u8> {
        let new = self.dir.join("mail/bob/new");
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(entry) = std::fs::read_dir(&new).ok().and_then(|mut d| d.next()) {
                return std::fs::read(entry.expect("entry").path()).expect("read delivered");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let log = std::fs::read_to_string(self.dir.join("postfix.log")).unwrap_or_default();
        panic!("nothing delivered by postfix; its log:\n{log}");
    }
}

fn chown(path: &Path, user: &str) {
    let _ = Command::new("chown").arg(user).arg(path).status();
}

fn stop_postfix(dir: &Path) {
    let _ = Command::new("postfix")
        .args(["-c", &format!("{}/conf", dir.display()), "stop"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

impl Drop for Postfix {
    fn drop(&mut self) {
        stop_postfix(&self.dir);
    }
}
