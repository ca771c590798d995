//! Buy Shipping through Amazon's Shipping API v2, against the real training marketplace: a
//! purchase whose answer is lost (a timeout, a 5xx, a cut or unreadable answer, a restart) is
//! settled by sending it again under its idempotency key, and the marketplace's log shows one
//! shipment bought per package; an expired rate is re-rated; a price rise past the tolerance is
//! asked about instead of bought; a wave of 200 packed orders with faults at 10 % buys each once;
//! the day's close makes the carrier's collection form, after which a void is refused; tracking
//! records the delivery; every request body validates against `shippingV2.json`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::common::floor::*;
use crate::common::*;
use packline::domain::{Delivery, OrderId, OrderState};
use packline::service::client::Client;
use packline::service::{Service, ServiceError, ops};
use packline::store::shipping::ShipmentState;

async fn floor(printer: Option<String>) -> Floor {
    floor_on(
        marketplace_with(6, "20", &["--fault-delay-ms", "3000"]),
        printer,
        Duration::from_secs(1),
    )
    .await
}

async fn buy(
    c: &Client,
    order: &OrderId,
    service: Option<&str>,
) -> Result<Vec<packline::store::shipping::ShipmentRecord>, ServiceError> {
    c.call(ops::BuyLabel {
        order: order.to_string(),
        service: service.map(str::to_owned),
    })
    .await
}

