//! Picking: claiming a batch, counting its scans, short picks, finishing, and a lead's release
//! and reassignment. A batch belongs to its holder; a lead may act on anyone's.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Allowed, Operation};
use crate::domain::{OrderId, PickBatch, PickEvent};
use crate::service::{
    MAX_BATCHES, Notice, Role, Service, ServiceError, may_pick, non_empty, not_open, store_err,
};
use crate::store::refusal::FloorRefusal;

/// Claims the next batch of open orders (the site's batch size unless given).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ClaimBatch {
    pub size: Option<u32>,
}

impl Operation for ClaimBatch {
    /// None when no order is waiting.
    type Answer = Option<PickBatch>;
    const NAME: &'static str = "claim_batch";
    const ACTION: &'static str = "claiming a pick batch";
    const ROLE: Role = Role::Packer;

    fn apply(
        self,
        svc: &Service,
        c: &Allowed,
        now: DateTime<Utc>,
    ) -> Result<Option<PickBatch>, ServiceError> {
        let size = self
            .size
            .unwrap_or(svc.settings.batch_size)
            .clamp(1, svc.settings.cart_slots) as usize;
        // No floor lock: the claim is one transaction, and its fsync must not hold up
        // everyone's scans.
        let batch = svc
            .store()
            .claim_batch(
                &c.user,
                size,
                &svc.settings.locations,
                &svc.settings.cart,
                now,
            )
            .map_err(store_err)?;
        svc.changed();
        if let Some(b) = &batch {
            svc.print_claim_paperwork(c, b, now);
        }
        Ok(batch)
    }
}

/// Open pick batches: the caller's own, or every one for a lead with `all`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Batches {
    pub all: bool,
}

impl Operation for Batches {
    type Answer = Vec<PickBatch>;
    const NAME: &'static str = "batches";
    const WRITES: bool = false;
    const ACTION: &'static str = "seeing everyone's batches";
    const ROLE: Role = Role::Packer;

    fn role(&self) -> Role {
        if self.all { Role::Lead } else { Role::Packer }
    }

    fn apply(
        self,
        svc: &Service,
        c: &Allowed,
        _: DateTime<Utc>,
    ) -> Result<Vec<PickBatch>, ServiceError> {
        let mut batches = svc.store().batches().map_err(store_err)?;
        batches.retain(|b| self.all || b.holder == c.user);
        // The newest first, and a screenful: a reply must fit one frame.
        batches.sort_by_key(|b| std::cmp::Reverse(b.id));
        batches.truncate(MAX_BATCHES);
        Ok(batches)
    }
}

/// One unit scanned into a batch.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PickScan {
    pub batch: u64,
    pub code: String,
}

/// A scan counted: what it did, and whether the batch is now complete. (The client keeps its
/// copy of the batch; sending it whole on every scan would cost every scan.)
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PickScanned {
    pub batch: u64,
    pub scan: PickEvent,
    /// The cart slot the unit goes (or went) to; none for a bin label.
    pub slot: Option<u32>,
    pub complete: bool,
}

impl Operation for PickScan {
    type Answer = PickScanned;
    const NAME: &'static str = "pick_scan";
    const ACTION: &'static str = "scanning a pick";
    const ROLE: Role = Role::Packer;
    const QUICK: bool = true;

    fn apply(
        self,
        svc: &Service,
        c: &Allowed,
        now: DateTime<Utc>,
    ) -> Result<PickScanned, ServiceError> {
        let r = scan_into(svc, c, self.batch, |b| b.scan(&self.code));
        super::dashboard::count_refused(svc, c, now, r)
    }
}

/// Confirms the unit in hand into its slot (`[floor] confirm_put`), by number or label: the
/// same as scanning the slot's label. A wrong slot is refused like a wrong item.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PickPut {
    pub batch: u64,
    pub slot: String,
}

impl Operation for PickPut {
    type Answer = PickScanned;
    const NAME: &'static str = "pick_put";
    const ACTION: &'static str = "scanning a pick";
    const ROLE: Role = Role::Packer;
    const QUICK: bool = true;

    fn apply(
        self,
        svc: &Service,
        c: &Allowed,
        now: DateTime<Utc>,
    ) -> Result<PickScanned, ServiceError> {
        let r = scan_into(svc, c, self.batch, |b| b.put(&self.slot));
        super::dashboard::count_refused(svc, c, now, r)
    }
}

/// One scan into the caller's batch, kept; a refusal changes nothing.
fn scan_into(
    svc: &Service,
    c: &Allowed,
    batch: u64,
    scan: impl Fn(&mut PickBatch) -> Result<PickEvent, crate::domain::PickRefusal>,
) -> Result<PickScanned, ServiceError> {
    // The batch's stripe spares the store's transaction a retry; the transaction alone keeps
    // two scans of one batch apart (two pickers, or two processes on one store).
    let _batch = svc.lock_batch(batch);
    let (b, scan) = svc
        .store()
        .scan_into_batch(
            batch,
            |b| may_pick(c, b),
            |b| {
                scan(b).map_err(|refusal| ServiceError::WrongScan {
                    message: refusal.to_string(),
                })
            },
        )
        // A tote that holds another order is a wrong scan, like a wrong item.
        .map_err(|e| match e {
            crate::store::Error::Refused(
                r @ crate::store::Refusal::Floor(FloorRefusal::ToteTaken { .. }),
            ) => ServiceError::WrongScan {
                message: r.to_string(),
            },
            e => store_err(e),
        })?
        .ok_or_else(|| not_open(batch))??;
    Ok(PickScanned {
        batch,
        slot: scan.slot(),
        scan,
        complete: b.is_complete(),
    })
}

