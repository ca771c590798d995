//! The app: the plumbing every screen shares, and state → frame (a pure function). The
//! screens' behaviour (which action sends which request, and what its answer changes) is in
//! the screens themselves (see [`super::screens::Component`]); the app keeps the client, the
//! requests in flight and their lanes, notices, the alert, the typed code, the help overlay,
//! the layout, and which screen is in front.
//!
//! An action never waits: [`App::send`] sends each request on its own task with a typed
//! completion, and the completion comes back on a channel to run on the app (an error rings
//! the bell and shows the red alert, on whatever screen the user is by then). Pick and pack
//! steps, scans above all, go through one lane per screen ([`App::push`]): each is sent only
//! after the one before it is answered and applied, so they reach the service in the order
//! typed. The status line shows what is in flight.
//!
//! The loop around it (terminal, scanner timing, notices, answers) is in [`super::run`]; tests
//! drive [`App::act`] and [`App::notice`] headless, wait with [`App::settle`] until every
//! answer is applied, and draw with [`App::view`] on a `TestBackend`.

use std::collections::{BTreeMap, HashMap, VecDeque};

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::action::Action;
use super::help::Help;
use super::keymap::Keymap;
pub use super::screens::Screen;
use super::screens::{Screens, Theme, clean};
use crate::service::client::Client;
use crate::service::ops::{self, Operation, Welcome};
use crate::service::{Notice, Role, ServiceError};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alert {
    pub text: String,
    pub error: bool,
}

/// What to do with an answer once it is back, run on the app by the loop (or by
/// [`App::settle`]): the request's own completion, typed by its operation.
pub type Completion = Box<dyn FnOnce(&mut App) + Send>;

/// A step of a lane: decides (which request, for which batch or order) and sends it, once
/// the answers of the steps before it are applied. One that sends nothing is done at once.
pub type Step = Box<dyn FnOnce(&mut App) + Send>;

/// A lane's steps waiting their turn, and whether one is with the service now.
#[derive(Default)]
struct Chain {
    waiting: VecDeque<Step>,
    busy: bool,
}

pub struct App {
    pub client: Client,
    pub keymap: Keymap,
    pub theme: Theme,
    pub screen: Screen,
    pub user: String,
    pub role: Role,
    pub training: bool,
    pub unlocked: bool,
    pub batch_size: u32,
    /// This bench buys and prints the label as the last box closes (`[floor] label_at_pack`).
    pub label_at_pack: bool,
    /// Every screen's state (`app.screens.pick`, …), whichever is in front.
    pub screens: Screens,
    pub alert: Option<Alert>,
    /// Where the training floor's labels and slips are written (the demo's folder), shown in
    /// its banner.
    pub printed_to: Option<String>,
    /// The code field: typed by hand, submitted with Enter.
    pub input: String,
    pub help: bool,
    /// The first help line shown (the overlay scrolls).
    pub help_scroll: u16,
    /// How far the help overlay may scroll, and its page, as last drawn.
    help_view: Help,
    pub quit: bool,
    /// Rows the queue can show (set from the terminal size).
    pub page: u16,
    /// Ring the terminal bell on the next frame.
    pub bell: bool,
    pub sync_line: String,
    pub connection: &'static str,
    /// This terminal's printers (`PACKLINE_LABEL_PRINTER`, `PACKLINE_SLIP_PRINTER`), over the
    /// user's and the site's: every print request carries them.
    pub label_printer: Option<String>,
    pub slip_printer: Option<String>,
    /// Completions of requests in flight, posted by their tasks.
    done_tx: mpsc::UnboundedSender<Completion>,
    done_rx: mpsc::UnboundedReceiver<Completion>,
    /// What each request in flight is doing, oldest first (the status line shows it).
    in_flight: BTreeMap<u64, String>,
    next_id: u64,
    /// The newest request for each list a screen shows: an older answer arriving after it is
    /// dropped, never drawn over a newer one.
    latest: HashMap<&'static str, u64>,
    /// The lanes of ordered steps, one per screen that has them (pick, pack).
    lanes: HashMap<Screen, Chain>,
    /// The bench's scale being read (its readings come back as completions).
    scale_watch: Option<crate::scale::device::Watch>,
}

/// The smallest terminal packline draws into.
pub const MIN_W: u16 = 40;
pub const MIN_H: u16 = 12;

