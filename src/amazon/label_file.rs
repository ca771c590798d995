//! The label file both label APIs answer with (Merchant Fulfillment v0 and Shipping API v2):
//! its type and format, the checks a decoded label passes, Shipping API v2's package documents
//! that carry one (Merchant Fulfillment's encoded label stays with its shipment in `mfn.rs`),
//! and the `{"payload": …}` envelope both APIs wrap their answers in. A label's bytes are
//! personal data: no type here prints them, and their memory is wiped on drop.

use std::fmt;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::model::ParseError;

/// `LabelFormat`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LabelFormat {
    #[serde(rename = "PDF")]
    Pdf,
    #[serde(rename = "PNG")]
    Png,
    #[serde(rename = "ZPL203")]
    Zpl203,
    #[serde(rename = "ZPL300")]
    Zpl300,
    ShippingServiceDefault,
    #[serde(other)]
    Unknown,
}

/// The file type of a label (`FileType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LabelFileType {
    Pdf,
    Zpl,
    Png,
}

impl LabelFileType {
    /// From the model's MIME type.
    pub fn from_mime(s: &str) -> Option<LabelFileType> {
        match s {
            "application/pdf" => Some(LabelFileType::Pdf),
            "application/zpl" => Some(LabelFileType::Zpl),
            "image/png" => Some(LabelFileType::Png),
            _ => None,
        }
    }

    pub fn mime(self) -> &'static str {
        match self {
            LabelFileType::Pdf => "application/pdf",
            LabelFileType::Zpl => "application/zpl",
            LabelFileType::Png => "image/png",
        }
    }

    /// Whether `bytes` look like a file of this type (magic bytes; ZPL opens a format).
    pub(crate) fn matches(self, bytes: &[u8]) -> bool {
        match self {
            LabelFileType::Pdf => bytes.starts_with(b"%PDF-"),
            LabelFileType::Png => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
            LabelFileType::Zpl => bytes.windows(3).any(|w| w == b"^XA"),
        }
    }
}

/// The most a label may inflate to: real 4×6 labels are tens of kilobytes; this stops a
/// decompression bomb long before it hurts.
pub const MAX_LABEL_BYTES: usize = 16 * 1024 * 1024;

/// Why a label could not be decoded. Never carries label bytes.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum LabelError {
    #[error("label: the shipment has no label (it is cancelled, or the label is empty)")]
    Empty,
    #[error("label: FileContents.FileType is not application/pdf, application/zpl or image/png")]
    UnknownFileType,
    #[error("label: FileContents.Contents is not base64")]
    NotBase64,
    #[error("label: FileContents.Contents is not gzip data")]
    NotGzip,
    #[error("label: FileContents.Contents inflates beyond {MAX_LABEL_BYTES} bytes")]
    TooLarge,
    #[error("label: FileContents.Checksum is not the base64 of an MD5 digest")]
    BadChecksumField,
    #[error(
        "label: checksum mismatch: the label was damaged on the way; fetch it again with getShipment"
    )]
    ChecksumMismatch,
    #[error("label: FileContents.Contents is not a {0} file")]
    WrongFileType(&'static str),
}

/// A decoded label file, ready to print as it is. Its bytes are personal data.
#[derive(Clone, PartialEq, Zeroize, ZeroizeOnDrop)]
pub struct LabelFile {
    #[zeroize(skip)]
    pub file_type: LabelFileType,
    #[zeroize(skip)]
    pub format: Option<LabelFormat>,
    pub bytes: Vec<u8>,
}

impl fmt::Debug for LabelFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "LabelFile {{ file_type: {:?}, format: {:?}, <{} bytes redacted> }}",
            self.file_type,
            self.format,
            self.bytes.len()
        )
    }
}

#[derive(Deserialize)]
struct Envelope<T> {
    payload: Option<T>,
}

/// Reads `{"payload": …}`; errors name the operation and the JSON path, never a value.
pub(crate) fn parse_payload<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    operation: &str,
) -> Result<T, ParseError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let env: Envelope<T> = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        ParseError::Invalid {
            source_name: operation.to_owned(),
            path: if path.is_empty() { ".".into() } else { path },
            detail: super::model::redacted_serde_message(&e.into_inner()),
        }
    })?;
    env.payload.ok_or_else(|| ParseError::Invalid {
        source_name: operation.to_owned(),
        path: "payload".into(),
        detail: "is missing".into(),
    })
}

