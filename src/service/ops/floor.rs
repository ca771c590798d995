//! What everyone on the floor reads: who they are, the queue, one order, the orders list, boxes
//! and the sync state. Nothing here changes the store.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Allowed, Operation};
use crate::domain::OrderState;
use crate::service::{
    BoxPreset, MAX_OFFSET, MAX_PAGE, OrderRow, QueuePage, Role, Service, ServiceError, SyncState,
    order_id, store_err,
};

/// Who am I, and what is the site's state.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Hello {}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Welcome {
    pub user: String,
    pub role: Role,
    pub unlocked: bool,
    pub training: bool,
    pub batch_size: u32,
    /// Whether this user's bench buys and prints the label as the last box closes
    /// (`[floor] label_at_pack`).
    #[serde(default)]
    pub label_at_pack: bool,
}

impl Operation for Hello {
    type Answer = Welcome;
    const NAME: &'static str = "hello";
    const WRITES: bool = false;
    const ACTION: &'static str = "connecting";
    const ROLE: Role = Role::Packer;
    const QUICK: bool = true;

    fn apply(self, svc: &Service, c: &Allowed, _: DateTime<Utc>) -> Result<Welcome, ServiceError> {
        Ok(Welcome {
            user: c.user.clone(),
            role: c.role,
            unlocked: svc.store().is_unlocked(),
            training: svc.settings.training,
            batch_size: svc.settings.batch_size,
            label_at_pack: svc.settings.label_at_pack.for_user(&c.user),
        })
    }
}

/// A page of the queue: open orders by ship-by (or one state), optionally only order ids
/// starting with `search`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Queue {
    pub state: Option<OrderState>,
    pub search: Option<String>,
    pub offset: u32,
    pub limit: u32,
    /// Counts as they are now, not as last counted (a screen's first page): counted on the
    /// spot when a change came since, so not quick.
    #[serde(default)]
    pub exact_counts: bool,
}

impl Operation for Queue {
    type Answer = QueuePage;
    const NAME: &'static str = "queue";
    const WRITES: bool = false;
    const ACTION: &'static str = "the queue";
    const ROLE: Role = Role::Packer;
    const QUICK: bool = true;

    /// A first screenful or two is quick; a deep page walks the keys before it, and a search
    /// within one state may read thousands of records: those go to the blocking pool, so they
    /// never hold up everyone's scans on the quick worker.
    fn is_quick(&self) -> bool {
        let depth = self.offset as usize + self.limit.min(MAX_PAGE) as usize;
        !self.exact_counts
            && depth <= QUICK_DEPTH
            && (self.search.is_none() || self.state.is_none())
    }

    fn apply(
        self,
        svc: &Service,
        _: &Allowed,
        _: DateTime<Utc>,
    ) -> Result<QueuePage, ServiceError> {
        let limit = self.limit.min(MAX_PAGE) as usize;
        if self.offset > MAX_OFFSET {
            return Err(ServiceError::Invalid(format!(
                "a queue page starts at most {MAX_OFFSET} rows in: search by order id to go further"
            )));
        }
        let search = self
            .search
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty());
        let (rows, more) = {
            let store = svc.store();
            let offset = self.offset as usize;
            match &search {
                Some(p) => store.search_ids(p, self.state, offset, limit),
                None => store.queue_page(self.state, offset, limit),
            }
            .map_err(store_err)?
        };
        Ok(QueuePage {
            offset: self.offset,
            rows: svc.rows(rows)?,
            more,
            counts: if self.exact_counts {
                svc.counts_now()?
            } else {
                svc.counts()
            },
        })
    }
}

/// The deepest a queue page may reach and still be quick.
const QUICK_DEPTH: usize = 2_000;

/// Every order in the store in queue order (state, ship-by, id), one state if given, a page at
/// a time: each page continues after the cursor the last one gave, so any size of store lists
/// completely (`packline orders list`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ListOrders {
    pub state: Option<OrderState>,
    /// Where the last page ended (its `next`); the start when none.
    pub after: Option<String>,
    pub limit: u32,
    /// Another site of the database, for a lead (`--all-sites`): its orders, never its
    /// recipients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrdersPage {
    pub rows: Vec<OrderRow>,
    /// The cursor of the next page; none after the last.
    pub next: Option<String>,
}

impl Operation for ListOrders {
    type Answer = OrdersPage;
    const NAME: &'static str = "list_orders";
    const WRITES: bool = false;
    const ACTION: &'static str = "listing orders";
    const ROLE: Role = Role::Packer;

    fn role(&self) -> Role {
        match self.site {
            Some(_) => Role::Lead,
            None => Self::ROLE,
        }
    }

