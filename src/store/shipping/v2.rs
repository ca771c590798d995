//! Shipping API v2 purchases: the intent written before Amazon is asked, the shipment's
//! details, collection forms, codes sent, deliveries awaited, and a purchase abandoned under its
//! own key.

use chrono::{DateTime, NaiveDate, Utc};

use super::{
    AWAIT, FORM, INTENT, Store, V2, intent_key, key, note, package_id, parse_package, put_v2,
    shipment_in, shipment_key,
};
use crate::domain::shipment::ShipmentState;
use crate::domain::{OrderId, PurchaseIntentV2, ShipmentV2};
use crate::store::records::{
    self,
    shipping::{Intent2, Tracked2},
};
use crate::store::refusal::LabelRefusal;
use crate::store::{Error, abort, audit_in};

impl Store {
    /// Records a Shipping API v2 purchase about to be sent, with its key and request, durably.
    /// Refused, like [`Store::begin_purchase`], when the package has a label or a purchase.
    pub fn begin_purchase_v2(
        &self,
        id: &OrderId,
        package: u32,
        intent: &PurchaseIntentV2,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        self.begin(id, package, super::Buying::V2(intent), user, now)
    }

    /// The Shipping API v2 purchase in flight for a package, if one is.
    pub fn purchase_intent_v2(
        &self,
        id: &OrderId,
        package: u32,
    ) -> Result<Option<PurchaseIntentV2>, Error> {
        match self.t.floor.get(intent_key(id, package))? {
            Some(v) if !v.is_empty() => Ok(Some(records::decode::<Intent2>(&v)?)),
            _ => Ok(None),
        }
    }

    /// Every Shipping API v2 purchase in flight (a start sends each again).
    pub fn purchase_intents_v2(&self) -> Result<Vec<(OrderId, u32)>, Error> {
        let mut out = Vec::new();
        for item in self.t.floor.scan_prefix([INTENT]) {
            let (k, v) = item?;
            if !v.is_empty()
                && let Some(p) = parse_package(&k[1..])
            {
                out.push(p);
            }
        }
        Ok(out)
    }

    /// A package's Shipping API v2 details, if it was bought through it.
    pub fn shipment_v2(&self, id: &OrderId, package: u32) -> Result<Option<ShipmentV2>, Error> {
        self.t
            .floor
            .get(key(V2, &package_id(id.as_str(), package)))?
            .map(|v| records::decode::<Tracked2>(&v))
            .transpose()
    }

