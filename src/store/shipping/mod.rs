//! Shipments and printing, in the `floor` tree: each package's shipment record (what it leaves
//! with and where its purchase or confirmation stands: `domain::shipment`), kept durably; bought
//! labels, sealed like recipients; a per-day index for manifests; and the print queue.
//!
//! Package 1 of an order is keyed by the order id alone (as every order was before boxes);
//! package n > 1 by `order#n` (`#` is never in an order id).
//!
//! A label purchase is recorded as an intent, durably, before Amazon is asked. If the answer
//! never comes, the intent stays: the service refuses a second purchase for that order and a
//! lead decides (look the shipment up, or void it). Money is never spent twice by a retry.

mod confirm;
mod prints;
mod recovery;
mod v2;

pub use prints::{Document, JobState, PrintJob};

use crate::store::backend::{Batch, Bytes};
use chrono::{DateTime, NaiveDate, Utc};

use super::records::{
    self,
    shipping::{Intent2, Shipment2, Tracked2},
};
use super::{Error, Store, Tx, TxResult, abort, audit_in, exception_step, step};
/// The shipment state machine and its record are the domain's; re-exported for callers.
pub use crate::domain::shipment::{ShipmentRecord, ShipmentState};
use crate::domain::{Event, OrderId, OrderRecord, OrderState, PurchaseIntentV2, ShipmentV2};
use crate::store::refusal::{FloorRefusal, LabelRefusal};
pub use crate::store::stats::local_day;

const SHIPMENT: u8 = super::keys::floor::SHIPMENT;
const LABEL: u8 = super::keys::floor::LABEL;
const DAY: u8 = super::keys::floor::DAY;
const JOB: u8 = super::keys::floor::JOB;
/// A purchase in flight: `INTENT ‖ order id` while its shipment is a PurchaseIntent, so a start
/// finds interrupted purchases without reading every shipment ever made.
const INTENT: u8 = super::keys::floor::INTENT;
/// What the Shipping API v2 adds to a package's shipment (`ShipmentV2`).
const V2: u8 = super::keys::floor::V2;
/// A v2 package whose delivery tracking has more to tell: `AWAIT ‖ order#n`.
const AWAIT: u8 = super::keys::floor::AWAIT;
/// A collection form: `FORM ‖ day ‖ carrier id` → the PDF (no personal data: tracking numbers).
const FORM: u8 = super::keys::floor::FORM;

fn key(kind: u8, id: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + id.len());
    k.push(kind);
    k.extend_from_slice(id);
    k
}

/// An order's package as keys name it: `order`, or `order#n` past the first.
fn package_id(order: &str, package: u32) -> Vec<u8> {
    let mut k = order.as_bytes().to_vec();
    if package > 1 {
        k.push(b'#');
        k.extend_from_slice(package.to_string().as_bytes());
    }
    k
}

/// The order and package a key's tail names.
fn parse_package(tail: &[u8]) -> Option<(OrderId, u32)> {
    let tail = std::str::from_utf8(tail).ok()?;
    let (order, n) = match tail.split_once('#') {
        Some((o, n)) => (o, n.parse().ok().filter(|n| *n > 1)?),
        None => (tail, 1),
    };
    Some((OrderId::parse(order).ok()?, n))
}

fn day_key(day: NaiveDate, order: &OrderId, package: u32) -> Vec<u8> {
    let mut k = vec![DAY];
    k.extend_from_slice(day.format("%Y-%m-%d").to_string().as_bytes());
    k.extend_from_slice(&package_id(order.as_str(), package));
    k
}

fn decode_shipment(bytes: &[u8]) -> Result<ShipmentRecord, Error> {
    records::decode::<Shipment2>(bytes)
}

fn shipment_key(id: &OrderId, package: u32) -> Vec<u8> {
    key(SHIPMENT, &package_id(id.as_str(), package))
}

fn label_key(id: &OrderId, package: u32) -> Vec<u8> {
    key(LABEL, &package_id(id.as_str(), package))
}

fn intent_key(id: &OrderId, package: u32) -> Vec<u8> {
    key(INTENT, &package_id(id.as_str(), package))
}

