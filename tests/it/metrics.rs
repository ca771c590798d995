//! `packline metrics` over a seeded history: orders shipped on time and late over five weeks,
//! by Buy Shipping labels (tracked through Shipping API v2 or not) and by the seller's own
//! carrier, packages scanned and delivered on time and late, cancellations the seller made and
//! the buyer asked for. Every rate equals a count made here from the seeded facts alone, and
//! the text says each beside Amazon's threshold.

use crate::common::*;
use chrono::{DateTime, Duration, Local, NaiveDate, Utc};
use packline::amazon::parse_search_orders;
use packline::domain::{
    BUYER_ASKED_TO_CANCEL, Carrier, Delivery, Event, FreeText, Hold, OrderId, ShipmentV2,
};
use packline::store::Store;
use packline::store::shipping::{ShipmentRecord, ShipmentState};
use serde_json::{Value, json};

/// How an order leaves, and what its carrier says after.
#[derive(Clone, Copy, PartialEq)]
enum Way {
    /// A Buy Shipping label through Shipping API v2: tracking followed.
    Tracked,
    /// A Buy Shipping label whose tracking packline does not follow (Merchant Fulfillment v0).
    Untracked,
    OwnCarrier,
}

#[derive(Clone, Copy)]
struct Shipped {
    days_ago: i64,
    late: bool,
    way: Way,
    /// The carrier scanned the package (tracked ones only); `before_ship`: tracking said so
    /// before the order was marked shipped.
    scanned: bool,
    before_ship: bool,
    /// Delivered `n` days after shipping, late or on time.
    delivered: Option<(i64, bool)>,
}

#[derive(Clone, Copy, PartialEq)]
enum Asked {
    Seller,
    /// The buyer's request came with the cancellation.
    BuyerFlag,
    /// The buyer's request came earlier and held the order.
    BuyerHold,
}

fn order_page(id: &str, status: &str, updated: DateTime<Utc>, ship_by: DateTime<Utc>) -> Value {
    let p = person(id, "Zoë Metrics");
    let mut o = order_json(&p, status, &updated.to_rfc3339());
    o["fulfillment"]["shipByWindow"]["latestDateTime"] = json!(ship_by.to_rfc3339());
    json!({ "orders": [o] })
}

fn import(store: &mut Store, page: &Value, at: DateTime<Utc>) {
    let body = serde_json::to_vec(page).unwrap();
    store
        .import(parse_search_orders(&body, "p").unwrap().orders, "sync", at)
        .unwrap();
}

fn label(store: &mut Store, id: &OrderId, v2: bool, at: DateTime<Utc>) {
    store
        .begin_purchase(id, 1, "UPS_GROUND", "sam", at)
        .unwrap();
    let record = ShipmentRecord {
        order: id.clone(),
        state: ShipmentState::Bought,
        carrier: Some(Carrier::Ups),
        tracking: None,
        shipment_id: Some(format!("s-{id}")),
        service_id: Some("UPS_GROUND".into()),
        service_name: None,
        label_format: Some("zpl".into()),
        at,
        by: "sam".into(),
        package: 1,
    };
    let details = ShipmentV2::new("UPS");
    store
        .complete_purchase(
            packline::store::shipping::Sold {
                record: &record,
                label: b"^XA^XZ",
                open: &[1],
                postage: Some(("USD", 7.25)),
                v2: v2.then_some(&details),
            },
            "sam",
            at,
        )
        .unwrap();
}

fn track(
    store: &Store,
    id: &OrderId,
    delivery: Delivery,
    delivered: Option<(DateTime<Utc>, DateTime<Utc>)>,
    at: DateTime<Utc>,
) {
    store
        .record_delivery(
            id,
            1,
            |d: &mut ShipmentV2| {
                d.delivery = Some(delivery);
                if let Some((when, promised)) = delivered {
                    d.delivered_at = Some(when);
                    d.promised = Some(promised);
                }
                d.tracked_at = Some(at);
            },
            at,
        )
        .unwrap();
}

fn local(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&Local).date_naive()
}

/// The rate of `metric` over `days` in the answer.
fn rate<'a>(m: &'a Value, metric: &str, days: u64) -> &'a Value {
    m["rates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["metric"] == metric && r["days"] == days)
        .unwrap_or_else(|| panic!("no {metric} over {days} days in {m}"))
}

