//! Retention destroys recipient data for good: after a purge past the limit, every age stanza
//! anywhere in the data dir is tried against every key still in existence (the master's
//! included), and no purged recipient can be decrypted, while open orders still reveal.

use std::path::Path;
use std::str::FromStr;

use crate::common::*;
use chrono::{DateTime, Duration, Utc};
use packline::amazon::parse_search_orders;
use packline::domain::OrderId;
use packline::store::{Error, MasterSource, RetentionPolicy, Store};

/// Every secret that still exists: the master identity, and each epoch secret the keyring holds
/// (opened with the master, as a thief with both would).
fn all_keys(data: &Path, key_file: &Path) -> Vec<age::x25519::Identity> {
    let master_text = std::fs::read_to_string(key_file).unwrap();
    let master = master_text
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .map(|l| age::x25519::Identity::from_str(l).unwrap())
        .unwrap();
    let keyring = std::fs::read_to_string(data.join("keyring.json")).unwrap();
    let mut keys = Vec::new();
    for block in keyring.split("-----BEGIN AGE ENCRYPTED FILE-----").skip(1) {
        let end = block.find("-----END AGE ENCRYPTED FILE-----").unwrap();
        let armored = format!(
            "-----BEGIN AGE ENCRYPTED FILE-----{}-----END AGE ENCRYPTED FILE-----\n",
            &block[..end]
        )
        .replace("\\n", "\n");
        if let Ok(plain) = age::decrypt(&master, armored.as_bytes())
            && let Ok(text) = String::from_utf8(plain)
            && let Ok(id) = age::x25519::Identity::from_str(text.trim())
        {
            keys.push(id);
        }
    }
    assert!(!keys.is_empty(), "the keyring still holds live epochs");
    keys.push(master);
    keys
}

/// Tries every age ciphertext in every file under `data` (and, on PostgreSQL, in the
/// database's files) with every key. Returns the plaintexts
/// that opened. A ciphertext inside a packline envelope is cut at its recorded length; any other
/// occurrence of an age header must not open at all.
fn open_everything(data: &Path, keys: &[age::x25519::Identity]) -> Vec<Vec<u8>> {
    let magic = b"age-encryption.org/v1";
    let mut opened = Vec::new();
    let mut stanzas = 0;
    let mut files = files_under(data);
    // On PostgreSQL, the database's own files too: its tables and its WAL.
    if let Some(cluster) = crate::common::stores::cluster() {
        cluster.checkpoint().unwrap();
        files.extend(files_under(&cluster.data_dir()));
    }
    for f in files {
        let bytes = match std::fs::read(&f) {
            Ok(b) => b,
            // A server's file of the moment (statistics) may go while the scan runs.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => panic!("{}: {e}", f.display()),
        };
        let mut from = 0;
        while let Some(pos) = find(&bytes[from..], magic) {
            let at = from + pos;
            from = at + 1;
            stanzas += 1;
            let ids = || keys.iter().map(|k| k as &dyn age::Identity);
            let enveloped = at >= 12 && &bytes[at - 12..at - 8] == b"PLR1";
            if enveloped {
                let len = u32::from_be_bytes(bytes[at - 4..at].try_into().unwrap()) as usize;
                let Some(ct) = bytes.get(at..at + len) else {
                    continue;
                };
                let Ok(d) = age::Decryptor::new_buffered(ct) else {
                    continue;
                };
                if let Ok(mut r) = d.decrypt(ids()) {
                    let mut plain = Vec::new();
                    if std::io::Read::read_to_end(&mut r, &mut plain).is_ok() {
                        opened.push(plain);
                    }
                }
            } else if let Ok(d) = age::Decryptor::new_buffered(&bytes[at..]) {
                assert!(
                    d.decrypt(ids()).is_err(),
                    "{}: an age file outside any envelope opens with a live key",
                    f.display()
                );
            }
        }
    }
    assert!(stanzas > 0, "the scan found the sealed records");
    opened
}

struct Floor {
    dir: tempfile::TempDir,
    data: std::path::PathBuf,
    key: std::path::PathBuf,
    people: Vec<Person>,
}

