//! The screens. Each is one file: its state, what it draws, and its behaviour as a
//! [`Component`]: which of its actions become which service requests (sent through the app's
//! client, never to the store), and how their answers change its state. The app keeps the
//! plumbing (the client, the lanes of ordered requests, notices, the alert, layout, the
//! switching between screens) and asks the screen in front for everything else.
//!
//! A new screen is a new file here with its state (`Default`) and its `impl Component`, its
//! `pub mod` and one line in the table of screens below (its name, its field in [`Screens`],
//! its type, its keymap section, the action that opens it), plus its keys: the action that
//! opens it and its own in `action.rs`, its section in [`super::keymap::SCREENS`] and in every
//! preset under `keymaps/`. Nothing in `app.rs` changes.

pub mod dashboard;
pub mod exceptions;
pub mod inquiries;
pub mod label;
pub mod pack;
pub mod pick;
pub mod queue;
pub mod returns;

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::Rect;

use super::action::Action;
use super::app::App;
use crate::service::{Notice, Role};

/// A screen's behaviour. Its state is a field of [`Screens`] in the [`App`] (the completions of
/// its requests run on the app when their answers are back, and reach the state there); its
/// functions take the app for the plumbing: `send`, `fetch`, `send_step` and `push` (a lane of
/// ordered requests), `info`, `fail`, `note`, `refresh`, `key_for`, the typed `input`.
pub trait Component {
    /// The role it takes to open the screen, and what anyone below it is told.
    const GATE: Option<(Role, &'static str)> = None;

    /// Fetches what the screen shows; the answers come back as completions.
    fn refresh(_app: &mut App) {}

    /// An action: the screen in front is asked first, then every other in the table's order,
    /// so that an action a screen owns works from any screen that binds it. True when taken.
    fn act(_app: &mut App, _action: &Action) -> bool {
        false
    }

    /// Every screen sees every action before it is taken (to put down a question it asked);
    /// true when the action ends there.
    fn interrupt(_app: &mut App, _action: &Action) -> bool {
        false
    }

    /// A code scanned (or typed and Enter) on this screen.
    fn scan(_app: &mut App, _code: String) {}

    /// Enter with nothing typed.
    fn submit(_app: &mut App) {}

    /// Esc on this screen, before the typed code and the alert are cleared.
    fn back(_app: &mut App) {}

    /// Up, Down, PageUp or PageDown: `delta` rows.
    fn moved(_app: &mut App, _delta: i64) {}

    /// A notice from the service (every screen sees each).
    fn notice(_app: &mut App, _notice: &Notice) {}

    /// Draws the screen's body. Pure: no I/O, no service calls.
    fn draw(app: &App, f: &mut Frame, area: Rect, now: DateTime<Utc>);
}

/// The table of screens: the [`Screen`] names, their keymap sections, the action that opens
/// each, and the dispatch of [`Component`]'s functions to the screen's type.
macro_rules! screens {
    ($($name:ident: $field:ident: $ty:ty, $key:literal, $opens:ident;)*) => {
        /// Every screen's state, a field each.
        #[derive(Default)]
        pub struct Screens {
            $(pub $field: $ty),*
        }

        /// Which screen is in front.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Screen {
            $($name),*
        }

        impl Screen {
            pub const ALL: &[Screen] = &[$(Screen::$name),*];

            /// Its keymap section (and the name the status line shows).
            pub fn key(self) -> &'static str {
                match self {
                    $(Screen::$name => $key),*
                }
            }

            /// The screen an action opens.
            pub fn opened_by(action: &Action) -> Option<Screen> {
                match action {
                    $(Action::$opens => Some(Screen::$name),)*
                    _ => None,
                }
            }

            pub fn gate(self) -> Option<(Role, &'static str)> {
                match self {
                    $(Screen::$name => <$ty as Component>::GATE),*
                }
            }

            pub fn refresh(self, app: &mut App) {
                match self {
                    $(Screen::$name => <$ty as Component>::refresh(app)),*
                }
            }

            pub fn act(self, app: &mut App, action: &Action) -> bool {
                match self {
                    $(Screen::$name => <$ty as Component>::act(app, action)),*
                }
            }

            pub fn interrupt(self, app: &mut App, action: &Action) -> bool {
                match self {
                    $(Screen::$name => <$ty as Component>::interrupt(app, action)),*
                }
            }

            pub fn scan(self, app: &mut App, code: String) {
                match self {
                    $(Screen::$name => <$ty as Component>::scan(app, code)),*
                }
            }

            pub fn submit(self, app: &mut App) {
                match self {
                    $(Screen::$name => <$ty as Component>::submit(app)),*
                }
            }

            pub fn back(self, app: &mut App) {
                match self {
                    $(Screen::$name => <$ty as Component>::back(app)),*
                }
            }

            pub fn moved(self, app: &mut App, delta: i64) {
                match self {
                    $(Screen::$name => <$ty as Component>::moved(app, delta)),*
                }
            }

            pub fn notice(self, app: &mut App, notice: &Notice) {
                match self {
                    $(Screen::$name => <$ty as Component>::notice(app, notice)),*
                }
            }

            pub fn draw(self, app: &App, f: &mut Frame, area: Rect, now: DateTime<Utc>) {
                match self {
                    $(Screen::$name => <$ty as Component>::draw(app, f, area, now)),*
                }
            }
        }
    };
}

