//! Layouts of schema 1 older than its newest, which it read by trial: frozen here for the
//! upgrade from schema 1 only, each converted to the format-2 record of its kind.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::floor::{
    Batch2, Check2, CodeKind2, ItemCodes2, PackLine2, Package2, PackageItem2, Packages2, Parcel2,
    PickLine2, Slot2, UnitCode2,
};
use super::order::{Line2, Order2, OrderRecord2, ServiceLevel2, State2, UnitCodes2, Window2};
use super::shipping::{Carrier2, Shipment2, ShipmentState2};

/// A pack check before boxes.
#[derive(Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
pub struct CheckOneBox {
    pub order: String,
    pub packer: String,
    pub lines: Vec<PackLine2>,
    pub awaiting: Option<(u64, CodeKind2)>,
}

impl From<CheckOneBox> for Check2 {
    fn from(c: CheckOneBox) -> Check2 {
        Check2 {
            order: c.order,
            packer: c.packer,
            lines: c.lines,
            awaiting: c.awaiting,
            boxes: Vec::new(),
        }
    }
}

/// A pack check before per-unit codes.
#[derive(Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
pub struct Check {
    pub order: String,
    pub packer: String,
    pub lines: Vec<CheckLine>,
}

#[derive(Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
pub struct CheckLine {
    pub sku: String,
    pub asin: String,
    pub title: String,
    pub barcodes: Vec<String>,
    pub needed: u32,
    pub scanned: u32,
}

impl From<Check> for Check2 {
    fn from(c: Check) -> Check2 {
        Check2 {
            order: c.order,
            packer: c.packer,
            lines: c
                .lines
                .into_iter()
                .map(|l| PackLine2 {
                    sku: l.sku,
                    asin: l.asin,
                    title: l.title,
                    barcodes: l.barcodes,
                    needed: l.needed,
                    scanned: l.scanned,
                    kinds: Vec::new(),
                    codes: Vec::new(),
                    gift_wrap: None,
                })
                .collect(),
            awaiting: None,
            boxes: Vec::new(),
        }
    }
}

/// A pick batch before cart slots: its picked units are taken as put to its orders in
/// ship-by order.
#[derive(Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
pub struct Batch {
    pub id: u64,
    pub holder: String,
    pub orders: Vec<String>,
    pub lines: Vec<Line>,
    pub at_bin: Option<String>,
}

#[derive(Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
pub struct Line {
    pub sku: String,
    pub asin: String,
    pub title: String,
    pub bin: Option<String>,
    pub barcodes: Vec<String>,
    pub needed: u32,
    pub picked: u32,
    pub orders: Vec<(String, u32)>,
}

impl From<Batch> for Batch2 {
    fn from(b: Batch) -> Batch2 {
        let lines = b
            .lines
            .into_iter()
            .map(|l| {
                let mut left = l.picked;
                let put = l
                    .orders
                    .iter()
                    .map(|(_, q)| {
                        let n = left.min(*q);
                        left -= n;
                        n
                    })
                    .collect();
                PickLine2 {
                    sku: l.sku,
                    asin: l.asin,
                    title: l.title,
                    bin: l.bin,
                    barcodes: l.barcodes,
                    needed: l.needed,
                    picked: l.picked,
                    orders: l.orders,
                    put,
                }
            })
            .collect();
        Batch2 {
            id: b.id,
            holder: b.holder,
            slots: b
                .orders
                .iter()
                .zip(1..)
                .map(|(o, slot)| Slot2 {
                    order: o.clone(),
                    slot,
                    tote: None,
                })
                .collect(),
            orders: b.orders,
            lines,
            at_bin: b.at_bin,
            confirm_put: false,
            in_hand: None,
            tote_prefix: None,
        }
    }
}

/// A shipment record before packages (it is package 1's).
#[derive(Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
pub struct Shipment {
    pub order: String,
    pub state: ShipmentState2,
    pub carrier: Option<Carrier2>,
    pub tracking: Option<String>,
    pub shipment_id: Option<String>,
    pub service_id: Option<String>,
    pub service_name: Option<String>,
    pub label_format: Option<String>,
    pub at: DateTime<Utc>,
    pub by: String,
}

impl From<Shipment> for Shipment2 {
    fn from(s: Shipment) -> Shipment2 {
        Shipment2 {
            order: s.order,
            state: s.state,
            carrier: s.carrier,
            tracking: s.tracking,
            shipment_id: s.shipment_id,
            service_id: s.service_id,
            service_name: s.service_name,
            label_format: s.label_format,
            at: s.at,
            by: s.by,
            package: 1,
        }
    }
}

/// An order record of format 1 (before per-unit codes and gift wrap): format 2 with no
/// codes asked and no wrap, what was known of it then.
#[derive(Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
pub struct Order1 {
    pub order: Ord1,
    pub state: State2,
    pub state_since: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub recipient_mask: Option<String>,
    pub recipient_purged: bool,
}

#[derive(Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
pub struct Ord1 {
    pub id: String,
    pub marketplace_id: Option<String>,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    pub ship_by: Window2,
    pub deliver_by: Window2,
    pub service_level: ServiceLevel2,
    pub prime: bool,
    pub business: bool,
    pub lines: Vec<Line1>,
}

#[derive(Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
pub struct Line1 {
    pub item_id: String,
    pub sku: String,
    pub asin: String,
    pub title: String,
    pub quantity_ordered: u32,
    pub quantity_shipped: u32,
}

impl From<Order1> for OrderRecord2 {
    fn from(r: Order1) -> OrderRecord2 {
        let o = r.order;
        OrderRecord2 {
            order: Order2 {
                id: o.id,
                marketplace_id: o.marketplace_id,
                created: o.created,
                updated: o.updated,
                ship_by: o.ship_by,
                deliver_by: o.deliver_by,
                service_level: o.service_level,
                prime: o.prime,
                business: o.business,
                lines: o
                    .lines
                    .into_iter()
                    .map(|l| Line2 {
                        item_id: l.item_id,
                        sku: l.sku,
                        asin: l.asin,
                        title: l.title,
                        quantity_ordered: l.quantity_ordered,
                        quantity_shipped: l.quantity_shipped,
                        unit_codes: UnitCodes2 {
                            serial: false,
                            transparency: false,
                        },
                        gift_wrap: None,
                    })
                    .collect(),
            },
            state: r.state,
            state_since: r.state_since,
            closed_at: r.closed_at,
            recipient_mask: r.recipient_mask,
            recipient_purged: r.recipient_purged,
        }
    }
}

/// The packages of an order packed before boxes: its one parcel holds every unit left to
/// ship, with the codes recorded for them.
pub fn parcel_packages(
    parcel: Parcel2,
    order: &crate::domain::Order,
    codes: ItemCodes2,
) -> Packages2 {
    let items = order
        .lines
        .iter()
        .filter(|l| l.quantity_ordered > l.quantity_shipped)
        .map(|l| PackageItem2 {
            item_id: l.item_id.clone(),
            sku: l.sku.clone(),
            quantity: l.quantity_ordered - l.quantity_shipped,
            codes: codes
                .0
                .iter()
                .filter(|c| c.item_id == l.item_id)
                .flat_map(|c| {
                    c.codes.iter().map(|code| UnitCode2 {
                        kind: match c.kind {
                            CodeKind2::Serial => CodeKind2::Serial,
                            CodeKind2::Transparency => CodeKind2::Transparency,
                        },
                        code: code.clone(),
                    })
                })
                .collect(),
        })
        .collect();
    Packages2(vec![Package2 {
        number: 1,
        parcel,
        items,
        shipped: false,
    }])
}
