//! PostgreSQL under the store: the engine of sellers whose sites share one database.
//!
//! Every tree is a set of rows of one table, `packline.kv (tree, k, v)`, ordered by its primary
//! key, so a tree's range scan is an index range scan. The trees a database holds or held are
//! listed in `packline.trees`; `generate_id` draws from the sequence `packline.ids`. One
//! database may hold several engines' trees apart: each engine names its trees with its own
//! prefix (the store's main trees have none; its derived indexes are `index:names`, `index:sku`).
//!
//! Transactions are PostgreSQL's serializable ones, and so is every statement made alone: when
//! PostgreSQL finds that two transactions could not have run one after the other, it refuses one
//! of them, and the engine runs that one again from the start — exactly what the embedded engine
//! does on a conflict, so the store's one-transaction-per-operation rule keeps its invariants
//! across any number of daemons (docs/postgres.md).

mod calls;
pub mod cluster;
mod pool;
mod schema;

use std::cell::Cell;
use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio_postgres::types::ToSql;

use calls::{error, is_conflict, wait};
pub use pool::{MAIN_SITE, Target};
use pool::{Pool, Pooled};

use super::{Batch, Bytes, Engine, Pair, Pairs, Table, Tree, TxBody, TxError, TxTable};
use crate::store::Error;
use crate::store::refusal::EngineRefusal;

/// A PostgreSQL database as an engine (or a part of one: the trees under a prefix).
pub struct Postgres {
    pool: Arc<Pool>,
    prefix: String,
}

/// Between a part's name and its trees' names.
const PART: char = ':';

/// The part of a site other than `main`.
pub fn site_part(site: &str) -> String {
    format!("site={site}")
}

/// How many times a transaction is run again when PostgreSQL keeps refusing it.
const ATTEMPTS: u32 = 200;

impl Postgres {
    /// The database at `target`, its tables created when missing. Connects once, to say now
    /// (rather than at the first call) when the database cannot be reached.
    pub fn open(target: &Target) -> Result<Postgres, Error> {
        let pool = Arc::new(Pool::new(target.clone()));
        drop(pool.get()?);
        let prefix = match target.site() {
            pool::MAIN_SITE => String::new(),
            site => format!("{}{PART}", site_part(site)),
        };
        Ok(Postgres { pool, prefix })
    }

    /// The trees of the Amazon account that every site on the database shares (the sync's
    /// place and quota, the sites' leases, where each order was routed): `main`'s own, on the
    /// same connections (so one transaction may span both).
    pub fn account(&self) -> Postgres {
        Postgres {
            pool: self.pool.clone(),
            prefix: String::new(),
        }
    }

    /// The trees of the same database named `part:…`, apart from the main trees.
    pub fn part(&self, part: &str) -> Postgres {
        Postgres {
            pool: self.pool.clone(),
            prefix: format!("{}{part}{PART}", self.prefix),
        }
    }

    /// The sites whose trees this database holds (`main` when its own are there), by name.
    pub fn sites(&self) -> Result<Vec<String>, Error> {
        let rows = alone(&self.pool, |c| {
            wait(c.client.query(
                "SELECT name FROM packline.trees WHERE name = 'meta' OR name LIKE 'site=%:meta' \
                 ORDER BY name",
                &[],
            ))
        })?;
        let mut sites: Vec<String> = rows
            .iter()
            .map(|r| r.get::<_, String>(0))
            .filter_map(|n| match n.as_str() {
                "meta" => Some(pool::MAIN_SITE.to_string()),
                n => n
                    .strip_prefix("site=")
                    .and_then(|n| n.strip_suffix(":meta"))
                    .map(str::to_owned),
            })
            .collect();
        sites.sort();
        Ok(sites)
    }

    pub fn target(&self) -> &Target {
        self.pool.target()
    }

