pub mod peers;
pub mod process;
