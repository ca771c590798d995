//! Configuration: a TOML file (`--config`, `PACKLINE_CONFIG`, or the XDG default) with
//! environment overrides. Unknown keys are errors, so a typo never silently does nothing.
//!
//! It owns what a site chooses: who holds which role, how long recipient data is kept, printers,
//! endpoints. The role and the retention policy themselves are the domain's (`domain::Role`,
//! `domain::RetentionPolicy`). It reads the config file and the environment only: it never opens
//! the store, talks to Amazon or prints.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::domain::RetentionPolicy;

/// Roles are the domain's; the configuration only says who holds which.
pub use crate::domain::Role;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub store: StoreConfig,
    #[serde(default)]
    pub keys: KeysConfig,
    #[serde(default)]
    pub retention: RetentionConfig,
    #[serde(default)]
    pub roles: RolesConfig,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub amazon: AmazonConfig,
    #[serde(default)]
    pub service: ServiceConfig,
    #[serde(default)]
    pub floor: FloorConfig,
    #[serde(default)]
    pub tui: TuiConfig,
    #[serde(default)]
    pub shipping: ShippingConfig,
    #[serde(default)]
    pub site: SiteConfig,
    /// Which site ships which orders, on a database several sites share (`[[routing]]`, in
    /// order: `site`, `countries`, `states`; docs/postgres.md).
    #[serde(default)]
    pub routing: Vec<crate::domain::routing::Rule>,
    /// Where this config was read from, for messages.
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    pub data_dir: Option<PathBuf>,
    /// `sled` (the default: the store in the data directory) or `postgres`.
    pub backend: Option<String>,
    /// The PostgreSQL database (`postgresql://…` or `key=value` words; `host=/dir` for a Unix
    /// socket). `PACKLINE_STORE_URL` overrides it. Never logged.
    pub url: Option<String>,
    /// Certificate authorities (PEM) for a database server whose certificate no public
    /// authority signed.
    pub ca_file: Option<PathBuf>,
}

impl StoreConfig {
    /// Where the store lives: in sled in the data directory, or in the PostgreSQL database
    /// named by `PACKLINE_STORE_URL` or `[store] url` (which `backend = "postgres"` needs; a
    /// URL alone implies it).
    pub fn location(&self) -> Result<crate::store::Location, String> {
        self.location_with(std::env::var("PACKLINE_STORE_URL").ok())
    }

    fn location_with(&self, env_url: Option<String>) -> Result<crate::store::Location, String> {
        use crate::store::{Location, backend::postgres::Target};
        let url = env_url
            .filter(|u| !u.is_empty())
            .or_else(|| self.url.clone());
        match (self.backend.as_deref(), url) {
            (None | Some("sled"), None) => Ok(Location::Embedded),
            (Some("sled"), Some(_)) => Err(
                "[store] backend = \"sled\" keeps the store in the data directory, but a \
                 database URL is set ([store] url or PACKLINE_STORE_URL): set backend = \
                 \"postgres\" to use it, or remove the URL"
                    .into(),
            ),
            (None | Some("postgres"), Some(url)) => {
                Ok(Location::Postgres(Target::new(url, self.ca_file.clone())))
            }
            (Some("postgres"), None) => Err(
                "[store] backend = \"postgres\" needs the database: set [store] url \
                 (e.g. \"postgresql://packline@/packline?host=/run/postgresql\") or \
                 PACKLINE_STORE_URL"
                    .into(),
            ),
            (Some(other), _) => Err(format!(
                "[store] backend = {other:?} is not one packline has: \"sled\" (the default) \
                 or \"postgres\""
            )),
        }
    }
}

/// The site this config runs (`[site]`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    /// Its name (default `main`): lowercase letters, digits and `-`, up to 40.
    pub name: Option<String>,
}

impl SiteConfig {
    pub fn name(&self) -> Result<String, String> {
        let name = self.name.as_deref().unwrap_or("main");
        site_name(name).map(|()| name.to_string())
    }
}

