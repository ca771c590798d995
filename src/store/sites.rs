//! Several sites on one PostgreSQL database: each site's trees are its own (`site=NAME:` in
//! front of their names, none for `main`), with its own keyring on its own machine; what the
//! Amazon account shares (the sync's place and quota, the leases, where each order was routed)
//! is kept in `main`'s `meta` (`Store::account`).
//!
//! The daemon that syncs the account imports each order into the trees of the site that ships
//! it. It seals another site's orders to the intake epoch that site published (`publish_key`:
//! a public key, in that site's `meta`), so it never holds another site's secrets, and that
//! site's lead alone can read them. A site keeps a published epoch from being shredded longer
//! than others seal to it (`seal::KEEP_PUBLISHED`, `seal::TRUST_PUBLISHED`).

use chrono::{DateTime, Utc};

use super::backend::abort;
use super::backend::postgres::MAIN_SITE;
use super::notes::StoredText;
use super::seal::{KEEP_PUBLISHED, Keyring, PublishedKey, TRUST_PUBLISHED};
use super::{
    Account, Error, Location, META_MASTER, Store, Trees, audit_in, backend, derived, floor, keys,
    queue_key, retention, shipping, slot_envelope, stats,
};
use crate::domain::import::{FulfillmentStatus, ImportedOrder};
use crate::domain::{OrderId, OrderState};
use crate::store::RecordKind;
use crate::store::refusal::{MoveRefusal, SiteRefusal};

fn route_key(id: &OrderId) -> Vec<u8> {
    let mut k = keys::meta::ROUTE.as_bytes().to_vec();
    k.extend_from_slice(id.as_str().as_bytes());
    k
}

impl Store {
    /// The site whose trees this store is (`main` on sled).
    pub fn site(&self) -> &str {
        self.location.site()
    }

    /// Whether other sites may share this store's database.
    pub fn shared(&self) -> bool {
        matches!(self.location, Location::Postgres(_))
    }

    /// Publishes this site's intake epoch for the daemon that syncs the account (made when
    /// missing: one per week). Called by the site's daemon as it starts and as it runs.
    pub fn publish_key(&mut self, now: DateTime<Utc>) -> Result<PublishedKey, Error> {
        let (epoch, recipient) = self.keyring.current_epoch(now)?;
        // The epoch it replaces stays kept as long as if it had just been published.
        let previous = match self.published_key()? {
            Some(old) if old.epoch != epoch => Some((old.epoch, now + KEEP_PUBLISHED)),
            Some(old) => old.previous,
            None => None,
        };
        let key = PublishedKey {
            epoch,
            recipient: recipient.to_string(),
            at: now,
            previous,
        };
        let bytes = serde_json::to_vec(&key).expect("a published key serializes");
        self.t.meta.insert(keys::meta::PUBLISHED_KEY, bytes)?;
        self.t.meta.flush()?;
        Ok(key)
    }

    /// The intake epoch this site last published, if any.
    pub fn published_key(&self) -> Result<Option<PublishedKey>, Error> {
        published_in(&self.t.meta, self.site())
    }

