//! Service and TUI benchmark (`scripts/bench service [--orders N]`): request round-trips over the
//! daemon's socket (a queue page, a pick scan) with one client and with 50 clients scanning at
//! once, then the TUI client in its own process: time to first frame, scan Enter → frame written
//! (in-process service and through the daemon), the lead dashboard's first frame through the
//! daemon, and its RSS. Figures only; nothing is asserted about speed.
//!
//! `--backend postgres` keeps the stores in a private PostgreSQL cluster that makes every commit
//! durable (fsync on), as a production server does.
//!
//! `--only dashboard` measures the lead dashboard's first frame through the daemon alone, on
//! the same store (1,000,000 orders by default), with a few batches in progress.
//!
//! `--only sites` (with `--backend postgres`) puts the orders at two sites of one database,
//! half each, each served by its own service and socket as two daemons would: a queue page,
//! 50 clients scanning at once across both sites (25 each, `--scans N` each, 600 by default),
//! and claims of 50-order batches at both. The database is vacuumed and checkpointed after
//! the build, before anything is measured. Then the same on sled, beside it in the same run:
//! two stores, one a site, as two single-site servers would be.
//!
//! `--timeline` (with `--only sites`) prints where in the scan phase the scans over 10 ms were,
//! and keeps the database's log of slow statements, checkpoints and autovacuum in
//! /tmp/packline-bench-server.log.

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use packline::amazon::parse_search_orders;
use packline::marketplace::seed::OrderGenerator;
use packline::service::client::Client;
use packline::service::{Service, Settings, ops};
use packline::store::{Location, MasterSource, Store};
use packline::tui::action::Action;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn pct(v: &mut [Duration], p: f64) -> f64 {
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i].as_secs_f64() * 1e3
}

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

fn build(root: &Path, orders: usize, location: &Location) -> Store {
    let data = root.join("data");
    let key = root.join("master.key");
    let t0: DateTime<Utc> = DateTime::parse_from_rfc3339("2026-11-23T08:00:00Z")
        .unwrap()
        .into();
    Store::init_keys_in(
        &data,
        location,
        &MasterSource::IdentityFile(key.clone()),
        "lead",
        t0,
    )
    .unwrap();
    let mut store = Store::open_in(&data, location).unwrap();
    store.unlock(&MasterSource::IdentityFile(key)).unwrap();
    let mut generator = OrderGenerator::new(42, t0);
    let started = Instant::now();
    let mut done = 0;
    while done < orders {
        let n = (orders - done).min(1000);
        let mut batch = Vec::with_capacity(n);
        for i in 0..n.div_ceil(100) {
            let page = serde_json::to_vec(&generator.page(100.min(n - i * 100))).unwrap();
            batch.extend(parse_search_orders(&page, "bench").unwrap().orders);
        }
        store.import(batch, "bench", t0).unwrap();
        done += n;
    }
    eprintln!(
        "  built a store of {orders} orders in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    store.checkpoint().unwrap()
}

/// Claims batches until they hold `units` units to scan.
async fn claim_units(c: &mut Client, units: usize) -> Vec<packline::domain::PickBatch> {
    let mut batches = Vec::new();
    let mut have = 0;
    while have < units {
        match c.call(ops::ClaimBatch { size: Some(20) }).await {
            Ok(Some(b)) => {
                have += b.lines.iter().map(|l| l.needed as usize).sum::<usize>();
                batches.push(b);
            }
            // A refused claim (a connection cap, a conflict) would leave this client scanning
            // less than the figures say: the run fails instead.
            other => {
                panic!("a claim came back {other:?}: the run stops, its figures would not hold")
            }
        }
    }
    batches
}

/// Each scan's start and round-trip.
type Timeline = std::sync::Mutex<Vec<(Instant, Duration)>>;

/// `--timeline`: every scan's start and round-trip, for `print_timeline`.
static TIMELINE: std::sync::LazyLock<Option<Timeline>> = std::sync::LazyLock::new(|| {
    std::env::args()
        .any(|a| a == "--timeline")
        .then(|| std::sync::Mutex::new(Vec::new()))
});

/// With `--timeline`: where in the phase the slow scans (over 10 ms) were, in 10 ms windows
/// from the phase's first scan, with how many scans each window started and the slowest.
fn print_timeline() {
    let Some(t) = &*TIMELINE else { return };
    let mut all = std::mem::take(&mut *t.lock().unwrap());
    all.sort_by_key(|(s, _)| *s);
    let Some(&(first, _)) = all.first() else {
        return;
    };
    let last = all.iter().map(|(s, d)| *s + *d).max().unwrap();
    println!(
        "  timeline: {} scans over {:.0} ms",
        all.len(),
        (last - first).as_secs_f64() * 1e3
    );
    let mut windows: std::collections::BTreeMap<u128, (usize, usize, Duration)> =
        std::collections::BTreeMap::new();
    for (s, d) in &all {
        let w = windows.entry((*s - first).as_millis() / 10).or_default();
        w.0 += 1;
        if *d > Duration::from_millis(10) {
            w.1 += 1;
        }
        w.2 = w.2.max(*d);
    }
    for (w, (n, slow, max)) in windows {
        if slow > 0 {
            println!(
                "  {:>6} ms: {n:>4} scans started, {slow:>3} over 10 ms, slowest {:.1} ms",
                w * 10,
                max.as_secs_f64() * 1e3
            );
        }
    }
}

/// Scans units of `batches` until `scans` are done. Returns the round-trip of each scan and
/// how many the service acknowledged.
async fn scan_batches(
    c: &mut Client,
    batches: &[packline::domain::PickBatch],
    scans: usize,
) -> (Vec<Duration>, usize) {
    let mut times = Vec::with_capacity(scans);
    let mut acked = 0;
    'outer: for b in batches {
        for l in &b.lines {
            for _ in 0..l.needed {
                if times.len() == scans {
                    break 'outer;
                }
                let start = Instant::now();
                let r = c
                    .call(ops::PickScan {
                        batch: b.id,
                        code: l.sku.clone(),
                    })
                    .await;
                let took = start.elapsed();
                times.push(took);
                if let Some(t) = &*TIMELINE {
                    t.lock().unwrap().push((start, took));
                }
                if r.is_ok() {
                    acked += 1;
                }
            }
        }
    }
    (times, acked)
}

