//! What the marketplace remembers of each API besides its orders: the packages confirmed with
//! confirmShipment, the labels bought through Merchant Fulfillment, the rates, shipments and
//! collection forms of Shipping API v2, and the reports asked for. The API modules change these
//! under the market's lock; nothing here answers a request.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::carriers::Service;

/// One package confirmed with confirmShipment.
#[derive(Clone, Debug, Default)]
pub(crate) struct Confirmed {
    pub reference: String,
    pub tracking: String,
    /// (order item id, quantity, Transparency codes).
    pub items: Vec<(String, u32, Vec<String>)>,
    /// The request body as sent (no personal data: ids, carrier, tracking, codes), for
    /// `/_training/confirmations`.
    pub body: String,
}

/// Labels bought through Merchant Fulfillment.
#[derive(Default)]
pub(crate) struct MfnBook {
    pub(crate) shipments: Vec<Bought>,
    pub(crate) bought: u64,
}

pub(crate) struct Bought {
    pub(crate) id: String,
    pub(crate) order_id: String,
    pub(crate) items: Vec<(String, u32)>,
    pub(crate) tracking: String,
    /// The `Shipment` as getShipment answers it.
    pub(crate) payload: Value,
}

impl Bought {
    pub(crate) fn live(&self) -> bool {
        self.payload["Status"] == "Purchased"
    }
}

impl MfnBook {
    /// Tracking ids of an order's labels that are still purchased (not voided).
    pub(crate) fn tracking_ids<'a>(&'a self, order_id: &'a str) -> impl Iterator<Item = &'a str> {
        self.shipments
            .iter()
            .filter(move |s| s.order_id == order_id && s.live())
            .map(|s| s.tracking.as_str())
    }

    /// Units of an order item on labels that are still purchased.
    pub(crate) fn labelled(&self, order_id: &str, item_id: &str) -> u32 {
        self.shipments
            .iter()
            .filter(|s| s.order_id == order_id && s.live())
            .flat_map(|s| s.items.iter())
            .filter(|(i, _)| i == item_id)
            .map(|(_, q)| *q)
            .sum()
    }
}

/// Rates, shipments and collection forms of Shipping API v2.
#[derive(Default)]
pub(crate) struct ShippingBook {
    pub(crate) quotes: Vec<Quote>,
    pub(crate) shipments: Vec<Shipment>,
    pub(crate) forms: Vec<Form>,
    /// First purchases by idempotency key.
    pub(crate) purchases: HashMap<String, Replay>,
    /// First collection forms by idempotency key.
    pub(crate) form_keys: HashMap<String, Replay>,
    pub(crate) quoted: u64,
    pub(crate) bought: u64,
    pub(crate) packages: u64,
    /// The last request bodies of the operations that take one, by the model's definition
    /// name (`GET /_training/bodies`), so a test can check them against the model. For an
    /// Amazon order they hold no buyer's data; at most [`KEPT_BODIES`].
    pub(crate) bodies: std::collections::VecDeque<(&'static str, String)>,
    /// Percent added to every rate quoted from now on (`/_training/rates/surcharge/{percent}`):
    /// a carrier's price rise between a labeler's choice and the purchase.
    pub(crate) surcharge_percent: u32,
}

impl ShippingBook {
    /// Units of an order item on live (not voided) v2 labels.
    pub(crate) fn labelled(&self, order_id: &str, item_id: &str) -> u32 {
        self.shipments
            .iter()
            .filter(|s| s.order_id == order_id && !s.voided)
            .flat_map(|s| &s.packages)
            .flat_map(|p| &p.items)
            .filter(|(i, _)| i == item_id)
            .map(|(_, q)| *q)
            .sum()
    }

    /// Tracking ids of an order's live v2 packages.
    pub(crate) fn tracking_ids<'a>(&'a self, order_id: &'a str) -> impl Iterator<Item = &'a str> {
        self.shipments
            .iter()
            .filter(move |s| s.order_id == order_id && !s.voided)
            .flat_map(|s| &s.packages)
            .map(|p| p.tracking.as_str())
    }
}

/// One getRates answer, kept for purchaseShipment.
pub(crate) struct Quote {
    pub(crate) token: String,
    pub(crate) order_id: String,
    pub(crate) ship_from: Value,
    pub(crate) parcels: Vec<Parcel>,
    pub(crate) offers: Vec<Offer>,
    pub(crate) expires: Instant,
    /// The shipment bought with this token.
    pub(crate) bought: Option<String>,
}

/// A package as rated.
pub(crate) struct Parcel {
    pub(crate) reference: String,
    pub(crate) items: Vec<(String, u32)>,
}

pub(crate) struct Offer {
    pub(crate) rate_id: String,
    pub(crate) service: &'static Service,
    pub(crate) promise: Value,
}

pub(crate) struct Shipment {
    pub(crate) id: String,
    pub(crate) order_id: String,
    pub(crate) service: &'static Service,
    pub(crate) ship_from: Value,
    pub(crate) packages: Vec<Package>,
    pub(crate) voided: bool,
    /// The collection form it is on.
    pub(crate) form: Option<String>,
}

pub(crate) struct Package {
    pub(crate) reference: String,
    pub(crate) tracking: String,
    pub(crate) items: Vec<(String, u32)>,
    pub(crate) format: &'static str,
    /// Base64 of the label file as bought.
    pub(crate) contents: String,
    /// What the label shows, to draw it in another format.
    pub(crate) from: Vec<String>,
    pub(crate) to: Vec<String>,
    pub(crate) promised: String,
    pub(crate) status: &'static str,
    pub(crate) events: Vec<(&'static str, DateTime<Utc>)>,
}

pub(crate) struct Form {
    pub(crate) id: String,
    pub(crate) carrier_id: String,
    pub(crate) location: String,
    pub(crate) at: DateTime<Utc>,
    pub(crate) pdf: String,
}

/// What the request log keeps of an answer, beyond the request's own parameters.
pub(crate) type Logged = Vec<(&'static str, String)>;

/// A first answer kept under its idempotency key.
pub(crate) struct Replay {
    pub(crate) body: Value,
    pub(crate) answer: Value,
    pub(crate) params: Logged,
}

/// The reports asked for and their documents.
#[derive(Default)]
pub(crate) struct ReportBook {
    pub(crate) next: u64,
    pub(crate) reports: HashMap<String, Entry>,
    /// Document id → the tab-separated document.
    pub(crate) documents: HashMap<String, String>,
    /// The documents that need a Restricted Data Token.
    pub(crate) restricted: HashSet<String>,
}

pub(crate) struct Entry {
    pub(crate) spec: Value,
    pub(crate) created: DateTime<Utc>,
    /// When getReport says DONE at the earliest (after at least one IN_PROGRESS).
    pub(crate) ready: DateTime<Utc>,
    /// The end of the report's data (for the actionable report, lagging its creation).
    pub(crate) data_end: Option<DateTime<Utc>>,
    pub(crate) restricted: bool,
    pub(crate) looks: u32,
    /// The document, when the window held returns; none means CANCELLED.
    pub(crate) document: Option<String>,
}
