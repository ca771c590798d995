//! The label seam: a package's label bought through one of Amazon's two APIs, with the flow
//! around the purchase written once.
//!
//! A [`LabelProvider`] is what an API does: its offers for a package, the purchase itself (its
//! intent recorded before the request is sent, so money is written down before it is spent), a
//! void, and what Amazon still needs once a label is bought. The flow is here: the offers
//! ranked by the site's rule, the offer chosen and its price held to the site's tolerance, the
//! label kept with its shipment record (an unreadable label an exception for a lead, an order
//! changed meanwhile kept for a lead to void or resolve), every package of an order, and a wave
//! of orders.
//!
//! The API is chosen in one place, [`Service::label_provider`]: the API a package's label was
//! bought with, else the site's (`[shipping] api`). Merchant Fulfillment v0 is `mfn_v0.rs`,
//! Shipping API v2 `shipping_v2.rs`: retiring one is deleting its file and its line there.

mod mfn_v0;
mod shipping_v2;

pub(super) use shipping_v2::CachedRates;

use std::sync::Mutex;

use chrono::{DateTime, NaiveDate, Utc};

use super::{Caller, Notice, RateOffer, Service, ServiceError, store_err};
use crate::amazon::mfn::{LabelFile, LabelFileType};
use crate::config::ShippingApi;
use crate::domain::{
    Carrier, OrderId, OrderRecord, OrderState, Package, ShipmentV2, TrackingNumber,
};
use crate::store::shipping::{Bought, Document, ShipmentRecord, ShipmentState};

static MFN_V0: mfn_v0::MfnV0 = mfn_v0::MfnV0;
static SHIPPING_V2: shipping_v2::ShippingV2 = shipping_v2::ShippingV2;

/// One package's label purchase: whose, which package, and the order's packages still to
/// leave (the order is Labelled once each has a label).
pub(super) struct Purchase<'a> {
    pub c: &'a Caller,
    pub rec: &'a OrderRecord,
    pub package: u32,
    pub open: &'a [u32],
    pub now: DateTime<Utc>,
}

impl Purchase<'_> {
    fn id(&self) -> &OrderId {
        &self.rec.order.id
    }
}

/// What the labeler asked for: a service by its id, else the site's rule (cheapest that keeps
/// the promise), among one carrier's offers when one is named.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Choice<'a> {
    pub service: Option<&'a str>,
    pub carrier: Option<&'a str>,
}

/// An offer as a provider has it, in the API's order.
pub(super) struct Quote {
    /// As shown to the labeler; whether it keeps the promise is the flow's to say.
    pub offer: RateOffer,
    /// Can be bought as it stands (some Shipping API v2 rates need more input first).
    pub buyable: bool,
}

/// A label Amazon sold, as either API reports it.
pub(super) struct Sold {
    pub shipment_id: String,
    pub carrier: String,
    pub service_id: String,
    pub service_name: String,
    pub tracking: Option<String>,
    pub currency: String,
    pub amount: f64,
    /// What Shipping API v2 keeps with the shipment (its carrier's id, the promised delivery).
    pub details: Option<ShipmentV2>,
}

/// One of Amazon's APIs for buying labels.
pub(super) trait LabelProvider: Send + Sync {
    /// Purchases in flight at once in a wave (the API's quota).
    fn workers(&self) -> usize;

    /// A package's offers, fresh from Amazon, in Amazon's order.
    fn quotes(
        &self,
        svc: &Service,
        rec: &OrderRecord,
        package: &Package,
    ) -> Result<Vec<Quote>, ServiceError>;

    /// Buys the package's label: the offer chosen by [`Service::choose`], the intent recorded
    /// before the request is sent, the answer kept by [`Service::keep_label`].
    fn buy(
        &self,
        svc: &Service,
        p: &Purchase,
        package: &Package,
        choice: Choice,
    ) -> Result<ShipmentRecord, ServiceError>;

    /// Voids a bought label at Amazon (the store's record is the caller's).
    fn void(&self, svc: &Service, id: &OrderId, s: &ShipmentRecord) -> Result<(), ServiceError>;

