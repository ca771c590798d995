//! The declarations: one per tree, each with its keys (see the module above).

use super::{DEFAULT_TREE, Database, Key, Rest, Tree, floor, index, inquiries, meta, returns};

const SIX_YEARS: &str = "six years after shipment or cancellation, with the order record";
const WITH_RECIPIENT: &str = "with the order's recipient (at most 30 days after shipment or cancellation), its key epoch then shredded";
const LIFE: &str = "for the life of the store";
const COUNTS: &str = "for the life of the store (counts, no personal data)";

const fn named(name: &'static str, holds: &'static str, retention: &'static str) -> Key {
    Key {
        prefix: name.as_bytes(),
        rest: Rest::Nothing,
        layout: name,
        holds,
        retention,
    }
}

pub const ORDERS: Tree = Tree {
    name: "amazon/orders",
    database: Database::Main,
    holds: "each order as Amazon gave it and where it stands: lines, SKUs, dates, state; of the recipient only a masked name",
    retention: "six years after shipment or cancellation; the masked name goes with the recipient",
    legacy: false,
    keys: &[Key {
        prefix: b"",
        rest: Rest::OrderId,
        layout: "order id",
        holds: "the order record (`records::order::OrderRecord2`, format 2)",
        retention: SIX_YEARS,
    }],
};

pub const RECIPIENTS: Tree = Tree {
    name: "amazon/recipients",
    database: Database::Main,
    holds: "each order's recipient (name, address, phone, delivery instructions, gift message), sealed with age to a key epoch, followed by the order's blind-index keys",
    retention: "deleted `pii_days_after_close` days (at most 30) after shipment or cancellation, and made unreadable by shredding the key epoch it was sealed to",
    legacy: false,
    keys: &[Key {
        prefix: b"",
        rest: Rest::OrderId,
        layout: "order id",
        holds: "the sealed recipient (an envelope holding `records::sealed::Recipient1`, format 1) and the blind-index keys of its name",
        retention: WITH_RECIPIENT,
    }],
};

pub const QUEUE: Tree = Tree {
    name: "queue",
    database: Database::Main,
    holds: "the orders by state and ship-by, for the work lists (no values)",
    retention: "rewritten as an order moves; removed with the order record",
    legacy: false,
    keys: &[Key {
        prefix: b"",
        rest: Rest::QueueEntry,
        layout: "state code (1 byte) ‖ ship-by (8 bytes) ‖ order id",
        holds: "nothing",
        retention: "while the order is in that state; with the order record",
    }],
};

pub const EPOCHS: Tree = Tree {
    name: "epochs",
    database: Database::Main,
    holds: "marks of sealed records that left a key epoch (destroyed, or moved to another epoch), so retention knows which epochs to shred",
    retention: "until the epoch is shredded",
    legacy: false,
    keys: &[Key {
        prefix: b"",
        rest: Rest::Any,
        layout: "epoch (4 bytes) ‖ mark: an order id (its recipient), `label/`ORDER[`#`N], `inquiry/`ID`/`N, or a `texts` reference",
        holds: "nothing",
        retention: "until the epoch is shredded (the purge then drops its marks)",
    }],
};

pub const PENDING_INDEX: Tree = Tree {
    name: "pending_index",
    database: Database::Main,
    holds: "orders imported while the store was locked (or indexed in an older form: `search_fold`), whose recipient's name waits to be added to the name index",
    retention: "until an unlock indexes them, or the recipient is destroyed",
    legacy: false,
    keys: &[Key {
        prefix: b"",
        rest: Rest::OrderId,
        layout: "order id",
        holds: "nothing",
        retention: "until an unlock indexes the order's name, or its recipient is destroyed",
    }],
};

pub const EXCEPTIONS: Tree = Tree {
    name: "exceptions",
    database: Database::Main,
    holds: "each order's exception notes: who raised and resolved them and when, and the references of their sealed words in `texts` (or packline's own words)",
    retention: "each note one year after resolution (or after its order closed, if never resolved); the entry goes with its last note, or with the order record",
    legacy: false,
    keys: &[Key {
        prefix: b"",
        rest: Rest::OrderId,
        layout: "order id",
        holds: "the order's exception notes (`records::after::Exceptions2`, format 2)",
        retention: "each note one year after resolution (or after its order closed, if never resolved)",
    }],
};

