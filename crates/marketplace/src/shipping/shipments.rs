//! A bought shipment afterwards: its documents (in another format if asked), its void, and its
//! tracking, forward only, an event per step.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use packline_spapi::throttle::UsagePlan;
use serde_json::{Value, json};

use super::common::{
    CANCEL_SHIPMENT, DPI, FORMATS, GET_SHIPMENT_DOCUMENTS, GET_TRACKING, benefits, carrier_id,
    common_params, enter, error, invalid, not_found, ok, serve,
};
use super::purchase::{draw, label_text, package_document};
use crate::books::{Package, Shipment};
use crate::carriers;
use crate::market::{Market, Shared};

fn find_shipment<'a>(market: &'a mut Market, id: &str) -> Result<&'a mut Shipment, Response> {
    market
        .shipping
        .shipments
        .iter_mut()
        .find(|s| s.id == id)
        .ok_or_else(|| not_found("The shipment was not found."))
}

pub(super) async fn documents(
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

pub(super) async fn cancel(
    State(m): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
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

pub(super) const STATUSES: [&str; 5] = [
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
pub(super) fn advance(
    p: &mut Package,
    status: &'static str,
    at: DateTime<Utc>,
) -> Result<(), String> {
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

pub(super) async fn tracking(
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
                json!({ "eventCode": code, "eventTime": carriers::rfc3339(*at), "shipmentType": "FORWARD" })
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
}
