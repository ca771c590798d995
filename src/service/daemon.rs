//! `packline serve`: the one process that owns the store for a warehouse. It serves the socket,
//! runs the Amazon sync loop, the returns report pull and the daily retention purge in the background, and shuts down
//! cleanly on SIGTERM or SIGINT (in-flight requests finish, the store is flushed, the socket
//! file removed).

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;

use super::Service;
use crate::amazon::client::SpApi;
use crate::store::Refusal;

pub struct DaemonOptions {
    pub socket: PathBuf,
    pub socket_group: Option<String>,
    /// The Amazon connection, if this site has one configured: the sync loop runs with it.
    pub amazon: Option<Arc<SpApi>>,
    /// Pause between sync rounds. searchOrders refills one request every 180 s; rounds a few
    /// minutes apart stay within it.
    pub sync_every: Duration,
    pub purge_every: Duration,
    /// Pause between pulls of the returns report (createReport allows one a minute; returns
    /// change slowly: a few hours apart is plenty).
    pub returns_every: Duration,
    /// The user background work is recorded under in the audit log.
    pub user: String,
    /// The site this daemon serves: it holds the site's lease while it runs (`store::lease`).
    pub site: String,
}

/// How long a site's lease lasts unless renewed; it is renewed three times as often.
const LEASE: Duration = Duration::from_secs(15);

/// The lease of the daemon that talks to the Amazon account for every site (no site is named
/// so: site names have no ':').
pub const SYNC_LEASE: &str = ":sync";

/// Takes or renews the sync lease when it is free or ours; notes whether this daemon leads.
/// Whether it has just become the leader.
fn lead(service: &Service, holder: &str, ttl: chrono::Duration, leader: &AtomicBool) -> bool {
    let now = service.with_store(|s| s.take_lease(SYNC_LEASE, holder, Utc::now(), ttl));
    let leads = match now {
        Ok(()) => true,
        Err(crate::store::Error::Refused(Refusal::LeaseHeld { .. })) => false,
        // The database unreachable a moment, or another daemon writing the lease at the same
        // time: as before, until the lease says otherwise.
        Err(e) => {
            tracing::warn!("the sync lease was not renewed: {e}");
            leader.load(Ordering::Relaxed)
        }
    };
    let changed = leader.swap(leads, Ordering::Relaxed) != leads;
    if changed {
        match leads {
            true => tracing::info!("this daemon syncs the Amazon account now"),
            false => tracing::info!("another daemon syncs the Amazon account"),
        }
    }
    changed && leads
}

/// How often a site on a shared database publishes its intake key again (well within
/// `seal::TRUST_PUBLISHED`, and so that a new week's epoch is published within the hour).
const PUBLISH_EVERY: Duration = Duration::from_secs(60 * 60);

/// Publishes this site's intake key for the daemon that syncs a shared database
/// (`store::sites`); nothing to do on sled.
fn publish_key(service: &Service) {
    let shared = service.with_store(|s| s.shared());
    if !shared {
        return;
    }
    match service.publish_key(Utc::now()) {
        Ok(k) => tracing::info!(epoch = k.epoch, "intake key published for the syncing site"),
        Err(e) => tracing::warn!("the site's intake key was not published: {e}"),
    }
}

/// How often the carriers' tracking is asked about shipped packages.
const TRACK_EVERY: Duration = Duration::from_secs(30 * 60);

