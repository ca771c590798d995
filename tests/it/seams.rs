//! Where two features meet: each test reproduces a break found by trying the release binary
//! against the training marketplace, and holds its fix. A hold placed while the rates are asked
//! for stops the purchase; a package with its label is never re-packed away; a cancelled
//! order's label is voided; the same purchase kept twice raises no exception; a purge keeps open
//! orders' labels printable; a swapped keyring recipient gets nothing; restore checks before it
//! writes; a request over the frame limit fails instead of hanging; a stop while purchases are
//! settled does not panic; returns claim no more than the order had. `packline check` finds the
//! money and key breaks when they are planted in a store by hand.

use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::floor::*;
use crate::common::*;
use chrono::Utc;
use packline::domain::returns::{ExpectedLine, ExpectedReturn, ReturnKey};
use packline::domain::{Carrier, Event, OrderId, OrderState};
use packline::service::{Service, ServiceError, ops};
use packline::store::Store;
use packline::store::shipping::{ShipmentRecord, ShipmentState, Sold};

/// The `[shipping]` config of a site buying through Shipping API v2 from Example Goods' dock.
const SHIPPING_V2: &str = "[floor]\nboxes = [{ name = \"S\", mm = [200, 150, 100] }]\n[shipping]\napi = \"shipping-v2\"\n[shipping.from]\nname = \"Example Goods\"\nline1 = \"1 Dock Road\"\ncity = \"Reno\"\nstate = \"NV\"\npostal_code = \"89501\"\ncountry_code = \"US\"\nphone = \"7755550100\"\nemail = \"ship@example.com\"\n";

async fn buy(f: &Floor, order: &OrderId) -> Result<Vec<ShipmentRecord>, ServiceError> {
    f.client
        .call(ops::BuyLabel {
            order: order.to_string(),
            service: None,
        })
        .await
}

/// A packed order's label bought through the service; the order is Labelled.
async fn labelled(f: &Floor) -> OrderId {
    let order = pack_orders(&f.client, 1, 1).await.remove(0);
    let bought = buy(f, &order).await.unwrap();
    assert_eq!(bought[0].state, ShipmentState::Bought);
    assert_eq!(f.state(&order), OrderState::Labelled);
    order
}

fn labels(problems: &[String]) -> Vec<&String> {
    problems
        .iter()
        .filter(|p| p.starts_with("labels:") || p.starts_with("exceptions:"))
        .collect()
}

/// Break 1: a lead's hold accepted while a labeler's purchase waits on its rates stops the
/// purchase where its intent would be written: no purchaseShipment reaches Amazon.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_placed_while_the_rates_are_asked_stops_the_purchase() {
    let market = marketplace_with(3, "20", &["--fault-delay-ms", "2500"]);
    let f = floor_on(market, None, Duration::from_secs(10)).await;
    let order = pack_orders(&f.client, 1, 1).await.remove(0);
    http(&f.market, "POST", "/_training/faults/getRates/slow");
    let client = f.client.clone();
    let id = order.to_string();
    let purchase = tokio::spawn(async move {
        client
            .call(ops::BuyLabel {
                order: id,
                service: None,
            })
            .await
    });
    tokio::time::sleep(Duration::from_millis(800)).await;
    f.client
        .call(ops::HoldOrder {
            order: order.to_string(),
            reason: "buyer phoned to change the address".into(),
        })
        .await
        .unwrap();
    let r = purchase.await.unwrap();
    assert!(
        matches!(&r, Err(ServiceError::OnHold { order: o, .. }) if o == order.as_str()),
        "{r:?}"
    );
    assert_eq!(
        count_requests(&f.market, "getRates"),
        1,
        "the rates were asked"
    );
    assert_eq!(count_requests(&f.market, "purchaseShipment"), 0);
    assert_eq!(f.state(&order), OrderState::Packed);
    let shipment = f.service.with_store(|s| s.shipment(&order, 1).unwrap());
    assert_eq!(shipment, None, "no intent was written for a held order");
}

