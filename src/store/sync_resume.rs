//! Where a sync cut short stood (`meta`, `amazon/sync_resume`): its searchOrders query and
//! Amazon's pagination token for the next page, so the next sync carries on from there. No
//! personal data.

use super::records;
use super::{Error, Store};

impl Store {
    /// Where a sync cut short stood, if one did.
    pub fn sync_resume(&self) -> Result<Option<crate::domain::import::SyncResume>, Error> {
        self.account
            .meta
            .get(super::keys::meta::SYNC_RESUME)?
            .map(|v| records::decode::<records::sync_resume::SyncResume1>(&v))
            .transpose()
    }

    /// Keeps where a sync stands (after each page), or forgets it (`None`: the sync finished,
    /// or its token can no longer be used).
    pub fn set_sync_resume(
        &self,
        at: Option<&crate::domain::import::SyncResume>,
    ) -> Result<(), Error> {
        let key = super::keys::meta::SYNC_RESUME;
        match at {
            Some(r) => {
                self.account
                    .meta
                    .insert(key, records::encode::<records::sync_resume::SyncResume1>(r))?;
            }
            None => {
                self.account.meta.remove(key)?;
            }
        }
        self.account.meta.flush()
    }
}
