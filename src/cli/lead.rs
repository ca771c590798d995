//! What a lead reads of the whole floor: `packline report`, `dashboard`, `metrics` and
//! `access review`, through the service like everything else.

use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};

use packline::domain::text::escape_hazards;

use super::args::Output;
use super::{Ctx, Key, emit};

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
            let report = s.call(packline::service::ops::BuildReport {
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
    let r = s.call(packline::service::ops::BuildReport {
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
    let r = s.call(packline::service::ops::ReviewAccess {})?;
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
