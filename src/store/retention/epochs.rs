//! Key epochs in retention: moving live records out of an epoch that holds gone data, then
//! shredding it (see the module above for the rules).

use crate::store::backend::Bytes;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::{BATCH, PurgeReport};
use crate::domain::{OrderRecord, OrderState, RetentionPolicy};
use crate::store::RecordKind;
use crate::store::derived::IndexOps;
use crate::store::inquiry::{NOTE, note_mark, split_note_key};
use crate::store::{Error, Store, decode_record, epoch_key, index, seal, slot, slot_envelope};

impl Store {
    /// Moves live records out of epochs that hold gone data, then shreds those epochs.
    pub(super) fn shred_epochs(
        &mut self,
        policy: RetentionPolicy,
        now: DateTime<Utc>,
        report: &mut PurgeReport,
    ) -> Result<(), Error> {
        // The intake epoch is the one of the real time (new imports go there), whatever the
        // purge's `as_of`; it exists before anything moves into it.
        let (mut current, _) = self.keyring.current_epoch(now)?;
        #[derive(Default)]
        struct Census {
            /// Orders whose sealed recipient is in the epoch.
            live: Vec<String>,
            /// Inquiry notes sealed in the epoch, by key.
            notes: Vec<Bytes>,
            /// Bought labels sealed in the epoch (they carry the address, and must stay
            /// printable while their order is open).
            labels: Vec<crate::store::shipping::SealedLabel>,
            /// People's sealed words (exception notes, hold, reveal and void reasons), by
            /// reference.
            texts: Vec<Bytes>,
            gone: u64,
        }
        impl Census {
            fn holds_live(&self) -> bool {
                !self.live.is_empty()
                    || !self.notes.is_empty()
                    || !self.labels.is_empty()
                    || !self.texts.is_empty()
            }
        }
        let mut census: BTreeMap<u32, Census> = BTreeMap::new();
        for e in self.keyring.epochs() {
            census.entry(e.id).or_default();
        }
        // Live records: every slot, by the epoch its envelope names.
        for item in self.t.recipients.iter() {
            let (k, v) = item?;
            if let Some(epoch) = seal::envelope_epoch(&v)
                && let Some(c) = census.get_mut(&epoch)
            {
                c.live.push(String::from_utf8_lossy(&k).into_owned());
            }
        }
        for item in self.t.inquiries.scan_prefix([NOTE]) {
            let (k, v) = item?;
            if let Some(epoch) = seal::envelope_epoch(&v)
                && let Some(c) = census.get_mut(&epoch)
            {
                c.notes.push(k);
            }
        }
        for item in self.t.texts.iter() {
            let (k, v) = item?;
            if let Some(epoch) = seal::envelope_epoch(&v)
                && let Some(c) = census.get_mut(&epoch)
            {
                c.texts.push(k);
            }
        }
        for label in self.sealed_labels()? {
            if let Some(c) = label.epoch.and_then(|e| census.get_mut(&e)) {
                c.labels.push(label);
            }
        }
        // Records that left an epoch; marks of epochs already shredded are dropped.
        let mut orphaned = Vec::new();
        for k in self.t.epochs.iter().keys() {
            let k = k?;
            let (epoch, _) = split_epoch_key(&k)?;
            match census.get_mut(&epoch) {
                Some(c) => c.gone += 1,
                None => orphaned.push(k),
            }
        }
        for k in orphaned {
            self.t.epochs.remove(k)?;
        }
        // Data destroyed in the current epoch (a short retention, or a record re-sealed here
        // that expired within the week) must not wait for the week to end: start a new intake
        // epoch, and this one is handled like any other.
        if census.get(&current).is_some_and(|c| c.gone > 0) {
            current = self.keyring.rotate(now)?.id;
        }

        // The intake epoch this site published for the daemon that syncs a shared database:
        // it may still be sealing orders to it (`store::sites`).
        let published = self
            .published_key()?
            .map(|p| p.kept(now))
            .unwrap_or_default();
        let mut to_shred = Vec::new();
        // Epochs that took records in this pass: their census is stale, they stay.
        let mut received = std::collections::BTreeSet::new();
        for (epoch, c) in census {
            if epoch == current || published.contains(&epoch) || (c.holds_live() && c.gone == 0) {
                continue;
            }
            if c.holds_live() && !self.keyring.is_unlocked() {
                report.epochs_kept_locked += 1;
                continue;
            }
            let mut stays = false;
            for chunk in c.live.chunks(BATCH) {
                let (moved, stayed) =
                    self.reseal(chunk, epoch, current, policy, now, &mut received)?;
                report.recipients_resealed += moved;
                stays |= stayed;
            }
            for chunk in c.notes.chunks(BATCH) {
                let (moved, stayed) =
                    self.reseal_notes(chunk, epoch, current, now, &mut received)?;
                report.inquiry_notes_resealed += moved;
                stays |= stayed;
            }
            for chunk in c.texts.chunks(BATCH) {
                report.sealed_notes_resealed +=
                    self.reseal_texts(chunk, epoch, current, &mut received)?;
            }
            for chunk in c.labels.chunks(BATCH) {
                let (moved, stayed) =
                    self.reseal_labels(chunk, epoch, current, policy, now, &mut received)?;
                report.labels_resealed += moved;
                stays |= stayed;
            }
            if !stays {
                to_shred.push(epoch);
            }
        }
        to_shred.retain(|e| !received.contains(e));
        // Re-sealed records are durable before any secret they were sealed under is destroyed:
        // otherwise a crash could leave an open order's only copy sealed to a shredded epoch.
        self.flush()?;
        // The keyring forgets the secrets (atomically); the bookkeeping follows. A crash in
        // between leaves marks of a shredded epoch, which the next purge drops.
        self.keyring.shred(&to_shred, current, now)?;
        for epoch in &to_shred {
            for k in self.t.epochs.scan_prefix(epoch.to_be_bytes()).keys() {
                self.t.epochs.remove(k?)?;
            }
        }
        report.epochs_shredded += to_shred.len() as u64;
        Ok(())
    }

