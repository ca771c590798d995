//! What PostgreSQL under the store promises beyond the store's own tests (which run on both
//! engines): one daemon per site, taken over when it is gone; a database that holds no
//! recipient's values in the clear; passwords never shown.

use std::time::{Duration, Instant};

use crate::common::*;

/// `packline serve` on its own socket, to its end: its exit and what it said.
fn serve_once(site: &Site, socket: &std::path::Path) -> std::process::Output {
    let mut child = site
        .cmd()
        .env("PACKLINE_IDENTITY_FILE", &site.key)
        .args(["serve", "--socket", socket.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn a_site_has_one_daemon_and_another_takes_over_when_it_is_gone() {
    let site = Site::on_postgres("");
    site.init_identity_keys();
    let first = start_daemon(&site);

    // A second daemon for the same site, on another socket (as on another machine): refused,
    // naming the one that serves it, and nothing bound.
    let other = site.dir.path().join("other.sock");
    let out = serve_once(&site, &other);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("site main already has a live daemon (")
            && err.contains(&format!("pid {}", first.child.id())),
        "{err}"
    );
    assert!(!other.exists());

    // The first is killed (no chance to give the lease back): the next one starts once its
    // lease has run out, within the lease's 15 s.
    let killed = Instant::now();
    drop(first);
    let second = restart_daemon_on(&site, &other);
    assert!(
        killed.elapsed() >= Duration::from_secs(5),
        "taken over before the lease ran out"
    );

    // Stopped cleanly, it gives the lease back: the next starts at once.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(second.child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let mut second = second;
    let status = second.child.wait().unwrap();
    let err = std::fs::read_to_string(site.dir.path().join("serve.stderr")).unwrap_or_default();
    assert!(status.success(), "{status:?}: {err}");
    let third = start_daemon(&site);
    drop(third);
}

#[test]
fn the_database_holds_no_recipient_in_the_clear() {
    let site = Site::on_postgres("");
    site.init_identity_keys();
    let people = hostile_people();
    site.import(
        "p.json",
        &page(&people, "UNSHIPPED", "2026-11-23T10:00:00Z"),
    );
    // A reveal and a name search, as a lead makes them, leave nothing readable either.
    let id = people[0].order_id.clone();
    site.ok_unlocked(&reveal_args(&id, "carrier asked"));
    let cluster = crate::common::stores::cluster_always();
    let dump = cluster
        .dump(&crate::common::stores::database_name(&site.data))
        .unwrap();
    assert!(dump.contains("packline.kv"), "the dump holds the store");
    let hex = |v: &str| v.bytes().map(|b| format!("{b:02x}")).collect::<String>();
    assert!(dump.contains(&hex(&id)), "order ids are there, unsealed");
    // bytea is dumped as hex: each value is looked for as text and as hex.
    for p in &people {
        for v in p.values() {
            if v.len() >= 4 {
                assert!(
                    !dump.contains(v),
                    "the dump holds a recipient's value: {v:?}"
                );
                assert!(
                    !dump.contains(&hex(v)),
                    "the dump holds a recipient's value: {v:?}"
                );
            }
        }
    }
}

#[test]
fn a_wrong_password_is_never_shown() {
    let site = Site::with_store_config(
        "[store]\nbackend = \"postgres\"\nurl = \"postgresql://packline:hunter2secret@127.0.0.1:1/packline?connect_timeout=2\"\n",
    );
    let out = site.run(&[
        "keys",
        "init",
        "--identity-file",
        site.key.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("postgresql://packline:***@127.0.0.1:1/packline"),
        "{err}"
    );
    assert!(!err.contains("hunter2secret"), "{err}");
    let log = std::fs::read_to_string(&site.log).unwrap_or_default();
    assert!(!log.contains("hunter2secret"), "{log}");
}

#[test]
fn a_sled_store_moves_into_postgres_and_carries_on_there() {
    let site = Site::with_store_config("");
    site.init_identity_keys();
    let people = people(3);
    site.import(
        "p.json",
        &page(&people, "UNSHIPPED", "2026-11-23T10:00:00Z"),
    );
    let listed = site.ok(&["orders", "list"]);
    let cluster = crate::common::stores::cluster_always();
    let db = format!("migrate_{}", std::process::id());
    cluster.create_database(&db).unwrap();
    let url = cluster.url(&db);

    // Not while a daemon serves the site.
    let daemon = start_daemon(&site);
    let out = site.run(&["store", "migrate", "--to", &url]);
    assert!(!out.status.success(), "migrated under a running daemon");
    drop(daemon);

    let said = site.ok(&["store", "migrate", "--to", &url]);
    assert!(said.starts_with("moved "), "{said}");
    assert!(
        said.contains("checked on both ends: 3 order(s), 3 sealed recipient(s)"),
        "{said}"
    );
    // A second move into the same database is refused: it holds a store now.
    let out = site.run(&["store", "migrate", "--to", &url]);
    assert_fails(&out, "already holds packline's records");

    // The site's config pointed at the database: the same orders, the same keys.
    let config = std::fs::read_to_string(&site.config).unwrap();
    std::fs::write(
        &site.config,
        format!("{config}\n[store]\nbackend = \"postgres\"\nurl = {url:?}\n"),
    )
    .unwrap();
    assert_eq!(site.ok(&["orders", "list"]), listed);
    let shown = site.ok_unlocked(&reveal_args(&people[0].order_id, "carrier asked"));
    assert!(shown.contains(&people[0].name));
    let check = site.ok(&["check"]);
    assert!(
        check.contains("no problem") || check.contains("0 problem"),
        "{check}"
    );
    let audit = cluster
        .psql(&db, "SELECT count(*) FROM packline.kv WHERE tree = 'audit'")
        .unwrap();
    assert!(audit.trim().parse::<u32>().unwrap() >= 3, "{audit}");
}

fn people(n: usize) -> Vec<Person> {
    (0..n)
        .map(|i| {
            person(
                &format!("903-0000000-00000{i:02}"),
                &format!("Migrated Person {i}"),
            )
        })
        .collect()
}

#[test]
fn one_daemon_syncs_the_account_and_another_takes_over_when_it_dies() {
    let m = marketplace(30, "1");
    let (_creds, amazon) = amazon_config(&m);
    let main = Site::on_postgres(&amazon);
    main.init_identity_keys();
    let reno = second_site(&main, "reno", &amazon);

    let first = start_daemon(&main);
    let wait_for = |what: &str, f: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(40);
        while !f() {
            assert!(Instant::now() < deadline, "{what}");
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    wait_for("the first daemon syncs", &|| {
        count_requests(&m, "searchOrders") > 0
    });
    let second = start_daemon(&reno);
    // The second does not sync while the first leads: it says so, and asks Amazon nothing.
    wait_for("the second sees another lead", &|| {
        std::fs::read_to_string(&reno.log).is_ok_and(|l| l.contains("another daemon syncs"))
    });
    let synced = count_requests(&m, "searchOrders");
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(
        count_requests(&m, "searchOrders"),
        synced,
        "two daemons synced"
    );

    // The leader dies: the other takes the account over once its lease runs out, and syncs.
    drop(first);
    wait_for("the second takes over and syncs", &|| {
        count_requests(&m, "searchOrders") > synced
    });
    let log = std::fs::read_to_string(&reno.log).unwrap();
    assert!(
        log.contains("this daemon syncs the Amazon account now"),
        "{log}"
    );
    // Amazon's quota was never refused.
    let refused = request_log(&m)
        .iter()
        .filter(|r| r["operation"] == "searchOrders" && r["status"] == 429)
        .count();
    assert_eq!(refused, 0);
    drop(second);
}

/// A second site's daemon on the database of `first` (another machine, with the store's
/// keyring and master key).
/// Another site on `first`'s database, with its own keys.
fn second_site(first: &Site, name: &str, extra: &str) -> Site {
    let store = crate::common::stores::postgres_config(&first.data);
    let site = Site::with_store_config(&format!("{extra}{store}[site]\nname = {name:?}\n"));
    site.init_identity_keys();
    site
}

#[tokio::test(flavor = "multi_thread")]
async fn a_change_at_one_daemon_reaches_the_screens_of_another_within_a_second() {
    use packline::service::client::Client;
    use packline::service::{Notice, ops};
    let main = Site::on_postgres("");
    main.init_identity_keys();
    main.import(
        "p.json",
        &page(&people(4), "UNSHIPPED", "2026-11-23T10:00:00Z"),
    );
    let reno = second_site(&main, "reno", "");
    let (a, b) = (start_daemon(&main), start_daemon(&reno));
    let here = Client::connect(&a.socket).await.unwrap();
    let there = Client::connect(&b.socket).await.unwrap();
    // Nothing is announced while nothing changes.
    let quiet = tokio::time::timeout(Duration::from_millis(1500), async {
        loop {
            match there.notice().await {
                Some(Notice::FloorChanged) => return "a change",
                None => return "the connection's end",
                Some(_) => {}
            }
        }
    })
    .await;
    assert!(
        quiet.is_err(),
        "the floor said it changed when nothing did: {quiet:?}"
    );

    let claimed = Instant::now();
    let batch = here.call(ops::ClaimBatch { size: Some(2) }).await.unwrap();
    let batch = batch.expect("a batch was claimed");
    let heard = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match there.notice().await {
                Some(Notice::FloorChanged) => return claimed.elapsed(),
                Some(_) => continue,
                None => panic!("the other daemon's connection closed"),
            }
        }
    })
    .await
    .expect("the other daemon's client heard of the claim");
    // How soon is a figure, not a promise a test can time (the floor is a second):
    // `cargo test --test postgres -- --nocapture` prints it.
    eprintln!("the other daemon's client heard of the claim after {heard:?}");
    // What a lead there reads then is the change: main's claimed orders, on the floor.
    let page = there
        .call(ops::ListOrders {
            state: None,
            after: None,
            limit: 100,
            site: Some("main".into()),
        })
        .await
        .unwrap();
    assert_eq!(page.rows.len(), 4);
    for r in &page.rows {
        let claimed = batch.orders.contains(&r.order.id);
        assert_eq!(
            r.state != packline::domain::OrderState::New,
            claimed,
            "{r:?}"
        );
    }
    drop((a, b));
}

/// TLS through rustls: a server whose certificate no public authority signed is refused
/// until `[store] ca_file` names its authority; then the site works over TLS (the server
/// takes TCP over TLS alone).
#[test]
fn a_store_over_tls_checks_the_servers_certificate() {
    let cluster = packline::store::backend::postgres::cluster::Cluster::start_tls()
        .unwrap_or_else(|e| panic!("{e}"));
    cluster.create_database("tls").unwrap();
    let port = cluster.tls_port().unwrap();
    let url = format!("postgresql://postgres@127.0.0.1:{port}/tls?sslmode=require");

    let unknown = Site::with_store_config(&format!("[store]\nurl = {url:?}\n"));
    let out = unknown.run(&[
        "keys",
        "init",
        "--identity-file",
        unknown.key.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.to_lowercase().contains("certificate"), "{err}");

    let site = Site::with_store_config(&format!(
        "[store]\nurl = {url:?}\nca_file = {:?}\n",
        cluster.ca_file().display().to_string()
    ));
    site.init_identity_keys();
    let people = hostile_people();
    let out = site.import(
        "p.json",
        &page(&people[..2], "UNSHIPPED", "2026-11-23T10:00:00Z"),
    );
    assert!(out.contains("imported 2 new"), "{out}");
    let out = site.ok(&["check"]);
    assert!(out.contains("no problem found"), "{out}");
    // What went over the wire was encrypted: the server saw only TLS connections of packline.
    let plain = cluster
        .psql(
            "postgres",
            "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) \
             WHERE NOT ssl AND client_addr IS NOT NULL",
        )
        .unwrap();
    assert_eq!(plain.trim(), "0");
}
