//! The subset of the Orders API v2026-01-01 models packline reads (`SearchOrdersResponse`,
//! `Order`, `OrderItem`, `Recipient`, `OrderFulfillment`), and their conversion into domain types
//! (`domain::ImportedOrder`, which the import decision takes). The wire spellings stay here.
//!
//! Data minimisation happens here, by construction: `buyer`, `payment`, `proceeds`, `tax` and the
//! other fields packline does not need have no field to land in, so serde skips them unread into
//! any value. Parse errors never quote a value from the input (it may be personal data): they name
//! the JSON path, line and column.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::domain::text::bounded;
use crate::domain::{
    GiftMessage, Order, OrderId, OrderLine, Recipient, ServiceLevel, UnitCodes, Window,
};

/// One page of a `searchOrders` response (`{"orders": [...], "pagination": {...}}`).
#[derive(Debug)]
pub struct SearchOrdersPage {
    pub orders: Vec<ImportedOrder>,
    /// Orders of the page packline refuses (named, with why): set aside, the others imported.
    pub refused: Vec<SetAside>,
    pub next_token: Option<String>,
    pub last_updated_before: Option<DateTime<Utc>>,
}

/// The order as it arrived, and its status: the import decision's input, so the domain's.
pub use crate::domain::import::{FulfillmentStatus, ImportedOrder, SetAside};

/// `FulfillmentStatus` as the model spells it.
#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum RawFulfillmentStatus {
    PendingAvailability,
    Pending,
    Unshipped,
    PartiallyShipped,
    Shipped,
    Cancelled,
    Unfulfillable,
    #[serde(other)]
    Unknown,
}

impl From<RawFulfillmentStatus> for FulfillmentStatus {
    fn from(s: RawFulfillmentStatus) -> Self {
        use RawFulfillmentStatus as R;
        match s {
            R::PendingAvailability => Self::PendingAvailability,
            R::Pending => Self::Pending,
            R::Unshipped => Self::Unshipped,
            R::PartiallyShipped => Self::PartiallyShipped,
            R::Shipped => Self::Shipped,
            R::Cancelled => Self::Cancelled,
            R::Unfulfillable => Self::Unfulfillable,
            R::Unknown => Self::Unknown,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("{source_name}: not a searchOrders response: {detail}")]
    Json { source_name: String, detail: String },
    #[error("{source_name}: {path}: {detail}")]
    Invalid {
        source_name: String,
        path: String,
        detail: String,
    },
}

/// Parses one `searchOrders` response page. `source_name` (a file name, or an operation) goes into
/// every error message. A page that is not a searchOrders response is an error; an order in it
/// that packline refuses (a field of the wrong type, a SKU with a control character) is only
/// that order's: it is named in [`SearchOrdersPage::refused`] and the others are read.
pub fn parse_search_orders(
    bytes: &[u8],
    source_name: &str,
) -> Result<SearchOrdersPage, ParseError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let raw: RawResponse<'_> = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let detail = redacted_serde_message(&inner);
        let detail = if path.is_empty() || path == "." {
            detail
        } else {
            format!("at {path}: {detail}")
        };
        ParseError::Json {
            source_name: source_name.to_owned(),
            detail,
        }
    })?;
    let mut orders = Vec::with_capacity(raw.orders.len());
    let mut refused = Vec::new();
    for (i, o) in raw.orders.into_iter().enumerate() {
        match read_order(o, i, bytes) {
            Ok(o) => orders.push(o),
            Err(r) => refused.push(r),
        }
    }
    Ok(SearchOrdersPage {
        orders,
        refused,
        next_token: raw.pagination.and_then(|p| p.next_token),
        last_updated_before: raw.last_updated_before,
    })
}

