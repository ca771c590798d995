//! `packline sync`: pulls pending merchant-fulfilled orders from Amazon into the store.
//!
//! The first sync asks searchOrders for UNSHIPPED and PARTIALLY_SHIPPED orders created in the
//! look-back window; every later one asks for everything updated since the stored watermark
//! (less a safety overlap), which also brings cancellations and address changes. Pages are
//! imported as they arrive, and the watermark moves only once every page is in; until then the
//! next page's token is kept, so a sync cut short carries on where it stopped. An order of a
//! page that packline refuses is set aside and asked for again at the next sync.
//!
//! A large backlog comes through Amazon's actionable-orders report instead (`sync --backlog`,
//! or when searchOrders' burst is spent with pages still to come and `[amazon] backlog_report`
//! allows it): one report lists every unshipped merchant-fulfilled order, imported like a page
//! (its buyer columns dropped at parse, its recipients sealed, a refused row's order set aside);
//! then searchOrders catches up with what changed since the report's data time, less the lag
//! Amazon's order reports may have ([`REPORT_LAG_MINUTES`]), and, after a sync that had a
//! watermark, with the orders shipped or cancelled since it, which the report cannot list.

use chrono::{DateTime, Duration, Utc};

use crate::amazon::actionable::parse_actionable_orders;
use crate::amazon::client::{ApiError, SpApi};
use crate::amazon::orders::{SEARCH_ORDERS, SearchOrders};
use crate::amazon::reports::ACTIONABLE_REPORT;
use crate::amazon::throttle::UsagePlan;
use crate::domain::import::SyncResume;
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
/// Amazon's order reports can lag their data time by up to about 30 minutes: the catch-up
/// after one asks searchOrders for everything updated since its data time less this.
pub const REPORT_LAG_MINUTES: i64 = 30;

/// When a sync takes the actionable-orders report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backlog {
    /// Never: searchOrders pages only, waiting on their quota.
    Never,
    /// When searchOrders' burst is spent and pages are still to come.
    WhenLarge,
    /// Now, whatever is pending (`sync --backlog`).
    Now,
}

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

/// One full sync. `progress` is told the pages done and the running counts after each page,
/// and, before a page that must wait for Amazon's quota, how long.
///
/// A sync cut short (a kill, a failure) left where it stood: the next one carries on with the
/// same query from Amazon's pagination token (valid 24 hours, so one older than
/// [`RESUME_WITHIN`] is dropped and the sync starts afresh), and its watermark is the start of
/// the sync that made the query, so nothing that changed meanwhile is missed. The quota is kept
/// after every page, so a new process knows what Amazon's side of the bucket has left.
pub async fn sync_once(
    api: &SpApi,
    store: &super::Service,
    plan: &SyncPlan,
    user: &str,
    now: DateTime<Utc>,
    progress: impl FnMut(usize, &ImportCounts, Option<std::time::Duration>),
) -> Result<ImportCounts, SyncError> {
    let backlog = if store.settings().backlog_report {
        Backlog::WhenLarge
    } else {
        Backlog::Never
    };
    sync_with(api, store, plan, backlog, user, now, progress).await
}

