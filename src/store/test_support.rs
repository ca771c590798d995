use chrono::{DateTime, Utc};

use super::{MasterSource, Store};
use crate::domain::import::{FulfillmentStatus, ImportedOrder};
use crate::domain::order::tests_support::order_with;

/// A new site's store in a temporary directory, keyed at `now` and opened (locked).
pub fn keyed_store(now: DateTime<Utc>) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key = MasterSource::IdentityFile(dir.path().join("master.key"));
    Store::init_keys(&data, &key, "lead", now).unwrap();
    let store = Store::open(&data).unwrap();
    (dir, store)
}

/// An unshipped merchant-fulfilled order `id` of one MUG, as sync hands it to the store.
pub fn unshipped(id: &str) -> ImportedOrder {
    ImportedOrder {
        order: order_with(id, &[("MUG", 1)]),
        status: FulfillmentStatus::Unshipped,
        fulfilled_by_merchant: true,
        buyer_cancel_requested: false,
        recipient: None,
    }
}
