//! The storage seam: what the store asks of an engine. Named trees of ordered byte keys, reads,
//! writes, range scans, batches, transactions over several trees that an engine runs again on a
//! conflict, a flush and a size. sled (`embedded`) is the engine of a single site; a second engine
//! implements `Engine`, `Table` and `TxTable` and passes the same conformance tests
//! (`conformance`), which every engine runs.
//!
//! The store speaks only to `Backend`, `Tree` and `TxTree`: the traits behind them are kept small
//! so that each engine has little to write, and everything built from those few calls (prefix
//! scans, first and last keys, typed keys) is written once, here.

#[cfg(test)]
pub mod conformance;
pub mod embedded;
pub mod postgres;

use std::ops::{Bound, Deref, RangeBounds};
use std::sync::Arc;

use super::Error;
use crate::store::refusal::EngineRefusal;

/// Bytes read from a tree: shared with the engine's cache where it has one, owned otherwise.
#[derive(Clone)]
pub struct Bytes(Repr);

#[derive(Clone)]
enum Repr {
    Sled(sled::IVec),
    Owned(Arc<[u8]>),
}

impl Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match &self.0 {
            Repr::Sled(v) => v,
            Repr::Owned(v) => v,
        }
    }
}

impl AsRef<[u8]> for Bytes {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl PartialEq for Bytes {
    fn eq(&self, other: &Bytes) -> bool {
        **self == **other
    }
}

impl Eq for Bytes {}

impl PartialOrd for Bytes {
    fn partial_cmp(&self, other: &Bytes) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Bytes {
    fn cmp(&self, other: &Bytes) -> std::cmp::Ordering {
        (**self).cmp(&**other)
    }
}

impl std::hash::Hash for Bytes {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (**self).hash(state)
    }
}

/// Stored values may be sealed envelopes: only their length is shown.
impl std::fmt::Debug for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Bytes({} bytes)", self.len())
    }
}

impl From<Vec<u8>> for Bytes {
    fn from(v: Vec<u8>) -> Bytes {
        Bytes(Repr::Owned(v.into()))
    }
}

impl From<&[u8]> for Bytes {
    fn from(v: &[u8]) -> Bytes {
        Bytes(Repr::Owned(v.into()))
    }
}

impl From<sled::IVec> for Bytes {
    fn from(v: sled::IVec) -> Bytes {
        Bytes(Repr::Sled(v))
    }
}

/// A key and its value.
pub type Pair = (Bytes, Bytes);

/// Pairs in key order (or reversed), each read as the scan reaches it.
pub struct Pairs(Box<dyn DoubleEndedIterator<Item = Result<Pair, Error>> + Send>);

impl Pairs {
    pub fn new(
        pairs: impl DoubleEndedIterator<Item = Result<Pair, Error>> + Send + 'static,
    ) -> Pairs {
        Pairs(Box::new(pairs))
    }

    /// The keys alone.
    pub fn keys(self) -> impl DoubleEndedIterator<Item = Result<Bytes, Error>> + Send {
        self.map(|p| p.map(|(k, _)| k))
    }

    /// The values alone.
    pub fn values(self) -> impl DoubleEndedIterator<Item = Result<Bytes, Error>> + Send {
        self.map(|p| p.map(|(_, v)| v))
    }
}

impl Iterator for Pairs {
    type Item = Result<Pair, Error>;
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next()
    }
}

impl DoubleEndedIterator for Pairs {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back()
    }
}

/// Writes applied together, atomically, to one tree.
#[derive(Default)]
pub struct Batch {
    pub(crate) ops: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

impl Batch {
    pub fn insert(&mut self, key: impl AsRef<[u8]>, value: impl Into<Vec<u8>>) {
        self.ops.push((key.as_ref().to_vec(), Some(value.into())));
    }

