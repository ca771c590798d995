//! Merchant Fulfillment through the real client against the training marketplace over loopback
//! HTTP: offers, label purchases in every format (decoded, checksummed, barcodes read back by an
//! independent decoder, PyPI `zxing-cpp`; PDF labels rendered by poppler's `pdftoppm`), lookups, voids, Amazon's refusals as typed errors,
//! purchases never resent when their outcome is unknown, quotas kept, and every answer valid
//! against the official model `merchantFulfillmentV0.json`.

use std::time::Duration;

use crate::common::*;
use packline::amazon::client::ApiError;
use packline::amazon::mfn::*;
use packline::amazon::orders::{ConfirmItem, ConfirmShipment, PackageDetail};
use packline::amazon::{FulfillmentStatus, ImportedOrder};
use packline::domain::OrderId;
use serde_json::{Value, json};

const MODEL: &str = include_str!("../spapi-models/merchantFulfillmentV0.json");

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn ship_from() -> Address {
    Address {
        name: "Training Seller".into(),
        address_line1: "1 Dock Road".into(),
        address_line2: None,
        address_line3: None,
        district_or_county: None,
        email: String::new(),
        city: "Seattle".into(),
        state_or_province_code: Some("WA".into()),
        postal_code: "98101".into(),
        country_code: "US".into(),
        phone: "+1 206 555 0100".into(),
    }
}

/// A 20 oz box of 10×8×4 inches holding every unit of the order.
fn box_for(order: &ImportedOrder, format: Option<LabelFormat>) -> ShipmentRequestDetails {
    ShipmentRequestDetails {
        amazon_order_id: order.order.id.as_str().to_owned(),
        seller_order_id: None,
        item_list: order
            .order
            .lines
            .iter()
            .map(|l| Item {
                order_item_id: l.item_id.clone(),
                quantity: l.quantity_ordered,
                item_weight: None,
                item_description: None,
                transparency_code_list: Vec::new(),
            })
            .collect(),
        ship_from_address: ship_from(),
        package_dimensions: PackageDimensions::box_of(10.0, 8.0, 4.0, LengthUnit::Inches),
        weight: Weight {
            value: 20.0,
            unit: WeightUnit::Ounces,
        },
        must_arrive_by_date: None,
        ship_date: None,
        shipping_service_options: ShippingServiceOptions {
            delivery_experience: DeliveryExperience::DeliveryConfirmationWithoutSignature,
            declared_value: None,
            carrier_will_pick_up: false,
            carrier_will_pick_up_option: None,
            label_format: format,
        },
        label_customization: Some(LabelCustomization {
            custom_text_for_label: Some("BIN 7".into()),
            standard_id_for_label: Some("AmazonOrderId".into()),
        }),
    }
}

/// A purchase naming the service only, without an offer id from getEligibleShipmentServices.
fn by_service(details: ShipmentRequestDetails, service_id: &str) -> CreateShipment {
    CreateShipment {
        shipment_request_details: details,
        shipping_service_id: service_id.into(),
        shipping_service_offer_id: None,
        hazmat_type: None,
    }
}

fn buy(details: ShipmentRequestDetails, service: &ShippingService) -> CreateShipment {
    CreateShipment {
        shipping_service_offer_id: Some(service.shipping_service_offer_id.clone()),
        ..by_service(details, &service.shipping_service_id)
    }
}

fn assert_status(err: &ApiError, op: &str, status: u16, code: &str) {
    assert!(
        matches!(err, ApiError::Status { operation, status: s, code: c, .. } if *operation == op && *s == status && c == code),
        "expected {op} {status} {code}, got {err:?}"
    );
    assert!(
        err.to_string()
            .starts_with(&format!("{op}: Amazon answered {status} {code}: "))
    );
}

