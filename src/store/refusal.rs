//! What the store refuses to do, by kind: each refusal carries what its message names (ids,
//! states, paths; never personal data) and says what to do. A new refusal is a variant here,
//! in the group it belongs to, raised as `Error::Refused` (every group converts into it).

use std::path::PathBuf;

use chrono::{DateTime, Utc};

use crate::domain::{OrderId, OrderState};

/// A refusal of the store: the request was understood and is not done, nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The engine under the store refused a transaction.
    #[error(transparent)]
    Engine(#[from] EngineRefusal),
    /// The data directory, its database or its keyring cannot be opened or written as asked.
    #[error(transparent)]
    Open(#[from] OpenRefusal),
    /// A backup that cannot be made or restored.
    #[error(transparent)]
    Backup(#[from] BackupRefusal),
    /// Another site of this database cannot take orders now (`store::sites`).
    #[error(transparent)]
    Site(#[from] SiteRefusal),
    /// An order that does not move to another site.
    #[error(transparent)]
    Move(#[from] MoveRefusal),
    /// An order not in a state, or not on a floor, that allows what was asked.
    #[error(transparent)]
    Floor(#[from] FloorRefusal),
    /// A label, a shipment or a print job that does not allow what was asked.
    #[error(transparent)]
    Label(#[from] LabelRefusal),
    /// Input to an operation that it does not take.
    #[error(transparent)]
    Input(#[from] InputRefusal),
    /// A site's lease is another daemon's (`store::lease`): one daemon serves a site.
    #[error(
        "site {site} already has a live daemon ({holder}); a second one is refused. Stop that one first; if it is gone (killed, or its machine lost), its lease ends within {left_secs} s and this one may start then"
    )]
    LeaseHeld {
        site: String,
        holder: String,
        left_secs: i64,
    },
}

/// The engine under the store refused a transaction.
#[derive(Debug, thiserror::Error)]
pub enum EngineRefusal {
    /// `database`: "database" (PostgreSQL) or "sled database".
    #[error("the tree {tree} is not one of this {database}'s")]
    ForeignTree {
        tree: String,
        database: &'static str,
    },
    #[error("a transaction conflicted with another writer and was not run again")]
    Conflicted,
    #[error("a transaction ended without an answer")]
    NoAnswer,
}

/// The data directory, its database or its keyring cannot be opened or written as asked.
#[derive(Debug, thiserror::Error)]
pub enum OpenRefusal {
    #[error(
        "the store in {dir} is in use by another packline process (is `packline serve` running?)",
        dir = dir.display()
    )]
    InUse { dir: PathBuf },
    #[error(
        "the disk holding {dir} is full ({free} free): the store cannot open without writing its recovery snapshot. Nothing was changed: free space on that disk, then run it again",
        dir = dir.display(),
        free = super::space::mib(*free)
    )]
    FullAtOpen { dir: PathBuf, free: u64 },
    #[error(
        "the data directory {dir} has mode {mode:o}: it must not be open to group or others. Run: chmod 700 {dir}",
        dir = dir.display()
    )]
    OpenDirectory { dir: PathBuf, mode: u32 },
    #[error(
        "the database {target} holds no keyed store for site {site}, though {keyring} is there: run `packline keys init` with this [store] and [site] to key it, or point [store] url at the site's database",
        keyring = keyring.display()
    )]
    UnkeyedDatabase {
        target: String,
        site: String,
        keyring: PathBuf,
    },
    #[error(
        "an interrupted `packline keys init` left {keyring} behind, but the store was never keyed: remove that file (and the identity file, if one was written) and run keys init again",
        keyring = keyring.display()
    )]
    InterruptedInit { keyring: PathBuf },
    #[error(
        "the database {target} already holds packline's records (tree {tree}): a store is moved only into a database that holds none; nothing was written"
    )]
    MigrateTargetUsed { target: String, tree: String },
    #[error(
        "{path} already exists: packline never overwrites a key file; choose a new path",
        path = path.display()
    )]
    KeyFileExists { path: PathBuf },
    /// `keyring`: the published keys of another site (a keyring that is no file of this one).
    #[error(
        "{keyring} hold no intake key: its daemon publishes one as it runs",
        keyring = keyring.display()
    )]
    NoPublishedEpoch { keyring: PathBuf },
    #[error(
        "{keyring} cannot make a key epoch: only that site's own keyring does",
        keyring = keyring.display()
    )]
    ForeignEpoch { keyring: PathBuf },
    #[error("{keyring} is not a keyring file to write", keyring = keyring.display())]
    ForeignSave { keyring: PathBuf },
}

