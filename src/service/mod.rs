//! The service: the only code that changes state. It owns the store, answers [`Request`]s for a
//! [`Caller`] whose role it checks itself (never trusting a client), and pushes [`Notice`]s.
//! Two transports carry the same requests: in-process ([`client::Client::local`]) and the Unix
//! socket of `packline serve` ([`server`]). Replies are already redacted for the caller's role.

mod amazon_calls;
pub mod client;
pub mod daemon;
mod elsewhere;
mod labels;
pub mod ops;
mod print_queue;
pub mod proto;
pub mod returns;
pub mod server;
pub mod sync;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::broadcast;

use crate::config::{Config, RolesConfig};
use crate::domain::{
    BUYER_ASKED_TO_CANCEL, FreeText, Hold, ImportedOrder, Locations, OrderId, OrderRecord,
    PickBatch,
};
/// A print job as the print queue's requests answer it.
pub use crate::store::shipping::{JobState, PrintJob};
use crate::store::{self, ImportCounts, RetentionPolicy, Store};
pub use ops::{Operation, Request};
pub use proto::{
    AmazonFailure, BoxPreset, Counts, ExceptionRow, Notice, OrderRow, Passphrase, QueuePage, Quota,
    RateOffer, RawPage, Revealed, Role, ServiceError, SyncState,
};

/// Who is asking: an OS user and the role the config gives them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub user: String,
    pub role: Role,
}

/// What the service needs from the config, read once at start.
#[derive(Clone, Debug)]
pub struct Settings {
    pub roles: RolesConfig,
    /// The OS user this service runs as (the daemon's own user, or the CLI's user running it
    /// in its process): the site's lead when `roles` names nobody, see [`RolesConfig::role_of`].
    pub owner: String,
    /// Refusals of one user are audited at most once in this long (a flood cannot grow the
    /// store); the rest are counted in the next entry.
    pub refusal_audit_interval: Duration,
    pub locations: Locations,
    pub batch_size: u32,
    /// Orders a pick cart holds, one to a slot.
    pub cart_slots: u32,
    /// How carts work: put confirmation, totes.
    pub cart: crate::domain::CartRules,
    /// What a claim prints to the picker's slip printer.
    pub print_at_claim: crate::config::PrintAtClaim,
    /// Who buys and prints the label as they close an order's last box.
    pub label_at_pack: crate::config::LabelAtPack,
    pub boxes: Vec<BoxPreset>,
    pub retention: RetentionPolicy,
    pub claim_timeout: Duration,
    /// Connections one OS user may hold open to the daemon at once (`[service]
    /// connections_per_user`).
    pub connections_per_user: usize,
    /// How long a socket client may take to finish a frame it began, or to take one sent to it.
    pub frame_timeout: Duration,
    /// The training floor (`packline demo`): shown in every client's banner.
    pub training: bool,
    pub shipping: crate::config::ShippingConfig,
    /// What a sync with Amazon asks for.
    pub sync_plan: sync::SyncPlan,
    /// Whether a sync takes the actionable-orders report when searchOrders' burst is spent with
    /// pages to come (`[amazon] backlog_report`).
    pub backlog_report: bool,
    /// The carrier's daily pickup, local time (`[floor] pickup`).
    pub pickup: chrono::NaiveTime,
    /// Which site ships which orders (`[[routing]]`): on a shared database, an import sends
    /// each new order to its site's trees.
    pub routing: Vec<crate::domain::routing::Rule>,
}

