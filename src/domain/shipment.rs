//! Shipments: the carrier and tracking number an order leaves with, and where its label purchase
//! or confirmation stands (`ShipmentState`, kept in a `ShipmentRecord`). Tracking numbers typed or
//! scanned by a labeler are checked where the carrier's format has a check digit (UPS `1Z…`,
//! USPS IMpb), so a mistyped number is caught before Amazon and the customer see it. Pure: the
//! store keeps the records and the service moves them; nothing here buys, stores or prints.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::order::OrderId;

/// A carrier packline knows by name; anything else is `Other` with the name Amazon will show.
/// In JSON (answers, `--json`) it is the name as Amazon spells it (`UPS`, `USPS`, `FedEx`,
/// `DHL`, or the other's name), the same as every text shows; the earlier spellings (`fed_ex`,
/// `{"other": …}`) are still read.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Carrier {
    Ups,
    Usps,
    FedEx,
    Dhl,
    Other(String),
}

impl Carrier {
    /// Parses a carrier name as a labeler types it (`ups`, `USPS`, `FedEx`, `dhl`, or any
    /// other name of 2–40 printable characters).
    pub fn parse(s: &str) -> Result<Carrier, TrackingError> {
        let t = s.trim();
        Ok(match t.to_ascii_lowercase().as_str() {
            "ups" => Carrier::Ups,
            "usps" => Carrier::Usps,
            "fedex" => Carrier::FedEx,
            "dhl" => Carrier::Dhl,
            _ => {
                let ok = (2..=40).contains(&t.chars().count())
                    && t.chars().all(|c| c.is_alphanumeric() || " .-&".contains(c));
                if !ok {
                    return Err(TrackingError::Carrier(
                        "a carrier name is 2–40 letters, digits, spaces or . - &".into(),
                    ));
                }
                Carrier::Other(t.to_owned())
            }
        })
    }

    /// The code Amazon's confirmShipment takes (`carrierCode`); `Other` goes with its name.
    pub fn amazon_code(&self) -> &str {
        match self {
            Carrier::Ups => "UPS",
            Carrier::Usps => "USPS",
            Carrier::FedEx => "FedEx",
            Carrier::Dhl => "DHL",
            Carrier::Other(_) => "Other",
        }
    }

    /// A carrier as Amazon spells it, from any id or name of it (Shipping API v2's `FEDEX`,
    /// a typed `fedex`): `FedEx`, `UPS`, `USPS`, `DHL`; another as given.
    pub fn amazon_name(id: &str) -> String {
        match Carrier::parse(id) {
            Ok(Carrier::Other(_)) | Err(_) => id.trim().to_owned(),
            Ok(c) => c.amazon_code().to_owned(),
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Carrier::Other(n) => n,
            c => c.amazon_code(),
        }
    }
}

impl Serialize for Carrier {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// A carrier is written as Amazon spells it (`UPS`, `FedEx`), or as the seller typed it.
impl schemars::JsonSchema for Carrier {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Carrier".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "The carrier as Amazon spells it (UPS, USPS, FedEx, …), or as the seller named it."
        })
    }
}

impl<'de> Deserialize<'de> for Carrier {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Carrier, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Name(String),
            Other { other: String },
        }
        Ok(match Form::deserialize(d)? {
            Form::Name(n) if n == "fed_ex" => Carrier::FedEx,
            Form::Name(n) => Carrier::parse(&n).unwrap_or(Carrier::Other(n)),
            Form::Other { other } => Carrier::Other(other),
        })
    }
}

impl fmt::Display for Carrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TrackingError {
    #[error("carrier: {0}")]
    Carrier(String),
    #[error("tracking number: {0}")]
    Shape(String),
    #[error(
        "tracking number: the check digit is wrong (expected {expected}): the number was mistyped or misread"
    )]
    CheckDigit { expected: char },
}

/// A tracking number, normalised (no spaces, upper case) and checked for its carrier.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TrackingNumber(String);

