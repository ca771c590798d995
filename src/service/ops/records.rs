//! The store's records as a whole: importing and syncing orders, retention, the audit chain,
//! name lookups and a lead's reveal. Personal data leaves only in [`RevealedRecipient`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Allowed, Operation};
use crate::domain::OrderId;
use crate::service::amazon_calls::block_on;
use crate::service::{
    RawPage, Revealed, Role, Service, ServiceError, non_empty, order_id, store_err,
};
use crate::store::{ImportCounts, PurgeReport};

/// A lead reads a recipient, with a reason for the audit log.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Reveal {
    pub order: String,
    pub reason: String,
}

/// A revealed recipient: display lines with every control character escaped, never printed
/// by `Debug`, wiped on drop.
#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RevealedRecipient {
    pub order: OrderId,
    pub lines: Revealed,
}

impl Operation for Reveal {
    type Answer = RevealedRecipient;
    const NAME: &'static str = "reveal";
    const ACTION: &'static str = "revealing a recipient";
    const ROLE: Role = Role::Lead;

    fn apply(
        self,
        svc: &Service,
        c: &Allowed,
        now: DateTime<Utc>,
    ) -> Result<RevealedRecipient, ServiceError> {
        let id = order_id(&self.order)?;
        if self.reason.trim().is_empty() {
            return Err(ServiceError::Invalid(
                "a reveal needs a reason (it goes to the audit log)".into(),
            ));
        }
        let reason = non_empty(&self.reason, "the reason for a reveal")?;
        let recipient = svc
            .store()
            .reveal(&id, &c.user, reason, now)
            .map_err(store_err)?;
        let lines = recipient
            .reveal_lines()
            .into_iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        tracing::info!(order = %id, user = %c.user, "recipient revealed");
        Ok(RevealedRecipient {
            order: id,
            lines: Revealed(lines),
        })
    }
}

/// Orders whose recipient name matches, through the blind index (needs the store unlocked).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LookupName {
    pub text: String,
}

impl Operation for LookupName {
    type Answer = Vec<OrderId>;
    const NAME: &'static str = "lookup_name";
    const ACTION: &'static str = "a name lookup";
    const ROLE: Role = Role::Labeler;

    fn apply(
        self,
        svc: &Service,
        c: &Allowed,
        now: DateTime<Utc>,
    ) -> Result<Vec<OrderId>, ServiceError> {
        let text = non_empty(&self.text, "the name to look up")?;
        svc.store_alone()
            .lookup_name(text, &c.user, now)
            .map_err(store_err)
    }
}

/// Checks the audit chain; answers how many entries it holds.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct AuditVerify {}

impl Operation for AuditVerify {
    type Answer = u64;
    const NAME: &'static str = "audit_verify";
    const WRITES: bool = false;
    const ACTION: &'static str = "verifying the audit log";
    const ROLE: Role = Role::Lead;

    fn apply(self, svc: &Service, _: &Allowed, _: DateTime<Utc>) -> Result<u64, ServiceError> {
        svc.store().verify_audit().map_err(store_err)
    }
}

/// The most entries one `audit list` page answers.
pub const AUDIT_PAGE_MAX: u32 = 1_000;

/// A page of the audit log: who did what, to which order, when and why, oldest first. The log
/// holds no personal data, so reading it is not itself audited.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct AuditList {
    pub filter: crate::store::audit::Filter,
    /// Go on after this entry (0: from the first).
    pub after: u64,
    /// At most this many entries (at most [`AUDIT_PAGE_MAX`]).
    pub limit: u32,
}

impl Operation for AuditList {
    type Answer = crate::store::audit::Page;
    const NAME: &'static str = "audit_list";
    const WRITES: bool = false;
    const ACTION: &'static str = "reading the audit log";
    const ROLE: Role = Role::Lead;

