//! Sync benchmark (run with `scripts/bench sync`): API calls and quota-time to import 1,000 and
//! 10,000 pending orders from the training marketplace over loopback HTTP, set against the v0
//! pattern (getOrders + getOrderItems + getOrderAddress per order) computed from its documented
//! quotas. Quota-time is the time Amazon's buckets would make the calls take: what is beyond the
//! burst, at the refill rate. Figures are printed, never asserted.
//!
//! Then 10,000 pending orders through the actionable-orders report (`sync --backlog`) against a
//! marketplace at Amazon's real quotas (its report takes a minute of processing, as Amazon's
//! does): its calls, quota-time and wall time, and its orders set against the searchOrders
//! path's (the same seeded orders, imported by pages); then the same backlog turning to the
//! report by itself once searchOrders' burst is spent (quotas 100 times faster: calls and
//! quota-time).
//! `PACKLINE_BENCH_REPORT_SCALE` runs the report path's quotas that many times faster (1 by
//! default).

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use packline::amazon::client::{Credentials, SpApi};
use packline::amazon::orders::SEARCH_ORDERS;
use packline::amazon::throttle::UsagePlan;
use packline::marketplace::server::{MarketplaceConfig, router};
use packline::service::sync::SyncPlan;
use packline::service::{Service, Settings};
use packline::store::{MasterSource, Store};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Seconds a bucket with this plan needs for `calls` requests starting full.
fn quota_time(plan: UsagePlan, calls: u64) -> f64 {
    (calls as f64 - plan.burst).max(0.0) / plan.rate
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    println!(
        "sync benchmark: training marketplace over loopback HTTP, quotas sped up so nothing waits"
    );
    for orders in [1_000usize, 10_000] {
        rt.block_on(run(orders));
    }
    let scale: f64 = std::env::var("PACKLINE_BENCH_REPORT_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|s: &f64| s.is_finite() && *s >= 1.0)
        .unwrap_or(1.0);
    rt.block_on(report_path(10_000, scale));
}

fn market_config(orders: usize, quota_scale: f64, start: DateTime<Utc>) -> MarketplaceConfig {
    MarketplaceConfig {
        orders,
        seed: 7,
        quota_scale,
        start,
        fault_rate: 0.0,
        faults: Vec::new(),
        fault_delay: Duration::ZERO,
        new_orders_per_minute: 0.0,
        cancel_rate: 0.0,
        cancel_request_rate: 0.0,
        unit_codes: false,
        rate_validity: MarketplaceConfig::RATE_VALIDITY,
    }
}

/// A marketplace served over loopback, and a service with a new store syncing from it.
async fn floor(
    cfg: MarketplaceConfig,
    backlog_report: bool,
) -> (String, std::sync::Arc<Service>, tempfile::TempDir) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router(cfg)).await });
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    Store::init_keys(
        &data,
        &MasterSource::IdentityFile(dir.path().join("k")),
        "bench",
        Utc::now(),
    )
    .unwrap();
    let store = Store::open(&data).unwrap();
    let api = SpApi::new(
        &url,
        &format!("{url}/auth/o2/token"),
        Credentials {
            client_id: "bench".into(),
            client_secret: "bench".to_owned().into(),
            refresh_token: "bench".to_owned().into(),
        },
        Duration::from_secs(30),
    )
    .unwrap();
    let mut settings =
        Settings::from_config(&packline::config::Config::default(), "bench").unwrap();
    settings.sync_plan = SyncPlan {
        marketplace_ids: vec!["ATVPDKIKX0DER".into()],
        lookback_days: 30,
    };
    settings.backlog_report = backlog_report;
    let service = Service::new(store, settings);
    service.set_amazon(std::sync::Arc::new(api));
    (url, service, dir)
}

