//! Orders packline never imported (shipped before the site used packline, or by another tool):
//! a return received at the bench, an inquiry opened and a message sent for one, through the
//! service, the real client and the training marketplace over loopback HTTP. Amazon is asked for
//! the order once (getOrder, without the recipient); it is recorded closed, as shipped
//! elsewhere, with no recipient (none revealed, none on disk) and never reaches the pick queue;
//! `packline check` holds it so, and retention keeps it six years. An order Amazon does not know
//! is refused as before, one still to be shipped is left to a sync, and a site without an Amazon
//! connection says so (from the command line too, exit 1).

use std::time::Duration;

use crate::common::stores::raw_backend;
use crate::common::*;
use chrono::Utc;
use packline::domain::inquiry::{InquiryCategory, NoteText};
use packline::domain::invariants as inv;
use packline::domain::message::MessageText;
use packline::domain::returns::Condition;
use packline::domain::{OrderId, OrderState};
use packline::service::ServiceError;
use packline::service::ops;
use serde_json::Value;

/// A site on a marketplace of `orders` orders, never synced (so no order of it is in the
/// store); with `amazon` false, a site without an Amazon connection. This OS user is its lead,
/// `bo` a packer.
fn floor(orders: usize, amazon: bool) -> Floor {
    let floor = Floor::builder(marketplace(orders, "1000")).lead_and_packer();
    if amazon { floor } else { floor.offline() }.unsynced()
}

