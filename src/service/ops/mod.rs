//! Every operation of the service, one small type each: what it carries, who may call it,
//! whether it is quick, and what it answers. Adding an operation is one type in the file of its
//! group and one line in [`operations!`] below.
//!
//! An operation never trusts its client: the role check runs in [`Service::run`] before
//! `apply`, whichever transport the request came by. Answers are typed: the in-process client
//! gets the value itself, the socket carries it as JSON and the client decodes the same type, so
//! no caller ever matches on an answer it cannot get.

pub mod dashboard;
pub mod exceptions;
pub mod floor;
pub mod holds;
pub mod inquiries;
pub mod keys;
pub mod messages;
pub mod metrics;
pub mod pack;
pub mod pick;
pub mod records;
pub mod returns;
pub mod shipping;
pub mod sites;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{Caller, Role, Service, ServiceError};

pub use dashboard::{Dashboard, DashboardView};
pub use exceptions::{Exceptions, RaiseException, ResolveException};
pub use floor::{
    Boxes, Hello, ListOrders, OrdersPage, Picked, Queue, ShowOrder, SyncStatus, Welcome,
};
pub use holds::{HoldOrder, Holds, ReleaseHold};
pub use inquiries::{
    Inquiries, InquiryNotes, NoteInquiry, OpenInquiry, ReadInquiry, ReadNote, ResolveInquiry,
};
pub use keys::{EpochView, KeyringView, KeysRotate, KeysShow, Lock, Unlock};
pub use messages::{MessageSent, SendMessage};
pub use metrics::Metrics;
pub use pack::{BenchLabel, Finished, PackCloseBox, PackFinish, PackScan, PackStart};
pub use pick::{
    Batches, ClaimBatch, FinishPick, PickPut, PickScan, PickScanned, ReassignBatch, ReleaseBatch,
    ShortPick, Shorted,
};
pub use records::{
    AUDIT_PAGE_MAX, AuditList, AuditVerify, Backup, BuildReport, Check, ImportOrders, LookupName,
    Purge, Reveal, RevealedRecipient, ReviewAccess, SyncOrders, SyncProblems,
};
pub use returns::{
    CloseReturn, ImportReturns, OpenReturn, Receipt, ReceiveReturn, ReturnCounts, Returns,
    SyncReturns,
};
pub use shipping::{
    BuyLabel, BuyWave, CheckPurchase, ClearPurchase, Manifest, ManifestDay, PackageView, Packages,
    PrintJobs, PrintLabel, PrintSlip, Rates, RetryPrints, ShipOwnCarrier, VoidLabel, WaveBought,
    WaveProblem, WaveReport,
};
pub use sites::{MoveOrder, Moved, Sites};

/// One operation of the service.
pub trait Operation: Into<Request> + Send + 'static {
    /// What it answers.
    type Answer: Serialize + DeserializeOwned + Send + 'static;
    /// Its name, for logs and refusals.
    const NAME: &'static str;
    /// What it does, in a refusal: "{ACTION} is for a lead or above".
    const ACTION: &'static str;
    /// The least role that may call it.
    const ROLE: Role;
    /// Answered in microseconds without a flush, an Amazon call or a long walk: the socket runs
    /// these in arrival order on one worker thread of their own instead of the blocking pool
    /// (fifty scanners would otherwise be fifty threads fighting for two cores).
    const QUICK: bool = false;

    /// Whether it may change the store (an audit entry counts). A change is refused before it
    /// starts while the store's disk is (nearly) full; reads still answer.
    const WRITES: bool = true;

    /// Whether this request may change the store, when its arguments decide.
    fn writes(&self) -> bool {
        Self::WRITES
    }

    /// The role this request needs, when some of its arguments need more than [`Self::ROLE`].
    fn role(&self) -> Role {
        Self::ROLE
    }

    /// Whether this request is quick, when its arguments decide (a deep page is not).
    fn is_quick(&self) -> bool {
        Self::QUICK
    }

    /// Does it, for a caller whose role has been checked. Blocking (the store fsyncs).
    fn apply(
        self,
        svc: &Service,
        c: &Allowed,
        now: DateTime<Utc>,
    ) -> Result<Self::Answer, ServiceError>;
}

/// A caller whose role [`Service::run`] has checked for the operation at hand. Only `run` makes
/// one, so no path reaches an operation's `apply` around the check. Reads as the [`Caller`].
pub struct Allowed<'a>(&'a Caller);

impl std::ops::Deref for Allowed<'_> {
    type Target = Caller;
    fn deref(&self) -> &Caller {
        self.0
    }
}

