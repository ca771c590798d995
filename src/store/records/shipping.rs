//! Frozen records of shipping: a package's shipment, a print job, a Shipping API v2 package's
//! tracking details and purchase intent. Format 2 of the first two is the layout schema 1 wrote
//! without a format byte; the last two were JSON in schema 1 and are postcard from format 2.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::floor::order_id;
use super::{Error, Record};
use crate::domain::print::{Document, JobState, PrintJob};
use crate::domain::{
    Carrier, Delivery, PurchaseIntentV2, ShipmentRecord, ShipmentState, ShipmentV2, TrackingNumber,
};
use crate::store::RecordKind;

#[derive(Serialize, Deserialize)]
pub enum ShipmentState2 {
    PurchaseIntent,
    OutcomeUnknown,
    Bought,
    Confirming,
    Confirmed,
    Voided,
}

#[derive(Serialize, Deserialize)]
pub enum Carrier2 {
    Ups,
    Usps,
    FedEx,
    Dhl,
    Other(String),
}

/// A package's shipment (format 2).
#[derive(Serialize, Deserialize)]
pub struct Shipment2 {
    pub order: String,
    pub state: ShipmentState2,
    pub carrier: Option<Carrier2>,
    pub tracking: Option<String>,
    pub shipment_id: Option<String>,
    pub service_id: Option<String>,
    pub service_name: Option<String>,
    pub label_format: Option<String>,
    pub at: DateTime<Utc>,
    pub by: String,
    pub package: u32,
}

impl Record for Shipment2 {
    const KIND: RecordKind = RecordKind::Shipment;
    const FORMAT: u8 = 2;
    type Value = ShipmentRecord;

    fn from_value(s: &ShipmentRecord) -> Self {
        Shipment2 {
            order: s.order.to_string(),
            state: match s.state {
                ShipmentState::PurchaseIntent => ShipmentState2::PurchaseIntent,
                ShipmentState::OutcomeUnknown => ShipmentState2::OutcomeUnknown,
                ShipmentState::Bought => ShipmentState2::Bought,
                ShipmentState::Confirming => ShipmentState2::Confirming,
                ShipmentState::Confirmed => ShipmentState2::Confirmed,
                ShipmentState::Voided => ShipmentState2::Voided,
            },
            carrier: s.carrier.as_ref().map(|c| match c {
                Carrier::Ups => Carrier2::Ups,
                Carrier::Usps => Carrier2::Usps,
                Carrier::FedEx => Carrier2::FedEx,
                Carrier::Dhl => Carrier2::Dhl,
                Carrier::Other(name) => Carrier2::Other(name.clone()),
            }),
            tracking: s.tracking.as_ref().map(|t| t.as_str().to_owned()),
            shipment_id: s.shipment_id.clone(),
            service_id: s.service_id.clone(),
            service_name: s.service_name.clone(),
            label_format: s.label_format.clone(),
            at: s.at,
            by: s.by.clone(),
            package: s.package,
        }
    }

    fn into_value(self) -> Result<ShipmentRecord, Error> {
        Ok(ShipmentRecord {
            order: order_id(self.order, Self::KIND)?,
            state: match self.state {
                ShipmentState2::PurchaseIntent => ShipmentState::PurchaseIntent,
                ShipmentState2::OutcomeUnknown => ShipmentState::OutcomeUnknown,
                ShipmentState2::Bought => ShipmentState::Bought,
                ShipmentState2::Confirming => ShipmentState::Confirming,
                ShipmentState2::Confirmed => ShipmentState::Confirmed,
                ShipmentState2::Voided => ShipmentState::Voided,
            },
            carrier: self.carrier.map(|c| match c {
                Carrier2::Ups => Carrier::Ups,
                Carrier2::Usps => Carrier::Usps,
                Carrier2::FedEx => Carrier::FedEx,
                Carrier2::Dhl => Carrier::Dhl,
                Carrier2::Other(name) => Carrier::Other(name),
            }),
            tracking: self.tracking.map(TrackingNumber::from_stored),
            shipment_id: self.shipment_id,
            service_id: self.service_id,
            service_name: self.service_name,
            label_format: self.label_format,
            at: self.at,
            by: self.by,
            package: self.package,
        })
    }
}

#[derive(Serialize, Deserialize)]
pub enum Document2 {
    Label,
    SlipZpl,
    SlipPdf,
    PickSheet,
    PackageLabel(u32),
    CollectionForm(u32),
}

#[derive(Serialize, Deserialize)]
pub enum JobState2 {
    Queued,
    Sent,
    Failed,
}

/// A print job (format 2).
#[derive(Serialize, Deserialize)]
pub struct PrintJob2 {
    pub id: u64,
    pub order: String,
    pub document: Document2,
    pub printer: String,
    pub state: JobState2,
    pub attempts: u32,
    pub error: Option<String>,
    pub created: DateTime<Utc>,
    pub by: String,
}

impl Record for PrintJob2 {
    const KIND: RecordKind = RecordKind::PrintJob;
    const FORMAT: u8 = 2;
    type Value = PrintJob;

