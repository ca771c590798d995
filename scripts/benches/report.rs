//! Report benchmark (run with `scripts/bench report`): `packline report` over years of history.
//! A store is filled through the real paths, day by day: orders imported and shipped on their
//! day (so each change bumps its counters in its own transaction, as on the floor), then the
//! report is built from the counters, by day and by SKU, many times. Prints the figures;
//! asserts nothing.
//!
//! A report reads counters, not orders: their number grows with days × metrics (× the SKUs
//! shipped each day, for a report by SKU), not with the orders behind them.
//!
//! `--counters [--orders N] [--skus N]` fills only the counters: N shipped orders (1,000,000 by
//! default) spread evenly over the years, ~500 SKUs, each shipment counted through the counter
//! functions a ship transition calls (`Store::count_shipments`), with no order records; a full
//! fill of a million orders through the real transitions takes the better part of an hour.

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
    if args.iter().any(|a| a == "--counters") {
        let orders = arg("--orders", 1_000_000);
        let skus = arg("--skus", 500).max(1);
        let filled = Instant::now();
        let shipped = fill_counters(&store, start, days, orders, skus);
        println!(
            "history: {years} years, {days} days, {shipped} shipped orders ({}-{} a day, {skus} SKUs), \
             counters only: each shipment counted through the counter functions of a ship \
             transition (Store::count_shipments), no order records; filled in {:.0} s",
            orders / days,
            orders.div_ceil(days),
            filled.elapsed().as_secs_f64()
        );
        measure(&store, start, end, years);
        return;
    }
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
    measure(&store, start, end, years);
}

/// The report by day and by SKU over the whole history, 30 times each.
fn measure(store: &Store, start: DateTime<Utc>, end: DateTime<Utc>, years: usize) {
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
    let p = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    println!(
        "{what}: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms over {} runs (floor 200 ms)",
        p(0.5).as_secs_f64() * 1e3,
        p(0.99).as_secs_f64() * 1e3,
        p(1.0).as_secs_f64() * 1e3,
        samples.len()
    );
}

/// Counts `orders` shipments spread evenly over `days` days from `start`: one to three lines of
/// one or two units each, of `skus` SKUs (`SKU-00001`…), one in 30 shipped late. One
/// transaction a day, as many counters as the day's shipments move.
fn fill_counters(
    store: &Store,
    start: DateTime<Utc>,
    days: usize,
    orders: usize,
    skus: usize,
) -> usize {
    use packline::store::stats::ShipmentCount;
    // A fixed xorshift: the same history every run, no personal value anywhere.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    };
    let mut shipped = 0;
    for d in 0..days {
        // Midday UTC: the same local day in any time zone within 12 hours of UTC.
        let noon = start.date_naive().and_hms_opt(12, 0, 0).unwrap().and_utc()
            + chrono::Duration::days(d as i64);
        let today = orders * (d + 1) / days - orders * d / days;
        let day: Vec<ShipmentCount> = (0..today)
            .map(|i| {
                let lines = 1 + next(3) as usize;
                let first = next(skus as u64) as usize;
                ShipmentCount {
                    at: noon + chrono::Duration::seconds(i as i64 % 3600),
                    units: (0..lines)
                        .map(|l| {
                            (
                                format!("SKU-{:05}", (first + l * 7) % skus + 1),
                                1 + next(2) as u32,
                            )
                        })
                        .collect(),
                    late: next(30) == 0,
                }
            })
            .collect();
        store.count_shipments(&day).unwrap();
        shipped += day.len();
        if d % 365 == 364 {
            eprintln!("year {} counted", d / 365 + 1);
        }
    }
    shipped
}
