//! `packline sync` against the training marketplace over real loopback HTTP: the client pulls
//! every pending order once, within Amazon's quotas, and never asks for buyer data.

use crate::common::*;

/// A site that syncs through searchOrders pages only (a backlog through the actionable-orders
/// report is `tests/backlog.rs`'s).
fn site_for(m: &Marketplace) -> Site {
    let site = Site::new(&format!(
        "[amazon]\nendpoint = {:?}\ntoken_url = {:?}\nrequest_timeout_secs = 1\nbacklog_report = false\n",
        m.url,
        format!("{}/auth/o2/token", m.url)
    ));
    site.init_identity_keys();
    site
}

fn sync(site: &Site) -> std::process::Output {
    site.cmd()
        .env(
            "PACKLINE_LWA_CLIENT_ID",
            "amzn1.application-oa2-client.training",
        )
        .env("PACKLINE_LWA_CLIENT_SECRET", "training-secret")
        .env("PACKLINE_LWA_REFRESH_TOKEN", "Atzr|training")
        .args(["sync", "--once"])
        .output()
        .unwrap()
}

#[test]
fn sync_pulls_every_pending_order_once_within_quota_and_never_buyer_data() {
    // 2,300 orders: 23 pages, three more than searchOrders' burst of 20, so the client must wait
    // for its bucket (time runs 100× faster in the marketplace and, through the rate header, in
    // the client).
    let m = marketplace(2300, "100");
    let site = site_for(&m);
    let out = sync(&site);
    assert_ok(&out, &["sync", "--once"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "imported 2300 new, 0 updated, 0 cancelled\n"
    );
    let listed: serde_json::Value =
        serde_json::from_str(&site.ok(&["orders", "list", "--json"])).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2300);

    // Idempotent: nothing new the second time.
    let out = sync(&site);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "imported 0 new, 0 updated, 0 cancelled\n"
    );

    let log = request_log(&m);
    let searches: Vec<&serde_json::Value> = log
        .iter()
        .filter(|r| r["operation"] == "searchOrders")
        .collect();
    assert_eq!(
        searches.len(),
        23 + 1,
        "23 pages, then one incremental page"
    );
    assert_eq!(
        log.iter().filter(|r| r["operation"] == "lwaToken").count(),
        2,
        "one token per run"
    );
    for r in &log {
        assert_eq!(
            r["status"], 200,
            "no request beyond the quota, none refused: {r}"
        );
    }
    for r in &searches {
        let included = r["params"]["includedData"].as_str().unwrap();
        assert!(!included.contains("BUYER"), "{included}");
        assert_eq!(r["params"]["fulfilledBy"], "MERCHANT");
    }
    assert!(searches[0]["params"]["createdAfter"].is_string());
    assert_eq!(
        searches[0]["params"]["fulfillmentStatuses"],
        "UNSHIPPED,PARTIALLY_SHIPPED"
    );
    assert!(
        searches[23]["params"]["lastUpdatedAfter"].is_string(),
        "later syncs ask for updates"
    );
}

#[test]
fn plain_http_to_a_remote_host_and_missing_credentials_are_refused() {
    let site = Site::new("[amazon]\nendpoint = \"http://sellingpartnerapi-na.amazon.com\"\n");
    site.init_identity_keys();
    assert_fails(
        &sync(&site),
        "only https is allowed, except to a loopback address",
    );
    let site = Site::new("[amazon]\nendpoint = \"https://sellingpartnerapi-na.amazon.com\"\n");
    site.init_identity_keys();
    let out = site.run(&["sync", "--once"]);
    assert_fails(&out, "no Amazon credentials");
}

