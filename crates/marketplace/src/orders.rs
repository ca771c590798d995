//! Orders API v2026-01-01 in the training marketplace: `searchOrders` (validation, pagination,
//! `includedData`, quotas) and `getOrder`, each order shaped with the datasets asked for.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use packline_spapi::endpoints::{self, Endpoint};
use serde_json::{Value, json};

use crate::config::Fault;
use crate::market::{LoggedRequest, Market, Shared, admit, lock, logged, sp_error};

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
pub(crate) async fn search_orders(
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

/// Orders v2026-01-01 `getOrder`.
pub(crate) async fn get_order(
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
