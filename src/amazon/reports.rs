//! Reports API 2021-06-30 (`reports_2021-06-30.json`) for the merchant returns report,
//! `GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE`: Amazon has no returns API for merchant-fulfilled
//! orders, so returns come in as a report (createReport, then getReport until it is DONE, then
//! getReportDocument and the document itself), within the Reports quotas: createReport and
//! getReportDocument one a minute (burst 15), getReport 2 a second (burst 15). A report with no
//! data comes back CANCELLED: that is "no returns", not an error.
//!
//! The same calls bring the actionable-orders report (`GET_FLAT_FILE_ACTIONABLE_ORDER_DATA_SHIPPING`,
//! read by `actionable`), a restricted report: its document is asked for with a Restricted Data
//! Token of its own.
//!
//! The document is tab-separated, one row per returned item. Only the columns the floor needs
//! are read (order, RMA id, SKU, ASIN, quantity, reason, request date and status, the return
//! label's carrier and tracking); every other column (item names, amounts, and in some variants
//! the buyer's name or address) is never read, so it is never kept. No error quotes a value.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::Deserialize;

use super::client::{ApiError, SpApi, check_url};
use super::endpoints::{self, Endpoint, Request};
use super::model::ParseError;
use crate::domain::OrderId;
use crate::domain::returns::{ExpectedLine, ExpectedReturn, ReturnKey};
use crate::domain::text::{bounded, escape_hazards};

pub use packline_spapi::reports::{
    ACTIONABLE_REPORT, CREATE_REPORT, GET_REPORT, GET_REPORT_DOCUMENT, MAX_REPORT_DAYS,
    RETURNS_REPORT,
};
/// The largest report document read (a year of a busy seller's returns is far smaller).
const MAX_DOCUMENT_BYTES: usize = 64 << 20;

/// The longest a kept text field of the report may be; longer ones are cut, marked `…`.
const MAX_FIELD: usize = 120;

/// The columns read, by their normalised names (letters and digits, lower case: `Order ID`,
/// `order-id` and `ORDER_ID` are one column).
const ORDER: &str = "orderid";
const RMA: &str = "amazonrmaid";
const SKU: &str = "merchantsku";
const ASIN: &str = "asin";
const QUANTITY: &str = "returnquantity";
const REASON: &str = "returnreason";
const REQUESTED: &str = "returnrequestdate";
const STATUS: &str = "returnrequeststatus";
const CARRIER: &str = "returncarrier";
const TRACKING: &str = "trackingid";

/// The columns a returns report must have, as Amazon names them.
const REQUIRED: [(&str, &str); 4] = [
    (ORDER, "Order ID"),
    (SKU, "Merchant SKU"),
    (QUANTITY, "Return quantity"),
    (REQUESTED, "Return request date"),
];

