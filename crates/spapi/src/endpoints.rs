//! Every SP-API operation packline calls, declared once: its name (as buckets, errors, logs and
//! the training marketplace's request log and fault injection name it), its method and path, its
//! usage plan, the token it carries and when it may be sent again. The client (`client.rs`)
//! sends a [`Request`] to an [`Endpoint`] with its one call, `SpApi::call`; the training
//! marketplace routes the same paths (`{name}` segments are axum's path syntax too) and names the
//! same operations.
//!
//! A new endpoint is one constant here, then its call in the API's file beside its request and
//! answer types.

use crate::throttle::UsagePlan;

/// An HTTP method an endpoint is called with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
}

impl Method {
    pub const fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }
}

/// A restricted resource a Restricted Data Token covers: a method and a path template (a
/// `{shipmentId}` segment covers every shipment).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Resource {
    pub method: Method,
    pub path: &'static str,
}

/// Which token a request carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    /// The LWA access token.
    Lwa,
    /// A Restricted Data Token for these resources (the operations that return an address),
    /// asked for once and kept until shortly before it expires: one token serves every endpoint
    /// with the same scope.
    SharedRdt(&'static [Resource]),
    /// A Restricted Data Token for this request alone (its method and path), asked for it:
    /// a restricted report's document.
    OwnRdt,
}

/// When a request may be sent again after a failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resend {
    /// Reads and idempotent writes: throttling, server errors, timeouts and unreadable answers
    /// are retried.
    Always,
    /// Purchases and messages: only when Amazon surely did not act on it (a 429, or a connection
    /// that failed before the request went out); anything else is an `ApiError::OutcomeUnknown`.
    OnlyIfUnsent,
}

/// One SP-API operation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Endpoint {
    /// The model's `operationId`: buckets, errors and the marketplace's log name it.
    pub name: &'static str,
    pub method: Method,
    /// The path template: `{…}` segments are filled in order from the request's path values.
    pub path: &'static str,
    pub plan: UsagePlan,
    pub auth: Auth,
    pub resend: Resend,
}

impl Endpoint {
    /// The same endpoint under another operation name (a message kind of [`CREATE_MESSAGE`]).
    pub const fn named(self, name: &'static str) -> Endpoint {
        Endpoint { name, ..self }
    }

    /// The path with its `{…}` segments replaced, in order, by `values`; `None` when the number
    /// of values is not the number of segments.
    pub fn fill(&self, values: &[&str]) -> Option<String> {
        let mut out = String::with_capacity(self.path.len());
        let mut values = values.iter();
        for (i, segment) in self.path.split('/').enumerate() {
            if i > 0 {
                out.push('/');
            }
            if segment.starts_with('{') && segment.ends_with('}') {
                out.push_str(values.next()?);
            } else {
                out.push_str(segment);
            }
        }
        values.next().is_none().then_some(out)
    }
}

/// What one request carries besides its endpoint: the path's values, the query, a JSON body
/// and extra headers (an idempotency key, the shipping business), the same on every attempt.
/// No `Debug`: a body can hold an address.
#[derive(Clone, Copy, Default)]
pub struct Request<'a> {
    pub path: &'a [&'a str],
    pub query: &'a [(&'a str, &'a str)],
    pub body: Option<&'a [u8]>,
    pub headers: &'a [(&'static str, String)],
}

impl<'a> Request<'a> {
    /// A request with these path values and nothing else.
    pub fn at(path: &'a [&'a str]) -> Request<'a> {
        Request {
            path,
            ..Request::default()
        }
    }

    /// A request with this JSON body and nothing else.
    pub fn body(body: &'a [u8]) -> Request<'a> {
        Request {
            body: Some(body),
            ..Request::default()
        }
    }
}

const fn lwa(name: &'static str, method: Method, path: &'static str, plan: UsagePlan) -> Endpoint {
    Endpoint {
        name,
        method,
        path,
        plan,
        auth: Auth::Lwa,
        resend: Resend::Always,
    }
}

/// The name Login with Amazon's token request goes by in errors and the marketplace's log. It
/// is no SP-API operation: the client posts a form to `[amazon] token_url`.
pub const LWA_TOKEN: &str = "lwaToken";

// Orders API v2026-01-01 and v0.

