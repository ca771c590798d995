//! Per-unit codes used once: each Transparency code once, ever (store-wide), each serial number
//! once per order.
//!
//! The registry of Transparency codes lives in the `floor` tree: `CODE ‖ code → order ‖ where`,
//! where is a package of the order, or its pack bench (scanned, not yet boxed). The entry is
//! written in the transaction that records the unit's code at the bench, so two benches
//! scanning the same code at once cannot both win. It is released when the code never leaves:
//! the check is abandoned, the order is cancelled, or the order is packed again before its
//! packages ship (the new packages take their codes over). A code that shipped stays used;
//! retention deleting the order drops its entries with it.
//!
//! Serial numbers are per order: a unit's serial is refused when a package of the order that
//! has shipped already carries it (the check itself refuses one twice at the bench).

use crate::store::backend::Batch;
use std::collections::HashMap;

use super::{Error, Store, Tx, TxResult, abort};
use crate::domain::{CodeKind, OrderId, PackCheck, Package, UnitCode};

/// The registry's key prefix in the `floor` tree (beside the others listed in `floor.rs`).
pub(super) const CODE: u8 = super::keys::floor::CODE_USED;
/// The format byte of a registry value.
const FORMAT: u8 = 1;
/// Where a code is when it is at the bench of its order, in no package yet.
const BENCH: u32 = 0;
/// The store's meta key saying the registry holds every code packed before it existed.
const FILLED: &[u8] = super::keys::meta::CODES_REGISTRY.as_bytes();

/// Where a Transparency code went: the order, and its package (`BENCH`: at the pack bench).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Used {
    pub order: String,
    pub package: u32,
}

impl Used {
    fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(5 + self.order.len());
        v.push(FORMAT);
        v.extend_from_slice(&self.package.to_be_bytes());
        v.extend_from_slice(self.order.as_bytes());
        v
    }

    fn decode(v: &[u8]) -> Option<Used> {
        let (&format, rest) = v.split_first()?;
        if format != FORMAT || rest.len() < 4 {
            return None;
        }
        let (n, order) = rest.split_at(4);
        Some(Used {
            order: String::from_utf8(order.to_vec()).ok()?,
            package: u32::from_be_bytes(n.try_into().ok()?),
        })
    }

    fn place(&self) -> String {
        if self.package == BENCH {
            format!("order {} at a pack bench", self.order)
        } else {
            format!("order {} package {}", self.order, self.package)
        }
    }
}

fn reg_key(code: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + code.len());
    k.push(CODE);
    k.extend_from_slice(code.as_bytes());
    k
}

fn used_in(tx: &Tx<'_>, code: &str) -> TxResult<Option<Used>> {
    Ok(tx.floor.get(reg_key(code))?.and_then(|v| Used::decode(&v)))
}

/// The refusal of a code already used, naming where it went and what to do.
fn used_error(kind: CodeKind, code: &str, at: &Used) -> Error {
    let rule = match kind {
        CodeKind::Transparency => "each Transparency code goes with one unit, ever",
        CodeKind::Serial => "each serial number goes with one unit of an order",
    };
    Error::CodeUsed(format!(
        "{} {code:?} is already used, on {}: {rule}. Set this unit aside for a lead and scan the {} of another unit",
        kind.name(),
        at.place(),
        kind.name()
    ))
}

fn transparency(codes: &[UnitCode]) -> impl Iterator<Item = &str> {
    codes
        .iter()
        .filter(|c| c.kind == CodeKind::Transparency)
        .map(|c| c.code.as_str())
}

fn package_codes(p: &Package) -> impl Iterator<Item = &UnitCode> {
    p.items.iter().flat_map(|i| &i.codes)
}

/// Records codes scanned at the bench of `order` (whose packages are `packages`), inside the
/// transaction that saves the check: refused, naming where it went, when a Transparency code is
/// used anywhere else or a serial went with a shipped package of the order.
pub(super) fn record_at_bench(
    tx: &Tx<'_>,
    order: &OrderId,
    packages: &[Package],
    codes: &[UnitCode],
) -> TxResult<()> {
    for c in codes {
        let shipped = packages
            .iter()
            .filter(|p| p.shipped)
            .find(|p| package_codes(p).any(|x| x.kind == c.kind && x.code == c.code));
        if let Some(p) = shipped {
            let at = Used {
                order: order.to_string(),
                package: p.number,
            };
            return abort(used_error(c.kind, &c.code, &at));
        }
        if c.kind != CodeKind::Transparency {
            continue;
        }
        match used_in(tx, &c.code)? {
            None => {
                let at = Used {
                    order: order.to_string(),
                    package: BENCH,
                };
                tx.floor.insert(reg_key(&c.code), at.encode())?;
            }
            // The same unit packed again: its package is replaced when this check finishes.
            Some(at)
                if at.order == order.as_str()
                    && packages
                        .iter()
                        .any(|p| p.number == at.package && !p.shipped) => {}
            Some(at) => return abort(used_error(c.kind, &c.code, &at)),
        }
    }
    Ok(())
}