/// A backup that cannot be made or restored.
#[derive(Debug, thiserror::Error)]
pub enum BackupRefusal {
    #[error("{dir} exists already: one backup a second", dir = dir.display())]
    Exists { dir: PathBuf },
    /// `manifest`: the manifest's file name.
    #[error(
        "{dir} is not a packline backup (it has no {manifest}), nor a folder holding one: give the folder `packline backup` made (packline-backup-…)",
        dir = dir.display()
    )]
    NotABackup {
        dir: PathBuf,
        manifest: &'static str,
    },
    #[error(
        "{dir} is not a backup but holds one: {one}; restore it with packline restore {one}",
        dir = dir.display(),
        one = one.display()
    )]
    HoldsOne { dir: PathBuf, one: PathBuf },
    #[error(
        "{dir} is not a backup but holds {count}: {names}; restore one of them (the newest last)",
        dir = dir.display(),
        count = found.len(),
        names = found.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    HoldsMany { dir: PathBuf, found: Vec<PathBuf> },
    #[error("{manifest} is not a packline backup manifest: {detail}", manifest = manifest.display())]
    BadManifest { manifest: PathBuf, detail: String },
    #[error(
        "{manifest}: backup format {format} is not one this version reads",
        manifest = manifest.display()
    )]
    Format { manifest: PathBuf, format: u32 },
    #[error(
        "{file} does not match its checksum in {manifest}: the backup is damaged; restore another",
        file = file.display()
    )]
    Checksum {
        file: PathBuf,
        manifest: &'static str,
    },
    #[error("{file} is damaged at byte {at}: {what}", file = file.display())]
    Damaged {
        file: PathBuf,
        at: u64,
        what: &'static str,
    },
    #[error(
        "{dir} is not a directory: restore rebuilds an empty data directory",
        dir = dir.display()
    )]
    NotADirectory { dir: PathBuf },
    /// `what`: "holds a store already" or "is not empty".
    #[error(
        "{dir} {what}: restore rebuilds an empty data directory (move what is in it away first); nothing was written",
        dir = dir.display()
    )]
    NotEmpty { dir: PathBuf, what: &'static str },
    #[error(
        "the data directory {dir} has mode {mode:o}: a store holds sealed personal data and must not be open to group or others. Run: chmod 700 {dir}, then restore again; nothing was written",
        dir = dir.display()
    )]
    OpenDirectory { dir: PathBuf, mode: u32 },
    #[error(
        "the backup's keyring.json is not the one its store was made with ({why}); nothing was restored: restore another backup"
    )]
    KeyringMismatch { why: String },
    #[error(
        "the restored store holds {restored} orders, its backup {recorded}: the backup is not whole"
    )]
    NotWhole { restored: u64, recorded: u64 },
}

/// Another site of this database cannot take orders now.
#[derive(Debug, thiserror::Error)]
pub enum SiteRefusal {
    #[error(
        "site {site} is not on this store's database: several sites share a PostgreSQL database ([store] url), never sled"
    )]
    NotOnDatabase { site: String },
    #[error(
        "site {site} has no keyed store on this database: run `packline keys init` with [site] name = \"{site}\" on its machine first"
    )]
    NotKeyed { site: String },
    #[error(
        "site {site} has published no intake key: start its daemon (`packline serve`), which publishes it"
    )]
    NoIntakeKey { site: String },
    #[error(
        "site {site} last published its intake key at {at}: its daemon has not run for {hours} hours or more; its orders wait until it runs",
        at = at.to_rfc3339()
    )]
    StaleIntakeKey {
        site: String,
        at: DateTime<Utc>,
        hours: i64,
    },
    #[error(
        "site {site}'s published intake key is not the one its store recorded for epoch {epoch}: nothing is sealed to it"
    )]
    UnrecordedIntakeKey { site: String, epoch: u32 },
}

