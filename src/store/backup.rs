//! Backups: a consistent copy of the store and its keyring, written while the floor works (the
//! service holds the store still while it writes), and a restore that rebuilds an empty data
//! directory from one. The index database is not copied: it is rebuilt from the store on first
//! use.
//!
//! A backup is a directory `packline-backup-YYYYMMDDTHHMMSSZ` (mode 0700) holding:
//! - `store.plbk`: every tree of the main database, `PLBK1\n` then, per tree, `T` ‖ u32 name
//!   length ‖ name, then per entry `E` ‖ u32 key length ‖ key ‖ u32 value length ‖ value, and
//!   `Z` at the end;
//! - `keyring.json`: the keyring as it was;
//! - `backup.json`: when, how many orders and entries, the master recipient, and the SHA-256 of
//!   both files (checked before anything is restored).
//!
//! Because a backup holds key epochs and sealed recipients, it must not outlive the
//! personal-data limit: each backup is recorded in the store, and the retention purge deletes
//! those older than the limit (a shredded epoch never survives in a backup).

use crate::store::backend::Tree;
use std::io::{BufReader, BufWriter, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{DB_DIR, Error, Store, audit_in, seal::Keyring};
use crate::store::refusal::BackupRefusal;

const MAGIC: &[u8] = b"PLBK1\n";
const STORE_FILE: &str = "store.plbk";
const KEYRING_FILE: &str = "keyring.json";
const MANIFEST_FILE: &str = "backup.json";
/// `BACKUP ‖ RFC 3339 time` → the backup's directory, in the meta tree.
const REGISTRY: &[u8] = super::keys::meta::BACKUP.as_bytes();
/// The largest key or value a backup file may claim (sled's are far smaller).
const MAX_ITEM: u32 = 64 * 1024 * 1024;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub created: DateTime<Utc>,
    pub orders: u64,
    pub entries: u64,
    pub master_recipient: String,
    pub store_sha256: String,
    pub keyring_sha256: String,
}

/// What a backup or a restore did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BackupSummary {
    pub dir: PathBuf,
    pub created: DateTime<Utc>,
    pub orders: u64,
    pub entries: u64,
    pub bytes: u64,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::io(path, e)
}

fn private_file(path: &Path) -> Result<std::fs::File, Error> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io(path))
}

fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes and hashes at once.
struct Hashed<W: Write> {
    w: W,
    h: Sha256,
    n: u64,
}

impl<W: Write> Hashed<W> {
    fn put(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.h.update(bytes);
        self.n += bytes.len() as u64;
        self.w.write_all(bytes)
    }

    fn put_item(&mut self, tag: u8, bytes: &[u8]) -> std::io::Result<()> {
        self.put(&[tag])?;
        self.put(&(bytes.len() as u32).to_be_bytes())?;
        self.put(bytes)
    }
}

