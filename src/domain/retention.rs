//! The retention policy: how long packline keeps recipient data, order records, exception
//! notes and customer inquiries, and when each runs out. A plain value with its date arithmetic;
//! carrying it out (deleting, re-sealing, shredding key epochs) is the store's, and reading it
//! from the site's configuration is `config`'s.

use chrono::{DateTime, Duration, Months, Utc};

/// How long things are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Days recipient data is kept after shipment or cancellation (at most 30).
    pub pii_days_after_close: u32,
}

impl RetentionPolicy {
    /// Amazon's data protection policy: at most 30 days after shipment.
    pub const MAX_PII_DAYS: u32 = 30;
    pub const ORDER_MONTHS: u32 = 72;
    pub const EXCEPTION_NOTE_DAYS: i64 = 365;
    /// Customer inquiries (the record and its sealed notes): a year after resolution.
    pub const INQUIRY_DAYS: i64 = 365;

    /// When a closed order's recipient is destroyed: at the start (UTC) of the day its
    /// `pii_days_after_close` run out, never later. Everything closing on one day expires at the
    /// same instant, so the key epoch of that day (`expires-D`) is shredded whole, at once.
    pub fn pii_expiry(&self, closed_at: DateTime<Utc>) -> DateTime<Utc> {
        let limit = closed_at + Duration::days(i64::from(self.pii_days_after_close));
        limit
            .date_naive()
            .and_hms_opt(0, 0, 0)
            .map_or(limit, |t| t.and_utc())
    }

    /// When a resolved inquiry (its record and its sealed notes) is destroyed: at the start (UTC)
    /// of the day its year runs out, never later, so the inquiries resolved on one day share one
    /// expiry epoch and it is shredded whole.
    pub fn inquiry_expiry(resolved_at: DateTime<Utc>) -> DateTime<Utc> {
        let limit = resolved_at + Duration::days(Self::INQUIRY_DAYS);
        limit
            .date_naive()
            .and_hms_opt(0, 0, 0)
            .map_or(limit, |t| t.and_utc())
    }

    /// When a closed order's record (no personal data) is deleted.
    pub fn order_expiry(&self, closed_at: DateTime<Utc>) -> DateTime<Utc> {
        closed_at
            .checked_add_months(Months::new(Self::ORDER_MONTHS))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        Self {
            pii_days_after_close: Self::MAX_PII_DAYS,
        }
    }
}
