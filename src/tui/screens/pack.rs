//! Packing: scan the order (or take the next picked one), scan every unit, choose a box, type
//! the weight in grams, confirm. A box may be closed partway (its typed weight) and the rest
//! scanned into the next. A wrong or extra unit is refused loudly by the service. With a scale
//! at the bench, its settled weight fills the weight: Enter takes it, typing still wins.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table};

use std::collections::VecDeque;

use chrono::{DateTime, Utc};

use super::{Component, Screen, Theme, clean, hold_why, looks_like_order_id};
use crate::domain::PackCheck;
use crate::scale::{Reading, ScaleState, show_grams};
use crate::service::ops::{BenchLabel, Finished};
use crate::service::{BoxPreset, OrderRow};
use crate::service::{Notice, ops};
use crate::tui::action::Action;
use crate::tui::app::{Alert, App};

#[derive(Clone, Debug, Default)]
pub struct PackScreen {
    pub check: Option<PackCheck>,
    /// Picked orders waiting for a bench, when no check is open.
    pub waiting: Vec<OrderRow>,
    pub selected: usize,
    pub boxes: Vec<BoxPreset>,
    pub box_index: usize,
    pub weight_g: Option<u32>,
    /// The order at the bench was put on hold (this reason) while it was being packed.
    pub held: Option<String>,
    /// The label bought as the last order was boxed (`label_at_pack`): printing, or what
    /// became of it.
    pub label: Option<BenchLabelLine>,
    /// Print jobs that ended lately, with their outcome: a fast printer's notice may come
    /// before the answer that names its job.
    ended: VecDeque<(u64, bool, String)>,
    /// The bench's scale, when it has one.
    pub scale: Option<BenchScale>,
}

/// The scale at the bench: what it says now, and whether its settled weight was already taken
/// for a box (the same reading is not taken twice: the next box must be put on it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BenchScale {
    pub state: ScaleState,
    taken: bool,
}

impl BenchScale {
    pub fn new() -> BenchScale {
        BenchScale {
            state: ScaleState::Starting,
            taken: false,
        }
    }

    /// The weight the scale gives for the box on it: settled, above zero, not taken yet.
    pub fn weight(&self) -> Option<u32> {
        self.state.stable_grams().filter(|_| !self.taken)
    }

    /// Why there is no weight to take, and what to do instead.
    pub fn no_weight(&self) -> String {
        match &self.state {
            ScaleState::Reading(Reading::Stable(_)) => {
                "the scale still shows the last box's weight: put the next box on it, or type its weight in grams".to_owned()
            }
            ScaleState::Reading(Reading::Moving(_)) => {
                "the scale is still moving: wait for it to settle, or type the weight in grams".to_owned()
            }
            ScaleState::Reading(Reading::Zero) => {
                "the scale reads 0 g: put the box on it, or type the weight in grams".to_owned()
            }
            ScaleState::Starting => {
                "the scale has not answered yet: wait for it, or type the weight in grams".to_owned()
            }
            other => format!(
                "{}: type the weight in grams and press Enter",
                other.line().replacen("scale: ", "the scale is ", 1)
            ),
        }
    }
}

impl Default for BenchScale {
    fn default() -> Self {
        BenchScale::new()
    }
}

/// The bench's label, as the pack screen shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BenchLabelLine {
    pub order: String,
    /// "UPS 1Z…", one per package.
    pub postage: String,
    /// Print jobs not ended yet.
    pub waiting: Vec<u64>,
    /// The outcome, once known, and whether it is good.
    pub outcome: Option<(String, bool)>,
}

impl BenchLabelLine {
    /// The line the bench shows.
    pub fn text(&self) -> String {
        match &self.outcome {
            Some((text, _)) => text.clone(),
            None => format!("label printing… (order {})", self.order),
        }
    }
}

/// How many ended print jobs the bench remembers.
const ENDED_KEPT: usize = 32;

