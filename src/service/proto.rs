//! The service's vocabulary besides the operations themselves (`ops`): the rows and pages they
//! answer with, pushed notices and typed errors, all serde. The same types cross the in-process
//! channel and the Unix socket, so the TUI and the CLI cannot tell which transport they are on.
//! Personal data crosses only inside [`Revealed`], which has no readable `Debug` and is wiped on
//! drop.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

pub use crate::domain::Role;
use crate::domain::{OrderId, OrderState};

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

/// Written as its lines: the one answer that holds personal data (a lead's audited reveal).
impl schemars::JsonSchema for Revealed {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Revealed".into()
    }

    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let mut s = <Vec<String>>::json_schema(g);
        s.insert(
            "description".into(),
            "The recipient's name and address, a line each (personal data: a lead's audited reveal only)."
                .into(),
        );
        s
    }
}

impl fmt::Debug for Revealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Revealed({} lines, redacted)", self.0.len())
    }
}

/// An order as the floor sees it: the record (nothing personal but the masked recipient name,
/// which every role may see) and its hold, when it is held. Reads as the record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OrderRow {
    #[serde(flatten)]
    pub record: crate::domain::OrderRecord,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold: Option<crate::domain::Hold>,
    /// packline never imported the order: it was recorded from Amazon, closed, for a return, an
    /// inquiry or a message (shipped or cancelled elsewhere; no recipient).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub shipped_elsewhere: bool,
}

impl std::ops::Deref for OrderRow {
    type Target = crate::domain::OrderRecord;
    fn deref(&self) -> &crate::domain::OrderRecord {
        &self.record
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
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

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ExceptionRow {
    pub order: OrderId,
    pub raised_at: DateTime<Utc>,
    pub raised_by: String,
    /// The note: its words for a lead who unlocked, else the placeholder.
    pub note: crate::domain::FreeText,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SyncState {
    /// False when this site has no Amazon connection configured (or no daemon runs the loop).
    pub enabled: bool,
    pub last_ok: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub running: bool,
    /// The scheduled retention purge (the daemon's): when it last finished, and why the last
    /// one failed, if it did.
    #[serde(default)]
    pub purge_last_ok: Option<DateTime<Utc>>,
    #[serde(default)]
    pub purge_error: Option<String>,
    /// The returns report pull (its own schedule): running now, when it last finished, and why
    /// the last one failed, if it did.
    #[serde(default)]
    pub returns_running: bool,
    #[serde(default)]
    pub returns_last_ok: Option<DateTime<Utc>>,
    #[serde(default)]
    pub returns_error: Option<String>,
    /// When the daemon's schedule runs the next sync (none when no daemon schedules it).
    #[serde(default)]
    pub next_sync: Option<DateTime<Utc>>,
    /// Amazon's searchOrders quota left, as this site's client holds it (none on a site that
    /// has no Amazon connection and never synced).
    #[serde(default)]
    pub quota: Option<Quota>,
}

/// An SP-API operation's quota as the client's token bucket holds it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Quota {
    /// Requests that may be sent now (the bucket refills continuously, so in fractions).
    pub tokens: f64,
    /// The most it holds.
    pub burst: f64,
    /// Requests per second it refills at.
    pub rate: f64,
}

impl Quota {
    /// Whole requests that may be sent now.
    pub fn whole(&self) -> u64 {
        if self.tokens.is_finite() && self.tokens > 0.0 {
            self.tokens.floor() as u64
        } else {
            0
        }
    }

    /// Seconds one request takes to refill (none for a rate that is not positive).
    pub fn refill_secs(&self) -> Option<u64> {
        (self.rate.is_finite() && self.rate > 0.0).then(|| (1.0 / self.rate).round() as u64)
    }
}

/// A shipping offer as the labeler sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
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
        /// Its cart slot, whose units go back.
        #[serde(default)]
        slot: Option<u32>,
    },
    /// An order was put on hold. One in a batch has left it (its units picked so far, `put_aside`,
    /// go to the exceptions shelf); one at a pack bench (`batch` none) is set aside there.
    OrderHeld {
        order: OrderId,
        batch: Option<u64>,
        holder: String,
        reason: String,
        put_aside: Vec<(String, u32)>,
        /// Its cart slot, whose units go to the exceptions shelf.
        #[serde(default)]
        slot: Option<u32>,
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
        /// Before the next page: how long the sync waits for Amazon's searchOrders quota.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        waiting_secs: Option<u64>,
    },
    SyncFinished {
        new: u64,
        updated: u64,
        cancelled: u64,
        error: Option<String>,
    },
    /// A print job ended, printed or failed (`job` none: a document that could not be queued).
    PrintFinished {
        #[serde(default)]
        job: Option<u64>,
        /// What was printed: "order … label", or "collection form FedEx 2026-12-07".
        #[serde(default)]
        what: String,
        order: OrderId,
        ok: bool,
        detail: String,
    },
    /// Fresh queue counts (counting runs in the background after changes).
    Counts(Counts),
    /// Orders moved on the floor: sent once the changes have paused for a moment (at most one a
    /// second), so a screen of the whole floor (the lead's dashboard) asks for it again.
    FloorChanged,
    /// The daemon ended this connection, and why (sent to that client only).
    Closed { reason: String },
    /// A wave of label purchases moved on: `done` of `total` orders settled (bought or set
    /// aside for a person), for the user who runs it.
    LabelWave { user: String, done: u32, total: u32 },
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
    /// The order is held: nothing moves it on until a lead releases it.
    /// Names who held it and since when, never the reason (a lead's words, sealed).
    #[error(
        "order {order} is on hold (since {since}, by {by}): nothing moves it on until a lead releases it (packline orders release {order}); a lead can read the reason (packline orders holds)",
        since = since.format("%Y-%m-%d %H:%M UTC")
    )]
    OnHold {
        order: String,
        by: String,
        since: DateTime<Utc>,
    },
    #[error("{0}")]
    Locked(String),
    #[error("{0}")]
    Store(String),
    #[error("{0}")]
    Protocol(String),
    /// The disk holding the store is full: nothing was changed.
    #[error("{0}")]
    NoSpace(String),
    /// Amazon did not do what was asked; `failure` says whether trying again later can work.
    #[error("{message}")]
    Amazon {
        failure: AmazonFailure,
        message: String,
    },
}

/// Why a call to Amazon failed, as far as packline can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AmazonFailure {
    /// Amazon could not be reached, or kept throttling or failing: nothing was done; the same
    /// request can be tried again later.
    Unavailable,
    /// The request may have reached Amazon, with no readable answer: find out what Amazon did
    /// before trying again (a label may have been bought).
    OutcomeUnknown,
    /// Amazon answered, and refused: its message says why; the same request will be refused
    /// again.
    Refused,
    /// Amazon's answer could not be read.
    Unreadable,
    /// packline did not send the request: its Amazon config, or the request, is wrong.
    NotSent,
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
            ServiceError::OnHold { .. } => "on_hold",
            ServiceError::Locked(_) => "locked",
            ServiceError::Store(_) => "store",
            ServiceError::Protocol(_) => "protocol",
            ServiceError::NoSpace(_) => "no_space",
            ServiceError::Amazon { failure, .. } => match failure {
                AmazonFailure::Unavailable => "amazon_unavailable",
                AmazonFailure::OutcomeUnknown => "outcome_unknown",
                AmazonFailure::Refused => "amazon_refused",
                AmazonFailure::Unreadable => "amazon_unreadable",
                AmazonFailure::NotSent => "amazon_not_sent",
            },
        }
    }
}
