//! `packline serve`: the one process that owns the store for a warehouse. It serves the socket,
//! runs the Amazon sync loop and the daily retention purge in the background, and shuts down
//! cleanly on SIGTERM or SIGINT (in-flight requests finish, the store is flushed, the socket
//! file removed).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;

use super::sync::{SyncPlan, sync_once};
use super::{Notice, Service};
use crate::amazon::client::SpApi;

pub struct DaemonOptions {
    pub socket: PathBuf,
    pub socket_group: Option<String>,
    /// The Amazon connection, if this site has one configured.
    pub sync: Option<(Arc<SpApi>, SyncPlan)>,
    /// Pause between sync rounds. searchOrders refills one request every 180 s; rounds a few
    /// minutes apart stay within it.
    pub sync_every: Duration,
    pub purge_every: Duration,
    /// The user background work is recorded under in the audit log.
    pub user: String,
}

/// Runs until SIGTERM or SIGINT (or `stop` turns true).
pub async fn run(
    service: Arc<Service>,
    opts: DaemonOptions,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let listener = super::server::bind(&opts.socket, opts.socket_group.as_deref())?;
    if let Some((api, _)) = &opts.sync {
        // Labels and confirmations use the same connection (and the same quotas) as sync.
        service.set_amazon(api.clone());
    }
    println!("serving on {}", opts.socket.display());
    tracing::info!(socket = %opts.socket.display(), "serving");
    let (tx, rx) = watch::channel(false);
    let signals = {
        let tx = tx.clone();
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("SIGTERM handler");
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
        opts.sync,
        opts.sync_every,
        opts.purge_every,
        opts.user,
        rx.clone(),
    ));
    super::server::serve(service, listener, opts.socket, rx).await?;
    background.abort();
    signals.abort();
    Ok(())
}

async fn background(
    service: Arc<Service>,
    sync: Option<(Arc<SpApi>, SyncPlan)>,
    sync_every: Duration,
    purge_every: Duration,
    user: String,
    mut stop: watch::Receiver<bool>,
) {
    match &sync {
        Some(_) => service.set_sync_state(|s| s.enabled = true),
        None => tracing::info!("sync is off: no [amazon] connection is configured"),
    }
    let mut next_purge = tokio::time::Instant::now() + purge_every;
    loop {
        if let Some((api, plan)) = &sync {
            service.set_sync_state(|s| s.running = true);
            let svc = &*service;
            let mut target = svc;
            let result = sync_once(api, &mut target, plan, &user, Utc::now(), |pages, c| {
                svc.notify(Notice::SyncProgress {
                    pages: pages as u64,
                    new: c.new,
                    updated: c.updated,
                    cancelled: c.cancelled,
                });
            })
            .await;
            let (counts, error) = match result {
                Ok(c) => (c, None),
                Err(e) => (Default::default(), Some(e.to_string())),
            };
            if let Some(e) = &error {
                tracing::error!("sync: {e}");
            }
            service.set_sync_state(|s| {
                s.running = false;
                if error.is_none() {
                    s.last_ok = Some(Utc::now());
                }
                s.last_error = error.clone();
            });
            service.notify(Notice::SyncFinished {
                new: counts.new,
                updated: counts.updated,
                cancelled: counts.cancelled,
                error,
            });
        }
        if tokio::time::Instant::now() >= next_purge {
            next_purge += purge_every;
            let svc = service.clone();
            let who = user.clone();
            let r = tokio::task::spawn_blocking(move || {
                svc.with_store_mut(|s| {
                    s.purge(svc.settings().retention, Utc::now(), &who, Utc::now())
                })
            })
            .await;
            match r {
                Ok(Ok(report)) => tracing::info!(?report, "daily purge"),
                Ok(Err(e)) => tracing::error!("daily purge: {e}"),
                Err(e) => tracing::error!("daily purge: {e}"),
            }
        }
        let wait = if sync.is_some() {
            sync_every
        } else {
            next_purge.saturating_duration_since(tokio::time::Instant::now())
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
    }
}
