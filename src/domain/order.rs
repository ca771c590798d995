//! Orders as the warehouse tracks them, and the lifecycle every order follows.
//! `OrderState::apply` is the only way a state changes; an illegal move is an error, never a no-op.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// An Amazon order id such as `123-4567890-1234567`. It is a store key and is printed everywhere,
/// so only ASCII letters, digits, `-` and `_` are accepted (at most 64).
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(try_from = "String", into = "String")]
pub struct OrderId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderIdError {
    #[error("order id is empty")]
    Empty,
    #[error("order id is longer than 64 characters")]
    TooLong,
    #[error("order id may hold only ASCII letters, digits, '-' and '_' (found {0})")]
    BadChar(String),
}

impl OrderId {
    pub const MAX_LEN: usize = 64;

    pub fn parse(s: &str) -> Result<Self, OrderIdError> {
        if s.is_empty() {
            return Err(OrderIdError::Empty);
        }
        if s.len() > Self::MAX_LEN {
            return Err(OrderIdError::TooLong);
        }
        if let Some(c) = s
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            // Only the code point is named: the id came from outside and may be anything.
            return Err(OrderIdError::BadChar(format!("U+{:04X}", c as u32)));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the id has the shape of Amazon's order ids (`123-1234567-1234567`): a code
    /// scanned at a bench is only asked of Amazon when it does, so a mis-scan spends no quota.
    pub fn is_amazon_shaped(&self) -> bool {
        let parts: Vec<&str> = self.0.split('-').collect();
        parts.len() == 3
            && [3, 7, 7]
                .iter()
                .zip(&parts)
                .all(|(n, p)| p.len() == *n && p.bytes().all(|b| b.is_ascii_digit()))
    }
}

impl TryFrom<String> for OrderId {
    type Error = OrderIdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<OrderId> for String {
    fn from(id: OrderId) -> String {
        id.0
    }
}

impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

/// A time window Amazon promises against (ship-by, deliver-by). Either end may be unknown.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct Window {
    pub earliest: Option<DateTime<Utc>>,
    pub latest: Option<DateTime<Utc>>,
}

/// The shipping speed the customer chose at checkout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ServiceLevel {
    SameDay,
    NextDay,
    SecondDay,
    Expedited,
    Priority,
    Scheduled,
    Standard,
    FreeEconomy,
    /// A level this build does not know yet; treated like Standard for sorting.
    #[serde(other)]
    Other,
}

/// One line of an order: a SKU and how many units of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OrderLine {
    pub item_id: String,
    pub sku: String,
    pub asin: String,
    pub title: String,
    pub quantity_ordered: u32,
    pub quantity_shipped: u32,
    /// What Amazon asks to be recorded for each unit when it is packed.
    #[serde(default)]
    pub unit_codes: UnitCodes,
    /// The gift wrap the buyer chose (Amazon's level, e.g. `PREMIUM`), if any. The gift message
    /// itself is personal data, sealed with the recipient.
    #[serde(default)]
    pub gift_wrap: Option<String>,
}

/// The codes a line needs per unit at the pack bench.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct UnitCodes {
    /// `fulfillment.packing.serialNumberRequirement.requirementType = REQUIRED`.
    pub serial: bool,
    /// The item is in Amazon's Transparency program: each unit's code goes to Amazon.
    pub transparency: bool,
}

impl UnitCodes {
    /// The kinds of code each unit needs, in the order they are asked for.
    pub fn kinds(self) -> Vec<CodeKind> {
        let mut k = Vec::new();
        if self.serial {
            k.push(CodeKind::Serial);
        }
        if self.transparency {
            k.push(CodeKind::Transparency);
        }
        k
    }
}

/// A per-unit code Amazon asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CodeKind {
    Serial,
    Transparency,
}

impl CodeKind {
    pub fn name(self) -> &'static str {
        match self {
            CodeKind::Serial => "serial number",
            CodeKind::Transparency => "Transparency code",
        }
    }
}

/// An order as Amazon describes it, without any personal data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Order {
    pub id: OrderId,
    pub marketplace_id: Option<String>,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    pub ship_by: Window,
    pub deliver_by: Window,
    pub service_level: ServiceLevel,
    pub prime: bool,
    pub business: bool,
    pub lines: Vec<OrderLine>,
}

