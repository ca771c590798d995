//! Sealing recipients (and the other records that may hold personal data: bought labels, the
//! notes of customer inquiries) with `age`, and the keyring of key epochs that makes
//! crypto-shredding work.
//!
//! Every recipient record is encrypted to the X25519 recipient of the current key epoch before it
//! reaches sled. Each epoch's secret lives in the keyring file (outside sled), itself encrypted to
//! the site's master recipient, so sealing needs public keys only and the daemon can import while
//! locked. Destroying an epoch's secret makes every copy of every record sealed to it unreadable,
//! including stale copies sled's log may still hold. This module never writes a secret in the
//! clear, and never holds a decrypted secret longer than the `Keyring` that unlocked it.

mod envelope;
mod files;

pub use envelope::{envelope_epoch, parse_envelope};
use files::{parse_identity, write_identity_file};
pub use files::{read_identity_file, write_atomically};

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use age::secrecy::{ExposeSecret, SecretString};
use age::x25519;
use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::Error;
use crate::store::backend::Tree;
use crate::store::refusal::OpenRefusal;

/// The file name of the keyring inside the data directory.
pub const KEYRING_FILE: &str = "keyring.json";

/// Magic bytes in front of every sealed record: `PLR1`, then the epoch (u32 BE), then the length
/// of the age ciphertext (u32 BE), then the ciphertext. The explicit length makes every copy of a
/// sealed record findable and checkable on its own, even inside sled's log.
pub const ENVELOPE_MAGIC: &[u8; 4] = b"PLR1";
const ENVELOPE_HEADER: usize = 12;

/// How the master identity is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Protection {
    /// Sealed in the keyring with an age scrypt passphrase.
    Passphrase,
    /// Kept by the operator in an identity file of mode 0600 (unattended sites).
    IdentityFile,
}

/// Where the master identity comes from when unlocking.
pub enum MasterSource {
    IdentityFile(PathBuf),
    Passphrase(SecretString),
}

#[derive(Clone, Serialize, Deserialize)]
struct KeyringFile {
    format: u32,
    master: MasterEntry,
    epochs: Vec<EpochEntry>,
    #[serde(default)]
    shredded: Vec<ShreddedEpoch>,
}

#[derive(Clone, Serialize, Deserialize)]
struct MasterEntry {
    recipient: String,
    protection: Protection,
    /// Passphrase sites only: the master identity, age scrypt-encrypted (armored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sealed_identity: Option<String>,
}

#[derive(Clone, Serialize, Deserialize)]
struct EpochEntry {
    id: u32,
    label: String,
    created: DateTime<Utc>,
    recipient: String,
    /// The epoch's identity, age-encrypted (armored) to the master recipient.
    sealed_secret: String,
}

#[derive(Clone, Serialize, Deserialize)]
struct ShreddedEpoch {
    id: u32,
    label: String,
    shredded_at: DateTime<Utc>,
}

/// A key epoch as others may see it: no secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EpochInfo {
    pub id: u32,
    pub label: String,
    pub created: DateTime<Utc>,
}

/// Secrets available after an unlock. Identities and keys wipe themselves on drop.
struct Unlocked {
    epochs: BTreeMap<u32, EpochSecret>,
}

/// An epoch's identity and the blind-index key derived from it. Deriving the index key from the
/// epoch secret means shredding the epoch also destroys the means to test guessed names against
/// the index entries of its records, including stale copies in sled's log.
struct EpochSecret {
    identity: x25519::Identity,
    index_key: Zeroizing<[u8; 32]>,
}

impl EpochSecret {
    fn new(identity: x25519::Identity) -> Self {
        let index_key = epoch_index_key(&identity);
        EpochSecret {
            identity,
            index_key,
        }
    }
}

/// The blind-index key of an epoch: HMAC-SHA256 keyed by the epoch's secret over a fixed label.
pub fn epoch_index_key(identity: &x25519::Identity) -> Zeroizing<[u8; 32]> {
    use hmac::{Hmac, Mac};
    let secret = identity.to_string();
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(secret.expose_secret().as_bytes())
        .expect("HMAC takes any key length");
    mac.update(b"packline blind name index v1");
    let mut index_key = Zeroizing::new([0u8; 32]);
    index_key.copy_from_slice(&mac.finalize().into_bytes());
    index_key
}