    fn full(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    fn conn(&self) -> Result<Pooled, Error> {
        self.pool.get()
    }
}

/// Runs one statement alone, again when PostgreSQL refuses it for a conflict.
fn alone<T>(
    pool: &Arc<Pool>,
    f: impl Fn(&pool::Conn) -> Result<T, tokio_postgres::Error>,
) -> Result<T, Error> {
    let mut attempt = 0;
    loop {
        let c = pool.get()?;
        match f(&c) {
            Ok(v) => return Ok(v),
            Err(e) if is_conflict(&e) && attempt < ATTEMPTS => {
                attempt += 1;
                backoff(attempt);
            }
            Err(e) => return Err(error(e)),
        }
    }
}

/// A short pause before running a refused transaction again, longer each time, so that two
/// that keep colliding drift apart.
fn backoff(attempt: u32) {
    use rand::Rng;
    let most = 200u64.saturating_mul(u64::from(attempt.min(50)));
    let micros = rand::thread_rng().gen_range(0..=most);
    std::thread::sleep(std::time::Duration::from_micros(micros));
}

impl Engine for Postgres {
    fn open_tree(&self, name: &str) -> Result<Arc<dyn Table>, Error> {
        let full = self.full(name);
        alone(&self.pool, |c| {
            wait(c.client.execute(
                "INSERT INTO packline.trees (name) VALUES ($1) ON CONFLICT DO NOTHING",
                &[&full],
            ))
        })?;
        Ok(Arc::new(PgTable {
            name: name.to_string(),
            full,
            pool: self.pool.clone(),
        }))
    }

    fn tree_names(&self) -> Result<Vec<String>, Error> {
        let rows = alone(&self.pool, |c| {
            wait(
                c.client
                    .query("SELECT name FROM packline.trees ORDER BY name", &[]),
            )
        })?;
        Ok(rows
            .iter()
            .map(|r| r.get::<_, String>(0))
            .filter_map(|n| match self.prefix.is_empty() {
                // The main trees do not list the parts' (named `part:tree`).
                true => (!n.contains(PART)).then_some(n),
                // A part lists its own trees, not those of the parts inside it.
                false => n
                    .strip_prefix(&self.prefix)
                    .filter(|n| !n.contains(PART))
                    .map(str::to_owned),
            })
            .collect())
    }

    fn drop_tree(&self, name: &str) -> Result<bool, Error> {
        let full = self.full(name);
        alone(&self.pool, |c| {
            wait(async {
                c.client.batch_execute("BEGIN").await?;
                let r = async {
                    c.client
                        .execute("DELETE FROM packline.kv WHERE tree = $1", &[&full])
                        .await?;
                    c.client
                        .execute("DELETE FROM packline.trees WHERE name = $1", &[&full])
                        .await
                }
                .await;
                finish(&c.client, r).await
            })
        })
        .map(|n| n > 0)
    }

    fn flush(&self) -> Result<(), Error> {
        // Every commit but a compare-and-swap's is durable when PostgreSQL answers it.
        self.pool.flush()
    }

    fn size_on_disk(&self) -> Result<u64, Error> {
        let row = alone(&self.pool, |c| {
            wait(c.client.query_one(
                "SELECT pg_total_relation_size('packline.kv') + pg_total_relation_size('packline.trees')",
                &[],
            ))
        })?;
        Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
    }

    fn generate_id(&self) -> Result<u64, Error> {
        let row = alone(&self.pool, |c| {
            wait(c.client.query_one("SELECT nextval('packline.ids')", &[]))
        })?;
        Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
    }

    fn announce(&self) -> Result<(), Error> {
        let me = pool::process_tag();
        alone(&self.pool, |c| {
            wait(
                c.client
                    .execute("SELECT pg_notify($1, $2)", &[&pool::CHANGES, &me]),
            )
        })
        .map(|_| ())
    }

    fn watch(&self, changed: Arc<dyn Fn() + Send + Sync>) -> Result<(), Error> {
        self.pool.listen(changed)
    }