#[test]
fn the_metrics_of_a_seeded_history_equal_an_independent_count() {
    let site = Site::new("");
    let mut store = unlocked_store(site.dir.path());
    // An hour back from now, so that nothing seeded is in the future; days back from that.
    let base = Utc::now() - Duration::hours(1);
    let s = |days_ago, late, way, scanned, before_ship, delivered| Shipped {
        days_ago,
        late,
        way,
        scanned,
        before_ship,
        delivered,
    };
    use Way::*;
    let shipped = [
        // Inside 7 days.
        s(0, false, Tracked, false, false, None),
        s(1, true, Tracked, true, false, None),
        s(2, false, Tracked, true, true, Some((2, false))),
        s(3, false, OwnCarrier, false, false, None),
        s(5, true, Untracked, false, false, None),
        s(6, false, Tracked, true, false, Some((1, true))),
        // Inside 10 and 14 days.
        s(8, false, Tracked, true, false, Some((3, false))),
        s(9, true, OwnCarrier, false, false, None),
        s(12, false, Tracked, false, false, None),
        s(13, false, Tracked, true, false, Some((4, true))),
        // Inside 30 days.
        s(15, true, Tracked, true, false, Some((2, false))),
        s(20, false, Untracked, false, false, None),
        s(25, true, OwnCarrier, false, false, None),
        s(29, false, Tracked, true, false, Some((2, false))),
        // Outside every window.
        s(32, true, Tracked, true, false, Some((3, true))),
        s(40, true, OwnCarrier, false, false, None),
    ];
    let cancelled = [
        (1, Asked::Seller),
        (2, Asked::BuyerFlag),
        (4, Asked::BuyerHold),
        (6, Asked::Seller),
        (9, Asked::Seller),
        (20, Asked::BuyerFlag),
    ];

    let mut updated = base - Duration::days(60);
    let mut tick = || {
        updated += Duration::minutes(1);
        updated
    };
    for (i, o) in shipped.iter().enumerate() {
        let id = format!("111-0000000-{:07}", i + 1);
        let at = base - Duration::days(o.days_ago);
        let ship_by = if o.late {
            at - Duration::hours(3)
        } else {
            at + Duration::hours(3)
        };
        import(
            &mut store,
            &order_page(&id, "UNSHIPPED", tick(), ship_by),
            at - Duration::hours(6),
        );
        let id = OrderId::parse(&id).unwrap();
        for e in [Event::StartPick, Event::FinishPick, Event::FinishPack] {
            store.transition(&id, e, "pat", None, at).unwrap();
        }
        match o.way {
            OwnCarrier => {
                store
                    .transition(&id, Event::ShipOwnCarrier, "sam", None, at)
                    .unwrap();
            }
            Untracked | Tracked => {
                label(&mut store, &id, o.way == Tracked, at);
                if o.scanned && o.before_ship {
                    track(&store, &id, Delivery::InTransit, None, at);
                }
                store.ship_labelled(&id, "sam", "end of day", at).unwrap();
                if o.way == Tracked && !o.before_ship {
                    track(&store, &id, Delivery::AwaitingPickup, None, at);
                }
                if o.scanned && !o.before_ship {
                    track(
                        &store,
                        &id,
                        Delivery::InTransit,
                        None,
                        at + Duration::hours(1),
                    );
                }
                if let Some((after, late)) = o.delivered {
                    let when = (at + Duration::days(after)).min(base);
                    let promised = if late {
                        when - Duration::hours(5)
                    } else {
                        when + Duration::hours(5)
                    };
                    track(
                        &store,
                        &id,
                        Delivery::Delivered,
                        Some((when, promised)),
                        when,
                    );
                    // Told again: counted once.
                    track(
                        &store,
                        &id,
                        Delivery::Delivered,
                        Some((when, promised)),
                        when,
                    );
                }
            }
        }
    }
    for (i, (days_ago, asked)) in cancelled.iter().enumerate() {
        let id = format!("222-0000000-{:07}", i + 1);
        let at = base - Duration::days(*days_ago);
        let ship_by = at + Duration::days(2);
        import(
            &mut store,
            &order_page(&id, "UNSHIPPED", tick(), ship_by),
            at - Duration::hours(6),
        );
        let oid = OrderId::parse(&id).unwrap();
        if *asked == Asked::BuyerHold {
            let hold = Hold {
                reason: FreeText::System(BUYER_ASKED_TO_CANCEL.to_owned()),
                by: "sync".into(),
                since: at - Duration::hours(1),
            };
            assert!(store.place_hold(&oid, &hold, true).unwrap());
        }
        let mut page = order_page(&id, "CANCELLED", tick(), ship_by);
        if *asked == Asked::BuyerFlag {
            page["orders"][0]["orderItems"][0]["cancellation"] =
                json!({"cancellationRequest": {"requester": "BUYER"}});
        }
        import(&mut store, &page, at);
        assert_eq!(
            store.get(&oid).unwrap().unwrap().state,
            packline::domain::OrderState::Cancelled
        );
    }
    drop(store);

    // The independent count: from the facts above, by the site's local day.
    let today = local(Utc::now());
    let within = |at: DateTime<Utc>, days: i64| {
        let d = local(at);
        d <= today && (today - d).num_days() < days
    };
    let ship_at = |o: &Shipped| base - Duration::days(o.days_ago);
    let shipped_in = |days| shipped.iter().filter(move |o| within(ship_at(o), days));
    let n = |it: &mut dyn Iterator<Item = &Shipped>| it.count() as u64;
    let lsr = |days| {
        (
            n(&mut shipped_in(days).filter(|o| o.late)),
            n(&mut shipped_in(days)),
        )
    };
    let vtr = |days| {
        (
            n(&mut shipped_in(days).filter(|o| o.way == Tracked && o.scanned)),
            n(&mut shipped_in(days).filter(|o| o.way == Tracked)),
        )
    };
    let delivered_in = |days| {
        shipped.iter().filter(move |o| {
            o.delivered.is_some_and(|(after, _)| {
                within((ship_at(o) + Duration::days(after)).min(base), days)
            })
        })
    };
    let otdr = (
        n(&mut delivered_in(14).filter(|o| o.delivered.is_some_and(|(_, late)| !late))),
        n(&mut delivered_in(14)),
    );
    let cancels_in = |days| {
        cancelled
            .iter()
            .filter(move |(ago, _)| within(base - Duration::days(*ago), days))
    };
    let cancel = (
        cancels_in(7).filter(|(_, a)| *a == Asked::Seller).count() as u64,
        n(&mut shipped_in(7)) + cancels_in(7).count() as u64,
    );
    let on_time = (
        n(&mut shipped_in(30).filter(|o| !o.late)),
        n(&mut shipped_in(30)),
    );
    let buy = (
        n(&mut shipped_in(30).filter(|o| o.way != OwnCarrier)),
        n(&mut shipped_in(30)),
    );
    // The history reaches every case: late and on time, met and missed, every denominator.
    assert!(lsr(10).0 > 0 && lsr(10).0 < lsr(10).1, "{:?}", lsr(10));
    assert!(vtr(7).0 < vtr(7).1 && vtr(30).0 > 0, "{:?}", vtr(30));
    assert!(otdr.0 > 0 && otdr.0 < otdr.1, "{otdr:?}");
    assert!(
        cancel.0 > 0 && cancel.0 < cancels_in(7).count() as u64,
        "{cancel:?}"
    );
    assert!(buy.0 < buy.1, "{buy:?}");

    let text = site.ok(&["metrics", "--json"]);
    // The JSON contract (docs/json.md): snake_case keys, enums as plain strings.
    let m: Value = assert_json_contract(&text, "metrics --json");
    assert_eq!(m["today"], json!(today.to_string()));
    assert_eq!(
        m["counted_since"],
        Value::Null,
        "a new store counts from its start"
    );
    let expect = [
        ("late_shipment_rate", 10, lsr(10), 4.0, true),
        ("late_shipment_rate", 30, lsr(30), 4.0, true),
        ("valid_tracking_rate", 7, vtr(7), 95.0, false),
        ("valid_tracking_rate", 30, vtr(30), 95.0, false),
        ("on_time_delivery_rate", 14, otdr, 90.0, false),
        ("pre_fulfillment_cancel_rate", 7, cancel, 2.5, true),
        ("on_time_shipment_rate", 30, on_time, 99.0, false),
        ("buy_shipping_rate", 30, buy, 98.0, false),
    ];
    assert_eq!(m["rates"].as_array().unwrap().len(), expect.len());
    for (metric, days, (count, of), threshold, below) in expect {
        let r = rate(&m, metric, days);
        let what = format!("{metric} over {days} days: {r}");
        assert_eq!(
            (r["count"].as_u64(), r["of"].as_u64()),
            (Some(count), Some(of)),
            "{what}"
        );
        let percent = count as f64 * 100.0 / of as f64;
        assert!(
            (r["percent"].as_f64().unwrap() - percent).abs() < 1e-9,
            "{what}"
        );
        assert_eq!(
            r["threshold"],
            json!({"below": below, "percent": threshold}),
            "{what}"
        );
        let meets = if below {
            percent < threshold
        } else {
            percent >= threshold
        };
        assert_eq!(r["meets"], json!(meets), "{what}");
        assert_eq!(r["since_counting"], json!(false), "{what}");
        assert_eq!(r["to"], json!(today.to_string()), "{what}");
        assert_eq!(
            r["from"],
            json!((today - Duration::days(days as i64 - 1)).to_string()),
            "{what}"
        );
    }
    assert_eq!(
        m["own_carrier_not_followed"],
        json!(n(&mut shipped_in(30).filter(|o| o.way == OwnCarrier)))
    );
    // Nothing personal: no name, no address.
    assert!(!text.contains("Zoë"), "{text}");

    // The text: each rate with its window, its count, Amazon's threshold and a mark.
    let text = site.ok(&["metrics"]);
    let line = |name: &str, days: u64| {
        text.lines()
            .find(|l| l.contains(name) && l.contains(&format!(" {days} d ")))
            .unwrap_or_else(|| panic!("no line for {name} over {days} days in:\n{text}"))
            .to_owned()
    };
    let lsr10 = line("Late Shipment Rate", 10);
    let (late, of) = lsr(10);
    assert!(
        lsr10.contains(&format!("{:.1} %", late as f64 * 100.0 / of as f64)),
        "{lsr10}"
    );
    assert!(lsr10.contains(&format!("{late} of {of}")), "{lsr10}");
    assert!(
        lsr10.contains("< 4 %") && lsr10.ends_with("OVER"),
        "{lsr10}"
    );
    let vtr30 = line("Valid Tracking Rate", 30);
    assert!(vtr30.contains("≥ 95 %"), "{vtr30}");
    let cancel_line = line("Pre-fulfillment Cancel Rate", 7);
    assert!(cancel_line.contains("< 2.5 %"), "{cancel_line}");
    assert!(text.contains("shipped by your own carrier"), "{text}");
    assert!(!text.contains("NaN"), "{text}");

    // Through the daemon, the same answer; the dashboard carries it too.
    let socket = site.dir.path().join("s.sock");
    site.name_socket(&socket);
    let daemon = start_daemon_on(&site, &socket);
    let served: Value = serde_json::from_str(&site.ok(&["metrics", "--json"])).unwrap();
    assert_eq!(served, m);
    let dashboard: Value = serde_json::from_str(&site.ok(&["dashboard", "--json"])).unwrap();
    assert_eq!(dashboard["metrics"], m);
    let text = site.ok(&["dashboard"]);
    assert!(text.contains(&lsr10), "{text}");
    drop(daemon);

    // The metrics are for leads.
    let me = nix::unistd::User::from_uid(nix::unistd::getuid())
        .unwrap()
        .unwrap()
        .name;
    let config = std::fs::read_to_string(&site.config).unwrap();
    std::fs::write(
        &site.config,
        format!("{config}\n[roles]\npackers = [{me:?}]\n"),
    )
    .unwrap();
    let out = site.run(&["metrics"]);
    assert_fails(&out, "reading the seller's metrics is for a lead or above");
}

