//! The command line as clap sees it: every command, flag and help text. Nothing here runs.

use std::path::PathBuf;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

mod floor;
pub use floor::{
    ExceptionsCommand, LabelCommand, PackCommand, PickCommand, PrintsCommand, ReturnsCommand,
};

#[derive(Parser)]
#[command(
    name = "packline",
    version,
    about = "Order fulfillment for sellers shipping their own Amazon orders"
)]
pub struct Cli {
    /// Config file (TOML). Default: $XDG_CONFIG_HOME/packline/config.toml, if present.
    #[arg(long, global = true, env = "PACKLINE_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Data directory holding the store and its keyring.
    #[arg(long, global = true, env = "PACKLINE_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// File holding the master passphrase, for commands that need the store unlocked.
    #[arg(
        long,
        global = true,
        env = "PACKLINE_PASSPHRASE_FILE",
        value_name = "FILE"
    )]
    pub passphrase_file: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    /// Parses this process's command line. `pack finish --help` names the site's box presets,
    /// from the config the command would read (when it can be read).
    pub fn parse_here() -> Cli {
        let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
        let mut cmd = Cli::command();
        if let Some(presets) = box_presets(&args) {
            let help = format!("A box preset's name ([floor] boxes): {presets}");
            cmd = cmd.mut_subcommand("pack", |pack| {
                pack.mut_subcommand("finish", |finish| {
                    finish.mut_arg("box_name", |a| a.help(help))
                })
            });
        }
        let json = args
            .iter()
            .any(|a| a == "--json" || a == "--json-lines" || a == "--format=json");
        let matches = match cmd.try_get_matches_from(args) {
            Ok(m) => m,
            // A script that asked for JSON gets its usage error as JSON too (exit 2); help and
            // the version are printed as asked.
            Err(e) if json && e.use_stderr() => {
                let text = e.to_string();
                let message = text.trim().trim_start_matches("error: ");
                let doc = super::schema::ErrorAnswer::line("usage", message.to_owned());
                let _ = std::io::Write::write_all(
                    &mut std::io::stderr(),
                    format!("{doc}\n").as_bytes(),
                );
                std::process::exit(2);
            }
            Err(e) => e.exit(),
        };
        Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
    }
}

/// The box presets of the config named by `--config` (or `PACKLINE_CONFIG`, or the default
/// path), as `"S 20x15x10" (200×150×100 mm), …`; none when it cannot be read.
fn box_presets(args: &[std::ffi::OsString]) -> Option<String> {
    let mut explicit = std::env::var_os("PACKLINE_CONFIG")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    for (i, a) in args.iter().enumerate() {
        let a = a.to_string_lossy();
        if a == "--config" {
            explicit = args.get(i + 1).map(PathBuf::from);
        } else if let Some(p) = a.strip_prefix("--config=") {
            explicit = Some(PathBuf::from(p));
        }
    }
    let cfg = crate_config(explicit.as_deref())?;
    let boxes = cfg.floor.boxes();
    Some(
        boxes
            .iter()
            .map(|b| format!("{:?} ({}×{}×{} mm)", b.name, b.mm[0], b.mm[1], b.mm[2]))
            .collect::<Vec<_>>()
            .join(", "),
    )
}

fn crate_config(path: Option<&std::path::Path>) -> Option<packline::config::Config> {
    packline::config::Config::load(path).ok()
}

