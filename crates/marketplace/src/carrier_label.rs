//! The training marketplace's carrier labels: real 4×6 inch files in the formats Merchant
//! Fulfillment sells (ZPL for 203 dpi thermal printers, PNG at 203 dpi, PDF), each with the
//! tracking id as a Code 128 barcode that any scanner reads. Order text in ZPL goes through `^FH`
//! escaping, so a hostile name prints as text; the barcode payload is validated, not escaped.
//! Every label says it is a training label. Collection forms (the carrier's manifest of the
//! day's packages) are PDFs too, listing tracking ids only.

use pdf_writer::Content;

use packline_draw::code128::{Code128, Code128Error};
use packline_draw::pdf::{BOLD, REGULAR, bars, document, text, win_ansi};
use packline_draw::raster::Raster;
use packline_draw::zpl;

/// 4×6 inches at 203 dots per inch.
pub const DOTS_WIDE: u32 = 812;
pub const DOTS_HIGH: u32 = 1218;
/// 203 dots per inch in pixels per metre, for the PNG's `pHYs` chunk.
const PIXELS_PER_METRE: u32 = 7992;

/// What a carrier label shows.
pub struct LabelText {
    pub from: Vec<String>,
    pub to: Vec<String>,
    pub carrier: String,
    pub service: String,
    pub tracking: String,
    /// The order id, when the seller asked for it (`StandardIdForLabel`).
    pub order_id: Option<String>,
    /// `CustomTextForLabel` (ZPL only, as Amazon documents).
    pub custom_text: Option<String>,
}

/// Why a label cannot be drawn.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("tracking id: {0}")]
    Barcode(#[from] Code128Error),
    #[error("tracking id: a character that is not a letter or digit at position {0}")]
    NotAlphanumeric(usize),
}

/// The tracking barcode. Tracking ids are letters and digits, and anything else is refused: the
/// id goes into the barcode field as it is (validated, not escaped).
fn tracking_barcode(tracking: &str) -> Result<Code128, RenderError> {
    if let Some(i) = tracking.chars().position(|c| !c.is_ascii_alphanumeric()) {
        return Err(RenderError::NotAlphanumeric(i));
    }
    Ok(Code128::encode(tracking)?)
}

/// The module width in dots that fits the barcode, with its quiet zones, across the label.
fn module_dots(code: &Code128) -> u32 {
    let modules = code.width_in_modules() as u32 + 20;
    ((DOTS_WIDE - 40) / modules).clamp(1, 4)
}

/// A ZPL II label for a 203 dpi printer: `^CI28` (UTF-8), every text field `^FH`-escaped.
pub fn zpl203(l: &LabelText) -> Result<Vec<u8>, RenderError> {
    let code = tracking_barcode(&l.tracking)?;
    let m = module_dots(&code);
    let bar_x = (DOTS_WIDE - m * code.width_in_modules() as u32) / 2;
    let mut z = String::with_capacity(2048);
    z.push_str("^XA\n^CI28\n^PW812\n^LL1218\n^LH0,0\n");
    z.push_str("^FO20,20^GB772,1178,4^FS\n");
    z.push_str(&zpl::text_field(40, 40, 24, "FROM:", 10));
    for (i, line) in l.from.iter().take(5).enumerate() {
        z.push_str(&zpl::text_field(40, 70 + 28 * i as u32, 24, line, 48));
    }
    z.push_str("^FO20,230^GB772,4,4^FS\n");
    z.push_str(&zpl::text_field(40, 250, 28, "SHIP TO:", 10));
    for (i, line) in l.to.iter().take(6).enumerate() {
        z.push_str(&zpl::text_field(70, 290 + 44 * i as u32, 40, line, 30));
    }
    z.push_str("^FO20,570^GB772,4,4^FS\n");
    z.push_str(&zpl::text_field(
        40,
        590,
        40,
        &format!("{} {}", l.carrier, l.service),
        36,
    ));
    // The tracking id is letters and digits (checked above): no `^FH`, so the printer encodes
    // exactly these bytes.
    z.push_str(&format!(
        "^FO{bar_x},660^BY{m},3,250^BCN,250,Y,N,N,A^FD{}^FS\n",
        l.tracking
    ));
    z.push_str("^FO20,990^GB772,4,4^FS\n");
    if let Some(id) = &l.order_id {
        z.push_str(&zpl::text_field(40, 1010, 32, &format!("Order {id}"), 40));
    }
    if let Some(t) = &l.custom_text {
        z.push_str(&zpl::text_field(40, 1060, 32, t, 14));
    }
    z.push_str(&zpl::text_field(
        40,
        1140,
        28,
        "TRAINING LABEL - NOT POSTAGE",
        40,
    ));
    z.push_str("^XZ\n");
    // `text_field` escapes every byte outside printable ASCII: the label is pure ASCII.
    debug_assert!(z.bytes().all(|b| b == b'\n' || (0x20..=0x7E).contains(&b)));
    Ok(z.into_bytes())
}

