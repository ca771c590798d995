//! Buy Shipping through Amazon's Shipping API v2 (`shippingV2.json`): rates for a package of an
//! Amazon order, a purchase that carries an idempotency key (so a lost answer is settled by
//! sending the same request again, never by a second purchase), reprints, voids, tracking, and
//! the carrier's end-of-day collection form.
//!
//! Only the parts of the model packline sends or reads are typed here. For an Amazon order the
//! ship-to address is Amazon's own (the request has none, and no answer read here carries one),
//! so none of these operations needs a Restricted Data Token; the label itself is personal data
//! and is kept in a [`LabelFile`](super::label_file::LabelFile), whose `Debug` shows no byte of
//! it.

use std::fmt;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::client::{ApiError, SpApi};
use super::endpoints::{self, Endpoint, Request};
use super::label_file::parse_payload;
use super::model::ParseError;

pub const GET_RATES: &str = endpoints::GET_RATES.name;
pub const PURCHASE_SHIPMENT: &str = endpoints::PURCHASE_SHIPMENT.name;
pub const GET_SHIPMENT_DOCUMENTS: &str = endpoints::GET_SHIPMENT_DOCUMENTS.name;
pub const CANCEL_SHIPMENT: &str = endpoints::CANCEL_SHIPMENT.name;
pub const GET_TRACKING: &str = endpoints::GET_TRACKING.name;
pub const GET_UNMANIFESTED_SHIPMENTS: &str = endpoints::GET_UNMANIFESTED_SHIPMENTS.name;
pub const GENERATE_COLLECTION_FORM: &str = endpoints::GENERATE_COLLECTION_FORM.name;

/// The Amazon shipping business of Amazon.com (the model's default is the UK's, so packline
/// always sends one: [`SpApi::shipping_business`]).
pub const BUSINESS_US: &str = endpoints::SHIPPING_BUSINESS_US;
pub use super::endpoints::{SHIPPING_BUSINESSES as BUSINESS_IDS, business_of_marketplace};
pub use super::label_file::{PackageDocument, PackageDocumentDetail};

/// How long Amazon honours a rate: a purchase after this fails with `TOKEN_EXPIRED`.
pub const RATE_VALIDITY: std::time::Duration = std::time::Duration::from_secs(600);

/// `Address` (the seller's ship-from; never a buyer's).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    pub name: String,
    pub address_line1: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_line2: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    pub state_or_region: String,
    pub city: String,
    pub country_code: String,
    pub postal_code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
}

/// `Dimensions`, in centimetres.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dimensions {
    pub length: f64,
    pub width: f64,
    pub height: f64,
    /// `CENTIMETER` or `INCH`.
    pub unit: String,
}

/// `Weight`, in grams.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Weight {
    /// `GRAM`, `KILOGRAM`, `OUNCE` or `POUND`.
    pub unit: String,
    pub value: f64,
}

/// `Currency`: an amount of money.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Currency {
    pub value: f64,
    /// ISO 4217 code.
    pub unit: String,
}

/// `Item`: units of one order item in the package.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Item {
    /// The Amazon order item id.
    pub item_identifier: String,
    pub quantity: u32,
    /// Serial or Transparency codes of the units, when the item needs them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub serial_numbers: Vec<String>,
}

/// `Package`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Package {
    pub dimensions: Dimensions,
    pub weight: Weight,
    pub insured_value: Currency,
    /// The package's number on the order (`1`, `2`, …), kept to ask for its documents.
    pub package_client_reference_id: String,
    pub items: Vec<Item>,
}

/// `GetRatesRequest` for a package of an Amazon order (`channelType = AMAZON`: no ship-to).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GetRatesRequest {
    pub ship_from: Address,
    pub packages: Vec<Package>,
    pub channel_details: ChannelDetails,
}

/// `ChannelDetails`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelDetails {
    pub channel_type: &'static str,
    pub amazon_order_details: AmazonOrderDetails,
}

/// `AmazonOrderDetails`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AmazonOrderDetails {
    pub order_id: String,
}

