//! `packline label`, `ship`, `slip` and `manifest`: after packing, through the service (which
//! makes the Amazon calls and runs the print queue).

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::{Result, bail};
use chrono::Utc;

use packline::domain::text::escape_hazards;
use packline::service::Notice;
use packline::service::ops::{
    BuyLabel, BuyWave, CheckPurchase, ClearPurchase, Manifest, PrintLabel, PrintSlip, Rates,
    ShipOwnCarrier, VoidLabel,
};
use packline::store::shipping::{JobState, PrintJob, ShipmentRecord};

use super::args::{LabelCommand, Output};
use super::prints::{Printed, await_prints, outcome, write_unprinted};
use super::{Ctx, Key, Session, emit};

fn print_shipment(w: &mut dyn std::io::Write, s: &ShipmentRecord) -> std::io::Result<()> {
    writeln!(
        w,
        "order {}{}: {} {} tracking {}",
        s.order,
        if s.package > 1 {
            format!(" package {}", s.package)
        } else {
            String::new()
        },
        s.state.name(),
        s.carrier.as_ref().map_or("-".into(), |c| c.to_string()),
        s.tracking.as_ref().map_or("-".into(), |t| t.to_string())
    )
}

fn print_shipments(w: &mut dyn std::io::Write, all: &Vec<ShipmentRecord>) -> std::io::Result<()> {
    for s in all {
        print_shipment(w, s)?;
    }
    Ok(())
}

