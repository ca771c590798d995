//! The audit log is tamper-evident: editing, deleting, reordering or truncating entries on disk
//! makes `packline audit verify` fail, naming the first bad entry.

mod common;

use common::*;

/// A site with a handful of audit entries: keys created, import, two reveals, a name lookup.
fn site_with_history() -> Site {
    let site = Site::new("");
    site.init_identity_keys();
    let people: Vec<Person> = hostile_people().into_iter().take(2).collect();
    site.import(
        "a.json",
        &page(&people, "UNSHIPPED", "2026-11-23T10:00:00Z"),
    );
    for p in &people {
        site.ok_unlocked(&reveal_args(&p.order_id, "carrier asked"));
    }
    site.ok_unlocked(&["lookup", "--name", "nobody"]);
    assert_eq!(
        site.ok(&["audit", "verify"]),
        "audit log intact: 5 entries\n"
    );
    site
}

/// Copies the site's data dir, applies `tamper` to the copy's audit tree, runs verify on it.
fn verify_after(site: &Site, name: &str, tamper: impl FnOnce(&sled::Tree)) -> (bool, String) {
    let copy = site.dir.path().join(name);
    copy_dir(&site.data, &copy).unwrap();
    {
        let db = packline::store::raw_db(&copy).unwrap();
        let audit = db.open_tree("audit").unwrap();
        tamper(&audit);
        db.flush().unwrap();
    }
    let out = site
        .cmd()
        .env("PACKLINE_DATA_DIR", &copy)
        .args(["audit", "verify"])
        .output()
        .unwrap();
    (out.status.success(), stderr(&out))
}

fn key(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

#[test]
fn audit_entries_hold_no_personal_data_and_name_the_reason() {
    let site = site_with_history();
    let db_files = files_under(&site.data.join("db"));
    assert!(!db_files.is_empty());
    let copy = site.dir.path().join("peek");
    copy_dir(&site.data, &copy).unwrap();
    let entries = audit_entries(&copy);
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["keys_init", "import", "reveal", "reveal", "lookup_name"]
    );
    // The reason is sealed: the entry names where, never the words.
    let reason = entries[2]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("sealed note reveal/902-0001000-0004000/"),
        "{reason}"
    );
    assert_eq!(entries[2]["order"], "902-0001000-0004000");
    let text = serde_json::to_string(&entries).unwrap();
    for p in hostile_people().iter().take(2) {
        for v in p.values() {
            assert!(!text.contains(v));
        }
    }
}

#[test]
fn an_edited_entry_is_detected() {
    let site = site_with_history();
    let (ok, err) = verify_after(&site, "edited", |audit| {
        let v = audit.get(key(2)).unwrap().unwrap();
        let mut e: serde_json::Value = serde_json::from_slice(&v).unwrap();
        e["reason"] = "nothing to see".into();
        audit
            .insert(key(2), serde_json::to_vec(&e).unwrap())
            .unwrap();
    });
    assert!(!ok);
    assert!(
        err.contains("audit entry 2 does not match its hash (edited)"),
        "{err}"
    );
}

#[test]
fn a_deleted_entry_is_detected() {
    let site = site_with_history();
    let (ok, err) = verify_after(&site, "deleted", |audit| {
        audit.remove(key(2)).unwrap();
    });
    assert!(!ok);
    assert!(err.contains("audit entry 2 is missing"), "{err}");
}

#[test]
fn reordered_entries_are_detected() {
    let site = site_with_history();
    let (ok, err) = verify_after(&site, "reordered", |audit| {
        let two = audit.get(key(2)).unwrap().unwrap();
        let three = audit.get(key(3)).unwrap().unwrap();
        audit.insert(key(2), three).unwrap();
        audit.insert(key(3), two).unwrap();
    });
    assert!(!ok);
    assert!(err.contains("audit entry 2 holds entry 3"), "{err}");
}

#[test]
fn a_rewritten_chain_is_detected() {
    // Renumbering after a delete keeps sequence numbers whole but breaks the hash links.
    let site = site_with_history();
    let (ok, err) = verify_after(&site, "renumbered", |audit| {
        let mut e3: serde_json::Value =
            serde_json::from_slice(&audit.get(key(3)).unwrap().unwrap()).unwrap();
        e3["seq"] = 2.into();
        audit
            .insert(key(2), serde_json::to_vec(&e3).unwrap())
            .unwrap();
        audit.remove(key(3)).unwrap();
        audit.remove(key(4)).unwrap();
        audit.remove(key(5)).unwrap();
    });
    assert!(!ok);
    assert!(
        err.contains("audit entry 2 does not follow entry 1"),
        "{err}"
    );
}

#[test]
fn a_truncated_tail_is_detected() {
    let site = site_with_history();
    let (ok, err) = verify_after(&site, "truncated", |audit| {
        audit.remove(key(5)).unwrap();
    });
    assert!(!ok);
    assert!(
        err.contains("the log ends at entry 4 but 5 entries were written"),
        "{err}"
    );
}

#[test]
fn a_wiped_log_is_detected() {
    let site = site_with_history();
    let (ok, err) = verify_after(&site, "wiped", |audit| {
        audit.clear().unwrap();
    });
    assert!(!ok);
    assert!(err.contains("the audit log is empty"), "{err}");
}

#[test]
fn a_replaced_last_entry_is_detected() {
    // The last entry rewritten with a hash consistent with its new content: the chain alone
    // cannot tell, the head record can.
    let site = site_with_history();
    let (ok, err) = verify_after(&site, "replaced", |audit| {
        use sha2::Digest;
        let mut e: serde_json::Value =
            serde_json::from_slice(&audit.get(key(5)).unwrap().unwrap()).unwrap();
        e["reason"] = "0 found, honest".into();
        // The store hashes these fields, in this order, as compact JSON.
        let hashed = format!(
            r#"{{"seq":{},"at":{},"user":{},"action":{},"order":{},"reason":{},"prev":{}}}"#,
            e["seq"], e["at"], e["user"], e["action"], e["order"], e["reason"], e["prev"]
        );
        let hash: String = sha2::Sha256::digest(hashed.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        e["hash"] = hash.into();
        audit
            .insert(key(5), serde_json::to_vec(&e).unwrap())
            .unwrap();
    });
    assert!(!ok);
    assert!(
        err.contains("audit entry 5 is not the entry that was written last"),
        "{err}"
    );
}
