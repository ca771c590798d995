//! The aggregates reports read, in the `floor` tree: one counter per local day, metric and SKU
//! (or carrier and currency, or the day's total), bumped inside the transaction of the change it
//! counts, so a report and the floor can never disagree. Keys (all under `A`):
//!
//! - `A d YYYYMMDD metric` — the day's totals;
//! - `A s YYYYMMDD sku 0x00 metric` — per SKU, and `A m YYYYMM01 sku 0x00 metric` the same
//!   per month;
//! - `A c YYYYMMDD carrier 0x00 currency 0x00 metric` — per carrier;
//! - `A r YYYYMMDD sku 0x00 reason 0x00 metric` — returns per SKU and Amazon's reason;
//! - `A h YYYYMMDDHH floor-metric` — the floor's work per local hour (the lead's dashboard);
//! - `A u YYYYMMDD user 0x00 floor-metric` — the floor's work per OS user and local day;
//! - `A v` — when the last access review ran (Unix seconds);
//! - `A o HOUR` — open orders whose ship-by falls in that hour (UTC hours since 1970, sign-flipped
//!   big-endian), so the dashboard counts late work by hours, not by orders; `A O` says these
//!   counters are whole (it is taken away while new orders are written outside a transaction,
//!   and a store opened without it counts them again: see [`Store::settle_open_hours`]);
//! - `A b` — since when the seller's-metrics counters (own-carrier shipments, cancellations,
//!   tracking followed and scanned) count: empty for a store that counted them from its start,
//!   else the Unix seconds of the first open by a packline that counts them.
//!
//! Values are u64, big-endian. No personal data: SKUs, carriers and counts.

use crate::store::backend::Batch;
use chrono::{DateTime, Datelike, NaiveDate, Utc};

use super::{Error, Store, Tx, TxResult};
use crate::domain::report::{Count, Metric, Of};

/// The site's calendar day of a moment: end of day and manifests follow the local clock, not
/// UTC (a US afternoon is already tomorrow in UTC).
pub fn local_day(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&chrono::Local).date_naive()
}

const AGG: u8 = super::keys::floor::COUNTERS;
const DAY: u8 = super::keys::floor::counters::DAY;
const SKU: u8 = super::keys::floor::counters::SKU;
/// Per SKU and month (the first of the month as its day): a report by SKU over years reads
/// months, not days.
const SKU_MONTH: u8 = super::keys::floor::counters::SKU_MONTH;
const CARRIER: u8 = super::keys::floor::counters::CARRIER;
const REASON: u8 = super::keys::floor::counters::REASON;
const HOUR: u8 = super::keys::floor::counters::HOUR;
const USER: u8 = super::keys::floor::counters::USER;
const REVIEW: [u8; 2] = [AGG, super::keys::floor::counters::REVIEW];
const OPEN_HOUR: u8 = super::keys::floor::counters::OPEN_HOUR;
const OPEN_WHOLE: [u8; 2] = [AGG, super::keys::floor::counters::OPEN_WHOLE];
const SELLER_SINCE: [u8; 2] = [AGG, super::keys::floor::counters::SELLER_SINCE];

/// What the dashboard counts of the floor's work. The codes are stored in keys: stable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Work {
    /// Pick batches claimed.
    Batches = 1,
    UnitsPicked = 2,
    UnitsPacked = 3,
    /// Scans the service refused (wrong item, wrong slot) at pick or pack.
    ScansRefused = 4,
    ExceptionsRaised = 5,
}

impl Work {
    pub const ALL: [Work; 5] = [
        Work::Batches,
        Work::UnitsPicked,
        Work::UnitsPacked,
        Work::ScansRefused,
        Work::ExceptionsRaised,
    ];

    fn from_code(c: u8) -> Option<Work> {
        Work::ALL.into_iter().find(|w| *w as u8 == c)
    }
}

fn day_bytes(day: NaiveDate) -> [u8; 8] {
    let s = day.format("%Y%m%d").to_string();
    let mut out = [b'0'; 8];
    out.copy_from_slice(&s.as_bytes()[..8]);
    out
}

