use super::*;

#[test]
fn no_two_shapes_of_a_tree_can_match_one_key() {
    for t in TREES {
        for (i, a) in t.keys.iter().enumerate() {
            for b in &t.keys[i + 1..] {
                assert!(
                    !a.overlaps(b),
                    "tree {}: {} and {} can match the same key",
                    t.name,
                    a.layout,
                    b.layout
                );
            }
        }
    }
}

#[test]
fn overlap_is_found_where_it_is() {
    let key = |prefix: &'static [u8], rest| Key {
        prefix,
        rest,
        layout: "",
        holds: "",
        retention: "",
    };
    assert!(key(b"c", Rest::Any).overlaps(&key(b"c", Rest::OrderId)));
    assert!(key(b"A", Rest::Any).overlaps(&key(b"Ad", Rest::Any)));
    assert!(key(b"", Rest::OrderId).overlaps(&key(b"x", Rest::Nothing)));
    assert!(key(b"Av", Rest::Nothing).overlaps(&key(b"Av", Rest::Nothing)));
    assert!(!key(b"Av", Rest::Nothing).overlaps(&key(b"Avx", Rest::Any)));
    assert!(!key(b"c", Rest::Any).overlaps(&key(b"b", Rest::Any)));
}

#[test]
fn tree_names_are_unique_in_each_database() {
    for (i, a) in TREES.iter().enumerate() {
        for b in &TREES[i + 1..] {
            assert!(
                a.database != b.database || a.name != b.name,
                "tree {} is declared twice",
                a.name
            );
        }
    }
}

/// Every family byte and name the store's modules write with (they take them from here) is
/// declared in its tree.
#[test]
fn every_constant_is_declared_in_its_tree() {
    use floor::counters as c;
    let prefixes: &[(&Tree, &[u8])] = &[
        (&FLOOR, &[floor::CLAIM]),
        (&FLOOR, &[floor::BATCH]),
        (&FLOOR, &[floor::PACK]),
        (&FLOOR, &[floor::PACKAGES]),
        (&FLOOR, &[floor::HOLD]),
        (&FLOOR, &[floor::CODES]),
        (&FLOOR, &[floor::TOTE]),
        (&FLOOR, &[floor::TOTE_OF]),
        (&FLOOR, &[floor::OVERRULED]),
        (&FLOOR, &[floor::ELSEWHERE]),
        (&FLOOR, &[floor::CODE_USED]),
        (&FLOOR, &[floor::SHIPMENT]),
        (&FLOOR, &[floor::LABEL]),
        (&FLOOR, &[floor::DAY]),
        (&FLOOR, &[floor::JOB]),
        (&FLOOR, &[floor::INTENT]),
        (&FLOOR, &[floor::V2]),
        (&FLOOR, &[floor::AWAIT]),
        (&FLOOR, &[floor::FORM]),
        (&FLOOR, &[floor::COUNTERS, c::DAY]),
        (&FLOOR, &[floor::COUNTERS, c::SKU]),
        (&FLOOR, &[floor::COUNTERS, c::SKU_MONTH]),
        (&FLOOR, &[floor::COUNTERS, c::CARRIER]),
        (&FLOOR, &[floor::COUNTERS, c::REASON]),
        (&FLOOR, &[floor::COUNTERS, c::HOUR]),
        (&FLOOR, &[floor::COUNTERS, c::USER]),
        (&FLOOR, &[floor::COUNTERS, c::REVIEW]),
        (&FLOOR, &[floor::COUNTERS, c::OPEN_HOUR]),
        (&FLOOR, &[floor::COUNTERS, c::OPEN_WHOLE]),
        (&FLOOR, &[floor::COUNTERS, c::SELLER_SINCE]),
        (&INQUIRIES, &[inquiries::RECORD]),
        (&INQUIRIES, &[inquiries::NOTE]),
        (&RETURNS, &[returns::RECORD]),
        (&RETURNS, &[returns::KEY]),
    ];
    let names: &[(&Tree, &str)] = &[
        (&META, meta::SCHEMA),
        (&META, meta::MASTER_RECIPIENT),
        (&META, meta::AUDIT_HEAD),
        (&META, meta::UNSETTLED),
        (&META, meta::INQUIRY_LAST),
        (&META, meta::RETURN_LAST),
        (&META, meta::CODES_REGISTRY),
        (&META, meta::FREE_TEXT_SEALED),
        (&META, meta::SEARCH_FOLD),
        (&META, meta::BACKUP),
        (&META, meta::EPOCH_PIN),
        (&META, meta::SYNC_WATERMARK),
        (&META, meta::SYNC_BUCKET),
        (&META, meta::SYNC_BUCKET_AT),
        (&META, meta::RETURNS_WATERMARK),
        (&INDEX_DEFAULT, index::COMPLETE),
    ];
    let all = prefixes
        .iter()
        .copied()
        .chain(names.iter().map(|(t, n)| (*t, n.as_bytes())));
    for (tree, prefix) in all {
        assert!(
            tree.keys.iter().any(|k| k.prefix == prefix),
            "tree {}: nothing declares {}",
            tree.name,
            printable(prefix)
        );
    }
}

