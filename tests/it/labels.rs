//! After packing, against the real training marketplace and real printers: buy once, print to
//! a raw socket (byte-identical) and to ippeveprinter, close the day; a purchase whose answer is
//! lost raises an exception and is never sent again; a throttled one is bought once; void;
//! own-carrier confirmation; and packing slips read back by an independent ZPL renderer and
//! barcode decoder.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::common::*;
use chrono::Utc;
use packline::domain::{OrderId, OrderState};
use packline::service::client::Client;
use packline::service::{Notice, Service, ServiceError, Settings, ops};
use packline::store::shipping::ShipmentState;

/// A site with the marketplace's orders synced, a ship-from address and a label printer.
async fn floor(printer: Option<String>) -> Floor {
    floor_with(printer, |_| {}).await
}

async fn floor_with(printer: Option<String>, configure: impl FnOnce(&mut Settings)) -> Floor {
    Floor::builder(marketplace(6, "20"))
        .configure(|s| s.shipping = example_shipping(printer))
        .configure(configure)
        .synced()
        .await
}

/// Asks the service to buy a label for `order` with the cheapest service that arrives in time.
async fn buy_label(
    c: &mut Client,
    order: &OrderId,
) -> Result<packline::store::shipping::ShipmentRecord, ServiceError> {
    c.call(ops::BuyLabel {
        order: order.to_string(),
        service: None,
    })
    .await
    .map(|mut all| {
        assert_eq!(all.len(), 1, "a one-box order has one label");
        all.remove(0)
    })
}

/// Claims one order, picks and packs it through the service; its id.
async fn pack_one(c: &mut Client) -> OrderId {
    let Some(b) = c.call(ops::ClaimBatch { size: Some(1) }).await.unwrap() else {
        panic!("nothing to pick")
    };
    pick_all(c, &b).await;
    let order = b.orders[0].clone();
    pack_in_one_box(c, &order).await;
    order
}

/// Closes today's manifest: the day's labelled orders leave.
async fn close_day(c: &mut Client) -> ops::ManifestDay {
    c.call(ops::Manifest {
        date: None,
        close: true,
    })
    .await
    .unwrap()
}

fn state(f: &Floor, id: &OrderId) -> OrderState {
    f.service.with_store(|s| s.get(id).unwrap().unwrap().state)
}

