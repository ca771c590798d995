//! Who is connected: a user's claims are let go when their last connection has gone.

use chrono::Utc;

use super::{Notice, Service};
use crate::domain::PickBatch;

impl Service {
    /// A connection from `user` opened.
    pub fn connected(&self, user: &str) {
        *self
            .connected
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(user.to_owned())
            .or_default() += 1;
    }

    /// A connection from `user` closed. Returns true when it was their last one, so the caller
    /// can release their claims after the timeout (see [`Service::release_if_gone`]).
    pub fn disconnected(&self, user: &str) -> bool {
        let mut c = self.connected.lock().unwrap_or_else(|p| p.into_inner());
        match c.get_mut(user) {
            Some(n) if *n > 1 => {
                *n -= 1;
                false
            }
            _ => {
                c.remove(user);
                true
            }
        }
    }

    /// Releases the batches of every holder not connected now (a daemon's start: claims from
    /// before the restart have no connection to end them).
    pub fn release_all_gone(&self) {
        let holders: std::collections::BTreeSet<String> = match self.store().batches() {
            Ok(b) => b.into_iter().map(|b| b.holder).collect(),
            Err(e) => {
                tracing::error!("listing batches: {e}");
                return;
            }
        };
        for h in holders {
            self.release_if_gone(&h);
        }
    }

    /// Releases every batch `user` holds if they have not come back.
    pub fn release_if_gone(&self, user: &str) {
        if self
            .connected
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(user)
        {
            return;
        }
        let _floor = self.lock_floor();
        let store = self.store();
        let batches = match store.batches() {
            Ok(b) => b,
            Err(e) => {
                tracing::error!("listing batches: {e}");
                return;
            }
        };
        for b in batches.into_iter().filter(|b| b.holder == user) {
            let reason = format!("{user} disconnected");
            // Whose the batch is, is decided again where it is released: a lead may have handed
            // it on meanwhile.
            let theirs = |b: &PickBatch| if b.holder == user { Ok(()) } else { Err(()) };
            match store.release_batch(b.id, theirs, "packline", &reason, Utc::now()) {
                Ok(None | Some(Err(()))) => {}
                Ok(Some(Ok(_))) => {
                    tracing::info!(batch = b.id, "released the batch of a disconnected client");
                    self.notify(Notice::ClaimReleased {
                        batch: b.id,
                        holder: user.to_owned(),
                        reason,
                    });
                }
                Err(e) => tracing::error!(batch = b.id, "releasing a batch: {e}"),
            }
        }
        self.changed();
    }
}
