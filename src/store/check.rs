//! `packline check`: the store, its queue index, the floor's work in progress, the sealed
//! recipients against the keyring, the audit chain, and every tree and key against the key
//! registry (`keys`), read together; each problem found says what is wrong and what to do. Reads
//! only.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::backend::{Backend, Tree};
use super::keys::{self, Database};
use super::{Error, Store, decode_record, queue_key, seal, slot_envelope};
use crate::domain::invariants as inv;
use crate::domain::shipment::ShipmentState;
use crate::domain::{OrderId, OrderState};

/// The shipment and package an exception raised for a label bought while the order was already
/// Labelled names (the text `complete_purchase` writes), when it names no other label.
fn flagged_label(note: &str) -> Option<(&str, u32)> {
    let rest = note.strip_prefix("a label was bought (shipment ")?;
    if !rest.contains("while the order was labelled") || rest.contains("already had") {
        return None;
    }
    let (shipment, rest) = rest.split_once(", package ")?;
    let (package, _) = rest.split_once(')')?;
    Some((shipment, package.parse().ok()?))
}

/// What the check read, and what it found wrong.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CheckReport {
    pub orders: u64,
    pub sealed_recipients: u64,
    pub audit_entries: u64,
    pub open_batches: u64,
    /// Return records read.
    #[serde(default)]
    pub returns: u64,
    pub problems: Vec<Problem>,
    /// Each invariant the check verified on this store (`domain::invariants`), with how many
    /// breaks of it were found (0: it holds).
    #[serde(default)]
    pub invariants: Vec<InvariantHeld>,
}

/// One invariant as the check found it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct InvariantHeld {
    pub name: String,
    pub statement: String,
    /// Breaks found (also those past the listed ones).
    pub broken: u64,
}

/// One thing wrong: where, what, and what to do about it. Never a personal value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Problem {
    pub part: String,
    pub detail: String,
    pub advice: String,
    /// The invariant it breaks (`domain::invariants`).
    #[serde(default)]
    pub invariant: String,
}

/// Problems of one kind listed one by one before the rest are only counted.
const LISTED: usize = 20;

/// The invariant a part's problems break, where the part names one.
fn invariant_of(part: &str) -> &'static str {
    match part {
        "queue" | "counters" | "floor" => inv::ONE_STATE,
        "recipients" | "index" => inv::SEALED_READABLE,
        "keyring" => inv::KEYRING_BOUND,
        "labels" => inv::LABELS_ON_LIVE_PACKAGES,
        "exceptions" => inv::LABELS_ON_LIVE_PACKAGES,
        "holds" => inv::HOLDS_STOP_WORK,
        "codes" => inv::CODES_ONCE,
        "audit" => inv::AUDIT_CHAIN,
        "keys" => inv::KEYS_DECLARED,
        "sites" => inv::ONE_SITE,
        _ => inv::RECORDS_READABLE,
    }
}

impl CheckReport {
    pub(super) fn found(&mut self, part: &str, detail: String, advice: &str) {
        self.found_for(invariant_of(part), part, detail, advice);
    }

    /// A problem of `part` that breaks `invariant`.
    fn found_for(&mut self, invariant: &str, part: &str, detail: String, advice: &str) {
        match self.invariants.iter_mut().find(|i| i.name == invariant) {
            Some(i) => i.broken += 1,
            None => self.invariants.push(InvariantHeld {
                name: invariant.to_owned(),
                statement: String::new(),
                broken: 1,
            }),
        }
        let same = self.problems.iter().filter(|p| p.part == part).count();
        let detail = match same {
            LISTED => "more of the same; only the first 20 are listed".into(),
            n if n < LISTED => detail,
            _ => return,
        };
        self.problems.push(Problem {
            part: part.to_owned(),
            detail,
            advice: advice.to_owned(),
            invariant: invariant.to_owned(),
        });
    }

    /// A key of `tree` that the key registry does not declare: named by its printable form,
    /// never its value.
    fn undeclared_key(&mut self, tree: &keys::Tree, key: &[u8]) {
        self.found(
            "keys",
            format!(
                "the {} tree ({} database) holds a key nothing declares: {}",
                tree.name,
                tree.database.name(),
                keys::printable(key)
            ),
            UNDECLARED,
        );
    }

