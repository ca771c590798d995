//! Returns: what Amazon's returns report says is coming back (an expected return, by Amazon RMA
//! id; a returnless refund, with no RMA, by order, SKU and request date), or a parcel that came
//! back with no report behind it (an unexpected return, recorded against its order), and what the
//! floor found in it: each unit's condition and, for a sellable one, the bin it went back to.
//!
//! A return is a record without personal data (order id, SKUs, quantities, Amazon's reason and
//! status codes, the return label's tracking number): it is kept six years, like an order record.
//! Pure: parsing the report is `amazon::reports`, keeping it `store::returns`.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::OrderId;

/// What a returned unit was found to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Condition {
    /// As new: it goes back to its bin.
    Sellable,
    /// Not to be sold again: never restocked.
    Damaged,
    /// Something else came back in its place.
    WrongItem,
    /// Expected, but not in the parcel.
    Missing,
}

impl Condition {
    pub const ALL: [Condition; 4] = [
        Condition::Sellable,
        Condition::Damaged,
        Condition::WrongItem,
        Condition::Missing,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Condition::Sellable => "sellable",
            Condition::Damaged => "damaged",
            Condition::WrongItem => "wrong-item",
            Condition::Missing => "missing",
        }
    }

    pub fn parse(s: &str) -> Option<Condition> {
        Self::ALL.into_iter().find(|c| c.name() == s.trim())
    }

    /// The next one, for a screen's key that cycles through them.
    pub fn next(self) -> Condition {
        let i = Self::ALL.iter().position(|c| *c == self).unwrap_or(0);
        Self::ALL[(i + 1) % Self::ALL.len()]
    }

    /// Only a sellable unit goes back on the shelf.
    pub fn restocks(self) -> bool {
        self == Condition::Sellable
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// How a return is known: the natural key that makes importing the same report twice change
/// nothing. (Externally tagged, `{"rma": {"rma": "D…"}}`: the store's postcard encoding cannot
/// read an internally tagged enum.)
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ReturnKey {
    /// Amazon's RMA id.
    Rma { rma: String },
    /// A returnless refund: Amazon refunded without asking for the item back, and gave no RMA.
    Returnless {
        order: OrderId,
        sku: String,
        requested: NaiveDate,
    },
    /// A parcel with no return in Amazon's report, the n-th recorded on its order.
    Unexpected { order: OrderId, n: u32 },
}

impl ReturnKey {
    /// The key as the store indexes it.
    pub fn text(&self) -> String {
        match self {
            ReturnKey::Rma { rma } => format!("rma/{rma}"),
            ReturnKey::Returnless {
                order,
                sku,
                requested,
            } => format!("refund/{order}/{sku}/{requested}"),
            ReturnKey::Unexpected { order, n } => format!("unexpected/{order}/{n}"),
        }
    }
}

/// One line of a return as Amazon's report gives it (one report row).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpectedLine {
    pub sku: String,
    pub asin: Option<String>,
    pub quantity: u32,
    /// Amazon's return reason code (`CR-DEFECTIVE`).
    pub reason: Option<String>,
}

/// A return as the report gives it: the rows of one RMA (or one returnless refund) together.
/// Only what the floor needs is kept: no buyer, no address, no amounts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpectedReturn {
    pub key: ReturnKey,
    pub order: OrderId,
    pub rma: Option<String>,
    pub requested: NaiveDate,
    /// Amazon's return request status (`Approved`, `Closed`, …).
    pub status: Option<String>,
    pub carrier: Option<String>,
    pub tracking: Option<String>,
    pub lines: Vec<ExpectedLine>,
}

impl ExpectedReturn {
    pub fn is_returnless(&self) -> bool {
        matches!(self.key, ReturnKey::Returnless { .. })
    }
}

/// Units of a line found in one condition, at one scan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Received {
    pub condition: Condition,
    pub quantity: u32,
    /// The bin a sellable unit went back to (from the locations file); none for any other
    /// condition, or for a SKU with no bin.
    pub bin: Option<String>,
    pub at: DateTime<Utc>,
    pub by: String,
}

/// One SKU of a return: what is expected back (nothing, for an unexpected return) and what came.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ReturnLine {
    pub sku: String,
    pub asin: Option<String>,
    pub expected: u32,
    pub reason: Option<String>,
    pub received: Vec<Received>,
}

impl ReturnLine {
    pub fn received_units(&self) -> u32 {
        self.received.iter().map(|r| r.quantity).sum()
    }
}

/// Where a return stands on the floor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReturnState {
    /// Nothing scanned yet.
    Expected,
    /// Units are being scanned in.
    Receiving,
    /// Done: it takes nothing more.
    Closed,
}

