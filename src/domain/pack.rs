//! Packing: every unit of an order is scanned against it before the box closes, so a wrong or
//! extra item is caught at the bench. Then a box and a weight. Pure.

use serde::{Deserialize, Serialize};

use super::order::{Order, OrderId};
use super::pick::{Locations, code_matches};

/// One SKU of the order being packed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackLine {
    pub sku: String,
    pub asin: String,
    pub title: String,
    pub barcodes: Vec<String>,
    pub needed: u32,
    pub scanned: u32,
}

/// The check of one order at the pack bench.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackCheck {
    pub order: OrderId,
    /// Who is packing it: one bench per order.
    pub packer: String,
    pub lines: Vec<PackLine>,
}

/// A scan the check refuses. Nothing changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum PackRefusal {
    #[error("wrong item: {code:?} is not in order {order}")]
    WrongItem { code: String, order: OrderId },
    #[error("extra unit: order {order} takes only {needed} of {sku}")]
    Extra {
        sku: String,
        needed: u32,
        order: OrderId,
    },
}

/// The box and weight an order leaves in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parcel {
    pub box_name: String,
    /// Outside dimensions in millimetres: length, width, height.
    pub dims_mm: [u32; 3],
    pub weight_g: u32,
}

impl PackCheck {
    pub fn new(order: &Order, packer: &str, locations: &Locations) -> PackCheck {
        let mut lines: Vec<PackLine> = Vec::new();
        for l in &order.lines {
            let qty = l.quantity_ordered.saturating_sub(l.quantity_shipped);
            if qty == 0 {
                continue;
            }
            match lines.iter_mut().find(|x| x.sku == l.sku) {
                Some(x) => x.needed = x.needed.saturating_add(qty),
                None => lines.push(PackLine {
                    sku: l.sku.clone(),
                    asin: l.asin.clone(),
                    title: l.title.clone(),
                    barcodes: locations
                        .get(&l.sku)
                        .map(|x| x.barcodes.clone())
                        .unwrap_or_default(),
                    needed: qty,
                    scanned: 0,
                }),
            }
        }
        PackCheck {
            order: order.id.clone(),
            packer: packer.to_owned(),
            lines,
        }
    }

    /// Counts one unit in, or refuses it. Returns the line index and its new count.
    pub fn scan(&mut self, code: &str) -> Result<(usize, u32), PackRefusal> {
        let Some(i) = self
            .lines
            .iter()
            .position(|l| code_matches(code, &l.sku, &l.asin, &l.barcodes))
        else {
            return Err(PackRefusal::WrongItem {
                code: code.trim().to_owned(),
                order: self.order.clone(),
            });
        };
        let l = &mut self.lines[i];
        if l.scanned >= l.needed {
            return Err(PackRefusal::Extra {
                sku: l.sku.clone(),
                needed: l.needed,
                order: self.order.clone(),
            });
        }
        l.scanned += 1;
        Ok((i, l.scanned))
    }

    pub fn is_complete(&self) -> bool {
        self.lines.iter().all(|l| l.scanned >= l.needed)
    }

    pub fn units_left(&self) -> u32 {
        self.lines
            .iter()
            .map(|l| l.needed.saturating_sub(l.scanned))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::order::tests_support::order_with;

    #[test]
    fn every_unit_must_be_scanned_and_nothing_else() {
        let o = order_with("111-0000001-0000001", &[("MUG", 2), ("TEE", 1)]);
        let mut c = PackCheck::new(&o, "ann", &Locations::default());
        assert_eq!(c.units_left(), 3);
        assert_eq!(c.scan("MUG"), Ok((0, 1)));
        assert!(matches!(c.scan("SOCK"), Err(PackRefusal::WrongItem { .. })));
        assert_eq!(c.scan("tee"), Ok((1, 1)));
        assert!(matches!(
            c.scan("TEE"),
            Err(PackRefusal::Extra { needed: 1, .. })
        ));
        assert!(!c.is_complete());
        assert_eq!(c.scan("MUG"), Ok((0, 2)));
        assert!(c.is_complete());
        assert_eq!(c.units_left(), 0);
    }
}