pub(super) fn normalise(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// A day as the report writes it: ISO 8601 (`2026-11-20`, or a date-time starting so),
/// `20-Nov-2026`, or `11/20/2026`.
pub(super) fn parse_day(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    if let Some(head) = s.get(..10)
        && let Ok(d) = NaiveDate::parse_from_str(head, "%Y-%m-%d")
    {
        return Some(d);
    }
    let head = s.split([' ', 'T']).next().unwrap_or_default();
    NaiveDate::parse_from_str(head, "%d-%b-%Y")
        .or_else(|_| NaiveDate::parse_from_str(head, "%m/%d/%Y"))
        .ok()
}

/// A text field as kept: hazards escaped, cut to a bound; none when empty or a placeholder.
fn kept(s: &str) -> Option<String> {
    let s = s.trim();
    if s.is_empty() || ["n/a", "na", "null", "none", "-"].contains(&s.to_ascii_lowercase().as_str())
    {
        return None;
    }
    Some(bounded(escape_hazards(s), MAX_FIELD))
}

/// Parses a returns report document (tab-separated, a header row first) into the returns it
/// lists, refusing the whole document for one row it cannot read, the rows of one RMA id together; a returnless refund (no RMA id) is keyed by order,
/// SKU and return request date. `source_name` (a file name, or the operation) and the line
/// number go into every error; no error quotes a value. An empty document lists no returns.
pub fn parse_returns_report(
    bytes: &[u8],
    source_name: &str,
) -> Result<Vec<ExpectedReturn>, ParseError> {
    let report = parse_returns_rows(bytes, source_name)?;
    match report.refused.into_iter().next() {
        Some(e) => Err(e),
        None => Ok(report.returns),
    }
}

/// A returns report as read: the returns of the rows that read, and each row refused (its line,
/// column and why, never a value), of which nothing is kept.
#[derive(Debug)]
pub struct ReturnsReport {
    pub returns: Vec<ExpectedReturn>,
    pub refused: Vec<ParseError>,
}

/// A tab-separated report's header row: its columns' names (normalised), checked to name no
/// column twice (a row's fields would be read under the wrong names) and every required one;
/// a row's fields are read by name, and only those named.
pub(crate) struct Columns(Vec<String>);

/// A report's rows after its header.
pub(crate) type Rows<'a> = csv::ByteRecordsIntoIter<&'a [u8]>;

impl Columns {
    /// The header of `bytes` (a byte-order mark before it is not part of the first name) and
    /// the rows after it; none for an empty document. `report` names the report in messages.
    pub(crate) fn read<'a>(
        bytes: &'a [u8],
        required: &[(&str, &str)],
        report: &str,
        invalid: &dyn Fn(String, String) -> ParseError,
    ) -> Result<Option<(Columns, Rows<'a>)>, ParseError> {
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let mut records = csv::ReaderBuilder::new()
            .delimiter(b'\t')
            .quoting(false)
            .flexible(true)
            .has_headers(false)
            .from_reader(bytes)
            .into_byte_records();
        let header = match records.next() {
            None => return Ok(None),
            Some(Ok(h)) => h,
            Some(Err(e)) => {
                return Err(invalid(
                    "line 1".into(),
                    format!("the header cannot be read: {}", csv_detail(&e)),
                ));
            }
        };
        let columns: Vec<String> = header
            .iter()
            .map(|c| normalise(&String::from_utf8_lossy(c)))
            .collect();
        for (i, c) in columns.iter().enumerate() {
            if !c.is_empty() && columns[..i].contains(c) {
                return Err(invalid(
                    "line 1".into(),
                    format!("the column {c:?} is named twice: the header is damaged"),
                ));
            }
        }
        let columns = Columns(columns);
        for (name, shown) in required {
            if columns.position(name).is_none() {
                return Err(invalid(
                    "line 1".into(),
                    format!(
                        "no {shown:?} column: this is not a {report} report (tab-separated, with its header row)"
                    ),
                ));
            }
        }
        Ok(Some((columns, records)))
    }

    fn position(&self, name: &str) -> Option<usize> {
        self.0.iter().position(|c| c == name)
    }

    /// How many columns the header names.
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// The field of `row` under `name`, trimmed (empty when the row has none).
    pub(crate) fn at(&self, row: &csv::ByteRecord, name: &str) -> String {
        self.position(name)
            .and_then(|i| row.get(i))
            .map(|v| String::from_utf8_lossy(v).trim().to_owned())
            .unwrap_or_default()
    }
}

