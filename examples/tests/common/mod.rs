pub mod peers;
pub mod process;
pub mod services;
