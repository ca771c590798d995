//! Opening a store: a new site's keys, an existing site on sled or PostgreSQL, a second
//! handle on an open one.

use super::*;

impl Store {
    /// Creates the keys of a new site and records the master recipient in the store.
    pub fn init_keys(
        data_dir: &Path,
        source: &MasterSource,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<String, Error> {
        Self::init_keys_in(data_dir, &Location::Embedded, source, user, now)
    }

    /// `init_keys` for a store at `location`.
    pub fn init_keys_in(
        data_dir: &Path,
        location: &Location,
        source: &MasterSource,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<String, Error> {
        create_data_dir(data_dir)?;
        private_dir(data_dir)?;
        let (db, _) = location.main_backend(data_dir)?;
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
        db.transact(&[&audit_tree, &meta], |t| {
            t[1].insert(META_MASTER, recipient.as_bytes())?;
            t[1].insert(
                records::upgrade::META_SCHEMA,
                records::upgrade::schema_bytes(records::SCHEMA),
            )?;
            audit::append(&t[0], &t[1], &genesis).map(|_| ())
        })?;
        db.flush()?;
        space::keep_reserve(data_dir);
        Ok(recipient)
    }

    /// Opens an existing, keyed store. Needs no secret.
    pub fn open(data_dir: &Path) -> Result<Self, Error> {
        Self::open_in(data_dir, &Location::Embedded)
    }

    /// `open` for a store at `location`.
    pub fn open_in(data_dir: &Path, location: &Location) -> Result<Self, Error> {
        let (db, account) = match location {
            Location::Embedded => {
                let db = Self::open_embedded(data_dir)?;
                (db.clone(), db)
            }
            Location::Postgres(target) => {
                if !Keyring::path_in(data_dir).exists() {
                    return Err(Error::NoKeys {
                        path: Keyring::path_in(data_dir),
                    });
                }
                private_dir(data_dir)?;
                let (db, account) = location.main_backend(data_dir)?;
                let meta = db.open_tree(keys::META.name)?;
                if meta.get(META_MASTER)?.is_none() {
                    return Err(OpenRefusal::UnkeyedDatabase {
                        target: target.to_string(),
                        site: target.site().to_string(),
                        keyring: Keyring::path_in(data_dir),
                    }
                    .into());
                }
                // The database was made at this schema; a newer one is refused.
                let found = records::upgrade::schema_in(&meta)?;
                if found != records::SCHEMA {
                    return Err(Error::NewerStore {
                        dir: PathBuf::from(target.shown()),
                        found,
                        reads: records::SCHEMA,
                    });
                }
                (db, account)
            }
        };
        let account = Account {
            meta: account.open_tree(keys::META.name)?,
            db: account,
            own: location.site() == backend::postgres::MAIN_SITE,
        };
        Self::open_on(data_dir, location, db, account)
    }

    /// The sled store in `data_dir`, upgraded when older.
    fn open_embedded(data_dir: &Path) -> Result<Backend, Error> {
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
            // The copy is written, never read back while it is made: a small page cache keeps
            // the upgrade's memory near the store's own (sled's default is 1 GiB).
            || open_sled(data_dir, records::upgrade::STAGING, 32 * 1024 * 1024),
            Utc::now(),
        )?;
        Ok(backend(db))
    }

    /// The store over its open database: the keyring checked against it and bound to it.
    fn open_on(
        data_dir: &Path,
        location: &Location,
        db: Backend,
        account: Account,
    ) -> Result<Self, Error> {
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
            location: location.clone(),
            t,
            account,
            derived: derived::Lazy::default(),
            steps: 0,
            scanned: Default::default(),
            keyring,
            data_dir: data_dir.to_owned(),
        };
        store.settle_open_hours()?;
        store.settle_seller_since(Utc::now())?;
        store.settle_code_registry()?;
        // Words an older packline kept in the clear are sealed once (`notes_upgrade`).
        store.seal_plain_free_text("packline", Utc::now())?;
        // Names indexed under an older search form are indexed again at the next unlock.
        store.settle_search_fold()?;
        space::keep_reserve(data_dir);
        Ok(store)
    }

    /// A second handle on this open store: the same sled database and trees, the same index
    /// database, and a copy of the keyring (with its unlock). Two handles stand for two
    /// processes on one shared backend: nothing but each operation's transaction keeps them
    /// apart. A key change (rotate, lock, unlock) through one is not seen by the other. For
    /// tests and tools.
    pub fn share(&self) -> Result<Store, Error> {
        Ok(Store {
            db: self.db.clone(),
            location: self.location.clone(),
            t: self.t.clone(),
            account: self.account.clone(),
            derived: derived::Lazy::with(self.derived()?.clone()),
            steps: 0,
            scanned: Default::default(),
            keyring: self.keyring.share(),
            data_dir: self.data_dir.clone(),
        })
    }
}