/// Parses a returns report as [`parse_returns_report`] does, except that a row packline refuses
/// is that row's alone: it is named in [`ReturnsReport::refused`] and the other rows are read.
/// A document that is not a returns report (no header, a column missing or named twice) is
/// still an error.
pub fn parse_returns_rows(bytes: &[u8], source_name: &str) -> Result<ReturnsReport, ParseError> {
    let invalid = |path: String, detail: String| ParseError::Invalid {
        source_name: source_name.to_owned(),
        path,
        detail,
    };
    let Some((columns, records)) = Columns::read(bytes, &REQUIRED, RETURNS_REPORT, &invalid)?
    else {
        return Ok(ReturnsReport {
            returns: Vec::new(),
            refused: Vec::new(),
        });
    };
    let at = |row: &csv::ByteRecord, name: &str| columns.at(row, name);
    let header = &columns;
    let mut returns: BTreeMap<ReturnKey, ExpectedReturn> = BTreeMap::new();
    let mut refused = Vec::new();
    for (n, row) in records.enumerate() {
        let line = n + 2;
        // A row refused is that row's alone: named (line, column, why), the others read.
        let read = || -> Result<(), ParseError> {
            let row = row.map_err(|e| invalid(format!("line {line}"), csv_detail(&e)))?;
            if row.iter().all(|f| f.iter().all(u8::is_ascii_whitespace)) {
                return Ok(());
            }
            // A row of another width than the header has its fields under the wrong names (a
            // buyer's column read as a kept one): refused.
            if row.len() != header.len() {
                return Err(invalid(
                    format!("line {line}"),
                    format!(
                        "{} fields where the header has {}: the row is broken",
                        row.len(),
                        header.len()
                    ),
                ));
            }
            let field = |shown: &str| format!("line {line}, column {shown:?}");
            // A field with a control character is a row broken apart (a tab read as something
            // else would move a buyer's column into a kept one): the file is refused, never kept.
            for (name, shown) in [
                (ORDER, "Order ID"),
                (SKU, "Merchant SKU"),
                (RMA, "Amazon RMA ID"),
                (STATUS, "Return request status"),
                (CARRIER, "Return carrier"),
                (TRACKING, "Tracking ID"),
                (ASIN, "ASIN"),
                (REASON, "Return Reason"),
            ] {
                if at(&row, name).chars().any(char::is_control) {
                    return Err(invalid(
                        field(shown),
                        "holds a control character: the row is broken".into(),
                    ));
                }
            }
            let reason = at(&row, REASON);
            if !reason.is_empty()
                && (reason.len() > 64
                    || !reason
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            {
                return Err(invalid(
                    field("Return Reason"),
                    "is not one of Amazon's return reason codes (letters, digits, - and _)".into(),
                ));
            }
            // Typed fields are checked for their type: a row whose fields moved under other names
            // (a broken export) is refused rather than read with a buyer's value as a SKU.
            let asin = at(&row, ASIN);
            if !asin.is_empty()
                && (asin.len() != 10
                    || !asin
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()))
            {
                return Err(invalid(
                    field("ASIN"),
                    "is not an ASIN (10 capital letters and digits): the row is broken".into(),
                ));
            }
            let order = OrderId::parse(&at(&row, ORDER))
                .map_err(|e| invalid(field("Order ID"), e.to_string()))?;
            let sku = kept(&at(&row, SKU))
                .ok_or_else(|| invalid(field("Merchant SKU"), "is empty".into()))?;
            let quantity: u32 = at(&row, QUANTITY)
                .parse()
                .ok()
                .filter(|q| *q >= 1)
                .ok_or_else(|| {
                    invalid(
                        field("Return quantity"),
                        "is not a whole number of at least 1".into(),
                    )
                })?;
            let requested = parse_day(&at(&row, REQUESTED)).ok_or_else(|| {
                invalid(
                    field("Return request date"),
                    "is not a date (2026-11-20, 20-Nov-2026 or 11/20/2026)".into(),
                )
            })?;
            let rma = kept(&at(&row, RMA));
            let key = match &rma {
                Some(rma) => ReturnKey::Rma { rma: rma.clone() },
                None => ReturnKey::Returnless {
                    order: order.clone(),
                    sku: sku.clone(),
                    requested,
                },
            };
            let r = returns
                .entry(key.clone())
                .or_insert_with(|| ExpectedReturn {
                    key,
                    order,
                    rma,
                    requested,
                    status: kept(&at(&row, STATUS)),
                    carrier: kept(&at(&row, CARRIER)),
                    tracking: kept(&at(&row, TRACKING)).map(|t| t.replace(' ', "")),
                    lines: Vec::new(),
                });
            match r.lines.iter_mut().find(|l| l.sku == sku) {
                Some(l) => l.quantity = l.quantity.saturating_add(quantity),
                None => r.lines.push(ExpectedLine {
                    sku,
                    asin: kept(&at(&row, ASIN)),
                    quantity,
                    reason: kept(&at(&row, REASON)),
                }),
            }
            Ok(())
        };
        if let Err(e) = read() {
            refused.push(e);
        }
    }
    Ok(ReturnsReport {
        returns: returns.into_values().collect(),
        refused,
    })
}

