//! SP-API calls through the real client against the training marketplace: getOrder, the Tokens
//! API, and confirmShipment (a confirmation ships the order at Amazon, a retry of the same package
//! is harmless, and mistakes come back as typed errors naming the operation and Amazon's code).

use crate::common::*;
use age::secrecy::ExposeSecret;
use packline::amazon::client::{ApiError, RestrictedResource, SpApi};
use packline::amazon::orders::{ConfirmItem, ConfirmShipment, PackageDetail, SearchOrders};
use packline::domain::OrderId;

/// A runtime, a client, and the marketplace's first page of orders.
fn first_page(
    m: &Marketplace,
) -> (
    tokio::runtime::Runtime,
    SpApi,
    packline::amazon::SearchOrdersPage,
) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let api = training_api(m, std::time::Duration::from_secs(5));
    let page = rt
        .block_on(api.search_orders(&SearchOrders {
            created_after: Some(chrono::Utc::now() - chrono::Duration::days(30)),
            ..SearchOrders::default()
        }))
        .unwrap();
    (rt, api, page)
}

fn confirmation(item: &str, qty: u32, tracking: &str) -> ConfirmShipment {
    ConfirmShipment {
        marketplace_id: "ATVPDKIKX0DER".into(),
        package_detail: PackageDetail {
            package_reference_id: "1".into(),
            carrier_code: "UPS".into(),
            carrier_name: None,
            shipping_method: Some("Ground".into()),
            tracking_number: tracking.into(),
            ship_date: "2026-11-29T10:00:00Z".into(),
            order_items: vec![ConfirmItem {
                order_item_id: item.into(),
                quantity: qty,
                transparency_codes: Vec::new(),
            }],
        },
    }
}

#[test]
fn confirm_ship_retry_and_refusals() {
    let m = marketplace(5, "1000");
    let (rt, api, page) = first_page(&m);
    // An order of one line: one package with every unit ships it.
    let first = page
        .orders
        .iter()
        .map(|o| &o.order)
        .find(|o| o.lines.len() == 1)
        .expect("a seeded order of one line");
    let (id, item, qty) = (
        first.id.clone(),
        first.lines[0].item_id.clone(),
        first.lines[0].quantity_ordered,
    );
    rt.block_on(api.confirm_shipment(&id, &confirmation(&item, qty, "1Z999AA10123456784")))
        .unwrap();
    assert_eq!(training_status(&m, id.as_str()), "SHIPPED");
    // A retry of the same package is accepted; a different package is not.
    rt.block_on(api.confirm_shipment(&id, &confirmation(&item, qty, "1Z999AA10123456784")))
        .unwrap();
    let err = rt
        .block_on(api.confirm_shipment(&id, &confirmation(&item, qty, "1Z999AA10123456785")))
        .unwrap_err();
    assert!(
        matches!(&err, ApiError::Status { operation: "confirmShipment", status: 400, code, .. } if code == "InvalidInput"),
        "{err}"
    );
    assert!(err.to_string().contains("already shipped"), "{err}");

    // An item that is not in the order, and a cancelled order.
    let second = page
        .orders
        .iter()
        .map(|o| &o.order)
        .find(|o| o.id != first.id)
        .unwrap();
    let err = rt
        .block_on(api.confirm_shipment(&second.id, &confirmation("no-such-item", 1, "T1")))
        .unwrap_err();
    assert!(err.to_string().contains("not in the order"), "{err}");
    http(
        &m,
        "POST",
        &format!("/_training/orders/{}/cancel", second.id),
    );
    let err = rt
        .block_on(
            api.confirm_shipment(&second.id, &confirmation(&second.lines[0].item_id, 1, "T2")),
        )
        .unwrap_err();
    assert!(err.to_string().contains("cancelled"), "{err}");
    let unknown = OrderId::parse("999-0000000-0000000").unwrap();
    let err = rt
        .block_on(api.confirm_shipment(&unknown, &confirmation("x", 1, "T3")))
        .unwrap_err();
    assert!(matches!(err, ApiError::Status { status: 404, .. }), "{err}");

    let log = request_log(&m);
    let confirms: Vec<_> = log
        .iter()
        .filter(|r| r["operation"] == "confirmShipment")
        .map(|r| r["status"].as_u64().unwrap())
        .collect();
    assert_eq!(confirms, [204, 204, 400, 400, 400, 404]);
}

