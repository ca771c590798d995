//! packline: order fulfillment for sellers shipping their own Amazon orders.
//!
//! `domain` is pure: the warehouse's types and rules. `store` keeps every byte on disk (sled or
//! PostgreSQL, through its `backend` seam), `amazon` speaks the Selling Partner API, `labels`
//! makes what is printed and sends it to printers. `service` is the only code that changes
//! state: the terminal UI (`tui`) and the command line (in the binary) are its clients, in
//! process or over the daemon's socket. `config` reads the TOML config, `files` and `font` are
//! small helpers, `scale` reads the scale at a pack bench, and `marketplace` is the training
//! marketplace the demo and the tests run against. ARCHITECTURE.md is the map.
//! Nothing here prints with `print!`/`println!`, which panic when stdout is a closed pipe.
#![deny(clippy::print_stdout)]

pub mod amazon;
pub mod config;
pub mod domain;
pub mod files;
pub mod font;
pub mod labels;
pub mod marketplace;
pub mod scale;
pub mod service;
pub mod store;
pub mod tui;
