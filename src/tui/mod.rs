//! The terminal UI: keyboard only, scanner-driven, usable at 80×24 and on a 40×16 handheld. It
//! talks only to the service (in-process or the daemon) and never touches the store or Amazon.
//!
//! The loop never waits for the service: one `select!` over terminal events, service notices,
//! the scanner's timer, the refresh tick and the answers of requests in flight. An action sends
//! its request and returns; the answer comes back as an event that applies it (see
//! [`app::App::act`]). State changes only through actions, notices and answers; a frame is
//! drawn after each of them.
//!
//! Who makes requests: each screen, for its own actions (`screens/`, the [`screens::Component`]
//! trait), through the app's client; `app.rs` makes only the first ones (who the user is, the
//! boxes, the batch in hand, the sync state) and owns the plumbing they all go through.

pub mod action;
pub mod app;
pub mod help;
pub mod keymap;
pub mod scan;
pub mod screens;

use std::io::Write;
use std::time::{Duration, Instant};

use crossterm::event::{Event, EventStream, KeyCode, KeyEventKind};
use crossterm::{execute, terminal};
use futures_util::StreamExt;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

use action::Action;
use app::{App, Screen};
use keymap::Key;
use scan::{Input, ScanDetector};

/// Scanner timing (config `[tui] scan_gap_ms`, `scan_min_len`).
#[derive(Clone, Copy, Debug)]
pub struct ScanTiming {
    pub gap: Duration,
    pub min_len: usize,
}

impl Default for ScanTiming {
    fn default() -> Self {
        ScanTiming {
            gap: Duration::from_millis(30),
            min_len: 4,
        }
    }
}

/// Turns a key into an action: the screen's binding, else typing into the code field.
pub fn key_action(app: &App, key: &crossterm::event::KeyEvent) -> Option<Action> {
    let k = Key::from_event(key)?;
    let typing = !app.input.is_empty();
    if key.code == KeyCode::Enter && !app.help {
        return Some(Action::Submit);
    }
    if key.code == KeyCode::Backspace && typing {
        return Some(Action::Backspace);
    }
    if typing
        && k.is_printable()
        && let KeyCode::Char(c) = key.code
    {
        return Some(Action::Char(c));
    }
    if let Some(a) = app.keymap.action(app.screen.key(), &k) {
        return Some(a.clone());
    }
    match key.code {
        KeyCode::Char(c) if k.is_printable() => Some(Action::Char(c)),
        _ => None,
    }
}

/// Puts the terminal back: raw mode off, main screen, cursor shown, paste mode off.
pub fn restore_terminal() {
    let _ = terminal::disable_raw_mode();
    let _ = execute!(
        std::io::stdout(),
        crossterm::event::DisableBracketedPaste,
        terminal::LeaveAlternateScreen,
        crossterm::cursor::Show
    );
}

/// Runs the TUI on this terminal until the user quits.
pub async fn run(mut app: App, timing: ScanTiming) -> std::io::Result<()> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_terminal();
        hook(info);
    }));
    terminal::enable_raw_mode()?;
    execute!(
        std::io::stdout(),
        terminal::EnterAlternateScreen,
        crossterm::event::EnableBracketedPaste
    )?;
    let result = event_loop(&mut app, timing).await;
    restore_terminal();
    result
}

async fn event_loop(app: &mut App, timing: ScanTiming) -> std::io::Result<()> {
    let mut term = Terminal::new(CrosstermBackend::new(std::io::stdout()))?;
    let mut events = EventStream::new();
    let mut scans = ScanDetector::new(timing.gap, timing.min_len);
    let mut dirty = true;
    // Notices through a clone of the client: the app itself is borrowed by its answers' arm.
    let notices = app.client.clone();
    let mut refresh = tokio::time::interval(Duration::from_secs(5));
    refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        if dirty {
            let size = term.size()?;
            app.page = size.height.saturating_sub(8).max(1);
            term.draw(|f| app.view(f, chrono::Utc::now()))?;
            if std::mem::take(&mut app.bell) {
                let mut out = std::io::stdout();
                out.write_all(b"\x07")?;
                out.flush()?;
            }
            dirty = false;
        }
        if app.quit {
            return Ok(());
        }
        let deadline = scans.deadline();
        let mut inputs = Vec::new();
        tokio::select! {
            ev = events.next() => match ev {
                Some(Ok(Event::Key(k))) if k.kind == KeyEventKind::Press => {
                    inputs = scans.push(k, Instant::now());
                }
                Some(Ok(Event::Paste(text))) => {
                    inputs = scans.tick(Instant::now() + timing.gap * 2);
                    let code = text.trim().to_owned();
                    if !code.is_empty() {
                        inputs.push(Input::Scan(code));
                    }
                }
                Some(Ok(Event::Resize(_, _))) => {
                    dirty = true;
                    app.refresh();
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e),
                None => return Ok(()),
            },
            Some(n) = notices.notice() => {
                app.notice(n);
                dirty = true;
            }
            () = app.next_answer() => {
                dirty = true;
            }
            _ = sleep_until(deadline) => {
                inputs = scans.tick(Instant::now());
            }
            _ = refresh.tick() => {
                if app.screen == Screen::Queue && app.input.is_empty() {
                    app.refresh();
                    dirty = true;
                }
            }
        }
        for input in inputs {
            let action = match input {
                Input::Scan(code) => Some(Action::Scan(code)),
                Input::Key(k) => key_action(app, &k),
            };
            if let Some(a) = action {
                app.act(a);
                dirty = true;
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
        None => std::future::pending().await,
    }
}
