//! The audit log: an append-only sled tree where each entry carries the hash of its predecessor,
//! so editing, deleting or reordering entries is detected by `verify`. Entries name who did what
//! to which order and why; they never hold personal data (callers pass ids and reasons only).

use super::backend::{Tree, TxError, TxTree};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Error;

/// Key in the meta tree holding the last entry's sequence number and hash.
pub const HEAD_KEY: &[u8] = super::keys::meta::AUDIT_HEAD.as_bytes();
/// The action of every log's first entry, written when the site's keys are created.
pub const GENESIS_ACTION: &str = "keys_init";
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One audit entry. Field order is the hashing order: never reorder fields.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AuditEntry {
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub user: String,
    pub action: String,
    pub order: Option<String>,
    pub reason: Option<String>,
    pub prev: String,
    pub hash: String,
}

/// What an entry says, before it is chained.
pub struct Record<'a> {
    pub at: DateTime<Utc>,
    pub user: &'a str,
    pub action: &'a str,
    pub order: Option<&'a str>,
    pub reason: Option<&'a str>,
}

#[derive(Serialize)]
struct Hashed<'a> {
    seq: u64,
    at: &'a DateTime<Utc>,
    user: &'a str,
    action: &'a str,
    order: Option<&'a str>,
    reason: Option<&'a str>,
    prev: &'a str,
}

fn entry_hash(e: &Hashed<'_>) -> String {
    let bytes = serde_json::to_vec(e).expect("audit entry serializes");
    hex(&Sha256::digest(&bytes))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[derive(Serialize, Deserialize)]
struct Head {
    seq: u64,
    hash: String,
}

/// Appends an entry inside a transaction that also covers the change it records.
pub fn append(audit: &TxTree<'_>, meta: &TxTree<'_>, rec: &Record<'_>) -> Result<u64, TxError> {
    let head: Option<Head> = match meta.get(HEAD_KEY)? {
        Some(v) => Some(serde_json::from_slice(&v).map_err(|_| {
            TxError::Abort(Error::AuditBroken(
                "the audit head record is unreadable".into(),
            ))
        })?),
        None => None,
    };
    let (seq, prev) = match head {
        Some(h) => (h.seq + 1, h.hash),
        // No head: only the genesis entry of a new store starts a log. Anything else means the
        // log or its head was removed, and appending would hide that.
        None if rec.action == GENESIS_ACTION && audit.get(1u64.to_be_bytes())?.is_none() => {
            (1, GENESIS.to_owned())
        }
        None => {
            return Err(TxError::Abort(Error::AuditBroken(
                "the audit head record is missing; run `packline audit verify`".into(),
            )));
        }
    };
    let hashed = Hashed {
        seq,
        at: &rec.at,
        user: rec.user,
        action: rec.action,
        order: rec.order,
        reason: rec.reason,
        prev: &prev,
    };
    let hash = entry_hash(&hashed);
    let entry = AuditEntry {
        seq,
        at: rec.at,
        user: rec.user.to_owned(),
        action: rec.action.to_owned(),
        order: rec.order.map(str::to_owned),
        reason: rec.reason.map(str::to_owned),
        prev,
        hash: hash.clone(),
    };
    audit.insert(
        seq.to_be_bytes(),
        serde_json::to_vec(&entry).expect("serializes"),
    )?;
    meta.insert(
        HEAD_KEY,
        serde_json::to_vec(&Head { seq, hash }).expect("serializes"),
    )?;
    Ok(seq)
}

/// Walks the whole chain. `Ok(n)` when all `n` entries are intact; otherwise the error names the
/// first bad entry and what is wrong with it.
pub fn verify(audit: &Tree, meta: &Tree) -> Result<u64, Error> {
    let mut expected_seq = 1u64;
    let mut prev = GENESIS.to_owned();
    for item in audit.iter() {
        let (k, v) = item?;
        let key_seq = k
            .as_ref()
            .try_into()
            .map(u64::from_be_bytes)
            .map_err(|_| Error::AuditBroken("an audit key is not a sequence number".into()))?;
        let e: AuditEntry = serde_json::from_slice(&v).map_err(|_| {
            Error::AuditBroken(format!("audit entry {key_seq} is unreadable (edited)"))
        })?;
        if key_seq != expected_seq {
            return Err(Error::AuditBroken(format!(
                "audit entry {expected_seq} is missing: the log jumps from {} to {key_seq} (deleted)",
                expected_seq - 1
            )));
        }
        if e.seq != key_seq {
            return Err(Error::AuditBroken(format!(
                "audit entry {key_seq} holds entry {} (moved or reordered)",
                e.seq
            )));
        }
        if key_seq == 1 && e.action != GENESIS_ACTION {
            return Err(Error::AuditBroken(format!(
                "audit entry 1 is '{}', not the {GENESIS_ACTION} entry every log starts with (log replaced)",
                e.action
            )));
        }
        if e.prev != prev {
            return Err(Error::AuditBroken(format!(
                "audit entry {key_seq} does not follow entry {} (reordered or replaced)",
                key_seq - 1
            )));
        }
        let hash = entry_hash(&Hashed {
            seq: e.seq,
            at: &e.at,
            user: &e.user,
            action: &e.action,
            order: e.order.as_deref(),
            reason: e.reason.as_deref(),
            prev: &e.prev,
        });
        if hash != e.hash {
            return Err(Error::AuditBroken(format!(
                "audit entry {key_seq} does not match its hash (edited)"
            )));
        }
        prev = e.hash;
        expected_seq += 1;
    }
    let count = expected_seq - 1;
    if count == 0 {
        return Err(Error::AuditBroken(
            "the audit log is empty, but every keyed store's log starts with its keys_init entry (log wiped)"
                .into(),
        ));
    }
    match meta.get(HEAD_KEY)? {
        None => Err(Error::AuditBroken(
            "the audit head record is missing".into(),
        )),
        Some(v) => {
            let head: Head = serde_json::from_slice(&v)
                .map_err(|_| Error::AuditBroken("the audit head record is unreadable".into()))?;
            if head.seq != count {
                Err(Error::AuditBroken(format!(
                    "the log ends at entry {count} but {} entries were written (entries after {count} deleted)",
                    head.seq
                )))
            } else if head.hash != prev {
                Err(Error::AuditBroken(format!(
                    "audit entry {count} is not the entry that was written last (replaced)"
                )))
            } else {
                Ok(count)
            }
        }
    }
}

/// Which entries a lead asks for: every condition given must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    /// At or after this time.
    pub since: Option<DateTime<Utc>>,
    /// At or before this time.
    pub until: Option<DateTime<Utc>>,
    /// Made by this user.
    pub user: Option<String>,
    /// This action, or one of its kind: `refused` finds `refused:reveal` too.
    pub action: Option<String>,
    /// About this order.
    pub order: Option<String>,
}