impl Order {
    /// The time the queue sorts by: the latest ship-by, else the earliest, else creation.
    pub fn ship_by_key(&self) -> DateTime<Utc> {
        self.ship_by
            .latest
            .or(self.ship_by.earliest)
            .unwrap_or(self.created)
    }

    pub fn units(&self) -> u64 {
        self.lines
            .iter()
            .map(|l| u64::from(l.quantity_ordered))
            .sum()
    }
}

/// Where an order is on the floor.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    New,
    Picking,
    Picked,
    Packed,
    Labelled,
    Shipped,
    Cancelled,
    Exception,
}

impl OrderState {
    pub const ALL: [OrderState; 8] = [
        OrderState::New,
        OrderState::Picking,
        OrderState::Picked,
        OrderState::Packed,
        OrderState::Labelled,
        OrderState::Shipped,
        OrderState::Cancelled,
        OrderState::Exception,
    ];

    /// Shipped and Cancelled are final: their retention clocks run and nothing moves them again.
    pub fn is_closed(self) -> bool {
        matches!(self, OrderState::Shipped | OrderState::Cancelled)
    }

    /// The one-byte code used in store keys. Stable: never renumber.
    pub fn code(self) -> u8 {
        match self {
            OrderState::New => 1,
            OrderState::Picking => 2,
            OrderState::Picked => 3,
            OrderState::Packed => 4,
            OrderState::Labelled => 5,
            OrderState::Shipped => 6,
            OrderState::Cancelled => 7,
            OrderState::Exception => 8,
        }
    }

    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.code() == code)
    }

    pub fn name(self) -> &'static str {
        match self {
            OrderState::New => "new",
            OrderState::Picking => "picking",
            OrderState::Picked => "picked",
            OrderState::Packed => "packed",
            OrderState::Labelled => "labelled",
            OrderState::Shipped => "shipped",
            OrderState::Cancelled => "cancelled",
            OrderState::Exception => "exception",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|st| st.name().eq_ignore_ascii_case(s))
    }

    /// The lifecycle: `New → Picking → Picked → Packed → Labelled → Shipped`, plus Cancelled
    /// (Amazon cancelled it) and Exception (a lead resolves it back onto the line).
    pub fn apply(self, event: Event) -> Result<OrderState, IllegalTransition> {
        use Event as E;
        use OrderState as S;
        let next = match (self, event) {
            (S::New, E::StartPick) => S::Picking,
            (S::Picking, E::FinishPick) => S::Picked,
            (S::Picking, E::ReleasePick) => S::New,
            (S::Picked, E::FinishPack) => S::Packed,
            (S::Packed, E::LabelBought) => S::Labelled,
            (S::Labelled, E::LabelVoided) => S::Packed,
            (S::Labelled, E::Ship) => S::Shipped,
            // An own-carrier shipment needs no bought label.
            (S::Packed, E::ShipOwnCarrier) => S::Shipped,
            // Part of the order left (a lead's decision): the rest goes back on the queue.
            (S::Labelled | S::Packed, E::ShipPart) => S::New,
            (s, E::ShippedElsewhere) if !s.is_closed() => S::Shipped,
            (s, E::Cancel) if !s.is_closed() => S::Cancelled,
            (s, E::RaiseException) if !s.is_closed() && s != S::Exception => S::Exception,
            (S::Exception, E::Resolve(to)) if to.is_resume_point() => to,
            (from, event) => return Err(IllegalTransition { from, event }),
        };
        Ok(next)
    }

    /// States a lead may send a resolved exception back to.
    fn is_resume_point(self) -> bool {
        matches!(
            self,
            OrderState::New | OrderState::Picked | OrderState::Packed | OrderState::Labelled
        )
    }
}

impl fmt::Display for OrderState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// What happens to an order. Each event is allowed from some states only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    StartPick,
    FinishPick,
    ReleasePick,
    FinishPack,
    LabelBought,
    LabelVoided,
    Ship,
    ShipOwnCarrier,
    /// Some of the order's units left; the rest wait on the queue.
    ShipPart,
    /// Amazon reports the order shipped outside packline (e.g. from Seller Central).
    ShippedElsewhere,
    Cancel,
    RaiseException,
    Resolve(OrderState),
}

