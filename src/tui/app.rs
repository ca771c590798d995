//! The app: state, actions → service requests → answers → state, and state → frame (a pure
//! function). An action never waits: [`App::act`] sends each request on its own task with a
//! typed completion, and the completion comes back on a channel to run on the app (an error
//! rings the bell and shows the red alert, on whatever screen the user is by then). Pick and
//! pack steps, scans above all, go through one chain per screen: each is sent only after the
//! one before it is answered and applied, so they reach the service in the order typed. The
//! status line shows what is in flight.
//!
//! The loop around it (terminal, scanner timing, notices, answers) is in [`super::run`]; tests
//! drive [`App::act`] and [`App::notice`] headless, wait with [`App::settle`] until every
//! answer is applied, and draw with [`App::view`] on a `TestBackend`.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

use crate::domain::OrderState;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::action::Action;
use super::keymap::Keymap;
use super::screens::dashboard::{self, DashboardScreen};
use super::screens::exceptions::{ExceptionsScreen, Selected};
use super::screens::inquiries::InquiriesScreen;
use super::screens::label::LabelScreen;
use super::screens::returns::ReturnsScreen;
use super::screens::{
    Theme, clean, hold_why, pack::PackScreen, pick::PickScreen, queue::QueueScreen,
};
use crate::service::client::Client;
use crate::service::ops::{self, Operation, Welcome};
use crate::service::{Notice, Role, ServiceError};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Screen {
    Queue,
    Pick,
    Pack,
    Exceptions,
    Labels,
    Inquiries,
    Returns,
    Dashboard,
}

impl Screen {
    pub fn key(self) -> &'static str {
        match self {
            Screen::Queue => "queue",
            Screen::Pick => "pick",
            Screen::Pack => "pack",
            Screen::Exceptions => "exceptions",
            Screen::Labels => "label",
            Screen::Inquiries => "inquiries",
            Screen::Returns => "returns",
            Screen::Dashboard => "dashboard",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alert {
    pub text: String,
    pub error: bool,
}

/// What to do with an answer once it is back, run on the app by the loop (or by
/// [`App::settle`]): the request's own completion, typed by its operation.
pub type Completion = Box<dyn FnOnce(&mut App) + Send>;

/// Work on the pick batch or the pack bench that must reach the service one step after
/// another, in the order it was typed: each step is decided (which request, for which batch or
/// order) only once the answers of the steps before it are applied.
#[derive(Clone, Debug)]
enum Step {
    /// A claim; the screen it was asked from (the pick screen opens if the user is still there).
    Claim(Screen),
    PickScan(String),
    /// A short pick of a SKU of the batch (the line confirmed), with its reason.
    ShortPick {
        sku: String,
        reason: String,
    },
    FinishPick,
    Release,
    /// The user's batches again (a notice said the one in hand changed).
    ReloadBatch,
    /// A code scanned (or typed) at the bench: an order, a unit, or the weight.
    PackCode(String),
    PackStart(String),
    PackConfirm,
    /// Close the box being filled with this weight, and open the next.
    PackCloseBox(u32),
}

/// The two chains of ordered steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lane {
    Pick,
    Pack,
}

impl Step {
    fn lane(&self) -> Lane {
        match self {
            Step::Claim(_)
            | Step::PickScan(_)
            | Step::ShortPick { .. }
            | Step::FinishPick
            | Step::Release
            | Step::ReloadBatch => Lane::Pick,
            Step::PackCode(_) | Step::PackStart(_) | Step::PackConfirm | Step::PackCloseBox(_) => {
                Lane::Pack
            }
        }
    }
}

/// Steps waiting their turn, and whether one is with the service now.
#[derive(Debug, Default)]
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
    pub queue: QueueScreen,
    pub pick: PickScreen,
    pub pack: PackScreen,
    pub exceptions: ExceptionsScreen,
    pub labels: LabelScreen,
    pub inquiries: InquiriesScreen,
    pub returns: ReturnsScreen,
    pub dashboard: DashboardScreen,
    pub alert: Option<Alert>,
    /// Where the training floor's labels and slips are written (the demo's folder), shown in
    /// its banner.
    pub printed_to: Option<String>,
    /// The code field: typed by hand, submitted with Enter.
    pub input: String,
    pub help: bool,
    /// The first help line shown (the overlay scrolls), and the last it may be: how many
    /// lines did not fit when it was last drawn.
    pub help_scroll: u16,
    help_max: std::sync::atomic::AtomicU16,
    /// How many help lines the overlay showed at once when last drawn (a page of it).
    help_page: std::sync::atomic::AtomicU16,
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
    /// Orders whose label purchase is in flight (a second Buy waits for the first's answer).
    buying: HashSet<String>,
    pick_chain: Chain,
    pack_chain: Chain,
    /// The bench's scale being read (its readings come back as completions).
    scale_watch: Option<crate::scale::device::Watch>,
}

