//! The end-of-day manifest: per carrier, how many parcels and their tracking ids. Nothing
//! personal: order ids, services and tracking numbers only.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use pdf_writer::Content;

use super::pdf::{REGULAR, document, text, win_ansi};

use crate::domain::ShipmentRecord;

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
    let empty = Vec::new();
    let pages: Vec<(&str, usize, &Vec<&ShipmentRecord>)> = if groups.is_empty() {
        vec![("no shipments", 0, &empty)]
    } else {
        groups.iter().map(|(c, n, l)| (c.as_str(), *n, l)).collect()
    };
    let pages = pages
        .into_iter()
        .map(|(carrier, total, list)| {
            let mut c = Content::new();
            let line = |c: &mut Content, size: f32, y: f32, s: &str| {
                text(c, REGULAR, size, 54.0, y, &win_ansi(s, 100));
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
            c
        })
        .collect();
    document(612.0, 792.0, pages)
}
