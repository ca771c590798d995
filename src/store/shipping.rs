//! Shipments and printing, in the `floor` tree: each order's shipment record (what it leaves
//! with and where its purchase or confirmation stands: `domain::shipment`), kept durably; bought
//! labels, sealed like recipients; a per-day index for manifests; and the print queue.
//!
//! A label purchase is recorded as an intent, durably, before Amazon is asked. If the answer
//! never comes, the intent stays: the service refuses a second purchase for that order and a
//! lead decides (look the shipment up, or void it). Money is never spent twice by a retry.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::{Error, Store, Tx, TxResult, abort, audit_in, exception_step, step};
/// The shipment state machine and its record are the domain's; re-exported for callers.
pub use crate::domain::shipment::{ShipmentRecord, ShipmentState};
use crate::domain::{Carrier, Event, OrderId, OrderRecord, OrderState, TrackingNumber};

const SHIPMENT: u8 = b's';
const LABEL: u8 = b'l';
const DAY: u8 = b'd';
const JOB: u8 = b'j';
/// A purchase in flight: `INTENT ‖ order id` while its shipment is a PurchaseIntent, so a start
/// finds interrupted purchases without reading every shipment ever made.
const INTENT: u8 = b'i';

fn key(kind: u8, id: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + id.len());
    k.push(kind);
    k.extend_from_slice(id);
    k
}

fn day_key(day: NaiveDate, order: &OrderId) -> Vec<u8> {
    let mut k = vec![DAY];
    k.extend_from_slice(day.format("%Y-%m-%d").to_string().as_bytes());
    k.extend_from_slice(order.as_str().as_bytes());
    k
}

/// The site's calendar day of a moment: end of day and manifests follow the local clock, not
/// UTC (a US afternoon is already tomorrow in UTC).
pub fn local_day(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&chrono::Local).date_naive()
}

fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    postcard::to_stdvec(v).expect("shipping records serialize")
}

fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8], what: &str) -> Result<T, Error> {
    postcard::from_bytes(bytes).map_err(|e| Error::CorruptOrder(format!("{what}: {e}")))
}

/// A print job. The document is made (or unsealed) only when it is sent: nothing printable with
/// personal data waits on disk in the clear.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrintJob {
    pub id: u64,
    pub order: OrderId,
    pub document: Document,
    pub printer: String,
    pub state: JobState,
    pub attempts: u32,
    pub error: Option<String>,
    pub created: DateTime<Utc>,
    pub by: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Document {
    Label,
    SlipZpl,
    SlipPdf,
    /// The pick sheet of the batch the job's order is claimed in (ZPL; no personal data).
    PickSheet,
}