#[test]
fn offers_purchases_lookups_and_voids_in_every_format_within_the_quotas() {
    // Amazon's real quotas (getShipment and cancelShipment: one a second, burst 1).
    let m = marketplace(6, "1");
    let rt = runtime();
    let api = training_api(&m, Duration::from_secs(10));
    let ids = training_order_ids(&m);
    let dir = tempfile::tempdir().unwrap();
    for (i, format) in [LabelFormat::Zpl203, LabelFormat::Pdf, LabelFormat::Png]
        .into_iter()
        .enumerate()
    {
        let order = rt
            .block_on(api.get_order(&OrderId::parse(&ids[i]).unwrap()))
            .unwrap();
        let details = box_for(&order, Some(format));
        let offers = rt
            .block_on(api.get_eligible_shipment_services(&details, None))
            .unwrap();
        // 20 oz, but 10×8×4 in bills as 3 lb (dimensional weight 320/139, rounded up).
        let priced: Vec<(&str, f64)> = offers
            .services
            .iter()
            .map(|s| (s.shipping_service_id.as_str(), s.rate.amount))
            .collect();
        assert_eq!(
            priced,
            [
                ("USPS_PTP_GA", 6.71),
                ("USPS_PTP_PRI", 11.77),
                ("UPS_PTP_GND", 11.53),
                ("UPS_PTP_2ND_DAY_AIR", 23.55),
                ("FEDEX_PTP_STANDARD_OVERNIGHT", 39.45),
            ]
        );
        assert!(offers.rejected.is_empty());
        assert_eq!(offers.temporarily_unavailable, ["DHL eCommerce"]);
        let ground = &offers.services[2];
        assert_eq!(
            ground.latest_estimated_delivery_date.unwrap()
                - ground
                    .ship_date
                    .date_naive()
                    .and_hms_opt(20, 0, 0)
                    .unwrap()
                    .and_utc(),
            chrono::Duration::days(5)
        );
        assert_eq!(
            ground.available_label_formats,
            [LabelFormat::Pdf, LabelFormat::Png, LabelFormat::Zpl203]
        );

        // A promise to keep: only offers that arrive in time.
        let mut hurried = details.clone();
        hurried.must_arrive_by_date = Some(
            ground
                .ship_date
                .date_naive()
                .and_hms_opt(23, 0, 0)
                .unwrap()
                .and_utc()
                + chrono::Duration::days(3),
        );
        let in_time = rt
            .block_on(api.get_eligible_shipment_services(&hurried, None))
            .unwrap();
        let in_time: Vec<&str> = in_time
            .services
            .iter()
            .map(|s| s.shipping_service_id.as_str())
            .collect();
        assert_eq!(
            in_time,
            [
                "USPS_PTP_PRI",
                "UPS_PTP_2ND_DAY_AIR",
                "FEDEX_PTP_STANDARD_OVERNIGHT"
            ]
        );

        let shipment = rt
            .block_on(api.create_shipment(&buy(details.clone(), ground)))
            .unwrap();
        assert_eq!(shipment.status, ShipmentStatus::Purchased);
        assert_eq!(shipment.amazon_order_id, ids[i]);
        assert_eq!(shipment.shipping_service.shipping_service_id, "UPS_PTP_GND");
        assert_eq!(shipment.label.label_format, Some(format));
        let tracking = shipment.tracking_id.clone().unwrap();
        assert!(
            tracking.starts_with("1ZTR41N903") && tracking.len() == 18,
            "{tracking}"
        );
        let want_name: String = order
            .recipient
            .as_ref()
            .unwrap()
            .name
            .chars()
            .take(30)
            .collect();
        assert_eq!(shipment.ship_to_address.name, want_name);
        assert_eq!(shipment.ship_from_address, ship_from());
        assert!(!format!("{shipment:?}").contains(&want_name));

        let label = shipment.label.decode().unwrap();
        match format {
            LabelFormat::Zpl203 => {
                assert_eq!(label.file_type, LabelFileType::Zpl);
                let zpl = String::from_utf8(label.bytes.clone()).unwrap();
                assert!(zpl.starts_with("^XA\n^CI28\n") && zpl.ends_with("^XZ\n"));
                assert_eq!(zpl.matches("^XA").count(), 1);
                assert!(
                    zpl.contains(&format!("^BCN,250,Y,N,N,A^FD{tracking}^FS")),
                    "{zpl}"
                );
                assert!(zpl.contains(&format!("^FDOrder {}^FS", ids[i])), "{zpl}");
                assert!(zpl.contains("^FDBIN 7^FS"), "{zpl}");
            }
            LabelFormat::Pdf => {
                assert_eq!(label.file_type, LabelFileType::Pdf);
                assert!(label.bytes.starts_with(b"%PDF-"));
                let text = String::from_utf8_lossy(&label.bytes);
                assert!(
                    text.contains(&format!("({tracking}) Tj")),
                    "the human-readable line"
                );
                // One rectangle per bar, plus the frame.
                let code = packline::labels::code128::Code128::encode(&tracking).unwrap();
                assert_eq!(text.matches(" re\n").count(), code.bars().len() + 1);
                // Printed at a label printer's 203 dpi, the vector bars scan.
                let pdf = dir.path().join(format!("label-{i}.pdf"));
                std::fs::write(&pdf, &label.bytes).unwrap();
                if have(&[Tool::Pdftoppm, Tool::Zxing]) {
                    let png = dir.path().join(format!("label-{i}"));
                    let out = std::process::Command::new("pdftoppm")
                        .args(["-r", "203", "-png", "-singlefile"])
                        .arg(&pdf)
                        .arg(&png)
                        .output()
                        .expect("pdftoppm runs");
                    assert!(
                        out.status.success(),
                        "{}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                    assert_eq!(
                        zxing_read(&png.with_extension("png")),
                        std::slice::from_ref(&tracking)
                    );
                }
            }
            _ => {
                assert_eq!(label.file_type, LabelFileType::Png);
                let path = dir.path().join(format!("label-{i}.png"));
                std::fs::write(&path, &label.bytes).unwrap();
                if have(&[Tool::Zxing]) {
                    assert_eq!(zxing_read(&path), std::slice::from_ref(&tracking));
                }
            }
        }

        // Looked up: the same shipment and label.
        let again = rt
            .block_on(api.get_shipment(&shipment.shipment_id))
            .unwrap();
        assert_eq!(again.tracking_id.as_deref(), Some(tracking.as_str()));
        assert_eq!(again.label.decode().unwrap().bytes, label.bytes);

        // Amazon confirmed the shipment with the purchase; confirming its tracking id is harmless.
        let got = rt.block_on(api.get_order(&order.order.id)).unwrap();
        assert_eq!(got.status, FulfillmentStatus::Shipped);
        let confirm = ConfirmShipment {
            marketplace_id: "ATVPDKIKX0DER".into(),
            package_detail: PackageDetail {
                package_reference_id: "1".into(),
                carrier_code: "UPS".into(),
                carrier_name: None,
                shipping_method: Some("Ground".into()),
                tracking_number: tracking.clone(),
                ship_date: "2026-11-29T10:00:00Z".into(),
                order_items: order
                    .order
                    .lines
                    .iter()
                    .map(|l| ConfirmItem {
                        order_item_id: l.item_id.clone(),
                        quantity: l.quantity_ordered,
                        transparency_codes: Vec::new(),
                    })
                    .collect(),
            },
        };
        rt.block_on(api.confirm_shipment(&order.order.id, &confirm))
            .unwrap();

        // The same items cannot go on a second live label.
        let err = rt
            .block_on(api.create_shipment(&buy(details.clone(), ground)))
            .unwrap_err();
        assert_status(&err, "createShipment", 400, "InvalidInput");
        assert!(err.to_string().contains("purchased label"), "{err}");

        // Voided: refund pending, empty label; voiding twice is refused with a clear code.
        let void = rt
            .block_on(api.cancel_shipment(&shipment.shipment_id))
            .unwrap();
        assert_eq!(void.status, ShipmentStatus::RefundPending);
        assert_eq!(void.label.decode(), Err(LabelError::Empty));
        let err = rt
            .block_on(api.cancel_shipment(&shipment.shipment_id))
            .unwrap_err();
        assert_status(&err, "cancelShipment", 400, "ShipmentAlreadyCancelled");
        // A voided label's tracking id no longer confirms the order.
        let err = rt
            .block_on(api.confirm_shipment(&order.order.id, &confirm))
            .unwrap_err();
        assert_status(&err, "confirmShipment", 400, "InvalidInput");
        let after = rt
            .block_on(api.get_shipment(&shipment.shipment_id))
            .unwrap();
        assert_eq!(after.status, ShipmentStatus::RefundPending);
        // The order stays shipped at Amazon, and its items may be labelled again.
        let got = rt.block_on(api.get_order(&order.order.id)).unwrap();
        assert_eq!(got.status, FulfillmentStatus::Shipped);
        let relabel = rt
            .block_on(api.create_shipment(&buy(details, ground)))
            .unwrap();
        assert_ne!(relabel.shipment_id, shipment.shipment_id);
        assert_ne!(relabel.tracking_id.as_deref(), Some(tracking.as_str()));
    }

    let log = request_log(&m);
    assert_eq!(
        log.iter().filter(|r| r["status"] == 429).count(),
        0,
        "the client stayed within every quota"
    );
    let count = |op: &str| log.iter().filter(|r| r["operation"] == op).count();
    assert_eq!(
        [
            count("getEligibleShipmentServices"),
            count("createShipment"),
            count("getShipment"),
            count("cancelShipment"),
            count("createRestrictedDataToken"),
            count("lwaToken"),
        ],
        [6, 9, 6, 6, 1, 1],
        "one Restricted Data Token and one access token serve every call"
    );
    // The log names orders, services and shipments, never an address.
    let text = serde_json::to_string(&log).unwrap();
    assert!(
        !text.contains("Dock Road") && !text.contains("Seattle"),
        "{text}"
    );
    let bought: Vec<&Value> = log
        .iter()
        .filter(|r| r["operation"] == "createShipment" && r["status"] == 200)
        .collect();
    assert_eq!(bought.len(), 6);
    assert!(bought.iter().all(|r| r["params"]["shipmentId"].is_string()
        && r["params"]["trackingId"].is_string()
        && r["params"]["orderId"].is_string()));
}