    fn apply(
        self,
        svc: &Service,
        _: &Allowed,
        _: DateTime<Utc>,
    ) -> Result<OrdersPage, ServiceError> {
        let after = self.after.as_deref().map(cursor_key).transpose()?;
        if let (Some(s), Some(k)) = (self.state, &after)
            && k.first() != Some(&s.code())
        {
            return Err(ServiceError::Invalid(
                "the cursor belongs to a listing of another state: start again".into(),
            ));
        }
        let limit = self.limit.clamp(1, MAX_PAGE) as usize;
        if let Some(site) = &self.site {
            let there = svc.store().site_view(site).map_err(store_err)?;
            let (rows, next) = there
                .list_page(self.state, after.as_deref(), limit)
                .map_err(store_err)?;
            return Ok(OrdersPage {
                rows: crate::service::rows_in(&there, rows)?,
                next: next.map(|k| hex(&k)),
            });
        }
        let (rows, next) = svc
            .store()
            .list_page(self.state, after.as_deref(), limit)
            .map_err(store_err)?;
        Ok(OrdersPage {
            rows: svc.rows(rows)?,
            next: next.map(|k| hex(&k)),
        })
    }
}

/// A cursor is the last queue key seen, in hexadecimal (order ids are ASCII; the key's binary
/// prefix is not).
fn hex(key: &[u8]) -> String {
    key.iter().map(|b| format!("{b:02x}")).collect()
}

fn cursor_key(cursor: &str) -> Result<Vec<u8>, ServiceError> {
    let bad = || ServiceError::Invalid("the listing cursor is not one packline gave".into());
    if !cursor.len().is_multiple_of(2) || cursor.len() > 256 {
        return Err(bad());
    }
    (0..cursor.len())
        .step_by(2)
        .map(|i| {
            cursor
                .get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(bad)
        })
        .collect()
}

/// One order, without personal data.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ShowOrder {
    pub order: String,
}

impl Operation for ShowOrder {
    type Answer = OrderRow;
    const NAME: &'static str = "order";
    const WRITES: bool = false;
    const ACTION: &'static str = "an order lookup";
    const ROLE: Role = Role::Packer;
    const QUICK: bool = true;

    fn apply(self, svc: &Service, _: &Allowed, _: DateTime<Utc>) -> Result<OrderRow, ServiceError> {
        let id = order_id(&self.order)?;
        let rec = svc
            .store()
            .get(&id)
            .map_err(store_err)?
            .ok_or_else(|| ServiceError::NotFound(format!("order {id} is not in the store")))?;
        svc.row(rec)
    }
}

/// Orders picked and waiting for the pack bench.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Picked {
    pub limit: u32,
}

impl Operation for Picked {
    type Answer = Vec<OrderRow>;
    const NAME: &'static str = "picked";
    const WRITES: bool = false;
    const ACTION: &'static str = "the picked list";
    const ROLE: Role = Role::Packer;

    fn apply(
        self,
        svc: &Service,
        _: &Allowed,
        _: DateTime<Utc>,
    ) -> Result<Vec<OrderRow>, ServiceError> {
        let store = svc.store();
        let ids = store
            .ids_in(OrderState::Picked, self.limit.min(MAX_PAGE) as usize)
            .map_err(store_err)?;
        let mut orders = Vec::new();
        for id in ids {
            if let Some(r) = store.get(&id).map_err(store_err)? {
                orders.push(r);
            }
        }
        drop(store);
        svc.rows(orders)
    }
}

/// The site's box presets.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Boxes {}

impl Operation for Boxes {
    type Answer = Vec<BoxPreset>;
    const NAME: &'static str = "boxes";
    const WRITES: bool = false;
    const ACTION: &'static str = "the box presets";
    const ROLE: Role = Role::Packer;
    const QUICK: bool = true;

    fn apply(
        self,
        svc: &Service,
        _: &Allowed,
        _: DateTime<Utc>,
    ) -> Result<Vec<BoxPreset>, ServiceError> {
        Ok(svc.settings.boxes.clone())
    }
}

/// The Amazon sync's state.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SyncStatus {}

impl Operation for SyncStatus {
    type Answer = SyncState;
    const NAME: &'static str = "sync_status";
    const WRITES: bool = false;
    const ACTION: &'static str = "the sync state";
    const ROLE: Role = Role::Packer;
    const QUICK: bool = true;

    fn apply(
        self,
        svc: &Service,
        _: &Allowed,
        _: DateTime<Utc>,
    ) -> Result<SyncState, ServiceError> {
        Ok(svc.sync_state())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::Request;
    use crate::service::ops::ClaimBatch;

    #[test]
    fn a_deep_queue_page_is_not_quick() {
        let page = |offset, search: Option<&str>, state| {
            Request::from(Queue {
                state,
                search: search.map(str::to_owned),
                offset,
                limit: 50,
                exact_counts: false,
            })
            .is_quick()
        };
        assert!(page(0, None, None), "the first screen");
        assert!(page(1_900, None, Some(OrderState::New)));
        assert!(!page(50_000, None, None), "a deep page walks 50,000 keys");
        assert!(
            page(0, Some("113-"), None),
            "an id search stops at its page"
        );
        assert!(
            !page(0, Some("1"), Some(OrderState::Shipped)),
            "a search within a state may read thousands"
        );
        assert!(Request::from(Hello {}).is_quick());
        assert!(!Request::from(ClaimBatch::default()).is_quick());
    }
}
