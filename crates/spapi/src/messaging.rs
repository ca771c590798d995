//! The kinds of message Messaging API v1 (`messaging.json`) sends, as the model names them: each
//! its action, its operation, its request's definition, its longest text and its path. Packline's
//! client (`packline::amazon::messaging`) and the training marketplace both read them from here.

use crate::endpoints::{self, Endpoint};

pub const GET_MESSAGING_ACTIONS_FOR_ORDER: &str = endpoints::GET_MESSAGING_ACTIONS_FOR_ORDER.name;

/// A kind of message a seller may send, as the model names its action (the last segment of its
/// path, and the `name` getMessagingActionsForOrder gives it).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum MessageKind {
    ConfirmCustomizationDetails,
    ConfirmDeliveryDetails,
    ConfirmOrderDetails,
    ConfirmServiceDetails,
    UnexpectedProblem,
    DigitalAccessKey,
    LegalDisclosure,
    Warranty,
    Invoice,
}

impl MessageKind {
    pub const ALL: [MessageKind; 9] = [
        MessageKind::ConfirmCustomizationDetails,
        MessageKind::ConfirmDeliveryDetails,
        MessageKind::ConfirmOrderDetails,
        MessageKind::ConfirmServiceDetails,
        MessageKind::UnexpectedProblem,
        MessageKind::DigitalAccessKey,
        MessageKind::LegalDisclosure,
        MessageKind::Warranty,
        MessageKind::Invoice,
    ];

    /// The action's name: `confirmDeliveryDetails`.
    pub fn name(self) -> &'static str {
        match self {
            MessageKind::ConfirmCustomizationDetails => "confirmCustomizationDetails",
            MessageKind::ConfirmDeliveryDetails => "confirmDeliveryDetails",
            MessageKind::ConfirmOrderDetails => "confirmOrderDetails",
            MessageKind::ConfirmServiceDetails => "confirmServiceDetails",
            MessageKind::UnexpectedProblem => "unexpectedProblem",
            MessageKind::DigitalAccessKey => "digitalAccessKey",
            MessageKind::LegalDisclosure => "legalDisclosure",
            MessageKind::Warranty => "warranty",
            MessageKind::Invoice => "invoice",
        }
    }

    /// The operation that sends it (the model's `operationId`): quotas and errors name it.
    pub fn operation(self) -> &'static str {
        match self {
            MessageKind::ConfirmCustomizationDetails => "confirmCustomizationDetails",
            MessageKind::ConfirmDeliveryDetails => "createConfirmDeliveryDetails",
            MessageKind::ConfirmOrderDetails => "createConfirmOrderDetails",
            MessageKind::ConfirmServiceDetails => "createConfirmServiceDetails",
            MessageKind::UnexpectedProblem => "createUnexpectedProblem",
            MessageKind::DigitalAccessKey => "createDigitalAccessKey",
            MessageKind::LegalDisclosure => "createLegalDisclosure",
            MessageKind::Warranty => "CreateWarranty",
            MessageKind::Invoice => "sendInvoice",
        }
    }

    /// The model's definition of its request body.
    pub fn request_definition(self) -> &'static str {
        match self {
            MessageKind::ConfirmCustomizationDetails => "CreateConfirmCustomizationDetailsRequest",
            MessageKind::ConfirmDeliveryDetails => "CreateConfirmDeliveryDetailsRequest",
            MessageKind::ConfirmOrderDetails => "CreateConfirmOrderDetailsRequest",
            MessageKind::ConfirmServiceDetails => "CreateConfirmServiceDetailsRequest",
            MessageKind::UnexpectedProblem => "CreateUnexpectedProblemRequest",
            MessageKind::DigitalAccessKey => "CreateDigitalAccessKeyRequest",
            MessageKind::LegalDisclosure => "CreateLegalDisclosureRequest",
            MessageKind::Warranty => "CreateWarrantyRequest",
            MessageKind::Invoice => "InvoiceRequest",
        }
    }

    /// The longest text it takes, in characters (the model's `maxLength`); `None` for the kinds
    /// that carry documents only.
    pub fn max_chars(self) -> Option<usize> {
        match self {
            MessageKind::ConfirmDeliveryDetails
            | MessageKind::ConfirmOrderDetails
            | MessageKind::ConfirmServiceDetails
            | MessageKind::UnexpectedProblem => Some(2000),
            MessageKind::ConfirmCustomizationDetails => Some(800),
            MessageKind::DigitalAccessKey => Some(400),
            MessageKind::LegalDisclosure | MessageKind::Warranty | MessageKind::Invoice => None,
        }
    }

    /// Its path under an order: `/messaging/v1/orders/{amazonOrderId}/messages/confirmDeliveryDetails`.
    pub fn path(self, order: &impl std::fmt::Display) -> String {
        let order = order.to_string();
        self.endpoint()
            .fill(&[order.as_str(), self.name()])
            .unwrap_or_default()
    }

    /// The endpoint that sends it: [`endpoints::CREATE_MESSAGE`] under its operation's name.
    pub fn endpoint(self) -> Endpoint {
        endpoints::CREATE_MESSAGE.named(self.operation())
    }

    pub fn parse(s: &str) -> Option<MessageKind> {
        Self::ALL.into_iter().find(|k| k.name() == s.trim())
    }
}

impl std::fmt::Display for MessageKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}
