//! `packline audit verify|list|export`: the audit log, checked and read by a lead. Entries hold
//! ids, actions and reasons, never personal data.

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Local, NaiveDate, TimeZone, Utc};
use packline::domain::text::escape_hazards;
use packline::service::ops::{AUDIT_PAGE_MAX, AuditList, AuditVerify};
use packline::store::audit::{AuditEntry, Filter};

use super::args::{AuditCommand, AuditFilter, Output};
use super::{Ctx, Key, emit};

pub fn run(ctx: &Ctx, command: AuditCommand) -> Result<ExitCode> {
    match command {
        AuditCommand::Verify { out } => verify(ctx, out),
        AuditCommand::List {
            filter,
            limit,
            after,
            out,
        } => list(ctx, &filter, limit, after, out),
        AuditCommand::Export { filter } => export(ctx, &filter),
    }
}

/// `audit verify`'s answer: the chain holds, over this many entries.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct Verified {
    pub entries: u64,
}

fn verify(ctx: &Ctx, out: Output) -> Result<ExitCode> {
    let s = ctx.session(Key::No)?;
    let entries = s.call(AuditVerify {})?;
    s.finish()?;
    emit(out, &Verified { entries }, |w, _| {
        writeln!(w, "audit log intact: {entries} entries")
    })
}

/// A time given on the command line: RFC 3339, or a local day (its start, or with `end` its
/// last instant).
fn parse_when(flag: &str, s: &str, end: bool) -> Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.into());
    }
    let day = NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
        anyhow::anyhow!(
            "{flag} {s:?} is neither a time such as 2026-12-01T08:00:00Z nor a day such as 2026-12-01"
        )
    })?;
    let (day, back) = match end {
        // The day's last instant: the next day's start, less one nanosecond.
        true => (day.succ_opt().context("a day past the calendar's end")?, 1),
        false => (day, 0),
    };
    let start = Local
        .from_local_datetime(&day.and_hms_opt(0, 0, 0).expect("midnight exists"))
        .earliest()
        .with_context(|| format!("{flag} {s:?}: that day has no local midnight"))?;
    Ok(start.with_timezone(&Utc) - chrono::Duration::nanoseconds(back))
}

fn filter(f: &AuditFilter) -> Result<Filter> {
    let trimmed = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    Ok(Filter {
        since: f
            .since
            .as_deref()
            .map(|s| parse_when("--since", s, false))
            .transpose()?,
        until: f
            .until
            .as_deref()
            .map(|s| parse_when("--until", s, true))
            .transpose()?,
        user: trimmed(&f.user),
        action: trimmed(&f.action),
        order: trimmed(&f.order),
    })
}

fn list(ctx: &Ctx, f: &AuditFilter, limit: u32, after: u64, out: Output) -> Result<ExitCode> {
    if limit == 0 || limit > AUDIT_PAGE_MAX {
        bail!("--limit {limit}: a listing shows 1 to {AUDIT_PAGE_MAX} entries");
    }
    let filter = filter(f)?;
    let s = ctx.session(Key::No)?;
    // A page reads a bounded stretch of the log: keep asking until the listing is full or
    // the log ends.
    let mut entries = Vec::new();
    let mut next = Some(after);
    while let Some(after) = next
        && entries.len() < limit as usize
    {
        let page = s.call(AuditList {
            filter: filter.clone(),
            after,
            limit: limit - entries.len() as u32,
        })?;
        entries.extend(page.entries);
        next = page.next_after;
    }
    s.finish()?;
    let answer = packline::store::audit::Page {
        entries,
        next_after: next,
    };
    emit(out, &answer, |w, p| {
        if p.entries.is_empty() {
            writeln!(w, "no audit entry matches")?;
        } else {
            writeln!(
                w,
                "{:>7}  {:<19}  {:<14}  {:<22}  {:<19}  REASON",
                "SEQ", "TIME (local)", "USER", "ACTION", "ORDER"
            )?;
        }
        for e in &p.entries {
            line(w, e)?;
        }
        if let Some(after) = p.next_after {
            writeln!(
                w,
                "more entries may match: add --after {after} to see the next ones"
            )?;
        }
        Ok(())
    })
}

fn line(w: &mut dyn std::io::Write, e: &AuditEntry) -> std::io::Result<()> {
    writeln!(
        w,
        "{:>7}  {:<19}  {:<14}  {:<22}  {:<19}  {}",
        e.seq,
        e.at.with_timezone(&Local).format("%Y-%m-%d %H:%M:%S"),
        escape_hazards(&e.user),
        escape_hazards(&e.action),
        e.order.as_deref().map_or("-".into(), escape_hazards),
        e.reason.as_deref().map_or("".into(), escape_hazards),
    )
}

/// Every matching entry, one JSON document a line, as the log holds it (with its place in the
/// hash chain); a count on standard error.
fn export(ctx: &Ctx, f: &AuditFilter) -> Result<ExitCode> {
    use std::io::Write as _;
    if f.since.is_none() {
        bail!(
            "audit export needs --since (the incident's start): e.g. --since 2026-12-01; \
             for every entry, --since 1970-01-01"
        );
    }
    let filter = filter(f)?;
    let s = ctx.session(Key::No)?;
    let mut stdout = std::io::stdout().lock();
    let mut count = 0u64;
    let mut after = 0;
    loop {
        let page = s.call(AuditList {
            filter: filter.clone(),
            after,
            limit: AUDIT_PAGE_MAX,
        })?;
        for e in &page.entries {
            serde_json::to_writer(&mut stdout, e)?;
            writeln!(stdout)?;
            count += 1;
        }
        match page.next_after {
            Some(n) => after = n,
            None => break,
        }
    }
    stdout.flush()?;
    s.finish()?;
    say!("exported {count} audit entries");
    Ok(ExitCode::SUCCESS)
}
