//! The store's schema version, and its upgrades.
//!
//! A store records the schema it was written in (`meta` key `schema`; a store without one was
//! written before schema versions: version 1). Opening an older store upgrades it once, as a
//! copy: every tree is read from the store and written, each record rewritten in the current
//! format, into a new database beside it (`db.upgrade`), which gets the new schema version and
//! an `upgrade` audit entry; then the two folders are exchanged in one atomic rename
//! (`renameat2(RENAME_EXCHANGE)`) and the old one removed. A kill at any moment leaves the old
//! store whole (before the exchange: the half-made copy is removed at the next open, which
//! starts again) or the new one (after it: the old copy is removed). A store written by a newer
//! packline is refused, naming both versions.

use std::path::Path;

use chrono::{DateTime, Utc};

use super::floor::{Batch2, Check2, ItemCodes2, Packages2, Parcel2};
use super::order::OrderRecord2;
use super::shipping::{Intent2, PrintJob2, Shipment2, Tracked2};
use super::v1;
use super::{Record, SCHEMA, frame, whole};
use crate::store::RecordKind;
use crate::store::backend::TxError;
use crate::store::{Error, audit, keys};

/// The `meta` key of the schema version (4 bytes, big-endian).
pub const META_SCHEMA: &[u8] = crate::store::keys::meta::SCHEMA.as_bytes();
/// The audit action of an upgrade; its reason says from and to which version.
pub const UPGRADE_ACTION: &str = "upgrade";
/// Where the copy is made, beside the store's `db`.
pub const STAGING: &str = "db.upgrade";
/// Records written per sled batch while copying.
const CHUNK: usize = 4096;

/// The schema version a store's `meta` tree records (1 when it records none).
pub fn schema_of(meta: &sled::Tree) -> Result<u32, Error> {
    schema_from(meta.get(META_SCHEMA)?.as_deref())
}

/// `schema_of`, through the storage seam.
pub fn schema_in(meta: &crate::store::backend::Tree) -> Result<u32, Error> {
    schema_from(meta.get(META_SCHEMA)?.as_deref())
}

fn schema_from(v: Option<&[u8]>) -> Result<u32, Error> {
    match v {
        None => Ok(1),
        Some(v) => match <[u8; 4]>::try_from(v) {
            Ok(b) => Ok(u32::from_be_bytes(b)),
            Err(_) => Err(Error::corrupt(
                RecordKind::Schema,
                "the store's schema version is not 4 bytes",
            )),
        },
    }
}

pub fn schema_bytes(version: u32) -> [u8; 4] {
    version.to_be_bytes()
}

/// A half-made copy or an old store left by an upgrade cut short, removed: called once the
/// store's `db` is open (and so locked by this process).
pub fn remove_leftover(data_dir: &Path) -> Result<(), Error> {
    let staging = data_dir.join(STAGING);
    if staging.exists() {
        tracing::info!(dir = %staging.display(), "removing what an interrupted upgrade left");
        std::fs::remove_dir_all(&staging).map_err(|e| Error::io(&staging, e))?;
        sync_dir(data_dir)?;
    }
    Ok(())
}

/// The store's version checked: a newer one refused; an older one upgraded. Takes the open
/// database and answers the one to use (the same, or the upgraded one opened).
pub fn settle(
    data_dir: &Path,
    db: sled::Db,
    open: impl Fn() -> Result<sled::Db, Error>,
    open_staging: impl Fn() -> Result<sled::Db, Error>,
    now: DateTime<Utc>,
) -> Result<sled::Db, Error> {
    remove_leftover(data_dir)?;
    let found = schema_of(&db.open_tree(keys::META.name)?)?;
    if found > SCHEMA {
        return Err(Error::NewerStore {
            dir: data_dir.to_owned(),
            found,
            reads: SCHEMA,
        });
    }
    if found == SCHEMA {
        return Ok(db);
    }
    let started = std::time::Instant::now();
    tracing::info!(from = found, to = SCHEMA, "upgrading the store");
    {
        let staging = open_staging()?;
        copy(&db, &staging, found)?;
        let staging = crate::store::backend(staging);
        let meta = staging.open_tree(keys::META.name)?;
        let log = staging.open_tree(keys::AUDIT.name)?;
        let reason = format!("schema {found} to {SCHEMA}");
        let entry = audit::Record {
            at: now,
            user: "packline",
            action: UPGRADE_ACTION,
            order: None,
            reason: Some(&reason),
        };
        staging.transact(&[&log, &meta], |t| {
            match audit::append(&t[0], &t[1], &entry) {
                // A log already broken is named by `audit verify` and `check`; it does not
                // keep the store from opening.
                Err(TxError::Abort(Error::AuditBroken(why))) => {
                    tracing::warn!(%why, "the upgrade could not be audited")
                }
                other => {
                    other?;
                }
            }
            t[1].insert(META_SCHEMA, schema_bytes(SCHEMA))?;
            Ok(())
        })?;
        staging.flush()?;
    }
    db.flush()?;
    drop(db);
    exchange(data_dir)?;
    remove_leftover(data_dir)?;
    tracing::info!(
        from = found,
        to = SCHEMA,
        seconds = started.elapsed().as_secs_f64(),
        "store upgraded"
    );
    open()
}

