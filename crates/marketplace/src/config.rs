//! How the training marketplace behaves (`MarketplaceConfig`) and the faults it can inject.

use chrono::{DateTime, Utc};

/// How the training marketplace behaves.
#[derive(Clone, Debug)]
pub struct MarketplaceConfig {
    pub orders: usize,
    pub seed: u64,
    /// Time runs this many times faster for quotas (1.0 = Amazon's real quotas).
    pub quota_scale: f64,
    /// When the generated orders start (they spread over the following three days).
    pub start: DateTime<Utc>,
    /// Share of searchOrders, Merchant Fulfillment, Shipping API v2, Messaging and Reports requests answered with an injected fault,
    /// 0.0–1.0.
    pub fault_rate: f64,
    /// The faults to draw from.
    pub faults: Vec<Fault>,
    /// How long a `timeout` or `slow` fault keeps the caller waiting.
    pub fault_delay: std::time::Duration,
    /// New pending orders arriving per minute while the marketplace runs.
    pub new_orders_per_minute: f64,
    /// Share of arrivals that come with the cancellation of an earlier pending order.
    pub cancel_rate: f64,
    /// Share of arrivals that come with a buyer's request to cancel an earlier pending order
    /// (the order stays unshipped; the seller decides).
    pub cancel_request_rate: f64,
    /// Some catalogue items need serial numbers or Transparency codes at packing.
    pub unit_codes: bool,
    /// How long a Shipping API v2 rate (its `requestToken`) can be purchased; Amazon's is 10
    /// minutes, after which purchaseShipment answers `TOKEN_EXPIRED`.
    pub rate_validity: std::time::Duration,
}

impl MarketplaceConfig {
    /// Amazon's validity of a Shipping API v2 rate.
    pub const RATE_VALIDITY: std::time::Duration = std::time::Duration::from_secs(600);
}

/// A fault the marketplace can inject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    TooManyRequests,
    InternalError,
    Unavailable,
    Timeout,
    Malformed,
    Truncated,
    /// The real answer, whole, only after the fault delay (a slow Amazon, not a failing one).
    Slow,
}

impl Fault {
    pub const ALL: [Fault; 7] = [
        Fault::TooManyRequests,
        Fault::InternalError,
        Fault::Unavailable,
        Fault::Timeout,
        Fault::Malformed,
        Fault::Truncated,
        Fault::Slow,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Fault::TooManyRequests => "429",
            Fault::InternalError => "500",
            Fault::Unavailable => "503",
            Fault::Timeout => "timeout",
            Fault::Malformed => "malformed",
            Fault::Truncated => "truncated",
            Fault::Slow => "slow",
        }
    }

    /// Parses a comma-separated list such as `429,500,503,timeout,malformed,truncated`.
    pub fn parse_list(s: &str) -> Result<Vec<Fault>, String> {
        s.split(',')
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(|x| {
                Fault::ALL
                    .into_iter()
                    .find(|f| f.name() == x)
                    .ok_or_else(|| {
                        format!(
                            "unknown fault {x:?}: use 429, 500, 503, timeout, malformed, truncated, slow"
                        )
                    })
            })
            .collect()
    }
}