impl ChannelDetails {
    pub fn amazon(order_id: &str) -> ChannelDetails {
        ChannelDetails {
            channel_type: "AMAZON",
            amazon_order_details: AmazonOrderDetails {
                order_id: order_id.to_owned(),
            },
        }
    }
}

/// `TimeWindow`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TimeWindow {
    #[serde(default)]
    pub start: Option<DateTime<Utc>>,
    #[serde(default)]
    pub end: Option<DateTime<Utc>>,
}

/// `Promise`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Promise {
    #[serde(default)]
    pub delivery_window: Option<TimeWindow>,
    #[serde(default)]
    pub pickup_window: Option<TimeWindow>,
}

/// `DocumentSize`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DocumentSize {
    pub width: f64,
    pub length: f64,
    /// `INCH` or `CENTIMETER`.
    pub unit: String,
}

/// `PrintOption`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrintOption {
    #[serde(default, rename = "supportedDPIs")]
    pub supported_dpis: Vec<u32>,
    #[serde(default)]
    pub supported_page_layouts: Vec<String>,
    #[serde(default)]
    pub supported_file_joining_options: Vec<bool>,
}

/// `SupportedDocumentSpecification`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SupportedDocumentSpecification {
    /// `PDF`, `PNG` or `ZPL`.
    pub format: String,
    pub size: DocumentSize,
    #[serde(default)]
    pub print_options: Vec<PrintOption>,
}

/// `Rate`: one offer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rate {
    pub rate_id: String,
    pub carrier_id: String,
    pub carrier_name: String,
    pub service_id: String,
    pub service_name: String,
    pub total_charge: Currency,
    #[serde(default)]
    pub promise: Promise,
    #[serde(default)]
    pub supported_document_specifications: Vec<SupportedDocumentSpecification>,
    #[serde(default)]
    pub requires_additional_inputs: bool,
}

impl Rate {
    /// The latest promised delivery.
    pub fn latest_delivery(&self) -> Option<DateTime<Utc>> {
        self.promise.delivery_window.as_ref().and_then(|w| w.end)
    }
}

/// `IneligibleRate`: a service that cannot take the package, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IneligibleRate {
    pub service_id: String,
    pub service_name: String,
    pub carrier_name: String,
    #[serde(default)]
    pub carrier_id: String,
    #[serde(default)]
    pub ineligibility_reasons: Vec<IneligibilityReason>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IneligibilityReason {
    pub code: String,
    pub message: String,
}

/// `GetRatesResult`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rates {
    pub request_token: String,
    pub rates: Vec<Rate>,
    #[serde(default)]
    pub ineligible_rates: Vec<IneligibleRate>,
}

/// `RequestedDocumentSpecification`: the label wanted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestedDocumentSpecification {
    pub format: String,
    pub size: DocumentSize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpi: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_layout: Option<String>,
    pub need_file_joining: bool,
    pub requested_document_types: Vec<String>,
}

impl RequestedDocumentSpecification {
    /// The label in `format` (`ZPL`, `PDF`, `PNG`) in the first size the rate offers for it
    /// (4×6 inches when it names none), at its first resolution.
    pub fn label_for(rate: &Rate, format: &str) -> Option<RequestedDocumentSpecification> {
        let spec = rate
            .supported_document_specifications
            .iter()
            .find(|s| s.format.eq_ignore_ascii_case(format))?;
        let option = spec.print_options.first();
        Some(RequestedDocumentSpecification {
            format: spec.format.clone(),
            size: spec.size.clone(),
            dpi: option.and_then(|o| o.supported_dpis.first().copied()),
            page_layout: option.and_then(|o| o.supported_page_layouts.first().cloned()),
            need_file_joining: false,
            requested_document_types: vec!["LABEL".into()],
        })
    }
}

/// `PurchaseShipmentRequest`. Stored with the purchase intent, so a resend is byte for byte the
/// same request under the same idempotency key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PurchaseShipmentRequest {
    pub request_token: String,
    pub rate_id: String,
    pub requested_document_specification: RequestedDocumentSpecification,
}

