//! packline: order fulfillment for sellers shipping their own Amazon orders.
//!
//! `domain` is pure; `store` and `amazon` depend on it; the binary ties them together.

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
