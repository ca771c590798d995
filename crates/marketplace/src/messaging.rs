//! Messaging API v1 in the training marketplace: which messages an order allows
//! (`getMessagingActionsForOrder`) and the messages themselves, validated as Amazon validates
//! them and answered in the model's shapes, within its quotas (1 a second, burst 5, per
//! operation), with injected faults.
//!
//! What an order allows follows its status, as at Amazon, where the actions differ by status:
//! before shipment, confirming order or customization details, delivery details, an unexpected
//! problem and a legal disclosure; after it, delivery details, an unexpected problem, a legal
//! disclosure, a warranty and an invoice; a cancelled order, none. The training catalogue has no
//! digital goods and no home services, so `digitalAccessKey` and `confirmServiceDetails` are never
//! allowed. A kind the order does not allow is refused as Amazon refuses it (403 `Unauthorized`,
//! "Invalid amazonOrderId and template combination."); an empty or over-long text, HTML or an
//! e-mail address with a 400.
//!
//! The request log keeps the operation, the order, the marketplace and the text's length, never
//! the text.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::market::{self, EndpointRoutes as _, Market, Shared, admit, sp_error};
use packline_spapi::endpoints;
use packline_spapi::messaging::{GET_MESSAGING_ACTIONS_FOR_ORDER, MessageKind};
use packline_spapi::throttle::UsagePlan;
use packline_text::message::{MessageText, MessageTextError};

pub(crate) fn routes() -> Router<Shared> {
    Router::<Shared>::new()
        .endpoint(&endpoints::GET_MESSAGING_ACTIONS_FOR_ORDER, actions)
        .endpoint(&endpoints::CREATE_MESSAGE, send)
}

/// The operations whose answers can carry an injected fault.
pub(crate) fn faultable() -> impl Iterator<Item = &'static str> {
    std::iter::once(GET_MESSAGING_ACTIONS_FOR_ORDER)
        .chain(MessageKind::ALL.into_iter().map(MessageKind::operation))
}

/// What an order of this fulfillment status allows.
fn allowed(status: &str) -> &'static [MessageKind] {
    use MessageKind as K;
    match status {
        "UNSHIPPED" | "PARTIALLY_SHIPPED" => &[
            K::ConfirmCustomizationDetails,
            K::ConfirmDeliveryDetails,
            K::ConfirmOrderDetails,
            K::UnexpectedProblem,
            K::LegalDisclosure,
        ],
        "SHIPPED" => &[
            K::ConfirmDeliveryDetails,
            K::UnexpectedProblem,
            K::LegalDisclosure,
            K::Warranty,
            K::Invoice,
        ],
        _ => &[],
    }
}

fn bad(message: &str) -> Response {
    sp_error(StatusCode::BAD_REQUEST, "InvalidInput", message)
}

/// The one marketplace id the request names, or the refusal.
// The refusal is the HTTP answer itself, built once per request: boxing it would buy nothing.
#[allow(clippy::result_large_err)]
fn marketplace_of(query: &HashMap<String, String>) -> Result<String, Response> {
    match query.get("marketplaceIds").map(|v| v.split(',').count()) {
        Some(1) if !query["marketplaceIds"].trim().is_empty() => {
            Ok(query["marketplaceIds"].trim().to_owned())
        }
        Some(_) => Err(bad("marketplaceIds takes exactly one marketplace.")),
        None => Err(bad("marketplaceIds is required.")),
    }
}

