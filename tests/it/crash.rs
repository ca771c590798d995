//! The crash harness: the real binary killed with SIGKILL at random moments of a sync, an
//! import, and a label purchase, against the training marketplace; after each kill the work is
//! finished by a fresh process and every invariant checked:
//! - the store opens and `packline check` finds nothing wrong; `audit verify` passes;
//! - the order set is the marketplace's (a sync) or the files' (an import), each order once,
//!   and every stored order is accounted for by an import entry of the audit log;
//! - no label was bought twice for an order (the marketplace's request log);
//! - no recipient's name is anywhere in plaintext under the data directory.
//!
//! `PACKLINE_CRASH_RUNS` sets how many runs (one kill each; 36 by default, for CI);
//! `scripts/crash --runs N` runs more in a release build, and `scripts/bench crash` 1,000.
//! The report line says runs, kills and violations; any violation fails.
//!
//! Beside it: a full disk (a small tmpfs the test fills), and every file of a data directory
//! damaged in turn.

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use rand::{Rng, SeedableRng};

fn runs() -> usize {
    std::env::var("PACKLINE_CRASH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(40)
}

/// Starts `cmd`, kills it with SIGKILL after `after` (if it is still running); whether it was
/// killed before it finished.
fn kill_after(mut cmd: Command, after: Duration) -> bool {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + after;
    loop {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Claims a batch of one order and picks it whole: the order and the SKUs of its units.
fn pick_one(site: &Site) -> (String, Vec<String>) {
    let claim = site.ok(&["pick", "claim", "--size", "1", "--json"]);
    let claim: serde_json::Value = serde_json::from_str(&claim).unwrap();
    let order = claim["orders"][0].as_str().unwrap().to_owned();
    let b = claim["id"].as_u64().unwrap().to_string();
    let mut skus = Vec::new();
    for l in claim["lines"].as_array().unwrap() {
        for _ in 0..l["needed"].as_u64().unwrap() {
            let sku = l["sku"].as_str().unwrap().to_owned();
            site.ok(&["pick", "scan", &b, &sku]);
            skus.push(sku);
        }
    }
    site.ok(&["pick", "finish", &b]);
    (order, skus)
}

/// Packs a picked order in one box "S" of 500 g.
fn pack(site: &Site, order: &str, skus: &[String]) {
    site.ok(&["pack", "start", order]);
    for sku in skus {
        site.ok(&["pack", "scan", order, sku]);
    }
    site.ok(&["pack", "finish", order, "--box", "S", "--weight", "500"]);
}

/// Where a failed run's data directory is kept: under the build's target directory, so a
/// clean removes it.
fn kept_dir(run: usize) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/crash-kept")
        .join(format!("run-{run}-{}", std::process::id()))
}

/// The recipients' names the marketplace holds for its orders (read with a token, as packline
/// would), to look for on disk.
fn recipient_names(m: &Marketplace) -> Vec<String> {
    let (_, token) = http_send(
        m,
        "POST",
        "/auth/o2/token",
        &[("content-type", "application/x-www-form-urlencoded")],
        "grant_type=refresh_token&refresh_token=t&client_id=t&client_secret=t",
    );
    let token: serde_json::Value = serde_json::from_str(&token).unwrap();
    let token = token["access_token"].as_str().unwrap().to_owned();
    let mut names = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let mut path = "/orders/2026-01-01/orders?createdAfter=2020-01-01T00:00:00Z&marketplaceIds=ATVPDKIKX0DER&includedData=RECIPIENT".to_owned();
        if let Some(t) = &next {
            path.push_str(&format!("&paginationToken={t}"));
        }
        let (status, body) = http_with(m, "GET", &path, &[("x-amz-access-token", &token)]);
        assert_eq!(status, 200, "{body}");
        let page: serde_json::Value = serde_json::from_str(&body).unwrap();
        for o in page["orders"].as_array().unwrap() {
            if let Some(n) = o["recipient"]["deliveryAddress"]["name"].as_str() {
                names.push(n.to_owned());
            }
        }
        next = page["pagination"]["nextToken"].as_str().map(str::to_owned);
        if next.is_none() {
            return names;
        }
    }
}

/// The order ids the marketplace lists as still to ship.
fn actionable(m: &Marketplace) -> BTreeSet<String> {
    let book: Vec<serde_json::Value> = training_book(m);
    book.iter()
        .filter(|o| {
            matches!(
                o["fulfillmentStatus"].as_str(),
                Some("UNSHIPPED" | "PARTIALLY_SHIPPED")
            )
        })
        .map(|o| o["orderId"].as_str().unwrap().to_owned())
        .collect()
}

fn stored(site: &Site) -> Vec<String> {
    let out = site.ok(&["orders", "list", "--json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    rows.iter()
        .map(|r| r["order_id"].as_str().unwrap().to_owned())
        .collect()
}

/// Every invariant after a run; the violations found.
fn violations(site: &Site, names: &[String], expected: Option<&BTreeSet<String>>) -> Vec<String> {
    let mut v = Vec::new();
    let check = site.run_unlocked(&["check", "--json"]);
    if !check.status.success() {
        v.push(format!(
            "check: {}{}",
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr)
        ));
    }
    let audit = site.run(&["audit", "verify"]);
    if !audit.status.success() {
        v.push(format!(
            "audit verify: {}",
            String::from_utf8_lossy(&audit.stderr)
        ));
    }
    let ids = stored(site);
    let set: BTreeSet<String> = ids.iter().cloned().collect();
    if set.len() != ids.len() {
        v.push("an order is listed twice".into());
    }
    if let Some(want) = expected
        && &set != want
    {
        v.push(format!(
            "the order set differs: {} stored, {} expected",
            set.len(),
            want.len()
        ));
    }
    // Every stored order is accounted for by an import entry written before it was stored.
    let accounted: u64 = audit_entries(&site.data)
        .iter()
        .filter(|e| e["action"] == "import")
        .filter_map(|e| {
            let reason = e["reason"].as_str()?;
            reason.split(" new").next()?.trim().parse::<u64>().ok()
        })
        .sum();
    if (set.len() as u64) > accounted {
        v.push(format!(
            "{} orders stored, {accounted} accounted for by import entries",
            set.len()
        ));
    }
    let finders: Vec<(usize, memchr::memmem::Finder)> = names
        .iter()
        .filter(|n| n.len() >= 6)
        .map(|n| (n.len(), memchr::memmem::Finder::new(n.as_bytes())))
        .collect();
    for f in files_under(&site.data) {
        let bytes = std::fs::read(&f).unwrap_or_default();
        if let Some((len, _)) = finders.iter().find(|(_, fi)| fi.find(&bytes).is_some()) {
            let n = len;
            v.push(format!(
                "a recipient's name ({n} bytes) is in plaintext in {}",
                f.display()
            ));
        }
    }
    v
}

#[test]
fn kill_nine_at_random_moments_loses_nothing_and_buys_nothing_twice() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(
        std::env::var("PACKLINE_CRASH_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(20261201),
    );
    // Each label run ships one of the marketplace's orders: a fresh marketplace every
    // `MARKET_RUNS` runs keeps orders to pick however many runs there are.
    const MARKET_RUNS: usize = 100;
    let fresh = || {
        let m = marketplace(120, "1000");
        let names = recipient_names(&m);
        assert!(names.len() >= 100, "{}", names.len());
        let (creds, amazon) = amazon_config(&m);
        (m, names, creds, amazon)
    };
    let (mut m, mut names, mut _creds, mut amazon) = fresh();
    let boxes = "[floor]\nboxes = [{ name = \"S\", mm = [200, 150, 100] }]\n";
    let from = SHIP_FROM;
    let mut generator = packline::marketplace::seed::OrderGenerator::new(11, chrono::Utc::now());
    let (mut kills, mut all) = (0, Vec::new());
    // How long each scenario's killed command takes when left alone (measured by the run that
    // finishes its work): a kill lands anywhere in it.
    let mut took = [Duration::from_millis(300); 4];
    let timed = |site: &Site, args: &[&str]| {
        let start = Instant::now();
        site.ok(args);
        start.elapsed()
    };
    for run in 0..runs() {
        if run > 0 && run % MARKET_RUNS == 0 {
            (m, names, _creds, amazon) = fresh();
        }
        let scenario = run % 4;
        // Scenario 3 buys through the Shipping API v2, the others through Merchant Fulfillment.
        let api = if scenario == 3 {
            "shipping-v2"
        } else {
            "mfn-v0"
        };
        let site = Site::new(&format!("{amazon}{boxes}[shipping]\napi = {api:?}\n{from}"));
        site.init_identity_keys();
        // A command that fails outright (the store will not open, say) is a violation too: the
        // run's data directory is kept for inspection and the harness goes on.
        let body = std::panic::AssertUnwindSafe(|| match scenario {
            // A sync killed partway, then finished.
            0 => {
                let mut c = site.cmd();
                c.args(["sync", "--once"]);
                kills += usize::from(kill_after(c, took[0].mul_f64(rng.gen_range(0.0..1.0))));
                took[0] = timed(&site, &["sync", "--once"]).max(Duration::from_millis(20));
                violations(&site, &names, Some(&actionable(&m)))
            }
            // An import of three pages killed partway, then run again whole.
            1 => {
                let mut files = Vec::new();
                let mut ids = BTreeSet::new();
                for i in 0..3 {
                    let page = generator.page(100);
                    for o in page["orders"].as_array().unwrap() {
                        ids.insert(o["orderId"].as_str().unwrap().to_owned());
                    }
                    files.push(site.write_page(&format!("p{i}.json"), &page));
                }
                let paths: Vec<&str> = files.iter().map(|p| p.to_str().unwrap()).collect();
                let mut c = site.cmd();
                c.arg("import").args(&paths);
                kills += usize::from(kill_after(c, took[1].mul_f64(rng.gen_range(0.0..1.0))));
                took[1] = timed(&site, &[&["import"][..], &paths].concat())
                    .max(Duration::from_millis(20));
                let mut page_names = names.clone();
                for f in &files {
                    let page: serde_json::Value =
                        serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap();
                    for o in page["orders"].as_array().unwrap() {
                        if let Some(n) = o["recipient"]["deliveryAddress"]["name"].as_str() {
                            page_names.push(n.to_owned());
                        }
                    }
                    // The files themselves hold names: they are not part of the store.
                    std::fs::remove_file(f).unwrap();
                }
                violations(&site, &page_names, Some(&ids))
            }
            // A label purchase killed partway: whatever happened, never a second label; with
            // the Shipping API v2 the next try always ends Labelled (the same key settles it).
            _ => {
                let (purchase, slot) = if scenario == 3 {
                    ("purchaseShipment", 3)
                } else {
                    ("createShipment", 2)
                };
                site.ok(&["sync", "--once"]);
                let (order, skus) = pick_one(&site);
                pack(&site, &order, &skus);
                let mut c = site.cmd();
                c.args(["label", "buy", &order]);
                let start = Instant::now();
                let killed = kill_after(c, took[slot].mul_f64(rng.gen_range(0.0..1.0)));
                kills += usize::from(killed);
                if !killed {
                    took[slot] = start.elapsed().max(Duration::from_millis(20));
                }
                // A second try: refused (bought, or unknown and for a lead), or the first never
                // left; with v2 it sends a purchase in flight again under its key.
                let _ = site.run(&["label", "buy", &order]);
                let mut v = violations(&site, &names, None);
                let bought = request_log(&m)
                    .iter()
                    .filter(|r| {
                        r["operation"] == purchase
                            && r["status"] == 200
                            && r["params"]["orderId"] == order.as_str()
                            && r["params"]["replay"] != "true"
                    })
                    .count();
                if bought > 1 {
                    v.push(format!("order {order}: {bought} labels bought"));
                }
                if scenario == 3 {
                    let looked = site.ok(&["lookup", "--order", &order, "--json"]);
                    let looked: serde_json::Value = serde_json::from_str(&looked).unwrap();
                    if looked["state"] != "labelled" || bought != 1 {
                        v.push(format!(
                            "order {order}: {} with {bought} purchase(s) after a second try",
                            looked["state"]
                        ));
                    }
                }
                v
            }
        });
        let v = std::panic::catch_unwind(body).unwrap_or_else(|panic| {
            let why = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            let kept = kept_dir(run);
            let _ = copy_dir(&site.data, &kept);
            vec![format!(
                "a command failed ({}); its data directory is kept in {}",
                why.lines().next().unwrap_or(""),
                kept.display()
            )]
        });
        for x in v {
            all.push(format!("run {run} (scenario {scenario}): {x}"));
        }
    }
    println!(
        "crash harness: {} runs, {kills} kills, {} violations",
        runs(),
        all.len()
    );
    assert!(all.is_empty(), "{}", all.join("\n"));
    assert!(
        kills * 2 >= runs(),
        "most runs were cut short: {kills} of {}",
        runs()
    );
}

/// A tmpfs of `mb` MiB mounted (as root) for one test, unmounted when dropped.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(at: &std::path::Path, mb: u32) -> Tmpfs {
        std::fs::create_dir_all(at).unwrap();
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={mb}m,mode=0700"),
                "tmpfs",
            ])
            .arg(at)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mount: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs(at.to_owned())
    }

    /// Fills what is left of the filesystem with one file; its path.
    fn fill(&self) -> std::path::PathBuf {
        use std::io::Write as _;
        let path = self.0.join("filler");
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap();
        for chunk in [1 << 20, 4096, 1] {
            let buf = vec![0u8; chunk];
            while f.write_all(&buf).is_ok() {}
        }
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// The disk holding the data directory fills up with work on the floor: every change is
/// refused before it starts, naming the disk and what to do, while the store still opens to
/// read; nothing stored is lost, no label is bought, no import is half done; once space
/// returns, the same commands finish the work.
#[test]
fn a_full_disk_fails_each_command_clearly_and_loses_nothing() {
    if !crate::common::tools::have(&[crate::common::tools::Tool::Tmpfs]) {
        return;
    }
    let m = marketplace(30, "1000");
    let (_creds, amazon) = amazon_config(&m);
    let boxes = "[floor]\nboxes = [{ name = \"S\", mm = [200, 150, 100] }]\n";
    let from = SHIP_FROM;
    let mut site = Site::new(&format!(
        "{amazon}{boxes}[shipping]\napi = \"shipping-v2\"\n{from}"
    ));
    let disk = Tmpfs::mount(&site.dir.path().join("disk"), 192);
    site.data = disk.0.join("data");
    site.init_identity_keys();
    let reserve = site.data.join(packline::store::space::RESERVE_FILE);
    assert!(reserve.exists(), "a new store keeps a space reserve");
    site.ok(&["sync", "--once"]);
    let synced: BTreeSet<String> = stored(&site).into_iter().collect();
    assert_eq!(synced, actionable(&m));
    let (packed, skus) = pick_one(&site);
    pack(&site, &packed, &skus);
    let (picked, picked_skus) = pick_one(&site);
    // Orders of another shop: past the marketplace's order numbers.
    let mut generator = packline::marketplace::seed::OrderGenerator::new(5, chrono::Utc::now());
    generator.page(30);
    let page = generator.page(2000);
    let imported: BTreeSet<String> = page["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["orderId"].as_str().unwrap().to_owned())
        .collect();
    let file = site.write_page("big.json", &page);
    let file = file.to_str().unwrap();

    let filler = disk.fill();
    // The last pick moved sled's log past its snapshot, so the next open must write one: the
    // store gives up its reserve for it, and opens to read.
    let audit_before = audit_entries(&site.data).len();
    assert!(!reserve.exists(), "the reserve was given up for the open");
    assert_eq!(stored(&site).into_iter().collect::<BTreeSet<_>>(), synced);
    let data = site.data.display().to_string();
    for args in [
        &["sync", "--once"][..],
        &["import", file],
        &["pick", "claim", "--size", "1"],
        &["pack", "start", &picked],
        &["label", "buy", &packed],
        &[
            "ship",
            &packed,
            "--carrier",
            "UPS",
            "--tracking",
            "1Z999AA10123456784",
        ],
    ] {
        let out = site.run(args);
        let err = stderr(&out);
        assert!(!out.status.success(), "{args:?} worked on a full disk");
        assert!(
            err.contains(&format!("the disk holding {data} is full"))
                && err.contains("Nothing was changed: free space on that disk"),
            "{args:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
    let look: serde_json::Value =
        serde_json::from_str(&site.ok(&["lookup", "--order", &packed, "--json"])).unwrap();
    assert_eq!(look["state"], "packed", "{look}");
    site.ok_unlocked(&["check"]);
    site.ok(&["audit", "verify"]);
    assert_eq!(count_requests(&m, "purchaseShipment"), 0);
    assert_eq!(count_requests(&m, "confirmShipment"), 0);
    assert_eq!(stored(&site).into_iter().collect::<BTreeSet<_>>(), synced);
    assert_eq!(audit_entries(&site.data).len(), audit_before);

    // Space returns: the same commands do the work, and the reserve is back.
    std::fs::remove_file(&filler).unwrap();
    site.ok(&["sync", "--once"]);
    assert!(
        reserve.exists(),
        "the reserve comes back once there is room"
    );
    site.ok(&["import", file]);
    pack(&site, &picked, &picked_skus);
    site.ok(&["label", "buy", &packed, "--no-print"]);
    assert_eq!(count_requests(&m, "purchaseShipment"), 1);
    let all: BTreeSet<String> = stored(&site).into_iter().collect();
    assert_eq!(all, synced.union(&imported).cloned().collect());
    site.ok_unlocked(&["check"]);
    site.ok(&["audit", "verify"]);
}

/// Each file of a data directory damaged in turn (cut short, or bytes changed in what it
/// holds): a command either works with everything there or fails with a clear error naming the
/// damaged file and what to do, never a panic, and `check` says the same; the index, which is
/// derived from the store, is built again instead.
#[test]
fn each_damaged_file_is_named_and_nothing_panics() {
    let base = Site::new("");
    base.init_identity_keys();
    let people: Vec<Person> = (1..=40)
        .map(|i| {
            person(
                &format!("906-0000000-00000{i:02}"),
                &format!("Damage Person {i}"),
            )
        })
        .collect();
    base.import(
        "a.json",
        &page(&people, "UNSHIPPED", "2026-11-23T10:00:00Z"),
    );
    base.ok_unlocked(&["lookup", "--name", "Damage Person 7"]);
    let (mut seen, mut repaired) = (BTreeSet::new(), Vec::new());
    for f in files_under(&base.data) {
        let rel = f.strip_prefix(&base.data).unwrap().to_owned();
        let name = rel.display().to_string();
        for how in ["cut short", "edited"] {
            let site = Site::new("");
            copy_dir(&base.data, &site.data).unwrap();
            std::fs::copy(&base.key, &site.key).unwrap();
            let target = site.data.join(&rel);
            let mut bytes = std::fs::read(&target).unwrap();
            // What the file holds ends at its last non-zero byte (sled's log is mostly zeros).
            let end = bytes.iter().rposition(|b| *b != 0).unwrap_or(0);
            if how == "cut short" {
                bytes.truncate(end / 2);
            } else {
                for b in bytes.iter_mut().skip(end / 2).take(16) {
                    *b ^= 0x5a;
                }
            }
            std::fs::write(&target, &bytes).unwrap();
            let what = format!("{name} {how}");
            let list = site.run_unlocked(&["orders", "list", "--json"]);
            let lookup = site.run_unlocked(&["lookup", "--name", "Damage Person 7"]);
            let check = site.run_unlocked(&["check"]);
            for out in [&list, &lookup, &check] {
                assert!(!stderr(out).contains("panicked"), "{what}: {}", stderr(out));
            }
            let data = site.data.display().to_string();
            let named = |needle: &str| {
                for (args, out) in [
                    ("orders list", &list),
                    ("lookup", &lookup),
                    ("check", &check),
                ] {
                    let err = stderr(out);
                    assert!(!out.status.success(), "{what}: {args} worked");
                    assert!(
                        err.contains(needle) && err.contains("packline restore"),
                        "{what}: {args}: {err}"
                    );
                }
            };
            if name == "keyring.json" {
                named(&format!("keyring {data}/keyring.json is damaged"));
            } else if name == "db/conf" {
                named(&format!(
                    "is damaged (its file {data}/db/conf does not check out)"
                ));
            } else if name.starts_with("db/snap.") {
                named(&format!(
                    "is damaged (its snapshot {data}/{name} does not check out)"
                ));
            } else if name == "db/db" {
                named(&format!(
                    "the store in {data}/db is damaged (its log {data}/db/db"
                ));
            } else if name.starts_with("index/") {
                // The floor goes on: the orders list, and a name lookup finds its order once the
                // index is whole again (check says when it is not, and what to do).
                assert_ok(&list, &["orders", "list"]);
                let found = String::from_utf8_lossy(&lookup.stdout).contains("906-0000000-0000007");
                if !found || !check.status.success() {
                    let report = String::from_utf8_lossy(&check.stdout);
                    assert!(
                        report.contains("index:") && report.contains("it is built again"),
                        "{what}: lookup found it: {found}; {report}"
                    );
                    std::fs::remove_dir_all(site.data.join("index")).unwrap();
                    repaired.push(what.clone());
                }
                let again = site.ok_unlocked(&["lookup", "--name", "Damage Person 7"]);
                assert!(again.contains("906-0000000-0000007"), "{what}: {again}");
                site.ok_unlocked(&["check"]);
            } else {
                panic!("a file this test does not know: {name}");
            }
            seen.insert(name.split('.').next().unwrap().to_owned());
        }
    }
    for f in [
        "keyring",
        "db/conf",
        "db/snap",
        "db/db",
        "index/conf",
        "index/snap",
        "index/db",
    ] {
        assert!(seen.contains(f), "no {f} damaged: {seen:?}");
    }
    // Damage sled takes for a torn end of the index's log loses entries silently: check
    // finds them missing.
    assert!(!repaired.is_empty(), "check never had an index to repair");
}
