//! Labels benchmark (`scripts/bench labels`): packing-slip render time; the time from a print
//! request to the job fully received by a raw (port 9100 style) listener on loopback, through the
//! service in this process; one-bench packing (`[floor] label_at_pack`): the time from the last
//! box closed to the label's bytes received in full by a raw listener, the label bought from the
//! training marketplace over loopback at Amazon's real quotas (`--at-pack N` orders, 50 by
//! default; `--at-pack 0` to skip); and a wave of labels (`--wave N` packed orders, 500 by
//! default; `--wave 0` to skip) bought at Amazon's real quotas, through the Shipping API v2 and
//! then Merchant Fulfillment v0. Figures only; nothing is asserted about speed.

use std::io::Read;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use packline::amazon::client::{Credentials, SpApi};
use packline::amazon::parse_search_orders;
use packline::config::ShippingApi;
use packline::labels::slip::Slip;
use packline::marketplace::seed::OrderGenerator;
use packline::marketplace::server::{MarketplaceConfig, router};
use packline::service::client::Client;
use packline::service::{Notice, Service, Settings, ops};
use packline::store::{MasterSource, Store};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn pct(v: &mut [Duration], p: f64) -> f64 {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1e3
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let wave_orders: usize = args
        .iter()
        .position(|a| a == "--wave")
        .and_then(|i| args.get(i + 1))
        .map_or(500, |n| n.parse().expect("--wave N: a number of orders"));
    let at_pack_orders: usize = args
        .iter()
        .position(|a| a == "--at-pack")
        .and_then(|i| args.get(i + 1))
        .map_or(50, |n| n.parse().expect("--at-pack N: a number of orders"));
    slips_and_prints();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    if at_pack_orders > 0 {
        rt.block_on(at_pack(at_pack_orders));
    }
    if wave_orders > 0 {
        for api in [ShippingApi::ShippingV2, ShippingApi::MfnV0] {
            rt.block_on(wave(api, wave_orders));
        }
    }
}

/// One-bench packing: each order's last box closed at a bench with `label_at_pack`, timed until
/// its label's bytes are received in full by a raw listener (the bench's label printer).
async fn at_pack(orders: usize) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let printer = format!("socket://{}", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel::<Instant>();
    std::thread::spawn(move || {
        for s in listener.incoming() {
            let mut buf = Vec::new();
            if s.and_then(|mut s| s.read_to_end(&mut buf)).is_ok() && !buf.is_empty() {
                let _ = tx.send(Instant::now());
            }
        }
    });
    let (_dir, c) = site(ShippingApi::ShippingV2, orders, |s| {
        s.label_at_pack.site = true;
        s.shipping.label_printer = Some(printer.clone());
    })
    .await;
    let mut times = Vec::new();
    let mut refused = 0;
    for order in pick_all(&c).await {
        scan_at_bench(&c, &order).await;
        let start = Instant::now();
        let finished = c
            .call(ops::PackFinish {
                order: order.clone(),
                box_name: "M 30x20x15".into(),
                weight_g: 1200,
                partial: None,
                label: false,
            })
            .await
            .unwrap();
        match finished.bench_label {
            Some(ops::BenchLabel::Queued { .. }) => {
                let received = rx.recv_timeout(Duration::from_secs(30)).unwrap();
                times.push(received - start);
            }
            other => {
                refused += 1;
                eprintln!("order {order}: no label at the bench: {other:?}");
            }
        }
    }
    println!(
        "label at the bench (Shipping API v2, raw 9100 listener, {} orders): last box closed -> label received p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms ({refused} not bought)",
        times.len(),
        pct(&mut times, 0.5),
        pct(&mut times, 0.99),
        pct(&mut times, 1.0)
    );
}

/// Packs `orders` orders from a marketplace at Amazon's real quotas, then times one wave.
async fn wave(api: ShippingApi, orders: usize) {
    let (_dir, c) = site(api, orders, |_| {}).await;
    let mut packed = 0;
    for order in pick_all(&c).await {
        scan_at_bench(&c, &order).await;
        c.call(ops::PackFinish {
            order,
            box_name: "M 30x20x15".into(),
            weight_g: 1200,
            partial: None,
            label: false,
        })
        .await
        .unwrap();
        packed += 1;
    }
    let start = Instant::now();
    let report = c
        .call(ops::BuyWave {
            no_print: true,
            ..Default::default()
        })
        .await
        .unwrap();
    let took = start.elapsed();
    let labels: usize = report.bought.iter().map(|b| b.packages.len()).sum();
    println!(
        "wave through {} at Amazon's quotas: {packed} packed orders, {labels} labels bought in {:.1} s = {:.0} labels a minute ({} need a person)",
        api.name(),
        took.as_secs_f64(),
        labels as f64 / took.as_secs_f64() * 60.0,
        report.needs_person.len()
    );
}

/// Claims and picks every open order, 50 to a batch; answers the orders, ready for the bench.
async fn pick_all(c: &Client) -> Vec<String> {
    let mut orders = Vec::new();
    while let Some(b) = c.call(ops::ClaimBatch { size: Some(50) }).await.unwrap() {
        for l in &b.lines {
            for _ in 0..l.needed {
                c.call(ops::PickScan {
                    batch: b.id,
                    code: l.sku.clone(),
                })
                .await
                .unwrap();
            }
        }
        c.call(ops::FinishPick { batch: b.id }).await.unwrap();
        orders.extend(b.orders.iter().map(ToString::to_string));
    }
    orders
}

