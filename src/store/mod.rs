//! The sealed order store: sled trees for orders and their queue index, recipients sealed with
//! `age` under key epochs, customer inquiries with their sealed notes, returns, the blind name index and
//! the SKU index (in a second sled database, `derived`), retention and the audit log.
//!
//! This module owns every byte packline keeps on disk. It must never write a recipient (or an
//! inquiry's note, or a person's typed words: exception notes, hold, reveal and void reasons,
//! see `notes`) in the clear, and every state change is one sled transaction that appends its audit entry and is
//! flushed before the call returns.
//!
//! It keeps what the domain decides and decides nothing itself: what an imported order becomes is
//! `domain::import`, the lifecycle is `domain::order`, shipments `domain::shipment`, the retention
//! schedule `domain::RetentionPolicy`. It never imports `amazon`: parsed orders arrive as domain
//! values (`domain::ImportedOrder`).

pub mod audit;
pub mod backend;
pub mod backup;
pub mod check;
mod codes;
mod derived;
pub mod floor;
pub mod index;
pub mod inquiry;
pub mod keys;
pub mod notes;
mod notes_upgrade;
pub mod queue;
pub mod records;
pub mod retention;
pub mod returns;
pub mod seal;
pub mod shipping;
pub mod space;
pub mod stats;

use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};

pub use crate::domain::RetentionPolicy;
/// Counts of import outcomes (`domain::import`), re-exported for callers.
pub use crate::domain::import::ImportCounts;
use crate::domain::import::{self, ImportOutcome, ImportedOrder};
use crate::domain::{Event, IllegalTransition, OrderId, OrderRecord, OrderState, Recipient};
pub use notes::ExceptionNote;
pub use retention::PurgeReport;
pub use seal::{Keyring, MasterSource, Protection};

/// Everything that can go wrong in the store. Messages say what is wrong, where, and what to do;
/// none of them carries personal data.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("store: {0}")]
    Sled(sled::Error),
    #[error(
        "the store in {dir} is damaged ({what} does not check out): nothing was changed; restore the data directory from a backup (`packline restore`), and keep the damaged copy for inspection",
        dir = dir.display()
    )]
    Damaged { dir: PathBuf, what: String },
    #[error(
        "the disk holding {dir} is full: {free} free, and a change needs {need} (packline keeps room so that nothing is ever half written). Nothing was changed: free space on that disk, then run it again",
        free = space::mib(*free),
        need = space::mib(*need)
    )]
    DiskFull { dir: PathBuf, free: u64, need: u64 },
    #[error(
        "no space left on the disk holding the store: the change stopped there, and what was stored before it is kept. Free space on that disk, then run it again"
    )]
    NoSpace,
    #[error("no keys for this store ({path} is missing): run `packline keys init` first")]
    NoKeys { path: PathBuf },
    #[error(
        "keys already exist at {path}: `keys init` never replaces a site's keys; use `packline keys rotate` for a new epoch"
    )]
    KeysExist { path: PathBuf },
    #[error(
        "keyring {path} is damaged: {detail}. Nothing was changed: restore the data directory from a backup (`packline restore`), and keep the damaged copy for inspection"
    )]
    Keyring { path: PathBuf, detail: String },
    #[error(
        "the store is locked: {action} needs the site's master key, which a lead holds. Unlock by \
         giving the master passphrase (--passphrase-file FILE, PACKLINE_PASSPHRASE_FILE, or at the \
         prompt on a terminal) or, on an unattended site, set [keys] identity_file (or \
         PACKLINE_IDENTITY_FILE) to the 0600 identity file made by `packline keys init --identity-file`"
    )]
    Locked { action: &'static str },
    #[error(
        "identity file {path} has mode {mode:o}: a master key must not be readable or writable by \
         group or others. Run: chmod 600 {path}"
    )]
    IdentityFileMode { path: PathBuf, mode: u32 },
    #[error("wrong master key: {0}")]
    WrongKey(String),
    #[error("the passphrase does not unlock this store's master key")]
    BadPassphrase,
    #[error(
        "this record (a recipient, a label or a note) was sealed under key epoch {epoch}, which retention has destroyed"
    )]
    EpochShredded { epoch: u32 },
    #[error("a sealed recipient record is damaged and cannot be opened")]
    CorruptRecord,
    #[error("a stored order record is damaged: {0}")]
    CorruptOrder(String),
    #[error("crypto: {0}")]
    Crypto(String),
    #[error("order {0} is not in the store")]
    NoSuchOrder(OrderId),
    /// A unit's code already went with another unit (the text names where, and what to do).
    #[error("{0}")]
    CodeUsed(String),
    #[error(
        "there is no inquiry {0} (never opened, or destroyed by retention a year after it was resolved): see `packline inquiry list`"
    )]
    NoSuchInquiry(u64),
    #[error(transparent)]
    Inquiry(#[from] crate::domain::inquiry::InquiryRefusal),
    #[error(
        "no return answers to \"{0}\": scan the return label's tracking number, the RMA id or the order id (an unexpected return is recorded only against an order in the store); see `packline returns list`"
    )]
    NoSuchReturn(String),
    #[error(transparent)]
    Return(#[from] crate::domain::returns::ReturnRefusal),
    #[error("order {order}: {source}")]
    Transition {
        order: OrderId,
        #[source]
        source: IllegalTransition,
    },
    #[error("order {0} has no recipient on record (never received, or destroyed by retention)")]
    NoRecipient(OrderId),
    #[error("audit log: {0}")]
    AuditBroken(String),
    #[error("{0}")]
    Usage(String),
    #[error(
        "order {order} is on hold (since {since}, by {by}): nothing moves it on until a lead releases it (packline orders release {order}); a lead can read the reason (packline orders holds)",
        since = since.format("%Y-%m-%d %H:%M UTC")
    )]
    OnHold {
        order: OrderId,
        by: String,
        since: DateTime<Utc>,
    },
    #[error(
        "a stored {kind} is in format {format}, which a newer packline wrote: this one reads up to format {reads}. Nothing was changed: run the newer packline"
    )]
    NewerRecord {
        kind: &'static str,
        format: u8,
        reads: u8,
    },
    #[error(
        "the store in {dir} was written by a newer packline (schema version {found}; this packline reads up to version {reads}). Nothing was changed: run the newer packline (or restore a backup this version made)",
        dir = dir.display()
    )]
    NewerStore {
        dir: PathBuf,
        found: u32,
        reads: u32,
    },
    #[error(
        "this keyring belongs to another store (the store records master recipient {store}, the keyring {keyring})"
    )]
    KeyringMismatch { store: String, keyring: String },
}

impl Error {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_owned(),
            source,
        }
    }
}

impl From<sled::Error> for Error {
    fn from(e: sled::Error) -> Self {
        match e {
            sled::Error::Io(io) if space::is_no_space(&io) => Error::NoSpace,
            other => Error::Sled(other),
        }
    }
}

impl From<TransactionError<Error>> for Error {
    fn from(e: TransactionError<Error>) -> Self {
        match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => Error::from(e),
        }
    }
}

type TxResult<T> = Result<T, ConflictableTransactionError<Error>>;

fn abort<T>(e: Error) -> TxResult<T> {
    Err(ConflictableTransactionError::Abort(e))
}