/// The store's `db` and the finished copy swapped in one step.
fn exchange(data_dir: &Path) -> Result<(), Error> {
    let db = data_dir.join(crate::store::DB_DIR);
    let staging = data_dir.join(STAGING);
    nix::fcntl::renameat2(
        None,
        &staging,
        None,
        &db,
        nix::fcntl::RenameFlags::RENAME_EXCHANGE,
    )
    .map_err(|e| Error::io(&db, std::io::Error::from(e)))?;
    sync_dir(data_dir)
}

fn sync_dir(dir: &Path) -> Result<(), Error> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

/// Every tree of `from` written to `to`, each record in the current format.
fn copy(from: &sled::Db, to: &sled::Db, version: u32) -> Result<(), Error> {
    // An upgrade from a version this packline does not know how to raise cannot happen (every
    // version from 1 is handled below), but is refused rather than copied as it is.
    if version != 1 {
        return Err(Error::corrupt(
            RecordKind::Schema,
            format!("no upgrade from schema {version} to {SCHEMA}"),
        ));
    }
    let orders = from.open_tree("amazon/orders")?;
    for name in from.tree_names() {
        let src = from.open_tree(&name)?;
        let dst = to.open_tree(&name)?;
        let floor = name.as_ref() == b"floor";
        let mut batch = sled::Batch::default();
        let mut n = 0;
        for item in src.iter() {
            let (k, v) = item?;
            let put = if floor {
                floor_1(&src, &orders, &k, &v)?
            } else if name.as_ref() == b"amazon/orders" {
                Some((k.to_vec(), order_1(&v)?))
            } else {
                Some((k.to_vec(), v.to_vec()))
            };
            if let Some((k, v)) = put {
                batch.insert(k, v);
                n += 1;
            }
            if n == CHUNK {
                dst.apply_batch(std::mem::take(&mut batch))?;
                n = 0;
            }
        }
        dst.apply_batch(batch)?;
    }
    Ok(())
}

/// An order record of schema 1 (format 1 or 2) in the current format.
fn order_1(v: &[u8]) -> Result<Vec<u8>, Error> {
    match v.split_first() {
        Some((1, body)) => {
            let old = whole::<v1::Order1>(body).map_err(|e| {
                Error::corrupt(
                    RecordKind::Order,
                    format!("an order record of format 1 cannot be read for the upgrade: {e}"),
                )
            })?;
            Ok(frame(OrderRecord2::FORMAT, &OrderRecord2::from(old)))
        }
        _ => Ok(v.to_vec()),
    }
}

/// A schema-1 value of a kind that had two layouts: its newest, else the older one, converted.
/// The error is the newest layout's.
fn newest_or<New, Old>(v: &[u8]) -> Result<New, String>
where
    New: serde::de::DeserializeOwned,
    Old: serde::de::DeserializeOwned + Into<New>,
{
    whole::<New>(v).or_else(|e| whole::<Old>(v).map(Into::into).map_err(|_| e))
}

/// A key and its value.
type Entry = (Vec<u8>, Vec<u8>);