/// The references under which `notes` seals people's words, and the names `backup` and the
/// keyring's pins write, are keys their trees declare.
#[test]
fn references_the_store_builds_are_declared() {
    use super::super::notes;
    let at = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
    let order = "902-0000001-0000001";
    for (reference, layout) in [
        (notes::exception_ref(order, 0), TEXTS.keys[0].layout),
        (notes::resolution_ref(order, 3), TEXTS.keys[0].layout),
        (notes::hold_ref(order), TEXTS.keys[1].layout),
        (notes::reveal_ref(order, at), TEXTS.keys[2].layout),
        (notes::void_ref(order, 2, at), TEXTS.keys[3].layout),
    ] {
        let found = TEXTS.key_of(reference.as_bytes()).map(|k| k.layout);
        assert_eq!(found, Some(layout), "{reference}");
    }
    for p in notes::pii_prefixes(order) {
        assert!(TEXTS.declares(p.as_bytes()), "{p}");
    }
    let mut pin = meta::EPOCH_PIN.as_bytes().to_vec();
    pin.extend_from_slice(&7u32.to_be_bytes());
    assert!(META.declares(&pin));
    assert!(!META.declares(b"epoch_pin/7"), "a pin's epoch is 4 bytes");
    let backup = format!("{}{}", meta::BACKUP, at.to_rfc3339());
    assert!(META.declares(backup.as_bytes()));
}

#[test]
fn keys_are_matched_by_their_shape() {
    assert!(ORDERS.declares(b"902-0000001-0000001"));
    assert!(!ORDERS.declares(b"902 0000001"), "not an order id");
    assert!(!ORDERS.declares(b""));
    let mut q = vec![OrderState::Packed.code()];
    q.extend_from_slice(&1u64.to_be_bytes());
    q.extend_from_slice(b"902-0000001-0000001");
    assert!(QUEUE.declares(&q));
    q[0] = 0;
    assert!(!QUEUE.declares(&q), "no state has code 0");
    assert!(AUDIT.declares(&9u64.to_be_bytes()));
    assert!(!AUDIT.declares(&9u32.to_be_bytes()));
    assert!(FLOOR.declares(b"c902-0000001-0000001"));
    assert!(!FLOOR.declares(b"c"), "a claim names its order");
    assert!(FLOOR.declares(b"Av"));
    assert!(!FLOOR.declares(b"Avx"));
    assert!(!FLOOR.declares(b"A"));
    assert!(!FLOOR.declares(b"x902-0000001-0000001"));
    // Schema 1's parcel: the upgrade makes every one its order's packages.
    assert!(!FLOOR.declares(b"p902-0000001-0000001"));
    assert!(META.declares(b"amazon/bucket/searchOrders/at"));
    assert!(!META.declares(b"amazon/bucket"));
    assert!(MAIN_DEFAULT.key_of(b"anything").is_none());
    assert!(INDEX_DEFAULT.declares(b"complete"));
    assert_eq!(tree(Database::Main, b"names").map(|t| t.legacy), Some(true));
    assert_eq!(
        tree(Database::Index, b"names").map(|t| t.legacy),
        Some(false)
    );
    assert!(tree(Database::Index, b"floor").is_none());
}

