//! The `packline` command line. Parses arguments, reads the config, opens the store, and prints
//! what happened; all the work is in the library. Errors go to stderr with what is wrong, where,
//! and what to do; logs go to the log file, never to the terminal.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand};

use packline::amazon::parse_search_orders;
use packline::config::{Config, Role};
use packline::domain::text::escape_hazards;
use packline::domain::{OrderId, OrderRecord, OrderState};
use packline::service::client::Client;
use packline::service::{Passphrase, Reply, Request};
use packline::store::{MasterSource, Protection, PurgeReport, Store};

// sled allocates and frees node copies at a high rate; glibc's allocator fragments under that load
// (a third of import time in profiles), mimalloc does not.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "packline",
    version,
    about = "Order fulfillment for sellers shipping their own Amazon orders"
)]
struct Cli {
    /// Config file (TOML). Default: $XDG_CONFIG_HOME/packline/config.toml, if present.
    #[arg(long, global = true, env = "PACKLINE_CONFIG", value_name = "PATH")]
    config: Option<PathBuf>,
    /// Data directory holding the store and its keyring.
    #[arg(long, global = true, env = "PACKLINE_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// File holding the master passphrase, for commands that need the store unlocked.
    #[arg(
        long,
        global = true,
        env = "PACKLINE_PASSPHRASE_FILE",
        value_name = "FILE"
    )]
    passphrase_file: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// The terminal UI (the default): through the daemon when one runs, else in this process.
    Tui,
    /// The training floor: a made-up marketplace, a fresh store and the TUI as a lead. Needs no
    /// credentials and no configuration; everything is removed on exit.
    Demo {
        /// How many pending orders the training marketplace starts with.
        #[arg(long, default_value_t = 40)]
        orders: usize,
        /// Seed for the generated orders.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Site keys: create, rotate, show.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Import searchOrders response pages (JSON files) into the store.
    Import {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Orders in the store, without personal data.
    Orders {
        #[command(subcommand)]
        command: OrdersCommand,
    },
    /// Find an order by id, or orders by recipient name; a lead may reveal a recipient.
    Lookup(LookupArgs),
    /// Apply the retention policy: destroy recipient data and old records that are due.
    Purge {
        /// Apply retention as if it were this time (RFC 3339). A later time destroys data early:
        /// use it only to test, or to catch up a site whose clock was wrong.
        #[arg(long, value_name = "RFC3339")]
        as_of: Option<String>,
    },
    /// The tamper-evident audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Pull pending merchant-fulfilled orders from Amazon (or the training marketplace).
    Sync {
        /// Import everything pending once, then exit (otherwise keep polling within the quota).
        #[arg(long)]
        once: bool,
    },
    /// Print an order's packing slip (any order whose recipient is still kept).
    Slip {
        order: String,
        /// A printer of the site, by name (default: this terminal's, else [shipping] slip_printer).
        #[arg(long, value_name = "NAME", env = "PACKLINE_SLIP_PRINTER")]
        printer: Option<String>,
        /// zpl (4x6 thermal) or pdf (office printer).
        #[arg(long, default_value = "zpl", value_parser = ["zpl", "pdf"])]
        format: String,
    },
    /// Carrier labels through Amazon's Merchant Fulfillment: rates, buy, print, void, check.
    Label {
        #[command(subcommand)]
        command: LabelCommand,
    },
    /// Ship with your own carrier: confirm the tracking number to Amazon; the order is Shipped.
    Ship {
        order: String,
        #[arg(long)]
        carrier: String,
        #[arg(long)]
        tracking: String,
    },
    /// The end-of-day manifest per carrier (no personal data); --close ships the day's labels.
    Manifest {
        /// The day (default: today, UTC).
        #[arg(long, value_name = "YYYY-MM-DD")]
        date: Option<chrono::NaiveDate>,
        #[arg(long, default_value = "csv", value_parser = ["csv", "pdf"])]
        format: String,
        /// Move the day's labelled orders to Shipped (the carrier has collected them).
        #[arg(long)]
        close: bool,
    },
    /// Run the service for a warehouse: own the store, serve clients on a Unix socket, sync with
    /// Amazon and purge on schedule. Stops cleanly on SIGTERM or Ctrl-C.
    Serve {
        /// Socket path (default: [service] socket, else $XDG_RUNTIME_DIR/packline.sock).
        #[arg(long, value_name = "PATH")]
        socket: Option<PathBuf>,
    },
    /// Run the training marketplace: an SP-API-compatible server with made-up orders.
    Marketplace {
        /// Loopback address to listen on (port 0 picks a free one).
        #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR")]
        listen: std::net::SocketAddr,
        /// How many pending orders to generate.
        #[arg(long, default_value_t = 200)]
        orders: usize,
        /// Seed for the generated orders (same seed, same orders).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Run quota clocks this many times faster than Amazon's (for tests and benchmarks).
        #[arg(long, default_value_t = 1.0)]
        quota_scale: f64,
        /// Share of answers (searchOrders and the Merchant Fulfillment calls) that get an injected fault (0.0–1.0).
        #[arg(long, default_value_t = 0.0)]
        fault_rate: f64,
        /// Faults to inject: 429,500,503,timeout,malformed,truncated.
        #[arg(long, default_value = "429,500,503,timeout,malformed,truncated")]
        faults: String,
        /// How long a `timeout` fault keeps the caller waiting, in milliseconds.
        #[arg(long, default_value_t = 40_000)]
        fault_delay_ms: u64,
        /// New pending orders arriving per minute.
        #[arg(long, default_value_t = 0.0)]
        new_orders_per_minute: f64,
        /// Share of arrivals that come with a cancellation of an earlier pending order (0.0–1.0).
        #[arg(long, default_value_t = 0.0)]
        cancel_rate: f64,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create this site's master key and first key epoch.
    /// Give either --identity-file PATH, or --passphrase-file PATH to protect the master identity
    /// with that passphrase instead.
    Init {
        /// Write the master identity to this new file (mode 0600), for unattended unlock.
        #[arg(long, value_name = "PATH")]
        identity_file: Option<PathBuf>,
    },
    /// Start a new key epoch now.
    Rotate,
    /// Show the master recipient and the live key epochs (public data only).
    Show,
    /// Unlock a running daemon: asks for the master passphrase (no echo) and sends it over the
    /// socket. The daemon keeps the key in memory only.
    Unlock,
    /// Make a running daemon drop the master key.
    Lock,
}

#[derive(Subcommand)]
enum LabelCommand {
    /// The offers for a packed order, best first (the default choice marked *).
    Rates { order: String },
    /// Buy the label: the cheapest offer that meets the promise, or --service ID.
    Buy {
        order: String,
        #[arg(long, value_name = "ID")]
        service: Option<String>,
    },
    /// Print (or reprint) the bought label.
    Print {
        order: String,
        /// A printer of the site, by name (default: this terminal's, else the user's, else [shipping] label_printer).
        #[arg(long, value_name = "NAME", env = "PACKLINE_LABEL_PRINTER")]
        printer: Option<String>,
    },
    /// Void the bought label; the order goes back to Packed.
    Void {
        order: String,
        #[arg(long)]
        reason: String,
    },
    /// After a purchase whose outcome was unknown: record the shipment found in Seller Central.
    Check {
        order: String,
        #[arg(long, value_name = "ID")]
        shipment_id: String,
    },
    /// After a purchase whose outcome was unknown: Amazon bought nothing (leads; audited).
    Clear {
        order: String,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand)]
enum OrdersCommand {
    /// List orders by state and ship-by.
    List {
        /// Only orders in this state (new, picking, picked, packed, labelled, shipped, cancelled, exception).
        #[arg(long, value_name = "STATE")]
        state: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["order", "name"])))]