/// Claims and scans in turn, as a picker does: claims (and their fsyncs) interleave with scans.
async fn scan_rounds(c: &mut Client, scans: usize) -> (Vec<Duration>, usize) {
    let (mut times, mut acked) = (Vec::new(), 0);
    while times.len() < scans {
        let batches = claim_units(c, 1).await;
        if batches.is_empty() {
            break;
        }
        let (t, a) = scan_batches(c, &batches, scans - times.len()).await;
        times.extend(t);
        acked += a;
    }
    (times, acked)
}

/// Gathers the scanners' round-trips and prints p50, p99 and how many scans went unanswered.
async fn report(what: &str, tasks: Vec<tokio::task::JoinHandle<(Vec<Duration>, usize)>>) {
    let (mut all, mut acked) = (Vec::new(), 0);
    for t in tasks {
        let (times, a) = t.await.unwrap();
        acked += a;
        all.extend(times);
    }
    print_timeline();
    let sent = all.len();
    println!(
        "pick scan over the socket, {what}: p50 {:.2} ms, p99 {:.2} ms, {} lost of {sent}",
        pct(&mut all, 0.5),
        pct(&mut all, 0.99),
        sent - acked
    );
}

fn main() {
    if arg("--phase").as_deref() == Some("hostile") {
        hostile_clients(
            Path::new(&arg("--socket").unwrap()),
            arg("--connections").map_or(500, |s| s.parse().expect("--connections N")),
            Duration::from_secs(arg("--secs").map_or(20, |s| s.parse().expect("--secs N"))),
        );
        return;
    }
    if arg("--phase").as_deref() == Some("tui") {
        tui_client(Path::new(&arg("--socket").unwrap()));
        return;
    }
    if arg("--phase").as_deref() == Some("dashboard") {
        dashboard_client(Path::new(&arg("--socket").unwrap()));
        return;
    }
    let hostile = arg("--only").as_deref() == Some("hostile");
    let orders: usize = arg("--orders").map_or(if hostile { 20_000 } else { 1_000_000 }, |s| {
        s.parse().expect("--orders N")
    });
    // `--backend postgres`: the store in a private PostgreSQL cluster of this run, which makes
    // every commit durable as a production server does.
    let postgres = match arg("--backend").as_deref() {
        None | Some("sled") => None,
        // `--relaxed-commits`: commits that do not wait for the disk (PostgreSQL's
        // `synchronous_commit = off`), to tell the disk's share of a figure from packline's.
        Some("postgres") if std::env::args().any(|a| a == "--relaxed-commits") => Some(
            packline::store::backend::postgres::cluster::Cluster::start()
                .unwrap_or_else(|e| panic!("{e}")),
        ),
        Some("postgres") => Some(
            packline::store::backend::postgres::cluster::Cluster::start_durable()
                .unwrap_or_else(|e| panic!("{e}")),
        ),
        Some(other) => panic!("--backend is sled or postgres, not {other}"),
    };
    let location = match &postgres {
        None => Location::Embedded,
        Some(c) => {
            c.create_database("bench").unwrap();
            Location::Postgres(packline::store::backend::postgres::Target::new(
                c.url("bench"),
                None,
            ))
        }
    };
    println!(
        "service benchmark: {orders} orders stored ({})",
        match postgres {
            None => "sled",
            Some(_) if std::env::args().any(|a| a == "--relaxed-commits") =>
                "PostgreSQL, commits not waiting for the disk, a Unix socket",
            Some(_) => "PostgreSQL, durable commits, a Unix socket",
        }
    );
    let tmp = tempfile::tempdir().unwrap();
    if arg("--only").as_deref() == Some("sites") {
        let cluster = postgres
            .as_ref()
            .expect("--only sites needs --backend postgres");
        two_sites(
            &tmp.path().join("postgres"),
            orders,
            &location,
            Some(cluster),
        );
        // The same two sites on sled, beside them in the same run: each site a store of its
        // own, as two single-site servers would be.
        two_sites(&tmp.path().join("sled"), orders, &Location::Embedded, None);
        return;
    }
    // `--keep DIR` builds the store in DIR once and reuses it on later runs (sled only).
    let root = arg("--keep").map_or_else(|| tmp.path().to_owned(), std::path::PathBuf::from);
    let store = if let Some(cluster) = &postgres {
        let store = build(&root, orders, &location);
        settle(cluster);
        store
    } else if root.join("data/db").exists() {
        let mut s = Store::open(&root.join("data")).unwrap();
        s.unlock(&MasterSource::IdentityFile(root.join("master.key")))
            .unwrap();
        eprintln!("  reusing the store in {}", root.display());
        s
    } else {
        std::fs::create_dir_all(&root).unwrap();
        build(&root, orders, &location)
    };
    // The clients connect as this process's own OS user: the owner, and so the lead.
    let owner = nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map_or("root".into(), |u| u.name);
    let mut settings = Settings::from_config(&packline::config::Config::default(), &owner).unwrap();
    settings.claim_timeout = Duration::from_secs(3600);
    // Every client of the bench is this one OS user: 50 scanning clients, ten holding batches,
    // the TUI. The per-user cap is raised as a site with one shared user would
    // (`[service] connections_per_user`); the hostile phase keeps the default, which is what it
    // measures.
    if !hostile {
        settings.connections_per_user = 128;
    }
    // Claims of 20 orders, as the figures have always been taken: a cart that holds them.
    settings.cart_slots = 100;
    let service = Service::new(store, settings.clone());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let socket = tmp.path().join("packline.sock");
    let _ = std::fs::remove_file(&socket);
    // The daemon keeps serving until this sender goes, after the TUI client has run.
    let (stop, rx) = tokio::sync::watch::channel(false);
    if hostile {
        rt.block_on(hostile_phase(&service, &socket, rx));
        drop(stop);
        return;
    }
    if arg("--only").as_deref() == Some("dashboard") {
        rt.block_on(async {
            serve_on(&service, &socket, rx);
            let svc = service.clone();
            tokio::task::spawn_blocking(move || svc.wait_for_counts())
                .await
                .unwrap();
            // A floor at work: ten pickers each holding a batch of 20.
            for _ in 0..10 {
                let c = Client::connect(&socket).await.unwrap();
                c.call(ops::ClaimBatch { size: Some(20) }).await.unwrap();
            }
            // The first dashboard starts the purge preview (a read of every order, in the
            // background, at most every 10 minutes); the frames are measured after it.
            let c = Client::connect(&socket).await.unwrap();
            c.call(ops::Dashboard {}).await.unwrap();
            let t = Instant::now();
            let svc = service.clone();
            tokio::task::spawn_blocking(move || svc.wait_for_purge_preview())
                .await
                .unwrap();
            eprintln!(
                "  the purge preview (background) counted in {:.1} s",
                t.elapsed().as_secs_f64()
            );
        });
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--phase", "dashboard", "--socket", socket.to_str().unwrap()])
            .output()
            .unwrap();
        print!("{}", String::from_utf8_lossy(&out.stdout));
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
        drop(stop);
        return;
    }
    rt.block_on(async {
        serve_on(&service, &socket, rx);
        let mut c = Client::connect(&socket).await.unwrap();
        // Warm the count cache and the page cache.
        let svc = service.clone();
        tokio::task::spawn_blocking(move || svc.wait_for_counts()).await.unwrap();
        let mut pages = queue_pages(&c).await;
        println!(
            "queue page (20 rows) over the socket, 1 client: p50 {:.2} ms, p99 {:.2} ms",
            pct(&mut pages, 0.5),
            pct(&mut pages, 0.99)
        );
        let (mut scans, acked) = scan_rounds(&mut c, 1000).await;
        println!(
            "pick scan over the socket, 1 client: p50 {:.2} ms, p99 {:.2} ms ({acked}/{} acknowledged)",
            pct(&mut scans, 0.5),
            pct(&mut scans, 0.99),
            scans.len()
        );
        // 50 pickers scanning at once, their batches claimed first.
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(50));
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let socket = socket.clone();
            let barrier = barrier.clone();
            tasks.push(tokio::spawn(async move {
                let mut c = Client::connect(&socket).await.unwrap();
                let batches = claim_units(&mut c, 100).await;
                barrier.wait().await;
                scan_batches(&mut c, &batches, 100).await
            }));
        }
        report("50 clients scanning at once", tasks).await;
        // The same, but each picker claims its next batch as it goes (claims fsync).
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let socket = socket.clone();
            tasks.push(tokio::spawn(async move {
                let mut c = Client::connect(&socket).await.unwrap();
                scan_rounds(&mut c, 100).await
            }));
        }
        report("50 clients scanning and claiming batches as they go", tasks).await;
    });
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--phase", "tui", "--socket", socket.to_str().unwrap()])
        .output()
        .unwrap();
    print!("{}", String::from_utf8_lossy(&out.stdout));
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    // In-process: the same App on a local client of this service.
    rt.block_on(async {
        let client = Client::local(service.clone(), &whoami()).unwrap();
        let (first, mut times) = drive_app(client).await;
        println!(
            "TUI in-process: first frame {:.1} ms; scan Enter -> frame p50 {:.2} ms, p99 {:.2} ms",
            first.as_secs_f64() * 1e3,
            pct(&mut times, 0.5),
            pct(&mut times, 0.99)
        );
    });
    // A floor that prints slips at claim and confirms every put, on a store of its own (as
    // large as the first).
    drop(stop);
    let tmp2 = tempfile::tempdir().unwrap();
    let location2 = match &postgres {
        None => Location::Embedded,
        Some(c) => {
            c.create_database("bench2").unwrap();
            Location::Postgres(packline::store::backend::postgres::Target::new(
                c.url("bench2"),
                None,
            ))
        }
    };
    let store = build(tmp2.path(), orders, &location2);
    let (printer, printed) = sink_printer();
    settings.print_at_claim = packline::config::PrintAtClaim::Slips;
    settings.shipping.slip_printer = Some(printer);
    settings.shipping.seller_name = Some("Bench Goods".into());
    settings.cart.confirm_put = true;
    let service = Service::new(store, settings);
    let socket = tmp.path().join("paperwork.sock");
    let (_stop, rx) = tokio::sync::watch::channel(false);
    rt.block_on(async {
        serve_on(&service, &socket, rx);
        let c = Client::connect(&socket).await.unwrap();
        let (mut claims, mut batches) = (Vec::new(), Vec::new());
        for _ in 0..20 {
            let start = Instant::now();
            let b = c.call(ops::ClaimBatch { size: Some(50) }).await.unwrap();
            claims.push(start.elapsed());
            batches.extend(b);
        }
        let slips: usize = batches.iter().map(|b| b.orders.len()).sum();
        println!(
            "claim of a 50-order batch with its slips queued, over the socket: p50 {:.2} ms, p99 {:.2} ms",
            pct(&mut claims, 0.5),
            pct(&mut claims, 0.99)
        );
        let started = Instant::now();
        while printed.load(std::sync::atomic::Ordering::Relaxed) < slips
            && started.elapsed() < Duration::from_secs(120)
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        println!(
            "  {} of {slips} slips reached the printer {:.1} s after the last claim",
            printed.load(std::sync::atomic::Ordering::Relaxed),
            started.elapsed().as_secs_f64()
        );
        let mut puts = Vec::new();
        'all: for b in &batches {
            for l in &b.lines {
                for _ in 0..l.needed {
                    if puts.len() == 1000 {
                        break 'all;
                    }
                    let unit = c
                        .call(ops::PickScan {
                            batch: b.id,
                            code: l.sku.clone(),
                        })
                        .await
                        .unwrap();
                    let slot = unit.slot.unwrap().to_string();
                    let start = Instant::now();
                    c.call(ops::PickPut { batch: b.id, slot }).await.unwrap();
                    puts.push(start.elapsed());
                }
            }
        }
        println!(
            "put-to confirmation over the socket, 1 client: p50 {:.2} ms, p99 {:.2} ms ({} puts)",
            pct(&mut puts, 0.5),
            pct(&mut puts, 0.99),
            puts.len()
        );
    });
}

