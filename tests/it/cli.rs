//! The command line as a lead or a script uses it: keys, import, listing, lookup, bad input.

use std::os::unix::fs::PermissionsExt;

use crate::common::*;
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
    for on in on_both("", "", |_| {}) {
        let site = &on.site;
        let people = [
            simple_person("111-0000002-0000001", "Jane Doe"),
            simple_person("111-0000002-0000002", "John Doe"),
            simple_person("111-0000002-0000003", "Jane Roe"),
            simple_person("111-0000002-0000004", "Ｊａｎｅ　ＤＯＥ"),
            simple_person("111-0000002-0000005", "Björn Müller-Łoś"),
            simple_person("111-0000002-0000006", "João Sørensen"),
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
        // Typed on a US keyboard, without the accents: found, and with them too.
        assert_eq!(ids("Bjorn"), ["111-0000002-0000005"]);
        assert_eq!(ids("muller los"), ["111-0000002-0000005"]);
        assert_eq!(ids("MÜLLER"), ["111-0000002-0000005"]);
        assert_eq!(ids("joao sorensen"), ["111-0000002-0000006"]);
        // Locked, a name lookup is refused (the index key is sealed): this command has no key, or
        // a lead locked the daemon.
        if on.daemon.is_some() {
            site.ok(&["keys", "lock"]);
        }
        let out = site.run(&["lookup", "--name", "doe"]);
        assert_fails(&out, "a name lookup needs the site's master key");
    }
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
    for on in on_both("", "", |_| {}) {
        let site = &on.site;
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
            "nothing stored ({:?})",
            on.t
        );

        // A field of the wrong type: the order is set aside, its path named, the value not
        // quoted; nothing of it is stored.
        let mut bad = page(
            &[simple_person("111-0000005-0000002", "Quoted Never")],
            "UNSHIPPED",
            "2026-11-23T10:00:00Z",
        );
        bad["orders"][0]["orderItems"][0]["quantityOrdered"] = json!("Quoted Never");
        let f = site.write_page("typed.json", &bad);
        let out = site.run(&["import", f.to_str().unwrap()]);
        assert_ok(&out, &["import", "typed.json"]);
        let said = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            said.starts_with("imported 0 new, 0 updated\n1 set aside, the rest imported")
                && said.contains(&format!(
                    "\n  111-0000005-0000002: {}: orders[0].orderItems[0].quantityOrdered: wrong type or value (not shown: it may be personal data) at line ",
                    f.display()
                )),
            "{said}"
        );
        assert!(!said.contains("Quoted Never"), "{said}");

        // A hostile order id is refused by name of field, the order named by its place.
        let mut bad = page(
            &[simple_person("111-0000005-0000003", "X Y")],
            "UNSHIPPED",
            "2026-11-23T10:00:00Z",
        );
        bad["orders"][0]["orderId"] = json!("1\u{1b}[2J");
        let f = site.write_page("id.json", &bad);
        let out = site.run(&["import", f.to_str().unwrap()]);
        assert_ok(&out, &["import", "id.json"]);
        let said = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            said.contains(&format!(
                "\n  orders[0]: {}: orders[0].orderId: ",
                f.display()
            )) && said.contains("U+001B"),
            "{said}"
        );
        assert!(!said.contains('\u{1b}'), "{said}");
        assert_eq!(
            site.ok(&["orders", "list", "--json"]).trim(),
            "[]",
            "nothing of them stored ({:?})",
            on.t
        );

        let out = site.run(&[
            "import",
            site.dir.path().join("missing.json").to_str().unwrap(),
        ]);
        assert_fails(&out, "missing.json");
        assert_eq!(site.ok(&["orders", "list", "--json"]).trim(), "[]");
    }
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
    for mut on in on_both("", "", |_| {}) {
        let people = [
            simple_person("111-0000006-0000001", "Keep Going"),
            simple_person("111-0000006-0000002", "Call Off"),
        ];
        let first = page(&people, "UNSHIPPED", "2026-11-23T10:00:00Z");
        assert_eq!(
            on.site.import("1.json", &first),
            "imported 2 new, 0 updated\n"
        );
        assert_eq!(
            on.site.import("1.json", &first),
            "imported 0 new, 0 updated\n"
        );
        let mut later = page(&people[1..], "CANCELLED", "2026-11-24T08:00:00Z");
        later["orders"][0]["fulfillment"]["fulfillmentStatus"] = json!("CANCELLED");
        let out = on.site.import("2.json", &later);
        assert_eq!(out, "imported 0 new, 0 updated\n1 cancelled at Amazon\n");
        let cancelled = on
            .site
            .ok(&["orders", "list", "--state", "cancelled", "--json"]);
        let v: serde_json::Value = serde_json::from_str(&cancelled).unwrap();
        assert_eq!(v.as_array().unwrap().len(), 1, "{:?}", on.t);
        assert_eq!(v[0]["order_id"], "111-0000006-0000002");
        assert_eq!(v[0]["state"], "cancelled");
        let open = on.site.ok(&["orders", "list", "--state", "new"]);
        assert!(open.contains("111-0000006-0000001") && !open.contains("111-0000006-0000002"));
        // An unknown state is named.
        let err = stderr(&on.site.run(&["orders", "list", "--state", "lost"]));
        assert!(err.contains("\"lost\" is not a state"), "{err}");
        // The cancellation is in the audit log, attributed to Amazon.
        assert!(
            on.site
                .ok(&["audit", "verify"])
                .starts_with("audit log intact")
        );
        on.stop();
        let cancels: Vec<serde_json::Value> = audit_entries(&on.site.data)
            .into_iter()
            .filter(|e| e["action"] == "cancel")
            .collect();
        assert_eq!(cancels.len(), 1);
        assert_eq!(cancels[0]["order"], "111-0000006-0000002");
        assert_eq!(cancels[0]["reason"], "cancelled at Amazon");
    }
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

/// The two transports a command can take: the daemon's socket, or the service in the command's
/// own process. Every assertion below runs on both.
#[derive(Clone, Copy, Debug)]
enum Transport {
    InProcess,
    Daemon,
}

/// A site on one transport: keys made, and for [`Transport::Daemon`] a daemon serving it, so
/// every command below goes through its socket.
struct On {
    t: Transport,
    site: Site,
    daemon: Option<Daemon>,
    _run: tempfile::TempDir,
}

impl On {
    /// Stops the daemon (SIGTERM: a clean exit), so the test may open the store itself.
    fn stop(&mut self) {
        if let Some(mut d) = self.daemon.take() {
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(d.child.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            )
            .unwrap();
            assert!(d.child.wait().unwrap().success());
        }
    }
}

/// The same site, once in process and once behind a daemon: keys made, then `setup` run, then
/// `roles` (a `[roles]` table) in force (making keys and importing are for a lead).
fn on_both<'a>(
    extra_config: &'a str,
    roles: &'a str,
    setup: fn(&Site),
) -> impl Iterator<Item = On> + 'a {
    [Transport::InProcess, Transport::Daemon]
        .into_iter()
        .map(move |t| {
            let run = tempfile::tempdir().unwrap();
            let socket = run.path().join("packline.sock");
            let site = Site::new(&format!(
                "[service]\nsocket = {:?}\n{extra_config}",
                socket.display().to_string()
            ));
            site.init_identity_keys();
            setup(&site);
            if !roles.is_empty() {
                let cfg = std::fs::read_to_string(&site.config).unwrap();
                std::fs::write(&site.config, format!("{cfg}\n{roles}\n")).unwrap();
            }
            let daemon = matches!(t, Transport::Daemon).then(|| start_daemon_on(&site, &socket));
            On {
                t,
                site,
                daemon,
                _run: run,
            }
        })
}

/// A command's answer with `--json`, checked against the JSON contract (docs/json.md).
fn json(site: &Site, args: &[&str]) -> serde_json::Value {
    let mut all = args.to_vec();
    all.push("--json");
    let out = site.ok(&all);
    assert_json_contract(&out, &format!("{args:?}"))
}

/// The floor site (one box preset, one order imported: two units of SKU-HOSTILE, barcode
/// B0HOSTILE1) on both transports, `roles` in force once the keys are made.
fn each_transport(roles: &str, check: impl Fn(&Site, Transport)) {
    for on in on_both(FLOOR_BOXES, roles, one_floor_order) {
        check(&on.site, on.t);
    }
}

fn two_floor_orders(site: &Site) {
    site.import(
        "a.json",
        &page(
            &[
                person("903-0000002-0000001", "Ann Example"),
                person("903-0000002-0000002", "Bob Example"),
            ],
            "UNSHIPPED",
            "2026-11-23T10:00:00Z",
        ),
    );
}

/// Claims the one order waiting (two units of SKU-HOSTILE), picks it and finishes the batch.
fn pick_one_order(site: &Site) {
    let b = json(site, &["pick", "claim"])["id"]
        .as_u64()
        .unwrap()
        .to_string();
    for _ in 0..2 {
        json(site, &["pick", "scan", &b, "SKU-HOSTILE"]);
    }
    json(site, &["pick", "finish", &b]);
}

const FLOOR_BOXES: &str = "[floor]\nboxes = [{ name = \"S\", mm = [200, 150, 100] }]\n";

fn one_floor_order(site: &Site) {
    site.import(
        "a.json",
        &page(
            &[person("903-0000001-0000001", "Ann Example")],
            "UNSHIPPED",
            "2026-11-23T10:00:00Z",
        ),
    );
}