/// Lets go of the codes of `order` that never left: those of its check (at the bench) and of
/// its unshipped packages among `packages`. Entries naming another order, or a shipped package,
/// stay.
pub(super) fn release(
    tx: &Tx<'_>,
    order: &OrderId,
    check: Option<&PackCheck>,
    packages: &[Package],
) -> TxResult<()> {
    let open: Vec<u32> = packages
        .iter()
        .filter(|p| !p.shipped)
        .map(|p| p.number)
        .collect();
    let at_bench = check
        .into_iter()
        .flat_map(|c| c.lines.iter().flat_map(|l| transparency(&l.codes)));
    let packed = packages
        .iter()
        .filter(|p| !p.shipped)
        .flat_map(|p| p.items.iter().flat_map(|i| transparency(&i.codes)));
    for code in at_bench.chain(packed) {
        if let Some(at) = used_in(tx, code)?
            && at.order == order.as_str()
            && (at.package == BENCH || open.contains(&at.package))
        {
            tx.floor.remove(reg_key(code))?;
        }
    }
    Ok(())
}

/// The codes of an order's new packages take their entries over from the bench and from the
/// order's packages they replace (all but `shipped`): refused when one is used elsewhere.
pub(super) fn register_packages(
    tx: &Tx<'_>,
    order: &OrderId,
    shipped: &[u32],
    packages: &[Package],
) -> TxResult<()> {
    for p in packages {
        for code in p.items.iter().flat_map(|i| transparency(&i.codes)) {
            if let Some(at) = used_in(tx, code)?
                && (at.order != order.as_str() || shipped.contains(&at.package))
            {
                return abort(used_error(CodeKind::Transparency, code, &at));
            }
            let at = Used {
                order: order.to_string(),
                package: p.number,
            };
            tx.floor.insert(reg_key(code), at.encode())?;
        }
    }
    Ok(())
}

/// Drops every entry naming `order` (retention deleting it).
pub(super) fn forget(
    tx: &Tx<'_>,
    order: &str,
    check: Option<&PackCheck>,
    packages: &[Package],
) -> TxResult<()> {
    let at_bench = check
        .into_iter()
        .flat_map(|c| c.lines.iter().flat_map(|l| transparency(&l.codes)));
    let packed = packages
        .iter()
        .flat_map(|p| p.items.iter().flat_map(|i| transparency(&i.codes)));
    for code in at_bench.chain(packed) {
        if used_in(tx, code)?.is_some_and(|at| at.order == order) {
            tx.floor.remove(reg_key(code))?;
        }
    }
    Ok(())
}

/// Every Transparency code on a unit: in a package, or at a bench. (code, where).
type Seen = Vec<(String, Used)>;
/// Every order with packages, and its packages.
type Packed = Vec<(OrderId, Vec<Package>)>;

impl Store {
    /// The pack checks of orders at a bench (Picked): a check left behind by an order that was
    /// cancelled or shipped elsewhere holds no unit.
    fn live_pack_checks(&self) -> Result<Vec<PackCheck>, Error> {
        let mut live = Vec::new();
        for check in self.pack_checks()? {
            if self.get(&check.order)?.map(|r| r.state) == Some(crate::domain::OrderState::Picked) {
                live.push(check);
            }
        }
        Ok(live)
    }

    /// Every Transparency code on a unit of any order, in packages and at benches.
    fn codes_on_units(&self) -> Result<(Seen, Packed), Error> {
        let mut seen = Vec::new();
        let mut orders = Vec::new();
        for id in self.orders_with_packages()? {
            let packages = self.packages(&id)?;
            // A cancelled order's units that never left go back on the shelf: their codes
            // were let go with the cancellation and may be packed again.
            let cancelled = self
                .get(&id)?
                .is_some_and(|r| r.state == crate::domain::OrderState::Cancelled);
            for p in packages.iter().filter(|p| p.shipped || !cancelled) {
                for code in package_codes(p).filter(|c| c.kind == CodeKind::Transparency) {
                    seen.push((
                        code.code.clone(),
                        Used {
                            order: id.to_string(),
                            package: p.number,
                        },
                    ));
                }
            }
            orders.push((id, packages));
        }
        for check in self.live_pack_checks()? {
            for code in check.lines.iter().flat_map(|l| transparency(&l.codes)) {
                seen.push((
                    code.to_owned(),
                    Used {
                        order: check.order.to_string(),
                        package: BENCH,
                    },
                ));
            }
        }
        Ok((seen, orders))
    }