#[test]
fn amazons_refusals_are_typed_errors_naming_the_operation_and_code() {
    let m = marketplace(3, "1000");
    let rt = runtime();
    let api = training_api(&m, Duration::from_secs(10));
    let ids = training_order_ids(&m);
    let order = rt
        .block_on(api.get_order(&OrderId::parse(&ids[0]).unwrap()))
        .unwrap();

    let mut weightless = box_for(&order, None);
    weightless.weight.value = 0.0;
    let err = rt
        .block_on(api.get_eligible_shipment_services(&weightless, None))
        .unwrap_err();
    assert_status(&err, "getEligibleShipmentServices", 400, "InvalidInput");
    assert!(
        err.to_string()
            .contains("ShipmentRequestDetails.Weight.Value must be greater than zero"),
        "{err}"
    );

    let mut unknown = box_for(&order, None);
    unknown.amazon_order_id = "999-0000000-0000000".into();
    let err = rt
        .block_on(api.create_shipment(&by_service(unknown, "UPS_PTP_GND")))
        .unwrap_err();
    assert_status(&err, "createShipment", 404, "NotFound");

    let mut stranger = box_for(&order, None);
    stranger.item_list[0].order_item_id = "no-such-item".into();
    let err = rt
        .block_on(api.get_eligible_shipment_services(&stranger, None))
        .unwrap_err();
    assert_status(&err, "getEligibleShipmentServices", 400, "InvalidInput");
    assert!(err.to_string().contains("not in the order"), "{err}");

    let err = rt
        .block_on(api.create_shipment(&by_service(
            box_for(&order, Some(LabelFormat::Zpl300)),
            "UPS_PTP_GND",
        )))
        .unwrap_err();
    assert_status(&err, "createShipment", 400, "InvalidInput");
    assert!(err.to_string().contains("label format"), "{err}");

    let err = rt
        .block_on(api.create_shipment(&CreateShipment {
            shipping_service_offer_id: Some("forged".into()),
            ..by_service(box_for(&order, None), "UPS_PTP_GND")
        }))
        .unwrap_err();
    assert_status(&err, "createShipment", 400, "InvalidInput");

    http(&m, "POST", &format!("/_training/orders/{}/cancel", ids[0]));
    let err = rt
        .block_on(api.get_eligible_shipment_services(&box_for(&order, None), None))
        .unwrap_err();
    assert_status(&err, "getEligibleShipmentServices", 400, "InvalidInput");
    assert!(err.to_string().contains("cancelled"), "{err}");

    let err = rt
        .block_on(api.get_shipment("00000000-0000-4000-a000-000000000000"))
        .unwrap_err();
    assert_status(&err, "getShipment", 404, "NotFound");
    // Not a shipment id: never sent (it would go into the URL path).
    let err = rt
        .block_on(api.cancel_shipment("../../orders"))
        .unwrap_err();
    assert!(
        matches!(
            err,
            ApiError::Request {
                operation: "cancelShipment",
                ..
            }
        ),
        "{err:?}"
    );
    let log = request_log(&m);
    assert_eq!(
        log.iter()
            .filter(|r| r["operation"] == "cancelShipment")
            .count(),
        0
    );
}

