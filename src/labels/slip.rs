//! The packing slip that goes in the box: the order id as a Code 128 barcode (the pack bench
//! scans it), the ship-to block, the items with SKU and quantity, and any gift message. There are
//! no prices on a slip at all (packline keeps none), so a gift order never shows one.
//!
//! Two forms: 4×6 inch ZPL II for thermal printers (`^CI28`, every data field `^FH`-escaped) and
//! a US Letter PDF for office printers.

use pdf_writer::Content;

use super::code128::{Code128, Code128Error};
use super::pdf::{BOLD, REGULAR, bars, document, text, win_ansi};
use super::zpl;
use crate::domain::{Order, Recipient};

#[derive(Debug, thiserror::Error)]
pub enum SlipError {
    #[error("order id cannot be a barcode: {0}")]
    Barcode(#[from] Code128Error),
}

/// What a slip shows: the order, and its recipient when the store could open it.
pub struct Slip<'a> {
    pub order: &'a Order,
    pub recipient: Option<&'a Recipient>,
    /// The seller's name for the header.
    pub from: &'a str,
    /// The cart slot the order is picked into, printed large (slips printed at claim).
    pub slot: Option<u32>,
}

impl Slip<'_> {
    fn ship_to(&self) -> Vec<String> {
        let Some(r) = self.recipient else {
            return Vec::new();
        };
        let city_line = [
            r.city.as_deref(),
            r.state_or_region.as_deref(),
            r.postal_code.as_deref(),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
        [
            Some(r.name.clone()),
            r.company.clone(),
            r.address_line1.clone(),
            r.address_line2.clone(),
            r.address_line3.clone(),
            Some(city_line),
            r.country_code.clone(),
        ]
        .into_iter()
        .flatten()
        .filter(|l| !l.trim().is_empty())
        .collect()
    }

    fn gift_messages(&self) -> Vec<String> {
        self.recipient
            .map(|r| {
                r.gift_messages
                    .iter()
                    .map(|g| g.message.clone())
                    .filter(|m| !m.trim().is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The order id is the barcode payload: validated (Code 128 set B), never escaped.
    fn barcode(&self) -> Result<Code128, SlipError> {
        Ok(Code128::encode(self.order.id.as_str())?)
    }

    /// A 4×6 inch slip for a 203 dpi thermal printer.
    pub fn zpl(&self) -> Result<Vec<u8>, SlipError> {
        let code = self.barcode()?;
        let m = ((812 - 40) / (code.width_in_modules() as u32 + 20)).clamp(1, 3);
        let mut z = String::with_capacity(4096);
        z.push_str("^XA\n^CI28\n^PW812\n^LL1218\n^LH0,0\n");
        z.push_str(&zpl::text_field(30, 30, 40, "PACKING SLIP", 20));
        if let Some(slot) = self.slot {
            z.push_str(&format!(
                "^FO560,20^GB230,90,4^FS
^FO580,30^A0N,80,70^FDSLOT {slot}^FS
"
            ));
        }
        z.push_str(&zpl::text_field(30, 80, 26, self.from, 48));
        // Order ids are letters, digits, `-` and `_` (checked when parsed): safe as they are.
        z.push_str(&format!(
            "^FO30,120^BY{m},3,110^BCN,110,Y,N,N,A^FD{}^FS\n",
            self.order.id
        ));
        let mut y = 290;
        z.push_str(&zpl::text_field(30, y, 26, "SHIP TO:", 10));
        y += 34;
        for line in self.ship_to().iter().take(7) {
            z.push_str(&zpl::text_field(50, y, 28, line, 40));
            y += 34;
        }
        y += 10;
        z.push_str(&format!("^FO20,{y}^GB772,3,3^FS\n"));
        y += 16;
        z.push_str(&zpl::text_field(30, y, 24, "QTY  SKU / ITEM", 20));
        y += 34;
        for l in self.order.lines.iter().take(12) {
            let qty = l.quantity_ordered.saturating_sub(l.quantity_shipped);
            z.push_str(&zpl::text_field(
                30,
                y,
                26,
                &format!("{qty:>3}  {}", l.sku),
                44,
            ));
            y += 30;
            z.push_str(&zpl::text_field(90, y, 22, &l.title, 52));
            y += 30;
        }
        if self.order.lines.len() > 12 {
            z.push_str(&zpl::text_field(
                30,
                y,
                22,
                &format!("... and {} more lines", self.order.lines.len() - 12),
                40,
            ));
            y += 30;
        }
        for msg in self.gift_messages().iter().take(2) {
            y += 10;
            z.push_str(&zpl::text_field(30, y, 24, "GIFT MESSAGE:", 20));
            y += 30;
            // A block field wraps the message over up to four lines.
            z.push_str(&format!(
                "^FO50,{y}^A0N,24,24^FB720,4,0,L^FH^FD{}^FS\n",
                zpl::field_data(msg, 240)
            ));
            y += 110;
        }
        z.push_str("^XZ\n");
        Ok(z.into_bytes())
    }

    /// A US Letter slip for an office printer.
    pub fn pdf(&self) -> Result<Vec<u8>, SlipError> {
        let code = self.barcode()?;
        let (regular, heavy) = (REGULAR, BOLD);
        let mut c = Content::new();
        text(&mut c, heavy, 18.0, 54.0, 740.0, b"PACKING SLIP");
        if let Some(slot) = self.slot {
            text(
                &mut c,
                heavy,
                36.0,
                400.0,
                736.0,
                format!("SLOT {slot}").as_bytes(),
            );
        }
        text(&mut c, regular, 10.0, 54.0, 724.0, &win_ansi(self.from, 80));
        let modules = code.width_in_modules() as f32;
        let m = 1.2f32;
        let x0 = 612.0 - 54.0 - m * modules;
        bars(&mut c, &code, x0, 700.0, m, 50.0);
        text(
            &mut c,
            regular,
            10.0,
            x0,
            688.0,
            self.order.id.as_str().as_bytes(),
        );
        let mut y = 650.0;
        text(&mut c, heavy, 11.0, 54.0, y, b"Ship to:");
        for line in self.ship_to().iter().take(7) {
            y -= 14.0;
            text(&mut c, regular, 11.0, 72.0, y, &win_ansi(line, 70));
        }
        y -= 30.0;
        text(&mut c, heavy, 11.0, 54.0, y, b"Qty");
        text(&mut c, heavy, 11.0, 94.0, y, b"SKU");
        text(&mut c, heavy, 11.0, 234.0, y, b"Item");
        for l in self.order.lines.iter().take(30) {
            y -= 16.0;
            let qty = l.quantity_ordered.saturating_sub(l.quantity_shipped);
            text(&mut c, regular, 10.0, 54.0, y, qty.to_string().as_bytes());
            text(&mut c, regular, 10.0, 94.0, y, &win_ansi(&l.sku, 24));
            text(&mut c, regular, 10.0, 234.0, y, &win_ansi(&l.title, 60));
        }
        for msg in self.gift_messages().iter().take(3) {
            y -= 30.0;
            text(&mut c, heavy, 11.0, 54.0, y, b"Gift message:");
            for chunk in win_ansi(msg, 400).chunks(90).take(5) {
                y -= 14.0;
                text(&mut c, regular, 10.0, 72.0, y, chunk);
            }
        }
        Ok(document(612.0, 792.0, vec![c]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::order::tests_support::order_with;
    use crate::domain::recipient::GiftMessage;

    fn order() -> Order {
        let mut o = order_with("113-1234567-7654321", &[("MUG^FO~JA", 2)]);
        o.lines[0].title = "Mug_with ^XA^FO50,50^FDpwned^FS".into();
        o
    }

    #[test]
    fn data_can_never_add_a_zpl_command() {
        let o = order();
        let mut r = Recipient::named("Eve ^XA^FO0,0^GB800,800,800^FS~JA");
        r.gift_messages.push(GiftMessage {
            item_id: "1".into(),
            message: "Happy ~JA birthday ^XZ\n_".into(),
        });
        let z = String::from_utf8(
            Slip {
                order: &o,
                recipient: Some(&r),
                from: "Shop",
                slot: None,
            }
            .zpl()
            .unwrap(),
        )
        .unwrap();
        // One label, and only the commands the slip itself writes.
        assert_eq!(z.matches("^XA").count(), 1, "{z}");
        assert_eq!(z.matches("^XZ").count(), 1);
        assert!(!z.contains('~'), "{z}");
        assert!(z.contains("Eve _5EXA_5EFO0,0"), "{z}");
        assert!(z.contains("^BCN,110,Y,N,N,A^FD113-1234567-7654321^FS"));
        assert!(z.contains("Happy _7EJA birthday _5EXZ _5F"), "{z}");
    }

    #[test]
    fn the_pdf_is_a_pdf() {
        let o = order();
        let pdf = Slip {
            order: &o,
            recipient: None,
            from: "Shop",
            slot: Some(3),
        }
        .pdf()
        .unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        assert!(pdf.windows(12).any(|w| w == b"PACKING SLIP"));
        assert!(pdf.windows(6).any(|w| w == b"SLOT 3"));
    }
}