/// Three orders imported at t0: A is shipped a day later, B stays open, C is cancelled by Amazon.
fn floor() -> Floor {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key = dir.path().join("master.key");
    let t0 = t("2026-11-23T10:00:00Z");
    init_store(&data, &MasterSource::IdentityFile(key.clone()), "lead", t0);
    let people: Vec<Person> = hostile_people().into_iter().take(3).collect();
    let body = serde_json::to_vec(&page(&people, "UNSHIPPED", "2026-11-23T10:00:00Z")).unwrap();
    let mut store = open_store(&data).unwrap();
    let c = store
        .import(parse_search_orders(&body, "p1").unwrap().orders, "lead", t0)
        .unwrap();
    assert_eq!(c.new, 3);
    let day1 = t0 + Duration::days(1);
    ship(&store, &people[0].order_id, day1);
    let body =
        serde_json::to_vec(&page(&people[2..3], "CANCELLED", "2026-11-24T12:00:00Z")).unwrap();
    let c = store
        .import(
            parse_search_orders(&body, "p2").unwrap().orders,
            "sync",
            day1,
        )
        .unwrap();
    assert_eq!(c.cancelled, 1);
    Floor {
        dir,
        data,
        key,
        people,
    }
}

fn reveal(
    store: &Store,
    id: &str,
    at: DateTime<Utc>,
) -> Result<packline::domain::Recipient, Error> {
    store.reveal(&OrderId::parse(id).unwrap(), "lead", "test", at)
}

#[test]
fn purge_past_the_limit_leaves_nothing_decryptable_but_open_orders() {
    let f = floor();
    let (a, b, c) = (&f.people[0], &f.people[1], &f.people[2]);
    let as_of = t("2026-11-23T10:00:00Z") + Duration::days(40);
    {
        let mut store = open_store(&f.data).unwrap();
        store
            .unlock(&MasterSource::IdentityFile(f.key.clone()))
            .unwrap();
        // Before: everything opens, and A's name is findable.
        assert_eq!(reveal(&store, &a.order_id, as_of).unwrap().name, a.name);
        let found = store.lookup_name(&a.name, "lead", as_of).unwrap();
        assert_eq!(found, [OrderId::parse(&a.order_id).unwrap()]);
        let r = store
            .purge(RetentionPolicy::default(), as_of, "lead", as_of)
            .unwrap();
        assert_eq!(r.recipients_destroyed, 2, "{r:?}");
        assert_eq!(
            r.recipients_resealed, 1,
            "the open order moved to a live epoch: {r:?}"
        );
        assert!(r.epochs_shredded >= 1, "{r:?}");
        assert_eq!(r.epochs_kept_locked, 0);
        assert_eq!(reveal(&store, &b.order_id, as_of).unwrap().name, b.name);
        assert!(matches!(
            reveal(&store, &a.order_id, as_of),
            Err(Error::NoRecipient(_))
        ));
        assert!(
            store
                .lookup_name(&a.name, "lead", as_of)
                .unwrap()
                .is_empty()
        );
        // The open order moved epochs and is still found by name.
        let found = store.lookup_name(&b.name, "lead", as_of).unwrap();
        assert_eq!(found, [OrderId::parse(&b.order_id).unwrap()]);
        let rec = store
            .get(&OrderId::parse(&a.order_id).unwrap())
            .unwrap()
            .unwrap();
        assert!(rec.recipient_purged && rec.recipient_mask.is_none());
        // Idempotent.
        let again = store
            .purge(RetentionPolicy::default(), as_of, "lead", as_of)
            .unwrap();
        assert_eq!(
            (again.recipients_destroyed, again.epochs_shredded),
            (0, 0),
            "{again:?}"
        );
        assert!(store.verify_audit().unwrap() > 0);
    }
    let keys = all_keys(&f.data, &f.key);
    let opened = open_everything(&f.data, &keys);
    assert!(!opened.is_empty(), "the open order's record still opens");
    let mut b_seen = false;
    for plain in &opened {
        for gone in [a, c] {
            for v in gone.values() {
                assert!(
                    find(plain, v.as_bytes()).is_none(),
                    "a purged recipient can still be decrypted"
                );
            }
        }
        b_seen |= find(plain, b.name.as_bytes()).is_some();
    }
    assert!(
        b_seen,
        "the open order's recipient is among what still opens"
    );
    // No key that still exists can link a purged name to the index entries left on disk
    // (stale copies included): each epoch's index key died with its secret.
    let index_keys: Vec<_> = keys
        .iter()
        .map(packline::store::seal::epoch_index_key)
        .collect();
    for file in files_under(&f.data) {
        let bytes = std::fs::read(&file).unwrap();
        for k in &index_keys {
            for gone in [a, c] {
                for entry in packline::store::index::name_keys(k, &gone.name) {
                    assert!(
                        find(&bytes, &entry).is_none(),
                        "a purged name can still be tested against the index"
                    );
                }
            }
        }
    }
    // The plain bytes of purged recipients are nowhere either.
    for file in files_under(&f.data) {
        let bytes = std::fs::read(&file).unwrap();
        for v in a.values().into_iter().chain(c.values()) {
            assert!(find(&bytes, v.as_bytes()).is_none());
        }
    }
}

