//! After packing: offers, a label bought (never twice), labels and slips printed through the
//! print queue, voids, own-carrier confirmation, the day's manifest, and a lead settling a
//! purchase whose outcome was unknown. The label purchase itself is `service::labels`, the print
//! queue `service::print_queue`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Allowed, Operation};
use crate::amazon::orders::ConfirmShipment;
use crate::domain::{Carrier, Event, OrderId, OrderState, Package, TrackingNumber};
use crate::labels::print::Printer;
use crate::service::amazon_calls::block_on;
use crate::service::labels::Choice;
use crate::service::{RateOffer, Role, Service, ServiceError, non_empty, order_id, store_err};
use crate::store::shipping::{Document, JobState, PrintJob, ShipmentRecord, ShipmentState};

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

/// Buys a label for each of the order's packages that has none (the offer named, or the
/// rule's choice). Never twice for one package.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BuyLabel {
    pub order: String,
    pub service: Option<String>,
}

impl Operation for BuyLabel {
    type Answer = Vec<ShipmentRecord>;
    const NAME: &'static str = "buy_label";
    const ACTION: &'static str = "buying a label";
    const ROLE: Role = Role::Labeler;

    fn apply(
        self,
        svc: &Service,
        c: &Allowed,
        now: DateTime<Utc>,
    ) -> Result<Vec<ShipmentRecord>, ServiceError> {
        let choice = Choice {
            service: self.service.as_deref(),
            carrier: None,
        };
        svc.buy_label(c, &order_id(&self.order)?, choice, now)
    }
}

/// Buys labels for every packed order (every package), oldest packed first, at the quota's
/// pace with several purchases in flight, then prints them in pack order through the print
/// queue. Stopped and run again, it buys nothing twice: packages with a label are skipped and
/// purchases in flight are settled under their own keys.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct BuyWave {
    /// Only this carrier's offers (the cheapest that keeps each order's promise).
    pub carrier: Option<String>,
    /// This service for every package.
    pub service: Option<String>,
    /// Where the labels print (default: the caller's label printer).
    pub printer: Option<String>,
    /// Leave printing for later.
    #[serde(default)]
    pub no_print: bool,
}

/// One order the wave bought labels for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct WaveBought {
    pub order: OrderId,
    pub packages: Vec<u32>,
    pub postage: Vec<String>,
}

/// One order that needs a person, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct WaveProblem {
    pub order: OrderId,
    pub reason: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct WaveReport {
    pub bought: Vec<WaveBought>,
    pub needs_person: Vec<WaveProblem>,
    /// Label print jobs queued, in pack order.
    pub printed: usize,
    /// Their ids, to wait for (`packline prints`).
    #[serde(default)]
    pub print_jobs: Vec<u64>,
    pub print_error: Option<String>,
}

impl Operation for BuyWave {
    type Answer = WaveReport;
    const NAME: &'static str = "buy_wave";
    const ACTION: &'static str = "buying a wave of labels";
    const ROLE: Role = Role::Labeler;

    fn apply(
        self,
        svc: &Service,
        c: &Allowed,
        now: DateTime<Utc>,
    ) -> Result<WaveReport, ServiceError> {
        svc.buy_wave(c, self, now)
    }
}

/// The bought labels of the order's packages still to leave, or of the one named.
fn bought_labels(
    svc: &Service,
    id: &OrderId,
    package: Option<u32>,
    what: &str,
) -> Result<Vec<ShipmentRecord>, ServiceError> {
    let bought: Vec<ShipmentRecord> = svc
        .open_packages(id)?
        .into_iter()
        .filter_map(|(p, s)| s.filter(|s| s.state == ShipmentState::Bought && p.number > 0))
        .filter(|s| package.is_none_or(|n| n == s.package))
        .collect();
    if bought.is_empty() {
        return Err(ServiceError::Conflict(match package {
            Some(n) => format!("order {id} package {n} has no bought label to {what}"),
            None => format!("order {id} has no bought label to {what}"),
        }));
    }
    Ok(bought)
}

