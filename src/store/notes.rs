//! Sealed free text: the words people type on the floor (exception notes and resolutions, hold,
//! reveal and void reasons), each sealed with `age` like an inquiry's note, in the `texts` tree
//! under a reference such as `exceptions/ORDER/0` (the value is the envelope). Records and the
//! audit log name the reference, never the words. Sealing needs no secret; reading needs the store
//! unlocked and is audited (the entry names the references, never the text).
//!
//! Audit entries that carry a sealed reference (`sealed note REF`) instead of a person's words:
//! `raise_exception` (the note), `resolve` (the resolution), `hold` (the reason), `release_hold`
//! and `release_pick` of a held order (the hold's reason), `reveal` (the reason), `label_voided`
//! (the reason). Words packline writes itself (sync's "buyer asked to cancel", a label purchase's
//! flags) hold no personal text and stay as they are.
//!
//! Retention (`retention`): exception notes and resolutions go a year after resolution; hold
//! reasons when the hold is released and, left on a closed order, with its recipient; reveal and
//! void reasons with the order's recipient. Each removal marks the epoch its words were sealed to,
//! so that epoch is shredded; words still kept are re-sealed out of an epoch being shredded.

use crate::store::backend::Bytes;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::records::{self, after::Exceptions2, floor::Hold2};
use super::{Error, Store, Tx, TxResult, decode_record, epoch_key, seal};
use crate::domain::{FreeText, Hold, NoteText, OrderId, RetentionPolicy};
use crate::store::RecordKind;
use crate::store::refusal::InputRefusal;
pub use crate::store::values::{StoredException, StoredHold, StoredText};

/// The reference of an exception note's words: the order and the note's number.
pub(super) fn exception_ref(order: &str, n: usize) -> String {
    format!("exceptions/{order}/{n}")
}

/// The reference of an exception's resolution.
pub(super) fn resolution_ref(order: &str, n: usize) -> String {
    format!("exceptions/{order}/{n}/resolution")
}

/// The reference of an order's hold reason (one hold at a time).
pub(super) fn hold_ref(order: &str) -> String {
    format!("hold/{order}")
}

/// The reference of a reveal's reason.
pub(super) fn reveal_ref(order: &str, at: DateTime<Utc>) -> String {
    format!(
        "reveal/{order}/{}",
        at.timestamp_nanos_opt().unwrap_or_default()
    )
}

/// The reference of a void's reason.
pub(super) fn void_ref(order: &str, package: u32, at: DateTime<Utc>) -> String {
    format!(
        "void/{order}/{package}/{}",
        at.timestamp_nanos_opt().unwrap_or_default()
    )
}

/// What the audit log says in place of sealed words.
pub(super) fn audit_reference(reference: &str) -> String {
    format!("sealed note {reference}")
}

/// The prefixes of the references kept on the order's personal-data schedule.
pub(super) fn pii_prefixes(order: &str) -> [String; 3] {
    [
        hold_ref(order),
        format!("reveal/{order}/"),
        format!("void/{order}/"),
    ]
}

impl StoredText {
    pub(super) fn view(&self) -> FreeText {
        match self {
            StoredText::System(s) => FreeText::System(s.clone()),
            StoredText::Sealed(r) => FreeText::Sealed(r.clone()),
        }
    }

    /// The audit entry's reason for these words.
    pub(super) fn audit(&self) -> String {
        match self {
            StoredText::System(s) => s.clone(),
            StoredText::Sealed(r) => audit_reference(r),
        }
    }
}

/// Words about to be written in a transaction: packline's own, or a person's, sealed before the
/// transaction starts (sealing is slow, and a transaction may run more than once).
#[derive(Clone, Copy)]
pub(super) enum Words<'a> {
    System(&'a str),
    Sealed(&'a [u8]),
}

impl Words<'_> {
    /// Writes the words under `reference` (when sealed) and gives what the record keeps.
    pub(super) fn put(&self, tx: &Tx<'_>, reference: String) -> TxResult<StoredText> {
        Ok(match self {
            Words::System(s) => StoredText::System((*s).to_owned()),
            Words::Sealed(envelope) => {
                // Words replaced under the same reference leave their epoch: mark it.
                if let Some(old) = tx.texts.replace(reference.as_bytes(), *envelope)?
                    && let Some(epoch) = seal::envelope_epoch(&old)
                {
                    tx.epochs.insert(epoch_key(epoch, &reference), [])?;
                }
                StoredText::Sealed(reference)
            }
        })
    }
}

/// Removes sealed words inside a transaction, marking the epoch they were sealed to so it is
/// shredded (stale copies in sled's log included).
pub(super) fn drop_in(tx: &Tx<'_>, text: &StoredText) -> TxResult<()> {
    if let StoredText::Sealed(reference) = text {
        drop_ref_in(tx, reference)?;
    }
    Ok(())
}

