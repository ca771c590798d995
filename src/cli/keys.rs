//! `packline keys`: init (before any service exists, so it writes the keyring itself), and
//! show, rotate, unlock and lock through the service.

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use chrono::Utc;

use packline::service::Passphrase;
use packline::service::ops::{KeysRotate, KeysShow, Lock, Unlock};
use packline::store::{MasterSource, Store};

use super::args::KeysCommand;
use super::{Ctx, Key, emit, read_passphrase_file};

pub fn run(ctx: &Ctx, command: KeysCommand) -> Result<ExitCode> {
    match command {
        KeysCommand::Init { identity_file } => init(ctx, identity_file),
        KeysCommand::Show { out } => {
            let s = ctx.session(Key::No)?;
            let ring = s.call(KeysShow {})?;
            s.finish()?;
            emit(out, &ring, |w, ring| {
                writeln!(w, "master recipient: {}", ring.master_recipient)?;
                writeln!(w, "protection: {:?}", ring.protection)?;
                for e in &ring.epochs {
                    writeln!(
                        w,
                        "epoch {:>4}  {:<20} created {}",
                        e.id,
                        e.label,
                        e.created.to_rfc3339()
                    )?;
                }
                writeln!(w, "shredded epochs: {}", ring.shredded)
            })
        }
        KeysCommand::Rotate { out } => {
            let s = ctx.session(Key::No)?;
            let e = s.call(KeysRotate {})?;
            s.finish()?;
            emit(out, &e, |w, e| {
                writeln!(w, "new key epoch {} ({})", e.id, e.label)
            })
        }
        KeysCommand::Unlock => {
            let s = daemon(ctx)?;
            let pass = match &ctx.passphrase_file {
                Some(p) => read_passphrase_file(p)?,
                None => rpassword::prompt_password("Master passphrase: ")
                    .context("reading the passphrase from the terminal")?
                    .into(),
            };
            use age::secrecy::ExposeSecret as _;
            let passphrase = Passphrase(pass.expose_secret().to_owned());
            s.call(Unlock { passphrase })?;
            writeln!(std::io::stdout(), "daemon unlocked")?;
            Ok(ExitCode::SUCCESS)
        }
        KeysCommand::Lock => {
            daemon(ctx)?.call(Lock {})?;
            writeln!(std::io::stdout(), "daemon locked")?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Unlock and lock speak to a running daemon (other commands unlock for themselves).
fn daemon(ctx: &Ctx) -> Result<super::Session> {
    let path = ctx.cfg.service.socket_path();
    let s = if path.exists() {
        Some(ctx.session(Key::No)?)
    } else {
        None
    };
    match s {
        Some(s) if !s.client.is_local() => Ok(s),
        _ => bail!(
            "no packline daemon is running on {}: `keys unlock` and `keys lock` act on a daemon; other commands unlock with --passphrase-file or at the prompt",
            path.display()
        ),
    }
}

/// Creates the site's master key and first epoch. No service runs yet: there is no store to
/// serve. The keyring file is new, so nothing can be overwritten.
fn init(ctx: &Ctx, identity_file: Option<std::path::PathBuf>) -> Result<ExitCode> {
    // No service runs before the keys exist: the config's roles decide, as the service would.
    match ctx.cfg.role_of(&ctx.user, &ctx.user) {
        Some(packline::service::Role::Lead) => {}
        Some(role) => bail!(
            "managing keys is for a lead or above; {} is a {}",
            ctx.user,
            role.name()
        ),
        None => bail!(
            "user {} has no role in packline: ask a lead to add you under [roles] in the config",
            ctx.user
        ),
    }
    let source = match (identity_file, &ctx.passphrase_file) {
        (Some(_), Some(_)) => {
            bail!("keys init takes --identity-file PATH or --passphrase-file PATH, not both")
        }
        (Some(p), None) => MasterSource::IdentityFile(p),
        (None, Some(p)) => MasterSource::Passphrase(read_passphrase_file(p)?),
        (None, None) => bail!("keys init needs --identity-file PATH or --passphrase-file PATH"),
    };
    let recipient =
        Store::init_keys_in(&ctx.data_dir, &ctx.location, &source, &ctx.user, Utc::now())?;
    tracing::info!(%recipient, "keys initialised");
    let mut out = std::io::stdout().lock();
    writeln!(out, "master recipient: {recipient}")?;
    if let MasterSource::IdentityFile(p) = &source {
        writeln!(
            out,
            "master identity written to {} (mode 0600): keep a copy offline; without it, sealed data cannot be read",
            p.display()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