/// Runs until SIGTERM or SIGINT (or `stop` turns true).
pub async fn run(
    service: Arc<Service>,
    opts: DaemonOptions,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    // One daemon per site: a second is refused before it binds anything.
    let holder = crate::store::lease::holder();
    let ttl = chrono::Duration::from_std(LEASE).unwrap_or_else(|_| chrono::Duration::seconds(15));
    service.with_store(|s| s.take_lease(&opts.site, &holder, Utc::now(), ttl))?;
    // One daemon syncs the Amazon account for every site on the store: whoever holds the sync
    // lease (taken over when its holder stops or dies), so the account's quotas are spent once.
    let leader = Arc::new(AtomicBool::new(false));
    let syncs = opts.amazon.is_some();
    if syncs && !lead(&service, &holder, ttl, &leader) {
        tracing::info!("another daemon syncs the Amazon account");
    }
    publish_key(&service);
    let who = opts.user.clone();
    // Changes other daemons make to the store (on a shared database) reach this one's clients.
    {
        let me = Arc::downgrade(&service);
        service.with_store(|s| {
            s.watch_changes(Arc::new(move || {
                if let Some(svc) = me.upgrade() {
                    svc.changed_elsewhere();
                }
            }))
        })?;
    }
    let listener = match super::server::bind(&opts.socket, opts.socket_group.as_deref()) {
        Ok(l) => l,
        Err(e) => {
            let _ = service.with_store(|s| s.release_lease(&opts.site, &holder));
            return Err(e.into());
        }
    };
    // Print jobs the last process left queued, never begun, are sent now.
    service.send_left_prints();
    let (tx, rx) = watch::channel(false);
    let renewing = {
        let (svc, site, holder, tx) = (
            service.clone(),
            opts.site.clone(),
            holder.clone(),
            tx.clone(),
        );
        let leader = leader.clone();
        tokio::spawn(async move {
            let mut published = std::time::Instant::now();
            loop {
                tokio::time::sleep(LEASE / 3).await;
                if published.elapsed() >= PUBLISH_EVERY {
                    published = std::time::Instant::now();
                    let svc = svc.clone();
                    let _ = tokio::task::spawn_blocking(move || publish_key(&svc)).await;
                }
                if syncs {
                    let (s2, holder, leader) = (svc.clone(), holder.clone(), leader.clone());
                    let took =
                        tokio::task::spawn_blocking(move || lead(&s2, &holder, ttl, &leader)).await;
                    // Taken over from a daemon that stopped or died: sync now, not at the
                    // next round of the schedule (in a task of its own: a sync may wait on
                    // Amazon's quota for minutes, and the leases are renewed meanwhile).
                    if let Ok(true) = took {
                        let (svc, who) = (svc.clone(), who.clone());
                        tokio::spawn(async move {
                            let _ = svc.sync_now(&who).await;
                        });
                    }
                }
                let (svc, site, holder) = (svc.clone(), site.clone(), holder.clone());
                let renewed = tokio::task::spawn_blocking(move || {
                    svc.with_store(|s| s.take_lease(&site, &holder, Utc::now(), ttl))
                })
                .await;
                match renewed {
                    Ok(Ok(())) => {}
                    // Another daemon has the site now: this one stops serving it.
                    Ok(Err(e @ crate::store::Error::Refused(Refusal::LeaseHeld { .. }))) => {
                        tracing::error!("the site's lease was lost, stopping: {e}");
                        let _ = tx.send(true);
                        return;
                    }
                    // The database unreachable a moment (or the lease written by another at the
                    // same time): the lease still runs; try again.
                    Ok(Err(e)) => tracing::warn!("the site's lease was not renewed: {e}"),
                    Err(e) => tracing::warn!("the site's lease was not renewed: {e}"),
                }
            }
        })
    };
    let settling = opts.amazon.as_ref().map(|api| {
        // Labels and confirmations use the same connection (and the same quotas) as sync.
        service.set_amazon(api.clone());
        // Shipping API v2 purchases left in flight by the last process are sent again under
        // their keys: Amazon answers each with the label it bought, or the intent goes. A stop
        // meanwhile ends it between purchases; the one under way is answered and kept first.
        let svc = service.clone();
        let stopping = rx.clone();
        tokio::task::spawn_blocking(move || {
            let n = svc.settle_purchases_v2_until(Utc::now(), || *stopping.borrow());
            if n > 0 {
                tracing::info!(purchases = n, "label purchases in flight settled");
            }
        })
    });
    // SIGTERM is handled from before the daemon says it serves: a stop sent as soon as it
    // says so is a clean stop.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    // Said for whoever started it; the daemon serves on whether or not anyone reads it (a
    // closed stdout is no reason to stop serving the floor).
    let _ = writeln!(std::io::stdout(), "serving on {}", opts.socket.display());
    tracing::info!(socket = %opts.socket.display(), "serving");
    let signals = {
        let tx = tx.clone();
        let mut stop = stop.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
                _ = stop.wait_for(|s| *s) => {}
            }
            tracing::info!("shutting down");
            let _ = tx.send(true);
        })
    };
    // The name and SKU index database opens while the floor is already being served, so the
    // first import or name search does not wait for it.
    {
        let svc = service.clone();
        tokio::task::spawn_blocking(move || {
            if let Err(e) = svc.with_store(|s| s.open_index()) {
                tracing::warn!("the index database did not open (it will be retried on use): {e}");
            }
        });
    }
    // Claims from before this start: their holders get the usual time to come back.
    {
        let svc = service.clone();
        let wait = svc.settings().claim_timeout;
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            let _ = tokio::task::spawn_blocking(move || svc.release_all_gone()).await;
        });
    }
    let background = tokio::spawn(background(
        service.clone(),
        syncs.then(|| leader.clone()),
        opts.sync_every,
        opts.purge_every,
        opts.returns_every,
        opts.user,
        rx.clone(),
    ));
    let served = super::server::serve(service.clone(), listener, opts.socket, rx).await;
    background.abort();
    signals.abort();
    renewing.abort();
    // The runtime outlives the settling of purchases: an answer from Amazon is never dropped
    // half-kept by a shutdown (and Amazon calls never meet a runtime that is going away).
    if let Some(settling) = settling {
        let _ = settling.await;
    }
    let site = opts.site;
    let released = tokio::task::spawn_blocking(move || {
        service.with_store(|s| {
            s.release_lease(SYNC_LEASE, &holder)?;
            s.release_lease(&site, &holder)
        })
    })
    .await;
    if let Ok(Err(e)) = released {
        tracing::warn!("the site's lease was not given back (it expires on its own): {e}");
    }
    served?;
    Ok(())
}

