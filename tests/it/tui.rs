//! The TUI headless: the whole app driven through its actions against the real in-process
//! service and store, and snapshots of each screen at 80×24 and 40×16 on ratatui's TestBackend,
//! hostile data included.

use std::path::Path;

use crate::common::*;
use chrono::Utc;
use packline::domain::OrderState;
use packline::service::client::Client;
use packline::service::ops as dops;
use packline::service::{Service, Settings};
use packline::tui::action::Action;
use packline::tui::app::{App, Screen};
use packline::tui::keymap::Keymap;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const LONG_NAME_BYTES: usize = 10_000;

fn site(dir: &Path, people: &[Person]) -> std::sync::Arc<Service> {
    site_with(dir, people, |_| {})
}

fn site_with(
    dir: &Path,
    people: &[Person],
    configure: impl FnOnce(&mut Settings),
) -> std::sync::Arc<Service> {
    let mut store = unlocked_store(dir);
    let refs: Vec<&Person> = people.iter().collect();
    imp(
        &mut store,
        &refs,
        "UNSHIPPED",
        "2026-11-23T10:00:00Z",
        t("2026-11-23T11:00:00Z"),
    );
    let mut settings = settings_of("ann");
    settings.locations =
        packline::domain::Locations::from_csv("SKU-HOSTILE,B-07,0123456789012\n").unwrap();
    settings.training = true;
    settings.roles = packline::config::RolesConfig {
        leads: vec!["ann".into()],
        ..Default::default()
    };
    configure(&mut settings);
    let service = Service::new(store, settings);
    // Snapshots show the counts: let the background count finish first.
    service.wait_for_counts();
    service
}

fn orders() -> Vec<Person> {
    let mut ps: Vec<Person> = (1..=3)
        .map(|i| {
            person(
                &format!("904-0000000-000000{i}"),
                &format!("Ann Example {i}"),
            )
        })
        .collect();
    // A hostile recipient: an escape sequence, right-to-left text and a 10 KB name.
    let mut hostile = person("904-0000000-0000009", "");
    hostile.name = format!(
        "\u{1b}]0;pwned\u{7}\u{1b}[2J\u{202e}محمد{}",
        "x".repeat(LONG_NAME_BYTES)
    );
    ps.push(hostile);
    ps
}

async fn app(service: std::sync::Arc<Service>) -> App {
    let client = Client::local(service, "ann").unwrap();
    App::new(client, Keymap::load("default", None).unwrap())
        .await
        .unwrap()
}

/// One action, and every answer it brings applied (the terminal goes on drawing meanwhile; a
/// test waits so that it can look).
async fn act(app: &mut App, action: Action) {
    app.act(action);
    app.settle().await;
}

