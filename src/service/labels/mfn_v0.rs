//! Merchant Fulfillment v0: a label bought with `createShipment`, its intent recorded first.
//! The API has no idempotency key, so an answer that never comes makes the order an exception
//! for a lead instead of a second purchase; a lead settles it from Seller Central with the
//! shipment's id (`getShipment`).

use chrono::{DateTime, Utc};

use super::{Choice, LabelProvider, Purchase, Quote, Sold};
use crate::amazon::client::ApiError;
use crate::amazon::mfn;
use crate::domain::{CodeKind, OrderId, OrderRecord, Package};
use crate::service::amazon_calls::{api_err, block_on};
use crate::service::{Caller, RateOffer, Service, ServiceError, store_err};
use crate::store::shipping::ShipmentRecord;

/// Merchant Fulfillment v0.
pub(super) struct MfnV0;

/// A shipment as the flow keeps it.
fn sold(s: &mfn::Shipment) -> Sold {
    Sold {
        shipment_id: s.shipment_id.clone(),
        carrier: s.shipping_service.carrier_name.clone(),
        service_id: s.shipping_service.shipping_service_id.clone(),
        service_name: s.shipping_service.shipping_service_name.clone(),
        tracking: s.tracking_id.clone(),
        currency: s.shipping_service.rate.currency_code.clone(),
        amount: s.shipping_service.rate.amount,
        details: None,
    }
}

impl LabelProvider for MfnV0 {
    /// The API allows 2 purchases a second: two at a time is all it can use.
    fn workers(&self) -> usize {
        2
    }

    fn quotes(
        &self,
        svc: &Service,
        rec: &OrderRecord,
        package: &Package,
    ) -> Result<Vec<Quote>, ServiceError> {
        let details = svc.shipment_details(rec, package)?;
        let api = svc.amazon()?;
        let eligible =
            block_on(api.get_eligible_shipment_services(&details, None))?.map_err(api_err)?;
        Ok(eligible
            .services
            .iter()
            .map(|s| Quote {
                offer: RateOffer {
                    service_id: s.shipping_service_id.clone(),
                    carrier: s.carrier_name.clone(),
                    service: s.shipping_service_name.clone(),
                    amount: s.rate.amount,
                    currency: s.rate.currency_code.clone(),
                    latest_delivery: s.latest_estimated_delivery_date,
                    meets_promise: false,
                },
                buyable: true,
            })
            .collect())
    }

    /// The service named is bought as it is: its price is known only from the purchase's
    /// answer, so no tolerance applies to it.
    fn buy(
        &self,
        svc: &Service,
        p: &Purchase,
        package: &Package,
        choice: Choice,
    ) -> Result<ShipmentRecord, ServiceError> {
        let id = p.id();
        let n = p.package;
        let details = svc.shipment_details(p.rec, package)?;
        let service_id = match choice.service {
            Some(s) => s.to_owned(),
            None => {
                let quotes = svc.quotes(self, p.rec, package)?;
                let best = svc.choose(p, &quotes, choice, None)?;
                quotes[best].offer.service_id.clone()
            }
        };
        // Everything the call needs is in hand before the intent is written: an intent is only
        // ever left by a call that was really made.
        let api = svc.amazon()?;
        svc.store()
            .begin_purchase(id, n, &service_id, &p.c.user, p.now)
            .map_err(store_err)?;
        let request = mfn::CreateShipment {
            shipment_request_details: details,
            shipping_service_id: service_id.clone(),
            shipping_service_offer_id: None,
            hazmat_type: None,
        };
        match block_on(api.create_shipment(&request))? {
            Ok(shipment) => svc.keep_label(
                p,
                &sold(&shipment),
                shipment.label.decode().map_err(|e| e.to_string()),
            ),
            Err(e @ ApiError::OutcomeUnknown { .. }) => {
                svc.store()
                    .purchase_unknown(id, n, &p.c.user, &e.to_string(), p.now)
                    .map_err(store_err)?;
                svc.changed();
                Err(ServiceError::Conflict(format!(
                    "order {id} package {n}: {e}. It is now an exception: a lead checks the shipment in Seller Central (packline lookup) or voids it; packline will not buy again"
                )))
            }
            Err(e) => {
                // Refused before anything was bought: the intent goes.
                svc.store().abandon_purchase(id, n).map_err(store_err)?;
                Err(api_err(e))
            }
        }
    }

    fn void(&self, svc: &Service, _: &OrderId, s: &ShipmentRecord) -> Result<(), ServiceError> {
        let api = svc.amazon()?;
        let shipment_id = s.shipment_id.clone().unwrap_or_default();
        block_on(api.cancel_shipment(&shipment_id))?
            .map(|_| ())
            .map_err(api_err)
    }
}

impl Service {
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

    /// A lead records the shipment found in Seller Central after a purchase of the package
    /// whose outcome was unknown: looked up by its id (`getShipment`), its label kept.
    pub(in crate::service) fn record_found_purchase(
        &self,
        c: &Caller,
        id: &OrderId,
        package: u32,
        shipment_id: &str,
        now: DateTime<Utc>,
    ) -> Result<ShipmentRecord, ServiceError> {
        if !mfn::is_shipment_id(shipment_id) {
            return Err(ServiceError::Invalid(
                "a shipment id looks like 8-4-4-4-12 hexadecimal digits".into(),
            ));
        }
        let api = self.amazon()?;
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
        let sold = sold(&found);
        let record = super::bought_record(id, package, &sold, &label, c, now);
        self.store_alone()
            .record_found_purchase(&record, &label.bytes, Some((&sold.currency, sold.amount)))
            .map_err(store_err)?;
        Ok(record)
    }
}
