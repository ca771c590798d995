//! Picking: claim a batch, walk its lines in bin order scanning bins and units, short-pick what
//! cannot be found, finish. The quantity for the current line is shown large.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table};

use chrono::{DateTime, Utc};

use super::{Component, Screen, Theme, clean, hold_why};
use crate::domain::{PickBatch, PickEvent};
use crate::service::ops::{PickScanned, Shorted};
use crate::service::{Notice, ServiceError, ops};
use crate::tui::action::Action;
use crate::tui::app::{Alert, App};

#[derive(Clone, Debug, Default)]
pub struct PickScreen {
    pub batch: Option<PickBatch>,
    pub selected: usize,
    /// Where the last unit scanned goes, shown large; with confirm-put, whether it is still in
    /// hand (its slot's label not yet scanned).
    pub put_to: Option<PutTo>,
    /// A short pick asked for on this SKU, waiting for the second key with its reason.
    pub short: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PutTo {
    pub slot: u32,
    pub order: crate::domain::OrderId,
    pub in_hand: bool,
}

impl PickScreen {
    /// A claim's answer: the batch now in hand (none when nothing waits); a status-bar message.
    pub fn set_batch(&mut self, batch: Option<PickBatch>) -> String {
        let msg = match &batch {
            Some(b) => format!(
                "batch {}: {} orders, {} lines",
                b.id,
                b.orders.len(),
                b.lines.len()
            ),
            None => "nothing waiting to be picked".to_owned(),
        };
        self.batch = batch;
        self.selected = 0;
        self.put_to = None;
        msg
    }

    /// The user's open batches (the service lists the newest first): the last of them is in
    /// hand.
    pub fn set_batches(&mut self, mut batches: Vec<PickBatch>) {
        self.batch = batches.pop();
        self.selected = self.first_open();
        // A unit still in hand (the batch as the service has it) keeps its slot up.
        self.put_to = self.batch.as_ref().and_then(|b| {
            b.in_hand.as_ref().map(|h| PutTo {
                slot: h.slot,
                order: h.order.clone(),
                in_hand: true,
            })
        });
    }

    /// A scan counted: the batch in hand updated; a status-bar message, none when the scan was
    /// for a batch no longer in hand.
    pub fn scanned(&mut self, picked: PickScanned) -> Option<String> {
        let PickScanned { batch, scan, .. } = picked;
        let b = self.batch.as_mut().filter(|b| b.id == batch)?;
        let msg = match &scan {
            PickEvent::Bin { bin } => {
                b.at_bin = Some(bin.clone());
                format!("at bin {}", clean(bin, 20))
            }
            PickEvent::Unit {
                line,
                picked,
                needed,
                order,
                slot,
                put,
            } => {
                let l = b.lines.get_mut(*line)?;
                l.picked = *picked;
                if let Some(k) = l.orders.iter().position(|(o, _)| o == order) {
                    l.put[k] += 1;
                }
                let sku = l.sku.clone();
                if !put {
                    b.in_hand = Some(crate::domain::pick::InHand {
                        sku: sku.clone(),
                        order: order.clone(),
                        slot: *slot,
                    });
                }
                self.selected = *line;
                self.put_to = Some(PutTo {
                    slot: *slot,
                    order: order.clone(),
                    in_hand: !put,
                });
                if *put {
                    format!("{} {picked}/{needed} → SLOT {slot}", clean(&sku, 30))
                } else {
                    format!("{} {picked}/{needed}: scan SLOT-{slot}", clean(&sku, 30))
                }
            }
            PickEvent::Tote { slot, tote, .. } => {
                if let Some(s) = b.slots.iter_mut().find(|s| s.slot == *slot) {
                    s.tote = Some(tote.clone());
                }
                self.put_to = None;
                match b.needs_tote() {
                    Some(next) => format!(
                        "tote {} is SLOT {slot}; scan an empty tote for SLOT {}",
                        clean(tote, 20),
                        next.slot
                    ),
                    None => format!(
                        "tote {} is SLOT {slot}; every order has its tote",
                        clean(tote, 20)
                    ),
                }
            }
            PickEvent::Put { slot, order } => {
                b.in_hand = None;
                self.put_to = Some(PutTo {
                    slot: *slot,
                    order: order.clone(),
                    in_hand: false,
                });
                format!("put in SLOT {slot}")
            }
        };
        if self
            .batch
            .as_ref()
            .is_some_and(|b| b.lines.get(self.selected).is_some_and(|l| l.is_done()))
        {
            self.selected = self.first_open();
        }
        Some(msg)
    }

