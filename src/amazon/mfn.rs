//! Merchant Fulfillment v0 (Amazon's Buy Shipping): shipping offers for a packed box
//! (`getEligibleShipmentServices`), buying a label (`createShipment`), looking a shipment up
//! (`getShipment`) and voiding it (`cancelShipment`), in the model's shapes
//! (`merchantFulfillmentV0.json`).
//!
//! Addresses and labels are personal data: no type here prints them (`Debug` is redacted, there
//! is no `Display`), their memory is wiped on drop, and errors name fields and paths, never
//! values. Buying postage is not idempotent: `createShipment` is never resent once it may have
//! reached Amazon (see [`SpApi::create_shipment`]).

use std::fmt;
use std::io::Read as _;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use md5::Digest as _;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::client::{ApiError, SpApi};
use super::endpoints::{self, Request};
use super::label_file::parse_payload;
pub use super::label_file::{LabelError, LabelFile, LabelFileType, LabelFormat, MAX_LABEL_BYTES};
use super::model::ParseError;

pub const GET_ELIGIBLE_SHIPMENT_SERVICES: &str = endpoints::GET_ELIGIBLE_SHIPMENT_SERVICES.name;
pub const CREATE_SHIPMENT: &str = endpoints::CREATE_SHIPMENT.name;
pub const GET_SHIPMENT: &str = endpoints::GET_SHIPMENT.name;
pub const CANCEL_SHIPMENT: &str = endpoints::MFN_CANCEL_SHIPMENT.name;

/// A postal address (`Address`): the seller's ship-from, or the buyer's ship-to.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(rename_all = "PascalCase")]
pub struct Address {
    pub name: String,
    pub address_line1: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_line2: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_line3: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub district_or_county: Option<String>,
    /// Required by the model; Amazon sends it empty for ship-to addresses.
    #[serde(default)]
    pub email: String,
    pub city: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_or_province_code: Option<String>,
    pub postal_code: String,
    pub country_code: String,
    #[serde(default)]
    pub phone: String,
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Address { <personal data redacted> }")
    }
}

/// `UnitOfWeight`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WeightUnit {
    #[serde(rename = "oz")]
    Ounces,
    #[serde(rename = "g")]
    Grams,
}

/// `Weight`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Weight {
    pub value: f64,
    pub unit: WeightUnit,
}

/// `UnitOfLength`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LengthUnit {
    Inches,
    Centimeters,
}

/// `PackageDimensions`: length, width, height and unit, or one of Amazon's predefined boxes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PackageDimensions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<LengthUnit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predefined_package_dimensions: Option<String>,
}

impl PackageDimensions {
    /// A box of these measures.
    pub fn box_of(length: f64, width: f64, height: f64, unit: LengthUnit) -> Self {
        PackageDimensions {
            length: Some(length),
            width: Some(width),
            height: Some(height),
            unit: Some(unit),
            predefined_package_dimensions: None,
        }
    }
}

/// `Item`: an order item and how many of it go in this package.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Item {
    pub order_item_id: String,
    pub quantity: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_weight: Option<Weight>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_description: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transparency_code_list: Vec<String>,
}

/// `CurrencyAmount`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CurrencyAmount {
    pub currency_code: String,
    pub amount: f64,
}

/// `DeliveryExperienceType`: the delivery confirmation asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeliveryExperience {
    DeliveryConfirmationWithAdultSignature,
    DeliveryConfirmationWithSignature,
    DeliveryConfirmationWithoutSignature,
    NoTracking,
    /// A value this version of packline does not know (read only, never sent).
    #[serde(other)]
    Unknown,
}

/// `CarrierWillPickUpOption`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CarrierWillPickUpOption {
    CarrierWillPickUp,
    ShipperWillDropOff,
    NoPreference,
    #[serde(other)]
    Unknown,
}

/// `ShippingServiceOptions`: extra services, and the label format wanted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ShippingServiceOptions {
    pub delivery_experience: DeliveryExperience,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declared_value: Option<CurrencyAmount>,
    pub carrier_will_pick_up: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier_will_pick_up_option: Option<CarrierWillPickUpOption>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_format: Option<LabelFormat>,
}

