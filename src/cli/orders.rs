//! `packline orders list` and `packline lookup`: orders without personal data, a name lookup
//! through the blind index, and a lead's audited reveal.

use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde::Serialize;

use packline::domain::text::escape_hazards;
use packline::domain::{
    Hold, OrderId, OrderRecord, OrderState, ServiceLevel, ShipmentState, TrackingNumber, Window,
};
use packline::service::MAX_PAGE;
use packline::service::OrderRow;
use packline::service::ops::{
    HoldOrder, Holds, ListOrders, LookupName, MoveOrder, PackageView, Packages, ReleaseHold,
    Reveal, ShowOrder, Sites,
};

use super::args::{LookupArgs, OrdersCommand};
use super::{Ctx, Key, emit, text_arg};

pub fn orders(ctx: &Ctx, command: OrdersCommand) -> Result<ExitCode> {
    match command {
        OrdersCommand::List {
            state,
            out,
            json_lines,
            all_sites,
        } => list(ctx, state, out, json_lines, all_sites),
        OrdersCommand::Hold { order, reason, out } => {
            let reason = text_arg(reason, "--reason")?.to_string();
            let s = ctx.session(Key::No)?;
            let held = s.call(HoldOrder { order, reason })?;
            s.finish()?;
            emit(out, &held, |w, h| {
                writeln!(
                    w,
                    "order {} is on hold: {}",
                    h.order,
                    escape_hazards(&h.hold.reason.shown())
                )
            })
        }
        OrdersCommand::Release { order, out } => {
            let s = ctx.session(Key::IfToHand)?;
            let held = s.call(ReleaseHold { order })?;
            s.finish()?;
            emit(out, &held, |w, h| {
                writeln!(
                    w,
                    "order {} is released (it was on hold: {})",
                    h.order,
                    escape_hazards(&h.hold.reason.shown())
                )
            })
        }
        OrdersCommand::Move { order, site, out } => {
            let s = ctx.session(Key::Needed)?;
            let moved = s.call(MoveOrder { order, site })?;
            s.finish()?;
            emit(out, &moved, |w, m| {
                writeln!(
                    w,
                    "order {} moved from site {} to site {}",
                    m.order, m.from, m.to
                )
            })
        }
        OrdersCommand::Holds { out } => {
            let s = ctx.session(Key::IfToHand)?;
            let holds = s.call(Holds {})?;
            s.finish()?;
            emit(out, &holds, |w, holds| {
                if holds.is_empty() {
                    return writeln!(w, "no order is on hold");
                }
                writeln!(w, "{:<22} {:<17} {:<12} REASON", "ORDER", "SINCE", "BY")?;
                for h in holds {
                    writeln!(
                        w,
                        "{:<22} {:<17} {:<12} {}",
                        h.order,
                        h.hold.since.format("%Y-%m-%d %H:%M"),
                        escape_hazards(&h.hold.by),
                        escape_hazards(&h.hold.reason.shown())
                    )?;
                }
                Ok(())
            })
        }
    }
}

