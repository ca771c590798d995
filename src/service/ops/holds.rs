//! Holds: a lead stops an order where it is on the floor (with a reason every refusal repeats)
//! and releases it; sync holds an order whose buyer asked Amazon to cancel. A held order is
//! never claimed, packed, labelled, printed for or confirmed.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Allowed, Operation};
use crate::domain::hold::MAX_REASON;
use crate::domain::{Held, Hold};
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
        let hold = Hold {
            reason: reason.to_owned(),
            by: c.user.clone(),
            since: now,
        };
        if !svc.hold(&id, hold.clone(), false).map_err(store_err)? {
            let now_held = svc.read().hold_of(&id).map_err(store_err)?;
            return Err(ServiceError::Conflict(format!(
                "order {id} is already on hold: {}",
                now_held.map_or_else(String::new, |h| h.reason)
            )));
        }
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
        let hold = svc
            .read()
            .release_hold(&id, &c.user, now)
            .map_err(store_err)?;
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
        _: &Allowed,
        _: DateTime<Utc>,
    ) -> Result<Vec<Held>, ServiceError> {
        let mut held = svc.read().holds().map_err(store_err)?;
        held.truncate(crate::service::MAX_PAGE as usize);
        Ok(held)
    }
}
