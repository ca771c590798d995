//! A site's floor run in this process against the training marketplace: the service over a new
//! unlocked store, a client of the test's own user (an owner: every role), synced once; built by
//! [`Floor::builder`].

use std::sync::Arc;
use std::time::Duration;

use packline::config::RolesConfig;
use packline::domain::{OrderId, OrderState};
use packline::service::client::Client;
use packline::service::sync::SyncPlan;
use packline::service::{Service, Settings, ops};

use super::{Marketplace, example_shipping_v2, pack_in_one_box, pick_all, training_api};

pub struct Floor {
    pub dir: tempfile::TempDir,
    pub market: Marketplace,
    pub service: Arc<Service>,
    /// The test's own user.
    pub client: Client,
    /// `bo`, a packer, when the builder named one ([`FloorBuilder::lead_and_packer`]).
    pub packer: Option<Client>,
}

/// The OS user running the tests (the site's owner in `Settings::from_config`).
pub fn whoami() -> String {
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .unwrap()
        .map_or("root".into(), |u| u.name)
}

/// `user`'s settings as the default config makes them.
pub fn settings_of(user: &str) -> Settings {
    Settings::from_config(&packline::config::Config::default(), user).unwrap()
}

/// A site's settings as the default config makes them for this OS user, syncing the US
/// marketplace 30 days back.
pub fn settings() -> Settings {
    let mut settings = settings_of(&whoami());
    settings.sync_plan = SyncPlan {
        marketplace_ids: vec!["ATVPDKIKX0DER".into()],
        lookback_days: 30,
    };
    settings
}

/// A site's settings buying through Shipping API v2, batches and carts of 20.
pub fn settings_v2(printer: Option<String>) -> Settings {
    let mut settings = settings();
    settings.shipping = example_shipping_v2(printer);
    settings.batch_size = 20;
    settings.cart_slots = 20;
    settings
}

/// A floor to build on `market`: its settings ([`settings`] unless told), whether it talks to
/// Amazon (calls time out after `timeout`), and then [`FloorBuilder::synced`] or
/// [`FloorBuilder::unsynced`].
pub struct FloorBuilder {
    market: Marketplace,
    settings: Settings,
    amazon: bool,
    timeout: Duration,
    packer: bool,
}

impl Floor {
    pub fn builder(market: Marketplace) -> FloorBuilder {
        FloorBuilder {
            market,
            settings: settings(),
            amazon: true,
            timeout: Duration::from_secs(5),
            packer: false,
        }
    }

    /// `bo`, the floor's packer.
    pub fn packer(&self) -> &Client {
        self.packer
            .as_ref()
            .expect("the floor was built with a packer")
    }
}

impl FloorBuilder {
    /// The site's settings, in place of the default ones.
    pub fn settings(mut self, settings: Settings) -> FloorBuilder {
        self.settings = settings;
        self
    }

    /// Changes the settings so far.
    pub fn configure(mut self, configure: impl FnOnce(&mut Settings)) -> FloorBuilder {
        configure(&mut self.settings);
        self
    }

    /// This OS user the lead, `bo` a packer (and no labeler).
    pub fn lead_and_packer(mut self) -> FloorBuilder {
        self.settings.roles = RolesConfig {
            leads: vec![whoami()],
            labelers: Vec::new(),
            packers: vec!["bo".into()],
        };
        self.packer = true;
        self
    }

    /// Amazon calls time out after `timeout`.
    pub fn timeout(mut self, timeout: Duration) -> FloorBuilder {
        self.timeout = timeout;
        self
    }

    /// A site without an Amazon connection.
    pub fn offline(mut self) -> FloorBuilder {
        self.amazon = false;
        self
    }

    /// The floor, never synced.
    pub fn unsynced(self) -> Floor {
        let (dir, service) = self.service();
        self.clients(dir, service)
    }

    /// The floor, synced once (its clients made after the sync, so they hear no notice of it).
    pub async fn synced(self) -> Floor {
        let (dir, service) = self.service();
        // Under injected faults a sync may give up on a call: the next one picks up from there.
        let mut synced = service.sync_now("lead").await;
        for _ in 0..3 {
            if synced.is_ok() {
                break;
            }
            synced = service.sync_now("lead").await;
        }
        synced.unwrap();
        self.clients(dir, service)
    }

    /// The service over a new unlocked store, and the folder that holds it.
    fn service(&self) -> (tempfile::TempDir, Arc<Service>) {
        let dir = tempfile::tempdir().unwrap();
        let store = super::unlocked_store(dir.path());
        let service = Service::new(store, self.settings.clone());
        if self.amazon {
            service.set_amazon(Arc::new(training_api(&self.market, self.timeout)));
        }
        (dir, service)
    }

    fn clients(self, dir: tempfile::TempDir, service: Arc<Service>) -> Floor {
        let client = Client::local(service.clone(), &whoami()).unwrap();
        let packer = self
            .packer
            .then(|| Client::local(service.clone(), "bo").unwrap());
        Floor {
            dir,
            market: self.market,
            service,
            client,
            packer,
        }
    }
}

/// A site buying through Shipping API v2, synced from `market`; Amazon calls time out after
/// `timeout`.
pub async fn floor_on(market: Marketplace, printer: Option<String>, timeout: Duration) -> Floor {
    Floor::builder(market)
        .settings(settings_v2(printer))
        .timeout(timeout)
        .synced()
        .await
}

impl Floor {
    /// The floor's parts once its clients are gone (so the service may give up its store): the
    /// folder that holds the store, the marketplace, the service.
    pub fn close(self) -> (tempfile::TempDir, Marketplace, Arc<Service>) {
        let Floor {
            dir,
            market,
            service,
            client,
            packer,
        } = self;
        drop((client, packer));
        (dir, market, service)
    }

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
        let (dir, _market, service) = self.close();
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
