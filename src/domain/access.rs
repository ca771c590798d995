//! The access review Amazon's Data Protection Policy asks for at least every 90 days: who has a
//! role, who used it for what (reveals, name lookups, purges, label voids, inquiry reads,
//! messages sent), who is
//! seen in the audit log without a role any more, and who has a role but was never seen. Pure:
//! the store counts the audit log, the service knows the roles.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::role::Role;

/// How far back the review counts, and how old the last one may be.
pub const REVIEW_PERIOD_DAYS: i64 = 90;

/// The audit action a review records.
pub const REVIEW_ACTION: &str = "access_review";

/// What one user did that touches personal data or destroys records, counted over the period.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Activity {
    /// The user's latest audit entry, ever.
    pub last_seen: Option<DateTime<Utc>>,
    pub reveals: u64,
    pub name_lookups: u64,
    pub purges: u64,
    pub label_voids: u64,
    pub inquiry_reads: u64,
    /// Messages sent to buyers through Amazon.
    pub messages_sent: u64,
}

impl Activity {
    /// Counts one audit entry of this user.
    pub fn count(&mut self, action: &str, at: DateTime<Utc>, since: DateTime<Utc>) {
        self.last_seen = Some(self.last_seen.map_or(at, |t| t.max(at)));
        if at < since {
            return;
        }
        let n = match action {
            "reveal" => &mut self.reveals,
            "lookup_name" => &mut self.name_lookups,
            "purge" => &mut self.purges,
            "void_label" => &mut self.label_voids,
            "inquiry_read" => &mut self.inquiry_reads,
            "message_sent" => &mut self.messages_sent,
            _ => return,
        };
        *n += 1;
    }
}

/// One configured user in the review.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UserAccess {
    pub user: String,
    pub role: Role,
    #[serde(flatten)]
    pub activity: Activity,
}

/// The review: every configured user, and the two lists a reviewer acts on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AccessReview {
    pub at: DateTime<Utc>,
    pub period_days: i64,
    /// The review before this one, if any.
    pub last_review: Option<DateTime<Utc>>,
    /// Whether that one is older than the period (or there is none): a review was due.
    pub overdue: bool,
    pub users: Vec<UserAccess>,
    /// Seen in the audit log, with no role now: remove their access everywhere else too.
    pub seen_without_role: Vec<String>,
    /// With a role, never seen in the audit log: does this person still need it?
    pub never_seen: Vec<String>,
}

impl AccessReview {
    /// The review as of `at`, from the roles configured and the audit log's activity by user.
    pub fn new(
        at: DateTime<Utc>,
        roles: &[(String, Role)],
        activity: &BTreeMap<String, Activity>,
        last_review: Option<DateTime<Utc>>,
    ) -> AccessReview {
        let users: Vec<UserAccess> = roles
            .iter()
            .map(|(user, role)| UserAccess {
                user: user.clone(),
                role: *role,
                activity: activity.get(user).cloned().unwrap_or_default(),
            })
            .collect();
        let never_seen = users
            .iter()
            .filter(|u| u.activity.last_seen.is_none())
            .map(|u| u.user.clone())
            .collect();
        let seen_without_role = activity
            .keys()
            .filter(|u| !roles.iter().any(|(r, _)| r == *u))
            .cloned()
            .collect();
        AccessReview {
            at,
            period_days: REVIEW_PERIOD_DAYS,
            last_review,
            overdue: last_review.is_none_or(|t| at - t > Duration::days(REVIEW_PERIOD_DAYS)),
            users,
            seen_without_role,
            never_seen,
        }
    }

    /// The start of the period counted.
    pub fn since(at: DateTime<Utc>) -> DateTime<Utc> {
        at - Duration::days(REVIEW_PERIOD_DAYS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(days: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap() + Duration::days(days)
    }

    #[test]
    fn the_review_counts_the_period_and_lists_who_to_look_at() {
        let now = t(0);
        let since = AccessReview::since(now);
        let mut ann = Activity::default();
        ann.count("reveal", t(-10), since);
        ann.count("reveal", t(-100), since);
        ann.count("pick_scan", t(-1), since);
        ann.count("message_sent", t(-3), since);
        let mut gone = Activity::default();
        gone.count("lookup_name", t(-5), since);
        let activity = BTreeMap::from([("ann".to_owned(), ann), ("gone".to_owned(), gone)]);
        let roles = vec![
            ("ann".to_owned(), Role::Lead),
            ("new".to_owned(), Role::Packer),
        ];
        let r = AccessReview::new(now, &roles, &activity, Some(t(-91)));
        assert!(r.overdue);
        assert_eq!(
            r.users[0].activity.reveals, 1,
            "only the last 90 days count"
        );
        assert_eq!(r.users[0].activity.last_seen, Some(t(-1)));
        assert_eq!(r.seen_without_role, ["gone"]);
        assert_eq!(r.never_seen, ["new"]);
        assert!(!AccessReview::new(now, &roles, &activity, Some(t(-89))).overdue);
        assert!(AccessReview::new(now, &roles, &activity, None).overdue);
    }
}