/// The keyring file and, when unlocked, the secrets it protects.
pub struct Keyring {
    path: PathBuf,
    file: KeyringFile,
    master_recipient: x25519::Recipient,
    /// Parsed public keys of the live epochs.
    recipients: BTreeMap<u32, x25519::Recipient>,
    unlocked: Option<Unlocked>,
    /// Where the store records each epoch's recipient as the epoch is made (its `meta` tree),
    /// so a keyring whose recipients were swapped is found without any secret.
    pins: Option<Tree>,
    /// Why this keyring must not be sealed to: an epoch's recipient is not the one recorded
    /// when the epoch was made, or not its secret's own.
    untrusted: Option<String>,
    /// Another site's keys as that site published them (`Keyring::published`): everything is
    /// sealed to the one epoch it published (none: nothing can be sealed), and no epoch is ever
    /// made or forgotten here.
    foreign: Option<Option<u32>>,
}

/// The intake epoch a site publishes for the other sites of a shared database, so the one
/// that syncs the account can seal the site's new orders to it: its public key only, and
/// when it was published (a site's retention keeps the epoch at least `KEEP_PUBLISHED` after
/// that, and others seal to it at most `TRUST_PUBLISHED` after).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PublishedKey {
    pub epoch: u32,
    pub recipient: String,
    pub at: DateTime<Utc>,
    /// The epoch published before this one, and until when retention still keeps it: the
    /// syncing daemon may have read it just before it was replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<(u32, DateTime<Utc>)>,
}

impl PublishedKey {
    /// The epochs a site's retention must not shred at `now`: the one published, and the one
    /// before it, each for `KEEP_PUBLISHED` after it was last published.
    pub fn kept(&self, now: DateTime<Utc>) -> Vec<u32> {
        let mut kept = Vec::new();
        if self.at + KEEP_PUBLISHED > now {
            kept.push(self.epoch);
        }
        if let Some((epoch, until)) = self.previous
            && until > now
        {
            kept.push(epoch);
        }
        kept
    }
}

/// How long after its publication another site seals to a published epoch.
pub const TRUST_PUBLISHED: chrono::TimeDelta = chrono::TimeDelta::hours(12);
/// How long after its last publication a site keeps a published epoch from being shredded:
/// longer than others trust it, so whatever they sealed to it is in the store by then, and
/// retention moves it like any other record.
pub const KEEP_PUBLISHED: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// The key in the store's `meta` tree recording an epoch's recipient.
fn pin_key(epoch: u32) -> Vec<u8> {
    let mut k = super::keys::meta::EPOCH_PIN.as_bytes().to_vec();
    k.extend_from_slice(&epoch.to_be_bytes());
    k
}

impl Keyring {
    pub fn path_in(data_dir: &Path) -> PathBuf {
        data_dir.join(KEYRING_FILE)
    }

    /// Creates the keyring of a new site: a master identity and a first epoch.
    /// With `MasterSource::IdentityFile` the master identity is written to that path (mode 0600,
    /// never overwriting a file); with a passphrase it is sealed inside the keyring.
    pub fn init(data_dir: &Path, source: &MasterSource, now: DateTime<Utc>) -> Result<Self, Error> {
        let path = Self::path_in(data_dir);
        if path.exists() {
            return Err(Error::KeysExist { path });
        }
        let master = x25519::Identity::generate();
        let master_recipient = master.to_public();
        let (protection, sealed_identity) = match source {
            MasterSource::IdentityFile(id_path) => {
                write_identity_file(id_path, &master, &master_recipient, now)?;
                (Protection::IdentityFile, None)
            }
            MasterSource::Passphrase(pass) => {
                let scrypt = age::scrypt::Recipient::new(pass.clone());
                let sealed =
                    age::encrypt_and_armor(&scrypt, master.to_string().expose_secret().as_bytes())
                        .map_err(|e| Error::Crypto(format!("sealing the master identity: {e}")))?;
                (Protection::Passphrase, Some(sealed))
            }
        };
        let mut ring = Keyring {
            path,
            file: KeyringFile {
                format: 1,
                master: MasterEntry {
                    recipient: master_recipient.to_string(),
                    protection,
                    sealed_identity,
                },
                epochs: Vec::new(),
                shredded: Vec::new(),
            },
            master_recipient,
            recipients: BTreeMap::new(),
            unlocked: None,
            pins: None,
            untrusted: None,
            foreign: None,
        };
        ring.new_epoch(week_label(now), now)?;
        Ok(ring)
    }