/// One `floor` entry of schema 1 in schema 2: the key to write and its value, or none (a
/// parcel, written as its order's packages instead). The key bytes here are schema 1's, frozen
/// like its layouts (`v1`): `p`, the parcel, is known only here; the current store's are the key
/// registry's (`store::keys`).
fn floor_1(
    floor: &sled::Tree,
    orders: &sled::Tree,
    k: &[u8],
    v: &[u8],
) -> Result<Option<Entry>, Error> {
    let keep = |v: Vec<u8>| Ok(Some((k.to_vec(), v)));
    let what = |kind: RecordKind, e: String| {
        Error::corrupt(
            kind,
            format!(
                "{kind} {} cannot be read for the upgrade: {e}",
                printable(&k[1..])
            ),
        )
    };
    match k.first() {
        Some(b'b') => {
            let b = newest_or::<Batch2, v1::Batch>(v).map_err(|e| what(RecordKind::Batch, e))?;
            keep(frame(Batch2::FORMAT, &b))
        }
        Some(b'k') => {
            let c = whole::<Check2>(v)
                .or_else(|e| {
                    whole::<v1::CheckOneBox>(v)
                        .map(Into::into)
                        .or_else(|_| whole::<v1::Check>(v).map(Into::into))
                        .map_err(|_| e)
                })
                .map_err(|e| what(RecordKind::PackCheck, e))?;
            keep(frame(Check2::FORMAT, &c))
        }
        Some(b'P') if !v.is_empty() => {
            let p = whole::<Packages2>(v).map_err(|e| what(RecordKind::Packages, e))?;
            keep(frame(Packages2::FORMAT, &p))
        }
        Some(b'P') => Ok(None),
        Some(b'p') => {
            let mut packages = k.to_vec();
            packages[0] = b'P';
            if floor.get(&packages)?.is_some_and(|p| !p.is_empty()) {
                return Ok(None);
            }
            let parcel = whole::<Parcel2>(v).map_err(|e| what(RecordKind::Parcel, e))?;
            let id = String::from_utf8_lossy(&k[1..]).into_owned();
            let Some(order) = orders.get(id.as_bytes())? else {
                return Ok(None);
            };
            let order = crate::store::decode_record(&order)?.order;
            let mut codes_key = k.to_vec();
            codes_key[0] = b'u';
            let codes = match floor.get(&codes_key)? {
                Some(c) => whole::<ItemCodes2>(&c).map_err(|e| what(RecordKind::UnitCodes, e))?,
                None => ItemCodes2(Vec::new()),
            };
            Ok(Some((
                packages,
                frame(
                    Packages2::FORMAT,
                    &v1::parcel_packages(parcel, &order, codes),
                ),
            )))
        }
        Some(b'u') => {
            let c = whole::<ItemCodes2>(v).map_err(|e| what(RecordKind::UnitCodes, e))?;
            keep(frame(ItemCodes2::FORMAT, &c))
        }
        Some(b'h') => match whole::<super::floor::Hold2>(v) {
            Ok(h) => keep(frame(super::floor::Hold2::FORMAT, &h)),
            // A hold whose reason an older packline kept in the clear: sealed by the upgrade
            // of free text that follows at open (`notes_upgrade`), which knows its layout.
            Err(_) => keep(v.to_vec()),
        },
        Some(b's') => {
            let s = newest_or::<Shipment2, v1::Shipment>(v)
                .map_err(|e| what(RecordKind::Shipment, e))?;
            keep(frame(Shipment2::FORMAT, &s))
        }
        Some(b'j') => {
            let j = whole::<PrintJob2>(v).map_err(|e| what(RecordKind::PrintJob, e))?;
            keep(frame(PrintJob2::FORMAT, &j))
        }
        Some(b'v') => {
            let t: Tracked2 = serde_json::from_slice(v)
                .map_err(|e| what(RecordKind::ShipmentV2, e.to_string()))?;
            keep(frame(Tracked2::FORMAT, &t))
        }
        Some(b'i') if !v.is_empty() => {
            let i: Intent2 = serde_json::from_slice(v)
                .map_err(|e| what(RecordKind::PurchaseIntent, e.to_string()))?;
            keep(frame(Intent2::FORMAT, &i))
        }
        _ => keep(v.to_vec()),
    }
}