/// A frame with each notice of the label bought (`notice`: "label printed: CARRIER", then its
/// tracking number, on one line or wrapped onto the next) as one placeholder line, and no
/// trailing blanks: which carrier's offer keeps the order's promise depends on the hour the test
/// runs, and the carrier's and tracking number's lengths move the padding and the wrap.
fn label_notice_as_placeholder(frame: &str, notice: &str, tracking: &str) -> String {
    let mut out = String::new();
    let mut lines = frame.lines().map(str::trim_end).peekable();
    while let Some(line) = lines.next() {
        if line.starts_with(notice) {
            if !line.contains(tracking) {
                let wrapped =
                    lines.next_if(|next| !next.is_empty() && tracking.starts_with(next.trim()));
                assert!(
                    wrapped.is_some(),
                    "the tracking number after {line:?}:\n{frame}"
                );
            }
            out.push_str("label printed: CARRIER TRACKING\n");
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

fn frame(app: &App, w: u16, h: u16) -> String {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| app.view(f, t("2026-11-24T12:00:00Z")))
        .unwrap();
    let buf = term.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..h {
        for x in 0..w {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    // Nothing from data may reach the terminal as a control character.
    assert!(
        !out.chars().any(|c| c.is_control() && c != '\n'),
        "a control character was drawn:\n{out}"
    );
    out
}

fn snapshot(name: &str, app: &App) {
    for (w, h) in [(80, 24), (40, 16)] {
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), frame(app, w, h));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claim_pick_pack_with_a_wrong_scan_refused() {
    let dir = tempfile::tempdir().unwrap();
    let service = site(dir.path(), &orders()[..1]);
    let mut app = app(service.clone()).await;
    snapshot("queue", &app);

    act(&mut app, Action::Claim).await;
    assert_eq!(app.screen, Screen::Pick);
    let batch = app.screens.pick.batch.clone().expect("a batch");
    assert_eq!(batch.orders.len(), 1);
    snapshot("pick", &app);

    act(&mut app, Action::Scan("NOT-ON-LIST".into())).await;
    let alert = app.alert.clone().expect("a wrong scan alerts");
    assert!(alert.error);
    assert!(alert.text.contains("wrong item"), "{}", alert.text);
    assert!(app.bell, "a wrong scan rings the bell");
    snapshot("pick_wrong_scan", &app);

    // A scanner's burst: the bin, then two units, all typed before any answer is back. The
    // status line says a scan is in flight, and every one of them counts.
    for code in ["B-07", "0123456789012", "SKU-HOSTILE"] {
        app.act(Action::Scan(code.into()));
    }
    assert!(
        app.in_flight()
            .is_some_and(|d| d.starts_with("scanning B-07"))
    );
    app.settle().await;
    assert!(app.in_flight().is_none());
    assert!(app.screens.pick.batch.as_ref().unwrap().is_complete());
    act(&mut app, Action::FinishPick).await;
    assert!(app.screens.pick.batch.is_none(), "{:?}", app.alert);

    act(&mut app, Action::Pack).await;
    let order = batch.orders[0].to_string();
    // The slip's order id and the first unit in one burst: the unit is sent only once the
    // bench has the order open (decided earlier, it would be taken for an order to open).
    app.act(Action::Scan(order.clone()));
    app.act(Action::Scan("SKU-HOSTILE".into()));
    app.settle().await;
    let check = app
        .screens
        .pack
        .check
        .clone()
        .expect("the order is at the bench");
    let needed: u32 = check.lines.iter().map(|l| l.needed).sum();
    assert_eq!(check.units_left(), needed - 1, "{:?}", app.alert);
    act(&mut app, Action::Scan("SOCK-1".into())).await;
    assert!(app.alert.as_ref().unwrap().error, "a wrong unit is refused");
    act(&mut app, Action::Scan("SKU-HOSTILE".into())).await;
    act(&mut app, Action::Scan("SKU-HOSTILE".into())).await;
    assert!(
        app.alert.as_ref().unwrap().text.contains("extra unit"),
        "{:?}",
        app.alert
    );
    snapshot("pack_complete", &app);
    // A weight of 0 is said to be one, not taken for a missing box.
    act(&mut app, Action::Char('0')).await;
    act(&mut app, Action::Submit).await;
    assert_eq!(
        app.alert.as_ref().map(|a| a.text.as_str()),
        Some("0 g is no weight: type the box's weight in grams (1 g – 70 kg) and press Enter")
    );
    assert!(app.screens.pack.check.is_some());
    for c in "850".chars() {
        act(&mut app, Action::Char(c)).await;
    }
    act(&mut app, Action::Submit).await;
    assert!(app.screens.pack.check.is_none(), "{:?}", app.alert);
    let rec = service.with_store(|s| s.get(&batch.orders[0]).unwrap().unwrap());
    assert_eq!(rec.state, OrderState::Packed);
    let packages = service.with_store(|s| s.packages(&batch.orders[0]).unwrap());
    assert_eq!(packages.len(), 1, "one box");
    assert_eq!(packages[0].parcel.weight_g, 850);

    // The packed order waits on the labels screen.
    act(&mut app, Action::Labels).await;
    assert_eq!(app.screen, Screen::Labels);
    assert_eq!(app.screens.labels.orders.len(), 1);
    snapshot("labels", &app);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancellation_mid_pick_pulls_the_order_with_an_alert() {
    let dir = tempfile::tempdir().unwrap();
    let people = orders();
    let service = site(dir.path(), &people[..2]);
    let mut app = app(service.clone()).await;
    act(&mut app, Action::Claim).await;
    assert_eq!(app.screens.pick.batch.as_ref().unwrap().orders.len(), 2);
    let gone = &people[0];
    let body = serde_json::to_vec(&page(
        std::slice::from_ref(gone),
        "CANCELLED",
        "2026-11-24T10:00:00Z",
    ))
    .unwrap();
    let orders = packline::amazon::parse_search_orders(&body, "p")
        .unwrap()
        .orders;
    let svc = service.clone();
    tokio::task::spawn_blocking(move || {
        svc.with_store_mut(|s| s.import(orders, "sync", Utc::now()))
            .unwrap()
    })
    .await
    .unwrap();
    // Other notices (fresh counts) may come first: apply each until the alert is up.
    tokio::time::timeout(std::time::Duration::from_secs(5), async {
        while app.alert.as_ref().is_none_or(|a| !a.error) {
            let n = app.client.notice().await.unwrap();
            app.notice(n);
        }
        // The notice reloads the batch in hand.
        app.settle().await;
    })
    .await
    .unwrap();
    let alert = app.alert.clone().unwrap();
    assert!(alert.error);
    assert!(
        alert
            .text
            .contains(&format!("ORDER {} IS cancelled", gone.order_id)),
        "{}",
        alert.text
    );
    let batch = app.screens.pick.batch.as_ref().unwrap();
    assert_eq!(batch.orders.len(), 1);
    assert_ne!(batch.orders[0].as_str(), gone.order_id);
}

/// Cluster picking with put confirmation: after each unit the screen says large which slot it
/// goes to; a wrong slot is refused like a wrong item, and the batch completes only once every
/// unit is in its slot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_unit_is_put_to_its_orders_slot() {
    let dir = tempfile::tempdir().unwrap();
    let service = site_with(dir.path(), &orders()[..2], |s| s.cart.confirm_put = true);
    let mut app = app(service.clone()).await;
    act(&mut app, Action::Claim).await;
    let batch = app.screens.pick.batch.clone().unwrap();
    assert_eq!(batch.slots.len(), 2);
    act(&mut app, Action::Scan("SKU-HOSTILE".into())).await;
    let put = app
        .screens
        .pick
        .put_to
        .clone()
        .expect("where the unit goes");
    assert_eq!((put.slot, put.in_hand), (1, true));
    assert_eq!(put.order, batch.orders[0]);
    snapshot("pick_put_to", &app);
    act(&mut app, Action::Scan("SLOT-2".into())).await;
    let alert = app.alert.clone().unwrap();
    assert!(alert.error && app.bell);
    assert_eq!(
        alert.text,
        "wrong slot: \"SLOT-2\" is not SLOT 1, where the unit in hand goes"
    );
    act(&mut app, Action::Scan("SLOT-1".into())).await;
    assert!(
        !app.screens.pick.put_to.as_ref().unwrap().in_hand,
        "{:?}",
        app.alert
    );
    // The earliest-due order has its two; the next unit goes to the second slot.
    act(&mut app, Action::Scan("SKU-HOSTILE".into())).await;
    act(&mut app, Action::Scan("SLOT-1".into())).await;
    act(&mut app, Action::Scan("SKU-HOSTILE".into())).await;
    assert_eq!(app.screens.pick.put_to.as_ref().unwrap().slot, 2);
    act(&mut app, Action::Scan("SLOT-2".into())).await;
    act(&mut app, Action::Scan("SKU-HOSTILE".into())).await;
    act(&mut app, Action::FinishPick).await;
    assert!(
        app.alert
            .as_ref()
            .unwrap()
            .text
            .contains("scan its label first"),
        "{:?}",
        app.alert
    );
    act(&mut app, Action::Scan("SLOT-2".into())).await;
    act(&mut app, Action::FinishPick).await;
    assert!(app.screens.pick.batch.is_none(), "{:?}", app.alert);
    for id in &batch.orders {
        let rec = service.with_store(|s| s.get(id).unwrap().unwrap());
        assert_eq!(rec.state, OrderState::Picked);
    }
}

/// A Transparency item with gift wrap at the bench: the bench asks for each unit's code large,
/// counts codes against those asked, and says the wrap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bench_asks_each_units_code_and_says_the_gift_wrap() {
    let dir = tempfile::tempdir().unwrap();
    let service = site_with(dir.path(), &[], |_| {});
    let mut p = page(
        &[person("904-0000000-0000005", "Ann Example")],
        "UNSHIPPED",
        "2026-11-23T10:00:00Z",
    );
    let item = &mut p["orders"][0]["orderItems"][0];
    item["programs"] = serde_json::json!(["TRANSPARENCY"]);
    item["fulfillment"]["packing"]["giftOption"]["giftWrapLevel"] = serde_json::json!("PREMIUM");
    let orders = packline::amazon::parse_search_orders(&serde_json::to_vec(&p).unwrap(), "p")
        .unwrap()
        .orders;
    service.import(orders, "lead", Utc::now()).unwrap();
    let mut app = app(service.clone()).await;
    act(&mut app, Action::Claim).await;
    for _ in 0..2 {
        act(&mut app, Action::Scan("SKU-HOSTILE".into())).await;
    }
    act(&mut app, Action::FinishPick).await;
    act(&mut app, Action::Pack).await;
    act(&mut app, Action::Scan("904-0000000-0000005".into())).await;
    act(&mut app, Action::Scan("SKU-HOSTILE".into())).await;
    let check = app.screens.pack.check.clone().unwrap();
    assert_eq!(
        check.awaiting,
        Some((0, packline::domain::CodeKind::Transparency))
    );
    snapshot("pack_code", &app);
    act(&mut app, Action::Scan("SKU-HOSTILE".into())).await;
    assert!(
        app.alert.as_ref().unwrap().error,
        "a unit instead of its code"
    );
    act(
        &mut app,
        Action::Scan("AZ:00000000000000000000000001".into()),
    )
    .await;
    assert_eq!(
        app.screens.pack.check.as_ref().unwrap().lines[0]
            .codes
            .len(),
        1
    );
}

/// Tote carts on the pick screen: the screen asks for an empty tote per order, large, before
/// any unit; at the bench the tote opens its order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pick_screen_asks_a_tote_per_order_and_the_bench_opens_it() {
    let dir = tempfile::tempdir().unwrap();
    let service = site_with(dir.path(), &orders()[..2], |s| {
        s.cart.tote_prefix = Some("TOTE-".into());
    });
    let mut app = app(service.clone()).await;
    act(&mut app, Action::Claim).await;
    let batch = app.screens.pick.batch.clone().unwrap();
    snapshot("pick_tote", &app);
    act(&mut app, Action::Scan("SKU-HOSTILE".into())).await;
    assert!(
        app.alert
            .as_ref()
            .unwrap()
            .text
            .starts_with("scan an empty tote for SLOT 1"),
        "{:?}",
        app.alert
    );
    act(&mut app, Action::Scan("TOTE-1".into())).await;
    act(&mut app, Action::Scan("TOTE-2".into())).await;
    assert!(
        app.screens
            .pick
            .batch
            .as_ref()
            .unwrap()
            .needs_tote()
            .is_none()
    );
    for _ in 0..4 {
        act(&mut app, Action::Scan("SKU-HOSTILE".into())).await;
    }
    act(&mut app, Action::FinishPick).await;
    assert!(app.screens.pick.batch.is_none(), "{:?}", app.alert);
    act(&mut app, Action::Pack).await;
    act(&mut app, Action::Scan("TOTE-2".into())).await;
    let check = app
        .screens
        .pack
        .check
        .clone()
        .expect("the tote opened its order");
    assert_eq!(check.order, batch.orders[1]);
}

/// A lead holds an order mid-pick: its picker is alerted with the units to put aside, the order
/// leaves the batch (which finishes without it), the queue shows it held, and it never reaches
/// the pack bench until released.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_mid_pick_alerts_and_the_batch_finishes_without_it() {
    use packline::service::ops;
    let dir = tempfile::tempdir().unwrap();
    let people = orders();
    let service = site(dir.path(), &people[..2]);
    let mut app = app(service.clone()).await;
    act(&mut app, Action::Claim).await;
    let batch = app.screens.pick.batch.clone().unwrap();
    assert_eq!(batch.orders.len(), 2);
    let needed: u32 = batch.lines.iter().map(|l| l.needed).sum();
    // All but one unit picked: the held order's share is on the cart already.
    for _ in 0..needed - 1 {
        act(&mut app, Action::Scan("SKU-HOSTILE".into())).await;
    }
    // Units go to the earliest-due order first: the second order has one of its two.
    let held = batch.orders[1].clone();
    let lead = Client::local(service.clone(), "ann").unwrap();
    let answer = lead
        .call(ops::HoldOrder {
            order: held.to_string(),
            reason: "customer called: wrong size".into(),
        })
        .await
        .unwrap();
    assert_eq!(answer.order, held);
    tokio::time::timeout(std::time::Duration::from_secs(5), async {
        while app
            .alert
            .as_ref()
            .is_none_or(|a| !a.text.contains("ON HOLD"))
        {
            let n = app.client.notice().await.unwrap();
            app.notice(n);
        }
        app.settle().await;
    })
    .await
    .unwrap();
    let alert = app.alert.clone().unwrap();
    assert!(alert.error && app.bell);
    let share = needed / 2;
    assert_eq!(
        alert.text,
        format!(
            "ORDER {held} ON HOLD: SLOT 2 to the exceptions shelf: {} x SKU-HOSTILE",
            needed - 1 - share,
        )
    );
    snapshot("pick_held", &app);
    let left = app.screens.pick.batch.clone().unwrap();
    assert_eq!(left.orders, vec![batch.orders[0].clone()]);
    assert!(left.is_complete(), "the rest of the batch is on the cart");
    act(&mut app, Action::FinishPick).await;
    assert!(app.screens.pick.batch.is_none(), "{:?}", app.alert);

    // The held order is back in New, marked on the queue, and is not claimed again.
    service.refresh_counts();
    service.wait_for_counts();
    act(&mut app, Action::Queue).await;
    let row = app
        .screens
        .queue
        .rows
        .iter()
        .find(|r| r.order.id == held)
        .unwrap();
    assert_eq!(row.state, OrderState::New);
    // The queue says it is held; the lead's words stay sealed there.
    assert_eq!(
        row.hold.as_ref().unwrap().reason.shown(),
        packline::domain::SEALED_PLACEHOLDER
    );
    snapshot("queue_held", &app);
    act(&mut app, Action::Claim).await;
    assert!(
        app.screens.pick.batch.is_none(),
        "a held order is never claimed"
    );
    let rec = service.with_store(|s| s.get(&held).unwrap().unwrap());
    assert_eq!(rec.state, OrderState::New);

    // Released, it is claimed like any other.
    lead.call(ops::ReleaseHold {
        order: held.to_string(),
    })
    .await
    .unwrap();
    act(&mut app, Action::Claim).await;
    assert_eq!(app.screens.pick.batch.as_ref().unwrap().orders, vec![held]);
}

/// Held at the pack bench: the packer is told, the bench says so large, and the box is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_at_the_bench_is_shown_and_the_box_refused() {
    use packline::service::ops;
    let dir = tempfile::tempdir().unwrap();
    let service = site(dir.path(), &orders()[..1]);
    let mut app = app(service.clone()).await;
    act(&mut app, Action::Claim).await;
    let batch = app.screens.pick.batch.clone().unwrap();
    for _ in 0..2 {
        act(&mut app, Action::Scan("SKU-HOSTILE".into())).await;
    }
    act(&mut app, Action::FinishPick).await;
    act(&mut app, Action::Pack).await;
    let order = batch.orders[0].clone();
    act(&mut app, Action::Scan(order.to_string())).await;
    act(&mut app, Action::Scan("SKU-HOSTILE".into())).await;
    let lead = Client::local(service.clone(), "ann").unwrap();
    lead.call(ops::HoldOrder {
        order: order.to_string(),
        reason: "address check".into(),
    })
    .await
    .unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(5), async {
        while app.screens.pack.held.is_none() {
            let n = app.client.notice().await.unwrap();
            app.notice(n);
        }
    })
    .await
    .unwrap();
    assert_eq!(
        app.alert.as_ref().unwrap().text,
        format!("ORDER {order} ON HOLD: set it aside on the exceptions shelf")
    );
    snapshot("pack_held", &app);
    act(&mut app, Action::Scan("SKU-HOSTILE".into())).await;
    let alert = app.alert.clone().unwrap();
    assert!(alert.error);
    assert!(
        alert
            .text
            .starts_with(&format!("order {order} is on hold (since ")),
        "{}",
        alert.text
    );
    assert!(!alert.text.contains("address check"), "{}", alert.text);
    let rec = service.with_store(|s| s.get(&order).unwrap().unwrap());
    assert_eq!(rec.state, OrderState::Picked);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_data_and_small_terminals_render_safely() {
    let dir = tempfile::tempdir().unwrap();
    let service = site(dir.path(), &orders()[3..]);
    let mut app = app(service).await;
    snapshot("queue_hostile", &app);
    act(&mut app, Action::Help).await;
    snapshot("help", &app);
    let small = frame(&app, 39, 12);
    assert!(small.contains("terminal too small"), "{small}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_pick_goes_to_the_leads_exceptions_and_back_onto_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let service = site(dir.path(), &orders()[..2]);
    let mut app = app(service.clone()).await;
    act(&mut app, Action::Claim).await;
    let batch = app.screens.pick.batch.clone().unwrap();
    assert_eq!(batch.orders.len(), 2);
    // Three of the four units are found: the second order (by ship-by) is short.
    for _ in 0..3 {
        act(&mut app, Action::Scan("SKU-HOSTILE".into())).await;
    }
    // One key only asks: nothing leaves the batch; Esc puts it down.
    let asked = "short-pick SKU-HOSTILE? Its orders leave the batch. Why: 1 not in its bin, 2 damaged, 3 fewer than listed, or type it; then s again (Esc: no)";
    act(&mut app, Action::ShortPick).await;
    assert_eq!(app.alert.as_ref().map(|a| a.text.as_str()), Some(asked));
    assert_eq!(app.screens.pick.batch.as_ref().unwrap().orders.len(), 2);
    act(&mut app, Action::Back).await;
    assert_eq!(
        app.alert.as_ref().map(|a| a.text.as_str()),
        Some("short pick cancelled")
    );
    act(&mut app, Action::ShortPick).await;
    assert_eq!(app.alert.as_ref().map(|a| a.text.as_str()), Some(asked));
    assert_eq!(app.screens.pick.batch.as_ref().unwrap().orders.len(), 2);
    // The second key, with the reason typed between, sends it.
    for c in "bin empty".chars() {
        act(&mut app, Action::Char(c)).await;
    }
    act(&mut app, Action::ShortPick).await;
    let left = app.screens.pick.batch.clone().expect("one order left");
    assert_eq!(left.orders.len(), 1);
    let shorted = batch
        .orders
        .iter()
        .find(|o| !left.orders.contains(o))
        .unwrap()
        .clone();
    assert!(
        app.alert
            .as_ref()
            .unwrap()
            .text
            .contains("put back 1 x SKU-HOSTILE"),
        "{:?}",
        app.alert
    );
    act(&mut app, Action::FinishPick).await;

    act(&mut app, Action::Exceptions).await;
    assert_eq!(app.screen, Screen::Exceptions);
    assert_eq!(app.screens.exceptions.exceptions.len(), 1);
    assert_eq!(app.screens.exceptions.exceptions[0].order, shorted);
    // The lead, unlocked, reads the note.
    assert_eq!(
        app.screens.exceptions.exceptions[0].note.shown(),
        "short pick of SKU-HOSTILE: bin empty"
    );
    snapshot("exceptions", &app);
    act(&mut app, Action::Resolve).await;
    let rec = service.with_store(|s| s.get(&shorted).unwrap().unwrap());
    assert_eq!(rec.state, OrderState::New);
    assert!(app.screens.exceptions.exceptions.is_empty());

    // The picked order is waiting at the pack screen: Enter takes it to the bench.
    act(&mut app, Action::Pack).await;
    assert_eq!(app.screens.pack.waiting.len(), 1);
    act(&mut app, Action::Submit).await;
    assert_eq!(
        app.screens.pack.check.as_ref().map(|c| c.order.clone()),
        Some(left.orders[0].clone())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_reads_an_inquirys_notes_on_its_screen_and_resolves_it() {
    use packline::domain::inquiry::{InquiryCategory, NoteKind};
    use packline::domain::{NoteText, OrderId};
    let dir = tempfile::tempdir().unwrap();
    let service = site(dir.path(), &orders()[..2]);
    let at = t("2026-11-24T09:30:00Z");
    service.with_store_mut(|s| {
        let first = OrderId::parse("904-0000000-0000001").unwrap();
        let q = s
            .open_inquiry(
                &first,
                InquiryCategory::Damaged,
                &NoteText::new("lid cracked \u{1b}[2J in transit").unwrap(),
                "bo",
                at,
            )
            .unwrap();
        s.add_inquiry_note(
            q.id,
            NoteKind::Note,
            &NoteText::new("photos on file").unwrap(),
            "ann",
            at + chrono::Duration::hours(1),
        )
        .unwrap();
        let second = OrderId::parse("904-0000000-0000002").unwrap();
        s.open_inquiry(
            &second,
            InquiryCategory::WhereIsMyOrder,
            &NoteText::new("asks where it is").unwrap(),
            "bo",
            at,
        )
        .unwrap();
    });
    let mut app = app(service.clone()).await;
    act(&mut app, Action::Inquiries).await;
    assert_eq!(app.screen, Screen::Inquiries);
    let ids: Vec<u64> = app
        .screens
        .inquiries
        .inquiries
        .iter()
        .map(|q| q.id)
        .collect();
    assert_eq!(ids, [1, 2]);
    assert!(
        app.screens.inquiries.notes.is_none(),
        "notes only when asked for"
    );
    snapshot("inquiries", &app);

    let audited = service.with_store(|s| s.verify_audit().unwrap());
    act(&mut app, Action::ReadNotes).await;
    // The reading is one more audit entry.
    assert_eq!(
        service.with_store(|s| s.verify_audit().unwrap()),
        audited + 1
    );
    let notes = app
        .screens
        .inquiries
        .notes
        .as_ref()
        .expect("the notes are shown");
    let texts: Vec<&str> = notes.notes.iter().map(|n| n.text.as_str()).collect();
    assert_eq!(
        texts,
        ["lid cracked \\u{001B}[2J in transit", "photos on file"]
    );
    snapshot("inquiry_notes", &app);

    // Another inquiry selected, or another screen: the notes are gone from the app.
    act(&mut app, Action::Down).await;
    assert!(app.screens.inquiries.notes.is_none());
    act(&mut app, Action::Up).await;
    act(&mut app, Action::ReadNotes).await;
    assert!(app.screens.inquiries.notes.is_some());
    act(&mut app, Action::Queue).await;
    assert!(app.screens.inquiries.notes.is_none());

    // A typed resolution resolves the selected inquiry (the number scanned or typed selects it).
    act(&mut app, Action::Inquiries).await;
    act(&mut app, Action::Resolve).await;
    assert!(
        app.alert
            .as_ref()
            .unwrap()
            .text
            .contains("type how the inquiry was settled"),
        "{:?}",
        app.alert
    );
    act(&mut app, Action::Scan("2".into())).await;
    for c in "parcel found".chars() {
        act(&mut app, Action::Char(c)).await;
    }
    act(&mut app, Action::Resolve).await;
    assert_eq!(
        app.alert.as_ref().map(|a| a.text.as_str()),
        Some("inquiry 2 resolved")
    );
    let q = service.with_store(|s| s.inquiry(2).unwrap().unwrap());
    assert_eq!(q.resolved_by.as_deref(), Some("ann"));
    assert!(app.screens.inquiries.inquiries[1].resolved_at.is_some());
    assert!(service.with_store(|s| s.inquiry(1).unwrap().unwrap().resolved_at.is_none()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_returns_bench_opens_a_parcel_by_scan_and_records_each_units_condition() {
    use packline::domain::OrderId;
    use packline::domain::returns::{
        Condition, ExpectedLine, ExpectedReturn, ReturnKey, ReturnState,
    };
    let dir = tempfile::tempdir().unwrap();
    let service = site(dir.path(), &orders()[..3]);
    let at = t("2026-11-24T09:30:00Z");
    let line = |qty| ExpectedLine {
        sku: "SKU-HOSTILE".into(),
        asin: Some("B0HOSTILE1".into()),
        quantity: qty,
        reason: Some("CR-DEFECTIVE".into()),
    };
    let first = OrderId::parse("904-0000000-0000001").unwrap();
    let second = OrderId::parse("904-0000000-0000002").unwrap();
    let expected = vec![
        ExpectedReturn {
            key: ReturnKey::Rma {
                rma: "DQX7RMA001".into(),
            },
            order: first.clone(),
            rma: Some("DQX7RMA001".into()),
            requested: at.date_naive(),
            status: Some("Approved".into()),
            carrier: Some("UPS".into()),
            tracking: Some("1Z9R00000000000001".into()),
            lines: vec![line(2)],
        },
        ExpectedReturn {
            key: ReturnKey::Returnless {
                order: second.clone(),
                sku: "SKU-HOSTILE".into(),
                requested: at.date_naive(),
            },
            order: second,
            rma: None,
            requested: at.date_naive(),
            status: Some("Approved".into()),
            carrier: None,
            tracking: None,
            lines: vec![line(1)],
        },
    ];
    service.with_store_mut(|s| s.record_returns(&expected, "ann", at).unwrap());
    let mut app = app(service.clone()).await;
    act(&mut app, Action::Returns).await;
    assert_eq!(app.screen, Screen::Returns);
    assert_eq!(app.screens.returns.returns.len(), 2);
    assert!(app.screens.returns.open.is_none());
    snapshot("returns", &app);

    // The return label opens its return; the unit's barcode (from the locations file) is
    // recorded sellable, and its bin is shown.
    act(&mut app, Action::Scan("1Z9R00000000000001".into())).await;
    assert_eq!(app.screens.returns.open.as_ref().map(|r| r.id), Some(1));
    act(&mut app, Action::Scan("0123456789012".into())).await;
    assert_eq!(
        app.screens.returns.last,
        Some((
            "1 × SKU-HOSTILE sellable: back to bin B-07".to_owned(),
            true
        ))
    );
    // The next one is damaged: recorded, never restocked.
    act(&mut app, Action::CycleCondition).await;
    assert_eq!(app.screens.returns.condition, Condition::Damaged);
    act(&mut app, Action::Scan("SKU-HOSTILE".into())).await;
    assert_eq!(
        app.screens.returns.last,
        Some(("1 × SKU-HOSTILE damaged: not restocked".to_owned(), false))
    );
    assert!(app.alert.is_none(), "{:?}", app.alert);
    snapshot("return_open", &app);
    let kept = service.with_store(|s| s.return_record(1).unwrap().unwrap());
    let found: Vec<(Condition, Option<&str>)> = kept.lines[0]
        .received
        .iter()
        .map(|r| (r.condition, r.bin.as_deref()))
        .collect();
    assert_eq!(
        found,
        [
            (Condition::Sellable, Some("B-07")),
            (Condition::Damaged, None)
        ]
    );
    // A third unit is one more than Amazon said: refused with the bell, nothing recorded.
    act(&mut app, Action::Scan("SKU-HOSTILE".into())).await;
    assert!(
        app.alert.as_ref().is_some_and(|a| a.error),
        "{:?}",
        app.alert
    );
    act(&mut app, Action::Back).await;
    act(&mut app, Action::CloseReturn).await;
    assert_eq!(
        app.alert.as_ref().map(|a| a.text.as_str()),
        Some("RET-1 closed: 2 of 2 expected units received")
    );
    assert!(app.screens.returns.open.is_none());
    assert_eq!(
        service.with_store(|s| s.return_record(1).unwrap().unwrap().state()),
        ReturnState::Closed
    );

    // A parcel nobody announced, by its order id: an unexpected return on that order.
    act(&mut app, Action::Scan("904-0000000-0000003".into())).await;
    let open = app
        .screens
        .returns
        .open
        .clone()
        .expect("an unexpected return opens");
    assert_eq!(
        open.key,
        ReturnKey::Unexpected {
            order: OrderId::parse("904-0000000-0000003").unwrap(),
            n: 1
        }
    );
    act(&mut app, Action::Scan("B0HOSTILE1".into())).await;
    assert_eq!(
        app.screens.returns.last.as_ref().map(|l| l.0.as_str()),
        Some("1 × SKU-HOSTILE damaged: not restocked")
    );
    // An unknown code rings the bell and says what to scan.
    act(&mut app, Action::Back).await;
    act(&mut app, Action::Back).await;
    assert!(app.screens.returns.open.is_none());
    act(&mut app, Action::Scan("NOTHING-LIKE-IT".into())).await;
    let alert = app.alert.as_ref().unwrap();
    assert!(
        alert.error
            && alert
                .text
                .starts_with("no return answers to \"NOTHING-LIKE-IT\""),
        "{alert:?}"
    );
}

/// A plain HTTP/1.1 POST to a training control; the status.
async fn training_control(url: &str, path: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = url.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).await.unwrap();
    resp.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0)
}

/// A label bought while the training marketplace holds createShipment back for seconds: the
/// status line says so, the user goes to the queue and it is drawn, rows and all, while the
/// purchase is still with Amazon; then the purchase's result appears there as a notice, and the
/// label goes to this terminal's printer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_label_purchase_never_holds_the_screen() {
    use std::time::{Duration, Instant};

    let delay = Duration::from_secs(3);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(packline::marketplace::server::serve(
        listener,
        packline::marketplace::server::MarketplaceConfig {
            orders: 2,
            seed: 7,
            quota_scale: 20.0,
            start: Utc::now() - chrono::Duration::days(3),
            fault_rate: 0.0,
            faults: Vec::new(),
            fault_delay: delay,
            new_orders_per_minute: 0.0,
            cancel_rate: 0.0,
            cancel_request_rate: 0.0,
            unit_codes: false,
            rate_validity: packline::marketplace::server::MarketplaceConfig::RATE_VALIDITY,
        },
    ));
    let api = std::sync::Arc::new(
        packline::amazon::client::SpApi::new(
            &url,
            &format!("{url}/auth/o2/token"),
            packline::amazon::client::Credentials {
                client_id: "training".into(),
                client_secret: "training".to_owned().into(),
                refresh_token: "training".to_owned().into(),
            },
            // Patient enough for the slow answer: it is slow, not lost.
            delay * 4,
        )
        .unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    let store = unlocked_store(dir.path());
    let mut settings = settings_of("ann");
    settings.roles = packline::config::RolesConfig {
        leads: vec!["ann".into()],
        ..Default::default()
    };
    settings.shipping = example_shipping(None);
    let service = Service::new(store, settings);
    let plan = packline::service::sync::SyncPlan {
        marketplace_ids: vec!["ATVPDKIKX0DER".into()],
        lookback_days: 30,
    };
    packline::service::sync::sync_once(&api, &service, &plan, "lead", Utc::now(), |_, _, _| {})
        .await
        .unwrap();
    service.set_amazon(api);
    service.wait_for_counts();

    // One order picked and packed through the service.
    let client = Client::local(service.clone(), "ann").unwrap();
    let batch = pack_one_through(&client).await;
    let order = batch.orders[0].to_string();

    let mut app = App::new(client, Keymap::load("default", None).unwrap())
        .await
        .unwrap();
    // This terminal's label printer (PACKLINE_LABEL_PRINTER) reaches the print request.
    let printed = tempfile::tempdir().unwrap();
    let printer = format!("file:{}", printed.path().display());
    app.label_printer = Some(printer.clone());
    act(&mut app, Action::Labels).await;
    assert_eq!(
        app.screens.labels.current().map(|r| r.order.id.to_string()),
        Some(order.clone())
    );
    act(&mut app, Action::Rates).await;
    assert!(!app.screens.labels.offers.is_empty(), "{:?}", app.alert);

    assert_eq!(
        training_control(&url, "/_training/faults/createShipment/slow").await,
        204
    );
    let bought_at = Instant::now();
    app.act(Action::Buy);
    let doing = format!("buying label for {order}");
    assert_eq!(app.in_flight().as_deref(), Some(doing.as_str()));
    assert!(
        frame(&app, 80, 24).contains(&doing),
        "{}",
        frame(&app, 80, 24)
    );
    // A second Buy does not send a second purchase.
    app.act(Action::Buy);
    assert!(app.alert.as_ref().unwrap().text.contains("is being bought"));

    // Off to the queue while Amazon takes its time: the queue page comes back and is drawn.
    app.act(Action::Queue);
    assert_eq!(app.screen, Screen::Queue);
    while app.in_flight().as_deref() != Some(doing.as_str()) {
        app.next_answer().await;
    }
    let queue = frame(&app, 80, 24);
    assert!(
        bought_at.elapsed() < delay,
        "the queue came only after the purchase"
    );
    assert!(queue.contains("[queue]"), "{queue}");
    assert!(
        queue.contains(&order),
        "the queue's rows are drawn:\n{queue}"
    );
    assert!(queue.contains(&doing), "{queue}");
    // Amazon has not answered yet: the purchase is begun, not bought.
    let bought = |service: &Service| {
        service
            .with_store(|s| s.shipment(&batch.orders[0], 1).unwrap())
            .is_some_and(|s| s.state == packline::store::shipping::ShipmentState::Bought)
    };
    assert!(!bought(&service));

    // The purchase completes: its result is shown on the queue, and the label is printed.
    app.settle().await;
    assert!(bought_at.elapsed() >= delay);
    assert!(bought(&service));
    assert_eq!(app.screen, Screen::Queue);
    let alert = app.alert.clone().expect("the purchase's result");
    assert!(!alert.error, "{}", alert.text);
    assert!(
        alert.text.starts_with(&format!("{order}: "))
            && alert.text.contains("label bought, tracking"),
        "{}",
        alert.text
    );
    let queue = frame(&app, 80, 24);
    assert!(queue.contains("label bought"), "{queue}");
    assert!(!queue.contains("buying label"), "{queue}");
    let jobs = service.with_store(|s| s.print_jobs().unwrap());
    assert_eq!(jobs.len(), 1, "one label printed");
    assert_eq!(jobs[0].printer, printer);

    // The other order packed, then "buy all" on the labels screen: the gauge shows while the
    // wave runs, and the result says what was bought.
    let client = Client::local(service.clone(), "ann").unwrap();
    let second = pack_one_through(&client).await.orders[0].clone();
    act(&mut app, Action::Labels).await;
    assert_eq!(
        training_control(&url, "/_training/faults/createShipment/slow").await,
        204
    );
    app.act(Action::BuyAll);
    let labels = frame(&app, 80, 24);
    assert!(labels.contains("buying all: ["), "{labels}");
    app.act(Action::BuyAll);
    assert!(
        app.alert
            .as_ref()
            .is_some_and(|a| a.text.contains("is being bought")),
        "{:?}",
        app.alert
    );
    app.settle().await;
    let alert = app.alert.clone().expect("the wave's result");
    assert!(!alert.error, "{}", alert.text);
    assert!(
        alert
            .text
            .contains("wave: 1 order(s) bought, 1 label(s) to the printer"),
        "{}",
        alert.text
    );
    let state = service.with_store(|s| s.get(&second).unwrap().unwrap().state);
    assert_eq!(state, packline::domain::OrderState::Labelled);
    assert!(!frame(&app, 80, 24).contains("buying all"));
}

/// Claims one order, picks and packs it through the service; its batch.
async fn pack_one_through(client: &Client) -> packline::domain::PickBatch {
    let batch = client
        .call(packline::service::ops::ClaimBatch { size: Some(1) })
        .await
        .unwrap()
        .expect("an order to pick");
    pick_all(client, &batch).await;
    pack_in_one_box(client, &batch.orders[0]).await;
    batch
}

/// Two boxes at the bench: the first closed partway with its typed weight, the rest scanned
/// into the second; the order leaves as two packages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_box_closed_partway_and_the_rest_in_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let service = site(dir.path(), &orders()[..1]);
    let mut app = app(service.clone()).await;
    act(&mut app, Action::Claim).await;
    let batch = app.screens.pick.batch.clone().expect("a batch");
    for code in ["B-07", "0123456789012", "SKU-HOSTILE"] {
        act(&mut app, Action::Scan(code.into())).await;
    }
    act(&mut app, Action::FinishPick).await;
    assert!(app.screens.pick.batch.is_none(), "{:?}", app.alert);
    act(&mut app, Action::Pack).await;
    act(&mut app, Action::Scan(batch.orders[0].to_string())).await;
    act(&mut app, Action::Scan("SKU-HOSTILE".into())).await;
    // No weight typed: the box is not closed.
    act(&mut app, Action::CloseBox).await;
    assert!(
        app.alert
            .as_ref()
            .is_some_and(|a| a.text.contains("weight")),
        "{:?}",
        app.alert
    );
    for c in "400".chars() {
        act(&mut app, Action::Char(c)).await;
    }
    act(&mut app, Action::CloseBox).await;
    let check = app
        .screens
        .pack
        .check
        .clone()
        .expect("the order is still at the bench");
    assert_eq!(check.boxes.len(), 1, "{:?}", app.alert);
    assert_eq!(check.boxes[0].parcel.weight_g, 400);
    assert_eq!(check.open_units(), 0);
    snapshot("pack_second_box", &app);
    let left = check.units_left();
    for l in &check.lines {
        for _ in l.scanned..l.needed {
            act(&mut app, Action::Scan(l.sku.clone())).await;
        }
    }
    assert!(
        app.screens.pack.check.as_ref().unwrap().is_complete(),
        "{left} left"
    );
    for c in "850".chars() {
        act(&mut app, Action::Char(c)).await;
    }
    act(&mut app, Action::Submit).await;
    assert!(app.screens.pack.check.is_none(), "{:?}", app.alert);
    let packages = service.with_store(|s| s.packages(&batch.orders[0]).unwrap());
    let weights: Vec<u32> = packages.iter().map(|p| p.parcel.weight_g).collect();
    assert_eq!(weights, [400, 850]);
    assert_eq!(packages[0].units(), 1);
}

/// A floor for the dashboard: orders late, due before the pickup, later and beyond the day; two
/// pickers (one batch finished with a refused scan and an exception raised, one in progress); a
/// hold; a failed print job; the store locked. The pickup is set 3 h 30 min from now.
async fn dashboard_floor(dir: &Path) -> std::sync::Arc<Service> {
    use chrono::Duration;
    let now = Utc::now();
    let pickup = (chrono::Local::now() + Duration::minutes(210))
        .format("%H:%M")
        .to_string();
    let mut store = unlocked_store(dir);
    // (id, ship-by from now, in minutes: mid-hour, so the seconds the seeding takes move none)
    let due = [
        ("904-1000000-0000001", -180),
        ("904-1000000-0000002", -60),
        ("904-1000000-0000003", 70),
        ("904-1000000-0000004", 140),
        ("904-1000000-0000005", 310),
        ("904-1000000-0000006", 330),
        ("904-1000000-0000007", 1230),
        ("904-1000000-0000008", 1800),
        // Shipped seven years ago below: the next purge destroys it.
        ("904-1000000-0000009", 4000),
    ];
    let list: Vec<serde_json::Value> = due
        .iter()
        .map(|(id, m)| {
            let mut o = order_json(
                &person(id, "Dana Example"),
                "UNSHIPPED",
                "2026-11-23T10:00:00Z",
            );
            o["fulfillment"]["shipByWindow"]["latestDateTime"] =
                (now + Duration::minutes(*m)).to_rfc3339().into();
            o
        })
        .collect();
    let body = serde_json::to_vec(&serde_json::json!({ "orders": list })).unwrap();
    store
        .import(
            packline::amazon::parse_search_orders(&body, "p")
                .unwrap()
                .orders,
            "lead",
            now,
        )
        .unwrap();
    ship(&store, "904-1000000-0000009", now - Duration::days(7 * 366));
    let mut cfg = packline::config::Config::default();
    cfg.floor.pickup = Some(pickup);
    let mut settings = Settings::from_config(&cfg, "ann").unwrap();
    settings.locations =
        packline::domain::Locations::from_csv("SKU-HOSTILE,B-07,0123456789012\n").unwrap();
    settings.roles = packline::config::RolesConfig {
        leads: vec!["ann".into()],
        packers: vec!["bob".into(), "carl".into()],
        ..Default::default()
    };
    let service = Service::new(store, settings);
    // Bob picks the latest order, with one wrong scan, and takes another off the line.
    let bob = Client::local(service.clone(), "bob").unwrap();
    let b = bob
        .call(dops::ClaimBatch { size: Some(1) })
        .await
        .unwrap()
        .unwrap();
    assert!(
        bob.call(dops::PickScan {
            batch: b.id,
            code: "NOT-ON-LIST".into(),
        })
        .await
        .is_err()
    );
    for _ in 0..b.lines[0].needed {
        bob.call(dops::PickScan {
            batch: b.id,
            code: "SKU-HOSTILE".into(),
        })
        .await
        .unwrap();
    }
    bob.call(dops::FinishPick { batch: b.id }).await.unwrap();
    bob.call(dops::RaiseException {
        order: "904-1000000-0000007".into(),
        note: "box crushed".into(),
    })
    .await
    .unwrap();
    // Carl has the next one in hand, one unit of two picked.
    let carl = Client::local(service.clone(), "carl").unwrap();
    let c = carl
        .call(dops::ClaimBatch { size: Some(1) })
        .await
        .unwrap()
        .unwrap();
    carl.call(dops::PickScan {
        batch: c.id,
        code: "SKU-HOSTILE".into(),
    })
    .await
    .unwrap();
    let ann = Client::local(service.clone(), "ann").unwrap();
    ann.call(dops::HoldOrder {
        order: "904-1000000-0000008".into(),
        reason: "stock in doubt".into(),
    })
    .await
    .unwrap();
    service.with_store_mut(|s| {
        use packline::store::shipping::{Document, JobState, PrintJob};
        s.save_print_job(&PrintJob {
            id: 1,
            order: packline::domain::OrderId::parse("904-1000000-0000001").unwrap(),
            document: Document::SlipZpl,
            printer: "lp://slips".into(),
            state: JobState::Failed,
            attempts: 3,
            error: Some("printer offline".into()),
            created: now,
            by: "bob".into(),
        })
        .unwrap();
    });
    ann.call(dops::Lock {}).await.unwrap();
    // A daemon's schedule runs the next sync in 5½ minutes; the last sync left 17 searchOrders
    // requests in the bucket (at the client's 0.9 share of the published rate).
    service.set_sync_state(|s| {
        s.enabled = true;
        s.next_sync = Some(now + Duration::seconds(330));
    });
    service.with_store(|s| {
        use packline::service::sync::{BUCKET, BUCKET_AT};
        s.set_meta_text(BUCKET, &format!("17 {}", 0.0056 * 0.9))
            .unwrap();
        s.set_meta_time(BUCKET_AT, Utc::now()).unwrap();
    });
    service.wait_for_counts();
    service.wait_for_purge_preview();
    service
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leads_dashboard_shows_due_work_throughput_batches_and_health() {
    let dir = tempfile::tempdir().unwrap();
    let service = dashboard_floor(dir.path()).await;

    // The view, exactly.
    let ann = Client::local(service.clone(), "ann").unwrap();
    let v = ann.call(dops::Dashboard {}).await.unwrap();
    assert_eq!(v.due.late, 2, "two orders are past their ship-by");
    assert_eq!(v.due.before_pickup, 2);
    assert_eq!(v.due.hours.len(), 24);
    let mut hours = vec![0u64; 24];
    hours[1] = 1;
    hours[2] = 1;
    hours[5] = 2;
    hours[20] = 1;
    assert_eq!(v.due.hours, hours, "the hold beyond the day is not counted");
    assert_eq!(v.due.pickup_hour(v.at), 3);
    assert_eq!(v.throughput.picked_today, 2);
    assert_eq!(v.throughput.packed_today, 0);
    assert_eq!(v.throughput.picked.iter().sum::<u64>(), 2);
    // Picked this hour (the last hour, should the clock have just turned).
    assert_eq!(v.throughput.picked[10] + v.throughput.picked[11], 2);
    let people: Vec<_> = v
        .throughput
        .people
        .iter()
        .map(|p| {
            (
                p.user.as_str(),
                p.batches,
                p.picked,
                p.scans_refused,
                p.exceptions,
            )
        })
        .collect();
    assert_eq!(people, [("bob", 1, 2, 1, 1), ("carl", 1, 0, 0, 0)]);
    assert_eq!(v.wip.len(), 1);
    assert_eq!(
        (v.wip[0].holder.as_str(), v.wip[0].picked, v.wip[0].needed),
        ("carl", 1, 2)
    );
    assert_eq!((v.holds, v.exceptions), (1, 1));
    assert!(!v.health.unlocked);
    assert_eq!(v.health.failed_prints, 1);
    assert_eq!(
        v.health.last_print_failure.as_deref(),
        Some("order 904-1000000-0000001 packing slip: printer offline")
    );
    assert!(v.health.review_overdue, "no access review has run");
    // The next sync as the schedule planned it, and the quota the last sync left.
    let next = v.health.next_sync.expect("a schedule plans the next sync");
    assert_eq!((next - v.at).num_minutes(), 5, "{next} from {}", v.at);
    let q = v.health.quota.expect("the quota the last sync kept");
    assert_eq!((q.whole(), q.burst, q.refill_secs()), (17, 20.0, Some(198)));
    let purge = v.health.purge.expect("the preview is counted");
    assert_eq!(
        (purge.recipients_destroyed, purge.orders_deleted),
        (1, 1),
        "the order shipped seven years ago"
    );
    // No personal data: the recipient's name appears nowhere in the view.
    let json = serde_json::to_string(&v).unwrap();
    assert!(!json.contains("Dana"), "{json}");

    // A packer cannot have it, by the service's own check.
    let bob = Client::local(service.clone(), "bob").unwrap();
    assert!(matches!(
        bob.call(dops::Dashboard {}).await,
        Err(packline::service::ServiceError::Forbidden { .. })
    ));

    let mut app = app(service.clone()).await;
    act(&mut app, Action::Dashboard).await;
    assert_eq!(app.screen, Screen::Dashboard);
    snapshot("dashboard", &app);
    // Without colour the frame reads the same: the glyphs carry late / by pickup / later.
    let colour = [frame(&app, 80, 24), frame(&app, 40, 16)];
    app.theme = packline::tui::screens::Theme { color: false };
    snapshot("dashboard_no_color", &app);
    assert_eq!(colour, [frame(&app, 80, 24), frame(&app, 40, 16)]);
    for (w, h) in [(80, 24), (40, 16)] {
        let text = frame(&app, w, h);
        assert!(text.contains('X'), "the late bar:\n{text}");
        assert!(text.contains('▓'), "bars before the pickup:\n{text}");
        assert!(text.contains('█'), "later bars:\n{text}");
        assert!(text.contains("LOCKED"), "{text}");
        assert!(text.contains("2 LATE"), "{text}");
    }
    assert!(frame(&app, 80, 24).contains("1 PRINT FAILED"));
    assert!(
        frame(&app, 80, 24)
            .contains("LOCKED · 1 PRINT FAILED: 904-1000000-0000001 packing slip: printer offline"),
        "{}",
        frame(&app, 80, 24)
    );
    assert!(
        frame(&app, 80, 24)
            .contains("sync not yet · next in 5m · searchOrders quota 17/20, +1 every 3m18s"),
        "{}",
        frame(&app, 80, 24)
    );
    assert!(frame(&app, 80, 24).contains("ACCESS REVIEW DUE"));
    assert!(!styled(&app), "no colour under NO_COLOR");
    app.theme = packline::tui::screens::Theme { color: true };
    assert!(styled(&app), "the late bar is red with colour");

    // The help lists the screen's own keys.
    act(&mut app, Action::Help).await;
    let help = frame(&app, 80, 24);
    assert!(help.contains("keys: dashboard"), "{help}");
    for line in [
        "C-x  give the selected batch back to the queue",
        "C-a  give the selected batch to the typed user",
        "C-o  open (or close) the list of held orders",
        "F9  lead dashboard",
    ] {
        assert!(help.contains(line), "{line}:\n{help}");
    }
    act(&mut app, Action::Back).await;
    assert!(!app.help);

    // Reassign from the screen: carl's batch goes to bob, with the typed user.
    let batch = v.wip[0].batch;
    for c in "bob".chars() {
        app.act(Action::Char(c));
    }
    act(&mut app, Action::Reassign).await;
    assert_eq!(
        app.screens.dashboard.current().map(|b| b.holder.as_str()),
        Some("bob")
    );
    // Release it: its order goes back to the queue, and the screen says so.
    act(&mut app, Action::Release).await;
    assert!(
        app.alert
            .as_ref()
            .is_some_and(|a| a.text.contains(&format!("batch {batch} released"))),
        "{:?}",
        app.alert
    );
    assert!(app.screens.dashboard.view.as_ref().unwrap().wip.is_empty());
    // The holds count opens the list; the exceptions count opens the exceptions screen.
    act(&mut app, Action::Holds).await;
    let holds = app.screens.dashboard.holds.clone().unwrap();
    assert_eq!(holds.len(), 1);
    assert_eq!(holds[0].order.as_str(), "904-1000000-0000008");
    act(&mut app, Action::Exceptions).await;
    assert_eq!(app.screen, Screen::Exceptions);
    assert_eq!(app.screens.exceptions.exceptions.len(), 1);
    // The labels screen says which print failed, and why.
    act(&mut app, Action::Labels).await;
    for (w, h) in [(80, 24), (40, 16)] {
        let text = frame(&app, w, h);
        let line = text
            .lines()
            .find(|l| l.contains("PRINT(S) FAILED"))
            .unwrap_or_else(|| panic!("{w}×{h}: no failed print:\n{text}"));
        let want =
            "1 PRINT(S) FAILED, last order 904-1000000-0000001 packing slip: printer offline";
        assert!(
            want.starts_with(line.trim_end()) && line.len() > 30,
            "{w}×{h}: {line}"
        );
    }

    // A packer is turned away at the screen too.
    let mut bobs = App::new(
        Client::local(service.clone(), "bob").unwrap(),
        Keymap::load("default", None).unwrap(),
    )
    .await
    .unwrap();
    act(&mut bobs, Action::Dashboard).await;
    assert_eq!(bobs.screen, Screen::Queue);
}

/// The dashboard's late count comes from counters of open orders per ship-by hour, kept in the
/// transaction of each change: an order shipped or cancelled leaves them, one re-timed by Amazon
/// moves. A store without them (from before them, or an import cut short) counts them again when
/// it opens, and the check compares them with the orders.
#[test]
fn the_late_count_reads_counters_kept_with_each_change() {
    use chrono::Duration;
    let dir = tempfile::tempdir().unwrap();
    let now = Utc::now();
    let mut store = unlocked_store(dir.path());
    let due = [
        ("904-2000000-0000001", -30 * 24 * 60),
        ("904-2000000-0000002", -30 * 24 * 60 + 5),
        ("904-2000000-0000003", -200),
        ("904-2000000-0000004", -1),
        ("904-2000000-0000005", 150),
    ];
    let orders = |due: &[(&str, i64)], updated: &str| {
        let list: Vec<serde_json::Value> = due
            .iter()
            .map(|(id, m)| {
                let mut o = order_json(&person(id, "Dana Example"), "UNSHIPPED", updated);
                o["fulfillment"]["shipByWindow"]["latestDateTime"] =
                    (now + Duration::minutes(*m)).to_rfc3339().into();
                o
            })
            .collect();
        let body = serde_json::to_vec(&serde_json::json!({ "orders": list })).unwrap();
        packline::amazon::parse_search_orders(&body, "p")
            .unwrap()
            .orders
    };
    store
        .import(orders(&due, "2026-11-23T10:00:00Z"), "lead", now)
        .unwrap();
    let pickup = now + Duration::hours(3);
    let late = |s: &packline::store::Store| s.due_counts(now, 24, pickup).unwrap();
    let c = late(&store);
    assert_eq!(c.late, 4);
    assert_eq!(c.hours.iter().sum::<u64>(), 1);
    assert_eq!(c.before_pickup, 1);
    // Shipped and cancelled orders leave the count; one being picked stays in it.
    ship(&store, "904-2000000-0000001", now);
    let id = |s: &str| packline::domain::OrderId::parse(s).unwrap();
    store
        .transition(
            &id("904-2000000-0000003"),
            packline::domain::Event::StartPick,
            "bob",
            None,
            now,
        )
        .unwrap();
    store
        .transition(
            &id("904-2000000-0000002"),
            packline::domain::Event::Cancel,
            "lead",
            None,
            now,
        )
        .unwrap();
    assert_eq!(late(&store).late, 2);
    // Amazon moves the due one's ship-by into the past: it is late now.
    let moved = orders(&[("904-2000000-0000005", -300)], "2026-11-23T11:00:00Z");
    store.import(moved, "lead", now).unwrap();
    let c = late(&store);
    assert_eq!(
        (c.late, c.hours.iter().sum::<u64>(), c.before_pickup),
        (3, 0, 0)
    );
    assert!(store.check().unwrap().problems.is_empty());

    // Counters that disagree with the orders are a finding of the check.
    let data = dir.path().join("data");
    drop(store);
    let floor = || {
        packline::store::raw_db(&data)
            .unwrap()
            .open_tree("floor")
            .unwrap()
    };
    {
        let f = floor();
        let (k, _) = f.scan_prefix(b"Ao").next().unwrap().unwrap();
        f.insert(k, &7u64.to_be_bytes()[..]).unwrap();
        f.flush().unwrap();
    }
    let store = packline::store::Store::open(&data).unwrap();
    let problems = store.check().unwrap().problems;
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].part, "counters");
    assert!(
        problems[0].detail.contains("1 ship-by hour(s)"),
        "{problems:?}"
    );
    // Without them (a store from before them), they are counted again at the next open.
    drop(store);
    {
        let f = floor();
        for k in f.scan_prefix(b"A").keys() {
            let k = k.unwrap();
            if k.starts_with(b"Ao") || &k[..] == b"AO" {
                f.remove(k).unwrap();
            }
        }
        f.flush().unwrap();
    }
    let store = packline::store::Store::open(&data).unwrap();
    assert_eq!(late(&store).late, 3);
    assert!(store.check().unwrap().problems.is_empty());
}

/// Whether any cell of the 80×24 dashboard is drawn red (the late bar, the warnings).
fn styled(app: &App) -> bool {
    let mut term = Terminal::new(TestBackend::new(80, 24)).unwrap();
    term.draw(|f| app.view(f, t("2026-11-24T12:00:00Z")))
        .unwrap();
    let buf = term.backend().buffer().clone();
    buf.content()
        .iter()
        .any(|c| c.fg == ratatui::style::Color::Red)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_redraws_when_the_service_pushes_a_change() {
    let dir = tempfile::tempdir().unwrap();
    let service = dashboard_floor(dir.path()).await;
    let mut app = app(service.clone()).await;
    act(&mut app, Action::Dashboard).await;
    assert_eq!(app.screens.dashboard.view.as_ref().unwrap().wip.len(), 1);
    // Someone else claims a batch: the service pushes that the floor moved, on its own, and the
    // screen asks again.
    let mut notices = service.subscribe();
    let bob = Client::local(service.clone(), "bob").unwrap();
    bob.call(dops::ClaimBatch { size: Some(1) })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        app.screens.dashboard.view.as_ref().unwrap().wip.len(),
        1,
        "not polled"
    );
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            match notices.recv().await.unwrap() {
                n @ packline::service::Notice::FloorChanged => return n,
                _ => continue,
            }
        }
    })
    .await
    .expect("a notice that the floor moved");
    app.notice(n);
    app.settle().await;
    assert_eq!(app.screens.dashboard.view.as_ref().unwrap().wip.len(), 2);
}

