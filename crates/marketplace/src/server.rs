//! The training marketplace's HTTP server: the subset of the SP-API packline uses, in the official
//! JSON shapes, with Amazon's quotas enforced. It binds loopback only and serves made-up data.
//!
//! Served: the LWA token endpoint, Orders v2026-01-01 `searchOrders` (validation, pagination,
//! `includedData`, quotas with 429 and `x-amzn-RateLimit-Limit`) and `getOrder`, Orders v0
//! `confirmShipment`, the Tokens API, Merchant Fulfillment v0 (see `mfn`), Messaging v1 (see
//! `messaging`), Shipping API v2 (see `shipping`), the Reports API for the returns report (see `reports`), injected faults, and
//! training controls: a request log at `/_training/requests` (operation, parameters, status;
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

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::seed::OrderGenerator;
use packline_spapi::endpoints::{self, Endpoint, Method};
use packline_spapi::throttle::{TokenBucket, UsagePlan};

/// How the training marketplace behaves.
#[derive(Clone, Debug)]
pub struct MarketplaceConfig {
    pub orders: usize,
    pub seed: u64,
    /// Time runs this many times faster for quotas (1.0 = Amazon's real quotas).
    pub quota_scale: f64,
    /// When the generated orders start (they spread over the following three days).
    pub start: DateTime<Utc>,
    /// Share of searchOrders, Merchant Fulfillment, Shipping API v2, Messaging and Reports requests answered with an injected fault,
    /// 0.0–1.0.
    pub fault_rate: f64,
    /// The faults to draw from.
    pub faults: Vec<Fault>,
    /// How long a `timeout` or `slow` fault keeps the caller waiting.
    pub fault_delay: std::time::Duration,
    /// New pending orders arriving per minute while the marketplace runs.
    pub new_orders_per_minute: f64,
    /// Share of arrivals that come with the cancellation of an earlier pending order.
    pub cancel_rate: f64,
    /// Share of arrivals that come with a buyer's request to cancel an earlier pending order
    /// (the order stays unshipped; the seller decides).
    pub cancel_request_rate: f64,
    /// Some catalogue items need serial numbers or Transparency codes at packing.
    pub unit_codes: bool,
    /// How long a Shipping API v2 rate (its `requestToken`) can be purchased; Amazon's is 10
    /// minutes, after which purchaseShipment answers `TOKEN_EXPIRED`.
    pub rate_validity: std::time::Duration,
}

impl MarketplaceConfig {
    /// Amazon's validity of a Shipping API v2 rate.
    pub const RATE_VALIDITY: std::time::Duration = std::time::Duration::from_secs(600);
}

/// A fault the marketplace can inject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    TooManyRequests,
    InternalError,
    Unavailable,
    Timeout,
    Malformed,
    Truncated,
    /// The real answer, whole, only after the fault delay (a slow Amazon, not a failing one).
    Slow,
}

impl Fault {
    pub const ALL: [Fault; 7] = [
        Fault::TooManyRequests,
        Fault::InternalError,
        Fault::Unavailable,
        Fault::Timeout,
        Fault::Malformed,
        Fault::Truncated,
        Fault::Slow,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Fault::TooManyRequests => "429",
            Fault::InternalError => "500",
            Fault::Unavailable => "503",
            Fault::Timeout => "timeout",
            Fault::Malformed => "malformed",
            Fault::Truncated => "truncated",
            Fault::Slow => "slow",
        }
    }

    /// Parses a comma-separated list such as `429,500,503,timeout,malformed,truncated`.
    pub fn parse_list(s: &str) -> Result<Vec<Fault>, String> {
        s.split(',')
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(|x| {
                Fault::ALL
                    .into_iter()
                    .find(|f| f.name() == x)
                    .ok_or_else(|| {
                        format!(
                            "unknown fault {x:?}: use 429, 500, 503, timeout, malformed, truncated, slow"
                        )
                    })
            })
            .collect()
    }
}

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