/// 1,000 queue pages of 20 rows, each round-trip's time; every page measured is read once
/// first (a queue being browsed is warm).
async fn queue_pages(c: &Client) -> Vec<Duration> {
    let page = |i: u32| ops::Queue {
        state: None,
        search: None,
        offset: (i % 50) * 20,
        limit: 20,
        exact_counts: false,
    };
    for i in 0..50u32 {
        c.call(page(i)).await.unwrap();
    }
    let mut pages = Vec::new();
    for i in 0..1000u32 {
        let start = Instant::now();
        c.call(page(i)).await.unwrap();
        pages.push(start.elapsed());
    }
    pages
}

/// Two sites on one database, half the orders each, a service and socket each.
/// A database just filled with a million orders, settled as a server is between two bulk loads:
/// vacuumed and analysed, and checkpointed, so that neither the autovacuum of the load's rows
/// nor the checkpoint of its pages runs during the measurements (as sled's store is compacted
/// after its build).
fn settle(cluster: &packline::store::backend::postgres::cluster::Cluster) {
    let started = Instant::now();
    cluster.psql("bench", "VACUUM ANALYZE").unwrap();
    cluster.checkpoint().unwrap();
    eprintln!(
        "  vacuumed and checkpointed in {:.0} s",
        started.elapsed().as_secs_f64()
    );
}

