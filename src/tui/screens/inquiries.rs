//! Customer inquiries, for leads: every inquiry kept (order, category, when, who, open or
//! resolved), and the notes of the selected one once the lead asks for them (each reading is
//! audited by the service). The notes are a customer's words: they are kept only while that
//! inquiry stays selected on this screen, and wiped when dropped.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table, Wrap};

use chrono::{DateTime, Utc};

use super::{Component, Screen, Theme, clean};
use crate::domain::inquiry::Inquiry;
use crate::domain::text::is_hazard;
use crate::service::ops::InquiryNotes;
use crate::service::{Role, ServiceError, ops};
use crate::tui::action::Action;
use crate::tui::app::App;

#[derive(Clone, Debug, Default)]
pub struct InquiriesScreen {
    pub inquiries: Vec<Inquiry>,
    pub selected: usize,
    /// The selected inquiry's notes, when a lead has opened them.
    pub notes: Option<InquiryNotes>,
}

impl InquiriesScreen {
    pub fn set_inquiries(&mut self, inquiries: Vec<Inquiry>) {
        let was = self.current().map(|q| q.id);
        self.inquiries = inquiries;
        // The same inquiry stays selected when it is still there.
        if let Some(i) = was.and_then(|id| self.inquiries.iter().position(|q| q.id == id)) {
            self.selected = i;
        }
        self.selected = self.selected.min(self.inquiries.len().saturating_sub(1));
        if self.current().map(|q| q.id) != was {
            self.notes = None;
        }
    }

    pub fn current(&self) -> Option<&Inquiry> {
        self.inquiries.get(self.selected)
    }

    /// Shows notes read for inquiry `id`, if it is still the one selected.
    pub fn set_notes(&mut self, notes: InquiryNotes) {
        if self.current().map(|q| q.id) == Some(notes.inquiry.id) {
            self.notes = Some(notes);
        }
    }

    pub fn move_by(&mut self, delta: i64) {
        let n = self.inquiries.len() as i64;
        if n > 0 {
            let next = (self.selected as i64 + delta).clamp(0, n - 1) as usize;
            if next != self.selected {
                self.notes = None;
            }
            self.selected = next;
        }
    }

    /// Selects the inquiry with this number, or the newest one on this order.
    pub fn select(&mut self, code: &str) -> bool {
        let code = code.trim();
        let found = match code.parse::<u64>() {
            Ok(id) => self.inquiries.iter().position(|q| q.id == id),
            Err(_) => self
                .inquiries
                .iter()
                .rposition(|q| q.order.as_str() == code),
        };
        match found {
            Some(i) => {
                if i != self.selected {
                    self.notes = None;
                }
                self.selected = i;
                true
            }
            None => false,
        }
    }

    pub fn render(&self, f: &mut Frame, area: Rect, theme: Theme, read_key: &str) {
        let small = area.width < 80;
        let notes_height = if self.notes.is_some() {
            area.height / 2
        } else {
            0
        };
        let [top, list, bottom] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(2),
            Constraint::Length(notes_height),
        ])
        .areas(area);
        let open = self
            .inquiries
            .iter()
            .filter(|q| q.resolved_at.is_none())
            .count();
        let head = if self.notes.is_some() || self.inquiries.is_empty() {
            format!("{} inquiries, {open} open", self.inquiries.len())
        } else {
            format!(
                "{} inquiries, {open} open; {read_key} reads the notes",
                self.inquiries.len()
            )
        };
        f.render_widget(Paragraph::new(Line::from(head)), top);
        let rows = self.inquiries.iter().enumerate().map(|(i, q)| {
            let state = match q.resolved_at {
                Some(_) => "resolved",
                None => "open",
            };
            let mut cells = vec![
                q.id.to_string(),
                clean(q.order.as_str(), 19),
                q.category.name().to_owned(),
            ];
            if small {
                cells.truncate(2);
                cells.push(state.to_owned());
            } else {
                cells.push(q.opened_at.format("%m-%d %H:%M").to_string());
                cells.push(clean(&q.opened_by, 10));
                cells.push(state.to_owned());
            }
            Row::new(cells).style(theme.row(i == self.selected))
        });
        let widths: Vec<Constraint> = if small {
            vec![
                Constraint::Length(4),
                Constraint::Length(20),
                Constraint::Min(4),
            ]
        } else {
            vec![
                Constraint::Length(5),
                Constraint::Length(20),
                Constraint::Length(18),
                Constraint::Length(12),
                Constraint::Length(11),
                Constraint::Min(4),
            ]
        };
        f.render_widget(Table::new(rows, widths), list);
        if let Some(n) = &self.notes {
            let mut lines = Vec::new();
            for note in &n.notes {
                lines.push(Line::styled(
                    format!(
                        "{} {} ({})",
                        note.meta.at.format("%m-%d %H:%M"),
                        clean(&note.meta.by, 12),
                        note.meta.kind.name()
                    ),
                    theme.dim(),
                ));
                // Escaped by the service already; nothing that steers a terminal is drawn
                // even so.
                let text: String = note
                    .text
                    .as_str()
                    .chars()
                    .filter(|c| !is_hazard(*c))
                    .collect();
                lines.push(Line::from(text));
            }
            f.render_widget(
                Paragraph::new(lines).wrap(Wrap { trim: false }).block(
                    Block::default()
                        .borders(Borders::TOP)
                        .title(format!("inquiry {} notes", n.inquiry.id)),
                ),
                bottom,
            );
        }
    }
}