impl PackScreen {
    /// The check at the bench, as the service has it now; a status-bar message.
    pub fn set_check(&mut self, check: PackCheck) -> String {
        let msg = if let Some((line, kind)) = check.awaiting {
            let sku = check.lines.get(line).map_or("", |l| l.sku.as_str());
            format!("scan the {} of this {}", kind.name(), clean(sku, 30))
        } else if check.is_complete() && check.open_units() == 0 {
            "every box is closed: confirm to finish".to_owned()
        } else if check.is_complete() {
            "all units in: choose the box, type the weight in grams and Enter".to_owned()
        } else if check.units_left() == 0 {
            format!(
                "order {}: {} code(s) to record",
                check.order,
                check.codes_left()
            )
        } else {
            format!(
                "order {}: {} unit(s) to scan",
                check.order,
                check.units_left()
            )
        };
        if self.check.as_ref().is_none_or(|c| c.order != check.order) {
            self.weight_g = None;
            self.held = None;
        }
        self.check = Some(check);
        msg
    }

    /// The scale said something new: its weight may be taken again once it changed.
    pub fn set_scale(&mut self, state: ScaleState) {
        let scale = self.scale.get_or_insert_with(BenchScale::new);
        if scale.state != state {
            scale.state = state;
            scale.taken = false;
        }
    }

    /// Every unit of the order at the bench is in.
    pub fn complete(&self) -> bool {
        self.check.as_ref().is_some_and(|c| c.is_complete())
    }

    /// The scale's weight to take for the box being closed, if it gives one.
    pub fn scale_weight(&self) -> Option<u32> {
        self.scale.as_ref().and_then(BenchScale::weight)
    }

    /// A box was closed at this weight: when that is what the scale shows, that reading is
    /// used up.
    pub fn weighed(&mut self, weight_g: u32) {
        if let Some(s) = self.scale.as_mut()
            && s.state.stable_grams() == Some(weight_g)
        {
            s.taken = true;
        }
    }

    /// What to say when there is no weight to close a box with.
    pub fn no_weight(&self) -> String {
        match &self.scale {
            Some(s) => s.no_weight(),
            None => "type the weight in grams and press Enter".to_owned(),
        }
    }

