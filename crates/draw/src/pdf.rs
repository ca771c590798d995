//! The little PDF packline writes: pages of text in the base-14 Helvetica fonts (regular as
//! `REGULAR`, bold as `BOLD`) and filled rectangles (barcode bars). Slips, manifests and the
//! training marketplace's labels all draw through this.

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};

use packline_text::is_hazard;

pub const REGULAR: Name<'static> = Name(b"F1");
pub const BOLD: Name<'static> = Name(b"F2");

/// Latin-1 text for the base-14 fonts with WinAnsiEncoding: hazards dropped, characters outside
/// Latin-1 shown as `?`, at most `max_chars` kept.
pub fn win_ansi(s: &str, max_chars: usize) -> Vec<u8> {
    s.chars()
        .filter(|c| !is_hazard(*c))
        .take(max_chars)
        .map(|c| match c as u32 {
            0x20..=0x7E | 0xA0..=0xFF => c as u32 as u8,
            _ => b'?',
        })
        .collect()
}

/// One line of text at (`x`, `y`) points.
pub fn text(c: &mut Content, font: Name, size: f32, x: f32, y: f32, s: &[u8]) {
    c.begin_text()
        .set_font(font, size)
        .next_line(x, y)
        .show(Str(s))
        .end_text();
}

/// A document of `pages` (each already drawn) of `width` × `height` points, with both fonts.
pub fn document(width: f32, height: f32, pages: Vec<Content>) -> Vec<u8> {
    let (catalog, tree, regular, bold) = (Ref::new(1), Ref::new(2), Ref::new(3), Ref::new(4));
    let ids: Vec<(Ref, Ref)> = (0..pages.len())
        .map(|i| (Ref::new(5 + 2 * i as i32), Ref::new(6 + 2 * i as i32)))
        .collect();
    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .kids(ids.iter().map(|(p, _)| *p))
        .count(ids.len() as i32);
    pdf.type1_font(regular)
        .base_font(Name(b"Helvetica"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.type1_font(bold)
        .base_font(Name(b"Helvetica-Bold"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    for ((page, content_id), content) in ids.into_iter().zip(pages) {
        let mut p = pdf.page(page);
        p.media_box(Rect::new(0.0, 0.0, width, height))
            .parent(tree)
            .contents(content_id);
        p.resources()
            .fonts()
            .pair(REGULAR, regular)
            .pair(BOLD, bold);
        p.finish();
        pdf.stream(content_id, &content.finish());
    }
    pdf.finish()
}

/// A Code 128 symbol as vector bars: left edge `x`, bottom `y`, `module` points per module,
/// `height` points tall.
pub fn bars(
    c: &mut Content,
    code: &crate::code128::Code128,
    x: f32,
    y: f32,
    module: f32,
    height: f32,
) {
    c.set_fill_gray(0.0);
    for (start, width) in code.bars() {
        c.rect(x + start as f32 * module, y, width as f32 * module, height);
    }
    c.fill_nonzero();
}
