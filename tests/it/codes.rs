//! Per-unit codes at the pack bench, against the training marketplace: each Transparency code
//! is used once, ever (another order, this order's shipped part, two benches at once), each
//! serial once per order; `packline check` finds a code planted twice.

use std::sync::{Arc, Barrier};
use std::time::Duration;

use crate::common::floor::*;
use crate::common::*;
use packline::domain::{OrderId, OrderState, PackCheck, Role};
use packline::service::client::Client;
use packline::service::{Caller, ServiceError, ops};

/// Every order of the marketplace asks `changes` ("transparency", "serial-required"), is
/// claimed and picked; the orders, most units first.
async fn coded_floor(changes: &[&str]) -> (Floor, Vec<OrderId>) {
    let f = floor_on(marketplace(4, "20"), None, Duration::from_secs(5)).await;
    let b = f
        .client
        .call(ops::ClaimBatch { size: Some(20) })
        .await
        .unwrap()
        .unwrap();
    for id in &b.orders {
        for change in changes {
            http(
                &f.market,
                "POST",
                &format!("/_training/orders/{id}/{change}"),
            );
        }
    }
    f.service.sync_now("lead").await.unwrap();
    pick_all(&f.client, &b).await;
    let mut orders = b.orders.clone();
    let units = |id: &OrderId| -> u32 {
        f.service.with_store(|s| {
            s.get(id)
                .unwrap()
                .unwrap()
                .order
                .lines
                .iter()
                .map(|l| l.quantity_ordered)
                .sum()
        })
    };
    orders.sort_by_key(|id| std::cmp::Reverse(units(id)));
    (f, orders)
}

async fn start(c: &Client, order: &OrderId) -> PackCheck {
    c.call(ops::PackStart {
        order: order.to_string(),
    })
    .await
    .unwrap()
}

fn scan(order: &OrderId, sku: &str, codes: &[&str]) -> ops::PackScan {
    ops::PackScan {
        order: order.to_string(),
        code: sku.to_owned(),
        unit_codes: codes.iter().map(|s| s.to_string()).collect(),
    }
}

/// The bench's refusal text of a scan.
async fn refused(c: &Client, op: ops::PackScan) -> String {
    match c.call(op).await {
        Err(ServiceError::WrongScan { message }) => message,
        other => panic!("expected a wrong scan, got {other:?}"),
    }
}

/// Scans every unit left of the check, each with codes made by `codes(n)` (n counts from 0).
async fn scan_rest(
    c: &Client,
    order: &OrderId,
    check: &PackCheck,
    codes: impl Fn(u32) -> Vec<String>,
) {
    let mut n = 0;
    for l in &check.lines {
        for _ in l.scanned..l.needed {
            let unit: Vec<String> = codes(n);
            let unit: Vec<&str> = unit.iter().map(String::as_str).collect();
            c.call(scan(order, &l.sku, &unit)).await.unwrap();
            n += 1;
        }
    }
}

fn finish(order: &OrderId, partial: Option<&str>) -> ops::PackFinish {
    ops::PackFinish {
        order: order.to_string(),
        box_name: "M 30x20x15".into(),
        weight_g: 1200,
        partial: partial.map(str::to_owned),
        label: false,
    }
}

async fn ship(c: &Client, order: &OrderId) {
    c.call(ops::ShipOwnCarrier {
        order: order.to_string(),
        carrier: "UPS".into(),
        tracking: vec!["1Z999AA10123456784".into()],
    })
    .await
    .unwrap();
}

fn used(code: &str, at: &str) -> String {
    format!(
        "Transparency code {code:?} is already used, on {at}: each Transparency code goes with one unit, ever. Set this unit aside for a lead and scan the Transparency code of another unit"
    )
}

