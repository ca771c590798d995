//! A site's floor run in this process against the training marketplace: the service over a new
//! unlocked store, a client of the test's own user (an owner: every role), synced once.

use std::sync::Arc;
use std::time::Duration;

use packline::domain::{OrderId, OrderState};
use packline::service::client::Client;
use packline::service::sync::SyncPlan;
use packline::service::{Service, Settings, ops};

use super::{Marketplace, example_shipping_v2, pack_in_one_box, pick_all, training_api};

pub struct Floor {
    pub dir: tempfile::TempDir,
    pub market: Marketplace,
    pub service: Arc<Service>,
    pub client: Client,
}

/// The OS user running the tests (the site's owner in `Settings::from_config`).
pub fn whoami() -> String {
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .unwrap()
        .map_or("root".into(), |u| u.name)
}

/// A site's settings buying through Shipping API v2, batches and carts of 20.
pub fn settings_v2(printer: Option<String>) -> Settings {
    let mut settings =
        Settings::from_config(&packline::config::Config::default(), &whoami()).unwrap();
    settings.shipping = example_shipping_v2(printer);
    settings.sync_plan = SyncPlan {
        marketplace_ids: vec!["ATVPDKIKX0DER".into()],
        lookback_days: 30,
    };
    settings.batch_size = 20;
    settings.cart_slots = 20;
    settings
}

/// A site buying through Shipping API v2, synced from `market`; Amazon calls time out after
/// `timeout`.
pub async fn floor_on(market: Marketplace, printer: Option<String>, timeout: Duration) -> Floor {
    let dir = tempfile::tempdir().unwrap();
    let store = super::unlocked_store(dir.path());
    let api = Arc::new(training_api(&market, timeout));
    let service = Service::new(store, settings_v2(printer));
    service.set_amazon(api);
    // Under injected faults a sync may give up on a call: the next one picks up from there.
    let mut synced = service.sync_now("lead").await;
    for _ in 0..3 {
        if synced.is_ok() {
            break;
        }
        synced = service.sync_now("lead").await;
    }
    synced.unwrap();
    let client = Client::local(service.clone(), &whoami()).unwrap();
    Floor {
        dir,
        market,
        service,
        client,
    }
}

impl Floor {
    pub fn state(&self, id: &OrderId) -> OrderState {
        self.service
            .with_store(|s| s.get(id).unwrap().unwrap().state)
    }

    /// What `packline check` finds wrong, as `part: detail` lines.
    pub fn problems(&self) -> Vec<String> {
        self.service.with_store(|s| {
            s.check()
                .unwrap()
                .problems
                .iter()
                .map(|p| format!("{}: {}", p.part, p.detail))
                .collect()
        })
    }
}

impl Floor {
    /// Closes the floor and writes `packages` as the order's package list straight into the
    /// store, as a break planted by hand; the store opened again (locked), and the folder that
    /// holds it.
    pub fn plant_packages(
        self,
        order: &OrderId,
        packages: &[packline::domain::Package],
    ) -> (tempfile::TempDir, packline::store::Store) {
        let Floor {
            dir,
            market: _market,
            service,
            client,
        } = self;
        drop(client);
        drop(service);
        let data = dir.path().join("data");
        {
            let db = packline::store::raw_db(&data).unwrap();
            let floor = db.open_tree("floor").unwrap();
            let mut k = vec![b'P'];
            k.extend_from_slice(order.as_str().as_bytes());
            assert!(
                floor.get(&k).unwrap().is_some(),
                "order {order} has packages"
            );
            // Format 2 of an order's packages: its format byte, then the list.
            floor
                .insert(k, postcard::to_extend(packages, vec![2]).unwrap())
                .unwrap();
            db.flush().unwrap();
        }
        let store = packline::store::Store::open(&data).unwrap();
        (dir, store)
    }
}

/// Claims batches of up to `size` until `n` orders are packed (or nothing is left); their ids.
pub async fn pack_orders(c: &Client, n: usize, size: u32) -> Vec<OrderId> {
    let mut packed = Vec::new();
    while packed.len() < n {
        let want = size.min((n - packed.len()) as u32);
        let Some(b) = c.call(ops::ClaimBatch { size: Some(want) }).await.unwrap() else {
            break;
        };
        pick_all(c, &b).await;
        for order in &b.orders {
            pack_in_one_box(c, order).await;
            packed.push(order.clone());
        }
    }
    packed
}