impl ReturnState {
    pub fn name(self) -> &'static str {
        match self {
            ReturnState::Expected => "expected",
            ReturnState::Receiving => "receiving",
            ReturnState::Closed => "closed",
        }
    }
}

/// A return as the store keeps it: no personal data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ReturnRecord {
    /// Its number in this store, for lists.
    pub id: u64,
    pub key: ReturnKey,
    pub order: OrderId,
    pub rma: Option<String>,
    /// The day the buyer asked (from the report); none for an unexpected return.
    pub requested: Option<NaiveDate>,
    pub status: Option<String>,
    pub carrier: Option<String>,
    pub tracking: Option<String>,
    pub lines: Vec<ReturnLine>,
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: String,
    pub closed_at: Option<DateTime<Utc>>,
    pub closed_by: Option<String>,
}

/// Why a return cannot take a change. Names the return and the SKU, nothing personal.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReturnRefusal {
    #[error("return {id} was closed on {at}: it takes no more units", at = at.format("%Y-%m-%d %H:%M UTC"))]
    Closed { id: u64, at: DateTime<Utc> },
    #[error("return {id} has no SKU {sku} (it holds {lines}): scan a unit of this return")]
    NotInReturn { id: u64, sku: String, lines: String },
    #[error(
        "return {id} expects {expected} of {sku} and {received} are recorded already: {quantity} more is too many"
    )]
    TooMany {
        id: u64,
        sku: String,
        expected: u32,
        received: u32,
        quantity: u32,
    },
    #[error("the quantity must be at least 1")]
    NoQuantity,
}

impl ReturnRecord {
    /// A return from the report, nothing received yet.
    pub fn expected(id: u64, r: &ExpectedReturn, by: &str, now: DateTime<Utc>) -> Self {
        ReturnRecord {
            id,
            key: r.key.clone(),
            order: r.order.clone(),
            rma: r.rma.clone(),
            requested: Some(r.requested),
            status: r.status.clone(),
            carrier: r.carrier.clone(),
            tracking: r.tracking.clone(),
            lines: r
                .lines
                .iter()
                .map(|l| ReturnLine {
                    sku: l.sku.clone(),
                    asin: l.asin.clone(),
                    expected: l.quantity,
                    reason: l.reason.clone(),
                    received: Vec::new(),
                })
                .collect(),
            recorded_at: now,
            recorded_by: by.to_owned(),
            closed_at: None,
            closed_by: None,
        }
    }

    /// A parcel that came back with no return in the report: `lines` are the order's SKUs (and
    /// ASINs), so its units are checked against what was sent.
    pub fn unexpected(
        id: u64,
        order: OrderId,
        n: u32,
        lines: Vec<(String, Option<String>)>,
        by: &str,
        now: DateTime<Utc>,
    ) -> Self {
        ReturnRecord {
            id,
            key: ReturnKey::Unexpected {
                order: order.clone(),
                n,
            },
            order,
            rma: None,
            requested: None,
            status: None,
            carrier: None,
            tracking: None,
            lines: lines
                .into_iter()
                .map(|(sku, asin)| ReturnLine {
                    sku,
                    asin,
                    expected: 0,
                    reason: None,
                    received: Vec::new(),
                })
                .collect(),
            recorded_at: now,
            recorded_by: by.to_owned(),
            closed_at: None,
            closed_by: None,
        }
    }

    pub fn is_expected(&self) -> bool {
        !matches!(self.key, ReturnKey::Unexpected { .. })
    }

    pub fn is_returnless(&self) -> bool {
        matches!(self.key, ReturnKey::Returnless { .. })
    }

    pub fn state(&self) -> ReturnState {
        if self.closed_at.is_some() {
            ReturnState::Closed
        } else if self.lines.iter().any(|l| !l.received.is_empty()) {
            ReturnState::Receiving
        } else {
            ReturnState::Expected
        }
    }

    pub fn expected_units(&self) -> u32 {
        self.lines.iter().map(|l| l.expected).sum()
    }

    pub fn received_units(&self) -> u32 {
        self.lines.iter().map(ReturnLine::received_units).sum()
    }

    /// The units received, against those expected: "1 of 2 expected units received", or
    /// "2 received (not expected)" for a return nobody announced (a parcel scanned in unasked).
    pub fn received_text(&self) -> String {
        match (self.received_units(), self.expected_units()) {
            (n, 0) => format!("{n} received (not expected)"),
            (n, e) => format!("{n} of {e} expected units received"),
        }
    }

