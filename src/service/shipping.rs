//! After packing: offers and buying a label (never twice), one package at a time, or a wave of
//! them. The print queue is `service::print_queue`.
//!
//! Amazon calls are made from the blocking request thread on the runtime's handle. A purchase is
//! recorded as an intent before it is sent; an answer that never comes turns the order into an
//! exception for a lead instead of a second purchase.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use super::{Caller, Notice, RateOffer, Service, ServiceError, store_err};
use crate::amazon::client::{ApiError, SpApi};
use crate::amazon::mfn;
use crate::config::ShippingApi;
use crate::domain::{Carrier, CodeKind, OrderId, OrderRecord, OrderState, Package, TrackingNumber};
use crate::store::shipping::{Bought, Document, ShipmentRecord, ShipmentState};

/// An Amazon call's failure as the service says it: whether trying again later can work
/// (unavailable), must wait for a check (outcome unknown), or cannot (refused, not sent).
pub(super) fn api_err(e: ApiError) -> ServiceError {
    ServiceError::Amazon {
        failure: amazon_failure(&e),
        message: e.to_string(),
    }
}

/// Whether an Amazon call's failure can be tried again, must be checked first, or cannot.
pub(super) fn amazon_failure(e: &ApiError) -> crate::service::AmazonFailure {
    use crate::service::AmazonFailure as F;
    match e {
        ApiError::Transport { .. } | ApiError::GaveUp { .. } => F::Unavailable,
        ApiError::Status { status, .. } if *status == 429 || *status >= 500 => F::Unavailable,
        ApiError::Status { .. } => F::Refused,
        ApiError::OutcomeUnknown { .. } => F::OutcomeUnknown,
        ApiError::Parse(_) => F::Unreadable,
        ApiError::Config(_) | ApiError::Request { .. } => F::NotSent,
    }
}

/// Whether a delivery by `latest` keeps the order's promise (`promise`; none promised: any).
pub(super) fn keeps_promise(promise: Option<DateTime<Utc>>, latest: Option<DateTime<Utc>>) -> bool {
    match (promise, latest) {
        (Some(p), Some(d)) => d <= p,
        (None, _) => true,
        (Some(_), None) => false,
    }
}

/// Offers best first by the site's rule: those that keep the promise, cheapest first, then
/// the rest by price.
pub(super) fn ranked(mut offers: Vec<RateOffer>) -> Vec<RateOffer> {
    offers.sort_by(|a, b| {
        b.meets_promise
            .cmp(&a.meets_promise)
            .then(a.amount.total_cmp(&b.amount))
    });
    offers
}

pub(super) fn block_on<F: std::future::Future>(f: F) -> Result<F::Output, ServiceError> {
    let handle = tokio::runtime::Handle::try_current()
        .map_err(|_| ServiceError::Store("no async runtime for Amazon calls".into()))?;
    Ok(handle.block_on(f))
}

impl Service {
    pub fn set_amazon(&self, api: Arc<SpApi>) {
        *self.amazon.lock().unwrap_or_else(|p| p.into_inner()) = Some(api);
    }

