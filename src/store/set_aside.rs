//! Orders set aside: an order of a searchOrders page or an imported file that packline refused
//! as it arrived (a SKU with a control character, a field of the wrong type) is kept here by id,
//! with where it came from, why (a place in the order, never a value) and when, while the rest
//! of its page is imported. Each sync asks Amazon for these again; one that imports, or that
//! Amazon no longer knows, leaves. Nothing personal is kept (`meta`, `amazon/set_aside/` ‖ order
//! id: see `keys`).

use chrono::{DateTime, Utc};

use super::records::{self, set_aside::SetAside1};
use super::{Error, Store, abort, audit};
use crate::domain::{OrderId, SetAside, SetAsideRecord};

const PREFIX: &str = super::keys::meta::SET_ASIDE;

fn key(id: &OrderId) -> Vec<u8> {
    let mut k = PREFIX.as_bytes().to_vec();
    k.extend_from_slice(id.as_str().as_bytes());
    k
}

impl Store {
    /// The audit log and `meta` of this site, then the account's `meta` when it is another
    /// tree (the set-aside orders are the account's: whichever daemon syncs next asks for them).
    fn with_account(&self) -> Vec<&super::backend::Tree> {
        let mut trees = vec![&self.t.audit, &self.t.meta];
        if !self.account.is_meta() {
            trees.push(&self.account.meta);
        }
        trees
    }

    /// Keeps each refused order that has an id (one without is only named in the answer: it
    /// cannot be asked for again), with an audit entry the first time it is set aside.
    pub fn set_aside(
        &self,
        refused: &[SetAside],
        source: &str,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        for r in refused {
            let Ok(id) = OrderId::parse(&r.order) else {
                continue;
            };
            let k = key(&id);
            self.db.transact(&self.with_account(), |t| {
                let account = &t[t.len() - 1];
                let kept = match account.get(&k)? {
                    Some(v) => Some(records::decode::<SetAside1>(&v).or_else(abort)?),
                    None => None,
                };
                let first = kept.is_none();
                let rec = match kept {
                    Some(mut p) => {
                        p.source = source.to_owned();
                        p.reason = r.reason.clone();
                        p.last = now;
                        p.times = p.times.saturating_add(1);
                        p
                    }
                    None => SetAsideRecord {
                        order: id.clone(),
                        source: source.to_owned(),
                        reason: r.reason.clone(),
                        since: now,
                        last: now,
                        times: 1,
                    },
                };
                account.insert(&k, records::encode::<SetAside1>(&rec))?;
                if first {
                    audit::append(
                        &t[0],
                        &t[1],
                        &audit::Record {
                            at: now,
                            user,
                            action: "order_set_aside",
                            order: Some(id.as_str()),
                            reason: Some(&format!("{source}: {}", r.reason)),
                        },
                    )?;
                }
                Ok(())
            })?;
        }
        if !refused.is_empty() {
            self.flush()?;
        }
        Ok(())
    }

    /// Every order set aside, by id.
    pub fn set_aside_orders(&self) -> Result<Vec<SetAsideRecord>, Error> {
        self.account
            .meta
            .scan_prefix(PREFIX)
            .values()
            .map(|v| records::decode::<SetAside1>(&v?))
            .collect()
    }

    /// Takes these orders off the set-aside list: imported at last, or (with `dropped`, the
    /// reason for the audit log) no longer known to Amazon. Answers how many were on it.
    pub fn clear_set_aside<'a>(
        &self,
        ids: impl IntoIterator<Item = &'a OrderId>,
        dropped: Option<&str>,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<usize, Error> {
        // Most imports have nothing set aside: one look at the prefix settles it.
        if self.account.meta.scan_prefix(PREFIX).next().is_none() {
            return Ok(0);
        }
        let mut n = 0;
        for id in ids {
            let k = key(id);
            let was = self.db.transact(&self.with_account(), |t| {
                if t[t.len() - 1].take(&k)?.is_none() {
                    return Ok(false);
                }
                audit::append(
                    &t[0],
                    &t[1],
                    &audit::Record {
                        at: now,
                        user,
                        action: "order_set_aside_cleared",
                        order: Some(id.as_str()),
                        reason: Some(dropped.unwrap_or("imported")),
                    },
                )?;
                Ok(true)
            })?;
            n += usize::from(was);
        }
        if n > 0 {
            self.flush()?;
        }
        Ok(n)
    }
}
