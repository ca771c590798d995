//! Messaging API v1 (`messaging.json`): the only way packline writes to a customer. Which kinds
//! of message an order allows (`getMessagingActionsForOrder`), and sending one of the kinds that
//! carry a text, in the model's shapes and within its quotas (1 request a second, burst 5, for
//! every operation). The kinds that carry only documents (legal disclosure, warranty, invoice)
//! need files uploaded through the Uploads API, which packline does not do.
//!
//! A message's text may hold personal data: it travels only in the request body (wiped after
//! sending), and no error from here quotes it.

use serde::Deserialize;

use super::client::{ApiError, SpApi};
use super::endpoints::{self, Request};
use super::model::ParseError;
use crate::domain::OrderId;
use crate::domain::message::MessageText;

pub use packline_spapi::messaging::{GET_MESSAGING_ACTIONS_FOR_ORDER, MessageKind};

/// The request body of a text message: `{"text": "…"}`, wiped when dropped.
pub fn message_body(text: &MessageText) -> zeroize::Zeroizing<Vec<u8>> {
    zeroize::Zeroizing::new(
        serde_json::to_vec(&serde_json::json!({ "text": text.as_str() }))
            .expect("a string serializes"),
    )
}

#[derive(Deserialize)]
struct LinkObject {
    href: Option<String>,
    name: Option<String>,
}

#[derive(Deserialize)]
struct Links {
    #[serde(default)]
    actions: Vec<LinkObject>,
}

#[derive(Deserialize)]
struct ActionsResponse {
    #[serde(rename = "_links")]
    links: Option<Links>,
}

/// Parses a `getMessagingActionsForOrder` answer: the names of the actions allowed (those
/// packline does not know, like `negativeFeedbackRemoval`, included), from each link's `name`,
/// else the last segment of its `href`.
pub fn parse_actions(bytes: &[u8]) -> Result<Vec<String>, ParseError> {
    let r: ActionsResponse = serde_json::from_slice(bytes).map_err(|e| ParseError::Invalid {
        source_name: GET_MESSAGING_ACTIONS_FOR_ORDER.to_owned(),
        path: ".".into(),
        detail: super::model::redacted_serde_message(&e),
    })?;
    let links = r.links.ok_or_else(|| ParseError::Invalid {
        source_name: GET_MESSAGING_ACTIONS_FOR_ORDER.to_owned(),
        path: "_links".into(),
        detail: "is missing".into(),
    })?;
    Ok(links
        .actions
        .into_iter()
        .filter_map(|l| {
            l.name.or_else(|| {
                let href = l.href?;
                let path = href.split('?').next().unwrap_or_default();
                path.rsplit('/').next().map(str::to_owned)
            })
        })
        .collect())
}

impl SpApi {
    /// `getMessagingActionsForOrder`: the names of the messages the order allows now. A read:
    /// retried like one.
    pub async fn messaging_actions(
        &self,
        order: &OrderId,
        marketplace_id: &str,
    ) -> Result<Vec<String>, ApiError> {
        let order = order.to_string();
        let request = Request {
            path: &[order.as_str()],
            query: &[("marketplaceIds", marketplace_id)],
            ..Request::default()
        };
        self.call(
            &endpoints::GET_MESSAGING_ACTIONS_FOR_ORDER,
            request,
            parse_actions,
        )
        .await
    }

    /// Sends a message of `kind` with `text` to the buyer of `order` (201 on success).
    ///
    /// **Never resent once it may have reached Amazon**: a second request is a second message
    /// in the buyer's inbox. It is sent again only after a 429 or a connection that was never
    /// made; a timeout, a 5xx or an unreadable answer is [`ApiError::OutcomeUnknown`]. An error
    /// message of Amazon's that quotes the text is withheld.
    pub async fn send_message(
        &self,
        order: &OrderId,
        marketplace_id: &str,
        kind: MessageKind,
        text: &MessageText,
    ) -> Result<(), ApiError> {
        let operation = kind.operation();
        if kind.max_chars().is_none() {
            return Err(ApiError::Request {
                operation,
                detail: "this kind of message carries documents only (the Uploads API), not a text"
                    .into(),
            });
        }
        let body = message_body(text);
        let order = order.to_string();
        let request = Request {
            path: &[order.as_str(), kind.name()],
            query: &[("marketplaceIds", marketplace_id)],
            body: Some(&body),
            ..Request::default()
        };
        self.call(&kind.endpoint(), request, |_| Ok(()))
            .await
            .map_err(|e| withhold_quotes(e, text))
    }
}

/// An error whose Amazon message repeats a part of the text (16 characters or more, or all of a
/// shorter text) says so instead of repeating it.
fn withhold_quotes(e: ApiError, text: &MessageText) -> ApiError {
    match e {
        ApiError::Status {
            operation,
            status,
            code,
            message,
        } if quotes(&message, text.as_str()) => ApiError::Status {
            operation,
            status,
            code,
            message: "(Amazon's message quoted the text; withheld)".into(),
        },
        other => other,
    }
}

fn quotes(message: &str, text: &str) -> bool {
    const WINDOW: usize = 16;
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= WINDOW {
        return !text.trim().is_empty() && message.contains(text);
    }
    chars
        .windows(WINDOW)
        .any(|w| message.contains(&w.iter().collect::<String>()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODEL: &str = include_str!("../../tests/spapi-models/messaging.json");

    #[test]
    fn the_sandbox_actions_parse_and_unknown_kinds_are_kept_by_name() {
        let model: serde_json::Value = serde_json::from_str(MODEL).unwrap();
        let get =
            &model["paths"]["/messaging/v1/orders/{amazonOrderId}"]["get"]["responses"]["200"];
        let sandbox = &get["x-amzn-api-sandbox"]["static"][0]["response"];
        let names = parse_actions(&serde_json::to_vec(sandbox).unwrap()).unwrap();
        assert_eq!(names.len(), 11);
        assert!(names.contains(&"negativeFeedbackRemoval".to_owned()));
        for k in MessageKind::ALL {
            if k != MessageKind::Invoice {
                assert!(names.contains(&k.name().to_owned()), "{k}");
            }
        }
        // A link without a name is known by its path.
        let bare = br#"{"_links":{"self":{"href":"/x"},"actions":[{"href":"/messaging/v1/orders/1/messages/warranty?marketplaceIds=A"}]}}"#;
        assert_eq!(parse_actions(bare).unwrap(), ["warranty"]);
        let err = parse_actions(br#"{"errors":[]}"#).unwrap_err().to_string();
        assert_eq!(err, "getMessagingActionsForOrder: _links: is missing");
    }

    #[test]
    fn amazons_errors_quoting_the_text_are_withheld() {
        let text = MessageText::new("Dear Jane Doe, the blue mug broke in transit", 2000).unwrap();
        let status = |message: &str| ApiError::Status {
            operation: "createUnexpectedProblem",
            status: 400,
            code: "InvalidInput".into(),
            message: message.into(),
        };
        let withheld = withhold_quotes(status("bad text: 'the blue mug broke'"), &text);
        assert_eq!(
            withheld.to_string(),
            "createUnexpectedProblem: Amazon answered 400 InvalidInput: (Amazon's message quoted the text; withheld)"
        );
        let kept = withhold_quotes(status("Invalid Input"), &text);
        assert_eq!(
            kept.to_string(),
            "createUnexpectedProblem: Amazon answered 400 InvalidInput: Invalid Input"
        );
        let short = MessageText::new("Sorry!", 2000).unwrap();
        assert!(quotes("text 'Sorry!' refused", short.as_str()));
        assert!(!quotes("Invalid Input", short.as_str()));
    }
}