/// Orders that came in just before a terminal opened (a sync) are counted on its first frame:
/// the queue's head says what a refresh says, never the count kept from before they came.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_frame_counts_what_a_refresh_counts() {
    let dir = tempfile::tempdir().unwrap();
    let service = site(dir.path(), &[]);
    let people = orders();
    let refs: Vec<&Person> = people.iter().collect();
    service.with_store_mut(|s| {
        imp(
            s,
            &refs,
            "UNSHIPPED",
            "2026-11-23T10:00:00Z",
            t("2026-11-23T11:00:00Z"),
        )
    });
    let mut app = app(service.clone()).await;
    let head = |app: &App| {
        let text = frame(app, 80, 24);
        text.lines()
            .find(|l| l.starts_with("late "))
            .unwrap_or_else(|| panic!("no counts:\n{text}"))
            .trim_end()
            .to_owned()
    };
    let first = head(&app);
    assert!(
        first == "late 4  due today 0  new 4",
        "the first frame: {first}"
    );
    act(&mut app, Action::Refresh).await;
    assert_eq!(head(&app), first);
}

/// The help overlay on the labels screen, at 80×24 and at 40×16: PageDown scrolls it (never
/// closes it) until every key of the screen and the global ones has been shown, each
/// description whole (wrapped at spaces, never cut mid-word).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_help_overlay_scrolls_to_every_key_at_80x24_and_40x16() {
    let dir = tempfile::tempdir().unwrap();
    let service = site(dir.path(), &orders()[..1]);
    let mut app = app(service).await;
    act(&mut app, Action::Labels).await;
    let want = Keymap::load("default", None).unwrap().help("label");
    assert!(
        want.len() > 20,
        "more keys than fit at 80×24: {}",
        want.len()
    );
    for (w, h) in [(80, 24), (40, 16)] {
        act(&mut app, Action::Help).await;
        let mut shown: Vec<String> = Vec::new();
        let mut last = String::new();
        for _ in 0..40 {
            let text = frame(&app, w, h);
            if text == last {
                break;
            }
            // The overlay's lines, without its borders.
            shown.extend(
                text.lines()
                    .filter_map(|l| l.strip_prefix('│'))
                    .map(|l| l.trim_end_matches([' ', '│']).to_owned()),
            );
            last = text;
            act(&mut app, Action::PageDown).await;
            assert!(
                app.help,
                "{w}×{h}: PageDown scrolls the help, it does not close it"
            );
        }
        let words: std::collections::HashSet<&str> =
            shown.iter().flat_map(|l| l.split_whitespace()).collect();
        for (key, desc) in &want {
            assert!(
                shown
                    .iter()
                    .any(|l| l.trim_start().starts_with(&format!("{key}  "))),
                "{w}×{h}: key {key} never shown:\n{}",
                shown.join("\n")
            );
            for word in desc.split_whitespace() {
                assert!(
                    words.contains(word),
                    "{w}×{h}: {word:?} of {desc:?} never shown whole:\n{}",
                    shown.join("\n")
                );
            }
        }
        act(&mut app, Action::Back).await;
        assert!(!app.help);
    }
}

