//! The service: the only code that changes state. It owns the store, answers [`Request`]s for a
//! [`Caller`] whose role it checks itself (never trusting a client), and pushes [`Notice`]s.
//! Two transports carry the same requests: in-process ([`client::Client::local`]) and the Unix
//! socket of `packline serve` ([`server`]). Replies are already redacted for the caller's role.

mod amazon_calls;
pub mod client;
mod counts;
pub mod daemon;
mod elsewhere;
mod guards;
mod intake;
mod labels;
pub mod ops;
mod print_queue;
pub mod proto;
pub mod returns;
pub mod server;
mod sessions;
mod settings;
pub mod sync;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::broadcast;

use crate::domain::{Hold, OrderId, OrderRecord, PickBatch};
/// A print job as the print queue's requests answer it.
pub use crate::store::shipping::{JobState, PrintJob};
use crate::store::{self, ImportCounts, Store};
use guards::{may_pick, non_empty, not_open, order_id, own_bench, store_err};
pub(crate) use guards::{row_in, rows_in};
pub use ops::{Operation, Request};
pub use proto::{
    AmazonFailure, BoxPreset, Counts, ExceptionRow, Notice, OrderRow, Passphrase, QueuePage, Quota,
    RateOffer, RawPage, Revealed, Role, ServiceError, SyncState,
};
pub use settings::Settings;

/// Who is asking: an OS user and the role the config gives them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub user: String,
    pub role: Role,
}

/// How often one user's refusals are audited at most.
pub const REFUSAL_AUDIT_INTERVAL: Duration = Duration::from_secs(60);

const FLOOR_STRIPES: usize = 64;

/// How long cached queue counts may lag behind a change (counting walks the whole queue).
const COUNTS_MAX_AGE: Duration = Duration::from_secs(2);
/// How old the dashboard's purge preview may grow before it is counted again.
const PURGE_PREVIEW_MAX_AGE: chrono::TimeDelta = chrono::TimeDelta::minutes(10);
/// How long after a change its [`Notice::FloorChanged`] goes out (changes meanwhile share it).
const FLOOR_NOTICE_DELAY: Duration = Duration::from_secs(1);
/// How long after another process's announcement its [`Notice::FloorChanged`] goes out.
const HEARD_NOTICE_DELAY: Duration = Duration::from_millis(100);
/// The most rows one queue page may ask for.
pub const MAX_PAGE: u32 = 500;
/// The most pick batches one reply lists.
pub const MAX_BATCHES: usize = 100;
/// The deepest a queue page may start: paging past it walks too much of the store for one
/// request (search by order id instead).
pub const MAX_OFFSET: u32 = 100_000;

struct CountsCache {
    generation: u64,
    at: Instant,
    counts: Counts,
}

pub struct Service {
    /// This service, for the background count.
    me: std::sync::Weak<Service>,
    store: RwLock<Store>,
    /// The store's data directory: changes are refused while its disk is (nearly) full.
    data_dir: std::path::PathBuf,
    settings: Settings,
    /// Spares the store's transactions retries when scans of one batch or order arrive at once
    /// from many clients (each change is one transaction, and that alone keeps changes apart,
    /// here and across processes): one lock per stripe, a batch or order always in the same
    /// stripe, so scans of different batches never wait for each other. Whole-floor changes take
    /// every stripe, in order.
    floor: Vec<Mutex<()>>,
    notices: broadcast::Sender<Notice>,
    /// Bumped by every change that moves orders between states.
    generation: std::sync::atomic::AtomicU64,
    counts: Mutex<Option<CountsCache>>,
    sync: Mutex<SyncState>,
    /// Live connections per user (socket transport), for releasing claims of the departed.
    connected: Mutex<HashMap<String, usize>>,
    /// A background count is running.
    counting: std::sync::atomic::AtomicBool,
    /// A [`Notice::FloorChanged`] is on its way: see [`Service::changed`].
    announcing: std::sync::atomic::AtomicBool,
    /// A change was made here since the last announcement to other processes.
    changed_here: std::sync::atomic::AtomicBool,
    /// A notice of another process's change is on its way.
    hearing: std::sync::atomic::AtomicBool,
    /// What a purge now would destroy, as last counted, and when (the dashboard's preview).
    purge_preview: Mutex<Option<(DateTime<Utc>, store::retention::PurgePreview)>>,
    /// A background purge preview is running.
    previewing: std::sync::atomic::AtomicBool,
    /// The Amazon connection, for labels and confirmations (none on a site without one).
    amazon: Mutex<Option<Arc<crate::amazon::client::SpApi>>>,
    /// Print jobs this process is sending or about to send (see [`Service::prints_idle`]).
    prints_running: tokio::sync::watch::Sender<usize>,
    /// Print jobs the last process left queued, never begun: sent once this service has a
    /// runtime to send them on (see [`Service::send_left_prints`]).
    prints_left: Mutex<Vec<u64>>,
    /// A bulk import happened: see [`Service::checkpoint_due`].
    bulk_written: std::sync::atomic::AtomicBool,
    /// Per user, since when their refusals go unaudited and how many did: see
    /// [`Service::record_refusal`].
    refusals: Mutex<HashMap<String, RefusalWindow>>,
    /// Shipping API v2 rates of packed packages, while Amazon honours them.
    rates_v2: Mutex<HashMap<(OrderId, u32), labels::CachedRates>>,
}

