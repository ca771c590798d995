//! What every Shipping API v2 operation shares: its names and quota buckets, the shipping
//! business, the error bodies with `details`, and the run of a request.

use std::collections::HashMap;

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use packline_spapi::endpoints::{self, SHIPPING_BUSINESSES as BUSINESS_IDS};
use packline_spapi::throttle::UsagePlan;
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::books::{Logged, Replay};
use crate::carriers::Service;
use crate::market::{self, Market, Shared, admit, lock};

pub(super) const GET_RATES: &str = endpoints::GET_RATES.name;
pub(super) const PURCHASE_SHIPMENT: &str = endpoints::PURCHASE_SHIPMENT.name;
pub(super) const GET_SHIPMENT_DOCUMENTS: &str = endpoints::GET_SHIPMENT_DOCUMENTS.name;
pub(super) const CANCEL_SHIPMENT: &str = endpoints::CANCEL_SHIPMENT.name;
pub(super) const GET_TRACKING: &str = endpoints::GET_TRACKING.name;
pub(super) const GET_UNMANIFESTED_SHIPMENTS: &str = endpoints::GET_UNMANIFESTED_SHIPMENTS.name;
pub(super) const GENERATE_COLLECTION_FORM: &str = endpoints::GENERATE_COLLECTION_FORM.name;
pub(super) const GET_COLLECTION_FORM: &str = endpoints::GET_COLLECTION_FORM.name;