    /// A package bought through Shipping API v2 with carrier `carrier_id` is on the day's
    /// collection form made `now` (it can no longer be voided), unless it is on one already or
    /// was voided: decided on its details as the transaction reads them. True when it was marked.
    pub fn mark_on_form(
        &self,
        id: &OrderId,
        package: u32,
        carrier_id: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, Error> {
        let marked = self.transact(|tx| {
            let Some(v) = tx.floor.get(key(V2, &package_id(id.as_str(), package)))? else {
                return Ok(false);
            };
            let mut v: ShipmentV2 = records::decode::<Tracked2>(&v).or_else(abort)?;
            if v.carrier_id != carrier_id || v.on_form.is_some() || v.voided {
                return Ok(false);
            }
            v.on_form = Some(now);
            put_v2(tx, id, package, &v)?;
            Ok(true)
        })?;
        if marked {
            self.flush()?;
        }
        Ok(marked)
    }

    /// Amazon took the Transparency codes of a package bought through Shipping API v2: kept on
    /// its v2 details, with an audit entry.
    pub fn codes_sent_v2(
        &self,
        id: &OrderId,
        package: u32,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        self.transact(|tx| {
            let k = key(V2, &package_id(id.as_str(), package));
            let Some(v) = tx.floor.get(&k)? else {
                return abort(
                    LabelRefusal::NotV2 {
                        order: id.clone(),
                        package,
                    }
                    .into(),
                );
            };
            let mut v2: ShipmentV2 = records::decode::<Tracked2>(&v).or_else(abort)?;
            v2.codes_sent = Some(now);
            put_v2(tx, id, package, &v2)?;
            audit_in(
                tx,
                user,
                "transparency_codes_sent",
                Some(id.as_str()),
                Some(&format!("package {package}")),
                now,
            )
        })?;
        self.flush()
    }

    /// Packages whose delivery tracking has more to tell, up to `limit`, after `after`.
    pub fn awaiting_delivery(
        &self,
        after: Option<&(OrderId, u32)>,
        limit: usize,
    ) -> Result<Vec<(OrderId, u32)>, Error> {
        let start = match after {
            Some((id, n)) => {
                let mut k = key(AWAIT, &package_id(id.as_str(), *n));
                k.push(0);
                k
            }
            None => vec![AWAIT],
        };
        let mut out = Vec::new();
        for item in self.t.floor.range(start..) {
            let (k, _) = item?;
            if k.first() != Some(&AWAIT) || out.len() >= limit {
                break;
            }
            if let Some(p) = parse_package(&k[1..]) {
                out.push(p);
            }
        }
        Ok(out)
    }

    /// A Shipping API v2 purchase got no answer to go by: the intent stays, with its key, to be
    /// sent again; the audit log says so.
    pub fn purchase_unanswered(
        &self,
        id: &OrderId,
        package: u32,
        user: &str,
        detail: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        let what = format!("package {package}: {detail}; kept to send again under its key");
        self.transact(|tx| note(tx, id, user, "label_purchase_unanswered", Some(&what), now))?;
        self.flush()
    }

    /// What tracking said of a package (`tracked` sets it on the package's details as the
    /// transaction reads them, so a void or a collection form marked meanwhile is kept): kept,
    /// and a delivery counted once (per carrier, on the day it was delivered, late or not).
    pub fn record_delivery(
        &self,
        id: &OrderId,
        package: u32,
        tracked: impl Fn(&mut ShipmentV2),
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        use crate::domain::report::Metric;
        let carrier = self
            .shipment(id, package)?
            .and_then(|s| s.carrier)
            .map_or_else(|| "-".to_owned(), |c| c.name().to_owned());
        self.transact(|tx| {
            let k = key(V2, &package_id(id.as_str(), package));
            let Some(b) = tx.floor.get(&k)? else {
                return Ok(());
            };
            let before: ShipmentV2 = records::decode::<Tracked2>(&b).or_else(abort)?;
            let was = before.delivery;
            let was_scanned = before.carrier_scanned() || before.voided;
            let mut v = before;
            tracked(&mut v);
            let v = &v;
            // The carrier's first scan of a package of a shipped order counts on the day the
            // order shipped (a scan before it ships is counted as it ships).
            if v.carrier_scanned()
                && !was_scanned
                && let Some(o) = tx.orders.get(id.as_str())?
            {
                let rec = crate::store::decode_record(&o).or_else(abort)?;
                if rec.state == crate::domain::OrderState::Shipped {
                    let shipped = rec.closed_at.unwrap_or(rec.state_since);
                    crate::store::stats::day(tx, shipped, Metric::TrackingScanned, 1)?;
                }
            }
            if v.delivery == Some(crate::domain::Delivery::Delivered)
                && was != Some(crate::domain::Delivery::Delivered)
            {
                let at = v.delivered_at.unwrap_or(now);
                crate::store::stats::carrier(tx, at, &carrier, "", Metric::PackagesDelivered, 1)?;
                if v.delivered_late() {
                    crate::store::stats::carrier(tx, at, &carrier, "", Metric::LateDeliveries, 1)?;
                }
            }
            put_v2(tx, id, package, v)
        })?;
        self.flush()
    }

    /// How many packages tracking still has something to tell of (labels on their way).
    pub fn awaiting_delivery_count(&self) -> Result<u64, Error> {
        Ok(self.t.floor.scan_prefix([AWAIT]).keys().count() as u64)
    }

    /// Keeps a day's collection form of a carrier (replacing one made earlier that day).
    pub fn keep_collection_form(
        &self,
        day: NaiveDate,
        carrier_id: &str,
        pdf: &[u8],
    ) -> Result<(), Error> {
        let mut k = vec![FORM];
        k.extend_from_slice(day.format("%Y-%m-%d").to_string().as_bytes());
        k.extend_from_slice(carrier_id.as_bytes());
        self.t.floor.insert(k, pdf)?;
        self.flush()
    }

    /// A day's collection forms, by carrier id.
    pub fn collection_forms(&self, day: NaiveDate) -> Result<Vec<(String, Vec<u8>)>, Error> {
        let mut prefix = vec![FORM];
        prefix.extend_from_slice(day.format("%Y-%m-%d").to_string().as_bytes());
        let mut out = Vec::new();
        for item in self.t.floor.scan_prefix(&prefix) {
            let (k, v) = item?;
            let carrier = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
            out.push((carrier, v.to_vec()));
        }
        Ok(out)
    }

    /// A Shipping API v2 purchase sent under `key` bought nothing (refused, or its rate
    /// expired): its intent is dropped, and only it. Another sender's intent written meanwhile
    /// under another key, or a record, stays.
    pub fn abandon_purchase_v2(&self, id: &OrderId, package: u32, key: &str) -> Result<(), Error> {
        self.transact(|tx| {
            let ours = match tx.floor.get(intent_key(id, package))? {
                Some(v) if !v.is_empty() => {
                    records::decode::<Intent2>(&v).or_else(abort)?.key == key
                }
                _ => false,
            };
            if ours
                && shipment_in(tx, id, package)?
                    .is_some_and(|s| s.state == ShipmentState::PurchaseIntent)
            {
                tx.floor.remove(shipment_key(id, package))?;
                tx.floor.remove(intent_key(id, package))?;
            }
            Ok(())
        })?;
        self.flush()
    }
}
