//! The command line's work: each command builds an operation, sends it through a
//! [`Session`] (the daemon's socket when one serves this site, else the service in this
//! process) and prints the answer, as text or `--json`. No command opens the store itself, but
//! for the ones that start things: `keys init`, `serve`, `demo`, `marketplace`. Role checks live
//! in the service only.

pub mod args;
mod audit;
mod floor;
mod inquiries;
mod keys;
mod lead;
mod messages;
mod orders;
mod prints;
mod records;
mod returns;
mod run;
pub mod schema;
mod shipping;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use serde::Serialize;

use packline::config::Config;
use packline::service::client::Client;
use packline::service::{Operation, Service, Settings};
use packline::store::{MasterSource, Protection, Store};

use args::{Cli, Command, Output};

/// What every command knows: the config, where the store is, and who is asking.
pub struct Ctx {
    pub cfg: Config,
    pub data_dir: PathBuf,
    /// Where the store's records live (the data directory's sled, or PostgreSQL).
    pub location: packline::store::Location,
    pub passphrase_file: Option<PathBuf>,
    pub user: String,
}

/// Whether a command on the in-process service needs the master key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// It reads personal data or re-seals (reveals, name lookups, labels, purges): the key from
    /// the config or the passphrase file, else a prompt on a terminal.
    Needed,
    /// It imports (which needs no secret), named here for the warning: the configured key
    /// indexes names at once; without a usable one, names wait for the next unlock.
    Import(&'static str),
    /// It shows sealed notes to a lead when a key is to hand (the config's identity file, the
    /// environment's or the passphrase file; never a prompt), and placeholders otherwise.
    IfToHand,
    /// It reads nothing sealed: the store stays locked.
    No,
}

/// A connection to the service for one command.
pub struct Session {
    rt: Option<tokio::runtime::Runtime>,
    pub client: Client,
}

impl Session {
    pub fn rt(&self) -> &tokio::runtime::Runtime {
        self.rt
            .as_ref()
            .expect("a session's runtime lives until it is dropped")
    }

    /// Runs one operation and waits for its answer; a refusal is an error naming why.
    pub fn call<O: Operation>(&self, op: O) -> Result<O::Answer> {
        Ok(self.rt().block_on(self.client.call(op))?)
    }

    /// Ends the session. The in-process service checkpoints the store after a bulk import, so
    /// the next open has nothing to replay.
    pub fn finish(self) -> Result<()> {
        let service = self.client.local_service().cloned();
        drop(self);
        match service {
            Some(service) if service.checkpoint_due() => checkpoint(service, "after bulk import"),
            _ => Ok(()),
        }
    }
}

impl Drop for Session {
    /// The in-process service's last writes reach the disk before the process ends (the
    /// daemon's background flush would have done it; this process is about to exit), whether
    /// the command succeeded or not.
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            // Print jobs this process is sending (its own, or ones an earlier process left
            // queued) are finished before it ends, not cut short.
            if let Some(service) = self.client.local_service()
                && !rt.block_on(service.prints_idle(std::time::Duration::from_secs(60)))
            {
                say!(
                    "packline: print jobs were still being sent when this command ended: packline prints shows them"
                );
            }
            rt.shutdown_timeout(std::time::Duration::from_secs(5));
        }
        if let Some(service) = self.client.local_service()
            && let Err(e) = service.with_store(|s| s.flush())
        {
            tracing::error!("flushing the store: {e}");
            say!("packline: the store could not be flushed: {e}");
        }
    }
}

/// Closes the store of a service no longer used, checkpointing it (sled replays at its next
/// open every log entry written since this one: a day's work, or a bulk import, would slow the
/// next start).
pub fn checkpoint(service: Arc<Service>, why: &str) -> Result<()> {
    match service.into_store_within(std::time::Duration::from_secs(5)) {
        Ok(store) => {
            let started = std::time::Instant::now();
            drop(store.checkpoint()?);
            tracing::info!(
                ms = started.elapsed().as_millis() as u64,
                "checkpoint {why}"
            );
        }
        Err(_) => tracing::warn!("the store was still in use {why}: no checkpoint"),
    }
    Ok(())
}

impl Ctx {
    /// The site's store, where the config says it lives.
    pub fn open_store(&self) -> Result<Store> {
        Store::open_in(&self.data_dir, &self.location).with_context(|| {
            format!(
                "opening the store in {}",
                self.location.shown(&self.data_dir)
            )
        })
    }