/// A site with nothing shipped says so for each rate, never 0 % or NaN.
#[test]
fn a_rate_with_nothing_in_its_window_says_so() {
    let site = Site::new("");
    drop(unlocked_store(site.dir.path()));
    let m: Value = serde_json::from_str(&site.ok(&["metrics", "--json"])).unwrap();
    for r in m["rates"].as_array().unwrap() {
        assert_eq!(
            (&r["percent"], &r["meets"]),
            (&Value::Null, &Value::Null),
            "{r}"
        );
    }
    let text = site.ok(&["metrics"]);
    assert!(text.contains("no orders"), "{text}");
    assert!(text.contains("no deliveries"), "{text}");
    assert!(text.contains("no tracked packages"), "{text}");
    assert!(!text.contains("0.0 %") && !text.contains("NaN"), "{text}");
}

/// The orders that become late today unless they leave with the carrier's pickup are already
/// first in the queue: it is ordered by ship-by across every open state, the late ones first,
/// then those due before the pickup, whatever their state or when they came in.
#[test]
fn orders_due_before_the_pickup_lead_the_queue() {
    let site = Site::new("");
    let mut store = unlocked_store(site.dir.path());
    let now = Utc::now();
    let pickup = packline::service::ops::dashboard::next_pickup(
        now,
        chrono::NaiveTime::from_hms_opt(16, 0, 0).unwrap(),
    );
    // (order, ship-by), imported in an order unlike the queue's; the third is being picked.
    let orders = [
        ("333-0000000-0000001", pickup + Duration::hours(20)),
        ("333-0000000-0000002", pickup - Duration::minutes(30)),
        ("333-0000000-0000003", pickup - Duration::minutes(5)),
        ("333-0000000-0000004", now - Duration::hours(2)),
        ("333-0000000-0000005", pickup + Duration::hours(2)),
    ];
    for (i, (id, ship_by)) in orders.iter().enumerate() {
        let updated = now - Duration::hours(3) + Duration::minutes(i as i64);
        import(
            &mut store,
            &order_page(id, "UNSHIPPED", updated, *ship_by),
            updated,
        );
    }
    let picking = OrderId::parse(orders[2].0).unwrap();
    store
        .transition(&picking, Event::StartPick, "pat", None, now)
        .unwrap();
    let (rows, _) = store.queue_page(None, 0, 10).unwrap();
    let ids: Vec<&str> = rows.iter().map(|r| r.order.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "333-0000000-0000004",
            "333-0000000-0000002",
            "333-0000000-0000003",
            "333-0000000-0000005",
            "333-0000000-0000001",
        ]
    );
}
