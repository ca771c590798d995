//! Retention: destroying what packline no longer needs, on schedule. The schedule is the
//! domain's (`domain::RetentionPolicy`); this module carries it out.
//!
//! - Recipient data: deleted `pii_days_after_close` days after an order ships or is cancelled,
//!   then made unrecoverable by shredding the key epoch it was sealed under (sled's log may keep
//!   stale copies of deleted values; without the epoch secret they are noise).
//! - Order records (no personal data): deleted six years after shipment or cancellation.
//! - Exception notes and resolutions: deleted one year after resolution, their sealed words'
//!   epochs then shredded like an inquiry's; hold, reveal and void reasons (sealed) go with the
//!   order's recipient (a hold's also when it is released). See `notes`.
//! - Returns (no personal data): deleted six years after they were closed (or, never closed,
//!   recorded), like order records.
//! - Customer inquiries: the record and its sealed notes, deleted one year after resolution (at
//!   the start of that day), their epochs then shredded like a recipient's.
//!
//! Epoch rules, which keep every recipient readable while it is needed and no longer:
//! a key epoch other than the current intake epoch is shredded once it holds no live record, or
//! once any of its records is gone (expired, or moved by an address change). Its remaining live
//! records (recipients and inquiry notes) are first re-sealed to their home: open orders and open
//! inquiries to the current intake epoch, closed orders and resolved inquiries to the epoch of the
//! day their retention ends (so that epoch expires whole, with no more moves).
//! Re-sealing needs the store unlocked; while locked, an epoch that still holds a live record is
//! kept and the report says so.

mod epochs;

use crate::store::backend::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{OrderRecord, RetentionPolicy};
use crate::store::derived::{IndexOps, name_entry_id, sku_id};
use crate::store::inquiry::{self, note_mark, notes_prefix, split_note_key};
use crate::store::notes;
use crate::store::{
    Error, Store, TxResult, audit, decode_record, encode_record, epoch_key, index, seal, slot_names,
};

/// What a purge did: counts only.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct PurgeReport {
    pub recipients_destroyed: u64,
    pub orders_deleted: u64,
    pub exception_notes_deleted: u64,
    pub recipients_resealed: u64,
    pub epochs_shredded: u64,
    /// Epochs that hold expired data but also live records that could not be re-sealed because
    /// the store is locked.
    pub epochs_kept_locked: u64,
    /// Entries left by an import cut short by a crash (indexes or sealed recipients of orders
    /// that were never stored), removed.
    pub orphans_removed: u64,
    /// Customer inquiries destroyed (record and sealed notes), a year after resolution.
    #[serde(default)]
    pub inquiries_deleted: u64,
    /// Notes of inquiries still kept, moved out of an epoch being shredded.
    #[serde(default)]
    pub inquiry_notes_resealed: u64,
    /// Bought labels of orders still open (or within their retention) moved out of an epoch
    /// being shredded, like their recipients.
    #[serde(default)]
    pub labels_resealed: u64,
    /// Return records deleted, six years after they were closed.
    #[serde(default)]
    pub returns_deleted: u64,
    /// Backups deleted at the personal-data limit (they hold recipients and key epochs).
    #[serde(default)]
    pub backups_pruned: u64,
    /// Sealed words deleted (exception notes and resolutions a year after resolution; hold,
    /// reveal and void reasons with their order's recipient), their epochs marked for shredding.
    #[serde(default)]
    pub sealed_notes_deleted: u64,
    /// Sealed words still kept, moved out of an epoch being shredded.
    #[serde(default)]
    pub sealed_notes_resealed: u64,
    /// Day records deleted six years after their day: the marks of what shipped that day
    /// (its manifest) and its collection forms.
    #[serde(default)]
    pub day_records_deleted: u64,
}

const BATCH: usize = 512;

/// What a purge as of a time would destroy of the order records, counted without changing
/// anything (the dashboard's preview). Exception notes, inquiries and returns are not counted.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct PurgePreview {
    pub recipients_destroyed: u64,
    pub orders_deleted: u64,
}