/// `PurchaseShipmentResult`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Purchase {
    pub shipment_id: String,
    pub package_document_details: Vec<PackageDocumentDetail>,
    #[serde(default)]
    pub promise: Promise,
}

/// `GetShipmentDocumentsResult`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShipmentDocuments {
    pub shipment_id: String,
    pub package_document_detail: PackageDocumentDetail,
}

/// `TrackingSummary.status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TrackingStatus {
    PreTransit,
    InTransit,
    Delivered,
    Lost,
    OutForDelivery,
    Rejected,
    Undeliverable,
    DeliveryAttempted,
    PickupCancelled,
    AwaitingCustomerPickup,
    #[serde(other)]
    Unknown,
}

impl TrackingStatus {
    /// The package is with the carrier (or past it).
    pub fn in_transit(self) -> bool {
        !matches!(
            self,
            TrackingStatus::PreTransit | TrackingStatus::PickupCancelled | TrackingStatus::Unknown
        )
    }

    /// Nothing more will happen to the package: no more polling.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            TrackingStatus::Delivered
                | TrackingStatus::Lost
                | TrackingStatus::Rejected
                | TrackingStatus::Undeliverable
        )
    }
}

/// `Event` of the tracking history (its location is the carrier's, and not kept).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrackingEvent {
    pub event_code: String,
    pub event_time: DateTime<Utc>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct TrackingSummary {
    #[serde(default)]
    pub status: Option<TrackingStatus>,
}

/// `GetTrackingResult`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tracking {
    pub tracking_id: String,
    #[serde(default)]
    pub event_history: Vec<TrackingEvent>,
    #[serde(default)]
    pub promised_delivery_date: Option<DateTime<Utc>>,
    #[serde(default)]
    pub summary: TrackingSummary,
}

impl Tracking {
    pub fn status(&self) -> TrackingStatus {
        self.summary.status.unwrap_or(TrackingStatus::Unknown)
    }

    /// When the package was delivered: the last `Delivered` event.
    pub fn delivered_at(&self) -> Option<DateTime<Utc>> {
        if self.status() != TrackingStatus::Delivered {
            return None;
        }
        self.event_history
            .iter()
            .filter(|e| e.event_code == "Delivered")
            .map(|e| e.event_time)
            .max()
    }
}

/// `UnmanifestedCarrierInformation`: a carrier with shipments not yet on a collection form.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UnmanifestedCarrier {
    #[serde(default)]
    pub carrier_id: String,
    #[serde(default)]
    pub carrier_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawUnmanifested {
    #[serde(default)]
    unmanifested_carrier_information_list: Vec<UnmanifestedCarrier>,
}

/// A collection form (`CollectionsFormDocument`): the carrier's end-of-day form, a PDF.
#[derive(Clone, PartialEq)]
pub struct CollectionForm {
    pub pdf: Vec<u8>,
}

