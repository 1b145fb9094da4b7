//! Test kit (feature `testing`): certificates generated at test time, a virtual clock, an
//! in-memory client⇄server [`Pair`] with real rustls on both sides, and a [`toy`] STARTTLS
//! protocol that exercises the machine contract before the real protocols exist.

mod handshake;
mod pair;
mod pki;
pub mod toy;

pub use handshake::handshake;
pub use pair::{Chunking, Direction, Pair, Side};
pub use pki::{PemPair, TestPki, Validity, provider};