    fn transact(&self, trees: &[&Tree], f: &mut TxBody<'_>) -> Result<(), TxError> {
        let mut names = Vec::with_capacity(trees.len());
        for t in trees {
            match t.table().as_any().downcast_ref::<PgTable>() {
                Some(p) if Arc::ptr_eq(&p.pool, &self.pool) => names.push(p.full.clone()),
                _ => {
                    return Err(TxError::Storage(
                        EngineRefusal::ForeignTree {
                            tree: t.name().to_string(),
                            database: "database",
                        }
                        .into(),
                    ));
                }
            }
        }
        let mut attempt = 0;
        loop {
            let conn = self.conn()?;
            conn.in_tx.store(true, Ordering::Release);
            wait(conn.client.batch_execute("BEGIN")).map_err(error)?;
            let state = TxState {
                conn: &conn,
                refused: Cell::new(None),
                pending: Default::default(),
            };
            let views: Vec<PgTx<'_>> = names
                .iter()
                .map(|n| PgTx {
                    tree: n,
                    state: &state,
                })
                .collect();
            let dyns: Vec<&dyn TxTable> = views.iter().map(|v| v as &dyn TxTable).collect();
            // What the body wrote and has not sent goes before the commit.
            let outcome = f(&dyns).and_then(|()| state.flush());
            let refused = state.refused.take();
            let conflict = match (outcome, refused) {
                // A statement PostgreSQL refused leaves the transaction unable to commit,
                // whatever the body made of the error.
                (_, Some(Refusal::Conflict)) | (Err(TxError::Conflict), _) => true,
                (_, Some(Refusal::Failed(e))) => {
                    rollback(conn);
                    return Err(TxError::Storage(e));
                }
                (Err(e), None) => {
                    rollback(conn);
                    return Err(e);
                }
                (Ok(()), None) => match wait(conn.client.batch_execute("COMMIT")) {
                    Ok(()) => {
                        conn.in_tx.store(false, Ordering::Release);
                        return Ok(());
                    }
                    Err(e) if is_conflict(&e) => true,
                    Err(e) => return Err(TxError::Storage(error(e))),
                },
            };
            if conflict {
                rollback(conn);
                attempt += 1;
                if attempt >= ATTEMPTS {
                    return Err(TxError::Storage(Error::Database(format!(
                        "a change was refused {ATTEMPTS} times for conflicting with others \
                         made at the same time; nothing of it was written: try again"
                    ))));
                }
                backoff(attempt);
            }
        }
    }
}

/// Ends a transaction left unfinished; a connection that cannot is closed, not reused.
fn rollback(conn: Pooled) {
    if wait(conn.client.batch_execute("ROLLBACK")).is_ok() {
        conn.in_tx.store(false, Ordering::Release);
    }
}

/// Commits what a block of statements did, or rolls it back when one failed.
async fn finish<T>(
    c: &tokio_postgres::Client,
    r: Result<T, tokio_postgres::Error>,
) -> Result<T, tokio_postgres::Error> {
    match r {
        Ok(v) => {
            c.batch_execute("COMMIT").await?;
            Ok(v)
        }
        Err(e) => {
            let _ = c.batch_execute("ROLLBACK").await;
            Err(e)
        }
    }
}

enum Refusal {
    Conflict,
    Failed(Error),
}

/// A write of a transaction not sent yet: the tree, the key, the value (none: removed).
type Write = (String, Vec<u8>, Option<Vec<u8>>);

/// One transaction under way on one connection.
struct TxState<'c> {
    conn: &'c Pooled,
    /// The first statement PostgreSQL refused, if one was.
    refused: Cell<Option<Refusal>>,
    /// Writes not sent yet: they go together, in order, before the next read or the commit.
    pending: std::cell::RefCell<Vec<Write>>,
}

