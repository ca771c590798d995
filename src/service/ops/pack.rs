//! Packing: an order opened at a bench, every unit scanned against it (a wrong or extra unit is
//! refused), then boxed with its weight. One bench per order.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Allowed, Operation};
use crate::domain::{Order, OrderId, PackCheck, Parcel};
use crate::service::{
    OrderRow, Role, Service, ServiceError, non_empty, order_id, own_bench, store_err,
};
use crate::store::floor::AtBench;
use crate::store::shipping::Document;

/// Opens a picked order at the caller's bench (or resumes the check already there).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PackStart {
    pub order: String,
}

impl Operation for PackStart {
    type Answer = PackCheck;
    const NAME: &'static str = "pack_start";
    const ACTION: &'static str = "packing";
    const ROLE: Role = Role::Packer;

    fn apply(
        self,
        svc: &Service,
        c: &Allowed,
        _: DateTime<Utc>,
    ) -> Result<PackCheck, ServiceError> {
        // The slip's order id, or (tote carts) the tote the order was picked into.
        let tote = svc
            .settings
            .cart
            .tote_prefix
            .as_ref()
            .filter(|p| {
                self.order.len() > p.len()
                    && self
                        .order
                        .get(..p.len())
                        .is_some_and(|h| h.eq_ignore_ascii_case(p))
            })
            .map(|_| svc.store().order_in_tote(self.order.trim()))
            .transpose()
            .map_err(store_err)?;
        let id = match tote {
            Some(Some(id)) => id,
            Some(None) => {
                return Err(ServiceError::NotFound(format!(
                    "tote {} holds no order",
                    self.order.trim()
                )));
            }
            None => order_id(&self.order)?,
        };
        // The order's stripe spares the store's transaction a retry; the transaction keeps
        // benches apart.
        let _order = svc.lock_order(&id);
        let opened = svc
            .store()
            .open_at_bench(&id, &c.user, &svc.settings.locations)
            .map_err(store_err)?;
        match opened {
            AtBench::NotPicked(state) => Err(ServiceError::Conflict(format!(
                "order {id} is {state}: only picked orders are packed"
            ))),
            AtBench::Open(check) => {
                own_bench(c, &check)?;
                Ok(check)
            }
            AtBench::Opened(check) => Ok(check),
        }
    }
}

/// One scan at the bench: a unit, or the code asked for after one. With `unit_codes`, the
/// unit and then its codes in one request (`pack scan ORDER SKU --code CODE`): all of them
/// count, or none does.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PackScan {
    pub order: String,
    pub code: String,
    #[serde(default)]
    pub unit_codes: Vec<String>,
}

impl Operation for PackScan {
    type Answer = PackCheck;
    const NAME: &'static str = "pack_scan";
    const ACTION: &'static str = "packing";
    const ROLE: Role = Role::Packer;
    const QUICK: bool = true;

    fn apply(
        self,
        svc: &Service,
        c: &Allowed,
        now: DateTime<Utc>,
    ) -> Result<PackCheck, ServiceError> {
        let r = self.scan(svc, c);
        super::dashboard::count_refused(svc, c, now, r)
    }
}

impl PackScan {
    fn scan(self, svc: &Service, c: &Allowed) -> Result<PackCheck, ServiceError> {
        let id = order_id(&self.order)?;
        // The order's stripe spares the store's transaction a retry; the transaction alone
        // keeps two scans of one order apart (two benches, or two processes on one store).
        let _order = svc.lock_order(&id);
        let refused = |r: crate::domain::PackRefusal| ServiceError::WrongScan {
            message: r.to_string(),
        };
        // The unit and its codes are read, counted and kept in one transaction, the codes
        // checked against every unit of the store: two benches scanning one code at once cannot
        // both have it.
        let (check, ()) = svc
            .store()
            .at_bench(
                &id,
                |check| own_bench(c, check),
                |check| {
                    check.scan(&self.code).map_err(refused)?;
                    for code in &self.unit_codes {
                        check.record_code(code).map_err(refused)?;
                    }
                    Ok(())
                },
            )
            .map_err(store_err)?
            .ok_or_else(|| not_at_bench(&id))??;
        Ok(check)
    }
}