/// A createShipment that may have reached Amazon is never sent again: a 500, a timeout or an
/// unreadable answer is an "outcome unknown" error, and the marketplace saw exactly one purchase
/// request (the timeout and the unreadable answer came after a real purchase).
#[test]
fn a_purchase_whose_outcome_is_unknown_is_never_resent() {
    for (fault, purchased) in [
        ("500", false),
        ("timeout", true),
        ("malformed", true),
        ("truncated", true),
    ] {
        let m = marketplace_with(
            3,
            "1000",
            &[
                "--fault-rate",
                "1",
                "--faults",
                fault,
                "--fault-delay-ms",
                "2500",
            ],
        );
        let rt = runtime();
        let api = training_api(&m, Duration::from_secs(1));
        let id = training_order_ids(&m).remove(0);
        // getOrder is not faulted; the MFN calls are.
        let order = rt
            .block_on(api.get_order(&OrderId::parse(&id).unwrap()))
            .unwrap();
        let err = rt
            .block_on(api.create_shipment(&by_service(
                box_for(&order, Some(LabelFormat::Zpl203)),
                "UPS_PTP_GND",
            )))
            .unwrap_err();
        assert!(
            matches!(
                err,
                ApiError::OutcomeUnknown {
                    operation: "createShipment",
                    ..
                }
            ),
            "{fault}: {err:?}"
        );
        assert!(
            err.to_string().contains("check before trying again"),
            "{err}"
        );
        let creates: Vec<Value> = request_log(&m)
            .into_iter()
            .filter(|r| r["operation"] == "createShipment")
            .collect();
        assert_eq!(creates.len(), 1, "{fault}: exactly one purchase request");
        assert_eq!(creates[0]["fault"], fault);
        assert_eq!(
            training_status(&m, &id),
            if purchased { "SHIPPED" } else { "UNSHIPPED" },
            "{fault}"
        );
    }
}

