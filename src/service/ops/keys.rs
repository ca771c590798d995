//! The site's keys, for leads: unlock and lock the running service, show the keyring (public
//! data only), start a new key epoch. Creating the keys (`packline keys init`) happens before
//! any service runs, so it is not an operation.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Allowed, Operation};
use crate::service::{Passphrase, Role, Service, ServiceError, store_err};
use crate::store::{MasterSource, Protection};

/// Unlocks the service with the master passphrase; it keeps the key in memory only.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Unlock {
    pub passphrase: Passphrase,
}

impl Operation for Unlock {
    type Answer = ();
    const NAME: &'static str = "unlock";
    const ACTION: &'static str = "unlocking the store";
    const ROLE: Role = Role::Lead;

    fn apply(self, svc: &Service, c: &Allowed, _: DateTime<Utc>) -> Result<(), ServiceError> {
        let source = MasterSource::Passphrase(self.passphrase.0.clone().into());
        let indexed = svc
            .with_store_mut(|s| s.unlock(&source))
            .map_err(store_err)?;
        tracing::info!(user = %c.user, indexed, "store unlocked");
        Ok(())
    }
}

/// The service forgets the master key.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Lock {}

impl Operation for Lock {
    type Answer = ();
    const NAME: &'static str = "lock";
    const ACTION: &'static str = "locking the store";
    const ROLE: Role = Role::Lead;

    fn apply(self, svc: &Service, c: &Allowed, _: DateTime<Utc>) -> Result<(), ServiceError> {
        svc.store_alone().keyring_mut().lock();
        tracing::info!(user = %c.user, "store locked");
        Ok(())
    }
}

/// The keyring's public face.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct KeysShow {}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct KeyringView {
    pub master_recipient: String,
    pub protection: Protection,
    pub unlocked: bool,
    pub epochs: Vec<EpochView>,
    pub shredded: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EpochView {
    pub id: u32,
    pub label: String,
    pub created: DateTime<Utc>,
}

impl From<crate::store::seal::EpochInfo> for EpochView {
    fn from(e: crate::store::seal::EpochInfo) -> EpochView {
        EpochView {
            id: e.id,
            label: e.label,
            created: e.created,
        }
    }
}

impl Operation for KeysShow {
    type Answer = KeyringView;
    const NAME: &'static str = "keys_show";
    const WRITES: bool = false;
    const ACTION: &'static str = "managing keys";
    const ROLE: Role = Role::Lead;

    fn apply(
        self,
        svc: &Service,
        _: &Allowed,
        _: DateTime<Utc>,
    ) -> Result<KeyringView, ServiceError> {
        let store = svc.store();
        let ring = store.keyring();
        Ok(KeyringView {
            master_recipient: ring.master_recipient(),
            protection: ring.protection(),
            unlocked: ring.is_unlocked(),
            epochs: ring.epochs().into_iter().map(Into::into).collect(),
            shredded: ring.shredded_count(),
        })
    }
}

/// Starts a new key epoch now: new recipients are sealed to it.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct KeysRotate {}

impl Operation for KeysRotate {
    type Answer = EpochView;
    const NAME: &'static str = "keys_rotate";
    const ACTION: &'static str = "managing keys";
    const ROLE: Role = Role::Lead;

    fn apply(
        self,
        svc: &Service,
        c: &Allowed,
        now: DateTime<Utc>,
    ) -> Result<EpochView, ServiceError> {
        let e = svc
            .store_alone()
            .keyring_mut()
            .rotate(now)
            .map_err(store_err)?;
        tracing::info!(epoch = e.id, user = %c.user, "key epoch rotated");
        Ok(e.into())
    }
}
