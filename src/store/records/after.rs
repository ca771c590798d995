//! Frozen records of what follows a shipment, and of people's notes: inquiries, returns, an
//! order's exception notes. Each had its format byte in schema 1 already; the layouts are
//! those it wrote.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::floor::{Text2, order_id};
use super::{Error, Record};
use crate::domain::inquiry::NoteMeta;
use crate::domain::returns::ReturnRecord;
use crate::domain::returns::{Condition, Received, ReturnKey, ReturnLine};
use crate::domain::{Inquiry, InquiryCategory, NoteKind};
use crate::store::RecordKind;
use crate::store::values::StoredException;

#[derive(Serialize, Deserialize)]
pub enum Category1 {
    WhereIsMyOrder,
    Damaged,
    WrongItem,
    Return,
    Cancel,
    Other,
}

#[derive(Serialize, Deserialize)]
pub enum NoteKind1 {
    Opened,
    Note,
    Resolution,
    Message,
}

#[derive(Serialize, Deserialize)]
pub struct NoteMeta1 {
    pub at: DateTime<Utc>,
    pub by: String,
    pub kind: NoteKind1,
}

/// A customer inquiry (format 1): its notes' words are sealed apart, by reference.
#[derive(Serialize, Deserialize)]
pub struct Inquiry1 {
    pub id: u64,
    pub order: String,
    pub category: Category1,
    pub opened_at: DateTime<Utc>,
    pub opened_by: String,
    pub notes: Vec<NoteMeta1>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<String>,
}

impl Record for Inquiry1 {
    const KIND: RecordKind = RecordKind::Inquiry;
    const FORMAT: u8 = 1;
    type Value = Inquiry;

    fn from_value(q: &Inquiry) -> Self {
        Inquiry1 {
            id: q.id,
            order: q.order.to_string(),
            category: match q.category {
                InquiryCategory::WhereIsMyOrder => Category1::WhereIsMyOrder,
                InquiryCategory::Damaged => Category1::Damaged,
                InquiryCategory::WrongItem => Category1::WrongItem,
                InquiryCategory::Return => Category1::Return,
                InquiryCategory::Cancel => Category1::Cancel,
                InquiryCategory::Other => Category1::Other,
            },
            opened_at: q.opened_at,
            opened_by: q.opened_by.clone(),
            notes: q
                .notes
                .iter()
                .map(|n| NoteMeta1 {
                    at: n.at,
                    by: n.by.clone(),
                    kind: match n.kind {
                        NoteKind::Opened => NoteKind1::Opened,
                        NoteKind::Note => NoteKind1::Note,
                        NoteKind::Resolution => NoteKind1::Resolution,
                        NoteKind::Message => NoteKind1::Message,
                    },
                })
                .collect(),
            resolved_at: q.resolved_at,
            resolved_by: q.resolved_by.clone(),
        }
    }

    fn into_value(self) -> Result<Inquiry, Error> {
        Ok(Inquiry {
            id: self.id,
            order: order_id(self.order, Self::KIND)?,
            category: match self.category {
                Category1::WhereIsMyOrder => InquiryCategory::WhereIsMyOrder,
                Category1::Damaged => InquiryCategory::Damaged,
                Category1::WrongItem => InquiryCategory::WrongItem,
                Category1::Return => InquiryCategory::Return,
                Category1::Cancel => InquiryCategory::Cancel,
                Category1::Other => InquiryCategory::Other,
            },
            opened_at: self.opened_at,
            opened_by: self.opened_by,
            notes: self
                .notes
                .into_iter()
                .map(|n| NoteMeta {
                    at: n.at,
                    by: n.by,
                    kind: match n.kind {
                        NoteKind1::Opened => NoteKind::Opened,
                        NoteKind1::Note => NoteKind::Note,
                        NoteKind1::Resolution => NoteKind::Resolution,
                        NoteKind1::Message => NoteKind::Message,
                    },
                })
                .collect(),
            resolved_at: self.resolved_at,
            resolved_by: self.resolved_by,
        })
    }
}

#[derive(Serialize, Deserialize)]
pub enum ReturnKey1 {
    Rma {
        rma: String,
    },
    Returnless {
        order: String,
        sku: String,
        requested: NaiveDate,
    },
    Unexpected {
        order: String,
        n: u32,
    },
}

#[derive(Serialize, Deserialize)]
pub enum Condition1 {
    Sellable,
    Damaged,
    WrongItem,
    Missing,
}

#[derive(Serialize, Deserialize)]
pub struct Received1 {
    pub condition: Condition1,
    pub quantity: u32,
    pub bin: Option<String>,
    pub at: DateTime<Utc>,
    pub by: String,
}

#[derive(Serialize, Deserialize)]
pub struct ReturnLine1 {
    pub sku: String,
    pub asin: Option<String>,
    pub expected: u32,
    pub reason: Option<String>,
    pub received: Vec<Received1>,
}

/// A return (format 1). No personal data.
#[derive(Serialize, Deserialize)]
pub struct Return1 {
    pub id: u64,
    pub key: ReturnKey1,
    pub order: String,
    pub rma: Option<String>,
    pub requested: Option<NaiveDate>,
    pub status: Option<String>,
    pub carrier: Option<String>,
    pub tracking: Option<String>,
    pub lines: Vec<ReturnLine1>,
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: String,
    pub closed_at: Option<DateTime<Utc>>,
    pub closed_by: Option<String>,
}

