//! The training marketplace's HTTP server: the subset of the SP-API packline uses, in the official
//! JSON shapes, with Amazon's quotas enforced. It binds loopback only and serves made-up data.
//!
//! Served so far: the LWA token endpoint and Orders v2026-01-01 `searchOrders` (validation,
//! pagination, `includedData`, quotas with 429 and `x-amzn-RateLimit-Limit`), plus a request log
//! at `/_training/requests` (operation, parameters, status; never personal data).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::seed::OrderGenerator;
use crate::amazon::throttle::{TokenBucket, UsagePlan};

/// How the training marketplace behaves.
#[derive(Clone, Debug)]
pub struct MarketplaceConfig {
    pub orders: usize,
    pub seed: u64,
    /// Time runs this many times faster for quotas (1.0 = Amazon's real quotas).
    pub quota_scale: f64,
    /// When the generated orders start (they spread over the following three days).
    pub start: DateTime<Utc>,
}

/// One request, as the request log keeps it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LoggedRequest {
    pub operation: String,
    pub params: HashMap<String, String>,
    pub status: u16,
    pub at: DateTime<Utc>,
}

struct Market {
    cfg: MarketplaceConfig,
    orders: Vec<Value>,
    buckets: HashMap<&'static str, TokenBucket>,
    log: Vec<LoggedRequest>,
    tokens_issued: u64,
}

type Shared = Arc<Mutex<Market>>;

/// Builds the marketplace's routes over freshly generated, seeded orders.
pub fn router(cfg: MarketplaceConfig) -> Router {
    let mut generator = OrderGenerator::new(cfg.seed, cfg.start);
    let orders = (0..cfg.orders).map(|_| generator.order()).collect();
    let market = Market {
        cfg,
        orders,
        buckets: HashMap::new(),
        log: Vec::new(),
        tokens_issued: 0,
    };
    Router::new()
        .route("/auth/o2/token", post(token))
        .route("/orders/2026-01-01/orders", get(search_orders))
        .route("/_training/requests", get(requests))
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

fn lock(m: &Shared) -> std::sync::MutexGuard<'_, Market> {
    // A panic while holding the lock cannot leave the data half-changed in a way that matters
    // for a training server; keep serving.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn sp_error(status: StatusCode, code: &str, message: &str) -> Response {
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

/// Login with Amazon: any client id, secret and refresh token are accepted.
async fn token(State(m): State<Shared>, Form(f): Form<TokenForm>) -> Response {
    let mut market = lock(&m);
    let ok = f.grant_type.as_deref() == Some("refresh_token")
        && f.refresh_token.as_deref().is_some_and(|s| !s.is_empty())
        && f.client_id.as_deref().is_some_and(|s| !s.is_empty())
        && f.client_secret.as_deref().is_some_and(|s| !s.is_empty());
    let status = if ok { 200 } else { 400 };
    market.log.push(LoggedRequest {
        operation: "lwaToken".into(),
        params: HashMap::from([(
            "grant_type".to_owned(),
            f.grant_type.clone().unwrap_or_default(),
        )]),
        status,
        at: Utc::now(),
    });
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
    let mut market = lock(&m);
    let (status, response) = search_orders_inner(&mut market, &headers, &params);
    market.log.push(LoggedRequest {
        operation: "searchOrders".into(),
        params,
        status: status.as_u16(),
        at: Utc::now(),
    });
    let mut response = response;
    let rate = UsagePlan::SEARCH_ORDERS.scaled(market.cfg.quota_scale).rate;
    if let Ok(v) = HeaderValue::from_str(&format!("{rate}")) {
        response.headers_mut().insert("x-amzn-RateLimit-Limit", v);
    }
    response
}

fn search_orders_inner(
    market: &mut Market,
    headers: &HeaderMap,
    params: &HashMap<String, String>,
) -> (StatusCode, Response) {
    let authorised = headers
        .get("x-amz-access-token")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("Atza|"));
    if !authorised {
        let s = StatusCode::FORBIDDEN;
        return (
            s,
            sp_error(s, "Unauthorized", "Access to requested resource is denied."),
        );
    }
    let plan = UsagePlan::SEARCH_ORDERS.scaled(market.cfg.quota_scale);
    let now = Instant::now();
    let bucket = market
        .buckets
        .entry("searchOrders")
        .or_insert_with(|| TokenBucket::new(plan, now));
    if !bucket.try_take(now) {
        let s = StatusCode::TOO_MANY_REQUESTS;
        return (
            s,
            sp_error(
                s,
                "QuotaExceeded",
                "You exceeded your quota for the requested resource.",
            ),
        );
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
        if has("BUYER") {
            map.insert(
                "buyer".into(),
                json!({ "buyerEmail": "training-buyer@marketplace.invalid", "buyerName": "Training Buyer" }),
            );
        }
    }
    o
}