/// Break 9: a Transparency code taken at one bench is refused at another, naming the order it
/// went with (at the bench, then in its package, then shipped); a check given up lets its codes
/// go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transparency_code_is_refused_on_a_second_order() {
    let (f, orders) = coded_floor(&["transparency"]).await;
    let c = &f.client;
    let (a, b, x) = (&orders[0], &orders[1], &orders[2]);
    let check_a = start(c, a).await;
    let check_b = start(c, b).await;
    let sku_a = &check_a.lines[0].sku;
    let sku_b = &check_b.lines[0].sku;
    c.call(scan(a, sku_a, &["AZ:0000000000000000000000SAME"]))
        .await
        .unwrap();
    assert_eq!(
        refused(c, scan(b, sku_b, &["AZ:0000000000000000000000SAME"])).await,
        used(
            "AZ:0000000000000000000000SAME",
            &format!("order {a} at a pack bench")
        )
    );
    // Refused, nothing counted: the same unit goes in with its own code.
    assert_eq!(start(c, b).await.lines[0].scanned, 0);

    let check_a = start(c, a).await;
    scan_rest(c, a, &check_a, |n| {
        vec![format!("AZ:{:0>26}", format!("AX{n}"))]
    })
    .await;
    c.call(finish(a, None)).await.unwrap();
    assert_eq!(
        refused(c, scan(b, sku_b, &["AZ:0000000000000000000000SAME"])).await,
        used(
            "AZ:0000000000000000000000SAME",
            &format!("order {a} package 1")
        )
    );
    ship(c, a).await;
    assert_eq!(f.state(a), OrderState::Shipped);
    assert_eq!(
        refused(c, scan(b, sku_b, &["AZ:0000000000000000000000SAME"])).await,
        used(
            "AZ:0000000000000000000000SAME",
            &format!("order {a} package 1")
        )
    );
    c.call(scan(b, sku_b, &["AZ:00000000000000000000000BX0"]))
        .await
        .unwrap();

    // A check given up (an exception) lets its codes go; another bench may take them.
    let check_x = start(c, x).await;
    let sku_x = &check_x.lines[0].sku;
    assert_eq!(
        refused(c, scan(x, sku_x, &["AZ:00000000000000000000000BX0"])).await,
        used(
            "AZ:00000000000000000000000BX0",
            &format!("order {b} at a pack bench")
        )
    );
    c.call(ops::RaiseException {
        order: b.to_string(),
        note: "box crushed".into(),
    })
    .await
    .unwrap();
    c.call(scan(x, sku_x, &["AZ:00000000000000000000000BX0"]))
        .await
        .unwrap();
    assert_eq!(f.problems(), Vec::<String>::new());
}

/// Break 9: part of an order ships; packing the rest, the shipped unit's Transparency code and
/// serial are refused, naming the package they left in. The same serial on another order is
/// its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_that_shipped_with_part_of_the_order_are_refused_for_the_rest() {
    let (f, orders) = coded_floor(&["transparency", "serial-required"]).await;
    let c = &f.client;
    let (order, other) = (&orders[0], &orders[1]);
    let check = start(c, order).await;
    let units: u32 = check.lines.iter().map(|l| l.needed).sum();
    assert!(units >= 2, "the biggest order has {units} unit(s)");
    let sku = check.lines[0].sku.clone();
    c.call(scan(
        order,
        &sku,
        &["SN-1", "AZ:00000000000000000000000PX1"],
    ))
    .await
    .unwrap();
    c.call(finish(order, Some("one unit short"))).await.unwrap();
    ship(c, order).await;
    assert_eq!(f.state(order), OrderState::New);

    let b = c
        .call(ops::ClaimBatch { size: Some(20) })
        .await
        .unwrap()
        .unwrap();
    pick_all(c, &b).await;
    let check = start(c, order).await;
    let sku = check.lines[0].sku.clone();
    assert_eq!(
        refused(
            c,
            scan(order, &sku, &["SN-2", "AZ:00000000000000000000000PX1"])
        )
        .await,
        used(
            "AZ:00000000000000000000000PX1",
            &format!("order {order} package 1")
        )
    );
    assert_eq!(
        refused(
            c,
            scan(order, &sku, &["SN-1", "AZ:00000000000000000000000PX2"])
        )
        .await,
        format!(
            "serial number \"SN-1\" is already used, on order {order} package 1: each serial number goes with one unit of an order. Set this unit aside for a lead and scan the serial number of another unit"
        )
    );
    // Within the check, a serial twice is refused as before.
    c.call(scan(
        order,
        &sku,
        &["SN-2", "AZ:00000000000000000000000PX2"],
    ))
    .await
    .unwrap();
    let check = start(c, order).await;
    if check.units_left() > 0 {
        let line = check.lines.iter().find(|l| l.scanned < l.needed).unwrap();
        assert_eq!(
            refused(
                c,
                scan(order, &line.sku, &["SN-2", "AZ:00000000000000000000000PX3"])
            )
            .await,
            format!("duplicate serial number: \"SN-2\" is already recorded for order {order}")
        );
    }
    scan_rest(c, order, &check, |n| {
        vec![format!("SN-R{n}"), format!("AZ:{:0>26}", format!("RX{n}"))]
    })
    .await;
    c.call(finish(order, None)).await.unwrap();
    ship(c, order).await;
    assert_eq!(f.state(order), OrderState::Shipped);

    // A serial is the order's own: another order's unit may carry the same.
    let check = start(c, other).await;
    c.call(scan(
        other,
        &check.lines[0].sku,
        &["SN-1", "AZ:00000000000000000000000OX1"],
    ))
    .await
    .unwrap();
    assert_eq!(f.problems(), Vec::<String>::new());
}