/// `LabelCustomization`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LabelCustomization {
    /// Up to 14 characters, printed on ZPL labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_text_for_label: Option<String>,
    /// `AmazonOrderId` prints the order id on the label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standard_id_for_label: Option<String>,
}

/// `ShipmentRequestDetails`: the packed box, for offers and for the purchase.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ShipmentRequestDetails {
    pub amazon_order_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seller_order_id: Option<String>,
    pub item_list: Vec<Item>,
    pub ship_from_address: Address,
    pub package_dimensions: PackageDimensions,
    pub weight: Weight,
    /// Only offers that deliver by then are returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub must_arrive_by_date: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ship_date: Option<DateTime<Utc>>,
    pub shipping_service_options: ShippingServiceOptions,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_customization: Option<LabelCustomization>,
}

impl fmt::Debug for ShipmentRequestDetails {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShipmentRequestDetails")
            .field("amazon_order_id", &self.amazon_order_id)
            .field("item_list", &self.item_list)
            .field("ship_from_address", &self.ship_from_address)
            .field("package_dimensions", &self.package_dimensions)
            .field("weight", &self.weight)
            .field("must_arrive_by_date", &self.must_arrive_by_date)
            .field("ship_date", &self.ship_date)
            .field("shipping_service_options", &self.shipping_service_options)
            .finish_non_exhaustive()
    }
}

/// `ShippingOfferingFilter`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ShippingOfferingFilter {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub include_packing_slip_with_label: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub include_complex_shipping_options: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub carrier_will_pick_up: Option<CarrierWillPickUpOption>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery_experience: Option<String>,
}

/// `HazmatType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum HazmatType {
    None,
    #[serde(rename = "LQHazmat")]
    LqHazmat,
}

/// A `createShipment` request: the box and the offer chosen.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateShipment {
    pub shipment_request_details: ShipmentRequestDetails,
    pub shipping_service_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipping_service_offer_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hazmat_type: Option<HazmatType>,
}

/// A shipping service offer (`ShippingService`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ShippingService {
    pub shipping_service_name: String,
    pub carrier_name: String,
    pub shipping_service_id: String,
    pub shipping_service_offer_id: String,
    /// When the carrier will ship the package.
    pub ship_date: DateTime<Utc>,
    #[serde(default)]
    pub earliest_estimated_delivery_date: Option<DateTime<Utc>>,
    #[serde(default)]
    pub latest_estimated_delivery_date: Option<DateTime<Utc>>,
    pub rate: CurrencyAmount,
    #[serde(default)]
    pub rate_with_adjustments: Option<CurrencyAmount>,
    pub shipping_service_options: ShippingServiceOptions,
    #[serde(default)]
    pub available_label_formats: Vec<LabelFormat>,
    #[serde(default)]
    pub requires_additional_seller_inputs: bool,
}

/// A service Amazon declined to offer for this package, and why (`RejectedShippingService`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RejectedService {
    pub carrier_name: String,
    pub shipping_service_name: String,
    pub shipping_service_id: String,
    pub rejection_reason_code: String,
    #[serde(default)]
    pub rejection_reason_message: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CarrierName {
    carrier_name: String,
}

/// The offers for a package (`GetEligibleShipmentServicesResult`).
#[derive(Clone, Debug, PartialEq)]
pub struct EligibleServices {
    pub services: Vec<ShippingService>,
    pub rejected: Vec<RejectedService>,
    /// Carriers that could not quote just now (an outage).
    pub temporarily_unavailable: Vec<String>,
    /// Carriers whose terms the seller has not accepted in Seller Central.
    pub terms_not_accepted: Vec<String>,
}

/// `ShipmentStatus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ShipmentStatus {
    Purchased,
    RefundPending,
    RefundRejected,
    RefundApplied,
    #[serde(other)]
    Unknown,
}

/// `LabelDimensions`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LabelDimensions {
    pub length: f64,
    pub width: f64,
    pub unit: LengthUnit,
}