/// One user's refusals since the last one audited.
struct RefusalWindow {
    audited_at: Instant,
    unaudited: u64,
}

/// The most users whose refusals are remembered; past it, those whose interval is over are
/// forgotten.
const MAX_REFUSAL_WINDOWS: usize = 4096;

impl Service {
    pub fn new(store: Store, settings: Settings) -> Arc<Service> {
        let (notices, _) = broadcast::channel(1024);
        let data_dir = store.data_dir().to_owned();
        let service = Arc::new_cyclic(|me| Service {
            me: me.clone(),
            store: RwLock::new(store),
            data_dir,
            settings,
            floor: (0..FLOOR_STRIPES).map(|_| Mutex::new(())).collect(),
            notices,
            generation: Default::default(),
            counts: Mutex::new(None),
            sync: Mutex::new(SyncState {
                enabled: false,
                last_ok: None,
                last_error: None,
                running: false,
                purge_last_ok: None,
                purge_error: None,
                returns_running: false,
                returns_last_ok: None,
                returns_error: None,
                next_sync: None,
                quota: None,
            }),
            connected: Mutex::new(HashMap::new()),
            counting: std::sync::atomic::AtomicBool::new(false),
            announcing: std::sync::atomic::AtomicBool::new(false),
            changed_here: std::sync::atomic::AtomicBool::new(false),
            hearing: std::sync::atomic::AtomicBool::new(false),
            purge_preview: Mutex::new(None),
            previewing: std::sync::atomic::AtomicBool::new(false),
            amazon: Mutex::new(None),
            prints_running: tokio::sync::watch::Sender::new(0),
            prints_left: Mutex::new(Vec::new()),
            bulk_written: Default::default(),
            refusals: Mutex::new(HashMap::new()),
            rates_v2: Mutex::new(HashMap::new()),
        });
        // A purchase in flight when the last process stopped has an unknown outcome.
        match service.store().recover_purchases(Utc::now()) {
            Ok(0) => {}
            Ok(n) => tracing::warn!(
                orders = n,
                "label purchases interrupted by a restart are exceptions now"
            ),
            Err(e) => tracing::error!("recovering interrupted label purchases: {e}"),
        }
        // Print jobs the last process left queued are this one's to send.
        match service.store().take_over_prints() {
            Ok(left) => {
                *service
                    .prints_left
                    .lock()
                    .unwrap_or_else(|p| p.into_inner()) = left
            }
            Err(e) => tracing::error!("taking over the print queue: {e}"),
        }
        service.send_left_prints();
        // Counting walks the whole queue: start now, so the first screen does not wait for it.
        service.refresh_counts();
        service
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Refuses a change that may write `need` bytes (and sled's margin) when the store's disk
    /// has not the room: refused before it starts, it is never half written.
    pub fn ensure_room(&self, need: u64) -> Result<(), ServiceError> {
        store::space::ensure_room(&self.data_dir, need).map_err(store_err)
    }

    /// The caller for an OS user, or a refusal if the config gives them no role.
    pub fn caller(&self, user: &str) -> Result<Caller, ServiceError> {
        match self.settings.role_of(user) {
            Some(role) => Ok(Caller {
                user: user.to_owned(),
                role,
            }),
            None => Err(ServiceError::NoRole {
                user: user.to_owned(),
            }),
        }
    }

    /// Audits a refused attempt by `user` (blocking: it writes to the store). The first refusal
    /// of a user in each [`Settings::refusal_audit_interval`] is written, saying how many were
    /// refused unaudited since the one before; the rest are only counted, so a flood of
    /// refused connections writes one entry per user per interval. True when it was written.
    pub fn record_refusal(&self, user: &str, action: &str, reason: &str) -> bool {
        let now = Instant::now();
        let interval = self.settings.refusal_audit_interval;
        let unaudited = {
            let mut windows = self.refusals.lock().unwrap_or_else(|p| p.into_inner());
            match windows.get_mut(user) {
                Some(w) if now.duration_since(w.audited_at) < interval => {
                    w.unaudited += 1;
                    tracing::debug!(%user, action, "refused (not audited: audited within the interval)");
                    return false;
                }
                Some(w) => {
                    let n = w.unaudited;
                    *w = RefusalWindow {
                        audited_at: now,
                        unaudited: 0,
                    };
                    n
                }
                None => {
                    if windows.len() >= MAX_REFUSAL_WINDOWS {
                        windows.retain(|_, w| now.duration_since(w.audited_at) < interval);
                    }
                    windows.insert(
                        user.to_owned(),
                        RefusalWindow {
                            audited_at: now,
                            unaudited: 0,
                        },
                    );
                    0
                }
            }
        };
        tracing::warn!(%user, action, unaudited, "refused: {reason}");
        let reason = match unaudited {
            0 => reason.to_owned(),
            n => format!(
                "{reason} ({n} more refused since the last entry, not audited: at most one entry per {} s)",
                interval.as_secs()
            ),
        };
        match self.store().record_refusal(user, action, &reason) {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(%user, "auditing a refusal: {e}");
                false
            }
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Notice> {
        self.notices.subscribe()
    }

    pub fn notify(&self, n: Notice) {
        // No subscriber is not an error: nobody is watching.
        let _ = self.notices.send(n);
    }

    /// The store, beside the other requests: writes too go through it, each operation's own
    /// transaction keeping them apart.
    fn store(&self) -> std::sync::RwLockReadGuard<'_, Store> {
        self.store.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The store, with no other request using it: for what changes the handle itself (its
    /// keyring unlocked or locked, a key rotated, a checkpoint).
    fn store_alone(&self) -> std::sync::RwLockWriteGuard<'_, Store> {
        self.store.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Every stripe, in order (so two callers can never deadlock). Like every stripe, it spares
    /// the store's transactions retries; it guards nothing they do not.
    fn lock_floor(&self) -> Vec<std::sync::MutexGuard<'_, ()>> {
        self.floor
            .iter()
            .map(|m| m.lock().unwrap_or_else(|p| p.into_inner()))
            .collect()
    }

    fn lock_stripe(&self, n: u64) -> std::sync::MutexGuard<'_, ()> {
        self.floor[(n % FLOOR_STRIPES as u64) as usize]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// The stripe of a pick batch.
    fn lock_batch(&self, batch: u64) -> std::sync::MutexGuard<'_, ()> {
        self.lock_stripe(batch)
    }

    /// The stripe of an order at a pack bench.
    fn lock_order(&self, id: &OrderId) -> std::sync::MutexGuard<'_, ()> {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        id.hash(&mut h);
        self.lock_stripe(h.finish())
    }

    /// Records that orders moved, and makes sure a [`Notice::FloorChanged`] follows: one at most
    /// every [`FLOOR_NOTICE_DELAY`], always sent after the last change it covers.
    fn changed(&self) {
        self.changed_here
            .store(true, std::sync::atomic::Ordering::Release);
        self.floor_moved();
    }

    /// Another process on this store's database changed it (`Store::watch_changes`): the
    /// screens of this one's clients refresh, as for a change made here. That process has
    /// already gathered its changes into one announcement: this one passes it on at once.
    pub fn changed_elsewhere(&self) {
        use std::sync::atomic::Ordering;
        self.generation.fetch_add(1, Ordering::Relaxed);
        if self.hearing.swap(true, Ordering::AcqRel) {
            return;
        }
        let me = self.me.clone();
        std::thread::spawn(move || {
            std::thread::sleep(HEARD_NOTICE_DELAY);
            if let Some(me) = me.upgrade() {
                me.hearing.store(false, Ordering::Release);
                me.notify(Notice::FloorChanged);
            }
        });
    }

    fn floor_moved(&self) {
        use std::sync::atomic::Ordering;
        self.generation.fetch_add(1, Ordering::Relaxed);
        if self.announcing.swap(true, Ordering::AcqRel) {
            return;
        }
        // A weak handle: a service being dropped is not kept alive for its notice.
        let me = self.me.clone();
        std::thread::spawn(move || {
            // The other processes on the database hear of a change at once, and once more for
            // the changes made while this one's notice waits.
            let tell = |me: &Service| {
                if me.changed_here.swap(false, Ordering::AcqRel)
                    && let Err(e) = me.store().announce_change()
                {
                    tracing::warn!("other processes were not told of a change: {e}");
                }
            };
            if let Some(me) = me.upgrade() {
                tell(&me);
            }
            std::thread::sleep(FLOOR_NOTICE_DELAY);
            if let Some(me) = me.upgrade() {
                me.announcing.store(false, Ordering::Release);
                me.notify(Notice::FloorChanged);
                tell(&me);
            }
        });
    }

    /// Runs `f` with the store to itself (imports, key changes), then reconciles claims: an
    /// order that left Picking meanwhile (Amazon cancelled it) leaves its batch, with a notice.
    pub fn with_store_mut<R>(&self, f: impl FnOnce(&mut Store) -> R) -> R {
        let r = f(&mut self.store_alone());
        self.changed();
        self.reconcile();
        r
    }

    /// The store back, once this service is the last handle to itself (the daemon, shutting
    /// down); the service otherwise.
    pub fn into_store(self: Arc<Self>) -> Result<Store, Arc<Self>> {
        Arc::try_unwrap(self).map(|s| s.store.into_inner().unwrap_or_else(|p| p.into_inner()))
    }

    /// [`Service::into_store`], waiting up to `wait` for threads that are finishing (the quick
    /// worker sees its channel close, a background count ends) to let go of the service.
    pub fn into_store_within(self: Arc<Self>, wait: Duration) -> Result<Store, Arc<Self>> {
        let deadline = Instant::now() + wait;
        let mut svc = self;
        loop {
            match svc.into_store() {
                Ok(store) => return Ok(store),
                Err(again) if Instant::now() < deadline => {
                    svc = again;
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(again) => return Err(again),
            }
        }
    }

    /// Publishes this site's intake key for the daemon that syncs a shared database
    /// (`store::sites`): nothing on the floor changes, so no screen is told.
    pub fn publish_key(
        &self,
        now: DateTime<Utc>,
    ) -> Result<crate::store::seal::PublishedKey, store::Error> {
        self.store_alone().publish_key(now)
    }

    /// Runs `f` with shared access to the store (reads, and changes that are transactions).
    pub fn with_store<R>(&self, f: impl FnOnce(&Store) -> R) -> R {
        f(&self.store())
    }

    /// Order records as the floor sees them, each with its hold.
    fn rows(&self, records: Vec<OrderRecord>) -> Result<Vec<OrderRow>, ServiceError> {
        rows_in(&self.store(), records)
    }

    fn row(&self, record: OrderRecord) -> Result<OrderRow, ServiceError> {
        row_in(&self.store(), record)
    }

    /// Holds an order: a lead's call, or sync's when the buyer asked to cancel (`from_amazon`).
    /// A claimed order leaves its batch with a notice to its picker; one at a pack bench gets a
    /// notice to its packer. False when nothing changed (already held, or a lead overruled
    /// Amazon's request before).
    fn hold(&self, id: &OrderId, hold: Hold, from_amazon: bool) -> Result<bool, store::Error> {
        let placed = self.store().place_hold(id, &hold, from_amazon)?;
        if placed {
            self.changed();
            self.reconcile();
            if let Some(check) = self.store().pack_check(id)? {
                self.notify(Notice::OrderHeld {
                    order: id.clone(),
                    batch: None,
                    holder: check.packer,
                    // The packer reads packline's own reason, never a lead's words.
                    reason: hold.reason.sealed_as("").shown(),
                    put_aside: Vec::new(),
                    slot: None,
                });
            }
        }
        Ok(placed)
    }

    fn reconcile(&self) {
        let lost = {
            let _floor = self.lock_floor();
            self.store().reconcile_claims(Utc::now())
        };
        match lost {
            Ok(lost) => {
                for l in lost {
                    tracing::info!(order = %l.order, batch = l.batch, state = %l.state, held = l.hold.is_some(), "order left its pick batch");
                    self.notify(match l.hold {
                        // The picker reads packline's own reason, never a lead's words.
                        Some(reason) => Notice::OrderHeld {
                            order: l.order,
                            batch: Some(l.batch),
                            holder: l.holder,
                            reason: reason.shown(),
                            put_aside: l.put_aside,
                            slot: l.slot,
                        },
                        None => Notice::OrderPulled {
                            order: l.order,
                            batch: l.batch,
                            holder: l.holder,
                            state: l.state,
                            slot: l.slot,
                        },
                    });
                }
            }
            Err(e) => tracing::error!("reconciling claims: {e}"),
        }
    }

    pub fn set_sync_state(&self, f: impl FnOnce(&mut SyncState)) {
        f(&mut self.sync.lock().unwrap_or_else(|p| p.into_inner()));
    }

    /// The sync's state, with the searchOrders quota as it stands now.
    pub(crate) fn sync_state(&self) -> SyncState {
        let mut st = self.sync.lock().unwrap_or_else(|p| p.into_inner()).clone();
        st.quota = self.search_quota().or(st.quota);
        st
    }

    /// searchOrders' quota left: the client's bucket once it has sent a request; before that,
    /// the state the last sync kept (refilled for the time since), which the next sync resumes
    /// from; with neither, the full bucket of the published plan on a site with an Amazon
    /// connection.
    fn search_quota(&self) -> Option<Quota> {
        use crate::amazon::orders::SEARCH_ORDERS;
        use crate::amazon::throttle::{TokenBucket, UsagePlan};
        let api = self
            .amazon
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some((tokens, burst, rate)) = api.as_ref().and_then(|a| a.quota(SEARCH_ORDERS)) {
            return Some(Quota {
                tokens,
                burst,
                rate,
            });
        }
        let plan = UsagePlan::SEARCH_ORDERS;
        let kept = {
            let store = self.store();
            (
                store.meta_text(sync::BUCKET).ok().flatten(),
                store.meta_time(sync::BUCKET_AT).ok().flatten(),
            )
        };
        if let (Some(state), Some(at)) = kept {
            let mut parts = state.split_whitespace().map(str::parse::<f64>);
            if let (Some(Ok(tokens)), Some(Ok(rate))) = (parts.next(), parts.next()) {
                let age = (Utc::now() - at).to_std().unwrap_or_default();
                let now = Instant::now();
                let (tokens, rate) =
                    TokenBucket::resume(plan, tokens, rate, age, now).snapshot(now);
                return Some(Quota {
                    tokens,
                    burst: plan.burst,
                    rate,
                });
            }
        }
        api.map(|_| Quota {
            tokens: plan.burst,
            burst: plan.burst,
            rate: plan.rate,
        })
    }

    fn require(&self, c: &Caller, needed: Role, action: &str) -> Result<(), ServiceError> {
        if c.role >= needed {
            return Ok(());
        }
        // Logged once, with the request's name, where the refusal leaves the service (`run`).
        Err(ServiceError::Forbidden {
            action: action.to_owned(),
            needed,
            user: c.user.clone(),
            role: c.role,
        })
    }

    fn batch_for(&self, c: &Caller, id: u64) -> Result<PickBatch, ServiceError> {
        let b = self
            .store()
            .batch(id)
            .map_err(store_err)?
            .ok_or_else(|| not_open(id))?;
        may_pick(c, &b)?;
        Ok(b)
    }

    /// One sync with Amazon now (the daemon's schedule, or `packline sync`): progress and the
    /// outcome go out as notices, and the sync state says how it went. One sync at a time.
    pub async fn sync_now(&self, user: &str) -> Result<ImportCounts, ServiceError> {
        self.sync_now_with(user, false).await
    }

    /// [`Service::sync_now`], through the actionable-orders report now when `backlog` (`sync
    /// --backlog`); otherwise as `[amazon] backlog_report` says.
    pub async fn sync_now_with(
        &self,
        user: &str,
        backlog: bool,
    ) -> Result<ImportCounts, ServiceError> {
        let api = self.amazon()?;
        {
            let mut st = self.sync.lock().unwrap_or_else(|p| p.into_inner());
            if st.running {
                return Err(ServiceError::Conflict(
                    "a sync with Amazon is running already: wait for it to finish".into(),
                ));
            }
            st.running = true;
            st.enabled = true;
        }
        // A round that never finishes normally (a panic, a cancelled task) must not leave the
        // sync marked running for ever: the next round would refuse to start.
        struct Running<'a>(&'a Service);
        impl Drop for Running<'_> {
            fn drop(&mut self) {
                self.0.set_sync_state(|s| {
                    if s.running {
                        s.running = false;
                        s.last_error = Some("the sync stopped unexpectedly: see the log".into());
                    }
                });
            }
        }
        let _running = Running(self);
        let plan = &self.settings.sync_plan;
        let mode = match (backlog, self.settings.backlog_report) {
            (true, _) => sync::Backlog::Now,
            (false, true) => sync::Backlog::WhenLarge,
            (false, false) => sync::Backlog::Never,
        };
        let result = sync::sync_with(
            &api,
            self,
            plan,
            mode,
            user,
            Utc::now(),
            |pages, c, wait| {
                self.notify(Notice::SyncProgress {
                    pages: pages as u64,
                    new: c.new,
                    updated: c.updated,
                    cancelled: c.cancelled,
                    waiting_secs: wait.map(|w| w.as_secs_f64().ceil() as u64),
                });
            },
        )
        .await;
        let (counts, error) = match &result {
            Ok(c) => (c.clone(), None),
            Err(e) => (ImportCounts::default(), Some(e.to_string())),
        };
        if let Some(e) = &error {
            tracing::error!("sync: {e}");
        } else {
            tracing::info!(?counts, "sync");
            self.note_bulk_import(&counts);
        }
        self.set_sync_state(|s| {
            s.running = false;
            if error.is_none() {
                s.last_ok = Some(Utc::now());
            }
            s.last_error = error.clone();
        });
        self.notify(Notice::SyncFinished {
            new: counts.new,
            updated: counts.updated,
            cancelled: counts.cancelled,
            error,
        });
        result.map_err(|e| match e {
            sync::SyncError::Api(e) => ServiceError::Amazon {
                failure: amazon_calls::amazon_failure(&e),
                message: e.to_string(),
            },
            sync::SyncError::Store(e) => store_err(e),
            e @ sync::SyncError::Plan(_) => ServiceError::Invalid(e.to_string()),
        })
    }

    /// Notes a bulk import: the process that owns the store should checkpoint it before it
    /// closes (sled replays at its next open every log entry written since its last one), as
    /// `packline serve` does at shutdown and the CLI does after such a command.
    fn note_bulk_import(&self, c: &ImportCounts) {
        const BULK: u64 = 10_000;
        if c.new + c.updated + c.cancelled >= BULK {
            self.bulk_written
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Whether a bulk import since the start calls for a checkpoint before the store closes.
    pub fn checkpoint_due(&self) -> bool {
        self.bulk_written.load(std::sync::atomic::Ordering::Relaxed)
    }
}