/// The sled trees. Amazon-sourced data lives under `amazon/`. The name and SKU indexes live in a
/// database of their own (`derived`).
struct Trees {
    orders: sled::Tree,
    recipients: sled::Tree,
    queue: sled::Tree,
    epochs: sled::Tree,
    pending_index: sled::Tree,
    exceptions: sled::Tree,
    audit: sled::Tree,
    meta: sled::Tree,
    /// Work in progress on the floor: claims, pick batches, pack checks, parcels.
    floor: sled::Tree,
    /// Customer inquiries and their sealed notes (`inquiry`).
    inquiries: sled::Tree,
    /// Returns: records without personal data (`returns`).
    returns: sled::Tree,
    /// People's words, sealed: exception notes, hold, reveal and void reasons (`notes`).
    texts: sled::Tree,
}

impl Trees {
    fn open(db: &sled::Db) -> Result<Self, Error> {
        Ok(Trees {
            orders: db.open_tree(keys::ORDERS.name)?,
            recipients: db.open_tree(keys::RECIPIENTS.name)?,
            queue: db.open_tree(keys::QUEUE.name)?,
            epochs: db.open_tree(keys::EPOCHS.name)?,
            pending_index: db.open_tree(keys::PENDING_INDEX.name)?,
            exceptions: db.open_tree(keys::EXCEPTIONS.name)?,
            audit: db.open_tree(keys::AUDIT.name)?,
            meta: db.open_tree(keys::META.name)?,
            floor: db.open_tree(keys::FLOOR.name)?,
            inquiries: db.open_tree(keys::INQUIRIES.name)?,
            returns: db.open_tree(keys::RETURNS.name)?,
            texts: db.open_tree(keys::TEXTS.name)?,
        })
    }
}

/// The same trees inside one transaction.
struct Tx<'a> {
    orders: &'a TransactionalTree,
    recipients: &'a TransactionalTree,
    queue: &'a TransactionalTree,
    epochs: &'a TransactionalTree,
    pending_index: &'a TransactionalTree,
    exceptions: &'a TransactionalTree,
    audit: &'a TransactionalTree,
    meta: &'a TransactionalTree,
    floor: &'a TransactionalTree,
    inquiries: &'a TransactionalTree,
    returns: &'a TransactionalTree,
    texts: &'a TransactionalTree,
}

const META_MASTER: &[u8] = keys::meta::MASTER_RECIPIENT.as_bytes();
/// Present while a change made of several steps (an import, indexing after an unlock, a purge) is
/// under way, and after one that a crash or an error cut short: the next purge then looks for
/// what it left behind. See `Store::in_steps`.
const META_UNSETTLED: &[u8] = keys::meta::UNSETTLED.as_bytes();

// A recipient slot (the value in `amazon/recipients`) is the sealed envelope followed by the
// order's blind-index keys (16 bytes each), so the index entries can be removed without
// unsealing anything. The `epochs` tree marks records that left an epoch (destroyed, or moved by
// an address change or retention): `epoch ‖ order id → ()`. Stale copies of those may survive in
// sled's log until that epoch's secret is shredded, which is what retention uses the marks for.

fn slot(envelope: &[u8], names: &[index::NameKey]) -> Vec<u8> {
    let mut v = Vec::with_capacity(envelope.len() + names.len() * index::NAME_KEY_LEN);
    v.extend_from_slice(envelope);
    for n in names {
        v.extend_from_slice(n);
    }
    v
}

/// The envelope part of a recipient slot.
fn slot_envelope(value: &[u8]) -> &[u8] {
    let len = seal::parse_envelope(value).map_or(value.len(), |(_, ct)| 12 + ct.len());
    &value[..len]
}

/// The blind-index keys stored in a recipient slot.
fn slot_names(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value[slot_envelope(value).len()..].chunks_exact(index::NAME_KEY_LEN)
}

pub struct Store {
    db: sled::Db,
    t: Trees,
    /// The name and SKU indexes, opened on first use.
    derived: derived::Lazy,
    /// How many changes of several steps are under way (they nest: a purge re-seals).
    steps: usize,
    keyring: Keyring,
    data_dir: PathBuf,
}

/// Where sled keeps its files inside the data directory.
pub const DB_DIR: &str = "db";

