//! Blocking connections with a bounded line reader: plaintext TCP, then rustls.

use std::io::{self, Read, Write};
use std::net::TcpStream;

use mailsec_tls::rustls::{ClientConnection, StreamOwned};

use super::{MAX_LINE, MAX_LINES};

pub(super) enum Stream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Stream {
    pub(super) fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => &s.sock,
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// A line-based connection with a bounded read buffer.
pub(super) struct Conn {
    pub(super) stream: Stream,
    pub(super) buf: Vec<u8>,
}

pub(super) fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

impl Conn {
    pub(super) fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)?;
        self.stream.flush()
    }

    /// One line without its CRLF, control characters removed.
    pub(super) fn line(&mut self) -> io::Result<String> {
        loop {
            if let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
                let raw: Vec<u8> = self.buf.drain(..=pos).collect();
                return Ok(clean(&raw));
            }
            if self.buf.len() > MAX_LINE {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "line too long"));
            }
            let mut chunk = [0u8; 4096];
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed by the server",
                ));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// An SMTP reply: (code, lines of text).
    pub(super) fn smtp_reply(&mut self) -> io::Result<(u16, Vec<String>)> {
        let mut lines = Vec::new();
        loop {
            let line = self.line()?;
            let code = line
                .get(..3)
                .and_then(|c| c.parse::<u16>().ok())
                .ok_or_else(|| bad(format!("not an SMTP reply: {line:?}")))?;
            let more = line.as_bytes().get(3) == Some(&b'-');
            lines.push(line.get(4..).unwrap_or("").to_owned());
            if !more {
                return Ok((code, lines));
            }
            if lines.len() > MAX_LINES {
                return Err(bad("reply too long".into()));
            }
        }
    }

    /// IMAP lines up to the tagged response of `tag`: (untagged lines, tagged status line).
    pub(super) fn imap_tagged(&mut self, tag: &str) -> io::Result<(Vec<String>, String)> {
        let mut untagged = Vec::new();
        loop {
            let line = self.line()?;
            if let Some(rest) = line.strip_prefix(tag).and_then(|r| r.strip_prefix(' ')) {
                return Ok((untagged, rest.to_owned()));
            }
            untagged.push(line);
            if untagged.len() > MAX_LINES {
                return Err(bad("too many untagged lines".into()));
            }
        }
    }

    /// A POP3 status line and, when `multi` and positive, the dot-terminated lines after it.
    pub(super) fn pop3(&mut self, multi: bool) -> io::Result<(bool, String, Vec<String>)> {
        let status = self.line()?;
        let ok = status.starts_with("+OK");
        let mut lines = Vec::new();
        if ok && multi {
            loop {
                let line = self.line()?;
                if line == "." {
                    break;
                }
                lines.push(line.strip_prefix('.').map(str::to_owned).unwrap_or(line));
                if lines.len() > MAX_LINES {
                    return Err(bad("CAPA too long".into()));
                }
            }
        }
        Ok((ok, status, lines))
    }
}

pub(super) fn bad(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

pub(super) fn clean(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    text.trim_end_matches(['\r', '\n'])
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_LINE)
        .collect()
}