#[derive(Subcommand)]
pub enum Command {
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
        #[command(flatten)]
        out: Output,
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
        #[command(flatten)]
        out: Output,
    },
    /// The tamper-evident audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Check the store, its indexes, the floor's work, the sealed recipients against the
    /// keyring and the audit chain; exit 1 and say what to do when something is wrong (leads).
    Check {
        #[command(flatten)]
        out: Output,
    },
    /// Orders and units shipped, late shipments, short picks, exceptions, holds, labels and
    /// postage, by day or SKU, from counters kept as the floor works; no personal data (leads).
    Report {
        /// The first local day (default: 29 days before --to).
        #[arg(long, value_name = "YYYY-MM-DD")]
        from: Option<chrono::NaiveDate>,
        /// The last local day (default: today).
        #[arg(long, value_name = "YYYY-MM-DD")]
        to: Option<chrono::NaiveDate>,
        #[arg(long, default_value = "day", value_parser = ["sku", "day", "sku-day"])]
        by: String,
        /// png: the chart of units per day and the late share.
        #[arg(long, default_value = "table", value_parser = ["table", "csv", "json", "png"])]
        format: String,
        /// The same as --format json.
        #[arg(long, conflicts_with = "format")]
        json: bool,
        /// Write here instead of standard output.
        #[arg(long, value_name = "FILE")]
        output: Option<std::path::PathBuf>,
        /// Every site of the database, one after the other (a `site` column in CSV; in JSON,
        /// an array of `{"site", "report"}`); not for the PNG chart.
        #[arg(long)]
        all_sites: bool,
    },
    /// A consistent backup of the store and its keyring into a new directory under DIR,
    /// written by the service while it works (leads). The purge deletes backups at the
    /// personal-data limit: they hold recipients and key epochs.
    Backup {
        /// Where the backup's directory is made (an absolute path the service can write).
        dir: std::path::PathBuf,
        #[command(flatten)]
        out: Output,
    },
    /// The store itself: move it into PostgreSQL (run with no daemon on it).
    Store {
        #[command(subcommand)]
        command: StoreCommand,
    },
    /// Rebuild an empty data directory from a backup (run with no daemon on it).
    Restore {
        /// The backup's directory (`packline-backup-…`).
        dir: std::path::PathBuf,
        #[command(flatten)]
        out: Output,
    },
    /// The lead's dashboard once: due and late work, today's throughput, batches in
    /// progress and the site's health (leads; the TUI's dashboard screen shows the same).
    Dashboard {
        #[command(flatten)]
        out: Output,
    },
    /// The seller's metrics as Amazon judges them (Late Shipment, Valid Tracking, On-Time
    /// Delivery and Pre-fulfillment Cancel rates; Seller Fulfilled Prime's on-time shipment and
    /// Buy Shipping share), each beside Amazon's threshold, counted from packline's own
    /// records (leads).
    Metrics {
        #[command(flatten)]
        out: Output,
    },
    /// Who has access, and what they did with it (leads).
    Access {
        #[command(subcommand)]
        command: AccessCommand,
    },
    /// Pull pending merchant-fulfilled orders from Amazon (or the training marketplace).
    Sync {
        #[command(subcommand)]
        command: Option<SyncCommand>,
        /// Import everything pending once, then exit (otherwise keep polling within the quota).
        #[arg(long)]
        once: bool,
        /// Take the backlog through Amazon's actionable-orders report (one report instead of a
        /// searchOrders page per 100 orders), then catch up with what changed since.
        #[arg(long)]
        backlog: bool,
        #[command(flatten)]
        out: Output,
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
        #[command(flatten)]
        out: Output,
    },
    /// Carrier labels through Amazon's Buy Shipping: Shipping API v2 (the default) or Merchant
    /// Fulfillment v0 ([shipping] api): rates, buy, print, void, check.
    Label {
        #[command(subcommand)]
        command: LabelCommand,
    },
    /// Ship with your own carrier: confirm the tracking number to Amazon; the order is Shipped.
    Ship {
        order: String,
        #[arg(long)]
        carrier: String,
        /// One per package, in package order (repeat the flag for an order in several boxes).
        #[arg(long, required = true)]
        tracking: Vec<String>,
        #[command(flatten)]
        out: Output,
    },
    /// The end-of-day manifest per carrier (no personal data); --close ships the day's labels.
    Manifest {
        /// The day (default: today, UTC).
        #[arg(long, value_name = "YYYY-MM-DD")]
        date: Option<chrono::NaiveDate>,
        /// csv, pdf (to a file), or json (the shipments and what --close shipped).
        #[arg(long, default_value = "csv", value_parser = ["csv", "pdf", "json"])]
        format: String,
        /// The same as --format json.
        #[arg(long, conflicts_with = "format")]
        json: bool,
        /// Move the day's labelled orders to Shipped (the carrier has collected them).
        #[arg(long)]
        close: bool,
    },
    /// The print queue: labels, slips, pick sheets and collection forms, each printed, failed
    /// (and why) or still queued; `retry` sends failed jobs again.
    #[command(args_conflicts_with_subcommands = true)]
    Prints {
        #[command(subcommand)]
        command: Option<PrintsCommand>,
        /// Only the jobs that failed.
        #[arg(long)]
        failed: bool,
        #[command(flatten)]
        out: Output,
    },
    /// Run the service for a warehouse: own the store, serve clients on a Unix socket, sync with
    /// Amazon and purge on schedule. Stops cleanly on SIGTERM or Ctrl-C.
    Serve {
        /// Socket path (default: [service] socket, else $XDG_RUNTIME_DIR/packline.sock).
        #[arg(long, value_name = "PATH")]
        socket: Option<PathBuf>,
    },
    /// Picking: claim a batch, scan units, short-pick, finish, release, reassign.
    Pick {
        #[command(subcommand)]
        command: PickCommand,
    },
    /// Packing: open an order at the bench, scan each unit, box and weigh it.
    Pack {
        #[command(subcommand)]
        command: PackCommand,
    },
    /// Orders taken off the line: list, raise, resolve (leads).
    Exceptions {
        #[command(subcommand)]
        command: ExceptionsCommand,
    },
    /// Customer inquiries: open one on an order, add notes, resolve it (leads), list them; a lead
    /// reads the notes (sealed; every reading audited).
    Inquiry {
        #[command(subcommand)]
        command: InquiryCommand,
    },
    /// Returns: pull Amazon's returns report (leads) or import a downloaded one (leads); list
    /// them; receive a parcel's units by scan, each with its condition; close it.
    Returns {
        #[command(subcommand)]
        command: ReturnsCommand,
    },
    /// Send a message to the buyer of an order through Amazon's Messaging API (leads), once its
    /// text passes Amazon's rules and Amazon allows the kind for the order; audited, and noted on
    /// the order's open inquiry. There is no other way to write to a customer.
    Message {
        order: String,
        /// The kind of message, as Amazon names it.
        #[arg(long, value_parser = [
            "confirmCustomizationDetails", "confirmDeliveryDetails", "confirmOrderDetails",
            "confirmServiceDetails", "unexpectedProblem", "digitalAccessKey",
            "legalDisclosure", "warranty", "invoice",
        ])]
        kind: String,
        /// The text (plain text, in the buyer's language; at most 2,000 characters, 800 for
        /// confirmCustomizationDetails, 400 for digitalAccessKey); `-` reads it from standard
        /// input, which keeps it out of the process list and the shell history.
        #[arg(long, value_name = "TEXT")]
        text: Option<String>,
        #[command(flatten)]
        out: Output,
    },
    /// Print shell completions for bash, zsh or fish.
    Completions { shell: clap_complete::Shell },
    /// The man pages (roff): packline's own on standard output, or with --dir one page for
    /// every command and subcommand (packline-orders-list.1, …) written into DIR, for
    /// `scripts/man` and for installing (e.g. --dir /usr/local/share/man/man1).
    Manpage {
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Run the training marketplace: an SP-API-compatible server with made-up orders.
    Marketplace(MarketplaceArgs),
}