#[test]
fn the_floor_works_from_the_command_line_through_either_transport() {
    let me = me();
    each_transport(&format!("[roles]\nleads = [{me:?}]"), |site, t| {
        let claim = json(site, &["pick", "claim", "--size", "5"]);
        let batch = claim["id"]
            .as_u64()
            .unwrap_or_else(|| panic!("{t:?}: {claim}"));
        assert_eq!(claim["orders"], json!(["903-0000001-0000001"]), "{t:?}");
        let b = batch.to_string();
        // A wrong item is refused with a non-zero exit, and nothing is counted.
        let out = site.run(&["pick", "scan", &b, "NOT-A-SKU"]);
        assert!(!out.status.success(), "{t:?}");
        let first = json(site, &["pick", "scan", &b, "SKU-HOSTILE"]);
        assert_eq!(first["complete"], false, "{t:?}: {first}");
        let out = site.run(&["pick", "finish", &b]);
        assert_fails(&out, "still needs 1 unit");
        let second = json(site, &["pick", "scan", &b, "SKU-HOSTILE"]);
        assert_eq!(second["complete"], true, "{t:?}: {second}");
        assert_eq!(json(site, &["pick", "finish", &b]), json!({ "ok": true }));
        assert_eq!(json(site, &["pick", "list", "--all"]), json!([]), "{t:?}");

        let order = "903-0000001-0000001";
        let check = json(site, &["pack", "start", order]);
        assert_eq!(check["packer"], me.as_str(), "{t:?}");
        let out = site.run(&["pack", "scan", order, "SOMETHING-ELSE"]);
        assert_fails(&out, "wrong item");
        // Two boxes: one unit in the first, closed with its weight; the other in the second.
        let out = site.run(&["pack", "close-box", order, "--box", "S", "--weight", "400"]);
        assert_fails(&out, "box is empty");
        json(site, &["pack", "scan", order, "B0HOSTILE1"]);
        let closed = json(
            site,
            &["pack", "close-box", order, "--box", "S", "--weight", "400"],
        );
        assert_eq!(closed["boxes"][0]["units"], json!([1]), "{t:?}: {closed}");
        assert_eq!(closed["boxes"][0]["parcel"]["weight_g"], 400);
        json(site, &["pack", "scan", order, "B0HOSTILE1"]);
        let out = site.run(&["pack", "scan", order, "B0HOSTILE1"]);
        assert_fails(&out, "extra unit");
        // Each thing missing is named, and the presets with it.
        let refused = |args: &[&str]| {
            let out = site.run(args);
            assert!(!out.status.success(), "{args:?}");
            stderr(&out).trim_end().to_owned()
        };
        let needs_box = format!(
            "packline: order {order}: the box being filled needs its box preset (the presets are \"S\")"
        );
        assert_eq!(refused(&["pack", "finish", order]), needs_box);
        assert_eq!(
            refused(&["pack", "finish", order, "--weight", "900"]),
            needs_box
        );
        assert_eq!(
            refused(&["pack", "finish", order, "--box", "nope", "--weight", "900"]),
            "packline: no box preset named \"nope\": the presets are \"S\""
        );
        assert_eq!(
            refused(&["pack", "finish", order, "--box", "S"]),
            format!(
                "packline: order {order}: the box being filled needs its weight in grams (1 g – 70 kg)"
            )
        );
        let help = site.ok(&["pack", "finish", "--help"]);
        assert!(
            help.contains("A box preset's name ([floor] boxes): \"S\" (200×150×100 mm)"),
            "{help}"
        );
        assert!(
            help.contains("The box's weight, packed, in grams (1 to 70000)"),
            "{help}"
        );
        let packed = json(
            site,
            &["pack", "finish", order, "--box", "S", "--weight", "500"],
        );
        assert_eq!(packed["state"], "packed", "{t:?}: {packed}");
        let looked = json(site, &["lookup", "--order", order]);
        assert_eq!(looked["state"], "packed", "{t:?}: {looked}");
        let packages: Vec<(u64, u64, u64)> = looked["packages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["package"].as_u64().unwrap(),
                    p["weight_g"].as_u64().unwrap(),
                    p["items"][0]["quantity"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(packages, [(1, 400, 1), (2, 500, 1)], "{t:?}: {looked}");

        json(
            site,
            &["exceptions", "raise", order, "--note", "box crushed"],
        );
        let open = json(site, &["exceptions", "list"]);
        assert_eq!(open[0]["order"], order, "{t:?}: {open}");
        // Sealed, unless this session holds the key (then the lead reads it).
        let note = &open[0]["note"];
        assert!(
            note == &json!({"kind": "sealed", "text": format!("exceptions/{order}/0")})
                || note == &json!({"kind": "open", "text": "box crushed"}),
            "{t:?}: {note}"
        );
        json(
            site,
            &[
                "exceptions",
                "resolve",
                order,
                "--to",
                "packed",
                "--resolution",
                "re-boxed",
            ],
        );
        assert_eq!(json(site, &["exceptions", "list"]), json!([]), "{t:?}");

        let orders = json(site, &["orders", "list"]);
        assert_eq!(orders.as_array().unwrap().len(), 1, "{t:?}");
        assert_eq!(orders[0]["state"], "packed");

        let keys = json(site, &["keys", "show"]);
        assert_eq!(keys["epochs"].as_array().unwrap().len(), 1, "{t:?}: {keys}");
        let rotated = json(site, &["keys", "rotate"]);
        let keys = json(site, &["keys", "show"]);
        assert_eq!(keys["epochs"].as_array().unwrap().len(), 2, "{t:?}: {keys}");
        assert_eq!(keys["epochs"][1]["id"], rotated["id"]);

        let audit = json(site, &["audit", "verify"]);
        assert!(audit["entries"].as_u64().unwrap() > 5, "{t:?}: {audit}");
    });
}

/// Cluster picking from the command line: the claim gives each order its slot, a scan answers
/// where the unit goes, and with put confirmation a wrong slot is refused and nothing counts
/// until the right one is scanned.
#[test]
fn units_are_put_to_their_slots_from_the_command_line_through_either_transport() {
    let floor = "[floor]\nconfirm_put = true\ncart_slots = 2\n";
    for on in on_both(floor, "", two_floor_orders) {
        let (site, t) = (&on.site, on.t);
        // A batch is never bigger than the cart.
        let claim = json(site, &["pick", "claim", "--size", "5"]);
        let slots = claim["slots"].as_array().unwrap();
        assert_eq!(slots.len(), 2, "{t:?}: {claim}");
        assert_eq!(slots[0]["slot"], 1);
        let first = slots[0]["order"].as_str().unwrap().to_owned();
        let b = claim["id"].as_u64().unwrap().to_string();
        let unit = json(site, &["pick", "scan", &b, "SKU-HOSTILE"]);
        assert_eq!(unit["slot"], 1, "{t:?}: {unit}");
        assert_eq!(unit["scan"]["kind"], "unit");
        assert_eq!(unit["scan"]["order"], first.as_str());
        assert_eq!(unit["scan"]["put"], false);
        let out = site.run(&["pick", "scan", &b, "SKU-HOSTILE"]);
        assert_fails(&out, "wrong slot");
        let out = site.run(&["pick", "put", &b, "SLOT-2"]);
        assert_fails(&out, "is not SLOT 1");
        let put = json(site, &["pick", "put", &b, "1"]);
        assert_eq!(put["scan"]["kind"], "put");
        assert_eq!(put["scan"]["slot"], 1, "{t:?}: {put}");
        let out = site.run(&["pick", "put", &b, "1"]);
        assert_fails(&out, "nothing in hand");
        let text = site.ok(&["pick", "scan", &b, "SKU-HOSTILE"]);
        assert!(text.contains("put it in SLOT 1"), "{t:?}: {text}");
    }
}

/// Tote carts from the command line: each order of the claim takes an empty tote, a tote still
/// holding an order is refused for another, and the pack bench opens an order by its tote.
#[test]
fn orders_go_to_totes_and_the_bench_opens_them_by_tote_through_either_transport() {
    let floor = format!("{FLOOR_BOXES}totes = true\n");
    for on in on_both(&floor, "", two_floor_orders) {
        let (site, t) = (&on.site, on.t);
        let claim = json(site, &["pick", "claim", "--size", "1"]);
        let b = claim["id"].as_u64().unwrap().to_string();
        let order = claim["orders"][0].as_str().unwrap().to_owned();
        let out = site.run(&["pick", "scan", &b, "SKU-HOSTILE"]);
        assert_fails(
            &out,
            &format!("scan an empty tote for SLOT 1 (order {order}) first"),
        );
        let tote = json(site, &["pick", "scan", &b, "TOTE-0042"]);
        assert_eq!(tote["scan"]["tote"], "TOTE-0042", "{t:?}: {tote}");
        for _ in 0..2 {
            json(site, &["pick", "scan", &b, "SKU-HOSTILE"]);
        }
        json(site, &["pick", "finish", &b]);
        // The tote still holds the first order: another batch cannot take it.
        let next = json(site, &["pick", "claim", "--size", "1"]);
        let nb = next["id"].as_u64().unwrap().to_string();
        let out = site.run(&["pick", "scan", &nb, "TOTE-0042"]);
        assert_fails(&out, &format!("tote TOTE-0042 holds order {order}"));
        // At the bench the tote opens its order; packed, the tote is free again.
        let check = json(site, &["pack", "start", "TOTE-0042"]);
        assert_eq!(check["order"], order.as_str(), "{t:?}: {check}");
        for _ in 0..2 {
            json(site, &["pack", "scan", &order, "B0HOSTILE1"]);
        }
        json(
            site,
            &["pack", "finish", &order, "--box", "S", "--weight", "900"],
        );
        let out = site.run(&["pack", "start", "TOTE-0042"]);
        assert_fails(&out, "tote TOTE-0042 holds no order");
        json(site, &["pick", "scan", &nb, "TOTE-0042"]);
    }
}

/// A Transparency item with gift wrap at the bench, from the command line: each unit takes its
/// code (with the unit, or as the next scan), a duplicate is refused, the box waits for every
/// code, and the wrap is said.
#[test]
fn transparency_codes_are_taken_at_the_bench_through_either_transport() {
    let coded = |site: &Site| {
        let mut p = page(
            &[person("903-0000003-0000001", "Ann Example")],
            "UNSHIPPED",
            "2026-11-23T10:00:00Z",
        );
        let item = &mut p["orders"][0]["orderItems"][0];
        item["programs"] = json!(["TRANSPARENCY"]);
        item["fulfillment"]["packing"]["giftOption"]["giftWrapLevel"] = json!("PREMIUM");
        site.import("a.json", &p);
    };
    for on in on_both(FLOOR_BOXES, "", coded) {
        let (site, t) = (&on.site, on.t);
        let order = "903-0000003-0000001";
        pick_one_order(site);
        let text = site.ok(&["pack", "start", order]);
        assert!(text.contains("GIFT WRAP: PREMIUM"), "{t:?}: {text}");
        let check = json(
            site,
            &[
                "pack",
                "scan",
                order,
                "B0HOSTILE1",
                "--code",
                "AZ:00000000000000000000000001",
            ],
        );
        assert_eq!(
            check["lines"][0]["codes"][0]["code"], "AZ:00000000000000000000000001",
            "{t:?}: {check}"
        );
        assert_eq!(check["awaiting"], json!(null));
        let text = site.ok(&["pack", "scan", order, "B0HOSTILE1"]);
        assert!(
            text.contains(&format!(
                "scan the Transparency code of this SKU-HOSTILE (pack scan {order} CODE)"
            )),
            "{t:?}: {text}"
        );
        let out = site.run(&["pack", "finish", order, "--box", "S", "--weight", "900"]);
        assert_fails(
            &out,
            "still needs 1 serial number(s) or Transparency code(s)",
        );
        let out = site.run(&["pack", "scan", order, "AZ:00000000000000000000000001"]);
        assert_fails(&out, "duplicate Transparency code");
        let out = site.run(&["pack", "scan", order, "B0HOSTILE1"]);
        assert_fails(
            &out,
            "scan the Transparency code of the SKU-HOSTILE just scanned first",
        );
        // Not Amazon's shape: refused, saying what one is; the code inside a scanned URL is
        // the one taken.
        let out = site.run(&["pack", "scan", order, "AZ:2"]);
        assert!(!out.status.success());
        assert_eq!(
            stderr(&out).trim_end(),
            "packline: \"AZ:2\" is not a Transparency code: one is 29 characters starting AZ: or ZA:, or a 38-character serialized GTIN (01, the 14-digit GTIN, 21, a 20-character serial); scan the code on the unit's Transparency label"
        );
        let scanned = json(
            site,
            &[
                "pack",
                "scan",
                order,
                "https://tr.example.com/t?code=AZ%3A00000000000000000000000002",
            ],
        );
        assert_eq!(
            scanned["lines"][0]["codes"][1]["code"], "AZ:00000000000000000000000002",
            "{t:?}: {scanned}"
        );
        let packed = json(
            site,
            &["pack", "finish", order, "--box", "S", "--weight", "900"],
        );
        assert_eq!(packed["state"], "packed", "{t:?}: {packed}");
    }
}

/// A hold stops an order wherever it is, with its reason on every refusal, until a lead
/// releases it; each is audited.
#[test]
fn a_hold_stops_an_order_at_every_step_through_either_transport() {
    let me = me();
    let roles = format!("[roles]\nleads = [{me:?}]");
    for mut on in on_both(FLOOR_BOXES, &roles, one_floor_order) {
        let (site, t) = (&on.site, on.t);
        let order = "903-0000001-0000001";
        // The reason from standard input: out of the process list.
        let mut child = site
            .cmd()
            .args(["orders", "hold", order, "--reason", "-", "--json"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"customer called\n").unwrap();
        let out = child.wait_with_output().unwrap();
        assert_ok(&out, &["orders", "hold", "--reason", "-"]);
        let held: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(held["order"], order, "{t:?}: {held}");
        // The lead's own words, echoed back to them.
        assert_eq!(held["hold"]["reason"]["text"], "customer called");
        assert_eq!(held["hold"]["by"], me.as_str());
        let again = site.run(&["orders", "hold", order, "--reason", "twice"]);
        assert_fails(&again, "is already on hold (since ");
        // Never claimed while held; marked in the lists and the lookup.
        assert_eq!(
            json(site, &["pick", "claim"]),
            json!(null),
            "{t:?}: a held order was claimed"
        );
        let listed = json(site, &["orders", "list"]);
        // Lists show that it is held, by whom and since when; the reason stays sealed.
        assert_eq!(listed[0]["hold"]["reason"]["kind"], "sealed", "{t:?}");
        assert_eq!(listed[0]["hold"]["by"], me.as_str(), "{t:?}");
        let text = site.ok(&["orders", "list"]);
        assert!(text.contains("HELD/new"), "{t:?}: {text}");
        let one = json(site, &["lookup", "--order", order]);
        assert_eq!(one["hold"]["reason"]["kind"], "sealed", "{t:?}: {one}");
        let holds = json(site, &["orders", "holds"]);
        assert_eq!(holds.as_array().unwrap().len(), 1, "{t:?}: {holds}");
        assert_eq!(holds[0]["order"], order);
        json(site, &["orders", "release", order]);
        assert_eq!(json(site, &["orders", "holds"]), json!([]), "{t:?}");
        let out = site.run(&["orders", "release", order]);
        assert_fails(&out, "is not on hold");

        // Held at the bench: the packer's scans and the box are refused, naming who and since
        // when, never the reason.
        pick_one_order(site);
        json(site, &["pack", "start", order]);
        json(
            site,
            &["orders", "hold", order, "--reason", "address check"],
        );
        let out = site.run(&["pack", "scan", order, "B0HOSTILE1"]);
        assert_fails(&out, &format!("order {order} is on hold (since "));
        assert!(
            !String::from_utf8_lossy(&out.stderr).contains("address check"),
            "{t:?}: a refusal repeated the hold's reason"
        );
        let out = site.run(&["pack", "start", order]);
        assert_fails(&out, "a lead can read the reason");
        json(site, &["orders", "release", order]);
        for _ in 0..2 {
            json(site, &["pack", "scan", order, "B0HOSTILE1"]);
        }
        json(
            site,
            &["orders", "hold", order, "--reason", "address check"],
        );
        let out = site.run(&["pack", "finish", order, "--box", "S", "--weight", "900"]);
        assert_fails(&out, "a lead can read the reason");
        json(site, &["orders", "release", order]);
        json(
            site,
            &["pack", "finish", order, "--box", "S", "--weight", "900"],
        );

        // Packed and held: no label, no print, no own-carrier confirmation. Each refusal comes
        // before anything reaches Amazon (this site has no Amazon account at all).
        json(
            site,
            &[
                "orders",
                "hold",
                order,
                "--reason",
                "buyer wants a gift note",
            ],
        );
        for args in [
            vec!["label", "rates", order],
            vec!["label", "buy", order],
            vec!["label", "print", order],
            vec![
                "ship",
                order,
                "--carrier",
                "UPS",
                "--tracking",
                "1Z999AA10123456784",
            ],
        ] {
            let out = site.run(&args);
            assert_fails(&out, "a lead can read the reason");
        }
        let rec = json(site, &["lookup", "--order", order]);
        assert_eq!(rec["state"], "packed", "{t:?}: {rec}");

        on.stop();
        let audit = audit_entries(&on.site.data);
        let count = |action: &str| audit.iter().filter(|e| e["action"] == action).count();
        assert_eq!((count("hold"), count("release_hold")), (4, 3), "{t:?}");
        let first = audit.iter().find(|e| e["action"] == "hold").unwrap();
        assert_eq!(first["order"], order);
        assert_eq!(first["reason"], format!("sealed note hold/{order}"));
        assert_eq!(first["user"], me.as_str());
    }
}

#[test]
fn a_packer_is_refused_a_leads_commands_through_either_transport() {
    let me = me();
    each_transport(&format!("[roles]\npackers = [{me:?}]"), |site, t| {
        for (args, what) in [
            (vec!["exceptions", "list"], "the exceptions list"),
            (vec!["keys", "show"], "managing keys"),
            (vec!["keys", "rotate"], "managing keys"),
            (vec!["audit", "verify"], "verifying the audit log"),
            (vec!["purge"], "purging"),
            (vec!["pick", "list", "--all"], "seeing everyone's batches"),
            (
                vec!["orders", "hold", "903-0000001-0000001", "--reason", "x"],
                "holding an order",
            ),
            (
                vec!["orders", "release", "903-0000001-0000001"],
                "releasing a hold",
            ),
            (vec!["orders", "holds"], "the holds list"),
            (
                vec![
                    "lookup",
                    "--order",
                    "903-0000001-0000001",
                    "--reveal",
                    "--reason",
                    "x",
                ],
                "revealing a recipient",
            ),
        ] {
            let out = site.run_unlocked(&args);
            assert!(!out.status.success(), "{t:?} {args:?}");
            let err = stderr(&out);
            assert!(
                err.contains(&format!("{what} is for a lead or above")),
                "{t:?} {args:?}: {err}"
            );
            assert!(!err.contains("Ann"), "no personal data in a refusal");
        }
        // What a packer may do, they may do.
        let claim = json(site, &["pick", "claim"]);
        assert_eq!(claim["holder"], me.as_str(), "{t:?}");
        // A packer may write down what a customer said, but not read it back, nor settle it.
        let opened = json(
            site,
            &[
                "inquiry",
                "open",
                "903-0000001-0000001",
                "--note",
                "Ann Example wants it by Friday",
            ],
        );
        assert_eq!(opened["id"], 1, "{t:?}: {opened}");
        json(
            site,
            &["inquiry", "note", "1", "--note", "Ann called again"],
        );
        assert_eq!(json(site, &["inquiry", "list"])[0]["id"], 1, "{t:?}");
        for (args, what) in [
            (vec!["inquiry", "show", "1"], "reading an inquiry's notes"),
            (
                vec!["inquiry", "resolve", "1", "--resolution", "x"],
                "resolving an inquiry",
            ),
        ] {
            let out = site.run_unlocked(&args);
            assert_fails(
                &out,
                &format!("{what} is for a lead or above; {me} is a packer"),
            );
            assert!(!stderr(&out).contains("Friday"), "{t:?}");
            assert!(out.stdout.is_empty(), "{t:?}");
        }
    });
}

fn json_unlocked(site: &Site, args: &[&str]) -> serde_json::Value {
    let mut all = args.to_vec();
    all.push("--json");
    let out = site.ok_unlocked(&all);
    assert_json_contract(&out, &format!("{args:?}"))
}

#[test]
fn inquiries_from_the_command_line_through_either_transport() {
    let me = me();
    each_transport(&format!("[roles]\nleads = [{me:?}]"), |site, t| {
        let order = "903-0000001-0000001";
        assert_eq!(json(site, &["inquiry", "list"]), json!([]), "{t:?}");
        assert_eq!(site.ok(&["inquiry", "list"]), "no inquiries\n");
        let opened = json(
            site,
            &[
                "inquiry",
                "open",
                order,
                "--category",
                "wrong-item",
                "--note",
                "got a blue one, ordered red",
            ],
        );
        assert_eq!(opened["id"], 1, "{t:?}: {opened}");
        assert_eq!(opened["order"], order);
        assert_eq!(opened["category"], "wrong-item");
        assert_eq!(opened["opened_by"], me.as_str());
        assert_eq!(opened["resolved_at"], serde_json::Value::Null);
        assert_eq!(opened["notes"][0]["kind"], "opened");
        assert_eq!(
            site.ok(&["inquiry", "open", order, "--note", "and where is it?"]),
            format!("inquiry 2 opened on order {order} (other)\n"),
            "{t:?}"
        );
        assert_eq!(
            json(site, &["inquiry", "note", "1", "--note", "photo received"]),
            json!({ "ok": true }),
            "{t:?}"
        );
        let shown = json_unlocked(site, &["inquiry", "show", "1"]);
        assert_eq!(shown["inquiry"]["id"], 1, "{t:?}: {shown}");
        let notes: Vec<(&str, &str, &str)> = shown["notes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| {
                (
                    n["kind"].as_str().unwrap(),
                    n["by"].as_str().unwrap(),
                    n["text"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            notes,
            [
                ("opened", me.as_str(), "got a blue one, ordered red"),
                ("note", me.as_str(), "photo received"),
            ],
            "{t:?}"
        );
        assert_eq!(
            json(
                site,
                &[
                    "inquiry",
                    "resolve",
                    "1",
                    "--resolution",
                    "sent the red one"
                ]
            ),
            json!({ "ok": true }),
            "{t:?}"
        );
        let list = json(site, &["inquiry", "list"]);
        let ids: Vec<u64> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|q| q["id"].as_u64().unwrap())
            .collect();
        assert_eq!(ids, [1, 2], "{t:?}: {list}");
        assert_eq!(list[0]["resolved_by"], me.as_str());
        assert_eq!(list[0]["notes"].as_array().unwrap().len(), 3);
        assert_eq!(list[1]["resolved_at"], serde_json::Value::Null);
        let text = site.ok(&["inquiry", "list"]);
        assert_eq!(
            text.lines().count(),
            3,
            "a header and two inquiries: {text}"
        );
        assert!(text.lines().nth(2).unwrap().ends_with("  open"), "{text}");
        let shown = site.ok_unlocked(&["inquiry", "show", "1"]);
        assert!(shown.contains("\n  sent the red one\n"), "{t:?}: {shown}");

        // Refusals, each with its reason and a non-zero exit; nothing changes.
        let out = site.run(&["inquiry", "note", "1", "--note", "one more"]);
        assert_fails(&out, "inquiry 1 was resolved on");
        let out = site.run(&["inquiry", "resolve", "1", "--resolution", "again"]);
        assert_fails(&out, "it takes no more notes");
        let out = site.run_unlocked(&["inquiry", "show", "99"]);
        assert_fails(&out, "there is no inquiry 99");
        let out = site.run(&["inquiry", "note", "99", "--note", "x"]);
        assert_fails(&out, "there is no inquiry 99");
        let out = site.run(&["inquiry", "open", "903-0000009-0000009", "--note", "x"]);
        assert_fails(&out, "order 903-0000009-0000009 is not in the store");
        let long = "x".repeat(2001);
        let out = site.run(&["inquiry", "note", "2", "--note", &long]);
        assert_fails(
            &out,
            "--note is 2001 characters long; at most 2000 are kept",
        );
        let out = site.run(&["inquiry", "note", "2", "--note", "   "]);
        assert_fails(&out, "--note must not be empty");
        let out = site.run(&[
            "inquiry",
            "open",
            order,
            "--category",
            "lost",
            "--note",
            "x",
        ]);
        assert_fails(&out, "invalid value 'lost' for '--category");
        assert_eq!(
            json(site, &["inquiry", "list"]).as_array().unwrap().len(),
            2
        );
        let out = site.run(&["audit", "verify"]);
        assert_ok(&out, &["audit", "verify"]);
        // Locked (a lead locked the daemon, or this command has no key), the notes stay shut.
        if matches!(t, Transport::Daemon) {
            site.ok(&["keys", "lock"]);
        }
        let out = site.run(&["inquiry", "show", "1"]);
        assert_fails(
            &out,
            "reading an inquiry's notes needs the site's master key",
        );
    });
}

#[test]
fn orders_list_pages_through_every_order_through_either_transport() {
    for on in on_both("", "", |_| {}) {
        // More than two pages of the service (500 rows each), in one import.
        let ps: Vec<Person> = (0..1203)
            .map(|i| person(&format!("904-{:07}-0000001", i + 1), &format!("Name {i}")))
            .collect();
        on.site
            .import("big.json", &page(&ps, "UNSHIPPED", "2026-11-23T10:00:00Z"));
        let rows = json(&on.site, &["orders", "list"]);
        let ids: std::collections::BTreeSet<&str> = rows
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["order_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids.len(), 1203, "every order listed once ({:?})", on.t);
        let text = on.site.ok(&["orders", "list", "--state", "new"]);
        assert_eq!(text.lines().count(), 1204, "a header and every order");
        // As JSON lines: one object a line, the same orders.
        let lines = on.site.ok(&["orders", "list", "--json-lines"]);
        let streamed: Vec<serde_json::Value> = lines
            .lines()
            .map(|l| assert_json_contract(l, "orders list --json-lines"))
            .collect();
        assert_eq!(streamed.len(), 1203);
        assert_eq!(streamed, *rows.as_array().unwrap());
    }
}

/// The access review: each configured user with their sensitive actions; a user seen in the
/// audit log without a role now; a configured user never seen; and the review itself recorded,
/// so the next one is not overdue.
#[test]
fn the_access_review_names_who_to_look_at() {
    let me = me();
    let site = Site::new("");
    site.init_identity_keys();
    // Someone who worked here once: their import is in the audit log.
    {
        let mut store = packline::store::Store::open(&site.data).unwrap();
        let p = simple_person("111-0000009-0000001", "Rev Iew");
        imp(
            &mut store,
            &[&p],
            "UNSHIPPED",
            "2026-11-23T10:00:00Z",
            chrono::Utc::now(),
        );
    }
    let cfg = std::fs::read_to_string(&site.config).unwrap();
    std::fs::write(
        &site.config,
        format!("{cfg}\n[roles]\nleads = [{me:?}]\npackers = [\"pat\"]\n"),
    )
    .unwrap();
    site.ok_unlocked(&[
        "lookup",
        "--order",
        "111-0000009-0000001",
        "--reveal",
        "--reason",
        "review test",
    ]);
    let r = json(&site, &["access", "review"]);
    // --format json stays, the same answer.
    let again: serde_json::Value =
        serde_json::from_str(&site.ok(&["access", "review", "--format", "json"])).unwrap();
    let names = |r: &serde_json::Value| -> Vec<String> {
        r["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["user"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(&again), names(&r));
    assert_eq!(r["overdue"], true, "{r}");
    assert_eq!(r["last_review"], json!(null));
    assert_eq!(r["seen_without_role"], json!(["lead"]), "{r}");
    assert_eq!(r["never_seen"], json!(["pat"]), "{r}");
    let mine = r["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["user"] == me.as_str())
        .unwrap();
    assert_eq!(mine["role"], "lead");
    assert_eq!(mine["reveals"], 1, "{r}");
    assert!(mine["last_seen"].is_string());
    let text = site.ok(&["access", "review"]);
    assert!(text.contains("seen without a role now: lead"), "{text}");
    let since = (chrono::Utc::now() - chrono::Duration::days(90)).format("%Y-%m-%d");
    assert!(
        text.contains(&format!(
            "what each did, when and why: packline audit list --user USER --since {since}"
        )),
        "{text}"
    );
    assert!(text.contains("has a role, never seen: pat"), "{text}");
    assert!(
        !text.contains("overdue"),
        "the first review was recorded: {text}"
    );
    assert!(!text.contains("Rev Iew"), "no personal data in the review");
    // A packer may not run it.
    std::fs::write(
        &site.config,
        format!("{cfg}\n[roles]\npackers = [{me:?}]\n"),
    )
    .unwrap();
    let out = site.run(&["access", "review"]);
    assert_fails(&out, "the access review is for a lead or above");
}

/// `packline check` on a healthy site finds nothing; with an order record damaged and a queue
/// entry lost it names both, says what to do, and exits 1; personal data never appears.
#[test]
fn check_names_what_is_damaged_and_what_to_do() {
    let site = Site::new("");
    site.init_identity_keys();
    let ps: Vec<Person> = (1..=3)
        .map(|i| {
            person(
                &format!("905-0000000-000000{i}"),
                &format!("Check Person {i}"),
            )
        })
        .collect();
    site.import("a.json", &page(&ps, "UNSHIPPED", "2026-11-23T10:00:00Z"));
    let ok: serde_json::Value = serde_json::from_str(&site.ok(&["check", "--json"])).unwrap();
    assert_eq!(ok["orders"], 3, "{ok}");
    assert_eq!(ok["sealed_recipients"], 3);
    assert_eq!(ok["problems"], json!([]), "{ok}");
    assert!(ok["audit_entries"].as_u64().unwrap() >= 2);
    {
        let db = packline::store::raw_db(&site.data).unwrap();
        let orders = db.open_tree("amazon/orders").unwrap();
        orders
            .insert("905-0000000-0000002", &[2u8, 0xff, 0xff][..])
            .unwrap();
        let queue = db.open_tree("queue").unwrap();
        let lost = queue
            .iter()
            .keys()
            .map(Result::unwrap)
            .find(|k| k.ends_with(b"905-0000000-0000003"))
            .unwrap();
        queue.remove(lost).unwrap();
        db.flush().unwrap();
    }
    let out = site.run(&["check"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("orders: order 905-0000000-0000002: a stored order record is damaged"),
        "{text}"
    );
    assert!(
        text.contains("queue: order 905-0000000-0000003 is missing from the queue index"),
        "{text}"
    );
    assert!(
        text.contains("what to do: restore the data directory"),
        "{text}"
    );
    // Each invariant it verified is named, broken or holding.
    for (state, name) in [
        ("BROKEN (1)", "records_readable"),
        ("BROKEN (3)", "one_state"),
        ("holds", "audit_chain"),
        ("holds", "labels_on_live_packages"),
        ("holds", "keyring_bound"),
        ("holds", "holds_stop_work"),
    ] {
        let line = format!("{state}: {name} (");
        assert!(text.lines().any(|l| l.starts_with(&line)), "{line}: {text}");
    }
    assert!(!text.contains("Check Person"), "no personal data: {text}");
}

/// A reader that goes away (`| head`) ends any command quietly, with status 0 and nothing
/// on stderr: completions, the man page, JSON answers and tables, a reveal.
#[test]
fn a_closed_pipe_ends_a_command_quietly() {
    use std::io::BufRead as _;
    use std::process::Stdio;
    let site = Site::new("");
    site.init_identity_keys();
    let p = simple_person("111-0000009-0000009", "Pipe Person");
    site.import(
        "a.json",
        &page(
            std::slice::from_ref(&p),
            "UNSHIPPED",
            "2026-11-23T10:00:00Z",
        ),
    );
    let id = p.order_id.as_str();
    for args in [
        &["completions", "bash"][..],
        &["manpage"][..],
        &["check", "--json"][..],
        &["keys", "show", "--json"][..],
        &["orders", "list", "--json"][..],
        &["orders", "list"][..],
        &["lookup", "--order", id, "--json"][..],
        &["lookup", "--order", id][..],
        &reveal_args(id, "carrier asked")[..],
    ] {
        let mut child = site
            .cmd()
            .env("PACKLINE_IDENTITY_FILE", &site.key)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader is gone before the command writes anything.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert_eq!(stderr(&out), "", "{args:?}");
    }

    // `| head -1`: one line read, then the reader goes. clap_complete's writer panics on a
    // closed pipe; packline's output never does.
    for args in [&["completions", "bash"][..], &["manpage"][..]] {
        let mut child = site
            .cmd()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        assert!(!line.is_empty(), "{args:?}");
        drop(reader);
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert_eq!(stderr(&out), "", "{args:?}");
    }

    // `2>&1 | head`: stderr gone too. A refusal is still status 1, never a panic (101).
    let mut child = site
        .cmd()
        .args(["orders", "list", "--state", "nowhere"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    drop(child.stderr.take());
    assert_eq!(child.wait().unwrap().code(), Some(1));
}

/// A config the TOML parser refuses is named, and the parser's own rendering is kept on its
/// lines, with the caret under the column.
#[test]
fn a_broken_config_shows_where_on_its_own_lines() {
    let site = Site::new("");
    let config = site.dir.path().join("broken.toml");
    std::fs::write(&config, "[amazon\nregion = \"na\"\n").unwrap();
    let out = site
        .cmd()
        .env("PACKLINE_CONFIG", &config)
        .args(["orders", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        format!(
            "packline: config {}: TOML parse error at line 1, column 8\n  |\n1 | [amazon\n  |        ^\ninvalid table header\nexpected `.`, `]`\n",
            config.display()
        )
    );
}

/// With `--json`, a failure is one line of JSON on stderr naming its kind, with the exit
/// status a person gets: 2 for the command line, 1 for a refusal or a failure.
#[test]
fn errors_are_json_when_json_is_asked() {
    let site = Site::new("");
    site.init_identity_keys();
    let error = |out: &std::process::Output| -> serde_json::Value {
        let text = stderr(out);
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(out.stdout.is_empty());
        assert_json_contract(&text, "an error")["error"].clone()
    };
    let out = site.run(&["orders", "lst", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let e = error(&out);
    assert_eq!(e["kind"], "usage");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("unrecognized subcommand 'lst'"),
        "{e}"
    );
    let out = site.run(&["lookup", "--order", "111-0000000-0000001", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let e = error(&out);
    assert_eq!(e["kind"], "not_found");
    assert_eq!(
        e["message"],
        "order 111-0000000-0000001 is not in the store"
    );
    let me = me();
    let packer = Site::new(&format!("[roles]\npackers = [{me:?}]\n"));
    let out = packer
        .cmd()
        .env("PACKLINE_DATA_DIR", &site.data)
        .args(["report", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let e = error(&out);
    assert_eq!(e["kind"], "forbidden");
    // Without --json, the same failure reads as text.
    let out = site.run(&["lookup", "--order", "111-0000000-0000001"]);
    assert_eq!(
        stderr(&out),
        "packline: order 111-0000000-0000001 is not in the store\n"
    );
}

/// A keymap file the TOML parser refuses is shown the same way.
#[test]
fn a_broken_keymap_shows_where_on_its_own_lines() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys.toml");
    std::fs::write(&keys, "[queue\nq = 1\n").unwrap();
    let site = Site::new(&format!(
        "[tui]\nkeymap_file = {:?}\n",
        keys.display().to_string()
    ));
    let out = site.run(&["tui"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        format!(
            "packline: keymap {}: TOML parse error at line 1, column 7\n  |\n1 | [queue\n  |       ^\ninvalid table header\nexpected `.`, `]`\n",
            keys.display()
        )
    );
}

#[test]
fn completions_and_the_man_page_come_from_the_command_line_itself() {
    let site = Site::new("");
    let bash = site.ok(&["completions", "bash"]);
    assert!(
        bash.contains("packline") && bash.contains("reassign"),
        "{bash}"
    );
    let man = site.ok(&["manpage"]);
    assert!(
        man.starts_with(".ie") || man.contains(".TH packline"),
        "{man}"
    );
    // A page for every command and subcommand, each titled by its whole path.
    let dir = site.dir.path().join("man1");
    let out = site.run(&["manpage", "--dir", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let pages: std::collections::BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for page in [
        "packline.1",
        "packline-orders-list.1",
        "packline-audit-export.1",
        "packline-label-buy.1",
        "packline-pick-scan.1",
    ] {
        assert!(pages.contains(page), "{page} missing from {pages:?}");
    }
    assert!(!pages.iter().any(|p| p.contains("help")), "{pages:?}");
    assert_eq!(
        stderr(&out),
        format!("wrote {} man pages to {}\n", pages.len(), dir.display())
    );
    let list = std::fs::read_to_string(dir.join("packline-orders-list.1")).unwrap();
    assert!(list.contains(".TH packline-orders-list"), "{list}");
    assert!(list.contains("json\\-lines"), "{list}");
}

/// packline holds revealed recipients and the master key in memory: a crash leaves no core.
#[test]
fn packline_runs_without_core_dumps() {
    let m = marketplace(1, "1");
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", m.child.id())).unwrap();
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap();
    let fields: Vec<&str> = core.split_whitespace().collect();
    assert_eq!(&fields[4..6], ["0", "0"], "{core}");
}

/// A FIFO named as the config, or a keyring others can read, is refused at once with its name.
#[test]
fn a_fifo_or_an_open_keyring_is_refused_by_name() {
    let site = Site::new("");
    site.init_identity_keys();
    let fifo = site.dir.path().join("config.fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    let out = site
        .cmd()
        .env("PACKLINE_CONFIG", &fifo)
        .args(["orders", "list"])
        .output()
        .unwrap();
    assert_fails(&out, "not a regular file");
    assert!(stderr(&out).contains("config.fifo"), "{}", stderr(&out));
    let keyring = site.data.join("keyring.json");
    std::fs::set_permissions(&keyring, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = site.run(&["orders", "list"]);
    assert_fails(&out, "chmod 600");
    std::fs::set_permissions(&keyring, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::set_permissions(&site.data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = site.run(&["orders", "list"]);
    assert_fails(&out, "chmod 700");
    std::fs::set_permissions(&site.data, std::fs::Permissions::from_mode(0o700)).unwrap();
    site.ok(&["orders", "list"]);
}

fn sync_once(site: &Site) {
    site.ok(&["sync", "--once"]);
}

/// `packline message` through either transport: sent once through Amazon (text from the command
/// line, or from standard input with `--json`), and refused with the reason, non-zero, when the
/// text breaks Amazon's rules (nothing sent) or Amazon does not allow the kind for the order.
#[test]
fn messages_to_customers_go_through_amazon_from_the_command_line_on_either_transport() {
    let m = marketplace(4, "1000");
    let (_creds, config) = amazon_config(&m);
    let book: Vec<serde_json::Value> = training_book(&m);
    let me = me();
    for (i, on) in on_both(&config, "", sync_once).enumerate() {
        let site = &on.site;
        let order = book[i]["orderId"].as_str().unwrap();
        let out = site.ok(&[
            "message",
            order,
            "--kind",
            "confirmOrderDetails",
            "--text",
            "Would you like the teal lid or the blue one?",
        ]);
        assert_eq!(
            out,
            format!(
                "confirmOrderDetails message sent to the buyer of order {order} through Amazon\n"
            ),
            "{:?}",
            on.t
        );
        let mut child = site
            .cmd()
            .args(["message", order, "--kind", "unexpectedProblem"])
            .args(["--text", "-", "--json"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(
            &mut child.stdin.take().unwrap(),
            b"Your parcel leaves a day late: sorry.\n",
        )
        .unwrap();
        let out = child.wait_with_output().unwrap();
        assert_ok(&out, &["message", "--json"]);
        let sent: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            (&sent["order"], &sent["kind"], &sent["inquiry"], &sent["by"]),
            (
                &json!(order),
                &json!("unexpectedProblem"),
                &json!(null),
                &json!(me)
            )
        );
        let out = site.run(&[
            "message",
            order,
            "--kind",
            "confirmOrderDetails",
            "--text",
            &"x".repeat(2001),
        ]);
        assert_fails(
            &out,
            "the text of the confirmOrderDetails message is 2001 characters long; Amazon takes at most 2000 for this kind of message: shorten it",
        );
        let out = site.run(&[
            "message",
            order,
            "--kind",
            "digitalAccessKey",
            "--text",
            "Your key",
        ]);
        assert_fails(
            &out,
            &format!(
                "Amazon does not allow a digitalAccessKey message for order {order} now; it allows: confirmCustomizationDetails, confirmDeliveryDetails, confirmOrderDetails, unexpectedProblem"
            ),
        );
        let log: Vec<(String, u64)> = request_log(&m)
            .iter()
            .filter(|r| r["params"]["orderId"] == order)
            .map(|r| {
                (
                    r["operation"].as_str().unwrap().to_owned(),
                    r["status"].as_u64().unwrap(),
                )
            })
            .collect();
        let expected: Vec<(String, u64)> = [
            ("getMessagingActionsForOrder", 200),
            ("createConfirmOrderDetails", 201),
            ("getMessagingActionsForOrder", 200),
            ("createUnexpectedProblem", 201),
            ("getMessagingActionsForOrder", 200),
        ]
        .into_iter()
        .map(|(o, s)| (o.to_owned(), s))
        .collect();
        assert_eq!(log, expected, "{:?}", on.t);
    }
}

/// The whole floor with the plumbing commands, against the training marketplace, on either
/// transport: claim and pick (a wrong item refused), a hold refused at the bench, an order
/// packed in two boxes, its two labels bought and printed, the day closed; the marketplace saw
/// one purchase per box, whose units add up to the order, and nothing else for it.
#[test]
fn the_whole_floor_in_plumbing_commands_against_the_marketplace() {
    // Merchant Fulfillment v0 on both transports, then the Shipping API v2 through the daemon.
    for (t, api) in [(0, "mfn-v0"), (1, "mfn-v0"), (1, "shipping-v2")] {
        let v2 = api == "shipping-v2";
        let m = marketplace(6, "1000");
        let (_creds, amazon) = amazon_config(&m);
        let labels = tempfile::tempdir().unwrap();
        let forms = tempfile::tempdir().unwrap();
        let config = format!(
            "{amazon}[shipping]\napi = {api:?}\nlabel_printer = {:?}\nslip_printer = {:?}\n\
             [shipping.from]\nname = \"Example Goods\"\nline1 = \"1 Dock Road\"\ncity = \"Reno\"\nstate = \"NV\"\npostal_code = \"89501\"\ncountry_code = \"US\"\nphone = \"7755550100\"\nemail = \"ship@example.com\"\n{FLOOR_BOXES}",
            format!("file:{}", labels.path().display()),
            format!("file:{}", forms.path().display()),
        );
        let on = on_both(&config, "", sync_once).nth(t).unwrap();
        let site = &on.site;
        let claim = json(site, &["pick", "claim", "--size", "20"]);
        let b = claim["id"].as_u64().unwrap().to_string();
        let out = site.run(&["pick", "scan", &b, "NOT-A-SKU"]);
        assert_fails(&out, "wrong item");
        for line in claim["lines"].as_array().unwrap() {
            for _ in 0..line["needed"].as_u64().unwrap() {
                json(site, &["pick", "scan", &b, line["sku"].as_str().unwrap()]);
            }
        }
        json(site, &["pick", "finish", &b]);
        // The order with the most units goes in two boxes; another is held.
        let mut orders: Vec<(u64, String)> = claim["orders"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| {
                let o = o.as_str().unwrap().to_owned();
                let looked = json(site, &["lookup", "--order", &o]);
                let units = looked["lines"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|l| l["quantity_ordered"].as_u64().unwrap())
                    .sum();
                (units, o)
            })
            .collect();
        orders.sort();
        let (units, order) = orders.pop().unwrap();
        assert!(
            units >= 2,
            "{on:?}: the seeded floor has an order of two units or more",
            on = on.t
        );
        let (_, held) = orders.pop().unwrap();
        json(
            site,
            &["orders", "hold", &held, "--reason", "address check"],
        );
        let out = site.run(&["pack", "start", &held]);
        assert_fails(&out, "a lead can read the reason");

        let check = json(site, &["pack", "start", &order]);
        let out = site.run(&["pack", "scan", &order, "NOT-A-SKU"]);
        assert_fails(&out, "wrong item");
        let skus: Vec<String> = check["lines"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|l| {
                let n = l["needed"].as_u64().unwrap() as usize;
                std::iter::repeat_n(l["sku"].as_str().unwrap().to_owned(), n)
            })
            .collect();
        json(site, &["pack", "scan", &order, &skus[0]]);
        json(
            site,
            &["pack", "close-box", &order, "--box", "S", "--weight", "400"],
        );
        for sku in &skus[1..] {
            json(site, &["pack", "scan", &order, sku]);
        }
        let packed = json(
            site,
            &["pack", "finish", &order, "--box", "S", "--weight", "800"],
        );
        assert_eq!(packed["state"], "packed");

        let offers = json(site, &["label", "rates", &order]);
        assert!(!offers.as_array().unwrap().is_empty(), "{offers}");
        let bought = json(site, &["label", "buy", &order]);
        let tracking: Vec<&str> = bought
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["tracking"].as_str().unwrap())
            .collect();
        assert_eq!(tracking.len(), 2, "a label per box: {bought}");
        assert_ne!(tracking[0], tracking[1]);
        let out = site.run(&["label", "buy", &order]);
        assert_fails(&out, "labelled");
        let printed: serde_json::Value =
            serde_json::from_str(&site.ok_unlocked(&["label", "print", &order, "--json"])).unwrap();
        assert_eq!(printed.as_array().map(Vec::len), Some(2), "{printed}");
        assert_eq!(std::fs::read_dir(labels.path()).unwrap().count(), 2);

        let args = ["manifest", "--close", "--json"];
        let closed = site.run(&args);
        assert_ok(&closed, &args);
        let day = assert_json_contract(&String::from_utf8_lossy(&closed.stdout), "manifest");
        if v2 {
            // The day's form is one carrier's, named by it and the day, as Amazon spells it.
            let carriers: Vec<&str> = day["collection_forms"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap())
                .collect();
            assert_eq!(carriers.len(), 1, "{day}");
            assert!(["FedEx", "UPS", "USPS"].contains(&carriers[0]), "{day}");
            // One carrier name everywhere: the labels' carrier in JSON is the form's.
            let of_labels: Vec<&str> = day["shipments"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["carrier"].as_str().unwrap())
                .collect();
            assert!(of_labels.iter().all(|c| *c == carriers[0]), "{day}");
            let today = packline::store::shipping::local_day(chrono::Utc::now())
                .format("%Y-%m-%d")
                .to_string();
            let files: Vec<String> = std::fs::read_dir(forms.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            assert_eq!(files.len(), 1, "{files:?}");
            let name = format!("collection_form_{}_{today}-", carriers[0]);
            assert!(
                files[0].starts_with(&name) && files[0].ends_with(".pdf"),
                "{files:?}, wanted {name}…"
            );
            assert_eq!(
                stderr(&closed)
                    .lines()
                    .find(|l| l.starts_with("collection form"))
                    .unwrap(),
                format!(
                    "collection form for {} printed on file:{}",
                    carriers[0],
                    forms.path().display()
                )
            );
        }
        let rows: Vec<u64> = day["shipments"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["order"] == order.as_str())
            .map(|s| s["package"].as_u64().unwrap())
            .collect();
        assert_eq!(rows, [1, 2], "{day}");
        let looked = json(site, &["lookup", "--order", &order]);
        assert_eq!(looked["state"], "shipped", "{looked}");
        let on_labels: Vec<&str> = looked["packages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["shipment"]["tracking"].as_str().unwrap())
            .collect();
        assert_eq!(on_labels, tracking);

        // Amazon saw one purchase per box carrying the order's units once, and no confirmation.
        let log = request_log(&m);
        let mine: Vec<&serde_json::Value> = log
            .iter()
            .filter(|r| r["params"]["orderId"] == order.as_str())
            .collect();
        let ops: Vec<(&str, u64)> = mine
            .iter()
            .map(|r| {
                (
                    r["operation"].as_str().unwrap(),
                    r["status"].as_u64().unwrap(),
                )
            })
            .filter(|(o, _)| *o != "getEligibleShipmentServices" && *o != "getRates")
            .collect();
        let purchase = if v2 {
            "purchaseShipment"
        } else {
            "createShipment"
        };
        assert_eq!(ops, [(purchase, 200), (purchase, 200)], "{:?} {api}", on.t);
        if v2 {
            // New purchases, not answers to a resend; and the day's collection form was made.
            assert!(
                mine.iter()
                    .filter(|r| r["operation"] == purchase)
                    .all(|r| r["params"]["replay"] == "false")
            );
            assert!(
                log.iter()
                    .any(|r| r["operation"] == "generateCollectionForm"),
                "manifest --close made the collection form"
            );
        }
        let carried: u64 = mine
            .iter()
            .filter(|r| r["operation"] == purchase)
            .flat_map(|r| r["params"]["items"].as_str().unwrap().split(','))
            .map(|p| p.split_once(':').unwrap().1.parse::<u64>().unwrap())
            .sum();
        assert_eq!(carried, units);
        assert!(
            !log.iter()
                .any(|r| r["params"]["orderId"] == held.as_str() && r["operation"] == purchase),
            "nothing was bought for the held order"
        );
        if v2 {
            // The rest of the claim, packed, bought as one wave; run again, it buys nothing.
            let rest: Vec<String> = orders.iter().map(|(_, o)| o.clone()).collect();
            for o in &rest {
                let check = json(site, &["pack", "start", o]);
                for l in check["lines"].as_array().unwrap() {
                    for _ in 0..l["needed"].as_u64().unwrap() {
                        json(site, &["pack", "scan", o, l["sku"].as_str().unwrap()]);
                    }
                }
                json(
                    site,
                    &["pack", "finish", o, "--box", "S", "--weight", "500"],
                );
            }
            let wave = json(site, &["label", "buy", "--all-packed", "--no-print"]);
            let bought: Vec<&str> = wave["bought"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b["order"].as_str().unwrap())
                .collect();
            assert_eq!(bought.len(), rest.len(), "{wave}");
            assert!(rest.iter().all(|o| bought.contains(&o.as_str())), "{wave}");
            assert_eq!(wave["needs_person"], serde_json::json!([]), "{wave}");
            let again = json(site, &["label", "buy", "--all-packed", "--no-print"]);
            assert_eq!(again["bought"], serde_json::json!([]), "{again}");
            let purchases = request_log(&m)
                .iter()
                .filter(|r| r["operation"] == purchase && r["params"]["replay"] == "false")
                .count();
            assert_eq!(purchases, 2 + rest.len());
            let out = site.run(&["label", "buy"]);
            assert_fails(&out, "required arguments were not provided");
        }
    }
}

/// A downloaded returns report: a return with a label for the floor order (two units), a
/// returnless refund on another order; the buyer's name and address in extra columns, as some
/// variants of the report carry them.
const RETURNS_TSV: &str = "Order ID\tOrder date\tReturn request date\tReturn request status\tAmazon RMA ID\tReturn carrier\tTracking ID\tASIN\tMerchant SKU\tItem Name\tReturn quantity\tReturn Reason\tBuyer Name\tShip Address\n\
903-0000001-0000001\t2026-11-20\t2026-11-26\tApproved\tDCLIRMA001\tUPS\t1Z9R00000000000042\tB0HOSTILE1\tSKU-HOSTILE\tWidget\t2\tCR-DEFECTIVE\tAnn Q. Returner\t17 Quayside Lane\n\
903-0000009-0000009\t2026-11-20\t2026-11-27\tApproved\t\t\t\tB0OTHER001\tSKU-OTHER\tGadget\t1\tCR-UNWANTED_ITEM\tBo R. Refunded\t9 Orchard Row\n";

/// The floor order, and the returns report imported by the site's lead (before roles apply).
fn returns_floor(site: &Site) {
    one_floor_order(site);
    let report = site.dir.path().join("returns.tsv");
    std::fs::write(&report, RETURNS_TSV).unwrap();
    site.ok(&["returns", "import", report.to_str().unwrap()]);
}

fn returns_config(locations: &std::path::Path) -> String {
    std::fs::write(
        locations,
        "sku,bin,barcodes\nSKU-HOSTILE,A-07,0123456789012\n",
    )
    .unwrap();
    format!(
        "[floor]\nlocations = {:?}\nboxes = [{{ name = \"S\", mm = [200, 150, 100] }}]\n",
        locations.display().to_string()
    )
}

#[test]
fn returns_from_the_command_line_through_either_transport() {
    let me = me();
    let loc = tempfile::tempdir().unwrap();
    let config = returns_config(&loc.path().join("locations.csv"));
    let roles = format!("[roles]\nleads = [{me:?}]");
    for mut on in on_both(&config, &roles, one_floor_order) {
        let (site, t) = (&on.site, on.t);
        assert_eq!(site.ok(&["returns", "list"]), "no returns\n", "{t:?}");
        // A row that does not read is refused, naming the line and column; nothing of it is
        // kept (here the report's only row).
        let bad = site.dir.path().join("bad.tsv");
        let first_row: Vec<&str> = RETURNS_TSV.lines().take(2).collect();
        std::fs::write(
            &bad,
            format!("{}\n", first_row.join("\n"))
                .replace("\t2\tCR-DEFECTIVE", "\ttwo\tCR-DEFECTIVE"),
        )
        .unwrap();
        let out = site.run(&["returns", "import", bad.to_str().unwrap()]);
        assert_ok(&out, &["returns", "import"]);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!(
                "returns: 0 listed, 0 new (0 returnless refunds), 0 updated, 1 refused\n  \
                 refused: {}: line 2, column \"Return quantity\": is not a whole number of at least 1 (nothing of it was recorded)\n",
                bad.display()
            ),
            "{t:?}"
        );
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains("Returner"),
            "{t:?}"
        );
        assert_eq!(json(site, &["returns", "list"]), json!([]), "{t:?}");
        let report = site.dir.path().join("returns.tsv");
        std::fs::write(&report, RETURNS_TSV).unwrap();
        let path = report.to_str().unwrap();
        assert_eq!(
            json(site, &["returns", "import", path]),
            json!({"listed": 2, "new": 2, "updated": 0, "returnless": 1}),
            "{t:?}"
        );
        assert_eq!(
            site.ok(&["returns", "import", path]),
            "returns: 2 listed, 0 new (0 returnless refunds), 0 updated\n",
            "{t:?}"
        );
        let list = json(site, &["returns", "list"]);
        assert_eq!(list.as_array().unwrap().len(), 2, "{t:?}: {list}");
        assert_eq!(list[0]["id"], 1);
        assert_eq!(list[0]["key"], json!({"rma": {"rma": "DCLIRMA001"}}));
        assert_eq!(list[0]["tracking"], "1Z9R00000000000042");
        assert_eq!(list[0]["lines"][0]["expected"], 2);
        assert_eq!(list[0]["lines"][0]["reason"], "CR-DEFECTIVE");
        assert_eq!(
            list[1]["key"],
            json!({"returnless": {"order": "903-0000009-0000009", "sku": "SKU-OTHER", "requested": "2026-11-27"}})
        );
        // The parcel's label, then a unit by its ASIN: sellable, back to its bin.
        assert_eq!(
            site.ok(&[
                "returns",
                "receive",
                "1Z9R00000000000042",
                "--sku",
                "B0HOSTILE1",
                "--condition",
                "sellable",
            ]),
            "return RET-1 (order 903-0000001-0000001): 1 × SKU-HOSTILE sellable: back to bin A-07\n1 of 2 expected units received\n",
            "{t:?}"
        );
        // The second is damaged: never restocked.
        let damaged = json(
            site,
            &[
                "returns",
                "receive",
                "DCLIRMA001",
                "--sku",
                "SKU-HOSTILE",
                "--condition",
                "damaged",
            ],
        );
        assert_eq!(damaged["bin"], json!(null), "{t:?}: {damaged}");
        assert_eq!(damaged["condition"], "damaged");
        assert_eq!(
            damaged["record"]["lines"][0]["received"][1]["bin"],
            json!(null)
        );
        let out = site.run(&[
            "returns",
            "receive",
            "DCLIRMA001",
            "--sku",
            "SKU-HOSTILE",
            "--condition",
            "sellable",
        ]);
        assert_fails(
            &out,
            "return 1 expects 2 of SKU-HOSTILE and 2 are recorded already: 1 more is too many",
        );
        let out = site.run(&[
            "returns",
            "receive",
            "DCLIRMA001",
            "--sku",
            "SKU-HOSTILE",
            "--condition",
            "broken",
        ]);
        assert_fails(&out, "broken");
        let out = site.run(&["returns", "close", "1Z0000000000000000"]);
        assert_fails(&out, "no return answers to \"1Z0000000000000000\"");
        assert_eq!(
            site.ok(&["returns", "close", "RET-1"]),
            "return RET-1 (order 903-0000001-0000001) closed: 2 of 2 expected units received\n",
            "{t:?}"
        );
        let text = site.ok(&["returns", "list"]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[1].starts_with("RET-1    903-0000001-0000001  DCLIRMA001     1Z9R00000000000042   closed       2/2  SKU-HOSTILE (CR-DEFECTIVE)"), "{text}");
        assert!(
            lines[2].starts_with("RET-2    903-0000009-0000009  returnless"),
            "{text}"
        );
        // Nothing of the buyers in the report was kept, anywhere in the data directory.
        on.stop();
        for f in files_under(&on.site.data) {
            let bytes = std::fs::read(&f).unwrap();
            for secret in ["Returner", "Quayside", "Refunded", "Orchard"] {
                assert!(
                    find(&bytes, secret.as_bytes()).is_none(),
                    "{t:?}: {secret} in {}",
                    f.display()
                );
            }
        }
    }
}

#[test]
fn a_packer_receives_returns_but_does_not_pull_or_import_the_report() {
    let me = me();
    let loc = tempfile::tempdir().unwrap();
    let config = returns_config(&loc.path().join("locations.csv"));
    let roles = format!("[roles]\npackers = [{me:?}]");
    for on in on_both(&config, &roles, returns_floor) {
        let (site, t) = (&on.site, on.t);
        let report = site.dir.path().join("returns.tsv");
        for (args, what) in [
            (
                vec!["returns", "import", report.to_str().unwrap()],
                "importing returns",
            ),
            (vec!["returns", "sync"], "syncing returns"),
        ] {
            let out = site.run(&args);
            assert_fails(
                &out,
                &format!("{what} is for a lead or above; {me} is a packer"),
            );
        }
        assert_eq!(
            json(site, &["returns", "list"]).as_array().unwrap().len(),
            2,
            "{t:?}"
        );
        let got = json(
            site,
            &[
                "returns",
                "receive",
                "903-0000001-0000001",
                "--sku",
                "0123456789012",
                "--condition",
                "sellable",
                "--quantity",
                "2",
            ],
        );
        assert_eq!(got["bin"], "A-07", "{t:?}: {got}");
        assert_eq!(got["quantity"], 2);
        assert_eq!(got["record"]["lines"][0]["received"][0]["by"], me.as_str());
        let closed = json(site, &["returns", "close", "DCLIRMA001"]);
        assert!(closed["closed_at"].is_string(), "{t:?}: {closed}");
    }
}

/// Ships an order at the training marketplace over plain HTTP: its items from getOrder, then a
/// shipment confirmation of all of them.
fn ship_at_marketplace(m: &Marketplace, order: &str) {
    let lwa = ("x-amz-access-token", "Atza|training");
    let (status, body) = http_with(
        m,
        "GET",
        &format!("/orders/2026-01-01/orders/{order}"),
        &[lwa],
    );
    assert_eq!(status, 200, "{body}");
    let o: serde_json::Value = serde_json::from_str(&body).unwrap();
    let items: Vec<serde_json::Value> = o["order"]["orderItems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| json!({"orderItemId": i["orderItemId"], "quantity": i["quantityOrdered"]}))
        .collect();
    let confirm = json!({
        "marketplaceId": "ATVPDKIKX0DER",
        "packageDetail": {
            "packageReferenceId": "1",
            "carrierCode": "UPS",
            "trackingNumber": "1Z999AA10123456784",
            "shipDate": chrono::Utc::now().to_rfc3339(),
            "orderItems": items,
        },
    });
    let (status, body) = http_send(
        m,
        "POST",
        &format!("/orders/v0/orders/{order}/shipmentConfirmation"),
        &[lwa, ("content-type", "application/json")],
        &confirm.to_string(),
    );
    assert_eq!(status, 204, "{body}");
}

/// `packline returns sync` through either transport pulls the marketplace's returns report: a
/// CANCELLED one (nothing shipped yet) is no returns, then a shipped order's return is recorded.
#[test]
fn returns_sync_pulls_the_report_from_the_command_line_on_either_transport() {
    let m = marketplace(3, "1000");
    let (_creds, config) = amazon_config(&m);
    let book: Vec<serde_json::Value> = training_book(&m);
    let order = book[0]["orderId"].as_str().unwrap().to_owned();
    for (i, on) in on_both(&config, "", sync_once).enumerate() {
        let site = &on.site;
        if i == 0 {
            assert_eq!(
                json(site, &["returns", "sync"]),
                json!({"listed": 0, "new": 0, "updated": 0, "returnless": 0}),
                "{:?}",
                on.t
            );
            ship_at_marketplace(&m, &order);
        }
        assert_eq!(
            site.ok(&["returns", "sync"]),
            "returns: 1 listed, 1 new (0 returnless refunds), 0 updated\n",
            "{:?}",
            on.t
        );
        let list = json(site, &["returns", "list"]);
        assert_eq!(list[0]["order"], order.as_str(), "{:?}: {list}", on.t);
        assert_eq!(list[0]["tracking"], "1Z9R00000000000001");
    }
}

/// A backup written while the daemon serves: a private directory, restored into an empty data
/// directory (never over a store), where `check` finds nothing wrong and the same orders are
/// listed; a damaged one is refused whole; and the purge deletes it at the personal-data limit.
#[test]
fn a_backup_taken_while_the_daemon_serves_restores_and_goes_at_the_limit() {
    use std::os::unix::fs::PermissionsExt as _;
    let me = me();
    let roles = format!("[roles]\nleads = [{me:?}]");
    let on = on_both(FLOOR_BOXES, &roles, two_floor_orders)
        .nth(1)
        .unwrap();
    assert!(on.daemon.is_some(), "through the daemon");
    let site = &on.site;
    json(site, &["pick", "claim", "--size", "1"]);
    let before = json(site, &["orders", "list"]);
    let backups = tempfile::tempdir().unwrap();
    let b = json(site, &["backup", backups.path().to_str().unwrap()]);
    assert_eq!(b["orders"], 2, "{b}");
    let dir = std::path::PathBuf::from(b["dir"].as_str().unwrap());
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    for f in ["store.plbk", "keyring.json", "backup.json"] {
        assert_eq!(mode(&dir.join(f)), 0o600, "{f}");
    }
    // The floor went on while it was written.
    json(site, &["orders", "list"]);

    let fresh = Site::new("");
    std::fs::copy(&site.key, &fresh.key).unwrap();
    // The folder that holds the backup names it, rather than a file that is not there.
    let out = fresh.run(&["restore", backups.path().to_str().unwrap()]);
    assert!(!out.status.success());
    assert_eq!(
        stderr(&out).trim_end(),
        format!(
            "packline: {} is not a backup but holds one: {}; restore it with packline restore {}",
            backups.path().display(),
            dir.display(),
            dir.display()
        )
    );
    let empty = tempfile::tempdir().unwrap();
    let out = fresh.run(&["restore", empty.path().to_str().unwrap()]);
    assert_eq!(
        stderr(&out).trim_end(),
        format!(
            "packline: {} is not a packline backup (it has no backup.json), nor a folder holding one: give the folder `packline backup` made (packline-backup-…)",
            empty.path().display()
        )
    );
    assert!(!fresh.data.join("db").exists(), "nothing was restored");
    let restored = json(&fresh, &["restore", dir.to_str().unwrap()]);
    assert_eq!(restored["orders"], 2, "{restored}");
    let check: serde_json::Value =
        serde_json::from_str(&fresh.ok_unlocked(&["check", "--json"])).unwrap();
    assert_eq!(check["problems"], json!([]), "{check}");
    assert_eq!(check["orders"], 2);
    assert_eq!(json(&fresh, &["orders", "list"]), before);
    let out = fresh.run(&["restore", dir.to_str().unwrap()]);
    assert_fails(&out, "holds a store already");

    // One byte changed: refused before anything is written.
    let damaged = tempfile::tempdir().unwrap();
    let copy = damaged.path().join("b");
    std::fs::create_dir(&copy).unwrap();
    for f in ["store.plbk", "keyring.json", "backup.json"] {
        std::fs::copy(dir.join(f), copy.join(f)).unwrap();
    }
    let mut bytes = std::fs::read(copy.join("store.plbk")).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x20;
    std::fs::write(copy.join("store.plbk"), bytes).unwrap();
    let other = Site::new("");
    let out = other.run(&["restore", copy.to_str().unwrap()]);
    assert_fails(&out, "does not match its checksum");
    assert!(!other.data.join("db").exists(), "nothing was restored");

    // Past the personal-data limit, the purge deletes the backup.
    let later = (chrono::Utc::now() + chrono::Duration::days(31)).to_rfc3339();
    let purged: serde_json::Value =
        serde_json::from_str(&site.ok_unlocked(&["purge", "--as-of", &later, "--json"])).unwrap();
    assert_eq!(purged["backups_pruned"], 1, "{purged}");
    assert!(!dir.exists(), "the backup is gone");
}

#[test]
fn the_dashboard_prints_the_leads_view_through_either_transport() {
    let me = me();
    let cfg = format!("{FLOOR_BOXES}pickup = \"16:00\"\n");
    for on in on_both(&cfg, "", one_floor_order) {
        let site = &on.site;
        // The one order is past its ship-by (25 November): late, and picked by this user.
        pick_one_order(site);
        let v = json(site, &["dashboard"]);
        assert_eq!(v["due"]["late"], 1, "{:?}: {v}", on.t);
        assert_eq!(v["due"]["before_pickup"], 0, "{v}");
        assert_eq!(v["due"]["hours"].as_array().unwrap().len(), 24);
        assert_eq!(v["throughput"]["picked_today"], 2, "{v}");
        let people = v["throughput"]["people"].as_array().unwrap();
        assert_eq!(people.len(), 1, "{v}");
        assert_eq!(people[0]["user"], me.as_str());
        assert_eq!(people[0]["batches"], 1);
        assert_eq!(people[0]["picked"], 2);
        assert_eq!(v["wip"].as_array().unwrap().len(), 0, "{v}");
        assert_eq!(v["exceptions"], 0);
        assert_eq!(v["health"]["failed_prints"], 0);
        assert_eq!(v["health"]["review_overdue"], true, "{v}");
        // No Amazon connection: no schedule runs a sync, and there is no quota to tell.
        assert_eq!(v["health"]["next_sync"], serde_json::Value::Null, "{v}");
        assert_eq!(v["health"]["quota"], serde_json::Value::Null, "{v}");
        assert!(!v.to_string().contains("Ann Example"), "no recipient: {v}");
        // An access review clears the warning.
        site.ok(&["access", "review", "--format", "json"]);
        let v = json(site, &["dashboard"]);
        assert_eq!(v["health"]["review_overdue"], false, "{v}");
        let text = site.ok(&["dashboard"]);
        assert!(text.contains("due: 1 late, 0 before the pickup"), "{text}");
        assert!(text.contains("2 picked"), "{text}");
        assert!(
            text.contains("next sync: none scheduled (no daemon with an Amazon connection); searchOrders quota: unknown (no Amazon connection)"),
            "{text}"
        );
    }
}

/// One order of an imported page that packline refuses is set aside, named with why and where
/// (nothing of its buyer or recipient kept, in the output, the store or the log); the others
/// are imported. Imported readable later, it leaves the list.
#[test]
fn an_imported_page_with_one_broken_order_imports_the_others_and_names_it() {
    let site = Site::new("");
    site.init_identity_keys();
    let people = [
        simple_person("111-0000001-0000011", "Ann Able"),
        simple_person("111-0000001-0000012", "Zebulon Quartermaine"),
        simple_person("111-0000001-0000013", "Cy Cole"),
    ];
    let mut p = page(&people, "UNSHIPPED", "2026-11-23T10:00:00Z");
    p["orders"][1]["orderItems"][0]["product"]["sellerSku"] = "MUG\u{1b}[2J".into();
    let file = site.dir.path().join("broken.json").display().to_string();
    let why = "orders[1].orderItems[0].product.sellerSku: holds a control character; a SKU must be printable";
    assert_eq!(
        site.import("broken.json", &p),
        format!(
            "imported 2 new, 0 updated\n\
             1 set aside, the rest imported (each sync asks Amazon for them again; `packline sync problems` lists them):\n  \
             111-0000001-0000012: {file}: {why}\n"
        )
    );
    let listed = site.ok(&["orders", "list"]);
    assert!(listed.contains("111-0000001-0000011") && listed.contains("111-0000001-0000013"));
    assert!(!listed.contains("111-0000001-0000012"), "{listed}");
    let problems: serde_json::Value =
        serde_json::from_str(&site.ok(&["sync", "problems", "--json"])).unwrap();
    assert_eq!(problems.as_array().unwrap().len(), 1);
    assert_eq!(problems[0]["order"], "111-0000001-0000012");
    assert_eq!(problems[0]["source"], file.as_str());
    assert_eq!(problems[0]["reason"], why);
    let text = site.ok(&["sync", "problems"]);
    assert!(
        text.starts_with(
            "order                since                times  from         why\n111-0000001-0000012  "
        ),
        "{text}"
    );
    assert!(text.ends_with(&format!("    1  {file} {why}\n")), "{text}");
    assert_eq!(text.lines().count(), 2, "{text}");
    // Nothing of the refused order's recipient reached the store or the log.
    let log = std::fs::read_to_string(&site.log).unwrap();
    assert!(
        log.contains("111-0000001-0000012"),
        "named in the log: {log}"
    );
    for f in files_under(&site.data).iter().chain([&site.log]) {
        let bytes = std::fs::read(f).unwrap();
        assert!(
            find(&bytes, b"Quartermaine").is_none(),
            "{} holds the refused order's recipient",
            f.display()
        );
    }
    // The page mended: the order is imported and leaves the list.
    p["orders"][1]["orderItems"][0]["product"]["sellerSku"] = "MUG".into();
    assert_eq!(
        site.import("mended.json", &p),
        "imported 1 new, 0 updated\n"
    );
    assert_eq!(site.ok(&["sync", "problems"]), "no order is set aside\n");
}