fn two_sites(
    root: &Path,
    orders: usize,
    location: &Location,
    cluster: Option<&packline::store::backend::postgres::cluster::Cluster>,
) {
    let engine = if cluster.is_some() {
        "PostgreSQL, one database"
    } else {
        "sled, a store each (beside)"
    };
    println!("two sites on {engine}:");
    // `--scans N`: each client's scans (600 by default; 50 clients make 30,000, about two
    // seconds). The clients are a closed loop released together, so the first round queues all
    // 50 scans at once and a pause anywhere catches every client: with 100 scans a client
    // (0.35 s) one such pause is 1 % of the samples, and the p99 of runs alike went from 8.8 to
    // 18.8 ms; with 600 it is the floor's steady state, not the length of one pause.
    let scans: usize = arg("--scans").map_or(600, |s| s.parse().expect("--scans N"));
    let mut services = Vec::new();
    for site in ["main", "reno"] {
        let dir = root.join(site);
        std::fs::create_dir_all(&dir).unwrap();
        let store = build(&dir, orders / 2, &location.clone().for_site(site));
        let mut settings =
            Settings::from_config(&packline::config::Config::default(), &whoami()).unwrap();
        settings.claim_timeout = Duration::from_secs(3600);
        settings.connections_per_user = 128;
        settings.cart_slots = 100;
        services.push((Service::new(store, settings), dir.join("packline.sock")));
    }
    if let Some(cluster) = cluster {
        settle(cluster);
    }
    if let Some(cluster) = cluster.filter(|_| TIMELINE.is_some()) {
        // What the database did while the clients scanned: slow statements, checkpoints,
        // autovacuum, in its server.log (copied to /tmp/packline-bench-server.log at the end).
        for set in [
            "ALTER SYSTEM SET log_min_duration_statement = 5",
            // The statements, never their values (a row's bytes stay out of the log).
            "ALTER SYSTEM SET log_parameter_max_length = 0",
            "ALTER SYSTEM SET log_checkpoints = on",
            "ALTER SYSTEM SET log_autovacuum_min_duration = 0",
            "ALTER SYSTEM SET log_lock_waits = on",
            "SELECT pg_reload_conf()",
        ] {
            cluster.psql("bench", set).unwrap();
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (_stop, rx) = tokio::sync::watch::channel(false);
    rt.block_on(async {
        for (service, socket) in &services {
            serve_on(service, socket, rx.clone());
            let svc = service.clone();
            tokio::task::spawn_blocking(move || svc.wait_for_counts())
                .await
                .unwrap();
        }
        let sockets: Vec<std::path::PathBuf> = services.iter().map(|(_, s)| s.clone()).collect();
        let c = Client::connect(&sockets[1]).await.unwrap();
        let mut pages = queue_pages(&c).await;
        println!(
            "two sites: queue page (20 rows) at one, 1 client: p50 {:.2} ms, p99 {:.2} ms",
            pct(&mut pages, 0.5),
            pct(&mut pages, 0.99)
        );
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(50));
        let mut tasks = Vec::new();
        for i in 0..50 {
            let socket = sockets[i % 2].clone();
            let barrier = barrier.clone();
            tasks.push(tokio::spawn(async move {
                let mut c = Client::connect(&socket).await.unwrap();
                let batches = claim_units(&mut c, scans).await;
                barrier.wait().await;
                scan_batches(&mut c, &batches, scans).await
            }));
        }
        report("two sites, 25 clients each, scanning at once", tasks).await;
        let mut claims = Vec::new();
        for socket in &sockets {
            let c = Client::connect(socket).await.unwrap();
            for _ in 0..20 {
                let start = Instant::now();
                c.call(ops::ClaimBatch { size: Some(50) }).await.unwrap();
                claims.push(start.elapsed());
            }
        }
        println!(
            "two sites: claim of a 50-order batch, 20 at each: p50 {:.2} ms, p99 {:.2} ms",
            pct(&mut claims, 0.5),
            pct(&mut claims, 0.99)
        );
    });
    if let Some(cluster) = cluster.filter(|_| TIMELINE.is_some()) {
        let log = cluster.data_dir().with_file_name("server.log");
        let _ = std::fs::copy(&log, "/tmp/packline-bench-server.log");
    }
}

/// The daemon's socket server for `service`, until `stop` says so (or goes).
fn serve_on(
    service: &std::sync::Arc<Service>,
    socket: &Path,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    let listener = packline::service::server::bind(socket, None).unwrap();
    tokio::spawn(packline::service::server::serve(
        service.clone(),
        listener,
        socket.to_owned(),
        stop,
    ));
}

/// A raw printer (socket://) that takes every job and counts it.
fn sink_printer() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::Read as _;
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let uri = format!("socket://{}", l.local_addr().unwrap());
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let mut buf = Vec::new();
            if s.and_then(|mut s| s.read_to_end(&mut buf)).is_ok() {
                seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    });
    (uri, count)
}