impl Settings {
    /// Reads the settings for a service run by the OS user `owner`, including the locations
    /// file, naming the file and line of any error.
    pub fn from_config(cfg: &Config, owner: &str) -> Result<Settings, String> {
        let locations = match &cfg.floor.locations {
            Some(path) => {
                let text = crate::files::read_regular_to_string(path)
                    .map_err(|e| format!("locations file {}: {e}", path.display()))?;
                Locations::from_csv(&text)
                    .map_err(|e| format!("locations file {}: {e}", path.display()))?
            }
            None => Locations::default(),
        };
        Ok(Settings {
            roles: cfg.roles.clone(),
            owner: owner.to_owned(),
            refusal_audit_interval: REFUSAL_AUDIT_INTERVAL,
            locations,
            batch_size: cfg.floor.batch_size(),
            cart_slots: cfg.floor.cart_slots(),
            cart: cfg.floor.cart_rules(),
            print_at_claim: cfg.floor.print_at_claim,
            label_at_pack: cfg.floor.label_at_pack(),
            boxes: cfg
                .floor
                .boxes()
                .into_iter()
                .map(|b| BoxPreset {
                    name: b.name,
                    dims_mm: b.mm,
                })
                .collect(),
            retention: cfg.retention(),
            claim_timeout: cfg.service.claim_timeout(),
            connections_per_user: cfg.service.connections_per_user(),
            frame_timeout: Duration::from_secs(10),
            training: false,
            shipping: cfg.shipping.clone(),
            sync_plan: sync::SyncPlan {
                marketplace_ids: cfg.amazon.marketplace_ids(),
                lookback_days: cfg.amazon.lookback_days(),
            },
            backlog_report: cfg.amazon.backlog_report(),
            pickup: cfg.floor.pickup()?,
            routing: cfg.routing.clone(),
        })
    }

    /// The role of an OS user on this site: see [`RolesConfig::role_of`].
    /// Every user with a role on this site, by name: the lists of `[roles]`, or the owner alone
    /// when they name nobody. A user listed twice has the highest role listed.
    pub fn users(&self) -> Vec<(String, Role)> {
        let r = &self.roles;
        let mut names: Vec<&String> = r
            .leads
            .iter()
            .chain(&r.labelers)
            .chain(&r.packers)
            .collect();
        if names.is_empty() {
            names.push(&self.owner);
        }
        names.sort();
        names.dedup();
        names
            .into_iter()
            .filter_map(|u| self.role_of(u).map(|role| (u.clone(), role)))
            .collect()
    }