impl Document {
    pub fn name(self) -> &'static str {
        match self {
            Document::Label => "label",
            Document::SlipZpl | Document::SlipPdf => "packing slip",
            Document::PickSheet => "pick sheet",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Queued,
    Sent,
    Failed,
}

fn shipment_key(id: &OrderId) -> Vec<u8> {
    key(SHIPMENT, id.as_str().as_bytes())
}

fn label_key(id: &OrderId) -> Vec<u8> {
    key(LABEL, id.as_str().as_bytes())
}

fn job_key(id: u64) -> Vec<u8> {
    key(JOB, &id.to_be_bytes())
}

/// The order, inside a transaction.
fn order_in(tx: &Tx<'_>, id: &OrderId) -> TxResult<OrderRecord> {
    match tx.orders.get(id.as_str())? {
        Some(v) => super::decode_record(&v).or_else(abort),
        None => abort(Error::NoSuchOrder(id.clone())),
    }
}

/// A Packed order, inside a transaction; `what` says what needs it packed.
fn packed_in(tx: &Tx<'_>, id: &OrderId, what: &str) -> TxResult<OrderRecord> {
    let rec = order_in(tx, id)?;
    if rec.state != OrderState::Packed {
        return abort(Error::Usage(format!(
            "order {id} is {}: {what} are for packed orders",
            rec.state
        )));
    }
    Ok(rec)
}

fn shipment_in(tx: &Tx<'_>, id: &OrderId) -> TxResult<Option<ShipmentRecord>> {
    tx.floor
        .get(shipment_key(id))?
        .map(|v| decode(&v, "shipment").or_else(abort))
        .transpose()
}

/// Writes a shipment record, keeping the in-flight marker in step with its state.
fn put_shipment(tx: &Tx<'_>, s: &ShipmentRecord) -> TxResult<()> {
    tx.floor.insert(shipment_key(&s.order), encode(s))?;
    let marker = key(INTENT, s.order.as_str().as_bytes());
    if s.state == ShipmentState::PurchaseIntent {
        tx.floor.insert(marker, &[])?;
    } else {
        tx.floor.remove(marker)?;
    }
    Ok(())
}

/// A bought label: its record, the sealed label, and the day index.
fn keep_label(tx: &Tx<'_>, s: &ShipmentRecord, sealed: &[u8]) -> TxResult<()> {
    put_shipment(tx, s)?;
    tx.floor.insert(label_key(&s.order), sealed)?;
    tx.floor.insert(day_key(local_day(s.at), &s.order), &[])?;
    Ok(())
}

/// An audit entry that moves nothing.
fn note(
    tx: &Tx<'_>,
    id: &OrderId,
    user: &str,
    action: &str,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> TxResult<()> {
    audit_in(tx, user, action, Some(id.as_str()), reason, now)
}

/// Puts something a lead must see on an order: an exception with the note when the order can
/// take one, else (already an exception, or closed) an audit entry with it.
fn flag(
    tx: &Tx<'_>,
    order: OrderRecord,
    user: &str,
    action: &str,
    text: &str,
    now: DateTime<Utc>,
) -> TxResult<OrderRecord> {
    if order.state.is_closed() || order.state == OrderState::Exception {
        note(tx, &order.order.id, user, action, Some(text), now)?;
        Ok(order)
    } else {
        exception_step(tx, &order.order.id, Event::RaiseException, user, text, now)
    }
}

impl Store {
    pub fn shipment(&self, id: &OrderId) -> Result<Option<ShipmentRecord>, Error> {
        self.t
            .floor
            .get(shipment_key(id))?
            .map(|v| decode(&v, "shipment"))
            .transpose()
    }

    /// Records the intent to buy a label for a Packed order, durably, before Amazon is asked.
    /// Refused unless the order has no shipment or its last label was voided.
    pub fn begin_purchase(
        &self,
        id: &OrderId,
        service_id: &str,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        self.transact(|tx| {
            packed_in(tx, id, "labels")?;
            // Only a voided label leaves room for another: anything else means a label may
            // exist, or the order ships with its own carrier.
            if let Some(s) = shipment_in(tx, id)?
                && s.state != ShipmentState::Voided
            {
                return abort(Error::Usage(format!(
                    "order {id}: {} already; a label is never bought twice (a lead checks, voids or clears it)",
                    s.state.name()
                )));
            }
            put_shipment(
                tx,
                &ShipmentRecord {
                    order: id.clone(),
                    state: ShipmentState::PurchaseIntent,
                    carrier: None,
                    tracking: None,
                    shipment_id: None,
                    service_id: Some(service_id.to_owned()),
                    service_name: None,
                    label_format: None,
                    at: now,
                    by: user.to_owned(),
                },
            )?;
            note(tx, id, user, "label_purchase_intent", None, now)
        })?;
        self.flush()
    }

    /// Amazon said it bought the label: the label is sealed and kept, whatever happened to the
    /// order meanwhile. A Packed order becomes Labelled; one that moved on (an exception, a
    /// cancellation) keeps its state and gets the shipment id in its exception note, so the
    /// label can still be voided. Returns the order, and whether it is Labelled now.
    pub fn complete_purchase(
        &mut self,
        record: &ShipmentRecord,
        label: &[u8],
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<(OrderRecord, bool), Error> {
        let sealed = self.keyring.seal_document(label, now)?;
        let id = &record.order;
        let out = self.transact(|tx| {
            let current = order_in(tx, id)?;
            let labelled = current.state == OrderState::Packed;
            let rec = if labelled {
                step(tx, id, Event::LabelBought, user, None, now)?
            } else {
                let text = format!(
                    "a label was bought (shipment {}) while the order was {}: void it or resolve to Labelled",
                    record.shipment_id.as_deref().unwrap_or("?"),
                    current.state
                );
                flag(tx, current, user, "label_bought", &text, now)?
            };
            keep_label(tx, record, &sealed)?;
            Ok((rec, labelled))
        })?;
        self.flush()?;
        Ok(out)
    }

    /// Amazon refused the purchase outright (nothing was bought): the intent is dropped, and
    /// only the intent (a record written meanwhile stays).
    pub fn abandon_purchase(&self, id: &OrderId) -> Result<(), Error> {
        self.transact(|tx| {
            if shipment_in(tx, id)?.is_some_and(|s| s.state == ShipmentState::PurchaseIntent) {
                tx.floor.remove(shipment_key(id))?;
                tx.floor.remove(key(INTENT, id.as_str().as_bytes()))?;
            }
            Ok(())
        })?;
        self.flush()
    }

    /// A lead found that Amazon bought nothing for a purchase whose outcome was unknown (or
    /// that never left): the record goes, audited with the reason, and a label may be bought.
    pub fn clear_purchase(
        &self,
        id: &OrderId,
        user: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        self.transact(|tx| {
            let Some(s) = shipment_in(tx, id)? else {
                return abort(Error::Usage(format!("order {id} has no purchase to clear")));
            };
            if !s.state.is_unresolved() {
                return abort(Error::Usage(format!(
                    "order {id}: {}; only an unknown purchase can be cleared",
                    s.state.name()
                )));
            }
            tx.floor.remove(shipment_key(id))?;
            tx.floor.remove(key(INTENT, id.as_str().as_bytes()))?;
            note(tx, id, user, "label_purchase_cleared", Some(reason), now)
        })?;
        self.flush()
    }

    /// After a restart: a purchase intent left behind means the process stopped while Amazon
    /// was asked. Each becomes "outcome unknown" with an exception for a lead. Returns how many.
    pub fn recover_purchases(&self, now: DateTime<Utc>) -> Result<usize, Error> {
        let mut stuck = Vec::new();
        for item in self.t.floor.scan_prefix([INTENT]) {
            let (k, _) = item?;
            if let Ok(id) = OrderId::parse(&String::from_utf8_lossy(&k[1..])) {
                stuck.push(id);
            }
        }
        for id in &stuck {
            self.purchase_unknown(
                id,
                "packline",
                "the process stopped while Amazon was asked",
                now,
            )?;
        }
        // Print jobs cut short the same way are marked failed, not silently rerun.
        for mut job in self.print_jobs()? {
            if job.state == JobState::Queued {
                job.state = JobState::Failed;
                job.error = Some("interrupted by a restart: print it again".into());
                self.save_print_job(&job)?;
            }
        }
        Ok(stuck.len())
    }

    /// Whether a recorded purchase may be replaced by one a lead found (`CheckPurchase`).
    pub fn purchase_unresolved(&self, id: &OrderId) -> Result<bool, Error> {
        Ok(self.shipment(id)?.is_some_and(|s| s.state.is_unresolved()))
    }

    /// The answer never came: the intent becomes "outcome unknown" and the order an exception
    /// for a lead, in one transaction.
    pub fn purchase_unknown(
        &self,
        id: &OrderId,
        user: &str,
        detail: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        let text = format!(
            "label purchase outcome unknown ({detail}): look the shipment up or void it before buying again"
        );
        self.transact(|tx| {
            if let Some(mut s) = shipment_in(tx, id)? {
                s.state = ShipmentState::OutcomeUnknown;
                s.at = now;
                put_shipment(tx, &s)?;
            }
            let order = order_in(tx, id)?;
            flag(tx, order, user, "label_purchase_unknown", &text, now)?;
            Ok(())
        })?;
        self.flush()
    }

    /// A lead found the shipment Amazon bought: record it and its label without moving the
    /// order (it is an exception; the lead resolves it to Labelled).
    pub fn record_found_purchase(
        &mut self,
        record: &ShipmentRecord,
        label: &[u8],
    ) -> Result<(), Error> {
        let sealed = self.keyring.seal_document(label, record.at)?;
        self.transact(|tx| keep_label(tx, record, &sealed))?;
        self.flush()
    }

    /// The label was voided at Amazon: the order goes back to Packed (if it was Labelled), the
    /// sealed label is destroyed.
    pub fn voided(
        &self,
        id: &OrderId,
        user: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        self.transact(|tx| {
            let Some(mut s) = shipment_in(tx, id)? else {
                return abort(Error::Usage(format!("order {id} has no label to void")));
            };
            if order_in(tx, id)?.state == OrderState::Labelled {
                step(tx, id, Event::LabelVoided, user, Some(reason), now)?;
            } else {
                note(tx, id, user, "label_voided", Some(reason), now)?;
            }
            tx.floor.remove(day_key(local_day(s.at), id))?;
            s.state = ShipmentState::Voided;
            s.at = now;
            put_shipment(tx, &s)?;
            tx.floor.remove(label_key(id))?;
            Ok(())
        })?;
        self.flush()
    }

    /// Opens a bought label for the printer. Needs the store unlocked.
    pub fn label(&self, id: &OrderId) -> Result<zeroize::Zeroizing<Vec<u8>>, Error> {
        let v = self
            .t
            .floor
            .get(label_key(id))?
            .ok_or_else(|| Error::Usage(format!("order {id} has no stored label")))?;
        self.keyring.open_document(&v, "printing a label")
    }

    /// Records an own-carrier shipment about to be confirmed to Amazon.
    pub fn begin_own_carrier(
        &self,
        id: &OrderId,
        carrier: &Carrier,
        tracking: &TrackingNumber,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<ShipmentRecord, Error> {
        let rec = self.transact(|tx| {
            packed_in(tx, id, "own-carrier shipments")?;
            if let Some(s) = shipment_in(tx, id)? {
                match s.state {
                    // The same number again: a retry of a confirmation that did not finish.
                    ShipmentState::Confirming if s.tracking.as_ref() == Some(tracking) => {
                        return Ok(s);
                    }
                    ShipmentState::Voided => {}
                    other => {
                        return abort(Error::Usage(format!(
                            "order {id}: {} already (tracking {}); nothing is sent twice",
                            other.name(),
                            s.tracking.as_ref().map_or("-", |t| t.as_str())
                        )));
                    }
                }
            }
            let rec = ShipmentRecord {
                order: id.clone(),
                state: ShipmentState::Confirming,
                carrier: Some(carrier.clone()),
                tracking: Some(tracking.clone()),
                shipment_id: None,
                service_id: None,
                service_name: None,
                label_format: None,
                at: now,
                by: user.to_owned(),
            };
            put_shipment(tx, &rec)?;
            Ok(rec)
        })?;
        self.flush()?;
        Ok(rec)
    }

    /// Amazon accepted the confirmation: the order is Shipped (its retention clock starts).
    pub fn confirmed(
        &self,
        record: &ShipmentRecord,
        event: Event,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<OrderRecord, Error> {
        let id = &record.order;
        let rec = self.transact(|tx| {
            let rec = step(tx, id, event, user, None, now)?;
            let mut s = record.clone();
            s.state = ShipmentState::Confirmed;
            s.at = now;
            put_shipment(tx, &s)?;
            tx.floor.insert(day_key(local_day(now), id), &[])?;
            Ok(rec)
        })?;
        self.flush()?;
        Ok(rec)
    }

    /// Shipments of one day (bought labels and confirmed own-carrier ones), for a manifest.
    pub fn shipments_on(&self, day: NaiveDate) -> Result<Vec<ShipmentRecord>, Error> {
        let mut prefix = vec![DAY];
        prefix.extend_from_slice(day.format("%Y-%m-%d").to_string().as_bytes());
        let mut out = Vec::new();
        for item in self.t.floor.scan_prefix(&prefix) {
            let (k, _) = item?;
            let Ok(id) = OrderId::parse(&String::from_utf8_lossy(&k[prefix.len()..])) else {
                continue;
            };
            if let Some(s) = self.shipment(&id)?
                && matches!(s.state, ShipmentState::Bought | ShipmentState::Confirmed)
            {
                out.push(s);
            }
        }
        Ok(out)
    }

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
    /// flush, in this order.
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
                tx.floor.insert(job_key(job.id), encode(job))?;
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
            .map(|v| decode(&v, "print job"))
            .transpose()
    }

    pub fn save_print_job(&self, job: &PrintJob) -> Result<(), Error> {
        self.t.floor.insert(job_key(job.id), encode(job))?;
        self.flush()
    }

    /// Every print job still kept (finished jobs are kept a week for reprints and questions).
    pub fn print_jobs(&self) -> Result<Vec<PrintJob>, Error> {
        self.t
            .floor
            .scan_prefix([JOB])
            .map(|item| decode(&item?.1, "print job"))
            .collect()
    }
}

/// Removes an order's shipping entries (retention deleting the order record).
pub(super) fn forget(tx: &Tx<'_>, id: &str) -> TxResult<()> {
    for kind in [SHIPMENT, LABEL, INTENT] {
        tx.floor.remove(key(kind, id.as_bytes()))?;
    }
    Ok(())
}

/// Removes a sealed label (retention destroying the recipient's data); returns its envelope's
/// epoch, so retention can mark that epoch as holding gone data.
pub(super) fn drop_label(tx: &Tx<'_>, id: &str) -> TxResult<Option<u32>> {
    Ok(tx
        .floor
        .remove(key(LABEL, id.as_bytes()))?
        .and_then(|v| super::seal::envelope_epoch(&v)))
}