/// The order, inside a transaction.
fn order_in(tx: &Tx<'_>, id: &OrderId) -> TxResult<OrderRecord> {
    match tx.orders.get(id.as_str())? {
        Some(v) => super::decode_record(&v).or_else(abort),
        None => abort(Error::NoSuchOrder(id.clone())),
    }
}

/// A Packed order, inside a transaction; `what` says what needs it packed.
fn packed_in(tx: &Tx<'_>, id: &OrderId, what: &'static str) -> TxResult<OrderRecord> {
    let rec = order_in(tx, id)?;
    if rec.state != OrderState::Packed {
        return abort(
            FloorRefusal::NotPacked {
                order: id.clone(),
                state: rec.state,
                what,
            }
            .into(),
        );
    }
    Ok(rec)
}

pub(super) fn shipment_in(
    tx: &Tx<'_>,
    id: &OrderId,
    package: u32,
) -> TxResult<Option<ShipmentRecord>> {
    tx.floor
        .get(shipment_key(id, package))?
        .map(|v| decode_shipment(&v).or_else(abort))
        .transpose()
}

/// Where packline's own shipment of the order stands, inside a transaction (as
/// [`Store::shipment_state`]): a package that is (or may be) packline's wins over a voided one.
pub(super) fn shipment_state_in(tx: &Tx<'_>, id: &OrderId) -> TxResult<Option<ShipmentState>> {
    let mut first = None;
    for n in super::floor::package_numbers(tx, id.as_str())? {
        if let Some(s) = shipment_in(tx, id, n)? {
            if s.state.is_ours() {
                return Ok(Some(s.state));
            }
            first.get_or_insert(s.state);
        }
    }
    Ok(first)
}

/// The order's packages whose tracking packline follows (a bought, unvoided Shipping API v2
/// label), and of them those the carrier has scanned already, inside a transaction: what the
/// Valid Tracking Rate counts when the order ships.
pub(super) fn tracking_in(tx: &Tx<'_>, id: &OrderId) -> TxResult<(u64, u64)> {
    let (mut followed, mut scanned) = (0, 0);
    for n in super::floor::package_numbers(tx, id.as_str())? {
        if !shipment_in(tx, id, n)?.is_some_and(|s| s.state == ShipmentState::Bought) {
            continue;
        }
        let Some(v) = tx.floor.get(key(V2, &package_id(id.as_str(), n)))? else {
            continue;
        };
        let v: ShipmentV2 = records::decode::<Tracked2>(&v).or_else(abort)?;
        if v.voided {
            continue;
        }
        followed += 1;
        if v.carrier_scanned() {
            scanned += 1;
        }
    }
    Ok((followed, scanned))
}

/// Writes a shipment record, keeping the in-flight marker in step with its state.
fn put_shipment(tx: &Tx<'_>, s: &ShipmentRecord) -> TxResult<()> {
    tx.floor.insert(
        shipment_key(&s.order, s.package),
        records::encode::<Shipment2>(s),
    )?;
    let marker = intent_key(&s.order, s.package);
    if s.state == ShipmentState::PurchaseIntent {
        tx.floor.insert(marker, [])?;
    } else {
        tx.floor.remove(marker)?;
    }
    Ok(())
}

/// Writes a package's v2 details, keeping the tracking marker in step.
fn put_v2(tx: &Tx<'_>, id: &OrderId, package: u32, v: &ShipmentV2) -> TxResult<()> {
    let k = package_id(id.as_str(), package);
    tx.floor
        .insert(key(V2, &k), records::encode::<Tracked2>(v))?;
    if v.awaits_delivery() {
        tx.floor.insert(key(AWAIT, &k), [])?;
    } else {
        tx.floor.remove(key(AWAIT, &k))?;
    }
    Ok(())
}

/// What a label cost: currency and amount.
pub type Postage<'a> = Option<(&'a str, f64)>;