    /// Re-seals live records of `from` into their home epochs. Returns how many moved, and
    /// whether any record's home is `from` itself (then `from` must stay).
    fn reseal(
        &mut self,
        ids: &[String],
        from: u32,
        current: u32,
        policy: RetentionPolicy,
        now: DateTime<Utc>,
        received: &mut std::collections::BTreeSet<u32>,
    ) -> Result<(u64, bool), Error> {
        let mut moves = Vec::with_capacity(ids.len());
        let mut stayed = false;
        for id in ids {
            let Some(value) = self.t.recipients.get(id)? else {
                continue;
            };
            let env = slot_envelope(&value);
            if seal::envelope_epoch(env) != Some(from) {
                continue;
            }
            let rec = match self.t.orders.get(id)? {
                Some(v) => decode_record(&v)?,
                None => continue,
            };
            let home = self.home_epoch(&rec, current, policy, now)?;
            if home == from {
                stayed = true;
                continue;
            }
            let recipient = self.keyring.open(env, "re-sealing for retention")?;
            let sealed = self.keyring.seal_in(&recipient, home)?;
            // Index entries move with the record: they are keyed by its epoch's index key.
            let names = self
                .keyring
                .index_key(home)
                .map(|k| index::name_keys(k, &recipient.name))
                .unwrap_or_default();
            received.insert(home);
            moves.push((id.clone(), value.to_vec(), slot(&sealed, &names), names));
        }
        let mut ops = IndexOps::default();
        for (id, old, _, names) in &moves {
            ops.remove_names(id.as_bytes(), old);
            ops.add_names(id.as_bytes(), names.iter().map(|k| &k[..]));
        }
        let d = self.derived()?;
        ops.write_additions(d)?;
        self.transact(|tx| {
            for (id, _, new, names) in &moves {
                if names.is_empty() {
                    // No index key to hand: index it at the next unlock instead of never.
                    tx.pending_index.insert(id.as_str(), [])?;
                }
                tx.recipients.insert(id.as_str(), new.as_slice())?;
                tx.epochs.insert(epoch_key(from, id), [])?;
            }
            Ok(())
        })?;
        ops.write_removals(d)?;
        Ok((moves.len() as u64, stayed))
    }

    /// Where an order's sealed records (recipient, labels) belong: an open order's in the
    /// current intake epoch, a closed one's in the epoch of the day its retention ends.
    fn home_epoch(
        &mut self,
        rec: &OrderRecord,
        current: u32,
        policy: RetentionPolicy,
        now: DateTime<Utc>,
    ) -> Result<u32, Error> {
        Ok(match rec.closed_at {
            Some(closed)
                if rec.state == OrderState::Shipped || rec.state == OrderState::Cancelled =>
            {
                let day = policy.pii_expiry(closed).date_naive();
                self.keyring.expiry_epoch(day, now)?.0
            }
            _ => current,
        })
    }

