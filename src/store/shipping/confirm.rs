//! Own-carrier shipments and confirmations: the shipment recorded before Amazon is told, the
//! confirmation kept, a labelled package shipped, and a day's shipments for its manifest.

use chrono::{DateTime, NaiveDate, Utc};

use super::{
    DAY, Store, day_key, local_day, note, order_in, packed_in, parse_package, put_shipment,
    shipment_in,
};
use crate::domain::shipment::{ShipmentRecord, ShipmentState};
use crate::domain::{Carrier, Event, OrderId, OrderRecord, TrackingNumber};
use crate::store::refusal::LabelRefusal;
use crate::store::{Error, abort};

impl Store {
    /// Records a package's own-carrier shipment about to be confirmed to Amazon.
    pub fn begin_own_carrier(
        &self,
        id: &OrderId,
        package: u32,
        carrier: &Carrier,
        tracking: &TrackingNumber,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<ShipmentRecord, Error> {
        let rec = self.transact(|tx| {
            packed_in(tx, id, "own-carrier shipments")?;
            crate::store::floor::refuse_held_in(tx, id)?;
            if let Some(s) = shipment_in(tx, id, package)? {
                match s.state {
                    // The same number again: a retry of a confirmation that did not finish.
                    ShipmentState::Confirming | ShipmentState::Confirmed
                        if s.tracking.as_ref() == Some(tracking) =>
                    {
                        return Ok(s);
                    }
                    ShipmentState::Voided => {}
                    other => {
                        return abort(
                            LabelRefusal::Sent {
                                order: id.clone(),
                                package,
                                state: other.name(),
                                tracking: s
                                    .tracking
                                    .as_ref()
                                    .map_or("-", |t| t.as_str())
                                    .to_owned(),
                            }
                            .into(),
                        );
                    }
                }
            }
            let rec = ShipmentRecord {
                order: id.clone(),
                package,
                state: ShipmentState::Confirming,
                carrier: Some(carrier.clone()),
                tracking: Some(tracking.clone()),
                shipment_id: None,
                service_id: None,
                service_name: None,
                label_format: None,
                at: now,
                by: user.to_owned(),
            };
            put_shipment(tx, &rec)?;
            Ok(rec)
        })?;
        self.flush()?;
        Ok(rec)
    }

    /// Amazon accepted a package's confirmation. Once every open package (`open`) is
    /// confirmed, the order takes `event` (Shipped: its retention clock starts). Returns the
    /// order, and whether it moved.
    pub fn confirmed(
        &self,
        record: &ShipmentRecord,
        open: &[u32],
        event: Event,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<(OrderRecord, bool), Error> {
        let id = &record.order;
        let out = self.transact(|tx| {
            let mut s = record.clone();
            s.state = ShipmentState::Confirmed;
            s.at = now;
            put_shipment(tx, &s)?;
            tx.floor
                .insert(day_key(local_day(now), id, record.package), [])?;
            let mut all = true;
            for n in open.iter().filter(|n| **n != record.package) {
                all &=
                    shipment_in(tx, id, *n)?.is_some_and(|s| s.state == ShipmentState::Confirmed);
            }
            if all {
                Ok((
                    crate::store::floor::ship_step(tx, id, event, user, None, now)?,
                    true,
                ))
            } else {
                let what = format!("package {} confirmed", record.package);
                note(tx, id, user, "package_confirmed", Some(&what), now)?;
                Ok((order_in(tx, id)?, false))
            }
        })?;
        self.flush()?;
        Ok(out)
    }

    /// The order leaves with its labelled packages (end of day): Shipped, or, when they carry
    /// only part of it, the rest back on the queue.
    pub fn ship_labelled(
        &self,
        id: &OrderId,
        user: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<OrderRecord, Error> {
        let rec = self.transact(|tx| {
            crate::store::floor::refuse_held_in(tx, id)?;
            crate::store::floor::ship_step(tx, id, Event::Ship, user, Some(reason), now)
        })?;
        self.flush()?;
        Ok(rec)
    }

    /// Package shipments of one day (bought labels and confirmed own-carrier ones), for a
    /// manifest: one row per package.
    pub fn shipments_on(&self, day: NaiveDate) -> Result<Vec<ShipmentRecord>, Error> {
        let mut prefix = vec![DAY];
        prefix.extend_from_slice(day.format("%Y-%m-%d").to_string().as_bytes());
        let mut out = Vec::new();
        for item in self.t.floor.scan_prefix(&prefix) {
            let (k, _) = item?;
            let Some((id, package)) = parse_package(&k[prefix.len()..]) else {
                continue;
            };
            if let Some(s) = self.shipment(&id, package)?
                && matches!(s.state, ShipmentState::Bought | ShipmentState::Confirmed)
            {
                out.push(s);
            }
        }
        Ok(out)
    }
}
