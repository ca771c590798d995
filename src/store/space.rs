//! Room on the disk that holds the store.
//!
//! sled writes as it opens (its recovery snapshot) and fails every write once the disk is full,
//! possibly halfway through a change made of several writes. So packline keeps two margins:
//! - a change is refused before it starts when the disk has less than [`LOW_SPACE`] free, with
//!   a message naming the disk and what to do; nothing is half written;
//! - a reserve file of [`RESERVE`] bytes, allocated while there is room, is given up when a
//!   full disk would keep the store from opening at all, so the floor can still read (lists,
//!   lookups, `check`) while someone frees space. It comes back at the next open once there is
//!   room again.

use std::path::{Path, PathBuf};

use super::Error;

/// sled's log segment size for new databases. An open reads the header of every segment, so
/// larger segments than sled's default (512 KiB) make for fewer reads: a store of a million
/// orders has a few hundred segments instead of thousands.
pub(crate) const SEGMENT_SIZE: usize = 8 * 1024 * 1024;
/// The size of the reserve file: room for sled's recovery snapshot (its page table) of a large
/// store.
pub const RESERVE: u64 = 32 * 1024 * 1024;
/// The least free space a change may start with: more than the reserve (so a reserve given up
/// for an open never lets changes start again on a full disk) by two of sled's log segments, so
/// the segment a write opens and the snapshot it may take both fit.
pub const LOW_SPACE: u64 = RESERVE + 2 * SEGMENT_SIZE as u64;
/// The reserve file, in the data directory.
pub const RESERVE_FILE: &str = "space-reserve";

/// `bytes` for a person: "12.5 MiB".
pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// Bytes free for an unprivileged writer on the filesystem of `dir`.
pub fn available(dir: &Path) -> Result<u64, Error> {
    let s = nix::sys::statvfs::statvfs(dir)
        .map_err(|e| Error::io(dir, std::io::Error::from_raw_os_error(e as i32)))?;
    Ok(s.blocks_available().saturating_mul(s.fragment_size()))
}

/// Whether the filesystem of `dir` has room for a change that may write `need` bytes, keeping
/// [`LOW_SPACE`] free; [`Error::DiskFull`] when it has not.
pub fn ensure_room(dir: &Path, need: u64) -> Result<(), Error> {
    let free = available(dir)?;
    if free >= need.saturating_add(LOW_SPACE) {
        return Ok(());
    }
    Err(Error::DiskFull {
        dir: dir.to_owned(),
        free,
        need: need.saturating_add(LOW_SPACE),
    })
}

/// Whether `e` is the operating system's "no space left on device".
pub fn is_no_space(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::StorageFull || e.raw_os_error() == Some(28)
}

fn reserve_path(data_dir: &Path) -> PathBuf {
    data_dir.join(RESERVE_FILE)
}

/// Gives up the reserve file so a store on a full disk can open; whether there was one.
pub fn release_reserve(data_dir: &Path) -> bool {
    let released = std::fs::remove_file(reserve_path(data_dir)).is_ok();
    if released {
        tracing::warn!(
            dir = %data_dir.display(),
            "the disk holding the store is full: its reserved space was given up so the store could open; free space on that disk"
        );
    }
    released
}

/// Allocates the reserve file when it is missing and the disk has room for it and a change
/// after it. Best effort: a site without a reserve works as before.
pub fn keep_reserve(data_dir: &Path) {
    let path = reserve_path(data_dir);
    if path.exists() {
        return;
    }
    match available(data_dir) {
        Ok(free) if free >= RESERVE + LOW_SPACE => {}
        _ => return,
    }
    if let Err(e) = allocate(&path, RESERVE) {
        let _ = std::fs::remove_file(&path);
        tracing::info!(error = %e, "no space reserve for the store");
    }
}

/// A file of `len` bytes that really holds its blocks (not a sparse one), made under a
/// temporary name and renamed, so a reserve is never half there.
fn allocate(path: &Path, len: u64) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::fd::AsRawFd as _;
    let part = path.with_extension("part");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&part)?;
    let allocated = i64::try_from(len).ok().is_some_and(|l| {
        nix::fcntl::fallocate(f.as_raw_fd(), nix::fcntl::FallocateFlags::empty(), 0, l).is_ok()
    });
    if !allocated {
        // A filesystem without fallocate: write the blocks.
        let zeros = vec![0u8; 1024 * 1024];
        let mut left = len;
        while left > 0 {
            let n = left.min(zeros.len() as u64) as usize;
            f.write_all(&zeros[..n])?;
            left -= n as u64;
        }
    }
    f.sync_all()?;
    drop(f);
    std::fs::rename(&part, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reserve_is_made_once_and_given_up_on_demand() {
        let dir = tempfile::tempdir().unwrap();
        keep_reserve(dir.path());
        let path = reserve_path(dir.path());
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.len(), RESERVE);
        use std::os::unix::fs::MetadataExt as _;
        // Its blocks are there: not a sparse file.
        assert!(meta.blocks() * 512 >= RESERVE, "{} blocks", meta.blocks());
        assert!(!dir.path().join("space-reserve.part").exists());
        assert!(release_reserve(dir.path()));
        assert!(!path.exists());
        assert!(!release_reserve(dir.path()));
    }

    #[test]
    fn room_is_refused_naming_the_disk_and_the_figures() {
        let dir = tempfile::tempdir().unwrap();
        ensure_room(dir.path(), 0).unwrap();
        let err = ensure_room(dir.path(), u64::MAX / 2)
            .unwrap_err()
            .to_string();
        assert!(err.contains(&dir.path().display().to_string()), "{err}");
        assert!(err.contains("is full") && err.contains("free"), "{err}");
        assert!(is_no_space(&std::io::Error::from_raw_os_error(28)));
        assert!(!is_no_space(&std::io::Error::from_raw_os_error(2)));
    }
}
