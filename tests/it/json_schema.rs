//! Every `--json` answer against its JSON Schema (`docs/schema/`, docs/json.md): a floor's day
//! run from the command line against the training marketplace (sync, import, holds, exceptions,
//! picking, packing, labels through both of Amazon's APIs, prints, returns, inquiries, a
//! message, the manifest, the lead's reports, a backup and its restore, a move into
//! PostgreSQL), each command's answer validated against the file of its command, and its
//! errors against `error.json`. Every schema file is used, and the schema list is clap's list
//! of commands that take `--json` (the `cli::schema` tests in the binary hold that).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::process::Output;

use crate::common::*;
use serde_json::Value;

const SCHEMAS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/schema");

/// The schema files, each as a validator (JSON Schema 2020-12, as schemars writes them), and
/// which of them the day has used.
struct Schemas {
    validators: BTreeMap<String, jsonschema::Validator>,
    used: RefCell<BTreeSet<String>>,
}

impl Schemas {
    fn load() -> Schemas {
        let mut validators = BTreeMap::new();
        for entry in std::fs::read_dir(SCHEMAS).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            let schema: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(
                schema["$schema"], "https://json-schema.org/draft/2020-12/schema",
                "{name}"
            );
            let v = jsonschema::draft202012::new(&schema)
                .unwrap_or_else(|e| panic!("{}: not a schema: {e}", path.display()));
            validators.insert(name, v);
        }
        Schemas {
            validators,
            used: RefCell::default(),
        }
    }

    /// The schema of the command `args` names: the longest run of its first words that names
    /// a schema file (`label buy --all-packed` is `label-buy`).
    fn command_of(&self, args: &[&str]) -> String {
        (1..=args.len())
            .rev()
            .map(|n| args[..n].join("-"))
            .find(|name| self.validators.contains_key(name))
            .unwrap_or_else(|| panic!("no schema in {SCHEMAS} for {args:?}"))
    }

    /// Why `doc` does not fit the schema `name`: every violation, where it is.
    fn violations(&self, name: &str, doc: &Value) -> Vec<String> {
        self.validators[name]
            .iter_errors(doc)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect()
    }

    /// Asserts that `body` is a JSON document of the schema `name`, and counts it used.
    fn check(&self, name: &str, body: &str, what: &str) -> Value {
        let doc = assert_json_contract(body, what);
        let bad = self.violations(name, &doc);
        assert!(
            bad.is_empty(),
            "{what} against {name}.json: {bad:?}\n{body}"
        );
        self.used.borrow_mut().insert(name.to_owned());
        doc
    }
}

/// A site's day, every command's answer checked.
struct Day<'a> {
    site: &'a Site,
    schemas: &'a Schemas,
}

impl Day<'_> {
    fn run(&self, args: &[&str]) -> Output {
        let mut all = args.to_vec();
        all.push("--json");
        self.site.run_unlocked(&all)
    }

    /// `args --json`, which must succeed; its answer, checked against its schema.
    fn json(&self, args: &[&str]) -> Value {
        let out = self.run(args);
        assert_ok(&out, args);
        self.answer(args, &out)
    }

    /// `args --json`, which must end with `code`; its answer, checked against its schema.
    fn json_ending(&self, args: &[&str], code: i32) -> Value {
        let out = self.run(args);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {}", stderr(&out));
        self.answer(args, &out)
    }

    fn answer(&self, args: &[&str], out: &Output) -> Value {
        let name = self.schemas.command_of(args);
        self.schemas.check(
            &name,
            &String::from_utf8_lossy(&out.stdout),
            &format!("{args:?}"),
        )
    }

    /// `args --json`, which must fail with nothing on standard output and its error, as
    /// `error.json` says, on standard error.
    fn error(&self, args: &[&str], code: i32) -> Value {
        let out = self.run(args);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {}", stderr(&out));
        assert!(out.stdout.is_empty(), "{args:?}");
        self.schemas
            .check("error", &stderr(&out), &format!("{args:?} (error)"))
    }

    fn config(&self, edit: impl FnOnce(String) -> String) {
        let cfg = std::fs::read_to_string(&self.site.config).unwrap();
        std::fs::write(&self.site.config, edit(cfg)).unwrap();
    }
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Scans every unit of a claimed batch, putting each into its slot.
fn pick_all(day: &Day, claim: &Value) {
    let b = s(&claim["id"]);
    for line in claim["lines"].as_array().unwrap() {
        for _ in 0..line["needed"].as_u64().unwrap() {
            let scanned = day.json(&["pick", "scan", &b, line["sku"].as_str().unwrap()]);
            if scanned["scan"]["kind"] == "unit" && scanned["scan"]["put"] == false {
                day.json(&["pick", "put", &b, &s(&scanned["scan"]["slot"])]);
            }
        }
    }
}

