//! The derived indexes — blind name entries and SKU entries — in a sled database of their own
//! (`index/` in the data directory), opened on first use.
//!
//! Why apart: sled 0.34 loads one page-table entry per tree node when a database opens, and a
//! leaf holds at most 16 entries. The two indexes hold about two thirds of all entries, so with
//! them inside the main database every start (a CLI command, the daemon) paid for loading them,
//! although only imports, name searches and retention use them.
//!
//! How they stay true without a transaction spanning both databases: additions are written and
//! flushed *before* the change of the main store that needs them, removals *after* it commits. A
//! crash in between leaves at most a stale entry, never a missing one, and a stale entry is
//! harmless: a name search keeps only the orders whose sealed slot still lists every key it looked
//! for, and the purge after a change that was cut short sweeps stale entries away (the store
//! marks such changes while they run: `Store::in_steps`).

use crate::store::backend::{Backend, Batch, Tree};
use std::collections::HashSet;
use std::path::Path;
use std::sync::{Mutex, OnceLock};

use super::{Error, index, slot_names};
use crate::domain::Order;

/// Where the derived indexes live inside the data directory.
pub const DIR: &str = "index";

/// The open index database.
#[derive(Clone)]
pub(super) struct Derived {
    db: Backend,
    /// Marks (`COMPLETE`), in the tree where earlier versions kept them (sled's default tree).
    marks: Tree,
    /// Blind-index key ‖ order id → ().
    pub names: Tree,
    /// SKU ‖ NUL ‖ order id → units (u32, big-endian).
    pub sku: Tree,
}

impl Derived {
    fn open(data_dir: &Path, location: &super::Location) -> Result<Self, Error> {
        let db = match location {
            // Beside the main trees, in the same database: every process sees one index.
            super::Location::Postgres(target) => {
                return Self::on(super::backend::Backend::new(
                    super::backend::postgres::Postgres::open(target)?.part(DIR),
                ));
            }
            super::Location::Embedded => Self::open_embedded(data_dir)?,
        };
        Self::on(super::backend(db))
    }

    fn open_embedded(data_dir: &Path) -> Result<sled::Db, Error> {
        Ok(match super::open_sled(data_dir, DIR, 64 * 1024 * 1024) {
            // Everything in it is derived from the main store: a damaged index is removed and
            // built again (the caller finds it incomplete), not a reason to stop the floor.
            Err(Error::Damaged { what, .. }) => {
                tracing::warn!(%what, "the index database is damaged: building it again from the store");
                let dir = data_dir.join(DIR);
                std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
                super::open_sled(data_dir, DIR, 64 * 1024 * 1024)?
            }
            other => other?,
        })
    }

    fn on(db: Backend) -> Result<Self, Error> {
        Ok(Derived {
            names: db.open_tree(super::keys::NAMES.name)?,
            sku: db.open_tree(super::keys::SKU.name)?,
            marks: db.open_tree(super::keys::INDEX_DEFAULT.name)?,
            db,
        })
    }

    pub fn flush(&self) -> Result<(), Error> {
        self.db.flush()?;
        Ok(())
    }

    /// The database itself, for `check` to list its trees.
    pub fn db(&self) -> &Backend {
        &self.db
    }
}

/// The index database, opened by the first caller that needs it.
#[derive(Default)]
pub(super) struct Lazy {
    cell: OnceLock<Derived>,
    opening: Mutex<()>,
}

impl Lazy {
    /// One already open (a second handle on the same store: `Store::share`).
    pub fn with(d: Derived) -> Self {
        let lazy = Lazy::default();
        let _ = lazy.cell.set(d);
        lazy
    }

    /// The open database, opening it (and running `first`) when no one has yet. A failed open is
    /// not remembered: the next caller tries again.
    pub fn get(
        &self,
        data_dir: &Path,
        location: &super::Location,
        first: impl FnOnce(&Derived) -> Result<(), Error>,
    ) -> Result<&Derived, Error> {
        if let Some(d) = self.cell.get() {
            return Ok(d);
        }
        let _one_opener = self.opening.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(d) = self.cell.get() {
            return Ok(d);
        }
        let d = Derived::open(data_dir, location)?;
        first(&d)?;
        Ok(self.cell.get_or_init(|| d))
    }

