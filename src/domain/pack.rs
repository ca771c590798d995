//! Packing: every unit of an order is scanned against it before the box closes, so a wrong or
//! extra item is caught at the bench. An order may go in several boxes: the packer closes one
//! (its preset and weight) and goes on scanning into the next. At the end each box is a
//! `Package` with the order items and unit codes in it, so each gets its own label and its own
//! package at Amazon. Pure.

use serde::{Deserialize, Serialize};

use super::order::{CodeKind, Order, OrderId};
use super::pick::{Locations, code_matches};
use super::text::is_hazard;

/// One SKU of the order being packed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PackLine {
    pub sku: String,
    pub asin: String,
    pub title: String,
    pub barcodes: Vec<String>,
    pub needed: u32,
    pub scanned: u32,
    /// The codes each unit needs after its scan (serial number, Transparency code), in order.
    pub kinds: Vec<CodeKind>,
    /// The codes recorded so far, unit by unit.
    pub codes: Vec<UnitCode>,
    /// The buyer's gift wrap (Amazon's level), if any.
    pub gift_wrap: Option<String>,
}

/// A code recorded for one unit.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UnitCode {
    pub kind: CodeKind,
    pub code: String,
}

/// The check of one order at the pack bench.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PackCheck {
    pub order: OrderId,
    /// Who is packing it: one bench per order.
    pub packer: String,
    pub lines: Vec<PackLine>,
    /// A unit scanned whose code is asked for next: (line, kind).
    pub awaiting: Option<(usize, CodeKind)>,
    /// Boxes closed so far, in order; the units scanned and in none of them are in the open box.
    pub boxes: Vec<ClosedBox>,
}

/// A box closed at the bench: its preset and weight, and how many units of each line of the
/// check are in it (parallel to `PackCheck::lines`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ClosedBox {
    pub parcel: Parcel,
    pub units: Vec<u32>,
}

/// The most boxes one order is packed in.
pub const MAX_BOXES: usize = 50;

/// One box of an order as it leaves: a label and an Amazon package of its own.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    /// 1, 2, … within the order: the package reference Amazon is given.
    pub number: u32,
    pub parcel: Parcel,
    pub items: Vec<PackageItem>,
    /// Left the building on an earlier (partial) shipment of the order.
    pub shipped: bool,
}

/// Units of one order item in a package, with the codes recorded for them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageItem {
    pub item_id: String,
    pub sku: String,
    pub quantity: u32,
    pub codes: Vec<UnitCode>,
}

impl PackageItem {
    /// The unit codes of one kind, in unit order.
    pub fn codes_of(&self, kind: CodeKind) -> Vec<String> {
        self.codes
            .iter()
            .filter(|c| c.kind == kind)
            .map(|c| c.code.clone())
            .collect()
    }
}

impl Package {
    pub fn units(&self) -> u32 {
        self.items.iter().map(|i| i.quantity).sum()
    }
}

/// The longest per-unit code taken: real serials and Transparency codes are a few dozen.
pub const MAX_UNIT_CODE: usize = 100;

/// A Transparency code from what a scanner gave, in Amazon's shape: `AZ:` or `ZA:` and 26
/// letters or digits (29 characters), or a serialized GTIN of 38 (`01`, the 14-digit GTIN,
/// `21`, a 20-character serial; GS1 parentheses dropped). A scanned URL gives the code it
/// carries (`…AZ%3A…`, or a GS1 Digital Link `…/01/GTIN/21/SERIAL`). None when it has neither
/// shape.
pub fn transparency_code(scanned: &str) -> Option<String> {
    let t = scanned.trim();
    let lower = t.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") || t.contains("://") {
        let url = t.replace("%3A", ":").replace("%3a", ":");
        for prefix in ["AZ:", "ZA:"] {
            let mut from = 0;
            while let Some(at) = url[from..].find(prefix) {
                let start = from + at;
                let code: String = url[start..].chars().take(29).collect();
                if is_az(&code) {
                    return Some(code);
                }
                from = start + prefix.len();
            }
        }
        // A GS1 Digital Link: the GTIN after /01/, the serial after /21/.
        let path = url.split(['?', '#']).next().unwrap_or("");
        let parts: Vec<&str> = path.split('/').collect();
        for w in parts.windows(4) {
            if w[0] == "01" && w[2] == "21" {
                let code = format!("01{}21{}", w[1], w[3]);
                if is_gtin(&code) {
                    return Some(code);
                }
            }
        }
        return None;
    }
    if is_az(t) {
        return Some(t.to_owned());
    }
    let gs1: String = t.chars().filter(|c| *c != '(' && *c != ')').collect();
    is_gtin(&gs1).then_some(gs1)
}

