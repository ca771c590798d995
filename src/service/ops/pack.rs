//! Packing: an order opened at a bench, every unit scanned against it (a wrong or extra unit is
//! refused), then boxed with its weight. One bench per order.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Allowed, Operation};
use crate::domain::{OrderState, PackCheck, Parcel};
use crate::service::{OrderRow, Role, Service, ServiceError, order_id, own_bench, store_err};

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
            .map(|_| svc.read().order_in_tote(self.order.trim()))
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
        let _order = svc.lock_order(&id);
        let store = svc.read();
        let rec = store
            .get(&id)
            .map_err(store_err)?
            .ok_or_else(|| ServiceError::NotFound(format!("order {id} is not in the store")))?;
        store.refuse_if_held(&id).map_err(store_err)?;
        if rec.state != OrderState::Picked {
            return Err(ServiceError::Conflict(format!(
                "order {id} is {}: only picked orders are packed",
                rec.state
            )));
        }
        match store.pack_check(&id).map_err(store_err)? {
            Some(check) => {
                own_bench(c, &check)?;
                Ok(check)
            }
            None => {
                let check = PackCheck::new(&rec.order, &c.user, &svc.settings.locations);
                store.save_pack_check(&check).map_err(store_err)?;
                Ok(check)
            }
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
        _: DateTime<Utc>,
    ) -> Result<PackCheck, ServiceError> {
        let id = order_id(&self.order)?;
        let _order = svc.lock_order(&id);
        let store = svc.read();
        let mut check = store.pack_check(&id).map_err(store_err)?.ok_or_else(|| {
            ServiceError::NotFound(format!(
                "order {id} is not at a pack bench: scan the order first"
            ))
        })?;
        own_bench(c, &check)?;
        store.refuse_if_held(&id).map_err(store_err)?;
        let refused = |r: crate::domain::PackRefusal| ServiceError::WrongScan {
            message: r.to_string(),
        };
        check.scan(&self.code).map_err(refused)?;
        for code in &self.unit_codes {
            check.record_code(code).map_err(refused)?;
        }
        store.save_pack_check(&check).map_err(store_err)?;
        Ok(check)
    }
}

/// Every unit is in: the order is boxed (a preset by name) and weighed, and is Packed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PackFinish {
    pub order: String,
    pub box_name: String,
    pub weight_g: u32,
}

impl Operation for PackFinish {
    type Answer = OrderRow;
    const NAME: &'static str = "pack_finish";
    const ACTION: &'static str = "packing";
    const ROLE: Role = Role::Packer;

    fn apply(
        self,
        svc: &Service,
        c: &Allowed,
        now: DateTime<Utc>,
    ) -> Result<OrderRow, ServiceError> {
        let id = order_id(&self.order)?;
        let bx = svc
            .settings
            .boxes
            .iter()
            .find(|b| b.name == self.box_name)
            .ok_or_else(|| {
                ServiceError::Invalid(format!("no box preset named {:?}", self.box_name))
            })?;
        let weight_g = self.weight_g;
        if weight_g == 0 || weight_g > 70_000 {
            return Err(ServiceError::Invalid(format!(
                "weight {weight_g} g is outside 1 g – 70 kg"
            )));
        }
        let _order = svc.lock_order(&id);
        let store = svc.read();
        let check = store.pack_check(&id).map_err(store_err)?.ok_or_else(|| {
            ServiceError::NotFound(format!(
                "order {id} is not at a pack bench: scan the order first"
            ))
        })?;
        own_bench(c, &check)?;
        store.refuse_if_held(&id).map_err(store_err)?;
        if !check.is_complete() {
            let (units, codes) = (check.units_left(), check.codes_left());
            return Err(ServiceError::Conflict(if units > 0 {
                format!("order {id} still needs {units} unit(s) scanned before it can be boxed")
            } else {
                format!(
                    "order {id} still needs {codes} serial number(s) or Transparency code(s) before it can be boxed"
                )
            }));
        }
        let parcel = Parcel {
            box_name: bx.name.clone(),
            dims_mm: bx.dims_mm,
            weight_g,
        };
        let rec = store
            .finish_pack(&id, &parcel, &c.user, now)
            .map_err(store_err)?;
        drop(store);
        svc.changed();
        svc.row(rec)
    }
}
