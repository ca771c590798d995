//! Configuration: a TOML file (`--config`, `PACKLINE_CONFIG`, or the XDG default) with
//! environment overrides. Unknown keys are errors, so a typo never silently does nothing.
//!
//! It owns what a site chooses: who holds which role, how long recipient data is kept, printers,
//! endpoints. The role and the retention policy themselves are the domain's (`domain::Role`,
//! `domain::RetentionPolicy`). It reads the config file and the environment only: it never opens
//! the store, talks to Amazon or prints.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::domain::RetentionPolicy;

mod floor;
mod shipping;

pub use floor::{BoxConfig, FloorConfig, FloorUser, LabelAtPack, PrintAtClaim};
pub use shipping::{ShipFrom, ShippingApi, ShippingConfig, UserPrinters};

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

/// The most connections the daemon serves at once (a floor has a few dozen); more are refused.
pub const MAX_CONNECTIONS: usize = 256;
/// Connections one OS user may hold at once unless `[service] connections_per_user` says
/// otherwise: a runaway or hostile client of one user leaves room for everyone else's terminals.
pub const MAX_PER_USER: usize = 32;

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
        self.connections_per_user.unwrap_or(MAX_PER_USER)
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
                MAX_CONNECTIONS as u64,
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
mod tests;