impl TrackingNumber {
    pub fn parse(carrier: &Carrier, raw: &str) -> Result<TrackingNumber, TrackingError> {
        let n: String = raw
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect::<String>()
            .to_ascii_uppercase();
        if n.is_empty() || n.len() > 40 || !n.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(TrackingError::Shape(
                "use 1–40 letters and digits (spaces and dashes are ignored)".into(),
            ));
        }
        match carrier {
            Carrier::Ups => check_ups(&n)?,
            Carrier::Usps => check_usps(&n)?,
            _ => {}
        }
        Ok(TrackingNumber(n))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A tracking number as a record kept it: it was checked when it was first taken.
    pub fn from_stored(s: String) -> TrackingNumber {
        TrackingNumber(s)
    }
}

impl fmt::Display for TrackingNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// UPS `1Z` + 15 characters + check digit. The 15 characters count as digits (letters as
/// `(code - 'A' + 2) mod 10`); odd positions once, even positions twice; the check digit makes
/// the total a multiple of 10.
fn check_ups(n: &str) -> Result<(), TrackingError> {
    let Some(body) = n.strip_prefix("1Z").filter(|b| b.len() == 16) else {
        return Err(TrackingError::Shape(
            "a UPS number is 1Z and 16 more letters or digits (18 in all)".into(),
        ));
    };
    let (payload, check) = body.split_at(15);
    let mut total = 0u32;
    for (i, c) in payload.chars().enumerate() {
        let v = match c {
            '0'..='9' => c as u32 - '0' as u32,
            _ => (c as u32 - 'A' as u32 + 2) % 10,
        };
        total += if i % 2 == 1 { 2 * v } else { v };
    }
    let expected = char::from_digit((10 - total % 10) % 10, 10).unwrap_or('0');
    if check.starts_with(expected) {
        Ok(())
    } else {
        Err(TrackingError::CheckDigit { expected })
    }
}

/// USPS Intelligent Mail package barcode: 20–22 digits, or 26–34 with the `420` + ZIP routing
/// prefix a scanner reads off the label; the last digit is the mod-10 check (weights 3 and 1
/// from the right).
fn check_usps(n: &str) -> Result<(), TrackingError> {
    // With the routing prefix: 420, a 5- or 9-digit ZIP, then the package number.
    let digits = match n.strip_prefix("420") {
        Some(rest) if n.len() > 22 => {
            if (20..=22).contains(&rest.len().saturating_sub(5)) && rest.len() <= 27 {
                &rest[5..]
            } else {
                &rest[9.min(rest.len())..]
            }
        }
        _ => n,
    };
    if !(20..=22).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TrackingError::Shape(
            "a USPS number is 20–22 digits (IMpb), optionally after 420 and the ZIP code".into(),
        ));
    }
    let (payload, check) = digits.split_at(digits.len() - 1);
    let total: u32 = payload
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    let expected = char::from_digit((10 - total % 10) % 10, 10).unwrap_or('0');
    if check.starts_with(expected) {
        Ok(())
    } else {
        Err(TrackingError::CheckDigit { expected })
    }
}

/// Where an order's shipment stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShipmentState {
    /// createShipment is being asked; if this is what a lead finds, the answer never came.
    PurchaseIntent,
    /// createShipment may or may not have bought a label: never buy again without checking.
    OutcomeUnknown,
    /// A label is bought and stored.
    Bought,
    /// An own-carrier shipment is being confirmed to Amazon.
    Confirming,
    /// Amazon knows the shipment.
    Confirmed,
    /// The bought label was voided.
    Voided,
}

impl ShipmentState {
    /// A purchase that may or may not have bought a label: a lead must look before anything
    /// else happens to it.
    pub fn is_unresolved(self) -> bool {
        matches!(
            self,
            ShipmentState::PurchaseIntent | ShipmentState::OutcomeUnknown
        )
    }