struct LookupArgs {
    /// The Amazon order id.
    #[arg(long, value_name = "ID")]
    order: Option<String>,
    /// A recipient name, or some of its words (needs the store unlocked).
    #[arg(long, value_name = "TEXT")]
    name: Option<String>,
    /// Show the recipient's personal data (leads only; audited).
    #[arg(long, requires = "order", requires = "reason")]
    reveal: bool,
    /// Why the recipient is revealed; recorded in the audit log.
    #[arg(long, value_name = "TEXT")]
    reason: Option<String>,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the hash chain; exits non-zero naming the first bad entry.
    Verify,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        // A reader that stopped early (`packline orders list | head`) is not an error.
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("packline: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Who is running this command, as the OS knows them.
fn os_user() -> String {
    let uid = nix::unistd::getuid();
    match nix::unistd::User::from_uid(uid) {
        Ok(Some(u)) => u.name,
        _ => format!("uid:{uid}"),
    }
}

struct Ctx {
    cfg: Config,
    data_dir: PathBuf,
    passphrase_file: Option<PathBuf>,
    user: String,
}

impl Ctx {
    fn require(&self, at_least: Role, what: &str) -> Result<()> {
        match self.cfg.role_of(&self.user) {
            Some(r) if r >= at_least => Ok(()),
            Some(r) => bail!(
                "{what} is for a {} or above; user {} is a {}",
                at_least.name(),
                self.user,
                r.name()
            ),
            None => bail!(
                "user {} has no role in packline: ask a lead to add you under [roles] in {}",
                self.user,
                self.cfg
                    .source
                    .as_deref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "the config file".into())
            ),
        }
    }

    /// A connection to the running daemon, if one serves this site's socket. Commands go
    /// through it with the caller's role; without one they open the store directly.
    fn daemon(&self) -> Result<Option<(tokio::runtime::Runtime, Client)>> {
        let path = self.cfg.service.socket_path();
        if !path.exists() {
            return Ok(None);
        }
        let rt = runtime()?;
        match rt.block_on(Client::connect(&path)) {
            Ok(c) => Ok(Some((rt, c))),
            Err(e) => {
                tracing::info!(socket = %path.display(), "no daemon: {e}");
                Ok(None)
            }
        }
    }

    fn open(&self) -> Result<Store> {
        Store::open(&self.data_dir)
            .with_context(|| format!("opening the store in {}", self.data_dir.display()))
    }

    /// Where the master key comes from, if anywhere: the identity file (config or
    /// PACKLINE_IDENTITY_FILE) on identity-file sites; the passphrase file, or a prompt on a
    /// terminal, on passphrase sites.
    fn master_source(&self, store: &Store, prompt: bool) -> Result<Option<MasterSource>> {
        match store.keyring().protection() {
            Protection::IdentityFile => Ok(std::env::var_os("PACKLINE_IDENTITY_FILE")
                .map(PathBuf::from)
                .or_else(|| self.cfg.keys.identity_file.clone())
                .map(MasterSource::IdentityFile)),
            Protection::Passphrase => {
                if let Some(p) = &self.passphrase_file {
                    return Ok(Some(MasterSource::Passphrase(read_passphrase_file(p)?)));
                }
                if prompt && std::io::stdin().is_terminal() {
                    let pass = rpassword::prompt_password("Master passphrase: ")
                        .context("reading the passphrase from the terminal")?;
                    return Ok(Some(MasterSource::Passphrase(pass.into())));
                }
                Ok(None)
            }
        }
    }

    /// Before importing: names are indexed at once when the master key is configured, otherwise
    /// at the next unlock. Importing needs no secret, so a key that cannot be used only postpones
    /// the indexing (with a warning), never the import.
    fn unlock_for_import(&self, store: &mut Store, what: &str) {
        if let Err(e) = self.try_unlock(store, false) {
            tracing::warn!("{what} runs locked: {e:#}");
            eprintln!(
                "packline: warning: {what} locked ({e:#}); names are indexed at the next unlock"
            );
        }
    }

    /// Unlocks the store when a master key is to hand; leaves it locked otherwise.
    fn try_unlock(&self, store: &mut Store, prompt: bool) -> Result<()> {
        if let Some(src) = self.master_source(store, prompt)? {
            let indexed = store.unlock(&src)?;
            if indexed > 0 {
                tracing::info!(indexed, "indexed names of orders imported while locked");
            }
        }
        Ok(())
    }
}

fn read_passphrase_file(path: &Path) -> Result<age::secrecy::SecretString> {
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path)
            .with_context(|| format!("reading passphrase file {}", path.display()))?,
    );
    let pass = text.trim_end_matches(['\r', '\n']);
    if pass.is_empty() {
        bail!("passphrase file {} is empty", path.display());
    }
    Ok(pass.to_owned().into())
}