fn whoami() -> String {
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map_or("root".into(), |u| u.name)
}

/// First frame, then 300 scans each followed by a frame drawn at 80×24.
async fn drive_app(client: Client) -> (Duration, Vec<Duration>) {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    let start = Instant::now();
    let keymap = packline::tui::keymap::Keymap::load("default", None).unwrap();
    let mut app = packline::tui::app::App::new(client, keymap).await.unwrap();
    let mut term = Terminal::new(TestBackend::new(80, 24)).unwrap();
    term.draw(|f| app.view(f, Utc::now())).unwrap();
    let first = start.elapsed();
    let rss_first = status_kib("VmRSS");
    app.act(Action::Claim);
    app.settle().await;
    let mut times = Vec::new();
    while times.len() < 300 {
        let Some(b) = app.screens.pick.batch.clone() else {
            app.act(Action::Claim);
            app.settle().await;
            if app.screens.pick.batch.is_none() {
                break;
            }
            continue;
        };
        for l in &b.lines {
            for _ in 0..l.needed {
                let t = Instant::now();
                // Scan to frame: the scan is sent, its answer applied, the frame drawn.
                app.act(Action::Scan(l.sku.clone()));
                app.settle().await;
                term.draw(|f| app.view(f, Utc::now())).unwrap();
                times.push(t.elapsed());
            }
        }
        app.act(Action::FinishPick);
        app.settle().await;
    }
    if std::env::args().any(|a| a == "tui") {
        println!(
            "TUI client RSS at its first frame: {:.1} MiB",
            rss_first as f64 / 1024.0
        );
    }
    (first, times)
}