    /// The scale's line, styled by how it is.
    fn scale_line(&self, theme: Theme, compact: bool) -> Option<Line<'static>> {
        let s = self.scale.as_ref()?;
        let style = match &s.state {
            ScaleState::Reading(Reading::Stable(_) | Reading::Zero) => theme.ok(),
            ScaleState::Reading(Reading::Moving(_)) | ScaleState::Starting => theme.dim(),
            _ => theme.error(),
        };
        let text = s.state.line();
        let max = if compact { 38 } else { 76 };
        Some(Line::from(Span::styled(clean(&text, max), style)))
    }

    pub fn set_boxes(&mut self, boxes: Vec<BoxPreset>) {
        self.boxes = boxes;
    }

    /// Picked orders waiting for a bench.
    pub fn set_waiting(&mut self, orders: Vec<OrderRow>) {
        self.waiting = orders;
        self.selected = self.selected.min(self.waiting.len().saturating_sub(1));
    }

    /// The order at the bench is boxed: the bench is free; a status-bar message.
    pub fn packed(&mut self, order: OrderRow) -> String {
        self.check = None;
        self.weight_g = None;
        format!("order {} packed: it goes to labels", order.order.id)
    }

    /// The label the service bought as it boxed the order, if it bought one: the line to
    /// show and whether it is good, once known (a failure is known at once; a print when the
    /// printer answers, see [`Self::print_finished`]).
    pub fn bench_label(&mut self, f: &Finished) -> Option<(String, bool)> {
        let order = f.order.id.to_string();
        let line = match f.bench_label.as_ref()? {
            BenchLabel::NotBought { reason } => BenchLabelLine {
                order: order.clone(),
                outcome: Some((
                    format!(
                        "LABEL NOT BOUGHT: {} (order {order} waits for the labeler)",
                        clean(reason, 120)
                    ),
                    false,
                )),
                ..Default::default()
            },
            BenchLabel::NotQueued { postage, reason } => BenchLabelLine {
                order: order.clone(),
                postage: clean(&postage.join(", "), 60),
                outcome: Some((
                    format!(
                        "LABEL NOT PRINTED: {} (order {order}: print it from labels, F6)",
                        clean(reason, 120)
                    ),
                    false,
                )),
                ..Default::default()
            },
            BenchLabel::Queued {
                postage,
                print_jobs,
            } => {
                let mut line = BenchLabelLine {
                    order,
                    postage: clean(&postage.join(", "), 60),
                    waiting: print_jobs.clone(),
                    outcome: None,
                };
                let ended: Vec<(u64, bool, String)> = self
                    .ended
                    .iter()
                    .filter(|(j, _, _)| print_jobs.contains(j))
                    .cloned()
                    .collect();
                for (job, ok, detail) in ended {
                    line.print_finished(job, ok, &detail);
                }
                line
            }
        };
        let outcome = line.outcome.clone();
        self.label = Some(line);
        outcome
    }

    /// A print job ended: when it is the bench's label, the line to show and whether it
    /// printed, once every job of the label has ended.
    pub fn print_finished(&mut self, job: u64, ok: bool, detail: &str) -> Option<(String, bool)> {
        self.ended.push_back((job, ok, detail.to_owned()));
        while self.ended.len() > ENDED_KEPT {
            self.ended.pop_front();
        }
        let line = self.label.as_mut()?;
        if !line.waiting.contains(&job) {
            return None;
        }
        line.print_finished(job, ok, detail);
        line.outcome.clone()
    }

    pub fn current_box(&self) -> Option<&BoxPreset> {
        self.boxes.get(self.box_index)
    }

    /// The chosen box preset's name (empty with none configured).
    pub fn box_name(&self) -> String {
        self.current_box()
            .map(|b| b.name.clone())
            .unwrap_or_default()
    }

    pub fn next_box(&mut self) {
        if !self.boxes.is_empty() {
            self.box_index = (self.box_index + 1) % self.boxes.len();
        }
    }

    pub fn render(&self, f: &mut Frame, area: Rect, theme: Theme) {
        let Some(c) = &self.check else {
            let label_rows = u16::from(self.label.is_some()) * 2;
            let scale = self.scale_line(theme, area.width < 60);
            let [label, scale_area, hint, list] = Layout::vertical([
                Constraint::Length(label_rows),
                Constraint::Length(u16::from(scale.is_some())),
                Constraint::Length(2),
                Constraint::Min(1),
            ])
            .areas(area);
            if let Some(line) = scale {
                f.render_widget(Paragraph::new(line), scale_area);
            }
            if let Some(l) = &self.label {
                let style = match l.outcome {
                    None => theme.banner(),
                    Some((_, true)) => theme.ok(),
                    Some((_, false)) => theme.error(),
                };
                f.render_widget(
                    Paragraph::new(Span::styled(l.text(), style))
                        .wrap(ratatui::widgets::Wrap { trim: true }),
                    label,
                );
            }
            f.render_widget(
                Paragraph::new(
                    "Scan an order's packing slip, or choose a picked order and press Enter.",
                )
                .wrap(ratatui::widgets::Wrap { trim: true }),
                hint,
            );
            let rows = self.waiting.iter().enumerate().map(|(i, r)| {
                let (units, style) = match r.hold {
                    Some(_) => ("HELD".to_owned(), theme.held()),
                    None => (format!("{} unit(s)", r.order.units()), Default::default()),
                };
                Row::new(vec![
                    clean(r.order.id.as_str(), 19),
                    units,
                    r.order.ship_by_key().format("%m-%d %H:%M").to_string(),
                ])
                .style(style.patch(theme.row(i == self.selected)))
            });
            f.render_widget(
                Table::new(
                    rows,
                    [
                        Constraint::Length(20),
                        Constraint::Length(10),
                        Constraint::Min(5),
                    ],
                )
                .header(Row::new(["PICKED", "UNITS", "SHIP BY"]).style(theme.dim())),
                list,
            );
            return;
        };
        let gift = c.gift_wrap().map(|wrap| {
            Line::from(Span::styled(
                format!(" GIFT WRAP: {} · message on the slip ", clean(wrap, 16)),
                theme.banner(),
            ))
        });
        let compact = area.width < 60;
        let scale = self.scale_line(theme, compact);
        let [top, gift_area, list] = Layout::vertical([
            Constraint::Length(4 + u16::from(scale.is_some())),
            Constraint::Length(u16::from(gift.is_some())),
            Constraint::Min(1),
        ])
        .areas(area);
        if let Some(g) = gift {
            f.render_widget(Paragraph::new(g), gift_area);
        }
        let status = if let Some(reason) = &self.held {
            Span::styled(
                format!("  ON HOLD{} — set it aside  ", super::hold_why(reason)),
                theme.error(),
            )
        } else if let Some((_, kind)) = c.awaiting {
            Span::styled(
                format!("  SCAN ITS {}  ", kind.name().to_uppercase()),
                theme.banner(),
            )
        } else if c.is_complete() {
            Span::styled("  COMPLETE  ", theme.ok())
        } else {
            Span::styled(format!("  {} TO SCAN  ", c.units_left()), theme.banner())
        };
        let bx = match self.current_box() {
            Some(b) if self.boxes.len() > 1 && compact => format!(
                "{} {}/{}",
                clean(&b.name, 20),
                self.box_index + 1,
                self.boxes.len()
            ),
            Some(b) if self.boxes.len() > 1 => format!(
                "{} ({} of {})",
                clean(&b.name, 20),
                self.box_index + 1,
                self.boxes.len()
            ),
            Some(b) => clean(&b.name, 20),
            None => "- (the site has no box presets: [floor] boxes)".to_owned(),
        };
        let weight = match (self.weight_g, self.scale_weight(), &self.scale) {
            (Some(w), _, _) => format!("{w} g"),
            (None, Some(g), _) if compact => show_grams(g),
            (None, Some(g), _) => format!("{} from the scale, Enter", show_grams(g)),
            (None, None, Some(_)) if compact => "scale".to_owned(),
            (None, None, Some(_)) => "on the scale, or type grams".to_owned(),
            (None, None, None) if compact => "grams+Enter".to_owned(),
            (None, None, None) => "type grams + Enter".to_owned(),
        };
        // Several boxes: which one is being filled, and what the closed ones hold.
        let mut lines = vec![Line::from(vec![
            status,
            Span::raw(format!(" order {}", c.order)),
        ])];
        if c.boxes.is_empty() {
            let gap = if compact { "  " } else { "   " };
            lines.push(Line::from(format!("box: {bx}{gap}weight: {weight}")));
            // The presets to choose from, the chosen one first.
            if self.boxes.len() > 1 {
                let n = self.boxes.len();
                let others: Vec<String> = (1..n)
                    .map(|i| clean(&self.boxes[(self.box_index + i) % n].name, 20))
                    .collect();
                lines.push(Line::from(Span::styled(
                    format!(
                        "{}: {}",
                        if compact { "next" } else { "next boxes" },
                        others.join(" · ")
                    ),
                    theme.dim(),
                )));
            }
        } else {
            let held: u32 = c.boxes.iter().flat_map(|b| &b.units).sum();
            lines.push(Line::from(format!(
                "box {}: {bx}{}weight: {weight}",
                c.boxes.len() + 1,
                if compact { " " } else { "   " }
            )));
            lines.push(Line::from(Span::styled(
                format!("{} box(es) closed, {held} unit(s) in them", c.boxes.len()),
                theme.dim(),
            )));
        }
        if let Some(line) = scale {
            lines.insert(2, line);
        }
        f.render_widget(
            Paragraph::new(lines).block(Block::default().borders(Borders::TOP)),
            top,
        );
        let coded = c.lines.iter().any(|l| !l.kinds.is_empty());
        let rows = c.lines.iter().map(|l| {
            let style = if l.scanned >= l.needed {
                theme.dim()
            } else {
                Default::default()
            };
            // A coded line shows its codes recorded against those asked.
            let count = if l.kinds.is_empty() {
                format!("{}/{}", l.scanned, l.needed)
            } else {
                format!(
                    "{}/{} +{}/{} codes",
                    l.scanned,
                    l.needed,
                    l.codes.len(),
                    l.needed as usize * l.kinds.len()
                )
            };
            Row::new(vec![clean(&l.sku, 20), count, clean(&l.title, 40)]).style(style)
        });
        f.render_widget(
            Table::new(
                rows,
                [
                    Constraint::Length(21),
                    Constraint::Length(if coded { 17 } else { 7 }),
                    Constraint::Min(5),
                ],
            )
            .header(Row::new(["SKU", "SCANNED", "ITEM"]).style(theme.dim())),
            list,
        );
    }
}