pub(super) struct Market {
    pub(super) cfg: MarketplaceConfig,
    pub(super) orders: Vec<Value>,
    buckets: HashMap<&'static str, TokenBucket>,
    pub(super) log: Vec<LoggedRequest>,
    tokens_issued: u64,
    faults_rng: rand_chacha::ChaCha8Rng,
    generator: OrderGenerator,
    started: Instant,
    arrived: u64,
    /// Confirmed own-carrier packages by order: (package reference, tracking, items).
    pub(super) shipments: HashMap<String, Vec<Confirmed>>,
    /// What each Restricted Data Token was issued for: (method, path) pairs, paths possibly
    /// generic (`/mfn/v0/shipments/{shipmentId}`).
    pub(super) rdt_scopes: HashMap<String, Vec<(String, String)>>,
    /// Labels bought through Merchant Fulfillment.
    pub(super) mfn: super::mfn::MfnBook,
    /// Rates, shipments and collection forms of Shipping API v2.
    pub(super) shipping: super::shipping::ShippingBook,
    /// Reports asked for (the returns report) and their documents.
    pub(super) reports: super::reports::ReportBook,
    /// Faults asked for through `/_training/faults`, per operation, next first.
    queued_faults: HashMap<String, std::collections::VecDeque<Fault>>,
    /// Ship+ orders (`/_training/orders/{id}/ship-plus`): Amazon refuses confirmShipment for
    /// them with a 400.
    ship_plus: std::collections::HashSet<String>,
}

impl Market {
    /// The fault for this answer of `operation`: one queued through `/_training/faults`, else
    /// one drawn at the configured rate.
    pub(super) fn next_fault(&mut self, operation: &str) -> Option<Fault> {
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
    pub(super) fn advance(&mut self) {
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
fn request_cancellation(order: &mut serde_json::Value) {
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

pub(super) type Shared = Arc<Mutex<Market>>;

/// Builds the marketplace's routes over freshly generated, seeded orders.
pub fn router(cfg: MarketplaceConfig) -> Router {
    let mut generator = OrderGenerator::new(cfg.seed, cfg.start);
    generator.unit_codes = cfg.unit_codes;
    let orders = (0..cfg.orders).map(|_| generator.order()).collect();
    let faults_rng = rand_chacha::ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x5eed_fa17);
    let market = Market {
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
        mfn: super::mfn::MfnBook::default(),
        shipping: super::shipping::ShippingBook::default(),
        reports: super::reports::ReportBook::default(),
        queued_faults: HashMap::new(),
        ship_plus: Default::default(),
    };
    Router::<Shared>::new()
        .route("/auth/o2/token", post(token))
        .endpoint(&endpoints::SEARCH_ORDERS, search_orders)
        .route("/_training/requests", get(requests))
        .route("/_training/orders", get(book))
        .route("/_training/confirmations", get(confirmations))
        .endpoint(&endpoints::CONFIRM_SHIPMENT, confirm_shipment)
        .endpoint(&endpoints::GET_ORDER, get_order)
        .endpoint(
            &endpoints::CREATE_RESTRICTED_DATA_TOKEN,
            restricted_data_token,
        )
        .route("/_training/orders/{id}/{change}", post(change_order))
        .route("/_training/faults/{operation}/{fault}", post(queue_fault))
        .route("/_training/marketplace/{id}", post(move_marketplace))
        .merge(super::mfn::routes())
        .merge(super::shipping::routes())
        .merge(super::messaging::routes())
        .merge(super::reports::routes())
        .with_state(Arc::new(Mutex::new(market)))
}

/// Routes of SP-API operations, at the method and path `amazon::endpoints` declares for them:
/// the table the client sends from.
pub(super) trait EndpointRoutes {
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

pub(super) fn lock(m: &Shared) -> std::sync::MutexGuard<'_, Market> {
    // A panic while holding the lock cannot leave the data half-changed in a way that matters
    // for a training server; keep serving.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub(super) fn sp_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({ "errors": [{ "code": code, "message": message }] })),
    )
        .into_response()
}

#[derive(Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    refresh_token: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// Login with Amazon documents no usage plan; this one only names the rate header of its
/// answers.
const LWA_TOKEN: UsagePlan = UsagePlan {
    rate: 1.0,
    burst: 10.0,
};

/// Login with Amazon: any client id, secret and refresh token are accepted. Injected faults
/// apply here too (the token endpoint fails like any other).
async fn token(State(m): State<Shared>, Form(f): Form<TokenForm>) -> Response {
    let params = HashMap::from([(
        "grant_type".to_owned(),
        f.grant_type.clone().unwrap_or_default(),
    )]);
    super::mfn::serve(m, endpoints::LWA_TOKEN, LWA_TOKEN, params, move |market| {
        (token_answer(market, &f), vec![])
    })
    .await
}

fn token_answer(market: &mut Market, f: &TokenForm) -> Response {
    let ok = f.grant_type.as_deref() == Some("refresh_token")
        && f.refresh_token.as_deref().is_some_and(|s| !s.is_empty())
        && f.client_id.as_deref().is_some_and(|s| !s.is_empty())
        && f.client_secret.as_deref().is_some_and(|s| !s.is_empty());
    if !ok {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({
                "error": "invalid_request",
                "error_description": "grant_type=refresh_token, refresh_token, client_id and client_secret are required"
            })),
        )
            .into_response();
    }
    market.tokens_issued += 1;
    Json(json!({
        "access_token": format!("Atza|training-{}", market.tokens_issued),
        "refresh_token": f.refresh_token,
        "token_type": "bearer",
        "expires_in": 3600
    }))
    .into_response()
}