/// An order that does not move to another site.
#[derive(Debug, thiserror::Error)]
pub enum MoveRefusal {
    #[error(
        "order {order} is {state} at site {site}: only an order waiting in the queue moves to another site (one on the floor ships from where it is)"
    )]
    NotQueued {
        order: OrderId,
        state: OrderState,
        site: String,
    },
    #[error(
        "order {order} is claimed by pick batch {batch}: release it from the batch (or let the batch finish) before moving it"
    )]
    Claimed { order: OrderId, batch: u64 },
    /// `by`: the user who placed the hold.
    #[error(
        "order {order} is on hold (since {since}, by {by}): release it before moving it",
        since = since.format("%Y-%m-%d %H:%M")
    )]
    OnHold {
        order: OrderId,
        since: DateTime<Utc>,
        by: String,
    },
    #[error("order {order} is no longer held for its move to site {to}: it stays here")]
    NoLongerHeld { order: OrderId, to: String },
}

/// An order not in a state, or not on a floor, that allows what was asked.
#[derive(Debug, thiserror::Error)]
pub enum FloorRefusal {
    /// `what`: what needs the order packed ("labels", "own-carrier shipments").
    #[error("order {order} is {state}: {what} are for packed orders")]
    NotPacked {
        order: OrderId,
        state: OrderState,
        what: &'static str,
    },
    #[error("order {order} is {state}: only open orders are held")]
    HoldClosed { order: OrderId, state: OrderState },
    #[error("order {order} is not on hold")]
    NotOnHold { order: OrderId },
    #[error("tote {tote} holds order {holds}: empty it, or scan another")]
    ToteTaken { tote: String, holds: String },
    /// `doing`: what would drop the package ("packing it again").
    #[error(
        "order {order} package {package} has its {state} (shipment {shipment}): {doing} would leave that label with no package. Void it first (packline label void {order} --package {package} --reason …), or resolve to Packed or Labelled"
    )]
    LabelOutstanding {
        order: OrderId,
        package: u32,
        state: &'static str,
        shipment: String,
        doing: &'static str,
    },
    #[error(
        "order {order} changed on the floor while it was imported: nothing of its import was kept; sync again"
    )]
    ChangedWhileImported { order: OrderId },
    #[error("order {order} is recorded from Amazon only closed and without a recipient")]
    ElsewhereNotClosed { order: OrderId },
    /// `names`: the returns' RMA ids or tracking numbers.
    #[error(
        "order {order} has {count} open returns ({list}): scan the return label's tracking number or the RMA id",
        count = names.len(),
        list = names.join(", ")
    )]
    OpenReturns { order: OrderId, names: Vec<String> },
}

/// A label, a shipment or a print job that does not allow what was asked.
#[derive(Debug, thiserror::Error)]
pub enum LabelRefusal {
    #[error(
        "order {order} package {package}: {state} already; a label is never bought twice (a lead checks, voids or clears it)"
    )]
    Bought {
        order: OrderId,
        package: u32,
        state: &'static str,
    },
    #[error(
        "order {order} package {package}: {state} already (tracking {tracking}); nothing is sent twice"
    )]
    Sent {
        order: OrderId,
        package: u32,
        state: &'static str,
        tracking: String,
    },
    #[error("order {order} package {package} has no label to void")]
    NothingToVoid { order: OrderId, package: u32 },
    #[error("order {order} package {package} has no stored label")]
    NoStoredLabel { order: OrderId, package: u32 },
    #[error(
        "order {order} package {package}: its stored label was sealed under key epoch {epoch}, which retention has destroyed; the recipient is kept apart: void the label and buy another, or ask the carrier to reprint it"
    )]
    LabelShredded {
        order: OrderId,
        package: u32,
        epoch: u32,
    },
    #[error("order {order} package {package} was not bought through Shipping API v2")]
    NotV2 { order: OrderId, package: u32 },
    #[error("order {order} has no purchase of unknown outcome to clear")]
    NothingToClear { order: OrderId },
    #[error("order {order} package {package} has no purchase of unknown outcome to check")]
    NothingToCheck { order: OrderId, package: u32 },
    #[error("there is no print job {job}")]
    NoPrintJob { job: u64 },
    #[error("print job {job} is {state}: only a failed job is sent again")]
    JobNotFailed { job: u64, state: &'static str },
}

