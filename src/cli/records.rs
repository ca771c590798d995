//! `packline import`, `purge`, `audit verify` and `sync`: the store's records as a whole,
//! through the service like everything else.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};

use packline::domain::text::escape_hazards;
use packline::service::ops::{Import, Purge, Sync, SyncProblems};
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
        total += s.call(Import { file, page })?;
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
        let result = s.call(Sync {
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

/// `packline report`: the report as a table, CSV, JSON or a PNG chart, to standard output or
/// `--output FILE`.
pub fn report(
    ctx: &Ctx,
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
    by: &str,
    all_sites: bool,
    format: &str,
    output: Option<&std::path::Path>,
) -> Result<ExitCode> {
    use packline::domain::report::By;
    use std::io::{IsTerminal, Write as _};
    let by = By::parse(by).context("--by takes sku, day or sku-day")?;
    if format == "png" && output.is_none() && std::io::stdout().is_terminal() {
        anyhow::bail!(
            "the PNG chart goes to a file: give --output FILE or redirect (> report.png)"
        );
    }
    if format == "png" && all_sites {
        anyhow::bail!("the PNG chart is one site's: leave out --all-sites, or use --format csv");
    }
    let s = ctx.session(Key::No)?;
    if all_sites {
        let mut reports = Vec::new();
        for site in s.call(packline::service::ops::Sites {})? {
            let report = s.call(packline::service::ops::Report {
                from,
                to,
                by,
                site: Some(site.clone()),
            })?;
            reports.push(SiteReport { site, report });
        }
        s.finish()?;
        let mut bytes = Vec::new();
        match format {
            "json" => super::json_out(&mut bytes, &reports)?,
            "csv" => {
                for (i, r) in reports.iter().enumerate() {
                    let csv = String::from_utf8(report_csv(&r.report)?)?;
                    for (j, line) in csv.lines().enumerate() {
                        match (i, j) {
                            (0, 0) => writeln!(bytes, "site,{line}")?,
                            (_, 0) => {}
                            _ => writeln!(bytes, "{},{line}", r.site)?,
                        }
                    }
                }
            }
            _ => {
                for r in &reports {
                    writeln!(bytes, "site {}", r.site)?;
                    bytes.extend_from_slice(report_table(&r.report).as_bytes());
                    writeln!(bytes)?;
                }
            }
        }
        match output {
            Some(path) => std::fs::write(path, &bytes)
                .with_context(|| format!("writing the report to {}", path.display()))?,
            None => std::io::stdout().lock().write_all(&bytes)?,
        }
        return Ok(ExitCode::SUCCESS);
    }
    let r = s.call(packline::service::ops::Report {
        from,
        to,
        by,
        site: None,
    })?;
    s.finish()?;
    let bytes = match format {
        "json" => {
            let mut v = Vec::new();
            super::json_out(&mut v, &r)?;
            v
        }
        "png" => packline::labels::chart::png(&r),
        "csv" => report_csv(&r)?,
        _ => report_table(&r).into_bytes(),
    };
    match output {
        Some(path) => std::fs::write(path, &bytes)
            .with_context(|| format!("writing the report to {}", path.display()))?,
        None => std::io::stdout().lock().write_all(&bytes)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// One site's report, in `report --all-sites --json`.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct SiteReport {
    site: String,
    report: packline::domain::report::Report,
}

const REPORT_COLUMNS: [&str; 16] = [
    "orders_shipped",
    "units_shipped",
    "late_shipments",
    "short_picks",
    "exceptions",
    "holds",
    "labels_bought",
    "labels_voided",
    "returns_expected",
    "returns_received",
    "returns_restocked",
    "returns_damaged",
    "returns_wrong_item",
    "returns_missing",
    "packages_delivered",
    "late_deliveries",
];

fn report_figures(f: &packline::domain::report::Figures) -> [u64; 16] {
    [
        f.orders_shipped,
        f.units_shipped,
        f.late_shipments,
        f.short_picks,
        f.exceptions,
        f.holds,
        f.labels_bought,
        f.labels_voided,
        f.returns_expected,
        f.returns_received,
        f.returns_restocked,
        f.returns_damaged,
        f.returns_wrong_item,
        f.returns_missing,
        f.packages_delivered,
        f.late_deliveries,
    ]
}

/// One row per group: day and SKU as plain fields, then the figures.
fn report_csv(r: &packline::domain::report::Report) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["day", "sku"];
    header.extend(REPORT_COLUMNS);
    w.write_record(&header)?;
    for row in &r.rows {
        let mut rec = vec![
            row.day.map(|d| d.to_string()).unwrap_or_default(),
            row.sku.clone().unwrap_or_default(),
        ];
        rec.extend(report_figures(&row.figures).iter().map(u64::to_string));
        w.write_record(&rec)?;
    }
    w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))
}