impl BenchLabelLine {
    fn print_finished(&mut self, job: u64, ok: bool, detail: &str) {
        if !self.waiting.contains(&job) || matches!(self.outcome, Some((_, false))) {
            return;
        }
        self.waiting.retain(|j| *j != job);
        if !ok {
            self.outcome = Some((
                format!(
                    "LABEL NOT PRINTED: {} (order {}: reprint it from labels, F6)",
                    clean(detail, 120),
                    self.order
                ),
                false,
            ));
        } else if self.waiting.is_empty() {
            self.outcome = Some((format!("label printed: {}", self.postage), true));
        }
    }
}

/// Pack steps go through the pack lane: each is decided once the one before it is applied.
fn push(app: &mut App, step: impl FnOnce(&mut App) + Send + 'static) {
    app.push(Screen::Pack, Box::new(step));
}

impl Component for PackScreen {
    fn refresh(app: &mut App) {
        if app.screens.pack.check.is_none() {
            let limit = u32::from(app.page.max(1));
            app.fetch(
                "picked",
                "loading picked orders",
                ops::Picked { limit },
                |app, orders| app.screens.pack.set_waiting(orders),
            );
        }
    }

    fn act(app: &mut App, action: &Action) -> bool {
        match action {
            Action::NextBox => app.screens.pack.next_box(),
            Action::Confirm => push(app, confirm),
            Action::CloseBox => close_box(app),
            Action::RaiseException => {
                // From the bench only: elsewhere the user is asked to choose an order.
                let here = app.screen == Screen::Pack;
                let check = app.screens.pack.check.as_ref().filter(|_| here);
                let order = check.map(|c| c.order.to_string());
                super::raise_exception(app, order);
            }
            _ => return false,
        }
        true
    }