impl Store {
    /// Counts what [`Store::purge`] would destroy as of `as_of`, by the same rule as it (an
    /// order past its record's expiry is deleted, one past its recipient's loses it). Reads
    /// every order: run it in the background, never on a screen's time.
    pub fn purge_preview(
        &self,
        policy: RetentionPolicy,
        as_of: DateTime<Utc>,
    ) -> Result<PurgePreview, Error> {
        let mut p = PurgePreview::default();
        for item in self.t.orders.iter() {
            let (_, v) = item?;
            let rec = decode_record(&v)?;
            let Some(closed_at) = rec.closed_at else {
                continue;
            };
            if policy.order_expiry(closed_at) <= as_of {
                p.orders_deleted += 1;
                if !rec.recipient_purged {
                    p.recipients_destroyed += 1;
                }
            } else if policy.pii_expiry(closed_at) <= as_of && !rec.recipient_purged {
                p.recipients_destroyed += 1;
            }
        }
        Ok(p)
    }
}

impl Store {
    /// Applies the retention policy as of `as_of` (normally `now`; a later time destroys data
    /// early, an earlier one catches up nothing). Idempotent. The audit entry is stamped `now`.
    pub fn purge(
        &mut self,
        policy: RetentionPolicy,
        as_of: DateTime<Utc>,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<PurgeReport, Error> {
        let mut report = PurgeReport::default();
        let sweep = self.unsettled();
        let outcome = sweep.and_then(|sweep| {
            self.in_steps(|s| s.purge_steps(policy, as_of, now, sweep, &mut report))
        });
        // The audit entry records what was done, also when a later step failed.
        let reason = format!(
            "as of {}: {} recipients destroyed, {} orders deleted, {} notes deleted, {} inquiries deleted, {} returns deleted, {} backups deleted, {} re-sealed, {} inquiry notes re-sealed, {} labels re-sealed, {} sealed notes deleted, {} sealed notes re-sealed, {} epochs shredded, {} kept (locked), {} orphans removed, {} day records deleted{}",
            as_of.to_rfc3339(),
            report.recipients_destroyed,
            report.orders_deleted,
            report.exception_notes_deleted,
            report.inquiries_deleted,
            report.returns_deleted,
            report.backups_pruned,
            report.recipients_resealed,
            report.inquiry_notes_resealed,
            report.labels_resealed,
            report.sealed_notes_deleted,
            report.sealed_notes_resealed,
            report.epochs_shredded,
            report.epochs_kept_locked,
            report.orphans_removed,
            report.day_records_deleted,
            if outcome.is_err() {
                "; stopped by an error"
            } else {
                ""
            }
        );
        self.record_audit(&audit::Record {
            at: now,
            user,
            action: "purge",
            order: None,
            reason: Some(&reason),
        })?;
        outcome.map(|()| report)
    }

    fn purge_steps(
        &mut self,
        policy: RetentionPolicy,
        as_of: DateTime<Utc>,
        now: DateTime<Utc>,
        sweep: bool,
        report: &mut PurgeReport,
    ) -> Result<(), Error> {
        self.purge_orders(policy, as_of, report)?;
        self.purge_exception_notes(as_of, report)?;
        self.purge_inquiries(as_of, report)?;
        report.returns_deleted += self.purge_returns(policy, as_of)?;
        // A day's manifest marks and collection forms name that day's orders: they go when
        // those orders' records do.
        if let Some(day) = super::shipping::local_day(as_of)
            .checked_sub_months(chrono::Months::new(RetentionPolicy::ORDER_MONTHS))
        {
            report.day_records_deleted += self.forget_days_before(day)?;
        }
        // A backup holds recipients and key epochs: it goes at the personal-data limit.
        report.backups_pruned += self.prune_backups(
            as_of - chrono::Duration::days(i64::from(policy.pii_days_after_close)),
        )?;
        if sweep {
            self.remove_orphans(report)?;
        }
        self.shred_epochs(policy, now, report)
    }

    /// Deletes expired recipients and expired order records.
    fn purge_orders(
        &mut self,
        policy: RetentionPolicy,
        as_of: DateTime<Utc>,
        report: &mut PurgeReport,
    ) -> Result<(), Error> {
        enum Action {
            DropRecipient(OrderRecord),
            DeleteOrder(OrderRecord),
        }
        let mut actions = Vec::new();
        for item in self.t.orders.iter() {
            let (_, v) = item?;
            let rec = decode_record(&v)?;
            let Some(closed_at) = rec.closed_at else {
                continue;
            };
            if policy.order_expiry(closed_at) <= as_of {
                actions.push(Action::DeleteOrder(rec));
            } else if policy.pii_expiry(closed_at) <= as_of && !rec.recipient_purged {
                actions.push(Action::DropRecipient(rec));
            }
        }
        for chunk in actions.chunks(BATCH) {
            // The order's sealed words on its personal-data schedule (hold, reveal and void
            // reasons), and, with the order, its exception notes' (the store is held
            // exclusively: what is read here is what the transaction removes).
            let mut texts = Vec::new();
            for a in chunk {
                let (rec, delete) = match a {
                    Action::DropRecipient(r) => (r, false),
                    Action::DeleteOrder(r) => (r, true),
                };
                let id = rec.order.id.as_str();
                for prefix in notes::pii_prefixes(id) {
                    texts.extend(self.texts_under(&prefix)?.into_iter().map(|(r, _)| r));
                }
                if delete {
                    let prefix = format!("exceptions/{id}/");
                    texts.extend(self.texts_under(&prefix)?.into_iter().map(|(r, _)| r));
                }
            }
            let texts_dropped = texts.len() as u64;
            let (slots, deleted, notes) = self.transact(|tx| {
                for r in &texts {
                    notes::drop_ref_in(tx, r)?;
                }
                let (mut slots, mut deleted, mut notes) = (Vec::new(), 0u64, 0u64);
                for a in chunk {
                    let (rec, delete) = match a {
                        Action::DropRecipient(r) => (r, false),
                        Action::DeleteOrder(r) => (r, true),
                    };
                    let id = rec.order.id.as_str();
                    if let Some(slot) = drop_recipient(tx, id)? {
                        slots.push((id, slot));
                    }
                    if delete {
                        tx.orders.remove(id)?;
                        crate::store::shipping::forget(tx, id)?;
                        crate::store::floor::forget(tx, id)?;
                        tx.queue.remove(crate::store::queue_key(rec))?;
                        if let Some(v) = tx.exceptions.take(id)? {
                            notes += notes::decode_exceptions(&v).map_or(1, |n| n.len() as u64);
                        }
                        deleted += 1;
                    } else {
                        let mut next = rec.clone();
                        next.recipient_mask = None;
                        next.recipient_purged = true;
                        tx.orders.insert(id, encode_record(&next))?;
                    }
                }
                Ok((slots, deleted, notes))
            })?;
            // The index entries go after the change that made them stale.
            let mut ops = IndexOps::default();
            for (id, slot) in &slots {
                ops.remove_names(id.as_bytes(), slot);
            }
            for a in chunk {
                if let Action::DeleteOrder(rec) = a {
                    ops.remove_lines(&rec.order);
                    // Where the account routed it goes with it.
                    self.forget_route(&rec.order.id)?;
                }
            }
            ops.write_removals(self.derived()?)?;
            report.recipients_destroyed += slots.len() as u64;
            report.orders_deleted += deleted;
            report.exception_notes_deleted += notes;
            report.sealed_notes_deleted += texts_dropped;
        }
        Ok(())
    }

    /// Deletes inquiries a year past their resolution: the record, and every sealed note, whose
    /// epochs are marked so they are shredded (stale copies in sled's log included).
    fn purge_inquiries(
        &mut self,
        as_of: DateTime<Utc>,
        report: &mut PurgeReport,
    ) -> Result<(), Error> {
        let due: Vec<u64> = self
            .inquiries()?
            .into_iter()
            .filter(|q| {
                q.resolved_at
                    .is_some_and(|r| RetentionPolicy::inquiry_expiry(r) <= as_of)
            })
            .map(|q| q.id)
            .collect();
        for chunk in due.chunks(BATCH) {
            // The store is held exclusively: the notes read here are the ones the transaction
            // removes (sled transactions cannot scan).
            let mut notes = Vec::new();
            for &id in chunk {
                for item in self.t.inquiries.scan_prefix(notes_prefix(id)) {
                    let (k, v) = item?;
                    let mark = split_note_key(&k).map(|(q, n)| note_mark(q, n));
                    notes.push((k, seal::envelope_epoch(&v), mark));
                }
            }
            self.transact(|tx| {
                for &id in chunk {
                    tx.inquiries.remove(inquiry::record_key(id))?;
                }
                for (k, epoch, mark) in &notes {
                    tx.inquiries.remove(k)?;
                    if let (Some(epoch), Some(mark)) = (epoch, mark) {
                        tx.epochs.insert(epoch_key(*epoch, mark), [])?;
                    }
                }
                Ok(())
            })?;
            report.inquiries_deleted += chunk.len() as u64;
        }
        Ok(())
    }

    /// Removes what a change cut short by a crash or an error may have left (the purge calls this
    /// only when such a change is marked): sealed recipients, pending marks, queue and SKU entries
    /// of orders that were never stored, and index entries a change added or left behind. A
    /// sealed recipient without its order would otherwise never meet a retention clock.
    fn remove_orphans(&mut self, report: &mut PurgeReport) -> Result<(), Error> {
        let missing = |id: &[u8]| -> Result<bool, Error> { Ok(!self.t.orders.contains_key(id)?) };
        let mut slots = Vec::new();
        for k in self.t.recipients.iter().keys() {
            let k = k?;
            if missing(&k)? {
                slots.push(String::from_utf8_lossy(&k).into_owned());
            }
        }
        let mut pending = Vec::new();
        for k in self.t.pending_index.iter().keys() {
            let k = k?;
            if !self.t.recipients.contains_key(&k)? {
                pending.push(k);
            }
        }
        let mut queue = Vec::new();
        for k in self.t.queue.iter().keys() {
            let k = k?;
            if self.queue_entry(&k)?.is_none() {
                queue.push(k);
            }
        }
        // A SKU entry is stale when its order is gone or no longer has a line of that SKU; a name
        // entry, when its order's sealed slot no longer lists it.
        let d = self.derived()?;
        let mut sku = Vec::new();
        for k in d.sku.iter().keys() {
            let k = k?;
            let id = sku_id(&k);
            let sku_part = k
                .len()
                .checked_sub(id.len() + 1)
                .map_or(&k[..0], |n| &k[..n]);
            let current = match self.t.orders.get(id)? {
                Some(v) => decode_record(&v)?
                    .order
                    .lines
                    .iter()
                    .any(|l| l.sku.as_bytes() == sku_part),
                None => false,
            };
            if !current {
                sku.push(k);
            }
        }
        let mut names = Vec::new();
        for k in d.names.iter().keys() {
            let k = k?;
            let listed = match self.t.recipients.get(name_entry_id(&k))? {
                Some(v) => slot_names(&v).any(|n| Some(n) == k.get(..index::NAME_KEY_LEN)),
                None => false,
            };
            if !listed {
                names.push(k);
            }
        }
        report.orphans_removed +=
            (slots.len() + pending.len() + queue.len() + sku.len() + names.len()) as u64;
        for chunk in slots.chunks(BATCH) {
            let gone = self.transact(|tx| {
                let mut gone = Vec::new();
                for id in chunk {
                    if let Some(slot) = drop_recipient(tx, id)? {
                        gone.push((id, slot));
                    }
                }
                Ok(gone)
            })?;
            let mut ops = IndexOps::default();
            for (id, slot) in &gone {
                ops.remove_names(id.as_bytes(), slot);
            }
            ops.write_removals(d)?;
        }
        for k in pending {
            self.t.pending_index.remove(k)?;
        }
        for k in queue {
            self.t.queue.remove(k)?;
        }
        for k in sku {
            d.sku.remove(k)?;
        }
        for k in names {
            d.names.remove(k)?;
        }
        Ok(())
    }
}

/// Deletes an order's sealed recipient and marks its epoch entry gone. Returns the slot deleted,
/// whose name index entries the caller removes once the transaction has committed.
pub(in crate::store) fn drop_recipient(
    tx: &crate::store::Tx<'_>,
    id: &str,
) -> TxResult<Option<Bytes>> {
    tx.pending_index.remove(id)?;
    // A bought label carries the address: it goes with the recipient, and its epoch is marked
    // so stale copies in sled's log are shredded with it.
    for epoch in crate::store::shipping::drop_label(tx, id)? {
        tx.epochs.insert(epoch_key(epoch, id), [])?;
    }
    let removed = tx.recipients.take(id)?;
    if let Some(epoch) = removed.as_deref().and_then(seal::envelope_epoch) {
        tx.epochs.insert(epoch_key(epoch, id), [])?;
    }
    Ok(removed)
}
