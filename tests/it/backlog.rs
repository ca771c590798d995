//! A backlog through Amazon's actionable-orders report (`GET_FLAT_FILE_ACTIONABLE_ORDER_DATA_SHIPPING`)
//! against the training marketplace over loopback HTTP: the same orders as searchOrders pages
//! bring, nothing of the buyer kept, a broken row's order set aside and named, a catch-up with
//! `lastUpdatedAfter` for what changed since the report, and no request the quota refuses.

use crate::common::*;
use packline::amazon::reports::{ACTIONABLE_REPORT, actionable_report_body};
use packline::marketplace::reports::{
    TRAINING_BUYER_EMAIL, TRAINING_BUYER_NAME, TRAINING_BUYER_PHONE,
};
use serde_json::Value;

/// A site syncing from `m`; `report`: whether a sync may turn to the report by itself.
fn site_for(m: &Marketplace, report: bool) -> Site {
    let site = Site::new(&format!(
        "[amazon]\nendpoint = {:?}\ntoken_url = {:?}\nbacklog_report = {report}\n",
        m.url,
        format!("{}/auth/o2/token", m.url)
    ));
    site.init_identity_keys();
    site
}

fn sync(site: &Site, extra: &[&str]) -> std::process::Output {
    let out = site
        .cmd()
        .env(
            "PACKLINE_LWA_CLIENT_ID",
            "amzn1.application-oa2-client.training",
        )
        .env("PACKLINE_LWA_CLIENT_SECRET", "training-secret")
        .env("PACKLINE_LWA_REFRESH_TOKEN", "Atzr|training")
        .args(["sync", "--once"])
        .args(extra)
        .output()
        .unwrap();
    assert_ok(&out, &["sync", "--once"]);
    out
}

/// The orders a site holds, as `orders list --json` shows them, by id; without what the report
/// does not carry (the ASIN) and the times (two marketplaces' orders are placed at times a few
/// milliseconds apart).
fn listed(site: &Site) -> Vec<Value> {
    let mut all: Vec<Value> =
        serde_json::from_str(&site.ok(&["orders", "list", "--json"])).unwrap();
    for o in &mut all {
        let o = o.as_object_mut().unwrap();
        for time in ["state_since", "ship_by", "deliver_by"] {
            o.remove(time);
        }
        if let Some(hold) = o.get_mut("hold").and_then(Value::as_object_mut) {
            hold.remove("since");
        }
        for l in o["lines"].as_array_mut().unwrap() {
            l.as_object_mut().unwrap().remove("asin");
        }
    }
    all.sort_by(|a, b| a["order_id"].as_str().cmp(&b["order_id"].as_str()));
    all
}

/// `line 12` → `line N`: where a row stands depends on how many items the orders before it have.
fn lineless(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("line ") {
        out.push_str(&rest[..i + "line ".len()]);
        rest = &rest[i + "line ".len()..];
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        if digits > 0 {
            out.push('N');
        }
        rest = &rest[digits..];
    }
    out.push_str(rest);
    out
}

fn time(v: &Value) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap())
        .unwrap()
        .into()
}

