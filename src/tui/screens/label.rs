//! Labels, for labelers: packed orders waiting for postage, their offers (the rule's choice
//! first), buying, printing and reprinting labels and slips, voiding, own-carrier shipments,
//! and closing the day. Print results arrive as notices: printing never holds the screen.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Row, Table};

use super::{Theme, clean};
use crate::domain::OrderState;
use crate::service::{OrderRow, RateOffer};

#[derive(Clone, Debug, Default)]
pub struct LabelScreen {
    /// Packed orders (to buy for) then Labelled ones (to print, reprint or void).
    pub orders: Vec<OrderRow>,
    pub selected: usize,
    /// Offers for the selected order, once asked for.
    pub offers: Vec<RateOffer>,
    pub offer: usize,
    /// The last print result.
    pub printing: String,
    /// A wave of purchases is running: orders settled of all.
    pub wave: Option<(u32, u32)>,
    /// Print jobs that failed, the latest first (`packline prints retry` sends them again).
    pub failed: Vec<crate::service::PrintJob>,
}

impl LabelScreen {
    pub fn set_orders(&mut self, packed: Vec<OrderRow>, labelled: Vec<OrderRow>) {
        let keep = self.current().map(|r| r.order.id.clone());
        self.orders = packed.into_iter().chain(labelled).collect();
        self.selected = keep
            .and_then(|id| self.orders.iter().position(|r| r.order.id == id))
            .unwrap_or(0)
            .min(self.orders.len().saturating_sub(1));
    }

    pub fn current(&self) -> Option<&OrderRow> {
        self.orders.get(self.selected)
    }

    /// The offers for the selected order, best first.
    pub fn set_offers(&mut self, offers: Vec<RateOffer>) {
        self.offers = offers;
        self.offer = 0;
    }

    pub fn move_by(&mut self, delta: i64) {
        let n = self.orders.len() as i64;
        if n > 0 {
            self.selected = (self.selected as i64 + delta).clamp(0, n - 1) as usize;
            self.offers.clear();
        }
    }

    pub fn next_offer(&mut self) {
        if !self.offers.is_empty() {
            self.offer = (self.offer + 1) % self.offers.len();
        }
    }

    pub fn render(&self, f: &mut Frame, area: Rect, theme: Theme) {
        let small = area.width < 80;
        let offers_h = if self.offers.is_empty() {
            0
        } else {
            (self.offers.len() as u16 + 1).min(area.height / 2)
        };
        let [top, list, offers] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(2),
            Constraint::Length(offers_h),
        ])
        .areas(area);
        let top_line = match self.wave {
            // A gauge in characters, so it reads without colour.
            Some((done, total)) => {
                let width = if small { 10 } else { 30 };
                let filled = (done as usize * width)
                    .checked_div(total as usize)
                    .unwrap_or(0)
                    .min(width);
                format!(
                    "buying all: [{}{}] {done}/{total}",
                    "#".repeat(filled),
                    "-".repeat(width - filled)
                )
            }
            None if self.printing.is_empty() && !self.failed.is_empty() => {
                let last = &self.failed[0];
                clean(
                    &format!(
                        "{} PRINT(S) FAILED, last {}: {}",
                        self.failed.len(),
                        last.title(),
                        last.error.as_deref().unwrap_or("no reason kept")
                    ),
                    200,
                )
            }
            None if self.printing.is_empty() => {
                format!("{} order(s) to label or print", self.orders.len())
            }
            None => clean(&self.printing, 80),
        };
        let failing = self.wave.is_none() && self.printing.is_empty() && !self.failed.is_empty();
        let style = if failing {
            theme.error()
        } else {
            Default::default()
        };
        f.render_widget(
            Paragraph::new(Line::from(Span::styled(top_line, style))),
            top,
        );
        let rows = self.orders.iter().enumerate().map(|(i, r)| {
            let what = match r.state {
                OrderState::Packed => "to buy",
                OrderState::Labelled => "labelled",
                _ => "",
            };
            let mut cells = vec![clean(r.order.id.as_str(), 19), what.to_owned()];
            if !small {
                cells.push(r.order.ship_by_key().format("%m-%d %H:%M").to_string());
                cells.push(clean(r.recipient_mask.as_deref().unwrap_or("-"), 16));
            }
            let style = theme.row(i == self.selected);
            Row::new(cells).style(style)
        });
        let widths: Vec<Constraint> = if small {
            vec![Constraint::Length(19), Constraint::Min(5)]
        } else {
            vec![
                Constraint::Length(20),
                Constraint::Length(9),
                Constraint::Length(12),
                Constraint::Min(5),
            ]
        };
        f.render_widget(Table::new(rows, widths), list);
        let rows = self.offers.iter().enumerate().map(|(i, o)| {
            let mut style = if o.meets_promise {
                Default::default()
            } else {
                theme.dim()
            };
            style = style.patch(theme.row(i == self.offer));
            Row::new(vec![
                clean(&o.carrier, 8),
                clean(&o.service, if small { 14 } else { 30 }),
                format!("{:.2} {}", o.amount, clean(&o.currency, 3)),
                if o.meets_promise {
                    String::new()
                } else {
                    "late".into()
                },
            ])
            .style(style)
        });
        f.render_widget(
            Table::new(
                rows,
                [
                    Constraint::Length(9),
                    Constraint::Min(10),
                    Constraint::Length(11),
                    Constraint::Length(5),
                ],
            ),
            offers,
        );
    }
}
