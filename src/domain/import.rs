//! The import decision: what an order from Amazon becomes when it is imported — a new order for
//! the queue, an update of a known one (which may cancel it, close it as shipped outside
//! packline, or confirm the shipment packline bought for it), or nothing (skipped, or unchanged).
//! Pure: the store looks the known order and its shipment up and keeps what this decides
//! (sealing the recipient it says to keep); `amazon` parses the wire format into
//! `ImportedOrder`. Nothing here reads JSON, touches sled or seals.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::order::{Event, IllegalTransition, Order, OrderRecord};
use super::recipient::Recipient;
use super::shipment::ShipmentState;

/// An order as it arrived, split into what the store keeps in the clear and what it seals.
#[derive(Clone)]
pub struct ImportedOrder {
    pub order: Order,
    pub status: FulfillmentStatus,
    pub fulfilled_by_merchant: bool,
    /// The buyer asked Amazon to cancel an item (`cancellation.cancellationRequest.requester`
    /// is `BUYER`): the order is held wherever it is on the floor until a lead decides.
    pub buyer_cancel_requested: bool,
    pub recipient: Option<Recipient>,
}

impl fmt::Debug for ImportedOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImportedOrder")
            .field("order", &self.order)
            .field("status", &self.status)
            .field("fulfilled_by_merchant", &self.fulfilled_by_merchant)
            .field("buyer_cancel_requested", &self.buyer_cancel_requested)
            .field("recipient", &self.recipient)
            .finish()
    }
}

/// Where Amazon says an order's fulfillment stands (`FulfillmentStatus` in the Orders API).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FulfillmentStatus {
    PendingAvailability,
    Pending,
    Unshipped,
    PartiallyShipped,
    Shipped,
    Cancelled,
    Unfulfillable,
    /// A status this build does not know.
    Unknown,
}

impl FulfillmentStatus {
    /// Orders a merchant should be working on now.
    pub fn is_actionable(self) -> bool {
        matches!(self, Self::Unshipped | Self::PartiallyShipped)
    }
}

/// Why an order is not for this warehouse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// Amazon fulfills it (FBA).
    FulfilledByAmazon,
    /// Not known here, and not to be worked on: pending at Amazon, or closed (shipped, cancelled,
    /// unfulfillable) before packline first saw it.
    NotActionable(FulfillmentStatus),
}

/// What one imported order does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportOutcome {
    /// Nothing: the order is not for this warehouse.
    Skipped(SkipReason),
    /// Nothing: the copy kept is as new as Amazon's.
    Unchanged,
    /// A new order for the queue.
    New,
    /// A known order takes Amazon's newer details and stays where it is on the floor.
    Updated,
    /// A known open order was cancelled at Amazon.
    Cancelled,
    /// A known open order was shipped outside packline (e.g. from Seller Central).
    ShippedElsewhere,
    /// Amazon reports shipped (or partly shipped) a known open order packline bought a label
    /// for, may have bought one for, or is confirming its own carrier's shipment of: that is
    /// packline's own shipment, confirmed. The order takes the newer details and stays where it
    /// is: Labelled until it leaves on a manifest, an exception until a lead settles it.
    ShipmentConfirmed,
}

impl ImportOutcome {
    /// The lifecycle event the outcome applies to the known order, if any.
    pub fn event(self) -> Option<Event> {
        match self {
            ImportOutcome::Cancelled => Some(Event::Cancel),
            ImportOutcome::ShippedElsewhere => Some(Event::ShippedElsewhere),
            _ => None,
        }
    }
}

/// What an imported order becomes: the outcome, the record to keep and the recipient to seal.
pub struct Import {
    pub outcome: ImportOutcome,
    /// The order record after the import; `None` when nothing changes (skipped, unchanged).
    pub record: Option<OrderRecord>,
    /// The recipient to seal: only for an order still to be shipped; a changed address re-seals.
    pub recipient: Option<Recipient>,
}

impl fmt::Debug for Import {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Import")
            .field("outcome", &self.outcome)
            .field("record", &self.record)
            .field("recipient", &self.recipient)
            .finish()
    }
}

