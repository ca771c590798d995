//! Customer inquiries: anyone on the floor opens one on an order or adds a note to it (a
//! customer's words, sealed at once); the list shows records without any note text; only a lead
//! reads the notes (audited) or resolves an inquiry.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Allowed, Operation};
use crate::domain::inquiry::{Inquiry, InquiryCategory, NoteKind, NoteMeta, NoteText};
use crate::service::{Role, Service, ServiceError, order_id, store_err};

/// The text of a note as a person typed it: refused, with its length, when empty or too long.
/// (Checked here, whichever transport it came by: the socket's client is not trusted.)
fn checked(text: &NoteText, what: &str) -> Result<NoteText, ServiceError> {
    NoteText::new(text.as_str()).map_err(|e| ServiceError::Invalid(format!("{what} {e}")))
}

/// Opens an inquiry on an order with the customer's question; answers the new inquiry. An order
/// packline never imported is asked of Amazon and recorded as shipped elsewhere, without a
/// recipient; one Amazon does not know is refused.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OpenInquiry {
    pub order: String,
    pub category: InquiryCategory,
    pub note: NoteText,
}

impl Operation for OpenInquiry {
    type Answer = Inquiry;
    const NAME: &'static str = "open_inquiry";
    const ACTION: &'static str = "opening an inquiry";
    const ROLE: Role = Role::Packer;

    fn apply(
        self,
        svc: &Service,
        c: &Allowed,
        now: DateTime<Utc>,
    ) -> Result<Inquiry, ServiceError> {
        let order = order_id(&self.order)?;
        let note = checked(&self.note, "the note")?;
        // An order packline never imported is asked of Amazon (recorded as shipped elsewhere).
        if svc
            .order_or_elsewhere(&order, "an inquiry", &c.user, now)?
            .is_none()
        {
            return Err(ServiceError::NotFound(format!(
                "order {order} is not in the store, and Amazon does not know it"
            )));
        }
        let q = svc
            .store_alone()
            .open_inquiry(&order, self.category, &note, &c.user, now)
            .map_err(store_err)?;
        tracing::info!(inquiry = q.id, order = %order, user = %c.user, "inquiry opened");
        Ok(q)
    }
}

/// Adds a note to an open inquiry.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NoteInquiry {
    pub id: u64,
    pub note: NoteText,
}

impl Operation for NoteInquiry {
    type Answer = ();
    const NAME: &'static str = "note_inquiry";
    const ACTION: &'static str = "adding a note to an inquiry";
    const ROLE: Role = Role::Packer;

    fn apply(self, svc: &Service, c: &Allowed, now: DateTime<Utc>) -> Result<(), ServiceError> {
        let note = checked(&self.note, "the note")?;
        svc.store_alone()
            .add_inquiry_note(self.id, NoteKind::Note, &note, &c.user, now)
            .map_err(store_err)?;
        Ok(())
    }
}

/// A lead settles an inquiry, saying how; it takes no more notes, and its year of retention
/// starts.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ResolveInquiry {
    pub id: u64,
    pub resolution: NoteText,
}

impl Operation for ResolveInquiry {
    type Answer = ();
    const NAME: &'static str = "resolve_inquiry";
    const ACTION: &'static str = "resolving an inquiry";
    const ROLE: Role = Role::Lead;

    fn apply(self, svc: &Service, c: &Allowed, now: DateTime<Utc>) -> Result<(), ServiceError> {
        let text = checked(&self.resolution, "the resolution")?;
        svc.store_alone()
            .add_inquiry_note(self.id, NoteKind::Resolution, &text, &c.user, now)
            .map_err(store_err)?;
        tracing::info!(inquiry = self.id, user = %c.user, "inquiry resolved");
        Ok(())
    }
}

/// Every inquiry kept, oldest first: records only (order, category, dates, who), no note text.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Inquiries {}

impl Operation for Inquiries {
    type Answer = Vec<Inquiry>;
    const NAME: &'static str = "inquiries";
    const WRITES: bool = false;
    const ACTION: &'static str = "the inquiry list";
    const ROLE: Role = Role::Packer;

    fn apply(
        self,
        svc: &Service,
        _: &Allowed,
        _: DateTime<Utc>,
    ) -> Result<Vec<Inquiry>, ServiceError> {
        svc.store().inquiries().map_err(store_err)
    }
}

/// A lead reads an inquiry's notes (audited: who read which inquiry, never the text).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReadInquiry {
    pub id: u64,
}

/// One note as a lead reads it: its text with every control character escaped, never printed
/// by `Debug`, wiped on drop.
#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ReadNote {
    #[serde(flatten)]
    pub meta: NoteMeta,
    pub text: NoteText,
}

/// An inquiry with its notes, for a lead.
#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct InquiryNotes {
    pub inquiry: Inquiry,
    pub notes: Vec<ReadNote>,
}

impl Operation for ReadInquiry {
    type Answer = InquiryNotes;
    const NAME: &'static str = "read_inquiry";
    const ACTION: &'static str = "reading an inquiry's notes";
    const ROLE: Role = Role::Lead;

    fn apply(
        self,
        svc: &Service,
        c: &Allowed,
        now: DateTime<Utc>,
    ) -> Result<InquiryNotes, ServiceError> {
        let (inquiry, texts) = svc
            .store()
            .read_inquiry(self.id, &c.user, now)
            .map_err(store_err)?;
        tracing::info!(inquiry = self.id, user = %c.user, "inquiry notes read");
        let notes = inquiry
            .notes
            .iter()
            .zip(&texts)
            .map(|(meta, text)| ReadNote {
                meta: meta.clone(),
                text: text.escaped(),
            })
            .collect();
        Ok(InquiryNotes { inquiry, notes })
    }
}
