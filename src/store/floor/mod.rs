//! Work in progress on the floor, in the `floor` tree: who holds which order (claims), pick
//! batches with their scan counts, pack checks (`pack`), holds (`holds`) and the packages an order
//! leaves in.
//!
//! Claims are taken in one transaction with the orders' move to Picking, so two packers asking
//! at once never get the same order. Every other change too reads what it rests on, lets the
//! domain decide (with the caller's check of who may act, passed in), and writes, in one
//! transaction: two processes on one store can neither count a scan twice nor pack a held order.
//! Scan progress is written without a flush (sled makes it durable within its flush interval; a
//! lost scan is re-scanned), every state change is flushed.

mod holds;
mod pack;

pub(super) use holds::{buyer_asked_in, hold_in, refuse_held_in};
pub(super) use pack::{codes_of, package_numbers, refuse_dropping_labels, release_codes};

use chrono::{DateTime, Utc};

use super::backend::TxTree;
use super::notes::Words;
use super::records::{
    self,
    floor::{Batch2, Check2, ItemCodes2, Packages2},
};
use super::{Error, Store, Tx, TxResult, abort, audit_in, decode_record, exception_step, step};
use crate::domain::{
    CartRules, Event, FreeText, Locations, OrderId, OrderRecord, OrderState, PackCheck, Package,
    PackageItem, Parcel, PickBatch, PickEvent, Shortfall, UnitCode,
};
use crate::store::refusal::FloorRefusal;
pub use crate::store::values::ItemCodes;

const CLAIM: u8 = super::keys::floor::CLAIM;
const BATCH: u8 = super::keys::floor::BATCH;
const PACK: u8 = super::keys::floor::PACK;
/// An order's packages (`Vec<Package>`). Schema 1 kept one parcel (`p`) for an order packed
/// before boxes: the upgrade to schema 2 made it the order's packages.
const PACKAGES: u8 = super::keys::floor::PACKAGES;
pub(super) const HOLD: u8 = super::keys::floor::HOLD;
/// The per-unit codes recorded at the pack bench, by order item: what goes to Amazon with the
/// shipment.
const CODES: u8 = super::keys::floor::CODES;
/// A tote in use: tote barcode → the order in it, and the order → its tote.
const TOTE: u8 = super::keys::floor::TOTE;
const TOTE_OF: u8 = super::keys::floor::TOTE_OF;
/// A lead released the hold sync placed for a buyer's cancellation request: sync does not place
/// it again for the same order.
const OVERRULED: u8 = super::keys::floor::OVERRULED;
/// The order was recorded from Amazon, never imported (`elsewhere`): the mark goes with it.
const ELSEWHERE: u8 = super::keys::floor::ELSEWHERE;
// Also in this tree: `C` the Transparency codes used (`codes.rs`), `A` the report counters
// (`stats.rs`), and `s l d j i v w F` the shipments (`shipping.rs`). Every family is declared
// in `keys`.

/// Where an order's hold is kept.
pub(super) fn hold_key(id: &OrderId) -> Vec<u8> {
    key(HOLD, id.as_str().as_bytes())
}

fn key(kind: u8, id: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + id.len());
    k.push(kind);
    k.extend_from_slice(id);
    k
}

fn batch_key(id: u64) -> Vec<u8> {
    key(BATCH, &id.to_be_bytes())
}

fn decode_batch(bytes: &[u8]) -> Result<PickBatch, Error> {
    records::decode::<Batch2>(bytes)
}

fn decode_check(bytes: &[u8]) -> Result<PackCheck, Error> {
    records::decode::<Check2>(bytes)
}

fn decode_packages(bytes: &[u8]) -> Result<Vec<Package>, Error> {
    records::decode::<Packages2>(bytes)
}

