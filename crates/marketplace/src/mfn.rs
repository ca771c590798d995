//! Merchant Fulfillment v0 in the training marketplace: shipping offers, label purchases with real
//! ZPL203 / PNG / PDF labels (base64 of gzip, MD5 checksum), lookups and voids, validated as
//! Amazon validates them and answered in the model's shapes, within Amazon's quotas.
//!
//! As at Amazon: createShipment, getShipment and cancelShipment return the ship-to address, so
//! they need a Restricted Data Token that covers their path; buying a label confirms the order
//! as shipped (and a cancelled label leaves it so, while its items may be labelled again).
//! Injected faults apply here too: a timeout, malformed or truncated answer comes *after* the
//! purchase went through, as the worst case is on a real network; a slow one is the real answer,
//! whole, after the fault delay. The request log keeps the
//! operation, order id, service, shipment and tracking ids, never an address.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use chrono::{DateTime, Duration, NaiveTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use sha2::Digest as _;

use super::carrier_label::{self, LabelText};
use super::server::{
    EndpointRoutes as _, Fault, LoggedRequest, Market, Shared, admit, lock, sp_error,
};
use packline_spapi::endpoints::{self, Endpoint};
use packline_spapi::throttle::UsagePlan;

/// Labels bought here.
#[derive(Default)]
pub(crate) struct MfnBook {
    shipments: Vec<Bought>,
    bought: u64,
}

struct Bought {
    id: String,
    order_id: String,
    items: Vec<(String, u32)>,
    tracking: String,
    /// The `Shipment` as getShipment answers it.
    payload: Value,
}

impl Bought {
    fn live(&self) -> bool {
        self.payload["Status"] == "Purchased"
    }
}

impl MfnBook {
    /// Tracking ids of an order's labels that are still purchased (not voided).
    pub(crate) fn tracking_ids<'a>(&'a self, order_id: &'a str) -> impl Iterator<Item = &'a str> {
        self.shipments
            .iter()
            .filter(move |s| s.order_id == order_id && s.live())
            .map(|s| s.tracking.as_str())
    }

    /// Units of an order item on labels that are still purchased.
    pub(crate) fn labelled(&self, order_id: &str, item_id: &str) -> u32 {
        self.shipments
            .iter()
            .filter(|s| s.order_id == order_id && s.live())
            .flat_map(|s| s.items.iter())
            .filter(|(i, _)| i == item_id)
            .map(|(_, q)| *q)
            .sum()
    }
}

pub(super) fn routes() -> Router<Shared> {
    Router::<Shared>::new()
        .endpoint(&endpoints::GET_ELIGIBLE_SHIPMENT_SERVICES, eligible)
        .endpoint(&endpoints::CREATE_SHIPMENT, create)
        .endpoint(&endpoints::GET_SHIPMENT, get_shipment)
        .endpoint(&endpoints::MFN_CANCEL_SHIPMENT, cancel)
}

/// A service the training carriers offer (through Merchant Fulfillment and Shipping API v2
/// alike).
pub(super) struct Service {
    pub(super) id: &'static str,
    pub(super) name: &'static str,
    pub(super) carrier: &'static str,
    /// Transit days, fastest and slowest.
    pub(super) days: (i64, i64),
    base: f64,
    per_lb: f64,
    /// The heaviest package it takes, in ounces.
    pub(super) max_oz: f64,
}

impl Service {
    /// The pounds billed for a package: its weight or its dimensional weight (length × width ×
    /// height in inches / 139), whichever is more, rounded up, at least one.
    pub(super) fn billable_lb(weight_oz: f64, dims_in: Option<(f64, f64, f64)>) -> f64 {
        let weight_lb = weight_oz / 16.0;
        let dim_lb = dims_in.map_or(0.0, |(l, w, h)| l * w * h / 139.0);
        weight_lb.max(dim_lb).ceil().max(1.0)
    }

    /// The price of one package, in dollars and whole cents.
    pub(super) fn price(&self, billable_lb: f64, surcharge: f64) -> f64 {
        ((self.base + self.per_lb * billable_lb + surcharge) * 100.0).round() / 100.0
    }
}

pub(super) const SERVICES: [Service; 5] = [
    Service {
        id: "USPS_PTP_GA",
        name: "USPS Ground Advantage",
        carrier: "USPS",
        days: (5, 8),
        base: 4.85,
        per_lb: 0.62,
        max_oz: 1120.0,
    },
    Service {
        id: "USPS_PTP_PRI",
        name: "USPS Priority Mail",
        carrier: "USPS",
        days: (2, 3),
        base: 8.95,
        per_lb: 0.94,
        max_oz: 1120.0,
    },
    Service {
        id: "UPS_PTP_GND",
        name: "UPS Ground",
        carrier: "UPS",
        days: (3, 5),
        base: 9.40,
        per_lb: 0.71,
        max_oz: 2400.0,
    },
    Service {
        id: "UPS_PTP_2ND_DAY_AIR",
        name: "UPS 2nd Day Air",
        carrier: "UPS",
        days: (2, 2),
        base: 18.60,
        per_lb: 1.65,
        max_oz: 2400.0,
    },
    Service {
        id: "FEDEX_PTP_STANDARD_OVERNIGHT",
        name: "FedEx Standard Overnight",
        carrier: "FedEx",
        days: (1, 1),
        base: 32.10,
        per_lb: 2.45,
        max_oz: 2400.0,
    },
];

