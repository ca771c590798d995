//! What PostgreSQL under the store promises beyond the store's own tests (which run on both
//! engines): one daemon per site, taken over when it is gone; a database that holds no
//! recipient's values in the clear; passwords never shown.

mod common;

use std::time::{Duration, Instant};

use common::*;

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
    let second = loop {
        let mut child = site
            .cmd()
            .env("PACKLINE_IDENTITY_FILE", &site.key)
            .args(["serve", "--socket", other.to_str().unwrap()])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        std::io::BufRead::read_line(&mut out, &mut line).unwrap();
        if line.trim() == format!("serving on {}", other.display()) {
            break Daemon {
                child,
                socket: other.clone(),
            };
        }
        let err = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&err.stderr).into_owned();
        assert!(err.contains("already has a live daemon"), "{err}");
        assert!(
            killed.elapsed() < Duration::from_secs(30),
            "the lease was never taken over: {err}"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
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
    let mut err = String::new();
    if let Some(mut e) = second.child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut err);
    }
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
    let cluster = common::stores::cluster_always();
    let dump = cluster
        .dump(&common::stores::database_name(&site.data))
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
    let cluster = common::stores::cluster_always();
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
