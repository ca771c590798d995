//! The training marketplace: seeded, deterministic Amazon-shaped order data (and, as it grows, an
//! SP-API-compatible server). Everything here is made up; none of it is anyone's personal data.

pub mod seed;
