//! Packing at a bench: the pack check an order is scanned against, its packages and their unit
//! codes, each change read, decided and written in one transaction.

use chrono::{DateTime, Utc};

use super::holds::refuse_held_in;
use super::{
    AtBench, CODES, Decided, ItemCodes, PACK, PACKAGES, Store, decode_check, decode_packages,
    free_tote, item_codes, key,
};
use crate::domain::{
    Event, Locations, Order, OrderId, OrderRecord, OrderState, PackCheck, Package, UnitCode,
};
use crate::store::records::{
    self,
    floor::{Check2, ItemCodes2, Packages2},
};
use crate::store::refusal::FloorRefusal;
use crate::store::{Error, Tx, TxResult, abort, audit_in, decode_record, step};

impl Store {
    pub fn pack_check(&self, id: &OrderId) -> Result<Option<PackCheck>, Error> {
        self.t
            .floor
            .get(key(PACK, id.as_str().as_bytes()))?
            .map(|v| decode_check(&v))
            .transpose()
    }

    /// Opens a Picked order at a bench for `packer`, in one transaction: a check already open
    /// (anyone's) is answered as it is, else a new one (the domain's) is kept. Refused when the
    /// order is held. Not flushed: see the module comment.
    pub fn open_at_bench(
        &self,
        id: &OrderId,
        packer: &str,
        locations: &Locations,
    ) -> Result<AtBench, Error> {
        let pack_key = key(PACK, id.as_str().as_bytes());
        self.transact(|tx| {
            let Some(v) = tx.orders.get(id.as_str())? else {
                return abort(Error::NoSuchOrder(id.clone()));
            };
            let rec = decode_record(&v).or_else(abort)?;
            refuse_held_in(tx, id)?;
            if rec.state != OrderState::Picked {
                return Ok(AtBench::NotPicked(rec.state));
            }
            if let Some(v) = tx.floor.get(&pack_key)? {
                return Ok(AtBench::Open(decode_check(&v).or_else(abort)?));
            }
            let check = PackCheck::new(&rec.order, packer, locations);
            tx.floor
                .insert(pack_key.clone(), records::encode::<Check2>(&check))?;
            Ok(AtBench::Opened(check))
        })
    }

    /// One change at a pack bench (a unit and its codes scanned, a box closed), in one
    /// transaction: the order's check is read, `may` says whether this bench may work on it,
    /// the order's hold refuses it, `change` (the domain's) is applied, and the check is kept,
    /// the unit codes it recorded entered in the registry of codes used (refused, naming the
    /// order and package it went with, when a Transparency code is used anywhere already or a
    /// serial went with a package of this order). `None` when no check is open; `Some(Err)` when
    /// `may` or `change` refused (nothing is written). Not flushed: see the module comment.
    pub fn at_bench<R, E>(
        &self,
        id: &OrderId,
        may: impl Fn(&PackCheck) -> Result<(), E>,
        change: impl Fn(&mut PackCheck) -> Result<R, E>,
    ) -> Decided<(PackCheck, R), E> {
        let pack_key = key(PACK, id.as_str().as_bytes());
        self.transact(|tx| {
            let Some(v) = tx.floor.get(&pack_key)? else {
                return Ok(None);
            };
            let mut check = decode_check(&v).or_else(abort)?;
            if let Err(e) = may(&check) {
                return Ok(Some(Err(e)));
            }
            refuse_held_in(tx, id)?;
            let before: Vec<usize> = check.lines.iter().map(|l| l.codes.len()).collect();
            let r = match change(&mut check) {
                Ok(r) => r,
                Err(e) => return Ok(Some(Err(e))),
            };
            let new: Vec<UnitCode> = check
                .lines
                .iter()
                .zip(before)
                .flat_map(|(l, n)| l.codes.iter().skip(n).cloned())
                .collect();
            if !new.is_empty() {
                let packages = packages_in(tx, id)?;
                crate::store::codes::record_at_bench(tx, id, &packages, &new)?;
            }
            tx.floor
                .insert(pack_key.clone(), records::encode::<Check2>(&check))?;
            Ok(Some(Ok((check, r))))
        })
    }

