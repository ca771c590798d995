//! Shipments and printing, in the `floor` tree: what each order leaves with (a bought label or
//! an own-carrier tracking number) and where its purchase or confirmation stands; bought labels,
//! sealed like recipients; a per-day index for manifests; and the print queue.
//!
//! A label purchase is recorded as an intent, durably, before Amazon is asked. If the answer
//! never comes, the intent stays: the service refuses a second purchase for that order and a
//! lead decides (look the shipment up, or void it). Money is never spent twice by a retry.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::{Error, Store, abort, audit, exception_step, step};
use crate::domain::{Carrier, Event, OrderId, OrderRecord, TrackingNumber};

const SHIPMENT: u8 = b's';
const LABEL: u8 = b'l';
const DAY: u8 = b'd';
const JOB: u8 = b'j';

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

/// Where an order's shipment stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShipmentState {
    /// createShipment is being asked; if this is what a lead finds, the answer never came.
    PurchaseIntent,
    /// createShipment may or may not have bought a label: never buy again without checking.
    OutcomeUnknown,
    /// A label is bought and stored.
    Bought,
    /// An own-carrier shipment is being confirmed to Amazon.
    Confirming,
    /// Amazon knows the shipment.
    Confirmed,
    /// The bought label was voided.
    Voided,
}

impl ShipmentState {
    pub fn name(self) -> &'static str {
        match self {
            ShipmentState::PurchaseIntent => "purchase in flight",
            ShipmentState::OutcomeUnknown => "purchase outcome unknown",
            ShipmentState::Bought => "label bought",
            ShipmentState::Confirming => "confirming",
            ShipmentState::Confirmed => "confirmed",
            ShipmentState::Voided => "voided",
        }
    }
}

/// What an order leaves with. No personal data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipmentRecord {
    pub order: OrderId,
    pub state: ShipmentState,
    pub carrier: Option<Carrier>,
    pub tracking: Option<TrackingNumber>,
    /// Amazon's shipment id (bought labels).
    pub shipment_id: Option<String>,
    pub service_id: Option<String>,
    pub service_name: Option<String>,
    /// The label's file type: `zpl`, `pdf` or `png`.
    pub label_format: Option<String>,
    pub at: DateTime<Utc>,
    pub by: String,
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
}