/// Connect, open the dashboard, wait for its view and draw it at 80×24.
async fn dashboard_first_frame(client: Client) -> Duration {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    let start = Instant::now();
    let keymap = packline::tui::keymap::Keymap::load("default", None).unwrap();
    let mut app = packline::tui::app::App::new(client, keymap).await.unwrap();
    app.act(Action::Dashboard);
    app.settle().await;
    assert!(
        app.screens.dashboard.view.is_some(),
        "the dashboard answered"
    );
    let mut term = Terminal::new(TestBackend::new(80, 24)).unwrap();
    term.draw(|f| app.view(f, Utc::now())).unwrap();
    start.elapsed()
}

/// The lead's dashboard, `runs` times on a connection of its own each: connect, open it, its
/// view answered and drawn. Prints p50, p99 and the worst, and what the view counted.
async fn dashboard_frames(socket: &Path, runs: usize) {
    let mut firsts = Vec::new();
    for _ in 0..runs {
        firsts.push(dashboard_first_frame(Client::connect(socket).await.unwrap()).await);
    }
    println!(
        "TUI dashboard through the daemon: first frame p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms over {runs} runs (floor 150 ms)",
        pct(&mut firsts, 0.5),
        pct(&mut firsts, 0.99),
        pct(&mut firsts, 1.0)
    );
    let v = Client::connect(socket)
        .await
        .unwrap()
        .call(ops::Dashboard {})
        .await
        .unwrap();
    println!(
        "  the view: {} open orders late, {} due in the next 24 h, {} batches in progress, {} exceptions",
        v.due.late,
        v.due.hours.iter().sum::<u64>(),
        v.wip.len(),
        v.exceptions
    );
}

