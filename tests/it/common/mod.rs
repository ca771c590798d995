//! Shared by the integration tests: a throwaway site (data dir, config, log, keys) driven through
//! the real `packline` binary, and hostile order fixtures in the exact searchOrders shape.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chrono::{DateTime, Utc};
use packline::amazon::parse_search_orders;
use packline::domain::{Event, OrderId};
use packline::store::Store;
use serde_json::{Value, json};

pub mod floor;
pub mod stores;
pub mod tools;
pub use floor::{Floor, settings_of, whoami};
pub use stores::{init_store, on_postgres, open_store, store_config};
pub use tools::{Tool, have};

pub struct Site {
    pub dir: tempfile::TempDir,
    pub data: PathBuf,
    pub config: PathBuf,
    pub log: PathBuf,
    pub key: PathBuf,
    pub passphrase: PathBuf,
}

impl Site {
    /// A site with no keys yet. The config names the log file and, if `identity` is set, the
    /// identity file for unattended unlock.
    pub fn new(extra_config: &str) -> Site {
        Site::made(extra_config, on_postgres())
    }

    /// A site whose store is in PostgreSQL (this run's private cluster) whatever the run's
    /// backend.
    pub fn on_postgres(extra_config: &str) -> Site {
        Site::made(extra_config, true)
    }

    /// A site whose config says where its store is itself (in `extra_config`).
    pub fn with_store_config(extra_config: &str) -> Site {
        Site::made(extra_config, false)
    }

    fn made(extra_config: &str, postgres: bool) -> Site {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let config = dir.path().join("config.toml");
        let log = dir.path().join("log/packline.log");
        let key = dir.path().join("master.key");
        let passphrase = dir.path().join("passphrase");
        std::fs::write(
            &config,
            format!(
                "[log]\nfile = {:?}\n{}{extra_config}\n",
                log.display().to_string(),
                match postgres {
                    true => stores::postgres_config(&data),
                    false => String::new(),
                }
            ),
        )
        .unwrap();
        Site {
            dir,
            data,
            config,
            log,
            key,
            passphrase,
        }
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_packline"));
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("PACKLINE_CONFIG", &self.config)
            .env("PACKLINE_DATA_DIR", &self.data);
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }

    /// Runs with the master identity file given in the environment (an unlocked session).
    pub fn run_unlocked(&self, args: &[&str]) -> Output {
        self.cmd()
            .env("PACKLINE_IDENTITY_FILE", &self.key)
            .args(args)
            .output()
            .unwrap()
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_ok(&out, args);
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn ok_unlocked(&self, args: &[&str]) -> String {
        let out = self.run_unlocked(args);
        assert_ok(&out, args);
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn init_identity_keys(&self) {
        self.ok(&[
            "keys",
            "init",
            "--identity-file",
            self.key.to_str().unwrap(),
        ]);
    }

    /// Names `socket` in the site's config as its daemon's, so that its commands go through
    /// the daemon serving there (as on a real site) rather than open the store themselves.
    pub fn name_socket(&self, socket: &Path) {
        let config = std::fs::read_to_string(&self.config).unwrap();
        std::fs::write(
            &self.config,
            format!(
                "{config}\n[service]\nsocket = {:?}\n",
                socket.display().to_string()
            ),
        )
        .unwrap();
    }

    /// The socket [`start_daemon`] serves the site on.
    pub fn daemon_socket(&self) -> PathBuf {
        self.dir.path().join("run/packline.sock")
    }

    pub fn write_page(&self, name: &str, page: &Value) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, serde_json::to_vec_pretty(page).unwrap()).unwrap();
        p
    }

    /// The ids of the orders `orders list --json` lists, sorted.
    pub fn order_ids(&self) -> Vec<String> {
        self.listed(&["orders", "list", "--json"], "order_id")
    }

    /// The text field `field` of every item a `--json` listing (`args`) answers, sorted.
    pub fn listed(&self, args: &[&str], field: &str) -> Vec<String> {
        let listed: Value = serde_json::from_str(&self.ok(args)).unwrap();
        let mut values: Vec<String> = listed
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o[field].as_str().unwrap().to_owned())
            .collect();
        values.sort();
        values
    }

    pub fn import(&self, name: &str, page: &Value) -> String {
        let p = self.write_page(name, page);
        self.ok(&["import", p.to_str().unwrap()])
    }
}

