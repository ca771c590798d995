//! The training marketplace answers in the official shapes: every response body validates against
//! the JSON schema of its operation in Amazon's own model, and requests are validated as Amazon
//! does (with SP-API error bodies).

use crate::common::*;
use serde_json::{Value, json};

const MODEL: &str = include_str!("../spapi-models/orders_2026-01-01.json");
const TOKENS: &str = include_str!("../spapi-models/tokens_2021-03-01.json");

/// A validator for one definition of the Orders model (Swagger 2.0 schemas are JSON Schema
/// draft 4 with `#/definitions/…` references).
#[test]
fn responses_validate_against_the_official_schemas() {
    let m = marketplace(250, "1000");
    let token = "Atza|training-test".to_owned();
    let page_schema = validator_in(MODEL, "SearchOrdersResponse");
    let error_schema = validator_in(MODEL, "ErrorList");
    // The validators do reject what the model forbids.
    assert!(!page_schema.is_valid(&json!({ "orders": [{ "orderId": 5 }] })));
    assert!(!error_schema.is_valid(&json!({ "errors": [{ "code": "X" }] })));
    let auth = [("x-amz-access-token", token.as_str())];

    // Every page, with every dataset packline asks for.
    let mut path = "/orders/2026-01-01/orders?createdAfter=2020-01-01T00:00:00Z&fulfilledBy=MERCHANT&includedData=RECIPIENT,FULFILLMENT,CANCELLATION&maxResultsPerPage=100".to_owned();
    let mut pages = 0;
    let mut orders = 0;
    loop {
        let (status, body) = http_with(&m, "GET", &path, &auth);
        assert_eq!(status, 200, "{body}");
        assert_valid(&page_schema, &body, &format!("page {pages}"));
        let v: Value = serde_json::from_str(&body).unwrap();
        orders += v["orders"].as_array().unwrap().len();
        pages += 1;
        match v["pagination"]["nextToken"].as_str() {
            Some(t) => path = format!("{path}&paginationToken={t}"),
            None => break,
        }
    }
    assert_eq!((pages, orders), (3, 250));

    // Amazon's validation, with SP-API error bodies.
    for (query, status) in [
        (
            "createdAfter=2020-01-01T00:00:00Z&lastUpdatedAfter=2020-01-01T00:00:00Z",
            400,
        ),
        ("", 400),
        ("createdAfter=yesterday", 400),
        (
            "createdAfter=2020-01-01T00:00:00Z&maxResultsPerPage=101",
            400,
        ),
        (
            "createdAfter=2020-01-01T00:00:00Z&paginationToken=forged",
            400,
        ),
    ] {
        let (got, body) = http_with(
            &m,
            "GET",
            &format!("/orders/2026-01-01/orders?{query}"),
            &auth,
        );
        assert_eq!(got, status, "{query}: {body}");
        assert_valid(&error_schema, &body, query);
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap()["errors"][0]["code"],
            "InvalidInput"
        );
    }
    let (got, body) = http_with(
        &m,
        "GET",
        "/orders/2026-01-01/orders?createdAfter=2020-01-01T00:00:00Z",
        &[],
    );
    assert_eq!(got, 403);
    assert_valid(&error_schema, &body, "no token");

    // getOrder, and the Tokens API.
    let (got, body) = http_with(
        &m,
        "GET",
        "/orders/2026-01-01/orders?createdAfter=2020-01-01T00:00:00Z&maxResultsPerPage=1",
        &auth,
    );
    assert_eq!(got, 200);
    let id = serde_json::from_str::<Value>(&body).unwrap()["orders"][0]["orderId"]
        .as_str()
        .unwrap()
        .to_owned();
    let (got, body) = http_with(
        &m,
        "GET",
        &format!("/orders/2026-01-01/orders/{id}?includedData=RECIPIENT,FULFILLMENT"),
        &auth,
    );
    assert_eq!(got, 200);
    assert_valid(&validator_in(MODEL, "GetOrderResponse"), &body, "getOrder");
    let (got, body) = http_with(
        &m,
        "GET",
        "/orders/2026-01-01/orders/999-0000000-0000000",
        &auth,
    );
    assert_eq!(got, 404);
    assert_valid(&error_schema, &body, "getOrder 404");
    let request = format!(
        r#"{{"restrictedResources":[{{"method":"GET","path":"/orders/v0/orders/{id}/address","dataElements":["shippingAddress"]}}]}}"#
    );
    let (got, body) = http_send(
        &m,
        "POST",
        "/tokens/2021-03-01/restrictedDataToken",
        &[auth[0], ("content-type", "application/json")],
        &request,
    );
    assert_eq!(got, 200, "{body}");
    assert_valid(
        &validator_in(TOKENS, "CreateRestrictedDataTokenResponse"),
        &body,
        "createRestrictedDataToken",
    );
}

#[test]
fn the_quota_is_enforced_with_429_and_the_rate_header() {
    // Real quotas: searchOrders allows a burst of 20, then one request every three minutes.
    let m = marketplace(10, "1");
    let auth = [("x-amz-access-token", "Atza|training-test")];
    let path = "/orders/2026-01-01/orders?createdAfter=2020-01-01T00:00:00Z";
    for i in 0..20 {
        let (status, body) = http_with(&m, "GET", path, &auth);
        assert_eq!(status, 200, "request {i}: {body}");
    }
    let (status, body) = http_with(&m, "GET", path, &auth);
    assert_eq!(status, 429);
    assert_valid(&validator_in(MODEL, "ErrorList"), &body, "429");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["errors"][0]["code"],
        "QuotaExceeded"
    );
    let log = request_log(&m);
    assert_eq!(log.iter().filter(|r| r["status"] == 429).count(), 1);
}