pub const AUDIT: Tree = Tree {
    name: "audit",
    database: Database::Main,
    holds: "the audit log: hash-chained entries naming when, which OS user, what, which order and why, never personal data (entries written before typed words were sealed may keep them: docs/personal-data.md)",
    retention: "for the life of the store: the chain must not lose an entry (`packline audit verify`)",
    legacy: false,
    keys: &[Key {
        prefix: b"",
        rest: Rest::Number(8),
        layout: "sequence number (8 bytes)",
        holds: "one entry (JSON, hash-chained: never rewritten)",
        retention: LIFE,
    }],
};

pub const META: Tree = Tree {
    name: "meta",
    database: Database::Main,
    holds: "the store's own bookkeeping, under names",
    retention: "as each name says",
    legacy: false,
    keys: &[
        named(
            meta::SCHEMA,
            "the schema version the store is written in (4 bytes, big-endian; none: schema 1), written when the store is made and by each upgrade (`records::upgrade`)",
            LIFE,
        ),
        named(
            meta::MASTER_RECIPIENT,
            "the site's master age recipient (a public key) the store is bound to",
            LIFE,
        ),
        named(
            meta::AUDIT_HEAD,
            "the audit log's last sequence number and hash",
            LIFE,
        ),
        named(
            meta::UNSETTLED,
            "a mark: a change of several steps (an import, indexing after an unlock, a purge) is under way, or was cut short",
            "until that change completes (the next purge sweeps what one cut short left)",
        ),
        named(meta::INQUIRY_LAST, "the last inquiry number given", LIFE),
        named(meta::RETURN_LAST, "the last return number given", LIFE),
        named(
            meta::CODES_REGISTRY,
            "a mark: the Transparency code registry holds every code packed before it existed",
            LIFE,
        ),
        named(
            meta::SEARCH_FOLD,
            "the version of the form names are indexed in (4 bytes); an older one has every name indexed again at the next unlock",
            LIFE,
        ),
        named(
            meta::FREE_TEXT_SEALED,
            "a mark: words an older packline kept in the clear were sealed, and the audit entries keeping words were counted",
            LIFE,
        ),
        Key {
            prefix: meta::BACKUP.as_bytes(),
            rest: Rest::Any,
            layout: "`backup:` ‖ time (RFC 3339)",
            holds: "the directory that backup was written to",
            retention: "until the backup is deleted, `pii_days_after_close` days after it was made",
        },
        Key {
            prefix: meta::EPOCH_PIN.as_bytes(),
            rest: Rest::Number(4),
            layout: "`epoch_pin/` ‖ epoch (4 bytes)",
            holds: "the key epoch's recipient (a public key) as recorded when the epoch was made",
            retention: LIFE,
        },
        named(
            meta::SYNC_WATERMARK,
            "when the last complete sync with Amazon started",
            "rewritten at each sync",
        ),
        named(
            meta::SYNC_BUCKET,
            "Amazon's searchOrders quota as the last sync left it (tokens and rate)",
            "rewritten at each sync",
        ),
        named(
            meta::SYNC_BUCKET_AT,
            "when that quota was noted",
            "rewritten at each sync",
        ),
        named(
            meta::RETURNS_WATERMARK,
            "the end of the last returns report recorded",
            "rewritten at each returns sync",
        ),
        Key {
            prefix: meta::LEASE.as_bytes(),
            rest: Rest::Any,
            layout: "`lease/` ‖ site name, or `lease/:sync` (the daemon that syncs the Amazon account)",
            holds: "which daemon serves that site (or syncs), until when (format 1: 8-byte expiry in ms since 1970, then the holder: host, process and a random tag; `store::lease`)",
            retention: "renewed while its daemon runs; removed when it stops",
        },
        named(
            meta::SYNC_RESUME,
            "where a sync cut short stood: its searchOrders query and Amazon's pagination token for the next page, no personal data (`records::sync_resume::SyncResume1`, format 1)",
            "until that sync's last page is in, or the token is a day old",
        ),
        Key {
            prefix: meta::SET_ASIDE.as_bytes(),
            rest: Rest::OrderId,
            layout: "`amazon/set_aside/` ‖ order id",
            holds: "an order refused as it arrived from Amazon or an imported file, set aside: where it came from, why (a place in the order, never a value), when, how often; nothing personal (`records::set_aside::SetAside1`, format 1)",
            retention: "until a sync imports the order (each sync asks Amazon for it again), or Amazon no longer knows it",
        },
        named(
            meta::PUBLISHED_KEY,
            "the site's intake key epoch as published for the site that syncs the account on a shared database: epoch, recipient (a public key), when (JSON, `seal::PublishedKey`)",
            "rewritten by the site's daemon as it runs",
        ),
        Key {
            prefix: meta::SKU_CODES.as_bytes(),
            rest: Rest::Any,
            layout: "`sku_codes/` ‖ SKU",
            holds: "what Amazon last said the SKU's units need at the pack bench (one byte: 1 serial numbers, 2 Transparency codes), for orders the actionable-orders report brings without it (`store::sku_codes`)",
            retention: "until Amazon's copy of an order with the SKU says it needs none",
        },
        Key {
            prefix: meta::ROUTE.as_bytes(),
            rest: Rest::OrderId,
            layout: "`route/` ‖ order id (the account's: the site `main`'s `meta`)",
            holds: "the site that ships the order on a shared database (its name), as routing or a lead's move decided",
            retention: "as long as the order's record",
        },
    ],
};

