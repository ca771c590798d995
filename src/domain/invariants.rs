//! packline's global invariants: the promises that hold between features after every operation,
//! whichever user, process or order of events led there. This list is the one place they are
//! stated; `packline check` verifies on a real store each one marked [`Verified::Store`], and the
//! model-based test of the whole floor (`tests/it/model.rs`) checks every one after every step.
//! docs/invariants.md explains each with its reasons. Pure data: no I/O.

/// How an invariant is verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verified {
    /// `packline check` reads the store (and its keyring and audit log) and finds a break.
    Store,
    /// Only a run can show it (what was sent, printed or bought against what was said): the
    /// model-based test and the tests against the training marketplace and printers check it.
    Run,
}

/// One promise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Invariant {
    /// Its name in `check`'s report and in problems (`snake_case`, stable for scripts).
    pub name: &'static str,
    /// What holds, in a sentence.
    pub statement: &'static str,
    pub verified: Verified,
}

pub const ONE_STATE: &str = "one_state";
pub const HOLDS_STOP_WORK: &str = "holds_stop_work";
pub const LABELS_ON_LIVE_PACKAGES: &str = "labels_on_live_packages";
pub const CANCELLED_LABELS: &str = "cancelled_labels_voided";
pub const CODES_ONCE: &str = "codes_once";
pub const SEALED_READABLE: &str = "sealed_readable";
pub const KEYRING_BOUND: &str = "keyring_bound";
pub const NO_PERSONAL_TEXT: &str = "no_personal_text";
pub const AUDIT_CHAIN: &str = "audit_chain";
pub const RECORDS_READABLE: &str = "records_readable";
pub const KEYS_DECLARED: &str = "keys_declared";
pub const TRUTHFUL: &str = "truthful";
pub const SHIPPED_ELSEWHERE: &str = "shipped_elsewhere";
pub const ONE_SITE: &str = "one_site";

/// Every invariant, in the order `check` reports them.
pub const ALL: &[Invariant] = &[
    Invariant {
        name: ONE_STATE,
        statement: "an order is in exactly one state and at most one pick batch; the queue index and the dashboard's counters agree with the orders",
        verified: Verified::Store,
    },
    Invariant {
        name: HOLDS_STOP_WORK,
        statement: "a held order gains no claim, pack, label purchase, print or shipment while it is held",
        verified: Verified::Store,
    },
    Invariant {
        name: LABELS_ON_LIVE_PACKAGES,
        statement: "a bought, unvoided label belongs to exactly one live package of its order, and no exception advises voiding a good label",
        verified: Verified::Store,
    },
    Invariant {
        name: CANCELLED_LABELS,
        statement: "a cancelled order's bought labels are voided, or listed here for a person to void",
        verified: Verified::Store,
    },
    Invariant {
        name: CODES_ONCE,
        statement: "each Transparency code is used once, ever; each serial number once per order",
        verified: Verified::Store,
    },
    Invariant {
        name: SEALED_READABLE,
        statement: "every stored recipient and label of an open order is readable with a live key epoch, and the name index holds every entry the store implies",
        verified: Verified::Store,
    },
    Invariant {
        name: KEYRING_BOUND,
        statement: "every key epoch's recipient is the one the store recorded when the epoch was made (nothing is sealed to a swapped key)",
        verified: Verified::Store,
    },
    Invariant {
        name: NO_PERSONAL_TEXT,
        statement: "no personal text at rest outside a sealed envelope: recipients, gift messages, inquiry and exception notes, resolutions, hold, reveal and void reasons",
        verified: Verified::Run,
    },
    Invariant {
        name: AUDIT_CHAIN,
        statement: "the audit chain verifies; every change has its entry; no entry holds personal data",
        verified: Verified::Store,
    },
    Invariant {
        name: RECORDS_READABLE,
        statement: "every order, pick batch, pack check and return record reads back",
        verified: Verified::Store,
    },
    Invariant {
        name: KEYS_DECLARED,
        statement: "every tree and every key in the store is one the key registry declares, with what it holds and how long it is kept",
        verified: Verified::Store,
    },
    Invariant {
        name: SHIPPED_ELSEWHERE,
        statement: "an order recorded from Amazon without being imported (for a return, an inquiry or a message) is closed, has no recipient, not even a masked name, and was never on the floor: no claim, pick batch, pack check, package or label",
        verified: Verified::Store,
    },
    Invariant {
        name: ONE_SITE,
        statement: "on a database several sites share, an order is in the store of one site only, the one the account's routing names for it (a move under way holds it at both, held at both)",
        verified: Verified::Store,
    },
    Invariant {
        name: TRUTHFUL,
        statement: "what a command reports as printed, sent or bought happened; otherwise it says what failed",
        verified: Verified::Run,
    },
];

/// The invariant of this name.
pub fn named(name: &str) -> Option<&'static Invariant> {
    ALL.iter().find(|i| i.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_each_constant_is_listed() {
        let mut names: Vec<&str> = ALL.iter().map(|i| i.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
        for n in [
            ONE_STATE,
            HOLDS_STOP_WORK,
            LABELS_ON_LIVE_PACKAGES,
            CANCELLED_LABELS,
            CODES_ONCE,
            SEALED_READABLE,
            KEYRING_BOUND,
            NO_PERSONAL_TEXT,
            AUDIT_CHAIN,
            RECORDS_READABLE,
            KEYS_DECLARED,
            SHIPPED_ELSEWHERE,
            ONE_SITE,
            TRUTHFUL,
        ] {
            assert!(named(n).is_some(), "{n}");
        }
    }
}