    /// The database if it is open, leaving this empty.
    pub fn take(&mut self) -> Option<Derived> {
        self.cell.take()
    }

    #[cfg(test)]
    pub fn is_open(&self) -> bool {
        self.cell.get().is_some()
    }

    pub fn flush(&self) -> Result<(), Error> {
        match self.cell.get() {
            Some(d) => d.flush(),
            None => Ok(()),
        }
    }
}

/// Index entries to write around one change of the main store (see the module note for the
/// order they are written in).
#[derive(Default)]
pub(super) struct IndexOps {
    names_add: Vec<Vec<u8>>,
    names_remove: Vec<Vec<u8>>,
    sku_add: Vec<(Vec<u8>, [u8; 4])>,
    sku_remove: Vec<Vec<u8>>,
}

impl IndexOps {
    pub fn add_names<'a>(&mut self, id: &[u8], keys: impl IntoIterator<Item = &'a [u8]>) {
        self.names_add
            .extend(keys.into_iter().map(|k| name_entry(k, id)));
    }

    /// Removes these name entries of one order.
    pub fn remove_keys<'a>(&mut self, id: &[u8], keys: impl IntoIterator<Item = &'a [u8]>) {
        self.names_remove
            .extend(keys.into_iter().map(|k| name_entry(k, id)));
    }

    /// Removes the entries listed in a recipient slot.
    pub fn remove_names(&mut self, id: &[u8], slot_value: &[u8]) {
        self.names_remove
            .extend(slot_names(slot_value).map(|k| name_entry(k, id)));
    }

    pub fn add_lines(&mut self, order: &Order) {
        let id = order.id.as_str();
        for (sku, units) in units_by_sku(order) {
            self.sku_add.push((sku_key(sku, id), units.to_be_bytes()));
        }
    }

    pub fn remove_lines(&mut self, order: &Order) {
        let id = order.id.as_str();
        self.sku_remove
            .extend(order.lines.iter().map(|l| sku_key(&l.sku, id)));
    }

    /// The SKU entries of an order whose lines may have changed: none when they did not.
    pub fn change_lines(&mut self, old: &Order, new: &Order) {
        if units_by_sku(old) != units_by_sku(new) {
            self.remove_lines(old);
            self.add_lines(new);
        }
    }

    /// Writes the additions and makes them durable: call before the change of the main store.
    pub fn write_additions(&self, d: &Derived) -> Result<(), Error> {
        if self.names_add.is_empty() && self.sku_add.is_empty() {
            return Ok(());
        }
        let mut names = Batch::default();
        for k in &self.names_add {
            names.insert(k.as_slice(), []);
        }
        let mut sku = Batch::default();
        for (k, v) in &self.sku_add {
            sku.insert(k.as_slice(), v);
        }
        d.names.apply_batch(names)?;
        d.sku.apply_batch(sku)?;
        d.flush()
    }

    /// Writes the removals that are not also additions (a re-sealed name in the same epoch keeps
    /// its entries): call after the change of the main store has committed.
    pub fn write_removals(&self, d: &Derived) -> Result<(), Error> {
        fn batch<'a>(remove: &'a [Vec<u8>], keep: &HashSet<&'a [u8]>) -> Option<Batch> {
            let mut b = Batch::default();
            let mut any = false;
            for k in remove.iter().filter(|k| !keep.contains(k.as_slice())) {
                b.remove(k.as_slice());
                any = true;
            }
            any.then_some(b)
        }
        let names_kept: HashSet<&[u8]> = self.names_add.iter().map(Vec::as_slice).collect();
        let sku_kept: HashSet<&[u8]> = self.sku_add.iter().map(|(k, _)| k.as_slice()).collect();
        if let Some(b) = batch(&self.names_remove, &names_kept) {
            d.names.apply_batch(b)?;
        }
        if let Some(b) = batch(&self.sku_remove, &sku_kept) {
            d.sku.apply_batch(b)?;
        }
        Ok(())
    }
}

/// A name index entry: the blind-index key, then the order id.
fn name_entry(name: &[u8], id: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(name.len() + id.len());
    k.extend_from_slice(name);
    k.extend_from_slice(id);
    k
}