/// Waits for the print job of `order` to finish; its outcome.
async fn printed(c: &mut Client, order: &OrderId) -> (bool, String) {
    tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if let Some(Notice::PrintFinished {
                order: o,
                ok,
                detail,
                ..
            }) = c.notice().await
                && o == *order
            {
                return (ok, detail);
            }
        }
    })
    .await
    .expect("the print job finished")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buy_once_print_byte_identical_and_close_the_day() {
    let (printer, jobs) = raw_printer();
    let mut f = floor(Some(printer)).await;
    let order = pack_one(&mut f.client).await;

    let offers = f
        .client
        .call(ops::Rates {
            order: order.to_string(),
        })
        .await
        .unwrap();
    assert!(offers.len() >= 2, "{offers:?}");
    assert!(offers[0].meets_promise);
    let cheapest_on_time = offers
        .iter()
        .filter(|o| o.meets_promise)
        .map(|o| o.amount)
        .fold(f64::INFINITY, f64::min);
    assert_eq!(offers[0].amount, cheapest_on_time);

    let shipment = buy_label(&mut f.client, &order).await.unwrap();
    assert_eq!(shipment.state, ShipmentState::Bought);
    assert_eq!(
        shipment.service_id.as_deref(),
        Some(offers[0].service_id.as_str())
    );
    assert_eq!(state(&f, &order), OrderState::Labelled);
    let again = buy_label(&mut f.client, &order).await;
    assert!(matches!(again, Err(ServiceError::Conflict(_))), "{again:?}");
    assert_eq!(count_requests(&f.market, "createShipment"), 1);

    f.client
        .call(ops::PrintLabel {
            order: order.to_string(),
            printer: None,
            package: None,
        })
        .await
        .unwrap();
    let (ok, detail) = printed(&mut f.client, &order).await;
    assert!(ok, "{detail}");
    let got = jobs.recv_timeout(Duration::from_secs(5)).unwrap();
    let stored = f.service.with_store(|s| s.label(&order, 1).unwrap());
    assert_eq!(got, *stored, "the printer got the label byte for byte");
    assert!(got.starts_with(b"^XA"));
    let tracking = shipment.tracking.clone().unwrap();
    let zpl = String::from_utf8_lossy(&got);
    assert!(
        zpl.contains(tracking.as_str()),
        "the label carries its tracking id"
    );

    let ops::ManifestDay {
        shipments, shipped, ..
    } = f
        .client
        .call(ops::Manifest {
            date: None,
            close: true,
        })
        .await
        .unwrap();
    assert_eq!(shipped, 1);
    assert_eq!(shipments.len(), 1);
    assert_eq!(state(&f, &order), OrderState::Shipped);
    let csv = packline::labels::manifest::csv(&shipments);
    assert!(csv.contains(tracking.as_str()), "{csv}");
    assert!(csv.contains(order.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_purchase_answer_raises_an_exception_and_is_never_sent_again() {
    let mut f = floor(None).await;
    let order = pack_one(&mut f.client).await;
    http(&f.market, "POST", "/_training/faults/createShipment/500");
    let r = buy_label(&mut f.client, &order).await;
    let Err(ServiceError::Conflict(msg)) = r else {
        panic!("{r:?}")
    };
    assert!(msg.contains("outcome is unknown"), "{msg}");
    assert_eq!(state(&f, &order), OrderState::Exception);
    let s = f
        .service
        .with_store(|s| s.shipment(&order, 1).unwrap().unwrap());
    assert_eq!(s.state, ShipmentState::OutcomeUnknown);
    // Even put back to Packed by a lead, the order is not bought again without a check.
    f.client
        .call(ops::ResolveException {
            order: order.to_string(),
            resume: OrderState::Packed,
            resolution: "looked at it".into(),
        })
        .await
        .unwrap();
    let again = buy_label(&mut f.client, &order).await;
    assert!(
        matches!(&again, Err(ServiceError::Invalid(m)) if m.contains("never bought twice")),
        "{again:?}"
    );
    assert_eq!(
        count_requests(&f.market, "createShipment"),
        1,
        "exactly one purchase was sent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_purchase_is_bought_once_and_a_void_puts_the_order_back() {
    let mut f = floor(None).await;
    let order = pack_one(&mut f.client).await;
    http(&f.market, "POST", "/_training/faults/createShipment/429");
    buy_label(&mut f.client, &order).await.unwrap();
    let bought = request_log(&f.market)
        .iter()
        .filter(|r| r["operation"] == "createShipment" && r["status"] == 200)
        .count();
    assert_eq!(bought, 1);
    assert_eq!(state(&f, &order), OrderState::Labelled);

    let r = f
        .client
        .call(ops::VoidLabel {
            order: order.to_string(),
            reason: "wrong box".into(),
            package: None,
        })
        .await;
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(state(&f, &order), OrderState::Packed);
    assert_eq!(count_requests(&f.market, "cancelShipment"), 1);
    let label = f.service.with_store(|s| s.label(&order, 1).map(|_| ()));
    assert!(label.is_err(), "the voided label is destroyed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_own_carrier_shipment_is_checked_confirmed_once_and_shipped() {
    let mut f = floor(None).await;
    let order = pack_one(&mut f.client).await;
    let ship = |tracking: &str| ops::ShipOwnCarrier {
        order: order.to_string(),
        carrier: "UPS".into(),
        tracking: vec![tracking.into()],
    };
    let bad = f.client.call(ship("1Z999AA10123456785")).await;
    assert!(
        matches!(&bad, Err(ServiceError::Invalid(m)) if m.contains("check digit")),
        "{bad:?}"
    );
    let shipment = f
        .client
        .call(ship("1Z 999 AA1 01 2345 6784"))
        .await
        .unwrap()
        .remove(0);
    assert_eq!(shipment.state, ShipmentState::Confirmed);
    assert_eq!(state(&f, &order), OrderState::Shipped);
    let again = f.client.call(ship("1Z999AA10123456784")).await;
    assert!(again.is_err());
    assert_eq!(count_requests(&f.market, "confirmShipment"), 1);
}

/// A private D-Bus session bus and an ippeveprinter on it; the printer's spool directory.
struct IppPrinter {
    child: std::process::Child,
    bus: std::process::Child,
    uri: String,
    spool: tempfile::TempDir,
}

impl Drop for IppPrinter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = self.bus.kill();
        let _ = self.bus.wait();
    }
}

fn ipp_printer() -> Option<IppPrinter> {
    use std::process::{Command, Stdio};
    let mut bus = Command::new("dbus-daemon")
        .args(["--session", "--nofork", "--print-address=1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut address = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(bus.stdout.take().unwrap()),
        &mut address,
    )
    .ok()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let spool = tempfile::tempdir().unwrap();
    let child = Command::new("ippeveprinter")
        .args(["-p", &port.to_string(), "-r", "off", "-k", "-d"])
        .arg(spool.path())
        .args([
            "-f",
            "application/pdf,application/octet-stream",
            "packline-test",
        ])
        // Avahi looks for the system bus: the private bus stands in for both.
        .env("DBUS_SESSION_BUS_ADDRESS", address.trim())
        .env("DBUS_SYSTEM_BUS_ADDRESS", address.trim())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    // Ready when it answers on its port.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if std::time::Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(IppPrinter {
        child,
        bus,
        uri: format!("ipp://127.0.0.1:{port}/ipp/print"),
        spool,
    })
}

/// The Code 128 barcodes on a ZPL label, rendered by an independent renderer (npm
/// zpl-renderer-js) and read by an independent decoder (PyPI zxing-cpp).
fn zpl_barcodes(zpl: &[u8]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let (input, png) = (dir.path().join("label.zpl"), dir.path().join("label.png"));
    std::fs::write(&input, zpl).unwrap();
    let node = std::process::Command::new("node")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scripts/zpl-to-png.cjs"
        ))
        .args([&input, &png])
        .env(
            "NODE_PATH",
            concat!(env!("CARGO_MANIFEST_DIR"), "/target/npm/node_modules"),
        )
        .output()
        .expect("node runs (check have(&[Tool::ZplRenderer]) first)");
    assert!(
        node.status.success(),
        "zpl-renderer-js failed (scripts/test installs it under target/npm): {}",
        String::from_utf8_lossy(&node.stderr)
    );
    zxing_read(&png)
}

