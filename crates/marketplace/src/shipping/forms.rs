//! getUnmanifestedShipments and collection forms (generateCollectionForm, getCollectionForm): a
//! form puts its packages in transit and ends their voids.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use chrono::Utc;
use packline_spapi::throttle::UsagePlan;
use serde_json::{Value, json};

use super::common::{
    GENERATE_COLLECTION_FORM, GET_COLLECTION_FORM, GET_UNMANIFESTED_SHIPMENTS, address, carrier_id,
    common_params, enter, error, idempotency_key, invalid, json_body, keep_body, not_found, ok,
    once_per_key, opaque, serve, string,
};
use super::shipments::advance;
use crate::books::{Form, Logged};
use crate::carrier_label::{self, CollectionFormText};
use crate::carriers;
use crate::market::{Market, Shared};

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
                        l["lastManifestDate"] = json!(carriers::rfc3339(last));
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

pub(super) async fn unmanifested(
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
    let now = carriers::whole_seconds(Utc::now());
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

pub(super) async fn generate_form(
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

pub(super) async fn get_form(
    State(m): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
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
