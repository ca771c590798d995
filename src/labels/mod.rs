//! What packline prints: barcodes, label text and packing slips, and the printers they go to
//! (`print`). Text from orders is escaped for the printer language it goes into, and barcode
//! payloads are validated, never escaped. Nothing here stores a document: bytes go to the
//! printer the caller names and nowhere else. It works on domain values (orders, recipients,
//! shipment records) handed to it, and never reads or imports the store. What labels are drawn
//! with (`code128`, `pdf`, `raster`, `zpl`) is the `packline-draw` crate's, shared with the
//! training marketplace's carrier labels.

pub mod chart;
pub mod manifest;
pub mod picksheet;
pub mod print;
pub mod slip;

pub use packline_draw::{code128, pdf, raster, zpl};