    /// A session: the running daemon if one serves this site's socket (it checks the caller's
    /// role from the socket's peer credentials), else the service in this process with the
    /// store opened here, Amazon connected when credentials are configured.
    pub fn session(&self, key: Key) -> Result<Session> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .context("starting the async runtime")?;
        let path = self.cfg.service.socket_path();
        if path.exists() {
            match rt.block_on(Client::connect(&path)) {
                Ok(client) => {
                    return Ok(Session {
                        rt: Some(rt),
                        client,
                    });
                }
                Err(e) => tracing::info!(socket = %path.display(), "no daemon: {e}"),
            }
        }
        let service = self.local_service(key)?;
        let client = Client::local(service, &self.user)?;
        Ok(Session {
            rt: Some(rt),
            client,
        })
    }

    /// The service in this process.
    fn local_service(&self, key: Key) -> Result<Arc<Service>> {
        let settings = Settings::from_config(&self.cfg, &self.user).map_err(anyhow::Error::msg)?;
        let mut store = self.open_store()?;
        match key {
            Key::Needed => self.try_unlock(&mut store, true)?,
            Key::Import(what) => {
                if let Err(e) = self.try_unlock(&mut store, false) {
                    tracing::warn!("{what} runs locked: {e:#}");
                    say!(
                        "packline: warning: {what} locked ({e:#}); names are indexed at the next unlock"
                    );
                }
            }
            Key::IfToHand => {
                if let Err(e) = self.try_unlock(&mut store, false) {
                    tracing::info!("sealed notes stay sealed: {e:#}");
                }
            }
            Key::No => {}
        }
        let service = Service::new(store, settings);
        match credentials(&self.cfg) {
            Ok(creds) => {
                let endpoint = self.cfg.amazon.endpoint().map_err(anyhow::Error::msg)?;
                service.set_amazon(Arc::new(
                    packline::amazon::client::SpApi::new(
                        &endpoint,
                        &self.cfg.amazon.token_url(),
                        creds,
                        self.cfg.amazon.request_timeout(),
                    )?
                    .with_shipping_business(self.cfg.shipping_business()),
                ));
            }
            Err(e) => tracing::info!("no Amazon connection: {e:#}"),
        }
        Ok(service)
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

    /// Unlocks the store when a master key is to hand; leaves it locked otherwise.
    pub fn try_unlock(&self, store: &mut Store, prompt: bool) -> Result<()> {
        if let Some(src) = self.master_source(store, prompt)? {
            let indexed = store.unlock(&src)?;
            if indexed > 0 {
                tracing::info!(indexed, "indexed names of orders imported while locked");
            }
        }
        Ok(())
    }
}

pub fn read_passphrase_file(path: &Path) -> Result<age::secrecy::SecretString> {
    let text = zeroize::Zeroizing::new(
        packline::files::read_regular_to_string(path)
            .with_context(|| format!("reading passphrase file {}", path.display()))?,
    );
    let pass = text.trim_end_matches(['\r', '\n']);
    if pass.is_empty() {
        bail!("passphrase file {} is empty", path.display());
    }
    Ok(pass.to_owned().into())
}

/// Runs one operation in a session of its own (with the key `key` asks for) and prints its
/// answer.
pub fn one<O: packline::service::Operation>(
    ctx: &Ctx,
    key: Key,
    op: O,
    out: Output,
    text: impl FnOnce(&mut dyn std::io::Write, &O::Answer) -> std::io::Result<()>,
) -> Result<ExitCode> {
    let s = ctx.session(key)?;
    let answer = s.call(op)?;
    s.finish()?;
    emit(out, &answer, text)
}

/// The text of an answer that is only "done".
pub fn done(w: &mut dyn std::io::Write, _: &()) -> std::io::Result<()> {
    writeln!(w, "done")
}

/// A text argument as typed, or read from standard input when it is `-` (out of the process
/// list and the shell history), in memory that is wiped when dropped.
pub fn text_arg(arg: String, flag: &str) -> Result<zeroize::Zeroizing<String>> {
    use std::io::Read as _;
    if arg != "-" {
        return Ok(zeroize::Zeroizing::new(arg));
    }
    let mut s = zeroize::Zeroizing::new(String::new());
    std::io::stdin()
        .read_to_string(&mut s)
        .with_context(|| format!("reading {flag} from standard input"))?;
    Ok(s)
}

/// Prints an answer: as JSON with `--json`, else as the text `text` writes.
pub fn emit<T: Serialize>(
    out: Output,
    answer: &T,
    text: impl FnOnce(&mut dyn std::io::Write, &T) -> std::io::Result<()>,
) -> Result<ExitCode> {
    let mut stdout = std::io::stdout().lock();
    if out.json {
        // An operation that answers nothing but success says so.
        match serde_json::to_value(answer)? {
            serde_json::Value::Null => json_out(&mut stdout, &schema::Done { ok: true })?,
            v => json_out(&mut stdout, &v)?,
        }
    } else {
        text(&mut stdout, answer)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// One JSON document on standard output: indented for a person at a terminal, on one line for
/// a program reading a pipe (one document a line), as docs/json.md says.
pub fn json_out(w: &mut impl std::io::Write, v: &impl Serialize) -> Result<()> {
    if std::io::stdout().is_terminal() {
        serde_json::to_writer_pretty(&mut *w, v)?;
    } else {
        serde_json::to_writer(&mut *w, v)?;
    }
    writeln!(w)?;
    Ok(())
}

/// Writes the man page of `cmd` and of each of its subcommands (not `help`) into `dir`.
fn write_man_pages(cmd: &clap::Command, dir: &Path, written: &mut usize) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let name = cmd.get_display_name().unwrap_or(cmd.get_name()).to_owned();
    let path = dir.join(format!("{name}.1"));
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut page)?;
    std::fs::write(&path, page).with_context(|| format!("writing {}", path.display()))?;
    *written += 1;
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        write_man_pages(sub, dir, written)?;
    }
    Ok(())
}