pub fn assert_ok(out: &Output, args: &[&str]) {
    assert!(
        out.status.success(),
        "packline {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
}

/// `lookup --order ID --reveal --reason REASON`.
pub fn reveal_args<'a>(id: &'a str, reason: &'a str) -> [&'a str; 6] {
    ["lookup", "--order", id, "--reveal", "--reason", reason]
}

/// The command failed, and its error message says `needle`.
pub fn assert_fails(out: &Output, needle: &str) {
    let err = stderr(out);
    assert!(
        !out.status.success(),
        "expected a failure saying {needle:?}"
    );
    assert!(err.contains(needle), "expected {needle:?} in: {err}");
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A copy as `cp -a` makes it: a data directory keeps its mode (packline refuses one open to
/// others).
pub fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    std::fs::set_permissions(to, std::fs::metadata(from)?.permissions())?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let target = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_dir(&e.path(), &target)?;
        } else {
            std::fs::copy(e.path(), target)?;
        }
    }
    Ok(())
}

/// Every file under `dir`, recursively, for tests that search them for personal values. The
/// store's space reserve is checked here to hold nothing but zeros, and left out (searching its
/// 32 MiB for every value would only find zeros, slowly).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name() == Some(packline::store::space::RESERVE_FILE.as_ref()) {
                let bytes = std::fs::read(&p).unwrap();
                assert!(
                    bytes.iter().all(|b| *b == 0),
                    "the space reserve {} holds something other than zeros",
                    p.display()
                );
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// A validator for one definition of an official SP-API model (Swagger 2.0, so draft 4).
pub fn validator_in(model: &str, definition: &str) -> jsonschema::Validator {
    let model: Value = serde_json::from_str(model).unwrap();
    let schema = json!({
        "$ref": format!("#/definitions/{definition}"),
        "definitions": model["definitions"],
    });
    jsonschema::draft4::new(&schema).unwrap()
}

/// Asserts that `body` is JSON the validator accepts, naming `what` and every violation.
pub fn assert_valid(v: &jsonschema::Validator, body: &str, what: &str) {
    let value: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{what}: {e}: {body}"));
    let errors: Vec<String> = v
        .iter_errors(&value)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{what}: {errors:?}");
}

/// Asserts that a command's JSON answer keeps packline's one JSON contract (docs/json.md): one
/// document, every key snake_case (no camelCase, no Rust enum tag such as `{"Unit": …}`), lists
/// as arrays. `what` names the command in the failure.
pub fn assert_json_contract(body: &str, what: &str) -> Value {
    let value: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{what}: {e}: {body}"));
    fn walk(v: &Value, path: &str, bad: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    let snake = k.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                        && k.chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
                    if !snake {
                        bad.push(format!("{path}/{k}"));
                    }
                    walk(v, &format!("{path}/{k}"), bad);
                }
            }
            Value::Array(a) => {
                for (i, v) in a.iter().enumerate() {
                    walk(v, &format!("{path}/{i}"), bad);
                }
            }
            _ => {}
        }
    }
    let mut bad = Vec::new();
    walk(&value, "", &mut bad);
    assert!(
        bad.is_empty(),
        "{what}: keys that are not snake_case: {bad:?} in {body}"
    );
    value
}

/// Every audit entry of the store in `data`, read straight from its database, oldest first.
pub fn audit_entries(data: &Path) -> Vec<Value> {
    stores::raw_backend(data)
        .open_tree("audit")
        .unwrap()
        .iter()
        .values()
        .map(|v| serde_json::from_slice(&v.unwrap()).unwrap())
        .collect()
}

pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The personal values of a recipient fixture, each distinctive enough that finding its bytes
/// anywhere means it leaked.
pub struct Person {
    pub order_id: String,
    pub name: String,
    pub company: String,
    pub line1: String,
    pub line2: String,
    pub city: String,
    pub district: String,
    pub region: String,
    pub postal: String,
    pub phone: String,
    pub instructions: String,
    pub gift: String,
}

impl Person {
    pub fn values(&self) -> Vec<&str> {
        vec![
            &self.name,
            &self.company,
            &self.line1,
            &self.line2,
            &self.city,
            &self.district,
            &self.region,
            &self.postal,
            &self.phone,
            &self.instructions,
            &self.gift,
        ]
    }
}