/// The outcome alone: what an imported order does, given the record kept for it, if any, and
/// where packline's own shipment of it stands, if it has one. An order packline bought (or may
/// have bought) a label for is never shipped elsewhere.
pub fn outcome(
    imported: &ImportedOrder,
    known: Option<&OrderRecord>,
    shipment: Option<ShipmentState>,
) -> ImportOutcome {
    if !imported.fulfilled_by_merchant {
        return ImportOutcome::Skipped(SkipReason::FulfilledByAmazon);
    }
    let Some(known) = known else {
        return if imported.status.is_actionable() {
            ImportOutcome::New
        } else {
            ImportOutcome::Skipped(SkipReason::NotActionable(imported.status))
        };
    };
    if imported.order.updated <= known.order.updated {
        return ImportOutcome::Unchanged;
    }
    let open = !known.state.is_closed();
    let ours = shipment.is_some_and(ShipmentState::is_ours);
    match imported.status {
        FulfillmentStatus::Cancelled if open => ImportOutcome::Cancelled,
        FulfillmentStatus::Shipped | FulfillmentStatus::PartiallyShipped if open && ours => {
            ImportOutcome::ShipmentConfirmed
        }
        FulfillmentStatus::Shipped if open => ImportOutcome::ShippedElsewhere,
        _ => ImportOutcome::Updated,
    }
}

/// Decides what an imported order becomes, given the record kept for it, if any, and where
/// packline's own shipment of it stands (`shipment`: the store's record of a label bought, a
/// purchase in flight or of unknown outcome, an own-carrier confirmation). A new order starts
/// New; a known one takes Amazon's newer details and the outcome's event, keeping its place on
/// the floor otherwise. A recipient is kept only while the order is still to be shipped, and then
/// its masked name goes on the record.
pub fn decide(
    imported: ImportedOrder,
    known: Option<&OrderRecord>,
    shipment: Option<ShipmentState>,
    now: DateTime<Utc>,
) -> Result<Import, IllegalTransition> {
    let outcome = outcome(&imported, known, shipment);
    let ImportedOrder {
        order, recipient, ..
    } = imported;
    let mut record = match (outcome, known) {
        (ImportOutcome::Skipped(_) | ImportOutcome::Unchanged, _) => {
            return Ok(Import {
                outcome,
                record: None,
                recipient: None,
            });
        }
        (_, None) => OrderRecord::new(order, now, recipient.as_ref().map(Recipient::mask)),
        (_, Some(known)) => {
            let mut next = known.clone();
            next.order = order;
            next
        }
    };
    if let Some(e) = outcome.event() {
        record.apply(e, now)?;
    }
    let recipient = recipient.filter(|_| !record.state.is_closed());
    if let Some(r) = &recipient {
        record.recipient_mask = Some(r.mask());
    }
    Ok(Import {
        outcome,
        record: Some(record),
        recipient,
    })
}

/// Why an order packline never imported is not recorded from Amazon's copy for a return, an
/// inquiry or a message: it is not closed at Amazon, so it is the floor's to ship (a sync
/// imports it, with its recipient) or not yet anyone's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("Amazon has the order as {}, neither shipped nor cancelled", status.name())]
pub struct NotClosedAtAmazon {
    pub status: FulfillmentStatus,
}

impl FulfillmentStatus {
    /// Amazon's spelling (`UNSHIPPED`), for messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::PendingAvailability => "PENDING_AVAILABILITY",
            Self::Pending => "PENDING",
            Self::Unshipped => "UNSHIPPED",
            Self::PartiallyShipped => "PARTIALLY_SHIPPED",
            Self::Shipped => "SHIPPED",
            Self::Cancelled => "CANCELLED",
            Self::Unfulfillable => "UNFULFILLABLE",
            Self::Unknown => "a status this packline does not know",
        }
    }
}

/// An order packline never imported, asked for (getOrder) because a return, an inquiry or a
/// message names it: Amazon says it shipped (or was cancelled) outside packline, so it is kept
/// closed from the start, as shipped (or cancelled) elsewhere, for its six years, with its lines
/// and dates and no recipient, not even a masked name (none is needed: nothing is ever sent to
/// it from here). An order still to be shipped is refused: a sync imports it for the floor.
pub fn shipped_elsewhere(
    imported: ImportedOrder,
    now: DateTime<Utc>,
) -> Result<OrderRecord, NotClosedAtAmazon> {
    let state = match imported.status {
        FulfillmentStatus::Shipped => super::OrderState::Shipped,
        FulfillmentStatus::Cancelled => super::OrderState::Cancelled,
        status => return Err(NotClosedAtAmazon { status }),
    };
    // The recipient, should Amazon have sent one, is dropped here unread.
    let ImportedOrder { order, .. } = imported;
    Ok(OrderRecord {
        order,
        state,
        state_since: now,
        closed_at: Some(now),
        recipient_mask: None,
        recipient_purged: false,
    })
}

