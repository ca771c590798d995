//! Retention and audit edge cases: clocks, crashes and epochs that took records mid-purge.

use crate::common::*;
use chrono::{DateTime, Duration, Utc};
use packline::amazon::parse_search_orders;
use packline::domain::OrderId;
use packline::store::{MasterSource, RetentionPolicy, Store};

fn site() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key = dir.path().join("master.key");
    Store::init_keys(
        &data,
        &MasterSource::IdentityFile(key.clone()),
        "lead",
        t("2026-11-23T10:00:00Z"),
    )
    .unwrap();
    (dir, data, key)
}

fn open_unlocked(data: &std::path::Path, key: &std::path::Path) -> Store {
    let mut store = Store::open(data).unwrap();
    store
        .unlock(&MasterSource::IdentityFile(key.to_owned()))
        .unwrap();
    store
}

/// Address changes move an open order between epochs while closed orders move to their expiry
/// epoch and expire: the open order's address survives every purge.
#[test]
fn moves_and_expiries_around_one_day_keep_open_addresses() {
    let (_d, data, key) = site();
    let mut store = open_unlocked(&data, &key);
    let s = person("902-0000001-0000001", "Sam Early");
    let o = person("902-0000002-0000002", "Olga Mover");
    let r = person("902-0000003-0000003", "Rita Late");
    // Week 48: S and O sealed in E0.
    imp(
        &mut store,
        &[&s, &o],
        "UNSHIPPED",
        "2026-11-23T10:00:00Z",
        t("2026-11-23T10:00:00Z"),
    );
    // Week 49: O changes address (E0 gets a mark), R arrives in E1.
    let o2 = person(&o.order_id, "Olga Second");
    imp(
        &mut store,
        &[&o2, &r],
        "UNSHIPPED",
        "2026-11-30T10:00:00Z",
        t("2026-11-30T10:00:00Z"),
    );
    ship(&store, &s.order_id, t("2026-12-01T08:00:00Z"));
    ship(&store, &r.order_id, t("2026-12-01T15:00:00Z"));
    let p1 = t("2026-12-02T10:00:00Z");
    store
        .purge(RetentionPolicy::default(), p1, "lead", p1)
        .unwrap();
    // Week 50: O changes address again (E1 gets a mark).
    let o3 = person(&o.order_id, "Olga Third");
    imp(
        &mut store,
        &[&o3],
        "UNSHIPPED",
        "2026-12-07T10:00:00Z",
        t("2026-12-07T10:00:00Z"),
    );
    // Day X+30, 12:00: S expired at 08:00, R expires at 15:00.
    let p2 = t("2026-12-31T12:00:00Z");
    store
        .purge(RetentionPolicy::default(), p2, "lead", p2)
        .unwrap();
    // S and R closed on 12-01: both expire at the start of 12-31, together.
    for id in [&s.order_id, &r.order_id] {
        let rec = store.get(&OrderId::parse(id).unwrap()).unwrap().unwrap();
        assert!(rec.recipient_purged);
    }
    // O, still open, always opens.
    let oid = OrderId::parse(&o.order_id).unwrap();
    assert_eq!(
        store.reveal(&oid, "lead", "test", p2).unwrap().name,
        "Olga Third"
    );
}

/// `purge --as-of` a future time leaves an empty future intake epoch; every ordinary purge then fails.
#[test]
fn a_future_as_of_does_not_stop_later_purges() {
    let (_d, data, key) = site();
    let mut store = open_unlocked(&data, &key);
    let b = person("902-0000004-0000004", "Bob Open");
    let now = t("2026-11-23T10:00:00Z");
    imp(&mut store, &[&b], "UNSHIPPED", "2026-11-23T10:00:00Z", now);
    let future = now + Duration::days(14);
    store
        .purge(RetentionPolicy::default(), future, "lead", now)
        .unwrap();
    let res = store.purge(
        RetentionPolicy::default(),
        now + Duration::hours(1),
        "lead",
        now + Duration::hours(1),
    );
    let res2 = store.purge(
        RetentionPolicy::default(),
        now + Duration::days(3),
        "lead",
        now + Duration::days(3),
    );
    assert!(
        res.is_ok() && res2.is_ok(),
        "{:?} {:?}",
        res.err(),
        res2.err()
    );
    assert_eq!(
        store
            .reveal(&OrderId::parse(&b.order_id).unwrap(), "lead", "t", now)
            .unwrap()
            .name,
        "Bob Open"
    );
}

