//! The screens. Each owns its state and draws itself from its state alone; `app` turns their
//! actions into service requests and applies the answers to their state.

pub mod dashboard;
pub mod exceptions;
pub mod inquiries;
pub mod label;
pub mod pack;
pub mod pick;
pub mod queue;
pub mod returns;

use ratatui::style::{Color, Modifier, Style};

use crate::domain::text::escape_hazards;

/// A hold's reason as a floor screen shows it: ` (why)` when it is packline's own words (the
/// buyer asked to cancel), nothing when a lead typed it (sealed: a lead reads it elsewhere).
pub fn hold_why(reason: &str) -> String {
    if reason == crate::domain::SEALED_PLACEHOLDER {
        String::new()
    } else {
        format!(" ({})", clean(reason, 40))
    }
}

/// Text from data, made safe to draw: control and invisible characters escaped, cut to `max`
/// characters.
pub fn clean(s: &str, max: usize) -> String {
    let e = escape_hazards(s);
    if e.chars().count() <= max {
        return e;
    }
    let mut out: String = e.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Colours, or none at all under `NO_COLOR`.
#[derive(Clone, Copy, Debug)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    pub fn from_env() -> Theme {
        Theme {
            color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        }
    }

    pub fn error(&self) -> Style {
        if self.color {
            Style::default()
                .fg(Color::White)
                .bg(Color::Red)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::default().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        }
    }

    pub fn ok(&self) -> Style {
        if self.color {
            Style::default().fg(Color::Black).bg(Color::Green)
        } else {
            Style::default().add_modifier(Modifier::BOLD)
        }
    }

    pub fn late(&self) -> Style {
        if self.color {
            Style::default().fg(Color::Red).add_modifier(Modifier::BOLD)
        } else {
            Style::default().add_modifier(Modifier::BOLD)
        }
    }

    pub fn selected(&self) -> Style {
        Style::default().add_modifier(Modifier::REVERSED)
    }

    /// A list row's style: reversed when it is the selected one.
    pub fn row(&self, selected: bool) -> Style {
        if selected {
            self.selected()
        } else {
            Style::default()
        }
    }

    pub fn dim(&self) -> Style {
        if self.color {
            Style::default().fg(Color::DarkGray)
        } else {
            Style::default()
        }
    }

    /// A held order: its "HELD" text carries the meaning; colour only adds to it.
    pub fn held(&self) -> Style {
        if self.color {
            Style::default()
                .fg(Color::Magenta)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::default().add_modifier(Modifier::BOLD)
        }
    }

    pub fn banner(&self) -> Style {
        if self.color {
            Style::default()
                .fg(Color::Black)
                .bg(Color::Yellow)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::default().add_modifier(Modifier::REVERSED)
        }
    }
}
