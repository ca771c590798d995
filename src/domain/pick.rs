//! Picking: a batch of orders walked as one list of SKU lines sorted by bin, and the scans that
//! fill it. Pure: the service stores a `PickBatch` and feeds it scans in arrival order.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::order::{Order, OrderId};
use super::text::is_hazard;

/// Where each SKU lives and which barcodes identify it, from the site's locations file
/// (`sku,bin,barcodes` CSV; barcodes separated by spaces or `;`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Locations {
    by_sku: HashMap<String, Location>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    pub bin: String,
    pub barcodes: Vec<String>,
}

/// A locations file line that cannot be used, with its line number (1-based, header included).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct LocationError {
    pub line: u64,
    pub reason: String,
}

impl Locations {
    /// Reads `sku,bin,barcodes` rows; a header row starting with `sku` is skipped. Fields with
    /// control or invisible characters are refused: they would be drawn on a packer's screen.
    pub fn from_csv(text: &str) -> Result<Locations, LocationError> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let mut by_sku = HashMap::new();
        for row in reader.records() {
            let row = row.map_err(|e| LocationError {
                line: e.position().map_or(0, |p| p.line()),
                reason: e.to_string(),
            })?;
            let line = row.position().map_or(0, |p| p.line());
            let err = |reason: String| LocationError { line, reason };
            let sku = row.get(0).unwrap_or_default();
            if line == 1 && sku.eq_ignore_ascii_case("sku") {
                continue;
            }
            if sku.is_empty() && row.iter().all(str::is_empty) {
                continue;
            }
            if row.len() < 2 {
                return Err(err("expected sku,bin[,barcodes]".into()));
            }
            let bin = row.get(1).unwrap_or_default();
            if sku.is_empty() || bin.is_empty() {
                return Err(err("the SKU and the bin must not be empty".into()));
            }
            let barcodes: Vec<String> = row
                .get(2)
                .unwrap_or_default()
                .split([' ', ';'])
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect();
            for field in [sku, bin]
                .into_iter()
                .chain(barcodes.iter().map(String::as_str))
            {
                if field.chars().any(is_hazard) {
                    return Err(err("a field holds a control or invisible character".into()));
                }
            }
            if by_sku
                .insert(
                    sku.to_owned(),
                    Location {
                        bin: bin.to_owned(),
                        barcodes,
                    },
                )
                .is_some()
            {
                return Err(err(format!("SKU {sku:?} is listed twice")));
            }
        }
        Ok(Locations { by_sku })
    }

    pub fn get(&self, sku: &str) -> Option<&Location> {
        self.by_sku.get(sku)
    }

    pub fn len(&self) -> usize {
        self.by_sku.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_sku.is_empty()
    }
}

/// Whether a scanned code names this unit: its SKU or ASIN (letters in any case), or one of its
/// barcodes exactly.
pub fn code_matches(code: &str, sku: &str, asin: &str, barcodes: &[String]) -> bool {
    let code = code.trim();
    !code.is_empty()
        && (code.eq_ignore_ascii_case(sku)
            || (!asin.is_empty() && code.eq_ignore_ascii_case(asin))
            || barcodes.iter().any(|b| b == code))
}

/// One SKU of a batch: how many units to take from its bin, and for which orders.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PickLine {
    pub sku: String,
    pub asin: String,
    pub title: String,
    /// `None` when the SKU is not in the locations file: such lines go last, flagged.
    pub bin: Option<String>,
    pub barcodes: Vec<String>,
    pub needed: u32,
    pub picked: u32,
    /// Orders wanting this SKU, in ship-by order, with their quantities.
    pub orders: Vec<(OrderId, u32)>,
    /// Units put to each of `orders` so far (same order): a unit goes to the earliest-due order
    /// that still needs it.
    pub put: Vec<u32>,
}

impl PickLine {
    pub fn is_done(&self) -> bool {
        self.picked >= self.needed
    }
}

/// A claimed batch of orders and its pick list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PickBatch {
    pub id: u64,
    pub holder: String,
    /// Orders in the batch, in ship-by order.
    pub orders: Vec<OrderId>,
    pub lines: Vec<PickLine>,
    /// The bin the picker last scanned, if bins are scanned.
    pub at_bin: Option<String>,
    /// Where each order's units go on the cart, in ship-by order.
    pub slots: Vec<Slot>,
    /// Whether each unit's slot is confirmed by scanning the slot's label after the unit.
    pub confirm_put: bool,
    /// A unit scanned and not yet put (with `confirm_put`): the next scan must be its slot.
    pub in_hand: Option<InHand>,
    /// With totes, the prefix of tote barcodes: each order gets an empty tote scanned for it
    /// (in slot order) before its first unit.
    pub tote_prefix: Option<String>,
}

