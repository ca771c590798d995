//! `packline serve`: the one process that owns the store for a warehouse. It serves the socket,
//! runs the Amazon sync loop and the daily retention purge in the background, and shuts down
//! cleanly on SIGTERM or SIGINT (in-flight requests finish, the store is flushed, the socket
//! file removed).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;

use super::Service;
use crate::amazon::client::SpApi;

pub struct DaemonOptions {
    pub socket: PathBuf,
    pub socket_group: Option<String>,
    /// The Amazon connection, if this site has one configured: the sync loop runs with it.
    pub amazon: Option<Arc<SpApi>>,
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
    if let Some(api) = &opts.amazon {
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
        opts.amazon.is_some(),
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
    sync: bool,
    sync_every: Duration,
    purge_every: Duration,
    user: String,
    mut stop: watch::Receiver<bool>,
) {
    if sync {
        service.set_sync_state(|s| s.enabled = true);
    } else {
        tracing::info!("sync is off: no [amazon] connection is configured");
    }
    let mut next_purge = tokio::time::Instant::now() + purge_every;
    loop {
        if sync {
            // A refusal (a sync someone started by hand is still running) waits for the next
            // round; errors are in the sync state and the log already.
            let _ = service.sync_now(&user).await;
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
        let wait = if sync {
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
