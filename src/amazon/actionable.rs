//! The actionable-orders report (`GET_FLAT_FILE_ACTIONABLE_ORDER_DATA_SHIPPING`, Reports API
//! 2021-06-30) read into the orders a searchOrders page would give: one row per order item,
//! tab-separated, a header row first. A large backlog comes through it (`service::sync`): one
//! report instead of a searchOrders page per hundred orders.
//!
//! Data minimisation happens here, as for searchOrders and the returns report: only the columns
//! the floor needs are read (the order, its items, dates, service level, Prime and business
//! flags, and the ship-to address, which the import seals); the buyer's columns (`buyer-email`,
//! `buyer-name`, `buyer-phone-number`), the buyer's reason for a cancellation request, prices and
//! every other column are never read, so never kept. Unknown columns are ignored; a missing
//! optional column reads as empty. No error quotes a value.
//!
//! A row packline refuses (a SKU with a control character, a quantity that is not a number, a
//! row of another width than the header) refuses its order, and only it: the order is named
//! (its id, or the line when the id does not read) with the line, column and why, and set aside
//! like a searchOrders page's refused order; the other orders are read.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, NaiveTime, Utc};

use super::model::{
    MAX_ADDRESS_FIELD, MAX_ID, MAX_LINES, MAX_NOTE, MAX_SKU, MAX_TITLE, ParseError,
};
use super::reports::{ACTIONABLE_REPORT, Columns, csv_detail, normalise, parse_day};
use crate::domain::import::{FulfillmentStatus, ImportedOrder, SetAside};
use crate::domain::text::bounded;
use crate::domain::{Order, OrderId, OrderLine, Recipient, ServiceLevel, UnitCodes, Window};

/// The columns read, by their normalised names (letters and digits, lower case).
const ORDER: &str = "orderid";
const ITEM: &str = "orderitemid";
const PURCHASED: &str = "purchasedate";
const PROMISE: &str = "promisedate";
const EARLIEST_SHIP: &str = "earliestshipdate";
const LATEST_SHIP: &str = "latestshipdate";
const DELIVERY_START: &str = "deliverystartdate";
const DELIVERY_END: &str = "deliveryenddate";
const SKU: &str = "sku";
const ASIN: &str = "asin";
const PRODUCT: &str = "productname";
const QUANTITY: &str = "quantitypurchased";
const SHIPPED: &str = "quantityshipped";
const LEVEL: &str = "shipservicelevel";
const RECIPIENT: &str = "recipientname";
const ADDRESS: [&str; 3] = ["shipaddress1", "shipaddress2", "shipaddress3"];
const CITY: &str = "shipcity";
const STATE: &str = "shipstate";
const POSTAL: &str = "shippostalcode";
const COUNTRY: &str = "shipcountry";
const PHONE: &str = "shipphonenumber";
const INSTRUCTIONS: &str = "deliveryinstructions";
const BUSINESS: &str = "isbusinessorder";
const PRIME: &str = "isprime";
const CANCEL_REQUESTED: &str = "isbuyerrequestedcancellation";

/// The columns the report must have, as Amazon names them.
const REQUIRED: [(&str, &str); 5] = [
    (ORDER, "order-id"),
    (ITEM, "order-item-id"),
    (PURCHASED, "purchase-date"),
    (SKU, "sku"),
    (QUANTITY, "quantity-purchased"),
];

/// The report as read: the orders of the rows that read, and each order refused (named, with
/// the line, column and why; nothing of it kept).
#[derive(Debug, Default)]
pub struct ActionableOrders {
    pub orders: Vec<ImportedOrder>,
    pub refused: Vec<SetAside>,
}

/// A date-time as the report writes it (ISO 8601, `2026-11-20T08:00:00+00:00`), or a day (then
/// its start, UTC).
fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.into());
    }
    parse_day(s).map(|d| d.and_time(NaiveTime::MIN).and_utc())
}

/// A yes-or-no column: `true`/`false` (Amazon's spelling), `Y`/`N`, `yes`/`no`; empty is no.
fn parse_flag(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "" | "false" | "n" | "no" => Some(false),
        "true" | "y" | "yes" => Some(true),
        _ => None,
    }
}

