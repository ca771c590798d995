//! Customer inquiries, in the `inquiries` tree: each inquiry's record (order, category, dates and
//! who wrote each note: no personal data) and the text of each note, sealed with `age` like a
//! recipient, since it may quote the customer. Opening, adding a note and resolving need public
//! keys only; reading the notes needs the store unlocked and is audited (the audit entry names the
//! inquiry and the order, never the text).
//!
//! A message sent to the buyer through Amazon while an inquiry on the order is open is one of its
//! notes too (its text as sent, sealed), recorded with the message's audit entry.
//!
//! A note is sealed to the current intake epoch; a resolution goes straight to the epoch of the
//! day the inquiry expires (`domain::RetentionPolicy::inquiry_expiry`), where retention moves the
//! earlier notes too when their epoch is shredded (`retention`).

use chrono::{DateTime, Utc};

use super::records::{self, after::Inquiry1};
use super::{Error, Store, Tx, TxResult, abort, audit_in};
use crate::domain::inquiry::{Inquiry, InquiryCategory, NoteKind, NoteText};
use crate::domain::{OrderId, RetentionPolicy};
use crate::store::RecordKind;

const RECORD: u8 = super::keys::inquiries::RECORD;
pub(super) const NOTE: u8 = super::keys::inquiries::NOTE;
/// The last inquiry number given, in the meta tree.
const META_LAST: &[u8] = super::keys::meta::INQUIRY_LAST.as_bytes();

pub(super) fn record_key(id: u64) -> Vec<u8> {
    let mut k = vec![RECORD];
    k.extend_from_slice(&id.to_be_bytes());
    k
}

/// The prefix of every note of an inquiry.
pub(super) fn notes_prefix(id: u64) -> Vec<u8> {
    let mut k = vec![NOTE];
    k.extend_from_slice(&id.to_be_bytes());
    k
}

fn note_key(id: u64, n: u32) -> Vec<u8> {
    let mut k = notes_prefix(id);
    k.extend_from_slice(&n.to_be_bytes());
    k
}

/// The inquiry and note number of a note key.
pub(super) fn split_note_key(k: &[u8]) -> Option<(u64, u32)> {
    if k.len() != 13 || k[0] != NOTE {
        return None;
    }
    let id = u64::from_be_bytes(k[1..9].try_into().ok()?);
    let n = u32::from_be_bytes(k[9..13].try_into().ok()?);
    Some((id, n))
}

/// How a note is named in the `epochs` tree when it leaves an epoch (see `retention`).
pub(super) fn note_mark(id: u64, n: u32) -> String {
    format!("inquiry/{id}/{n}")
}

fn encode(v: &Inquiry) -> Vec<u8> {
    records::encode::<Inquiry1>(v)
}

pub(super) fn decode(bytes: &[u8]) -> Result<Inquiry, Error> {
    records::decode::<Inquiry1>(bytes)
}

fn inquiry_in(tx: &Tx<'_>, id: u64) -> TxResult<Inquiry> {
    match tx.inquiries.get(record_key(id))? {
        Some(v) => decode(&v).or_else(abort),
        None => abort(Error::NoSuchInquiry(id)),
    }
}

