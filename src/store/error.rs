//! Everything that can go wrong in the store.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::refusal::{
    BackupRefusal, EngineRefusal, FloorRefusal, InputRefusal, LabelRefusal, MoveRefusal,
    OpenRefusal, Refusal, SiteRefusal,
};
use super::space;
use crate::domain::{IllegalTransition, OrderId};

/// Everything that can go wrong in the store. Messages say what is wrong, where, and what to do;
/// none of them carries personal data.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("store: {0}")]
    Sled(sled::Error),
    /// PostgreSQL, under a store that lives there, failed or refused (never a row's values).
    #[error("the store's database: {0}")]
    Database(String),
    #[error(
        "the store in {dir} is damaged ({what} does not check out): nothing was changed; restore the data directory from a backup (`packline restore`), and keep the damaged copy for inspection",
        dir = dir.display()
    )]
    Damaged { dir: PathBuf, what: String },
    #[error(
        "the disk holding {dir} is full: {free} free, and a change needs {need} (packline keeps room so that nothing is ever half written). Nothing was changed: free space on that disk, then run it again",
        free = space::mib(*free),
        need = space::mib(*need)
    )]
    DiskFull { dir: PathBuf, free: u64, need: u64 },
    #[error(
        "no space left on the disk holding the store: the change stopped there, and what was stored before it is kept. Free space on that disk, then run it again"
    )]
    NoSpace,
    #[error("no keys for this store ({path} is missing): run `packline keys init` first")]
    NoKeys { path: PathBuf },
    #[error(
        "keys already exist at {path}: `keys init` never replaces a site's keys; use `packline keys rotate` for a new epoch"
    )]
    KeysExist { path: PathBuf },
    #[error(
        "keyring {path} is damaged: {detail}. Nothing was changed: restore the data directory from a backup (`packline restore`), and keep the damaged copy for inspection"
    )]
    Keyring { path: PathBuf, detail: String },
    #[error(
        "the store is locked: {action} needs the site's master key, which a lead holds. Unlock by \
         giving the master passphrase (--passphrase-file FILE, PACKLINE_PASSPHRASE_FILE, or at the \
         prompt on a terminal) or, on an unattended site, set [keys] identity_file (or \
         PACKLINE_IDENTITY_FILE) to the 0600 identity file made by `packline keys init --identity-file`"
    )]
    Locked { action: &'static str },
    #[error(
        "identity file {path} has mode {mode:o}: a master key must not be readable or writable by \
         group or others. Run: chmod 600 {path}"
    )]
    IdentityFileMode { path: PathBuf, mode: u32 },
    #[error("wrong master key: {0}")]
    WrongKey(String),
    #[error("the passphrase does not unlock this store's master key")]
    BadPassphrase,
    #[error(
        "this record (a recipient, a label or a note) was sealed under key epoch {epoch}, which retention has destroyed"
    )]
    EpochShredded { epoch: u32 },
    #[error("a sealed recipient record is damaged and cannot be opened")]
    CorruptRecord,
    /// A stored record that does not read (never its values).
    #[error("a stored {kind} record is damaged: {detail}")]
    Corrupt { kind: RecordKind, detail: String },
    #[error("crypto: {0}")]
    Crypto(String),
    #[error("order {0} is not in the store")]
    NoSuchOrder(OrderId),
    /// A unit's code already went with another unit (the text names where, and what to do).
    #[error("{0}")]
    CodeUsed(String),
    #[error(
        "there is no inquiry {0} (never opened, or destroyed by retention a year after it was resolved): see `packline inquiry list`"
    )]
    NoSuchInquiry(u64),
    #[error(transparent)]
    Inquiry(#[from] crate::domain::inquiry::InquiryRefusal),
    #[error(
        "no return answers to \"{0}\": scan the return label's tracking number, the RMA id or the order id (an unexpected return is recorded only against an order in the store); see `packline returns list`"
    )]
    NoSuchReturn(String),
    #[error(transparent)]
    Return(#[from] crate::domain::returns::ReturnRefusal),
    #[error("order {order}: {source}")]
    Transition {
        order: OrderId,
        #[source]
        source: IllegalTransition,
    },
    #[error("order {0} has no recipient on record (never received, or destroyed by retention)")]
    NoRecipient(OrderId),
    #[error("audit log: {0}")]
    AuditBroken(String),
    /// The store refuses what was asked: nothing was changed (`store::refusal`).
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(
        "order {order} is on hold (since {since}, by {by}): nothing moves it on until a lead releases it (packline orders release {order}); a lead can read the reason (packline orders holds)",
        since = since.format("%Y-%m-%d %H:%M UTC")
    )]
    OnHold {
        order: OrderId,
        by: String,
        since: DateTime<Utc>,
    },
    #[error(
        "a stored {kind} record is in format {format}, which a newer packline wrote: this one reads up to format {reads}. Nothing was changed: run the newer packline"
    )]
    NewerRecord {
        kind: RecordKind,
        format: u8,
        reads: u8,
    },
    #[error(
        "the store in {dir} was written by a newer packline (schema version {found}; this packline reads up to version {reads}). Nothing was changed: run the newer packline (or restore a backup this version made)",
        dir = dir.display()
    )]
    NewerStore {
        dir: PathBuf,
        found: u32,
        reads: u32,
    },
    #[error(
        "this keyring belongs to another store (the store records master recipient {store}, the keyring {keyring})"
    )]
    KeyringMismatch { store: String, keyring: String },
}

