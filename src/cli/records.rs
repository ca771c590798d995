//! `packline import`, `sync`, `purge`, `check`, `backup`, `restore` and `store`: the store's
//! records as a whole, through the service like everything else.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};

use packline::domain::text::escape_hazards;
use packline::service::ops::{ImportOrders, Purge, SyncOrders, SyncProblems};
use packline::service::{Notice, RawPage};
use packline::store::{ImportCounts, PurgeReport};

use super::args::Output;
use super::{Ctx, Key, emit};

pub fn import(ctx: &Ctx, files: &[PathBuf], out: Output) -> Result<ExitCode> {
    // Every file is parsed before anything is stored: one bad file changes nothing. (The
    // service parses each page again as it imports it.)
    let mut pages = Vec::new();
    for f in files {
        let text =
            std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
        let name = f.display().to_string();
        packline::amazon::parse_search_orders(text.as_bytes(), &name)?;
        pages.push((name, RawPage(text)));
    }
    let s = ctx.session(Key::Import("importing"))?;
    let mut total = ImportCounts::default();
    for (file, page) in pages {
        total += s.call(ImportOrders { file, page })?;
    }
    s.finish()?;
    tracing::info!(?total, files = files.len(), "import");
    emit(out, &total, |w, c| {
        writeln!(w, "imported {} new, {} updated", c.new, c.updated)?;
        if c.cancelled > 0 {
            writeln!(w, "{} cancelled at Amazon", c.cancelled)?;
        }
        if c.held > 0 {
            writeln!(w, "{} held: the buyer asked to cancel", c.held)?;
        }
        if c.skipped > 0 {
            writeln!(
                w,
                "{} skipped (fulfilled by Amazon, pending at Amazon, or already closed)",
                c.skipped
            )?;
        }
        print_set_aside(w, c)
    })
}

/// The orders an import or a sync set aside, each by id (or place) with why.
fn print_set_aside(w: &mut dyn std::io::Write, c: &ImportCounts) -> std::io::Result<()> {
    if c.set_aside.is_empty() {
        return Ok(());
    }
    writeln!(
        w,
        "{} set aside, the rest imported (each sync asks Amazon for them again; `packline sync problems` lists them):",
        c.set_aside.len()
    )?;
    for r in &c.set_aside {
        writeln!(
            w,
            "  {}: {}",
            escape_hazards(&r.order),
            escape_hazards(&r.reason)
        )?;
    }
    Ok(())
}

/// A wait as minutes and seconds: `2m 58s`, `40s`.
fn minutes_secs(secs: u64) -> String {
    match (secs / 60, secs % 60) {
        (0, s) => format!("{s}s"),
        (m, s) => format!("{m}m {s:02}s"),
    }
}

/// `packline sync problems`: the orders set aside.
pub fn sync_problems(ctx: &Ctx, out: Output) -> Result<ExitCode> {
    super::one(ctx, Key::No, SyncProblems {}, out, |w, rows| {
        if rows.is_empty() {
            return writeln!(w, "no order is set aside");
        }
        writeln!(
            w,
            "{:<20} {:<20} {:>5}  {:<12} why",
            "order", "since", "times", "from"
        )?;
        for r in rows {
            writeln!(
                w,
                "{:<20} {:<20} {:>5}  {:<12} {}",
                r.order,
                r.since.format("%Y-%m-%d %H:%M UTC"),
                r.times,
                escape_hazards(&r.source),
                escape_hazards(&r.reason)
            )?;
        }
        Ok(())
    })
}

fn parse_time(s: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(Into::into)
        .with_context(|| {
            format!("--as-of {s:?} is not an RFC 3339 time such as 2026-12-31T00:00:00Z")
        })
}

pub fn purge(ctx: &Ctx, as_of: Option<&str>, out: Output) -> Result<ExitCode> {
    let as_of = as_of.map(parse_time).transpose()?;
    let s = ctx.session(Key::Needed)?;
    let report = s.call(Purge { as_of })?;
    s.finish()?;
    if report.epochs_kept_locked > 0 {
        say!(
            "packline: {} key epoch(s) hold expired data but also addresses still needed; \
             they are kept until a purge runs unlocked (give the master key: --passphrase-file \
             or [keys] identity_file)",
            report.epochs_kept_locked
        );
    }
    emit(out, &report, print_purge)
}

