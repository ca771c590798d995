//! The audit log is tamper-evident: editing, deleting, reordering or truncating entries on disk
//! makes `packline audit verify` fail, naming the first bad entry.

use crate::common::*;

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

fn json_of(text: &str) -> serde_json::Value {
    assert_json_contract(text, "audit")
}

#[test]
fn audit_list_finds_a_reveal_by_user_and_order_and_holds_no_personal_value() {
    let site = site_with_history();
    let me = crate::common::floor::whoami();
    let people: Vec<Person> = hostile_people().into_iter().take(2).collect();
    let order = &people[1].order_id;
    let out = site.ok(&["audit", "list", "--user", &me, "--order", order, "--json"]);
    let page = json_of(&out);
    let entries = page["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{out}");
    assert_eq!(entries[0]["action"], "reveal");
    assert_eq!(entries[0]["order"], order.as_str());
    assert_eq!(entries[0]["user"], me.as_str());
    assert_eq!(entries[0]["seq"], 4);
    assert!(page["next_after"].is_null(), "{out}");
    // The reason stays sealed: the listing names where the words are, never the words.
    let reason = entries[0]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with(&format!("sealed note reveal/{order}/")),
        "{reason}"
    );
    // Nothing personal in any listing or export of the whole log.
    let all = site.ok(&["audit", "list"]);
    let export = site.ok(&["audit", "export", "--since", "1970-01-01"]);
    for p in &people {
        for v in p.values() {
            assert!(
                !all.contains(v) && !export.contains(v),
                "{v:?} in a listing"
            );
        }
    }
    // The text listing: a header and one line per entry, oldest first.
    let lines: Vec<&str> = all.lines().collect();
    assert_eq!(lines.len(), 6, "{all}");
    assert!(lines[0].contains("ACTION"), "{all}");
    assert!(lines[1].contains("keys_init"), "{all}");
    assert!(lines[5].contains("lookup_name"), "{all}");
}

#[test]
fn audit_list_pages_filters_by_action_and_time_and_export_keeps_the_chain() {
    let site = site_with_history();
    // Two at a time: the listing says where to go on, and going on gives the rest.
    let first = json_of(&site.ok(&["audit", "list", "--limit", "2", "--json"]));
    let seqs = |p: &serde_json::Value| -> Vec<u64> {
        p["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["seq"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(seqs(&first), [1, 2]);
    assert_eq!(first["next_after"], 2);
    let text = site.ok(&["audit", "list", "--limit", "2"]);
    assert!(
        text.ends_with("more entries may match: add --after 2 to see the next ones\n"),
        "{text}"
    );
    let rest = json_of(&site.ok(&["audit", "list", "--after", "2", "--json"]));
    assert_eq!(seqs(&rest), [3, 4, 5]);
    assert!(rest["next_after"].is_null());
    // By action, exactly.
    let reveals = json_of(&site.ok(&["audit", "list", "--action", "reveal", "--json"]));
    assert_eq!(seqs(&reveals), [3, 4]);
    // By time: nothing was done before 2000 nor will be after 2999.
    let none = site.ok(&["audit", "list", "--until", "2000-01-01"]);
    assert_eq!(none, "no audit entry matches\n");
    let none = json_of(&site.ok(&["audit", "list", "--since", "2999-01-01T00:00:00Z", "--json"]));
    assert_eq!(seqs(&none), Vec::<u64>::new());
    // The export: every entry as the log holds it, one a line, each following the one before.
    let export = site.ok(&["audit", "export", "--since", "1970-01-01"]);
    let lines: Vec<serde_json::Value> = export.lines().map(json_of).collect();
    assert_eq!(lines.len(), 5, "{export}");
    for pair in lines.windows(2) {
        assert_eq!(pair[1]["prev"], pair[0]["hash"]);
        assert_eq!(
            pair[1]["seq"].as_u64().unwrap(),
            pair[0]["seq"].as_u64().unwrap() + 1
        );
    }
    // Bad input is named.
    let out = site.run(&["audit", "list", "--since", "yesterday"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(
            "--since \"yesterday\" is neither a time such as 2026-12-01T08:00:00Z nor a day such as 2026-12-01"
        ),
        "{}",
        stderr(&out)
    );
    let out = site.run(&["audit", "export"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("audit export needs --since"),
        "{}",
        stderr(&out)
    );
    let out = site.run(&["audit", "list", "--order", "not an order"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("order id"), "{}", stderr(&out));
}

#[test]
fn only_leads_read_the_audit_log() {
    let lead = site_with_history();
    let me = crate::common::floor::whoami();
    let packer = Site::new(&format!("[roles]\npackers = [{me:?}]\n"));
    let out = packer
        .cmd()
        .env("PACKLINE_DATA_DIR", &lead.data)
        .args(["audit", "list"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("lead"), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
}
