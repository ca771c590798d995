//! The lead's dashboard: what is due (late, before the next pickup, later), today's throughput
//! and who did it, the batches in progress (to release or reassign), holds and exceptions, and
//! the site's health. Drawn from the service's [`DashboardView`] alone; the app asks for it again
//! when a notice says the floor moved.
//!
//! Shapes carry the meaning, colour only adds to it: late bars are drawn with `X`, bars due
//! before the pickup with `▓`, later ones with `█`, and warnings are written out in capitals.

use chrono::{DateTime, Duration, Local, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Row, Table};

use super::{Component, Screen, Theme, clean};
use crate::domain::Held;
use crate::service::ops::DashboardView;
use crate::service::ops::dashboard::BatchProgress;
use crate::service::{Role, ServiceError, ops};
use crate::tui::action::Action;
use crate::tui::app::App;

/// Glyphs of the due chart's three kinds of bar.
pub const LATE: char = 'X';
pub const BY_PICKUP: char = '▓';
pub const LATER: char = '█';

#[derive(Clone, Debug, Default)]
pub struct DashboardScreen {
    pub view: Option<DashboardView>,
    /// Index into the batches in progress.
    pub selected: usize,
    /// The held orders, while the lead has the list open (instead of the batches).
    pub holds: Option<Vec<Held>>,
}

/// The keys the screen names in its hints.
#[derive(Clone, Debug, Default)]
pub struct Keys {
    pub holds: String,
    pub exceptions: String,
    pub release: String,
    pub reassign: String,
}

impl DashboardScreen {
    pub fn set_view(&mut self, view: DashboardView) {
        let was = self.current().map(|b| b.batch);
        self.view = Some(view);
        if let Some(i) = was.and_then(|id| self.batches().iter().position(|b| b.batch == id)) {
            self.selected = i;
        }
        self.selected = self.selected.min(self.batches().len().saturating_sub(1));
    }

    fn batches(&self) -> &[BatchProgress] {
        self.view.as_ref().map_or(&[], |v| &v.wip)
    }

    /// The batch selected, if any.
    pub fn current(&self) -> Option<&BatchProgress> {
        self.batches().get(self.selected)
    }

    pub fn move_by(&mut self, delta: i64) {
        let n = self.batches().len() as i64;
        if n > 0 {
            self.selected = (self.selected as i64 + delta).clamp(0, n - 1) as usize;
        }
    }

    /// Selects a batch by its number; false when it is not in progress.
    pub fn select(&mut self, code: &str) -> bool {
        let found = code
            .trim()
            .parse::<u64>()
            .ok()
            .and_then(|id| self.batches().iter().position(|b| b.batch == id));
        if let Some(i) = found {
            self.selected = i;
        }
        found.is_some()
    }