/// Pack and ship at one bench (`[floor] label_at_pack`): a packer closes the last box, the
/// bench says the label is printing, and then that it printed (carrier and tracking), once the
/// printer took it; a purchase that fails says why at the bench and the order waits, packed,
/// for the labeler.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_label_at_pack_the_bench_prints_the_label_as_the_last_box_closes() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(packline::marketplace::server::serve(
        listener,
        packline::marketplace::server::MarketplaceConfig {
            orders: 2,
            seed: 7,
            quota_scale: 20.0,
            start: Utc::now() - chrono::Duration::days(3),
            fault_rate: 0.0,
            faults: Vec::new(),
            fault_delay: std::time::Duration::from_secs(1),
            new_orders_per_minute: 0.0,
            cancel_rate: 0.0,
            cancel_request_rate: 0.0,
            unit_codes: false,
            rate_validity: packline::marketplace::server::MarketplaceConfig::RATE_VALIDITY,
        },
    ));
    let api = std::sync::Arc::new(
        packline::amazon::client::SpApi::new(
            &url,
            &format!("{url}/auth/o2/token"),
            packline::amazon::client::Credentials {
                client_id: "training".into(),
                client_secret: "training".to_owned().into(),
                refresh_token: "training".to_owned().into(),
            },
            std::time::Duration::from_secs(10),
        )
        .unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    let printed = tempfile::tempdir().unwrap();
    let store = unlocked_store(dir.path());
    let mut settings = settings_of("ann");
    // Ann packs; buying labels is otherwise a labeler's.
    settings.roles = packline::config::RolesConfig {
        leads: vec!["lea".into()],
        packers: vec!["ann".into()],
        ..Default::default()
    };
    settings.label_at_pack = packline::config::LabelAtPack {
        site: true,
        ..Default::default()
    };
    settings.shipping = example_shipping_v2(Some(format!("file:{}", printed.path().display())));
    let service = Service::new(store, settings);
    let plan = packline::service::sync::SyncPlan {
        marketplace_ids: vec!["ATVPDKIKX0DER".into()],
        lookback_days: 30,
    };
    packline::service::sync::sync_once(&api, &service, &plan, "lea", Utc::now(), |_, _, _| {})
        .await
        .unwrap();
    service.set_amazon(api);
    service.wait_for_counts();

    let client = Client::local(service.clone(), "ann").unwrap();
    let batch = client
        .call(dops::ClaimBatch { size: Some(2) })
        .await
        .unwrap()
        .expect("orders to pick");
    assert_eq!(batch.orders.len(), 2);
    pick_all(&client, &batch).await;
    let mut app = App::new(client, Keymap::load("default", None).unwrap())
        .await
        .unwrap();
    assert!(app.label_at_pack);

    // Packs an order at the bench: its slip, every unit, the weight and Enter.
    async fn pack(app: &mut App, order: &packline::domain::OrderId) {
        act(app, Action::Scan(order.to_string())).await;
        let check = app
            .screens
            .pack
            .check
            .clone()
            .expect("the order is at the bench");
        for l in &check.lines {
            for _ in 0..l.needed {
                act(app, Action::Scan(l.sku.clone())).await;
            }
        }
        for c in "900".chars() {
            act(app, Action::Char(c)).await;
        }
        app.act(Action::Submit);
    }
    act(&mut app, Action::Pack).await;
    let first = &batch.orders[0];
    pack(&mut app, first).await;
    let doing = format!("label printing… {first}");
    assert_eq!(app.in_flight().as_deref(), Some(doing.as_str()));
    let busy = frame(&app, 80, 24);
    assert!(busy.contains(&doing), "{busy}");
    app.settle().await;
    // Bought; the bench says so until the printer has taken it.
    let shipment = service
        .with_store(|s| s.shipment(first, 1).unwrap())
        .expect("the label is bought");
    let (carrier, tracking) = (
        format!(
            "label printed: {}",
            shipment.carrier.as_ref().unwrap().name()
        ),
        shipment.tracking.as_ref().unwrap().to_string(),
    );
    let postage = format!("{} {tracking}", shipment.carrier.as_ref().unwrap().name());
    let label = app.screens.pack.label.clone().expect("the bench's label");
    if label.outcome.is_none() {
        assert!(frame(&app, 80, 24).contains(&format!("label printing… (order {first})")));
    }
    while app.screens.pack.label.as_ref().unwrap().outcome.is_none() {
        let n = tokio::time::timeout(std::time::Duration::from_secs(30), app.client.notice())
            .await
            .expect("the print's outcome")
            .unwrap();
        app.notice(n);
    }
    let screen = frame(&app, 80, 24);
    let line = format!("label printed: {postage}");
    assert!(
        screen.lines().nth(1).is_some_and(|l| l.trim_end() == line),
        "{screen}"
    );
    assert!(
        app.alert
            .as_ref()
            .is_some_and(|a| !a.error && a.text == line),
        "{:?}",
        app.alert
    );
    let state = service.with_store(|s| s.get(first).unwrap().unwrap().state);
    assert_eq!(state, OrderState::Labelled);
    assert_eq!(std::fs::read_dir(printed.path()).unwrap().count(), 1);
    // The other order, picked, waits for the bench: its ship-by follows today's date.
    let ship_by = app.screens.pack.waiting[0]
        .order
        .ship_by_key()
        .format("%m-%d %H:%M")
        .to_string();
    for (w, h) in [(80, 24), (40, 16)] {
        insta::assert_snapshot!(
            format!("pack_label_printed_{w}x{h}"),
            label_notice_as_placeholder(&frame(&app, w, h), &carrier, &tracking)
                .replace(&ship_by, "MM-DD HH:MM")
                .replace(&ship_by[..8], "MM-DD HH")
        );
    }

    // A purchase that fails: said at the bench, and the order waits, packed, for the labeler.
    // Amazon's order now belongs to Amazon.fr: the site's US shipping business gets no rates.
    let second = &batch.orders[1];
    assert_eq!(
        training_control(&url, "/_training/marketplace/A13V1IB3VIYZZH").await,
        204
    );
    pack(&mut app, second).await;
    app.settle().await;
    let label = app.screens.pack.label.clone().expect("the bench's label");
    let (text, ok) = label.outcome.clone().expect("a failure is known at once");
    assert!(!ok);
    assert!(
        text.starts_with("LABEL NOT BOUGHT: ")
            && text.ends_with(&format!("(order {second} waits for the labeler)")),
        "{text}"
    );
    assert!(app.bell);
    assert!(frame(&app, 80, 24).contains("LABEL NOT BOUGHT: "));
    let state = service.with_store(|s| s.get(second).unwrap().unwrap().state);
    assert_eq!(state, OrderState::Packed);
}