const LABEL_FORMATS: [&str; 3] = ["PDF", "PNG", "ZPL203"];
const DELIVERY_EXPERIENCES: [&str; 4] = [
    "DeliveryConfirmationWithAdultSignature",
    "DeliveryConfirmationWithSignature",
    "DeliveryConfirmationWithoutSignature",
    "NoTracking",
];

/// A validated `ShipmentRequestDetails`.
struct Details {
    order_id: String,
    items: Vec<(String, u32)>,
    weight_oz: f64,
    /// Length, width, height in inches (none for a predefined package).
    dims_in: Option<(f64, f64, f64)>,
    must_arrive_by: Option<DateTime<Utc>>,
    ship_date: Option<DateTime<Utc>>,
    label_format: Option<String>,
    delivery_experience: String,
    declared_value: Option<Value>,
    print_order_id: bool,
    custom_text: Option<String>,
    /// The request's own JSON, echoed in the shipment as Amazon does.
    raw: Value,
}

pub(super) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn string_at<'a>(v: &'a Value, path: &str, field: &str) -> Result<&'a str, String> {
    v[field]
        .as_str()
        .ok_or_else(|| format!("{path}.{field} is required."))
}

fn positive(v: &Value, path: &str) -> Result<f64, String> {
    match v.as_f64() {
        Some(x) if x.is_finite() && x > 0.0 => Ok(x),
        Some(_) => Err(format!("{path} must be greater than zero.")),
        None => Err(format!("{path} is required and must be a number.")),
    }
}

fn time_at(v: &Value, path: &str) -> Result<Option<DateTime<Utc>>, String> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => DateTime::parse_from_rfc3339(s)
            .map(|t| Some(t.into()))
            .map_err(|_| format!("{path} must be an ISO 8601 date-time.")),
        _ => Err(format!("{path} must be an ISO 8601 date-time.")),
    }
}