    pub fn remove(&mut self, key: impl AsRef<[u8]>) {
        self.ops.push((key.as_ref().to_vec(), None));
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// What one engine's database offers the store.
pub trait Engine: Send + Sync {
    /// The tree of that name, created empty when missing.
    fn open_tree(&self, name: &str) -> Result<Arc<dyn Table>, Error>;
    /// The names of the trees that hold or held something, the engine's own included.
    fn tree_names(&self) -> Result<Vec<String>, Error>;
    /// Removes a tree and all it holds; whether it was there.
    fn drop_tree(&self, name: &str) -> Result<bool, Error>;
    /// Makes every write before it durable.
    fn flush(&self) -> Result<(), Error>;
    /// Bytes the database takes on its medium.
    fn size_on_disk(&self) -> Result<u64, Error>;
    /// A number never handed out before by this database, kept across restarts (not in order:
    /// an engine may skip numbers after a crash).
    fn generate_id(&self) -> Result<u64, Error>;
    /// Runs `f` over `trees` (all of this engine) as one serializable transaction: its writes
    /// are applied together or not at all, and it is run again from the start on a conflict
    /// with another writer (so `f` must only read and write through the views it is given).
    /// Durable after the next `flush`.
    fn transact(&self, trees: &[&Tree], f: &mut TxBody<'_>) -> Result<(), TxError>;
    /// Tells the other processes on this database that something changed (nothing to do on
    /// an engine only one process opens).
    fn announce(&self) -> Result<(), Error> {
        Ok(())
    }
    /// Calls `changed` whenever another process announces a change, from now until the
    /// process ends (never, on an engine only one process opens).
    fn watch(&self, changed: Arc<dyn Fn() + Send + Sync>) -> Result<(), Error> {
        let _ = changed;
        Ok(())
    }
}

/// The body of a transaction, as an engine runs it: over one view per tree asked for.
pub type TxBody<'f> = dyn FnMut(&[&dyn TxTable]) -> Result<(), TxError> + 'f;

/// One tree of ordered keys.
pub trait Table: Send + Sync {
    fn name(&self) -> &str;
    fn get(&self, key: &[u8]) -> Result<Option<Bytes>, Error>;
    /// The values of several keys, in their order: one request on an engine where each costs a
    /// round trip.
    fn get_many(&self, keys: &[&[u8]]) -> Result<Vec<Option<Bytes>>, Error> {
        keys.iter().map(|k| self.get(k)).collect()
    }
    /// The first `limit` keys under each prefix, in key order: one request on an engine where
    /// each costs a round trip (the heads of a queue page's states).
    fn first_keys(&self, prefixes: &[&[u8]], limit: usize) -> Result<Vec<Vec<Bytes>>, Error> {
        prefixes
            .iter()
            .map(|p| keys_under(self, p, limit))
            .collect()
    }
    /// Writes `value` under `key`; the value it replaced.
    fn insert(&self, key: &[u8], value: &[u8]) -> Result<Option<Bytes>, Error>;
    /// The value it removed.
    fn remove(&self, key: &[u8]) -> Result<Option<Bytes>, Error>;
    /// Writes `new` (or removes, when none) under `key` only if its value is still `old`
    /// (none: absent), atomically; whether it did. Like every write, durable once flushed, and
    /// no sooner: the store keeps progress a crash may lose this way (a pick scan), and an
    /// engine whose other writes are durable at once need not make this one so (PostgreSQL
    /// commits it without waiting for the disk).
    fn compare_and_swap(
        &self,
        key: &[u8],
        old: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<bool, Error>;
    /// The pairs whose keys lie between the bounds, in key order.
    fn range(&self, from: Bound<&[u8]>, to: Bound<&[u8]>) -> Pairs;
    /// How many keys it holds (a full count: not for hot paths).
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.range(Bound::Unbounded, Bound::Unbounded)
            .next()
            .is_none()
    }
    fn apply(&self, batch: Batch) -> Result<(), Error>;
    /// Removes every key.
    fn clear(&self) -> Result<(), Error>;
    /// Makes every write to this tree durable.
    fn flush(&self) -> Result<(), Error>;
    /// For the engine that made it, to find its own tree in a transaction.
    fn as_any(&self) -> &dyn std::any::Any;
}

/// One tree inside a transaction: reads see the transaction's own writes. `insert` and
/// `remove` answer nothing, so an engine may send them with the next read or the commit;
/// `replace` and `take` answer the value that was there.
pub trait TxTable {
    fn get(&self, key: &[u8]) -> Result<Option<Bytes>, TxError>;
    fn insert(&self, key: &[u8], value: &[u8]) -> Result<(), TxError>;
    fn remove(&self, key: &[u8]) -> Result<(), TxError>;
    /// Writes `value` under `key`; the value it replaced.
    fn replace(&self, key: &[u8], value: &[u8]) -> Result<Option<Bytes>, TxError>;
    /// Removes `key`; the value it had.
    fn take(&self, key: &[u8]) -> Result<Option<Bytes>, TxError>;
}

/// How a transaction ends other than by committing.
pub enum TxError {
    /// Another writer touched what it read: the engine runs it again (never seen outside).
    Conflict,
    /// The engine failed.
    Storage(Error),
    /// The transaction refused the change: nothing of it is written.
    Abort(Error),
}

impl From<Error> for TxError {
    fn from(e: Error) -> TxError {
        TxError::Storage(e)
    }
}

impl TxError {
    /// The store's error, however the transaction ended.
    pub fn into_error(self) -> Error {
        match self {
            TxError::Storage(e) | TxError::Abort(e) => e,
            TxError::Conflict => EngineRefusal::Conflicted.into(),
        }
    }
}

/// A database of named trees on one engine.
#[derive(Clone)]
pub struct Backend(Arc<dyn Engine>);

impl Backend {
    pub fn new(engine: impl Engine + 'static) -> Backend {
        Backend(Arc::new(engine))
    }

    pub fn open_tree(&self, name: &str) -> Result<Tree, Error> {
        Ok(Tree(self.0.open_tree(name)?))
    }

    pub fn tree_names(&self) -> Result<Vec<String>, Error> {
        self.0.tree_names()
    }

    pub fn drop_tree(&self, name: &str) -> Result<bool, Error> {
        self.0.drop_tree(name)
    }

    pub fn flush(&self) -> Result<(), Error> {
        self.0.flush()
    }

    pub fn size_on_disk(&self) -> Result<u64, Error> {
        self.0.size_on_disk()
    }

    pub fn generate_id(&self) -> Result<u64, Error> {
        self.0.generate_id()
    }

    /// See `Engine::announce`.
    pub fn announce(&self) -> Result<(), Error> {
        self.0.announce()
    }

    /// See `Engine::watch`.
    pub fn watch(&self, changed: Arc<dyn Fn() + Send + Sync>) -> Result<(), Error> {
        self.0.watch(changed)
    }

    /// Runs `f` over `trees` as one transaction (see `Engine::transact`): what it returns, or
    /// the error it aborted with.
    pub fn transact<R>(
        &self,
        trees: &[&Tree],
        f: impl Fn(&[TxTree<'_>]) -> Result<R, TxError>,
    ) -> Result<R, Error> {
        let mut out = None;
        let mut run = |views: &[&dyn TxTable]| {
            let views: Vec<TxTree<'_>> = views.iter().map(|v| TxTree(*v)).collect();
            out = Some(f(&views)?);
            Ok(())
        };
        self.0
            .transact(trees, &mut run)
            .map_err(TxError::into_error)?;
        out.ok_or_else(|| EngineRefusal::NoAnswer.into())
    }
}

/// One tree of a backend, with the calls the store makes built on the engine's few.
#[derive(Clone)]
pub struct Tree(Arc<dyn Table>);

impl Tree {
    pub fn name(&self) -> &str {
        self.0.name()
    }

    pub(crate) fn table(&self) -> &dyn Table {
        &*self.0
    }

    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>, Error> {
        self.0.get(key.as_ref())
    }

    /// The values of `keys`, in their order.
    pub fn get_many<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Option<Bytes>>, Error> {
        let keys: Vec<&[u8]> = keys.iter().map(AsRef::as_ref).collect();
        self.0.get_many(&keys)
    }

    /// The first `limit` keys under each prefix, in key order, read together.
    pub fn first_keys(&self, prefixes: &[&[u8]], limit: usize) -> Result<Vec<Vec<Bytes>>, Error> {
        self.0.first_keys(prefixes, limit)
    }

    pub fn contains_key(&self, key: impl AsRef<[u8]>) -> Result<bool, Error> {
        Ok(self.get(key)?.is_some())
    }

    pub fn insert(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
    ) -> Result<Option<Bytes>, Error> {
        self.0.insert(key.as_ref(), value.as_ref())
    }

    pub fn remove(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>, Error> {
        self.0.remove(key.as_ref())
    }

    /// Writes `new` (or removes, when none) only if the value is still `old` (none: absent):
    /// a change decided on one key's value, kept only if nothing changed that value meanwhile.
    /// Whether it was written. Durable once flushed ([`Table::compare_and_swap`]).
    pub fn compare_and_swap(
        &self,
        key: impl AsRef<[u8]>,
        old: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<bool, Error> {
        self.0.compare_and_swap(key.as_ref(), old, new)
    }

    pub fn apply_batch(&self, batch: Batch) -> Result<(), Error> {
        if batch.is_empty() {
            return Ok(());
        }
        self.0.apply(batch)
    }

    pub fn clear(&self) -> Result<(), Error> {
        self.0.clear()
    }

    pub fn flush(&self) -> Result<(), Error> {
        self.0.flush()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every pair, in key order.
    pub fn iter(&self) -> Pairs {
        self.0.range(Bound::Unbounded, Bound::Unbounded)
    }

    pub fn range<K: AsRef<[u8]>>(&self, range: impl RangeBounds<K>) -> Pairs {
        fn bound<K: AsRef<[u8]>>(b: Bound<&K>) -> Bound<&[u8]> {
            match b {
                Bound::Included(k) => Bound::Included(k.as_ref()),
                Bound::Excluded(k) => Bound::Excluded(k.as_ref()),
                Bound::Unbounded => Bound::Unbounded,
            }
        }
        self.0
            .range(bound(range.start_bound()), bound(range.end_bound()))
    }

    /// The pairs whose keys start with `prefix`, in key order.
    pub fn scan_prefix(&self, prefix: impl AsRef<[u8]>) -> Pairs {
        let prefix = prefix.as_ref();
        match successor(prefix) {
            Some(end) => self.0.range(Bound::Included(prefix), Bound::Excluded(&end)),
            None => self.0.range(Bound::Included(prefix), Bound::Unbounded),
        }
    }

    pub fn first(&self) -> Result<Option<Pair>, Error> {
        self.iter().next().transpose()
    }

    pub fn last(&self) -> Result<Option<Pair>, Error> {
        self.iter().next_back().transpose()
    }
}

/// The first key after every key that starts with `prefix`; none when there is no such key
/// (the prefix is all 0xff, or empty).
/// The first `limit` keys of `table` under `prefix`, one page after another.
pub(super) fn keys_under<T: Table + ?Sized>(
    table: &T,
    prefix: &[u8],
    limit: usize,
) -> Result<Vec<Bytes>, Error> {
    let end = successor(prefix);
    let to = end.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
    table
        .range(Bound::Included(prefix), to)
        .keys()
        .take(limit)
        .collect()
}

pub fn successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// One tree inside a transaction.
#[derive(Clone, Copy)]
pub struct TxTree<'a>(&'a dyn TxTable);

impl TxTree<'_> {
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>, TxError> {
        self.0.get(key.as_ref())
    }

    pub fn insert(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<(), TxError> {
        self.0.insert(key.as_ref(), value.as_ref())
    }

    pub fn remove(&self, key: impl AsRef<[u8]>) -> Result<(), TxError> {
        self.0.remove(key.as_ref())
    }

    /// Writes `value` under `key`; the value it replaced (read at once, where `insert` may
    /// wait for the next read).
    pub fn replace(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
    ) -> Result<Option<Bytes>, TxError> {
        self.0.replace(key.as_ref(), value.as_ref())
    }

    /// Removes `key`; the value it had.
    pub fn take(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>, TxError> {
        self.0.take(key.as_ref())
    }

    pub fn apply_batch(&self, batch: &Batch) -> Result<(), TxError> {
        for (k, v) in &batch.ops {
            match v {
                Some(v) => self.0.insert(k, v)?,
                None => self.0.remove(k)?,
            }
        }
        Ok(())
    }
}

/// Refuses the change inside a transaction: nothing of it is written.
pub fn abort<T>(e: Error) -> Result<T, TxError> {
    Err(TxError::Abort(e))
}

#[cfg(test)]
mod tests {
    use super::successor;

    #[test]
    fn the_successor_of_a_prefix_bounds_exactly_its_keys() {
        assert_eq!(successor(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(successor(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(successor(b"\xff\xff"), None);
        assert_eq!(successor(b""), None);
    }
}