/// Packs a picked order in one box (or, with `split`, its first unit in a box of its own).
fn pack(day: &Day, order: &str, split: bool) {
    let check = day.json(&["pack", "start", order]);
    let skus: Vec<String> = check["lines"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|l| std::iter::repeat_n(s(&l["sku"]), l["needed"].as_u64().unwrap() as usize))
        .collect();
    for (i, sku) in skus.iter().enumerate() {
        day.json(&["pack", "scan", order, sku]);
        if split && i == 0 && skus.len() > 1 {
            day.json(&["pack", "close-box", order, "--box", "S", "--weight", "400"]);
        }
    }
    let packed = day.json(&["pack", "finish", order, "--box", "S", "--weight", "800"]);
    assert_eq!(packed["state"], "packed", "{packed}");
}

/// The units of an order, as `lookup` counts them.
fn units(day: &Day, order: &str) -> u64 {
    day.json(&["lookup", "--order", order])["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["quantity_ordered"].as_u64().unwrap())
        .sum()
}

const RETURNS_TSV: &str = "Order ID\tOrder date\tReturn request date\tReturn request status\tAmazon RMA ID\tReturn carrier\tTracking ID\tASIN\tMerchant SKU\tItem Name\tReturn quantity\tReturn Reason\n\
903-0000001-0000001\t2026-11-20\t2026-11-26\tApproved\tDCLIRMA001\tUPS\t1Z9R00000000000042\tB0HOSTILE1\tSKU-HOSTILE\tWidget\t2\tCR-DEFECTIVE\n";

#[test]
fn every_json_answer_keeps_its_schema() {
    let schemas = Schemas::load();
    let m = marketplace(12, "1000");
    let (_creds, amazon) = amazon_config(&m);
    let files = tempfile::tempdir().unwrap();
    let labels = files.path().join("labels");
    // The slip printer is missing at first: a print fails, for `prints retry`.
    let slips = files.path().join("slips");
    std::fs::create_dir(&labels).unwrap();
    let config = format!(
        "{amazon}[shipping]\napi = \"shipping-v2\"\nlabel_printer = {:?}\nslip_printer = {:?}\n\
         [shipping.from]\nname = \"Example Goods\"\nline1 = \"1 Dock Road\"\ncity = \"Reno\"\nstate = \"NV\"\npostal_code = \"89501\"\ncountry_code = \"US\"\nphone = \"7755550100\"\nemail = \"ship@example.com\"\n\
         [floor]\nconfirm_put = true\ncart_slots = 40\nboxes = [{{ name = \"S\", mm = [200, 150, 100] }}]\n\
         [roles]\nleads = [{me:?}]\npackers = [\"someone-else\"]\n",
        format!("file:{}", labels.display()),
        format!("file:{}", slips.display()),
        me = crate::common::floor::whoami(),
    );
    // On sled whatever the run's backend: the day ends by moving the store into PostgreSQL.
    let site = Site::with_store_config(&config);
    site.init_identity_keys();
    let day = Day {
        site: &site,
        schemas: &schemas,
    };

    // Orders arrive: from Amazon, and from a file.
    let synced = day.json(&["sync", "--once"]);
    assert!(synced["new"].as_u64().unwrap() >= 12, "{synced}");
    day.json(&["sync", "problems"]);
    let ann = "903-0000001-0000001";
    let page = site.write_page(
        "a.json",
        &page(
            &[person(ann, "Ann Example")],
            "UNSHIPPED",
            "2026-11-23T10:00:00Z",
        ),
    );
    day.json(&["import", page.to_str().unwrap()]);
    let listed = day.json(&["orders", "list"]);
    assert_eq!(listed.as_array().unwrap().len(), 13, "{listed}");
    // Into a pipe, the list is one line, as every other answer (docs/json.md).
    let raw = site.ok_unlocked(&["orders", "list", "--json"]);
    assert_eq!(raw.lines().count(), 1, "{raw}");
    // `--json-lines`: each line one of the list's items.
    let file: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{SCHEMAS}/orders-list.json")).unwrap(),
    )
    .unwrap();
    let mut item = file["items"].clone();
    item["$defs"] = file["$defs"].clone();
    let item = jsonschema::draft202012::new(&item).unwrap();
    let lines = site.ok_unlocked(&["orders", "list", "--json-lines"]);
    assert_eq!(lines.lines().count(), 13, "{lines}");
    for line in lines.lines() {
        let row = assert_json_contract(line, "orders list --json-lines");
        let bad: Vec<String> = item.iter_errors(&row).map(|e| e.to_string()).collect();
        assert!(bad.is_empty(), "orders list --json-lines: {bad:?}\n{line}");
    }

    // `lookup`'s three answers: an order, the orders of a name, a lead's reveal.
    day.json(&["lookup", "--order", ann]);
    let found = day.json(&["lookup", "--name", "Ann Example"]);
    assert_eq!(found, serde_json::json!([ann]));
    day.json(&[
        "lookup",
        "--order",
        ann,
        "--reveal",
        "--reason",
        "address check",
    ]);

    // Holds and exceptions.
    day.json(&["orders", "hold", ann, "--reason", "address check"]);
    let holds = day.json(&["orders", "holds"]);
    assert_eq!(holds.as_array().unwrap().len(), 1, "{holds}");
    day.json(&["orders", "release", ann]);
    day.json(&["exceptions", "raise", ann, "--note", "box dented"]);
    day.json(&["exceptions", "list"]);
    let done = day.json(&[
        "exceptions",
        "resolve",
        ann,
        "--to",
        "new",
        "--resolution",
        "reboxed",
    ]);
    assert_eq!(done, serde_json::json!({ "ok": true }));

    // Batches given back, handed over and short, then one picked whole.
    let b = s(&day.json(&["pick", "claim", "--size", "1"])["id"]);
    day.json(&["pick", "release", &b, "--reason", "break"]);
    let b = s(&day.json(&["pick", "claim", "--size", "1"])["id"]);
    day.json(&["pick", "reassign", &b, "--to", "someone-else"]);
    let short = day.json(&["pick", "claim", "--size", "1"]);
    let sku = s(&short["lines"][0]["sku"]);
    day.json(&[
        "pick",
        "short",
        &s(&short["id"]),
        &sku,
        "--reason",
        "not on the shelf",
    ]);
    let claim = day.json(&["pick", "claim", "--size", "40"]);
    day.json(&["pick", "list", "--all"]);
    pick_all(&day, &claim);
    day.json(&["pick", "finish", &s(&claim["id"])]);
    let mut picked: Vec<(u64, String)> = claim["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (units(&day, &s(o)), s(o)))
        .collect();
    picked.sort();
    assert!(picked.len() >= 7, "{picked:?}");
    let (most, first) = picked.pop().unwrap();
    assert!(
        most >= 2,
        "the seeded floor has an order of two units or more"
    );
    let rest: Vec<String> = picked.into_iter().map(|(_, o)| o).collect();

    // Labels through the Shipping API v2: rates, a purchase (two boxes), a void, again.
    pack(&day, &first, true);
    let rates = day.json(&["label", "rates", &first]);
    assert!(!rates.as_array().unwrap().is_empty(), "{rates}");
    day.json(&["label", "buy", &first]);
    day.json(&["label", "void", &first, "--reason", "wrong service"]);
    let bought = day.json(&["label", "buy", &first]);
    assert_eq!(bought.as_array().unwrap().len(), 2, "{bought}");
    day.json(&["label", "print", &first]);
    // A slip to a printer that is not there fails (status 1), and its retry prints.
    let failed = day.json_ending(&["slip", &first], 1);
    assert_eq!(failed[0]["state"], "failed", "{failed}");
    day.json(&["prints", "--failed"]);
    std::fs::create_dir(&slips).unwrap();
    day.json(&["prints", "retry", "--failed"]);
    day.json(&["slip", &first]);
    day.json(&["prints"]);

    // The own carrier's shipment, and a wave.
    pack(&day, &rest[0], false);
    day.json(&[
        "ship",
        &rest[0],
        "--carrier",
        "UPS",
        "--tracking",
        "1Z999AA10123456784",
    ]);
    pack(&day, &rest[1], false);
    pack(&day, &rest[2], false);
    let wave = day.json(&["label", "buy", "--all-packed", "--no-print"]);
    assert_eq!(wave["bought"].as_array().unwrap().len(), 2, "{wave}");
    let closed = day.json(&["manifest", "--close"]);
    assert!(closed["shipped"].as_u64().unwrap() >= 3, "{closed}");

    // Purchases of unknown outcome through Merchant Fulfillment v0: one Amazon made (found by
    // its shipment id), one it did not (cleared).
    day.config(|c| c.replace("api = \"shipping-v2\"", "api = \"mfn-v0\""));
    pack(&day, &rest[3], false);
    pack(&day, &rest[4], false);
    http(&m, "POST", "/_training/faults/createShipment/malformed");
    day.error(&["label", "buy", &rest[3]], 1);
    let made = request_log(&m)
        .into_iter()
        .rev()
        .find(|r| r["operation"] == "createShipment" && r["params"]["orderId"] == rest[3].as_str())
        .unwrap();
    let shipment = s(&made["params"]["shipmentId"]);
    day.json(&["label", "check", &rest[3], "--shipment-id", &shipment]);
    http(&m, "POST", "/_training/faults/createShipment/500");
    day.error(&["label", "buy", &rest[4]], 1);
    day.json(&[
        "label",
        "clear",
        &rest[4],
        "--reason",
        "Seller Central shows none",
    ]);

    // Returns, inquiries and a message to a buyer.
    let report = site.dir.path().join("returns.tsv");
    std::fs::write(&report, RETURNS_TSV).unwrap();
    day.json(&["returns", "import", report.to_str().unwrap()]);
    day.json(&["returns", "list"]);
    day.json(&[
        "returns",
        "receive",
        "DCLIRMA001",
        "--sku",
        "SKU-HOSTILE",
        "--condition",
        "damaged",
    ]);
    day.json(&["returns", "close", "DCLIRMA001"]);
    day.json(&["returns", "sync"]);
    let opened = day.json(&[
        "inquiry",
        "open",
        ann,
        "--category",
        "damaged",
        "--note",
        "dented",
    ]);
    let id = s(&opened["id"]);
    day.json(&["inquiry", "note", &id, "--note", "photo received"]);
    day.json(&["inquiry", "list"]);
    day.json(&["inquiry", "show", &id]);
    day.json(&["inquiry", "resolve", &id, "--resolution", "refunded"]);
    day.json(&[
        "message",
        &first,
        "--kind",
        "unexpectedProblem",
        "--text",
        "Your parcel left a day late: we are sorry.",
    ]);

    // The lead's views, the keys and the log.
    for args in [
        &["keys", "show"][..],
        &["keys", "rotate"],
        &["audit", "verify"],
        &["audit", "list", "--limit", "5"],
        &["check"],
        &["report"],
        &["dashboard"],
        &["metrics"],
        &["access", "review"],
        &["purge"],
    ] {
        day.json(args);
    }

    // A backup, restored into an empty data directory.
    let backups = tempfile::tempdir().unwrap();
    let backup = day.json(&["backup", backups.path().to_str().unwrap()]);
    let restored = files.path().join("restored");
    let args = ["restore", backup["dir"].as_str().unwrap(), "--json"];
    let out = site
        .cmd()
        .env("PACKLINE_DATA_DIR", &restored)
        .args(args)
        .output()
        .unwrap();
    assert_ok(&out, &args);
    day.answer(&args, &out);

    // The store moves into PostgreSQL.
    let cluster = crate::common::stores::cluster_always();
    let db = format!("json_schema_{}", std::process::id());
    cluster.create_database(&db).unwrap();
    day.json(&["store", "migrate", "--to", &cluster.url(&db)]);

    // Errors, of the command line (2) and of the service (1).
    let usage = day.error(&["orders", "lst"], 2);
    assert_eq!(usage["error"]["kind"], "usage");
    let missing = day.error(&["lookup", "--order", "999-0000000-0000000"], 1);
    assert_eq!(missing["error"]["kind"], "not_found");

    // Every schema was used (those of the commands only several sites of one database
    // have are in tests/sites.rs).
    schemas.used.borrow_mut().insert("orders-move".into());
    let all: BTreeSet<String> = schemas.validators.keys().cloned().collect();
    assert_eq!(
        *schemas.used.borrow(),
        all,
        "schemas no answer was checked against"
    );
}

/// The validation can fail: a document a little off its schema is refused.
#[test]
fn a_document_off_its_schema_is_refused() {
    let schemas = Schemas::load();
    let off = |name: &str, doc: Value| {
        assert!(
            !schemas.violations(name, &doc).is_empty(),
            "{name}.json took {doc}"
        );
    };
    let ok = |name: &str, doc: Value| {
        let bad = schemas.violations(name, &doc);
        assert!(bad.is_empty(), "{name}.json refused {doc}: {bad:?}");
    };
    ok("label-void", serde_json::json!({ "ok": true }));
    off("label-void", serde_json::json!({ "ok": false }));
    off("label-void", serde_json::json!(null));
    let put = serde_json::json!({
        "batch": 1,
        "scan": { "kind": "put", "order": "903-0000001-0000001", "slot": 1 },
        "slot": 1,
        "complete": false,
    });
    ok("pick-put", put.clone());
    // A Rust enum's tag instead of `kind`, a missing field, a number as a string.
    let with = |pointer: &str, v: Option<Value>| {
        let mut doc = put.clone();
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        let parent = doc.pointer_mut(parent).unwrap().as_object_mut().unwrap();
        match v {
            Some(v) => parent.insert(key.to_owned(), v),
            None => parent.remove(key),
        };
        doc
    };
    off(
        "pick-put",
        serde_json::json!({
            "batch": 1,
            "scan": { "Put": { "order": "903-0000001-0000001", "slot": 1 } },
            "slot": 1,
            "complete": false,
        }),
    );
    off("pick-put", with("/scan/kind", Some("Put".into())));
    off("pick-put", with("/scan/order", None));
    off("pick-put", with("/complete", None));
    off("pick-put", with("/scan/slot", Some("1".into())));
    off("audit-verify", serde_json::json!({ "entries": -1 }));
    off(
        "orders-list",
        serde_json::json!({ "order_id": "903-0000001-0000001" }),
    );
    off("error", serde_json::json!({ "error": { "kind": "usage" } }));
}
