//! The training marketplace's HTTP server: the subset of the SP-API packline uses, in the official
//! JSON shapes, with Amazon's quotas enforced. It binds loopback only and serves made-up data.
//!
//! Served: the LWA token endpoint and the Tokens API (see `auth`), Orders v2026-01-01
//! `searchOrders` (validation, pagination, `includedData`, quotas with 429 and
//! `x-amzn-RateLimit-Limit`) and `getOrder` (see `orders`), Orders v0 `confirmShipment` (see
//! `confirm`), Merchant Fulfillment v0 (see `mfn`), Messaging v1 (see `messaging`), Shipping API
//! v2 (see `shipping`), the Reports API for the returns report (see `reports`), injected faults
//! (`market::serve`), and training controls (see `training`): a request log at `/_training/requests` (operation, parameters, status;
//! never personal data), the order book at `/_training/orders` (ids, statuses, times), the
//! packages confirmed with confirmShipment and their Transparency codes at
//! `/_training/confirmations`,
//! `POST /_training/orders/{id}/cancel`, `/cancel-request`, `/readdress`, `/transparency`,
//! `/serial-required`, `/broken-sku` (a control character in its first SKU), `/mend` (the SKUs
//! printable again) or `/ship-plus`, `POST /_training/marketplace/{id}` (every order of that
//! marketplace) (confirmShipment refused, as for Amazon's Ship+), which change an order the way a buyer or
//! Amazon would, and `POST /_training/faults/{operation}/{fault}`, which gives the next answer of
//! an operation that fault (`slow`: the real answer, after the fault delay). With `new_orders_per_minute`, `cancel_rate` and `cancel_request_rate`,
//! orders arrive, are cancelled and have buyers ask to cancel them while it runs.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use packline_spapi::endpoints;

pub use crate::config::{Fault, MarketplaceConfig};
pub use crate::market::LoggedRequest;
use crate::market::{EndpointRoutes as _, Market, Shared, lock};
use crate::{auth, confirm, messaging, mfn, orders, reports, shipping, training};

/// Builds the marketplace's routes over freshly generated, seeded orders.
pub fn router(cfg: MarketplaceConfig) -> Router {
    let market = Market::new(cfg);
    Router::<Shared>::new()
        .route("/auth/o2/token", post(auth::token))
        .endpoint(&endpoints::SEARCH_ORDERS, orders::search_orders)
        .route("/_training/requests", get(training::requests))
        .route("/_training/orders", get(training::book))
        .route("/_training/confirmations", get(training::confirmations))
        .endpoint(&endpoints::CONFIRM_SHIPMENT, confirm::confirm_shipment)
        .endpoint(&endpoints::GET_ORDER, orders::get_order)
        .endpoint(
            &endpoints::CREATE_RESTRICTED_DATA_TOKEN,
            auth::restricted_data_token,
        )
        .route(
            "/_training/orders/{id}/{change}",
            post(training::change_order),
        )
        .route("/_training/faults/{operation}/{fault}", post(queue_fault))
        .route(
            "/_training/marketplace/{id}",
            post(training::move_marketplace),
        )
        .merge(mfn::routes())
        .merge(shipping::routes())
        .merge(messaging::routes())
        .merge(reports::routes())
        .with_state(Arc::new(Mutex::new(market)))
}

/// Serves until the process is stopped. Refuses any address that is not loopback.
pub async fn serve(
    listener: tokio::net::TcpListener,
    cfg: MarketplaceConfig,
) -> std::io::Result<()> {
    let addr: SocketAddr = listener.local_addr()?;
    if !addr.ip().is_loopback() {
        return Err(std::io::Error::other(format!(
            "the training marketplace listens on loopback only, not {addr}"
        )));
    }
    axum::serve(listener, router(cfg)).await
}

/// Operations whose answers can carry an injected fault.
const FAULTABLE: [&str; 5] = [
    endpoints::SEARCH_ORDERS.name,
    endpoints::GET_ELIGIBLE_SHIPMENT_SERVICES.name,
    endpoints::CREATE_SHIPMENT.name,
    endpoints::GET_SHIPMENT.name,
    endpoints::MFN_CANCEL_SHIPMENT.name,
];