pub const SEARCH_ORDERS: Endpoint = lwa(
    "searchOrders",
    Method::Get,
    "/orders/2026-01-01/orders",
    UsagePlan::SEARCH_ORDERS,
);
pub const GET_ORDER: Endpoint = lwa(
    "getOrder",
    Method::Get,
    "/orders/2026-01-01/orders/{orderId}",
    UsagePlan::GET_ORDER,
);
/// Retried like every call: Amazon accepts the same package confirmed twice.
pub const CONFIRM_SHIPMENT: Endpoint = lwa(
    "confirmShipment",
    Method::Post,
    "/orders/v0/orders/{orderId}/shipmentConfirmation",
    UsagePlan::CONFIRM_SHIPMENT,
);

// Tokens API 2021-03-01.

pub const CREATE_RESTRICTED_DATA_TOKEN: Endpoint = lwa(
    "createRestrictedDataToken",
    Method::Post,
    "/tokens/2021-03-01/restrictedDataToken",
    UsagePlan::CREATE_RESTRICTED_DATA_TOKEN,
);

// Merchant Fulfillment v0.

const MFN_SHIPMENTS: &str = "/mfn/v0/shipments";
const MFN_SHIPMENT: &str = "/mfn/v0/shipments/{shipmentId}";

/// What one Restricted Data Token covers for every MFN call that returns the ship-to address
/// (the Tokens API lists createShipment, getShipment and cancelShipment as restricted
/// operations; the generic `{shipmentId}` path covers every shipment).
pub const MFN_RESTRICTED: &[Resource] = &[
    Resource {
        method: Method::Post,
        path: MFN_SHIPMENTS,
    },
    Resource {
        method: Method::Get,
        path: MFN_SHIPMENT,
    },
    Resource {
        method: Method::Delete,
        path: MFN_SHIPMENT,
    },
];

pub const GET_ELIGIBLE_SHIPMENT_SERVICES: Endpoint = lwa(
    "getEligibleShipmentServices",
    Method::Post,
    "/mfn/v0/eligibleShippingServices",
    UsagePlan::GET_ELIGIBLE_SHIPMENT_SERVICES,
);
/// Buys postage: never resent once it may have reached Amazon.
pub const CREATE_SHIPMENT: Endpoint = Endpoint {
    name: "createShipment",
    method: Method::Post,
    path: MFN_SHIPMENTS,
    plan: UsagePlan::CREATE_SHIPMENT,
    auth: Auth::SharedRdt(MFN_RESTRICTED),
    resend: Resend::OnlyIfUnsent,
};
pub const GET_SHIPMENT: Endpoint = Endpoint {
    name: "getShipment",
    method: Method::Get,
    path: MFN_SHIPMENT,
    plan: UsagePlan::GET_SHIPMENT,
    auth: Auth::SharedRdt(MFN_RESTRICTED),
    resend: Resend::Always,
};
/// A second cancel cannot buy anything: retried like a read.
pub const MFN_CANCEL_SHIPMENT: Endpoint = Endpoint {
    name: "cancelShipment",
    method: Method::Delete,
    path: MFN_SHIPMENT,
    plan: UsagePlan::CANCEL_SHIPMENT,
    auth: Auth::SharedRdt(MFN_RESTRICTED),
    resend: Resend::Always,
};

// Shipping API v2: every operation 80 a second, burst 100, a bucket each. Purchases carry an
// idempotency key, so they are resent like reads.

/// The Amazon shipping business a client sends Shipping API v2 requests for unless told
/// otherwise: Amazon.com's.
pub const SHIPPING_BUSINESS_US: &str = "AmazonShipping_US";

/// The Amazon shipping businesses `x-amzn-shipping-business-id` takes (`shippingV2.json`).
pub const SHIPPING_BUSINESSES: [&str; 10] = [
    "AmazonShipping_US",
    "AmazonShipping_IN",
    "AmazonShipping_UK",
    "AmazonShipping_UAE",
    "AmazonShipping_SA",
    "AmazonShipping_EG",
    "AmazonShipping_IT",
    "AmazonShipping_ES",
    "AmazonShipping_FR",
    "AmazonShipping_JP",
];