#[test]
fn locked_purge_destroys_what_is_due_and_keeps_open_addresses() {
    let f = floor();
    let (a, b) = (&f.people[0], &f.people[1]);
    let as_of = t("2026-11-23T10:00:00Z") + Duration::days(40);
    let mut store = open_store(&f.data).unwrap();
    let r = store
        .purge(RetentionPolicy::default(), as_of, "cron", as_of)
        .unwrap();
    assert_eq!(r.recipients_destroyed, 2, "{r:?}");
    assert_eq!(
        r.epochs_kept_locked, 1,
        "the epoch holding B is kept: {r:?}"
    );
    assert_eq!(r.recipients_resealed, 0);
    store
        .unlock(&MasterSource::IdentityFile(f.key.clone()))
        .unwrap();
    assert_eq!(reveal(&store, &b.order_id, as_of).unwrap().name, b.name);
    assert!(matches!(
        reveal(&store, &a.order_id, as_of),
        Err(Error::NoRecipient(_))
    ));
    let r = store
        .purge(RetentionPolicy::default(), as_of, "lead", as_of)
        .unwrap();
    assert_eq!(
        (r.recipients_resealed, r.epochs_kept_locked),
        (1, 0),
        "{r:?}"
    );
    assert!(r.epochs_shredded >= 1);
    assert_eq!(reveal(&store, &b.order_id, as_of).unwrap().name, b.name);
    drop(store);
    let _ = &f.dir;
}

#[test]
fn nothing_is_destroyed_before_its_time() {
    let f = floor();
    let mut store = open_store(&f.data).unwrap();
    store
        .unlock(&MasterSource::IdentityFile(f.key.clone()))
        .unwrap();
    // Shipped on day 1: 29 days later the address is still there.
    let as_of = t("2026-11-24T10:00:00Z") + Duration::days(29);
    let r = store
        .purge(RetentionPolicy::default(), as_of, "lead", as_of)
        .unwrap();
    assert_eq!(r.recipients_destroyed, 0, "{r:?}");
    assert_eq!(
        reveal(&store, &f.people[0].order_id, as_of).unwrap().name,
        f.people[0].name
    );
    // A site that keeps less: 7 days.
    let r = store
        .purge(
            RetentionPolicy {
                pii_days_after_close: 7,
            },
            t("2026-12-02T10:00:00Z"),
            "lead",
            t("2026-12-02T10:00:00Z"),
        )
        .unwrap();
    assert_eq!(r.recipients_destroyed, 2, "{r:?}");
    // Order records stay six years; then go, and the day records that name them with them
    // (a day's manifest marks and its collection forms).
    let shipped_day = chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
    let later_day = chrono::NaiveDate::from_ymd_opt(2032, 11, 24).unwrap();
    store
        .keep_collection_form(shipped_day, "UPS", b"%PDF-1.4 form")
        .unwrap();
    store
        .keep_collection_form(later_day, "UPS", b"%PDF-1.4 form")
        .unwrap();
    let id = OrderId::parse(&f.people[0].order_id).unwrap();
    let r = store
        .purge(
            RetentionPolicy::default(),
            t("2032-11-20T00:00:00Z"),
            "lead",
            t("2032-11-20T00:00:00Z"),
        )
        .unwrap();
    assert_eq!(r.orders_deleted, 0);
    assert_eq!(r.day_records_deleted, 0, "{r:?}");
    assert!(store.get(&id).unwrap().is_some());
    assert_eq!(store.collection_forms(shipped_day).unwrap().len(), 1);
    let r = store
        .purge(
            RetentionPolicy::default(),
            t("2032-11-25T00:00:00Z"),
            "lead",
            t("2032-11-25T00:00:00Z"),
        )
        .unwrap();
    assert_eq!(
        r.orders_deleted, 2,
        "shipped and cancelled records go after six years: {r:?}"
    );
    assert!(r.day_records_deleted >= 1, "{r:?}");
    assert!(store.collection_forms(shipped_day).unwrap().is_empty());
    assert!(store.shipments_on(shipped_day).unwrap().is_empty());
    assert_eq!(
        store.collection_forms(later_day).unwrap().len(),
        1,
        "a day within its six years stays"
    );
    assert!(store.get(&id).unwrap().is_none());
    assert_eq!(store.order_count(), 1, "the open order stays");
}