#[derive(Subcommand)]
pub enum StoreCommand {
    /// Move this site's store from the data directory (sled) into a PostgreSQL database that
    /// holds none yet, and check it on both ends. The keyring and master key stay where they
    /// are; afterwards set [store] backend = "postgres" and url in the config. Run with no
    /// daemon on the site (its lock refuses it otherwise).
    Migrate {
        /// The database: `postgresql://USER@HOST/DB?sslmode=require`, or `host=/run/postgresql
        /// dbname=packline` for a Unix socket (a password here is never shown).
        #[arg(long, value_name = "URL")]
        to: String,
        /// Certificate authorities (PEM) for a server whose certificate no public one signed.
        #[arg(long, value_name = "FILE")]
        ca_file: Option<std::path::PathBuf>,
        #[command(flatten)]
        out: Output,
    },
}

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Create this site's master key and first key epoch.
    /// Give either --identity-file PATH, or --passphrase-file PATH to protect the master identity
    /// with that passphrase instead.
    Init {
        /// Write the master identity to this new file (mode 0600), for unattended unlock.
        #[arg(long, value_name = "PATH")]
        identity_file: Option<PathBuf>,
    },
    /// Start a new key epoch now.
    Rotate {
        #[command(flatten)]
        out: Output,
    },
    /// Show the master recipient and the live key epochs (public data only).
    Show {
        #[command(flatten)]
        out: Output,
    },
    /// Unlock a running daemon: asks for the master passphrase (no echo) and sends it over the
    /// socket. The daemon keeps the key in memory only.
    Unlock,
    /// Make a running daemon drop the master key.
    Lock,
}