    pub fn render(&self, f: &mut Frame, area: Rect, theme: Theme, keys: &Keys) {
        let Some(v) = &self.view else {
            f.render_widget(Paragraph::new("loading the dashboard…"), area);
            return;
        };
        let compact = area.width < 80 || area.height < 18;
        let chart_h: u16 = if compact { 3 } else { 6 };
        let people = if compact {
            0
        } else {
            (v.throughput.people.len() as u16).min(4) + 1
        };
        // The seller's metrics: four lines of two; on a handheld, one line counting those that
        // miss their threshold, when any does.
        let missed = v.metrics.as_ref().map_or(0, |m| m.missed().count());
        let metrics_h = match (&v.metrics, compact) {
            (None, _) => 0,
            (Some(_), false) => 4,
            (Some(_), true) => u16::from(missed > 0),
        };
        let [due_line, chart, axis, work, metrics, lists, health] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Length(chart_h),
            Constraint::Length(1),
            Constraint::Length(if compact { 1 } else { 2 }),
            Constraint::Length(metrics_h),
            Constraint::Min(2),
            Constraint::Length(if compact { 2 } else { 3 }),
        ])
        .areas(area);
        self.render_due(f, v, due_line, chart, axis, theme, compact);
        if compact {
            f.render_widget(
                Paragraph::new(format!(
                    "today: {} picked, {} packed",
                    v.throughput.picked_today, v.throughput.packed_today
                )),
                work,
            );
        } else {
            let [picked, packed] = Layout::vertical([Constraint::Length(1); 2]).areas(work);
            let spark = |name: &str, hours: &[u64], today: u64| {
                Line::from(vec![
                    Span::raw(format!("{name:<7}")),
                    Span::raw(sparkline(hours)),
                    Span::raw(format!(" last 12 h, {today} units today")),
                ])
            };
            f.render_widget(
                Paragraph::new(spark(
                    "picked",
                    &v.throughput.picked,
                    v.throughput.picked_today,
                )),
                picked,
            );
            f.render_widget(
                Paragraph::new(spark(
                    "packed",
                    &v.throughput.packed,
                    v.throughput.packed_today,
                )),
                packed,
            );
        }
        if compact && metrics_h > 0 {
            f.render_widget(
                Paragraph::new(Span::styled(
                    format!("{missed} SELLER METRICS MISS (metrics)"),
                    theme.late(),
                )),
                metrics,
            );
        } else if metrics_h > 0 {
            render_metrics(f, v, metrics, theme);
        }
        if compact {
            self.render_lists(f, v, lists, theme, keys, true);
        } else {
            let [left, right] =
                Layout::horizontal([Constraint::Length(40), Constraint::Min(30)]).areas(lists);
            let [ppl, _] =
                Layout::vertical([Constraint::Length(people), Constraint::Min(0)]).areas(left);
            render_people(f, v, ppl);
            self.render_lists(f, v, right, theme, keys, false);
        }
        render_health(f, v, health, theme, keys, compact);
    }

    #[allow(clippy::too_many_arguments)]
    fn render_due(
        &self,
        f: &mut Frame,
        v: &DashboardView,
        line: Rect,
        chart: Rect,
        axis: Rect,
        theme: Theme,
        compact: bool,
    ) {
        let d = &v.due;
        let in_24h: u64 = d.hours.iter().sum();
        let until = until(d.pickup - v.at);
        let text = if compact {
            format!(
                "DUE {} LATE · {} by pickup ({until}) · {in_24h} 24h",
                d.late, d.before_pickup
            )
        } else {
            format!(
                "DUE  {} LATE · {} before the pickup (in {until}) · {in_24h} in the next 24 h",
                d.late, d.before_pickup
            )
        };
        let style = if d.late > 0 {
            theme.late()
        } else {
            Style::default()
        };
        f.render_widget(Paragraph::new(Line::styled(text, style)), line);
        // Bars: the late ones, a gap, then one per hour from now; each one cell wide (two with
        // room), in whole cells so every non-zero bar shows.
        let pickup_hour = d.pickup_hour(v.at);
        // A gap after each bar when there is room: two cells an hour, else one.
        let gap = if compact { "" } else { " " };
        let max = d
            .hours
            .iter()
            .copied()
            .chain([d.late, 1])
            .max()
            .unwrap_or(1);
        let h = u64::from(chart.height);
        let cells = |n: u64| -> u64 { if n == 0 { 0 } else { (n * h).div_ceil(max) } };
        let color = |c: Color| {
            if theme.color {
                Style::default().fg(c)
            } else {
                Style::default()
            }
        };
        let mut lines = Vec::new();
        for row in 0..h {
            let level = h - row;
            let mut spans = vec![Span::raw(if row == 0 {
                format!("{max:>3} ")
            } else {
                "    ".to_owned()
            })];
            let bar = |n: u64, glyph: char, style: Style| {
                let c = if cells(n) >= level { glyph } else { ' ' };
                Span::styled(format!("{c}{gap}"), style)
            };
            spans.push(bar(d.late, LATE, color(Color::Red)));
            spans.push(Span::raw(" "));
            for (i, n) in d.hours.iter().enumerate() {
                let (glyph, style) = if i < pickup_hour {
                    (BY_PICKUP, color(Color::Yellow))
                } else {
                    (LATER, color(Color::Green))
                };
                spans.push(bar(*n, glyph, style));
            }
            if !compact {
                spans.push(Span::raw(match row {
                    0 => format!(" {LATE} late"),
                    1 => format!(" {BY_PICKUP} before pickup"),
                    2 => format!(" {LATER} later"),
                    3 => " ^P the pickup".to_owned(),
                    _ => String::new(),
                }));
            }
            lines.push(Line::from(spans));
        }
        f.render_widget(Paragraph::new(lines), chart);
        // The axis: hours from now, every third (sixth when narrow), and the pickup's hour.
        let step = if compact { 6 } else { 3 };
        let per = gap.len() + 1;
        let col = |i: usize| 4 + per + 1 + i * per;
        let mut axis_text: Vec<char> = " ".repeat(usize::from(axis.width)).chars().collect();
        let mut put = |at: usize, s: &str| {
            for (j, c) in s.chars().enumerate() {
                if let Some(slot) = axis_text.get_mut(at + j) {
                    *slot = c;
                }
            }
        };
        put(4, "L");
        for i in (0..d.hours.len()).step_by(step) {
            put(col(i), &format!("+{i}"));
        }
        if pickup_hour < d.hours.len() {
            put(col(pickup_hour), "^P");
        }
        let axis_text: String = axis_text.into_iter().collect();
        f.render_widget(Paragraph::new(axis_text.trim_end().to_owned()), axis);
    }

    fn render_lists(
        &self,
        f: &mut Frame,
        v: &DashboardView,
        area: Rect,
        theme: Theme,
        keys: &Keys,
        compact: bool,
    ) {
        if let Some(holds) = &self.holds {
            let mut rows = vec![Row::new(vec![format!("HOLDS ({})", holds.len())])];
            rows.extend(holds.iter().map(|h| {
                Row::new(vec![
                    clean(h.order.as_str(), 19),
                    clean(&h.hold.reason.shown(), 40),
                ])
            }));
            f.render_widget(
                Table::new(rows, [Constraint::Length(20), Constraint::Min(5)]),
                area,
            );
            return;
        }
        let header = if compact {
            format!("BATCHES ({})", v.wip.len())
        } else {
            format!(
                "BATCHES ({})  {} release, {} reassign",
                v.wip.len(),
                keys.release,
                keys.reassign
            )
        };
        let mut rows = vec![Row::new(vec![header])];
        rows.extend(v.wip.iter().enumerate().map(|(i, b)| {
            let age = b.since.map_or("?".to_owned(), |t| age(v.at - t));
            let holder = clean(&b.holder, if compact { 10 } else { 12 });
            let progress = if compact {
                format!("{}/{}", b.picked, b.needed)
            } else {
                format!("{}/{} {}", b.picked, b.needed, gauge(b.picked, b.needed, 8))
            };
            Row::new(vec![format!("{} {holder} {age} {progress}", b.batch)])
                .style(theme.row(i == self.selected))
        }));
        f.render_widget(Table::new(rows, [Constraint::Min(5)]), area);
    }
}

