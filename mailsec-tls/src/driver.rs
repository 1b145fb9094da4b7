//! placeholder
pub struct Driver; pub struct DriverError;