fn files_with(dir: &Path, needle: &[u8]) -> usize {
    files_under(dir)
        .iter()
        .filter(|p| {
            std::fs::read(p)
                .map(|b| find(&b, needle).is_some())
                .unwrap_or(false)
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packing_slips_reach_an_ipp_printer_and_a_raw_one_and_read_back() {
    let (raw, jobs) = raw_printer();
    let mut f = floor(Some(raw)).await;
    let order = pack_one(&mut f.client).await;

    // ZPL to the raw printer: byte-identical to the slip rendered from the same data.
    f.client
        .call(ops::PrintSlip {
            order: order.to_string(),
            printer: None,
            pdf: false,
        })
        .await
        .unwrap();
    let (ok, detail) = printed(&mut f.client, &order).await;
    assert!(ok, "{detail}");
    let got = jobs.recv_timeout(Duration::from_secs(5)).unwrap();
    let expected = f.service.with_store(|s| {
        let rec = s.get(&order).unwrap().unwrap();
        let r = s.recipient_for_document(&order).unwrap();
        packline::labels::slip::Slip {
            order: &rec.order,
            recipient: r.as_ref(),
            from: "Example Goods",
            slot: None,
        }
        .zpl()
        .unwrap()
    });
    assert_eq!(got, expected);

    // An independent renderer and decoder read the order id back off the slip.
    if have(&[Tool::ZplRenderer, Tool::Zxing]) {
        assert_eq!(zpl_barcodes(&got), [order.to_string()]);
    }

    // PDF to a real IPP printer.
    if !have(&[Tool::IppPrinter]) {
        return;
    }
    let ipp = ipp_printer().expect("ippeveprinter starts and answers on its port");
    f.client
        .call(ops::PrintSlip {
            order: order.to_string(),
            printer: Some(ipp.uri.clone()),
            pdf: true,
        })
        .await
        .unwrap();
    let (ok, detail) = printed(&mut f.client, &order).await;
    assert!(ok, "{detail}");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while files_with(ipp.spool.path(), b"PACKING SLIP") == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the IPP printer never received the slip"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_go_only_to_the_sites_printers_unless_a_lead_says_otherwise() {
    let (raw, jobs) = raw_printer();
    let mut f = floor(None).await;
    let order = pack_one(&mut f.client).await;
    // A packer on the same service (the role the daemon would give this OS user).
    let packer = packline::service::Caller {
        user: "pat".into(),
        role: packline::domain::Role::Packer,
    };
    let r = f.service.run(
        &packer,
        ops::PrintSlip {
            order: order.to_string(),
            printer: Some(raw.clone()),
            pdf: false,
        },
    );
    assert!(
        matches!(&r, Err(ServiceError::Forbidden { action, .. }) if action.contains("not one of the site's printers")),
        "{r:?}"
    );
    let r = f.service.run(
        &packer,
        ops::Reveal {
            order: order.to_string(),
            reason: "curious".into(),
        },
    );
    assert!(matches!(r, Err(ServiceError::Forbidden { .. })));
    assert!(
        jobs.try_recv().is_err(),
        "nothing reached the packer's printer"
    );
    // A lead may print anywhere (and the job is audited as any print).
    f.client
        .call(ops::PrintSlip {
            order: order.to_string(),
            printer: Some(raw),
            pdf: false,
        })
        .await
        .unwrap();
    let (ok, detail) = printed(&mut f.client, &order).await;
    assert!(ok, "{detail}");
    assert!(jobs.recv_timeout(Duration::from_secs(5)).is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_purchase_or_own_carrier_shipment_blocks_a_purchase_until_a_lead_acts() {
    let mut f = floor(None).await;
    let order = pack_one(&mut f.client).await;

    // An own-carrier confirmation whose answer never came: the order has a tracking number on
    // its way to Amazon.
    f.service.with_store(|s| {
        let carrier = packline::domain::Carrier::Ups;
        let tracking =
            packline::domain::TrackingNumber::parse(&carrier, "1Z999AA10123456784").unwrap();
        s.begin_own_carrier(&order, 1, &carrier, &tracking, "sam", Utc::now())
            .unwrap();
    });
    let buy = buy_label(&mut f.client, &order).await;
    assert!(
        matches!(&buy, Err(ServiceError::Invalid(m)) if m.contains("confirming already")),
        "{buy:?}"
    );
    assert_eq!(count_requests(&f.market, "createShipment"), 0);

    // A second order: the process stops right after writing the purchase intent.
    let second = pack_one(&mut f.client).await;
    f.service.with_store(|s| {
        s.begin_purchase(&second, 1, "UPS_GROUND", "sam", Utc::now())
            .unwrap();
        // What the next start does.
        assert_eq!(s.recover_purchases(Utc::now()).unwrap(), 1);
        assert_eq!(
            s.shipment(&second, 1).unwrap().unwrap().state,
            ShipmentState::OutcomeUnknown
        );
    });
    assert_eq!(state(&f, &second), OrderState::Exception);
    // The lead finds nothing was bought, clears it, puts the order back: now it can be bought.
    f.client
        .call(ops::ClearPurchase {
            order: second.to_string(),
            reason: "Seller Central shows no shipment".into(),
        })
        .await
        .unwrap();
    f.client
        .call(ops::ResolveException {
            order: second.to_string(),
            resume: OrderState::Packed,
            resolution: "purchase cleared".into(),
        })
        .await
        .unwrap();
    buy_label(&mut f.client, &second).await.unwrap();
    assert_eq!(state(&f, &second), OrderState::Labelled);
    assert_eq!(count_requests(&f.market, "createShipment"), 1);
}

/// Closes the floor's service (as a stopping daemon does) so its store can be opened again; the
/// site's directory and the marketplace, still running.
fn stop(f: Floor) -> (tempfile::TempDir, Marketplace) {
    let (dir, market, service) = f.close();
    drop(service);
    (dir, market)
}

/// Opens the stopped site's store again, unlocked, once the last process let go of it.
fn reopen(dir: &Path) -> packline::store::Store {
    use packline::store::{MasterSource, Store};
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut store = loop {
        match Store::open(&dir.join("data")) {
            Ok(s) => break s,
            Err(_) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("the store did not open again: {e}"),
        }
    };
    store
        .unlock(&MasterSource::IdentityFile(dir.join("master.key")))
        .unwrap();
    store
}

/// The audit log's actions for one order, oldest first (the store must be closed).
/// Each order's audit log says Amazon confirmed packline's shipment, never "shipped elsewhere".
fn confirmed_not_elsewhere(dir: &Path, orders: &[&OrderId]) {
    for order in orders {
        let actions = actions_for(dir, order);
        assert!(
            actions.iter().any(|a| a == "amazon_confirmed_shipment"),
            "{order}: {actions:?}"
        );
        assert!(
            !actions.iter().any(|a| a == "shipped_elsewhere"),
            "{order}: {actions:?}"
        );
    }
}

fn actions_for(dir: &Path, order: &OrderId) -> Vec<String> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while packline::store::raw_db(&dir.join("data")).is_err() {
        assert!(std::time::Instant::now() < deadline, "the store stays open");
        std::thread::sleep(Duration::from_millis(50));
    }
    audit_entries(&dir.join("data"))
        .iter()
        .filter(|e| e["order"] == order.as_str())
        .map(|e| e["action"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Packs an order and buys its label while the answer is lost (Amazon bought it): the order is
/// an exception whose purchase has an unknown outcome.
async fn lose_a_purchase(f: &mut Floor) -> OrderId {
    let lost = pack_one(&mut f.client).await;
    http(
        &f.market,
        "POST",
        "/_training/faults/createShipment/timeout",
    );
    let r = buy_label(&mut f.client, &lost).await;
    assert!(matches!(r, Err(ServiceError::Conflict(_))), "{r:?}");
    assert_eq!(state(f, &lost), OrderState::Exception);
    lost
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_after_a_purchase_keeps_the_order_until_it_leaves_on_a_manifest() {
    let mut f = floor(None).await;
    // A purchase whose answer was lost: Amazon bought the label and marks the order SHIPPED.
    let lost = lose_a_purchase(&mut f).await;
    // A purchase that went through: Amazon marks that order SHIPPED too.
    let bought = pack_one(&mut f.client).await;
    buy_label(&mut f.client, &bought).await.unwrap();
    assert_eq!(state(&f, &bought), OrderState::Labelled);
    assert_eq!(count_requests(&f.market, "createShipment"), 2);

    let c = f.service.sync_now("lead").await.unwrap();
    assert_eq!(c.updated, 2, "{c:?}");
    // The lead still sees the lost answer, and the labelled box is still on the bench.
    assert_eq!(state(&f, &lost), OrderState::Exception);
    let s = f
        .service
        .with_store(|s| s.shipment(&lost, 1).unwrap().unwrap());
    assert_eq!(s.state, ShipmentState::OutcomeUnknown);
    assert_eq!(state(&f, &bought), OrderState::Labelled);
    // A second sync changes nothing, and the day's close ships the labelled order.
    f.service.sync_now("lead").await.unwrap();
    assert_eq!(state(&f, &lost), OrderState::Exception);
    let day = close_day(&mut f.client).await;
    assert_eq!(day.shipped, 1);
    assert_eq!(state(&f, &bought), OrderState::Shipped);

    let (dir, _market) = stop(f);
    confirmed_not_elsewhere(dir.path(), &[&lost, &bought]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_and_a_sync_keep_purchases_of_unknown_outcome_for_a_lead() {
    let mut f = floor(None).await;
    // An answer lost before the restart.
    let lost = lose_a_purchase(&mut f).await;
    // A purchase cut short by the stop: its intent is written and Amazon has shipped the order
    // (here confirmed directly, as the purchase would have).
    let cut = pack_one(&mut f.client).await;
    let rec = f.service.with_store(|s| {
        s.begin_purchase(&cut, 1, "UPS_GROUND", "sam", Utc::now())
            .unwrap();
        s.get(&cut).unwrap().unwrap()
    });
    let confirmation = packline::amazon::orders::ConfirmShipment {
        marketplace_id: rec.order.marketplace_id.clone().unwrap_or_default(),
        package_detail: packline::amazon::orders::PackageDetail {
            package_reference_id: "1".into(),
            carrier_code: "UPS".into(),
            carrier_name: None,
            shipping_method: None,
            tracking_number: "1Z999AA10123456784".into(),
            ship_date: Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            order_items: rec
                .order
                .lines
                .iter()
                .map(|l| packline::amazon::orders::ConfirmItem {
                    order_item_id: l.item_id.clone(),
                    quantity: l.quantity_ordered,
                    transparency_codes: Vec::new(),
                })
                .collect(),
        },
    };
    training_api(&f.market, Duration::from_secs(5))
        .confirm_shipment(&cut, &confirmation)
        .await
        .unwrap();

    // The restart: a new service on the same store, and its first sync.
    let (dir, market) = stop(f);
    let mut settings = crate::common::floor::settings();
    settings.shipping = example_shipping(None);
    let service = Service::new(reopen(dir.path()), settings);
    service.set_amazon(Arc::new(training_api(&market, Duration::from_secs(5))));
    service.sync_now("lead").await.unwrap();
    for order in [&lost, &cut] {
        let (state, shipment) = service.with_store(|s| {
            (
                s.get(order).unwrap().unwrap().state,
                s.shipment(order, 1).unwrap().unwrap().state,
            )
        });
        assert_eq!(state, OrderState::Exception, "{order}");
        assert_eq!(shipment, ShipmentState::OutcomeUnknown, "{order}");
    }
    drop(service);
    confirmed_not_elsewhere(dir.path(), &[&lost, &cut]);
}

/// The buyer asks to cancel after the label was bought: sync holds the order, its label is not
/// printed, and its parcel stays off the manifest and behind at close, until a lead releases it
/// (or voids the label, which a hold allows).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_after_the_label_keeps_the_parcel_off_the_manifest() {
    let mut f = floor(None).await;
    let order = pack_one(&mut f.client).await;
    buy_label(&mut f.client, &order).await.unwrap();
    http(
        &f.market,
        "POST",
        &format!("/_training/orders/{order}/cancel-request"),
    );
    let counts = f.service.sync_now("lead").await.unwrap();
    assert_eq!(counts.held, 1);
    assert_eq!(state(&f, &order), OrderState::Labelled);

    let printed = f
        .client
        .call(ops::PrintLabel {
            order: order.to_string(),
            printer: None,
            package: None,
        })
        .await;
    let refusal = printed.unwrap_err().to_string();
    assert!(
        refusal.starts_with(&format!("order {order} is on hold (since ")),
        "{refusal}"
    );
    let day = close_day(&mut f.client).await;
    assert_eq!(
        (day.shipped, day.shipments.len(), day.held.clone()),
        (0, 0, vec![order.clone()])
    );
    assert_eq!(state(&f, &order), OrderState::Labelled);

    // The seller ships anyway: released, the parcel leaves with the day.
    f.client
        .call(ops::ReleaseHold {
            order: order.to_string(),
        })
        .await
        .unwrap();
    let day = close_day(&mut f.client).await;
    assert_eq!((day.shipped, day.shipments.len()), (1, 1));
    assert!(day.held.is_empty());
    assert_eq!(state(&f, &order), OrderState::Shipped);
    assert_eq!(count_requests(&f.market, "createShipment"), 1);
}

/// `print_at_claim = "both"`: claiming a batch sends the pick sheet (no personal data), then each
/// order's slip in slot order with its slot printed large, through the print queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_prints_the_pick_sheet_then_the_slips_in_slot_order() {
    let (printer, jobs) = raw_printer();
    let f = floor_with(Some(printer), |s| {
        s.print_at_claim = packline::config::PrintAtClaim::Both;
    })
    .await;
    let b = f
        .client
        .call(ops::ClaimBatch { size: Some(3) })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b.slots.len(), 3);
    let names: Vec<String> = f.service.with_store(|s| {
        b.orders
            .iter()
            .map(|o| s.recipient_for_document(o).unwrap().unwrap().name.clone())
            .collect()
    });
    let next = || String::from_utf8(jobs.recv_timeout(Duration::from_secs(10)).unwrap()).unwrap();
    let sheet = next();
    assert!(sheet.contains("PICK SHEET"), "{sheet}");
    assert!(sheet.contains(&format!("batch {}", b.id)), "{sheet}");
    for (o, name) in b.orders.iter().zip(&names) {
        assert!(!sheet.contains(o.as_str()), "orders are named by slot only");
        assert!(!sheet.contains(name.as_str()), "no recipient on the sheet");
    }
    for slot in &b.slots {
        let slip = next();
        assert!(
            slip.contains(&format!("^FD{}^FS", slot.order)),
            "slot {}: {slip}",
            slot.slot
        );
        assert!(
            slip.contains(&format!("^FDSLOT {}^FS", slot.slot)),
            "{slip}"
        );
    }
}

/// A claim on a site with no slip printer still claims; the paperwork is told as failed prints.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_without_a_printer_claims_and_says_the_slips_failed() {
    let mut f = floor_with(None, |s| {
        s.print_at_claim = packline::config::PrintAtClaim::Slips;
    })
    .await;
    let b = f
        .client
        .call(ops::ClaimBatch { size: Some(2) })
        .await
        .unwrap()
        .expect("the claim stands");
    let (ok, detail) = printed(&mut f.client, &b.orders[0]).await;
    assert!(!ok);
    assert!(
        detail.starts_with("packing slip not printed: no printer for packing slips"),
        "{detail}"
    );
    assert_eq!(state(&f, &b.orders[0]), OrderState::Picking);
}

/// A line Amazon asks serial numbers and Transparency codes for: the box cannot close without a
/// code per unit, and the codes reach Amazon with the shipment, which the marketplace (like
/// Amazon) refuses without them or with one twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coded_units_cannot_ship_without_their_codes() {
    let f = floor(None).await;
    let c = &f.client;
    let b = c
        .call(ops::ClaimBatch { size: Some(2) })
        .await
        .unwrap()
        .unwrap();
    for id in &b.orders {
        for change in ["transparency", "serial-required"] {
            http(
                &f.market,
                "POST",
                &format!("/_training/orders/{id}/{change}"),
            );
        }
    }
    f.service.sync_now("lead").await.unwrap();
    pick_all(c, &b).await;
    let order = b.orders[0].clone();
    let check = c
        .call(ops::PackStart {
            order: order.to_string(),
        })
        .await
        .unwrap();
    assert!(check.lines.iter().all(|l| l.kinds.len() == 2), "{check:?}");
    let scan = |code: &str, codes: &[&str]| ops::PackScan {
        order: order.to_string(),
        code: code.to_owned(),
        unit_codes: codes.iter().map(|s| s.to_string()).collect(),
    };
    let first = &check.lines[0].sku;
    c.call(scan(first, &[])).await.unwrap();
    let early = c
        .call(ops::PackFinish {
            order: order.to_string(),
            box_name: "M 30x20x15".into(),
            weight_g: 1200,
            partial: None,
            label: false,
        })
        .await
        .unwrap_err()
        .to_string();
    assert!(early.contains("still needs"), "{early}");
    // The unit again instead of its serial: refused, nothing counted.
    let again = c.call(scan(first, &[])).await.unwrap_err().to_string();
    assert!(
        again.starts_with("scan the serial number of the"),
        "{again}"
    );
    c.call(scan("SN-0", &["AZ:00000000000000000000000TX0"]))
        .await
        .unwrap();
    let mut n = 1;
    for (i, l) in check.lines.iter().enumerate() {
        let already = u32::from(i == 0);
        for _ in already..l.needed {
            let (sn, tp) = (format!("SN-{n}"), format!("AZ:{:0>26}", format!("TX{n}")));
            n += 1;
            c.call(scan(&l.sku, &[&sn, &tp])).await.unwrap();
        }
    }
    let open = c
        .call(ops::PackStart {
            order: order.to_string(),
        })
        .await
        .unwrap();
    assert!(open.is_complete(), "{open:?}");
    c.call(ops::PackFinish {
        order: order.to_string(),
        box_name: "M 30x20x15".into(),
        weight_g: 1200,
        partial: None,
        label: false,
    })
    .await
    .unwrap();
    let codes = f.service.with_store(|s| s.item_codes(&order).unwrap());
    let transparency: usize = codes
        .iter()
        .filter(|c| c.kind == packline::domain::CodeKind::Transparency)
        .map(|c| c.codes.len())
        .sum();
    let units: u32 = check.lines.iter().map(|l| l.needed).sum();
    assert_eq!(transparency, units as usize);
    // Confirmed with its codes, the marketplace accepts it.
    let shipped = c
        .call(ops::ShipOwnCarrier {
            order: order.to_string(),
            carrier: "UPS".into(),
            tracking: vec!["1Z999AA10123456784".into()],
        })
        .await
        .unwrap();
    assert_eq!(shipped[0].state, ShipmentState::Confirmed);

    // Without codes, or with one twice, Amazon's answer is a refusal naming the item.
    let other = &b.orders[1];
    let items = f
        .service
        .with_store(|s| s.get(other).unwrap().unwrap().order.lines);
    let api = training_api(&f.market, Duration::from_secs(5));
    let confirm = |codes: &dyn Fn(u32) -> Vec<String>| packline::amazon::orders::ConfirmShipment {
        marketplace_id: "ATVPDKIKX0DER".into(),
        package_detail: packline::amazon::orders::PackageDetail {
            package_reference_id: "1".into(),
            carrier_code: "UPS".into(),
            carrier_name: None,
            shipping_method: None,
            tracking_number: "1Z999AA10123456784".into(),
            ship_date: Utc::now().to_rfc3339(),
            order_items: items
                .iter()
                .map(|l| packline::amazon::orders::ConfirmItem {
                    order_item_id: l.item_id.clone(),
                    quantity: l.quantity_ordered,
                    transparency_codes: codes(l.quantity_ordered),
                })
                .collect(),
        },
    };
    let none = api.confirm_shipment(other, &confirm(&|_| vec![])).await;
    let msg = none.unwrap_err().to_string();
    assert!(msg.contains("is a Transparency item"), "{msg}");
    let twice = api
        .confirm_shipment(
            other,
            &confirm(&|q| vec!["AZ:0000000000000000000000SAME".into(); q as usize]),
        )
        .await;
    let msg = twice.unwrap_err().to_string();
    assert!(msg.contains("given once"), "{msg}");
}

/// Claims every waiting order, picks them, and opens the one with the most units at the bench
/// (at least `units`); its id and check.
async fn bench_a_big_order(c: &mut Client, units: u32) -> (OrderId, packline::domain::PackCheck) {
    let Some(b) = c.call(ops::ClaimBatch { size: Some(20) }).await.unwrap() else {
        panic!("nothing to pick")
    };
    pick_all(c, &b).await;
    let mut best = None;
    for order in &b.orders {
        let check = c
            .call(ops::PackStart {
                order: order.to_string(),
            })
            .await
            .unwrap();
        let n: u32 = check.lines.iter().map(|l| l.needed).sum();
        if best.as_ref().is_none_or(|(_, m, _)| n > *m) {
            best = Some((order.clone(), n, check));
        }
    }
    let (order, n, check) = best.unwrap();
    assert!(
        n >= units,
        "the seeded floor has an order of {units}+ units"
    );
    (order, check)
}

/// Scans `n` units of the check's lines, first line first.
async fn scan_units(c: &mut Client, order: &OrderId, check: &packline::domain::PackCheck, n: u32) {
    let mut left = n;
    for l in &check.lines {
        let todo = l.needed.saturating_sub(l.scanned).min(left);
        for _ in 0..todo {
            c.call(ops::PackScan {
                order: order.to_string(),
                code: l.sku.clone(),
                unit_codes: Vec::new(),
            })
            .await
            .unwrap();
        }
        left -= todo;
    }
    assert_eq!(left, 0, "the order has {n} units to scan");
}

/// Packs a big order in two boxes: one unit in the first, the rest in the second.
async fn pack_two_boxes(c: &mut Client) -> (OrderId, u32) {
    let (order, check) = bench_a_big_order(c, 2).await;
    let units: u32 = check.lines.iter().map(|l| l.needed).sum();
    scan_units(c, &order, &check, 1).await;
    let empty = c
        .call(ops::PackCloseBox {
            order: order.to_string(),
            box_name: "no such box".into(),
            weight_g: 300,
        })
        .await;
    assert!(matches!(empty, Err(ServiceError::Invalid(_))), "{empty:?}");
    let after = c
        .call(ops::PackCloseBox {
            order: order.to_string(),
            box_name: "S 20x15x10".into(),
            weight_g: 300,
        })
        .await
        .unwrap();
    assert_eq!(after.boxes.len(), 1);
    assert_eq!(after.open_units(), 0);
    // An empty box is not closed.
    let again = c
        .call(ops::PackCloseBox {
            order: order.to_string(),
            box_name: "S 20x15x10".into(),
            weight_g: 300,
        })
        .await;
    assert!(
        matches!(&again, Err(ServiceError::WrongScan { message }) if message.contains("empty")),
        "{again:?}"
    );
    scan_units(c, &order, &after, units - 1).await;
    c.call(ops::PackFinish {
        order: order.to_string(),
        box_name: "M 30x20x15".into(),
        weight_g: 900,
        partial: None,
        label: false,
    })
    .await
    .unwrap();
    (order, units)
}

/// The units each logged request of `op` (status `status`) carried for `order`, summed by
/// order item; and how many requests there were.
fn units_sent(
    m: &Marketplace,
    op: &str,
    status: u64,
    order: &OrderId,
) -> (usize, std::collections::BTreeMap<String, u64>) {
    let mut sum = std::collections::BTreeMap::new();
    let mut n = 0;
    for r in request_log(m) {
        if r["operation"] != op || r["status"] != status || r["params"]["orderId"] != order.as_str()
        {
            continue;
        }
        n += 1;
        for pair in r["params"]["items"].as_str().unwrap().split(',') {
            let (item, q) = pair.split_once(':').unwrap();
            *sum.entry(item.to_owned()).or_default() += q.parse::<u64>().unwrap();
        }
    }
    (n, sum)
}

/// What the order has left to ship, by order item.
fn units_to_ship(f: &Floor, order: &OrderId) -> std::collections::BTreeMap<String, u64> {
    f.service.with_store(|s| {
        s.get(order)
            .unwrap()
            .unwrap()
            .order
            .lines
            .iter()
            .map(|l| {
                (
                    l.item_id.clone(),
                    u64::from(l.quantity_ordered - l.quantity_shipped),
                )
            })
            .collect()
    })
}

/// Two boxes: two packages, two labels bought (each createShipment with its own units, adding
/// up to the order), two labels printed byte for byte, two rows on the manifest, one order
/// shipped at the close.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_box_order_gets_a_label_per_box_and_leaves_on_one_manifest() {
    let (printer, jobs) = raw_printer();
    let mut f = floor(Some(printer)).await;
    let (order, units) = pack_two_boxes(&mut f.client).await;
    let want = units_to_ship(&f, &order);
    let packages = f
        .client
        .call(ops::Packages {
            order: order.to_string(),
        })
        .await
        .unwrap();
    assert_eq!(packages.len(), 2);
    let numbers: Vec<u32> = packages.iter().map(|p| p.package.number).collect();
    assert_eq!(numbers, [1, 2]);
    assert_eq!(packages[0].package.units(), 1);
    assert_eq!(packages[1].package.units(), units - 1);
    assert_eq!(packages[0].package.parcel.box_name, "S 20x15x10");
    assert_eq!(packages[1].package.parcel.weight_g, 900);

    let bought = f
        .client
        .call(ops::BuyLabel {
            order: order.to_string(),
            service: None,
        })
        .await
        .unwrap();
    assert_eq!(bought.len(), 2);
    assert!(bought.iter().all(|s| s.state == ShipmentState::Bought));
    assert_ne!(
        bought[0].tracking, bought[1].tracking,
        "a tracking number per box"
    );
    assert_eq!(state(&f, &order), OrderState::Labelled);
    let (n, sent) = units_sent(&f.market, "createShipment", 200, &order);
    assert_eq!(n, 2, "one purchase per box");
    assert_eq!(
        sent, want,
        "the two packages carry the order, no unit twice"
    );
    let again = f
        .client
        .call(ops::BuyLabel {
            order: order.to_string(),
            service: None,
        })
        .await;
    assert!(matches!(again, Err(ServiceError::Conflict(_))), "{again:?}");

    let queued = f
        .client
        .call(ops::PrintLabel {
            order: order.to_string(),
            printer: None,
            package: None,
        })
        .await
        .unwrap();
    assert_eq!(queued.len(), 2);
    for _ in 0..2 {
        let (ok, detail) = printed(&mut f.client, &order).await;
        assert!(ok, "{detail}");
    }
    let mut got = vec![
        jobs.recv_timeout(Duration::from_secs(5)).unwrap(),
        jobs.recv_timeout(Duration::from_secs(5)).unwrap(),
    ];
    let mut stored: Vec<Vec<u8>> = f.service.with_store(|s| {
        (1..=2)
            .map(|n| s.label(&order, n).unwrap().to_vec())
            .collect()
    });
    got.sort();
    stored.sort();
    assert_eq!(
        got, stored,
        "each box's label reached the printer byte for byte"
    );

    let day = close_day(&mut f.client).await;
    let rows: Vec<u32> = day
        .shipments
        .iter()
        .filter(|s| s.order == order)
        .map(|s| s.package)
        .collect();
    assert_eq!(rows, [1, 2], "the manifest lists packages");
    assert_eq!(day.shipped, 1);
    assert_eq!(state(&f, &order), OrderState::Shipped);
}

/// Own carrier, two boxes: a tracking number per package, each confirmed as its own package
/// (references 1 and 2) whose units add up to the order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_box_own_carrier_order_is_confirmed_package_by_package() {
    let mut f = floor(None).await;
    let (order, _) = pack_two_boxes(&mut f.client).await;
    let want = units_to_ship(&f, &order);
    let ship = |tracking: &[&str]| ops::ShipOwnCarrier {
        order: order.to_string(),
        carrier: "Royal Mail".into(),
        tracking: tracking.iter().map(|t| (*t).to_owned()).collect(),
    };
    let one = f.client.call(ship(&["AB123456789GB"])).await;
    assert!(
        matches!(&one, Err(ServiceError::Invalid(m)) if m.contains("2 package(s)")),
        "{one:?}"
    );
    let twice = f
        .client
        .call(ship(&["AB123456789GB", "AB123456789GB"]))
        .await;
    assert!(
        matches!(&twice, Err(ServiceError::Invalid(m)) if m.contains("two packages")),
        "{twice:?}"
    );
    assert_eq!(
        count_requests(&f.market, "confirmShipment"),
        0,
        "nothing left packline"
    );
    let shipped = f
        .client
        .call(ship(&["AB123456789GB", "AB123456790GB"]))
        .await
        .unwrap();
    assert_eq!(shipped.len(), 2);
    assert!(shipped.iter().all(|s| s.state == ShipmentState::Confirmed));
    assert_eq!(state(&f, &order), OrderState::Shipped);
    let refs: Vec<String> = request_log(&f.market)
        .iter()
        .filter(|r| r["operation"] == "confirmShipment" && r["status"] == 204)
        .map(|r| {
            r["params"]["packageReferenceId"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(refs, ["1", "2"]);
    let (n, sent) = units_sent(&f.market, "confirmShipment", 204, &order);
    assert_eq!(n, 2);
    assert_eq!(sent, want, "the packages' units add up to the order");
}

/// A lead ships part of an order: a packer may not; the packed units leave on a label, the
/// order goes back on the queue with the rest (a sync in between keeps it there), and the rest
/// leaves later as the order's next package.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_ships_part_of_an_order_and_the_rest_waits_on_the_queue() {
    let mut f = floor(None).await;
    let (order, check) = bench_a_big_order(&mut f.client, 2).await;
    let units: u32 = check.lines.iter().map(|l| l.needed).sum();
    let want = units_to_ship(&f, &order);
    scan_units(&mut f.client, &order, &check, 1).await;
    let finish = |partial: Option<&str>| ops::PackFinish {
        order: order.to_string(),
        box_name: "S 20x15x10".into(),
        weight_g: 300,
        partial: partial.map(str::to_owned),
        label: false,
    };
    let incomplete = f.client.call(finish(None)).await;
    assert!(
        matches!(&incomplete, Err(ServiceError::Conflict(m)) if m.contains("still needs")),
        "{incomplete:?}"
    );
    let packer = packline::service::Caller {
        user: "pat".into(),
        role: packline::domain::Role::Packer,
    };
    let r = f.service.run(&packer, finish(Some("short one")));
    assert!(matches!(r, Err(ServiceError::Forbidden { .. })), "{r:?}");
    f.client
        .call(finish(Some(
            "one unit short; the customer gets the rest later",
        )))
        .await
        .unwrap();
    assert_eq!(state(&f, &order), OrderState::Packed);
    let first = buy_label(&mut f.client, &order).await.unwrap();
    assert_eq!(first.package, 1);
    let day = close_day(&mut f.client).await;
    assert_eq!(day.shipped, 1);
    assert_eq!(
        state(&f, &order),
        OrderState::New,
        "the rest waits on the queue"
    );
    let left: u64 = units_to_ship(&f, &order).values().sum();
    assert_eq!(left, u64::from(units - 1));
    // Amazon now says the order is partly shipped: it stays on the queue.
    f.service.sync_now("lead").await.unwrap();
    assert_eq!(state(&f, &order), OrderState::New);

    // The rest: picked, packed and labelled as package 2.
    let Some(b) = f
        .client
        .call(ops::ClaimBatch { size: Some(20) })
        .await
        .unwrap()
    else {
        panic!("the rest is on the queue")
    };
    assert!(b.orders.contains(&order));
    let mine: u32 = b
        .lines
        .iter()
        .flat_map(|l| &l.orders)
        .filter(|(o, _)| *o == order)
        .map(|(_, q)| *q)
        .sum();
    assert_eq!(mine, units - 1, "only the rest is picked");
    pick_all(&f.client, &b).await;
    let check = f
        .client
        .call(ops::PackStart {
            order: order.to_string(),
        })
        .await
        .unwrap();
    scan_units(&mut f.client, &order, &check, units - 1).await;
    f.client.call(finish(None)).await.unwrap();
    let second = buy_label(&mut f.client, &order).await.unwrap();
    assert_eq!(second.package, 2);
    close_day(&mut f.client).await;
    assert_eq!(state(&f, &order), OrderState::Shipped);
    let (n, sent) = units_sent(&f.market, "createShipment", 200, &order);
    assert_eq!(n, 2);
    assert_eq!(sent, want, "both shipments together carry the order once");
    // The lead's decision and the part that left are in the audit log.
    let (dir, _market) = stop(f);
    let actions = actions_for(dir.path(), &order);
    let at = |a: &str| actions.iter().position(|x| x == a);
    assert!(at("partial_shipment") < at("ship_part"), "{actions:?}");
    assert!(at("partial_shipment").is_some(), "{actions:?}");
    assert_eq!(
        actions.last().map(String::as_str),
        Some("ship"),
        "{actions:?}"
    );
}