/// cancelShipment may be sent again (a second void buys nothing). When the first void went
/// through but its answer was lost, the resend is refused as already cancelled, and the client
/// looks the shipment up and returns it voided.
#[test]
fn a_void_whose_answer_was_lost_comes_back_voided() {
    let m = marketplace_with(3, "1000", &["--fault-delay-ms", "2500"]);
    let rt = runtime();
    let api = training_api(&m, Duration::from_secs(1));
    let id = training_order_ids(&m).remove(0);
    let order = rt
        .block_on(api.get_order(&OrderId::parse(&id).unwrap()))
        .unwrap();
    let shipment = rt
        .block_on(api.create_shipment(&by_service(box_for(&order, None), "UPS_PTP_GND")))
        .unwrap();
    // The training control: the next cancelShipment answer comes too late.
    http(&m, "POST", "/_training/faults/cancelShipment/timeout");
    let (status, _) = http_with(&m, "POST", "/_training/faults/cancelShipment/meltdown", &[]);
    assert_eq!(status, 404);
    let void = rt
        .block_on(api.cancel_shipment(&shipment.shipment_id))
        .unwrap();
    assert_eq!(void.status, ShipmentStatus::RefundPending);
    assert_eq!(void.shipment_id, shipment.shipment_id);
    let calls: Vec<(String, u64, Value)> = request_log(&m)
        .into_iter()
        .filter(|r| r["operation"] == "cancelShipment" || r["operation"] == "getShipment")
        .map(|r| {
            (
                r["operation"].as_str().unwrap().to_owned(),
                r["status"].as_u64().unwrap(),
                r["fault"].clone(),
            )
        })
        .collect();
    assert_eq!(
        calls,
        [
            ("cancelShipment".to_owned(), 200, json!("timeout")),
            ("cancelShipment".to_owned(), 400, Value::Null),
            ("getShipment".to_owned(), 200, Value::Null),
        ]
    );
}

