//! The service's vocabulary: requests, replies, pushed notices and typed errors, all serde. The
//! same types cross the in-process channel and the Unix socket, so the TUI and the CLI cannot
//! tell which transport they are on. Personal data crosses only inside [`Revealed`], which has no
//! readable `Debug` and is wiped on drop.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

pub use crate::config::Role;
use crate::domain::{OrderId, OrderState, PackCheck, PickBatch, PickScan};

/// What a client may ask.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Who am I, and what is the site's state.
    Hello,
    /// A page of the queue: open orders by ship-by (or one state), optionally only order ids
    /// starting with `search`.
    Queue {
        state: Option<OrderState>,
        search: Option<String>,
        offset: u32,
        limit: u32,
    },
    ClaimBatch {
        size: Option<u32>,
    },
    /// Open pick batches: the caller's own, or every one for a lead with `all`.
    Batches {
        all: bool,
    },
    PickScan {
        batch: u64,
        code: String,
    },
    ShortPick {
        batch: u64,
        sku: String,
        reason: String,
    },
    FinishPick {
        batch: u64,
    },
    ReleaseBatch {
        batch: u64,
        reason: String,
    },
    ReassignBatch {
        batch: u64,
        to: String,
    },
    /// Orders picked and waiting for the pack bench.
    Picked {
        limit: u32,
    },
    PackStart {
        order: String,
    },
    PackScan {
        order: String,
        code: String,
    },
    PackFinish {
        order: String,
        box_name: String,
        weight_g: u32,
    },
    Boxes,
    RaiseException {
        order: String,
        note: String,
    },
    ResolveException {
        order: String,
        resume: OrderState,
        resolution: String,
    },
    Exceptions,
    Reveal {
        order: String,
        reason: String,
    },
    Unlock {
        passphrase: Passphrase,
    },
    Lock,
    Purge {
        as_of: Option<DateTime<Utc>>,
    },
    SyncStatus,
    /// One order, without personal data.
    Order {
        order: String,
    },
    /// Orders whose recipient name matches, through the blind index (labelers and leads).
    LookupName {
        text: String,
    },
    /// Checks the audit chain (leads).
    AuditVerify,
    /// Imports one searchOrders response page (leads). The page holds personal data: it is
    /// wiped after use and never printed.
    Import {
        file: String,
        page: RawPage,
    },
    /// Shipping offers for a packed order, best first by the site's rule.
    Rates {
        order: String,
    },
    /// Buys a label (the offer named, or the rule's choice). Never twice for one order.
    BuyLabel {
        order: String,
        service: Option<String>,
    },
    /// Prints (or reprints) the order's bought label.
    PrintLabel {
        order: String,
        printer: Option<String>,
    },
    /// Prints the order's packing slip.
    PrintSlip {
        order: String,
        printer: Option<String>,
        pdf: bool,
    },
    VoidLabel {
        order: String,
        reason: String,
    },
    /// An own-carrier shipment: confirms it to Amazon, then the order is Shipped.
    ShipOwnCarrier {
        order: String,
        carrier: String,
        tracking: String,
    },
    /// A lead records a shipment found in Seller Central after a purchase whose outcome was
    /// unknown (looked up with getShipment).
    CheckPurchase {
        order: String,
        shipment_id: String,
    },
    /// One day's shipments for the end-of-day manifest; `close` ships the day's labelled orders.
    Manifest {
        /// The site's calendar day; today when not given.
        date: Option<chrono::NaiveDate>,
        close: bool,
    },
    PrintJobs,
    /// A lead found that Amazon bought nothing for a purchase of unknown outcome: clear it, so
    /// a label can be bought.
    ClearPurchase {
        order: String,
        reason: String,
    },
}

impl Request {
    /// Requests answered in microseconds without a flush, an Amazon call or a long walk: the
    /// socket runs them, in arrival order, on one worker thread of their own instead of the
    /// blocking pool (fifty scanners would otherwise be fifty threads fighting for two cores).
    pub fn is_quick(&self) -> bool {
        matches!(
            self,
            Request::Hello
                | Request::Queue { .. }
                | Request::PickScan { .. }
                | Request::PackScan { .. }
                | Request::Boxes
                | Request::SyncStatus
                | Request::Order { .. }
        )
    }