/// A check's codes given to the order's items: a SKU's codes go to its items in order, as many
/// to each as it has units to ship.
fn item_codes(order: &crate::domain::Order, check: &PackCheck) -> Vec<ItemCodes> {
    let mut out = Vec::new();
    for line in &check.lines {
        for kind in &line.kinds {
            let mut codes = line
                .codes
                .iter()
                .filter(|c| c.kind == *kind)
                .map(|c| c.code.clone());
            for item in order.lines.iter().filter(|l| l.sku == line.sku) {
                let qty = item.quantity_ordered.saturating_sub(item.quantity_shipped) as usize;
                let mine: Vec<String> = codes.by_ref().take(qty).collect();
                if !mine.is_empty() {
                    out.push(ItemCodes {
                        item_id: item.item_id.clone(),
                        kind: *kind,
                        codes: mine,
                    });
                }
            }
        }
    }
    out
}

/// What a change on the floor decided in its transaction: `Ok(None)` when what it changes is
/// not there (no such batch open, no check at the bench); `Ok(Some(Err(e)))` when the caller's
/// check or the domain refused it with `e` (nothing is written); `Ok(Some(Ok(_)))` with what was
/// kept; `Err` for the store's own errors and refusals (a held order, a code used already).
pub type Decided<T, E> = Result<Option<Result<T, E>>, Error>;

/// What a bench found when it opened an order (`Store::open_at_bench`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AtBench {
    /// The order is not Picked (it is in this state): nothing was opened.
    NotPicked(OrderState),
    /// The check already open (whoever's), unchanged.
    Open(PackCheck),
    /// A new check, kept.
    Opened(PackCheck),
}

/// What happened to a claimed order while it was held.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LostClaim {
    pub order: OrderId,
    pub batch: u64,
    pub holder: String,
    pub state: OrderState,
    /// The order was put on hold (this reason, a lead's words sealed): it went back to New, off
    /// the batch.
    pub hold: Option<FreeText>,
    /// Units already put to it, now to be taken out of its slot: (SKU, units).
    pub put_aside: Vec<(String, u32)>,
    /// Its slot on the cart.
    pub slot: Option<u32>,
}

/// The value each batch had when this handle's scan last wrote it. A scan compares and swaps
/// from it, and reads the batch only when another write came between; kept for the batches
/// being scanned, at most [`Scanned::MOST`] of them.
#[derive(Default)]
pub(super) struct Scanned(
    std::sync::Mutex<std::collections::HashMap<u64, crate::store::backend::Bytes>>,
);

impl Scanned {
    const MOST: usize = 256;

    fn take(&self, batch: u64) -> Option<crate::store::backend::Bytes> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&batch)
    }

    fn keep(&self, batch: u64, value: crate::store::backend::Bytes) {
        let mut kept = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if kept.len() >= Self::MOST {
            kept.clear();
        }
        kept.insert(batch, value);
    }
}

impl Store {
    /// Claims up to `size` of the oldest-due New orders for `holder` as one pick batch. The
    /// orders move to Picking in the same transaction that records the claim. `None` when
    /// nothing is waiting.
    pub fn claim_batch(
        &self,
        holder: &str,
        size: usize,
        locations: &Locations,
        rules: &CartRules,
        now: DateTime<Utc>,
    ) -> Result<Option<PickBatch>, Error> {
        let size = size.max(1);
        let batch_id = self.db.generate_id()?;
        // Candidates are read outside the transaction (sled transactions cannot scan); each is
        // re-read inside it, so one taken meanwhile by someone else is passed over, never taken
        // twice. If others took enough of them that the batch would come up short, look again:
        // the queue has moved on since (a picker who asked for 8 gets 8 while 8 are waiting).
        const ATTEMPTS: usize = 64;
        let mut batch = None;
        // Held orders are passed over: look far enough past them (holds are a handful).
        let held = self.t.floor.scan_prefix([HOLD]).count();
        for attempt in 1..=ATTEMPTS {
            let candidates = self.ids_in(OrderState::New, size * 4 + held)?;
            if candidates.is_empty() {
                return Ok(None);
            }
            batch = self.transact(|tx| {
                // Read first, write after: a batch that would come up short is looked for again
                // before anything is written.
                let mut fresh = Vec::new();
                let mut taken_by_others = 0;
                for id in &candidates {
                    if fresh.len() == size {
                        break;
                    }
                    let Some(v) = tx.orders.get(id.as_str())? else {
                        continue;
                    };
                    if decode_record(&v).or_else(abort)?.state != OrderState::New {
                        taken_by_others += 1;
                        continue;
                    }
                    if tx.floor.get(key(HOLD, id.as_str().as_bytes()))?.is_some() {
                        continue;
                    }
                    fresh.push(id);
                }
                let short = fresh.len() < size && taken_by_others > 0 && attempt < ATTEMPTS;
                if fresh.is_empty() || short {
                    return Ok(None);
                }
                let mut orders = Vec::new();
                for id in fresh {
                    let rec = step(tx, id, Event::StartPick, holder, None, now)?;
                    tx.floor
                        .insert(key(CLAIM, id.as_str().as_bytes()), batch_id.to_be_bytes())?;
                    orders.push(rec.order);
                }
                let batch = PickBatch::new(batch_id, holder, &orders, locations, rules);
                let stored = records::encode::<Batch2>(&batch);
                tx.floor.insert(batch_key(batch_id), stored.clone())?;
                super::stats::work(tx, now, holder, super::stats::Work::Batches, 1)?;
                Ok(Some((batch, stored)))
            })?;
            if batch.is_some() {
                break;
            }
        }
        self.flush()?;
        Ok(batch.map(|(batch, stored)| {
            // The batch as written: its first scan swaps from it without reading it.
            self.scanned.keep(batch_id, stored.into());
            batch
        }))
    }