/// The site's box presets, for a refusal that needs one: "the presets are \"S\", \"M\"".
fn presets(svc: &Service) -> String {
    if svc.settings.boxes.is_empty() {
        return "the site has no box presets ([floor] boxes)".into();
    }
    format!(
        "the presets are {}",
        svc.settings
            .boxes
            .iter()
            .map(|b| format!("{:?}", b.name))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// A box preset by name and a weight, checked.
fn parcel(svc: &Service, box_name: &str, weight_g: u32) -> Result<Parcel, ServiceError> {
    let bx = svc
        .settings
        .boxes
        .iter()
        .find(|b| b.name == box_name)
        .ok_or_else(|| {
            ServiceError::Invalid(format!(
                "no box preset named {box_name:?}: {}",
                presets(svc)
            ))
        })?;
    if weight_g == 0 || weight_g > 70_000 {
        return Err(ServiceError::Invalid(format!(
            "weight {weight_g} g is outside 1 g – 70 kg"
        )));
    }
    Ok(Parcel {
        box_name: bx.name.clone(),
        dims_mm: bx.dims_mm,
        weight_g,
    })
}

/// The refusal of a change at a bench where the order is not open.
fn not_at_bench(id: &OrderId) -> ServiceError {
    ServiceError::NotFound(format!(
        "order {id} is not at a pack bench: scan the order first"
    ))
}

/// The box being filled is closed (its preset and weight) and the next one opened: an order
/// may leave in several boxes, each with its own label.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PackCloseBox {
    pub order: String,
    pub box_name: String,
    pub weight_g: u32,
}

impl Operation for PackCloseBox {
    type Answer = PackCheck;
    const NAME: &'static str = "pack_close_box";
    const ACTION: &'static str = "packing";
    const ROLE: Role = Role::Packer;

    fn apply(
        self,
        svc: &Service,
        c: &Allowed,
        _: DateTime<Utc>,
    ) -> Result<PackCheck, ServiceError> {
        let id = order_id(&self.order)?;
        let parcel = parcel(svc, &self.box_name, self.weight_g)?;
        let _order = svc.lock_order(&id);
        let (check, _) = svc
            .store()
            .at_bench(
                &id,
                |check| own_bench(c, check),
                |check| {
                    check
                        .close_box(parcel.clone())
                        .map_err(|r| ServiceError::WrongScan {
                            message: r.to_string(),
                        })
                },
            )
            .map_err(store_err)?
            .ok_or_else(|| not_at_bench(&id))??;
        Ok(check)
    }
}

/// Every unit is in: the box being filled is closed (a preset by name, and its weight) and the
/// order is Packed, in as many packages as it has boxes. When every box is closed already, no
/// box or weight is needed. With `partial`, a lead ships the units packed now and leaves the
/// rest on the queue (the reason is audited).
///
/// With `label` (`pack finish --label`), or at a bench with `[floor] label_at_pack`, the
/// order's label is then bought by the site's rule and queued to the packer's label printer:
/// pack and ship at one bench. This is the one way a packer buys postage, and only for the
/// order they have just boxed at their own bench: no choice of service or printer (those stay
/// with labelers, [`super::BuyLabel`]), the same purchase path as `label buy`. A purchase that
/// fails leaves the order Packed for the labeler, the reason in the answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PackFinish {
    pub order: String,
    #[serde(default)]
    pub box_name: String,
    #[serde(default)]
    pub weight_g: u32,
    #[serde(default)]
    pub partial: Option<String>,
    /// Buy and print the label now, whatever `[floor] label_at_pack` says.
    #[serde(default)]
    pub label: bool,
}

/// The order boxed, and what became of the label the bench bought, when it bought one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Finished {
    #[serde(flatten)]
    pub row: OrderRow,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bench_label: Option<BenchLabel>,
}

impl std::ops::Deref for Finished {
    type Target = OrderRow;
    fn deref(&self) -> &OrderRow {
        &self.row
    }
}

/// The label bought at the pack bench (see [`PackFinish`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum BenchLabel {
    /// Bought, and queued to the bench's label printer: "UPS 1Z…" per package, and the print
    /// jobs, which print in the background (wait for them: `packline prints`).
    Queued {
        postage: Vec<String>,
        print_jobs: Vec<u64>,
    },
    /// Bought, but it could not be queued to print (no label printer, say): why. The labeler
    /// prints it (`label print`).
    NotQueued {
        postage: Vec<String>,
        reason: String,
    },
    /// Not bought: the order stays Packed for the labeler (a purchase of unknown outcome is an
    /// exception for a lead, as with `label buy`), and why.
    NotBought { reason: String },
}