impl Filter {
    pub fn matches(&self, e: &AuditEntry) -> bool {
        self.since.is_none_or(|t| e.at >= t)
            && self.until.is_none_or(|t| e.at <= t)
            && self.user.as_deref().is_none_or(|u| e.user == u)
            && self
                .order
                .as_deref()
                .is_none_or(|o| e.order.as_deref() == Some(o))
            && self.action.as_deref().is_none_or(|a| {
                e.action == a
                    || e.action
                        .strip_prefix(a)
                        .is_some_and(|rest| rest.starts_with(':'))
            })
    }
}

/// Entries in the order they were written, and where to go on when there may be more.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Page {
    pub entries: Vec<AuditEntry>,
    /// The last entry read: ask again after it for the rest. None: the log ends here.
    pub next_after: Option<u64>,
}

/// The most entries one page reads, matching or not, so that a request on a long log answers
/// in bounded time (the next page goes on from where it stopped).
pub const PAGE_READS: usize = 50_000;

/// The entries after sequence number `after` that match, at most `limit` of them, reading at
/// most [`PAGE_READS`] entries.
pub fn page(audit: &Tree, filter: &Filter, after: u64, limit: usize) -> Result<Page, Error> {
    let mut entries = Vec::new();
    let mut last = None;
    let start = after.saturating_add(1).to_be_bytes();
    for (read, item) in audit.range(start..).enumerate() {
        if entries.len() >= limit || read >= PAGE_READS {
            // More may follow: the caller asks again after the last entry read.
            return Ok(Page {
                entries,
                next_after: last,
            });
        }
        let (k, v) = item?;
        let seq = k
            .as_ref()
            .try_into()
            .map(u64::from_be_bytes)
            .map_err(|_| Error::AuditBroken("an audit key is not a sequence number".into()))?;
        let e: AuditEntry = serde_json::from_slice(&v).map_err(|_| {
            Error::AuditBroken(format!(
                "audit entry {seq} is unreadable (edited): run packline audit verify"
            ))
        })?;
        last = Some(seq);
        if filter.matches(&e) {
            entries.push(e);
        }
    }
    Ok(Page {
        entries,
        next_after: None,
    })
}

#[cfg(test)]
mod filter_tests {
    use super::*;

    fn entry(action: &str, user: &str, order: Option<&str>, at: &str) -> AuditEntry {
        AuditEntry {
            seq: 1,
            at: at.parse().unwrap(),
            user: user.into(),
            action: action.into(),
            order: order.map(str::to_owned),
            reason: None,
            prev: String::new(),
            hash: String::new(),
        }
    }

    #[test]
    fn an_action_matches_itself_and_its_kind_only() {
        let f = Filter {
            action: Some("refused".into()),
            ..Filter::default()
        };
        let at = "2026-12-01T10:00:00Z";
        assert!(f.matches(&entry("refused", "a", None, at)));
        assert!(f.matches(&entry("refused:reveal", "a", None, at)));
        assert!(!f.matches(&entry("refusedx", "a", None, at)));
        assert!(!f.matches(&entry("reveal", "a", None, at)));
    }

    #[test]
    fn every_condition_given_must_hold() {
        let f = Filter {
            since: Some("2026-12-01T00:00:00Z".parse().unwrap()),
            until: Some("2026-12-01T23:59:59Z".parse().unwrap()),
            user: Some("kim".into()),
            order: Some("111-0000000-0000001".into()),
            action: None,
        };
        let o = Some("111-0000000-0000001");
        assert!(f.matches(&entry("reveal", "kim", o, "2026-12-01T10:00:00Z")));
        assert!(f.matches(&entry("reveal", "kim", o, "2026-12-01T00:00:00Z")));
        assert!(!f.matches(&entry("reveal", "kim", o, "2026-12-02T00:00:00Z")));
        assert!(!f.matches(&entry("reveal", "kim", o, "2026-11-30T23:59:59Z")));
        assert!(!f.matches(&entry("reveal", "lee", o, "2026-12-01T10:00:00Z")));
        assert!(!f.matches(&entry("reveal", "kim", None, "2026-12-01T10:00:00Z")));
        assert!(Filter::default().matches(&entry("x", "y", None, "2026-12-01T10:00:00Z")));
    }
}
