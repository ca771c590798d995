//! Values the store's trees hold that are the store's own (not the domain's): free text as a
//! sealed reference or packline's words, exception notes and holds as kept, an item's unit
//! codes. Their formats on disk are in `records/`, each converting to and from its value here;
//! what they do is beside the code that uses them (`notes`, `floor`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::CodeKind;

/// Free text as records keep it: packline's own words, or the reference of sealed ones.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StoredText {
    System(String),
    Sealed(String),
}

/// An exception note as the `exceptions` tree keeps it (format 2, postcard behind the format
/// byte; format 1 was JSON with the words in the clear, sealed at upgrade).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredException {
    pub raised_at: DateTime<Utc>,
    pub raised_by: String,
    pub note: StoredText,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<String>,
    pub resolution: Option<StoredText>,
}

/// A hold as the `floor` tree keeps it: the reason sealed (a lead's words) or packline's own.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredHold {
    pub by: String,
    pub since: DateTime<Utc>,
    pub reason: StoredText,
}

/// The codes of one order item's units.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemCodes {
    pub item_id: String,
    pub kind: CodeKind,
    pub codes: Vec<String>,
}
