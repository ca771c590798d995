//! Frozen records of the floor: pick batches, pack checks, an order's packages, the unit codes
//! recorded at the bench, holds. Format 2 of each is the layout schema 1 wrote without a format
//! byte (its newest shape), now behind one.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Error, Record, damaged};
use crate::domain::pack::PackLine;
use crate::domain::pick::{InHand, PickLine, Slot};
use crate::domain::{
    ClosedBox, CodeKind, OrderId, PackCheck, Package, PackageItem, Parcel, PickBatch, UnitCode,
};
use crate::store::RecordKind;
use crate::store::values::{ItemCodes, StoredHold, StoredText};

/// An order id as records keep it; read back checked.
pub(super) fn order_id(s: String, kind: RecordKind) -> Result<OrderId, Error> {
    OrderId::parse(&s).map_err(|e| damaged(kind, &format!("its order id: {e}")))
}

#[derive(Serialize, Deserialize)]
pub enum CodeKind2 {
    Serial,
    Transparency,
}

impl From<CodeKind> for CodeKind2 {
    fn from(k: CodeKind) -> Self {
        match k {
            CodeKind::Serial => CodeKind2::Serial,
            CodeKind::Transparency => CodeKind2::Transparency,
        }
    }
}

impl From<CodeKind2> for CodeKind {
    fn from(k: CodeKind2) -> Self {
        match k {
            CodeKind2::Serial => CodeKind::Serial,
            CodeKind2::Transparency => CodeKind::Transparency,
        }
    }
}

#[derive(Serialize, Deserialize)]
pub struct UnitCode2 {
    pub kind: CodeKind2,
    pub code: String,
}

impl UnitCode2 {
    fn of(c: &UnitCode) -> Self {
        UnitCode2 {
            kind: c.kind.into(),
            code: c.code.clone(),
        }
    }

    fn value(self) -> UnitCode {
        UnitCode {
            kind: self.kind.into(),
            code: self.code,
        }
    }
}

#[derive(Serialize, Deserialize)]
pub struct Parcel2 {
    pub box_name: String,
    pub dims_mm: [u32; 3],
    pub weight_g: u32,
}

impl Parcel2 {
    pub(super) fn of(p: &Parcel) -> Self {
        Parcel2 {
            box_name: p.box_name.clone(),
            dims_mm: p.dims_mm,
            weight_g: p.weight_g,
        }
    }

    pub(super) fn value(self) -> Parcel {
        Parcel {
            box_name: self.box_name,
            dims_mm: self.dims_mm,
            weight_g: self.weight_g,
        }
    }
}

/// A pick batch (format 2).
#[derive(Serialize, Deserialize)]
pub struct Batch2 {
    pub id: u64,
    pub holder: String,
    pub orders: Vec<String>,
    pub lines: Vec<PickLine2>,
    pub at_bin: Option<String>,
    pub slots: Vec<Slot2>,
    pub confirm_put: bool,
    pub in_hand: Option<InHand2>,
    pub tote_prefix: Option<String>,
}

#[derive(Serialize, Deserialize)]
pub struct PickLine2 {
    pub sku: String,
    pub asin: String,
    pub title: String,
    pub bin: Option<String>,
    pub barcodes: Vec<String>,
    pub needed: u32,
    pub picked: u32,
    pub orders: Vec<(String, u32)>,
    pub put: Vec<u32>,
}

#[derive(Serialize, Deserialize)]
pub struct Slot2 {
    pub order: String,
    pub slot: u32,
    pub tote: Option<String>,
}

#[derive(Serialize, Deserialize)]
pub struct InHand2 {
    pub sku: String,
    pub order: String,
    pub slot: u32,
}

impl Record for Batch2 {
    const KIND: RecordKind = RecordKind::Batch;
    const FORMAT: u8 = 2;
    type Value = PickBatch;

    fn from_value(b: &PickBatch) -> Self {
        Batch2 {
            id: b.id,
            holder: b.holder.clone(),
            orders: b.orders.iter().map(|o| o.to_string()).collect(),
            lines: b
                .lines
                .iter()
                .map(|l| PickLine2 {
                    sku: l.sku.clone(),
                    asin: l.asin.clone(),
                    title: l.title.clone(),
                    bin: l.bin.clone(),
                    barcodes: l.barcodes.clone(),
                    needed: l.needed,
                    picked: l.picked,
                    orders: l.orders.iter().map(|(o, q)| (o.to_string(), *q)).collect(),
                    put: l.put.clone(),
                })
                .collect(),
            at_bin: b.at_bin.clone(),
            slots: b
                .slots
                .iter()
                .map(|s| Slot2 {
                    order: s.order.to_string(),
                    slot: s.slot,
                    tote: s.tote.clone(),
                })
                .collect(),
            confirm_put: b.confirm_put,
            in_hand: b.in_hand.as_ref().map(|h| InHand2 {
                sku: h.sku.clone(),
                order: h.order.to_string(),
                slot: h.slot,
            }),
            tote_prefix: b.tote_prefix.clone(),
        }
    }