#[test]
fn exception_notes_go_a_year_after_resolution() {
    let f = floor();
    let store_t = t("2026-11-25T10:00:00Z");
    let mut store = open_store(&f.data).unwrap();
    let b = OrderId::parse(&f.people[1].order_id).unwrap();
    store
        .raise_exception(&b, "packer", "box crushed", store_t)
        .unwrap();
    let resolved = store
        .resolve_exception(
            &b,
            packline::domain::OrderState::New,
            "lead",
            "repicked",
            store_t + Duration::hours(2),
        )
        .unwrap();
    assert_eq!(resolved.state, packline::domain::OrderState::New);
    assert_eq!(store.exception_notes(&b).unwrap().len(), 1);
    let r = store
        .purge(
            RetentionPolicy::default(),
            store_t + Duration::days(300),
            "lead",
            store_t + Duration::days(300),
        )
        .unwrap();
    assert_eq!(r.exception_notes_deleted, 0);
    let r = store
        .purge(
            RetentionPolicy::default(),
            store_t + Duration::days(366),
            "lead",
            store_t + Duration::days(366),
        )
        .unwrap();
    assert_eq!(r.exception_notes_deleted, 1);
    assert!(store.exception_notes(&b).unwrap().is_empty());
}

/// The words of a customer in an inquiry's note: distinctive enough that finding them anywhere
/// means they leaked.
const SOAKED: &str = "Ms Quillfeather says the parcel arrived soaked through, flat 4B";
const SOAKED_MORE: &str = "She sent photos of the Quillfeather kitchen floor";
const SETTLED: &str = "Refunded Quillfeather in full after the photos";
const STILL_OPEN: &str = "Mr Brackenridge asks where his order went";

fn note(s: &str) -> packline::domain::NoteText {
    packline::domain::NoteText::new(s).unwrap()
}

fn read_texts(store: &Store, id: u64, at: DateTime<Utc>) -> Result<Vec<String>, Error> {
    let (_, notes) = store.read_inquiry(id, "lead", at)?;
    Ok(notes.iter().map(|n| n.as_str().to_owned()).collect())
}