fn print_purge(w: &mut dyn std::io::Write, r: &PurgeReport) -> std::io::Result<()> {
    writeln!(w, "recipients destroyed: {}", r.recipients_destroyed)?;
    writeln!(w, "orders deleted: {}", r.orders_deleted)?;
    writeln!(w, "exception notes deleted: {}", r.exception_notes_deleted)?;
    writeln!(w, "inquiries deleted: {}", r.inquiries_deleted)?;
    writeln!(w, "returns deleted: {}", r.returns_deleted)?;
    writeln!(w, "backups deleted: {}", r.backups_pruned)?;
    writeln!(w, "recipients re-sealed: {}", r.recipients_resealed)?;
    if r.labels_resealed > 0 {
        writeln!(w, "labels re-sealed: {}", r.labels_resealed)?;
    }
    if r.sealed_notes_deleted > 0 || r.sealed_notes_resealed > 0 {
        writeln!(w, "sealed notes deleted: {}", r.sealed_notes_deleted)?;
        writeln!(w, "sealed notes re-sealed: {}", r.sealed_notes_resealed)?;
    }
    if r.inquiry_notes_resealed > 0 {
        writeln!(w, "inquiry notes re-sealed: {}", r.inquiry_notes_resealed)?;
    }
    if r.day_records_deleted > 0 {
        writeln!(
            w,
            "day records deleted (manifest marks, collection forms): {}",
            r.day_records_deleted
        )?;
    }
    writeln!(w, "key epochs shredded: {}", r.epochs_shredded)?;
    if r.orphans_removed > 0 {
        writeln!(w, "orphaned entries removed: {}", r.orphans_removed)?;
    }
    if r.epochs_kept_locked > 0 {
        writeln!(
            w,
            "key epochs kept (store locked): {}",
            r.epochs_kept_locked
        )?;
    }
    Ok(())
}

/// One sync now (through the daemon when one runs, which then syncs on its own schedule
/// too), or with no `--once` a sync every five minutes until stopped. With `backlog`, the first
/// sync takes the actionable-orders report.
pub fn sync(ctx: &Ctx, once: bool, mut backlog: bool, out: Output) -> Result<ExitCode> {
    let s = ctx.session(Key::Import("syncing"))?;
    if s.client.is_local() {
        // Say what is wrong with the credentials, not only that there is no connection.
        super::credentials(&ctx.cfg)?;
    }
    let tty = std::io::stderr().is_terminal();
    loop {
        // Progress comes as notices while the sync runs.
        let notices = s.client.clone();
        let progress = s.rt().spawn(async move {
            while let Some(n) = notices.notice().await {
                if let Notice::SyncProgress {
                    pages,
                    new,
                    updated,
                    cancelled,
                    waiting_secs,
                } = n
                {
                    let done = format!(
                        "page {pages}: {new} new, {updated} updated, {cancelled} cancelled"
                    );
                    match (tty, waiting_secs) {
                        // On a terminal, the line says what the sync waits for and how long
                        // (`\x1b[K` clears what a longer line left).
                        (true, Some(w)) => say!(inline:
                            "\r{done}; waiting {} for Amazon's quota\x1b[K",
                            minutes_secs(w)
                        ),
                        (true, None) => say!(inline: "\r{done}\x1b[K"),
                        (false, Some(_)) => {}
                        (false, None) => say!("{done}"),
                    }
                }
            }
        });
        let result = s.call(SyncOrders {
            backlog: std::mem::take(&mut backlog),
        });
        progress.abort();
        if tty {
            say!();
        }
        let c = result?;
        emit(out, &c, |w, c| {
            writeln!(
                w,
                "imported {} new, {} updated, {} cancelled",
                c.new, c.updated, c.cancelled
            )?;
            if c.held > 0 {
                writeln!(w, "{} held: the buyer asked to cancel", c.held)?;
            }
            print_set_aside(w, c)
        })?;
        if once {
            s.finish()?;
            return Ok(ExitCode::SUCCESS);
        }
        // searchOrders refills one request every 180 s; a round a few minutes apart stays within it.
        std::thread::sleep(std::time::Duration::from_secs(300));
    }
}

/// `packline backup DIR`: through the service, which writes it.
pub fn backup(ctx: &Ctx, dir: &std::path::Path, out: Output) -> Result<ExitCode> {
    let dir = std::path::absolute(dir).with_context(|| format!("the path {}", dir.display()))?;
    let s = ctx.session(Key::No)?;
    let b = s.call(packline::service::ops::Backup {
        dir: dir.display().to_string(),
    })?;
    s.finish()?;
    emit(out, &b, |w, b| {
        writeln!(
            w,
            "backup of {} order(s) ({} entries, {} bytes) in {}",
            b.orders,
            b.entries,
            b.bytes,
            b.dir.display()
        )
    })
}