fn report_table(r: &packline::domain::report::Report) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let t = &r.totals;
    let _ = writeln!(
        out,
        "{} to {}: {} order(s), {} unit(s) shipped, {} late ({:.1}%), {} short pick(s), {} exception(s), {} hold(s), {} label(s) bought, {} voided",
        r.from,
        r.to,
        t.orders_shipped,
        t.units_shipped,
        t.late_shipments,
        r.late_share * 100.0,
        t.short_picks,
        t.exceptions,
        t.holds,
        t.labels_bought,
        t.labels_voided
    );
    let _ = writeln!(
        out,
        "returns: {} unit(s) expected, {} received ({} restocked, {} damaged, {} wrong item, {} missing)",
        t.returns_expected,
        t.returns_received,
        t.returns_restocked,
        t.returns_damaged,
        t.returns_wrong_item,
        t.returns_missing
    );
    if t.packages_delivered > 0 {
        let _ = writeln!(
            out,
            "deliveries: {} package(s) delivered, {} after the carrier's promise",
            t.packages_delivered, t.late_deliveries
        );
    }
    for why in &r.return_reasons {
        let _ = writeln!(
            out,
            "  returned {}: {} unit(s), {}",
            escape_hazards(&why.sku),
            why.units,
            escape_hazards(&why.reason)
        );
    }
    for p in &r.postage {
        let _ = writeln!(
            out,
            "postage {}: {:.2} {} for {} label(s), {} voided",
            escape_hazards(&p.carrier),
            p.amount,
            escape_hazards(&p.currency),
            p.labels_bought,
            p.labels_voided
        );
    }
    let _ = writeln!(
        out,
        "{:<10} {:<24} {:>7} {:>7} {:>5} {:>6} {:>6} {:>6} {:>7} {:>6} {:>8}",
        "DAY",
        "SKU",
        "ORDERS",
        "UNITS",
        "LATE",
        "SHORT",
        "EXCEPT",
        "HOLDS",
        "LABELS",
        "VOIDS",
        "RETURNED"
    );
    for row in &r.rows {
        let f = report_figures(&row.figures);
        let _ = writeln!(
            out,
            "{:<10} {:<24} {:>7} {:>7} {:>5} {:>6} {:>6} {:>6} {:>7} {:>6} {:>8}",
            row.day.map_or("-".into(), |d| d.to_string()),
            row.sku.as_deref().map_or("-".into(), escape_hazards),
            f[0],
            f[1],
            f[2],
            f[3],
            f[4],
            f[5],
            f[6],
            f[7],
            f[9]
        );
    }
    out
}

