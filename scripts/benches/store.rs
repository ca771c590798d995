//! Store benchmark (run with `scripts/bench`): import rate, store open time, memory, and lookup
//! times for a generated store. Figures are measured here, never asserted in a test.
//!
//! The import runs in this process; open, lookups and RSS are measured in a fresh child process
//! (this binary re-run with `--phase read`), so their memory figures are not inflated by the import.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use packline::amazon::parse_search_orders;
use packline::domain::OrderId;
use packline::marketplace::seed::OrderGenerator;
use packline::store::{MasterSource, Store};

// The same allocator as the packline binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const PAGE: usize = 100;
const PAGES_PER_IMPORT: usize = 10;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    // `--phase open --dir DIR`: in this fresh process, open the store, then its index database;
    // prints "OPEN_MS INDEX_MS RSS_MIB" (also handy for profiling the open alone).
    if arg("--phase").as_deref() == Some("open") {
        let start = Instant::now();
        let store = Store::open(Path::new(&arg("--dir").expect("--dir"))).unwrap();
        let open = start.elapsed();
        let rss = status_kib("VmRSS") / 1024;
        let start = Instant::now();
        store.open_index().unwrap();
        let index = start.elapsed();
        println!(
            "{} {} {rss} {}",
            ms(open),
            ms(index),
            status_kib("VmRSS") / 1024
        );
        return;
    }
    // `--phase day --dir DIR [--orders N]`: what a day of work leaves for the next open to
    // replay: opens the store, imports N (default 2,000) orders new to it, closes without the
    // checkpoint a bulk import ends with.
    if arg("--phase").as_deref() == Some("day") {
        let mut store = Store::open(Path::new(&arg("--dir").expect("--dir"))).unwrap();
        let n: usize = arg("--orders").map_or(2_000, |s| s.parse().expect("--orders N"));
        let mut generator = OrderGenerator::new(Utc::now().timestamp() as u64, Utc::now());
        for _ in 0..n.div_ceil(PAGE) {
            let page = serde_json::to_vec(&generator.page(PAGE)).unwrap();
            let orders = parse_search_orders(&page, "bench").unwrap().orders;
            store.import(orders, "bench", Utc::now()).unwrap();
        }
        return;
    }
    // `--phase upgrade --dir DIR`: in this fresh process, open a store of schema 1 (upgraded
    // at open); prints "SECONDS PEAK_RSS_MIB".
    if arg("--phase").as_deref() == Some("upgrade") {
        let start = Instant::now();
        drop(Store::open(Path::new(&arg("--dir").expect("--dir"))).unwrap());
        println!(
            "{:.1} {}",
            start.elapsed().as_secs_f64(),
            status_kib("VmHWM") / 1024
        );
        return;
    }
    if arg("--phase").as_deref() == Some("read") {
        read_phase(
            Path::new(&arg("--dir").expect("--dir")),
            arg("--orders").unwrap().parse().unwrap(),
        );
        return;
    }
    let orders: usize = arg("--orders")
        .map(|s| s.parse().expect("--orders N"))
        .unwrap_or(1_000_000);
    // `--keep DIR` builds the store in DIR and leaves it there for inspection.
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = arg("--keep")
        .map(PathBuf::from)
        .unwrap_or_else(|| tmp.path().to_owned());
    let data = root.join("data");
    let key = root.join("master.key");
    let t0: DateTime<Utc> = DateTime::parse_from_rfc3339("2026-11-23T08:00:00Z")
        .unwrap()
        .into();
    Store::init_keys(&data, &MasterSource::IdentityFile(key.clone()), "lead", t0).unwrap();

    println!(
        "store benchmark: {orders} orders, pages of {PAGE}, {PAGES_PER_IMPORT} pages per import call"
    );
    let mut store = Store::open(&data).unwrap();
    // A running daemon is normally unlocked during a shift: names are indexed at import.
    store
        .unlock(&MasterSource::IdentityFile(key.clone()))
        .unwrap();
    let mut generator = OrderGenerator::new(42, t0);
    let mut import_time = Duration::ZERO;
    let mut parse_time = Duration::ZERO;
    let mut done = 0usize;
    while done < orders {
        let n = (orders - done).min(PAGE * PAGES_PER_IMPORT);
        // Generation is the marketplace's work, not the import's: it is not timed.
        let pages: Vec<Vec<u8>> = (0..n.div_ceil(PAGE))
            .map(|i| serde_json::to_vec(&generator.page(PAGE.min(n - i * PAGE))).unwrap())
            .collect();
        let start = Instant::now();
        let mut batch = Vec::with_capacity(n);
        for p in &pages {
            batch.extend(parse_search_orders(p, "bench").unwrap().orders);
        }
        parse_time += start.elapsed();
        let c = store.import(batch, "bench", t0).unwrap();
        import_time += start.elapsed();
        assert_eq!(c.new as usize, n);
        done += n;
        if done.is_multiple_of(100_000) {
            eprintln!(
                "  {done} imported, {:.0} orders/s so far",
                done as f64 / import_time.as_secs_f64()
            );
        }
    }
    println!(
        "import: {done} orders in {:.1} s = {:.0} orders/s (parse {:.1} s; seal, index, store, flush the rest; one thread)",
        import_time.as_secs_f64(),
        done as f64 / import_time.as_secs_f64(),
        parse_time.as_secs_f64()
    );
    println!(
        "import process peak RSS: {} MiB",
        status_kib("VmHWM") / 1024
    );
    let start = Instant::now();
    let store = store.checkpoint().unwrap();
    println!(
        "checkpoint after import (so the next open replays nothing): {:.1} s",
        start.elapsed().as_secs_f64()
    );
    drop(store);
    println!(
        "store size on disk: {} MiB",
        dir_size(&data) / (1024 * 1024)
    );

    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--phase",
            "read",
            "--dir",
            data.to_str().unwrap(),
            "--orders",
            &orders.to_string(),
        ])
        .env("PACKLINE_BENCH_KEY", &key)
        .output()
        .unwrap();
    print!("{}", String::from_utf8_lossy(&out.stdout));
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    upgrade_phase(&data, orders);
}