#[derive(Subcommand)]
pub enum OrdersCommand {
    /// List orders by state and ship-by; a `*` after the service (`standard*`) marks a Prime
    /// order.
    List {
        /// Only orders in this state (new, picking, picked, packed, labelled, shipped, cancelled, exception).
        #[arg(long, value_name = "STATE")]
        state: Option<String>,
        #[command(flatten)]
        out: Output,
        /// One order a line, each a JSON object (no enclosing array): for streaming a big
        /// store into another program.
        #[arg(long, conflicts_with = "json")]
        json_lines: bool,
        /// Every site of the database, with a SITE column (`site` in JSON); leads.
        #[arg(long)]
        all_sites: bool,
    },
    /// Stop an order where it is on the floor: it is not claimed, packed, labelled, printed for
    /// or confirmed until released (leads; audited).
    Hold {
        #[arg(value_name = "ORDER")]
        order: String,
        /// Why, in a line: every refusal the hold causes repeats it (`-`: read from standard
        /// input).
        #[arg(long, value_name = "TEXT")]
        reason: String,
        #[command(flatten)]
        out: Output,
    },
    /// End an order's hold: it goes on from where it stopped (leads; audited).
    Release {
        #[arg(value_name = "ORDER")]
        order: String,
        #[command(flatten)]
        out: Output,
    },
    /// The orders on hold, with why, by whom and since when (leads).
    Holds {
        #[command(flatten)]
        out: Output,
    },
    /// Move an order waiting in the queue to another site of this database, re-sealed for that
    /// site (leads; audited at both; refused once the order is claimed or picked).
    Move {
        #[arg(value_name = "ORDER")]
        order: String,
        /// The site that ships it from now on (`[site] name` there).
        #[arg(long, value_name = "NAME")]
        site: String,
        #[command(flatten)]
        out: Output,
    },
}

#[derive(Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["order", "name"])))]
pub struct LookupArgs {
    /// The Amazon order id.
    #[arg(long, value_name = "ID")]
    pub order: Option<String>,
    /// A recipient name, or some of its words (needs the store unlocked).
    #[arg(long, value_name = "TEXT")]
    pub name: Option<String>,
    /// Show the recipient's personal data (leads only; audited).
    #[arg(long, requires = "order", requires = "reason")]
    pub reveal: bool,
    /// Why the recipient is revealed; recorded in the audit log.
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    #[command(flatten)]
    pub out: Output,
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain; exits non-zero naming the first bad entry.
    Verify {
        #[command(flatten)]
        out: Output,
    },
    /// Who did what, to which order, when and why, oldest first (leads). The log holds no
    /// personal data: reveals, lookups, purges, voids, inquiry reads, messages, holds,
    /// refusals and key changes are named by order id and reason only.
    List {
        #[command(flatten)]
        filter: AuditFilter,
        /// At most this many entries (1 to 1000); the last line says how to see the rest.
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// Go on after this entry's number (as the last line of a listing says).
        #[arg(long, value_name = "SEQ", default_value_t = 0)]
        after: u64,
        #[command(flatten)]
        out: Output,
    },
    /// Every entry that matches, as JSON lines on standard output, each with its place in the
    /// hash chain (seq, prev, hash): for an incident report (`> FILE`). Leads.
    Export {
        #[command(flatten)]
        filter: AuditFilter,
    },
}

/// Which audit entries: every condition given must hold.
#[derive(Args, Clone, Debug, Default)]
pub struct AuditFilter {
    /// From this time: RFC 3339 (2026-12-01T08:00:00Z) or a local day (2026-12-01, from its
    /// start).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Up to this time: RFC 3339, or a local day (to its end).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Made by this user.
    #[arg(long)]
    pub user: Option<String>,
    /// This action (`reveal`, `lookup_name`, `purge`, `inquiry_read`, …), or a kind of them:
    /// `refused` finds every refusal (`refused:reveal`, …).
    #[arg(long)]
    pub action: Option<String>,
    /// About this order.
    #[arg(long, value_name = "ORDER")]
    pub order: Option<String>,
}