/// The seller's metrics, two to a line: each rate over its window beside Amazon's threshold,
/// and `OVER` / `UNDER` in capitals when it misses (`*`: counted only since packline began
/// counting it; `packline metrics` says from which day).
fn render_metrics(f: &mut Frame, v: &DashboardView, area: Rect, theme: Theme) {
    let Some(m) = &v.metrics else {
        return;
    };
    let cell = |r: &crate::domain::metrics::Rate| {
        let value = r.percent.map_or("none".to_owned(), |p| format!("{p:.1}%"));
        let star = if r.since_counting { "*" } else { " " };
        let text = Span::raw(format!(
            "{:<13}{:>2}d{star}{value:>7} {:<7} ",
            r.metric.short(),
            r.days,
            r.threshold.to_string()
        ));
        let mark = match r.meets {
            Some(true) => Span::raw(format!("{:<6}", "ok")),
            Some(false) if r.threshold.below => {
                Span::styled(format!("{:<6}", "OVER"), theme.late())
            }
            Some(false) => Span::styled(format!("{:<6}", "UNDER"), theme.late()),
            None => Span::raw(" ".repeat(6)),
        };
        [text, mark]
    };
    let lines: Vec<Line> = m
        .rates
        .chunks(2)
        .map(|pair| Line::from(pair.iter().flat_map(cell).collect::<Vec<_>>()))
        .collect();
    f.render_widget(Paragraph::new(lines), area);
}