/// Refuses what is not a site name: lowercase letters, digits and `-`, up to 40.
pub fn site_name(name: &str) -> Result<(), String> {
    {
        let fine = !name.is_empty()
            && name.len() <= 40
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        match fine {
            true => Ok(()),
            false => Err(format!(
                "{name:?} is not a site name: use lowercase letters, digits and \
                 '-', up to 40 (e.g. \"reno\")"
            )),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeysConfig {
    /// The master identity file (mode 0600) for sites that unlock without a person.
    pub identity_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    pub pii_days_after_ship: Option<u32>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolesConfig {
    #[serde(default)]
    pub leads: Vec<String>,
    #[serde(default)]
    pub labelers: Vec<String>,
    #[serde(default)]
    pub packers: Vec<String>,
}

impl RolesConfig {
    /// Whether any role list names someone.
    pub fn names_anyone(&self) -> bool {
        !(self.leads.is_empty() && self.labelers.is_empty() && self.packers.is_empty())
    }

    /// The role of an OS user on a site served by `owner`: the OS user the service runs as
    /// (the daemon's own user, or the user of a CLI running the service in its process). When
    /// no list names anyone (no `[roles]`, or one whose lists are all empty), the site is run by
    /// one person: `owner` is its lead and nobody else has a role. Otherwise only the users
    /// listed have a role, the owner included.
    pub fn role_of(&self, user: &str, owner: &str) -> Option<Role> {
        let r = self;
        if !r.names_anyone() {
            return (user == owner).then_some(Role::Lead);
        }
        if r.leads.iter().any(|u| u == user) {
            Some(Role::Lead)
        } else if r.labelers.iter().any(|u| u == user) {
            Some(Role::Labeler)
        } else if r.packers.iter().any(|u| u == user) {
            Some(Role::Packer)
        } else {
            None
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    pub file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    /// The daemon's socket; default `$XDG_RUNTIME_DIR/packline.sock`, or
    /// `/run/packline/packline.sock` when there is no runtime directory (a system service).
    pub socket: Option<PathBuf>,
    /// The group the socket file belongs to (mode 0660): the floor's users are its members.
    pub socket_group: Option<String>,
    /// How long a disconnected client's pick batches stay claimed before they go back to New.
    pub claim_timeout_secs: Option<u64>,
    /// Connections one OS user may hold open at once (default 32, at most 256): a runaway
    /// script of one user leaves room for every other terminal. A site whose many terminals run
    /// as one shared OS user raises it.
    pub connections_per_user: Option<usize>,
}

impl ServiceConfig {
    pub fn socket_path(&self) -> PathBuf {
        if let Some(p) = &self.socket {
            return p.clone();
        }
        match std::env::var_os("XDG_RUNTIME_DIR") {
            Some(d) if !d.is_empty() => PathBuf::from(d).join("packline.sock"),
            _ => PathBuf::from("/run/packline/packline.sock"),
        }
    }

    pub fn claim_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.claim_timeout_secs.unwrap_or(300))
    }

    /// Connections one OS user may hold open at once.
    pub fn connections_per_user(&self) -> usize {
        self.connections_per_user
            .unwrap_or(crate::service::server::MAX_PER_USER)
    }
}

/// Labels, slips and printers.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShippingConfig {
    /// The seller's name, printed on packing slips.
    pub seller_name: Option<String>,
    /// Where parcels ship from (needed to buy labels).
    pub from: Option<ShipFrom>,
    /// Label format asked of Amazon: `ZPL203` (thermal), `PDF` or `PNG`.
    pub label_format: Option<String>,
    /// Default printers (URIs: socket://HOST:9100, ipp://HOST:PORT/PATH, cups:QUEUE, file:/DIR).
    pub label_printer: Option<String>,
    pub slip_printer: Option<String>,
    /// Per-user printers, overriding the defaults: `[shipping.users.sam] label_printer = "..."`.
    #[serde(default)]
    pub users: BTreeMap<String, UserPrinters>,
    /// Named printers a terminal or a request may choose (`--printer NAME`). Only configured
    /// printers are ever used, except by a lead: a client cannot send documents anywhere else.
    #[serde(default)]
    pub printers: BTreeMap<String, String>,
    /// Which Buy Shipping API labels are bought through (`shipping-v2`, the default, or
    /// `mfn-v0` for an app without the Shipping API role).
    #[serde(default)]
    pub api: ShippingApi,
    /// How far, in percent, a rate may have risen since the labeler chose it before packline
    /// asks again instead of buying (default 5).
    pub price_tolerance_percent: Option<u64>,
    /// The Amazon shipping business of Shipping API v2 requests (`x-amzn-shipping-business-id`,
    /// e.g. `AmazonShipping_UK`); by default that of the site's marketplace
    /// ([`Config::shipping_business`]).
    pub business_id: Option<String>,
}

/// The Buy Shipping API of a site.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum ShippingApi {
    /// Shipping API v2: purchases carry an idempotency key; collection forms; tracking.
    #[default]
    #[serde(rename = "shipping-v2")]
    ShippingV2,
    /// Merchant Fulfillment v0: no idempotency key, so a lost answer is a lead's to settle.
    #[serde(rename = "mfn-v0")]
    MfnV0,
}

impl ShippingApi {
    pub fn name(self) -> &'static str {
        match self {
            ShippingApi::ShippingV2 => "shipping-v2",
            ShippingApi::MfnV0 => "mfn-v0",
        }
    }
}

impl ShippingConfig {
    /// The price rise allowed between the rate a labeler chose and the purchase, as a factor.
    pub fn price_tolerance(&self) -> f64 {
        self.price_tolerance_percent.unwrap_or(5) as f64 / 100.0
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserPrinters {
    pub label_printer: Option<String>,
    pub slip_printer: Option<String>,
}

/// The ship-from address for label purchases. Not personal data of a customer: the seller's.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShipFrom {
    pub name: String,
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub state: Option<String>,
    pub postal_code: String,
    pub country_code: String,
    pub phone: String,
    pub email: String,
}

impl ShippingConfig {
    /// Every printer URI the site has configured, under any name.
    pub fn known_printers(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self.printers.values().map(String::as_str).collect();
        out.extend(self.label_printer.as_deref());
        out.extend(self.slip_printer.as_deref());
        for u in self.users.values() {
            out.extend(u.label_printer.as_deref());
            out.extend(u.slip_printer.as_deref());
        }
        out
    }

    /// The printer for a document kind and user: the user's own, else the site default.
    pub fn printer_for(&self, user: &str, label: bool) -> Option<String> {
        let own = self.users.get(user).and_then(|u| {
            if label {
                u.label_printer.clone()
            } else {
                u.slip_printer.clone()
            }
        });
        own.or_else(|| {
            if label {
                self.label_printer.clone()
            } else {
                self.slip_printer.clone()
            }
        })
    }
}

/// The terminal UI.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TuiConfig {
    /// Keymap preset: `default`, `vim` or `rf-gun`.
    pub keymap: Option<String>,
    /// A keymap file merged over the preset.
    pub keymap_file: Option<PathBuf>,
    /// Longest gap between a scanner's keys, in ms (default 30).
    pub scan_gap_ms: Option<u64>,
    /// Shortest scan, in characters (default 4).
    pub scan_min_len: Option<usize>,
}

/// The floor: where things are and what they go out in.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FloorConfig {
    /// The locations file: `sku,bin,barcodes` CSV.
    pub locations: Option<PathBuf>,
    /// Orders per pick batch (default 8).
    pub batch_size: Option<u32>,
    /// Box presets offered at the pack bench.
    #[serde(default)]
    pub boxes: Vec<BoxConfig>,
    /// Slots on a pick cart, one order each (default: the batch size). A batch never holds more
    /// orders than the cart has slots.
    pub cart_slots: Option<u32>,
    /// The picker scans the slot's label (`SLOT-n`, or its tote) after each unit; a wrong slot
    /// is refused.
    #[serde(default)]
    pub confirm_put: bool,
    /// Orders go to totes: the picker scans an empty tote for each order of a claimed batch (in
    /// slot order) before its first unit, and the pack bench opens an order by its tote.
    #[serde(default)]
    pub totes: bool,
    /// How tote barcodes begin (default `TOTE-`).
    pub tote_prefix: Option<String>,
    /// Paperwork printed when a batch is claimed, to the picker's slip printer: "none" (the
    /// default), "slips" (each order's packing slip, in slot order, its slot printed large),
    /// "sheet" (the batch's pick sheet: bins, SKUs, quantities, slots) or "both".
    #[serde(default)]
    pub print_at_claim: PrintAtClaim,
    /// When the carrier collects, local time `HH:MM` (default 16:00): the lead's dashboard sets
    /// apart the orders due before the next pickup.
    pub pickup: Option<String>,
    /// Pack and ship at one bench: when the packer closes an order's last box, its label is
    /// bought by the site's rule and printed on the packer's label printer.
    #[serde(default)]
    pub label_at_pack: bool,
    /// Per-user floor settings, overriding the site's: `[floor.users.bo] label_at_pack = true`.
    #[serde(default)]
    pub users: BTreeMap<String, FloorUser>,
    /// The site's scales by name: `NAME = "serial:/dev/ttyUSB0"` (an NCI / SMA serial scale,
    /// `?baud=9600&frame=7E1` when it is not 9600 8N1) or `"hid:/dev/hidraw0"` (a USB
    /// point-of-sale scale).
    #[serde(default)]
    pub scales: BTreeMap<String, String>,
    /// The scale every bench weighs on, by its name in `[floor.scales]` (a user's own
    /// `[floor.users.NAME] scale` and a terminal's `PACKLINE_SCALE` come first).
    pub scale: Option<String>,
}

