//! Customer inquiries: a customer asked about an order (where is it, it came damaged, they want to
//! return or cancel it) and the floor keeps what was said and how it was settled. The record (order,
//! category, dates, who) holds no personal data; the notes may (a customer's words), so their text
//! lives only in [`NoteText`], which never prints itself and is wiped on drop.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::OrderId;
use super::text::escape_hazards;

/// What the customer is asking about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum InquiryCategory {
    WhereIsMyOrder,
    Damaged,
    WrongItem,
    Return,
    Cancel,
    Other,
}

impl InquiryCategory {
    pub const ALL: [InquiryCategory; 6] = [
        InquiryCategory::WhereIsMyOrder,
        InquiryCategory::Damaged,
        InquiryCategory::WrongItem,
        InquiryCategory::Return,
        InquiryCategory::Cancel,
        InquiryCategory::Other,
    ];

    pub fn name(self) -> &'static str {
        match self {
            InquiryCategory::WhereIsMyOrder => "where-is-my-order",
            InquiryCategory::Damaged => "damaged",
            InquiryCategory::WrongItem => "wrong-item",
            InquiryCategory::Return => "return",
            InquiryCategory::Cancel => "cancel",
            InquiryCategory::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == s.trim())
    }
}

impl fmt::Display for InquiryCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// What a note of an inquiry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NoteKind {
    /// The note the inquiry was opened with.
    Opened,
    /// Anything added while it was open.
    Note,
    /// How a lead settled it.
    Resolution,
    /// A message sent to the buyer through Amazon while it was open: its text, as sent.
    Message,
}

impl NoteKind {
    pub fn name(self) -> &'static str {
        match self {
            NoteKind::Opened => "opened",
            NoteKind::Note => "note",
            NoteKind::Resolution => "resolution",
            NoteKind::Message => "message",
        }
    }
}

/// The text of a note: possibly a customer's own words. `Debug` shows only its length, there is
/// no `Display`, and it is wiped on drop; [`NoteText::escaped`] gives it with every control and
/// invisible format character escaped, for a lead's screen.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(transparent)]
pub struct NoteText(String);

/// Why a note's text was refused. Says the length, never the text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NoteTextError {
    #[error("must not be empty")]
    Empty,
    #[error("is {0} characters long; at most {max} are kept: shorten it", max = NoteText::MAX_CHARS)]
    TooLong(usize),
}

impl NoteText {
    /// The longest note kept, in characters (Amazon's longest buyer-seller message is 2,000 too).
    pub const MAX_CHARS: usize = 2000;

    /// A note's text, trimmed. Refused when empty or longer than [`NoteText::MAX_CHARS`]: a
    /// person typed it, so it is never cut short behind their back.
    pub fn new(text: impl Into<String>) -> Result<Self, NoteTextError> {
        let mut s: String = text.into();
        let trimmed = s.trim();
        let len = trimmed.chars().count();
        let r = if len == 0 {
            Err(NoteTextError::Empty)
        } else if len > Self::MAX_CHARS {
            Err(NoteTextError::TooLong(len))
        } else {
            Ok(NoteText(trimmed.to_owned()))
        };
        s.zeroize();
        r
    }

    /// Text an older packline kept (an upgrade seals it): taken whole, unchecked, so nothing
    /// kept is cut or dropped on the way into its envelope.
    pub fn from_stored(text: &str) -> Self {
        NoteText(text.to_owned())
    }

    /// The text as it was written (for sealing; never for a terminal).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The text with every control and invisible format character escaped (`\u{1B}`), safe to
    /// show on any terminal.
    pub fn escaped(&self) -> NoteText {
        NoteText(escape_hazards(&self.0))
    }
}

/// Written as its text (a customer's words: only in a lead's audited reading).
impl schemars::JsonSchema for NoteText {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "NoteText".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "A note's text, possibly a customer's own words (shown to leads only)."
        })
    }
}

impl fmt::Debug for NoteText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NoteText({} chars, redacted)", self.0.chars().count())
    }
}

/// Who wrote a note of an inquiry, when, and what it is; its text is sealed apart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NoteMeta {
    pub at: DateTime<Utc>,
    pub by: String,
    pub kind: NoteKind,
}