/// The report path (`sync --backlog`) ends with the same orders as searchOrders pages: changes
/// made after the report's data time (a cancellation, a new address, a buyer's request to
/// cancel) arrive with the catch-up, which asks with `lastUpdatedAfter` from the report's data
/// time less 30 minutes. The document is asked for with a Restricted Data Token for it alone,
/// no request is refused, and nothing of the buyer's columns reaches the store, the log or the
/// output; the recipients are sealed as a searchOrders import seals them.
#[test]
fn the_report_path_imports_the_same_orders_as_search_orders_and_never_the_buyer() {
    let m = marketplace(400, "1000");
    let reference = marketplace(400, "1000");
    let ids = training_order_ids(&m);
    assert_eq!(ids, training_order_ids(&reference));
    for market in [&m, &reference] {
        http(
            market,
            "POST",
            &format!("/_training/orders/{}/cancel", ids[3]),
        );
        http(
            market,
            "POST",
            &format!("/_training/orders/{}/readdress", ids[4]),
        );
        http(
            market,
            "POST",
            &format!("/_training/orders/{}/cancel-request", ids[5]),
        );
    }
    let by_pages = site_for(&reference, false);
    sync(&by_pages, &[]);
    let site = site_for(&m, false);
    let out = sync(&site, &["--backlog"]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        stdout.starts_with("imported 400 new, 2 updated, 1 cancelled\n"),
        "the report lists the cancelled order as it stood; the catch-up cancels it: {stdout}"
    );

    let mine = listed(&site);
    let (cancelled, open): (Vec<Value>, Vec<Value>) =
        mine.into_iter().partition(|o| o["state"] == "cancelled");
    assert_eq!(cancelled.len(), 1);
    assert_eq!(cancelled[0]["order_id"], ids[3].as_str());
    let theirs = listed(&by_pages);
    assert_eq!(open.len(), 399);
    assert_eq!(theirs.len(), 399);
    for (a, b) in open.iter().zip(&theirs) {
        assert_eq!(a, b, "the same orders as searchOrders pages bring");
    }

    let log = request_log(&m);
    for r in &log {
        assert!(
            r["status"] == 200 || (r["operation"] == "createReport" && r["status"] == 202),
            "no request refused: {r}"
        );
    }
    let ops =
        |name: &str| -> Vec<&Value> { log.iter().filter(|r| r["operation"] == name).collect() };
    let created = ops("createReport");
    assert_eq!(created.len(), 1);
    assert_eq!(created[0]["params"]["reportType"], ACTIONABLE_REPORT);
    let docs = ops("getReportDocument");
    assert_eq!(docs.len(), 1);
    let doc_id = docs[0]["params"]["reportDocumentId"].as_str().unwrap();
    assert!(
        ops("createRestrictedDataToken")
            .iter()
            .any(|r| r["params"]["restrictedResources"]
                == format!("GET /reports/2021-06-30/documents/{doc_id}").as_str()),
        "an RDT for the document alone: {log:?}"
    );
    let searches = ops("searchOrders");
    assert_eq!(searches.len(), 1, "one catch-up page: {searches:?}");
    let catch_up = &searches[0]["params"];
    assert!(catch_up["createdAfter"].is_null(), "{catch_up}");
    assert!(catch_up["fulfillmentStatuses"].is_null(), "{catch_up}");
    assert!(!catch_up["includedData"].as_str().unwrap().contains("BUYER"));
    // From the report's data time (five minutes before it was asked for, in the training
    // marketplace) less Amazon's lag of up to 30 minutes.
    let after = time(&catch_up["lastUpdatedAfter"]);
    let asked = time(&created[0]["at"]);
    let lag = asked - after;
    assert!(
        lag >= chrono::Duration::minutes(35) && lag <= chrono::Duration::minutes(36),
        "{lag}"
    );

    // Nothing of the buyer anywhere: not in the store, the log or what the sync printed.
    let mut places = files_under(&site.data);
    places.push(site.log.clone());
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    for buyer in [
        TRAINING_BUYER_EMAIL,
        TRAINING_BUYER_NAME,
        TRAINING_BUYER_PHONE,
    ] {
        assert!(!stdout.contains(buyer) && !stderr.contains(buyer));
        for f in &places {
            let bytes = std::fs::read(f).unwrap();
            assert!(
                find(&bytes, buyer.as_bytes()).is_none(),
                "{buyer} in {}",
                f.display()
            );
        }
    }
    // The readdressed recipient is sealed, as every other.
    for f in &places {
        let bytes = std::fs::read(f).unwrap();
        assert!(
            find(&bytes, b"Readdressed Trainee").is_none(),
            "{}",
            f.display()
        );
    }
    assert_ok(&site.run(&["check"]), &["check"]);

    // The next sync carries on incrementally from the watermark: nothing new.
    let again = sync(&site, &[]);
    assert_eq!(
        String::from_utf8_lossy(&again.stdout),
        "imported 0 new, 0 updated, 0 cancelled\n"
    );
    let last = request_log(&m)
        .into_iter()
        .rfind(|r| r["operation"] == "searchOrders")
        .unwrap();
    assert!(last["params"]["lastUpdatedAfter"].is_string(), "{last}");
    assert_eq!(count(&m, "createReport"), 1, "no report for a small sync");
}

fn count(m: &Marketplace, operation: &str) -> usize {
    request_log(m)
        .iter()
        .filter(|r| r["operation"] == operation)
        .count()
}

