//! The market's state behind one lock, and what every request goes through: the access token and
//! the quota (`admit`), the injected fault, the request log and the rate header (`serve`), the
//! routes declared from the endpoint table (`EndpointRoutes`), and the rules shared by the APIs
//! (labelled units, Transparency codes).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use packline_spapi::endpoints::{self, Endpoint, Method};
use packline_spapi::throttle::{TokenBucket, UsagePlan};
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::books::{Confirmed, MfnBook, ReportBook, ShippingBook};
use crate::config::{Fault, MarketplaceConfig};
use crate::seed::OrderGenerator;

/// One request, as the request log keeps it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LoggedRequest {
    pub operation: String,
    pub params: HashMap<String, String>,
    pub status: u16,
    pub at: DateTime<Utc>,
    /// The fault injected into this answer, if any.
    #[serde(default)]
    pub fault: Option<String>,
}

pub(crate) struct Market {
    pub(crate) cfg: MarketplaceConfig,
    pub(crate) orders: Vec<Value>,
    pub(crate) buckets: HashMap<&'static str, TokenBucket>,
    pub(crate) log: Vec<LoggedRequest>,
    pub(crate) tokens_issued: u64,
    pub(crate) faults_rng: rand_chacha::ChaCha8Rng,
    pub(crate) generator: OrderGenerator,
    pub(crate) started: Instant,
    pub(crate) arrived: u64,
    /// Confirmed own-carrier packages by order: (package reference, tracking, items).
    pub(crate) shipments: HashMap<String, Vec<Confirmed>>,
    /// What each Restricted Data Token was issued for: (method, path) pairs, paths possibly
    /// generic (`/mfn/v0/shipments/{shipmentId}`).
    pub(crate) rdt_scopes: HashMap<String, Vec<(String, String)>>,
    /// Labels bought through Merchant Fulfillment.
    pub(crate) mfn: MfnBook,
    /// Rates, shipments and collection forms of Shipping API v2.
    pub(crate) shipping: ShippingBook,
    /// Reports asked for (the returns report) and their documents.
    pub(crate) reports: ReportBook,
    /// Faults asked for through `/_training/faults`, per operation, next first.
    pub(crate) queued_faults: HashMap<String, std::collections::VecDeque<Fault>>,
    /// Ship+ orders (`/_training/orders/{id}/ship-plus`): Amazon refuses confirmShipment for
    /// them with a 400.
    pub(crate) ship_plus: std::collections::HashSet<String>,
}