impl Store {
    /// Creates the keys of a new site and records the master recipient in the store.
    pub fn init_keys(
        data_dir: &Path,
        source: &MasterSource,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<String, Error> {
        create_data_dir(data_dir)?;
        private_dir(data_dir)?;
        let db = open_db(data_dir)?;
        let meta = db.open_tree(keys::META.name)?;
        if let Some(existing) = meta.get(META_MASTER)? {
            return Err(Error::KeysExist {
                path: PathBuf::from(format!(
                    "{} (store already keyed to {})",
                    Keyring::path_in(data_dir).display(),
                    String::from_utf8_lossy(&existing)
                )),
            });
        }
        let keyring_path = Keyring::path_in(data_dir);
        if keyring_path.exists() {
            return Err(interrupted_init(&keyring_path));
        }
        let ring = Keyring::init(data_dir, source, now)?;
        let recipient = ring.master_recipient();
        // The master recipient and the genesis entry (every keyed store's audit log starts with
        // it, so an emptied log is detectable) are recorded together.
        let audit_tree = db.open_tree(keys::AUDIT.name)?;
        let reason = format!("master recipient {recipient}");
        let genesis = audit::Record {
            at: now,
            user,
            action: audit::GENESIS_ACTION,
            order: None,
            reason: Some(&reason),
        };
        (&audit_tree, &meta)
            .transaction(|(a, m)| {
                m.insert(META_MASTER, recipient.as_bytes())?;
                m.insert(
                    records::upgrade::META_SCHEMA,
                    &records::upgrade::schema_bytes(records::SCHEMA),
                )?;
                audit::append(a, m, &genesis).map(|_| ())
            })
            .map_err(Error::from)?;
        db.flush()?;
        space::keep_reserve(data_dir);
        Ok(recipient)
    }

    /// Opens an existing, keyed store. Needs no secret.
    pub fn open(data_dir: &Path) -> Result<Self, Error> {
        if !data_dir.join(DB_DIR).exists() {
            return Err(Error::NoKeys {
                path: Keyring::path_in(data_dir),
            });
        }
        private_dir(data_dir)?;
        let db = open_db(data_dir)?;
        if db.open_tree(keys::META.name)?.get(META_MASTER)?.is_none() {
            // Never keyed: what is wrong with the keyring is said first, as below.
            Keyring::load(data_dir)?;
            return Err(interrupted_init(&Keyring::path_in(data_dir)));
        }
        // A store of an older schema is upgraded (once), one of a newer refused.
        let db = records::upgrade::settle(
            data_dir,
            db,
            || open_db(data_dir),
            || open_sled(data_dir, records::upgrade::STAGING, 0),
            Utc::now(),
        )?;
        let mut keyring = Keyring::load(data_dir)?;
        let t = Trees::open(&db)?;
        let store_master = t
            .meta
            .get(META_MASTER)?
            .map(|v| String::from_utf8_lossy(&v).into_owned())
            .unwrap_or_default();
        if store_master.is_empty() {
            return Err(interrupted_init(&Keyring::path_in(data_dir)));
        }
        if store_master != keyring.master_recipient() {
            return Err(Error::KeyringMismatch {
                store: store_master,
                keyring: keyring.master_recipient(),
            });
        }
        keyring.bind_pins(t.meta.clone())?;
        let mut store = Store {
            db,
            t,
            derived: derived::Lazy::default(),
            steps: 0,
            keyring,
            data_dir: data_dir.to_owned(),
        };
        store.settle_open_hours()?;
        store.settle_code_registry()?;
        // Words an older packline kept in the clear are sealed once (`notes_upgrade`).
        store.seal_plain_free_text("packline", Utc::now())?;
        space::keep_reserve(data_dir);
        Ok(store)
    }

    /// The data directory of this store.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Closes and reopens the database, keeping the keyring (and its unlock). sled records its
    /// recovery snapshot only when a database is opened, and replays every log entry written
    /// since then at the next open; after a bulk import this moves that replay from the next
    /// start (a packer waiting) to now.
    pub fn checkpoint(self) -> Result<Self, Error> {
        let Store {
            db,
            t,
            mut derived,
            steps,
            mut keyring,
            data_dir,
        } = self;
        // The keyring's handle on the meta tree would keep the old database open.
        keyring.unbind_pins();
        // The index database, when it was used, gets the same treatment; it stays closed after,
        // until it is needed again.
        if let Some(d) = derived.take() {
            d.flush()?;
            drop(d);
            drop(open_sled(&data_dir, derived::DIR, 0)?);
            drop(open_sled(&data_dir, derived::DIR, 0)?);
        }
        drop(t);
        db.flush()?;
        drop(db);
        // The first open writes the snapshot but also starts a new log segment; the second open
        // snapshots that too, so the next open finds nothing to replay and nothing to write.
        drop(open_db(&data_dir)?);
        let db = open_db(&data_dir)?;
        let t = Trees::open(&db)?;
        keyring.bind_pins(t.meta.clone())?;
        Ok(Store {
            db,
            t,
            derived,
            steps,
            keyring,
            data_dir,
        })
    }

    /// The name and SKU index database, opened on first use, and rebuilt from the main store
    /// when it is new, was cut short while being built, or was removed.
    fn derived(&self) -> Result<&derived::Derived, Error> {
        self.derived.get(&self.data_dir, |d| {
            if d.is_complete()? {
                return Ok(());
            }
            tracing::info!("building the index database from the store");
            d.rebuild(&self.db, &self.t.orders, &self.t.recipients)
        })
    }

    /// Opens the index database now rather than at the first name search or import: the daemon
    /// calls this once it is serving, so no one waits for it later.
    pub fn open_index(&self) -> Result<(), Error> {
        self.derived().map(|_| ())
    }

    /// Runs a change made of several steps that a crash could leave half done (new orders are
    /// written tree by tree; index entries are added before the main change and removed after
    /// it): it is marked in the store, durably, before the first step, and unmarked once the last
    /// one succeeds. A purge looks for leftovers only when it finds the mark, rather than reading
    /// the whole store every day.
    fn in_steps<R>(&mut self, f: impl FnOnce(&mut Self) -> Result<R, Error>) -> Result<R, Error> {
        if self.steps == 0 {
            self.t.meta.insert(META_UNSETTLED, &[])?;
            self.db.flush()?;
        }
        self.steps += 1;
        let r = f(self);
        self.steps -= 1;
        if r.is_ok() && self.steps == 0 {
            // Not flushed: should a crash lose this, the next purge merely looks in vain.
            self.t.meta.remove(META_UNSETTLED)?;
        }
        r
    }

    /// Whether a change of several steps was cut short (or is under way).
    fn unsettled(&self) -> Result<bool, Error> {
        Ok(self.t.meta.contains_key(META_UNSETTLED)?)
    }

    /// Whether the index database has been opened.
    #[cfg(test)]
    fn index_is_open(&self) -> bool {
        self.derived.is_open()
    }

    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    pub fn keyring_mut(&mut self) -> &mut Keyring {
        &mut self.keyring
    }

    pub fn is_unlocked(&self) -> bool {
        self.keyring.is_unlocked()
    }

    /// Unlocks with the master key, then indexes the names of orders imported while locked.
    pub fn unlock(&mut self, source: &MasterSource) -> Result<u64, Error> {
        self.keyring.unlock(source)?;
        self.index_pending()
    }

    fn transact<R>(&self, f: impl Fn(&Tx<'_>) -> TxResult<R>) -> Result<R, Error> {
        let t = &self.t;
        let r = (
            &t.orders,
            &t.recipients,
            &t.queue,
            &t.epochs,
            &t.pending_index,
            &t.exceptions,
            &t.audit,
            &t.meta,
            &t.floor,
            &t.inquiries,
            &t.returns,
            &t.texts,
        )
            .transaction(|(o, r, q, e, p, x, a, m, fl, iq, rt, tt)| {
                f(&Tx {
                    orders: o,
                    recipients: r,
                    queue: q,
                    epochs: e,
                    pending_index: p,
                    exceptions: x,
                    audit: a,
                    meta: m,
                    floor: fl,
                    inquiries: iq,
                    returns: rt,
                    texts: tt,
                })
            })?;
        Ok(r)
    }

    /// Appends an audit entry that records no state change of its own (a reveal, a lookup, an
    /// import or purge summary), durably.
    fn record_audit(&self, rec: &audit::Record<'_>) -> Result<(), Error> {
        self.transact(|tx| audit::append(tx.audit, tx.meta, rec).map(|_| ()))?;
        self.flush()
    }

    /// Records a refused attempt (a user with no role, say) in the audit log.
    pub fn record_refusal(&self, user: &str, action: &str, reason: &str) -> Result<(), Error> {
        let action = format!("refused:{action}");
        self.record_audit(&audit::Record {
            at: Utc::now(),
            user,
            action: &action,
            order: None,
            reason: Some(reason),
        })
    }

    /// Makes everything written so far durable.
    pub fn flush(&self) -> Result<(), Error> {
        self.derived.flush()?;
        self.db.flush()?;
        Ok(())
    }

    pub fn get(&self, id: &OrderId) -> Result<Option<OrderRecord>, Error> {
        self.t
            .orders
            .get(id.as_str())?
            .map(|v| decode_record(&v))
            .transpose()
    }

    pub fn order_count(&self) -> usize {
        self.t.orders.len()
    }

    /// Orders in queue order (state, then ship-by, then id); one state only if given.
    pub fn list(
        &self,
        state: Option<OrderState>,
    ) -> impl Iterator<Item = Result<OrderRecord, Error>> + '_ {
        let iter = match state {
            Some(s) => self.t.queue.scan_prefix([s.code()]),
            None => self.t.queue.iter(),
        };
        // An entry whose order is missing is left by an import cut short by a crash (indexes are
        // written before the record they index); it is skipped here and removed by the next purge.
        iter.filter_map(move |item| {
            let read = || -> Result<Option<OrderRecord>, Error> {
                let (k, _) = item?;
                self.queue_entry(&k)
            };
            read().transpose()
        })
    }

    /// The order a queue entry stands for, if the entry is that order's current one. A stale
    /// entry (its order never stored, or since moved) gives `None`.
    fn queue_entry(&self, key: &[u8]) -> Result<Option<OrderRecord>, Error> {
        match self.t.orders.get(queue_id(key))? {
            Some(v) => {
                let rec = decode_record(&v)?;
                Ok((queue_key(&rec) == key).then_some(rec))
            }
            None => Ok(None),
        }
    }

    /// Imports parsed orders, keeping what the import decision (`domain::import`) makes of each:
    /// new actionable orders are sealed and queued; known orders are updated when Amazon's copy
    /// is newer (a cancellation cancels); the rest is skipped. Needs no secret. Everything is flushed before returning.
    ///
    /// Changes to known orders are one transaction per chunk, with their audit entries. New
    /// orders, the bulk of any import, take a faster path: per-tree batches, the order record
    /// last. A crash part-way leaves at most index entries and sealed slots of orders that are not
    /// stored; the next import of those orders rewrites them whole, readers skip them, and purge
    /// removes any that remain.
    pub fn import(
        &mut self,
        orders: Vec<ImportedOrder>,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<ImportCounts, Error> {
        self.in_steps(|s| s.import_steps(orders, user, now))
    }

    fn import_steps(
        &mut self,
        orders: Vec<ImportedOrder>,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<ImportCounts, Error> {
        let mut counts = ImportCounts::default();
        // The same order twice in one import (overlapping pages): only Amazon's newest copy counts.
        let mut newest: HashMap<OrderId, usize> = HashMap::with_capacity(orders.len());
        for (i, o) in orders.iter().enumerate() {
            match newest.entry(o.order.id.clone()) {
                Entry::Vacant(e) => {
                    e.insert(i);
                }
                Entry::Occupied(mut e) => {
                    counts.unchanged += 1;
                    if orders[*e.get()].order.updated <= o.order.updated {
                        e.insert(i);
                    }
                }
            }
        }
        let mut it = orders
            .into_iter()
            .enumerate()
            .filter(|(i, o)| newest.get(&o.order.id) == Some(i))
            .map(|(_, o)| o)
            .peekable();
        while it.peek().is_some() {
            let chunk: Vec<ImportedOrder> = it.by_ref().take(IMPORT_CHUNK).collect();
            let (mut fresh, mut known) = (Vec::new(), Vec::new());
            let mut these = ImportCounts::default();
            for imported in chunk {
                match self.plan_import(imported, now, &mut these)? {
                    Some(p) if p.old.is_none() && !p.leftover_slot => fresh.push(p),
                    Some(p) => known.push(p),
                    None => {}
                }
            }
            // The chunk's audit entry goes first, durably: an import cut short never leaves a
            // stored order that no entry accounts for.
            if these.new + these.updated + these.cancelled > 0 {
                let reason = format!(
                    "{} new, {} updated, {} cancelled",
                    these.new, these.updated, these.cancelled
                );
                self.record_audit(&audit::Record {
                    at: now,
                    user,
                    action: "import",
                    order: None,
                    reason: Some(&reason),
                })?;
            }
            counts += these;
            if !fresh.is_empty() {
                self.store_new(&fresh)?;
            }
            if !known.is_empty() {
                let mut ops = derived::IndexOps::default();
                for p in &known {
                    self.plan_index(p, &mut ops)?;
                }
                let d = self.derived()?;
                ops.write_additions(d)?;
                self.transact(|tx| {
                    for p in &known {
                        apply_plan(tx, p, user, now)?;
                    }
                    Ok(())
                })?;
                ops.write_removals(d)?;
            }
        }
        self.flush()?;
        Ok(counts)
    }

    /// Writes orders the store has never seen: their index entries first (durably), then
    /// per-tree batches, the order record last.
    fn store_new(&self, plans: &[ImportPlan]) -> Result<(), Error> {
        let mut ops = derived::IndexOps::default();
        let mut recipients = sled::Batch::default();
        let mut pending = sled::Batch::default();
        let mut queue = sled::Batch::default();
        let mut orders = sled::Batch::default();
        for p in plans {
            let rec = &p.record;
            let id = rec.order.id.as_str();
            if let Some(s) = &p.sealed {
                match &s.names {
                    Some(keys) => {
                        recipients.insert(id, slot(&s.envelope, keys));
                        ops.add_names(id.as_bytes(), keys.iter().map(|k| &k[..]));
                    }
                    None => {
                        recipients.insert(id, s.envelope.as_slice());
                        pending.insert(id, &[]);
                    }
                }
            }
            ops.add_lines(&rec.order);
            queue.insert(queue_key(rec), &[]);
            orders.insert(id, encode_record(rec));
        }
        ops.write_additions(self.derived()?)?;
        self.t.recipients.apply_batch(recipients)?;
        self.t.pending_index.apply_batch(pending)?;
        self.t.queue.apply_batch(queue)?;
        let recs: Vec<&OrderRecord> = plans.iter().map(|p| &p.record).collect();
        self.open_added(&recs)?;
        self.t.orders.apply_batch(orders)?;
        self.open_settled()
    }

    /// The index entries a known order's import changes: SKU entries when its lines changed,
    /// name entries when it is re-sealed. The store is held exclusively during an import, so the
    /// slot read here is the one the transaction replaces.
    fn plan_index(&self, p: &ImportPlan, ops: &mut derived::IndexOps) -> Result<(), Error> {
        let id = p.record.order.id.as_str();
        match &p.old {
            Some(old) => ops.change_lines(&old.order, &p.record.order),
            None => ops.add_lines(&p.record.order),
        }
        if let Some(s) = &p.sealed {
            if (p.old.is_some() || p.leftover_slot)
                && let Some(old) = self.t.recipients.get(id)?
            {
                ops.remove_names(id.as_bytes(), &old);
            }
            if let Some(names) = &s.names {
                ops.add_names(id.as_bytes(), names.iter().map(|k| &k[..]));
            }
        }
        Ok(())
    }

    fn plan_import(
        &mut self,
        imported: ImportedOrder,
        now: DateTime<Utc>,
        counts: &mut ImportCounts,
    ) -> Result<Option<ImportPlan>, Error> {
        let old = self.get(&imported.order.id)?;
        let id = imported.order.id.clone();
        // Whether packline holds (or may hold) the order's shipment: Amazon shipping an order
        // packline bought a label for confirms that label, it is never "shipped elsewhere". Only
        // a known order can have one.
        let shipment = match &old {
            Some(_) => self.shipment_state(&id)?,
            None => None,
        };
        let decided = import::decide(imported, old.as_ref(), shipment, now)
            .map_err(|source| Error::Transition { order: id, source })?;
        counts.add(decided.outcome);
        let Some(record) = decided.record else {
            return Ok(None);
        };
        let sealed = match decided.recipient {
            Some(r) => {
                let (envelope, epoch) = self.keyring.seal(&r, now)?;
                let names = self
                    .keyring
                    .index_key(epoch)
                    .map(|k| index::name_keys(k, &r.name));
                Some(Sealed {
                    envelope,
                    epoch,
                    names,
                })
            }
            None => None,
        };
        let outcome = decided.outcome;
        let leftover_slot =
            old.is_none() && self.t.recipients.contains_key(record.order.id.as_str())?;
        Ok(Some(ImportPlan {
            old,
            leftover_slot,
            record,
            outcome,
            sealed,
        }))
    }

    /// Moves an order through its lifecycle: one transaction with its audit entry, flushed.
    pub fn transition(
        &self,
        id: &OrderId,
        event: Event,
        user: &str,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<OrderRecord, Error> {
        let rec = self.transact(|tx| step(tx, id, event, user, reason, now))?;
        self.flush()?;
        Ok(rec)
    }

    /// Takes an order off the line with a note for a lead.
    pub fn raise_exception(
        &self,
        id: &OrderId,
        user: &str,
        note: &str,
        now: DateTime<Utc>,
    ) -> Result<OrderRecord, Error> {
        self.exception_change(id, Event::RaiseException, user, note, now)
    }

    /// A lead puts an exception order back on the line at `resume`.
    pub fn resolve_exception(
        &self,
        id: &OrderId,
        resume: OrderState,
        user: &str,
        resolution: &str,
        now: DateTime<Utc>,
    ) -> Result<OrderRecord, Error> {
        self.exception_change(id, Event::Resolve(resume), user, resolution, now)
    }

    fn exception_change(
        &self,
        id: &OrderId,
        event: Event,
        user: &str,
        text: &str,
        now: DateTime<Utc>,
    ) -> Result<OrderRecord, Error> {
        let what = match event {
            Event::RaiseException => "the exception note",
            _ => "the resolution",
        };
        let sealed = self.seal_words(text, what, now)?;
        let words = notes::Words::Sealed(&sealed);
        let rec = self.transact(|tx| exception_step(tx, id, event, user, words, now))?;
        self.flush()?;
        Ok(rec)
    }

    /// An order's exception notes, oldest first; a person's words sealed (see
    /// [`Store::open_free_texts`]).
    pub fn exception_notes(&self, id: &OrderId) -> Result<Vec<ExceptionNote>, Error> {
        match self.t.exceptions.get(id.as_str())? {
            Some(v) => Ok(notes::decode_exceptions(&v)?
                .iter()
                .map(ExceptionNote::from)
                .collect()),
            None => Ok(Vec::new()),
        }
    }

    /// Opens an order's recipient for a person, recording who and why in the audit log first.
    /// Needs the store unlocked and a reason.
    pub fn reveal(
        &self,
        id: &OrderId,
        user: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Recipient, Error> {
        if reason.trim().is_empty() {
            return Err(Error::Usage(
                "a reveal needs a reason (--reason TEXT): it goes to the audit log".into(),
            ));
        }
        let envelope = self.t.recipients.get(id.as_str())?.ok_or_else(|| {
            match self.t.orders.contains_key(id.as_str()) {
                Ok(true) => Error::NoRecipient(id.clone()),
                _ => Error::NoSuchOrder(id.clone()),
            }
        })?;
        let recipient = self
            .keyring
            .open(slot_envelope(&envelope), "revealing a recipient")?;
        // The reason is a lead's words: sealed, and the audit entry names where.
        let sealed = self.seal_words(reason, "the reason for a reveal", now)?;
        let reference = notes::reveal_ref(id.as_str(), now);
        self.transact(|tx| {
            let kept = notes::Words::Sealed(&sealed).put(tx, reference.clone())?;
            audit_in(
                tx,
                user,
                "reveal",
                Some(id.as_str()),
                Some(&kept.audit()),
                now,
            )
        })?;
        self.flush()?;
        Ok(recipient)
    }

    /// Opens an order's recipient for a document the caller has already audited (a packing slip
    /// or label print job). `None` when no recipient is kept.
    pub fn recipient_for_document(&self, id: &OrderId) -> Result<Option<Recipient>, Error> {
        match self.t.recipients.get(id.as_str())? {
            Some(v) => Ok(Some(
                self.keyring
                    .open(slot_envelope(&v), "printing a packing slip")?,
            )),
            None => Ok(None),
        }
    }

    /// Finds orders by recipient name through the blind index. Needs the store unlocked (each
    /// epoch's index key derives from its sealed secret). Matches the full name, or every word of
    /// the query.
    pub fn lookup_name(
        &mut self,
        text: &str,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<OrderId>, Error> {
        if !self.keyring.is_unlocked() {
            return Err(Error::Locked {
                action: "a name lookup",
            });
        }
        self.index_pending()?;
        let names = &self.derived()?.names;
        let mut found = BTreeSet::new();
        // Records are indexed under the key of the epoch they are sealed in: ask every epoch.
        for (_, key) in self.keyring.index_keys().unwrap_or_default() {
            let Some(q) = index::query(key, text) else {
                break;
            };
            // The orders under every entry of the query...
            let mut ids: Option<BTreeSet<Vec<u8>>> = None;
            for k in &q {
                let under: BTreeSet<Vec<u8>> = names
                    .scan_prefix(k)
                    .keys()
                    .map(|e| Ok(derived::name_entry_id(&e?).to_vec()))
                    .collect::<Result<_, Error>>()?;
                ids = Some(match ids {
                    None => under,
                    Some(acc) => acc.intersection(&under).cloned().collect(),
                });
            }
            // ...whose sealed slot still lists them all: this passes over entries a crash left
            // stale (see `derived`).
            for id in ids.unwrap_or_default() {
                if let Some(v) = self.t.recipients.get(&id)?
                    && q.iter().all(|k| slot_names(&v).any(|n| n == k))
                {
                    found.insert(id);
                }
            }
        }
        self.record_audit(&audit::Record {
            at: now,
            user,
            action: "lookup_name",
            order: None,
            reason: Some(&format!("{} found", found.len())),
        })?;
        found
            .into_iter()
            .map(|b| {
                let s = String::from_utf8(b)
                    .map_err(|_| Error::CorruptOrder("a name index entry is damaged".into()))?;
                OrderId::parse(&s).map_err(|e| Error::CorruptOrder(e.to_string()))
            })
            .collect()
    }

    /// Indexes the names of orders imported while the store was locked. Returns how many. A
    /// record that cannot be opened (its epoch shredded, or damaged) is dropped from the waiting
    /// list with a warning: it can never be indexed, and must not block every later unlock.
    pub fn index_pending(&mut self) -> Result<u64, Error> {
        if !self.keyring.is_unlocked() || self.t.pending_index.is_empty() {
            return Ok(0);
        }
        self.in_steps(Self::index_pending_steps)
    }

    fn index_pending_steps(&mut self) -> Result<u64, Error> {
        let mut done = 0;
        loop {
            let batch: Vec<sled::IVec> = self
                .t
                .pending_index
                .iter()
                .keys()
                .take(IMPORT_CHUNK)
                .collect::<Result<_, _>>()?;
            if batch.is_empty() {
                break;
            }
            let mut work = Vec::with_capacity(batch.len());
            for id in &batch {
                let slot_value = match self.t.recipients.get(id)? {
                    Some(v) => {
                        let env = slot_envelope(&v);
                        let keyed = seal::envelope_epoch(env)
                            .and_then(|e| self.keyring.index_key(e).copied());
                        match (self.keyring.open(env, "indexing names"), keyed) {
                            (Ok(r), Some(key)) => Some(slot(env, &index::name_keys(&key, &r.name))),
                            (Err(e), _) => {
                                tracing::warn!(
                                    "a record waiting for its name index cannot be opened: {e}"
                                );
                                None
                            }
                            (Ok(_), None) => None,
                        }
                    }
                    None => None,
                };
                work.push((id.clone(), slot_value));
            }
            let mut ops = derived::IndexOps::default();
            for (id, slot_value) in &work {
                if let Some(v) = slot_value {
                    ops.add_names(id, slot_names(v));
                }
            }
            ops.write_additions(self.derived()?)?;
            self.transact(|tx| {
                for (id, slot_value) in &work {
                    tx.pending_index.remove(id)?;
                    if let Some(v) = slot_value {
                        tx.recipients.insert(id, v.as_slice())?;
                    }
                }
                Ok(())
            })?;
            done += work.len() as u64;
        }
        if done > 0 {
            self.flush()?;
        }
        Ok(done)
    }

    /// A time kept in the meta tree (for example the sync watermark).
    pub fn meta_time(&self, key: &str) -> Result<Option<DateTime<Utc>>, Error> {
        Ok(self
            .meta_text(key)?
            .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
            .map(Into::into))
    }

    pub fn set_meta_time(&self, key: &str, t: DateTime<Utc>) -> Result<(), Error> {
        self.set_meta_text(key, &t.to_rfc3339())
    }

    /// A short text kept in the meta tree (never personal data).
    pub fn meta_text(&self, key: &str) -> Result<Option<String>, Error> {
        Ok(self
            .t
            .meta
            .get(key)?
            .and_then(|v| std::str::from_utf8(&v).ok().map(str::to_owned)))
    }

    pub fn set_meta_text(&self, key: &str, value: &str) -> Result<(), Error> {
        self.t.meta.insert(key, value.as_bytes())?;
        self.flush()
    }

    /// Checks the audit chain; `Ok(n)` with the number of intact entries.
    /// Each user's activity in the audit log (sensitive actions counted from `since`), and
    /// the time of the last access review. Reads the whole log: a review is a rare, slow job.
    pub fn audit_activity(&self, since: DateTime<Utc>) -> Result<AuditActivity, Error> {
        let mut by_user: std::collections::BTreeMap<String, crate::domain::access::Activity> =
            std::collections::BTreeMap::new();
        let mut last_review = None;
        for item in self.t.audit.iter() {
            let (k, v) = item?;
            let e: audit::AuditEntry = serde_json::from_slice(&v).map_err(|_| {
                Error::AuditBroken(format!(
                    "audit entry {} is unreadable (edited): run packline audit verify",
                    k.as_ref()
                        .try_into()
                        .map(u64::from_be_bytes)
                        .unwrap_or_default()
                ))
            })?;
            if e.action == crate::domain::access::REVIEW_ACTION {
                last_review = Some(e.at);
            }
            // Refusals name whoever tried: they are not activity of someone with a role.
            if e.action.starts_with("refused:") {
                continue;
            }
            by_user
                .entry(e.user)
                .or_default()
                .count(&e.action, e.at, since);
        }
        Ok(AuditActivity {
            by_user,
            last_review,
        })
    }

    /// Records that an access review was made.
    pub fn record_access_review(&self, user: &str, now: DateTime<Utc>) -> Result<(), Error> {
        self.record_audit(&audit::Record {
            at: now,
            user,
            action: crate::domain::access::REVIEW_ACTION,
            order: None,
            reason: None,
        })
    }

    pub fn verify_audit(&self) -> Result<u64, Error> {
        audit::verify(&self.t.audit, &self.t.meta)
    }
}

const IMPORT_CHUNK: usize = 512;

struct Sealed {
    envelope: Vec<u8>,
    epoch: u32,
    /// Blind-index keys, when the store was unlocked at import; else the order waits in
    /// `pending_index` for the next unlock.
    names: Option<Vec<index::NameKey>>,
}

struct ImportPlan {
    old: Option<OrderRecord>,
    /// A sealed slot exists for an order that is not stored (an import cut short by a crash):
    /// it is replaced like a known order's, clearing its index entries and marking its epoch.
    leftover_slot: bool,
    record: OrderRecord,
    outcome: ImportOutcome,
    sealed: Option<Sealed>,
}

fn apply_plan(tx: &Tx<'_>, p: &ImportPlan, user: &str, now: DateTime<Utc>) -> TxResult<()> {
    let id = p.record.order.id.as_str();
    write_record(tx, p.old.as_ref(), &p.record)?;
    if let Some(s) = &p.sealed {
        // Only a known order (or a crash's leftover) can have a slot already.
        if p.old.is_some() || p.leftover_slot {
            if let Some(old) = tx.recipients.get(id)?
                && let Some(old_epoch) = seal::envelope_epoch(&old)
                && old_epoch != s.epoch
            {
                tx.epochs.insert(epoch_key(old_epoch, id), &[])?;
            }
            tx.pending_index.remove(id)?;
        }
        match &s.names {
            Some(names) => {
                tx.recipients.insert(id, slot(&s.envelope, names))?;
            }
            None => {
                tx.recipients.insert(id, s.envelope.as_slice())?;
                tx.pending_index.insert(id, &[])?;
            }
        }
    }
    let (action, reason) = match p.outcome {
        ImportOutcome::Cancelled => (Event::Cancel.name(), "cancelled at Amazon"),
        ImportOutcome::ShippedElsewhere => (
            Event::ShippedElsewhere.name(),
            "shipped outside packline, per Amazon",
        ),
        // Nothing moves: the order leaves on a manifest, or a lead settles its exception.
        ImportOutcome::ShipmentConfirmed => (
            "amazon_confirmed_shipment",
            "Amazon reports shipped what packline shipped (a label bought or maybe bought, or an own-carrier confirmation): the order stays where it is",
        ),
        _ => return Ok(()),
    };
    audit_in(tx, user, action, Some(id), Some(reason), now)?;
    Ok(())
}

/// Appends an audit entry inside a transaction: it commits (or not) with the change it records.
fn audit_in(
    tx: &Tx<'_>,
    user: &str,
    action: &str,
    order: Option<&str>,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> TxResult<()> {
    audit::append(
        tx.audit,
        tx.meta,
        &audit::Record {
            at: now,
            user,
            action,
            order,
            reason,
        },
    )?;
    Ok(())
}

/// Raises or resolves an exception inside a transaction, keeping its note (a person's words
/// sealed under the note's reference, which the audit entry names).
fn exception_step(
    tx: &Tx<'_>,
    id: &OrderId,
    event: Event,
    user: &str,
    words: notes::Words<'_>,
    now: DateTime<Utc>,
) -> TxResult<OrderRecord> {
    // Back to picking or packing means new packages: not while a package has its label.
    if let Event::Resolve(OrderState::New | OrderState::Picking | OrderState::Picked) = event {
        floor::refuse_dropping_labels(tx, id, "picking or packing it again")?;
    }
    let mut kept: Vec<notes::StoredException> = match tx.exceptions.get(id.as_str())? {
        Some(v) => notes::decode_exceptions(&v).or_else(abort)?,
        None => Vec::new(),
    };
    let reason = if event == Event::RaiseException {
        let text = words.put(tx, notes::exception_ref(id.as_str(), kept.len()))?;
        let reason = matches!(text, notes::StoredText::Sealed(_)).then(|| text.audit());
        kept.push(notes::StoredException {
            raised_at: now,
            raised_by: user.to_owned(),
            note: text,
            resolved_at: None,
            resolved_by: None,
            resolution: None,
        });
        reason
    } else if let Some((n, open)) = kept
        .iter_mut()
        .enumerate()
        .rev()
        .find(|(_, n)| n.resolved_at.is_none())
    {
        let text = words.put(tx, notes::resolution_ref(id.as_str(), n))?;
        let reason = matches!(text, notes::StoredText::Sealed(_)).then(|| text.audit());
        open.resolved_at = Some(now);
        open.resolved_by = Some(user.to_owned());
        open.resolution = Some(text);
        reason
    } else {
        None
    };
    let rec = step(tx, id, event, user, reason.as_deref(), now)?;
    tx.exceptions
        .insert(id.as_str(), notes::encode_exceptions(&kept))?;
    Ok(rec)
}

/// One lifecycle step inside a transaction: read, apply the event, write, audit.
fn step(
    tx: &Tx<'_>,
    id: &OrderId,
    event: Event,
    user: &str,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> TxResult<OrderRecord> {
    let Some(v) = tx.orders.get(id.as_str())? else {
        return abort(Error::NoSuchOrder(id.clone()));
    };
    let old = decode_record(&v).or_else(abort)?;
    let mut rec = old.clone();
    if let Err(source) = rec.apply(event, now) {
        return abort(Error::Transition {
            order: id.clone(),
            source,
        });
    }
    write_record(tx, Some(&old), &rec)?;
    audit_in(tx, user, event.name(), Some(id.as_str()), reason, now)?;
    count_event(tx, &old, event, user, now)?;
    Ok(rec)
}

/// The report counters an order's step moves (see `stats`): an order leaving counts itself,
/// its units (those not shipped before, per SKU) and whether it left after its ship-by; an
/// exception counts once.
fn count_event(
    tx: &Tx<'_>,
    old: &OrderRecord,
    event: Event,
    user: &str,
    now: DateTime<Utc>,
) -> TxResult<()> {
    use crate::domain::report::Metric;
    let units = || {
        old.order
            .lines
            .iter()
            .map(|l| u64::from(l.quantity_ordered.saturating_sub(l.quantity_shipped)))
            .sum::<u64>()
    };
    match event {
        Event::FinishPick => stats::work(tx, now, user, stats::Work::UnitsPicked, units())?,
        Event::FinishPack => stats::work(tx, now, user, stats::Work::UnitsPacked, units())?,
        _ => {}
    }
    if event == Event::RaiseException {
        stats::work(tx, now, user, stats::Work::ExceptionsRaised, 1)?;
    }
    match event {
        Event::Ship | Event::ShipOwnCarrier => {
            let units: Vec<(String, u32)> = old
                .order
                .lines
                .iter()
                .map(|l| {
                    (
                        l.sku.clone(),
                        l.quantity_ordered.saturating_sub(l.quantity_shipped),
                    )
                })
                .collect();
            let late = old.order.ship_by.latest.is_some_and(|latest| now > latest);
            stats::shipped(tx, now, &units, late)?;
        }
        Event::RaiseException => stats::day(tx, now, Metric::Exceptions, 1)?,
        _ => {}
    }
    Ok(())
}

/// Writes a record and keeps the queue index in step with it. (The SKU index, in the index
/// database, changes only when Amazon changes an order's lines: see `plan_index`.)
fn write_record(tx: &Tx<'_>, old: Option<&OrderRecord>, rec: &OrderRecord) -> TxResult<()> {
    let id = rec.order.id.as_str();
    if let Some(old) = old {
        tx.queue.remove(queue_key(old))?;
        if rec.state == OrderState::Cancelled && old.state != OrderState::Cancelled {
            floor::release_codes(tx, &rec.order.id)?;
        }
    }
    tx.queue.insert(queue_key(rec), &[])?;
    stats::open_moved(tx, old, rec)?;
    tx.orders.insert(id, encode_record(rec))?;
    Ok(())
}

/// Queue order: state code, then ship-by (seconds, sign-flipped so it sorts as unsigned), then id.
fn queue_key(rec: &OrderRecord) -> Vec<u8> {
    let id = rec.order.id.as_str().as_bytes();
    let t = rec.order.ship_by_key().timestamp();
    let mut k = Vec::with_capacity(9 + id.len());
    k.push(rec.state.code());
    k.extend_from_slice(&((t as u64) ^ (1 << 63)).to_be_bytes());
    k.extend_from_slice(id);
    k
}

/// The order id in a queue key.
fn queue_id(key: &[u8]) -> &[u8] {
    key.get(9..).unwrap_or_default()
}

fn epoch_key(epoch: u32, id: &str) -> Vec<u8> {
    let mut k = epoch.to_be_bytes().to_vec();
    k.extend_from_slice(id.as_bytes());
    k
}

/// What the audit log says each user did, for the access review.
pub struct AuditActivity {
    pub by_user: std::collections::BTreeMap<String, crate::domain::access::Activity>,
    pub last_review: Option<DateTime<Utc>>,
}

fn encode_record(rec: &OrderRecord) -> Vec<u8> {
    records::encode::<records::order::OrderRecord2>(rec)
}

fn decode_record(bytes: &[u8]) -> Result<OrderRecord, Error> {
    records::decode::<records::order::OrderRecord2>(bytes)
}

/// Sealed or not, the store holds the floor's records: only packline's own user may open its
/// directory (one made by hand with a looser mode is refused, with the chmod to run).
fn private_dir(dir: &Path) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt as _;
    let meta = std::fs::metadata(dir).map_err(|e| Error::io(dir, e))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(Error::Usage(format!(
            "the data directory {} has mode {mode:o}: it must not be open to group or others. Run: chmod 700 {}",
            dir.display(),
            dir.display()
        )));
    }
    Ok(())
}

fn create_data_dir(dir: &Path) -> Result<(), Error> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::io(dir, e))
}

/// A keyring without a keyed store: `keys init` stopped between writing the keyring and
/// recording it. Nothing can have been sealed yet, so starting over is safe.
fn interrupted_init(keyring: &Path) -> Error {
    Error::Usage(format!(
        "an interrupted `packline keys init` left {} behind, but the store was never keyed: \
         remove that file (and the identity file, if one was written) and run keys init again",
        keyring.display()
    ))
}

/// sled reports a held file lock as a plain I/O error with this text.
fn lock_busy(e: &std::io::Error) -> bool {
    let text = e.to_string();
    e.kind() == std::io::ErrorKind::WouldBlock
        || (text.contains("could not acquire lock") && text.contains("WouldBlock"))
}

fn open_db(data_dir: &Path) -> Result<sled::Db, Error> {
    open_sled(data_dir, DB_DIR, 128 * 1024 * 1024)
}

/// The main sled database of the store in `data_dir`, opened with the settings packline uses,
/// for tests and repair tools that inspect (or damage, on purpose) what is on disk.
pub fn raw_db(data_dir: &Path) -> Result<sled::Db, Error> {
    open_sled(data_dir, DB_DIR, 0)
}

/// Opens one of the store's sled databases: `dir` inside the data directory, with a page cache of
/// `cache` bytes (sled's default when 0).
fn open_sled(data_dir: &Path, dir: &str, cache: u64) -> Result<sled::Db, Error> {
    let path = data_dir.join(dir);
    let mut config = sled::Config::new().path(&path).segment_size(SEGMENT_SIZE);
    if cache > 0 {
        config = config.cache_capacity(cache);
    }
    // sled releases its file lock when the last of its threads lets go of a closed database,
    // a moment after the close: a reopen in the same process (checkpoint) waits for that.
    let mut waited = std::time::Duration::ZERO;
    let mut torn_removed = false;
    let mut reserve_released = false;
    loop {
        match config.open() {
            Ok(db) => return Ok(db),
            Err(sled::Error::Io(io))
                if lock_busy(&io) && waited < std::time::Duration::from_secs(2) =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
                waited += std::time::Duration::from_millis(20);
            }
            Err(sled::Error::Io(io)) if lock_busy(&io) => {
                return Err(Error::Usage(format!(
                    "the store in {} is in use by another packline process (is `packline serve` running?)",
                    data_dir.display()
                )));
            }
            // sled writes its recovery snapshot as it opens: on a full disk the reserve is
            // given up for it (once), so the floor can still read while space is freed. The
            // snapshot file it could not write is left empty, and goes too.
            Err(sled::Error::Io(io)) if space::is_no_space(&io) && !reserve_released => {
                reserve_released = true;
                remove_unfinished_snapshots(&path)?;
                if !space::release_reserve(data_dir) {
                    return Err(full_at_open(data_dir));
                }
            }
            Err(sled::Error::Io(io)) if space::is_no_space(&io) => {
                let _ = remove_unfinished_snapshots(&path);
                return Err(full_at_open(data_dir));
            }
            Err(sled::Error::Io(io)) => return Err(Error::io(&path, io)),
            // A database made with sled's default segment size keeps it.
            Err(sled::Error::Unsupported(_)) if config.segment_size != DEFAULT_SEGMENT_SIZE => {
                config = config.segment_size(DEFAULT_SEGMENT_SIZE);
            }
            // sled writes a snapshot to `snap.N.generating` and renames it when whole, but reads
            // a leftover `.generating` file as the newest snapshot: one torn by a kill makes
            // the whole store refuse to open. The older snapshot it was to replace is still
            // there (sled removes it only after the rename), with the log after it; so a torn
            // leftover is removed (once), and the open tried again.
            Err(sled::Error::Corruption { .. }) if !torn_removed => {
                torn_removed = true;
                let removed = remove_unfinished_snapshots(&path)?;
                if removed == 0 {
                    return Err(damaged(&path));
                }
                tracing::warn!(
                    removed,
                    dir = %path.display(),
                    "removed unfinished sled snapshot files left by an interrupted process"
                );
            }
            Err(sled::Error::Corruption { .. }) => return Err(damaged(&path)),
            Err(other) => return Err(Error::Sled(other)),
        }
    }
}

/// Removes the snapshot files sled never finished (`snap.*.generating`) from the sled database
/// in `path`; how many there were.
fn remove_unfinished_snapshots(path: &Path) -> Result<usize, Error> {
    let mut removed = 0;
    for entry in std::fs::read_dir(path).map_err(|e| Error::io(path, e))? {
        let entry = entry.map_err(|e| Error::io(path, e))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("snap.") && name.ends_with(".generating") {
            std::fs::remove_file(entry.path()).map_err(|e| Error::io(&entry.path(), e))?;
            removed += 1;
        }
    }
    if removed > 0 {
        std::fs::File::open(path)
            .and_then(|d| d.sync_all())
            .map_err(|e| Error::io(path, e))?;
    }
    Ok(removed)
}

fn full_at_open(data_dir: &Path) -> Error {
    let free = space::available(data_dir).unwrap_or(0);
    Error::Usage(format!(
        "the disk holding {} is full ({} free): the store cannot open without writing its recovery snapshot. Nothing was changed: free space on that disk, then run it again",
        data_dir.display(),
        space::mib(free)
    ))
}

/// sled refused the database in `path` as corrupt: which of its files does not check out (its
/// config and snapshot carry a CRC-32 as sled writes them; otherwise it is the log).
fn damaged(path: &Path) -> Error {
    let crc_ok = |bytes: &[u8], trailer: usize| {
        bytes.len() > trailer
            && crc32fast::hash(&bytes[..bytes.len() - trailer])
                .to_le_bytes()
                .as_slice()
                == &bytes[bytes.len() - 4..]
    };
    let conf = path.join("conf");
    let mut what = None;
    if let Ok(bytes) = std::fs::read(&conf)
        && bytes.len() > 8
        && !crc_ok(&bytes, 4)
    {
        what = Some(format!("its file {}", conf.display()));
    }
    if what.is_none() {
        let mut snaps: Vec<PathBuf> = std::fs::read_dir(path)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("snap."))
            })
            .collect();
        snaps.sort();
        if let Some(newest) = snaps.pop()
            && std::fs::read(&newest).is_ok_and(|b| !crc_ok(&b, 12))
        {
            what = Some(format!("its snapshot {}", newest.display()));
        }
    }
    Error::Damaged {
        dir: path.to_owned(),
        what: what.unwrap_or_else(|| format!("its log {}", path.join("db").display())),
    }
}