    fn into_value(self) -> Result<PickBatch, Error> {
        let id = |s: String| order_id(s, Self::KIND);
        Ok(PickBatch {
            id: self.id,
            holder: self.holder,
            orders: self.orders.into_iter().map(id).collect::<Result<_, _>>()?,
            lines: self
                .lines
                .into_iter()
                .map(|l| {
                    Ok(PickLine {
                        sku: l.sku,
                        asin: l.asin,
                        title: l.title,
                        bin: l.bin,
                        barcodes: l.barcodes,
                        needed: l.needed,
                        picked: l.picked,
                        orders: l
                            .orders
                            .into_iter()
                            .map(|(o, q)| Ok((id(o)?, q)))
                            .collect::<Result<_, Error>>()?,
                        put: l.put,
                    })
                })
                .collect::<Result<_, Error>>()?,
            at_bin: self.at_bin,
            slots: self
                .slots
                .into_iter()
                .map(|s| {
                    Ok(Slot {
                        order: id(s.order)?,
                        slot: s.slot,
                        tote: s.tote,
                    })
                })
                .collect::<Result<_, Error>>()?,
            confirm_put: self.confirm_put,
            in_hand: self
                .in_hand
                .map(|h| {
                    Ok::<_, Error>(InHand {
                        sku: h.sku,
                        order: id(h.order)?,
                        slot: h.slot,
                    })
                })
                .transpose()?,
            tote_prefix: self.tote_prefix,
        })
    }
}

/// A pack check (format 2).
#[derive(Serialize, Deserialize)]
pub struct Check2 {
    pub order: String,
    pub packer: String,
    pub lines: Vec<PackLine2>,
    pub awaiting: Option<(u64, CodeKind2)>,
    pub boxes: Vec<ClosedBox2>,
}

#[derive(Serialize, Deserialize)]
pub struct PackLine2 {
    pub sku: String,
    pub asin: String,
    pub title: String,
    pub barcodes: Vec<String>,
    pub needed: u32,
    pub scanned: u32,
    pub kinds: Vec<CodeKind2>,
    pub codes: Vec<UnitCode2>,
    pub gift_wrap: Option<String>,
}

#[derive(Serialize, Deserialize)]
pub struct ClosedBox2 {
    pub parcel: Parcel2,
    pub units: Vec<u32>,
}

impl Record for Check2 {
    const KIND: RecordKind = RecordKind::PackCheck;
    const FORMAT: u8 = 2;
    type Value = PackCheck;

    fn from_value(c: &PackCheck) -> Self {
        Check2 {
            order: c.order.to_string(),
            packer: c.packer.clone(),
            lines: c
                .lines
                .iter()
                .map(|l| PackLine2 {
                    sku: l.sku.clone(),
                    asin: l.asin.clone(),
                    title: l.title.clone(),
                    barcodes: l.barcodes.clone(),
                    needed: l.needed,
                    scanned: l.scanned,
                    kinds: l.kinds.iter().map(|k| (*k).into()).collect(),
                    codes: l.codes.iter().map(UnitCode2::of).collect(),
                    gift_wrap: l.gift_wrap.clone(),
                })
                .collect(),
            awaiting: c.awaiting.map(|(line, k)| (line as u64, k.into())),
            boxes: c
                .boxes
                .iter()
                .map(|b| ClosedBox2 {
                    parcel: Parcel2::of(&b.parcel),
                    units: b.units.clone(),
                })
                .collect(),
        }
    }

    fn into_value(self) -> Result<PackCheck, Error> {
        let awaiting = match self.awaiting {
            Some((line, k)) => Some((
                usize::try_from(line).map_err(|_| damaged(Self::KIND, "its awaited line"))?,
                k.into(),
            )),
            None => None,
        };
        Ok(PackCheck {
            order: order_id(self.order, Self::KIND)?,
            packer: self.packer,
            lines: self
                .lines
                .into_iter()
                .map(|l| PackLine {
                    sku: l.sku,
                    asin: l.asin,
                    title: l.title,
                    barcodes: l.barcodes,
                    needed: l.needed,
                    scanned: l.scanned,
                    kinds: l.kinds.into_iter().map(Into::into).collect(),
                    codes: l.codes.into_iter().map(UnitCode2::value).collect(),
                    gift_wrap: l.gift_wrap,
                })
                .collect(),
            awaiting,
            boxes: self
                .boxes
                .into_iter()
                .map(|b| ClosedBox {
                    parcel: b.parcel.value(),
                    units: b.units,
                })
                .collect(),
        })
    }
}