pub const FLOOR: Tree = Tree {
    name: "floor",
    database: Database::Main,
    holds: "work on the floor and what it leaves: claims, pick batches, totes, pack checks, packages, holds, per-unit codes, shipments and labels, print jobs, collection forms, the report's counters",
    retention: "as each family says",
    legacy: false,
    keys: &[
        Key {
            prefix: &[floor::CLAIM],
            rest: Rest::OrderId,
            layout: "`c` ‖ order id",
            holds: "the pick batch claiming the order (its number, 8 bytes)",
            retention: "until the order leaves its batch (picked, released, cancelled)",
        },
        Key {
            prefix: &[floor::BATCH],
            rest: Rest::Number(8),
            layout: "`b` ‖ batch number (8 bytes)",
            holds: "a pick batch: its orders, cart slots and scan counts (`records::floor::Batch2`, format 2)",
            retention: "until the batch is finished or released",
        },
        Key {
            prefix: &[floor::TOTE],
            rest: Rest::Any,
            layout: "`t` ‖ tote barcode",
            holds: "the order in that tote",
            retention: "while the order is in the tote (freed at packing)",
        },
        Key {
            prefix: &[floor::TOTE_OF],
            rest: Rest::Any,
            layout: "`T` ‖ order id",
            holds: "the tote the order is in",
            retention: "while the order is in the tote (freed at packing)",
        },
        Key {
            prefix: &[floor::PACK],
            rest: Rest::Any,
            layout: "`k` ‖ order id",
            holds: "the order's pack check: the units scanned at the bench, with their codes (`records::floor::Check2`, format 2)",
            retention: "until packing finishes or the check is abandoned",
        },
        Key {
            prefix: &[floor::PACKAGES],
            rest: Rest::Any,
            layout: "`P` ‖ order id",
            holds: "the order's packages: units, box, weight, codes, whether shipped (`records::floor::Packages2`, format 2)",
            retention: SIX_YEARS,
        },
        Key {
            prefix: &[floor::CODES],
            rest: Rest::Any,
            layout: "`u` ‖ order id",
            holds: "the per-unit codes (serials, Transparency) recorded at the bench, by order item: what goes to Amazon with the shipment (`records::floor::ItemCodes2`, format 2)",
            retention: SIX_YEARS,
        },
        Key {
            prefix: &[floor::CODE_USED],
            rest: Rest::Any,
            layout: "`C` ‖ Transparency code",
            holds: "where the code went: the order and its package (or its pack bench), in the code registry's own layout (`codes.rs`, format 1)",
            retention: "released if the code never leaves; once shipped, with the order record (each code once, ever)",
        },
        Key {
            prefix: &[floor::HOLD],
            rest: Rest::Any,
            layout: "`h` ‖ order id",
            holds: "the order's hold: who placed it, since when, the reference of its sealed reason (`records::floor::Hold2`, format 2)",
            retention: "until released; else with the order record (its reason goes with the recipient)",
        },
        Key {
            prefix: &[floor::OVERRULED],
            rest: Rest::Any,
            layout: "`o` ‖ order id",
            holds: "a mark: a lead released the hold sync placed for the buyer's cancellation request, so sync does not place it again",
            retention: SIX_YEARS,
        },
        Key {
            prefix: &[floor::ELSEWHERE],
            rest: Rest::OrderId,
            layout: "`e` ‖ order id",
            holds: "a mark: packline never imported the order; Amazon's copy (getOrder) was recorded, closed, when a return, an inquiry or a message named it: shipped (or cancelled) elsewhere, without a recipient, never on the floor",
            retention: SIX_YEARS,
        },
        Key {
            prefix: &[floor::SHIPMENT],
            rest: Rest::Any,
            layout: "`s` ‖ package (order id, or order id `#`N past the first)",
            holds: "the package's shipment: carrier, service, tracking number, where its purchase or confirmation stands (`records::shipping::Shipment2`, format 2)",
            retention: SIX_YEARS,
        },
        Key {
            prefix: &[floor::LABEL],
            rest: Rest::Any,
            layout: "`l` ‖ package",
            holds: "the bought label (it shows the address), in a sealed envelope like a recipient's",
            retention: "removed at a void; else with the order's recipient (at most 30 days after shipment or cancellation), its key epoch then shredded",
        },
        Key {
            prefix: &[floor::INTENT],
            rest: Rest::Any,
            layout: "`i` ‖ package",
            holds: "a label purchase in flight: empty through the Merchant Fulfillment API, what to buy again through the Shipping API v2 (`records::shipping::Intent2`, format 2)",
            retention: "while the package's shipment is a purchase intent",
        },
        Key {
            prefix: &[floor::V2],
            rest: Rest::Any,
            layout: "`v` ‖ package",
            holds: "what the Shipping API v2 adds to the shipment: carrier id, collection form, delivery tracking, codes sent (`records::shipping::Tracked2`, format 2)",
            retention: SIX_YEARS,
        },
        Key {
            prefix: &[floor::AWAIT],
            rest: Rest::Any,
            layout: "`w` ‖ package",
            holds: "a mark: the package's delivery tracking has more to tell",
            retention: "until tracking is final or the label is voided",
        },
        Key {
            prefix: &[floor::DAY],
            rest: Rest::Any,
            layout: "`d` ‖ day (YYYY-MM-DD) ‖ package",
            holds: "a mark: the package shipped that day (the day's manifest)",
            retention: "removed at a void, or six years after its day (with the order records it names)",
        },
        Key {
            prefix: &[floor::JOB],
            rest: Rest::Number(8),
            layout: "`j` ‖ job number (8 bytes)",
            holds: "a print job: order, document, printer, state, who asked (`records::shipping::PrintJob2`, format 2)",
            retention: "finished jobs a week (dropped when a later job is queued)",
        },
        Key {
            prefix: &[floor::FORM],
            rest: Rest::Any,
            layout: "`F` ‖ day (YYYY-MM-DD) ‖ carrier id",
            holds: "the day's collection form of that carrier (PDF: tracking numbers, no personal data)",
            retention: "six years after its day (with the order records it names)",
        },
        Key {
            prefix: &[floor::COUNTERS, floor::counters::DAY],
            rest: Rest::Any,
            layout: "`Ad` ‖ day (YYYYMMDD) ‖ metric",
            holds: "the day's total of a metric (u64)",
            retention: COUNTS,
        },
        Key {
            prefix: &[floor::COUNTERS, floor::counters::SKU],
            rest: Rest::Any,
            layout: "`As` ‖ day (YYYYMMDD) ‖ SKU ‖ `\\0` ‖ metric",
            holds: "a SKU's count of a metric that day",
            retention: COUNTS,
        },
        Key {
            prefix: &[floor::COUNTERS, floor::counters::SKU_MONTH],
            rest: Rest::Any,
            layout: "`Am` ‖ month (YYYYMM01) ‖ SKU ‖ `\\0` ‖ metric",
            holds: "a SKU's count of a metric that month",
            retention: COUNTS,
        },
        Key {
            prefix: &[floor::COUNTERS, floor::counters::CARRIER],
            rest: Rest::Any,
            layout: "`Ac` ‖ day (YYYYMMDD) ‖ carrier ‖ `\\0` ‖ currency ‖ `\\0` ‖ metric",
            holds: "a carrier's count of a metric that day (labels, postage, deliveries)",
            retention: COUNTS,
        },
        Key {
            prefix: &[floor::COUNTERS, floor::counters::REASON],
            rest: Rest::Any,
            layout: "`Ar` ‖ day (YYYYMMDD) ‖ SKU ‖ `\\0` ‖ reason ‖ `\\0` ‖ metric",
            holds: "returns of a SKU for one of Amazon's reasons that day",
            retention: COUNTS,
        },
        Key {
            prefix: &[floor::COUNTERS, floor::counters::HOUR],
            rest: Rest::Any,
            layout: "`Ah` ‖ local hour (YYYYMMDDHH) ‖ work",
            holds: "the floor's work in that hour (the lead's dashboard)",
            retention: COUNTS,
        },
        Key {
            prefix: &[floor::COUNTERS, floor::counters::USER],
            rest: Rest::Any,
            layout: "`Au` ‖ day (YYYYMMDD) ‖ OS user ‖ `\\0` ‖ work",
            holds: "one OS user's work that day (the access review)",
            retention: LIFE,
        },
        Key {
            prefix: &[floor::COUNTERS, floor::counters::REVIEW],
            rest: Rest::Nothing,
            layout: "`Av`",
            holds: "when the last access review ran",
            retention: LIFE,
        },
        Key {
            prefix: &[floor::COUNTERS, floor::counters::OPEN_HOUR],
            rest: Rest::Number(8),
            layout: "`Ao` ‖ hour (8 bytes)",
            holds: "how many open orders have their ship-by in that hour",
            retention: "while orders open in that hour are open",
        },
        Key {
            prefix: &[floor::COUNTERS, floor::counters::OPEN_WHOLE],
            rest: Rest::Nothing,
            layout: "`AO`",
            holds: "a mark: the open-order counters are whole",
            retention: "taken away while an import writes, put back after",
        },
        Key {
            prefix: &[floor::COUNTERS, floor::counters::SELLER_SINCE],
            rest: Rest::Nothing,
            layout: "`Ab`",
            holds: "since when the seller's-metrics counters (own carrier, cancellations, tracking scans) count: nothing for a store that counted them from its start, else the Unix seconds of the first open that did",
            retention: LIFE,
        },
    ],
};