/// The dashboard phase alone (`--only dashboard`), in a process of its own as a lead's SSH
/// session is.
fn dashboard_client(socket: &Path) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(dashboard_frames(socket, 25));
}

fn tui_client(socket: &Path) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = Client::connect(socket).await.unwrap();
        let (first, mut times) = drive_app(client).await;
        println!(
            "TUI through the daemon: first frame {:.1} ms; scan Enter -> frame p50 {:.2} ms, p99 {:.2} ms",
            first.as_secs_f64() * 1e3,
            pct(&mut times, 0.5),
            pct(&mut times, 0.99)
        );
        // The lead's dashboard, on a connection of its own: connect, open it, its view answered
        // and drawn (the batches claimed above are in progress on it).
        dashboard_frames(socket, 25).await;
    });
    println!(
        "TUI client peak RSS: {:.1} MiB",
        status_kib("VmHWM") as f64 / 1024.0
    );
}

/// `--only hostile`: a well-behaved picker scanning while another process keeps
/// `--connections` hostile connections (500 by default) on the daemon's socket for `--secs`:
/// garbage, lengths past the frame limit, frames half sent and left, frames trickled a byte at
/// a time, and requests sent by a client that never reads. The picker's scans before, during
/// and after; the daemon's RSS (this process: the hostile clients run in their own).
async fn hostile_phase(
    service: &std::sync::Arc<Service>,
    socket: &Path,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    serve_on(service, socket, stop);
    let svc = service.clone();
    tokio::task::spawn_blocking(move || svc.wait_for_counts())
        .await
        .unwrap();
    let mut c = Client::connect(socket).await.unwrap();
    let (mut before, _) = scan_rounds(&mut c, 300).await;
    let rss_before = status_kib("VmRSS:");
    println!(
        "pick scan, 1 client, before: p50 {:.2} ms, p99 {:.2} ms; daemon RSS {} MiB",
        pct(&mut before, 0.5),
        pct(&mut before, 0.99),
        rss_before / 1024
    );
    let connections = arg("--connections").unwrap_or_else(|| "500".into());
    let secs = arg("--secs").unwrap_or_else(|| "20".into());
    let attack = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--phase", "hostile", "--socket", socket.to_str().unwrap()])
        .args(["--connections", &connections, "--secs", &secs])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Let the attack build up, then scan through it, sampling the daemon's memory.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (mut during, mut acked, mut peak) = (Vec::new(), 0, 0u64);
    let deadline =
        Instant::now() + Duration::from_secs(secs.parse::<u64>().unwrap().saturating_sub(5));
    while Instant::now() < deadline {
        let (t, a) = scan_rounds(&mut c, 50).await;
        if t.is_empty() {
            break;
        }
        during.extend(t);
        acked += a;
        peak = peak.max(status_kib("VmRSS:"));
    }
    let out = tokio::task::spawn_blocking(move || attack.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    print!("{}", String::from_utf8_lossy(&out.stdout));
    println!(
        "pick scan, 1 client, under {connections} hostile connections: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({acked}/{} acknowledged); daemon RSS peak {} MiB",
        pct(&mut during, 0.5),
        pct(&mut during, 0.99),
        pct(&mut during, 1.0),
        during.len(),
        peak / 1024
    );
    // The daemon lets go of what the attack held.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (mut after, _) = scan_rounds(&mut c, 300).await;
    let fresh = Client::connect(socket).await.unwrap();
    let served = fresh.call(ops::Hello {}).await.is_ok();
    println!(
        "pick scan, 1 client, after: p50 {:.2} ms, p99 {:.2} ms; daemon RSS {} MiB (high-water {} MiB); a new connection served: {served}",
        pct(&mut after, 0.5),
        pct(&mut after, 0.99),
        status_kib("VmRSS:") / 1024,
        status_kib("VmHWM:") / 1024
    );
}

/// The hostile clients (`--phase hostile`): `connections` threads, each one kind of bad
/// client, reconnecting whenever the daemon closes it, until `secs` are over. Prints what the
/// daemon did with them.
fn hostile_clients(socket: &Path, connections: usize, secs: Duration) {
    use std::io::{Read as _, Write as _};
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
    let until = Instant::now() + secs;
    let opened = std::sync::Arc::new(AtomicU64::new(0));
    let closed = std::sync::Arc::new(AtomicU64::new(0));
    let refused = std::sync::Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..connections)
        .map(|i| {
            let socket = socket.to_owned();
            let (opened, closed, refused) = (opened.clone(), closed.clone(), refused.clone());
            std::thread::spawn(move || {
                while Instant::now() < until {
                    let Ok(mut s) = std::os::unix::net::UnixStream::connect(&socket) else {
                        refused.fetch_add(1, Relaxed);
                        std::thread::sleep(Duration::from_millis(20));
                        continue;
                    };
                    opened.fetch_add(1, Relaxed);
                    let left = until.saturating_duration_since(Instant::now());
                    let _ = s.set_read_timeout(Some(left.max(Duration::from_millis(1))));
                    let _ = s.set_write_timeout(Some(left.max(Duration::from_millis(1))));
                    let mut sink = [0u8; 4096];
                    let sent = match i % 5 {
                        // Garbage.
                        0 => s.write_all(b"\x00\x00\x00\x10not a packline f"),
                        // A length far past the limit.
                        1 => s.write_all(&u32::MAX.to_be_bytes()),
                        // A 4 MiB frame announced, half sent, and left.
                        2 => s
                            .write_all(&(4u32 << 20).to_be_bytes())
                            .and_then(|()| s.write_all(&vec![b' '; 2 << 20])),
                        // A frame trickled a byte at a time.
                        3 => (|| {
                            s.write_all(&1000u32.to_be_bytes())?;
                            while Instant::now() < until {
                                s.write_all(b" ")?;
                                std::thread::sleep(Duration::from_millis(500));
                            }
                            Ok(())
                        })(),
                        // Requests sent, replies never read.
                        _ => (|| {
                            // A well-formed request of this protocol: the daemon serves it,
                            // and its replies pile up unread.
                            let frame = serde_json::to_vec(&serde_json::json!({
                                "id": 1,
                                "protocol": packline::service::server::PROTOCOL,
                                "request": { "op": "queue", "offset": 0, "limit": 500 }
                            }))
                            .unwrap();
                            let len = (frame.len() as u32).to_be_bytes();
                            while Instant::now() < until {
                                s.write_all(&len)?;
                                s.write_all(&frame)?;
                            }
                            Ok(())
                        })(),
                    };
                    // Whatever it sent, it waits for the daemon to close it (reading nothing
                    // but the end).
                    if sent.is_ok() && i % 5 != 4 {
                        while matches!(s.read(&mut sink), Ok(n) if n > 0) {}
                    }
                    if Instant::now() < until {
                        closed.fetch_add(1, Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
    println!(
        "  hostile clients: {connections} at once for {} s; {} connections opened, {} closed by the daemon before the end, {} connects refused by the OS",
        secs.as_secs(),
        opened.load(Relaxed),
        closed.load(Relaxed),
        refused.load(Relaxed)
    );
}
