//! After packing: offers, a label bought (never twice), labels and slips printed through the
//! print queue, voids, own-carrier confirmation, the day's manifest, and a lead settling a
//! purchase whose outcome was unknown. The Amazon calls and the print queue themselves live in
//! `service::shipping`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Allowed, Operation};
use crate::amazon::client::{ConfirmItem, ConfirmShipment, PackageDetail};
use crate::amazon::mfn;
use crate::domain::{Carrier, Event, OrderId, OrderState, TrackingNumber};
use crate::labels::print::Printer;
use crate::service::shipping::{api_err, block_on, transparency_codes};
use crate::service::{RateOffer, Role, Service, ServiceError, non_empty, order_id, store_err};
use crate::store::shipping::{Document, PrintJob, ShipmentRecord, ShipmentState};

/// Shipping offers for a packed order, best first by the site's rule.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Rates {
    pub order: String,
}

impl Operation for Rates {
    type Answer = Vec<RateOffer>;
    const NAME: &'static str = "rates";
    const ACTION: &'static str = "shipping rates";
    const ROLE: Role = Role::Labeler;

    fn apply(
        self,
        svc: &Service,
        _: &Allowed,
        _: DateTime<Utc>,
    ) -> Result<Vec<RateOffer>, ServiceError> {
        let id = order_id(&self.order)?;
        let rec = svc.packed_order(&id)?;
        svc.refuse_if_held(&id)?;
        svc.offers(&rec)
    }
}

/// Buys a label (the offer named, or the rule's choice). Never twice for one order.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BuyLabel {
    pub order: String,
    pub service: Option<String>,
}

impl Operation for BuyLabel {
    type Answer = ShipmentRecord;
    const NAME: &'static str = "buy_label";
    const ACTION: &'static str = "buying a label";
    const ROLE: Role = Role::Labeler;

    fn apply(
        self,
        svc: &Service,
        c: &Allowed,
        now: DateTime<Utc>,
    ) -> Result<ShipmentRecord, ServiceError> {
        svc.buy_label(c, &order_id(&self.order)?, self.service, now)
    }
}

/// Prints (or reprints) the order's bought label: a printer of the site by name, else the
/// caller's own, else the site's (any other address for leads only).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PrintLabel {
    pub order: String,
    pub printer: Option<String>,
}

impl Operation for PrintLabel {
    type Answer = PrintJob;
    const NAME: &'static str = "print_label";
    const ACTION: &'static str = "printing a label";
    const ROLE: Role = Role::Labeler;

    fn apply(
        self,
        svc: &Service,
        c: &Allowed,
        now: DateTime<Utc>,
    ) -> Result<PrintJob, ServiceError> {
        let id = order_id(&self.order)?;
        svc.refuse_if_held(&id)?;
        let s = svc.read().shipment(&id).map_err(store_err)?;
        if s.as_ref().is_none_or(|s| s.state != ShipmentState::Bought) {
            return Err(ServiceError::Conflict(format!(
                "order {id} has no bought label to print"
            )));
        }
        svc.queue(c, &id, Document::Label, self.printer, now)
    }
}

/// Prints the order's packing slip (any order whose recipient is still kept).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PrintSlip {
    pub order: String,
    pub printer: Option<String>,
    /// A US Letter PDF for an office printer; a 4×6 ZPL label otherwise.
    pub pdf: bool,
}

impl Operation for PrintSlip {
    type Answer = PrintJob;
    const NAME: &'static str = "print_slip";
    const ACTION: &'static str = "printing a packing slip";
    const ROLE: Role = Role::Packer;

    fn apply(
        self,
        svc: &Service,
        c: &Allowed,
        now: DateTime<Utc>,
    ) -> Result<PrintJob, ServiceError> {
        let id = order_id(&self.order)?;
        let rec = svc.packed_order(&id)?;
        svc.refuse_if_held(&id)?;
        if rec.recipient_purged {
            return Err(ServiceError::Conflict(format!(
                "order {id}: its recipient data is destroyed; no slip can be printed"
            )));
        }
        let doc = if self.pdf {
            Document::SlipPdf
        } else {
            Document::SlipZpl
        };
        svc.queue(c, &id, doc, self.printer, now)
    }
}

/// Voids the bought label (before handover); the order goes back to Packed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VoidLabel {
    pub order: String,
    pub reason: String,
}

impl Operation for VoidLabel {
    type Answer = ();
    const NAME: &'static str = "void_label";
    const ACTION: &'static str = "voiding a label";
    const ROLE: Role = Role::Labeler;

