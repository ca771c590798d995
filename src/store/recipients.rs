//! Sealed recipients: reveals (audited first), the recipient a document needs, lookups by
//! name through the blind index, and indexing the names of orders imported while locked.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use super::backend::Bytes;
use super::intake::IMPORT_CHUNK;
use super::{
    Error, Store, audit, audit_in, derived, index, notes, seal, slot, slot_envelope, slot_names,
};
use crate::domain::text::SEARCH_FOLD;
use crate::domain::{OrderId, Recipient};
use crate::store::RecordKind;
use crate::store::refusal::InputRefusal;

impl Store {
    /// Opens an order's recipient for a person, recording who and why in the audit log first.
    /// Needs the store unlocked and a reason.
    pub fn reveal(
        &self,
        id: &OrderId,
        user: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Recipient, Error> {
        if reason.trim().is_empty() {
            return Err(InputRefusal::RevealWithoutReason.into());
        }
        let envelope = self.t.recipients.get(id.as_str())?.ok_or_else(|| {
            match self.t.orders.contains_key(id.as_str()) {
                Ok(true) => Error::NoRecipient(id.clone()),
                _ => Error::NoSuchOrder(id.clone()),
            }
        })?;
        let recipient = self
            .keyring
            .open(slot_envelope(&envelope), "revealing a recipient")?;
        // The reason is a lead's words: sealed, and the audit entry names where.
        let sealed = self.seal_words(reason, "the reason for a reveal", now)?;
        let reference = notes::reveal_ref(id.as_str(), now);
        self.transact(|tx| {
            let kept = notes::Words::Sealed(&sealed).put(tx, reference.clone())?;
            audit_in(
                tx,
                user,
                "reveal",
                Some(id.as_str()),
                Some(&kept.audit()),
                now,
            )
        })?;
        self.flush()?;
        Ok(recipient)
    }

    /// Opens an order's recipient for a document the caller has already audited (a packing slip
    /// or label print job). `None` when no recipient is kept.
    pub fn recipient_for_document(&self, id: &OrderId) -> Result<Option<Recipient>, Error> {
        match self.t.recipients.get(id.as_str())? {
            Some(v) => Ok(Some(
                self.keyring
                    .open(slot_envelope(&v), "printing a packing slip")?,
            )),
            None => Ok(None),
        }
    }

    /// Finds orders by recipient name through the blind index. Needs the store unlocked (each
    /// epoch's index key derives from its sealed secret). Matches the full name, or every word of
    /// the query.
    pub fn lookup_name(
        &mut self,
        text: &str,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<OrderId>, Error> {
        if !self.keyring.is_unlocked() {
            return Err(Error::Locked {
                action: "a name lookup",
            });
        }
        self.index_pending()?;
        let names = &self.derived()?.names;
        let mut found = BTreeSet::new();
        // Records are indexed under the key of the epoch they are sealed in: ask every epoch.
        for (_, key) in self.keyring.index_keys().unwrap_or_default() {
            let Some(q) = index::query(key, text) else {
                break;
            };
            // The orders under every entry of the query...
            let mut ids: Option<BTreeSet<Vec<u8>>> = None;
            for k in &q {
                let under: BTreeSet<Vec<u8>> = names
                    .scan_prefix(k)
                    .keys()
                    .map(|e| Ok(derived::name_entry_id(&e?).to_vec()))
                    .collect::<Result<_, Error>>()?;
                ids = Some(match ids {
                    None => under,
                    Some(acc) => acc.intersection(&under).cloned().collect(),
                });
            }
            // ...whose sealed slot still lists them all: this passes over entries a crash left
            // stale (see `derived`).
            for id in ids.unwrap_or_default() {
                if let Some(v) = self.t.recipients.get(&id)?
                    && q.iter().all(|k| slot_names(&v).any(|n| n == k))
                {
                    found.insert(id);
                }
            }
        }
        self.record_audit(&audit::Record {
            at: now,
            user,
            action: "lookup_name",
            order: None,
            reason: Some(&format!("{} found", found.len())),
        })?;
        found
            .into_iter()
            .map(|b| {
                let s = String::from_utf8(b)
                    .map_err(|_| Error::corrupt(RecordKind::Index, "a name index entry"))?;
                OrderId::parse(&s).map_err(|e| {
                    Error::corrupt(RecordKind::Index, format!("a name index entry: {e}"))
                })
            })
            .collect()
    }

    /// Indexes the names of orders imported while the store was locked. Returns how many. A
    /// record that cannot be opened (its epoch shredded, or damaged) is dropped from the waiting
    /// list with a warning: it can never be indexed, and must not block every later unlock.
    pub fn index_pending(&mut self) -> Result<u64, Error> {
        if !self.keyring.is_unlocked() || self.t.pending_index.is_empty() {
            return Ok(0);
        }
        self.in_steps(Self::index_pending_steps)
    }

    /// Stores whose blind index was built with an older [`SEARCH_FOLD`] have every recipient
    /// put on the waiting list (no secret needed), so the next unlocked use indexes each name
    /// again, as it is searched now; the entries of the older form are removed as each is done.
    /// Marked once done, so this walks the recipients once.
    pub(super) fn settle_search_fold(&self) -> Result<(), Error> {
        const MARK: &[u8] = super::keys::meta::SEARCH_FOLD.as_bytes();
        let now = SEARCH_FOLD.to_be_bytes();
        if self.t.meta.get(MARK)?.as_deref() == Some(&now[..]) {
            return Ok(());
        }
        let mut batch = super::backend::Batch::default();
        let mut n = 0usize;
        for k in self.t.recipients.iter().keys() {
            batch.insert(k?, []);
            n += 1;
            if n.is_multiple_of(IMPORT_CHUNK) {
                self.t
                    .pending_index
                    .apply_batch(std::mem::take(&mut batch))?;
            }
        }
        self.t.pending_index.apply_batch(batch)?;
        if n > 0 {
            tracing::info!(
                recipients = n,
                "names are indexed again at the next unlock, for searches without accents"
            );
        }
        self.t.meta.insert(MARK, now)?;
        Ok(())
    }

    pub(super) fn index_pending_steps(&mut self) -> Result<u64, Error> {
        let mut done = 0;
        loop {
            let batch: Vec<Bytes> = self
                .t
                .pending_index
                .iter()
                .keys()
                .take(IMPORT_CHUNK)
                .collect::<Result<_, _>>()?;
            if batch.is_empty() {
                break;
            }
            let mut work = Vec::with_capacity(batch.len());
            // Entries of a slot indexed before (under an older fold) that its new names drop:
            // removed once the new slot is written.
            let mut stale = derived::IndexOps::default();
            for id in &batch {
                let slot_value = match self.t.recipients.get(id)? {
                    Some(v) => {
                        let old: Vec<Vec<u8>> = slot_names(&v).map(<[u8]>::to_vec).collect();
                        let env = slot_envelope(&v);
                        let keyed = seal::envelope_epoch(env)
                            .and_then(|e| self.keyring.index_key(e).copied());
                        match (self.keyring.open(env, "indexing names"), keyed) {
                            (Ok(r), Some(key)) => {
                                let names = index::name_keys(&key, &r.name);
                                stale.remove_keys(
                                    id,
                                    old.iter()
                                        .map(Vec::as_slice)
                                        .filter(|k| !names.iter().any(|n| n == k)),
                                );
                                Some(slot(env, &names))
                            }
                            (Err(e), _) => {
                                tracing::warn!(
                                    "a record waiting for its name index cannot be opened: {e}"
                                );
                                None
                            }
                            (Ok(_), None) => None,
                        }
                    }
                    None => None,
                };
                work.push((id.clone(), slot_value));
            }
            let mut ops = derived::IndexOps::default();
            for (id, slot_value) in &work {
                if let Some(v) = slot_value {
                    ops.add_names(id, slot_names(v));
                }
            }
            ops.write_additions(self.derived()?)?;
            self.transact(|tx| {
                for (id, slot_value) in &work {
                    tx.pending_index.remove(id)?;
                    if let Some(v) = slot_value {
                        tx.recipients.insert(id, v.as_slice())?;
                    }
                }
                Ok(())
            })?;
            stale.write_removals(self.derived()?)?;
            done += work.len() as u64;
        }
        if done > 0 {
            self.flush()?;
        }
        Ok(done)
    }
}