impl Document {
    pub fn name(self) -> &'static str {
        match self {
            Document::Label => "label",
            Document::SlipZpl | Document::SlipPdf => "packing slip",
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

impl Store {
    pub fn shipment(&self, id: &OrderId) -> Result<Option<ShipmentRecord>, Error> {
        self.t
            .floor
            .get(key(SHIPMENT, id.as_str().as_bytes()))?
            .map(|v| decode(&v, "shipment"))
            .transpose()
    }

    /// Records the intent to buy a label for a Packed order, durably, before Amazon is asked.
    /// Refused when a purchase is in flight, unknown, or a label is already bought.
    pub fn begin_purchase(
        &self,
        id: &OrderId,
        service_id: &str,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        self.transact(|tx| {
            let Some(v) = tx.orders.get(id.as_str())? else {
                return abort(Error::NoSuchOrder(id.clone()));
            };
            let rec = super::decode_record(&v).or_else(abort)?;
            if rec.state != crate::domain::OrderState::Packed {
                return abort(Error::Usage(format!(
                    "order {id} is {}: labels are bought for packed orders",
                    rec.state
                )));
            }
            if let Some(v) = tx.floor.get(key(SHIPMENT, id.as_str().as_bytes()))? {
                let s: ShipmentRecord = decode(&v, "shipment").or_else(abort)?;
                // Only a voided label leaves room for another: anything else means a label may
                // exist, or the order ships with its own carrier.
                if s.state != ShipmentState::Voided {
                    return abort(Error::Usage(format!(
                        "order {id}: {} already; a label is never bought twice (a lead checks, voids or clears it)",
                        s.state.name()
                    )));
                }
            }
            let rec = ShipmentRecord {
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
            };
            tx.floor
                .insert(key(SHIPMENT, id.as_str().as_bytes()), encode(&rec))?;
            audit::append(
                tx.audit,
                tx.meta,
                &audit::Record {
                    at: now,
                    user,
                    action: "label_purchase_intent",
                    order: Some(id.as_str()),
                    reason: None,
                },
            )?;
            Ok(())
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
            let Some(v) = tx.orders.get(id.as_str())? else {
                return abort(Error::NoSuchOrder(id.clone()));
            };
            let current = super::decode_record(&v).or_else(abort)?;
            let labelled = current.state == crate::domain::OrderState::Packed;
            let rec = if labelled {
                step(tx, id, Event::LabelBought, user, None, now)?
            } else {
                let note = format!(
                    "a label was bought (shipment {}) while the order was {}: void it or resolve to Labelled",
                    record.shipment_id.as_deref().unwrap_or("?"),
                    current.state
                );
                if current.state.is_closed() || current.state == crate::domain::OrderState::Exception
                {
                    audit::append(
                        tx.audit,
                        tx.meta,
                        &audit::Record {
                            at: now,
                            user,
                            action: "label_bought",
                            order: Some(id.as_str()),
                            reason: Some(&note),
                        },
                    )?;
                    current
                } else {
                    exception_step(tx, id, Event::RaiseException, user, &note, now)?
                }
            };
            tx.floor
                .insert(key(SHIPMENT, id.as_str().as_bytes()), encode(record))?;
            tx.floor
                .insert(key(LABEL, id.as_str().as_bytes()), sealed.as_slice())?;
            tx.floor.insert(day_key(local_day(now), id), &[])?;
            Ok((rec, labelled))
        })?;
        self.flush()?;
        Ok(out)
    }

    /// Amazon refused the purchase outright (nothing was bought): the intent is dropped, and
    /// only the intent (a record written meanwhile stays).
    pub fn abandon_purchase(&self, id: &OrderId) -> Result<(), Error> {
        let k = key(SHIPMENT, id.as_str().as_bytes());
        if let Some(v) = self.t.floor.get(&k)? {
            let s: ShipmentRecord = decode(&v, "shipment")?;
            if s.state == ShipmentState::PurchaseIntent {
                // Compare-and-swap: never removes anything but this very intent.
                let _ = self.t.floor.compare_and_swap(&k, Some(v), None::<&[u8]>)?;
            }
        }
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
            let k = key(SHIPMENT, id.as_str().as_bytes());
            let Some(v) = tx.floor.get(&k)? else {
                return abort(Error::Usage(format!("order {id} has no purchase to clear")));
            };
            let s: ShipmentRecord = decode(&v, "shipment").or_else(abort)?;
            if !matches!(
                s.state,
                ShipmentState::PurchaseIntent | ShipmentState::OutcomeUnknown
            ) {
                return abort(Error::Usage(format!(
                    "order {id}: {}; only an unknown purchase can be cleared",
                    s.state.name()
                )));
            }
            tx.floor.remove(k)?;
            audit::append(
                tx.audit,
                tx.meta,
                &audit::Record {
                    at: now,
                    user,
                    action: "label_purchase_cleared",
                    order: Some(id.as_str()),
                    reason: Some(reason),
                },
            )?;
            Ok(())
        })?;
        self.flush()
    }