    /// Reads the keyring of an existing site. Needs no secret.
    pub fn load(data_dir: &Path) -> Result<Self, Error> {
        let path = Self::path_in(data_dir);
        let (mut f, meta) = match crate::files::open_regular(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NoKeys { path });
            }
            Err(e) => return Err(Error::io(&path, e)),
        };
        // The keyring holds the sealed epoch secrets: as ssh treats a private key, one that
        // others may read is refused.
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(Error::Keyring {
                path: path.clone(),
                detail: format!(
                    "has mode {mode:o}: it must not be readable by group or others. Run: chmod 600 {}",
                    path.display()
                ),
            });
        }
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut f, &mut bytes).map_err(|e| Error::io(&path, e))?;
        let file: KeyringFile = serde_json::from_slice(&bytes).map_err(|e| Error::Keyring {
            path: path.clone(),
            detail: e.to_string(),
        })?;
        let master_recipient =
            x25519::Recipient::from_str(&file.master.recipient).map_err(|e| Error::Keyring {
                path: path.clone(),
                detail: format!("master recipient: {e}"),
            })?;
        let mut recipients = BTreeMap::new();
        for e in &file.epochs {
            let r = x25519::Recipient::from_str(&e.recipient).map_err(|err| Error::Keyring {
                path: path.clone(),
                detail: format!("epoch {}: {err}", e.id),
            })?;
            recipients.insert(e.id, r);
        }
        Ok(Keyring {
            path,
            file,
            master_recipient,
            recipients,
            unlocked: None,
            pins: None,
            untrusted: None,
            foreign: None,
        })
    }

    /// Another site's keys as it published them: its master recipient and one intake epoch's
    /// public key (if it published one), to seal that site's new orders to. It holds no secret
    /// and never unlocks; `site` names it in messages.
    pub fn published(
        site: &str,
        master: &str,
        key: Option<&PublishedKey>,
    ) -> Result<Keyring, Error> {
        let path = PathBuf::from(format!("the keys site {site} published"));
        let bad = |what: &str, e: &dyn std::fmt::Display| Error::Keyring {
            path: path.clone(),
            detail: format!("{what}: {e}"),
        };
        let master_recipient =
            x25519::Recipient::from_str(master).map_err(|e| bad("master recipient", &e))?;
        let mut epochs = Vec::new();
        let mut recipients = BTreeMap::new();
        if let Some(key) = key {
            let recipient =
                x25519::Recipient::from_str(&key.recipient).map_err(|e| bad("intake epoch", &e))?;
            recipients.insert(key.epoch, recipient);
            epochs.push(EpochEntry {
                id: key.epoch,
                label: String::new(),
                created: key.at,
                recipient: key.recipient.clone(),
                sealed_secret: String::new(),
            });
        }
        Ok(Keyring {
            file: KeyringFile {
                format: 1,
                master: MasterEntry {
                    recipient: master.to_string(),
                    protection: Protection::IdentityFile,
                    sealed_identity: None,
                },
                epochs,
                shredded: Vec::new(),
            },
            path,
            master_recipient,
            recipients,
            unlocked: None,
            pins: None,
            untrusted: None,
            foreign: Some(key.map(|k| k.epoch)),
        })
    }

    /// Binds the keyring to its store: each epoch's recipient is checked against the one the
    /// store recorded when the epoch was made, and new epochs are recorded there before the
    /// keyring names them. A store that recorded none yet (made by an older packline) records
    /// today's recipients. A mismatch makes the keyring refuse to seal, and says why.
    pub fn bind_pins(&mut self, meta: Tree) -> Result<(), Error> {
        let first = meta
            .scan_prefix(super::keys::meta::EPOCH_PIN)
            .next()
            .is_none();
        for e in &self.file.epochs {
            match meta.get(pin_key(e.id))? {
                Some(pinned) if pinned.as_ref() == e.recipient.as_bytes() => {}
                None if first => {
                    meta.insert(pin_key(e.id), e.recipient.as_bytes())?;
                }
                found => {
                    self.untrusted.get_or_insert(format!(
                        "epoch {}'s recipient is {} than the one this store recorded when the epoch was made: keyring.json was edited or swapped, and recipients sealed to it would be readable by another key's holder. Nothing is sealed to it: restore keyring.json from a backup of this site",
                        e.id,
                        if found.is_some() { "another" } else { "not known, other" }
                    ));
                }
            }
        }
        if first {
            meta.flush()?;
        }
        self.pins = Some(meta);
        Ok(())
    }

    /// A copy of this keyring, unlocked if it is, bound to the same store (a second handle on
    /// one open store: `Store::share`). Key changes through one are not seen by the other.
    pub(super) fn share(&self) -> Keyring {
        Keyring {
            path: self.path.clone(),
            file: self.file.clone(),
            master_recipient: self.master_recipient.clone(),
            recipients: self.recipients.clone(),
            unlocked: self.unlocked.as_ref().map(|u| Unlocked {
                epochs: u
                    .epochs
                    .iter()
                    .map(|(id, e)| {
                        (
                            *id,
                            EpochSecret {
                                identity: e.identity.clone(),
                                index_key: e.index_key.clone(),
                            },
                        )
                    })
                    .collect(),
            }),
            pins: self.pins.clone(),
            untrusted: self.untrusted.clone(),
            foreign: self.foreign,
        }
    }

    /// Lets go of the store's meta tree (the database is being closed).
    pub fn unbind_pins(&mut self) {
        self.pins = None;
    }

    /// Why nothing may be sealed to this keyring, when something is wrong with it.
    pub fn untrusted(&self) -> Option<&str> {
        self.untrusted.as_deref()
    }

    /// The public key of a live epoch to seal to; refused when the keyring is not to be trusted.
    fn recipient_of(&self, epoch: u32) -> Result<&x25519::Recipient, Error> {
        if let Some(why) = &self.untrusted {
            return Err(Error::Keyring {
                path: self.path.clone(),
                detail: why.clone(),
            });
        }
        self.recipients
            .get(&epoch)
            .ok_or(Error::EpochShredded { epoch })
    }

    pub fn protection(&self) -> Protection {
        self.file.master.protection
    }

    pub fn master_recipient(&self) -> String {
        self.file.master.recipient.clone()
    }

    pub fn is_unlocked(&self) -> bool {
        self.unlocked.is_some()
    }

    /// Unlocks with the master identity: decrypts every live epoch secret and the index key.
    pub fn unlock(&mut self, source: &MasterSource) -> Result<(), Error> {
        let master = match source {
            MasterSource::IdentityFile(p) => read_identity_file(p)?,
            MasterSource::Passphrase(pass) => {
                let sealed = self.file.master.sealed_identity.as_deref().ok_or_else(|| {
                    Error::WrongKey(
                        "this site's master key is an identity file, not a passphrase: set [keys] identity_file".into(),
                    )
                })?;
                let mut id = age::scrypt::Identity::new(pass.clone());
                id.set_max_work_factor(22);
                let plain = Zeroizing::new(
                    age::decrypt(&id, sealed.as_bytes()).map_err(|_| Error::BadPassphrase)?,
                );
                parse_identity(&plain).ok_or_else(|| Error::Keyring {
                    path: self.path.clone(),
                    detail: "sealed master identity is not an age identity".into(),
                })?
            }
        };
        if master.to_public().to_string() != self.file.master.recipient {
            let origin = match source {
                MasterSource::IdentityFile(p) => format!("identity file {}", p.display()),
                MasterSource::Passphrase(_) => "the passphrase".to_owned(),
            };
            return Err(Error::WrongKey(format!(
                "{origin} holds the master key of another store (its recipient is {}, this store's is {})",
                master.to_public(),
                self.file.master.recipient
            )));
        }
        let mut epochs = BTreeMap::new();
        for e in &self.file.epochs {
            let plain = Zeroizing::new(
                age::decrypt(&master, e.sealed_secret.as_bytes())
                    .map_err(|err| Error::Crypto(format!("opening key epoch {}: {err}", e.id)))?,
            );
            let id = parse_identity(&plain).ok_or_else(|| Error::Keyring {
                path: self.path.clone(),
                detail: format!("epoch {} secret is not an age identity", e.id),
            })?;
            // New recipients are sealed to the recorded recipient: one that is not the secret's
            // own would send them to someone else's key.
            if id.to_public().to_string() != e.recipient {
                let detail = format!(
                    "epoch {}'s recipient is not the one of its secret: the keyring was edited, and recipients sealed to it would be readable by another key's holder; restore keyring.json from a backup",
                    e.id
                );
                self.untrusted.get_or_insert(detail.clone());
                return Err(Error::Keyring {
                    path: self.path.clone(),
                    detail,
                });
            }
            epochs.insert(e.id, EpochSecret::new(id));
        }
        self.unlocked = Some(Unlocked { epochs });
        Ok(())
    }

    /// Forgets every decrypted secret.
    pub fn lock(&mut self) {
        self.unlocked = None;
    }

    /// The intake epoch new records are sealed to: one per ISO week (the newest, if `keys rotate`
    /// started another within the week). Starting one needs only the master recipient, so it works
    /// while locked.
    pub fn current_epoch(&mut self, now: DateTime<Utc>) -> Result<(u32, x25519::Recipient), Error> {
        self.epoch_labelled(week_label(now), now)
    }

    /// The epoch for records whose retention ends on `day`: everything in it expires together,
    /// so it is shredded whole without moving anything.
    pub fn expiry_epoch(
        &mut self,
        day: chrono::NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<(u32, x25519::Recipient), Error> {
        self.epoch_labelled(format!("expires-{day}"), now)
    }

    fn epoch_labelled(
        &mut self,
        label: String,
        now: DateTime<Utc>,
    ) -> Result<(u32, x25519::Recipient), Error> {
        if let Some(published) = self.foreign {
            return published
                .and_then(|id| self.recipients.get(&id).map(|r| (id, r.clone())))
                .ok_or_else(|| {
                    Error::from(OpenRefusal::NoPublishedEpoch {
                        keyring: self.path.clone(),
                    })
                });
        }
        let found = self
            .file
            .epochs
            .iter()
            .rev()
            .find(|e| e.label == label)
            .map(|e| e.id);
        if let Some(why) = &self.untrusted {
            return Err(Error::Keyring {
                path: self.path.clone(),
                detail: why.clone(),
            });
        }
        match found.and_then(|id| self.recipients.get(&id).map(|r| (id, r.clone()))) {
            Some(hit) => Ok(hit),
            None => self.new_epoch(label, now),
        }
    }

    /// Starts a new intake epoch now, whatever the week (`packline keys rotate`).
    pub fn rotate(&mut self, now: DateTime<Utc>) -> Result<EpochInfo, Error> {
        let (id, _) = self.new_epoch(week_label(now), now)?;
        Ok(self
            .epochs()
            .into_iter()
            .find(|e| e.id == id)
            .expect("just added"))
    }

    fn new_epoch(
        &mut self,
        label: String,
        now: DateTime<Utc>,
    ) -> Result<(u32, x25519::Recipient), Error> {
        if self.foreign.is_some() {
            return Err(OpenRefusal::ForeignEpoch {
                keyring: self.path.clone(),
            }
            .into());
        }
        let id = self
            .file
            .epochs
            .iter()
            .map(|e| e.id)
            .chain(self.file.shredded.iter().map(|e| e.id))
            .max()
            .unwrap_or(0)
            + 1;
        let identity = x25519::Identity::generate();
        let recipient = identity.to_public();
        let sealed_secret = age::encrypt_and_armor(
            &self.master_recipient,
            identity.to_string().expose_secret().as_bytes(),
        )
        .map_err(|e| Error::Crypto(format!("sealing key epoch {id}: {e}")))?;
        self.file.epochs.push(EpochEntry {
            id,
            label,
            created: now,
            recipient: recipient.to_string(),
            sealed_secret,
        });
        // The store records the recipient first: a keyring naming an epoch the store does not
        // know is one somebody else wrote.
        if let Some(meta) = &self.pins {
            meta.insert(pin_key(id), recipient.to_string().as_bytes())?;
            meta.flush()?;
        }
        self.save()?;
        if let Some(u) = self.unlocked.as_mut() {
            u.epochs.insert(id, EpochSecret::new(identity));
        }
        self.recipients.insert(id, recipient.clone());
        Ok((id, recipient))
    }

    pub fn epochs(&self) -> Vec<EpochInfo> {
        self.file
            .epochs
            .iter()
            .map(|e| EpochInfo {
                id: e.id,
                label: e.label.clone(),
                created: e.created,
            })
            .collect()
    }

    pub fn has_epoch(&self, id: u32) -> bool {
        self.recipients.contains_key(&id)
    }

    /// How many epochs retention has shredded so far.
    pub fn shredded_count(&self) -> usize {
        self.file.shredded.len()
    }

    /// Destroys the secrets of these epochs: after this, nothing sealed to them can be opened by
    /// anyone. `current` (the intake epoch new records go to) is never destroyed. The keyring is
    /// rewritten atomically before this returns.
    pub fn shred(&mut self, ids: &[u32], current: u32, now: DateTime<Utc>) -> Result<(), Error> {
        if ids.is_empty() {
            return Ok(());
        }
        if ids.contains(&current) {
            return Err(Error::Crypto(
                "refusing to shred the current key epoch".into(),
            ));
        }
        let (gone, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.file.epochs)
            .into_iter()
            .partition(|e| ids.contains(&e.id));
        self.file.epochs = kept;
        for e in gone {
            self.file.shredded.push(ShreddedEpoch {
                id: e.id,
                label: e.label,
                shredded_at: now,
            });
        }
        if let Some(u) = self.unlocked.as_mut() {
            u.epochs.retain(|id, _| !ids.contains(id));
        }
        self.recipients.retain(|id, _| !ids.contains(id));
        self.save()
    }

    /// The blind-index key of an epoch, when unlocked and the epoch is live.
    pub fn index_key(&self, epoch: u32) -> Option<&[u8; 32]> {
        self.unlocked
            .as_ref()
            .and_then(|u| u.epochs.get(&epoch))
            .map(|s| &*s.index_key)
    }

    /// Every live epoch's blind-index key, when unlocked (a name search looks in each).
    pub fn index_keys(&self) -> Option<Vec<(u32, &[u8; 32])>> {
        self.unlocked.as_ref().map(|u| {
            u.epochs
                .iter()
                .map(|(id, s)| (*id, &*s.index_key))
                .collect()
        })
    }

    /// Rewrites the keyring file atomically: temp file, fsync, rename, fsync the directory.
    fn save(&self) -> Result<(), Error> {
        if self.foreign.is_some() {
            return Err(OpenRefusal::ForeignSave {
                keyring: self.path.clone(),
            }
            .into());
        }
        let bytes = serde_json::to_vec_pretty(&self.file).expect("keyring serializes");
        write_atomically(&self.path, &bytes)
    }
}

/// ISO week label such as `2026-W48`.
pub fn week_label(t: DateTime<Utc>) -> String {
    let w = t.iso_week();
    format!("{}-W{:02}", w.year(), w.week())
}

#[cfg(test)]
mod tests;