/// The getOrder requests the marketplace answered, as (order, includedData, status), but for
/// the test's own (`ship_at_amazon` asks as a sync would, `includedData=RECIPIENT,…`, once per
/// order it ships, before packline is asked anything).
fn get_orders(m: &Marketplace) -> Vec<(String, String, u64)> {
    let log = request_log(m);
    let own = log
        .iter()
        .filter(|r| r["operation"] == "confirmShipment")
        .count();
    log.iter()
        .filter(|r| r["operation"] == "getOrder")
        .skip(own)
        .map(|r| {
            (
                r["params"]["orderId"].as_str().unwrap().to_owned(),
                r["params"]["includedData"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                r["status"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// What the store holds of an order recorded from Amazon: it is shipped elsewhere, closed, with
/// no recipient (none to reveal, not even a masked name), and `check` finds nothing wrong.
async fn assert_recorded_without_recipient(f: &Floor, id: &str, sold: &packline::domain::Order) {
    let row = f
        .packer()
        .call(ops::ShowOrder { order: id.into() })
        .await
        .unwrap();
    assert!(row.shipped_elsewhere, "{row:?}");
    assert_eq!(row.state, OrderState::Shipped);
    assert!(row.closed_at.is_some());
    assert_eq!(row.recipient_mask, None);
    // Its lines, dates and marketplace as Amazon has them, every unit shipped (elsewhere).
    let lines = |o: &packline::domain::Order| -> Vec<(String, String, String, u32)> {
        o.lines
            .iter()
            .map(|l| {
                (
                    l.item_id.clone(),
                    l.sku.clone(),
                    l.asin.clone(),
                    l.quantity_ordered,
                )
            })
            .collect()
    };
    assert_eq!(lines(&row.order), lines(sold));
    assert!(
        row.order
            .lines
            .iter()
            .all(|l| l.quantity_shipped == l.quantity_ordered)
    );
    assert_eq!(row.order.created, sold.created);
    assert_eq!(row.order.marketplace_id.as_deref(), Some("ATVPDKIKX0DER"));

    let reveal = f
        .client
        .call(ops::Reveal {
            order: id.into(),
            reason: "checking what is kept".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        reveal.to_string(),
        format!(
            "order {id} has no recipient on record (never received, or destroyed by retention)"
        )
    );

    let report = f.client.call(ops::Check {}).await.unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    let held = report
        .invariants
        .iter()
        .find(|i| i.name == inv::SHIPPED_ELSEWHERE)
        .expect("check verifies shipped_elsewhere");
    assert_eq!(held.broken, 0);
}

/// Closes the service and reads its store raw: whether the recipients tree has the order,
/// whether its shipped-elsewhere mark is there, and the audit actions naming it; and that no
/// byte of the data directory holds the recipient's name or address.
fn raw_after(
    f: Floor,
    id: &str,
    recipient: &packline::domain::Recipient,
) -> (bool, bool, Vec<String>) {
    let (dir, market, service) = f.close();
    drop(market);
    drop(service.into_store_within(Duration::from_secs(5)).ok());
    let data = dir.path().join("data");
    let raw = raw_backend(&data);
    let has_recipient = raw
        .open_tree("amazon/recipients")
        .unwrap()
        .get(id.as_bytes())
        .unwrap()
        .is_some();
    let mut mark = vec![b'e'];
    mark.extend_from_slice(id.as_bytes());
    let marked = raw
        .open_tree("floor")
        .unwrap()
        .get(&mark)
        .unwrap()
        .is_some();
    drop(raw);
    let actions = audit_entries(&data)
        .iter()
        .filter(|e| e["order"] == id)
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    let needles: Vec<&str> = [
        Some(recipient.name.as_str()),
        recipient.address_line1.as_deref(),
    ]
    .into_iter()
    .flatten()
    .filter(|v| v.len() >= 6)
    .collect();
    assert!(!needles.is_empty());
    for file in files_under(&data) {
        let bytes = std::fs::read(&file).unwrap();
        for n in &needles {
            assert!(
                find(&bytes, n.as_bytes()).is_none(),
                "{} holds the recipient of {id}",
                file.display()
            );
        }
    }
    (has_recipient, marked, actions)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_return_for_an_order_never_imported_is_received_and_the_order_kept_without_a_recipient() {
    let f = floor(3, true);
    let ids = training_order_ids(&f.market);
    let sold = ship_at_amazon(&f.market, &ids[0]).await;
    let recipient = sold
        .recipient
        .clone()
        .expect("the marketplace has a recipient");
    let sku = sold.order.lines[0].sku.clone();
    assert!(f.service.with_store(|s| s.order_count()) == 0);

    // The parcel's order id opens an unexpected return: Amazon is asked for the order once,
    // without its recipient.
    let open = f
        .packer()
        .call(ops::OpenReturn {
            code: ids[0].clone(),
        })
        .await
        .unwrap();
    assert_eq!(open.order.as_str(), ids[0]);
    assert!(!open.is_expected());
    assert_eq!(
        get_orders(&f.market),
        [(ids[0].clone(), "FULFILLMENT".to_owned(), 200)]
    );
    let got = f
        .packer()
        .call(ops::ReceiveReturn {
            code: ids[0].clone(),
            unit: sku.clone(),
            condition: Condition::Damaged,
            quantity: 1,
        })
        .await
        .unwrap();
    assert_eq!(got.record.id, open.id);
    assert_eq!((got.sku.as_str(), got.quantity), (sku.as_str(), 1));
    // The order is in the store now: no second getOrder.
    assert_eq!(get_orders(&f.market).len(), 1);
    // No return takes more of a SKU than Amazon's order had.
    let sold_units = sold.order.lines[0].quantity_ordered;
    let more = f
        .packer()
        .call(ops::ReceiveReturn {
            code: ids[0].clone(),
            unit: sku.clone(),
            condition: Condition::Damaged,
            quantity: sold_units,
        })
        .await
        .unwrap_err();
    assert!(matches!(more, ServiceError::Conflict(_)), "{more}");

    assert_recorded_without_recipient(&f, &ids[0], &sold.order).await;

    // Never in the pick queue: a claim takes the floor's own orders only, and a sync (which
    // imports the others) leaves this one as it is.
    assert_eq!(
        f.client.call(ops::ClaimBatch { size: None }).await.unwrap(),
        None
    );
    f.service.sync_now("lead").await.unwrap();
    let batch = f
        .client
        .call(ops::ClaimBatch { size: Some(10) })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(batch.orders.len(), 2);
    assert!(!batch.orders.iter().any(|o| o.as_str() == ids[0]));
    assert_recorded_without_recipient(&f, &ids[0], &sold.order).await;
    let picked = f
        .packer()
        .call(ops::PackStart {
            order: ids[0].clone(),
        })
        .await;
    assert!(
        picked.is_err(),
        "a shipped-elsewhere order opened at the bench"
    );

    let id = ids[0].clone();
    let (has_recipient, marked, actions) = raw_after(f, &id, &recipient);
    assert!(!has_recipient, "a recipient was stored");
    assert!(marked);
    assert_eq!(
        actions,
        [
            "recorded_shipped_elsewhere",
            "return_unexpected",
            "return_receive"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inquiry_and_a_message_for_orders_never_imported_reach_amazon_without_a_recipient() {
    let f = floor(3, true);
    let ids = training_order_ids(&f.market);
    let first = ship_at_amazon(&f.market, &ids[0]).await;
    let second = ship_at_amazon(&f.market, &ids[1]).await;

    // A packer opens an inquiry on the first.
    let q = f
        .packer()
        .call(ops::OpenInquiry {
            order: ids[0].clone(),
            category: InquiryCategory::Other,
            note: NoteText::new("the buyer asks where the invoice is").unwrap(),
        })
        .await
        .unwrap();
    assert_eq!(q.order.as_str(), ids[0]);
    assert_recorded_without_recipient(&f, &ids[0], &first.order).await;

    // A lead writes to the buyer of the second: Amazon allows it for a shipped order.
    let sent = f
        .client
        .call(ops::SendMessage {
            order: ids[1].clone(),
            kind: "unexpectedProblem".into(),
            text: Some(MessageText::typed("The invoice is on its way.")),
        })
        .await
        .unwrap();
    assert_eq!(sent.order.as_str(), ids[1]);
    assert_eq!(sent.inquiry, None);
    assert_recorded_without_recipient(&f, &ids[1], &second.order).await;

    // The message on the first order is noted on its inquiry, with no second getOrder.
    let sent = f
        .client
        .call(ops::SendMessage {
            order: ids[0].clone(),
            kind: "unexpectedProblem".into(),
            text: Some(MessageText::typed("Here is where the invoice is.")),
        })
        .await
        .unwrap();
    assert_eq!(sent.inquiry, Some(q.id));
    assert_eq!(
        get_orders(&f.market),
        [
            (ids[0].clone(), "FULFILLMENT".to_owned(), 200),
            (ids[1].clone(), "FULFILLMENT".to_owned(), 200),
        ]
    );
    let sends = request_log(&f.market)
        .iter()
        .filter(|r| r["operation"] == "createUnexpectedProblem" && r["status"] == 201)
        .count();
    assert_eq!(sends, 2);

    let recipient = second.recipient.clone().unwrap();
    let (has_recipient, marked, actions) = raw_after(f, &ids[1], &recipient);
    assert!(!has_recipient && marked);
    assert_eq!(actions, ["recorded_shipped_elsewhere", "message_sent"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_amazon_does_not_know_is_refused_and_one_still_to_ship_is_left_to_a_sync() {
    let f = floor(2, true);
    let ids = training_order_ids(&f.market);
    let unknown = "999-0000000-0000001";

    let e = f
        .packer()
        .call(ops::OpenReturn {
            code: unknown.into(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "no return answers to \"{unknown}\": scan the return label's tracking number, the RMA id or the order id (an unexpected return is recorded only against an order in the store); see `packline returns list`"
        )
    );
    let e = f
        .packer()
        .call(ops::OpenInquiry {
            order: unknown.into(),
            category: InquiryCategory::Other,
            note: NoteText::new("x").unwrap(),
        })
        .await
        .unwrap_err();
    assert!(matches!(e, ServiceError::NotFound(_)), "{e:?}");
    assert_eq!(
        e.to_string(),
        format!("order {unknown} is not in the store, and Amazon does not know it")
    );
    let e = f
        .client
        .call(ops::SendMessage {
            order: unknown.into(),
            kind: "unexpectedProblem".into(),
            text: Some(MessageText::typed("Hello")),
        })
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with(&format!("order {unknown} is not in the store")),
        "{e}"
    );
    // A scan that is no Amazon order id is never asked of Amazon.
    let e = f
        .packer()
        .call(ops::OpenReturn {
            code: "1Z0000000000000000".into(),
        })
        .await
        .unwrap_err();
    assert!(e.to_string().starts_with("no return answers to"), "{e}");
    assert_eq!(
        get_orders(&f.market),
        [
            (unknown.to_owned(), "FULFILLMENT".to_owned(), 404),
            (unknown.to_owned(), "FULFILLMENT".to_owned(), 404),
            (unknown.to_owned(), "FULFILLMENT".to_owned(), 404),
        ]
    );

    // An order still to be shipped is the floor's: it comes with a sync, with its recipient.
    let e = f
        .packer()
        .call(ops::OpenInquiry {
            order: ids[0].clone(),
            category: InquiryCategory::Other,
            note: NoteText::new("x").unwrap(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "order {} is not in the store, and Amazon has the order as UNSHIPPED, neither shipped nor cancelled: packline records an order it never imported only once Amazon has it shipped or cancelled; one still to be shipped comes with a sync (packline sync --once)",
            ids[0]
        )
    );
    assert_eq!(f.service.with_store(|s| s.order_count()), 0);
    let report = f.client.call(ops::Check {}).await.unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_amazon_connection_an_order_never_imported_is_refused_saying_so() {
    let f = floor(1, false);
    let ids = training_order_ids(&f.market);
    let said = format!(
        "order {} is not in the store, and packline cannot ask Amazon for it: no Amazon connection is configured ([amazon] and credentials)",
        ids[0]
    );
    let e = f
        .packer()
        .call(ops::OpenReturn {
            code: ids[0].clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.to_string(), said);
    let e = f
        .packer()
        .call(ops::OpenInquiry {
            order: ids[0].clone(),
            category: InquiryCategory::Other,
            note: NoteText::new("x").unwrap(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.to_string(), said);
    assert!(get_orders(&f.market).is_empty());
    assert_eq!(f.service.with_store(|s| s.order_count()), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_keeps_an_order_shipped_elsewhere_six_years_then_deletes_it_with_its_mark() {
    let f = floor(1, true);
    let ids = training_order_ids(&f.market);
    let sold = ship_at_amazon(&f.market, &ids[0]).await;
    f.packer()
        .call(ops::OpenReturn {
            code: ids[0].clone(),
        })
        .await
        .unwrap();
    let id = OrderId::parse(&ids[0]).unwrap();

    // Past the recipient's 30 days: nothing to destroy, the order stays.
    let later = Utc::now() + chrono::Duration::days(40);
    f.client
        .call(ops::Purge { as_of: Some(later) })
        .await
        .unwrap();
    assert_recorded_without_recipient(&f, &ids[0], &sold.order).await;

    // Five years on it is still kept; past six, it goes, and its mark with it.
    let five = Utc::now() + chrono::Duration::days(5 * 366);
    f.client
        .call(ops::Purge { as_of: Some(five) })
        .await
        .unwrap();
    assert!(f.service.with_store(|s| s.get(&id).unwrap()).is_some());
    let seven = Utc::now() + chrono::Duration::days(7 * 366);
    let report = f
        .client
        .call(ops::Purge { as_of: Some(seven) })
        .await
        .unwrap();
    assert!(report.orders_deleted >= 1, "{report:?}");
    assert!(f.service.with_store(|s| s.get(&id).unwrap()).is_none());
    assert!(
        !f.service
            .with_store(|s| s.is_shipped_elsewhere(&id).unwrap())
    );
    let check = f.client.call(ops::Check {}).await.unwrap();
    assert!(check.problems.is_empty(), "{:?}", check.problems);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_the_command_line_an_inquiry_records_the_order_and_a_site_without_amazon_exits_1() {
    let market = marketplace(2, "1000");
    let ids = training_order_ids(&market);
    ship_at_amazon(&market, &ids[0]).await;
    let (_creds, amazon) = amazon_config(&market);
    let site = Site::new(&amazon);
    site.init_identity_keys();
    site.ok(&[
        "inquiry",
        "open",
        &ids[0],
        "--note",
        "where is the invoice?",
    ]);
    let shown = site.ok(&["lookup", "--order", &ids[0]]);
    assert!(
        shown.contains(
            "recorded from Amazon: never imported, shipped elsewhere (no recipient kept)\n"
        ),
        "{shown}"
    );
    assert!(shown.contains("recipient: (none: never kept)\n"), "{shown}");
    let v = assert_json_contract(
        &site.ok(&["lookup", "--order", &ids[0], "--json"]),
        "lookup --json",
    );
    assert_eq!(
        (&v["state"], &v["shipped_elsewhere"]),
        (&Value::from("shipped"), &Value::from(true))
    );
    assert_eq!(v["recipient"], Value::Null);

    let unknown = "999-0000000-0000001";
    let out = site.run(&["inquiry", "open", unknown, "--note", "x"]);
    assert_fails(
        &out,
        &format!("order {unknown} is not in the store, and Amazon does not know it"),
    );
    assert_eq!(out.status.code(), Some(1));

    // A site with no Amazon connection says so, and records nothing.
    let bare = Site::new("");
    bare.init_identity_keys();
    let out = bare.run(&["inquiry", "open", &ids[1], "--note", "x"]);
    assert_fails(
        &out,
        &format!(
            "order {} is not in the store, and packline cannot ask Amazon for it: no Amazon connection is configured ([amazon] and credentials)",
            ids[1]
        ),
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(bare.ok(&["inquiry", "list"]), "no inquiries\n");
    assert!(bare.ok(&["orders", "list"]).lines().count() <= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_names_a_shipped_elsewhere_mark_on_an_order_of_the_floor_or_on_no_order() {
    let f = floor(1, true);
    let ids = training_order_ids(&f.market);
    f.service.sync_now("lead").await.unwrap();
    let (dir, market, service) = f.close();
    drop(market);
    drop(service.into_store_within(Duration::from_secs(5)).ok());
    let data = dir.path().join("data");
    {
        // Marks planted: on the floor's own open order (with its recipient), and on no order.
        let raw = raw_backend(&data);
        let floor = raw.open_tree("floor").unwrap();
        for id in [ids[0].as_str(), "999-0000000-0000002"] {
            let mut k = vec![b'e'];
            k.extend_from_slice(id.as_bytes());
            floor.insert(k, []).unwrap();
        }
        floor.flush().unwrap();
    }
    let report = open_store(&data).unwrap().check().unwrap();
    let found: Vec<&str> = report
        .problems
        .iter()
        .filter(|p| p.invariant == inv::SHIPPED_ELSEWHERE)
        .map(|p| p.detail.as_str())
        .collect();
    let id = &ids[0];
    assert_eq!(
        found,
        [
            format!("order {id}, recorded from Amazon as shipped elsewhere, is new"),
            format!(
                "order {id}, recorded from Amazon as shipped elsewhere, has a masked recipient name"
            ),
            format!("order {id}, recorded from Amazon as shipped elsewhere, has a sealed recipient"),
            "order 999-0000000-0000002, recorded from Amazon as shipped elsewhere, has no order record"
                .to_owned(),
        ]
    );
    let held = report
        .invariants
        .iter()
        .find(|i| i.name == inv::SHIPPED_ELSEWHERE)
        .unwrap();
    assert_eq!(held.broken, 4);
}
