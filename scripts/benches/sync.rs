//! Sync benchmark (run with `scripts/bench sync`): API calls and quota-time to import 1,000 and
//! 10,000 pending orders from the training marketplace over loopback HTTP, set against the v0
//! pattern (getOrders + getOrderItems + getOrderAddress per order) computed from its documented
//! quotas. Quota-time is the time Amazon's buckets would make the calls take: what is beyond the
//! burst, at the refill rate. Figures are printed, never asserted.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use packline::amazon::client::{Credentials, SpApi};
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
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router(cfg)).await });

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    Store::init_keys(
        &data,
        &MasterSource::IdentityFile(dir.path().join("k")),
        "bench",
        now,
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
    let service = Service::new(store, settings);
    service.set_amazon(std::sync::Arc::new(api));
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