impl Store {
    /// Writes a backup into a new directory under `parent` and records it for the purge. The
    /// caller holds the store still meanwhile (the service's write lock), so the copy is of one
    /// moment. Audited.
    pub fn backup(
        &self,
        parent: &Path,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<BackupSummary, Error> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .map_err(io(parent))?;
        let dir = parent.join(format!("packline-backup-{}", now.format("%Y%m%dT%H%M%SZ")));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    Error::from(BackupRefusal::Exists { dir: dir.clone() })
                } else {
                    Error::io(&dir, e)
                }
            })?;
        let store_path = dir.join(STORE_FILE);
        let file = private_file(&store_path)?;
        let mut w = Hashed {
            w: BufWriter::new(file),
            h: Sha256::new(),
            n: 0,
        };
        let mut entries = 0u64;
        let write =
            |w: &mut Hashed<BufWriter<std::fs::File>>, entries: &mut u64| -> Result<(), Error> {
                let e = io(&store_path);
                w.put(MAGIC).map_err(&e)?;
                for name in self.db.tree_names()? {
                    let tree = self.db.open_tree(&name)?;
                    w.put_item(b'T', name.as_bytes()).map_err(&e)?;
                    for item in tree.iter() {
                        let (k, v) = item?;
                        w.put_item(b'E', &k).map_err(&e)?;
                        w.put(&(v.len() as u32).to_be_bytes()).map_err(&e)?;
                        w.put(&v).map_err(&e)?;
                        *entries += 1;
                    }
                }
                w.put(b"Z").map_err(&e)?;
                w.w.flush().map_err(&e)?;
                w.w.get_ref().sync_all().map_err(&e)?;
                Ok(())
            };
        if let Err(e) = write(&mut w, &mut entries) {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(e);
        }
        let store_sha256 = hex(&w.h.clone().finalize());
        let mut bytes = w.n;
        let keyring = std::fs::read(Keyring::path_in(&self.data_dir))
            .map_err(io(&Keyring::path_in(&self.data_dir)))?;
        let keyring_path = dir.join(KEYRING_FILE);
        let mut k = private_file(&keyring_path)?;
        k.write_all(&keyring).map_err(io(&keyring_path))?;
        k.sync_all().map_err(io(&keyring_path))?;
        bytes += keyring.len() as u64;
        let manifest = Manifest {
            format: 1,
            created: now,
            orders: self.t.orders.len() as u64,
            entries,
            master_recipient: self.keyring.master_recipient(),
            store_sha256,
            keyring_sha256: hex(&Sha256::digest(&keyring)),
        };
        let manifest_path = dir.join(MANIFEST_FILE);
        let mut m = private_file(&manifest_path)?;
        m.write_all(&serde_json::to_vec_pretty(&manifest).expect("a manifest serializes"))
            .map_err(io(&manifest_path))?;
        m.sync_all().map_err(io(&manifest_path))?;
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        let mut reg = REGISTRY.to_vec();
        reg.extend_from_slice(now.to_rfc3339().as_bytes());
        let where_ = dir.display().to_string();
        self.transact(|tx| {
            tx.meta.insert(reg.clone(), where_.as_bytes())?;
            audit_in(tx, user, "backup", None, Some(&where_), now)
        })?;
        self.flush()?;
        Ok(BackupSummary {
            dir,
            created: now,
            orders: manifest.orders,
            entries,
            bytes,
        })
    }

    /// The backups recorded, oldest first: when, and where.
    pub fn backups(&self) -> Result<Vec<(DateTime<Utc>, PathBuf)>, Error> {
        let mut out = Vec::new();
        for item in self.t.meta.scan_prefix(REGISTRY) {
            let (k, v) = item?;
            let at = std::str::from_utf8(&k[REGISTRY.len()..])
                .ok()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok());
            if let Some(at) = at {
                out.push((
                    at.with_timezone(&Utc),
                    PathBuf::from(String::from_utf8_lossy(&v).into_owned()),
                ));
            }
        }
        Ok(out)
    }

    /// Deletes the backups recorded before `cutoff` (the purge: past the personal-data limit a
    /// backup goes, with the key epochs and recipients it holds). A directory that is not a
    /// packline backup is left alone, and forgotten. Returns how many were deleted.
    pub(super) fn prune_backups(&self, cutoff: DateTime<Utc>) -> Result<u64, Error> {
        let mut pruned = 0;
        for (at, dir) in self.backups()? {
            if at >= cutoff {
                continue;
            }
            if dir.join(MANIFEST_FILE).is_file() && dir.join(STORE_FILE).is_file() {
                std::fs::remove_dir_all(&dir).map_err(io(&dir))?;
                pruned += 1;
            }
            let mut reg = REGISTRY.to_vec();
            reg.extend_from_slice(at.to_rfc3339().as_bytes());
            self.t.meta.remove(reg)?;
        }
        Ok(pruned)
    }
}

