//! Personal data never reaches the disk in the clear: import hostile recipients (locked and
//! unlocked), reveal and look them up, then read every byte under the data dir and the log.

mod common;

use common::*;

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
    // A bad file with personal data in a wrong-typed place: the error names the place only,
    // on the terminal and in the log.
    let mut bad = page(&people[..1], "UNSHIPPED", "2026-11-23T11:00:00Z");
    bad["orders"][0]["recipient"] = serde_json::json!("Flat 2\" \"Rosebud\" Cottage Lane");
    let f = site.write_page("bad.json", &bad);
    let out = site.run(&["import", f.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("orders[0].recipient") && !err.contains("Rosebud"),
        "{err}"
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