    /// After a restart: a purchase intent left behind means the process stopped while Amazon
    /// was asked. Each becomes "outcome unknown" with an exception for a lead. Returns how many.
    pub fn recover_purchases(&self, now: DateTime<Utc>) -> Result<usize, Error> {
        let mut stuck = Vec::new();
        for item in self.t.floor.scan_prefix([SHIPMENT]) {
            let (_, v) = item?;
            let s: ShipmentRecord = decode(&v, "shipment")?;
            if s.state == ShipmentState::PurchaseIntent {
                stuck.push(s.order);
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
        Ok(self.shipment(id)?.is_some_and(|s| {
            matches!(
                s.state,
                ShipmentState::PurchaseIntent | ShipmentState::OutcomeUnknown
            )
        }))
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
        let note = format!(
            "label purchase outcome unknown ({detail}): look the shipment up or void it before buying again"
        );
        self.transact(|tx| {
            if let Some(v) = tx.floor.get(key(SHIPMENT, id.as_str().as_bytes()))? {
                let mut s: ShipmentRecord = decode(&v, "shipment").or_else(abort)?;
                s.state = ShipmentState::OutcomeUnknown;
                s.at = now;
                tx.floor
                    .insert(key(SHIPMENT, id.as_str().as_bytes()), encode(&s))?;
            }
            let state = match tx.orders.get(id.as_str())? {
                Some(v) => super::decode_record(&v).or_else(abort)?.state,
                None => return abort(Error::NoSuchOrder(id.clone())),
            };
            if state.is_closed() || state == crate::domain::OrderState::Exception {
                audit::append(
                    tx.audit,
                    tx.meta,
                    &audit::Record {
                        at: now,
                        user,
                        action: "label_purchase_unknown",
                        order: Some(id.as_str()),
                        reason: Some(&note),
                    },
                )?;
            } else {
                exception_step(tx, id, Event::RaiseException, user, &note, now)?;
            }
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
        let id = &record.order;
        self.transact(|tx| {
            tx.floor
                .insert(key(SHIPMENT, id.as_str().as_bytes()), encode(record))?;
            tx.floor
                .insert(key(LABEL, id.as_str().as_bytes()), sealed.as_slice())?;
            tx.floor.insert(day_key(local_day(record.at), id), &[])?;
            Ok(())
        })?;
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
            let Some(v) = tx.floor.get(key(SHIPMENT, id.as_str().as_bytes()))? else {
                return abort(Error::Usage(format!("order {id} has no label to void")));
            };
            let mut s: ShipmentRecord = decode(&v, "shipment").or_else(abort)?;
            if let Some(v) = tx.orders.get(id.as_str())?
                && super::decode_record(&v).or_else(abort)?.state
                    == crate::domain::OrderState::Labelled
            {
                step(tx, id, Event::LabelVoided, user, Some(reason), now)?;
            } else {
                audit::append(
                    tx.audit,
                    tx.meta,
                    &audit::Record {
                        at: now,
                        user,
                        action: "label_voided",
                        order: Some(id.as_str()),
                        reason: Some(reason),
                    },
                )?;
            }
            tx.floor.remove(day_key(local_day(s.at), id))?;
            s.state = ShipmentState::Voided;
            s.at = now;
            tx.floor
                .insert(key(SHIPMENT, id.as_str().as_bytes()), encode(&s))?;
            tx.floor.remove(key(LABEL, id.as_str().as_bytes()))?;
            Ok(())
        })?;
        self.flush()
    }

    /// Opens a bought label for the printer. Needs the store unlocked.
    pub fn label(&self, id: &OrderId) -> Result<zeroize::Zeroizing<Vec<u8>>, Error> {
        let v = self
            .t
            .floor
            .get(key(LABEL, id.as_str().as_bytes()))?
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
            let Some(v) = tx.orders.get(id.as_str())? else {
                return abort(Error::NoSuchOrder(id.clone()));
            };
            let order = super::decode_record(&v).or_else(abort)?;
            if order.state != crate::domain::OrderState::Packed {
                return abort(Error::Usage(format!(
                    "order {id} is {}: own-carrier shipments are for packed orders",
                    order.state
                )));
            }
            if let Some(v) = tx.floor.get(key(SHIPMENT, id.as_str().as_bytes()))? {
                let s: ShipmentRecord = decode(&v, "shipment").or_else(abort)?;
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
            tx.floor
                .insert(key(SHIPMENT, id.as_str().as_bytes()), encode(&rec))?;
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
            tx.floor
                .insert(key(SHIPMENT, id.as_str().as_bytes()), encode(&s))?;
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

    /// Queues a print job (not flushed separately: the audit entry of a reprint is).
    pub fn queue_print(
        &self,
        order: &OrderId,
        document: Document,
        printer: &str,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<PrintJob, Error> {
        let id = self.db.generate_id()?;
        let job = PrintJob {
            id,
            order: order.clone(),
            document,
            printer: printer.to_owned(),
            state: JobState::Queued,
            attempts: 0,
            error: None,
            created: now,
            by: user.to_owned(),
        };
        let reprint = self
            .print_jobs()?
            .iter()
            .any(|j| j.order == *order && j.document == document && j.state == JobState::Sent);
        self.transact(|tx| {
            tx.floor.insert(key(JOB, &id.to_be_bytes()), encode(&job))?;
            audit::append(
                tx.audit,
                tx.meta,
                &audit::Record {
                    at: now,
                    user,
                    action: if reprint { "reprint" } else { "print" },
                    order: Some(order.as_str()),
                    reason: Some(document.name()),
                },
            )?;
            Ok(())
        })?;
        self.flush()?;
        Ok(job)
    }

    pub fn save_print_job(&self, job: &PrintJob) -> Result<(), Error> {
        self.t
            .floor
            .insert(key(JOB, &job.id.to_be_bytes()), encode(job))?;
        self.flush()
    }

    /// Every print job still kept (sent jobs are kept a while for reprints and the record).
    pub fn print_jobs(&self) -> Result<Vec<PrintJob>, Error> {
        self.t
            .floor
            .scan_prefix([JOB])
            .map(|item| decode(&item?.1, "print job"))
            .collect()
    }
}

/// Removes an order's shipping entries (retention deleting the order record).
pub(super) fn forget(tx: &super::Tx<'_>, id: &str) -> super::TxResult<()> {
    tx.floor.remove(key(SHIPMENT, id.as_bytes()))?;
    tx.floor.remove(key(LABEL, id.as_bytes()))?;
    Ok(())
}

/// Removes a sealed label (retention destroying the recipient's data); returns its envelope's
/// epoch, so retention can mark that epoch as holding gone data.
pub(super) fn drop_label(tx: &super::Tx<'_>, id: &str) -> super::TxResult<Option<u32>> {
    Ok(tx
        .floor
        .remove(key(LABEL, id.as_bytes()))?
        .and_then(|v| super::seal::envelope_epoch(&v)))
}
