//! Two [`Pipe`]s shaking hands in memory.

use crate::{Pipe, TlsError};

/// Runs a handshake between two pipes in lock-step until neither side has anything to send,
/// and returns each side's first error. After an error a side receives nothing more, but what
/// it queued (its alert) is still delivered to the peer.
///
/// # Panics
/// If the two sides keep exchanging bytes for 20 rounds (a handshake takes at most a few).
pub fn handshake(
    client: &mut Pipe,
    server: &mut Pipe,
) -> (Result<(), TlsError>, Result<(), TlsError>) {
    let (mut c, mut s) = (Ok(()), Ok(()));
    for _ in 0..20 {
        let to_server = client.take_wire();
        let to_client = server.take_wire();
        if to_server.is_empty() && to_client.is_empty() {
            return (c, s);
        }
        if !to_server.is_empty() && s.is_ok() {
            s = server.recv_wire(&to_server);
        }
        if !to_client.is_empty() && c.is_ok() {
            c = client.recv_wire(&to_client);
        }
    }
    panic!("handshake did not settle");
}