/// A 4×6 inch PNG at 203 dpi: the same layout as the ZPL label, text in an 8×8 bitmap font
/// scaled up, and the tracking barcode with its quiet zones.
pub fn png203(l: &LabelText) -> Result<Vec<u8>, RenderError> {
    let code = tracking_barcode(&l.tracking)?;
    let mut r = Raster::new(DOTS_WIDE as usize, DOTS_HIGH as usize);
    // Frame and the rules between the blocks, as on the ZPL label.
    r.fill(20, 20, 792, 24);
    r.fill(20, 1194, 792, 1198);
    r.fill(20, 20, 24, 1198);
    r.fill(788, 20, 792, 1198);
    r.fill(20, 230, 792, 234);
    r.fill(20, 570, 792, 574);
    r.fill(20, 990, 792, 994);
    r.text(40, 40, 2, "FROM:", 10);
    for (i, line) in l.from.iter().take(5).enumerate() {
        r.text(40, 66 + 26 * i, 2, line, 46);
    }
    r.text(40, 250, 3, "SHIP TO:", 10);
    for (i, line) in l.to.iter().take(6).enumerate() {
        r.text(70, 290 + 44 * i, 3, line, 29);
    }
    r.text(40, 596, 3, &format!("{} {}", l.carrier, l.service), 30);
    let m = module_dots(&code) as usize;
    let bar_x = (r.w - m * code.width_in_modules()) / 2;
    for (start, width) in code.bars() {
        r.fill(bar_x + start * m, 660, bar_x + (start + width) * m, 910);
    }
    let readable = l.tracking.len() * 24;
    r.text(r.w.saturating_sub(readable) / 2, 928, 3, &l.tracking, 33);
    if let Some(id) = &l.order_id {
        r.text(40, 1012, 3, &format!("Order {id}"), 30);
    }
    r.text(40, 1140, 3, "TRAINING LABEL - NOT POSTAGE", 30);
    Ok(r.png(Some(PIXELS_PER_METRE)))
}