pub(super) fn csv_detail(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Io(_) => "the file cannot be read".into(),
        _ => "the row cannot be read as tab-separated fields".into(),
    }
}

/// The createReport body for `report_type` over `[start, end]`.
pub fn create_report_body(
    report_type: &str,
    marketplace_ids: &[String],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "reportType": report_type,
        "marketplaceIds": marketplace_ids,
        "dataStartTime": start.to_rfc3339_opts(SecondsFormat::Secs, true),
        "dataEndTime": end.to_rfc3339_opts(SecondsFormat::Secs, true),
    }))
    .expect("a report specification serializes")
}

/// The createReport body of the actionable-orders report: no data times (the report is of
/// the orders pending now, as of its data time).
pub fn actionable_report_body(marketplace_ids: &[String]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "reportType": ACTIONABLE_REPORT,
        "marketplaceIds": marketplace_ids,
    }))
    .expect("a report specification serializes")
}

/// Where a report stands, as getReport says.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub report_id: String,
    pub processing_status: String,
    #[serde(default)]
    pub report_document_id: Option<String>,
    /// The end of the data the report covers (for an order report, Amazon's data may lag it).
    #[serde(default)]
    pub data_end_time: Option<DateTime<Utc>>,
}

/// A report's document as downloaded, with the report as getReport last described it.
pub struct ReportBytes {
    pub report: Report,
    pub bytes: Vec<u8>,
}

/// Where a report's document is (a presigned URL, valid 5 minutes) and how it is compressed.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportDocument {
    pub report_document_id: String,
    pub url: String,
    #[serde(default)]
    pub compression_algorithm: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateReportResponse {
    report_id: String,
}

fn json<T: serde::de::DeserializeOwned>(
    operation: &'static str,
) -> impl Fn(&[u8]) -> Result<T, ParseError> {
    move |bytes| {
        serde_json::from_slice(bytes).map_err(|e| ParseError::Invalid {
            source_name: operation.to_owned(),
            path: ".".into(),
            detail: super::model::redacted_serde_message(&e),
        })
    }
}

/// How long to wait before the n-th getReport of a report (0-based): 1 s, doubling, at most a
/// minute; getReport allows 2 a second, so this keeps far under it.
fn poll_wait(n: u32) -> Duration {
    Duration::from_secs(1u64 << n.min(6)).min(Duration::from_secs(60))
}

/// How long a report may take before the sync gives up on it (the next sync asks again).
const REPORT_DEADLINE: Duration = Duration::from_secs(30 * 60);

impl SpApi {
    /// `createReport`: asks for a report; answers its id. Asking twice makes two reports, which
    /// is harmless: retried like a read.
    pub async fn create_report(&self, body: &[u8]) -> Result<String, ApiError> {
        let r: CreateReportResponse = self
            .call(
                &endpoints::CREATE_REPORT,
                Request::body(body),
                json(CREATE_REPORT),
            )
            .await?;
        Ok(r.report_id)
    }

    /// `getReport`.
    pub async fn get_report(&self, report_id: &str) -> Result<Report, ApiError> {
        self.call(
            &endpoints::GET_REPORT,
            Request::at(&[report_id]),
            json(GET_REPORT),
        )
        .await
    }

    /// `getReportDocument`.
    pub async fn get_report_document(&self, document_id: &str) -> Result<ReportDocument, ApiError> {
        self.get_report_document_as(document_id, &endpoints::GET_REPORT_DOCUMENT)
            .await
    }

    /// `getReportDocument` of a restricted report: with a Restricted Data Token for this
    /// document alone.
    pub async fn get_restricted_report_document(
        &self,
        document_id: &str,
    ) -> Result<ReportDocument, ApiError> {
        self.get_report_document_as(document_id, &endpoints::GET_RESTRICTED_REPORT_DOCUMENT)
            .await
    }

