//! The returns bench: every return kept (expected from Amazon's report, returnless refunds,
//! unexpected parcels), and the one open at the bench. A scan of a parcel's return label
//! (tracking number), its RMA id or its order id opens its return; each unit scanned after that
//! is recorded in the condition shown (a key cycles it), and a sellable unit's bin is shown big.
//! Nothing here is personal data.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Row, Table};

use chrono::{DateTime, Utc};

use super::{Component, Screen, Theme, clean, looks_like_order_id};
use crate::domain::returns::{Condition, ReturnKey, ReturnRecord, ReturnState};
use crate::service::ops;
use crate::service::ops::Receipt;
use crate::tui::action::Action;
use crate::tui::app::App;

#[derive(Clone, Debug)]
pub struct ReturnsScreen {
    pub returns: Vec<ReturnRecord>,
    pub selected: usize,
    /// The return open at the bench.
    pub open: Option<ReturnRecord>,
    /// The condition the next unit scanned is recorded in.
    pub condition: Condition,
    /// What the last scan did, and whether the unit went back to a bin.
    pub last: Option<(String, bool)>,
}

impl Default for ReturnsScreen {
    fn default() -> Self {
        ReturnsScreen {
            returns: Vec::new(),
            selected: 0,
            open: None,
            condition: Condition::Sellable,
            last: None,
        }
    }
}

/// How a return is known on a screen: its RMA id, or what it is.
pub fn known_as(r: &ReturnRecord) -> String {
    match &r.key {
        ReturnKey::Rma { rma } => rma.clone(),
        ReturnKey::Returnless { .. } => "returnless refund".into(),
        ReturnKey::Unexpected { .. } => "unexpected".into(),
    }
}

impl ReturnsScreen {
    pub fn set_returns(&mut self, returns: Vec<ReturnRecord>) {
        self.returns = returns;
        self.selected = self.selected.min(self.returns.len().saturating_sub(1));
        // The open one as the store now has it.
        if let Some(open) = &self.open
            && let Some(r) = self.returns.iter().find(|r| r.id == open.id)
        {
            self.open = (r.state() != ReturnState::Closed).then(|| r.clone());
        }
    }

    pub fn move_by(&mut self, delta: i64) {
        let n = self.returns.len() as i64;
        if n > 0 {
            self.selected = (self.selected as i64 + delta).clamp(0, n - 1) as usize;
        }
    }

    /// Opens a return at the bench.
    pub fn open(&mut self, r: ReturnRecord) {
        self.last = None;
        if let Some(i) = self.returns.iter().position(|x| x.id == r.id) {
            self.selected = i;
        }
        self.open = Some(r);
    }

    /// A unit recorded: the return as it now is, and what became of the unit.
    pub fn received(&mut self, r: Receipt) {
        let what = format!("{} × {} {}", r.quantity, r.sku, r.condition);
        self.last = Some(match (&r.bin, r.condition) {
            (Some(bin), _) => (format!("{what}: back to bin {bin}"), true),
            (None, Condition::Sellable) => (
                format!("{what}: no bin for it in the locations file: give it to a lead"),
                false,
            ),
            (None, _) => (format!("{what}: not restocked"), false),
        });
        self.open = Some(r.record);
    }

    /// Whether a scanned code names a parcel rather than a unit of the one open: an order id,
    /// or a tracking number or RMA id of another return kept.
    pub fn names_a_parcel(&self, code: &str) -> bool {
        let open = self.open.as_ref().map(|r| r.id);
        self.returns
            .iter()
            .any(|r| Some(r.id) != open && r.answers_to(code))
    }

    pub fn render(&self, f: &mut Frame, area: Rect, theme: Theme, cycle_key: &str) {
        let small = area.width < 80;
        let [top, last, list] = Layout::vertical([
            Constraint::Length(if small { 2 } else { 1 }),
            Constraint::Length(if self.last.is_some() { 1 } else { 0 }),
            Constraint::Min(2),
        ])
        .areas(area);
        match &self.open {
            Some(r) => self.render_open(f, r, [top, last, list], theme, cycle_key, small),
            None => self.render_list(f, top, list, theme, small),
        }
    }