/// One full sync, taking the actionable-orders report as `backlog` says: see [`sync_once`].
pub async fn sync_with(
    api: &SpApi,
    store: &super::Service,
    plan: &SyncPlan,
    backlog: Backlog,
    user: &str,
    now: DateTime<Utc>,
    mut progress: impl FnMut(usize, &ImportCounts, Option<std::time::Duration>),
) -> Result<ImportCounts, SyncError> {
    if let (Some(state), Some(at)) = store
        .with_store(|s| Ok::<_, store::Error>((s.meta_text(BUCKET)?, s.meta_time(BUCKET_AT)?)))?
    {
        let mut parts = state.split_whitespace().map(str::parse::<f64>);
        if let (Some(Ok(tokens)), Some(Ok(rate))) = (parts.next(), parts.next()) {
            let age = (Utc::now() - at).to_std().unwrap_or_default();
            api.resume_bucket(SEARCH_ORDERS, UsagePlan::SEARCH_ORDERS, tokens, rate, age);
        }
    }
    let mut run = Run {
        api,
        store,
        plan,
        user,
        now,
        total: ImportCounts::default(),
        progress: &mut progress,
    };
    run.retry_set_aside().await?;
    let watermark = if backlog == Backlog::Now {
        let data_time = run.import_report().await?;
        // The report lists everything pending: where a sync cut short stood is not needed.
        store.with_store(|s| s.set_sync_resume(None))?;
        let result = run.catch_up(data_time).await;
        keep_bucket(api, store)?;
        result?;
        now
    } else {
        let switch = backlog == Backlog::WhenLarge;
        let resumed = store
            .with_store(|s| s.sync_resume())?
            .filter(|r| now - r.saved < RESUME_WITHIN && r.saved <= now);
        let mut place = match &resumed {
            Some(r) => {
                tracing::info!(
                    pages = r.pages,
                    "sync carries on where the last one stopped"
                );
                Place {
                    q: SearchOrders {
                        marketplace_ids: plan.marketplace_ids.clone(),
                        created_after: r.created_after,
                        last_updated_after: r.last_updated_after,
                        fulfillment_statuses: r
                            .statuses
                            .iter()
                            .filter_map(|s| {
                                ALL_STATUSES.iter().find(|k| **k == s.as_str()).copied()
                            })
                            .collect(),
                        pagination_token: Some(r.token.clone()),
                    },
                    started: r.started,
                    pages: r.pages as usize,
                }
            }
            None => Place {
                q: first_query(store, plan, now)?,
                started: now,
                pages: 0,
            },
        };
        let mut first = true;
        let result = loop {
            let result = run.fetch_all(&mut place, switch).await;
            // A token Amazon no longer takes (a 400 on the resumed page): start afresh, once.
            let refused = resumed.is_some()
                && place.pages == resumed.as_ref().map_or(0, |r| r.pages as usize)
                && matches!(
                    result,
                    Err(SyncError::Api(ApiError::Status { status: 400, .. }))
                );
            if !(first && refused) {
                break result;
            }
            first = false;
            tracing::warn!("the last sync's pagination token was refused: starting afresh");
            store.with_store(|s| s.set_sync_resume(None))?;
            place = Place {
                q: first_query(store, plan, now)?,
                started: now,
                pages: 0,
            };
        };
        let result = match result {
            Ok(Fetched::Backlog) => {
                tracing::info!(
                    pages = place.pages,
                    "searchOrders' burst is spent with pages to come: the rest through the actionable-orders report"
                );
                match run.import_report().await {
                    Ok(data_time) => {
                        store.with_store(|s| s.set_sync_resume(None))?;
                        run.catch_up(data_time).await
                    }
                    Err(e @ SyncError::Store(_)) => Err(e),
                    // No report (the app lacks the role, Amazon failed to make it): the pages
                    // go on where they stood, waiting on their quota, as without the report.
                    Err(e) => {
                        tracing::warn!(
                            "the actionable-orders report failed, the sync goes on with searchOrders pages: {e}"
                        );
                        run.fetch_all(&mut place, false).await.map(|_| ())
                    }
                }
            }
            other => other.map(|_| ()),
        };
        keep_bucket(api, store)?;
        result?;
        place.started
    };
    store.with_store(|s| {
        s.set_meta_time(WATERMARK, watermark)?;
        s.set_sync_resume(None)
    })?;
    // An order asked for again and seen again on a page is named once.
    let mut total = run.total;
    let mut named = std::collections::HashSet::new();
    total.set_aside.retain(|r| named.insert(r.order.clone()));
    Ok(total)
}

/// Amazon's pagination token lasts 24 hours; one kept longer than this is not used.
pub const RESUME_WITHIN: Duration = Duration::hours(23);

/// The fulfillment statuses a first sync asks for.
const STATUSES: [&str; 2] = ["UNSHIPPED", "PARTIALLY_SHIPPED"];
/// The statuses of orders closed since a watermark, which an actionable report cannot list.
const CLOSED: [&str; 2] = ["SHIPPED", "CANCELLED"];
/// Every status a kept query may name.
const ALL_STATUSES: [&str; 4] = ["UNSHIPPED", "PARTIALLY_SHIPPED", "SHIPPED", "CANCELLED"];