    /// Whether a labelled order comes back to `label buy` for [`LabelProvider::follow_up`].
    fn follows_up(&self) -> bool {
        false
    }

    /// What Amazon still needs once a package's label is bought (Shipping API v2: its
    /// Transparency codes). True when something was sent now.
    fn follow_up(
        &self,
        _svc: &Service,
        _p: &Purchase,
        _package: &Package,
        _s: &ShipmentRecord,
    ) -> Result<bool, ServiceError> {
        Ok(false)
    }

    /// The day's collection forms by carrier, where the API makes them (Shipping API v2).
    fn collection_forms(
        &self,
        _svc: &Service,
        _day: NaiveDate,
        _shipments: &[ShipmentRecord],
        _now: DateTime<Utc>,
    ) -> Option<Result<Vec<String>, ServiceError>> {
        None
    }
}

/// Whether a delivery by `latest` keeps the order's promise (`promise`; none promised: any).
fn keeps_promise(promise: Option<DateTime<Utc>>, latest: Option<DateTime<Utc>>) -> bool {
    match (promise, latest) {
        (Some(p), Some(d)) => d <= p,
        (None, _) => true,
        (Some(_), None) => false,
    }
}

/// The site's rule: offers that keep the promise first, each part cheapest first.
fn rank(a: &RateOffer, b: &RateOffer) -> std::cmp::Ordering {
    b.meets_promise
        .cmp(&a.meets_promise)
        .then(a.amount.total_cmp(&b.amount))
}

/// The quotes with whether each keeps the order's promise.
fn promised(rec: &OrderRecord, mut quotes: Vec<Quote>) -> Vec<Quote> {
    let promise = rec.order.deliver_by.latest;
    for q in &mut quotes {
        q.offer.meets_promise = keeps_promise(promise, q.offer.latest_delivery);
    }
    quotes
}

/// A bought package's shipment record.
fn bought_record(
    id: &OrderId,
    package: u32,
    sold: &Sold,
    label: &LabelFile,
    c: &Caller,
    now: DateTime<Utc>,
) -> ShipmentRecord {
    ShipmentRecord {
        order: id.clone(),
        package,
        state: ShipmentState::Bought,
        tracking: sold
            .tracking
            .as_deref()
            .and_then(|t| TrackingNumber::parse(&Carrier::Other("any".into()), t).ok()),
        carrier: Some(
            Carrier::parse(&sold.carrier).unwrap_or_else(|_| Carrier::Other("carrier".into())),
        ),
        shipment_id: Some(sold.shipment_id.clone()),
        service_id: Some(sold.service_id.clone()),
        service_name: Some(sold.service_name.clone()),
        label_format: Some(
            match label.file_type {
                LabelFileType::Pdf => "pdf",
                LabelFileType::Png => "png",
                _ => "zpl",
            }
            .into(),
        ),
        at: now,
        by: c.user.clone(),
    }
}