pub const INQUIRIES: Tree = Tree {
    name: "inquiries",
    database: Database::Main,
    holds: "customer inquiries: each record, and the text of each note sealed like a recipient",
    retention: "one year after resolution, the notes' key epochs then shredded",
    legacy: false,
    keys: &[
        Key {
            prefix: &[inquiries::RECORD],
            rest: Rest::Number(8),
            layout: "`r` ‖ inquiry number (8 bytes)",
            holds: "the inquiry: order, category, dates, who wrote each note, no personal data (`records::after::Inquiry1`, format 1)",
            retention: "one year after resolution",
        },
        Key {
            prefix: &[inquiries::NOTE],
            rest: Rest::Number(12),
            layout: "`n` ‖ inquiry number (8 bytes) ‖ note number (4 bytes)",
            holds: "a note's text (it may quote the customer), in a sealed envelope holding `records::sealed::Note3`, format 3",
            retention: "one year after resolution, its key epoch then shredded",
        },
    ],
};

pub const RETURNS: Tree = Tree {
    name: "returns",
    database: Database::Main,
    holds: "returns: what Amazon's report said and what the floor found, no personal data",
    retention: "six years after the return closed (or, never closed, was recorded)",
    legacy: false,
    keys: &[
        Key {
            prefix: &[returns::RECORD],
            rest: Rest::Number(8),
            layout: "`r` ‖ return number (8 bytes)",
            holds: "the return record (`records::after::Return1`, format 1)",
            retention: "six years after the return closed (or, never closed, was recorded)",
        },
        Key {
            prefix: &[returns::KEY],
            rest: Rest::Any,
            layout: "`k` ‖ `rma/`RMA, `refund/`ORDER`/`SKU`/`DAY or `unexpected/`ORDER`/`N",
            holds: "the return's number, found by what Amazon's report names it by",
            retention: "with the return record",
        },
    ],
};

