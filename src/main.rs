//! The `packline` command line: parses the arguments, reads the config, starts logging, and
//! hands over to `cli/`, where each command group builds its operations and prints the
//! answers. Errors go to stderr with what is wrong, where, and what to do; logs go to the log
//! file, never to the terminal.

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
            eprintln!("packline: {e:#}");
            ExitCode::FAILURE
        }
    }
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
        location: cfg.store.location().map_err(anyhow::Error::msg)?,
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
        Err(e) => eprintln!(
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
        eprintln!("packline: warning: core dumps could not be turned off: {e}");
    }
    if let Err(e) = nix::sys::prctl::set_dumpable(false) {
        eprintln!("packline: warning: the process could not be made undumpable: {e}");
    }
}
