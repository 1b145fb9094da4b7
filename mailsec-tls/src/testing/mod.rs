//! Test kit (feature `testing`): certificates generated at test time, a virtual clock, an
//! in-memory client⇄server [`Pair`] with real rustls on both sides, a [`toy`] STARTTLS
//! protocol that exercises the machine contract before the real protocols exist, and the
//! chunk-driving loop the server fuzz targets share ([`fuzz::drive`]).

pub mod fuzz;
mod handshake;
mod pair;
mod pki;
pub mod toy;

pub use handshake::handshake;
pub use pair::{Chunking, Direction, Pair, Side};
pub use pki::{PemPair, TestPki, Validity, provider};
