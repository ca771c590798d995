//! The training marketplace: seeded, deterministic Amazon-shaped order data, served over loopback
//! HTTP in the SP-API's own shapes. Everything here is made up; none of it is anyone's personal
//! data.

pub mod carrier_label;
pub mod messaging;
pub mod mfn;
pub mod reports;
pub mod seed;
pub mod server;
pub mod shipping;