/// The order id in a name index entry.
pub(super) fn name_entry_id(entry: &[u8]) -> &[u8] {
    entry.get(index::NAME_KEY_LEN..).unwrap_or_default()
}

/// Units per SKU in an order: two lines of one SKU make one index entry with their sum.
fn units_by_sku(order: &Order) -> std::collections::BTreeMap<&str, u32> {
    let mut m = std::collections::BTreeMap::new();
    for l in &order.lines {
        let n: &mut u32 = m.entry(l.sku.as_str()).or_default();
        *n = n.saturating_add(l.quantity_ordered);
    }
    m
}

pub(super) fn sku_key(sku: &str, id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(sku.len() + 1 + id.len());
    k.extend_from_slice(sku.as_bytes());
    k.push(0);
    k.extend_from_slice(id.as_bytes());
    k
}

/// The order id in a SKU key (SKUs never hold a NUL; the parser refuses them).
pub(super) fn sku_id(key: &[u8]) -> &[u8] {
    key.iter()
        .position(|b| *b == 0)
        .map_or(&[][..], |i| &key[i + 1..])
}

/// The mark an index database carries once it holds every entry the main store implies.
const COMPLETE: &[u8] = super::keys::index::COMPLETE.as_bytes();

impl Derived {
    /// How many entries the main store implies that this database lacks: a name entry for each
    /// key listed in a sealed slot, a SKU entry for each SKU of an order. No secret is needed.
    pub fn missing(&self, orders: &Tree, recipients: &Tree) -> Result<u64, Error> {
        let mut missing = 0u64;
        for kv in orders.iter() {
            let (_, v) = kv?;
            let Ok(rec) = super::decode_record(&v) else {
                continue;
            };
            let id = rec.order.id.as_str();
            for sku in units_by_sku(&rec.order).keys() {
                missing += u64::from(!self.sku.contains_key(sku_key(sku, id))?);
            }
        }
        for kv in recipients.iter() {
            let (id, v) = kv?;
            for k in slot_names(&v) {
                missing += u64::from(!self.names.contains_key(name_entry(k, &id))?);
            }
        }
        Ok(missing)
    }

    /// Whether this database was built whole (rather than created just now, or cut short).
    pub fn is_complete(&self) -> Result<bool, Error> {
        self.marks.contains_key(COMPLETE)
    }

    /// Rebuilds both indexes from the main store — SKU entries from the order records, name
    /// entries from the keys listed in each sealed slot, so no secret is needed — then marks the
    /// database complete. Index trees an earlier version kept inside the main database are
    /// dropped after.
    pub fn rebuild(&self, main: &Backend, orders: &Tree, recipients: &Tree) -> Result<(), Error> {
        const CHUNK: usize = 10_000;
        self.names.clear()?;
        self.sku.clear()?;
        let mut ops = IndexOps::default();
        let mut n = 0usize;
        for kv in orders.iter() {
            let (_, v) = kv?;
            ops.add_lines(&super::decode_record(&v)?.order);
            n += 1;
            if n.is_multiple_of(CHUNK) {
                std::mem::take(&mut ops).write_additions(self)?;
            }
        }
        for kv in recipients.iter() {
            let (id, v) = kv?;
            ops.add_names(&id, slot_names(&v));
            n += 1;
            if n.is_multiple_of(CHUNK) {
                std::mem::take(&mut ops).write_additions(self)?;
            }
        }
        ops.write_additions(self)?;
        self.marks.insert(COMPLETE, [])?;
        self.flush()?;
        for legacy in [&super::keys::LEGACY_NAMES, &super::keys::LEGACY_SKU] {
            if main.tree_names()?.iter().any(|t| t == legacy.name) {
                main.drop_tree(legacy.name)?;
            }
        }
        main.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Duration, Utc};