/// Break 9: two benches scan the same Transparency code at the same moment: exactly one has it,
/// the other is refused naming the order that won.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_benches_scanning_one_code_at_once_cannot_both_win() {
    let (f, orders) = coded_floor(&["transparency"]).await;
    let c = &f.client;
    let mut skus = Vec::new();
    for o in &orders[..2] {
        skus.push(start(c, o).await.lines[0].sku.clone());
    }
    let lead = Caller {
        user: whoami(),
        role: Role::Lead,
    };
    let gate = Arc::new(Barrier::new(2));
    let answers: Vec<_> = std::thread::scope(|s| {
        let runs: Vec<_> = orders[..2]
            .iter()
            .zip(&skus)
            .map(|(o, sku)| {
                let (svc, gate, lead) = (f.service.clone(), gate.clone(), lead.clone());
                s.spawn(move || {
                    gate.wait();
                    svc.run(&lead, scan(o, sku, &["AZ:0000000000000000000000RACE"]))
                })
            })
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    let won: Vec<usize> = (0..2).filter(|i| answers[*i].is_ok()).collect();
    assert_eq!(won.len(), 1, "{answers:?}");
    let (winner, loser) = (won[0], 1 - won[0]);
    match &answers[loser] {
        Err(ServiceError::WrongScan { message }) => assert_eq!(
            message,
            &used(
                "AZ:0000000000000000000000RACE",
                &format!("order {} at a pack bench", orders[winner])
            )
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(f.problems(), Vec::<String>::new());
}

/// Planted by hand (a second order's package given a code another order's package has, as an
/// old store or a bad restore might hold), `check` finds the code on two units.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_finds_a_transparency_code_on_two_units() {
    let (f, orders) = coded_floor(&["transparency"]).await;
    let c = &f.client;
    let mut pair = orders[..2].to_vec();
    pair.sort();
    for (i, o) in pair.iter().enumerate() {
        let check = start(c, o).await;
        scan_rest(c, o, &check, |n| {
            vec![format!("AZ:{:0>26}", format!("{i}X{n}"))]
        })
        .await;
        c.call(finish(o, None)).await.unwrap();
    }
    assert_eq!(f.problems(), Vec::<String>::new());
    let (a, b) = (&pair[0], &pair[1]);
    let mut planted = f.service.with_store(|s| s.packages(b).unwrap());
    planted[0].items[0].codes[0].code = "AZ:000000000000000000000000X0".into();
    let (_dir, store) = f.plant_packages(b, &planted);
    let problems: Vec<String> = store
        .check()
        .unwrap()
        .problems
        .into_iter()
        .filter(|p| p.part == "codes")
        .map(|p| p.detail)
        .collect();
    assert_eq!(
        problems,
        [
            format!("Transparency code \"AZ:000000000000000000000000X0\" is on two units: order {a} package 1 and order {b} package 1"),
            "Transparency code \"AZ:000000000000000000000001X0\" is registered as used, but no unit of the order it names has it".to_owned(),
        ]
    );
}

/// Codes that never left are the order's no longer: packed again (an exception sent back to
/// Picked), the same units take the same codes, and its old package gives them up; an order
/// Amazon cancels at the bench lets its codes go to another order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_that_never_left_go_free() {
    let (f, orders) = coded_floor(&["transparency"]).await;
    let c = &f.client;
    let (order, cancelled, other) = (&orders[0], &orders[1], &orders[2]);
    let check = start(c, order).await;
    let codes = |n: u32| vec![format!("AZ:{:0>26}", format!("KX{n}"))];
    scan_rest(c, order, &check, codes).await;
    c.call(finish(order, None)).await.unwrap();
    c.call(ops::RaiseException {
        order: order.to_string(),
        note: "box crushed".into(),
    })
    .await
    .unwrap();
    c.call(ops::ResolveException {
        order: order.to_string(),
        resume: OrderState::Picked,
        resolution: "pack it again".into(),
    })
    .await
    .unwrap();
    let check = start(c, order).await;
    scan_rest(c, order, &check, codes).await;
    assert_eq!(f.problems(), Vec::<String>::new());
    c.call(finish(order, None)).await.unwrap();
    let packages = f.service.with_store(|s| s.packages(order).unwrap());
    assert_eq!(packages.len(), 1, "{packages:?}");
    assert_eq!(f.problems(), Vec::<String>::new());

    // Cancelled by Amazon while at the bench: its code is free again.
    let sku = start(c, cancelled).await.lines[0].sku.clone();
    c.call(scan(cancelled, &sku, &["AZ:0000000000000000000000GONE"]))
        .await
        .unwrap();
    let sku = start(c, other).await.lines[0].sku.clone();
    assert_eq!(
        refused(c, scan(other, &sku, &["AZ:0000000000000000000000GONE"])).await,
        used(
            "AZ:0000000000000000000000GONE",
            &format!("order {cancelled} at a pack bench")
        )
    );
    http(
        &f.market,
        "POST",
        &format!("/_training/orders/{cancelled}/cancel"),
    );
    f.service.sync_now("lead").await.unwrap();
    assert_eq!(f.state(cancelled), OrderState::Cancelled);
    c.call(scan(other, &sku, &["AZ:0000000000000000000000GONE"]))
        .await
        .unwrap();
    assert_eq!(f.problems(), Vec::<String>::new());
}
