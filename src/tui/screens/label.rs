//! Labels, for labelers: packed orders waiting for postage, their offers (the rule's choice
//! first), buying, printing and reprinting labels and slips, voiding, own-carrier shipments,
//! and closing the day. Print results arrive as notices: printing never holds the screen.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Row, Table};

use chrono::{DateTime, Utc};

use super::{Component, Theme, clean};
use crate::domain::OrderState;
use crate::service::{Notice, Role, ServiceError, ops};
use crate::service::{OrderRow, RateOffer};
use crate::tui::action::Action;
use crate::tui::app::{Alert, App};

#[derive(Clone, Debug, Default)]
pub struct LabelScreen {
    /// Packed orders (to buy for) then Labelled ones (to print, reprint or void).
    pub orders: Vec<OrderRow>,
    pub selected: usize,
    /// Offers for the selected order, once asked for.
    pub offers: Vec<RateOffer>,
    pub offer: usize,
    /// The last print result.
    pub printing: String,
    /// A wave of purchases is running: orders settled of all.
    pub wave: Option<(u32, u32)>,
    /// Print jobs that failed, the latest first (`packline prints retry` sends them again).
    pub failed: Vec<crate::service::PrintJob>,
    /// Orders whose label purchase is in flight (a second Buy waits for the first's answer).
    pub buying: std::collections::HashSet<String>,
}

impl LabelScreen {
    pub fn set_orders(&mut self, packed: Vec<OrderRow>, labelled: Vec<OrderRow>) {
        let keep = self.current().map(|r| r.order.id.clone());
        self.orders = packed.into_iter().chain(labelled).collect();
        self.selected = keep
            .and_then(|id| self.orders.iter().position(|r| r.order.id == id))
            .unwrap_or(0)
            .min(self.orders.len().saturating_sub(1));
    }

    pub fn current(&self) -> Option<&OrderRow> {
        self.orders.get(self.selected)
    }

    /// The offers for the selected order, best first.
    pub fn set_offers(&mut self, offers: Vec<RateOffer>) {
        self.offers = offers;
        self.offer = 0;
    }

    pub fn move_by(&mut self, delta: i64) {
        let n = self.orders.len() as i64;
        if n > 0 {
            self.selected = (self.selected as i64 + delta).clamp(0, n - 1) as usize;
            self.offers.clear();
        }
    }

    pub fn next_offer(&mut self) {
        if !self.offers.is_empty() {
            self.offer = (self.offer + 1) % self.offers.len();
        }
    }

    pub fn render(&self, f: &mut Frame, area: Rect, theme: Theme) {
        let small = area.width < 80;
        let offers_h = if self.offers.is_empty() {
            0
        } else {
            (self.offers.len() as u16 + 1).min(area.height / 2)
        };
        let [top, list, offers] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(2),
            Constraint::Length(offers_h),
        ])
        .areas(area);
        let top_line = match self.wave {
            // A gauge in characters, so it reads without colour.
            Some((done, total)) => {
                let width = if small { 10 } else { 30 };
                let filled = (done as usize * width)
                    .checked_div(total as usize)
                    .unwrap_or(0)
                    .min(width);
                format!(
                    "buying all: [{}{}] {done}/{total}",
                    "#".repeat(filled),
                    "-".repeat(width - filled)
                )
            }
            None if self.printing.is_empty() && !self.failed.is_empty() => {
                let last = &self.failed[0];
                clean(
                    &format!(
                        "{} PRINT(S) FAILED, last {}: {}",
                        self.failed.len(),
                        last.title(),
                        last.error.as_deref().unwrap_or("no reason kept")
                    ),
                    200,
                )
            }
            None if self.printing.is_empty() => {
                format!("{} order(s) to label or print", self.orders.len())
            }
            None => clean(&self.printing, 80),
        };
        let failing = self.wave.is_none() && self.printing.is_empty() && !self.failed.is_empty();
        let style = if failing {
            theme.error()
        } else {
            Default::default()
        };
        f.render_widget(
            Paragraph::new(Line::from(Span::styled(top_line, style))),
            top,
        );
        let rows = self.orders.iter().enumerate().map(|(i, r)| {
            let what = match r.state {
                OrderState::Packed => "to buy",
                OrderState::Labelled => "labelled",
                _ => "",
            };
            let mut cells = vec![clean(r.order.id.as_str(), 19), what.to_owned()];
            if !small {
                cells.push(r.order.ship_by_key().format("%m-%d %H:%M").to_string());
                cells.push(clean(r.recipient_mask.as_deref().unwrap_or("-"), 16));
            }
            let style = theme.row(i == self.selected);
            Row::new(cells).style(style)
        });
        let widths: Vec<Constraint> = if small {
            vec![Constraint::Length(19), Constraint::Min(5)]
        } else {
            vec![
                Constraint::Length(20),
                Constraint::Length(9),
                Constraint::Length(12),
                Constraint::Min(5),
            ]
        };
        f.render_widget(Table::new(rows, widths), list);
        let rows = self.offers.iter().enumerate().map(|(i, o)| {
            let mut style = if o.meets_promise {
                Default::default()
            } else {
                theme.dim()
            };
            style = style.patch(theme.row(i == self.offer));
            Row::new(vec![
                clean(&o.carrier, 8),
                clean(&o.service, if small { 14 } else { 30 }),
                format!("{:.2} {}", o.amount, clean(&o.currency, 3)),
                if o.meets_promise {
                    String::new()
                } else {
                    "late".into()
                },
            ])
            .style(style)
        });
        f.render_widget(
            Table::new(
                rows,
                [
                    Constraint::Length(9),
                    Constraint::Min(10),
                    Constraint::Length(11),
                    Constraint::Length(5),
                ],
            ),
            offers,
        );
    }
}