    fn apply(self, svc: &Service, c: &Allowed, now: DateTime<Utc>) -> Result<(), ServiceError> {
        let id = order_id(&self.order)?;
        let reason = non_empty(&self.reason, "the reason for a void")?;
        let s = svc
            .read()
            .shipment(&id)
            .map_err(store_err)?
            .filter(|s| s.state == ShipmentState::Bought)
            .ok_or_else(|| {
                ServiceError::Conflict(format!("order {id} has no bought label to void"))
            })?;
        let state = svc.packed_order(&id)?.state;
        if !matches!(state, OrderState::Labelled | OrderState::Exception) {
            return Err(ServiceError::Conflict(format!(
                "order {id} is {state}: only a label not yet handed over can be voided"
            )));
        }
        let shipment_id = s.shipment_id.clone().unwrap_or_default();
        let api = svc.amazon()?;
        block_on(api.cancel_shipment(&shipment_id))?.map_err(api_err)?;
        svc.read()
            .voided(&id, &c.user, reason, now)
            .map_err(store_err)?;
        svc.changed();
        Ok(())
    }
}

/// An own-carrier shipment: confirmed to Amazon, then the order is Shipped.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ShipOwnCarrier {
    pub order: String,
    pub carrier: String,
    pub tracking: String,
}

impl Operation for ShipOwnCarrier {
    type Answer = ShipmentRecord;
    const NAME: &'static str = "ship_own_carrier";
    const ACTION: &'static str = "shipping with an own carrier";
    const ROLE: Role = Role::Labeler;

    fn apply(
        self,
        svc: &Service,
        c: &Allowed,
        now: DateTime<Utc>,
    ) -> Result<ShipmentRecord, ServiceError> {
        let id = order_id(&self.order)?;
        let carrier =
            Carrier::parse(&self.carrier).map_err(|e| ServiceError::Invalid(e.to_string()))?;
        let tracking = TrackingNumber::parse(&carrier, &self.tracking)
            .map_err(|e| ServiceError::Invalid(e.to_string()))?;
        let rec = svc.packed_order(&id)?;
        svc.refuse_if_held(&id)?;
        let shipment = svc
            .read()
            .begin_own_carrier(&id, &carrier, &tracking, &c.user, now)
            .map_err(store_err)?;
        let codes = svc.read().item_codes(&id).map_err(store_err)?;
        let confirmation = ConfirmShipment {
            marketplace_id: rec.order.marketplace_id.clone().unwrap_or_default(),
            package_detail: PackageDetail {
                // One package per order: the same reference on a retry, so Amazon sees the same
                // package, never a second one.
                package_reference_id: "1".into(),
                carrier_code: carrier.amazon_code().to_owned(),
                carrier_name: matches!(carrier, Carrier::Other(_))
                    .then(|| carrier.name().to_owned()),
                shipping_method: None,
                tracking_number: tracking.to_string(),
                ship_date: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                order_items: rec
                    .order
                    .lines
                    .iter()
                    .filter(|l| l.quantity_ordered > l.quantity_shipped)
                    .map(|l| ConfirmItem {
                        order_item_id: l.item_id.clone(),
                        quantity: l.quantity_ordered - l.quantity_shipped,
                        transparency_codes: transparency_codes(&codes, &l.item_id),
                    })
                    .collect(),
            },
        };
        let api = svc.amazon()?;
        block_on(api.confirm_shipment(&id, &confirmation))?.map_err(|e| {
            ServiceError::Conflict(format!(
                "{e}; the shipment is kept as confirming: run the same command again to retry"
            ))
        })?;
        svc.read()
            .confirmed(&shipment, Event::ShipOwnCarrier, &c.user, now)
            .map_err(store_err)?;
        svc.changed();
        Ok(svc
            .read()
            .shipment(&id)
            .map_err(store_err)?
            .unwrap_or(shipment))
    }
}

/// A lead records a shipment found in Seller Central after a purchase whose outcome was
/// unknown (looked up with getShipment).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CheckPurchase {
    pub order: String,
    pub shipment_id: String,
}

impl Operation for CheckPurchase {
    type Answer = ShipmentRecord;
    const NAME: &'static str = "check_purchase";
    const ACTION: &'static str = "checking a label purchase";
    const ROLE: Role = Role::Lead;

