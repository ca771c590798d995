//! `packline report` over a store of seeded history (six days of orders shipped by label and by
//! own carrier, late ones, a void, a hold, an exception): its totals and days agree with an
//! independent count from the audit log, and none of its formats holds a personal value.

use std::collections::BTreeMap;

use crate::common::*;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use packline::amazon::parse_search_orders;
use packline::domain::returns::{Condition, ExpectedLine, ExpectedReturn, ReturnKey};
use packline::domain::{Carrier, Event, Hold, OrderId};
use packline::store::shipping::{ShipmentRecord, ShipmentState};

/// Buys a label for package 1 of a Packed order at `at`, at $7.25.
fn label(store: &mut packline::store::Store, id: &OrderId, at: DateTime<Utc>) {
    store
        .begin_purchase(id, 1, "UPS_GROUND", "sam", at)
        .unwrap();
    let record = ShipmentRecord {
        order: id.clone(),
        state: ShipmentState::Bought,
        carrier: Some(Carrier::Ups),
        tracking: None,
        shipment_id: Some("s".into()),
        service_id: Some("UPS_GROUND".into()),
        service_name: None,
        label_format: Some("zpl".into()),
        at,
        by: "sam".into(),
        package: 1,
    };
    store
        .complete_purchase(
            packline::store::shipping::Sold {
                record: &record,
                label: b"^XA^XZ",
                open: &[1],
                postage: Some(("USD", 7.25)),
                v2: None,
            },
            "sam",
            at,
        )
        .unwrap();
}

