//! What each SKU needs recorded per unit at the pack bench (serial numbers, Transparency
//! codes), as Amazon's own copies of orders last said (`meta`, `sku_codes/ ‖ SKU`: one byte of
//! flags). Amazon's actionable-orders report carries no such column: an order a backlog brings
//! through it takes its lines' requirements from here, so a unit Amazon asks a code for is not
//! packed without one because of the way its order arrived. Nothing personal: SKUs are the
//! seller's own.

use std::collections::{BTreeMap, BTreeSet};

use super::backend::Batch;
use super::{Error, Store, keys};
use crate::domain::UnitCodes;
use crate::domain::import::ImportedOrder;

const SERIAL: u8 = 1;
const TRANSPARENCY: u8 = 2;

fn key(sku: &str) -> Vec<u8> {
    let mut k = keys::meta::SKU_CODES.as_bytes().to_vec();
    k.extend_from_slice(sku.as_bytes());
    k
}

fn flags(c: UnitCodes) -> u8 {
    (u8::from(c.serial) * SERIAL) | (u8::from(c.transparency) * TRANSPARENCY)
}

fn codes(flags: u8) -> UnitCodes {
    UnitCodes {
        serial: flags & SERIAL != 0,
        transparency: flags & TRANSPARENCY != 0,
    }
}

impl Store {
    /// Learns each SKU's requirements from orders as Amazon's searchOrders or getOrder gave
    /// them: one that needs codes is noted, one that no longer does is forgotten.
    pub fn learn_sku_codes(&self, orders: &[ImportedOrder]) -> Result<(), Error> {
        let mut said: BTreeMap<&str, UnitCodes> = BTreeMap::new();
        for o in orders {
            for l in &o.order.lines {
                said.insert(&l.sku, l.unit_codes);
            }
        }
        if said.is_empty() {
            return Ok(());
        }
        let keys: Vec<Vec<u8>> = said.keys().map(|s| key(s)).collect();
        let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
        let known = self.t.meta.get_many(&refs)?;
        let mut batch = Batch::default();
        for ((k, c), was) in keys.iter().zip(said.values()).zip(known) {
            let now = flags(*c);
            match (was.as_deref().and_then(|v| v.first().copied()), now) {
                (Some(w), n) if w == n => {}
                (None, 0) => {}
                (_, 0) => batch.remove(k),
                (_, n) => batch.insert(k, vec![n]),
            }
        }
        if !batch.is_empty() {
            self.t.meta.apply_batch(batch)?;
        }
        Ok(())
    }

    /// Gives the lines of orders from the actionable-orders report the requirements their SKUs
    /// were last seen with (the report says nothing of them).
    pub fn apply_sku_codes(&self, orders: &mut [ImportedOrder]) -> Result<(), Error> {
        let skus: BTreeSet<String> = orders
            .iter()
            .flat_map(|o| o.order.lines.iter().map(|l| l.sku.clone()))
            .collect();
        if skus.is_empty() {
            return Ok(());
        }
        let keys: Vec<Vec<u8>> = skus.iter().map(|s| key(s)).collect();
        let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
        let known: BTreeMap<&String, UnitCodes> = skus
            .iter()
            .zip(self.t.meta.get_many(&refs)?)
            .filter_map(|(s, v)| Some((s, codes(*v?.first()?))))
            .collect();
        for o in orders.iter_mut() {
            for l in &mut o.order.lines {
                if let Some(c) = known.get(&l.sku) {
                    l.unit_codes = *c;
                }
            }
        }
        Ok(())
    }
}