/// How a site's carts work, for a batch claimed there.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CartRules {
    /// Each unit's slot is confirmed by a scan of the slot's label (or tote).
    pub confirm_put: bool,
    /// Orders go to totes whose barcodes start with this; none: to the cart's fixed slots.
    pub tote_prefix: Option<String>,
}

/// An order's place on the cart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Slot {
    pub order: OrderId,
    /// 1-based; its label reads `SLOT-n`.
    pub slot: u32,
    /// The tote scanned for it (tote carts).
    pub tote: Option<String>,
}

/// A unit in the picker's hand, on its way to a slot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct InHand {
    pub sku: String,
    pub order: OrderId,
    pub slot: u32,
}

/// The label on a cart's slot, as its barcode reads.
pub fn slot_label(slot: u32) -> String {
    format!("SLOT-{slot}")
}

/// The slot a scanned or typed code names: its label (`SLOT-3`, any case) or its number.
pub fn parse_slot(code: &str) -> Option<u32> {
    let code = code.trim();
    let n = match code.get(..5) {
        Some(p) if p.eq_ignore_ascii_case("SLOT-") => &code[5..],
        _ => code,
    };
    n.parse().ok().filter(|n| *n > 0)
}

/// What a good scan did. In JSON, an object whose `kind` names what was scanned (`bin`,
/// `unit`, `put`, `tote`), beside its fields.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
// The JSON contract has named it `PickScan` since its first version.
#[schemars(rename = "PickScan")]
pub enum PickEvent {
    /// A bin label: the picker is at this bin.
    Bin { bin: String },
    /// One unit of a line (`line` indexes `lines`), for `order`, whose units go to `slot`.
    /// With `confirm_put` it is in hand until its slot is scanned (`put` false).
    Unit {
        line: usize,
        picked: u32,
        needed: u32,
        order: OrderId,
        slot: u32,
        put: bool,
    },
    /// The unit in hand went into its slot.
    Put { slot: u32, order: OrderId },
    /// An empty tote taken for an order's slot.
    Tote {
        slot: u32,
        order: OrderId,
        tote: String,
    },
}

impl PickEvent {
    /// The slot the scanned unit goes (or went) to.
    pub fn slot(&self) -> Option<u32> {
        match self {
            PickEvent::Bin { .. } => None,
            PickEvent::Unit { slot, .. }
            | PickEvent::Put { slot, .. }
            | PickEvent::Tote { slot, .. } => Some(*slot),
        }
    }
}

/// A scan the batch refuses. Nothing changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum PickRefusal {
    #[error("wrong item: {code:?} is not on this pick list")]
    WrongItem { code: String },
    #[error("extra unit: all {needed} of {sku} are already picked")]
    Extra { sku: String, needed: u32 },
    #[error("wrong slot: {code:?} is not SLOT {slot}, where the unit in hand goes")]
    WrongSlot { code: String, slot: u32 },
    #[error("nothing in hand to put: scan a unit first")]
    NothingInHand,
    #[error("scan an empty tote for SLOT {slot} (order {order}) first")]
    ToteFirst { slot: u32, order: OrderId },
    #[error("tote {tote:?} is already in use")]
    ToteTaken { tote: String },
}