#[test]
fn a_report_agrees_with_the_audit_log_and_holds_no_personal_value() {
    let site = Site::new("");
    let mut store = unlocked_store(site.dir.path());
    let people: Vec<Person> = hostile_people().into_iter().take(6).collect();
    let t0 = t("2026-11-23T10:00:00Z");
    let body = serde_json::to_vec(&page(&people, "UNSHIPPED", "2026-11-23T10:00:00Z")).unwrap();
    store
        .import(parse_search_orders(&body, "p1").unwrap().orders, "sync", t0)
        .unwrap();
    let ids: Vec<OrderId> = people
        .iter()
        .map(|p| OrderId::parse(&p.order_id).unwrap())
        .collect();
    // Order i works on day i; the last one is taken off the line instead of shipping.
    for (i, id) in ids.iter().enumerate() {
        let at = t0 + Duration::days(i as i64);
        for e in [Event::StartPick, Event::FinishPick, Event::FinishPack] {
            store.transition(id, e, "pat", None, at).unwrap();
        }
        if i == 5 {
            store.raise_exception(id, "pat", "box crushed", at).unwrap();
            continue;
        }
        if i == 4 {
            let hold = Hold {
                reason: packline::domain::FreeText::Open(
                    packline::domain::NoteText::new("address check").unwrap(),
                ),
                by: "lee".into(),
                since: at,
            };
            assert!(store.place_hold(id, &hold, false).unwrap());
            store.release_hold(id, "lee", at).unwrap();
        }
        if i % 2 == 0 {
            label(&mut store, id, at);
            if i == 2 {
                store.voided(id, 1, "sam", "wrong box", at).unwrap();
                label(&mut store, id, at);
            }
            store.ship_labelled(id, "sam", "end of day", at).unwrap();
        } else {
            store
                .transition(id, Event::ShipOwnCarrier, "sam", None, at)
                .unwrap();
        }
    }
    // Two returns of order 0 expected (two reasons), one unit back sellable and one damaged.
    let returns_at = t0 + Duration::days(6);
    let expected = |rma: &str, reason: &str| ExpectedReturn {
        key: ReturnKey::Rma { rma: rma.into() },
        order: ids[0].clone(),
        rma: Some(rma.into()),
        requested: returns_at.date_naive(),
        status: Some("Approved".into()),
        carrier: None,
        tracking: None,
        lines: vec![ExpectedLine {
            sku: "SKU-HOSTILE".into(),
            asin: None,
            quantity: 1,
            reason: Some(reason.into()),
        }],
    };
    store
        .record_returns(
            &[
                expected("DRMA1", "CR-DEFECTIVE"),
                expected("DRMA2", "CR-UNWANTED_ITEM"),
            ],
            "sync",
            returns_at,
        )
        .unwrap();
    let locations = packline::domain::Locations::default();
    for (rma, condition) in [
        ("DRMA1", Condition::Damaged),
        ("DRMA2", Condition::Sellable),
    ] {
        store
            .receive_return(
                rma,
                "SKU-HOSTILE",
                condition,
                1,
                &locations,
                "pat",
                returns_at,
            )
            .unwrap();
    }
    drop(store);

    // The independent count: the audit log's entries, by the site's local day.
    let local = |at: &str| {
        DateTime::parse_from_rfc3339(at)
            .unwrap()
            .with_timezone(&chrono::Local)
            .date_naive()
    };
    let ship_by = t("2026-11-25T23:59:59Z");
    let mut per_day: BTreeMap<NaiveDate, (u64, u64)> = BTreeMap::new();
    let mut count = BTreeMap::<String, u64>::new();
    for e in audit_entries(&site.data) {
        let action = e["action"].as_str().unwrap().to_owned();
        let at = e["at"].as_str().unwrap();
        if action == "ship" || action == "ship_own_carrier" {
            let d = per_day.entry(local(at)).or_default();
            d.0 += 1;
            if DateTime::parse_from_rfc3339(at).unwrap() > ship_by {
                d.1 += 1;
            }
        }
        *count.entry(action).or_default() += 1;
    }
    let shipped: u64 = per_day.values().map(|d| d.0).sum();
    let late: u64 = per_day.values().map(|d| d.1).sum();
    assert_eq!((shipped, late), (5, 2), "{per_day:?}");

    let args = ["report", "--from", "2026-11-20", "--to", "2026-11-30"];
    let json_text = site.ok(&[&args[..], &["--format", "json"]].concat());
    let r: serde_json::Value = serde_json::from_str(&json_text).unwrap();
    let totals = &r["totals"];
    assert_eq!(totals["orders_shipped"], shipped);
    assert_eq!(totals["late_shipments"], late);
    // Every order is two units of one SKU.
    assert_eq!(totals["units_shipped"], shipped * 2);
    assert_eq!(totals["exceptions"], count["raise_exception"]);
    assert_eq!(totals["holds"], count["hold"]);
    assert_eq!(totals["labels_bought"], count["label_bought"]);
    assert_eq!(totals["labels_voided"], count["label_voided"]);
    assert_eq!((count["label_bought"], count["label_voided"]), (4, 1));
    let postage = &r["postage"][0];
    assert_eq!(
        (
            &postage["carrier"],
            &postage["currency"],
            &postage["labels_bought"],
            &postage["labels_voided"]
        ),
        (
            &serde_json::json!("UPS"),
            &serde_json::json!("USD"),
            &serde_json::json!(4),
            &serde_json::json!(1)
        )
    );
    assert_eq!(postage["amount"], 29.0);
    let rows: BTreeMap<NaiveDate, (u64, u64)> = r["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|row| row["orders_shipped"].as_u64() > Some(0))
        .map(|row| {
            (
                row["day"].as_str().unwrap().parse().unwrap(),
                (
                    row["orders_shipped"].as_u64().unwrap(),
                    row["late_shipments"].as_u64().unwrap(),
                ),
            )
        })
        .collect();
    assert_eq!(
        rows, per_day,
        "day by day, the report is the audit log's count"
    );
    assert_eq!(
        (
            &totals["returns_expected"],
            &totals["returns_received"],
            &totals["returns_restocked"],
            &totals["returns_damaged"]
        ),
        (
            &serde_json::json!(count["return_expected"]),
            &serde_json::json!(count["return_receive"]),
            &serde_json::json!(1),
            &serde_json::json!(1)
        )
    );
    let reasons: Vec<(String, u64)> = r["return_reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["reason"].as_str().unwrap().to_owned(),
                w["units"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        reasons,
        [
            ("CR-DEFECTIVE".to_owned(), 1),
            ("CR-UNWANTED_ITEM".to_owned(), 1)
        ]
    );

    // By SKU, as CSV: the SKU and its shipped units as plain fields.
    let csv = site.ok(&[&args[..], &["--by", "sku", "--format", "csv"]].concat());
    let mut lines = csv.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("day,sku,orders_shipped,units_shipped")
    );
    let row: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!((row[1], row[3]), ("SKU-HOSTILE", "10"), "{csv}");

    // By SKU over ranges that take whole months from their rollups and the days at either end
    // one by one: the same units as the audit log's days.
    for (from, to) in [
        ("2026-10-01", "2026-12-31"),
        ("2026-11-24", "2026-12-31"),
        ("2026-10-15", "2026-11-25"),
        ("2026-11-01", "2026-11-30"),
    ] {
        let (f, t): (NaiveDate, NaiveDate) = (from.parse().unwrap(), to.parse().unwrap());
        let want: u64 = per_day
            .iter()
            .filter(|(d, _)| **d >= f && **d <= t)
            .map(|(_, (n, _))| n * 2)
            .sum();
        let r = assert_json_contract(
            &site.ok(&[
                "report", "--from", from, "--to", to, "--by", "sku", "--json",
            ]),
            "report",
        );
        let got: u64 = r["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| row["units_shipped"].as_u64().unwrap())
            .sum();
        assert_eq!(got, want, "{from}..{to}");
    }

    let table = site.ok(&args);
    assert!(
        table.contains("5 order(s), 10 unit(s) shipped, 2 late (40.0%)"),
        "{table}"
    );
    let png = site.dir.path().join("report.png");
    site.ok(&[
        &args[..],
        &["--format", "png", "--output", png.to_str().unwrap()],
    ]
    .concat());
    let png = std::fs::read(&png).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));

    // No format holds a personal value.
    let by_day_csv = site.ok(&[&args[..], &["--format", "csv"]].concat());
    for out in [
        json_text.as_bytes(),
        csv.as_bytes(),
        by_day_csv.as_bytes(),
        table.as_bytes(),
        &png,
    ] {
        for p in &people {
            for v in p.values() {
                assert!(
                    find(out, v.as_bytes()).is_none(),
                    "a personal value is in a report"
                );
            }
        }
    }
}