pub const TEXTS: Tree = Tree {
    name: "texts",
    database: Database::Main,
    holds: "people's typed words (exception notes and resolutions, hold, reveal and void reasons), each sealed with age, under a reference that names no one",
    retention: "as each reference says, each deletion's key epoch then shredded (docs/personal-data.md)",
    legacy: false,
    keys: &[
        Key {
            prefix: b"exceptions/",
            rest: Rest::Any,
            layout: "`exceptions/`ORDER`/`N, and `exceptions/`ORDER`/`N`/resolution`",
            holds: "an exception note's words, and its resolution's (each a sealed envelope holding `records::sealed::Note3`, format 3)",
            retention: "one year after resolution (or after the order closed, if never resolved)",
        },
        Key {
            prefix: b"hold/",
            rest: Rest::Any,
            layout: "`hold/`ORDER",
            holds: "a hold's reason",
            retention: "when the hold is released; left on a closed order, with its recipient",
        },
        Key {
            prefix: b"reveal/",
            rest: Rest::Any,
            layout: "`reveal/`ORDER`/`NANOS",
            holds: "a reveal's reason",
            retention: WITH_RECIPIENT,
        },
        Key {
            prefix: b"void/",
            rest: Rest::Any,
            layout: "`void/`ORDER`/`PACKAGE`/`NANOS",
            holds: "a void's reason",
            retention: WITH_RECIPIENT,
        },
    ],
};