/// One order of a page, read on its own: refused (named by its id when that reads, else by its
/// place, with where and why, never a value) when packline cannot take it.
fn read_order(raw: &RawValue, i: usize, page: &[u8]) -> Result<ImportedOrder, SetAside> {
    let text = raw.get();
    let named = |reason: String| {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct IdOnly {
            order_id: String,
        }
        let order = serde_json::from_str::<IdOnly>(text)
            .ok()
            .and_then(|o| OrderId::parse(&o.order_id).ok())
            .map_or_else(|| format!("orders[{i}]"), |id| id.to_string());
        SetAside { order, reason }
    };
    let de = &mut serde_json::Deserializer::from_str(text);
    let o: RawOrder = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let at = if path.is_empty() || path == "." {
            format!("orders[{i}]")
        } else {
            format!("orders[{i}].{path}")
        };
        // The position within the page, not within the order's own text.
        let start = (text.as_ptr() as usize)
            .checked_sub(page.as_ptr() as usize)
            .filter(|s| *s <= page.len())
            .unwrap_or(0);
        let before = &page[..start];
        let line0 = before.iter().filter(|b| **b == b'\n').count();
        let col0 = before.iter().rev().take_while(|b| **b != b'\n').count();
        let inner = e.into_inner();
        let (line, column) = if inner.line() <= 1 {
            (line0 + 1, col0 + inner.column())
        } else {
            (line0 + inner.line(), inner.column())
        };
        let detail = redacted_serde_message(&inner);
        let detail = detail
            .rfind(" at line ")
            .map_or(detail.as_str(), |k| &detail[..k])
            .to_owned();
        named(format!("{at}: {detail} at line {line} column {column}"))
    })?;
    convert(o, i).map_err(|(path, detail)| named(format!("{path}: {detail}")))
}

/// Parses a `getOrder` (v2026-01-01) response: `{"order": {...}}`.
pub fn parse_get_order(bytes: &[u8], source_name: &str) -> Result<ImportedOrder, ParseError> {
    #[derive(Deserialize)]
    struct RawGetOrder {
        order: RawOrder,
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let raw: RawGetOrder = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let detail = redacted_serde_message(&e.into_inner());
        ParseError::Json {
            source_name: source_name.to_owned(),
            detail: format!("at {path}: {detail}"),
        }
    })?;
    convert(raw.order, 0).map_err(|(path, detail)| ParseError::Invalid {
        source_name: source_name.to_owned(),
        path: path.replacen("orders[0].", "order.", 1),
        detail,
    })
}

/// Parses a `getOrder` (v2026-01-01) response as a sync's retry of a set-aside order reads it:
/// an answer that is not a getOrder response is an error (to retry); an order packline still
/// refuses is named, with why, as a page's would be.
pub fn parse_get_order_checked(
    bytes: &[u8],
    source_name: &str,
) -> Result<Result<ImportedOrder, SetAside>, ParseError> {
    #[derive(Deserialize)]
    struct RawGetOrder<'a> {
        #[serde(borrow)]
        order: &'a RawValue,
    }
    let raw: RawGetOrder<'_> = serde_json::from_slice(bytes).map_err(|e| ParseError::Json {
        source_name: source_name.to_owned(),
        detail: redacted_serde_message(&e),
    })?;
    Ok(read_order(raw.order, 0, bytes).map_err(|mut r| {
        r.reason = r.reason.replacen("orders[0]", "order", 1);
        if r.order == "orders[0]" {
            r.order = "order".into();
        }
        r
    }))
}

/// serde_json's message without any value it may have quoted from the input. Messages about
/// missing or repeated fields name only the field (from the model); syntax and end-of-input
/// messages quote no input; every other message is replaced, so no value is ever shown.
pub(crate) fn redacted_serde_message(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let position = format!(" at line {} column {}", e.line(), e.column());
    let msg = e.to_string();
    let text = msg.rfind(" at line ").map_or(msg.as_str(), |i| &msg[..i]);
    match e.classify() {
        Category::Data
            if text.starts_with("missing field") || text.starts_with("duplicate field") =>
        {
            format!("{text}{position}")
        }
        Category::Data => {
            format!("wrong type or value (not shown: it may be personal data){position}")
        }
        Category::Syntax | Category::Eof => format!("{text}{position}"),
        Category::Io => text.to_owned(),
    }
}

/// The longest a seller SKU may be (Amazon allows 40; more is a broken feed): longer is an
/// error, since a SKU must match its scan exactly.
pub(crate) const MAX_SKU: usize = 64;
/// Ids (order item ids, ASINs, marketplace ids): a few dozen characters at Amazon.
pub(crate) const MAX_ID: usize = 64;
/// Every other field is cut, marked with `…`, so that no single field can outgrow a page of the
/// queue: titles, each address field, delivery instructions and gift messages.
pub(crate) const MAX_TITLE: usize = 300;
pub(crate) const MAX_ADDRESS_FIELD: usize = 200;
pub(crate) const MAX_NOTE: usize = 500;
/// Lines of one order: with the fields bounded, this bounds an order, and so a page of them.
pub(crate) const MAX_LINES: usize = 1000;