impl Operation for PackFinish {
    type Answer = Finished;
    const NAME: &'static str = "pack_finish";
    const ACTION: &'static str = "packing";
    const ROLE: Role = Role::Packer;

    fn apply(
        self,
        svc: &Service,
        c: &Allowed,
        now: DateTime<Utc>,
    ) -> Result<Finished, ServiceError> {
        let id = order_id(&self.order)?;
        let label = self.label || svc.settings.label_at_pack.for_user(&c.user);
        let partial = match &self.partial {
            Some(reason) => {
                if c.role < Role::Lead {
                    return Err(ServiceError::Forbidden {
                        action: "shipping part of an order".into(),
                        needed: Role::Lead,
                        user: c.user.clone(),
                        role: c.role,
                    });
                }
                Some(non_empty(reason, "the reason for a partial shipment")?.to_owned())
            }
            None => None,
        };
        let order_lock = svc.lock_order(&id);
        // Whether every unit is in is decided on the check as the transaction that packs the
        // order reads it: a scan or a hold meanwhile is never missed.
        let pack = |check: &mut PackCheck, order: &Order, first: u32| {
            if partial.is_none() && !check.is_complete() {
                let (units, codes) = (check.units_left(), check.codes_left());
                return Err(ServiceError::Conflict(if units > 0 {
                    format!("order {id} still needs {units} unit(s) scanned before it can be boxed")
                } else {
                    format!(
                        "order {id} still needs {codes} serial number(s) or Transparency code(s) before it can be boxed"
                    )
                }));
            }
            if partial.is_some() {
                let codes = check.codes_left_scanned();
                if check.awaiting.is_some() || codes > 0 {
                    return Err(ServiceError::Conflict(format!(
                        "order {id}: the units packed still need {} code(s) before they can ship",
                        codes.max(1)
                    )));
                }
            }
            if check.open_units() > 0 {
                if self.box_name.trim().is_empty() {
                    return Err(ServiceError::Invalid(format!(
                        "order {id}: the box being filled needs its box preset ({})",
                        presets(svc)
                    )));
                }
                if self.weight_g == 0 {
                    return Err(ServiceError::Invalid(format!(
                        "order {id}: the box being filled needs its weight in grams (1 g – 70 kg)"
                    )));
                }
                let p = parcel(svc, &self.box_name, self.weight_g)?;
                check.close_box(p).map_err(|r| ServiceError::WrongScan {
                    message: r.to_string(),
                })?;
            } else if check.boxes.is_empty() {
                return Err(ServiceError::Conflict(format!(
                    "order {id}: no unit is packed yet"
                )));
            }
            Ok(check.packages(order, first))
        };
        let rec = svc
            .store()
            .finish_pack(
                &id,
                |check| own_bench(c, check),
                pack,
                partial.as_deref(),
                &c.user,
                now,
            )
            .map_err(store_err)?
            .ok_or_else(|| not_at_bench(&id))??;
        drop(order_lock);
        svc.changed();
        if !label {
            return Ok(Finished {
                row: svc.row(rec)?,
                bench_label: None,
            });
        }
        let bench_label = bench_label(svc, c, &id, now);
        let rec = svc.store().get(&id).map_err(store_err)?.unwrap_or(rec);
        Ok(Finished {
            row: svc.row(rec)?,
            bench_label: Some(bench_label),
        })
    }
}

/// Buys the label of an order just boxed, by the site's rule (the purchase of `label buy`), and
/// queues it to the packer's label printer.
fn bench_label(svc: &Service, c: &Allowed, id: &OrderId, now: DateTime<Utc>) -> BenchLabel {
    let records = match svc.buy_label(c, id, Default::default(), now) {
        Ok(records) => records,
        Err(e) => {
            return BenchLabel::NotBought {
                reason: e.to_string(),
            };
        }
    };
    let postage: Vec<String> = records
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r.carrier.as_ref().map_or("-", |c| c.name()),
                r.tracking.as_ref().map_or("-".into(), |t| t.to_string())
            )
        })
        .collect();
    let docs: Vec<(OrderId, Document)> = records
        .iter()
        .map(|r| (id.clone(), Document::label_of(r.package)))
        .collect();
    match svc.queue_all(c, &docs, None, now) {
        Ok(jobs) => BenchLabel::Queued {
            postage,
            print_jobs: jobs.iter().map(|j| j.id).collect(),
        },
        Err(e) => BenchLabel::NotQueued {
            postage,
            reason: e.to_string(),
        },
    }
}
