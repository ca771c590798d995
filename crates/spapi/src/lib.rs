//! The Selling Partner API as both of its sides here know it: every operation packline calls
//! declared once (`endpoints`: name, method, path, usage plan, token, resend rule), Amazon's
//! usage plans and the token bucket that keeps to them (`throttle`), and the few names and
//! shapes the client and the training marketplace must agree on (the message kinds, the report
//! types, an MFN shipment id).
//!
//! A crate of its own, below packline (which re-exports it as `packline::amazon::endpoints`,
//! `packline::amazon::throttle` and in its API modules) and the training marketplace
//! (`packline-marketplace`), so that the simulator routes and names its operations from the
//! client's own table without depending on the product. Nothing here sends a request.
#![deny(clippy::print_stdout)]

pub mod endpoints;
pub mod messaging;
pub mod mfn;
pub mod reports;
pub mod throttle;