/// The reasons a short pick offers by number (1, 2, 3), the first when none is given.
const SHORT_REASONS: [&str; 3] = ["not in its bin", "damaged", "fewer than listed"];

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
            queue: QueueScreen::default(),
            pick: PickScreen::default(),
            pack: PackScreen::default(),
            exceptions: ExceptionsScreen::default(),
            labels: LabelScreen::default(),
            inquiries: InquiriesScreen::default(),
            returns: ReturnsScreen::default(),
            dashboard: DashboardScreen::default(),
            alert: None,
            printed_to: None,
            input: String::new(),
            help: false,
            help_scroll: 0,
            help_max: std::sync::atomic::AtomicU16::new(0),
            help_page: std::sync::atomic::AtomicU16::new(1),
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
            buying: HashSet::new(),
            pick_chain: Chain::default(),
            pack_chain: Chain::default(),
            scale_watch: None,
        };
        let boxes = app.client.call(ops::Boxes {}).await?;
        app.pack.set_boxes(boxes);
        let mine = app.client.call(ops::Batches { all: false }).await?;
        app.pick.set_batches(mine);
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
    /// channel, and the pack screen shows it (see [`Self::scale_changed`]).
    pub fn attach_scale(&mut self, spec: crate::scale::ScaleSpec) {
        let done = self.done_tx.clone();
        self.pack.scale = Some(Default::default());
        self.scale_watch = Some(crate::scale::device::watch(spec, move |state| {
            let apply: Completion = Box::new(move |app: &mut App| app.scale_changed(state));
            // The app is gone only when the TUI has quit.
            let _ = done.send(apply);
        }));
    }

    /// The scale says something new. A settled weight for an order whose units are all in is
    /// announced: Enter takes it.
    pub fn scale_changed(&mut self, state: crate::scale::ScaleState) {
        self.pack.set_scale(state);
        if self.screen == Screen::Pack
            && self.input.is_empty()
            && self.pack.weight_g.is_none()
            && let Some(g) = self.pack.scale_weight()
            && self.pack.check.as_ref().is_some_and(|c| c.is_complete())
        {
            self.info(format!(
                "{} on the scale: Enter closes the box at that weight",
                crate::scale::show_grams(g)
            ));
        }
    }

    fn info(&mut self, text: impl Into<String>) {
        self.alert = Some(Alert {
            text: text.into(),
            error: false,
        });
    }

    fn fail(&mut self, e: &ServiceError) {
        self.alert = Some(Alert {
            text: e.to_string(),
            error: true,
        });
        self.bell = true;
    }

    /// Sends `op` and returns at once: a task calls the service and posts the completion, which
    /// runs `then` with the answer, or rings the bell and shows the error. `doing` is what the
    /// status line says until then.
    fn send<O: Operation>(
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
    fn send_then<O: Operation>(
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
    fn fetch<O: Operation>(
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
        let more = self.in_flight.len() - 1
            + self.pick_chain.waiting.len()
            + self.pack_chain.waiting.len();
        Some(if more == 0 {
            first.clone()
        } else {
            format!("{first} (+{more})")
        })
    }

    fn chain(&mut self, lane: Lane) -> &mut Chain {
        match lane {
            Lane::Pick => &mut self.pick_chain,
            Lane::Pack => &mut self.pack_chain,
        }
    }

    /// Puts a step at the end of its chain; it goes out once the steps before it are answered.
    fn push(&mut self, step: Step) {
        let lane = step.lane();
        self.chain(lane).waiting.push_back(step);
        self.pump(lane);
    }

    /// Starts the chain's next steps until one is with the service (a step refused here, such
    /// as a scan with no batch in hand, is done at once).
    fn pump(&mut self, lane: Lane) {
        while !self.chain(lane).busy {
            let Some(step) = self.chain(lane).waiting.pop_front() else {
                return;
            };
            self.start(step);
        }
    }

    /// [`Self::send`] for a step of `lane`: the next step starts once this one is applied.
    fn send_step<O: Operation>(
        &mut self,
        lane: Lane,
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

    /// Decides and sends one step, now that every step before it has been applied.
    fn start(&mut self, step: Step) {
        let lane = step.lane();
        match step {
            Step::Claim(from) => {
                if self.pick.batch.is_some() {
                    self.info("finish or give back the batch in hand first");
                    return;
                }
                self.send_step(
                    lane,
                    "claiming a batch",
                    ops::ClaimBatch { size: None },
                    move |app, batch| {
                        let msg = app.pick.set_batch(batch);
                        if app.screen == from {
                            app.screen = Screen::Pick;
                        }
                        app.info(msg);
                    },
                );
            }
            Step::PickScan(code) => {
                let Some(batch) = self.pick.batch.as_ref().map(|b| b.id) else {
                    self.fail(&ServiceError::Conflict(
                        "no batch in hand: claim one first".into(),
                    ));
                    return;
                };
                let doing = format!("scanning {}", clean(&code, 30));
                self.send_step(lane, doing, ops::PickScan { batch, code }, |app, a| {
                    if let Some(m) = app.pick.scanned(a) {
                        app.info(m);
                    }
                });
            }
            Step::ShortPick { sku, reason } => {
                let Some(batch) = self.pick.batch.as_ref().map(|b| b.id) else {
                    return;
                };
                let doing = format!("short-picking {}", clean(&sku, 30));
                let op = ops::ShortPick { batch, sku, reason };
                self.send_step(lane, doing, op, |app, shorted| {
                    let m = app.pick.shorted(shorted);
                    app.info(m);
                });
            }
            Step::FinishPick => {
                let Some(batch) = self.pick.batch.as_ref().map(|b| b.id) else {
                    return;
                };
                let doing = format!("finishing batch {batch}");
                self.send_step(lane, doing, ops::FinishPick { batch }, move |app, ()| {
                    if app.pick.batch.as_ref().is_some_and(|b| b.id == batch) {
                        app.pick.batch = None;
                    }
                    app.info(format!("batch {batch} picked: take it to packing"));
                });
            }
            Step::Release => {
                let Some(batch) = self.pick.batch.as_ref().map(|b| b.id) else {
                    return;
                };
                let op = ops::ReleaseBatch {
                    batch,
                    reason: "given back at the terminal".into(),
                };
                self.send_step(
                    lane,
                    format!("giving back batch {batch}"),
                    op,
                    move |app, ()| {
                        if app.pick.batch.as_ref().is_some_and(|b| b.id == batch) {
                            app.pick.batch = None;
                        }
                        app.info(format!("batch {batch} given back"));
                    },
                );
            }
            Step::ReloadBatch => {
                let op = ops::Batches { all: false };
                self.send_step(lane, "loading the batch", op, |app, mine| {
                    app.pick.set_batches(mine);
                });
            }
            Step::PackCode(code) => {
                let complete = self.pack.check.as_ref().is_some_and(|c| c.is_complete());
                if complete && code.chars().all(|c| c.is_ascii_digit()) && code.len() <= 5 {
                    self.pack.weight_g = code.parse().ok();
                    self.start(Step::PackConfirm);
                    return;
                }
                let order = self.pack.check.as_ref().map(|c| c.order.to_string());
                // A packing slip's order id starts (or switches to) that order's check.
                let other_order =
                    looks_like_order_id(&code) && order.as_deref() != Some(code.as_str());
                match order {
                    Some(order) if !other_order => {
                        let doing = format!("scanning {}", clean(&code, 30));
                        self.send_step(
                            lane,
                            doing,
                            ops::PackScan {
                                order,
                                code,
                                unit_codes: Vec::new(),
                            },
                            |app, c| {
                                let m = app.pack.set_check(c);
                                app.info(m);
                            },
                        );
                    }
                    _ => self.start(Step::PackStart(code)),
                }
            }
            Step::PackStart(order) => {
                let doing = format!("opening order {}", clean(&order, 30));
                self.send_step(lane, doing, ops::PackStart { order }, |app, c| {
                    let m = app.pack.set_check(c);
                    app.info(m);
                });
            }
            Step::PackConfirm => {
                let Some(check) = self.pack.check.as_ref() else {
                    return;
                };
                let order = check.order.to_string();
                // Every box closed already: nothing more to weigh.
                let all_closed = check.open_units() == 0 && !check.boxes.is_empty();
                let weight_g = match self.pack.weight_g {
                    Some(0) if !all_closed => {
                        self.pack.weight_g = None;
                        self.info("0 g is no weight: type the box's weight in grams (1 g – 70 kg) and press Enter");
                        return;
                    }
                    Some(w) => w,
                    None if all_closed => 0,
                    // Nothing typed: the scale's settled weight, when it gives one.
                    None => match self.pack.scale_weight() {
                        Some(g) => g,
                        None => {
                            let m = self.pack.no_weight();
                            self.info(m);
                            return;
                        }
                    },
                };
                let box_name = self.pack.box_name();
                let doing = if self.label_at_pack {
                    format!("label printing… {order}")
                } else {
                    format!("boxing order {order}")
                };
                let op = ops::PackFinish {
                    order,
                    box_name,
                    weight_g,
                    partial: None,
                    label: false,
                };
                self.send_step(lane, doing, op, move |app, finished| {
                    app.pack.weighed(weight_g);
                    let m = app.pack.packed(finished.row.clone());
                    match app.pack.bench_label(&finished) {
                        Some((text, ok)) => {
                            if !ok {
                                app.bell = true;
                            }
                            app.info(format!("{m}; {text}"));
                        }
                        None => app.info(m),
                    }
                    app.refresh();
                });
            }
            Step::PackCloseBox(weight_g) => {
                let Some(order) = self.pack.check.as_ref().map(|c| c.order.to_string()) else {
                    return;
                };
                let box_name = self.pack.box_name();
                let doing = format!("closing a box of {order}");
                let op = ops::PackCloseBox {
                    order,
                    box_name,
                    weight_g,
                };
                self.send_step(lane, doing, op, move |app, c| {
                    let n = c.boxes.len();
                    app.pack.set_check(c);
                    app.pack.weight_g = None;
                    app.pack.weighed(weight_g);
                    app.info(format!("box {n} closed: scan the units of box {}", n + 1));
                });
            }
        }
    }

    /// Fetches what the current screen shows; the answers come back as events.
    pub fn refresh(&mut self) {
        match self.screen {
            Screen::Queue => {
                let op = self.queue.request(self.page);
                self.fetch("queue", "loading the queue", op, |app, page| {
                    app.queue.apply(page)
                });
            }
            Screen::Pack if self.pack.check.is_none() => {
                let limit = u32::from(self.page.max(1));
                self.fetch(
                    "picked",
                    "loading picked orders",
                    ops::Picked { limit },
                    |app, orders| app.pack.set_waiting(orders),
                );
            }
            Screen::Labels => {
                let list = |state| ops::Queue {
                    state: Some(state),
                    search: None,
                    offset: 0,
                    limit: 200,
                    exact_counts: false,
                };
                // Packed orders, then labelled ones: shown together once both are in.
                let doing = "loading orders for labels";
                self.fetch(
                    "labels",
                    doing,
                    list(OrderState::Packed),
                    move |app, packed| {
                        app.fetch(
                            "labels",
                            doing,
                            list(OrderState::Labelled),
                            move |app, labelled| app.labels.set_orders(packed.rows, labelled.rows),
                        );
                    },
                );
                // Failed prints, with why, the latest first.
                let failed = ops::PrintJobs {
                    failed: true,
                    ..Default::default()
                };
                self.fetch("failed prints", doing, failed, |app, mut jobs| {
                    jobs.reverse();
                    app.labels.failed = jobs;
                });
            }
            Screen::Exceptions => {
                let doing = "loading exceptions";
                self.fetch("exceptions", doing, ops::Exceptions {}, |app, e| {
                    app.exceptions.set_exceptions(e)
                });
                self.fetch(
                    "all batches",
                    doing,
                    ops::Batches { all: true },
                    |app, b| app.exceptions.set_batches(b),
                );
            }
            Screen::Inquiries => {
                self.fetch(
                    "inquiries",
                    "loading inquiries",
                    ops::Inquiries {},
                    |app, list| app.inquiries.set_inquiries(list),
                );
            }
            Screen::Dashboard => {
                self.fetch(
                    "dashboard",
                    "loading the dashboard",
                    ops::Dashboard {},
                    |app, v| app.dashboard.set_view(v),
                );
                if self.dashboard.holds.is_some() {
                    self.fetch("holds", "loading holds", ops::Holds {}, |app, h| {
                        if app.dashboard.holds.is_some() {
                            app.dashboard.holds = Some(h);
                        }
                    });
                }
            }
            Screen::Returns => {
                self.fetch(
                    "returns",
                    "loading returns",
                    ops::Returns {},
                    |app, list| app.returns.set_returns(list),
                );
            }
            _ => {}
        }
    }

    /// Applies one action without waiting: what needs the service is sent, and its answer is
    /// applied when it comes back. Pick and pack steps (scans above all) reach the service
    /// strictly in the order they arrive.
    pub fn act(&mut self, action: Action) {
        if self.help && !matches!(action, Action::Scan(_)) {
            // The overlay scrolls with the keys that move; any other key closes it.
            let max = self.help_max.load(std::sync::atomic::Ordering::Relaxed);
            let page = self
                .help_page
                .load(std::sync::atomic::Ordering::Relaxed)
                .max(1);
            let scroll = match action {
                Action::Up => Some(self.help_scroll.saturating_sub(1)),
                Action::Down => Some(self.help_scroll.saturating_add(1)),
                Action::PageUp => Some(self.help_scroll.saturating_sub(page)),
                Action::PageDown => Some(self.help_scroll.saturating_add(page)),
                _ => None,
            };
            if let Some(to) = scroll {
                self.help_scroll = to.min(max);
                return;
            }
            self.help = false;
            if matches!(action, Action::Help | Action::Back) {
                return;
            }
        }
        // A short pick asked for waits for its second key; anything else but typing its
        // reason puts it down.
        if !matches!(
            action,
            Action::ShortPick | Action::Char(_) | Action::Backspace
        ) && self.pick.short.take().is_some()
        {
            self.input.clear();
            self.alert = None;
            if matches!(action, Action::Back) {
                self.info("short pick cancelled");
                return;
            }
        }
        // A customer's words stay on the screen only while the lead looks at them.
        if matches!(
            action,
            Action::Queue
                | Action::Pick
                | Action::Pack
                | Action::Exceptions
                | Action::Labels
                | Action::Inquiries
                | Action::Returns
                | Action::Dashboard
                | Action::Back
        ) {
            self.inquiries.notes = None;
        }
        match action {
            Action::Quit => self.quit = true,
            Action::Help => {
                self.help = true;
                self.help_scroll = 0;
            }
            Action::Back => {
                // Esc with nothing typed and nothing shown puts the open return down (it stays
                // open in the store: scan it again to go on).
                if self.screen == Screen::Returns && self.input.is_empty() && self.alert.is_none() {
                    self.returns.open = None;
                    self.returns.last = None;
                }
                self.input.clear();
                self.alert = None;
                if self.screen == Screen::Queue && self.queue.search.take().is_some() {
                    self.queue.offset = 0;
                    self.refresh();
                }
            }
            Action::Queue => {
                self.screen = Screen::Queue;
                self.refresh();
            }
            Action::Pick => self.screen = Screen::Pick,
            Action::Pack => {
                self.screen = Screen::Pack;
                self.refresh();
            }
            Action::Exceptions => {
                if self.role < Role::Lead {
                    self.info("the exceptions screen is for leads");
                    return;
                }
                self.screen = Screen::Exceptions;
                self.refresh();
            }
            Action::Inquiries => {
                if self.role < Role::Lead {
                    self.info("the inquiries screen is for leads");
                    return;
                }
                self.screen = Screen::Inquiries;
                self.refresh();
            }
            Action::Dashboard => {
                if self.role < Role::Lead {
                    self.info("the dashboard is for leads");
                    return;
                }
                self.screen = Screen::Dashboard;
                self.refresh();
            }
            Action::Holds => {
                if self.screen == Screen::Dashboard {
                    self.dashboard.holds = match self.dashboard.holds {
                        Some(_) => None,
                        None => Some(Vec::new()),
                    };
                    self.refresh();
                }
            }
            Action::ReadNotes => self.read_notes(),
            Action::Returns => {
                self.screen = Screen::Returns;
                self.refresh();
            }
            Action::CycleCondition => {
                if self.screen == Screen::Returns {
                    self.returns.condition = self.returns.condition.next();
                }
            }
            Action::CloseReturn => self.close_return(),
            Action::Labels => {
                if self.role < Role::Labeler {
                    self.info("the labels screen is for labelers and leads");
                    return;
                }
                self.screen = Screen::Labels;
                self.refresh();
            }
            Action::Rates => {
                let Some(order) = self.label_order() else {
                    return;
                };
                let doing = format!("asking offers for {order}");
                let op = ops::Rates {
                    order: order.clone(),
                };
                self.send(doing, op, move |app, offers| {
                    // Offers are for the order still selected only, never another.
                    if app.label_selected(&order) {
                        app.labels.set_offers(offers);
                    }
                });
            }
            Action::NextOffer => self.labels.next_offer(),
            Action::Buy => self.buy(),
            Action::BuyAll => self.buy_all(),
            Action::PrintLabel => {
                let Some(order) = self.label_order() else {
                    return;
                };
                self.print_label(order);
            }
            Action::PrintSlip => {
                let Some(order) = self.label_order() else {
                    return;
                };
                let op = ops::PrintSlip {
                    order: order.clone(),
                    printer: self.slip_printer.clone(),
                    pdf: false,
                };
                self.send(format!("printing the slip of {order}"), op, |app, job| {
                    app.labels.printing = format!(
                        "{} of {} sent to the printer",
                        job.document.name(),
                        job.order
                    );
                });
            }
            Action::Void => {
                let Some(order) = self.label_order() else {
                    return;
                };
                let reason = self.note("voided at the terminal");
                let op = ops::VoidLabel {
                    order: order.clone(),
                    reason,
                    package: None,
                };
                self.send(
                    format!("voiding the label of {order}"),
                    op,
                    move |app, ()| {
                        app.info(format!(
                            "label of {order} voided: the order is packed again"
                        ));
                        app.refresh();
                    },
                );
            }
            Action::OwnCarrier => {
                let Some(order) = self.label_order() else {
                    return;
                };
                let typed = std::mem::take(&mut self.input);
                let mut words = typed.split_whitespace();
                let (Some(carrier), rest) = (words.next(), words.collect::<Vec<_>>().join(""))
                else {
                    self.info("type the carrier and tracking number (e.g. UPS 1Z…), then ship");
                    return;
                };
                // Several packages: their numbers in package order, comma-separated.
                let tracking: Vec<String> = rest
                    .split(',')
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned)
                    .collect();
                if tracking.is_empty() {
                    self.info("type the carrier and tracking number (e.g. UPS 1Z…), then ship");
                    return;
                }
                let op = ops::ShipOwnCarrier {
                    order: order.clone(),
                    carrier: carrier.to_owned(),
                    tracking,
                };
                self.send(
                    format!("confirming {order} to Amazon"),
                    op,
                    move |app, _| {
                        app.info(format!("order {order} shipped and confirmed to Amazon"));
                        app.refresh();
                    },
                );
            }
            Action::EndOfDay => {
                let op = ops::Manifest {
                    date: None,
                    close: true,
                };
                self.send("closing the day", op, |app, day| {
                    let unsent: Vec<String> =
                        day.codes_unsent.iter().map(|(o, _)| o.to_string()).collect();
                    app.info(if unsent.is_empty() {
                        format!(
                            "today: {} parcel(s) on the manifest, {} shipped now",
                            day.shipments.len(),
                            day.shipped
                        )
                    } else {
                        format!(
                            "today: {} parcel(s) on the manifest, {} shipped now; stay labelled, their Transparency codes not taken by Amazon: {} (label buy ORDER sends them again)",
                            day.shipments.len(),
                            day.shipped,
                            unsent.join(", ")
                        )
                    });
                    app.refresh();
                });
            }
            Action::CycleResume => self.exceptions.resume += 1,
            Action::Resolve if self.screen == Screen::Inquiries => self.resolve_inquiry(),
            Action::Resolve => self.resolve(),
            Action::Reassign => self.reassign(),
            Action::RaiseException => self.raise_exception(),
            Action::Refresh => self.refresh(),
            Action::Up | Action::Down | Action::PageUp | Action::PageDown => {
                let delta = match action {
                    Action::Up => -1,
                    Action::Down => 1,
                    Action::PageUp => -i64::from(self.page),
                    _ => i64::from(self.page),
                };
                match self.screen {
                    Screen::Queue => {
                        if self.queue.move_by(delta, self.page) {
                            self.refresh();
                        }
                    }
                    Screen::Pick => self.pick.move_by(delta),
                    Screen::Pack => {
                        let n = self.pack.waiting.len() as i64;
                        if self.pack.check.is_none() && n > 0 {
                            self.pack.selected =
                                (self.pack.selected as i64 + delta).clamp(0, n - 1) as usize;
                        }
                    }
                    Screen::Exceptions => self.exceptions.move_by(delta),
                    Screen::Labels => self.labels.move_by(delta),
                    Screen::Inquiries => self.inquiries.move_by(delta),
                    Screen::Returns => self.returns.move_by(delta),
                    Screen::Dashboard => self.dashboard.move_by(delta),
                }
            }
            Action::Claim => {
                // Refused at once when nothing before it could free the batch in hand (the
                // step checks again when its turn comes).
                if self.pick.batch.is_some()
                    && !self.pick_chain.busy
                    && self.pick_chain.waiting.is_empty()
                {
                    self.info("finish or give back the batch in hand first");
                    return;
                }
                self.push(Step::Claim(self.screen));
            }
            Action::FinishPick => self.push(Step::FinishPick),
            Action::ShortPick => self.short_pick(),
            Action::Release if self.screen == Screen::Dashboard => self.release_selected(),
            Action::Release => self.push(Step::Release),
            Action::NextBox => self.pack.next_box(),
            Action::Confirm => self.push(Step::PackConfirm),
            Action::CloseBox => {
                let typed = std::mem::take(&mut self.input);
                let weight = typed
                    .trim()
                    .parse::<u32>()
                    .ok()
                    .or(self.pack.weight_g)
                    .or_else(|| {
                        // The scale's reading is used up at once: a second press before the
                        // answer does not close an empty box at the same weight.
                        let g = self
                            .pack
                            .scale_weight()
                            .filter(|_| self.pack.check.is_some());
                        if let Some(g) = g {
                            self.pack.weighed(g);
                        }
                        g
                    });
                match weight {
                    Some(w) if self.pack.check.is_some() => self.push(Step::PackCloseBox(w)),
                    Some(_) => self.info("scan an order first"),
                    None if self.pack.scale.is_some() => {
                        let m = self.pack.no_weight();
                        self.info(m);
                    }
                    None => self.info("type the weight of the box in grams, then close it"),
                }
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
                    self.scan(code.trim().to_owned());
                } else if self.screen == Screen::Pack
                    && self.pack.check.is_none()
                    && let Some(r) = self.pack.waiting.get(self.pack.selected)
                {
                    // Enter on the picked list: that order to the bench.
                    let order = r.order.id.to_string();
                    self.push(Step::PackStart(order));
                } else if self.screen == Screen::Pack
                    && self.pack.scale.is_some()
                    && self.pack.check.as_ref().is_some_and(|c| c.is_complete())
                {
                    // Enter with nothing typed: the box at the scale's weight.
                    self.push(Step::PackConfirm);
                }
            }
            Action::Scan(code) => {
                self.input.clear();
                self.scan(code);
            }
        }
    }

    /// The short-pick key: the first press asks (which line, and why), the second, on the
    /// same line, sends it with the reason typed or chosen by number. Esc or any other key puts
    /// it down: a short pick takes an order off the batch, so one stray key never does it.
    fn short_pick(&mut self) {
        let Some(sku) = self.pick.batch.as_ref().and_then(|b| {
            b.lines
                .get(self.pick.selected)
                .filter(|l| !l.is_done())
                .map(|l| l.sku.clone())
        }) else {
            self.pick.short = None;
            self.info("select a line still to pick to short-pick it");
            return;
        };
        let key = self
            .keymap
            .key_for("pick", &Action::ShortPick)
            .unwrap_or_default();
        match self.pick.short.take() {
            Some(armed) if armed == sku => {
                let typed = std::mem::take(&mut self.input);
                let reason = match typed.trim() {
                    "" | "1" => SHORT_REASONS[0].to_owned(),
                    "2" => SHORT_REASONS[1].to_owned(),
                    "3" => SHORT_REASONS[2].to_owned(),
                    other => other.to_owned(),
                };
                self.push(Step::ShortPick { sku, reason });
            }
            _ => {
                self.input.clear();
                self.alert = Some(Alert {
                    text: format!(
                        "short-pick {}? Its orders leave the batch. Why: 1 {}, 2 {}, 3 {}, or type it; then {key} again (Esc: no)",
                        clean(&sku, 30),
                        SHORT_REASONS[0],
                        SHORT_REASONS[1],
                        SHORT_REASONS[2],
                    ),
                    error: true,
                });
                self.pick.short = Some(sku);
            }
        }
    }

    fn scan(&mut self, code: String) {
        match self.screen {
            Screen::Labels => match self
                .labels
                .orders
                .iter()
                .position(|r| r.order.id.as_str() == code)
            {
                Some(i) => {
                    self.labels.selected = i;
                    self.labels.offers.clear();
                }
                None => self.fail(&ServiceError::NotFound(format!(
                    "order {} is not waiting for a label",
                    clean(&code, 40)
                ))),
            },
            Screen::Exceptions => {
                match self
                    .exceptions
                    .exceptions
                    .iter()
                    .position(|e| e.order.as_str() == code)
                {
                    Some(i) => self.exceptions.selected = i,
                    None => self.fail(&ServiceError::NotFound(format!(
                        "order {} is not among the exceptions",
                        clean(&code, 40)
                    ))),
                }
            }
            Screen::Queue => {
                self.queue.search = Some(code);
                self.queue.offset = 0;
                self.queue.selected = 0;
                self.refresh();
            }
            Screen::Inquiries => {
                if !self.inquiries.select(&code) {
                    self.fail(&ServiceError::NotFound(format!(
                        "no inquiry {} (type an inquiry number or an order id)",
                        clean(&code, 40)
                    )));
                }
            }
            Screen::Returns => self.return_scan(code),
            Screen::Dashboard => {
                if !self.dashboard.select(&code) {
                    self.fail(&ServiceError::NotFound(format!(
                        "no batch {} in progress (type a batch number)",
                        clean(&code, 40)
                    )));
                }
            }
            Screen::Pick => self.push(Step::PickScan(code)),
            Screen::Pack => self.push(Step::PackCode(code)),
        }
    }

    /// A scan at the returns bench: with no return open (or a code that names another parcel),
    /// the parcel, whose return opens; else a unit of the open return, recorded in the condition
    /// shown.
    fn return_scan(&mut self, code: String) {
        let open = self.returns.open.as_ref().map(|r| r.handle());
        match open {
            Some(handle) if !looks_like_order_id(&code) && !self.returns.names_a_parcel(&code) => {
                let condition = self.returns.condition;
                let op = ops::ReceiveReturn {
                    code: handle.clone(),
                    unit: code,
                    condition,
                    quantity: 1,
                };
                self.send(
                    format!("recording a unit of {handle}"),
                    op,
                    |app, receipt| {
                        app.returns.received(receipt);
                        app.refresh();
                    },
                );
            }
            _ => {
                let doing = format!("opening the return of {}", clean(&code, 40));
                self.send(doing, ops::OpenReturn { code }, |app, r| {
                    app.returns.open(r);
                    app.refresh();
                });
            }
        }
    }

    /// Closes the return open at the bench.
    fn close_return(&mut self) {
        if self.screen != Screen::Returns {
            return;
        }
        let Some(handle) = self.returns.open.as_ref().map(|r| r.handle()) else {
            self.info("scan a parcel first: no return is open at the bench");
            return;
        };
        let op = ops::CloseReturn {
            code: handle.clone(),
        };
        self.send(format!("closing {handle}"), op, move |app, r| {
            app.info(format!("{handle} closed: {}", r.received_text()));
            app.returns.open = None;
            app.returns.last = None;
            app.refresh();
        });
    }

    /// Reads the selected inquiry's notes (the service audits it); shown while it stays selected.
    fn read_notes(&mut self) {
        if self.screen != Screen::Inquiries {
            return;
        }
        let Some(id) = self.inquiries.current().map(|q| q.id) else {
            self.info("no inquiry selected");
            return;
        };
        self.send(
            format!("reading the notes of inquiry {id}"),
            ops::ReadInquiry { id },
            |app, notes| app.inquiries.set_notes(notes),
        );
    }

    /// Resolves the selected inquiry with the typed resolution.
    fn resolve_inquiry(&mut self) {
        let Some(id) = self.inquiries.current().map(|q| q.id) else {
            self.info("select an inquiry to resolve");
            return;
        };
        let typed = std::mem::take(&mut self.input);
        let resolution = match crate::domain::NoteText::new(typed) {
            Ok(t) => t,
            Err(_) => {
                self.info("type how the inquiry was settled, then resolve");
                return;
            }
        };
        let op = ops::ResolveInquiry { id, resolution };
        self.send(format!("resolving inquiry {id}"), op, move |app, ()| {
            app.info(format!("inquiry {id} resolved"));
            app.inquiries.notes = None;
            app.refresh();
        });
    }

    /// The order selected on the labels screen.
    fn label_order(&mut self) -> Option<String> {
        let id = self.labels.current().map(|r| r.order.id.to_string());
        if id.is_none() {
            self.info("no order selected: packed orders wait here for labels");
        }
        id
    }

    fn label_selected(&self, order: &str) -> bool {
        self.labels
            .current()
            .is_some_and(|r| r.order.id.as_str() == order)
    }

    /// Buys the chosen offer's label. The screen goes on while Amazon answers; the result is
    /// shown whichever screen the user is on by then, and the label goes to the printer.
    fn buy(&mut self) {
        let Some(order) = self.label_order() else {
            return;
        };
        if self.buying.contains(&order) {
            self.info(format!("the label for {order} is being bought"));
            return;
        }
        let Some(offer) = self.labels.offers.get(self.labels.offer).cloned() else {
            self.info("ask for the offers first, then buy");
            return;
        };
        let op = ops::BuyLabel {
            order: order.clone(),
            service: Some(offer.service_id.clone()),
        };
        self.buying.insert(order.clone());
        let doing = format!("buying label for {order}");
        self.send_then(doing, op, move |app, r| {
            app.buying.remove(&order);
            let shipments = match r {
                Ok(s) => s,
                Err(e) => return app.fail(&e),
            };
            let tracking: Vec<String> = shipments
                .iter()
                .map(|s| s.tracking.as_ref().map_or("-".into(), |t| t.to_string()))
                .collect();
            let carrier = clean(&offer.carrier, 12);
            let labels = match shipments.len() {
                1 => format!("{carrier} label"),
                n => format!("{n} {carrier} labels"),
            };
            app.info(format!(
                "{order}: {labels} bought, tracking {}",
                tracking.join(", ")
            ));
            if app.label_selected(&order) {
                app.labels.offers.clear();
            }
            app.refresh();
            // The label goes to the printer straight away.
            app.print_label(order);
        });
    }

    /// Buys labels for every packed order at once (a wave). The screen shows its progress
    /// from the service's notices; the labels print in pack order to this terminal's printer.
    fn buy_all(&mut self) {
        if self.labels.wave.is_some() {
            self.info("a wave of labels is being bought");
            return;
        }
        let op = ops::BuyWave {
            carrier: None,
            service: None,
            printer: self.label_printer.clone(),
            no_print: false,
        };
        self.labels.wave = Some((0, 0));
        self.send_then("buying labels for every packed order", op, move |app, r| {
            app.labels.wave = None;
            let report = match r {
                Ok(r) => r,
                Err(e) => return app.fail(&e),
            };
            let bought = report
                .bought
                .iter()
                .filter(|b| !b.packages.is_empty())
                .count();
            let mut text = format!(
                "wave: {bought} order(s) bought, {} label(s) to the printer",
                report.printed
            );
            if let Some(first) = report.needs_person.first() {
                text.push_str(&format!(
                    "; {} need a person (first: {}: {})",
                    report.needs_person.len(),
                    first.order,
                    clean(&first.reason, 60)
                ));
                app.alert = Some(Alert { text, error: true });
                app.bell = true;
            } else {
                app.info(text);
            }
            if let Some(e) = report.print_error {
                app.labels.printing = format!("PRINT FAILED: {}", clean(&e, 60));
            }
            app.labels.offers.clear();
            app.refresh();
        });
    }

    fn print_label(&mut self, order: String) {
        let op = ops::PrintLabel {
            order: order.clone(),
            printer: self.label_printer.clone(),
            package: None,
        };
        self.send(
            format!("printing the label of {order}"),
            op,
            move |app, jobs| {
                app.labels.printing = match jobs.len() {
                    1 => format!("label of {order} sent to the printer"),
                    n => format!("{n} labels of {order} sent to the printer"),
                };
            },
        );
    }

    /// The typed note, or `default` when nothing was typed.
    fn note(&mut self, default: &str) -> String {
        let typed = std::mem::take(&mut self.input);
        if typed.trim().is_empty() {
            default.to_owned()
        } else {
            typed.trim().to_owned()
        }
    }

    fn raise_exception(&mut self) {
        let order = match self.screen {
            Screen::Pack => self.pack.check.as_ref().map(|c| c.order.to_string()),
            Screen::Queue => self
                .queue
                .rows
                .get(self.queue.selected)
                .map(|r| r.order.id.to_string()),
            _ => None,
        };
        let Some(order) = order else {
            self.info("select an order (or scan one at the pack bench) first");
            return;
        };
        let note = self.note("taken off the line at the terminal");
        let op = ops::RaiseException {
            order: order.clone(),
            note,
        };
        self.send(
            format!("raising an exception on {order}"),
            op,
            move |app, ()| {
                if app
                    .pack
                    .check
                    .as_ref()
                    .is_some_and(|c| c.order.as_str() == order)
                {
                    app.pack.check = None;
                }
                app.info(format!(
                    "order {order} is an exception now: a lead resolves it"
                ));
                app.refresh();
            },
        );
    }

    fn resolve(&mut self) {
        let Selected::Exception(e) = self.exceptions.selected() else {
            self.info("select an exception to resolve");
            return;
        };
        let order = e.order.to_string();
        let resume = self.exceptions.resume_state();
        let resolution = self.note("resolved at the terminal");
        let op = ops::ResolveException {
            order: order.clone(),
            resume,
            resolution,
        };
        self.send(format!("resolving {order}"), op, move |app, ()| {
            app.info(format!("order {order} back to {resume}"));
            app.refresh();
        });
    }

    /// Gives the batch selected on the dashboard back to the queue (a lead's call).
    fn release_selected(&mut self) {
        let Some(batch) = self.dashboard.current().map(|b| b.batch) else {
            self.info("select a batch in progress to give it back");
            return;
        };
        let reason = self.note("released by a lead at the dashboard");
        let op = ops::ReleaseBatch { batch, reason };
        self.send(format!("releasing batch {batch}"), op, move |app, ()| {
            app.info(format!(
                "batch {batch} released: its orders are back in the queue"
            ));
            app.refresh();
        });
    }

    fn reassign(&mut self) {
        let selected = match self.screen {
            Screen::Dashboard => self.dashboard.current().map(|b| b.batch),
            _ => match self.exceptions.selected() {
                Selected::Batch(b) => Some(b.id),
                _ => None,
            },
        };
        let Some(batch) = selected else {
            self.info("select a pick batch, type the user to give it to, then reassign");
            return;
        };
        let to = std::mem::take(&mut self.input);
        if to.trim().is_empty() {
            self.info("type the user to give the batch to, then reassign");
            return;
        }
        let to = to.trim().to_owned();
        let op = ops::ReassignBatch {
            batch,
            to: to.clone(),
        };
        self.send(format!("reassigning batch {batch}"), op, move |app, _| {
            app.info(format!("batch {batch} now with {}", clean(&to, 20)));
            app.refresh();
        });
    }

    /// A notice from the service.
    pub fn notice(&mut self, n: Notice) {
        // The dashboard is drawn again from a fresh view whenever the floor moved.
        let floor_moved = !matches!(n, Notice::SyncProgress { .. } | Notice::Closed { .. });
        self.apply_notice(n);
        if floor_moved && self.screen == Screen::Dashboard {
            self.refresh();
        }
    }

    fn apply_notice(&mut self, n: Notice) {
        match n {
            Notice::OrderPulled {
                order,
                batch,
                holder,
                state,
                slot,
            } if holder == self.user => {
                let from = slot.map_or(format!("batch {batch}"), |s| format!("SLOT {s}"));
                self.alert = Some(Alert {
                    text: format!("ORDER {order} IS {state}: take its units out of {from}"),
                    error: true,
                });
                self.bell = true;
                self.push(Step::ReloadBatch);
            }
            Notice::OrderHeld {
                order,
                batch: Some(batch),
                holder,
                reason,
                put_aside,
                slot,
            } if holder == self.user => {
                let units: Vec<String> = put_aside
                    .iter()
                    .map(|(sku, n)| format!("{n} x {}", clean(sku, 20)))
                    .collect();
                // What to do first (a small terminal shows two lines), then why.
                let what = match (units.is_empty(), slot) {
                    (true, _) => format!("it left batch {batch}, none of it picked yet"),
                    (false, Some(s)) => {
                        format!("SLOT {s} to the exceptions shelf: {}", units.join(", "))
                    }
                    (false, None) => format!("put {} on the exceptions shelf", units.join(", ")),
                };
                self.alert = Some(Alert {
                    text: format!("ORDER {order} ON HOLD: {what}{}", hold_why(&reason)),
                    error: true,
                });
                self.bell = true;
                self.push(Step::ReloadBatch);
            }
            Notice::OrderHeld {
                order,
                batch: None,
                holder,
                reason,
                ..
            } if holder == self.user => {
                if self.pack.check.as_ref().is_some_and(|c| c.order == order) {
                    self.pack.held = Some(reason.clone());
                }
                self.alert = Some(Alert {
                    text: format!(
                        "ORDER {order} ON HOLD{}: set it aside on the exceptions shelf",
                        hold_why(&reason)
                    ),
                    error: true,
                });
                self.bell = true;
            }
            Notice::ClaimReleased {
                holder,
                batch,
                reason,
            } if holder == self.user => {
                if self.pick.batch.as_ref().is_some_and(|b| b.id == batch) {
                    self.pick.batch = None;
                }
                self.alert = Some(Alert {
                    text: format!("batch {batch} is no longer yours: {}", clean(&reason, 60)),
                    error: true,
                });
            }
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
            Notice::Counts(c) => self.queue.counts = c,
            Notice::LabelWave { user, done, total }
                if user == self.user && self.labels.wave.is_some() =>
            {
                self.labels.wave = Some((done, total));
            }
            Notice::PrintFinished {
                job,
                order,
                ok,
                detail,
                what,
            } => {
                if let Some(job) = job
                    && let Some((text, ok)) = self.pack.print_finished(job, ok, &detail)
                {
                    if !ok {
                        self.bell = true;
                    }
                    self.info(text);
                }
                // A collection form is the day's, one carrier's: told by its name, not an order.
                let by_order = what.is_empty() || what.starts_with("order ");
                let head = if by_order {
                    order.to_string()
                } else {
                    clean(&what, 40)
                };
                self.labels.printing = if ok && !by_order {
                    clean(&detail, 60)
                } else if ok {
                    format!("{head}: {}", clean(&detail, 60))
                } else {
                    format!("{head}: PRINT FAILED: {}", clean(&detail, 60))
                };
                if !ok {
                    self.bell = true;
                }
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
        match self.screen {
            Screen::Queue => self.queue.render(f, body, self.theme, now),
            Screen::Pick => {
                let key = self
                    .keymap
                    .key_for("pick", &Action::Claim)
                    .unwrap_or_default();
                self.pick.render(f, body, self.theme, &key)
            }
            Screen::Pack => self.pack.render(f, body, self.theme),
            Screen::Exceptions => self.exceptions.render(f, body, self.theme),
            Screen::Labels => self.labels.render(f, body, self.theme),
            Screen::Inquiries => {
                let key = self
                    .keymap
                    .key_for("inquiries", &Action::ReadNotes)
                    .unwrap_or_default();
                self.inquiries.render(f, body, self.theme, &key)
            }
            Screen::Returns => {
                let key = self
                    .keymap
                    .key_for("returns", &Action::CycleCondition)
                    .unwrap_or_default();
                self.returns.render(f, body, self.theme, &key)
            }
            Screen::Dashboard => {
                let key = |a: Action| self.keymap.key_for("dashboard", &a).unwrap_or_default();
                let keys = dashboard::Keys {
                    holds: key(Action::Holds),
                    exceptions: key(Action::Exceptions),
                    release: key(Action::Release),
                    reassign: key(Action::Reassign),
                };
                self.dashboard.render(f, body, self.theme, &keys)
            }
        }
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
            self.render_help(f, body);
        }
    }

    /// Every key of the screen and the global ones, each description wrapped at word
    /// boundaries to the width there is; what does not fit scrolls (Up/Down, PageUp/PageDown).
    fn render_help(&self, f: &mut Frame, area: Rect) {
        let entries = self.keymap.help(self.screen.key());
        let inner_w = usize::from(area.width.saturating_sub(2));
        let inner_h = usize::from(area.height.saturating_sub(2)).max(1);
        let key_w = entries
            .iter()
            .map(|(k, _)| k.chars().count())
            .max()
            .unwrap_or(1)
            .min(inner_w / 3);
        let text_w = inner_w.saturating_sub(key_w + 2).max(8);
        let mut lines = Vec::new();
        for (k, d) in &entries {
            for (i, part) in wrap_words(d, text_w).into_iter().enumerate() {
                let key = if i == 0 { k.as_str() } else { "" };
                lines.push(Line::from(format!("{key:>key_w$}  {part}")));
            }
        }
        let max = lines.len().saturating_sub(inner_h);
        self.help_page.store(
            u16::try_from(inner_h).unwrap_or(u16::MAX),
            std::sync::atomic::Ordering::Relaxed,
        );
        self.help_max.store(
            u16::try_from(max).unwrap_or(u16::MAX),
            std::sync::atomic::Ordering::Relaxed,
        );
        let scroll = usize::from(self.help_scroll).min(max);
        let title = if max > 0 {
            format!(
                "keys: {} ({}-{} of {}, Up/Down)",
                self.screen.key(),
                scroll + 1,
                (scroll + inner_h).min(lines.len()),
                lines.len()
            )
        } else {
            format!("keys: {}", self.screen.key())
        };
        f.render_widget(Clear, area);
        f.render_widget(
            Paragraph::new(lines)
                .scroll((u16::try_from(scroll).unwrap_or(u16::MAX), 0))
                .block(Block::default().borders(Borders::ALL).title(title)),
            area,
        );
    }
}

/// Splits a text into lines of at most `width` characters at spaces (a word longer than the
/// line is split where it must be).
fn wrap_words(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let mut word: Vec<char> = word.chars().collect();
        while word.len() > width {
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            lines.push(word.drain(..width).collect());
        }
        let word: String = word.into_iter().collect();
        let len = line.chars().count();
        if len > 0 && len + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&word);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// Amazon order ids look like `123-1234567-1234567`.
fn looks_like_order_id(code: &str) -> bool {
    let parts: Vec<&str> = code.split('-').collect();
    parts.len() == 3
        && [3, 7, 7]
            .iter()
            .zip(&parts)
            .all(|(n, p)| p.len() == *n && p.bytes().all(|b| b.is_ascii_digit()))
}