fn render_people(f: &mut Frame, v: &DashboardView, area: Rect) {
    let mut rows = vec![Row::new(vec![
        "TODAY".to_owned(),
        "batch".into(),
        "pick".into(),
        "pack".into(),
        "refus".into(),
        "exc".into(),
    ])];
    rows.extend(v.throughput.people.iter().map(|p| {
        Row::new(vec![
            clean(&p.user, 12),
            p.batches.to_string(),
            p.picked.to_string(),
            p.packed.to_string(),
            p.scans_refused.to_string(),
            p.exceptions.to_string(),
        ])
    }));
    f.render_widget(
        Table::new(
            rows,
            [
                Constraint::Length(12),
                Constraint::Length(5),
                Constraint::Length(5),
                Constraint::Length(5),
                Constraint::Length(5),
                Constraint::Length(4),
            ],
        ),
        area,
    );
}

fn render_health(
    f: &mut Frame,
    v: &DashboardView,
    area: Rect,
    theme: Theme,
    keys: &Keys,
    compact: bool,
) {
    let h = &v.health;
    let warn = |s: String| Span::styled(s, theme.late());
    let plain = |s: String| Span::raw(s);
    let sync = match (h.sync_enabled, h.last_sync) {
        (false, _) => plain("sync off".into()),
        (true, _) if h.sync_failed => warn("SYNC FAILED".into()),
        (true, _) if h.sync_running => plain("sync running".into()),
        (true, Some(t)) => plain(format!("sync {}", local_hm(t))),
        (true, None) => plain("sync not yet".into()),
    };
    let lock = if h.unlocked {
        plain("unlocked".into())
    } else {
        warn("LOCKED".into())
    };
    let prints = match h.failed_prints {
        0 => plain("prints ok".into()),
        n => warn(format!("{n} PRINT FAILED")),
    };
    let review = match (h.review_overdue, h.last_review) {
        (false, Some(t)) => plain(format!("review {}", t.format("%Y-%m-%d"))),
        (true, Some(t)) => warn(format!("REVIEW DUE ({} d)", (v.at - t).num_days().max(0))),
        (true, None) => warn("ACCESS REVIEW DUE".into()),
        (false, None) => plain(String::new()),
    };
    let sep = || Span::raw(" · ");
    let next = h.next_sync.map(|t| {
        let m = (t - v.at).num_minutes();
        if m <= 0 {
            "next sync due now".to_owned()
        } else {
            format!("next in {}", age(t - v.at))
        }
    });
    // The quota left: a warning when no request is left, whatever the size.
    let quota = h.quota.map(|q| {
        let text = format!(
            "searchOrders quota {}/{}{}",
            q.whole(),
            q.burst as u64,
            q.refill_secs()
                .map_or(String::new(), |s| format!(", +1 every {}", minutes_secs(s)))
        );
        if q.whole() == 0 {
            warn(text.to_uppercase())
        } else {
            plain(text)
        }
    });
    if compact {
        // A handheld keeps the essentials: the sync's state and an empty quota, the lock and
        // failed prints; not the purge preview or the next sync time.
        let mut first = vec![sync];
        if h.quota.is_some_and(|q| q.whole() == 0) {
            first.push(sep());
            first.push(warn("NO QUOTA".into()));
        }
        first.extend([sep(), lock, sep(), prints]);
        let second = vec![
            plain(format!("hold {} exc {}", v.holds, v.exceptions)),
            sep(),
            review,
        ];
        f.render_widget(
            Paragraph::new(vec![Line::from(first), Line::from(second)]),
            area,
        );
        return;
    }
    let mut first = vec![sync];
    if let Some(n) = next {
        first.extend([sep(), plain(n)]);
    } else if h.sync_enabled {
        first.extend([sep(), plain("no schedule".into())]);
    }
    if let Some(q) = quota {
        first.extend([sep(), q]);
    }
    // A failed print says why in the purge preview's place: it wants a person now.
    let floor = match &h.last_print_failure {
        Some(why) if h.failed_prints > 0 => vec![
            lock,
            sep(),
            prints,
            warn(format!(
                ": {}",
                super::clean(why.strip_prefix("order ").unwrap_or(why), 120)
            )),
        ],
        _ => vec![
            lock,
            sep(),
            prints,
            sep(),
            plain(match h.purge {
                None => "purge: counting".into(),
                Some(p) => format!(
                    "purge due: {} recipients, {} orders",
                    p.recipients_destroyed, p.orders_deleted
                ),
            }),
        ],
    };
    let lists = vec![
        plain(format!("holds {} [{}]", v.holds, keys.holds)),
        sep(),
        plain(format!("exceptions {} [{}]", v.exceptions, keys.exceptions)),
        sep(),
        review,
        sep(),
        plain(format!(
            "returns {} ({} restocked)",
            v.returns.received, v.returns.restocked
        )),
    ];
    let mut lists = lists;
    if h.set_aside > 0 {
        lists.push(sep());
        lists.push(warn(format!("{} SET ASIDE (sync problems)", h.set_aside)));
    }
    let d = &v.deliveries;
    if d.delivered + d.on_the_way > 0 {
        lists.push(sep());
        lists.push(plain(format!(
            "delivered {} ({} late), {} on the way",
            d.delivered, d.late, d.on_the_way
        )));
    }
    f.render_widget(
        Paragraph::new(vec![
            Line::from(first),
            Line::from(floor),
            Line::from(lists),
        ]),
        area,
    );
}

