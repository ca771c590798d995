//! The service: the only code that changes state. It owns the store, answers [`Request`]s for a
//! [`Caller`] whose role it checks itself (never trusting a client), and pushes [`Notice`]s.
//! Two transports carry the same requests: in-process ([`client::Client::local`]) and the Unix
//! socket of `packline serve` ([`server`]). Replies are already redacted for the caller's role.

pub mod client;
pub mod daemon;
pub mod proto;
pub mod server;
pub mod shipping;
pub mod sync;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::broadcast;

use crate::config::{Config, RolesConfig};
use crate::domain::{Locations, OrderId, OrderState, Parcel, PickBatch};
use crate::store::{self, MasterSource, RetentionPolicy, Store};
pub use proto::{
    BoxPreset, Counts, ExceptionRow, Notice, OrderRow, Passphrase, QueuePage, RateOffer, RawPage,
    Reply, Request, Revealed, Role, ServiceError, SyncState,
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
    pub locations: Locations,
    pub batch_size: u32,
    pub boxes: Vec<BoxPreset>,
    pub retention: RetentionPolicy,
    pub claim_timeout: Duration,
    /// The training floor (`packline demo`): shown in every client's banner.
    pub training: bool,
    pub shipping: crate::config::ShippingConfig,
}

impl Settings {
    /// Reads the settings, including the locations file, naming the file and line of any error.
    pub fn from_config(cfg: &Config) -> Result<Settings, String> {
        let locations = match &cfg.floor.locations {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("locations file {}: {e}", path.display()))?;
                Locations::from_csv(&text)
                    .map_err(|e| format!("locations file {}: {e}", path.display()))?
            }
            None => Locations::default(),
        };
        Ok(Settings {
            roles: cfg.roles.clone(),
            locations,
            batch_size: cfg.floor.batch_size(),
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
            training: false,
            shipping: cfg.shipping.clone(),
        })
    }
}

const FLOOR_STRIPES: usize = 64;

/// How long cached queue counts may lag behind a change (counting walks the whole queue).
const COUNTS_MAX_AGE: Duration = Duration::from_secs(2);
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
    settings: Settings,
    /// Serializes read-modify-write of batches and pack checks (scans arrive from many clients):
    /// one lock per stripe, a batch or order always in the same stripe, so scans of different
    /// batches never wait for each other. Whole-floor changes take every stripe, in order.
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
    /// The Amazon connection, for labels and confirmations (none on a site without one).
    amazon: Mutex<Option<Arc<crate::amazon::client::SpApi>>>,
}

