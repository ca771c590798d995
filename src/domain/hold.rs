//! Holds: an order stopped where it is on the floor, by a lead (a customer called, stock is in
//! doubt) or by Amazon's word that the buyer asked to cancel. A held order is not claimed,
//! packed, labelled, printed for or confirmed until the hold is released; one held mid-pick
//! leaves its batch, and its units go to the exceptions shelf.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::free_text::FreeText;
use super::order::OrderId;

/// Why an order is held, by whom, since when. A lead's reason is their own words, which may name
/// a person: the store keeps it sealed, and a refusal the hold causes names who and since when,
/// never the reason. Sync's reason ([`BUYER_ASKED_TO_CANCEL`]) is packline's own.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Hold {
    pub reason: FreeText,
    pub by: String,
    pub since: DateTime<Utc>,
}

/// An order's hold, as lists and pages carry it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Held {
    pub order: OrderId,
    pub hold: Hold,
}

/// The reason sync gives an order whose buyer asked Amazon to cancel it.
pub const BUYER_ASKED_TO_CANCEL: &str = "buyer asked to cancel";

/// The longest reason kept: a line on a screen, not a letter.
pub const MAX_REASON: usize = 200;