impl Event {
    pub fn name(self) -> &'static str {
        match self {
            Event::StartPick => "start_pick",
            Event::FinishPick => "finish_pick",
            Event::ReleasePick => "release_pick",
            Event::FinishPack => "finish_pack",
            Event::LabelBought => "label_bought",
            Event::LabelVoided => "label_voided",
            Event::Ship => "ship",
            Event::ShipOwnCarrier => "ship_own_carrier",
            Event::ShipPart => "ship_part",
            Event::ShippedElsewhere => "shipped_elsewhere",
            Event::Cancel => "cancel",
            Event::RaiseException => "raise_exception",
            Event::Resolve(_) => "resolve",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("an order that is {from} cannot take '{}'", event.name())]
pub struct IllegalTransition {
    pub from: OrderState,
    pub event: Event,
}

/// An order with where it is on the floor: what the store keeps, and none of it personal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OrderRecord {
    pub order: Order,
    pub state: OrderState,
    pub state_since: DateTime<Utc>,
    /// When the order became Shipped or Cancelled: the retention clocks start here.
    pub closed_at: Option<DateTime<Utc>>,
    /// A masked form of the recipient's name (`J. D****`) for packers; dropped with the recipient.
    pub recipient_mask: Option<String>,
    /// True once the sealed recipient has been destroyed by retention.
    #[serde(default)]
    pub recipient_purged: bool,
}

impl OrderRecord {
    pub fn new(order: Order, now: DateTime<Utc>, recipient_mask: Option<String>) -> Self {
        Self {
            order,
            state: OrderState::New,
            state_since: now,
            closed_at: None,
            recipient_mask,
            recipient_purged: false,
        }
    }

