//! An order's lifecycle in the store: transitions and exceptions, each one transaction with
//! its audit entry and its day's counts.

use chrono::{DateTime, Utc};

use super::backend::abort;
use super::{
    Error, ExceptionNote, Store, Tx, TxResult, audit_in, decode_record, floor, notes, stats,
    write_record,
};
use crate::domain::{Event, OrderId, OrderRecord, OrderState};

impl Store {
    /// Moves an order through its lifecycle: one transaction with its audit entry, flushed.
    pub fn transition(
        &self,
        id: &OrderId,
        event: Event,
        user: &str,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<OrderRecord, Error> {
        let rec = self.transact(|tx| step(tx, id, event, user, reason, now))?;
        self.flush()?;
        Ok(rec)
    }

    /// Takes an order off the line with a note for a lead.
    pub fn raise_exception(
        &self,
        id: &OrderId,
        user: &str,
        note: &str,
        now: DateTime<Utc>,
    ) -> Result<OrderRecord, Error> {
        self.exception_change(id, Event::RaiseException, user, note, now)
    }

    /// A lead puts an exception order back on the line at `resume`.
    pub fn resolve_exception(
        &self,
        id: &OrderId,
        resume: OrderState,
        user: &str,
        resolution: &str,
        now: DateTime<Utc>,
    ) -> Result<OrderRecord, Error> {
        self.exception_change(id, Event::Resolve(resume), user, resolution, now)
    }

    pub(super) fn exception_change(
        &self,
        id: &OrderId,
        event: Event,
        user: &str,
        text: &str,
        now: DateTime<Utc>,
    ) -> Result<OrderRecord, Error> {
        let what = match event {
            Event::RaiseException => "the exception note",
            _ => "the resolution",
        };
        let sealed = self.seal_words(text, what, now)?;
        let words = notes::Words::Sealed(&sealed);
        let rec = self.transact(|tx| exception_step(tx, id, event, user, words, now))?;
        self.flush()?;
        Ok(rec)
    }

    /// An order's exception notes, oldest first; a person's words sealed (see
    /// [`Store::open_free_texts`]).
    pub fn exception_notes(&self, id: &OrderId) -> Result<Vec<ExceptionNote>, Error> {
        match self.t.exceptions.get(id.as_str())? {
            Some(v) => Ok(notes::decode_exceptions(&v)?
                .iter()
                .map(ExceptionNote::from)
                .collect()),
            None => Ok(Vec::new()),
        }
    }
}

/// Raises or resolves an exception inside a transaction, keeping its note (a person's words
/// sealed under the note's reference, which the audit entry names).
pub(super) fn exception_step(
    tx: &Tx<'_>,
    id: &OrderId,
    event: Event,
    user: &str,
    words: notes::Words<'_>,
    now: DateTime<Utc>,
) -> TxResult<OrderRecord> {
    // Back to picking or packing means new packages: not while a package has its label.
    if let Event::Resolve(OrderState::New | OrderState::Picking | OrderState::Picked) = event {
        floor::refuse_dropping_labels(tx, id, "picking or packing it again")?;
    }
    let mut kept: Vec<notes::StoredException> = match tx.exceptions.get(id.as_str())? {
        Some(v) => notes::decode_exceptions(&v).or_else(abort)?,
        None => Vec::new(),
    };
    let reason = if event == Event::RaiseException {
        let text = words.put(tx, notes::exception_ref(id.as_str(), kept.len()))?;
        let reason = matches!(text, notes::StoredText::Sealed(_)).then(|| text.audit());
        kept.push(notes::StoredException {
            raised_at: now,
            raised_by: user.to_owned(),
            note: text,
            resolved_at: None,
            resolved_by: None,
            resolution: None,
        });
        reason
    } else if let Some((n, open)) = kept
        .iter_mut()
        .enumerate()
        .rev()
        .find(|(_, n)| n.resolved_at.is_none())
    {
        let text = words.put(tx, notes::resolution_ref(id.as_str(), n))?;
        let reason = matches!(text, notes::StoredText::Sealed(_)).then(|| text.audit());
        open.resolved_at = Some(now);
        open.resolved_by = Some(user.to_owned());
        open.resolution = Some(text);
        reason
    } else {
        None
    };
    let rec = step(tx, id, event, user, reason.as_deref(), now)?;
    tx.exceptions
        .insert(id.as_str(), notes::encode_exceptions(&kept))?;
    Ok(rec)
}

/// One lifecycle step inside a transaction: read, apply the event, write, audit.
pub(super) fn step(
    tx: &Tx<'_>,
    id: &OrderId,
    event: Event,
    user: &str,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> TxResult<OrderRecord> {
    let Some(v) = tx.orders.get(id.as_str())? else {
        return abort(Error::NoSuchOrder(id.clone()));
    };
    let old = decode_record(&v).or_else(abort)?;
    let mut rec = old.clone();
    if let Err(source) = rec.apply(event, now) {
        return abort(Error::Transition {
            order: id.clone(),
            source,
        });
    }
    write_record(tx, Some(&old), &rec)?;
    audit_in(tx, user, event.name(), Some(id.as_str()), reason, now)?;
    count_event(tx, &old, event, user, now)?;
    Ok(rec)
}

/// The report counters an order's step moves (see `stats`): an order leaving counts itself,
/// its units (those not shipped before, per SKU) and whether it left after its ship-by; an
/// exception counts once.
pub(super) fn count_event(
    tx: &Tx<'_>,
    old: &OrderRecord,
    event: Event,
    user: &str,
    now: DateTime<Utc>,
) -> TxResult<()> {
    use crate::domain::report::Metric;
    let units = || {
        old.order
            .lines
            .iter()
            .map(|l| u64::from(l.quantity_ordered.saturating_sub(l.quantity_shipped)))
            .sum::<u64>()
    };
    match event {
        Event::FinishPick => stats::work(tx, now, user, stats::Work::UnitsPicked, units())?,
        Event::FinishPack => stats::work(tx, now, user, stats::Work::UnitsPacked, units())?,
        _ => {}
    }
    if event == Event::RaiseException {
        stats::work(tx, now, user, stats::Work::ExceptionsRaised, 1)?;
    }
    match event {
        Event::Ship | Event::ShipOwnCarrier => {
            let units: Vec<(String, u32)> = old
                .order
                .lines
                .iter()
                .map(|l| {
                    (
                        l.sku.clone(),
                        l.quantity_ordered.saturating_sub(l.quantity_shipped),
                    )
                })
                .collect();
            let late = old.order.ship_by.latest.is_some_and(|latest| now > latest);
            stats::shipped(tx, now, &units, late)?;
            if event == Event::ShipOwnCarrier {
                stats::day(tx, now, Metric::OwnCarrierShipments, 1)?;
            } else {
                let (followed, scanned) = super::shipping::tracking_in(tx, &old.order.id)?;
                stats::day(tx, now, Metric::TrackingFollowed, followed)?;
                stats::day(tx, now, Metric::TrackingScanned, scanned)?;
            }
        }
        Event::RaiseException => stats::day(tx, now, Metric::Exceptions, 1)?,
        _ => {}
    }
    Ok(())
}