/// Audit: wipe the log and its head, then any audited action restarts the chain and verify passes.
#[test]
fn a_wiped_audit_log_stops_appends() {
    let (_d, data, _key) = site();
    {
        let mut store = Store::open(&data).unwrap();
        let b = person("902-0000005-0000005", "Wendy Wipe");
        imp(
            &mut store,
            &[&b],
            "UNSHIPPED",
            "2026-11-23T10:00:00Z",
            t("2026-11-23T10:00:00Z"),
        );
        assert_eq!(store.verify_audit().unwrap(), 2);
    }
    {
        let db = packline::store::raw_db(&data).unwrap();
        db.open_tree("audit").unwrap().clear().unwrap();
        db.open_tree("meta").unwrap().remove(b"audit_head").unwrap();
        db.flush().unwrap();
    }
    let mut store = Store::open(&data).unwrap();
    assert!(store.verify_audit().is_err());
    let c = person("902-0000006-0000006", "Carl After");
    let page = serde_json::json!({"orders": [order_json(&c, "UNSHIPPED", "2026-11-24T10:00:00Z")]});
    let body = serde_json::to_vec(&page).unwrap();
    let res = store.import(
        parse_search_orders(&body, "p").unwrap().orders,
        "lead",
        t("2026-11-24T10:00:00Z"),
    );
    let err = res.unwrap_err().to_string();
    assert!(err.contains("the audit head record is missing"), "{err}");
    let v = store.verify_audit();
    assert!(
        v.is_err(),
        "a wiped log went undetected once something was appended"
    );
}

fn names(store: &mut Store, q: &str, at: DateTime<Utc>) -> Vec<String> {
    store
        .lookup_name(q, "lead", at)
        .unwrap()
        .into_iter()
        .map(|i| i.as_str().to_owned())
        .collect()
}

#[test]
fn locked_import_unlock_address_change_and_purge() {
    let (_d, data, key) = site();
    let mut store = Store::open(&data).unwrap();
    let t0 = t("2026-11-23T10:00:00Z");
    // Locked import of A and K; K is later cancelled without ever being indexed.
    let a = person("902-0000011-0000011", "Alice Locked");
    let k = person("902-0000012-0000012", "Karl Cancel");
    imp(
        &mut store,
        &[&a, &k],
        "UNSHIPPED",
        "2026-11-23T10:00:00Z",
        t0,
    );
    imp(
        &mut store,
        &[&k],
        "CANCELLED",
        "2026-11-24T10:00:00Z",
        t0 + Duration::days(1),
    );
    // Same order twice in one call: older copy last.
    let d_new = person("902-0000013-0000013", "Dora Newer");
    let d_old = person("902-0000013-0000013", "Dora Older");
    let page = serde_json::json!({"orders": [order_json(&d_new, "UNSHIPPED", "2026-11-24T12:00:00Z"), order_json(&d_old, "UNSHIPPED", "2026-11-24T11:00:00Z")]});
    let c = store
        .import(
            parse_search_orders(&serde_json::to_vec(&page).unwrap(), "p")
                .unwrap()
                .orders,
            "lead",
            t0,
        )
        .unwrap();
    assert_eq!((c.new, c.unchanged), (1, 1));
    let n = store
        .unlock(&MasterSource::IdentityFile(key.clone()))
        .unwrap();
    assert_eq!(n, 3, "A, K and D waited for the unlock");
    assert_eq!(
        names(&mut store, "Alice Locked", t0),
        std::slice::from_ref(&a.order_id)
    );
    assert_eq!(
        names(&mut store, "Karl", t0),
        std::slice::from_ref(&k.order_id)
    );
    assert_eq!(
        names(&mut store, "Dora Newer", t0),
        std::slice::from_ref(&d_new.order_id)
    );
    assert!(
        names(&mut store, "Older", t0).is_empty(),
        "the older copy was never indexed"
    );
    // Address change of A next week.
    let a2 = person(&a.order_id, "Alice Moved");
    imp(
        &mut store,
        &[&a2],
        "UNSHIPPED",
        "2026-12-01T10:00:00Z",
        t("2026-12-01T10:00:00Z"),
    );
    let p = t("2026-12-26T10:00:00Z");
    let r = store
        .purge(RetentionPolicy::default(), p, "lead", p)
        .unwrap();
    assert_eq!(r.recipients_destroyed, 1, "K, cancelled 11-24: {r:?}");
    assert!(
        names(&mut store, "Alice Locked", p).is_empty(),
        "the old address's name is gone"
    );
    assert_eq!(
        names(&mut store, "Alice Moved", p),
        std::slice::from_ref(&a.order_id)
    );
    assert!(names(&mut store, "Karl", p).is_empty());
    assert_eq!(
        names(&mut store, "Dora", p),
        std::slice::from_ref(&d_new.order_id)
    );
    let r = store
        .purge(RetentionPolicy::default(), p, "lead", p)
        .unwrap();
    assert_eq!(
        (
            r.recipients_destroyed,
            r.recipients_resealed,
            r.epochs_shredded
        ),
        (0, 0, 0),
        "{r:?}"
    );
    assert!(store.verify_audit().is_ok());
}

