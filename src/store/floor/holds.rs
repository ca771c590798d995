//! Holds: a lead (or Amazon) stops an order where it stands; every purchase, confirmation and
//! pack re-checks the hold inside its own transaction.

use chrono::{DateTime, Utc};

use super::{HOLD, OVERRULED, Store, key};
use crate::domain::{BUYER_ASKED_TO_CANCEL, FreeText, Held, Hold, OrderId};
use crate::store::notes::{StoredHold, StoredText, Words, decode_hold, encode_hold, hold_ref};
use crate::store::refusal::{FloorRefusal, InputRefusal};
use crate::store::{Error, Tx, TxResult, abort, decode_record};

impl Store {
    /// The order's hold, if it is held (a lead's reason sealed: see
    /// [`Store::open_free_texts`]).
    pub fn hold_of(&self, id: &OrderId) -> Result<Option<Hold>, Error> {
        Ok(self.stored_hold(id)?.map(|h| h.view()))
    }

    /// The holds of several orders, in their order, read together (a page of rows).
    pub fn holds_of(&self, ids: &[&OrderId]) -> Result<Vec<Option<Hold>>, Error> {
        let keys: Vec<Vec<u8>> = ids
            .iter()
            .map(|id| key(HOLD, id.as_str().as_bytes()))
            .collect();
        self.t
            .floor
            .get_many(&keys)?
            .into_iter()
            .map(|v| v.map(|v| decode_hold(&v).map(|h| h.view())).transpose())
            .collect()
    }

    pub(in crate::store) fn stored_hold(&self, id: &OrderId) -> Result<Option<StoredHold>, Error> {
        self.t
            .floor
            .get(key(HOLD, id.as_str().as_bytes()))?
            .map(|v| decode_hold(&v))
            .transpose()
    }

    /// Refuses, naming who held the order and since when (never the reason), when it is held.
    pub fn refuse_if_held(&self, id: &OrderId) -> Result<(), Error> {
        match self.stored_hold(id)? {
            Some(h) => Err(on_hold(id, &h)),
            None => Ok(()),
        }
    }

    /// Every hold on an order still open, oldest first.
    pub fn holds(&self) -> Result<Vec<Held>, Error> {
        let mut held = Vec::new();
        for item in self.t.floor.scan_prefix([HOLD]) {
            let (k, v) = item?;
            let Ok(order) = OrderId::parse(&String::from_utf8_lossy(&k[1..])) else {
                continue;
            };
            if self.get(&order)?.is_none_or(|r| r.state.is_closed()) {
                continue;
            }
            held.push(Held {
                order,
                hold: decode_hold(&v)?.view(),
            });
        }
        held.sort_by(|a, b| (a.hold.since, &a.order).cmp(&(b.hold.since, &b.order)));
        Ok(held)
    }

    /// Holds an open order, with an audit entry. False when it is already held (nothing
    /// changes), or when this is sync's hold for a buyer's cancellation request (`from_amazon`)
    /// and a lead already released that one. A claimed order leaves its batch at the next
    /// [`Store::reconcile_claims`].
    pub fn place_hold(&self, id: &OrderId, hold: &Hold, from_amazon: bool) -> Result<bool, Error> {
        // A lead's words are sealed before the transaction; packline's own stay as they are.
        let sealed = match &hold.reason {
            FreeText::System(_) => None,
            FreeText::Open(words) => Some(self.keyring.seal_note_shared(words, hold.since)?),
            FreeText::Sealed(_) => {
                return Err(InputRefusal::HoldWithoutWords { order: id.clone() }.into());
            }
        };
        let words = match (&hold.reason, &sealed) {
            (FreeText::System(s), _) => Words::System(s),
            (_, Some(envelope)) => Words::Sealed(envelope),
            (_, None) => Words::System(""),
        };
        let placed = self.transact(|tx| {
            let Some(v) = tx.orders.get(id.as_str())? else {
                return abort(Error::NoSuchOrder(id.clone()));
            };
            let state = decode_record(&v).or_else(abort)?.state;
            if state.is_closed() {
                return abort(
                    FloorRefusal::HoldClosed {
                        order: id.clone(),
                        state,
                    }
                    .into(),
                );
            }
            let k = key(HOLD, id.as_str().as_bytes());
            let overruled = from_amazon
                && tx
                    .floor
                    .get(key(OVERRULED, id.as_str().as_bytes()))?
                    .is_some();
            if overruled || tx.floor.get(&k)?.is_some() {
                return Ok(false);
            }
            let reason = words.put(tx, hold_ref(id.as_str()))?;
            let stored = StoredHold {
                by: hold.by.clone(),
                since: hold.since,
                reason,
            };
            tx.floor.insert(k, encode_hold(&stored))?;
            crate::store::stats::day(tx, hold.since, crate::domain::report::Metric::Holds, 1)?;
            super::audit_in(
                tx,
                &hold.by,
                "hold",
                Some(id.as_str()),
                Some(&stored.reason.audit()),
                hold.since,
            )?;
            Ok(true)
        })?;
        if placed {
            self.flush()?;
        }
        Ok(placed)
    }