    /// Lists every invariant the check verifies, in `domain::invariants` order, with its
    /// count of breaks.
    fn close(&mut self) {
        let found = std::mem::take(&mut self.invariants);
        self.invariants = inv::ALL
            .iter()
            .filter(|i| i.verified == inv::Verified::Store)
            .map(|i| InvariantHeld {
                name: i.name.to_owned(),
                statement: i.statement.to_owned(),
                broken: found
                    .iter()
                    .find(|f| f.name == i.name)
                    .map_or(0, |f| f.broken),
            })
            .collect();
    }
}

/// What to do about a tree or key the registry does not declare.
const UNDECLARED: &str = "nothing in this packline reads or expires it: if a newer packline wrote it, use that version; otherwise report it (the tree and key, never the value) before removing anything";

/// Trees whose every key `check` reads anyway: their keys are held against the registry in those
/// loops, and not read a second time.
const READ_WHOLE: [&keys::Tree; 5] = [
    &keys::ORDERS,
    &keys::QUEUE,
    &keys::RECIPIENTS,
    &keys::EXCEPTIONS,
    &keys::AUDIT,
];

/// Reports the keys of `tree` that `decl` does not declare. A family whose keys are not checked
/// byte by byte is skipped over whole (one seek), so this reads only the keys that are checked,
/// one key of each family, and the keys nothing declares.
fn undeclared_keys(decl: &keys::Tree, tree: &Tree, r: &mut CheckReport) -> Result<(), Error> {
    let mut items = tree.iter();
    while let Some(item) = items.next() {
        let (k, _) = item?;
        match decl.key_of(&k) {
            Some(key) if key.rest == keys::Rest::Any => match super::backend::successor(key.prefix)
            {
                Some(next) => items = tree.range(next..),
                None => break,
            },
            Some(_) => {}
            None => r.undeclared_key(decl, &k),
        }
    }
    Ok(())
}

/// Audit actions that are work on an order a hold must stop (a claim, a pack, a label purchase
/// begun, a print, a shipment). A label whose purchase began before the hold may still be kept.
const STOPPED_BY_HOLD: &[&str] = &[
    "start_pick",
    "finish_pack",
    "label_purchase_intent",
    "print",
    "reprint",
    "ship",
    "ship_part",
];

