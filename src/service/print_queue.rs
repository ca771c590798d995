//! The print queue: labels, slips, pick sheets and collection forms queued to a printer and sent
//! in the background, one job after another, with retries while nothing may have reached the
//! printer. A job is recorded before any byte goes out, so a job cut short is never sent twice
//! by itself.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{Caller, Notice, Role, Service, ServiceError, store_err};
use crate::domain::{OrderId, PickBatch};
use crate::labels::print::{DocFormat, Printer};
use crate::labels::slip::Slip;
use crate::store::shipping::{Document, JobState, PrintJob};

/// Print attempts before a job is left failed for a person to look at.
const PRINT_ATTEMPTS: u32 = 3;

impl Service {
    /// The printer a request may use: a configured printer (by name or URI), the user's or the
    /// site's default; an address of the caller's own choosing only for a lead. Documents with
    /// addresses never go to a host or directory the site did not name.
    fn resolve_printer(
        &self,
        c: &Caller,
        requested: Option<String>,
        label: bool,
    ) -> Result<String, ServiceError> {
        let shipping = &self.settings.shipping;
        let uri = match requested
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty())
        {
            Some(r) => {
                if let Some(uri) = shipping.printers.get(&r) {
                    uri.clone()
                } else if shipping.known_printers().contains(&r.as_str()) || c.role >= Role::Lead {
                    r
                } else {
                    return Err(ServiceError::Forbidden {
                        action: format!(
                            "printing to {r:?}, which is not one of the site's printers ([shipping] printers)"
                        ),
                        needed: Role::Lead,
                        user: c.user.clone(),
                        role: c.role,
                    });
                }
            }
            None => shipping.printer_for(&c.user, label).ok_or_else(|| {
                ServiceError::Invalid(format!(
                    "no printer for {}s: name one with --printer or set [shipping] {}_printer",
                    if label { "label" } else { "packing slip" },
                    if label { "label" } else { "slip" }
                ))
            })?,
        };
        Printer::parse(&uri).map_err(|e| ServiceError::Invalid(e.to_string()))?;
        Ok(uri)
    }

    pub(super) fn queue(
        &self,
        c: &Caller,
        id: &OrderId,
        doc: Document,
        printer: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<PrintJob, ServiceError> {
        let uri = self.resolve_printer(c, printer, doc.package().is_some())?;
        let job = self
            .store()
            .queue_print(id, doc, &uri, &c.user, now)
            .map_err(store_err)?;
        self.start_job(job.id);
        Ok(job)
    }

    /// Queues several documents to one printer, in this order, and sends them.
    pub(super) fn queue_all(
        &self,
        c: &Caller,
        docs: &[(OrderId, Document)],
        printer: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Vec<PrintJob>, ServiceError> {
        let label = docs.iter().any(|(_, d)| d.package().is_some());
        let uri = self.resolve_printer(c, printer, label)?;
        let jobs = self
            .store()
            .queue_prints(docs, &uri, &c.user, now)
            .map_err(store_err)?;
        self.start_jobs(jobs.iter().map(|j| j.id).collect());
        Ok(jobs)
    }

    /// Sends a job in the background: printing never holds up a request.
    fn start_job(&self, id: u64) {
        self.start_jobs(vec![id]);
    }

    /// Sends queued jobs in the background, one after another (a retry).
    pub(crate) fn send_jobs(&self, ids: Vec<u64>) {
        self.start_jobs(ids);
    }

    /// Sends jobs in the background one after another, in this order (a batch's paperwork).
    /// Without a runtime to send them on, they stay queued for the next process.
    fn start_jobs(&self, ids: Vec<u64>) {
        if ids.is_empty() {
            return;
        }
        let Some(me) = self.me.upgrade() else { return };
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(jobs = ids.len(), "no runtime: print jobs left queued");
            return;
        };
        self.prints_running.send_modify(|n| *n += ids.len());
        handle.spawn(async move {
            for id in ids {
                me.clone().run_job(id).await;
                me.prints_running.send_modify(|n| *n = n.saturating_sub(1));
            }
        });
    }

    /// Sends the jobs the last process left queued (see [`Store::take_over_prints`]), once a
    /// runtime is at hand: at once in the daemon, at the first request in a command's process.
    ///
    /// [`Store::take_over_prints`]: crate::store::Store::take_over_prints
    pub fn send_left_prints(&self) {
        if tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        let left = std::mem::take(&mut *self.prints_left.lock().unwrap_or_else(|p| p.into_inner()));
        if !left.is_empty() {
            tracing::info!(
                jobs = left.len(),
                "sending print jobs the last process left queued"
            );
            self.start_jobs(left);
        }
    }

    /// Waits until no print job of this process is being sent (at most `within`); false when
    /// some still are. A command's process waits here before it ends, so the jobs it started
    /// (or took over) are not cut short.
    pub async fn prints_idle(&self, within: std::time::Duration) -> bool {
        let mut running = self.prints_running.subscribe();
        tokio::time::timeout(within, running.wait_for(|n| *n == 0))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Renders and sends one job, with retries while nothing may have reached the printer.
    async fn run_job(self: Arc<Self>, id: u64) {
        let me = self;
        {
            for attempt in 1..=PRINT_ATTEMPTS {
                let svc = me.clone();
                let outcome = tokio::task::spawn_blocking(move || svc.render_titled(id)).await;
                let Ok(Ok((_, printer, format, doc, title))) = outcome else {
                    let detail = match outcome {
                        Ok(Err(e)) => e,
                        _ => "the job could not be prepared".to_owned(),
                    };
                    me.finish_job(id, false, attempt, Some(detail), None);
                    return;
                };
                // Recorded before any byte goes out: a job cut short from here on may have
                // printed, and is never sent again by itself (see `take_over_prints`).
                let svc = me.clone();
                let begun = tokio::task::spawn_blocking(move || {
                    svc.store()
                        .update_print_job(id, |job| job.attempts = attempt)
                })
                .await;
                if !matches!(begun, Ok(Ok(Some(_)))) {
                    me.finish_job(
                        id,
                        false,
                        attempt,
                        Some("the job could not be kept".into()),
                        Some(title),
                    );
                    return;
                }
                let name = title.strip_prefix("order ").unwrap_or(&title).to_owned();
                let sent = printer.send(&name, format, &doc).await;
                drop(doc);
                match sent {
                    Ok(()) => {
                        me.finish_job(id, true, attempt, None, Some(title));
                        return;
                    }
                    // Bytes may have reached the printer: another attempt could print the label
                    // twice. A person looks and reprints.
                    Err(e) if attempt == PRINT_ATTEMPTS || e.maybe_sent() => {
                        me.finish_job(id, false, attempt, Some(e.to_string()), Some(title));
                        return;
                    }
                    Err(e) => {
                        tracing::warn!(job = id, attempt, "print failed, retrying: {e}");
                        tokio::time::sleep(std::time::Duration::from_millis(
                            500 * u64::from(attempt),
                        ))
                        .await;
                    }
                }
            }
        }
    }

    /// A claimed batch's paperwork, to the picker's slip printer through the print queue: the
    /// pick sheet, then each order's slip in slot order. Nothing here fails the claim: a job
    /// that cannot be queued is told as a failed print.
    pub(super) fn print_claim_paperwork(&self, c: &Caller, batch: &PickBatch, now: DateTime<Utc>) {
        let what = self.settings.print_at_claim;
        let Some(first) = batch.slots.first() else {
            return;
        };
        let mut docs = Vec::new();
        if what.sheet() {
            docs.push((first.order.clone(), Document::PickSheet));
        }
        if what.slips() {
            docs.extend(
                batch
                    .slots
                    .iter()
                    .map(|s| (s.order.clone(), Document::SlipZpl)),
            );
        }
        if docs.is_empty() {
            return;
        }
        let queued = match self.resolve_printer(c, None, false) {
            Ok(uri) => self
                .store()
                .queue_prints(&docs, &uri, &c.user, now)
                .map_err(|e| format!("not queued: {e}")),
            Err(e) => Err(format!("not printed: {e}")),
        };
        match queued {
            Ok(jobs) => self.start_jobs(jobs.iter().map(|j| j.id).collect()),
            Err(why) => {
                for (order, doc) in docs {
                    self.notify(Notice::PrintFinished {
                        job: None,
                        what: format!("order {order} {}", doc.name()),
                        order,
                        ok: false,
                        detail: format!("{} {why}", doc.name()),
                    });
                }
            }
        }
    }

    /// Makes a job's document: the sealed label opened, or the slip rendered. In memory only.
    /// With it, what the job is called: "order … label", or a collection form by its carrier
    /// and day ("collection form FedEx 2026-12-07"), never after an order.
    #[allow(clippy::type_complexity)]
    fn render_titled(
        &self,
        id: u64,
    ) -> Result<
        (
            PrintJob,
            Printer,
            DocFormat,
            zeroize::Zeroizing<Vec<u8>>,
            String,
        ),
        String,
    > {
        let store = self.store();
        let job = store
            .print_job(id)
            .map_err(|e| e.to_string())?
            .ok_or("the job is gone")?;
        let printer = Printer::parse(&job.printer).map_err(|e| e.to_string())?;
        let mut title = format!("order {} {}", job.order, job.document.name());
        // A hold placed since the job was queued stops it here, before anything prints.
        if store
            .hold_of(&job.order)
            .map_err(|e| e.to_string())?
            .is_some()
        {
            return Err(format!(
                "order {} is on hold: nothing prints for it until a lead releases it",
                job.order
            ));
        }
        let (format, doc) = match job.document {
            Document::Label | Document::PackageLabel(_) => {
                let package = job.document.package().unwrap_or(1);
                let fmt = match store
                    .shipment(&job.order, package)
                    .map_err(|e| e.to_string())?
                    .and_then(|s| s.label_format)
                    .as_deref()
                {
                    Some("pdf") => DocFormat::Pdf,
                    Some("png") => DocFormat::Png,
                    _ => DocFormat::Zpl,
                };
                (
                    fmt,
                    store
                        .label(&job.order, package)
                        .map_err(|e| e.to_string())?,
                )
            }
            Document::SlipZpl | Document::SlipPdf => {
                let rec = store
                    .get(&job.order)
                    .map_err(|e| e.to_string())?
                    .ok_or("the order is gone")?;
                let recipient = store
                    .recipient_for_document(&job.order)
                    .map_err(|e| e.to_string())?;
                let slot = match store.claim_of(&job.order).map_err(|e| e.to_string())? {
                    Some(batch) => store
                        .batch(batch)
                        .map_err(|e| e.to_string())?
                        .and_then(|b| b.slot_of(&job.order)),
                    None => None,
                };
                let slip = Slip {
                    order: &rec.order,
                    recipient: recipient.as_ref(),
                    from: self.settings.shipping.seller_name.as_deref().unwrap_or(""),
                    slot,
                };
                let (fmt, bytes) = if job.document == Document::SlipPdf {
                    (DocFormat::Pdf, slip.pdf())
                } else {
                    (DocFormat::Zpl, slip.zpl())
                };
                (
                    fmt,
                    zeroize::Zeroizing::new(bytes.map_err(|e| e.to_string())?),
                )
            }
            Document::CollectionForm(i) => {
                let day = crate::store::shipping::local_day(job.created);
                let forms = store.collection_forms(day).map_err(|e| e.to_string())?;
                let (carrier, pdf) = forms
                    .into_iter()
                    .nth(i as usize)
                    .ok_or("the collection form is no longer kept")?;
                title = format!(
                    "collection form {} {}",
                    crate::domain::Carrier::amazon_name(&carrier),
                    day.format("%Y-%m-%d")
                );
                (DocFormat::Pdf, zeroize::Zeroizing::new(pdf))
            }
            Document::PickSheet => {
                let batch = match store.claim_of(&job.order).map_err(|e| e.to_string())? {
                    Some(b) => store.batch(b).map_err(|e| e.to_string())?,
                    None => None,
                }
                .ok_or("the batch is no longer open")?;
                (
                    DocFormat::Zpl,
                    zeroize::Zeroizing::new(crate::labels::picksheet::zpl(&batch)),
                )
            }
        };
        Ok((job, printer, format, doc, title))
    }

    fn finish_job(
        &self,
        id: u64,
        ok: bool,
        attempts: u32,
        error: Option<String>,
        title: Option<String>,
    ) {
        let finished = self.store().update_print_job(id, |job| {
            job.state = if ok { JobState::Sent } else { JobState::Failed };
            job.attempts = attempts;
            job.error = error.clone();
        });
        let job = match finished {
            Ok(Some(job)) => job,
            Ok(None) => return,
            Err(e) => {
                tracing::error!(job = id, "saving a print job: {e}");
                return;
            }
        };
        let what = title.unwrap_or_else(|| format!("order {} {}", job.order, job.document.name()));
        // An order's document is told by its name ("label printed"), a collection form by its
        // carrier and day.
        let done = match what.strip_prefix("order ") {
            Some(_) => format!("{} printed", job.document.name()),
            None => format!("{what} printed"),
        };
        self.notify(Notice::PrintFinished {
            job: Some(job.id),
            order: job.order.clone(),
            ok,
            detail: error.unwrap_or(done),
            what,
        });
    }
}
