//! Amazon's Selling Partner API as packline reads it. For now: the Orders API v2026-01-01
//! `searchOrders` response shape, parsed into domain orders with buyer data dropped on the floor.

pub mod client;
pub mod model;
pub mod throttle;

pub use model::{
    FulfillmentStatus, ImportedOrder, ParseError, SearchOrdersPage, parse_search_orders,
};