/// `--json`: machine-readable output for scripts, on every command that answers something.
#[derive(Args, Clone, Copy, Debug, Default)]
pub struct Output {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand)]
pub enum SyncCommand {
    /// The orders set aside (leads): refused as they arrived from Amazon or an imported file,
    /// each with where it came from, why and since when; each sync asks Amazon for them again.
    Problems {
        #[command(flatten)]
        out: Output,
    },
}

#[derive(Args)]
pub struct MarketplaceArgs {
    /// Loopback address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR")]
    pub listen: std::net::SocketAddr,
    /// How many pending orders to generate.
    #[arg(long, default_value_t = 200)]
    pub orders: usize,
    /// Seed for the generated orders (same seed, same orders).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Run quota clocks this many times faster than Amazon's (for tests and benchmarks).
    #[arg(long, default_value_t = 1.0)]
    pub quota_scale: f64,
    /// Share of answers (searchOrders, the Merchant Fulfillment, Shipping API v2, Messaging and Reports calls) that get an injected fault (0.0–1.0).
    #[arg(long, default_value_t = 0.0)]
    pub fault_rate: f64,
    /// Faults to inject at random: 429,500,503,timeout,malformed,truncated (and slow: the real
    /// answer, after the fault delay).
    #[arg(long, default_value = "429,500,503,timeout,malformed,truncated")]
    pub faults: String,
    /// How long a `timeout` or `slow` fault keeps the caller waiting, in milliseconds.
    #[arg(long, default_value_t = 40_000)]
    pub fault_delay_ms: u64,
    /// New pending orders arriving per minute.
    #[arg(long, default_value_t = 0.0)]
    pub new_orders_per_minute: f64,
    /// Share of arrivals that come with a cancellation of an earlier pending order (0.0–1.0).
    #[arg(long, default_value_t = 0.0)]
    pub cancel_rate: f64,
    /// Share of arrivals that come with a buyer's request to cancel an earlier pending order (0.0–1.0).
    #[arg(long, default_value_t = 0.0)]
    pub cancel_request_rate: f64,
    /// Some catalogue items need serial numbers or Transparency codes at packing.
    #[arg(long)]
    pub unit_codes: bool,
    /// How long a Shipping API v2 rate can be purchased, in seconds (Amazon: 600); later,
    /// purchaseShipment answers TOKEN_EXPIRED.
    #[arg(long, default_value_t = 600)]
    pub rate_validity_secs: u64,
}

#[derive(Subcommand)]
pub enum InquiryCommand {
    /// Open an inquiry on an order with what the customer asked (sealed: only leads read it).
    Open {
        order: String,
        /// What it is about.
        #[arg(long, default_value = "other", value_parser = [
            "where-is-my-order", "damaged", "wrong-item", "return", "cancel", "other",
        ])]
        category: String,
        /// The note (at most 2,000 characters); `-` reads it from standard input, which keeps a
        /// customer's words out of the process list and the shell history.
        #[arg(long, value_name = "TEXT")]
        note: String,
        #[command(flatten)]
        out: Output,
    },
    /// Add a note to an open inquiry.
    Note {
        id: u64,
        /// The note (at most 2,000 characters); `-` reads it from standard input.
        #[arg(long, value_name = "TEXT")]
        note: String,
        #[command(flatten)]
        out: Output,
    },
    /// Resolve an inquiry, saying how (leads); it is destroyed a year later.
    Resolve {
        id: u64,
        /// How it was settled (at most 2,000 characters); `-` reads it from standard input.
        #[arg(long, value_name = "TEXT")]
        resolution: String,
        #[command(flatten)]
        out: Output,
    },
    /// Every inquiry kept, with its id: order, category, dates and who (no note text).
    List {
        #[command(flatten)]
        out: Output,
    },
    /// An inquiry's notes (leads; needs the master key; audited).
    Show {
        id: u64,
        #[command(flatten)]
        out: Output,
    },
}

#[derive(Subcommand)]
pub enum AccessCommand {
    /// The access review (due every 90 days): each user's role, last activity and sensitive
    /// actions over 90 days; users seen without a role; users with a role never seen. Recorded
    /// in the audit log.
    Review {
        #[arg(long, default_value = "table", value_parser = ["table", "json"])]
        format: String,
        /// The same as --format json.
        #[arg(long, conflicts_with = "format")]
        json: bool,
    },
}
