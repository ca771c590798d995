//! Exceptions, for leads: orders taken off the line (short picks, damage) with their notes, to
//! resolve back onto the line; and the open pick batches, to hand to someone else.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Row, Table};

use chrono::{DateTime, Utc};

use super::{Component, Theme, clean};
use crate::domain::{OrderState, PickBatch};
use crate::service::ExceptionRow;
use crate::service::{Role, ServiceError, ops};
use crate::tui::action::Action;
use crate::tui::app::App;

/// Where a resolved order can go back to.
pub const RESUME: [OrderState; 4] = [
    OrderState::New,
    OrderState::Picked,
    OrderState::Packed,
    OrderState::Labelled,
];

#[derive(Clone, Debug, Default)]
pub struct ExceptionsScreen {
    pub exceptions: Vec<ExceptionRow>,
    pub batches: Vec<PickBatch>,
    /// Index into exceptions, then batches.
    pub selected: usize,
    pub resume: usize,
}

/// What the selection points at.
pub enum Selected<'a> {
    Exception(&'a ExceptionRow),
    Batch(&'a PickBatch),
    Nothing,
}

impl ExceptionsScreen {
    pub fn set_exceptions(&mut self, exceptions: Vec<ExceptionRow>) {
        self.exceptions = exceptions;
        self.clamp();
    }

    /// Everyone's open batches.
    pub fn set_batches(&mut self, batches: Vec<PickBatch>) {
        self.batches = batches;
        self.clamp();
    }

    fn clamp(&mut self) {
        let n = self.exceptions.len() + self.batches.len();
        self.selected = self.selected.min(n.saturating_sub(1));
    }

    pub fn selected(&self) -> Selected<'_> {
        if let Some(e) = self.exceptions.get(self.selected) {
            return Selected::Exception(e);
        }
        match self.batches.get(self.selected - self.exceptions.len()) {
            Some(b) => Selected::Batch(b),
            None => Selected::Nothing,
        }
    }

    pub fn move_by(&mut self, delta: i64) {
        let n = (self.exceptions.len() + self.batches.len()) as i64;
        if n > 0 {
            self.selected = (self.selected as i64 + delta).clamp(0, n - 1) as usize;
        }
    }

    pub fn resume_state(&self) -> OrderState {
        RESUME[self.resume % RESUME.len()]
    }

    pub fn render(&self, f: &mut Frame, area: Rect, theme: Theme) {
        let small = area.width < 80;
        let [top, list, bl] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(3),
            Constraint::Length((self.batches.len() as u16 + 1).min(area.height / 3)),
        ])
        .areas(area);
        f.render_widget(
            Paragraph::new(Line::from(format!(
                "{} exception(s); resolve back to: {}",
                self.exceptions.len(),
                self.resume_state()
            ))),
            top,
        );
        let rows = self.exceptions.iter().enumerate().map(|(i, e)| {
            let mut cells = vec![clean(e.order.as_str(), 19), clean(&e.note.shown(), 60)];
            if !small {
                cells.insert(1, clean(&e.raised_by, 12));
            }
            let style = theme.row(i == self.selected);
            Row::new(cells).style(style)
        });
        let widths: Vec<Constraint> = if small {
            vec![Constraint::Length(19), Constraint::Min(5)]
        } else {
            vec![
                Constraint::Length(20),
                Constraint::Length(13),
                Constraint::Min(5),
            ]
        };
        f.render_widget(Table::new(rows, widths), list);
        let off = self.exceptions.len();
        let rows = self.batches.iter().enumerate().map(|(i, b)| {
            let style = if off + i == self.selected {
                theme.selected()
            } else {
                theme.dim()
            };
            Row::new(vec![
                format!("batch {}", b.id),
                clean(&b.holder, 16),
                format!("{} orders", b.orders.len()),
            ])
            .style(style)
        });
        f.render_widget(
            Table::new(
                rows,
                [
                    Constraint::Length(16),
                    Constraint::Length(17),
                    Constraint::Min(5),
                ],
            ),
            bl,
        );
    }
}

impl Component for ExceptionsScreen {
    const GATE: Option<(Role, &'static str)> =
        Some((Role::Lead, "the exceptions screen is for leads"));

    fn refresh(app: &mut App) {
        let doing = "loading exceptions";
        app.fetch("exceptions", doing, ops::Exceptions {}, |app, e| {
            app.screens.exceptions.set_exceptions(e)
        });
        app.fetch(
            "all batches",
            doing,
            ops::Batches { all: true },
            |app, b| app.screens.exceptions.set_batches(b),
        );
    }

    fn act(app: &mut App, action: &Action) -> bool {
        match action {
            Action::CycleResume => app.screens.exceptions.resume += 1,
            Action::Resolve => resolve(app),
            Action::Reassign => {
                let batch = match app.screens.exceptions.selected() {
                    Selected::Batch(b) => Some(b.id),
                    _ => None,
                };
                super::reassign(app, batch);
            }
            _ => return false,
        }
        true
    }

    /// A scanned order id selects its exception.
    fn scan(app: &mut App, code: String) {
        match app
            .screens
            .exceptions
            .exceptions
            .iter()
            .position(|e| e.order.as_str() == code)
        {
            Some(i) => app.screens.exceptions.selected = i,
            None => app.fail(&ServiceError::NotFound(format!(
                "order {} is not among the exceptions",
                clean(&code, 40)
            ))),
        }
    }

    fn moved(app: &mut App, delta: i64) {
        app.screens.exceptions.move_by(delta);
    }

    fn draw(app: &App, f: &mut Frame, area: Rect, _now: DateTime<Utc>) {
        app.screens.exceptions.render(f, area, app.theme)
    }
}

/// Resolves the selected exception with the typed note: the order goes back to the state
/// chosen.
fn resolve(app: &mut App) {
    let Selected::Exception(e) = app.screens.exceptions.selected() else {
        app.info("select an exception to resolve");
        return;
    };
    let order = e.order.to_string();
    let resume = app.screens.exceptions.resume_state();
    let resolution = app.note("resolved at the terminal");
    let op = ops::ResolveException {
        order: order.clone(),
        resume,
        resolution,
    };
    app.send(format!("resolving {order}"), op, move |app, ()| {
        app.info(format!("order {order} back to {resume}"));
        app.refresh();
    });
}
