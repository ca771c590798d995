//! Returns: a lead pulls Amazon's returns report (or imports a downloaded one), and the floor
//! receives the parcels: a scan of the return label's tracking number, the RMA id or the order id
//! opens the expected return (or records an unexpected one against the order), each unit is
//! recorded with its condition, and a sellable unit's bin comes from the locations file. Nothing
//! here is personal data.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Allowed, Operation};
use crate::domain::OrderId;
use crate::domain::returns::{Condition, ReturnRecord};
use crate::service::amazon_calls::block_on;
use crate::service::{Role, Service, ServiceError, non_empty, store_err};
pub use crate::store::returns::{Receipt, ReturnCounts};
use crate::store::{self, Store};

/// The most units one scan records (a typo of 1000 is refused, not recorded).
pub const MAX_QUANTITY: u32 = 999;

/// Runs `f`, a store call on the return a scanned `code` opens. When no return answers to it and
/// the code is an Amazon order id the store does not have (an order shipped before the site used
/// packline, or by another tool), Amazon is asked for the order: recorded as shipped elsewhere,
/// without a recipient, the unexpected return is recorded against it as against any order. An
/// order Amazon does not know either is refused as any unknown code.
fn on_return<T>(
    svc: &Service,
    c: &Allowed,
    now: DateTime<Utc>,
    code: &str,
    f: impl Fn(&mut Store) -> Result<T, store::Error>,
) -> Result<T, ServiceError> {
    let unknown = match f(&mut svc.store_alone()) {
        Err(e @ store::Error::NoSuchReturn(_)) => e,
        other => return other.map_err(store_err),
    };
    let Some(id) = OrderId::parse(code.trim())
        .ok()
        .filter(OrderId::is_amazon_shaped)
    else {
        return Err(store_err(unknown));
    };
    match svc.order_or_elsewhere(&id, "a return", &c.user, now)? {
        Some(_) => f(&mut svc.store_alone()).map_err(store_err),
        None => Err(store_err(unknown)),
    }
}

/// Records the returns of a downloaded returns report (`GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE`,
/// tab-separated). A row that cannot be read is refused, naming its line and column, and the
/// others are recorded; a file that is not a returns report is refused whole.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ImportReturns {
    /// Where the report came from, for error messages.
    pub file: String,
    pub report: String,
}

impl Operation for ImportReturns {
    type Answer = ReturnCounts;
    const NAME: &'static str = "import_returns";
    const ACTION: &'static str = "importing returns";
    const ROLE: Role = Role::Lead;

    fn apply(
        self,
        svc: &Service,
        c: &Allowed,
        now: DateTime<Utc>,
    ) -> Result<ReturnCounts, ServiceError> {
        let report = crate::amazon::reports::parse_returns_rows(self.report.as_bytes(), &self.file)
            .map_err(|e| ServiceError::Invalid(e.to_string()))?;
        // Rows waiting for a site that cannot take them now are named as refused: the same
        // file imported again records them.
        let (mut counts, _waiting) = svc
            .record_returns(&report.returns, &c.user, now)
            .map_err(store_err)?;
        counts.refused_rows(report.refused);
        tracing::info!(?counts, user = %c.user, "returns imported");
        Ok(counts)
    }
}

/// Pulls Amazon's returns report now: every day since the last pull (the last 60 days the first
/// time), one report per 60 days.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SyncReturns {}

impl Operation for SyncReturns {
    type Answer = ReturnCounts;
    const NAME: &'static str = "sync_returns";
    const ACTION: &'static str = "syncing returns";
    const ROLE: Role = Role::Lead;

    fn apply(
        self,
        svc: &Service,
        c: &Allowed,
        _: DateTime<Utc>,
    ) -> Result<ReturnCounts, ServiceError> {
        block_on(svc.returns_sync_now(&c.user))?
    }
}

/// Every return kept, oldest first.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Returns {}

impl Operation for Returns {
    type Answer = Vec<ReturnRecord>;
    const NAME: &'static str = "returns";
    const WRITES: bool = false;
    const ACTION: &'static str = "the returns list";
    const ROLE: Role = Role::Packer;

    fn apply(
        self,
        svc: &Service,
        _: &Allowed,
        _: DateTime<Utc>,
    ) -> Result<Vec<ReturnRecord>, ServiceError> {
        svc.store().returns().map_err(store_err)
    }
}

/// A parcel scanned at the returns bench: its return label's tracking number, the RMA id or the
/// order id. Answers the open return it names; with none, an order id of an order in the store
/// records an unexpected return against that order, and one packline never imported is asked of
/// Amazon first (recorded as shipped elsewhere, without a recipient).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OpenReturn {
    pub code: String,
}

impl Operation for OpenReturn {
    type Answer = ReturnRecord;
    const NAME: &'static str = "open_return";
    const ACTION: &'static str = "receiving a return";
    const ROLE: Role = Role::Packer;

    fn apply(
        self,
        svc: &Service,
        c: &Allowed,
        now: DateTime<Utc>,
    ) -> Result<ReturnRecord, ServiceError> {
        let code = non_empty(&self.code, "the scanned code")?;
        on_return(svc, c, now, code, |s| s.open_return(code, &c.user, now))
    }
}

/// Units of a return found in a condition: `unit` is the scanned unit (its SKU, ASIN or a
/// barcode of the locations file). Answers where they go: a sellable unit's bin, none for any
/// other condition.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReceiveReturn {
    pub code: String,
    pub unit: String,
    pub condition: Condition,
    pub quantity: u32,
}

impl Operation for ReceiveReturn {
    type Answer = Receipt;
    const NAME: &'static str = "receive_return";
    const ACTION: &'static str = "receiving a return";
    const ROLE: Role = Role::Packer;

    fn apply(
        self,
        svc: &Service,
        c: &Allowed,
        now: DateTime<Utc>,
    ) -> Result<Receipt, ServiceError> {
        let code = non_empty(&self.code, "the return's code")?;
        let unit = non_empty(&self.unit, "the unit's SKU")?;
        if !(1..=MAX_QUANTITY).contains(&self.quantity) {
            return Err(ServiceError::Invalid(format!(
                "the quantity must be between 1 and {MAX_QUANTITY}"
            )));
        }
        let r = on_return(svc, c, now, code, |s| {
            s.receive_return(
                code,
                unit,
                self.condition,
                self.quantity,
                &svc.settings.locations,
                &c.user,
                now,
            )
        })?;
        tracing::info!(
            ret = r.record.id,
            order = %r.record.order,
            condition = %r.condition,
            user = %c.user,
            "return received"
        );
        Ok(r)
    }
}

/// Closes a return: it takes no more units.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CloseReturn {
    pub code: String,
}

impl Operation for CloseReturn {
    type Answer = ReturnRecord;
    const NAME: &'static str = "close_return";
    const ACTION: &'static str = "closing a return";
    const ROLE: Role = Role::Packer;

    fn apply(
        self,
        svc: &Service,
        c: &Allowed,
        now: DateTime<Utc>,
    ) -> Result<ReturnRecord, ServiceError> {
        let code = non_empty(&self.code, "the return's code")?;
        svc.store_alone()
            .close_return(code, &c.user, now)
            .map_err(store_err)
    }
}