/// An order packline refuses as it arrived (a SKU with a control character, a field of the
/// wrong type): set aside, named with why, while the rest of its page is imported. Nothing
/// personal of it is kept: its id, and where in it the fault is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SetAside {
    /// The order id; where it stood on its page when no id can be read (`orders[3]`).
    pub order: String,
    /// Where in the order and why, never a value from it.
    pub reason: String,
}

/// A set-aside order as the store keeps it until a sync imports it (each sync asks Amazon for
/// it again), or Amazon no longer knows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SetAsideRecord {
    pub order: super::OrderId,
    /// Where it came from: `searchOrders`, `getOrder` or an imported file's name.
    pub source: String,
    pub reason: String,
    /// When it was first set aside.
    pub since: DateTime<Utc>,
    /// When it was last refused.
    pub last: DateTime<Utc>,
    /// How many times it was refused.
    pub times: u32,
}

/// Where a sync cut short stood: its searchOrders query, and Amazon's pagination token for the
/// next page (valid 24 hours), so the next sync carries on from there instead of asking from the
/// first page again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncResume {
    pub token: String,
    pub created_after: Option<DateTime<Utc>>,
    pub last_updated_after: Option<DateTime<Utc>>,
    pub statuses: Vec<String>,
    /// When the sync that made the query started: the watermark once its last page is in.
    pub started: DateTime<Utc>,
    /// When the token was received.
    pub saved: DateTime<Utc>,
    /// Pages imported so far.
    pub pages: u64,
}

/// Counts from one import.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ImportCounts {
    pub new: u64,
    pub updated: u64,
    pub cancelled: u64,
    pub unchanged: u64,
    /// Orders not for this warehouse: fulfilled by Amazon, pending at Amazon, or closed before
    /// packline first saw them.
    pub skipped: u64,
    /// Orders held because the buyer asked Amazon to cancel them.
    #[serde(default)]
    pub held: u64,
    /// Orders refused as they arrived, set aside (the rest was imported).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub set_aside: Vec<SetAside>,
}

impl std::ops::AddAssign for ImportCounts {
    fn add_assign(&mut self, c: ImportCounts) {
        self.new += c.new;
        self.updated += c.updated;
        self.cancelled += c.cancelled;
        self.unchanged += c.unchanged;
        self.skipped += c.skipped;
        self.held += c.held;
        self.set_aside.extend(c.set_aside);
    }
}