fn is_order_id(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 3
        && parts
            .iter()
            .zip([3, 7, 7])
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Checks `ShipmentRequestDetails` as Amazon does; the message names the field, never a value.
fn details(body: &Value) -> Result<Details, String> {
    const P: &str = "ShipmentRequestDetails";
    let d = &body[P];
    if !d.is_object() {
        return Err(format!("{P} is required."));
    }
    let order_id = string_at(d, P, "AmazonOrderId")?;
    if !is_order_id(order_id) {
        return Err(format!("{P}.AmazonOrderId must be in 3-7-7 format."));
    }
    let list = d["ItemList"]
        .as_array()
        .filter(|l| !l.is_empty())
        .ok_or_else(|| format!("{P}.ItemList needs at least one item."))?;
    let mut items = Vec::with_capacity(list.len());
    for (i, it) in list.iter().enumerate() {
        let at = format!("{P}.ItemList[{i}]");
        let id = string_at(it, &at, "OrderItemId")?;
        let q = it["Quantity"]
            .as_u64()
            .filter(|q| (1..=i32::MAX as u64).contains(q))
            .ok_or_else(|| format!("{at}.Quantity must be a whole number of at least 1."))?;
        items.push((id.to_owned(), q as u32));
    }
    let from = &d["ShipFromAddress"];
    if !from.is_object() {
        return Err(format!("{P}.ShipFromAddress is required."));
    }
    let from_at = format!("{P}.ShipFromAddress");
    for (field, max, nonempty) in [
        ("Name", 30, true),
        ("AddressLine1", 180, true),
        ("City", 30, true),
        ("PostalCode", 30, true),
        ("CountryCode", 2, true),
        ("Phone", 30, true),
        ("Email", 256, false),
    ] {
        let v = string_at(from, &from_at, field)?;
        if nonempty && v.trim().is_empty() {
            return Err(format!("{from_at}.{field} must not be empty."));
        }
        if v.chars().count() > max {
            return Err(format!(
                "{from_at}.{field} is longer than {max} characters."
            ));
        }
    }
    for (field, max) in [
        ("AddressLine2", 60),
        ("AddressLine3", 60),
        ("StateOrProvinceCode", 30),
    ] {
        match &from[field] {
            Value::Null => {}
            Value::String(s) if s.chars().count() <= max => {}
            Value::String(_) => {
                return Err(format!(
                    "{from_at}.{field} is longer than {max} characters."
                ));
            }
            _ => return Err(format!("{from_at}.{field} must be a string.")),
        }
    }
    let country = from["CountryCode"].as_str().unwrap_or_default();
    if !(country.len() == 2 && country.bytes().all(|b| b.is_ascii_uppercase())) {
        return Err(format!(
            "{from_at}.CountryCode must be a two-letter ISO 3166-1 code."
        ));
    }
    let dims = &d["PackageDimensions"];
    if !dims.is_object() {
        return Err(format!("{P}.PackageDimensions is required."));
    }
    let dims_in = if dims["PredefinedPackageDimensions"].is_string() {
        None
    } else {
        let at = |f: &str| format!("{P}.PackageDimensions.{f}");
        let (l, w, h) = (
            positive(&dims["Length"], &at("Length"))?,
            positive(&dims["Width"], &at("Width"))?,
            positive(&dims["Height"], &at("Height"))?,
        );
        let per_inch = match dims["Unit"].as_str() {
            Some("inches") => 1.0,
            Some("centimeters") => 2.54,
            _ => return Err(format!("{} must be inches or centimeters.", at("Unit"))),
        };
        Some((l / per_inch, w / per_inch, h / per_inch))
    };
    let weight = &d["Weight"];
    if !weight.is_object() {
        return Err(format!("{P}.Weight is required."));
    }
    let value = positive(&weight["Value"], &format!("{P}.Weight.Value"))?;
    let weight_oz = match weight["Unit"].as_str() {
        Some("oz") => value,
        Some("g") => value / 28.349_523_125,
        _ => return Err(format!("{P}.Weight.Unit must be oz or g.")),
    };
    let must_arrive_by = time_at(&d["MustArriveByDate"], &format!("{P}.MustArriveByDate"))?;
    let ship_date = time_at(&d["ShipDate"], &format!("{P}.ShipDate"))?;
    let opts = &d["ShippingServiceOptions"];
    if !opts.is_object() {
        return Err(format!("{P}.ShippingServiceOptions is required."));
    }
    let delivery_experience = opts["DeliveryExperience"]
        .as_str()
        .filter(|x| DELIVERY_EXPERIENCES.contains(x))
        .ok_or_else(|| {
            format!("{P}.ShippingServiceOptions.DeliveryExperience is required and must be a DeliveryExperienceType.")
        })?;
    if !opts["CarrierWillPickUp"].is_boolean() {
        return Err(format!(
            "{P}.ShippingServiceOptions.CarrierWillPickUp is required and must be true or false."
        ));
    }
    let label_format = match &opts["LabelFormat"] {
        Value::Null => None,
        Value::String(f)
            if ["PDF", "PNG", "ZPL203", "ZPL300", "ShippingServiceDefault"]
                .contains(&f.as_str()) =>
        {
            Some(f.clone())
        }
        _ => {
            return Err(format!(
                "{P}.ShippingServiceOptions.LabelFormat must be a LabelFormat."
            ));
        }
    };
    let declared_value = match &opts["DeclaredValue"] {
        Value::Null => None,
        v if v["CurrencyCode"].as_str().is_some_and(|c| c.len() == 3)
            && v["Amount"]
                .as_f64()
                .is_some_and(|a| a.is_finite() && a >= 0.0) =>
        {
            Some(v.clone())
        }
        _ => {
            return Err(format!(
                "{P}.ShippingServiceOptions.DeclaredValue needs a three-letter CurrencyCode and an Amount."
            ));
        }
    };
    let custom = &d["LabelCustomization"];
    let custom_text = match &custom["CustomTextForLabel"] {
        Value::Null => None,
        Value::String(s) if s.chars().count() <= 14 => Some(s.clone()),
        _ => {
            return Err(format!(
                "{P}.LabelCustomization.CustomTextForLabel is at most 14 characters."
            ));
        }
    };
    let print_order_id = match &custom["StandardIdForLabel"] {
        Value::Null => false,
        Value::String(s) if s == "AmazonOrderId" => true,
        _ => {
            return Err(format!(
                "{P}.LabelCustomization.StandardIdForLabel must be AmazonOrderId."
            ));
        }
    };
    Ok(Details {
        order_id: order_id.to_owned(),
        items,
        weight_oz,
        dims_in,
        must_arrive_by,
        ship_date,
        label_format,
        delivery_experience: delivery_experience.to_owned(),
        declared_value,
        print_order_id,
        custom_text,
        raw: d.clone(),
    })
}

fn bad(message: &str) -> Response {
    sp_error(StatusCode::BAD_REQUEST, "InvalidInput", message)
}

/// The order may be labelled: it exists, is neither cancelled nor shipped by another carrier,
/// and every item named is in it with units not yet on a purchased label.
// The refusal is the HTTP answer itself, built once per request: boxing it would buy nothing.
#[allow(clippy::result_large_err)]
fn check_order(market: &Market, d: &Details) -> Result<(), Response> {
    let Some(order) = market.orders.iter().find(|o| o["orderId"] == d.order_id) else {
        return Err(sp_error(
            StatusCode::NOT_FOUND,
            "NotFound",
            "The order was not found.",
        ));
    };
    if order["fulfillment"]["fulfillmentStatus"] == "CANCELLED" {
        return Err(bad("The order is cancelled."));
    }
    if market.shipments.contains_key(&d.order_id) {
        return Err(bad(
            "The order is already shipped (its shipment was confirmed).",
        ));
    }
    let lines = order["orderItems"].as_array().cloned().unwrap_or_default();
    let mut asked: HashMap<&str, u32> = HashMap::new();
    for (id, q) in &d.items {
        *asked.entry(id.as_str()).or_default() += q;
    }
    for (id, q) in asked {
        let Some(line) = lines.iter().find(|l| l["orderItemId"] == id) else {
            return Err(bad("ItemList names an item that is not in the order."));
        };
        let ordered = line["quantityOrdered"].as_u64().unwrap_or(0) as u32;
        // Units on live labels of either API.
        let labelled =
            market.mfn.labelled(&d.order_id, id) + market.shipping.labelled(&d.order_id, id);
        if q.saturating_add(labelled) > ordered {
            return Err(bad(if labelled > 0 {
                "ItemList asks for more units than are left to label: some are on a purchased label (cancel that shipment first)."
            } else {
                "ItemList asks for more units than were ordered."
            }));
        }
    }
    Ok(())
}

/// The offers for a package, and the services that decline it.
fn offers(seed: u64, d: &Details, now: DateTime<Utc>) -> (Vec<Value>, Vec<Value>) {
    let ship = whole_seconds(d.ship_date.unwrap_or(now));
    let billable = Service::billable_lb(d.weight_oz, d.dims_in);
    let surcharge = match d.delivery_experience.as_str() {
        "DeliveryConfirmationWithAdultSignature" => 7.40,
        "DeliveryConfirmationWithSignature" => 3.05,
        _ => 0.0,
    };
    let evening = NaiveTime::from_hms_opt(20, 0, 0).unwrap_or_default();
    let mut services = Vec::new();
    let mut rejected = Vec::new();
    for s in &SERVICES {
        if d.weight_oz > s.max_oz {
            rejected.push(json!({
                "CarrierName": s.carrier,
                "ShippingServiceName": s.name,
                "ShippingServiceId": s.id,
                "RejectionReasonCode": "WEIGHT_LIMIT_EXCEEDED",
                "RejectionReasonMessage": "The package is heavier than this service accepts."
            }));
            continue;
        }
        let day = |n: i64| {
            (ship.date_naive() + Duration::days(n))
                .and_time(evening)
                .and_utc()
        };
        let (earliest, latest) = (day(s.days.0), day(s.days.1));
        if d.must_arrive_by.is_some_and(|by| latest > by) {
            continue;
        }
        let rate = s.price(billable, surcharge);
        let mut options = json!({
            "DeliveryExperience": d.delivery_experience,
            "CarrierWillPickUp": false,
        });
        if let Some(v) = &d.declared_value {
            options["DeclaredValue"] = v.clone();
        }
        services.push(json!({
            "ShippingServiceName": s.name,
            "CarrierName": s.carrier,
            "ShippingServiceId": s.id,
            "ShippingServiceOfferId": offer_id(seed, d, s.id, ship),
            "ShipDate": rfc3339(ship),
            "EarliestEstimatedDeliveryDate": rfc3339(earliest),
            "LatestEstimatedDeliveryDate": rfc3339(latest),
            "Rate": { "CurrencyCode": "USD", "Amount": rate },
            "RateWithAdjustments": { "CurrencyCode": "USD", "Amount": rate },
            "ShippingServiceOptions": options,
            "AvailableLabelFormats": LABEL_FORMATS,
            "AvailableFormatOptionsForLabel": LABEL_FORMATS.iter().map(|f| json!({
                "IncludePackingSlipWithLabel": false, "LabelFormat": f
            })).collect::<Vec<_>>(),
            "RequiresAdditionalSellerInputs": false,
            "Benefits": { "IncludedBenefits": ["CLAIMS_PROTECTED"], "ExcludedBenefits": [] }
        }));
    }
    (services, rejected)
}

/// The time to the second, as Amazon writes times.
pub(super) fn whole_seconds(t: DateTime<Utc>) -> DateTime<Utc> {
    chrono::Timelike::with_nanosecond(&t, 0).unwrap_or(t)
}

/// An opaque offer id, the same for the same package, service and ship day.
fn offer_id(seed: u64, d: &Details, service: &str, ship: DateTime<Utc>) -> String {
    let mut h = sha2::Sha256::new();
    h.update(seed.to_le_bytes());
    for part in [&d.order_id, service, &d.delivery_experience] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    h.update(d.weight_oz.to_bits().to_le_bytes());
    if let Some((l, w, x)) = d.dims_in {
        for v in [l, w, x] {
            h.update(v.to_bits().to_le_bytes());
        }
    }
    for (id, q) in &d.items {
        h.update(id.as_bytes());
        h.update(q.to_le_bytes());
    }
    h.update(ship.date_naive().to_string().as_bytes());
    base64::engine::general_purpose::STANDARD.encode(h.finalize())
}

/// A deterministic shipment id in the model's UUID pattern.
fn shipment_id(seed: u64, n: u64) -> String {
    let d = sha2::Sha256::digest(format!("shipment|{seed}|{n}").as_bytes());
    let hex: String = d[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-4{}-a{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

/// A tracking id in the carrier's shape, with its check digit.
pub(super) fn tracking_id(carrier: &str, service: &str, seed: u64, n: u64) -> String {
    let serial = (seed.wrapping_mul(7_919) + n) % 10_000_000;
    match carrier {
        "UPS" => {
            let code = if service == "UPS_PTP_2ND_DAY_AIR" {
                "02"
            } else {
                "03"
            };
            let body = format!("TR41N9{code}{serial:07}");
            format!("1Z{body}{}", ups_check(&body))
        }
        "USPS" => {
            let body = format!("94001{:09}{serial:07}", seed % 1_000_000_000);
            format!("{body}{}", usps_check(&body))
        }
        _ => format!("7{:04}{serial:07}", seed % 10_000),
    }
}

/// The UPS check digit of the 15 characters after `1Z`: letters count as (ASCII − 63) mod 10,
/// characters in odd places once and in even places twice.
fn ups_check(body: &str) -> u32 {
    let sum: u32 = body
        .bytes()
        .enumerate()
        .map(|(i, b)| {
            let v = if b.is_ascii_digit() {
                u32::from(b - b'0')
            } else {
                u32::from(b).saturating_sub(63) % 10
            };
            if i % 2 == 1 { v * 2 } else { v }
        })
        .sum();
    (10 - sum % 10) % 10
}

/// The USPS IMpb check digit (mod 10, weights 3 and 1 from the right).
fn usps_check(body: &str) -> u32 {
    let sum: u32 = body
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| u32::from(b.wrapping_sub(b'0')) * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    (10 - sum % 10) % 10
}

/// A `Shipment`'s address from an order's delivery address, cut to the model's lengths.
pub(super) fn ship_to(order: &Value) -> Value {
    let a = &order["recipient"]["deliveryAddress"];
    let cut = |field: &str, max: usize| -> String {
        a[field]
            .as_str()
            .unwrap_or_default()
            .chars()
            .take(max)
            .collect()
    };
    let mut to = json!({
        "Name": cut("name", 30),
        "AddressLine1": cut("addressLine1", 180),
        "Email": "",
        "City": cut("city", 30),
        "PostalCode": cut("postalCode", 30),
        "CountryCode": cut("countryCode", 2),
        "Phone": cut("phone", 30),
    });
    for (from, to_field, max) in [
        ("addressLine2", "AddressLine2", 60),
        ("stateOrRegion", "StateOrProvinceCode", 30),
    ] {
        let v = cut(from, max);
        if !v.is_empty() {
            to[to_field] = json!(v);
        }
    }
    to
}

/// An address as label lines.
pub(super) fn address_lines(a: &Value) -> Vec<String> {
    let s = |f: &str| a[f].as_str().unwrap_or_default().to_owned();
    let mut lines = vec![s("Name"), s("AddressLine1")];
    for f in ["AddressLine2", "AddressLine3"] {
        if !s(f).is_empty() {
            lines.push(s(f));
        }
    }
    lines.push(
        format!(
            "{} {} {}",
            s("City"),
            s("StateOrProvinceCode"),
            s("PostalCode")
        )
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" "),
    );
    lines.push(s("CountryCode"));
    lines
}

/// The label file in the format asked for, as `FileContents` (base64 of gzip, and the base64 of
/// the MD5 of the file).
fn file_contents(format: &str, text: &LabelText) -> Result<Value, String> {
    let (bytes, mime) = match format {
        "ZPL203" => (carrier_label::zpl203(text), "application/zpl"),
        "PDF" => (carrier_label::pdf(text), "application/pdf"),
        _ => (carrier_label::png203(text), "image/png"),
    };
    let bytes = bytes.map_err(|e| e.to_string())?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &bytes).map_err(|e| e.to_string())?;
    let gz = gz.finish().map_err(|e| e.to_string())?;
    let b64 = base64::engine::general_purpose::STANDARD;
    Ok(json!({
        "Contents": b64.encode(gz),
        "FileType": mime,
        "Checksum": b64.encode(md5::Md5::digest(&bytes)),
    }))
}

pub(super) fn with_rate(mut r: Response, plan: UsagePlan, scale: f64) -> Response {
    if let Ok(v) = HeaderValue::from_str(&format!("{}", plan.scaled(scale).rate)) {
        r.headers_mut().insert("x-amzn-RateLimit-Limit", v);
    }
    r
}

/// Checks that the token is a Restricted Data Token issued for this method and path (a generic
/// `{shipmentId}` path covers every shipment), then admits the request like any other.
fn admit_restricted(
    market: &mut Market,
    headers: &HeaderMap,
    operation: &'static str,
    plan: UsagePlan,
    method: &str,
    path: &str,
) -> Option<Response> {
    let token = headers
        .get("x-amz-access-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if token.starts_with("Atza|") {
        return Some(sp_error(
            StatusCode::FORBIDDEN,
            "Unauthorized",
            "Access to requested resource is denied: this operation returns restricted data; call it with a restricted data token from the Tokens API.",
        ));
    }
    if token.starts_with("Atz.sprdt|") {
        let covers = market.rdt_scopes.get(token).is_some_and(|scopes| {
            scopes.iter().any(|(m, p)| {
                m == method
                    && (p == path
                        || p.strip_suffix("{shipmentId}").is_some_and(|prefix| {
                            path.strip_prefix(prefix)
                                .is_some_and(|rest| !rest.is_empty() && !rest.contains('/'))
                        }))
            })
        });
        if !covers {
            return Some(sp_error(
                StatusCode::FORBIDDEN,
                "Unauthorized",
                "Access to requested resource is denied: the restricted data token does not cover this operation and path.",
            ));
        }
    }
    admit(market, headers, operation, plan)
}

/// Runs one request (Merchant Fulfillment's, Messaging's): draws a fault, does the work (unless
/// the fault refuses it first), logs it, and answers, late or damaged if the fault says so.
pub(super) async fn serve(
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

/// What the log keeps of an MFN request body: ids, never an address.
fn body_params(body: &Value) -> HashMap<String, String> {
    let mut p = HashMap::new();
    let d = &body["ShipmentRequestDetails"];
    if let Some(id) = d["AmazonOrderId"].as_str() {
        p.insert("orderId".to_owned(), id.to_owned());
    }
    if let Some(s) = body["ShippingServiceId"].as_str() {
        p.insert("shippingServiceId".to_owned(), s.to_owned());
    }
    if let Some(f) = d["ShippingServiceOptions"]["LabelFormat"].as_str() {
        p.insert("labelFormat".to_owned(), f.to_owned());
    }
    // The package's units, `item:quantity,…` (ids and counts only).
    if let Some(items) = d["ItemList"].as_array() {
        let list: Vec<String> = items
            .iter()
            .map(|i| {
                format!(
                    "{}:{}",
                    i["OrderItemId"].as_str().unwrap_or("?"),
                    i["Quantity"].as_u64().unwrap_or(0)
                )
            })
            .collect();
        p.insert("items".to_owned(), list.join(","));
    }
    p
}

/// `getEligibleShipmentServices`.
async fn eligible(
    State(m): State<Shared>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let params = body_params(&parsed);
    const OP: Endpoint = endpoints::GET_ELIGIBLE_SHIPMENT_SERVICES;
    serve(m, OP.name, OP.plan, params, |market| {
        if let Some(refused) = admit(market, &headers, OP.name, OP.plan) {
            return (refused, vec![]);
        }
        if !parsed.is_object() {
            return (
                bad("The request body is not a GetEligibleShipmentServicesRequest."),
                vec![],
            );
        }
        let d = match details(&parsed) {
            Ok(d) => d,
            Err(msg) => return (bad(&msg), vec![]),
        };
        if let Err(refused) = check_order(market, &d) {
            return (refused, vec![]);
        }
        let (services, rejected) = offers(market.cfg.seed, &d, Utc::now());
        let payload = json!({
            "ShippingServiceList": services,
            "RejectedShippingServiceList": rejected,
            "TemporarilyUnavailableCarrierList": [{ "CarrierName": "DHL eCommerce" }],
            "TermsAndConditionsNotAcceptedCarrierList": []
        });
        (
            axum::Json(json!({ "payload": payload })).into_response(),
            vec![],
        )
    })
    .await
}

/// `createShipment`: buys a label.
async fn create(State(m): State<Shared>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let params = body_params(&parsed);
    const OP: Endpoint = endpoints::CREATE_SHIPMENT;
    serve(m, OP.name, OP.plan, params, |market| {
        if let Some(refused) = admit_restricted(
            market,
            &headers,
            OP.name,
            OP.plan,
            OP.method.as_str(),
            OP.path,
        ) {
            return (refused, vec![]);
        }
        match create_inner(market, &parsed) {
            Ok((payload, extra)) => (
                axum::Json(json!({ "payload": payload })).into_response(),
                extra,
            ),
            Err(refused) => (refused, vec![]),
        }
    })
    .await
}

// The refusal is the HTTP answer itself, built once per request: boxing it would buy nothing.
#[allow(clippy::result_large_err, clippy::type_complexity)]
fn create_inner(
    market: &mut Market,
    body: &Value,
) -> Result<(Value, Vec<(&'static str, String)>), Response> {
    if !body.is_object() {
        return Err(bad("The request body is not a CreateShipmentRequest."));
    }
    let service_id = body["ShippingServiceId"]
        .as_str()
        .ok_or_else(|| bad("ShippingServiceId is required."))?;
    if !matches!(&body["HazmatType"], Value::Null)
        && !matches!(body["HazmatType"].as_str(), Some("None" | "LQHazmat"))
    {
        return Err(bad("HazmatType must be None or LQHazmat."));
    }
    let d = details(body).map_err(|m| bad(&m))?;
    check_order(market, &d)?;
    if let Some(order) = market.orders.iter().find(|o| o["orderId"] == d.order_id) {
        let coded: Vec<(String, u32, Vec<String>)> = d.raw["ItemList"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|i| {
                (
                    i["OrderItemId"].as_str().unwrap_or_default().to_owned(),
                    i["Quantity"].as_u64().unwrap_or(0) as u32,
                    i["TransparencyCodeList"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|c| c.as_str().map(str::to_owned))
                        .collect(),
                )
            })
            .collect();
        super::server::check_transparency(order, &coded).map_err(|m| bad(&m))?;
    }
    let format = match d.label_format.as_deref() {
        None | Some("ShippingServiceDefault") => "PNG",
        Some("ZPL300") => {
            return Err(bad(
                "The selected delivery method does not offer the requested label format. Please choose a different label format or choose another delivery method which offers the requested label format.",
            ));
        }
        Some(f) => LABEL_FORMATS
            .iter()
            .find(|x| **x == f)
            .copied()
            .unwrap_or("PNG"),
    };
    let now = whole_seconds(Utc::now());
    let (services, _) = offers(market.cfg.seed, &d, now);
    let Some(service) = services
        .into_iter()
        .find(|s| s["ShippingServiceId"] == service_id)
    else {
        return Err(bad(
            "ShippingServiceId is not offered for this shipment; ask getEligibleShipmentServices.",
        ));
    };
    if let Some(offer) = body["ShippingServiceOfferId"].as_str()
        && service["ShippingServiceOfferId"] != offer
    {
        return Err(bad(
            "ShippingServiceOfferId is not a current offer for this shipment; ask getEligibleShipmentServices again.",
        ));
    }
    let Some(order) = market.orders.iter().find(|o| o["orderId"] == d.order_id) else {
        return Err(sp_error(
            StatusCode::NOT_FOUND,
            "NotFound",
            "The order was not found.",
        ));
    };
    let to = ship_to(order);
    let seed = market.cfg.seed;
    let n = market.mfn.bought + 1;
    let carrier = service["CarrierName"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let id = shipment_id(seed, n);
    let tracking = tracking_id(&carrier, service_id, seed, n);
    let text = LabelText {
        from: address_lines(&d.raw["ShipFromAddress"]),
        to: address_lines(&to),
        carrier: carrier.clone(),
        service: service["ShippingServiceName"]
            .as_str()
            .unwrap_or_default()
            .trim_start_matches(&format!("{carrier} "))
            .to_owned(),
        tracking: tracking.clone(),
        order_id: d.print_order_id.then(|| d.order_id.clone()),
        custom_text: d.custom_text.clone(),
    };
    let contents = file_contents(format, &text).map_err(|_| {
        sp_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalFailure",
            "The label could not be rendered.",
        )
    })?;
    let mut label = json!({
        "Dimensions": { "Length": 6.0, "Width": 4.0, "Unit": "inches" },
        "FileContents": contents,
        "LabelFormat": format,
    });
    if let Some(t) = &d.custom_text {
        label["CustomTextForLabel"] = json!(t);
    }
    if d.print_order_id {
        label["StandardIdForLabel"] = json!("AmazonOrderId");
    }
    let mut payload = json!({
        "ShipmentId": id,
        "AmazonOrderId": d.order_id,
        "ItemList": d.raw["ItemList"],
        "ShipFromAddress": d.raw["ShipFromAddress"],
        "ShipToAddress": to,
        "PackageDimensions": d.raw["PackageDimensions"],
        "Weight": d.raw["Weight"],
        "Insurance": d.declared_value.clone().unwrap_or(json!({ "CurrencyCode": "USD", "Amount": 100.0 })),
        "ShippingService": service,
        "Label": label,
        "Status": "Purchased",
        "TrackingId": tracking,
        "CreatedDate": rfc3339(now),
        "LastUpdatedDate": rfc3339(now),
    });
    if let Some(s) = d.raw["SellerOrderId"].as_str() {
        payload["SellerOrderId"] = json!(s);
    }
    market.mfn.bought = n;
    market.mfn.shipments.push(Bought {
        id: id.clone(),
        order_id: d.order_id.clone(),
        items: d.items.clone(),
        tracking: tracking.clone(),
        payload: payload.clone(),
    });
    // Buying through Amazon confirms the shipment: the order shows what is on labels.
    mark_labelled(market, &d.order_id);
    Ok((payload, vec![("shipmentId", id), ("trackingId", tracking)]))
}

/// Buying a label through Amazon (Merchant Fulfillment or Shipping API v2) confirms the
/// shipment: the order's items show the units on live labels of either API as fulfilled, and
/// the order is SHIPPED when every unit is on one, PARTIALLY_SHIPPED otherwise.
pub(super) fn mark_labelled(market: &mut Market, order_id: &str) {
    let labelled: Vec<(String, u32)> = order_lines(market, order_id)
        .into_iter()
        .map(|(item, _)| {
            let q =
                market.mfn.labelled(order_id, &item) + market.shipping.labelled(order_id, &item);
            (item, q)
        })
        .collect();
    if let Some(order) = market.orders.iter_mut().find(|o| o["orderId"] == order_id) {
        let mut all = true;
        if let Some(lines) = order["orderItems"].as_array_mut() {
            for line in lines {
                let ordered = line["quantityOrdered"].as_u64().unwrap_or(0) as u32;
                let done = labelled
                    .iter()
                    .find(|(i, _)| line["orderItemId"] == i.as_str())
                    .map_or(0, |(_, q)| *q)
                    .min(ordered);
                all &= done == ordered;
                line["fulfillment"]["quantityFulfilled"] = json!(done);
                line["fulfillment"]["quantityUnfulfilled"] = json!(ordered - done);
            }
        }
        order["fulfillment"]["fulfillmentStatus"] =
            json!(if all { "SHIPPED" } else { "PARTIALLY_SHIPPED" });
        order["lastUpdatedTime"] = json!(Utc::now().to_rfc3339());
    }
}

pub(super) fn order_lines(market: &Market, order_id: &str) -> Vec<(String, u64)> {
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

/// Finds a shipment for getShipment and cancelShipment, or the error to answer.
// The refusal is the HTTP answer itself, built once per request: boxing it would buy nothing.
#[allow(clippy::result_large_err)]
fn find_shipment<'a>(market: &'a mut Market, id: &str) -> Result<&'a mut Bought, Response> {
    if !packline_spapi::mfn::is_shipment_id(id) {
        return Err(bad("shipmentId is not a valid shipment identifier."));
    }
    market
        .mfn
        .shipments
        .iter_mut()
        .find(|s| s.id == id)
        .ok_or_else(|| {
            sp_error(
                StatusCode::NOT_FOUND,
                "NotFound",
                "The shipment was not found.",
            )
        })
}

/// `getShipment`.
async fn get_shipment(
    State(m): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    const OP: Endpoint = endpoints::GET_SHIPMENT;
    let params = HashMap::from([("shipmentId".to_owned(), id.clone())]);
    serve(m, OP.name, OP.plan, params, |market| {
        let path = OP.fill(&[id.as_str()]).unwrap_or_default();
        let method = OP.method.as_str();
        if let Some(refused) = admit_restricted(market, &headers, OP.name, OP.plan, method, &path) {
            return (refused, vec![]);
        }
        match find_shipment(market, &id) {
            Ok(s) => (
                axum::Json(json!({ "payload": s.payload })).into_response(),
                vec![("orderId", s.order_id.clone())],
            ),
            Err(r) => (r, vec![]),
        }
    })
    .await
}

/// `cancelShipment`: voids a purchased label. The refund is then pending; cancelling again is
/// refused with `ShipmentAlreadyCancelled`.
async fn cancel(State(m): State<Shared>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    const OP: Endpoint = endpoints::MFN_CANCEL_SHIPMENT;
    let params = HashMap::from([("shipmentId".to_owned(), id.clone())]);
    serve(m, OP.name, OP.plan, params, |market| {
        let path = OP.fill(&[id.as_str()]).unwrap_or_default();
        let method = OP.method.as_str();
        if let Some(refused) = admit_restricted(market, &headers, OP.name, OP.plan, method, &path) {
            return (refused, vec![]);
        }
        let s = match find_shipment(market, &id) {
            Ok(s) => s,
            Err(r) => return (r, vec![]),
        };
        let extra = vec![("orderId", s.order_id.clone())];
        if !s.live() {
            return (
                sp_error(
                    StatusCode::BAD_REQUEST,
                    "ShipmentAlreadyCancelled",
                    "The shipment is already cancelled; its refund is pending or applied.",
                ),
                extra,
            );
        }
        // As Amazon: a cancelled shipment comes back with its refund pending and an empty label.
        s.payload["Status"] = json!("RefundPending");
        s.payload["LastUpdatedDate"] = json!(rfc3339(Utc::now()));
        s.payload["Label"]["FileContents"]["Contents"] = json!("");
        s.payload["Label"]["FileContents"]["Checksum"] = json!("");
        (
            axum::Json(json!({ "payload": s.payload })).into_response(),
            extra,
        )
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracking_ids_carry_valid_check_digits() {
        // The check digit of UPS's published example 1Z999AA10123456784.
        assert_eq!(ups_check("999AA1012345678"), 4);
        let ups = tracking_id("UPS", "UPS_PTP_GND", 7, 1);
        assert_eq!(ups.len(), 18);
        assert!(ups.starts_with("1ZTR41N903"));
        let usps = tracking_id("USPS", "USPS_PTP_GA", 7, 1);
        assert_eq!(usps.len(), 22);
        assert!(usps.bytes().all(|b| b.is_ascii_digit()));
        // With its check digit, the weighted sum (1, 3, 1, … from the right) is a multiple of 10.
        let sum: u32 = usps
            .bytes()
            .rev()
            .enumerate()
            .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 1 } else { 3 })
            .sum();
        assert_eq!(sum % 10, 0, "{usps}");
        assert_eq!(tracking_id("FedEx", "X", 7, 1).len(), 12);
        assert_ne!(tracking_id("UPS", "UPS_PTP_GND", 7, 2), ups);
    }

    #[test]
    fn shipment_ids_match_the_model_pattern() {
        let id = shipment_id(7, 1);
        assert!(packline_spapi::mfn::is_shipment_id(&id), "{id}");
        assert_eq!(id, shipment_id(7, 1));
        assert_ne!(id, shipment_id(7, 2));
    }
}
