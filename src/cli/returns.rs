//! `packline returns`: Amazon's returns report in (a pull, or a downloaded file), and the parcels
//! received at the returns bench: each scan names the return (its label's tracking number, the
//! RMA id or the order id), each unit its condition; a sellable unit's bin is printed.

use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use packline::domain::returns::{Condition, ReturnKey, ReturnRecord};
use packline::domain::text::escape_hazards;
use packline::service::ops::{CloseReturn, ImportReturns, ReceiveReturn, Returns, SyncReturns};
use packline::store::returns::ReturnCounts;

use super::args::ReturnsCommand;
use super::{Ctx, Key, one};

fn print_counts(w: &mut dyn std::io::Write, c: &ReturnCounts) -> std::io::Result<()> {
    write!(
        w,
        "returns: {} listed, {} new ({} returnless refunds), {} updated",
        c.listed, c.new, c.returnless, c.updated
    )?;
    match c.refused.len() {
        0 => writeln!(w)?,
        n => writeln!(w, ", {n} refused")?,
    }
    for why in &c.refused {
        writeln!(w, "  refused: {why} (nothing of it was recorded)")?;
    }
    Ok(())
}

/// How a return is known, for a list.
fn known_as(r: &ReturnRecord) -> String {
    match &r.key {
        ReturnKey::Rma { rma } => escape_hazards(rma),
        ReturnKey::Returnless { .. } => "returnless".into(),
        ReturnKey::Unexpected { .. } => "unexpected".into(),
    }
}

fn print_list(w: &mut dyn std::io::Write, rows: &[ReturnRecord]) -> std::io::Result<()> {
    if rows.is_empty() {
        return writeln!(w, "no returns");
    }
    writeln!(
        w,
        "{:<8} {:<20} {:<14} {:<20} {:<10} {:>5}  skus",
        "id", "order", "rma", "tracking", "state", "units"
    )?;
    for r in rows {
        let skus: Vec<String> = r
            .lines
            .iter()
            .map(|l| match &l.reason {
                Some(why) => format!("{} ({})", escape_hazards(&l.sku), escape_hazards(why)),
                None => escape_hazards(&l.sku),
            })
            .collect();
        writeln!(
            w,
            "{:<8} {:<20} {:<14} {:<20} {:<10} {:>5}  {}",
            r.handle(),
            r.order,
            known_as(r),
            r.tracking
                .as_deref()
                .map(escape_hazards)
                .unwrap_or_default(),
            r.state().name(),
            format!("{}/{}", r.received_units(), r.expected_units()),
            skus.join(", ")
        )?;
    }
    Ok(())
}

pub fn run(ctx: &Ctx, command: ReturnsCommand) -> Result<ExitCode> {
    match command {
        ReturnsCommand::Sync { out } => one(ctx, Key::No, SyncReturns {}, out, print_counts),
        ReturnsCommand::Import { file, out } => {
            let bytes = packline::files::read_regular(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let name = file.display().to_string();
            // Parsed here first, so a bad file is refused before a session is opened; the
            // service parses it again (the socket's client is not trusted).
            packline::amazon::reports::parse_returns_rows(&bytes, &name)?;
            let op = ImportReturns {
                file: name,
                report: String::from_utf8_lossy(&bytes).into_owned(),
            };
            one(ctx, Key::No, op, out, print_counts)
        }
        ReturnsCommand::List { out } => {
            one(ctx, Key::No, Returns {}, out, |w, rows| print_list(w, rows))
        }
        ReturnsCommand::Receive {
            code,
            sku,
            condition,
            quantity,
            out,
        } => {
            let Some(condition) = Condition::parse(&condition) else {
                bail!(
                    "--condition {:?} is not a condition: sellable, damaged, wrong-item or missing",
                    escape_hazards(&condition)
                );
            };
            let op = ReceiveReturn {
                code,
                unit: sku,
                condition,
                quantity,
            };
            one(ctx, Key::No, op, out, |w, r| {
                let head = format!(
                    "return {} (order {}): {} × {} {}",
                    r.record.handle(),
                    r.record.order,
                    r.quantity,
                    escape_hazards(&r.sku),
                    r.condition
                );
                match (&r.bin, r.condition) {
                    (Some(bin), _) => writeln!(w, "{head}: back to bin {}", escape_hazards(bin)),
                    (None, Condition::Sellable) => writeln!(
                        w,
                        "{head}: the locations file has no bin for {}: give it to a lead",
                        escape_hazards(&r.sku)
                    ),
                    (None, _) => writeln!(w, "{head}: not restocked"),
                }?;
                writeln!(w, "{}", r.record.received_text())
            })
        }
        ReturnsCommand::Close { code, out } => {
            one(ctx, Key::No, CloseReturn { code }, out, |w, r| {
                writeln!(
                    w,
                    "return {} (order {}) closed: {}",
                    r.handle(),
                    r.order,
                    r.received_text()
                )
            })
        }
    }
}
