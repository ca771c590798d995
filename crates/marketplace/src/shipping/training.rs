//! Shipping API v2's training controls: expire rates, a surcharge, tracking moved on, and the
//! shipments and request bodies as they stand.

use std::time::Instant;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::{Value, json};

use super::common::{carrier_id, invalid, items_param};
use super::shipments::{STATUSES, advance};
use crate::carriers;
use crate::market::{Shared, lock};

/// Training control: every outstanding request token expires now.
pub(super) async fn expire_rates(State(m): State<Shared>) -> StatusCode {
    let mut market = lock(&m);
    let now = Instant::now();
    for q in &mut market.shipping.quotes {
        q.expires = q.expires.min(now);
    }
    StatusCode::NO_CONTENT
}

/// Training control: rates quoted from now on cost `percent` more (0–500; 0 takes it back).
pub(super) async fn surcharge(State(m): State<Shared>, Path(percent): Path<String>) -> Response {
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
pub(super) async fn set_tracking(
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
    match advance(p, status, carriers::whole_seconds(Utc::now())) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(msg) => (StatusCode::CONFLICT, msg).into_response(),
    }
}

/// Training control: the last request bodies, each with its model definition's name.
pub(super) async fn bodies(State(m): State<Shared>) -> axum::Json<Vec<Value>> {
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

pub(super) async fn shipments(State(m): State<Shared>) -> axum::Json<Vec<Value>> {
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
