//! The service's calls to Amazon: made from the blocking request thread on the runtime's
//! handle, their failures said as the service says them; and the packed order and its packages,
//! as the label and confirmation paths read them.

use std::sync::Arc;

use super::{Service, ServiceError, store_err};
use crate::amazon::client::{ApiError, SpApi};
use crate::domain::{OrderId, OrderRecord, Package};
use crate::store::shipping::ShipmentRecord;

/// An Amazon call's failure as the service says it: whether trying again later can work
/// (unavailable), must wait for a check (outcome unknown), or cannot (refused, not sent).
pub(super) fn api_err(e: ApiError) -> ServiceError {
    ServiceError::Amazon {
        failure: amazon_failure(&e),
        message: e.to_string(),
    }
}

/// Whether an Amazon call's failure can be tried again, must be checked first, or cannot.
pub(super) fn amazon_failure(e: &ApiError) -> crate::service::AmazonFailure {
    use crate::service::AmazonFailure as F;
    match e {
        ApiError::Transport { .. } | ApiError::GaveUp { .. } => F::Unavailable,
        ApiError::Status { status, .. } if *status == 429 || *status >= 500 => F::Unavailable,
        ApiError::Status { .. } => F::Refused,
        ApiError::OutcomeUnknown { .. } => F::OutcomeUnknown,
        ApiError::Parse(_) => F::Unreadable,
        ApiError::Config(_) | ApiError::Request { .. } => F::NotSent,
    }
}

pub(super) fn block_on<F: std::future::Future>(f: F) -> Result<F::Output, ServiceError> {
    let handle = tokio::runtime::Handle::try_current()
        .map_err(|_| ServiceError::Store("no async runtime for Amazon calls".into()))?;
    Ok(handle.block_on(f))
}

impl Service {
    pub fn set_amazon(&self, api: Arc<SpApi>) {
        *self.amazon.lock().unwrap_or_else(|p| p.into_inner()) = Some(api);
    }

    pub(super) fn amazon(&self) -> Result<Arc<SpApi>, ServiceError> {
        self.amazon
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| {
                ServiceError::Invalid(
                    "no Amazon connection is configured ([amazon] and credentials): labels and confirmations need one".into(),
                )
            })
    }

    /// Refuses, naming the reason, when the order is held.
    pub(super) fn refuse_if_held(&self, id: &OrderId) -> Result<(), ServiceError> {
        self.store().refuse_if_held(id).map_err(store_err)
    }

    pub(super) fn packed_order(&self, id: &OrderId) -> Result<OrderRecord, ServiceError> {
        let rec = self
            .store()
            .get(id)
            .map_err(store_err)?
            .ok_or_else(|| ServiceError::NotFound(format!("order {id} is not in the store")))?;
        Ok(rec)
    }

    /// The order's packages still to leave, each with its shipment record if it has one.
    pub(super) fn open_packages(
        &self,
        id: &OrderId,
    ) -> Result<Vec<(Package, Option<ShipmentRecord>)>, ServiceError> {
        let store = self.store();
        let packages = store.open_packages(id).map_err(store_err)?;
        if packages.is_empty() {
            return Err(ServiceError::Conflict(format!(
                "order {id} has no box and weight: pack it first"
            )));
        }
        packages
            .into_iter()
            .map(|p| {
                let s = store.shipment(id, p.number).map_err(store_err)?;
                Ok((p, s))
            })
            .collect()
    }
}

#[cfg(test)]
mod amazon_failures {
    use super::*;
    use crate::service::AmazonFailure as F;

    /// A timeout is never a "conflict": each failure says whether trying again can work.
    #[test]
    fn each_failure_says_whether_trying_again_can_work() {
        let status = |status| ApiError::Status {
            operation: "getRates",
            status,
            code: "X".into(),
            message: "m".into(),
        };
        let cases = [
            (
                ApiError::Transport {
                    operation: "getRates",
                    host: "h".into(),
                    detail: "d".into(),
                },
                F::Unavailable,
                "amazon_unavailable",
            ),
            (
                ApiError::GaveUp {
                    operation: "getRates",
                    attempts: 5,
                },
                F::Unavailable,
                "amazon_unavailable",
            ),
            (status(503), F::Unavailable, "amazon_unavailable"),
            (status(429), F::Unavailable, "amazon_unavailable"),
            (status(400), F::Refused, "amazon_refused"),
            (
                ApiError::OutcomeUnknown {
                    operation: "purchaseShipment",
                    detail: "timed out".into(),
                },
                F::OutcomeUnknown,
                "outcome_unknown",
            ),
            (
                ApiError::Config("no token".into()),
                F::NotSent,
                "amazon_not_sent",
            ),
            (
                ApiError::Parse(crate::amazon::model::ParseError::Json {
                    source_name: "getRates".into(),
                    detail: "eof".into(),
                }),
                F::Unreadable,
                "amazon_unreadable",
            ),
        ];
        for (e, failure, kind) in cases {
            let message = e.to_string();
            let err = api_err(e);
            assert_eq!(err.kind(), kind);
            assert_eq!(err, ServiceError::Amazon { failure, message });
        }
    }
}