    /// A short pick: what is left of the batch; a status-bar message with what to put back.
    pub fn shorted(&mut self, shorted: Shorted) -> String {
        let Shorted {
            batch,
            orders,
            put_back,
        } = shorted;
        self.batch = batch;
        self.selected = self.first_open();
        self.put_to = None;
        let back: Vec<String> = put_back
            .iter()
            .map(|(s, n)| format!("{n} x {}", clean(s, 20)))
            .collect();
        format!(
            "{} order(s) to exceptions{}",
            orders.len(),
            if back.is_empty() {
                String::new()
            } else {
                format!("; put back {}", back.join(", "))
            }
        )
    }

    fn first_open(&self) -> usize {
        self.batch
            .as_ref()
            .and_then(|b| b.lines.iter().position(|l| !l.is_done()))
            .unwrap_or(0)
    }

    pub fn move_by(&mut self, delta: i64) {
        if let Some(b) = &self.batch {
            let n = b.lines.len() as i64;
            if n > 0 {
                self.selected = (self.selected as i64 + delta).clamp(0, n - 1) as usize;
            }
        }
    }

    /// Where the unit goes, large: an arrow and the slot number, with what to do next.
    fn render_put_to(&self, f: &mut Frame, area: Rect, theme: Theme, p: &PutTo) {
        let digits = crate::font::big(&p.slot.to_string());
        let (head, style) = if p.in_hand {
            (format!("→ SLOT {}: scan its label", p.slot), theme.banner())
        } else {
            (format!("→ SLOT {}", p.slot), theme.ok())
        };
        let mut lines = vec![Line::from(vec![
            Span::styled(format!(" {head} "), style),
            Span::raw(format!("  order {}", clean(p.order.as_str(), 19))),
        ])];
        lines.extend(digits.into_iter().map(|r| Line::from(format!("   {r}"))));
        f.render_widget(Paragraph::new(lines), area);
    }

    pub fn render(&self, f: &mut Frame, area: Rect, theme: Theme, claim_key: &str) {
        let Some(b) = &self.batch else {
            f.render_widget(
                Paragraph::new(format!("No batch. Press {claim_key} to claim one.")),
                area,
            );
            return;
        };
        let small = area.width < 80;
        let [big, slot, list] = Layout::vertical([
            Constraint::Length(5),
            Constraint::Length(if self.put_to.is_some() { 5 } else { 0 }),
            Constraint::Min(1),
        ])
        .areas(area);
        if let Some(p) = &self.put_to {
            self.render_put_to(f, slot, theme, p);
        }
        let text = if let Some(next) = b.needs_tote() {
            vec![
                Line::from(Span::styled(
                    format!("  SCAN AN EMPTY TOTE FOR SLOT {}  ", next.slot),
                    theme.banner(),
                )),
                Line::from(format!("  order {}", clean(next.order.as_str(), 19))),
                Line::from(format!(
                    "  {} of {} orders have their tote",
                    b.slots.iter().filter(|s| s.tote.is_some()).count(),
                    b.slots.len()
                )),
            ]
        } else if let Some(l) = b.lines.get(self.selected) {
            let bin = l
                .bin
                .as_deref()
                .map_or("NO BIN".to_owned(), |b| clean(b, 12));
            let qty = format!("{} / {}", l.picked, l.needed);
            vec![
                Line::from(vec![
                    Span::styled(format!(" {bin} "), theme.banner()),
                    Span::raw(format!("  {}", clean(&l.sku, 30))),
                ]),
                Line::from(Span::styled(
                    format!("  PICK {qty}  "),
                    if l.is_done() {
                        theme.ok()
                    } else {
                        theme.error().patch(theme.selected())
                    },
                )),
                Line::from(clean(&l.title, area.width.saturating_sub(2) as usize)),
            ]
        } else {
            Vec::new()
        };
        f.render_widget(
            Paragraph::new(text).block(Block::default().borders(Borders::ALL).title(format!(
                "batch {} · {} orders",
                b.id,
                b.orders.len()
            ))),
            big,
        );
        if small {
            return;
        }
        let rows = b.lines.iter().enumerate().map(|(i, l)| {
            let mut style = if l.is_done() {
                theme.dim()
            } else {
                Default::default()
            };
            style = style.patch(theme.row(i == self.selected));
            Row::new(vec![
                l.bin
                    .as_deref()
                    .map_or("? (no bin)".to_owned(), |b| clean(b, 10)),
                clean(&l.sku, 20),
                format!("{}/{}", l.picked, l.needed),
                clean(&l.title, 40),
            ])
            .style(style)
        });
        f.render_widget(
            Table::new(
                rows,
                [
                    Constraint::Length(11),
                    Constraint::Length(21),
                    Constraint::Length(7),
                    Constraint::Min(5),
                ],
            )
            .header(Row::new(["BIN", "SKU", "PICKED", "ITEM"]).style(theme.dim())),
            list,
        );
    }
}

/// The reasons a short pick offers by number (1, 2, 3), the first when none is given.
const SHORT_REASONS: [&str; 3] = ["not in its bin", "damaged", "fewer than listed"];

/// Pick steps go through the pick lane: each is decided once the one before it is applied.
fn push(app: &mut App, step: impl FnOnce(&mut App) + Send + 'static) {
    app.push(Screen::Pick, Box::new(step));
}

impl Component for PickScreen {
    fn act(app: &mut App, action: &Action) -> bool {
        match action {
            Action::Claim => {
                // Refused at once when nothing before it could free the batch in hand (the
                // step checks again when its turn comes).
                if app.screens.pick.batch.is_some() && app.lane_idle(Screen::Pick) {
                    app.info("finish or give back the batch in hand first");
                    return true;
                }
                let from = app.screen;
                push(app, move |app| claim(app, from));
            }
            Action::FinishPick => push(app, finish),
            Action::ShortPick => short_pick(app),
            Action::Release => push(app, release),
            _ => return false,
        }
        true
    }

