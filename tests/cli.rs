//! The command line as a lead or a script uses it: keys, import, listing, lookup, bad input.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::*;
use serde_json::json;

fn simple_person(id: &str, name: &str) -> Person {
    Person {
        order_id: id.into(),
        name: name.into(),
        company: String::new(),
        line1: format!("1 {name} Road"),
        line2: String::new(),
        city: "Springfield".into(),
        district: String::new(),
        region: "IL".into(),
        postal: "62701".into(),
        phone: "+1 555 0100".into(),
        instructions: String::new(),
        gift: String::new(),
    }
}

fn me() -> String {
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .unwrap()
        .unwrap()
        .name
}

#[test]
fn locked_store_imports_but_refuses_reveal() {
    let site = Site::new("");
    site.init_identity_keys();
    let p = simple_person("111-0000001-0000001", "Jane Doe");
    assert_eq!(
        site.import(
            "a.json",
            &page(
                std::slice::from_ref(&p),
                "UNSHIPPED",
                "2026-11-23T10:00:00Z"
            )
        ),
        "imported 1 new, 0 updated\n"
    );
    let out = site.run(&reveal_args(&p.order_id, "why"));
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("the store is locked") && err.contains("a lead holds"),
        "{err}"
    );
    assert!(err.contains("identity_file"), "says how to unlock: {err}");
    assert!(!err.contains("Jane"));
    // A reveal needs a reason: none at all, or a blank one.
    let out = site.run_unlocked(&["lookup", "--order", &p.order_id, "--reveal"]);
    assert!(!out.status.success());
    let out = site.run_unlocked(&reveal_args(&p.order_id, "  "));
    assert_fails(&out, "a reveal needs a reason");
    let shown = site.ok_unlocked(&reveal_args(&p.order_id, "why"));
    assert!(shown.contains("name: Jane Doe"));
}

