//! Records that last: a store written by an earlier packline opens, upgrades and keeps every
//! order, label, return, inquiry and audit entry it held.
//!
//! `tests/fixtures/store-1/` is a store written by schema version 1 (the training floor run
//! through picking, packing, labels, shipment, a return, an inquiry, a hold, an exception and a
//! key rotation), with the identity that unlocks it and `expected.json`: what the store held,
//! as [`fingerprint`] saw it when the fixture was made. Made by `make_store_fixture` (ignored;
//! run it only to make a fixture of a new version, never to replace an old one).

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::path::Path;
use std::time::Duration;

use crate::common::floor::*;
use crate::common::*;
use packline::domain::OrderState;
use packline::service::ops;
use packline::store::Store;
use serde_json::{Value, json};
use sha2::Digest as _;

/// The schema versions of the stores kept as fixtures: each must open in every later version.
const EARLIER: &[u32] = &[1];

/// The fixtures of stores written by earlier versions, by schema version.
const STORES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// What a store holds, as plain JSON: every order with its shipments, packages, hold and
/// exception notes; batches, returns, inquiries, print jobs; a digest of each recipient still
/// kept (never the recipient); the audit log's length.
fn fingerprint(s: &Store) -> Value {
    let mut orders = BTreeMap::new();
    for rec in s.list(None) {
        let rec = rec.unwrap();
        let id = rec.order.id.clone();
        let recipient = s.recipient_for_document(&id).unwrap().map(|r| {
            let mut h = sha2::Sha256::new();
            for part in [
                Some(&r.name),
                r.address_line1.as_ref(),
                r.city.as_ref(),
                r.postal_code.as_ref(),
                r.country_code.as_ref(),
            ] {
                h.update(part.map_or("", |p| p.as_str()).as_bytes());
                h.update([0]);
            }
            format!("{:x}", h.finalize())
        });
        orders.insert(
            id.to_string(),
            json!({
                "record": serde_json::to_value(&rec).unwrap(),
                "shipments": serde_json::to_value(s.shipments(&id).unwrap()).unwrap(),
                "packages": serde_json::to_value(s.packages(&id).unwrap()).unwrap(),
                "hold": serde_json::to_value(s.hold_of(&id).unwrap()).unwrap(),
                "pack_check": serde_json::to_value(s.pack_check(&id).unwrap()).unwrap(),
                "exception_notes": s.exception_notes(&id).unwrap().len(),
                "recipient": recipient,
            }),
        );
    }
    json!({
        "orders": orders,
        "batches": serde_json::to_value(s.batches().unwrap()).unwrap(),
        "returns": serde_json::to_value(s.returns().unwrap()).unwrap(),
        "inquiries": serde_json::to_value(s.inquiries().unwrap()).unwrap(),
        "print_jobs": serde_json::to_value(s.print_jobs().unwrap()).unwrap(),
        "audit_entries": s.verify_audit().unwrap(),
    })
}

/// Every value `expected` holds is in `actual` (objects may have gained fields since).
fn holds(expected: &Value, actual: &Value, at: &str, wrong: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, v) in e {
                match a.get(k) {
                    Some(av) => holds(v, av, &format!("{at}.{k}"), wrong),
                    None => wrong.push(format!("{at}.{k}: missing")),
                }
            }
        }
        (Value::Array(e), Value::Array(a)) if e.len() == a.len() => {
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                holds(ev, av, &format!("{at}[{i}]"), wrong);
            }
        }
        _ if expected == actual => {}
        _ => wrong.push(format!("{at}: expected {expected}, found {actual}")),
    }
}

/// Copies the files of a fixture store (each gzip-compressed, `NAME.gz`) to `to`, unpacked.
fn unpack(from: &Path, to: &Path) {
    for entry in walk(from) {
        let rel = entry.strip_prefix(from).unwrap();
        let Some(name) = rel.to_str().unwrap().strip_suffix(".gz") else {
            continue;
        };
        let out = to.join(name);
        std::fs::create_dir_all(out.parent().unwrap()).unwrap();
        let mut bytes = Vec::new();
        flate2::read::GzDecoder::new(std::fs::File::open(&entry).unwrap())
            .read_to_end(&mut bytes)
            .unwrap();
        std::fs::write(&out, bytes).unwrap();
        // Private to its owner, as packline leaves every file of a store.
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::set_permissions(
            out.parent().unwrap(),
            std::fs::Permissions::from_mode(0o700),
        )
        .unwrap();
    }
}