fn key(family: u8, day: NaiveDate, tail: &[&[u8]], metric: Metric) -> Vec<u8> {
    let mut k = vec![AGG, family];
    k.extend_from_slice(&day_bytes(day));
    for t in tail {
        k.extend_from_slice(t);
        k.push(0);
    }
    k.push(metric.code());
    k
}

fn add(tx: &Tx<'_>, k: Vec<u8>, n: u64) -> TxResult<()> {
    if n == 0 {
        return Ok(());
    }
    let old = tx
        .floor
        .get(&k)?
        .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
        .map_or(0, u64::from_be_bytes);
    tx.floor
        .insert(k, &old.saturating_add(n).to_be_bytes()[..])?;
    Ok(())
}

/// Adds to the day's total of `metric` (the site's local day of `at`).
pub(super) fn day(tx: &Tx<'_>, at: DateTime<Utc>, metric: Metric, n: u64) -> TxResult<()> {
    add(tx, key(DAY, local_day(at), &[], metric), n)
}

/// Adds to one SKU's count of `metric`.
pub(super) fn sku(
    tx: &Tx<'_>,
    at: DateTime<Utc>,
    sku: &str,
    metric: Metric,
    n: u64,
) -> TxResult<()> {
    let day = local_day(at);
    add(tx, key(SKU, day, &[sku.as_bytes()], metric), n)?;
    add(
        tx,
        key(SKU_MONTH, month_of(day), &[sku.as_bytes()], metric),
        n,
    )
}

