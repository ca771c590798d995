//! What every operation checks and converts the same way: a store error as the caller is
//! answered, who may act on a bench or a batch, an order id and a text from a request, a
//! record as the floor's row.

use super::{Caller, OrderRow, Role, ServiceError};
use crate::domain::{OrderId, OrderRecord, PickBatch};
use crate::store::{self, Store};

/// A store error as the caller is answered.
pub(super) fn store_err(e: store::Error) -> ServiceError {
    match e {
        store::Error::NoSuchOrder(id) => {
            ServiceError::NotFound(format!("order {id} is not in the store"))
        }
        store::Error::NoSuchInquiry(_) => ServiceError::NotFound(e.to_string()),
        store::Error::Inquiry(_) => ServiceError::Conflict(e.to_string()),
        store::Error::NoSuchReturn(_) => ServiceError::NotFound(e.to_string()),
        store::Error::Return(_) => ServiceError::Conflict(e.to_string()),
        store::Error::Transition { .. } => ServiceError::Conflict(e.to_string()),
        store::Error::Locked { .. } => ServiceError::Locked(e.to_string()),
        store::Error::DiskFull { .. } | store::Error::NoSpace => {
            ServiceError::NoSpace(e.to_string())
        }
        // Every refusal reaches a client as invalid, as it always has; a kind that deserves
        // another answer is matched above this line.
        store::Error::Refused(_) => ServiceError::Invalid(e.to_string()),
        store::Error::CodeUsed(message) => ServiceError::WrongScan { message },
        store::Error::OnHold { order, by, since } => ServiceError::OnHold {
            order: order.to_string(),
            by,
            since,
        },
        store::Error::NoRecipient(_) | store::Error::EpochShredded { .. } => {
            ServiceError::NotFound(e.to_string())
        }
        other => ServiceError::Store(other.to_string()),
    }
}

/// One bench per order: another packer's check is theirs (a lead may take it over).
pub(super) fn own_bench(c: &Caller, check: &crate::domain::PackCheck) -> Result<(), ServiceError> {
    if check.packer == c.user || c.role >= Role::Lead {
        return Ok(());
    }
    Err(ServiceError::Conflict(format!(
        "order {} is being packed by {} at another bench",
        check.order, check.packer
    )))
}

/// A batch is its holder's: another picker's is refused (a lead may act on it).
pub(super) fn may_pick(c: &Caller, b: &PickBatch) -> Result<(), ServiceError> {
    if b.holder != c.user && c.role < Role::Lead {
        return Err(ServiceError::Conflict(format!(
            "pick batch {} is held by {}",
            b.id, b.holder
        )));
    }
    Ok(())
}

/// The refusal of a pick batch that is not open (finished, released, or never was).
pub(super) fn not_open(id: u64) -> ServiceError {
    ServiceError::NotFound(format!("pick batch {id} is not open"))
}

/// An order record as the floor sees it: with its hold, and whether it was recorded from Amazon
/// without being imported (only a closed order can have been).
pub(crate) fn row_in(store: &Store, record: OrderRecord) -> Result<OrderRow, ServiceError> {
    rows_in(store, vec![record])?
        .pop()
        .ok_or_else(|| ServiceError::Store("an order's row could not be read".into()))
}

/// Rows for a page of records: their holds and shipped-elsewhere marks read together, so a
/// page costs the store two reads, not two a row (each a round trip on a shared database).
pub(crate) fn rows_in(
    store: &Store,
    records: Vec<OrderRecord>,
) -> Result<Vec<OrderRow>, ServiceError> {
    let ids: Vec<&OrderId> = records.iter().map(|r| &r.order.id).collect();
    let holds = store.holds_of(&ids).map_err(store_err)?;
    // Only a closed order can have been shipped elsewhere.
    let closed: Vec<&OrderId> = records
        .iter()
        .filter(|r| r.state.is_closed())
        .map(|r| &r.order.id)
        .collect();
    let mut elsewhere = if closed.is_empty() {
        Vec::new()
    } else {
        store.are_shipped_elsewhere(&closed).map_err(store_err)?
    }
    .into_iter();
    Ok(records
        .into_iter()
        .zip(holds)
        .map(|(record, hold)| {
            let shipped_elsewhere = record.state.is_closed() && elsewhere.next().unwrap_or(false);
            OrderRow {
                record,
                hold,
                shipped_elsewhere,
            }
        })
        .collect())
}

/// An order id as a request gives it.
pub(super) fn order_id(s: &str) -> Result<OrderId, ServiceError> {
    OrderId::parse(s.trim()).map_err(|e| ServiceError::Invalid(format!("order id: {e}")))
}

/// A required text of a request: trimmed, not empty, at most 500 characters.
pub(super) fn non_empty<'a>(text: &'a str, what: &str) -> Result<&'a str, ServiceError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(ServiceError::Invalid(format!("{what} must not be empty")));
    }
    if t.chars().count() > 500 {
        return Err(ServiceError::Invalid(format!(
            "{what} is longer than 500 characters"
        )));
    }
    Ok(t)
}
