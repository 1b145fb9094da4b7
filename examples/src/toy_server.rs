//! Serving the toy STARTTLS protocol over a real socket (the demo and the interop tests).

use std::net::SocketAddr;

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

/// What a spawned server task returns: its events as text, or its error.
pub type ServerTask = tokio::task::JoinHandle<Result<Vec<String>, String>>;

/// Binds a loopback port and serves one connection on it in a task.
pub async fn spawn_one(mode: Mode, tls: TlsSetup) -> Result<(SocketAddr, ServerTask), String> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    Ok((addr, tokio::spawn(serve_one(listener, mode, tls))))
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
