//! The sealed order store: trees for orders and their queue index, recipients sealed with `age`
//! under key epochs, customer inquiries with their sealed notes, returns, the blind name index and
//! the SKU index (in a second database, `derived`), retention and the audit log. Its code speaks
//! to the storage seam (`backend`), never to an engine; sled is the embedded one. Every tree and
//! key is declared in `keys`, every value is a frozen record (`records`).
//!
//! This module owns every byte packline keeps on disk. It must never write a recipient (or an
//! inquiry's note, or a person's typed words: exception notes, hold, reveal and void reasons,
//! see `notes`) in the clear, and every operation that changes it reads, decides and writes in
//! one transaction that appends its audit entry, flushed before the call returns (docs/store.md).
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
pub mod elsewhere;
mod error;
pub mod floor;
pub mod index;
pub mod inquiry;
mod intake;
pub mod keys;
pub mod lease;
mod lifecycle;
mod location;
pub mod migrate;
pub mod notes;
mod notes_upgrade;
mod open;
pub mod queue;
mod recipients;
pub mod records;
pub mod refusal;
pub mod retention;
pub mod returns;
pub mod seal;
mod set_aside;
pub mod shipping;
pub mod sites;
mod sku_codes;
pub mod space;
pub mod stats;
mod sync_resume;
mod values;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use backend::embedded::open_sled;
use backend::{Backend, Bytes, Tree, TxError, TxTree};
use chrono::{DateTime, Utc};

pub use crate::domain::RetentionPolicy;
/// Counts of import outcomes (`domain::import`), re-exported for callers.
pub use crate::domain::import::ImportCounts;
use crate::domain::{OrderId, OrderRecord, OrderState};
pub use error::{Error, RecordKind};
use lifecycle::{exception_step, step};
pub use location::{Location, raw_db};
use location::{backend, create_data_dir, interrupted_init, open_db, private_dir};
pub use notes::ExceptionNote;
use refusal::OpenRefusal;
pub use refusal::Refusal;
pub use retention::PurgeReport;
pub use seal::{Keyring, MasterSource, Protection};

type TxResult<T> = Result<T, TxError>;

use backend::abort;

/// The sled trees. Amazon-sourced data lives under `amazon/`. The name and SKU indexes live in a
/// database of their own (`derived`).
#[derive(Clone)]
struct Trees {
    orders: Tree,
    recipients: Tree,
    queue: Tree,
    epochs: Tree,
    pending_index: Tree,
    exceptions: Tree,
    audit: Tree,
    meta: Tree,
    /// Work in progress on the floor: claims, pick batches, pack checks, parcels.
    floor: Tree,
    /// Customer inquiries and their sealed notes (`inquiry`).
    inquiries: Tree,
    /// Returns: records without personal data (`returns`).
    returns: Tree,
    /// People's words, sealed: exception notes, hold, reveal and void reasons (`notes`).
    texts: Tree,
}

impl Trees {
    fn open(db: &Backend) -> Result<Self, Error> {
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
    orders: &'a TxTree<'a>,
    recipients: &'a TxTree<'a>,
    queue: &'a TxTree<'a>,
    epochs: &'a TxTree<'a>,
    pending_index: &'a TxTree<'a>,
    exceptions: &'a TxTree<'a>,
    audit: &'a TxTree<'a>,
    meta: &'a TxTree<'a>,
    floor: &'a TxTree<'a>,
    inquiries: &'a TxTree<'a>,
    returns: &'a TxTree<'a>,
    texts: &'a TxTree<'a>,
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
    db: Backend,
    location: Location,
    t: Trees,
    /// The Amazon account's own keys, shared by every site on the database: `t.meta` itself
    /// on sled and for the site `main`.
    account: Account,
    /// The name and SKU indexes, opened on first use.
    derived: derived::Lazy,
    /// How many changes of several steps are under way (they nest: a purge re-seals).
    steps: usize,
    /// The batches this handle's scans last wrote (`floor::Scanned`).
    scanned: floor::Scanned,
    keyring: Keyring,
    data_dir: PathBuf,
}

/// The Amazon account's `meta` tree and its database (for its transactions).
#[derive(Clone)]
struct Account {
    db: Backend,
    meta: Tree,
    /// Whether it is the site's own `meta` (on sled, and for the site `main`).
    own: bool,
}

impl Account {
    fn is_meta(&self) -> bool {
        self.own
    }
}

/// Where sled keeps its files inside the data directory.
pub const DB_DIR: &str = "db";

impl Store {
    /// The data directory of this store.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Where this store's records live.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// Tells the other processes on this store's database that something changed.
    pub fn announce_change(&self) -> Result<(), Error> {
        self.db.announce()
    }

    /// Calls `changed` whenever another process announces a change to this store.
    pub fn watch_changes(&self, changed: Arc<dyn Fn() + Send + Sync>) -> Result<(), Error> {
        self.db.watch(changed)
    }