    fn render_open(
        &self,
        f: &mut Frame,
        r: &ReturnRecord,
        [top, last, list]: [Rect; 3],
        theme: Theme,
        cycle_key: &str,
        small: bool,
    ) {
        let head = format!(
            "RET-{} {} · {}",
            r.id,
            clean(r.order.as_str(), 19),
            clean(&known_as(r), 20)
        );
        let cond = format!(
            "condition: {} ({cycle_key}) · {}/{} units",
            self.condition.name().to_uppercase(),
            r.received_units(),
            r.expected_units()
        );
        let lines = if small {
            vec![Line::from(head), Line::styled(cond, theme.selected())]
        } else {
            vec![Line::from(vec![
                ratatui::text::Span::raw(format!("{head}  ")),
                ratatui::text::Span::styled(cond, theme.selected()),
            ])]
        };
        f.render_widget(Paragraph::new(lines), top);
        if let Some((text, restocked)) = &self.last {
            let style = if *restocked { theme.ok() } else { theme.dim() };
            f.render_widget(Paragraph::new(clean(text, 120)).style(style), last);
        }
        let rows = r.lines.iter().map(|l| {
            let found: Vec<String> = Condition::ALL
                .iter()
                .filter_map(|c| {
                    let n: u32 = l
                        .received
                        .iter()
                        .filter(|x| x.condition == *c)
                        .map(|x| x.quantity)
                        .sum();
                    (n > 0).then(|| format!("{n} {}", c.name()))
                })
                .collect();
            let mut cells = vec![
                clean(&l.sku, 16),
                format!("{}/{}", l.received_units(), l.expected),
            ];
            if small {
                cells.push(clean(&found.join(", "), 20));
            } else {
                cells.push(clean(l.reason.as_deref().unwrap_or("-"), 18));
                cells.push(clean(&found.join(", "), 40));
            }
            Row::new(cells)
        });
        let widths: Vec<Constraint> = if small {
            vec![
                Constraint::Length(12),
                Constraint::Length(5),
                Constraint::Min(4),
            ]
        } else {
            vec![
                Constraint::Length(17),
                Constraint::Length(6),
                Constraint::Length(19),
                Constraint::Min(4),
            ]
        };
        let header = if small {
            Row::new(["sku", "got", "found"])
        } else {
            Row::new(["sku", "got", "reason", "found"])
        };
        f.render_widget(
            Table::new(rows, widths).header(header.style(theme.dim())),
            list,
        );
    }

    fn render_list(&self, f: &mut Frame, top: Rect, list: Rect, theme: Theme, small: bool) {
        let open = self
            .returns
            .iter()
            .filter(|r| r.state() != ReturnState::Closed && !r.is_returnless())
            .count();
        let head = if small {
            vec![
                Line::from(format!("{} returns, {open} to receive", self.returns.len())),
                Line::styled("scan the parcel's label or order", theme.dim()),
            ]
        } else {
            vec![Line::from(vec![
                ratatui::text::Span::raw(format!(
                    "{} returns, {open} to receive  ",
                    self.returns.len()
                )),
                ratatui::text::Span::styled(
                    "scan the return label, the RMA id or the order id",
                    theme.dim(),
                ),
            ])]
        };
        f.render_widget(Paragraph::new(head), top);
        // Only what fits is drawn: the rows around the selection.
        let fit = usize::from(list.height.max(1));
        let first = self.selected.saturating_sub(fit.saturating_sub(1));
        let rows = self
            .returns
            .iter()
            .enumerate()
            .skip(first)
            .take(fit)
            .map(|(i, r)| {
                let units = format!("{}/{}", r.received_units(), r.expected_units());
                // A returnless refund waits for no parcel.
                let state = match r.state() {
                    ReturnState::Expected if r.is_returnless() => "refund",
                    s => s.name(),
                };
                let mut cells = vec![format!("RET-{}", r.id), clean(r.order.as_str(), 19)];
                if small {
                    cells.push(state.to_owned());
                } else {
                    cells.push(clean(&known_as(r), 18));
                    cells.push(state.to_owned());
                    cells.push(units);
                    cells.push(clean(
                        &r.lines
                            .iter()
                            .map(|l| l.sku.as_str())
                            .collect::<Vec<_>>()
                            .join(","),
                        20,
                    ));
                }
                Row::new(cells).style(theme.row(i == self.selected))
            });
        let widths: Vec<Constraint> = if small {
            vec![
                Constraint::Length(7),
                Constraint::Length(20),
                Constraint::Min(4),
            ]
        } else {
            vec![
                Constraint::Length(7),
                Constraint::Length(20),
                Constraint::Length(19),
                Constraint::Length(10),
                Constraint::Length(6),
                Constraint::Min(4),
            ]
        };
        f.render_widget(Table::new(rows, widths), list);
    }
}