fn list(
    ctx: &Ctx,
    state: Option<String>,
    out: super::args::Output,
    json_lines: bool,
    all_sites: bool,
) -> Result<ExitCode> {
    let state = state
        .as_deref()
        .map(|s| {
            OrderState::parse(s).with_context(|| {
                format!(
                    "--state {s:?} is not a state; use one of: {}",
                    OrderState::ALL.map(|s| s.name()).join(", ")
                )
            })
        })
        .transpose()?;
    let s = ctx.session(Key::No)?;
    // Every site of the database, each in its turn (leads), or this one.
    let sites: Vec<Option<String>> = match all_sites {
        true => s.call(Sites {})?.into_iter().map(Some).collect(),
        false => vec![None],
    };
    let mut stdout = std::io::stdout().lock();
    use std::io::{IsTerminal as _, Write as _};
    let tty = stdout.is_terminal();
    let mut first = true;
    if json_lines {
        // Nothing before the first order.
    } else if out.json {
        write!(stdout, "[")?;
    } else {
        if all_sites {
            write!(stdout, "{:<12} ", "SITE")?;
        }
        writeln!(
            stdout,
            "{:<22} {:<14} {:<17} {:>5}  {:<10} RECIPIENT",
            "ORDER", "STATE", "SHIP BY", "UNITS", "SERVICE"
        )?;
    }
    for site in &sites {
        // Page by page, printed as they come: any size of store lists in constant memory.
        let mut after = None;
        loop {
            let page = s.call(ListOrders {
                state,
                after,
                limit: MAX_PAGE,
                site: site.clone(),
            })?;
            for r in &page.rows {
                if json_lines {
                    serde_json::to_writer(&mut stdout, &OrderLine::value(r, site.as_deref())?)?;
                    writeln!(stdout)?;
                } else if out.json {
                    // One row a line on a terminal; one line in all into a pipe (docs/json.md).
                    match (tty, first) {
                        (true, true) => write!(stdout, "\n  ")?,
                        (true, false) => write!(stdout, ",\n  ")?,
                        (false, true) => {}
                        (false, false) => write!(stdout, ",")?,
                    }
                    serde_json::to_writer(&mut stdout, &OrderLine::value(r, site.as_deref())?)?;
                } else {
                    if let Some(site) = site {
                        write!(stdout, "{site:<12} ")?;
                    }
                    writeln!(
                        stdout,
                        "{:<22} {:<14} {:<17} {:>5}  {:<10} {}",
                        r.order.id,
                        state_cell(r),
                        r.order.ship_by_key().format("%Y-%m-%d %H:%M"),
                        r.order.units(),
                        service_name(r),
                        escape_hazards(r.recipient_mask.as_deref().unwrap_or("-")),
                    )?;
                }
                first = false;
            }
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
    }
    if out.json && !json_lines {
        writeln!(stdout, "{}]", if first || !tty { "" } else { "\n" })?;
    }
    drop(stdout);
    s.finish()?;
    Ok(ExitCode::SUCCESS)
}

/// The state, marked when the order is held.
fn state_cell(r: &OrderRow) -> String {
    match r.hold {
        Some(_) => format!("HELD/{}", r.state),
        None => r.state.to_string(),
    }
}

fn service_name(r: &OrderRecord) -> String {
    let s = serde_json::to_value(r.order.service_level)
        .ok()
        .and_then(|v| v.as_str().map(str::to_lowercase))
        .unwrap_or_default();
    if r.order.prime { format!("{s}*") } else { s }
}

/// An order as `orders list --json` shows it to scripts: no personal data, the recipient
/// masked.
#[derive(Serialize, schemars::JsonSchema)]
pub struct OrderLine<'a> {
    order_id: &'a OrderId,
    state: OrderState,
    /// Present (null) when the order is not held.
    hold: &'a Option<Hold>,
    state_since: DateTime<Utc>,
    ship_by: &'a Window,
    deliver_by: &'a Window,
    service_level: ServiceLevel,
    prime: bool,
    business: bool,
    /// The recipient's masked name (`J*** D***`), when one is kept.
    recipient: &'a Option<String>,
    shipped_elsewhere: bool,
    lines: Vec<OrderItem<'a>>,
    /// The site that ships it (`orders list --all-sites` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    site: Option<&'a str>,
}

/// One line of an order.
#[derive(Serialize, schemars::JsonSchema)]
pub struct OrderItem<'a> {
    order_item_id: &'a str,
    seller_sku: &'a str,
    asin: &'a str,
    title: &'a str,
    quantity_ordered: u32,
    quantity_shipped: u32,
}

impl<'a> OrderLine<'a> {
    fn of(r: &'a OrderRow, site: Option<&'a str>) -> Self {
        OrderLine {
            site,
            order_id: &r.order.id,
            state: r.state,
            hold: &r.hold,
            state_since: r.state_since,
            ship_by: &r.order.ship_by,
            deliver_by: &r.order.deliver_by,
            service_level: r.order.service_level,
            prime: r.order.prime,
            business: r.order.business,
            recipient: &r.recipient_mask,
            shipped_elsewhere: r.shipped_elsewhere,
            lines: r
                .order
                .lines
                .iter()
                .map(|l| OrderItem {
                    order_item_id: &l.item_id,
                    seller_sku: &l.sku,
                    asin: &l.asin,
                    title: &l.title,
                    quantity_ordered: l.quantity_ordered,
                    quantity_shipped: l.quantity_shipped,
                })
                .collect(),
        }
    }

    /// The order as one JSON value (its keys in the order every answer has: sorted).
    fn value(r: &OrderRow, site: Option<&str>) -> Result<serde_json::Value> {
        Ok(serde_json::to_value(OrderLine::of(r, site))?)
    }
}

/// An order as `lookup --order --json` shows it: as `orders list` does, with its packages.
#[derive(Serialize, schemars::JsonSchema)]
pub struct OrderDetail<'a> {
    #[serde(flatten)]
    order: OrderLine<'a>,
    packages: Vec<PackageLine<'a>>,
}

/// A package for scripts: box, weight, units and tracking (the unit codes are counted, not
/// listed).
#[derive(Serialize, schemars::JsonSchema)]
pub struct PackageLine<'a> {
    package: u32,
    #[serde(rename = "box")]
    box_name: &'a str,
    dims_mm: [u32; 3],
    weight_g: u32,
    shipped: bool,
    items: Vec<PackageItemLine<'a>>,
    shipment: Option<ShipmentLine<'a>>,
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct PackageItemLine<'a> {
    order_item_id: &'a str,
    seller_sku: &'a str,
    quantity: u32,
    /// How many serial numbers and Transparency codes were scanned.
    codes: usize,
}

