//! The app: state, actions → service requests → state, and state → frame (a pure function).
//! The loop around it (terminal, scanner timing, notices) is in [`super::run`]; tests drive
//! [`App::act`] and [`App::notice`] headless and draw with [`App::view`] on a `TestBackend`.

use chrono::{DateTime, Utc};

use crate::domain::OrderState;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::action::Action;
use super::keymap::Keymap;
use super::screens::exceptions::{ExceptionsScreen, Selected};
use super::screens::label::LabelScreen;
use super::screens::{Theme, clean, pack::PackScreen, pick::PickScreen, queue::QueueScreen};
use crate::service::client::Client;
use crate::service::{Notice, Reply, Request, Role, ServiceError};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Screen {
    Queue,
    Pick,
    Pack,
    Exceptions,
    Labels,
}

impl Screen {
    pub fn key(self) -> &'static str {
        match self {
            Screen::Queue => "queue",
            Screen::Pick => "pick",
            Screen::Pack => "pack",
            Screen::Exceptions => "exceptions",
            Screen::Labels => "label",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alert {
    pub text: String,
    pub error: bool,
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
    pub queue: QueueScreen,
    pub pick: PickScreen,
    pub pack: PackScreen,
    pub exceptions: ExceptionsScreen,
    pub labels: LabelScreen,
    pub alert: Option<Alert>,
    /// The code field: typed by hand, submitted with Enter.
    pub input: String,
    pub help: bool,
    pub quit: bool,
    /// Rows the queue can show (set from the terminal size).
    pub page: u16,
    /// Ring the terminal bell on the next frame.
    pub bell: bool,
    pub sync_line: String,
    pub connection: &'static str,
    /// This terminal's printers (`PACKLINE_LABEL_PRINTER`, `PACKLINE_SLIP_PRINTER`), over the
    /// user's and the site's.
    pub label_printer: Option<String>,
    pub slip_printer: Option<String>,
}

/// The smallest terminal packline draws into.
pub const MIN_W: u16 = 40;
pub const MIN_H: u16 = 12;

impl App {
    pub async fn new(mut client: Client, keymap: Keymap) -> Result<App, ServiceError> {
        let Reply::Welcome {
            user,
            role,
            unlocked,
            training,
            batch_size,
        } = client.call(Request::Hello).await?
        else {
            return Err(ServiceError::Protocol("unexpected reply to hello".into()));
        };
        let connection = if client.is_local() { "local" } else { "daemon" };
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
            queue: QueueScreen::default(),
            pick: PickScreen::default(),
            pack: PackScreen::default(),
            exceptions: ExceptionsScreen::default(),
            labels: LabelScreen::default(),
            alert: None,
            input: String::new(),
            help: false,
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
        };
        let boxes = app.client.call(Request::Boxes).await?;
        app.pack.apply(boxes);
        let mine = app.client.call(Request::Batches { all: false }).await?;
        app.pick.apply(mine);
        if let Reply::Sync(st) = app.client.call(Request::SyncStatus).await? {
            app.sync_line = match (st.enabled, st.last_ok) {
                (false, _) => String::new(),
                (true, Some(t)) => format!("sync: last {}", t.format("%H:%M")),
                (true, None) => "sync: not yet".to_owned(),
            };
        }
        app.refresh().await;
        Ok(app)
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

    async fn call(&mut self, req: Request) -> Option<Reply> {
        match self.client.call(req).await {
            Ok(r) => Some(r),
            Err(e) => {
                self.fail(&e);
                None
            }
        }
    }

    /// Fetches what the current screen shows.
    pub async fn refresh(&mut self) {
        match self.screen {
            Screen::Queue => {
                let req = self.queue.request(self.page);
                if let Some(r) = self.call(req).await {
                    self.queue.apply(r);
                }
            }
            Screen::Pack if self.pack.check.is_none() => {
                let limit = u32::from(self.page.max(1));
                if let Some(r) = self.call(Request::Picked { limit }).await {
                    self.pack.apply(r);
                }
            }
            Screen::Labels => {
                let mut lists = Vec::new();
                for state in [OrderState::Packed, OrderState::Labelled] {
                    let req = Request::Queue {
                        state: Some(state),
                        search: None,
                        offset: 0,
                        limit: 200,
                    };
                    match self.call(req).await {
                        Some(Reply::Queue(p)) => lists.push(p.rows),
                        _ => return,
                    }
                }
                let labelled = lists.pop().unwrap_or_default();
                let packed = lists.pop().unwrap_or_default();
                self.labels.set_orders(packed, labelled);
            }
            Screen::Exceptions => {
                if let Some(r) = self.call(Request::Exceptions).await {
                    self.exceptions.apply(r);
                }
                if let Some(r) = self.call(Request::Batches { all: true }).await {
                    self.exceptions.apply(r);
                }
            }
            _ => {}
        }
    }

    /// Applies one action. Scans are handled here strictly in the order they arrive.
    pub async fn act(&mut self, action: Action) {
        if self.help && !matches!(action, Action::Scan(_)) {
            self.help = false;
            if matches!(action, Action::Help | Action::Back) {
                return;
            }
        }
        match action {
            Action::Quit => self.quit = true,
            Action::Help => self.help = true,
            Action::Back => {
                self.input.clear();
                self.alert = None;
                if self.screen == Screen::Queue && self.queue.search.take().is_some() {
                    self.queue.offset = 0;
                    self.refresh().await;
                }
            }
            Action::Queue => {
                self.screen = Screen::Queue;
                self.refresh().await;
            }
            Action::Pick => self.screen = Screen::Pick,
            Action::Pack => {
                self.screen = Screen::Pack;
                self.refresh().await;
            }
            Action::Exceptions => {
                if self.role < Role::Lead {
                    self.info("the exceptions screen is for leads");
                    return;
                }
                self.screen = Screen::Exceptions;
                self.refresh().await;
            }
            Action::Labels => {
                if self.role < Role::Labeler {
                    self.info("the labels screen is for labelers and leads");
                    return;
                }
                self.screen = Screen::Labels;
                self.refresh().await;
            }
            Action::Rates => {
                if let Some(order) = self.label_order()
                    && let Some(r) = self.call(Request::Rates { order }).await
                {
                    self.labels.apply(r);
                }
            }
            Action::NextOffer => self.labels.next_offer(),
            Action::Buy => self.buy().await,
            Action::PrintLabel | Action::PrintSlip => {
                let Some(order) = self.label_order() else {
                    return;
                };
                let req = if action == Action::PrintLabel {
                    Request::PrintLabel {
                        order,
                        printer: None,
                    }
                } else {
                    Request::PrintSlip {
                        order,
                        printer: None,
                        pdf: false,
                    }
                };
                if let Some(Reply::Queued { job }) = self.call(req).await {
                    self.labels.printing = format!(
                        "{} of {} sent to the printer",
                        job.document.name(),
                        job.order
                    );
                }
            }
            Action::Void => {
                let Some(order) = self.label_order() else {
                    return;
                };
                let reason = self.note("voided at the terminal");
                if self
                    .call(Request::VoidLabel {
                        order: order.clone(),
                        reason,
                    })
                    .await
                    .is_some()
                {
                    self.info(format!(
                        "label of {order} voided: the order is packed again"
                    ));
                    self.refresh().await;
                }
            }
            Action::OwnCarrier => {
                let Some(order) = self.label_order() else {
                    return;
                };
                let typed = std::mem::take(&mut self.input);
                let mut words = typed.split_whitespace();
                let (Some(carrier), tracking) = (words.next(), words.collect::<Vec<_>>().join(""))
                else {
                    self.info("type the carrier and tracking number (e.g. UPS 1Z…), then ship");
                    return;
                };
                if tracking.is_empty() {
                    self.info("type the carrier and tracking number (e.g. UPS 1Z…), then ship");
                    return;
                }
                let req = Request::ShipOwnCarrier {
                    order: order.clone(),
                    carrier: carrier.to_owned(),
                    tracking,
                };
                if self.call(req).await.is_some() {
                    self.info(format!("order {order} shipped and confirmed to Amazon"));
                    self.refresh().await;
                }
            }
            Action::EndOfDay => {
                if let Some(Reply::Manifest { shipments, shipped }) = self
                    .call(Request::Manifest {
                        date: None,
                        close: true,
                    })
                    .await
                {
                    self.info(format!(
                        "today: {} parcel(s) on the manifest, {shipped} shipped now",
                        shipments.len()
                    ));
                    self.refresh().await;
                }
            }
            Action::CycleResume => self.exceptions.resume += 1,
            Action::Resolve => self.resolve().await,
            Action::Reassign => self.reassign().await,
            Action::RaiseException => self.raise_exception().await,
            Action::Refresh => self.refresh().await,
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
                            self.refresh().await;
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
                }
            }
            Action::Claim => {
                if self.pick.batch.is_some() {
                    self.info("finish or give back the batch in hand first");
                    return;
                }
                if let Some(r) = self.call(Request::ClaimBatch { size: None }).await {
                    let msg = self.pick.apply(r);
                    self.screen = Screen::Pick;
                    if let Some(m) = msg {
                        self.info(m);
                    }
                }
            }
            Action::FinishPick => {
                let Some(id) = self.pick.batch.as_ref().map(|b| b.id) else {
                    return;
                };
                if self.call(Request::FinishPick { batch: id }).await.is_some() {
                    self.pick.batch = None;
                    self.info(format!("batch {id} picked: take it to packing"));
                }
            }
            Action::ShortPick => {
                let Some((id, sku)) = self.pick.batch.as_ref().and_then(|b| {
                    b.lines
                        .get(self.pick.selected)
                        .map(|l| (b.id, l.sku.clone()))
                }) else {
                    return;
                };
                let reason = if self.input.trim().is_empty() {
                    "not found in its bin".to_owned()
                } else {
                    std::mem::take(&mut self.input)
                };
                if let Some(r) = self
                    .call(Request::ShortPick {
                        batch: id,
                        sku,
                        reason,
                    })
                    .await
                    && let Some(m) = self.pick.apply(r)
                {
                    self.info(m);
                }
            }
            Action::Release => {
                let Some(id) = self.pick.batch.as_ref().map(|b| b.id) else {
                    return;
                };
                let req = Request::ReleaseBatch {
                    batch: id,
                    reason: "given back at the terminal".into(),
                };
                if self.call(req).await.is_some() {
                    self.pick.batch = None;
                    self.info(format!("batch {id} given back"));
                }
            }
            Action::NextBox => self.pack.next_box(),
            Action::Confirm => self.confirm_pack().await,
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
                    self.scan(code.trim().to_owned()).await;
                } else if self.screen == Screen::Pack
                    && self.pack.check.is_none()
                    && let Some(r) = self.pack.waiting.get(self.pack.selected)
                {
                    // Enter on the picked list: that order to the bench.
                    let order = r.order.id.to_string();
                    if let Some(r) = self.call(Request::PackStart { order }).await
                        && let Some(m) = self.pack.apply(r)
                    {
                        self.info(m);
                    }
                }
            }
            Action::Scan(code) => {
                self.input.clear();
                self.scan(code).await;
            }
        }
    }

    async fn scan(&mut self, code: String) {
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
                self.refresh().await;
            }
            Screen::Pick => {
                let Some(id) = self.pick.batch.as_ref().map(|b| b.id) else {
                    self.fail(&ServiceError::Conflict(
                        "no batch in hand: claim one first".into(),
                    ));
                    return;
                };
                if let Some(r) = self.call(Request::PickScan { batch: id, code }).await
                    && let Some(m) = self.pick.apply(r)
                {
                    self.info(m);
                }
            }
            Screen::Pack => {
                let complete = self.pack.check.as_ref().is_some_and(|c| c.is_complete());
                if complete && code.chars().all(|c| c.is_ascii_digit()) && code.len() <= 5 {
                    self.pack.weight_g = code.parse().ok();
                    self.confirm_pack().await;
                    return;
                }
                let order = self.pack.check.as_ref().map(|c| c.order.to_string());
                // A packing slip's order id starts (or switches to) that order's check.
                let other_order =
                    looks_like_order_id(&code) && order.as_deref() != Some(code.as_str());
                let req = match order {
                    Some(order) if !other_order => Request::PackScan { order, code },
                    _ => Request::PackStart { order: code },
                };
                if let Some(r) = self.call(req).await
                    && let Some(m) = self.pack.apply(r)
                {
                    self.info(m);
                }
            }
        }
    }

    /// The order selected on the labels screen.
    fn label_order(&mut self) -> Option<String> {
        let id = self.labels.current().map(|r| r.order.id.to_string());
        if id.is_none() {
            self.info("no order selected: packed orders wait here for labels");
        }
        id
    }

    async fn buy(&mut self) {
        let Some(order) = self.label_order() else {
            return;
        };
        let Some(offer) = self.labels.offers.get(self.labels.offer).cloned() else {
            self.info("ask for the offers first, then buy");
            return;
        };
        let req = Request::BuyLabel {
            order: order.clone(),
            service: Some(offer.service_id.clone()),
        };
        if let Some(Reply::Shipment { shipment }) = self.call(req).await {
            self.info(format!(
                "{order}: {} label bought, tracking {}",
                clean(&offer.carrier, 12),
                shipment
                    .tracking
                    .as_ref()
                    .map_or("-".into(), |t| t.to_string())
            ));
            self.labels.offers.clear();
            self.refresh().await;
            // The label goes to the printer straight away.
            if let Some(Reply::Queued { job }) = self
                .call(Request::PrintLabel {
                    order,
                    printer: None,
                })
                .await
            {
                self.labels.printing = format!("label of {} sent to the printer", job.order);
            }
        }
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

    async fn raise_exception(&mut self) {
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
        if self
            .call(Request::RaiseException {
                order: order.clone(),
                note,
            })
            .await
            .is_some()
        {
            self.pack.check = None;
            self.info(format!(
                "order {order} is an exception now: a lead resolves it"
            ));
            self.refresh().await;
        }
    }

    async fn resolve(&mut self) {
        let Selected::Exception(e) = self.exceptions.selected() else {
            self.info("select an exception to resolve");
            return;
        };
        let order = e.order.to_string();
        let resume = self.exceptions.resume_state();
        let resolution = self.note("resolved at the terminal");
        if self
            .call(Request::ResolveException {
                order: order.clone(),
                resume,
                resolution,
            })
            .await
            .is_some()
        {
            self.info(format!("order {order} back to {resume}"));
            self.refresh().await;
        }
    }

    async fn reassign(&mut self) {
        let Selected::Batch(b) = self.exceptions.selected() else {
            self.info("select a pick batch, type the user to give it to, then reassign");
            return;
        };
        let batch = b.id;
        let to = std::mem::take(&mut self.input);
        if to.trim().is_empty() {
            self.info("type the user to give the batch to, then reassign");
            return;
        }
        if self
            .call(Request::ReassignBatch {
                batch,
                to: to.trim().to_owned(),
            })
            .await
            .is_some()
        {
            self.info(format!("batch {batch} now with {}", clean(to.trim(), 20)));
            self.refresh().await;
        }
    }

    async fn confirm_pack(&mut self) {
        let Some(order) = self.pack.check.as_ref().map(|c| c.order.to_string()) else {
            return;
        };
        let Some(weight_g) = self.pack.weight_g else {
            self.info("type the weight in grams and press Enter");
            return;
        };
        let box_name = self
            .pack
            .current_box()
            .map(|b| b.name.clone())
            .unwrap_or_default();
        if let Some(r) = self
            .call(Request::PackFinish {
                order,
                box_name,
                weight_g,
            })
            .await
            && let Some(m) = self.pack.apply(r)
        {
            self.info(m);
            self.refresh().await;
        }
    }

    /// A notice from the service.
    pub async fn notice(&mut self, n: Notice) {
        match n {
            Notice::OrderPulled {
                order,
                batch,
                holder,
                state,
            } if holder == self.user => {
                self.alert = Some(Alert {
                    text: format!("ORDER {order} IS {state}: take its units out of batch {batch}"),
                    error: true,
                });
                self.bell = true;
                if let Some(r) = self.call(Request::Batches { all: false }).await {
                    self.pick.apply(r);
                }
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
                self.refresh().await;
            }
            Notice::Counts(c) => self.queue.counts = c,
            Notice::PrintFinished { order, ok, detail } => {
                self.labels.printing = if ok {
                    format!("{order}: {}", clean(&detail, 60))
                } else {
                    format!("{order}: PRINT FAILED: {}", clean(&detail, 60))
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
            f.render_widget(
                Paragraph::new(" TRAINING FLOOR: made-up orders, nothing ships ")
                    .style(self.theme.banner()),
                b,
            );
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
        f.render_widget(Paragraph::new(status_text).style(self.theme.dim()), status);
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

    fn render_help(&self, f: &mut Frame, area: Rect) {
        let lines: Vec<Line> = self
            .keymap
            .help(self.screen.key())
            .into_iter()
            .map(|(k, d)| Line::from(format!("{k:>10}  {d}")))
            .collect();
        f.render_widget(Clear, area);
        f.render_widget(
            Paragraph::new(lines).block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(format!("keys: {}", self.screen.key())),
            ),
            area,
        );
    }
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
