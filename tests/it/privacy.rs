//! Personal data never reaches the disk in the clear: import hostile recipients (locked and
//! unlocked), reveal and look them up, then read every byte under the data dir and the log.

use crate::common::*;

#[test]
fn hostile_import_leaves_no_personal_bytes_on_disk_or_in_logs() {
    let site = Site::new("");
    site.init_identity_keys();
    let people = hostile_people();
    let (locked_half, unlocked_half) = people.split_at(5);

    // Imported while locked: sealed with public keys only, names indexed at the next unlock.
    let out = site.import(
        "locked.json",
        &page(locked_half, "UNSHIPPED", "2026-11-23T10:00:00Z"),
    );
    assert_eq!(out.lines().next().unwrap(), "imported 5 new, 0 updated");
    // Imported with the master key at hand: names indexed at once.
    let p = site.write_page(
        "unlocked.json",
        &page(unlocked_half, "PARTIALLY_SHIPPED", "2026-11-23T10:00:00Z"),
    );
    let out = site.ok_unlocked(&["import", p.to_str().unwrap()]);
    assert_eq!(
        out.lines().next().unwrap(),
        format!("imported {} new, 0 updated", unlocked_half.len())
    );

    // A reveal shows every control character escaped, never raw.
    let eve = &people[5];
    let shown = site.ok_unlocked(&reveal_args(&eve.order_id, "label check"));
    assert!(
        !shown.bytes().any(|b| b == 0x1b || b == 0x07),
        "raw control byte in reveal: {shown:?}"
    );
    assert!(
        shown.contains("name: \\u{001B}[2J\\u{001B}]0;owned\\u{0007}Eve Escapington"),
        "{shown}"
    );
    let mallory = &people[6];
    let shown = site.ok_unlocked(&reveal_args(&mallory.order_id, "address check"));
    assert!(
        shown.contains("Mallory \\u{202E}reversed\\u{202C} Overrideson"),
        "{shown}"
    );
    assert!(!shown.contains('\u{202E}'));

    // Name lookups work for every script, through the blind index.
    for (i, p) in people.iter().enumerate().take(9) {
        let found = site.ok_unlocked(&["lookup", "--name", &p.name]);
        assert!(
            found.lines().any(|l| l == p.order_id),
            "person {i} not found by full name: {found}"
        );
    }
    let found = site.ok_unlocked(&["lookup", "--name", "ostrovsky"]);
    assert_eq!(found, "", "no false positives");
    let found = site.ok_unlocked(&["lookup", "--name", "yaroslavsky"]);
    assert_eq!(found, "");
    let found = site.ok_unlocked(&["lookup", "--name", "ДМИТРИЙ"]);
    assert_eq!(
        found.trim(),
        people[0].order_id,
        "case-folded Cyrillic word"
    );

    let mut needles: Vec<(&str, &str)> = Vec::new();
    // An order with personal data in a wrong-typed place: it is set aside, and what names it
    // names the place only, on the terminal, in the store and in the log.
    let mut bad = page(&people[..1], "UNSHIPPED", "2026-11-23T11:00:00Z");
    bad["orders"][0]["recipient"] = serde_json::json!("Flat 2\" \"Rosebud\" Cottage Lane");
    let f = site.write_page("bad.json", &bad);
    let out = site.run(&["import", f.to_str().unwrap()]);
    assert_ok(&out, &["import", "bad.json"]);
    let said = String::from_utf8_lossy(&out.stdout).into_owned() + &stderr(&out);
    assert!(
        said.contains("1 set aside")
            && said.contains("orders[0].recipient")
            && !said.contains("Rosebud"),
        "{said}"
    );
    needles.push(("bad file", "Rosebud"));

    // Listings show masks only.
    let listing = site.ok(&["orders", "list"]) + &site.ok(&["orders", "list", "--json"]);
    for p in &people {
        for v in p.values() {
            assert!(!listing.contains(v), "listing leaks a personal value");
        }
    }
    assert!(listing.contains("Д. Я****"), "{listing}");

    // Every byte on disk: data dir (sled, keyring) and the log.
    let mut files = files_under(&site.data);
    files.push(site.log.clone());
    assert!(files.len() > 3, "{files:?}");
    for p in &people {
        for v in p.values() {
            needles.push((&p.order_id, v));
        }
    }
    for v in BUYER_VALUES {
        needles.push(("buyer", v));
    }
    // Whole values, and 24-byte pieces of long ones (a truncated copy is a leak too).
    let mut pieces: Vec<(&str, &[u8])> = Vec::new();
    for (owner, v) in &needles {
        let b = v.as_bytes();
        pieces.push((owner, b));
        if b.len() > 48 {
            for start in (0..b.len() - 24).step_by(997) {
                pieces.push((owner, &b[start..start + 24]));
            }
        }
    }
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        for (owner, piece) in &pieces {
            assert!(
                find(&bytes, piece).is_none(),
                "{}: holds personal data of {owner} in the clear",
                f.display()
            );
        }
    }
    // The audit log holds the reveals with their reasons, but no personal data (it is on disk,
    // so the scan above covered it); check the chain too.
    let verified = site.ok(&["audit", "verify"]);
    assert!(verified.starts_with("audit log intact: "), "{verified}");
}

