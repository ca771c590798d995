//! The chart a lead pastes into an e-mail: units shipped per day as bars (groups of days over a
//! long range), the late share as a square marker on its own scale, with the range, totals and
//! a legend in text.
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
    // At least 2 dots a bar: a long range is drawn in groups of consecutive days (units added,
    // the late share weighted by units), each labelled by its first day.
    let width = x1 - x0;
    let group = r.days.len().div_ceil(width / 2).max(1);
    let bars: Vec<(chrono::NaiveDate, u64, f64)> = r
        .days
        .chunks(group)
        .map(|g| {
            let units: u64 = g.iter().map(|d| d.1).sum();
            let late = if units == 0 {
                0.0
            } else {
                g.iter().map(|d| d.1 as f64 * d.2).sum::<f64>() / units as f64
            };
            (g[0].0, units, late)
        })
        .collect();
    let long = r.to - r.from > chrono::Duration::days(366);
    let days = bars.len().max(1);
    let max = bars.iter().map(|d| d.1).max().unwrap_or(0).max(1);
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
    let slot = (width / days).max(1);
    let bar = (slot * 2 / 3).max(1);
    // Labels where they fit: every nth bar, month-day (year-month over a long range).
    let every = (days * 48).div_ceil(width).max(1);
    let label = if long { "%Y-%m" } else { "%m-%d" };
    for (i, (day, units, late)) in bars.iter().enumerate() {
        let left = x0 + i * slot + slot.saturating_sub(bar) / 2;
        if i % every == 0 {
            c.text(left, y1 + 10, 1, &day.format(label).to_string(), 7);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::report::{By, Report};

    /// Any range draws: a day, a month, six years of days (grouped), none at all.
    #[test]
    fn every_range_draws_a_chart() {
        let day = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap();
        for (from, to) in [
            (day(2026, 11, 1), day(2026, 11, 1)),
            (day(2026, 11, 1), day(2026, 11, 30)),
            (day(2020, 12, 1), day(2026, 11, 30)),
        ] {
            let mut r = Report::build(from, to, By::Day, &[]);
            if r.days.is_empty() {
                r.days = from
                    .iter_days()
                    .take_while(|d| *d <= to)
                    .enumerate()
                    .map(|(i, d)| (d, i as u64 % 7, 0.1))
                    .collect();
            }
            let png = png(&r);
            assert!(png.starts_with(b"\x89PNG"), "{from}..{to}");
        }
    }
}