/// Input to an operation that it does not take.
#[derive(Debug, thiserror::Error)]
pub enum InputRefusal {
    #[error("a reveal needs a reason (--reason TEXT): it goes to the audit log")]
    RevealWithoutReason,
    #[error("the reason for holding order {order} came without its words: type the reason")]
    HoldWithoutWords { order: OrderId },
    /// `what`: the words' role ("the reason for a void"); `problem` says the length, never the
    /// words.
    #[error("{what} {problem}")]
    Words {
        what: String,
        problem: crate::domain::inquiry::NoteTextError,
    },
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;
    use crate::store::{Error, RecordKind};

    fn order() -> OrderId {
        OrderId::parse("905-0000000-0000002").unwrap()
    }

    /// A refusal reads as the message it always had, through the store's error.
    #[test]
    fn refusals_read_as_they_always_did() {
        let since = Utc.with_ymd_and_hms(2026, 3, 4, 5, 6, 7).unwrap();
        let cases: Vec<(Error, &str)> = vec![
            (
                MoveRefusal::OnHold {
                    order: order(),
                    since,
                    by: "lead1".into(),
                }
                .into(),
                "order 905-0000000-0000002 is on hold (since 2026-03-04 05:06, by lead1): release it before moving it",
            ),
            (
                BackupRefusal::HoldsMany {
                    dir: "/b".into(),
                    found: vec!["/b/one".into(), "/b/two".into()],
                }
                .into(),
                "/b is not a backup but holds 2: /b/one, /b/two; restore one of them (the newest last)",
            ),
            (
                OpenRefusal::OpenDirectory {
                    dir: "/d".into(),
                    mode: 0o755,
                }
                .into(),
                "the data directory /d has mode 755: it must not be open to group or others. Run: chmod 700 /d",
            ),
            (
                FloorRefusal::OpenReturns {
                    order: order(),
                    names: vec!["RMA R1".into(), "tracking T2".into()],
                }
                .into(),
                "order 905-0000000-0000002 has 2 open returns (RMA R1, tracking T2): scan the return label's tracking number or the RMA id",
            ),
            (
                Refusal::LeaseHeld {
                    site: "north".into(),
                    holder: "host-a".into(),
                    left_secs: 9,
                }
                .into(),
                "site north already has a live daemon (host-a); a second one is refused. Stop that one first; if it is gone (killed, or its machine lost), its lease ends within 9 s and this one may start then",
            ),
            (
                InputRefusal::Words {
                    what: "the reason for a void".into(),
                    problem: crate::domain::inquiry::NoteTextError::Empty,
                }
                .into(),
                "the reason for a void must not be empty",
            ),
        ];
        for (e, text) in cases {
            assert!(matches!(e, Error::Refused(_)), "{e:?}");
            assert_eq!(e.to_string(), text);
        }
    }

    /// A damaged record names its kind; an order's keeps the words it always had.
    #[test]
    fn a_damaged_record_names_its_kind() {
        assert_eq!(
            Error::corrupt(RecordKind::Order, "the record is empty").to_string(),
            "a stored order record is damaged: the record is empty"
        );
        assert_eq!(
            Error::corrupt(RecordKind::Batch, "the record is empty").to_string(),
            "a stored pick batch record is damaged: the record is empty"
        );
    }
}