/// Break 2: once a package has its label, sending the order back to picking or packing is
/// refused (it would leave a label at Amazon that no package carries); after a void it works.
/// Planted by hand (the package list emptied under a bought label), `check` finds it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_package_with_its_label_is_never_packed_away() {
    let f = floor_on(marketplace(3, "20"), None, Duration::from_secs(5)).await;
    let order = labelled(&f).await;
    f.client
        .call(ops::RaiseException {
            order: order.to_string(),
            note: "box crushed".into(),
        })
        .await
        .unwrap();
    for resume in [OrderState::Picked, OrderState::New] {
        let r = f
            .client
            .call(ops::ResolveException {
                order: order.to_string(),
                resume,
                resolution: "pack it again".into(),
            })
            .await;
        assert!(
            matches!(&r, Err(ServiceError::Invalid(m)) if m.contains("package 1 has its label bought") && m.contains("Void it first")),
            "{resume}: {r:?}"
        );
    }
    assert_eq!(f.state(&order), OrderState::Exception);
    assert_eq!(
        f.service.with_store(|s| s.packages(&order).unwrap().len()),
        1
    );
    assert_eq!(labels(&f.problems()), Vec::<&String>::new());
    // Voided, the package may go: the re-pack asks for the order's units, no more.
    f.client
        .call(ops::VoidLabel {
            order: order.to_string(),
            reason: "box crushed".into(),
            package: Some(1),
        })
        .await
        .unwrap();
    f.client
        .call(ops::ResolveException {
            order: order.to_string(),
            resume: OrderState::Picked,
            resolution: "pack it again".into(),
        })
        .await
        .unwrap();
    let check = f
        .client
        .call(ops::PackStart {
            order: order.to_string(),
        })
        .await
        .unwrap();
    let ordered: u32 = f.service.with_store(|s| {
        s.get(&order)
            .unwrap()
            .unwrap()
            .order
            .lines
            .iter()
            .map(|l| l.quantity_ordered)
            .sum()
    });
    assert_eq!(check.lines.iter().map(|l| l.needed).sum::<u32>(), ordered);

    // Planted: a second order re-packed under its bought label the old way (its one package
    // now number 2, package 1 gone with its label still bought).
    let other = labelled(&f).await;
    let mut repacked = f.service.with_store(|s| s.packages(&other).unwrap());
    repacked[0].number = 2;
    let (_dir, store) = f.plant_packages(&other, &repacked);
    let problems: Vec<String> = store
        .check()
        .unwrap()
        .problems
        .into_iter()
        .map(|p| p.detail)
        .collect();
    assert!(
        problems.iter().any(|p| p.contains(&format!(
            "order {other} has a bought label (package 1, shipment"
        )) && p.contains("no package of the order carries")),
        "{problems:?}"
    );
}

/// Break 3: Amazon cancels an order after its label was bought: `check` lists the label for a
/// person, and the label can be voided (the postage comes back).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_orders_label_is_listed_and_can_be_voided() {
    let f = floor_on(marketplace(3, "20"), None, Duration::from_secs(5)).await;
    let order = labelled(&f).await;
    http(
        &f.market,
        "POST",
        &format!("/_training/orders/{order}/cancel"),
    );
    f.service.sync_now("lead").await.unwrap();
    assert_eq!(f.state(&order), OrderState::Cancelled);
    let problems = f.problems();
    assert!(
        problems.iter().any(|p| p.starts_with(&format!(
            "labels: order {order} was cancelled with its label bought (package 1, shipment"
        ))),
        "{problems:?}"
    );
    f.client
        .call(ops::VoidLabel {
            order: order.to_string(),
            reason: "cancelled by Amazon".into(),
            package: None,
        })
        .await
        .unwrap();
    assert_eq!(count_requests(&f.market, "cancelShipment"), 1);
    let s = f
        .service
        .with_store(|s| s.shipment(&order, 1).unwrap().unwrap());
    assert_eq!(s.state, ShipmentState::Voided);
    assert_eq!(labels(&f.problems()), Vec::<&String>::new());
}