impl Record for Return1 {
    const KIND: RecordKind = RecordKind::Return;
    const FORMAT: u8 = 1;
    type Value = ReturnRecord;

    fn from_value(r: &ReturnRecord) -> Self {
        Return1 {
            id: r.id,
            key: match &r.key {
                ReturnKey::Rma { rma } => ReturnKey1::Rma { rma: rma.clone() },
                ReturnKey::Returnless {
                    order,
                    sku,
                    requested,
                } => ReturnKey1::Returnless {
                    order: order.to_string(),
                    sku: sku.clone(),
                    requested: *requested,
                },
                ReturnKey::Unexpected { order, n } => ReturnKey1::Unexpected {
                    order: order.to_string(),
                    n: *n,
                },
            },
            order: r.order.to_string(),
            rma: r.rma.clone(),
            requested: r.requested,
            status: r.status.clone(),
            carrier: r.carrier.clone(),
            tracking: r.tracking.clone(),
            lines: r
                .lines
                .iter()
                .map(|l| ReturnLine1 {
                    sku: l.sku.clone(),
                    asin: l.asin.clone(),
                    expected: l.expected,
                    reason: l.reason.clone(),
                    received: l
                        .received
                        .iter()
                        .map(|x| Received1 {
                            condition: match x.condition {
                                Condition::Sellable => Condition1::Sellable,
                                Condition::Damaged => Condition1::Damaged,
                                Condition::WrongItem => Condition1::WrongItem,
                                Condition::Missing => Condition1::Missing,
                            },
                            quantity: x.quantity,
                            bin: x.bin.clone(),
                            at: x.at,
                            by: x.by.clone(),
                        })
                        .collect(),
                })
                .collect(),
            recorded_at: r.recorded_at,
            recorded_by: r.recorded_by.clone(),
            closed_at: r.closed_at,
            closed_by: r.closed_by.clone(),
        }
    }

    fn into_value(self) -> Result<ReturnRecord, Error> {
        let id = |s: String| order_id(s, Self::KIND);
        Ok(ReturnRecord {
            id: self.id,
            key: match self.key {
                ReturnKey1::Rma { rma } => ReturnKey::Rma { rma },
                ReturnKey1::Returnless {
                    order,
                    sku,
                    requested,
                } => ReturnKey::Returnless {
                    order: id(order)?,
                    sku,
                    requested,
                },
                ReturnKey1::Unexpected { order, n } => ReturnKey::Unexpected {
                    order: id(order)?,
                    n,
                },
            },
            order: id(self.order)?,
            rma: self.rma,
            requested: self.requested,
            status: self.status,
            carrier: self.carrier,
            tracking: self.tracking,
            lines: self
                .lines
                .into_iter()
                .map(|l| ReturnLine {
                    sku: l.sku,
                    asin: l.asin,
                    expected: l.expected,
                    reason: l.reason,
                    received: l
                        .received
                        .into_iter()
                        .map(|x| Received {
                            condition: match x.condition {
                                Condition1::Sellable => Condition::Sellable,
                                Condition1::Damaged => Condition::Damaged,
                                Condition1::WrongItem => Condition::WrongItem,
                                Condition1::Missing => Condition::Missing,
                            },
                            quantity: x.quantity,
                            bin: x.bin,
                            at: x.at,
                            by: x.by,
                        })
                        .collect(),
                })
                .collect(),
            recorded_at: self.recorded_at,
            recorded_by: self.recorded_by,
            closed_at: self.closed_at,
            closed_by: self.closed_by,
        })
    }
}

/// One exception note of an order: who raised it and when, its words sealed (or packline's
/// own), and its resolution.
#[derive(Serialize, Deserialize)]
pub struct Exception2 {
    pub raised_at: DateTime<Utc>,
    pub raised_by: String,
    pub note: Text2,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<String>,
    pub resolution: Option<Text2>,
}

/// An order's exception notes (format 2; format 1 was JSON with the words in the clear, sealed
/// by the upgrade of free text at open).
#[derive(Serialize, Deserialize)]
pub struct Exceptions2(pub Vec<Exception2>);

impl Record for Exceptions2 {
    const KIND: RecordKind = RecordKind::Exceptions;
    const FORMAT: u8 = 2;
    type Value = Vec<StoredException>;

    fn from_value(all: &Vec<StoredException>) -> Self {
        Exceptions2(
            all.iter()
                .map(|e| Exception2 {
                    raised_at: e.raised_at,
                    raised_by: e.raised_by.clone(),
                    note: Text2::of(&e.note),
                    resolved_at: e.resolved_at,
                    resolved_by: e.resolved_by.clone(),
                    resolution: e.resolution.as_ref().map(Text2::of),
                })
                .collect(),
        )
    }

    fn into_value(self) -> Result<Vec<StoredException>, Error> {
        Ok(self
            .0
            .into_iter()
            .map(|e| StoredException {
                raised_at: e.raised_at,
                raised_by: e.raised_by,
                note: e.note.value(),
                resolved_at: e.resolved_at,
                resolved_by: e.resolved_by,
                resolution: e.resolution.map(Text2::value),
            })
            .collect())
    }
}
