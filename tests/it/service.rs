//! The service over its real Unix socket: concurrent claims, release on disconnect, bad frames,
//! role enforcement for other OS users (through `setpriv`, where root is available), and clean
//! shutdown of the real `packline serve`.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::*;
use chrono::Utc;
use packline::domain::{OrderId, OrderState};
use packline::service::client::Client;
use packline::service::server::PROTOCOL;
use packline::service::{Service, ServiceError, Settings, ops};
use packline::store::Store;

fn people(n: usize) -> Vec<Person> {
    (0..n)
        .map(|i| person(&format!("903-{:07}-0000001", i + 1), &format!("Name {i}")))
        .collect()
}

/// A store with `n` New orders, keys made with an identity file.
fn store_with(dir: &Path, n: usize) -> Store {
    let mut store = unlocked_store(dir);
    let ps = people(n);
    let refs: Vec<&Person> = ps.iter().collect();
    imp(
        &mut store,
        &refs,
        "UNSHIPPED",
        "2026-11-23T10:00:00Z",
        Utc::now(),
    );
    store
}

fn settings(claim_timeout: Duration) -> Settings {
    let mut s = settings_of(&whoami());
    s.claim_timeout = claim_timeout;
    s
}

struct Served {
    service: Arc<Service>,
    socket: PathBuf,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn serve(dir: &Path, n: usize, claim_timeout: Duration) -> Served {
    serve_with(dir, n, settings(claim_timeout)).await
}

async fn serve_with(dir: &Path, n: usize, settings: Settings) -> Served {
    let service = Service::new(store_with(dir, n), settings);
    let socket = dir.join("packline.sock");
    let listener = packline::service::server::bind(&socket, None).unwrap();
    let (stop, rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(packline::service::server::serve(
        service.clone(),
        listener,
        socket.clone(),
        rx,
    ));
    Served {
        service,
        socket,
        stop,
        task,
    }
}

async fn queue_count(c: &mut Client, state: OrderState) -> usize {
    c.call(ops::Queue {
        state: Some(state),
        search: None,
        offset: 0,
        limit: 500,
        exact_counts: false,
    })
    .await
    .unwrap()
    .rows
    .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_clients_claiming_at_once_never_get_the_same_order() {
    let dir = tempfile::tempdir().unwrap();
    let s = serve(dir.path(), 50, Duration::from_secs(300)).await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let socket = s.socket.clone();
        tasks.push(tokio::spawn(async move {
            let c = Client::connect(&socket).await.unwrap();
            let batch = c.call(ops::ClaimBatch { size: Some(3) }).await.unwrap();
            batch.map(|b| b.orders).unwrap_or_default()
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let distinct: HashSet<&OrderId> = all.iter().collect();
    assert_eq!(all.len(), 50, "20 claims of 3 take all 50 orders");
    assert_eq!(distinct.len(), 50, "an order was claimed twice");
    let mut c = Client::connect(&s.socket).await.unwrap();
    assert_eq!(queue_count(&mut c, OrderState::Picking).await, 50);
    assert_eq!(queue_count(&mut c, OrderState::New).await, 0);
    s.stop.send(true).unwrap();
    s.task.await.unwrap().unwrap();
    assert!(!s.socket.exists(), "the socket file is removed at shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disconnected_clients_batch_goes_back_after_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let s = serve(dir.path(), 5, Duration::from_millis(300)).await;
    let mut watcher = Client::connect(&s.socket).await.unwrap();
    {
        let picker = Client::connect(&s.socket).await.unwrap();
        let Some(b) = picker
            .call(ops::ClaimBatch { size: Some(2) })
            .await
            .unwrap()
        else {
            panic!("no batch")
        };
        assert_eq!(b.orders.len(), 2);
    }
    // Same OS user: while the watcher is connected, the user has not left.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(queue_count(&mut watcher, OrderState::Picking).await, 2);
    drop(watcher);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let picking = s
            .service
            .with_store(|st| st.list(Some(OrderState::Picking)).count());
        if picking == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "claims were not released");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let new = s
        .service
        .with_store(|st| st.list(Some(OrderState::New)).count());
    assert_eq!(new, 5);
    assert!(s.service.with_store(|st| st.batches().unwrap().is_empty()));
}

/// Reads one reply frame from a raw socket.
/// The next reply on a raw connection; notices the service pushes meanwhile (counts, sync
/// status) are passed over, as a client does.
fn read_reply(stream: &mut std::os::unix::net::UnixStream) -> serde_json::Value {
    loop {
        let mut len = [0u8; 4];
        stream.read_exact(&mut len).unwrap();
        let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
        stream.read_exact(&mut body).unwrap();
        let frame: serde_json::Value = serde_json::from_slice(&body).unwrap();
        if frame.get("notice").is_none() {
            return frame;
        }
    }
}

fn closed(stream: &mut std::os::unix::net::UnixStream) -> bool {
    let mut b = [0u8; 1];
    matches!(stream.read(&mut b), Ok(0) | Err(_))
}

/// A client of another build (another protocol, or one from before protocol versions) is told
/// so, naming both versions, instead of failing on a frame neither side can read; the daemon
/// serves everyone else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_of_another_protocol_is_told_to_run_the_same_packline() {
    let dir = tempfile::tempdir().unwrap();
    let s = serve(dir.path(), 3, Duration::from_secs(300)).await;
    let mut good = Client::connect(&s.socket).await.unwrap();
    let socket = s.socket.clone();
    let replies = tokio::task::spawn_blocking(move || {
        let bodies = [
            // From before protocol versions, asking for something this daemon has.
            r#"{"id":1,"request":{"op":"queue","offset":0,"limit":5}}"#.to_owned(),
            // A later one, asking for something this daemon has never heard of.
            format!(
                r#"{{"id":1,"protocol":{},"version":"9.9.9","request":{{"op":"teleport"}}}}"#,
                PROTOCOL + 1
            ),
        ];
        bodies
            .iter()
            .map(|body| {
                let mut c = std::os::unix::net::UnixStream::connect(&socket).unwrap();
                c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                c.write_all(&(body.len() as u32).to_be_bytes()).unwrap();
                c.write_all(body.as_bytes()).unwrap();
                (read_reply(&mut c), closed(&mut c))
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    let daemon = env!("CARGO_PKG_VERSION");
    let wanted = [
        format!(
            "this client is an older packline, the daemon packline {daemon} (protocol {PROTOCOL}): run the same packline on both sides (after an upgrade, restart the daemon)"
        ),
        format!(
            "this client is packline 9.9.9 (protocol {}), the daemon packline {daemon} (protocol {PROTOCOL}): run the same packline on both sides (after an upgrade, restart the daemon)",
            PROTOCOL + 1
        ),
    ];
    for ((reply, closed), wanted) in replies.iter().zip(wanted) {
        assert_eq!(
            reply["reply"]["result"]["Err"]["error"], "protocol",
            "{reply}"
        );
        assert_eq!(reply["reply"]["result"]["Err"]["detail"], wanted.as_str());
        assert!(closed, "the other client is disconnected");
    }
    assert_eq!(queue_count(&mut good, OrderState::New).await, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_close_that_connection_only() {
    let dir = tempfile::tempdir().unwrap();
    let s = serve(dir.path(), 3, Duration::from_secs(300)).await;
    let mut good = Client::connect(&s.socket).await.unwrap();
    let socket = s.socket.clone();
    let (oversized, malformed) = tokio::task::spawn_blocking(move || {
        let mut a = std::os::unix::net::UnixStream::connect(&socket).unwrap();
        a.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        a.write_all(&(8u32 << 20).to_be_bytes()).unwrap();
        let _ = a.write_all(&[b'x'; 1024]);
        let oversized = (read_reply(&mut a), closed(&mut a));
        let mut b = std::os::unix::net::UnixStream::connect(&socket).unwrap();
        b.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let body = format!(
            r#"{{"id": 1, "protocol": {PROTOCOL}, "request": {{"op": "launch_missiles"}}}}"#
        );
        b.write_all(&(body.len() as u32).to_be_bytes()).unwrap();
        b.write_all(body.as_bytes()).unwrap();
        let malformed = (read_reply(&mut b), closed(&mut b));
        (oversized, malformed)
    })
    .await
    .unwrap();
    let detail = |r: &serde_json::Value| r["reply"]["result"]["Err"]["detail"].clone();
    assert!(
        detail(&malformed.0)
            .as_str()
            .unwrap_or_default()
            .starts_with("malformed request at line 1"),
        "{}",
        malformed.0
    );
    assert_eq!(oversized.0["reply"]["result"]["Err"]["error"], "protocol");
    assert!(
        oversized.0["reply"]["result"]["Err"]["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("bad frame"),
        "{}",
        oversized.0
    );
    assert!(oversized.1, "the oversized sender is disconnected");
    assert_eq!(malformed.0["reply"]["result"]["Err"]["error"], "protocol");
    assert!(malformed.1, "the malformed sender is disconnected");
    assert_eq!(queue_count(&mut good, OrderState::New).await, 3);
}

async fn pick_scan(
    c: &mut Client,
    batch: u64,
    code: &str,
) -> Result<ops::PickScanned, ServiceError> {
    c.call(ops::PickScan {
        batch,
        code: code.into(),
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pick_and_pack_through_the_service_refuse_wrong_scans() {
    let dir = tempfile::tempdir().unwrap();
    let s = serve(dir.path(), 1, Duration::from_secs(300)).await;
    let mut c = Client::connect(&s.socket).await.unwrap();
    let Some(b) = c.call(ops::ClaimBatch { size: None }).await.unwrap() else {
        panic!("no batch")
    };
    let wrong = pick_scan(&mut c, b.id, "NOT-A-SKU").await;
    assert!(
        matches!(wrong, Err(ServiceError::WrongScan { .. })),
        "{wrong:?}"
    );
    for _ in 0..2 {
        pick_scan(&mut c, b.id, "SKU-HOSTILE").await.unwrap();
    }
    let extra = pick_scan(&mut c, b.id, "SKU-HOSTILE").await;
    assert!(
        matches!(extra, Err(ServiceError::WrongScan { .. })),
        "{extra:?}"
    );
    c.call(ops::FinishPick { batch: b.id }).await.unwrap();
    let order = b.orders[0].to_string();
    c.call(ops::PackStart {
        order: order.clone(),
    })
    .await
    .unwrap();
    let early = c
        .call(ops::PackFinish {
            order: order.clone(),
            box_name: "S 20x15x10".into(),
            weight_g: 900,
            partial: None,
            label: false,
        })
        .await;
    assert!(matches!(early, Err(ServiceError::Conflict(_))), "{early:?}");
    for _ in 0..2 {
        c.call(ops::PackScan {
            order: order.clone(),
            code: "b0hostile1".into(),
            unit_codes: Vec::new(),
        })
        .await
        .unwrap();
    }
    let rec = c
        .call(ops::PackFinish {
            order: order.clone(),
            box_name: "S 20x15x10".into(),
            weight_g: 900,
            partial: None,
            label: false,
        })
        .await
        .unwrap();
    assert_eq!(rec.state, OrderState::Packed);
    let packages = s
        .service
        .with_store(|st| st.packages(&rec.order.id).unwrap());
    assert_eq!(packages.len(), 1, "one box");
    let parcel = &packages[0].parcel;
    assert_eq!(
        (parcel.box_name.as_str(), parcel.weight_g),
        ("S 20x15x10", 900)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancellation_pulls_the_order_from_its_batch_with_a_notice() {
    let dir = tempfile::tempdir().unwrap();
    let s = serve(dir.path(), 2, Duration::from_secs(300)).await;
    let c = Client::connect(&s.socket).await.unwrap();
    let Some(b) = c.call(ops::ClaimBatch { size: None }).await.unwrap() else {
        panic!("no batch")
    };
    let gone = people(2).remove(0);
    let gone_id = gone.order_id.clone();
    let page = page(&[gone], "CANCELLED", "2026-11-24T10:00:00Z");
    let body = serde_json::to_vec(&page).unwrap();
    let orders = packline::amazon::parse_search_orders(&body, "p")
        .unwrap()
        .orders;
    let svc = s.service.clone();
    tokio::task::spawn_blocking(move || {
        svc.with_store_mut(|st| st.import(orders, "sync", Utc::now()))
            .unwrap()
    })
    .await
    .unwrap();
    let notice = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match c.notice().await.unwrap() {
                packline::service::Notice::Counts(_) | packline::service::Notice::FloorChanged => {
                    continue;
                }
                n => return n,
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(
        notice,
        packline::service::Notice::OrderPulled {
            order: OrderId::parse(&gone_id).unwrap(),
            batch: b.id,
            holder: b.holder.clone(),
            state: OrderState::Cancelled,
            slot: b.slot_of(&OrderId::parse(&gone_id).unwrap()),
        }
    );
    assert!(b.slot_of(&OrderId::parse(&gone_id).unwrap()).is_some());
    let left = s.service.with_store(|st| st.batch(b.id).unwrap().unwrap());
    assert_eq!(left.orders.len(), 1);
    assert!(!left.orders.contains(&OrderId::parse(&gone_id).unwrap()));
}

// --- the real daemon, with other OS users ---------------------------------------------------

/// The site's daemon, with the site's folder, config and socket folder open to other OS users
/// (the data directory stays the daemon's own).
fn start_daemon_for_others(site: &Site) -> Daemon {
    for p in [site.dir.path(), site.config.as_path()] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let daemon = start_daemon(site);
    std::fs::set_permissions(
        daemon.socket.parent().unwrap(),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    daemon
}

/// Runs the packline binary as another OS user (needs root and setpriv).
fn as_user(site: &Site, uid: u32, gid: u32, args: &[&str]) -> std::process::Output {
    let mut c = Command::new("setpriv");
    c.args([
        &format!("--reuid={uid}"),
        &format!("--regid={gid}"),
        "--clear-groups",
        "--",
        env!("CARGO_BIN_EXE_packline"),
    ])
    .args(args)
    .env_clear()
    .env("PATH", std::env::var_os("PATH").unwrap_or_default())
    .env("HOME", "/tmp")
    .env("PACKLINE_CONFIG", &site.config)
    .env("PACKLINE_DATA_DIR", &site.data);
    c.output().unwrap()
}

/// Why an unprivileged user cannot reach the test binary, if they cannot.
fn binary_unreachable() -> Option<String> {
    let bin = Path::new(env!("CARGO_BIN_EXE_packline"));
    for dir in bin.ancestors().skip(1) {
        if let Ok(m) = std::fs::metadata(dir)
            && m.permissions().mode() & 0o001 == 0
        {
            return Some(format!(
                "{} is not searchable by other users",
                dir.display()
            ));
        }
    }
    None
}

#[test]
fn the_daemon_enforces_roles_for_each_os_user() {
    if !have(&[Tool::Setpriv]) {
        return;
    }
    if let Some(why) = binary_unreachable() {
        panic!("{why}: other OS users must be able to run the test binary");
    }
    let me = nix::unistd::User::from_uid(nix::unistd::getuid())
        .unwrap()
        .unwrap()
        .name;
    let nogroup = nix::unistd::Group::from_name("nogroup")
        .unwrap()
        .map_or(65534, |g| g.gid.as_raw());
    let site = Site::new(&format!(
        "[roles]\nleads = [{me:?}]\npackers = [\"nobody\"]\n[service]\nsocket_group = \"nogroup\"\n"
    ));
    site.init_identity_keys();
    let ps = people(2);
    site.import("p.json", &page(&ps, "UNSHIPPED", "2026-11-23T10:00:00Z"));
    let daemon = start_daemon_for_others(&site);
    let sock_cfg = format!(
        "{}[roles]\nleads = [{me:?}]\npackers = [\"nobody\"]\n[service]\nsocket = {:?}\nsocket_group = \"nogroup\"\n[log]\nfile = \"/tmp/packline-test-nobody.log\"\n",
        store_config(&site.data),
        daemon.socket.display().to_string()
    );
    std::fs::write(&site.config, sock_cfg).unwrap();
    let id = ps[0].order_id.as_str();

    // A packer: may list, may not reveal.
    let out = as_user(&site, 65534, nogroup, &["orders", "list"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains(id));
    let out = as_user(&site, 65534, nogroup, &reveal_args(id, "curious"));
    assert_fails(
        &out,
        "revealing a recipient is for a lead or above; nobody is a packer",
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains(&ps[0].name));

    // A user the config does not know: refused, and the refusal is audited.
    let out = as_user(&site, 65533, nogroup, &["orders", "list"]);
    assert_fails(&out, "user uid:65533 has no role in packline");

    // The lead reveals through the daemon, with the reason audited.
    let out = site.run(&reveal_args(id, "carrier asked"));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&ps[0].name));

    // SIGTERM: a clean exit, the socket removed.
    let mut daemon = daemon;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(daemon.child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = daemon.child.wait().unwrap();
    assert!(status.success(), "daemon exit: {status:?}");
    assert!(!daemon.socket.exists());
    // It checkpointed the store on the way out, so the next start replays nothing.
    let log = std::fs::read_to_string(&site.log).unwrap();
    assert!(log.contains("checkpoint at shutdown"), "{log}");

    let store = open_store(&site.data).unwrap();
    drop(store);
    let entries = audit_entries(&site.data);
    let refused = entries
        .iter()
        .find(|e| e["action"] == "refused:connect")
        .expect("the refusal is audited");
    assert_eq!(refused["user"], "uid:65533");
    let reveal = entries
        .iter()
        .find(|e| e["action"] == "reveal")
        .expect("the reveal is audited");
    assert!(
        reveal["reason"]
            .as_str()
            .unwrap()
            .starts_with("sealed note reveal/"),
        "{reveal}"
    );
    assert_eq!(reveal["user"], me.as_str());
}

/// A daemon whose config lists nobody under `[roles]` (`roles` is that part of the config):
/// its own OS user is the site's lead, and another member of the socket group is refused, with
/// the refusal audited, rather than given the lead's powers.
fn only_the_daemons_user_leads(roles: &str) {
    if !have(&[Tool::Setpriv]) {
        return;
    }
    if let Some(why) = binary_unreachable() {
        panic!("{why}: other OS users must be able to run the test binary");
    }
    let nogroup = nix::unistd::Group::from_name("nogroup")
        .unwrap()
        .map_or(65534, |g| g.gid.as_raw());
    let site = Site::new(&format!("{roles}\n[service]\nsocket_group = \"nogroup\"\n"));
    site.init_identity_keys();
    let ps = people(1);
    site.import("p.json", &page(&ps, "UNSHIPPED", "2026-11-23T10:00:00Z"));
    let daemon = start_daemon_for_others(&site);
    std::fs::write(
        &site.config,
        format!(
            "{roles}\n[service]\nsocket = {:?}\nsocket_group = \"nogroup\"\n[log]\nfile = \"/tmp/packline-test-nobody.log\"\n",
            daemon.socket.display().to_string()
        ),
    )
    .unwrap();
    let id = ps[0].order_id.as_str();

    // Another member of the socket group: no role, so no reveal and no listing either.
    let out = as_user(&site, 65534, nogroup, &reveal_args(id, "curious"));
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains(&ps[0].name),
        "an unlisted user revealed a recipient"
    );
    assert_fails(&out, "user nobody has no role in packline");
    let out = as_user(&site, 65534, nogroup, &["orders", "list"]);
    assert_fails(&out, "user nobody has no role in packline");

    // The daemon's own user is the site's lead.
    let out = site.run(&reveal_args(id, "carrier asked"));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&ps[0].name));

    drop(daemon);
    let entries = audit_entries(&site.data);
    let refused: Vec<_> = entries
        .iter()
        .filter(|e| e["action"] == "refused:connect")
        .collect();
    assert_eq!(
        refused.len(),
        1,
        "the first refusal is audited: {refused:?}"
    );
    assert_eq!(refused[0]["user"], "nobody");
    assert!(
        !entries
            .iter()
            .any(|e| e["action"] == "reveal" && e["user"] == "nobody"),
        "nobody revealed"
    );
}

#[test]
fn an_empty_roles_table_makes_only_the_daemons_user_a_lead() {
    only_the_daemons_user_leads("[roles]\nleads = []\n");
}

#[test]
fn no_roles_table_makes_only_the_daemons_user_a_lead() {
    only_the_daemons_user_leads("");
}

/// A flood of connections from a user with no role: each is refused, but the audit log (every
/// entry flushed to disk) gets one entry for them per interval, so the flood cannot grow the
/// store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_refused_connections_is_audited_once_per_interval() {
    const N: usize = 2_000;
    let dir = tempfile::tempdir().unwrap();
    let mut settings = settings(Duration::from_secs(300));
    // The test's own user is not on the list.
    settings.roles = packline::config::RolesConfig {
        leads: vec!["somebody-else".into()],
        ..Default::default()
    };
    let s = serve_with(dir.path(), 1, settings).await;
    let entries = || s.service.with_store(|st| st.verify_audit().unwrap());
    let before = entries();
    for _ in 0..N {
        let mut c = std::os::unix::net::UnixStream::connect(&s.socket).unwrap();
        let mut reply = Vec::new();
        c.read_to_end(&mut reply).unwrap();
        assert!(
            find(&reply, b"has no role").is_some() || find(&reply, b"no_role").is_some(),
            "{}",
            String::from_utf8_lossy(&reply)
        );
    }
    assert_eq!(
        entries() - before,
        1,
        "{N} refused connections within a minute are one audit entry"
    );
    s.stop.send(true).unwrap();
    s.task.await.unwrap().unwrap();
}

/// After the interval, the next refusal is audited again, with how many went unaudited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_audited_refusal_counts_those_not_audited() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = settings(Duration::from_secs(300));
    settings.roles = packline::config::RolesConfig {
        leads: vec!["somebody-else".into()],
        ..Default::default()
    };
    settings.refusal_audit_interval = Duration::from_secs(2);
    let s = serve_with(dir.path(), 1, settings).await;
    let refuse = || {
        let mut c = std::os::unix::net::UnixStream::connect(&s.socket).unwrap();
        let mut reply = Vec::new();
        c.read_to_end(&mut reply).unwrap();
        assert!(find(&reply, b"no_role").is_some());
    };
    let started = Instant::now();
    for _ in 0..10 {
        refuse();
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "10 connections took {:?}",
        started.elapsed()
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    refuse();
    s.stop.send(true).unwrap();
    s.task.await.unwrap().unwrap();
    drop(s.service.into_store_within(Duration::from_secs(5)).ok());
    let me = whoami();
    let refused: Vec<_> = audit_entries(&dir.path().join("data"))
        .into_iter()
        .filter(|e| e["action"] == "refused:connect")
        .collect();
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert!(refused.iter().all(|e| e["user"] == me.as_str()));
    assert_eq!(refused[0]["reason"], "no role in the config");
    let second = refused[1]["reason"].as_str().unwrap();
    assert!(
        second.starts_with("no role in the config (9 more refused since the last entry"),
        "{second}"
    );
}

#[test]
fn the_cli_goes_through_a_running_daemon() {
    let socket_dir = tempfile::tempdir().unwrap();
    let socket = socket_dir.path().join("run/packline.sock");
    let site = Site::new(&format!(
        "[service]\nsocket = {:?}\n",
        socket.display().to_string()
    ));
    site.init_identity_keys();
    let ps = people(3);
    site.import(
        "p1.json",
        &page(&ps[..1], "UNSHIPPED", "2026-11-23T10:00:00Z"),
    );
    let daemon = start_daemon_on(&site, &socket);
    // The store belongs to the daemon; every command below goes through it.
    let p2 = site.write_page(
        "p2.json",
        &page(&ps[1..], "UNSHIPPED", "2026-11-23T10:00:00Z"),
    );
    let out = site.ok(&["import", p2.to_str().unwrap()]);
    assert_eq!(out.lines().next(), Some("imported 2 new, 0 updated"));
    let out = site.ok(&["lookup", "--order", &ps[2].order_id]);
    assert!(out.contains(&format!("order: {}", ps[2].order_id)), "{out}");
    let out = site.ok(&["lookup", "--name", &ps[1].name]);
    assert_eq!(out.trim(), ps[1].order_id);
    let out = site.ok(&["orders", "list", "--state", "new"]);
    assert_eq!(out.lines().count(), 4, "{out}");
    let out = site.ok(&["audit", "verify"]);
    assert!(out.starts_with("audit log intact:"), "{out}");
    drop(daemon);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_at_one_bench_is_not_packed_at_another() {
    let dir = tempfile::tempdir().unwrap();
    let s = serve(dir.path(), 1, Duration::from_secs(300)).await;
    let ann = packline::service::Caller {
        user: "ann".into(),
        role: packline::domain::Role::Packer,
    };
    let bob = packline::service::Caller {
        user: "bob".into(),
        role: packline::domain::Role::Packer,
    };
    let svc = s.service.clone();
    tokio::task::spawn_blocking(move || {
        let Ok(Some(b)) = svc.run(&ann, ops::ClaimBatch { size: None }) else {
            panic!("no batch")
        };
        for _ in 0..2 {
            svc.run(
                &ann,
                ops::PickScan {
                    batch: b.id,
                    code: "SKU-HOSTILE".into(),
                },
            )
            .unwrap();
        }
        svc.run(&ann, ops::FinishPick { batch: b.id }).unwrap();
        let order = b.orders[0].to_string();
        svc.run(
            &ann,
            ops::PackStart {
                order: order.clone(),
            },
        )
        .unwrap();
        for r in [
            svc.run(
                &bob,
                ops::PackStart {
                    order: order.clone(),
                },
            ),
            svc.run(
                &bob,
                ops::PackScan {
                    order: order.clone(),
                    code: "SKU-HOSTILE".into(),
                    unit_codes: Vec::new(),
                },
            ),
        ] {
            assert!(
                matches!(&r, Err(ServiceError::Conflict(m)) if m.contains("being packed by ann")),
                "{r:?}"
            );
        }
        svc.run(
            &ann,
            ops::PackScan {
                order,
                code: "SKU-HOSTILE".into(),
                unit_codes: Vec::new(),
            },
        )
        .unwrap();
    })
    .await
    .unwrap();
}

/// Listing pages by cursor: a store of more than 100,000 orders lists completely over the
/// socket (paging by offset stopped at 100,000).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_order_of_a_large_store_lists_over_the_socket() {
    const N: usize = 100_123;
    let dir = tempfile::tempdir().unwrap();
    let s = serve(dir.path(), N, Duration::from_secs(300)).await;
    let c = Client::connect(&s.socket).await.unwrap();
    let mut seen = HashSet::new();
    let mut after = None;
    let mut pages = 0;
    loop {
        let page = c
            .call(ops::ListOrders {
                state: None,
                after,
                limit: packline::service::MAX_PAGE,
                site: None,
            })
            .await
            .unwrap();
        pages += 1;
        for r in page.rows {
            assert!(seen.insert(r.order.id.clone()), "an order listed twice");
        }
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    assert_eq!(seen.len(), N, "every order, once");
    assert_eq!(pages, N.div_ceil(packline::service::MAX_PAGE as usize));
    // A cursor that packline never gave is refused by name, not misread.
    let bad = c
        .call(ops::ListOrders {
            state: None,
            after: Some("zz".into()),
            limit: 10,
            site: None,
        })
        .await;
    assert!(
        matches!(&bad, Err(ServiceError::Invalid(m)) if m.contains("cursor")),
        "{bad:?}"
    );
}

/// One huge field cannot jam the floor: a 10 MB title (and a 1 MB recipient name) are cut at
/// import, marked, and every queue page still fits its reply.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_field_is_cut_at_import_and_the_queue_still_pages() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = unlocked_store(dir.path());
    let ps = people(3);
    let mut orders: Vec<serde_json::Value> = ps
        .iter()
        .map(|p| order_json(p, "UNSHIPPED", "2026-11-23T10:00:00Z"))
        .collect();
    orders[1]["orderItems"][0]["product"]["title"] = "T".repeat(10 << 20).into();
    orders[1]["recipient"]["deliveryAddress"]["name"] = "N".repeat(1 << 20).into();
    let body = serde_json::to_vec(&serde_json::json!({ "orders": orders })).unwrap();
    let parsed = packline::amazon::parse_search_orders(&body, "huge.json").unwrap();
    store.import(parsed.orders, "lead", Utc::now()).unwrap();
    let service = Service::new(store, settings(Duration::from_secs(300)));
    let socket = dir.path().join("packline.sock");
    let listener = packline::service::server::bind(&socket, None).unwrap();
    let (_stop, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(packline::service::server::serve(
        service.clone(),
        listener,
        socket.clone(),
        rx,
    ));
    let c = Client::connect(&socket).await.unwrap();
    let page = c
        .call(ops::Queue {
            state: None,
            search: None,
            offset: 0,
            limit: 500,
            exact_counts: false,
        })
        .await
        .unwrap();
    assert_eq!(page.rows.len(), 3, "every row, the huge one too");
    let huge = page
        .rows
        .iter()
        .find(|r| r.order.id.as_str() == ps[1].order_id)
        .unwrap();
    let title = &huge.order.lines[0].title;
    assert_eq!(title.chars().count(), 300);
    assert!(title.ends_with('…'), "the cut is marked");
    let mask = huge.recipient_mask.as_deref().unwrap_or_default();
    assert!(mask.chars().count() < 300, "{} chars", mask.chars().count());
    // A SKU longer than any real one is refused by name: the order is set aside, not read.
    let mut bad = order_json(&people(4)[3], "UNSHIPPED", "2026-11-23T10:00:00Z");
    bad["orderItems"][0]["product"]["sellerSku"] = "S".repeat(65).into();
    let body = serde_json::to_vec(&serde_json::json!({ "orders": [bad] })).unwrap();
    let page = packline::amazon::parse_search_orders(&body, "bad.json").unwrap();
    assert!(page.orders.is_empty(), "a 65-character SKU was taken");
    assert_eq!(
        page.refused,
        [packline::domain::SetAside {
            order: people(4)[3].order_id.clone(),
            reason: "orders[0].orderItems[0].product.sellerSku: is 65 characters long; a seller SKU has at most 64".into(),
        }]
    );
}

/// Clients that hold the daemon without finishing: a frame left half-sent is cut off after the
/// frame timeout (its buffer freed), a user's connections past the per-user cap are refused at
/// once, and a well-behaved client is served throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_frames_time_out_and_connections_are_capped() {
    use packline::service::server::MAX_PER_USER;
    let dir = tempfile::tempdir().unwrap();
    let mut settings = settings(Duration::from_secs(300));
    settings.frame_timeout = Duration::from_millis(300);
    let s = serve_with(dir.path(), 3, settings).await;
    let socket = s.socket.clone();
    let (cut, took) = tokio::task::spawn_blocking(move || {
        let mut a = std::os::unix::net::UnixStream::connect(&socket).unwrap();
        a.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        // A frame of 4 MiB announced (the reader sets room aside for it), then nothing.
        a.write_all(&(4u32 << 20).to_be_bytes()).unwrap();
        let started = std::time::Instant::now();
        let cut = (read_reply(&mut a), closed(&mut a));
        (cut, started.elapsed())
    })
    .await
    .unwrap();
    assert_eq!(
        cut.0["reply"]["result"]["Err"]["error"], "protocol",
        "{}",
        cut.0
    );
    assert!(cut.1, "the half-sent connection is closed");
    assert!(
        took < Duration::from_secs(4),
        "cut after the timeout, not the read's: {took:?}"
    );

    // The half-sent connection broke the protocol: its slot stays taken a moment after it is
    // closed (a flood of them gets few full connections).
    tokio::time::sleep(packline::service::server::TARPIT + Duration::from_millis(200)).await;
    // The cap: every slot of this user taken by idle connections (each says hello, so it is
    // being served).
    let mut held = Vec::new();
    for _ in 0..MAX_PER_USER {
        let c = Client::connect(&s.socket).await.unwrap();
        c.call(ops::Hello {}).await.unwrap();
        held.push(c);
    }
    let over = Client::connect(&s.socket).await.unwrap();
    let refused = over.call(ops::Hello {}).await;
    assert!(
        matches!(&refused, Err(ServiceError::Protocol(m)) if m.contains("32 connections to the packline daemon open already")),
        "{refused:?}"
    );
    // The connected are served; once one leaves, a newcomer is too.
    assert_eq!(queue_count(&mut held[0], OrderState::New).await, 3);
    drop(held.pop());
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let c = Client::connect(&s.socket).await.unwrap();
        if c.call(ops::Hello {}).await.is_ok() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "a freed slot is never reused"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One hostile client of the daemon, reconnecting whenever it is let go, until `until`; what
/// the daemon told it each time, by kind of message.
fn hostile(
    socket: &Path,
    kind: usize,
    until: Instant,
    told: &std::sync::Mutex<std::collections::BTreeMap<&'static str, u64>>,
) {
    while Instant::now() < until {
        let Ok(mut s) = std::os::unix::net::UnixStream::connect(socket) else {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        };
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
        let sent = match kind {
            // Garbage in a frame.
            0 => s.write_all(b"\x00\x00\x00\x10not a packline f"),
            // A length far past the limit.
            1 => s.write_all(&u32::MAX.to_be_bytes()),
            // A 4 MiB frame announced, half of it sent, and left.
            2 => s
                .write_all(&(4u32 << 20).to_be_bytes())
                .and_then(|()| s.write_all(&vec![b' '; 2 << 20])),
            // A frame trickled a byte at a time (slower than the daemon waits).
            3 => s.write_all(&100u32.to_be_bytes()).and_then(|()| {
                for _ in 0..20 {
                    std::thread::sleep(Duration::from_millis(100));
                    s.write_all(b" ")?;
                }
                Ok(())
            }),
            // Requests sent as fast as it can, replies never read, until the daemon lets go.
            _ => {
                let frame = format!(
                    r#"{{"id":1,"protocol":{PROTOCOL},"request":{{"op":"queue","offset":0,"limit":500}}}}"#
                );
                let frame = frame.as_bytes();
                loop {
                    let r = s
                        .write_all(&(frame.len() as u32).to_be_bytes())
                        .and_then(|()| s.write_all(frame));
                    if r.is_err() || Instant::now() >= until {
                        break;
                    }
                }
                *told.lock().unwrap().entry("cut off unread").or_default() += 1;
                continue;
            }
        };
        // Whatever was sent, the daemon's one reply (past the notices it pushes meanwhile)
        // says why it lets go.
        let mut reply = || loop {
            let mut len = [0u8; 4];
            s.read_exact(&mut len).ok()?;
            let mut body = vec![0u8; (u32::from_be_bytes(len) as usize).min(1 << 16)];
            s.read_exact(&mut body).ok()?;
            let text = String::from_utf8_lossy(&body).into_owned();
            if !text.starts_with(r#"{"notice""#) {
                return Some(text);
            }
        };
        let why = if let Some(text) = reply() {
            [
                ("malformed request", "malformed"),
                ("bad frame", "bad frame"),
                ("left unfinished", "unfinished"),
                ("open already", "over the per-user cap"),
            ]
            .into_iter()
            .find(|(needle, _)| text.contains(needle))
            .map_or("something else", |(_, kind)| kind)
        } else if sent.is_err() {
            "cut off while sending"
        } else {
            "closed without a word"
        };
        *told.lock().unwrap().entry(why).or_default() += 1;
    }
}

/// Two hundred hostile connections at once, of every kind (garbage, a length past the limit, a
/// frame half sent and left, a frame trickled, requests never read), on the connection cap: a
/// picker connected before keeps every scan answered, each hostile kind is let go for its own
/// reason, and once they stop a newcomer is served. (`scripts/bench service --only hostile`
/// measures 500 and the picker's latency.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_connections_never_starve_a_picker() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = settings(Duration::from_secs(300));
    settings.frame_timeout = Duration::from_millis(300);
    let s = serve_with(dir.path(), 200, settings).await;
    let picker = Client::connect(&s.socket).await.unwrap();
    let batch = picker
        .call(ops::ClaimBatch { size: Some(20) })
        .await
        .unwrap()
        .unwrap();
    let told = Arc::new(std::sync::Mutex::new(std::collections::BTreeMap::new()));
    let until = Instant::now() + Duration::from_secs(4);
    let attackers: Vec<_> = (0..200)
        .map(|i| {
            let (socket, told) = (s.socket.clone(), told.clone());
            std::thread::spawn(move || hostile(&socket, i % 5, until, &told))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (mut scans, mut answered) = (0, 0);
    for l in &batch.lines {
        for _ in 0..l.needed {
            scans += 1;
            let r = picker
                .call(ops::PickScan {
                    batch: batch.id,
                    code: l.sku.clone(),
                })
                .await;
            answered += usize::from(r.is_ok());
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }
    for a in attackers {
        a.join().unwrap();
    }
    assert!(scans >= 10, "{scans}");
    assert_eq!(answered, scans, "every scan of the picker is answered");
    let told = told.lock().unwrap().clone();
    for why in [
        "malformed",
        "bad frame",
        "unfinished",
        "over the per-user cap",
        "cut off unread",
    ] {
        assert!(
            told.get(why).copied().unwrap_or(0) > 0,
            "never {why}: {told:?}"
        );
    }
    assert!(!told.contains_key("something else"), "{told:?}");
    // The attack over, its connections let go: a newcomer is served.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let c = Client::connect(&s.socket).await.unwrap();
        if c.call(ops::Hello {}).await.is_ok() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no newcomer served after the attack"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let progress = picker.call(ops::Batches { all: false }).await.unwrap();
    let mine = progress.iter().find(|b| b.id == batch.id).unwrap();
    let picked: u32 = mine.lines.iter().map(|l| l.picked).sum();
    assert_eq!(picked as usize, scans);
}

/// Runs `calls` (a client and an operation's future each) on as many tasks at once, and
/// answers their results in the same order.
async fn all_at_once<T: Send + 'static>(
    calls: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>>,
) -> Vec<T> {
    let tasks: Vec<_> = calls.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// Items of `work` taken by `workers` tasks at once, each item handed to `call` with the number
/// of the task that took it; answers each item's outcome.
async fn worked<I, T, F, Fut>(work: Vec<I>, workers: usize, call: F) -> Vec<(I, T)>
where
    I: Clone + Send + 'static,
    T: Send + 'static,
    F: Fn(usize, I) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = T> + Send,
{
    let queue = Arc::new(std::sync::Mutex::new(work));
    let call = Arc::new(call);
    let tasks: Vec<_> = (0..workers)
        .map(|w| {
            let (queue, call) = (queue.clone(), call.clone());
            tokio::spawn(async move {
                let mut done = Vec::new();
                loop {
                    let Some(item) = queue.lock().unwrap().pop() else {
                        break;
                    };
                    done.push((item.clone(), call(w, item).await));
                }
                done
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.extend(t.await.unwrap());
    }
    out
}

/// Issue 23's floor for two processes: two services over one store (a second handle on the same
/// open database, as a second daemon on a shared backend would have), each with its own
/// in-memory locks, driven at once on many tasks with the same operations. Claims never give
/// an order twice; scans of one batch and of one order, more than its units, count exactly its
/// units and refuse the rest; a hold accepted while an order is being packed leaves it unpacked;
/// the same label bought from both is bought once per package; and `packline check` finds
/// nothing wrong after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_services_over_one_store_keep_every_invariant() {
    use crate::common::floor::{floor_on, settings_v2, whoami};
    let started = Instant::now();
    let f = floor_on(marketplace(150, "20"), None, Duration::from_secs(10)).await;
    let shared = f.service.with_store(|s| s.share()).unwrap();
    let other = Service::new(shared, settings_v2(None));
    other.set_amazon(Arc::new(training_api(&f.market, Duration::from_secs(10))));
    let clients = [
        f.client.clone(),
        Client::local(other.clone(), &whoami()).unwrap(),
    ];
    let on = move |i: usize| clients[i % 2].clone();
    let state = |id: &OrderId| f.state(id);
    let new = f
        .service
        .with_store(|s| s.ids_in(OrderState::New, usize::MAX).unwrap());
    assert!(new.len() >= 12, "{} new orders", new.len());

    // Claims: eight pickers, four on each service, take batches of three until none is left.
    let on_ = on.clone();
    let claims = worked((0..8).collect::<Vec<usize>>(), 8, move |_, i| {
        let c = on_(i);
        async move {
            let mut mine = Vec::new();
            while let Some(b) = c.call(ops::ClaimBatch { size: Some(3) }).await.unwrap() {
                mine.push(b);
            }
            mine
        }
    })
    .await;
    let batches: Vec<_> = claims.into_iter().flat_map(|(_, b)| b).collect();
    let mut claimed = HashSet::new();
    for b in &batches {
        for o in &b.orders {
            assert!(claimed.insert(o.clone()), "order {o} is in two batches");
        }
    }
    assert_eq!(claimed.len(), new.len(), "every new order is claimed once");

    // Picks: every unit of every batch offered once more than needed, scanned by eight tasks
    // over both services: the surplus is refused.
    let mut offered = Vec::new();
    for b in &batches {
        for l in &b.lines {
            for _ in 0..=l.needed {
                offered.push((b.id, l.sku.clone()));
            }
        }
    }
    let on_ = on.clone();
    let picked = worked(offered, 8, move |w, (batch, code)| {
        let c = on_(w);
        async move { c.call(ops::PickScan { batch, code }).await }
    })
    .await;
    for b in &batches {
        let needed: u32 = b.lines.iter().map(|l| l.needed).sum();
        let mut counted = 0;
        for ((batch, _), r) in &picked {
            match r {
                Ok(_) if *batch == b.id => counted += 1,
                Ok(_) | Err(ServiceError::WrongScan { .. }) => {}
                Err(e) => panic!("a pick scan failed: {e}"),
            }
        }
        assert_eq!(counted, needed, "batch {}: scans counted", b.id);
    }
    // Each batch finished from both services at once: once.
    let mut calls: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = _> + Send>>> = Vec::new();
    for b in &batches {
        for i in 0..2 {
            let (c, batch) = (on(i), b.id);
            calls.push(Box::pin(
                async move { c.call(ops::FinishPick { batch }).await },
            ));
        }
    }
    let finished = all_at_once(calls).await;
    for (b, r) in batches.iter().zip(finished.chunks(2)) {
        let oks = r.iter().filter(|r| r.is_ok()).count();
        assert_eq!(oks, 1, "batch {} finished: {r:?}", b.id);
    }
    let orders: Vec<OrderId> = batches.iter().flat_map(|b| b.orders.clone()).collect();
    assert!(orders.iter().all(|o| state(o) == OrderState::Picked));

    // Packing: each order opened at a bench from both services at once, then every unit
    // offered once more than needed, scanned by eight tasks over both.
    let mut calls: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = _> + Send>>> = Vec::new();
    for o in &orders {
        for i in 0..2 {
            let (c, order) = (on(i), o.to_string());
            calls.push(Box::pin(
                async move { c.call(ops::PackStart { order }).await },
            ));
        }
    }
    let checks: Vec<_> = all_at_once(calls)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    let mut offered = Vec::new();
    for check in checks.iter().step_by(2) {
        for l in &check.lines {
            for _ in 0..=l.needed {
                offered.push((check.order.clone(), l.sku.clone()));
            }
        }
    }
    let on_ = on.clone();
    let scanned = worked(offered, 8, move |w, (order, code)| {
        let c = on_(w);
        async move {
            c.call(ops::PackScan {
                order: order.to_string(),
                code,
                unit_codes: Vec::new(),
            })
            .await
        }
    })
    .await;
    for check in checks.iter().step_by(2) {
        let needed: u32 = check.lines.iter().map(|l| l.needed).sum();
        let mut counted = 0;
        for ((order, _), r) in &scanned {
            match r {
                Ok(_) if *order == check.order => counted += 1,
                Ok(_) | Err(ServiceError::WrongScan { .. }) => {}
                Err(e) => panic!("a pack scan failed: {e}"),
            }
        }
        assert_eq!(counted, needed, "order {}: units counted", check.order);
    }

    // Holds against packing: every other order is held from one service while the other
    // finishes packing it; the rest are finished from both at once.
    let mut calls: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = _> + Send>>> = Vec::new();
    for (i, o) in orders.iter().enumerate() {
        let finish = |c: Client, order: String| async move {
            c.call(ops::PackFinish {
                order,
                box_name: "M 30x20x15".into(),
                weight_g: 1200,
                partial: None,
                label: false,
            })
            .await
            .map(|_| ())
        };
        let (a, b, order) = (on(i), on(i + 1), o.to_string());
        calls.push(Box::pin(finish(b, order.clone())));
        if i % 2 == 0 {
            calls.push(Box::pin(async move {
                a.call(ops::HoldOrder {
                    order,
                    reason: "buyer phoned".into(),
                })
                .await
                .map(|_| ())
            }));
        } else {
            calls.push(Box::pin(finish(a, order)));
        }
    }
    let outcomes = all_at_once(calls).await;
    let mut to_label = Vec::new();
    let mut stopped = 0;
    for ((i, o), r) in orders.iter().enumerate().zip(outcomes.chunks(2)) {
        if i % 2 == 0 {
            assert!(r[1].is_ok(), "order {o} held: {:?}", r[1]);
            match &r[0] {
                Ok(()) => assert_eq!(state(o), OrderState::Packed),
                Err(ServiceError::OnHold { .. }) => {
                    assert_eq!(state(o), OrderState::Picked);
                    stopped += 1;
                }
                Err(e) => panic!("order {o}: {e}"),
            }
        } else {
            let oks = r.iter().filter(|r| r.is_ok()).count();
            assert_eq!(oks, 1, "order {o} finished: {r:?}");
            assert_eq!(state(o), OrderState::Packed);
            to_label.push(o.clone());
        }
    }

    // The same label bought from both services at once, twice on each.
    let mut calls: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = _> + Send>>> = Vec::new();
    for o in &to_label {
        for i in 0..4 {
            let (c, order) = (on(i), o.to_string());
            calls.push(Box::pin(async move {
                c.call(ops::BuyLabel {
                    order,
                    service: None,
                })
                .await
            }));
        }
    }
    all_at_once(calls).await;
    let log = request_log(&f.market);
    for o in &to_label {
        assert_eq!(state(o), OrderState::Labelled, "order {o}");
        let packages = f.service.with_store(|s| s.packages(o).unwrap());
        let bought = log
            .iter()
            .filter(|r| {
                r["operation"] == "purchaseShipment"
                    && r["status"] == 200
                    && r["params"]["orderId"] == o.as_str()
                    && r["params"]["replay"] != "true"
            })
            .count();
        assert_eq!(bought, packages.len(), "order {o}: labels bought");
    }

    // Every packed order holds exactly its units.
    for o in orders.iter().filter(|o| state(o) != OrderState::Picked) {
        let rec = f.service.with_store(|s| s.get(o).unwrap().unwrap());
        let units: u32 = rec.order.lines.iter().map(|l| l.quantity_ordered).sum();
        let packed: u32 = f.service.with_store(|s| {
            s.packages(o)
                .unwrap()
                .iter()
                .flat_map(|p| &p.items)
                .map(|i| i.quantity)
                .sum()
        });
        assert_eq!(packed, units, "order {o}");
    }
    assert_eq!(f.problems(), Vec::<String>::new());
    let refused = |answers: usize, needed: usize| answers - needed;
    eprintln!(
        "{} orders in {} batches; {} pick and {} pack scans refused as surplus; {} of {} holds stopped packing; {} labels, {} purchases sent again under their key; {:?}",
        orders.len(),
        batches.len(),
        refused(
            picked.len(),
            batches
                .iter()
                .flat_map(|b| &b.lines)
                .map(|l| l.needed as usize)
                .sum()
        ),
        refused(
            scanned.len(),
            checks
                .iter()
                .step_by(2)
                .flat_map(|c| &c.lines)
                .map(|l| l.needed as usize)
                .sum()
        ),
        stopped,
        orders.len().div_ceil(2),
        to_label.len(),
        log.iter()
            .filter(|r| r["operation"] == "purchaseShipment" && r["params"]["replay"] == "true")
            .count(),
        started.elapsed()
    );
}

/// Pages of the queue tile it: each page is the next rows of the one whole listing, in its
/// order, whichever states they are in, and each row carries its own hold and no other's
/// (a page's holds are read together).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_pages_tile_the_queue_and_each_row_carries_its_own_hold() {
    let dir = tempfile::tempdir().unwrap();
    let s = serve(dir.path(), 40, Duration::from_secs(300)).await;
    let c = Client::connect(&s.socket).await.unwrap();
    c.call(ops::ClaimBatch { size: Some(5) }).await.unwrap();
    let page = |offset, limit| ops::Queue {
        state: None,
        search: None,
        offset,
        limit,
        exact_counts: false,
    };
    let whole = c.call(page(0, 500)).await.unwrap().rows;
    assert_eq!(whole.len(), 40);
    let states: HashSet<OrderState> = whole.iter().map(|r| r.state).collect();
    assert!(states.len() >= 2, "the queue merges states: {states:?}");
    let held = [whole[3].order.id.clone(), whole[22].order.id.clone()];
    for id in &held {
        c.call(ops::HoldOrder {
            order: id.to_string(),
            reason: "the address needs a look".into(),
        })
        .await
        .unwrap();
    }
    let whole = c.call(page(0, 500)).await.unwrap().rows;
    let mut tiled = Vec::new();
    for offset in (0..42).step_by(7) {
        let p = c.call(page(offset, 7)).await.unwrap();
        assert_eq!(p.more, offset + 7 < 40, "more after offset {offset}");
        tiled.extend(p.rows);
    }
    let ids = |rows: &[packline::service::OrderRow]| -> Vec<String> {
        rows.iter().map(|r| r.order.id.to_string()).collect()
    };
    assert_eq!(ids(&tiled), ids(&whole));
    let holds: Vec<String> = tiled
        .iter()
        .filter(|r| r.hold.is_some())
        .map(|r| r.order.id.to_string())
        .collect();
    let mut expected: Vec<String> = held.iter().map(ToString::to_string).collect();
    expected.sort_by_key(|id| ids(&whole).iter().position(|w| w == id));
    assert_eq!(holds, expected);
}