impl Market {
    /// A market over freshly generated, seeded orders.
    pub(crate) fn new(cfg: MarketplaceConfig) -> Market {
        let mut generator = OrderGenerator::new(cfg.seed, cfg.start);
        generator.unit_codes = cfg.unit_codes;
        let orders = (0..cfg.orders).map(|_| generator.order()).collect();
        let faults_rng = rand_chacha::ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x5eed_fa17);
        Market {
            cfg,
            orders,
            buckets: HashMap::new(),
            log: Vec::new(),
            tokens_issued: 0,
            faults_rng,
            generator,
            started: Instant::now(),
            arrived: 0,
            shipments: HashMap::new(),
            rdt_scopes: HashMap::new(),
            mfn: MfnBook::default(),
            shipping: ShippingBook::default(),
            reports: ReportBook::default(),
            queued_faults: HashMap::new(),
            ship_plus: Default::default(),
        }
    }

    /// The fault for this answer of `operation`: one queued through `/_training/faults`, else
    /// one drawn at the configured rate.
    pub(crate) fn next_fault(&mut self, operation: &str) -> Option<Fault> {
        if let Some(f) = self
            .queued_faults
            .get_mut(operation)
            .and_then(|q| q.pop_front())
        {
            return Some(f);
        }
        // With every answer faulted, the token endpoint is spared: nothing could be asked.
        if operation == endpoints::LWA_TOKEN && self.cfg.fault_rate >= 1.0 {
            return None;
        }
        self.draw_fault()
    }

    /// Draws whether this answer gets an injected fault, and which.
    fn draw_fault(&mut self) -> Option<Fault> {
        if self.cfg.fault_rate > 0.0
            && !self.cfg.faults.is_empty()
            && self
                .faults_rng
                .gen_bool(self.cfg.fault_rate.clamp(0.0, 1.0))
        {
            let i = self.faults_rng.gen_range(0..self.cfg.faults.len());
            Some(self.cfg.faults[i])
        } else {
            None
        }
    }

    /// Brings the order book up to now: orders that have arrived since the start, and the
    /// cancellations that came with some of them.
    pub(crate) fn advance(&mut self) {
        let minutes = self.started.elapsed().as_secs_f64() / 60.0;
        let due = (minutes * self.cfg.new_orders_per_minute.max(0.0)) as u64;
        while self.arrived < due {
            self.arrived += 1;
            let now = Utc::now();
            let order = self.generator.order_created(now);
            if let Some(i) = self.some_pending(self.cfg.cancel_rate) {
                self.orders[i]["fulfillment"]["fulfillmentStatus"] = json!("CANCELLED");
                self.orders[i]["lastUpdatedTime"] = json!(now.to_rfc3339());
            }
            if let Some(i) = self.some_pending(self.cfg.cancel_request_rate) {
                request_cancellation(&mut self.orders[i]);
                self.orders[i]["lastUpdatedTime"] = json!(now.to_rfc3339());
            }
            self.orders.push(order);
        }
    }

    /// With probability `rate`, a pending order picked at random.
    fn some_pending(&mut self, rate: f64) -> Option<usize> {
        if rate <= 0.0 || !self.faults_rng.gen_bool(rate.clamp(0.0, 1.0)) {
            return None;
        }
        let pending: Vec<usize> = self
            .orders
            .iter()
            .enumerate()
            .filter(|(_, o)| o["fulfillment"]["fulfillmentStatus"] == "UNSHIPPED")
            .map(|(i, _)| i)
            .collect();
        (!pending.is_empty()).then(|| pending[self.faults_rng.gen_range(0..pending.len())])
    }
}

/// The buyer asks to cancel, as Amazon reports it on each item; the order stays unshipped until
/// the seller cancels it or ships it anyway.
pub(crate) fn request_cancellation(order: &mut serde_json::Value) {
    if let Some(items) = order["orderItems"].as_array_mut() {
        for item in items {
            item["cancellation"] = json!({
                "cancellationRequest": {
                    "requester": "BUYER",
                    "cancelReason": "Order created by mistake",
                }
            });
        }
    }
}

pub(crate) type Shared = Arc<Mutex<Market>>;

/// Routes of SP-API operations, at the method and path `packline_spapi::endpoints` declares for
/// them: the table the client sends from.
pub(crate) trait EndpointRoutes {
    fn endpoint<H, T>(self, endpoint: &Endpoint, handler: H) -> Self
    where
        H: axum::handler::Handler<T, Shared>,
        T: 'static;
}

impl EndpointRoutes for Router<Shared> {
    fn endpoint<H, T>(self, endpoint: &Endpoint, handler: H) -> Self
    where
        H: axum::handler::Handler<T, Shared>,
        T: 'static,
    {
        use axum::routing::MethodFilter;
        let filter = match endpoint.method {
            Method::Get => MethodFilter::GET,
            Method::Post => MethodFilter::POST,
            Method::Put => MethodFilter::PUT,
            Method::Delete => MethodFilter::DELETE,
        };
        self.route(endpoint.path, axum::routing::on(filter, handler))
    }
}

pub(crate) fn lock(m: &Shared) -> std::sync::MutexGuard<'_, Market> {
    // A panic while holding the lock cannot leave the data half-changed in a way that matters
    // for a training server; keep serving.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub(crate) fn sp_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({ "errors": [{ "code": code, "message": message }] })),
    )
        .into_response()
}

