//! Returns, in the `returns` tree: each return's record (`domain::returns`: order, RMA id, SKUs,
//! quantities, Amazon's reason and status, the return label's tracking number, and what the floor
//! found in the parcel) under its number, and its natural key (RMA id; order, SKU and day for a
//! returnless refund) pointing at the number, so importing one report twice changes nothing.
//! Nothing here is personal data, and nothing is sealed; records are kept six years from their
//! closing (`retention`).
//!
//! Every change is one transaction with its audit entry (the return's number, its order, what
//! was done), flushed. Returns are few (a seller's return rate is a few percent of orders): a
//! scan by tracking number, RMA or order walks them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::records::{self, after::Return1};
use super::{Error, Store, Tx, TxResult, abort, audit_in};
use crate::domain::returns::{
    Condition, ExpectedReturn, Received, ReturnKey, ReturnRecord, ReturnRefusal,
};
use crate::domain::text::escape_hazards;
use crate::domain::{Locations, OrderId, RetentionPolicy};
use crate::store::RecordKind;
use crate::store::refusal::FloorRefusal;

const RECORD: u8 = super::keys::returns::RECORD;
const KEY: u8 = super::keys::returns::KEY;
/// The last return number given, in the meta tree.
const META_LAST: &[u8] = super::keys::meta::RETURN_LAST.as_bytes();

fn record_key(id: u64) -> Vec<u8> {
    let mut k = vec![RECORD];
    k.extend_from_slice(&id.to_be_bytes());
    k
}

fn natural_key(key: &ReturnKey) -> Vec<u8> {
    let mut k = vec![KEY];
    k.extend_from_slice(key.text().as_bytes());
    k
}

fn encode(v: &ReturnRecord) -> Vec<u8> {
    records::encode::<Return1>(v)
}

fn decode(bytes: &[u8]) -> Result<ReturnRecord, Error> {
    records::decode::<Return1>(bytes)
}

fn next_id(tx: &Tx<'_>) -> TxResult<u64> {
    let last = match tx.meta.get(META_LAST)? {
        Some(v) => v
            .as_ref()
            .try_into()
            .map(u64::from_be_bytes)
            .map_err(|_| Error::corrupt(RecordKind::Counter, "the return counter"))
            .or_else(abort)?,
        None => 0,
    };
    tx.meta.insert(META_LAST, (last + 1).to_be_bytes())?;
    Ok(last + 1)
}

/// Units of `sku` the order was sold (0 when it has no such line).
fn sold(order: &crate::domain::Order, sku: &str) -> u32 {
    order
        .lines
        .iter()
        .filter(|l| l.sku == sku)
        .map(|l| l.quantity_ordered)
        .sum()
}

/// Why a reported return cannot be of its order, when the order is in the store: a SKU it does
/// not have, or more units of one than it was sold.
fn beyond_order(tx: &Tx<'_>, r: &ExpectedReturn) -> TxResult<Option<String>> {
    let Some(v) = tx.orders.get(r.order.as_str())? else {
        return Ok(None);
    };
    let order = super::decode_record(&v).or_else(abort)?.order;
    for l in &r.lines {
        let had = sold(&order, &l.sku);
        if had == 0 {
            return Ok(Some(format!(
                "order {}: SKU {} is not on the order",
                r.order,
                escape_hazards(&crate::domain::text::bounded(l.sku.clone(), 40))
            )));
        }
        if l.quantity > had {
            return Ok(Some(format!(
                "order {}: {} units of SKU {} returned, the order had {had}",
                r.order,
                l.quantity,
                escape_hazards(&crate::domain::text::bounded(l.sku.clone(), 40))
            )));
        }
    }
    Ok(None)
}

fn return_in(tx: &Tx<'_>, id: u64) -> TxResult<ReturnRecord> {
    match tx.returns.get(record_key(id))? {
        Some(v) => decode(&v).or_else(abort),
        None => abort(Error::NoSuchReturn(format!("RET-{id}"))),
    }
}

fn write(tx: &Tx<'_>, r: &ReturnRecord) -> TxResult<()> {
    tx.returns.insert(record_key(r.id), encode(r))?;
    tx.returns.insert(natural_key(&r.key), r.id.to_be_bytes())?;
    Ok(())
}

/// What recording a report did: counts, and the returns refused with why (no personal data:
/// order ids, SKUs and quantities).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ReturnCounts {
    /// Returns refused because they claim what the order never had (a SKU not on it, or more
    /// units than it was sold); nothing of them is recorded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<String>,
    /// Returns the report listed.
    pub listed: u64,
    /// Of those, new ones recorded.
    pub new: u64,
    /// Known ones whose status, label or lines changed.
    pub updated: u64,
    /// Returnless refunds among the new ones (no parcel is coming).
    pub returnless: u64,
}

