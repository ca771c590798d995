//! Several sites on one PostgreSQL database (docs/postgres.md, "Sites"): each site's trees and
//! keyring are its own; the site that syncs the account routes each order to the site that
//! ships it (`[[routing]]`), sealed to the intake key that site published, so no other site's
//! lead can read it and the database never holds it in the clear.

use crate::common::*;
use serde_json::Value;

/// A site named `name` on the database of `first`.
fn second_site(first: &Site, name: &str) -> Site {
    let (url, _) = crate::common::stores::database(&first.data);
    Site::with_store_config(&format!(
        "[store]\nbackend = \"postgres\"\nurl = {url:?}\n[site]\nname = \"{name}\"\n"
    ))
}

/// `body`, checked against the command's schema in docs/schema/ (docs/json.md).
fn conforms(schema: &str, body: &str) -> Value {
    let path = format!("{}/docs/schema/{schema}.json", env!("CARGO_MANIFEST_DIR"));
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let doc = assert_json_contract(body, &path);
    let v = jsonschema::draft202012::new(&schema).unwrap();
    let bad: Vec<String> = v.iter_errors(&doc).map(|e| e.to_string()).collect();
    assert!(bad.is_empty(), "{path}: {bad:?}\n{body}");
    doc
}

#[test]
fn routing_puts_each_order_at_one_site_sealed_for_that_site_alone() {
    let main = Site::on_postgres("[[routing]]\nsite = \"reno\"\nstates = [\"CA\", \"NV\"]\n");
    main.init_identity_keys();
    let reno = second_site(&main, "reno");
    reno.init_identity_keys();

    let mut people = hostile_people();
    people.truncate(2);
    people[0].region = "CA".into();
    people[1].region = "NY".into();
    let (west, east) = (people[0].order_id.clone(), people[1].order_id.clone());

    // Reno's daemon has never run: it published no key, so its order waits, set aside and
    // named with why; the other is imported here.
    let out = main.import(
        "p1.json",
        &page(&people, "UNSHIPPED", "2026-11-23T10:00:00Z"),
    );
    assert!(out.contains("imported 1 new"), "{out}");
    assert!(
        out.contains(&west)
            && out.contains("routed to site reno")
            && out.contains("published no intake key"),
        "{out}"
    );
    let problems = main.ok(&["sync", "problems"]);
    assert!(problems.contains(&west), "{problems}");
    assert_eq!(main.order_ids(), vec![east.clone()]);
    assert!(reno.order_ids().is_empty());

    // Its daemon publishes its intake key as it starts; the next import takes the order there.
    drop(start_daemon(&reno));
    let out = main.import(
        "p2.json",
        &page(&people, "UNSHIPPED", "2026-11-23T11:00:00Z"),
    );
    assert!(out.contains("imported 1 new"), "{out}");
    assert!(!out.contains("set aside"), "{out}");
    assert_eq!(main.order_ids(), vec![east.clone()]);
    assert_eq!(reno.order_ids(), vec![west.clone()]);
    assert!(!main.ok(&["sync", "problems"]).contains(&west));

    // A later change to the order reaches it where it went (not a second copy here), even
    // once the rules would send it elsewhere.
    let out = main.import(
        "p3.json",
        &page(&people[..1], "CANCELLED", "2026-11-23T12:00:00Z"),
    );
    assert!(out.contains("1 cancelled"), "{out}");
    assert_eq!(main.order_ids(), vec![east.clone()]);

    // Reno's lead reads its recipient; main's lead cannot, anywhere.
    let shown = reno.ok_unlocked(&reveal_args(&west, "carrier asked"));
    assert!(shown.contains(&people[0].city), "{shown}");
    let out = main.run_unlocked(&reveal_args(&west, "carrier asked"));
    assert!(!out.status.success());
    assert!(!String::from_utf8_lossy(&out.stdout).contains(&people[0].city));

    // An order routed to reno that main also holds breaks `one_site`, and check says so.
    let meta = crate::common::stores::raw_backend(&main.data)
        .open_tree("meta")
        .unwrap();
    let route = format!("route/{east}");
    meta.insert(route.as_bytes(), b"reno").unwrap();
    let out = main.run(&["check"]);
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("BROKEN (1): one_site"), "{said}");
    assert!(
        said.contains(&format!(
            "order {east} is in site main's store, though the account routed it to site reno"
        )),
        "{said}"
    );
    meta.remove(route.as_bytes()).unwrap();

    // A lead moves an order waiting here to reno: re-sealed for reno, gone from here (audited),
    // and Amazon's later changes follow it there.
    let refused = main.run_unlocked(&["orders", "move", &east, "--site", "nowhere"]);
    assert_fails(&refused, "site nowhere has no keyed store on this database");
    assert_eq!(
        main.order_ids(),
        vec![east.clone()],
        "a refused move changes nothing"
    );
    main.ok(&["orders", "hold", &east, "--reason", "address check"]);
    let refused = main.run_unlocked(&["orders", "move", &east, "--site", "reno"]);
    assert_fails(&refused, "is on hold");
    main.ok(&["orders", "release", &east]);
    let out = main.ok_unlocked(&["orders", "move", &east, "--site", "reno", "--json"]);
    let moved = conforms("orders-move", &out);
    assert_eq!(moved["order"], east.as_str());
    assert_eq!(
        (moved["from"].as_str(), moved["to"].as_str()),
        (Some("main"), Some("reno"))
    );
    assert!(main.order_ids().is_empty());
    assert_eq!(reno.order_ids(), {
        let mut both = vec![east.clone(), west.clone()];
        both.sort();
        both
    });
    let shown = reno.ok_unlocked(&reveal_args(&east, "carrier asked"));
    assert!(shown.contains(&people[1].city), "{shown}");
    assert!(
        audit_entries(&main.data)
            .iter()
            .any(|e| e["action"] == "order:move" && e["order"] == east.as_str()),
        "the move is in main's audit log"
    );
    // A move cut short after the order left here (its hold at reno still on): the same
    // command finishes it.
    {
        use packline::domain::{FreeText, Hold};
        let location = packline::store::Location::Postgres(
            crate::common::stores::database(&main.data)
                .1
                .for_site("reno"),
        );
        let store = packline::store::Store::open_in(&reno.data, &location).unwrap();
        let id = packline::domain::OrderId::parse(&east).unwrap();
        let hold = Hold {
            reason: FreeText::System(packline::store::sites::moving_from("main")),
            by: "lead".into(),
            since: chrono::Utc::now(),
        };
        assert!(store.place_hold(&id, &hold, false).unwrap());
    }
    assert!(reno.ok(&["orders", "holds"]).contains(&east));
    let out = main.ok_unlocked(&["orders", "move", &east, "--site", "reno"]);
    assert!(out.contains("moved from site main to site reno"), "{out}");
    assert!(!reno.ok(&["orders", "holds"]).contains(&east));

    let out = main.import(
        "p4.json",
        &page(&people[1..], "UNSHIPPED", "2026-11-23T13:00:00Z"),
    );
    assert!(out.contains("imported 0 new, 1 updated"), "{out}");
    assert!(main.order_ids().is_empty());

    // A lead sees every site's orders, each with its site; the report, each site's.
    let all = conforms(
        "orders-list",
        &main.ok(&["orders", "list", "--all-sites", "--json"]),
    );
    let mut at: Vec<(String, String)> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["site"].as_str().unwrap().into(),
                o["order_id"].as_str().unwrap().into(),
            )
        })
        .collect();
    at.sort();
    let mut expected = vec![
        ("reno".to_string(), east.clone()),
        ("reno".into(), west.clone()),
    ];
    expected.sort();
    assert_eq!(at, expected);
    let text = main.ok(&["orders", "list", "--all-sites"]);
    assert!(text.starts_with("SITE "), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("reno ") && l.contains(&east)),
        "{text}"
    );
    let reports = conforms("report", &main.ok(&["report", "--all-sites", "--json"]));
    let sites: Vec<&str> = reports
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["site"].as_str().unwrap())
        .collect();
    assert_eq!(sites, ["main", "reno"]);
    assert!(reports[1]["report"]["days"].is_array(), "{reports}");

    // Each site checks out on its own, and the database holds no recipient's value.
    for site in [&main, &reno] {
        let out = site.ok(&["check"]);
        assert!(out.contains("no problem found"), "{out}");
    }
    let dump = crate::common::stores::cluster_always()
        .dump(&crate::common::stores::database_name(&main.data))
        .unwrap();
    let hex = |v: &str| v.bytes().map(|b| format!("{b:02x}")).collect::<String>();
    for p in &people {
        for v in p.values() {
            if v.len() >= 4 {
                assert!(
                    !dump.contains(v) && !dump.contains(&hex(v)),
                    "the dump holds {v:?}"
                );
            }
        }
    }
}