impl PickBatch {
    /// Builds the pick list: lines aggregated by SKU, sorted by bin (SKUs without a bin last),
    /// then SKU. `orders` come in ship-by order.
    pub fn new(
        id: u64,
        holder: &str,
        orders: &[Order],
        locations: &Locations,
        rules: &CartRules,
    ) -> PickBatch {
        let mut by_sku: BTreeMap<&str, PickLine> = BTreeMap::new();
        for o in orders {
            for l in &o.lines {
                let qty = l.quantity_ordered.saturating_sub(l.quantity_shipped);
                if qty == 0 {
                    continue;
                }
                let line = by_sku.entry(l.sku.as_str()).or_insert_with(|| {
                    let loc = locations.get(&l.sku);
                    PickLine {
                        sku: l.sku.clone(),
                        asin: l.asin.clone(),
                        title: l.title.clone(),
                        bin: loc.map(|x| x.bin.clone()),
                        barcodes: loc.map(|x| x.barcodes.clone()).unwrap_or_default(),
                        needed: 0,
                        picked: 0,
                        orders: Vec::new(),
                        put: Vec::new(),
                    }
                });
                line.needed = line.needed.saturating_add(qty);
                match line.orders.iter_mut().find(|(id, _)| *id == o.id) {
                    Some((_, q)) => *q = q.saturating_add(qty),
                    None => {
                        line.orders.push((o.id.clone(), qty));
                        line.put.push(0);
                    }
                }
            }
        }
        let mut lines: Vec<PickLine> = by_sku.into_values().collect();
        lines.sort_by(|a, b| {
            (a.bin.is_none(), &a.bin, &a.sku).cmp(&(b.bin.is_none(), &b.bin, &b.sku))
        });
        PickBatch {
            id,
            holder: holder.to_owned(),
            orders: orders.iter().map(|o| o.id.clone()).collect(),
            lines,
            at_bin: None,
            slots: orders
                .iter()
                .zip(1..)
                .map(|(o, slot)| Slot {
                    order: o.id.clone(),
                    slot,
                    tote: None,
                })
                .collect(),
            confirm_put: rules.confirm_put,
            in_hand: None,
            tote_prefix: rules.tote_prefix.clone(),
        }
    }

    /// With totes, the next slot still waiting for its tote.
    pub fn needs_tote(&self) -> Option<&Slot> {
        self.tote_prefix.as_ref()?;
        self.slots.iter().find(|s| s.tote.is_none())
    }

    /// Whether a code is a tote barcode of this site.
    pub fn is_tote(&self, code: &str) -> bool {
        self.tote_prefix.as_ref().is_some_and(|p| {
            code.len() > p.len()
                && code
                    .get(..p.len())
                    .is_some_and(|head| head.eq_ignore_ascii_case(p))
        })
    }

    /// The slot of an order in the batch.
    pub fn slot_of(&self, order: &OrderId) -> Option<u32> {
        self.slots
            .iter()
            .find(|s| s.order == *order)
            .map(|s| s.slot)
    }

    /// Applies one scan: a bin label, or a unit of a line not yet complete. Prefers the line at
    /// the current bin when one SKU's code could match several lines.
    pub fn scan(&mut self, code: &str) -> Result<PickEvent, PickRefusal> {
        let code = code.trim();
        // Totes first: each order's empty tote, in slot order, before any unit.
        if let Some(next) = self.needs_tote() {
            let (slot, order) = (next.slot, next.order.clone());
            if !self.is_tote(code) {
                return Err(PickRefusal::ToteFirst { slot, order });
            }
            if self.slots.iter().any(|s| {
                s.tote
                    .as_deref()
                    .is_some_and(|t| t.eq_ignore_ascii_case(code))
            }) {
                return Err(PickRefusal::ToteTaken {
                    tote: code.to_owned(),
                });
            }
            let tote = code.to_uppercase();
            if let Some(s) = self.slots.iter_mut().find(|s| s.slot == slot) {
                s.tote = Some(tote.clone());
            }
            return Ok(PickEvent::Tote { slot, order, tote });
        }
        // A unit in hand: this scan is where it goes, and only its slot (or tote) will do.
        if let Some(hand) = &self.in_hand {
            let tote = self
                .slots
                .iter()
                .find(|s| s.slot == hand.slot)
                .and_then(|s| s.tote.as_deref());
            let into_tote = tote.is_some_and(|t| t.eq_ignore_ascii_case(code));
            if !into_tote && parse_slot(code) != Some(hand.slot) {
                return Err(PickRefusal::WrongSlot {
                    code: code.to_owned(),
                    slot: hand.slot,
                });
            }
            let hand = self.in_hand.take().expect("in hand");
            return Ok(PickEvent::Put {
                slot: hand.slot,
                order: hand.order,
            });
        }
        if let Some(bin) = self
            .lines
            .iter()
            .filter_map(|l| l.bin.as_deref())
            .find(|b| *b == code)
        {
            let bin = bin.to_owned();
            self.at_bin = Some(bin.clone());
            return Ok(PickEvent::Bin { bin });
        }
        let matching: Vec<usize> = (0..self.lines.len())
            .filter(|&i| {
                let l = &self.lines[i];
                code_matches(code, &l.sku, &l.asin, &l.barcodes)
            })
            .collect();
        let Some(&first) = matching.first() else {
            return Err(PickRefusal::WrongItem {
                code: code.to_owned(),
            });
        };
        let Some(i) = matching.iter().copied().find(|&i| !self.lines[i].is_done()) else {
            let l = &self.lines[first];
            return Err(PickRefusal::Extra {
                sku: l.sku.clone(),
                needed: l.needed,
            });
        };
        let line = &mut self.lines[i];
        line.picked += 1;
        // The earliest-due order that still needs this SKU (orders are in ship-by order).
        let to = (0..line.orders.len())
            .find(|&k| line.put[k] < line.orders[k].1)
            .expect("a line that is not done has an order short of it");
        line.put[to] += 1;
        let order = line.orders[to].0.clone();
        let (picked, needed) = (line.picked, line.needed);
        let slot = self.slot_of(&order).unwrap_or(0);
        if self.confirm_put {
            self.in_hand = Some(InHand {
                sku: self.lines[i].sku.clone(),
                order: order.clone(),
                slot,
            });
        }
        Ok(PickEvent::Unit {
            line: i,
            picked,
            needed,
            order,
            slot,
            put: !self.confirm_put,
        })
    }

