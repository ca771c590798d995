//! What labels are drawn with: Code 128 barcodes (`code128`), ZPL II text fields escaped so
//! text can only print as text (`zpl`), little PDF documents in the base-14 fonts (`pdf`), 8-bit
//! grey rasters written as PNG (`raster`) and the 8×8 bitmap font (`font`).
//!
//! A crate of its own, below packline (which re-exports it as `packline::labels::{code128, pdf,
//! raster, zpl}` and `packline::font`) and the training marketplace (whose carrier labels are
//! drawn with the same pieces). It knows no order, recipient or printer.
#![deny(clippy::print_stdout)]

pub mod code128;
pub mod font;
pub mod pdf;
pub mod raster;
pub mod zpl;