/// The site of every order the training marketplace would have packline import (merchant
/// fulfilled, not yet shipped), by the rule that sends Germany's to reno: read with one
/// searchOrders call of the test's own.
fn expected_sites(m: &Marketplace) -> std::collections::BTreeMap<String, String> {
    let (status, body) = http_with(
        m,
        "GET",
        "/orders/2026-01-01/orders?marketplaceIds=ATVPDKIKX0DER&createdAfter=2020-01-01T00:00:00Z\
         &fulfilledBy=MERCHANT&includedData=RECIPIENT,FULFILLMENT&maxResultsPerPage=100",
        &[("x-amz-access-token", "Atza|training")],
    );
    assert_eq!(status, 200, "{body}");
    let page: Value = serde_json::from_str(&body).unwrap();
    assert!(
        page["pagination"]["nextToken"].is_null(),
        "one page holds them all"
    );
    page["orders"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| {
            ["UNSHIPPED", "PARTIALLY_SHIPPED"]
                .contains(&o["fulfillment"]["fulfillmentStatus"].as_str().unwrap_or(""))
        })
        .map(|o| {
            let country = &o["recipient"]["deliveryAddress"]["countryCode"];
            let site = if country == "DE" { "reno" } else { "main" };
            (o["orderId"].as_str().unwrap().to_owned(), site.to_owned())
        })
        .collect()
}

