//! packline: order fulfillment for sellers shipping their own Amazon orders.
//!
//! `domain` is pure: the warehouse's types and rules. `store` keeps every byte on disk (sled or
//! PostgreSQL, through its `backend` seam), `amazon` speaks the Selling Partner API, `labels`
//! makes what is printed and sends it to printers. `service` is the only code that changes
//! state: the terminal UI (`tui`) and the command line (in the binary) are its clients, in
//! process or over the daemon's socket. `config` reads the TOML config, `files` is a small
//! helper, and `scale` reads the scale at a pack bench. `font` and `marketplace` (the training
//! marketplace the demo and the tests run against) are crates of the workspace, re-exported
//! here: the crates under `crates/` sit below packline and never import it. ARCHITECTURE.md is
//! the map.
//! Nothing here prints with `print!`/`println!`, which panic when stdout is a closed pipe.
#![deny(clippy::print_stdout)]

pub mod amazon;
pub mod config;
pub mod domain;
pub mod files;
pub mod labels;
pub mod scale;
pub mod service;
pub mod store;
pub mod tui;

/// The 8×8 bitmap font (the `packline-draw` crate's).
pub use packline_draw::font;
/// The training marketplace: the `packline-marketplace` crate, at its old path.
pub use packline_marketplace as marketplace;