impl ImportCounts {
    /// Counts one outcome. An order shipped elsewhere, or whose own shipment Amazon confirmed,
    /// counts as updated.
    pub fn add(&mut self, outcome: ImportOutcome) {
        let n = match outcome {
            ImportOutcome::Skipped(_) => &mut self.skipped,
            ImportOutcome::Unchanged => &mut self.unchanged,
            ImportOutcome::New => &mut self.new,
            ImportOutcome::Updated
            | ImportOutcome::ShippedElsewhere
            | ImportOutcome::ShipmentConfirmed => &mut self.updated,
            ImportOutcome::Cancelled => &mut self.cancelled,
        };
        *n += 1;
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::domain::OrderState;
    use crate::domain::order::tests_support::order_with;

    const ID: &str = "902-0000001-0000001";

    /// Amazon's copy of the order, last changed `minutes` after the one kept here.
    fn amazon(status: FulfillmentStatus, minutes: i64, name: &str) -> ImportedOrder {
        let mut order = order_with(ID, &[("MUG", 2)]);
        order.updated += Duration::minutes(minutes);
        ImportedOrder {
            order,
            status,
            fulfilled_by_merchant: true,
            buyer_cancel_requested: false,
            recipient: Some(Recipient::named(name)),
        }
    }

    /// The record kept for the order, in `state`, masked for Alice Smith.
    fn known(state: OrderState) -> OrderRecord {
        let order = order_with(ID, &[("MUG", 1)]);
        let since = order.updated;
        let mut rec = OrderRecord::new(order, since, Some(mask("Alice Smith")));
        rec.state = state;
        rec.closed_at = state.is_closed().then_some(since);
        rec
    }

    fn mask(name: &str) -> String {
        Recipient::named(name).mask()
    }

    fn now() -> DateTime<Utc> {
        order_with(ID, &[]).updated + Duration::hours(1)
    }

    fn decided(imported: ImportedOrder, known: Option<&OrderRecord>) -> Import {
        decide(imported, known, None, now()).unwrap()
    }

    /// The decision for an order whose own shipment stands at `shipment`.
    fn decided_with(
        imported: ImportedOrder,
        known: &OrderRecord,
        shipment: ShipmentState,
    ) -> Import {
        decide(imported, Some(known), Some(shipment), now()).unwrap()
    }

    #[test]
    fn an_actionable_order_not_seen_before_is_new_and_keeps_its_recipient() {
        for status in [
            FulfillmentStatus::Unshipped,
            FulfillmentStatus::PartiallyShipped,
        ] {
            let d = decided(amazon(status, 0, "Alice Smith"), None);
            assert_eq!(d.outcome, ImportOutcome::New);
            let rec = d.record.unwrap();
            assert_eq!(rec.state, OrderState::New);
            assert_eq!(rec.state_since, now());
            assert_eq!(rec.closed_at, None);
            assert_eq!(rec.order.lines[0].quantity_ordered, 2);
            assert_eq!(rec.recipient_mask, Some(mask("Alice Smith")));
            assert_eq!(d.recipient.unwrap().name, "Alice Smith");
        }
    }

    #[test]
    fn a_newer_copy_of_a_known_order_updates_it_where_it_stands() {
        let kept = known(OrderState::Picking);
        let d = decided(
            amazon(FulfillmentStatus::Unshipped, 5, "Alice Jones"),
            Some(&kept),
        );
        assert_eq!(d.outcome, ImportOutcome::Updated);
        assert_eq!(d.outcome.event(), None);
        let rec = d.record.unwrap();
        assert_eq!(rec.state, OrderState::Picking);
        assert_eq!(rec.state_since, kept.state_since);
        assert_eq!(rec.order.lines[0].quantity_ordered, 2);
        // The changed address is sealed again, and the mask follows it.
        assert_eq!(rec.recipient_mask, Some(mask("Alice Jones")));
        assert_eq!(d.recipient.unwrap().name, "Alice Jones");
    }

    #[test]
    fn a_copy_no_newer_than_the_one_kept_changes_nothing() {
        let kept = known(OrderState::New);
        for minutes in [0, -5] {
            let d = decided(
                amazon(FulfillmentStatus::Cancelled, minutes, "Alice Smith"),
                Some(&kept),
            );
            assert_eq!(d.outcome, ImportOutcome::Unchanged);
            assert!(d.record.is_none());
            assert!(d.recipient.is_none());
        }
    }

    #[test]
    fn a_cancellation_at_amazon_cancels_an_open_order_and_drops_its_recipient() {
        let kept = known(OrderState::Packed);
        let d = decided(
            amazon(FulfillmentStatus::Cancelled, 5, "Alice Jones"),
            Some(&kept),
        );
        assert_eq!(d.outcome, ImportOutcome::Cancelled);
        assert_eq!(d.outcome.event(), Some(Event::Cancel));
        let rec = d.record.unwrap();
        assert_eq!(rec.state, OrderState::Cancelled);
        assert_eq!(rec.closed_at, Some(now()));
        assert!(d.recipient.is_none(), "a closed order keeps no recipient");
        assert_eq!(rec.recipient_mask, Some(mask("Alice Smith")));
    }

    #[test]
    fn an_order_shipped_outside_packline_closes_as_shipped() {
        let kept = known(OrderState::New);
        let d = decided(
            amazon(FulfillmentStatus::Shipped, 5, "Alice Smith"),
            Some(&kept),
        );
        assert_eq!(d.outcome, ImportOutcome::ShippedElsewhere);
        assert_eq!(d.outcome.event(), Some(Event::ShippedElsewhere));
        let rec = d.record.unwrap();
        assert_eq!(rec.state, OrderState::Shipped);
        assert_eq!(rec.closed_at, Some(now()));
        assert!(d.recipient.is_none());
    }

    #[test]
    fn amazon_shipping_an_order_packline_bought_a_label_for_confirms_it_where_it_stands() {
        // Labelled with a bought label (Buy Shipping marks the order shipped), an exception over a
        // purchase of unknown outcome, a purchase still in flight, an own-carrier confirmation
        // whose answer has not come: each is packline's own shipment.
        for (state, shipment) in [
            (OrderState::Labelled, ShipmentState::Bought),
            (OrderState::Exception, ShipmentState::OutcomeUnknown),
            (OrderState::Exception, ShipmentState::Bought),
            (OrderState::Packed, ShipmentState::PurchaseIntent),
            (OrderState::Packed, ShipmentState::OutcomeUnknown),
            (OrderState::Packed, ShipmentState::Confirming),
        ] {
            let kept = known(state);
            for status in [
                FulfillmentStatus::Shipped,
                FulfillmentStatus::PartiallyShipped,
            ] {
                let case = format!("{state} / {} / {status:?}", shipment.name());
                let d = decided_with(amazon(status, 5, "Alice Jones"), &kept, shipment);
                assert_eq!(d.outcome, ImportOutcome::ShipmentConfirmed, "{case}");
                assert_eq!(d.outcome.event(), None, "{case}");
                let rec = d.record.unwrap();
                assert_eq!(rec.state, state, "{case}: the order stays where it is");
                assert_eq!(rec.state_since, kept.state_since, "{case}");
                assert_eq!(rec.closed_at, None, "{case}");
                assert_eq!(rec.order.lines[0].quantity_ordered, 2, "{case}");
                // Still to leave the building: the recipient is kept for its slip and label.
                assert_eq!(rec.recipient_mask, Some(mask("Alice Jones")), "{case}");
                assert_eq!(d.recipient.unwrap().name, "Alice Jones", "{case}");
            }
        }
    }

    #[test]
    fn an_order_whose_label_was_voided_is_shipped_elsewhere_as_before() {
        let kept = known(OrderState::Packed);
        let d = decided_with(
            amazon(FulfillmentStatus::Shipped, 5, "Alice Smith"),
            &kept,
            ShipmentState::Voided,
        );
        assert_eq!(d.outcome, ImportOutcome::ShippedElsewhere);
        let rec = d.record.unwrap();
        assert_eq!(rec.state, OrderState::Shipped);
        assert_eq!(rec.closed_at, Some(now()));
        assert!(d.recipient.is_none());
        // Partly shipped without a shipment of packline's: an update, as before.
        for shipment in [None, Some(ShipmentState::Voided)] {
            let d = decide(
                amazon(FulfillmentStatus::PartiallyShipped, 5, "Alice Smith"),
                Some(&kept),
                shipment,
                now(),
            )
            .unwrap();
            assert_eq!(d.outcome, ImportOutcome::Updated, "{shipment:?}");
            assert_eq!(d.record.unwrap().state, OrderState::Packed);
        }
    }

    #[test]
    fn an_own_shipment_changes_nothing_for_closed_or_unchanged_orders_or_cancellations() {
        // Closed orders stay closed and only take the newer details.
        for (state, shipment) in [
            (OrderState::Shipped, ShipmentState::Bought),
            (OrderState::Shipped, ShipmentState::Confirmed),
            (OrderState::Cancelled, ShipmentState::Bought),
        ] {
            let d = decided_with(
                amazon(FulfillmentStatus::Shipped, 5, "Alice Smith"),
                &known(state),
                shipment,
            );
            assert_eq!(d.outcome, ImportOutcome::Updated, "{state}");
            assert_eq!(d.record.unwrap().state, state);
            assert!(d.recipient.is_none());
        }
        // A copy no newer than the one kept is still nothing.
        let kept = known(OrderState::Labelled);
        let d = decided_with(
            amazon(FulfillmentStatus::Shipped, 0, "Alice Smith"),
            &kept,
            ShipmentState::Bought,
        );
        assert_eq!(d.outcome, ImportOutcome::Unchanged);
        assert!(d.record.is_none());
        // Not shipped at Amazon: an update where it stands.
        let d = decided_with(
            amazon(FulfillmentStatus::Unshipped, 5, "Alice Smith"),
            &kept,
            ShipmentState::Bought,
        );
        assert_eq!(d.outcome, ImportOutcome::Updated);
        assert_eq!(d.record.unwrap().state, OrderState::Labelled);
        // A cancellation cancels, as before.
        let d = decided_with(
            amazon(FulfillmentStatus::Cancelled, 5, "Alice Smith"),
            &kept,
            ShipmentState::Bought,
        );
        assert_eq!(d.outcome, ImportOutcome::Cancelled);
    }

    #[test]
    fn a_closed_order_takes_newer_details_but_stays_closed() {
        for state in [OrderState::Shipped, OrderState::Cancelled] {
            let kept = known(state);
            for status in [FulfillmentStatus::Cancelled, FulfillmentStatus::Shipped] {
                let d = decided(amazon(status, 5, "Alice Jones"), Some(&kept));
                assert_eq!(d.outcome, ImportOutcome::Updated, "{state} / {status:?}");
                let rec = d.record.unwrap();
                assert_eq!(rec.state, state);
                assert_eq!(rec.closed_at, kept.closed_at);
                assert!(d.recipient.is_none());
                assert_eq!(rec.recipient_mask, kept.recipient_mask);
            }
        }
    }

    #[test]
    fn orders_fulfilled_by_amazon_are_skipped_known_or_not() {
        let kept = known(OrderState::New);
        for k in [None, Some(&kept)] {
            let mut o = amazon(FulfillmentStatus::Unshipped, 5, "Alice Smith");
            o.fulfilled_by_merchant = false;
            let d = decided(o, k);
            assert_eq!(
                d.outcome,
                ImportOutcome::Skipped(SkipReason::FulfilledByAmazon)
            );
            assert!(d.record.is_none());
            assert!(d.recipient.is_none());
        }
    }

    #[test]
    fn new_orders_pending_at_amazon_or_already_closed_are_skipped() {
        for status in [
            FulfillmentStatus::Pending,
            FulfillmentStatus::PendingAvailability,
            FulfillmentStatus::Shipped,
            FulfillmentStatus::Cancelled,
            FulfillmentStatus::Unfulfillable,
            FulfillmentStatus::Unknown,
        ] {
            let d = decided(amazon(status, 0, "Alice Smith"), None);
            assert_eq!(
                d.outcome,
                ImportOutcome::Skipped(SkipReason::NotActionable(status))
            );
            assert!(d.record.is_none());
            assert!(d.recipient.is_none());
        }
    }

    #[test]
    fn counts_follow_outcomes() {
        let mut c = ImportCounts::default();
        for o in [
            ImportOutcome::New,
            ImportOutcome::New,
            ImportOutcome::Updated,
            ImportOutcome::ShippedElsewhere,
            ImportOutcome::ShipmentConfirmed,
            ImportOutcome::Cancelled,
            ImportOutcome::Unchanged,
            ImportOutcome::Skipped(SkipReason::FulfilledByAmazon),
            ImportOutcome::Skipped(SkipReason::NotActionable(FulfillmentStatus::Pending)),
        ] {
            c.add(o);
        }
        assert_eq!(
            c,
            ImportCounts {
                new: 2,
                updated: 3,
                cancelled: 1,
                unchanged: 1,
                skipped: 2,
                held: 0,
                set_aside: Vec::new(),
            }
        );
    }

    #[test]
    fn debug_never_shows_the_recipient() {
        let o = amazon(FulfillmentStatus::Unshipped, 0, "Alice Smith");
        assert!(!format!("{o:?}").contains("Alice"));
        let d = decided(o, None);
        let shown = format!("{d:?}");
        assert!(!shown.contains("Alice"), "{shown}");
    }

    #[test]
    fn an_order_never_imported_is_kept_closed_without_its_recipient() {
        let t = now();
        let rec =
            shipped_elsewhere(amazon(FulfillmentStatus::Shipped, 0, "Alice Smith"), t).unwrap();
        assert_eq!(rec.state, OrderState::Shipped);
        assert_eq!((rec.state_since, rec.closed_at), (t, Some(t)));
        assert_eq!(rec.recipient_mask, None);
        assert!(!rec.recipient_purged);
        assert_eq!(rec.order.lines[0].sku, "MUG");
        assert!(!format!("{rec:?}").contains("Alice"));
        let rec = shipped_elsewhere(amazon(FulfillmentStatus::Cancelled, 0, "A"), t).unwrap();
        assert_eq!(rec.state, OrderState::Cancelled);
        for status in [
            FulfillmentStatus::Unshipped,
            FulfillmentStatus::PartiallyShipped,
            FulfillmentStatus::Pending,
            FulfillmentStatus::PendingAvailability,
            FulfillmentStatus::Unfulfillable,
            FulfillmentStatus::Unknown,
        ] {
            let e = shipped_elsewhere(amazon(status, 0, "A"), t).unwrap_err();
            assert_eq!(e.status, status);
        }
        assert_eq!(
            NotClosedAtAmazon {
                status: FulfillmentStatus::Unshipped
            }
            .to_string(),
            "Amazon has the order as UNSHIPPED, neither shipped nor cancelled"
        );
    }
}