    /// Confirms the unit in hand into a slot, named by its number or label (`pick put`).
    pub fn put(&mut self, slot: &str) -> Result<PickEvent, PickRefusal> {
        if self.in_hand.is_none() {
            return Err(PickRefusal::NothingInHand);
        }
        self.scan(slot)
    }

    /// Every unit picked and put.
    pub fn is_complete(&self) -> bool {
        self.in_hand.is_none() && self.lines.iter().all(PickLine::is_done)
    }

    /// A SKU cannot be found in full: the orders still short of it (units went to the earliest
    /// due first) are taken out of the batch and returned, for the service to move to
    /// Exception. The units in their slots are to be put back (`put_back`).
    pub fn short(&mut self, sku: &str) -> Option<Shortfall> {
        let line = self.lines.iter().find(|l| l.sku == sku)?;
        let shorted: Vec<OrderId> = line
            .orders
            .iter()
            .zip(&line.put)
            .filter(|((_, qty), put)| *put < qty)
            .map(|((id, _), _)| id.clone())
            .collect();
        let put_back = self.remove_orders(&shorted);
        Some(Shortfall {
            sku: sku.to_owned(),
            orders: shorted,
            put_back,
        })
    }

    /// Takes orders out of the batch (cancelled, held, shorted). The units already put to
    /// them (in their slots, or in hand) are to be put back: returned as (SKU, units).
    pub fn remove_orders(&mut self, gone: &[OrderId]) -> Vec<(String, u32)> {
        self.orders.retain(|o| !gone.contains(o));
        self.slots.retain(|s| !gone.contains(&s.order));
        if self
            .in_hand
            .as_ref()
            .is_some_and(|h| gone.contains(&h.order))
        {
            self.in_hand = None;
        }
        let mut put_back = Vec::new();
        for line in &mut self.lines {
            let mut back = 0;
            let mut k = 0;
            while k < line.orders.len() {
                if gone.contains(&line.orders[k].0) {
                    back += line.put[k];
                    line.orders.remove(k);
                    line.put.remove(k);
                } else {
                    k += 1;
                }
            }
            line.needed = line.orders.iter().map(|(_, q)| q).sum();
            line.picked = line.picked.saturating_sub(back);
            if back > 0 {
                put_back.push((line.sku.clone(), back));
            }
        }
        self.lines.retain(|l| l.needed > 0);
        put_back
    }
}