/// `--json` where a command also takes `--format`: the same as `--format json`.
fn json_or(json: bool, format: &str) -> &str {
    if json { "json" } else { format }
}

/// Runs one command.
pub fn dispatch(cli: Cli, ctx: Ctx) -> Result<ExitCode> {
    match cli.command.unwrap_or(Command::Tui) {
        Command::Tui => run::tui(&ctx),
        Command::Demo { orders, seed } => run::demo(&ctx, orders, seed),
        Command::Serve { socket } => run::serve(&ctx, socket),
        Command::Marketplace(args) => run::marketplace(args),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            // Written whole, then sent: a reader that stops early (`| head`) ends it quietly.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cmd, "packline", &mut script);
            std::io::Write::write_all(&mut std::io::stdout(), &script)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Manpage { dir: None } => {
            let cmd = <Cli as clap::CommandFactory>::command();
            clap_mangen::Man::new(cmd).render(&mut std::io::stdout())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Manpage { dir: Some(dir) } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            // Each subcommand's page is named and titled by its whole path (`packline-orders-list`).
            cmd.build();
            let mut written = 0usize;
            write_man_pages(&cmd, &dir, &mut written)?;
            say!("wrote {written} man pages to {}", dir.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Keys { command } => keys::run(&ctx, command),
        Command::Import { files, out } => records::import(&ctx, &files, out),
        Command::Orders { command } => orders::orders(&ctx, command),
        Command::Lookup(args) => orders::lookup(&ctx, args),
        Command::Purge { as_of, out } => records::purge(&ctx, as_of.as_deref(), out),
        Command::Audit { command } => audit::run(&ctx, command),
        Command::Check { out } => records::check(&ctx, out),
        Command::Dashboard { out } => lead::dashboard(&ctx, out),
        Command::Metrics { out } => lead::metrics(&ctx, out),
        Command::Access {
            command: args::AccessCommand::Review { format, json },
        } => lead::access_review(&ctx, json_or(json, &format)),
        Command::Backup { dir, out } => records::backup(&ctx, &dir, out),
        Command::Restore { dir, out } => records::restore(&ctx, &dir, out),
        Command::Store { command } => records::store(&ctx, command),
        Command::Report {
            from,
            to,
            by,
            format,
            json,
            output,
            all_sites,
        } => lead::report(
            &ctx,
            from,
            to,
            &by,
            all_sites,
            json_or(json, &format),
            output.as_deref(),
        ),
        Command::Sync {
            command: Some(args::SyncCommand::Problems { out }),
            ..
        } => records::sync_problems(&ctx, out),
        Command::Sync {
            command: None,
            once,
            backlog,
            out,
        } => records::sync(&ctx, once, backlog, out),
        Command::Pick { command } => floor::pick(&ctx, command),
        Command::Pack { command } => floor::pack(&ctx, command),
        Command::Exceptions { command } => floor::exceptions(&ctx, command),
        Command::Inquiry { command } => inquiries::run(&ctx, command),
        Command::Returns { command } => returns::run(&ctx, command),
        Command::Message {
            order,
            kind,
            text,
            out,
        } => messages::send(&ctx, order, kind, text, out),
        Command::Slip {
            order,
            printer,
            format,
            out,
        } => shipping::slip(&ctx, order, printer, &format, out),
        Command::Label { command } => shipping::label(&ctx, command),
        Command::Ship {
            order,
            carrier,
            tracking,
            out,
        } => shipping::ship(&ctx, order, carrier, tracking, out),
        Command::Manifest {
            date,
            format,
            json,
            close,
        } => shipping::manifest(&ctx, date, json_or(json, &format), close),
        Command::Prints {
            command,
            failed,
            out,
        } => prints::run(&ctx, command, failed, out),
    }
}

/// LWA credentials: the environment first, else `[amazon] credentials_file` (mode 0600).
pub fn credentials(cfg: &Config) -> Result<packline::amazon::client::Credentials> {
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
        packline::files::read_regular_to_string(path)
            .with_context(|| format!("reading {}", path.display()))?,
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