/// An order's packages (format 2), in number order.
#[derive(Serialize, Deserialize)]
pub struct Packages2(pub Vec<Package2>);

#[derive(Serialize, Deserialize)]
pub struct Package2 {
    pub number: u32,
    pub parcel: Parcel2,
    pub items: Vec<PackageItem2>,
    pub shipped: bool,
}

#[derive(Serialize, Deserialize)]
pub struct PackageItem2 {
    pub item_id: String,
    pub sku: String,
    pub quantity: u32,
    pub codes: Vec<UnitCode2>,
}

impl Record for Packages2 {
    const KIND: RecordKind = RecordKind::Packages;
    const FORMAT: u8 = 2;
    type Value = Vec<Package>;

    fn from_value(all: &Vec<Package>) -> Self {
        Packages2(
            all.iter()
                .map(|p| Package2 {
                    number: p.number,
                    parcel: Parcel2::of(&p.parcel),
                    items: p
                        .items
                        .iter()
                        .map(|i| PackageItem2 {
                            item_id: i.item_id.clone(),
                            sku: i.sku.clone(),
                            quantity: i.quantity,
                            codes: i.codes.iter().map(UnitCode2::of).collect(),
                        })
                        .collect(),
                    shipped: p.shipped,
                })
                .collect(),
        )
    }

    fn into_value(self) -> Result<Vec<Package>, Error> {
        Ok(self
            .0
            .into_iter()
            .map(|p| Package {
                number: p.number,
                parcel: p.parcel.value(),
                items: p
                    .items
                    .into_iter()
                    .map(|i| PackageItem {
                        item_id: i.item_id,
                        sku: i.sku,
                        quantity: i.quantity,
                        codes: i.codes.into_iter().map(UnitCode2::value).collect(),
                    })
                    .collect(),
                shipped: p.shipped,
            })
            .collect())
    }
}

/// The unit codes recorded for an order's items (format 2).
#[derive(Serialize, Deserialize)]
pub struct ItemCodes2(pub Vec<ItemCode2>);

#[derive(Serialize, Deserialize)]
pub struct ItemCode2 {
    pub item_id: String,
    pub kind: CodeKind2,
    pub codes: Vec<String>,
}

impl Record for ItemCodes2 {
    const KIND: RecordKind = RecordKind::UnitCodes;
    const FORMAT: u8 = 2;
    type Value = Vec<ItemCodes>;

    fn from_value(all: &Vec<ItemCodes>) -> Self {
        ItemCodes2(
            all.iter()
                .map(|c| ItemCode2 {
                    item_id: c.item_id.clone(),
                    kind: c.kind.into(),
                    codes: c.codes.clone(),
                })
                .collect(),
        )
    }

    fn into_value(self) -> Result<Vec<ItemCodes>, Error> {
        Ok(self
            .0
            .into_iter()
            .map(|c| ItemCodes {
                item_id: c.item_id,
                kind: c.kind.into(),
                codes: c.codes,
            })
            .collect())
    }
}

/// Words as records keep them: packline's own, or the reference of sealed ones.
#[derive(Serialize, Deserialize)]
pub enum Text2 {
    System(String),
    Sealed(String),
}

impl Text2 {
    pub(crate) fn of(t: &StoredText) -> Self {
        match t {
            StoredText::System(s) => Text2::System(s.clone()),
            StoredText::Sealed(r) => Text2::Sealed(r.clone()),
        }
    }

    pub(crate) fn value(self) -> StoredText {
        match self {
            Text2::System(s) => StoredText::System(s),
            Text2::Sealed(r) => StoredText::Sealed(r),
        }
    }
}

/// A hold (format 2): who, since when, and its reason sealed.
#[derive(Serialize, Deserialize)]
pub struct Hold2 {
    pub by: String,
    pub since: DateTime<Utc>,
    pub reason: Text2,
}

impl Record for Hold2 {
    const KIND: RecordKind = RecordKind::Hold;
    const FORMAT: u8 = 2;
    type Value = StoredHold;

    fn from_value(h: &StoredHold) -> Self {
        Hold2 {
            by: h.by.clone(),
            since: h.since,
            reason: Text2::of(&h.reason),
        }
    }

    fn into_value(self) -> Result<StoredHold, Error> {
        Ok(StoredHold {
            by: self.by,
            since: self.since,
            reason: self.reason.value(),
        })
    }
}