/// How a run of pages ended.
enum Fetched {
    /// The last page is in.
    Done,
    /// searchOrders' burst is spent with pages to come: the rest through the report.
    Backlog,
}

/// Where a sync stands: its query (with the next page's token), when the sync that made the
/// query started, and the pages done.
struct Place {
    q: SearchOrders,
    started: DateTime<Utc>,
    pages: usize,
}

/// A new sync's query: everything updated since the watermark (less the overlap), or on the
/// first sync the pending orders created in the look-back window.
fn first_query(
    store: &super::Service,
    plan: &SyncPlan,
    now: DateTime<Utc>,
) -> Result<SearchOrders, SyncError> {
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
            q.fulfillment_statuses = STATUSES.to_vec();
        }
    }
    Ok(q)
}

/// Keeps searchOrders' quota as the client's bucket has it: the requests were sent whatever
/// happens next.
fn keep_bucket(api: &SpApi, store: &super::Service) -> Result<(), SyncError> {
    if let Some((tokens, rate)) = api.bucket_state(SEARCH_ORDERS) {
        store.with_store(|s| {
            s.set_meta_text(BUCKET, &format!("{tokens} {rate}"))?;
            s.set_meta_time(BUCKET_AT, Utc::now())
        })?;
    }
    Ok(())
}

/// One sync as it runs: what it talks to, for whom, and what it has imported so far, told to
/// `progress` after each page.
struct Run<'a, P> {
    api: &'a SpApi,
    store: &'a super::Service,
    plan: &'a SyncPlan,
    user: &'a str,
    now: DateTime<Utc>,
    total: ImportCounts,
    progress: &'a mut P,
}