/// A label as Amazon sends it (`Label` with `FileContents`): base64 of gzip, with an MD5
/// checksum. Decode it with [`EncodedLabel::decode`]. Its contents are personal data.
#[derive(Clone, PartialEq, Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(rename_all = "PascalCase")]
pub struct EncodedLabel {
    #[serde(default)]
    pub custom_text_for_label: Option<String>,
    #[zeroize(skip)]
    pub dimensions: LabelDimensions,
    #[zeroize(skip)]
    pub file_contents: FileContents,
    #[serde(default)]
    #[zeroize(skip)]
    pub label_format: Option<LabelFormat>,
}

/// `FileContents`.
#[derive(Clone, PartialEq, Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(rename_all = "PascalCase")]
pub struct FileContents {
    /// Base64 of the gzip-compressed label file.
    pub contents: String,
    /// A MIME type; Amazon sends it empty with the empty label of a cancelled shipment.
    #[serde(default)]
    pub file_type: String,
    /// Base64 of the MD5 digest of the label file.
    #[serde(default)]
    pub checksum: String,
}

impl fmt::Debug for EncodedLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncodedLabel")
            .field("dimensions", &self.dimensions)
            .field("label_format", &self.label_format)
            .field("file_type", &self.file_contents.file_type)
            .field("encoded_len", &self.file_contents.contents.len())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for FileContents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "FileContents {{ file_type: {:?}, <{} bytes redacted> }}",
            self.file_type,
            self.contents.len()
        )
    }
}

impl EncodedLabel {
    /// Whether this is the empty label Amazon returns for a cancelled shipment.
    pub fn is_empty(&self) -> bool {
        self.file_contents.contents.is_empty()
    }

    /// base64 → gunzip → MD5 check → the label file. The model describes `Checksum` as "an MD5
    /// hash to validate the document data, in the form of a Base64 string": the digest of the
    /// label file itself. It does not say so outright, so a digest of the compressed bytes is
    /// accepted too; either way a damaged label is refused.
    pub fn decode(&self) -> Result<LabelFile, LabelError> {
        let fc = &self.file_contents;
        if fc.contents.is_empty() {
            return Err(LabelError::Empty);
        }
        let file_type =
            LabelFileType::from_mime(&fc.file_type).ok_or(LabelError::UnknownFileType)?;
        let engine = base64::engine::general_purpose::STANDARD;
        // Base64 as sent, tolerating line breaks some encoders add.
        let compact: zeroize::Zeroizing<String> = zeroize::Zeroizing::new(
            fc.contents
                .chars()
                .filter(|c| !c.is_ascii_whitespace())
                .collect(),
        );
        let gz = zeroize::Zeroizing::new(
            engine
                .decode(compact.as_bytes())
                .map_err(|_| LabelError::NotBase64)?,
        );
        let mut bytes = Vec::new();
        let mut reader =
            flate2::read::GzDecoder::new(gz.as_slice()).take(MAX_LABEL_BYTES as u64 + 1);
        if reader.read_to_end(&mut bytes).is_err() {
            bytes.zeroize();
            return Err(LabelError::NotGzip);
        }
        if bytes.len() > MAX_LABEL_BYTES {
            bytes.zeroize();
            return Err(LabelError::TooLarge);
        }
        let expected = engine
            .decode(fc.checksum.trim().as_bytes())
            .ok()
            .filter(|d| d.len() == 16)
            .ok_or(LabelError::BadChecksumField)?;
        let of_file = md5::Md5::digest(&bytes);
        let of_gzip = md5::Md5::digest(gz.as_slice());
        if expected.as_slice() != of_file.as_slice() && expected.as_slice() != of_gzip.as_slice() {
            bytes.zeroize();
            return Err(LabelError::ChecksumMismatch);
        }
        if !file_type.matches(&bytes) {
            bytes.zeroize();
            return Err(LabelError::WrongFileType(file_type.mime()));
        }
        Ok(LabelFile {
            file_type,
            format: self.label_format,
            bytes,
        })
    }
}