    /// Re-seals the bought labels of `from` into their orders' home epochs, as
    /// [`Store::reseal`] does recipients: a labelled order waiting (a hold, an exception) keeps
    /// a printable label. Returns how many moved, and whether any label's home is `from`.
    fn reseal_labels(
        &mut self,
        labels: &[crate::store::shipping::SealedLabel],
        from: u32,
        current: u32,
        policy: RetentionPolicy,
        now: DateTime<Utc>,
        received: &mut std::collections::BTreeSet<u32>,
    ) -> Result<(u64, bool), Error> {
        let mut moves = Vec::with_capacity(labels.len());
        let mut stayed = false;
        for label in labels {
            let Some(sealed) = self.t.floor.get(&label.key)? else {
                continue;
            };
            if seal::envelope_epoch(&sealed) != Some(from) {
                continue;
            }
            let Some(rec) = self.get(&label.order)? else {
                continue;
            };
            let home = self.home_epoch(&rec, current, policy, now)?;
            if home == from {
                stayed = true;
                continue;
            }
            let doc = self
                .keyring
                .open_document(&sealed, "re-sealing for retention")?;
            let resealed = self.keyring.seal_document_in(&doc, home)?;
            received.insert(home);
            moves.push((
                label.key.clone(),
                sealed,
                resealed,
                crate::store::shipping::label_mark(label),
            ));
        }
        self.transact(|tx| {
            for (k, old, resealed, mark) in &moves {
                // Only the label read above: one bought or voided meanwhile stays as it is.
                if tx.floor.get(k)?.as_ref() == Some(old) {
                    tx.floor.insert(k, resealed.as_slice())?;
                    tx.epochs.insert(epoch_key(from, mark), [])?;
                }
            }
            Ok(())
        })?;
        Ok((moves.len() as u64, stayed))
    }

    /// Re-seals live inquiry notes of `from` into their home epochs: an open inquiry's to the
    /// current intake epoch, a resolved one's to the epoch of the day it expires. Returns how many
    /// moved, and whether any note's home is `from` itself (then `from` must stay).
    fn reseal_notes(
        &mut self,
        keys: &[Bytes],
        from: u32,
        current: u32,
        now: DateTime<Utc>,
        received: &mut std::collections::BTreeSet<u32>,
    ) -> Result<(u64, bool), Error> {
        let mut moves = Vec::with_capacity(keys.len());
        let mut stayed = false;
        for k in keys {
            let Some((id, n)) = split_note_key(k) else {
                continue;
            };
            let Some(sealed) = self.t.inquiries.get(k)? else {
                continue;
            };
            if seal::envelope_epoch(&sealed) != Some(from) {
                continue;
            }
            let Some(q) = self.inquiry(id)? else {
                continue;
            };
            let home = match q.resolved_at {
                Some(resolved) => {
                    let day = RetentionPolicy::inquiry_expiry(resolved).date_naive();
                    self.keyring.expiry_epoch(day, now)?.0
                }
                None => current,
            };
            if home == from {
                stayed = true;
                continue;
            }
            let text = self
                .keyring
                .open_note(&sealed, "re-sealing for retention")?;
            let resealed = self.keyring.seal_note_in(&text, home)?;
            received.insert(home);
            moves.push((k.clone(), resealed, note_mark(id, n)));
        }
        self.transact(|tx| {
            for (k, resealed, mark) in &moves {
                tx.inquiries.insert(k, resealed.as_slice())?;
                tx.epochs.insert(epoch_key(from, mark), [])?;
            }
            Ok(())
        })?;
        Ok((moves.len() as u64, stayed))
    }
}

fn split_epoch_key(k: &[u8]) -> Result<(u32, String), Error> {
    let bad = || Error::corrupt(RecordKind::Index, "an epoch index entry");
    let epoch = u32::from_be_bytes(k.get(..4).ok_or_else(bad)?.try_into().map_err(|_| bad())?);
    let id = String::from_utf8(k[4..].to_vec()).map_err(|_| bad())?;
    Ok((epoch, id))
}
