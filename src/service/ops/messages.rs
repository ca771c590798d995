//! Messages to customers, only through Amazon's Messaging API: a lead sends one of the kinds that
//! carry a text, after the text passed Amazon's rules here (nothing refused leaves packline) and
//! Amazon said the order allows that kind now. Each message sent is an audit entry (order, kind,
//! who; never the text) and, when the order has an open inquiry, a sealed note on it.
//!
//! Leads only, for every kind: a message speaks for the seller to the buyer, often answers an
//! inquiry whose notes only leads read, and counts against the seller's standing with Amazon.
//! Whoever finds a problem on the floor raises an exception or opens an inquiry for a lead.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Allowed, Operation};
use crate::amazon::client::ApiError;
use crate::amazon::messaging::MessageKind;
use crate::domain::OrderId;
use crate::domain::inquiry::NoteText;
use crate::domain::message::MessageText;
use crate::service::amazon_calls::{api_err, block_on};
use crate::service::{Role, Service, ServiceError, order_id, store_err};

/// Sends a message of `kind` to the buyer of an order, through Amazon. An order packline never
/// imported is asked of Amazon first and recorded as shipped elsewhere, without a recipient.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SendMessage {
    pub order: String,
    /// The action's name, as Amazon names it: `confirmDeliveryDetails`.
    pub kind: String,
    pub text: Option<MessageText>,
}

/// A message Amazon took.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MessageSent {
    pub order: OrderId,
    pub kind: MessageKind,
    /// The open inquiry it was noted on, if the order has one.
    pub inquiry: Option<u64>,
    pub at: DateTime<Utc>,
    pub by: String,
}

/// The kind named, if packline sends it; the refusal says why not otherwise.
fn sendable(name: &str) -> Result<(MessageKind, usize), ServiceError> {
    let kind = MessageKind::parse(name).ok_or_else(|| {
        let names: Vec<&str> = MessageKind::ALL.iter().map(|k| k.name()).collect();
        ServiceError::Invalid(format!(
            "{name:?} is not a kind of message: use one of {}",
            names.join(", ")
        ))
    })?;
    let max = kind.max_chars().ok_or_else(|| {
        ServiceError::Invalid(format!(
            "a {kind} message carries documents uploaded through Amazon's Uploads API, which packline does not send: send it from Seller Central"
        ))
    })?;
    Ok((kind, max))
}

impl Operation for SendMessage {
    type Answer = MessageSent;
    const NAME: &'static str = "send_message";
    const ACTION: &'static str = "sending a message to a customer";
    const ROLE: Role = Role::Lead;

    fn apply(
        self,
        svc: &Service,
        c: &Allowed,
        now: DateTime<Utc>,
    ) -> Result<MessageSent, ServiceError> {
        let id = order_id(&self.order)?;
        let (kind, max) = sendable(&self.kind)?;
        // Amazon's rules first: a text refused here never reaches Amazon.
        let text = self
            .text
            .as_ref()
            .ok_or_else(|| ServiceError::Invalid(format!("the {kind} message needs a text")))?
            .checked(max)
            .map_err(|e| ServiceError::Invalid(format!("the text of the {kind} message {e}")))?;
        // An order packline never imported is asked of Amazon (recorded as shipped elsewhere).
        let rec = svc
            .order_or_elsewhere(&id, "a message", &c.user, now)?
            .ok_or_else(|| {
                ServiceError::NotFound(format!(
                    "order {id} is not in the store, and Amazon does not know it"
                ))
            })?;
        let marketplace = rec
            .order
            .marketplace_id
            .clone()
            .or_else(|| svc.settings().sync_plan.marketplace_ids.first().cloned())
            .ok_or_else(|| {
                ServiceError::Invalid(format!(
                    "order {id} names no marketplace, and [amazon] marketplace_ids is empty"
                ))
            })?;
        let api = svc.amazon()?;
        let allowed = block_on(api.messaging_actions(&id, &marketplace))?.map_err(api_err)?;
        if !allowed.iter().any(|a| a == kind.name()) {
            let known: Vec<&str> = allowed
                .iter()
                .filter_map(|a| MessageKind::parse(a))
                .filter(|k| k.max_chars().is_some())
                .map(MessageKind::name)
                .collect();
            let now_allowed = if known.is_empty() {
                "none that packline sends".to_owned()
            } else {
                known.join(", ")
            };
            return Err(ServiceError::Conflict(format!(
                "Amazon does not allow a {kind} message for order {id} now; it allows: {now_allowed}"
            )));
        }
        match block_on(api.send_message(&id, &marketplace, kind, &text))? {
            Ok(()) => {}
            Err(e @ ApiError::OutcomeUnknown { .. }) => {
                svc.store()
                    .record_message_unknown(&id, kind.name(), &c.user, now)
                    .map_err(store_err)?;
                tracing::warn!(order = %id, kind = kind.name(), user = %c.user, "message outcome unknown");
                return Err(ServiceError::Conflict(format!(
                    "{e}: the buyer may have it; look in Seller Central's Buyer-Seller Messages before sending it again"
                )));
            }
            Err(e) => return Err(api_err(e)),
        }
        // A message's longest text (2,000) is a note's longest: it always fits.
        let note = NoteText::new(text.as_str())
            .map_err(|e| ServiceError::Invalid(format!("the text {e}")))?;
        let inquiry = svc
            .store_alone()
            .record_message(&id, kind.name(), &note, &c.user, now)
            .map_err(|e| {
                ServiceError::Store(format!(
                    "the {kind} message was sent to the buyer of order {id}, but recording it failed: {e}"
                ))
            })?;
        tracing::info!(order = %id, kind = kind.name(), user = %c.user, inquiry, "message sent");
        Ok(MessageSent {
            order: id,
            kind,
            inquiry,
            at: now,
            by: c.user.clone(),
        })
    }
}
