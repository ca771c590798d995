//! Shipping API v2 in the training marketplace, for Amazon orders (`channelType = AMAZON`): rates,
//! label purchases with real ZPL / PNG / PDF labels, documents, voids, tracking and collection
//! forms, in the official model's paths and shapes (`shippingV2.json`), within its usage plan
//! (80 a second, burst 100, one bucket per operation). It never writes an address or a name to
//! the request log or into an error.
//!
//! - Rates reuse the Merchant Fulfillment services and prices (`carriers`), so both APIs offer the same
//!   carriers; `shipTo` is ignored (Amazon ships to the order's address). A rate refuses more
//!   units than the order has left: units on live labels of either API and on confirmed packages
//!   all count. A `requestToken` can be bought within `rate_validity` (Amazon: 10 minutes), once.
//! - purchaseShipment marks the order SHIPPED / PARTIALLY_SHIPPED as a v0 purchase does. With
//!   `x-amzn-IdempotencyKey`, the same key and body answer the first purchase again (logged with
//!   `replay = "true"`), never a second purchase; the same key with another body is refused.
//! - A void (cancelShipment) frees the units for new labels and leaves the order's status as it
//!   is; a shipment on a collection form can no longer be voided.
//! - Tracking is deterministic: a bought package is `PreTransit` (event `ReadyForReceive`) until
//!   it is on a collection form, which makes it `InTransit` (`PickupDone`), or until
//!   `POST /_training/tracking/{trackingId}/{status}` moves it on (`InTransit`, `OutForDelivery`,
//!   `Delivered`, `Undeliverable`; forward only), each step an event at the time it happened.
//! - Injected faults apply to every operation; purchaseShipment's timeout, malformed and
//!   truncated answers come *after* the purchase went through (the worst case on a real network).
//!
//! Training controls: `POST /_training/rates/expire` (every outstanding request token expires
//! now), `POST /_training/rates/surcharge/{percent}` (rates quoted after it cost that much more), `POST /_training/tracking/{trackingId}/{status}`, and `GET /_training/shipments` (ids,
//! order, package references, tracking ids, state, collection form; no personal data).

// A refusal is the HTTP answer itself, built once per request: boxing it would buy nothing.
#![allow(clippy::result_large_err)]

mod common;
mod forms;
mod purchase;
mod rates;
mod shipments;
mod training;

use axum::Router;
use axum::routing::{get, post};
use packline_spapi::endpoints;

use crate::market::{EndpointRoutes as _, Shared};

/// The operations served here (their model operationIds), for `/_training/faults`. Merchant
/// Fulfillment v0 has a `cancelShipment` too: a fault queued for it goes to the next cancel of
/// either API. Log entries of this API carry `api = "shippingV2"`.
pub(super) fn faultable() -> impl Iterator<Item = &'static str> {
    endpoints::ALL
        .into_iter()
        .filter(|e| e.path.starts_with("/shipping/v2/"))
        .map(|e| e.name)
}

pub(super) fn routes() -> Router<Shared> {
    Router::<Shared>::new()
        .endpoint(&endpoints::GET_RATES, rates::get_rates)
        .endpoint(&endpoints::PURCHASE_SHIPMENT, purchase::purchase)
        .endpoint(&endpoints::GET_SHIPMENT_DOCUMENTS, shipments::documents)
        .endpoint(&endpoints::CANCEL_SHIPMENT, shipments::cancel)
        .endpoint(&endpoints::GET_TRACKING, shipments::tracking)
        .endpoint(&endpoints::GET_UNMANIFESTED_SHIPMENTS, forms::unmanifested)
        .endpoint(&endpoints::GENERATE_COLLECTION_FORM, forms::generate_form)
        .endpoint(&endpoints::GET_COLLECTION_FORM, forms::get_form)
        .route("/_training/rates/expire", post(training::expire_rates))
        .route(
            "/_training/rates/surcharge/{percent}",
            post(training::surcharge),
        )
        .route(
            "/_training/tracking/{tracking_id}/{status}",
            post(training::set_tracking),
        )
        .route("/_training/shipments", get(training::shipments))
        .route("/_training/bodies", get(training::bodies))
}
