//! The frozen record of a sync cut short: the searchOrders query it was making and the
//! pagination token of the next page (Amazon's, valid 24 hours), so the next sync carries on
//! from there. Nothing personal.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Error, Record};
use crate::domain::import::SyncResume;
use crate::store::RecordKind;

/// Where a cut-short sync stood (format 1).
#[derive(Serialize, Deserialize)]
pub struct SyncResume1 {
    pub token: String,
    pub created_after: Option<DateTime<Utc>>,
    pub last_updated_after: Option<DateTime<Utc>>,
    pub statuses: Vec<String>,
    pub started: DateTime<Utc>,
    pub saved: DateTime<Utc>,
    pub pages: u64,
}

impl Record for SyncResume1 {
    const KIND: RecordKind = RecordKind::SyncPlace;
    const FORMAT: u8 = 1;
    type Value = SyncResume;

    fn from_value(r: &SyncResume) -> Self {
        SyncResume1 {
            token: r.token.clone(),
            created_after: r.created_after,
            last_updated_after: r.last_updated_after,
            statuses: r.statuses.clone(),
            started: r.started,
            saved: r.saved,
            pages: r.pages,
        }
    }

    fn into_value(self) -> Result<SyncResume, Error> {
        Ok(SyncResume {
            token: self.token,
            created_after: self.created_after,
            last_updated_after: self.last_updated_after,
            statuses: self.statuses,
            started: self.started,
            saved: self.saved,
            pages: self.pages,
        })
    }
}