fn bought(id: &OrderId, shipment: &str) -> ShipmentRecord {
    ShipmentRecord {
        order: id.clone(),
        package: 1,
        state: ShipmentState::Bought,
        carrier: Some(Carrier::Ups),
        tracking: None,
        shipment_id: Some(shipment.into()),
        service_id: Some("UPS_GROUND".into()),
        service_name: None,
        label_format: Some("zpl".into()),
        at: Utc::now(),
        by: "sam".into(),
    }
}

/// A store (in `dir`) with these orders imported and taken to Packed.
fn packed_store(dir: &std::path::Path, people: &[Person]) -> (Store, Vec<OrderId>) {
    let mut store = unlocked_store(dir);
    let refs: Vec<&Person> = people.iter().collect();
    imp(
        &mut store,
        &refs,
        "UNSHIPPED",
        "2026-12-01T10:00:00Z",
        Utc::now(),
    );
    let ids: Vec<OrderId> = people
        .iter()
        .map(|p| OrderId::parse(&p.order_id).unwrap())
        .collect();
    for id in &ids {
        for e in [Event::StartPick, Event::FinishPick, Event::FinishPack] {
            store.transition(id, e, "pat", None, Utc::now()).unwrap();
        }
    }
    (store, ids)
}

/// Break 4: two waves (or a wave and a restart) send one intent under its key and Amazon
/// answers both with the one shipment: the second keeping changes nothing and raises no
/// exception. The exception the old code raised, planted by hand, is found by `check`.
#[test]
fn the_same_purchase_kept_twice_raises_no_exception() {
    let dir = tempfile::tempdir().unwrap();
    let people: Vec<Person> = hostile_people().into_iter().take(2).collect();
    let (mut store, ids) = packed_store(dir.path(), &people);
    let id = &ids[0];
    store
        .begin_purchase(id, 1, "UPS_GROUND", "sam", Utc::now())
        .unwrap();
    let record = bought(id, "amzn-1");
    for _ in 0..2 {
        let (rec, _) = store
            .complete_purchase(
                Sold {
                    record: &record,
                    label: b"^XA^XZ",
                    open: &[1],
                    postage: None,
                    v2: None,
                },
                "sam",
                Utc::now(),
            )
            .unwrap();
        assert_eq!(rec.state, OrderState::Labelled);
    }
    assert_eq!(store.get(id).unwrap().unwrap().state, OrderState::Labelled);
    assert!(store.exception_notes(id).unwrap().is_empty());
    assert!(store.check().unwrap().problems.is_empty());

    // Planted: the exception the old code raised on the second keeping, as it wrote it (the
    // order an exception, its note packline's own words in the old format, which the upgrade at
    // open keeps readable).
    store
        .raise_exception(id, "sam", "planted", Utc::now())
        .unwrap();
    drop(store);
    let data = dir.path().join("data");
    {
        let db = packline::store::raw_db(&data).unwrap();
        let old = serde_json::json!([{
            "raised_at": Utc::now(),
            "raised_by": "sam",
            "note": "a label was bought (shipment amzn-1, package 1) while the order was labelled: void it or resolve to Labelled",
            "resolved_at": null,
            "resolved_by": null,
            "resolution": null,
        }]);
        db.open_tree("exceptions")
            .unwrap()
            .insert(id.as_str(), serde_json::to_vec(&old).unwrap())
            .unwrap();
        db.flush().unwrap();
    }
    let store = Store::open(&data).unwrap();
    let problems = store.check().unwrap().problems;
    assert!(
        problems.iter().any(|p| p.part == "exceptions"
            && p.detail.contains(&format!(
                "order {id} is an exception for shipment amzn-1, which is package 1's own label"
            ))
            && p.advice.contains("resolve it to Labelled")),
        "{problems:?}"
    );
}