/// A shipment (`Shipment`): the purchase, with addresses and the label.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Shipment {
    pub shipment_id: String,
    pub amazon_order_id: String,
    #[serde(default)]
    pub seller_order_id: Option<String>,
    pub item_list: Vec<Item>,
    pub ship_from_address: Address,
    pub ship_to_address: Address,
    pub package_dimensions: PackageDimensions,
    pub weight: Weight,
    pub insurance: CurrencyAmount,
    pub shipping_service: ShippingService,
    pub label: EncodedLabel,
    pub status: ShipmentStatus,
    #[serde(default)]
    pub tracking_id: Option<String>,
    pub created_date: DateTime<Utc>,
    #[serde(default)]
    pub last_updated_date: Option<DateTime<Utc>>,
}

impl fmt::Debug for Shipment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shipment")
            .field("shipment_id", &self.shipment_id)
            .field("amazon_order_id", &self.amazon_order_id)
            .field("status", &self.status)
            .field("tracking_id", &self.tracking_id)
            .field(
                "shipping_service_id",
                &self.shipping_service.shipping_service_id,
            )
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

pub use packline_spapi::mfn::is_shipment_id;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawEligible {
    shipping_service_list: Vec<ShippingService>,
    #[serde(default)]
    rejected_shipping_service_list: Vec<RejectedService>,
    #[serde(default)]
    temporarily_unavailable_carrier_list: Vec<CarrierName>,
    #[serde(default)]
    terms_and_conditions_not_accepted_carrier_list: Vec<CarrierName>,
}

/// Parses a `getEligibleShipmentServices` response.
pub fn parse_eligible_services(bytes: &[u8]) -> Result<EligibleServices, ParseError> {
    let raw: RawEligible = parse_payload(bytes, GET_ELIGIBLE_SHIPMENT_SERVICES)?;
    Ok(EligibleServices {
        services: raw.shipping_service_list,
        rejected: raw.rejected_shipping_service_list,
        temporarily_unavailable: raw
            .temporarily_unavailable_carrier_list
            .into_iter()
            .map(|c| c.carrier_name)
            .collect(),
        terms_not_accepted: raw
            .terms_and_conditions_not_accepted_carrier_list
            .into_iter()
            .map(|c| c.carrier_name)
            .collect(),
    })
}

/// Parses a `createShipment`, `getShipment` or `cancelShipment` response.
pub fn parse_shipment(bytes: &[u8], operation: &str) -> Result<Shipment, ParseError> {
    parse_payload(bytes, operation)
}

/// A shipment id checked before it goes into a path.
fn checked_shipment(operation: &'static str, id: &str) -> Result<(), ApiError> {
    if is_shipment_id(id) {
        Ok(())
    } else {
        Err(ApiError::Request {
            operation,
            detail: "the shipment id is not an MFN shipment id (a UUID)".into(),
        })
    }
}