impl Service {
    /// The API a package's label goes through: the one it was bought with, else the site's.
    /// The one place the API is chosen.
    pub(super) fn label_provider(
        &self,
        shipment: Option<&ShipmentRecord>,
    ) -> Result<&'static dyn LabelProvider, ServiceError> {
        let api = match shipment.filter(|s| s.state == ShipmentState::Bought) {
            Some(s)
                if self
                    .store()
                    .shipment_v2(&s.order, s.package)
                    .map_err(store_err)?
                    .is_some() =>
            {
                ShippingApi::ShippingV2
            }
            Some(_) => ShippingApi::MfnV0,
            None => self.settings.shipping.api,
        };
        Ok(match api {
            ShippingApi::ShippingV2 => &SHIPPING_V2,
            ShippingApi::MfnV0 => &MFN_V0,
        })
    }

    /// A package's offers from the provider, each saying whether it keeps the promise.
    fn quotes(
        &self,
        provider: &dyn LabelProvider,
        rec: &OrderRecord,
        package: &Package,
    ) -> Result<Vec<Quote>, ServiceError> {
        Ok(promised(rec, provider.quotes(self, rec, package)?))
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
        let provider = self.label_provider(None)?;
        let mut offers: Vec<RateOffer> = self
            .quotes(provider, rec, &package)?
            .into_iter()
            .map(|q| q.offer)
            .collect();
        offers.sort_by(rank);
        Ok(offers)
    }

    /// The offer to buy, by its place in `quotes`: the service named, or the cheapest buyable
    /// one that keeps the promise (of the carrier named). Refused when its price is above
    /// `seen` (what the labeler was shown) by more than the site's tolerance.
    pub(super) fn choose(
        &self,
        p: &Purchase,
        quotes: &[Quote],
        choice: Choice,
        seen: Option<f64>,
    ) -> Result<usize, ServiceError> {
        let id = p.id();
        let n = p.package;
        let i = match choice.service {
            Some(s) => quotes
                .iter()
                .position(|q| q.offer.service_id == s)
                .ok_or_else(|| {
                    ServiceError::Conflict(format!(
                        "order {id} package {n}: Amazon no longer offers {s}; look at the rates again and choose another"
                    ))
                })?,
            None => {
                let mut best: Vec<usize> = (0..quotes.len()).collect();
                best.sort_by(|&a, &b| rank(&quotes[a].offer, &quotes[b].offer));
                best.into_iter()
                    .map(|i| (i, &quotes[i]))
                    .filter(|(_, q)| q.buyable)
                    .filter(|(_, q)| {
                        choice
                            .carrier
                            .is_none_or(|c| q.offer.carrier.eq_ignore_ascii_case(c))
                    })
                    .find(|(_, q)| q.offer.meets_promise)
                    .map(|(i, _)| i)
                    .ok_or_else(|| {
                        ServiceError::Conflict(format!(
                            "no offer for order {id} package {n} delivers by its promised date: choose one with --service"
                        ))
                    })?
            }
        };
        let offer = &quotes[i].offer;
        if let Some(seen) = seen {
            let allowed = seen * (1.0 + self.settings.shipping.price_tolerance());
            if offer.amount > allowed + 0.005 {
                return Err(ServiceError::Conflict(format!(
                    "order {id} package {n}: {} now costs {:.2} {} (it was {seen:.2}), more than the site's {} % allows: look at the rates and choose again",
                    offer.service,
                    offer.amount,
                    offer.currency,
                    self.settings.shipping.price_tolerance_percent.unwrap_or(5)
                )));
            }
        }
        Ok(i)
    }

    /// Keeps a label Amazon sold: its shipment record and the label, the purchase complete.
    /// A label that cannot be read makes the order an exception for a lead (it was bought);
    /// an order changed meanwhile keeps the label for a lead to void or resolve.
    pub(super) fn keep_label(
        &self,
        p: &Purchase,
        sold: &Sold,
        label: Result<LabelFile, String>,
    ) -> Result<ShipmentRecord, ServiceError> {
        let id = p.id();
        let n = p.package;
        let label = match label {
            Ok(l) => l,
            Err(e) => {
                self.store()
                    .purchase_unknown(
                        id,
                        n,
                        &p.c.user,
                        &format!("label unreadable: {e}; shipment {}", sold.shipment_id),
                        p.now,
                    )
                    .map_err(store_err)?;
                self.changed();
                return Err(ServiceError::Conflict(format!(
                    "order {id} package {n}: the label was bought (shipment {}) but cannot be read: {e}; the order is an exception for a lead",
                    sold.shipment_id
                )));
            }
        };
        let record = bought_record(id, n, sold, &label, p.c, p.now);
        let (_, outcome) = self
            .store_alone()
            .complete_purchase(
                crate::store::shipping::Sold {
                    record: &record,
                    label: &label.bytes,
                    open: p.open,
                    postage: Some((&sold.currency, sold.amount)),
                    v2: sold.details.as_ref(),
                },
                &p.c.user,
                p.now,
            )
            .map_err(store_err)?;
        self.changed();
        if outcome == Bought::Moved {
            return Err(ServiceError::Conflict(format!(
                "order {id}: the label was bought (shipment {}), but the order changed meanwhile; it is kept for a lead to void or resolve",
                sold.shipment_id
            )));
        }
        Ok(record)
    }

    /// Buys a label for every package of the order that has none (the offer named for each,
    /// or the rule's choice per package), one purchase at a time; never twice for a package.
    /// Stopped partway (a refusal, a lost answer), the packages bought keep their labels and
    /// the same request again buys only the rest. Returns every package's record.
    pub(super) fn buy_label(
        &self,
        c: &Caller,
        id: &OrderId,
        choice: Choice,
        now: DateTime<Utc>,
    ) -> Result<Vec<ShipmentRecord>, ServiceError> {
        let rec = self.packed_order(id)?;
        self.refuse_if_held(id)?;
        // Labelled through an API that follows up (v2: Transparency codes Amazon has not
        // taken yet): only the follow-up is sent.
        let follows_up = self.label_provider(None)?.follows_up();
        let resend = follows_up && rec.state == OrderState::Labelled;
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
            let p = Purchase {
                c,
                rec: &rec,
                package: package.number,
                open: &open,
                now,
            };
            let provider = self.label_provider(shipment.as_ref())?;
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
                None => provider.buy(self, &p, &package, choice)?,
            };
            if follows_up {
                match provider.follow_up(self, &p, &package, &bought) {
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

    /// Sends what Amazon still needs for the order's bought packages (Shipping API v2: the
    /// Transparency codes it has not taken yet), at the day's close, before the order leaves.
    pub(crate) fn send_unsent_codes(
        &self,
        c: &Caller,
        rec: &OrderRecord,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        if !self.label_provider(None)?.follows_up() {
            return Ok(());
        }
        let packages = self.open_packages(&rec.order.id)?;
        let open: Vec<u32> = packages.iter().map(|(p, _)| p.number).collect();
        let mut unsent = Vec::new();
        for (package, shipment) in packages {
            let Some(s) = shipment else { continue };
            let p = Purchase {
                c,
                rec,
                package: package.number,
                open: &open,
                now,
            };
            if let Err(e) = self
                .label_provider(Some(&s))?
                .follow_up(self, &p, &package, &s)
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

    /// Voids a package's bought label at Amazon, through the API it was bought with.
    pub(super) fn void_label(&self, id: &OrderId, s: &ShipmentRecord) -> Result<(), ServiceError> {
        self.label_provider(Some(s))?.void(self, id, s)
    }

    /// The day's collection forms, where the day's labels were bought through an API that
    /// makes them; none otherwise.
    pub(super) fn collection_forms(
        &self,
        day: NaiveDate,
        shipments: &[ShipmentRecord],
        now: DateTime<Utc>,
    ) -> Option<Result<Vec<String>, ServiceError>> {
        let mut providers = shipments
            .iter()
            .filter(|s| s.state == ShipmentState::Bought)
            .filter_map(|s| self.label_provider(Some(s)).ok());
        providers.find_map(|p| p.collection_forms(self, day, shipments, now))
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
            let store = self.store();
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
        // Purchases in flight at once: as many as the API's quota lets the network use.
        let workers = self.label_provider(None)?.workers().min(total.max(1));
        let next = AtomicUsize::new(0);
        let done = AtomicUsize::new(0);
        type Outcome = (usize, Result<Vec<ShipmentRecord>, String>);
        let results: Mutex<Vec<Outcome>> = Mutex::new(Vec::new());
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|_| ServiceError::Store("no async runtime for Amazon calls".into()))?;
        let choice = Choice {
            service: wave.service.as_deref(),
            carrier: wave.carrier.as_deref(),
        };
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| {
                    let _runtime = handle.enter();
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        let Some((_, id)) = orders.get(i) else { break };
                        let outcome = self
                            .buy_label(c, id, choice, now)
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