    /// Where the account's routing sent `id`, if it was routed.
    pub fn order_site(&self, id: &OrderId) -> Result<Option<String>, Error> {
        Ok(self
            .account
            .meta
            .get(route_key(id))?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// Forgets where the account routed an order this site deletes (retention).
    pub(super) fn forget_route(&self, id: &OrderId) -> Result<(), Error> {
        if self.shared() {
            self.account.meta.remove(route_key(id))?;
        }
        Ok(())
    }

    /// Notes that `site` ships these orders.
    pub fn set_order_site(&self, ids: &[OrderId], site: &str) -> Result<(), Error> {
        let mut batch = backend::Batch::default();
        for id in ids {
            batch.insert(route_key(id), site.as_bytes());
        }
        self.account.meta.apply_batch(batch)?;
        self.account.meta.flush()
    }

    /// The store of another site of this database, to import the orders it ships: sealed to
    /// the intake epoch it published (refused when it published none within
    /// `TRUST_PUBLISHED`, or one its store did not record), holding none of its secrets.
    pub fn site_store(&self, site: &str, now: DateTime<Utc>) -> Result<Store, Error> {
        let (location, db, t, master) = self.site_trees(site)?;
        let key = published_in(&t.meta, site)?.ok_or_else(|| {
            Error::from(SiteRefusal::NoIntakeKey {
                site: site.to_owned(),
            })
        })?;
        if key.at + TRUST_PUBLISHED < now {
            return Err(SiteRefusal::StaleIntakeKey {
                site: site.to_owned(),
                at: key.at,
                hours: TRUST_PUBLISHED.num_hours(),
            }
            .into());
        }
        // The recipient the site's store recorded when the epoch was made: a key published
        // by anyone else is not sealed to.
        let mut pin = keys::meta::EPOCH_PIN.as_bytes().to_vec();
        pin.extend_from_slice(&key.epoch.to_be_bytes());
        if t.meta.get(pin)?.as_deref() != Some(key.recipient.as_bytes()) {
            return Err(SiteRefusal::UnrecordedIntakeKey {
                site: site.to_owned(),
                epoch: key.epoch,
            }
            .into());
        }
        let keyring = Keyring::published(site, &master, Some(&key))?;
        Ok(self.foreign(location, db, t, keyring))
    }

    /// Another site's store, to read what it holds but its recipients (`--all-sites`).
    pub fn site_view(&self, site: &str) -> Result<Store, Error> {
        if site == self.site() {
            return self.share();
        }
        let (location, db, t, master) = self.site_trees(site)?;
        let keyring = Keyring::published(site, &master, published_in(&t.meta, site)?.as_ref())?;
        Ok(self.foreign(location, db, t, keyring))
    }

    /// The sites of this store's database with a keyed store, by name (this one alone on
    /// sled).
    pub fn sites(&self) -> Result<Vec<String>, Error> {
        let Location::Postgres(here) = &self.location else {
            return Ok(vec![self.site().to_string()]);
        };
        let mut sites = Vec::new();
        for site in backend::postgres::Postgres::open(here)?.sites()? {
            if site == self.site() || self.site_trees(&site).is_ok() {
                sites.push(site);
            }
        }
        Ok(sites)
    }

    /// Another site's trees on this database, and its master recipient.
    fn site_trees(&self, site: &str) -> Result<(Location, Sited, Trees, String), Error> {
        let Location::Postgres(here) = &self.location else {
            return Err(SiteRefusal::NotOnDatabase {
                site: site.to_owned(),
            }
            .into());
        };
        let location = Location::Postgres(here.clone().for_site(site));
        let (db, account) = location.main_backend(&self.data_dir)?;
        let t = Trees::open(&db)?;
        let account = Account {
            meta: account.open_tree(keys::META.name)?,
            db: account,
            own: site == MAIN_SITE,
        };
        let db = Sited { db, account };
        let master = t.meta.get(META_MASTER)?.ok_or_else(|| {
            Error::from(SiteRefusal::NotKeyed {
                site: site.to_owned(),
            })
        })?;
        Ok((
            location,
            db,
            t,
            String::from_utf8_lossy(&master).into_owned(),
        ))
    }

    fn foreign(&self, location: Location, db: Sited, t: Trees, keyring: Keyring) -> Store {
        Store {
            db: db.db,
            location,
            t,
            account: db.account,
            derived: derived::Lazy::default(),
            steps: 0,
            scanned: Default::default(),
            keyring,
            data_dir: self.data_dir.clone(),
        }
    }
}

/// The hold that keeps an order still while it moves to `to` (at the site it leaves).
pub fn moving_to(to: &str) -> String {
    format!("moving to site {to}")
}

/// The hold that keeps an order still at the site it moves to until the move is done.
pub fn moving_from(from: &str) -> String {
    format!("moving here from site {from}")
}

impl Store {
    /// What `orders move` takes from this site to `to`: the order as Amazon gave it, and its
    /// recipient opened with this site's keys (so the store must be unlocked). Only an order
    /// waiting in the queue moves: not one claimed, picked or further, not one on hold (but
    /// one held for this very move, cut short, goes on).
    pub fn moving_out(&self, id: &OrderId, to: &str) -> Result<ImportedOrder, Error> {
        let rec = self
            .get(id)?
            .ok_or_else(|| Error::NoSuchOrder(id.clone()))?;
        if rec.state != OrderState::New {
            return Err(MoveRefusal::NotQueued {
                order: id.clone(),
                state: rec.state,
                site: self.site().to_string(),
            }
            .into());
        }
        if let Some(batch) = self.claim_of(id)? {
            return Err(MoveRefusal::Claimed {
                order: id.clone(),
                batch,
            }
            .into());
        }
        if let Some(h) = self.stored_hold(id)?
            && h.reason != StoredText::System(moving_to(to))
        {
            return Err(MoveRefusal::OnHold {
                order: id.clone(),
                since: h.since,
                by: h.by,
            }
            .into());
        }
        let recipient = match self.t.recipients.get(id.as_str())? {
            Some(v) => Some(
                self.keyring
                    .open(slot_envelope(&v), "moving an order to another site")?,
            ),
            None => None,
        };
        Ok(ImportedOrder {
            order: rec.order,
            status: FulfillmentStatus::Unshipped,
            fulfilled_by_merchant: true,
            buyer_cancel_requested: false,
            recipient,
        })
    }

    /// Removes an order that moved to `to`, in one transaction with its audit entry: only
    /// while it is still held for that move (a lead's release in between stops the move).
    /// Its sealed recipient goes, its epoch marked so the copy is shredded with it.
    pub fn moved_out(
        &self,
        id: &OrderId,
        to: &str,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        let rec = self
            .get(id)?
            .ok_or_else(|| Error::NoSuchOrder(id.clone()))?;
        let hold = floor::hold_key(id);
        let moving = moving_to(to);
        let reason = format!("to site {to}");
        let slot = self.transact(|tx| {
            let held = tx
                .floor
                .get(&hold)?
                .map(|v| crate::store::notes::decode_hold(&v))
                .transpose()
                .or_else(abort)?;
            if held.is_none_or(|h| h.reason != StoredText::System(moving.clone())) {
                return abort(
                    MoveRefusal::NoLongerHeld {
                        order: id.clone(),
                        to: to.to_owned(),
                    }
                    .into(),
                );
            }
            let slot = retention::drop_recipient(tx, id.as_str())?;
            tx.orders.remove(id.as_str())?;
            shipping::forget(tx, id.as_str())?;
            floor::forget(tx, id.as_str())?;
            tx.queue.remove(queue_key(&rec))?;
            stats::open_gone(tx, &rec)?;
            tx.exceptions.remove(id.as_str())?;
            audit_in(
                tx,
                user,
                "order:move",
                Some(id.as_str()),
                Some(&reason),
                now,
            )?;
            Ok(slot)
        })?;
        // The index entries go after the change that made them stale.
        let mut ops = derived::IndexOps::default();
        if let Some(slot) = &slot {
            ops.remove_names(id.as_str().as_bytes(), slot);
        }
        ops.remove_lines(&rec.order);
        ops.write_removals(self.derived()?)?;
        self.flush()
    }
}

impl Store {
    /// `one_site`: every order the account's routing gave another site is not in this site's
    /// store, unless held here for its move there (a move cut short).
    pub(super) fn check_sites(&self, r: &mut super::check::CheckReport) -> Result<(), Error> {
        if !self.shared() {
            return Ok(());
        }
        let here = self.site();
        for item in self.account.meta.scan_prefix(keys::meta::ROUTE) {
            let (k, v) = item?;
            let id = String::from_utf8_lossy(&k[keys::meta::ROUTE.len()..]).into_owned();
            let site = String::from_utf8_lossy(&v).into_owned();
            if site == here || !self.t.orders.contains_key(id.as_bytes())? {
                continue;
            }
            let moving = OrderId::parse(&id)
                .ok()
                .map(|id| self.stored_hold(&id))
                .transpose()?
                .flatten()
                .is_some_and(|h| h.reason == StoredText::System(moving_to(&site)));
            if !moving {
                r.found(
                    "sites",
                    format!("order {id} is in site {here}'s store, though the account routed it to site {site}"),
                    "the order may be worked at two sites: hold it here, see which site has it on the floor, and remove it from the other with `packline orders move` from there, or report it",
                );
            }
        }
        Ok(())
    }
}

/// Another site's database, with the account's trees on the same connections.
struct Sited {
    db: backend::Backend,
    account: Account,
}

fn published_in(meta: &backend::Tree, site: &str) -> Result<Option<PublishedKey>, Error> {
    meta.get(keys::meta::PUBLISHED_KEY)?
        .map(|v| {
            serde_json::from_slice(&v).map_err(|e| {
                Error::corrupt(
                    RecordKind::PublishedKey,
                    format!("site {site}'s published intake key: {e}"),
                )
            })
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Duration, Utc};

    use crate::store::test_support::keyed_store;

    fn at(hours: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from(DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z").unwrap())
            + Duration::hours(hours)
    }

    /// Retention keeps the published epoch, and the one it replaced, for a day after each was
    /// last published: the syncing daemon may still be sealing to either.
    #[test]
    fn an_epoch_stays_kept_a_day_after_it_was_last_published() {
        let (_dir, mut store) = keyed_store(at(0));
        let first = store.publish_key(at(0)).unwrap();
        assert_eq!(first.kept(at(1)), [first.epoch]);
        assert!(first.kept(at(25)).is_empty());
        // A new intake epoch (a rotation) is published an hour later.
        let rotated = store.keyring_mut().rotate(at(1)).unwrap().id;
        let second = store.publish_key(at(1)).unwrap();
        assert_eq!(second.epoch, rotated);
        assert_eq!(second.previous, Some((first.epoch, at(25))));
        assert_eq!(store.published_key().unwrap(), Some(second.clone()));
        assert_eq!(second.kept(at(2)), [rotated, first.epoch]);
        assert_eq!(second.kept(at(24)), [rotated, first.epoch]);
        assert!(second.kept(at(26)).is_empty());
        // Published again, the same epoch: what it replaced keeps its own time.
        let third = store.publish_key(at(20)).unwrap();
        assert_eq!(third.previous, Some((first.epoch, at(25))));
        assert_eq!(third.kept(at(30)), [rotated]);
    }
}