impl App {
    /// Connects the app: who the user is, the site's boxes, the batch in hand, the sync state
    /// and the first queue page (the only requests it waits for).
    pub async fn new(client: Client, keymap: Keymap) -> Result<App, ServiceError> {
        let Welcome {
            user,
            role,
            unlocked,
            training,
            batch_size,
            label_at_pack,
        } = client.call(ops::Hello {}).await?;
        let connection = if client.is_local() { "local" } else { "daemon" };
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let mut app = App {
            client,
            keymap,
            theme: Theme::from_env(),
            screen: Screen::Queue,
            user,
            role,
            training,
            unlocked,
            batch_size,
            label_at_pack,
            screens: Screens::default(),
            alert: None,
            printed_to: None,
            input: String::new(),
            help: false,
            help_scroll: 0,
            help_view: Help::default(),
            quit: false,
            page: 18,
            bell: false,
            sync_line: String::new(),
            connection,
            label_printer: std::env::var("PACKLINE_LABEL_PRINTER")
                .ok()
                .filter(|s| !s.is_empty()),
            slip_printer: std::env::var("PACKLINE_SLIP_PRINTER")
                .ok()
                .filter(|s| !s.is_empty()),
            done_tx,
            done_rx,
            in_flight: BTreeMap::new(),
            next_id: 0,
            latest: HashMap::new(),
            lanes: HashMap::new(),
            scale_watch: None,
        };
        let boxes = app.client.call(ops::Boxes {}).await?;
        app.screens.pack.set_boxes(boxes);
        let mine = app.client.call(ops::Batches { all: false }).await?;
        app.screens.pick.set_batches(mine);
        let st = app.client.call(ops::SyncStatus {}).await?;
        app.sync_line = match (st.enabled, st.last_ok) {
            (false, _) => String::new(),
            (true, Some(t)) => format!("sync: last {}", t.format("%H:%M")),
            (true, None) => "sync: not yet".to_owned(),
        };
        app.refresh();
        app.settle().await;
        Ok(app)
    }

    /// Reads the bench's scale: each change of what it says comes back on the answers'
    /// channel, and the pack screen shows it.
    pub fn attach_scale(&mut self, spec: crate::scale::ScaleSpec) {
        let done = self.done_tx.clone();
        self.screens.pack.scale = Some(Default::default());
        self.scale_watch = Some(crate::scale::device::watch(spec, move |state| {
            let apply: Completion =
                Box::new(move |app: &mut App| super::screens::pack::scale_changed(app, state));
            // The app is gone only when the TUI has quit.
            let _ = done.send(apply);
        }));
    }

    /// Tells the user something (the green alert).
    pub fn info(&mut self, text: impl Into<String>) {
        self.alert = Some(Alert {
            text: text.into(),
            error: false,
        });
    }

    /// Shows an error: the red alert, and the bell.
    pub fn fail(&mut self, e: &ServiceError) {
        self.alert = Some(Alert {
            text: e.to_string(),
            error: true,
        });
        self.bell = true;
    }

    /// Sends `op` and returns at once: a task calls the service and posts the completion, which
    /// runs `then` with the answer, or rings the bell and shows the error. `doing` is what the
    /// status line says until then.
    pub fn send<O: Operation>(
        &mut self,
        doing: impl Into<String>,
        op: O,
        then: impl FnOnce(&mut App, O::Answer) + Send + 'static,
    ) {
        self.send_then(doing, op, move |app, r| match r {
            Ok(a) => then(app, a),
            Err(e) => app.fail(&e),
        });
    }