fn convert(o: RawOrder, i: usize) -> Result<ImportedOrder, (String, String)> {
    let at = |field: &str| format!("orders[{i}].{field}");
    let id = OrderId::parse(&o.order_id).map_err(|e| (at("orderId"), e.to_string()))?;
    let fulfillment = o.fulfillment.unwrap_or_default();
    let status = fulfillment
        .fulfillment_status
        .map_or(FulfillmentStatus::Unknown, FulfillmentStatus::from);
    if o.order_items.len() > MAX_LINES {
        return Err((
            at("orderItems"),
            format!(
                "has {} lines; an order has at most {MAX_LINES}",
                o.order_items.len()
            ),
        ));
    }
    let mut lines = Vec::with_capacity(o.order_items.len());
    let mut gift_messages = Vec::new();
    let mut buyer_cancel_requested = false;
    for (j, item) in o.order_items.into_iter().enumerate() {
        let item_at = |field: &str| format!("orders[{i}].orderItems[{j}].{field}");
        if item.order_item_id.is_empty() {
            return Err((item_at("orderItemId"), "is empty".into()));
        }
        let product = item.product;
        let sku = product.seller_sku.unwrap_or_default();
        if sku.is_empty() {
            return Err((
                item_at("product.sellerSku"),
                "is missing: every line must name a seller SKU to be picked".into(),
            ));
        }
        if sku.chars().count() > MAX_SKU {
            return Err((
                item_at("product.sellerSku"),
                format!(
                    "is {} characters long; a seller SKU has at most {MAX_SKU}",
                    sku.chars().count()
                ),
            ));
        }
        if item.order_item_id.chars().count() > MAX_ID {
            return Err((
                item_at("orderItemId"),
                format!("is longer than {MAX_ID} characters"),
            ));
        }
        if sku.chars().any(char::is_control) {
            return Err((
                item_at("product.sellerSku"),
                "holds a control character; a SKU must be printable".into(),
            ));
        }
        // Only who asked is read: the buyer's reason is their own words, and not needed.
        buyer_cancel_requested |= item
            .cancellation
            .and_then(|c| c.cancellation_request)
            .and_then(|r| r.requester)
            .is_some_and(|r| r == "BUYER");
        let fulfilled = item.fulfillment.unwrap_or_default();
        let packing = fulfilled.packing.unwrap_or_default();
        let unit_codes = UnitCodes {
            serial: packing
                .serial_number_requirement
                .and_then(|r| r.requirement_type)
                .is_some_and(|t| t == "REQUIRED"),
            transparency: item.programs.iter().any(|p| p == "TRANSPARENCY"),
        };
        let gift = packing.gift_option.unwrap_or_default();
        let gift_wrap = gift
            .gift_wrap_level
            .filter(|l| !l.is_empty())
            .map(|l| bounded(l, MAX_ID));
        if let Some(msg) = gift.gift_message.filter(|m| !m.is_empty()) {
            gift_messages.push(GiftMessage {
                item_id: item.order_item_id.clone(),
                message: bounded(msg, MAX_NOTE),
            });
        }
        lines.push(OrderLine {
            item_id: item.order_item_id,
            sku,
            asin: bounded(product.asin.unwrap_or_default(), MAX_ID),
            title: bounded(product.title.unwrap_or_default(), MAX_TITLE),
            quantity_ordered: item.quantity_ordered,
            quantity_shipped: fulfilled.quantity_fulfilled.unwrap_or(0),
            unit_codes,
            gift_wrap,
        });
    }
    let recipient = o.recipient.and_then(|r| {
        let pref = r.delivery_preference.unwrap_or_default();
        let instructions = match (pref.drop_off_location, pref.address_instruction) {
            (Some(a), Some(b)) if !a.is_empty() && !b.is_empty() => Some(format!("{a}; {b}")),
            (a, b) => a.filter(|s| !s.is_empty()).or(b.filter(|s| !s.is_empty())),
        }
        .map(|s| bounded(s, MAX_NOTE));
        let a = r.delivery_address?;
        let nonempty = |s: Option<String>| {
            s.filter(|v| !v.is_empty())
                .map(|v| bounded(v, MAX_ADDRESS_FIELD))
        };
        Some(Recipient {
            name: bounded(a.name.unwrap_or_default(), MAX_ADDRESS_FIELD),
            company: nonempty(a.company_name),
            address_line1: nonempty(a.address_line1),
            address_line2: nonempty(a.address_line2),
            address_line3: nonempty(a.address_line3),
            city: nonempty(a.city),
            district_or_county: nonempty(a.district_or_county),
            state_or_region: nonempty(a.state_or_region),
            postal_code: nonempty(a.postal_code),
            country_code: nonempty(a.country_code),
            phone: nonempty(a.phone),
            delivery_instructions: instructions,
            gift_messages: std::mem::take(&mut gift_messages),
        })
    });
    let has = |p: &str| o.programs.iter().any(|x| x == p);
    let window = |w: Option<RawWindow>| {
        let w = w.unwrap_or_default();
        Window {
            earliest: w.earliest_date_time,
            latest: w.latest_date_time,
        }
    };
    Ok(ImportedOrder {
        order: Order {
            id,
            marketplace_id: o.sales_channel.marketplace_id.map(|m| bounded(m, MAX_ID)),
            created: o.created_time,
            updated: o.last_updated_time,
            ship_by: window(fulfillment.ship_by_window),
            deliver_by: window(fulfillment.deliver_by_window),
            service_level: fulfillment
                .fulfillment_service_level
                .unwrap_or(ServiceLevel::Standard),
            prime: has("PRIME"),
            business: has("AMAZON_BUSINESS"),
            lines,
        },
        status,
        fulfilled_by_merchant: fulfillment.fulfilled_by.as_deref() != Some("AMAZON"),
        buyer_cancel_requested,
        recipient,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawResponse<'a> {
    #[serde(borrow)]
    orders: Vec<&'a RawValue>,
    pagination: Option<RawPagination>,
    last_updated_before: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPagination {
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawOrder {
    order_id: String,
    created_time: DateTime<Utc>,
    last_updated_time: DateTime<Utc>,
    #[serde(default)]
    programs: Vec<String>,
    sales_channel: RawSalesChannel,
    recipient: Option<RawRecipient>,
    fulfillment: Option<RawFulfillment>,
    order_items: Vec<RawItem>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSalesChannel {
    #[allow(dead_code)] // required by the model; read so a response without it is rejected
    channel_name: String,
    marketplace_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRecipient {
    delivery_address: Option<RawAddress>,
    delivery_preference: Option<RawDeliveryPreference>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawAddress {
    name: Option<String>,
    company_name: Option<String>,
    address_line1: Option<String>,
    address_line2: Option<String>,
    address_line3: Option<String>,
    city: Option<String>,
    district_or_county: Option<String>,
    state_or_region: Option<String>,
    postal_code: Option<String>,
    country_code: Option<String>,
    phone: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDeliveryPreference {
    drop_off_location: Option<String>,
    address_instruction: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawFulfillment {
    fulfillment_status: Option<RawFulfillmentStatus>,
    fulfilled_by: Option<String>,
    fulfillment_service_level: Option<ServiceLevel>,
    ship_by_window: Option<RawWindow>,
    deliver_by_window: Option<RawWindow>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawWindow {
    earliest_date_time: Option<DateTime<Utc>>,
    latest_date_time: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawItem {
    order_item_id: String,
    quantity_ordered: u32,
    product: RawProduct,
    fulfillment: Option<RawItemFulfillment>,
    cancellation: Option<RawCancellation>,
    #[serde(default)]
    programs: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCancellation {
    cancellation_request: Option<RawCancellationRequest>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCancellationRequest {
    requester: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawProduct {
    asin: Option<String>,
    title: Option<String>,
    seller_sku: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawItemFulfillment {
    quantity_fulfilled: Option<u32>,
    packing: Option<RawPacking>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPacking {
    gift_option: Option<RawGiftOption>,
    serial_number_requirement: Option<RawSerialRequirement>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawGiftOption {
    gift_message: Option<String>,
    gift_wrap_level: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSerialRequirement {
    requirement_type: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODEL: &str = include_str!("../../tests/spapi-models/orders_2026-01-01.json");

    /// The response examples in the official model parse, with every field packline keeps.
    #[test]
    fn official_example_parses() {
        let model: serde_json::Value = serde_json::from_str(MODEL).unwrap();
        let example = &model["paths"]["/orders/2026-01-01/orders"]["get"]["responses"]["200"]["examples"]
            ["application/json"];
        let bytes = serde_json::to_vec(example).unwrap();
        let page = parse_search_orders(&bytes, "example").unwrap();
        let o = &page.orders[0];
        assert_eq!(o.order.id.as_str(), "123-4567890-1234567");
        assert_eq!(o.status, FulfillmentStatus::Shipped);
        assert!(o.order.prime && o.order.business);
        assert_eq!(o.order.lines[0].sku, "ECHO-DOT-4-CHARCOAL");
        assert_eq!(o.order.lines[0].quantity_ordered, 2);
        let r = o.recipient.as_ref().unwrap();
        assert_eq!(r.name, "John Smith");
        assert_eq!(r.postal_code.as_deref(), Some("98101"));
        assert_eq!(
            r.delivery_instructions.as_deref(),
            Some("Front desk reception; Enter through main lobby, ask for John Smith at reception")
        );
        assert_eq!(
            o.order.ship_by.latest.unwrap().to_rfc3339(),
            "2024-12-27T23:59:59+00:00"
        );
    }

    /// Every static sandbox response of searchOrders parses, and keeps each order and line.
    #[test]
    fn sandbox_responses_parse_without_loss() {
        let model: serde_json::Value = serde_json::from_str(MODEL).unwrap();
        let statics = model["paths"]["/orders/2026-01-01/orders"]["get"]["responses"]["200"]
            ["x-amzn-api-sandbox"]["static"]
            .as_array()
            .unwrap();
        assert!(!statics.is_empty());
        for (i, case) in statics.iter().enumerate() {
            let response = &case["response"];
            let bytes = serde_json::to_vec(response).unwrap();
            let page = parse_search_orders(&bytes, &format!("sandbox {i}")).unwrap();
            let raw = response["orders"].as_array().unwrap();
            assert_eq!(page.orders.len(), raw.len(), "sandbox {i}");
            for (o, r) in page.orders.iter().zip(raw) {
                assert_eq!(o.order.id.as_str(), r["orderId"].as_str().unwrap());
                assert_eq!(
                    o.order.lines.len(),
                    r["orderItems"].as_array().unwrap().len()
                );
                if let Some(name) = r["recipient"]["deliveryAddress"]["name"].as_str() {
                    assert_eq!(o.recipient.as_ref().unwrap().name, name);
                }
            }
            assert_eq!(
                page.next_token.as_deref(),
                response["pagination"]["nextToken"].as_str()
            );
        }
    }

    /// The reasons an order is set aside for, all of them.
    fn refused(body: &[u8]) -> Vec<SetAside> {
        parse_search_orders(body, "page1.json").unwrap().refused
    }

    #[test]
    fn errors_never_quote_input_values() {
        let body = br#"{"orders":[{"orderId":"1","createdTime":"Secret Name Here","lastUpdatedTime":"x","salesChannel":{"channelName":"AMAZON"},"orderItems":[]}]}"#;
        assert_eq!(
            refused(body),
            [SetAside {
                order: "1".into(),
                reason: "orders[0].createdTime: wrong type or value (not shown: it may be personal data) at line 1 column 58".into(),
            }]
        );

        let body = br#"{"orders":[{"orderId":"1","createdTime":"2024-01-01T00:00:00Z","lastUpdatedTime":"2024-01-01T00:00:00Z","salesChannel":{"channelName":"AMAZON"},"recipient":{"deliveryAddress":{"name":["Jane Roe"]}},"orderItems":[]}]}"#;
        let r = refused(body);
        assert!(
            r[0].reason.contains("recipient.deliveryAddress.name"),
            "{r:?}"
        );
        assert!(!r[0].reason.contains("Jane"), "{r:?}");

        // A quoted value with escaped quotes inside it breaks the page itself: not shown either.
        let body = br#"{"orders":[{"orderId":"1","createdTime":"2024-01-01T00:00:00Z","lastUpdatedTime":"2024-01-01T00:00:00Z","salesChannel":{"channelName":"AMAZON"},"recipient":"12" Main "St" Apt 4","orderItems":[]}]}"#;
        let err = parse_search_orders(body, "p").unwrap_err().to_string();
        assert!(err.starts_with("p: "), "{err}");
        assert!(!err.contains("Main") && !err.contains("Apt"), "{err}");
    }

    /// One order packline refuses is that order's alone: the others of the page are read, and
    /// it is named by its id (or, with none that reads, its place) and why.
    #[test]
    fn one_refused_order_is_set_aside_and_the_rest_of_the_page_read() {
        let model: serde_json::Value = serde_json::from_str(MODEL).unwrap();
        let example = &model["paths"]["/orders/2026-01-01/orders"]["get"]["responses"]["200"]["examples"]
            ["application/json"];
        let good = example["orders"][0].clone();
        let mut page =
            serde_json::json!({ "orders": [good.clone(), good.clone(), good.clone(), good] });
        for (n, id) in [
            "111-0000001-0000001",
            "111-0000001-0000002",
            "111-0000001-0000003",
        ]
        .into_iter()
        .enumerate()
        {
            page["orders"][n]["orderId"] = id.into();
        }
        page["orders"][1]["orderItems"][0]["product"]["sellerSku"] = "SKU\u{7}Jane".into();
        page["orders"][3]["orderId"] = "Jane's".into();
        page["orders"][3]["orderItems"] = "Jane".into();
        let bytes = serde_json::to_vec_pretty(&page).unwrap();
        let p = parse_search_orders(&bytes, "page1.json").unwrap();
        assert_eq!(
            p.orders
                .iter()
                .map(|o| o.order.id.as_str())
                .collect::<Vec<_>>(),
            ["111-0000001-0000001", "111-0000001-0000003"]
        );
        let line = String::from_utf8_lossy(&bytes)
            .lines()
            .position(|l| l.contains("\"orderItems\": \"Jane\""))
            .unwrap()
            + 1;
        assert_eq!(
            p.refused,
            [
                SetAside {
                    order: "111-0000001-0000002".into(),
                    reason: "orders[1].orderItems[0].product.sellerSku: holds a control character; a SKU must be printable".into(),
                },
                SetAside {
                    order: "orders[3]".into(),
                    reason: format!("orders[3].orderItems: wrong type or value (not shown: it may be personal data) at line {line} column 26"),
                },
            ]
        );
    }

    proptest::proptest! {
        /// Whatever arrives (random bytes, or a real page cut short or with bytes flipped), the
        /// parser answers Ok or a named error, and never panics.
        #[test]
        fn never_panics_on_damaged_input(
            cut in 0usize..4000,
            flips in proptest::collection::vec((0usize..4000, proptest::num::u8::ANY), 0..8),
            noise in proptest::collection::vec(proptest::num::u8::ANY, 0..256),
        ) {
            let _ = parse_search_orders(&noise, "noise");
            let model: serde_json::Value = serde_json::from_str(MODEL).unwrap();
            let example = &model["paths"]["/orders/2026-01-01/orders"]["get"]["responses"]["200"]
                ["examples"]["application/json"];
            let mut bytes = serde_json::to_vec(example).unwrap();
            for (at, b) in flips {
                let n = bytes.len();
                bytes[at % n] = b;
            }
            bytes.truncate(cut.max(1).min(bytes.len()));
            if let Err(e) = parse_search_orders(&bytes, "damaged.json") {
                proptest::prop_assert!(e.to_string().starts_with("damaged.json: "));
            }
        }
    }

    #[test]
    fn missing_fields_are_named() {
        let r = refused(br#"{"orders":[{"createdTime":"2024-01-01T00:00:00Z"}]}"#);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].order, "orders[0]");
        assert!(r[0].reason.contains("missing field `orderId`"), "{r:?}");
        let err = parse_search_orders(b"{\"orders\": [", "f.json")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 1"), "{err}");
        let err = parse_search_orders(b"[]", "f.json")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("f.json: not a searchOrders response"),
            "{err}"
        );
    }
}