    fn apply(
        self,
        svc: &Service,
        _: &Allowed,
        _: DateTime<Utc>,
    ) -> Result<crate::store::audit::Page, ServiceError> {
        let mut filter = self.filter;
        if let Some(o) = &filter.order {
            filter.order = Some(order_id(o)?.to_string());
        }
        if let (Some(since), Some(until)) = (filter.since, filter.until)
            && since > until
        {
            return Err(ServiceError::Invalid(format!(
                "the audit list's since ({}) is after its until ({})",
                since.to_rfc3339(),
                until.to_rfc3339()
            )));
        }
        if self.limit == 0 || self.limit > AUDIT_PAGE_MAX {
            return Err(ServiceError::Invalid(format!(
                "an audit page holds 1 to {AUDIT_PAGE_MAX} entries, not {}",
                self.limit
            )));
        }
        svc.store()
            .audit_page(&filter, self.after, self.limit as usize)
            .map_err(store_err)
    }
}

/// Imports one searchOrders response page. The page holds personal data: it is wiped after
/// use and never printed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ImportOrders {
    /// Where the page came from, for error messages.
    pub file: String,
    pub page: RawPage,
}

impl Operation for ImportOrders {
    type Answer = ImportCounts;
    const NAME: &'static str = "import";
    const ACTION: &'static str = "importing orders";
    const ROLE: Role = Role::Lead;

    fn apply(
        self,
        svc: &Service,
        c: &Allowed,
        now: DateTime<Utc>,
    ) -> Result<ImportCounts, ServiceError> {
        // Sealed recipients, records, indexes and audit entries take a few times the page.
        svc.ensure_room(4 * self.page.0.len() as u64)?;
        let parsed = crate::amazon::parse_search_orders(self.page.0.as_bytes(), &self.file)
            .map_err(|e| ServiceError::Invalid(e.to_string()))?;
        let counts = svc
            .import_page(parsed.orders, parsed.refused, &self.file, &c.user, now)
            .map_err(store_err)?;
        svc.note_bulk_import(&counts);
        Ok(counts)
    }
}

/// Applies the retention policy (as if at `as_of`, when given: see `packline purge --as-of`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Purge {
    pub as_of: Option<DateTime<Utc>>,
}

impl Operation for Purge {
    type Answer = PurgeReport;
    const NAME: &'static str = "purge";
    const ACTION: &'static str = "purging";
    const ROLE: Role = Role::Lead;

    fn apply(
        self,
        svc: &Service,
        c: &Allowed,
        now: DateTime<Utc>,
    ) -> Result<PurgeReport, ServiceError> {
        let report = svc
            .with_store_mut(|s| {
                s.purge(
                    svc.settings.retention,
                    self.as_of.unwrap_or(now),
                    &c.user,
                    now,
                )
            })
            .map_err(store_err)?;
        tracing::info!(?report, user = %c.user, "purge");
        Ok(report)
    }
}

/// One sync with Amazon now: everything pending (first run) or updated since the last;
/// `backlog`: through the actionable-orders report, then what changed since it.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SyncOrders {
    #[serde(default)]
    pub backlog: bool,
}

impl Operation for SyncOrders {
    type Answer = ImportCounts;
    const NAME: &'static str = "sync";
    const ACTION: &'static str = "syncing orders";
    const ROLE: Role = Role::Lead;

    fn apply(
        self,
        svc: &Service,
        c: &Allowed,
        _: DateTime<Utc>,
    ) -> Result<ImportCounts, ServiceError> {
        block_on(svc.sync_now_with(&c.user, self.backlog))?
    }
}

/// The orders set aside: refused as they arrived from Amazon or an imported file, each with
/// where it came from, why and since when (no personal data). Each sync asks Amazon for them
/// again.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SyncProblems {}

impl Operation for SyncProblems {
    type Answer = Vec<crate::domain::SetAsideRecord>;
    const NAME: &'static str = "sync_problems";
    const ACTION: &'static str = "listing the orders set aside";
    const ROLE: Role = Role::Lead;
    const WRITES: bool = false;

    fn apply(
        self,
        svc: &Service,
        _: &Allowed,
        _: DateTime<Utc>,
    ) -> Result<Vec<crate::domain::SetAsideRecord>, ServiceError> {
        svc.store().set_aside_orders().map_err(store_err)
    }
}

/// The access review (at least every 90 days): every user with a role and what they did with
/// it, who is seen without one, who has one unused. Recorded in the audit log.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ReviewAccess {}