/// A customer's words in an inquiry reach the disk only sealed, and the audit log records who
/// read them, never what they say.
#[test]
fn inquiry_notes_leave_no_plaintext_on_disk_or_in_logs() {
    let site = Site::new("");
    site.init_identity_keys();
    let people: Vec<Person> = hostile_people().into_iter().take(1).collect();
    site.import(
        "a.json",
        &page(&people, "UNSHIPPED", "2026-11-23T10:00:00Z"),
    );
    let order = people[0].order_id.as_str();
    let asked = "Customer Ottoline Vexworth: the lamp came cracked, call +44 20 7946 0321";
    let more = "Vexworth again: she will send photos to the usual place \u{1b}[31mtoday";
    let settled = "Sent Vexworth a replacement lamp, tracking to follow";
    let out = site.ok(&[
        "inquiry",
        "open",
        order,
        "--category",
        "damaged",
        "--note",
        asked,
    ]);
    assert_eq!(
        out,
        format!("inquiry 1 opened on order {order} (damaged)\n")
    );
    // From standard input: the text stays out of the process list.
    let mut child = site
        .cmd()
        .args(["inquiry", "note", "1", "--note", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), more.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_ok(&out, &["inquiry", "note"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "done\n");
    site.ok(&["inquiry", "resolve", "1", "--resolution", settled]);

    // A lead reads them back, every control character escaped.
    let shown: serde_json::Value =
        serde_json::from_str(&site.ok_unlocked(&["inquiry", "show", "1", "--json"])).unwrap();
    let texts: Vec<&str> = shown["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        [
            asked,
            "Vexworth again: she will send photos to the usual place \\u{001B}[31mtoday",
            settled
        ]
    );
    let text = site.ok_unlocked(&["inquiry", "show", "1"]);
    assert!(!text.contains('\u{1b}'), "{text:?}");
    // Reading is audited: who, which inquiry, which order, and nothing of the text.
    let reads: Vec<serde_json::Value> = audit_entries(&site.data)
        .into_iter()
        .filter(|e| e["action"] == "inquiry_read")
        .collect();
    assert_eq!(reads.len(), 2, "{reads:?}");
    assert_eq!(reads[0]["order"], order);
    assert_eq!(reads[0]["reason"], "inquiry 1");

    // The list shows records only.
    let listing = site.ok(&["inquiry", "list"]) + &site.ok(&["inquiry", "list", "--json"]);
    let mut files = files_under(&site.data);
    files.push(site.log.clone());
    for needle in [
        "Ottoline",
        "Vexworth",
        "7946 0321",
        "cracked",
        "replacement lamp",
    ] {
        assert!(!listing.contains(needle), "the list shows {needle:?}");
        for f in &files {
            let bytes = std::fs::read(f).unwrap();
            assert!(
                find(&bytes, needle.as_bytes()).is_none(),
                "{}: holds {needle:?} in the clear",
                f.display()
            );
        }
    }
}

/// A made-up name people on the floor type into notes and reasons: finding its bytes anywhere
/// on disk, in a backup or in the log means a typed word leaked.
const TYPED_NAME: &str = "Quartermaine";

#[test]
fn typed_notes_and_reasons_leave_no_plaintext_on_disk_in_backups_or_logs() {
    let site = Site::new("");
    site.init_identity_keys();
    let people: Vec<Person> = hostile_people().into_iter().take(2).collect();
    site.import(
        "a.json",
        &page(&people, "UNSHIPPED", "2026-11-23T10:00:00Z"),
    );
    let (first, second) = (people[0].order_id.as_str(), people[1].order_id.as_str());
    let note = "Zebulon Quartermaine came to the dock: box crushed";
    let resolution = "Quartermaine took the crushed box back; repack";
    let hold = "Zebulon Quartermaine phoned to change the address";
    let reveal = "Quartermaine's carrier asked for the street";

    site.ok(&["exceptions", "raise", first, "--note", note]);
    // Locked, a lead sees that there is a note, not its words.
    let locked: serde_json::Value =
        serde_json::from_str(&site.ok(&["exceptions", "list", "--json"])).unwrap();
    assert_eq!(locked[0]["note"]["kind"], "sealed", "{locked}");
    let text = site.ok(&["exceptions", "list"]);
    assert!(
        text.contains(packline::domain::SEALED_PLACEHOLDER),
        "{text}"
    );
    assert!(!text.contains(TYPED_NAME), "{text}");
    // Unlocked, the lead reads them; the reading is audited, naming the note, not its words.
    let open: serde_json::Value =
        serde_json::from_str(&site.ok_unlocked(&["exceptions", "list", "--json"])).unwrap();
    assert_eq!(open[0]["note"]["text"], note, "{open}");
    assert!(
        site.ok_unlocked(&["exceptions", "list"]).contains(note),
        "the lead's table shows the note"
    );
    site.ok(&[
        "exceptions",
        "resolve",
        first,
        "--to",
        "new",
        "--resolution",
        resolution,
    ]);

    site.ok(&["orders", "hold", second, "--reason", hold]);
    let held: serde_json::Value =
        serde_json::from_str(&site.ok(&["orders", "holds", "--json"])).unwrap();
    assert_eq!(held[0]["hold"]["reason"]["kind"], "sealed", "{held}");
    let held: serde_json::Value =
        serde_json::from_str(&site.ok_unlocked(&["orders", "holds", "--json"])).unwrap();
    assert_eq!(held[0]["hold"]["reason"]["text"], hold, "{held}");
    // The order lists every role reads say it is held, by whom and since when, never why.
    let listed = site.ok_unlocked(&["orders", "list", "--json"]);
    assert!(!listed.contains(TYPED_NAME), "{listed}");
    assert!(listed.contains("\"sealed\""), "{listed}");
    // A refusal names who and since when, never the reason.
    let out = site.run(&["pack", "start", second]);
    assert_fails(&out, &format!("order {second} is on hold (since "));
    assert_fails(&out, "a lead can read the reason");
    assert!(!stderr(&out).contains(TYPED_NAME), "{}", stderr(&out));

    site.ok_unlocked(&reveal_args(second, reveal));

    // The audit log names sealed references for every typed word, and still verifies.
    let entries = audit_entries(&site.data);
    let reason_of = |action: &str| -> Vec<String> {
        entries
            .iter()
            .filter(|e| e["action"] == action)
            .map(|e| e["reason"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    assert_eq!(
        reason_of("raise_exception"),
        [format!("sealed note exceptions/{first}/0")]
    );
    assert_eq!(
        reason_of("resolve"),
        [format!("sealed note exceptions/{first}/0/resolution")]
    );
    assert_eq!(reason_of("hold"), [format!("sealed note hold/{second}")]);
    assert!(
        reason_of("reveal")[0].starts_with(&format!("sealed note reveal/{second}/")),
        "{:?}",
        reason_of("reveal")
    );
    assert_eq!(
        reason_of("note_read"),
        [
            format!("sealed note exceptions/{first}/0"),
            format!("sealed note exceptions/{first}/0"),
            format!("sealed note hold/{second}")
        ]
    );
    site.ok(&["audit", "verify"]);

    let backups = tempfile::tempdir().unwrap();
    let b: serde_json::Value =
        serde_json::from_str(&site.ok(&["backup", backups.path().to_str().unwrap(), "--json"]))
            .unwrap();
    assert!(b["dir"].is_string(), "{b}");

    let mut files = files_under(&site.data);
    files.extend(files_under(backups.path()));
    files.push(site.log.clone());
    assert!(files.len() > 3, "{files:?}");
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        assert!(
            find(&bytes, TYPED_NAME.as_bytes()).is_none(),
            "{}: holds a typed name in the clear",
            f.display()
        );
    }
}

/// A store with an exception note and a hold, as a lead sees them, then a purge a year after the
/// resolution: the note's words are deleted and their epoch shredded (its envelope can never be
/// opened again), the hold's go with its release.
#[test]
fn a_purge_a_year_after_resolution_shreds_the_notes_epoch() {
    use chrono::{Duration, Utc};
    use packline::domain::{FreeText, Hold, NoteText, OrderId, OrderState, RetentionPolicy};

    let dir = tempfile::tempdir().unwrap();
    let mut store = unlocked_store(dir.path());
    let p = person("905-0000000-0000001", "Ann Example");
    let q = person("905-0000000-0000002", "Bo Example");
    let now = Utc::now();
    imp(
        &mut store,
        &[&p, &q],
        "UNSHIPPED",
        "2026-11-23T10:00:00Z",
        now,
    );
    let id = OrderId::parse(&p.order_id).unwrap();
    let other = OrderId::parse(&q.order_id).unwrap();
    store
        .raise_exception(&id, "pat", "Zebulon Quartermaine came to the dock", now)
        .unwrap();
    store
        .resolve_exception(&id, OrderState::New, "lee", "Quartermaine took it", now)
        .unwrap();
    let note_ref = format!("exceptions/{id}/0");
    let envelope = store.sealed_text(&note_ref).unwrap().expect("sealed");
    assert!(find(&envelope, TYPED_NAME.as_bytes()).is_none());

    // The lead reads them back; what the store hands out is sealed until then.
    let notes = store.exception_notes(&id).unwrap();
    assert_eq!(notes[0].note, FreeText::Sealed(note_ref.clone()));
    let (mut a, mut b) = (notes[0].note.clone(), notes[0].resolution.clone().unwrap());
    assert_eq!(
        store
            .open_free_texts(&mut [&mut a, &mut b], "lee", Some(&id), now)
            .unwrap(),
        2
    );
    assert_eq!(a.shown(), "Zebulon Quartermaine came to the dock");
    assert_eq!(b.shown(), "Quartermaine took it");

    // A hold's words go when it is released.
    let hold = Hold {
        reason: FreeText::Open(NoteText::new("Quartermaine phoned").unwrap()),
        by: "lee".into(),
        since: now,
    };
    assert!(store.place_hold(&other, &hold, false).unwrap());
    let hold_ref = format!("hold/{other}");
    assert!(store.sealed_text(&hold_ref).unwrap().is_some());
    let released = store.release_hold(&other, "lee", now).unwrap();
    assert_eq!(released.reason, FreeText::Sealed(hold_ref.clone()));
    assert!(store.sealed_text(&hold_ref).unwrap().is_none());

    // A reveal's reason goes with the order's recipient (30 days after it shipped).
    store
        .reveal(&other, "lee", "Quartermaine's carrier asked", now)
        .unwrap();
    let reveal_ref = format!("reveal/{other}/{}", now.timestamp_nanos_opt().unwrap());
    assert!(store.sealed_text(&reveal_ref).unwrap().is_some());
    ship(&store, other.as_str(), now);
    let month = store
        .purge(
            RetentionPolicy::default(),
            now + Duration::days(31),
            "lead",
            now,
        )
        .unwrap();
    assert_eq!(month.recipients_destroyed, 1, "{month:?}");
    assert_eq!(month.sealed_notes_deleted, 1, "{month:?}");
    assert!(store.sealed_text(&reveal_ref).unwrap().is_none());

    // Within the year the exception's words stay.
    let early = store
        .purge(
            RetentionPolicy::default(),
            now + Duration::days(300),
            "lead",
            now,
        )
        .unwrap();
    assert_eq!(early.exception_notes_deleted, 0, "{early:?}");
    assert!(store.sealed_text(&note_ref).unwrap().is_some());

    let report = store
        .purge(
            RetentionPolicy::default(),
            now + Duration::days(366),
            "lead",
            now,
        )
        .unwrap();
    assert_eq!(report.exception_notes_deleted, 1, "{report:?}");
    assert_eq!(report.sealed_notes_deleted, 2, "{report:?}");
    assert!(report.epochs_shredded >= 1, "{report:?}");
    assert!(store.exception_notes(&id).unwrap().is_empty());
    assert!(store.sealed_text(&note_ref).unwrap().is_none());
    // No copy of the words can be opened: their epoch's secret is gone, master key included.
    let epoch = packline::store::seal::envelope_epoch(&envelope).unwrap();
    assert!(!store.keyring().has_epoch(epoch));
    assert!(matches!(
        store.keyring().open_note(&envelope, "test"),
        Err(packline::store::Error::EpochShredded { .. })
    ));
    // The open orders' recipients were moved out first and still open.
    assert!(store.reveal(&id, "lee", "label reprint", now).is_ok());
    store.verify_audit().unwrap();
}

/// A store written before notes were sealed holds exception notes (JSON) and hold reasons in the
/// clear: opening it seals them once, in place, and the audit log still verifies, with one
/// `redaction` entry saying how much was sealed.
#[test]
fn opening_an_older_store_seals_its_plaintext_notes_once() {
    use chrono::Utc;
    use packline::domain::{FreeText, OrderId};
    use packline::store::Store;

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let p = person("906-0000000-0000001", "Ann Example");
    let id = OrderId::parse(&p.order_id).unwrap();
    {
        let mut store = unlocked_store(dir.path());
        imp(
            &mut store,
            &[&p],
            "UNSHIPPED",
            "2026-11-23T10:00:00Z",
            Utc::now(),
        );
        store
            .reveal(&id, "lee", "carrier asked", Utc::now())
            .unwrap();
    }
    // What the older packline wrote: JSON notes, a postcard hold, the reason in the clear.
    {
        let db = packline::store::raw_db(&data).unwrap();
        let old = serde_json::json!([{
            "raised_at": "2026-11-23T12:00:00Z",
            "raised_by": "pat",
            "note": "Zebulon Quartermaine came to the dock",
            "resolved_at": "2026-11-23T13:00:00Z",
            "resolved_by": "lee",
            "resolution": "Quartermaine took it",
        }, {
            "raised_at": "2026-11-23T14:00:00Z",
            "raised_by": "packline",
            "note": "a label was bought (shipment S1, package 1) while the order was labelled: void it or resolve to Labelled",
            "resolved_at": null,
            "resolved_by": null,
            "resolution": null,
        }]);
        db.open_tree("exceptions")
            .unwrap()
            .insert(id.as_str(), serde_json::to_vec(&old).unwrap())
            .unwrap();
        #[derive(serde::Serialize)]
        struct OldHold<'a> {
            reason: &'a str,
            by: &'a str,
            since: chrono::DateTime<Utc>,
        }
        let mut k = vec![b'h'];
        k.extend_from_slice(id.as_str().as_bytes());
        let v = postcard::to_stdvec(&OldHold {
            reason: "Quartermaine phoned",
            by: "lee",
            since: Utc::now(),
        })
        .unwrap();
        db.open_tree("floor").unwrap().insert(k, v).unwrap();
        db.flush().unwrap();
    }
    let mut store = Store::open(&data).unwrap();
    let notes = store.exception_notes(&id).unwrap();
    assert_eq!(
        notes[0].note,
        FreeText::Sealed(format!("exceptions/{id}/0"))
    );
    assert_eq!(
        notes[0].resolution,
        Some(FreeText::Sealed(format!("exceptions/{id}/0/resolution")))
    );
    // packline's own words stay readable (`check` reads them).
    assert!(matches!(&notes[1].note, FreeText::System(s) if s.starts_with("a label was bought")));
    let hold = store.hold_of(&id).unwrap().unwrap();
    assert_eq!(hold.reason, FreeText::Sealed(format!("hold/{id}")));
    assert_eq!(hold.by, "lee");
    store
        .unlock(&packline::store::MasterSource::IdentityFile(
            dir.path().join("master.key"),
        ))
        .unwrap();
    let (mut a, mut b) = (notes[0].note.clone(), hold.reason.clone());
    store
        .open_free_texts(&mut [&mut a, &mut b], "lee", Some(&id), Utc::now())
        .unwrap();
    assert_eq!(a.shown(), "Zebulon Quartermaine came to the dock");
    assert_eq!(b.shown(), "Quartermaine phoned");
    let entries = store.verify_audit().unwrap();
    drop(store);

    let redactions = |data: &std::path::Path| -> Vec<String> {
        audit_entries(data)
            .into_iter()
            .filter(|e| e["action"] == "redaction")
            .map(|e| e["reason"].as_str().unwrap().to_owned())
            .collect()
    };
    // Two notes and a hold reason sealed (the reveal's entry, written by this packline, names a
    // sealed reference: no earlier entry holds words).
    assert_eq!(
        redactions(&data),
        [
            "3 records' free text sealed; 0 earlier audit entries hold free text (kept: the log is hash-chained) until the log expires"
        ]
    );
    // Once: opening again changes nothing.
    let store = Store::open(&data).unwrap();
    assert_eq!(store.verify_audit().unwrap(), entries);
    drop(store);
    assert_eq!(redactions(&data).len(), 1);
}