impl SpApi {
    /// `getEligibleShipmentServices`: the offers for a packed box. Read-only, so it is retried
    /// like any read.
    pub async fn get_eligible_shipment_services(
        &self,
        details: &ShipmentRequestDetails,
        filter: Option<&ShippingOfferingFilter>,
    ) -> Result<EligibleServices, ApiError> {
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct Body<'a> {
            shipment_request_details: &'a ShipmentRequestDetails,
            #[serde(skip_serializing_if = "Option::is_none")]
            shipping_offering_filter: Option<&'a ShippingOfferingFilter>,
        }
        let body = zeroize::Zeroizing::new(
            serde_json::to_vec(&Body {
                shipment_request_details: details,
                shipping_offering_filter: filter,
            })
            .map_err(|_| ApiError::Request {
                operation: GET_ELIGIBLE_SHIPMENT_SERVICES,
                detail: "the request does not serialize (a weight or size is not a number)".into(),
            })?,
        );
        self.call(
            &endpoints::GET_ELIGIBLE_SHIPMENT_SERVICES,
            Request::body(&body),
            parse_eligible_services,
        )
        .await
    }

    /// `createShipment`: buys the label. Sent with a Restricted Data Token (the answer holds the
    /// ship-to address).
    ///
    /// **Never resent once it may have reached Amazon**, because a second purchase buys postage
    /// twice. It is retried only when Amazon surely did not act on it: a 429 (throttled before
    /// processing) or a connection that failed before the request went out. A timeout, a dropped
    /// connection, a 5xx or an unreadable success answer return [`ApiError::OutcomeUnknown`]:
    /// the label may or may not have been bought, and the caller must find out (a lead, with
    /// `getShipment`) before buying again.
    pub async fn create_shipment(&self, request: &CreateShipment) -> Result<Shipment, ApiError> {
        let body = zeroize::Zeroizing::new(serde_json::to_vec(request).map_err(|_| {
            ApiError::Request {
                operation: CREATE_SHIPMENT,
                detail: "the request does not serialize (a weight or size is not a number)".into(),
            }
        })?);
        self.call(&endpoints::CREATE_SHIPMENT, Request::body(&body), |b| {
            parse_shipment(b, CREATE_SHIPMENT)
        })
        .await
    }

    /// `getShipment`: a shipment by id, with its label (empty once cancelled).
    pub async fn get_shipment(&self, shipment_id: &str) -> Result<Shipment, ApiError> {
        checked_shipment(GET_SHIPMENT, shipment_id)?;
        self.call(&endpoints::GET_SHIPMENT, Request::at(&[shipment_id]), |b| {
            parse_shipment(b, GET_SHIPMENT)
        })
        .await
    }

    /// `cancelShipment`: voids a purchased label (the refund follows). Retried like a read: a
    /// second cancel cannot buy anything. If a resend after an attempt whose outcome is unknown is
    /// refused (the first one went through: the shipment is already cancelled), the shipment is
    /// looked up and returned when it is no longer Purchased.
    pub async fn cancel_shipment(&self, shipment_id: &str) -> Result<Shipment, ApiError> {
        checked_shipment(CANCEL_SHIPMENT, shipment_id)?;
        let (result, after_unknown) = self
            .call_outcome(
                &endpoints::MFN_CANCEL_SHIPMENT,
                Request::at(&[shipment_id]),
                |b| parse_shipment(b, CANCEL_SHIPMENT),
            )
            .await;
        match result {
            Err(ApiError::Status { status: 400, .. }) if after_unknown => {
                let s = self.get_shipment(shipment_id).await?;
                if s.status == ShipmentStatus::Purchased {
                    Err(ApiError::Status {
                        operation: CANCEL_SHIPMENT,
                        status: 400,
                        code: "Unknown".into(),
                        message: "Amazon refused the cancellation and the label is still purchased"
                            .into(),
                    })
                } else {
                    Ok(s)
                }
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODEL: &str = include_str!("../../tests/spapi-models/merchantFulfillmentV0.json");

    fn sandbox_response(path: &str, method: &str) -> Vec<serde_json::Value> {
        let model: serde_json::Value = serde_json::from_str(MODEL).unwrap();
        model["paths"][path][method]["responses"]["200"]["x-amzn-api-sandbox"]["static"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["response"].clone())
            .collect()
    }

    /// The static sandbox responses in the official model parse, with the fields packline uses.
    #[test]
    fn sandbox_responses_parse() {
        for r in sandbox_response("/mfn/v0/shipments", "post") {
            let s = parse_shipment(&serde_json::to_vec(&r).unwrap(), CREATE_SHIPMENT).unwrap();
            assert_eq!(s.shipment_id, r["payload"]["ShipmentId"].as_str().unwrap());
            assert_eq!(s.status, ShipmentStatus::Purchased);
            assert_eq!(
                s.tracking_id.as_deref(),
                r["payload"]["TrackingId"].as_str()
            );
            assert_eq!(
                s.shipping_service.shipping_service_id,
                r["payload"]["ShippingService"]["ShippingServiceId"]
                    .as_str()
                    .unwrap()
            );
            assert_eq!(s.label.label_format, Some(LabelFormat::Png));
            // The sandbox's label contents are a placeholder, not a label: refused, not trusted.
            assert!(s.label.decode().is_err());
        }
        for r in sandbox_response("/mfn/v0/eligibleShippingServices", "post") {
            let e = parse_eligible_services(&serde_json::to_vec(&r).unwrap()).unwrap();
            assert_eq!(
                e.services.len(),
                r["payload"]["ShippingServiceList"]
                    .as_array()
                    .unwrap()
                    .len()
            );
        }
        for (path, method, op) in [
            ("/mfn/v0/shipments/{shipmentId}", "get", GET_SHIPMENT),
            ("/mfn/v0/shipments/{shipmentId}", "delete", CANCEL_SHIPMENT),
        ] {
            for r in sandbox_response(path, method) {
                let s = parse_shipment(&serde_json::to_vec(&r).unwrap(), op).unwrap();
                assert!(is_shipment_id(&s.shipment_id), "{op}");
            }
        }
    }

    fn encoded(file: &[u8], file_type: &str, checksum_of: Option<&[u8]>) -> EncodedLabel {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, file).unwrap();
        let gz = gz.finish().unwrap();
        let engine = base64::engine::general_purpose::STANDARD;
        EncodedLabel {
            custom_text_for_label: None,
            dimensions: LabelDimensions {
                length: 6.0,
                width: 4.0,
                unit: LengthUnit::Inches,
            },
            file_contents: FileContents {
                contents: engine.encode(&gz),
                file_type: file_type.into(),
                checksum: engine.encode(md5::Md5::digest(checksum_of.unwrap_or(file))),
            },
            label_format: Some(LabelFormat::Zpl203),
        }
    }

    #[test]
    fn labels_decode_and_damage_is_refused() {
        let zpl = b"^XA^FO10,10^FDhello^FS^XZ";
        let l = encoded(zpl, "application/zpl", None);
        let f = l.decode().unwrap();
        assert_eq!(f.bytes, zpl);
        assert_eq!(f.file_type, LabelFileType::Zpl);
        assert!(!format!("{f:?} {l:?}").contains("hello"));

        let bad = encoded(zpl, "application/zpl", Some(b"something else"));
        assert_eq!(bad.decode(), Err(LabelError::ChecksumMismatch));
        let mut flipped = encoded(zpl, "application/zpl", None);
        flipped.file_contents.contents.replace_range(20..24, "AAAA");
        assert!(flipped.decode().is_err());
        let mut not_b64 = encoded(zpl, "application/zpl", None);
        not_b64.file_contents.contents.push('!');
        assert_eq!(not_b64.decode(), Err(LabelError::NotBase64));
        assert_eq!(
            encoded(zpl, "application/pdf", None).decode(),
            Err(LabelError::WrongFileType("application/pdf"))
        );
        assert_eq!(
            encoded(zpl, "", None).decode(),
            Err(LabelError::UnknownFileType)
        );
        let mut empty = encoded(zpl, "application/zpl", None);
        empty.file_contents.contents.clear();
        assert_eq!(empty.decode(), Err(LabelError::Empty));
        let mut bad_sum = encoded(zpl, "application/zpl", None);
        bad_sum.file_contents.checksum = "abc".into();
        assert_eq!(bad_sum.decode(), Err(LabelError::BadChecksumField));
    }

    #[test]
    fn parse_errors_name_paths_not_values() {
        let body = br#"{"payload":{"ShipmentId":"x","AmazonOrderId":"1","ItemList":[],"ShipFromAddress":{"Name":["Secret Sender"]}}}"#;
        let err = parse_shipment(body, GET_SHIPMENT).unwrap_err().to_string();
        assert!(
            err.starts_with("getShipment: payload.ShipFromAddress.Name"),
            "{err}"
        );
        assert!(!err.contains("Secret"), "{err}");
        let err = parse_shipment(b"{}", GET_SHIPMENT).unwrap_err().to_string();
        assert_eq!(err, "getShipment: payload: is missing");
    }

    fn assert_send<T: Send>(_: &T) {}

    /// The calls can run on any runtime thread (a service task spawns them).
    #[test]
    fn futures_are_send() {
        let api = SpApi::new(
            "http://127.0.0.1:9",
            "http://127.0.0.1:9/auth/o2/token",
            super::super::client::Credentials {
                client_id: "x".into(),
                client_secret: "x".to_owned().into(),
                refresh_token: "x".to_owned().into(),
            },
            std::time::Duration::from_secs(1),
        )
        .unwrap();
        assert_send(&api.get_shipment("00000000-0000-4000-a000-000000000000"));
        assert_send(&api.cancel_shipment("00000000-0000-4000-a000-000000000000"));
    }
}