#[test]
fn sync_converges_under_twenty_percent_faults() {
    // Every kind of fault at 20 %: throttling, 500, 503, timeouts (the client gives up on a
    // request after a second and retries), malformed and truncated bodies.
    let m = marketplace_with(
        600,
        "1000",
        &["--fault-rate", "0.2", "--fault-delay-ms", "2500"],
    );
    let site = site_for(&m);
    let out = sync(&site);
    assert_ok(&out, &["sync", "--once"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "imported 600 new, 0 updated, 0 cancelled\n"
    );
    // Exactly the marketplace's pending set: no duplicates, no losses.
    let ids = site.order_ids();
    assert_eq!(ids.len(), 600);
    let clean = marketplace(600, "1000");
    let reference = site_for(&clean);
    assert_ok(&sync(&reference), &["sync", "--once"]);
    assert_eq!(ids, reference.order_ids(), "same seed, same pending set");
    let log = request_log(&m);
    let faults = log.iter().filter(|r| r["fault"].is_string()).count();
    assert!(faults > 0, "faults were injected: {log:?}");
}

#[test]
fn cancellations_and_address_changes_arrive_with_the_next_sync() {
    let m = marketplace(150, "1000");
    let site = site_for(&m);
    assert_ok(&sync(&site), &["sync", "--once"]);
    let ids = site.order_ids();
    let (cancelled, moved) = (&ids[3], &ids[7]);
    http(&m, "POST", &format!("/_training/orders/{cancelled}/cancel"));
    http(&m, "POST", &format!("/_training/orders/{moved}/readdress"));
    let out = sync(&site);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "imported 0 new, 1 updated, 1 cancelled\n"
    );
    let listed = site.ok(&["orders", "list", "--state", "cancelled", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["order_id"], cancelled.as_str());
    // The new address was re-sealed: a reveal shows it.
    let shown = site.ok_unlocked(&reveal_args(moved, "address changed"));
    assert!(shown.contains("name: Readdressed Trainee"), "{shown}");
    assert!(shown.contains("address line 1: 1 New Street"), "{shown}");
    // The new name is found by name; nothing else under it.
    let found = site.ok_unlocked(&["lookup", "--name", "Readdressed Trainee"]);
    assert_eq!(found.trim(), moved.as_str());
    // No buyer asked: the seller's Pre-fulfillment Cancel Rate counts it.
    assert_eq!(cancel_rate(&site), (1, 1));
}

/// The Pre-fulfillment Cancel Rate's count, of how many (`packline metrics --json`).
fn cancel_rate(site: &Site) -> (u64, u64) {
    let m: serde_json::Value = serde_json::from_str(&site.ok(&["metrics", "--json"])).unwrap();
    let r = m["rates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["metric"] == "pre_fulfillment_cancel_rate")
        .unwrap_or_else(|| panic!("{m}"));
    (r["count"].as_u64().unwrap(), r["of"].as_u64().unwrap())
}

#[test]
fn orders_arriving_and_cancelled_over_time_are_followed() {
    // 1,200 new orders a minute (20 a second), half of them with a cancellation of an earlier one.
    let m = marketplace_with(
        100,
        "1000",
        &["--new-orders-per-minute", "1200", "--cancel-rate", "0.5"],
    );
    let site = site_for(&m);
    assert_ok(&sync(&site), &["sync", "--once"]);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let out = sync(&site);
    assert_ok(&out, &["sync", "--once"]);
    let summary = String::from_utf8_lossy(&out.stdout).into_owned();
    let new: u64 = summary
        .trim_start_matches("imported ")
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(new >= 20, "orders arrived between the syncs: {summary}");

    // Everything the marketplace had settled before the second sync began is in the store, in
    // the same state: pending orders open, cancelled ones cancelled (or never imported).
    let log = request_log(&m);
    let second_start = log
        .iter()
        .filter(|r| r["operation"] == "searchOrders")
        .find(|r| r["params"]["lastUpdatedAfter"].is_string())
        .map(|r| r["at"].as_str().unwrap().to_owned())
        .unwrap();
    let book: Vec<serde_json::Value> = training_book(&m);
    let open: std::collections::BTreeSet<String> = order_ids_in(&site, "new");
    let cancelled: std::collections::BTreeSet<String> = order_ids_in(&site, "cancelled");
    let mut checked = 0;
    for o in &book {
        let updated = o["lastUpdatedTime"].as_str().unwrap();
        if chrono::DateTime::parse_from_rfc3339(updated).unwrap()
            >= chrono::DateTime::parse_from_rfc3339(&second_start).unwrap()
        {
            continue;
        }
        let id = o["orderId"].as_str().unwrap().to_owned();
        match o["fulfillmentStatus"].as_str().unwrap() {
            "UNSHIPPED" => assert!(open.contains(&id), "{id} pending at Amazon, not open here"),
            "CANCELLED" => assert!(!open.contains(&id), "{id} cancelled at Amazon, open here"),
            other => panic!("unexpected status {other}"),
        }
        checked += 1;
    }
    assert!(checked >= 100, "{checked}");
    assert!(
        !cancelled.is_empty(),
        "some imported orders were cancelled later"
    );
}

fn order_ids_in(site: &Site, state: &str) -> std::collections::BTreeSet<String> {
    let listed: serde_json::Value =
        serde_json::from_str(&site.ok(&["orders", "list", "--state", state, "--json"])).unwrap();
    listed
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["order_id"].as_str().unwrap().to_owned())
        .collect()
}

/// A look-back beyond the calendar is an error of the sync, not a panic that leaves the sync
/// marked running for ever (the daemon's next round would refuse to start); the config refuses
/// such a number before anything runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_look_back_beyond_the_calendar_fails_the_sync_and_the_next_round_runs() {
    use packline::service::{Service, ops};
    let m = marketplace(5, "100");
    let dir = tempfile::tempdir().unwrap();
    let store = unlocked_store(dir.path());
    let mut settings = settings_of("lead");
    settings.sync_plan.marketplace_ids = vec!["ATVPDKIKX0DER".into()];
    settings.sync_plan.lookback_days = u32::MAX;
    let service = Service::new(store, settings);
    service.set_amazon(std::sync::Arc::new(training_api(
        &m,
        std::time::Duration::from_secs(5),
    )));
    let err = service.sync_now("lead").await.unwrap_err().to_string();
    assert!(err.contains("lookback_days"), "{err}");
    let lead = packline::service::Caller {
        user: "lead".into(),
        role: packline::domain::Role::Lead,
    };
    let state = service.run(&lead, ops::SyncStatus {}).unwrap();
    assert!(!state.running, "the failed sync is not left running");
    assert!(
        state
            .last_error
            .as_deref()
            .unwrap()
            .contains("lookback_days")
    );
    // The next round is not refused as "running already": it fails for its own reason again.
    let again = service.sync_now("lead").await.unwrap_err().to_string();
    assert!(again.contains("lookback_days"), "{again}");

    // The config refuses it by name before a sync could start.
    let site = Site::new("[amazon]\nlookback_days = 4000000000\n");
    let out = site.run(&["orders", "list"]);
    assert_fails(
        &out,
        "[amazon] lookback_days = 4000000000: it must be between 1 and 365",
    );
}

