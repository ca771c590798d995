//! Moving a site's store from sled into PostgreSQL (`packline store migrate --to URL`): every
//! tree of the main database copied as it is — sealed records stay sealed under the same key
//! epochs, so the keyring and master key in the data directory go on opening them — into a
//! database that holds no store yet, then checked there. The index database is not copied: the
//! store rebuilds it beside the main trees at its first use. The sled store is left as it was,
//! for the seller to remove once the site runs on PostgreSQL.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::backend::postgres::{Postgres, Target};
use super::backend::{Backend, Batch};
use super::{Error, Store, audit, keys};
use crate::store::refusal::OpenRefusal;

/// Entries written to PostgreSQL at a time.
const CHUNK: usize = 2000;

/// What a migration moved.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Migrated {
    pub trees: usize,
    pub entries: u64,
    pub to: String,
}

/// The audit action recorded in the store once it is in PostgreSQL.
pub const MIGRATE_ACTION: &str = "store:migrate";

impl Store {
    /// Copies this store's trees into the PostgreSQL database at `target`, which must hold no
    /// packline store, and records the move in the copy's audit log. The copy is not checked
    /// here: open it (`Store::open_in`) and check it.
    pub fn copy_to_postgres(
        &self,
        target: &Target,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<Migrated, Error> {
        let to = Backend::new(Postgres::open(target)?);
        let names = to.tree_names()?;
        for name in &names {
            if !to.open_tree(name)?.is_empty() {
                return Err(OpenRefusal::MigrateTargetUsed {
                    target: target.to_string(),
                    tree: name.to_string(),
                }
                .into());
            }
        }
        let mut moved = Migrated {
            trees: 0,
            entries: 0,
            to: target.shown(),
        };
        for name in self.db.tree_names()? {
            let from = self.db.open_tree(&name)?;
            let into = to.open_tree(&name)?;
            let mut batch = Batch::default();
            for pair in from.iter() {
                let (k, v) = pair?;
                batch.insert(&*k, v.to_vec());
                moved.entries += 1;
                if batch.len() >= CHUNK {
                    into.apply_batch(std::mem::take(&mut batch))?;
                }
            }
            into.apply_batch(batch)?;
            moved.trees += 1;
        }
        let log = to.open_tree(keys::AUDIT.name)?;
        let meta = to.open_tree(keys::META.name)?;
        let reason = format!("from sled in {} to PostgreSQL", self.data_dir.display());
        to.transact(&[&log, &meta], |t| {
            audit::append(
                &t[0],
                &t[1],
                &audit::Record {
                    at: now,
                    user,
                    action: MIGRATE_ACTION,
                    order: None,
                    reason: Some(&reason),
                },
            )
            .map(|_| ())
        })?;
        Ok(moved)
    }
}
