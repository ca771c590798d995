//! sled under the store: the embedded engine of a single site.

use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sled::Transactional;
use sled::transaction::{
    ConflictableTransactionError, TransactionError, TransactionalTree, UnabortableTransactionError,
};

use super::{Batch, Bytes, Engine, Pairs, Table, Tree, TxBody, TxError, TxTable};
use crate::store::Error;
use crate::store::refusal::{EngineRefusal, OpenRefusal};
use crate::store::space::{self, SEGMENT_SIZE};

/// A sled database as an engine.
pub struct Sled(pub sled::Db);

impl Engine for Sled {
    fn open_tree(&self, name: &str) -> Result<Arc<dyn Table>, Error> {
        Ok(Arc::new(SledTree {
            name: name.to_string(),
            tree: self.0.open_tree(name)?,
        }))
    }

    fn tree_names(&self) -> Result<Vec<String>, Error> {
        Ok(self
            .0
            .tree_names()
            .iter()
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .collect())
    }

    fn drop_tree(&self, name: &str) -> Result<bool, Error> {
        Ok(self.0.drop_tree(name)?)
    }

    fn flush(&self) -> Result<(), Error> {
        self.0.flush()?;
        Ok(())
    }

    fn size_on_disk(&self) -> Result<u64, Error> {
        Ok(self.0.size_on_disk()?)
    }

    fn generate_id(&self) -> Result<u64, Error> {
        Ok(self.0.generate_id()?)
    }

    fn transact(&self, trees: &[&Tree], f: &mut TxBody<'_>) -> Result<(), TxError> {
        let mut own = Vec::with_capacity(trees.len());
        for t in trees {
            match t.table().as_any().downcast_ref::<SledTree>() {
                Some(s) => own.push(s.tree.clone()),
                None => {
                    return Err(TxError::Storage(
                        EngineRefusal::ForeignTree {
                            tree: t.name().to_string(),
                            database: "sled database",
                        }
                        .into(),
                    ));
                }
            }
        }
        // sled asks for a closure it may call again on a conflict; `f` is called through a
        // cell so that it can stay `FnMut` for the engines that do not retry themselves.
        let f = std::cell::RefCell::new(f);
        let r = own[..].transaction(|views: &Vec<TransactionalTree>| {
            let views: Vec<SledTx<'_>> = views.iter().map(SledTx).collect();
            let views: Vec<&dyn TxTable> = views.iter().map(|v| v as &dyn TxTable).collect();
            match (f.borrow_mut())(&views) {
                Ok(()) => Ok(()),
                Err(TxError::Conflict) => Err(ConflictableTransactionError::Conflict),
                Err(TxError::Storage(e)) | Err(TxError::Abort(e)) => {
                    Err(ConflictableTransactionError::Abort(e))
                }
            }
        });
        match r {
            Ok(()) => Ok(()),
            Err(TransactionError::Abort(e)) => Err(TxError::Abort(e)),
            Err(TransactionError::Storage(e)) => Err(TxError::Storage(e.into())),
        }
    }
}

struct SledTree {
    name: String,
    tree: sled::Tree,
}

fn pair(r: sled::Result<(sled::IVec, sled::IVec)>) -> Result<(Bytes, Bytes), Error> {
    let (k, v) = r?;
    Ok((k.into(), v.into()))
}

impl Table for SledTree {
    fn name(&self) -> &str {
        &self.name
    }

    fn get(&self, key: &[u8]) -> Result<Option<Bytes>, Error> {
        Ok(self.tree.get(key)?.map(Into::into))
    }

    fn insert(&self, key: &[u8], value: &[u8]) -> Result<Option<Bytes>, Error> {
        Ok(self.tree.insert(key, value)?.map(Into::into))
    }

    fn remove(&self, key: &[u8]) -> Result<Option<Bytes>, Error> {
        Ok(self.tree.remove(key)?.map(Into::into))
    }