#[test]
fn an_empty_store_purges_cleanly() {
    let (_d, data, key) = site();
    let mut store = Store::open(&data).unwrap();
    let t0 = t("2026-11-23T10:00:00Z");
    assert!(
        store
            .purge(RetentionPolicy::default(), t0, "lead", t0)
            .is_ok()
    );
    store.unlock(&MasterSource::IdentityFile(key)).unwrap();
    let later = t0 + Duration::days(10);
    assert!(
        store
            .purge(RetentionPolicy::default(), later, "lead", later)
            .is_ok()
    );
    let b = person("902-0000021-0000021", "Eve Empty");
    imp(&mut store, &[&b], "UNSHIPPED", "2026-11-23T10:00:00Z", t0);
    assert_eq!(
        names(&mut store, "Eve", t0),
        std::slice::from_ref(&b.order_id)
    );
    assert!(
        store
            .purge(RetentionPolicy::default(), t0, "lead", t0)
            .is_ok()
    );
}

/// An import cut short after the recipients/names batches (order record never written), then the
/// order is imported again a week later: the first slot's index entries (old epoch key) stay.
#[test]
fn reimport_after_a_crash_replaces_the_leftover_slot() {
    let (_d, data, key) = site();
    let t0 = t("2026-11-23T10:00:00Z");
    let x = person("902-0000031-0000031", "Xavier Orphan");
    let y = person("902-0000032-0000032", "Yuri Stays");
    {
        let mut store = Store::open(&data).unwrap();
        store
            .unlock(&MasterSource::IdentityFile(key.clone()))
            .unwrap();
        imp(
            &mut store,
            &[&x, &y],
            "UNSHIPPED",
            "2026-11-23T10:00:00Z",
            t0,
        );
    }
    {
        // Simulate the crash: the order record (written last) never reached disk, and the
        // import's mark of a change under way stayed.
        let db = packline::store::raw_db(&data).unwrap();
        db.open_tree("amazon/orders")
            .unwrap()
            .remove(x.order_id.as_bytes())
            .unwrap();
        db.open_tree("meta")
            .unwrap()
            .insert(b"unsettled", &[])
            .unwrap();
        db.flush().unwrap();
    }
    let mut store = open_unlocked(&data, &key);
    let t1 = t("2026-11-30T10:00:00Z");
    imp(&mut store, &[&x], "UNSHIPPED", "2026-11-30T10:00:00Z", t1);
    ship(&store, &x.order_id, t1);
    let p = t1 + Duration::days(31);
    store
        .purge(RetentionPolicy::default(), p, "lead", p)
        .unwrap();
    let xid = OrderId::parse(&x.order_id).unwrap();
    assert!(store.get(&xid).unwrap().unwrap().recipient_purged);
    assert_eq!(
        store
            .list(None)
            .filter(|r| r.as_ref().unwrap().order.id == xid)
            .count(),
        1,
        "no duplicate queue rows"
    );
    let found = names(&mut store, "Xavier Orphan", p);
    assert!(
        found.is_empty(),
        "a purged recipient's name still matches through a stale index entry"
    );
}