/// A folder given to restore that is not a backup: the backups inside it, by name, if any.
fn not_a_backup(dir: &Path) -> Error {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.join(MANIFEST_FILE).is_file())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    match found.as_slice() {
        [] => BackupRefusal::NotABackup {
            dir: dir.to_owned(),
            manifest: MANIFEST_FILE,
        }
        .into(),
        [one] => BackupRefusal::HoldsOne {
            dir: dir.to_owned(),
            one: one.clone(),
        }
        .into(),
        many => BackupRefusal::HoldsMany {
            dir: dir.to_owned(),
            found: many.to_vec(),
        }
        .into(),
    }
}

/// Reads a backup's manifest and checks both files against it.
fn checked(backup: &Path) -> Result<Manifest, Error> {
    let manifest_path = backup.join(MANIFEST_FILE);
    if backup.is_dir() && !manifest_path.exists() {
        return Err(not_a_backup(backup));
    }
    let text = std::fs::read(&manifest_path).map_err(io(&manifest_path))?;
    let m: Manifest = serde_json::from_slice(&text).map_err(|e| {
        Error::from(BackupRefusal::BadManifest {
            manifest: manifest_path.clone(),
            detail: e.to_string(),
        })
    })?;
    if m.format != 1 {
        return Err(BackupRefusal::Format {
            manifest: manifest_path,
            format: m.format,
        }
        .into());
    }
    for (name, want) in [
        (STORE_FILE, &m.store_sha256),
        (KEYRING_FILE, &m.keyring_sha256),
    ] {
        let path = backup.join(name);
        let mut f = std::fs::File::open(&path).map_err(io(&path))?;
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = f.read(&mut buf).map_err(io(&path))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        if hex(&h.finalize()) != *want {
            return Err(BackupRefusal::Checksum {
                file: path,
                manifest: MANIFEST_FILE,
            }
            .into());
        }
    }
    Ok(m)
}

/// Rebuilds an empty data directory from a backup: the manifest's checksums first, then the
/// keyring and every tree; the restored store must open and hold the backup's orders. Nothing
/// is written over: a data directory with a store or keyring in it is refused.
pub fn restore(backup: &Path, data_dir: &Path, now: DateTime<Utc>) -> Result<BackupSummary, Error> {
    let m = checked(backup)?;
    refuse_restore_into(data_dir)?;
    // Everything is written into a private folder beside the data directory and moved into
    // place whole at the end: a restore that fails leaves no half-written store behind.
    let name = data_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "data".into());
    let staging = data_dir.with_file_name(format!(".{name}.restoring"));
    if staging.exists() {
        // A restore of ours that did not finish: nothing else is ever kept there.
        std::fs::remove_dir_all(&staging).map_err(io(&staging))?;
    }
    if let Some(parent) = staging.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&staging)
        .map_err(io(&staging))?;
    let restored = restore_into(backup, &m, &staging, now).and_then(|summary| {
        // `rename` replaces an empty directory; a missing one is simply made.
        std::fs::rename(&staging, data_dir).map_err(io(data_dir))?;
        Ok(BackupSummary {
            dir: data_dir.to_owned(),
            ..summary
        })
    });
    if restored.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    restored
}

/// A restore goes only into a data directory that does not exist yet, or that is empty and
/// private (mode 0700): never over a store, never where other users could read what it writes.
fn refuse_restore_into(data_dir: &Path) -> Result<(), Error> {
    let meta = match std::fs::symlink_metadata(data_dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(data_dir, e)),
    };
    if !meta.is_dir() {
        return Err(BackupRefusal::NotADirectory {
            dir: data_dir.to_owned(),
        }
        .into());
    }
    let mut entries = std::fs::read_dir(data_dir).map_err(io(data_dir))?;
    if entries.next().is_some() {
        let what = if data_dir.join(DB_DIR).exists() || Keyring::path_in(data_dir).exists() {
            "holds a store already"
        } else {
            "is not empty"
        };
        return Err(BackupRefusal::NotEmpty {
            dir: data_dir.to_owned(),
            what,
        }
        .into());
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(BackupRefusal::OpenDirectory {
            dir: data_dir.to_owned(),
            mode,
        }
        .into());
    }
    Ok(())
}

