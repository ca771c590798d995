//! Returns: Amazon's returns report pulled from the training marketplace over loopback HTTP by
//! the real client into a real store (a CANCELLED report is no returns; a returnless refund is
//! keyed by order, SKU and day), parcels received by scan through the service (an expected
//! return by its label's tracking number, an unexpected one by its order id; a damaged unit never
//! restocked), the request bodies and answers checked against the official Reports model, the
//! Reports quotas, and retention keeping a return six years.

use std::time::Duration;

use crate::common::*;
use chrono::Utc;
use packline::amazon::reports::{RETURNS_REPORT, create_report_body};
use packline::domain::OrderId;
use packline::domain::returns::{Condition, ReturnKey, ReturnState};
use packline::service::ops;
use packline::service::{Service, ServiceError};
use serde_json::{Value, json};

const MODEL: &str = include_str!("../spapi-models/reports_2021-06-30.json");

/// Every catalogue SKU of the training marketplace has a bin: SKU-00042 is in B-042.
fn locations() -> packline::domain::Locations {
    let csv: String = (1..=500)
        .map(|n| format!("SKU-{n:05},B-{n:03}\n"))
        .collect();
    packline::domain::Locations::from_csv(&csv).unwrap()
}

/// A site with the marketplace's orders synced; this OS user is its lead, `bo` a packer.
async fn floor(orders: usize) -> Floor {
    Floor::builder(marketplace(orders, "1000"))
        .lead_and_packer()
        .configure(|s| s.locations = locations())
        .synced()
        .await
}

