//! `packline prints`: the print queue (every job kept, with its state and why a failed one
//! failed) and `prints retry`; and the wait every command that queues prints makes for its
//! jobs, so it says "printed" only once the printer took them.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde::Serialize;

use packline::domain::text::escape_hazards;
use packline::service::Notice;
use packline::service::ops::{PrintJobs, RetryPrints};
use packline::store::shipping::{JobState, PrintJob};

use super::args::{Output, PrintsCommand};
use super::{Ctx, Key, Session, emit};

/// An answer with the print jobs it queued, as they ended (`prints`: absent when it queued
/// none, for the commands whose printing is optional).
#[derive(Serialize, schemars::JsonSchema)]
pub struct Printed<'a, T> {
    #[serde(flatten)]
    pub answer: &'a T,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prints: Option<&'a [PrintJob]>,
}

/// How long a command waits for its print jobs: long enough for a printer that retries, short
/// enough that a command never hangs on one that does not answer.
fn wait_for(jobs: usize) -> Duration {
    Duration::from_secs((30 + 5 * jobs as u64).min(600))
}

/// Waits for print jobs (queued by this command, in the service: this process's or the
/// daemon's) to be printed or to fail, at most [`wait_for`]; their states then. A progress line
/// goes to standard error when it is a terminal.
pub fn await_prints(s: &Session, ids: &[u64]) -> Result<Vec<PrintJob>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let deadline = Instant::now() + wait_for(ids.len());
    let gauge = std::io::stderr().is_terminal();
    let notices = s.client.clone();
    let jobs = s.rt().block_on(async {
        loop {
            let jobs = s
                .client
                .call(PrintJobs {
                    ids: ids.to_vec(),
                    ..Default::default()
                })
                .await?;
            let done = jobs.iter().filter(|j| j.state != JobState::Queued).count();
            if gauge {
                say!(inline: "\rprinting: {done} of {} done", ids.len());
            }
            if done == jobs.len() || Instant::now() >= deadline {
                return Ok::<_, anyhow::Error>(jobs);
            }
            // A job that ends is told as a notice: ask again then, or after a second at most.
            let heard = async {
                loop {
                    match notices.notice().await {
                        Some(Notice::PrintFinished { job: Some(j), .. }) if ids.contains(&j) => {
                            break;
                        }
                        Some(_) => {}
                        None => std::future::pending::<()>().await,
                    }
                }
            };
            let _ = tokio::time::timeout(Duration::from_secs(1), heard).await;
        }
    });
    if gauge {
        say!();
    }
    jobs
}

/// What became of print jobs, in one line ("11 printed, 1 failed: printer file:/x: …"), and
/// whether every one printed.
pub fn outcome(jobs: &[PrintJob]) -> (String, bool) {
    let printed = jobs.iter().filter(|j| j.state == JobState::Sent).count();
    let failed: Vec<&PrintJob> = jobs
        .iter()
        .filter(|j| j.state == JobState::Failed)
        .collect();
    let queued = jobs.len() - printed - failed.len();
    let mut text = format!("{printed} printed");
    if let Some(first) = failed.first() {
        text.push_str(&format!(
            ", {} failed: {}",
            failed.len(),
            escape_hazards(first.error.as_deref().unwrap_or("no reason kept"))
        ));
    }
    if queued > 0 {
        text.push_str(&format!(
            ", {queued} not printed yet (still queued: packline prints shows them)"
        ));
    }
    (text, failed.is_empty() && queued == 0)
}

/// One line per job that did not print: which, and why.
pub fn write_unprinted(w: &mut dyn std::io::Write, jobs: &[PrintJob]) -> std::io::Result<()> {
    for j in jobs.iter().filter(|j| j.state != JobState::Sent) {
        writeln!(
            w,
            "print job {} ({}) {}{}",
            j.id,
            j.title(),
            j.state.name(),
            j.error
                .as_deref()
                .map(|e| format!(": {}", escape_hazards(e)))
                .unwrap_or_default()
        )?;
    }
    Ok(())
}

fn write_jobs(w: &mut dyn std::io::Write, jobs: &Vec<PrintJob>) -> std::io::Result<()> {
    if jobs.is_empty() {
        return writeln!(w, "no print jobs");
    }
    for j in jobs {
        writeln!(
            w,
            "{:>6}  {}  {:<7} {:<38} {}  by {}{}",
            j.id,
            j.created.format("%Y-%m-%d %H:%M"),
            j.state.name(),
            j.title(),
            escape_hazards(&j.printer),
            escape_hazards(&j.by),
            j.error
                .as_deref()
                .map(|e| format!(": {}", escape_hazards(e)))
                .unwrap_or_default()
        )?;
    }
    Ok(())
}

/// `packline prints [--failed]` and `packline prints retry [ID|--failed]`.
pub fn run(
    ctx: &Ctx,
    command: Option<PrintsCommand>,
    failed: bool,
    out: Output,
) -> Result<ExitCode> {
    match command {
        None => {
            let s = ctx.session(Key::No)?;
            let jobs = s.call(PrintJobs {
                failed,
                ..Default::default()
            })?;
            s.finish()?;
            emit(out, &jobs, write_jobs)
        }
        Some(PrintsCommand::Retry { id, failed, out }) => {
            // A label or slip is unsealed when it is sent: the key, when one is to hand.
            let s = ctx.session(Key::Needed)?;
            let queued = s.call(RetryPrints { id, failed })?;
            let ids: Vec<u64> = queued.iter().map(|j| j.id).collect();
            let jobs = await_prints(&s, &ids)?;
            s.finish()?;
            let (text, ok) = outcome(&jobs);
            emit(out, &jobs, |w, jobs| {
                write_unprinted(w, jobs)?;
                writeln!(w, "{text}")
            })?;
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}