    pub fn role_of(&self, user: &str) -> Option<Role> {
        self.roles.role_of(user, &self.owner)
    }
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

fn store_err(e: store::Error) -> ServiceError {
    match e {
        store::Error::NoSuchOrder(id) => {
            ServiceError::NotFound(format!("order {id} is not in the store"))
        }
        store::Error::NoSuchInquiry(_) => ServiceError::NotFound(e.to_string()),
        store::Error::Inquiry(_) => ServiceError::Conflict(e.to_string()),
        store::Error::NoSuchReturn(_) => ServiceError::NotFound(e.to_string()),
        store::Error::Return(_) => ServiceError::Conflict(e.to_string()),
        store::Error::Transition { .. } => ServiceError::Conflict(e.to_string()),
        store::Error::Locked { .. } => ServiceError::Locked(e.to_string()),
        store::Error::DiskFull { .. } | store::Error::NoSpace => {
            ServiceError::NoSpace(e.to_string())
        }
        // Every refusal reaches a client as invalid, as it always has; a kind that deserves
        // another answer is matched above this line.
        store::Error::Refused(_) => ServiceError::Invalid(e.to_string()),
        store::Error::CodeUsed(message) => ServiceError::WrongScan { message },
        store::Error::OnHold { order, by, since } => ServiceError::OnHold {
            order: order.to_string(),
            by,
            since,
        },
        store::Error::NoRecipient(_) | store::Error::EpochShredded { .. } => {
            ServiceError::NotFound(e.to_string())
        }
        other => ServiceError::Store(other.to_string()),
    }
}

/// One bench per order: another packer's check is theirs (a lead may take it over).
fn own_bench(c: &Caller, check: &crate::domain::PackCheck) -> Result<(), ServiceError> {
    if check.packer == c.user || c.role >= Role::Lead {
        return Ok(());
    }
    Err(ServiceError::Conflict(format!(
        "order {} is being packed by {} at another bench",
        check.order, check.packer
    )))
}

/// A batch is its holder's: another picker's is refused (a lead may act on it).
fn may_pick(c: &Caller, b: &PickBatch) -> Result<(), ServiceError> {
    if b.holder != c.user && c.role < Role::Lead {
        return Err(ServiceError::Conflict(format!(
            "pick batch {} is held by {}",
            b.id, b.holder
        )));
    }
    Ok(())
}

/// The refusal of a pick batch that is not open (finished, released, or never was).
fn not_open(id: u64) -> ServiceError {
    ServiceError::NotFound(format!("pick batch {id} is not open"))
}

/// An order record as the floor sees it: with its hold, and whether it was recorded from Amazon
/// without being imported (only a closed order can have been).
pub(crate) fn row_in(store: &Store, record: OrderRecord) -> Result<OrderRow, ServiceError> {
    rows_in(store, vec![record])?
        .pop()
        .ok_or_else(|| ServiceError::Store("an order's row could not be read".into()))
}

/// Rows for a page of records: their holds and shipped-elsewhere marks read together, so a
/// page costs the store two reads, not two a row (each a round trip on a shared database).
pub(crate) fn rows_in(
    store: &Store,
    records: Vec<OrderRecord>,
) -> Result<Vec<OrderRow>, ServiceError> {
    let ids: Vec<&OrderId> = records.iter().map(|r| &r.order.id).collect();
    let holds = store.holds_of(&ids).map_err(store_err)?;
    // Only a closed order can have been shipped elsewhere.
    let closed: Vec<&OrderId> = records
        .iter()
        .filter(|r| r.state.is_closed())
        .map(|r| &r.order.id)
        .collect();
    let mut elsewhere = if closed.is_empty() {
        Vec::new()
    } else {
        store.are_shipped_elsewhere(&closed).map_err(store_err)?
    }
    .into_iter();
    Ok(records
        .into_iter()
        .zip(holds)
        .map(|(record, hold)| {
            let shipped_elsewhere = record.state.is_closed() && elsewhere.next().unwrap_or(false);
            OrderRow {
                record,
                hold,
                shipped_elsewhere,
            }
        })
        .collect())
}

fn order_id(s: &str) -> Result<OrderId, ServiceError> {
    OrderId::parse(s.trim()).map_err(|e| ServiceError::Invalid(format!("order id: {e}")))
}

fn non_empty<'a>(text: &'a str, what: &str) -> Result<&'a str, ServiceError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(ServiceError::Invalid(format!("{what} must not be empty")));
    }
    if t.chars().count() > 500 {
        return Err(ServiceError::Invalid(format!(
            "{what} is longer than 500 characters"
        )));
    }
    Ok(t)
}

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
        match service.read().recover_purchases(Utc::now()) {
            Ok(0) => {}
            Ok(n) => tracing::warn!(
                orders = n,
                "label purchases interrupted by a restart are exceptions now"
            ),
            Err(e) => tracing::error!("recovering interrupted label purchases: {e}"),
        }
        // Print jobs the last process left queued are this one's to send.
        match service.read().take_over_prints() {
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
        match self.read().record_refusal(user, action, &reason) {
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

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Store> {
        self.store.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Store> {
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
                    && let Err(e) = me.read().announce_change()
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
        let r = f(&mut self.write());
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
        self.write().publish_key(now)
    }

    /// Runs `f` with shared access to the store (reads, and changes that are transactions).
    pub fn with_store<R>(&self, f: impl FnOnce(&Store) -> R) -> R {
        f(&self.read())
    }

    /// Order records as the floor sees them, each with its hold.
    fn rows(&self, records: Vec<OrderRecord>) -> Result<Vec<OrderRow>, ServiceError> {
        rows_in(&self.read(), records)
    }

    fn row(&self, record: OrderRecord) -> Result<OrderRow, ServiceError> {
        row_in(&self.read(), record)
    }

    /// Holds an order: a lead's call, or sync's when the buyer asked to cancel (`from_amazon`).
    /// A claimed order leaves its batch with a notice to its picker; one at a pack bench gets a
    /// notice to its packer. False when nothing changed (already held, or a lead overruled
    /// Amazon's request before).
    fn hold(&self, id: &OrderId, hold: Hold, from_amazon: bool) -> Result<bool, store::Error> {
        let placed = self.read().place_hold(id, &hold, from_amazon)?;
        if placed {
            self.changed();
            self.reconcile();
            if let Some(check) = self.read().pack_check(id)? {
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

    /// Imports orders (a page from sync, or a file), then holds those whose buyer asked Amazon
    /// to cancel, wherever they are on the floor.
    pub fn import(
        &self,
        orders: Vec<ImportedOrder>,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<ImportCounts, store::Error> {
        let (mine, away) = self.route(orders)?;
        let mut counts = self.import_here(mine, user, now)?;
        for (site, (orders, decided)) in away {
            counts += self.import_at(&site, orders, &decided, user, now)?;
        }
        Ok(counts)
    }

    /// Which orders this site ships, and which other sites of a shared database ship the
    /// rest (`[[routing]]`; an order routed before, or moved, stays where it was sent; one
    /// already in this site's store stays here), with the orders each was given just now.
    #[allow(clippy::type_complexity)]
    fn route(
        &self,
        orders: Vec<ImportedOrder>,
    ) -> Result<
        (
            Vec<ImportedOrder>,
            std::collections::BTreeMap<String, (Vec<ImportedOrder>, Vec<OrderId>)>,
        ),
        store::Error,
    > {
        let mut away: std::collections::BTreeMap<String, (Vec<ImportedOrder>, Vec<OrderId>)> =
            Default::default();
        let store = self.read();
        if self.settings.routing.is_empty() || !store.shared() {
            return Ok((orders, away));
        }
        let here = store.site().to_string();
        let mut mine = Vec::new();
        for o in orders {
            let (site, decided) = match store.order_site(&o.order.id)? {
                Some(site) => (site, false),
                None if store.get(&o.order.id)?.is_some() => (here.clone(), false),
                None => {
                    let to = o.recipient.as_ref();
                    let site = crate::domain::routing::site_for(
                        &self.settings.routing,
                        to.and_then(|r| r.country_code.as_deref()),
                        to.and_then(|r| r.state_or_region.as_deref()),
                    );
                    (site.to_string(), true)
                }
            };
            if site == here {
                mine.push(o);
            } else {
                let entry = away.entry(site).or_default();
                if decided {
                    entry.1.push(o.order.id.clone());
                }
                entry.0.push(o);
            }
        }
        Ok((mine, away))
    }

    /// Imports orders another site of the database ships into that site's trees, sealed to
    /// the key it published (`store::sites`), and notes where the new ones went. When that
    /// site cannot take them (no key published lately: its daemon is not running), they are
    /// set aside, named with the reason, and the next sync tries again.
    fn import_at(
        &self,
        site: &str,
        orders: Vec<ImportedOrder>,
        decided: &[OrderId],
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<ImportCounts, store::Error> {
        let mut there = match self.store_of_site(site, now)? {
            Ok(s) => s,
            Err(e) => {
                let refused: Vec<crate::domain::SetAside> = orders
                    .iter()
                    .map(|o| crate::domain::SetAside {
                        order: o.order.id.to_string(),
                        reason: format!("routed to site {site}: {e}"),
                    })
                    .collect();
                for r in &refused {
                    tracing::warn!(order = %r.order, site, "order set aside: its site cannot take it");
                }
                self.read().set_aside(&refused, "routing", user, now)?;
                return Ok(ImportCounts {
                    set_aside: refused,
                    ..ImportCounts::default()
                });
            }
        };
        let asked: Vec<OrderId> = orders
            .iter()
            .filter(|o| o.buyer_cancel_requested)
            .map(|o| o.order.id.clone())
            .collect();
        let mut counts = there.import(orders, user, now)?;
        for id in asked {
            let hold = Hold {
                reason: FreeText::System(BUYER_ASKED_TO_CANCEL.to_owned()),
                by: user.to_owned(),
                since: now,
            };
            let held = there.place_hold(&id, &hold, true);
            self.count_hold(&id, held, &mut counts, user, now)?;
        }
        self.read().set_order_site(decided, site)?;
        let _ = there.announce_change();
        tracing::info!(
            site,
            new = counts.new,
            updated = counts.updated,
            "orders imported for another site"
        );
        Ok(counts)
    }

    /// The store of another site of the database, to write what it ships into as that site's
    /// own sync would ([`Store::site_store`]); inside, why that site cannot take it now (it
    /// published no intake key lately: its daemon is not running), which waits for the next
    /// sync.
    pub(crate) fn store_of_site(
        &self,
        site: &str,
        now: DateTime<Utc>,
    ) -> Result<Result<Store, store::Error>, store::Error> {
        match self.read().site_store(site, now) {
            Ok(s) => Ok(Ok(s)),
            // The site cannot take them now (not keyed, no fresh key published, a key its store
            // did not record, or one that does not read); anything else stops the caller.
            Err(
                e @ (store::Error::Refused(store::Refusal::Site(_)) | store::Error::Keyring { .. }),
            ) => Ok(Err(e)),
            Err(e) => Err(e),
        }
    }

    /// [`Service::import`] for the orders this site ships.
    fn import_here(
        &self,
        orders: Vec<ImportedOrder>,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<ImportCounts, store::Error> {
        let asked: Vec<OrderId> = orders
            .iter()
            .filter(|o| o.buyer_cancel_requested)
            .map(|o| o.order.id.clone())
            .collect();
        let mut counts = self.with_store_mut(|s| s.import(orders, user, now))?;
        for id in asked {
            let hold = Hold {
                reason: FreeText::System(BUYER_ASKED_TO_CANCEL.to_owned()),
                by: user.to_owned(),
                since: now,
            };
            let held = self.hold(&id, hold, true);
            self.count_hold(&id, held, &mut counts, user, now)?;
        }
        Ok(counts)
    }

    /// Counts the hold of an imported order whose buyer asked to cancel. Not kept here
    /// (fulfilled by Amazon, never actionable) or already closed: nothing to hold. Refused
    /// otherwise: the order is set aside with the reason, so that the next sync asks for it
    /// again and holds it then.
    fn count_hold(
        &self,
        id: &OrderId,
        held: Result<bool, store::Error>,
        counts: &mut ImportCounts,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<(), store::Error> {
        match held {
            Ok(true) => counts.held += 1,
            Ok(false)
            | Err(
                store::Error::NoSuchOrder(_)
                | store::Error::Refused(store::Refusal::Floor(
                    store::refusal::FloorRefusal::HoldClosed { .. },
                )),
            ) => {}
            Err(e @ store::Error::Refused(_)) => {
                let aside = crate::domain::SetAside {
                    order: id.to_string(),
                    reason: format!(
                        "imported, but the hold its buyer's request to cancel asks for was refused: {e}"
                    ),
                };
                tracing::warn!(order = %aside.order, "order set aside: {e}");
                self.read()
                    .set_aside(std::slice::from_ref(&aside), "hold", user, now)?;
                counts.set_aside.push(aside);
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// Imports a page's orders as [`Service::import`] does, and sets aside the orders of it that
    /// were refused as they arrived (`refused`: named in the answer and the log, kept by id so
    /// that the next sync asks Amazon for them again). An order that arrives readable leaves
    /// the set-aside list. `source` says where the page came from (`searchOrders`, a file).
    pub fn import_page(
        &self,
        orders: Vec<ImportedOrder>,
        refused: Vec<crate::domain::SetAside>,
        source: &str,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<ImportCounts, store::Error> {
        let mut orders = orders;
        // What units need at the bench: the report says nothing of it, Amazon's copies of
        // orders do (`store::sku_codes`).
        match source == crate::amazon::reports::ACTIONABLE_REPORT {
            true => self.read().apply_sku_codes(&mut orders)?,
            false => self.read().learn_sku_codes(&orders)?,
        }
        let ids: Vec<OrderId> = orders.iter().map(|o| o.order.id.clone()).collect();
        let mut counts = self.import(orders, user, now)?;
        // Those whose site could not take them stay set aside.
        let kept: std::collections::HashSet<&str> =
            counts.set_aside.iter().map(|r| r.order.as_str()).collect();
        let ids: Vec<OrderId> = ids
            .into_iter()
            .filter(|i| !kept.contains(i.as_str()))
            .collect();
        self.read().clear_set_aside(&ids, None, user, now)?;
        if !refused.is_empty() {
            for r in &refused {
                tracing::warn!(order = %r.order, source, reason = %r.reason, "order set aside");
            }
            self.read().set_aside(&refused, source, user, now)?;
            counts
                .set_aside
                .extend(refused.into_iter().map(|r| crate::domain::SetAside {
                    order: r.order,
                    reason: format!("{source}: {}", r.reason),
                }));
        }
        Ok(counts)
    }

    fn reconcile(&self) {
        let lost = {
            let _floor = self.lock_floor();
            self.read().reconcile_claims(Utc::now())
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
        use crate::amazon::client::SEARCH_ORDERS;
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
            let store = self.read();
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

    /// A connection from `user` opened.
    pub fn connected(&self, user: &str) {
        *self
            .connected
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(user.to_owned())
            .or_default() += 1;
    }

    /// A connection from `user` closed. Returns true when it was their last one, so the caller
    /// can release their claims after the timeout (see [`Service::release_if_gone`]).
    pub fn disconnected(&self, user: &str) -> bool {
        let mut c = self.connected.lock().unwrap_or_else(|p| p.into_inner());
        match c.get_mut(user) {
            Some(n) if *n > 1 => {
                *n -= 1;
                false
            }
            _ => {
                c.remove(user);
                true
            }
        }
    }

    /// Releases the batches of every holder not connected now (a daemon's start: claims from
    /// before the restart have no connection to end them).
    pub fn release_all_gone(&self) {
        let holders: std::collections::BTreeSet<String> = match self.read().batches() {
            Ok(b) => b.into_iter().map(|b| b.holder).collect(),
            Err(e) => {
                tracing::error!("listing batches: {e}");
                return;
            }
        };
        for h in holders {
            self.release_if_gone(&h);
        }
    }

    /// Releases every batch `user` holds if they have not come back.
    pub fn release_if_gone(&self, user: &str) {
        if self
            .connected
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(user)
        {
            return;
        }
        let _floor = self.lock_floor();
        let store = self.read();
        let batches = match store.batches() {
            Ok(b) => b,
            Err(e) => {
                tracing::error!("listing batches: {e}");
                return;
            }
        };
        for b in batches.into_iter().filter(|b| b.holder == user) {
            let reason = format!("{user} disconnected");
            // Whose the batch is, is decided again where it is released: a lead may have handed
            // it on meanwhile.
            let theirs = |b: &PickBatch| if b.holder == user { Ok(()) } else { Err(()) };
            match store.release_batch(b.id, theirs, "packline", &reason, Utc::now()) {
                Ok(None | Some(Err(()))) => {}
                Ok(Some(Ok(_))) => {
                    tracing::info!(batch = b.id, "released the batch of a disconnected client");
                    self.notify(Notice::ClaimReleased {
                        batch: b.id,
                        holder: user.to_owned(),
                        reason,
                    });
                }
                Err(e) => tracing::error!(batch = b.id, "releasing a batch: {e}"),
            }
        }
        self.changed();
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
                let r = me.read().purge_preview(me.settings.retention, at);
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
        let q = self.read().queue_counts(now, end_of_day)?;
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

    fn batch_for(&self, c: &Caller, id: u64) -> Result<PickBatch, ServiceError> {
        let b = self
            .read()
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
