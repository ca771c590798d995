//! Orders coming in: an import (a page from sync, or a file) routed to the site that ships each
//! order, written here or into that site's store, then the holds of the orders whose buyer
//! asked Amazon to cancel.

use chrono::{DateTime, Utc};

use super::{Service, store};
use crate::domain::{BUYER_ASKED_TO_CANCEL, FreeText, Hold, ImportedOrder, OrderId};
use crate::store::{ImportCounts, Store};

impl Service {
    /// Imports orders (a page from sync, or a file), then holds those whose buyer asked Amazon
    /// to cancel, wherever they are on the floor.
    pub fn import(
        &self,
        orders: Vec<ImportedOrder>,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<ImportCounts, store::Error> {
        let (mine, away) = self.route(orders)?;
        let mut counts = self.import_here(mine, user, now)?;
        for (site, (orders, decided)) in away {
            counts += self.import_at(&site, orders, &decided, user, now)?;
        }
        Ok(counts)
    }

    /// Which orders this site ships, and which other sites of a shared database ship the
    /// rest (`[[routing]]`; an order routed before, or moved, stays where it was sent; one
    /// already in this site's store stays here), with the orders each was given just now.
    #[allow(clippy::type_complexity)]
    fn route(
        &self,
        orders: Vec<ImportedOrder>,
    ) -> Result<
        (
            Vec<ImportedOrder>,
            std::collections::BTreeMap<String, (Vec<ImportedOrder>, Vec<OrderId>)>,
        ),
        store::Error,
    > {
        let mut away: std::collections::BTreeMap<String, (Vec<ImportedOrder>, Vec<OrderId>)> =
            Default::default();
        let store = self.store();
        if self.settings.routing.is_empty() || !store.shared() {
            return Ok((orders, away));
        }
        let here = store.site().to_string();
        let mut mine = Vec::new();
        for o in orders {
            let (site, decided) = match store.order_site(&o.order.id)? {
                Some(site) => (site, false),
                None if store.get(&o.order.id)?.is_some() => (here.clone(), false),
                None => {
                    let to = o.recipient.as_ref();
                    let site = crate::domain::routing::site_for(
                        &self.settings.routing,
                        to.and_then(|r| r.country_code.as_deref()),
                        to.and_then(|r| r.state_or_region.as_deref()),
                    );
                    (site.to_string(), true)
                }
            };
            if site == here {
                mine.push(o);
            } else {
                let entry = away.entry(site).or_default();
                if decided {
                    entry.1.push(o.order.id.clone());
                }
                entry.0.push(o);
            }
        }
        Ok((mine, away))
    }

    /// Imports orders another site of the database ships into that site's trees, sealed to
    /// the key it published (`store::sites`), and notes where the new ones went. When that
    /// site cannot take them (no key published lately: its daemon is not running), they are
    /// set aside, named with the reason, and the next sync tries again.
    fn import_at(
        &self,
        site: &str,
        orders: Vec<ImportedOrder>,
        decided: &[OrderId],
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<ImportCounts, store::Error> {
        let mut there = match self.store_of_site(site, now)? {
            Ok(s) => s,
            Err(e) => {
                let refused: Vec<crate::domain::SetAside> = orders
                    .iter()
                    .map(|o| crate::domain::SetAside {
                        order: o.order.id.to_string(),
                        reason: format!("routed to site {site}: {e}"),
                    })
                    .collect();
                for r in &refused {
                    tracing::warn!(order = %r.order, site, "order set aside: its site cannot take it");
                }
                self.store().set_aside(&refused, "routing", user, now)?;
                return Ok(ImportCounts {
                    set_aside: refused,
                    ..ImportCounts::default()
                });
            }
        };
        let asked: Vec<OrderId> = orders
            .iter()
            .filter(|o| o.buyer_cancel_requested)
            .map(|o| o.order.id.clone())
            .collect();
        let mut counts = there.import(orders, user, now)?;
        for id in asked {
            let hold = Hold {
                reason: FreeText::System(BUYER_ASKED_TO_CANCEL.to_owned()),
                by: user.to_owned(),
                since: now,
            };
            let held = there.place_hold(&id, &hold, true);
            self.count_hold(&id, held, &mut counts, user, now)?;
        }
        self.store().set_order_site(decided, site)?;
        let _ = there.announce_change();
        tracing::info!(
            site,
            new = counts.new,
            updated = counts.updated,
            "orders imported for another site"
        );
        Ok(counts)
    }

    /// The store of another site of the database, to write what it ships into as that site's
    /// own sync would ([`Store::site_store`]); inside, why that site cannot take it now (it
    /// published no intake key lately: its daemon is not running), which waits for the next
    /// sync.
    pub(crate) fn store_of_site(
        &self,
        site: &str,
        now: DateTime<Utc>,
    ) -> Result<Result<Store, store::Error>, store::Error> {
        match self.store().site_store(site, now) {
            Ok(s) => Ok(Ok(s)),
            // The site cannot take them now (not keyed, no fresh key published, a key its store
            // did not record, or one that does not read); anything else stops the caller.
            Err(
                e @ (store::Error::Refused(store::Refusal::Site(_)) | store::Error::Keyring { .. }),
            ) => Ok(Err(e)),
            Err(e) => Err(e),
        }
    }

    /// [`Service::import`] for the orders this site ships.
    fn import_here(
        &self,
        orders: Vec<ImportedOrder>,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<ImportCounts, store::Error> {
        let asked: Vec<OrderId> = orders
            .iter()
            .filter(|o| o.buyer_cancel_requested)
            .map(|o| o.order.id.clone())
            .collect();
        let mut counts = self.with_store_mut(|s| s.import(orders, user, now))?;
        for id in asked {
            let hold = Hold {
                reason: FreeText::System(BUYER_ASKED_TO_CANCEL.to_owned()),
                by: user.to_owned(),
                since: now,
            };
            let held = self.hold(&id, hold, true);
            self.count_hold(&id, held, &mut counts, user, now)?;
        }
        Ok(counts)
    }

    /// Counts the hold of an imported order whose buyer asked to cancel. Not kept here
    /// (fulfilled by Amazon, never actionable) or already closed: nothing to hold. Refused
    /// otherwise: the order is set aside with the reason, so that the next sync asks for it
    /// again and holds it then.
    fn count_hold(
        &self,
        id: &OrderId,
        held: Result<bool, store::Error>,
        counts: &mut ImportCounts,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<(), store::Error> {
        match held {
            Ok(true) => counts.held += 1,
            Ok(false)
            | Err(
                store::Error::NoSuchOrder(_)
                | store::Error::Refused(store::Refusal::Floor(
                    store::refusal::FloorRefusal::HoldClosed { .. },
                )),
            ) => {}
            Err(e @ store::Error::Refused(_)) => {
                let aside = crate::domain::SetAside {
                    order: id.to_string(),
                    reason: format!(
                        "imported, but the hold its buyer's request to cancel asks for was refused: {e}"
                    ),
                };
                tracing::warn!(order = %aside.order, "order set aside: {e}");
                self.store()
                    .set_aside(std::slice::from_ref(&aside), "hold", user, now)?;
                counts.set_aside.push(aside);
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// Imports a page's orders as [`Service::import`] does, and sets aside the orders of it that
    /// were refused as they arrived (`refused`: named in the answer and the log, kept by id so
    /// that the next sync asks Amazon for them again). An order that arrives readable leaves
    /// the set-aside list. `source` says where the page came from (`searchOrders`, a file).
    pub fn import_page(
        &self,
        orders: Vec<ImportedOrder>,
        refused: Vec<crate::domain::SetAside>,
        source: &str,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<ImportCounts, store::Error> {
        let mut orders = orders;
        // What units need at the bench: the report says nothing of it, Amazon's copies of
        // orders do (`store::sku_codes`).
        match source == crate::amazon::reports::ACTIONABLE_REPORT {
            true => self.store().apply_sku_codes(&mut orders)?,
            false => self.store().learn_sku_codes(&orders)?,
        }
        let ids: Vec<OrderId> = orders.iter().map(|o| o.order.id.clone()).collect();
        let mut counts = self.import(orders, user, now)?;
        // Those whose site could not take them stay set aside.
        let kept: std::collections::HashSet<&str> =
            counts.set_aside.iter().map(|r| r.order.as_str()).collect();
        let ids: Vec<OrderId> = ids
            .into_iter()
            .filter(|i| !kept.contains(i.as_str()))
            .collect();
        self.store().clear_set_aside(&ids, None, user, now)?;
        if !refused.is_empty() {
            for r in &refused {
                tracing::warn!(order = %r.order, source, reason = %r.reason, "order set aside");
            }
            self.store().set_aside(&refused, source, user, now)?;
            counts
                .set_aside
                .extend(refused.into_iter().map(|r| crate::domain::SetAside {
                    order: r.order,
                    reason: format!("{source}: {}", r.reason),
                }));
        }
        Ok(counts)
    }
}