impl Store {
    /// Reads the audit log in order: between an order's hold and its release (or its end), no
    /// work the hold stops was recorded for it.
    fn check_holds(&self, r: &mut CheckReport) -> Result<(), Error> {
        let mut held: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
        for item in self.t.audit.iter() {
            let (k, v) = item?;
            if !keys::AUDIT.declares(&k) {
                r.undeclared_key(&keys::AUDIT, &k);
            }
            // An unreadable entry is the audit chain's problem, reported there.
            let Ok(e) = serde_json::from_slice::<super::audit::AuditEntry>(&v) else {
                continue;
            };
            let Some(order) = e.order else { continue };
            match e.action.as_str() {
                "hold" => {
                    held.insert(order, e.seq);
                }
                "release_hold" | "cancel" | "shipped_elsewhere" => {
                    held.remove(&order);
                }
                action if STOPPED_BY_HOLD.contains(&action) => {
                    if let Some(since) = held.get(&order) {
                        r.found(
                            "holds",
                            format!(
                                "order {order} took '{action}' (audit entry {}) while held (since audit entry {since})",
                                e.seq
                            ),
                            "see what was done with the order (packline audit); void a label bought for it, or release the hold if it should go on",
                        );
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn check_labels(&self, r: &mut CheckReport) -> Result<(), Error> {
        const VOID: &str =
            "void it so the postage comes back: packline label void ORDER --package N --reason …";
        let mut bought = std::collections::HashMap::new();
        for s in self.all_shipments()? {
            if s.state != ShipmentState::Bought {
                continue;
            }
            let Some(rec) = self.get(&s.order)? else {
                r.found(
                    "labels",
                    format!(
                        "a label bought for order {} package {} has no order record",
                        s.order, s.package
                    ),
                    VOID,
                );
                continue;
            };
            let shipment = s.shipment_id.as_deref().unwrap_or("?");
            match rec.state {
                OrderState::Cancelled => r.found_for(
                    inv::CANCELLED_LABELS,
                    "labels",
                    format!(
                        "order {} was cancelled with its label bought (package {}, shipment {shipment})",
                        s.order, s.package
                    ),
                    VOID,
                ),
                OrderState::Shipped => {}
                _ => {
                    // Shipped packages of a partial shipment carry their labels too; an order
                    // with no package list (packed before boxes) is package 1.
                    let packages = self.packages(&s.order)?;
                    let live = packages.iter().any(|p| p.number == s.package)
                        || (s.package == 1 && packages.is_empty());
                    if !live {
                        r.found(
                            "labels",
                            format!(
                                "order {} has a bought label (package {}, shipment {shipment}) that no package of the order carries",
                                s.order, s.package
                            ),
                            VOID,
                        );
                    }
                    bought.insert((s.order.clone(), s.package), s);
                }
            }
        }
        // Every label of an open order can still be printed.
        let mut sealed = HashSet::new();
        for label in self.sealed_labels()? {
            sealed.insert((label.order.clone(), label.package));
            if !bought.contains_key(&(label.order.clone(), label.package)) {
                continue;
            }
            match label.epoch {
                Some(epoch) if !self.keyring.has_epoch(epoch) => r.found_for(
                    inv::SEALED_READABLE,
                    "labels",
                    format!(
                        "the label of open order {} package {} is sealed to key epoch {epoch}, which retention destroyed: it cannot be printed",
                        label.order, label.package
                    ),
                    "void the label and buy another (packline label void, then label buy)",
                ),
                Some(_) => {}
                None => r.found_for(
                    inv::SEALED_READABLE,
                    "labels",
                    format!(
                        "the sealed label of order {} package {} is damaged",
                        label.order, label.package
                    ),
                    "void the label and buy another (packline label void, then label buy)",
                ),
            }
        }
        for (order, package) in bought.keys() {
            if !sealed.contains(&(order.clone(), *package)) {
                r.found_for(
                    inv::SEALED_READABLE,
                    "labels",
                    format!(
                        "open order {order} package {package} has a bought label that is not kept"
                    ),
                    "void the label and buy another (packline label void, then label buy)",
                );
            }
        }
        // An exception for a label that is its package's own (the same purchase kept twice):
        // its advice would void a good label.
        for item in self.t.exceptions.iter() {
            let (k, _) = item?;
            if !keys::EXCEPTIONS.declares(&k) {
                r.undeclared_key(&keys::EXCEPTIONS, &k);
            }
            let Ok(id) = OrderId::parse(&String::from_utf8_lossy(&k)) else {
                continue;
            };
            if self.get(&id)?.map(|o| o.state) != Some(OrderState::Exception) {
                continue;
            }
            for note in self.exception_notes(&id)? {
                if note.resolved_at.is_some() {
                    continue;
                }
                // packline's own words name the shipment; a person's are sealed, never read here.
                if let crate::domain::FreeText::System(text) = &note.note
                    && let Some((shipment, package)) = flagged_label(text)
                    && bought
                        .get(&(id.clone(), package))
                        .and_then(|s| s.shipment_id.as_deref())
                        == Some(shipment)
                {
                    r.found(
                        "exceptions",
                        format!(
                            "order {id} is an exception for shipment {shipment}, which is package {package}'s own label, bought once"
                        ),
                        "resolve it to Labelled (packline exceptions resolve ORDER --to labelled); voiding would void a good label",
                    );
                }
            }
        }
        Ok(())
    }

    /// Each order recorded from Amazon without being imported (`elsewhere`) is kept closed,
    /// with no recipient or masked name, and nothing of the floor's work names it.
    fn check_shipped_elsewhere(
        &self,
        batches: &[crate::domain::PickBatch],
        r: &mut CheckReport,
    ) -> Result<(), Error> {
        const ADVICE: &str = "packline never works such an order: see what was done with it (packline audit), and report it";
        let ids = match self.shipped_elsewhere() {
            Ok(ids) => ids,
            Err(e) => {
                r.found_for(inv::SHIPPED_ELSEWHERE, "orders", e.to_string(), ADVICE);
                return Ok(());
            }
        };
        for id in ids {
            let mut broken = Vec::new();
            match self.get(&id)? {
                None => broken.push("has no order record".to_owned()),
                Some(rec) => {
                    if !rec.state.is_closed() {
                        broken.push(format!("is {}", rec.state));
                    }
                    if rec.recipient_mask.is_some() {
                        broken.push("has a masked recipient name".into());
                    }
                }
            }
            if self.t.recipients.contains_key(id.as_str())? {
                broken.push("has a sealed recipient".into());
            }
            if self.claim_of(&id)?.is_some() || batches.iter().any(|b| b.orders.contains(&id)) {
                broken.push("is in a pick batch".into());
            }
            if self.pack_check(&id).ok().flatten().is_some() {
                broken.push("has a pack check".into());
            }
            if !self.packages(&id).unwrap_or_default().is_empty() {
                broken.push("has packages".into());
            }
            if !self.shipments(&id)?.is_empty() {
                broken.push("has a shipment or label".into());
            }
            for b in broken {
                r.found_for(
                    inv::SHIPPED_ELSEWHERE,
                    "orders",
                    format!("order {id}, recorded from Amazon as shipped elsewhere, {b}"),
                    ADVICE,
                );
            }
        }
        Ok(())
    }

    /// Every tree of `db` is one the registry declares, and so is every key of the trees no
    /// other part of the check reads whole (`READ_WHOLE`).
    fn check_keys(
        &self,
        database: Database,
        db: &Backend,
        r: &mut CheckReport,
    ) -> Result<(), Error> {
        for name in db.tree_names()? {
            let Some(decl) = keys::tree(database, name.as_bytes()) else {
                r.found(
                    "keys",
                    format!(
                        "the {} database holds a tree nothing declares: {}",
                        database.name(),
                        keys::printable(name.as_bytes())
                    ),
                    UNDECLARED,
                );
                continue;
            };
            if database == Database::Main && READ_WHOLE.iter().any(|t| t.name == decl.name) {
                continue;
            }
            undeclared_keys(decl, &db.open_tree(&name)?, r)?;
        }
        Ok(())
    }

    /// Reads everything that can be checked without the master key (and, when unlocked,
    /// nothing more: a sealed record's epoch is checked against the keyring, not opened).
    pub fn check(&self) -> Result<CheckReport, Error> {
        let mut r = CheckReport::default();
        const RESTORE: &str =
            "restore the data directory from the newest backup that passes packline check";

        // Orders and their queue entries.
        let mut expected = HashSet::new();
        let mut open_orders = HashSet::new();
        let mut open_hours = std::collections::BTreeMap::<i64, u64>::new();
        for item in self.t.orders.iter() {
            let (k, v) = item?;
            r.orders += 1;
            if !keys::ORDERS.declares(&k) {
                r.undeclared_key(&keys::ORDERS, &k);
            }
            let id = String::from_utf8_lossy(&k).into_owned();
            match decode_record(&v) {
                Ok(rec) => {
                    let qk = queue_key(&rec);
                    if !self.t.queue.contains_key(&qk)? {
                        r.found(
                            "queue",
                            format!("order {id} is missing from the queue index"),
                            "run packline check again after a restart; if it stays, restore from a backup",
                        );
                    }
                    expected.insert(qk);
                    if !rec.state.is_closed() {
                        open_orders.insert(id.clone());
                        *open_hours
                            .entry(rec.order.ship_by_key().timestamp().div_euclid(3600))
                            .or_default() += 1;
                    }
                    if !rec.recipient_purged
                        && !rec.state.is_closed()
                        && !self.t.recipients.contains_key(&k)?
                    {
                        r.found(
                            "recipients",
                            format!("open order {id} has no sealed recipient"),
                            "sync again: Amazon's copy brings the recipient back",
                        );
                    }
                }
                Err(e) => r.found("orders", format!("order {id}: {e}"), RESTORE),
            }
        }
        for item in self.t.queue.iter() {
            let (k, _) = item?;
            if !keys::QUEUE.declares(&k) {
                r.undeclared_key(&keys::QUEUE, &k);
            }
            if !expected.contains(k.as_ref()) {
                r.found(
                    "queue",
                    format!(
                        "a queue entry names no readable stored order ({})",
                        String::from_utf8_lossy(k.get(9..).unwrap_or_default())
                    ),
                    "harmless to the floor (readers skip it); restore from a backup if many",
                );
            }
        }

        // The dashboard's open-order counters against the orders.
        let kept = self.open_hours()?;
        let off = open_hours
            .iter()
            .filter(|(h, n)| kept.get(h) != Some(n))
            .count()
            + kept.keys().filter(|h| !open_hours.contains_key(h)).count();
        if off > 0 {
            r.found(
                "counters",
                format!("the open-order counters of {off} ship-by hour(s) differ from the orders"),
                "the orders are sound, only the dashboard's late count is off: restore the newest backup that passes packline check, or report it",
            );
        }

        // Work on held orders, from the audit log.
        self.check_holds(&mut r)?;

        // On a shared database: no order here that the account's routing gave another site.
        self.check_sites(&mut r)?;

        // The keyring against the epochs the store recorded (and, unlocked, their secrets).
        if let Some(why) = self.keyring.untrusted() {
            r.found(
                "keyring",
                why.to_owned(),
                "restore keyring.json from a backup of this site; until then nothing is imported or sealed",
            );
        }

        // Sealed recipients against the keyring.
        for item in self.t.recipients.iter() {
            let (k, v) = item?;
            r.sealed_recipients += 1;
            if !keys::RECIPIENTS.declares(&k) {
                r.undeclared_key(&keys::RECIPIENTS, &k);
            }
            let id = String::from_utf8_lossy(&k).into_owned();
            match seal::envelope_epoch(slot_envelope(&v)) {
                Some(epoch) if !self.keyring.has_epoch(epoch) && open_orders.contains(&id) => {
                    r.found_for(
                        inv::SEALED_READABLE,
                        "keyring",
                        format!("open order {id} is sealed to key epoch {epoch}, which the keyring no longer holds"),
                        "restore keyring.json from a backup made after that epoch was created",
                    );
                }
                Some(_) => {}
                None => r.found(
                    "recipients",
                    format!("the sealed recipient of order {id} is damaged"),
                    RESTORE,
                ),
            }
        }

        // Bought labels: each on a live package of its order, none left on a cancelled order,
        // and each of an open order readable with a live key epoch.
        self.check_labels(&mut r)?;
        self.check_codes(&mut r)?;

        // The index database, against the store it is derived from.
        let rebuild = format!(
            "the index is derived from the store: stop packline serve, remove {} and it is built again at the next start",
            self.data_dir.join(super::derived::DIR).display()
        );
        match self.derived() {
            Ok(d) => {
                match d.missing(&self.t.orders, &self.t.recipients)? {
                    0 => {}
                    n => r.found(
                        "index",
                        format!("{n} name or SKU index entries that the store implies are missing"),
                        &rebuild,
                    ),
                }
                self.check_keys(Database::Index, d.db(), &mut r)?;
            }
            Err(e) => r.found("index", e.to_string(), &rebuild),
        }
        // Every other tree's keys against the registry (after the index database is opened: a
        // store from before it loses its old index trees then).
        self.check_keys(Database::Main, &self.db, &mut r)?;

        // The floor: batches, claims, pack checks.
        let batches = match self.batches() {
            Ok(b) => b,
            Err(e) => {
                r.found("floor", format!("pick batches: {e}"), RESTORE);
                Vec::new()
            }
        };
        r.open_batches = batches.len() as u64;
        for b in &batches {
            for o in &b.orders {
                match self.claim_of(o)? {
                    Some(id) if id == b.id => {}
                    _ => r.found(
                        "floor",
                        format!(
                            "pick batch {} lists order {o}, which is not claimed in it",
                            b.id
                        ),
                        "release the batch (packline pick release) and claim again",
                    ),
                }
                if self.get(o).ok().flatten().map(|rec| rec.state) != Some(OrderState::Picking) {
                    r.found(
                        "floor",
                        format!(
                            "pick batch {} holds order {o}, which is not being picked",
                            b.id
                        ),
                        "it leaves the batch at the daemon's next reconcile; or release the batch",
                    );
                }
            }
        }
        for id in open_orders.iter().filter_map(|i| OrderId::parse(i).ok()) {
            if let Err(e) = self.pack_check(&id) {
                r.found(
                    "floor",
                    format!("the pack check of order {id}: {e}"),
                    RESTORE,
                );
            }
        }

        // Orders recorded from Amazon without being imported: closed, no recipient, never on
        // the floor.
        self.check_shipped_elsewhere(&batches, &mut r)?;

        // Returns: each record readable, and found by its key.
        let (returns, bad) = self.check_returns()?;
        r.returns = returns;
        for detail in bad {
            r.found("returns", detail, RESTORE);
        }

        // The audit chain.
        match self.verify_audit() {
            Ok(n) => r.audit_entries = n,
            Err(e) => r.found(
                "audit",
                e.to_string(),
                "keep this data directory as evidence and tell whoever audits the site",
            ),
        }
        r.close();
        Ok(r)
    }
}
