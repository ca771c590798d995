//! The seller's metrics for a lead: Amazon's Late Shipment, Valid Tracking, On-Time Delivery and
//! Pre-fulfillment Cancel rates, and Seller Fulfilled Prime's on-time shipment and Buy Shipping
//! share, each beside its threshold. Read from the day counters (`store::stats`), never from
//! orders; no personal data: counts and days.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::{Allowed, Operation};
use crate::domain::metrics::{LONGEST, SellerMetrics};
use crate::service::{Role, Service, ServiceError, store_err};
use crate::store::shipping::local_day;

/// The seller's metrics of today (the site's local day).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Metrics {}

impl Operation for Metrics {
    type Answer = SellerMetrics;
    const NAME: &'static str = "metrics";
    const WRITES: bool = false;
    const ACTION: &'static str = "reading the seller's metrics";
    const ROLE: Role = Role::Lead;

    fn apply(
        self,
        svc: &Service,
        _: &Allowed,
        now: DateTime<Utc>,
    ) -> Result<SellerMetrics, ServiceError> {
        seller_metrics(&svc.store(), now)
    }
}

/// The metrics of `now`'s local day, from the store's counters of the last [`LONGEST`] days.
pub(super) fn seller_metrics(
    store: &crate::store::Store,
    now: DateTime<Utc>,
) -> Result<SellerMetrics, ServiceError> {
    let today = local_day(now);
    let from = today - Duration::days(i64::from(LONGEST) - 1);
    let counts = store.day_counts(from, today).map_err(store_err)?;
    // The day the counters began is counted in part: they count from the next one.
    let since = store
        .seller_counted_since()
        .map_err(store_err)?
        .map(|at| local_day(at) + Duration::days(1));
    Ok(SellerMetrics::build(today, since, &counts))
}
