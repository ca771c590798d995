//! The queue: open orders by ship-by (late and due first), counts per state, search by order
//! id. Only the rows that fit are fetched, so a frame costs the same at 100 or 1,000,000 orders.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Row, Table};

use super::{Component, Screen, Theme, clean};
use crate::service::Notice;
use crate::service::ops::Queue;
use crate::service::{Counts, OrderRow, QueuePage};
use crate::tui::action::Action;
use crate::tui::app::App;

#[derive(Clone, Debug, Default)]
pub struct QueueScreen {
    pub offset: u32,
    pub selected: usize,
    pub rows: Vec<OrderRow>,
    pub more: bool,
    pub counts: Counts,
    pub search: Option<String>,
    /// A page has come: its counts are the service's (the first is counted exactly, so the
    /// first frame says what a refresh would).
    pub counted: bool,
}

impl QueueScreen {
    /// The page the screen shows, for a terminal of `height` rows.
    pub fn request(&self, height: u16) -> Queue {
        Queue {
            state: None,
            search: self.search.clone(),
            offset: self.offset,
            limit: u32::from(height.max(1)),
            exact_counts: !self.counted,
        }
    }

    pub fn apply(&mut self, page: QueuePage) {
        let QueuePage {
            rows, more, counts, ..
        } = page;
        self.rows = rows;
        self.more = more;
        self.counts = counts;
        self.counted = true;
        self.selected = self.selected.min(self.rows.len().saturating_sub(1));
    }

    /// Moves the selection; true when a new page must be fetched.
    pub fn move_by(&mut self, delta: i64, page: u16) -> bool {
        let page = u32::from(page.max(1));
        let pos = i64::from(self.offset) + self.selected as i64 + delta;
        let pos = pos.max(0) as u32;
        let last_known = self.offset + self.rows.len().saturating_sub(1) as u32;
        let pos = if self.more { pos } else { pos.min(last_known) };
        if pos >= self.offset && pos < self.offset + page && (pos <= last_known) {
            self.selected = (pos - self.offset) as usize;
            return false;
        }
        self.offset = pos - pos % page;
        self.selected = (pos - self.offset) as usize;
        true
    }

    pub fn render(&self, f: &mut Frame, area: Rect, theme: Theme, now: DateTime<Utc>) {
        let compact = area.width < 80;
        let counts: Vec<String> = self
            .counts
            .by_state
            .iter()
            .filter(|(s, n)| !s.is_closed() && *n > 0)
            .map(|(s, n)| format!("{s} {n}"))
            .collect();
        let mut head = vec![
            Span::styled(format!("late {}", self.counts.late), theme.late()),
            Span::raw(format!("  due today {}  ", self.counts.due_today)),
        ];
        if !compact {
            head.push(Span::raw(counts.join("  ")));
        }
        if let Some(s) = &self.search {
            head.push(Span::raw(format!("  search: {}", clean(s, 30))));
        }
        let [top, body] =
            ratatui::layout::Layout::vertical([Constraint::Length(1), Constraint::Min(1)])
                .areas(area);
        f.render_widget(Paragraph::new(Line::from(head)), top);
        let rows = self.rows.iter().enumerate().map(|(i, r)| {
            let late = r.order.ship_by_key() < now;
            let ship = r.order.ship_by_key().format("%m-%d %H:%M").to_string();
            // A held order says so in words (colour only adds to it).
            let state = match (&r.hold, compact) {
                (Some(_), true) => "HELD".to_owned(),
                (Some(_), false) => format!("HELD/{}", r.state),
                (None, _) => r.state.to_string(),
            };
            let cells = if compact {
                vec![clean(r.order.id.as_str(), 19), state, ship]
            } else {
                vec![
                    clean(r.order.id.as_str(), 19),
                    state,
                    ship,
                    r.order.units().to_string(),
                    clean(r.recipient_mask.as_deref().unwrap_or("-"), 20),
                ]
            };
            let mut style = if r.hold.is_some() {
                theme.held()
            } else if late {
                theme.late()
            } else {
                Default::default()
            };
            style = style.patch(theme.row(i == self.selected));
            Row::new(cells).style(style)
        });
        let widths: Vec<Constraint> = if compact {
            vec![
                Constraint::Length(19),
                Constraint::Length(9),
                Constraint::Min(5),
            ]
        } else {
            vec![
                Constraint::Length(20),
                Constraint::Length(14),
                Constraint::Length(12),
                Constraint::Length(5),
                Constraint::Min(8),
            ]
        };
        let header = if compact {
            Row::new(["ORDER", "STATE", "SHIP BY"])
        } else {
            Row::new(["ORDER", "STATE", "SHIP BY", "UNITS", "RECIPIENT"])
        };
        f.render_widget(
            Table::new(rows, widths).header(header.style(theme.dim())),
            body,
        );
    }
}

impl Component for QueueScreen {
    fn refresh(app: &mut App) {
        let op = app.screens.queue.request(app.page);
        app.fetch("queue", "loading the queue", op, |app, page| {
            app.screens.queue.apply(page)
        });
    }

    fn act(app: &mut App, action: &Action) -> bool {
        match action {
            Action::RaiseException if app.screen == Screen::Queue => {
                let order = app
                    .screens
                    .queue
                    .rows
                    .get(app.screens.queue.selected)
                    .map(|r| r.order.id.to_string());
                super::raise_exception(app, order);
                true
            }
            _ => false,
        }
    }

    /// A code searches the queue.
    fn scan(app: &mut App, code: String) {
        app.screens.queue.search = Some(code);
        app.screens.queue.offset = 0;
        app.screens.queue.selected = 0;
        app.refresh();
    }

    /// Esc puts the search down.
    fn back(app: &mut App) {
        if app.screens.queue.search.take().is_some() {
            app.screens.queue.offset = 0;
            app.refresh();
        }
    }

    fn moved(app: &mut App, delta: i64) {
        if app.screens.queue.move_by(delta, app.page) {
            app.refresh();
        }
    }

    fn notice(app: &mut App, notice: &Notice) {
        if let Notice::Counts(c) = notice {
            app.screens.queue.counts = c.clone();
        }
    }

    fn draw(app: &App, f: &mut Frame, area: Rect, now: DateTime<Utc>) {
        app.screens.queue.render(f, area, app.theme, now);
    }
}