fn purchases(m: &Marketplace) -> Vec<serde_json::Value> {
    request_log(m)
        .into_iter()
        .filter(|r| r["operation"] == "purchaseShipment")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_label_is_bought_once_printed_and_the_day_leaves_on_a_collection_form() {
    let (printer, jobs) = raw_printer();
    let f = floor(Some(printer)).await;
    let order = pack_orders(&f.client, 1, 1).await.remove(0);
    let offers = f
        .client
        .call(ops::Rates {
            order: order.to_string(),
        })
        .await
        .unwrap();
    assert!(offers.len() >= 2, "{offers:?}");
    let bought = buy(&f.client, &order, Some(&offers[0].service_id))
        .await
        .unwrap();
    assert_eq!(bought.len(), 1);
    assert_eq!(bought[0].state, ShipmentState::Bought);
    assert_eq!(
        bought[0].service_id.as_deref(),
        Some(offers[0].service_id.as_str())
    );
    let tracking = bought[0].tracking.clone().expect("a tracking number");
    assert_eq!(f.state(&order), OrderState::Labelled);
    // The offers were fresh: the purchase used them, with no second getRates.
    assert_eq!(count_requests(&f.market, "getRates"), 1);
    assert_eq!(purchases(&f.market).len(), 1);
    assert_eq!(bought_per_order(&f.market)[order.as_str()], 1);
    // The label prints byte for byte as Amazon sent it.
    f.client
        .call(ops::PrintLabel {
            order: order.to_string(),
            printer: None,
            package: None,
        })
        .await
        .unwrap();
    let label = jobs.recv_timeout(Duration::from_secs(20)).unwrap();
    let stored = f
        .service
        .with_store(|s| s.label(&order, 1).unwrap().to_vec());
    assert_eq!(label, stored);
    assert!(label.starts_with(b"^XA"), "a ZPL label");
    // A second purchase is refused: the order has its label.
    let again = buy(&f.client, &order, None).await;
    assert!(
        matches!(&again, Err(ServiceError::Conflict(m)) if m.contains("labelled")),
        "{again:?}"
    );
    assert_eq!(purchases(&f.market).len(), 1);

    // End of day: the order leaves, and the carrier's collection form prints.
    let day = f
        .client
        .call(ops::Manifest {
            date: None,
            close: true,
        })
        .await
        .unwrap();
    assert_eq!(day.shipped, 1);
    assert_eq!(day.form_error, None);
    assert_eq!(day.collection_forms.len(), 1, "{day:?}");
    assert_eq!(count_requests(&f.market, "generateCollectionForm"), 1);
    let form = jobs.recv_timeout(Duration::from_secs(20)).unwrap();
    assert!(form.starts_with(b"%PDF-"), "the collection form is a PDF");
    assert!(
        find(&form, tracking.as_str().as_bytes()).is_some(),
        "the form lists the day's tracking number"
    );
    let details = f
        .service
        .with_store(|s| s.shipment_v2(&order, 1).unwrap().unwrap());
    assert!(details.on_form.is_some());
    assert_eq!(f.state(&order), OrderState::Shipped);
    every_body_validates(&f.market, 4);
}

const SHIPPING: &str = include_str!("../spapi-models/shippingV2.json");

/// Every request body packline sent validates against its definition in `shippingV2.json`;
/// `kinds` definitions were seen.
fn every_body_validates(m: &Marketplace, kinds: usize) {
    let bodies: Vec<serde_json::Value> =
        serde_json::from_str(&http(m, "GET", "/_training/bodies")).unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for b in &bodies {
        let definition = b["definition"].as_str().unwrap();
        assert_valid(
            &validator_in(SHIPPING, definition),
            b["body"].as_str().unwrap(),
            definition,
        );
        seen.insert(definition.to_owned());
    }
    assert_eq!(seen.len(), kinds, "{seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_label_on_a_collection_form_is_not_voided_one_before_is() {
    let f = floor(None).await;
    let orders = pack_orders(&f.client, 2, 2).await;
    for o in &orders {
        buy(&f.client, o, None).await.unwrap();
    }
    // Voided before the form: cancelShipment, and the order is Packed again.
    f.client
        .call(ops::VoidLabel {
            order: orders[0].to_string(),
            reason: "wrong box".into(),
            package: None,
        })
        .await
        .unwrap();
    assert_eq!(f.state(&orders[0]), OrderState::Packed);
    assert_eq!(count_requests(&f.market, "cancelShipment"), 1);
    // It can be bought again: a second real purchase for that order, after a void.
    buy(&f.client, &orders[0], None).await.unwrap();
    assert_eq!(bought_per_order(&f.market)[orders[0].as_str()], 2);
    // Hold the first back, close the day for the other: it goes on the form.
    f.client
        .call(ops::HoldOrder {
            order: orders[0].to_string(),
            reason: "customer called".into(),
        })
        .await
        .unwrap();
    let day = f
        .client
        .call(ops::Manifest {
            date: None,
            close: true,
        })
        .await
        .unwrap();
    assert_eq!(day.shipped, 1);
    assert!(!day.collection_forms.is_empty(), "{day:?}");
    assert!(
        f.service
            .with_store(|s| s.shipment_v2(&orders[0], 1).unwrap().unwrap())
            .on_form
            .is_some()
    );
    // Amazon's form takes every label of the carrier not yet on one, the held parcel's too:
    // its void is refused, with the reason, before Amazon is asked.
    let cancels = count_requests(&f.market, "cancelShipment");
    let r = f
        .client
        .call(ops::VoidLabel {
            order: orders[0].to_string(),
            reason: "customer cancelled".into(),
            package: None,
        })
        .await;
    assert!(
        matches!(&r, Err(ServiceError::Conflict(m)) if m.contains("collection form")),
        "{r:?}"
    );
    assert_eq!(count_requests(&f.market, "cancelShipment"), cancels);
    assert_eq!(f.state(&orders[0]), OrderState::Labelled);
}

/// A purchase whose answer is lost `faults` times in a row.
async fn lose_answers(f: &Floor, fault: &str, times: usize) -> OrderId {
    let order = pack_orders(&f.client, 1, 1).await.remove(0);
    for _ in 0..times {
        http(
            &f.market,
            "POST",
            &format!("/_training/faults/purchaseShipment/{fault}"),
        );
    }
    order
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_is_settled_by_a_resend_under_the_same_key() {
    let f = floor(None).await;
    for fault in ["timeout", "500", "truncated", "malformed"] {
        let order = lose_answers(&f, fault, 1).await;
        let r = buy(&f.client, &order, None).await.unwrap();
        assert_eq!(r[0].state, ShipmentState::Bought, "{fault}");
        assert_eq!(f.state(&order), OrderState::Labelled, "{fault}");
        assert_eq!(bought_per_order(&f.market)[order.as_str()], 1, "{fault}");
        // Every attempt for this order went under one key.
        let keys: std::collections::BTreeSet<String> = purchases(&f.market)
            .iter()
            .filter(|p| p["params"]["orderId"] == order.as_str())
            .map(|p| {
                p["params"]["idempotencyKey"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect();
        assert_eq!(keys.len(), 1, "{fault}: {keys:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_purchase_is_kept_and_sent_again_by_the_next_buy_or_start() {
    let mut f = floor(None).await;
    // Every attempt of the call is lost: the intent stays, with its key, and nothing is an
    // exception for a lead.
    let order = lose_answers(&f, "timeout", 5).await;
    let r = buy(&f.client, &order, None).await;
    assert!(
        matches!(&r, Err(ServiceError::Conflict(m)) if m.contains("idempotency key")),
        "{r:?}"
    );
    assert_eq!(f.state(&order), OrderState::Packed);
    let s = f
        .service
        .with_store(|s| s.shipment(&order, 1).unwrap().unwrap());
    assert_eq!(s.state, ShipmentState::PurchaseIntent);
    // Amazon bought it at the first attempt; the sync sees SHIPPED and keeps the order ours.
    f.service.sync_now("lead").await.unwrap();
    assert_eq!(f.state(&order), OrderState::Packed);
    // The next buy sends the same request under the same key: Amazon answers with the first.
    let r = buy(&f.client, &order, None).await.unwrap();
    assert_eq!(r[0].state, ShipmentState::Bought);
    assert_eq!(f.state(&order), OrderState::Labelled);
    assert_eq!(bought_per_order(&f.market)[order.as_str()], 1);

    // The same after a restart: a new service on the store settles the purchase in flight.
    let second = lose_answers(&f, "timeout", 5).await;
    assert!(buy(&f.client, &second, None).await.is_err());
    let (dir, market, service) = f.close();
    drop(service);
    let mut store = packline::store::Store::open(&dir.path().join("data")).unwrap();
    store
        .unlock(&packline::store::MasterSource::IdentityFile(
            dir.path().join("master.key"),
        ))
        .unwrap();
    let service = Service::new(store, settings_v2(None));
    service.set_amazon(Arc::new(training_api(&market, Duration::from_secs(1))));
    let svc = service.clone();
    let settled = tokio::task::spawn_blocking(move || svc.settle_purchases_v2(chrono::Utc::now()))
        .await
        .unwrap();
    assert_eq!(settled, 1);
    let st = service.with_store(|s| s.get(&second).unwrap().unwrap().state);
    assert_eq!(st, OrderState::Labelled);
    f = Floor {
        client: Client::local(service.clone(), &whoami()).unwrap(),
        dir,
        market,
        service,
        packer: None,
    };
    assert_eq!(bought_per_order(&f.market)[second.as_str()], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_rate_is_rated_again_and_a_price_rise_is_asked_about() {
    let f = floor(None).await;
    let orders = pack_orders(&f.client, 2, 2).await;
    // Expired at Amazon while packline thought it fresh: refused with TOKEN_EXPIRED, rated
    // again, and the same service bought.
    let offers = f
        .client
        .call(ops::Rates {
            order: orders[0].to_string(),
        })
        .await
        .unwrap();
    let first_price = offers.last().unwrap().amount;
    let chosen = offers.last().unwrap().service_id.clone();
    http(&f.market, "POST", "/_training/rates/expire");
    let r = buy(&f.client, &orders[0], Some(&chosen)).await.unwrap();
    assert_eq!(r[0].service_id.as_deref(), Some(chosen.as_str()));
    let p = purchases(&f.market);
    assert_eq!(p.len(), 2, "{p:?}");
    assert_eq!(p[0]["status"], 400);
    assert_eq!(p[1]["status"], 200);
    assert_eq!(count_requests(&f.market, "getRates"), 2);
    assert_eq!(bought_per_order(&f.market)[orders[0].as_str()], 1);

    // The price rose 20 % after the labeler chose (the site allows 5 %): asked, not bought.
    let offers = f
        .client
        .call(ops::Rates {
            order: orders[1].to_string(),
        })
        .await
        .unwrap();
    let chosen = offers[0].clone();
    http(&f.market, "POST", "/_training/rates/surcharge/20");
    http(&f.market, "POST", "/_training/rates/expire");
    let before = purchases(&f.market).len();
    let r = buy(&f.client, &orders[1], Some(&chosen.service_id)).await;
    assert!(
        matches!(&r, Err(ServiceError::Conflict(m)) if m.contains("now costs")),
        "{r:?}"
    );
    // One attempt on the expired token, and nothing bought.
    assert_eq!(purchases(&f.market).len(), before + 1);
    assert!(!bought_per_order(&f.market).contains_key(orders[1].as_str()));
    assert_eq!(f.state(&orders[1]), OrderState::Packed);
    // Buying again is the labeler's yes to the new price.
    let r = buy(&f.client, &orders[1], Some(&chosen.service_id))
        .await
        .unwrap();
    assert_eq!(r[0].state, ShipmentState::Bought);
    // What was paid is the new price.
    let paid = f
        .service
        .with_store(|s| s.shipment(&orders[1], 1).unwrap().unwrap());
    assert_eq!(paid.service_id.as_deref(), Some(chosen.service_id.as_str()));
    let today = packline::store::shipping::local_day(chrono::Utc::now());
    let report = f
        .client
        .call(ops::BuildReport {
            from: Some(today),
            to: Some(today),
            by: Default::default(),
            site: None,
        })
        .await
        .unwrap();
    let spent: f64 = report.postage.iter().map(|p| p.amount).sum();
    let expected = first_price + chosen.amount * 1.2;
    assert!(
        (spent - expected).abs() < 0.02,
        "spent {spent}, expected {first_price} + the risen {}",
        chosen.amount * 1.2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wave_of_200_with_faults_buys_each_package_once() {
    let market = marketplace_with(
        210,
        "200",
        &[
            "--fault-rate",
            "0.1",
            "--faults",
            "429,500,503,timeout,truncated,malformed",
            "--fault-delay-ms",
            "1500",
        ],
    );
    let f = floor_on(market, None, Duration::from_secs(1)).await;
    let packed = pack_orders(&f.client, 200, 20).await;
    assert_eq!(packed.len(), 200);
    let mut report = f
        .client
        .call(ops::BuyWave {
            no_print: true,
            ..Default::default()
        })
        .await
        .unwrap();
    // What the faults left for a person is bought by running the wave again.
    let mut runs = 1;
    while !report.needs_person.is_empty() && runs < 4 {
        report = f
            .client
            .call(ops::BuyWave {
                no_print: true,
                ..Default::default()
            })
            .await
            .unwrap();
        runs += 1;
    }
    assert!(report.needs_person.is_empty(), "{:?}", report.needs_person);
    for o in &packed {
        assert_eq!(f.state(o), OrderState::Labelled, "{o}");
    }
    let per = bought_per_order(&f.market);
    assert_eq!(per.len(), 200);
    assert!(per.values().all(|n| *n == 1), "{per:?}");
    // Run again, it buys nothing.
    let again = f
        .client
        .call(ops::BuyWave {
            no_print: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(again.bought.is_empty() && again.needs_person.is_empty());
    assert_eq!(training_shipments(&f.market).len(), 200);
    every_body_validates(&f.market, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tracking_records_the_delivery_and_the_report_counts_it() {
    let f = floor(None).await;
    let order = pack_orders(&f.client, 1, 1).await.remove(0);
    let r = buy(&f.client, &order, None).await.unwrap();
    let tracking = r[0].tracking.clone().unwrap();
    f.client
        .call(ops::Manifest {
            date: None,
            close: true,
        })
        .await
        .unwrap();
    let view = f.client.call(ops::Dashboard {}).await.unwrap();
    assert_eq!(view.deliveries.on_the_way, 1);
    assert_eq!(view.deliveries.delivered, 0);
    // The seller's Valid Tracking Rate follows the package: shipped, not yet scanned.
    let vtr = |m: &packline::domain::metrics::SellerMetrics| {
        m.rates
            .iter()
            .find(|r| r.metric == packline::domain::metrics::Kind::ValidTrackingRate && r.days == 7)
            .map(|r| (r.count, r.of))
            .unwrap()
    };
    assert_eq!(vtr(&f.client.call(ops::Metrics {}).await.unwrap()), (0, 1));
    http(
        &f.market,
        "POST",
        &format!("/_training/tracking/{}/Delivered", tracking.as_str()),
    );
    let svc = f.service.clone();
    let (_, delivered) =
        tokio::task::spawn_blocking(move || svc.track_deliveries(None, 100, chrono::Utc::now()))
            .await
            .unwrap()
            .unwrap();
    assert_eq!(delivered, 1);
    let d = f
        .service
        .with_store(|s| s.shipment_v2(&order, 1).unwrap().unwrap());
    assert_eq!(d.delivery, Some(Delivery::Delivered));
    assert!(d.delivered_at.is_some());
    // The order's packages say so too (lookup --json shows them).
    let packages = f
        .client
        .call(ops::Packages {
            order: order.to_string(),
        })
        .await
        .unwrap();
    let v2 = packages[0].shipping_v2.clone().expect("bought through v2");
    assert_eq!(v2.delivery, Some(Delivery::Delivered));
    assert_eq!(v2.delivered_at, d.delivered_at);
    assert!(v2.on_form.is_some(), "it left on the day's collection form");
    // Delivered packages are no longer asked about.
    let svc = f.service.clone();
    let before = count_requests(&f.market, "getTracking");
    tokio::task::spawn_blocking(move || svc.track_deliveries(None, 100, chrono::Utc::now()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(count_requests(&f.market, "getTracking"), before);
    let today = packline::store::shipping::local_day(chrono::Utc::now());
    let report = f
        .client
        .call(ops::BuildReport {
            from: Some(today - chrono::Days::new(7)),
            to: Some(today + chrono::Days::new(7)),
            by: Default::default(),
            site: None,
        })
        .await
        .unwrap();
    assert_eq!(report.totals.packages_delivered, 1);
    let view = f.client.call(ops::Dashboard {}).await.unwrap();
    assert_eq!(view.deliveries.delivered, 1);
    assert_eq!(view.deliveries.on_the_way, 0);
    // Delivered: scanned, counted once on the day it shipped; the delivery counts on time or not.
    let m = view.metrics.expect("the dashboard carries the metrics");
    assert_eq!(vtr(&m), (1, 1));
    let otdr = m
        .rates
        .iter()
        .find(|r| r.metric == packline::domain::metrics::Kind::OnTimeDeliveryRate)
        .unwrap();
    assert_eq!(otdr.of, 1);
}

/// Faults at 20 % on every operation packline calls, the token endpoint included: the sync
/// converges to the exact order set, each label is bought once, each own-carrier package is
/// confirmed as one package, and the marketplace refused nothing for quota that it did not
/// inject.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_at_20_percent_everywhere_and_everything_happens_exactly_once() {
    let market = marketplace_with(
        30,
        "1000",
        &[
            "--fault-rate",
            "0.2",
            "--faults",
            "429,500,503,timeout,malformed,truncated",
            "--fault-delay-ms",
            "1200",
        ],
    );
    let f = floor_on(market, None, Duration::from_secs(1)).await;
    let book: Vec<serde_json::Value> = training_book(&f.market);
    let actionable: std::collections::BTreeSet<String> = book
        .iter()
        .filter(|o| o["fulfillmentStatus"] == "UNSHIPPED")
        .map(|o| o["orderId"].as_str().unwrap().to_owned())
        .collect();
    let stored: std::collections::BTreeSet<String> = f.service.with_store(|s| {
        s.list(None)
            .map(|r| r.unwrap().order.id.to_string())
            .collect()
    });
    assert_eq!(stored, actionable);
    // A second sync under the same faults changes nothing.
    let again = f.service.sync_now("lead").await;
    if let Ok(c) = &again {
        assert_eq!((c.new, c.cancelled), (0, 0), "{c:?}");
    }

    let packed = pack_orders(&f.client, 6, 6).await;
    let (labels, own) = packed.split_at(3);
    for o in labels {
        let mut r = buy(&f.client, o, None).await;
        // A purchase left in flight by faults is sent again under its key.
        for _ in 0..3 {
            if r.is_ok() {
                break;
            }
            r = buy(&f.client, o, None).await;
        }
        assert_eq!(r.unwrap()[0].state, ShipmentState::Bought);
    }
    for (i, o) in own.iter().enumerate() {
        let op = || ops::ShipOwnCarrier {
            order: o.to_string(),
            carrier: "DHL".into(),
            tracking: vec![format!("JD0146000000{i}")],
        };
        let mut r = f.client.call(op()).await;
        for _ in 0..3 {
            if r.is_ok() {
                break;
            }
            r = f.client.call(op()).await;
        }
        r.unwrap();
        assert_eq!(f.state(o), OrderState::Shipped);
    }
    let per = bought_per_order(&f.market);
    for o in labels {
        assert_eq!(per.get(o.as_str()), Some(&1), "{o}");
    }
    let log = request_log(&f.market);
    for o in own {
        let refs: std::collections::BTreeSet<&str> = log
            .iter()
            .filter(|r| {
                r["operation"] == "confirmShipment"
                    && r["params"]["orderId"] == o.as_str()
                    && r["status"] == 204
            })
            .map(|r| r["params"]["packageReferenceId"].as_str().unwrap())
            .collect();
        assert_eq!(refs, ["1"].into(), "{o}: one package");
    }
    assert!(
        log.iter()
            .any(|r| r["operation"] == "lwaToken" && !r["fault"].is_null())
            || log.iter().filter(|r| r["operation"] == "lwaToken").count() == 1,
        "the token endpoint is faulted like the rest"
    );
    let quota: Vec<&serde_json::Value> = log
        .iter()
        .filter(|r| r["status"] == 429 && r["fault"].is_null())
        .collect();
    assert!(quota.is_empty(), "refused for quota: {quota:?}");
    let faults = log.iter().filter(|r| !r["fault"].is_null()).count();
    assert!(faults * 10 >= log.len(), "{faults} faults of {}", log.len());
    let mut kinds = std::collections::BTreeMap::<String, usize>::new();
    for r in log.iter().filter(|r| !r["fault"].is_null()) {
        *kinds.entry(r["fault"].to_string()).or_default() += 1;
    }
    println!(
        "fault run: {} requests, {faults} faulted and absorbed ({kinds:?})",
        log.len()
    );
}

const ORDERS_V0: &str = include_str!("../spapi-models/ordersV0.json");

/// The packages the marketplace took confirmations of (`/_training/confirmations`) for `order`.
fn confirmations_of(m: &Marketplace, order: &OrderId) -> Vec<serde_json::Value> {
    let body = http(m, "GET", "/_training/confirmations");
    serde_json::from_str::<Vec<serde_json::Value>>(&body)
        .unwrap_or_else(|e| panic!("/_training/confirmations: {e}: {body}"))
        .into_iter()
        .filter(|c| c["orderId"] == order.as_str())
        .collect()
}

/// Break 9: the v2 purchase has no field for Transparency codes, so after it packline confirms
/// the package with its codes (Orders v0 `confirmShipment`, the package's number as its
/// reference, the bought label's carrier and tracking): the codes reach the marketplace once,
/// in a body that validates against `ordersV0.json`. Refused (a Ship+ order), the purchase is
/// kept, the refusal is said, nothing is counted as sent, and the next `label buy` tries again
/// without buying again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v2_purchase_sends_its_packages_transparency_codes_once() {
    let f = floor_on(marketplace(4, "20"), None, Duration::from_secs(5)).await;
    let c = &f.client;
    let b = c
        .call(ops::ClaimBatch { size: Some(2) })
        .await
        .unwrap()
        .unwrap();
    for id in &b.orders {
        http(
            &f.market,
            "POST",
            &format!("/_training/orders/{id}/transparency"),
        );
    }
    f.service.sync_now("lead").await.unwrap();
    pick_all(c, &b).await;
    let mut codes = HashMap::new();
    for (i, order) in b.orders.iter().enumerate() {
        let check = c
            .call(ops::PackStart {
                order: order.to_string(),
            })
            .await
            .unwrap();
        let mut mine = Vec::new();
        for l in &check.lines {
            for _ in 0..l.needed {
                let code = format!("AZ:{:0>26}", format!("V{i}X{}", mine.len()));
                c.call(ops::PackScan {
                    order: order.to_string(),
                    code: l.sku.clone(),
                    unit_codes: vec![code.clone()],
                })
                .await
                .unwrap();
                mine.push(code);
            }
        }
        c.call(ops::PackFinish {
            order: order.to_string(),
            box_name: "M 30x20x15".into(),
            weight_g: 1200,
            partial: None,
            label: false,
        })
        .await
        .unwrap();
        codes.insert(order.clone(), mine);
    }
    let (order, ship_plus) = (&b.orders[0], &b.orders[1]);

    let bought = buy(c, order, None).await.unwrap();
    let tracking = bought[0].tracking.as_ref().unwrap().to_string();
    let sent = confirmations_of(&f.market, order);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["packageReferenceId"], "1");
    assert_eq!(sent[0]["trackingNumber"], tracking.as_str());
    let mut given: Vec<String> = sent[0]["items"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|i| i["transparencyCodes"].as_array().unwrap().clone())
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    given.sort();
    let mut want = codes[order].clone();
    want.sort();
    assert_eq!(given, want);
    assert_valid(
        &validator_in(ORDERS_V0, "ConfirmShipmentRequest"),
        sent[0]["body"].as_str().unwrap(),
        "confirmShipment",
    );
    let kept = f
        .service
        .with_store(|s| s.shipment_v2(order, 1).unwrap().unwrap());
    assert!(kept.codes_sent.is_some());
    // Sent once: buying again sends nothing more.
    let again = buy(c, order, None).await.unwrap_err().to_string();
    assert_eq!(
        again,
        format!("order {order} is labelled: labels are bought for packed orders")
    );
    assert_eq!(count_requests(&f.market, "confirmShipment"), 1);

    // Refused: the label stays bought, the codes are said to be unsent, and sent again later.
    http(
        &f.market,
        "POST",
        &format!("/_training/orders/{ship_plus}/ship-plus"),
    );
    for attempt in 0..2 {
        let err = buy(c, ship_plus, None).await.unwrap_err();
        let ServiceError::Conflict(msg) = &err else {
            panic!("{err:?}")
        };
        let shipment = f
            .service
            .with_store(|s| s.shipment(ship_plus, 1).unwrap().unwrap());
        assert_eq!(shipment.state, ShipmentState::Bought);
        let n = codes[ship_plus].len();
        assert!(
            msg.starts_with(&format!(
                "order {ship_plus} package 1: the label is bought (shipment {}), but Amazon did not take its {n} Transparency code(s): ",
                shipment.shipment_id.as_deref().unwrap()
            )) && msg.contains("Ship+ orders do not support shipment confirmation.")
                && msg.ends_with(&format!(
                    "Nothing is bought again: run `packline label buy {ship_plus}` to send them again before the package leaves"
                )),
            "attempt {attempt}: {msg}"
        );
        let v2 = f
            .service
            .with_store(|s| s.shipment_v2(ship_plus, 1).unwrap().unwrap());
        assert_eq!(v2.codes_sent, None);
        assert!(confirmations_of(&f.market, ship_plus).is_empty());
    }
    assert_eq!(bought_per_order(&f.market)[ship_plus.as_str()], 1);
    assert_eq!(count_requests(&f.market, "confirmShipment"), 3);

    // The day's close tries once more; still refused, that order stays labelled, the other
    // leaves.
    let day = c
        .call(ops::Manifest {
            date: None,
            close: true,
        })
        .await
        .unwrap();
    assert_eq!(day.shipped, 1);
    assert_eq!(day.codes_unsent.len(), 1, "{:?}", day.codes_unsent);
    assert_eq!(&day.codes_unsent[0].0, ship_plus);
    assert!(
        day.codes_unsent[0]
            .1
            .contains("Ship+ orders do not support shipment confirmation."),
        "{:?}",
        day.codes_unsent
    );
    assert_eq!(f.state(order), OrderState::Shipped);
    assert_eq!(f.state(ship_plus), OrderState::Labelled);
    assert_eq!(count_requests(&f.market, "confirmShipment"), 4);
}

/// Buy Shipping outside the US: a site of Amazon.fr (region `eu`) sends Amazon's French
/// shipping business with every Shipping API v2 request, from its marketplace alone; the
/// training marketplace quotes rates for a French order only to that business, so a client
/// that sent the US's (as every site did before) is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v2_purchase_on_an_eu_site_sends_its_marketplaces_business() {
    const FR: &str = "A13V1IB3VIYZZH";
    let market = marketplace_with(6, "20", &[]);
    http(&market, "POST", &format!("/_training/marketplace/{FR}"));
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!("[amazon]\nregion = \"eu\"\nmarketplace_ids = [\"{FR}\"]\n"),
    )
    .unwrap();
    let cfg = packline::config::Config::load(Some(&config)).unwrap();
    assert_eq!(
        cfg.shipping_business().as_deref(),
        Some("AmazonShipping_FR")
    );
    let store = unlocked_store(dir.path());
    let mut settings = settings_v2(None);
    settings.sync_plan.marketplace_ids = vec![FR.into()];
    let service = Service::new(store, settings);
    service.set_amazon(Arc::new(
        training_api(&market, Duration::from_secs(5))
            .with_shipping_business(cfg.shipping_business()),
    ));
    service.sync_now("lead").await.unwrap();
    let client = Client::local(service.clone(), &whoami()).unwrap();
    let packed = pack_orders(&client, 2, 2).await;
    let bought = buy(&client, &packed[0], None).await.unwrap();
    assert_eq!(bought.len(), 1);
    assert_eq!(purchases(&market).len(), 1);
    assert_eq!(bought_per_order(&market)[packed[0].as_str()], 1);
    let sent: Vec<(String, String)> = request_log(&market)
        .iter()
        .filter(|r| r["params"]["api"] == "shippingV2")
        .map(|r| {
            (
                r["operation"].as_str().unwrap().to_owned(),
                r["params"]["business"]
                    .as_str()
                    .unwrap_or("(none)")
                    .to_owned(),
            )
        })
        .collect();
    assert_eq!(
        sent,
        [
            ("getRates".to_owned(), "AmazonShipping_FR".to_owned()),
            (
                "purchaseShipment".to_owned(),
                "AmazonShipping_FR".to_owned()
            ),
        ]
    );

    // The US's business, as packline sent everywhere before, is refused for a French order.
    service.set_amazon(Arc::new(training_api(&market, Duration::from_secs(5))));
    let err = client
        .call(ops::Rates {
            order: packed[1].to_string(),
        })
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("The order's marketplace A13V1IB3VIYZZH is shipped by AmazonShipping_FR, not by AmazonShipping_US."),
        "{err}"
    );
    // A marketplace without a business of its own (Amazon.de) needs [shipping] business_id.
    std::fs::write(
        &config,
        "[amazon]\nregion = \"eu\"\nmarketplace_ids = [\"A1PA6795UKMFR9\"]\n",
    )
    .unwrap();
    let de = packline::config::Config::load(Some(&config)).unwrap();
    assert_eq!(de.shipping_business(), None);
    service.set_amazon(Arc::new(
        training_api(&market, Duration::from_secs(5))
            .with_shipping_business(de.shipping_business()),
    ));
    let err = client
        .call(ops::Rates {
            order: packed[1].to_string(),
        })
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("set [shipping] business_id"), "{err}");
    std::fs::write(
        &config,
        "[amazon]\nregion = \"eu\"\nmarketplace_ids = [\"A1PA6795UKMFR9\"]\n[shipping]\nbusiness_id = \"AmazonShipping_DE\"\n",
    )
    .unwrap();
    let err = packline::config::Config::load(Some(&config))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(
            "[shipping] business_id = \"AmazonShipping_DE\" is not an Amazon shipping business"
        ),
        "{err}"
    );
}
