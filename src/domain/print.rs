//! A print job as the print queue keeps it: what it prints, where, and how it went. The
//! document itself is made (or unsealed) only when the job is sent.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::OrderId;

/// A print job. The document is made (or unsealed) only when it is sent: nothing printable with
/// personal data waits on disk in the clear.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PrintJob {
    pub id: u64,
    pub order: OrderId,
    pub document: Document,
    pub printer: String,
    pub state: JobState,
    pub attempts: u32,
    pub error: Option<String>,
    pub created: DateTime<Utc>,
    pub by: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Document {
    /// The label of the order's package 1.
    Label,
    SlipZpl,
    SlipPdf,
    /// The pick sheet of the batch the job's order is claimed in (ZPL; no personal data).
    PickSheet,
    /// The label of the order's package n > 1 (a variant of its own, after the others, so jobs
    /// stored before packages read as they were).
    PackageLabel(u32),
    /// The carrier's collection form of the job's day (the day's forms in carrier-id order,
    /// this one by its place); a PDF with no personal data.
    CollectionForm(u32),
}

impl Document {
    pub fn name(self) -> &'static str {
        match self {
            Document::Label | Document::PackageLabel(_) => "label",
            Document::SlipZpl | Document::SlipPdf => "packing slip",
            Document::PickSheet => "pick sheet",
            Document::CollectionForm(_) => "collection form",
        }
    }

    /// The label of one package.
    pub fn label_of(package: u32) -> Document {
        if package > 1 {
            Document::PackageLabel(package)
        } else {
            Document::Label
        }
    }

    /// The package whose label this is.
    pub fn package(self) -> Option<u32> {
        match self {
            Document::Label => Some(1),
            Document::PackageLabel(n) => Some(n),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Queued,
    Sent,
    Failed,
}

impl PrintJob {
    /// What the job prints, for people: "order … label", or "collection form" (the day's
    /// form of a carrier; the order it is filed under is not its subject).
    pub fn title(&self) -> String {
        match self.document {
            Document::CollectionForm(_) => "collection form".to_owned(),
            d => format!("order {} {}", self.order, d.name()),
        }
    }
}

impl JobState {
    pub fn name(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Sent => "printed",
            JobState::Failed => "failed",
        }
    }
}
