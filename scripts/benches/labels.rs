//! Labels benchmark (`scripts/bench labels`): packing-slip render time, and the time from a print
//! request to the job fully received by a raw (port 9100 style) listener on loopback, through the
//! service in this process. Figures only; nothing is asserted about speed.

use std::io::Read;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use packline::amazon::parse_search_orders;
use packline::labels::slip::Slip;
use packline::marketplace::seed::OrderGenerator;
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