/// One user's floor settings (`[floor.users.NAME]`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FloorUser {
    /// Overrides `[floor] label_at_pack` for this user.
    pub label_at_pack: Option<bool>,
    /// The scale at this user's bench, by its name in `[floor.scales]`.
    pub scale: Option<String>,
}

/// Who buys and prints the label at the pack bench (`[floor] label_at_pack`, per user under
/// `[floor.users.NAME]`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelAtPack {
    pub site: bool,
    pub users: BTreeMap<String, bool>,
}

impl LabelAtPack {
    /// Whether `user`'s bench buys and prints the label when the last box is closed.
    pub fn for_user(&self, user: &str) -> bool {
        self.users.get(user).copied().unwrap_or(self.site)
    }
}

/// What a claim prints.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrintAtClaim {
    #[default]
    None,
    Slips,
    Sheet,
    Both,
}

impl PrintAtClaim {
    pub fn slips(self) -> bool {
        matches!(self, PrintAtClaim::Slips | PrintAtClaim::Both)
    }

    pub fn sheet(self) -> bool {
        matches!(self, PrintAtClaim::Sheet | PrintAtClaim::Both)
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoxConfig {
    pub name: String,
    /// Outside length, width, height in millimetres.
    pub mm: [u32; 3],
}

impl FloorConfig {
    /// The carrier's daily pickup, local time.
    pub fn pickup(&self) -> Result<chrono::NaiveTime, String> {
        match &self.pickup {
            None => Ok(chrono::NaiveTime::from_hms_opt(16, 0, 0).unwrap_or_default()),
            Some(s) => chrono::NaiveTime::parse_from_str(s.trim(), "%H:%M").map_err(|_| {
                format!("[floor] pickup = {s:?} is not a time of day: write it as \"16:00\"")
            }),
        }
    }

    pub fn batch_size(&self) -> u32 {
        self.batch_size.unwrap_or(8).clamp(1, 100)
    }

    /// The users who buy and print the label as they close an order's last box: everyone
    /// (`[floor] label_at_pack`) but those whose own table says not, and those whose own table
    /// says so.
    pub fn label_at_pack(&self) -> LabelAtPack {
        LabelAtPack {
            site: self.label_at_pack,
            users: self
                .users
                .iter()
                .filter_map(|(u, f)| f.label_at_pack.map(|on| (u.clone(), on)))
                .collect(),
        }
    }

    /// The scale at `user`'s bench: the terminal's own (`PACKLINE_SCALE`, given here as
    /// `terminal`: a name of `[floor.scales]` or a device such as `serial:/dev/ttyUSB0`), else the
    /// user's (`[floor.users.NAME] scale`), else the site's (`[floor] scale`); none without
    /// any of them.
    pub fn scale_for(
        &self,
        user: &str,
        terminal: Option<&str>,
    ) -> Result<Option<crate::scale::ScaleSpec>, String> {
        if let Some(t) = terminal.map(str::trim).filter(|t| !t.is_empty()) {
            return match self.scales.get(t) {
                Some(spec) => crate::scale::ScaleSpec::parse(spec)
                    .map(Some)
                    .map_err(|e| format!("[floor.scales] {t}: {e}")),
                None if t.contains(':') => crate::scale::ScaleSpec::parse(t)
                    .map(Some)
                    .map_err(|e| format!("PACKLINE_SCALE: {e}")),
                None => Err(format!(
                    "PACKLINE_SCALE = {t:?}: {}",
                    self.no_scale_named(t)
                )),
            };
        }
        let (key, name) = match self.users.get(user).and_then(|u| u.scale.as_ref()) {
            Some(n) => (format!("[floor.users.{user}] scale"), n),
            None => match &self.scale {
                Some(n) => ("[floor] scale".to_owned(), n),
                None => return Ok(None),
            },
        };
        match self.scales.get(name) {
            Some(spec) => crate::scale::ScaleSpec::parse(spec)
                .map(Some)
                .map_err(|e| format!("[floor.scales] {name}: {e}")),
            None => Err(format!("{key} = {name:?}: {}", self.no_scale_named(name))),
        }
    }

    fn no_scale_named(&self, name: &str) -> String {
        if self.scales.is_empty() {
            format!(
                "there is no scale named {name}: name it in [floor.scales], such as \
                 {name} = \"serial:/dev/ttyUSB0\""
            )
        } else {
            let names: Vec<&str> = self.scales.keys().map(String::as_str).collect();
            format!(
                "there is no scale named {name} in [floor.scales] (its scales: {})",
                names.join(", ")
            )
        }
    }

    /// Every scale named in `[floor.scales]` can be read, and every bench's scale is one of them.
    fn check_scales(&self) -> Result<(), String> {
        for (name, spec) in &self.scales {
            crate::scale::ScaleSpec::parse(spec)
                .map_err(|e| format!("[floor.scales] {name} = {spec:?}: {e}"))?;
        }
        if let Some(n) = &self.scale
            && !self.scales.contains_key(n)
        {
            return Err(format!("[floor] scale = {n:?}: {}", self.no_scale_named(n)));
        }
        for (user, u) in &self.users {
            if let Some(n) = &u.scale
                && !self.scales.contains_key(n)
            {
                return Err(format!(
                    "[floor.users.{user}] scale = {n:?}: {}",
                    self.no_scale_named(n)
                ));
            }
        }
        Ok(())
    }

    /// How this site's carts work.
    pub fn cart_rules(&self) -> crate::domain::CartRules {
        crate::domain::CartRules {
            confirm_put: self.confirm_put,
            tote_prefix: self
                .totes
                .then(|| self.tote_prefix.clone().unwrap_or_else(|| "TOTE-".into())),
        }
    }

    pub fn cart_slots(&self) -> u32 {
        self.cart_slots.unwrap_or(self.batch_size()).clamp(1, 100)
    }

    /// The configured boxes, or a small default set.
    pub fn boxes(&self) -> Vec<BoxConfig> {
        if !self.boxes.is_empty() {
            return self.boxes.clone();
        }
        [
            ("S 20x15x10", [200, 150, 100]),
            ("M 30x20x15", [300, 200, 150]),
            ("L 40x30x20", [400, 300, 200]),
            ("Mailer 35x25", [350, 250, 20]),
        ]
        .into_iter()
        .map(|(n, mm)| BoxConfig { name: n.into(), mm })
        .collect()
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmazonConfig {
    /// `na`, `eu` or `fe`: picks Amazon's endpoint when `endpoint` is not set.
    pub region: Option<String>,
    pub endpoint: Option<String>,
    pub token_url: Option<String>,
    pub marketplace_ids: Option<Vec<String>>,
    /// How far back the first import looks for pending orders (days).
    pub lookback_days: Option<u32>,
    /// A TOML file (mode 0600) with client_id, client_secret, refresh_token.
    pub credentials_file: Option<PathBuf>,
    /// Seconds before an unanswered request is given up and retried (default 30).
    pub request_timeout_secs: Option<u64>,
    /// Whether a sync takes Amazon's actionable-orders report when searchOrders' burst is spent
    /// with pages to come (default true).
    pub backlog_report: Option<bool>,
}

impl AmazonConfig {
    pub fn endpoint(&self) -> Result<String, String> {
        if let Some(e) = &self.endpoint {
            return Ok(e.clone());
        }
        match self.region.as_deref().unwrap_or("na") {
            "na" => Ok("https://sellingpartnerapi-na.amazon.com".into()),
            "eu" => Ok("https://sellingpartnerapi-eu.amazon.com".into()),
            "fe" => Ok("https://sellingpartnerapi-fe.amazon.com".into()),
            other => Err(format!("[amazon] region {other:?} is not na, eu or fe")),
        }
    }

    pub fn token_url(&self) -> String {
        self.token_url
            .clone()
            .unwrap_or_else(|| "https://api.amazon.com/auth/o2/token".into())
    }

    /// Amazon.com's marketplace unless configured.
    pub fn marketplace_ids(&self) -> Vec<String> {
        self.marketplace_ids
            .clone()
            .unwrap_or_else(|| vec!["ATVPDKIKX0DER".into()])
    }

    pub fn request_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.request_timeout_secs.unwrap_or(30).max(1))
    }

    pub fn lookback_days(&self) -> u32 {
        self.lookback_days.unwrap_or(30)
    }

    pub fn backlog_report(&self) -> bool {
        self.backlog_report.unwrap_or(true)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config {path}: {detail}")]
    Read { path: PathBuf, detail: String },
    #[error("config {path}: {detail}")]
    Invalid { path: PathBuf, detail: String },
}

/// The TOML parser's own rendering of an error, on its lines, with the caret under the column
/// (for a config or a keymap file); a control character of the file (an escape sequence) is not
/// sent to the terminal.
pub fn parser_rendering(e: &toml::de::Error) -> String {
    e.to_string()
        .trim_end()
        .chars()
        .map(|c| {
            if c.is_control() && c != '\n' {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect()
}

impl Config {
    /// Reads the config: an explicit path must exist; the XDG default may be absent.
    pub fn load(explicit: Option<&Path>) -> Result<Config, ConfigError> {
        let (path, required) = match explicit {
            Some(p) => (Some(p.to_owned()), true),
            None => (default_config_path(), false),
        };
        let Some(path) = path else {
            return Ok(Config::default());
        };
        let text = match crate::files::read_regular_to_string(&path) {
            Ok(t) => t,
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Config::default());
            }
            Err(e) => {
                return Err(ConfigError::Read {
                    path,
                    detail: e.to_string(),
                });
            }
        };
        Config::from_text(&text, &path)
    }

    /// A config file's text, read from `path` (named in errors), checked as `load` does.
    pub fn from_text(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let mut cfg: Config = toml::from_str(text).map_err(|e| ConfigError::Invalid {
            path: path.to_owned(),
            // TOML's own rendering, on its lines, with the caret under the column; a control
            // character of the file (an escape sequence) is not sent to the terminal.
            detail: parser_rendering(&e),
        })?;
        cfg.source = Some(path.to_owned());
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let path = self.source.clone().unwrap_or_default();
        if let Some(d) = self.retention.pii_days_after_ship
            && d > RetentionPolicy::MAX_PII_DAYS
        {
            return Err(ConfigError::Invalid {
                path,
                detail: format!(
                    "[retention] pii_days_after_ship = {d}: recipient data may be kept at most {} days after shipment (Amazon's data protection policy); set it to {} or lower",
                    RetentionPolicy::MAX_PII_DAYS,
                    RetentionPolicy::MAX_PII_DAYS
                ),
            });
        }
        for b in &self.floor.boxes {
            if b.name.trim().is_empty() || b.mm.contains(&0) {
                return Err(ConfigError::Invalid {
                    path,
                    detail: format!(
                        "[floor] boxes: box {:?} needs a name and three non-zero sizes in mm",
                        b.name
                    ),
                });
            }
        }
        if let Err(detail) = self.site.name() {
            return Err(ConfigError::Invalid {
                path,
                detail: format!("[site] name: {detail}"),
            });
        }
        for (i, r) in self.routing.iter().enumerate() {
            if let Err(detail) = site_name(&r.site) {
                return Err(ConfigError::Invalid {
                    path,
                    detail: format!("[[routing]] rule {}: site = {detail}", i + 1),
                });
            }
        }
        if let Err(detail) = self.floor.check_scales() {
            return Err(ConfigError::Invalid { path, detail });
        }
        for uri in self.shipping.known_printers() {
            if let Err(e) = crate::labels::print::Printer::parse(uri) {
                return Err(ConfigError::Invalid {
                    path,
                    detail: format!("[shipping]: {e}"),
                });
            }
        }
        if let Some(b) = &self.shipping.business_id
            && !crate::amazon::shipping::BUSINESS_IDS.contains(&b.as_str())
        {
            return Err(ConfigError::Invalid {
                path,
                detail: format!(
                    "[shipping] business_id = {b:?} is not an Amazon shipping business: use one of {}",
                    crate::amazon::shipping::BUSINESS_IDS.join(", ")
                ),
            });
        }
        // Numbers a site may set, each within what makes sense for it: a value outside is a
        // typo, and some (a look-back of millions of days) would otherwise fail later, in the
        // middle of a sync.
        let ranges: [(&str, Option<u64>, u64, u64); 9] = [
            (
                "[amazon] lookback_days",
                self.amazon.lookback_days.map(u64::from),
                1,
                365,
            ),
            (
                "[amazon] request_timeout_secs",
                self.amazon.request_timeout_secs,
                1,
                600,
            ),
            (
                "[service] claim_timeout_secs",
                self.service.claim_timeout_secs,
                1,
                86_400,
            ),
            (
                "[floor] batch_size",
                self.floor.batch_size.map(u64::from),
                1,
                100,
            ),
            (
                "[floor] cart_slots",
                self.floor.cart_slots.map(u64::from),
                1,
                100,
            ),
            (
                "[shipping] price_tolerance_percent",
                self.shipping.price_tolerance_percent,
                0,
                100,
            ),
            ("[tui] scan_gap_ms", self.tui.scan_gap_ms, 1, 1_000),
            (
                "[service] connections_per_user",
                self.service.connections_per_user.map(|n| n as u64),
                1,
                crate::service::server::MAX_CONNECTIONS as u64,
            ),
            (
                "[tui] scan_min_len",
                self.tui.scan_min_len.map(|n| n as u64),
                1,
                100,
            ),
        ];
        for (key, value, low, high) in ranges {
            if let Some(v) = value
                && !(low..=high).contains(&v)
            {
                return Err(ConfigError::Invalid {
                    path,
                    detail: format!("{key} = {v}: it must be between {low} and {high}"),
                });
            }
        }
        let mut seen = BTreeMap::new();
        for (role, users) in [
            ("leads", &self.roles.leads),
            ("labelers", &self.roles.labelers),
            ("packers", &self.roles.packers),
        ] {
            for u in users {
                if let Some(other) = seen.insert(u.as_str(), role) {
                    return Err(ConfigError::Invalid {
                        path,
                        detail: format!(
                            "[roles] user {u:?} is listed under both {other} and {role}: give each person one role"
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    pub fn retention(&self) -> RetentionPolicy {
        RetentionPolicy {
            pii_days_after_close: self
                .retention
                .pii_days_after_ship
                .unwrap_or(RetentionPolicy::MAX_PII_DAYS),
        }
    }

    /// The Amazon shipping business of the site's Shipping API v2 requests: `[shipping]
    /// business_id`, else that of the first of `[amazon] marketplace_ids`, else that of the
    /// region's main marketplace (`na` Amazon.com, `eu` Amazon.co.uk, `fe` Amazon.co.jp). None
    /// for a marketplace without a business of its own (Germany, Canada, …): such a site names
    /// one, and until then a v2 purchase is refused saying so.
    pub fn shipping_business(&self) -> Option<String> {
        use crate::amazon::shipping::business_of_marketplace;
        if let Some(b) = &self.shipping.business_id {
            return Some(b.clone());
        }
        let first = match &self.amazon.marketplace_ids {
            Some(ids) => ids.first()?.clone(),
            None => match self.amazon.region.as_deref() {
                Some("eu") => "A1F83G8C2ARO7P".into(),
                Some("fe") => "A1VC38T7YXB528".into(),
                _ => "ATVPDKIKX0DER".into(),
            },
        };
        business_of_marketplace(&first).map(str::to_owned)
    }

    /// The role of an OS user on a site served by `owner`: see [`RolesConfig::role_of`].
    pub fn role_of(&self, user: &str, owner: &str) -> Option<Role> {
        self.roles.role_of(user, owner)
    }

    /// The data directory: flag or `PACKLINE_DATA_DIR` (passed in), then `[store] data_dir`,
    /// then `$XDG_DATA_HOME/packline`.
    pub fn data_dir(&self, flag: Option<&Path>) -> PathBuf {
        flag.map(Path::to_owned)
            .or_else(|| self.store.data_dir.clone())
            .unwrap_or_else(|| xdg_dir("XDG_DATA_HOME", ".local/share").join("packline"))
    }

    /// The log file: `[log] file`, else `$XDG_STATE_HOME/packline/packline.log`.
    pub fn log_file(&self) -> PathBuf {
        self.log.file.clone().unwrap_or_else(|| {
            xdg_dir("XDG_STATE_HOME", ".local/state").join("packline/packline.log")
        })
    }
}

fn default_config_path() -> Option<PathBuf> {
    Some(xdg_dir("XDG_CONFIG_HOME", ".config").join("packline/config.toml"))
}

fn xdg_dir(var: &str, fallback: &str) -> PathBuf {
    match std::env::var_os(var) {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/"))
            .join(fallback),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, text).unwrap();
        Config::load(Some(&p))
    }

    #[test]
    fn a_parse_error_keeps_tomls_lines_and_caret() {
        let e = Config::from_text("[amazon\n", Path::new("/etc/packline/config.toml"))
            .unwrap_err()
            .to_string();
        let lines: Vec<&str> = e.lines().collect();
        assert_eq!(
            lines[..4],
            [
                "config /etc/packline/config.toml: TOML parse error at line 1, column 8",
                "  |",
                "1 | [amazon",
                "  |        ^",
            ],
            "{e}"
        );
        // A control character of the file is not sent to the terminal.
        let e = Config::from_text("[amazon\x1b[2J\n", Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(!e.contains('\x1b') && e.contains("^"), "{e:?}");
    }

    #[test]
    fn numbers_out_of_range_are_refused_by_name() {
        for (text, key) in [
            (
                "[amazon]\nlookback_days = 4000000000\n",
                "[amazon] lookback_days = 4000000000",
            ),
            (
                "[amazon]\nlookback_days = 0\n",
                "[amazon] lookback_days = 0",
            ),
            (
                "[amazon]\nrequest_timeout_secs = 0\n",
                "[amazon] request_timeout_secs = 0",
            ),
            (
                "[service]\nclaim_timeout_secs = 0\n",
                "[service] claim_timeout_secs = 0",
            ),
            ("[floor]\nbatch_size = 1000\n", "[floor] batch_size = 1000"),
            ("[tui]\nscan_gap_ms = 0\n", "[tui] scan_gap_ms = 0"),
            ("[tui]\nscan_min_len = 0\n", "[tui] scan_min_len = 0"),
            (
                "[service]\nconnections_per_user = 0\n",
                "[service] connections_per_user = 0",
            ),
            (
                "[service]\nconnections_per_user = 300\n",
                "[service] connections_per_user = 300",
            ),
        ] {
            let err = parse(text).unwrap_err().to_string();
            assert!(
                err.contains(key) && err.contains("must be between"),
                "{err}"
            );
            assert!(err.contains("c.toml"), "names the file: {err}");
        }
        let ok = parse("[amazon]\nlookback_days = 365\n[floor]\nbatch_size = 100\n").unwrap();
        assert_eq!(ok.amazon.lookback_days(), 365);
        assert_eq!(ok.service.connections_per_user(), 32);
        let raised = parse("[service]\nconnections_per_user = 128\n").unwrap();
        assert_eq!(raised.service.connections_per_user(), 128);
    }

    #[test]
    fn scales_are_read_and_bad_ones_refused_by_key() {
        let cfg = parse(
            "[floor]\nscale = \"bench\"\n[floor.scales]\nbench = \"serial:/dev/ttyUSB0\"\n\
             pos = \"hid:/dev/hidraw0\"\n[floor.users.bo]\nscale = \"pos\"\n",
        )
        .unwrap();
        let at = |user: &str, term: Option<&str>| {
            cfg.floor
                .scale_for(user, term)
                .unwrap()
                .map(|s| s.to_string())
        };
        assert_eq!(at("ann", None).as_deref(), Some("serial:/dev/ttyUSB0"));
        assert_eq!(at("bo", None).as_deref(), Some("hid:/dev/hidraw0"));
        assert_eq!(at("ann", Some("pos")).as_deref(), Some("hid:/dev/hidraw0"));
        assert_eq!(
            at("ann", Some("serial:/dev/ttyS3")).as_deref(),
            Some("serial:/dev/ttyS3")
        );
        assert!(
            cfg.floor
                .scale_for("ann", Some("nope"))
                .unwrap_err()
                .contains("PACKLINE_SCALE = \"nope\": there is no scale named nope")
        );
        assert_eq!(Config::default().floor.scale_for("ann", None), Ok(None));
        for (text, said) in [
            (
                "[floor.scales]\nbench = \"usb:/dev/x\"\n",
                "[floor.scales] bench = \"usb:/dev/x\": ",
            ),
            (
                "[floor.scales]\nbench = \"serial:/dev/x?baud=7\"\n",
                "[floor.scales] bench = \"serial:/dev/x?baud=7\": ",
            ),
            (
                "[floor]\nscale = \"bench\"\n",
                "[floor] scale = \"bench\": there is no scale named bench: name it in [floor.scales]",
            ),
            (
                "[floor.scales]\na = \"hid:/dev/hidraw0\"\n[floor.users.bo]\nscale = \"b\"\n",
                "[floor.users.bo] scale = \"b\": there is no scale named b in [floor.scales] (its scales: a)",
            ),
        ] {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.contains(said) && err.contains("c.toml"), "{err}");
        }
    }

    #[test]
    fn unknown_keys_are_named() {
        let err = parse("[store]\ndata_dri = \"/x\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("c.toml") && err.contains("data_dri"), "{err}");
    }

    #[test]
    fn retention_may_only_be_lowered() {
        assert_eq!(
            parse("[retention]\npii_days_after_ship = 14\n")
                .unwrap()
                .retention()
                .pii_days_after_close,
            14
        );
        let err = parse("[retention]\npii_days_after_ship = 31\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("at most 30 days"), "{err}");
    }

    #[test]
    fn roles_map_users() {
        let c = parse("[roles]\nleads = [\"ana\"]\npackers = [\"bo\"]\n").unwrap();
        assert_eq!(c.role_of("ana", "ana"), Some(Role::Lead));
        assert_eq!(c.role_of("bo", "ana"), Some(Role::Packer));
        assert_eq!(c.role_of("eve", "ana"), None);
        // Listed roles are all there is: the owner unlisted has none.
        assert_eq!(c.role_of("eve", "eve"), None);
        // Nobody named: the owner alone is the lead, whether [roles] is absent or empty.
        for c in [
            Config::default(),
            parse(
                "[roles]
",
            )
            .unwrap(),
            parse(
                "[roles]
leads = []
packers = []
",
            )
            .unwrap(),
        ] {
            assert_eq!(c.role_of("ana", "ana"), Some(Role::Lead));
            assert_eq!(c.role_of("anyone", "ana"), None);
            assert_eq!(c.role_of("", "ana"), None);
        }
        assert!(parse("[roles]\nleads = [\"a\"]\npackers = [\"a\"]\n").is_err());
    }
}

#[cfg(test)]
mod reference {
    /// Every key a config can hold is documented in docs/ (or the README): a key the code reads
    /// and no page names is a key nobody can find. Read from this file's own structs: each field
    /// of a struct that deserializes must appear as `key =` in a page, or as a table header
    /// (`[key]`, `[table.key]`, `[table.key.NAME]`).
    #[test]
    fn every_config_key_is_documented() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let source = std::fs::read_to_string(root.join("src/config.rs")).unwrap();
        let mut docs = std::fs::read_to_string(root.join("README.md")).unwrap();
        for page in std::fs::read_dir(root.join("docs")).unwrap() {
            let page = page.unwrap().path();
            if page.extension().is_some_and(|e| e == "md") {
                docs.push_str(&std::fs::read_to_string(page).unwrap());
            }
        }
        let documented = |key: &str| {
            docs.contains(&format!("{key} ="))
                || docs.contains(&format!("[{key}]"))
                || docs.contains(&format!(".{key}]"))
                || docs.contains(&format!(".{key}."))
                || docs.contains(&format!("[{key}."))
        };
        let mut keys = Vec::new();
        let mut missing = Vec::new();
        let mut in_struct = None::<String>;
        let mut deserialized = false;
        let mut skipped = false;
        for line in source.lines() {
            if line.starts_with("#[derive(") {
                deserialized = line.contains("Deserialize");
            } else if let Some(rest) = line.strip_prefix("pub struct ") {
                in_struct = deserialized.then(|| rest.split([' ', '{']).next().unwrap().to_owned());
            } else if line == "}" {
                in_struct = None;
            } else if let Some(s) = &in_struct {
                let t = line.trim();
                if t.starts_with("#[serde(skip") {
                    skipped = true;
                } else if let Some(field) = t.strip_prefix("pub ").and_then(|f| f.split_once(':')) {
                    let key = field.0;
                    if !std::mem::take(&mut skipped) {
                        keys.push(format!("{s}.{key}"));
                        if !documented(key) {
                            missing.push(format!("{s}.{key}"));
                        }
                    }
                }
            }
        }
        assert!(
            keys.len() > 60,
            "the config's keys were not found: {keys:?}"
        );
        assert!(
            missing.is_empty(),
            "config keys no page documents: {missing:?}"
        );
    }
}