/// Writes every file under `from` to `to` gzip-compressed as `NAME.gz`.
fn pack(from: &Path, to: &Path) {
    for entry in walk(from) {
        let rel = entry.strip_prefix(from).unwrap();
        let out = to.join(format!("{}.gz", rel.display()));
        std::fs::create_dir_all(out.parent().unwrap()).unwrap();
        let mut gz = flate2::write::GzEncoder::new(
            std::fs::File::create(&out).unwrap(),
            flate2::Compression::best(),
        );
        gz.write_all(&std::fs::read(&entry).unwrap()).unwrap();
        gz.finish().unwrap();
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}

/// The training floor, its printer writing into `spool`.
async fn training_floor(spool: &Path) -> Floor {
    let printer = format!("file://{}", spool.display());
    floor_on(
        marketplace(14, "20"),
        Some(printer),
        Duration::from_secs(10),
    )
    .await
}

/// Runs the floor through every kind of record the store keeps: picking, packing (a unit's
/// Transparency code), labels, a void, a hold, an exception, a slip, the day closed, returns,
/// inquiries, a reveal, a key rotation, a backup written to `backups`.
async fn every_kind_of_record(f: &Floor, backups: &Path) {
    let c = &f.client;

    // Eight orders picked and packed; a ninth, asking Transparency codes, picked and half
    // packed (one unit scanned with its code); two more claimed, one unit picked.
    let packed = pack_orders(c, 8, 4).await;
    let b = c
        .call(ops::ClaimBatch { size: Some(1) })
        .await
        .unwrap()
        .unwrap();
    let coded = b.orders[0].clone();
    http(
        &f.market,
        "POST",
        &format!("/_training/orders/{coded}/transparency"),
    );
    f.service.sync_now("lead").await.unwrap();
    pick_all(c, &b).await;
    let check = c
        .call(ops::PackStart {
            order: coded.to_string(),
        })
        .await
        .unwrap();
    c.call(ops::PackScan {
        order: coded.to_string(),
        code: check.lines[0].sku.clone(),
        unit_codes: vec!["AZ:FIXTURE0000000000000000001".into()],
    })
    .await
    .unwrap();
    let open = c
        .call(ops::ClaimBatch { size: Some(2) })
        .await
        .unwrap()
        .unwrap();
    c.call(ops::PickScan {
        batch: open.id,
        code: open.lines[0].sku.clone(),
    })
    .await
    .unwrap();

    // Labels bought (printed to the spool) for six; one shipped by the seller's own carrier.
    for order in &packed[..6] {
        c.call(ops::BuyLabel {
            order: order.to_string(),
            service: None,
        })
        .await
        .unwrap();
    }
    c.call(ops::ShipOwnCarrier {
        order: packed[6].to_string(),
        carrier: "UPS".into(),
        tracking: vec!["1Z999AA10123456784".into()],
    })
    .await
    .unwrap();
    // One label voided and bought again; one order held with its label; one exception raised
    // and resolved.
    c.call(ops::VoidLabel {
        order: packed[5].to_string(),
        reason: "wrong box".into(),
        package: None,
    })
    .await
    .unwrap();
    c.call(ops::BuyLabel {
        order: packed[5].to_string(),
        service: None,
    })
    .await
    .unwrap();
    c.call(ops::HoldOrder {
        order: packed[4].to_string(),
        reason: "buyer asked to wait".into(),
    })
    .await
    .unwrap();
    c.call(ops::RaiseException {
        order: packed[3].to_string(),
        note: "box crushed".into(),
    })
    .await
    .unwrap();
    c.call(ops::ResolveException {
        order: packed[3].to_string(),
        resume: OrderState::Labelled,
        resolution: "taped it".into(),
    })
    .await
    .unwrap();
    c.call(ops::PrintSlip {
        order: packed[0].to_string(),
        printer: None,
        pdf: false,
    })
    .await
    .unwrap();

    // The day closed: the labelled orders ship.
    let day = c
        .call(ops::Manifest {
            date: None,
            close: true,
        })
        .await
        .unwrap();
    assert!(day.shipped >= 4, "{} shipped", day.shipped);

    // A return received and closed; another opened and left open.
    c.call(ops::OpenReturn {
        code: packed[0].to_string(),
    })
    .await
    .unwrap();
    let sku = f.service.with_store(|s| {
        s.get(&packed[0]).unwrap().unwrap().order.lines[0]
            .sku
            .clone()
    });
    c.call(ops::ReceiveReturn {
        code: packed[0].to_string(),
        unit: sku,
        condition: packline::domain::returns::Condition::Sellable,
        quantity: 1,
    })
    .await
    .unwrap();
    c.call(ops::CloseReturn {
        code: packed[0].to_string(),
    })
    .await
    .unwrap();
    c.call(ops::OpenReturn {
        code: packed[1].to_string(),
    })
    .await
    .unwrap();

    // An inquiry with a note, resolved; another left open.
    use packline::domain::inquiry::{InquiryCategory, NoteText};
    let first = c
        .call(ops::OpenInquiry {
            order: packed[1].to_string(),
            category: InquiryCategory::Other,
            note: NoteText::new("buyer wrote about the lid").unwrap(),
        })
        .await
        .unwrap();
    c.call(ops::NoteInquiry {
        id: first.id,
        note: NoteText::new("sent a new lid").unwrap(),
    })
    .await
    .unwrap();
    c.call(ops::ResolveInquiry {
        id: first.id,
        resolution: NoteText::new("buyer happy").unwrap(),
    })
    .await
    .unwrap();
    c.call(ops::OpenInquiry {
        order: packed[2].to_string(),
        category: InquiryCategory::Other,
        note: NoteText::new("where is it").unwrap(),
    })
    .await
    .unwrap();

    // A reveal (audited), a key rotation, a backup (its manifest in the store).
    c.call(ops::Reveal {
        order: packed[7].to_string(),
        reason: "phone the buyer".into(),
    })
    .await
    .unwrap();
    c.call(ops::KeysRotate {}).await.unwrap();
    c.call(ops::Backup {
        dir: backups.display().to_string(),
    })
    .await
    .unwrap();
}

/// Runs the training floor through every kind of record the store keeps, and keeps the store as
/// the fixture of the current schema version. Run by hand, once per schema version:
/// `cargo test --test records make_store_fixture -- --ignored`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "makes a fixture; run by hand once per schema version"]
async fn make_store_fixture() {
    let version = std::env::var("PACKLINE_FIXTURE_VERSION").expect("PACKLINE_FIXTURE_VERSION=N");
    let out = Path::new(STORES).join(format!("store-{version}"));
    assert!(
        !out.exists(),
        "{} exists: never replace a fixture",
        out.display()
    );
    let spool = tempfile::tempdir().unwrap();
    let f = training_floor(spool.path()).await;
    let backups = tempfile::tempdir().unwrap();
    every_kind_of_record(&f, backups.path()).await;

    // The backup, kept beside the store: a restore of it must upgrade too.
    std::fs::create_dir_all(out.join("backup")).unwrap();
    for file in walk(backups.path()) {
        std::fs::copy(&file, out.join("backup").join(file.file_name().unwrap())).unwrap();
    }
    let expected = f.service.with_store(fingerprint);
    let (dir, _market, service) = f.close();
    service.with_store(|s| s.flush().unwrap());
    drop(service);

    let store_dir = out.join("store");
    pack(&dir.path().join("data"), &store_dir);
    std::fs::copy(dir.path().join("master.key"), out.join("master.key")).unwrap();
    std::fs::write(
        out.join("expected.json"),
        serde_json::to_string_pretty(&expected).unwrap(),
    )
    .unwrap();
    eprintln!("fixture written to {}", out.display());
}

/// A fixture store unpacked into a new temporary folder: the folder, its data dir, its identity.
fn fixture_store(version: u32) -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let from = Path::new(STORES).join(format!("store-{version}"));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    unpack(&from.join("store"), &data);
    // The store is private to its owner, as `keys init` leaves it.
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
    let key = dir.path().join("master.key");
    std::fs::copy(from.join("master.key"), &key).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    (dir, data, key)
}

