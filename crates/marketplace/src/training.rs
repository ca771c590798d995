//! Training controls outside the SP-API: the request log, the order book and the confirmed
//! packages as they stand, and changes to orders the way a buyer or Amazon would make them
//! (cancel, ask to cancel, readdress, Transparency, serial numbers, a broken SKU, Ship+, another
//! marketplace).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::Utc;
use serde_json::{Value, json};

use crate::market::{LoggedRequest, Shared, lock, request_cancellation};

pub(crate) async fn requests(State(m): State<Shared>) -> Json<Vec<LoggedRequest>> {
    Json(lock(&m).log.clone())
}

/// Training control: the order book as it stands (ids, statuses, times; no personal data).
pub(crate) async fn book(State(m): State<Shared>) -> Json<Vec<Value>> {
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

/// Training control: every package confirmed with confirmShipment (and each v2 package whose
/// Transparency codes were sent that way): order, package reference, tracking, the items with
/// their codes, and the request body as sent. No personal data.
pub(crate) async fn confirmations(State(m): State<Shared>) -> Json<Vec<Value>> {
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

/// Training control: `cancel` an order, or `readdress` it (a new recipient), as of now; or
/// make it a Ship+ order (`ship-plus`), which confirmShipment refuses.
/// `POST /_training/marketplace/{id}`: every order in the book is now of marketplace `id` (a
/// training floor for a site outside the US, e.g. `A13V1IB3VIYZZH`, Amazon.fr).
pub(crate) async fn move_marketplace(
    State(m): State<Shared>,
    Path(id): Path<String>,
) -> StatusCode {
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

pub(crate) async fn change_order(
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