    pub fn batch(&self, id: u64) -> Result<Option<PickBatch>, Error> {
        self.t
            .floor
            .get(batch_key(id))?
            .map(|v| decode_batch(&v))
            .transpose()
    }

    /// Every open pick batch (a handful at a time on any floor).
    pub fn batches(&self) -> Result<Vec<PickBatch>, Error> {
        self.t
            .floor
            .scan_prefix([BATCH])
            .map(|item| decode_batch(&item?.1))
            .collect()
    }

    /// One scan into a pick batch, atomically: the batch is read, `may` says whether
    /// this picker may scan into it, `scan` (the domain's) counts the scan, a tote it names is
    /// taken for its order (refused while the tote holds another order), and the batch is kept.
    /// `None` when the batch is not open; `Some(Err)` when `may` or `scan` refused (nothing is
    /// written). Not flushed: see the module comment.
    pub fn scan_into_batch<E>(
        &self,
        batch_id: u64,
        may: impl Fn(&PickBatch) -> Result<(), E>,
        scan: impl Fn(&mut PickBatch) -> Result<PickEvent, E>,
    ) -> Decided<(PickBatch, PickEvent), E> {
        // Most scans change the batch alone: decided on the batch as read, and kept only if
        // it is still that (compare and swap), else decided again. A scan that takes a tote
        // writes the tote too, and is decided in a transaction of the floor.
        // The batch as this handle's last scan wrote it is tried first (on a shared database
        // that spares a read); a refusal is only ever decided on the batch as stored.
        let k = batch_key(batch_id);
        let mut known = self.scanned.take(batch_id);
        loop {
            let remembered = known.is_some();
            let old = match known.take() {
                Some(v) => v,
                None => match self.t.floor.get(&k)? {
                    Some(v) => v,
                    None => return Ok(None),
                },
            };
            let mut batch = decode_batch(&old)?;
            let decided = may(&batch).and_then(|()| scan(&mut batch));
            let scanned = match decided {
                Ok(s) => s,
                Err(_) if remembered => continue,
                Err(e) => return Ok(Some(Err(e))),
            };
            if matches!(scanned, PickEvent::Tote { .. }) {
                break;
            }
            let new = records::encode::<Batch2>(&batch);
            if self.t.floor.compare_and_swap(&k, Some(&old), Some(&new))? {
                self.scanned.keep(batch_id, new.into());
                return Ok(Some(Ok((batch, scanned))));
            }
        }
        self.transact_floor(|floor| {
            let Some(v) = floor.get(batch_key(batch_id))? else {
                return Ok(None);
            };
            let mut batch = decode_batch(&v).or_else(abort)?;
            if let Err(e) = may(&batch) {
                return Ok(Some(Err(e)));
            }
            let scanned = match scan(&mut batch) {
                Ok(s) => s,
                Err(e) => return Ok(Some(Err(e))),
            };
            if let PickEvent::Tote { order, tote, .. } = &scanned {
                take_tote_in(floor, tote, order)?;
            }
            floor.insert(batch_key(batch_id), records::encode::<Batch2>(&batch))?;
            Ok(Some(Ok((batch, scanned))))
        })
    }

