//! The chart a lead pastes into an e-mail: units shipped per day as bars, the late share per
//! day as a square marker on its own scale, with the range, totals and a legend in text.
//! Shapes, not colour, carry the meaning (grey PNG). Built from a report: no personal data.

use super::raster::Raster;
use crate::domain::report::Report;

const W: usize = 960;
const H: usize = 480;
const LEFT: usize = 80;
const RIGHT: usize = 80;
const TOP: usize = 70;
const BOTTOM: usize = 60;

/// The report's days as a PNG chart.
pub fn png(r: &Report) -> Vec<u8> {
    let mut c = Raster::new(W, H);
    let title = format!(
        "units shipped per day, {} to {}: {} units, {} orders, {:.1}% late",
        r.from,
        r.to,
        r.totals.units_shipped,
        r.totals.orders_shipped,
        r.late_share * 100.0
    );
    c.text(LEFT, 20, 1, &title, 110);
    c.text(
        LEFT,
        40,
        1,
        "bars: units shipped (left scale)   squares: late share (right scale, 0-100%)",
        110,
    );
    let (x0, x1, y0, y1) = (LEFT, W - RIGHT, TOP, H - BOTTOM);
    // Axes.
    c.fill(x0 - 2, y0, x0, y1 + 2);
    c.fill(x0 - 2, y1, x1, y1 + 2);
    c.fill(x1, y0, x1 + 2, y1 + 2);
    let days = r.days.len().max(1);
    let max = r.days.iter().map(|d| d.1).max().unwrap_or(0).max(1);
    // Left scale: 0, half, max.
    for (v, y) in [(0, y1), (max / 2, y0 + (y1 - y0) / 2), (max, y0)] {
        let label = v.to_string();
        c.text(
            x0.saturating_sub(10 + 8 * label.len()),
            y.saturating_sub(4),
            1,
            &label,
            10,
        );
        c.shade(x0, y, x1, y + 1, 200);
    }
    for (v, y) in [("0%", y1), ("50%", y0 + (y1 - y0) / 2), ("100%", y0)] {
        c.text(x1 + 8, y.saturating_sub(4), 1, v, 5);
    }
    let slot = (x1 - x0) / days;
    let bar = (slot * 2 / 3).max(1);
    // Day labels where they fit: every nth, month-day.
    let every = (days * 48).div_ceil(x1 - x0).max(1);
    for (i, (day, units, late)) in r.days.iter().enumerate() {
        let left = x0 + i * slot + (slot - bar) / 2;
        if i % every == 0 {
            c.text(left, y1 + 10, 1, &day.format("%m-%d").to_string(), 5);
        }
        let height = ((y1 - y0) as u64 * units / max) as usize;
        c.shade(left, y1 - height, left + bar, y1, 110);
        if *units == 0 {
            continue;
        }
        // The late share, as a black square with a white centre (readable over a bar).
        let ly = y1 - ((y1 - y0) as f64 * late.clamp(0.0, 1.0)) as usize;
        let mid = left + bar / 2;
        c.fill(mid.saturating_sub(4), ly.saturating_sub(4), mid + 4, ly + 4);
        c.shade(
            mid.saturating_sub(2),
            ly.saturating_sub(2),
            mid + 2,
            ly + 2,
            255,
        );
    }
    c.png(None)
}