/// Break 5: a purge that shreds the epoch an open order's label was sealed in re-seals the
/// label with the recipient, so it still prints; a label sealed to a destroyed epoch, planted
/// by hand, is found by `check`.
#[test]
fn a_purge_keeps_an_open_orders_label_printable() {
    let dir = tempfile::tempdir().unwrap();
    let people: Vec<Person> = hostile_people().into_iter().take(2).collect();
    let (mut store, ids) = packed_store(dir.path(), &people);
    let (open, gone) = (&ids[0], &ids[1]);
    let label = b"^XA^FDa label^FS^XZ".to_vec();
    store
        .begin_purchase(open, 1, "UPS_GROUND", "sam", Utc::now())
        .unwrap();
    store
        .complete_purchase(
            Sold {
                record: &bought(open, "amzn-2"),
                label: &label,
                open: &[1],
                postage: None,
                v2: None,
            },
            "sam",
            Utc::now(),
        )
        .unwrap();
    // The other order shipped 40 days ago: its recipient goes, and with it the epoch both
    // orders (and the label) were sealed in.
    let long_ago = Utc::now() - chrono::Duration::days(40);
    for e in [Event::LabelBought, Event::Ship] {
        store.transition(gone, e, "sam", None, long_ago).unwrap();
    }
    // Held, as an order waiting for a person may sit for weeks with its label.
    let hold = packline::domain::Hold {
        reason: packline::domain::FreeText::Open(
            packline::domain::NoteText::new("waiting for the buyer").unwrap(),
        ),
        by: "lee".into(),
        since: Utc::now(),
    };
    assert!(store.place_hold(open, &hold, false).unwrap());
    let before = store.keyring().epochs().len();
    let report = store
        .purge(
            packline::domain::RetentionPolicy::default(),
            Utc::now(),
            "lead",
            Utc::now(),
        )
        .unwrap();
    assert_eq!(report.recipients_destroyed, 1);
    assert!(report.epochs_shredded >= 1, "{report:?}");
    assert_eq!(report.labels_resealed, 1, "{report:?}");
    assert!(store.keyring().epochs().len() <= before);
    assert_eq!(store.label(open, 1).unwrap().as_slice(), label.as_slice());
    assert!(store.check().unwrap().problems.is_empty());
    drop(store);

    // Planted: the label's envelope names an epoch the keyring no longer holds.
    let data = dir.path().join("data");
    {
        let db = packline::store::raw_db(&data).unwrap();
        let floor = db.open_tree("floor").unwrap();
        let mut k = vec![b'l'];
        k.extend_from_slice(open.as_str().as_bytes());
        let mut v = floor.get(&k).unwrap().unwrap().to_vec();
        v[4..8].copy_from_slice(&999u32.to_be_bytes());
        floor.insert(k, v).unwrap();
        db.flush().unwrap();
    }
    let store = Store::open(&data).unwrap();
    let problems = store.check().unwrap().problems;
    assert!(
        problems.iter().any(|p| p.part == "labels"
            && p.detail.contains(&format!(
                "the label of open order {open} package 1 is sealed to key epoch 999"
            ))),
        "{problems:?}"
    );
}

/// Break 6: another site's epoch recipient copied into keyring.json: the store opens (to read),
/// seals nothing to it (an import is refused), `check` names it, and a backup whose keyring was
/// swapped (its checksum made again) is not restored.
#[test]
fn a_swapped_keyring_recipient_gets_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let people: Vec<Person> = hostile_people().into_iter().take(3).collect();
    let mut store = unlocked_store(dir.path());
    imp(
        &mut store,
        &[&people[0]],
        "UNSHIPPED",
        "2026-12-01T10:00:00Z",
        Utc::now(),
    );
    let backups = dir.path().join("backups");
    let backup = store.backup(&backups, "lead", Utc::now()).unwrap().dir;
    drop(store);
    let data = dir.path().join("data");
    let foreign = age::x25519::Identity::generate().to_public().to_string();
    let swap = |path: &std::path::Path| {
        let mut ring: serde_json::Value =
            serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        ring["epochs"][0]["recipient"] = foreign.clone().into();
        std::fs::write(path, serde_json::to_vec(&ring).unwrap()).unwrap();
    };
    swap(&data.join("keyring.json"));

    // Locked, as a daemon with no key starts: nothing is sealed to the foreign key.
    let mut store = Store::open(&data).unwrap();
    let body =
        serde_json::to_vec(&page(&people[1..2], "UNSHIPPED", "2026-12-01T10:00:00Z")).unwrap();
    let err = store
        .import(
            packline::amazon::parse_search_orders(&body, "p")
                .unwrap()
                .orders,
            "sync",
            Utc::now(),
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("keyring.json was edited or swapped"), "{err}");
    assert_eq!(
        store
            .get(&OrderId::parse(&people[1].order_id).unwrap())
            .unwrap(),
        None
    );
    let problems = store.check().unwrap().problems;
    assert!(
        problems
            .iter()
            .any(|p| p.part == "keyring" && p.detail.contains("epoch 1's recipient")),
        "{problems:?}"
    );
    drop(store);

    // The backup's keyring swapped and its checksum made again: restore refuses it.
    swap(&backup.join("keyring.json"));
    let manifest_path = backup.join("backup.json");
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    let sum = {
        use sha2::Digest as _;
        let d = sha2::Sha256::digest(std::fs::read(backup.join("keyring.json")).unwrap());
        d.iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    let mut replaced = false;
    for (k, v) in manifest.as_object_mut().unwrap() {
        if k.contains("keyring") && v.is_string() {
            *v = sum.clone().into();
            replaced = true;
        }
    }
    assert!(replaced, "{manifest}");
    std::fs::write(&manifest_path, serde_json::to_vec(&manifest).unwrap()).unwrap();
    let target = dir.path().join("restored");
    let err = packline::store::backup::restore(&backup, &target, Utc::now())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("keyring.json is not the one its store was made with"),
        "{err}"
    );
    assert!(!target.exists(), "nothing was left behind");
}