/// The Amazon shipping business of a marketplace, where the model lists one: the United States,
/// the United Kingdom, India, Italy, Spain, France, Japan, the United Arab Emirates, Saudi
/// Arabia and Egypt. Other marketplaces (Germany, Canada, …) have none of their own: a site
/// there names one in `[shipping] business_id`.
pub fn business_of_marketplace(marketplace_id: &str) -> Option<&'static str> {
    Some(match marketplace_id {
        "ATVPDKIKX0DER" => "AmazonShipping_US",
        "A1F83G8C2ARO7P" => "AmazonShipping_UK",
        "A21TJRUUN4KGV" => "AmazonShipping_IN",
        "APJ6JRA9NG5V4" => "AmazonShipping_IT",
        "A1RKKUPIHCS9HS" => "AmazonShipping_ES",
        "A13V1IB3VIYZZH" => "AmazonShipping_FR",
        "A1VC38T7YXB528" => "AmazonShipping_JP",
        "A2VIGQ35RCS4UG" => "AmazonShipping_UAE",
        "A17E79C6D8DWNP" => "AmazonShipping_SA",
        "ARBP9OOSHTCHU" => "AmazonShipping_EG",
        _ => return None,
    })
}

pub const GET_RATES: Endpoint = lwa(
    "getRates",
    Method::Post,
    "/shipping/v2/shipments/rates",
    UsagePlan::SHIPPING_V2,
);
pub const PURCHASE_SHIPMENT: Endpoint = lwa(
    "purchaseShipment",
    Method::Post,
    "/shipping/v2/shipments",
    UsagePlan::SHIPPING_V2,
);
pub const GET_SHIPMENT_DOCUMENTS: Endpoint = lwa(
    "getShipmentDocuments",
    Method::Get,
    "/shipping/v2/shipments/{shipmentId}/documents",
    UsagePlan::SHIPPING_V2,
);
pub const CANCEL_SHIPMENT: Endpoint = lwa(
    "cancelShipment",
    Method::Put,
    "/shipping/v2/shipments/{shipmentId}/cancel",
    UsagePlan::SHIPPING_V2,
);
pub const GET_TRACKING: Endpoint = lwa(
    "getTracking",
    Method::Get,
    "/shipping/v2/tracking",
    UsagePlan::SHIPPING_V2,
);
pub const GET_UNMANIFESTED_SHIPMENTS: Endpoint = lwa(
    "getUnmanifestedShipments",
    Method::Put,
    "/shipping/v2/unmanifestedShipments",
    UsagePlan::SHIPPING_V2,
);
pub const GENERATE_COLLECTION_FORM: Endpoint = lwa(
    "generateCollectionForm",
    Method::Post,
    "/shipping/v2/collectionForms",
    UsagePlan::SHIPPING_V2,
);
/// Served by the training marketplace; packline does not call it yet.
pub const GET_COLLECTION_FORM: Endpoint = lwa(
    "getCollectionForm",
    Method::Get,
    "/shipping/v2/collectionForms/{collectionFormId}",
    UsagePlan::SHIPPING_V2,
);

// Messaging API v1: 1 a second, burst 5, a bucket per operation.

pub const GET_MESSAGING_ACTIONS_FOR_ORDER: Endpoint = lwa(
    "getMessagingActionsForOrder",
    Method::Get,
    "/messaging/v1/orders/{amazonOrderId}",
    UsagePlan::MESSAGING,
);
/// Every kind of message, each under its own operation name ([`Endpoint::named`]): a second
/// request is a second message in the buyer's inbox, so it is never resent once it may have
/// reached Amazon.
pub const CREATE_MESSAGE: Endpoint = Endpoint {
    name: "createMessage",
    method: Method::Post,
    path: "/messaging/v1/orders/{amazonOrderId}/messages/{kind}",
    plan: UsagePlan::MESSAGING,
    auth: Auth::Lwa,
    resend: Resend::OnlyIfUnsent,
};

// Reports API 2021-06-30. Asking for a report twice makes two reports, which is harmless.

