//! Sites of one database: a lead moves an order waiting in the queue to the site that should
//! ship it, re-sealed for that site (`store::sites`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Allowed, Operation};
use crate::domain::{FreeText, Hold, OrderId};
use crate::service::{Role, Service, ServiceError, order_id, store_err};
use crate::store::sites::{moving_from, moving_to};

/// Moves an order from this site to `site`: refused once it is on the floor; audited at both.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MoveOrder {
    pub order: String,
    pub site: String,
}

/// An order moved, from where to where.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct Moved {
    pub order: OrderId,
    pub from: String,
    pub to: String,
}

impl Operation for MoveOrder {
    type Answer = Moved;
    const NAME: &'static str = "move_order";
    const ACTION: &'static str = "moving an order to another site";
    const ROLE: Role = Role::Lead;

    /// The order is held here for the move, imported at the other site (held there until the
    /// move is done, so neither site can start on it meanwhile), noted as that site's, removed
    /// here, and released there. A move cut short leaves it held at one site or both, and the
    /// same command, run again, finishes it.
    fn apply(self, svc: &Service, c: &Allowed, now: DateTime<Utc>) -> Result<Moved, ServiceError> {
        let id = order_id(&self.order)?;
        let to = self.site;
        crate::config::site_name(&to).map_err(|e| ServiceError::Invalid(format!("--site: {e}")))?;
        let (here, shared) = {
            let store = svc.store();
            (store.site().to_string(), store.shared())
        };
        if !shared {
            return Err(ServiceError::Invalid(
                "this site's store is on sled: orders move between the sites of one PostgreSQL \
                 database (docs/postgres.md)"
                    .into(),
            ));
        }
        if to == here {
            return Err(ServiceError::Invalid(format!(
                "order {id} is at site {here} already"
            )));
        }
        let moving = match svc.store().moving_out(&id, &to) {
            Ok(moving) => moving,
            // Gone from here, routed there: a move cut short after it left; it is finished
            // by releasing the order at the other site, if it is still held for the move.
            Err(crate::store::Error::NoSuchOrder(_))
                if svc.store().order_site(&id).map_err(store_err)?.as_deref() == Some(&to) =>
            {
                let there = svc.store().site_store(&to, now).map_err(store_err)?;
                let held = there.hold_of(&id).map_err(store_err)?;
                if held.is_some_and(|h| h.reason == FreeText::System(moving_from(&here))) {
                    there.release_hold(&id, &c.user, now).map_err(store_err)?;
                    let _ = there.announce_change();
                }
                return Ok(Moved {
                    order: id,
                    from: here,
                    to,
                });
            }
            Err(e) => return Err(store_err(e)),
        };
        let mut there = svc.store().site_store(&to, now).map_err(store_err)?;
        let held_here = Hold {
            reason: FreeText::System(moving_to(&to)),
            by: c.user.clone(),
            since: now,
        };
        svc.hold(&id, held_here, false).map_err(store_err)?;
        // From here on, a failure leaves the order held for its move: said so, with what to do.
        let cut_short = |e: crate::store::Error| {
            let e = store_err(e);
            ServiceError::Store(format!(
                "{e}. The move of order {id} was cut short: it is held here for it (\"{}\"); \
                 run the same `packline orders move` again to finish it, or release the hold \
                 to keep the order here",
                moving_to(&to)
            ))
        };
        if there.get(&id).map_err(cut_short)?.is_none() {
            there
                .import(vec![moving], &c.user, now)
                .map_err(cut_short)?;
        }
        let held_there = Hold {
            reason: FreeText::System(moving_from(&here)),
            by: c.user.clone(),
            since: now,
        };
        there
            .place_hold(&id, &held_there, false)
            .map_err(cut_short)?;
        let store = svc.store();
        store
            .set_order_site(std::slice::from_ref(&id), &to)
            .map_err(cut_short)?;
        store.moved_out(&id, &to, &c.user, now).map_err(cut_short)?;
        drop(store);
        there.release_hold(&id, &c.user, now).map_err(cut_short)?;
        let _ = there.announce_change();
        svc.changed();
        Ok(Moved {
            order: id,
            from: here,
            to,
        })
    }
}

/// The sites of this database with a keyed store, by name (leads; `--all-sites`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Sites {}

impl Operation for Sites {
    type Answer = Vec<String>;
    const NAME: &'static str = "sites";
    const WRITES: bool = false;
    const ACTION: &'static str = "listing the sites";
    const ROLE: Role = Role::Lead;

    fn apply(
        self,
        svc: &Service,
        _: &Allowed,
        _: DateTime<Utc>,
    ) -> Result<Vec<String>, ServiceError> {
        svc.store().sites().map_err(store_err)
    }
}
