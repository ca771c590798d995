//! The key registry: every tree packline keeps, in which of its two sled databases, and every
//! shape of key in it, with what it holds and how long it is kept. The prefixes and names the
//! store's modules write are taken from here; `packline check` reports any tree or key that
//! nothing here declares; docs/store.md is written from it (a test holds the two together).
//!
//! Pure data and matching: it opens no database and decides no retention (`retention` carries
//! the schedule out; the words here say what it does).

mod trees;

use std::fmt::Write as _;

use crate::domain::{OrderId, OrderState};
pub use trees::*;

/// Which of the store's sled databases a tree lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Database {
    /// `db/` in the data directory: everything but the derived indexes.
    Main,
    /// `index/`: the name and SKU indexes, derived from the main database (`derived`).
    Index,
}

impl Database {
    pub fn name(self) -> &'static str {
        match self {
            Database::Main => "main",
            Database::Index => "index",
        }
    }
}

/// A tree, what it holds, how long, and the shapes of its keys.
#[derive(Debug)]
pub struct Tree {
    pub name: &'static str,
    pub database: Database,
    pub holds: &'static str,
    pub retention: &'static str,
    /// Written only by an earlier packline; this one removes it (so a fresh store lacks it).
    pub legacy: bool,
    /// No two of them can match one key (a test holds this).
    pub keys: &'static [Key],
}

/// One shape of key: the bytes it begins with, what follows them, what its value holds and how
/// long it is kept.
#[derive(Debug)]
pub struct Key {
    /// The bytes every such key begins with: a family's byte, a name, a name's prefix; empty
    /// when the tree has one kind of key.
    pub prefix: &'static [u8],
    pub rest: Rest,
    /// The whole key in words, literal bytes in backquotes (`` `c` ‖ order id ``).
    pub layout: &'static str,
    pub holds: &'static str,
    pub retention: &'static str,
}

/// What follows a key's prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rest {
    /// Nothing: the key is its prefix alone (a named key).
    Nothing,
    /// What the layout says, not checked byte by byte (so `check` need not read such keys).
    Any,
    /// An order id (`domain::OrderId`).
    OrderId,
    /// A big-endian number of this many bytes.
    Number(usize),
    /// The queue's: an order state's code, the ship-by (8 bytes), the order id.
    QueueEntry,
}

impl Rest {
    fn fits(self, rest: &[u8]) -> bool {
        match self {
            Rest::Nothing => rest.is_empty(),
            Rest::Any => true,
            Rest::OrderId => is_order_id(rest),
            Rest::Number(n) => rest.len() == n,
            Rest::QueueEntry => {
                rest.len() > 9
                    && OrderState::from_code(rest[0]).is_some()
                    && is_order_id(&rest[9..])
            }
        }
    }
}

fn is_order_id(b: &[u8]) -> bool {
    std::str::from_utf8(b).is_ok_and(|s| OrderId::parse(s).is_ok())
}

impl Key {
    pub fn fits(&self, key: &[u8]) -> bool {
        key.strip_prefix(self.prefix)
            .is_some_and(|rest| self.rest.fits(rest))
    }

    /// Whether some key could fit both shapes (the registry's tests hold that none of a tree's
    /// do).
    #[cfg(test)]
    fn overlaps(&self, other: &Key) -> bool {
        let (short, long) = if self.prefix.len() <= other.prefix.len() {
            (self, other)
        } else {
            (other, self)
        };
        long.prefix.starts_with(short.prefix)
            && (short.rest != Rest::Nothing || short.prefix.len() == long.prefix.len())
    }
}

impl Tree {
    /// The declaration a key of this tree answers to.
    pub fn key_of(&self, key: &[u8]) -> Option<&'static Key> {
        self.keys.iter().find(|k| k.fits(key))
    }

    pub fn declares(&self, key: &[u8]) -> bool {
        self.key_of(key).is_some()
    }
}

/// The tree of this name in that database, if declared.
pub fn tree(database: Database, name: &[u8]) -> Option<&'static Tree> {
    TREES
        .iter()
        .find(|t| t.database == database && t.name.as_bytes() == name)
}