/// A 4×6 inch PDF: text in Helvetica, the barcode as vector bars.
pub fn pdf(l: &LabelText) -> Result<Vec<u8>, RenderError> {
    let code = tracking_barcode(&l.tracking)?;
    let (regular, heavy) = (REGULAR, BOLD);
    let mut c = Content::new();
    // Frame and rules.
    c.set_line_width(1.5);
    c.rect(7.0, 7.0, 274.0, 418.0).stroke();
    for y in [350.0, 230.0, 76.0] {
        c.move_to(7.0, y).line_to(281.0, y).stroke();
    }
    text(&mut c, heavy, 8.0, 14.0, 414.0, b"FROM:");
    for (i, line) in l.from.iter().take(5).enumerate() {
        text(
            &mut c,
            regular,
            8.0,
            14.0,
            403.0 - 10.0 * i as f32,
            &win_ansi(line, 56),
        );
    }
    text(&mut c, heavy, 10.0, 14.0, 336.0, b"SHIP TO:");
    for (i, line) in l.to.iter().take(6).enumerate() {
        text(
            &mut c,
            regular,
            13.0,
            24.0,
            318.0 - 15.0 * i as f32,
            &win_ansi(line, 34),
        );
    }
    text(
        &mut c,
        heavy,
        12.0,
        14.0,
        214.0,
        &win_ansi(&format!("{} {}", l.carrier, l.service), 40),
    );
    // Bars: the module width that fits 4 inches less margins and quiet zones, at most 1.2 pt.
    let modules = code.width_in_modules() as f32;
    let m = (250.0 / (modules + 20.0)).min(1.2);
    let x0 = (288.0 - m * modules) / 2.0;
    bars(&mut c, &code, x0, 110.0, m, 90.0);
    text(&mut c, regular, 10.0, x0, 96.0, l.tracking.as_bytes());
    if let Some(id) = &l.order_id {
        text(
            &mut c,
            regular,
            10.0,
            14.0,
            60.0,
            &win_ansi(&format!("Order {id}"), 40),
        );
    }
    text(
        &mut c,
        heavy,
        8.0,
        14.0,
        16.0,
        b"TRAINING LABEL - NOT POSTAGE",
    );
    Ok(document(288.0, 432.0, vec![c]))
}

/// What a carrier's collection form (manifest, SCAN form) lists: no addresses, no names.
pub struct CollectionFormText {
    pub carrier: String,
    pub form_id: String,
    /// The day of the form, `YYYY-MM-DD`.
    pub date: String,
    /// The tracking ids of the packages on it.
    pub tracking: Vec<String>,
}

/// Tracking ids listed on one page of a collection form.
const FORM_LINES_PER_PAGE: usize = 40;

/// A collection form as a US Letter PDF: carrier, form id, date and package count on every page,
/// then the tracking ids, 40 a page. Tracking ids are letters and digits (anything else is
/// refused, as on labels).
pub fn collection_form_pdf(f: &CollectionFormText) -> Result<Vec<u8>, RenderError> {
    for t in &f.tracking {
        if let Some(i) = t.chars().position(|c| !c.is_ascii_alphanumeric()) {
            return Err(RenderError::NotAlphanumeric(i));
        }
    }
    let chunks: Vec<&[String]> = if f.tracking.is_empty() {
        vec![&[]]
    } else {
        f.tracking.chunks(FORM_LINES_PER_PAGE).collect()
    };
    let pages = chunks.len();
    let mut contents = Vec::with_capacity(pages);
    for (page, chunk) in chunks.into_iter().enumerate() {
        let mut c = Content::new();
        text(&mut c, BOLD, 16.0, 54.0, 740.0, b"COLLECTION FORM");
        let header = [
            format!("Carrier: {}", f.carrier),
            format!("Form: {}", f.form_id),
            format!("Date: {}", f.date),
            format!("Packages: {}", f.tracking.len()),
            format!("Page {} of {pages}", page + 1),
        ];
        for (i, line) in header.iter().enumerate() {
            text(
                &mut c,
                REGULAR,
                11.0,
                54.0,
                716.0 - 15.0 * i as f32,
                &win_ansi(line, 80),
            );
        }
        c.set_line_width(1.0);
        c.move_to(54.0, 634.0).line_to(558.0, 634.0).stroke();
        for (i, t) in chunk.iter().enumerate() {
            let n = page * FORM_LINES_PER_PAGE + i + 1;
            let y = 616.0 - 14.0 * i as f32;
            text(&mut c, REGULAR, 10.0, 54.0, y, format!("{n:>4}").as_bytes());
            text(&mut c, REGULAR, 10.0, 90.0, y, t.as_bytes());
        }
        text(
            &mut c,
            BOLD,
            8.0,
            54.0,
            36.0,
            b"TRAINING COLLECTION FORM - NOT FOR CARRIER USE",
        );
        contents.push(c);
    }
    Ok(document(612.0, 792.0, contents))
}

