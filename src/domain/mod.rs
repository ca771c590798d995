//! Pure warehouse types and state machines: orders and their lifecycle, the import decision
//! (what an order from Amazon becomes), picking, packing, shipments, recipients, returns, customer
//! inquiries and messages to customers, roles and the retention policy.
//! No I/O lives here, and nothing here knows about sled, age or Amazon's wire format; it depends
//! on no other packline module. `text` and `message` are the `packline-text` crate's, so the
//! training marketplace reads text by the same rules.

pub mod access;
pub mod free_text;
pub mod hold;
pub mod import;
pub mod inquiry;
pub mod invariants;
pub mod metrics;
pub mod order;
pub mod pack;
pub mod pick;
pub mod print;
pub mod recipient;
pub mod report;
pub mod retention;
pub mod returns;
pub mod role;
pub mod routing;
pub mod shipment;

/// Text from outside made safe to show and normalised to compare (the `packline-text` crate).
pub use packline_text as text;
pub use packline_text::message;

pub use free_text::{FreeText, SEALED_PLACEHOLDER};
pub use hold::{BUYER_ASKED_TO_CANCEL, Held, Hold};
pub use import::{
    FulfillmentStatus, Import, ImportCounts, ImportOutcome, ImportedOrder, SetAside,
    SetAsideRecord, SkipReason,
};
pub use inquiry::{Inquiry, InquiryCategory, NoteKind, NoteText};
pub use order::{
    CodeKind, Event, IllegalTransition, Order, OrderId, OrderIdError, OrderLine, OrderRecord,
    OrderState, ServiceLevel, UnitCodes, Window,
};
pub use pack::{
    ClosedBox, PackCheck, PackRefusal, PackStep, Package, PackageItem, Parcel, UnitCode,
};
pub use pick::{CartRules, Locations, PickBatch, PickEvent, PickRefusal, Shortfall};
pub use recipient::{GiftMessage, Recipient};
pub use retention::RetentionPolicy;
pub use role::Role;
pub use shipment::{
    Carrier, Delivery, PurchaseIntentV2, ShipmentRecord, ShipmentState, ShipmentV2, TrackingError,
    TrackingNumber,
};