/// Several packages of one order: each is its own confirmShipment (its own reference); the
/// order is PARTIALLY_SHIPPED until every unit is on one, and a package whose units would take
/// the order past what was ordered is refused, as is a Transparency code already on another.
#[test]
fn packages_of_one_order_may_not_carry_more_than_the_order() {
    let m = marketplace(12, "1000");
    let (rt, api, page) = first_page(&m);
    let big = page
        .orders
        .iter()
        .map(|o| &o.order)
        .find(|o| o.lines.iter().any(|l| l.quantity_ordered >= 2))
        .expect("a seeded order with a line of two or more");
    let line = big.lines.iter().find(|l| l.quantity_ordered >= 2).unwrap();
    let package = |reference: &str, qty: u32, tracking: &str| {
        let mut c = confirmation(&line.item_id, qty, tracking);
        c.package_detail.package_reference_id = reference.into();
        c
    };
    rt.block_on(api.confirm_shipment(&big.id, &package("1", 1, "1Z999AA10123456784")))
        .unwrap();
    assert_eq!(training_status(&m, big.id.as_str()), "PARTIALLY_SHIPPED");
    // Package 2 with every unit of the line again: one more than was ordered.
    let err = rt
        .block_on(api.confirm_shipment(
            &big.id,
            &package("2", line.quantity_ordered, "1Z999AA10123456784"),
        ))
        .unwrap_err();
    assert!(
        matches!(&err, ApiError::Status { status: 400, .. })
            && err.to_string().contains("more units"),
        "{err}"
    );
    assert_eq!(training_status(&m, big.id.as_str()), "PARTIALLY_SHIPPED");
    // Package 1 sent again with its own units is an edit of that package, not a second one.
    rt.block_on(api.confirm_shipment(&big.id, &package("1", 1, "1Z999AA10123456784")))
        .unwrap();
    rt.block_on(api.confirm_shipment(
        &big.id,
        &package("2", line.quantity_ordered - 1, "1Z999AA10123456784"),
    ))
    .unwrap();
    let rest_shipped = big.lines.len() == 1;
    assert_eq!(
        training_status(&m, big.id.as_str()),
        if rest_shipped {
            "SHIPPED"
        } else {
            "PARTIALLY_SHIPPED"
        }
    );
}

#[test]
fn get_order_and_restricted_data_tokens() {
    let m = marketplace(3, "1000");
    let (rt, api, page) = first_page(&m);
    let listed = &page.orders[2];
    let got = rt.block_on(api.get_order(&listed.order.id)).unwrap();
    assert_eq!(got.order, listed.order);
    assert_eq!(
        got.recipient.as_ref().map(|r| r.name.clone()),
        listed.recipient.as_ref().map(|r| r.name.clone())
    );
    let unknown = OrderId::parse("999-0000000-0000001").unwrap();
    let err = rt.block_on(api.get_order(&unknown)).unwrap_err();
    assert!(
        matches!(
            err,
            ApiError::Status {
                operation: "getOrder",
                status: 404,
                ..
            }
        ),
        "{err}"
    );

    let rdt = rt
        .block_on(api.restricted_data_token(&[RestrictedResource {
            method: "GET".into(),
            path: format!("/orders/v0/orders/{}/address", listed.order.id),
            data_elements: vec!["shippingAddress".into()],
        }]))
        .unwrap();
    assert!(rdt.expose_secret().starts_with("Atz.sprdt|"));
    let err = rt.block_on(api.restricted_data_token(&[])).unwrap_err();
    assert!(
        matches!(&err, ApiError::Status { operation: "createRestrictedDataToken", status: 400, code, .. } if code == "InvalidInput"),
        "{err}"
    );
    let log = request_log(&m);
    let ops: Vec<&str> = log
        .iter()
        .map(|r| r["operation"].as_str().unwrap())
        .collect();
    assert_eq!(
        ops,
        [
            "lwaToken",
            "searchOrders",
            "getOrder",
            "getOrder",
            "createRestrictedDataToken",
            "createRestrictedDataToken"
        ]
    );
}
