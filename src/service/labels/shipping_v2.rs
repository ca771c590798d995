//! Buying labels through Amazon's Shipping API v2, the default: rates kept while Amazon honours
//! them, a purchase recorded with its idempotency key and exact request before it is sent (so a
//! lost answer, a 5xx or a crash is settled by sending the same request again, and Amazon answers
//! it with the first purchase), a stale rate re-rated and matched by service, a price that rose
//! past the site's tolerance asked about again instead of bought, voids, tracking, and the
//! carrier's collection form at the end of the day.

use std::time::Instant;

use chrono::{DateTime, NaiveDate, Utc};

use super::{Choice, LabelProvider, Purchase, Quote, Sold};
use crate::amazon::client::ApiError;
use crate::amazon::shipping as v2;
use crate::domain::{
    CodeKind, Delivery, OrderId, OrderRecord, Package, PurchaseIntentV2, ShipmentV2,
};
use crate::service::amazon_calls::{api_err, block_on};
use crate::service::{Caller, RateOffer, Service, ServiceError, store_err};
use crate::store::shipping::{ShipmentRecord, ShipmentState};

/// A rate is used from the cache only while it has this much of its validity left.
const RATE_MARGIN: std::time::Duration = std::time::Duration::from_secs(60);

/// Rates of a package, as Amazon gave them, and when.
#[derive(Clone)]
pub(in crate::service) struct CachedRates {
    at: Instant,
    rates: v2::Rates,
}

/// How one send of a purchase ended.
enum Sent {
    Bought(Box<ShipmentRecord>),
    /// Amazon says the rate's token expired: nothing was bought under the key.
    Expired,
}

/// Shipping API v2.
pub(super) struct ShippingV2;

impl LabelProvider for ShippingV2 {
    /// The API allows 80 purchases a second: the network is the limit.
    fn workers(&self) -> usize {
        8
    }

    fn quotes(
        &self,
        svc: &Service,
        rec: &OrderRecord,
        package: &Package,
    ) -> Result<Vec<Quote>, ServiceError> {
        Ok(quotes_of(&svc.rate_v2(rec, package)?))
    }

    fn buy(
        &self,
        svc: &Service,
        p: &Purchase,
        package: &Package,
        choice: Choice,
    ) -> Result<ShipmentRecord, ServiceError> {
        svc.buy_package_v2(p, package, choice)
    }

    fn void(&self, svc: &Service, id: &OrderId, s: &ShipmentRecord) -> Result<(), ServiceError> {
        svc.void_v2(id, s)
    }

    fn follows_up(&self) -> bool {
        true
    }

    fn follow_up(
        &self,
        svc: &Service,
        p: &Purchase,
        package: &Package,
        s: &ShipmentRecord,
    ) -> Result<bool, ServiceError> {
        svc.send_codes_v2(p.c, p.rec, package, s, p.now)
    }

    fn collection_forms(
        &self,
        svc: &Service,
        day: NaiveDate,
        shipments: &[ShipmentRecord],
        now: DateTime<Utc>,
    ) -> Option<Result<Vec<String>, ServiceError>> {
        Some(svc.collection_forms_v2(day, shipments, now))
    }
}

/// A package's rates as the flow weighs them, in Amazon's order.
fn quotes_of(rates: &v2::Rates) -> Vec<Quote> {
    rates
        .rates
        .iter()
        .map(|r| Quote {
            offer: RateOffer {
                service_id: r.service_id.clone(),
                carrier: r.carrier_name.clone(),
                service: r.service_name.clone(),
                amount: r.total_charge.value,
                currency: r.total_charge.unit.clone(),
                latest_delivery: r.latest_delivery(),
                meets_promise: false,
            },
            buyable: !r.requires_additional_inputs,
        })
        .collect()
}

