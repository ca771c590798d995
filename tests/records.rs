//! Records that last: a store written by an earlier packline opens, upgrades and keeps every
//! order, label, return, inquiry and audit entry it held.
//!
//! `tests/fixtures/store-1/` is a store written by schema version 1 (the training floor run
//! through picking, packing, labels, shipment, a return, an inquiry, a hold, an exception and a
//! key rotation), with the identity that unlocks it and `expected.json`: what the store held,
//! as [`fingerprint`] saw it when the fixture was made. Made by `make_store_fixture` (ignored;
//! run it only to make a fixture of a new version, never to replace an old one).

mod common;

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::path::Path;
use std::time::Duration;

use common::floor::*;
use common::*;
use packline::domain::OrderState;
use packline::service::ops;
use packline::store::Store;
use serde_json::{Value, json};
use sha2::Digest as _;

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
    let printer = format!("file://{}", spool.path().display());
    let f = floor_on(
        marketplace(14, "20"),
        Some(printer),
        Duration::from_secs(10),
    )
    .await;
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
    let backups = tempfile::tempdir().unwrap();
    c.call(ops::Backup {
        dir: backups.path().display().to_string(),
    })
    .await
    .unwrap();

    let expected = f.service.with_store(fingerprint);
    let Floor {
        dir,
        market: _market,
        service,
        client,
    } = f;
    drop(client);
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

/// Every store an earlier version wrote opens in this one, unlocks, passes `packline check`, and
/// holds what it held: every order, label, return, inquiry and audit entry.
#[test]
fn stores_of_every_earlier_version_open_and_hold_what_they_held() {
    for version in [1] {
        let (_dir, data, key) = fixture_store(version);
        let mut store = Store::open(&data).unwrap();
        store
            .unlock(&packline::store::MasterSource::IdentityFile(key))
            .unwrap();
        let report = store.check().unwrap();
        assert!(
            report.problems.is_empty(),
            "store-{version}: {:?}",
            report
                .problems
                .iter()
                .map(|p| format!("{}: {}", p.part, p.detail))
                .collect::<Vec<_>>()
        );
        let found = fingerprint(&store);
        let want = expected(version);
        let mut wrong = Vec::new();
        holds(&want, &found, "store", &mut wrong);
        assert!(wrong.is_empty(), "store-{version}:\n{}", wrong.join("\n"));
        let orders = want["orders"].as_object().unwrap();
        assert!(orders.len() >= 14, "{} orders", orders.len());
        let shipped = orders
            .values()
            .filter(|o| o["record"]["state"] == "shipped")
            .count();
        assert!(shipped >= 4, "{shipped} shipped");
        assert!(!want["returns"].as_array().unwrap().is_empty());
        assert!(!want["batches"].as_array().unwrap().is_empty());
        assert!(orders.values().any(|o| !o["pack_check"].is_null()));
        assert!(!want["inquiries"].as_array().unwrap().is_empty());
    }
}