/// The outcome of a short pick: which orders leave the batch and what goes back on the shelf.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shortfall {
    pub sku: String,
    pub orders: Vec<OrderId>,
    pub put_back: Vec<(String, u32)>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::order::tests_support::order_with;

    fn confirm() -> CartRules {
        CartRules {
            confirm_put: true,
            tote_prefix: None,
        }
    }

    fn locs() -> Locations {
        Locations::from_csv("sku,bin,barcodes\nMUG,A-02,0123456789012\nTEE,A-01,\n").unwrap()
    }

    #[test]
    fn lines_are_aggregated_by_sku_and_sorted_by_bin_unknown_last() {
        let a = order_with("111-0000001-0000001", &[("MUG", 2), ("TEE", 1)]);
        let b = order_with("111-0000001-0000002", &[("MUG", 1), ("ZZZ", 1)]);
        let batch = PickBatch::new(7, "ann", &[a, b], &locs(), &CartRules::default());
        let view: Vec<(&str, Option<&str>, u32)> = batch
            .lines
            .iter()
            .map(|l| (l.sku.as_str(), l.bin.as_deref(), l.needed))
            .collect();
        assert_eq!(
            view,
            [
                ("TEE", Some("A-01"), 1),
                ("MUG", Some("A-02"), 3),
                ("ZZZ", None, 1)
            ]
        );
    }

    #[test]
    fn scans_fill_lines_and_refuse_wrong_and_extra_units() {
        let a = order_with("111-0000001-0000001", &[("MUG", 1)]);
        let mut batch = PickBatch::new(
            1,
            "ann",
            std::slice::from_ref(&a),
            &locs(),
            &CartRules::default(),
        );
        assert_eq!(
            batch.scan("A-02"),
            Ok(PickEvent::Bin { bin: "A-02".into() })
        );
        assert_eq!(
            batch.scan("SOCK"),
            Err(PickRefusal::WrongItem {
                code: "SOCK".into()
            })
        );
        assert_eq!(
            batch.scan("0123456789012"),
            Ok(PickEvent::Unit {
                line: 0,
                picked: 1,
                needed: 1,
                order: a.id.clone(),
                slot: 1,
                put: true,
            })
        );
        assert!(batch.is_complete());
        assert_eq!(
            batch.scan("mug"),
            Err(PickRefusal::Extra {
                sku: "MUG".into(),
                needed: 1
            })
        );
        assert_eq!(batch.lines[0].picked, 1);
    }

    #[test]
    fn a_short_pick_takes_out_the_orders_left_without_their_units() {
        let a = order_with("111-0000001-0000001", &[("MUG", 1), ("TEE", 1)]);
        let b = order_with("111-0000001-0000002", &[("MUG", 2), ("TEE", 1)]);
        let mut batch = PickBatch::new(
            1,
            "ann",
            &[a.clone(), b.clone()],
            &locs(),
            &CartRules::default(),
        );
        batch.scan("TEE").unwrap();
        batch.scan("TEE").unwrap();
        batch.scan("MUG").unwrap();
        let s = batch.short("MUG").unwrap();
        assert_eq!(s.orders, std::slice::from_ref(&b.id));
        assert_eq!(s.put_back, [("TEE".to_owned(), 1)]);
        assert_eq!(batch.orders, [a.id]);
        assert!(batch.is_complete());
    }

    /// Each order has its slot in ship-by order; a SKU several orders want goes to the earliest
    /// due that still needs it.
    #[test]
    fn units_go_to_the_earliest_due_order_still_short_of_them() {
        let a = order_with("111-0000001-0000001", &[("MUG", 1)]);
        let b = order_with("111-0000001-0000002", &[("MUG", 2), ("TEE", 1)]);
        let mut batch = PickBatch::new(
            1,
            "ann",
            &[a.clone(), b.clone()],
            &locs(),
            &CartRules::default(),
        );
        assert_eq!(batch.slot_of(&a.id), Some(1));
        assert_eq!(batch.slot_of(&b.id), Some(2));
        let slots: Vec<Option<u32>> = ["MUG", "MUG", "TEE", "MUG"]
            .into_iter()
            .map(|c| batch.scan(c).unwrap().slot())
            .collect();
        assert_eq!(slots, [Some(1), Some(2), Some(2), Some(2)]);
        assert!(batch.is_complete());
    }

    /// With confirm-put, a unit is in hand until its slot's label is scanned: a wrong slot and
    /// another unit are refused, nothing counts twice, and the batch is not complete meanwhile.
    #[test]
    fn a_unit_in_hand_waits_for_its_slot() {
        let a = order_with("111-0000001-0000001", &[("MUG", 1)]);
        let b = order_with("111-0000001-0000002", &[("TEE", 1)]);
        let mut batch = PickBatch::new(1, "ann", &[a.clone(), b.clone()], &locs(), &confirm());
        let unit = batch.scan("TEE").unwrap();
        assert!(
            matches!(
                unit,
                PickEvent::Unit {
                    slot: 2,
                    put: false,
                    ..
                }
            ),
            "{unit:?}"
        );
        assert_eq!(
            batch.scan("SLOT-1"),
            Err(PickRefusal::WrongSlot {
                code: "SLOT-1".into(),
                slot: 2
            })
        );
        assert!(matches!(
            batch.scan("MUG"),
            Err(PickRefusal::WrongSlot { slot: 2, .. })
        ));
        assert_eq!(
            batch.put("slot-2"),
            Ok(PickEvent::Put {
                slot: 2,
                order: b.id.clone()
            })
        );
        assert_eq!(batch.put("2"), Err(PickRefusal::NothingInHand));
        batch.scan("MUG").unwrap();
        assert!(!batch.is_complete(), "the last unit is still in hand");
        batch.put("1").unwrap();
        assert!(batch.is_complete());
        assert_eq!(batch.lines.iter().map(|l| l.picked).sum::<u32>(), 2);
    }

    /// An order leaving the batch takes the units already put to it (its slot), and a unit in
    /// hand for it; the others keep theirs.
    #[test]
    fn a_removed_order_gives_back_what_is_in_its_slot() {
        let a = order_with("111-0000001-0000001", &[("MUG", 2)]);
        let b = order_with("111-0000001-0000002", &[("MUG", 1)]);
        let mut batch = PickBatch::new(1, "ann", &[a.clone(), b.clone()], &locs(), &confirm());
        batch.scan("MUG").unwrap();
        batch.put("1").unwrap();
        batch.scan("MUG").unwrap();
        assert_eq!(
            batch.remove_orders(std::slice::from_ref(&a.id)),
            [("MUG".to_owned(), 2)]
        );
        assert!(
            batch.in_hand.is_none(),
            "the unit in hand was for the order gone"
        );
        assert_eq!(
            batch.slots,
            [Slot {
                order: b.id.clone(),
                slot: 2,
                tote: None
            }]
        );
        assert_eq!((batch.lines[0].picked, batch.lines[0].needed), (0, 1));
        assert_eq!(batch.scan("MUG").unwrap().slot(), Some(2));
    }

    /// Tote carts: an empty tote for each order in slot order before any unit; a product or a
    /// tote already on the cart is refused; a unit is then confirmed into its tote.
    #[test]
    fn each_order_takes_its_tote_before_its_units() {
        let a = order_with("111-0000001-0000001", &[("MUG", 1)]);
        let b = order_with("111-0000001-0000002", &[("TEE", 1)]);
        let rules = CartRules {
            confirm_put: true,
            tote_prefix: Some("TOTE-".into()),
        };
        let mut batch = PickBatch::new(1, "ann", &[a.clone(), b.clone()], &locs(), &rules);
        assert_eq!(
            batch.scan("MUG"),
            Err(PickRefusal::ToteFirst {
                slot: 1,
                order: a.id.clone()
            })
        );
        assert_eq!(
            batch.scan("tote-7"),
            Ok(PickEvent::Tote {
                slot: 1,
                order: a.id.clone(),
                tote: "TOTE-7".into()
            })
        );
        assert_eq!(
            batch.scan("TOTE-7"),
            Err(PickRefusal::ToteTaken {
                tote: "TOTE-7".into()
            })
        );
        assert!(batch.is_tote("TOTE-9") && !batch.is_tote("TOTE-") && !batch.is_tote("MUG"));
        batch.scan("TOTE-9").unwrap();
        assert!(batch.needs_tote().is_none());
        batch.scan("TEE").unwrap();
        assert!(matches!(
            batch.scan("TOTE-7"),
            Err(PickRefusal::WrongSlot { slot: 2, .. })
        ));
        assert_eq!(
            batch.scan("tote-9"),
            Ok(PickEvent::Put {
                slot: 2,
                order: b.id.clone()
            })
        );
    }

    #[test]
    fn slots_are_read_from_labels_and_numbers() {
        assert_eq!(parse_slot("SLOT-3"), Some(3));
        assert_eq!(parse_slot(" slot-12 "), Some(12));
        assert_eq!(parse_slot("7"), Some(7));
        assert_eq!(parse_slot(&slot_label(9)), Some(9));
        assert_eq!(parse_slot("SLOT-0"), None);
        assert_eq!(parse_slot("MUG"), None);
        assert_eq!(parse_slot("SLOT-x"), None);
    }

    #[test]
    fn locations_errors_name_the_line() {
        let e = Locations::from_csv("MUG,A-01\nTEE\n").unwrap_err();
        assert_eq!(e.line, 2);
        let e = Locations::from_csv("MUG,A-01\nMUG,B-01\n").unwrap_err();
        assert_eq!(
            (e.line, e.reason.as_str()),
            (2, "SKU \"MUG\" is listed twice")
        );
        let e = Locations::from_csv("MUG,A-\u{1b}[2J\n").unwrap_err();
        assert_eq!(e.line, 1);
    }
}