    fn scan(app: &mut App, code: String) {
        push(app, move |app| code_scanned(app, code));
    }

    fn submit(app: &mut App) {
        if app.screens.pack.check.is_none()
            && let Some(r) = app.screens.pack.waiting.get(app.screens.pack.selected)
        {
            // Enter on the picked list: that order to the bench.
            let order = r.order.id.to_string();
            push(app, move |app| start(app, order));
        } else if app.screens.pack.scale.is_some() && app.screens.pack.complete() {
            // Enter with nothing typed: the box at the scale's weight.
            push(app, confirm);
        }
    }

    fn moved(app: &mut App, delta: i64) {
        let n = app.screens.pack.waiting.len() as i64;
        if app.screens.pack.check.is_none() && n > 0 {
            app.screens.pack.selected =
                (app.screens.pack.selected as i64 + delta).clamp(0, n - 1) as usize;
        }
    }

    fn notice(app: &mut App, notice: &Notice) {
        match notice {
            Notice::OrderHeld {
                order,
                batch: None,
                holder,
                reason,
                ..
            } if *holder == app.user => {
                if app
                    .screens
                    .pack
                    .check
                    .as_ref()
                    .is_some_and(|c| c.order == *order)
                {
                    app.screens.pack.held = Some(reason.clone());
                }
                app.alert = Some(Alert {
                    text: format!(
                        "ORDER {order} ON HOLD{}: set it aside on the exceptions shelf",
                        hold_why(reason)
                    ),
                    error: true,
                });
                app.bell = true;
            }
            Notice::PrintFinished {
                job: Some(job),
                ok,
                detail,
                ..
            } => {
                if let Some((text, ok)) = app.screens.pack.print_finished(*job, *ok, detail) {
                    if !ok {
                        app.bell = true;
                    }
                    app.info(text);
                }
            }
            _ => {}
        }
    }

    fn draw(app: &App, f: &mut Frame, area: Rect, _now: DateTime<Utc>) {
        app.screens.pack.render(f, area, app.theme)
    }
}

/// The scale says something new. A settled weight for an order whose units are all in is
/// announced: Enter takes it.
pub fn scale_changed(app: &mut App, state: ScaleState) {
    app.screens.pack.set_scale(state);
    if app.screen == Screen::Pack
        && app.input.is_empty()
        && app.screens.pack.weight_g.is_none()
        && let Some(g) = app.screens.pack.scale_weight()
        && app.screens.pack.complete()
    {
        app.info(format!(
            "{} on the scale: Enter closes the box at that weight",
            show_grams(g)
        ));
    }
}

