//! Reports for leads: what left, what was late, what went wrong, what postage cost, by day and
//! SKU. Built from the aggregates the store keeps as each change commits (one counter per day,
//! metric and SKU or carrier), so a report over years reads days, never orders. Nothing here
//! can name a recipient: the types hold SKUs, carriers, dates and counts only. Pure.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// What is counted. The codes are stored in keys: stable, never renumber.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    OrdersShipped,
    UnitsShipped,
    LateShipments,
    ShortPicks,
    Exceptions,
    Holds,
    LabelsBought,
    LabelsVoided,
    /// Postage paid for labels bought, in hundredths of the currency.
    PostageCents,
    /// Units Amazon's returns report says are coming back (per SKU, and per SKU and reason).
    ReturnsExpected,
    /// Units received at the returns bench, and of them those in each condition.
    ReturnsReceived,
    ReturnsRestocked,
    ReturnsDamaged,
    ReturnsWrongItem,
    ReturnsMissing,
    /// Packages bought through Shipping API v2 that their carrier delivered (the day they were
    /// delivered), and of them those delivered after the carrier's promise.
    PackagesDelivered,
    LateDeliveries,
    /// Orders shipped by the seller's own carrier (not through Buy Shipping), on the day they
    /// shipped.
    OwnCarrierShipments,
    /// Open orders cancelled at Amazon, and of them those the buyer did not ask to cancel (the
    /// seller's, as Amazon's Pre-fulfillment Cancel Rate counts them), on the day packline
    /// learnt of it.
    Cancellations,
    SellerCancellations,
    /// Packages of shipped orders whose tracking packline follows (bought through Shipping API
    /// v2), and of them those the carrier has scanned: both on the day the order shipped.
    TrackingFollowed,
    TrackingScanned,
}

impl Metric {
    pub const ALL: [Metric; 22] = [
        Metric::OrdersShipped,
        Metric::UnitsShipped,
        Metric::LateShipments,
        Metric::ShortPicks,
        Metric::Exceptions,
        Metric::Holds,
        Metric::LabelsBought,
        Metric::LabelsVoided,
        Metric::PostageCents,
        Metric::ReturnsExpected,
        Metric::ReturnsReceived,
        Metric::ReturnsRestocked,
        Metric::ReturnsDamaged,
        Metric::ReturnsWrongItem,
        Metric::ReturnsMissing,
        Metric::PackagesDelivered,
        Metric::LateDeliveries,
        Metric::OwnCarrierShipments,
        Metric::Cancellations,
        Metric::SellerCancellations,
        Metric::TrackingFollowed,
        Metric::TrackingScanned,
    ];

    pub fn code(self) -> u8 {
        match self {
            Metric::OrdersShipped => 1,
            Metric::UnitsShipped => 2,
            Metric::LateShipments => 3,
            Metric::ShortPicks => 4,
            Metric::Exceptions => 5,
            Metric::Holds => 6,
            Metric::LabelsBought => 7,
            Metric::LabelsVoided => 8,
            Metric::PostageCents => 9,
            Metric::ReturnsExpected => 10,
            Metric::ReturnsReceived => 11,
            Metric::ReturnsRestocked => 12,
            Metric::ReturnsDamaged => 13,
            Metric::ReturnsWrongItem => 14,
            Metric::ReturnsMissing => 15,
            Metric::PackagesDelivered => 16,
            Metric::LateDeliveries => 17,
            Metric::OwnCarrierShipments => 18,
            Metric::Cancellations => 19,
            Metric::SellerCancellations => 20,
            Metric::TrackingFollowed => 21,
            Metric::TrackingScanned => 22,
        }
    }

    pub fn from_code(c: u8) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.code() == c)
    }
}

/// One stored counter: the day, what it counts, and for what (a SKU, a carrier and currency, or
/// nothing for the day's totals).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Count {
    pub day: NaiveDate,
    pub metric: Metric,
    pub of: Of,
    pub n: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Of {
    Day,
    Sku(String),
    Carrier {
        carrier: String,
        currency: String,
    },
    /// A SKU's returns for one of Amazon's return reasons.
    Reason {
        sku: String,
        reason: String,
    },
}