impl ReturnCounts {
    /// Rows of the report refused as they were read (named by line and column, never a
    /// value): nothing of them was recorded; each is logged.
    pub fn refused_rows(&mut self, rows: impl IntoIterator<Item = impl std::fmt::Display>) {
        for r in rows {
            let why = r.to_string();
            tracing::warn!(row = %why, "returns report row refused");
            self.refused.push(why);
        }
    }
}

impl std::ops::AddAssign for ReturnCounts {
    fn add_assign(&mut self, o: Self) {
        self.listed += o.listed;
        self.refused.extend(o.refused);
        self.new += o.new;
        self.updated += o.updated;
        self.returnless += o.returnless;
    }
}

/// A unit received: the return as it now is, and where the units go.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Receipt {
    pub record: ReturnRecord,
    pub sku: String,
    pub condition: Condition,
    pub quantity: u32,
    /// The bin a sellable unit goes back to; none for any other condition (a damaged unit is
    /// never restocked), or when the locations file has no bin for the SKU.
    pub bin: Option<String>,
}

const CHUNK: usize = 256;

impl Store {
    /// Records the returns a report lists: new ones as expected, known ones updated (status,
    /// label, lines), what was received kept. One transaction a chunk, each new or changed
    /// return audited; flushed.
    pub fn record_returns(
        &mut self,
        returns: &[ExpectedReturn],
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<ReturnCounts, Error> {
        let mut total = ReturnCounts::default();
        for chunk in returns.chunks(CHUNK) {
            total += self.transact(|tx| {
                let mut c = ReturnCounts::default();
                for r in chunk {
                    c.listed += 1;
                    // A return of an order in the store claims no more than the order had.
                    if let Some(why) = beyond_order(tx, r)? {
                        c.refused.push(why);
                        continue;
                    }
                    let known = match tx.returns.get(natural_key(&r.key))? {
                        Some(v) => Some(
                            v.as_ref()
                                .try_into()
                                .map(u64::from_be_bytes)
                                .map_err(|_| Error::corrupt(RecordKind::Index, "a return key"))
                                .or_else(abort)?,
                        ),
                        None => None,
                    };
                    let (record, action) = match known {
                        Some(id) => {
                            let mut rec = return_in(tx, id)?;
                            if !rec.update_from(r) {
                                continue;
                            }
                            c.updated += 1;
                            (rec, "return_updated")
                        }
                        None => {
                            let id = next_id(tx)?;
                            c.new += 1;
                            if r.is_returnless() {
                                c.returnless += 1;
                            }
                            count_expected(tx, r, now)?;
                            (ReturnRecord::expected(id, r, user, now), "return_expected")
                        }
                    };
                    write(tx, &record)?;
                    let reason = describe(&record);
                    audit_in(
                        tx,
                        user,
                        action,
                        Some(record.order.as_str()),
                        Some(&reason),
                        now,
                    )?;
                }
                Ok(c)
            })?;
        }
        self.flush()?;
        Ok(total)
    }

    /// Every return kept, oldest first.
    pub fn returns(&self) -> Result<Vec<ReturnRecord>, Error> {
        self.t
            .returns
            .scan_prefix([RECORD])
            .map(|item| decode(&item?.1))
            .collect()
    }

    /// One return by its number.
    pub fn return_record(&self, id: u64) -> Result<Option<ReturnRecord>, Error> {
        self.t
            .returns
            .get(record_key(id))?
            .map(|v| decode(&v))
            .transpose()
    }

    /// The return a scanned code opens: the open one whose return label's tracking number, RMA
    /// id or order id it is. Several open returns on one order: the one with a parcel (not a
    /// returnless refund) if only one has; else the code is ambiguous and the error lists what
    /// to scan instead. With none, an order id of an order in the store records an unexpected
    /// return against it (audited); any other code is refused.
    pub fn open_return(
        &mut self,
        code: &str,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<ReturnRecord, Error> {
        let code = code.trim();
        let matching: Vec<ReturnRecord> = self
            .returns()?
            .into_iter()
            .filter(|r| r.answers_to(code))
            .collect();
        let open: Vec<&ReturnRecord> = matching.iter().filter(|r| r.closed_at.is_none()).collect();
        let parcels: Vec<&ReturnRecord> = open
            .iter()
            .copied()
            .filter(|r| !r.is_returnless())
            .collect();
        match (open.as_slice(), parcels.as_slice()) {
            ([one], _) | (_, [one]) => return Ok((*one).clone()),
            ([], _) => {}
            (many, _) => {
                let names: Vec<String> = many
                    .iter()
                    .map(|r| match (&r.rma, &r.tracking) {
                        (Some(rma), _) => format!("RMA {rma}"),
                        (None, Some(t)) => format!("tracking {t}"),
                        (None, None) => format!("return {}", r.id),
                    })
                    .collect();
                return Err(FloorRefusal::OpenReturns {
                    order: many[0].order.clone(),
                    names,
                }
                .into());
            }
        }
        // Only closed returns answer to a tracking number or an RMA id: that parcel is done.
        if let Some(closed) = matching
            .iter()
            .find(|r| r.order.as_str() != code && r.closed_at.is_some())
        {
            return Err(ReturnRefusal::Closed {
                id: closed.id,
                at: closed.closed_at.unwrap_or(now),
            }
            .into());
        }
        let unknown = || {
            Error::NoSuchReturn(escape_hazards(&crate::domain::text::bounded(
                code.to_owned(),
                40,
            )))
        };
        let order = OrderId::parse(code).map_err(|_| unknown())?;
        let Some(rec) = self.get(&order)? else {
            return Err(unknown());
        };
        let lines: Vec<(String, Option<String>)> = rec
            .order
            .lines
            .iter()
            .map(|l| (l.sku.clone(), (!l.asin.is_empty()).then(|| l.asin.clone())))
            .collect();
        let (r, new) = self.transact(|tx| {
            // The order's unexpected returns, read where the new one is written: one opened
            // meanwhile (at another bench) is the one this parcel opens, and the new one takes
            // the first number free.
            let mut n = 1;
            while let Some(v) = tx.returns.get(natural_key(&ReturnKey::Unexpected {
                order: order.clone(),
                n,
            }))? {
                let id = v
                    .as_ref()
                    .try_into()
                    .map(u64::from_be_bytes)
                    .map_err(|_| Error::corrupt(RecordKind::Index, "a return key"))
                    .or_else(abort)?;
                let open = return_in(tx, id)?;
                if open.closed_at.is_none() {
                    return Ok((open, false));
                }
                n += 1;
            }
            let id = next_id(tx)?;
            let r = ReturnRecord::unexpected(id, order.clone(), n, lines.clone(), user, now);
            write(tx, &r)?;
            let reason = describe(&r);
            audit_in(
                tx,
                user,
                "return_unexpected",
                Some(order.as_str()),
                Some(&reason),
                now,
            )?;
            Ok((r, true))
        })?;
        if new {
            self.flush()?;
        }
        Ok(r)
    }

    /// Records units of the return `code` opens (see [`Store::open_return`]), found in
    /// `condition`; `unit` is the scanned unit's code (SKU, ASIN, or a barcode of the locations
    /// file). A sellable unit goes back to its SKU's bin in `locations`; a damaged, wrong or
    /// missing one to none. One transaction with its audit entry; flushed.
    #[allow(clippy::too_many_arguments)]
    pub fn receive_return(
        &mut self,
        code: &str,
        unit: &str,
        condition: Condition,
        quantity: u32,
        locations: &Locations,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<Receipt, Error> {
        let before = self.open_return(code, user, now)?;
        let no_codes: &[String] = &[];
        let line = before
            .line_for(unit, |sku| {
                locations
                    .get(sku)
                    .map_or(no_codes, |l| l.barcodes.as_slice())
            })
            .ok_or_else(|| ReturnRefusal::NotInReturn {
                id: before.id,
                sku: escape_hazards(&crate::domain::text::bounded(unit.trim().to_owned(), 40)),
                lines: before.skus(),
            })?;
        let sku = before.lines[line].sku.clone();
        let bin = locations.get(&sku).map(|l| l.bin.clone());
        let id = before.id;
        let receipt = self.transact(|tx| {
            let mut r = return_in(tx, id)?;
            // No return takes more of a SKU than the order had (an expected one, no more than
            // the report said either): the order as the transaction reads it.
            let cap = match tx.orders.get(r.order.as_str())? {
                Some(v) => Some(sold(&super::decode_record(&v).or_else(abort)?.order, &sku)),
                None => None,
            };
            let unit = Received {
                condition,
                quantity,
                bin: bin.clone(),
                at: now,
                by: user.to_owned(),
            };
            let bin = r
                .receive(line, unit, cap)
                .map_err(Error::from)
                .or_else(abort)?;
            write(tx, &r)?;
            count_received(tx, &sku, condition, quantity, now)?;
            let reason = format!(
                "return {id}: {quantity} × {sku} {condition}{}",
                bin.as_deref()
                    .map(|b| format!(", back to bin {b}"))
                    .unwrap_or_default()
            );
            audit_in(
                tx,
                user,
                "return_receive",
                Some(r.order.as_str()),
                Some(&reason),
                now,
            )?;
            Ok(Receipt {
                record: r,
                sku: sku.clone(),
                condition,
                quantity,
                bin,
            })
        })?;
        self.flush()?;
        Ok(receipt)
    }

    /// Closes the return `code` opens: it takes nothing more. Audited; flushed.
    pub fn close_return(
        &mut self,
        code: &str,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<ReturnRecord, Error> {
        let id = self.open_return(code, user, now)?.id;
        let r = self.transact(|tx| {
            let mut r = return_in(tx, id)?;
            r.close(user, now).map_err(Error::from).or_else(abort)?;
            write(tx, &r)?;
            let reason = format!("{}; {}", describe(&r), r.received_text());
            audit_in(
                tx,
                user,
                "return_close",
                Some(r.order.as_str()),
                Some(&reason),
                now,
            )?;
            Ok(r)
        })?;
        self.flush()?;
        Ok(r)
    }

    /// Deletes returns six years past their closing (or, never closed, their recording), like
    /// order records. Answers how many went.
    pub(super) fn purge_returns(
        &mut self,
        policy: RetentionPolicy,
        as_of: DateTime<Utc>,
    ) -> Result<u64, Error> {
        let due: Vec<ReturnRecord> = self
            .returns()?
            .into_iter()
            .filter(|r| policy.order_expiry(r.retained_from()) <= as_of)
            .collect();
        for chunk in due.chunks(CHUNK) {
            self.transact(|tx| {
                for r in chunk {
                    tx.returns.remove(record_key(r.id))?;
                    tx.returns.remove(natural_key(&r.key))?;
                }
                Ok(())
            })?;
        }
        Ok(due.len() as u64)
    }
}

/// A return in an audit entry: its number and how it is known (no personal data).
/// The report's counters for a return newly expected: its units per SKU, and per SKU and
/// Amazon's reason.
fn count_expected(tx: &Tx<'_>, r: &ExpectedReturn, now: DateTime<Utc>) -> TxResult<()> {
    use crate::domain::report::Metric;
    for l in &r.lines {
        let n = u64::from(l.quantity);
        super::stats::day(tx, now, Metric::ReturnsExpected, n)?;
        super::stats::sku(tx, now, &l.sku, Metric::ReturnsExpected, n)?;
        let reason = l.reason.as_deref().unwrap_or("-");
        super::stats::reason(tx, now, &l.sku, reason, Metric::ReturnsExpected, n)?;
    }
    Ok(())
}

/// The report's counters for units received: in all, and in their condition.
fn count_received(
    tx: &Tx<'_>,
    sku: &str,
    condition: Condition,
    quantity: u32,
    now: DateTime<Utc>,
) -> TxResult<()> {
    use crate::domain::report::Metric;
    let n = u64::from(quantity);
    let kind = match condition {
        Condition::Sellable => Metric::ReturnsRestocked,
        Condition::Damaged => Metric::ReturnsDamaged,
        Condition::WrongItem => Metric::ReturnsWrongItem,
        Condition::Missing => Metric::ReturnsMissing,
    };
    for m in [Metric::ReturnsReceived, kind] {
        super::stats::day(tx, now, m, n)?;
        super::stats::sku(tx, now, sku, m, n)?;
    }
    Ok(())
}

impl Store {
    /// For `packline check`: the return records read, and what is wrong with any (a record
    /// that cannot be read, or one its key does not lead to). Never a value of the record.
    pub(super) fn check_returns(&self) -> Result<(u64, Vec<String>), Error> {
        let (mut n, mut bad) = (0, Vec::new());
        for item in self.t.returns.scan_prefix([RECORD]) {
            let (k, v) = item?;
            n += 1;
            let id = k
                .get(1..9)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(u64::from_be_bytes);
            match (id, decode(&v)) {
                (Some(id), Ok(r)) => {
                    let found = self.t.returns.get(natural_key(&r.key))?;
                    if found.as_deref() != Some(&id.to_be_bytes()[..]) {
                        bad.push(format!("return {id}: its key does not lead to it"));
                    }
                }
                (id, _) => bad.push(format!(
                    "return {}: the record is damaged",
                    id.map_or("?".to_owned(), |i| i.to_string())
                )),
            }
        }
        Ok((n, bad))
    }
}

fn describe(r: &ReturnRecord) -> String {
    match &r.key {
        ReturnKey::Rma { rma } => format!("return {} (RMA {rma})", r.id),
        ReturnKey::Returnless { sku, requested, .. } => {
            format!("return {} (returnless refund, {sku}, {requested})", r.id)
        }
        ReturnKey::Unexpected { n, .. } => {
            format!("return {} (unexpected, #{n} on the order)", r.id)
        }
    }
}
