//! The training marketplace answers in the official shapes: every response body validates against
//! the JSON schema of its operation in Amazon's own model, and requests are validated as Amazon
//! does (with SP-API error bodies).

mod common;

use common::*;
use serde_json::{Value, json};

const MODEL: &str = include_str!("spapi-models/orders_2026-01-01.json");
const TOKENS: &str = include_str!("spapi-models/tokens_2021-03-01.json");

/// A validator for one definition of the Orders model (Swagger 2.0 schemas are JSON Schema
/// draft 4 with `#/definitions/…` references).
fn validator(definition: &str) -> jsonschema::Validator {
    validator_in(MODEL, definition)
}

#[test]
fn responses_validate_against_the_official_schemas() {
    let m = marketplace(250, "1000");
    let token = "Atza|training-test".to_owned();
    let page_schema = validator("SearchOrdersResponse");
    let error_schema = validator("ErrorList");
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
    assert_valid(&validator("GetOrderResponse"), &body, "getOrder");
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
    assert_valid(&validator("ErrorList"), &body, "429");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["errors"][0]["code"],
        "QuotaExceeded"
    );
    let log = request_log(&m);
    assert_eq!(log.iter().filter(|r| r["status"] == 429).count(), 1);
}