    pub(super) fn amazon(&self) -> Result<Arc<SpApi>, ServiceError> {
        self.amazon
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| {
                ServiceError::Invalid(
                    "no Amazon connection is configured ([amazon] and credentials): labels and confirmations need one".into(),
                )
            })
    }

    /// Refuses, naming the reason, when the order is held.
    pub(super) fn refuse_if_held(&self, id: &OrderId) -> Result<(), ServiceError> {
        self.read().refuse_if_held(id).map_err(store_err)
    }

    pub(super) fn packed_order(&self, id: &OrderId) -> Result<OrderRecord, ServiceError> {
        let rec = self
            .read()
            .get(id)
            .map_err(store_err)?
            .ok_or_else(|| ServiceError::NotFound(format!("order {id} is not in the store")))?;
        Ok(rec)
    }

    /// The order's packages still to leave, each with its shipment record if it has one.
    pub(super) fn open_packages(
        &self,
        id: &OrderId,
    ) -> Result<Vec<(Package, Option<ShipmentRecord>)>, ServiceError> {
        let store = self.read();
        let packages = store.open_packages(id).map_err(store_err)?;
        if packages.is_empty() {
            return Err(ServiceError::Conflict(format!(
                "order {id} has no box and weight: pack it first"
            )));
        }
        packages
            .into_iter()
            .map(|p| {
                let s = store.shipment(id, p.number).map_err(store_err)?;
                Ok((p, s))
            })
            .collect()
    }

    /// A package as Amazon wants it: its items, ship-from, dimensions, weight.
    fn shipment_details(
        &self,
        rec: &OrderRecord,
        package: &Package,
    ) -> Result<mfn::ShipmentRequestDetails, ServiceError> {
        let id = &rec.order.id;
        let parcel = &package.parcel;
        let from = self.settings.shipping.from.as_ref().ok_or_else(|| {
            ServiceError::Invalid("no ship-from address: set [shipping.from] in the config".into())
        })?;
        let label_format = match self
            .settings
            .shipping
            .label_format
            .as_deref()
            .unwrap_or("ZPL203")
        {
            "PDF" => mfn::LabelFormat::Pdf,
            "PNG" => mfn::LabelFormat::Png,
            _ => mfn::LabelFormat::Zpl203,
        };
        let [l, w, h] = parcel.dims_mm;
        Ok(mfn::ShipmentRequestDetails {
            amazon_order_id: id.to_string(),
            seller_order_id: None,
            item_list: package
                .items
                .iter()
                .map(|i| mfn::Item {
                    order_item_id: i.item_id.clone(),
                    quantity: i.quantity,
                    item_weight: None,
                    item_description: None,
                    transparency_code_list: i.codes_of(CodeKind::Transparency),
                })
                .collect(),
            ship_from_address: mfn::Address {
                name: from.name.clone(),
                address_line1: from.line1.clone(),
                address_line2: from.line2.clone(),
                address_line3: None,
                district_or_county: None,
                email: from.email.clone(),
                city: from.city.clone(),
                state_or_province_code: from.state.clone(),
                postal_code: from.postal_code.clone(),
                country_code: from.country_code.clone(),
                phone: from.phone.clone(),
            },
            package_dimensions: mfn::PackageDimensions::box_of(
                f64::from(l) / 10.0,
                f64::from(w) / 10.0,
                f64::from(h) / 10.0,
                mfn::LengthUnit::Centimeters,
            ),
            weight: mfn::Weight {
                value: f64::from(parcel.weight_g),
                unit: mfn::WeightUnit::Grams,
            },
            must_arrive_by_date: None,
            ship_date: None,
            shipping_service_options: mfn::ShippingServiceOptions {
                delivery_experience: mfn::DeliveryExperience::DeliveryConfirmationWithoutSignature,
                declared_value: None,
                carrier_will_pick_up: false,
                carrier_will_pick_up_option: None,
                label_format: Some(label_format),
            },
            label_customization: Some(mfn::LabelCustomization {
                custom_text_for_label: None,
                standard_id_for_label: Some("AmazonOrderId".into()),
            }),
        })
    }

    /// Offers for the order's first package still without a label (the one a labeler buys
    /// next), cheapest first among those that meet the promise, then the rest by price.
    pub(super) fn offers(&self, rec: &OrderRecord) -> Result<Vec<RateOffer>, ServiceError> {
        let packages = self.open_packages(&rec.order.id)?;
        let package = packages
            .iter()
            .find(|(_, s)| s.as_ref().is_none_or(|s| s.state == ShipmentState::Voided))
            .or(packages.first())
            .map(|(p, _)| p.clone())
            .ok_or_else(|| ServiceError::Conflict("no package to rate".into()))?;
        self.package_offers(rec, &package)
    }

    fn package_offers(
        &self,
        rec: &OrderRecord,
        package: &Package,
    ) -> Result<Vec<RateOffer>, ServiceError> {
        if self.settings.shipping.api == ShippingApi::ShippingV2 {
            return self.package_offers_v2(rec, package);
        }
        let details = self.shipment_details(rec, package)?;
        let api = self.amazon()?;
        let eligible =
            block_on(api.get_eligible_shipment_services(&details, None))?.map_err(api_err)?;
        let promise = rec.order.deliver_by.latest;
        let offers: Vec<RateOffer> = eligible
            .services
            .iter()
            .map(|s| RateOffer {
                service_id: s.shipping_service_id.clone(),
                carrier: s.carrier_name.clone(),
                service: s.shipping_service_name.clone(),
                amount: s.rate.amount,
                currency: s.rate.currency_code.clone(),
                latest_delivery: s.latest_estimated_delivery_date,
                meets_promise: keeps_promise(promise, s.latest_estimated_delivery_date),
            })
            .collect();
        Ok(ranked(offers))
    }

    pub(super) fn bought_record(
        &self,
        id: &OrderId,
        package: u32,
        s: &mfn::Shipment,
        label: &mfn::LabelFile,
        c: &Caller,
        now: DateTime<Utc>,
    ) -> ShipmentRecord {
        let carrier = Carrier::parse(&s.shipping_service.carrier_name)
            .unwrap_or_else(|_| Carrier::Other("carrier".into()));
        ShipmentRecord {
            order: id.clone(),
            package,
            state: ShipmentState::Bought,
            tracking: s
                .tracking_id
                .as_deref()
                .and_then(|t| TrackingNumber::parse(&Carrier::Other("any".into()), t).ok()),
            carrier: Some(carrier),
            shipment_id: Some(s.shipment_id.clone()),
            service_id: Some(s.shipping_service.shipping_service_id.clone()),
            service_name: Some(s.shipping_service.shipping_service_name.clone()),
            label_format: Some(
                match label.file_type {
                    mfn::LabelFileType::Pdf => "pdf",
                    mfn::LabelFileType::Png => "png",
                    _ => "zpl",
                }
                .into(),
            ),
            at: now,
            by: c.user.clone(),
        }
    }

    /// Buys a label for every package of the order that has none (the offer named for each,
    /// or the rule's choice per package), one purchase at a time; never twice for a package.
    /// Stopped partway (a refusal, a lost answer), the packages bought keep their labels and
    /// the same request again buys only the rest. Returns every package's record.
    pub(super) fn buy_label(
        &self,
        c: &Caller,
        id: &OrderId,
        service: Option<String>,
        carrier: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Vec<ShipmentRecord>, ServiceError> {
        let rec = self.packed_order(id)?;
        self.refuse_if_held(id)?;
        let v2 = self.settings.shipping.api == ShippingApi::ShippingV2;
        // Labelled through v2: only Transparency codes Amazon has not taken yet are sent.
        let resend = v2 && rec.state == OrderState::Labelled;
        if rec.state != OrderState::Packed && !resend {
            return Err(ServiceError::Conflict(format!(
                "order {id} is {}: labels are bought for packed orders",
                rec.state
            )));
        }
        let packages = self.open_packages(id)?;
        let open: Vec<u32> = packages.iter().map(|(p, _)| p.number).collect();
        let mut records = Vec::new();
        let mut unsent = Vec::new();
        let mut sent = false;
        for (package, shipment) in packages {
            // A package bought already keeps its label; any other shipment (a purchase of
            // unknown outcome, an own-carrier confirmation) is refused by the purchase itself.
            let bought = match shipment.filter(|s| s.state == ShipmentState::Bought) {
                Some(s) => s,
                None if resend => {
                    return Err(ServiceError::Conflict(format!(
                        "order {id} is labelled but package {} has no bought label: resolve it as an exception",
                        package.number
                    )));
                }
                None if v2 => {
                    self.buy_package_v2(c, &rec, &package, &open, service.clone(), carrier, now)?
                }
                None => {
                    self.buy_package(c, &rec, &package, &open, service.clone(), carrier, now)?
                }
            };
            if v2 {
                match self.send_codes_v2(c, &rec, &package, &bought, now) {
                    Ok(now_sent) => sent |= now_sent,
                    Err(e) => unsent.push(e.to_string()),
                }
            }
            records.push(bought);
        }
        if !unsent.is_empty() {
            return Err(ServiceError::Conflict(unsent.join("; ")));
        }
        if resend && !sent {
            return Err(ServiceError::Conflict(format!(
                "order {id} is {}: labels are bought for packed orders",
                rec.state
            )));
        }
        Ok(records)
    }

    /// Sends the Transparency codes Amazon has not taken yet for the order's packages bought
    /// through Shipping API v2 (the day's close, before the order leaves).
    pub(crate) fn send_unsent_codes(
        &self,
        c: &Caller,
        rec: &OrderRecord,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        if self.settings.shipping.api != ShippingApi::ShippingV2 {
            return Ok(());
        }
        let mut unsent = Vec::new();
        for (package, shipment) in self.open_packages(&rec.order.id)? {
            if let Some(s) = shipment
                && let Err(e) = self.send_codes_v2(c, rec, &package, &s, now)
            {
                unsent.push(e.to_string());
            }
        }
        if unsent.is_empty() {
            Ok(())
        } else {
            Err(ServiceError::Conflict(unsent.join("; ")))
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn buy_package(
        &self,
        c: &Caller,
        rec: &OrderRecord,
        package: &Package,
        open: &[u32],
        service: Option<String>,
        carrier: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<ShipmentRecord, ServiceError> {
        let id = &rec.order.id;
        let n = package.number;
        let details = self.shipment_details(rec, package)?;
        let service_id = match service {
            Some(s) => s,
            None => {
                let offers = self.package_offers(rec, package)?;
                let best = offers
                    .into_iter()
                    .filter(|o| carrier.is_none_or(|c| o.carrier.eq_ignore_ascii_case(c)))
                    .find(|o| o.meets_promise)
                    .ok_or_else(|| {
                    ServiceError::Conflict(format!(
                        "no offer for order {id} package {n} delivers by its promised date: choose one with --service"
                    ))
                })?;
                best.service_id
            }
        };
        // Everything the call needs is in hand before the intent is written: an intent is only
        // ever left by a call that was really made.
        let api = self.amazon()?;
        self.read()
            .begin_purchase(id, n, &service_id, &c.user, now)
            .map_err(store_err)?;
        let request = mfn::CreateShipment {
            shipment_request_details: details,
            shipping_service_id: service_id.clone(),
            shipping_service_offer_id: None,
            hazmat_type: None,
        };
        match block_on(api.create_shipment(&request))? {
            Ok(shipment) => {
                let label = match shipment.label.decode() {
                    Ok(l) => l,
                    Err(e) => {
                        // Bought, but the label is unusable: a lead sees it with its ids.
                        self.read()
                            .purchase_unknown(
                                id,
                                n,
                                &c.user,
                                &format!(
                                    "label unreadable: {e}; shipment {}",
                                    shipment.shipment_id
                                ),
                                now,
                            )
                            .map_err(store_err)?;
                        self.changed();
                        return Err(ServiceError::Conflict(format!(
                            "order {id} package {n}: the label was bought (shipment {}) but cannot be read: {e}; the order is an exception for a lead",
                            shipment.shipment_id
                        )));
                    }
                };
                let record = self.bought_record(id, n, &shipment, &label, c, now);
                let (_, outcome) = self
                    .write()
                    .complete_purchase(
                        &record,
                        &label.bytes,
                        open,
                        Some((
                            &shipment.shipping_service.rate.currency_code,
                            shipment.shipping_service.rate.amount,
                        )),
                        None,
                        &c.user,
                        now,
                    )
                    .map_err(store_err)?;
                self.changed();
                if outcome == Bought::Moved {
                    return Err(ServiceError::Conflict(format!(
                        "order {id}: the label was bought (shipment {}), but the order changed meanwhile; it is kept for a lead to void or resolve",
                        shipment.shipment_id
                    )));
                }
                Ok(record)
            }
            Err(e @ ApiError::OutcomeUnknown { .. }) => {
                self.read()
                    .purchase_unknown(id, n, &c.user, &e.to_string(), now)
                    .map_err(store_err)?;
                self.changed();
                Err(ServiceError::Conflict(format!(
                    "order {id} package {n}: {e}. It is now an exception: a lead checks the shipment in Seller Central (packline lookup) or voids it; packline will not buy again"
                )))
            }
            Err(e) => {
                // Refused before anything was bought: the intent goes.
                self.read().abandon_purchase(id, n).map_err(store_err)?;
                Err(api_err(e))
            }
        }
    }

    /// A wave: labels for every packed order, see [`crate::service::ops::BuyWave`].
    pub(super) fn buy_wave(
        &self,
        c: &Caller,
        wave: crate::service::ops::BuyWave,
        now: DateTime<Utc>,
    ) -> Result<crate::service::ops::WaveReport, ServiceError> {
        use crate::service::ops::{WaveBought, WaveProblem, WaveReport};
        use std::sync::atomic::{AtomicUsize, Ordering};
        self.amazon()?;
        // Every packed order, oldest packed first (the order the bench finished them in).
        let mut orders: Vec<(DateTime<Utc>, OrderId)> = Vec::new();
        {
            let store = self.read();
            for id in store
                .ids_in(OrderState::Packed, usize::MAX)
                .map_err(store_err)?
            {
                if let Some(rec) = store.get(&id).map_err(store_err)? {
                    orders.push((rec.state_since, id));
                }
            }
        }
        orders.sort();
        let total = orders.len();
        // Purchases in flight at once: Shipping API v2 allows 80 a second, so the network is
        // the limit; Merchant Fulfillment v0 allows 2, so two at a time is all it can use.
        let workers = match self.settings.shipping.api {
            ShippingApi::ShippingV2 => 8,
            ShippingApi::MfnV0 => 2,
        }
        .min(total.max(1));
        let next = AtomicUsize::new(0);
        let done = AtomicUsize::new(0);
        type Outcome = (usize, Result<Vec<ShipmentRecord>, String>);
        let results: Mutex<Vec<Outcome>> = Mutex::new(Vec::new());
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|_| ServiceError::Store("no async runtime for Amazon calls".into()))?;
        let carrier = wave.carrier.as_deref();
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| {
                    let _runtime = handle.enter();
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        let Some((_, id)) = orders.get(i) else { break };
                        let outcome = self
                            .buy_label(c, id, wave.service.clone(), carrier, now)
                            .map_err(|e| e.to_string());
                        results
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push((i, outcome));
                        let d = done.fetch_add(1, Ordering::SeqCst) + 1;
                        self.notify(Notice::LabelWave {
                            user: c.user.clone(),
                            done: d as u32,
                            total: total as u32,
                        });
                    }
                });
            }
        });
        let mut results = results.into_inner().unwrap_or_else(|p| p.into_inner());
        results.sort_by_key(|(i, _)| *i);
        let mut report = WaveReport::default();
        let mut docs = Vec::new();
        for (i, outcome) in results {
            let id = orders[i].1.clone();
            match outcome {
                Ok(records) => {
                    let mine: Vec<&ShipmentRecord> = records
                        .iter()
                        .filter(|r| r.state == ShipmentState::Bought && r.at == now)
                        .collect();
                    for r in &mine {
                        docs.push((id.clone(), Document::label_of(r.package)));
                    }
                    report.bought.push(WaveBought {
                        order: id,
                        packages: mine.iter().map(|r| r.package).collect(),
                        postage: mine
                            .iter()
                            .map(|r| {
                                format!(
                                    "{} {}",
                                    r.carrier.as_ref().map_or("-", |c| c.name()),
                                    r.service_name.as_deref().unwrap_or("")
                                )
                            })
                            .collect(),
                    });
                }
                Err(reason) => report.needs_person.push(WaveProblem { order: id, reason }),
            }
        }
        if !wave.no_print && !docs.is_empty() {
            match self.queue_all(c, &docs, wave.printer, now) {
                Ok(jobs) => {
                    report.printed = jobs.len();
                    report.print_jobs = jobs.iter().map(|j| j.id).collect();
                }
                Err(e) => report.print_error = Some(e.to_string()),
            }
        }
        self.changed();
        Ok(report)
    }
}