/// The marketplace's request log: the calls of each operation, and how many it refused.
async fn calls(url: &str) -> (std::collections::BTreeMap<String, u64>, u64) {
    let log: Vec<serde_json::Value> = reqwest::get(format!("{url}/_training/requests"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut by = std::collections::BTreeMap::new();
    for r in &log {
        *by.entry(r["operation"].as_str().unwrap_or_default().to_owned())
            .or_insert(0) += 1;
    }
    let refused = log.iter().filter(|r| r["status"] == 429).count() as u64;
    (by, refused)
}

/// Each operation's plan, for quota-time.
fn plan_of(operation: &str) -> Option<UsagePlan> {
    Some(match operation {
        SEARCH_ORDERS => UsagePlan::SEARCH_ORDERS,
        "createReport" => UsagePlan::CREATE_REPORT,
        "getReport" => UsagePlan::GET_REPORT,
        "getReportDocument" => UsagePlan::GET_REPORT_DOCUMENT,
        "createRestrictedDataToken" => UsagePlan::CREATE_RESTRICTED_DATA_TOKEN,
        "getOrder" => UsagePlan::GET_ORDER,
        _ => return None,
    })
}

/// Quota-time of a run's calls: from full buckets (the buckets drain side by side: the slowest
/// sets the pace), and at the refill rates alone, as if every bucket started empty (the calls
/// one after the other).
fn quota_times(by: &std::collections::BTreeMap<String, u64>) -> (f64, f64) {
    let mut full: f64 = 0.0;
    let mut empty = 0.0;
    for (op, n) in by {
        if let Some(plan) = plan_of(op) {
            full = full.max(quota_time(plan, *n));
            empty += *n as f64 / plan.rate;
        }
    }
    (full, empty)
}

fn shown(by: &std::collections::BTreeMap<String, u64>) -> String {
    by.iter()
        .map(|(op, n)| format!("{n} {op}"))
        .collect::<Vec<_>>()
        .join(" + ")
}

/// What an order is on the floor, as both paths must agree on it: everything but what the
/// report does not carry (the ASIN, the start of the ship-by window, gift wrap).
fn essentials(o: &packline::domain::OrderRecord) -> String {
    let lines: Vec<String> = o
        .order
        .lines
        .iter()
        .map(|l| {
            format!(
                "{}|{}|{}|{}|{}|{:?}",
                l.item_id, l.sku, l.title, l.quantity_ordered, l.quantity_shipped, l.unit_codes
            )
        })
        .collect();
    format!(
        "{}|{:?}|{:?}|{}|{}|{:?}|{:?}|{:?}|{}|{}|{:?}|{}",
        o.order.id,
        o.state,
        o.order.marketplace_id,
        o.order.created,
        o.order.updated,
        o.order.ship_by.latest,
        o.order.deliver_by,
        o.order.service_level,
        o.order.prime,
        o.order.business,
        o.recipient_mask,
        lines.join(";")
    )
}

fn orders_of(service: &Service) -> Vec<packline::domain::OrderRecord> {
    let mut all: Vec<_> = service
        .with_store(|s| s.list(None).collect::<Result<Vec<_>, _>>())
        .unwrap();
    all.sort_by(|a, b| a.order.id.cmp(&b.order.id));
    all
}

async fn report_path(orders: usize, scale: f64) {
    let now = Utc::now();
    let start: DateTime<Utc> = now - chrono::Duration::days(3) - chrono::Duration::hours(1);
    // The report path at real quotas (or `scale` times faster).
    let (url, service, _dir) = floor(market_config(orders, scale, start), true).await;
    let t = Instant::now();
    let c = service.sync_now_with("bench", true).await.unwrap();
    let wall = t.elapsed();
    assert_eq!(c.new as usize, orders);
    let (by, refused) = calls(&url).await;
    let (full, empty) = quota_times(&by);
    let report = orders_of(&service);

    // The same orders through searchOrders pages (quotas sped up: only the orders matter).
    let (_, pages, _dir2) = floor(market_config(orders, 1e6, start), false).await;
    pages.sync_now("bench").await.unwrap();
    let by_pages = orders_of(&pages);
    let same = report.len() == by_pages.len()
        && report
            .iter()
            .zip(&by_pages)
            .all(|(a, b)| essentials(a) == essentials(b));
    let differ = |f: &dyn Fn(&packline::domain::OrderRecord) -> String| {
        report
            .iter()
            .zip(&by_pages)
            .filter(|(a, b)| f(a) != f(b))
            .count()
    };
    let asin = differ(&|o| {
        o.order
            .lines
            .iter()
            .map(|l| l.asin.clone())
            .collect::<String>()
    });
    let gift = differ(&|o| {
        format!(
            "{:?}",
            o.order
                .lines
                .iter()
                .map(|l| &l.gift_wrap)
                .collect::<Vec<_>>()
        )
    });
    let earliest = differ(&|o| format!("{:?}", o.order.ship_by.earliest));
    println!(
        "{orders:>6} orders through the actionable-orders report (sync --backlog), quotas {}: {} calls ({}), {refused} refused; quota-time {full:.0} s from full buckets, {empty:.0} s at the refill rates alone; wall {:.1} s (the report's processing, sealing and storing included)",
        if scale == 1.0 {
            "Amazon's real ones".to_owned()
        } else {
            format!("{scale}x faster")
        },
        by.values().sum::<u64>(),
        shown(&by),
        wall.as_secs_f64()
    );
    println!(
        "        the same {} orders as searchOrders pages import: {} (id, state, marketplace, times, ship-by, deliver-by, service level, Prime, business, masked recipient, lines); not in the report: ASINs ({asin} orders), the ship-by window's start ({earliest}), gift wrap ({gift})",
        by_pages.len(),
        if same { "identical" } else { "DIFFERENT" }
    );

    // Turning to the report by itself once searchOrders' burst is spent: quotas 100 times
    // faster (sped up further, the burst would never be spent).
    let (url, auto, _dir3) = floor(market_config(orders, 100.0, start), true).await;
    let c = auto.sync_now("bench").await.unwrap();
    assert_eq!(c.new as usize, orders);
    let (by, refused) = calls(&url).await;
    let (full, empty) = quota_times(&by);
    println!(
        "{orders:>6} orders, the report taken once searchOrders' burst is spent (quotas 100x faster): {} calls ({}), {refused} refused; quota-time {full:.0} s from full buckets, {empty:.0} s at the refill rates alone",
        by.values().sum::<u64>(),
        shown(&by),
    );
}

async fn run(orders: usize) {
    let now = Utc::now();
    let start: DateTime<Utc> = now - chrono::Duration::days(3) - chrono::Duration::hours(1);
    let cfg = MarketplaceConfig {
        orders,
        seed: 7,
        quota_scale: 1e6,
        start,
        fault_rate: 0.0,
        faults: Vec::new(),
        fault_delay: Duration::ZERO,
        new_orders_per_minute: 0.0,
        cancel_rate: 0.0,
        cancel_request_rate: 0.0,
        unit_codes: false,
        rate_validity: MarketplaceConfig::RATE_VALIDITY,
    };
    // The searchOrders path as a site has it by default (the burst never runs out here).
    let (url, service, _dir) = floor(cfg, true).await;
    let t = Instant::now();
    let c = service.sync_now("bench").await.unwrap();
    let wall = t.elapsed();
    assert_eq!(c.new as usize, orders);

    let log: Vec<serde_json::Value> = reqwest::get(format!("{url}/_training/requests"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let searches = log
        .iter()
        .filter(|r| r["operation"] == "searchOrders")
        .count() as u64;
    let tokens = log.iter().filter(|r| r["operation"] == "lwaToken").count() as u64;
    let v0_pages = (orders as u64).div_ceil(100);
    let v0_calls = v0_pages + 2 * orders as u64;
    // The three v0 buckets drain in parallel: the slowest one sets the pace.
    let v0_quota = quota_time(
        UsagePlan {
            rate: 0.0167,
            burst: 20.0,
        },
        v0_pages,
    )
    .max(quota_time(
        UsagePlan {
            rate: 0.5,
            burst: 30.0,
        },
        orders as u64,
    ));
    println!(
        "{orders:>6} orders: {} calls ({searches} searchOrders + {tokens} token), quota-time {:.0} s, wall {:.2} s (sealing and storing included) | v0 pattern: {v0_calls} calls, quota-time {:.0} s",
        searches + tokens,
        quota_time(UsagePlan::SEARCH_ORDERS, searches),
        wall.as_secs_f64(),
        v0_quota
    );
}