pub const MAIN_DEFAULT: Tree = Tree {
    name: DEFAULT_TREE,
    database: Database::Main,
    holds: "nothing: sled's default tree, which packline does not use",
    retention: "-",
    legacy: false,
    keys: &[],
};

pub const LEGACY_NAMES: Tree = Tree {
    name: "names",
    database: Database::Main,
    holds: "the name index as an earlier packline kept it, inside the main database",
    retention: "dropped once the index database is built",
    legacy: true,
    keys: &[Key {
        prefix: b"",
        rest: Rest::Any,
        layout: "blind-index key ‖ order id",
        holds: "nothing",
        retention: "dropped once the index database is built",
    }],
};

pub const LEGACY_SKU: Tree = Tree {
    name: "sku",
    database: Database::Main,
    holds: "the SKU index as an earlier packline kept it, inside the main database",
    retention: "dropped once the index database is built",
    legacy: true,
    keys: &[Key {
        prefix: b"",
        rest: Rest::Any,
        layout: "SKU ‖ `\\0` ‖ order id",
        holds: "units",
        retention: "dropped once the index database is built",
    }],
};

pub const NAMES: Tree = Tree {
    name: "names",
    database: Database::Index,
    holds: "the blind name index: a keyed hash of each recipient's name and of each of its words, never the name",
    retention: "with the order's recipient; built again from the main database if lost",
    legacy: false,
    keys: &[Key {
        prefix: b"",
        rest: Rest::Any,
        layout: "blind-index key (16 bytes) ‖ order id",
        holds: "nothing",
        retention: "with the order's recipient",
    }],
};

pub const SKU: Tree = Tree {
    name: "sku",
    database: Database::Index,
    holds: "the orders by SKU",
    retention: "with the order record; built again from the main database if lost",
    legacy: false,
    keys: &[Key {
        prefix: b"",
        rest: Rest::Any,
        layout: "SKU ‖ `\\0` ‖ order id",
        holds: "the order's units of that SKU",
        retention: "with the order record",
    }],
};

pub const INDEX_DEFAULT: Tree = Tree {
    name: DEFAULT_TREE,
    database: Database::Index,
    holds: "the index database's own mark",
    retention: "for the life of the index database",
    legacy: false,
    keys: &[named(
        index::COMPLETE,
        "a mark: the index database was built whole",
        "for the life of the index database",
    )],
};

/// Every tree packline keeps, main database first.
pub static TREES: &[Tree] = &[
    ORDERS,
    RECIPIENTS,
    QUEUE,
    EPOCHS,
    PENDING_INDEX,
    EXCEPTIONS,
    AUDIT,
    META,
    FLOOR,
    INQUIRIES,
    RETURNS,
    TEXTS,
    MAIN_DEFAULT,
    LEGACY_NAMES,
    LEGACY_SKU,
    NAMES,
    SKU,
    INDEX_DEFAULT,
];