    fn compare_and_swap(
        &self,
        key: &[u8],
        old: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<bool, Error> {
        Ok(self.tree.compare_and_swap(key, old, new)?.is_ok())
    }

    fn range(&self, from: Bound<&[u8]>, to: Bound<&[u8]>) -> Pairs {
        let own = |b: Bound<&[u8]>| match b {
            Bound::Included(k) => Bound::Included(k.to_vec()),
            Bound::Excluded(k) => Bound::Excluded(k.to_vec()),
            Bound::Unbounded => Bound::Unbounded,
        };
        Pairs::new(self.tree.range((own(from), own(to))).map(pair))
    }

    fn len(&self) -> usize {
        self.tree.len()
    }

    fn is_empty(&self) -> bool {
        self.tree.is_empty()
    }

    fn apply(&self, batch: Batch) -> Result<(), Error> {
        self.tree.apply_batch(sled_batch(batch))?;
        Ok(())
    }

    fn clear(&self) -> Result<(), Error> {
        Ok(self.tree.clear()?)
    }

    fn flush(&self) -> Result<(), Error> {
        self.tree.flush()?;
        Ok(())
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

fn sled_batch(batch: Batch) -> sled::Batch {
    let mut b = sled::Batch::default();
    for (k, v) in batch.ops {
        match v {
            Some(v) => b.insert(k, v),
            None => b.remove(k),
        }
    }
    b
}

struct SledTx<'a>(&'a TransactionalTree);

fn tx_err(e: UnabortableTransactionError) -> TxError {
    match e {
        UnabortableTransactionError::Conflict => TxError::Conflict,
        UnabortableTransactionError::Storage(e) => TxError::Storage(e.into()),
    }
}

impl TxTable for SledTx<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Bytes>, TxError> {
        Ok(self.0.get(key).map_err(tx_err)?.map(Into::into))
    }

    fn insert(&self, key: &[u8], value: &[u8]) -> Result<(), TxError> {
        self.replace(key, value).map(|_| ())
    }

    fn remove(&self, key: &[u8]) -> Result<(), TxError> {
        self.take(key).map(|_| ())
    }

    fn replace(&self, key: &[u8], value: &[u8]) -> Result<Option<Bytes>, TxError> {
        Ok(self.0.insert(key, value).map_err(tx_err)?.map(Into::into))
    }

    fn take(&self, key: &[u8]) -> Result<Option<Bytes>, TxError> {
        Ok(self.0.remove(key).map_err(tx_err)?.map(Into::into))
    }
}

/// sled reports a held file lock as a plain I/O error with this text.
pub(super) fn lock_busy(e: &std::io::Error) -> bool {
    let text = e.to_string();
    e.kind() == std::io::ErrorKind::WouldBlock
        || (text.contains("could not acquire lock") && text.contains("WouldBlock"))
}

/// Opens one of the store's sled databases: `dir` inside the data directory, with a page cache of
/// `cache` bytes (sled's default when 0).
pub(crate) fn open_sled(data_dir: &Path, dir: &str, cache: u64) -> Result<sled::Db, Error> {
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
                return Err(OpenRefusal::InUse {
                    dir: data_dir.to_owned(),
                }
                .into());
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
pub(super) fn remove_unfinished_snapshots(path: &Path) -> Result<usize, Error> {
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

pub(super) fn full_at_open(data_dir: &Path) -> Error {
    let free = space::available(data_dir).unwrap_or(0);
    OpenRefusal::FullAtOpen {
        dir: data_dir.to_owned(),
        free,
    }
    .into()
}

/// sled refused the database in `path` as corrupt: which of its files does not check out (its
/// config and snapshot carry a CRC-32 as sled writes them; otherwise it is the log).
pub(super) fn damaged(path: &Path) -> Error {
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

pub(super) const DEFAULT_SEGMENT_SIZE: usize = 512 * 1024;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::DB_DIR;

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