    /// The batch an order is claimed in, if any.
    pub fn claim_of(&self, id: &OrderId) -> Result<Option<u64>, Error> {
        Ok(self
            .t
            .floor
            .get(key(CLAIM, id.as_str().as_bytes()))?
            .and_then(|v| v.as_ref().try_into().ok().map(u64::from_be_bytes)))
    }

    /// A complete batch, in one transaction: the batch is read, `may` says whether it may be
    /// finished (whose it is, complete, no unit in hand), every order still claimed in it moves
    /// to Picked and the claims end. `None` when the batch is not open; `Some(Err)` when `may`
    /// refused.
    pub fn finish_batch<E>(
        &self,
        batch_id: u64,
        may: impl Fn(&PickBatch) -> Result<(), E>,
        user: &str,
        now: DateTime<Utc>,
    ) -> Decided<(PickBatch, Vec<OrderRecord>), E> {
        self.end_batch(batch_id, may, Event::FinishPick, user, None, now)
    }

    /// Gives a batch up, in one transaction: the batch is read, `may` says whether this user
    /// may give it up, and its orders still Picking go back to New for someone else. `None`
    /// when the batch is not open; `Some(Err)` when `may` refused.
    pub fn release_batch<E>(
        &self,
        batch_id: u64,
        may: impl Fn(&PickBatch) -> Result<(), E>,
        user: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Decided<(PickBatch, Vec<OrderRecord>), E> {
        self.end_batch(batch_id, may, Event::ReleasePick, user, Some(reason), now)
    }

    fn end_batch<E>(
        &self,
        batch_id: u64,
        may: impl Fn(&PickBatch) -> Result<(), E>,
        event: Event,
        user: &str,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Decided<(PickBatch, Vec<OrderRecord>), E> {
        let ended = self.transact(|tx| {
            let Some(v) = tx.floor.get(batch_key(batch_id))? else {
                return Ok(None);
            };
            let batch = decode_batch(&v).or_else(abort)?;
            if let Err(e) = may(&batch) {
                return Ok(Some(Err(e)));
            }
            let mut recs = Vec::new();
            for id in &batch.orders {
                if !claimed_in(tx, id, batch.id)? {
                    continue;
                }
                tx.floor.remove(key(CLAIM, id.as_str().as_bytes()))?;
                if event == Event::ReleasePick {
                    free_tote(tx, id)?;
                }
                recs.push(step(tx, id, event, user, reason, now)?);
            }
            tx.floor.remove(batch_key(batch.id))?;
            Ok(Some(Ok((batch, recs))))
        })?;
        if matches!(ended, Some(Ok(_))) {
            self.flush()?;
        }
        Ok(ended)
    }

    /// A short pick of `sku`, in one transaction: the batch is read, `may` says whether this
    /// picker may act on it, the domain's `short` takes out the orders still needing the SKU,
    /// and those orders leave the line as exceptions with `note` (sealed). `None` when the
    /// batch is not open; `Some(Err)` when `may` refused; no short pick when the SKU is not on
    /// the batch. Answers the batch as it is after.
    #[allow(clippy::too_many_arguments)]
    pub fn short_pick<E>(
        &self,
        batch_id: u64,
        may: impl Fn(&PickBatch) -> Result<(), E>,
        sku: &str,
        user: &str,
        note: &str,
        now: DateTime<Utc>,
    ) -> Decided<(PickBatch, Option<Shortfall>), E> {
        let sealed = self.seal_words(note, "the reason for a short pick", now)?;
        let note = Words::Sealed(&sealed);
        let shorted = self.transact(|tx| {
            let Some(v) = tx.floor.get(batch_key(batch_id))? else {
                return Ok(None);
            };
            let mut batch = decode_batch(&v).or_else(abort)?;
            if let Err(e) = may(&batch) {
                return Ok(Some(Err(e)));
            }
            let Some(short) = batch.short(sku) else {
                return Ok(Some(Ok((batch, None))));
            };
            use crate::domain::report::Metric;
            super::stats::day(tx, now, Metric::ShortPicks, 1)?;
            super::stats::sku(tx, now, sku, Metric::ShortPicks, 1)?;
            for id in &short.orders {
                if claimed_in(tx, id, batch.id)? {
                    tx.floor.remove(key(CLAIM, id.as_str().as_bytes()))?;
                }
                free_tote(tx, id)?;
                exception_step(tx, id, Event::RaiseException, user, note, now)?;
            }
            save_or_drop(tx, &batch)?;
            Ok(Some(Ok((batch, Some(short)))))
        })?;
        if matches!(shorted, Some(Ok((_, Some(_))))) {
            self.flush()?;
        }
        Ok(shorted)
    }

    /// Raises an exception on any open order; a claimed one also leaves its batch.
    pub fn raise_exception_on_floor(
        &self,
        id: &OrderId,
        user: &str,
        note: &str,
        now: DateTime<Utc>,
    ) -> Result<OrderRecord, Error> {
        let sealed = self.seal_words(note, "the exception note", now)?;
        let note = Words::Sealed(&sealed);
        let rec = self.transact(|tx| {
            if let Some(b) = tx.floor.take(key(CLAIM, id.as_str().as_bytes()))? {
                let batch_id = b.as_ref().try_into().map(u64::from_be_bytes).unwrap_or(0);
                if let Some(v) = tx.floor.get(batch_key(batch_id))? {
                    let mut batch: PickBatch = decode_batch(&v).or_else(abort)?;
                    batch.remove_orders(std::slice::from_ref(id));
                    save_or_drop(tx, &batch)?;
                }
            }
            if let Some(v) = tx.floor.take(key(PACK, id.as_str().as_bytes()))? {
                let check = decode_check(&v).or_else(abort)?;
                super::codes::release(tx, id, Some(&check), &[])?;
            }
            free_tote(tx, id)?;
            exception_step(tx, id, Event::RaiseException, user, note, now)
        })?;
        self.flush()?;
        Ok(rec)
    }

    /// Hands a batch to another person (a lead's call), with an audit entry, in one
    /// transaction: answers whom it was taken from (as the transaction read it) and the batch.
    /// `None` when the batch is not open.
    pub fn reassign_batch(
        &self,
        batch_id: u64,
        to: &str,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(String, PickBatch)>, Error> {
        let handed = self.transact(|tx| {
            let Some(v) = tx.floor.get(batch_key(batch_id))? else {
                return Ok(None);
            };
            let mut batch: PickBatch = decode_batch(&v).or_else(abort)?;
            let reason = format!("batch {batch_id} from {} to {to}", batch.holder);
            let from = std::mem::replace(&mut batch.holder, to.to_owned());
            tx.floor
                .insert(batch_key(batch_id), records::encode::<Batch2>(&batch))?;
            super::audit_in(tx, by, "reassign", None, Some(&reason), now)?;
            Ok(Some((from, batch)))
        })?;
        if handed.is_some() {
            self.flush()?;
        }
        Ok(handed)
    }

    /// Claims whose order is no longer Picking (Amazon cancelled it, it shipped elsewhere, a
    /// lead moved it), or is held: the order leaves its batch and the claim ends (a held one goes
    /// back to New, audited). Returned so the holder can be told.
    pub fn reconcile_claims(&self, now: DateTime<Utc>) -> Result<Vec<LostClaim>, Error> {
        let mut lost = Vec::new();
        for item in self.t.floor.scan_prefix([CLAIM]) {
            let (k, v) = item?;
            let Ok(id) = OrderId::parse(&String::from_utf8_lossy(&k[1..])) else {
                continue;
            };
            let batch = v.as_ref().try_into().map(u64::from_be_bytes).unwrap_or(0);
            // A first look outside the transaction passes over the claims that stand (most of
            // them); whether a claim is lost is decided again inside it, on what is stored then.
            if self
                .get(&id)?
                .is_some_and(|r| r.state == OrderState::Picking)
                && self.stored_hold(&id)?.is_none()
            {
                continue;
            }
            let claim = self.transact(|tx| {
                if !claimed_in(tx, &id, batch)? {
                    return Ok(None);
                }
                let state = match tx.orders.get(id.as_str())? {
                    Some(v) => Some(decode_record(&v).or_else(abort)?.state),
                    None => None,
                };
                let hold = match state {
                    Some(OrderState::Picking) => match hold_in(tx, &id)? {
                        Some(h) => Some(h),
                        None => return Ok(None),
                    },
                    _ => None,
                };
                tx.floor.remove(key(CLAIM, id.as_str().as_bytes()))?;
                free_tote(tx, &id)?;
                if let Some(h) = &hold {
                    let why = format!("on hold: {}", h.reason.audit());
                    step(tx, &id, Event::ReleasePick, &h.by, Some(&why), now)?;
                }
                let (holder, put_aside, slot) = match tx.floor.get(batch_key(batch))? {
                    Some(v) => {
                        let mut b: PickBatch = decode_batch(&v).or_else(abort)?;
                        let slot = b.slot_of(&id);
                        let put_aside = b.remove_orders(std::slice::from_ref(&id));
                        save_or_drop(tx, &b)?;
                        (b.holder, put_aside, slot)
                    }
                    None => (String::new(), Vec::new(), None),
                };
                Ok(Some(LostClaim {
                    order: id.clone(),
                    batch,
                    holder,
                    state: match hold {
                        Some(_) => OrderState::New,
                        None => state.unwrap_or(OrderState::Cancelled),
                    },
                    hold: hold.map(|h| h.reason.view()),
                    put_aside,
                    slot,
                }))
            })?;
            lost.extend(claim);
        }
        if !lost.is_empty() {
            self.flush()?;
        }
        Ok(lost)
    }

    /// The order in a tote, if the tote is in use.
    pub fn order_in_tote(&self, tote: &str) -> Result<Option<OrderId>, Error> {
        Ok(self
            .t
            .floor
            .get(key(TOTE, tote.to_uppercase().as_bytes()))?
            .and_then(|v| OrderId::parse(&String::from_utf8_lossy(&v)).ok()))
    }
}

fn claimed_in(tx: &Tx<'_>, id: &OrderId, batch: u64) -> TxResult<bool> {
    Ok(tx
        .floor
        .get(key(CLAIM, id.as_str().as_bytes()))?
        .is_some_and(|v| v.as_ref() == batch.to_be_bytes()))
}

/// Takes a tote for an order (a picker scanned it for the order's slot), inside a transaction.
/// Refused while the tote holds another order.
fn take_tote_in(floor: &TxTree<'_>, tote: &str, order: &OrderId) -> TxResult<()> {
    let k = key(TOTE, tote.as_bytes());
    if let Some(v) = floor.get(&k)?
        && v.as_ref() != order.as_str().as_bytes()
    {
        return abort(
            FloorRefusal::ToteTaken {
                tote: tote.to_owned(),
                holds: String::from_utf8_lossy(&v).into_owned(),
            }
            .into(),
        );
    }
    floor.insert(k, order.as_str().as_bytes())?;
    floor.insert(key(TOTE_OF, order.as_str().as_bytes()), tote.as_bytes())?;
    Ok(())
}

/// Empties an order's tote, if it has one: the tote is free for another order.
fn free_tote(tx: &Tx<'_>, id: &OrderId) -> TxResult<()> {
    if let Some(tote) = tx.floor.take(key(TOTE_OF, id.as_str().as_bytes()))? {
        tx.floor.remove(key(TOTE, &tote))?;
    }
    Ok(())
}

/// Stores a batch, or removes it once no order is left in it.
fn save_or_drop(tx: &Tx<'_>, batch: &PickBatch) -> TxResult<()> {
    if batch.orders.is_empty() {
        tx.floor.remove(batch_key(batch.id))?;
    } else {
        tx.floor
            .insert(batch_key(batch.id), records::encode::<Batch2>(batch))?;
    }
    Ok(())
}

/// The order leaves with its open packages, inside a transaction: `event` (Shipped) when they
/// carry every unit left to ship, else a partial shipment (`ShipPart`): the packages are marked
/// shipped, their units counted as shipped on the order's lines, and the order is New again
/// with the rest to pick.
pub(super) fn ship_step(
    tx: &Tx<'_>,
    id: &OrderId,
    event: Event,
    user: &str,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> TxResult<OrderRecord> {
    let Some(v) = tx.floor.get(key(PACKAGES, id.as_str().as_bytes()))? else {
        // Packed before boxes: one parcel with everything.
        return step(tx, id, event, user, reason, now);
    };
    let mut packages = decode_packages(&v).or_else(abort)?;
    let Some(old) = tx.orders.get(id.as_str())? else {
        return abort(Error::NoSuchOrder(id.clone()));
    };
    let old = decode_record(&old).or_else(abort)?;
    let mut lines = old.order.lines.clone();
    for item in packages
        .iter()
        .filter(|p| !p.shipped)
        .flat_map(|p| &p.items)
    {
        if let Some(l) = lines.iter_mut().find(|l| l.item_id == item.item_id) {
            l.quantity_shipped = l
                .quantity_shipped
                .saturating_add(item.quantity)
                .min(l.quantity_ordered);
        }
    }
    if lines
        .iter()
        .all(|l| l.quantity_shipped >= l.quantity_ordered)
    {
        return step(tx, id, event, user, reason, now);
    }
    let stepped = step(tx, id, Event::ShipPart, user, reason, now)?;
    let units: Vec<(String, u32)> = packages
        .iter()
        .filter(|p| !p.shipped)
        .flat_map(|p| &p.items)
        .map(|i| (i.sku.clone(), i.quantity))
        .collect();
    super::stats::units(tx, now, &units)?;
    let mut rec = stepped.clone();
    rec.order.lines = lines;
    super::write_record(tx, Some(&stepped), &rec)?;
    for p in packages.iter_mut() {
        p.shipped = true;
    }
    tx.floor.insert(
        key(PACKAGES, id.as_str().as_bytes()),
        records::encode::<Packages2>(&packages),
    )?;
    Ok(rec)
}

/// Removes an order's floor entries (retention deleting the order record).
pub(super) fn forget(tx: &Tx<'_>, id: &str) -> TxResult<()> {
    if let Some(tote) = tx.floor.take(key(TOTE_OF, id.as_bytes()))? {
        tx.floor.remove(key(TOTE, &tote))?;
    }
    let (check, mut packages) = codes_of(tx, id.as_bytes())?;
    // Packed before boxes: its codes are the order's recorded ones, in its one parcel.
    if packages.is_empty()
        && let Some(v) = tx.floor.get(key(CODES, id.as_bytes()))?
        && let Ok(codes) = records::decode::<ItemCodes2>(&v)
    {
        packages.push(Package {
            number: 1,
            parcel: Parcel {
                box_name: String::new(),
                dims_mm: [0; 3],
                weight_g: 0,
            },
            items: codes
                .into_iter()
                .map(|c| PackageItem {
                    item_id: c.item_id,
                    sku: String::new(),
                    quantity: c.codes.len() as u32,
                    codes: c
                        .codes
                        .into_iter()
                        .map(|code| UnitCode { kind: c.kind, code })
                        .collect(),
                })
                .collect(),
            shipped: true,
        });
    }
    super::codes::forget(tx, id, check.as_ref(), &packages)?;
    for kind in [CLAIM, PACK, PACKAGES, HOLD, OVERRULED, CODES, ELSEWHERE] {
        tx.floor.remove(key(kind, id.as_bytes()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::{keyed_store, unshipped};

    /// A claim remembers its batch as it stored it, so the batch's first scan is a
    /// compare-and-swap from that value, with no read before it.
    #[test]
    fn a_claimed_batch_is_remembered_as_stored() {
        let t0: DateTime<Utc> = DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
            .unwrap()
            .into();
        let (_dir, mut store) = keyed_store(t0);
        store
            .import(vec![unshipped("111-0000000-0000001")], "lead", t0)
            .unwrap();
        let b = store
            .claim_batch("lead", 5, &Locations::default(), &CartRules::default(), t0)
            .unwrap()
            .expect("a batch of the one order");
        let stored = store.t.floor.get(batch_key(b.id)).unwrap().unwrap();
        assert_eq!(store.scanned.take(b.id), Some(stored));
    }
}