    /// packline holds (or may hold) the order's shipment at Amazon: a label being bought or
    /// bought, a purchase of unknown outcome, or an own-carrier shipment being confirmed or
    /// confirmed. Amazon reporting such an order shipped confirms packline's own shipment: it
    /// never means the order shipped elsewhere. Only a voided label leaves nothing.
    pub fn is_ours(self) -> bool {
        match self {
            ShipmentState::PurchaseIntent
            | ShipmentState::OutcomeUnknown
            | ShipmentState::Bought
            | ShipmentState::Confirming
            | ShipmentState::Confirmed => true,
            ShipmentState::Voided => false,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ShipmentState::PurchaseIntent => "purchase in flight",
            ShipmentState::OutcomeUnknown => "purchase outcome unknown",
            ShipmentState::Bought => "label bought",
            ShipmentState::Confirming => "confirming",
            ShipmentState::Confirmed => "confirmed",
            ShipmentState::Voided => "voided",
        }
    }
}

/// What one package of an order leaves with. No personal data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ShipmentRecord {
    pub order: OrderId,
    pub state: ShipmentState,
    pub carrier: Option<Carrier>,
    pub tracking: Option<TrackingNumber>,
    /// Amazon's shipment id (bought labels).
    pub shipment_id: Option<String>,
    pub service_id: Option<String>,
    pub service_name: Option<String>,
    /// The label's file type: `zpl`, `pdf` or `png`.
    pub label_format: Option<String>,
    pub at: DateTime<Utc>,
    pub by: String,
    /// The order's package (1, 2, …) this label or tracking number is for. Last, so a record
    /// stored before packages (without it) can never be read as one of today's.
    pub package: u32,
}

/// A Shipping API v2 purchase in flight, kept with its intent before Amazon is asked: the
/// idempotency key and the exact request (JSON, as sent), so that after a lost answer or a
/// crash the same purchase is sent again and Amazon answers it with the first one. What the
/// rate was is kept too, for the record once bought. No personal data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PurchaseIntentV2 {
    pub key: String,
    /// The `PurchaseShipmentRequest` body.
    pub request: String,
    pub carrier_id: String,
    pub carrier_name: String,
    pub service_id: String,
    pub service_name: String,
    pub amount: f64,
    pub currency: String,
    pub rated_at: DateTime<Utc>,
}

/// Where a package bought through the Shipping API v2 is, as its carrier's tracking says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// Not yet scanned by the carrier.
    AwaitingPickup,
    InTransit,
    Delivered,
    /// Lost, refused or undeliverable: a lead looks.
    Problem,
}

impl Delivery {
    pub fn name(self) -> &'static str {
        match self {
            Delivery::AwaitingPickup => "awaiting pickup",
            Delivery::InTransit => "in transit",
            Delivery::Delivered => "delivered",
            Delivery::Problem => "delivery problem",
        }
    }

    /// Nothing more will change: tracking is no longer asked.
    pub fn is_final(self) -> bool {
        matches!(self, Delivery::Delivered | Delivery::Problem)
    }
}

/// What the Shipping API v2 adds to a package's shipment: the carrier's id (tracking and
/// collection forms ask by it), whether the label is on a collection form (then it can no
/// longer be voided), and the delivery as last tracked. No personal data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShipmentV2 {
    pub carrier_id: String,
    /// When the collection form holding this label was made.
    #[serde(default)]
    pub on_form: Option<DateTime<Utc>>,
    #[serde(default)]
    pub delivery: Option<Delivery>,
    #[serde(default)]
    pub delivered_at: Option<DateTime<Utc>>,
    /// The carrier's promised delivery, as tracking tells it.
    #[serde(default)]
    pub promised: Option<DateTime<Utc>>,
    #[serde(default)]
    pub tracked_at: Option<DateTime<Utc>>,
    /// The label was voided: nothing is tracked.
    #[serde(default)]
    pub voided: bool,
    /// When Amazon took the package's Transparency codes (a confirmation of the package after
    /// its purchase: the v2 purchase has no field for them). None: not sent yet, or none to send.
    #[serde(default)]
    pub codes_sent: Option<DateTime<Utc>>,
}

