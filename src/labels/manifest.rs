//! The end-of-day manifest: per carrier, how many parcels and their tracking ids. Nothing
//! personal: order ids, services and tracking numbers only.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};

use crate::store::shipping::ShipmentRecord;

fn by_carrier(shipments: &[ShipmentRecord]) -> BTreeMap<String, Vec<&ShipmentRecord>> {
    let mut m: BTreeMap<String, Vec<&ShipmentRecord>> = BTreeMap::new();
    for s in shipments {
        let carrier = s
            .carrier
            .as_ref()
            .map_or("unknown".into(), |c| c.to_string());
        m.entry(carrier).or_default().push(s);
    }
    m
}

/// A CSV quoted so that no field can start a spreadsheet formula.
fn field(s: &str) -> String {
    let s = s.replace('"', "\"\"");
    if s.starts_with(['=', '+', '-', '@']) {
        format!("\"'{s}\"")
    } else {
        format!("\"{s}\"")
    }
}

pub fn csv(shipments: &[ShipmentRecord]) -> String {
    let mut out = String::from("carrier,order_id,service,tracking_id\n");
    for (carrier, list) in by_carrier(shipments) {
        for s in list {
            out.push_str(&format!(
                "{},{},{},{}\n",
                field(&carrier),
                field(s.order.as_str()),
                field(s.service_name.as_deref().unwrap_or("own carrier")),
                field(s.tracking.as_ref().map_or("", |t| t.as_str())),
            ));
        }
    }
    out
}

/// Rows per PDF page.
const ROWS: usize = 55;

/// A PDF (US Letter) with each carrier's parcels on its own pages, tracking ids listed.
pub fn pdf(date: NaiveDate, shipments: &[ShipmentRecord]) -> Vec<u8> {
    let by = by_carrier(shipments);
    // (carrier, that carrier's total, this page's rows)
    let groups: Vec<(String, usize, Vec<&ShipmentRecord>)> = by
        .iter()
        .flat_map(|(c, list)| {
            list.chunks(ROWS)
                .map(move |chunk| (c.clone(), list.len(), chunk.to_vec()))
        })
        .collect();
    let mut pdf = Pdf::new();
    let (catalog, tree, font) = (Ref::new(1), Ref::new(2), Ref::new(3));
    let pages: Vec<(Ref, Ref)> = (0..groups.len().max(1))
        .map(|i| (Ref::new(4 + 2 * i as i32), Ref::new(5 + 2 * i as i32)))
        .collect();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .kids(pages.iter().map(|(p, _)| *p))
        .count(pages.len() as i32);
    pdf.type1_font(font)
        .base_font(Name(b"Helvetica"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    let empty = Vec::new();
    let mut iter = groups.iter();
    for (page, content) in &pages {
        let (carrier, total, list) = iter
            .next()
            .map_or(("no shipments", 0, &empty), |(c, n, l)| (c.as_str(), *n, l));
        let mut p = pdf.page(*page);
        p.media_box(Rect::new(0.0, 0.0, 612.0, 792.0))
            .parent(tree)
            .contents(*content);
        p.resources().fonts().pair(Name(b"F1"), font);
        p.finish();
        let mut c = Content::new();
        let line = |c: &mut Content, size: f32, y: f32, s: &str| {
            let bytes: Vec<u8> = s
                .chars()
                .take(100)
                .map(|ch| {
                    if ch.is_ascii() && !ch.is_ascii_control() {
                        ch as u8
                    } else {
                        b'?'
                    }
                })
                .collect();
            c.begin_text()
                .set_font(Name(b"F1"), size)
                .next_line(54.0, y)
                .show(Str(&bytes))
                .end_text();
        };
        line(&mut c, 16.0, 740.0, &format!("Manifest {date} - {carrier}"));
        line(&mut c, 11.0, 720.0, &format!("{total} parcel(s)"));
        let mut y = 690.0;
        for s in list {
            line(
                &mut c,
                10.0,
                y,
                &format!(
                    "{}   {}   {}",
                    s.order,
                    s.tracking.as_ref().map_or("-", |t| t.as_str()),
                    s.service_name.as_deref().unwrap_or("own carrier")
                ),
            );
            y -= 12.0;
        }
        pdf.stream(*content, &c.finish());
    }
    pdf.finish()
}
