//! Free text a person typed on the floor (an exception note or resolution, a hold, reveal or
//! void reason), as a caller sees it. People write names into these ("the buyer called"), so the
//! store keeps the words sealed, like an inquiry's note; what a caller gets is the words opened
//! for a lead who unlocked, or a placeholder. Words packline wrote itself hold no personal text
//! and stay as they are.

use serde::{Deserialize, Serialize};

use super::inquiry::NoteText;

/// What a caller without the right to read sealed words sees in their place.
pub const SEALED_PLACEHOLDER: &str = "sealed: a lead unlocks to read";

/// Free text as a caller sees it. Its `Debug` never shows a person's words (`NoteText` redacts
/// itself); there is no `Display`: [`FreeText::shown`] is the one way to the words.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", content = "text", rename_all = "kebab-case")]
pub enum FreeText {
    /// Written by packline itself (no personal text): kept and shown as it is.
    System(String),
    /// A person's words, sealed in the store under this reference (e.g. `hold/ORDER`): a lead
    /// who unlocks reads them.
    Sealed(String),
    /// A person's words: as just typed, or opened for a lead.
    Open(NoteText),
}

impl FreeText {
    /// The words for a screen (still to be escaped, like any stored text), or the placeholder
    /// while they are sealed.
    pub fn shown(&self) -> String {
        match self {
            FreeText::System(s) => s.clone(),
            FreeText::Sealed(_) => SEALED_PLACEHOLDER.to_owned(),
            FreeText::Open(t) => t.as_str().to_owned(),
        }
    }

    /// True when this is packline's own `text`.
    pub fn is_system(&self, text: &str) -> bool {
        matches!(self, FreeText::System(s) if s == text)
    }

    /// The same text with a person's words sealed under `reference` (what any caller but a lead
    /// who unlocked gets).
    pub fn sealed_as(&self, reference: &str) -> FreeText {
        match self {
            FreeText::System(s) => FreeText::System(s.clone()),
            _ => FreeText::Sealed(reference.to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_typed_words_and_sealed_shows_the_placeholder() {
        let open = FreeText::Open(NoteText::new("Zebulon Quartermaine called").unwrap());
        assert!(!format!("{open:?}").contains("Zebulon"));
        assert_eq!(open.shown(), "Zebulon Quartermaine called");
        let sealed = open.sealed_as("hold/123-1234567-1234567");
        assert_eq!(sealed.shown(), SEALED_PLACEHOLDER);
        assert!(FreeText::System("x".into()).is_system("x"));
    }
}
