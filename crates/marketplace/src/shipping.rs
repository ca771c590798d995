//! Shipping API v2 in the training marketplace, for Amazon orders (`channelType = AMAZON`): rates,
//! label purchases with real ZPL / PNG / PDF labels, documents, voids, tracking and collection
//! forms, in the official model's paths and shapes (`shippingV2.json`), within its usage plan
//! (80 a second, burst 100, one bucket per operation). It never writes an address or a name to
//! the request log or into an error.
//!
//! - Rates reuse the Merchant Fulfillment services and prices (`mfn`), so both APIs offer the same
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

use std::collections::HashMap;
use std::time::Instant;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use chrono::{DateTime, Duration, NaiveTime, Utc};
use serde_json::{Value, json};
use sha2::Digest as _;

use super::carrier_label::{self, CollectionFormText, LabelText};
use super::mfn::{self, SERVICES, Service};
use super::server::{EndpointRoutes as _, Market, Shared, admit, lock};
use packline_spapi::endpoints::{self, SHIPPING_BUSINESSES as BUSINESS_IDS};
use packline_spapi::throttle::UsagePlan;

const GET_RATES: &str = endpoints::GET_RATES.name;
const PURCHASE_SHIPMENT: &str = endpoints::PURCHASE_SHIPMENT.name;
const GET_SHIPMENT_DOCUMENTS: &str = endpoints::GET_SHIPMENT_DOCUMENTS.name;
const CANCEL_SHIPMENT: &str = endpoints::CANCEL_SHIPMENT.name;
const GET_TRACKING: &str = endpoints::GET_TRACKING.name;
const GET_UNMANIFESTED_SHIPMENTS: &str = endpoints::GET_UNMANIFESTED_SHIPMENTS.name;
const GENERATE_COLLECTION_FORM: &str = endpoints::GENERATE_COLLECTION_FORM.name;
const GET_COLLECTION_FORM: &str = endpoints::GET_COLLECTION_FORM.name;

/// The operations served here (their model operationIds), for `/_training/faults`. Merchant
/// Fulfillment v0 has a `cancelShipment` too: a fault queued for it goes to the next cancel of
/// either API. Log entries of this API carry `api = "shippingV2"`.
pub(super) fn faultable() -> impl Iterator<Item = &'static str> {
    endpoints::ALL
        .into_iter()
        .filter(|e| e.path.starts_with("/shipping/v2/"))
        .map(|e| e.name)
}