impl Store {
    /// Opens an inquiry on an order with its first note (sealed): one transaction with its audit
    /// entry, flushed. Needs no secret.
    pub fn open_inquiry(
        &mut self,
        order: &OrderId,
        category: InquiryCategory,
        text: &NoteText,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<Inquiry, Error> {
        if !self.t.orders.contains_key(order.as_str())? {
            return Err(Error::NoSuchOrder(order.clone()));
        }
        let (sealed, _) = self.keyring.seal_note(text, now)?;
        let q = self.transact(|tx| {
            if tx.orders.get(order.as_str())?.is_none() {
                return abort(Error::NoSuchOrder(order.clone()));
            }
            let id = match tx.meta.get(META_LAST)? {
                Some(v) => v
                    .as_ref()
                    .try_into()
                    .map(u64::from_be_bytes)
                    .map_err(|_| Error::corrupt(RecordKind::Counter, "the inquiry counter"))
                    .or_else(abort)?,
                None => 0,
            } + 1;
            tx.meta.insert(META_LAST, id.to_be_bytes())?;
            let q = Inquiry::open(id, order.clone(), category, user, now);
            tx.inquiries.insert(record_key(id), encode(&q))?;
            tx.inquiries.insert(note_key(id, 0), sealed.as_slice())?;
            let reason = format!("inquiry {id} ({category})");
            audit_in(
                tx,
                user,
                "inquiry_open",
                Some(order.as_str()),
                Some(&reason),
                now,
            )?;
            Ok(q)
        })?;
        self.flush()?;
        Ok(q)
    }

    /// Adds a note to an open inquiry, or with [`NoteKind::Resolution`] resolves it: one
    /// transaction with its audit entry, flushed. Needs no secret.
    pub fn add_inquiry_note(
        &mut self,
        id: u64,
        kind: NoteKind,
        text: &NoteText,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<Inquiry, Error> {
        // Refused before anything is sealed (the store is held exclusively: nothing changes it
        // meanwhile; the transaction checks again all the same).
        let mut before = self.inquiry(id)?.ok_or(Error::NoSuchInquiry(id))?;
        before.add(kind, user, now)?;
        let sealed = match kind {
            // The resolution goes straight to the epoch it expires with.
            NoteKind::Resolution => {
                let day = RetentionPolicy::inquiry_expiry(now).date_naive();
                let (epoch, _) = self.keyring.expiry_epoch(day, now)?;
                self.keyring.seal_note_in(text, epoch)?
            }
            NoteKind::Opened | NoteKind::Note | NoteKind::Message => {
                self.keyring.seal_note(text, now)?.0
            }
        };
        let action = match kind {
            NoteKind::Resolution => "inquiry_resolve",
            NoteKind::Message => "message_sent",
            NoteKind::Opened | NoteKind::Note => "inquiry_note",
        };
        let q = self.transact(|tx| {
            let mut q = inquiry_in(tx, id)?;
            let n = q.add(kind, user, now).map_err(Error::from).or_else(abort)?;
            tx.inquiries.insert(record_key(id), encode(&q))?;
            tx.inquiries.insert(note_key(id, n), sealed.as_slice())?;
            let reason = format!("inquiry {id}");
            audit_in(tx, user, action, Some(q.order.as_str()), Some(&reason), now)?;
            Ok(q)
        })?;
        self.flush()?;
        Ok(q)
    }

    /// The inquiry a message to the buyer of `order` belongs to: the latest one opened on it that
    /// is not resolved. (Inquiries are few, kept a year: a walk of them is short.)
    pub fn open_inquiry_of(&self, order: &OrderId) -> Result<Option<Inquiry>, Error> {
        Ok(self
            .inquiries()?
            .into_iter()
            .rev()
            .find(|q| q.order == *order && q.resolved_at.is_none()))
    }

    /// Records a message of `kind` sent to the buyer of `order` through Amazon: an audit entry
    /// naming the order, the kind and who sent it (never the text) and, when the order has an open
    /// inquiry, the text as a sealed note on it, in one transaction; flushed. Needs no secret.
    /// Answers the inquiry it was noted on.
    pub fn record_message(
        &mut self,
        order: &OrderId,
        kind: &str,
        text: &NoteText,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<u64>, Error> {
        let open = self.open_inquiry_of(order)?;
        let sealed = match &open {
            Some(_) => Some(self.keyring.seal_note(text, now)?.0),
            None => None,
        };
        let noted = self.transact(|tx| {
            let noted = match (&open, &sealed) {
                (Some(before), Some(sealed)) => {
                    let mut q = inquiry_in(tx, before.id)?;
                    // Resolved meanwhile (the store is held exclusively, so never in practice):
                    // the message is still audited.
                    match q.add(NoteKind::Message, user, now) {
                        Ok(n) => {
                            tx.inquiries.insert(record_key(q.id), encode(&q))?;
                            tx.inquiries.insert(note_key(q.id, n), sealed.as_slice())?;
                            Some(q.id)
                        }
                        Err(_) => None,
                    }
                }
                _ => None,
            };
            let reason = match noted {
                Some(id) => format!("{kind}; noted on inquiry {id}"),
                None => kind.to_owned(),
            };
            audit_in(
                tx,
                user,
                "message_sent",
                Some(order.as_str()),
                Some(&reason),
                now,
            )?;
            Ok(noted)
        })?;
        self.flush()?;
        Ok(noted)
    }

    /// Records a message whose outcome is unknown (Amazon may have delivered it): an audit entry
    /// naming the order, the kind and who, so a lead checks Seller Central before sending again.
    pub fn record_message_unknown(
        &self,
        order: &OrderId,
        kind: &str,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        self.record_audit(&super::audit::Record {
            at: now,
            user,
            action: "message_outcome_unknown",
            order: Some(order.as_str()),
            reason: Some(kind),
        })
    }

    /// One inquiry's record (no note text).
    pub fn inquiry(&self, id: u64) -> Result<Option<Inquiry>, Error> {
        self.t
            .inquiries
            .get(record_key(id))?
            .map(|v| decode(&v))
            .transpose()
    }

    /// Every inquiry kept, oldest first (no note text).
    pub fn inquiries(&self) -> Result<Vec<Inquiry>, Error> {
        self.t
            .inquiries
            .scan_prefix([RECORD])
            .map(|item| decode(&item?.1))
            .collect()
    }

    /// Opens an inquiry's notes for a person, in the order written, recording who read which
    /// inquiry in the audit log (never the text) before they are returned. Needs the store
    /// unlocked.
    pub fn read_inquiry(
        &self,
        id: u64,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<(Inquiry, Vec<NoteText>), Error> {
        const ACTION: &str = "reading an inquiry's notes";
        if !self.keyring.is_unlocked() {
            return Err(Error::Locked { action: ACTION });
        }
        let q = self.inquiry(id)?.ok_or(Error::NoSuchInquiry(id))?;
        let mut texts = Vec::with_capacity(q.notes.len());
        for n in 0..q.notes.len() as u32 {
            let sealed = self
                .t
                .inquiries
                .get(note_key(id, n))?
                .ok_or(Error::CorruptRecord)?;
            texts.push(self.keyring.open_note(&sealed, ACTION)?);
        }
        let reason = format!("inquiry {id}");
        self.record_audit(&super::audit::Record {
            at: now,
            user,
            action: "inquiry_read",
            order: Some(q.order.as_str()),
            reason: Some(&reason),
        })?;
        Ok((q, texts))
    }
}