/// A code scanned (or typed) at the bench: an order, a unit, or the weight.
fn code_scanned(app: &mut App, code: String) {
    let complete = app.screens.pack.complete();
    if complete && code.chars().all(|c| c.is_ascii_digit()) && code.len() <= 5 {
        app.screens.pack.weight_g = code.parse().ok();
        confirm(app);
        return;
    }
    let order = app.screens.pack.check.as_ref().map(|c| c.order.to_string());
    // A packing slip's order id starts (or switches to) that order's check.
    let other_order = looks_like_order_id(&code) && order.as_deref() != Some(code.as_str());
    match order {
        Some(order) if !other_order => {
            let doing = format!("scanning {}", clean(&code, 30));
            app.send_step(
                Screen::Pack,
                doing,
                ops::PackScan {
                    order,
                    code,
                    unit_codes: Vec::new(),
                },
                |app, c| {
                    let m = app.screens.pack.set_check(c);
                    app.info(m);
                },
            );
        }
        _ => start(app, code),
    }
}

fn start(app: &mut App, order: String) {
    let doing = format!("opening order {}", clean(&order, 30));
    app.send_step(Screen::Pack, doing, ops::PackStart { order }, |app, c| {
        let m = app.screens.pack.set_check(c);
        app.info(m);
    });
}

/// Confirms box and weight (the typed weight, else the scale's): the order is packed.
fn confirm(app: &mut App) {
    let Some(check) = app.screens.pack.check.as_ref() else {
        return;
    };
    let order = check.order.to_string();
    // Every box closed already: nothing more to weigh.
    let all_closed = check.open_units() == 0 && !check.boxes.is_empty();
    let weight_g = match app.screens.pack.weight_g {
        Some(0) if !all_closed => {
            app.screens.pack.weight_g = None;
            app.info(
                "0 g is no weight: type the box's weight in grams (1 g – 70 kg) and press Enter",
            );
            return;
        }
        Some(w) => w,
        None if all_closed => 0,
        // Nothing typed: the scale's settled weight, when it gives one.
        None => match app.screens.pack.scale_weight() {
            Some(g) => g,
            None => {
                let m = app.screens.pack.no_weight();
                app.info(m);
                return;
            }
        },
    };
    let box_name = app.screens.pack.box_name();
    let doing = if app.label_at_pack {
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
    app.send_step(Screen::Pack, doing, op, move |app, finished| {
        app.screens.pack.weighed(weight_g);
        let m = app.screens.pack.packed(finished.row.clone());
        match app.screens.pack.bench_label(&finished) {
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

/// Closes the box being filled (the typed weight, or the scale's) and opens the next.
fn close_box(app: &mut App) {
    let typed = std::mem::take(&mut app.input);
    let weight = typed
        .trim()
        .parse::<u32>()
        .ok()
        .or(app.screens.pack.weight_g)
        .or_else(|| {
            // The scale's reading is used up at once: a second press before the answer does
            // not close an empty box at the same weight.
            let g = app
                .screens
                .pack
                .scale_weight()
                .filter(|_| app.screens.pack.check.is_some());
            if let Some(g) = g {
                app.screens.pack.weighed(g);
            }
            g
        });
    match weight {
        Some(w) if app.screens.pack.check.is_some() => push(app, move |app| close_box_at(app, w)),
        Some(_) => app.info("scan an order first"),
        None if app.screens.pack.scale.is_some() => {
            let m = app.screens.pack.no_weight();
            app.info(m);
        }
        None => app.info("type the weight of the box in grams, then close it"),
    }
}

/// Close the box being filled with this weight, and open the next.
fn close_box_at(app: &mut App, weight_g: u32) {
    let Some(order) = app.screens.pack.check.as_ref().map(|c| c.order.to_string()) else {
        return;
    };
    let box_name = app.screens.pack.box_name();
    let doing = format!("closing a box of {order}");
    let op = ops::PackCloseBox {
        order,
        box_name,
        weight_g,
    };
    app.send_step(Screen::Pack, doing, op, move |app, c| {
        let n = c.boxes.len();
        app.screens.pack.set_check(c);
        app.screens.pack.weight_g = None;
        app.screens.pack.weighed(weight_g);
        app.info(format!("box {n} closed: scan the units of box {}", n + 1));
    });
}
