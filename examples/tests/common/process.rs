//! Running a client program under test: its output collected, its run bounded in time.

#![allow(dead_code)] // each test binary uses a part of this module

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a client program did.
pub struct Run {
    /// Whether it exited with status 0.
    pub ok: bool,
    /// Its standard output.
    pub stdout: Vec<u8>,
    /// Its standard error, lossily decoded.
    pub stderr: String,
}

impl Run {
    /// Standard output, lossily decoded.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

/// Runs a program (stdin closed) to its end or until `timeout`, then kills it and panics:
/// a client that hangs is a failed test, never a hung suite.
pub fn run(cmd: &mut Command, timeout: Duration) -> Run {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let mut out = child.stdout.take().expect("piped stdout");
    let mut err = child.stderr.take().expect("piped stderr");
    // Readers on their own threads, so a chatty child never blocks on a full pipe.
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = out.read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err.read_to_end(&mut buf);
        buf
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the client") {
            break status;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            panic!("client {cmd:?} timed out");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        ok: status.success(),
        stdout: out_reader.join().expect("stdout reader"),
        stderr: String::from_utf8_lossy(&err_reader.join().expect("stderr reader")).into_owned(),
    }
}

/// The value of the first `key: value` or `key value` line of a client's report.
pub fn field<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines()
        .find_map(|line| {
            let rest = line.strip_prefix(key)?;
            rest.strip_prefix(": ").or_else(|| rest.strip_prefix(' '))
        })
        .unwrap_or_else(|| panic!("no {key:?} in the client's report:\n{text}"))
}