impl Service {
    /// The site's ship-from address, as Shipping API v2 takes it.
    fn ship_from_v2(&self) -> Result<v2::Address, ServiceError> {
        let from = self.settings.shipping.from.as_ref().ok_or_else(|| {
            ServiceError::Invalid("no ship-from address: set [shipping.from] in the config".into())
        })?;
        Ok(v2::Address {
            name: from.name.clone(),
            address_line1: from.line1.clone(),
            address_line2: from.line2.clone(),
            company_name: self.settings.shipping.seller_name.clone(),
            state_or_region: from.state.clone().unwrap_or_default(),
            city: from.city.clone(),
            country_code: from.country_code.clone(),
            postal_code: from.postal_code.clone(),
            email: Some(from.email.clone()).filter(|e| !e.is_empty()),
            phone_number: Some(from.phone.clone()).filter(|p| !p.is_empty()),
        })
    }

    /// The label format asked for: `ZPL` (thermal, the default), `PDF` or `PNG`.
    fn label_format_v2(&self) -> &'static str {
        match self
            .settings
            .shipping
            .label_format
            .as_deref()
            .unwrap_or("ZPL203")
        {
            "PDF" => "PDF",
            "PNG" => "PNG",
            _ => "ZPL",
        }
    }

    fn rates_request(
        &self,
        rec: &OrderRecord,
        package: &Package,
    ) -> Result<v2::GetRatesRequest, ServiceError> {
        let [l, w, h] = package.parcel.dims_mm;
        Ok(v2::GetRatesRequest {
            ship_from: self.ship_from_v2()?,
            packages: vec![v2::Package {
                dimensions: v2::Dimensions {
                    length: f64::from(l) / 10.0,
                    width: f64::from(w) / 10.0,
                    height: f64::from(h) / 10.0,
                    unit: "CENTIMETER".into(),
                },
                weight: v2::Weight {
                    unit: "GRAM".into(),
                    value: f64::from(package.parcel.weight_g),
                },
                insured_value: v2::Currency {
                    value: 0.0,
                    unit: "USD".into(),
                },
                package_client_reference_id: package.number.to_string(),
                items: package
                    .items
                    .iter()
                    .map(|i| v2::Item {
                        item_identifier: i.item_id.clone(),
                        quantity: i.quantity,
                        serial_numbers: i.codes_of(CodeKind::Serial),
                    })
                    .collect(),
            }],
            channel_details: v2::ChannelDetails::amazon(rec.order.id.as_str()),
        })
    }

    /// Fresh rates for a package from Amazon, kept for the purchase that follows.
    fn rate_v2(&self, rec: &OrderRecord, package: &Package) -> Result<v2::Rates, ServiceError> {
        let request = self.rates_request(rec, package)?;
        let api = self.amazon()?;
        let rates = block_on(api.get_rates(&request))?.map_err(api_err)?;
        let mut cache = self.rates_v2.lock().unwrap_or_else(|p| p.into_inner());
        // Rates Amazon no longer honours are of no use to anyone.
        cache.retain(|_, c| c.at.elapsed() < v2::RATE_VALIDITY);
        cache.insert(
            (rec.order.id.clone(), package.number),
            CachedRates {
                at: Instant::now(),
                rates: rates.clone(),
            },
        );
        Ok(rates)
    }

    /// The package's rates from the cache while Amazon still honours them.
    fn cached_rates(&self, id: &OrderId, package: u32) -> Option<CachedRates> {
        self.rates_v2
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(id.clone(), package))
            .cloned()
    }

    fn forget_rates(&self, id: &OrderId, package: u32) {
        self.rates_v2
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&(id.clone(), package));
    }

    /// The rate to buy for a package: the service named (matched by service id, never by a
    /// rate id that may have gone stale), or the cheapest that keeps the promise. Rates come
    /// from the cache while valid, else fresh from Amazon; if the named service now costs more
    /// than the labeler saw, beyond the site's tolerance, the labeler is asked again.
    fn choose_rate(
        &self,
        p: &Purchase,
        package: &Package,
        choice: Choice,
        fresh: bool,
        tried: Option<f64>,
    ) -> Result<(String, v2::Rate), ServiceError> {
        let cached = self.cached_rates(p.id(), p.package);
        // The price of a purchase just refused as expired, else what the labeler saw when the
        // rates were last shown.
        let seen = tried.or_else(|| {
            let c = cached.as_ref()?;
            c.rates
                .rates
                .iter()
                .find(|r| Some(r.service_id.as_str()) == choice.service)
                .map(|r| r.total_charge.value)
        });
        let rates = match cached {
            Some(c) if !fresh && c.at.elapsed() + RATE_MARGIN < v2::RATE_VALIDITY => c.rates,
            _ => self.rate_v2(p.rec, package)?,
        };
        let quotes = super::promised(p.rec, quotes_of(&rates));
        let chosen = self.choose(p, &quotes, choice, seen)?;
        let rate = rates.rates[chosen].clone();
        Ok((rates.request_token.clone(), rate))
    }

    /// Buys one package's label through Shipping API v2. A purchase already in flight for it
    /// (its answer was lost, or the process stopped) is sent again under its own key first.
    fn buy_package_v2(
        &self,
        p: &Purchase,
        package: &Package,
        choice: Choice,
    ) -> Result<ShipmentRecord, ServiceError> {
        let id = p.id();
        let n = p.package;
        let api = self.amazon()?;
        // Read first: the store's lock must not be held while the purchase is kept.
        let in_flight = self.store().purchase_intent_v2(id, n).map_err(store_err)?;
        if let Some(intent) = in_flight {
            match self.send_purchase(p, &intent, &api)? {
                Sent::Bought(r) => return Ok(*r),
                Sent::Expired => {
                    self.store()
                        .abandon_purchase_v2(id, n, &intent.key)
                        .map_err(store_err)?;
                }
            }
        }
        let mut fresh = false;
        let mut tried = None;
        loop {
            let (token, rate) = self.choose_rate(p, package, choice, fresh, tried)?;
            tried = Some(rate.total_charge.value);
            let spec = v2::RequestedDocumentSpecification::label_for(&rate, self.label_format_v2())
                .or_else(|| {
                    rate.supported_document_specifications
                        .first()
                        .and_then(|s| {
                            v2::RequestedDocumentSpecification::label_for(&rate, &s.format)
                        })
                })
                .ok_or_else(|| {
                    ServiceError::Conflict(format!(
                        "order {id} package {n}: {} offers no label document",
                        rate.service_name
                    ))
                })?;
            let request = v2::PurchaseShipmentRequest {
                request_token: token,
                rate_id: rate.rate_id.clone(),
                requested_document_specification: spec,
            };
            let intent = PurchaseIntentV2 {
                key: idempotency_key(),
                request: serde_json::to_string(&request)
                    .map_err(|e| ServiceError::Store(format!("a purchase request: {e}")))?,
                carrier_id: rate.carrier_id.clone(),
                carrier_name: rate.carrier_name.clone(),
                service_id: rate.service_id.clone(),
                service_name: rate.service_name.clone(),
                amount: rate.total_charge.value,
                currency: rate.total_charge.unit.clone(),
                rated_at: p.now,
            };
            self.store()
                .begin_purchase_v2(id, n, &intent, &p.c.user, p.now)
                .map_err(store_err)?;
            match self.send_purchase(p, &intent, &api)? {
                Sent::Bought(r) => {
                    self.forget_rates(id, n);
                    return Ok(*r);
                }
                Sent::Expired if !fresh => {
                    // Amazon bought nothing under the key: rate again and buy the same service.
                    self.store()
                        .abandon_purchase_v2(id, n, &intent.key)
                        .map_err(store_err)?;
                    self.forget_rates(id, n);
                    fresh = true;
                    continue;
                }
                Sent::Expired => {
                    self.store()
                        .abandon_purchase_v2(id, n, &intent.key)
                        .map_err(store_err)?;
                    return Err(ServiceError::Conflict(format!(
                        "order {id} package {n}: Amazon refused a rate it had just given (TOKEN_EXPIRED); try again"
                    )));
                }
            }
        }
    }

    /// Sends Amazon the Transparency codes of a package bought through Shipping API v2, once.
    /// The v2 purchase has no field for them (its `Item` takes serial numbers only); Amazon
    /// takes a package's codes with a confirmation of that package (Orders v0 `confirmShipment`,
    /// `orderItems[].transparencyCodes`), which for a package Amazon knows already edits it. So
    /// the package is confirmed with its own number as the package reference and the bought
    /// label's carrier and tracking number. Recorded when Amazon took them; a failure says so
    /// and leaves them to be sent again (`label buy` of the order), never counted as sent.
    /// True when they were sent now.
    fn send_codes_v2(
        &self,
        c: &Caller,
        rec: &OrderRecord,
        package: &Package,
        shipment: &ShipmentRecord,
        now: DateTime<Utc>,
    ) -> Result<bool, ServiceError> {
        use crate::amazon::orders::ConfirmShipment;
        let id = &rec.order.id;
        let n = package.number;
        let codes: usize = package
            .items
            .iter()
            .map(|i| i.codes_of(CodeKind::Transparency).len())
            .sum();
        if codes == 0 || shipment.state != ShipmentState::Bought {
            return Ok(false);
        }
        let Some(v2) = self.store().shipment_v2(id, n).map_err(store_err)? else {
            return Ok(false);
        };
        if v2.codes_sent.is_some() || v2.voided {
            return Ok(false);
        }
        let bought = shipment.shipment_id.as_deref().unwrap_or("not yet known");
        let (Some(carrier), Some(tracking)) = (&shipment.carrier, &shipment.tracking) else {
            return Err(ServiceError::Conflict(format!(
                "order {id} package {n}: the label is bought (shipment {bought}), but Amazon gave it no tracking number, and its {codes} Transparency code(s) go to Amazon only with one: a lead looks the shipment up in Seller Central"
            )));
        };
        let confirmation = ConfirmShipment::of_package(
            rec.order.marketplace_id.as_deref().unwrap_or_default(),
            package,
            carrier,
            tracking,
            shipment.service_name.clone(),
            now,
        );
        let api = self.amazon()?;
        match block_on(api.confirm_shipment(id, &confirmation))? {
            Ok(()) => self
                .store()
                .codes_sent_v2(id, n, &c.user, now)
                .map(|()| true)
                .map_err(store_err),
            Err(e) => {
                self.changed();
                Err(ServiceError::Conflict(format!(
                    "order {id} package {n}: the label is bought (shipment {bought}), but Amazon did not take its {codes} Transparency code(s): {e}. Nothing is bought again: run `packline label buy {id}` to send them again before the package leaves"
                )))
            }
        }
    }

    /// Sends a recorded purchase (again) under its key and settles its intent by the answer.
    fn send_purchase(
        &self,
        p: &Purchase,
        intent: &PurchaseIntentV2,
        api: &crate::amazon::client::SpApi,
    ) -> Result<Sent, ServiceError> {
        let id = p.id();
        let n = p.package;
        let request: v2::PurchaseShipmentRequest =
            serde_json::from_str(&intent.request).map_err(|e| {
                ServiceError::Store(format!("order {id} package {n}: the stored purchase: {e}"))
            })?;
        match block_on(api.purchase_shipment(&request, &intent.key))? {
            Ok(purchase) => self.keep_purchase(p, intent, &purchase, api),
            Err(ApiError::Status { status, code, .. })
                if status == 400 && code == "TOKEN_EXPIRED" =>
            {
                Ok(Sent::Expired)
            }
            Err(e @ ApiError::Status { .. }) | Err(e @ ApiError::Request { .. }) => {
                // Refused: nothing was bought under the key.
                self.store()
                    .abandon_purchase_v2(id, n, &intent.key)
                    .map_err(store_err)?;
                Err(api_err(e))
            }
            Err(e) => {
                // No answer to go by: the intent stays with its key, to be sent again.
                self.store()
                    .purchase_unanswered(id, n, &p.c.user, &e.to_string(), p.now)
                    .map_err(store_err)?;
                self.changed();
                Err(ServiceError::Conflict(format!(
                    "order {id} package {n}: {e}. The purchase is kept with its idempotency key and is sent again by the next `label buy` (or at the next start): it is never bought twice"
                )))
            }
        }
    }

    fn keep_purchase(
        &self,
        p: &Purchase,
        intent: &PurchaseIntentV2,
        purchase: &v2::Purchase,
        api: &crate::amazon::client::SpApi,
    ) -> Result<Sent, ServiceError> {
        let reference = p.package.to_string();
        let detail = purchase
            .package_document_details
            .iter()
            .find(|d| d.package_client_reference_id == reference)
            .or(purchase.package_document_details.first());
        let label = match detail.map(|d| d.label()) {
            Some(Ok(l)) => Ok(l),
            // Bought, but the label did not come whole: ask for the document again.
            _ => block_on(api.get_shipment_documents(
                &purchase.shipment_id,
                &reference,
                self.label_format_v2(),
            ))?
            .map_err(|e| e.to_string())
            .and_then(|d| d.package_document_detail.label().map_err(|e| e.to_string())),
        };
        let mut details = ShipmentV2::new(&intent.carrier_id);
        details.promised = purchase
            .promise
            .delivery_window
            .as_ref()
            .and_then(|w| w.end);
        let sold = Sold {
            shipment_id: purchase.shipment_id.clone(),
            carrier: intent.carrier_name.clone(),
            service_id: intent.service_id.clone(),
            service_name: intent.service_name.clone(),
            tracking: detail.and_then(|d| d.tracking_id.clone()),
            currency: intent.currency.clone(),
            amount: intent.amount,
            details: Some(details),
        };
        let record = self.keep_label(p, &sold, label)?;
        Ok(Sent::Bought(Box::new(record)))
    }

    /// After a start: every Shipping API v2 purchase left in flight is sent again under its
    /// key, so the label Amazon may have bought is kept, or the intent goes. Returns how many
    /// were settled either way.
    pub fn settle_purchases_v2(&self, now: DateTime<Utc>) -> usize {
        self.settle_purchases_v2_until(now, || false)
    }

    /// [`Service::settle_purchases_v2`], stopping between purchases once `stop` says so (the
    /// daemon shutting down): the rest are settled at the next start.
    pub fn settle_purchases_v2_until(&self, now: DateTime<Utc>, stop: impl Fn() -> bool) -> usize {
        let c = Caller {
            user: self.settings.owner.clone(),
            role: crate::service::Role::Lead,
        };
        let pending = self.store().purchase_intents_v2();
        let pending = match pending {
            Ok(p) => p,
            Err(e) => {
                tracing::error!("reading purchases in flight: {e}");
                return 0;
            }
        };
        let mut settled = 0;
        for (id, n) in pending {
            if stop() {
                tracing::info!("stopping: purchases still in flight are settled at the next start");
                break;
            }
            let result = self.settle_one(&c, &id, n, now);
            match result {
                Ok(()) => settled += 1,
                Err(e) => tracing::warn!(order = %id, package = n, "purchase in flight: {e}"),
            }
        }
        settled
    }

    fn settle_one(
        &self,
        c: &Caller,
        id: &OrderId,
        n: u32,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let rec = self.packed_order(id)?;
        let Some(intent) = self.store().purchase_intent_v2(id, n).map_err(store_err)? else {
            return Ok(());
        };
        let open: Vec<u32> = self
            .open_packages(id)?
            .iter()
            .map(|(p, _)| p.number)
            .collect();
        let api = self.amazon()?;
        let p = Purchase {
            c,
            rec: &rec,
            package: n,
            open: &open,
            now,
        };
        match self.send_purchase(&p, &intent, &api)? {
            Sent::Bought(_) => Ok(()),
            Sent::Expired => self
                .store()
                .abandon_purchase_v2(id, n, &intent.key)
                .map_err(store_err),
        }
    }

    /// Voids a package's label bought through Shipping API v2; refused once it is on a
    /// collection form (the carrier has it on the day's form).
    fn void_v2(&self, id: &OrderId, s: &ShipmentRecord) -> Result<(), ServiceError> {
        let details = self.store().shipment_v2(id, s.package).map_err(store_err)?;
        if let Some(at) = details.and_then(|d| d.on_form) {
            return Err(ServiceError::Conflict(format!(
                "order {id} package {}: the label is on the carrier's collection form of {}: it can no longer be voided (the carrier has it on the day's form)",
                s.package,
                crate::store::shipping::local_day(at)
            )));
        }
        let api = self.amazon()?;
        let shipment_id = s.shipment_id.clone().unwrap_or_default();
        block_on(api.cancel_shipment_v2(&shipment_id))?.map_err(api_err)
    }

    /// The day's collection forms through Shipping API v2: one per carrier with shipments not
    /// yet on a form, each kept and its shipments marked (they can no longer be voided).
    /// Returns the forms made, by carrier id.
    fn collection_forms_v2(
        &self,
        day: NaiveDate,
        shipments: &[ShipmentRecord],
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, ServiceError> {
        let api = self.amazon()?;
        let carriers = block_on(api.get_unmanifested_shipments())?.map_err(api_err)?;
        let from = self.ship_from_v2()?;
        let mut made = Vec::new();
        for carrier in carriers {
            if carrier.carrier_id.is_empty() {
                continue;
            }
            let key = format!("{}-{}", day.format("%Y%m%d"), carrier.carrier_id)
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect::<String>();
            let form = block_on(api.generate_collection_form(&carrier.carrier_id, &from, &key))?
                .map_err(api_err)?;
            let store = self.store();
            store
                .keep_collection_form(day, &carrier.carrier_id, &form.pdf)
                .map_err(store_err)?;
            for s in shipments
                .iter()
                .filter(|s| s.state == ShipmentState::Bought)
            {
                store
                    .mark_on_form(&s.order, s.package, &carrier.carrier_id, now)
                    .map_err(store_err)?;
            }
            made.push(carrier.carrier_id);
        }
        Ok(made)
    }

    /// Asks the carriers where up to `limit` shipped packages are, oldest first after
    /// `after`, and keeps what they say. Returns the last package asked about (to go on from)
    /// and how many were delivered.
    pub fn track_deliveries(
        &self,
        after: Option<(OrderId, u32)>,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<(Option<(OrderId, u32)>, usize), ServiceError> {
        let api = self.amazon()?;
        let batch = self
            .store()
            .awaiting_delivery(after.as_ref(), limit)
            .map_err(store_err)?;
        let last = batch.last().cloned();
        let mut delivered = 0;
        for (id, n) in batch {
            let store = self.store();
            let shipped = store
                .get(&id)
                .map_err(store_err)?
                .is_some_and(|r| r.state == crate::domain::OrderState::Shipped)
                || store
                    .packages(&id)
                    .map_err(store_err)?
                    .iter()
                    .any(|p| p.number == n && p.shipped);
            let (Some(details), Some(s)) = (
                store.shipment_v2(&id, n).map_err(store_err)?,
                store.shipment(&id, n).map_err(store_err)?,
            ) else {
                continue;
            };
            drop(store);
            if !shipped {
                continue;
            }
            let Some(tracking) = s.tracking.as_ref() else {
                continue;
            };
            let t = match block_on(api.get_tracking(tracking.as_str(), &details.carrier_id))? {
                Ok(t) => t,
                Err(e) => {
                    tracing::warn!(order = %id, package = n, "tracking: {e}");
                    continue;
                }
            };
            let delivery = match t.status() {
                v2::TrackingStatus::Delivered => Delivery::Delivered,
                v2::TrackingStatus::Lost
                | v2::TrackingStatus::Rejected
                | v2::TrackingStatus::Undeliverable => Delivery::Problem,
                s if s.in_transit() => Delivery::InTransit,
                _ => Delivery::AwaitingPickup,
            };
            if delivery == Delivery::Delivered {
                delivered += 1;
            }
            // Set on the details as the store's transaction reads them: a void or a collection
            // form marked while the carrier was asked is kept.
            let tracked = |d: &mut ShipmentV2| {
                d.delivery = Some(delivery);
                d.delivered_at = t.delivered_at();
                if let Some(p) = t.promised_delivery_date {
                    d.promised = Some(p);
                }
                d.tracked_at = Some(now);
            };
            self.store()
                .record_delivery(&id, n, tracked, now)
                .map_err(store_err)?;
        }
        Ok((last, delivered))
    }
}

/// A fresh idempotency key: 128 random bits in hexadecimal.
fn idempotency_key() -> String {
    format!("{:032x}", rand::random::<u128>())
}