/// Where every order is, by the lead's all-sites list.
fn listed_sites(site: &Site) -> std::collections::BTreeMap<String, String> {
    let all: Value =
        serde_json::from_str(&site.ok(&["orders", "list", "--all-sites", "--json"])).unwrap();
    let mut at = std::collections::BTreeMap::new();
    for o in all.as_array().unwrap() {
        let id = o["order_id"].as_str().unwrap().to_owned();
        let prev = at.insert(id.clone(), o["site"].as_str().unwrap().to_owned());
        assert!(prev.is_none(), "order {id} is at two sites");
    }
    at
}

/// Who holds the account's sync lease (in the site `main`'s trees, which are the account's).
fn sync_holder(main: &Site) -> String {
    let meta = crate::common::stores::raw_backend(&main.data)
        .open_tree("meta")
        .unwrap();
    let v = meta
        .get(b"lease/:sync")
        .unwrap()
        .map(|v| v.to_vec())
        .unwrap_or_default();
    String::from_utf8_lossy(v.get(9..).unwrap_or_default()).into_owned()
}

/// The sites `main` and `reno` of one database, keyed, both syncing the account of the
/// training marketplace `m` by the rule that sends Germany's orders to reno, `extra` in both
/// configs; and the directory of their credentials file (keep it while they run).
fn account_sites(m: &Marketplace, extra: &str) -> (tempfile::TempDir, Site, Site) {
    let (creds, amazon) = amazon_config(m);
    let rules = "[[routing]]\nsite = \"reno\"\ncountries = [\"DE\"]\n";
    let main = Site::on_postgres(&format!("{amazon}{rules}{extra}"));
    main.init_identity_keys();
    let (url, _) = crate::common::stores::database(&main.data);
    let reno = Site::with_store_config(&format!(
        "{amazon}{rules}{extra}[store]\nbackend = \"postgres\"\nurl = {url:?}\n[site]\nname = \"reno\"\n"
    ));
    reno.init_identity_keys();
    for site in [&main, &reno] {
        site.name_socket(&site.daemon_socket());
    }
    (creds, main, reno)
}

