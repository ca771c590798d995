//! purchaseShipment: a rate bought once (idempotency keys replay the first answer), its labels
//! drawn in the format asked for, the order marked as labelled.

use std::time::Instant;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use chrono::Utc;
use packline_spapi::throttle::UsagePlan;
use serde_json::{Value, json};

use super::common::{
    DPI, FORMATS, PAGE_LAYOUTS, PURCHASE_SHIPMENT, TRACKING_OFFSET, benefits, business_sent,
    carrier_id, common_params, enter, error, idempotency_key, invalid, items_param, json_body,
    keep_body, not_found, once_per_key, opaque, serve, string,
};
use super::rates::check_units;
use crate::books::{Logged, Package, Parcel, Shipment};
use crate::carrier_label::{self, LabelText};
use crate::carriers::{self, Service};
use crate::market::{Market, Shared, mark_labelled};

/// The label format asked for, if the rate offers the specification as asked.
pub(super) fn document_format(spec: &Value) -> Result<&'static str, String> {
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
pub(super) fn draw(format: &str, text: &LabelText) -> Result<Vec<u8>, carrier_label::RenderError> {
    match format {
        "ZPL" => carrier_label::zpl203(text),
        "PDF" => carrier_label::pdf(text),
        _ => carrier_label::png203(text),
    }
}

pub(super) fn from_lines(a: &Value) -> Vec<String> {
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

pub(super) fn label_text(service: &Service, p: &Package) -> LabelText {
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

pub(super) fn package_document(p: &Package, format: &str, contents: String) -> Value {
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
    let to = carriers::address_lines(&carriers::ship_to(order));
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
    let now = carriers::whole_seconds(Utc::now());
    let mut packages = Vec::with_capacity(quote.parcels.len());
    let mut k = market.shipping.packages;
    for parcel in &quote.parcels {
        k += 1;
        let mut p = Package {
            reference: parcel.reference.clone(),
            tracking: carriers::tracking_id(service.carrier, service.id, seed, TRACKING_OFFSET + k),
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
    mark_labelled(market, &order_id);
    Ok((json!({ "payload": payload }), params))
}

pub(super) async fn purchase(
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

#[cfg(test)]
mod tests {
    use super::*;

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