impl ShipmentV2 {
    pub fn new(carrier_id: &str) -> ShipmentV2 {
        ShipmentV2 {
            carrier_id: carrier_id.to_owned(),
            on_form: None,
            delivery: None,
            delivered_at: None,
            promised: None,
            tracked_at: None,
            voided: false,
            codes_sent: None,
        }
    }

    /// Tracking still has something to tell.
    pub fn awaits_delivery(&self) -> bool {
        !self.voided && !self.delivery.is_some_and(Delivery::is_final)
    }

    /// The carrier has scanned the package (its tracking says in transit or delivered): what
    /// Amazon's Valid Tracking Rate asks of a tracking number.
    pub fn carrier_scanned(&self) -> bool {
        matches!(
            self.delivery,
            Some(Delivery::InTransit | Delivery::Delivered)
        )
    }

    /// Delivered after the carrier's promise.
    pub fn delivered_late(&self) -> bool {
        matches!((self.delivered_at, self.promised), (Some(d), Some(p)) if d > p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One carrier name everywhere: JSON says what every text says, as Amazon spells it, and
    /// the earlier spellings still read.
    #[test]
    fn a_carrier_is_written_as_amazon_spells_it() {
        for (c, name) in [
            (Carrier::FedEx, "FedEx"),
            (Carrier::Ups, "UPS"),
            (Carrier::Usps, "USPS"),
            (Carrier::Dhl, "DHL"),
            (Carrier::Other("OnTrac".into()), "OnTrac"),
        ] {
            assert_eq!(serde_json::to_value(&c).unwrap(), serde_json::json!(name));
            assert_eq!(c.to_string(), name);
            assert_eq!(
                serde_json::from_value::<Carrier>(serde_json::json!(name)).unwrap(),
                c
            );
        }
        assert_eq!(Carrier::amazon_name("FEDEX"), "FedEx");
        assert_eq!(Carrier::amazon_name("ONTRAC"), "ONTRAC");
        for (old, c) in [
            (serde_json::json!("fed_ex"), Carrier::FedEx),
            (serde_json::json!("ups"), Carrier::Ups),
            (
                serde_json::json!({"other": "OnTrac"}),
                Carrier::Other("OnTrac".into()),
            ),
        ] {
            assert_eq!(serde_json::from_value::<Carrier>(old).unwrap(), c);
        }
    }

    #[test]
    fn ups_numbers_are_checked() {
        let t = TrackingNumber::parse(&Carrier::Ups, "1z 999 aa1 01 2345 6784").unwrap();
        assert_eq!(t.as_str(), "1Z999AA10123456784");
        assert_eq!(
            TrackingNumber::parse(&Carrier::Ups, "1Z999AA10123456785"),
            Err(TrackingError::CheckDigit { expected: '4' })
        );
        assert!(matches!(
            TrackingNumber::parse(&Carrier::Ups, "1Z999"),
            Err(TrackingError::Shape(_))
        ));
    }

    #[test]
    fn usps_numbers_are_checked_with_or_without_routing() {
        // Weights 3 and 1 from the right over 9400100000000000000000 (21 digits before the
        // check): 9×3 + 4×1 + 1×3 = 34, so the check digit is 6.
        let good = "9400100000000000000006";
        assert_eq!(good.len(), 22);
        assert!(TrackingNumber::parse(&Carrier::Usps, good).is_ok());
        assert!(TrackingNumber::parse(&Carrier::Usps, &format!("42098101{good}")).is_ok());
        assert_eq!(
            TrackingNumber::parse(&Carrier::Usps, "9400100000000000000007"),
            Err(TrackingError::CheckDigit { expected: '6' })
        );
    }

    #[test]
    fn other_carriers_take_any_sane_number_and_bad_input_is_named() {
        let c = Carrier::parse("Royal Mail").unwrap();
        assert_eq!(c.amazon_code(), "Other");
        assert!(TrackingNumber::parse(&c, "AB123456789GB").is_ok());
        assert!(TrackingNumber::parse(&c, "AB\u{1b}[2J").is_err());
        assert!(Carrier::parse("x\u{7}").is_err());
    }
}