/// `AZ:`/`ZA:` and 26 letters or digits.
fn is_az(code: &str) -> bool {
    code.len() == 29
        && (code.starts_with("AZ:") || code.starts_with("ZA:"))
        && code[3..].bytes().all(|b| b.is_ascii_alphanumeric())
}

/// `01`, 14 digits, `21`, 20 letters or digits: 38 characters.
fn is_gtin(code: &str) -> bool {
    let b = code.as_bytes();
    b.len() == 38
        && b.starts_with(b"01")
        && b[2..16].iter().all(u8::is_ascii_digit)
        && &b[16..18] == b"21"
        && b[18..].iter().all(u8::is_ascii_alphanumeric)
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
    #[error("scan the {} of the {sku} just scanned first", kind.name())]
    CodeFirst { kind: CodeKind, sku: String },
    #[error("duplicate {}: {code:?} is already recorded for order {order}", kind.name())]
    DuplicateCode {
        kind: CodeKind,
        code: String,
        order: OrderId,
    },
    #[error("{} {code:?} is not one: it must be 1–{MAX_UNIT_CODE} printable characters", kind.name())]
    BadCode { kind: CodeKind, code: String },
    #[error(
        "{code:?} is not a Transparency code: one is 29 characters starting AZ: or ZA:, or a 38-character serialized GTIN (01, the 14-digit GTIN, 21, a 20-character serial); scan the code on the unit's Transparency label"
    )]
    NotTransparency { code: String },
    #[error("no code is asked for now: scan a unit")]
    NoCodeAsked,
    #[error("the open box is empty: scan a unit into it before closing it")]
    EmptyBox,
    #[error("order {order} is in {MAX_BOXES} boxes already: finish it")]
    TooManyBoxes { order: OrderId },
}

/// What a good scan did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PackStep {
    /// A unit counted: line index and its new count.
    Unit { line: usize, scanned: u32 },
    /// A unit's code recorded.
    Code { line: usize, kind: CodeKind },
}

