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

mod details;

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use chrono::{DateTime, Duration, NaiveTime, Utc};
use packline_spapi::endpoints::{self, Endpoint};
use packline_spapi::throttle::UsagePlan;
use serde_json::{Value, json};
use sha2::Digest as _;

use self::details::{Details, LABEL_FORMATS, details};
use crate::books::Bought;
use crate::carrier_label::{self, LabelText};
use crate::carriers::{
    SERVICES, Service, address_lines, rfc3339, ship_to, tracking_id, whole_seconds,
};
use crate::market::{
    EndpointRoutes as _, Market, Shared, admit, check_transparency, mark_labelled, serve, sp_error,
};

pub(super) fn routes() -> Router<Shared> {
    Router::<Shared>::new()
        .endpoint(&endpoints::GET_ELIGIBLE_SHIPMENT_SERVICES, eligible)
        .endpoint(&endpoints::CREATE_SHIPMENT, create)
        .endpoint(&endpoints::GET_SHIPMENT, get_shipment)
        .endpoint(&endpoints::MFN_CANCEL_SHIPMENT, cancel)
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
        check_transparency(order, &coded).map_err(|m| bad(&m))?;
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
    fn shipment_ids_match_the_model_pattern() {
        let id = shipment_id(7, 1);
        assert!(packline_spapi::mfn::is_shipment_id(&id), "{id}");
        assert_eq!(id, shipment_id(7, 1));
        assert_ne!(id, shipment_id(7, 2));
    }
}