    use super::*;
    use crate::domain::Recipient;
    use crate::domain::import::{FulfillmentStatus, ImportedOrder};
    use crate::domain::order::tests_support::order_with;
    use crate::store::{MasterSource, RetentionPolicy, Store};

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
            .unwrap()
            .into()
    }

    fn site() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let key = MasterSource::IdentityFile(dir.path().join("master.key"));
        Store::init_keys(&data, &key, "lead", now()).unwrap();
        let mut store = Store::open(&data).unwrap();
        store.unlock(&key).unwrap();
        (dir, store)
    }

    /// A store holding order A for Alice Smith, `mugs` MUG units; its index closed until that
    /// import needed it.
    fn site_with_alice(mugs: u32) -> (tempfile::TempDir, Store) {
        let (dir, mut store) = site();
        assert!(
            !store.index_is_open(),
            "opening the store left the index closed"
        );
        store
            .import(
                vec![order(A, "Alice Smith", &[("MUG", mugs)], 0)],
                "lead",
                now(),
            )
            .unwrap();
        (dir, store)
    }

    /// An unshipped order for `name`, its copy at Amazon last changed `minutes` after `now()`.
    fn order(id: &str, name: &str, skus: &[(&str, u32)], minutes: i64) -> ImportedOrder {
        let mut order = order_with(id, skus);
        order.updated = now() + Duration::minutes(minutes);
        let mut recipient = Recipient::default();
        recipient.name = name.to_owned();
        ImportedOrder {
            order,
            status: FulfillmentStatus::Unshipped,
            fulfilled_by_merchant: true,
            buyer_cancel_requested: false,
            recipient: Some(recipient),
        }
    }

    fn found(store: &mut Store, name: &str) -> Vec<String> {
        store
            .lookup_name(name, "lead", now())
            .unwrap()
            .into_iter()
            .map(|id| id.as_str().to_owned())
            .collect()
    }

    /// The index entries kept for one order: (name entries, SKU entries with their units).
    fn entries(store: &Store, id: &str) -> (usize, Vec<(String, u32)>) {
        let d = store.derived().unwrap();
        let names = d
            .names
            .iter()
            .keys()
            .filter(|k| name_entry_id(k.as_ref().unwrap()) == id.as_bytes())
            .count();
        let sku = d
            .sku
            .iter()
            .map(Result::unwrap)
            .filter(|(k, _)| sku_id(k) == id.as_bytes())
            .map(|(k, v)| {
                let sku = String::from_utf8(k[..k.len() - id.len() - 1].to_vec()).unwrap();
                (sku, u32::from_be_bytes(v.as_ref().try_into().unwrap()))
            })
            .collect();
        (names, sku)
    }

    const A: &str = "902-0000001-0000001";

    #[test]
    fn the_index_opens_on_first_use_and_follows_changes() {
        let (_dir, mut store) = site_with_alice(2);
        assert!(store.index_is_open());
        assert_eq!(entries(&store, A), (2, vec![("MUG".into(), 2)]));
        assert_eq!(found(&mut store, "alice SMITH"), [A]);
        // Amazon changes the address and the lines: the old entries go, the new ones come.
        store
            .import(
                vec![order(A, "Alice Jones", &[("MUG", 1), ("CAP", 1)], 5)],
                "lead",
                now(),
            )
            .unwrap();
        assert_eq!(
            entries(&store, A),
            (2, vec![("CAP".into(), 1), ("MUG".into(), 1)])
        );
        assert!(found(&mut store, "Alice Smith").is_empty());
        assert_eq!(found(&mut store, "Jones"), [A]);
        // A state change alone touches neither index.
        store
            .transition(
                &crate::domain::OrderId::parse(A).unwrap(),
                crate::domain::Event::Cancel,
                "lead",
                None,
                now(),
            )
            .unwrap();
        assert_eq!(
            entries(&store, A),
            (2, vec![("CAP".into(), 1), ("MUG".into(), 1)])
        );
    }

    #[test]
    fn entries_a_crash_left_stale_never_match_and_retention_sweeps_them() {
        let (_dir, mut store) = site_with_alice(1);
        // What a crash after writing the additions of a change that never committed leaves: an
        // entry for a name the order does not have, and one for a SKU it does not hold.
        let (epoch, _) = store.keyring.current_epoch(now()).unwrap();
        let key = *store.keyring.index_key(epoch).unwrap();
        let bob = index::name_keys(&key, "Bob Jones");
        let mut ops = IndexOps::default();
        ops.add_names(A.as_bytes(), bob.iter().map(|k| &k[..]));
        ops.add_lines(&order_with(A, &[("HAT", 3)]));
        ops.write_additions(store.derived().unwrap()).unwrap();
        assert!(found(&mut store, "Bob Jones").is_empty());
        assert_eq!(found(&mut store, "Alice"), [A]);
        // Changes that finished leave no mark, and a purge then reads no further than it must.
        assert!(!store.unsettled().unwrap());
        let r = store
            .purge(RetentionPolicy::default(), now(), "lead", now())
            .unwrap();
        assert_eq!(r.orphans_removed, 0, "{r:?}");
        // The crashed change left its mark: the next purge sweeps.
        store
            .t
            .meta
            .insert(super::super::META_UNSETTLED, [])
            .unwrap();
        let r = store
            .purge(RetentionPolicy::default(), now(), "lead", now())
            .unwrap();
        assert_eq!(r.orphans_removed, 3, "{r:?}");
        assert!(!store.unsettled().unwrap());
        assert_eq!(entries(&store, A), (2, vec![("MUG".into(), 1)]));
    }

    #[test]
    fn names_indexed_with_their_accents_are_indexed_again_at_the_next_unlock() {
        let (dir, mut store) = site();
        store
            .import(
                vec![order(A, "Björn Müller", &[("MUG", 1)], 0)],
                "lead",
                now(),
            )
            .unwrap();
        assert_eq!(found(&mut store, "bjorn"), [A]);
        assert_eq!(found(&mut store, "MULLER BJÖRN"), [A]);
        // As an earlier packline left it: the words indexed with their accents, no mark.
        let (epoch, _) = store.keyring.current_epoch(now()).unwrap();
        let key = *store.keyring.index_key(epoch).unwrap();
        let old = index::keys_of(&key, &crate::domain::text::fold("Björn Müller"));
        let value = store.t.recipients.get(A).unwrap().unwrap();
        let mut ops = IndexOps::default();
        ops.remove_names(A.as_bytes(), &value);
        ops.write_removals(store.derived().unwrap()).unwrap();
        let mut ops = IndexOps::default();
        ops.add_names(A.as_bytes(), old.iter().map(|k| &k[..]));
        ops.write_additions(store.derived().unwrap()).unwrap();
        let envelope = super::super::slot_envelope(&value).to_vec();
        store
            .t
            .recipients
            .insert(A, super::super::slot(&envelope, &old))
            .unwrap();
        store
            .t
            .meta
            .remove(super::super::keys::meta::SEARCH_FOLD)
            .unwrap();
        assert!(found(&mut store, "bjorn").is_empty(), "the older form");
        assert_eq!(found(&mut store, "björn"), Vec::<String>::new());
        drop(store);
        // Opened again: every name waits to be indexed anew, which the next unlock does.
        let data = dir.path().join("data");
        let mut store = Store::open(&data).unwrap();
        assert_eq!(store.t.pending_index.len(), 1);
        store
            .unlock(&MasterSource::IdentityFile(dir.path().join("master.key")))
            .unwrap();
        assert_eq!(found(&mut store, "Bjorn Muller"), [A]);
        assert_eq!(found(&mut store, "Björn"), [A]);
        assert!(store.t.pending_index.is_empty());
        // The entries of the older form are gone: two words, two entries.
        assert_eq!(entries(&store, A).0, 2);
        drop(store);
        // Marked: the next open puts nothing on the waiting list.
        let store = Store::open(&data).unwrap();
        assert!(store.t.pending_index.is_empty());
    }

    #[test]
    fn a_missing_index_is_rebuilt_from_the_main_store() {
        let (dir, store) = site_with_alice(1);
        let data = dir.path().join("data");
        drop(store);
        // The index database is lost; an earlier version's index tree sits in the main one.
        std::fs::remove_dir_all(data.join(DIR)).unwrap();
        {
            let db = super::super::open_db(&data).unwrap();
            db.open_tree("names")
                .unwrap()
                .insert(b"stale", b"")
                .unwrap();
            db.flush().unwrap();
        }
        let mut store = Store::open(&data).unwrap();
        store
            .unlock(&MasterSource::IdentityFile(dir.path().join("master.key")))
            .unwrap();
        assert_eq!(found(&mut store, "Smith"), [A]);
        assert_eq!(entries(&store, A), (2, vec![("MUG".into(), 1)]));
        assert!(store.derived().unwrap().is_complete().unwrap());
        let trees = store.db.tree_names().unwrap();
        assert!(!trees.iter().any(|t| t == "names"));
    }
}