/// `PackageDocument`. Its contents are personal data (the label shows the ship-to address).
#[derive(Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PackageDocument {
    #[serde(rename = "type")]
    pub kind: String,
    pub format: String,
    /// Base64 of the document.
    pub contents: String,
}

impl fmt::Debug for PackageDocument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PackageDocument {{ kind: {:?}, format: {:?}, <{} bytes redacted> }}",
            self.kind,
            self.format,
            self.contents.len()
        )
    }
}

impl Drop for PackageDocument {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.contents);
    }
}

/// `PackageDocumentDetail`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PackageDocumentDetail {
    pub package_client_reference_id: String,
    pub package_documents: Vec<PackageDocument>,
    #[serde(default)]
    pub tracking_id: Option<String>,
}

impl PackageDocumentDetail {
    /// The package's label, decoded: base64 of the file, which must be of its stated format.
    pub fn label(&self) -> Result<LabelFile, LabelError> {
        let doc = self
            .package_documents
            .iter()
            .find(|d| d.kind == "LABEL")
            .ok_or(LabelError::Empty)?;
        decode_document(doc)
    }
}

/// base64 → the file, checked against its format.
fn decode_document(doc: &PackageDocument) -> Result<LabelFile, LabelError> {
    if doc.contents.is_empty() {
        return Err(LabelError::Empty);
    }
    let file_type = match doc.format.as_str() {
        "PDF" => LabelFileType::Pdf,
        "PNG" => LabelFileType::Png,
        "ZPL" => LabelFileType::Zpl,
        _ => return Err(LabelError::UnknownFileType),
    };
    let compact: zeroize::Zeroizing<String> = zeroize::Zeroizing::new(
        doc.contents
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect(),
    );
    // Base64 grows by 4/3: refuse a document that would decode past the label limit.
    if compact.len() / 4 * 3 > MAX_LABEL_BYTES {
        return Err(LabelError::TooLarge);
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map_err(|_| LabelError::NotBase64)?;
    let file = LabelFile {
        file_type,
        format: None,
        bytes,
    };
    if !file_type.matches(&file.bytes) {
        return Err(LabelError::WrongFileType(file_type.mime()));
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(format: &str, contents: &[u8]) -> PackageDocument {
        PackageDocument {
            kind: "LABEL".into(),
            format: format.into(),
            contents: base64::engine::general_purpose::STANDARD.encode(contents),
        }
    }

    #[test]
    fn a_label_is_decoded_and_checked_against_its_format() {
        let detail = PackageDocumentDetail {
            package_client_reference_id: "1".into(),
            package_documents: vec![doc("ZPL", b"^XA^FDx^FS^XZ")],
            tracking_id: Some("1Z".into()),
        };
        assert_eq!(detail.label().unwrap().bytes, b"^XA^FDx^FS^XZ");
        let wrong = PackageDocumentDetail {
            package_documents: vec![doc("PDF", b"^XA^XZ")],
            ..detail.clone()
        };
        assert_eq!(
            wrong.label().unwrap_err(),
            LabelError::WrongFileType("application/pdf")
        );
        let mut none = detail.clone();
        none.package_documents.clear();
        assert_eq!(none.label().unwrap_err(), LabelError::Empty);
        let bad = PackageDocumentDetail {
            package_documents: vec![PackageDocument {
                kind: "LABEL".into(),
                format: "ZPL".into(),
                contents: "not base64!".into(),
            }],
            ..detail
        };
        assert_eq!(bad.label().unwrap_err(), LabelError::NotBase64);
    }

    #[test]
    fn debug_of_a_document_shows_no_contents() {
        let d = doc("ZPL", b"^XA^FDJane Doe, 1 Main St^FS^XZ");
        let shown = format!("{d:?}");
        assert!(!shown.contains(&d.contents), "{shown}");
        assert!(shown.contains("redacted"));
    }
}
