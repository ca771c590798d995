//! The pick sheet a picker takes with the cart: the batch's lines in bin order with SKU,
//! quantity and the slots each unit goes to, on 4×6 inch ZPL labels (as many as the lines need).
//! No personal data: orders are named by their slot only.

use super::zpl;
use crate::domain::PickBatch;

/// Lines on one 4×6 label under the header.
const LINES_PER_LABEL: usize = 15;

pub fn zpl(batch: &PickBatch) -> Vec<u8> {
    let pages: Vec<_> = batch.lines.chunks(LINES_PER_LABEL).collect();
    let count = pages.len().max(1);
    let mut z = String::with_capacity(2048 * count);
    for (n, lines) in pages.iter().enumerate() {
        z.push_str("^XA\n^CI28\n^PW812\n^LL1218\n^LH0,0\n");
        z.push_str(&zpl::text_field(30, 30, 50, "PICK SHEET", 20));
        z.push_str(&zpl::text_field(
            30,
            90,
            30,
            &format!(
                "batch {} · {} · {} order(s) · page {}/{count}",
                batch.id,
                batch.holder,
                batch.orders.len(),
                n + 1
            ),
            60,
        ));
        z.push_str(&zpl::text_field(
            30,
            140,
            24,
            "BIN        SKU               QTY",
            40,
        ));
        z.push_str("^FO20,170^GB772,3,3^FS\n");
        let mut y = 185;
        for l in *lines {
            let qty = l.needed.saturating_sub(l.picked);
            z.push_str(&zpl::text_field(
                30,
                y,
                26,
                &format!(
                    "{:<10} {:<17} {qty:>3}",
                    l.bin.as_deref().unwrap_or("-"),
                    l.sku
                ),
                40,
            ));
            // Where the units go: slot × units, earliest due first.
            let to: Vec<String> = l
                .orders
                .iter()
                .zip(&l.put)
                .filter(|((_, q), put)| *put < q)
                .map(|((o, q), put)| format!("S{}x{}", batch.slot_of(o).unwrap_or(0), q - put))
                .collect();
            z.push_str(&zpl::text_field(60, y + 32, 22, &to.join(" "), 60));
            y += 66;
        }
        z.push_str("^XZ\n");
    }
    if pages.is_empty() {
        z.push_str("^XA\n^CI28\n");
        z.push_str(&zpl::text_field(30, 30, 50, "PICK SHEET", 20));
        z.push_str(&zpl::text_field(30, 90, 30, "nothing left to pick", 40));
        z.push_str("^XZ\n");
    }
    z.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Locations;
    use crate::domain::order::tests_support::order_with;

    #[test]
    fn the_sheet_lists_bins_skus_and_slots_and_pages_long_batches() {
        let locs = Locations::from_csv("MUG,A-02,\nTEE,A-01,\n").unwrap();
        let a = order_with("111-0000001-0000001", &[("MUG", 1), ("TEE", 2)]);
        let b = order_with("111-0000001-0000002", &[("MUG", 3)]);
        let batch = PickBatch::new(42, "ann", &[a, b], &locs, &Default::default());
        let z = String::from_utf8(zpl(&batch)).unwrap();
        assert_eq!(z.matches("^XA").count(), 1);
        let tee = z.find("A-01").unwrap();
        let mug = z.find("A-02").unwrap();
        assert!(tee < mug, "bin order: {z}");
        assert!(z.contains("S1x1 S2x3"), "{z}");
        assert!(z.contains("S1x2"), "{z}");
        assert!(
            !z.contains("111-0000001"),
            "orders are named by slot only: {z}"
        );

        let many: Vec<_> = (0..40)
            .map(|i| order_with(&format!("111-0000002-{i:07}"), &[(&format!("SKU{i}"), 1)]))
            .collect();
        let big = PickBatch::new(1, "ann", &many, &Locations::default(), &Default::default());
        let z = String::from_utf8(zpl(&big)).unwrap();
        assert_eq!(z.matches("^XA").count(), 3, "15 lines a label");
        assert_eq!(z.matches("SKU").count() - 3, 40, "every line once");
    }
}