impl Error {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_owned(),
            source,
        }
    }
}

/// Each group of refusals is the store's error as it is.
macro_rules! refused_from {
    ($($group:ident),*) => {$(
        impl From<$group> for Error {
            fn from(r: $group) -> Self {
                Error::Refused(Refusal::from(r))
            }
        }
    )*};
}
refused_from!(
    EngineRefusal,
    OpenRefusal,
    BackupRefusal,
    SiteRefusal,
    MoveRefusal,
    FloorRefusal,
    LabelRefusal,
    InputRefusal
);

impl Error {
    /// A stored record of `kind` that does not read.
    pub fn corrupt(kind: RecordKind, detail: impl Into<String>) -> Self {
        Error::Corrupt {
            kind,
            detail: detail.into(),
        }
    }
}

/// The kinds of record the store keeps, as its messages name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    Order,
    SetAside,
    Inquiry,
    Return,
    Exceptions,
    Batch,
    PackCheck,
    Packages,
    /// Schema 1's parcel, upgraded into packages.
    Parcel,
    UnitCodes,
    Hold,
    SyncPlace,
    SealedRecipient,
    SealedNote,
    Shipment,
    PrintJob,
    ShipmentV2,
    PurchaseIntent,
    /// The store's schema version and its upgrade.
    Schema,
    /// The intake key a site published.
    PublishedKey,
    /// An index kept beside the records (epochs, names, returns, marks).
    Index,
    /// A counter that numbers records (inquiries, returns).
    Counter,
    Lease,
}

impl RecordKind {
    pub fn name(self) -> &'static str {
        match self {
            RecordKind::Order => "order",
            RecordKind::SetAside => "set-aside order",
            RecordKind::Inquiry => "inquiry",
            RecordKind::Return => "return",
            RecordKind::Exceptions => "exception notes",
            RecordKind::Batch => "pick batch",
            RecordKind::PackCheck => "pack check",
            RecordKind::Packages => "packages",
            RecordKind::Parcel => "parcel",
            RecordKind::UnitCodes => "unit codes",
            RecordKind::Hold => "hold",
            RecordKind::SyncPlace => "sync's place",
            RecordKind::SealedRecipient => "sealed recipient",
            RecordKind::SealedNote => "sealed note",
            RecordKind::Shipment => "shipment",
            RecordKind::PrintJob => "print job",
            RecordKind::ShipmentV2 => "shipment v2",
            RecordKind::PurchaseIntent => "purchase intent",
            RecordKind::Schema => "schema",
            RecordKind::PublishedKey => "published key",
            RecordKind::Index => "index",
            RecordKind::Counter => "counter",
            RecordKind::Lease => "lease",
        }
    }
}

impl std::fmt::Display for RecordKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl From<sled::Error> for Error {
    fn from(e: sled::Error) -> Self {
        match e {
            sled::Error::Io(io) if space::is_no_space(&io) => Error::NoSpace,
            other => Error::Sled(other),
        }
    }
}