/// [`account_sites`] with a daemon each, main's leading the sync, once every order the
/// marketplace has to ship is at its site: the sites and their daemons (main's, reno's).
fn synced_sites(m: &Marketplace, extra: &str) -> (tempfile::TempDir, [(Site, Daemon); 2]) {
    use std::time::{Duration, Instant};
    let (creds, main, reno) = account_sites(m, extra);
    let expected = expected_sites(m);
    assert!(expected.values().any(|s| s == "reno") && expected.values().any(|s| s == "main"));
    // Main's daemon starts first and leads; reno's orders wait until reno's daemon has
    // published its key, and the next sync takes them there.
    let main_daemon = start_daemon(&main);
    let here = |at: &std::collections::BTreeMap<String, String>| {
        at.values().filter(|s| *s == "main").count()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while here(&listed_sites(&main)) < here(&expected) {
        assert!(Instant::now() < deadline, "main's orders never arrived");
        std::thread::sleep(Duration::from_millis(300));
    }
    let reno_daemon = start_daemon(&reno);
    loop {
        // The daemon's own first sync may still be running: asked again.
        let out = main.run(&["sync", "--once"]);
        if out.status.success() {
            break;
        }
        assert!(
            stderr(&out).contains("running already") && Instant::now() < deadline,
            "{}",
            stderr(&out)
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    assert_eq!(listed_sites(&main), expected);
    assert!(sync_holder(&main).contains(&format!("pid {}", main_daemon.child.id())));
    (creds, [(main, main_daemon), (reno, reno_daemon)])
}

#[test]
fn two_daemons_sync_the_account_once_and_hand_the_sync_over_when_its_leader_dies() {
    use std::time::{Duration, Instant};
    // Fewer orders than a sync asks again for at once (30): all set aside are retried.
    let m = marketplace(30, "1");
    let (_creds, main, reno) = account_sites(&m, "");
    let expected = expected_sites(&m);
    assert!(expected.values().any(|s| s == "reno") && expected.values().any(|s| s == "main"));

    // Reno's daemon starts first and syncs the account: Germany's orders go to reno; main's
    // are set aside, main having published no key yet.
    let reno_daemon = start_daemon(&reno);
    let deadline = Instant::now() + Duration::from_secs(30);
    while listed_sites(&reno)
        .values()
        .filter(|s| *s == "reno")
        .count()
        < expected.values().filter(|s| *s == "reno").count()
    {
        assert!(Instant::now() < deadline, "reno's orders never arrived");
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(sync_holder(&main).contains(&format!("pid {}", reno_daemon.child.id())));
    let main_daemon = start_daemon(&main);

    // Reno's daemon is killed: main's takes the sync over within the lease's 15 s, asks for
    // the orders set aside, and every order is at exactly its one site.
    let killed = Instant::now();
    drop(reno_daemon);
    let deadline = killed + Duration::from_secs(45);
    loop {
        let at = listed_sites(&main);
        if at == expected {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the orders never all reached their sites: {at:?} against {expected:?}\n{}",
            main.ok(&["sync", "problems"]),
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(sync_holder(&main).contains(&format!("pid {}", main_daemon.child.id())));
    // The account's quota was never overrun: no searchOrders or getOrder was refused.
    let refused: Vec<Value> = request_log(&m)
        .into_iter()
        .filter(|r| r["status"] == 429)
        .collect();
    assert!(refused.is_empty(), "{refused:?}");
    for site in [&main, &reno] {
        let out = site.ok(&["check"]);
        assert!(out.contains("no problem found"), "{out}");
    }
}

/// `n` orders shipping to `region`, their ids numbered from `first`.
fn people_in(region: &str, first: usize, n: usize) -> Vec<Person> {
    (first..first + n)
        .map(|i| {
            let mut p = person(
                &format!("904-{i:07}-{i:07}"),
                &format!("Claimed Person {i}"),
            );
            p.region = region.into();
            p
        })
        .collect()
}

/// `clients` clients of the daemon on `socket` claiming batches of three at once, each until
/// none is left: every batch claimed.
async fn claim_all_at_once(
    socket: std::path::PathBuf,
    clients: usize,
) -> Vec<packline::domain::PickBatch> {
    use packline::service::{client::Client, ops};
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let socket = socket.clone();
            tokio::spawn(async move {
                let c = Client::connect(&socket).await.unwrap();
                let mut mine = Vec::new();
                while let Some(b) = c.call(ops::ClaimBatch { size: Some(3) }).await.unwrap() {
                    mine.push(b);
                }
                mine
            })
        })
        .collect();
    let mut batches = Vec::new();
    for t in tasks {
        batches.extend(t.await.unwrap());
    }
    batches
}

#[test]
fn twenty_claims_at_once_at_each_site_never_put_an_order_in_two_batches() {
    use std::collections::BTreeSet;
    let main = Site::on_postgres("[[routing]]\nsite = \"reno\"\nstates = [\"CA\"]\n");
    main.init_identity_keys();
    let reno = second_site(&main, "reno");
    reno.init_identity_keys();
    let reno_daemon = start_daemon(&reno);
    // One import at main routes half the orders to reno (its daemon published its key).
    let mut people = people_in("CA", 1, 60);
    people.extend(people_in("NY", 61, 60));
    let out = main.import(
        "orders.json",
        &page(&people, "UNSHIPPED", "2026-11-23T10:00:00Z"),
    );
    assert!(out.contains("imported 120 new"), "{out}");
    let main_daemon = start_daemon(&main);
    let at: Vec<(&Site, &Daemon, BTreeSet<String>)> =
        [(&main, &main_daemon), (&reno, &reno_daemon)]
            .into_iter()
            .map(|(site, daemon)| (site, daemon, site.order_ids().into_iter().collect()))
            .collect();
    assert_eq!((at[0].2.len(), at[1].2.len()), (60, 60));

    // Twenty clients at each site's daemon, all claiming at once at both sites.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let claimed = rt.block_on(async {
        let main = tokio::spawn(claim_all_at_once(at[0].1.socket.clone(), 20));
        let reno = tokio::spawn(claim_all_at_once(at[1].1.socket.clone(), 20));
        [main.await.unwrap(), reno.await.unwrap()]
    });
    let mut everywhere = BTreeSet::new();
    for ((site, _, orders), batches) in at.iter().zip(&claimed) {
        let mut here = BTreeSet::new();
        for b in batches {
            for o in &b.orders {
                let o = o.to_string();
                assert!(
                    orders.contains(&o),
                    "order {o} was claimed at a site that does not have it"
                );
                assert!(here.insert(o.clone()), "order {o} is in two batches");
                assert!(
                    everywhere.insert(o.clone()),
                    "order {o} claimed at two sites"
                );
            }
        }
        assert_eq!(&here, orders, "every order of the site is claimed once");
        let out = site.ok(&["check"]);
        assert!(out.contains("no problem found"), "{out}");
    }
    assert_eq!(everywhere.len(), 120);
}

/// Each order's state at `site`, by its `orders list`.
fn states(site: &Site) -> std::collections::BTreeMap<String, String> {
    let listed: Value = serde_json::from_str(&site.ok(&["orders", "list", "--json"])).unwrap();
    listed
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["order_id"].as_str().unwrap().to_owned(),
                o["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// `packline label buy --all-packed --no-print --json` at `site` (a wave, through its
/// daemon), running.
fn start_wave(site: &Site) -> std::process::Child {
    site.cmd()
        .env("PACKLINE_IDENTITY_FILE", &site.key)
        .args(["label", "buy", "--all-packed", "--no-print", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// What a wave left for a person, by its `--json` answer.
fn needs_person(wave: &str) -> Vec<Value> {
    let report: Value = serde_json::from_str(wave).unwrap_or_else(|e| panic!("{e}: {wave}"));
    report["needs_person"].as_array().unwrap().clone()
}

#[test]
fn a_daemon_killed_mid_wave_and_started_again_buys_each_package_once() {
    use std::time::{Duration, Instant};
    // Every purchase is answered 1.5 s after the marketplace made it: a kill while one is
    // logged lands before its answer reached the daemon.
    let m = marketplace_with(24, "10", &["--fault-delay-ms", "1500"]);
    let shipping = format!("[shipping]\napi = \"shipping-v2\"\n{SHIP_FROM}");
    let (_creds, [(main, main_daemon), (reno, reno_daemon)]) = synced_sites(&m, &shipping);

    // Every order is packed at its site, through its daemon.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let packed: Vec<std::collections::BTreeSet<String>> = [&main_daemon, &reno_daemon]
        .iter()
        .map(|d| {
            rt.block_on(async {
                let c = packline::service::client::Client::connect(&d.socket)
                    .await
                    .unwrap();
                let packed = crate::common::floor::pack_orders(&c, usize::MAX, 5).await;
                packed.iter().map(|o| o.to_string()).collect()
            })
        })
        .collect();
    assert!(packed[0].len() >= 3 && packed[1].len() >= 3, "{packed:?}");
    for _ in 0..packed[0].len() + packed[1].len() {
        http(&m, "POST", "/_training/faults/purchaseShipment/slow");
    }

    // A wave at each site; reno's daemon is killed as soon as one of its purchases is made.
    let main_wave = start_wave(&main);
    let mut reno_wave = start_wave(&reno);
    let bought_for = |orders: &std::collections::BTreeSet<String>| {
        request_log(&m)
            .into_iter()
            .filter(|r| {
                r["operation"] == "purchaseShipment"
                    && r["status"] == 200
                    && r["params"]["replay"] != "true"
                    && orders.contains(r["params"]["orderId"].as_str().unwrap_or_default())
            })
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while bought_for(&packed[1]) == 0 {
        assert!(
            Instant::now() < deadline && reno_wave.try_wait().unwrap().is_none(),
            "reno's wave ended, or bought nothing in 30 s"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let seen = Instant::now();
    let socket = reno_daemon.socket.clone();
    drop(reno_daemon);
    assert!(
        seen.elapsed() < Duration::from_millis(1000),
        "the kill came after the purchase's answer may have reached the daemon"
    );
    let cut = reno_wave.wait_with_output().unwrap();
    assert!(
        !cut.status.success(),
        "reno's wave finished though its daemon was killed: {}{}",
        String::from_utf8_lossy(&cut.stdout),
        stderr(&cut)
    );

    // Main's wave goes on; reno's daemon, started again once its lease ran out, finishes its
    // wave: the purchases cut short are settled under their keys, never bought again.
    let main_wave = main_wave.wait_with_output().unwrap();
    assert_ok(&main_wave, &["label", "buy"]);
    assert!(needs_person(&String::from_utf8_lossy(&main_wave.stdout)).is_empty());
    let _reno_daemon = restart_daemon_on(&reno, &socket);
    let mut runs = 0;
    loop {
        // Exit 3: orders left for a person (tried again, as a labeler would).
        let wave = reno.run_unlocked(&["label", "buy", "--all-packed", "--no-print", "--json"]);
        assert!(
            matches!(wave.status.code(), Some(0 | 3)),
            "{}",
            stderr(&wave)
        );
        runs += 1;
        let left = needs_person(&String::from_utf8_lossy(&wave.stdout));
        if left.is_empty() {
            break;
        }
        assert!(runs < 3, "{left:?}");
    }

    // Each package bought exactly once, at both sites, every order labelled at its site.
    let per = bought_per_order(&m);
    for (site, orders) in [&main, &reno].into_iter().zip(&packed) {
        for o in orders {
            assert_eq!(per.get(o), Some(&1), "order {o}: {per:?}");
        }
        assert_eq!(bought_for(orders), orders.len());
        let at = states(site);
        for o in orders {
            assert_eq!(at[o], "labelled", "order {o}");
        }
        let out = site.ok(&["check"]);
        assert!(out.contains("no problem found"), "{out}");
    }
    assert_eq!(per.len(), packed[0].len() + packed[1].len(), "{per:?}");
    // The purchase the kill cut short was sent again under its key and answered as made.
    let replayed = request_log(&m)
        .into_iter()
        .filter(|r| {
            r["operation"] == "purchaseShipment"
                && r["params"]["replay"] == "true"
                && packed[1].contains(r["params"]["orderId"].as_str().unwrap_or_default())
        })
        .count();
    assert!(
        replayed >= 1,
        "no purchase of reno's was settled under its key"
    );
}

/// The orders of the returns `site` keeps, sorted.
fn returned_orders(site: &Site) -> Vec<String> {
    site.listed(&["returns", "list", "--json"], "order")
}

#[test]
fn a_return_reported_to_the_leader_is_recorded_at_the_site_that_has_its_order() {
    let m = marketplace(24, "10");
    let (_creds, [(main, _main_daemon), (reno, _reno_daemon)]) = synced_sites(&m, "");
    let at = listed_sites(&main);
    let at_site = |site: &str| -> Vec<String> {
        at.iter()
            .filter(|(_, s)| *s == site)
            .map(|(o, _)| o.clone())
            .collect()
    };
    let (east, west, west2) = (
        at_site("main")[0].clone(),
        at_site("reno")[0].clone(),
        at_site("reno")[1].clone(),
    );
    // Both are shipped and come back: Amazon's returns report lists both.
    let rt = tokio::runtime::Runtime::new().unwrap();
    for o in [&east, &west] {
        rt.block_on(ship_at_amazon(&m, o));
    }

    // Main's daemon, which leads the sync, pulls the report: each return is recorded at the
    // site that has its order, checked against it there and audited there.
    let out = main.ok(&["returns", "sync", "--json"]);
    let counts: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (counts["listed"].as_u64(), counts["new"].as_u64()),
        (Some(2), Some(2)),
        "{out}"
    );
    assert!(counts["refused"].is_null(), "{out}");
    assert_eq!(returned_orders(&main), vec![east.clone()]);
    assert_eq!(returned_orders(&reno), vec![west.clone()]);
    let audited = |site: &Site| {
        site.ok(&[
            "audit",
            "export",
            "--since",
            "1970-01-01",
            "--action",
            "return_expected",
        ])
        .lines()
        .map(|l| {
            let e: Value = serde_json::from_str(l).unwrap();
            e["order"].as_str().unwrap_or_default().to_owned()
        })
        .collect::<Vec<_>>()
    };
    assert_eq!(audited(&main), vec![east.clone()]);
    assert_eq!(audited(&reno), vec![west.clone()]);

    // Another of reno's orders comes back while reno's intake key is 13 hours old (its
    // daemon, as if it had not run since): reno's returns are named as waiting, the new one
    // recorded nowhere; once reno's key is fresh again, the next pull records it at reno.
    rt.block_on(ship_at_amazon(&m, &west2));
    let meta = crate::common::stores::raw_backend(&main.data)
        .open_tree("site=reno:meta")
        .unwrap();
    let fresh = meta.get(b"published_key").unwrap().unwrap().to_vec();
    let mut stale: Value = serde_json::from_slice(&fresh).unwrap();
    stale["at"] = (chrono::Utc::now() - chrono::Duration::hours(13))
        .to_rfc3339()
        .into();
    meta.insert(b"published_key", serde_json::to_vec(&stale).unwrap())
        .unwrap();
    let out = main.ok(&["returns", "sync", "--json"]);
    let waiting: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (waiting["listed"].as_u64(), waiting["new"].as_u64()),
        (Some(3), Some(0)),
        "{out}"
    );
    // Every return of reno's orders in the report waits (the one recorded before too).
    let mut waits: Vec<String> = waiting["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let r = r.as_str().unwrap();
            assert!(
                r.contains(": its return waits for site reno: site reno last published"),
                "{r}"
            );
            let order = r.split(':').next().unwrap();
            order.strip_prefix("order ").unwrap().to_owned()
        })
        .collect();
    waits.sort();
    let mut both = vec![west.clone(), west2.clone()];
    both.sort();
    assert_eq!(waits, both, "{out}");
    assert_eq!(returned_orders(&main), vec![east.clone()]);
    assert_eq!(returned_orders(&reno), vec![west.clone()]);
    meta.insert(b"published_key", fresh).unwrap();
    let again: Value = serde_json::from_str(&main.ok(&["returns", "sync", "--json"])).unwrap();
    assert_eq!(
        (again["listed"].as_u64(), again["new"].as_u64()),
        (Some(3), Some(1))
    );
    assert!(again["refused"].is_null());
    assert_eq!(returned_orders(&reno), both);
    assert_eq!(returned_orders(&main), vec![east.clone()]);
    for site in [&main, &reno] {
        let out = site.ok(&["check"]);
        assert!(out.contains("no problem found"), "{out}");
    }
}
