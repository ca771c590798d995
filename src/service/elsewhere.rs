//! Orders packline never imported (shipped before the site used packline, or by another tool),
//! named by a return, an inquiry or a message: Amazon is asked for the order (getOrder, within
//! its quota, without the recipient), and an order it reports shipped or cancelled is recorded
//! closed, as shipped (or cancelled) elsewhere, with no recipient (`store::elsewhere`). An order
//! Amazon does not know is refused by the caller as before; one still to be shipped is the
//! floor's, and comes with a sync.

use chrono::{DateTime, Utc};

use super::amazon_calls::block_on;
use super::{Service, ServiceError, store_err};
use crate::amazon::client::ApiError;
use crate::domain::{OrderId, OrderRecord, import};
use crate::store::elsewhere::Recorded;

impl Service {
    /// The order `id` as the store has it; else, Amazon's copy recorded as shipped (or
    /// cancelled) elsewhere, audited as asked for `why` ("a return"). `None`: Amazon does not
    /// know the order either (the caller refuses as it did before). No Amazon connection, a
    /// failed call, or an order still to be shipped is refused, saying which.
    pub(super) fn order_or_elsewhere(
        &self,
        id: &OrderId,
        why: &str,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<OrderRecord>, ServiceError> {
        if let Some(rec) = self.store().get(id).map_err(store_err)? {
            return Ok(Some(rec));
        }
        let api = self.amazon().map_err(|_| {
            ServiceError::Invalid(format!(
                "order {id} is not in the store, and packline cannot ask Amazon for it: no Amazon connection is configured ([amazon] and credentials)"
            ))
        })?;
        let imported = match block_on(api.get_order_without_recipient(id))? {
            Ok(o) => o,
            Err(ApiError::Status { status: 404, .. }) => {
                tracing::info!(order = %id, "an order Amazon does not know");
                return Ok(None);
            }
            Err(e) => {
                return Err(ServiceError::Amazon {
                    failure: super::amazon_calls::amazon_failure(&e),
                    message: format!(
                        "order {id} is not in the store, and asking Amazon for it failed: {e}"
                    ),
                });
            }
        };
        if imported.order.id != *id {
            return Err(ServiceError::Conflict(format!(
                "order {id} is not in the store, and Amazon answered for another order ({}): nothing was recorded",
                imported.order.id
            )));
        }
        let rec = import::shipped_elsewhere(imported, now).map_err(|e| {
            ServiceError::Conflict(format!(
                "order {id} is not in the store, and {e}: packline records an order it never imported only once Amazon has it shipped or cancelled; one still to be shipped comes with a sync (packline sync --once)"
            ))
        })?;
        let kept = self
            .store_alone()
            .record_shipped_elsewhere(&rec, why, user, now)
            .map_err(store_err)?;
        if let Recorded::Elsewhere(r) = &kept {
            tracing::info!(order = %id, state = %r.state, %user, why, "recorded from Amazon: shipped elsewhere");
        }
        Ok(Some(kept.record().clone()))
    }
}