/// Waits until the bench's scale says `want`, applying what comes back meanwhile.
async fn scale_says(app: &mut App, want: &packline::scale::ScaleState) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while app.screens.pack.scale.as_ref().map(|s| &s.state) != Some(want) {
        tokio::time::timeout_at(deadline, app.next_answer())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "the scale never said {want:?}: {:?}",
                    app.screens.pack.scale
                )
            });
    }
}

/// A scale at the bench, on a pseudo-terminal: its settled weight closes each box without a
/// key typed but Enter; a moving scale's weight is not taken, nor the same reading twice; a
/// scale that stops answering is said to be off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scale_on_a_pty_gives_the_weight_without_typing() {
    use packline::scale::{Reading, ScaleSpec, ScaleState};
    let dir = tempfile::tempdir().unwrap();
    let service = site(dir.path(), &orders()[..1]);
    let mut app = app(service.clone()).await;
    act(&mut app, Action::Claim).await;
    let batch = app.screens.pick.batch.clone().expect("a batch");
    for code in ["B-07", "0123456789012", "SKU-HOSTILE"] {
        act(&mut app, Action::Scan(code.into())).await;
    }
    act(&mut app, Action::FinishPick).await;
    act(&mut app, Action::Pack).await;
    let order = batch.orders[0].clone();
    act(&mut app, Action::Scan(order.to_string())).await;
    act(&mut app, Action::Scan("SKU-HOSTILE".into())).await;

    let scale = SimScale::start();
    scale.answer(Some(b"\n0000.40KG\r\n00\r\x03"));
    let spec = ScaleSpec::parse(&format!("serial:{}", scale.path)).unwrap();
    app.attach_scale(spec.clone());
    scale_says(&mut app, &ScaleState::Reading(Reading::Stable(400))).await;
    assert!(frame(&app, 80, 24).contains("scale: 400 g (stable)"));
    // The first box closes at the scale's weight: no weight typed. A second press before the
    // answer does not close another box at the same reading.
    app.act(Action::CloseBox);
    app.act(Action::CloseBox);
    app.settle().await;
    let check = app
        .screens
        .pack
        .check
        .clone()
        .expect("the order is at the bench");
    assert_eq!(check.boxes.len(), 1, "{:?}", app.alert);
    assert_eq!(check.boxes[0].parcel.weight_g, 400);
    assert_eq!(
        app.alert.as_ref().map(|a| (a.text.as_str(), a.error)),
        Some(("box 1 closed: scan the units of box 2", false))
    );
    for l in &check.lines {
        for _ in l.scanned..l.needed {
            act(&mut app, Action::Scan(l.sku.clone())).await;
        }
    }
    assert!(app.screens.pack.check.as_ref().unwrap().is_complete());
    // The scale still shows the first box: that reading is not taken again.
    act(&mut app, Action::Submit).await;
    assert!(app.screens.pack.check.is_some());
    assert_eq!(
        app.alert.as_ref().map(|a| a.text.as_str()),
        Some(
            "the scale still shows the last box's weight: put the next box on it, or type its weight in grams"
        )
    );
    // The next box goes on: moving, it is not taken.
    scale.answer(Some(b"\n0001.19KG\r\n10\r\x03"));
    scale_says(&mut app, &ScaleState::Reading(Reading::Moving(Some(1190)))).await;
    act(&mut app, Action::Submit).await;
    assert!(
        app.screens.pack.check.is_some(),
        "a moving weight is not taken"
    );
    assert_eq!(
        app.alert.as_ref().map(|a| a.text.as_str()),
        Some("the scale is still moving: wait for it to settle, or type the weight in grams")
    );
    snapshot("pack_scale_moving", &app);
    // Settled: the bench shows it and Enter takes it.
    scale.answer(Some(b"\n0001.234KG\r\n00\r\x03"));
    scale_says(&mut app, &ScaleState::Reading(Reading::Stable(1234))).await;
    let screen = frame(&app, 80, 24);
    assert!(screen.contains("scale: 1.234 kg (stable)"), "{screen}");
    assert!(
        screen.contains("weight: 1.234 kg from the scale, Enter"),
        "{screen}"
    );
    snapshot("pack_scale_stable", &app);
    assert!(app.input.is_empty(), "nothing typed");
    act(&mut app, Action::Submit).await;
    assert!(app.screens.pack.check.is_none(), "{:?}", app.alert);
    let packages = service.with_store(|s| s.packages(&order).unwrap());
    let weights: Vec<u32> = packages.iter().map(|p| p.parcel.weight_g).collect();
    assert_eq!(weights, [400, 1234]);

    // The scale stops answering: the bench says it is off, and where it looked.
    scale.answer(None);
    let off = ScaleState::Off(format!("no answer from {spec}"));
    scale_says(&mut app, &off).await;
    let screen = frame(&app, 80, 24);
    assert!(
        screen.contains(&format!(
            "scale: off (no answer from serial:{})",
            scale.path
        )),
        "{screen}"
    );
}