impl Component for ReturnsScreen {
    fn refresh(app: &mut App) {
        app.fetch(
            "returns",
            "loading returns",
            ops::Returns {},
            |app, list| app.screens.returns.set_returns(list),
        );
    }

    fn act(app: &mut App, action: &Action) -> bool {
        match action {
            Action::CycleCondition => {
                if app.screen == Screen::Returns {
                    app.screens.returns.condition = app.screens.returns.condition.next();
                }
            }
            Action::CloseReturn => {
                if app.screen == Screen::Returns {
                    close_return(app);
                }
            }
            _ => return false,
        }
        true
    }

    /// A scan at the returns bench: with no return open (or a code that names another
    /// parcel), the parcel, whose return opens; else a unit of the open return, recorded in the
    /// condition shown.
    fn scan(app: &mut App, code: String) {
        let open = app.screens.returns.open.as_ref().map(|r| r.handle());
        match open {
            Some(handle)
                if !looks_like_order_id(&code) && !app.screens.returns.names_a_parcel(&code) =>
            {
                let condition = app.screens.returns.condition;
                let op = ops::ReceiveReturn {
                    code: handle.clone(),
                    unit: code,
                    condition,
                    quantity: 1,
                };
                app.send(
                    format!("recording a unit of {handle}"),
                    op,
                    |app, receipt| {
                        app.screens.returns.received(receipt);
                        app.refresh();
                    },
                );
            }
            _ => {
                let doing = format!("opening the return of {}", clean(&code, 40));
                app.send(doing, ops::OpenReturn { code }, |app, r| {
                    app.screens.returns.open(r);
                    app.refresh();
                });
            }
        }
    }

    /// Esc with nothing typed and nothing shown puts the open return down (it stays open in
    /// the store: scan it again to go on).
    fn back(app: &mut App) {
        if app.input.is_empty() && app.alert.is_none() {
            app.screens.returns.open = None;
            app.screens.returns.last = None;
        }
    }

    fn moved(app: &mut App, delta: i64) {
        app.screens.returns.move_by(delta);
    }

    fn draw(app: &App, f: &mut Frame, area: Rect, _now: DateTime<Utc>) {
        let key = app.key_for(Screen::Returns, &Action::CycleCondition);
        app.screens.returns.render(f, area, app.theme, &key)
    }
}

/// Closes the return open at the bench.
fn close_return(app: &mut App) {
    let Some(handle) = app.screens.returns.open.as_ref().map(|r| r.handle()) else {
        app.info("scan a parcel first: no return is open at the bench");
        return;
    };
    let op = ops::CloseReturn {
        code: handle.clone(),
    };
    app.send(format!("closing {handle}"), op, move |app, r| {
        app.info(format!("{handle} closed: {}", r.received_text()));
        app.screens.returns.open = None;
        app.screens.returns.last = None;
        app.refresh();
    });
}
