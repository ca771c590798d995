//! The files that hold secrets: master identity files (refused with loose permissions) and
//! atomic rewrites of the keyring.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::str::FromStr;

use age::secrecy::ExposeSecret;
use age::x25519;
use chrono::{DateTime, Utc};
use zeroize::Zeroizing;

use crate::store::Error;
use crate::store::refusal::OpenRefusal;

/// Writes `bytes` to `path` so that a crash leaves either the old or the new file, never a mix.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = path.with_extension("tmp");
    // A temp file left by a crash is ours to replace; never follow a link planted in its place.
    match fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(&tmp, e)),
    }
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(&tmp)
        .map_err(|e| Error::io(&tmp, e))?;
    f.write_all(bytes).map_err(|e| Error::io(&tmp, e))?;
    f.sync_all().map_err(|e| Error::io(&tmp, e))?;
    drop(f);
    fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

pub(super) fn parse_identity(bytes: &[u8]) -> Option<x25519::Identity> {
    let text = std::str::from_utf8(bytes).ok()?;
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .and_then(|l| x25519::Identity::from_str(l).ok())
}

/// Reads a master identity file, refusing one that group or others can read or write (as ssh
/// refuses a private key with loose permissions).
pub fn read_identity_file(path: &Path) -> Result<x25519::Identity, Error> {
    // A FIFO put in its place cannot hang the daemon: it must be a regular file.
    let (mut f, meta) = crate::files::open_regular(path).map_err(|e| Error::io(path, e))?;
    let owner = std::os::unix::fs::MetadataExt::uid(&meta);
    let me = nix::unistd::geteuid().as_raw();
    if owner != me && owner != 0 {
        return Err(Error::WrongKey(format!(
            "{} belongs to another user (uid {owner}): a master key must be owned by the user that runs packline, or by root",
            path.display()
        )));
    }
    let mode = meta.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(Error::IdentityFileMode {
            path: path.to_owned(),
            mode: mode & 0o777,
        });
    }
    let mut text = Zeroizing::new(Vec::new());
    f.read_to_end(&mut text).map_err(|e| Error::io(path, e))?;
    parse_identity(&text).ok_or_else(|| {
        Error::WrongKey(format!(
            "{} holds no age X25519 identity (a line starting AGE-SECRET-KEY-1)",
            path.display()
        ))
    })
}

pub(super) fn write_identity_file(
    path: &Path,
    id: &x25519::Identity,
    recipient: &x25519::Recipient,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                Error::from(OpenRefusal::KeyFileExists {
                    path: path.to_owned(),
                })
            } else {
                Error::io(path, e)
            }
        })?;
    let body = Zeroizing::new(format!(
        "# packline master identity, created {}\n# public key: {}\n{}\n",
        now.to_rfc3339(),
        recipient,
        id.to_string().expose_secret()
    ));
    f.write_all(body.as_bytes())
        .map_err(|e| Error::io(path, e))?;
    f.sync_all().map_err(|e| Error::io(path, e))
}