fn month_of(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

/// Adds to one carrier's count of `metric`, in a currency (empty for label counts).
pub(super) fn carrier(
    tx: &Tx<'_>,
    at: DateTime<Utc>,
    carrier: &str,
    currency: &str,
    metric: Metric,
    n: u64,
) -> TxResult<()> {
    add(
        tx,
        key(
            CARRIER,
            local_day(at),
            &[carrier.as_bytes(), currency.as_bytes()],
            metric,
        ),
        n,
    )
}

/// Adds to a SKU's returns for one of Amazon's return reasons.
pub(super) fn reason(
    tx: &Tx<'_>,
    at: DateTime<Utc>,
    sku: &str,
    reason: &str,
    metric: Metric,
    n: u64,
) -> TxResult<()> {
    add(
        tx,
        key(
            REASON,
            local_day(at),
            &[sku.as_bytes(), reason.as_bytes()],
            metric,
        ),
        n,
    )
}

fn hour_key(at: DateTime<Utc>, w: Work) -> Vec<u8> {
    let mut k = vec![AGG, HOUR];
    k.extend_from_slice(local_hour(at).as_bytes());
    k.push(w as u8);
    k
}

fn user_key(day: NaiveDate, user: &str, w: Work) -> Vec<u8> {
    let mut k = vec![AGG, USER];
    k.extend_from_slice(&day_bytes(day));
    k.extend_from_slice(user.as_bytes());
    k.push(0);
    k.push(w as u8);
    k
}

/// `YYYYMMDDHH` of the site's local hour of `at`.
fn local_hour(at: DateTime<Utc>) -> String {
    at.with_timezone(&chrono::Local)
        .format("%Y%m%d%H")
        .to_string()
}

/// Adds to the floor's work of `user` in the local hour and day of `at`.
pub(super) fn work(tx: &Tx<'_>, at: DateTime<Utc>, user: &str, w: Work, n: u64) -> TxResult<()> {
    add(tx, hour_key(at, w), n)?;
    add(tx, user_key(local_day(at), user, w), n)
}

/// Units shipped of each line of an order, counted on the day it ships: per SKU and in the
/// day's total.
pub(super) fn units(tx: &Tx<'_>, at: DateTime<Utc>, units: &[(String, u32)]) -> TxResult<()> {
    let mut total = 0u64;
    for (s, n) in units {
        sku(tx, at, s, Metric::UnitsShipped, u64::from(*n))?;
        total += u64::from(*n);
    }
    day(tx, at, Metric::UnitsShipped, total)
}

/// An order's shipment as the counters count it: the order, its units per SKU (on the day it
/// ships), and a late shipment when it left after its ship-by.
pub(super) fn shipped(
    tx: &Tx<'_>,
    at: DateTime<Utc>,
    units_by_sku: &[(String, u32)],
    late: bool,
) -> TxResult<()> {
    day(tx, at, Metric::OrdersShipped, 1)?;
    units(tx, at, units_by_sku)?;
    if late {
        day(tx, at, Metric::LateShipments, 1)?;
    }
    Ok(())
}

/// A shipment to count without its order: see [`Store::count_shipments`].
#[derive(Clone, Debug)]
pub struct ShipmentCount {
    pub at: DateTime<Utc>,
    /// Units shipped per SKU.
    pub units: Vec<(String, u32)>,
    /// It left after its ship-by.
    pub late: bool,
}

impl Store {
    /// Counts shipments exactly as shipping their orders counts them (the same counter
    /// functions, in one transaction), without order records: for replaying a history into the
    /// counters (the report benchmark fills six years of a million orders this way).
    pub fn count_shipments(&self, shipments: &[ShipmentCount]) -> Result<(), Error> {
        self.transact(|tx| {
            for s in shipments {
                shipped(tx, s.at, &s.units, s.late)?;
            }
            Ok(())
        })
    }
}

/// The counter of open orders whose ship-by falls in the hour of `ship_by`.
fn open_hour_key(ship_by: DateTime<Utc>) -> [u8; 10] {
    open_hour_key_of(ship_by.timestamp().div_euclid(3600))
}

fn open_hour_key_of(hour: i64) -> [u8; 10] {
    let mut k = [0u8; 10];
    k[0] = AGG;
    k[1] = OPEN_HOUR;
    k[2..].copy_from_slice(&((hour as u64) ^ (1 << 63)).to_be_bytes());
    k
}

fn open_hour_of(k: &[u8]) -> Option<i64> {
    let b: [u8; 8] = k.get(2..10)?.try_into().ok()?;
    Some((u64::from_be_bytes(b) ^ (1 << 63)) as i64)
}

/// Moves an order between the open-order counters as it is written: out of its old hour if it
/// was open, into its new one if it is open still.
/// An open order leaves this site's store (moved to another site): its ship-by hour counts one
/// fewer.
pub(super) fn open_gone(tx: &Tx<'_>, rec: &crate::domain::OrderRecord) -> TxResult<()> {
    let mut gone = rec.clone();
    gone.state = crate::domain::OrderState::Cancelled;
    open_moved(tx, Some(rec), &gone)
}

pub(super) fn open_moved(
    tx: &Tx<'_>,
    old: Option<&crate::domain::OrderRecord>,
    new: &crate::domain::OrderRecord,
) -> TxResult<()> {
    let hour = |r: &crate::domain::OrderRecord| {
        (!r.state.is_closed()).then(|| open_hour_key(r.order.ship_by_key()))
    };
    let (was, is) = (old.and_then(hour), hour(new));
    if was == is {
        return Ok(());
    }
    if let Some(k) = was {
        let n = tx.floor.get(k)?.as_deref().and_then(value).unwrap_or(0);
        match n.saturating_sub(1) {
            0 => tx.floor.remove(&k[..])?,
            n => tx.floor.insert(&k[..], &n.to_be_bytes()[..])?,
        };
    }
    if let Some(k) = is {
        add(tx, k.to_vec(), 1)?;
    }
    Ok(())
}

impl Store {
    /// Adds new open orders to the open-order counters, outside a transaction (an import's new
    /// orders are written in batches). The counters are marked unsettled first, so a process
    /// stopped half-way leaves them to be counted again at the next open.
    pub(super) fn open_added(&self, recs: &[&crate::domain::OrderRecord]) -> Result<(), Error> {
        let mut by_hour = std::collections::BTreeMap::<[u8; 10], u64>::new();
        for r in recs.iter().filter(|r| !r.state.is_closed()) {
            *by_hour
                .entry(open_hour_key(r.order.ship_by_key()))
                .or_default() += 1;
        }
        if by_hour.is_empty() {
            return Ok(());
        }
        self.t.floor.remove(OPEN_WHOLE)?;
        let mut batch = Batch::default();
        for (k, n) in by_hour {
            let old = self.t.floor.get(k)?.as_deref().and_then(value).unwrap_or(0);
            batch.insert(&k[..], &old.saturating_add(n).to_be_bytes()[..]);
        }
        self.t.floor.apply_batch(batch)?;
        Ok(())
    }

    /// Notes, once, since when the seller's-metrics counters count: from the start for a store
    /// with no order yet, else from `now` (the orders before were never counted by them).
    pub(super) fn settle_seller_since(&self, now: DateTime<Utc>) -> Result<(), Error> {
        if self.t.floor.contains_key(SELLER_SINCE)? {
            return Ok(());
        }
        let value = if self.t.orders.first()?.is_none() {
            Vec::new()
        } else {
            now.timestamp().to_be_bytes().to_vec()
        };
        self.t.floor.insert(SELLER_SINCE, value)?;
        Ok(())
    }

    /// Since when the seller's-metrics counters count: `None` for a store that counted them
    /// from its start (or, unnoted, one opened by an older packline).
    pub fn seller_counted_since(&self) -> Result<Option<DateTime<Utc>>, Error> {
        Ok(self
            .t
            .floor
            .get(SELLER_SINCE)?
            .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
            .and_then(|b| DateTime::from_timestamp(i64::from_be_bytes(b), 0)))
    }

    /// Marks the open-order counters whole again once an import's writes are all in.
    pub(super) fn open_settled(&self) -> Result<(), Error> {
        self.t.floor.insert(OPEN_WHOLE, [])?;
        Ok(())
    }

    /// Counts the open orders per ship-by hour again from the queue, when the counters are not
    /// marked whole (a store from before them, or an import cut short): once, at open.
    pub(super) fn settle_open_hours(&self) -> Result<(), Error> {
        if self.t.floor.contains_key(OPEN_WHOLE)? {
            return Ok(());
        }
        let counted = self.count_open_hours()?;
        let mut batch = Batch::default();
        for item in self.t.floor.scan_prefix([AGG, OPEN_HOUR]).keys() {
            batch.remove(item?);
        }
        for (hour, n) in counted {
            batch.insert(&open_hour_key_of(hour)[..], &n.to_be_bytes()[..]);
        }
        batch.insert(&OPEN_WHOLE[..], &[][..]);
        self.t.floor.apply_batch(batch)?;
        Ok(())
    }

    /// Open orders per ship-by hour, counted from the records the queue names (a stale queue
    /// entry counts nothing). Linear in the open orders: for the check and a recount.
    pub(super) fn count_open_hours(&self) -> Result<std::collections::BTreeMap<i64, u64>, Error> {
        let mut counted = std::collections::BTreeMap::new();
        for s in super::queue::OPEN_STATES {
            for k in self.t.queue.scan_prefix([s.code()]).keys() {
                if let Some(rec) = self.queue_entry(&k?)? {
                    *counted
                        .entry(rec.order.ship_by_key().timestamp().div_euclid(3600))
                        .or_default() += 1;
                }
            }
        }
        Ok(counted)
    }

    /// The open-order counters as stored: hour (since 1970, UTC) to orders.
    pub(super) fn open_hours(&self) -> Result<std::collections::BTreeMap<i64, u64>, Error> {
        let mut out = std::collections::BTreeMap::new();
        for item in self.t.floor.scan_prefix([AGG, OPEN_HOUR]) {
            let (k, v) = item?;
            if let (Some(h), Some(n)) = (open_hour_of(&k), value(&v)) {
                out.insert(h, n);
            }
        }
        Ok(out)
    }

    /// Open orders whose ship-by falls in an hour before `hour` (UTC hours since 1970): a read
    /// of one counter per such hour, whatever the number of orders.
    pub(super) fn open_before_hour(&self, hour: i64) -> Result<u64, Error> {
        let mut n = 0u64;
        for item in self
            .t
            .floor
            .range(open_hour_key_of(i64::MIN)..open_hour_key_of(hour))
        {
            n = n.saturating_add(value(&item?.1).unwrap_or(0));
        }
        Ok(n)
    }

    /// Every counter of the days `from..=to`, in key order. Reads counters, never orders: a
    /// range of years is a few thousand keys per metric. `skus`: the SKU counters too, per day
    /// (`Daily`) or, for the whole months inside the range, per month (`Monthly`).
    pub fn counts(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        skus: Option<SkuCounts>,
    ) -> Result<Vec<Count>, Error> {
        let mut out = Vec::new();
        for family in [DAY, CARRIER, REASON] {
            self.read_family(family, from, to, &mut out)?;
        }
        match skus {
            None => {}
            Some(SkuCounts::Daily) => self.read_family(SKU, from, to, &mut out)?,
            Some(SkuCounts::Monthly) => {
                // Whole months from their rollups, the days at either end one by one.
                let first_full = if from.day() == 1 {
                    from
                } else {
                    month_of(from)
                        .checked_add_months(chrono::Months::new(1))
                        .unwrap_or(from)
                };
                let after_last_full = month_of(to + chrono::Duration::days(1));
                if first_full >= after_last_full {
                    self.read_family(SKU, from, to, &mut out)?;
                } else {
                    let last_full = after_last_full - chrono::Duration::days(1);
                    if from < first_full {
                        let edge = first_full - chrono::Duration::days(1);
                        self.read_family(SKU, from, edge, &mut out)?;
                    }
                    self.read_family(SKU_MONTH, first_full, month_of(last_full), &mut out)?;
                    if after_last_full <= to {
                        self.read_family(SKU, after_last_full, to, &mut out)?;
                    }
                }
            }
        }
        Ok(out)
    }

    /// The day totals and the per-carrier counters of the days `from..=to` (no SKU or return
    /// reason counters): what the seller's metrics read, a few keys per day and carrier.
    pub fn day_counts(&self, from: NaiveDate, to: NaiveDate) -> Result<Vec<Count>, Error> {
        let mut out = Vec::new();
        for family in [DAY, CARRIER] {
            self.read_family(family, from, to, &mut out)?;
        }
        Ok(out)
    }

    fn read_family(
        &self,
        family: u8,
        from: NaiveDate,
        to: NaiveDate,
        out: &mut Vec<Count>,
    ) -> Result<(), Error> {
        let lo = [&[AGG, family][..], &day_bytes(from)].concat();
        let mut hi = [&[AGG, family][..], &day_bytes(to)].concat();
        hi.push(0xff);
        for item in self.t.floor.range(lo..hi) {
            let (k, v) = item?;
            if let Some(c) = parse(family, &k, &v) {
                out.push(c);
            }
        }
        Ok(())
    }
}

/// How the SKU counters of a range are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SkuCounts {
    /// Day by day (a report by SKU and day).
    Daily,
    /// Whole months from their rollups (a report by SKU).
    Monthly,
}