/// Training control: the next answer of `operation` gets `fault` (`429`, `500`, `503`,
/// `timeout`, `malformed`, `truncated`, `slow`), whatever `--fault-rate` says; queued faults are used in
/// the order they were asked for.
async fn queue_fault(
    State(m): State<Shared>,
    Path((operation, fault)): Path<(String, String)>,
) -> StatusCode {
    let Some(fault) = Fault::ALL.into_iter().find(|f| f.name() == fault) else {
        return StatusCode::NOT_FOUND;
    };
    if !FAULTABLE.contains(&operation.as_str())
        && !messaging::faultable().any(|o| o == operation)
        && !reports::faultable().any(|o| o == operation)
        && !shipping::faultable().any(|o| o == operation)
    {
        return StatusCode::NOT_FOUND;
    }
    lock(&m)
        .queued_faults
        .entry(operation)
        .or_default()
        .push_back(fault);
    StatusCode::NO_CONTENT
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use serde_json::Value;

    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A plain HTTP/1.1 request; the status, the body and how long the answer took.
    async fn http(
        addr: SocketAddr,
        method: &str,
        path: &str,
    ) -> (u16, String, std::time::Duration) {
        let started = std::time::Instant::now();
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nx-amz-access-token: Atza|training\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        s.write_all(req.as_bytes()).await.unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).await.unwrap();
        let status = resp.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
        let body = resp[resp.find("\r\n\r\n").unwrap() + 4..].to_owned();
        (status, body, started.elapsed())
    }

    /// A marketplace of `orders` orders with no faults, no arrivals and quotas a thousand times
    /// quicker.
    fn quiet(orders: usize) -> MarketplaceConfig {
        MarketplaceConfig {
            orders,
            seed: 7,
            quota_scale: 1000.0,
            start: Utc::now() - chrono::Duration::days(3),
            fault_rate: 0.0,
            faults: Vec::new(),
            fault_delay: std::time::Duration::from_millis(1),
            new_orders_per_minute: 0.0,
            cancel_rate: 0.0,
            cancel_request_rate: 0.0,
            unit_codes: false,
            rate_validity: MarketplaceConfig::RATE_VALIDITY,
        }
    }

    #[tokio::test]
    async fn a_slow_fault_gives_the_real_answer_after_the_fault_delay() {
        let delay = std::time::Duration::from_millis(600);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let cfg = MarketplaceConfig {
            fault_delay: delay,
            ..quiet(3)
        };
        tokio::spawn(serve(listener, cfg));
        let search = "/orders/2026-01-01/orders?marketplaceIds=ATVPDKIKX0DER&createdAfter=2020-01-01T00:00:00Z";
        let (status, quick, took) = http(addr, "GET", search).await;
        assert_eq!(status, 200, "{quick}");
        assert!(took < delay, "{took:?}");
        let (status, _, _) = http(addr, "POST", "/_training/faults/searchOrders/slow").await;
        assert_eq!(status, 204);
        let (status, slow, took) = http(addr, "GET", search).await;
        assert_eq!(status, 200, "{slow}");
        assert!(took >= delay, "the answer came after {took:?}");
        let orders = |body: &str| serde_json::from_str::<Value>(body).unwrap()["orders"].clone();
        assert_eq!(orders(&slow), orders(&quick), "the same answer, whole");
        assert_eq!(orders(&slow).as_array().map(Vec::len), Some(3));
        let (_, log, _) = http(addr, "GET", "/_training/requests").await;
        let log: Vec<LoggedRequest> = serde_json::from_str(&log).unwrap();
        let last = log.last().unwrap();
        assert_eq!((last.status, last.fault.as_deref()), (200, Some("slow")));
        assert_eq!(
            Fault::parse_list("slow,429").unwrap(),
            [Fault::Slow, Fault::TooManyRequests]
        );
    }

    /// Every endpoint the client calls is served at the method and path of the one table: a
    /// route that is missing answers 404 with no body, a method that is not served 405.
    #[tokio::test]
    async fn every_endpoint_of_the_table_is_served() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(serve(listener, quiet(1)));
        for e in endpoints::ALL {
            let segments = e.path.matches('{').count();
            let path = e.fill(&vec!["x"; segments]).unwrap();
            let (status, body, _) = http(addr, e.method.as_str(), &path).await;
            assert!(
                status != 405 && !(status == 404 && body.is_empty()),
                "{} {} {path}: {status}",
                e.name,
                e.method.as_str()
            );
        }
        let (status, body, _) = http(addr, "GET", "/mfn/v0/nowhere").await;
        assert_eq!(
            (status, body.as_str()),
            (404, ""),
            "a missing route is told apart"
        );
    }

    /// With `cancel_request_rate`, arrivals bring buyers' requests to cancel pending orders, in
    /// the official shape: packline reads each as a request to hold.
    #[tokio::test]
    async fn arrivals_bring_buyers_cancellation_requests() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let cfg = MarketplaceConfig {
            // A few arrivals within the test's first moments.
            new_orders_per_minute: 6000.0,
            cancel_request_rate: 1.0,
            ..quiet(4)
        };
        tokio::spawn(serve(listener, cfg));
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let search = "/orders/2026-01-01/orders?marketplaceIds=ATVPDKIKX0DER&createdAfter=2020-01-01T00:00:00Z&maxResultsPerPage=100";
        // Only asked for, as at Amazon.
        let (_, without, _) = http(addr, "GET", search).await;
        assert!(!without.contains("cancellationRequest"), "{without}");
        let search = format!("{search}&includedData=FULFILLMENT,CANCELLATION");
        let (status, body, _) = http(addr, "GET", &search).await;
        assert_eq!(status, 200, "{body}");
        let page = packline::amazon::parse_search_orders(body.as_bytes(), "page").unwrap();
        let asked = page
            .orders
            .iter()
            .filter(|o| o.buyer_cancel_requested)
            .count();
        let pending = page
            .orders
            .iter()
            .filter(|o| o.status.is_actionable())
            .count();
        assert!(asked > 0, "no request among {} orders", page.orders.len());
        assert!(asked <= pending, "requests only on pending orders");
        let raw: Value = serde_json::from_str(&body).unwrap();
        let request = raw["orders"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|o| o["orderItems"].as_array().unwrap())
            .find_map(|i| i.get("cancellation"))
            .unwrap();
        assert_eq!(request["cancellationRequest"]["requester"], "BUYER");
    }
}