    /// A short pick asked for waits for its second key; anything else but typing its reason
    /// puts it down.
    fn interrupt(app: &mut App, action: &Action) -> bool {
        if !matches!(
            action,
            Action::ShortPick | Action::Char(_) | Action::Backspace
        ) && app.screens.pick.short.take().is_some()
        {
            app.input.clear();
            app.alert = None;
            if matches!(action, Action::Back) {
                app.info("short pick cancelled");
                return true;
            }
        }
        false
    }

    fn scan(app: &mut App, code: String) {
        push(app, move |app| scan(app, code));
    }

    fn moved(app: &mut App, delta: i64) {
        app.screens.pick.move_by(delta);
    }

    fn notice(app: &mut App, notice: &Notice) {
        match notice {
            Notice::OrderPulled {
                order,
                batch,
                holder,
                state,
                slot,
            } if *holder == app.user => {
                let from = slot.map_or(format!("batch {batch}"), |s| format!("SLOT {s}"));
                app.alert = Some(Alert {
                    text: format!("ORDER {order} IS {state}: take its units out of {from}"),
                    error: true,
                });
                app.bell = true;
                push(app, reload);
            }
            Notice::OrderHeld {
                order,
                batch: Some(batch),
                holder,
                reason,
                put_aside,
                slot,
            } if *holder == app.user => {
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
                app.alert = Some(Alert {
                    text: format!("ORDER {order} ON HOLD: {what}{}", hold_why(reason)),
                    error: true,
                });
                app.bell = true;
                push(app, reload);
            }
            Notice::ClaimReleased {
                holder,
                batch,
                reason,
            } if *holder == app.user => {
                if app
                    .screens
                    .pick
                    .batch
                    .as_ref()
                    .is_some_and(|b| b.id == *batch)
                {
                    app.screens.pick.batch = None;
                }
                app.alert = Some(Alert {
                    text: format!("batch {batch} is no longer yours: {}", clean(reason, 60)),
                    error: true,
                });
            }
            _ => {}
        }
    }