    /// [`Self::send`] with the whole result, error included.
    pub fn send_then<O: Operation>(
        &mut self,
        doing: impl Into<String>,
        op: O,
        then: impl FnOnce(&mut App, Result<O::Answer, ServiceError>) + Send + 'static,
    ) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        self.in_flight.insert(id, doing.into());
        let client = self.client.clone();
        let done = self.done_tx.clone();
        tokio::spawn(async move {
            let r = client.call(op).await;
            let completion: Completion = Box::new(move |app: &mut App| {
                app.in_flight.remove(&id);
                then(app, r);
            });
            // The app is gone only when the TUI has quit.
            let _ = done.send(completion);
        });
        id
    }

    /// [`Self::send`] for a list a screen shows (`what`): only the newest request's answer is
    /// applied.
    pub fn fetch<O: Operation>(
        &mut self,
        what: &'static str,
        doing: &str,
        op: O,
        then: impl FnOnce(&mut App, O::Answer) + Send + 'static,
    ) {
        let id = self.next_id + 1;
        self.latest.insert(what, id);
        self.send(doing, op, move |app, a| {
            if app.latest.get(what) == Some(&id) {
                then(app, a);
            }
        });
    }

    /// Waits for the next answer and applies it (the terminal loop selects on this).
    /// Cancel-safe: an answer is applied as soon as it is received.
    pub async fn next_answer(&mut self) {
        if let Some(done) = self.done_rx.recv().await {
            done(self);
        }
    }

    /// Waits until every request sent has come back and been applied, the requests their
    /// answers sent included (headless tests; the terminal loop never waits).
    pub async fn settle(&mut self) {
        while !self.in_flight.is_empty() {
            self.next_answer().await;
        }
    }

    /// What is in flight, for the status line: the oldest request, and how many more.
    pub fn in_flight(&self) -> Option<String> {
        let (_, first) = self.in_flight.iter().next()?;
        let waiting: usize = self.lanes.values().map(|c| c.waiting.len()).sum();
        let more = self.in_flight.len() - 1 + waiting;
        Some(if more == 0 {
            first.clone()
        } else {
            format!("{first} (+{more})")
        })
    }

    fn chain(&mut self, lane: Screen) -> &mut Chain {
        self.lanes.entry(lane).or_default()
    }

    /// Puts a step at the end of its lane; it goes out once the steps before it are answered.
    pub fn push(&mut self, lane: Screen, step: Step) {
        self.chain(lane).waiting.push_back(step);
        self.pump(lane);
    }

    /// Nothing of `lane` is with the service or waiting its turn.
    pub fn lane_idle(&self, lane: Screen) -> bool {
        self.lanes
            .get(&lane)
            .is_none_or(|c| !c.busy && c.waiting.is_empty())
    }

    /// Starts the lane's next steps until one is with the service (a step refused at once, such
    /// as a scan with no batch in hand, is done at once).
    fn pump(&mut self, lane: Screen) {
        while !self.chain(lane).busy {
            let Some(step) = self.chain(lane).waiting.pop_front() else {
                return;
            };
            step(self);
        }
    }

    /// [`Self::send`] for a step of `lane`: the next step starts once this one is applied.
    pub fn send_step<O: Operation>(
        &mut self,
        lane: Screen,
        doing: impl Into<String>,
        op: O,
        then: impl FnOnce(&mut App, O::Answer) + Send + 'static,
    ) {
        self.chain(lane).busy = true;
        self.send_then(doing, op, move |app, r| {
            match r {
                Ok(a) => then(app, a),
                Err(e) => app.fail(&e),
            }
            app.chain(lane).busy = false;
            app.pump(lane);
        });
    }

    /// Fetches what the current screen shows; the answers come back as events.
    pub fn refresh(&mut self) {
        self.screen.refresh(self);
    }

    /// Opens a screen, if the user's role may.
    fn open(&mut self, screen: Screen) {
        if let Some((role, why)) = screen.gate()
            && self.role < role
        {
            self.info(why);
            return;
        }
        self.screen = screen;
        self.refresh();
    }

    /// Applies one action without waiting: what needs the service is sent, and its answer is
    /// applied when it comes back. The app takes what every screen shares (help, quit, typing,
    /// moving, switching screens); the screen in front takes the rest, else the screen that
    /// owns the action.
    pub fn act(&mut self, action: Action) {
        if self.help && !matches!(action, Action::Scan(_)) {
            // The overlay scrolls with the keys that move; any other key closes it.
            if self.help_view.scroll(&mut self.help_scroll, &action) {
                return;
            }
            self.help = false;
            if matches!(action, Action::Help | Action::Back) {
                return;
            }
        }
        for &s in Screen::ALL {
            if s.interrupt(self, &action) {
                return;
            }
        }
        match action {
            Action::Quit => self.quit = true,
            Action::Help => {
                self.help = true;
                self.help_scroll = 0;
            }
            Action::Back => {
                self.screen.back(self);
                self.input.clear();
                self.alert = None;
            }
            Action::Refresh => self.refresh(),
            Action::Up | Action::Down | Action::PageUp | Action::PageDown => {
                let delta = match action {
                    Action::Up => -1,
                    Action::Down => 1,
                    Action::PageUp => -i64::from(self.page),
                    _ => i64::from(self.page),
                };
                self.screen.moved(self, delta);
            }
            Action::Char(c) => {
                if self.input.chars().count() < 200 {
                    self.input.push(c);
                }
            }
            Action::Backspace => {
                self.input.pop();
            }
            Action::Submit => {
                let code = std::mem::take(&mut self.input);
                if !code.trim().is_empty() {
                    self.screen.scan(self, code.trim().to_owned());
                } else {
                    self.screen.submit(self);
                }
            }
            Action::Scan(code) => {
                self.input.clear();
                self.screen.scan(self, code);
            }
            other => {
                if let Some(screen) = Screen::opened_by(&other) {
                    return self.open(screen);
                }
                let front = self.screen;
                if front.act(self, &other) {
                    return;
                }
                for &s in Screen::ALL {
                    if s != front && s.act(self, &other) {
                        return;
                    }
                }
            }
        }
    }

    /// The typed note, or `default` when nothing was typed.
    pub fn note(&mut self, default: &str) -> String {
        let typed = std::mem::take(&mut self.input);
        if typed.trim().is_empty() {
            default.to_owned()
        } else {
            typed.trim().to_owned()
        }
    }

    /// A notice from the service.
    pub fn notice(&mut self, n: Notice) {
        // The dashboard is drawn again from a fresh view whenever the floor moved.
        let floor_moved = !matches!(n, Notice::SyncProgress { .. } | Notice::Closed { .. });
        for &s in Screen::ALL {
            s.notice(self, &n);
        }
        match n {
            Notice::SyncProgress { pages, new, .. } => {
                self.sync_line = format!("sync: page {pages}, {new} new");
            }
            Notice::SyncFinished {
                new,
                updated,
                cancelled,
                error,
            } => {
                self.sync_line = match error {
                    Some(_) => "sync: failed (see log)".to_owned(),
                    None => format!("sync: {new} new, {updated} updated, {cancelled} cancelled"),
                };
                self.refresh();
            }
            Notice::Closed { reason } => {
                self.alert = Some(Alert {
                    text: clean(&reason, 200),
                    error: true,
                });
                self.connection = "disconnected";
            }
            _ => {}
        }
        if floor_moved && self.screen == Screen::Dashboard {
            self.refresh();
        }
    }

    /// The key bound to `action` on `screen`, for the screen to show ("" when none is).
    pub fn key_for(&self, screen: Screen, action: &Action) -> String {
        self.keymap
            .key_for(screen.key(), action)
            .unwrap_or_default()
    }

    /// Draws the whole screen from state. Pure: no I/O, no service calls.
    pub fn view(&self, f: &mut Frame, now: DateTime<Utc>) {
        let area = f.area();
        if area.width < MIN_W || area.height < MIN_H {
            f.render_widget(
                Paragraph::new(format!(
                    "terminal too small: {}x{}; packline needs at least {MIN_W}x{MIN_H}",
                    area.width, area.height
                ))
                .wrap(Wrap { trim: true }),
                area,
            );
            return;
        }
        let banner = u16::from(self.training);
        let [b, status, body, alert, input] = Layout::vertical([
            Constraint::Length(banner),
            Constraint::Length(1),
            Constraint::Min(3),
            Constraint::Length(if self.alert.is_some() { 2 } else { 0 }),
            Constraint::Length(1),
        ])
        .areas(area);
        if self.training {
            let banner = match &self.printed_to {
                Some(dir) => format!(
                    " TRAINING FLOOR: nothing ships · printed to {} ",
                    clean(dir, 200)
                ),
                None => " TRAINING FLOOR: made-up orders, nothing ships ".to_owned(),
            };
            f.render_widget(Paragraph::new(banner).style(self.theme.banner()), b);
        }
        let lock = if self.unlocked { "unlocked" } else { "locked" };
        let status_text = if area.width < 80 {
            format!("{} {} · {}", self.screen.key(), self.user, self.role.name())
        } else {
            format!(
                "[{}]  {} ({})  {}  {}  {}",
                self.screen.key(),
                clean(&self.user, 16),
                self.role.name(),
                self.connection,
                lock,
                self.sync_line
            )
        };
        let mut status_line = vec![Span::styled(status_text, self.theme.dim())];
        // What is with the service now: the screen goes on meanwhile.
        if let Some(doing) = self.in_flight() {
            status_line.push(Span::styled(
                format!("  … {}", clean(&doing, 80)),
                self.theme.ok(),
            ));
        }
        f.render_widget(Paragraph::new(Line::from(status_line)), status);
        self.screen.draw(self, f, body, now);
        if let Some(a) = &self.alert {
            let style = if a.error {
                self.theme.error()
            } else {
                self.theme.ok()
            };
            f.render_widget(
                Paragraph::new(clean(&a.text, 400))
                    .style(style)
                    .wrap(Wrap { trim: true }),
                alert,
            );
        }
        let help_key = self
            .keymap
            .key_for(self.screen.key(), &Action::Help)
            .unwrap_or_default();
        f.render_widget(
            Paragraph::new(Line::from(vec![
                Span::raw("code: "),
                Span::styled(clean(&self.input, 60), self.theme.selected()),
                Span::styled(format!("  {help_key} help"), self.theme.dim()),
            ])),
            input,
        );
        if self.help {
            self.help_view
                .render(f, body, &self.keymap, self.screen.key(), self.help_scroll);
        }
    }
}