/// Seconds as `3m18s` (`45s` under a minute).
fn minutes_secs(s: u64) -> String {
    if s < 60 {
        format!("{s}s")
    } else {
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

/// A line of eighth-blocks, one per value, scaled to the largest (a space for none).
pub fn sparkline(values: &[u64]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = values.iter().copied().max().unwrap_or(0).max(1);
    values
        .iter()
        .map(|&n| {
            if n == 0 {
                '·'
            } else {
                BARS[((n * 8).div_ceil(max) as usize).clamp(1, 8) - 1]
            }
        })
        .collect()
}

/// `picked` of `needed` as a bar of `width` cells: `#` done, `-` to go.
fn gauge(picked: u32, needed: u32, width: u32) -> String {
    let done = (picked.min(needed) * width)
        .checked_div(needed)
        .unwrap_or(width);
    let mut s = "#".repeat(done as usize);
    s.push_str(&"-".repeat((width - done) as usize));
    s
}

fn age(d: Duration) -> String {
    let m = d.num_minutes().max(0);
    if m < 60 {
        format!("{m}m")
    } else {
        format!("{}h{:02}", m / 60, m % 60)
    }
}

/// Time to the pickup, in whole hours (minutes under an hour).
fn until(d: Duration) -> String {
    let m = d.num_minutes().max(0);
    if m < 60 {
        format!("{m}m")
    } else {
        format!("{}h", m / 60)
    }
}

fn local_hm(t: DateTime<Utc>) -> String {
    t.with_timezone(&Local).format("%H:%M").to_string()
}

impl Component for DashboardScreen {
    const GATE: Option<(Role, &'static str)> = Some((Role::Lead, "the dashboard is for leads"));

    fn refresh(app: &mut App) {
        app.fetch(
            "dashboard",
            "loading the dashboard",
            ops::Dashboard {},
            |app, v| app.screens.dashboard.set_view(v),
        );
        if app.screens.dashboard.holds.is_some() {
            app.fetch("holds", "loading holds", ops::Holds {}, |app, h| {
                if app.screens.dashboard.holds.is_some() {
                    app.screens.dashboard.holds = Some(h);
                }
            });
        }
    }

    fn act(app: &mut App, action: &Action) -> bool {
        let here = app.screen == Screen::Dashboard;
        match action {
            Action::Holds => {
                if here {
                    app.screens.dashboard.holds = match app.screens.dashboard.holds {
                        Some(_) => None,
                        None => Some(Vec::new()),
                    };
                    app.refresh();
                }
            }
            Action::Release if here => release_selected(app),
            Action::Reassign if here => {
                let batch = app.screens.dashboard.current().map(|b| b.batch);
                super::reassign(app, batch);
            }
            _ => return false,
        }
        true
    }

    /// A batch number selects that batch.
    fn scan(app: &mut App, code: String) {
        if !app.screens.dashboard.select(&code) {
            app.fail(&ServiceError::NotFound(format!(
                "no batch {} in progress (type a batch number)",
                clean(&code, 40)
            )));
        }
    }

    fn moved(app: &mut App, delta: i64) {
        app.screens.dashboard.move_by(delta);
    }

    fn draw(app: &App, f: &mut Frame, area: Rect, _now: DateTime<Utc>) {
        let key = |a: Action| app.key_for(Screen::Dashboard, &a);
        let keys = Keys {
            holds: key(Action::Holds),
            exceptions: key(Action::Exceptions),
            release: key(Action::Release),
            reassign: key(Action::Reassign),
        };
        app.screens.dashboard.render(f, area, app.theme, &keys)
    }
}

/// Gives the batch selected on the dashboard back to the queue (a lead's call).
fn release_selected(app: &mut App) {
    let Some(batch) = app.screens.dashboard.current().map(|b| b.batch) else {
        app.info("select a batch in progress to give it back");
        return;
    };
    let reason = app.note("released by a lead at the dashboard");
    let op = ops::ReleaseBatch { batch, reason };
    app.send(format!("releasing batch {batch}"), op, move |app, ()| {
        app.info(format!(
            "batch {batch} released: its orders are back in the queue"
        ));
        app.refresh();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sparkline_shows_every_nonzero_hour() {
        assert_eq!(sparkline(&[0, 1, 4, 8]), "·▁▄█");
        assert_eq!(sparkline(&[0, 0]), "··");
        assert_eq!(sparkline(&[1, 1000]), "▁█");
    }

    /// The metrics panel: each rate beside its threshold, a miss in capitals, a rate with
    /// nothing to judge as `none`, and `*` on a rate counted only since packline began.
    #[test]
    fn the_metrics_panel_marks_what_misses_its_threshold() {
        use crate::domain::metrics::SellerMetrics;
        use crate::domain::report::{Count, Metric, Of};
        let day = |d| chrono::NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
        let count = |metric, n| Count {
            day: day(28),
            metric,
            of: Of::Day,
            n,
        };
        let counts = [
            count(Metric::OrdersShipped, 40),
            count(Metric::LateShipments, 1),
            count(Metric::OwnCarrierShipments, 2),
        ];
        let view = DashboardView {
            metrics: Some(SellerMetrics::build(day(30), Some(day(20)), &counts)),
            ..DashboardView::default()
        };
        let backend = ratatui::backend::TestBackend::new(80, 4);
        let mut terminal = ratatui::Terminal::new(backend).unwrap();
        terminal
            .draw(|f| render_metrics(f, &view, f.area(), Theme { color: false }))
            .unwrap();
        let lines: Vec<String> = terminal
            .backend()
            .buffer()
            .content()
            .chunks(80)
            .map(|row| row.iter().map(|c| c.symbol()).collect::<String>())
            .collect();
        let text = lines.join("\n");
        assert!(
            lines[0].starts_with(
                "late ship    10d    2.5% < 4 %   ok    late ship    30d    2.5% < 4 %   ok"
            ),
            "{text}"
        );
        assert!(
            lines[1].starts_with("valid track   7d    none ≥ 95 %"),
            "{text}"
        );
        assert!(
            lines[3].contains("SFP on time  30d   97.5% ≥ 99 %  UNDER"),
            "{text}"
        );
        assert!(
            lines[3].contains("SFP buy ship 30d*  95.0% ≥ 98 %  UNDER"),
            "{text}"
        );
        assert!(
            lines[2].contains("cancels       7d    0.0% < 2.5 % ok"),
            "{text}"
        );

        // A handheld has no room for the panel: it counts the rates that miss.
        let screen = DashboardScreen {
            view: Some(view),
            ..DashboardScreen::default()
        };
        let mut handheld =
            ratatui::Terminal::new(ratatui::backend::TestBackend::new(40, 16)).unwrap();
        handheld
            .draw(|f| screen.render(f, f.area(), Theme { color: false }, &Keys::default()))
            .unwrap();
        let shown: String = handheld
            .backend()
            .buffer()
            .content()
            .iter()
            .map(|c| c.symbol())
            .collect();
        assert!(shown.contains("2 SELLER METRICS MISS (metrics)"), "{shown}");
        assert!(!shown.contains("late ship"), "{shown}");
    }

    #[test]
    fn a_gauge_never_overflows() {
        assert_eq!(gauge(1, 2, 8), "####----");
        assert_eq!(gauge(5, 2, 4), "####");
        assert_eq!(gauge(0, 0, 4), "####");
    }
}
