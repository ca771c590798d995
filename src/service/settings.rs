//! What the service needs from the config, read once at start.

use std::time::Duration;

use super::{BoxPreset, REFUSAL_AUDIT_INTERVAL, Role, sync};
use crate::config::{Config, RolesConfig};
use crate::domain::Locations;
use crate::store::RetentionPolicy;

/// What the service needs from the config, read once at start.
#[derive(Clone, Debug)]
pub struct Settings {
    pub roles: RolesConfig,
    /// The OS user this service runs as (the daemon's own user, or the CLI's user running it
    /// in its process): the site's lead when `roles` names nobody, see [`RolesConfig::role_of`].
    pub owner: String,
    /// Refusals of one user are audited at most once in this long (a flood cannot grow the
    /// store); the rest are counted in the next entry.
    pub refusal_audit_interval: Duration,
    pub locations: Locations,
    pub batch_size: u32,
    /// Orders a pick cart holds, one to a slot.
    pub cart_slots: u32,
    /// How carts work: put confirmation, totes.
    pub cart: crate::domain::CartRules,
    /// What a claim prints to the picker's slip printer.
    pub print_at_claim: crate::config::PrintAtClaim,
    /// Who buys and prints the label as they close an order's last box.
    pub label_at_pack: crate::config::LabelAtPack,
    pub boxes: Vec<BoxPreset>,
    pub retention: RetentionPolicy,
    pub claim_timeout: Duration,
    /// Connections one OS user may hold open to the daemon at once (`[service]
    /// connections_per_user`).
    pub connections_per_user: usize,
    /// How long a socket client may take to finish a frame it began, or to take one sent to it.
    pub frame_timeout: Duration,
    /// The training floor (`packline demo`): shown in every client's banner.
    pub training: bool,
    pub shipping: crate::config::ShippingConfig,
    /// What a sync with Amazon asks for.
    pub sync_plan: sync::SyncPlan,
    /// Whether a sync takes the actionable-orders report when searchOrders' burst is spent with
    /// pages to come (`[amazon] backlog_report`).
    pub backlog_report: bool,
    /// The carrier's daily pickup, local time (`[floor] pickup`).
    pub pickup: chrono::NaiveTime,
    /// Which site ships which orders (`[[routing]]`): on a shared database, an import sends
    /// each new order to its site's trees.
    pub routing: Vec<crate::domain::routing::Rule>,
}

impl Settings {
    /// Reads the settings for a service run by the OS user `owner`, including the locations
    /// file, naming the file and line of any error.
    pub fn from_config(cfg: &Config, owner: &str) -> Result<Settings, String> {
        let locations = match &cfg.floor.locations {
            Some(path) => {
                let text = crate::files::read_regular_to_string(path)
                    .map_err(|e| format!("locations file {}: {e}", path.display()))?;
                Locations::from_csv(&text)
                    .map_err(|e| format!("locations file {}: {e}", path.display()))?
            }
            None => Locations::default(),
        };
        Ok(Settings {
            roles: cfg.roles.clone(),
            owner: owner.to_owned(),
            refusal_audit_interval: REFUSAL_AUDIT_INTERVAL,
            locations,
            batch_size: cfg.floor.batch_size(),
            cart_slots: cfg.floor.cart_slots(),
            cart: cfg.floor.cart_rules(),
            print_at_claim: cfg.floor.print_at_claim,
            label_at_pack: cfg.floor.label_at_pack(),
            boxes: cfg
                .floor
                .boxes()
                .into_iter()
                .map(|b| BoxPreset {
                    name: b.name,
                    dims_mm: b.mm,
                })
                .collect(),
            retention: cfg.retention(),
            claim_timeout: cfg.service.claim_timeout(),
            connections_per_user: cfg.service.connections_per_user(),
            frame_timeout: Duration::from_secs(10),
            training: false,
            shipping: cfg.shipping.clone(),
            sync_plan: sync::SyncPlan {
                marketplace_ids: cfg.amazon.marketplace_ids(),
                lookback_days: cfg.amazon.lookback_days(),
            },
            backlog_report: cfg.amazon.backlog_report(),
            pickup: cfg.floor.pickup()?,
            routing: cfg.routing.clone(),
        })
    }

    /// The role of an OS user on this site: see [`RolesConfig::role_of`].
    /// Every user with a role on this site, by name: the lists of `[roles]`, or the owner alone
    /// when they name nobody. A user listed twice has the highest role listed.
    pub fn users(&self) -> Vec<(String, Role)> {
        let r = &self.roles;
        let mut names: Vec<&String> = r
            .leads
            .iter()
            .chain(&r.labelers)
            .chain(&r.packers)
            .collect();
        if names.is_empty() {
            names.push(&self.owner);
        }
        names.sort();
        names.dedup();
        names
            .into_iter()
            .filter_map(|u| self.role_of(u).map(|role| (u.clone(), role)))
            .collect()
    }

    pub fn role_of(&self, user: &str) -> Option<Role> {
        self.roles.role_of(user, &self.owner)
    }
}