/// The quota bucket of an operation: its own, apart from Merchant Fulfillment's of the same name.
fn bucket(operation: &'static str) -> &'static str {
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
const TRACKING_OFFSET: u64 = 5_000_000;

/// The longest side any training carrier takes, in inches (so a price is always a number).
const MAX_SIDE_IN: f64 = 108.0;

/// The label formats sold, as the model names them.
const FORMATS: [&str; 3] = ["ZPL", "PNG", "PDF"];
const DPI: u64 = 203;
const PAGE_LAYOUTS: [&str; 1] = ["DEFAULT"];

/// The model's default shipping business, when a request names none.
const DEFAULT_BUSINESS: &str = "AmazonShipping_UK";

/// The shipping business a request is for, as sent (the model's default when absent), for the
/// request log.
fn business_sent(headers: &HeaderMap) -> String {
    headers
        .get("x-amzn-shipping-business-id")
        .map_or(DEFAULT_BUSINESS.to_owned(), |v| {
            v.to_str().unwrap_or("(not text)").to_owned()
        })
}

/// Rates for an order are quoted only by its marketplace's shipping business: a US order rated
/// under the UK's (the model's default, when the header is left out) is refused.
fn check_business(market: &Market, headers: &HeaderMap, order_id: &str) -> Result<(), Response> {
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

/// Rates, shipments and collection forms of Shipping API v2.
#[derive(Default)]
pub(crate) struct ShippingBook {
    quotes: Vec<Quote>,
    shipments: Vec<Shipment>,
    forms: Vec<Form>,
    /// First purchases by idempotency key.
    purchases: HashMap<String, Replay>,
    /// First collection forms by idempotency key.
    form_keys: HashMap<String, Replay>,
    quoted: u64,
    bought: u64,
    packages: u64,
    /// The last request bodies of the operations that take one, by the model's definition
    /// name (`GET /_training/bodies`), so a test can check them against the model. For an
    /// Amazon order they hold no buyer's data; at most [`KEPT_BODIES`].
    bodies: std::collections::VecDeque<(&'static str, String)>,
    /// Percent added to every rate quoted from now on (`/_training/rates/surcharge/{percent}`):
    /// a carrier's price rise between a labeler's choice and the purchase.
    surcharge_percent: u32,
}

impl ShippingBook {
    /// Units of an order item on live (not voided) v2 labels.
    pub(crate) fn labelled(&self, order_id: &str, item_id: &str) -> u32 {
        self.shipments
            .iter()
            .filter(|s| s.order_id == order_id && !s.voided)
            .flat_map(|s| &s.packages)
            .flat_map(|p| &p.items)
            .filter(|(i, _)| i == item_id)
            .map(|(_, q)| *q)
            .sum()
    }

    /// Tracking ids of an order's live v2 packages.
    pub(crate) fn tracking_ids<'a>(&'a self, order_id: &'a str) -> impl Iterator<Item = &'a str> {
        self.shipments
            .iter()
            .filter(move |s| s.order_id == order_id && !s.voided)
            .flat_map(|s| &s.packages)
            .map(|p| p.tracking.as_str())
    }
}

/// One getRates answer, kept for purchaseShipment.
struct Quote {
    token: String,
    order_id: String,
    ship_from: Value,
    parcels: Vec<Parcel>,
    offers: Vec<Offer>,
    expires: Instant,
    /// The shipment bought with this token.
    bought: Option<String>,
}

/// A package as rated.
struct Parcel {
    reference: String,
    items: Vec<(String, u32)>,
}

struct Offer {
    rate_id: String,
    service: &'static Service,
    promise: Value,
}

struct Shipment {
    id: String,
    order_id: String,
    service: &'static Service,
    ship_from: Value,
    packages: Vec<Package>,
    voided: bool,
    /// The collection form it is on.
    form: Option<String>,
}

struct Package {
    reference: String,
    tracking: String,
    items: Vec<(String, u32)>,
    format: &'static str,
    /// Base64 of the label file as bought.
    contents: String,
    /// What the label shows, to draw it in another format.
    from: Vec<String>,
    to: Vec<String>,
    promised: String,
    status: &'static str,
    events: Vec<(&'static str, DateTime<Utc>)>,
}

struct Form {
    id: String,
    carrier_id: String,
    location: String,
    at: DateTime<Utc>,
    pdf: String,
}

/// What the request log keeps of an answer, beyond the request's own parameters.
type Logged = Vec<(&'static str, String)>;
/// A request's work: its answer and what the log keeps, or the refusal.
type Done = Result<(Value, Logged), Response>;

/// A first answer kept under its idempotency key.
struct Replay {
    body: Value,
    answer: Value,
    params: Logged,
}

pub(super) fn routes() -> Router<Shared> {
    Router::<Shared>::new()
        .endpoint(&endpoints::GET_RATES, get_rates)
        .endpoint(&endpoints::PURCHASE_SHIPMENT, purchase)
        .endpoint(&endpoints::GET_SHIPMENT_DOCUMENTS, documents)
        .endpoint(&endpoints::CANCEL_SHIPMENT, cancel)
        .endpoint(&endpoints::GET_TRACKING, tracking)
        .endpoint(&endpoints::GET_UNMANIFESTED_SHIPMENTS, unmanifested)
        .endpoint(&endpoints::GENERATE_COLLECTION_FORM, generate_form)
        .endpoint(&endpoints::GET_COLLECTION_FORM, get_form)
        .route("/_training/rates/expire", post(expire_rates))
        .route("/_training/rates/surcharge/{percent}", post(surcharge))
        .route(
            "/_training/tracking/{tracking_id}/{status}",
            post(set_tracking),
        )
        .route("/_training/shipments", get(shipments))
        .route("/_training/bodies", get(bodies))
}

/// An SP-API error body: `message` says what is wrong (naming a field, never a value that could
/// be personal), `details` what to do.
fn error(status: StatusCode, code: &str, message: &str, details: &str) -> Response {
    (
        status,
        axum::Json(json!({ "errors": [{ "code": code, "message": message, "details": details }] })),
    )
        .into_response()
}

/// Every error of this API carries `details`, also the refusals shared with the other APIs
/// (access, quota, injected 5xx), which then say `""` as Amazon's do. Other answers pass as
/// they are (a malformed or truncated one stays damaged).
async fn with_details(response: Response) -> Response {
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
async fn serve(
    m: Shared,
    operation: &'static str,
    plan: UsagePlan,
    params: HashMap<String, String>,
    work: impl FnOnce(&mut Market) -> (Response, Logged),
) -> Response {
    with_details(mfn::serve(m, operation, plan, params, work).await).await
}

fn invalid(message: &str, details: &str) -> Response {
    error(StatusCode::BAD_REQUEST, "InvalidInput", message, details)
}

fn not_found(message: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "NotFound",
        message,
        "Check the identifier against the answer that gave it.",
    )
}

fn ok(body: Value) -> Response {
    axum::Json(body).into_response()
}

/// Admits the request (access token, quota) and checks `x-amzn-shipping-business-id`.
fn enter(market: &mut Market, headers: &HeaderMap, operation: &'static str) -> Option<Response> {
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
fn json_body(body: &[u8], what: &str, empty: Option<Value>) -> Result<Value, String> {
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

fn common_params() -> HashMap<String, String> {
    HashMap::from([("api".to_owned(), "shippingV2".to_owned())])
}

fn items_param(items: &[(String, u32)]) -> String {
    items
        .iter()
        .map(|(i, q)| format!("{i}:{q}"))
        .collect::<Vec<_>>()
        .join(",")
}

// ---------------------------------------------------------------------------------------------
// getRates

/// A validated `GetRatesRequest` for an Amazon order.
struct RatesRequest {
    order_id: String,
    ship_from: Value,
    ship_date: Option<DateTime<Utc>>,
    /// (package, weight in ounces, length × width × height in inches).
    packages: Vec<(Parcel, f64, (f64, f64, f64))>,
}

fn number(v: &Value, path: &str) -> Result<f64, String> {
    match v.as_f64() {
        Some(x) if x.is_finite() && x > 0.0 => Ok(x),
        Some(_) => Err(format!("{path} must be greater than zero.")),
        None => Err(format!("{path} is required and must be a number.")),
    }
}

fn string<'a>(v: &'a Value, path: &str) -> Result<&'a str, String> {
    match v.as_str() {
        Some(s) if !s.trim().is_empty() => Ok(s),
        Some(_) => Err(format!("{path} must not be empty.")),
        None => Err(format!("{path} is required and must be a string.")),
    }
}

/// Checks an `Address` as the model describes it; the message names the field, not its value.
fn address(a: &Value, path: &str) -> Result<(), String> {
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

fn rates_request(body: &Value) -> Result<RatesRequest, String> {
    let channel = &body["channelDetails"];
    if !channel.is_object() {
        return Err("channelDetails is required.".into());
    }
    match channel["channelType"].as_str() {
        Some("AMAZON") => {}
        Some("EXTERNAL") => {
            return Err("channelDetails.channelType EXTERNAL is not served here: the training marketplace rates its own Amazon orders (AMAZON).".into());
        }
        _ => {
            return Err(
                "channelDetails.channelType is required and must be AMAZON or EXTERNAL.".into(),
            );
        }
    }
    let order_id = string(
        &channel["amazonOrderDetails"]["orderId"],
        "channelDetails.amazonOrderDetails.orderId",
    )?;
    address(&body["shipFrom"], "shipFrom")?;
    let ship_date = match &body["shipDate"] {
        Value::Null => None,
        Value::String(s) => Some(
            DateTime::parse_from_rfc3339(s)
                .map_err(|_| "shipDate must be an ISO 8601 date-time.".to_owned())?
                .with_timezone(&Utc),
        ),
        _ => return Err("shipDate must be an ISO 8601 date-time.".into()),
    };
    let list = body["packages"]
        .as_array()
        .filter(|l| !l.is_empty())
        .ok_or("packages is required and needs at least one package.")?;
    let mut packages = Vec::with_capacity(list.len());
    for (i, p) in list.iter().enumerate() {
        let at = format!("packages[{i}]");
        if !p.is_object() {
            return Err(format!("{at} must be a Package."));
        }
        let reference = string(
            &p["packageClientReferenceId"],
            &format!("{at}.packageClientReferenceId"),
        )?;
        if packages
            .iter()
            .any(|(q, _, _): &(Parcel, f64, _)| q.reference == reference)
        {
            return Err(format!(
                "{at}.packageClientReferenceId is used by another package of the request."
            ));
        }
        let d = &p["dimensions"];
        if !d.is_object() {
            return Err(format!("{at}.dimensions is required."));
        }
        let per_inch = match d["unit"].as_str() {
            Some("INCH") => 1.0,
            Some("CENTIMETER") => 2.54,
            _ => return Err(format!("{at}.dimensions.unit must be INCH or CENTIMETER.")),
        };
        let dims = (
            number(&d["length"], &format!("{at}.dimensions.length"))? / per_inch,
            number(&d["width"], &format!("{at}.dimensions.width"))? / per_inch,
            number(&d["height"], &format!("{at}.dimensions.height"))? / per_inch,
        );
        let w = &p["weight"];
        if !w.is_object() {
            return Err(format!("{at}.weight is required."));
        }
        let value = number(&w["value"], &format!("{at}.weight.value"))?;
        let weight_oz = match w["unit"].as_str() {
            Some("OUNCE") => value,
            Some("POUND") => value * 16.0,
            Some("GRAM") => value / 28.349_523_125,
            Some("KILOGRAM") => value * 1000.0 / 28.349_523_125,
            _ => {
                return Err(format!(
                    "{at}.weight.unit must be GRAM, KILOGRAM, OUNCE or POUND."
                ));
            }
        };
        let insured = &p["insuredValue"];
        if !(insured["value"]
            .as_f64()
            .is_some_and(|v| v.is_finite() && v >= 0.0)
            && insured["unit"].as_str().is_some_and(|u| u.len() == 3))
        {
            return Err(format!(
                "{at}.insuredValue is required, with a value of zero or more and a three-letter unit."
            ));
        }
        let lines = p["items"]
            .as_array()
            .filter(|l| !l.is_empty())
            .ok_or_else(|| format!("{at}.items is required and needs at least one item."))?;
        let mut items = Vec::with_capacity(lines.len());
        for (j, it) in lines.iter().enumerate() {
            let at = format!("{at}.items[{j}]");
            let id = string(&it["itemIdentifier"], &format!("{at}.itemIdentifier"))
                .map_err(|e| format!("{e} For an Amazon order it is the order item id."))?;
            let q = it["quantity"]
                .as_u64()
                .filter(|q| (1..=u64::from(u32::MAX)).contains(q))
                .ok_or_else(|| format!("{at}.quantity must be a whole number of at least 1."))?;
            items.push((id.to_owned(), q as u32));
        }
        packages.push((
            Parcel {
                reference: reference.to_owned(),
                items,
            },
            weight_oz,
            dims,
        ));
    }
    Ok(RatesRequest {
        order_id: order_id.to_owned(),
        ship_from: body["shipFrom"].clone(),
        ship_date,
        packages,
    })
}

/// Units of an order item already taken: on live labels of either API, or on packages
/// confirmed with confirmShipment.
fn taken(market: &Market, order_id: &str, item_id: &str) -> u32 {
    let confirmed: u32 = market
        .shipments
        .get(order_id)
        .into_iter()
        .flatten()
        .flat_map(|c| &c.items)
        .filter(|(i, _, _)| i == item_id)
        .map(|(_, q, _)| *q)
        .sum();
    market.mfn.labelled(order_id, item_id) + market.shipping.labelled(order_id, item_id) + confirmed
}

/// The order may take these packages: it exists, is not cancelled, and has the units left.
fn check_units(market: &Market, order_id: &str, parcels: &[&Parcel]) -> Result<(), Response> {
    let Some(order) = market.orders.iter().find(|o| o["orderId"] == order_id) else {
        return Err(not_found("The order was not found."));
    };
    if order["fulfillment"]["fulfillmentStatus"] == "CANCELLED" {
        return Err(invalid(
            "The order is cancelled.",
            "A cancelled order is not shipped.",
        ));
    }
    let lines = order["orderItems"].as_array().cloned().unwrap_or_default();
    let mut asked: Vec<(&str, u32)> = Vec::new();
    for (i, p) in parcels.iter().enumerate() {
        for (j, (id, q)) in p.items.iter().enumerate() {
            if !lines.iter().any(|l| l["orderItemId"] == id.as_str()) {
                return Err(invalid(
                    &format!(
                        "packages[{i}].items[{j}].itemIdentifier is not an item of the order."
                    ),
                    "Use the order item ids of the order.",
                ));
            }
            match asked.iter_mut().find(|(a, _)| a == id) {
                Some((_, n)) => *n = n.saturating_add(*q),
                None => asked.push((id, *q)),
            }
        }
    }
    for (id, q) in asked {
        let ordered = lines
            .iter()
            .find(|l| l["orderItemId"] == id)
            .and_then(|l| l["quantityOrdered"].as_u64())
            .unwrap_or(0) as u32;
        let taken = taken(market, order_id, id);
        if q.saturating_add(taken) > ordered {
            return Err(invalid(
                &format!(
                    "The packages carry {q} unit(s) of item {id}, but only {} of {ordered} are left to ship ({taken} on labels or confirmed packages).",
                    ordered.saturating_sub(taken)
                ),
                "Cancel a shipment that carries them, or rate fewer units.",
            ));
        }
    }
    Ok(())
}

/// An opaque id: the first `len` hex digits of a hash of `parts`.
fn opaque(parts: &[&str], len: usize) -> String {
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

fn carrier_id(s: &Service) -> String {
    s.carrier.to_ascii_uppercase()
}

fn document_specifications() -> Value {
    FORMATS
        .iter()
        .map(|f| {
            json!({
                "format": f,
                "size": { "width": 4, "length": 6, "unit": "INCH" },
                "printOptions": [{
                    "supportedDPIs": [DPI],
                    "supportedPageLayouts": PAGE_LAYOUTS,
                    "supportedFileJoiningOptions": [false, true],
                    "supportedDocumentDetails": [{ "name": "LABEL", "isMandatory": true }]
                }]
            })
        })
        .collect()
}

fn benefits() -> Value {
    json!({ "includedBenefits": ["CLAIMS_PROTECTED"], "excludedBenefits": [] })
}

/// The promise of a service for packages handed over on `ship`'s day.
fn promise(s: &Service, ship: DateTime<Utc>) -> Value {
    let at = |days: i64, h: u32| {
        (ship.date_naive() + Duration::days(days))
            .and_time(NaiveTime::from_hms_opt(h, 0, 0).unwrap_or_default())
            .and_utc()
    };
    json!({
        "deliveryWindow": { "start": mfn::rfc3339(at(s.days.0, 8)), "end": mfn::rfc3339(at(s.days.1, 20)) },
        "pickupWindow": { "start": mfn::rfc3339(ship), "end": mfn::rfc3339(ship + Duration::hours(8)) }
    })
}

async fn get_rates(
    State(m): State<Shared>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    keep_body(&m, "GetRatesRequest", &body);
    let parsed = json_body(&body, "GetRatesRequest", None);
    let mut params = common_params();
    params.insert("business".into(), business_sent(&headers));
    if let Ok(b) = &parsed {
        if let Some(id) = b["channelDetails"]["amazonOrderDetails"]["orderId"].as_str() {
            params.insert("orderId".into(), id.to_owned());
        }
        if let Some(list) = b["packages"].as_array() {
            let refs: Vec<&str> = list
                .iter()
                .filter_map(|p| p["packageClientReferenceId"].as_str())
                .collect();
            let items: Vec<String> = list
                .iter()
                .flat_map(|p| p["items"].as_array().into_iter().flatten())
                .map(|i| {
                    format!(
                        "{}:{}",
                        i["itemIdentifier"].as_str().unwrap_or("?"),
                        i["quantity"].as_u64().unwrap_or(0)
                    )
                })
                .collect();
            params.insert("packageClientReferenceId".into(), refs.join(","));
            params.insert("items".into(), items.join(","));
        }
    }
    serve(m, GET_RATES, UsagePlan::SHIPPING_V2, params, |market| {
        if let Some(refused) = enter(market, &headers, GET_RATES) {
            return (refused, vec![]);
        }
        let req = match parsed.and_then(|b| rates_request(&b)) {
            Ok(r) => r,
            Err(msg) => {
                return (
                    invalid(&msg, "Send a GetRatesRequest as the model describes it."),
                    vec![],
                );
            }
        };
        let parcels: Vec<&Parcel> = req.packages.iter().map(|(p, _, _)| p).collect();
        if let Err(refused) = check_units(market, &req.order_id, &parcels) {
            return (refused, vec![]);
        }
        if let Err(refused) = check_business(market, &headers, &req.order_id) {
            return (refused, vec![]);
        }
        market.shipping.quoted += 1;
        let seed = market.cfg.seed.to_string();
        let token = opaque(&["rates", &seed, &market.shipping.quoted.to_string()], 30);
        let ship = mfn::whole_seconds(req.ship_date.unwrap_or_else(Utc::now));
        let heaviest = req
            .packages
            .iter()
            .map(|(_, w, _)| *w)
            .fold(0.0_f64, f64::max);
        let longest = req
            .packages
            .iter()
            .map(|(_, _, (l, w, h))| l.max(*w).max(*h))
            .fold(0.0_f64, f64::max);
        let billable: Vec<f64> = req
            .packages
            .iter()
            .map(|(_, w, d)| Service::billable_lb(*w, Some(*d)))
            .collect();
        let mut rates = Vec::new();
        let mut ineligible = Vec::new();
        let mut offers = Vec::new();
        let surcharge = market.shipping.surcharge_percent;
        for s in &SERVICES {
            if longest > MAX_SIDE_IN {
                ineligible.push(json!({
                    "carrierId": carrier_id(s),
                    "carrierName": s.carrier,
                    "serviceId": s.id,
                    "serviceName": s.name,
                    "ineligibilityReasons": [{
                        "code": "SIZE_RESTRICTIONS",
                        "message": "A package is longer than 108 inches on a side."
                    }]
                }));
                continue;
            }
            if heaviest > s.max_oz {
                ineligible.push(json!({
                    "carrierId": carrier_id(s),
                    "carrierName": s.carrier,
                    "serviceId": s.id,
                    "serviceName": s.name,
                    "ineligibilityReasons": [{
                        "code": "WEIGHT_RESTRICTIONS",
                        "message": "A package is heavier than this service accepts."
                    }]
                }));
                continue;
            }
            let total: f64 = billable.iter().map(|b| s.price(*b, 0.0)).sum();
            let total = total * (1.0 + f64::from(surcharge) / 100.0);
            let total = (total * 100.0).round() / 100.0;
            let rate_id = opaque(&["rate", &token, s.id], 29);
            let promise = promise(s, ship);
            rates.push(json!({
                "rateId": rate_id,
                "carrierId": carrier_id(s),
                "carrierName": s.carrier,
                "serviceId": s.id,
                "serviceName": s.name,
                "billedWeight": { "value": billable.iter().sum::<f64>(), "unit": "POUND" },
                "totalCharge": { "value": total, "unit": "USD" },
                "promise": promise,
                "supportedDocumentSpecifications": document_specifications(),
                "requiresAdditionalInputs": false,
                "paymentType": "PAY_THROUGH_AMAZON",
                "benefits": benefits(),
            }));
            offers.push(Offer {
                rate_id,
                service: s,
                promise,
            });
        }
        let validity = market.cfg.rate_validity;
        market.shipping.quotes.push(Quote {
            token: token.clone(),
            order_id: req.order_id,
            ship_from: req.ship_from,
            parcels: req.packages.into_iter().map(|(p, _, _)| p).collect(),
            offers,
            expires: Instant::now() + validity,
            bought: None,
        });
        let payload = json!({
            "requestToken": token,
            "rates": rates,
            "ineligibleRates": ineligible,
        });
        (
            ok(json!({ "payload": payload })),
            vec![("requestToken", token)],
        )
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// purchaseShipment

/// The idempotency key of a request, if it sent one.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, Response> {
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
fn replayed(
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
fn once_per_key(
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

/// The label format asked for, if the rate offers the specification as asked.
fn document_format(spec: &Value) -> Result<&'static str, String> {
    const P: &str = "requestedDocumentSpecification";
    if !spec.is_object() {
        return Err(format!("{P} is required."));
    }
    let format = spec["format"]
        .as_str()
        .and_then(|f| FORMATS.iter().find(|x| **x == f))
        .copied()
        .ok_or_else(|| format!("{P}.format is required and must be one of the rate's supported formats: ZPL, PNG or PDF."))?;
    let size = &spec["size"];
    let (w, l) = (size["width"].as_f64(), size["length"].as_f64());
    let fits = match size["unit"].as_str() {
        Some("INCH") => w == Some(4.0) && l == Some(6.0),
        Some("CENTIMETER") => {
            w.is_some_and(|w| (w - 10.16).abs() < 0.01)
                && l.is_some_and(|l| (l - 15.24).abs() < 0.01)
        }
        _ => false,
    };
    if !fits {
        return Err(format!(
            "{P}.size must be a supported size of the rate: width 4, length 6, unit INCH."
        ));
    }
    match &spec["dpi"] {
        Value::Null => {}
        v if v.as_u64() == Some(DPI) => {}
        _ => return Err(format!("{P}.dpi must be a supported DPI of the rate: 203.")),
    }
    match &spec["pageLayout"] {
        Value::Null => {}
        Value::String(s) if PAGE_LAYOUTS.contains(&s.as_str()) => {}
        _ => {
            return Err(format!(
                "{P}.pageLayout must be a supported page layout of the rate: DEFAULT."
            ));
        }
    }
    if !spec["needFileJoining"].is_boolean() {
        return Err(format!(
            "{P}.needFileJoining is required and must be true or false."
        ));
    }
    let types = spec["requestedDocumentTypes"]
        .as_array()
        .ok_or_else(|| format!("{P}.requestedDocumentTypes is required."))?;
    if !types.iter().any(|t| t == "LABEL") || types.iter().any(|t| t != "LABEL") {
        return Err(format!(
            "{P}.requestedDocumentTypes must be [\"LABEL\"]: the rate's only document is its label."
        ));
    }
    Ok(format)
}

/// Draws a label in a format of the model: the file's bytes.
fn draw(format: &str, text: &LabelText) -> Result<Vec<u8>, carrier_label::RenderError> {
    match format {
        "ZPL" => carrier_label::zpl203(text),
        "PDF" => carrier_label::pdf(text),
        _ => carrier_label::png203(text),
    }
}

fn from_lines(a: &Value) -> Vec<String> {
    let s = |f: &str| a[f].as_str().unwrap_or_default().to_owned();
    let mut lines = vec![s("name"), s("addressLine1")];
    for f in ["addressLine2", "addressLine3"] {
        if !s(f).is_empty() {
            lines.push(s(f));
        }
    }
    lines.push(
        [s("city"), s("stateOrRegion"), s("postalCode")]
            .join(" ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
    );
    lines.push(s("countryCode"));
    lines
}

fn label_text(service: &Service, p: &Package) -> LabelText {
    LabelText {
        from: p.from.clone(),
        to: p.to.clone(),
        carrier: service.carrier.to_owned(),
        service: service
            .name
            .trim_start_matches(&format!("{} ", service.carrier))
            .to_owned(),
        tracking: p.tracking.clone(),
        order_id: None,
        custom_text: None,
    }
}

fn package_document(p: &Package, format: &str, contents: String) -> Value {
    json!({
        "packageClientReferenceId": p.reference,
        "trackingId": p.tracking,
        "packageDocuments": [{ "type": "LABEL", "format": format, "contents": contents }]
    })
}

/// Buys the rate: the `PurchaseShipmentResponse` and what the log keeps of it.
fn buy(market: &mut Market, body: &Value) -> Result<(Value, Logged), Response> {
    let spec_help = "Choose a specification from the rate's supportedDocumentSpecifications.";
    let token = string(&body["requestToken"], "requestToken")
        .map_err(|m| invalid(&m, "Send the requestToken of a getRates answer."))?;
    let rate_id = string(&body["rateId"], "rateId")
        .map_err(|m| invalid(&m, "Send a rateId of the same getRates answer."))?;
    let format = document_format(&body["requestedDocumentSpecification"])
        .map_err(|m| invalid(&m, spec_help))?;
    if !matches!(&body["requestedValueAddedServices"], Value::Null)
        && body["requestedValueAddedServices"]
            .as_array()
            .is_none_or(|a| !a.is_empty())
    {
        return Err(invalid(
            "requestedValueAddedServices must be empty: the rates offer no value-added services.",
            "Leave requestedValueAddedServices out.",
        ));
    }
    let Some(q) = market.shipping.quotes.iter().position(|q| q.token == token) else {
        return Err(invalid(
            "requestToken is not a token of a getRates answer.",
            "Call getRates and purchase one of its rates.",
        ));
    };
    let quote = &market.shipping.quotes[q];
    if Instant::now() >= quote.expires {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "TOKEN_EXPIRED",
            &format!(
                "The request token has expired: a rate must be purchased within {} seconds of getRates.",
                market.cfg.rate_validity.as_secs()
            ),
            "Get the rates for the shipment again and purchase one of the new rates.",
        ));
    }
    if quote.bought.is_some() {
        return Err(invalid(
            "The request token was used for a purchase already: a rate is bought once.",
            "To buy another label for the same units, cancel the shipment and get new rates.",
        ));
    }
    let Some(offer) = quote.offers.iter().find(|o| o.rate_id == rate_id) else {
        return Err(invalid(
            "rateId is not one of the rates of this request token.",
            "Send a rateId of the same getRates answer.",
        ));
    };
    let parcels: Vec<&Parcel> = quote.parcels.iter().collect();
    check_units(market, &quote.order_id, &parcels)?;
    let Some(order) = market
        .orders
        .iter()
        .find(|o| o["orderId"] == quote.order_id.as_str())
    else {
        return Err(not_found("The order was not found."));
    };
    let to = mfn::address_lines(&mfn::ship_to(order));
    let from = from_lines(&quote.ship_from);
    let service = offer.service;
    let promise = offer.promise.clone();
    let promised = promise["deliveryWindow"]["end"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let seed = market.cfg.seed;
    let n = market.shipping.bought + 1;
    let id = opaque(&["shipment-v2", &seed.to_string(), &n.to_string()], 20);
    let now = mfn::whole_seconds(Utc::now());
    let mut packages = Vec::with_capacity(quote.parcels.len());
    let mut k = market.shipping.packages;
    for parcel in &quote.parcels {
        k += 1;
        let mut p = Package {
            reference: parcel.reference.clone(),
            tracking: mfn::tracking_id(service.carrier, service.id, seed, TRACKING_OFFSET + k),
            items: parcel.items.clone(),
            format,
            contents: String::new(),
            from: from.clone(),
            to: to.clone(),
            promised: promised.clone(),
            status: "PreTransit",
            events: vec![("ReadyForReceive", now)],
        };
        let bytes = draw(format, &label_text(service, &p)).map_err(|_| {
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalFailure",
                "The label could not be drawn.",
                "Try again.",
            )
        })?;
        p.contents = base64::engine::general_purpose::STANDARD.encode(bytes);
        packages.push(p);
    }
    let order_id = quote.order_id.clone();
    let ship_from = quote.ship_from.clone();
    let payload = json!({
        "shipmentId": id,
        "packageDocumentDetails": packages
            .iter()
            .map(|p| package_document(p, format, p.contents.clone()))
            .collect::<Vec<_>>(),
        "promise": promise,
        "benefits": benefits(),
    });
    let params = vec![
        ("orderId", order_id.clone()),
        ("shipmentId", id.clone()),
        (
            "packageClientReferenceId",
            packages
                .iter()
                .map(|p| p.reference.as_str())
                .collect::<Vec<_>>()
                .join(","),
        ),
        (
            "trackingId",
            packages
                .iter()
                .map(|p| p.tracking.as_str())
                .collect::<Vec<_>>()
                .join(","),
        ),
        (
            "items",
            items_param(
                &packages
                    .iter()
                    .flat_map(|p| p.items.clone())
                    .collect::<Vec<_>>(),
            ),
        ),
        ("carrierId", carrier_id(service)),
        ("serviceId", service.id.to_owned()),
    ];
    market.shipping.quotes[q].bought = Some(id.clone());
    market.shipping.bought = n;
    market.shipping.packages = k;
    market.shipping.shipments.push(Shipment {
        id,
        order_id: order_id.clone(),
        service,
        ship_from,
        packages,
        voided: false,
        form: None,
    });
    // Buying through Amazon confirms the shipment, as a Merchant Fulfillment purchase does.
    mfn::mark_labelled(market, &order_id);
    Ok((json!({ "payload": payload }), params))
}

async fn purchase(
    State(m): State<Shared>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    keep_body(&m, "PurchaseShipmentRequest", &body);
    let parsed = json_body(&body, "PurchaseShipmentRequest", None);
    let key = idempotency_key(&headers);
    let mut params = common_params();
    params.insert("business".into(), business_sent(&headers));
    if let Ok(Some(k)) = &key {
        params.insert("idempotencyKey".into(), k.clone());
    }
    if let Ok(b) = &parsed {
        for (field, name) in [("rateId", "rateId"), ("requestToken", "requestToken")] {
            if let Some(v) = b[field].as_str() {
                params.insert(name.into(), v.to_owned());
            }
        }
        if let Some(f) = b["requestedDocumentSpecification"]["format"].as_str() {
            params.insert("format".into(), f.to_owned());
        }
    }
    serve(
        m,
        PURCHASE_SHIPMENT,
        UsagePlan::SHIPPING_V2,
        params,
        |market| {
            if let Some(refused) = enter(market, &headers, PURCHASE_SHIPMENT) {
                return (refused, vec![]);
            }
            let key = match key {
                Ok(k) => k,
                Err(refused) => return (refused, vec![]),
            };
            let body = match parsed {
                Ok(b) => b,
                Err(msg) => {
                    return (
                        invalid(
                            &msg,
                            "Send requestToken, rateId and requestedDocumentSpecification.",
                        ),
                        vec![],
                    );
                }
            };
            once_per_key(market, |m| &mut m.shipping.purchases, key, body, buy)
        },
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// getShipmentDocuments, cancelShipment

fn find_shipment<'a>(market: &'a mut Market, id: &str) -> Result<&'a mut Shipment, Response> {
    market
        .shipping
        .shipments
        .iter_mut()
        .find(|s| s.id == id)
        .ok_or_else(|| not_found("The shipment was not found."))
}

async fn documents(
    State(m): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let mut params = common_params();
    params.insert("shipmentId".into(), id.clone());
    for name in ["packageClientReferenceId", "format"] {
        if let Some(v) = query.get(name) {
            params.insert(name.into(), v.clone());
        }
    }
    serve(m, GET_SHIPMENT_DOCUMENTS, UsagePlan::SHIPPING_V2, params, |market| {
        if let Some(refused) = enter(market, &headers, GET_SHIPMENT_DOCUMENTS) {
            return (refused, vec![]);
        }
        let Some(reference) = query.get("packageClientReferenceId").filter(|r| !r.is_empty())
        else {
            return (
                invalid(
                    "packageClientReferenceId is required.",
                    "Send the packageClientReferenceId the package was rated and bought with.",
                ),
                vec![],
            );
        };
        let format = match query.get("format").map(String::as_str) {
            None => None,
            Some(f) => match FORMATS.iter().find(|x| **x == f) {
                Some(f) => Some(*f),
                None => {
                    return (
                        invalid(
                            "format must be one of the rate's supported formats: ZPL, PNG or PDF.",
                            "Leave format out for the format bought.",
                        ),
                        vec![],
                    );
                }
            },
        };
        if query.get("dpi").is_some_and(|d| d.parse::<u64>().ok() != Some(DPI)) {
            return (
                invalid("dpi must be a supported DPI of the rate: 203.", "Leave dpi out."),
                vec![],
            );
        }
        let s = match find_shipment(market, &id) {
            Ok(s) => s,
            Err(r) => return (r, vec![]),
        };
        let extra = vec![("orderId", s.order_id.clone())];
        if s.voided {
            return (
                invalid(
                    "The shipment is cancelled: its label is void.",
                    "Buy a new label (getRates, purchaseShipment).",
                ),
                extra,
            );
        }
        let service = s.service;
        let Some(p) = s.packages.iter().find(|p| p.reference == *reference) else {
            return (
                not_found("The shipment has no package with this packageClientReferenceId."),
                extra,
            );
        };
        let mut extra = extra;
        extra.push(("trackingId", p.tracking.clone()));
        let (format, contents) = match format {
            None => (p.format, p.contents.clone()),
            Some(f) if f == p.format => (f, p.contents.clone()),
            Some(f) => match draw(f, &label_text(service, p)) {
                Ok(bytes) => (f, base64::engine::general_purpose::STANDARD.encode(bytes)),
                Err(_) => {
                    return (
                        error(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "InternalFailure",
                            "The label could not be drawn.",
                            "Try again.",
                        ),
                        extra,
                    );
                }
            },
        };
        let payload = json!({
            "shipmentId": s.id,
            "packageDocumentDetail": package_document(p, format, contents),
            "benefits": benefits(),
        });
        (ok(json!({ "payload": payload })), extra)
    })
    .await
}

async fn cancel(State(m): State<Shared>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let mut params = common_params();
    params.insert("shipmentId".into(), id.clone());
    serve(m, CANCEL_SHIPMENT, UsagePlan::SHIPPING_V2, params, |market| {
        if let Some(refused) = enter(market, &headers, CANCEL_SHIPMENT) {
            return (refused, vec![]);
        }
        let s = match find_shipment(market, &id) {
            Ok(s) => s,
            Err(r) => return (r, vec![]),
        };
        let extra = vec![
            ("orderId", s.order_id.clone()),
            (
                "trackingId",
                s.packages
                    .iter()
                    .map(|p| p.tracking.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            ),
        ];
        if s.voided {
            return (
                invalid(
                    "The shipment is already cancelled.",
                    "Nothing to do: its units may be labelled again.",
                ),
                extra,
            );
        }
        if let Some(form) = &s.form {
            return (
                invalid(
                    &format!(
                        "The shipment is on collection form {form}: a shipment handed to the carrier on a collection form can no longer be cancelled."
                    ),
                    "Keep the label; if the package must not go, ask the carrier to return it.",
                ),
                extra,
            );
        }
        s.voided = true;
        (ok(json!({ "payload": {} })), extra)
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// Tracking

const STATUSES: [&str; 5] = [
    "PreTransit",
    "InTransit",
    "OutForDelivery",
    "Delivered",
    "Undeliverable",
];

fn rank(status: &str) -> u8 {
    match status {
        "PreTransit" => 0,
        "InTransit" => 1,
        "OutForDelivery" => 2,
        _ => 3,
    }
}

/// Moves a package's tracking forward to `status` at `at`, with the events on the way.
fn advance(p: &mut Package, status: &'static str, at: DateTime<Utc>) -> Result<(), String> {
    if p.status == status {
        return Ok(());
    }
    if rank(p.status) == 3 {
        return Err(format!(
            "The package is {} already: its tracking is final.",
            p.status
        ));
    }
    if rank(status) < rank(p.status) {
        return Err(format!(
            "The package is {} already: tracking moves forward only.",
            p.status
        ));
    }
    if rank(status) >= 1 && !p.events.iter().any(|(e, _)| *e == "PickupDone") {
        p.events.push(("PickupDone", at));
    }
    match status {
        "OutForDelivery" | "Delivered" | "Undeliverable" => p.events.push((status, at)),
        _ => {}
    }
    p.status = status;
    Ok(())
}

async fn tracking(
    State(m): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let mut params = common_params();
    for name in ["trackingId", "carrierId"] {
        if let Some(v) = query.get(name) {
            params.insert(name.into(), v.clone());
        }
    }
    serve(m, GET_TRACKING, UsagePlan::SHIPPING_V2, params, |market| {
        if let Some(refused) = enter(market, &headers, GET_TRACKING) {
            return (refused, vec![]);
        }
        let (Some(tracking), Some(carrier)) = (
            query.get("trackingId").filter(|t| !t.is_empty()),
            query.get("carrierId").filter(|c| !c.is_empty()),
        ) else {
            return (
                invalid(
                    "trackingId and carrierId are required.",
                    "Send the trackingId and carrierId of the purchased package.",
                ),
                vec![],
            );
        };
        let Some((s, p)) = market
            .shipping
            .shipments
            .iter()
            .flat_map(|s| s.packages.iter().map(move |p| (s, p)))
            .find(|(_, p)| p.tracking == *tracking)
        else {
            return (not_found("No package has this tracking id."), vec![]);
        };
        let extra = vec![("shipmentId", s.id.clone()), ("orderId", s.order_id.clone())];
        if carrier_id(s.service) != *carrier {
            return (
                invalid(
                    "carrierId is not the carrier of this tracking id.",
                    "Send the carrierId of the rate that was bought.",
                ),
                extra,
            );
        }
        let events: Vec<Value> = p
            .events
            .iter()
            .map(|(code, at)| {
                json!({ "eventCode": code, "eventTime": mfn::rfc3339(*at), "shipmentType": "FORWARD" })
            })
            .collect();
        let payload = json!({
            "trackingId": p.tracking,
            "alternateLegTrackingId": "",
            "eventHistory": events,
            "promisedDeliveryDate": p.promised,
            "summary": { "status": p.status },
        });
        (ok(json!({ "payload": payload })), extra)
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// Collection forms

/// Where a shipment is collected: its ship-from address, compared without case or spacing.
fn location_key(a: &Value) -> String {
    [
        "name",
        "addressLine1",
        "addressLine2",
        "addressLine3",
        "city",
        "stateOrRegion",
        "postalCode",
        "countryCode",
    ]
    .iter()
    .map(|f| {
        a[*f]
            .as_str()
            .unwrap_or_default()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    })
    .collect::<Vec<_>>()
    .join("|")
}

fn unmanifested_list(market: &Market) -> Vec<Value> {
    let book = &market.shipping;
    // (carrier id, carrier name, [(location key, ship-from address)]).
    type Locations<'a> = Vec<(String, &'a Value)>;
    let mut carriers: Vec<(String, &'static str, Locations)> = Vec::new();
    for s in book
        .shipments
        .iter()
        .filter(|s| !s.voided && s.form.is_none())
    {
        let id = carrier_id(s.service);
        let i = match carriers.iter().position(|(c, _, _)| *c == id) {
            Some(i) => i,
            None => {
                carriers.push((id, s.service.carrier, Vec::new()));
                carriers.len() - 1
            }
        };
        let key = location_key(&s.ship_from);
        if !carriers[i].2.iter().any(|(k, _)| *k == key) {
            carriers[i].2.push((key, &s.ship_from));
        }
    }
    carriers
        .into_iter()
        .map(|(id, name, locations)| {
            let locations: Vec<Value> = locations
                .into_iter()
                .map(|(key, address)| {
                    let mut l = json!({ "address": address });
                    if let Some(last) = book
                        .forms
                        .iter()
                        .filter(|f| f.carrier_id == id && f.location == key)
                        .map(|f| f.at)
                        .max()
                    {
                        l["lastManifestDate"] = json!(mfn::rfc3339(last));
                    }
                    l
                })
                .collect();
            json!({
                "carrierId": id,
                "carrierName": name,
                "unmanifestedShipmentLocationList": locations,
            })
        })
        .collect()
}

async fn unmanifested(
    State(m): State<Shared>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    keep_body(&m, "GetUnmanifestedShipmentsRequest", &body);
    let parsed = json_body(&body, "GetUnmanifestedShipmentsRequest", Some(json!({})));
    serve(
        m,
        GET_UNMANIFESTED_SHIPMENTS,
        UsagePlan::SHIPPING_V2,
        common_params(),
        |market| {
            if let Some(refused) = enter(market, &headers, GET_UNMANIFESTED_SHIPMENTS) {
                return (refused, vec![]);
            }
            match parsed.and_then(|b| client_references(&b)) {
                Ok(()) => {}
                Err(msg) => {
                    return (
                        invalid(&msg, "Send an empty object, or clientReferenceDetails."),
                        vec![],
                    );
                }
            }
            let list = unmanifested_list(market);
            let count = market
                .shipping
                .shipments
                .iter()
                .filter(|s| !s.voided && s.form.is_none())
                .count();
            (
                ok(json!({ "unmanifestedCarrierInformationList": list })),
                vec![("shipments", count.to_string())],
            )
        },
    )
    .await
}

/// `clientReferenceDetails`, when sent, as the model describes it.
fn client_references(body: &Value) -> Result<(), String> {
    match &body["clientReferenceDetails"] {
        Value::Null => Ok(()),
        Value::Array(list) => {
            for (i, d) in list.iter().enumerate() {
                let kind = d["clientReferenceType"].as_str();
                if !matches!(kind, Some("IntegratorShipperId" | "IntegratorMerchantId"))
                    || !d["clientReferenceId"].is_string()
                {
                    return Err(format!(
                        "clientReferenceDetails[{i}] needs a clientReferenceType (IntegratorShipperId or IntegratorMerchantId) and a clientReferenceId."
                    ));
                }
            }
            Ok(())
        }
        _ => Err("clientReferenceDetails must be a list.".into()),
    }
}

fn form_document(pdf: &str) -> Value {
    json!({ "base64EncodedContent": pdf, "documentFormat": "PDF" })
}

fn new_form(market: &mut Market, body: &Value) -> Result<(Value, Logged), Response> {
    let help = "Send the carrierId of bought shipments, and their shipFromAddress.";
    let carrier = string(&body["carrierId"], "carrierId").map_err(|m| invalid(&m, help))?;
    let location = match &body["shipFromAddress"] {
        Value::Null => None,
        a => {
            address(a, "shipFromAddress").map_err(|m| invalid(&m, help))?;
            Some(location_key(a))
        }
    };
    client_references(body).map_err(|m| invalid(&m, help))?;
    let now = mfn::whole_seconds(Utc::now());
    let n = market.shipping.forms.len() + 1;
    let form_id = format!(
        "CF{}",
        opaque(&["form", &market.cfg.seed.to_string(), &n.to_string()], 14)
    );
    let on_form: Vec<usize> = market
        .shipping
        .shipments
        .iter()
        .enumerate()
        .filter(|(_, s)| {
            !s.voided
                && s.form.is_none()
                && carrier_id(s.service) == carrier
                && location
                    .as_ref()
                    .is_none_or(|l| *l == location_key(&s.ship_from))
        })
        .map(|(i, _)| i)
        .collect();
    if on_form.is_empty() {
        return Err(invalid(
            "There are no unmanifested shipments for this carrierId and shipFromAddress.",
            "getUnmanifestedShipments lists the carriers and locations that have some.",
        ));
    }
    let tracking: Vec<String> = on_form
        .iter()
        .flat_map(|i| market.shipping.shipments[*i].packages.iter())
        .map(|p| p.tracking.clone())
        .collect();
    let first = &market.shipping.shipments[on_form[0]];
    let text = CollectionFormText {
        carrier: first.service.carrier.to_owned(),
        form_id: form_id.clone(),
        date: now.format("%Y-%m-%d").to_string(),
        tracking: tracking.clone(),
    };
    let location = location.unwrap_or_else(|| location_key(&first.ship_from));
    let pdf = carrier_label::collection_form_pdf(&text).map_err(|_| {
        error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalFailure",
            "The collection form could not be drawn.",
            "Try again.",
        )
    })?;
    let pdf = base64::engine::general_purpose::STANDARD.encode(pdf);
    let ids: Vec<String> = on_form
        .iter()
        .map(|i| market.shipping.shipments[*i].id.clone())
        .collect();
    for i in &on_form {
        let s = &mut market.shipping.shipments[*i];
        s.form = Some(form_id.clone());
        for p in &mut s.packages {
            // Handed to the carrier: a package already moved on by training stays where it is.
            let _ = advance(p, "InTransit", now);
        }
    }
    market.shipping.forms.push(Form {
        id: form_id.clone(),
        carrier_id: carrier.to_owned(),
        location,
        at: now,
        pdf: pdf.clone(),
    });
    let answer = json!({
        "collectionsFormDocument": form_document(&pdf),
        // Not in the model's GenerateCollectionFormResponse (getCollectionFormHistory has it);
        // the answer says which form getCollectionForm fetches again.
        "collectionFormId": form_id,
    });
    Ok((
        answer,
        vec![
            ("collectionFormId", form_id),
            ("shipmentId", ids.join(",")),
            ("trackingId", tracking.join(",")),
        ],
    ))
}

async fn generate_form(
    State(m): State<Shared>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    keep_body(&m, "GenerateCollectionFormRequest", &body);
    let parsed = json_body(&body, "GenerateCollectionFormRequest", None);
    let key = idempotency_key(&headers);
    let mut params = common_params();
    if let Ok(Some(k)) = &key {
        params.insert("idempotencyKey".into(), k.clone());
    }
    if let Some(c) = parsed.as_ref().ok().and_then(|b| b["carrierId"].as_str()) {
        params.insert("carrierId".into(), c.to_owned());
    }
    serve(
        m,
        GENERATE_COLLECTION_FORM,
        UsagePlan::SHIPPING_V2,
        params,
        |market| {
            if let Some(refused) = enter(market, &headers, GENERATE_COLLECTION_FORM) {
                return (refused, vec![]);
            }
            let key = match key {
                Ok(k) => k,
                Err(refused) => return (refused, vec![]),
            };
            let body = match parsed {
                Ok(b) => b,
                Err(msg) => return (invalid(&msg, "Send carrierId and shipFromAddress."), vec![]),
            };
            once_per_key(market, |m| &mut m.shipping.form_keys, key, body, new_form)
        },
    )
    .await
}

async fn get_form(State(m): State<Shared>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let mut params = common_params();
    params.insert("collectionFormId".into(), id.clone());
    serve(
        m,
        GET_COLLECTION_FORM,
        UsagePlan::SHIPPING_V2,
        params,
        |market| {
            if let Some(refused) = enter(market, &headers, GET_COLLECTION_FORM) {
                return (refused, vec![]);
            }
            match market.shipping.forms.iter().find(|f| f.id == id) {
                Some(f) => (
                    ok(json!({ "collectionsFormDocument": form_document(&f.pdf) })),
                    vec![],
                ),
                None => (not_found("The collection form was not found."), vec![]),
            }
        },
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// Training controls

/// Training control: every outstanding request token expires now.
async fn expire_rates(State(m): State<Shared>) -> StatusCode {
    let mut market = lock(&m);
    let now = Instant::now();
    for q in &mut market.shipping.quotes {
        q.expires = q.expires.min(now);
    }
    StatusCode::NO_CONTENT
}

/// Training control: rates quoted from now on cost `percent` more (0–500; 0 takes it back).
async fn surcharge(State(m): State<Shared>, Path(percent): Path<String>) -> Response {
    match percent.parse::<u32>() {
        Ok(p) if p <= 500 => {
            lock(&m).shipping.surcharge_percent = p;
            StatusCode::NO_CONTENT.into_response()
        }
        _ => invalid(
            "The surcharge is a whole percent from 0 to 500.",
            "POST /_training/rates/surcharge/10 for 10 %.",
        ),
    }
}

/// Training control: the carrier moves a package on (`InTransit`, `OutForDelivery`,
/// `Delivered`, `Undeliverable`), as of now.
async fn set_tracking(
    State(m): State<Shared>,
    Path((tracking, status)): Path<(String, String)>,
) -> Response {
    let Some(status) = STATUSES[1..].iter().find(|s| **s == status).copied() else {
        return (
            StatusCode::BAD_REQUEST,
            "the status is InTransit, OutForDelivery, Delivered or Undeliverable",
        )
            .into_response();
    };
    let mut market = lock(&m);
    let Some(s) = market
        .shipping
        .shipments
        .iter_mut()
        .find(|s| s.packages.iter().any(|p| p.tracking == tracking))
    else {
        return (StatusCode::NOT_FOUND, "no package has this tracking id").into_response();
    };
    if s.voided {
        return (StatusCode::CONFLICT, "the label is void: nothing travels").into_response();
    }
    let Some(p) = s.packages.iter_mut().find(|p| p.tracking == tracking) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match advance(p, status, mfn::whole_seconds(Utc::now())) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(msg) => (StatusCode::CONFLICT, msg).into_response(),
    }
}

/// Training control: the v2 shipments (ids, order, package references, tracking, state,
/// collection form); no personal data.
/// Request bodies kept for `/_training/bodies`.
const KEPT_BODIES: usize = 200;

fn keep_body(m: &Shared, definition: &'static str, body: &[u8]) {
    let mut market = lock(m);
    let kept = &mut market.shipping.bodies;
    if kept.len() == KEPT_BODIES {
        kept.pop_front();
    }
    kept.push_back((definition, String::from_utf8_lossy(body).into_owned()));
}

/// Training control: the last request bodies, each with its model definition's name.
async fn bodies(State(m): State<Shared>) -> axum::Json<Vec<Value>> {
    let market = lock(&m);
    axum::Json(
        market
            .shipping
            .bodies
            .iter()
            .map(|(d, b)| json!({ "definition": d, "body": b }))
            .collect(),
    )
}

async fn shipments(State(m): State<Shared>) -> axum::Json<Vec<Value>> {
    let market = lock(&m);
    axum::Json(
        market
            .shipping
            .shipments
            .iter()
            .map(|s| {
                json!({
                    "shipmentId": s.id,
                    "orderId": s.order_id,
                    "carrierId": carrier_id(s.service),
                    "serviceId": s.service.id,
                    "state": if s.voided { "CANCELLED" } else { "PURCHASED" },
                    "collectionFormId": s.form,
                    "packages": s.packages.iter().map(|p| json!({
                        "packageClientReferenceId": p.reference,
                        "trackingId": p.tracking,
                        "items": items_param(&p.items),
                        "format": p.format,
                        "status": p.status,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package() -> Package {
        Package {
            reference: "1".into(),
            tracking: "1ZTEST".into(),
            items: vec![],
            format: "ZPL",
            contents: String::new(),
            from: vec![],
            to: vec![],
            promised: String::new(),
            status: "PreTransit",
            events: vec![("ReadyForReceive", Utc::now())],
        }
    }

    #[test]
    fn tracking_moves_forward_only_with_an_event_per_step() {
        let mut p = package();
        let t = Utc::now();
        advance(&mut p, "Delivered", t).unwrap();
        let codes: Vec<&str> = p.events.iter().map(|(c, _)| *c).collect();
        assert_eq!(codes, ["ReadyForReceive", "PickupDone", "Delivered"]);
        assert_eq!(p.status, "Delivered");
        assert!(advance(&mut p, "InTransit", t).is_err());
        assert!(advance(&mut p, "Undeliverable", t).is_err());
        let mut p = package();
        advance(&mut p, "InTransit", t).unwrap();
        advance(&mut p, "InTransit", t).unwrap();
        advance(&mut p, "OutForDelivery", t).unwrap();
        let codes: Vec<&str> = p.events.iter().map(|(c, _)| *c).collect();
        assert_eq!(codes, ["ReadyForReceive", "PickupDone", "OutForDelivery"]);
    }

    #[test]
    fn the_requested_document_must_be_one_the_rate_offers() {
        let spec = |f: &str| {
            json!({
                "format": f, "size": { "width": 4, "length": 6, "unit": "INCH" },
                "dpi": 203, "needFileJoining": false, "requestedDocumentTypes": ["LABEL"]
            })
        };
        assert_eq!(document_format(&spec("ZPL")), Ok("ZPL"));
        assert_eq!(document_format(&spec("PDF")), Ok("PDF"));
        assert!(document_format(&spec("GIF")).is_err());
        let mut s = spec("PNG");
        s["dpi"] = json!(300);
        assert!(document_format(&s).unwrap_err().contains("dpi"));
        let mut s = spec("PNG");
        s["size"]["width"] = json!(6);
        assert!(document_format(&s).unwrap_err().contains("size"));
        let mut s = spec("PNG");
        s["requestedDocumentTypes"] = json!(["LABEL", "PACKSLIP"]);
        assert!(document_format(&s).is_err());
        assert!(document_format(&Value::Null).is_err());
    }
}