/// A key's id part for a message: printable ASCII as it is, anything else escaped.
fn printable(id: &[u8]) -> String {
    id.iter()
        .flat_map(|b| std::ascii::escape_default(*b))
        .map(char::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{CodeKind, OrderId, OrderState, ShipmentState};
    use crate::store::records::decode;
    use crate::store::records::floor::{CodeKind2, PackLine2};
    use crate::store::records::order::{ServiceLevel2, State2, Window2};
    use crate::store::records::shipping::{Carrier2, ShipmentState2};

    /// A floor tree and an orders tree of a scratch database.
    fn trees() -> (tempfile::TempDir, sled::Tree, sled::Tree) {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().temporary(true).open().unwrap();
        (
            dir,
            db.open_tree("floor").unwrap(),
            db.open_tree("amazon/orders").unwrap(),
        )
    }

    fn upgraded(floor: &sled::Tree, orders: &sled::Tree, k: &[u8], v: &[u8]) -> (Vec<u8>, Vec<u8>) {
        floor_1(floor, orders, k, v).unwrap().unwrap()
    }

    /// A batch stored before cart slots has its picked units put to its orders in ship-by
    /// order; a damaged one stops the upgrade by name, never a guess.
    #[test]
    fn a_batch_before_slots_is_upgraded_with_its_units_put() {
        let (_d, floor, orders) = trees();
        let (a, b) = ("111-0000001-0000001", "111-0000001-0000002");
        let old = v1::Batch {
            id: 9,
            holder: "ann".into(),
            orders: vec![a.into(), b.into()],
            lines: vec![v1::Line {
                sku: "MUG".into(),
                asin: "B0".into(),
                title: "Mug".into(),
                bin: Some("A-01".into()),
                barcodes: vec![],
                needed: 3,
                picked: 2,
                orders: vec![(a.into(), 1), (b.into(), 2)],
            }],
            at_bin: None,
        };
        let bytes = postcard::to_stdvec(&old).unwrap();
        let (k, v) = upgraded(&floor, &orders, b"b\0\0\0\0\0\0\0\x09", &bytes);
        assert_eq!(k, b"b\0\0\0\0\0\0\0\x09");
        let batch = decode::<Batch2>(&v).unwrap();
        assert_eq!(batch.lines[0].put, [1, 1]);
        let a = OrderId::parse(a).unwrap();
        let b = OrderId::parse(b).unwrap();
        assert_eq!((batch.slot_of(&a), batch.slot_of(&b)), (Some(1), Some(2)));
        assert!(!batch.confirm_put && batch.in_hand.is_none());
        // Today's layout gains its format byte and nothing else.
        let today = Batch2::from_value(&batch);
        let body = postcard::to_stdvec(&today).unwrap();
        let (_, again) = upgraded(&floor, &orders, b"b1", &body);
        assert_eq!(again[0], Batch2::FORMAT);
        assert_eq!(&again[1..], &body[..]);
        let err = floor_1(&floor, &orders, b"b1", &bytes[..bytes.len() / 2]).unwrap_err();
        assert!(err.to_string().contains("pick batch"), "{err}");
    }

    /// Pack checks of both older layouts: before per-unit codes (none asked), and before
    /// boxes (every scanned unit in the open box).
    #[test]
    fn pack_checks_of_older_layouts_are_upgraded() {
        let (_d, floor, orders) = trees();
        let old = v1::Check {
            order: "111-0000001-0000001".into(),
            packer: "ann".into(),
            lines: vec![v1::CheckLine {
                sku: "MUG".into(),
                asin: "B0".into(),
                title: "Mug".into(),
                barcodes: vec![],
                needed: 2,
                scanned: 1,
            }],
        };
        let (_, v) = upgraded(&floor, &orders, b"k1", &postcard::to_stdvec(&old).unwrap());
        let check = decode::<Check2>(&v).unwrap();
        assert_eq!((check.lines[0].scanned, check.lines[0].kinds.len()), (1, 0));

        let one_box = v1::CheckOneBox {
            order: "111-0000001-0000001".into(),
            packer: "ann".into(),
            lines: vec![PackLine2 {
                sku: "MUG".into(),
                asin: "B0".into(),
                title: "Mug".into(),
                barcodes: vec![],
                needed: 2,
                scanned: 1,
                kinds: vec![CodeKind2::Serial],
                codes: vec![],
                gift_wrap: None,
            }],
            awaiting: Some((0, CodeKind2::Serial)),
        };
        let (_, v) = upgraded(
            &floor,
            &orders,
            b"k1",
            &postcard::to_stdvec(&one_box).unwrap(),
        );
        let read = decode::<Check2>(&v).unwrap();
        assert!(read.boxes.is_empty());
        assert_eq!(read.open_units(), 1);
        assert_eq!(read.awaiting, Some((0, CodeKind::Serial)));
    }

    /// A shipment stored before packages is package 1's.
    #[test]
    fn a_shipment_before_packages_is_package_one() {
        let (_d, floor, orders) = trees();
        let old = v1::Shipment {
            order: "111-0000001-0000001".into(),
            state: ShipmentState2::Bought,
            carrier: Some(Carrier2::Ups),
            tracking: None,
            shipment_id: Some("s-1".into()),
            service_id: None,
            service_name: None,
            label_format: Some("zpl".into()),
            at: Utc::now(),
            by: "sam".into(),
        };
        let bytes = postcard::to_stdvec(&old).unwrap();
        let (_, v) = upgraded(&floor, &orders, b"s1", &bytes);
        let read = decode::<Shipment2>(&v).unwrap();
        assert_eq!((read.package, read.state), (1, ShipmentState::Bought));
        assert_eq!(read.shipment_id.as_deref(), Some("s-1"));
        assert!(floor_1(&floor, &orders, b"s1", &bytes[..bytes.len() - 3]).is_err());
    }

    /// An order record of format 1 asks no codes and has no wrap; the rest is as it was.
    #[test]
    fn an_order_record_of_format_1_is_upgraded() {
        let t = Utc::now();
        let old = v1::Order1 {
            order: v1::Ord1 {
                id: "111-0000001-0000001".into(),
                marketplace_id: None,
                created: t,
                updated: t,
                ship_by: Window2 {
                    earliest: None,
                    latest: Some(t),
                },
                deliver_by: Window2 {
                    earliest: None,
                    latest: None,
                },
                service_level: ServiceLevel2::Standard,
                prime: true,
                business: false,
                lines: vec![v1::Line1 {
                    item_id: "1".into(),
                    sku: "MUG".into(),
                    asin: "B0".into(),
                    title: "Mug".into(),
                    quantity_ordered: 2,
                    quantity_shipped: 0,
                }],
            },
            state: State2::Packed,
            state_since: t,
            closed_at: None,
            recipient_mask: Some("J. D****".into()),
            recipient_purged: false,
        };
        let bytes = postcard::to_extend(&old, vec![1]).unwrap();
        let rec = decode::<OrderRecord2>(&order_1(&bytes).unwrap()).unwrap();
        assert_eq!(rec.state, OrderState::Packed);
        assert_eq!(rec.order.lines[0].sku, "MUG");
        assert_eq!(rec.order.lines[0].unit_codes, Default::default());
        assert!(rec.order.prime);
        assert_eq!(rec.order.ship_by.latest, Some(t));
        // A format-2 record is kept byte for byte.
        let two = crate::store::records::encode::<OrderRecord2>(&rec);
        assert_eq!(order_1(&two).unwrap(), two);
    }

    /// An order packed before boxes had one parcel: it becomes the order's package 1, holding
    /// every unit left to ship with the codes recorded for them.
    #[test]
    fn a_parcel_becomes_the_orders_packages() {
        let (_d, floor, orders) = trees();
        let t = Utc::now();
        let id = "111-0000001-0000001";
        let order = crate::domain::OrderRecord {
            order: crate::domain::Order {
                id: OrderId::parse(id).unwrap(),
                marketplace_id: None,
                created: t,
                updated: t,
                ship_by: Default::default(),
                deliver_by: Default::default(),
                service_level: crate::domain::ServiceLevel::Standard,
                prime: false,
                business: false,
                lines: vec![crate::domain::OrderLine {
                    item_id: "i1".into(),
                    sku: "MUG".into(),
                    asin: "B0".into(),
                    title: "Mug".into(),
                    quantity_ordered: 2,
                    quantity_shipped: 0,
                    unit_codes: Default::default(),
                    gift_wrap: None,
                }],
            },
            state: OrderState::Packed,
            state_since: t,
            closed_at: None,
            recipient_mask: None,
            recipient_purged: false,
        };
        orders
            .insert(id, crate::store::records::encode::<OrderRecord2>(&order))
            .unwrap();
        let codes = ItemCodes2(vec![super::super::floor::ItemCode2 {
            item_id: "i1".into(),
            kind: CodeKind2::Serial,
            codes: vec!["S1".into(), "S2".into()],
        }]);
        let mut ck = b"u".to_vec();
        ck.extend_from_slice(id.as_bytes());
        floor
            .insert(ck, postcard::to_stdvec(&codes).unwrap())
            .unwrap();
        let parcel = Parcel2 {
            box_name: "M".into(),
            dims_mm: [3, 2, 1],
            weight_g: 900,
        };
        let mut pk = b"p".to_vec();
        pk.extend_from_slice(id.as_bytes());
        let (k, v) = upgraded(&floor, &orders, &pk, &postcard::to_stdvec(&parcel).unwrap());
        assert_eq!(k[0], b'P');
        assert_eq!(&k[1..], id.as_bytes());
        let packages = decode::<Packages2>(&v).unwrap();
        assert_eq!(packages.len(), 1);
        assert_eq!((packages[0].number, packages[0].parcel.weight_g), (1, 900));
        assert_eq!(packages[0].items[0].quantity, 2);
        assert_eq!(
            packages[0].items[0].codes_of(CodeKind::Serial),
            ["S1", "S2"]
        );
    }
}