// ---------------------------------------------------------------------------------------------
// Shipping API v2

const SHIPPING: &str = include_str!("../spapi-models/shippingV2.json");
const V2_AUTH: (&str, &str) = ("x-amz-access-token", "Atza|training-test");
/// The shipping business of the training orders' marketplace (Amazon.com): rates for them are
/// quoted to it alone.
const US_BUSINESS: (&str, &str) = ("x-amzn-shipping-business-id", "AmazonShipping_US");
const JSON: (&str, &str) = ("content-type", "application/json");

/// Checks a v2 answer: the response definition, and its payload against the result definition
/// (whose required fields the response definition does not reach).
fn assert_v2(body: &str, response: &str, result: Option<&str>, what: &str) -> Value {
    assert_valid(&validator_in(SHIPPING, response), body, what);
    let v: Value = serde_json::from_str(body).unwrap();
    if let Some(result) = result {
        assert!(v["payload"].is_object(), "{what}: no payload: {body}");
        assert_valid(
            &validator_in(SHIPPING, result),
            &v["payload"].to_string(),
            what,
        );
    }
    v
}

/// An SP-API error of the Shipping model, with its code.
fn assert_v2_error(status: u16, body: &str, want_status: u16, code: &str, what: &str) -> String {
    assert_eq!(status, want_status, "{what}: {body}");
    let v = assert_v2(body, "ErrorList", None, what);
    assert_eq!(v["errors"][0]["code"], code, "{what}: {body}");
    assert!(v["errors"][0]["details"].is_string(), "{what}: {body}");
    v["errors"][0]["message"].as_str().unwrap().to_owned()
}

/// Every order of the marketplace with its items (order item id, quantity ordered).
fn order_items(m: &Marketplace) -> Vec<(String, Vec<(String, u64)>)> {
    let book: Vec<Value> = training_book(m);
    book.iter()
        .map(|o| {
            let id = o["orderId"].as_str().unwrap().to_owned();
            let (status, body) = http_with(
                m,
                "GET",
                &format!("/orders/2026-01-01/orders/{id}"),
                &[V2_AUTH],
            );
            assert_eq!(status, 200, "{body}");
            let order: Value = serde_json::from_str(&body).unwrap();
            let items = order["order"]["orderItems"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| {
                    (
                        i["orderItemId"].as_str().unwrap().to_owned(),
                        i["quantityOrdered"].as_u64().unwrap(),
                    )
                })
                .collect();
            (id, items)
        })
        .collect()
}

fn ship_from() -> Value {
    json!({
        "name": "Example Goods", "addressLine1": "1 Dock Road", "city": "Seattle",
        "stateOrRegion": "WA", "postalCode": "98109", "countryCode": "US",
        "phoneNumber": "2065550100"
    })
}