/// A key as a problem may name it: printable ASCII as it is, every other byte (and `\`) escaped,
/// at most 64 bytes of it. Keys hold ids, numbers, SKUs and dates, never a value.
pub fn printable(key: &[u8]) -> String {
    const SHOWN: usize = 64;
    let mut out = String::with_capacity(key.len().min(SHOWN) + 8);
    for &b in key.iter().take(SHOWN) {
        match b {
            b'\\' => out.push_str("\\\\"),
            0x21..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    if key.len() > SHOWN {
        let _ = write!(out, "… ({} bytes)", key.len());
    }
    out
}

/// The leading bytes of the `floor` tree's key families.
pub mod floor {
    /// `c ‖ order id` → the batch claiming it.
    pub const CLAIM: u8 = b'c';
    pub const BATCH: u8 = b'b';
    pub const PACK: u8 = b'k';
    pub const PACKAGES: u8 = b'P';
    pub const HOLD: u8 = b'h';
    pub const CODES: u8 = b'u';
    pub const TOTE: u8 = b't';
    pub const TOTE_OF: u8 = b'T';
    pub const OVERRULED: u8 = b'o';
    /// `e ‖ order id`: the order was recorded from Amazon, never imported (shipped elsewhere).
    pub const ELSEWHERE: u8 = b'e';
    /// The Transparency codes used (`codes`).
    pub const CODE_USED: u8 = b'C';
    pub const SHIPMENT: u8 = b's';
    pub const LABEL: u8 = b'l';
    pub const DAY: u8 = b'd';
    pub const JOB: u8 = b'j';
    pub const INTENT: u8 = b'i';
    pub const V2: u8 = b'v';
    pub const AWAIT: u8 = b'w';
    pub const FORM: u8 = b'F';
    /// The report's counters (`stats`): this byte, then one naming the family.
    pub const COUNTERS: u8 = b'A';

    /// The second byte of a counter's key.
    pub mod counters {
        pub const DAY: u8 = b'd';
        pub const SKU: u8 = b's';
        pub const SKU_MONTH: u8 = b'm';
        pub const CARRIER: u8 = b'c';
        pub const REASON: u8 = b'r';
        pub const HOUR: u8 = b'h';
        pub const USER: u8 = b'u';
        pub const REVIEW: u8 = b'v';
        pub const OPEN_HOUR: u8 = b'o';
        pub const OPEN_WHOLE: u8 = b'O';
        pub const SELLER_SINCE: u8 = b'b';
    }
}

/// The leading bytes of the `inquiries` tree's keys.
pub mod inquiries {
    pub const RECORD: u8 = b'r';
    pub const NOTE: u8 = b'n';
}

/// The leading bytes of the `returns` tree's keys.
pub mod returns {
    pub const RECORD: u8 = b'r';
    pub const KEY: u8 = b'k';
}

/// The `meta` tree's names (and name prefixes).
pub mod meta {
    /// The schema version (`records::upgrade`).
    pub const SCHEMA: &str = "schema";
    pub const MASTER_RECIPIENT: &str = "master_recipient";
    pub const AUDIT_HEAD: &str = "audit_head";
    pub const UNSETTLED: &str = "unsettled";
    pub const INQUIRY_LAST: &str = "inquiry_last";
    pub const RETURN_LAST: &str = "return_last";
    pub const CODES_REGISTRY: &str = "codes_registry";
    pub const FREE_TEXT_SEALED: &str = "free_text_sealed";
    /// The form the blind index's names are in (`domain::text::SEARCH_FOLD`).
    pub const SEARCH_FOLD: &str = "search_fold";
    /// `backup: ‖ RFC 3339 time`.
    pub const BACKUP: &str = "backup:";
    /// `epoch_pin/ ‖ epoch`.
    pub const EPOCH_PIN: &str = "epoch_pin/";
    /// The service's (`service::sync`, `service::returns`).
    pub const SYNC_WATERMARK: &str = "amazon/sync_watermark";
    pub const SYNC_BUCKET: &str = "amazon/bucket/searchOrders";
    pub const SYNC_BUCKET_AT: &str = "amazon/bucket/searchOrders/at";
    pub const RETURNS_WATERMARK: &str = "amazon/returns_watermark";
    /// `lease/ ‖ site name` (`store::lease`).
    pub const LEASE: &str = "lease/";
    /// Where a sync cut short stood (`service::sync`).
    pub const SYNC_RESUME: &str = "amazon/sync_resume";
    /// `amazon/set_aside/ ‖ order id` (`set_aside`).
    pub const SET_ASIDE: &str = "amazon/set_aside/";
    /// The site's published intake key (`seal::PublishedKey`).
    pub const PUBLISHED_KEY: &str = "published_key";
    /// `route/ ‖ order id`: the site an order was routed to (the account's).
    pub const ROUTE: &str = "route/";
    /// `sku_codes/ ‖ SKU`: the codes its units need at the bench (`sku_codes`).
    pub const SKU_CODES: &str = "sku_codes/";
}

/// The index database's own names (in its default tree).
pub mod index {
    pub const COMPLETE: &str = "complete";
}

/// The name sled gives a database's default tree.
pub const DEFAULT_TREE: &str = "__sled__default";

/// The registry as docs/store.md shows it.
pub fn markdown() -> String {
    let mut out = String::new();
    for t in TREES {
        let _ = writeln!(
            out,
            "### `{}` ({} database{})\n\n{}. Kept: {}.\n",
            t.name,
            t.database.name(),
            if t.legacy { ", earlier versions" } else { "" },
            capital(t.holds),
            t.retention
        );
        if t.keys.is_empty() {
            out.push_str("No key.\n\n");
            continue;
        }
        out.push_str("| key | holds | kept |\n| --- | --- | --- |\n");
        for k in t.keys {
            out.push_str(&row(k));
        }
        out.push('\n');
    }
    out
}

/// A key's row in docs/store.md.
fn row(k: &Key) -> String {
    format!("| {} | {} | {} |\n", k.layout, k.holds, k.retention)
}

fn capital(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