/// Prints (or reprints) the order's bought labels, one per package (or the one package
/// named): a printer of the site by name, else the caller's own, else the site's (any other
/// address for leads only).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PrintLabel {
    pub order: String,
    pub printer: Option<String>,
    #[serde(default)]
    pub package: Option<u32>,
}

impl Operation for PrintLabel {
    type Answer = Vec<PrintJob>;
    const NAME: &'static str = "print_label";
    const ACTION: &'static str = "printing a label";
    const ROLE: Role = Role::Labeler;

    fn apply(
        self,
        svc: &Service,
        c: &Allowed,
        now: DateTime<Utc>,
    ) -> Result<Vec<PrintJob>, ServiceError> {
        let id = order_id(&self.order)?;
        svc.refuse_if_held(&id)?;
        let docs: Vec<(OrderId, Document)> = bought_labels(svc, &id, self.package, "print")?
            .iter()
            .map(|s| (id.clone(), Document::label_of(s.package)))
            .collect();
        svc.queue_all(c, &docs, self.printer, now)
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

/// Voids the order's bought labels (or the one package's named), before handover; the order
/// goes back to Packed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VoidLabel {
    pub order: String,
    pub reason: String,
    #[serde(default)]
    pub package: Option<u32>,
}

impl Operation for VoidLabel {
    type Answer = ();
    const NAME: &'static str = "void_label";
    const ACTION: &'static str = "voiding a label";
    const ROLE: Role = Role::Labeler;

    fn apply(self, svc: &Service, c: &Allowed, now: DateTime<Utc>) -> Result<(), ServiceError> {
        let id = order_id(&self.order)?;
        let reason = non_empty(&self.reason, "the reason for a void")?;
        let bought = bought_labels(svc, &id, self.package, "void")?;
        let state = svc.packed_order(&id)?.state;
        // Packed: some packages of the order have labels, the rest do not yet. Cancelled: Amazon
        // cancelled the order after its label was bought; the postage comes back only by a void.
        if !matches!(
            state,
            OrderState::Labelled
                | OrderState::Exception
                | OrderState::Packed
                | OrderState::Cancelled
        ) {
            return Err(ServiceError::Conflict(format!(
                "order {id} is {state}: only a label not yet handed over can be voided"
            )));
        }
        svc.amazon()?;
        for s in bought {
            // A label is voided through the API it was bought with, whatever the site uses now.
            if let Err(e) = svc.void_label(&id, &s) {
                svc.changed();
                return Err(e);
            }
            svc.store()
                .voided(&id, s.package, &c.user, reason, now)
                .map_err(store_err)?;
        }
        svc.changed();
        Ok(())
    }
}

/// An own-carrier shipment: each package confirmed to Amazon with its own tracking number (in
/// package order), then the order is Shipped.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ShipOwnCarrier {
    pub order: String,
    pub carrier: String,
    /// One tracking number per package (a single string is one).
    #[serde(deserialize_with = "one_or_many")]
    pub tracking: Vec<String>,
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

impl Operation for ShipOwnCarrier {
    type Answer = Vec<ShipmentRecord>;
    const NAME: &'static str = "ship_own_carrier";
    const ACTION: &'static str = "shipping with an own carrier";
    const ROLE: Role = Role::Labeler;