fn init_logging(cfg: &Config) {
    let path = cfg.log_file();
    let opened = path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
        });
    match opened {
        Ok(file) => {
            let filter = tracing_subscriber::EnvFilter::try_from_env("PACKLINE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
            tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(file))
                .init();
        }
        Err(e) => eprintln!(
            "packline: warning: cannot open log file {}: {e}; logging is off",
            path.display()
        ),
    }
}

fn parse_time(s: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(Into::into)
        .with_context(|| {
            format!("--as-of {s:?} is not an RFC 3339 time such as 2026-12-31T00:00:00Z")
        })
}

fn run(cli: Cli) -> Result<ExitCode> {
    let cfg = Config::load(cli.config.as_deref())?;
    init_logging(&cfg);
    let data_dir = cfg.data_dir(cli.data_dir.as_deref());
    let ctx = Ctx {
        data_dir,
        passphrase_file: cli.passphrase_file,
        user: os_user(),
        cfg,
    };
    let now = Utc::now();
    match cli.command.unwrap_or(Command::Tui) {
        Command::Tui => tui(&ctx),
        Command::Demo { orders, seed } => demo(&ctx, orders, seed),
        Command::Keys { command } => keys(&ctx, command, now),
        Command::Import { files } => import(&ctx, &files, now),
        Command::Orders {
            command: OrdersCommand::List { state, json },
        } => list(&ctx, state.as_deref(), json),
        Command::Lookup(args) => lookup(&ctx, args, now),
        Command::Purge { as_of } => {
            let as_of = as_of.as_deref().map(parse_time).transpose()?;
            let r = if let Some((rt, mut client)) = ctx.daemon()? {
                match rt.block_on(client.call(Request::Purge { as_of }))? {
                    Reply::Purged { report } => report,
                    other => bail!("unexpected reply from the daemon: {other:?}"),
                }
            } else {
                ctx.require(Role::Lead, "purging")?;
                let mut store = ctx.open()?;
                ctx.try_unlock(&mut store, true)?;
                store.purge(ctx.cfg.retention(), as_of.unwrap_or(now), &ctx.user, now)?
            };
            tracing::info!(?r, "purge");
            print_purge(&r);
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve { socket } => serve(&ctx, socket),
        Command::Slip {
            order,
            printer,
            format,
        } => shipping_cli(
            &ctx,
            Request::PrintSlip {
                order,
                printer,
                pdf: format == "pdf",
            },
        ),
        Command::Label { command } => shipping_cli(
            &ctx,
            match command {
                LabelCommand::Rates { order } => Request::Rates { order },
                LabelCommand::Buy { order, service } => Request::BuyLabel { order, service },
                LabelCommand::Print { order, printer } => Request::PrintLabel { order, printer },
                LabelCommand::Void { order, reason } => Request::VoidLabel { order, reason },
                LabelCommand::Check { order, shipment_id } => {
                    Request::CheckPurchase { order, shipment_id }
                }
                LabelCommand::Clear { order, reason } => Request::ClearPurchase { order, reason },
            },
        ),
        Command::Ship {
            order,
            carrier,
            tracking,
        } => shipping_cli(
            &ctx,
            Request::ShipOwnCarrier {
                order,
                carrier,
                tracking,
            },
        ),
        Command::Manifest {
            date,
            format,
            close,
        } => manifest(&ctx, date, &format, close),
        Command::Sync { once } => sync(&ctx, once),
        Command::Marketplace {
            listen,
            orders,
            seed,
            quota_scale,
            fault_rate,
            faults,
            fault_delay_ms,
            new_orders_per_minute,
            cancel_rate,
        } => {
            let faults = packline::marketplace::server::Fault::parse_list(&faults)
                .map_err(|e| anyhow::anyhow!("--faults: {e}"))?;
            if !(0.0..=1.0).contains(&fault_rate) {
                bail!("--fault-rate {fault_rate}: must be between 0 and 1");
            }
            if !(0.0..=1.0).contains(&cancel_rate) {
                bail!("--cancel-rate {cancel_rate}: must be between 0 and 1");
            }
            if !(new_orders_per_minute.is_finite() && new_orders_per_minute >= 0.0) {
                bail!("--new-orders-per-minute {new_orders_per_minute}: must be zero or more");
            }
            let cfg = packline::marketplace::server::MarketplaceConfig {
                orders,
                seed,
                quota_scale,
                // Every generated order lies in the past (they spread over three days from here).
                start: Utc::now() - chrono::Duration::days(3) - chrono::Duration::hours(1),
                fault_rate,
                faults,
                fault_delay: std::time::Duration::from_millis(fault_delay_ms),
                new_orders_per_minute,
                cancel_rate,
            };
            marketplace(listen, cfg)
        }
        Command::Audit {
            command: AuditCommand::Verify,
        } => {
            let n = if let Some((rt, mut client)) = ctx.daemon()? {
                match rt.block_on(client.call(Request::AuditVerify))? {
                    Reply::AuditOk { entries } => entries,
                    other => bail!("unexpected reply from the daemon: {other:?}"),
                }
            } else {
                ctx.open()?.verify_audit()?
            };
            println!("audit log intact: {n} entries");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn keymap(cfg: &Config) -> Result<packline::tui::keymap::Keymap> {
    Ok(packline::tui::keymap::Keymap::load(
        cfg.tui.keymap.as_deref().unwrap_or("default"),
        cfg.tui.keymap_file.as_deref(),
    )?)
}

fn scan_timing(cfg: &Config) -> packline::tui::ScanTiming {
    let d = packline::tui::ScanTiming::default();
    packline::tui::ScanTiming {
        gap: cfg
            .tui
            .scan_gap_ms
            .map_or(d.gap, std::time::Duration::from_millis),
        min_len: cfg.tui.scan_min_len.unwrap_or(d.min_len),
    }
}

fn tui(ctx: &Ctx) -> Result<ExitCode> {
    use packline::service::{Service, Settings};
    if !std::io::stdout().is_terminal() {
        bail!(
            "the terminal UI needs a terminal; for scripts use `packline orders list` and friends"
        );
    }
    let keymap = keymap(&ctx.cfg)?;
    // A daemon's client lives on the runtime it connected on (its reader task is there).
    let (rt, client) = match ctx.daemon()? {
        Some(d) => d,
        None => {
            ctx.require(Role::Packer, "the terminal UI")?;
            let settings = Settings::from_config(&ctx.cfg).map_err(anyhow::Error::msg)?;
            let mut store = ctx.open()?;
            ctx.try_unlock(&mut store, true)?;
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            (rt, Client::local(Service::new(store, settings), &ctx.user)?)
        }
    };
    rt.block_on(async {
        let app = packline::tui::app::App::new(client, keymap).await?;
        packline::tui::run(app, scan_timing(&ctx.cfg)).await?;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `packline demo`: the training marketplace in this process, a fresh store with a generated key
/// in a private temporary directory, one sync, then the TUI as a lead.
fn demo(ctx: &Ctx, orders: usize, seed: u64) -> Result<ExitCode> {
    use packline::service::sync::{SyncPlan, sync_once};
    use packline::service::{Service, Settings};
    use std::os::unix::fs::DirBuilderExt as _;
    if !std::io::stdout().is_terminal() {
        bail!("the demo opens the terminal UI and needs a terminal");
    }
    let keymap = keymap(&ctx.cfg)?;
    let dir = std::env::temp_dir().join(format!("packline-demo-{}", std::process::id()));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    struct Cleanup(PathBuf);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let _cleanup = Cleanup(dir.clone());
    let data = dir.join("data");
    let key = dir.join("master.key");
    let now = Utc::now();
    Store::init_keys(
        &data,
        &MasterSource::IdentityFile(key.clone()),
        &ctx.user,
        now,
    )?;
    let mut store = Store::open(&data)?;
    store.unlock(&MasterSource::IdentityFile(key))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let result = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let market = packline::marketplace::server::MarketplaceConfig {
            orders,
            seed,
            quota_scale: 1.0,
            start: now - chrono::Duration::days(3) - chrono::Duration::hours(1),
            fault_rate: 0.0,
            faults: Vec::new(),
            fault_delay: std::time::Duration::from_secs(1),
            new_orders_per_minute: 0.5,
            cancel_rate: 0.2,
        };
        tokio::spawn(packline::marketplace::server::serve(listener, market));
        let api = packline::amazon::client::SpApi::new(
            &url,
            &format!("{url}/auth/o2/token"),
            packline::amazon::client::Credentials {
                client_id: "training".into(),
                client_secret: "training".to_owned().into(),
                refresh_token: "training".to_owned().into(),
            },
            std::time::Duration::from_secs(10),
        )?;
        let plan = SyncPlan {
            marketplace_ids: vec!["ATVPDKIKX0DER".into()],
            lookback_days: 30,
        };
        let api = std::sync::Arc::new(api);
        sync_once(&api, &mut store, &plan, &ctx.user, Utc::now(), |_, _| {}).await?;
        // Every SKU gets a bin, so the pick list walks the floor in order.
        let mut skus: Vec<String> = store
            .list(None)
            .filter_map(|r| r.ok())
            .flat_map(|r| r.order.lines.into_iter().map(|l| l.sku))
            .collect();
        skus.sort();
        skus.dedup();
        let csv: String = skus
            .iter()
            .enumerate()
            .map(|(i, s)| {
                format!(
                    "\"{}\",A-{:02}-{},\n",
                    s.replace('"', "\"\""),
                    i / 4 + 1,
                    i % 4 + 1
                )
            })
            .collect();
        let mut settings = Settings::from_config(&ctx.cfg).map_err(anyhow::Error::msg)?;
        settings.locations = packline::domain::Locations::from_csv(&csv).unwrap_or_default();
        settings.roles = packline::config::RolesConfig {
            leads: vec![ctx.user.clone()],
            ..Default::default()
        };
        settings.training = true;
        // Labels and slips print to files in the demo's own directory (removed on exit).
        let printed = dir.join("printed");
        std::fs::DirBuilder::new().mode(0o700).create(&printed)?;
        let printer = format!("file:{}", printed.display());
        settings.shipping = packline::config::ShippingConfig {
            seller_name: Some("Training Goods".into()),
            from: Some(packline::config::ShipFrom {
                name: "Training Goods".into(),
                line1: "1 Practice Way".into(),
                line2: None,
                city: "Seattle".into(),
                state: Some("WA".into()),
                postal_code: "98109".into(),
                country_code: "US".into(),
                phone: "2065550100".into(),
                email: "training@example.com".into(),
            }),
            label_format: Some("ZPL203".into()),
            label_printer: Some(printer.clone()),
            slip_printer: Some(printer),
            users: Default::default(),
            printers: Default::default(),
        };
        let service = Service::new(store, settings);
        service.set_amazon(api);
        let client = Client::local(service, &ctx.user)?;
        let app = packline::tui::app::App::new(client, keymap).await?;
        packline::tui::run(app, scan_timing(&ctx.cfg)).await?;
        anyhow::Ok(())
    });
    rt.shutdown_timeout(std::time::Duration::from_secs(1));
    result?;
    Ok(ExitCode::SUCCESS)
}

/// A client for shipping work: the daemon when one runs, else the service in this process with
/// the store unlocked (labels and slips carry addresses) and Amazon connected if configured.
fn shipping_client(ctx: &Ctx) -> Result<(tokio::runtime::Runtime, Client)> {
    use packline::service::{Service, Settings};
    if let Some(d) = ctx.daemon()? {
        return Ok(d);
    }
    let settings = Settings::from_config(&ctx.cfg).map_err(anyhow::Error::msg)?;
    let mut store = ctx.open()?;
    ctx.try_unlock(&mut store, true)?;
    let service = Service::new(store, settings);
    if let Ok(creds) = credentials(&ctx.cfg) {
        let endpoint = ctx.cfg.amazon.endpoint().map_err(anyhow::Error::msg)?;
        service.set_amazon(std::sync::Arc::new(packline::amazon::client::SpApi::new(
            &endpoint,
            &ctx.cfg.amazon.token_url(),
            creds,
            ctx.cfg.amazon.request_timeout(),
        )?));
    }
    let client = Client::local(service, &ctx.user)?;
    Ok((runtime()?, client))
}

fn shipping_cli(ctx: &Ctx, request: Request) -> Result<ExitCode> {
    let (rt, mut client) = shipping_client(ctx)?;
    rt.block_on(async move {
        match client.call(request).await? {
            Reply::Rates { offers } => {
                for (i, o) in offers.iter().enumerate() {
                    println!(
                        "{} {:<40} {:<12} {:>8.2} {} {}{}",
                        if i == 0 && o.meets_promise { "*" } else { " " },
                        escape_hazards(&o.service_id),
                        escape_hazards(&o.carrier),
                        o.amount,
                        escape_hazards(&o.currency),
                        o.latest_delivery
                            .map_or("-".into(), |d| d.format("%Y-%m-%d").to_string()),
                        if o.meets_promise {
                            ""
                        } else {
                            "  (late for the promise)"
                        }
                    );
                }
            }
            Reply::Shipment { shipment } => {
                println!(
                    "order {}: {} {} tracking {}",
                    shipment.order,
                    shipment.state.name(),
                    shipment
                        .carrier
                        .as_ref()
                        .map_or("-".into(), |c| c.to_string()),
                    shipment
                        .tracking
                        .as_ref()
                        .map_or("-".into(), |t| t.to_string())
                );
            }
            Reply::Queued { job } => {
                // Wait for the printer's answer: the job runs in the service.
                let wait = async {
                    while let Some(n) = client.notice().await {
                        if let packline::service::Notice::PrintFinished { order, ok, detail } = n
                            && order == job.order
                        {
                            return Some((ok, detail));
                        }
                    }
                    None
                };
                match tokio::time::timeout(std::time::Duration::from_secs(90), wait).await {
                    Ok(Some((true, detail))) => println!("{detail} on {}", job.printer),
                    Ok(Some((false, detail))) => bail!("printing failed: {detail}"),
                    _ => bail!("no answer from the printer yet: see the print queue"),
                }
            }
            Reply::Done => println!("done"),
            other => bail!("unexpected reply: {other:?}"),
        }
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

fn manifest(
    ctx: &Ctx,
    date: Option<chrono::NaiveDate>,
    format: &str,
    close: bool,
) -> Result<ExitCode> {
    let date = date.unwrap_or_else(|| packline::store::shipping::local_day(Utc::now()));
    use std::io::Write as _;
    if format == "pdf" && std::io::stdout().is_terminal() {
        bail!("the PDF manifest goes to standard output: redirect it to a file (> manifest.pdf)");
    }
    let (rt, mut client) = shipping_client(ctx)?;
    let Reply::Manifest { shipments, shipped } = rt.block_on(client.call(Request::Manifest {
        date: Some(date),
        close,
    }))?
    else {
        bail!("unexpected reply from the service");
    };
    let mut out = std::io::stdout().lock();
    if format == "pdf" {
        out.write_all(&packline::labels::manifest::pdf(date, &shipments))?;
    } else {
        out.write_all(packline::labels::manifest::csv(&shipments).as_bytes())?;
    }
    if close {
        eprintln!("{shipped} order(s) shipped");
    }
    Ok(ExitCode::SUCCESS)
}

fn print_purge(r: &PurgeReport) {
    println!("recipients destroyed: {}", r.recipients_destroyed);
    println!("orders deleted: {}", r.orders_deleted);
    println!("exception notes deleted: {}", r.exception_notes_deleted);
    println!("recipients re-sealed: {}", r.recipients_resealed);
    println!("key epochs shredded: {}", r.epochs_shredded);
    if r.orphans_removed > 0 {
        println!("orphaned entries removed: {}", r.orphans_removed);
    }
    if r.epochs_kept_locked > 0 {
        println!("key epochs kept (store locked): {}", r.epochs_kept_locked);
        eprintln!(
            "packline: {} key epoch(s) hold expired data but also addresses still needed; \
             they are kept until a purge runs unlocked (give the master key: --passphrase-file \
             or [keys] identity_file)",
            r.epochs_kept_locked
        );
    }
}

fn serve(ctx: &Ctx, socket: Option<PathBuf>) -> Result<ExitCode> {
    use packline::service::daemon::{DaemonOptions, run};
    use packline::service::sync::SyncPlan;
    use packline::service::{Service, Settings};
    let settings = Settings::from_config(&ctx.cfg).map_err(anyhow::Error::msg)?;
    let mut store = ctx.open()?;
    ctx.unlock_for_import(&mut store, "serving");
    let sync = match credentials(&ctx.cfg) {
        Ok(creds) => {
            let endpoint = ctx.cfg.amazon.endpoint().map_err(anyhow::Error::msg)?;
            let api = packline::amazon::client::SpApi::new(
                &endpoint,
                &ctx.cfg.amazon.token_url(),
                creds,
                ctx.cfg.amazon.request_timeout(),
            )?;
            let plan = SyncPlan {
                marketplace_ids: ctx.cfg.amazon.marketplace_ids(),
                lookback_days: ctx.cfg.amazon.lookback_days(),
            };
            Some((std::sync::Arc::new(api), plan))
        }
        Err(e) => {
            eprintln!("packline: sync is off: {e:#}");
            None
        }
    };
    let service = Service::new(store, settings);
    let opts = DaemonOptions {
        socket: socket.unwrap_or_else(|| ctx.cfg.service.socket_path()),
        socket_group: ctx.cfg.service.socket_group.clone(),
        sync,
        sync_every: std::time::Duration::from_secs(300),
        purge_every: std::time::Duration::from_secs(24 * 3600),
        user: ctx.user.clone(),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let (_stop, stop_rx) = tokio::sync::watch::channel(false);
    rt.block_on(run(service.clone(), opts, stop_rx))?;
    // sled replays at its next open every log entry written since this one: a day's work would
    // slow the next start. With every task stopped, checkpoint the store on the way out.
    rt.shutdown_timeout(std::time::Duration::from_secs(10));
    match service.into_store() {
        Ok(store) => {
            let started = std::time::Instant::now();
            drop(store.checkpoint()?);
            tracing::info!(
                ms = started.elapsed().as_millis() as u64,
                "checkpoint at shutdown"
            );
        }
        Err(_) => tracing::warn!("the store was still in use at shutdown: no checkpoint"),
    }
    Ok(ExitCode::SUCCESS)
}

/// After a bulk import, reopen the store so sled records its snapshot now, not at the next start
/// (sled replays every log entry written since its last open when it opens).
fn checkpoint_after_bulk(store: Store, c: &packline::store::ImportCounts) -> Result<Store> {
    const BULK: u64 = 10_000;
    if c.new + c.updated + c.cancelled < BULK {
        return Ok(store);
    }
    let started = std::time::Instant::now();
    let store = store.checkpoint()?;
    tracing::info!(
        ms = started.elapsed().as_millis() as u64,
        "checkpoint after bulk import"
    );
    Ok(store)
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn marketplace(
    listen: std::net::SocketAddr,
    cfg: packline::marketplace::server::MarketplaceConfig,
) -> Result<ExitCode> {
    use std::io::Write as _;
    if !listen.ip().is_loopback() {
        bail!("--listen {listen}: the training marketplace listens on loopback addresses only");
    }
    if !(cfg.quota_scale.is_finite() && cfg.quota_scale > 0.0) {
        bail!(
            "--quota-scale {}: must be a positive number",
            cfg.quota_scale
        );
    }
    let rt = runtime()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("binding {listen}"))?;
        let addr = listener.local_addr()?;
        println!("listening on http://{addr}");
        std::io::stdout().flush()?;
        tracing::info!(%addr, orders = cfg.orders, seed = cfg.seed, "training marketplace");
        tokio::select! {
            r = packline::marketplace::server::serve(listener, cfg) => r.context("serving"),
            _ = tokio::signal::ctrl_c() => Ok(()),
        }
    })?;
    Ok(ExitCode::SUCCESS)
}

/// LWA credentials: the environment first, else `[amazon] credentials_file` (mode 0600).
fn credentials(cfg: &Config) -> Result<packline::amazon::client::Credentials> {
    if let Some(c) = packline::amazon::client::Credentials::from_env() {
        return Ok(c);
    }
    let Some(path) = cfg.amazon.credentials_file.as_deref() else {
        bail!(
            "no Amazon credentials: set PACKLINE_LWA_CLIENT_ID, PACKLINE_LWA_CLIENT_SECRET and \
             PACKLINE_LWA_REFRESH_TOKEN, or [amazon] credentials_file"
        );
    };
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .with_context(|| format!("reading {}", path.display()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        bail!(
            "credentials file {} has mode {:o}: it must not be readable by group or others. Run: chmod 600 {}",
            path.display(),
            mode & 0o777,
            path.display()
        );
    }
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        client_id: String,
        client_secret: String,
        refresh_token: String,
    }
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
    );
    // The parse error is not shown: it could quote a secret.
    let f: File = toml::from_str(&text).map_err(|_| {
        anyhow::anyhow!(
            "credentials file {} is not TOML with client_id, client_secret and refresh_token",
            path.display()
        )
    })?;
    Ok(packline::amazon::client::Credentials {
        client_id: f.client_id,
        client_secret: f.client_secret.into(),
        refresh_token: f.refresh_token.into(),
    })
}

fn sync(ctx: &Ctx, once: bool) -> Result<ExitCode> {
    use packline::service::sync::{SyncPlan, sync_once};
    ctx.require(Role::Lead, "syncing orders")?;
    let endpoint = ctx.cfg.amazon.endpoint().map_err(anyhow::Error::msg)?;
    let api = packline::amazon::client::SpApi::new(
        &endpoint,
        &ctx.cfg.amazon.token_url(),
        credentials(&ctx.cfg)?,
        ctx.cfg.amazon.request_timeout(),
    )?;
    let plan = SyncPlan {
        marketplace_ids: ctx.cfg.amazon.marketplace_ids(),
        lookback_days: ctx.cfg.amazon.lookback_days(),
    };
    let mut store = ctx.open()?;
    ctx.unlock_for_import(&mut store, "syncing");
    let rt = runtime()?;
    let tty = std::io::stderr().is_terminal();
    loop {
        let now = Utc::now();
        let c = rt.block_on(sync_once(
            &api,
            &mut store,
            &plan,
            &ctx.user,
            now,
            |pages, c| {
                if tty {
                    eprint!(
                        "\rpage {pages}: {} new, {} updated, {} cancelled",
                        c.new, c.updated, c.cancelled
                    );
                } else {
                    eprintln!(
                        "page {pages}: {} new, {} updated, {} cancelled",
                        c.new, c.updated, c.cancelled
                    );
                }
            },
        ))?;
        if tty {
            eprintln!();
        }
        tracing::info!(?c, "sync");
        store = checkpoint_after_bulk(store, &c)?;
        println!(
            "imported {} new, {} updated, {} cancelled",
            c.new, c.updated, c.cancelled
        );
        if once {
            return Ok(ExitCode::SUCCESS);
        }
        // searchOrders refills one request every 180 s; a round a few minutes apart stays within it.
        std::thread::sleep(std::time::Duration::from_secs(300));
    }
}

fn keys(ctx: &Ctx, command: KeysCommand, now: DateTime<Utc>) -> Result<ExitCode> {
    if !matches!(command, KeysCommand::Unlock | KeysCommand::Lock) {
        ctx.require(Role::Lead, "managing keys")?;
    }
    match command {
        KeysCommand::Init { identity_file } => {
            let source = match (identity_file, &ctx.passphrase_file) {
                (Some(_), Some(_)) => bail!(
                    "keys init takes --identity-file PATH or --passphrase-file PATH, not both"
                ),
                (Some(p), None) => MasterSource::IdentityFile(p),
                (None, Some(p)) => MasterSource::Passphrase(read_passphrase_file(p)?),
                (None, None) => {
                    bail!("keys init needs --identity-file PATH or --passphrase-file PATH")
                }
            };
            let recipient = Store::init_keys(&ctx.data_dir, &source, &ctx.user, now)?;
            tracing::info!(%recipient, "keys initialised");
            println!("master recipient: {recipient}");
            if let MasterSource::IdentityFile(p) = &source {
                println!(
                    "master identity written to {} (mode 0600): keep a copy offline; without it, sealed data cannot be read",
                    p.display()
                );
            }
        }
        KeysCommand::Rotate => {
            let mut store = ctx.open()?;
            let e = store.keyring_mut().rotate(now)?;
            tracing::info!(epoch = e.id, "key epoch rotated");
            println!("new key epoch {} ({})", e.id, e.label);
        }
        KeysCommand::Unlock => {
            let Some((rt, mut client)) = ctx.daemon()? else {
                bail!(
                    "no packline daemon is running on {}: `keys unlock` unlocks a daemon; other commands unlock with --passphrase-file or at the prompt",
                    ctx.cfg.service.socket_path().display()
                );
            };
            let pass = match &ctx.passphrase_file {
                Some(p) => read_passphrase_file(p)?,
                None => rpassword::prompt_password("Master passphrase: ")
                    .context("reading the passphrase from the terminal")?
                    .into(),
            };
            use age::secrecy::ExposeSecret as _;
            let passphrase = Passphrase(pass.expose_secret().to_owned());
            rt.block_on(client.call(Request::Unlock { passphrase }))?;
            println!("daemon unlocked");
        }
        KeysCommand::Lock => {
            let Some((rt, mut client)) = ctx.daemon()? else {
                bail!(
                    "no packline daemon is running on {}",
                    ctx.cfg.service.socket_path().display()
                );
            };
            rt.block_on(client.call(Request::Lock))?;
            println!("daemon locked");
        }
        KeysCommand::Show => {
            let store = ctx.open()?;
            let ring = store.keyring();
            println!("master recipient: {}", ring.master_recipient());
            println!("protection: {:?}", ring.protection());
            for e in ring.epochs() {
                println!(
                    "epoch {:>4}  {:<20} created {}",
                    e.id,
                    e.label,
                    e.created.to_rfc3339()
                );
            }
            println!("shredded epochs: {}", ring.shredded_count());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn import(ctx: &Ctx, files: &[PathBuf], now: DateTime<Utc>) -> Result<ExitCode> {
    // Every file is parsed before anything is stored: one bad file changes nothing.
    let mut orders = Vec::new();
    for f in files {
        let bytes = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
        let page = parse_search_orders(&bytes, &f.display().to_string())?;
        orders.extend(page.orders);
    }
    let daemon = ctx.daemon()?;
    if daemon.is_none() {
        ctx.require(Role::Lead, "importing orders")?;
    }
    let c = if let Some((rt, mut client)) = daemon {
        // Every file parsed above; now each goes to the daemon, which parses it again itself.
        drop(orders);
        let mut total = packline::store::ImportCounts::default();
        for f in files {
            let text =
                std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
            let reply = rt.block_on(client.call(Request::Import {
                file: f.display().to_string(),
                page: packline::service::RawPage(text),
            }))?;
            let Reply::Imported { counts } = reply else {
                bail!("unexpected reply from the daemon");
            };
            total.new += counts.new;
            total.updated += counts.updated;
            total.cancelled += counts.cancelled;
            total.unchanged += counts.unchanged;
            total.skipped += counts.skipped;
        }
        total
    } else {
        let mut store = ctx.open()?;
        ctx.unlock_for_import(&mut store, "importing");
        let c = store.import(orders, &ctx.user, now)?;
        drop(checkpoint_after_bulk(store, &c)?);
        c
    };
    tracing::info!(?c, files = files.len(), "import");
    println!("imported {} new, {} updated", c.new, c.updated);
    if c.cancelled > 0 {
        println!("{} cancelled at Amazon", c.cancelled);
    }
    if c.skipped > 0 {
        println!(
            "{} skipped (fulfilled by Amazon, pending at Amazon, or already closed)",
            c.skipped
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn list(ctx: &Ctx, state: Option<&str>, json: bool) -> Result<ExitCode> {
    let state = state
        .map(|s| {
            OrderState::parse(s).with_context(|| {
                format!(
                    "--state {s:?} is not a state; use one of: {}",
                    OrderState::ALL.map(|s| s.name()).join(", ")
                )
            })
        })
        .transpose()?;
    if let Some((rt, mut client)) = ctx.daemon()? {
        let mut rows = Vec::new();
        for s in state.map_or(OrderState::ALL.to_vec(), |s| vec![s]) {
            let mut offset = 0;
            loop {
                let page = match rt.block_on(client.call(Request::Queue {
                    state: Some(s),
                    search: None,
                    offset,
                    limit: packline::service::MAX_PAGE,
                }))? {
                    Reply::Queue(p) => p,
                    other => bail!("unexpected reply from the daemon: {other:?}"),
                };
                offset += page.rows.len() as u32;
                rows.extend(page.rows);
                if !page.more {
                    break;
                }
            }
        }
        return print_orders(rows.into_iter().map(Ok), json);
    }
    ctx.require(Role::Packer, "listing orders")?;
    let store = ctx.open()?;
    print_orders(store.list(state).map(|r| r.map_err(Into::into)), json)
}

fn print_orders(rows: impl Iterator<Item = Result<OrderRecord>>, json: bool) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    use std::io::Write as _;
    if json {
        let rows: Vec<serde_json::Value> = rows
            .map(|r| r.map(|r| order_json(&r)))
            .collect::<Result<_, _>>()?;
        serde_json::to_writer_pretty(&mut out, &rows)?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "{:<22} {:<10} {:<17} {:>5}  {:<10} RECIPIENT",
            "ORDER", "STATE", "SHIP BY", "UNITS", "SERVICE"
        )?;
        for r in rows {
            let r = r?;
            writeln!(
                out,
                "{:<22} {:<10} {:<17} {:>5}  {:<10} {}",
                r.order.id,
                r.state,
                r.order.ship_by_key().format("%Y-%m-%d %H:%M"),
                r.order.units(),
                service_name(&r),
                escape_hazards(r.recipient_mask.as_deref().unwrap_or("-")),
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn service_name(r: &OrderRecord) -> String {
    let s = serde_json::to_value(r.order.service_level)
        .ok()
        .and_then(|v| v.as_str().map(str::to_lowercase))
        .unwrap_or_default();
    if r.order.prime { format!("{s}*") } else { s }
}

/// An order as JSON for scripts: no personal data, the recipient masked.
fn order_json(r: &OrderRecord) -> serde_json::Value {
    serde_json::json!({
        "orderId": r.order.id,
        "state": r.state,
        "stateSince": r.state_since,
        "shipBy": r.order.ship_by,
        "deliverBy": r.order.deliver_by,
        "serviceLevel": r.order.service_level,
        "prime": r.order.prime,
        "business": r.order.business,
        "recipient": r.recipient_mask,
        "lines": r.order.lines.iter().map(|l| serde_json::json!({
            "orderItemId": l.item_id,
            "sellerSku": l.sku,
            "asin": l.asin,
            "title": l.title,
            "quantityOrdered": l.quantity_ordered,
            "quantityShipped": l.quantity_shipped,
        })).collect::<Vec<_>>(),
    })
}

fn lookup(ctx: &Ctx, args: LookupArgs, now: DateTime<Utc>) -> Result<ExitCode> {
    if let Some(name) = &args.name
        && let Some((rt, mut client)) = ctx.daemon()?
    {
        let reply = rt.block_on(client.call(Request::LookupName { text: name.clone() }))?;
        let Reply::Found { orders } = reply else {
            bail!("unexpected reply from the daemon");
        };
        for id in orders {
            println!("{id}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(name) = &args.name {
        ctx.require(Role::Labeler, "a name lookup")?;
        let mut store = ctx.open()?;
        ctx.try_unlock(&mut store, true)?;
        for id in store.lookup_name(name, &ctx.user, now)? {
            println!("{id}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let raw = args.order.as_deref().unwrap_or_default();
    let id = OrderId::parse(raw).map_err(|e| anyhow::anyhow!("--order: {e}"))?;
    if args.reveal
        && let Some((rt, mut client)) = ctx.daemon()?
    {
        let reply = rt.block_on(client.call(Request::Reveal {
            order: id.to_string(),
            reason: args.reason.clone().unwrap_or_default(),
        }))?;
        let Reply::Revealed { lines, .. } = reply else {
            bail!("unexpected reply from the daemon");
        };
        for l in &lines.0 {
            println!("{l}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    if args.reveal {
        ctx.require(Role::Lead, "revealing a recipient")?;
        let mut store = ctx.open()?;
        ctx.try_unlock(&mut store, true)?;
        let r = store.reveal(
            &id,
            &ctx.user,
            args.reason.as_deref().unwrap_or_default(),
            now,
        )?;
        tracing::info!(order = %id, "recipient revealed");
        for (label, value) in r.reveal_lines() {
            println!("{label}: {value}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let r = if let Some((rt, mut client)) = ctx.daemon()? {
        let reply = rt.block_on(client.call(Request::Order {
            order: id.to_string(),
        }))?;
        let Reply::Orders { mut orders } = reply else {
            bail!("unexpected reply from the daemon");
        };
        orders
            .pop()
            .with_context(|| format!("order {id} is not in the store"))?
    } else {
        ctx.require(Role::Packer, "an order lookup")?;
        let store = ctx.open()?;
        let Some(r) = store.get(&id)? else {
            bail!("order {id} is not in the store");
        };
        r
    };
    println!("order: {}", r.order.id);
    println!("state: {} since {}", r.state, r.state_since.to_rfc3339());
    println!("ship by: {}", r.order.ship_by_key().to_rfc3339());
    println!("service: {}", service_name(&r));
    println!(
        "recipient: {}",
        escape_hazards(
            r.recipient_mask
                .as_deref()
                .unwrap_or(if r.recipient_purged {
                    "(destroyed by retention)"
                } else {
                    "-"
                })
        )
    );
    for l in &r.order.lines {
        println!(
            "  {} x {}  {}  {}",
            l.quantity_ordered,
            escape_hazards(&l.sku),
            escape_hazards(&l.asin),
            escape_hazards(&l.title)
        );
    }
    Ok(ExitCode::SUCCESS)
}