/// The box and weight an order leaves in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
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
                Some(x) => {
                    x.needed = x.needed.saturating_add(qty);
                    // One SKU, one rule: the strictest of its items.
                    for k in l.unit_codes.kinds() {
                        if !x.kinds.contains(&k) {
                            x.kinds.push(k);
                        }
                    }
                    x.kinds.sort_by_key(|k| *k as u8);
                    if x.gift_wrap.is_none() {
                        x.gift_wrap.clone_from(&l.gift_wrap);
                    }
                }
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
                    kinds: l.unit_codes.kinds(),
                    codes: Vec::new(),
                    gift_wrap: l.gift_wrap.clone(),
                }),
            }
        }
        PackCheck {
            order: order.id.clone(),
            packer: packer.to_owned(),
            lines,
            awaiting: None,
            boxes: Vec::new(),
        }
    }

    /// Units of line `i` in closed boxes.
    pub fn boxed(&self, i: usize) -> u32 {
        self.boxes
            .iter()
            .map(|b| b.units.get(i).copied().unwrap_or(0))
            .sum()
    }

    /// Units scanned into the open box.
    pub fn open_units(&self) -> u32 {
        (0..self.lines.len())
            .map(|i| self.lines[i].scanned.saturating_sub(self.boxed(i)))
            .sum()
    }

    /// Closes the open box with its preset and weight; the next units go into a new one.
    /// Refused while a unit's code is asked for, or when the open box is empty.
    pub fn close_box(&mut self, parcel: Parcel) -> Result<usize, PackRefusal> {
        if let Some((i, kind)) = self.awaiting {
            return Err(PackRefusal::CodeFirst {
                kind,
                sku: self.lines[i].sku.clone(),
            });
        }
        if self.open_units() == 0 {
            return Err(PackRefusal::EmptyBox);
        }
        if self.boxes.len() >= MAX_BOXES {
            return Err(PackRefusal::TooManyBoxes {
                order: self.order.clone(),
            });
        }
        let units = (0..self.lines.len())
            .map(|i| self.lines[i].scanned.saturating_sub(self.boxed(i)))
            .collect();
        self.boxes.push(ClosedBox { parcel, units });
        Ok(self.boxes.len())
    }

    /// The order's packages from its closed boxes, numbered from `first`: each line's units
    /// go to the order's items of that SKU in order (as many to each as it has to ship), and
    /// each unit's codes go with it.
    pub fn packages(&self, order: &Order, first: u32) -> Vec<Package> {
        let mut taken = vec![0u32; self.lines.len()];
        let mut out = Vec::with_capacity(self.boxes.len());
        for (b, number) in self.boxes.iter().zip(first..) {
            let mut items: Vec<PackageItem> = Vec::new();
            for (i, line) in self.lines.iter().enumerate() {
                let n = b.units.get(i).copied().unwrap_or(0);
                let start = taken[i];
                taken[i] += n;
                let kinds = line.kinds.len();
                // Units start..start+n of this line; unit u's codes are codes[u*kinds..].
                let mut at = 0u32;
                for item in order.lines.iter().filter(|l| l.sku == line.sku) {
                    let qty = item.quantity_ordered.saturating_sub(item.quantity_shipped);
                    let (lo, hi) = (at.max(start), (at + qty).min(start + n));
                    at += qty;
                    if lo >= hi {
                        continue;
                    }
                    let codes = line
                        .codes
                        .iter()
                        .skip(lo as usize * kinds)
                        .take((hi - lo) as usize * kinds)
                        .cloned()
                        .collect();
                    items.push(PackageItem {
                        item_id: item.item_id.clone(),
                        sku: line.sku.clone(),
                        quantity: hi - lo,
                        codes,
                    });
                }
            }
            out.push(Package {
                number,
                parcel: b.parcel.clone(),
                items,
                shipped: false,
            });
        }
        out
    }

    /// A scan at the bench: the unit's code when one is asked for, else a unit. Refused scans
    /// change nothing.
    pub fn scan(&mut self, code: &str) -> Result<PackStep, PackRefusal> {
        if self.awaiting.is_some() {
            return self.record_code(code);
        }
        self.scan_unit(code)
    }

    /// Records the code asked for (`pack scan ORDER SKU --code CODE`).
    pub fn record_code(&mut self, code: &str) -> Result<PackStep, PackRefusal> {
        let Some((i, kind)) = self.awaiting else {
            return Err(PackRefusal::NoCodeAsked);
        };
        let code = code.trim();
        // A unit of the order scanned again instead of its code: the packer moved on too soon.
        if self
            .lines
            .iter()
            .any(|l| code_matches(code, &l.sku, &l.asin, &l.barcodes))
        {
            return Err(PackRefusal::CodeFirst {
                kind,
                sku: self.lines[i].sku.clone(),
            });
        }
        if code.is_empty() || code.chars().count() > MAX_UNIT_CODE || code.chars().any(is_hazard) {
            return Err(PackRefusal::BadCode {
                kind,
                code: code.chars().filter(|c| !is_hazard(*c)).take(40).collect(),
            });
        }
        // A Transparency code has Amazon's shape (a scanner may give it inside a URL).
        let taken;
        let code = match kind {
            CodeKind::Transparency => {
                taken = transparency_code(code).ok_or_else(|| PackRefusal::NotTransparency {
                    code: code.chars().take(40).collect(),
                })?;
                taken.as_str()
            }
            CodeKind::Serial => code,
        };
        if self
            .lines
            .iter()
            .flat_map(|l| &l.codes)
            .any(|c| c.kind == kind && c.code == code)
        {
            return Err(PackRefusal::DuplicateCode {
                kind,
                code: code.to_owned(),
                order: self.order.clone(),
            });
        }
        let line = &mut self.lines[i];
        line.codes.push(UnitCode {
            kind,
            code: code.to_owned(),
        });
        let at = line.kinds.iter().position(|k| *k == kind).unwrap_or(0);
        self.awaiting = line.kinds.get(at + 1).map(|k| (i, *k));
        Ok(PackStep::Code { line: i, kind })
    }

    /// Counts one unit in, or refuses it.
    fn scan_unit(&mut self, code: &str) -> Result<PackStep, PackRefusal> {
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
        self.awaiting = l.kinds.first().map(|k| (i, *k));
        Ok(PackStep::Unit {
            line: i,
            scanned: l.scanned,
        })
    }

    /// Every unit scanned, and every code asked for recorded.
    pub fn is_complete(&self) -> bool {
        self.awaiting.is_none()
            && self.lines.iter().all(|l| l.scanned >= l.needed)
            && self.codes_left() == 0
    }

    /// Codes still to record for the units scanned and to come.
    pub fn codes_left(&self) -> u32 {
        self.lines
            .iter()
            .map(|l| {
                let asked = l.needed as usize * l.kinds.len();
                asked.saturating_sub(l.codes.len()) as u32
            })
            .sum()
    }

    /// Codes still to record for the units scanned so far (a partial shipment needs those).
    pub fn codes_left_scanned(&self) -> u32 {
        self.lines
            .iter()
            .map(|l| (l.scanned as usize * l.kinds.len()).saturating_sub(l.codes.len()) as u32)
            .sum()
    }

    /// The buyer's gift wrap on any line, if any.
    pub fn gift_wrap(&self) -> Option<&str> {
        self.lines.iter().find_map(|l| l.gift_wrap.as_deref())
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
        assert_eq!(
            c.scan("MUG"),
            Ok(PackStep::Unit {
                line: 0,
                scanned: 1
            })
        );
        assert!(matches!(c.scan("SOCK"), Err(PackRefusal::WrongItem { .. })));
        assert_eq!(
            c.scan("tee"),
            Ok(PackStep::Unit {
                line: 1,
                scanned: 1
            })
        );
        assert!(matches!(
            c.scan("TEE"),
            Err(PackRefusal::Extra { needed: 1, .. })
        ));
        assert!(!c.is_complete());
        assert_eq!(
            c.scan("MUG"),
            Ok(PackStep::Unit {
                line: 0,
                scanned: 2
            })
        );
        assert!(c.is_complete());
        assert_eq!(c.units_left(), 0);
    }

    const TP1: &str = "AZ:ABCDEFGHIJKLMNOPQRSTUVWX01";

    #[test]
    fn transparency_codes_have_amazons_shape() {
        let gtin = "0100012345678905211234567890ABCDEFGHIJ";
        assert_eq!(gtin.len(), 38);
        for (scanned, taken) in [
            (TP1, Some(TP1)),
            (
                "ZA:ABCDEFGHIJKLMNOPQRSTUVWX01",
                Some("ZA:ABCDEFGHIJKLMNOPQRSTUVWX01"),
            ),
            (gtin, Some(gtin)),
            ("(01)00012345678905(21)1234567890ABCDEFGHIJ", Some(gtin)),
            (
                "https://id.gs1.org/01/00012345678905/21/1234567890ABCDEFGHIJ?x=y",
                Some(gtin),
            ),
            (
                "https://tr.example/AZ:ABCDEFGHIJKLMNOPQRSTUVWX01",
                Some(TP1),
            ),
            ("AZ:ABCDEFGHIJKLMNOPQRSTUVWX0", None),
            ("AZ:ABCDEFGHIJKLMNOPQRSTUVWX012", None),
            ("XY:ABCDEFGHIJKLMNOPQRSTUVWX01", None),
            ("AZ:ABCDEFGHIJKLMNOPQRSTUVW-01", None),
            ("0200012345678905211234567890ABCDEFGHIJ", None),
            ("https://example.com/nothing-here", None),
            ("SN-1", None),
        ] {
            assert_eq!(transparency_code(scanned).as_deref(), taken, "{scanned}");
        }
    }

    /// A serial-required Transparency item asks both codes after each unit; a unit scanned
    /// instead of a code, a duplicate and an empty code are refused, and the check completes
    /// only with every code.
    #[test]
    fn each_unit_of_a_coded_line_takes_its_codes() {
        let mut o = order_with("111-0000001-0000001", &[("CAM", 2), ("TEE", 1)]);
        o.lines[0].unit_codes = crate::domain::UnitCodes {
            serial: true,
            transparency: true,
        };
        let mut c = PackCheck::new(&o, "ann", &Locations::default());
        assert_eq!(c.codes_left(), 4);
        c.scan("CAM").unwrap();
        assert_eq!(c.awaiting, Some((0, CodeKind::Serial)));
        assert_eq!(
            c.scan("TEE"),
            Err(PackRefusal::CodeFirst {
                kind: CodeKind::Serial,
                sku: "CAM".into()
            })
        );
        assert!(matches!(c.scan("  "), Err(PackRefusal::BadCode { .. })));
        assert_eq!(
            c.scan("SN-1"),
            Ok(PackStep::Code {
                line: 0,
                kind: CodeKind::Serial
            })
        );
        assert_eq!(c.awaiting, Some((0, CodeKind::Transparency)));
        c.scan(TP1).unwrap();
        assert_eq!(c.awaiting, None);
        c.scan("CAM").unwrap();
        assert!(matches!(
            c.scan("SN-1"),
            Err(PackRefusal::DuplicateCode {
                kind: CodeKind::Serial,
                ..
            })
        ));
        c.scan("SN-2").unwrap();
        c.scan("TEE").ok();
        assert!(!c.is_complete(), "one Transparency code is still missing");
        assert_eq!(c.codes_left(), 1);
        // The same characters may be a serial of one unit and not a Transparency code of another.
        assert!(matches!(
            c.scan(TP1),
            Err(PackRefusal::DuplicateCode { .. })
        ));
        // Not Amazon's shape: refused, saying what one looks like.
        assert_eq!(
            c.scan("AZ:TP2").unwrap_err().to_string(),
            "\"AZ:TP2\" is not a Transparency code: one is 29 characters starting AZ: or ZA:, or a 38-character serialized GTIN (01, the 14-digit GTIN, 21, a 20-character serial); scan the code on the unit's Transparency label"
        );
        // The code inside a scanned URL is the one taken.
        c.scan("https://tr.amazon.com/code?c=AZ%3AABCDEFGHIJKLMNOPQRSTUVWX02&x=1")
            .unwrap();
        assert_eq!(
            c.lines[0].codes.last().map(|u| u.code.as_str()),
            Some("AZ:ABCDEFGHIJKLMNOPQRSTUVWX02")
        );
        c.scan("TEE").unwrap();
        assert!(c.is_complete());
        assert_eq!(c.record_code("x"), Err(PackRefusal::NoCodeAsked));
    }

    fn parcel(name: &str, g: u32) -> Parcel {
        Parcel {
            box_name: name.into(),
            dims_mm: [100, 100, 100],
            weight_g: g,
        }
    }

    /// Two boxes: the units of a SKU split over two order items and two boxes go to the right
    /// item in each, with their own codes; an empty box and a box while a code is asked are
    /// refused.
    #[test]
    fn boxes_become_packages_with_their_units_and_codes() {
        let mut o = order_with("111-0000001-0000001", &[("CAM", 2), ("CAM", 1), ("TEE", 2)]);
        o.lines[0].unit_codes.transparency = true;
        o.lines[1].unit_codes.transparency = true;
        let mut c = PackCheck::new(&o, "ann", &Locations::default());
        assert_eq!(c.lines.len(), 2, "one line per SKU");
        assert_eq!(c.close_box(parcel("S", 1)), Err(PackRefusal::EmptyBox));
        c.scan("CAM").unwrap();
        assert!(matches!(
            c.close_box(parcel("S", 1)),
            Err(PackRefusal::CodeFirst { .. })
        ));
        c.scan("AZ:000000000000000000000000T1").unwrap();
        c.scan("CAM").unwrap();
        c.scan("AZ:000000000000000000000000T2").unwrap();
        c.scan("TEE").unwrap();
        assert_eq!(c.open_units(), 3);
        assert_eq!(c.close_box(parcel("M", 900)), Ok(1));
        assert_eq!(c.open_units(), 0);
        assert_eq!(c.boxed(0), 2);
        c.scan("CAM").unwrap();
        c.scan("AZ:000000000000000000000000T3").unwrap();
        c.scan("TEE").unwrap();
        assert!(c.is_complete());
        assert_eq!(c.close_box(parcel("S", 400)), Ok(2));
        let p = c.packages(&o, 1);
        assert_eq!(p.len(), 2);
        assert_eq!((p[0].number, p[1].number), (1, 2));
        assert_eq!(p[0].parcel.weight_g, 900);
        let items = |k: &Package| -> Vec<(String, u32, Vec<String>)> {
            k.items
                .iter()
                .map(|i| {
                    (
                        i.item_id.clone(),
                        i.quantity,
                        i.codes_of(CodeKind::Transparency),
                    )
                })
                .collect()
        };
        let (a, b, t) = (
            o.lines[0].item_id.clone(),
            o.lines[1].item_id.clone(),
            o.lines[2].item_id.clone(),
        );
        assert_eq!(
            items(&p[0]),
            vec![
                (
                    a,
                    2,
                    vec![
                        "AZ:000000000000000000000000T1".to_owned(),
                        "AZ:000000000000000000000000T2".to_owned()
                    ]
                ),
                (t.clone(), 1, vec![])
            ]
        );
        assert_eq!(
            items(&p[1]),
            vec![
                (b, 1, vec!["AZ:000000000000000000000000T3".to_owned()]),
                (t, 1, vec![])
            ]
        );
        // Every unit of the order is in exactly one package.
        let total: u32 = p.iter().map(Package::units).sum();
        assert_eq!(total, 5);
    }
}