/// The order's fulfillment status, or the refusal.
#[allow(clippy::result_large_err)]
fn status_of(market: &Market, id: &str, marketplace: &str) -> Result<String, Response> {
    market
        .orders
        .iter()
        .find(|o| o["orderId"] == id && o["salesChannel"]["marketplaceId"] == marketplace)
        .map(|o| {
            o["fulfillment"]["fulfillmentStatus"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .ok_or_else(|| {
            sp_error(
                StatusCode::NOT_FOUND,
                "NotFound",
                "The order was not found in this marketplace.",
            )
        })
}

fn params(id: &str, query: &HashMap<String, String>) -> HashMap<String, String> {
    let mut p = HashMap::from([("orderId".to_owned(), id.to_owned())]);
    if let Some(m) = query.get("marketplaceIds") {
        p.insert("marketplaceIds".to_owned(), m.clone());
    }
    p
}

/// `getMessagingActionsForOrder`: HAL links to the messages the order allows now.
async fn actions(
    State(m): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    const OP: &str = GET_MESSAGING_ACTIONS_FOR_ORDER;
    let logged = params(&id, &query);
    market::serve(m, OP, UsagePlan::MESSAGING, logged, |market| {
        if let Some(refused) = admit(market, &headers, OP, UsagePlan::MESSAGING) {
            return (refused, vec![]);
        }
        let marketplace = match marketplace_of(&query) {
            Ok(m) => m,
            Err(r) => return (r, vec![]),
        };
        let status = match status_of(market, &id, &marketplace) {
            Ok(s) => s,
            Err(r) => return (r, vec![]),
        };
        let q = format!("?marketplaceIds={marketplace}");
        let kinds = allowed(&status);
        let link = |k: &MessageKind| {
            json!({ "href": format!("/messaging/v1/orders/{id}/messages/{}{q}", k.name()), "name": k.name() })
        };
        let body = json!({
            "_links": {
                "actions": kinds.iter().map(link).collect::<Vec<Value>>(),
                "self": { "href": format!("/messaging/v1/orders/{id}{q}") },
            },
            "_embedded": {
                "actions": kinds.iter().map(|k| json!({
                    "_links": {
                        "schema": {
                            "href": format!("/messaging/v1/orders/{id}/messages/{}/schema", k.name()),
                            "name": k.name(),
                        },
                        "self": link(k),
                    }
                })).collect::<Vec<Value>>(),
            },
        });
        (
            (
                StatusCode::OK,
                [("content-type", "application/hal+json")],
                body.to_string(),
            )
                .into_response(),
            vec![("actions", kinds.iter().map(|k| k.name()).collect::<Vec<_>>().join(","))],
        )
    })
    .await
}

/// Why a text is refused, in Amazon's words (naming no part of it).
fn text_refusal(e: &MessageTextError, max: usize) -> String {
    match e {
        MessageTextError::Empty | MessageTextError::TooLong { .. } => {
            format!("text must be between 1 and {max} characters long.")
        }
        MessageTextError::Html { .. } => "text must not contain HTML.".into(),
        MessageTextError::Email { .. } => "text must not contain email addresses.".into(),
        MessageTextError::Hidden { .. } => "text contains characters that are not allowed.".into(),
    }
}

/// The checks of a document-only message: 1 to 5 attachments, each with an upload destination
/// and a file name.
fn attachments_refusal(body: &Value) -> Option<&'static str> {
    let ok = body["attachments"].as_array().is_some_and(|a| {
        (1..=5).contains(&a.len())
            && a.iter().all(|x| {
                x["uploadDestinationId"]
                    .as_str()
                    .is_some_and(|s| !s.is_empty())
                    && x["fileName"].as_str().is_some_and(|s| !s.is_empty())
            })
    });
    (!ok).then_some(
        "attachments must hold 1 to 5 files, each with uploadDestinationId and fileName.",
    )
}

/// A message: `201` with an empty body, or Amazon's refusal.
async fn send(
    State(m): State<Shared>,
    Path((id, kind)): Path<(String, String)>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    body: axum::body::Bytes,
) -> Response {
    let Some(kind) = MessageKind::parse(&kind) else {
        return sp_error(
            StatusCode::NOT_FOUND,
            "NotFound",
            "The resource specified does not exist.",
        );
    };
    let op = kind.operation();
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut logged = params(&id, &query);
    logged.insert("kind".to_owned(), kind.name().to_owned());
    if let Some(t) = parsed["text"].as_str() {
        logged.insert("textLength".to_owned(), t.chars().count().to_string());
    }
    market::serve(m, op, UsagePlan::MESSAGING, logged, |market| {
        if let Some(refused) = admit(market, &headers, op, UsagePlan::MESSAGING) {
            return (refused, vec![]);
        }
        let marketplace = match marketplace_of(&query) {
            Ok(m) => m,
            Err(r) => return (r, vec![]),
        };
        let status = match status_of(market, &id, &marketplace) {
            Ok(s) => s,
            Err(r) => return (r, vec![]),
        };
        if !parsed.is_object() {
            return (bad("The request body is not a JSON object."), vec![]);
        }
        if !allowed(&status).contains(&kind) {
            return (
                sp_error(
                    StatusCode::FORBIDDEN,
                    "Unauthorized",
                    "Invalid amazonOrderId and template combination.",
                ),
                vec![],
            );
        }
        let refusal = match kind.max_chars() {
            Some(max) => match &parsed["text"] {
                // The model's bounds count the text as sent.
                Value::String(t) if t.is_empty() || t.chars().count() > max => {
                    Some(format!("text must be between 1 and {max} characters long."))
                }
                Value::String(t) => MessageText::new(t.as_str(), max)
                    .err()
                    .map(|e| text_refusal(&e, max)),
                _ => Some(format!("text must be between 1 and {max} characters long.")),
            },
            None => attachments_refusal(&parsed).map(str::to_owned),
        };
        if let Some(msg) = refusal {
            return (bad(&msg), vec![]);
        }
        (
            (
                StatusCode::CREATED,
                [("content-type", "application/hal+json")],
                "{}",
            )
                .into_response(),
            vec![],
        )
    })
    .await
}