pub(super) fn drop_ref_in(tx: &Tx<'_>, reference: &str) -> TxResult<bool> {
    match tx.texts.take(reference.as_bytes())? {
        Some(old) => {
            if let Some(epoch) = seal::envelope_epoch(&old) {
                tx.epochs.insert(epoch_key(epoch, reference), [])?;
            }
            Ok(true)
        }
        None => Ok(false),
    }
}

pub(super) fn encode_exceptions(notes: &Vec<StoredException>) -> Vec<u8> {
    records::encode::<Exceptions2>(notes)
}

/// An order's exception notes. Notes in the older format (JSON, words in the clear) are named
/// as such: the upgrade of free text at open seals them.
pub(super) fn decode_exceptions(bytes: &[u8]) -> Result<Vec<StoredException>, Error> {
    if bytes.first() == Some(&b'[') {
        return Err(Error::corrupt(
            RecordKind::Exceptions,
            "exception notes in an older format (words in the clear) that the upgrade at open did not seal: reopen the store with this packline to seal them",
        ));
    }
    records::decode::<Exceptions2>(bytes)
}

/// An exception note as callers see it: its words sealed, or packline's own.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExceptionNote {
    pub raised_at: DateTime<Utc>,
    pub raised_by: String,
    pub note: FreeText,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<String>,
    pub resolution: Option<FreeText>,
}

impl From<&StoredException> for ExceptionNote {
    fn from(n: &StoredException) -> Self {
        ExceptionNote {
            raised_at: n.raised_at,
            raised_by: n.raised_by.clone(),
            note: n.note.view(),
            resolved_at: n.resolved_at,
            resolved_by: n.resolved_by.clone(),
            resolution: n.resolution.as_ref().map(StoredText::view),
        }
    }
}

impl StoredHold {
    pub(super) fn view(&self) -> Hold {
        Hold {
            reason: self.reason.view(),
            by: self.by.clone(),
            since: self.since,
        }
    }
}

/// The hold record before its reason was sealed (postcard; the reason in the clear).
#[derive(Deserialize)]
pub(super) struct LegacyHold {
    pub reason: String,
    pub by: String,
    pub since: DateTime<Utc>,
}

/// A stored hold. A hold whose reason an older packline kept in the clear is named as such:
/// the upgrade of free text at open seals it.
pub(super) fn decode_hold(bytes: &[u8]) -> Result<StoredHold, Error> {
    records::decode::<Hold2>(bytes).map_err(|e| {
        if legacy_hold(bytes).is_some() {
            Error::corrupt(RecordKind::Hold, "a hold whose reason is in the clear (older format) that the upgrade at open did not seal: reopen the store with this packline to seal it")
        } else {
            e
        }
    })
}

/// A hold in the layout of the packline that kept its reason in the clear (never one of
/// today's: those start with their format byte, and a legacy hold's reason never reads whole
/// with its time after it).
pub(super) fn legacy_hold(bytes: &[u8]) -> Option<LegacyHold> {
    if records::decode::<Hold2>(bytes).is_ok() {
        return None;
    }
    records::whole::<LegacyHold>(bytes).ok()
}

pub(super) fn encode_hold(h: &StoredHold) -> Vec<u8> {
    records::encode::<Hold2>(h)
}

/// The words of a note, checked like an inquiry's (not empty, not a letter).
pub(super) fn note_text(text: &str, what: &str) -> Result<NoteText, Error> {
    NoteText::new(text).map_err(|problem| {
        InputRefusal::Words {
            what: what.to_owned(),
            problem,
        }
        .into()
    })
}