/// A 10 KB field that is unique to `tag` throughout (no 16-byte window repeats elsewhere).
pub fn long_field(tag: &str) -> String {
    let mut s = String::with_capacity(10_300);
    let mut i = 0u32;
    while s.len() < 10 * 1024 {
        s.push_str(&format!("{tag}-{i:05} "));
        i += 1;
    }
    s
}

/// Hostile recipients: scripts of every direction, controls, escapes, ZPL characters, 10 KB fields.
pub fn hostile_people() -> Vec<Person> {
    let names = [
        "Дмитрий Шостакович-Ярославский",
        "محمد عبد الرحمن الفارسي",
        "יעל בת-שבע כהנוביץ",
        "山田 太郎左衛門",
        "Zoë\u{200B}Ångström\u{200D}Ødegård",
        "\u{1b}[2J\u{1b}]0;owned\u{7}Eve Escapington",
        "Mallory \u{202E}reversed\u{202C} Overrideson",
        "^XA^FO50,50^FDInjected^FS~JA Caretsworth",
        "Nguyễn Thị Minh Khai-Phường",
    ];
    let mut people: Vec<Person> = names
        .iter()
        .enumerate()
        .map(|(i, name)| Person {
            order_id: format!("902-{:07}-{:07}", 1000 + i, 4000 + i),
            name: name.to_string(),
            company: format!("Ünïcødé Trading Cø {i} ~^ GmbH"),
            line1: format!("{} Rue de l'Église\u{0301} Nº{i}", 17 + i),
            line2: format!("Bâtiment \u{1b}[1mC{i}\u{1b}[0m étage"),
            city: format!("Sankt-Peterburg-{i}-Город"),
            district: format!("Округ Василеостровский {i}"),
            region: format!("Région Île-de-France {i}"),
            postal: format!("PC-{i}-98ZX1"),
            phone: format!("+7 (812) 555-01{i:02} доб. 9{i}"),
            instructions: format!("Leave with 管理人 at door {i} ^FO~ \u{7} please"),
            gift: format!("Alles Gute zum Geburtstag {i}! 🎂 \u{200F}مبارك\u{200F}"),
        })
        .collect();
    // One recipient with every field 10 KB long.
    people.push(Person {
        order_id: "902-0009999-0009999".into(),
        name: long_field("NAMEFIELD"),
        company: long_field("COMPANYFIELD"),
        line1: long_field("LINEONEFIELD"),
        line2: long_field("LINETWOFIELD"),
        city: long_field("CITYFIELD"),
        district: long_field("DISTRICTFIELD"),
        region: long_field("REGIONFIELD"),
        postal: long_field("POSTALFIELD"),
        phone: long_field("PHONEFIELD"),
        instructions: long_field("INSTRUCTIONFIELD"),
        gift: long_field("GIFTFIELD"),
    });
    people
}

/// Buyer data that must be dropped on parse.
pub const BUYER_VALUES: [&str; 4] = [
    "Purchaser Hiddenname",
    "purchaser-hidden@marketplace.example",
    "Purchaser Holdings Ltd",
    "PO-PURCHASER-77",
];

pub fn order_json(p: &Person, status: &str, updated: &str) -> Value {
    json!({
        "orderId": p.order_id,
        "createdTime": "2026-11-23T09:00:00Z",
        "lastUpdatedTime": updated,
        "programs": ["PRIME"],
        "salesChannel": {"channelName": "AMAZON", "marketplaceId": "ATVPDKIKX0DER"},
        "buyer": {
            "buyerName": BUYER_VALUES[0],
            "buyerEmail": BUYER_VALUES[1],
            "buyerCompanyName": BUYER_VALUES[2],
            "buyerPurchaseOrderNumber": BUYER_VALUES[3]
        },
        "recipient": {
            "deliveryAddress": {
                "name": p.name,
                "companyName": p.company,
                "addressLine1": p.line1,
                "addressLine2": p.line2,
                "city": p.city,
                "districtOrCounty": p.district,
                "stateOrRegion": p.region,
                "postalCode": p.postal,
                "countryCode": "RU",
                "phone": p.phone,
                "addressType": "RESIDENTIAL"
            },
            "deliveryPreference": {"addressInstruction": p.instructions}
        },
        "payment": {"paymentExecutions": [{"paymentMethod": "CREDIT_CARD"}]},
        "fulfillment": {
            "fulfillmentStatus": status,
            "fulfilledBy": "MERCHANT",
            "fulfillmentServiceLevel": "EXPEDITED",
            "shipByWindow": {"latestDateTime": "2026-11-25T23:59:59Z"},
            "deliverByWindow": {"latestDateTime": "2026-11-28T23:59:59Z"}
        },
        "orderItems": [{
            "orderItemId": format!("{}01", p.order_id.replace('-', "")),
            "quantityOrdered": 2,
            "product": {"asin": "B0HOSTILE1", "title": "Widget ^FO~ \u{1b}[5m blink", "sellerSku": "SKU-HOSTILE"},
            "fulfillment": {"quantityFulfilled": 0, "packing": {"giftOption": {"giftMessage": p.gift}}}
        }]
    })
}