fn mode(p: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// Break 8: restore checks before it writes: into a directory with anything in it, or one open
/// to other users, it writes nothing and says why; into a new one it works.
#[test]
fn restore_checks_before_it_writes() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let people: Vec<Person> = hostile_people().into_iter().take(1).collect();
    let (store, _) = packed_store(dir.path(), &people);
    let backup = store
        .backup(&dir.path().join("backups"), "lead", Utc::now())
        .unwrap()
        .dir;
    drop(store);

    let busy = dir.path().join("busy");
    std::fs::create_dir(&busy).unwrap();
    std::fs::set_permissions(&busy, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::write(busy.join("notes.txt"), "mine").unwrap();
    let err = packline::store::backup::restore(&backup, &busy, Utc::now())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("is not empty") && err.contains("nothing was written"),
        "{err}"
    );
    let left: Vec<_> = std::fs::read_dir(&busy).unwrap().collect();
    assert_eq!(left.len(), 1);

    let open = dir.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
    let err = packline::store::backup::restore(&backup, &open, Utc::now())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("has mode 755") && err.contains("chmod 700"),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(&open).unwrap().count(), 0);

    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    std::fs::set_permissions(&empty, std::fs::Permissions::from_mode(0o700)).unwrap();
    let summary = packline::store::backup::restore(&backup, &empty, Utc::now()).unwrap();
    assert_eq!(summary.orders, 1);
    assert_eq!(mode(&empty), 0o700);
    assert!(
        Store::open(&empty)
            .unwrap()
            .check()
            .unwrap()
            .problems
            .is_empty()
    );
    let fresh = dir.path().join("fresh/data");
    packline::store::backup::restore(&backup, &fresh, Utc::now()).unwrap();
    assert_eq!(mode(&fresh), 0o700);
}