/// How rows are grouped.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum By {
    #[default]
    Day,
    Sku,
    SkuDay,
}

impl By {
    pub fn parse(s: &str) -> Option<By> {
        match s {
            "day" => Some(By::Day),
            "sku" => Some(By::Sku),
            "sku-day" => Some(By::SkuDay),
            _ => None,
        }
    }
}

/// A report's figures for one group (a day, a SKU, or a SKU on a day). Order-level figures
/// (orders, late, exceptions, holds, labels) are kept per day, not per SKU: they are zero in SKU
/// rows.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Figures {
    pub orders_shipped: u64,
    pub units_shipped: u64,
    pub late_shipments: u64,
    pub short_picks: u64,
    pub exceptions: u64,
    pub holds: u64,
    pub labels_bought: u64,
    pub labels_voided: u64,
    #[serde(default)]
    pub returns_expected: u64,
    #[serde(default)]
    pub returns_received: u64,
    #[serde(default)]
    pub returns_restocked: u64,
    #[serde(default)]
    pub returns_damaged: u64,
    #[serde(default)]
    pub returns_wrong_item: u64,
    #[serde(default)]
    pub returns_missing: u64,
    /// Packages their carrier delivered (Shipping API v2 tracking), and of them those late.
    #[serde(default)]
    pub packages_delivered: u64,
    #[serde(default)]
    pub late_deliveries: u64,
    /// Orders shipped by the seller's own carrier (the others went with a Buy Shipping label).
    #[serde(default)]
    pub own_carrier_shipments: u64,
    /// Open orders cancelled at Amazon, and of them those the buyer did not ask to cancel.
    #[serde(default)]
    pub cancellations: u64,
    #[serde(default)]
    pub seller_cancellations: u64,
    /// Packages shipped whose tracking packline follows, and of them those the carrier scanned.
    #[serde(default)]
    pub tracking_followed: u64,
    #[serde(default)]
    pub tracking_scanned: u64,
}

impl Figures {
    fn add(&mut self, m: Metric, n: u64) {
        let f = match m {
            Metric::OrdersShipped => &mut self.orders_shipped,
            Metric::UnitsShipped => &mut self.units_shipped,
            Metric::LateShipments => &mut self.late_shipments,
            Metric::ShortPicks => &mut self.short_picks,
            Metric::Exceptions => &mut self.exceptions,
            Metric::Holds => &mut self.holds,
            Metric::LabelsBought => &mut self.labels_bought,
            Metric::LabelsVoided => &mut self.labels_voided,
            Metric::ReturnsExpected => &mut self.returns_expected,
            Metric::ReturnsReceived => &mut self.returns_received,
            Metric::ReturnsRestocked => &mut self.returns_restocked,
            Metric::ReturnsDamaged => &mut self.returns_damaged,
            Metric::ReturnsWrongItem => &mut self.returns_wrong_item,
            Metric::ReturnsMissing => &mut self.returns_missing,
            Metric::PackagesDelivered => &mut self.packages_delivered,
            Metric::LateDeliveries => &mut self.late_deliveries,
            Metric::OwnCarrierShipments => &mut self.own_carrier_shipments,
            Metric::Cancellations => &mut self.cancellations,
            Metric::SellerCancellations => &mut self.seller_cancellations,
            Metric::TrackingFollowed => &mut self.tracking_followed,
            Metric::TrackingScanned => &mut self.tracking_scanned,
            Metric::PostageCents => return,
        };
        *f = f.saturating_add(n);
    }

