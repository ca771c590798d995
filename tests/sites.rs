//! Several sites on one PostgreSQL database (docs/postgres.md, "Sites"): each site's trees and
//! keyring are its own; the site that syncs the account routes each order to the site that
//! ships it (`[[routing]]`), sealed to the intake key that site published, so no other site's
//! lead can read it and the database never holds it in the clear.

mod common;

use common::*;
use serde_json::Value;

/// A site named `name` on the database of `first`.
fn second_site(first: &Site, name: &str) -> Site {
    let (url, _) = common::stores::database(&first.data);
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

fn order_ids(site: &Site) -> Vec<String> {
    let list: Value = serde_json::from_str(&site.ok(&["orders", "list", "--json"])).unwrap();
    let mut ids: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["order_id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
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
    assert_eq!(order_ids(&main), vec![east.clone()]);
    assert!(order_ids(&reno).is_empty());

    // Its daemon publishes its intake key as it starts; the next import takes the order there.
    drop(start_daemon(&reno));
    let out = main.import(
        "p2.json",
        &page(&people, "UNSHIPPED", "2026-11-23T11:00:00Z"),
    );
    assert!(out.contains("imported 1 new"), "{out}");
    assert!(!out.contains("set aside"), "{out}");
    assert_eq!(order_ids(&main), vec![east.clone()]);
    assert_eq!(order_ids(&reno), vec![west.clone()]);
    assert!(!main.ok(&["sync", "problems"]).contains(&west));

    // A later change to the order reaches it where it went (not a second copy here), even
    // once the rules would send it elsewhere.
    let out = main.import(
        "p3.json",
        &page(&people[..1], "CANCELLED", "2026-11-23T12:00:00Z"),
    );
    assert!(out.contains("1 cancelled"), "{out}");
    assert_eq!(order_ids(&main), vec![east.clone()]);

    // Reno's lead reads its recipient; main's lead cannot, anywhere.
    let shown = reno.ok_unlocked(&reveal_args(&west, "carrier asked"));
    assert!(shown.contains(&people[0].city), "{shown}");
    let out = main.run_unlocked(&reveal_args(&west, "carrier asked"));
    assert!(!out.status.success());
    assert!(!String::from_utf8_lossy(&out.stdout).contains(&people[0].city));

    // A lead moves an order waiting here to reno: re-sealed for reno, gone from here (audited),
    // and Amazon's later changes follow it there.
    let refused = main.run_unlocked(&["orders", "move", &east, "--site", "nowhere"]);
    assert_fails(&refused, "site nowhere has no keyed store on this database");
    assert_eq!(
        order_ids(&main),
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
    assert!(order_ids(&main).is_empty());
    assert_eq!(order_ids(&reno), {
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
    let out = main.import(
        "p4.json",
        &page(&people[1..], "UNSHIPPED", "2026-11-23T13:00:00Z"),
    );
    assert!(out.contains("imported 0 new, 1 updated"), "{out}");
    assert!(order_ids(&main).is_empty());

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
    let dump = common::stores::cluster_always()
        .dump(&common::stores::database_name(&main.data))
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
