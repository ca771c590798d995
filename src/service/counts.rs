//! The queue's counts and the purge preview: both read the whole store, so both are kept and
//! made again in the background when stale.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::{
    COUNTS_MAX_AGE, Counts, CountsCache, Notice, PURGE_PREVIEW_MAX_AGE, Service, ServiceError,
    store, store_err,
};

impl Service {
    /// The queue counts as last counted. A count older than the last change (and than
    /// [`COUNTS_MAX_AGE`]) is refreshed in the background, never on the caller's time: a page
    /// is answered at once with the counts it has, and [`Notice::Counts`] brings the new ones.
    pub(crate) fn counts(&self) -> Counts {
        let generation = self.generation.load(std::sync::atomic::Ordering::Relaxed);
        let cache = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let fresh = cache
            .as_ref()
            .is_some_and(|c| c.generation == generation || c.at.elapsed() < COUNTS_MAX_AGE);
        let counts = cache.as_ref().map(|c| c.counts.clone()).unwrap_or_default();
        drop(cache);
        if !fresh {
            self.refresh_counts();
        }
        counts
    }

    /// What a purge now would destroy, as last counted (none before the first count). A
    /// count older than [`PURGE_PREVIEW_MAX_AGE`] is made again in the background (it reads
    /// every order), and a [`Notice::FloorChanged`] says when it is in.
    pub(crate) fn purge_preview(&self) -> Option<(DateTime<Utc>, store::retention::PurgePreview)> {
        use std::sync::atomic::Ordering;
        let now = Utc::now();
        let cached = *self.purge_preview.lock().unwrap_or_else(|p| p.into_inner());
        let stale = cached.is_none_or(|(at, _)| now - at > PURGE_PREVIEW_MAX_AGE);
        if stale && !self.previewing.swap(true, Ordering::AcqRel) {
            let me = self.me.clone();
            std::thread::spawn(move || {
                let Some(me) = me.upgrade() else { return };
                let at = Utc::now();
                let r = me.store().purge_preview(me.settings.retention, at);
                match r {
                    Ok(p) => {
                        *me.purge_preview.lock().unwrap_or_else(|p| p.into_inner()) = Some((at, p));
                        me.notify(Notice::FloorChanged);
                    }
                    Err(e) => tracing::error!("previewing the purge: {e}"),
                }
                me.previewing.store(false, Ordering::Release);
            });
        }
        cached
    }

    /// Waits until a purge preview has been counted (tests).
    pub fn wait_for_purge_preview(&self) {
        while self.purge_preview().is_none() {
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Starts a background count unless one is running.
    pub fn refresh_counts(&self) {
        use std::sync::atomic::Ordering;
        if self.counting.swap(true, Ordering::AcqRel) {
            return;
        }
        let Some(me) = self.me.upgrade() else {
            self.counting.store(false, Ordering::Release);
            return;
        };
        std::thread::spawn(move || {
            if let Err(e) = me.count_queue() {
                tracing::error!("counting the queue: {e}");
            }
            me.counting.store(false, Ordering::Release);
        });
    }

    /// Counts the queue now, keeps the count and tells it ([`Notice::Counts`]).
    fn count_queue(&self) -> Result<Counts, store::Error> {
        let generation = self.generation.load(std::sync::atomic::Ordering::Relaxed);
        let now = Utc::now();
        let end_of_day = now
            .date_naive()
            .and_hms_opt(23, 59, 59)
            .map_or(now, |t| t.and_utc());
        let q = self.store().queue_counts(now, end_of_day)?;
        let counts = Counts {
            by_state: q.by_state,
            late: q.late,
            due_today: q.due,
        };
        *self.counts.lock().unwrap_or_else(|p| p.into_inner()) = Some(CountsCache {
            generation,
            at: Instant::now(),
            counts: counts.clone(),
        });
        self.notify(Notice::Counts(counts.clone()));
        Ok(counts)
    }

    /// The queue counts as they are: the kept count when no change came after it, else counted
    /// now (a first screen shows what a refresh would, never a count from before the orders
    /// came in). Walks the queue: not for the quick worker.
    pub(crate) fn counts_now(&self) -> Result<Counts, ServiceError> {
        let generation = self.generation.load(std::sync::atomic::Ordering::Relaxed);
        if let Some(c) = self
            .counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .filter(|c| c.generation == generation)
        {
            return Ok(c.counts.clone());
        }
        self.count_queue().map_err(store_err)
    }

    /// Waits until a count has finished (tests and tools that need exact counts).
    pub fn wait_for_counts(&self) -> Counts {
        loop {
            if !self.counting.load(std::sync::atomic::Ordering::Acquire)
                && let Some(c) = self
                    .counts
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .as_ref()
            {
                return c.counts.clone();
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}
