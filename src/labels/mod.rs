//! What packline prints: barcodes and label text. It renders bytes and never sends them
//! anywhere; printing and storing labels belong to the callers. Text from orders is escaped for
//! the printer language it goes into, and barcode payloads are validated, never escaped.

pub mod code128;
pub mod zpl;
