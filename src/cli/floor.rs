//! `packline pick`, `pack` and `exceptions`: the floor's operations for scripts and leads'
//! automation, the same ones the terminal UI sends.

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::{Context, Result};

use packline::domain::text::escape_hazards;
use packline::domain::{OrderState, PackCheck, PickBatch, PickEvent};
use packline::service::ops::{
    Batches, BenchLabel, ClaimBatch, Exceptions, FinishPick, Finished, PackCloseBox, PackFinish,
    PackScan, PackStart, PickPut, PickScan, PickScanned, RaiseException, ReassignBatch,
    ReleaseBatch, ResolveException, ShortPick,
};

use packline::config::PrintAtClaim;
use packline::service::ops::PrintJobs;
use packline::store::shipping::PrintJob;

use super::args::{ExceptionsCommand, Output, PackCommand, PickCommand};
use super::prints::{Printed, await_prints, outcome, write_unprinted};
use super::{Ctx, Key, done, emit, one, text_arg};

pub fn pick(ctx: &Ctx, command: PickCommand) -> Result<ExitCode> {
    match command {
        PickCommand::Claim { size, out } => {
            // Packing slips printed at the claim (`[floor] print_at_claim`) are unsealed when
            // sent: the key, when one is to hand.
            let key = if ctx.cfg.floor.print_at_claim.slips() {
                Key::IfToHand
            } else {
                Key::No
            };
            let s = ctx.session(key)?;
            let asked = chrono::Utc::now();
            let batch = s.call(ClaimBatch { size })?;
            // The batch's paperwork, queued by the claim: waited for, and told.
            let jobs = match &batch {
                Some(b) if ctx.cfg.floor.print_at_claim != PrintAtClaim::None => {
                    let queued = s.call(PrintJobs {
                        mine_since: Some((b.orders.clone(), asked)),
                        ..Default::default()
                    })?;
                    let ids: Vec<u64> = queued.iter().map(|j| j.id).collect();
                    await_prints(&s, &ids)?
                }
                _ => Vec::new(),
            };
            s.finish()?;
            // Nothing waiting is `null` for scripts, not the `{"ok": true}` of a done command.
            if batch.is_none() && out.json {
                writeln!(std::io::stdout(), "null")?;
                return Ok(ExitCode::SUCCESS);
            }
            let paperwork = batch.is_some() && ctx.cfg.floor.print_at_claim != PrintAtClaim::None;
            let (mut printing, mut printed_all) = outcome(&jobs);
            if paperwork && jobs.is_empty() {
                // The service could not queue it (no printer for slips, or the order held).
                printing = "nothing printed: the paperwork could not be queued (is a slip printer set, [shipping] slip_printer?)".into();
                printed_all = false;
            }
            let value = batch.as_ref().map(|b| Printed {
                answer: b,
                prints: (!jobs.is_empty()).then_some(jobs.as_slice()),
            });
            emit(out, &value, |w, _| match &batch {
                Some(b) => {
                    print_batch(w, b)?;
                    if paperwork {
                        write_unprinted(w, &jobs)?;
                        writeln!(w, "paperwork: {printing}")?;
                    }
                    Ok(())
                }
                None => writeln!(w, "no orders are waiting to be picked"),
            })?;
            // The claim stands either way; a print that failed is the command's failure.
            Ok(if printed_all {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        PickCommand::Scan { batch, code, out } => {
            one(ctx, Key::No, PickScan { batch, code }, out, scanned)
        }
        PickCommand::Put { batch, slot, out } => {
            one(ctx, Key::No, PickPut { batch, slot }, out, scanned)
        }
        PickCommand::Short {
            batch,
            sku,
            reason,
            out,
        } => one(
            ctx,
            Key::No,
            ShortPick { batch, sku, reason },
            out,
            |w, s| {
                for o in &s.orders {
                    writeln!(w, "order {o} is an exception now")?;
                }
                for (sku, n) in &s.put_back {
                    writeln!(w, "put back {n} x {}", escape_hazards(sku))?;
                }
                Ok(())
            },
        ),
        PickCommand::Finish { batch, out } => one(ctx, Key::No, FinishPick { batch }, out, done),
        PickCommand::Release { batch, reason, out } => {
            one(ctx, Key::No, ReleaseBatch { batch, reason }, out, done)
        }
        PickCommand::Reassign { batch, to, out } => {
            one(ctx, Key::No, ReassignBatch { batch, to }, out, |w, b| {
                writeln!(w, "batch {} is held by {}", b.id, b.holder)
            })
        }
        PickCommand::List { all, out } => one(ctx, Key::No, Batches { all }, out, |w, batches| {
            writeln!(
                w,
                "{:>6}  {:<16} {:>6} {:>9}",
                "BATCH", "HOLDER", "ORDERS", "PICKED"
            )?;
            for b in batches {
                let (picked, needed) = progress(b);
                writeln!(
                    w,
                    "{:>6}  {:<16} {:>6} {:>9}",
                    b.id,
                    b.holder,
                    b.orders.len(),
                    format!("{picked}/{needed}")
                )?;
            }
            Ok(())
        }),
    }
}

fn scanned(w: &mut dyn std::io::Write, s: &PickScanned) -> std::io::Result<()> {
    match &s.scan {
        PickEvent::Bin { bin } => writeln!(w, "at bin {}", escape_hazards(bin))?,
        PickEvent::Unit {
            picked,
            needed,
            slot,
            put: true,
            ..
        } => writeln!(w, "picked {picked}/{needed} → SLOT {slot}")?,
        PickEvent::Unit {
            picked,
            needed,
            slot,
            ..
        } => writeln!(
            w,
            "picked {picked}/{needed}: put it in SLOT {slot} (pick put {} {slot})",
            s.batch
        )?,
        PickEvent::Put { slot, .. } => writeln!(w, "put in SLOT {slot}")?,
        PickEvent::Tote { slot, tote, .. } => {
            writeln!(w, "tote {} is SLOT {slot}", escape_hazards(tote))?
        }
    }
    if s.complete {
        writeln!(w, "batch {} is complete: finish it", s.batch)?;
    }
    Ok(())
}

fn progress(b: &PickBatch) -> (u32, u32) {
    b.lines.iter().fold((0, 0), |(p, n), l| {
        (p + l.picked.min(l.needed), n + l.needed)
    })
}

fn print_batch(w: &mut dyn std::io::Write, b: &PickBatch) -> std::io::Result<()> {
    writeln!(
        w,
        "batch {} for {}: {} order(s)",
        b.id,
        b.holder,
        b.orders.len()
    )?;
    for s in &b.slots {
        writeln!(w, "  SLOT {:<3} order {}", s.slot, s.order)?;
    }
    writeln!(w, "{:<12} {:<24} {:>6}  TITLE", "BIN", "SKU", "QTY")?;
    for l in &b.lines {
        writeln!(
            w,
            "{:<12} {:<24} {:>6}  {}",
            escape_hazards(l.bin.as_deref().unwrap_or("-")),
            escape_hazards(&l.sku),
            format!("{}/{}", l.picked, l.needed),
            escape_hazards(&l.title)
        )?;
    }
    Ok(())
}

fn print_check(w: &mut dyn std::io::Write, c: &PackCheck) -> std::io::Result<()> {
    writeln!(w, "order {} at {}'s bench", c.order, c.packer)?;
    for l in &c.lines {
        writeln!(
            w,
            "  {:<24} {:>6}  {}",
            escape_hazards(&l.sku),
            format!("{}/{}", l.scanned, l.needed),
            escape_hazards(&l.title)
        )?;
    }
    if let Some(wrap) = c.gift_wrap() {
        writeln!(
            w,
            "GIFT WRAP: {} (the gift message is on the slip)",
            escape_hazards(wrap)
        )?;
    }
    if let Some((line, kind)) = c.awaiting {
        let sku = c.lines.get(line).map_or("", |l| l.sku.as_str());
        writeln!(
            w,
            "scan the {} of this {} (pack scan {} CODE)",
            kind.name(),
            escape_hazards(sku),
            c.order
        )?;
    } else if c.is_complete() {
        writeln!(w, "every unit is scanned: box and weigh it (pack finish)")?;
    } else if c.units_left() > 0 {
        writeln!(w, "{} unit(s) to scan", c.units_left())?;
    }
    Ok(())
}

pub fn pack(ctx: &Ctx, command: PackCommand) -> Result<ExitCode> {
    match command {
        PackCommand::Start { order, out } => {
            one(ctx, Key::No, PackStart { order }, out, print_check)
        }
        PackCommand::Scan {
            order,
            code,
            unit_codes,
            out,
        } => one(
            ctx,
            Key::No,
            PackScan {
                order,
                code,
                unit_codes,
            },
            out,
            print_check,
        ),
        PackCommand::CloseBox {
            order,
            box_name,
            weight,
            out,
        } => one(
            ctx,
            Key::No,
            PackCloseBox {
                order,
                box_name,
                weight_g: weight,
            },
            out,
            print_check,
        ),
        PackCommand::Finish {
            order,
            box_name,
            weight,
            partial,
            label,
            out,
        } => {
            let partial = partial
                .map(|p| text_arg(p, "--partial").map(|t| t.to_string()))
                .transpose()?;
            let op = PackFinish {
                order,
                box_name: box_name.unwrap_or_default(),
                weight_g: weight.unwrap_or(0),
                partial,
                label,
            };
            // A label is bought with the recipient's address: the key is needed then.
            if !label && !ctx.cfg.floor.label_at_pack().for_user(&ctx.user) {
                return one(ctx, Key::No, op, out, |w, r| {
                    writeln!(w, "order {} is {}", r.order.id, r.state)
                });
            }
            finish_with_label(ctx, op, out)
        }
    }
}

/// `pack finish` that buys the label and prints it at the bench: waits for the printer, and
/// says what it took ("label printed: UPS 1Z…") or why not; exit status 1 unless it printed.
fn finish_with_label(ctx: &Ctx, op: PackFinish, out: Output) -> Result<ExitCode> {
    let s = ctx.session(Key::Needed)?;
    let finished = s.call(op)?;
    let jobs = match &finished.bench_label {
        Some(BenchLabel::Queued { print_jobs, .. }) => await_prints(&s, print_jobs)?,
        _ => Vec::new(),
    };
    s.finish()?;
    let (line, ok) = bench_label_outcome(&finished, &jobs);
    let value = Printed {
        answer: &finished,
        prints: (!jobs.is_empty()).then_some(jobs.as_slice()),
    };
    emit(out, &value, |w, _| {
        writeln!(w, "order {} is {}", finished.order.id, finished.state)?;
        write_unprinted(w, &jobs)?;
        writeln!(w, "{line}")
    })?;
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The bench's label in one line, and whether it printed.
fn bench_label_outcome(f: &Finished, jobs: &[PrintJob]) -> (String, bool) {
    match &f.bench_label {
        None => ("no label was bought".into(), false),
        Some(BenchLabel::NotBought { reason }) => (
            format!(
                "label not bought: {}; order {} waits for the labeler",
                escape_hazards(reason),
                f.order.id
            ),
            false,
        ),
        Some(BenchLabel::NotQueued { postage, reason }) => (
            format!(
                "label bought ({}) but not printed: {}; print it with packline label print {}",
                escape_hazards(&postage.join(", ")),
                escape_hazards(reason),
                f.order.id
            ),
            false,
        ),
        Some(BenchLabel::Queued { postage, .. }) => {
            let (text, ok) = outcome(jobs);
            if ok {
                (
                    format!("label printed: {}", escape_hazards(&postage.join(", "))),
                    true,
                )
            } else {
                (
                    format!(
                        "label bought ({}), not printed: {text}",
                        escape_hazards(&postage.join(", "))
                    ),
                    false,
                )
            }
        }
    }
}

pub fn exceptions(ctx: &Ctx, command: ExceptionsCommand) -> Result<ExitCode> {
    match command {
        ExceptionsCommand::List { out } => {
            one(ctx, Key::IfToHand, Exceptions {}, out, |w, rows| {
                for e in rows {
                    writeln!(
                        w,
                        "{:<22} {}  {:<12} {}",
                        e.order,
                        e.raised_at.format("%Y-%m-%d %H:%M"),
                        e.raised_by,
                        escape_hazards(&e.note.shown())
                    )?;
                }
                Ok(())
            })
        }
        ExceptionsCommand::Raise { order, note, out } => {
            let note = text_arg(note, "--note")?.to_string();
            one(ctx, Key::No, RaiseException { order, note }, out, done)
        }
        ExceptionsCommand::Resolve {
            order,
            to,
            resolution,
            out,
        } => {
            let resume = OrderState::parse(&to).with_context(|| {
                format!(
                    "--to {to:?} is not a state; use one of: {}",
                    OrderState::ALL.map(|s| s.name()).join(", ")
                )
            })?;
            one(
                ctx,
                Key::No,
                ResolveException {
                    order,
                    resume,
                    resolution,
                },
                out,
                done,
            )
        }
    }
}