/// An inquiry as the store keeps it in the clear: no note text, no personal data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Inquiry {
    pub id: u64,
    pub order: OrderId,
    pub category: InquiryCategory,
    pub opened_at: DateTime<Utc>,
    pub opened_by: String,
    /// Every note in the order written; the n-th note's text is sealed under its number.
    pub notes: Vec<NoteMeta>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<String>,
}

/// Why an inquiry cannot take a change.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InquiryRefusal {
    #[error("inquiry {id} was resolved on {at}: it takes no more notes", at = at.format("%Y-%m-%d %H:%M UTC"))]
    Resolved { id: u64, at: DateTime<Utc> },
}

impl Inquiry {
    /// A new inquiry with its opening note's metadata.
    pub fn open(
        id: u64,
        order: OrderId,
        category: InquiryCategory,
        by: &str,
        now: DateTime<Utc>,
    ) -> Self {
        Inquiry {
            id,
            order,
            category,
            opened_at: now,
            opened_by: by.to_owned(),
            notes: vec![NoteMeta {
                at: now,
                by: by.to_owned(),
                kind: NoteKind::Opened,
            }],
            resolved_at: None,
            resolved_by: None,
        }
    }

    /// Adds a note (or, with [`NoteKind::Resolution`], resolves); returns the new note's number.
    /// A resolved inquiry takes nothing more.
    pub fn add(
        &mut self,
        kind: NoteKind,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<u32, InquiryRefusal> {
        if let Some(at) = self.resolved_at {
            return Err(InquiryRefusal::Resolved { id: self.id, at });
        }
        if kind == NoteKind::Resolution {
            self.resolved_at = Some(now);
            self.resolved_by = Some(by.to_owned());
        }
        self.notes.push(NoteMeta {
            at: now,
            by: by.to_owned(),
            kind,
        });
        Ok((self.notes.len() - 1) as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().into()
    }

    #[test]
    fn categories_parse_by_their_names() {
        for c in InquiryCategory::ALL {
            assert_eq!(InquiryCategory::parse(c.name()), Some(c));
            assert_eq!(
                serde_json::to_value(c).unwrap(),
                serde_json::Value::String(c.name().into())
            );
        }
        assert_eq!(InquiryCategory::parse("lost"), None);
    }

    #[test]
    fn note_text_is_bounded_and_never_printed() {
        assert_eq!(NoteText::new("  hi  ").unwrap().as_str(), "hi");
        assert_eq!(NoteText::new(" \n "), Err(NoteTextError::Empty));
        let max = "é".repeat(NoteText::MAX_CHARS);
        assert_eq!(NoteText::new(max.clone()).unwrap().as_str(), max);
        let over = NoteText::new(format!("{max}x")).unwrap_err();
        assert_eq!(over, NoteTextError::TooLong(2001));
        assert_eq!(
            over.to_string(),
            "is 2001 characters long; at most 2000 are kept: shorten it"
        );
        let n = NoteText::new("Jane says the box was wet").unwrap();
        assert_eq!(format!("{n:?}"), "NoteText(25 chars, redacted)");
        assert_eq!(
            NoteText::new("a\u{1b}[2Jb\u{202E}")
                .unwrap()
                .escaped()
                .as_str(),
            "a\\u{001B}[2Jb\\u{202E}"
        );
    }

    #[test]
    fn a_resolved_inquiry_takes_no_more_notes() {
        let id = OrderId::parse("111-0000001-0000001").unwrap();
        let t0 = at("2026-11-25T10:00:00Z");
        let mut q = Inquiry::open(7, id, InquiryCategory::Damaged, "ana", t0);
        assert_eq!(q.add(NoteKind::Note, "bo", t0).unwrap(), 1);
        assert_eq!(q.add(NoteKind::Resolution, "ana", t0).unwrap(), 2);
        assert_eq!(q.resolved_by.as_deref(), Some("ana"));
        assert_eq!(
            q.add(NoteKind::Note, "bo", t0),
            Err(InquiryRefusal::Resolved { id: 7, at: t0 })
        );
        assert_eq!(
            q.add(NoteKind::Resolution, "ana", t0)
                .unwrap_err()
                .to_string(),
            "inquiry 7 was resolved on 2026-11-25 10:00 UTC: it takes no more notes"
        );
        assert_eq!(q.notes.len(), 3);
    }
}