    fn apply(
        self,
        svc: &Service,
        c: &Allowed,
        now: DateTime<Utc>,
    ) -> Result<Vec<ShipmentRecord>, ServiceError> {
        let id = order_id(&self.order)?;
        let carrier =
            Carrier::parse(&self.carrier).map_err(|e| ServiceError::Invalid(e.to_string()))?;
        let tracking = self
            .tracking
            .iter()
            .map(|t| {
                TrackingNumber::parse(&carrier, t).map_err(|e| ServiceError::Invalid(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let rec = svc.packed_order(&id)?;
        svc.refuse_if_held(&id)?;
        let packages = svc.open_packages(&id)?;
        if tracking.len() != packages.len() {
            return Err(ServiceError::Invalid(format!(
                "order {id} is in {} package(s): give one tracking number for each, in package order ({} given)",
                packages.len(),
                tracking.len()
            )));
        }
        for (i, t) in tracking.iter().enumerate() {
            if tracking[..i].contains(t) {
                return Err(ServiceError::Invalid(format!(
                    "tracking number {t} is given for two packages: each package has its own"
                )));
            }
        }
        let open: Vec<u32> = packages.iter().map(|(p, _)| p.number).collect();
        let api = svc.amazon()?;
        let mut out = Vec::new();
        for ((package, _), tracking) in packages.iter().zip(&tracking) {
            let shipment = svc
                .store()
                .begin_own_carrier(&id, package.number, &carrier, tracking, &c.user, now)
                .map_err(store_err)?;
            if shipment.state == ShipmentState::Confirmed {
                out.push(shipment);
                continue;
            }
            let confirmation = ConfirmShipment::of_package(
                rec.order.marketplace_id.as_deref().unwrap_or_default(),
                package,
                &carrier,
                tracking,
                None,
                now,
            );
            block_on(api.confirm_shipment(&id, &confirmation))?.map_err(|e| {
                svc.changed();
                ServiceError::Conflict(format!(
                    "package {}: {e}; the shipment is kept as confirming: run the same command again to retry",
                    package.number
                ))
            })?;
            svc.store()
                .confirmed(&shipment, &open, Event::ShipOwnCarrier, &c.user, now)
                .map_err(store_err)?;
            out.push(
                svc.store()
                    .shipment(&id, package.number)
                    .map_err(store_err)?
                    .unwrap_or(shipment),
            );
        }
        svc.changed();
        Ok(out)
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
        let Some(package) = svc.store().purchase_unresolved(&id).map_err(store_err)? else {
            return Err(ServiceError::Conflict(format!(
                "order {id} has no purchase of unknown outcome to check"
            )));
        };
        svc.record_found_purchase(c, &id, package, shipment_id, now)
    }
}

/// One day's shipments for the end-of-day manifest; `close` ships the day's labelled orders.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Manifest {
    /// The site's calendar day; today when not given.
    pub date: Option<chrono::NaiveDate>,
    pub close: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ManifestDay {
    pub shipments: Vec<ShipmentRecord>,
    /// Orders moved to Shipped by `close`.
    pub shipped: u64,
    /// Orders of the day on hold: their parcels stay behind, off the manifest, and `close` leaves
    /// them Labelled.
    #[serde(default)]
    pub held: Vec<OrderId>,
    /// Carriers whose collection form `close` made and sent to the slip printer (Shipping
    /// API v2), as Amazon spells them (`FedEx`, `UPS`, `USPS`).
    #[serde(default)]
    pub collection_forms: Vec<String>,
    /// Why the collection forms could not be made or printed (the day is closed all the same).
    #[serde(default)]
    pub form_error: Option<String>,
    /// Orders bought through Shipping API v2 whose Transparency codes Amazon has not taken
    /// (sent again at the close, and refused or unanswered): each stays Labelled, with what
    /// failed; `label buy ORDER` sends them again and the next close ships it.
    #[serde(default)]
    pub codes_unsent: Vec<(OrderId, String)>,
    /// The print jobs of the collection forms, to wait for.
    #[serde(default)]
    pub print_jobs: Vec<u64>,
}

impl Operation for Manifest {
    type Answer = ManifestDay;
    const NAME: &'static str = "manifest";
    const ACTION: &'static str = "the manifest";
    const ROLE: Role = Role::Labeler;

    fn writes(&self) -> bool {
        self.close
    }

    fn apply(
        self,
        svc: &Service,
        c: &Allowed,
        now: DateTime<Utc>,
    ) -> Result<ManifestDay, ServiceError> {
        let date = self
            .date
            .unwrap_or_else(|| crate::store::shipping::local_day(now));
        let mut shipments = svc.store().shipments_on(date).map_err(store_err)?;
        // Amazon's collection form takes every label of the carrier not yet on one, a held
        // parcel's too: all of the day's are marked, so none is voided after.
        let whole_day = shipments.clone();
        // A held parcel stays behind: it is not on the manifest the driver signs.
        let mut held = Vec::new();
        for s in &shipments {
            if svc.store().hold_of(&s.order).map_err(store_err)?.is_some() {
                held.push(s.order.clone());
            }
        }
        shipments.retain(|s| !held.contains(&s.order));
        let mut shipped = 0;
        let mut codes_unsent = Vec::new();
        if self.close {
            let mut orders: Vec<&OrderId> = shipments
                .iter()
                .filter(|s| s.state == ShipmentState::Bought)
                .map(|s| &s.order)
                .collect();
            orders.dedup();
            for order in orders {
                let rec = svc.store().get(order).map_err(store_err)?;
                let state = rec.as_ref().map(|r| r.state);
                if let Some(rec) = rec.filter(|r| r.state == OrderState::Labelled)
                    && let Err(e) = svc.send_unsent_codes(c, &rec, now)
                {
                    codes_unsent.push((order.clone(), e.to_string()));
                    continue;
                }
                if state == Some(OrderState::Labelled) {
                    svc.store()
                        .ship_labelled(order, &c.user, "end of day", now)
                        .map_err(store_err)?;
                    shipped += 1;
                }
            }
            svc.changed();
        }
        let mut collection_forms = Vec::new();
        let mut form_error = None;
        let mut print_jobs = Vec::new();
        let forms = self
            .close
            .then(|| svc.collection_forms(date, &whole_day, now))
            .flatten();
        if let Some(forms) = forms {
            match forms {
                Ok(made) => {
                    let all = svc
                        .store()
                        .collection_forms(date)
                        .map_err(store_err)?
                        .into_iter()
                        .map(|(carrier, _)| carrier)
                        .collect::<Vec<_>>();
                    let docs: Vec<(OrderId, Document)> = made
                        .iter()
                        .filter_map(|m| all.iter().position(|c| c == m))
                        .filter_map(|i| {
                            shipments
                                .first()
                                .map(|s| (s.order.clone(), Document::CollectionForm(i as u32)))
                        })
                        .collect();
                    if !docs.is_empty() {
                        match svc.queue_all(c, &docs, None, now) {
                            Ok(jobs) => print_jobs = jobs.iter().map(|j| j.id).collect(),
                            Err(e) => {
                                form_error = Some(format!("collection forms not printed: {e}"))
                            }
                        }
                    }
                    collection_forms = made.iter().map(|c| Carrier::amazon_name(c)).collect();
                }
                Err(e) => form_error = Some(format!("collection forms: {e}")),
            }
        }
        Ok(ManifestDay {
            shipments,
            shipped,
            held,
            collection_forms,
            form_error,
            codes_unsent,
            print_jobs,
        })
    }
}

/// The print queue: every job still kept (finished ones for a week), oldest first, with its
/// state and, for a failed one, why. A packer sees the jobs they asked for (a claim's
/// paperwork); a labeler or lead, all of them.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct PrintJobs {
    /// Only these jobs (none: all).
    #[serde(default)]
    pub ids: Vec<u64>,
    /// Only failed jobs.
    #[serde(default)]
    pub failed: bool,
    /// Only the jobs of these orders the caller asked for at or after `since` (what one
    /// request of theirs queued, such as a claim's paperwork).
    #[serde(default)]
    pub mine_since: Option<(Vec<OrderId>, DateTime<Utc>)>,
}

impl Operation for PrintJobs {
    type Answer = Vec<PrintJob>;
    const NAME: &'static str = "print_jobs";
    const WRITES: bool = false;
    const ACTION: &'static str = "the print queue";
    const ROLE: Role = Role::Packer;

    fn apply(
        self,
        svc: &Service,
        c: &Allowed,
        _: DateTime<Utc>,
    ) -> Result<Vec<PrintJob>, ServiceError> {
        let mut jobs = svc.store().print_jobs().map_err(store_err)?;
        jobs.retain(|j| {
            (c.role >= Role::Labeler || j.by == c.user)
                && (self.ids.is_empty() || self.ids.contains(&j.id))
                && (!self.failed || j.state == JobState::Failed)
                && self.mine_since.as_ref().is_none_or(|(orders, since)| {
                    j.by == c.user && j.created >= *since && orders.contains(&j.order)
                })
        });
        jobs.sort_by_key(|j| (j.created, j.id));
        Ok(jobs.into_iter().map(shown).collect())
    }
}

/// A job as a client sees it: the printer by scheme, host, port and path only (a URI may carry
/// credentials).
fn shown(mut j: PrintJob) -> PrintJob {
    j.printer = Printer::parse(&j.printer)
        .map(|p| p.describe())
        .unwrap_or_else(|_| "(unknown printer)".into());
    j
}

/// Sends failed print jobs again: the one named, or every failed one. For a lead, and for the
/// person who asked for the job (a packer their claim's slips, a labeler their labels).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RetryPrints {
    pub id: Option<u64>,
    #[serde(default)]
    pub failed: bool,
}

impl Operation for RetryPrints {
    type Answer = Vec<PrintJob>;
    const NAME: &'static str = "retry_prints";
    const ACTION: &'static str = "sending a print job again";
    const ROLE: Role = Role::Packer;

    fn apply(
        self,
        svc: &Service,
        c: &Allowed,
        now: DateTime<Utc>,
    ) -> Result<Vec<PrintJob>, ServiceError> {
        let all = svc.store().print_jobs().map_err(store_err)?;
        let lead = c.role >= Role::Lead;
        let ids: Vec<u64> = match (self.id, self.failed) {
            (Some(id), false) => {
                let Some(job) = all.iter().find(|j| j.id == id) else {
                    return Err(ServiceError::NotFound(format!(
                        "there is no print job {id} (packline prints lists them)"
                    )));
                };
                if !lead && job.by != c.user {
                    return Err(ServiceError::Forbidden {
                        action: format!("sending print job {id} again (asked for by {})", job.by),
                        needed: Role::Lead,
                        user: c.user.clone(),
                        role: c.role,
                    });
                }
                vec![id]
            }
            (None, true) => {
                let mut failed: Vec<&PrintJob> = all
                    .iter()
                    .filter(|j| j.state == JobState::Failed && (lead || j.by == c.user))
                    .collect();
                failed.sort_by_key(|j| (j.created, j.id));
                if failed.is_empty() {
                    return Err(ServiceError::NotFound(if lead {
                        "no print job has failed".into()
                    } else {
                        format!("no print job of {} has failed", c.user)
                    }));
                }
                failed.iter().map(|j| j.id).collect()
            }
            _ => {
                return Err(ServiceError::Invalid(
                    "name one print job (its id, from packline prints) or --failed".into(),
                ));
            }
        };
        let jobs = svc
            .store()
            .retry_prints(&ids, &c.user, now)
            .map_err(store_err)?;
        svc.send_jobs(ids);
        Ok(jobs.into_iter().map(shown).collect())
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
        svc.store()
            .clear_purchase(&id, &c.user, reason, now)
            .map_err(store_err)
    }
}

/// One package of an order: its box, weight and units, and its label or tracking if it has one.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PackageView {
    pub package: Package,
    pub shipment: Option<ShipmentRecord>,
    /// Bought through the Shipping API v2: the carrier's id, whether it is on a collection form,
    /// and the delivery as last tracked (delivered-at, the carrier's promise).
    #[serde(default)]
    pub shipping_v2: Option<crate::domain::ShipmentV2>,
}

/// The order's packages (none until it is packed).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Packages {
    pub order: String,
}

impl Operation for Packages {
    type Answer = Vec<PackageView>;
    const NAME: &'static str = "packages";
    const WRITES: bool = false;
    const ACTION: &'static str = "an order's packages";
    const ROLE: Role = Role::Packer;
    const QUICK: bool = true;

    fn apply(
        self,
        svc: &Service,
        _: &Allowed,
        _: DateTime<Utc>,
    ) -> Result<Vec<PackageView>, ServiceError> {
        let id = order_id(&self.order)?;
        let store = svc.store();
        store
            .packages(&id)
            .map_err(store_err)?
            .into_iter()
            .map(|p| {
                let shipment = store.shipment(&id, p.number).map_err(store_err)?;
                let shipping_v2 = store.shipment_v2(&id, p.number).map_err(store_err)?;
                Ok(PackageView {
                    package: p,
                    shipment,
                    shipping_v2,
                })
            })
            .collect()
    }
}