impl fmt::Debug for CollectionForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CollectionForm {{ {} bytes }}", self.pdf.len())
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawFormResult {
    collections_form_document: RawFormDocument,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawFormDocument {
    base64_encoded_content: String,
    #[serde(default)]
    document_format: Option<String>,
}

fn invalid(operation: &str, path: &str, detail: &str) -> ParseError {
    ParseError::Invalid {
        source_name: operation.to_owned(),
        path: path.to_owned(),
        detail: detail.to_owned(),
    }
}

/// Parses a `getRates` answer.
pub fn parse_rates(bytes: &[u8]) -> Result<Rates, ParseError> {
    let rates: Rates = parse_payload(bytes, GET_RATES)?;
    if rates.request_token.is_empty() {
        return Err(invalid(GET_RATES, "payload.requestToken", "is empty"));
    }
    Ok(rates)
}

/// Parses a `purchaseShipment` answer: a shipment id and a readable label for every package.
pub fn parse_purchase(bytes: &[u8]) -> Result<Purchase, ParseError> {
    let p: Purchase = parse_payload(bytes, PURCHASE_SHIPMENT)?;
    if p.shipment_id.is_empty() {
        return Err(invalid(PURCHASE_SHIPMENT, "payload.shipmentId", "is empty"));
    }
    if p.package_document_details.is_empty() {
        return Err(invalid(
            PURCHASE_SHIPMENT,
            "payload.packageDocumentDetails",
            "names no package",
        ));
    }
    Ok(p)
}

/// Parses a `getShipmentDocuments` answer.
pub fn parse_documents(bytes: &[u8]) -> Result<ShipmentDocuments, ParseError> {
    parse_payload(bytes, GET_SHIPMENT_DOCUMENTS)
}

/// Parses a `getTracking` answer.
pub fn parse_tracking(bytes: &[u8]) -> Result<Tracking, ParseError> {
    parse_payload(bytes, GET_TRACKING)
}

/// Reads an answer the model gives without a `payload` wrapper; errors name the path only.
fn parse_bare<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    operation: &str,
) -> Result<T, ParseError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        ParseError::Invalid {
            source_name: operation.to_owned(),
            path: if path.is_empty() { ".".into() } else { path },
            detail: super::model::redacted_serde_message(&e.into_inner()),
        }
    })
}

/// Parses a `getUnmanifestedShipments` answer (`GetUnmanifestedShipmentsResponse`, which the
/// model gives without a `payload` wrapper): the carriers with shipments not on a form.
pub fn parse_unmanifested(bytes: &[u8]) -> Result<Vec<UnmanifestedCarrier>, ParseError> {
    let raw: RawUnmanifested = parse_bare(bytes, GET_UNMANIFESTED_SHIPMENTS)?;
    Ok(raw.unmanifested_carrier_information_list)
}

/// Parses a `generateCollectionForm` answer (`GenerateCollectionFormResponse`, without a
/// `payload` wrapper): a PDF, or an error naming what is wrong.
pub fn parse_collection_form(bytes: &[u8]) -> Result<CollectionForm, ParseError> {
    let op = GENERATE_COLLECTION_FORM;
    let raw: RawFormResult = parse_bare(bytes, op)?;
    let doc = raw.collections_form_document;
    if let Some(f) = doc.document_format.as_deref()
        && !f.eq_ignore_ascii_case("PDF")
    {
        return Err(invalid(
            op,
            "payload.collectionsFormDocument.documentFormat",
            "is not PDF",
        ));
    }
    let compact: String = doc
        .base64_encoded_content
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let pdf = base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map_err(|_| {
            invalid(
                op,
                "payload.collectionsFormDocument.base64EncodedContent",
                "is not base64",
            )
        })?;
    if !pdf.starts_with(b"%PDF-") {
        return Err(invalid(
            op,
            "payload.collectionsFormDocument.base64EncodedContent",
            "is not a PDF file",
        ));
    }
    Ok(CollectionForm { pdf })
}

/// Checks an id before it goes into a URL path or query: 1–128 letters, digits, `-` and `_`.
fn checked_id(operation: &'static str, what: &str, id: &str) -> Result<(), ApiError> {
    if id.is_empty()
        || id.len() > 128
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(ApiError::Request {
            operation,
            detail: format!("the {what} is not 1–128 letters, digits, - or _"),
        });
    }
    Ok(())
}

fn body_of<T: Serialize>(operation: &'static str, v: &T) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(v).map_err(|_| ApiError::Request {
        operation,
        detail: "the request does not serialize (a weight or size is not a number)".into(),
    })
}

