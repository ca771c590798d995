//! Reports API 2021-06-30 in the training marketplace, for the merchant returns report
//! (`GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE`) and the actionable-orders report
//! (`GET_FLAT_FILE_ACTIONABLE_ORDER_DATA_SHIPPING`, below): createReport (202 with a report id), getReport
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
//!
//! The actionable-orders report lists the merchant-fulfilled orders not yet shipped, one row per
//! item, with Amazon's columns (the buyer's included: a client must drop them). As Amazon's, it
//! lags: its data time is [`ACTIONABLE_LAG`] before it was asked for, so an order placed since is
//! not in it and an order shipped or cancelled since is still listed as it stood; it takes
//! [`ACTIONABLE_PROCESSING`] of Amazon's time to make (sped up with the quotas); and it is
//! restricted: its document is refused (403) to a request without a Restricted Data Token issued
//! for that document's path.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::books::Entry;
use crate::market::{self, EndpointRoutes as _, Market, Shared, admit, lock, sp_error};
use packline_spapi::endpoints;
use packline_spapi::reports::{
    ACTIONABLE_REPORT, CREATE_REPORT, GET_REPORT, GET_REPORT_DOCUMENT, MAX_REPORT_DAYS,
    RETURNS_REPORT,
};
use packline_spapi::throttle::UsagePlan;

/// How far the actionable-orders report's data lags behind the time it is asked for (Amazon's
/// order reports lag up to about 30 minutes).
pub const ACTIONABLE_LAG: Duration = Duration::minutes(5);
/// How long Amazon takes to make an actionable-orders report, at real quotas.
pub const ACTIONABLE_PROCESSING: std::time::Duration = std::time::Duration::from_secs(60);

pub(crate) fn routes() -> Router<Shared> {
    Router::<Shared>::new()
        .endpoint(&endpoints::CREATE_REPORT, create_report)
        .endpoint(&endpoints::GET_REPORT, get_report)
        .endpoint(&endpoints::GET_REPORT_DOCUMENT, get_report_document)
        .route("/_training/report-documents/{id}", get(document))
}