/// The service level as the report spells it (`Standard`, `SecondDay`, `NextDay`, …; the API's
/// `SECOND_DAY` reads the same); an unknown one is kept as such, none is Standard.
fn parse_level(s: &str) -> ServiceLevel {
    match normalise(s).as_str() {
        "" | "standard" | "std" => ServiceLevel::Standard,
        "sameday" => ServiceLevel::SameDay,
        "nextday" => ServiceLevel::NextDay,
        "secondday" => ServiceLevel::SecondDay,
        "expedited" => ServiceLevel::Expedited,
        "priority" => ServiceLevel::Priority,
        "scheduled" => ServiceLevel::Scheduled,
        "freeeconomy" => ServiceLevel::FreeEconomy,
        _ => ServiceLevel::Other,
    }
}

/// Parses an actionable-orders report document. `marketplace_id` is the marketplace the report
/// was asked for, when one (the report does not name it per row). A document that is not this
/// report (no header, a required column missing, a column named twice) is an error; a row packline
/// refuses refuses its order only (see the module's notes). An empty document lists no orders.
pub fn parse_actionable_orders(
    bytes: &[u8],
    source_name: &str,
    marketplace_id: Option<&str>,
) -> Result<ActionableOrders, ParseError> {
    let invalid = |path: String, detail: String| ParseError::Invalid {
        source_name: source_name.to_owned(),
        path,
        detail,
    };
    let Some((columns, records)) = Columns::read(bytes, &REQUIRED, ACTIONABLE_REPORT, &invalid)?
    else {
        return Ok(ActionableOrders::default());
    };
    // Only the columns named here are ever read out of a row.
    let at = |row: &csv::ByteRecord, name: &str| columns.at(row, name);
    let header = &columns;
    // Orders in the order of their first row; a refused order's id, so its other rows are
    // dropped too.
    let mut orders: BTreeMap<usize, ImportedOrder> = BTreeMap::new();
    let mut first_row: std::collections::HashMap<OrderId, usize> = Default::default();
    let mut refused_ids: HashSet<String> = HashSet::new();
    let mut refused = Vec::new();
    for (n, row) in records.enumerate() {
        let line = n + 2;
        let named = |order: Option<&OrderId>, reason: String| SetAside {
            order: order.map_or_else(|| format!("line {line}"), OrderId::to_string),
            reason,
        };
        let row = match row {
            Ok(r) => r,
            Err(e) => {
                refused.push(named(None, format!("line {line}: {}", csv_detail(&e))));
                continue;
            }
        };
        if row.iter().all(|f| f.iter().all(u8::is_ascii_whitespace)) {
            continue;
        }
        let field = |shown: &str| format!("line {line}, column {shown:?}");
        let id = match OrderId::parse(&at(&row, ORDER)) {
            Ok(id) => id,
            Err(e) => {
                refused.push(named(None, format!("{}: {e}", field("order-id"))));
                continue;
            }
        };
        if refused_ids.contains(id.as_str()) {
            continue;
        }
        // One row's fields, checked; the order's own fields come from its first row.
        let read = || -> Result<(OrderLine, u32), String> {
            // A row of another width than the header has its fields under the wrong names (a
            // buyer's column read as a kept one): refused.
            if row.len() != header.len() {
                return Err(format!(
                    "line {line}: {} fields where the header has {}: the row is broken",
                    row.len(),
                    header.len()
                ));
            }
            let item_id = at(&row, ITEM);
            if item_id.is_empty() {
                return Err(format!("{}: is empty", field("order-item-id")));
            }
            if item_id.chars().count() > MAX_ID || item_id.chars().any(char::is_control) {
                return Err(format!(
                    "{}: is not an order item id (at most {MAX_ID} printable characters)",
                    field("order-item-id")
                ));
            }
            let sku = at(&row, SKU);
            if sku.is_empty() {
                return Err(format!(
                    "{}: is missing: every line must name a seller SKU to be picked",
                    field("sku")
                ));
            }
            if sku.chars().any(char::is_control) {
                return Err(format!(
                    "{}: holds a control character; a SKU must be printable",
                    field("sku")
                ));
            }
            if sku.chars().count() > MAX_SKU {
                return Err(format!(
                    "{}: is {} characters long; a seller SKU has at most {MAX_SKU}",
                    field("sku"),
                    sku.chars().count()
                ));
            }
            let quantity: u32 = at(&row, QUANTITY)
                .parse()
                .ok()
                .filter(|q| *q >= 1)
                .ok_or_else(|| {
                    format!(
                        "{}: is not a whole number of at least 1",
                        field("quantity-purchased")
                    )
                })?;
            let shipped = match at(&row, SHIPPED).as_str() {
                "" => 0,
                s => s
                    .parse::<u32>()
                    .ok()
                    .filter(|s| *s <= quantity)
                    .ok_or_else(|| {
                        format!(
                            "{}: is not a whole number up to the quantity purchased",
                            field("quantity-shipped")
                        )
                    })?,
            };
            let asin = at(&row, ASIN);
            if asin.chars().any(char::is_control) {
                return Err(format!(
                    "{}: holds a control character: the row is broken",
                    field("asin")
                ));
            }
            Ok((
                OrderLine {
                    item_id,
                    sku,
                    asin: bounded(asin, MAX_ID),
                    title: bounded(at(&row, PRODUCT), MAX_TITLE),
                    quantity_ordered: quantity,
                    quantity_shipped: shipped,
                    unit_codes: UnitCodes::default(),
                    gift_wrap: None,
                },
                shipped,
            ))
        };
        let refuse = |reason: String,
                      orders: &mut BTreeMap<usize, ImportedOrder>,
                      refused: &mut Vec<SetAside>,
                      refused_ids: &mut HashSet<String>| {
            if let Some(first) = first_row.get(&id) {
                orders.remove(first);
            }
            refused_ids.insert(id.to_string());
            refused.push(named(Some(&id), reason));
        };
        let (line_read, _) = match read() {
            Ok(l) => l,
            Err(reason) => {
                refuse(reason, &mut orders, &mut refused, &mut refused_ids);
                continue;
            }
        };
        if let Some(first) = first_row.get(&id) {
            let Some(o) = orders.get_mut(first) else {
                continue;
            };
            let lines = &mut o.order.lines;
            if lines.iter().any(|l| l.item_id == line_read.item_id) {
                refuse(
                    format!("{}: is listed twice for the order", field("order-item-id")),
                    &mut orders,
                    &mut refused,
                    &mut refused_ids,
                );
                continue;
            }
            if lines.len() >= MAX_LINES {
                refuse(
                    format!("line {line}: the order has more than {MAX_LINES} lines"),
                    &mut orders,
                    &mut refused,
                    &mut refused_ids,
                );
                continue;
            }
            lines.push(line_read);
            continue;
        }
        // The order's first row: its own fields.
        let order_fields = || -> Result<ImportedOrder, String> {
            let created = parse_time(&at(&row, PURCHASED)).ok_or_else(|| {
                format!("{}: is not a date-time (ISO 8601)", field("purchase-date"))
            })?;
            let time = |name: &str, shown: &str| -> Result<Option<DateTime<Utc>>, String> {
                match at(&row, name).as_str() {
                    "" => Ok(None),
                    s => parse_time(s)
                        .map(Some)
                        .ok_or_else(|| format!("{}: is not a date-time (ISO 8601)", field(shown))),
                }
            };
            let flag = |name: &str, shown: &str| -> Result<bool, String> {
                parse_flag(&at(&row, name))
                    .ok_or_else(|| format!("{}: is not true or false", field(shown)))
            };
            let latest_ship = match time(LATEST_SHIP, "latest-ship-date")? {
                Some(t) => Some(t),
                None => time(PROMISE, "promise-date")?,
            };
            let nonempty = |name: &str| {
                Some(at(&row, name))
                    .filter(|v| !v.is_empty())
                    .map(|v| bounded(v, MAX_ADDRESS_FIELD))
            };
            let name = at(&row, RECIPIENT);
            let address = [
                nonempty(ADDRESS[0]),
                nonempty(ADDRESS[1]),
                nonempty(ADDRESS[2]),
            ];
            let recipient = (!name.is_empty() || address.iter().any(Option::is_some)).then(|| {
                let [address_line1, address_line2, address_line3] = address;
                Recipient {
                    name: bounded(name, MAX_ADDRESS_FIELD),
                    company: None,
                    address_line1,
                    address_line2,
                    address_line3,
                    city: nonempty(CITY),
                    district_or_county: None,
                    state_or_region: nonempty(STATE),
                    postal_code: nonempty(POSTAL),
                    country_code: nonempty(COUNTRY),
                    phone: nonempty(PHONE),
                    delivery_instructions: Some(at(&row, INSTRUCTIONS))
                        .filter(|v| !v.is_empty())
                        .map(|v| bounded(v, MAX_NOTE)),
                    gift_messages: Vec::new(),
                }
            });
            Ok(ImportedOrder {
                order: Order {
                    id: id.clone(),
                    marketplace_id: marketplace_id.map(|m| bounded(m.to_owned(), MAX_ID)),
                    created,
                    // The report says nothing of when the order last changed: its purchase
                    // time, so any copy searchOrders gives later is newer and wins.
                    updated: created,
                    ship_by: Window {
                        earliest: time(EARLIEST_SHIP, "earliest-ship-date")?,
                        latest: latest_ship,
                    },
                    deliver_by: Window {
                        earliest: time(DELIVERY_START, "delivery-start-date")?,
                        latest: time(DELIVERY_END, "delivery-end-date")?,
                    },
                    service_level: parse_level(&at(&row, LEVEL)),
                    prime: flag(PRIME, "is-prime")?,
                    business: flag(BUSINESS, "is-business-order")?,
                    lines: vec![line_read],
                },
                status: FulfillmentStatus::Unshipped,
                fulfilled_by_merchant: true,
                buyer_cancel_requested: flag(CANCEL_REQUESTED, "is-buyer-requested-cancellation")?,
                recipient,
            })
        };
        match order_fields() {
            Ok(o) => {
                first_row.insert(id.clone(), line);
                orders.insert(line, o);
            }
            Err(reason) => refuse(reason, &mut orders, &mut refused, &mut refused_ids),
        }
    }
    let orders = orders
        .into_values()
        .map(|mut o| {
            // An order with some units shipped is partly shipped, as searchOrders says.
            if o.order.lines.iter().any(|l| l.quantity_shipped > 0) {
                o.status = FulfillmentStatus::PartiallyShipped;
            }
            o
        })
        .collect();
    Ok(ActionableOrders { orders, refused })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "order-id\torder-item-id\tpurchase-date\tpayments-date\treporting-date\tpromise-date\tdays-past-promise\tbuyer-email\tbuyer-name\tbuyer-phone-number\tsku\tproduct-name\tquantity-purchased\tquantity-shipped\tquantity-to-ship\tship-service-level\trecipient-name\tship-address-1\tship-address-2\tship-address-3\tship-city\tship-state\tship-postal-code\tship-country\tship-phone-number\tdelivery-start-date\tdelivery-end-date\tis-business-order\tis-prime\tis-buyer-requested-cancellation\tbuyer-requested-cancel-reason";

    fn row(order: &str, item: &str, sku: &str, qty: &str) -> String {
        format!(
            "{order}\t{item}\t2026-11-20T08:00:00+00:00\t2026-11-20T08:00:00+00:00\t2026-11-20T09:00:00+00:00\t2026-11-22T08:00:00+00:00\t0\tjane.buyer@example.invalid\tJane Q. Buyer\t+1 206 555 0199\t{sku}\tA widget\t{qty}\t0\t{qty}\tSecondDay\tRex Recipient\t1 Main Street\t\t\tSeattle\tWA\t98101\tUS\t+1 555 0100\t2026-11-23T08:00:00+00:00\t2026-11-27T08:00:00+00:00\tfalse\ttrue\tfalse\tI am Jane and I changed my mind"
        )
    }

    #[test]
    fn rows_of_one_order_are_one_order_and_the_buyer_is_never_read() {
        let doc = [
            HEADER.to_owned(),
            row("111-0000001-0000001", "10001", "SKU-1", "1"),
            row("111-0000001-0000002", "10002", "SKU-2", "2"),
            row("111-0000001-0000001", "10003", "SKU-3", "3"),
            String::new(),
        ]
        .join("\n");
        let r = parse_actionable_orders(doc.as_bytes(), "a.tsv", Some("ATVPDKIKX0DER")).unwrap();
        assert!(r.refused.is_empty(), "{:?}", r.refused);
        assert_eq!(r.orders.len(), 2);
        let o = &r.orders[0];
        assert_eq!(o.order.id.as_str(), "111-0000001-0000001");
        assert_eq!(o.status, FulfillmentStatus::Unshipped);
        assert_eq!(o.order.marketplace_id.as_deref(), Some("ATVPDKIKX0DER"));
        assert_eq!(o.order.service_level, ServiceLevel::SecondDay);
        assert!(o.order.prime && !o.order.business && !o.buyer_cancel_requested);
        assert_eq!(
            o.order
                .lines
                .iter()
                .map(|l| (l.item_id.as_str(), l.sku.as_str(), l.quantity_ordered))
                .collect::<Vec<_>>(),
            [("10001", "SKU-1", 1), ("10003", "SKU-3", 3)]
        );
        assert_eq!(
            o.order.ship_by.latest,
            Some(parse_time("2026-11-22T08:00:00Z").unwrap())
        );
        let rcp = o.recipient.as_ref().unwrap();
        assert_eq!(rcp.name, "Rex Recipient");
        assert_eq!(rcp.postal_code.as_deref(), Some("98101"));
        assert_eq!(rcp.phone.as_deref(), Some("+1 555 0100"));
        // Nothing of the buyer: not in the orders, not in any field (Debug redacts only the
        // recipient, so every other field shows here).
        let all = format!("{:?}", r.orders);
        for buyer in ["jane.buyer", "Jane", "206 555 0199", "changed my mind"] {
            assert!(!all.contains(buyer), "{buyer} in {all}");
            assert!(
                !format!(
                    "{} {:?} {:?} {:?}",
                    rcp.name, rcp.address_line1, rcp.phone, rcp.delivery_instructions
                )
                .contains(buyer)
            );
        }
        assert!(
            parse_actionable_orders(b"", "a.tsv", None)
                .unwrap()
                .orders
                .is_empty()
        );
    }

    #[test]
    fn a_broken_row_refuses_its_order_alone_naming_the_line_never_a_value() {
        let doc = [
            HEADER.to_owned(),
            row("111-0000001-0000001", "10001", "SKU-1", "1"),
            row("111-0000001-0000002", "10002", "SKU-\u{7}2", "1"),
            row("111-0000001-0000003", "10003", "SKU-3", "two"),
            row("111-0000001-0000002", "10004", "SKU-4", "1"),
            row("Jane's order", "10005", "SKU-5", "1"),
            row("111-0000001-0000004", "10006", "SKU-6", "1")
                .replace("\tSecondDay", "\tSecondDay\textra"),
            row("111-0000001-0000005", "10007", "SKU-7", "1"),
        ]
        .join("\n");
        let r = parse_actionable_orders(doc.as_bytes(), "a.tsv", None).unwrap();
        assert_eq!(
            r.orders
                .iter()
                .map(|o| o.order.id.as_str())
                .collect::<Vec<_>>(),
            ["111-0000001-0000001", "111-0000001-0000005"]
        );
        let named: Vec<(String, String)> = r
            .refused
            .iter()
            .map(|s| (s.order.clone(), s.reason.clone()))
            .collect();
        assert_eq!(
            named,
            [
                (
                    "111-0000001-0000002".to_owned(),
                    "line 3, column \"sku\": holds a control character; a SKU must be printable"
                        .to_owned()
                ),
                (
                    "111-0000001-0000003".to_owned(),
                    "line 4, column \"quantity-purchased\": is not a whole number of at least 1"
                        .to_owned()
                ),
                (
                    "line 6".to_owned(),
                    "line 6, column \"order-id\": order id may hold only ASCII letters, digits, '-' and '_' (found U+0027)".to_owned()
                ),
                (
                    "111-0000001-0000004".to_owned(),
                    "line 7: 32 fields where the header has 31: the row is broken".to_owned()
                ),
            ]
        );
        assert!(!format!("{named:?}").contains("Jane"));
        assert_eq!(
            parse_actionable_orders(b"Order ID\tReturn quantity\n", "r.tsv", None)
                .unwrap_err()
                .to_string(),
            "r.tsv: line 1: no \"order-item-id\" column: this is not a GET_FLAT_FILE_ACTIONABLE_ORDER_DATA_SHIPPING report (tab-separated, with its header row)"
        );
        // Not UTF-8, or no newline at the end: read, never a panic.
        let mut odd = format!("{HEADER}\n").into_bytes();
        odd.extend_from_slice(row("111-0000001-0000009", "1", "SKU-1", "1").as_bytes());
        odd.extend_from_slice(b"\n\xff\xfe\t\t");
        let r = parse_actionable_orders(&odd, "a.tsv", None).unwrap();
        assert_eq!(r.orders.len(), 1);
        assert_eq!(r.refused.len(), 1);
    }

    #[test]
    fn a_partly_shipped_order_says_so() {
        let doc = format!(
            "{HEADER}\n{}\n{}\n",
            row("111-0000001-0000001", "1", "SKU-1", "2").replacen("\t2\t0\t2\t", "\t2\t1\t1\t", 1),
            row("111-0000001-0000001", "2", "SKU-2", "1"),
        );
        let r = parse_actionable_orders(doc.as_bytes(), "a.tsv", None).unwrap();
        assert_eq!(r.orders[0].status, FulfillmentStatus::PartiallyShipped);
        assert_eq!(r.orders[0].order.lines[0].quantity_shipped, 1);
    }
}