/// A label Amazon sold, as [`Store::complete_purchase`] keeps it.
pub struct Sold<'a> {
    pub record: &'a ShipmentRecord,
    /// The label file, sealed before it is kept.
    pub label: &'a [u8],
    /// The order's packages still to leave: the order is Labelled once each has a label.
    pub open: &'a [u32],
    pub postage: Postage<'a>,
    /// What Shipping API v2 keeps with the shipment.
    pub v2: Option<&'a ShipmentV2>,
}

/// A bought label: its record, the sealed label, the day index, and the report's counters (a
/// label per carrier, and what it cost).
fn keep_label(
    tx: &Tx<'_>,
    s: &ShipmentRecord,
    sealed: &[u8],
    postage: Postage<'_>,
) -> TxResult<()> {
    use crate::domain::report::Metric;
    let carrier = s.carrier.as_ref().map_or("-", |c| c.name());
    let currency = postage.map_or("", |(c, _)| c);
    super::stats::carrier(tx, s.at, carrier, currency, Metric::LabelsBought, 1)?;
    if let Some((currency, amount)) = postage
        && amount.is_finite()
        && amount > 0.0
    {
        let cents = (amount * 100.0).round() as u64;
        super::stats::carrier(tx, s.at, carrier, currency, Metric::PostageCents, cents)?;
    }
    put_shipment(tx, s)?;
    tx.floor.insert(label_key(&s.order, s.package), sealed)?;
    tx.floor
        .insert(day_key(local_day(s.at), &s.order, s.package), [])?;
    Ok(())
}

/// An audit entry that moves nothing.
fn note(
    tx: &Tx<'_>,
    id: &OrderId,
    user: &str,
    action: &str,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> TxResult<()> {
    audit_in(tx, user, action, Some(id.as_str()), reason, now)
}

/// Puts something a lead must see on an order: an exception with the note when the order can
/// take one, else (already an exception, or closed) an audit entry with it.
fn flag(
    tx: &Tx<'_>,
    order: OrderRecord,
    user: &str,
    action: &str,
    text: &str,
    now: DateTime<Utc>,
) -> TxResult<OrderRecord> {
    if order.state.is_closed() || order.state == OrderState::Exception {
        note(tx, &order.order.id, user, action, Some(text), now)?;
        Ok(order)
    } else {
        // packline's own words (shipment ids; `check` reads them): no personal text.
        let words = super::notes::Words::System(text);
        exception_step(tx, &order.order.id, Event::RaiseException, user, words, now)
    }
}

/// What a label bought did to its order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bought {
    /// Every package has its label: the order is Labelled.
    Labelled,
    /// Other packages of the order still need theirs: it stays Packed.
    MoreToBuy,
    /// The order moved on meanwhile (an exception, a cancellation): kept for a lead.
    Moved,
}