    fn apply(
        self,
        svc: &Service,
        c: &Allowed,
        now: DateTime<Utc>,
    ) -> Result<ShipmentRecord, ServiceError> {
        let id = order_id(&self.order)?;
        let shipment_id = self.shipment_id.trim();
        if !svc.read().purchase_unresolved(&id).map_err(store_err)? {
            return Err(ServiceError::Conflict(format!(
                "order {id} has no purchase of unknown outcome to check"
            )));
        }
        if !mfn::is_shipment_id(shipment_id) {
            return Err(ServiceError::Invalid(
                "a shipment id looks like 8-4-4-4-12 hexadecimal digits".into(),
            ));
        }
        let api = svc.amazon()?;
        let found = block_on(api.get_shipment(shipment_id))?.map_err(api_err)?;
        if found.amazon_order_id != id.as_str() {
            return Err(ServiceError::Conflict(format!(
                "shipment {shipment_id} belongs to another order"
            )));
        }
        let label = found
            .label
            .decode()
            .map_err(|e| ServiceError::Conflict(e.to_string()))?;
        let record = svc.bought_record(&id, &found, &label, c, now);
        svc.write()
            .record_found_purchase(&record, &label.bytes)
            .map_err(store_err)?;
        Ok(record)
    }
}

/// One day's shipments for the end-of-day manifest; `close` ships the day's labelled orders.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Manifest {
    /// The site's calendar day; today when not given.
    pub date: Option<chrono::NaiveDate>,
    pub close: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ManifestDay {
    pub shipments: Vec<ShipmentRecord>,
    /// Orders moved to Shipped by `close`.
    pub shipped: u64,
    /// Orders of the day on hold: their parcels stay behind, off the manifest, and `close` leaves
    /// them Labelled.
    #[serde(default)]
    pub held: Vec<OrderId>,
}

impl Operation for Manifest {
    type Answer = ManifestDay;
    const NAME: &'static str = "manifest";
    const ACTION: &'static str = "the manifest";
    const ROLE: Role = Role::Labeler;

    fn apply(
        self,
        svc: &Service,
        c: &Allowed,
        now: DateTime<Utc>,
    ) -> Result<ManifestDay, ServiceError> {
        let date = self
            .date
            .unwrap_or_else(|| crate::store::shipping::local_day(now));
        let mut shipments = svc.read().shipments_on(date).map_err(store_err)?;
        // A held parcel stays behind: it is not on the manifest the driver signs.
        let mut held = Vec::new();
        for s in &shipments {
            if svc.read().hold_of(&s.order).map_err(store_err)?.is_some() {
                held.push(s.order.clone());
            }
        }
        shipments.retain(|s| !held.contains(&s.order));
        let mut shipped = 0;
        if self.close {
            for s in shipments
                .iter()
                .filter(|s| s.state == ShipmentState::Bought)
            {
                let state = svc
                    .read()
                    .get(&s.order)
                    .map_err(store_err)?
                    .map(|r| r.state);
                if state == Some(OrderState::Labelled) {
                    svc.read()
                        .transition(&s.order, Event::Ship, &c.user, Some("end of day"), now)
                        .map_err(store_err)?;
                    shipped += 1;
                }
            }
            svc.changed();
        }
        Ok(ManifestDay {
            shipments,
            shipped,
            held,
        })
    }
}

/// The print queue.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct PrintJobs {}

impl Operation for PrintJobs {
    type Answer = Vec<PrintJob>;
    const NAME: &'static str = "print_jobs";
    const ACTION: &'static str = "the print queue";
    const ROLE: Role = Role::Labeler;

    fn apply(
        self,
        svc: &Service,
        _: &Allowed,
        _: DateTime<Utc>,
    ) -> Result<Vec<PrintJob>, ServiceError> {
        let mut jobs = svc.read().print_jobs().map_err(store_err)?;
        // Scheme, host, port and path only: a URI may carry credentials.
        for j in &mut jobs {
            j.printer = Printer::parse(&j.printer)
                .map(|p| p.describe())
                .unwrap_or_else(|_| "(unknown printer)".into());
        }
        Ok(jobs)
    }
}

/// A lead found that Amazon bought nothing for a purchase of unknown outcome: clear it, so a
/// label can be bought.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ClearPurchase {
    pub order: String,
    pub reason: String,
}

impl Operation for ClearPurchase {
    type Answer = ();
    const NAME: &'static str = "clear_purchase";
    const ACTION: &'static str = "clearing a label purchase";
    const ROLE: Role = Role::Lead;

    fn apply(self, svc: &Service, c: &Allowed, now: DateTime<Utc>) -> Result<(), ServiceError> {
        let id = order_id(&self.order)?;
        let reason = non_empty(&self.reason, "the reason")?;
        svc.read()
            .clear_purchase(&id, &c.user, reason, now)
            .map_err(store_err)
    }
}
