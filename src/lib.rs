//! packline: order fulfillment for sellers shipping their own Amazon orders.
//!
//! `domain` is pure; `store` and `amazon` depend on it; the binary ties them together.
//! Nothing here prints with `print!`/`println!`, which panic when stdout is a closed pipe.
#![deny(clippy::print_stdout)]

pub mod amazon;
pub mod config;
pub mod domain;
pub mod files;
pub mod font;
pub mod labels;
pub mod marketplace;
pub mod service;
pub mod store;
pub mod tui;
