//! Envelopes: a recipient, a note's words or a printable document sealed to a key epoch's
//! recipient with `age` behind a 12-byte header (magic, epoch), and opened again with that
//! epoch's secret.

use age::x25519;
use chrono::{DateTime, Utc};
use zeroize::Zeroizing;

use super::{ENVELOPE_HEADER, ENVELOPE_MAGIC, EpochEntry, Keyring, week_label};
use crate::domain::{NoteText, Recipient};
use crate::store::Error;
use crate::store::records::{
    self,
    sealed::{Note3, Recipient1},
};

impl Keyring {
    /// Seals a recipient to the current epoch; returns the envelope and the epoch.
    pub fn seal(&mut self, r: &Recipient, now: DateTime<Utc>) -> Result<(Vec<u8>, u32), Error> {
        let (epoch, to) = self.current_epoch(now)?;
        Ok((seal_to(r, epoch, &to)?, epoch))
    }

    /// Seals a recipient to a given live epoch.
    pub fn seal_in(&self, r: &Recipient, epoch: u32) -> Result<Vec<u8>, Error> {
        let to = self.recipient_of(epoch)?;
        seal_to(r, epoch, to)
    }

    /// Opens a sealed recipient. Needs the keyring unlocked and the epoch not shredded.
    pub fn open(&self, envelope: &[u8], action: &'static str) -> Result<Recipient, Error> {
        let plain = self.open_plain(envelope, action)?;
        records::decode::<Recipient1>(&plain).map_err(|_| Error::CorruptRecord)
    }

    /// Seals a document that carries personal data (a bought label) to the current epoch, so it
    /// is shredded with the recipients sealed alongside it.
    pub fn seal_document(&mut self, doc: &[u8], now: DateTime<Utc>) -> Result<Vec<u8>, Error> {
        let (epoch, to) = self.current_epoch(now)?;
        let mut plain = Zeroizing::new(Vec::with_capacity(1 + doc.len()));
        plain.push(DOCUMENT_FORMAT);
        plain.extend_from_slice(doc);
        seal_plain(&plain, epoch, &to)
    }

    /// Seals a document to a given live epoch (retention moving an open order's label).
    pub fn seal_document_in(&self, doc: &[u8], epoch: u32) -> Result<Vec<u8>, Error> {
        let to = self.recipient_of(epoch)?;
        let mut plain = Zeroizing::new(Vec::with_capacity(1 + doc.len()));
        plain.push(DOCUMENT_FORMAT);
        plain.extend_from_slice(doc);
        seal_plain(&plain, epoch, to)
    }

    /// Opens a sealed document. Needs the keyring unlocked and the epoch not shredded.
    pub fn open_document(
        &self,
        envelope: &[u8],
        action: &'static str,
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        let mut plain = self.open_plain(envelope, action)?;
        match plain.first() {
            Some(&DOCUMENT_FORMAT) => {
                plain.remove(0);
                Ok(plain)
            }
            _ => Err(Error::CorruptRecord),
        }
    }

    /// Seals the text of an inquiry's note to the current intake epoch; returns the envelope and
    /// the epoch.
    pub fn seal_note(
        &mut self,
        text: &NoteText,
        now: DateTime<Utc>,
    ) -> Result<(Vec<u8>, u32), Error> {
        let (epoch, _) = self.current_epoch(now)?;
        Ok((self.seal_note_in(text, epoch)?, epoch))
    }

    /// Seals a note's text without starting an epoch (for callers that share the store): to
    /// this week's intake epoch when it exists, else to the newest live intake epoch (retention
    /// moves it on before that epoch is shredded, like any live record).
    pub fn seal_note_shared(&self, text: &NoteText, now: DateTime<Utc>) -> Result<Vec<u8>, Error> {
        let week = week_label(now);
        let live = |e: &&EpochEntry| self.recipients.contains_key(&e.id);
        let epochs = &self.file.epochs;
        let epoch = epochs
            .iter()
            .rev()
            .filter(live)
            .find(|e| e.label == week)
            .or_else(|| {
                epochs
                    .iter()
                    .rev()
                    .filter(live)
                    .find(|e| !e.label.starts_with("expires-"))
            })
            .map(|e| e.id)
            .ok_or_else(|| Error::Keyring {
                path: self.path.clone(),
                detail: "it holds no live intake epoch to seal to: start one with `packline keys rotate`".into(),
            })?;
        self.seal_note_in(text, epoch)
    }