    async fn get_report_document_as(
        &self,
        document_id: &str,
        endpoint: &Endpoint,
    ) -> Result<ReportDocument, ApiError> {
        self.call(
            endpoint,
            Request::at(&[document_id]),
            json(GET_REPORT_DOCUMENT),
        )
        .await
    }

    /// The document's bytes, from its presigned URL (no SP-API token goes there), unzipped when
    /// Amazon compressed it.
    pub async fn download_report(&self, doc: &ReportDocument) -> Result<Vec<u8>, ApiError> {
        const OP: &str = "reportDocument";
        let url = check_url("the report document", &doc.url)?;
        let host = url.host_str().unwrap_or_default().to_owned();
        let mut last = String::new();
        for attempt in 0..3u32 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_secs(1 << attempt)).await;
            }
            let resp = match self.http().get(url.clone()).send().await {
                Ok(r) => r,
                Err(e) => {
                    last = super::client::transport_detail(&e);
                    continue;
                }
            };
            let status = resp.status();
            if !status.is_success() {
                last = format!("answered {}", status.as_u16());
                if status.is_server_error() {
                    continue;
                }
                break;
            }
            if resp
                .content_length()
                .is_some_and(|n| n > MAX_DOCUMENT_BYTES as u64)
            {
                return Err(ApiError::Request {
                    operation: OP,
                    detail: format!("the document is larger than {MAX_DOCUMENT_BYTES} bytes"),
                });
            }
            let bytes = match resp.bytes().await {
                Ok(b) => b.to_vec(),
                Err(e) => {
                    last = super::client::transport_detail(&e);
                    continue;
                }
            };
            return match doc.compression_algorithm.as_deref() {
                None => Ok(bytes),
                Some("GZIP") => gunzip(&bytes).ok_or_else(|| ApiError::Request {
                    operation: OP,
                    detail: "the GZIP document cannot be unzipped".into(),
                }),
                Some(_) => Err(ApiError::Request {
                    operation: OP,
                    detail: "the document's compression is not GZIP".into(),
                }),
            };
        }
        Err(ApiError::Transport {
            operation: OP,
            host,
            detail: last,
        })
    }

    /// One returns report over `[start, end]` (at most [`MAX_REPORT_DAYS`]): its document's
    /// bytes, or `None` when Amazon cancelled it (no returns in the window).
    pub async fn returns_report(
        &self,
        marketplace_ids: &[String],
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Option<Vec<u8>>, ApiError> {
        let body = create_report_body(RETURNS_REPORT, marketplace_ids, start, end);
        Ok(self
            .report("returns report", &body, false)
            .await?
            .map(|r| r.bytes))
    }

    /// The actionable-orders report ([`ACTIONABLE_REPORT`]): every merchant-fulfilled order not
    /// yet shipped, as of the report's data time (which lags). `None` when Amazon cancelled it
    /// (no such orders). Its document is restricted, so it is asked for with an RDT.
    pub async fn actionable_report(
        &self,
        marketplace_ids: &[String],
    ) -> Result<Option<ReportBytes>, ApiError> {
        let body = actionable_report_body(marketplace_ids);
        self.report("actionable-orders report", &body, true).await
    }

    /// createReport with `body`, getReport until it is done, then its document (with an RDT of
    /// its own when `restricted`); `None` when Amazon cancelled it (no data). `what` names the
    /// report in errors.
    async fn report(
        &self,
        what: &str,
        body: &[u8],
        restricted: bool,
    ) -> Result<Option<ReportBytes>, ApiError> {
        let id = self.create_report(body).await?;
        let began = tokio::time::Instant::now();
        let mut n = 0;
        loop {
            tokio::time::sleep(poll_wait(n)).await;
            n += 1;
            let report = self.get_report(&id).await?;
            match report.processing_status.as_str() {
                "DONE" => {
                    let Some(doc) = report.report_document_id.clone() else {
                        return Err(ApiError::Request {
                            operation: GET_REPORT,
                            detail: format!("report {id} is DONE but names no document"),
                        });
                    };
                    let doc = if restricted {
                        self.get_restricted_report_document(&doc).await?
                    } else {
                        self.get_report_document(&doc).await?
                    };
                    let bytes = self.download_report(&doc).await?;
                    return Ok(Some(ReportBytes { report, bytes }));
                }
                "CANCELLED" => return Ok(None),
                "FATAL" => {
                    return Err(ApiError::Request {
                        operation: GET_REPORT,
                        detail: format!(
                            "Amazon could not make {what} {id} (FATAL); the next sync asks again"
                        ),
                    });
                }
                _ if began.elapsed() > REPORT_DEADLINE => {
                    return Err(ApiError::Request {
                        operation: GET_REPORT,
                        detail: format!(
                            "{what} {id} is still {} after {} minutes; the next sync asks again",
                            escape_hazards(&report.processing_status),
                            REPORT_DEADLINE.as_secs() / 60
                        ),
                    });
                }
                _ => {}
            }
        }
    }
}