    /// Late shipments as a share of orders shipped (0 with none shipped).
    pub fn late_share(&self) -> f64 {
        if self.orders_shipped == 0 {
            0.0
        } else {
            self.late_shipments as f64 / self.orders_shipped as f64
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Row {
    pub day: Option<NaiveDate>,
    pub sku: Option<String>,
    #[serde(flatten)]
    pub figures: Figures,
}

/// Postage and labels of one carrier, in one currency.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Postage {
    pub carrier: String,
    pub currency: String,
    pub labels_bought: u64,
    pub labels_voided: u64,
    pub amount: f64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ReturnReason {
    pub sku: String,
    pub reason: String,
    pub units: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Report {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub by: By,
    pub totals: Figures,
    pub late_share: f64,
    pub postage: Vec<Postage>,
    /// Units expected back, by SKU and Amazon's return reason.
    #[serde(default)]
    pub return_reasons: Vec<ReturnReason>,
    pub rows: Vec<Row>,
    /// Units shipped and late share per day over the whole range (for the chart), whatever
    /// `by` is.
    pub days: Vec<(NaiveDate, u64, f64)>,
}

impl Report {
    /// Builds the report from the stored counters of `from..=to`.
    pub fn build(from: NaiveDate, to: NaiveDate, by: By, counts: &[Count]) -> Report {
        let mut totals = Figures::default();
        let mut per_day: BTreeMap<NaiveDate, Figures> = BTreeMap::new();
        let mut per_sku: BTreeMap<(Option<NaiveDate>, String), Figures> = BTreeMap::new();
        let mut postage: BTreeMap<(String, String), (u64, u64, u64)> = BTreeMap::new();
        let mut reasons: BTreeMap<(String, String), u64> = BTreeMap::new();
        for c in counts.iter().filter(|c| c.day >= from && c.day <= to) {
            match &c.of {
                Of::Day => {
                    totals.add(c.metric, c.n);
                    per_day.entry(c.day).or_default().add(c.metric, c.n);
                }
                Of::Sku(sku) => {
                    let day = (by == By::SkuDay).then_some(c.day);
                    per_sku
                        .entry((day, sku.clone()))
                        .or_default()
                        .add(c.metric, c.n);
                }
                Of::Reason { sku, reason } => {
                    *reasons.entry((sku.clone(), reason.clone())).or_default() += c.n;
                }
                Of::Carrier { carrier, currency } => {
                    // Labels count in the day's figures too; postage only by carrier.
                    if c.metric != Metric::PostageCents {
                        totals.add(c.metric, c.n);
                        per_day.entry(c.day).or_default().add(c.metric, c.n);
                    }
                    if !matches!(
                        c.metric,
                        Metric::LabelsBought | Metric::LabelsVoided | Metric::PostageCents
                    ) {
                        continue;
                    }
                    let e = postage
                        .entry((carrier.clone(), currency.clone()))
                        .or_default();
                    match c.metric {
                        Metric::LabelsBought => e.0 += c.n,
                        Metric::LabelsVoided => e.1 += c.n,
                        Metric::PostageCents => e.2 += c.n,
                        _ => {}
                    }
                }
            }
        }
        // Voids are counted without a currency: they go with the carrier's one currency.
        let blank: Vec<String> = postage
            .keys()
            .filter(|(_, cur)| cur.is_empty())
            .map(|(c, _)| c.clone())
            .collect();
        for carrier in blank {
            let others: Vec<String> = postage
                .keys()
                .filter(|(c, cur)| *c == carrier && !cur.is_empty())
                .map(|(_, cur)| cur.clone())
                .collect();
            if let [only] = others.as_slice()
                && let Some((b, v, cents)) = postage.remove(&(carrier.clone(), String::new()))
            {
                let e = postage.entry((carrier, only.clone())).or_default();
                e.0 += b;
                e.1 += v;
                e.2 += cents;
            }
        }
        let rows = match by {
            By::Day => per_day
                .iter()
                .map(|(d, f)| Row {
                    day: Some(*d),
                    sku: None,
                    figures: f.clone(),
                })
                .collect(),
            By::Sku | By::SkuDay => per_sku
                .into_iter()
                .map(|((day, sku), figures)| Row {
                    day,
                    sku: Some(sku),
                    figures,
                })
                .collect(),
        };
        Report {
            from,
            to,
            by,
            late_share: totals.late_share(),
            totals,
            postage: postage
                .into_iter()
                .map(|((carrier, currency), (b, v, cents))| Postage {
                    carrier,
                    currency,
                    labels_bought: b,
                    labels_voided: v,
                    amount: cents as f64 / 100.0,
                })
                .collect(),
            return_reasons: reasons
                .into_iter()
                .map(|((sku, reason), units)| ReturnReason { sku, reason, units })
                .collect(),
            rows,
            days: chart_days(from, to, &per_day),
        }
    }
}

/// Units shipped and late share per day for the chart: every day of a range up to a year (a
/// day without work is a gap in the bars), only the days with figures past that.
fn chart_days(
    from: NaiveDate,
    to: NaiveDate,
    per_day: &BTreeMap<NaiveDate, Figures>,
) -> Vec<(NaiveDate, u64, f64)> {
    let of = |d: NaiveDate| {
        per_day
            .get(&d)
            .map_or((d, 0, 0.0), |f| (d, f.units_shipped, f.late_share()))
    };
    if (to - from).num_days() <= 366 {
        from.iter_days().take_while(|d| *d <= to).map(of).collect()
    } else {
        per_day.keys().map(|d| of(*d)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    fn count(d: u32, metric: Metric, of: Of, n: u64) -> Count {
        Count {
            day: day(d),
            metric,
            of,
            n,
        }
    }

    #[test]
    fn counters_add_up_by_day_and_by_sku_within_the_range() {
        let sku = |s: &str| Of::Sku(s.into());
        let counts = vec![
            count(1, Metric::OrdersShipped, Of::Day, 4),
            count(1, Metric::LateShipments, Of::Day, 1),
            count(1, Metric::UnitsShipped, Of::Day, 6),
            count(1, Metric::UnitsShipped, sku("MUG"), 5),
            count(1, Metric::UnitsShipped, sku("TEE"), 1),
            count(2, Metric::OrdersShipped, Of::Day, 1),
            count(2, Metric::UnitsShipped, Of::Day, 2),
            count(2, Metric::UnitsShipped, sku("MUG"), 2),
            count(
                2,
                Metric::PostageCents,
                Of::Carrier {
                    carrier: "UPS".into(),
                    currency: "USD".into(),
                },
                1234,
            ),
            // Outside the range.
            count(9, Metric::OrdersShipped, Of::Day, 100),
        ];
        let r = Report::build(day(1), day(2), By::Day, &counts);
        assert_eq!(r.totals.orders_shipped, 5);
        assert_eq!(r.totals.units_shipped, 8);
        assert_eq!(r.late_share, 0.2);
        assert_eq!(r.rows.len(), 2);
        assert_eq!(r.rows[0].figures.late_shipments, 1);
        assert_eq!(r.postage[0].amount, 12.34);
        assert_eq!(r.days, vec![(day(1), 6, 0.25), (day(2), 2, 0.0)]);
        let wide = Report::build(day(1), day(4), By::Day, &counts);
        assert_eq!(
            wide.days.len(),
            4,
            "days without work are gaps in the chart"
        );
        let by_sku = Report::build(day(1), day(2), By::Sku, &counts);
        let units: Vec<(String, u64)> = by_sku
            .rows
            .iter()
            .map(|r| (r.sku.clone().unwrap(), r.figures.units_shipped))
            .collect();
        assert_eq!(units, [("MUG".to_owned(), 7), ("TEE".to_owned(), 1)]);
        let by_both = Report::build(day(1), day(2), By::SkuDay, &counts);
        assert_eq!(by_both.rows.len(), 3);
        assert_eq!(by_both.rows[2].day, Some(day(2)));
    }

    /// The report's code cannot name what holds personal data: its types and the chart's and
    /// the counters' modules never mention the recipient, the keyring or sealing.
    #[test]
    fn the_report_code_names_no_sealed_type() {
        let banned = [
            ["Recip", "ient"].concat(),
            ["Key", "ring"].concat(),
            ["seal", "::"].concat(),
            ["Gift", "Message"].concat(),
        ];
        for (name, src) in [
            ("domain/report.rs", include_str!("report.rs")),
            ("labels/chart.rs", include_str!("../labels/chart.rs")),
            ("store/stats.rs", include_str!("../store/stats.rs")),
        ] {
            for b in &banned {
                assert!(!src.contains(b.as_str()), "{name} names {b}");
            }
        }
    }
}
