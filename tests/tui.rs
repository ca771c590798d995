//! The TUI headless: the whole app driven through its actions against the real in-process
//! service and store, and snapshots of each screen at 80×24 and 40×16 on ratatui's TestBackend,
//! hostile data included.

mod common;

use std::path::Path;

use chrono::Utc;
use common::*;
use packline::domain::OrderState;
use packline::service::client::Client;
use packline::service::{Service, Settings};
use packline::tui::action::Action;
use packline::tui::app::{App, Screen};
use packline::tui::keymap::Keymap;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const LONG_NAME_BYTES: usize = 10_000;

fn site(dir: &Path, people: &[Person]) -> std::sync::Arc<Service> {
    let mut store = unlocked_store(dir);
    let refs: Vec<&Person> = people.iter().collect();
    imp(
        &mut store,
        &refs,
        "UNSHIPPED",
        "2026-11-23T10:00:00Z",
        t("2026-11-23T11:00:00Z"),
    );
    let mut settings = Settings::from_config(&packline::config::Config::default()).unwrap();
    settings.locations =
        packline::domain::Locations::from_csv("SKU-HOSTILE,B-07,0123456789012\n").unwrap();
    settings.training = true;
    settings.roles = packline::config::RolesConfig {
        leads: vec!["ann".into()],
        ..Default::default()
    };
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
    let batch = app.pick.batch.clone().expect("a batch");
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
    assert!(app.pick.batch.as_ref().unwrap().is_complete());
    act(&mut app, Action::FinishPick).await;
    assert!(app.pick.batch.is_none(), "{:?}", app.alert);

    act(&mut app, Action::Pack).await;
    let order = batch.orders[0].to_string();
    // The slip's order id and the first unit in one burst: the unit is sent only once the
    // bench has the order open (decided earlier, it would be taken for an order to open).
    app.act(Action::Scan(order.clone()));
    app.act(Action::Scan("SKU-HOSTILE".into()));
    app.settle().await;
    let check = app.pack.check.clone().expect("the order is at the bench");
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
    for c in "850".chars() {
        act(&mut app, Action::Char(c)).await;
    }
    act(&mut app, Action::Submit).await;
    assert!(app.pack.check.is_none(), "{:?}", app.alert);
    let rec = service.with_store(|s| s.get(&batch.orders[0]).unwrap().unwrap());
    assert_eq!(rec.state, OrderState::Packed);
    let parcel = service.with_store(|s| s.parcel(&batch.orders[0]).unwrap().unwrap());
    assert_eq!(parcel.weight_g, 850);

    // The packed order waits on the labels screen.
    act(&mut app, Action::Labels).await;
    assert_eq!(app.screen, Screen::Labels);
    assert_eq!(app.labels.orders.len(), 1);
    snapshot("labels", &app);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancellation_mid_pick_pulls_the_order_with_an_alert() {
    let dir = tempfile::tempdir().unwrap();
    let people = orders();
    let service = site(dir.path(), &people[..2]);
    let mut app = app(service.clone()).await;
    act(&mut app, Action::Claim).await;
    assert_eq!(app.pick.batch.as_ref().unwrap().orders.len(), 2);
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
    let batch = app.pick.batch.as_ref().unwrap();
    assert_eq!(batch.orders.len(), 1);
    assert_ne!(batch.orders[0].as_str(), gone.order_id);
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
    let batch = app.pick.batch.clone().unwrap();
    assert_eq!(batch.orders.len(), 2);
    // Three of the four units are found: the second order (by ship-by) is short.
    for _ in 0..3 {
        act(&mut app, Action::Scan("SKU-HOSTILE".into())).await;
    }
    for c in "bin empty".chars() {
        act(&mut app, Action::Char(c)).await;
    }
    act(&mut app, Action::ShortPick).await;
    let left = app.pick.batch.clone().expect("one order left");
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
    assert_eq!(app.exceptions.exceptions.len(), 1);
    assert_eq!(app.exceptions.exceptions[0].order, shorted);
    assert_eq!(
        app.exceptions.exceptions[0].note,
        "short pick of SKU-HOSTILE: bin empty"
    );
    snapshot("exceptions", &app);
    act(&mut app, Action::Resolve).await;
    let rec = service.with_store(|s| s.get(&shorted).unwrap().unwrap());
    assert_eq!(rec.state, OrderState::New);
    assert!(app.exceptions.exceptions.is_empty());

    // The picked order is waiting at the pack screen: Enter takes it to the bench.
    act(&mut app, Action::Pack).await;
    assert_eq!(app.pack.waiting.len(), 1);
    act(&mut app, Action::Submit).await;
    assert_eq!(
        app.pack.check.as_ref().map(|c| c.order.clone()),
        Some(left.orders[0].clone())
    );
}
