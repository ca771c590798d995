//! Messages to customers, only through Amazon: the service, the real client and the training
//! marketplace over loopback HTTP. A message of an allowed kind reaches the marketplace once, is
//! audited (order, kind, who; never the text) and noted, sealed, on the order's open inquiry; a
//! kind the order does not allow, a text against Amazon's rules and a packer never get a message
//! out; every request body and every answer validates against the official model
//! `messaging.json`; and there is no e-mail code path anywhere in packline.

use std::path::Path;
use std::time::Duration;

use crate::common::*;
use packline::amazon::messaging::{MessageKind, message_body};
use packline::amazon::orders::{ConfirmItem, ConfirmShipment, PackageDetail};
use packline::amazon::throttle::UsagePlan;
use packline::domain::OrderId;
use packline::domain::inquiry::{InquiryCategory, NoteKind, NoteText};
use packline::domain::message::MessageText;
use packline::service::ServiceError;
use packline::service::ops::{self, MessageSent, SendMessage};
use serde_json::{Value, json};

const MODEL: &str = include_str!("../spapi-models/messaging.json");

/// A site with the marketplace's orders synced; this OS user is its lead, `bo` a packer.
async fn floor() -> Floor {
    Floor::builder(marketplace(3, "1000"))
        .lead_and_packer()
        .synced()
        .await
}