impl Service {
    /// Runs one operation for `c`: the role check, then the operation. Blocking: transports
    /// call it off the async threads.
    pub fn run<O: Operation>(&self, c: &Caller, op: O) -> Result<O::Answer, ServiceError> {
        // The first request of an in-process service runs where jobs can be sent.
        self.send_left_prints();
        let r = self
            .require(c, op.role(), O::ACTION)
            .and_then(|()| {
                if op.writes() {
                    self.ensure_room(0)
                } else {
                    Ok(())
                }
            })
            .and_then(|()| op.apply(self, &Allowed(c), Utc::now()));
        if let Err(e) = &r {
            // The kind only: a message may quote Amazon's text or a scanned code.
            tracing::info!(user = %c.user, request = O::NAME, refusal = e.kind(), "refused");
        }
        r
    }
}

/// The answer of a request that came as a [`Request`] (the socket), as JSON.
pub type Answer = Box<serde_json::value::RawValue>;

macro_rules! operations {
    ($($variant:ident $(= $wire:literal)?),* $(,)?) => {
        /// Any operation, as it crosses the socket: `{"op": "claim_batch", ...its fields}`.
        /// The `op` is the type's name in snake case, or the name given beside it in the
        /// table (an operation renamed keeps its name on the wire and in the audit log).
        #[derive(Clone, Debug, Serialize, Deserialize)]
        #[serde(tag = "op", rename_all = "snake_case")]
        pub enum Request {
            $($(#[serde(rename = $wire)])? $variant($variant),)*
        }

        $(impl From<$variant> for Request {
            fn from(op: $variant) -> Request {
                Request::$variant(op)
            }
        })*

        impl Request {
            /// See [`Operation::QUICK`].
            pub fn is_quick(&self) -> bool {
                match self {
                    $(Request::$variant(op) => op.is_quick(),)*
                }
            }

            /// The request's name, for logs and refusals.
            pub fn name(&self) -> &'static str {
                match self {
                    $(Request::$variant(_) => <$variant as Operation>::NAME,)*
                }
            }

            /// Runs the request for `c` and gives its answer as JSON (the socket's reply).
            pub fn run(self, svc: &Service, c: &Caller) -> Result<Answer, ServiceError> {
                match self {
                    $(Request::$variant(op) => svc.run(c, op).and_then(|a| to_json(&a)),)*
                }
            }
        }
    };
}

fn to_json(answer: &impl Serialize) -> Result<Answer, ServiceError> {
    serde_json::value::to_raw_value(answer)
        .map_err(|e| ServiceError::Protocol(format!("an answer could not be written: {e}")))
}

operations! {
    Hello, Queue, ListOrders, ShowOrder = "order", Picked, Boxes, SyncStatus,
    ClaimBatch, Batches, PickScan, PickPut, ShortPick, FinishPick, ReleaseBatch, ReassignBatch,
    PackStart, PackScan, PackCloseBox, PackFinish,
    RaiseException, ResolveException, Exceptions,
    HoldOrder, ReleaseHold, Holds, MoveOrder, Sites,
    OpenInquiry, NoteInquiry, ResolveInquiry, Inquiries, ReadInquiry,
    SendMessage,
    ImportReturns, SyncReturns, Returns, OpenReturn, ReceiveReturn, CloseReturn,
    Reveal, LookupName, AuditVerify, AuditList, ImportOrders = "import", Purge, SyncOrders = "sync", SyncProblems,
    ReviewAccess = "access_review", Check, BuildReport = "report", Backup,
    Unlock, Lock, KeysShow, KeysRotate,
    Rates, BuyLabel, PrintLabel, PrintSlip, VoidLabel, ShipOwnCarrier, CheckPurchase, Manifest,
    PrintJobs, RetryPrints, ClearPurchase, Packages, BuyWave,
    Dashboard, Metrics,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An operation renamed in the code keeps the name it has always had on the socket and in
    /// the audit log.
    #[test]
    fn a_renamed_operation_keeps_its_name_on_the_wire() {
        let renamed: [(Request, &str); 4] = [
            (
                ShowOrder {
                    order: "111-0000000-0000001".into(),
                }
                .into(),
                "order",
            ),
            (SyncOrders::default().into(), "sync"),
            (ReviewAccess {}.into(), "access_review"),
            (BuildReport::default().into(), "report"),
        ];
        for (request, wire) in renamed {
            assert_eq!(request.name(), wire);
            let json = serde_json::to_value(&request).unwrap();
            assert_eq!(json["op"], wire, "{json}");
            let back: Request = serde_json::from_value(json).unwrap();
            assert_eq!(back.name(), wire);
        }
        let import = serde_json::json!({"op": "import", "file": "f", "page": "{}"});
        match serde_json::from_value::<Request>(import) {
            Ok(r) => assert_eq!(r.name(), "import"),
            Err(e) => panic!("an import request no longer reads: {e}"),
        }
    }
}