/// A package's label or tracking.
#[derive(Serialize, schemars::JsonSchema)]
pub struct ShipmentLine<'a> {
    state: ShipmentState,
    /// As Amazon spells it (`UPS`, `FedEx`).
    carrier: Option<String>,
    tracking: &'a Option<TrackingNumber>,
    shipment_id: &'a Option<String>,
}

impl<'a> PackageLine<'a> {
    fn of(p: &'a PackageView) -> Self {
        PackageLine {
            package: p.package.number,
            box_name: &p.package.parcel.box_name,
            dims_mm: p.package.parcel.dims_mm,
            weight_g: p.package.parcel.weight_g,
            shipped: p.package.shipped,
            items: p
                .package
                .items
                .iter()
                .map(|i| PackageItemLine {
                    order_item_id: &i.item_id,
                    seller_sku: &i.sku,
                    quantity: i.quantity,
                    codes: i.codes.len(),
                })
                .collect(),
            shipment: p.shipment.as_ref().map(|s| ShipmentLine {
                state: s.state,
                carrier: s.carrier.as_ref().map(|c| c.to_string()),
                tracking: &s.tracking,
                shipment_id: &s.shipment_id,
            }),
        }
    }
}

pub fn lookup(ctx: &Ctx, args: LookupArgs) -> Result<ExitCode> {
    let out = args.out;
    if let Some(name) = args.name {
        let s = ctx.session(Key::Needed)?;
        let orders = s.call(LookupName { text: name })?;
        s.finish()?;
        return emit(out, &orders, |w, orders| {
            orders.iter().try_for_each(|id| writeln!(w, "{id}"))
        });
    }
    let raw = args.order.as_deref().unwrap_or_default();
    let id = OrderId::parse(raw).map_err(|e| anyhow::anyhow!("--order: {e}"))?;
    if args.reveal {
        let s = ctx.session(Key::Needed)?;
        let r = s.call(Reveal {
            order: id.to_string(),
            reason: args.reason.unwrap_or_default(),
        })?;
        s.finish()?;
        return emit(out, &r, |w, r| {
            r.lines.0.iter().try_for_each(|l| writeln!(w, "{l}"))
        });
    }
    let s = ctx.session(Key::No)?;
    let r = s.call(ShowOrder {
        order: id.to_string(),
    })?;
    let packages = s.call(Packages {
        order: id.to_string(),
    })?;
    s.finish()?;
    if out.json {
        let detail = OrderDetail {
            order: OrderLine::of(&r, None),
            packages: packages.iter().map(PackageLine::of).collect(),
        };
        return emit(out, &detail, |_, _| Ok(()));
    }
    emit(out, &r, |w, r| {
        writeln!(w, "order: {}", r.order.id)?;
        writeln!(w, "state: {} since {}", r.state, r.state_since.to_rfc3339())?;
        if r.shipped_elsewhere {
            writeln!(
                w,
                "recorded from Amazon: never imported, {} elsewhere (no recipient kept)",
                r.state
            )?;
        }
        if let Some(h) = &r.hold {
            writeln!(
                w,
                "ON HOLD since {} by {}: {}",
                h.since.to_rfc3339(),
                escape_hazards(&h.by),
                escape_hazards(&h.reason.shown())
            )?;
        }
        writeln!(w, "ship by: {}", r.order.ship_by_key().to_rfc3339())?;
        writeln!(w, "service: {}", service_name(r))?;
        writeln!(
            w,
            "recipient: {}",
            escape_hazards(
                r.recipient_mask
                    .as_deref()
                    .unwrap_or(if r.shipped_elsewhere {
                        "(none: never kept)"
                    } else if r.recipient_purged {
                        "(destroyed by retention)"
                    } else {
                        "-"
                    })
            )
        )?;
        for l in &r.order.lines {
            writeln!(
                w,
                "  {} x {}  {}  {}",
                l.quantity_ordered,
                escape_hazards(&l.sku),
                escape_hazards(&l.asin),
                escape_hazards(&l.title)
            )?;
        }
        for p in &packages {
            writeln!(
                w,
                "package {}: {} {} g, {} unit(s){}, {}",
                p.package.number,
                escape_hazards(&p.package.parcel.box_name),
                p.package.parcel.weight_g,
                p.package.units(),
                if p.package.shipped { ", shipped" } else { "" },
                p.shipment
                    .as_ref()
                    .map_or("no label".to_owned(), |s| format!(
                        "{} {}",
                        s.state.name(),
                        s.tracking.as_ref().map_or("-".into(), |t| t.to_string())
                    ))
            )?;
        }
        Ok(())
    })
}