/// Print jobs were queued: waits for the printer's answer to each (the jobs run in the
/// service, one after another) and says what became of them; exit status 1 unless every one
/// printed.
fn printed(s: &Session, jobs: Vec<PrintJob>, out: Output) -> Result<ExitCode> {
    if jobs.is_empty() {
        bail!("nothing was queued to print");
    }
    let ids: Vec<u64> = jobs.iter().map(|j| j.id).collect();
    let jobs = await_prints(s, &ids)?;
    let (text, ok) = outcome(&jobs);
    emit(out, &jobs, |w, jobs| {
        for j in jobs.iter().filter(|j| j.state == JobState::Sent) {
            writeln!(
                w,
                "order {} {} printed on {}",
                j.order,
                j.document.name(),
                escape_hazards(&j.printer)
            )?;
        }
        write_unprinted(w, jobs)?;
        if jobs.len() > 1 || !ok {
            writeln!(w, "{text}")?;
        }
        Ok(())
    })?;
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Sends a print operation and waits for the printer. The session hears notices from its
/// start, so a fast printer's answer cannot be missed.
fn print(
    ctx: &Ctx,
    op: impl packline::service::Operation<Answer = PrintJob>,
    out: Output,
) -> Result<ExitCode> {
    let s = ctx.session(Key::Needed)?;
    let job = s.call(op)?;
    let code = printed(&s, vec![job], out);
    s.finish()?;
    code
}

pub fn label(ctx: &Ctx, command: LabelCommand) -> Result<ExitCode> {
    match command {
        LabelCommand::Print {
            order,
            printer,
            package,
            out,
        } => {
            let s = ctx.session(Key::Needed)?;
            let jobs = s.call(PrintLabel {
                order,
                printer,
                package,
            })?;
            let code = printed(&s, jobs, out);
            s.finish()?;
            code
        }
        LabelCommand::Rates { order, out } => {
            let s = ctx.session(Key::Needed)?;
            let offers = s.call(Rates { order })?;
            s.finish()?;
            emit(out, &offers, |w, offers| {
                for (i, o) in offers.iter().enumerate() {
                    writeln!(
                        w,
                        "{} {:<40} {:<12} {:>8.2} {} {}{}",
                        if i == 0 && o.meets_promise { "*" } else { " " },
                        escape_hazards(&o.service_id),
                        escape_hazards(&o.carrier),
                        o.amount,
                        escape_hazards(&o.currency),
                        o.latest_delivery
                            .map_or("-".into(), |d| d.format("%Y-%m-%d").to_string()),
                        if o.meets_promise {
                            ""
                        } else {
                            "  (late for the promise)"
                        }
                    )?;
                }
                Ok(())
            })
        }
        LabelCommand::Buy {
            order: Some(order),
            service,
            out,
            ..
        } => shipments(ctx, BuyLabel { order, service }, out),
        LabelCommand::Buy {
            order: None,
            service,
            carrier,
            printer,
            no_print,
            out,
            ..
        } => wave(
            ctx,
            BuyWave {
                carrier,
                service,
                printer,
                no_print,
            },
            out,
        ),
        LabelCommand::Void {
            order,
            reason,
            package,
            out,
        } => {
            let s = ctx.session(Key::Needed)?;
            s.call(VoidLabel {
                order,
                reason,
                package,
            })?;
            s.finish()?;
            emit(out, &(), |w, _| writeln!(w, "done"))
        }
        LabelCommand::Check {
            order,
            shipment_id,
            out,
        } => shipment(ctx, CheckPurchase { order, shipment_id }, out),
        LabelCommand::Clear { order, reason, out } => {
            let s = ctx.session(Key::Needed)?;
            s.call(ClearPurchase { order, reason })?;
            s.finish()?;
            emit(out, &(), |w, _| writeln!(w, "done"))
        }
    }
}

/// A wave of purchases, with a progress bar on standard error when it is a terminal.
fn wave(ctx: &Ctx, op: BuyWave, out: Output) -> Result<ExitCode> {
    use std::io::Write as _;
    let s = ctx.session(Key::Needed)?;
    let user = packline::service::server::user_name(nix::unistd::getuid().as_raw());
    let notices = s.client.clone();
    let gauge = std::io::stderr().is_terminal();
    let report = s.rt().block_on(async {
        let progress = async {
            while let Some(n) = notices.notice().await {
                if let Notice::LabelWave {
                    user: who,
                    done,
                    total,
                } = n
                    && who == user
                    && gauge
                {
                    let width = 30usize;
                    let filled = (done as usize * width).checked_div(total as usize).unwrap_or(0);
                    let mut err = std::io::stderr().lock();
                    let _ = write!(
                        err,
                        "\r[{}{}] {done}/{total} orders",
                        "#".repeat(filled),
                        "-".repeat(width - filled.min(width))
                    );
                    let _ = err.flush();
                }
            }
        };
        tokio::select! {
            r = s.client.call(op) => r,
            () = progress => Err(packline::service::ServiceError::Protocol("the service went away".into())),
        }
    });
    if gauge {
        say!();
    }
    let report = report?;
    let jobs = await_prints(&s, &report.print_jobs)?;
    s.finish()?;
    let needs_person = !report.needs_person.is_empty();
    let (printing, printed_all) = outcome(&jobs);
    let value = Printed {
        answer: &report,
        prints: Some(&jobs),
    };
    emit(out, &value, |w, _| {
        let r = &report;
        for b in &r.bought {
            if b.packages.is_empty() {
                writeln!(w, "order {}: labelled already", b.order)?;
            } else {
                writeln!(
                    w,
                    "order {}: bought {} label(s): {}",
                    b.order,
                    b.packages.len(),
                    escape_hazards(&b.postage.join(", "))
                )?;
            }
        }
        for p in &r.needs_person {
            writeln!(
                w,
                "order {}: needs a person: {}",
                p.order,
                escape_hazards(&p.reason)
            )?;
        }
        write_unprinted(w, &jobs)?;
        let labels = if let Some(e) = &r.print_error {
            format!("labels not printed: {}", escape_hazards(e))
        } else if jobs.is_empty() {
            "no label printed".to_owned()
        } else {
            format!("labels: {printing}")
        };
        writeln!(
            w,
            "{} order(s) bought, {} need a person, {labels}",
            r.bought.iter().filter(|b| !b.packages.is_empty()).count(),
            r.needs_person.len(),
        )
    })?;
    // A label that did not print is a failure of the command; orders left for a person are
    // told apart (3).
    Ok(if !printed_all || report.print_error.is_some() {
        ExitCode::FAILURE
    } else if needs_person {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}

fn shipment(
    ctx: &Ctx,
    op: impl packline::service::Operation<Answer = ShipmentRecord>,
    out: Output,
) -> Result<ExitCode> {
    let s = ctx.session(Key::Needed)?;
    let shipment = s.call(op)?;
    s.finish()?;
    emit(out, &shipment, print_shipment)
}

fn shipments(
    ctx: &Ctx,
    op: impl packline::service::Operation<Answer = Vec<ShipmentRecord>>,
    out: Output,
) -> Result<ExitCode> {
    let s = ctx.session(Key::Needed)?;
    let all = s.call(op)?;
    s.finish()?;
    emit(out, &all, print_shipments)
}

pub fn ship(
    ctx: &Ctx,
    order: String,
    carrier: String,
    tracking: Vec<String>,
    out: Output,
) -> Result<ExitCode> {
    shipments(
        ctx,
        ShipOwnCarrier {
            order,
            carrier,
            tracking,
        },
        out,
    )
}

pub fn slip(
    ctx: &Ctx,
    order: String,
    printer: Option<String>,
    format: &str,
    out: Output,
) -> Result<ExitCode> {
    print(
        ctx,
        PrintSlip {
            order,
            printer,
            pdf: format == "pdf",
        },
        out,
    )
}

pub fn manifest(
    ctx: &Ctx,
    date: Option<chrono::NaiveDate>,
    format: &str,
    close: bool,
) -> Result<ExitCode> {
    use std::io::Write as _;
    let date = date.unwrap_or_else(|| packline::store::shipping::local_day(Utc::now()));
    if format == "pdf" && std::io::stdout().is_terminal() {
        bail!("the PDF manifest goes to standard output: redirect it to a file (> manifest.pdf)");
    }
    let s = ctx.session(Key::No)?;
    let day = s.call(Manifest {
        date: Some(date),
        close,
    })?;
    let forms = await_prints(&s, &day.print_jobs)?;
    s.finish()?;
    let mut out = std::io::stdout().lock();
    match format {
        "pdf" => out.write_all(&packline::labels::manifest::pdf(date, &day.shipments))?,
        "json" => super::json_out(&mut out, &day)?,
        _ => out.write_all(packline::labels::manifest::csv(&day.shipments).as_bytes())?,
    }
    if close {
        say!("{} order(s) shipped", day.shipped);
        for id in &day.held {
            say!("order {id} stays behind: it is on hold (see `packline orders holds`)");
        }
        for (i, carrier) in day.collection_forms.iter().enumerate() {
            match forms.get(i) {
                Some(j) if j.state == JobState::Sent => say!(
                    "collection form for {carrier} printed on {}",
                    escape_hazards(&j.printer)
                ),
                Some(j) => say!(
                    "collection form for {carrier} {}{}",
                    if j.state == JobState::Failed {
                        "not printed"
                    } else {
                        "not printed yet (still queued: packline prints shows it)"
                    },
                    j.error
                        .as_deref()
                        .map(|e| format!(": {}", escape_hazards(e)))
                        .unwrap_or_default()
                ),
                None => say!("collection form for {carrier} not printed"),
            }
        }
        if let Some(e) = &day.form_error {
            say!("warning: {e}");
        }
        for (id, why) in &day.codes_unsent {
            say!("order {id} stays labelled: {why}");
        }
    }
    let (_, printed_all) = outcome(&forms);
    let forms_missing = close && forms.len() < day.collection_forms.len();
    Ok(if printed_all && !forms_missing {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