    /// A check finished, in one transaction: the order's check is read, `may` says whether
    /// this bench may finish it, the order's hold refuses it, `pack` (the domain's: every unit
    /// in, the box being filled closed) makes the packages from the check, the order and the
    /// first package number free (after those of earlier packs), and the order is Packed with
    /// them. `partial`: a lead's decision to ship the units packed and leave the rest for later,
    /// audited with its reason. `None` when no check is open; `Some(Err)` when `may` or `pack`
    /// refused (nothing is written).
    pub fn finish_pack<E>(
        &self,
        id: &OrderId,
        may: impl Fn(&PackCheck) -> Result<(), E>,
        pack: impl Fn(&mut PackCheck, &Order, u32) -> Result<Vec<Package>, E>,
        partial: Option<&str>,
        user: &str,
        now: DateTime<Utc>,
    ) -> Decided<OrderRecord, E> {
        let pack_key = key(PACK, id.as_str().as_bytes());
        let rec = self.transact(|tx| {
            let Some(v) = tx.floor.get(&pack_key)? else {
                return Ok(None);
            };
            let mut check = decode_check(&v).or_else(abort)?;
            if let Err(e) = may(&check) {
                return Ok(Some(Err(e)));
            }
            refuse_held_in(tx, id)?;
            let Some(v) = tx.orders.get(id.as_str())? else {
                return abort(Error::NoSuchOrder(id.clone()));
            };
            let order = decode_record(&v).or_else(abort)?.order;
            let mut all = packages_in(tx, id)?;
            // Numbers go on after every package of earlier packs.
            let last = all.iter().map(|p| p.number).max().unwrap_or(0);
            let packages = match pack(&mut check, &order, last + 1) {
                Ok(p) => p,
                Err(e) => return Ok(Some(Err(e))),
            };
            refuse_dropping_labels(tx, id, "packing it again")?;
            let rec = step(tx, id, Event::FinishPack, user, None, now)?;
            tx.floor.remove(pack_key.clone())?;
            // The units' codes move from the bench (and from packages this pack replaces) to the
            // new packages.
            crate::store::codes::release(tx, id, Some(&check), &all)?;
            let codes = item_codes(&rec.order, &check);
            if codes.is_empty() {
                tx.floor.remove(key(CODES, id.as_str().as_bytes()))?;
            } else {
                tx.floor.insert(
                    key(CODES, id.as_str().as_bytes()),
                    records::encode::<ItemCodes2>(&codes),
                )?;
            }
            let shipped: Vec<u32> = all.iter().filter(|p| p.shipped).map(|p| p.number).collect();
            crate::store::codes::register_packages(tx, id, &shipped, &packages)?;
            all.retain(|p| p.shipped);
            all.extend(packages.iter().cloned());
            tx.floor.insert(
                key(PACKAGES, id.as_str().as_bytes()),
                records::encode::<Packages2>(&all),
            )?;
            if let Some(reason) = partial {
                audit_in(
                    tx,
                    user,
                    "partial_shipment",
                    Some(id.as_str()),
                    Some(reason),
                    now,
                )?;
            }
            free_tote(tx, id)?;
            Ok(Some(Ok(rec)))
        })?;
        if matches!(rec, Some(Ok(_))) {
            self.flush()?;
        }
        Ok(rec)
    }

    /// The codes recorded for the order's units at the pack bench, by order item.
    pub fn item_codes(&self, id: &OrderId) -> Result<Vec<ItemCodes>, Error> {
        Ok(self
            .t
            .floor
            .get(key(CODES, id.as_str().as_bytes()))?
            .map(|v| records::decode::<ItemCodes2>(&v))
            .transpose()?
            .unwrap_or_default())
    }

    /// Every package of the order, in number order: those shipped on an earlier partial
    /// shipment, then those of its last pack.
    pub fn packages(&self, id: &OrderId) -> Result<Vec<Package>, Error> {
        match self.t.floor.get(key(PACKAGES, id.as_str().as_bytes()))? {
            Some(v) => decode_packages(&v),
            None => Ok(Vec::new()),
        }
    }

    /// The packages of the order's last pack, still to leave.
    pub fn open_packages(&self, id: &OrderId) -> Result<Vec<Package>, Error> {
        let mut p = self.packages(id)?;
        p.retain(|p| !p.shipped);
        Ok(p)
    }

