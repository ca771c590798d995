//! The upgrade at open that seals people's words an older packline kept in the clear: exception
//! notes and resolutions (JSON in the `exceptions` tree) and hold reasons (in the `floor` tree).
//! Each record is rewritten in a transaction of its own, with its sealed words, so a crash leaves
//! it old or new, never a mix; a record already sealed is left alone, so running again changes
//! nothing. Exceptions and holds are few (a walk of them at each open is short), so a record in
//! the old format is sealed whenever it is found (a restore of an old backup included). The
//! first time, and whenever something was sealed, the audit log gains one `redaction` entry
//! saying how many records were sealed and how many earlier entries still hold a person's words
//! (entries are hash-chained: they keep their text until the log itself expires; see
//! `docs/personal-data.md`), and the store marks in `meta` that the log was counted.

use crate::store::backend::Bytes;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::notes::{
    self, StoredException, StoredHold, StoredText, encode_exceptions, encode_hold, legacy_hold,
};
use super::{Error, Store, audit, audit_in};
use crate::domain::BUYER_ASKED_TO_CANCEL;
use crate::store::RecordKind;

/// Present once the audit log was counted for earlier entries holding a person's words.
const META_SEALED: &[u8] = super::keys::meta::FREE_TEXT_SEALED.as_bytes();

/// The audit action of the entry the upgrade appends.
pub const REDACTION_ACTION: &str = "redaction";

/// Actions whose entries, before this upgrade, carried a person's words as their reason.
const FREE_TEXT_ACTIONS: [&str; 4] = ["hold", "release_hold", "reveal", "label_voided"];

/// Beginnings of exception notes packline writes itself (shipment ids, no personal text), kept
/// in the clear: `check` reads the first.
const SYSTEM_NOTES: [&str; 2] = [
    "a label was bought (shipment ",
    "label purchase outcome unknown (package ",
];

/// An exception note as the `exceptions` tree kept it before (format 1: JSON, words in the clear).
#[derive(Deserialize)]
struct LegacyException {
    raised_at: DateTime<Utc>,
    raised_by: String,
    note: String,
    resolved_at: Option<DateTime<Utc>>,
    resolved_by: Option<String>,
    resolution: Option<String>,
}

impl Store {
    /// Seals the free text an older packline kept in the clear (see the module comment). Needs
    /// no secret unless something is to be sealed (then the public keys only).
    pub(super) fn seal_plain_free_text(
        &mut self,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        let mut sealed = 0u64;
        let keys: Vec<Bytes> = self.t.exceptions.iter().keys().collect::<Result<_, _>>()?;
        for k in keys {
            sealed += self.seal_exception_record(&k, now)?;
        }
        let holds: Vec<(Bytes, Bytes)> = self
            .t
            .floor
            .scan_prefix([super::floor::HOLD])
            .collect::<Result<_, _>>()?;
        for (k, v) in holds {
            sealed += self.seal_hold_record(&k, &v, now)?;
        }
        let counted = self.t.meta.contains_key(META_SEALED)?;
        if counted && sealed == 0 {
            return Ok(());
        }
        let earlier = self.audit_entries_with_words()?;
        self.transact(|tx| {
            if sealed > 0 || earlier > 0 {
                let reason = format!(
                    "{sealed} records' free text sealed; {earlier} earlier audit entries hold free text (kept: the log is hash-chained) until the log expires"
                );
                audit_in(tx, user, REDACTION_ACTION, None, Some(&reason), now)?;
            }
            tx.meta.insert(META_SEALED, [1])?;
            Ok(())
        })?;
        self.flush()
    }