/// Checks the access token and takes a quota token; the refusal to send back otherwise.
pub(crate) fn admit(
    market: &mut Market,
    headers: &HeaderMap,
    operation: &'static str,
    plan: UsagePlan,
) -> Option<Response> {
    let authorised = headers
        .get("x-amz-access-token")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("Atza|") || t.starts_with("Atz.sprdt|"));
    if !authorised {
        return Some(sp_error(
            StatusCode::FORBIDDEN,
            "Unauthorized",
            "Access to requested resource is denied.",
        ));
    }
    let plan = plan.scaled(market.cfg.quota_scale);
    let now = Instant::now();
    let bucket = market
        .buckets
        .entry(operation)
        .or_insert_with(|| TokenBucket::new(plan, now));
    if bucket.try_take(now) {
        None
    } else {
        Some(sp_error(
            StatusCode::TOO_MANY_REQUESTS,
            "QuotaExceeded",
            "You exceeded your quota for the requested resource.",
        ))
    }
}

pub(crate) fn logged(
    market: &mut Market,
    operation: &str,
    params: HashMap<String, String>,
    response: Response,
) -> Response {
    market.log.push(LoggedRequest {
        operation: operation.to_owned(),
        params,
        status: response.status().as_u16(),
        at: Utc::now(),
        fault: None,
    });
    response
}

/// Runs one request whose answer can carry a fault (searchOrders draws its own): draws a fault,
/// does the work (unless the fault refuses it first), logs it, and answers, late or damaged if
/// the fault says so.
pub(crate) async fn serve(
    m: Shared,
    operation: &'static str,
    plan: UsagePlan,
    mut params: HashMap<String, String>,
    work: impl FnOnce(&mut Market) -> (Response, Vec<(&'static str, String)>),
) -> Response {
    let (response, fault, delay, scale) = {
        let mut guard = lock(&m);
        let market = &mut *guard;
        market.advance();
        let fault = market.next_fault(operation);
        let response = match fault {
            Some(Fault::TooManyRequests) => sp_error(
                StatusCode::TOO_MANY_REQUESTS,
                "QuotaExceeded",
                "You exceeded your quota for the requested resource.",
            ),
            Some(Fault::InternalError) => sp_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalFailure",
                "We encountered an internal error. Please try again.",
            ),
            Some(Fault::Unavailable) => sp_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                "Temporary overloading or maintenance of the server.",
            ),
            _ => {
                let (r, extra) = work(market);
                params.extend(extra.into_iter().map(|(k, v)| (k.to_owned(), v)));
                r
            }
        };
        market.log.push(LoggedRequest {
            operation: operation.into(),
            params,
            status: response.status().as_u16(),
            at: Utc::now(),
            fault: fault.map(|f| f.name().to_owned()),
        });
        (
            response,
            fault,
            market.cfg.fault_delay,
            market.cfg.quota_scale,
        )
    };
    let response = match fault {
        Some(Fault::Timeout) | Some(Fault::Slow) => {
            // The work is done; the answer comes late (for a timeout, after the caller stopped
            // waiting). The lock is not held while waiting.
            tokio::time::sleep(delay).await;
            response
        }
        Some(Fault::Malformed) => (
            response.status(),
            [("content-type", "application/json")],
            "{\"payload\": {\"ShipmentId\": ",
        )
            .into_response(),
        Some(Fault::Truncated) => {
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap_or_default();
            let half = bytes.slice(..bytes.len() / 2);
            (status, [("content-type", "application/json")], half).into_response()
        }
        _ => response,
    };
    with_rate(response, plan, scale)
}

pub(crate) fn with_rate(mut r: Response, plan: UsagePlan, scale: f64) -> Response {
    if let Ok(v) = HeaderValue::from_str(&format!("{}", plan.scaled(scale).rate)) {
        r.headers_mut().insert("x-amzn-RateLimit-Limit", v);
    }
    r
}