    /// Ends an order's hold, with an audit entry; the hold that ended is returned (its reason
    /// sealed). The reason's words go with the hold (their epoch is marked for shredding).
    pub fn release_hold(
        &self,
        id: &OrderId,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<Hold, Error> {
        let hold = self.transact(|tx| {
            let Some(v) = tx.floor.take(key(HOLD, id.as_str().as_bytes()))? else {
                return abort(FloorRefusal::NotOnHold { order: id.clone() }.into());
            };
            let hold = decode_hold(&v).or_else(abort)?;
            if hold.reason == StoredText::System(BUYER_ASKED_TO_CANCEL.to_owned()) {
                tx.floor
                    .insert(key(OVERRULED, id.as_str().as_bytes()), [])?;
            }
            let why = format!("was on hold: {}", hold.reason.audit());
            crate::store::notes::drop_in(tx, &hold.reason)?;
            super::audit_in(tx, user, "release_hold", Some(id.as_str()), Some(&why), now)?;
            Ok(hold)
        })?;
        self.flush()?;
        Ok(hold.view())
    }
}

/// The order's hold, inside a transaction: a purchase or a confirmation re-checks it where it
/// writes, so a hold placed while a call to Amazon was under way still stops it.
pub(in crate::store) fn hold_in(tx: &Tx<'_>, id: &OrderId) -> TxResult<Option<StoredHold>> {
    tx.floor
        .get(key(HOLD, id.as_str().as_bytes()))?
        .map(|v| decode_hold(&v).or_else(abort))
        .transpose()
}

/// Refuses inside a transaction, naming who held the order and since when, when it is held.
pub(in crate::store) fn refuse_held_in(tx: &Tx<'_>, id: &OrderId) -> TxResult<()> {
    match hold_in(tx, id)? {
        Some(h) => abort(on_hold(id, &h)),
        None => Ok(()),
    }
}

/// The refusal a hold causes: who and since when, never the reason (a lead's words).
pub(in crate::store) fn on_hold(id: &OrderId, h: &StoredHold) -> Error {
    Error::OnHold {
        order: id.clone(),
        by: h.by.clone(),
        since: h.since,
    }
}

/// The buyer asked Amazon to cancel the order, as far as packline knows it, inside a
/// transaction: sync's hold for it is on the order, or a lead released that hold.
pub(in crate::store) fn buyer_asked_in(tx: &Tx<'_>, id: &str) -> TxResult<bool> {
    if tx.floor.get(key(OVERRULED, id.as_bytes()))?.is_some() {
        return Ok(true);
    }
    Ok(match tx.floor.get(key(HOLD, id.as_bytes()))? {
        Some(v) => {
            decode_hold(&v).or_else(abort)?.reason
                == StoredText::System(BUYER_ASKED_TO_CANCEL.to_owned())
        }
        None => false,
    })
}