impl TxState<'_> {
    fn defer(&self, tree: &str, key: &[u8], value: Option<&[u8]>) {
        self.pending
            .borrow_mut()
            .push((tree.to_string(), key.to_vec(), value.map(<[u8]>::to_vec)));
    }

    /// Sends the writes not sent yet, all at once (pipelined on the connection), in order.
    fn flush(&self) -> Result<(), TxError> {
        let pending = std::mem::take(&mut *self.pending.borrow_mut());
        if pending.is_empty() {
            return Ok(());
        }
        let c = self.conn;
        self.run(async {
            let writes = pending.iter().map(|(tree, k, v)| async move {
                match v {
                    Some(v) => c.client.execute(&c.st.put, &[tree, k, v]).await,
                    None => c.client.execute(&c.st.delete, &[tree, k]).await,
                }
            });
            // Every answer is awaited, and the first failure in the order sent is the one
            // reported: the statements after a refused one fail only because it was, and
            // their answers can be seen before its own (`try_join_all` would report whichever
            // it sees first, and a conflict would then read as a failure).
            let answers = futures_util::future::join_all(writes).await;
            answers
                .into_iter()
                .find_map(Result::err)
                .map_or(Ok(()), Err)
        })
    }

    fn run<T>(
        &self,
        f: impl std::future::Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> Result<T, TxError> {
        if let Some(r) = self.refused.take() {
            // The transaction is already refused: nothing more runs in it.
            let conflict = matches!(r, Refusal::Conflict);
            self.refused.set(Some(r));
            return Err(if conflict {
                TxError::Conflict
            } else {
                TxError::Storage(Error::Database(
                    "a statement of this change failed before".into(),
                ))
            });
        }
        wait(f).map_err(|e| {
            if is_conflict(&e) {
                self.refused.set(Some(Refusal::Conflict));
                TxError::Conflict
            } else {
                let mapped = error(e);
                self.refused
                    .set(Some(Refusal::Failed(Error::Database(mapped.to_string()))));
                TxError::Storage(mapped)
            }
        })
    }
}

/// One tree inside a transaction.
struct PgTx<'a> {
    tree: &'a str,
    state: &'a TxState<'a>,
}

fn bytes(v: Vec<u8>) -> Bytes {
    Bytes::from(v)
}

impl TxTable for PgTx<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Bytes>, TxError> {
        self.state.flush()?;
        let c = self.state.conn;
        let row = self
            .state
            .run(c.client.query_opt(&c.st.get, &[&self.tree, &key]))?;
        Ok(row.map(|r| bytes(r.get(0))))
    }

    fn insert(&self, key: &[u8], value: &[u8]) -> Result<(), TxError> {
        self.state.defer(self.tree, key, Some(value));
        Ok(())
    }

    fn remove(&self, key: &[u8]) -> Result<(), TxError> {
        self.state.defer(self.tree, key, None);
        Ok(())
    }

    fn replace(&self, key: &[u8], value: &[u8]) -> Result<Option<Bytes>, TxError> {
        self.state.flush()?;
        let c = self.state.conn;
        let row = self.state.run(
            c.client
                .query_opt(&c.st.insert, &[&self.tree, &key, &value]),
        )?;
        Ok(row.map(|r| bytes(r.get(0))))
    }

    fn take(&self, key: &[u8]) -> Result<Option<Bytes>, TxError> {
        self.state.flush()?;
        let c = self.state.conn;
        let row = self
            .state
            .run(c.client.query_opt(&c.st.remove, &[&self.tree, &key]))?;
        Ok(row.map(|r| bytes(r.get(0))))
    }
}

/// One tree, outside transactions.
struct PgTable {
    name: String,
    full: String,
    pool: Arc<Pool>,
}

impl Table for PgTable {
    fn name(&self) -> &str {
        &self.name
    }

    fn get(&self, key: &[u8]) -> Result<Option<Bytes>, Error> {
        let row = alone(&self.pool, |c| {
            wait(c.client.query_opt(&c.st.get, &[&self.full, &key]))
        })?;
        Ok(row.map(|r| bytes(r.get(0))))
    }

    fn get_many(&self, keys: &[&[u8]]) -> Result<Vec<Option<Bytes>>, Error> {
        if keys.len() < 2 {
            return keys.iter().map(|k| self.get(k)).collect();
        }
        let rows = alone(&self.pool, |c| {
            wait(c.client.query(&c.st.get_many, &[&self.full, &keys]))
        })?;
        let found: std::collections::HashMap<Vec<u8>, Bytes> = rows
            .into_iter()
            .map(|r| (r.get::<_, Vec<u8>>(0), bytes(r.get(1))))
            .collect();
        Ok(keys.iter().map(|k| found.get(*k).cloned()).collect())
    }