screens! {
    Queue: queue: queue::QueueScreen, "queue", Queue;
    Pick: pick: pick::PickScreen, "pick", Pick;
    Pack: pack: pack::PackScreen, "pack", Pack;
    Exceptions: exceptions: exceptions::ExceptionsScreen, "exceptions", Exceptions;
    Labels: labels: label::LabelScreen, "label", Labels;
    Inquiries: inquiries: inquiries::InquiriesScreen, "inquiries", Inquiries;
    Returns: returns: returns::ReturnsScreen, "returns", Returns;
    Dashboard: dashboard: dashboard::DashboardScreen, "dashboard", Dashboard;
}

/// Amazon order ids look like `123-1234567-1234567`.
pub fn looks_like_order_id(code: &str) -> bool {
    let parts: Vec<&str> = code.split('-').collect();
    parts.len() == 3
        && [3, 7, 7]
            .iter()
            .zip(&parts)
            .all(|(n, p)| p.len() == *n && p.bytes().all(|b| b.is_ascii_digit()))
}

/// The order `order` taken off the line with the typed note (the pack bench's order, or the
/// queue's selected one); `None`: the user is told to choose one.
pub fn raise_exception(app: &mut App, order: Option<String>) {
    let Some(order) = order else {
        app.info("select an order (or scan one at the pack bench) first");
        return;
    };
    let note = app.note("taken off the line at the terminal");
    let op = crate::service::ops::RaiseException {
        order: order.clone(),
        note,
    };
    app.send(
        format!("raising an exception on {order}"),
        op,
        move |app, ()| {
            if app
                .screens
                .pack
                .check
                .as_ref()
                .is_some_and(|c| c.order.as_str() == order)
            {
                app.screens.pack.check = None;
            }
            app.info(format!(
                "order {order} is an exception now: a lead resolves it"
            ));
            app.refresh();
        },
    );
}

/// Hands a pick batch (the dashboard's or the exceptions screen's selected one) to the user
/// typed in the code field.
pub fn reassign(app: &mut App, selected: Option<u64>) {
    let Some(batch) = selected else {
        app.info("select a pick batch, type the user to give it to, then reassign");
        return;
    };
    let to = std::mem::take(&mut app.input);
    if to.trim().is_empty() {
        app.info("type the user to give the batch to, then reassign");
        return;
    }
    let to = to.trim().to_owned();
    let op = crate::service::ops::ReassignBatch {
        batch,
        to: to.clone(),
    };
    app.send(format!("reassigning batch {batch}"), op, move |app, _| {
        app.info(format!("batch {batch} now with {}", clean(&to, 20)));
        app.refresh();
    });
}

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
