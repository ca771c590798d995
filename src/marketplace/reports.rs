//! Reports API 2021-06-30 in the training marketplace, for the merchant returns report
//! (`GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE`): createReport (202 with a report id), getReport
//! (IN_PROGRESS at the first look, then DONE with a document, or CANCELLED when the window holds
//! no returns, as Amazon answers a report with no data), getReportDocument (a document id and a
//! URL to fetch it from, uncompressed) and the document itself, tab-separated with the columns of
//! Amazon's report. Quotas as Amazon's (createReport and getReportDocument one a minute, burst 15;
//! getReport 2 a second, burst 15), with injected faults.
//!
//! Returns are seeded for the orders shipped here (confirmed, or labelled through Merchant
//! Fulfillment), requested the day each shipped: the order's first item, one unit; every fourth
//! shipped order (the second, sixth, …) is a returnless refund (no RMA id, no return label), and
//! the third, seventh, … also return their second item under the same RMA id when they have one.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::server::{Market, Shared, admit, lock, sp_error};
use crate::amazon::reports::{
    CREATE_REPORT, GET_REPORT, GET_REPORT_DOCUMENT, MAX_REPORT_DAYS, RETURNS_REPORT,
};
use crate::amazon::throttle::UsagePlan;

/// The reports asked for and their documents.
#[derive(Default)]
pub(super) struct ReportBook {
    next: u64,
    reports: HashMap<String, Entry>,
    /// Document id → the tab-separated document.
    documents: HashMap<String, String>,
}

struct Entry {
    spec: Value,
    created: DateTime<Utc>,
    looks: u32,
    /// The document, when the window held returns; none means CANCELLED.
    document: Option<String>,
}

pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/reports/2021-06-30/reports", post(create_report))
        .route("/reports/2021-06-30/reports/{id}", get(get_report))
        .route(
            "/reports/2021-06-30/documents/{id}",
            get(get_report_document),
        )
        .route("/_training/report-documents/{id}", get(document))
}

/// The operations whose answers can carry an injected fault.
pub(super) fn faultable() -> impl Iterator<Item = &'static str> {
    [CREATE_REPORT, GET_REPORT, GET_REPORT_DOCUMENT].into_iter()
}

/// The header of Amazon's report (amzn/selling-partner-api-models #284).
const COLUMNS: [&str; 32] = [
    "Order ID",
    "Order date",
    "Return request date",
    "Return request status",
    "Amazon RMA ID",
    "Merchant RMA ID",
    "Label type",
    "Label cost",
    "Currency code",
    "Return carrier",
    "Tracking ID",
    "Label to be paid by",
    "A-to-Z Claim",
    "Is prime",
    "ASIN",
    "Merchant SKU",
    "Item Name",
    "Return quantity",
    "Return Reason",
    "In policy",
    "Return type",
    "Resolution",
    "Invoice number",
    "Return delivery date",
    "Order Amount",
    "Order quantity",
    "SafeT Action reason",
    "SafeT claim id",
    "SafeT claim state",
    "SafeT claim creation time",
    "SafeT claim reimbursement amount",
    "Refunded Amount",
];

const REASONS: [&str; 4] = [
    "CR-DEFECTIVE",
    "CR-UNWANTED_ITEM",
    "AMZ-PG-BAD-DESC",
    "CR-SWITCHEROO",
];

fn bad(message: &str) -> Response {
    sp_error(StatusCode::BAD_REQUEST, "InvalidInput", message)
}

fn time(v: &Value) -> Option<DateTime<Utc>> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(Into::into)
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The RMA id Amazon would give an order's return: letters and digits made from its id.
fn rma_of(order: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut n: u64 = order.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let mut s = String::from("D");
    for _ in 0..9 {
        s.push(ALPHABET[(n % ALPHABET.len() as u64) as usize] as char);
        n /= ALPHABET.len() as u64;
    }
    s
}