/// The floor's work of one local day: per hour (0–23) and per user.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DayWork {
    /// `(hour, metric, n)`, in hour order.
    pub hours: Vec<(u32, Work, u64)>,
    /// `(user, metric, n)`, in user order.
    pub users: Vec<(String, Work, u64)>,
}

impl Store {
    /// The floor's work of the local day `day`: a few hundred counters at most.
    pub fn day_work(&self, day: NaiveDate) -> Result<DayWork, Error> {
        let mut out = DayWork::default();
        let d = day_bytes(day);
        for item in self.t.floor.scan_prefix([&[AGG, HOUR][..], &d].concat()) {
            let (k, v) = item?;
            let hour = k
                .get(10..12)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| h.parse().ok());
            let w = k.get(12).copied().and_then(Work::from_code);
            if let (Some(h), Some(w), Some(n)) = (hour, w, value(&v)) {
                out.hours.push((h, w, n));
            }
        }
        for item in self.t.floor.scan_prefix([&[AGG, USER][..], &d].concat()) {
            let (k, v) = item?;
            let Some((&code, rest)) = k.get(10..).and_then(|t| t.split_last()) else {
                continue;
            };
            let user = rest
                .strip_suffix(&[0])
                .and_then(|u| std::str::from_utf8(u).ok());
            if let (Some(u), Some(w), Some(n)) = (user, Work::from_code(code), value(&v)) {
                out.users.push((u.to_owned(), w, n));
            }
        }
        Ok(out)
    }

    /// Counts a scan the service refused (no transaction of a change exists for it).
    pub fn count_refused_scan(&self, user: &str, at: DateTime<Utc>) -> Result<(), Error> {
        self.transact(|tx| work(tx, at, user, Work::ScansRefused, 1))
    }

    /// Notes when an access review ran (the dashboard warns when it is old).
    pub fn note_access_review(&self, at: DateTime<Utc>) -> Result<(), Error> {
        self.t
            .floor
            .insert(REVIEW, &at.timestamp().to_be_bytes()[..])?;
        Ok(())
    }

    /// When the last access review ran, as noted.
    pub fn last_access_review(&self) -> Result<Option<DateTime<Utc>>, Error> {
        Ok(self
            .t
            .floor
            .get(REVIEW)?
            .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
            .and_then(|b| DateTime::from_timestamp(i64::from_be_bytes(b), 0)))
    }
}

