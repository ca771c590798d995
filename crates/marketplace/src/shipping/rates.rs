//! getRates: a `GetRatesRequest` for an Amazon order validated, its units checked against what
//! is left, and the training carriers' offers quoted.

use std::time::Instant;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::{DateTime, Duration, NaiveTime, Utc};
use packline_spapi::throttle::UsagePlan;
use serde_json::{Value, json};

use super::common::{
    DPI, FORMATS, GET_RATES, MAX_SIDE_IN, PAGE_LAYOUTS, address, benefits, business_sent,
    carrier_id, check_business, common_params, enter, invalid, json_body, keep_body, not_found,
    number, ok, opaque, serve, string,
};
use crate::books::{Offer, Parcel, Quote};
use crate::carriers::{self, SERVICES, Service};
use crate::market::{Market, Shared};

/// A validated `GetRatesRequest` for an Amazon order.
struct RatesRequest {
    order_id: String,
    ship_from: Value,
    ship_date: Option<DateTime<Utc>>,
    /// (package, weight in ounces, length × width × height in inches).
    packages: Vec<(Parcel, f64, (f64, f64, f64))>,
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
pub(super) fn check_units(
    market: &Market,
    order_id: &str,
    parcels: &[&Parcel],
) -> Result<(), Response> {
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

/// The promise of a service for packages handed over on `ship`'s day.
fn promise(s: &Service, ship: DateTime<Utc>) -> Value {
    let at = |days: i64, h: u32| {
        (ship.date_naive() + Duration::days(days))
            .and_time(NaiveTime::from_hms_opt(h, 0, 0).unwrap_or_default())
            .and_utc()
    };
    json!({
        "deliveryWindow": { "start": carriers::rfc3339(at(s.days.0, 8)), "end": carriers::rfc3339(at(s.days.1, 20)) },
        "pickupWindow": { "start": carriers::rfc3339(ship), "end": carriers::rfc3339(ship + Duration::hours(8)) }
    })
}

pub(super) async fn get_rates(
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
        let ship = carriers::whole_seconds(req.ship_date.unwrap_or_else(Utc::now));
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