    /// The request's name, for logs and refusals.
    pub fn name(&self) -> &'static str {
        match self {
            Request::Hello => "hello",
            Request::Queue { .. } => "queue",
            Request::ClaimBatch { .. } => "claim_batch",
            Request::Batches { .. } => "batches",
            Request::PickScan { .. } => "pick_scan",
            Request::ShortPick { .. } => "short_pick",
            Request::FinishPick { .. } => "finish_pick",
            Request::ReleaseBatch { .. } => "release_batch",
            Request::ReassignBatch { .. } => "reassign_batch",
            Request::Picked { .. } => "picked",
            Request::PackStart { .. } => "pack_start",
            Request::PackScan { .. } => "pack_scan",
            Request::PackFinish { .. } => "pack_finish",
            Request::Boxes => "boxes",
            Request::RaiseException { .. } => "raise_exception",
            Request::ResolveException { .. } => "resolve_exception",
            Request::Exceptions => "exceptions",
            Request::Reveal { .. } => "reveal",
            Request::Unlock { .. } => "unlock",
            Request::Lock => "lock",
            Request::Purge { .. } => "purge",
            Request::SyncStatus => "sync_status",
            Request::Order { .. } => "order",
            Request::LookupName { .. } => "lookup_name",
            Request::AuditVerify => "audit_verify",
            Request::Import { .. } => "import",
            Request::Rates { .. } => "rates",
            Request::BuyLabel { .. } => "buy_label",
            Request::PrintLabel { .. } => "print_label",
            Request::PrintSlip { .. } => "print_slip",
            Request::VoidLabel { .. } => "void_label",
            Request::ShipOwnCarrier { .. } => "ship_own_carrier",
            Request::CheckPurchase { .. } => "check_purchase",
            Request::Manifest { .. } => "manifest",
            Request::PrintJobs => "print_jobs",
            Request::ClearPurchase { .. } => "clear_purchase",
        }
    }
}

/// The master passphrase on its way to the daemon: never printed, wiped on drop.
#[derive(Clone, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(transparent)]
pub struct Passphrase(pub String);

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase(redacted)")
    }
}

/// A searchOrders page on its way to the daemon: never printed, wiped on drop.
#[derive(Clone, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(transparent)]
pub struct RawPage(pub String);

impl fmt::Debug for RawPage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RawPage({} bytes, redacted)", self.0.len())
    }
}

/// A revealed recipient, as display lines with every control character escaped. Its `Debug`
/// shows nothing of it, and it is wiped on drop.
#[derive(Clone, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(transparent)]
pub struct Revealed(pub Vec<String>);

impl fmt::Debug for Revealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Revealed({} lines, redacted)", self.0.len())
    }
}