fn expected(version: u32) -> Value {
    let path = Path::new(STORES).join(format!("store-{version}/expected.json"));
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The fingerprint of `data`, opened and unlocked, after `check` found nothing wrong in it
/// (`what` names it in a failure).
fn checked_fingerprint(data: &Path, key: &Path, what: &str) -> Value {
    let mut store = Store::open(data).unwrap();
    store
        .unlock(&packline::store::MasterSource::IdentityFile(key.to_owned()))
        .unwrap();
    let report = store.check().unwrap();
    assert!(
        report.problems.is_empty(),
        "{what}: {:?}",
        report
            .problems
            .iter()
            .map(|p| format!("{}: {}", p.part, p.detail))
            .collect::<Vec<_>>()
    );
    fingerprint(&store)
}

/// `data` opened and unlocked, `check` finding nothing wrong, holding everything the fixture
/// of `version` held; how many more audit entries it has than the fixture's store had.
fn holds_what_it_held(data: &Path, key: &Path, version: u32) -> u64 {
    let mut found = checked_fingerprint(data, key, &format!("store-{version}"));
    let mut want = expected(version);
    let added = found["audit_entries"].as_u64().unwrap() - want["audit_entries"].as_u64().unwrap();
    found["audit_entries"] = json!(null);
    want["audit_entries"] = json!(null);
    let mut wrong = Vec::new();
    holds(&want, &found, "store", &mut wrong);
    assert!(wrong.is_empty(), "store-{version}:\n{}", wrong.join("\n"));
    added
}

/// Every store an earlier version wrote opens in this one, is upgraded once (audited), passes
/// `packline check`, and holds what it held: every order, label, return, inquiry and audit
/// entry.
#[test]
fn stores_of_every_earlier_version_open_and_hold_what_they_held() {
    for &version in EARLIER {
        let want = expected(version);
        let orders = want["orders"].as_object().unwrap();
        assert!(orders.len() >= 14, "{} orders", orders.len());
        let shipped = orders
            .values()
            .filter(|o| o["record"]["state"] == "shipped")
            .count();
        assert!(shipped >= 4, "{shipped} shipped");
        assert!(!want["returns"].as_array().unwrap().is_empty());
        assert!(!want["inquiries"].as_array().unwrap().is_empty());
        assert!(!want["batches"].as_array().unwrap().is_empty());
        assert!(orders.values().any(|o| !o["pack_check"].is_null()));

        let (_dir, data, key) = fixture_store(version);
        assert_eq!(schema(&data), None, "store-{version} records no schema");
        // The upgrade added its own entry to the audit log, and nothing else.
        assert_eq!(holds_what_it_held(&data, &key, version), 1);
        assert_eq!(schema(&data), Some(2));
        let last = last_audit_entry(&data);
        assert_eq!(
            (last["action"].as_str(), last["reason"].as_str()),
            (
                Some("upgrade"),
                Some(format!("schema {version} to 2").as_str())
            )
        );
        // Once: opened again, nothing more is upgraded.
        assert_eq!(holds_what_it_held(&data, &key, version), 1);
        assert!(!data.join("db.upgrade").exists());
    }
}

/// A backup an earlier version made restores into this one, upgraded, holding what it held.
#[test]
fn backups_of_every_earlier_version_restore_upgraded() {
    for &version in EARLIER {
        let from = Path::new(STORES).join(format!("store-{version}"));
        let dir = tempfile::tempdir().unwrap();
        let backup = dir.path().join("backup");
        std::fs::create_dir(&backup).unwrap();
        for f in walk(&from.join("backup")) {
            std::fs::copy(&f, backup.join(f.file_name().unwrap())).unwrap();
        }
        let key = dir.path().join("master.key");
        std::fs::copy(from.join("master.key"), &key).unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        let data = dir.path().join("data");
        packline::store::backup::restore(&backup, &data, chrono::Utc::now()).unwrap();
        assert_eq!(schema(&data), Some(2));
        // The backup was taken before the fixture's last entries; the restore adds its own.
        holds_what_it_held(&data, &key, version);
        let actions: Vec<String> = audit_entries(&data)
            .iter()
            .rev()
            .take(2)
            .map(|e| e["action"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(actions, ["restore", "upgrade"]);
    }
}

/// A store a newer packline wrote is refused, naming both versions, and left as it was.
#[test]
fn a_store_of_a_newer_schema_is_refused_naming_both_versions() {
    let (_dir, data, _key) = fixture_store(1);
    drop(Store::open(&data).unwrap());
    {
        let db = packline::store::raw_db(&data).unwrap();
        db.open_tree("meta")
            .unwrap()
            .insert(b"schema", &7u32.to_be_bytes())
            .unwrap();
        db.flush().unwrap();
    }
    let entries = audit_entries(&data).len();
    let err = Store::open(&data).err().expect("a newer store is refused");
    let text = err.to_string();
    assert!(
        text.contains("schema version 7") && text.contains("reads up to version 2"),
        "{text}"
    );
    assert!(text.contains("run the newer packline"), "{text}");
    assert_eq!(schema(&data), Some(7));
    assert_eq!(audit_entries(&data).len(), entries);
}

/// The schema version a closed store records.
fn schema(data: &Path) -> Option<u32> {
    let db = packline::store::raw_db(data).unwrap();
    db.open_tree("meta")
        .unwrap()
        .get(b"schema")
        .unwrap()
        .map(|v| u32::from_be_bytes(v.as_ref().try_into().unwrap()))
}

/// Every entry of a closed store's audit log, oldest first.
fn audit_entries(data: &Path) -> Vec<Value> {
    let db = packline::store::raw_db(data).unwrap();
    db.open_tree("audit")
        .unwrap()
        .iter()
        .values()
        .map(|v| serde_json::from_slice(&v.unwrap()).unwrap())
        .collect()
}

/// The newest entry of a closed store's audit log.
fn last_audit_entry(data: &Path) -> Value {
    let db = packline::store::raw_db(data).unwrap();
    let (_, v) = db.open_tree("audit").unwrap().last().unwrap().unwrap();
    serde_json::from_slice(&v).unwrap()
}

/// How many upgrades `an_upgrade_killed_at_any_moment_leaves_the_old_store_or_the_new` kills
/// (`PACKLINE_UPGRADE_KILLS`; 30 by default, 1,000 in `scripts/bench crash`).
fn upgrade_kills() -> usize {
    std::env::var("PACKLINE_UPGRADE_KILLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30)
}

/// Print jobs added, in schema 1's layout, to the fixture store the kill test upgrades: enough
/// records that the upgrade takes a while, and a kill lands inside it.
const EXTRA_JOBS: u64 = 40_000;

/// `packline check` on the store in `data`, unlocked with `key`.
fn check_command(home: &Path, data: &Path, key: &Path) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_packline"));
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("PACKLINE_DATA_DIR", data)
        .env("PACKLINE_IDENTITY_FILE", key)
        .args(["check", "--json"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    c
}

/// Copies a data directory as `cp -a` does (modes kept).
fn copy_dir(from: &Path, to: &Path) {
    let ok = std::process::Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap()
        .success();
    assert!(ok, "cp -a {} {}", from.display(), to.display());
}

/// A kill -9 at any moment of an upgrade leaves the old store or the new one, never a mix: the
/// next open finishes (or redoes) the upgrade, `check` finds nothing wrong, and every record is
/// there once.
#[test]
fn an_upgrade_killed_at_any_moment_leaves_the_old_store_or_the_new() {
    use rand::{Rng as _, SeedableRng as _};
    let (dir, data, key) = fixture_store(1);
    {
        let db = packline::store::raw_db(&data).unwrap();
        let floor = db.open_tree("floor").unwrap();
        let order = expected(1)["orders"]
            .as_object()
            .unwrap()
            .keys()
            .next()
            .unwrap()
            .clone();
        let mut batch = sled::Batch::default();
        for i in 0..EXTRA_JOBS {
            let mut k = vec![b'j'];
            k.extend_from_slice(&(1_000_000 + i).to_be_bytes());
            let job = packline::store::records::shipping::PrintJob2 {
                id: 1_000_000 + i,
                order: order.clone(),
                document: packline::store::records::shipping::Document2::SlipZpl,
                printer: "file:/nowhere".into(),
                state: packline::store::records::shipping::JobState2::Sent,
                attempts: 1,
                error: None,
                created: chrono::Utc::now(),
                by: "ann".into(),
            };
            batch.insert(k, postcard::to_stdvec(&job).unwrap());
        }
        floor.apply_batch(batch).unwrap();
        db.flush().unwrap();
    }
    // How long the upgrade and check take when left alone: a kill lands anywhere in that.
    let whole = dir.path().join("whole");
    copy_dir(&data, &whole);
    let started = std::time::Instant::now();
    assert!(
        check_command(dir.path(), &whole, &key)
            .status()
            .unwrap()
            .success()
    );
    // The time of the shortest whole run so far: a machine busy at the first run would
    // otherwise aim later kills past the end of the upgrade.
    let mut took = started.elapsed();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(
        std::env::var("PACKLINE_CRASH_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(20261207),
    );
    let (mut kills, mut mid, mut run) = (0, 0, 0);
    // Runs that end before their kill are run again, up to as many again as were asked for.
    while kills < upgrade_kills() && run < 2 * upgrade_kills() {
        run += 1;
        let at = dir.path().join(format!("run{run}"));
        copy_dir(&data, &at);
        let started = std::time::Instant::now();
        let mut child = check_command(dir.path(), &at, &key).spawn().unwrap();
        let deadline = started + took.mul_f64(rng.gen_range(0.0..1.0));
        loop {
            if child.try_wait().unwrap().is_some() {
                took = took.min(started.elapsed());
                break;
            }
            if std::time::Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                kills += 1;
                // Killed while the copy was being made (or swapped in).
                mid += usize::from(at.join("db.upgrade").exists());
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let mut found = checked_fingerprint(&at, &key, &format!("run {run}"));
        assert_eq!(schema(&at), Some(2), "run {run}");
        let jobs = found["print_jobs"].as_array().unwrap().len() as u64;
        let mut want = expected(1);
        assert_eq!(
            jobs,
            want["print_jobs"].as_array().unwrap().len() as u64 + EXTRA_JOBS,
            "run {run}"
        );
        let upgrades = audit_entries(&at)
            .iter()
            .filter(|e| e["action"] == "upgrade")
            .count();
        assert_eq!(upgrades, 1, "run {run}: one upgrade entry");
        for v in [&mut found, &mut want] {
            v["print_jobs"] = json!(null);
            v["audit_entries"] = json!(null);
        }
        let mut wrong = Vec::new();
        holds(&want, &found, "store", &mut wrong);
        assert!(wrong.is_empty(), "run {run}:\n{}", wrong.join("\n"));
        std::fs::remove_dir_all(&at).unwrap();
    }
    eprintln!(
        "upgrade kills: {run} runs, {kills} kills ({mid} during the copy), upgrade and check alone {:.0} ms",
        took.as_secs_f64() * 1000.0
    );
    assert_eq!(
        kills,
        upgrade_kills(),
        "{run} runs, and only {kills} of them were cut short"
    );
    assert!(mid > 0, "no kill landed inside the upgrade");
}

/// Golden bytes: each record kind's current format, as the version that introduced it wrote
/// one sample value. `PACKLINE_WRITE_GOLDEN=1` writes a file that is missing (a new kind or a
/// new format); an existing file is never written over.
const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/records");

mod golden {
    use super::*;
    use packline::domain::inquiry::NoteMeta;
    use packline::domain::returns::{Condition, Received, ReturnKey, ReturnLine, ReturnRecord};
    use packline::domain::*;
    use packline::store::floor::ItemCodes;
    use packline::store::notes::{StoredException, StoredHold, StoredText};
    use packline::store::records::{self, Record};
    use packline::store::shipping::{Document, JobState, PrintJob};

    fn t(s: &str) -> chrono::DateTime<chrono::Utc> {
        s.parse().unwrap()
    }

    fn id(s: &str) -> OrderId {
        OrderId::parse(s).unwrap()
    }

    /// The file of `name` in `R`'s current format decodes to `value`, and `value` encodes to
    /// exactly its bytes.
    fn holds<R: Record>(name: &str, value: &R::Value)
    where
        R::Value: PartialEq + std::fmt::Debug,
    {
        let path = Path::new(GOLDEN).join(format!("{name}.{}.bin", R::FORMAT));
        if !path.exists() && std::env::var_os("PACKLINE_WRITE_GOLDEN").is_some() {
            std::fs::create_dir_all(GOLDEN).unwrap();
            std::fs::write(&path, records::encode::<R>(value)).unwrap();
        }
        let bytes = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (a new kind or format: write it once with PACKLINE_WRITE_GOLDEN=1)",
                path.display()
            )
        });
        assert_eq!(
            &records::decode::<R>(&bytes).unwrap(),
            value,
            "{name} format {} no longer reads as it was written",
            R::FORMAT
        );
        assert!(
            records::encode::<R>(value) == bytes,
            "{name} format {} writes other bytes than it did ({}): a change of a stored layout needs a new format, its frozen type, and an upgrade (src/store/records/)",
            R::FORMAT,
            path.display()
        );
        // A format byte from a later packline is named as such, not as damage.
        let mut later = bytes.clone();
        later[0] = R::FORMAT + 1;
        let err = records::decode::<R>(&later).unwrap_err().to_string();
        assert!(err.contains("newer packline"), "{err}");
    }

    #[test]
    fn order_record() {
        let line = |item: &str, sku: &str, codes: UnitCodes, wrap: Option<&str>| OrderLine {
            item_id: item.into(),
            sku: sku.into(),
            asin: "B000000151".into(),
            title: "Mug – blue".into(),
            quantity_ordered: 2,
            quantity_shipped: 1,
            unit_codes: codes,
            gift_wrap: wrap.map(str::to_owned),
        };
        let rec = OrderRecord {
            order: Order {
                id: id("113-0000001-0000001"),
                marketplace_id: Some("ATVPDKIKX0DER".into()),
                created: t("2026-12-01T09:00:00Z"),
                updated: t("2026-12-01T09:30:00Z"),
                ship_by: Window {
                    earliest: Some(t("2026-12-01T10:00:00Z")),
                    latest: Some(t("2026-12-02T23:59:59Z")),
                },
                deliver_by: Window {
                    earliest: None,
                    latest: Some(t("2026-12-05T23:59:59Z")),
                },
                service_level: ServiceLevel::SecondDay,
                prime: true,
                business: false,
                lines: vec![
                    line("i1", "MUG-B", UnitCodes::default(), None),
                    line(
                        "i2",
                        "CAM-1",
                        UnitCodes {
                            serial: true,
                            transparency: true,
                        },
                        Some("PREMIUM"),
                    ),
                ],
            },
            state: OrderState::Labelled,
            state_since: t("2026-12-01T11:00:00Z"),
            closed_at: None,
            recipient_mask: Some("J. D****".into()),
            recipient_purged: false,
        };
        holds::<records::order::OrderRecord2>("order-record", &rec);
    }

    #[test]
    fn pick_batch() {
        let (a, b) = (id("113-0000001-0000001"), id("113-0000001-0000002"));
        let batch = PickBatch {
            id: 42,
            holder: "pat".into(),
            orders: vec![a.clone(), b.clone()],
            lines: vec![packline::domain::pick::PickLine {
                sku: "MUG-B".into(),
                asin: "B000000151".into(),
                title: "Mug".into(),
                bin: Some("A-01-3".into()),
                barcodes: vec!["0012345678905".into()],
                needed: 3,
                picked: 2,
                orders: vec![(a.clone(), 1), (b.clone(), 2)],
                put: vec![1, 1],
            }],
            at_bin: Some("A-01-3".into()),
            slots: vec![
                packline::domain::pick::Slot {
                    order: a,
                    slot: 1,
                    tote: Some("TOTE-7".into()),
                },
                packline::domain::pick::Slot {
                    order: b.clone(),
                    slot: 2,
                    tote: None,
                },
            ],
            confirm_put: true,
            in_hand: Some(packline::domain::pick::InHand {
                sku: "MUG-B".into(),
                order: b,
                slot: 2,
            }),
            tote_prefix: Some("TOTE-".into()),
        };
        holds::<records::floor::Batch2>("pick-batch", &batch);
    }

    fn parcel() -> Parcel {
        Parcel {
            box_name: "M 30x20x15".into(),
            dims_mm: [300, 200, 150],
            weight_g: 1200,
        }
    }

    fn code(kind: CodeKind, code: &str) -> UnitCode {
        UnitCode {
            kind,
            code: code.into(),
        }
    }

    #[test]
    fn pack_check() {
        let check = PackCheck {
            order: id("113-0000001-0000001"),
            packer: "sam".into(),
            lines: vec![packline::domain::pack::PackLine {
                sku: "CAM-1".into(),
                asin: "B000000489".into(),
                title: "Camera".into(),
                barcodes: vec![],
                needed: 2,
                scanned: 2,
                kinds: vec![CodeKind::Serial, CodeKind::Transparency],
                codes: vec![
                    code(CodeKind::Serial, "SN-1"),
                    code(CodeKind::Transparency, "AZ:ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
                    code(CodeKind::Serial, "SN-2"),
                ],
                gift_wrap: Some("PREMIUM".into()),
            }],
            awaiting: Some((0, CodeKind::Transparency)),
            boxes: vec![ClosedBox {
                parcel: parcel(),
                units: vec![1],
            }],
        };
        holds::<records::floor::Check2>("pack-check", &check);
    }

    #[test]
    fn packages_and_unit_codes() {
        let packages = vec![
            Package {
                number: 1,
                parcel: parcel(),
                items: vec![PackageItem {
                    item_id: "i2".into(),
                    sku: "CAM-1".into(),
                    quantity: 1,
                    codes: vec![code(CodeKind::Serial, "SN-1")],
                }],
                shipped: true,
            },
            Package {
                number: 2,
                parcel: Parcel {
                    box_name: "S".into(),
                    dims_mm: [200, 150, 100],
                    weight_g: 300,
                },
                items: vec![PackageItem {
                    item_id: "i1".into(),
                    sku: "MUG-B".into(),
                    quantity: 2,
                    codes: vec![],
                }],
                shipped: false,
            },
        ];
        holds::<records::floor::Packages2>("packages", &packages);
        let codes = vec![ItemCodes {
            item_id: "i2".into(),
            kind: CodeKind::Serial,
            codes: vec!["SN-1".into(), "SN-2".into()],
        }];
        holds::<records::floor::ItemCodes2>("unit-codes", &codes);
    }

    #[test]
    fn hold_and_exception_notes() {
        let hold = StoredHold {
            by: "lee".into(),
            since: t("2026-12-01T12:00:00Z"),
            reason: StoredText::Sealed("hold/113-0000001-0000001".into()),
        };
        holds::<records::floor::Hold2>("hold", &hold);
        let notes = vec![
            StoredException {
                raised_at: t("2026-12-01T12:00:00Z"),
                raised_by: "sam".into(),
                note: StoredText::Sealed("exceptions/113-0000001-0000001/0".into()),
                resolved_at: Some(t("2026-12-01T13:00:00Z")),
                resolved_by: Some("lee".into()),
                resolution: Some(StoredText::Sealed(
                    "exceptions/113-0000001-0000001/0/resolution".into(),
                )),
            },
            StoredException {
                raised_at: t("2026-12-01T14:00:00Z"),
                raised_by: "packline".into(),
                note: StoredText::System("label purchase outcome unknown (package 1)".into()),
                resolved_at: None,
                resolved_by: None,
                resolution: None,
            },
        ];
        holds::<records::after::Exceptions2>("exception-notes", &notes);
    }

    #[test]
    fn shipment_and_print_job() {
        let s = ShipmentRecord {
            order: id("113-0000001-0000001"),
            state: ShipmentState::Bought,
            carrier: Some(Carrier::Other("Royal Mail".into())),
            tracking: Some(TrackingNumber::from_stored("AB123456789GB".into())),
            shipment_id: Some("amzn1.shipment.1".into()),
            service_id: Some("RM_TRACKED_48".into()),
            service_name: Some("Tracked 48".into()),
            label_format: Some("zpl".into()),
            at: t("2026-12-01T15:00:00Z"),
            by: "kim".into(),
            package: 2,
        };
        holds::<records::shipping::Shipment2>("shipment", &s);
        let job = PrintJob {
            id: 7,
            order: id("113-0000001-0000001"),
            document: Document::PackageLabel(2),
            printer: "socket://10.0.0.5:9100".into(),
            state: JobState::Failed,
            attempts: 3,
            error: Some("connection refused".into()),
            created: t("2026-12-01T15:01:00Z"),
            by: "kim".into(),
        };
        holds::<records::shipping::PrintJob2>("print-job", &job);
    }

    #[test]
    fn shipping_v2_details_and_intent() {
        let v2 = ShipmentV2 {
            carrier_id: "UPS".into(),
            on_form: Some(t("2026-12-01T17:00:00Z")),
            delivery: Some(Delivery::InTransit),
            delivered_at: None,
            promised: Some(t("2026-12-03T20:00:00Z")),
            tracked_at: Some(t("2026-12-02T08:00:00Z")),
            voided: false,
            codes_sent: Some(t("2026-12-01T15:02:00Z")),
        };
        holds::<records::shipping::Tracked2>("shipment-v2", &v2);
        let intent = PurchaseIntentV2 {
            key: "7f9c2a".into(),
            request: "{\"requestToken\":\"t\",\"rateId\":\"r\"}".into(),
            carrier_id: "UPS".into(),
            carrier_name: "UPS".into(),
            service_id: "UPS_2ND_DAY".into(),
            service_name: "UPS 2nd Day Air".into(),
            amount: 12.34,
            currency: "USD".into(),
            rated_at: t("2026-12-01T14:59:00Z"),
        };
        holds::<records::shipping::Intent2>("purchase-intent", &intent);
    }

    #[test]
    fn inquiry_and_return() {
        let q = Inquiry {
            id: 3,
            order: id("113-0000001-0000001"),
            category: InquiryCategory::WhereIsMyOrder,
            opened_at: t("2026-12-04T09:00:00Z"),
            opened_by: "lee".into(),
            notes: vec![
                NoteMeta {
                    at: t("2026-12-04T09:00:00Z"),
                    by: "lee".into(),
                    kind: NoteKind::Opened,
                },
                NoteMeta {
                    at: t("2026-12-04T10:00:00Z"),
                    by: "lee".into(),
                    kind: NoteKind::Message,
                },
            ],
            resolved_at: Some(t("2026-12-05T09:00:00Z")),
            resolved_by: Some("lee".into()),
        };
        holds::<records::after::Inquiry1>("inquiry", &q);
        let r = ReturnRecord {
            id: 5,
            key: ReturnKey::Unexpected {
                order: id("113-0000001-0000001"),
                n: 1,
            },
            order: id("113-0000001-0000001"),
            rma: None,
            requested: Some(chrono::NaiveDate::from_ymd_opt(2026, 12, 6).unwrap()),
            status: Some("Approved".into()),
            carrier: Some("UPS".into()),
            tracking: Some("1Z9R00000000000001".into()),
            lines: vec![ReturnLine {
                sku: "MUG-B".into(),
                asin: Some("B000000151".into()),
                expected: 0,
                reason: Some("DEFECTIVE".into()),
                received: vec![Received {
                    condition: Condition::Damaged,
                    quantity: 1,
                    bin: None,
                    at: t("2026-12-07T09:00:00Z"),
                    by: "bo".into(),
                }],
            }],
            recorded_at: t("2026-12-07T09:00:00Z"),
            recorded_by: "bo".into(),
            closed_at: Some(t("2026-12-07T09:05:00Z")),
            closed_by: Some("bo".into()),
        };
        holds::<records::after::Return1>("return", &r);
    }

    #[test]
    fn sealed_recipient_and_note() {
        let mut r = Recipient::named("Zoë Example");
        r.company = Some("Example Co".into());
        r.address_line1 = Some("1 Test Street".into());
        r.city = Some("Reno".into());
        r.state_or_region = Some("NV".into());
        r.postal_code = Some("89501".into());
        r.country_code = Some("US".into());
        r.phone = Some("+1 775 555 0100".into());
        r.gift_messages = vec![GiftMessage {
            item_id: "i1".into(),
            message: "Happy birthday".into(),
        }];
        holds::<records::sealed::Recipient1>("sealed-recipient", &r);
        let note = NoteText::new("buyer wrote about the lid").unwrap();
        holds::<records::sealed::Note3>("sealed-note", &note);
    }
}

/// The breaks of one invariant `check` found.
fn broken(report: &packline::store::check::CheckReport, name: &str) -> Option<u64> {
    report
        .invariants
        .iter()
        .find(|i| i.name == name)
        .map(|i| i.broken)
}

/// Every key of the fixture store is one the key registry declares; a key or a tree planted
/// where nothing declares one is reported under `keys`, naming the tree and the key, never the
/// value.
#[test]
fn check_names_each_key_and_tree_nothing_declares() {
    let (_dir, data, _key) = fixture_store(1);
    let report = Store::open(&data).unwrap().check().unwrap();
    let undeclared: Vec<&String> = report
        .problems
        .iter()
        .filter(|p| p.part == "keys")
        .map(|p| &p.detail)
        .collect();
    assert!(undeclared.is_empty(), "{undeclared:#?}");
    assert_eq!(broken(&report, "keys_declared"), Some(0));

    {
        let db = packline::store::raw_db(&data).unwrap();
        let floor = db.open_tree("floor").unwrap();
        // A family nothing declares, and one of the report's counters nothing declares.
        floor
            .insert(b"x902-0000001-0000001\0", &b"Zebulon Quartermaine"[..])
            .unwrap();
        floor
            .insert(b"Aq20261123", &1u64.to_be_bytes()[..])
            .unwrap();
        // A named key nothing declares, and a key of a tree read whole that is no order id.
        db.open_tree("meta")
            .unwrap()
            .insert(b"stray", &b"Zebulon"[..])
            .unwrap();
        db.open_tree("queue")
            .unwrap()
            .insert(b"not an order", &b""[..])
            .unwrap();
        // A tree nothing declares.
        db.open_tree("scratch")
            .unwrap()
            .insert(b"k", &b"Zebulon"[..])
            .unwrap();
        db.flush().unwrap();
    }
    let report = Store::open(&data).unwrap().check().unwrap();
    let undeclared: Vec<&str> = report
        .problems
        .iter()
        .filter(|p| p.part == "keys")
        .map(|p| p.detail.as_str())
        .collect();
    for want in [
        "the floor tree (main database) holds a key nothing declares: x902-0000001-0000001\\x00",
        "the floor tree (main database) holds a key nothing declares: Aq20261123",
        "the meta tree (main database) holds a key nothing declares: stray",
        "the queue tree (main database) holds a key nothing declares: not\\x20an\\x20order",
        "the main database holds a tree nothing declares: scratch",
    ] {
        assert!(undeclared.contains(&want), "{want}: {undeclared:#?}");
    }
    assert_eq!(undeclared.len(), 5, "{undeclared:#?}");
    assert_eq!(broken(&report, "keys_declared"), Some(5));
    assert!(
        report
            .problems
            .iter()
            .filter(|p| p.part == "keys")
            .all(|p| p.invariant == "keys_declared" && !p.advice.is_empty()),
        "{:#?}",
        report.problems
    );
    let text = serde_json::to_string(&report).unwrap();
    assert!(!text.contains("Zebulon"), "no value is named: {text}");
}

/// The meta names the service keeps its sync state under are the registry's.
#[test]
fn the_service_keeps_its_state_under_declared_names() {
    use packline::store::keys::{META, meta};
    for (service, declared) in [
        (packline::service::sync::WATERMARK, meta::SYNC_WATERMARK),
        (packline::service::sync::BUCKET, meta::SYNC_BUCKET),
        (packline::service::sync::BUCKET_AT, meta::SYNC_BUCKET_AT),
        (
            packline::service::returns::WATERMARK,
            meta::RETURNS_WATERMARK,
        ),
    ] {
        assert_eq!(service, declared);
        assert!(META.declares(service.as_bytes()), "{service}");
    }
}

/// Every key the training floor writes, run through every kind of record this version keeps,
/// is one the key registry declares.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_key_the_training_floor_writes_is_declared() {
    let spool = tempfile::tempdir().unwrap();
    let backups = tempfile::tempdir().unwrap();
    let f = training_floor(spool.path()).await;
    every_kind_of_record(&f, backups.path()).await;
    let report = f.service.with_store(|s| s.check().unwrap());
    let undeclared: Vec<&String> = report
        .problems
        .iter()
        .filter(|p| p.part == "keys")
        .map(|p| &p.detail)
        .collect();
    assert!(undeclared.is_empty(), "{undeclared:#?}");
    assert_eq!(broken(&report, "keys_declared"), Some(0));
}