    /// Seals the text of an inquiry's note to a given live epoch.
    pub fn seal_note_in(&self, text: &NoteText, epoch: u32) -> Result<Vec<u8>, Error> {
        let to = self.recipient_of(epoch)?;
        let plain = Zeroizing::new(records::encode::<Note3>(text));
        seal_plain(&plain, epoch, to)
    }

    /// Opens the sealed text of an inquiry's note. Needs the keyring unlocked and the epoch not
    /// shredded.
    pub fn open_note(&self, envelope: &[u8], action: &'static str) -> Result<NoteText, Error> {
        let plain = self.open_plain(envelope, action)?;
        records::decode::<Note3>(&plain).map_err(|_| Error::CorruptRecord)
    }

    /// Decrypts an envelope (a format byte, then what was sealed) with its epoch's secret.
    pub(super) fn open_plain(
        &self,
        envelope: &[u8],
        action: &'static str,
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        let (epoch, ciphertext) = parse_envelope(envelope).ok_or(Error::CorruptRecord)?;
        let unlocked = self.unlocked.as_ref().ok_or(Error::Locked { action })?;
        let secret = unlocked
            .epochs
            .get(&epoch)
            .ok_or(Error::EpochShredded { epoch })?;
        Ok(Zeroizing::new(
            age::decrypt(&secret.identity, ciphertext).map_err(|_| Error::CorruptRecord)?,
        ))
    }
}

/// The sealed plaintext is a record behind its format byte (`records::sealed`): 1 a recipient,
/// 3 a note's words; 2 is a carrier label or other printable document that carries an address,
/// kept as its bytes.
pub(super) const DOCUMENT_FORMAT: u8 = 2;

pub(super) fn seal_to(r: &Recipient, epoch: u32, to: &x25519::Recipient) -> Result<Vec<u8>, Error> {
    let plain = Zeroizing::new(records::encode::<Recipient1>(r));
    seal_plain(&plain, epoch, to)
}

/// Encrypts a format-tagged plaintext to an epoch and wraps it in an envelope.
pub(super) fn seal_plain(
    plain: &[u8],
    epoch: u32,
    to: &x25519::Recipient,
) -> Result<Vec<u8>, Error> {
    let ct = age::encrypt(to, plain).map_err(|e| Error::Crypto(format!("sealing: {e}")))?;
    let len = u32::try_from(ct.len()).map_err(|_| Error::Crypto("record too large".into()))?;
    let mut out = Vec::with_capacity(ENVELOPE_HEADER + ct.len());
    out.extend_from_slice(ENVELOPE_MAGIC);
    out.extend_from_slice(&epoch.to_be_bytes());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Splits an envelope into its epoch and age ciphertext; `None` if it is not one.
pub fn parse_envelope(bytes: &[u8]) -> Option<(u32, &[u8])> {
    if bytes.len() < ENVELOPE_HEADER || &bytes[..4] != ENVELOPE_MAGIC {
        return None;
    }
    let epoch = u32::from_be_bytes(bytes[4..8].try_into().ok()?);
    let len = u32::from_be_bytes(bytes[8..12].try_into().ok()?) as usize;
    let ct = bytes.get(ENVELOPE_HEADER..ENVELOPE_HEADER.checked_add(len)?)?;
    Some((epoch, ct))
}

/// The epoch a sealed record belongs to, without opening it.
pub fn envelope_epoch(bytes: &[u8]) -> Option<u32> {
    parse_envelope(bytes).map(|(e, _)| e)
}
