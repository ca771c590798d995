//! The seller's metrics as Amazon judges a merchant-fulfilled seller — Late Shipment Rate,
//! Valid Tracking Rate, On-Time Delivery Rate, Pre-fulfillment Cancel Rate — and Seller
//! Fulfilled Prime's on-time shipment and Buy Shipping share, each beside Amazon's threshold.
//! Counted from the day counters the store keeps as each change commits (see `report`), over
//! windows of local days ending today: counts and dates only, nothing personal. Pure.

use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};

use super::report::{By, Count, Figures, Report};

/// Which of the seller's metrics a rate is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Orders shipped after their ship-by, of the orders shipped (by the day they shipped).
    LateShipmentRate,
    /// Packages the carrier has scanned, of the packages shipped whose tracking packline
    /// follows (Shipping API v2 labels), by the day their order shipped.
    ValidTrackingRate,
    /// Packages delivered by the carrier's promised date, of the packages delivered (by the day
    /// they were delivered).
    OnTimeDeliveryRate,
    /// Orders cancelled at Amazon without the buyer asking, of the orders shipped or
    /// cancelled (by the day they left the floor).
    PreFulfillmentCancelRate,
    /// Seller Fulfilled Prime: orders shipped by their ship-by, of the orders shipped.
    OnTimeShipmentRate,
    /// Seller Fulfilled Prime: orders shipped with a Buy Shipping label, of the orders shipped.
    BuyShippingRate,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::LateShipmentRate => "Late Shipment Rate",
            Kind::ValidTrackingRate => "Valid Tracking Rate",
            Kind::OnTimeDeliveryRate => "On-Time Delivery Rate",
            Kind::PreFulfillmentCancelRate => "Pre-fulfillment Cancel Rate",
            Kind::OnTimeShipmentRate => "On-time shipment (Prime)",
            Kind::BuyShippingRate => "Buy Shipping (Prime)",
        }
    }

    /// A short name for a narrow panel.
    pub fn short(self) -> &'static str {
        match self {
            Kind::LateShipmentRate => "late ship",
            Kind::ValidTrackingRate => "valid track",
            Kind::OnTimeDeliveryRate => "on-time dlv",
            Kind::PreFulfillmentCancelRate => "cancels",
            Kind::OnTimeShipmentRate => "SFP on time",
            Kind::BuyShippingRate => "SFP buy ship",
        }
    }

    /// What the rate is a share of, in words: said when there is none in the window.
    pub fn none(self) -> &'static str {
        match self {
            Kind::ValidTrackingRate => "no tracked packages",
            Kind::OnTimeDeliveryRate => "no deliveries",
            _ => "no orders",
        }
    }

    /// Amazon's threshold for it.
    pub fn threshold(self) -> Threshold {
        let (below, percent) = match self {
            Kind::LateShipmentRate => (true, 4.0),
            Kind::ValidTrackingRate => (false, 95.0),
            Kind::OnTimeDeliveryRate => (false, 90.0),
            Kind::PreFulfillmentCancelRate => (true, 2.5),
            Kind::OnTimeShipmentRate => (false, 99.0),
            Kind::BuyShippingRate => (false, 98.0),
        };
        Threshold { below, percent }
    }

    /// Counted by a counter packline keeps since a given day (see [`SellerMetrics::counted_since`]).
    fn newer_counter(self) -> bool {
        matches!(
            self,
            Kind::ValidTrackingRate | Kind::PreFulfillmentCancelRate | Kind::BuyShippingRate
        )
    }
}

/// Amazon's threshold: a rate must stay under `percent` (`below`), or reach at least it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Threshold {
    pub below: bool,
    pub percent: f64,
}

impl Threshold {
    pub fn meets(self, percent: f64) -> bool {
        if self.below {
            percent < self.percent
        } else {
            percent >= self.percent
        }
    }
}

impl std::fmt::Display for Threshold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let op = if self.below { "<" } else { "≥" };
        write!(f, "{op} {} %", self.percent)
    }
}

/// One rate over one window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Rate {
    pub metric: Kind,
    /// The window's length in days, ending today.
    pub days: u32,
    /// The first and last local day counted. `from` is later than the window's start when the
    /// counter began later (`since_counting`); after `to` when it began today.
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// The window reaches before the day packline began counting this rate: only the days
    /// from `from` are counted.
    pub since_counting: bool,
    /// What the rate counts, of how many.
    pub count: u64,
    pub of: u64,
    /// `count / of` in percent; none with nothing in the window.
    pub percent: Option<f64>,
    pub threshold: Threshold,
    /// Whether the rate is on the right side of the threshold; none with nothing to judge.
    pub meets: Option<bool>,
}