    /// Moves the order on, stamping the time; closing starts the retention clock.
    pub fn apply(&mut self, event: Event, now: DateTime<Utc>) -> Result<(), IllegalTransition> {
        let next = self.state.apply(event)?;
        self.state = next;
        self.state_since = now;
        if next.is_closed() {
            self.closed_at = Some(now);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn any_state() -> impl Strategy<Value = OrderState> {
        prop::sample::select(OrderState::ALL.to_vec())
    }

    fn any_event() -> impl Strategy<Value = Event> {
        prop_oneof![
            Just(Event::StartPick),
            Just(Event::FinishPick),
            Just(Event::ReleasePick),
            Just(Event::FinishPack),
            Just(Event::LabelBought),
            Just(Event::LabelVoided),
            Just(Event::Ship),
            Just(Event::ShipOwnCarrier),
            Just(Event::ShipPart),
            Just(Event::ShippedElsewhere),
            Just(Event::Cancel),
            Just(Event::RaiseException),
            any_state().prop_map(Event::Resolve),
        ]
    }

    #[test]
    fn happy_path_reaches_shipped() {
        let mut s = OrderState::New;
        for e in [
            Event::StartPick,
            Event::FinishPick,
            Event::FinishPack,
            Event::LabelBought,
            Event::Ship,
        ] {
            s = s.apply(e).unwrap();
        }
        assert_eq!(s, OrderState::Shipped);
    }

    #[test]
    fn illegal_moves_are_typed_errors() {
        let err = OrderState::New.apply(Event::Ship).unwrap_err();
        assert_eq!(
            err,
            IllegalTransition {
                from: OrderState::New,
                event: Event::Ship
            }
        );
        assert_eq!(err.to_string(), "an order that is new cannot take 'ship'");
        assert!(
            OrderState::Exception
                .apply(Event::Resolve(OrderState::Shipped))
                .is_err()
        );
        assert!(OrderState::Picked.apply(Event::FinishPick).is_err());
    }

    #[test]
    fn state_codes_round_trip_and_are_distinct() {
        for s in OrderState::ALL {
            assert_eq!(OrderState::from_code(s.code()), Some(s));
            assert_eq!(OrderState::parse(s.name()), Some(s));
        }
        assert_eq!(OrderState::from_code(0), None);
    }

    #[test]
    fn order_ids_are_checked() {
        assert!(OrderId::parse("123-4567890-1234567").is_ok());
        assert!(
            OrderId::parse("123-4567890-1234567")
                .unwrap()
                .is_amazon_shaped()
        );
        for other in [
            "1Z999AA10123456784",
            "123-4567890-123456",
            "12a-4567890-1234567",
            "1-2-3",
        ] {
            assert!(
                !OrderId::parse(other).unwrap().is_amazon_shaped(),
                "{other}"
            );
        }
        assert_eq!(OrderId::parse(""), Err(OrderIdError::Empty));
        assert_eq!(OrderId::parse(&"1".repeat(65)), Err(OrderIdError::TooLong));
        assert_eq!(
            OrderId::parse("12\u{1b}[2J"),
            Err(OrderIdError::BadChar("U+001B".into()))
        );
        assert!(serde_json::from_str::<OrderId>("\"a b\"").is_err());
    }

    proptest! {
        /// Closed states are final: no event moves them.
        #[test]
        fn closed_states_are_final(e in any_event()) {
            prop_assert!(OrderState::Shipped.apply(e).is_err());
            prop_assert!(OrderState::Cancelled.apply(e).is_err());
        }

        /// No transition is a silent no-op: a legal move always changes the state.
        #[test]
        fn legal_moves_change_state(s in any_state(), e in any_event()) {
            if let Ok(next) = s.apply(e) {
                prop_assert_ne!(next, s);
            }
        }

        /// Any open order can always be cancelled, and cancellation is the only way to Cancelled.
        #[test]
        fn cancel_from_any_open_state(s in any_state(), e in any_event()) {
            prop_assert_eq!(s.apply(Event::Cancel).is_ok(), !s.is_closed());
            if s.apply(e) == Ok(OrderState::Cancelled) {
                prop_assert_eq!(e, Event::Cancel);
            }
        }

        /// Along any walk of events, Shipped is reached only by shipping (a bought label, an own
        /// carrier, or Amazon saying so), and Labelled only by buying a label or a lead's resolve.
        #[test]
        fn random_walks_respect_the_lifecycle(events in prop::collection::vec(any_event(), 0..64)) {
            let mut s = OrderState::New;
            for e in events {
                match s.apply(e) {
                    Ok(next) => {
                        if next == OrderState::Shipped {
                            prop_assert!(matches!(
                                (s, e),
                                (OrderState::Labelled, Event::Ship)
                                    | (OrderState::Packed, Event::ShipOwnCarrier)
                                    | (_, Event::ShippedElsewhere)
                            ));
                        }
                        if next == OrderState::Labelled {
                            prop_assert!(matches!(e, Event::LabelBought | Event::Resolve(_)));
                        }
                        if next == OrderState::Packed {
                            prop_assert!(matches!(
                                (s, e),
                                (OrderState::Picked, Event::FinishPack)
                                    | (OrderState::Labelled, Event::LabelVoided)
                                    | (OrderState::Exception, Event::Resolve(_))
                            ));
                        }
                        s = next;
                    }
                    Err(err) => prop_assert_eq!(err, IllegalTransition { from: s, event: e }),
                }
            }
        }

        /// Closing stamps the retention clock, and only closing does.
        #[test]
        fn closing_starts_the_clock(events in prop::collection::vec(any_event(), 0..32)) {
            let t0 = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap();
            let order = Order {
                id: OrderId::parse("1").unwrap(), marketplace_id: None, created: t0, updated: t0,
                ship_by: Window::default(), deliver_by: Window::default(),
                service_level: ServiceLevel::Standard, prime: false, business: false, lines: vec![],
            };
            let mut rec = OrderRecord::new(order, t0, None);
            for (i, e) in events.into_iter().enumerate() {
                let now = t0 + chrono::Duration::seconds(i as i64 + 1);
                let before = rec.clone();
                if rec.apply(e, now).is_ok() {
                    prop_assert_eq!(rec.closed_at.is_some(), rec.state.is_closed());
                    prop_assert_eq!(rec.state_since, now);
                } else {
                    prop_assert_eq!(&rec, &before);
                }
            }
        }
    }
}

/// Orders for the unit tests of the other domain modules.
#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;
    use chrono::TimeZone;

    pub fn order_with(id: &str, lines: &[(&str, u32)]) -> Order {
        let t = Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap();
        Order {
            id: OrderId::parse(id).unwrap(),
            marketplace_id: None,
            created: t,
            updated: t,
            ship_by: Window::default(),
            deliver_by: Window::default(),
            service_level: ServiceLevel::Standard,
            prime: false,
            business: false,
            lines: lines
                .iter()
                .enumerate()
                .map(|(i, (sku, q))| OrderLine {
                    item_id: format!("item{i}"),
                    sku: (*sku).to_owned(),
                    asin: format!("B00000000{i}"),
                    title: format!("{sku} title"),
                    quantity_ordered: *q,
                    quantity_shipped: 0,
                    unit_codes: UnitCodes::default(),
                    gift_wrap: None,
                })
                .collect(),
        }
    }
}