/// The same store as schema 1 wrote it (an import-only store differs from it only in the
/// schema mark: its records kept their layouts), upgraded by an open in a fresh process.
fn upgrade_phase(data: &Path, orders: usize) {
    {
        let db = packline::store::raw_db(data).unwrap();
        db.open_tree("meta").unwrap().remove(b"schema").unwrap();
        db.flush().unwrap();
    }
    let before = dir_size(data);
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--phase", "upgrade", "--dir", data.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let f: Vec<&str> = text.split_whitespace().collect();
    if !out.status.success() || f.len() != 2 {
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
        panic!("the upgrade failed");
    }
    println!(
        "upgrade of a schema-1 store of {orders} orders to schema {}: {} s in a fresh process, peak RSS {} MiB; store {} MiB before, {} MiB after",
        packline::store::records::SCHEMA,
        f[0],
        f[1],
        before / (1024 * 1024),
        dir_size(data) / (1024 * 1024)
    );
}

/// In a fresh process: open time, RSS after open, lookups by id and by name.
fn read_phase(data: &Path, orders: usize) {
    // Each open in a process of its own, as a CLI command or a daemon start meets it.
    let mut runs: Vec<(f64, f64, u64, u64)> = (0..5)
        .map(|_| {
            let out = std::process::Command::new(std::env::current_exe().unwrap())
                .args(["--phase", "open", "--dir", data.to_str().unwrap()])
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            let f: Vec<&str> = text.split_whitespace().collect();
            (
                f[0].parse().unwrap(),
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
                f[3].parse().unwrap(),
            )
        })
        .collect();
    let firsts: Vec<String> = runs.iter().map(|r| format!("{:.1}", r.0)).collect();
    runs.sort_by(|a, b| a.0.total_cmp(&b.0));
    println!(
        "store open, 5 fresh processes: median {:.1} ms, max {:.1} ms (in run order: {} ms); RSS after open {} MiB",
        runs[2].0,
        runs[4].0,
        firsts.join(", "),
        runs[2].2
    );
    runs.sort_by(|a, b| a.1.total_cmp(&b.1));
    println!(
        "index database open after it (first import or name search; the daemon opens it once serving): median {:.1} ms, max {:.1} ms; RSS after both {} MiB",
        runs[2].1, runs[4].1, runs[2].3
    );

    let mut store = Store::open(data).unwrap();
    // Ids the generator made: look up a spread of them.
    let mut generator = OrderGenerator::new(42, Utc::now());
    let step = (orders / 10_000).max(1);
    let mut ids = Vec::new();
    let mut names = Vec::new();
    for i in 0..orders {
        let o = generator.order();
        if i % step == 0 {
            ids.push(OrderId::parse(o["orderId"].as_str().unwrap()).unwrap());
            if names.len() < 200 {
                names.push(
                    o["recipient"]["deliveryAddress"]["name"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                );
            }
        }
    }
    let mut by_id = Vec::with_capacity(ids.len());
    for id in &ids {
        let s = Instant::now();
        let r = store.get(id).unwrap();
        by_id.push(s.elapsed());
        assert!(r.is_some());
    }
    report("lookup by order id", &mut by_id);

    let key = PathBuf::from(std::env::var_os("PACKLINE_BENCH_KEY").unwrap());
    let s = Instant::now();
    store.unlock(&MasterSource::IdentityFile(key)).unwrap();
    println!("unlock (identity file): {:.1} ms", ms(s.elapsed()));
    store.open_index().unwrap();
    let mut by_name = Vec::with_capacity(names.len());
    let mut hits = 0usize;
    for n in &names {
        let s = Instant::now();
        let found = store.lookup_name(n, "bench", Utc::now()).unwrap();
        by_name.push(s.elapsed());
        assert!(!found.is_empty());
        hits += found.len();
    }
    report(
        "lookup by full name (incl. audit entry + flush)",
        &mut by_name,
    );
    println!(
        "  mean hits per name: {:.1}",
        hits as f64 / names.len() as f64
    );
    println!(
        "RSS at end: {} MiB, peak {} MiB",
        status_kib("VmRSS") / 1024,
        status_kib("VmHWM") / 1024
    );
}

fn report(what: &str, samples: &mut [Duration]) {
    samples.sort();
    let p = |q: f64| samples[((samples.len() as f64 - 1.0) * q) as usize];
    println!(
        "{what}: n={} p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        samples.len(),
        ms(p(0.5)),
        ms(p(0.99)),
        ms(p(1.0))
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn dir_size(p: &Path) -> u64 {
    std::fs::read_dir(p)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| {
                    let m = e.metadata().unwrap();
                    if m.is_dir() {
                        dir_size(&e.path())
                    } else {
                        m.len()
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}
