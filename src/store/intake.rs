//! Imports: what the import decision (`domain::import`) makes of Amazon's orders, kept in
//! chunks of one transaction each, and new orders' fast path of per-tree batches.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use chrono::{DateTime, Utc};

use super::ImportCounts;
use super::backend::Batch;
use super::{
    Error, Store, Tx, TxResult, abort, audit, audit_in, decode_record, derived, encode_record,
    epoch_key, index, queue_key, seal, slot, write_record,
};
use crate::domain::import::{self, ImportOutcome, ImportedOrder};
use crate::domain::{Event, OrderId, OrderRecord};
use crate::store::refusal::FloorRefusal;

impl Store {
    /// Imports parsed orders, keeping what the import decision (`domain::import`) makes of each:
    /// new actionable orders are sealed and queued; known orders are updated when Amazon's copy
    /// is newer (a cancellation cancels); the rest is skipped. Needs no secret. Everything is flushed before returning.
    ///
    /// Changes to known orders are one transaction per chunk, with their audit entries. New
    /// orders, the bulk of any import, take a faster path: per-tree batches, the order record
    /// last. A crash part-way leaves at most index entries and sealed slots of orders that are not
    /// stored; the next import of those orders rewrites them whole, readers skip them, and purge
    /// removes any that remain.
    pub fn import(
        &mut self,
        orders: Vec<ImportedOrder>,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<ImportCounts, Error> {
        self.in_steps(|s| s.import_steps(orders, user, now))
    }

    pub(super) fn import_steps(
        &mut self,
        orders: Vec<ImportedOrder>,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<ImportCounts, Error> {
        let mut counts = ImportCounts::default();
        // The same order twice in one import (overlapping pages): only Amazon's newest copy counts.
        let mut newest: HashMap<OrderId, usize> = HashMap::with_capacity(orders.len());
        for (i, o) in orders.iter().enumerate() {
            match newest.entry(o.order.id.clone()) {
                Entry::Vacant(e) => {
                    e.insert(i);
                }
                Entry::Occupied(mut e) => {
                    counts.unchanged += 1;
                    if orders[*e.get()].order.updated <= o.order.updated {
                        e.insert(i);
                    }
                }
            }
        }
        let mut it = orders
            .into_iter()
            .enumerate()
            .filter(|(i, o)| newest.get(&o.order.id) == Some(i))
            .map(|(_, o)| o)
            .peekable();
        while it.peek().is_some() {
            let chunk: Vec<ImportedOrder> = it.by_ref().take(IMPORT_CHUNK).collect();
            let (mut fresh, mut known) = (Vec::new(), Vec::new());
            let mut these = ImportCounts::default();
            for imported in chunk {
                match self.plan_import(imported, now, &mut these)? {
                    Some(p) if p.old.is_none() && !p.leftover_slot => fresh.push(p),
                    Some(p) => known.push(p),
                    None => {}
                }
            }
            // The chunk's audit entry goes first, durably: an import cut short never leaves a
            // stored order that no entry accounts for.
            if these.new + these.updated + these.cancelled > 0 {
                let reason = format!(
                    "{} new, {} updated, {} cancelled",
                    these.new, these.updated, these.cancelled
                );
                self.record_audit(&audit::Record {
                    at: now,
                    user,
                    action: "import",
                    order: None,
                    reason: Some(&reason),
                })?;
            }
            counts += these;
            if !fresh.is_empty() {
                self.store_new(&fresh)?;
            }
            if !known.is_empty() {
                let mut ops = derived::IndexOps::default();
                for p in &known {
                    self.plan_index(p, &mut ops)?;
                }
                let d = self.derived()?;
                ops.write_additions(d)?;
                self.transact(|tx| {
                    for p in &known {
                        apply_plan(tx, p, user, now)?;
                    }
                    Ok(())
                })?;
                ops.write_removals(d)?;
            }
        }
        self.flush()?;
        Ok(counts)
    }

    /// Writes orders the store has never seen: their index entries first (durably), then
    /// per-tree batches, the order record last.
    pub(super) fn store_new(&self, plans: &[ImportPlan]) -> Result<(), Error> {
        let mut ops = derived::IndexOps::default();
        let mut recipients = Batch::default();
        let mut pending = Batch::default();
        let mut queue = Batch::default();
        let mut orders = Batch::default();
        for p in plans {
            let rec = &p.record;
            let id = rec.order.id.as_str();
            if let Some(s) = &p.sealed {
                match &s.names {
                    Some(keys) => {
                        recipients.insert(id, slot(&s.envelope, keys));
                        ops.add_names(id.as_bytes(), keys.iter().map(|k| &k[..]));
                    }
                    None => {
                        recipients.insert(id, s.envelope.as_slice());
                        pending.insert(id, []);
                    }
                }
            }
            ops.add_lines(&rec.order);
            queue.insert(queue_key(rec), []);
            orders.insert(id, encode_record(rec));
        }
        ops.write_additions(self.derived()?)?;
        self.t.recipients.apply_batch(recipients)?;
        self.t.pending_index.apply_batch(pending)?;
        self.t.queue.apply_batch(queue)?;
        let recs: Vec<&OrderRecord> = plans.iter().map(|p| &p.record).collect();
        self.open_added(&recs)?;
        self.t.orders.apply_batch(orders)?;
        self.open_settled()
    }

    /// The index entries a known order's import changes: SKU entries when its lines changed,
    /// name entries when it is re-sealed. The store is held exclusively during an import, so the
    /// slot read here is the one the transaction replaces.
    pub(super) fn plan_index(
        &self,
        p: &ImportPlan,
        ops: &mut derived::IndexOps,
    ) -> Result<(), Error> {
        let id = p.record.order.id.as_str();
        match &p.old {
            Some(old) => ops.change_lines(&old.order, &p.record.order),
            None => ops.add_lines(&p.record.order),
        }
        if let Some(s) = &p.sealed {
            if (p.old.is_some() || p.leftover_slot)
                && let Some(old) = self.t.recipients.get(id)?
            {
                ops.remove_names(id.as_bytes(), &old);
            }
            if let Some(names) = &s.names {
                ops.add_names(id.as_bytes(), names.iter().map(|k| &k[..]));
            }
        }
        Ok(())
    }

    pub(super) fn plan_import(
        &mut self,
        imported: ImportedOrder,
        now: DateTime<Utc>,
        counts: &mut ImportCounts,
    ) -> Result<Option<ImportPlan>, Error> {
        let old = self.get(&imported.order.id)?;
        let id = imported.order.id.clone();
        // Whether packline holds (or may hold) the order's shipment: Amazon shipping an order
        // packline bought a label for confirms that label, it is never "shipped elsewhere". Only
        // a known order can have one.
        let shipment = match &old {
            Some(_) => self.shipment_state(&id)?,
            None => None,
        };
        // A known order may move on the floor (another process claims it) between this plan
        // and its transaction: Amazon's copy is kept for the domain to decide again there.
        let again = match import::outcome(&imported, old.as_ref(), shipment) {
            ImportOutcome::Skipped(_) | ImportOutcome::Unchanged => None,
            _ => old.as_ref().map(|_| imported.clone()),
        };
        let decided = import::decide(imported, old.as_ref(), shipment, now)
            .map_err(|source| Error::Transition { order: id, source })?;
        counts.add(decided.outcome);
        let Some(record) = decided.record else {
            return Ok(None);
        };
        let sealed = match decided.recipient {
            Some(r) => {
                let (envelope, epoch) = self.keyring.seal(&r, now)?;
                let names = self
                    .keyring
                    .index_key(epoch)
                    .map(|k| index::name_keys(k, &r.name));
                Some(Sealed {
                    envelope,
                    epoch,
                    names,
                })
            }
            None => None,
        };
        let outcome = decided.outcome;
        let leftover_slot =
            old.is_none() && self.t.recipients.contains_key(record.order.id.as_str())?;
        Ok(Some(ImportPlan {
            old,
            leftover_slot,
            record,
            outcome,
            sealed,
            again,
        }))
    }
}

pub(super) const IMPORT_CHUNK: usize = 512;

pub(super) struct Sealed {
    envelope: Vec<u8>,
    epoch: u32,
    /// Blind-index keys, when the store was unlocked at import; else the order waits in
    /// `pending_index` for the next unlock.
    names: Option<Vec<index::NameKey>>,
}

pub(super) struct ImportPlan {
    old: Option<OrderRecord>,
    /// A sealed slot exists for an order that is not stored (an import cut short by a crash):
    /// it is replaced like a known order's, clearing its index entries and marking its epoch.
    leftover_slot: bool,
    record: OrderRecord,
    outcome: ImportOutcome,
    sealed: Option<Sealed>,
    /// Amazon's copy of a known order, for the domain to decide again should the order move
    /// before the plan is kept.
    again: Option<ImportedOrder>,
}

/// Keeps an import plan, inside a transaction. The plan was made on the order as it was read
/// before; if it has moved since (claimed, packed, by another process on the store), the domain
/// decides again on the order as it is now, and that is kept instead.
pub(super) fn apply_plan(
    tx: &Tx<'_>,
    p: &ImportPlan,
    user: &str,
    now: DateTime<Utc>,
) -> TxResult<()> {
    let id = p.record.order.id.as_str();
    let current = match tx.orders.get(id)? {
        Some(v) => Some(decode_record(&v).or_else(abort)?),
        None => None,
    };
    let mut sealed = p.sealed.as_ref();
    let again;
    let (record, outcome) = if current == p.old {
        (&p.record, p.outcome)
    } else {
        let changed = || -> Error {
            FloorRefusal::ChangedWhileImported {
                order: p.record.order.id.clone(),
            }
            .into()
        };
        let Some(imported) = &p.again else {
            return abort(changed());
        };
        let order = &p.record.order.id;
        let shipment = super::shipping::shipment_state_in(tx, order)?;
        let decided = import::decide(imported.clone(), current.as_ref(), shipment, now)
            .map_err(|source| Error::Transition {
                order: order.clone(),
                source,
            })
            .or_else(abort)?;
        let Some(record) = decided.record else {
            return Ok(());
        };
        // The recipient was sealed with the plan (nothing is sealed inside a transaction): kept
        // only while the order still wants it.
        match (decided.recipient.is_some(), sealed.is_some()) {
            (true, false) => return abort(changed()),
            (false, _) => sealed = None,
            (true, true) => {}
        }
        again = record;
        (&again, decided.outcome)
    };
    write_record(tx, current.as_ref(), record)?;
    if let Some(s) = sealed {
        // Only a known order (or a crash's leftover) can have a slot already.
        if current.is_some() || p.leftover_slot {
            if let Some(old) = tx.recipients.get(id)?
                && let Some(old_epoch) = seal::envelope_epoch(&old)
                && old_epoch != s.epoch
            {
                tx.epochs.insert(epoch_key(old_epoch, id), [])?;
            }
            tx.pending_index.remove(id)?;
        }
        match &s.names {
            Some(names) => {
                tx.recipients.insert(id, slot(&s.envelope, names))?;
            }
            None => {
                tx.recipients.insert(id, s.envelope.as_slice())?;
                tx.pending_index.insert(id, [])?;
            }
        }
    }
    if outcome == ImportOutcome::Cancelled {
        // Amazon's Pre-fulfillment Cancel Rate counts the cancellations the buyer did not ask
        // for: counted here, with every cancellation, on the day packline learns of it.
        use crate::domain::report::Metric;
        let buyer = p.again.as_ref().is_some_and(|o| o.buyer_cancel_requested)
            || super::floor::buyer_asked_in(tx, id)?;
        super::stats::day(tx, now, Metric::Cancellations, 1)?;
        if !buyer {
            super::stats::day(tx, now, Metric::SellerCancellations, 1)?;
        }
    }
    let (action, reason) = match outcome {
        ImportOutcome::Cancelled => (Event::Cancel.name(), "cancelled at Amazon"),
        ImportOutcome::ShippedElsewhere => (
            Event::ShippedElsewhere.name(),
            "shipped outside packline, per Amazon",
        ),
        // Nothing moves: the order leaves on a manifest, or a lead settles its exception.
        ImportOutcome::ShipmentConfirmed => (
            "amazon_confirmed_shipment",
            "Amazon reports shipped what packline shipped (a label bought or maybe bought, or an own-carrier confirmation): the order stays where it is",
        ),
        _ => return Ok(()),
    };
    audit_in(tx, user, action, Some(id), Some(reason), now)?;
    Ok(())
}