    fn from_value(j: &PrintJob) -> Self {
        PrintJob2 {
            id: j.id,
            order: j.order.to_string(),
            document: match j.document {
                Document::Label => Document2::Label,
                Document::SlipZpl => Document2::SlipZpl,
                Document::SlipPdf => Document2::SlipPdf,
                Document::PickSheet => Document2::PickSheet,
                Document::PackageLabel(n) => Document2::PackageLabel(n),
                Document::CollectionForm(n) => Document2::CollectionForm(n),
            },
            printer: j.printer.clone(),
            state: match j.state {
                JobState::Queued => JobState2::Queued,
                JobState::Sent => JobState2::Sent,
                JobState::Failed => JobState2::Failed,
            },
            attempts: j.attempts,
            error: j.error.clone(),
            created: j.created,
            by: j.by.clone(),
        }
    }

    fn into_value(self) -> Result<PrintJob, Error> {
        Ok(PrintJob {
            id: self.id,
            order: order_id(self.order, Self::KIND)?,
            document: match self.document {
                Document2::Label => Document::Label,
                Document2::SlipZpl => Document::SlipZpl,
                Document2::SlipPdf => Document::SlipPdf,
                Document2::PickSheet => Document::PickSheet,
                Document2::PackageLabel(n) => Document::PackageLabel(n),
                Document2::CollectionForm(n) => Document::CollectionForm(n),
            },
            printer: self.printer,
            state: match self.state {
                JobState2::Queued => JobState::Queued,
                JobState2::Sent => JobState::Sent,
                JobState2::Failed => JobState::Failed,
            },
            attempts: self.attempts,
            error: self.error,
            created: self.created,
            by: self.by,
        })
    }
}

/// Where a package is, as its carrier's tracking says. Its JSON names are schema 1's.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivery2 {
    AwaitingPickup,
    InTransit,
    Delivered,
    Problem,
}

/// A Shipping API v2 package's details (format 2). Schema 1 kept them as JSON with these
/// names, the later fields optional: the upgrade reads that JSON into this type.
#[derive(Serialize, Deserialize)]
pub struct Tracked2 {
    pub carrier_id: String,
    #[serde(default)]
    pub on_form: Option<DateTime<Utc>>,
    #[serde(default)]
    pub delivery: Option<Delivery2>,
    #[serde(default)]
    pub delivered_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub promised: Option<DateTime<Utc>>,
    #[serde(default)]
    pub tracked_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub voided: bool,
    #[serde(default)]
    pub codes_sent: Option<DateTime<Utc>>,
}

impl Record for Tracked2 {
    const KIND: RecordKind = RecordKind::ShipmentV2;
    const FORMAT: u8 = 2;
    type Value = ShipmentV2;

    fn from_value(v: &ShipmentV2) -> Self {
        Tracked2 {
            carrier_id: v.carrier_id.clone(),
            on_form: v.on_form,
            delivery: v.delivery.map(|d| match d {
                Delivery::AwaitingPickup => Delivery2::AwaitingPickup,
                Delivery::InTransit => Delivery2::InTransit,
                Delivery::Delivered => Delivery2::Delivered,
                Delivery::Problem => Delivery2::Problem,
            }),
            delivered_at: v.delivered_at,
            promised: v.promised,
            tracked_at: v.tracked_at,
            voided: v.voided,
            codes_sent: v.codes_sent,
        }
    }

    fn into_value(self) -> Result<ShipmentV2, Error> {
        Ok(ShipmentV2 {
            carrier_id: self.carrier_id,
            on_form: self.on_form,
            delivery: self.delivery.map(|d| match d {
                Delivery2::AwaitingPickup => Delivery::AwaitingPickup,
                Delivery2::InTransit => Delivery::InTransit,
                Delivery2::Delivered => Delivery::Delivered,
                Delivery2::Problem => Delivery::Problem,
            }),
            delivered_at: self.delivered_at,
            promised: self.promised,
            tracked_at: self.tracked_at,
            voided: self.voided,
            codes_sent: self.codes_sent,
        })
    }
}

/// A Shipping API v2 purchase in flight (format 2; JSON with these names in schema 1).
#[derive(Serialize, Deserialize)]
pub struct Intent2 {
    pub key: String,
    pub request: String,
    pub carrier_id: String,
    pub carrier_name: String,
    pub service_id: String,
    pub service_name: String,
    pub amount: f64,
    pub currency: String,
    pub rated_at: DateTime<Utc>,
}

impl Record for Intent2 {
    const KIND: RecordKind = RecordKind::PurchaseIntent;
    const FORMAT: u8 = 2;
    type Value = PurchaseIntentV2;

    fn from_value(i: &PurchaseIntentV2) -> Self {
        Intent2 {
            key: i.key.clone(),
            request: i.request.clone(),
            carrier_id: i.carrier_id.clone(),
            carrier_name: i.carrier_name.clone(),
            service_id: i.service_id.clone(),
            service_name: i.service_name.clone(),
            amount: i.amount,
            currency: i.currency.clone(),
            rated_at: i.rated_at,
        }
    }

    fn into_value(self) -> Result<PurchaseIntentV2, Error> {
        Ok(PurchaseIntentV2 {
            key: self.key,
            request: self.request,
            carrier_id: self.carrier_id,
            carrier_name: self.carrier_name,
            service_id: self.service_id,
            service_name: self.service_name,
            amount: self.amount,
            currency: self.currency,
            rated_at: self.rated_at,
        })
    }
}