    /// Closes and reopens the database, keeping the keyring (and its unlock). sled records its
    /// recovery snapshot only when a database is opened, and replays every log entry written
    /// since then at the next open; after a bulk import this moves that replay from the next
    /// start (a packer waiting) to now.
    pub fn checkpoint(self) -> Result<Self, Error> {
        if let Location::Postgres(_) = self.location {
            // PostgreSQL replays nothing of ours at the next start.
            return Ok(self);
        }
        let Store {
            db,
            location,
            t,
            account,
            mut derived,
            steps,
            scanned,
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
        // Every handle on the database goes before it is opened again (sled locks its files).
        drop(account);
        drop(t);
        db.flush()?;
        drop(db);
        // The first open writes the snapshot but also starts a new log segment; the second open
        // snapshots that too, so the next open finds nothing to replay and nothing to write.
        drop(open_db(&data_dir)?);
        let db = backend(open_db(&data_dir)?);
        let t = Trees::open(&db)?;
        keyring.bind_pins(t.meta.clone())?;
        Ok(Store {
            account: Account {
                db: db.clone(),
                meta: t.meta.clone(),
                own: true,
            },
            db,
            location,
            t,
            derived,
            steps,
            scanned,
            keyring,
            data_dir,
        })
    }

    /// The name and SKU index database, opened on first use, and rebuilt from the main store
    /// when it is new, was cut short while being built, or was removed.
    fn derived(&self) -> Result<&derived::Derived, Error> {
        self.derived.get(&self.data_dir, &self.location, |d| {
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
            self.t.meta.insert(META_UNSETTLED, [])?;
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
        self.t.meta.contains_key(META_UNSETTLED)
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

    /// A transaction over the `floor` tree alone, for the floor's frequent changes that touch
    /// nothing else (a pick scan): as safe as `transact` (every transaction is serializable
    /// against every other), without making a view of every tree for each scan.
    fn transact_floor<R>(&self, f: impl Fn(&TxTree<'_>) -> TxResult<R>) -> Result<R, Error> {
        self.db.transact(&[&self.t.floor], |v| f(&v[0]))
    }

    fn transact<R>(&self, f: impl Fn(&Tx<'_>) -> TxResult<R>) -> Result<R, Error> {
        let t = &self.t;
        self.db.transact(
            &[
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
            ],
            |v| {
                f(&Tx {
                    orders: &v[0],
                    recipients: &v[1],
                    queue: &v[2],
                    epochs: &v[3],
                    pending_index: &v[4],
                    exceptions: &v[5],
                    audit: &v[6],
                    meta: &v[7],
                    floor: &v[8],
                    inquiries: &v[9],
                    returns: &v[10],
                    texts: &v[11],
                })
            },
        )
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
    /// `queue_entry` for several keys, read at once.
    fn queue_entries(&self, keys: &[Bytes]) -> Result<Vec<Option<OrderRecord>>, Error> {
        let ids: Vec<&[u8]> = keys.iter().map(|k| queue_id(k)).collect();
        let values = self.t.orders.get_many(&ids)?;
        keys.iter()
            .zip(values)
            .map(|(key, v)| match v {
                Some(v) => {
                    let rec = decode_record(&v)?;
                    Ok((queue_key(&rec) == **key).then_some(rec))
                }
                None => Ok(None),
            })
            .collect()
    }

    fn queue_entry(&self, key: &[u8]) -> Result<Option<OrderRecord>, Error> {
        match self.t.orders.get(queue_id(key))? {
            Some(v) => {
                let rec = decode_record(&v)?;
                Ok((queue_key(&rec) == key).then_some(rec))
            }
            None => Ok(None),
        }
    }

    /// A time kept for the Amazon account (for example the sync watermark).
    pub fn meta_time(&self, key: &str) -> Result<Option<DateTime<Utc>>, Error> {
        Ok(self
            .meta_text(key)?
            .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
            .map(Into::into))
    }

    pub fn set_meta_time(&self, key: &str, t: DateTime<Utc>) -> Result<(), Error> {
        self.set_meta_text(key, &t.to_rfc3339())
    }

    /// A short text kept for the Amazon account (never personal data): in the account's
    /// `meta`, which every site on a shared database shares.
    pub fn meta_text(&self, key: &str) -> Result<Option<String>, Error> {
        Ok(self
            .account
            .meta
            .get(key)?
            .and_then(|v| std::str::from_utf8(&v).ok().map(str::to_owned)))
    }

    pub fn set_meta_text(&self, key: &str, value: &str) -> Result<(), Error> {
        self.account.meta.insert(key, value.as_bytes())?;
        self.account.meta.flush()
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

    /// The audit entries after `after` that match, oldest first (see [`audit::page`]).
    pub fn audit_page(
        &self,
        filter: &audit::Filter,
        after: u64,
        limit: usize,
    ) -> Result<audit::Page, Error> {
        audit::page(&self.t.audit, filter, after, limit)
    }
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
    tx.queue.insert(queue_key(rec), [])?;
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

/// What the store's own unit tests start from.
#[cfg(test)]
pub(crate) mod test_support;