    /// Seals one order's exception notes, when they are in the old format. Returns how many
    /// texts were sealed.
    fn seal_exception_record(&mut self, k: &[u8], now: DateTime<Utc>) -> Result<u64, Error> {
        let Some(v) = self.t.exceptions.get(k)? else {
            return Ok(0);
        };
        if notes::decode_exceptions(&v).is_ok() {
            return Ok(0);
        }
        let old: Vec<LegacyException> = serde_json::from_slice(&v).map_err(|e| {
            Error::corrupt(
                RecordKind::Exceptions,
                format!(
                    "exception notes of order {}: neither the current format nor the older one ({e})",
                    String::from_utf8_lossy(k)
                ),
            )
        })?;
        let order = String::from_utf8_lossy(k).into_owned();
        let mut puts: Vec<(String, Vec<u8>)> = Vec::new();
        let mut seal = |s: &mut Self, text: &str, reference: String| -> Result<StoredText, Error> {
            if SYSTEM_NOTES.iter().any(|p| text.starts_with(p)) {
                return Ok(StoredText::System(text.to_owned()));
            }
            // An empty or overlong old text is still sealed whole (never cut, never dropped).
            let words = notes::note_text(text, "an exception note")
                .unwrap_or_else(|_| crate::domain::NoteText::from_stored(text));
            let envelope = s.keyring.seal_note(&words, now)?.0;
            puts.push((reference.clone(), envelope));
            Ok(StoredText::Sealed(reference))
        };
        let mut new = Vec::with_capacity(old.len());
        for (n, o) in old.iter().enumerate() {
            let note = seal(self, &o.note, notes::exception_ref(&order, n))?;
            let resolution = match &o.resolution {
                Some(r) => Some(seal(self, r, notes::resolution_ref(&order, n))?),
                None => None,
            };
            new.push(StoredException {
                raised_at: o.raised_at,
                raised_by: o.raised_by.clone(),
                note,
                resolved_at: o.resolved_at,
                resolved_by: o.resolved_by.clone(),
                resolution,
            });
        }
        let bytes = encode_exceptions(&new);
        self.transact(|tx| {
            // Only the record read above (the store is held exclusively; this is a guard).
            if tx.exceptions.get(k)?.as_ref() != Some(&v) {
                return Ok(());
            }
            for (r, envelope) in &puts {
                tx.texts.insert(r.as_bytes(), envelope.as_slice())?;
            }
            tx.exceptions.insert(k, bytes.as_slice())?;
            Ok(())
        })?;
        Ok(puts.len() as u64)
    }

    /// Seals one hold's reason, when it is in the old format.
    fn seal_hold_record(&mut self, k: &[u8], v: &[u8], now: DateTime<Utc>) -> Result<u64, Error> {
        let Some(old) = legacy_hold(v) else {
            return Ok(0);
        };
        let order = String::from_utf8_lossy(&k[1..]).into_owned();
        let (reason, put) = if old.reason == BUYER_ASKED_TO_CANCEL {
            (StoredText::System(old.reason.clone()), None)
        } else {
            let words = notes::note_text(&old.reason, "a hold reason")
                .unwrap_or_else(|_| crate::domain::NoteText::from_stored(&old.reason));
            let envelope = self.keyring.seal_note(&words, now)?.0;
            let reference = notes::hold_ref(&order);
            (
                StoredText::Sealed(reference.clone()),
                Some((reference, envelope)),
            )
        };
        let bytes = encode_hold(&StoredHold {
            by: old.by,
            since: old.since,
            reason,
        });
        self.transact(|tx| {
            if tx.floor.get(k)?.as_deref() != Some(v) {
                return Ok(());
            }
            if let Some((r, envelope)) = &put {
                tx.texts.insert(r.as_bytes(), envelope.as_slice())?;
            }
            tx.floor.insert(k, bytes.as_slice())?;
            Ok(())
        })?;
        Ok(u64::from(put.is_some()))
    }

    /// How many audit entries carry a person's words as their reason (written before reasons
    /// were sealed).
    fn audit_entries_with_words(&self) -> Result<u64, Error> {
        let mut n = 0;
        for item in self.t.audit.iter() {
            let (_, v) = item?;
            let Ok(e) = serde_json::from_slice::<audit::AuditEntry>(&v) else {
                continue;
            };
            let Some(reason) = e.reason.as_deref() else {
                continue;
            };
            let system = reason.contains("sealed note ") || reason.contains(BUYER_ASKED_TO_CANCEL);
            // A held order's pick released by a hold repeated its reason.
            let repeated = e.action == "release_pick" && reason.starts_with("on hold: ");
            if (FREE_TEXT_ACTIONS.contains(&e.action.as_str()) || repeated) && !system {
                n += 1;
            }
        }
        Ok(n)
    }
}
