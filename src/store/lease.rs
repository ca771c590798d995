//! A site's lease: one daemon at a time serves a site. On sled the data directory's lock already
//! keeps a second process out; on a database that several machines reach, the lease does: a
//! daemon takes its site's lease when it starts, renews it while it runs, and gives it back when
//! it stops. A lease not renewed before it expires is taken over (its holder is gone: killed, or
//! its machine lost), so a site's daemon can be started again, here or on another machine,
//! without a person clearing anything. Clocks of the machines must agree within seconds (NTP).

use chrono::{DateTime, Utc};

use super::backend::{TxError, abort};
use super::{Error, Store, keys};
use crate::store::RecordKind;
use crate::store::refusal::Refusal;

/// A lease's value: format 1, then its expiry (ms since 1970, 8 bytes BE), then its holder.
const FORMAT: u8 = 1;

/// Who holds a site's lease, until when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    pub holder: String,
    pub expires: DateTime<Utc>,
}

fn key(site: &str) -> Vec<u8> {
    let mut k = keys::meta::LEASE.as_bytes().to_vec();
    k.extend_from_slice(site.as_bytes());
    k
}

fn encode(l: &Lease) -> Vec<u8> {
    let mut v = vec![FORMAT];
    v.extend_from_slice(&l.expires.timestamp_millis().to_be_bytes());
    v.extend_from_slice(l.holder.as_bytes());
    v
}

fn decode(v: &[u8]) -> Result<Lease, Error> {
    let damaged = || Error::corrupt(RecordKind::Lease, "a site's lease");
    match v.split_first() {
        Some((&FORMAT, rest)) if rest.len() >= 8 => {
            let (ms, holder) = rest.split_at(8);
            let ms = i64::from_be_bytes(ms.try_into().map_err(|_| damaged())?);
            Ok(Lease {
                holder: String::from_utf8_lossy(holder).into_owned(),
                expires: DateTime::from_timestamp_millis(ms).ok_or_else(damaged)?,
            })
        }
        _ => Err(damaged()),
    }
}

/// A holder's name for this process: its host, its process id and a random tag (so that a
/// restarted process with the same id is not taken for the old one).
pub fn holder() -> String {
    use rand::Rng;
    let host = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "unknown host".into());
    let tag: u32 = rand::thread_rng().r#gen();
    format!("{host} pid {} ({tag:08x})", std::process::id())
}

impl Store {
    /// Takes `site`'s lease for `holder` until `now + ttl`, or renews it when `holder` has it.
    /// Refused, naming the holder, while another holds a lease that has not expired.
    pub fn take_lease(
        &self,
        site: &str,
        holder: &str,
        now: DateTime<Utc>,
        ttl: chrono::Duration,
    ) -> Result<(), Error> {
        let k = key(site);
        let new = encode(&Lease {
            holder: holder.to_string(),
            expires: now + ttl,
        });
        self.account.db.transact(&[&self.account.meta], |t| {
            if let Some(v) = t[0].get(&k)? {
                let held = decode(&v).map_err(TxError::Abort)?;
                if held.holder != holder && held.expires > now {
                    let left = (held.expires - now).num_seconds().max(1);
                    return abort(
                        Refusal::LeaseHeld {
                            site: site.to_owned(),
                            holder: held.holder,
                            left_secs: left,
                        }
                        .into(),
                    );
                }
            }
            t[0].insert(&k, &new)?;
            Ok(())
        })
    }

    /// Gives `site`'s lease back, when `holder` has it.
    pub fn release_lease(&self, site: &str, holder: &str) -> Result<(), Error> {
        let k = key(site);
        self.account.db.transact(&[&self.account.meta], |t| {
            if let Some(v) = t[0].get(&k)?
                && decode(&v).is_ok_and(|l| l.holder == holder)
            {
                t[0].remove(&k)?;
            }
            Ok(())
        })
    }

    /// Who holds `site`'s lease, if anyone has one recorded.
    pub fn lease(&self, site: &str) -> Result<Option<Lease>, Error> {
        self.account
            .meta
            .get(key(site))?
            .map(|v| decode(&v))
            .transpose()
    }
}