/// The quota bucket of an operation: its own, apart from Merchant Fulfillment's of the same name.
pub(super) fn bucket(operation: &'static str) -> &'static str {
    match operation {
        GET_RATES => "shippingV2.getRates",
        PURCHASE_SHIPMENT => "shippingV2.purchaseShipment",
        GET_SHIPMENT_DOCUMENTS => "shippingV2.getShipmentDocuments",
        CANCEL_SHIPMENT => "shippingV2.cancelShipment",
        GET_TRACKING => "shippingV2.getTracking",
        GET_UNMANIFESTED_SHIPMENTS => "shippingV2.getUnmanifestedShipments",
        GENERATE_COLLECTION_FORM => "shippingV2.generateCollectionForm",
        _ => "shippingV2.getCollectionForm",
    }
}

/// Tracking ids of v2 packages are drawn from this far along the carriers' serial range, so they
/// never meet those of Merchant Fulfillment labels (which count from 1).
pub(super) const TRACKING_OFFSET: u64 = 5_000_000;

/// The longest side any training carrier takes, in inches (so a price is always a number).
pub(super) const MAX_SIDE_IN: f64 = 108.0;

/// The label formats sold, as the model names them.
pub(super) const FORMATS: [&str; 3] = ["ZPL", "PNG", "PDF"];
pub(super) const DPI: u64 = 203;
pub(super) const PAGE_LAYOUTS: [&str; 1] = ["DEFAULT"];

/// The model's default shipping business, when a request names none.
pub(super) const DEFAULT_BUSINESS: &str = "AmazonShipping_UK";

/// The shipping business a request is for, as sent (the model's default when absent), for the
/// request log.
pub(super) fn business_sent(headers: &HeaderMap) -> String {
    headers
        .get("x-amzn-shipping-business-id")
        .map_or(DEFAULT_BUSINESS.to_owned(), |v| {
            v.to_str().unwrap_or("(not text)").to_owned()
        })
}

/// Rates for an order are quoted only by its marketplace's shipping business: a US order rated
/// under the UK's (the model's default, when the header is left out) is refused.
pub(super) fn check_business(
    market: &Market,
    headers: &HeaderMap,
    order_id: &str,
) -> Result<(), Response> {
    let sent = business_sent(headers);
    let Some(order) = market.orders.iter().find(|o| o["orderId"] == order_id) else {
        return Ok(());
    };
    let marketplace = order["salesChannel"]["marketplaceId"]
        .as_str()
        .unwrap_or_default();
    // A marketplace without a business of its own takes any.
    match endpoints::business_of_marketplace(marketplace) {
        Some(b) if b != sent => Err(invalid(
            &format!("The order's marketplace {marketplace} is shipped by {b}, not by {sent}."),
            "Send x-amzn-shipping-business-id of the order's marketplace.",
        )),
        _ => Ok(()),
    }
}

/// A request's work: its answer and what the log keeps, or the refusal.
pub(super) type Done = Result<(Value, Logged), Response>;

/// An SP-API error body: `message` says what is wrong (naming a field, never a value that could
/// be personal), `details` what to do.
pub(super) fn error(status: StatusCode, code: &str, message: &str, details: &str) -> Response {
    (
        status,
        axum::Json(json!({ "errors": [{ "code": code, "message": message, "details": details }] })),
    )
        .into_response()
}

/// Every error of this API carries `details`, also the refusals shared with the other APIs
/// (access, quota, injected 5xx), which then say `""` as Amazon's do. Other answers pass as
/// they are (a malformed or truncated one stays damaged).
pub(super) async fn with_details(response: Response) -> Response {
    let status = response.status();
    if status.is_success() {
        return response;
    }
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let bytes = match serde_json::from_slice::<Value>(&bytes) {
        Ok(mut v) if v["errors"].is_array() => {
            for e in v["errors"].as_array_mut().into_iter().flatten() {
                if e.is_object() && e.get("details").is_none() {
                    e["details"] = json!("");
                }
            }
            axum::body::Bytes::from(v.to_string())
        }
        _ => bytes,
    };
    let mut parts = parts;
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// Runs one request as Merchant Fulfillment's are run (fault, work, log, late or damaged
/// answer), with this API's error details.
pub(super) async fn serve(
    m: Shared,
    operation: &'static str,
    plan: UsagePlan,
    params: HashMap<String, String>,
    work: impl FnOnce(&mut Market) -> (Response, Logged),
) -> Response {
    with_details(market::serve(m, operation, plan, params, work).await).await
}

pub(super) fn invalid(message: &str, details: &str) -> Response {
    error(StatusCode::BAD_REQUEST, "InvalidInput", message, details)
}

pub(super) fn not_found(message: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "NotFound",
        message,
        "Check the identifier against the answer that gave it.",
    )
}

pub(super) fn ok(body: Value) -> Response {
    axum::Json(body).into_response()
}

/// Admits the request (access token, quota) and checks `x-amzn-shipping-business-id`.
pub(super) fn enter(
    market: &mut Market,
    headers: &HeaderMap,
    operation: &'static str,
) -> Option<Response> {
    if let Some(refused) = admit(market, headers, bucket(operation), UsagePlan::SHIPPING_V2) {
        return Some(refused);
    }
    match headers.get("x-amzn-shipping-business-id") {
        None => None,
        Some(v) if v.to_str().is_ok_and(|b| BUSINESS_IDS.contains(&b)) => None,
        Some(_) => Some(invalid(
            "x-amzn-shipping-business-id is not an Amazon shipping business.",
            "Use one of the model's values, such as AmazonShipping_US, or leave the header out.",
        )),
    }
}

/// The request body as JSON: an empty body is `empty`, anything not JSON is refused.
pub(super) fn json_body(body: &[u8], what: &str, empty: Option<Value>) -> Result<Value, String> {
    if body.iter().all(u8::is_ascii_whitespace)
        && let Some(e) = empty
    {
        return Ok(e);
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v) if v.is_object() => Ok(v),
        _ => Err(format!("The request body is not a {what} (a JSON object).")),
    }
}

pub(super) fn common_params() -> HashMap<String, String> {
    HashMap::from([("api".to_owned(), "shippingV2".to_owned())])
}

