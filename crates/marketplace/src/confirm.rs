//! Orders v0 `confirmShipment` in the training marketplace: an own-carrier package confirmed
//! with its items and Transparency codes, checked as Amazon checks them (units left, codes per
//! unit, Ship+ orders refused).

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::DateTime;
use packline_spapi::endpoints;
use serde::Deserialize;
use serde_json::Value;

use crate::books::Confirmed;
use crate::market::{self, Market, Shared, admit, check_transparency, set_fulfilled, sp_error};

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
pub(crate) async fn confirm_shipment(
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
    market::serve(
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
    set_fulfilled(order, |item| fulfilled.get(item).copied().unwrap_or(0));
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