impl Rate {
    /// The rate as text: `3.1 %`, or what there is none of.
    pub fn shown(&self) -> String {
        match self.percent {
            Some(p) => format!("{p:.1} %"),
            None => self.metric.none().to_owned(),
        }
    }
}

/// The seller's metrics of today.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SellerMetrics {
    pub today: NaiveDate,
    /// The first whole day the newer counters (own-carrier shipments, cancellations, tracking
    /// scans) counted (the day after the first open of a packline that counts them, when the
    /// store had orders already); none when they counted from the store's start. It may be
    /// tomorrow: then those rates have nothing yet.
    pub counted_since: Option<NaiveDate>,
    pub rates: Vec<Rate>,
    /// Orders shipped by the seller's own carrier in the last 30 days: packline does not follow
    /// their tracking, so the Valid Tracking Rate leaves them out.
    pub own_carrier_not_followed: u64,
}

/// The windows, in days, of each rate (Amazon's: LSR 10 and 30, VTR 7 and 30, cancel 7; OTDR
/// over 14; Seller Fulfilled Prime over 30).
pub const WINDOWS: [(Kind, u32); 8] = [
    (Kind::LateShipmentRate, 10),
    (Kind::LateShipmentRate, 30),
    (Kind::ValidTrackingRate, 7),
    (Kind::ValidTrackingRate, 30),
    (Kind::OnTimeDeliveryRate, 14),
    (Kind::PreFulfillmentCancelRate, 7),
    (Kind::OnTimeShipmentRate, 30),
    (Kind::BuyShippingRate, 30),
];

/// The longest window: the days of counters to read.
pub const LONGEST: u32 = 30;

impl SellerMetrics {
    /// The metrics of `today` from the counters of (at least) the last [`LONGEST`] days.
    pub fn build(today: NaiveDate, counted_since: Option<NaiveDate>, counts: &[Count]) -> Self {
        let rates = WINDOWS
            .iter()
            .map(|&(metric, days)| {
                let start = today - Duration::days(i64::from(days) - 1);
                let since = counted_since.filter(|s| metric.newer_counter() && *s > start);
                let from = since.unwrap_or(start);
                let t = Report::build(from, today, By::Day, counts).totals;
                let (count, of) = fraction(metric, &t);
                let percent = (of > 0).then(|| count as f64 * 100.0 / of as f64);
                let threshold = metric.threshold();
                Rate {
                    metric,
                    days,
                    from,
                    to: today,
                    since_counting: since.is_some(),
                    count,
                    of,
                    percent,
                    threshold,
                    meets: percent.map(|p| threshold.meets(p)),
                }
            })
            .collect();
        let start = today - Duration::days(i64::from(LONGEST) - 1);
        let from = counted_since.filter(|s| *s > start).unwrap_or(start);
        SellerMetrics {
            today,
            counted_since,
            rates,
            own_carrier_not_followed: Report::build(from, today, By::Day, counts)
                .totals
                .own_carrier_shipments,
        }
    }

    /// The rates that miss their threshold.
    pub fn missed(&self) -> impl Iterator<Item = &Rate> {
        self.rates.iter().filter(|r| r.meets == Some(false))
    }
}

