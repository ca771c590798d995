//! The frozen order record: what packline keeps of an Amazon order (no personal data: the
//! recipient is sealed apart). Format 2 added each line's per-unit codes and gift wrap; format
//! 1 is read by the upgrade from schema 1 only.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::floor::order_id;
use super::{Error, Record};
use crate::domain::{Order, OrderLine, OrderRecord, OrderState, ServiceLevel, UnitCodes, Window};
use crate::store::RecordKind;

#[derive(Serialize, Deserialize)]
pub struct Window2 {
    pub earliest: Option<DateTime<Utc>>,
    pub latest: Option<DateTime<Utc>>,
}

impl Window2 {
    pub(super) fn of(w: &Window) -> Self {
        Window2 {
            earliest: w.earliest,
            latest: w.latest,
        }
    }

    pub(super) fn value(self) -> Window {
        Window {
            earliest: self.earliest,
            latest: self.latest,
        }
    }
}

#[derive(Serialize, Deserialize)]
pub enum ServiceLevel2 {
    SameDay,
    NextDay,
    SecondDay,
    Expedited,
    Priority,
    Scheduled,
    Standard,
    FreeEconomy,
    Other,
}

impl ServiceLevel2 {
    pub(super) fn of(s: ServiceLevel) -> Self {
        match s {
            ServiceLevel::SameDay => ServiceLevel2::SameDay,
            ServiceLevel::NextDay => ServiceLevel2::NextDay,
            ServiceLevel::SecondDay => ServiceLevel2::SecondDay,
            ServiceLevel::Expedited => ServiceLevel2::Expedited,
            ServiceLevel::Priority => ServiceLevel2::Priority,
            ServiceLevel::Scheduled => ServiceLevel2::Scheduled,
            ServiceLevel::Standard => ServiceLevel2::Standard,
            ServiceLevel::FreeEconomy => ServiceLevel2::FreeEconomy,
            ServiceLevel::Other => ServiceLevel2::Other,
        }
    }

    pub(super) fn value(self) -> ServiceLevel {
        match self {
            ServiceLevel2::SameDay => ServiceLevel::SameDay,
            ServiceLevel2::NextDay => ServiceLevel::NextDay,
            ServiceLevel2::SecondDay => ServiceLevel::SecondDay,
            ServiceLevel2::Expedited => ServiceLevel::Expedited,
            ServiceLevel2::Priority => ServiceLevel::Priority,
            ServiceLevel2::Scheduled => ServiceLevel::Scheduled,
            ServiceLevel2::Standard => ServiceLevel::Standard,
            ServiceLevel2::FreeEconomy => ServiceLevel::FreeEconomy,
            ServiceLevel2::Other => ServiceLevel::Other,
        }
    }
}

#[derive(Serialize, Deserialize)]
pub enum State2 {
    New,
    Picking,
    Picked,
    Packed,
    Labelled,
    Shipped,
    Cancelled,
    Exception,
}

impl State2 {
    pub(super) fn of(s: OrderState) -> Self {
        match s {
            OrderState::New => State2::New,
            OrderState::Picking => State2::Picking,
            OrderState::Picked => State2::Picked,
            OrderState::Packed => State2::Packed,
            OrderState::Labelled => State2::Labelled,
            OrderState::Shipped => State2::Shipped,
            OrderState::Cancelled => State2::Cancelled,
            OrderState::Exception => State2::Exception,
        }
    }

    pub(super) fn value(self) -> OrderState {
        match self {
            State2::New => OrderState::New,
            State2::Picking => OrderState::Picking,
            State2::Picked => OrderState::Picked,
            State2::Packed => OrderState::Packed,
            State2::Labelled => OrderState::Labelled,
            State2::Shipped => OrderState::Shipped,
            State2::Cancelled => OrderState::Cancelled,
            State2::Exception => OrderState::Exception,
        }
    }
}

/// An order record (format 2).
#[derive(Serialize, Deserialize)]
pub struct OrderRecord2 {
    pub order: Order2,
    pub state: State2,
    pub state_since: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub recipient_mask: Option<String>,
    pub recipient_purged: bool,
}

#[derive(Serialize, Deserialize)]
pub struct Order2 {
    pub id: String,
    pub marketplace_id: Option<String>,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    pub ship_by: Window2,
    pub deliver_by: Window2,
    pub service_level: ServiceLevel2,
    pub prime: bool,
    pub business: bool,
    pub lines: Vec<Line2>,
}

#[derive(Serialize, Deserialize)]
pub struct Line2 {
    pub item_id: String,
    pub sku: String,
    pub asin: String,
    pub title: String,
    pub quantity_ordered: u32,
    pub quantity_shipped: u32,
    pub unit_codes: UnitCodes2,
    pub gift_wrap: Option<String>,
}

#[derive(Serialize, Deserialize)]
pub struct UnitCodes2 {
    pub serial: bool,
    pub transparency: bool,
}

impl Record for OrderRecord2 {
    const KIND: RecordKind = RecordKind::Order;
    const FORMAT: u8 = 2;
    type Value = OrderRecord;

    fn from_value(r: &OrderRecord) -> Self {
        let o = &r.order;
        OrderRecord2 {
            order: Order2 {
                id: o.id.to_string(),
                marketplace_id: o.marketplace_id.clone(),
                created: o.created,
                updated: o.updated,
                ship_by: Window2::of(&o.ship_by),
                deliver_by: Window2::of(&o.deliver_by),
                service_level: ServiceLevel2::of(o.service_level),
                prime: o.prime,
                business: o.business,
                lines: o
                    .lines
                    .iter()
                    .map(|l| Line2 {
                        item_id: l.item_id.clone(),
                        sku: l.sku.clone(),
                        asin: l.asin.clone(),
                        title: l.title.clone(),
                        quantity_ordered: l.quantity_ordered,
                        quantity_shipped: l.quantity_shipped,
                        unit_codes: UnitCodes2 {
                            serial: l.unit_codes.serial,
                            transparency: l.unit_codes.transparency,
                        },
                        gift_wrap: l.gift_wrap.clone(),
                    })
                    .collect(),
            },
            state: State2::of(r.state),
            state_since: r.state_since,
            closed_at: r.closed_at,
            recipient_mask: r.recipient_mask.clone(),
            recipient_purged: r.recipient_purged,
        }
    }

    fn into_value(self) -> Result<OrderRecord, Error> {
        let o = self.order;
        Ok(OrderRecord {
            order: Order {
                id: order_id(o.id, Self::KIND)?,
                marketplace_id: o.marketplace_id,
                created: o.created,
                updated: o.updated,
                ship_by: o.ship_by.value(),
                deliver_by: o.deliver_by.value(),
                service_level: o.service_level.value(),
                prime: o.prime,
                business: o.business,
                lines: o
                    .lines
                    .into_iter()
                    .map(|l| OrderLine {
                        item_id: l.item_id,
                        sku: l.sku,
                        asin: l.asin,
                        title: l.title,
                        quantity_ordered: l.quantity_ordered,
                        quantity_shipped: l.quantity_shipped,
                        unit_codes: UnitCodes {
                            serial: l.unit_codes.serial,
                            transparency: l.unit_codes.transparency,
                        },
                        gift_wrap: l.gift_wrap,
                    })
                    .collect(),
            },
            state: self.state.value(),
            state_since: self.state_since,
            closed_at: self.closed_at,
            recipient_mask: self.recipient_mask,
            recipient_purged: self.recipient_purged,
        })
    }
}