impl Component for LabelScreen {
    const GATE: Option<(Role, &'static str)> =
        Some((Role::Labeler, "the labels screen is for labelers and leads"));

    fn refresh(app: &mut App) {
        let list = |state| ops::Queue {
            state: Some(state),
            search: None,
            offset: 0,
            limit: 200,
            exact_counts: false,
        };
        // Packed orders, then labelled ones: shown together once both are in.
        let doing = "loading orders for labels";
        app.fetch(
            "labels",
            doing,
            list(OrderState::Packed),
            move |app, packed| {
                app.fetch(
                    "labels",
                    doing,
                    list(OrderState::Labelled),
                    move |app, labelled| app.screens.labels.set_orders(packed.rows, labelled.rows),
                );
            },
        );
        // Failed prints, with why, the latest first.
        let failed = ops::PrintJobs {
            failed: true,
            ..Default::default()
        };
        app.fetch("failed prints", doing, failed, |app, mut jobs| {
            jobs.reverse();
            app.screens.labels.failed = jobs;
        });
    }

    fn act(app: &mut App, action: &Action) -> bool {
        match action {
            Action::Rates => {
                let Some(order) = label_order(app) else {
                    return true;
                };
                let doing = format!("asking offers for {order}");
                let op = ops::Rates {
                    order: order.clone(),
                };
                app.send(doing, op, move |app, offers| {
                    // Offers are for the order still selected only, never another.
                    if selected(app, &order) {
                        app.screens.labels.set_offers(offers);
                    }
                });
            }
            Action::NextOffer => app.screens.labels.next_offer(),
            Action::Buy => buy(app),
            Action::BuyAll => buy_all(app),
            Action::PrintLabel => {
                let Some(order) = label_order(app) else {
                    return true;
                };
                print_label(app, order);
            }
            Action::PrintSlip => {
                let Some(order) = label_order(app) else {
                    return true;
                };
                let op = ops::PrintSlip {
                    order: order.clone(),
                    printer: app.slip_printer.clone(),
                    pdf: false,
                };
                app.send(format!("printing the slip of {order}"), op, |app, job| {
                    app.screens.labels.printing = format!(
                        "{} of {} sent to the printer",
                        job.document.name(),
                        job.order
                    );
                });
            }
            Action::Void => {
                let Some(order) = label_order(app) else {
                    return true;
                };
                let reason = app.note("voided at the terminal");
                let op = ops::VoidLabel {
                    order: order.clone(),
                    reason,
                    package: None,
                };
                app.send(
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
                let Some(order) = label_order(app) else {
                    return true;
                };
                let typed = std::mem::take(&mut app.input);
                let mut words = typed.split_whitespace();
                let (Some(carrier), rest) = (words.next(), words.collect::<Vec<_>>().join(""))
                else {
                    app.info("type the carrier and tracking number (e.g. UPS 1Z…), then ship");
                    return true;
                };
                // Several packages: their numbers in package order, comma-separated.
                let tracking: Vec<String> = rest
                    .split(',')
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned)
                    .collect();
                if tracking.is_empty() {
                    app.info("type the carrier and tracking number (e.g. UPS 1Z…), then ship");
                    return true;
                }
                let op = ops::ShipOwnCarrier {
                    order: order.clone(),
                    carrier: carrier.to_owned(),
                    tracking,
                };
                app.send(
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
                app.send("closing the day", op, |app, day| {
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
            _ => return false,
        }
        true
    }

    /// A scanned order id selects that order.
    fn scan(app: &mut App, code: String) {
        match app
            .screens
            .labels
            .orders
            .iter()
            .position(|r| r.order.id.as_str() == code)
        {
            Some(i) => {
                app.screens.labels.selected = i;
                app.screens.labels.offers.clear();
            }
            None => app.fail(&ServiceError::NotFound(format!(
                "order {} is not waiting for a label",
                clean(&code, 40)
            ))),
        }
    }

    fn moved(app: &mut App, delta: i64) {
        app.screens.labels.move_by(delta);
    }

    fn notice(app: &mut App, notice: &Notice) {
        match notice {
            Notice::LabelWave { user, done, total }
                if *user == app.user && app.screens.labels.wave.is_some() =>
            {
                app.screens.labels.wave = Some((*done, *total));
            }
            Notice::PrintFinished {
                order,
                ok,
                detail,
                what,
                ..
            } => {
                // A collection form is the day's, one carrier's: told by its name, not an order.
                let by_order = what.is_empty() || what.starts_with("order ");
                let head = if by_order {
                    order.to_string()
                } else {
                    clean(what, 40)
                };
                app.screens.labels.printing = if *ok && !by_order {
                    clean(detail, 60)
                } else if *ok {
                    format!("{head}: {}", clean(detail, 60))
                } else {
                    format!("{head}: PRINT FAILED: {}", clean(detail, 60))
                };
                if !ok {
                    app.bell = true;
                }
            }
            _ => {}
        }
    }

    fn draw(app: &App, f: &mut Frame, area: Rect, _now: DateTime<Utc>) {
        app.screens.labels.render(f, area, app.theme)
    }
}

/// The order selected on the labels screen.
fn label_order(app: &mut App) -> Option<String> {
    let id = app.screens.labels.current().map(|r| r.order.id.to_string());
    if id.is_none() {
        app.info("no order selected: packed orders wait here for labels");
    }
    id
}

fn selected(app: &App, order: &str) -> bool {
    app.screens
        .labels
        .current()
        .is_some_and(|r| r.order.id.as_str() == order)
}

/// Buys the chosen offer's label. The screen goes on while Amazon answers; the result is
/// shown whichever screen the user is on by then, and the label goes to the printer.
fn buy(app: &mut App) {
    let Some(order) = label_order(app) else {
        return;
    };
    if app.screens.labels.buying.contains(&order) {
        app.info(format!("the label for {order} is being bought"));
        return;
    }
    let Some(offer) = app
        .screens
        .labels
        .offers
        .get(app.screens.labels.offer)
        .cloned()
    else {
        app.info("ask for the offers first, then buy");
        return;
    };
    let op = ops::BuyLabel {
        order: order.clone(),
        service: Some(offer.service_id.clone()),
    };
    app.screens.labels.buying.insert(order.clone());
    let doing = format!("buying label for {order}");
    app.send_then(doing, op, move |app, r| {
        app.screens.labels.buying.remove(&order);
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
        if selected(app, &order) {
            app.screens.labels.offers.clear();
        }
        app.refresh();
        // The label goes to the printer straight away.
        print_label(app, order);
    });
}

/// Buys labels for every packed order at once (a wave). The screen shows its progress
/// from the service's notices; the labels print in pack order to this terminal's printer.
fn buy_all(app: &mut App) {
    if app.screens.labels.wave.is_some() {
        app.info("a wave of labels is being bought");
        return;
    }
    let op = ops::BuyWave {
        carrier: None,
        service: None,
        printer: app.label_printer.clone(),
        no_print: false,
    };
    app.screens.labels.wave = Some((0, 0));
    app.send_then("buying labels for every packed order", op, move |app, r| {
        app.screens.labels.wave = None;
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
            app.screens.labels.printing = format!("PRINT FAILED: {}", clean(&e, 60));
        }
        app.screens.labels.offers.clear();
        app.refresh();
    });
}

fn print_label(app: &mut App, order: String) {
    let op = ops::PrintLabel {
        order: order.clone(),
        printer: app.label_printer.clone(),
        package: None,
    };
    app.send(
        format!("printing the label of {order}"),
        op,
        move |app, jobs| {
            app.screens.labels.printing = match jobs.len() {
                1 => format!("label of {order} sent to the printer"),
                n => format!("{n} labels of {order} sent to the printer"),
            };
        },
    );
}