pub(super) fn items_param(items: &[(String, u32)]) -> String {
    items
        .iter()
        .map(|(i, q)| format!("{i}:{q}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Training control: the v2 shipments (ids, order, package references, tracking, state,
/// collection form); no personal data.
/// Request bodies kept for `/_training/bodies`.
pub(super) const KEPT_BODIES: usize = 200;

pub(super) fn keep_body(m: &Shared, definition: &'static str, body: &[u8]) {
    let mut market = lock(m);
    let kept = &mut market.shipping.bodies;
    if kept.len() == KEPT_BODIES {
        kept.pop_front();
    }
    kept.push_back((definition, String::from_utf8_lossy(body).into_owned()));
}

pub(super) fn number(v: &Value, path: &str) -> Result<f64, String> {
    match v.as_f64() {
        Some(x) if x.is_finite() && x > 0.0 => Ok(x),
        Some(_) => Err(format!("{path} must be greater than zero.")),
        None => Err(format!("{path} is required and must be a number.")),
    }
}

pub(super) fn string<'a>(v: &'a Value, path: &str) -> Result<&'a str, String> {
    match v.as_str() {
        Some(s) if !s.trim().is_empty() => Ok(s),
        Some(_) => Err(format!("{path} must not be empty.")),
        None => Err(format!("{path} is required and must be a string.")),
    }
}

/// Checks an `Address` as the model describes it; the message names the field, not its value.
pub(super) fn address(a: &Value, path: &str) -> Result<(), String> {
    if !a.is_object() {
        return Err(format!("{path} is required and must be an Address."));
    }
    for (field, max) in [
        ("name", 50),
        ("addressLine1", 60),
        ("city", 60),
        ("stateOrRegion", 60),
        ("postalCode", 20),
        ("countryCode", 2),
    ] {
        let v = string(&a[field], &format!("{path}.{field}"))?;
        if v.chars().count() > max {
            return Err(format!("{path}.{field} is longer than {max} characters."));
        }
    }
    for (field, min, max) in [
        ("addressLine2", 1, 60),
        ("addressLine3", 1, 60),
        ("companyName", 0, 100),
        ("email", 0, 64),
        ("phoneNumber", 1, 20),
    ] {
        match &a[field] {
            Value::Null => {}
            Value::String(s) if (min..=max).contains(&s.chars().count()) => {}
            _ => {
                return Err(format!(
                    "{path}.{field} must be a string of {min} to {max} characters."
                ));
            }
        }
    }
    Ok(())
}

/// An opaque id: the first `len` hex digits of a hash of `parts`.
pub(super) fn opaque(parts: &[&str], len: usize) -> String {
    let mut h = sha2::Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    h.finalize()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<String>()
        .chars()
        .take(len)
        .collect()
}

pub(super) fn carrier_id(s: &Service) -> String {
    s.carrier.to_ascii_uppercase()
}

/// The idempotency key of a request, if it sent one.
pub(super) fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, Response> {
    match headers.get("x-amzn-IdempotencyKey") {
        None => Ok(None),
        Some(v) => match v.to_str() {
            Ok(k) if !k.trim().is_empty() && k.len() <= 256 => Ok(Some(k.to_owned())),
            _ => Err(invalid(
                "x-amzn-IdempotencyKey must be 1 to 256 visible ASCII characters.",
                "Use a UUID, one per purchase, and the same one for its retries.",
            )),
        },
    }
}

/// The answer to a key used before: the first answer again for the same body, a refusal for
/// another.
pub(super) fn replayed(
    book: &HashMap<String, Replay>,
    key: Option<&str>,
    body: &Value,
) -> Option<(Response, Logged)> {
    let first = book.get(key?)?;
    if first.body == *body {
        let mut params = first.params.clone();
        params.push(("replay", "true".into()));
        Some((ok(first.answer.clone()), params))
    } else {
        // No source found says how Amazon answers a key reused with another request (Amazon
        // Pay answers DuplicateIdempotencyKey); this answers as Amazon's own validation does,
        // 400 InvalidInput, and never performs the second request.
        Some((
            invalid(
                "The idempotency key was used for another request: a key stands for one request, and its retries must send the same body.",
                "Use a new x-amzn-IdempotencyKey for a new request.",
            ),
            vec![("replay", "false".into())],
        ))
    }
}

/// A request under an idempotency key: the first answer again if the key was seen, else the
/// work done and (when it succeeded) its answer kept under the key in `book`.
pub(super) fn once_per_key(
    market: &mut Market,
    book: fn(&mut Market) -> &mut HashMap<String, Replay>,
    key: Option<String>,
    body: Value,
    work: fn(&mut Market, &Value) -> Done,
) -> (Response, Logged) {
    if let Some(answer) = replayed(book(market), key.as_deref(), &body) {
        return answer;
    }
    match work(market, &body) {
        Ok((answer, mut params)) => {
            if let Some(k) = key {
                book(market).insert(
                    k,
                    Replay {
                        body,
                        answer: answer.clone(),
                        params: params.clone(),
                    },
                );
            }
            params.push(("replay", "false".into()));
            (ok(answer), params)
        }
        Err(refused) => (refused, vec![]),
    }
}

pub(super) fn benefits() -> Value {
    json!({ "includedBenefits": ["CLAIMS_PROTECTED"], "excludedBenefits": [] })
}