pub const CREATE_REPORT: Endpoint = lwa(
    "createReport",
    Method::Post,
    "/reports/2021-06-30/reports",
    UsagePlan::CREATE_REPORT,
);
pub const GET_REPORT: Endpoint = lwa(
    "getReport",
    Method::Get,
    "/reports/2021-06-30/reports/{reportId}",
    UsagePlan::GET_REPORT,
);
pub const GET_REPORT_DOCUMENT: Endpoint = lwa(
    "getReportDocument",
    Method::Get,
    "/reports/2021-06-30/documents/{reportDocumentId}",
    UsagePlan::GET_REPORT_DOCUMENT,
);
/// A restricted report's document: with a Restricted Data Token for this document alone.
pub const GET_RESTRICTED_REPORT_DOCUMENT: Endpoint = Endpoint {
    auth: Auth::OwnRdt,
    ..GET_REPORT_DOCUMENT
};

/// Every endpoint, for the checks that hold across them.
pub const ALL: [Endpoint; 22] = [
    SEARCH_ORDERS,
    GET_ORDER,
    CONFIRM_SHIPMENT,
    CREATE_RESTRICTED_DATA_TOKEN,
    GET_ELIGIBLE_SHIPMENT_SERVICES,
    CREATE_SHIPMENT,
    GET_SHIPMENT,
    MFN_CANCEL_SHIPMENT,
    GET_RATES,
    PURCHASE_SHIPMENT,
    GET_SHIPMENT_DOCUMENTS,
    CANCEL_SHIPMENT,
    GET_TRACKING,
    GET_UNMANIFESTED_SHIPMENTS,
    GENERATE_COLLECTION_FORM,
    GET_COLLECTION_FORM,
    GET_MESSAGING_ACTIONS_FOR_ORDER,
    CREATE_MESSAGE,
    CREATE_REPORT,
    GET_REPORT,
    GET_REPORT_DOCUMENT,
    GET_RESTRICTED_REPORT_DOCUMENT,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_replaces_segments_in_order_and_counts_them() {
        assert_eq!(
            CREATE_MESSAGE
                .fill(&["111-1", "unexpectedProblem"])
                .as_deref(),
            Some("/messaging/v1/orders/111-1/messages/unexpectedProblem")
        );
        assert_eq!(
            SEARCH_ORDERS.fill(&[]).as_deref(),
            Some("/orders/2026-01-01/orders")
        );
        assert_eq!(GET_ORDER.fill(&[]), None);
        assert_eq!(GET_ORDER.fill(&["a", "b"]), None);
    }

    #[test]
    fn a_shared_token_covers_every_endpoint_that_carries_it() {
        for e in ALL {
            if let Auth::SharedRdt(scope) = e.auth {
                assert!(
                    scope.contains(&Resource {
                        method: e.method,
                        path: e.path
                    }),
                    "{} is not in its token's scope",
                    e.name
                );
            }
        }
    }

    /// Each endpoint is the official model's operation of that name, at that method and path
    /// (the message kinds, each its own path, are checked in `tests/it/messaging.rs`).
    #[test]
    fn every_endpoint_is_the_official_models_operation() {
        let models = [
            include_str!("../../../tests/spapi-models/orders_2026-01-01.json"),
            include_str!("../../../tests/spapi-models/ordersV0.json"),
            include_str!("../../../tests/spapi-models/tokens_2021-03-01.json"),
            include_str!("../../../tests/spapi-models/merchantFulfillmentV0.json"),
            include_str!("../../../tests/spapi-models/shippingV2.json"),
            include_str!("../../../tests/spapi-models/messaging.json"),
            include_str!("../../../tests/spapi-models/reports_2021-06-30.json"),
        ]
        .map(|m| serde_json::from_str::<serde_json::Value>(m).unwrap());
        for e in ALL.iter().filter(|e| e.path != CREATE_MESSAGE.path) {
            let method = e.method.as_str().to_ascii_lowercase();
            let found = models
                .iter()
                .any(|m| m["paths"][e.path][&method]["operationId"] == e.name);
            assert!(
                found,
                "{} {} {} is not in the models",
                e.name,
                e.method.as_str(),
                e.path
            );
        }
    }

    #[test]
    fn one_route_per_method_and_path() {
        // The restricted document is the same route as the document, with another token.
        for (i, a) in ALL.iter().enumerate() {
            for b in &ALL[i + 1..] {
                if a.method == b.method && a.path == b.path {
                    assert_eq!(
                        (a.name, a.plan),
                        (b.name, b.plan),
                        "{} and {} share a route",
                        a.name,
                        b.name
                    );
                }
            }
        }
    }
}
