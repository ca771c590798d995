//! Purchases whose outcome is unknown: found after a restart, cleared or recorded as found by
//! a lead, each audited.

use chrono::{DateTime, Utc};

use super::{
    INTENT, Postage, Store, flag, intent_key, keep_label, note, order_in, parse_package,
    put_shipment, shipment_in, shipment_key,
};
use crate::domain::OrderId;
use crate::domain::shipment::{ShipmentRecord, ShipmentState};
use crate::store::refusal::LabelRefusal;
use crate::store::{Error, abort};

impl Store {
    /// A lead found that Amazon bought nothing for the order's purchases whose outcome was
    /// unknown (or that never left): those records go, audited with the reason, and labels may
    /// be bought for those packages.
    pub fn clear_purchase(
        &self,
        id: &OrderId,
        user: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        let unresolved: Vec<u32> = self
            .shipments(id)?
            .iter()
            .filter(|s| s.state.is_unresolved())
            .map(|s| s.package)
            .collect();
        self.transact(|tx| {
            let mut cleared = 0;
            for n in &unresolved {
                if shipment_in(tx, id, *n)?.is_some_and(|s| s.state.is_unresolved()) {
                    tx.floor.remove(shipment_key(id, *n))?;
                    tx.floor.remove(intent_key(id, *n))?;
                    cleared += 1;
                }
            }
            if cleared == 0 {
                return abort(LabelRefusal::NothingToClear { order: id.clone() }.into());
            }
            note(tx, id, user, "label_purchase_cleared", Some(reason), now)
        })?;
        self.flush()
    }

    /// After a restart: a purchase intent left behind means the process stopped while Amazon
    /// was asked. Each becomes "outcome unknown" with an exception for a lead. Returns how many.
    pub fn recover_purchases(&self, now: DateTime<Utc>) -> Result<usize, Error> {
        let mut stuck = Vec::new();
        for item in self.t.floor.scan_prefix([INTENT]) {
            let (k, v) = item?;
            // A Shipping API v2 intent carries its idempotency key: it is sent again, not
            // turned over to a lead.
            if !v.is_empty() {
                continue;
            }
            if let Some(p) = parse_package(&k[1..]) {
                stuck.push(p);
            }
        }
        for (id, package) in &stuck {
            self.purchase_unknown(
                id,
                *package,
                "packline",
                "the process stopped while Amazon was asked",
                now,
            )?;
        }
        Ok(stuck.len())
    }

    /// The order's first package whose purchase may or may not have bought a label, which a
    /// shipment a lead found may replace (`CheckPurchase`).
    pub fn purchase_unresolved(&self, id: &OrderId) -> Result<Option<u32>, Error> {
        Ok(self
            .shipments(id)?
            .iter()
            .find(|s| s.state.is_unresolved())
            .map(|s| s.package))
    }

    /// The answer never came: the intent becomes "outcome unknown" and the order an exception
    /// for a lead, in one transaction.
    pub fn purchase_unknown(
        &self,
        id: &OrderId,
        package: u32,
        user: &str,
        detail: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        let text = format!(
            "label purchase outcome unknown (package {package}: {detail}): look the shipment up or void it before buying again"
        );
        self.transact(|tx| {
            if let Some(mut s) = shipment_in(tx, id, package)? {
                s.state = ShipmentState::OutcomeUnknown;
                s.at = now;
                put_shipment(tx, &s)?;
            }
            let order = order_in(tx, id)?;
            flag(tx, order, user, "label_purchase_unknown", &text, now)?;
            Ok(())
        })?;
        self.flush()
    }

    /// A lead found the shipment Amazon bought: record it and its label without moving the
    /// order (it is an exception; the lead resolves it to Labelled). Refused unless the package's
    /// purchase is still of unknown outcome (another lead may have settled it meanwhile).
    pub fn record_found_purchase(
        &mut self,
        record: &ShipmentRecord,
        label: &[u8],
        postage: Postage<'_>,
    ) -> Result<(), Error> {
        let sealed = self.keyring.seal_document(label, record.at)?;
        let (id, package) = (&record.order, record.package);
        self.transact(|tx| {
            if !shipment_in(tx, id, package)?.is_some_and(|s| s.state.is_unresolved()) {
                return abort(
                    LabelRefusal::NothingToCheck {
                        order: id.clone(),
                        package,
                    }
                    .into(),
                );
            }
            keep_label(tx, record, &sealed, postage)
        })?;
        self.flush()
    }
}