/// The scheduled jobs, each in a task of its own so that one failing (or panicking) never
/// stops another: the Amazon sync every `sync_every`, the returns report every `returns_every`
/// (its first pull a minute after the start), the retention purge every `purge_every`.
/// Each round runs in a task of its own too, and one that fails is reported in the job's
/// state and the log, and the next round runs as planned.
async fn background(
    service: Arc<Service>,
    // Whether this daemon leads the account's sync, when it has an Amazon connection.
    leader: Option<Arc<AtomicBool>>,
    sync_every: Duration,
    purge_every: Duration,
    returns_every: Duration,
    user: String,
    stop: watch::Receiver<bool>,
) {
    let sync = leader.is_some();
    let leader = leader.unwrap_or_default();
    if sync {
        service.set_sync_state(|s| s.enabled = true);
    } else {
        tracing::info!("sync is off: no [amazon] connection is configured");
    }
    let syncing = sync.then(|| {
        let (svc, who) = (service.clone(), user.clone());
        let planned = {
            let svc = service.clone();
            move |at: tokio::time::Instant| {
                // The schedule's instant as a time of day, for the dashboard.
                let ahead = at.saturating_duration_since(tokio::time::Instant::now());
                let next = Utc::now() + chrono::Duration::from_std(ahead).unwrap_or_default();
                svc.set_sync_state(|s| s.next_sync = Some(next));
            }
        };
        let leader = leader.clone();
        tokio::spawn(every(
            sync_every,
            Duration::ZERO,
            stop.clone(),
            move || {
                let (svc, who, leads) = (svc.clone(), who.clone(), leader.load(Ordering::Relaxed));
                async move {
                    if !leads {
                        return;
                    }
                    // A refusal (a sync someone started by hand still runs) waits for the next
                    // round; errors are in the sync state and the log already.
                    let _ = svc.sync_now(&who).await;
                }
            },
            planned,
        ))
    });
    let returns = sync.then(|| {
        let (svc, who) = (service.clone(), user.clone());
        let first = returns_every.min(Duration::from_secs(60));
        let leader = leader.clone();
        tokio::spawn(every(
            returns_every,
            first,
            stop.clone(),
            move || {
                let (svc, who, leads) = (svc.clone(), who.clone(), leader.load(Ordering::Relaxed));
                async move {
                    if !leads {
                        return;
                    }
                    // Errors are in the sync state (`returns_error`) and the log already.
                    let _ = svc.returns_sync_now(&who).await;
                }
            },
            |_| {},
        ))
    });
    // Where shipped Shipping API v2 packages are: every half hour, each package awaiting
    // delivery asked once, within getTracking's quota.
    let tracking = sync.then(|| {
        let svc = service.clone();
        let leader = leader.clone();
        tokio::spawn(every(
            TRACK_EVERY,
            Duration::from_secs(120),
            stop.clone(),
            move || {
                let (svc, leads) = (svc.clone(), leader.load(Ordering::Relaxed));
                async move {
                    if !leads {
                        return;
                    }
                    let r = tokio::task::spawn_blocking(move || {
                        let mut after = None;
                        let mut delivered = 0;
                        loop {
                            let (last, n) = svc.track_deliveries(after, 200, Utc::now())?;
                            delivered += n;
                            match last {
                                Some(l) => after = Some(l),
                                None => return Ok::<_, super::ServiceError>(delivered),
                            }
                        }
                    })
                    .await;
                    match r {
                        Ok(Ok(0)) => {}
                        Ok(Ok(n)) => tracing::info!(delivered = n, "deliveries tracked"),
                        Ok(Err(e)) => tracing::warn!("tracking deliveries: {e}"),
                        Err(e) => tracing::error!("tracking deliveries stopped unexpectedly: {e}"),
                    }
                }
            },
            |_| {},
        ))
    });
    let purging = {
        let (svc, who) = (service.clone(), user.clone());
        tokio::spawn(every(
            purge_every,
            purge_every,
            stop.clone(),
            move || {
                let (svc, who) = (svc.clone(), who.clone());
                async move {
                    let s2 = svc.clone();
                    let r = tokio::task::spawn_blocking(move || {
                        s2.with_store_mut(|s| {
                            s.purge(s2.settings().retention, Utc::now(), &who, Utc::now())
                        })
                    })
                    .await;
                    let error = match r {
                        Ok(Ok(report)) => {
                            tracing::info!(?report, "daily purge");
                            None
                        }
                        Ok(Err(e)) => Some(e.to_string()),
                        Err(e) => Some(format!("the purge stopped unexpectedly: {e}")),
                    };
                    if let Some(e) = &error {
                        tracing::error!("daily purge: {e}");
                    }
                    svc.set_sync_state(|s| {
                        if error.is_none() {
                            s.purge_last_ok = Some(Utc::now());
                        }
                        s.purge_error = error;
                    });
                }
            },
            |_| {},
        ))
    };
    if let Some(t) = syncing {
        let _ = t.await;
        // No schedule runs a sync any more.
        service.set_sync_state(|s| s.next_sync = None);
    }
    if let Some(t) = returns {
        let _ = t.await;
    }
    if let Some(t) = tracking {
        let _ = t.await;
    }
    let _ = purging.await;
}

/// Runs `round` after `first`, then every `period`, each round in a task of its own (a panic in
/// one is caught there, logged, and the next round runs), until `stop` turns true. `planned` is
/// told when each next round is due, as soon as it is planned.
async fn every<F, Fut>(
    period: Duration,
    first: Duration,
    mut stop: watch::Receiver<bool>,
    round: F,
    planned: impl Fn(tokio::time::Instant),
) where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let mut next = tokio::time::Instant::now() + first;
    planned(next);
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {}
            _ = stop.changed() => return,
        }
        next += period;
        planned(next);
        if let Err(e) = tokio::spawn(round()).await {
            tracing::error!("a scheduled job stopped unexpectedly: {e}");
        }
    }
}
