//! Every value the store keeps, as bytes that last: a leading format byte, then the value's
//! fields in the frozen layout of that format (postcard; positional, so a layout is never
//! changed once written: a change is a new format, with its own frozen type and an upgrade).
//!
//! A frozen record type uses no live domain type (a renamed domain enum variant never changes
//! what an old record means); each converts to and from its domain value. [`encode`] writes the
//! current format, [`decode`] reads it, and names a format it does not know as newer (written
//! by a later packline) rather than as damage. Records of an older format are rewritten once,
//! when the store is upgraded to this schema ([`upgrade`]): nothing reads them by trial.
//!
//! The golden bytes of every kind and format are held by tests (`tests/it/records.rs`): a change
//! to what the current format writes fails them unless it comes with a new format.

pub mod after;
pub mod floor;
pub mod order;
pub mod sealed;
pub mod set_aside;
pub mod shipping;
pub mod sync_resume;
pub mod upgrade;
mod v1;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Error, RecordKind};

/// The layout of the whole store this packline writes: which trees and keys exist, and which
/// format each record kind is in. Recorded in the store's `meta` tree; see [`upgrade`].
///
/// 1. Every store before schema versions: pick batches, pack checks, packages, shipments, print
///    jobs, holds and unit codes without a format byte (read by trial), Shipping API v2 details
///    and purchase intents in JSON, packages of orders packed before boxes as one parcel.
/// 2. Every value with its format byte; parcels made packages.
pub const SCHEMA: u32 = 2;

/// A kind of value the store keeps, in the frozen layout of its current format.
pub trait Record: Sized + Serialize + DeserializeOwned {
    /// What it is, for messages ("pick batch").
    const KIND: RecordKind;
    /// The format this packline writes, the first byte of every record of the kind.
    const FORMAT: u8;
    /// The domain value it stands for.
    type Value;
    fn from_value(v: &Self::Value) -> Self;
    fn into_value(self) -> Result<Self::Value, Error>;
}

/// A value as the store keeps it: the kind's current format byte, then its fields.
pub fn encode<R: Record>(v: &R::Value) -> Vec<u8> {
    frame(R::FORMAT, &R::from_value(v))
}

/// A stored value of kind `R`. A format byte above the current one is a record written by a
/// later packline, and says so; anything else that does not read whole is damage.
pub fn decode<R: Record>(bytes: &[u8]) -> Result<R::Value, Error> {
    match bytes.split_first() {
        Some((&f, body)) if f == R::FORMAT => whole::<R>(body)
            .map_err(|e| damaged(R::KIND, &e))?
            .into_value(),
        Some((&f, _)) if f > R::FORMAT => Err(newer(R::KIND, f, R::FORMAT)),
        Some((&f, _)) => Err(damaged(
            R::KIND,
            &format!(
                "format {f} is not one this packline reads (it writes {})",
                R::FORMAT
            ),
        )),
        None => Err(damaged(R::KIND, "the record is empty")),
    }
}

/// `format`, then `v`'s fields: the one way a record's bytes are written.
pub fn frame<T: Serialize>(format: u8, v: &T) -> Vec<u8> {
    postcard::to_extend(v, vec![format]).expect("a record serializes")
}

/// A value that takes every byte given, so one layout is never misread as another.
pub fn whole<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    match postcard::take_from_bytes::<T>(bytes) {
        Ok((v, [])) => Ok(v),
        Ok((_, rest)) => Err(format!("{} bytes left over", rest.len())),
        Err(e) => Err(e.to_string()),
    }
}

/// A record that does not read.
pub fn damaged(kind: RecordKind, detail: &str) -> Error {
    Error::corrupt(kind, detail)
}

/// A record in a format newer than this packline reads.
pub fn newer(kind: RecordKind, format: u8, reads: u8) -> Error {
    Error::NewerRecord {
        kind,
        format,
        reads,
    }
}