impl Component for InquiriesScreen {
    const GATE: Option<(Role, &'static str)> =
        Some((Role::Lead, "the inquiries screen is for leads"));

    fn refresh(app: &mut App) {
        app.fetch(
            "inquiries",
            "loading inquiries",
            ops::Inquiries {},
            |app, list| app.screens.inquiries.set_inquiries(list),
        );
    }

    fn act(app: &mut App, action: &Action) -> bool {
        match action {
            Action::ReadNotes => {
                if app.screen == Screen::Inquiries {
                    read_notes(app);
                }
            }
            Action::Resolve if app.screen == Screen::Inquiries => resolve(app),
            _ => return false,
        }
        true
    }

    /// A customer's words stay on the screen only while the lead looks at them.
    fn interrupt(app: &mut App, action: &Action) -> bool {
        if Screen::opened_by(action).is_some() || matches!(action, Action::Back) {
            app.screens.inquiries.notes = None;
        }
        false
    }

    /// An inquiry number or an order id selects that inquiry.
    fn scan(app: &mut App, code: String) {
        if !app.screens.inquiries.select(&code) {
            app.fail(&ServiceError::NotFound(format!(
                "no inquiry {} (type an inquiry number or an order id)",
                clean(&code, 40)
            )));
        }
    }

    fn moved(app: &mut App, delta: i64) {
        app.screens.inquiries.move_by(delta);
    }

    fn draw(app: &App, f: &mut Frame, area: Rect, _now: DateTime<Utc>) {
        let key = app.key_for(Screen::Inquiries, &Action::ReadNotes);
        app.screens.inquiries.render(f, area, app.theme, &key)
    }
}

/// Reads the selected inquiry's notes (the service audits it); shown while it stays selected.
fn read_notes(app: &mut App) {
    let Some(id) = app.screens.inquiries.current().map(|q| q.id) else {
        app.info("no inquiry selected");
        return;
    };
    app.send(
        format!("reading the notes of inquiry {id}"),
        ops::ReadInquiry { id },
        |app, notes| app.screens.inquiries.set_notes(notes),
    );
}

/// Resolves the selected inquiry with the typed resolution.
fn resolve(app: &mut App) {
    let Some(id) = app.screens.inquiries.current().map(|q| q.id) else {
        app.info("select an inquiry to resolve");
        return;
    };
    let typed = std::mem::take(&mut app.input);
    let resolution = match crate::domain::NoteText::new(typed) {
        Ok(t) => t,
        Err(_) => {
            app.info("type how the inquiry was settled, then resolve");
            return;
        }
    };
    let op = ops::ResolveInquiry { id, resolution };
    app.send(format!("resolving inquiry {id}"), op, move |app, ()| {
        app.info(format!("inquiry {id} resolved"));
        app.screens.inquiries.notes = None;
        app.refresh();
    });
}
