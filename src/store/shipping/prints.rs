//! The print queue: jobs for labels, packing slips and collection forms, each queued with its
//! audit entry and its outcome set on the job as stored. The document is made (or unsealed) only
//! when the job is sent.

use chrono::{DateTime, Utc};

use super::{JOB, Store, key, note};
use crate::domain::OrderId;
pub use crate::domain::print::{Document, JobState, PrintJob};
use crate::store::records::{self, shipping::PrintJob2};
use crate::store::refusal::LabelRefusal;
use crate::store::{Error, abort};

impl Store {
    /// Queues a print job, with its audit entry (a reprint is named as one). Finished jobs
    /// older than a week are forgotten here, so the queue stays a few days long.
    pub fn queue_print(
        &self,
        order: &OrderId,
        document: Document,
        printer: &str,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<PrintJob, Error> {
        let mut jobs = self.queue_prints(&[(order.clone(), document)], printer, user, now)?;
        Ok(jobs.remove(0))
    }

    /// Queues several jobs to one printer (a batch's paperwork) in one transaction and one
    /// flush, in this order. Refused, all of them, when one's order is held.
    pub fn queue_prints(
        &self,
        docs: &[(OrderId, Document)],
        printer: &str,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<PrintJob>, Error> {
        let mut new = Vec::with_capacity(docs.len());
        for (order, document) in docs {
            new.push(PrintJob {
                id: self.db.generate_id()?,
                order: order.clone(),
                document: *document,
                printer: printer.to_owned(),
                state: JobState::Queued,
                attempts: 0,
                error: None,
                created: now,
                by: user.to_owned(),
            });
        }
        let jobs = self.print_jobs()?;
        let week_ago = now - chrono::Duration::days(7);
        self.transact(|tx| {
            // Nothing prints for a held order: a hold placed since the caller looked stops it
            // here, where the job is written.
            for (order, _) in docs {
                crate::store::floor::refuse_held_in(tx, order)?;
            }
            for old in jobs
                .iter()
                .filter(|j| j.state != JobState::Queued && j.created < week_ago)
            {
                tx.floor.remove(job_key(old.id))?;
            }
            for job in &new {
                let reprint = jobs.iter().any(|j| {
                    j.order == job.order && j.document == job.document && j.state == JobState::Sent
                });
                tx.floor
                    .insert(job_key(job.id), records::encode::<PrintJob2>(job))?;
                let action = if reprint { "reprint" } else { "print" };
                note(tx, &job.order, user, action, Some(job.document.name()), now)?;
            }
            Ok(())
        })?;
        self.flush()?;
        Ok(new)
    }

    pub fn print_job(&self, id: u64) -> Result<Option<PrintJob>, Error> {
        self.t
            .floor
            .get(job_key(id))?
            .map(|v| records::decode::<PrintJob2>(&v))
            .transpose()
    }

    /// Changes a print job (`change` sets it as the transaction reads it: the job's state is
    /// never written over by an older copy). `None` when there is no such job.
    pub fn update_print_job(
        &self,
        id: u64,
        change: impl Fn(&mut PrintJob),
    ) -> Result<Option<PrintJob>, Error> {
        let job = self.transact(|tx| {
            let Some(v) = tx.floor.get(job_key(id))? else {
                return Ok(None);
            };
            let mut job = records::decode::<PrintJob2>(&v).or_else(abort)?;
            change(&mut job);
            tx.floor
                .insert(job_key(id), records::encode::<PrintJob2>(&job))?;
            Ok(Some(job))
        })?;
        if job.is_some() {
            self.flush()?;
        }
        Ok(job)
    }

    /// Puts failed jobs back on the queue, as they were asked for (a person asked for them
    /// again: each is audited as a reprint). Refused, all of them, when one is not failed or
    /// its order is held.
    pub fn retry_prints(
        &self,
        ids: &[u64],
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<PrintJob>, Error> {
        let jobs = self.transact(|tx| {
            let mut jobs = Vec::with_capacity(ids.len());
            for id in ids {
                let Some(v) = tx.floor.get(job_key(*id))? else {
                    return abort(LabelRefusal::NoPrintJob { job: *id }.into());
                };
                let mut job = records::decode::<PrintJob2>(&v).or_else(abort)?;
                if job.state != JobState::Failed {
                    return abort(
                        LabelRefusal::JobNotFailed {
                            job: *id,
                            state: job.state.name(),
                        }
                        .into(),
                    );
                }
                crate::store::floor::refuse_held_in(tx, &job.order)?;
                job.state = JobState::Queued;
                job.attempts = 0;
                job.error = None;
                tx.floor
                    .insert(job_key(job.id), records::encode::<PrintJob2>(&job))?;
                let why = format!("{} (print job {id} again)", job.document.name());
                note(tx, &job.order, user, "reprint", Some(&why), now)?;
                jobs.push(job);
            }
            Ok(jobs)
        })?;
        self.flush()?;
        Ok(jobs)
    }

    /// Print jobs a process left queued when it stopped, in the order they were queued: those
    /// never begun (no attempt recorded: nothing of them reached a printer) are the next
    /// process's to send; one cut short while being sent may have printed, and is marked
    /// failed for a person to look at the printer and retry it. Returns the jobs to send.
    pub fn take_over_prints(&self) -> Result<Vec<u64>, Error> {
        let mut resume = Vec::new();
        for job in self.print_jobs()? {
            if job.state != JobState::Queued {
                continue;
            }
            if job.attempts == 0 {
                resume.push(job.id);
                continue;
            }
            self.update_print_job(job.id, |job| {
                if job.state == JobState::Queued {
                    job.state = JobState::Failed;
                    job.error = Some(
                        "cut short by a restart while being sent: it may have printed; look at the printer, then retry it if it did not (packline prints retry ID)"
                            .into(),
                    );
                }
            })?;
        }
        Ok(resume)
    }

    /// Keeps a print job as given, over whatever is stored under its id.
    pub fn save_print_job(&self, job: &PrintJob) -> Result<(), Error> {
        self.t
            .floor
            .insert(job_key(job.id), records::encode::<PrintJob2>(job))?;
        self.flush()
    }

    /// Every print job still kept (finished jobs are kept a week for reprints and questions).
    pub fn print_jobs(&self) -> Result<Vec<PrintJob>, Error> {
        self.t
            .floor
            .scan_prefix([JOB])
            .map(|item| records::decode::<PrintJob2>(&item?.1))
            .collect()
    }
}

pub(in crate::store) fn job_key(id: u64) -> Vec<u8> {
    key(JOB, &id.to_be_bytes())
}
