//! Fuzzing on the stable toolchain, with proptest as the engine: one target per parser of
//! outside input (every Amazon body packline reads, the returns report, the config and keymap
//! TOML, the locations CSV, socket frames, scanner input). Each target feeds its parser random
//! bytes and mutations of the seeds in `tests/fuzz/corpus/<target>/` (flips, insertions,
//! deletions, truncations, splices), and inputs in `tests/fuzz/regressions/<target>/` are
//! replayed every run. The property: the parser answers (a value or an error), never panics,
//! and its errors quote none of the personal values the seeds carry.
//!
//! `PACKLINE_FUZZ_CASES` sets the inputs per target (a short burst by default, for CI);
//! `scripts/bench fuzz` runs 1,000,000 per target in a release build.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

fn cases() -> u32 {
    std::env::var("PACKLINE_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300)
}

fn dir(kind: &str, target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz")
        .join(kind)
        .join(target)
}

fn files(kind: &str, target: &str) -> Vec<Vec<u8>> {
    let Ok(rd) = std::fs::read_dir(dir(kind, target)) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = rd.map(|e| e.unwrap().path()).collect();
    paths.sort();
    paths.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

/// One change to a seed.
#[derive(Clone, Debug)]
enum Edit {
    Flip(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Truncate(usize),
    /// Copies a span of the input over another place (duplicated fields, nested repeats).
    Splice(usize, usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let at = any::<usize>();
    prop_oneof![
        (at, any::<u8>()).prop_map(|(i, b)| Edit::Flip(i, b)),
        (
            at,
            prop_oneof![
                prop::collection::vec(any::<u8>(), 1..8),
                prop::sample::select(vec![
                    b"\"".to_vec(),
                    b"{".to_vec(),
                    b"}".to_vec(),
                    b"[".to_vec(),
                    b"null".to_vec(),
                    b"-1".to_vec(),
                    b"1e999".to_vec(),
                    b"\\u0000".to_vec(),
                    b"\t".to_vec(),
                    b"\n".to_vec(),
                    b"\xff\xfe".to_vec(),
                    "\u{202e}".as_bytes().to_vec(),
                    b"99999999999999999999".to_vec(),
                ]),
            ]
        )
            .prop_map(|(i, b)| Edit::Insert(i, b)),
        (at, 1..64usize).prop_map(|(i, n)| Edit::Delete(i, n)),
        at.prop_map(Edit::Truncate),
        (at, at, 1..256usize).prop_map(|(a, b, n)| Edit::Splice(a, b, n)),
    ]
}

fn apply(mut b: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let len = b.len().max(1);
        match e {
            Edit::Flip(i, x) => {
                if !b.is_empty() {
                    let i = i % b.len();
                    b[i] ^= x | 1;
                }
            }
            Edit::Insert(i, bytes) => {
                let i = i % (b.len() + 1);
                b.splice(i..i, bytes.iter().copied());
            }
            Edit::Delete(i, n) => {
                let i = i % len;
                let end = (i + n).min(b.len());
                if i < end {
                    b.drain(i..end);
                }
            }
            Edit::Truncate(i) => b.truncate(i % len),
            Edit::Splice(from, to, n) => {
                if !b.is_empty() {
                    let from = from % b.len();
                    let end = (from + n).min(b.len());
                    let span = b[from..end].to_vec();
                    let to = to % (b.len() + 1);
                    b.splice(to..to, span);
                }
            }
        }
    }
    b
}

/// Inputs for a target: random bytes, or a seed with a few edits.
fn inputs(seeds: Vec<Vec<u8>>) -> BoxedStrategy<Vec<u8>> {
    let random = prop::collection::vec(any::<u8>(), 0..512);
    if seeds.is_empty() {
        return random.boxed();
    }
    let mutated = (
        prop::sample::select(seeds),
        prop::collection::vec(edit(), 0..6),
    )
        .prop_map(|(s, e)| apply(s, &e));
    prop_oneof![1 => random, 6 => mutated].boxed()
}

/// The personal values the seeds of Amazon's bodies carry, which no error may quote: every
/// field of each recipient's delivery address in the order seeds, and the buyer columns of the
/// returns report seeds.
fn personal() -> &'static [String] {
    static VALUES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    VALUES.get_or_init(|| {
        let mut out = Vec::new();
        for target in ["search_orders", "get_order"] {
            for seed in files("corpus", target) {
                let v: serde_json::Value = serde_json::from_slice(&seed).unwrap();
                let orders = match v.get("orders") {
                    Some(list) => list.as_array().cloned().unwrap_or_default(),
                    None => vec![v["order"].clone()],
                };
                for o in orders {
                    if let Some(a) = o["recipient"]["deliveryAddress"].as_object() {
                        out.extend(
                            a.values()
                                .filter_map(|x| x.as_str())
                                .filter(|x| x.chars().count() >= 5 && *x != "RESIDENTIAL")
                                .map(str::to_owned),
                        );
                    }
                }
            }
        }
        for seed in files("corpus", "returns_report") {
            let text = String::from_utf8(seed).unwrap();
            let mut lines = text.lines();
            let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
            for line in lines {
                for (name, value) in header.iter().zip(line.split('\t')) {
                    if matches!(*name, "Buyer Name" | "Ship Address") && value.len() >= 5 {
                        out.push(value.to_owned());
                    }
                }
            }
        }
        assert!(
            out.len() >= 5,
            "the seeds carry personal values: {}",
            out.len()
        );
        out
    })
}

/// Runs `check` over the regressions, the seeds, and `cases()` generated inputs; any panic or
/// failed check fails the test with the smallest input proptest finds.
fn fuzz(target: &str, extra_seeds: Vec<Vec<u8>>, check: impl Fn(&[u8]) -> Result<(), String>) {
    let mut seeds = files("corpus", target);
    seeds.extend(extra_seeds);
    for input in files("regressions", target).iter().chain(&seeds) {
        check(input).unwrap_or_else(|e| panic!("{target}: a stored input fails: {e}"));
    }
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&inputs(seeds), |input| {
        check(&input).map_err(TestCaseError::fail)
    });
    if let Err(e) = result {
        panic!("{target}: {e}\n(save the input under tests/fuzz/regressions/{target}/ once fixed)");
    }
}

/// An error's text quotes no personal value of the seeds.
fn clean_error(e: impl std::fmt::Display) -> Result<(), String> {
    let text = e.to_string();
    match personal().iter().find(|p| text.contains(p.as_str())) {
        Some(p) => Err(format!("the error quotes {p:?}: {text}")),
        None => Ok(()),
    }
}

/// What a parsed returns report keeps holds no buyer's value: no value this input has under a
/// buyer's column (as its own header names them), and no personal value of the seeds, unless
/// the input itself also gives it in a column the parser reads (a mutation that writes a name
/// where the SKU goes makes that name the SKU, for any parser).
fn kept_no_buyer(input: &[u8], kept: &[String]) -> Result<(), String> {
    let text = String::from_utf8_lossy(input);
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split('\t').collect();
    let (mut buyer, mut read) = (Vec::new(), Vec::new());
    for line in lines {
        for (name, value) in header.iter().zip(line.split('\t')) {
            let name = name.trim();
            if name.starts_with("Buyer") || name.starts_with("Ship") || name.contains("Address") {
                buyer.push(value.trim());
            } else {
                read.push(value.trim());
            }
        }
    }
    // Found in what was kept, and in none of the columns the parser reads: it came from a
    // buyer's column.
    let leaked =
        |v: &str| kept.iter().any(|k| k.contains(v)) && !read.iter().any(|r| r.contains(v));
    if let Some(v) = buyer.iter().find(|v| v.len() >= 5 && leaked(v)) {
        return Err(format!(
            "a parsed return keeps {v:?}, from a buyer's column: {kept:?}"
        ));
    }
    match personal().iter().find(|p| leaked(p)) {
        Some(p) => Err(format!(
            "a parsed return keeps a buyer's value {p:?}: {kept:?}"
        )),
        None => Ok(()),
    }
}

/// Every string in a JSON value (not its field names).
fn strings(v: &serde_json::Value) -> Vec<String> {
    match v {
        serde_json::Value::String(s) => vec![s.clone()],
        serde_json::Value::Array(a) => a.iter().flat_map(strings).collect(),
        serde_json::Value::Object(o) => o.values().flat_map(strings).collect(),
        _ => Vec::new(),
    }
}

/// An error of the site's own files says something.
fn said(e: impl std::fmt::Display) -> Result<(), String> {
    if e.to_string().trim().is_empty() {
        return Err("an empty error message".into());
    }
    Ok(())
}

#[test]
fn search_orders_pages() {
    fuzz(
        "search_orders",
        vec![],
        |b| match packline::amazon::parse_search_orders(b, "fuzz") {
            // An order set aside is named by where and why, never by a value.
            Ok(page) => page
                .refused
                .iter()
                .try_for_each(|r| clean_error(format!("{}: {}", r.order, r.reason))),
            Err(e) => clean_error(e),
        },
    );
}

#[test]
fn get_order_bodies() {
    fuzz(
        "get_order",
        vec![],
        |b| match packline::amazon::parse_get_order(b, "fuzz") {
            Ok(_) => Ok(()),
            Err(e) => clean_error(e),
        },
    );
}

#[test]
fn eligible_shipping_services() {
    fuzz(
        "mfn_eligible",
        vec![],
        |b| match packline::amazon::mfn::parse_eligible_services(b) {
            Ok(_) => Ok(()),
            Err(e) => clean_error(e),
        },
    );
}

/// A shipment answer, and the label file inside it (base64, gzip, checksum).
#[test]
fn shipments_and_their_labels() {
    fuzz(
        "mfn_shipment",
        vec![],
        |b| match packline::amazon::mfn::parse_shipment(b, "createShipment") {
            Ok(s) => match s.label.decode() {
                Ok(_) => Ok(()),
                Err(e) => clean_error(e),
            },
            Err(e) => clean_error(e),
        },
    );
}

/// Every Shipping API v2 answer packline reads (rates, a purchase with its labels, documents,
/// tracking, unmanifested shipments, a collection form), each input through every parser.
#[test]
fn shipping_v2_answers() {
    use packline::amazon::shipping as v2;
    fuzz("shipping_v2", vec![], |b| {
        let mut outcomes: Vec<Result<(), String>> = Vec::new();
        let mut check = |r: Result<(), packline::amazon::ParseError>| {
            outcomes.push(match r {
                Ok(()) => Ok(()),
                Err(e) => clean_error(e),
            })
        };
        check(v2::parse_rates(b).map(|_| ()));
        check(v2::parse_tracking(b).map(|t| {
            let _ = (t.status(), t.delivered_at());
        }));
        check(v2::parse_unmanifested(b).map(|_| ()));
        check(v2::parse_collection_form(b).map(|_| ()));
        for purchase in [
            v2::parse_purchase(b).map(|p| p.package_document_details),
            v2::parse_documents(b).map(|d| vec![d.package_document_detail]),
        ] {
            match purchase {
                Ok(details) => {
                    for d in details {
                        if let Err(e) = d.label() {
                            outcomes.push(clean_error(e));
                        }
                    }
                }
                Err(e) => outcomes.push(clean_error(e)),
            }
        }
        outcomes.into_iter().collect()
    });
}

#[test]
fn messaging_actions() {
    fuzz(
        "messaging_actions",
        vec![],
        |b| match packline::amazon::messaging::parse_actions(b) {
            Ok(_) => Ok(()),
            Err(e) => clean_error(e),
        },
    );
}

#[test]
fn returns_reports() {
    fuzz(
        "returns_report",
        vec![],
        |b| match packline::amazon::reports::parse_returns_rows(b, "fuzz") {
            Ok(report) => {
                report.refused.iter().try_for_each(clean_error)?;
                kept_no_buyer(b, &strings(&serde_json::to_value(&report.returns).unwrap()))
            }
            Err(e) => clean_error(e),
        },
    );
}

#[test]
fn config_files() {
    fuzz("config", vec![], |b| {
        let text = String::from_utf8_lossy(b);
        // The site's own file, not Amazon's data: its errors may quote it (line and snippet).
        match packline::config::Config::from_text(&text, Path::new("fuzz.toml")) {
            Ok(_) => Ok(()),
            Err(e) => said(e),
        }
    });
}

#[test]
fn keymap_files() {
    let default = include_bytes!("../../keymaps/default.toml").to_vec();
    fuzz("keymap", vec![default], |b| {
        let text = String::from_utf8_lossy(b);
        let mut map = packline::tui::keymap::Keymap::load("default", None)
            .map_err(|e| format!("the built-in keymap: {e}"))?;
        match map.merge(&text, "fuzz.toml") {
            Ok(()) => Ok(()),
            Err(e) => said(e),
        }
    });
}

#[test]
fn locations_files() {
    fuzz(
        "locations",
        vec![],
        |b| match packline::domain::Locations::from_csv(&String::from_utf8_lossy(b)) {
            Ok(_) => Ok(()),
            Err(e) => clean_error(e),
        },
    );
}

/// Bytes as a client might send them: the daemon's frame codec over the stream, in chunks,
/// then each whole frame decoded as a request.
#[test]
fn socket_frames() {
    use packline::service::ops;
    use packline::service::server::{ClientFrame, ServerCodec};
    use tokio_util::codec::Decoder;
    let frame = |f: &ClientFrame| {
        let body = serde_json::to_vec(f).unwrap();
        let mut out = (body.len() as u32).to_be_bytes().to_vec();
        out.extend(body);
        out
    };
    let seeds = vec![
        frame(&ClientFrame::new(
            1,
            ops::Request::PackScan(ops::PackScan {
                order: "111-2223333-4444444".into(),
                code: "0123456789012".into(),
                unit_codes: vec![],
            }),
        )),
        frame(&ClientFrame::new(
            2,
            ops::Request::Queue(ops::Queue::default()),
        )),
    ];
    fuzz("frames", seeds, |b| {
        let mut codec = ServerCodec::new();
        let mut buf = bytes::BytesMut::new();
        for chunk in b.chunks(7) {
            buf.extend_from_slice(chunk);
            loop {
                match codec.decode(&mut buf) {
                    Ok(Some(frame)) => {
                        if let Err(e) = serde_json::from_slice::<ClientFrame>(&frame) {
                            clean_error(e)?;
                        }
                    }
                    Ok(None) => break,
                    // A bad length prefix: the daemon closes the connection.
                    Err(_) => return Ok(()),
                }
            }
        }
        Ok(())
    });
}

/// What a scanner types, against a pick batch and a pack check: a unit, a bin, a slot, a tote,
/// a code, anything; refused or counted, never a panic, and a refusal is a sentence.
#[test]
fn scanner_input() {
    use packline::domain::{Locations, PackCheck};
    let page = std::fs::read(dir("corpus", "search_orders").join("marketplace.json")).unwrap();
    let order = packline::amazon::parse_search_orders(&page, "seed")
        .unwrap()
        .orders
        .remove(0)
        .order;
    fuzz("scans", vec![], |b| {
        let text = String::from_utf8_lossy(b);
        let mut check = PackCheck::new(&order, "pat", &Locations::default());
        for code in text.split('\n') {
            let _ = packline::domain::OrderId::parse(code);
            let _ = packline::domain::pick::parse_slot(code);
            let _ = packline::domain::TrackingNumber::parse(&packline::domain::Carrier::Ups, code);
            if let Err(r) = check.scan(code) {
                clean_error(&r)?;
                if r.to_string().is_empty() {
                    return Err("an empty refusal".into());
                }
            }
            let _ = check.close_box(packline::domain::Parcel {
                box_name: "S".into(),
                dims_mm: [1, 1, 1],
                weight_g: 1,
            });
        }
        Ok(())
    });
}