#[test]
fn inquiry_notes_are_destroyed_for_good_a_year_after_resolution() {
    use packline::domain::inquiry::{InquiryCategory, NoteKind};
    let f = floor();
    let (a, b) = (&f.people[0], &f.people[1]);
    let t0 = t("2026-11-23T10:00:00Z");
    let (opened, resolved) = (t0 + Duration::days(2), t0 + Duration::days(3));
    let (done, open) = {
        let mut store = open_store(&f.data).unwrap();
        // Opening, adding and resolving need no secret: the store stays locked.
        let a_id = OrderId::parse(&a.order_id).unwrap();
        let done = store
            .open_inquiry(&a_id, InquiryCategory::Damaged, &note(SOAKED), "bo", opened)
            .unwrap();
        store
            .add_inquiry_note(done.id, NoteKind::Note, &note(SOAKED_MORE), "bo", opened)
            .unwrap();
        let q = store
            .add_inquiry_note(
                done.id,
                NoteKind::Resolution,
                &note(SETTLED),
                "ana",
                resolved,
            )
            .unwrap();
        assert_eq!(q.resolved_at, Some(resolved));
        let b_id = OrderId::parse(&b.order_id).unwrap();
        let open = store
            .open_inquiry(
                &b_id,
                InquiryCategory::WhereIsMyOrder,
                &note(STILL_OPEN),
                "bo",
                opened,
            )
            .unwrap();
        assert_eq!((done.id, open.id), (1, 2));
        (done.id, open.id)
    };
    let mut store = open_store(&f.data).unwrap();
    store
        .unlock(&MasterSource::IdentityFile(f.key.clone()))
        .unwrap();
    assert_eq!(
        read_texts(&store, done, resolved).unwrap(),
        [SOAKED, SOAKED_MORE, SETTLED]
    );

    // Forty days on, A's and C's addresses go and their epoch is shredded: the notes sealed in it
    // move first (A's two to the epoch A's inquiry expires with, B's to the intake epoch; A's
    // resolution is there already), and still open.
    let day40 = t0 + Duration::days(40);
    let r = store
        .purge(RetentionPolicy::default(), day40, "lead", day40)
        .unwrap();
    assert_eq!(
        (
            r.recipients_destroyed,
            r.inquiry_notes_resealed,
            r.inquiries_deleted
        ),
        (2, 3, 0),
        "{r:?}"
    );
    assert!(r.epochs_shredded >= 1, "{r:?}");
    assert_eq!(
        read_texts(&store, done, day40).unwrap(),
        [SOAKED, SOAKED_MORE, SETTLED]
    );
    assert_eq!(read_texts(&store, open, day40).unwrap(), [STILL_OPEN]);

    // The year runs out at the start (UTC) of the day a year after the resolution: not before.
    let expiry = t("2027-11-26T00:00:00Z");
    let before = expiry - Duration::minutes(1);
    let r = store
        .purge(RetentionPolicy::default(), before, "lead", before)
        .unwrap();
    assert_eq!(r.inquiries_deleted, 0, "{r:?}");
    assert_eq!(store.inquiries().unwrap().len(), 2);
    let r = store
        .purge(RetentionPolicy::default(), expiry, "lead", expiry)
        .unwrap();
    assert_eq!(r.inquiries_deleted, 1, "{r:?}");
    assert!(
        r.epochs_shredded >= 1,
        "its expiry epoch is shredded: {r:?}"
    );
    assert!(store.inquiry(done).unwrap().is_none());
    assert!(matches!(
        store.read_inquiry(done, "lead", expiry),
        Err(Error::NoSuchInquiry(1))
    ));
    let left: Vec<u64> = store.inquiries().unwrap().iter().map(|q| q.id).collect();
    assert_eq!(left, [open], "the open inquiry stays");
    assert_eq!(read_texts(&store, open, expiry).unwrap(), [STILL_OPEN]);
    assert!(store.verify_audit().unwrap() > 0);
    drop(store);

    // Every key still in existence, the master's included, opens nothing of A's inquiry, in
    // any copy sled may have kept; the open one's note still opens.
    let keys = all_keys(&f.data, &f.key);
    let opened_now = open_everything(&f.data, &keys);
    let mut open_seen = false;
    for plain in &opened_now {
        for gone in [SOAKED, SOAKED_MORE, SETTLED] {
            assert!(
                find(plain, gone.as_bytes()).is_none(),
                "a destroyed inquiry note can still be decrypted"
            );
        }
        open_seen |= find(plain, STILL_OPEN.as_bytes()).is_some();
    }
    assert!(
        open_seen,
        "the open inquiry's note is among what still opens"
    );
    for file in files_under(&f.data) {
        let bytes = std::fs::read(&file).unwrap();
        for text in [SOAKED, SOAKED_MORE, SETTLED, STILL_OPEN] {
            assert!(
                find(&bytes, text.as_bytes()).is_none(),
                "{}: an inquiry note in the clear",
                file.display()
            );
        }
    }
}