async fn requests(State(m): State<Shared>) -> Json<Vec<LoggedRequest>> {
    Json(lock(&m).log.clone())
}

/// Training control: the order book as it stands (ids, statuses, times; no personal data).
async fn book(State(m): State<Shared>) -> Json<Vec<Value>> {
    let market = lock(&m);
    Json(
        market
            .orders
            .iter()
            .map(|o| {
                json!({
                    "orderId": o["orderId"],
                    "fulfillmentStatus": o["fulfillment"]["fulfillmentStatus"],
                    "createdTime": o["createdTime"],
                    "lastUpdatedTime": o["lastUpdatedTime"],
                })
            })
            .collect(),
    )
}

fn list(params: &HashMap<String, String>, name: &str) -> Vec<String> {
    params
        .get(name)
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn time_param(
    params: &HashMap<String, String>,
    name: &str,
) -> Result<Option<DateTime<Utc>>, String> {
    params
        .get(name)
        .map(|v| {
            DateTime::parse_from_rfc3339(v)
                .map(Into::into)
                .map_err(|_| format!("{name} must be an ISO 8601 date-time"))
        })
        .transpose()
}

fn order_time(o: &Value, field: &str) -> Option<DateTime<Utc>> {
    o[field]
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(Into::into)
}

/// Orders v2026-01-01 `searchOrders`.
async fn search_orders(
    State(m): State<Shared>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let (fault, delay, rate, (status, response)) = {
        let mut guard = lock(&m);
        let market = &mut *guard;
        market.advance();
        let fault = market.next_fault(endpoints::SEARCH_ORDERS.name);
        let rate = endpoints::SEARCH_ORDERS
            .plan
            .scaled(market.cfg.quota_scale)
            .rate;
        let answer = match fault {
            Some(Fault::TooManyRequests) => {
                let s = StatusCode::TOO_MANY_REQUESTS;
                (
                    s,
                    sp_error(
                        s,
                        "QuotaExceeded",
                        "You exceeded your quota for the requested resource.",
                    ),
                )
            }
            Some(Fault::InternalError) => {
                let s = StatusCode::INTERNAL_SERVER_ERROR;
                (
                    s,
                    sp_error(
                        s,
                        "InternalFailure",
                        "We encountered an internal error. Please try again.",
                    ),
                )
            }
            Some(Fault::Unavailable) | Some(Fault::Timeout) => {
                let s = StatusCode::SERVICE_UNAVAILABLE;
                (
                    s,
                    sp_error(
                        s,
                        "ServiceUnavailable",
                        "Temporary overloading or maintenance of the server.",
                    ),
                )
            }
            Some(Fault::Malformed) => (
                StatusCode::OK,
                (
                    StatusCode::OK,
                    [("content-type", "application/json")],
                    "{\"orders\": [ {\"orderId\": ",
                )
                    .into_response(),
            ),
            Some(Fault::Truncated) | Some(Fault::Slow) | None => {
                search_orders_inner(market, &headers, &params)
            }
        };
        let delay = market.cfg.fault_delay;
        market.log.push(LoggedRequest {
            operation: endpoints::SEARCH_ORDERS.name.into(),
            params,
            status: answer.0.as_u16(),
            at: Utc::now(),
            fault: fault.map(|f| f.name().to_owned()),
        });
        (fault, delay, rate, answer)
    };
    if matches!(fault, Some(Fault::Timeout) | Some(Fault::Slow)) {
        // Outlast the caller's patience, or only try it; the lock is not held while waiting.
        tokio::time::sleep(delay).await;
    }
    let mut response = if fault == Some(Fault::Truncated) && status == StatusCode::OK {
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap_or_default();
        let half = bytes.slice(..bytes.len() / 2);
        (StatusCode::OK, [("content-type", "application/json")], half).into_response()
    } else {
        response
    };
    if let Ok(v) = HeaderValue::from_str(&format!("{rate}")) {
        response.headers_mut().insert("x-amzn-RateLimit-Limit", v);
    }
    response
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConfirmBody {
    marketplace_id: Option<String>,
    package_detail: Option<ConfirmPackage>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConfirmPackage {
    package_reference_id: Option<String>,
    carrier_code: Option<String>,
    tracking_number: Option<String>,
    ship_date: Option<String>,
    order_items: Option<Vec<ConfirmLine>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConfirmLine {
    order_item_id: Option<String>,
    quantity: Option<u32>,
    #[serde(default)]
    transparency_codes: Vec<String>,
}

/// Orders v0 `confirmShipment`: 204, or an SP-API error naming what is wrong. Injected faults
/// apply (a timeout or a damaged answer after the confirmation was taken).
async fn confirm_shipment(
    State(m): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    // The package's reference and units, `item:quantity,…` (ids and counts only).
    let detail: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let package = &detail["packageDetail"];
    let items: Vec<String> = package["orderItems"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|i| {
                    format!(
                        "{}:{}",
                        i["orderItemId"].as_str().unwrap_or("?"),
                        i["quantity"].as_u64().unwrap_or(0)
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let params = HashMap::from([
        ("orderId".to_owned(), id.clone()),
        (
            "packageReferenceId".to_owned(),
            package["packageReferenceId"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        ),
        ("items".to_owned(), items.join(",")),
    ]);
    super::mfn::serve(
        m,
        endpoints::CONFIRM_SHIPMENT.name,
        endpoints::CONFIRM_SHIPMENT.plan,
        params,
        move |market| {
            let (_, response, tracking) = confirm_inner(market, &id, &headers, &body);
            (
                response,
                vec![("trackingNumber", tracking.unwrap_or_default())],
            )
        },
    )
    .await
}

fn confirm_inner(
    market: &mut Market,
    id: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> (StatusCode, Response, Option<String>) {
    let fail = |s: StatusCode, code: &str, msg: &str| (s, sp_error(s, code, msg), None);
    if let Some(refused) = admit(
        market,
        headers,
        endpoints::CONFIRM_SHIPMENT.name,
        endpoints::CONFIRM_SHIPMENT.plan,
    ) {
        return (refused.status(), refused, None);
    }
    let bad = |msg: &str| fail(StatusCode::BAD_REQUEST, "InvalidInput", msg);
    let Ok(req) = serde_json::from_slice::<ConfirmBody>(body) else {
        return bad("The request body is not a ConfirmShipmentRequest.");
    };
    if req.marketplace_id.as_deref().is_none_or(str::is_empty) {
        return bad("marketplaceId is required.");
    }
    let Some(p) = req.package_detail else {
        return bad("packageDetail is required.");
    };
    let (Some(reference), Some(_carrier), Some(tracking), Some(ship_date), Some(lines)) = (
        p.package_reference_id,
        p.carrier_code,
        p.tracking_number,
        p.ship_date,
        p.order_items,
    ) else {
        return bad(
            "packageDetail needs packageReferenceId, carrierCode, trackingNumber, shipDate and orderItems.",
        );
    };
    if DateTime::parse_from_rfc3339(&ship_date).is_err() {
        return bad("shipDate must be an ISO 8601 date-time.");
    }
    let Some(order) = market.orders.iter_mut().find(|o| o["orderId"] == id) else {
        return fail(
            StatusCode::NOT_FOUND,
            "NotFound",
            "The order was not found.",
        );
    };
    if market.ship_plus.contains(id) {
        return bad("Ship+ orders do not support shipment confirmation.");
    }
    if order["fulfillment"]["fulfillmentStatus"] == "CANCELLED" {
        return bad("The order is cancelled and cannot be confirmed.");
    }
    let confirmed = market.shipments.get(id).cloned().unwrap_or_default();
    // A package whose label was bought through Shipping API v2 is confirmed already (Amazon:
    // "you don't need to confirm the shipment"); confirmed again under its package reference,
    // it is edited: the Transparency codes given are checked as for any confirmation and kept
    // with the package (the v2 purchase has no field for them). Its status stays as it is.
    if market.shipping.tracking_ids(id).any(|t| t == tracking) {
        let others: Vec<&Confirmed> = confirmed
            .iter()
            .filter(|c| c.reference != reference)
            .collect();
        let coded = match checked_lines(order, &lines, &others) {
            Ok(c) => c,
            Err(msg) => return bad(&msg),
        };
        if coded.iter().any(|(_, _, codes)| !codes.is_empty()) {
            let entry = market.shipments.entry(id.to_owned()).or_default();
            entry.retain(|c| c.reference != reference);
            entry.push(Confirmed {
                reference,
                tracking: tracking.clone(),
                items: coded,
                body: String::from_utf8_lossy(body).into_owned(),
            });
        }
        return (
            StatusCode::NO_CONTENT,
            StatusCode::NO_CONTENT.into_response(),
            Some(tracking),
        );
    }
    let again = confirmed.iter().find(|c| c.reference == reference);
    if order["fulfillment"]["fulfillmentStatus"] == "SHIPPED" {
        // The same package confirmed again (a retry) is accepted, and so is the tracking id
        // of a purchased (not voided) Merchant Fulfillment label, which Amazon confirmed
        // already; another package is not.
        let bought_here = market.mfn.tracking_ids(id).any(|t| t == tracking)
            || market.shipping.tracking_ids(id).any(|t| t == tracking);
        return if bought_here || again.is_some_and(|c| c.tracking == tracking) {
            (
                StatusCode::NO_CONTENT,
                StatusCode::NO_CONTENT.into_response(),
                Some(tracking),
            )
        } else {
            bad("The order is already shipped.")
        };
    }
    let items = order["orderItems"].as_array().cloned().unwrap_or_default();
    // The order's other packages (a package confirmed again replaces itself): together they
    // may not carry more units than were ordered, nor one Transparency code twice.
    let others: Vec<&Confirmed> = confirmed
        .iter()
        .filter(|c| c.reference != reference)
        .collect();
    let coded = match checked_lines(order, &lines, &others) {
        Ok(c) => c,
        Err(msg) => return bad(&msg),
    };
    let mut fulfilled: HashMap<String, u64> = HashMap::new();
    for (item, q, _) in others.iter().flat_map(|c| &c.items).chain(&coded) {
        *fulfilled.entry(item.clone()).or_default() += u64::from(*q);
    }
    for i in &items {
        let id = i["orderItemId"].as_str().unwrap_or_default();
        if fulfilled.get(id).copied().unwrap_or(0) > i["quantityOrdered"].as_u64().unwrap_or(0) {
            return bad(
                "The order's packages together carry more units of an item than were ordered.",
            );
        }
    }
    let mut all = true;
    if let Some(lines) = order["orderItems"].as_array_mut() {
        for line in lines {
            let ordered = line["quantityOrdered"].as_u64().unwrap_or(0);
            let done = line["orderItemId"]
                .as_str()
                .and_then(|i| fulfilled.get(i))
                .copied()
                .unwrap_or(0)
                .min(ordered);
            all &= done == ordered;
            line["fulfillment"]["quantityFulfilled"] = json!(done);
            line["fulfillment"]["quantityUnfulfilled"] = json!(ordered - done);
        }
    }
    order["fulfillment"]["fulfillmentStatus"] =
        json!(if all { "SHIPPED" } else { "PARTIALLY_SHIPPED" });
    order["lastUpdatedTime"] = json!(Utc::now().to_rfc3339());
    let entry = market.shipments.entry(id.to_owned()).or_default();
    entry.retain(|c| c.reference != reference);
    entry.push(Confirmed {
        reference,
        tracking: tracking.clone(),
        items: coded,
        body: String::from_utf8_lossy(body).into_owned(),
    });
    (
        StatusCode::NO_CONTENT,
        StatusCode::NO_CONTENT.into_response(),
        Some(tracking),
    )
}

/// One package confirmed with confirmShipment.
#[derive(Clone, Debug, Default)]
pub(super) struct Confirmed {
    pub reference: String,
    pub tracking: String,
    /// (order item id, quantity, Transparency codes).
    pub items: Vec<(String, u32, Vec<String>)>,
    /// The request body as sent (no personal data: ids, carrier, tracking, codes), for
    /// `/_training/confirmations`.
    pub body: String,
}

/// A confirmation's order items checked against the order: each names an item of it with a
/// quantity between 1 and the quantity ordered, carries a Transparency code per unit of a
/// Transparency item (and none otherwise), and no code that another package of the order has.
/// (order item id, quantity, codes), or the refusal's message.
fn checked_lines(
    order: &Value,
    lines: &[ConfirmLine],
    others: &[&Confirmed],
) -> Result<Vec<(String, u32, Vec<String>)>, String> {
    let items = order["orderItems"].as_array().cloned().unwrap_or_default();
    for line in lines {
        let known = items
            .iter()
            .find(|i| i["orderItemId"].as_str() == line.order_item_id.as_deref());
        match (known, line.quantity) {
            (Some(i), Some(q))
                if q >= 1 && u64::from(q) <= i["quantityOrdered"].as_u64().unwrap_or(0) => {}
            (None, _) => return Err("orderItems names an item that is not in the order.".into()),
            _ => {
                return Err(
                    "orderItems quantity must be between 1 and the quantity ordered.".into(),
                );
            }
        }
    }
    let coded: Vec<(String, u32, Vec<String>)> = lines
        .iter()
        .map(|l| {
            (
                l.order_item_id.clone().unwrap_or_default(),
                l.quantity.unwrap_or(0),
                l.transparency_codes.clone(),
            )
        })
        .collect();
    check_transparency(order, &coded)?;
    let seen: std::collections::HashSet<&String> = others
        .iter()
        .flat_map(|c| &c.items)
        .flat_map(|(_, _, codes)| codes)
        .collect();
    if coded
        .iter()
        .flat_map(|(_, _, codes)| codes)
        .any(|c| seen.contains(c))
    {
        return Err("A transparency code is already on another package of the order.".into());
    }
    Ok(coded)
}

/// Training control: every package confirmed with confirmShipment (and each v2 package whose
/// Transparency codes were sent that way): order, package reference, tracking, the items with
/// their codes, and the request body as sent. No personal data.
async fn confirmations(State(m): State<Shared>) -> Json<Vec<Value>> {
    let market = lock(&m);
    let mut out = Vec::new();
    for (order, packages) in &market.shipments {
        for c in packages {
            out.push(json!({
                "orderId": order,
                "packageReferenceId": c.reference,
                "trackingNumber": c.tracking,
                "items": c.items.iter().map(|(id, q, codes)| json!({
                    "orderItemId": id,
                    "quantity": q,
                    "transparencyCodes": codes,
                })).collect::<Vec<_>>(),
                "body": c.body,
            }));
        }
    }
    Json(out)
}

/// Amazon's rule for Transparency items: every unit shipped carries its own code, and no code
/// twice in the order; an item outside the program takes none. `items`: (order item id,
/// quantity, codes). The message says what is wrong, naming no code.
pub(super) fn check_transparency(
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

/// Checks the access token and takes a quota token; the refusal to send back otherwise.
pub(super) fn admit(
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

fn logged(
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

/// Orders v2026-01-01 `getOrder`.
async fn get_order(
    State(m): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let mut guard = lock(&m);
    let market = &mut *guard;
    let mut logged_params = params.clone();
    logged_params.insert("orderId".into(), id.clone());
    const OP: Endpoint = endpoints::GET_ORDER;
    if let Some(refused) = admit(market, &headers, OP.name, OP.plan) {
        return logged(market, OP.name, logged_params, refused);
    }
    let included = list(&params, "includedData");
    let response = match market.orders.iter().find(|o| o["orderId"] == id.as_str()) {
        Some(o) => Json(json!({ "order": shape(o, &included) })).into_response(),
        None => sp_error(
            StatusCode::NOT_FOUND,
            "NotFound",
            "The order was not found.",
        ),
    };
    logged(market, OP.name, logged_params, response)
}

/// Tokens API `createRestrictedDataToken`: any well-formed request gets a training token.
async fn restricted_data_token(
    State(m): State<Shared>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let mut guard = lock(&m);
    let market = &mut *guard;
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    let scopes: Vec<(String, String)> = parsed
        .as_ref()
        .and_then(|v| v["restrictedResources"].as_array())
        .map(|a| {
            a.iter()
                .filter_map(|r| {
                    let method = r["method"]
                        .as_str()
                        .filter(|m| matches!(*m, "GET" | "PUT" | "POST" | "DELETE"))?;
                    Some((method.to_owned(), r["path"].as_str()?.to_owned()))
                })
                .collect()
        })
        .unwrap_or_default();
    let resources: Vec<String> = scopes.iter().map(|(m, p)| format!("{m} {p}")).collect();
    let params = HashMap::from([("restrictedResources".to_owned(), resources.join(","))]);
    const OP: Endpoint = endpoints::CREATE_RESTRICTED_DATA_TOKEN;
    if let Some(refused) = admit(market, &headers, OP.name, OP.plan) {
        return logged(market, OP.name, params, refused);
    }
    let response = if resources.is_empty() || resources.len() > 50 {
        sp_error(
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            "restrictedResources needs 1 to 50 entries, each with a method and a path.",
        )
    } else {
        market.tokens_issued += 1;
        let token = format!("Atz.sprdt|training-{}", market.tokens_issued);
        market.rdt_scopes.insert(token.clone(), scopes);
        Json(json!({
            "restrictedDataToken": token,
            "expiresIn": 3600
        }))
        .into_response()
    };
    logged(market, OP.name, params, response)
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
        && !super::messaging::faultable().any(|o| o == operation)
        && !super::reports::faultable().any(|o| o == operation)
        && !super::shipping::faultable().any(|o| o == operation)
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

/// Training control: `cancel` an order, or `readdress` it (a new recipient), as of now; or
/// make it a Ship+ order (`ship-plus`), which confirmShipment refuses.
/// `POST /_training/marketplace/{id}`: every order in the book is now of marketplace `id` (a
/// training floor for a site outside the US, e.g. `A13V1IB3VIYZZH`, Amazon.fr).
async fn move_marketplace(State(m): State<Shared>, Path(id): Path<String>) -> StatusCode {
    if id.is_empty() || id.len() > 20 || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return StatusCode::BAD_REQUEST;
    }
    let mut market = lock(&m);
    for o in &mut market.orders {
        o["salesChannel"]["marketplaceId"] = json!(id);
        if let Some(ch) = o["salesChannel"].as_object_mut() {
            ch.remove("marketplaceName");
        }
    }
    StatusCode::NO_CONTENT
}

async fn change_order(
    State(m): State<Shared>,
    Path((id, change)): Path<(String, String)>,
) -> StatusCode {
    let mut market = lock(&m);
    let now = Utc::now().to_rfc3339();
    if change == "ship-plus" {
        if !market.orders.iter().any(|o| o["orderId"] == id.as_str()) {
            return StatusCode::NOT_FOUND;
        }
        market.ship_plus.insert(id);
        return StatusCode::NO_CONTENT;
    }
    let Some(order) = market
        .orders
        .iter_mut()
        .find(|o| o["orderId"] == id.as_str())
    else {
        return StatusCode::NOT_FOUND;
    };
    match change.as_str() {
        "cancel" => {
            order["fulfillment"]["fulfillmentStatus"] = json!("CANCELLED");
        }
        "cancel-request" => request_cancellation(order),
        // Amazon's per-unit requirements, on every item of the order.
        "transparency" | "serial-required" => {
            if let Some(items) = order["orderItems"].as_array_mut() {
                for item in items {
                    if change == "transparency" {
                        item["programs"] = json!(["TRANSPARENCY"]);
                    } else {
                        item["fulfillment"]["packing"]["serialNumberRequirement"] =
                            json!({ "requirementType": "REQUIRED" });
                    }
                }
            }
        }
        // A broken record, as an independent stand-in served one: a control character in the
        // first item's SKU; `mend` takes every control character out of the SKUs again.
        "broken-sku" => {
            if let Some(sku) = order["orderItems"][0]["product"]["sellerSku"].as_str() {
                order["orderItems"][0]["product"]["sellerSku"] = json!(format!("{sku}\u{7}"));
            }
        }
        "mend" => {
            if let Some(items) = order["orderItems"].as_array_mut() {
                for item in items {
                    if let Some(sku) = item["product"]["sellerSku"].as_str() {
                        let mended: String = sku.chars().filter(|c| !c.is_control()).collect();
                        item["product"]["sellerSku"] = json!(mended);
                    }
                }
            }
        }
        "readdress" => {
            order["recipient"]["deliveryAddress"]["name"] = json!("Readdressed Trainee");
            order["recipient"]["deliveryAddress"]["addressLine1"] = json!("1 New Street");
        }
        _ => return StatusCode::NOT_FOUND,
    }
    order["lastUpdatedTime"] = json!(now);
    StatusCode::NO_CONTENT
}

fn search_orders_inner(
    market: &mut Market,
    headers: &HeaderMap,
    params: &HashMap<String, String>,
) -> (StatusCode, Response) {
    const OP: Endpoint = endpoints::SEARCH_ORDERS;
    if let Some(refused) = admit(market, headers, OP.name, OP.plan) {
        return (refused.status(), refused);
    }
    let bad = |msg: String| {
        let s = StatusCode::BAD_REQUEST;
        (s, sp_error(s, "InvalidInput", &msg))
    };
    let created_after = match time_param(params, "createdAfter") {
        Ok(v) => v,
        Err(e) => return bad(e),
    };
    let updated_after = match time_param(params, "lastUpdatedAfter") {
        Ok(v) => v,
        Err(e) => return bad(e),
    };
    if created_after.is_some() == updated_after.is_some() {
        return bad("You must provide exactly one of createdAfter and lastUpdatedAfter.".into());
    }
    let page_size = match params.get("maxResultsPerPage").map(|v| v.parse::<usize>()) {
        None => 100,
        Some(Ok(n)) if (1..=100).contains(&n) => n,
        Some(_) => return bad("maxResultsPerPage must be between 1 and 100.".into()),
    };
    let offset = match params.get("paginationToken") {
        None => 0,
        Some(t) => match t
            .strip_prefix("training-page-")
            .and_then(|n| n.parse::<usize>().ok())
        {
            Some(n) => n,
            None => return bad("paginationToken is not valid.".into()),
        },
    };
    let statuses = list(params, "fulfillmentStatuses");
    let fulfilled_by = list(params, "fulfilledBy");
    let included = list(params, "includedData");
    let matching: Vec<&Value> = market
        .orders
        .iter()
        .filter(|o| match (created_after, updated_after) {
            (Some(t), _) => order_time(o, "createdTime").is_some_and(|c| c >= t),
            (_, Some(t)) => order_time(o, "lastUpdatedTime").is_some_and(|u| u >= t),
            _ => true,
        })
        .filter(|o| {
            statuses.is_empty()
                || o["fulfillment"]["fulfillmentStatus"]
                    .as_str()
                    .is_some_and(|s| statuses.iter().any(|x| x == s))
        })
        .filter(|o| {
            fulfilled_by.is_empty()
                || o["fulfillment"]["fulfilledBy"]
                    .as_str()
                    .is_some_and(|s| fulfilled_by.iter().any(|x| x == s))
        })
        .collect();
    let page: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(page_size)
        .map(|o| shape(o, &included))
        .collect();
    let mut body = json!({ "orders": page });
    if offset + page_size < matching.len() {
        body["pagination"] =
            json!({ "nextToken": format!("training-page-{}", offset + page_size) });
    }
    body["lastUpdatedBefore"] = json!(Utc::now().to_rfc3339());
    (StatusCode::OK, Json(body).into_response())
}

/// An order with only the datasets asked for in `includedData`, as Amazon sends it.
fn shape(order: &Value, included: &[String]) -> Value {
    let mut o = order.clone();
    let has = |d: &str| included.iter().any(|x| x == d);
    if let Some(map) = o.as_object_mut() {
        if !has("RECIPIENT") {
            map.remove("recipient");
        }
        if !has("FULFILLMENT") {
            map.remove("fulfillment");
        }
        if !has("CANCELLATION")
            && let Some(items) = map.get_mut("orderItems").and_then(Value::as_array_mut)
        {
            for item in items.iter_mut().filter_map(Value::as_object_mut) {
                item.remove("cancellation");
            }
        }
        if has("BUYER") {
            map.insert(
                "buyer".into(),
                json!({ "buyerEmail": "training-buyer@marketplace.invalid", "buyerName": "Training Buyer" }),
            );
        }
    }
    o
}

#[cfg(test)]
mod tests {
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