fn value(v: &[u8]) -> Option<u64> {
    <[u8; 8]>::try_from(v).ok().map(u64::from_be_bytes)
}

fn parse(family: u8, k: &[u8], v: &[u8]) -> Option<Count> {
    let day = NaiveDate::parse_from_str(std::str::from_utf8(k.get(2..10)?).ok()?, "%Y%m%d").ok()?;
    let (&code, rest) = k.get(10..)?.split_last()?;
    let metric = Metric::from_code(code)?;
    let n = u64::from_be_bytes(<[u8; 8]>::try_from(v).ok()?);
    let mut parts = rest.split(|b| *b == 0);
    let text = |b: Option<&[u8]>| {
        b.and_then(|b| std::str::from_utf8(b).ok())
            .map(str::to_owned)
    };
    let of = match family {
        DAY => Of::Day,
        SKU | SKU_MONTH => Of::Sku(text(parts.next())?),
        REASON => Of::Reason {
            sku: text(parts.next())?,
            reason: text(parts.next())?,
        },
        _ => Of::Carrier {
            carrier: text(parts.next())?,
            currency: text(parts.next())?,
        },
    };
    Some(Count { day, metric, of, n })
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::SELLER_SINCE;
    use crate::store::test_support::{keyed_store, unshipped};

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().into()
    }

    /// A new store counts the seller's metrics from its start; a store that had orders before
    /// a packline counting them opened it counts from that open, noted once.
    #[test]
    fn the_seller_counters_say_since_when_they_count() {
        let t0 = at("2026-11-23T10:00:00Z");
        let (_dir, mut store) = keyed_store(t0);
        assert_eq!(store.seller_counted_since().unwrap(), None);
        store
            .import(vec![unshipped("111-0000000-0000001")], "lead", t0)
            .unwrap();
        // Noted already: a later open keeps it.
        store
            .settle_seller_since(at("2026-12-01T08:00:00Z"))
            .unwrap();
        assert_eq!(store.seller_counted_since().unwrap(), None);
        // A store with orders and no note (as an older packline left it).
        store.t.floor.remove(SELLER_SINCE).unwrap();
        let later = at("2026-12-01T08:00:00Z");
        store.settle_seller_since(later).unwrap();
        store
            .settle_seller_since(at("2026-12-02T08:00:00Z"))
            .unwrap();
        assert_eq!(store.seller_counted_since().unwrap(), Some(later));
    }
}