/// Writes the backup's store and keyring into `data_dir` (new, private, empty) and checks it.
fn restore_into(
    backup: &Path,
    m: &Manifest,
    data_dir: &Path,
    now: DateTime<Utc>,
) -> Result<BackupSummary, Error> {
    let keyring_dest = Keyring::path_in(data_dir);
    let store_path = backup.join(STORE_FILE);
    let db = super::backend(super::open_db(data_dir)?);
    let mut r = BufReader::new(std::fs::File::open(&store_path).map_err(io(&store_path))?);
    let mut at = 0u64;
    let damaged = |at: u64, what: &'static str| -> Error {
        BackupRefusal::Damaged {
            file: store_path.clone(),
            at,
            what,
        }
        .into()
    };
    let read =
        |r: &mut BufReader<std::fs::File>, n: usize, at: &mut u64| -> Result<Vec<u8>, Error> {
            let mut b = vec![0u8; n];
            r.read_exact(&mut b)
                .map_err(|_| damaged(*at, "it ends too soon"))?;
            *at += n as u64;
            Ok(b)
        };
    if read(&mut r, MAGIC.len(), &mut at)? != MAGIC {
        return Err(damaged(0, "it is not a packline backup"));
    }
    let mut tree: Option<Tree> = None;
    let mut entries = 0u64;
    loop {
        let tag = read(&mut r, 1, &mut at)?[0];
        let len = |r: &mut BufReader<std::fs::File>, at: &mut u64| -> Result<usize, Error> {
            let b = read(r, 4, at)?;
            let n = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
            if n > MAX_ITEM {
                return Err(damaged(*at, "an item claims an impossible length"));
            }
            Ok(n as usize)
        };
        match tag {
            b'T' => {
                let n = len(&mut r, &mut at)?;
                let name = read(&mut r, n, &mut at)?;
                let name = std::str::from_utf8(&name)
                    .map_err(|_| damaged(at, "a tree's name is not text"))?;
                tree = Some(db.open_tree(name)?);
            }
            b'E' => {
                let Some(t) = &tree else {
                    return Err(damaged(at, "an entry before any tree"));
                };
                let n = len(&mut r, &mut at)?;
                let k = read(&mut r, n, &mut at)?;
                let n = len(&mut r, &mut at)?;
                let v = read(&mut r, n, &mut at)?;
                t.insert(k, v)?;
                entries += 1;
            }
            b'Z' => break,
            _ => return Err(damaged(at - 1, "an unknown record")),
        }
    }
    if entries != m.entries {
        return Err(damaged(at, "it holds fewer entries than its manifest says"));
    }
    db.flush()?;
    // Every handle goes, so the store can open the database.
    drop(tree);
    drop(db);
    let keyring =
        std::fs::read(backup.join(KEYRING_FILE)).map_err(io(&backup.join(KEYRING_FILE)))?;
    let mut k = private_file(&keyring_dest)?;
    k.write_all(&keyring).map_err(io(&keyring_dest))?;
    k.sync_all().map_err(io(&keyring_dest))?;
    let store = Store::open(data_dir)?;
    if let Some(why) = store.keyring.untrusted() {
        return Err(BackupRefusal::KeyringMismatch {
            why: why.to_string(),
        }
        .into());
    }
    let orders = store.t.orders.len() as u64;
    if orders != m.orders {
        return Err(BackupRefusal::NotWhole {
            restored: orders,
            recorded: m.orders,
        }
        .into());
    }
    store.transact(|tx| {
        audit_in(
            tx,
            "packline",
            "restore",
            None,
            Some(&format!("from the backup of {}", m.created.to_rfc3339())),
            now,
        )
    })?;
    store.flush()?;
    Ok(BackupSummary {
        dir: data_dir.to_owned(),
        created: m.created,
        orders,
        entries,
        bytes: 0,
    })
}