impl Operation for ReviewAccess {
    type Answer = crate::domain::access::AccessReview;
    const NAME: &'static str = "access_review";
    const ACTION: &'static str = "the access review";
    const ROLE: Role = Role::Lead;

    fn apply(
        self,
        svc: &Service,
        c: &Allowed,
        now: DateTime<Utc>,
    ) -> Result<crate::domain::access::AccessReview, ServiceError> {
        use crate::domain::access::AccessReview as Review;
        let store = svc.store();
        let seen = store
            .audit_activity(Review::since(now))
            .map_err(store_err)?;
        store
            .record_access_review(&c.user, now)
            .map_err(store_err)?;
        store.note_access_review(now).map_err(store_err)?;
        Ok(Review::new(
            now,
            &svc.settings.users(),
            &seen.by_user,
            seen.last_review,
        ))
    }
}

/// Reads the store, its indexes, the floor's work, the sealed recipients against the keyring
/// and the audit chain together (`packline check`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Check {}

impl Operation for Check {
    type Answer = crate::store::check::CheckReport;
    const NAME: &'static str = "check";
    const WRITES: bool = false;
    const ACTION: &'static str = "checking the store";
    const ROLE: Role = Role::Lead;

    fn apply(
        self,
        svc: &Service,
        _: &Allowed,
        _: DateTime<Utc>,
    ) -> Result<crate::store::check::CheckReport, ServiceError> {
        svc.store().check().map_err(store_err)
    }
}

/// A report from the counters kept as the floor works (no order is read, and nothing in it is
/// personal): orders and units shipped, late shipments, short picks, exceptions, holds, labels
/// and postage, over local days `from..=to` (the last 30 days when not given).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct BuildReport {
    pub from: Option<chrono::NaiveDate>,
    pub to: Option<chrono::NaiveDate>,
    #[serde(default)]
    pub by: crate::domain::report::By,
    /// Another site of the database (`--all-sites`); this one when none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
}

impl Operation for BuildReport {
    type Answer = crate::domain::report::Report;
    const NAME: &'static str = "report";
    const WRITES: bool = false;
    const ACTION: &'static str = "reports";
    const ROLE: Role = Role::Lead;

    fn apply(
        self,
        svc: &Service,
        _: &Allowed,
        now: DateTime<Utc>,
    ) -> Result<crate::domain::report::Report, ServiceError> {
        use crate::domain::report::{By, Report as Built};
        let to = self
            .to
            .unwrap_or_else(|| crate::store::shipping::local_day(now));
        let from = self.from.unwrap_or(to - chrono::Duration::days(29));
        if from > to {
            return Err(ServiceError::Invalid(format!(
                "--from {from} is after --to {to}"
            )));
        }
        use crate::store::stats::SkuCounts;
        let skus = match self.by {
            By::Day => None,
            By::Sku => Some(SkuCounts::Monthly),
            By::SkuDay => Some(SkuCounts::Daily),
        };
        let counts = match &self.site {
            Some(site) => svc
                .store()
                .site_view(site)
                .and_then(|there| there.counts(from, to, skus))
                .map_err(store_err)?,
            None => svc.store().counts(from, to, skus).map_err(store_err)?,
        };
        Ok(Built::build(from, to, self.by, &counts))
    }
}

/// A backup of the store and its keyring into a new directory under `dir`, written by the
/// service while it holds the store still (requests wait for the copy to finish). Leads; the
/// purge deletes it at the personal-data limit.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Backup {
    pub dir: String,
}

impl Operation for Backup {
    type Answer = crate::store::backup::BackupSummary;
    const NAME: &'static str = "backup";
    const ACTION: &'static str = "a backup";
    const ROLE: Role = Role::Lead;

    fn apply(
        self,
        svc: &Service,
        c: &Allowed,
        now: DateTime<Utc>,
    ) -> Result<crate::store::backup::BackupSummary, ServiceError> {
        let dir = std::path::PathBuf::from(self.dir.trim());
        if !dir.is_absolute() {
            return Err(ServiceError::Invalid(format!(
                "the backup directory {} must be an absolute path (the service writes it)",
                dir.display()
            )));
        }
        // Writers wait while the copy is made: it is of one moment.
        let store = svc.store_alone();
        store.backup(&dir, &c.user, now).map_err(store_err)
    }
}
