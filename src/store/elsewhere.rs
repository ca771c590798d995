//! Orders packline never imported (shipped before the site used packline, or by another tool),
//! recorded from Amazon's copy when a return, an inquiry or a message names them: closed from the
//! start as shipped (or cancelled) elsewhere, with their lines and dates and no recipient, and
//! marked so (`floor`, `e` ‖ order id: see `keys`). The mark goes with the order record, six
//! years on. Such an order is never on the floor: closed, it takes no claim, pick, pack or label,
//! and `packline check` holds that it never does and never has a recipient.

use chrono::{DateTime, Utc};

use super::{Error, Store, abort, audit_in, decode_record, derived, write_record};
use crate::domain::{OrderId, OrderRecord, OrderState};
use crate::store::RecordKind;
use crate::store::refusal::FloorRefusal;

const ELSEWHERE: u8 = super::keys::floor::ELSEWHERE;

fn mark_key(id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + id.len());
    k.push(ELSEWHERE);
    k.extend_from_slice(id.as_bytes());
    k
}

/// What recording an order from Amazon's copy did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// Kept now, closed, without a recipient.
    Elsewhere(OrderRecord),
    /// The store had it already (a sync imported it, or another bench recorded it meanwhile):
    /// that one stands, unchanged.
    Known(OrderRecord),
}

impl Recorded {
    pub fn record(&self) -> &OrderRecord {
        match self {
            Recorded::Elsewhere(r) | Recorded::Known(r) => r,
        }
    }
}

impl Store {
    /// Keeps `rec`, an order packline never imported, as the domain made it from Amazon's copy
    /// (`domain::import::shipped_elsewhere`: closed, no recipient), with its mark and an audit
    /// entry naming why, in one transaction; flushed. An order the store has by then is left as
    /// it is and answered.
    pub fn record_shipped_elsewhere(
        &self,
        rec: &OrderRecord,
        why: &str,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<Recorded, Error> {
        if !rec.state.is_closed() || rec.recipient_mask.is_some() {
            return Err(FloorRefusal::ElsewhereNotClosed {
                order: rec.order.id.clone(),
            }
            .into());
        }
        let id = rec.order.id.as_str();
        if let Some(known) = self.get(&rec.order.id)? {
            return Ok(Recorded::Known(known));
        }
        // The SKU index first, durably (as an import writes it): an entry whose order never
        // lands is skipped by readers and swept by the purge.
        let mut ops = derived::IndexOps::default();
        ops.add_lines(&rec.order);
        ops.write_additions(self.derived()?)?;
        let state = match rec.state {
            OrderState::Cancelled => "cancelled",
            _ => "shipped",
        };
        let reason = format!(
            "not imported before; Amazon reports it {state} outside packline: recorded for {why}, without a recipient"
        );
        let kept = self.transact(|tx| {
            if let Some(v) = tx.orders.get(id)? {
                return Ok(Recorded::Known(decode_record(&v).or_else(abort)?));
            }
            write_record(tx, None, rec)?;
            tx.floor.insert(mark_key(id), [])?;
            audit_in(
                tx,
                user,
                "recorded_shipped_elsewhere",
                Some(id),
                Some(&reason),
                now,
            )?;
            Ok(Recorded::Elsewhere(rec.clone()))
        })?;
        self.flush()?;
        Ok(kept)
    }

    /// Whether the order was recorded from Amazon, never imported (see the module note).
    pub fn is_shipped_elsewhere(&self, id: &OrderId) -> Result<bool, Error> {
        self.t.floor.contains_key(mark_key(id.as_str()))
    }

    /// For each order, whether it was recorded from Amazon, never imported; read together.
    pub fn are_shipped_elsewhere(&self, ids: &[&OrderId]) -> Result<Vec<bool>, Error> {
        let keys: Vec<Vec<u8>> = ids.iter().map(|id| mark_key(id.as_str())).collect();
        Ok(self
            .t
            .floor
            .get_many(&keys)?
            .iter()
            .map(Option::is_some)
            .collect())
    }

    /// Every order recorded from Amazon, never imported, by id.
    pub fn shipped_elsewhere(&self) -> Result<Vec<OrderId>, Error> {
        let mut ids = Vec::new();
        for k in self.t.floor.scan_prefix([ELSEWHERE]).keys() {
            let k = k?;
            let id = String::from_utf8_lossy(&k[1..]).into_owned();
            ids.push(OrderId::parse(&id).map_err(|e| {
                Error::corrupt(
                    RecordKind::Index,
                    format!("a shipped-elsewhere mark names no order id: {e}"),
                )
            })?);
        }
        Ok(ids)
    }
}