    /// Fills the registry, once, with the codes packed before it existed (the first on a unit
    /// wins; `packline check` names any other).
    pub(super) fn settle_code_registry(&self) -> Result<(), Error> {
        if self.t.meta.contains_key(FILLED)? {
            return Ok(());
        }
        let (seen, _) = self.codes_on_units()?;
        let mut batch = Batch::default();
        let mut taken = std::collections::HashSet::new();
        for (code, at) in &seen {
            if taken.insert(code.as_str()) && !self.t.floor.contains_key(reg_key(code))? {
                batch.insert(reg_key(code), at.encode());
            }
        }
        self.t.floor.apply_batch(batch)?;
        self.t.meta.insert(FILLED, [])?;
        Ok(())
    }

    /// `packline check`'s part `codes`: no Transparency code on two units anywhere, no serial
    /// twice within an order, and the registry agreeing with the units.
    pub(super) fn check_codes(&self, r: &mut super::check::CheckReport) -> Result<(), Error> {
        const TWICE: &str = "find both units; the one whose code is not its own goes to a lead, who asks the brand for a new code (Amazon takes each code once)";
        const REGISTRY: &str = "the codes are sound, only their registry is off: report it; until then a code may be refused or let through at the bench";
        let (seen, orders) = self.codes_on_units()?;
        let mut first: HashMap<&str, &Used> = HashMap::new();
        let unshipped = |order: &str, n: u32| {
            orders.iter().any(|(id, ps)| {
                id.as_str() == order && ps.iter().any(|p| p.number == n && !p.shipped)
            })
        };
        for (code, at) in &seen {
            match first.get(code.as_str()) {
                // The order packed again: its unshipped package gives way to this check.
                Some(prev)
                    if at.package == BENCH
                        && prev.order == at.order
                        && unshipped(&prev.order, prev.package) => {}
                Some(prev) => r.found(
                    "codes",
                    format!(
                        "Transparency code {code:?} is on two units: {} and {}",
                        prev.place(),
                        at.place()
                    ),
                    TWICE,
                ),
                None => {
                    first.insert(code, at);
                }
            }
        }
        for (id, packages) in &orders {
            let mut serials: HashMap<&str, u32> = HashMap::new();
            for p in packages {
                for c in package_codes(p).filter(|c| c.kind == CodeKind::Serial) {
                    if let Some(n) = serials.insert(&c.code, p.number) {
                        r.found(
                            "codes",
                            format!(
                                "serial number {:?} is on two units of order {id}: packages {n} and {}",
                                c.code, p.number
                            ),
                            TWICE,
                        );
                    }
                }
            }
        }
        // A serial at a bench that already left with the order.
        for check in self.live_pack_checks()? {
            let Some((_, packages)) = orders.iter().find(|(id, _)| *id == check.order) else {
                continue;
            };
            for code in check.lines.iter().flat_map(|l| &l.codes) {
                let left = packages
                    .iter()
                    .filter(|p| p.shipped)
                    .find(|p| package_codes(p).any(|c| c.kind == CodeKind::Serial && *c == *code));
                if let Some(p) = left {
                    r.found(
                        "codes",
                        format!(
                            "serial number {:?} at the pack bench of order {} left with its package {} already",
                            code.code, check.order, p.number
                        ),
                        TWICE,
                    );
                }
            }
        }
        // The registry against the units: each code on a unit is registered where it is (a code
        // at the bench of its order may still be registered to that order's unshipped package
        // being packed again), and each entry names a unit that has the code.
        for (code, at) in &seen {
            let kept = self
                .t
                .floor
                .get(reg_key(code))?
                .and_then(|v| Used::decode(&v));
            let agrees = match &kept {
                Some(k) if k == at => true,
                Some(k) => at.package == BENCH && k.order == at.order,
                None => false,
            };
            if !agrees && first.get(code.as_str()) == Some(&at) {
                r.found(
                    "codes",
                    format!(
                        "Transparency code {code:?} on {} is registered {}",
                        at.place(),
                        kept.map_or("nowhere".to_owned(), |k| format!("to {}", k.place()))
                    ),
                    REGISTRY,
                );
            }
        }
        // A check left behind by an order that shipped elsewhere keeps its codes used.
        let left_behind: Vec<(String, Used)> = self
            .pack_checks()?
            .iter()
            .flat_map(|c| {
                c.lines
                    .iter()
                    .flat_map(|l| transparency(&l.codes))
                    .map(|code| {
                        let at = Used {
                            order: c.order.to_string(),
                            package: BENCH,
                        };
                        (code.to_owned(), at)
                    })
            })
            .collect();
        for item in self.t.floor.scan_prefix([CODE]) {
            let (k, v) = item?;
            let code = String::from_utf8_lossy(&k[1..]).into_owned();
            let on_unit = Used::decode(&v).is_some_and(|at| {
                seen.iter()
                    .chain(&left_behind)
                    .any(|(c, u)| *c == code && *u == at)
            });
            if !on_unit {
                r.found(
                    "codes",
                    format!("Transparency code {code:?} is registered as used, but no unit of the order it names has it"),
                    REGISTRY,
                );
            }
        }
        Ok(())
    }
}