fn store_err(e: store::Error) -> ServiceError {
    match e {
        store::Error::NoSuchOrder(id) => {
            ServiceError::NotFound(format!("order {id} is not in the store"))
        }
        store::Error::Transition { .. } => ServiceError::Conflict(e.to_string()),
        store::Error::Locked { .. } => ServiceError::Locked(e.to_string()),
        store::Error::Usage(m) => ServiceError::Invalid(m),
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
        let service = Arc::new_cyclic(|me| Service {
            me: me.clone(),
            store: RwLock::new(store),
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
            }),
            connected: Mutex::new(HashMap::new()),
            counting: std::sync::atomic::AtomicBool::new(false),
            amazon: Mutex::new(None),
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
        // Counting walks the whole queue: start now, so the first screen does not wait for it.
        service.refresh_counts();
        service
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The caller for an OS user, or a refusal if the config gives them no role.
    pub fn caller(&self, user: &str) -> Result<Caller, ServiceError> {
        match self.settings.roles.role_of(user) {
            Some(role) => Ok(Caller {
                user: user.to_owned(),
                role,
            }),
            None => Err(ServiceError::NoRole {
                user: user.to_owned(),
            }),
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

    /// Every stripe, in order (so two callers can never deadlock).
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

    fn changed(&self) {
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
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

    /// Runs `f` with shared access to the store (reads, and changes that are transactions).
    pub fn with_store<R>(&self, f: impl FnOnce(&Store) -> R) -> R {
        f(&self.read())
    }

    fn reconcile(&self) {
        let lost = {
            let _floor = self.lock_floor();
            self.read().reconcile_claims()
        };
        match lost {
            Ok(lost) => {
                for l in lost {
                    tracing::info!(order = %l.order, batch = l.batch, state = %l.state, "order left its pick batch");
                    self.notify(Notice::OrderPulled {
                        order: l.order,
                        batch: l.batch,
                        holder: l.holder,
                        state: l.state,
                    });
                }
            }
            Err(e) => tracing::error!("reconciling claims: {e}"),
        }
    }

    pub fn set_sync_state(&self, f: impl FnOnce(&mut SyncState)) {
        f(&mut self.sync.lock().unwrap_or_else(|p| p.into_inner()));
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
            match store.release_batch(&b, "packline", &reason, Utc::now()) {
                Ok(_) => {
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
        tracing::warn!(user = %c.user, action, "refused: role");
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
    fn counts(&self) -> Counts {
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
            let generation = me.generation.load(Ordering::Relaxed);
            let now = Utc::now();
            let end_of_day = now
                .date_naive()
                .and_hms_opt(23, 59, 59)
                .map_or(now, |t| t.and_utc());
            let q = me.read().queue_counts(now, end_of_day);
            match q {
                Ok(q) => {
                    let counts = Counts {
                        by_state: q.by_state,
                        late: q.late,
                        due_today: q.due,
                    };
                    *me.counts.lock().unwrap_or_else(|p| p.into_inner()) = Some(CountsCache {
                        generation,
                        at: Instant::now(),
                        counts: counts.clone(),
                    });
                    me.notify(Notice::Counts(counts));
                }
                Err(e) => tracing::error!("counting the queue: {e}"),
            }
            me.counting.store(false, Ordering::Release);
        });
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
            .ok_or_else(|| ServiceError::NotFound(format!("pick batch {id} is not open")))?;
        if b.holder != c.user && c.role < Role::Lead {
            return Err(ServiceError::Conflict(format!(
                "pick batch {id} is held by {}",
                b.holder
            )));
        }
        Ok(b)
    }

    /// Answers one request. Blocking (the store fsyncs): transports call it off the async
    /// threads.
    pub fn handle(&self, c: &Caller, req: Request) -> Result<Reply, ServiceError> {
        let now = Utc::now();
        let name = req.name();
        let r = self.dispatch(c, req, now);
        if let Err(e) = &r {
            // The kind only: a message may quote Amazon's text or a scanned code.
            tracing::info!(user = %c.user, request = name, refusal = e.kind(), "refused");
        }
        r
    }

    fn dispatch(
        &self,
        c: &Caller,
        req: Request,
        now: DateTime<Utc>,
    ) -> Result<Reply, ServiceError> {
        match req {
            Request::Hello => Ok(Reply::Welcome {
                user: c.user.clone(),
                role: c.role,
                unlocked: self.read().is_unlocked(),
                training: self.settings.training,
                batch_size: self.settings.batch_size,
            }),
            Request::Queue {
                state,
                search,
                offset,
                limit,
            } => {
                let limit = limit.min(MAX_PAGE) as usize;
                if offset > MAX_OFFSET {
                    return Err(ServiceError::Invalid(format!(
                        "a queue page starts at most {MAX_OFFSET} rows in: search by order id to go further"
                    )));
                }
                let search = search
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty());
                let (recs, more) = {
                    let store = self.read();
                    match &search {
                        Some(p) => store.search_ids(p, state, offset as usize, limit),
                        None => store.queue_page(state, offset as usize, limit),
                    }
                    .map_err(store_err)?
                };
                Ok(Reply::Queue(QueuePage {
                    offset,
                    rows: recs,
                    more,
                    counts: self.counts(),
                }))
            }
            Request::ClaimBatch { size } => {
                let size = size.unwrap_or(self.settings.batch_size).clamp(1, 100) as usize;
                // No floor lock: the claim is one transaction, and its fsync must not hold up
                // everyone's scans.
                let batch = self
                    .read()
                    .claim_batch(&c.user, size, &self.settings.locations, now)
                    .map_err(store_err)?;
                self.changed();
                Ok(Reply::Batch { batch })
            }
            Request::Batches { all } => {
                if all {
                    self.require(c, Role::Lead, "seeing everyone's batches")?;
                }
                let mut batches = self.read().batches().map_err(store_err)?;
                batches.retain(|b| all || b.holder == c.user);
                // The newest first, and a screenful: a reply must fit one frame.
                batches.sort_by_key(|b| std::cmp::Reverse(b.id));
                batches.truncate(MAX_BATCHES);
                Ok(Reply::Batches { batches })
            }
            Request::PickScan { batch, code } => {
                let _batch = self.lock_batch(batch);
                let mut b = self.batch_for(c, batch)?;
                match b.scan(&code) {
                    Ok(scan) => {
                        self.read().save_batch(&b).map_err(store_err)?;
                        Ok(Reply::Picked {
                            batch,
                            scan,
                            complete: b.is_complete(),
                        })
                    }
                    Err(refusal) => Err(ServiceError::WrongScan {
                        message: refusal.to_string(),
                    }),
                }
            }
            Request::ShortPick { batch, sku, reason } => {
                let reason = non_empty(&reason, "the reason for a short pick")?;
                let _batch = self.lock_batch(batch);
                let mut b = self.batch_for(c, batch)?;
                let short = b.short(&sku).ok_or_else(|| {
                    ServiceError::NotFound(format!("SKU {sku:?} is not on pick batch {batch}"))
                })?;
                let note = format!("short pick of {}: {reason}", short.sku);
                self.read()
                    .except_from_batch(&b, &short.orders, &c.user, &note, now)
                    .map_err(store_err)?;
                self.changed();
                Ok(Reply::Shorted {
                    batch: (!b.orders.is_empty()).then_some(b),
                    orders: short.orders,
                    put_back: short.put_back,
                })
            }
            Request::FinishPick { batch } => {
                let _batch = self.lock_batch(batch);
                let b = self.batch_for(c, batch)?;
                if !b.is_complete() {
                    let left: u32 = b
                        .lines
                        .iter()
                        .map(|l| l.needed - l.picked.min(l.needed))
                        .sum();
                    return Err(ServiceError::Conflict(format!(
                        "pick batch {batch} still needs {left} unit(s): scan them, or short-pick what cannot be found"
                    )));
                }
                self.read()
                    .finish_batch(&b, &c.user, now)
                    .map_err(store_err)?;
                self.changed();
                Ok(Reply::Done)
            }
            Request::ReleaseBatch { batch, reason } => {
                let reason = non_empty(&reason, "the reason for releasing a batch")?;
                let _batch = self.lock_batch(batch);
                let b = self.batch_for(c, batch)?;
                self.read()
                    .release_batch(&b, &c.user, reason, now)
                    .map_err(store_err)?;
                self.changed();
                self.notify(Notice::ClaimReleased {
                    batch,
                    holder: b.holder,
                    reason: reason.to_owned(),
                });
                Ok(Reply::Done)
            }
            Request::ReassignBatch { batch, to } => {
                self.require(c, Role::Lead, "reassigning a pick batch")?;
                let to = non_empty(&to, "the user to reassign to")?;
                if self.settings.roles.role_of(to).is_none() {
                    return Err(ServiceError::NoRole {
                        user: to.to_owned(),
                    });
                }
                let _batch = self.lock_batch(batch);
                let before = self.batch_for(c, batch)?;
                let b = self
                    .read()
                    .reassign_batch(batch, to, &c.user, now)
                    .map_err(store_err)?;
                self.notify(Notice::ClaimReleased {
                    batch,
                    holder: before.holder,
                    reason: format!("reassigned to {to} by {}", c.user),
                });
                Ok(Reply::Batch { batch: Some(b) })
            }
            Request::Picked { limit } => {
                let store = self.read();
                let ids = store
                    .ids_in(OrderState::Picked, limit.min(MAX_PAGE) as usize)
                    .map_err(store_err)?;
                let mut orders = Vec::new();
                for id in ids {
                    if let Some(r) = store.get(&id).map_err(store_err)? {
                        orders.push(r);
                    }
                }
                Ok(Reply::Orders { orders })
            }
            Request::PackStart { order } => {
                let id = order_id(&order)?;
                let _order = self.lock_order(&id);
                let store = self.read();
                let rec = store.get(&id).map_err(store_err)?.ok_or_else(|| {
                    ServiceError::NotFound(format!("order {id} is not in the store"))
                })?;
                if rec.state != OrderState::Picked {
                    return Err(ServiceError::Conflict(format!(
                        "order {id} is {}: only picked orders are packed",
                        rec.state
                    )));
                }
                let check = match store.pack_check(&id).map_err(store_err)? {
                    Some(check) => {
                        own_bench(c, &check)?;
                        check
                    }
                    None => {
                        let c = crate::domain::PackCheck::new(
                            &rec.order,
                            &c.user,
                            &self.settings.locations,
                        );
                        store.save_pack_check(&c).map_err(store_err)?;
                        c
                    }
                };
                Ok(Reply::Pack { check })
            }
            Request::PackScan { order, code } => {
                let id = order_id(&order)?;
                let _order = self.lock_order(&id);
                let store = self.read();
                let mut check = store.pack_check(&id).map_err(store_err)?.ok_or_else(|| {
                    ServiceError::NotFound(format!(
                        "order {id} is not at a pack bench: scan the order first"
                    ))
                })?;
                own_bench(c, &check)?;
                check.scan(&code).map_err(|r| ServiceError::WrongScan {
                    message: r.to_string(),
                })?;
                store.save_pack_check(&check).map_err(store_err)?;
                Ok(Reply::Pack { check })
            }
            Request::PackFinish {
                order,
                box_name,
                weight_g,
            } => {
                let id = order_id(&order)?;
                let bx = self
                    .settings
                    .boxes
                    .iter()
                    .find(|b| b.name == box_name)
                    .ok_or_else(|| {
                        ServiceError::Invalid(format!("no box preset named {box_name:?}"))
                    })?;
                if weight_g == 0 || weight_g > 70_000 {
                    return Err(ServiceError::Invalid(format!(
                        "weight {weight_g} g is outside 1 g – 70 kg"
                    )));
                }
                let _order = self.lock_order(&id);
                let store = self.read();
                let check = store.pack_check(&id).map_err(store_err)?.ok_or_else(|| {
                    ServiceError::NotFound(format!(
                        "order {id} is not at a pack bench: scan the order first"
                    ))
                })?;
                own_bench(c, &check)?;
                if !check.is_complete() {
                    return Err(ServiceError::Conflict(format!(
                        "order {id} still needs {} unit(s) scanned before it can be boxed",
                        check.units_left()
                    )));
                }
                let parcel = Parcel {
                    box_name: bx.name.clone(),
                    dims_mm: bx.dims_mm,
                    weight_g,
                };
                let rec = store
                    .finish_pack(&id, &parcel, &c.user, now)
                    .map_err(store_err)?;
                drop(store);
                self.changed();
                Ok(Reply::Packed { order: rec })
            }
            Request::Boxes => Ok(Reply::Boxes {
                boxes: self.settings.boxes.clone(),
            }),
            Request::RaiseException { order, note } => {
                let id = order_id(&order)?;
                let note = non_empty(&note, "the exception note")?;
                {
                    let _floor = self.lock_floor();
                    self.read()
                        .raise_exception_on_floor(&id, &c.user, note, now)
                        .map_err(store_err)?;
                }
                self.changed();
                Ok(Reply::Done)
            }
            Request::ResolveException {
                order,
                resume,
                resolution,
            } => {
                self.require(c, Role::Lead, "resolving an exception")?;
                let id = order_id(&order)?;
                let text = non_empty(&resolution, "the resolution")?;
                self.read()
                    .resolve_exception(&id, resume, &c.user, text, now)
                    .map_err(store_err)?;
                self.changed();
                Ok(Reply::Done)
            }
            Request::Exceptions => {
                self.require(c, Role::Lead, "the exceptions list")?;
                let store = self.read();
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
                Ok(Reply::Exceptions { exceptions })
            }
            Request::Reveal { order, reason } => {
                self.require(c, Role::Lead, "revealing a recipient")?;
                let id = order_id(&order)?;
                let reason = non_empty(&reason, "the reason for a reveal")?;
                let recipient = self
                    .read()
                    .reveal(&id, &c.user, reason, now)
                    .map_err(store_err)?;
                let lines = recipient
                    .reveal_lines()
                    .into_iter()
                    .map(|(k, v)| format!("{k}: {v}"))
                    .collect();
                Ok(Reply::Revealed {
                    order: id,
                    lines: Revealed(lines),
                })
            }
            Request::Unlock { passphrase } => {
                self.require(c, Role::Lead, "unlocking the store")?;
                let source = MasterSource::Passphrase(passphrase.0.clone().into());
                let indexed = self
                    .with_store_mut(|s| s.unlock(&source))
                    .map_err(store_err)?;
                tracing::info!(user = %c.user, indexed, "store unlocked");
                Ok(Reply::Done)
            }
            Request::Lock => {
                self.require(c, Role::Lead, "locking the store")?;
                self.write().keyring_mut().lock();
                tracing::info!(user = %c.user, "store locked");
                Ok(Reply::Done)
            }
            Request::Purge { as_of } => {
                self.require(c, Role::Lead, "purging")?;
                let report = self
                    .with_store_mut(|s| {
                        s.purge(self.settings.retention, as_of.unwrap_or(now), &c.user, now)
                    })
                    .map_err(store_err)?;
                Ok(Reply::Purged { report })
            }
            Request::Order { order } => {
                let id = order_id(&order)?;
                let rec = self.read().get(&id).map_err(store_err)?.ok_or_else(|| {
                    ServiceError::NotFound(format!("order {id} is not in the store"))
                })?;
                Ok(Reply::Orders { orders: vec![rec] })
            }
            Request::LookupName { text } => {
                self.require(c, Role::Labeler, "a name lookup")?;
                let text = non_empty(&text, "the name to look up")?;
                let orders = self
                    .write()
                    .lookup_name(text, &c.user, now)
                    .map_err(store_err)?;
                Ok(Reply::Found { orders })
            }
            Request::AuditVerify => {
                self.require(c, Role::Lead, "verifying the audit log")?;
                let entries = self.read().verify_audit().map_err(store_err)?;
                Ok(Reply::AuditOk { entries })
            }
            Request::Import { file, page } => {
                self.require(c, Role::Lead, "importing orders")?;
                let parsed = crate::amazon::parse_search_orders(page.0.as_bytes(), &file)
                    .map_err(|e| ServiceError::Invalid(e.to_string()))?;
                let counts = self
                    .with_store_mut(|s| s.import(parsed.orders, &c.user, now))
                    .map_err(store_err)?;
                Ok(Reply::Imported { counts })
            }
            req @ (Request::Rates { .. }
            | Request::BuyLabel { .. }
            | Request::PrintLabel { .. }
            | Request::PrintSlip { .. }
            | Request::VoidLabel { .. }
            | Request::ShipOwnCarrier { .. }
            | Request::CheckPurchase { .. }
            | Request::Manifest { .. }
            | Request::PrintJobs
            | Request::ClearPurchase { .. }) => self.shipping(c, req, now),
            Request::SyncStatus => Ok(Reply::Sync(
                self.sync.lock().unwrap_or_else(|p| p.into_inner()).clone(),
            )),
        }
    }
}