pub fn page(people: &[Person], status: &str, updated: &str) -> Value {
    json!({ "orders": people.iter().map(|p| order_json(p, status, updated)).collect::<Vec<_>>() })
}

/// An RFC 3339 time.
pub fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().into()
}

/// A hostile recipient with this order id and name.
pub fn person(id: &str, name: &str) -> Person {
    let mut p = hostile_people().remove(0);
    p.order_id = id.into();
    p.name = name.into();
    p
}

/// Imports these people through the real parser, as one searchOrders page.
pub fn imp(store: &mut Store, ps: &[&Person], status: &str, updated: &str, now: DateTime<Utc>) {
    let page = serde_json::json!({"orders": ps.iter().map(|p| order_json(p, status, updated)).collect::<Vec<_>>()});
    let body = serde_json::to_vec(&page).unwrap();
    store
        .import(parse_search_orders(&body, "p").unwrap().orders, "lead", now)
        .unwrap();
}

/// Takes an order through pick, pack and label to Shipped.
pub fn ship(store: &Store, id: &str, at: DateTime<Utc>) {
    let id = OrderId::parse(id).unwrap();
    for e in [
        Event::StartPick,
        Event::FinishPick,
        Event::FinishPack,
        Event::LabelBought,
        Event::Ship,
    ] {
        store.transition(&id, e, "packer", None, at).unwrap();
    }
}

/// A training marketplace run as its own process, stopped on drop.
pub struct Marketplace {
    pub child: std::process::Child,
    pub url: String,
}

impl Drop for Marketplace {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn marketplace(orders: usize, quota_scale: &str) -> Marketplace {
    marketplace_with(orders, quota_scale, &[])
}

pub fn marketplace_with(orders: usize, quota_scale: &str, extra: &[&str]) -> Marketplace {
    let orders = orders.to_string();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_packline"))
        .args(["marketplace", "--listen", "127.0.0.1:0", "--seed", "7"])
        .args(["--orders", &orders, "--quota-scale", quota_scale])
        .args(extra)
        .env("XDG_STATE_HOME", std::env::temp_dir())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line was {line:?}"))
        .to_owned();
    Marketplace { child, url }
}

/// The `[amazon]` config of a site that syncs from the training marketplace `m`, and the
/// directory of its credentials file (keep it while the site runs).
pub fn amazon_config(m: &Marketplace) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let creds = dir.path().join("lwa.toml");
    std::fs::write(
        &creds,
        "client_id = \"training\"\nclient_secret = \"training\"\nrefresh_token = \"training\"\n",
    )
    .unwrap();
    std::fs::set_permissions(
        &creds,
        <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o600),
    )
    .unwrap();
    let config = format!(
        "[amazon]\nendpoint = {:?}\ntoken_url = {:?}\ncredentials_file = {:?}\nmarketplace_ids = [\"ATVPDKIKX0DER\"]\n",
        m.url,
        format!("{}/auth/o2/token", m.url),
        creds.display().to_string()
    );
    (dir, config)
}

/// A plain HTTP/1.1 request to the marketplace (no client library involved); the body back.
pub fn http(m: &Marketplace, method: &str, path: &str) -> String {
    let (status, body) = http_with(m, method, path, &[]);
    assert!(
        (200..300).contains(&status),
        "{method} {path}: {status} {body}"
    );
    body
}