/// A 429 means Amazon did nothing: the purchase is sent again once the quota allows, and only
/// one label is bought.
#[test]
fn a_throttled_purchase_is_sent_again_and_bought_once() {
    let m = marketplace(3, "1");
    let rt = runtime();
    let api = training_api(&m, Duration::from_secs(10));
    let id = training_order_ids(&m).remove(0);
    let order = rt
        .block_on(api.get_order(&OrderId::parse(&id).unwrap()))
        .unwrap();
    // Someone else spends createShipment's burst of two just before.
    let (status, body) = http_send(
        &m,
        "POST",
        "/tokens/2021-03-01/restrictedDataToken",
        &[
            ("x-amz-access-token", "Atza|other"),
            ("content-type", "application/json"),
        ],
        r#"{"restrictedResources":[{"method":"POST","path":"/mfn/v0/shipments"}]}"#,
    );
    assert_eq!(status, 200, "{body}");
    let rdt: Value = serde_json::from_str(&body).unwrap();
    let rdt = rdt["restrictedDataToken"].as_str().unwrap();
    for _ in 0..2 {
        let (status, _) = http_send(
            &m,
            "POST",
            "/mfn/v0/shipments",
            &[("x-amz-access-token", rdt)],
            "{}",
        );
        assert_eq!(status, 400);
    }
    let shipment = rt
        .block_on(api.create_shipment(&by_service(box_for(&order, None), "USPS_PTP_GA")))
        .unwrap();
    assert_eq!(shipment.status, ShipmentStatus::Purchased);
    // Without a format asked for, the training marketplace's default is PNG.
    assert_eq!(
        shipment.label.decode().unwrap().file_type,
        LabelFileType::Png
    );
    let statuses: Vec<u64> = request_log(&m)
        .iter()
        .filter(|r| r["operation"] == "createShipment")
        .map(|r| r["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [400, 400, 429, 200]);
}

/// A validator for one definition of the Merchant Fulfillment model.
#[test]
fn every_answer_validates_against_the_official_model() {
    let m = marketplace(4, "1000");
    let ids = training_order_ids(&m);
    let lwa = ("x-amz-access-token", "Atza|training-test");
    let json_type = ("content-type", "application/json");
    let (_, body) = http_send(
        &m,
        "POST",
        "/tokens/2021-03-01/restrictedDataToken",
        &[lwa, json_type],
        r#"{"restrictedResources":[{"method":"POST","path":"/mfn/v0/shipments"},{"method":"GET","path":"/mfn/v0/shipments/{shipmentId}"},{"method":"DELETE","path":"/mfn/v0/shipments/{shipmentId}"}]}"#,
    );
    let rdt_body: Value = serde_json::from_str(&body).unwrap();
    let rdt = (
        "x-amz-access-token",
        rdt_body["restrictedDataToken"].as_str().unwrap(),
    );
    let eligible = validator_in(MODEL, "GetEligibleShipmentServicesResponse");
    let created = validator_in(MODEL, "CreateShipmentResponse");
    let got = validator_in(MODEL, "GetShipmentResponse");
    let cancelled = validator_in(MODEL, "CancelShipmentResponse");
    // The validators do reject what the model forbids.
    assert!(!created.is_valid(&json!({ "payload": { "ShipmentId": 5 } })));
    assert!(!eligible.is_valid(&json!({ "errors": [{ "code": "X" }] })));

    for (i, format) in ["ZPL203", "PDF", "PNG"].into_iter().enumerate() {
        let order: Value = serde_json::from_str(
            &http_with(
                &m,
                "GET",
                &format!("/orders/2026-01-01/orders/{}", ids[i]),
                &[lwa],
            )
            .1,
        )
        .unwrap();
        let items: Vec<Value> = order["order"]["orderItems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| json!({ "OrderItemId": l["orderItemId"], "Quantity": l["quantityOrdered"] }))
            .collect();
        let details = json!({
            "AmazonOrderId": ids[i],
            "ItemList": items,
            "ShipFromAddress": { "Name": "Training Seller", "AddressLine1": "1 Dock Road", "Email": "", "City": "Seattle", "StateOrProvinceCode": "WA", "PostalCode": "98101", "CountryCode": "US", "Phone": "+1 206 555 0100" },
            "PackageDimensions": { "Length": 25.0, "Width": 20.0, "Height": 10.0, "Unit": "centimeters" },
            "Weight": { "Value": 1200.0, "Unit": "g" },
            "ShippingServiceOptions": { "DeliveryExperience": "DeliveryConfirmationWithSignature", "CarrierWillPickUp": false, "LabelFormat": format }
        });
        let (status, body) = http_send(
            &m,
            "POST",
            "/mfn/v0/eligibleShippingServices",
            &[lwa, json_type],
            &json!({ "ShipmentRequestDetails": details }).to_string(),
        );
        assert_eq!(status, 200, "{body}");
        assert_valid(&eligible, &body, "getEligibleShipmentServices");
        let offers: Value = serde_json::from_str(&body).unwrap();
        let offer = &offers["payload"]["ShippingServiceList"][0];
        let request = json!({
            "ShipmentRequestDetails": details,
            "ShippingServiceId": offer["ShippingServiceId"],
            "ShippingServiceOfferId": offer["ShippingServiceOfferId"],
            "HazmatType": "None"
        })
        .to_string();
        // createShipment returns the ship-to address: an access token alone is refused.
        let (status, body) =
            http_send(&m, "POST", "/mfn/v0/shipments", &[lwa, json_type], &request);
        assert_eq!(status, 403, "{body}");
        assert_valid(&created, &body, "createShipment 403");
        let (status, body) =
            http_send(&m, "POST", "/mfn/v0/shipments", &[rdt, json_type], &request);
        assert_eq!(status, 200, "{body}");
        assert_valid(&created, &body, &format!("createShipment {format}"));
        let shipment: Value = serde_json::from_str(&body).unwrap();
        let sid = shipment["payload"]["ShipmentId"].as_str().unwrap();
        let path = format!("/mfn/v0/shipments/{sid}");
        let (status, body) = http_with(&m, "GET", &path, &[rdt]);
        assert_eq!(status, 200, "{body}");
        assert_valid(&got, &body, "getShipment");
        let (status, body) = http_with(&m, "DELETE", &path, &[rdt]);
        assert_eq!(status, 200, "{body}");
        assert_valid(&cancelled, &body, "cancelShipment");
        // Raw requests keep no quota of their own: wait for cancelShipment's next token.
        std::thread::sleep(Duration::from_millis(20));
        let (status, body) = http_with(&m, "DELETE", &path, &[rdt]);
        assert_eq!(status, 400, "{body}");
        assert_valid(&cancelled, &body, "cancelShipment twice");
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap()["errors"][0]["code"],
            "ShipmentAlreadyCancelled"
        );
    }

    // Amazon's validation, with SP-API error bodies: the field is named.
    let mut missing_weight = json!({ "ShipmentRequestDetails": {
        "AmazonOrderId": ids[3], "ItemList": [{ "OrderItemId": "x", "Quantity": 1 }],
        "ShipFromAddress": { "Name": "S", "AddressLine1": "1", "Email": "", "City": "C", "PostalCode": "1", "CountryCode": "US", "Phone": "1" },
        "PackageDimensions": { "Length": 1.0, "Width": 1.0, "Height": 1.0, "Unit": "inches" },
        "ShippingServiceOptions": { "DeliveryExperience": "NoTracking", "CarrierWillPickUp": false }
    }});
    for (body, status, says) in [
        (
            missing_weight.to_string(),
            400,
            "ShipmentRequestDetails.Weight is required.",
        ),
        (
            "not json".to_owned(),
            400,
            "not a GetEligibleShipmentServicesRequest",
        ),
        (
            {
                missing_weight["ShipmentRequestDetails"]["Weight"] =
                    json!({ "Value": 3, "Unit": "kg" });
                missing_weight.to_string()
            },
            400,
            "Weight.Unit must be oz or g",
        ),
        (
            {
                missing_weight["ShipmentRequestDetails"]["Weight"] =
                    json!({ "Value": 3, "Unit": "oz" });
                missing_weight["ShipmentRequestDetails"]["AmazonOrderId"] =
                    json!("999-0000000-0000000");
                missing_weight.to_string()
            },
            404,
            "order was not found",
        ),
    ] {
        let (got_status, answer) = http_send(
            &m,
            "POST",
            "/mfn/v0/eligibleShippingServices",
            &[lwa, json_type],
            &body,
        );
        assert_eq!(got_status, status, "{answer}");
        assert_valid(&eligible, &answer, says);
        assert!(answer.contains(says), "{answer}");
    }
    let (status, body) = http_with(&m, "GET", "/mfn/v0/shipments/not-a-uuid", &[rdt]);
    assert_eq!(status, 400);
    assert_valid(&got, &body, "getShipment bad id");
    // A token for one path does not open another.
    let (_, body) = http_send(
        &m,
        "POST",
        "/tokens/2021-03-01/restrictedDataToken",
        &[lwa, json_type],
        r#"{"restrictedResources":[{"method":"POST","path":"/mfn/v0/shipments"}]}"#,
    );
    let narrow: Value = serde_json::from_str(&body).unwrap();
    let (status, _) = http_with(
        &m,
        "GET",
        "/mfn/v0/shipments/00000000-0000-4000-a000-000000000000",
        &[(
            "x-amz-access-token",
            narrow["restrictedDataToken"].as_str().unwrap(),
        )],
    );
    assert_eq!(status, 403);
}

/// The Code 128 encoder, checked symbol by symbol by an independent decoder: every printable
/// ASCII character, and digit runs of every length (code set C and the switches around it).
#[test]
fn code_128_barcodes_read_back_with_an_independent_decoder() {
    if !have(&[Tool::Zxing]) {
        return;
    }
    let printable: String = (0x20u8..=0x7E).map(char::from).collect();
    let mut payloads: Vec<String> = printable
        .as_bytes()
        .chunks(24)
        .map(|c| String::from_utf8(c.to_vec()).unwrap())
        .collect();
    payloads.extend(
        [
            "1Z999AA10123456784",
            "9400111899223100000008",
            "123-4567890-1234567",
            "A1234567B",
            "12",
            "0",
            "x12345",
        ]
        .map(str::to_owned),
    );
    let dir = tempfile::tempdir().unwrap();
    for (i, p) in payloads.iter().enumerate() {
        let png = packline::marketplace::carrier_label::barcode_png(p, 3, 120).unwrap();
        let path = dir.path().join(format!("code-{i}.png"));
        std::fs::write(&path, png).unwrap();
        assert_eq!(zxing_read(&path), std::slice::from_ref(p), "payload {i}");
    }
}
