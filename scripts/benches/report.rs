//! Report benchmark (run with `scripts/bench report`): `packline report` over years of history.
//! A store is filled through the real paths, day by day: orders imported and shipped on their
//! day (so each change bumps its counters in its own transaction, as on the floor), then the
//! report is built from the counters, by day and by SKU, many times. Prints the figures;
//! asserts nothing.
//!
//! A report reads counters, not orders: their number grows with days × metrics (× the SKUs
//! shipped each day, for a report by SKU), not with the orders behind them.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use packline::amazon::parse_search_orders;
use packline::domain::report::{By, Report};
use packline::domain::{Event, OrderId};
use packline::marketplace::seed::OrderGenerator;
use packline::store::{MasterSource, Store};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str, default: usize| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map_or(default, |s| s.parse().expect("a number"))
    };
    let years = arg("--years", 6);
    let per_day = arg("--per-day", 10);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key = dir.path().join("master.key");
    let end: DateTime<Utc> = Utc::now();
    let days = years * 365;
    let start = end - chrono::Duration::days(days as i64);
    Store::init_keys(
        &data,
        &MasterSource::IdentityFile(key.clone()),
        "bench",
        start,
    )
    .unwrap();
    let mut store = Store::open(&data).unwrap();
    store.unlock(&MasterSource::IdentityFile(key)).unwrap();
    let mut generator = OrderGenerator::new(7, start);
    let filled = Instant::now();
    let mut shipped = 0u64;
    for d in 0..days {
        let at = start + chrono::Duration::days(d as i64);
        let page = serde_json::to_vec(&generator.page(per_day)).unwrap();
        let orders = parse_search_orders(&page, "bench").unwrap().orders;
        let ids: Vec<OrderId> = orders.iter().map(|o| o.order.id.clone()).collect();
        store.import(orders, "bench", at).unwrap();
        for id in &ids {
            for e in [
                Event::StartPick,
                Event::FinishPick,
                Event::FinishPack,
                Event::ShipOwnCarrier,
            ] {
                if store.transition(id, e, "bench", None, at).is_err() {
                    break;
                }
            }
            shipped += 1;
        }
        if d % 365 == 364 {
            eprintln!(
                "year {} filled ({:.0} s)",
                d / 365 + 1,
                filled.elapsed().as_secs_f64()
            );
        }
    }
    println!(
        "history: {years} years, {days} days, {shipped} orders shipped ({per_day} a day), filled in {:.0} s",
        filled.elapsed().as_secs_f64()
    );
    let (from, to) = (
        packline::store::shipping::local_day(start),
        packline::store::shipping::local_day(end),
    );
    for (name, by) in [("by day", By::Day), ("by SKU", By::Sku)] {
        let mut samples = Vec::new();
        let mut rows = 0;
        let mut counters = 0;
        for _ in 0..30 {
            let t = Instant::now();
            let skus = (by == By::Sku).then_some(packline::store::stats::SkuCounts::Monthly);
            let counts = store.counts(from, to, skus).unwrap();
            let r = Report::build(from, to, by, &counts);
            samples.push(t.elapsed());
            rows = r.rows.len();
            counters = counts.len();
            assert!(r.totals.orders_shipped > 0);
        }
        report(
            &format!("report over {years} years, {name} ({counters} counters, {rows} rows)"),
            &mut samples,
        );
    }
}

fn report(what: &str, samples: &mut [Duration]) {
    samples.sort();
    let p = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize];
    println!(
        "{what}: p50 {:.2} ms, p99 {:.2} ms",
        p(0.5).as_secs_f64() * 1e3,
        p(0.99).as_secs_f64() * 1e3
    );
}