/// Opens an order at the bench and scans each of its units.
async fn scan_at_bench(c: &Client, order: &str) {
    let check = c
        .call(ops::PackStart {
            order: order.to_owned(),
        })
        .await
        .unwrap();
    for l in &check.lines {
        for _ in 0..l.needed {
            c.call(ops::PackScan {
                order: order.to_owned(),
                code: l.sku.clone(),
                unit_codes: Vec::new(),
            })
            .await
            .unwrap();
        }
    }
}

/// A site synced from a training marketplace of `orders` orders served at Amazon's real quotas,
/// buying through `api`, with `adjust` applied to its settings; its client, as a lead.
async fn site(
    api: ShippingApi,
    orders: usize,
    adjust: impl FnOnce(&mut Settings),
) -> (tempfile::TempDir, Client) {
    let now = Utc::now();
    let cfg = MarketplaceConfig {
        orders,
        seed: 7,
        quota_scale: 1.0,
        start: now - chrono::Duration::days(3) - chrono::Duration::hours(1),
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
    let key = dir.path().join("master.key");
    Store::init_keys(&data, &MasterSource::IdentityFile(key.clone()), "lead", now).unwrap();
    let mut store = Store::open(&data).unwrap();
    store.unlock(&MasterSource::IdentityFile(key)).unwrap();
    let user = nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map_or("root".into(), |u| u.name);
    let mut settings = Settings::from_config(&packline::config::Config::default(), &user).unwrap();
    settings.sync_plan = packline::service::sync::SyncPlan {
        marketplace_ids: vec!["ATVPDKIKX0DER".into()],
        lookback_days: 30,
    };
    settings.batch_size = 50;
    settings.cart_slots = 50;
    settings.shipping.api = api;
    settings.shipping.label_format = Some("ZPL203".into());
    settings.shipping.from = Some(packline::config::ShipFrom {
        name: "Bench Goods".into(),
        line1: "1 Dock Road".into(),
        line2: None,
        city: "Seattle".into(),
        state: Some("WA".into()),
        postal_code: "98109".into(),
        country_code: "US".into(),
        phone: "2065550100".into(),
        email: "ship@example.com".into(),
    });
    adjust(&mut settings);
    let service = Service::new(store, settings);
    service.set_amazon(std::sync::Arc::new(
        SpApi::new(
            &url,
            &format!("{url}/auth/o2/token"),
            Credentials {
                client_id: "bench".into(),
                client_secret: "bench".to_owned().into(),
                refresh_token: "bench".to_owned().into(),
            },
            Duration::from_secs(30),
        )
        .unwrap(),
    ));
    service.sync_now("bench").await.unwrap();
    (dir, Client::local(service, &user).unwrap())
}

fn slips_and_prints() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key = dir.path().join("master.key");
    let t0: DateTime<Utc> = Utc::now();
    Store::init_keys(&data, &MasterSource::IdentityFile(key.clone()), "lead", t0).unwrap();
    let mut store = Store::open(&data).unwrap();
    store.unlock(&MasterSource::IdentityFile(key)).unwrap();
    let page = serde_json::to_vec(&OrderGenerator::new(7, t0).page(50)).unwrap();
    store
        .import(
            parse_search_orders(&page, "bench").unwrap().orders,
            "bench",
            t0,
        )
        .unwrap();
    let records: Vec<_> = store.list(None).map(Result::unwrap).collect();

    // Render: every order's slip, many times over, with its recipient.
    let recipients: Vec<_> = records
        .iter()
        .map(|r| store.recipient_for_document(&r.order.id).unwrap())
        .collect();
    let mut renders = Vec::new();
    for _ in 0..200 {
        for (r, p) in records.iter().zip(&recipients) {
            let start = Instant::now();
            let z = Slip {
                order: &r.order,
                recipient: p.as_ref(),
                from: "Bench Goods",
                slot: None,
            }
            .zpl()
            .unwrap();
            renders.push(start.elapsed());
            std::hint::black_box(z);
        }
    }
    println!(
        "packing slip render (ZPL, {} renders): p50 {:.3} ms, p99 {:.3} ms",
        renders.len(),
        pct(&mut renders, 0.5),
        pct(&mut renders, 0.99)
    );

    // Print: request → job received in full by a raw listener.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let printer = format!("socket://{}", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel::<Instant>();
    std::thread::spawn(move || {
        for s in listener.incoming() {
            let mut buf = Vec::new();
            if s.and_then(|mut s| s.read_to_end(&mut buf)).is_ok() {
                let _ = tx.send(Instant::now());
            }
        }
    });
    let user = nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map_or("root".into(), |u| u.name);
    let mut settings = Settings::from_config(&packline::config::Config::default(), &user).unwrap();
    settings.shipping.slip_printer = Some(printer);
    let service = Service::new(store, settings);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut times = Vec::new();
    rt.block_on(async {
        let c = Client::local(service, &user).unwrap();
        for i in 0..300 {
            let order = records[i % records.len()].order.id.to_string();
            let start = Instant::now();
            c.call(ops::PrintSlip {
                order,
                printer: None,
                pdf: false,
            })
            .await
            .unwrap();
            let received = rx.recv_timeout(Duration::from_secs(10)).unwrap();
            times.push(received - start);
            // Let the job's bookkeeping finish before the next one.
            while let Some(n) = c.notice().await {
                if matches!(n, Notice::PrintFinished { .. }) {
                    break;
                }
            }
        }
    });
    println!(
        "print request -> job received by a raw listener ({} jobs): p50 {:.2} ms, p99 {:.2} ms",
        times.len(),
        pct(&mut times, 0.5),
        pct(&mut times, 0.99)
    );
}