/// Buying a label through Amazon (Merchant Fulfillment or Shipping API v2) confirms the
/// shipment: the order's items show the units on live labels of either API as fulfilled, and
/// the order is SHIPPED when every unit is on one, PARTIALLY_SHIPPED otherwise.
pub(crate) fn mark_labelled(market: &mut Market, order_id: &str) {
    let labelled: Vec<(String, u32)> = order_lines(market, order_id)
        .into_iter()
        .map(|(item, _)| {
            let q =
                market.mfn.labelled(order_id, &item) + market.shipping.labelled(order_id, &item);
            (item, q)
        })
        .collect();
    if let Some(order) = market.orders.iter_mut().find(|o| o["orderId"] == order_id) {
        set_fulfilled(order, |item| {
            labelled
                .iter()
                .find(|(i, _)| i == item)
                .map_or(0, |(_, q)| u64::from(*q))
        });
    }
}

/// Shows `done(item)` units of each of the order's items as fulfilled (at most those ordered):
/// the order is SHIPPED when every unit is, PARTIALLY_SHIPPED otherwise, updated now. Both ways
/// an order ships set it: a label bought through Amazon, a package confirmed.
pub(crate) fn set_fulfilled(order: &mut Value, done: impl Fn(&str) -> u64) {
    let mut all = true;
    if let Some(lines) = order["orderItems"].as_array_mut() {
        for line in lines {
            let ordered = line["quantityOrdered"].as_u64().unwrap_or(0);
            let done = line["orderItemId"].as_str().map_or(0, &done).min(ordered);
            all &= done == ordered;
            line["fulfillment"]["quantityFulfilled"] = json!(done);
            line["fulfillment"]["quantityUnfulfilled"] = json!(ordered - done);
        }
    }
    order["fulfillment"]["fulfillmentStatus"] =
        json!(if all { "SHIPPED" } else { "PARTIALLY_SHIPPED" });
    order["lastUpdatedTime"] = json!(Utc::now().to_rfc3339());
}

pub(crate) fn order_lines(market: &Market, order_id: &str) -> Vec<(String, u64)> {
    market
        .orders
        .iter()
        .find(|o| o["orderId"] == order_id)
        .and_then(|o| o["orderItems"].as_array())
        .map(|lines| {
            lines
                .iter()
                .filter_map(|l| {
                    Some((
                        l["orderItemId"].as_str()?.to_owned(),
                        l["quantityOrdered"].as_u64()?,
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Amazon's rule for Transparency items: every unit shipped carries its own code, and no code
/// twice in the order; an item outside the program takes none. `items`: (order item id,
/// quantity, codes). The message says what is wrong, naming no code.
pub(crate) fn check_transparency(
    order: &Value,
    items: &[(String, u32, Vec<String>)],
) -> Result<(), String> {
    let lines = order["orderItems"].as_array().cloned().unwrap_or_default();
    let mut seen = std::collections::HashSet::new();
    for (id, quantity, codes) in items {
        let Some(line) = lines.iter().find(|l| l["orderItemId"] == id.as_str()) else {
            continue;
        };
        let program = line["programs"]
            .as_array()
            .is_some_and(|p| p.iter().any(|x| x == "TRANSPARENCY"));
        if !program && !codes.is_empty() {
            return Err(format!(
                "Item {id} is not in the Transparency program: it takes no transparency codes."
            ));
        }
        if program && codes.len() != *quantity as usize {
            return Err(format!(
                "Item {id} is a Transparency item: {quantity} unit(s) need {quantity} transparency code(s), {} given.",
                codes.len()
            ));
        }
        for c in codes {
            if c.trim().is_empty() || !seen.insert(c.as_str()) {
                return Err(format!(
                    "Item {id}: every transparency code must be given once, and none empty."
                ));
            }
        }
    }
    Ok(())
}