/// A barcode alone as a PNG (`module` pixels per module, ten-module quiet zones), to check the
/// encoder against an independent decoder.
pub fn barcode_png(text: &str, module: usize, height: usize) -> Result<Vec<u8>, Code128Error> {
    let code = Code128::encode(text)?;
    let mut r = Raster::new((code.width_in_modules() + 20) * module, height + 20);
    for (start, width) in code.bars() {
        r.fill(
            (10 + start) * module,
            10,
            (10 + start + width) * module,
            10 + height,
        );
    }
    Ok(r.png(None))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hostile() -> LabelText {
        LabelText {
            from: vec!["Training Seller".into(), "1 Dock Road".into()],
            to: vec![
                "^XA^FO50,50^FDPWNED^FS^XZ Mallory".into(),
                "~JA cancel all".into(),
                "東京 100-0001".into(),
            ],
            carrier: "UPS".into(),
            service: "Ground".into(),
            tracking: "1Z999AA10123456784".into(),
            order_id: Some("123-4567890-1234567".into()),
            custom_text: Some("BIN 7 ^XZ".into()),
        }
    }

    #[test]
    fn zpl_is_one_format_and_data_cannot_add_commands() {
        let z = String::from_utf8(zpl203(&hostile()).unwrap()).unwrap();
        assert!(z.starts_with("^XA\n^CI28\n") && z.ends_with("^XZ\n"));
        assert_eq!(z.matches("^XA").count(), 1, "{z}");
        assert_eq!(z.matches("^XZ").count(), 1, "{z}");
        assert!(!z.contains('~'), "{z}");
        assert!(
            z.contains("^BCN,250,Y,N,N,A^FD1Z999AA10123456784^FS"),
            "{z}"
        );
        assert!(z.contains("_5EXA_5EFO50,50"), "{z}");
        assert!(z.contains("_E6_9D_B1_E4_BA_AC"), "{z}");
    }

    #[test]
    fn a_collection_form_lists_every_tracking_id_on_pages_of_forty() {
        let tracking: Vec<String> = (0..45).map(|i| format!("1ZTRAINING{i:08}")).collect();
        let form = CollectionFormText {
            carrier: "UPS".into(),
            form_id: "CF-1".into(),
            date: "2026-01-02".into(),
            tracking: tracking.clone(),
        };
        let pdf = collection_form_pdf(&form).unwrap();
        assert!(pdf.starts_with(b"%PDF-") && pdf.ends_with(b"%%EOF"));
        for t in &tracking {
            assert!(pdf.windows(t.len()).any(|w| w == t.as_bytes()), "{t}");
        }
        let text = String::from_utf8_lossy(&pdf);
        assert!(text.contains("/Count 2"), "two pages");
        assert!(text.contains("(Packages: 45)"));
        let bad = CollectionFormText {
            tracking: vec!["1Z) Tj".into()],
            ..form
        };
        assert!(collection_form_pdf(&bad).is_err());
    }

    #[test]
    fn png_and_pdf_are_real_files() {
        let png = png203(&hostile()).unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(&png));
        let reader = decoder.read_info().unwrap();
        let info = reader.info();
        assert_eq!((info.width, info.height), (812, 1218));
        assert_eq!(info.pixel_dims.unwrap().xppu, PIXELS_PER_METRE);
        let pdf = pdf(&hostile()).unwrap();
        assert!(pdf.starts_with(b"%PDF-1.7") && pdf.ends_with(b"%%EOF"));
        for bad in ["Zoë", "1Z^XA", "1Z~JA", ""] {
            assert!(
                zpl203(&LabelText {
                    tracking: bad.into(),
                    ..hostile()
                })
                .is_err()
            );
        }
    }
}
