//! Amazon's Selling Partner API as packline uses it: the order models (Orders API v2026-01-01,
//! buyer data dropped on parse), every endpoint declared once (`endpoints`), per-operation
//! quotas, the client (the transport) and its token caches, the Orders calls, Merchant Fulfillment
//! (labels bought through Amazon), Messaging (the only way packline writes to a customer), and
//! Reports (the merchant returns report, and the actionable-orders report a large backlog comes
//! through: `actionable`).
//!
//! The endpoint table and the quotas (`endpoints`, `throttle`) are the `packline-spapi` crate's,
//! re-exported here: the training marketplace routes and limits its operations from the same
//! table.

pub mod actionable;
pub mod client;
pub use packline_spapi::endpoints;
pub mod label_file;
pub mod messaging;
pub mod mfn;
pub mod model;
pub mod orders;
pub mod reports;
pub mod shipping;
pub use packline_spapi::throttle;
mod tokens;

pub use model::{
    FulfillmentStatus, ImportedOrder, ParseError, SearchOrdersPage, parse_get_order,
    parse_search_orders,
};