impl SpApi {
    /// A Shipping API v2 call: its request with the shipping business header (and `more`).
    async fn call_v2<T>(
        &self,
        endpoint: &Endpoint,
        request: Request<'_>,
        more: Option<(&'static str, String)>,
        parse: impl Fn(&[u8]) -> Result<T, ParseError>,
    ) -> Result<T, ApiError> {
        let [business] = self.business(endpoint.name)?;
        let headers: Vec<_> = std::iter::once(business).chain(more).collect();
        let request = Request {
            headers: &headers,
            ..request
        };
        self.call(endpoint, request, parse).await
    }

    /// The shipping business header every Shipping API v2 request carries; a site whose
    /// marketplace has no business of its own, and that names none, is told how to set one.
    fn business(&self, operation: &'static str) -> Result<[(&'static str, String); 1], ApiError> {
        match self.shipping_business() {
            Some(b) => Ok([("x-amzn-shipping-business-id", b.to_owned())]),
            None => Err(ApiError::Request {
                operation,
                detail: "the site's marketplace has no Amazon shipping business of its own: set [shipping] business_id to one of AmazonShipping_US, _UK, _IN, _IT, _ES, _FR, _JP, _UAE, _SA or _EG".into(),
            }),
        }
    }

    /// `getRates`: the offers for a package, and the token that buys one of them within
    /// [`RATE_VALIDITY`]. A read: retried.
    pub async fn get_rates(&self, request: &GetRatesRequest) -> Result<Rates, ApiError> {
        let body = body_of(GET_RATES, request)?;
        self.call_v2(
            &endpoints::GET_RATES,
            Request::body(&body),
            None,
            parse_rates,
        )
        .await
    }

    /// `purchaseShipment` with an idempotency key: Amazon answers a request it has seen under
    /// the same key with the first purchase, so it is resent after a timeout, a 5xx or an
    /// unreadable answer like a read. What is still unknown after the last attempt comes back
    /// as [`ApiError::OutcomeUnknown`] or [`ApiError::GaveUp`]: the caller keeps the key and
    /// the request and sends them again later, never a new purchase.
    pub async fn purchase_shipment(
        &self,
        request: &PurchaseShipmentRequest,
        idempotency_key: &str,
    ) -> Result<Purchase, ApiError> {
        checked_id(PURCHASE_SHIPMENT, "idempotency key", idempotency_key)?;
        let body = body_of(PURCHASE_SHIPMENT, request)?;
        self.call_v2(
            &endpoints::PURCHASE_SHIPMENT,
            Request::body(&body),
            Some(("x-amzn-IdempotencyKey", idempotency_key.to_owned())),
            parse_purchase,
        )
        .await
    }

    /// `getShipmentDocuments`: a package's label again (a reprint).
    pub async fn get_shipment_documents(
        &self,
        shipment_id: &str,
        package: &str,
        format: &str,
    ) -> Result<ShipmentDocuments, ApiError> {
        checked_id(GET_SHIPMENT_DOCUMENTS, "shipment id", shipment_id)?;
        let request = Request {
            path: &[shipment_id],
            query: &[("packageClientReferenceId", package), ("format", format)],
            ..Request::default()
        };
        self.call_v2(
            &endpoints::GET_SHIPMENT_DOCUMENTS,
            request,
            None,
            parse_documents,
        )
        .await
    }

    /// `cancelShipment`: voids a label. Retried like a read (a second cancel buys nothing).
    pub async fn cancel_shipment_v2(&self, shipment_id: &str) -> Result<(), ApiError> {
        checked_id(CANCEL_SHIPMENT, "shipment id", shipment_id)?;
        self.call_v2(
            &endpoints::CANCEL_SHIPMENT,
            Request::at(&[shipment_id]),
            None,
            |b| parse_payload::<serde_json::Value>(b, CANCEL_SHIPMENT).map(|_| ()),
        )
        .await
    }

    /// `getTracking`: where a package is.
    pub async fn get_tracking(
        &self,
        tracking_id: &str,
        carrier_id: &str,
    ) -> Result<Tracking, ApiError> {
        checked_id(GET_TRACKING, "tracking id", tracking_id)?;
        checked_id(GET_TRACKING, "carrier id", carrier_id)?;
        let request = Request {
            query: &[("trackingId", tracking_id), ("carrierId", carrier_id)],
            ..Request::default()
        };
        self.call_v2(&endpoints::GET_TRACKING, request, None, parse_tracking)
            .await
    }