/// The operations whose answers can carry an injected fault.
pub(crate) fn faultable() -> impl Iterator<Item = &'static str> {
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
    market::serve(m, CREATE_REPORT, UsagePlan::CREATE_REPORT, logged, |market| {
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
            Some(ACTIONABLE_REPORT) => return create_actionable(market, spec.clone()),
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
        let document = tsv(&COLUMNS, &found);
        book.reports.insert(
            id.clone(),
            Entry {
                spec: spec.clone(),
                created: now,
                ready: now,
                data_end: None,
                restricted: false,
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
    market::serve(m, GET_REPORT, UsagePlan::GET_REPORT, logged, |market| {
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
        if let Some(t) = e.data_end {
            body["dataEndTime"] = json!(stamp(t));
        }
        let status = if e.looks == 1 || Utc::now() < e.ready {
            "IN_PROGRESS"
        } else {
            body["processingEndTime"] = json!(stamp(e.created));
            match &e.document {
                Some(doc) => {
                    let doc_id = format!("amzn1.spdoc.1.4.na.training.{id}");
                    book.documents.insert(doc_id.clone(), doc.clone());
                    if e.restricted {
                        book.restricted.insert(doc_id.clone());
                    }
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
    market::serve(
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
            // A restricted report's document: only with an RDT issued for its path.
            if market.reports.restricted.contains(&id) {
                let own = endpoints::GET_RESTRICTED_REPORT_DOCUMENT;
                let path = own.fill(&[id.as_str()]).unwrap_or_default();
                let granted = headers
                    .get("x-amz-access-token")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|t| market.rdt_scopes.get(t))
                    .is_some_and(|scopes| {
                        scopes
                            .iter()
                            .any(|(m, p)| m == own.method.as_str() && *p == path)
                    });
                if !granted {
                    return (
                        sp_error(
                            StatusCode::FORBIDDEN,
                            "Unauthorized",
                            "Access to requested resource is denied.",
                        ),
                        vec![("restricted", "refused".to_owned())],
                    );
                }
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

/// A report's document: its header and rows, tab-separated; none when no row is found (Amazon
/// then gives no document).
fn tsv(columns: &[&str], rows: &[String]) -> Option<String> {
    (!rows.is_empty()).then(|| {
        let mut doc = columns.join("\t");
        for r in rows {
            doc.push('\n');
            doc.push_str(r);
        }
        doc.push('\n');
        doc
    })
}

/// The header of Amazon's actionable-orders report, in its order (the buyer's columns included).
pub const ACTIONABLE_COLUMNS: [&str; 36] = [
    "order-id",
    "order-item-id",
    "purchase-date",
    "payments-date",
    "reporting-date",
    "promise-date",
    "days-past-promise",
    "buyer-email",
    "buyer-name",
    "buyer-phone-number",
    "sku",
    "product-name",
    "quantity-purchased",
    "quantity-shipped",
    "quantity-to-ship",
    "ship-service-level",
    "recipient-name",
    "ship-address-1",
    "ship-address-2",
    "ship-address-3",
    "ship-city",
    "ship-state",
    "ship-postal-code",
    "ship-country",
    "ship-phone-number",
    "delivery-start-date",
    "delivery-end-date",
    "delivery-time-zone",
    "delivery-Instructions",
    "sales-channel",
    "is-business-order",
    "purchase-order-number",
    "price-designation",
    "is-prime",
    "is-buyer-requested-cancellation",
    "buyer-requested-cancel-reason",
];

/// The buyer's columns as the training marketplace fills them: a client that keeps any of
/// these has kept the buyer.
pub const TRAINING_BUYER_EMAIL: &str = "training-buyer@marketplace.invalid";
pub const TRAINING_BUYER_NAME: &str = "Training Buyer";
pub const TRAINING_BUYER_PHONE: &str = "+1 206 555 0142";

/// The service level as the report spells it (`SecondDay` for the API's `SECOND_DAY`).
fn report_level(api: &str) -> String {
    api.split('_')
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f
                    .to_uppercase()
                    .chain(c.flat_map(char::to_lowercase))
                    .collect(),
                None => String::new(),
            }
        })
        .collect()
}

/// The actionable report's rows: every merchant-fulfilled order placed by `data_time` and
/// pending then (pending now, or shipped or cancelled since: listed as it stood).
fn actionable_rows(market: &Market, data_time: DateTime<Utc>) -> Vec<String> {
    let mut out = Vec::new();
    for o in &market.orders {
        if o["fulfillment"]["fulfilledBy"] != "MERCHANT" {
            continue;
        }
        let Some(created) = time(&o["createdTime"]) else {
            continue;
        };
        if created > data_time {
            continue;
        }
        let status = o["fulfillment"]["fulfillmentStatus"]
            .as_str()
            .unwrap_or_default();
        let pending = matches!(status, "UNSHIPPED" | "PARTIALLY_SHIPPED");
        let changed_since = time(&o["lastUpdatedTime"]).is_some_and(|u| u > data_time);
        let stale = changed_since && matches!(status, "SHIPPED" | "CANCELLED");
        if !(pending || stale) {
            continue;
        }
        let cell = |v: &Value| {
            v.as_str()
                .unwrap_or_default()
                .replace(['\t', '\n', '\r'], " ")
        };
        // Times as the order book has them, so the report's orders equal searchOrders' ones.
        let t = cell;
        let flag = |b: bool| if b { "true" } else { "false" }.to_owned();
        let programs = |p: &str| {
            o["programs"]
                .as_array()
                .is_some_and(|ps| ps.iter().any(|x| x == p))
        };
        let address = &o["recipient"]["deliveryAddress"];
        let pref = &o["recipient"]["deliveryPreference"];
        let instructions = [
            cell(&pref["dropOffLocation"]),
            cell(&pref["addressInstruction"]),
        ]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
        let fulfillment = &o["fulfillment"];
        let promise = time(&fulfillment["shipByWindow"]["latestDateTime"]);
        let late_days = promise
            .map(|p| (data_time - p).num_days().max(0))
            .unwrap_or(0);
        let items = o["orderItems"].as_array().cloned().unwrap_or_default();
        let cancel_requested = items
            .iter()
            .any(|i| i["cancellation"]["cancellationRequest"]["requester"] == "BUYER");
        for item in &items {
            let ordered = item["quantityOrdered"].as_u64().unwrap_or(1);
            let shipped = if pending {
                item["fulfillment"]["quantityFulfilled"]
                    .as_u64()
                    .unwrap_or(0)
            } else {
                0
            };
            let fields = [
                cell(&o["orderId"]),
                cell(&item["orderItemId"]),
                t(&o["createdTime"]),
                t(&o["createdTime"]),
                stamp(data_time),
                t(&fulfillment["shipByWindow"]["latestDateTime"]),
                late_days.to_string(),
                TRAINING_BUYER_EMAIL.into(),
                TRAINING_BUYER_NAME.into(),
                TRAINING_BUYER_PHONE.into(),
                cell(&item["product"]["sellerSku"]),
                cell(&item["product"]["title"]),
                ordered.to_string(),
                shipped.to_string(),
                ordered.saturating_sub(shipped).to_string(),
                report_level(
                    fulfillment["fulfillmentServiceLevel"]
                        .as_str()
                        .unwrap_or("STANDARD"),
                ),
                cell(&address["name"]),
                cell(&address["addressLine1"]),
                cell(&address["addressLine2"]),
                cell(&address["addressLine3"]),
                cell(&address["city"]),
                cell(&address["stateOrRegion"]),
                cell(&address["postalCode"]),
                cell(&address["countryCode"]),
                cell(&address["phone"]),
                t(&fulfillment["deliverByWindow"]["earliestDateTime"]),
                t(&fulfillment["deliverByWindow"]["latestDateTime"]),
                String::new(),
                instructions.clone(),
                "Amazon.com".into(),
                flag(programs("AMAZON_BUSINESS")),
                String::new(),
                String::new(),
                flag(programs("PRIME")),
                flag(cancel_requested),
                if cancel_requested {
                    "Order created by mistake".into()
                } else {
                    String::new()
                },
            ];
            out.push(fields.join("\t"));
        }
    }
    out
}

/// createReport of the actionable-orders report: its rows as of its data time (now less the
/// lag), ready after its processing time (sped up with the quotas).
fn create_actionable(market: &mut Market, spec: Value) -> (Response, Vec<(&'static str, String)>) {
    let now = Utc::now();
    let data_time = now - ACTIONABLE_LAG;
    let found = actionable_rows(market, data_time);
    let processing = ACTIONABLE_PROCESSING.as_secs_f64() / market.cfg.quota_scale.max(1e-9);
    let ready = now + Duration::milliseconds((processing * 1000.0).min(86_400_000.0) as i64);
    let book = &mut market.reports;
    book.next += 1;
    let id = format!("{}", 50_000_000_000u64 + book.next);
    let document = tsv(&ACTIONABLE_COLUMNS, &found);
    book.reports.insert(
        id.clone(),
        Entry {
            spec,
            created: now,
            ready,
            data_end: Some(data_time),
            restricted: true,
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
}