/// The seeded returns requested in `[start, end]` (by day), as report rows.
fn rows(market: &Market, start: DateTime<Utc>, end: DateTime<Utc>) -> Vec<String> {
    let (first, last) = (start.date_naive(), end.date_naive());
    let mut out = Vec::new();
    let shipped = market
        .orders
        .iter()
        .filter(|o| o["fulfillment"]["fulfillmentStatus"] == "SHIPPED");
    for (i, o) in shipped.enumerate() {
        let Some(day) = time(&o["lastUpdatedTime"]).map(|t| t.date_naive()) else {
            continue;
        };
        if day < first || day > last {
            continue;
        }
        let id = o["orderId"].as_str().unwrap_or_default();
        let returnless = i % 4 == 1;
        let items = o["orderItems"].as_array().cloned().unwrap_or_default();
        let take = if i % 4 == 2 { 2 } else { 1 };
        let tracking = format!("1Z9R{:014}", i as u64 * 7919 + 1);
        for (j, item) in items.iter().take(take).enumerate() {
            let product = &item["product"];
            let cell = |v: &Value| {
                v.as_str()
                    .unwrap_or_default()
                    .replace(['\t', '\n', '\r'], " ")
            };
            let (rma, label, carrier, track, kind) = if returnless {
                (
                    String::new(),
                    "",
                    "",
                    String::new(),
                    "Refund without return",
                )
            } else {
                (
                    rma_of(id),
                    "AmazonPrepaidLabel",
                    "UPS",
                    tracking.clone(),
                    "C-Returns",
                )
            };
            let created = time(&o["createdTime"]).unwrap_or(start).date_naive();
            let fields = [
                id.to_owned(),
                created.to_string(),
                day.to_string(),
                "Approved".into(),
                rma,
                String::new(),
                label.into(),
                if returnless {
                    String::new()
                } else {
                    "6.49".into()
                },
                "USD".into(),
                carrier.into(),
                track,
                "Seller".into(),
                "N".into(),
                if o["programs"]
                    .as_array()
                    .is_some_and(|p| p.iter().any(|x| x == "PRIME"))
                {
                    "Y".into()
                } else {
                    "N".into()
                },
                cell(&product["asin"]),
                cell(&product["sellerSku"]),
                cell(&product["title"]),
                "1".into(),
                REASONS[(i + j) % REASONS.len()].into(),
                "Y".into(),
                kind.into(),
                "StandardRefund".into(),
                String::new(),
                String::new(),
                cell(&product["price"]["unitPrice"]["amount"]),
                item["quantityOrdered"].as_u64().unwrap_or(1).to_string(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                cell(&product["price"]["unitPrice"]["amount"]),
            ];
            out.push(fields.join("\t"));
        }
    }
    out
}

/// createReport: the specification checked as Amazon checks it; 202 with the report's id.
async fn create_report(
    State(m): State<Shared>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let spec: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut logged = HashMap::new();
    for k in ["reportType", "dataStartTime", "dataEndTime"] {
        if let Some(v) = spec[k].as_str() {
            logged.insert(k.to_owned(), v.to_owned());
        }
    }
    super::mfn::serve(m, CREATE_REPORT, UsagePlan::CREATE_REPORT, logged, |market| {
        if let Some(refused) = admit(market, &headers, CREATE_REPORT, UsagePlan::CREATE_REPORT) {
            return (refused, vec![]);
        }
        if !spec.is_object() {
            return (bad("The request body is not a JSON object."), vec![]);
        }
        match spec["marketplaceIds"].as_array() {
            Some(ids) if (1..=25).contains(&ids.len()) && ids.iter().all(Value::is_string) => {}
            _ => return (bad("marketplaceIds must hold 1 to 25 marketplace ids."), vec![]),
        }
        match spec["reportType"].as_str() {
            Some(RETURNS_REPORT) => {}
            Some(_) => {
                return (
                    bad("This report type is not available in the training marketplace."),
                    vec![],
                );
            }
            None => return (bad("reportType is required."), vec![]),
        }
        let now = Utc::now();
        let parse = |k: &str| match &spec[k] {
            Value::Null => Ok(None),
            v => time(v).map(Some).ok_or(()),
        };
        let (Ok(start), Ok(end)) = (parse("dataStartTime"), parse("dataEndTime")) else {
            return (
                bad("dataStartTime and dataEndTime must be ISO 8601 date-times."),
                vec![],
            );
        };
        let end = end.unwrap_or(now);
        let start = start.unwrap_or(end - Duration::days(MAX_REPORT_DAYS));
        if end > now + Duration::seconds(5) || start > end {
            return (
                bad("dataStartTime must not be after dataEndTime, nor either after the current date and time."),
                vec![],
            );
        }
        if end - start > Duration::days(MAX_REPORT_DAYS) {
            return (
                bad("This report can be requested for at most 60 days of data."),
                vec![],
            );
        }
        let found = rows(market, start, end);
        let book = &mut market.reports;
        book.next += 1;
        let id = format!("{}", 50_000_000_000u64 + book.next);
        let document = (!found.is_empty()).then(|| {
            let mut doc = COLUMNS.join("\t");
            for r in &found {
                doc.push('\n');
                doc.push_str(r);
            }
            doc.push('\n');
            doc
        });
        book.reports.insert(
            id.clone(),
            Entry {
                spec: spec.clone(),
                created: now,
                looks: 0,
                document,
            },
        );
        (
            (
                StatusCode::ACCEPTED,
                [("content-type", "application/json")],
                json!({ "reportId": id }).to_string(),
            )
                .into_response(),
            vec![("reportId", id), ("rows", found.len().to_string())],
        )
    })
    .await
}

/// getReport: IN_PROGRESS at the first look, then DONE (with its document) or CANCELLED.
async fn get_report(
    State(m): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let logged = HashMap::from([("reportId".to_owned(), id.clone())]);
    super::mfn::serve(m, GET_REPORT, UsagePlan::GET_REPORT, logged, |market| {
        if let Some(refused) = admit(market, &headers, GET_REPORT, UsagePlan::GET_REPORT) {
            return (refused, vec![]);
        }
        let book = &mut market.reports;
        let Some(e) = book.reports.get_mut(&id) else {
            return (
                sp_error(
                    StatusCode::NOT_FOUND,
                    "NotFound",
                    "The report was not found.",
                ),
                vec![],
            );
        };
        e.looks += 1;
        let mut body = json!({
            "reportId": id,
            "reportType": e.spec["reportType"],
            "marketplaceIds": e.spec["marketplaceIds"],
            "createdTime": stamp(e.created),
            "processingStartTime": stamp(e.created),
        });
        for k in ["dataStartTime", "dataEndTime"] {
            if e.spec[k].is_string() {
                body[k] = e.spec[k].clone();
            }
        }
        let status = if e.looks == 1 {
            "IN_PROGRESS"
        } else {
            body["processingEndTime"] = json!(stamp(e.created));
            match &e.document {
                Some(doc) => {
                    let doc_id = format!("amzn1.spdoc.1.4.na.training.{id}");
                    book.documents.insert(doc_id.clone(), doc.clone());
                    body["reportDocumentId"] = json!(doc_id);
                    "DONE"
                }
                None => "CANCELLED",
            }
        };
        body["processingStatus"] = json!(status);
        (
            (
                StatusCode::OK,
                [("content-type", "application/json")],
                body.to_string(),
            )
                .into_response(),
            vec![("processingStatus", status.to_owned())],
        )
    })
    .await
}

/// getReportDocument: where to fetch the document (uncompressed).
async fn get_report_document(
    State(m): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let host = headers
        .get("host")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_owned();
    let logged = HashMap::from([("reportDocumentId".to_owned(), id.clone())]);
    super::mfn::serve(
        m,
        GET_REPORT_DOCUMENT,
        UsagePlan::GET_REPORT_DOCUMENT,
        logged,
        |market| {
            if let Some(refused) = admit(
                market,
                &headers,
                GET_REPORT_DOCUMENT,
                UsagePlan::GET_REPORT_DOCUMENT,
            ) {
                return (refused, vec![]);
            }
            if !market.reports.documents.contains_key(&id) {
                return (
                    sp_error(
                        StatusCode::NOT_FOUND,
                        "NotFound",
                        "The report document was not found.",
                    ),
                    vec![],
                );
            }
            let body = json!({
                "reportDocumentId": id,
                "url": format!("http://{host}/_training/report-documents/{id}"),
            });
            (
                (
                    StatusCode::OK,
                    [("content-type", "application/json")],
                    body.to_string(),
                )
                    .into_response(),
                vec![],
            )
        },
    )
    .await
}

/// The document, as its presigned URL serves it (no SP-API token).
async fn document(State(m): State<Shared>, Path(id): Path<String>) -> Response {
    match lock(&m).reports.documents.get(&id) {
        Some(doc) => (
            StatusCode::OK,
            [("content-type", "text/tab-separated-values; charset=utf-8")],
            doc.clone(),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