    /// `getUnmanifestedShipments`: the carriers with shipments bought and not yet on a form.
    pub async fn get_unmanifested_shipments(&self) -> Result<Vec<UnmanifestedCarrier>, ApiError> {
        self.call_v2(
            &endpoints::GET_UNMANIFESTED_SHIPMENTS,
            Request::body(b"{}"),
            None,
            parse_unmanifested,
        )
        .await
    }

    /// `generateCollectionForm`: the carrier's form for the shipments from `ship_from` not yet
    /// on one. Sent with an idempotency key (the day and carrier), so a resend after a lost
    /// answer is the same form, not a second one.
    pub async fn generate_collection_form(
        &self,
        carrier_id: &str,
        ship_from: &Address,
        idempotency_key: &str,
    ) -> Result<CollectionForm, ApiError> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Body<'a> {
            carrier_id: &'a str,
            ship_from_address: &'a Address,
        }
        checked_id(GENERATE_COLLECTION_FORM, "carrier id", carrier_id)?;
        checked_id(GENERATE_COLLECTION_FORM, "idempotency key", idempotency_key)?;
        let body = body_of(
            GENERATE_COLLECTION_FORM,
            &Body {
                carrier_id,
                ship_from_address: ship_from,
            },
        )?;
        self.call_v2(
            &endpoints::GENERATE_COLLECTION_FORM,
            Request::body(&body),
            Some(("x-amzn-IdempotencyKey", idempotency_key.to_owned())),
            parse_collection_form,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_purchase_without_packages_or_a_rates_answer_without_token_is_refused() {
        let e = parse_purchase(
            br#"{"payload":{"shipmentId":"s1","packageDocumentDetails":[],"promise":{}}}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("packageDocumentDetails"), "{e}");
        let e = parse_rates(br#"{"payload":{"requestToken":"","rates":[]}}"#).unwrap_err();
        assert!(e.to_string().contains("requestToken"), "{e}");
    }

    #[test]
    fn a_collection_form_must_be_a_pdf() {
        let ok = format!(
            r#"{{"collectionsFormDocument":{{"base64EncodedContent":"{}","documentFormat":"PDF"}}}}"#,
            base64::engine::general_purpose::STANDARD.encode(b"%PDF-1.7 ...")
        );
        assert!(
            parse_collection_form(ok.as_bytes())
                .unwrap()
                .pdf
                .starts_with(b"%PDF-")
        );
        let not = format!(
            r#"{{"collectionsFormDocument":{{"base64EncodedContent":"{}"}}}}"#,
            base64::engine::general_purpose::STANDARD.encode(b"hello")
        );
        let e = parse_collection_form(not.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("not a PDF"), "{e}");
    }

    #[test]
    fn tracking_tells_delivery_from_its_last_delivered_event() {
        let t = parse_tracking(
            br#"{"payload":{"trackingId":"T1","alternateLegTrackingId":"","promisedDeliveryDate":"2026-12-04T20:00:00Z",
            "eventHistory":[{"eventCode":"PickupDone","eventTime":"2026-12-01T18:00:00Z"},
                            {"eventCode":"Delivered","eventTime":"2026-12-03T15:00:00Z"}],
            "summary":{"status":"Delivered"}}}"#,
        )
        .unwrap();
        assert_eq!(t.status(), TrackingStatus::Delivered);
        assert_eq!(
            t.delivered_at().unwrap().to_rfc3339(),
            "2026-12-03T15:00:00+00:00"
        );
        let odd =
            parse_tracking(br#"{"payload":{"trackingId":"T1","summary":{"status":"Teleported"}}}"#)
                .unwrap();
        assert_eq!(odd.status(), TrackingStatus::Unknown);
        assert_eq!(odd.delivered_at(), None);
    }

    #[test]
    fn ids_going_into_urls_are_checked() {
        assert!(checked_id(GET_TRACKING, "tracking id", "1Z999AA10123456784").is_ok());
        let e = checked_id(GET_TRACKING, "tracking id", "../x?y").unwrap_err();
        assert!(e.to_string().contains("tracking id"), "{e}");
        assert!(checked_id(GET_TRACKING, "tracking id", "").is_err());
    }
}