#[test]
fn a_key_is_shown_printable_and_short() {
    assert_eq!(printable(b"c902-1"), "c902-1");
    assert_eq!(
        printable(&[b'A', b'o', 0, 0x1b, b'\\', b' ']),
        "Ao\\x00\\x1b\\\\\\x20"
    );
    let long = printable(&[b'x'; 100]);
    assert!(long.starts_with(&"x".repeat(64)), "{long}");
    assert!(long.ends_with("… (100 bytes)"), "{long}");
}

/// A fresh store has every tree this version declares, and no other.
#[test]
fn a_new_store_opens_exactly_the_declared_trees() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key = super::super::MasterSource::IdentityFile(dir.path().join("master.key"));
    let now = chrono::Utc::now();
    super::super::Store::init_keys(&data, &key, "lead", now).unwrap();
    let store = super::super::Store::open(&data).unwrap();
    store.open_index().unwrap();
    let names = |db: &crate::store::backend::Backend| {
        let mut n: Vec<String> = db.tree_names().unwrap();
        n.sort();
        n
    };
    let declared = |database| {
        let mut n: Vec<String> = TREES
            .iter()
            .filter(|t| t.database == database && !t.legacy)
            .map(|t| t.name.to_owned())
            .collect();
        n.sort();
        n
    };
    assert_eq!(names(&store.db), declared(Database::Main));
    assert_eq!(
        names(store.derived().unwrap().db()),
        declared(Database::Index)
    );
}

/// docs/store.md shows every declared key, as the registry says it (set
/// PACKLINE_WRITE_DOCS=1 to write the registry's part of it again).
#[test]
fn the_store_doc_lists_every_declared_key() {
    const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/store.md");
    const BEGIN: &str = "<!-- registry: written from src/store/keys/ -->\n";
    const END: &str = "<!-- end of registry -->";
    let doc = std::fs::read_to_string(DOC).unwrap();
    let (Some(b), Some(e)) = (doc.find(BEGIN), doc.find(END)) else {
        panic!("{DOC} lacks the markers of the registry's part");
    };
    let (head, shown, tail) = (&doc[..b + BEGIN.len()], &doc[b + BEGIN.len()..e], &doc[e..]);
    let want = markdown();
    if shown != want && std::env::var_os("PACKLINE_WRITE_DOCS").is_some() {
        std::fs::write(DOC, format!("{head}{want}{tail}")).unwrap();
        return;
    }
    let missing: Vec<String> = TREES
        .iter()
        .flat_map(|t| t.keys.iter().map(move |k| (t, k)))
        .filter(|(_, k)| !shown.contains(&row(k)))
        .map(|(t, k)| format!("{}: {}", t.name, k.layout))
        .collect();
    assert!(
        missing.is_empty(),
        "{DOC} does not list these keys (PACKLINE_WRITE_DOCS=1 writes it again):\n{}",
        missing.join("\n")
    );
    assert!(
        shown == want,
        "{DOC} differs from the registry (PACKLINE_WRITE_DOCS=1 writes it again)"
    );
}

/// Nothing declared can break the doc's tables.
#[test]
fn no_declaration_holds_a_table_bar() {
    for t in TREES {
        for k in t.keys {
            for text in [k.layout, k.holds, k.retention] {
                assert!(!text.contains('|') && !text.contains('\n'), "{text}");
            }
        }
    }
}