/// The marketplace's Messaging requests, as (operation, order, status).
fn messaging_log(m: &Marketplace) -> Vec<(String, String, u64)> {
    request_log(m)
        .iter()
        .filter(|r| {
            let op = r["operation"].as_str().unwrap();
            op == "getMessagingActionsForOrder"
                || MessageKind::ALL.iter().any(|k| k.operation() == op)
        })
        .map(|r| {
            (
                r["operation"].as_str().unwrap().to_owned(),
                r["params"]["orderId"].as_str().unwrap().to_owned(),
                r["status"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn entry(operation: &str, order: &str, status: u64) -> (String, String, u64) {
    (operation.to_owned(), order.to_owned(), status)
}

fn send(order: &str, kind: &str, text: Option<&str>) -> SendMessage {
    SendMessage {
        order: order.into(),
        kind: kind.into(),
        text: text.map(MessageText::typed),
    }
}

fn refusal_text(e: ServiceError) -> String {
    e.to_string()
}

/// Closes the service's store and reads its audit log from disk.
fn audit_after(f: Floor) -> (Vec<Value>, Marketplace, tempfile::TempDir) {
    let (dir, market, service) = f.close();
    drop(service.into_store_within(Duration::from_secs(5)).ok());
    let entries = audit_entries(&dir.path().join("data"));
    (entries, market, dir)
}

const SECRET: &str = "Jane Q. Buyer asked for the teal lid";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowed_message_reaches_amazon_once_audited_and_noted_on_the_inquiry() {
    let f = floor().await;
    let ids = training_order_ids(&f.market);
    let text = format!("Hello! {SECRET}: we have it in teal and blue. Which one would you like?");
    let q = f
        .client
        .call(ops::OpenInquiry {
            order: ids[0].clone(),
            category: InquiryCategory::Other,
            note: NoteText::new("buyer wrote about the lid").unwrap(),
        })
        .await
        .unwrap();

    let sent: MessageSent = f
        .client
        .call(send(&ids[0], "confirmOrderDetails", Some(&text)))
        .await
        .unwrap();
    assert_eq!(sent.order.as_str(), ids[0]);
    assert_eq!(sent.kind, MessageKind::ConfirmOrderDetails);
    assert_eq!(sent.inquiry, Some(q.id));
    assert_eq!(sent.by, whoami());

    // Asked once, sent once, and the text arrived whole (its length) but is not in the log.
    assert_eq!(
        messaging_log(&f.market),
        [
            entry("getMessagingActionsForOrder", &ids[0], 200),
            entry("createConfirmOrderDetails", &ids[0], 201),
        ]
    );
    let log = request_log(&f.market);
    let send_entry = log
        .iter()
        .find(|r| r["operation"] == "createConfirmOrderDetails")
        .unwrap();
    assert_eq!(
        send_entry["params"]["textLength"],
        text.chars().count().to_string()
    );
    assert_eq!(send_entry["params"]["marketplaceIds"], "ATVPDKIKX0DER");
    assert!(!serde_json::to_string(&log).unwrap().contains("teal"));

    // The inquiry has the message as a note, readable by a lead.
    let read = f.client.call(ops::ReadInquiry { id: q.id }).await.unwrap();
    let kinds: Vec<NoteKind> = read.notes.iter().map(|n| n.meta.kind).collect();
    assert_eq!(kinds, [NoteKind::Opened, NoteKind::Message]);
    assert_eq!(read.notes[1].text.as_str(), text);
    assert_eq!(read.notes[1].meta.by, whoami());

    // Without an open inquiry, the message is audited only.
    let sent = f
        .client
        .call(send(
            &ids[1],
            "unexpectedProblem",
            Some("Your order is delayed by a day."),
        ))
        .await
        .unwrap();
    assert_eq!(sent.inquiry, None);

    let (entries, _market, dir) = audit_after(f);
    let messages: Vec<(String, String, String, String)> = entries
        .iter()
        .filter(|e| e["action"].as_str().unwrap().starts_with("message"))
        .map(|e| {
            (
                e["user"].as_str().unwrap().to_owned(),
                e["action"].as_str().unwrap().to_owned(),
                e["order"].as_str().unwrap().to_owned(),
                e["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        messages,
        [
            (
                whoami(),
                "message_sent".to_owned(),
                ids[0].clone(),
                format!("confirmOrderDetails; noted on inquiry {}", q.id)
            ),
            (
                whoami(),
                "message_sent".to_owned(),
                ids[1].clone(),
                "unexpectedProblem".to_owned()
            ),
        ]
    );
    let all = serde_json::to_string(&entries).unwrap();
    assert!(!all.contains("teal") && !all.contains("delayed"), "{all}");
    // The note is sealed: no file of the site holds the text.
    for file in files_under(dir.path()) {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            find(&bytes, SECRET.as_bytes()).is_none(),
            "{} holds the text",
            file.display()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_kinds_texts_and_callers_never_get_a_message_out() {
    let f = floor().await;
    let ids = training_order_ids(&f.market);
    let unshipped = &ids[0];

    // Refused here, before anything is asked of Amazon.
    let local: Vec<(SendMessage, String)> = vec![
        (
            send(unshipped, "confirmDeliveryDetails", Some(&"x".repeat(2001))),
            "the text of the confirmDeliveryDetails message is 2001 characters long; Amazon takes at most 2000 for this kind of message: shorten it".into(),
        ),
        (
            send(unshipped, "confirmCustomizationDetails", Some(&"é".repeat(801))),
            "the text of the confirmCustomizationDetails message is 801 characters long; Amazon takes at most 800 for this kind of message: shorten it".into(),
        ),
        (
            send(unshipped, "confirmOrderDetails", Some("Hi <b>Jane</b>")),
            "the text of the confirmOrderDetails message has HTML at character 4 (a tag such as <b> or an entity such as &amp;): Amazon takes plain text only".into(),
        ),
        (
            send(unshipped, "confirmOrderDetails", Some("Write to jane@example.com")),
            "the text of the confirmOrderDetails message has an e-mail address at character 10: Amazon forbids e-mail addresses in messages (the buyer answers through Amazon)".into(),
        ),
        (
            send(unshipped, "unexpectedProblem", None),
            "the unexpectedProblem message needs a text".into(),
        ),
        (
            send(unshipped, "unexpectedProblem", Some("  \n ")),
            "the text of the unexpectedProblem message is empty: a message needs a text".into(),
        ),
        (
            send(unshipped, "warranty", Some("see attached")),
            "a warranty message carries documents uploaded through Amazon's Uploads API, which packline does not send: send it from Seller Central".into(),
        ),
        (
            send(unshipped, "email", Some("hello")),
            "\"email\" is not a kind of message: use one of confirmCustomizationDetails, confirmDeliveryDetails, confirmOrderDetails, confirmServiceDetails, unexpectedProblem, digitalAccessKey, legalDisclosure, warranty, invoice".into(),
        ),
    ];
    for (op, says) in local {
        let err = f.client.call(op).await.unwrap_err();
        assert!(matches!(err, ServiceError::Invalid(_)), "{err:?}");
        assert_eq!(refusal_text(err), says);
    }
    let err = f
        .packer()
        .call(send(
            unshipped,
            "confirmOrderDetails",
            Some("Which colour?"),
        ))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "sending a message to a customer is for a lead or above; bo is a packer"
    );
    assert!(messaging_log(&f.market).is_empty());

    // Allowed before shipment: sent.
    f.client
        .call(send(
            unshipped,
            "confirmDeliveryDetails",
            Some("Please confirm your gate code."),
        ))
        .await
        .unwrap();
    // A kind the order does not allow (once shipped, or never for these goods): asked, refused,
    // never sent.
    let api = training_api(&f.market, Duration::from_secs(5));
    let order: packline::amazon::ImportedOrder = api
        .get_order(&OrderId::parse(&ids[1]).unwrap())
        .await
        .unwrap();
    let line = &order.order.lines[0];
    api.confirm_shipment(
        &order.order.id,
        &ConfirmShipment {
            marketplace_id: "ATVPDKIKX0DER".into(),
            package_detail: PackageDetail {
                package_reference_id: "1".into(),
                carrier_code: "UPS".into(),
                carrier_name: None,
                shipping_method: None,
                tracking_number: "1Z999AA10123456784".into(),
                ship_date: "2026-11-29T10:00:00Z".into(),
                order_items: vec![ConfirmItem {
                    order_item_id: line.item_id.clone(),
                    quantity: line.quantity_ordered,
                    transparency_codes: Vec::new(),
                }],
            },
        },
    )
    .await
    .unwrap();
    let shipped = &ids[1];
    let err = f
        .client
        .call(send(shipped, "confirmOrderDetails", Some("Which colour?")))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "Amazon does not allow a confirmOrderDetails message for order {shipped} now; it allows: confirmDeliveryDetails, unexpectedProblem"
        )
    );
    let err = f
        .client
        .call(send(unshipped, "digitalAccessKey", Some("Your key: 1234")))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "Amazon does not allow a digitalAccessKey message for order {unshipped} now; it allows: confirmCustomizationDetails, confirmDeliveryDetails, confirmOrderDetails, unexpectedProblem"
        )
    );
    // The longest text a kind takes goes, whole.
    f.client
        .call(send(shipped, "unexpectedProblem", Some(&"ü".repeat(2000))))
        .await
        .unwrap();
    assert_eq!(
        messaging_log(&f.market),
        [
            entry("getMessagingActionsForOrder", unshipped, 200),
            entry("createConfirmDeliveryDetails", unshipped, 201),
            entry("getMessagingActionsForOrder", shipped, 200),
            entry("getMessagingActionsForOrder", unshipped, 200),
            entry("getMessagingActionsForOrder", shipped, 200),
            entry("createUnexpectedProblem", shipped, 201),
        ]
    );
    let log = request_log(&f.market);
    let last = log.last().unwrap();
    assert_eq!(last["params"]["textLength"], "2000");
}

/// A message whose answer never came is not sent again, and is audited as unknown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_whose_answer_was_lost_is_never_resent() {
    let f = floor().await;
    let ids = training_order_ids(&f.market);
    http(
        &f.market,
        "POST",
        "/_training/faults/createUnexpectedProblem/500",
    );
    let err = f
        .client
        .call(send(
            &ids[2],
            "unexpectedProblem",
            Some("Your order is delayed."),
        ))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "createUnexpectedProblem: the outcome is unknown (Amazon answered 500); Amazon may have acted on it: check before trying again: the buyer may have it; look in Seller Central's Buyer-Seller Messages before sending it again"
    );
    assert_eq!(
        messaging_log(&f.market),
        [
            entry("getMessagingActionsForOrder", &ids[2], 200),
            entry("createUnexpectedProblem", &ids[2], 500),
        ]
    );
    let (entries, _, _) = audit_after(f);
    let last = entries.last().unwrap();
    assert_eq!(
        (
            last["action"].as_str(),
            last["order"].as_str(),
            last["reason"].as_str()
        ),
        (
            Some("message_outcome_unknown"),
            Some(ids[2].as_str()),
            Some("unexpectedProblem")
        )
    );
}

/// The kinds, their operations, paths, body shapes, limits and quota are the model's.
#[test]
fn the_kinds_are_the_models() {
    let model: Value = serde_json::from_str(MODEL).unwrap();
    let order = OrderId::parse("123-1234567-1234567").unwrap();
    let mut paths: Vec<String> = model["paths"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|p| p.contains("/messages/"))
        .cloned()
        .collect();
    paths.sort();
    let mut ours: Vec<String> = MessageKind::ALL
        .iter()
        .map(|k| {
            format!(
                "/messaging/v1/orders/{{amazonOrderId}}/messages/{}",
                k.name()
            )
        })
        .collect();
    ours.sort();
    assert_eq!(paths, ours);
    for k in MessageKind::ALL {
        let post = &model["paths"][format!(
            "/messaging/v1/orders/{{amazonOrderId}}/messages/{}",
            k.name()
        )]["post"];
        assert_eq!(post["operationId"], k.operation(), "{k}");
        let body = post["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["in"] == "body")
            .unwrap();
        assert_eq!(
            body["schema"]["$ref"],
            format!("#/definitions/{}", k.request_definition())
        );
        let text = &model["definitions"][k.request_definition()]["properties"]["text"];
        assert_eq!(
            text["maxLength"].as_u64().map(|n| n as usize),
            k.max_chars(),
            "{k}"
        );
        assert_eq!(
            k.path(&order),
            format!(
                "/messaging/v1/orders/123-1234567-1234567/messages/{}",
                k.name()
            )
        );
        // Every operation but sendInvoice publishes its usage plan: 1 a second, burst 5.
        let doc = post["description"].as_str().unwrap();
        if k != MessageKind::Invoice {
            assert!(doc.contains("| 1 | 5 |"), "{k}: {doc}");
        }
    }
    assert_eq!(
        UsagePlan::MESSAGING,
        UsagePlan {
            rate: 1.0,
            burst: 5.0
        }
    );
}

/// Every body packline sends validates against its kind's request definition, at the longest
/// text the kind takes; one character more is what the model refuses too.
#[test]
fn every_request_body_validates_against_the_official_model() {
    for k in MessageKind::ALL {
        let Some(max) = k.max_chars() else { continue };
        let v = validator_in(MODEL, k.request_definition());
        let text = MessageText::new("ü".repeat(max), max).unwrap();
        let body = message_body(&text);
        assert_valid(&v, std::str::from_utf8(&body).unwrap(), k.name());
        let plain = MessageText::new("Your parcel leaves today.", max).unwrap();
        assert_valid(
            &v,
            std::str::from_utf8(&message_body(&plain)).unwrap(),
            k.name(),
        );
        assert!(!v.is_valid(&json!({ "text": "ü".repeat(max + 1) })), "{k}");
        assert!(!v.is_valid(&json!({ "text": "" })), "{k}");
    }
}

#[test]
fn every_answer_validates_against_the_official_model() {
    // Amazon's real quota: 1 a second, burst 5.
    let m = marketplace(2, "1");
    let ids = training_order_ids(&m);
    let lwa = ("x-amz-access-token", "Atza|training-test");
    let json_type = ("content-type", "application/json");
    let actions = validator_in(MODEL, "GetMessagingActionsForOrderResponse");
    let q = "?marketplaceIds=ATVPDKIKX0DER";
    let path = format!("/messaging/v1/orders/{}{q}", ids[0]);
    let statuses: Vec<u16> = (0..6)
        .map(|_| {
            let (status, body) = http_with(&m, "GET", &path, &[lwa]);
            assert_valid(&actions, &body, "getMessagingActionsForOrder");
            status
        })
        .collect();
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429]);
    std::thread::sleep(Duration::from_millis(1100));
    let (status, body) = http_with(&m, "GET", &path, &[lwa]);
    assert_eq!(status, 200, "{body}");
    let names: Vec<String> = packline::amazon::messaging::parse_actions(body.as_bytes()).unwrap();
    assert_eq!(
        names,
        [
            "confirmCustomizationDetails",
            "confirmDeliveryDetails",
            "confirmOrderDetails",
            "unexpectedProblem",
            "legalDisclosure"
        ]
    );
    let hal: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        hal["_links"]["actions"][2]["href"],
        format!(
            "/messaging/v1/orders/{}/messages/confirmOrderDetails{q}",
            ids[0]
        )
    );
    assert_eq!(
        hal["_embedded"]["actions"][2]["_links"]["schema"]["href"],
        format!(
            "/messaging/v1/orders/{}/messages/confirmOrderDetails/schema",
            ids[0]
        )
    );

    let order_details = validator_in(MODEL, "CreateConfirmOrderDetailsResponse");
    let message = |kind: &str, body: &str| {
        http_send(
            &m,
            "POST",
            &format!("/messaging/v1/orders/{}/messages/{kind}{q}", ids[0]),
            &[lwa, json_type],
            body,
        )
    };
    let (status, body) = message("confirmOrderDetails", r#"{"text":"Teal or blue?"}"#);
    assert_eq!((status, body.as_str()), (201, "{}"));
    assert_valid(&order_details, &body, "createConfirmOrderDetails");
    for (kind, request, status, code, says) in [
        (
            "confirmOrderDetails",
            json!({ "text": "x".repeat(2001) }).to_string(),
            400,
            "InvalidInput",
            "text must be between 1 and 2000 characters long.",
        ),
        (
            "confirmOrderDetails",
            json!({ "text": "mail jo@example.com" }).to_string(),
            400,
            "InvalidInput",
            "text must not contain email addresses.",
        ),
        (
            "confirmOrderDetails",
            "{}".to_owned(),
            400,
            "InvalidInput",
            "text must be between 1 and 2000 characters long.",
        ),
        (
            "warranty",
            json!({ "attachments": [{ "uploadDestinationId": "u1", "fileName": "w.pdf" }] })
                .to_string(),
            403,
            "Unauthorized",
            "Invalid amazonOrderId and template combination.",
        ),
        (
            "legalDisclosure",
            json!({ "attachments": [] }).to_string(),
            400,
            "InvalidInput",
            "attachments must hold 1 to 5 files, each with uploadDestinationId and fileName.",
        ),
    ] {
        let (got, answer) = message(kind, &request);
        assert_eq!(got, status, "{kind}: {answer}");
        let def = MessageKind::parse(kind).unwrap().request_definition();
        assert_valid(
            &validator_in(MODEL, &def.replace("Request", "Response")),
            &answer,
            kind,
        );
        let a: Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(
            (
                a["errors"][0]["code"].as_str(),
                a["errors"][0]["message"].as_str()
            ),
            (Some(code), Some(says)),
            "{kind}"
        );
    }
    std::thread::sleep(Duration::from_millis(1100));
    let (status, body) = http_with(
        &m,
        "GET",
        &format!("/messaging/v1/orders/999-0000000-0000000{q}"),
        &[lwa],
    );
    assert_eq!(status, 404, "{body}");
    assert_valid(&actions, &body, "unknown order");
    std::thread::sleep(Duration::from_millis(1100));
    let (status, body) = http_with(
        &m,
        "GET",
        &format!("/messaging/v1/orders/{}", ids[0]),
        &[lwa],
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("marketplaceIds is required."), "{body}");
    let (status, _) = http_with(&m, "GET", &path, &[]);
    assert_eq!(status, 403);
    // The log keeps the text's length, never the text.
    let log = serde_json::to_string(&request_log(&m)).unwrap();
    assert!(
        !log.contains("Teal") && !log.contains("jo@example"),
        "{log}"
    );
}

/// Every `.rs` file under `dir`, as (path relative to the repository, text).
fn sources(root: &Path, dir: &str) -> Vec<(String, String)> {
    files_under(&root.join(dir))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .map(|p| {
            (
                p.strip_prefix(root).unwrap().display().to_string(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect()
}

/// There is no e-mail code path: no crate that sends mail, no SMTP, no `sendmail`, no `mailto:`
/// link made anywhere; the one `email` field is the ship-from address's, which Merchant
/// Fulfillment's `Address` requires (and which the seller sets in `[shipping] from`).
#[test]
fn there_is_no_e_mail_code_path() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest: toml::Value =
        toml::from_str(&std::fs::read_to_string(root.join("Cargo.toml")).unwrap()).unwrap();
    // Every crate of the workspace: packline's own and those under crates/.
    let mut manifests = vec![("Cargo.toml".to_owned(), manifest.clone())];
    for dir in std::fs::read_dir(root.join("crates")).unwrap() {
        let path = dir.unwrap().path().join("Cargo.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        manifests.push((path.display().to_string(), toml::from_str(&text).unwrap()));
    }
    assert!(manifests.len() > 1, "no crate found under crates/");
    let mail_like = |name: &str| {
        let n = name.to_ascii_lowercase();
        n.contains("mail") || n.contains("smtp") || n.contains("lettre")
    };
    for (path, manifest) in &manifests {
        for table in ["dependencies", "dev-dependencies", "build-dependencies"] {
            if let Some(deps) = manifest.get(table).and_then(toml::Value::as_table) {
                let found: Vec<&String> = deps.keys().filter(|k| mail_like(k)).collect();
                assert!(found.is_empty(), "{path} [{table}]: {found:?}");
            }
        }
    }
    // The lock: the only crate with "mail" in its name is `email_address`, the validator of the
    // `email` string format that the test-only `jsonschema` pulls in; nothing else uses it.
    let lock: toml::Value =
        toml::from_str(&std::fs::read_to_string(root.join("Cargo.lock")).unwrap()).unwrap();
    let packages = lock["package"].as_array().unwrap();
    let named: Vec<&str> = packages
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .filter(|n| mail_like(n))
        .collect();
    assert_eq!(named, ["email_address"]);
    let users: Vec<&str> = packages
        .iter()
        .filter(|p| {
            p.get("dependencies")
                .and_then(toml::Value::as_array)
                .is_some_and(|d| d.iter().any(|x| x.as_str() == Some("email_address")))
        })
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(users, ["jsonschema"]);
    assert!(manifest["dev-dependencies"].get("jsonschema").is_some());
    assert!(manifest["dependencies"].get("jsonschema").is_none());

    let mut src = sources(root, "src");
    src.extend(sources(root, "crates"));
    assert!(src.len() > 50, "{} source files", src.len());
    assert!(
        src.iter().any(|(p, _)| p.starts_with("crates/")),
        "the crates' sources are read too"
    );
    for (path, text) in &src {
        let lower = text.to_ascii_lowercase();
        for word in ["smtp", "sendmail", "lettre"] {
            assert!(!lower.contains(word), "{path} mentions {word}");
        }
        // `mailto:` appears only where the message rules refuse it.
        if lower.contains("mailto:") {
            assert_eq!(path, "crates/text/src/message.rs");
        }
    }
    // The identifier `email` (a field, or reading one) is the ship-from address's only.
    let mut uses: Vec<(String, String)> = src
        .iter()
        .flat_map(|(path, text)| {
            text.lines()
                .map(str::trim)
                .filter(|l| !l.starts_with("//"))
                .filter(|l| {
                    l.contains(".email") || l.starts_with("email:") || l.starts_with("pub email:")
                })
                .map(|l| (path.clone(), l.to_owned()))
                .collect::<Vec<_>>()
        })
        .collect();
    uses.sort();
    let expected: Vec<(String, String)> = [
        // Merchant Fulfillment's `Address` (the model requires `Email`).
        ("src/amazon/mfn.rs", "pub email: String,"),
        // Shipping API v2's `Address` (the seller's ship-from; optional in the model).
        ("src/amazon/shipping.rs", "pub email: Option<String>,"),
        // The demo's made-up ship-from.
        ("src/cli/run.rs", "email: \"training@example.com\".into(),"),
        // `[shipping] from`: the seller's own ship-from address.
        ("src/config/shipping.rs", "pub email: String,"),
        // The ship-from going into the label request.
        ("src/service/labels/mfn_v0.rs", "email: from.email.clone(),"),
        // The same ship-from, into a Shipping API v2 rate request.
        (
            "src/service/labels/shipping_v2.rs",
            "email: Some(from.email.clone()).filter(|e| !e.is_empty()),",
        ),
    ]
    .into_iter()
    .map(|(a, b): (&str, &str)| (a.to_owned(), b.to_owned()))
    .collect();
    assert_eq!(uses, expected);
}