impl Store {
    /// Seals a person's words to the intake epoch. Needs no secret.
    pub(super) fn seal_words(
        &self,
        text: &str,
        what: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<u8>, Error> {
        let text = note_text(text, what)?;
        self.keyring.seal_note_shared(&text, now)
    }

    /// Opens every sealed text among `texts` for a lead, in place, recording who read which in
    /// one audit entry (references only, never the words). Nothing is opened (and nothing
    /// audited) while the store is locked or when none is sealed. Words whose epoch is gone stay
    /// sealed.
    pub fn open_free_texts(
        &self,
        texts: &mut [&mut FreeText],
        user: &str,
        order: Option<&OrderId>,
        now: DateTime<Utc>,
    ) -> Result<usize, Error> {
        const ACTION: &str = "reading a sealed note";
        if !self.keyring.is_unlocked() {
            return Ok(0);
        }
        let mut opened = Vec::new();
        for t in texts.iter_mut() {
            let FreeText::Sealed(reference) = &**t else {
                continue;
            };
            let Some(envelope) = self.t.texts.get(reference.as_bytes())? else {
                continue;
            };
            match self.keyring.open_note(&envelope, ACTION) {
                Ok(words) => opened.push((reference.clone(), words)),
                Err(Error::EpochShredded { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        if opened.is_empty() {
            return Ok(0);
        }
        let refs: Vec<&str> = opened.iter().map(|(r, _)| r.as_str()).collect();
        let reason = match refs.as_slice() {
            [one] => audit_reference(one),
            many => format!("{} sealed notes, from {}", many.len(), many[0]),
        };
        self.record_audit(&super::audit::Record {
            at: now,
            user,
            action: "note_read",
            order: order.map(OrderId::as_str),
            reason: Some(&reason),
        })?;
        let n = opened.len();
        let opened: std::collections::HashMap<String, NoteText> = opened.into_iter().collect();
        for t in texts.iter_mut() {
            let words = match &**t {
                FreeText::Sealed(r) => opened.get(r).cloned(),
                _ => None,
            };
            if let Some(words) = words {
                **t = FreeText::Open(words);
            }
        }
        Ok(n)
    }

    /// The envelope kept under `reference`, if any: ciphertext only (for tests and tools that
    /// show a note is still kept, or that its epoch is gone).
    pub fn sealed_text(&self, reference: &str) -> Result<Option<Vec<u8>>, Error> {
        Ok(self.t.texts.get(reference.as_bytes())?.map(|v| v.to_vec()))
    }

    /// The references of sealed words kept under `prefix`, with their envelopes' epochs.
    pub(super) fn texts_under(&self, prefix: &str) -> Result<Vec<(String, Option<u32>)>, Error> {
        self.t
            .texts
            .scan_prefix(prefix.as_bytes())
            .map(|item| {
                let (k, v) = item?;
                Ok((
                    String::from_utf8_lossy(&k).into_owned(),
                    seal::envelope_epoch(&v),
                ))
            })
            .collect()
    }
}

/// Retention of sealed words (`retention` calls these).
impl Store {
    /// Deletes exception notes a year after resolution (or after their order closed), with their
    /// sealed words, whose epochs are marked so they are shredded.
    pub(super) fn purge_exception_notes(
        &mut self,
        as_of: DateTime<Utc>,
        report: &mut super::PurgeReport,
    ) -> Result<(), Error> {
        let limit = Duration::days(RetentionPolicy::EXCEPTION_NOTE_DAYS);
        let mut due = Vec::new();
        for item in self.t.exceptions.iter() {
            let (k, v) = item?;
            let kept = decode_exceptions(&v)?;
            // A note still open when its order closed (Amazon cancelled or shipped it meanwhile)
            // is as finished as a resolved one: its year starts at the close.
            let closed_at = match self.t.orders.get(&k)? {
                Some(v) => decode_record(&v)?.closed_at,
                None => None,
            };
            let expired = |n: &StoredException| {
                n.resolved_at
                    .or(closed_at)
                    .is_some_and(|t| t + limit <= as_of)
            };
            if kept.iter().any(expired) {
                let (gone, kept): (Vec<_>, Vec<_>) = kept.into_iter().partition(expired);
                due.push((k, gone, kept));
            }
        }
        for (k, gone, kept) in &due {
            self.transact(|tx| {
                for n in gone {
                    drop_in(tx, &n.note)?;
                    if let Some(r) = &n.resolution {
                        drop_in(tx, r)?;
                    }
                }
                if kept.is_empty() {
                    tx.exceptions.remove(k)?;
                } else {
                    tx.exceptions.insert(k, encode_exceptions(kept))?;
                }
                Ok(())
            })?;
            report.exception_notes_deleted += gone.len() as u64;
            for n in gone {
                let sealed = |t: &StoredText| matches!(t, StoredText::Sealed(_));
                report.sealed_notes_deleted += u64::from(sealed(&n.note))
                    + u64::from(n.resolution.as_ref().is_some_and(sealed));
            }
        }
        Ok(())
    }

    /// Re-seals people's sealed words kept in `from` into the current intake epoch (they go with
    /// their order's or exception's schedule, which a later purge applies there). Returns how
    /// many moved.
    pub(super) fn reseal_texts(
        &mut self,
        keys: &[Bytes],
        from: u32,
        current: u32,
        received: &mut std::collections::BTreeSet<u32>,
    ) -> Result<u64, Error> {
        let mut moves = Vec::with_capacity(keys.len());
        for k in keys {
            let Some(sealed) = self.t.texts.get(k)? else {
                continue;
            };
            if seal::envelope_epoch(&sealed) != Some(from) {
                continue;
            }
            let text = self
                .keyring
                .open_note(&sealed, "re-sealing for retention")?;
            let resealed = self.keyring.seal_note_in(&text, current)?;
            received.insert(current);
            moves.push((k.clone(), sealed, resealed));
        }
        self.transact(|tx| {
            for (k, old, resealed) in &moves {
                // Only the words read above: words removed meanwhile stay removed.
                if tx.texts.get(k)?.as_ref() == Some(old) {
                    tx.texts.insert(k, resealed.as_slice())?;
                    let mark = String::from_utf8_lossy(k);
                    tx.epochs.insert(epoch_key(from, &mark), [])?;
                }
            }
            Ok(())
        })?;
        Ok(moves.len() as u64)
    }
}