/// The marketplace's Reports requests, as (operation, status, processingStatus).
fn reports_log(m: &Marketplace) -> Vec<(String, u64, String)> {
    request_log(m)
        .iter()
        .filter(|r| {
            ["createReport", "getReport", "getReportDocument"]
                .contains(&r["operation"].as_str().unwrap())
        })
        .map(|r| {
            (
                r["operation"].as_str().unwrap().to_owned(),
                r["status"].as_u64().unwrap(),
                r["params"]["processingStatus"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect()
}

fn entry(op: &str, status: u64, processing: &str) -> (String, u64, String) {
    (op.to_owned(), status, processing.to_owned())
}

/// The first SKU of an order as the store has it.
fn first_sku(service: &Service, id: &str) -> String {
    service.with_store(|s| {
        s.get(&OrderId::parse(id).unwrap())
            .unwrap()
            .unwrap()
            .order
            .lines[0]
            .sku
            .clone()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_returns_sync_takes_a_cancelled_report_as_none_then_records_expected_returns_and_a_returnless_refund()
 {
    let f = floor(4).await;
    let ids = training_order_ids(&f.market);
    // Nothing shipped at Amazon: the report comes back CANCELLED, which is no returns.
    let none = f.client.call(ops::SyncReturns {}).await.unwrap();
    assert_eq!((none.listed, none.new, none.updated), (0, 0, 0));
    assert_eq!(
        reports_log(&f.market),
        [
            entry("createReport", 202, ""),
            entry("getReport", 200, "IN_PROGRESS"),
            entry("getReport", 200, "CANCELLED"),
        ]
    );
    let st = f.client.call(ops::SyncStatus {}).await.unwrap();
    assert!(st.returns_last_ok.is_some());
    assert_eq!(st.returns_error, None);
    // The first report covers the last 60 days, no more.
    let log = request_log(&f.market);
    let create = log
        .iter()
        .find(|r| r["operation"] == "createReport")
        .unwrap();
    assert_eq!(create["params"]["reportType"], RETURNS_REPORT);
    let start = t(create["params"]["dataStartTime"].as_str().unwrap());
    let end = t(create["params"]["dataEndTime"].as_str().unwrap());
    assert_eq!(end - start, chrono::Duration::days(60));

    // Two orders ship; the first comes back with a return label, the second is refunded
    // without a return.
    ship_at_amazon(&f.market, &ids[0]).await;
    ship_at_amazon(&f.market, &ids[1]).await;
    let got = f.client.call(ops::SyncReturns {}).await.unwrap();
    assert_eq!(
        (got.listed, got.new, got.updated, got.returnless),
        (2, 2, 0, 1)
    );
    let list = f.packer().call(ops::Returns {}).await.unwrap();
    assert_eq!(list.len(), 2);
    let with_label = list.iter().find(|r| r.order.as_str() == ids[0]).unwrap();
    let rma = with_label.rma.clone().unwrap();
    assert_eq!(with_label.key, ReturnKey::Rma { rma: rma.clone() });
    assert!(rma.starts_with('D') && rma.len() == 10, "{rma}");
    assert_eq!(with_label.tracking.as_deref(), Some("1Z9R00000000000001"));
    assert_eq!(with_label.carrier.as_deref(), Some("UPS"));
    assert_eq!(with_label.status.as_deref(), Some("Approved"));
    assert_eq!(with_label.lines.len(), 1);
    assert_eq!(with_label.lines[0].sku, first_sku(&f.service, &ids[0]));
    assert_eq!(with_label.lines[0].expected, 1);
    assert_eq!(with_label.lines[0].reason.as_deref(), Some("CR-DEFECTIVE"));
    assert_eq!(with_label.state(), ReturnState::Expected);
    let refund = list.iter().find(|r| r.order.as_str() == ids[1]).unwrap();
    assert_eq!(
        refund.key,
        ReturnKey::Returnless {
            order: OrderId::parse(&ids[1]).unwrap(),
            sku: first_sku(&f.service, &ids[1]),
            requested: Utc::now().date_naive(),
        }
    );
    assert_eq!(
        (refund.rma.as_deref(), refund.tracking.as_deref()),
        (None, None)
    );
    assert_eq!(refund.lines[0].reason.as_deref(), Some("CR-UNWANTED_ITEM"));
    // The same returns again change nothing.
    let again = f.client.call(ops::SyncReturns {}).await.unwrap();
    assert_eq!((again.listed, again.new, again.updated), (2, 0, 0));
    assert_eq!(f.packer().call(ops::Returns {}).await.unwrap(), list);
    let log = reports_log(&f.market);
    assert_eq!(
        log[3..],
        [
            entry("createReport", 202, ""),
            entry("getReport", 200, "IN_PROGRESS"),
            entry("getReport", 200, "DONE"),
            entry("getReportDocument", 200, ""),
            entry("createReport", 202, ""),
            entry("getReport", 200, "IN_PROGRESS"),
            entry("getReport", 200, "DONE"),
            entry("getReportDocument", 200, ""),
        ]
    );
    // A packer does not pull reports.
    let err = f.packer().call(ops::SyncReturns {}).await.unwrap_err();
    assert!(
        err.to_string()
            .starts_with("syncing returns is for a lead or above"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parcels_are_received_by_scan_expected_and_unexpected_and_a_damaged_unit_is_never_restocked()
 {
    let f = floor(4).await;
    let ids = training_order_ids(&f.market);
    ship_at_amazon(&f.market, &ids[0]).await;
    f.client.call(ops::SyncReturns {}).await.unwrap();
    let sku0 = first_sku(&f.service, &ids[0]);
    let bin0 = format!("B-{}", &sku0[6..]);

    // The parcel's return label opens its return at the bench; the packer scans the unit.
    let open = f
        .packer()
        .call(ops::OpenReturn {
            code: "1z9r 00000000000001".into(),
        })
        .await
        .unwrap();
    assert_eq!(open.order.as_str(), ids[0]);
    assert!(open.is_expected());
    let wrong = f
        .packer()
        .call(ops::ReceiveReturn {
            code: "1Z9R00000000000001".into(),
            unit: "SKU-NOT-IN-IT".into(),
            condition: Condition::Sellable,
            quantity: 1,
        })
        .await
        .unwrap_err();
    assert_eq!(
        wrong.to_string(),
        format!(
            "return {} has no SKU SKU-NOT-IN-IT (it holds {sku0}): scan a unit of this return",
            open.id
        )
    );
    let got = f
        .packer()
        .call(ops::ReceiveReturn {
            code: "1Z9R00000000000001".into(),
            unit: sku0.to_lowercase(),
            condition: Condition::Sellable,
            quantity: 1,
        })
        .await
        .unwrap();
    assert_eq!(got.bin.as_deref(), Some(bin0.as_str()));
    assert_eq!((got.sku.as_str(), got.quantity), (sku0.as_str(), 1));
    assert_eq!(got.record.lines[0].received[0].by, "bo");
    // No more than Amazon said would come back.
    let more = f
        .packer()
        .call(ops::ReceiveReturn {
            code: open.rma.clone().unwrap(),
            unit: sku0.clone(),
            condition: Condition::Sellable,
            quantity: 1,
        })
        .await
        .unwrap_err();
    assert!(matches!(more, ServiceError::Conflict(_)), "{more}");
    let closed = f
        .packer()
        .call(ops::CloseReturn {
            code: ids[0].clone(),
        })
        .await
        .unwrap();
    assert_eq!(closed.state(), ReturnState::Closed);
    assert_eq!(closed.closed_by.as_deref(), Some("bo"));

    // A parcel nobody announced, scanned by its order id: an unexpected return on that order.
    let order2 = &ids[2];
    let sku2 = first_sku(&f.service, order2);
    let bin2 = format!("B-{}", &sku2[6..]);
    let surprise = f
        .packer()
        .call(ops::OpenReturn {
            code: order2.clone(),
        })
        .await
        .unwrap();
    assert_eq!(
        surprise.key,
        ReturnKey::Unexpected {
            order: OrderId::parse(order2).unwrap(),
            n: 1
        }
    );
    assert!(!surprise.is_expected());
    // Its unit came back broken: recorded, never sent to a bin.
    let damaged = f
        .packer()
        .call(ops::ReceiveReturn {
            code: order2.clone(),
            unit: sku2.clone(),
            condition: Condition::Damaged,
            quantity: 1,
        })
        .await
        .unwrap();
    assert_eq!(damaged.bin, None);
    assert_eq!(damaged.record.id, surprise.id);
    let kept = f
        .service
        .with_store(|s| s.return_record(surprise.id).unwrap().unwrap());
    assert_eq!(kept.lines[0].received.len(), 1);
    assert_eq!(kept.lines[0].received[0].condition, Condition::Damaged);
    assert_eq!(kept.lines[0].received[0].bin, None);
    assert_ne!(Some(bin2), kept.lines[0].received[0].bin);
    // Scanning the order again finds the same open return, not a second one.
    let same = f
        .packer()
        .call(ops::OpenReturn {
            code: order2.clone(),
        })
        .await
        .unwrap();
    assert_eq!(same.id, surprise.id);
    // Closed, it counts what came against nothing expected: said as such, never "of 0".
    let closed = f
        .packer()
        .call(ops::CloseReturn {
            code: order2.clone(),
        })
        .await
        .unwrap();
    assert_eq!(closed.received_text(), "1 received (not expected)");
    // The lead's dashboard counts today's returns: the sellable unit and the damaged one.
    let dash = f.client.call(ops::Dashboard {}).await.unwrap();
    assert_eq!(
        (
            dash.returns.received,
            dash.returns.restocked,
            dash.returns.damaged
        ),
        (2, 1, 1),
        "{:?}",
        dash.returns
    );
    assert!(dash.returns.expected >= 1, "{:?}", dash.returns);
    // A code that names nothing is refused, naming what to scan.
    let unknown = f
        .packer()
        .call(ops::OpenReturn {
            code: "9400111899223344556677".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        unknown.to_string(),
        "no return answers to \"9400111899223344556677\": scan the return label's tracking number, the RMA id or the order id (an unexpected return is recorded only against an order in the store); see `packline returns list`"
    );
    assert!(matches!(unknown, ServiceError::NotFound(_)));
    // A closed return's label takes nothing more.
    let after = f
        .packer()
        .call(ops::ReceiveReturn {
            code: "1Z9R00000000000001".into(),
            unit: sku0.clone(),
            condition: Condition::Damaged,
            quantity: 1,
        })
        .await
        .unwrap_err();
    assert!(
        after
            .to_string()
            .contains(&format!("return {} was closed on", open.id)),
        "{after}"
    );
    // Every change is audited: the return and its order, never anything of the buyer.
    let (store, audit) = {
        let (dir, market, service) = f.close();
        drop(market);
        drop(service.into_store_within(Duration::from_secs(5)).ok());
        let entries = audit_entries(&dir.path().join("data"));
        (dir, entries)
    };
    let returns: Vec<(String, String, String)> = audit
        .iter()
        .filter(|e| e["action"].as_str().unwrap().starts_with("return_"))
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_owned(),
                e["order"].as_str().unwrap_or_default().to_owned(),
                e["reason"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        returns,
        [
            (
                "return_expected".to_owned(),
                ids[0].clone(),
                format!("return {} (RMA {})", open.id, open.rma.clone().unwrap())
            ),
            (
                "return_receive".to_owned(),
                ids[0].clone(),
                format!(
                    "return {}: 1 × {sku0} sellable, back to bin {bin0}",
                    open.id
                )
            ),
            (
                "return_close".to_owned(),
                ids[0].clone(),
                format!(
                    "return {} (RMA {}); 1 of 1 expected units received",
                    open.id,
                    open.rma.clone().unwrap()
                )
            ),
            (
                "return_unexpected".to_owned(),
                order2.clone(),
                format!("return {} (unexpected, #1 on the order)", surprise.id)
            ),
            (
                "return_receive".to_owned(),
                order2.clone(),
                format!("return {}: 1 × {sku2} damaged", surprise.id)
            ),
            (
                "return_close".to_owned(),
                order2.clone(),
                format!(
                    "return {} (unexpected, #1 on the order); 1 received (not expected)",
                    surprise.id
                )
            ),
        ]
    );
    drop(store);
}

/// The createReport body packline sends, and every answer of the marketplace, are the model's;
/// the Reports quotas are Amazon's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_bodies_and_answers_validate_against_the_official_model_within_the_quotas() {
    let now = Utc::now();
    let body = create_report_body(
        RETURNS_REPORT,
        &["ATVPDKIKX0DER".to_owned()],
        now - chrono::Duration::days(60),
        now - chrono::Duration::minutes(2),
    );
    let body = String::from_utf8(body).unwrap();
    assert_valid(
        &validator_in(MODEL, "CreateReportSpecification"),
        &body,
        "createReport body",
    );
    // Amazon's real quota: createReport one a minute, burst 15.
    let m = marketplace(2, "1");
    let lwa = ("x-amz-access-token", "Atza|training");
    let post = |b: &str| http_send(&m, "POST", "/reports/2021-06-30/reports", &[lwa], b);
    let mut ids = Vec::new();
    for _ in 0..15 {
        let (status, answer) = post(&body);
        assert_eq!(status, 202, "{answer}");
        assert_valid(
            &validator_in(MODEL, "CreateReportResponse"),
            &answer,
            "createReport",
        );
        ids.push(
            serde_json::from_str::<Value>(&answer).unwrap()["reportId"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let (status, answer) = post(&body);
    assert_eq!(status, 429, "{answer}");
    assert_valid(
        &validator_in(MODEL, "ErrorList"),
        &answer,
        "createReport 429",
    );
    // getReport: IN_PROGRESS, then CANCELLED (nothing shipped, no returns).
    let path = format!("/reports/2021-06-30/reports/{}", ids[0]);
    for want in ["IN_PROGRESS", "CANCELLED"] {
        let (status, answer) = http_with(&m, "GET", &path, &[lwa]);
        assert_eq!(status, 200, "{answer}");
        assert_valid(&validator_in(MODEL, "Report"), &answer, "getReport");
        let r: Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(r["processingStatus"], want);
        assert_eq!(r["reportType"], RETURNS_REPORT);
        assert_eq!(r.get("reportDocumentId"), None);
    }
    // Refusals, in Amazon's error shape.
    let span = json!({
        "reportType": RETURNS_REPORT,
        "marketplaceIds": ["ATVPDKIKX0DER"],
        "dataStartTime": (now - chrono::Duration::days(61)).to_rfc3339(),
        "dataEndTime": (now - chrono::Duration::minutes(2)).to_rfc3339(),
    });
    let m2 = marketplace(1, "1000");
    for (request, says) in [
        (
            span.to_string(),
            "This report can be requested for at most 60 days of data.",
        ),
        (
            json!({ "reportType": RETURNS_REPORT, "marketplaceIds": [] }).to_string(),
            "marketplaceIds must hold 1 to 25 marketplace ids.",
        ),
        (
            json!({ "reportType": "GET_MERCHANT_LISTINGS_ALL_DATA", "marketplaceIds": ["ATVPDKIKX0DER"] })
                .to_string(),
            "This report type is not available in the training marketplace.",
        ),
    ] {
        let (status, answer) =
            http_send(&m2, "POST", "/reports/2021-06-30/reports", &[lwa], &request);
        assert_eq!(status, 400, "{answer}");
        assert_valid(&validator_in(MODEL, "ErrorList"), &answer, "createReport refusal");
        let a: Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(a["errors"][0]["message"], says);
    }
    let (status, _) = http_with(&m2, "GET", "/reports/2021-06-30/reports/nope", &[lwa]);
    assert_eq!(status, 404);
    let (status, _) = http_with(&m2, "GET", &path, &[]);
    assert_eq!(status, 403);
}

/// A shipped order's report, end to end over raw HTTP: the document the marketplace serves is
/// Amazon's tab-separated report, and getReportDocument's answer is the model's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_document_is_the_tab_separated_returns_report() {
    let m = marketplace(3, "1000");
    let ids = training_order_ids(&m);
    ship_at_amazon(&m, &ids[0]).await;
    let lwa = ("x-amz-access-token", "Atza|training");
    let now = Utc::now();
    let body = create_report_body(
        RETURNS_REPORT,
        &["ATVPDKIKX0DER".to_owned()],
        now - chrono::Duration::days(1),
        now,
    );
    let (_, answer) = http_send(
        &m,
        "POST",
        "/reports/2021-06-30/reports",
        &[lwa],
        std::str::from_utf8(&body).unwrap(),
    );
    let id = serde_json::from_str::<Value>(&answer).unwrap()["reportId"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/reports/2021-06-30/reports/{id}");
    http_with(&m, "GET", &path, &[lwa]);
    let (_, answer) = http_with(&m, "GET", &path, &[lwa]);
    let r: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(r["processingStatus"], "DONE");
    let doc = r["reportDocumentId"].as_str().unwrap();
    let (status, answer) = http_with(
        &m,
        "GET",
        &format!("/reports/2021-06-30/documents/{doc}"),
        &[lwa],
    );
    assert_eq!(status, 200, "{answer}");
    assert_valid(
        &validator_in(MODEL, "ReportDocument"),
        &answer,
        "getReportDocument",
    );
    let d: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(d.get("compressionAlgorithm"), None);
    let url = d["url"].as_str().unwrap();
    let tsv = http(&m, "GET", url.trim_start_matches(&m.url));
    let lines: Vec<&str> = tsv.lines().collect();
    assert_eq!(lines.len(), 2, "{tsv}");
    assert!(lines[0].starts_with("Order ID\tOrder date\tReturn request date\t"));
    assert_eq!(lines[0].split('\t').count(), 32);
    assert_eq!(lines[1].split('\t').next(), Some(ids[0].as_str()));
    let parsed = packline::amazon::reports::parse_returns_report(tsv.as_bytes(), "doc").unwrap();
    assert_eq!(parsed.len(), 1);
    assert_eq!(parsed[0].order.as_str(), ids[0]);
}

/// `packline check` reads the returns too: a damaged return record is named, by number.
#[test]
fn the_check_reads_every_return_and_names_a_damaged_one() {
    use packline::domain::returns::{ExpectedLine, ExpectedReturn};
    let dir = tempfile::tempdir().unwrap();
    let mut store = unlocked_store(dir.path());
    let at = t("2026-11-25T10:00:00Z");
    let expected = |rma: &str| ExpectedReturn {
        key: ReturnKey::Rma { rma: rma.into() },
        order: OrderId::parse("904-0000000-0000001").unwrap(),
        rma: Some(rma.into()),
        requested: at.date_naive(),
        status: None,
        carrier: None,
        tracking: None,
        lines: vec![ExpectedLine {
            sku: "SKU-1".into(),
            asin: None,
            quantity: 1,
            reason: None,
        }],
    };
    store
        .record_returns(&[expected("DCHECK01"), expected("DCHECK02")], "lead", at)
        .unwrap();
    let r = store.check().unwrap();
    assert_eq!((r.returns, r.problems.len()), (2, 0), "{:?}", r.problems);
    drop(store);
    {
        let db = packline::store::raw_db(&dir.path().join("data")).unwrap();
        let returns = db.open_tree("returns").unwrap();
        let mut k = vec![b'r'];
        k.extend_from_slice(&2u64.to_be_bytes());
        assert!(returns.insert(k, &[1u8, 0xff][..]).unwrap().is_some());
        db.flush().unwrap();
    }
    let store = packline::store::Store::open(&dir.path().join("data")).unwrap();
    let r = store.check().unwrap();
    let found: Vec<(&str, &str)> = r
        .problems
        .iter()
        .map(|p| (p.part.as_str(), p.detail.as_str()))
        .collect();
    assert_eq!(found, [("returns", "return 2: the record is damaged")]);
}

/// A closed return is kept six years, like an order record, and then deleted.
#[test]
fn retention_keeps_a_return_six_years_after_it_closed() {
    use packline::domain::returns::{ExpectedLine, ExpectedReturn};
    let dir = tempfile::tempdir().unwrap();
    let mut store = unlocked_store(dir.path());
    let closed_at = t("2026-11-25T10:00:00Z");
    let expected = ExpectedReturn {
        key: ReturnKey::Rma {
            rma: "DTESTRMA01".into(),
        },
        order: OrderId::parse("904-0000000-0000001").unwrap(),
        rma: Some("DTESTRMA01".into()),
        requested: closed_at.date_naive(),
        status: None,
        carrier: None,
        tracking: Some("1Z1".into()),
        lines: vec![ExpectedLine {
            sku: "SKU-1".into(),
            asin: None,
            quantity: 1,
            reason: None,
        }],
    };
    store
        .record_returns(&[expected], "lead", closed_at)
        .unwrap();
    store.close_return("DTESTRMA01", "bo", closed_at).unwrap();
    let policy = packline::store::RetentionPolicy::default();
    let r = store
        .purge(policy, t("2032-11-24T10:00:00Z"), "lead", Utc::now())
        .unwrap();
    assert_eq!(r.returns_deleted, 0);
    assert_eq!(store.returns().unwrap().len(), 1);
    let r = store
        .purge(policy, t("2032-11-25T10:00:00Z"), "lead", Utc::now())
        .unwrap();
    assert_eq!(r.returns_deleted, 1);
    assert!(store.returns().unwrap().is_empty());
    // Its key went with it: the same RMA in a later report is a new return.
    let again = ExpectedReturn {
        key: ReturnKey::Rma {
            rma: "DTESTRMA01".into(),
        },
        order: OrderId::parse("904-0000000-0000001").unwrap(),
        rma: Some("DTESTRMA01".into()),
        requested: closed_at.date_naive(),
        status: None,
        carrier: None,
        tracking: None,
        lines: vec![],
    };
    let c = store.record_returns(&[again], "lead", closed_at).unwrap();
    assert_eq!(c.new, 1);
}

/// A returns report with one row packline refuses (a control character in its SKU) records the
/// others and names the broken line, from Amazon's report as from a downloaded file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_with_one_broken_row_records_the_others_and_names_the_line() {
    let f = floor(4).await;
    let ids = training_order_ids(&f.market);
    for id in &ids[..3] {
        ship_at_amazon(&f.market, id).await;
    }
    // The second shipped order's row (line 3: the header, then one row per order) is broken.
    http(
        &f.market,
        "POST",
        &format!("/_training/orders/{}/broken-sku", ids[1]),
    );
    let got = f.client.call(ops::SyncReturns {}).await.unwrap();
    assert_eq!(
        got.refused,
        [format!(
            "{RETURNS_REPORT}: line 3, column \"Merchant SKU\": holds a control character: the row is broken"
        )]
    );
    assert_eq!((got.listed, got.new, got.updated), (2, 2, 0));
    let list = f.packer().call(ops::Returns {}).await.unwrap();
    let mut orders: Vec<&str> = list.iter().map(|r| r.order.as_str()).collect();
    orders.sort();
    let mut want = vec![ids[0].as_str(), ids[2].as_str()];
    want.sort();
    assert_eq!(orders, want);

    // The next pull asks for that report's days again: once Amazon's data reads, the row is
    // recorded.
    http(
        &f.market,
        "POST",
        &format!("/_training/orders/{}/mend", ids[1]),
    );
    let again = f.client.call(ops::SyncReturns {}).await.unwrap();
    assert_eq!(again.refused, Vec::<String>::new());
    // The days again are a little more than one report's 60: two reports, each listing today's
    // three returns (a report is by day); one is new.
    assert_eq!(
        (again.listed, again.new, again.updated, again.returnless),
        (6, 1, 0, 1)
    );
    let starts: Vec<String> = request_log(&f.market)
        .iter()
        .filter(|r| r["operation"] == "createReport")
        .map(|r| r["params"]["dataStartTime"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        starts[1], starts[0],
        "the held report asked again: {starts:?}"
    );
    // Nothing refused now: the pull after asks only for the last day again.
    f.client.call(ops::SyncReturns {}).await.unwrap();
    let last = request_log(&f.market)
        .iter()
        .rfind(|r| r["operation"] == "createReport")
        .unwrap()["params"]["dataStartTime"]
        .as_str()
        .map(t)
        .unwrap();
    assert!(Utc::now() - last < chrono::Duration::days(2), "{last}");

    // The same from a downloaded report: the good rows recorded, the broken one named.
    let header =
        "Order ID\tReturn request date\tAmazon RMA ID\tASIN\tMerchant SKU\tReturn quantity";
    let sku = first_sku(&f.service, &ids[3]);
    let report = format!(
        "{header}\n{}\t2026-11-26\tDFILE00001\tB000000001\t{sku}\t1\n{}\t2026-11-26\tDFILE00002\tnot-an-asin\t{sku}\t1\n",
        ids[3], ids[3]
    );
    let got = f
        .client
        .call(ops::ImportReturns {
            file: "returns.tsv".into(),
            report,
        })
        .await
        .unwrap();
    assert_eq!(
        got.refused,
        [
            "returns.tsv: line 3, column \"ASIN\": is not an ASIN (10 capital letters and digits): the row is broken"
        ]
    );
    assert_eq!((got.listed, got.new), (1, 1));
    assert_eq!(f.packer().call(ops::Returns {}).await.unwrap().len(), 4);
}
