//! The small files a site names (config, keyring, key, passphrase, credentials, locations,
//! keymap): opened without blocking and read only when they are regular files, so a FIFO or a
//! device named by mistake is an error naming it, never a hang. Reads nothing else.

use std::fs::{File, Metadata, OpenOptions};
use std::io::Read as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

/// Opens `path` for reading if it is a regular file (following links), with its metadata.
pub fn open_regular(path: &Path) -> std::io::Result<(File, Metadata)> {
    // Non-blocking, so that opening a FIFO returns at once instead of waiting for a writer.
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(path)?;
    let meta = f.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file (a FIFO, a device or a directory?)",
        ));
    }
    Ok((f, meta))
}

/// The bytes of the regular file at `path`.
pub fn read_regular(path: &Path) -> std::io::Result<Vec<u8>> {
    let (mut f, meta) = open_regular(path)?;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    f.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The text of the regular file at `path` (UTF-8).
pub fn read_regular_to_string(path: &Path) -> std::io::Result<String> {
    String::from_utf8(read_regular(path)?)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifo_or_a_directory_is_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        let err = read_regular(&fifo).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
        assert!(read_regular(dir.path()).is_err());
        let file = dir.path().join("f");
        std::fs::write(&file, "text").unwrap();
        assert_eq!(read_regular_to_string(&file).unwrap(), "text");
    }
}