/// A queue row is the order record itself: it holds nothing personal but the masked recipient
/// name, which every role may see.
pub type OrderRow = crate::domain::OrderRecord;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Orders per state, in [`OrderState::ALL`] order.
    pub by_state: Vec<(OrderState, u64)>,
    /// Open orders whose ship-by has passed, and those due by the end of today (UTC).
    pub late: u64,
    pub due_today: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuePage {
    pub offset: u32,
    pub rows: Vec<OrderRow>,
    /// True when more rows follow this page.
    pub more: bool,
    pub counts: Counts,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoxPreset {
    pub name: String,
    pub dims_mm: [u32; 3],
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExceptionRow {
    pub order: OrderId,
    pub raised_at: DateTime<Utc>,
    pub raised_by: String,
    pub note: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncState {
    /// False when this site has no Amazon connection configured (or no daemon runs the loop).
    pub enabled: bool,
    pub last_ok: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub running: bool,
}

/// What a request gives back.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    Welcome {
        user: String,
        role: Role,
        unlocked: bool,
        training: bool,
        batch_size: u32,
    },
    Queue(QueuePage),
    Batch {
        batch: Option<PickBatch>,
    },
    Batches {
        batches: Vec<PickBatch>,
    },
    /// A scan counted: what it did, and whether the batch is now complete. (The client keeps
    /// its copy of the batch; sending it whole on every scan would cost every scan.)
    Picked {
        batch: u64,
        scan: PickScan,
        complete: bool,
    },
    Shorted {
        batch: Option<PickBatch>,
        orders: Vec<OrderId>,
        put_back: Vec<(String, u32)>,
    },
    Orders {
        orders: Vec<OrderRow>,
    },
    Pack {
        check: PackCheck,
    },
    Packed {
        order: OrderRow,
    },
    Boxes {
        boxes: Vec<BoxPreset>,
    },
    Exceptions {
        exceptions: Vec<ExceptionRow>,
    },
    Revealed {
        order: OrderId,
        lines: Revealed,
    },
    Purged {
        report: crate::store::PurgeReport,
    },
    Sync(SyncState),
    Found {
        orders: Vec<OrderId>,
    },
    AuditOk {
        entries: u64,
    },
    Imported {
        counts: crate::store::ImportCounts,
    },
    Rates {
        offers: Vec<RateOffer>,
    },
    Shipment {
        shipment: crate::store::shipping::ShipmentRecord,
    },
    Queued {
        job: crate::store::shipping::PrintJob,
    },
    Manifest {
        shipments: Vec<crate::store::shipping::ShipmentRecord>,
        shipped: u64,
    },
    PrintJobs {
        jobs: Vec<crate::store::shipping::PrintJob>,
    },
    Done,
}

/// A shipping offer as the labeler sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RateOffer {
    pub service_id: String,
    pub carrier: String,
    pub service: String,
    pub amount: f64,
    pub currency: String,
    pub latest_delivery: Option<DateTime<Utc>>,
    /// Delivers by the order's promised date (or the order promises none).
    pub meets_promise: bool,
}

/// Pushed to clients as things happen. Each names whom it concerns; clients show what is theirs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "notice", rename_all = "snake_case")]
pub enum Notice {
    /// Amazon cancelled (or another channel shipped) an order that was in someone's batch: it
    /// has left the batch and must not be packed.
    OrderPulled {
        order: OrderId,
        batch: u64,
        holder: String,
        state: OrderState,
    },
    /// A batch's claim ended without being finished (its holder disconnected, or a lead moved it).
    ClaimReleased {
        batch: u64,
        holder: String,
        reason: String,
    },
    SyncProgress {
        pages: u64,
        new: u64,
        updated: u64,
        cancelled: u64,
    },
    SyncFinished {
        new: u64,
        updated: u64,
        cancelled: u64,
        error: Option<String>,
    },
    PrintFinished {
        order: OrderId,
        ok: bool,
        detail: String,
    },
    /// Fresh queue counts (counting runs in the background after changes).
    Counts(Counts),
    /// The daemon ended this connection, and why (sent to that client only).
    Closed { reason: String },
}

/// Why a request was refused. Messages say what is wrong and what to do; none holds personal
/// data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "error", content = "detail", rename_all = "snake_case")]
pub enum ServiceError {
    #[error(
        "user {user} has no role in packline: ask a lead to add you under [roles] in the config"
    )]
    NoRole { user: String },
    #[error("{action} is for a {needed} or above; {user} is a {role}", needed = needed.name(), role = role.name())]
    Forbidden {
        action: String,
        needed: Role,
        user: String,
        role: Role,
    },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{message}")]
    WrongScan { message: String },
    #[error("{0}")]
    Locked(String),
    #[error("{0}")]
    Store(String),
    #[error("{0}")]
    Protocol(String),
}

impl ServiceError {
    /// The kind of refusal, for logs (never the message, which may quote data).
    pub fn kind(&self) -> &'static str {
        match self {
            ServiceError::NoRole { .. } => "no_role",
            ServiceError::Forbidden { .. } => "forbidden",
            ServiceError::NotFound(_) => "not_found",
            ServiceError::Invalid(_) => "invalid",
            ServiceError::Conflict(_) => "conflict",
            ServiceError::WrongScan { .. } => "wrong_scan",
            ServiceError::Locked(_) => "locked",
            ServiceError::Store(_) => "store",
            ServiceError::Protocol(_) => "protocol",
        }
    }
}
