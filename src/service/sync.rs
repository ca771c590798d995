//! `packline sync`: pulls pending merchant-fulfilled orders from Amazon into the store.
//!
//! The first sync asks searchOrders for UNSHIPPED and PARTIALLY_SHIPPED orders created in the
//! look-back window; every later one asks for everything updated since the stored watermark
//! (less a safety overlap), which also brings cancellations and address changes. Pages are
//! imported as they arrive, and the watermark moves only once every page is in.

use chrono::{DateTime, Duration, Utc};

use crate::amazon::client::{ApiError, SEARCH_ORDERS, SearchOrders, SpApi};
use crate::amazon::throttle::UsagePlan;
use crate::store::{self, ImportCounts};

/// Meta key of the time the last complete sync started.
pub const WATERMARK: &str = store::keys::meta::SYNC_WATERMARK;
/// Meta key of the searchOrders quota as the last run left it (`tokens rate`), with its time in
/// [`BUCKET_AT`]: a new process resumes from it instead of assuming a full burst.
pub const BUCKET: &str = store::keys::meta::SYNC_BUCKET;
pub const BUCKET_AT: &str = store::keys::meta::SYNC_BUCKET_AT;
/// The most set-aside orders one sync asks for again: getOrder's burst, so the retries never
/// wait on its quota.
pub const MAX_RETRIES: usize = 30;
/// Updates can reach Amazon's index a little after their timestamp; look back this far again.
pub const OVERLAP_MINUTES: i64 = 10;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error("sync plan: {0}: set [amazon] lookback_days between 1 and 365")]
    Plan(&'static str),
}

#[derive(Clone, Debug, Default)]
pub struct SyncPlan {
    pub marketplace_ids: Vec<String>,
    pub lookback_days: u32,
}

/// One full sync. `progress` is told the running counts after each page.
pub async fn sync_once(
    api: &SpApi,
    store: &super::Service,
    plan: &SyncPlan,
    user: &str,
    now: DateTime<Utc>,
    mut progress: impl FnMut(usize, &ImportCounts),
) -> Result<ImportCounts, SyncError> {
    let mut q = SearchOrders {
        marketplace_ids: plan.marketplace_ids.clone(),
        ..SearchOrders::default()
    };
    match store.with_store(|s| s.meta_time(WATERMARK))? {
        Some(w) => q.last_updated_after = Some(w - Duration::minutes(OVERLAP_MINUTES)),
        None => {
            // A look-back beyond the calendar is refused, not a panic in the middle of a sync.
            let start = now
                .checked_sub_signed(Duration::days(i64::from(plan.lookback_days)))
                .ok_or(SyncError::Plan("the look-back reaches before any date"))?;
            q.created_after = Some(start);
            q.fulfillment_statuses = vec!["UNSHIPPED", "PARTIALLY_SHIPPED"];
        }
    }
    if let (Some(state), Some(at)) = store
        .with_store(|s| Ok::<_, store::Error>((s.meta_text(BUCKET)?, s.meta_time(BUCKET_AT)?)))?
    {
        let mut parts = state.split_whitespace().map(str::parse::<f64>);
        if let (Some(Ok(tokens)), Some(Ok(rate))) = (parts.next(), parts.next()) {
            let age = (Utc::now() - at).to_std().unwrap_or_default();
            api.resume_bucket(SEARCH_ORDERS, UsagePlan::SEARCH_ORDERS, tokens, rate, age);
        }
    }
    let mut total = ImportCounts::default();
    retry_set_aside(api, store, user, now, &mut total).await?;
    let mut pages = 0;
    let result = fetch_all(
        api,
        store,
        &mut q,
        user,
        now,
        &mut total,
        &mut pages,
        &mut progress,
    )
    .await;
    // The quota is kept whatever happened: the requests were sent either way.
    if let Some((tokens, rate)) = api.bucket_state(SEARCH_ORDERS) {
        store.with_store(|s| {
            s.set_meta_text(BUCKET, &format!("{tokens} {rate}"))?;
            s.set_meta_time(BUCKET_AT, Utc::now())
        })?;
    }
    result?;
    store.with_store(|s| s.set_meta_time(WATERMARK, now))?;
    // An order asked for again and seen again on a page is named once.
    let mut named = std::collections::HashSet::new();
    total.set_aside.retain(|r| named.insert(r.order.clone()));
    Ok(total)
}

#[allow(clippy::too_many_arguments)]
async fn fetch_all(
    api: &SpApi,
    store: &super::Service,
    q: &mut SearchOrders,
    user: &str,
    now: DateTime<Utc>,
    total: &mut ImportCounts,
    pages: &mut usize,
    progress: &mut impl FnMut(usize, &ImportCounts),
) -> Result<(), SyncError> {
    loop {
        let page = api.search_orders(q).await?;
        *pages += 1;
        *total += store.import_page(page.orders, page.refused, SEARCH_ORDERS, user, now)?;
        progress(*pages, total);
        match page.next_token {
            Some(t) => q.pagination_token = Some(t),
            None => return Ok(()),
        }
    }
}

/// Asks Amazon again (getOrder) for the orders set aside before this sync: one that reads now
/// is imported and leaves the list, one Amazon no longer knows leaves it too, one still refused
/// stays and is named again. A retry that fails otherwise is logged and left for the next sync:
/// it never stops the sync.
async fn retry_set_aside(
    api: &SpApi,
    store: &super::Service,
    user: &str,
    now: DateTime<Utc>,
    total: &mut ImportCounts,
) -> Result<(), SyncError> {
    const OP: &str = "getOrder";
    let kept = store.with_store(|s| s.set_aside_orders())?;
    for r in kept.into_iter().take(MAX_RETRIES) {
        match api.get_order_checked(&r.order).await {
            Ok(Ok(order)) => *total += store.import_page(vec![order], Vec::new(), OP, user, now)?,
            Ok(Err(refused)) => {
                let refused = crate::domain::SetAside {
                    order: r.order.to_string(),
                    reason: refused.reason,
                };
                *total += store.import_page(Vec::new(), vec![refused], OP, user, now)?;
            }
            Err(ApiError::Status { status: 404, .. }) => {
                tracing::info!(order = %r.order, "a set-aside order Amazon no longer knows");
                store.with_store(|s| {
                    s.clear_set_aside(
                        [&r.order],
                        Some("Amazon no longer knows the order"),
                        user,
                        now,
                    )
                })?;
            }
            Err(e) => tracing::warn!(order = %r.order, "asking again for a set-aside order: {e}"),
        }
    }
    Ok(())
}