    fn draw(app: &App, f: &mut Frame, area: Rect, _now: DateTime<Utc>) {
        let key = app.key_for(Screen::Pick, &Action::Claim);
        app.screens.pick.render(f, area, app.theme, &key)
    }
}

/// A claim asked from the screen `from` (the pick screen opens if the user is still there).
fn claim(app: &mut App, from: Screen) {
    if app.screens.pick.batch.is_some() {
        app.info("finish or give back the batch in hand first");
        return;
    }
    app.send_step(
        Screen::Pick,
        "claiming a batch",
        ops::ClaimBatch { size: None },
        move |app, batch| {
            let msg = app.screens.pick.set_batch(batch);
            if app.screen == from {
                app.screen = Screen::Pick;
            }
            app.info(msg);
        },
    );
}

fn scan(app: &mut App, code: String) {
    let Some(batch) = app.screens.pick.batch.as_ref().map(|b| b.id) else {
        app.fail(&ServiceError::Conflict(
            "no batch in hand: claim one first".into(),
        ));
        return;
    };
    let doing = format!("scanning {}", clean(&code, 30));
    app.send_step(
        Screen::Pick,
        doing,
        ops::PickScan { batch, code },
        |app, a| {
            if let Some(m) = app.screens.pick.scanned(a) {
                app.info(m);
            }
        },
    );
}

/// A short pick of a SKU of the batch (the line confirmed), with its reason.
fn short(app: &mut App, sku: String, reason: String) {
    let Some(batch) = app.screens.pick.batch.as_ref().map(|b| b.id) else {
        return;
    };
    let doing = format!("short-picking {}", clean(&sku, 30));
    let op = ops::ShortPick { batch, sku, reason };
    app.send_step(Screen::Pick, doing, op, |app, shorted| {
        let m = app.screens.pick.shorted(shorted);
        app.info(m);
    });
}

fn finish(app: &mut App) {
    let Some(batch) = app.screens.pick.batch.as_ref().map(|b| b.id) else {
        return;
    };
    let doing = format!("finishing batch {batch}");
    app.send_step(
        Screen::Pick,
        doing,
        ops::FinishPick { batch },
        move |app, ()| {
            let_go(app, batch);
            app.info(format!("batch {batch} picked: take it to packing"));
        },
    );
}

/// The batch in hand is no longer the picker's (finished or given back).
fn let_go(app: &mut App, batch: u64) {
    if app
        .screens
        .pick
        .batch
        .as_ref()
        .is_some_and(|b| b.id == batch)
    {
        app.screens.pick.batch = None;
    }
}

fn release(app: &mut App) {
    let Some(batch) = app.screens.pick.batch.as_ref().map(|b| b.id) else {
        return;
    };
    let op = ops::ReleaseBatch {
        batch,
        reason: "given back at the terminal".into(),
    };
    app.send_step(
        Screen::Pick,
        format!("giving back batch {batch}"),
        op,
        move |app, ()| {
            let_go(app, batch);
            app.info(format!("batch {batch} given back"));
        },
    );
}

/// The user's batches again (a notice said the one in hand changed).
fn reload(app: &mut App) {
    let op = ops::Batches { all: false };
    app.send_step(Screen::Pick, "loading the batch", op, |app, mine| {
        app.screens.pick.set_batches(mine);
    });
}

/// The short-pick key: the first press asks (which line, and why), the second, on the
/// same line, sends it with the reason typed or chosen by number. Esc or any other key puts
/// it down: a short pick takes an order off the batch, so one stray key never does it.
fn short_pick(app: &mut App) {
    let Some(sku) = app.screens.pick.batch.as_ref().and_then(|b| {
        b.lines
            .get(app.screens.pick.selected)
            .filter(|l| !l.is_done())
            .map(|l| l.sku.clone())
    }) else {
        app.screens.pick.short = None;
        app.info("select a line still to pick to short-pick it");
        return;
    };
    let key = app.key_for(Screen::Pick, &Action::ShortPick);
    match app.screens.pick.short.take() {
        Some(armed) if armed == sku => {
            let typed = std::mem::take(&mut app.input);
            let reason = match typed.trim() {
                "" | "1" => SHORT_REASONS[0].to_owned(),
                "2" => SHORT_REASONS[1].to_owned(),
                "3" => SHORT_REASONS[2].to_owned(),
                other => other.to_owned(),
            };
            push(app, move |app| short(app, sku, reason));
        }
        _ => {
            app.input.clear();
            app.alert = Some(Alert {
                text: format!(
                    "short-pick {}? Its orders leave the batch. Why: 1 {}, 2 {}, 3 {}, or type it; then {key} again (Esc: no)",
                    clean(&sku, 30),
                    SHORT_REASONS[0],
                    SHORT_REASONS[1],
                    SHORT_REASONS[2],
                ),
                error: true,
            });
            app.screens.pick.short = Some(sku);
        }
    }
}