/// An order whose row packline refuses (a control character in its SKU) is set aside, named
/// with its line, column and why like a searchOrders page's refused order, and listed by
/// `sync problems`; every other order is imported, and the next sync asks Amazon for it again.
#[test]
fn a_broken_row_is_set_aside_and_named_and_the_others_are_imported() {
    let m = marketplace(60, "1000");
    let ids = training_order_ids(&m);
    let broken = ids[7].clone();
    http(
        &m,
        "POST",
        &format!("/_training/orders/{broken}/broken-sku"),
    );
    let site = site_for(&m, true);
    let out = sync(&site, &["--backlog"]);
    let why = "holds a control character; a SKU must be printable";
    assert_eq!(
        lineless(&String::from_utf8_lossy(&out.stdout)),
        format!(
            "imported 59 new, 0 updated, 0 cancelled\n\
             1 set aside, the rest imported (each sync asks Amazon for them again; `packline sync problems` lists them):\n  \
             {broken}: {ACTIONABLE_REPORT}: line N, column \"sku\": {why}\n"
        )
    );
    let held: Vec<String> = listed(&site)
        .iter()
        .map(|o| o["order_id"].as_str().unwrap().to_owned())
        .collect();
    let mut others: Vec<String> = ids.iter().filter(|i| **i != broken).cloned().collect();
    others.sort();
    assert_eq!(held, others);
    let problems: Value = serde_json::from_str(&site.ok(&["sync", "problems", "--json"])).unwrap();
    let rows = problems.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{problems}");
    assert_eq!(rows[0]["order"], broken.as_str());
    // Its SKU broke after the report's data time, so the catch-up's page named it again: the
    // record says where it was refused last, and how many times.
    assert_eq!(rows[0]["source"], "searchOrders");
    assert_eq!(rows[0]["times"], 2);
    assert!(
        rows[0]["reason"].as_str().unwrap().ends_with(why),
        "{problems}"
    );
    let log = std::fs::read_to_string(&site.log).unwrap();
    assert!(
        log.lines()
            .any(|l| l.contains("order set aside") && l.contains(&broken) && l.contains(why)),
        "{log}"
    );

    // Mended at Amazon: the next sync asks for it again (getOrder) and imports it.
    http(&m, "POST", &format!("/_training/orders/{broken}/mend"));
    let out = sync(&site, &[]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "imported 1 new, 0 updated, 0 cancelled\n"
    );
    assert_eq!(site.ok(&["sync", "problems"]), "no order is set aside\n");
    for r in &request_log(&m) {
        assert!(
            r["status"] == 200 || (r["operation"] == "createReport" && r["status"] == 202),
            "no request refused: {r}"
        );
    }
}

