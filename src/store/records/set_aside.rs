//! The frozen record of an order a sync or an import set aside: its id, where it came from, why
//! it was refused (a place in the order, never a value from it) and when. Nothing personal.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::floor::order_id;
use super::{Error, Record};
use crate::domain::SetAsideRecord;
use crate::store::RecordKind;

/// A set-aside order (format 1).
#[derive(Serialize, Deserialize)]
pub struct SetAside1 {
    pub order: String,
    pub source: String,
    pub reason: String,
    pub since: DateTime<Utc>,
    pub last: DateTime<Utc>,
    pub times: u32,
}

impl Record for SetAside1 {
    const KIND: RecordKind = RecordKind::SetAside;
    const FORMAT: u8 = 1;
    type Value = SetAsideRecord;

    fn from_value(r: &SetAsideRecord) -> Self {
        SetAside1 {
            order: r.order.to_string(),
            source: r.source.clone(),
            reason: r.reason.clone(),
            since: r.since,
            last: r.last,
            times: r.times,
        }
    }

    fn into_value(self) -> Result<SetAsideRecord, Error> {
        Ok(SetAsideRecord {
            order: order_id(self.order, Self::KIND)?,
            source: self.source,
            reason: self.reason,
            since: self.since,
            last: self.last,
            times: self.times,
        })
    }
}
