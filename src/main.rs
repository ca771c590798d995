//! The `packline` command line: parses the arguments, reads the config, starts logging, and
//! hands over to `cli/`, where each command group builds its operations and prints the
//! answers. Errors go to stderr with what is wrong, where, and what to do; logs go to the log
//! file, never to the terminal.
//!
//! A reader that goes away (`packline orders list | head`) is not an error: the command ends
//! quietly, status 0 and nothing on stderr, as if it had finished. So nothing here writes to
//! stdout with `print!`/`println!` (which panic on a closed pipe): every write goes through
//! `std::io::Write`, and its `BrokenPipe` reaches `main` as an error that `broken_pipe` knows.
//! The same holds for stderr (`packline sync 2>&1 | head`): messages go through `say!`, which
//! drops what a closed stderr cannot take instead of panicking as `eprintln!` does.
#![deny(clippy::print_stdout, clippy::print_stderr)]

/// A line (or, as `say!(inline: …)`, a part of one) for the person at the terminal, on stderr;
/// lost, not a panic, when stderr is gone.
macro_rules! say {
    (inline: $($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr(), $($arg)*);
    }};
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod cli;

use std::process::ExitCode;

use anyhow::Result;

use packline::config::Config;

// sled allocates and frees node copies at a high rate; glibc's allocator fragments under that load
// (a third of import time in profiles), mimalloc does not.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    no_core_dumps();
    let cli = cli::args::Cli::parse_here();
    match run(cli) {
        Ok(code) => code,
        // A reader that stopped early (`packline orders list | head`) is not an error.
        Err(e) if e.chain().any(broken_pipe) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            if json_asked() {
                say!("{}", error_json(&e));
            } else {
                // The chain is joined with ": "; a message of several lines (a TOML parse
                // error, with its caret under the column) keeps them.
                say!("packline: {e:#}");
            }
            ExitCode::FAILURE
        }
    }
}

/// Whether the command line asks for JSON (`--json`, `--json-lines`, `--format json`): its
/// errors are then JSON too.
fn json_asked() -> bool {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .any(|a| a == "--json" || a == "--json-lines" || a == "--format=json")
        || args
            .windows(2)
            .any(|w| w[0] == "--format" && w[1] == "json")
}

/// An error as one line of JSON: `{"error": {"kind": …, "message": …}}`. The kind is the
/// service's refusal (`forbidden`, `not_found`, `invalid`, `conflict`, `wrong_scan`, `on_hold`,
/// `locked`, `no_space`, …), `config` for the config file, `usage` for the command line, and
/// `failed` for anything else.
fn error_json(e: &anyhow::Error) -> String {
    let kind = e
        .chain()
        .find_map(|c| {
            c.downcast_ref::<packline::service::ServiceError>()
                .map(packline::service::ServiceError::kind)
                .or_else(|| {
                    c.downcast_ref::<packline::config::ConfigError>()
                        .map(|_| "config")
                })
        })
        .unwrap_or("failed");
    cli::schema::ErrorAnswer::line(kind, format!("{e:#}"))
}

/// Whether an error is a write to a reader that went away (an I/O error, or one that JSON
/// output wraps).
fn broken_pipe(e: &(dyn std::error::Error + 'static)) -> bool {
    let pipe = Some(std::io::ErrorKind::BrokenPipe);
    e.downcast_ref::<std::io::Error>().map(std::io::Error::kind) == pipe
        || e.downcast_ref::<serde_json::Error>()
            .and_then(serde_json::Error::io_error_kind)
            == pipe
}

/// Who is running this command, as the OS knows them.
fn os_user() -> String {
    let uid = nix::unistd::getuid();
    match nix::unistd::User::from_uid(uid) {
        Ok(Some(u)) => u.name,
        _ => format!("uid:{uid}"),
    }
}

fn run(cli: cli::args::Cli) -> Result<ExitCode> {
    let cfg = Config::load(cli.config.as_deref())?;
    init_logging(&cfg);
    let ctx = cli::Ctx {
        data_dir: cfg.data_dir(cli.data_dir.as_deref()),
        location: cfg
            .store
            .location()
            .map_err(anyhow::Error::msg)?
            .for_site(&cfg.site.name().map_err(anyhow::Error::msg)?),
        passphrase_file: cli.passphrase_file.clone(),
        user: os_user(),
        cfg,
    };
    cli::dispatch(cli, ctx)
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
        Err(e) => say!(
            "packline: warning: cannot open log file {}: {e}; logging is off",
            path.display()
        ),
    }
}

/// A crash must not leave revealed recipients or the master key in a core file: no core dumps,
/// and the process is not dumpable (nor traceable by other processes of the same user).
fn no_core_dumps() {
    use nix::sys::resource::{Resource, setrlimit};
    if let Err(e) = setrlimit(Resource::RLIMIT_CORE, 0, 0) {
        say!("packline: warning: core dumps could not be turned off: {e}");
    }
    if let Err(e) = nix::sys::prctl::set_dumpable(false) {
        say!("packline: warning: the process could not be made undumpable: {e}");
    }
}
