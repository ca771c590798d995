//! Where a store's records are: a sled database in the data directory (a single site's), or a
//! PostgreSQL database; and the data directory itself, which only packline's own user may open.

use std::path::Path;

use super::backend::{self, Backend, embedded::open_sled};
use super::refusal::OpenRefusal;
use super::{DB_DIR, Error};

/// Where a store's records live: in sled inside the data directory (a single site's), or in a
/// PostgreSQL database that several sites may share. The keyring and the master key stay in
/// the data directory either way.
#[derive(Clone, Debug, Default)]
pub enum Location {
    #[default]
    Embedded,
    Postgres(backend::postgres::Target),
}

impl Location {
    /// The database of this location's main trees, with its tables made when missing; and
    /// that of the Amazon account's trees, which every site on a shared database shares (the
    /// same one on sled, and for the site `main`).
    pub(super) fn main_backend(&self, data_dir: &Path) -> Result<(Backend, Backend), Error> {
        match self {
            Location::Embedded => {
                let db = backend(open_db(data_dir)?);
                Ok((db.clone(), db))
            }
            Location::Postgres(t) => {
                let pg = backend::postgres::Postgres::open(t)?;
                let account = Backend::new(pg.account());
                Ok((Backend::new(pg), account))
            }
        }
    }

    /// The site this location's trees are of (`[site] name`): always `main` on sled.
    pub fn site(&self) -> &str {
        match self {
            Location::Embedded => backend::postgres::MAIN_SITE,
            Location::Postgres(t) => t.site(),
        }
    }

    /// The same database, for `site`'s trees (a no-op on sled, where a data directory is one
    /// site's whole store).
    pub fn for_site(self, site: &str) -> Location {
        match self {
            Location::Embedded => Location::Embedded,
            Location::Postgres(t) => Location::Postgres(t.for_site(site)),
        }
    }

    /// How many requests are worth running at once: one on the embedded store; on a database
    /// server, enough to keep this machine's cores busy while each waits on its round trip
    /// (twice the cores, 4 to 16). More only share the same cores: on 2 cores, 16 at once made
    /// the slowest pick scans twice as slow as 4 did (docs/benchmarks.md).
    pub fn parallel_requests(&self) -> usize {
        match self {
            Location::Embedded => 1,
            Location::Postgres(_) => std::thread::available_parallelism()
                .map_or(4, |n| 2 * n.get())
                .clamp(4, 16),
        }
    }

    /// Where the records are, as a person reads it (never a password).
    pub fn shown(&self, data_dir: &Path) -> String {
        match self {
            Location::Embedded => data_dir.join(DB_DIR).display().to_string(),
            Location::Postgres(t) => t.shown(),
        }
    }
}

/// Sealed or not, the store holds the floor's records: only packline's own user may open its
/// directory (one made by hand with a looser mode is refused, with the chmod to run).
pub(super) fn private_dir(dir: &Path) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt as _;
    let meta = std::fs::metadata(dir).map_err(|e| Error::io(dir, e))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(OpenRefusal::OpenDirectory {
            dir: dir.to_owned(),
            mode,
        }
        .into());
    }
    Ok(())
}

pub(super) fn create_data_dir(dir: &Path) -> Result<(), Error> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::io(dir, e))
}

/// A keyring without a keyed store: `keys init` stopped between writing the keyring and
/// recording it. Nothing can have been sealed yet, so starting over is safe.
pub(super) fn interrupted_init(keyring: &Path) -> Error {
    OpenRefusal::InterruptedInit {
        keyring: keyring.to_owned(),
    }
    .into()
}

/// The store's database on the embedded engine.
pub(crate) fn backend(db: sled::Db) -> Backend {
    Backend::new(backend::embedded::Sled(db))
}

pub(super) fn open_db(data_dir: &Path) -> Result<sled::Db, Error> {
    open_sled(data_dir, DB_DIR, 128 * 1024 * 1024)
}

/// The main sled database of the store in `data_dir`, opened with the settings packline uses,
/// for tests and repair tools that inspect (or damage, on purpose) what is on disk.
pub fn raw_db(data_dir: &Path) -> Result<sled::Db, Error> {
    open_sled(data_dir, DB_DIR, 0)
}