pub fn access_review(ctx: &Ctx, format: &str) -> Result<ExitCode> {
    use std::io::Write as _;
    let s = ctx.session(Key::No)?;
    let r = s.call(packline::service::ops::AccessReview {})?;
    s.finish()?;
    let mut w = std::io::stdout().lock();
    if format == "json" {
        super::json_out(&mut w, &r)?;
        return Ok(ExitCode::SUCCESS);
    }
    let day = |t: Option<DateTime<Utc>>| {
        t.map_or("never".to_owned(), |t| t.format("%Y-%m-%d").to_string())
    };
    writeln!(
        w,
        "access review {} (the last: {}{})",
        r.at.format("%Y-%m-%d %H:%M UTC"),
        day(r.last_review),
        if r.overdue { ", overdue" } else { "" }
    )?;
    writeln!(
        w,
        "{:<16} {:<8} {:<11} {:>7} {:>7} {:>6} {:>5} {:>9} {:>8}",
        "USER",
        "ROLE",
        "LAST SEEN",
        "REVEALS",
        "LOOKUPS",
        "PURGES",
        "VOIDS",
        "INQUIRIES",
        "MESSAGES"
    )?;
    for u in &r.users {
        let a = &u.activity;
        writeln!(
            w,
            "{:<16} {:<8} {:<11} {:>7} {:>7} {:>6} {:>5} {:>9} {:>8}",
            escape_hazards(&u.user),
            u.role.name(),
            day(a.last_seen),
            a.reveals,
            a.name_lookups,
            a.purges,
            a.label_voids,
            a.inquiry_reads,
            a.messages_sent
        )?;
    }
    writeln!(w, "(counts over the last {} days)", r.period_days)?;
    writeln!(
        w,
        "what each did, when and why: packline audit list --user USER --since {}",
        (r.at - chrono::Duration::days(r.period_days)).format("%Y-%m-%d")
    )?;
    for u in &r.seen_without_role {
        writeln!(
            w,
            "seen without a role now: {} (remove their access)",
            escape_hazards(u)
        )?;
    }
    for u in &r.never_seen {
        writeln!(
            w,
            "has a role, never seen: {} (still needed?)",
            escape_hazards(u)
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The dashboard's view, once: the TUI's dashboard screen draws the same answer.
/// `packline metrics`: the seller's metrics, one line each with its window, the count behind
/// it, Amazon's threshold and a mark when it misses.
pub fn metrics(ctx: &Ctx, out: Output) -> Result<ExitCode> {
    let s = ctx.session(Key::No)?;
    let m = s.call(packline::service::ops::Metrics {})?;
    s.finish()?;
    emit(out, &m, |w, m| write_metrics(w, m))
}

/// The seller's metrics as text (`packline metrics`, and under `packline dashboard`).
fn write_metrics(
    w: &mut dyn std::io::Write,
    m: &packline::domain::metrics::SellerMetrics,
) -> std::io::Result<()> {
    writeln!(
        w,
        "seller's metrics of {} (from packline's own records):",
        m.today
    )?;
    for r in &m.rates {
        let mark = match r.meets {
            Some(true) => "ok",
            Some(false) if r.threshold.below => "OVER",
            Some(false) => "UNDER",
            None => "-",
        };
        let since = if r.since_counting {
            format!(
                " (counted from {}, when packline began counting it)",
                r.from
            )
        } else {
            String::new()
        };
        writeln!(
            w,
            "  {:<28} {:>2} d  {:>9}  {:>5} of {:<5} Amazon: {:<7} {mark}{since}",
            r.metric.name(),
            r.days,
            r.shown(),
            r.count,
            r.of,
            r.threshold.to_string(),
        )?;
    }
    if m.own_carrier_not_followed > 0 {
        writeln!(
            w,
            "  {} order(s) shipped by your own carrier in 30 days: packline does not follow their tracking (not in the Valid Tracking Rate)",
            m.own_carrier_not_followed
        )?;
    }
    Ok(())
}

pub fn dashboard(ctx: &Ctx, out: Output) -> Result<ExitCode> {
    let s = ctx.session(Key::No)?;
    let v = s.call(packline::service::ops::Dashboard {})?;
    s.finish()?;
    emit(out, &v, |w, v| {
        let due: u64 = v.due.hours.iter().sum();
        writeln!(
            w,
            "due: {} late, {} before the pickup at {}, {due} in the next 24 h",
            v.due.late,
            v.due.before_pickup,
            v.due
                .pickup
                .with_timezone(&chrono::Local)
                .format("%Y-%m-%d %H:%M")
        )?;
        writeln!(
            w,
            "today: {} units picked, {} packed",
            v.throughput.picked_today, v.throughput.packed_today
        )?;
        for p in &v.throughput.people {
            writeln!(
                w,
                "  {:<16} {} batches, {} picked, {} packed, {} scans refused, {} exceptions",
                escape_hazards(&p.user),
                p.batches,
                p.picked,
                p.packed,
                p.scans_refused,
                p.exceptions
            )?;
        }
        writeln!(
            w,
            "in progress: {} batches; {} holds, {} exceptions",
            v.wip.len(),
            v.holds,
            v.exceptions
        )?;
        writeln!(
            w,
            "returns today: {} unit(s) expected, {} received ({} restocked, {} damaged)",
            v.returns.expected, v.returns.received, v.returns.restocked, v.returns.damaged
        )?;
        writeln!(
            w,
            "deliveries today: {} package(s) delivered ({} late), {} on the way",
            v.deliveries.delivered, v.deliveries.late, v.deliveries.on_the_way
        )?;
        for b in &v.wip {
            writeln!(
                w,
                "  batch {:<8} {:<16} {}/{} units",
                b.batch,
                escape_hazards(&b.holder),
                b.picked,
                b.needed
            )?;
        }
        let h = &v.health;
        let sync = match (h.sync_enabled, h.last_sync) {
            (false, _) => "off".to_owned(),
            (true, Some(t)) => t.format("%Y-%m-%d %H:%M UTC").to_string(),
            (true, None) => "not yet".to_owned(),
        };
        writeln!(
            w,
            "health: store {}, sync {sync}{}, {} failed print jobs{}, last access review {}{}",
            if h.unlocked { "unlocked" } else { "locked" },
            if h.sync_failed {
                " (the last failed)"
            } else {
                ""
            },
            h.failed_prints,
            h.last_print_failure
                .as_deref()
                .map(|w| format!(" (the last {})", escape_hazards(w)))
                .unwrap_or_default(),
            h.last_review
                .map_or("never".to_owned(), |t| t.format("%Y-%m-%d").to_string()),
            if h.review_overdue { " (overdue)" } else { "" }
        )?;
        if h.set_aside > 0 {
            writeln!(
                w,
                "set aside: {} order(s) refused as they arrived (packline sync problems)",
                h.set_aside
            )?;
        }
        let next = h.next_sync.map_or(
            "none scheduled (no daemon with an Amazon connection)".to_owned(),
            |t| t.format("%Y-%m-%d %H:%M UTC").to_string(),
        );
        let quota = h
            .quota
            .map_or("unknown (no Amazon connection)".to_owned(), |q| {
                format!(
                    "{} of {} requests left{}",
                    q.whole(),
                    q.burst as u64,
                    q.refill_secs()
                        .map_or(String::new(), |s| format!(", one more every {s} s"))
                )
            });
        writeln!(w, "next sync: {next}; searchOrders quota: {quota}")?;
        match h.purge {
            Some(p) => writeln!(
                w,
                "a purge now would destroy {} recipients and delete {} order records",
                p.recipients_destroyed, p.orders_deleted
            ),
            None => writeln!(w, "the purge preview is being counted: ask again shortly"),
        }?;
        match &v.metrics {
            Some(m) => write_metrics(w, m),
            None => Ok(()),
        }
    })?;
    Ok(ExitCode::SUCCESS)
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