/// With more orders pending than searchOrders' burst covers, a sync turns to the report by
/// itself once the burst is spent: every order once, no request refused.
#[test]
fn a_backlog_beyond_the_burst_turns_to_the_report_by_itself() {
    // 2,300 orders: 23 pages, three more than the burst of 20; time runs 100× faster.
    let m = marketplace(2300, "100");
    let site = site_for(&m, true);
    let out = sync(&site, &[]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "imported 2300 new, 0 updated, 0 cancelled\n"
    );
    let ids: std::collections::BTreeSet<String> = listed(&site)
        .iter()
        .map(|o| o["order_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 2300);
    let log = request_log(&m);
    for r in &log {
        assert!(
            r["status"] == 200 || (r["operation"] == "createReport" && r["status"] == 202),
            "no request refused: {r}"
        );
    }
    let searches: Vec<&Value> = log
        .iter()
        .filter(|r| r["operation"] == "searchOrders")
        .collect();
    assert_eq!(searches.len(), 21, "the burst, then one catch-up page");
    assert!(searches[20]["params"]["lastUpdatedAfter"].is_string());
    assert_eq!(count(&m, "createReport"), 1);
}

/// The training marketplace refuses the actionable report's document, as Amazon does, to a
/// request without a Restricted Data Token for that document.
#[test]
fn the_restricted_document_needs_its_own_restricted_data_token() {
    const REPORTS: &str = include_str!("../spapi-models/reports_2021-06-30.json");
    const TOKENS: &str = include_str!("../spapi-models/tokens_2021-03-01.json");
    let m = marketplace(5, "1000");
    let lwa = [("x-amz-access-token", "Atza|training")];
    // The body packline sends, as the official model has it.
    let spec = String::from_utf8(actionable_report_body(&["ATVPDKIKX0DER".into()])).unwrap();
    assert_valid(
        &validator_in(REPORTS, "CreateReportSpecification"),
        &spec,
        "createReport",
    );
    let (status, body) = http_send(
        &m,
        "POST",
        "/reports/2021-06-30/reports",
        &[lwa[0], ("content-type", "application/json")],
        &spec,
    );
    assert_eq!(status, 202, "{body}");
    assert_valid(
        &validator_in(REPORTS, "CreateReportResponse"),
        &body,
        "createReport",
    );
    let id = serde_json::from_str::<Value>(&body).unwrap()["reportId"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut doc = None;
    for _ in 0..50 {
        let (_, body) = http_with(
            &m,
            "GET",
            &format!("/reports/2021-06-30/reports/{id}"),
            &lwa,
        );
        assert_valid(&validator_in(REPORTS, "Report"), &body, "getReport");
        let r: Value = serde_json::from_str(&body).unwrap();
        if r["processingStatus"] == "DONE" {
            doc = r["reportDocumentId"].as_str().map(str::to_owned);
            assert!(r["dataEndTime"].is_string(), "{r}");
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let doc = doc.expect("the report is done");
    let path = format!("/reports/2021-06-30/documents/{doc}");
    let (status, body) = http_with(&m, "GET", &path, &lwa);
    assert_eq!(status, 403, "the access token alone");
    assert_valid(
        &validator_in(REPORTS, "ErrorList"),
        &body,
        "getReportDocument refused",
    );
    let rdt = |resource_path: &str| {
        let request =
            format!(r#"{{"restrictedResources":[{{"method":"GET","path":"{resource_path}"}}]}}"#);
        assert_valid(
            &validator_in(TOKENS, "CreateRestrictedDataTokenRequest"),
            &request,
            "createRestrictedDataToken",
        );
        let (_, body) = http_send(
            &m,
            "POST",
            "/tokens/2021-03-01/restrictedDataToken",
            &[lwa[0], ("content-type", "application/json")],
            &request,
        );
        serde_json::from_str::<Value>(&body).unwrap()["restrictedDataToken"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let other = rdt("/reports/2021-06-30/documents/another");
    let (status, _) = http_with(&m, "GET", &path, &[("x-amz-access-token", &other)]);
    assert_eq!(status, 403, "an RDT for another document");
    let own = rdt(&path);
    let (status, body) = http_with(&m, "GET", &path, &[("x-amz-access-token", &own)]);
    assert_eq!(status, 200, "{body}");
    assert_valid(
        &validator_in(REPORTS, "ReportDocument"),
        &body,
        "getReportDocument",
    );
    let url = serde_json::from_str::<Value>(&body).unwrap()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let document = http(&m, "GET", url.trim_start_matches(&m.url));
    let header = document.lines().next().unwrap();
    assert!(
        header.starts_with("order-id\torder-item-id\tpurchase-date"),
        "{header}"
    );
    assert!(header.contains("\tbuyer-email\tbuyer-name\tbuyer-phone-number\t"));
    assert_eq!(
        document.lines().count(),
        1 + document.lines().skip(1).filter(|l| !l.is_empty()).count()
    );
}

/// When the report cannot be had (here Amazon fails createReport at every attempt), a sync that
/// turned to it by itself goes on with searchOrders pages from where they stood: every order
/// once, none refused by the quota.
#[test]
fn a_report_that_fails_leaves_the_sync_to_its_pages() {
    let m = marketplace(2300, "100");
    for _ in 0..5 {
        http(&m, "POST", "/_training/faults/createReport/500");
    }
    let site = site_for(&m, true);
    let out = sync(&site, &[]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "imported 2300 new, 0 updated, 0 cancelled\n"
    );
    let log = request_log(&m);
    let searches: Vec<&Value> = log
        .iter()
        .filter(|r| r["operation"] == "searchOrders")
        .collect();
    assert_eq!(searches.len(), 23, "every page once, from where they stood");
    assert_eq!(
        searches
            .iter()
            .filter(|r| r["params"]["paginationToken"].is_null())
            .count(),
        1
    );
    for r in &log {
        assert_ne!(r["status"], 429, "no request the quota refused: {r}");
    }
    let text = std::fs::read_to_string(&site.log).unwrap();
    assert!(
        text.contains("the actionable-orders report failed"),
        "{text}"
    );
}

/// The report says nothing of the codes a unit needs at the bench: an order it brings takes
/// them from what Amazon's own copies of orders last said of its SKU, so a Transparency item is
/// never packed without its code because of the way its order arrived.
#[test]
fn an_order_from_the_report_needs_the_codes_its_sku_was_last_seen_needing() {
    use packline::service::Service;
    let columns = packline::marketplace::reports::ACTIONABLE_COLUMNS;
    let row = |id: &str, sku: &str| {
        let value = |c: &str| match c {
            "order-id" => id.to_owned(),
            "order-item-id" => format!("{}01", id.replace('-', "")),
            "purchase-date" | "payments-date" | "reporting-date" => {
                "2026-11-23T09:00:00+00:00".to_owned()
            }
            "promise-date" => "2026-11-25T23:59:59+00:00".to_owned(),
            "days-past-promise" | "quantity-shipped" => "0".to_owned(),
            "sku" => sku.to_owned(),
            "product-name" => "Widget".to_owned(),
            "quantity-purchased" | "quantity-to-ship" => "1".to_owned(),
            "ship-service-level" => "Standard".to_owned(),
            "recipient-name" => "Rowan Report".to_owned(),
            "ship-address-1" => "1 Dock Road".to_owned(),
            "ship-city" => "Reno".to_owned(),
            "ship-state" => "NV".to_owned(),
            "ship-postal-code" => "89501".to_owned(),
            "ship-country" => "US".to_owned(),
            "sales-channel" => "Amazon.com".to_owned(),
            "is-business-order" | "is-prime" | "is-buyer-requested-cancellation" => {
                "false".to_owned()
            }
            _ => String::new(),
        };
        columns
            .iter()
            .map(|c| value(c))
            .collect::<Vec<_>>()
            .join("\t")
    };
    let report = format!(
        "{}\n{}\n{}\n",
        columns.join("\t"),
        row("111-0000000-0000001", "SKU-T"),
        row("111-0000000-0000002", "SKU-PLAIN")
    );
    let read = packline::amazon::actionable::parse_actionable_orders(
        report.as_bytes(),
        ACTIONABLE_REPORT,
        Some("ATVPDKIKX0DER"),
    )
    .unwrap();
    assert_eq!(read.orders.len(), 2, "{:?}", read.refused);

    // Amazon's searchOrders said SKU-T is a Transparency item.
    let dir = tempfile::tempdir().unwrap();
    let svc = Service::new(
        unlocked_store(dir.path()),
        crate::common::floor::settings_v2(None),
    );
    let mut seen = order_json(
        &person("111-0000000-0000009", "Sam Seen"),
        "UNSHIPPED",
        "2026-11-23T10:00:00Z",
    );
    seen["orderItems"][0]["product"]["sellerSku"] = "SKU-T".into();
    seen["orderItems"][0]["programs"] = serde_json::json!(["TRANSPARENCY"]);
    let page = serde_json::to_vec(&serde_json::json!({ "orders": [seen] })).unwrap();
    let page = packline::amazon::parse_search_orders(&page, "p").unwrap();
    assert!(page.orders[0].order.lines[0].unit_codes.transparency);
    let now = t("2026-11-23T11:00:00Z");
    svc.import_page(page.orders, Vec::new(), "searchOrders", "lead", now)
        .unwrap();
    svc.import_page(read.orders, read.refused, ACTIONABLE_REPORT, "lead", now)
        .unwrap();
    let codes = |id: &str| {
        let id = packline::domain::OrderId::parse(id).unwrap();
        svc.with_store(|s| s.get(&id)).unwrap().unwrap().order.lines[0].unit_codes
    };
    assert!(codes("111-0000000-0000001").transparency);
    assert!(!codes("111-0000000-0000001").serial);
    assert_eq!(codes("111-0000000-0000002"), Default::default());
}
