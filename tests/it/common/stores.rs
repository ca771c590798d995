//! Where the tests' stores live. By default in sled, in each test's data directory; with
//! `PACKLINE_TEST_BACKEND=postgres`, each data directory's store is a database of its own in
//! this process's private PostgreSQL cluster (started at the first use, stopped with the
//! process), so the same tests run on both engines (scripts/test runs the store's suites twice).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use chrono::{DateTime, Utc};
use packline::store::backend::Backend;
use packline::store::backend::embedded::Sled;
use packline::store::backend::postgres::{Postgres, Target, cluster};
use packline::store::{Error, Location, MasterSource, Store};

/// Whether this run keeps its stores in PostgreSQL.
pub fn on_postgres() -> bool {
    std::env::var("PACKLINE_TEST_BACKEND").is_ok_and(|b| b == "postgres")
}

/// The database of each data directory, made at its first use.
fn databases() -> &'static Mutex<HashMap<PathBuf, (String, Target)>> {
    static DBS: OnceLock<Mutex<HashMap<PathBuf, (String, Target)>>> = OnceLock::new();
    DBS.get_or_init(Default::default)
}

pub fn database(data: &Path) -> (String, Target) {
    let mut dbs = databases().lock().unwrap();
    dbs.entry(data.to_owned())
        .or_insert_with(|| {
            let c = cluster::shared().unwrap_or_else(|e| panic!("{e}"));
            let t = c.fresh_database().unwrap_or_else(|e| panic!("{e}"));
            // The cluster's own URL, with no password to hide.
            (t.shown(), t)
        })
        .clone()
}

/// Where the store of `data` lives in this run (PostgreSQL once a site put it there).
pub fn location(data: &Path) -> Location {
    let made = databases().lock().unwrap().get(data).map(|d| d.1.clone());
    if let Some(t) = made {
        return Location::Postgres(t);
    }
    match on_postgres() {
        true => Location::Postgres(database(data).1),
        false => Location::Embedded,
    }
}

/// The `[store]` lines of a site's config for its data directory (none on sled).
pub fn store_config(data: &Path) -> String {
    match on_postgres() {
        true => postgres_config(data),
        false => String::new(),
    }
}

/// `[store]` lines putting the store of `data` in a database of the private cluster.
pub fn postgres_config(data: &Path) -> String {
    format!(
        "[store]\nbackend = \"postgres\"\nurl = {:?}\n",
        database(data).0
    )
}

/// The name of the database holding the store of `data` (made at its first use).
pub fn database_name(data: &Path) -> String {
    let url = database(data).0;
    url.split_whitespace()
        .find_map(|w| w.strip_prefix("dbname="))
        .unwrap_or_default()
        .to_string()
}

/// `Store::init_keys` where this run keeps stores.
pub fn init_store(data: &Path, source: &MasterSource, user: &str, now: DateTime<Utc>) -> String {
    Store::init_keys_in(data, &location(data), source, user, now).unwrap()
}

/// `Store::open` where this run keeps stores.
pub fn open_store(data: &Path) -> Result<Store, Error> {
    Store::open_in(data, &location(data))
}

/// This process's private cluster, whatever the run's backend.
pub fn cluster_always() -> &'static cluster::Cluster {
    cluster::shared().unwrap_or_else(|e| panic!("{e}"))
}

/// The private cluster of this run, when it runs on PostgreSQL.
pub fn cluster() -> Option<&'static cluster::Cluster> {
    on_postgres().then(|| cluster::shared().unwrap_or_else(|e| panic!("{e}")))
}

/// The store's database of `data` itself, past the store: for tests that read what is stored.
pub fn raw_backend(data: &Path) -> Backend {
    match location(data) {
        Location::Embedded => Backend::new(Sled(packline::store::raw_db(data).unwrap())),
        Location::Postgres(t) => Backend::new(Postgres::open(&t).unwrap()),
    }
}