/// A buyer's cancellation request (Orders v2026-01-01 `cancellation.cancellationRequest`) holds
/// the order at the next sync wherever it is: one in a pick batch leaves it, one in the queue is
/// passed over. A lead who releases the hold has decided: the same request does not hold it again.
#[test]
fn a_buyers_cancellation_request_holds_the_order_wherever_it_is() {
    let m = marketplace(6, "1000");
    let site = site_for(&m);
    assert_ok(&sync(&site), &["sync", "--once"]);
    let claim: serde_json::Value =
        serde_json::from_str(&site.ok(&["pick", "claim", "--size", "2", "--json"])).unwrap();
    let picking: Vec<String> = claim["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(picking.len(), 2, "{claim}");
    let waiting = order_ids_in(&site, "new");
    let queued = waiting.iter().next().unwrap().clone();
    for id in [&picking[0], &queued] {
        http(
            &m,
            "POST",
            &format!("/_training/orders/{id}/cancel-request"),
        );
    }
    let out = sync(&site);
    assert_ok(&out, &["sync", "--once"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("2 held: the buyer asked to cancel"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let holds: serde_json::Value =
        serde_json::from_str(&site.ok(&["orders", "holds", "--json"])).unwrap();
    let mut held: Vec<&str> = holds
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            // packline's own words, shown as they are.
            assert_eq!(h["hold"]["reason"]["kind"], "system", "{h}");
            assert_eq!(h["hold"]["reason"]["text"], "buyer asked to cancel", "{h}");
            h["order"].as_str().unwrap()
        })
        .collect();
    held.sort();
    let mut expected = vec![picking[0].as_str(), queued.as_str()];
    expected.sort();
    assert_eq!(held, expected);
    // The one in the batch left it, back to New; the batch goes on with the other.
    let batches: serde_json::Value =
        serde_json::from_str(&site.ok(&["pick", "list", "--json"])).unwrap();
    assert_eq!(
        batches[0]["orders"],
        serde_json::json!([picking[1]]),
        "{batches}"
    );
    assert!(order_ids_in(&site, "new").contains(&picking[0]));

    // Released by a lead (the seller ships anyway): the next sync leaves it be.
    site.ok(&["orders", "release", &picking[0]]);
    let out = sync(&site);
    assert_ok(&out, &["sync", "--once"]);
    let holds: serde_json::Value =
        serde_json::from_str(&site.ok(&["orders", "holds", "--json"])).unwrap();
    assert_eq!(holds.as_array().unwrap().len(), 1, "{holds}");
    assert_eq!(holds[0]["order"], queued.as_str());
    // Cancelled at Amazon after the buyer asked: not the seller's cancellation.
    http(&m, "POST", &format!("/_training/orders/{queued}/cancel"));
    assert_ok(&sync(&site), &["sync", "--once"]);
    assert!(order_ids_in(&site, "cancelled").contains(&queued));
    assert_eq!(cancel_rate(&site), (0, 1));
}

/// A daemon's schedule says when the next sync runs (after the last one, a period on), and the
/// dashboard's searchOrders quota is the client's bucket: full before the first call, one less
/// after a sync's single searchOrders call to the training marketplace (real time there, so the
/// bucket refills only 0.005 a second meanwhile).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_reports_the_next_sync_and_the_quota_a_sync_leaves() {
    use packline::service::daemon::{DaemonOptions, run};
    use packline::service::{Service, ops};
    use std::time::Duration;
    let m = marketplace(5, "1");
    let dir = tempfile::tempdir().unwrap();
    let store = unlocked_store(dir.path());
    let mut settings = settings_of("lead");
    settings.sync_plan.marketplace_ids = vec!["ATVPDKIKX0DER".into()];
    let service = Service::new(store, settings);
    let lead = packline::service::Caller {
        user: "lead".into(),
        role: packline::domain::Role::Lead,
    };
    // No connection and nothing kept: no quota to tell, and no schedule.
    let v = service.run(&lead, ops::Dashboard {}).unwrap();
    assert_eq!((v.health.quota, v.health.next_sync), (None, None));
    let api = std::sync::Arc::new(training_api(&m, Duration::from_secs(5)));
    service.set_amazon(api.clone());
    let before = service.run(&lead, ops::Dashboard {}).unwrap().health.quota;
    let before = before.expect("a connection's bucket starts full");
    assert_eq!(
        (before.tokens, before.burst, before.whole()),
        (20.0, 20.0, 20)
    );

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let daemon = tokio::spawn(run(
        service.clone(),
        DaemonOptions {
            socket: dir.path().join("packline.sock"),
            socket_group: None,
            amazon: Some(api),
            sync_every: Duration::from_secs(600),
            purge_every: Duration::from_secs(24 * 3600),
            returns_every: Duration::from_secs(4 * 3600),
            user: "lead".into(),
            site: "main".into(),
        },
        stopped,
    ));
    // The schedule's first round runs at once.
    let started = std::time::Instant::now();
    while service
        .run(&lead, ops::SyncStatus {})
        .unwrap()
        .last_ok
        .is_none()
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no sync finished"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let v = service.run(&lead, ops::Dashboard {}).unwrap();
    let (last, next) = (v.health.last_sync.unwrap(), v.health.next_sync.unwrap());
    let ahead = (next - last).num_seconds();
    assert!((590..=600).contains(&ahead), "next {next}, last {last}");
    let searches = request_log(&m)
        .iter()
        .filter(|r| r["operation"] == "searchOrders")
        .count();
    assert_eq!(searches, 1);
    let q = v.health.quota.unwrap();
    assert_eq!((q.whole(), q.burst), (19, 20.0), "{q:?}");
    assert!(q.tokens < 19.05, "{q:?}");
    assert!((q.rate - 0.0056 * 0.9).abs() < 1e-12, "{q:?}");
    // The sync state says the same to any client.
    let st = service.run(&lead, ops::SyncStatus {}).unwrap();
    assert_eq!(st.next_sync, Some(next));
    assert_eq!(st.quota.map(|q| q.whole()), Some(19));
    stop.send(true).unwrap();
    daemon.await.unwrap().unwrap();
}

/// The text of a sync's or an import's output with each order's place on its page (which
/// depends on how the marketplace pages) written as `orders[N]`.
fn placeless(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("orders[") {
        out.push_str(&rest[..i + "orders[".len()]);
        rest = &rest[i + "orders[".len()..];
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        out.push('N');
        rest = &rest[digits..];
    }
    out.push_str(rest);
    out
}

/// One order packline refuses (a control character in its SKU, as an independent stand-in
/// served one) is set aside, named with why; every other order is imported, and the next
/// syncs go on: each asks Amazon for the order again (getOrder), and once Amazon's data reads,
/// it is imported and leaves the list.
#[test]
fn one_broken_order_is_set_aside_and_the_next_sync_goes_on() {
    let m = marketplace(150, "1000");
    let clean = marketplace(150, "1000");
    let reference = site_for(&clean);
    assert_ok(&sync(&reference), &["sync", "--once"]);
    let all = reference.order_ids();
    let broken = all[5].clone();
    http(
        &m,
        "POST",
        &format!("/_training/orders/{broken}/broken-sku"),
    );

    let site = site_for(&m);
    let out = sync(&site);
    assert_ok(&out, &["sync", "--once"]);
    let why = "holds a control character; a SKU must be printable";
    assert_eq!(
        placeless(&String::from_utf8_lossy(&out.stdout)),
        format!(
            "imported {} new, 0 updated, 0 cancelled\n\
             1 set aside, the rest imported (each sync asks Amazon for them again; `packline sync problems` lists them):\n  \
             {broken}: searchOrders: orders[N].orderItems[0].product.sellerSku: {why}\n",
            all.len() - 1
        )
    );
    let mut expected: Vec<String> = all.iter().filter(|id| **id != broken).cloned().collect();
    assert_eq!(site.order_ids(), expected, "every other order, once");
    // The log names it too, and holds nothing of the order but its id.
    let log = std::fs::read_to_string(&site.log).unwrap();
    assert!(
        log.lines()
            .any(|l| l.contains("order set aside") && l.contains(&broken) && l.contains(why)),
        "{log}"
    );
    // A lead lists what is set aside: the id, where from, why, since when; nothing personal.
    let problems: serde_json::Value =
        serde_json::from_str(&site.ok(&["sync", "problems", "--json"])).unwrap();
    let rows = problems.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{problems}");
    assert_eq!(rows[0]["order"], broken.as_str());
    assert_eq!(rows[0]["source"], "searchOrders");
    assert_eq!(
        placeless(rows[0]["reason"].as_str().unwrap()),
        format!("orders[N].orderItems[0].product.sellerSku: {why}")
    );
    assert_eq!(rows[0]["times"], 1);
    // The store's check knows the set-aside record (a key the registry declares).
    let check = site.run(&["check"]);
    assert_ok(&check, &["check"]);
    let mut fields: Vec<&String> = rows[0].as_object().unwrap().keys().collect();
    fields.sort();
    assert_eq!(
        fields,
        ["last", "order", "reason", "since", "source", "times"]
    );

    // The next sync does not stop there: a cancellation since arrives, the broken order is
    // asked for again and named again.
    let cancelled = expected[0].clone();
    http(&m, "POST", &format!("/_training/orders/{cancelled}/cancel"));
    let out = sync(&site);
    assert_ok(&out, &["sync", "--once"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!(
            "imported 0 new, 0 updated, 1 cancelled\n\
             1 set aside, the rest imported (each sync asks Amazon for them again; `packline sync problems` lists them):\n  \
             {broken}: getOrder: order.orderItems[0].product.sellerSku: {why}\n"
        )
    );
    assert_eq!(
        order_ids_in(&site, "cancelled"),
        std::collections::BTreeSet::from([cancelled])
    );

    // Amazon's data mended: the next sync imports it and nothing is set aside any more.
    http(&m, "POST", &format!("/_training/orders/{broken}/mend"));
    let out = sync(&site);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "imported 1 new, 0 updated, 0 cancelled\n"
    );
    assert_eq!(site.ok(&["sync", "problems"]), "no order is set aside\n");
    expected.push(broken.clone());
    expected.sort();
    assert_eq!(site.order_ids(), expected);
    let log = request_log(&m);
    let asked: Vec<&serde_json::Value> = log
        .iter()
        .filter(|r| r["operation"] == "getOrder")
        .collect();
    assert_eq!(
        asked.len(),
        2,
        "asked for again at each later sync: {asked:?}"
    );
    for r in &log {
        assert_eq!(r["status"], 200, "no request refused: {r}");
    }
}

/// A sync killed after three pages carries on where it stopped: the next `sync --once` asks
/// for the next page with Amazon's pagination token (not from the first page again), within the
/// quota the killed one left (no request refused), and ends with every pending order once.
#[test]
fn a_sync_killed_after_three_pages_carries_on_within_the_quota() {
    // 2,300 orders: 23 pages, three more than searchOrders' burst of 20; time runs 100× faster.
    let m = marketplace(2300, "100");
    let site = site_for(&m);
    let mut child = site
        .cmd()
        .env(
            "PACKLINE_LWA_CLIENT_ID",
            "amzn1.application-oa2-client.training",
        )
        .env("PACKLINE_LWA_CLIENT_SECRET", "training-secret")
        .env("PACKLINE_LWA_REFRESH_TOKEN", "Atzr|training")
        .args(["sync", "--once"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while count_requests(&m, "searchOrders") < 3 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "no third page"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let first_run = count_requests(&m, "searchOrders");
    let kept = site.order_ids().len();
    // Where the killed sync stood is a key the registry declares.
    let check = site.run(&["check"]);
    assert_ok(&check, &["check"]);
    assert!(
        kept < 2300,
        "the first sync was stopped early ({kept} orders)"
    );

    let out = sync(&site);
    assert_ok(&out, &["sync", "--once"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("imported {} new, 0 updated, 0 cancelled\n", 2300 - kept)
    );
    let ids = site.order_ids();
    assert_eq!(ids.len(), 2300, "every pending order");
    let unique: std::collections::BTreeSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), 2300, "each once");

    let log = request_log(&m);
    for r in &log {
        assert_eq!(r["status"], 200, "no request the quota refused: {r}");
    }
    let searches: Vec<&serde_json::Value> = log
        .iter()
        .filter(|r| r["operation"] == "searchOrders")
        .collect();
    // The second sync's first request carries on with a token; no page is asked from the
    // start again.
    let resumed = searches[first_run];
    assert!(
        resumed["params"]["paginationToken"].is_string(),
        "{resumed}"
    );
    assert_eq!(
        searches
            .iter()
            .filter(|r| r["params"]["paginationToken"].is_null())
            .count(),
        1,
        "one first page: {searches:?}"
    );
    assert!(searches.len() <= 23 + 2, "{} requests", searches.len());
    // Nothing is left to carry on from.
    let again = sync(&site);
    assert_eq!(
        String::from_utf8_lossy(&again.stdout),
        "imported 0 new, 0 updated, 0 cancelled\n"
    );
    let last = request_log(&m)
        .into_iter()
        .rfind(|r| r["operation"] == "searchOrders")
        .unwrap();
    assert!(last["params"]["lastUpdatedAfter"].is_string(), "{last}");
    assert!(last["params"]["paginationToken"].is_null(), "{last}");
}