#[test]
fn identity_file_readable_by_others_is_refused() {
    let site = Site::new("");
    site.init_identity_keys();
    let mode = std::fs::metadata(&site.key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "keys init writes the identity 0600");
    let p = simple_person("111-0000001-0000002", "Jane Doe");
    site.import(
        "a.json",
        &page(
            std::slice::from_ref(&p),
            "UNSHIPPED",
            "2026-11-23T10:00:00Z",
        ),
    );
    std::fs::set_permissions(&site.key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = site.run_unlocked(&reveal_args(&p.order_id, "x"));
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("has mode 644") && err.contains("chmod 600"),
        "{err}"
    );
    // Importing needs no secret: a key that cannot be used only postpones name indexing.
    let q = simple_person("111-0000001-0000003", "Later Indexed");
    let f = site.write_page(
        "b.json",
        &page(
            std::slice::from_ref(&q),
            "UNSHIPPED",
            "2026-11-23T10:00:00Z",
        ),
    );
    let out = site.run_unlocked(&["import", f.to_str().unwrap()]);
    assert_ok(&out, &["import"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "imported 1 new, 0 updated\n"
    );
    assert!(
        stderr(&out).contains("importing locked"),
        "{}",
        stderr(&out)
    );
    // keys init never overwrites a key file.
    let other = Site::new("");
    let out = other.run(&[
        "keys",
        "init",
        "--identity-file",
        site.key.to_str().unwrap(),
    ]);
    assert_fails(&out, "already exists");
}

#[test]
fn lookup_by_name_through_the_blind_index() {
    let site = Site::new("");
    site.init_identity_keys();
    let people = [
        simple_person("111-0000002-0000001", "Jane Doe"),
        simple_person("111-0000002-0000002", "John Doe"),
        simple_person("111-0000002-0000003", "Jane Roe"),
        simple_person("111-0000002-0000004", "Ｊａｎｅ　ＤＯＥ"),
    ];
    site.import(
        "a.json",
        &page(&people, "UNSHIPPED", "2026-11-23T10:00:00Z"),
    );
    let ids = |q: &str| -> Vec<String> {
        site.ok_unlocked(&["lookup", "--name", q])
            .lines()
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(
        ids("doe"),
        [
            "111-0000002-0000001",
            "111-0000002-0000002",
            "111-0000002-0000004"
        ]
    );
    assert_eq!(
        ids("JANE  DOE"),
        ["111-0000002-0000001", "111-0000002-0000004"]
    );
    assert_eq!(
        ids("jane"),
        [
            "111-0000002-0000001",
            "111-0000002-0000003",
            "111-0000002-0000004"
        ]
    );
    assert!(ids("nobody").is_empty());
    assert!(ids("jan").is_empty(), "words match whole, not as prefixes");
    // Locked, a name lookup is refused (the index key is sealed).
    let out = site.run(&["lookup", "--name", "doe"]);
    assert_fails(&out, "a name lookup needs the site's master key");
}

#[test]
fn passphrase_site_unlocks_with_the_passphrase_only() {
    let site = Site::new("");
    std::fs::write(&site.passphrase, "correct horse battery staple\n").unwrap();
    site.ok(&[
        "keys",
        "init",
        "--passphrase-file",
        site.passphrase.to_str().unwrap(),
    ]);
    let keyring = std::fs::read_to_string(site.data.join("keyring.json")).unwrap();
    assert!(keyring.contains("\"protection\": \"passphrase\""));
    assert!(
        !keyring.contains("AGE-SECRET-KEY"),
        "no secret in the clear"
    );
    let p = simple_person("111-0000003-0000001", "Pass Phrase");
    site.import(
        "a.json",
        &page(
            std::slice::from_ref(&p),
            "UNSHIPPED",
            "2026-11-23T10:00:00Z",
        ),
    );
    let args = [
        "lookup",
        "--order",
        &p.order_id,
        "--reveal",
        "--reason",
        "x",
    ];
    let out = site
        .cmd()
        .arg("--passphrase-file")
        .arg(&site.passphrase)
        .args(args)
        .output()
        .unwrap();
    assert_ok(&out, &args);
    assert!(String::from_utf8_lossy(&out.stdout).contains("name: Pass Phrase"));
    let wrong = site.dir.path().join("wrong");
    std::fs::write(&wrong, "tr0ub4dor&3").unwrap();
    let out = site
        .cmd()
        .env("PACKLINE_PASSPHRASE_FILE", &wrong)
        .args(args)
        .output()
        .unwrap();
    assert_fails(&out, "passphrase does not unlock");
}

#[test]
fn another_sites_key_is_refused() {
    let a = Site::new("");
    a.init_identity_keys();
    let b = Site::new("");
    b.init_identity_keys();
    let p = simple_person("111-0000004-0000001", "Jane Doe");
    a.import(
        "a.json",
        &page(
            std::slice::from_ref(&p),
            "UNSHIPPED",
            "2026-11-23T10:00:00Z",
        ),
    );
    let out = a
        .cmd()
        .env("PACKLINE_IDENTITY_FILE", &b.key)
        .args([
            "lookup",
            "--order",
            &p.order_id,
            "--reveal",
            "--reason",
            "x",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(&format!(
            "identity file {} holds the master key of another store",
            b.key.display()
        )),
        "{}",
        stderr(&out)
    );
}

#[test]
fn bad_input_names_the_file_and_changes_nothing() {
    let site = Site::new("");
    site.init_identity_keys();
    let good = site.write_page(
        "good.json",
        &page(
            &[simple_person("111-0000005-0000001", "Good Order")],
            "UNSHIPPED",
            "2026-11-23T10:00:00Z",
        ),
    );
    let broken = site.dir.path().join("broken.json");
    std::fs::write(&broken, "{\"orders\": [ {\"orderId\": \"1\", ").unwrap();
    let out = site.run(&["import", good.to_str().unwrap(), broken.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("broken.json") && err.contains("line 1"),
        "{err}"
    );
    assert_eq!(
        site.ok(&["orders", "list", "--json"]).trim(),
        "[]",
        "nothing stored"
    );

    // A field of the wrong type: the path is named, the value is not quoted.
    let mut bad = page(
        &[simple_person("111-0000005-0000002", "Quoted Never")],
        "UNSHIPPED",
        "2026-11-23T10:00:00Z",
    );
    bad["orders"][0]["orderItems"][0]["quantityOrdered"] = json!("Quoted Never");
    let f = site.write_page("typed.json", &bad);
    let out = site.run(&["import", f.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("typed.json") && err.contains("orders[0].orderItems[0].quantityOrdered"),
        "{err}"
    );
    assert!(!err.contains("Quoted Never"), "{err}");

    // A hostile order id is refused by name of field.
    let mut bad = page(
        &[simple_person("111-0000005-0000003", "X Y")],
        "UNSHIPPED",
        "2026-11-23T10:00:00Z",
    );
    bad["orders"][0]["orderId"] = json!("1\u{1b}[2J");
    let f = site.write_page("id.json", &bad);
    let out = site.run(&["import", f.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("orders[0].orderId") && err.contains("U+001B"),
        "{err}"
    );

    let out = site.run(&[
        "import",
        site.dir.path().join("missing.json").to_str().unwrap(),
    ]);
    assert_fails(&out, "missing.json");
    assert_eq!(site.ok(&["orders", "list", "--json"]).trim(), "[]");
}

#[test]
fn unknown_config_key_and_excess_retention_are_refused() {
    let site = Site::new("[store]\ndata_dri = \"/tmp/x\"\n");
    let out = site.run(&["orders", "list"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("config.toml") && err.contains("data_dri"),
        "{err}"
    );

    let site = Site::new("[retention]\npii_days_after_ship = 45\n");
    let err = stderr(&site.run(&["purge"]));
    assert!(err.contains("at most 30 days"), "{err}");
}

#[test]
fn reimport_is_idempotent_and_cancellation_closes_the_order() {
    let site = Site::new("");
    site.init_identity_keys();
    let people = [
        simple_person("111-0000006-0000001", "Keep Going"),
        simple_person("111-0000006-0000002", "Call Off"),
    ];
    let first = page(&people, "UNSHIPPED", "2026-11-23T10:00:00Z");
    assert_eq!(site.import("1.json", &first), "imported 2 new, 0 updated\n");
    assert_eq!(site.import("1.json", &first), "imported 0 new, 0 updated\n");
    let mut later = page(&people[1..], "CANCELLED", "2026-11-24T08:00:00Z");
    later["orders"][0]["fulfillment"]["fulfillmentStatus"] = json!("CANCELLED");
    let out = site.import("2.json", &later);
    assert_eq!(out, "imported 0 new, 0 updated\n1 cancelled at Amazon\n");
    let cancelled = site.ok(&["orders", "list", "--state", "cancelled", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&cancelled).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["orderId"], "111-0000006-0000002");
    assert_eq!(v[0]["state"], "cancelled");
    let open = site.ok(&["orders", "list", "--state", "new"]);
    assert!(open.contains("111-0000006-0000001") && !open.contains("111-0000006-0000002"));
    // An unknown state is named.
    let err = stderr(&site.run(&["orders", "list", "--state", "lost"]));
    assert!(err.contains("\"lost\" is not a state"), "{err}");
    // The cancellation is in the audit log, attributed to Amazon.
    assert!(
        site.ok(&["audit", "verify"])
            .starts_with("audit log intact")
    );
    let cancels: Vec<serde_json::Value> = audit_entries(&site.data)
        .into_iter()
        .filter(|e| e["action"] == "cancel")
        .collect();
    assert_eq!(cancels.len(), 1);
    assert_eq!(cancels[0]["order"], "111-0000006-0000002");
    assert_eq!(cancels[0]["reason"], "cancelled at Amazon");
}

#[test]
fn roles_gate_reveal_and_unmapped_users() {
    let user = me();
    let site = Site::new(&format!("[roles]\npackers = [{user:?}]\n"));
    // keys init is for leads: set up keys with an open config first.
    let open = Site::new("");
    open.init_identity_keys();
    let p = simple_person("111-0000007-0000001", "Role Model");
    open.import(
        "a.json",
        &page(
            std::slice::from_ref(&p),
            "UNSHIPPED",
            "2026-11-23T10:00:00Z",
        ),
    );
    let as_packer = |args: &[&str]| {
        site.cmd()
            .env("PACKLINE_DATA_DIR", &open.data)
            .env("PACKLINE_IDENTITY_FILE", &open.key)
            .args(args)
            .output()
            .unwrap()
    };
    let out = as_packer(&reveal_args(&p.order_id, "x"));
    assert_fails(&out, "is for a lead");
    let out = as_packer(&["orders", "list"]);
    assert_ok(&out, &["orders", "list"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("R. M****"));

    let stranger = Site::new("[roles]\nleads = [\"somebody-else\"]\n");
    let out = stranger
        .cmd()
        .env("PACKLINE_DATA_DIR", &open.data)
        .args(["orders", "list"])
        .output()
        .unwrap();
    assert_fails(&out, "has no role in packline");
}

#[test]
fn a_store_in_use_is_named() {
    let site = Site::new("");
    site.init_identity_keys();
    let _held = packline::store::Store::open(&site.data).unwrap();
    let out = site.run(&["orders", "list"]);
    assert_fails(&out, "is in use by another packline process");
}