/// Break 10: with a daemon running, a request over the frame limit fails at once, naming the
/// limit, instead of waiting for an answer that never comes.
#[test]
fn a_request_over_the_frame_limit_fails_instead_of_hanging() {
    let socket_dir = tempfile::tempdir().unwrap();
    let socket = socket_dir.path().join("packline.sock");
    let site = Site::new(&format!(
        "[service]\nsocket = {:?}\n",
        socket.display().to_string()
    ));
    site.init_identity_keys();
    let _daemon = start_daemon_on(&site, &socket);
    let mut child = site
        .cmd()
        .args(["exceptions", "raise", "111-0000000-0000001", "--note", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    std::thread::spawn(move || {
        let _ = stdin.write_all(&vec![b'x'; 5 << 20]);
    });
    let started = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the client still waits after a minute"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = stderr(&out);
    assert!(
        err.contains("the daemon takes at most 4 MiB in one request"),
        "{err}"
    );
}

/// Break 11: a SIGTERM while the daemon settles a purchase left in flight ends it cleanly: the
/// purchase under way is answered and kept, nothing panics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_while_purchases_are_settled_does_not_panic() {
    let m = marketplace_with(3, "20", &["--fault-delay-ms", "3000"]);
    let (_creds, amazon) = amazon_config(&m);
    let socket_dir = tempfile::tempdir().unwrap();
    let socket = socket_dir.path().join("packline.sock");
    let site = Site::new(&format!(
        "{amazon}{SHIPPING_V2}[service]\nsocket = {:?}\n",
        socket.display().to_string()
    ));
    // A purchase left in flight: every answer lost, the intent kept with its key.
    let order = {
        let store = unlocked_store(site.dir.path());
        let service = Service::new(store, settings_v2(None));
        service.set_amazon(Arc::new(training_api(&m, Duration::from_secs(1))));
        service.sync_now("lead").await.unwrap();
        let client = packline::service::client::Client::local(service.clone(), &whoami()).unwrap();
        let order = pack_orders(&client, 1, 1).await.remove(0);
        for _ in 0..5 {
            http(&m, "POST", "/_training/faults/purchaseShipment/timeout");
        }
        assert!(
            client
                .call(ops::BuyLabel {
                    order: order.to_string(),
                    service: None,
                })
                .await
                .is_err()
        );
        order
    };
    http(&m, "POST", "/_training/faults/purchaseShipment/slow");
    let mut child = site
        .cmd()
        .env("PACKLINE_IDENTITY_FILE", &site.key)
        .args(["serve", "--socket", socket.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    std::io::BufRead::read_line(&mut out, &mut line).unwrap();
    assert!(line.starts_with("serving on"), "{line}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let err = stderr(&out);
    assert!(!err.contains("panicked"), "{err}");
    assert!(out.status.success(), "{out:?}");
    let store = Store::open(&site.data).unwrap();
    assert_eq!(
        store.get(&order).unwrap().unwrap().state,
        OrderState::Labelled
    );
}

/// Break 12: a returns report claiming more units than the order had, or a SKU it never had,
/// records nothing of that return and says why; receiving is capped at what the order had.
#[test]
fn returns_claim_no_more_than_the_order_had() {
    let dir = tempfile::tempdir().unwrap();
    let people: Vec<Person> = hostile_people().into_iter().take(1).collect();
    let (mut store, ids) = packed_store(dir.path(), &people);
    let id = &ids[0];
    let line = store.get(id).unwrap().unwrap().order.lines[0].clone();
    let ret = |rma: &str, sku: &str, quantity: u32| ExpectedReturn {
        key: ReturnKey::Rma { rma: rma.into() },
        order: id.clone(),
        rma: Some(rma.into()),
        requested: Utc::now().date_naive(),
        status: Some("Approved".into()),
        carrier: None,
        tracking: None,
        lines: vec![ExpectedLine {
            sku: sku.into(),
            asin: None,
            quantity,
            reason: None,
        }],
    };
    let counts = store
        .record_returns(
            &[
                ret("RMA-MANY", &line.sku, 1_000_000),
                ret("RMA-ELSE", "NOT-ON-ORDER", 1),
                ret("RMA-OK", &line.sku, line.quantity_ordered),
            ],
            "sync",
            Utc::now(),
        )
        .unwrap();
    assert_eq!((counts.listed, counts.new), (3, 1));
    assert_eq!(
        counts.refused,
        vec![
            format!(
                "order {id}: 1000000 units of SKU {} returned, the order had {}",
                line.sku, line.quantity_ordered
            ),
            format!("order {id}: SKU NOT-ON-ORDER is not on the order"),
        ]
    );
    assert_eq!(store.returns().unwrap().len(), 1);
    let err = store
        .receive_return(
            "RMA-OK",
            &line.sku,
            packline::domain::returns::Condition::Sellable,
            50,
            &packline::domain::Locations::default(),
            "rita",
            Utc::now(),
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("50"), "{err}");
    assert_eq!(store.returns().unwrap()[0].received_units(), 0);
}