/// sled's log segment size for new databases. An open reads the header of every segment, so
/// larger segments than sled's default (512 KiB) make for fewer reads: a store of a million
/// orders has a few hundred segments instead of thousands.
const SEGMENT_SIZE: usize = 8 * 1024 * 1024;
const DEFAULT_SEGMENT_SIZE: usize = 512 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    /// A process killed while sled wrote a snapshot leaves a torn `snap.N.generating`, which
    /// sled reads as its newest snapshot and refuses as corrupt: the store opens anyway, with
    /// everything in it, and a store damaged in another way is still refused.
    #[test]
    fn a_snapshot_torn_by_a_kill_does_not_lose_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_DIR);
        {
            let db = open_sled(dir.path(), DB_DIR, 0).unwrap();
            for i in 0u32..2_000 {
                db.insert(i.to_be_bytes(), vec![7u8; 64]).unwrap();
            }
            db.flush().unwrap();
        }
        let torn = path.join("snap.7FFFFFFFFFFFFFFF.generating");
        std::fs::write(&torn, [1u8, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]).unwrap();
        // sled alone refuses it (once its file lock, let go a moment after the close, is free).
        let refused = loop {
            match sled::Config::new()
                .path(&path)
                .segment_size(SEGMENT_SIZE)
                .open()
            {
                Err(sled::Error::Io(io)) if lock_busy(&io) => {
                    std::thread::sleep(std::time::Duration::from_millis(20))
                }
                other => break other.map(|_| ()).unwrap_err(),
            }
        };
        assert!(
            matches!(refused, sled::Error::Corruption { .. }),
            "{refused:?}"
        );
        let db = open_sled(dir.path(), DB_DIR, 0).unwrap();
        assert!(!torn.exists());
        assert_eq!(db.len(), 2_000);
        assert_eq!(db.get(1999u32.to_be_bytes()).unwrap().unwrap().len(), 64);
        drop(db);
        // A finished snapshot that does not check out is not ours to remove.
        std::thread::sleep(std::time::Duration::from_millis(100));
        let snaps: Vec<_> = std::fs::read_dir(&path)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("snap.")
            })
            .collect();
        assert!(!snaps.is_empty());
        for snap in &snaps {
            std::fs::write(snap, [0u8; 40]).unwrap();
        }
        let err = open_sled(dir.path(), DB_DIR, 0).map(|_| ()).unwrap_err();
        assert!(err.to_string().contains("is damaged"), "{err}");
        assert!(snaps.iter().all(|s| s.exists()));
    }

    #[test]
    fn a_database_made_with_the_default_segment_size_opens_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_DIR);
        {
            let db = sled::Config::new().path(&path).open().unwrap();
            db.insert(b"k", b"v").unwrap();
            db.flush().unwrap();
        }
        let db = open_sled(dir.path(), DB_DIR, 0).unwrap();
        assert_eq!(db.get(b"k").unwrap().as_deref(), Some(&b"v"[..]));
        drop(db);
        let conf = std::fs::read(path.join("conf")).unwrap();
        let text = String::from_utf8_lossy(&conf);
        assert!(text.contains("segment_size: 524288"), "{text}");
        // A new database gets the larger segments.
        drop(open_sled(dir.path(), "new", 0).unwrap());
        let conf = std::fs::read(dir.path().join("new/conf")).unwrap();
        let text = String::from_utf8_lossy(&conf);
        assert!(
            text.contains(&format!("segment_size: {SEGMENT_SIZE}")),
            "{text}"
        );
    }
}