impl<P: FnMut(usize, &ImportCounts, Option<std::time::Duration>)> Run<'_, P> {
    /// Imports what `op` answered (orders, and those Amazon's answer could not give) and counts it.
    fn import(
        &mut self,
        orders: Vec<crate::domain::ImportedOrder>,
        refused: Vec<crate::domain::SetAside>,
        op: &str,
    ) -> Result<(), SyncError> {
        self.total += self
            .store
            .import_page(orders, refused, op, self.user, self.now)?;
        Ok(())
    }

    /// The actionable-orders report, imported like a page; answers its data time (when it was
    /// asked for, if Amazon names none or a later one).
    async fn import_report(&mut self) -> Result<DateTime<Utc>, SyncError> {
        let (api, plan) = (self.api, self.plan);
        let asked = Utc::now();
        tracing::info!("asking Amazon for the actionable-orders report");
        let report = api.actionable_report(&plan.marketplace_ids).await?;
        let data_time = match &report {
            Some(r) => r.report.data_end_time.map_or(asked, |t| t.min(asked)),
            None => asked,
        };
        if let Some(r) = report {
            let marketplace = match plan.marketplace_ids.as_slice() {
                [one] => Some(one.as_str()),
                _ => None,
            };
            let read = parse_actionable_orders(&r.bytes, ACTIONABLE_REPORT, marketplace)
                .map_err(ApiError::from)?;
            tracing::info!(
                orders = read.orders.len(),
                refused = read.refused.len(),
                "actionable-orders report read"
            );
            self.import(read.orders, read.refused, ACTIONABLE_REPORT)?;
            (self.progress)(0, &self.total, None);
        }
        Ok(data_time)
    }

    /// After a report of `data_time`: searchOrders for what changed since (less the lag), and,
    /// when the store has a watermark from an earlier sync, for the orders shipped or cancelled
    /// since it. Each query is kept like any other, with as its start its own lower bound, so a
    /// catch-up cut short is carried on by the next sync and the watermark it leaves misses nothing.
    async fn catch_up(&mut self, data_time: DateTime<Utc>) -> Result<(), SyncError> {
        let plan = self.plan;
        let watermark = self.store.with_store(|s| s.meta_time(WATERMARK))?;
        let since = data_time - Duration::minutes(REPORT_LAG_MINUTES);
        let mut queries = vec![(since, Vec::new())];
        if let Some(w) = watermark.map(|w| w - Duration::minutes(OVERLAP_MINUTES))
            && w < since
        {
            queries.push((w, CLOSED.to_vec()));
        }
        for (after, statuses) in queries {
            let mut place = Place {
                q: SearchOrders {
                    marketplace_ids: plan.marketplace_ids.clone(),
                    last_updated_after: Some(after),
                    fulfillment_statuses: statuses,
                    ..SearchOrders::default()
                },
                started: after,
                pages: 0,
            };
            self.fetch_all(&mut place, false).await?;
        }
        Ok(())
    }

    /// The pages from where `place` stands to the last, each imported as it arrives; after each,
    /// the quota and the next page's token are kept, so a sync cut short carries on from there.
    /// With `switch`, stops when searchOrders' burst is spent and pages are still to come.
    async fn fetch_all(&mut self, place: &mut Place, switch: bool) -> Result<Fetched, SyncError> {
        let (api, store) = (self.api, self.store);
        loop {
            if let Some((tokens, _, rate)) = api.quota(SEARCH_ORDERS)
                && tokens < 1.0
                && rate > 0.0
            {
                // Pages to come and none left in the burst: the report is quicker than the wait.
                if switch && place.q.pagination_token.is_some() {
                    return Ok(Fetched::Backlog);
                }
                let wait = std::time::Duration::from_secs_f64((1.0 - tokens) / rate);
                (self.progress)(place.pages, &self.total, Some(wait));
            }
            // Kept before the request goes: a process killed while it is in flight still counts it.
            let (tokens, rate) =
                api.bucket_state_after_next(SEARCH_ORDERS, UsagePlan::SEARCH_ORDERS);
            store.with_store(|s| {
                s.set_meta_text(BUCKET, &format!("{tokens} {rate}"))?;
                s.set_meta_time(BUCKET_AT, Utc::now())
            })?;
            let page = api.search_orders(&place.q).await?;
            place.pages += 1;
            self.import(page.orders, page.refused, SEARCH_ORDERS)?;
            keep_bucket(api, store)?;
            let Some(token) = page.next_token else {
                (self.progress)(place.pages, &self.total, None);
                return Ok(Fetched::Done);
            };
            let resume = SyncResume {
                token: token.clone(),
                created_after: place.q.created_after,
                last_updated_after: place.q.last_updated_after,
                statuses: place
                    .q
                    .fulfillment_statuses
                    .iter()
                    .map(|s| (*s).to_owned())
                    .collect(),
                started: place.started,
                saved: Utc::now(),
                pages: place.pages as u64,
            };
            store.with_store(|s| s.set_sync_resume(Some(&resume)))?;
            place.q.pagination_token = Some(token);
            (self.progress)(place.pages, &self.total, None);
        }
    }

    /// Asks Amazon again (getOrder) for the orders set aside before this sync: one that reads now
    /// is imported and leaves the list, one Amazon no longer knows leaves it too, one still refused
    /// stays and is named again. A retry that fails otherwise is logged and left for the next sync:
    /// it never stops the sync.
    async fn retry_set_aside(&mut self) -> Result<(), SyncError> {
        let (api, store, user, now) = (self.api, self.store, self.user, self.now);
        const OP: &str = crate::amazon::endpoints::GET_ORDER.name;
        let kept = store.with_store(|s| s.set_aside_orders())?;
        for r in kept.into_iter().take(MAX_RETRIES) {
            match api.get_order_checked(&r.order).await {
                Ok(Ok(order)) => self.import(vec![order], Vec::new(), OP)?,
                Ok(Err(refused)) => {
                    let refused = crate::domain::SetAside {
                        order: r.order.to_string(),
                        reason: refused.reason,
                    };
                    self.import(Vec::new(), vec![refused], OP)?;
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
                Err(e) => {
                    tracing::warn!(order = %r.order, "asking again for a set-aside order: {e}")
                }
            }
        }
        Ok(())
    }
}
