//! Serving the toy STARTTLS protocol over a real socket (the demo and the interop tests).

use mailsec_tls::driver::{Driver, TokioTimer};
use mailsec_tls::testing::toy::ToyServer;
use mailsec_tls::{ServerPolicy, TlsSetup};
use tokio::net::TcpListener;
use tokio_util::compat::TokioAsyncReadCompatExt;

/// How a session secures its connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// No TLS; credentials accepted in clear (for showing what that means).
    Plaintext,
    /// Clear greeting, STARTTLS offered and required before LOGIN.
    StartTls,
    /// TLS from the first byte.
    Implicit,
}

/// Accepts one connection on `listener` and serves it; returns the server's events as text,
/// or its error.
pub async fn serve_one(
    listener: TcpListener,
    mode: Mode,
    tls: TlsSetup,
) -> Result<Vec<String>, String> {
    let (stream, _) = listener.accept().await.map_err(|e| e.to_string())?;
    let stream = stream.compat();
    let mut driver = match mode {
        Mode::Plaintext => Driver::new(
            ToyServer::new(ServerPolicy::insecure_plaintext()),
            stream,
            TokioTimer,
            None,
        ),
        Mode::StartTls => Driver::new(
            ToyServer::new(ServerPolicy::starttls_required()),
            stream,
            TokioTimer,
            Some(tls),
        ),
        Mode::Implicit => Driver::implicit_tls(
            ToyServer::new(ServerPolicy::implicit_tls()),
            stream,
            TokioTimer,
            tls,
        )
        .map_err(|e| e.to_string())?,
    };
    let mut events = Vec::new();
    loop {
        match driver.next_event().await {
            Ok(Some(event)) => events.push(format!("{event:?}")),
            Ok(None) => return Ok(events),
            Err(err) => return Err(format!("{err} (after {events:?})")),
        }
    }
}