/// `packline restore DIR`: into the configured data directory, which must hold no store.
pub fn restore(ctx: &Ctx, dir: &std::path::Path, out: Output) -> Result<ExitCode> {
    if let packline::store::Location::Postgres(t) = &ctx.location {
        anyhow::bail!(
            "this site's store is in PostgreSQL ({t}): restore that database from PostgreSQL's \
             own backups, or restore this backup into an empty data directory on sled \
             (without [store] url) and move it with `packline store migrate --to URL`"
        );
    }
    let r = packline::store::backup::restore(dir, &ctx.data_dir, Utc::now())?;
    emit(out, &r, |w, r| {
        writeln!(
            w,
            "restored {} order(s) ({} entries) from the backup of {} into {}; run packline check",
            r.orders,
            r.entries,
            r.created.to_rfc3339(),
            r.dir.display()
        )
    })
}

/// `packline store migrate --to URL`: the sled store checked, copied into PostgreSQL, and the
/// copy checked (its orders, recipients, audit entries and returns the same, no problem found).
pub fn store(ctx: &Ctx, command: super::args::StoreCommand) -> Result<ExitCode> {
    use packline::store::backend::postgres::Target;
    use packline::store::{Location, Store};
    let super::args::StoreCommand::Migrate { to, ca_file, out } = command;
    if let Location::Postgres(t) = &ctx.location {
        anyhow::bail!(
            "this site's store is already in PostgreSQL ({t}): `store migrate` moves a store \
             from the data directory's sled"
        );
    }
    // Into this site's trees of the database (`[site] name`).
    let target =
        Target::new(to, ca_file).for_site(&ctx.cfg.site.name().map_err(anyhow::Error::msg)?);
    let store = Store::open(&ctx.data_dir)
        .with_context(|| format!("opening the store in {}", ctx.data_dir.display()))?;
    let before = store.check()?;
    if !before.problems.is_empty() {
        anyhow::bail!(
            "`packline check` finds {} problem(s) in the store in {}: nothing was moved. Run \
             packline check, settle them, then migrate",
            before.problems.len(),
            ctx.data_dir.display()
        );
    }
    let moved = store.copy_to_postgres(&target, &ctx.user, Utc::now())?;
    drop(store);
    let copy = Store::open_in(&ctx.data_dir, &Location::Postgres(target.clone()))
        .with_context(|| format!("opening the copy in {target}"))?;
    let after = copy.check()?;
    let same = (before.orders, before.sealed_recipients, before.returns)
        == (after.orders, after.sealed_recipients, after.returns)
        // The copy's log holds one entry more: the move itself.
        && after.audit_entries == before.audit_entries + 1;
    if !after.problems.is_empty() || !same {
        anyhow::bail!(
            "the copy in {target} does not check out ({} problem(s); orders {} → {}, \
             recipients {} → {}, audit entries {} → {}): keep running on sled, and see \
             `packline check` with [store] url set to it",
            after.problems.len(),
            before.orders,
            after.orders,
            before.sealed_recipients,
            after.sealed_recipients,
            before.audit_entries,
            after.audit_entries
        );
    }
    emit(out, &moved, |w, m| {
        writeln!(
            w,
            "moved {} entries in {} trees to {}; checked on both ends: {} order(s), {} sealed \
             recipient(s), {} audit entries, no problem.\nNext: set [store] backend = \"postgres\" \
             and url in the config (or PACKLINE_STORE_URL), start the site, then remove {} once \
             it runs",
            m.entries,
            m.trees,
            m.to,
            after.orders,
            after.sealed_recipients,
            after.audit_entries,
            ctx.data_dir.join(packline::store::DB_DIR).display()
        )
    })
}

pub fn check(ctx: &Ctx, out: Output) -> Result<ExitCode> {
    let s = ctx.session(Key::No)?;
    let r = s.call(packline::service::ops::Check {})?;
    s.finish()?;
    emit(out, &r, |w, r| {
        writeln!(
            w,
            "read {} orders, {} sealed recipients, {} open pick batches, {} audit entries",
            r.orders, r.sealed_recipients, r.open_batches, r.audit_entries
        )?;
        for i in &r.invariants {
            match i.broken {
                0 => writeln!(w, "holds: {} ({})", i.name, i.statement)?,
                n => writeln!(w, "BROKEN ({n}): {} ({})", i.name, i.statement)?,
            }
        }
        if r.problems.is_empty() {
            return writeln!(w, "no problem found");
        }
        for p in &r.problems {
            writeln!(
                w,
                "{}: {}\n  what to do: {}",
                p.part,
                escape_hazards(&p.detail),
                p.advice
            )?;
        }
        Ok(())
    })?;
    Ok(if r.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
