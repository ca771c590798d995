//! `packline returns sync` (and the daemon's schedule of its own): pulls Amazon's merchant
//! returns report into the store. The first pull covers the last 60 days (one report's most);
//! every later one, the days since the last (less a day of overlap: the report is by day), one
//! report per 60 days. A report Amazon cancels has no returns in it. The watermark moves after
//! each report recorded, so a pull cut short resumes where it stopped; it stays at the start of
//! a report with a refused row (within 60 days of now), so the next pull reads that row again.
//! On a database several sites share, the daemon that syncs the account records each return at
//! the site that has its order (the account's `route/ORDER`), in that site's store.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use super::{Service, ServiceError};
use crate::amazon::client::SpApi;
use crate::amazon::reports::{MAX_REPORT_DAYS, RETURNS_REPORT, parse_returns_rows};
use crate::domain::returns::ExpectedReturn;
use crate::store::{self, returns::ReturnCounts};

/// Meta key of the end of the last returns report recorded.
pub const WATERMARK: &str = crate::store::keys::meta::RETURNS_WATERMARK;
/// The report's dates are days: ask the last day again.
const OVERLAP: Duration = Duration::days(1);
/// A report's end a little before now (Amazon's bound: not after now).
const END_MARGIN: Duration = Duration::minutes(2);

/// One full pull of the returns report, as of `now`.
pub async fn returns_once(
    api: &SpApi,
    svc: &Service,
    marketplace_ids: &[String],
    user: &str,
    now: DateTime<Utc>,
) -> Result<ReturnCounts, String> {
    let end_all = now - END_MARGIN;
    let mut start = match svc
        .with_store(|s| s.meta_time(WATERMARK))
        .map_err(|e| e.to_string())?
    {
        Some(w) => w - OVERLAP,
        None => end_all - Duration::days(MAX_REPORT_DAYS),
    };
    let mut total = ReturnCounts::default();
    // The start of the first report with a refused row: the next pull asks from there again
    // (while that is within one report of now), so the row is read again once Amazon's data is.
    let mut held: Option<DateTime<Utc>> = None;
    while start < end_all {
        let end = (start + Duration::days(MAX_REPORT_DAYS)).min(end_all);
        let doc = api
            .returns_report(marketplace_ids, start, end)
            .await
            .map_err(|e| e.to_string())?;
        if let Some(bytes) = doc {
            let report = parse_returns_rows(&bytes, RETURNS_REPORT).map_err(|e| e.to_string())?;
            let (mut counts, waiting) = svc
                .record_returns(&report.returns, user, now)
                .map_err(|e| e.to_string())?;
            if (waiting || !report.refused.is_empty())
                && end_all - start <= Duration::days(MAX_REPORT_DAYS)
            {
                held.get_or_insert(start);
            }
            counts.refused_rows(report.refused);
            total += counts;
        }
        // The next pull starts at the watermark less a day: a held start is kept as such.
        let mark = held.map_or(end, |h| h + OVERLAP);
        svc.with_store(|s| s.set_meta_time(WATERMARK, mark))
            .map_err(|e| e.to_string())?;
        start = end;
    }
    Ok(total)
}

impl Service {
    /// Records a report's returns, each at the site that has its order: on a database several
    /// sites share, a return of an order the account routed to another site is written into
    /// that site's store, as its own returns sync would write it (audited there); the others,
    /// and those of orders never routed, here. Whether some wait for a site that cannot take
    /// them now (its daemon has not run lately): they are named as refused, and the report is
    /// read again at the next pull.
    pub(crate) fn record_returns(
        &self,
        returns: &[ExpectedReturn],
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<(ReturnCounts, bool), store::Error> {
        let (here, shared) = self.with_store(|s| (s.site().to_owned(), s.shared()));
        let mut mine = Vec::new();
        let mut away: BTreeMap<String, Vec<ExpectedReturn>> = BTreeMap::new();
        for r in returns {
            let site = match shared {
                true => self.with_store(|s| s.order_site(&r.order))?,
                false => None,
            };
            match site {
                Some(site) if site != here => away.entry(site).or_default().push(r.clone()),
                _ => mine.push(r.clone()),
            }
        }
        let mut counts = self.with_store_mut(|s| s.record_returns(&mine, user, now))?;
        let mut waiting = false;
        for (site, rows) in away {
            match self.store_of_site(&site, now)? {
                Ok(mut there) => {
                    counts += there.record_returns(&rows, user, now)?;
                    let _ = there.announce_change();
                    tracing::info!(
                        site,
                        returns = rows.len(),
                        "returns recorded for another site"
                    );
                }
                Err(e) => {
                    waiting = true;
                    counts.listed += rows.len() as u64;
                    counts.refused_rows(rows.iter().map(|r| {
                        format!("order {}: its return waits for site {site}: {e}", r.order)
                    }));
                }
            }
        }
        Ok((counts, waiting))
    }

    /// One pull of the returns report now (the daemon's schedule, or `packline returns sync`);
    /// the sync state says how it went. One at a time.
    pub async fn returns_sync_now(&self, user: &str) -> Result<ReturnCounts, ServiceError> {
        let api = self.amazon()?;
        {
            let mut st = self.sync.lock().unwrap_or_else(|p| p.into_inner());
            if st.returns_running {
                return Err(ServiceError::Conflict(
                    "a returns sync with Amazon is running already: wait for it to finish".into(),
                ));
            }
            st.returns_running = true;
        }
        // A round that never finishes normally must not leave it marked running for ever.
        struct Running<'a>(&'a Service);
        impl Drop for Running<'_> {
            fn drop(&mut self) {
                self.0.set_sync_state(|s| {
                    if s.returns_running {
                        s.returns_running = false;
                        s.returns_error =
                            Some("the returns sync stopped unexpectedly: see the log".into());
                    }
                });
            }
        }
        let _running = Running(self);
        let ids = self.settings.sync_plan.marketplace_ids.clone();
        let result = returns_once(&api, self, &ids, user, Utc::now()).await;
        match &result {
            Ok(counts) => tracing::info!(?counts, "returns sync"),
            Err(e) => tracing::error!("returns sync: {e}"),
        }
        self.set_sync_state(|s| {
            s.returns_running = false;
            match &result {
                Ok(_) => {
                    s.returns_last_ok = Some(Utc::now());
                    s.returns_error = None;
                }
                Err(e) => s.returns_error = Some(e.clone()),
            }
        });
        result.map_err(ServiceError::Conflict)
    }
}
