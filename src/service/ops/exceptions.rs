//! Exceptions: anyone on the floor raises one on an order (damaged, missing, wrong); a lead
//! lists them and resolves each back onto the line.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Allowed, Operation};
use crate::domain::{FreeText, OrderState};
use crate::service::{
    ExceptionRow, MAX_PAGE, Role, Service, ServiceError, non_empty, order_id, store_err,
};

/// Takes an order off the line with a note (pulled from its pick batch or bench).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RaiseException {
    pub order: String,
    pub note: String,
}

impl Operation for RaiseException {
    type Answer = ();
    const NAME: &'static str = "raise_exception";
    const ACTION: &'static str = "raising an exception";
    const ROLE: Role = Role::Packer;

    fn apply(self, svc: &Service, c: &Allowed, now: DateTime<Utc>) -> Result<(), ServiceError> {
        let id = order_id(&self.order)?;
        let note = non_empty(&self.note, "the exception note")?;
        {
            let _floor = svc.lock_floor();
            svc.store()
                .raise_exception_on_floor(&id, &c.user, note, now)
                .map_err(store_err)?;
        }
        svc.changed();
        Ok(())
    }
}

/// A lead puts an exception back onto the line, in the state named.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ResolveException {
    pub order: String,
    pub resume: OrderState,
    pub resolution: String,
}

impl Operation for ResolveException {
    type Answer = ();
    const NAME: &'static str = "resolve_exception";
    const ACTION: &'static str = "resolving an exception";
    const ROLE: Role = Role::Lead;

    fn apply(self, svc: &Service, c: &Allowed, now: DateTime<Utc>) -> Result<(), ServiceError> {
        let id = order_id(&self.order)?;
        let text = non_empty(&self.resolution, "the resolution")?;
        svc.store()
            .resolve_exception(&id, self.resume, &c.user, text, now)
            .map_err(store_err)?;
        svc.changed();
        Ok(())
    }
}

/// The open exceptions, with the note that raised each (its words for a lead who unlocked, else
/// the placeholder).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Exceptions {}

impl Operation for Exceptions {
    type Answer = Vec<ExceptionRow>;
    const NAME: &'static str = "exceptions";
    const WRITES: bool = false;
    const ACTION: &'static str = "the exceptions list";
    const ROLE: Role = Role::Lead;

    fn apply(
        self,
        svc: &Service,
        c: &Allowed,
        now: DateTime<Utc>,
    ) -> Result<Vec<ExceptionRow>, ServiceError> {
        let store = svc.store();
        let ids = store
            .ids_in(OrderState::Exception, MAX_PAGE as usize)
            .map_err(store_err)?;
        let mut exceptions = Vec::new();
        for id in ids {
            let notes = store.exception_notes(&id).map_err(store_err)?;
            if let Some(n) = notes.into_iter().rev().find(|n| n.resolved_at.is_none()) {
                exceptions.push(ExceptionRow {
                    order: id,
                    raised_at: n.raised_at,
                    raised_by: n.raised_by,
                    note: n.note,
                });
            }
        }
        // A lead who unlocked reads the notes (one audit entry); otherwise they stay sealed.
        let mut notes: Vec<&mut FreeText> = exceptions.iter_mut().map(|r| &mut r.note).collect();
        store
            .open_free_texts(&mut notes, &c.user, None, now)
            .map_err(store_err)?;
        Ok(exceptions)
    }
}