/// What a rate counts, of how many, from a window's totals.
fn fraction(metric: Kind, t: &Figures) -> (u64, u64) {
    let shipped = t.orders_shipped;
    match metric {
        Kind::LateShipmentRate => (t.late_shipments, shipped),
        Kind::ValidTrackingRate => (t.tracking_scanned, t.tracking_followed),
        Kind::OnTimeDeliveryRate => (
            t.packages_delivered.saturating_sub(t.late_deliveries),
            t.packages_delivered,
        ),
        Kind::PreFulfillmentCancelRate => (t.seller_cancellations, shipped + t.cancellations),
        Kind::OnTimeShipmentRate => (shipped.saturating_sub(t.late_shipments), shipped),
        Kind::BuyShippingRate => (shipped.saturating_sub(t.own_carrier_shipments), shipped),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::report::{Metric, Of};

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    fn count(d: u32, metric: Metric, n: u64) -> Count {
        Count {
            day: day(d),
            metric,
            of: Of::Day,
            n,
        }
    }

    fn rate(m: &SellerMetrics, k: Kind, days: u32) -> &Rate {
        m.rates
            .iter()
            .find(|r| r.metric == k && r.days == days)
            .unwrap()
    }

    #[test]
    fn each_rate_counts_its_window_and_says_when_there_is_nothing() {
        let carrier = Of::Carrier {
            carrier: "UPS".into(),
            currency: String::new(),
        };
        let counts = vec![
            // Day 1 is outside the 10-day window of the 30th, inside the 30-day one.
            count(1, Metric::OrdersShipped, 10),
            count(1, Metric::LateShipments, 3),
            count(25, Metric::OrdersShipped, 50),
            count(25, Metric::LateShipments, 1),
            count(25, Metric::OwnCarrierShipments, 2),
            count(25, Metric::TrackingFollowed, 40),
            count(25, Metric::TrackingScanned, 39),
            count(26, Metric::Cancellations, 2),
            count(26, Metric::SellerCancellations, 1),
            Count {
                day: day(28),
                metric: Metric::PackagesDelivered,
                of: carrier.clone(),
                n: 20,
            },
            Count {
                day: day(28),
                metric: Metric::LateDeliveries,
                of: carrier,
                n: 4,
            },
        ];
        let m = SellerMetrics::build(day(30), None, &counts);
        let lsr10 = rate(&m, Kind::LateShipmentRate, 10);
        assert_eq!((lsr10.count, lsr10.of, lsr10.meets), (1, 50, Some(true)));
        assert_eq!(lsr10.from, day(21));
        let lsr30 = rate(&m, Kind::LateShipmentRate, 30);
        assert_eq!((lsr30.count, lsr30.of, lsr30.meets), (4, 60, Some(false)));
        let vtr = rate(&m, Kind::ValidTrackingRate, 7);
        assert_eq!((vtr.count, vtr.of, vtr.shown()), (39, 40, "97.5 %".into()));
        let otdr = rate(&m, Kind::OnTimeDeliveryRate, 14);
        assert_eq!((otdr.count, otdr.of, otdr.meets), (16, 20, Some(false)));
        let cancel = rate(&m, Kind::PreFulfillmentCancelRate, 7);
        assert_eq!((cancel.count, cancel.of), (1, 52));
        let buy = rate(&m, Kind::BuyShippingRate, 30);
        assert_eq!((buy.count, buy.of, buy.meets), (58, 60, Some(false)));
        assert_eq!(m.own_carrier_not_followed, 2);
        assert_eq!(m.missed().count(), 4);

        // Nothing in a window: said, never 0 % or NaN.
        let empty = SellerMetrics::build(day(30), None, &[]);
        for r in &empty.rates {
            assert_eq!((r.percent, r.meets), (None, None));
        }
        assert_eq!(
            rate(&empty, Kind::LateShipmentRate, 10).shown(),
            "no orders"
        );
        assert_eq!(
            rate(&empty, Kind::OnTimeDeliveryRate, 14).shown(),
            "no deliveries"
        );
    }

    /// A rate from a counter begun within its window counts from that day, and says so; the
    /// rates of the older counters keep their whole window.
    #[test]
    fn a_newer_counter_counts_from_its_first_day() {
        let counts = vec![
            count(22, Metric::OrdersShipped, 10),
            count(27, Metric::OrdersShipped, 10),
            count(27, Metric::OwnCarrierShipments, 1),
        ];
        let m = SellerMetrics::build(day(30), Some(day(27)), &counts);
        let buy = rate(&m, Kind::BuyShippingRate, 30);
        assert!(buy.since_counting);
        assert_eq!((buy.from, buy.count, buy.of), (day(27), 9, 10));
        let lsr = rate(&m, Kind::LateShipmentRate, 30);
        assert!(!lsr.since_counting);
        assert_eq!(lsr.of, 20);
        let vtr7 = rate(&m, Kind::ValidTrackingRate, 7);
        assert!(vtr7.since_counting);
        // Counting began before the window: the whole window.
        let old = SellerMetrics::build(day(30), Some(day(1)), &counts);
        assert!(old.rates.iter().all(|r| !r.since_counting));
    }
}
