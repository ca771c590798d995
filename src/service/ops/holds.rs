//! Holds: a lead stops an order where it is on the floor (with a reason, sealed in the store:
//! a refusal names who held it and since when, a lead who unlocked reads the reason) and
//! releases it; sync holds an order whose buyer asked Amazon to cancel. A held order is
//! never claimed, packed, labelled, printed for or confirmed.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Allowed, Operation};
use crate::domain::hold::MAX_REASON;
use crate::domain::{FreeText, Held, Hold, NoteText};
use crate::service::{Role, Service, ServiceError, non_empty, order_id, store_err};

/// Holds an open order with a reason.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HoldOrder {
    pub order: String,
    pub reason: String,
}

impl Operation for HoldOrder {
    type Answer = Held;
    const NAME: &'static str = "hold_order";
    const ACTION: &'static str = "holding an order";
    const ROLE: Role = Role::Lead;

    fn apply(self, svc: &Service, c: &Allowed, now: DateTime<Utc>) -> Result<Held, ServiceError> {
        let id = order_id(&self.order)?;
        let reason = non_empty(&self.reason, "the reason for a hold")?;
        if reason.chars().count() > MAX_REASON {
            return Err(ServiceError::Invalid(format!(
                "the reason for a hold is longer than {MAX_REASON} characters"
            )));
        }
        let words = NoteText::new(reason)
            .map_err(|e| ServiceError::Invalid(format!("the reason for a hold {e}")))?;
        let hold = Hold {
            reason: FreeText::Open(words),
            by: c.user.clone(),
            since: now,
        };
        if !svc.hold(&id, hold.clone(), false).map_err(store_err)? {
            let now_held = svc.store().hold_of(&id).map_err(store_err)?;
            return Err(ServiceError::Conflict(match now_held {
                Some(h) => format!(
                    "order {id} is already on hold (since {}, by {}): release it first to hold it again",
                    h.since.format("%Y-%m-%d %H:%M UTC"),
                    h.by
                ),
                None => format!("order {id} is held no longer: hold it again"),
            }));
        }
        // The lead's own words, as typed: echoed back to them, never read from the store.
        Ok(Held { order: id, hold })
    }
}

/// Ends an order's hold: it goes on from where it stopped.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReleaseHold {
    pub order: String,
}

impl Operation for ReleaseHold {
    type Answer = Held;
    const NAME: &'static str = "release_hold";
    const ACTION: &'static str = "releasing a hold";
    const ROLE: Role = Role::Lead;

    fn apply(self, svc: &Service, c: &Allowed, now: DateTime<Utc>) -> Result<Held, ServiceError> {
        let id = order_id(&self.order)?;
        // The reason's words go with the hold: a lead who unlocked reads them first (audited).
        let before = {
            let store = svc.store();
            match store.hold_of(&id).map_err(store_err)? {
                Some(mut h) => {
                    store
                        .open_free_texts(&mut [&mut h.reason], &c.user, Some(&id), now)
                        .map_err(store_err)?;
                    Some(h.reason)
                }
                None => None,
            }
        };
        let mut hold = svc
            .store()
            .release_hold(&id, &c.user, now)
            .map_err(store_err)?;
        if let Some(reason) = before {
            hold.reason = reason;
        }
        svc.changed();
        Ok(Held { order: id, hold })
    }
}

/// The open orders on hold, oldest hold first (the oldest 500: a reply fits one frame).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Holds {}

impl Operation for Holds {
    type Answer = Vec<Held>;
    const NAME: &'static str = "holds";
    const WRITES: bool = false;
    const ACTION: &'static str = "the holds list";
    const ROLE: Role = Role::Lead;

    fn apply(
        self,
        svc: &Service,
        c: &Allowed,
        now: DateTime<Utc>,
    ) -> Result<Vec<Held>, ServiceError> {
        let store = svc.store();
        let mut held = store.holds().map_err(store_err)?;
        held.truncate(crate::service::MAX_PAGE as usize);
        // A lead who unlocked reads the reasons (one audit entry); otherwise they stay sealed.
        let mut reasons: Vec<&mut FreeText> = held.iter_mut().map(|h| &mut h.hold.reason).collect();
        store
            .open_free_texts(&mut reasons, &c.user, None, now)
            .map_err(store_err)?;
        Ok(held)
    }
}
