//! The training marketplace: seeded, deterministic Amazon-shaped order data, served over loopback
//! HTTP in the SP-API's own shapes. Everything here is made up; none of it is anyone's personal
//! data.
//!
//! Its modules import one way, never in a circle:
//! - the leaves: `config` (how it behaves, the faults), `seed` (the orders), `carrier_label`
//!   (labels drawn), `carriers` (services, prices, tracking ids) and `books` (what each API
//!   remembers);
//! - `market`: the state behind its lock and what every request goes through (token, quota,
//!   fault, log);
//! - the APIs, each on `market` and the leaves, never on one another: `auth`, `orders`,
//!   `confirm`, `mfn`, `shipping`, `messaging`, `reports`, and the `training` controls;
//! - `server`: the router over all of them, and `serve`.
//!
//! The SP-API's table (paths, usage plans, names) comes from `packline-spapi`, the client's own.
#![deny(clippy::print_stdout)]

pub mod carrier_label;
pub mod messaging;
pub mod reports;
pub mod seed;
pub mod server;

mod auth;
mod books;
mod carriers;
mod config;
mod confirm;
mod market;
mod mfn;
mod orders;
mod shipping;
mod training;