/// What a purchase about to be sent buys: a service (Merchant Fulfillment v0), or a Shipping
/// API v2 intent with its key and exact request.
enum Buying<'a> {
    Service(&'a str),
    V2(&'a PurchaseIntentV2),
}

impl Store {
    /// One package's shipment record.
    pub fn shipment(&self, id: &OrderId, package: u32) -> Result<Option<ShipmentRecord>, Error> {
        self.t
            .floor
            .get(shipment_key(id, package))?
            .map(|v| decode_shipment(&v))
            .transpose()
    }

    /// Every shipment record of the order, by package number.
    pub fn shipments(&self, id: &OrderId) -> Result<Vec<ShipmentRecord>, Error> {
        let prefix = key(SHIPMENT, id.as_str().as_bytes());
        let mut out = Vec::new();
        for item in self.t.floor.scan_prefix(&prefix) {
            let (k, v) = item?;
            // `order` or `order#n`, not a longer order id that starts the same.
            if matches!(k.get(prefix.len()), None | Some(b'#')) {
                out.push(decode_shipment(&v)?);
            }
        }
        out.sort_by_key(|s| s.package);
        Ok(out)
    }

    /// Where packline's own shipment of the order stands, for sync: a package that is (or may
    /// be) packline's wins over a voided one.
    pub fn shipment_state(&self, id: &OrderId) -> Result<Option<ShipmentState>, Error> {
        let all = self.shipments(id)?;
        Ok(all
            .iter()
            .find(|s| s.state.is_ours())
            .or(all.first())
            .map(|s| s.state))
    }

    /// Records the intent to buy a label for one package of a Packed order, durably, before
    /// Amazon is asked. Refused unless the package has no shipment or its last label was voided.
    pub fn begin_purchase(
        &self,
        id: &OrderId,
        package: u32,
        service_id: &str,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        self.begin(id, package, Buying::Service(service_id), user, now)
    }

    /// Records a purchase about to be sent, durably; with a Shipping API v2 intent (its key
    /// and exact request) kept beside it. Refused when the package has a label or a purchase.
    fn begin(
        &self,
        id: &OrderId,
        package: u32,
        buying: Buying,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        let (service_id, service_name, intent) = match buying {
            Buying::Service(s) => (s, None, None),
            Buying::V2(i) => (
                i.service_id.as_str(),
                Some(i.service_name.as_str()),
                Some(i),
            ),
        };
        self.transact(|tx| {
            packed_in(tx, id, "labels")?;
            // A hold placed while the rates were asked for stops the purchase here, where the
            // intent is written: no money moves for a held order.
            super::floor::refuse_held_in(tx, id)?;
            // Only a voided label leaves room for another: anything else means a label may
            // exist, or the package ships with its own carrier.
            if let Some(s) = shipment_in(tx, id, package)?
                && s.state != ShipmentState::Voided
            {
                return abort(
                    LabelRefusal::Bought {
                        order: id.clone(),
                        package,
                        state: s.state.name(),
                    }
                    .into(),
                );
            }
            put_shipment(
                tx,
                &ShipmentRecord {
                    order: id.clone(),
                    package,
                    state: ShipmentState::PurchaseIntent,
                    carrier: None,
                    tracking: None,
                    shipment_id: None,
                    service_id: Some(service_id.to_owned()),
                    service_name: service_name.map(str::to_owned),
                    label_format: None,
                    at: now,
                    by: user.to_owned(),
                },
            )?;
            let what = match intent {
                Some(i) => {
                    tx.floor
                        .insert(intent_key(id, package), records::encode::<Intent2>(i))?;
                    format!("package {package}, Shipping API v2")
                }
                None => format!("package {package}"),
            };
            note(tx, id, user, "label_purchase_intent", Some(&what), now)
        })?;
        self.flush()
    }

    /// Amazon said it bought a package's label: the label is sealed and kept, whatever happened
    /// to the order meanwhile. A Packed order whose open packages (`open`) all have labels now
    /// becomes Labelled; one that moved on (an exception, a cancellation) keeps its state and
    /// gets the shipment id in its exception note, so the label can still be voided.
    pub fn complete_purchase(
        &mut self,
        sold: Sold<'_>,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<(OrderRecord, Bought), Error> {
        let Sold {
            record,
            label,
            open,
            postage,
            v2,
        } = sold;
        let sealed = self.keyring.seal_document(label, now)?;
        let id = &record.order;
        let out = self.transact(|tx| {
            let current = order_in(tx, id)?;
            // The same purchase kept twice (two waves, or a start, sent one intent under its
            // key and Amazon gave both the one shipment): the first kept it, nothing changes.
            if let Some(kept) = shipment_in(tx, id, record.package)?
                && kept.state == ShipmentState::Bought
                && kept.shipment_id.is_some()
                && kept.shipment_id == record.shipment_id
            {
                let outcome = match current.state {
                    OrderState::Packed => Bought::MoreToBuy,
                    OrderState::Labelled => Bought::Labelled,
                    _ => Bought::Moved,
                };
                return Ok((current, outcome));
            }
            let (rec, outcome) = if current.state == OrderState::Packed {
                let mut all = true;
                for n in open.iter().filter(|n| **n != record.package) {
                    all &= shipment_in(tx, id, *n)?
                        .is_some_and(|s| s.state == ShipmentState::Bought);
                }
                if all {
                    (
                        step(tx, id, Event::LabelBought, user, None, now)?,
                        Bought::Labelled,
                    )
                } else {
                    let what = format!("package {}", record.package);
                    note(tx, id, user, "label_bought", Some(&what), now)?;
                    (current, Bought::MoreToBuy)
                }
            } else {
                let earlier = match shipment_in(tx, id, record.package)? {
                    Some(s) if s.state == ShipmentState::Bought => format!(
                        "; the package already had shipment {}",
                        s.shipment_id.as_deref().unwrap_or("?")
                    ),
                    _ => String::new(),
                };
                let text = format!(
                    "a label was bought (shipment {}, package {}) while the order was {}{earlier}: void it or resolve to Labelled",
                    record.shipment_id.as_deref().unwrap_or("?"),
                    record.package,
                    current.state
                );
                (
                    flag(tx, current, user, "label_bought", &text, now)?,
                    Bought::Moved,
                )
            };
            keep_label(tx, record, &sealed, postage)?;
            if let Some(v) = v2 {
                put_v2(tx, id, record.package, v)?;
            }
            Ok((rec, outcome))
        })?;
        self.flush()?;
        Ok(out)
    }

    /// Amazon refused the purchase outright (nothing was bought): the intent is dropped, and
    /// only the intent (a record written meanwhile stays).
    pub fn abandon_purchase(&self, id: &OrderId, package: u32) -> Result<(), Error> {
        self.transact(|tx| {
            if shipment_in(tx, id, package)?
                .is_some_and(|s| s.state == ShipmentState::PurchaseIntent)
            {
                tx.floor.remove(shipment_key(id, package))?;
                tx.floor.remove(intent_key(id, package))?;
            }
            Ok(())
        })?;
        self.flush()
    }

    /// A package's label was voided at Amazon: the order goes back to Packed (if it was
    /// Labelled), the sealed label is destroyed.
    pub fn voided(
        &self,
        id: &OrderId,
        package: u32,
        user: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        // The reason is a person's words: sealed, and the audit entry names where.
        let sealed = self.seal_words(reason, "the reason for a void", now)?;
        let words = super::notes::Words::Sealed(&sealed);
        self.transact(|tx| {
            // Voided once: a second void of the same label (two labelers at once) finds none.
            let Some(mut s) =
                shipment_in(tx, id, package)?.filter(|s| s.state == ShipmentState::Bought)
            else {
                return abort(
                    LabelRefusal::NothingToVoid {
                        order: id.clone(),
                        package,
                    }
                    .into(),
                );
            };
            let kept = words.put(tx, super::notes::void_ref(id.as_str(), package, now))?;
            let reason = kept.audit();
            if order_in(tx, id)?.state == OrderState::Labelled {
                step(tx, id, Event::LabelVoided, user, Some(&reason), now)?;
            } else {
                note(tx, id, user, "label_voided", Some(&reason), now)?;
            }
            tx.floor.remove(day_key(local_day(s.at), id, package))?;
            let carrier = s.carrier.as_ref().map_or("-", |c| c.name());
            super::stats::carrier(
                tx,
                now,
                carrier,
                "",
                crate::domain::report::Metric::LabelsVoided,
                1,
            )?;
            s.state = ShipmentState::Voided;
            s.at = now;
            put_shipment(tx, &s)?;
            tx.floor.remove(label_key(id, package))?;
            let k = key(V2, &package_id(id.as_str(), package));
            if let Some(v) = tx.floor.get(&k)? {
                let mut v: ShipmentV2 = records::decode::<Tracked2>(&v).or_else(abort)?;
                v.voided = true;
                put_v2(tx, id, package, &v)?;
            }
            Ok(())
        })?;
        self.flush()
    }

    /// Opens a package's bought label for the printer. Needs the store unlocked.
    pub fn label(&self, id: &OrderId, package: u32) -> Result<zeroize::Zeroizing<Vec<u8>>, Error> {
        let v = self.t.floor.get(label_key(id, package))?.ok_or_else(|| {
            Error::from(LabelRefusal::NoStoredLabel {
                order: id.clone(),
                package,
            })
        })?;
        self.keyring
            .open_document(&v, "printing a label")
            .map_err(|e| match e {
                Error::EpochShredded { epoch } => LabelRefusal::LabelShredded {
                    order: id.clone(),
                    package,
                    epoch,
                }
                .into(),
                e => e,
            })
    }
}

impl Store {
    /// Forgets the days before `day`: their shipment marks (what a day's manifest lists) and
    /// collection forms, kept as long as the order records they name. How many went.
    pub(in crate::store) fn forget_days_before(&self, day: NaiveDate) -> Result<u64, Error> {
        let mut n = 0;
        for family in [DAY, FORM] {
            let mut end = vec![family];
            end.extend_from_slice(day.format("%Y-%m-%d").to_string().as_bytes());
            let mut gone = Batch::default();
            for item in self.t.floor.range(vec![family]..end) {
                gone.remove(item?.0);
                n += 1;
            }
            self.t.floor.apply_batch(gone)?;
        }
        Ok(n)
    }
}

/// Removes an order's shipping entries (retention deleting the order record). Run before the
/// floor's entries go: the package list names the packages.
pub(super) fn forget(tx: &Tx<'_>, id: &str) -> TxResult<()> {
    for n in super::floor::package_numbers(tx, id)? {
        for kind in [SHIPMENT, LABEL, INTENT, V2, AWAIT] {
            tx.floor.remove(key(kind, &package_id(id, n)))?;
        }
    }
    Ok(())
}

/// A sealed label as retention and the check see it: where it is kept, whose it is, and the
/// epoch it is sealed under (None when its envelope is damaged).
pub(super) struct SealedLabel {
    pub key: Bytes,
    pub order: OrderId,
    pub package: u32,
    pub epoch: Option<u32>,
}

impl Store {
    /// Every sealed label kept, in key order.
    pub(super) fn sealed_labels(&self) -> Result<Vec<SealedLabel>, Error> {
        let mut out = Vec::new();
        for item in self.t.floor.scan_prefix([LABEL]) {
            let (k, v) = item?;
            if let Some((order, package)) = parse_package(&k[1..]) {
                out.push(SealedLabel {
                    key: k,
                    order,
                    package,
                    epoch: super::seal::envelope_epoch(&v),
                });
            }
        }
        Ok(out)
    }

    /// Every shipment record of every order (the check reads them all).
    pub(super) fn all_shipments(&self) -> Result<Vec<ShipmentRecord>, Error> {
        let mut out = Vec::new();
        for item in self.t.floor.scan_prefix([SHIPMENT]) {
            let (_, v) = item?;
            out.push(decode_shipment(&v)?);
        }
        Ok(out)
    }
}

/// The mark a label leaves in the epoch it moved out of (`epochs` tree).
pub(super) fn label_mark(label: &SealedLabel) -> String {
    format!(
        "label/{}",
        String::from_utf8_lossy(&package_id(label.order.as_str(), label.package))
    )
}

/// Removes the order's sealed labels (retention destroying the recipient's data); returns
/// their envelopes' epochs, so retention can mark those epochs as holding gone data.
pub(super) fn drop_label(tx: &Tx<'_>, id: &str) -> TxResult<Vec<u32>> {
    let mut epochs = Vec::new();
    for n in super::floor::package_numbers(tx, id)? {
        if let Some(e) = tx
            .floor
            .take(key(LABEL, &package_id(id, n)))?
            .and_then(|v| super::seal::envelope_epoch(&v))
        {
            epochs.push(e);
        }
    }
    Ok(epochs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_keys_name_their_order_and_package() {
        let id = OrderId::parse("111-0000001-0000001").unwrap();
        for n in [1, 2, 17] {
            let k = package_id(id.as_str(), n);
            assert_eq!(parse_package(&k), Some((id.clone(), n)));
        }
        assert_eq!(package_id(id.as_str(), 1), id.as_str().as_bytes());
        assert_eq!(parse_package(b"111-0000001-0000001#1"), None);
        assert_eq!(parse_package(b"111-0000001-0000001#x"), None);
    }
}