/// A plain HTTP/1.1 request with extra headers; the status and body back.
pub fn http_with(
    m: &Marketplace,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, String) {
    http_send(m, method, path, headers, "")
}

/// A plain HTTP/1.1 request with headers and a body; the status and body back.
pub fn http_send(
    m: &Marketplace,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    use std::io::{Read, Write};
    let addr = m.url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let status = resp.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = resp[resp.find("\r\n\r\n").unwrap() + 4..].to_owned();
    (status, body)
}

/// The marketplace's request log.
pub fn request_log(m: &Marketplace) -> Vec<serde_json::Value> {
    serde_json::from_str(&http(m, "GET", "/_training/requests")).unwrap()
}

/// The Code 128 barcodes an independent decoder (PyPI zxing-cpp) reads in an image file; the
/// caller checks `have(&[Tool::Zxing])` first.
pub fn zxing_read(image: &std::path::Path) -> Vec<String> {
    const SCRIPT: &str = r#"
import sys
try:
    import zxingcpp
    from PIL import Image
except ImportError as e:
    print("MISSING", e)
    sys.exit(3)
for r in zxingcpp.read_barcodes(Image.open(sys.argv[1]), formats=zxingcpp.BarcodeFormat.Code128, text_mode=zxingcpp.TextMode.Plain):
    print(r.text)
"#;
    let out = std::process::Command::new("python3")
        .args(["-c", SCRIPT])
        .arg(image)
        .output()
        .expect("python3 runs (check have(&[Tool::Zxing]) first)");
    assert!(
        out.status.success(),
        "the barcode decoder failed (check have(&[Tool::Zxing]) first): {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// A new store in `dir/data`, its master identity in `dir/master.key`, unlocked.
pub fn unlocked_store(dir: &Path) -> Store {
    use packline::store::MasterSource;
    let data = dir.join("data");
    let key = dir.join("master.key");
    init_store(
        &data,
        &MasterSource::IdentityFile(key.clone()),
        "lead",
        chrono::Utc::now(),
    );
    let mut store = open_store(&data).unwrap();
    store.unlock(&MasterSource::IdentityFile(key)).unwrap();
    store
}

/// The training marketplace's book of orders (it carries no personal data), as it lists them.
pub fn training_book(m: &Marketplace) -> Vec<Value> {
    serde_json::from_str(&http(m, "GET", "/_training/orders")).unwrap()
}

/// The ids of the training marketplace's orders, in the order its book lists them.
pub fn training_order_ids(m: &Marketplace) -> Vec<String> {
    training_book(m)
        .iter()
        .map(|o| o["orderId"].as_str().unwrap().to_owned())
        .collect()
}

/// The fulfillment status the training marketplace gives order `id`.
pub fn training_status(m: &Marketplace, id: &str) -> String {
    training_book(m)
        .iter()
        .find(|o| o["orderId"] == id)
        .unwrap()["fulfillmentStatus"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Ships an order at the training marketplace outside packline (as from Seller Central: every
/// line confirmed with a carrier's tracking number); answers the order as Amazon has it,
/// recipient included (what a test must never find in the store).
pub async fn ship_at_amazon(m: &Marketplace, id: &str) -> packline::domain::ImportedOrder {
    use packline::amazon::orders::{ConfirmItem, ConfirmShipment, PackageDetail};
    let api = training_api(m, std::time::Duration::from_secs(5));
    let order = api.get_order(&OrderId::parse(id).unwrap()).await.unwrap();
    api.confirm_shipment(
        &order.order.id,
        &ConfirmShipment {
            marketplace_id: "ATVPDKIKX0DER".into(),
            package_detail: PackageDetail {
                package_reference_id: "1".into(),
                carrier_code: "UPS".into(),
                carrier_name: None,
                shipping_method: None,
                tracking_number: "1Z999AA10123456784".into(),
                ship_date: Utc::now().to_rfc3339(),
                order_items: order
                    .order
                    .lines
                    .iter()
                    .map(|l| ConfirmItem {
                        order_item_id: l.item_id.clone(),
                        quantity: l.quantity_ordered,
                        transparency_codes: Vec::new(),
                    })
                    .collect(),
            },
        },
    )
    .await
    .unwrap();
    order
}

pub fn training_api(
    m: &Marketplace,
    timeout: std::time::Duration,
) -> packline::amazon::client::SpApi {
    packline::amazon::client::SpApi::new(
        &m.url,
        &format!("{}/auth/o2/token", m.url),
        packline::amazon::client::Credentials {
            client_id: "training".into(),
            client_secret: "training".to_owned().into(),
            refresh_token: "training".to_owned().into(),
        },
        timeout,
    )
    .unwrap()
}

/// `packline serve` on a site, its socket at `socket` (its config must name the same for the
/// CLI to find it); killed on drop.
pub struct Daemon {
    pub child: std::process::Child,
    pub socket: PathBuf,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start_daemon(site: &Site) -> Daemon {
    start_daemon_on(site, &site.daemon_socket())
}

/// `packline serve` on a site whose last daemon was killed: started once that one's lease has
/// run out (within the lease's 15 s), refused until then as a second daemon.
pub fn restart_daemon_on(site: &Site, socket: &Path) -> Daemon {
    let killed = std::time::Instant::now();
    loop {
        match try_start_daemon_on(site, socket) {
            Ok(daemon) => return daemon,
            Err(err) => {
                assert!(err.contains("already has a live daemon"), "{err}");
                assert!(
                    killed.elapsed() < std::time::Duration::from_secs(30),
                    "the lease was never taken over: {err}"
                );
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}

pub fn start_daemon_on(site: &Site, socket: &Path) -> Daemon {
    try_start_daemon_on(site, socket).unwrap_or_else(|e| panic!("the daemon did not start: {e}"))
}

/// `packline serve` on a site, its socket at `socket`: the daemon once it says it serves, or
/// what it said on stderr when it ended instead.
pub fn try_start_daemon_on(site: &Site, socket: &Path) -> Result<Daemon, String> {
    let socket = socket.to_path_buf();
    let errors = site.dir.path().join("serve.stderr");
    let mut child = site
        .cmd()
        .env("PACKLINE_IDENTITY_FILE", &site.key)
        .args(["serve", "--socket", socket.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(&errors).unwrap())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    std::io::BufRead::read_line(&mut out, &mut line).unwrap();
    if line.trim() == format!("serving on {}", socket.display()) {
        return Ok(Daemon { child, socket });
    }
    let _ = child.wait();
    Err(format!(
        "{}{}",
        line,
        std::fs::read_to_string(&errors).unwrap_or_default()
    ))
}

/// `[shipping.from]` of a test site's config: Example Goods' dock in Reno.
pub const SHIP_FROM: &str = "[shipping.from]\nname = \"Example Goods\"\nline1 = \"1 Dock Road\"\ncity = \"Reno\"\nstate = \"NV\"\npostal_code = \"89501\"\ncountry_code = \"US\"\nphone = \"7755550100\"\nemail = \"ship@example.com\"\n";

/// The shipping settings of a test site: Example Goods' dock as the ship-from address, ZPL
/// labels, and `printer` for labels and slips.
pub fn example_shipping(printer: Option<String>) -> packline::config::ShippingConfig {
    packline::config::ShippingConfig {
        seller_name: Some("Example Goods".into()),
        from: Some(packline::config::ShipFrom {
            name: "Example Goods".into(),
            line1: "1 Dock Road".into(),
            line2: None,
            city: "Seattle".into(),
            state: Some("WA".into()),
            postal_code: "98109".into(),
            country_code: "US".into(),
            phone: "2065550100".into(),
            email: "ship@example.com".into(),
        }),
        label_format: Some("ZPL203".into()),
        label_printer: printer.clone(),
        slip_printer: printer,
        users: Default::default(),
        printers: Default::default(),
        api: packline::config::ShippingApi::MfnV0,
        price_tolerance_percent: None,
        business_id: None,
    }
}

/// [`example_shipping`] buying through Amazon's Shipping API v2 (the site default).
pub fn example_shipping_v2(printer: Option<String>) -> packline::config::ShippingConfig {
    packline::config::ShippingConfig {
        api: packline::config::ShippingApi::ShippingV2,
        ..example_shipping(printer)
    }
}

/// Picks every unit of a batch through the service and finishes it.
pub async fn pick_all(c: &packline::service::client::Client, b: &packline::domain::PickBatch) {
    use packline::service::ops;
    for l in &b.lines {
        for _ in 0..l.needed {
            c.call(ops::PickScan {
                batch: b.id,
                code: l.sku.clone(),
            })
            .await
            .unwrap();
        }
    }
    c.call(ops::FinishPick { batch: b.id }).await.unwrap();
}

/// Packs a picked order through the service: every unit scanned, one box (M, 1,200 g).
pub async fn pack_in_one_box(
    c: &packline::service::client::Client,
    order: &packline::domain::OrderId,
) {
    use packline::service::ops;
    let check = c
        .call(ops::PackStart {
            order: order.to_string(),
        })
        .await
        .unwrap();
    for l in &check.lines {
        for _ in 0..l.needed {
            c.call(ops::PackScan {
                order: order.to_string(),
                code: l.sku.clone(),
                unit_codes: Vec::new(),
            })
            .await
            .unwrap();
        }
    }
    c.call(ops::PackFinish {
        order: order.to_string(),
        box_name: "M 30x20x15".into(),
        weight_g: 1200,
        partial: None,
        label: false,
    })
    .await
    .unwrap();
}

/// A raw TCP printer on loopback (as a Zebra listens on 9100): each job's bytes.
pub fn raw_printer() -> (String, std::sync::mpsc::Receiver<Vec<u8>>) {
    use std::io::Read as _;
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let uri = format!("socket://{}", l.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let mut buf = Vec::new();
            if s.and_then(|mut s| s.read_to_end(&mut buf)).is_ok() {
                let _ = tx.send(buf);
            }
        }
    });
    (uri, rx)
}

/// The shipments the marketplace's Shipping API v2 bought (`/_training/shipments`: ids, order,
/// package references, tracking ids, state; no personal data).
pub fn training_shipments(m: &Marketplace) -> Vec<Value> {
    let body = http(m, "GET", "/_training/shipments");
    serde_json::from_str::<Vec<Value>>(&body)
        .unwrap_or_else(|e| panic!("/_training/shipments: {e}: {body}"))
}

/// Shipments the marketplace really bought (not answers to a resend), per order id.
pub fn bought_per_order(m: &Marketplace) -> std::collections::HashMap<String, usize> {
    let mut per = std::collections::HashMap::new();
    for s in training_shipments(m) {
        *per.entry(s["orderId"].as_str().unwrap_or_default().to_owned())
            .or_insert(0) += 1;
    }
    per
}

/// How many requests of `op` the marketplace's log holds.
pub fn count_requests(m: &Marketplace, op: &str) -> usize {
    request_log(m)
        .iter()
        .filter(|r| r["operation"] == op)
        .count()
}

/// A serial scale simulated on a pseudo-terminal: it answers each weight request (`W`) with
/// the NCI answer it holds now, or with nothing at all.
pub struct SimScale {
    /// The device the bench opens (the pseudo-terminal's slave side).
    pub path: String,
    answer: std::sync::Arc<std::sync::Mutex<Option<Vec<u8>>>>,
    /// Held open so the master side never reads an end of file.
    _slave: std::os::fd::OwnedFd,
}

impl SimScale {
    pub fn start() -> SimScale {
        use std::io::{Read, Write};
        use std::os::fd::AsRawFd;
        let pty = nix::pty::openpty(None, None).unwrap();
        let path = std::fs::read_link(format!("/proc/self/fd/{}", pty.slave.as_raw_fd()))
            .unwrap()
            .display()
            .to_string();
        let answer = std::sync::Arc::new(std::sync::Mutex::new(None::<Vec<u8>>));
        let held = answer.clone();
        let mut master = std::fs::File::from(pty.master);
        std::thread::spawn(move || {
            let mut buf = [0u8; 64];
            while let Ok(n) = master.read(&mut buf) {
                if n == 0 {
                    return;
                }
                let asked = buf[..n].iter().filter(|&&b| b == b'W').count();
                let answer = held.lock().unwrap().clone();
                if let Some(a) = answer {
                    for _ in 0..asked {
                        if master.write_all(&a).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        SimScale {
            path,
            answer,
            _slave: pty.slave,
        }
    }

    /// What the scale answers from now on (`None`: it says nothing).
    pub fn answer(&self, a: Option<&[u8]>) {
        *self.answer.lock().unwrap() = a.map(<[u8]>::to_vec);
    }
}