/// A SKU that cannot be found: its orders leave the batch as exceptions.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ShortPick {
    pub batch: u64,
    pub sku: String,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Shorted {
    /// The batch as it is now; none when no order is left in it.
    pub batch: Option<PickBatch>,
    /// The orders that became exceptions.
    pub orders: Vec<OrderId>,
    /// Units already picked for those orders, to put back: (SKU, quantity).
    pub put_back: Vec<(String, u32)>,
}

impl Operation for ShortPick {
    type Answer = Shorted;
    const NAME: &'static str = "short_pick";
    const ACTION: &'static str = "a short pick";
    const ROLE: Role = Role::Packer;

    fn apply(
        self,
        svc: &Service,
        c: &Allowed,
        now: DateTime<Utc>,
    ) -> Result<Shorted, ServiceError> {
        let reason = non_empty(&self.reason, "the reason for a short pick")?;
        let not_on_batch = || {
            ServiceError::NotFound(format!(
                "SKU {:?} is not on pick batch {}",
                self.sku, self.batch
            ))
        };
        let _batch = svc.lock_batch(self.batch);
        // A first look, so that a SKU not on the batch seals no note; the short pick itself is
        // decided again in the transaction that makes it.
        if svc.batch_for(c, self.batch)?.short(&self.sku).is_none() {
            return Err(not_on_batch());
        }
        let note = format!("short pick of {}: {reason}", self.sku);
        let (b, short) = svc
            .store()
            .short_pick(
                self.batch,
                |b| may_pick(c, b),
                &self.sku,
                &c.user,
                &note,
                now,
            )
            .map_err(store_err)?
            .ok_or_else(|| not_open(self.batch))??;
        let short = short.ok_or_else(not_on_batch)?;
        svc.changed();
        Ok(Shorted {
            batch: (!b.orders.is_empty()).then_some(b),
            orders: short.orders,
            put_back: short.put_back,
        })
    }
}

/// Every unit is on the cart: the batch's orders are Picked.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FinishPick {
    pub batch: u64,
}

impl Operation for FinishPick {
    type Answer = ();
    const NAME: &'static str = "finish_pick";
    const ACTION: &'static str = "finishing a pick batch";
    const ROLE: Role = Role::Packer;

    fn apply(self, svc: &Service, c: &Allowed, now: DateTime<Utc>) -> Result<(), ServiceError> {
        let batch = self.batch;
        let _batch = svc.lock_batch(batch);
        // Complete, with nothing in hand: decided on the batch as the transaction that finishes
        // it reads it.
        let finishable = |b: &PickBatch| {
            may_pick(c, b)?;
            if let Some(hand) = &b.in_hand {
                return Err(ServiceError::Conflict(format!(
                    "pick batch {batch}: the unit in hand goes to SLOT {}: scan its label first",
                    hand.slot
                )));
            }
            if !b.is_complete() {
                let left: u32 = b
                    .lines
                    .iter()
                    .map(|l| l.needed - l.picked.min(l.needed))
                    .sum();
                return Err(ServiceError::Conflict(format!(
                    "pick batch {batch} still needs {left} unit(s): scan them, or short-pick what cannot be found"
                )));
            }
            Ok(())
        };
        svc.store()
            .finish_batch(batch, finishable, &c.user, now)
            .map_err(store_err)?
            .ok_or_else(|| not_open(batch))??;
        svc.changed();
        Ok(())
    }
}

/// Gives a batch back: its orders return to the queue.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReleaseBatch {
    pub batch: u64,
    pub reason: String,
}

impl Operation for ReleaseBatch {
    type Answer = ();
    const NAME: &'static str = "release_batch";
    const ACTION: &'static str = "releasing a pick batch";
    const ROLE: Role = Role::Packer;

    fn apply(self, svc: &Service, c: &Allowed, now: DateTime<Utc>) -> Result<(), ServiceError> {
        let reason = non_empty(&self.reason, "the reason for releasing a batch")?;
        let _batch = svc.lock_batch(self.batch);
        let (b, _) = svc
            .store()
            .release_batch(self.batch, |b| may_pick(c, b), &c.user, reason, now)
            .map_err(store_err)?
            .ok_or_else(|| not_open(self.batch))??;
        svc.changed();
        svc.notify(Notice::ClaimReleased {
            batch: self.batch,
            holder: b.holder,
            reason: reason.to_owned(),
        });
        Ok(())
    }
}

/// A lead moves a batch to another picker.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReassignBatch {
    pub batch: u64,
    pub to: String,
}

impl Operation for ReassignBatch {
    type Answer = PickBatch;
    const NAME: &'static str = "reassign_batch";
    const ACTION: &'static str = "reassigning a pick batch";
    const ROLE: Role = Role::Lead;

    fn apply(
        self,
        svc: &Service,
        c: &Allowed,
        now: DateTime<Utc>,
    ) -> Result<PickBatch, ServiceError> {
        let to = non_empty(&self.to, "the user to reassign to")?;
        if svc.settings.role_of(to).is_none() {
            return Err(ServiceError::NoRole {
                user: to.to_owned(),
            });
        }
        let _batch = svc.lock_batch(self.batch);
        // Whom it is taken from is read where it is handed on.
        let (from, b) = svc
            .store()
            .reassign_batch(self.batch, to, &c.user, now)
            .map_err(store_err)?
            .ok_or_else(|| not_open(self.batch))?;
        svc.notify(Notice::ClaimReleased {
            batch: self.batch,
            holder: from,
            reason: format!("reassigned to {to} by {}", c.user),
        });
        Ok(b)
    }
}
