//! Pure warehouse types and state machines: orders, their lifecycle, recipients.
//! No I/O lives here, and nothing here knows about sled, age or Amazon's wire format.

pub mod order;
pub mod recipient;
pub mod text;

pub use order::{
    Event, IllegalTransition, Order, OrderId, OrderIdError, OrderLine, OrderRecord, OrderState,
    ServiceLevel, Window,
};
pub use recipient::{GiftMessage, Recipient};