    /// What the retention clock counts from: its closing, else its recording (a return never
    /// received is kept six years from when it was expected).
    pub fn retained_from(&self) -> DateTime<Utc> {
        self.closed_at.unwrap_or(self.recorded_at)
    }

    /// Takes the report's newer view of an expected return (status, label, lines), keeping
    /// what the floor received. Says whether anything changed.
    pub fn update_from(&mut self, r: &ExpectedReturn) -> bool {
        let before = self.clone();
        self.status = r.status.clone();
        self.carrier = r.carrier.clone();
        self.tracking = r.tracking.clone();
        self.requested = Some(r.requested);
        for l in &r.lines {
            match self.lines.iter_mut().find(|x| x.sku == l.sku) {
                Some(x) => {
                    x.expected = l.quantity;
                    x.asin = l.asin.clone().or(x.asin.take());
                    x.reason = l.reason.clone();
                }
                None => self.lines.push(ReturnLine {
                    sku: l.sku.clone(),
                    asin: l.asin.clone(),
                    expected: l.quantity,
                    reason: l.reason.clone(),
                    received: Vec::new(),
                }),
            }
        }
        *self != before
    }

    /// The line a scanned code names: its SKU (any case) or ASIN, or one of `barcodes` (the
    /// locations file's codes of each SKU).
    pub fn line_for<'a>(
        &self,
        code: &str,
        barcodes: impl Fn(&str) -> &'a [String],
    ) -> Option<usize> {
        self.lines.iter().position(|l| {
            super::pick::code_matches(
                code,
                &l.sku,
                l.asin.as_deref().unwrap_or_default(),
                barcodes(&l.sku),
            )
        })
    }

    /// Records `unit` (its quantity of line `line`, found in its condition); a sellable unit
    /// goes to its bin, any other to none whatever `unit.bin` says. An expected return takes no
    /// more units of a SKU than it expects; an unexpected one no more than the order shipped
    /// (`cap`). Answers the bin the units go to.
    pub fn receive(
        &mut self,
        line: usize,
        mut unit: Received,
        cap: Option<u32>,
    ) -> Result<Option<String>, ReturnRefusal> {
        if let Some(at) = self.closed_at {
            return Err(ReturnRefusal::Closed { id: self.id, at });
        }
        if unit.quantity == 0 {
            return Err(ReturnRefusal::NoQuantity);
        }
        let id = self.id;
        let expected = self.is_expected();
        let skus = self.skus();
        let Some(l) = self.lines.get_mut(line) else {
            return Err(ReturnRefusal::NotInReturn {
                id,
                sku: format!("#{line}"),
                lines: skus,
            });
        };
        let limit = match (expected, cap) {
            (true, Some(cap)) => Some(l.expected.min(cap)),
            (true, None) => Some(l.expected),
            (false, cap) => cap,
        };
        let received = l.received_units();
        if let Some(limit) = limit
            && received.saturating_add(unit.quantity) > limit
        {
            return Err(ReturnRefusal::TooMany {
                id,
                sku: l.sku.clone(),
                expected: limit,
                received,
                quantity: unit.quantity,
            });
        }
        // A damaged, wrong or missing unit never goes back on a shelf.
        if !unit.condition.restocks() {
            unit.bin = None;
        }
        let bin = unit.bin.clone();
        l.received.push(unit);
        Ok(bin)
    }

    /// Closes the return: it takes nothing more, and its six years start.
    pub fn close(&mut self, by: &str, now: DateTime<Utc>) -> Result<(), ReturnRefusal> {
        if let Some(at) = self.closed_at {
            return Err(ReturnRefusal::Closed { id: self.id, at });
        }
        self.closed_at = Some(now);
        self.closed_by = Some(by.to_owned());
        Ok(())
    }

    /// The SKUs of its lines, for a refusal.
    pub fn skus(&self) -> String {
        self.lines
            .iter()
            .map(|l| l.sku.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Its handle in lists: `RET-12`.
    pub fn handle(&self) -> String {
        format!("RET-{}", self.id)
    }

    /// Whether a scanned or typed code names this return: its return label's tracking number,
    /// its RMA id, its order id, or its handle `RET-n` (tracking, RMA and handle in any case,
    /// spaces ignored).
    pub fn answers_to(&self, code: &str) -> bool {
        let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        if code.is_empty() {
            return false;
        }
        let same = |v: &str| v.eq_ignore_ascii_case(&code);
        self.tracking.as_deref().is_some_and(same)
            || self.rma.as_deref().is_some_and(same)
            || self.order.as_str() == code
            || same(&self.handle())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().into()
    }

    fn expected() -> ExpectedReturn {
        ExpectedReturn {
            key: ReturnKey::Rma {
                rma: "DZqv5wbPRRMA".into(),
            },
            order: OrderId::parse("111-0000001-0000001").unwrap(),
            rma: Some("DZqv5wbPRRMA".into()),
            requested: NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(),
            status: Some("Approved".into()),
            carrier: Some("UPS".into()),
            tracking: Some("1Z999AA10123456784".into()),
            lines: vec![ExpectedLine {
                sku: "SKU-1".into(),
                asin: Some("B000000001".into()),
                quantity: 2,
                reason: Some("CR-DEFECTIVE".into()),
            }],
        }
    }

    fn unit(condition: Condition, quantity: u32, bin: Option<&str>) -> Received {
        Received {
            condition,
            quantity,
            bin: bin.map(str::to_owned),
            at: at("2026-11-25T10:00:00Z"),
            by: "bo".into(),
        }
    }

    #[test]
    fn conditions_parse_by_their_names_and_cycle() {
        for c in Condition::ALL {
            assert_eq!(Condition::parse(c.name()), Some(c));
            assert_eq!(
                serde_json::to_value(c).unwrap(),
                serde_json::Value::String(c.name().into())
            );
        }
        assert_eq!(Condition::parse("broken"), None);
        assert_eq!(Condition::Missing.next(), Condition::Sellable);
        assert_eq!(Condition::Sellable.next(), Condition::Damaged);
    }

    #[test]
    fn units_are_received_up_to_what_is_expected_and_damaged_ones_never_restocked() {
        let t0 = at("2026-11-25T10:00:00Z");
        let mut r = ReturnRecord::expected(1, &expected(), "sync", t0);
        assert_eq!(r.state(), ReturnState::Expected);
        assert!(r.answers_to("1z999aa1012345 6784"));
        assert!(r.answers_to("dzqv5wbprrma"));
        assert!(r.answers_to("111-0000001-0000001"));
        assert!(!r.answers_to("111-0000001-0000002"));
        assert!(!r.answers_to(" "));
        assert!(r.answers_to("ret-1"));
        assert!(!r.answers_to("RET-11"));
        let bin = Some("A-01".to_owned());
        assert_eq!(
            r.receive(3, unit(Condition::Sellable, 1, None), None)
                .unwrap_err()
                .to_string(),
            "return 1 has no SKU #3 (it holds SKU-1): scan a unit of this return"
        );
        assert_eq!(
            r.receive(0, unit(Condition::Damaged, 1, Some("A-01")), None),
            Ok(None)
        );
        assert_eq!(r.lines[0].received[0].bin, None);
        assert_eq!(r.state(), ReturnState::Receiving);
        assert_eq!(
            r.receive(0, unit(Condition::Sellable, 2, Some("A-01")), None)
                .unwrap_err()
                .to_string(),
            "return 1 expects 2 of SKU-1 and 1 are recorded already: 2 more is too many"
        );
        assert_eq!(
            r.receive(0, unit(Condition::Sellable, 1, Some("A-01")), None),
            Ok(bin)
        );
        assert_eq!(r.received_units(), 2);
        assert_eq!(
            r.receive(0, unit(Condition::Sellable, 0, None), None),
            Err(ReturnRefusal::NoQuantity)
        );
        r.close("bo", t0).unwrap();
        assert_eq!(r.state(), ReturnState::Closed);
        assert_eq!(
            r.receive(0, unit(Condition::Missing, 1, None), None)
                .unwrap_err()
                .to_string(),
            "return 1 was closed on 2026-11-25 10:00 UTC: it takes no more units"
        );
        assert!(r.close("bo", t0).is_err());
        assert_eq!(r.retained_from(), t0);
    }

    #[test]
    fn a_newer_report_updates_the_return_and_keeps_what_was_received() {
        let t0 = at("2026-11-25T10:00:00Z");
        let mut r = ReturnRecord::expected(1, &expected(), "sync", t0);
        r.receive(0, unit(Condition::Sellable, 1, None), None)
            .unwrap();
        assert!(!r.update_from(&expected()));
        let mut newer = expected();
        newer.status = Some("Closed".into());
        newer.lines.push(ExpectedLine {
            sku: "SKU-2".into(),
            asin: None,
            quantity: 1,
            reason: None,
        });
        assert!(r.update_from(&newer));
        assert_eq!(r.status.as_deref(), Some("Closed"));
        assert_eq!(r.lines.len(), 2);
        assert_eq!(r.lines[0].received_units(), 1);
        assert_eq!(r.line_for("sku-2", |_| &[]), Some(1));
        assert_eq!(r.line_for("B000000001", |_| &[]), Some(0));
        assert_eq!(r.line_for("SKU-3", |_| &[]), None);
    }
}