    /// Every order with a package list or a parcel (packed before boxes).
    pub(in crate::store) fn orders_with_packages(&self) -> Result<Vec<OrderId>, Error> {
        let mut ids = std::collections::BTreeSet::new();
        for k in self.t.floor.scan_prefix([PACKAGES]).keys() {
            if let Ok(id) = OrderId::parse(&String::from_utf8_lossy(&k?[1..])) {
                ids.insert(id);
            }
        }
        Ok(ids.into_iter().collect())
    }

    /// Every pack check open at a bench (those that cannot be read are left to `check`'s floor
    /// part).
    pub(in crate::store) fn pack_checks(&self) -> Result<Vec<PackCheck>, Error> {
        let mut checks = Vec::new();
        for item in self.t.floor.scan_prefix([PACK]).values() {
            if let Ok(c) = decode_check(&item?) {
                checks.push(c);
            }
        }
        Ok(checks)
    }
}

/// An order's packages, inside a transaction (none when it has no list: packed before boxes,
/// or not packed).
pub(in crate::store) fn packages_in(tx: &Tx<'_>, id: &OrderId) -> TxResult<Vec<Package>> {
    match tx.floor.get(key(PACKAGES, id.as_str().as_bytes()))? {
        Some(v) => decode_packages(&v).or_else(abort),
        None => Ok(Vec::new()),
    }
}

/// An order's pack check and packages as far as they can be read, inside a transaction: what
/// lets its codes go must not be stopped by a damaged record (`check` names that).
pub(in crate::store) fn codes_of(
    tx: &Tx<'_>,
    id: &[u8],
) -> TxResult<(Option<PackCheck>, Vec<Package>)> {
    let check = tx
        .floor
        .get(key(PACK, id))?
        .and_then(|v| decode_check(&v).ok());
    let packages = tx
        .floor
        .get(key(PACKAGES, id))?
        .and_then(|v| decode_packages(&v).ok())
        .unwrap_or_default();
    Ok((check, packages))
}

/// The codes of an order that never left go free: it was cancelled (inside its transaction).
pub(in crate::store) fn release_codes(tx: &Tx<'_>, id: &OrderId) -> TxResult<()> {
    let (check, packages) = codes_of(tx, id.as_str().as_bytes())?;
    crate::store::codes::release(tx, id, check.as_ref(), &packages)
}

/// The numbers of an order's packages, inside a transaction (1 when it has no list: packed
/// before boxes, or not packed).
pub(in crate::store) fn package_numbers(tx: &Tx<'_>, id: &str) -> TxResult<Vec<u32>> {
    let mut n: Vec<u32> = match tx.floor.get(key(PACKAGES, id.as_bytes()))? {
        Some(v) => decode_packages(&v)
            .or_else(abort)?
            .iter()
            .map(|p| p.number)
            .collect(),
        None => Vec::new(),
    };
    if !n.contains(&1) {
        n.push(1);
    }
    Ok(n)
}

/// The numbers of the order's packages still to leave, inside a transaction (package 1 for an
/// order with no package list).
pub(in crate::store) fn unshipped_packages_in(tx: &Tx<'_>, id: &OrderId) -> TxResult<Vec<u32>> {
    Ok(match tx.floor.get(key(PACKAGES, id.as_str().as_bytes()))? {
        Some(v) => decode_packages(&v)
            .or_else(abort)?
            .iter()
            .filter(|p| !p.shipped)
            .map(|p| p.number)
            .collect(),
        // Packed before boxes (one parcel), or not packed: package 1 is the order's.
        None => vec![1],
    })
}

/// Refuses, inside a transaction, to let go of packages whose label is bought (or may be):
/// re-packing them would leave a label at Amazon that no package of the order carries.
pub(in crate::store) fn refuse_dropping_labels(
    tx: &Tx<'_>,
    id: &OrderId,
    doing: &'static str,
) -> TxResult<()> {
    for n in unshipped_packages_in(tx, id)? {
        if let Some(s) = crate::store::shipping::shipment_in(tx, id, n)?
            && s.state.is_ours()
            && s.state != crate::store::shipping::ShipmentState::Confirmed
        {
            return abort(
                FloorRefusal::LabelOutstanding {
                    order: id.clone(),
                    package: n,
                    state: s.state.name(),
                    shipment: s
                        .shipment_id
                        .as_deref()
                        .unwrap_or("not yet known")
                        .to_owned(),
                    doing,
                }
                .into(),
            );
        }
    }
    Ok(())
}
