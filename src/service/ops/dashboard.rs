//! The lead's dashboard: what is due and late, who picked and packed how much today, the work
//! in progress, and the site's health, in one answer. Read from counters kept as changes commit
//! (see `store::stats`), the queue keys of the next day's open orders, the open batches and the
//! print queue: never a walk over every order or the audit log. No personal data: order counts,
//! batch numbers and OS user names.

use chrono::{DateTime, Duration, Local, NaiveTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use super::{Allowed, Operation};
use crate::domain::OrderState;
use crate::service::{Counts, MAX_BATCHES, Role, Service, ServiceError, store_err};
use crate::store::shipping::JobState;
use crate::store::stats::Work;

/// Everything the dashboard shows.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Dashboard {}

/// Hours of due work the chart shows, from now.
pub const DUE_HOURS: usize = 24;
/// Hours of throughput the sparklines show, ending with the current one.
pub const WORK_HOURS: usize = 12;
/// An access review older than this is due again (Amazon's Data Protection Policy).
pub const REVIEW_DAYS: i64 = 90;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DashboardView {
    pub at: DateTime<Utc>,
    pub due: DueWork,
    pub throughput: Throughput,
    /// Every claimed batch, the newest first.
    pub wip: Vec<BatchProgress>,
    pub holds: u64,
    pub exceptions: u64,
    /// Today's returns: units expected back, and received at the returns bench (restocked
    /// among them).
    #[serde(default)]
    pub returns: ReturnsToday,
    /// Packages the carriers delivered today (Shipping API v2 tracking), late among them, and
    /// labels still on their way (bought, not yet delivered).
    #[serde(default)]
    pub deliveries: DeliveriesToday,
    pub health: Health,
    /// The seller's metrics, each beside Amazon's threshold (see `packline metrics`).
    #[serde(default)]
    pub metrics: Option<crate::domain::metrics::SellerMetrics>,
    /// The queue counts as last counted (they arrive again as `Notice::Counts`).
    pub counts: Counts,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ReturnsToday {
    pub expected: u64,
    pub received: u64,
    pub restocked: u64,
    pub damaged: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DeliveriesToday {
    pub delivered: u64,
    pub late: u64,
    pub on_the_way: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DueWork {
    /// Open orders past their ship-by.
    pub late: u64,
    /// `hours[i]`: open orders due in `[at + i h, at + (i + 1) h)`.
    pub hours: Vec<u64>,
    /// The next carrier pickup (`[floor] pickup`), and the open orders due before it (not late).
    pub pickup: DateTime<Utc>,
    pub before_pickup: u64,
}

impl DueWork {
    /// The hour bar the pickup falls in.
    pub fn pickup_hour(&self, at: DateTime<Utc>) -> usize {
        ((self.pickup - at).num_seconds().max(0) / 3600) as usize
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Throughput {
    /// Units picked and packed in each of the last [`WORK_HOURS`] local hours, oldest first.
    pub picked: Vec<u64>,
    pub packed: Vec<u64>,
    /// Today's totals.
    pub picked_today: u64,
    pub packed_today: u64,
    /// Today's work per person, by user name.
    pub people: Vec<PersonWork>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PersonWork {
    pub user: String,
    pub batches: u64,
    pub picked: u64,
    pub packed: u64,
    pub scans_refused: u64,
    pub exceptions: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BatchProgress {
    pub batch: u64,
    pub holder: String,
    /// When its orders went to picking (none if no order of it is left to say).
    pub since: Option<DateTime<Utc>>,
    pub orders: u32,
    pub picked: u32,
    pub needed: u32,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Health {
    pub unlocked: bool,
    pub sync_enabled: bool,
    pub sync_running: bool,
    pub last_sync: Option<DateTime<Utc>>,
    pub sync_failed: bool,
    /// Print jobs that failed and were not printed since.
    pub failed_prints: u64,
    /// The latest of them, and why: "order … label: printer file:/x: …".
    #[serde(default)]
    pub last_print_failure: Option<String>,
    pub last_review: Option<DateTime<Utc>>,
    /// No access review in [`REVIEW_DAYS`] days (or none noted).
    pub review_overdue: bool,
    /// What a purge now would destroy (recipients, order records), counted in the background
    /// at `purge_counted`; none until the first count is in.
    pub purge: Option<crate::store::retention::PurgePreview>,
    pub purge_counted: Option<DateTime<Utc>>,
    /// When the daemon's schedule runs the next sync (none when no daemon schedules it).
    #[serde(default)]
    pub next_sync: Option<DateTime<Utc>>,
    /// Amazon's searchOrders quota left (none on a site without an Amazon connection that
    /// never synced).
    #[serde(default)]
    pub quota: Option<crate::service::Quota>,
    /// Orders set aside: refused as they arrived (`packline sync problems` lists them).
    #[serde(default)]
    pub set_aside: u64,
}

impl Operation for Dashboard {
    type Answer = DashboardView;
    const NAME: &'static str = "dashboard";
    const WRITES: bool = false;
    const ACTION: &'static str = "the dashboard";
    const ROLE: Role = Role::Lead;

    fn apply(
        self,
        svc: &Service,
        _: &Allowed,
        now: DateTime<Utc>,
    ) -> Result<DashboardView, ServiceError> {
        let counts = svc.counts();
        let pickup = next_pickup(now, svc.settings.pickup);
        let store = svc.store();
        let d = store
            .due_counts(now, DUE_HOURS, pickup)
            .map_err(store_err)?;
        let due = DueWork {
            late: d.late,
            hours: d.hours,
            pickup,
            before_pickup: d.before_pickup,
        };
        let throughput = throughput(&store, now)?;
        let mut batches = store.batches().map_err(store_err)?;
        batches.sort_by_key(|b| std::cmp::Reverse(b.id));
        batches.truncate(MAX_BATCHES);
        let mut wip = Vec::with_capacity(batches.len());
        for b in batches {
            let since = match b.orders.first() {
                Some(id) => store.get(id).map_err(store_err)?.map(|r| r.state_since),
                None => None,
            };
            wip.push(BatchProgress {
                batch: b.id,
                holder: b.holder.clone(),
                since,
                orders: b.orders.len() as u32,
                picked: b.lines.iter().map(|l| l.picked).sum(),
                needed: b.lines.iter().map(|l| l.needed).sum(),
            });
        }
        let holds = store.holds().map_err(store_err)?.len() as u64;
        let exceptions = store
            .ids_in(OrderState::Exception, usize::MAX)
            .map_err(store_err)?
            .len() as u64;
        let failed: Vec<crate::store::shipping::PrintJob> = store
            .print_jobs()
            .map_err(store_err)?
            .into_iter()
            .filter(|j| j.state == JobState::Failed)
            .collect();
        let failed_prints = failed.len() as u64;
        let last_print_failure = failed.iter().max_by_key(|j| (j.created, j.id)).map(|j| {
            format!(
                "{}: {}",
                j.title(),
                j.error.as_deref().unwrap_or("no reason kept")
            )
        });
        // Today's returns, from the report's day counters.
        let today = crate::store::shipping::local_day(now);
        let day = crate::domain::report::Report::build(
            today,
            today,
            crate::domain::report::By::Day,
            &store.counts(today, today, None).map_err(store_err)?,
        )
        .totals;
        let returns = ReturnsToday {
            expected: day.returns_expected,
            received: day.returns_received,
            restocked: day.returns_restocked,
            damaged: day.returns_damaged,
        };
        let deliveries = DeliveriesToday {
            delivered: day.packages_delivered,
            late: day.late_deliveries,
            on_the_way: store.awaiting_delivery_count().map_err(store_err)?,
        };
        let last_review = store.last_access_review().map_err(store_err)?;
        let set_aside = store.set_aside_orders().map_err(store_err)?.len() as u64;
        let unlocked = store.is_unlocked();
        let metrics = super::metrics::seller_metrics(&store, now)?;
        drop(store);
        let sync = svc.sync_state();
        let purge = svc.purge_preview();
        Ok(DashboardView {
            at: now,
            due,
            throughput,
            wip,
            holds,
            exceptions,
            returns,
            deliveries,
            health: Health {
                unlocked,
                sync_enabled: sync.enabled,
                sync_running: sync.running,
                last_sync: sync.last_ok,
                sync_failed: sync.last_error.is_some(),
                failed_prints,
                last_print_failure,
                last_review,
                review_overdue: last_review.is_none_or(|t| now - t > Duration::days(REVIEW_DAYS)),
                purge: purge.map(|(_, p)| p),
                purge_counted: purge.map(|(at, _)| at),
                next_sync: sync.next_sync,
                quota: sync.quota,
                set_aside,
            },
            metrics: Some(metrics),
            counts,
        })
    }
}

/// The next pickup at local `time` after `now` (today's, or tomorrow's once it has gone).
pub fn next_pickup(now: DateTime<Utc>, time: NaiveTime) -> DateTime<Utc> {
    let local = now.with_timezone(&Local);
    let at = |day: chrono::NaiveDate| {
        Local
            .from_local_datetime(&day.and_time(time))
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    };
    let today = local.date_naive();
    match at(today) {
        Some(t) if t > now => t,
        _ => today
            .succ_opt()
            .and_then(at)
            .unwrap_or(now + Duration::days(1)),
    }
}

fn throughput(store: &crate::store::Store, now: DateTime<Utc>) -> Result<Throughput, ServiceError> {
    let mut t = Throughput {
        picked: vec![0; WORK_HOURS],
        packed: vec![0; WORK_HOURS],
        ..Throughput::default()
    };
    let today = now.with_timezone(&Local).date_naive();
    // The last hours may reach into yesterday: read both days' hours.
    let first = now - Duration::hours(WORK_HOURS as i64 - 1);
    let mut days = vec![first.with_timezone(&Local).date_naive()];
    if days[0] != today {
        days.push(today);
    }
    let hour_start = |at: DateTime<Utc>| {
        let l = at.with_timezone(&Local);
        l.date_naive()
            .and_hms_opt(chrono::Timelike::hour(&l), 0, 0)
            .unwrap_or_default()
    };
    let newest = hour_start(now);
    for day in days {
        let w = store.day_work(day).map_err(store_err)?;
        for (h, metric, n) in w.hours {
            let Some(start) = day.and_hms_opt(h, 0, 0) else {
                continue;
            };
            let back = (newest - start).num_hours();
            if !(0..WORK_HOURS as i64).contains(&back) {
                continue;
            }
            let i = WORK_HOURS - 1 - back as usize;
            match metric {
                Work::UnitsPicked => t.picked[i] += n,
                Work::UnitsPacked => t.packed[i] += n,
                _ => {}
            }
        }
        if day != today {
            continue;
        }
        for (user, metric, n) in w.users {
            let i = match t.people.iter().position(|p| p.user == user) {
                Some(i) => i,
                None => {
                    t.people.push(PersonWork {
                        user,
                        ..PersonWork::default()
                    });
                    t.people.len() - 1
                }
            };
            let p = &mut t.people[i];
            match metric {
                Work::Batches => p.batches += n,
                Work::UnitsPicked => {
                    p.picked += n;
                    t.picked_today += n;
                }
                Work::UnitsPacked => {
                    p.packed += n;
                    t.packed_today += n;
                }
                Work::ScansRefused => p.scans_refused += n,
                Work::ExceptionsRaised => p.exceptions += n,
            }
        }
    }
    Ok(t)
}

/// Counts a refused scan of `c` (a wrong item or slot) for the dashboard; the answer is the
/// scan's, whatever the count does.
pub(super) fn count_refused<T>(
    svc: &Service,
    c: &Allowed,
    now: DateTime<Utc>,
    r: Result<T, ServiceError>,
) -> Result<T, ServiceError> {
    if matches!(r, Err(ServiceError::WrongScan { .. }))
        && let Err(e) = svc.store().count_refused_scan(&c.user, now)
    {
        tracing::error!(user = %c.user, "counting a refused scan: {e}");
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_pickup_is_todays_until_it_has_gone() {
        let time = NaiveTime::from_hms_opt(16, 0, 0).unwrap();
        let local = |h, m| {
            Local
                .from_local_datetime(
                    &chrono::NaiveDate::from_ymd_opt(2026, 6, 10)
                        .unwrap()
                        .and_hms_opt(h, m, 0)
                        .unwrap(),
                )
                .unwrap()
                .with_timezone(&Utc)
        };
        assert_eq!(next_pickup(local(9, 30), time), local(16, 0));
        assert_eq!(
            next_pickup(local(16, 0), time),
            local(16, 0) + Duration::days(1)
        );
        assert_eq!(
            next_pickup(local(23, 0), time),
            local(16, 0) + Duration::days(1)
        );
    }

    #[test]
    fn a_pickup_that_is_not_a_time_is_refused_with_the_key() {
        let floor = |s: &str| crate::config::FloorConfig {
            pickup: Some(s.into()),
            ..Default::default()
        };
        assert_eq!(
            floor("07:45").pickup().unwrap(),
            NaiveTime::from_hms_opt(7, 45, 0).unwrap()
        );
        let e = floor("25:99").pickup().unwrap_err();
        assert!(e.contains("[floor] pickup"), "{e}");
        assert_eq!(
            crate::config::FloorConfig::default().pickup().unwrap(),
            NaiveTime::from_hms_opt(16, 0, 0).unwrap()
        );
    }
}