/// A getRates request for `order`: one package per entry, (reference, [(item, quantity)]),
/// weighing `ounces`.
fn rates_request(order: &str, packages: &[(&str, Vec<(String, u64)>)], ounces: f64) -> String {
    json!({
        "shipFrom": ship_from(),
        "shipTo": { "name": "ignored", "addressLine1": "x", "city": "x", "stateOrRegion": "x", "postalCode": "x", "countryCode": "US" },
        "channelDetails": { "channelType": "AMAZON", "amazonOrderDetails": { "orderId": order } },
        "packages": packages.iter().map(|(reference, items)| json!({
            "packageClientReferenceId": reference,
            "dimensions": { "length": 10, "width": 8, "height": 4, "unit": "INCH" },
            "weight": { "value": ounces, "unit": "OUNCE" },
            "insuredValue": { "value": 19.99, "unit": "USD" },
            "items": items.iter().map(|(id, q)| json!({ "itemIdentifier": id, "quantity": q })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
    .to_string()
}

/// getRates, checked against the model: (status, body).
fn get_rates(m: &Marketplace, body: &str) -> (u16, String) {
    let (status, answer) = http_send(
        m,
        "POST",
        "/shipping/v2/shipments/rates",
        &[V2_AUTH, JSON, US_BUSINESS],
        body,
    );
    if status == 200 {
        assert_v2(
            &answer,
            "GetRatesResponse",
            Some("GetRatesResult"),
            "getRates",
        );
    } else {
        assert_valid(&validator_in(SHIPPING, "ErrorList"), &answer, "getRates");
    }
    (status, answer)
}

/// The request token and the rate id of `service` of a successful getRates.
fn rate_of(m: &Marketplace, body: &str, service: &str) -> (String, String) {
    let (token, rate, _) = offer_of(m, body, service);
    (token, rate)
}

/// The request token, rate id and whole rate of `service` in a fresh getRates answer.
fn offer_of(m: &Marketplace, body: &str, service: &str) -> (String, String, Value) {
    let (status, answer) = get_rates(m, body);
    assert_eq!(status, 200, "{answer}");
    let v: Value = serde_json::from_str(&answer).unwrap();
    let rate = v["payload"]["rates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["serviceId"] == service)
        .unwrap_or_else(|| panic!("no {service} rate: {answer}"));
    (
        v["payload"]["requestToken"].as_str().unwrap().to_owned(),
        rate["rateId"].as_str().unwrap().to_owned(),
        rate.clone(),
    )
}

fn purchase_body(token: &str, rate: &str, format: &str) -> String {
    json!({
        "requestToken": token,
        "rateId": rate,
        "requestedDocumentSpecification": {
            "format": format,
            "size": { "width": 4, "length": 6, "unit": "INCH" },
            "dpi": 203,
            "needFileJoining": false,
            "requestedDocumentTypes": ["LABEL"]
        }
    })
    .to_string()
}

/// purchaseShipment, checked against the model when it succeeds: (status, body).
fn purchase(m: &Marketplace, body: &str, key: Option<&str>) -> (u16, String) {
    let mut headers = vec![V2_AUTH, JSON];
    if let Some(k) = key {
        headers.push(("x-amzn-IdempotencyKey", k));
    }
    let (status, answer) = http_send(m, "POST", "/shipping/v2/shipments", &headers, body);
    if status == 200 {
        assert_v2(
            &answer,
            "PurchaseShipmentResponse",
            Some("PurchaseShipmentResult"),
            "purchaseShipment",
        );
    }
    (status, answer)
}

/// Buys `service` for all units of `order`'s first item: (shipment id, tracking id).
fn buy(m: &Marketplace, order: &str, item: &(String, u64), service: &str) -> (String, String) {
    let (token, rate) = rate_of(
        m,
        &rates_request(order, &[("1", vec![item.clone()])], 12.0),
        service,
    );
    let (status, answer) = purchase(m, &purchase_body(&token, &rate, "ZPL"), None);
    assert_eq!(status, 200, "{answer}");
    let v: Value = serde_json::from_str(&answer).unwrap();
    let p = &v["payload"];
    (
        p["shipmentId"].as_str().unwrap().to_owned(),
        p["packageDocumentDetails"][0]["trackingId"]
            .as_str()
            .unwrap()
            .to_owned(),
    )
}

fn b64(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

/// The log entries of `operation` (the Shipping API's own, `api = shippingV2`).
fn v2_log(m: &Marketplace, operation: &str) -> Vec<Value> {
    request_log(m)
        .into_iter()
        .filter(|r| r["operation"] == operation && r["params"]["api"] == "shippingV2")
        .collect()
}

#[test]
fn shipping_v2_rates_purchase_and_documents_round_trip_in_the_official_shapes() {
    let m = marketplace(12, "1000");
    let orders = order_items(&m);
    let (order, items) = &orders[0];
    let all: Vec<(String, u64)> = items.clone();

    // Rates: every service for a light package, the USPS ones refused for a heavy one.
    let (status, answer) = get_rates(&m, &rates_request(order, &[("pkg-1", all.clone())], 12.0));
    assert_eq!(status, 200, "{answer}");
    let v: Value = serde_json::from_str(&answer).unwrap();
    let rates = v["payload"]["rates"].as_array().unwrap();
    let services: Vec<&str> = rates
        .iter()
        .map(|r| r["serviceId"].as_str().unwrap())
        .collect();
    assert_eq!(
        services,
        [
            "USPS_PTP_GA",
            "USPS_PTP_PRI",
            "UPS_PTP_GND",
            "UPS_PTP_2ND_DAY_AIR",
            "FEDEX_PTP_STANDARD_OVERNIGHT"
        ]
    );
    let ground = &rates[2];
    assert_eq!(ground["carrierId"], "UPS");
    // UPS Ground: 9.40 + 0.71 a pound, billed on 10×8×4 in / 139 = 2.3 → 3 lb.
    assert_eq!(
        ground["totalCharge"],
        json!({ "value": 11.53, "unit": "USD" })
    );
    assert_eq!(
        ground["billedWeight"],
        json!({ "value": 3.0, "unit": "POUND" })
    );
    assert_eq!(ground["requiresAdditionalInputs"], false);
    let formats: Vec<&str> = ground["supportedDocumentSpecifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["format"].as_str().unwrap())
        .collect();
    assert_eq!(formats, ["ZPL", "PNG", "PDF"]);
    assert_eq!(
        ground["supportedDocumentSpecifications"][0]["printOptions"][0]["supportedDPIs"],
        json!([203])
    );
    assert_eq!(v["payload"]["ineligibleRates"], json!([]));
    let (status, heavy) = get_rates(&m, &rates_request(order, &[("pkg-1", all.clone())], 1200.0));
    assert_eq!(status, 200, "{heavy}");
    let heavy: Value = serde_json::from_str(&heavy).unwrap();
    let refused: Vec<(&str, &str)> = heavy["payload"]["ineligibleRates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["serviceId"].as_str().unwrap(),
                r["ineligibilityReasons"][0]["code"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        refused,
        [
            ("USPS_PTP_GA", "WEIGHT_RESTRICTIONS"),
            ("USPS_PTP_PRI", "WEIGHT_RESTRICTIONS")
        ]
    );
    assert_eq!(heavy["payload"]["rates"].as_array().unwrap().len(), 3);

    // Validation names the field, in SP-API error bodies.
    let (status, body) = get_rates(&m, "{not json");
    let msg = assert_v2_error(status, &body, 400, "InvalidInput", "bad JSON");
    assert!(msg.contains("GetRatesRequest"), "{msg}");
    let mut no_from: Value =
        serde_json::from_str(&rates_request(order, &[("1", all.clone())], 12.0)).unwrap();
    no_from["shipFrom"]["postalCode"] = json!(5);
    let (status, body) = get_rates(&m, &no_from.to_string());
    let msg = assert_v2_error(status, &body, 400, "InvalidInput", "bad shipFrom");
    assert!(msg.contains("shipFrom.postalCode"), "{msg}");
    let mut no_weight = no_from.clone();
    no_weight["shipFrom"] = ship_from();
    no_weight["packages"][0]["weight"]["unit"] = json!("STONE");
    let (status, body) = get_rates(&m, &no_weight.to_string());
    let msg = assert_v2_error(status, &body, 400, "InvalidInput", "bad weight");
    assert!(msg.contains("packages[0].weight.unit"), "{msg}");
    let (status, body) = get_rates(
        &m,
        &rates_request("999-0000000-0000000", &[("1", all.clone())], 12.0),
    );
    assert_v2_error(status, &body, 404, "NotFound", "unknown order");
    let (status, body) = http_send(
        &m,
        "POST",
        "/shipping/v2/shipments/rates",
        &[JSON],
        &rates_request(order, &[("1", all.clone())], 12.0),
    );
    assert_v2_error(status, &body, 403, "Unauthorized", "no token");
    // Rates for an Amazon.com order are quoted only to Amazon's US shipping business: none (the
    // model's default, the UK's) or another is refused, naming both.
    for business in [None, Some("AmazonShipping_UK"), Some("AmazonShipping_FR")] {
        let mut headers = vec![V2_AUTH, JSON];
        headers.extend(business.map(|b| ("x-amzn-shipping-business-id", b)));
        let (status, body) = http_send(
            &m,
            "POST",
            "/shipping/v2/shipments/rates",
            &headers,
            &rates_request(order, &[("1", all.clone())], 12.0),
        );
        let msg = assert_v2_error(status, &body, 400, "InvalidInput", "another business");
        assert_eq!(
            msg,
            format!(
                "The order's marketplace ATVPDKIKX0DER is shipped by AmazonShipping_US, not by {}.",
                business.unwrap_or("AmazonShipping_UK")
            )
        );
    }

    // Purchase: a real ZPL label with the tracking id, and the order is shipped.
    assert_eq!(training_status(&m, order), "UNSHIPPED");
    let (token, rate, offer) = offer_of(
        &m,
        &rates_request(order, &[("pkg-1", all.clone())], 12.0),
        "UPS_PTP_GND",
    );
    let mut wrong_spec: Value = serde_json::from_str(&purchase_body(&token, &rate, "ZPL")).unwrap();
    wrong_spec["requestedDocumentSpecification"]["dpi"] = json!(300);
    let (status, body) = purchase(&m, &wrong_spec.to_string(), None);
    let msg = assert_v2_error(status, &body, 400, "InvalidInput", "300 dpi");
    assert!(msg.contains("requestedDocumentSpecification.dpi"), "{msg}");
    let (status, answer) = purchase(&m, &purchase_body(&token, &rate, "ZPL"), None);
    assert_eq!(status, 200, "{answer}");
    let v: Value = serde_json::from_str(&answer).unwrap();
    let p = &v["payload"];
    let shipment = p["shipmentId"].as_str().unwrap();
    let detail = &p["packageDocumentDetails"][0];
    assert_eq!(p["packageDocumentDetails"].as_array().unwrap().len(), 1);
    assert_eq!(detail["packageClientReferenceId"], "pkg-1");
    let tracking = detail["trackingId"].as_str().unwrap();
    assert_eq!(tracking.len(), 18, "{tracking}");
    assert!(tracking.starts_with("1ZTR41N903"), "{tracking}");
    assert_eq!(detail["packageDocuments"][0]["type"], "LABEL");
    assert_eq!(detail["packageDocuments"][0]["format"], "ZPL");
    let zpl = String::from_utf8(b64(detail["packageDocuments"][0]["contents"]
        .as_str()
        .unwrap()))
    .unwrap();
    assert!(zpl.starts_with("^XA") && zpl.ends_with("^XZ\n"), "{zpl}");
    assert!(zpl.contains(&format!("^FD{tracking}^FS")), "{zpl}");
    // The purchase keeps the promise of the rate it bought (an earlier rate's pickup window,
    // counted from its own moment, may differ by a second).
    assert_eq!(p["promise"], offer["promise"]);
    assert_eq!(training_status(&m, order), "SHIPPED");

    // The same label again, and in the other formats.
    let path =
        format!("/shipping/v2/shipments/{shipment}/documents?packageClientReferenceId=pkg-1");
    let (status, again) = http_with(&m, "GET", &path, &[V2_AUTH]);
    assert_eq!(status, 200, "{again}");
    let again = assert_v2(
        &again,
        "GetShipmentDocumentsResponse",
        Some("GetShipmentDocumentsResult"),
        "getShipmentDocuments",
    );
    assert_eq!(again["payload"]["shipmentId"], shipment);
    assert_eq!(
        again["payload"]["packageDocumentDetail"]["trackingId"],
        tracking
    );
    assert_eq!(
        again["payload"]["packageDocumentDetail"]["packageDocuments"],
        detail["packageDocuments"]
    );
    for (format, magic) in [("PDF", &b"%PDF-"[..]), ("PNG", &b"\x89PNG"[..])] {
        let (status, doc) = http_with(&m, "GET", &format!("{path}&format={format}"), &[V2_AUTH]);
        assert_eq!(status, 200, "{doc}");
        let doc = assert_v2(
            &doc,
            "GetShipmentDocumentsResponse",
            Some("GetShipmentDocumentsResult"),
            format,
        );
        let bytes = b64(
            doc["payload"]["packageDocumentDetail"]["packageDocuments"][0]["contents"]
                .as_str()
                .unwrap(),
        );
        assert!(bytes.starts_with(magic), "{format}");
    }
    let (status, body) = http_with(
        &m,
        "GET",
        &format!("/shipping/v2/shipments/{shipment}/documents?packageClientReferenceId=other"),
        &[V2_AUTH],
    );
    assert_v2_error(status, &body, 404, "NotFound", "unknown package");
    let (status, body) = http_with(
        &m,
        "GET",
        &format!("/shipping/v2/shipments/{shipment}/documents"),
        &[V2_AUTH],
    );
    let msg = assert_v2_error(status, &body, 400, "InvalidInput", "no package reference");
    assert!(msg.contains("packageClientReferenceId"), "{msg}");

    // The log keeps ids, never an address or a name.
    let bought = v2_log(&m, "purchaseShipment");
    let done: Vec<&Value> = bought.iter().filter(|r| r["status"] == 200).collect();
    assert_eq!(done.len(), 1);
    let params = &done[0]["params"];
    assert_eq!(params["orderId"], order.as_str());
    assert_eq!(params["shipmentId"], shipment);
    assert_eq!(params["trackingId"], tracking);
    assert_eq!(params["rateId"], rate.as_str());
    assert_eq!(params["packageClientReferenceId"], "pkg-1");
    assert_eq!(params["replay"], "false");
    let items: Vec<String> = all.iter().map(|(i, q)| format!("{i}:{q}")).collect();
    assert_eq!(params["items"], items.join(","));
    let log = http(&m, "GET", "/_training/requests");
    for personal in ["Example Goods", "Dock Road", "2065550100", "ignored"] {
        assert!(!log.contains(personal), "{personal} in the log");
    }
}

#[test]
fn the_same_idempotency_key_answers_the_first_purchase_and_buys_once() {
    let m = marketplace(12, "1000");
    let orders = order_items(&m);
    let (order, items) = &orders[1];
    let request = rates_request(order, &[("1", items.clone())], 12.0);
    let (token, rate) = rate_of(&m, &request, "USPS_PTP_GA");
    let body = purchase_body(&token, &rate, "PNG");
    let (status, first) = purchase(&m, &body, Some("key-1"));
    assert_eq!(status, 200, "{first}");
    let (status, second) = purchase(&m, &body, Some("key-1"));
    assert_eq!(status, 200, "{second}");
    assert_eq!(second, first, "the first purchase's answer, whole");

    // The same key with another body is refused, and buys nothing.
    let other = purchase_body(&token, &rate, "PDF");
    let (status, refused) = purchase(&m, &other, Some("key-1"));
    let msg = assert_v2_error(status, &refused, 400, "InvalidInput", "key reused");
    assert!(
        msg.contains("idempotency key was used for another request"),
        "{msg}"
    );
    // The rate bought once cannot be bought again under another key.
    let (status, refused) = purchase(&m, &body, Some("key-2"));
    let msg = assert_v2_error(status, &refused, 400, "InvalidInput", "token bought");
    assert!(msg.contains("used for a purchase already"), "{msg}");

    let log = v2_log(&m, "purchaseShipment");
    let ok: Vec<&Value> = log.iter().filter(|r| r["status"] == 200).collect();
    let replays: Vec<&str> = ok
        .iter()
        .map(|r| r["params"]["replay"].as_str().unwrap())
        .collect();
    assert_eq!(replays, ["false", "true"]);
    assert_eq!(ok[0]["params"]["shipmentId"], ok[1]["params"]["shipmentId"]);
    assert_eq!(ok[0]["params"]["idempotencyKey"], "key-1");
    assert_eq!(log.iter().filter(|r| r["status"] == 400).count(), 2);
    let shipments = training_shipments(&m);
    assert_eq!(shipments.len(), 1, "{shipments:?}");
    let v: Value = serde_json::from_str(&first).unwrap();
    assert_eq!(shipments[0]["shipmentId"], v["payload"]["shipmentId"]);
    assert_eq!(shipments[0]["orderId"], order.as_str());
    assert_eq!(shipments[0]["state"], "PURCHASED");
}

#[test]
fn an_expired_rate_gives_token_expired_and_a_bought_one_still_replays() {
    let m = marketplace(12, "1000");
    let orders = order_items(&m);
    let (order, items) = &orders[2];
    let request = rates_request(order, &[("1", vec![items[0].clone()])], 12.0);
    let (token, rate) = rate_of(&m, &request, "UPS_PTP_GND");
    let bought = purchase_body(&token, &rate, "ZPL");
    let (status, first) = purchase(&m, &bought, Some("bought-before"));
    assert_eq!(status, 200, "{first}");
    let (other, other_items) = &orders[3];
    let other_request = rates_request(other, &[("1", vec![other_items[0].clone()])], 12.0);
    let (later, later_rate) = rate_of(&m, &other_request, "UPS_PTP_GND");
    assert_eq!(http_with(&m, "POST", "/_training/rates/expire", &[]).0, 204);
    let (status, body) = purchase(
        &m,
        &purchase_body(&later, &later_rate, "ZPL"),
        Some("too-late"),
    );
    let msg = assert_v2_error(status, &body, 400, "TOKEN_EXPIRED", "expired");
    assert!(msg.contains("600 seconds"), "{msg}");
    // A purchase made in time answers its retries after the token expired.
    let (status, again) = purchase(&m, &bought, Some("bought-before"));
    assert_eq!((status, again), (200, first));
    assert_eq!(training_shipments(&m).len(), 1);
    // New rates can be bought.
    let (fresh, fresh_rate) = rate_of(&m, &other_request, "UPS_PTP_GND");
    let (status, body) = purchase(
        &m,
        &purchase_body(&fresh, &fresh_rate, "ZPL"),
        Some("too-late"),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(training_shipments(&m).len(), 2);
}

#[test]
fn rates_refuse_more_units_than_the_order_has_left_and_a_void_frees_them() {
    let m = marketplace(30, "1000");
    let orders = order_items(&m);
    let (order, item) = orders
        .iter()
        .find_map(|(o, items)| items.iter().find(|(_, q)| *q >= 2).map(|i| (o, i.clone())))
        .expect("an order with a multi-unit item");
    let (id, q) = item.clone();
    let (status, body) = get_rates(
        &m,
        &rates_request(order, &[("1", vec![(id.clone(), q + 1)])], 12.0),
    );
    let msg = assert_v2_error(status, &body, 400, "InvalidInput", "more than ordered");
    assert_eq!(
        msg,
        format!(
            "The packages carry {} unit(s) of item {id}, but only {q} of {q} are left to ship (0 on labels or confirmed packages).",
            q + 1
        )
    );
    // Two packages of one unit each … the rest.
    let (status, body) = get_rates(
        &m,
        &rates_request(
            order,
            &[
                ("a", vec![(id.clone(), 1)]),
                ("b", vec![(id.clone(), q - 1)]),
            ],
            12.0,
        ),
    );
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let token = v["payload"]["requestToken"].as_str().unwrap();
    let rate = v["payload"]["rates"][0]["rateId"].as_str().unwrap();
    let (status, bought) = purchase(&m, &purchase_body(token, rate, "PDF"), None);
    assert_eq!(status, 200, "{bought}");
    let bought: Value = serde_json::from_str(&bought).unwrap();
    let details = bought["payload"]["packageDocumentDetails"]
        .as_array()
        .unwrap();
    let refs: Vec<&str> = details
        .iter()
        .map(|d| d["packageClientReferenceId"].as_str().unwrap())
        .collect();
    assert_eq!(refs, ["a", "b"]);
    assert_ne!(details[0]["trackingId"], details[1]["trackingId"]);
    let shipment = bought["payload"]["shipmentId"].as_str().unwrap();

    // Nothing is left of that item.
    let one = rates_request(order, &[("c", vec![(id.clone(), 1)])], 12.0);
    let (status, body) = get_rates(&m, &one);
    let msg = assert_v2_error(status, &body, 400, "InvalidInput", "none left");
    assert!(
        msg.contains(&format!("only 0 of {q} are left to ship ({q} on labels")),
        "{msg}"
    );

    // A void frees them; the order stays as Amazon shows it.
    let status_before = training_status(&m, order);
    let cancel = format!("/shipping/v2/shipments/{shipment}/cancel");
    let (status, body) = http_with(&m, "PUT", &cancel, &[V2_AUTH]);
    assert_eq!(status, 200, "{body}");
    let v = assert_v2(
        &body,
        "CancelShipmentResponse",
        Some("CancelShipmentResult"),
        "cancelShipment",
    );
    assert_eq!(v, json!({ "payload": {} }));
    assert_eq!(training_status(&m, order), status_before);
    let (status, body) = get_rates(&m, &one);
    assert_eq!(status, 200, "{body}");
    let (status, body) = http_with(&m, "PUT", &cancel, &[V2_AUTH]);
    let msg = assert_v2_error(status, &body, 400, "InvalidInput", "cancelled twice");
    assert!(msg.contains("already cancelled"), "{msg}");
    let (status, body) = http_with(&m, "PUT", "/shipping/v2/shipments/nope/cancel", &[V2_AUTH]);
    assert_v2_error(status, &body, 404, "NotFound", "unknown shipment");
    let (status, body) = http_with(
        &m,
        "GET",
        &format!("/shipping/v2/shipments/{shipment}/documents?packageClientReferenceId=a"),
        &[V2_AUTH],
    );
    let msg = assert_v2_error(status, &body, 400, "InvalidInput", "void label");
    assert!(msg.contains("cancelled"), "{msg}");
    assert_eq!(training_shipments(&m)[0]["state"], "CANCELLED");
}

#[test]
fn collection_forms_manifest_the_days_shipments_which_can_no_longer_be_voided() {
    let m = marketplace(12, "1000");
    let orders = order_items(&m);
    let (first, _) = buy(&m, &orders[0].0, &orders[0].1[0], "UPS_PTP_GND");
    let (second, _) = buy(&m, &orders[1].0, &orders[1].1[0], "UPS_PTP_2ND_DAY_AIR");
    let (usps, _) = buy(&m, &orders[2].0, &orders[2].1[0], "USPS_PTP_PRI");
    let tracking_of = |id: &str| -> String {
        training_shipments(&m)
            .iter()
            .find(|s| s["shipmentId"] == id)
            .unwrap()["packages"][0]["trackingId"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let ups_tracking = [tracking_of(&first), tracking_of(&second)];

    let unmanifested = |m: &Marketplace| -> Value {
        let (status, body) = http_send(
            m,
            "PUT",
            "/shipping/v2/unmanifestedShipments",
            &[V2_AUTH, JSON],
            "{}",
        );
        assert_eq!(status, 200, "{body}");
        assert_v2(
            &body,
            "GetUnmanifestedShipmentsResponse",
            None,
            "getUnmanifestedShipments",
        )
    };
    let list = unmanifested(&m);
    let carriers = list["unmanifestedCarrierInformationList"]
        .as_array()
        .unwrap();
    let ids: Vec<&str> = carriers
        .iter()
        .map(|c| c["carrierId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["UPS", "USPS"]);
    assert_eq!(
        carriers[0]["unmanifestedShipmentLocationList"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        carriers[0]["unmanifestedShipmentLocationList"][0]["address"],
        ship_from()
    );

    let request = json!({ "carrierId": "UPS", "shipFromAddress": ship_from() }).to_string();
    let (status, body) = http_send(
        &m,
        "POST",
        "/shipping/v2/collectionForms",
        &[V2_AUTH, JSON],
        &request,
    );
    assert_eq!(status, 200, "{body}");
    let form = assert_v2(
        &body,
        "GenerateCollectionFormResponse",
        None,
        "generateCollectionForm",
    );
    assert_eq!(form["collectionsFormDocument"]["documentFormat"], "PDF");
    let pdf = b64(form["collectionsFormDocument"]["base64EncodedContent"]
        .as_str()
        .unwrap());
    assert!(pdf.starts_with(b"%PDF-"), "a PDF");
    let text = String::from_utf8_lossy(&pdf);
    for t in &ups_tracking {
        assert!(text.contains(&format!("({t})")), "{t} on the form");
    }
    assert!(
        text.contains("(Packages: 2)") && text.contains("(Carrier: UPS)"),
        "{text}"
    );
    assert!(!text.contains("Dock Road") && !text.contains(&tracking_of(&usps)));
    let form_id = form["collectionFormId"].as_str().unwrap();
    assert!(text.contains(&format!("(Form: {form_id})")));

    // Only the USPS shipment is left to manifest; the UPS location has its manifest date.
    let list = unmanifested(&m);
    let ids: Vec<&str> = list["unmanifestedCarrierInformationList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["carrierId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["USPS"]);
    let (status, body) = http_send(
        &m,
        "POST",
        "/shipping/v2/collectionForms",
        &[V2_AUTH, JSON],
        &request,
    );
    let msg = assert_v2_error(status, &body, 400, "InvalidInput", "nothing to manifest");
    assert!(msg.contains("no unmanifested shipments"), "{msg}");

    // A formed shipment cannot be voided; it is with the carrier.
    let (status, body) = http_with(
        &m,
        "PUT",
        &format!("/shipping/v2/shipments/{first}/cancel"),
        &[V2_AUTH],
    );
    let msg = assert_v2_error(status, &body, 400, "InvalidInput", "cancel formed");
    assert!(
        msg.contains(&format!("on collection form {form_id}")),
        "{msg}"
    );
    let shipments = training_shipments(&m);
    let formed: Vec<(&str, &Value)> = shipments
        .iter()
        .map(|s| (s["shipmentId"].as_str().unwrap(), &s["collectionFormId"]))
        .collect();
    assert_eq!(
        formed,
        [
            (first.as_str(), &json!(form_id)),
            (second.as_str(), &json!(form_id)),
            (usps.as_str(), &Value::Null)
        ]
    );
    assert_eq!(shipments[0]["packages"][0]["status"], "InTransit");
    assert_eq!(shipments[2]["packages"][0]["status"], "PreTransit");

    let (status, body) = http_with(
        &m,
        "GET",
        &format!("/shipping/v2/collectionForms/{form_id}"),
        &[V2_AUTH],
    );
    assert_eq!(status, 200, "{body}");
    let again = assert_v2(
        &body,
        "GetCollectionFormResponse",
        None,
        "getCollectionForm",
    );
    assert_eq!(
        again["collectionsFormDocument"],
        form["collectionsFormDocument"]
    );
    let (status, body) = http_with(&m, "GET", "/shipping/v2/collectionForms/CF0", &[V2_AUTH]);
    assert_v2_error(status, &body, 404, "NotFound", "unknown form");
    let (status, body) = http_send(
        &m,
        "POST",
        "/shipping/v2/collectionForms",
        &[V2_AUTH, JSON],
        "{\"shipFromAddress\":{}}",
    );
    let msg = assert_v2_error(status, &body, 400, "InvalidInput", "no carrier");
    assert!(msg.contains("carrierId"), "{msg}");
}

#[test]
fn tracking_moves_from_pre_transit_to_delivered_through_the_training_endpoint() {
    let m = marketplace(12, "1000");
    let orders = order_items(&m);
    let (_, tracking) = buy(
        &m,
        &orders[0].0,
        &orders[0].1[0],
        "FEDEX_PTP_STANDARD_OVERNIGHT",
    );
    let track = |m: &Marketplace| -> Value {
        let (status, body) = http_with(
            m,
            "GET",
            &format!("/shipping/v2/tracking?trackingId={tracking}&carrierId=FEDEX"),
            &[V2_AUTH],
        );
        assert_eq!(status, 200, "{body}");
        assert_v2(
            &body,
            "GetTrackingResponse",
            Some("GetTrackingResult"),
            "getTracking",
        )
    };
    let codes = |v: &Value| -> Vec<String> {
        v["payload"]["eventHistory"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["eventCode"].as_str().unwrap().to_owned())
            .collect()
    };
    let v = track(&m);
    assert_eq!(v["payload"]["trackingId"], tracking.as_str());
    assert_eq!(v["payload"]["summary"]["status"], "PreTransit");
    assert_eq!(codes(&v), ["ReadyForReceive"]);
    let set = |status: &str| {
        http_with(
            &m,
            "POST",
            &format!("/_training/tracking/{tracking}/{status}"),
            &[],
        )
        .0
    };
    assert_eq!(set("InTransit"), 204);
    let v = track(&m);
    assert_eq!(v["payload"]["summary"]["status"], "InTransit");
    assert_eq!(codes(&v), ["ReadyForReceive", "PickupDone"]);
    assert_eq!(set("Delivered"), 204);
    let v = track(&m);
    assert_eq!(v["payload"]["summary"]["status"], "Delivered");
    assert_eq!(codes(&v), ["ReadyForReceive", "PickupDone", "Delivered"]);
    let delivered = v["payload"]["eventHistory"][2]["eventTime"]
        .as_str()
        .unwrap();
    let at = chrono::DateTime::parse_from_rfc3339(delivered).unwrap();
    assert!(
        (chrono::Utc::now() - at.with_timezone(&chrono::Utc))
            .num_seconds()
            .abs()
            < 60
    );
    // Forward only, and only known statuses.
    assert_eq!(set("InTransit"), 409);
    assert_eq!(set("Lost"), 400);
    assert_eq!(
        http_with(&m, "POST", "/_training/tracking/NOPE/Delivered", &[]).0,
        404
    );
    let (status, body) = http_with(
        &m,
        "GET",
        &format!("/shipping/v2/tracking?trackingId={tracking}&carrierId=UPS"),
        &[V2_AUTH],
    );
    let msg = assert_v2_error(status, &body, 400, "InvalidInput", "wrong carrier");
    assert!(msg.contains("carrierId"), "{msg}");
    let (status, body) = http_with(
        &m,
        "GET",
        "/shipping/v2/tracking?trackingId=NOPE&carrierId=UPS",
        &[V2_AUTH],
    );
    assert_v2_error(status, &body, 404, "NotFound", "unknown tracking");
    let log = v2_log(&m, "getTracking");
    assert_eq!(log.last().unwrap()["params"]["trackingId"], "NOPE");
}

#[test]
fn a_purchase_answered_with_a_timeout_happened_and_its_retry_replays_it() {
    let m = marketplace_with(12, "1000", &["--fault-delay-ms", "200"]);
    let orders = order_items(&m);
    let (order, items) = &orders[0];
    let (token, rate) = rate_of(
        &m,
        &rates_request(order, &[("1", items.clone())], 12.0),
        "UPS_PTP_GND",
    );
    let body = purchase_body(&token, &rate, "ZPL");

    // A 500 refuses before anything is bought.
    assert_eq!(
        http_with(&m, "POST", "/_training/faults/purchaseShipment/500", &[]).0,
        204
    );
    let (status, answer) = purchase(&m, &body, Some("k"));
    assert_v2_error(status, &answer, 500, "InternalFailure", "500");
    assert!(training_shipments(&m).is_empty());

    // A timeout answers late, after the purchase went through; a malformed answer likewise.
    assert_eq!(
        http_with(
            &m,
            "POST",
            "/_training/faults/purchaseShipment/timeout",
            &[]
        )
        .0,
        204
    );
    assert_eq!(
        http_with(
            &m,
            "POST",
            "/_training/faults/purchaseShipment/malformed",
            &[]
        )
        .0,
        204
    );
    let started = std::time::Instant::now();
    let (status, late) = purchase(&m, &body, Some("k"));
    assert!(started.elapsed() >= std::time::Duration::from_millis(200));
    assert_eq!(status, 200, "{late}");
    let shipments = training_shipments(&m);
    assert_eq!(shipments.len(), 1, "bought despite the timeout");
    let (status, broken) = http_send(
        &m,
        "POST",
        "/shipping/v2/shipments",
        &[V2_AUTH, JSON, ("x-amzn-IdempotencyKey", "k")],
        &body,
    );
    assert_eq!(status, 200);
    assert!(
        serde_json::from_str::<Value>(&broken).is_err(),
        "malformed: {broken}"
    );
    let (status, list) = http_send(
        &m,
        "PUT",
        "/shipping/v2/unmanifestedShipments",
        &[V2_AUTH, JSON],
        "",
    );
    assert_eq!(status, 200, "{list}");
    assert!(list.contains("\"carrierId\":\"UPS\""), "{list}");
    assert_eq!(training_status(&m, order), "SHIPPED");

    // The retry with the key settles it: the same shipment, never a second.
    let (status, retry) = purchase(&m, &body, Some("k"));
    assert_eq!((status, &retry), (200, &late));
    let log = v2_log(&m, "purchaseShipment");
    let summary: Vec<(u64, Option<&str>, Option<&str>)> = log
        .iter()
        .map(|r| {
            (
                r["status"].as_u64().unwrap(),
                r["fault"].as_str(),
                r["params"]["replay"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (500, Some("500"), None),
            (200, Some("timeout"), Some("false")),
            (200, Some("malformed"), Some("true")),
            (200, None, Some("true")),
        ]
    );
    let v: Value = serde_json::from_str(&late).unwrap();
    assert_eq!(shipments[0]["shipmentId"], v["payload"]["shipmentId"]);
    assert_eq!(log[1]["params"]["shipmentId"], v["payload"]["shipmentId"]);
}

/// A raw HTTP/1.1 request: the status, the headers (lower-case names) and the body.
fn http_raw(m: &Marketplace, method: &str, path: &str) -> (u16, Vec<(String, String)>, String) {
    use std::io::{Read, Write};
    let addr = m.url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{}: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        V2_AUTH.0, V2_AUTH.1
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let (head, body) = resp.split_once("\r\n\r\n").unwrap();
    let status = head.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let headers = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

#[test]
fn shipping_v2_quotas_are_per_operation_with_429_and_the_rate_header() {
    // Real quotas: 80 a second, burst 100, one bucket per operation.
    let m = marketplace(3, "1");
    let path = "/shipping/v2/tracking?trackingId=NOPE&carrierId=UPS";
    let mut answered = 0;
    let refused = loop {
        let (status, headers, body) = http_raw(&m, "GET", path);
        if status == 429 {
            break (headers, body);
        }
        assert_eq!(status, 404, "{body}");
        answered += 1;
        assert!(answered < 2000, "never refused");
    };
    assert!(
        answered >= 100,
        "the burst is 100: refused after {answered}"
    );
    let (headers, body) = refused;
    assert_v2_error(429, &body, 429, "QuotaExceeded", "429");
    assert!(
        headers.contains(&("x-amzn-ratelimit-limit".to_owned(), "80".to_owned())),
        "{headers:?}"
    );
    // Another operation has its own bucket.
    let (status, headers, body) = http_raw(&m, "GET", "/shipping/v2/collectionForms/CF0");
    assert_eq!(status, 404, "{body}");
    assert!(headers.contains(&("x-amzn-ratelimit-limit".to_owned(), "80".to_owned())));
    let log = v2_log(&m, "getTracking");
    assert_eq!(log.iter().filter(|r| r["status"] == 429).count(), 1);
}