/// `keys init` interrupted after the keyring file is written but before the store records the
/// master recipient: neither `keys init` nor `open` can proceed.
#[test]
fn an_interrupted_keys_init_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // As `keys init` makes it: the data directory is packline's own (0700).
    std::os::unix::fs::DirBuilderExt::mode(&mut std::fs::DirBuilder::new(), 0o700)
        .create(&data)
        .unwrap();
    drop(packline::store::raw_db(&data).unwrap());
    let key = dir.path().join("master.key");
    packline::store::Keyring::init(
        &data,
        &MasterSource::IdentityFile(key.clone()),
        t("2026-11-23T10:00:00Z"),
    )
    .unwrap();
    // "crash" here
    let again = Store::init_keys(
        &data,
        &MasterSource::IdentityFile(dir.path().join("k2")),
        "lead",
        t("2026-11-23T10:00:00Z"),
    );
    let err = again.unwrap_err().to_string();
    assert!(
        err.contains("an interrupted `packline keys init` left"),
        "{err}"
    );
    let err = Store::open(&data).map(|_| ()).unwrap_err().to_string();
    assert!(err.contains("remove that file"), "{err}");
}

/// Two closed orders homed in one expiry epoch expire at the same instant, and the epoch goes whole.
#[test]
fn an_expiry_epoch_is_shredded_when_its_day_comes() {
    let (_d, data, key) = site();
    let mut store = open_unlocked(&data, &key);
    let s = person("902-0000041-0000041", "Sam Early");
    let o = person("902-0000042-0000042", "Olga Mover");
    let r = person("902-0000043-0000043", "Rita Late");
    imp(
        &mut store,
        &[&s, &o, &r],
        "UNSHIPPED",
        "2026-11-23T10:00:00Z",
        t("2026-11-23T10:00:00Z"),
    );
    let o2 = person(&o.order_id, "Olga Second");
    imp(
        &mut store,
        &[&o2],
        "UNSHIPPED",
        "2026-11-30T10:00:00Z",
        t("2026-11-30T10:00:00Z"),
    );
    ship(&store, &s.order_id, t("2026-12-01T00:30:00Z"));
    ship(&store, &r.order_id, t("2026-12-01T23:30:00Z"));
    let p1 = t("2026-12-02T10:00:00Z");
    store
        .purge(RetentionPolicy::default(), p1, "lead", p1)
        .unwrap();
    let labels: Vec<String> = store
        .keyring()
        .epochs()
        .into_iter()
        .map(|e| e.label)
        .collect();
    assert!(
        labels.iter().any(|l| l == "expires-2026-12-31"),
        "S and R moved to their expiry epoch: {labels:?}"
    );
    // Both closed on 12-01, so both expire at the start of 12-31, and their epoch goes whole.
    let p2 = t("2026-12-31T00:00:00Z");
    let r2 = store
        .purge(RetentionPolicy::default(), p2, "lead", p2)
        .unwrap();
    assert_eq!(r2.recipients_destroyed, 2, "{r2:?}");
    let labels: Vec<String> = store
        .keyring()
        .epochs()
        .into_iter()
        .map(|e| e.label)
        .collect();
    assert!(
        !labels.iter().any(|l| l == "expires-2026-12-31"),
        "{labels:?}"
    );
}

/// `purge --as-of` an earlier time ("catches up nothing") has the same effect.
#[test]
fn a_past_as_of_does_not_stop_later_purges() {
    let (_d, data, key) = site();
    let mut store = open_unlocked(&data, &key);
    let t0 = t("2026-11-23T10:00:00Z");
    let now = t0 + Duration::days(7);
    store
        .purge(RetentionPolicy::default(), now, "lead", now)
        .unwrap();
    let b = person("902-0000051-0000051", "Bob Open");
    imp(&mut store, &[&b], "UNSHIPPED", "2026-11-30T10:00:00Z", now);
    store
        .purge(RetentionPolicy::default(), t0, "lead", now)
        .unwrap();
    let res = store.purge(RetentionPolicy::default(), now, "lead", now);
    assert!(res.is_ok(), "{:?}", res.err());
}