#[cfg(test)]
mod amazon_failures {
    use super::*;
    use crate::service::AmazonFailure as F;

    /// A timeout is never a "conflict": each failure says whether trying again can work.
    #[test]
    fn each_failure_says_whether_trying_again_can_work() {
        let status = |status| ApiError::Status {
            operation: "getRates",
            status,
            code: "X".into(),
            message: "m".into(),
        };
        let cases = [
            (
                ApiError::Transport {
                    operation: "getRates",
                    host: "h".into(),
                    detail: "d".into(),
                },
                F::Unavailable,
                "amazon_unavailable",
            ),
            (
                ApiError::GaveUp {
                    operation: "getRates",
                    attempts: 5,
                },
                F::Unavailable,
                "amazon_unavailable",
            ),
            (status(503), F::Unavailable, "amazon_unavailable"),
            (status(429), F::Unavailable, "amazon_unavailable"),
            (status(400), F::Refused, "amazon_refused"),
            (
                ApiError::OutcomeUnknown {
                    operation: "purchaseShipment",
                    detail: "timed out".into(),
                },
                F::OutcomeUnknown,
                "outcome_unknown",
            ),
            (
                ApiError::Config("no token".into()),
                F::NotSent,
                "amazon_not_sent",
            ),
            (
                ApiError::Parse(crate::amazon::model::ParseError::Json {
                    source_name: "getRates".into(),
                    detail: "eof".into(),
                }),
                F::Unreadable,
                "amazon_unreadable",
            ),
        ];
        for (e, failure, kind) in cases {
            let message = e.to_string();
            let err = api_err(e);
            assert_eq!(err.kind(), kind);
            assert_eq!(err, ServiceError::Amazon { failure, message });
        }
    }
}