    fn first_keys(&self, prefixes: &[&[u8]], limit: usize) -> Result<Vec<Vec<Bytes>>, Error> {
        let ends: Option<Vec<Vec<u8>>> = prefixes.iter().map(|p| super::successor(p)).collect();
        // A prefix of 0xFF bytes alone runs to the tree's end: read those one by one.
        let Some(ends) = ends else {
            return prefixes
                .iter()
                .map(|p| super::keys_under(self, p, limit))
                .collect();
        };
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = alone(&self.pool, |c| {
            wait(
                c.client
                    .query(&c.st.first_keys, &[&self.full, &prefixes, &limit, &ends]),
            )
        })?;
        let mut keys = vec![Vec::new(); prefixes.len()];
        for r in rows {
            let place = usize::try_from(r.get::<_, i64>(0)).unwrap_or(0);
            if let Some(under) = place.checked_sub(1).and_then(|i| keys.get_mut(i)) {
                under.push(bytes(r.get(1)));
            }
        }
        Ok(keys)
    }

    fn insert(&self, key: &[u8], value: &[u8]) -> Result<Option<Bytes>, Error> {
        let row = alone(&self.pool, |c| {
            wait(
                c.client
                    .query_opt(&c.st.insert, &[&self.full, &key, &value]),
            )
        })?;
        Ok(row.map(|r| bytes(r.get(0))))
    }

    fn remove(&self, key: &[u8]) -> Result<Option<Bytes>, Error> {
        let row = alone(&self.pool, |c| {
            wait(c.client.query_opt(&c.st.remove, &[&self.full, &key]))
        })?;
        Ok(row.map(|r| bytes(r.get(0))))
    }