fn gunzip(bytes: &[u8]) -> Option<Vec<u8>> {
    use std::io::Read as _;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .take(MAX_DOCUMENT_BYTES as u64 + 1)
        .read_to_end(&mut out)
        .ok()?;
    (out.len() <= MAX_DOCUMENT_BYTES).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "Order ID\tOrder date\tReturn request date\tReturn request status\tAmazon RMA ID\tMerchant RMA ID\tLabel type\tLabel cost\tCurrency code\tReturn carrier\tTracking ID\tLabel to be paid by\tA-to-Z Claim\tIs prime\tASIN\tMerchant SKU\tItem Name\tReturn quantity\tReturn Reason\tIn policy\tReturn type\tResolution\tInvoice number\tReturn delivery date\tOrder Amount\tOrder quantity\tSafeT Action reason\tSafeT claim id\tSafeT claim state\tSafeT claim creation time\tSafeT claim reimbursement amount\tRefunded Amount\tBuyer Name";

    fn row(order: &str, rma: &str, sku: &str, qty: &str, date: &str) -> String {
        format!(
            "{order}\t2026-11-01\t{date}\tApproved\t{rma}\t\tAmazonPrepaidLabel\t5.00\tUSD\tUPS\t1Z 999AA1 0123456784\tSeller\tN\tY\tB000000001\t{sku}\tA widget\t{qty}\tCR-DEFECTIVE\tY\tC-Returns\tStandardRefund\t\t\t19.99\t1\t\t\t\t\t\t19.99\tJane Q. Buyer"
        )
    }

    /// A row whose fields moved under other names (a buyer's name where the SKU goes) shows in
    /// its typed fields: refused, naming where, quoting nothing.
    #[test]
    fn a_row_with_fields_under_other_names_is_refused() {
        let text = "Order ID\tReturn request date\tAmazon RMA ID\tASIN\tMerchant SKU\tReturn quantity\tBuyer Name\n\
                    903-0000001-0000001\t2026-11-26\tRMA1\tCR-DEFECTIVE\tAnn Q. Returner\t1\tB0HOSTILE1\n";
        let err = parse_returns_report(text.as_bytes(), "r.tsv")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2, column \"ASIN\""), "{err}");
        assert!(err.contains("is not an ASIN"), "{err}");
        assert!(
            !err.contains("Ann") && !err.contains("CR-DEFECTIVE"),
            "{err}"
        );
    }

    #[test]
    fn rows_of_one_rma_are_one_return_and_a_returnless_refund_is_keyed_by_order_sku_and_day() {
        let doc = [
            HEADER.to_owned(),
            row(
                "111-0000001-0000001",
                "DRMA1",
                "SKU-1",
                "1",
                "2026-11-20T08:00:00+00:00",
            ),
            row("111-0000001-0000001", "DRMA1", "SKU-2", "2", "2026-11-20"),
            row("111-0000001-0000002", "", "SKU-3", "1", "21-Nov-2026"),
            String::new(),
        ]
        .join("\n");
        let r = parse_returns_report(doc.as_bytes(), "r.tsv").unwrap();
        assert_eq!(r.len(), 2);
        let rma = &r[0];
        assert_eq!(
            rma.key,
            ReturnKey::Rma {
                rma: "DRMA1".into()
            }
        );
        assert_eq!(rma.tracking.as_deref(), Some("1Z999AA10123456784"));
        assert_eq!(rma.carrier.as_deref(), Some("UPS"));
        assert_eq!(rma.status.as_deref(), Some("Approved"));
        assert_eq!(
            rma.lines
                .iter()
                .map(|l| (l.sku.as_str(), l.quantity, l.reason.as_deref()))
                .collect::<Vec<_>>(),
            [
                ("SKU-1", 1, Some("CR-DEFECTIVE")),
                ("SKU-2", 2, Some("CR-DEFECTIVE"))
            ]
        );
        let refund = &r[1];
        assert!(refund.is_returnless());
        assert_eq!(
            refund.key,
            ReturnKey::Returnless {
                order: OrderId::parse("111-0000001-0000002").unwrap(),
                sku: "SKU-3".into(),
                requested: NaiveDate::from_ymd_opt(2026, 11, 21).unwrap(),
            }
        );
        // Nothing of the buyer is kept.
        assert!(!format!("{r:?}").contains("Jane"));
        assert!(parse_returns_report(b"", "r.tsv").unwrap().is_empty());
        assert!(
            parse_returns_report(HEADER.as_bytes(), "r.tsv")
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn a_bad_row_is_refused_naming_the_line_and_column_never_the_value() {
        let bad = |r: String| {
            parse_returns_report(format!("{HEADER}\n{r}\n").as_bytes(), "r.tsv")
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            bad(row(
                "111-0000001-0000001",
                "D1",
                "SKU-1",
                "two",
                "2026-11-20"
            )),
            "r.tsv: line 2, column \"Return quantity\": is not a whole number of at least 1"
        );
        assert_eq!(
            bad(row("Jane's order", "D1", "SKU-1", "1", "2026-11-20")),
            "r.tsv: line 2, column \"Order ID\": order id may hold only ASCII letters, digits, '-' and '_' (found U+0027)"
        );
        assert_eq!(
            bad(row("111-0000001-0000001", "D1", "SKU-1", "1", "soon")),
            "r.tsv: line 2, column \"Return request date\": is not a date (2026-11-20, 20-Nov-2026 or 11/20/2026)"
        );
        assert_eq!(
            parse_returns_report(b"{\"orders\": []}", "orders.json")
                .unwrap_err()
                .to_string(),
            "orders.json: line 1: no \"Order ID\" column: this is not a GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE report (tab-separated, with its header row)"
        );
        // A control character in a field: a broken row, refused (naming where, not what).
        let mut odd = format!("{HEADER}\n").into_bytes();
        odd.extend_from_slice(
            row(
                "111-0000001-0000001",
                "D\u{1b}[2J",
                "SKU-1",
                "1",
                "2026-11-20",
            )
            .as_bytes(),
        );
        odd.extend_from_slice(b"\xff\xfe\n");
        assert_eq!(
            parse_returns_report(&odd, "r.tsv").unwrap_err().to_string(),
            "r.tsv: line 2, column \"Amazon RMA ID\": holds a control character: the row is broken"
        );
        // Not UTF-8 after the rows: read lossily, never a panic.
        let mut lossy = format!("{HEADER}\n").into_bytes();
        lossy.extend_from_slice(
            row("111-0000001-0000001", "DRMA9", "SKU-1", "1", "2026-11-20").as_bytes(),
        );
        lossy.extend_from_slice(b"\xff\xfe\n");
        assert!(parse_returns_report(&lossy, "r.tsv").is_ok());
    }

    #[test]
    fn a_gzip_document_unzips() {
        use std::io::Write as _;
        let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(b"Order ID\n").unwrap();
        assert_eq!(gunzip(&z.finish().unwrap()).unwrap(), b"Order ID\n");
        assert_eq!(gunzip(b"not gzip"), None);
    }
}