    fn compare_and_swap(
        &self,
        key: &[u8],
        old: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<bool, Error> {
        let t = &self.full;
        if new.is_some() || old.is_some() {
            // Committed without waiting for the disk (`UNFLUSHED`); told before it is sent,
            // since a commit whose answer is lost may still have been made.
            self.pool.wrote_unflushed();
        }
        match (old, new) {
            (None, None) => Ok(self.get(key)?.is_none()),
            (None, Some(new)) => alone(&self.pool, |c| {
                wait(c.client.execute(&c.st.cas_create, &[t, &key, &new]))
            })
            .map(|n| n == 1),
            (Some(old), Some(new)) => alone(&self.pool, |c| {
                wait(c.client.execute(&c.st.cas_update, &[t, &key, &old, &new]))
            })
            .map(|n| n == 1),
            (Some(old), None) => alone(&self.pool, |c| {
                wait(c.client.execute(&c.st.cas_delete, &[t, &key, &old]))
            })
            .map(|n| n == 1),
        }
    }

    fn range(&self, from: Bound<&[u8]>, to: Bound<&[u8]>) -> Pairs {
        // Bounds as PostgreSQL's scans take them: from a key included, to a key excluded (or
        // the tree's end). The key right after `k` is `k ‖ 0`.
        let lo = match from {
            Bound::Included(k) => k.to_vec(),
            Bound::Excluded(k) => after(k),
            Bound::Unbounded => Vec::new(),
        };
        let hi = match to {
            Bound::Included(k) => Some(after(k)),
            Bound::Excluded(k) => Some(k.to_vec()),
            Bound::Unbounded => None,
        };
        if hi.as_ref().is_some_and(|hi| *hi <= lo) {
            return Pairs::new(std::iter::empty());
        }
        Pairs::new(Scan {
            pool: self.pool.clone(),
            tree: self.full.clone(),
            lo,
            hi,
            front: VecDeque::new(),
            back: VecDeque::new(),
            page: FIRST_PAGE,
            done: false,
        })
    }

    fn len(&self) -> usize {
        alone(&self.pool, |c| {
            wait(c.client.query_one(&c.st.count, &[&self.full]))
        })
        .map(|r| usize::try_from(r.get::<_, i64>(0)).unwrap_or(0))
        .unwrap_or(0)
    }

    fn apply(&self, batch: Batch) -> Result<(), Error> {
        // The last write to each key is the one that counts.
        let mut last: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
        for (k, v) in batch.ops {
            last.insert(k, v);
        }
        let (mut put_k, mut put_v, mut gone) = (Vec::new(), Vec::new(), Vec::new());
        for (k, v) in last {
            match v {
                Some(v) => {
                    put_k.push(k);
                    put_v.push(v);
                }
                None => gone.push(k),
            }
        }
        alone(&self.pool, |c| {
            wait(async {
                c.client.batch_execute("BEGIN").await?;
                let r = async {
                    if !gone.is_empty() {
                        c.client
                            .execute(&c.st.remove_many, &[&self.full, &gone])
                            .await?;
                    }
                    if !put_k.is_empty() {
                        c.client
                            .execute(&c.st.put_many, &[&self.full, &put_k, &put_v])
                            .await?;
                    }
                    Ok(())
                }
                .await;
                finish(&c.client, r).await
            })
        })
    }

    fn clear(&self) -> Result<(), Error> {
        alone(&self.pool, |c| {
            wait(c.client.execute(&c.st.clear, &[&self.full]))
        })
        .map(|_| ())
    }

    fn flush(&self) -> Result<(), Error> {
        self.pool.flush()
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// The first key after `k` in byte order.
fn after(k: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(k.len() + 1);
    v.extend_from_slice(k);
    v.push(0);
    v
}

const FIRST_PAGE: i64 = 64;
const LARGEST_PAGE: i64 = 2048;

/// A range read in pages from either end as the caller asks: what is left unread is always the
/// keys from `lo` (included) to `hi` (excluded), between what each end has fetched.
struct Scan {
    pool: Arc<Pool>,
    tree: String,
    lo: Vec<u8>,
    hi: Option<Vec<u8>>,
    front: VecDeque<Pair>,
    back: VecDeque<Pair>,
    page: i64,
    /// Nothing is left unread between the two ends (or a read failed).
    done: bool,
}

impl Scan {
    fn fetch(&mut self, up: bool) -> Result<Vec<Pair>, Error> {
        let (tree, lo, hi, page) = (&self.tree, &self.lo, &self.hi, self.page);
        let rows = alone(&self.pool, |c| {
            let (st, params): (_, Vec<&(dyn ToSql + Sync)>) = match (up, hi) {
                (true, Some(hi)) => (&c.st.scan_up, vec![tree, lo, hi, &page]),
                (true, None) => (&c.st.scan_up_open, vec![tree, lo, &page]),
                (false, Some(hi)) => (&c.st.scan_down, vec![tree, lo, hi, &page]),
                (false, None) => (&c.st.scan_down_open, vec![tree, lo, &page]),
            };
            wait(c.client.query(st, &params))
        })?;
        if (rows.len() as i64) < page {
            self.done = true;
        }
        self.page = (self.page * 2).min(LARGEST_PAGE);
        let pairs: Vec<Pair> = rows
            .into_iter()
            .map(|r| (bytes(r.get(0)), bytes(r.get(1))))
            .collect();
        if let Some((k, _)) = pairs.last() {
            if up {
                self.lo = after(k);
            } else {
                self.hi = Some(k.to_vec());
            }
        }
        Ok(pairs)
    }
}

impl Iterator for Scan {
    type Item = Result<Pair, Error>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.front.is_empty() && !self.done {
            match self.fetch(true) {
                Ok(p) => self.front.extend(p),
                Err(e) => {
                    self.done = true;
                    self.front.clear();
                    self.back.clear();
                    return Some(Err(e));
                }
            }
        }
        // Past the middle: the back's pages, from their first.
        self.front
            .pop_front()
            .or_else(|| self.back.pop_front())
            .map(Ok)
    }
}

impl DoubleEndedIterator for Scan {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.back.is_empty() && !self.done {
            match self.fetch(false) {
                // Fetched from the end down: the back's next is its first.
                Ok(p) => self.back.extend(p.into_iter().rev()),
                Err(e) => {
                    self.done = true;
                    self.front.clear();
                    self.back.clear();
                    return Some(Err(e));
                }
            }
        }
        // `back` is kept in key order: its last is the next from the end.
        self.back
            .pop_back()
            .or_else(|| self.front.pop_back())
            .map(Ok)
    }
}

#[cfg(test)]
mod tests;
