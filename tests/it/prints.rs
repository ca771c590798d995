//! Print jobs finish or say why not: a command that queues prints waits for them and reports
//! what the printer took; `packline prints` lists the queue and `prints retry` sends failed jobs
//! again; jobs a process left queued are sent by the next one to open the store.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use crate::common::*;
use packline::domain::OrderId;
use packline::service::Service;
use packline::store::shipping::{Document, JobState};
use serde_json::Value;

/// A command's JSON answer, checked against the JSON contract (docs/json.md).
fn json_of(out: &Output, args: &[&str]) -> Value {
    let text = String::from_utf8_lossy(&out.stdout);
    assert_json_contract(&text, &format!("{args:?}"))
}

fn json(site: &Site, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let out = site.run_unlocked(&all);
    assert_ok(&out, &all);
    json_of(&out, &all)
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Picks every unit of a claimed batch, finishes it, and packs each of its orders in box S.
fn pick_and_pack(site: &Site, claim: &Value) {
    let b = claim["id"].as_u64().unwrap().to_string();
    for line in claim["lines"].as_array().unwrap() {
        for _ in 0..line["needed"].as_u64().unwrap() {
            json(site, &["pick", "scan", &b, line["sku"].as_str().unwrap()]);
        }
    }
    json(site, &["pick", "finish", &b]);
    for o in claim["orders"].as_array().unwrap() {
        let o = o.as_str().unwrap();
        let check = json(site, &["pack", "start", o]);
        for l in check["lines"].as_array().unwrap() {
            for _ in 0..l["needed"].as_u64().unwrap() {
                json(site, &["pack", "scan", o, l["sku"].as_str().unwrap()]);
            }
        }
        json(
            site,
            &["pack", "finish", o, "--box", "S", "--weight", "500"],
        );
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// With no daemon: a claim with `print_at_claim = "both"` leaves the pick sheet and every slip;
/// a wave of 12 labels to a `file:` printer leaves 12 files and says 12 printed; a wave whose
/// printer cannot be written says which failed and exits 1; `prints --failed` lists the failed
/// jobs with the reason and `prints retry --failed` prints them once the printer is there.
#[test]
fn a_command_that_prints_waits_for_the_printer_and_tells_the_truth() {
    let m = marketplace(14, "1000");
    let (_creds, amazon) = amazon_config(&m);
    let prints = tempfile::tempdir().unwrap();
    let labels = prints.path().join("labels");
    let slips = prints.path().join("slips");
    std::fs::create_dir(&labels).unwrap();
    std::fs::create_dir(&slips).unwrap();
    let site = Site::new(&format!(
        "{amazon}[shipping]\napi = \"shipping-v2\"\nlabel_printer = {:?}\nslip_printer = {:?}\n\
         [shipping.from]\nname = \"Example Goods\"\nline1 = \"1 Dock Road\"\ncity = \"Reno\"\nstate = \"NV\"\npostal_code = \"89501\"\ncountry_code = \"US\"\nphone = \"7755550100\"\nemail = \"ship@example.com\"\n\
         [floor]\nbatch_size = 12\nprint_at_claim = \"both\"\nboxes = [{{ name = \"S\", mm = [200, 150, 100] }}]\n",
        format!("file:{}", labels.display()),
        format!("file:{}", slips.display()),
    ));
    site.init_identity_keys();
    site.ok(&["sync", "--once"]);

    // The claim's paperwork: the sheet, then a slip per order, each a file once the command ends.
    let claim = json(&site, &["pick", "claim"]);
    let orders = claim["orders"].as_array().unwrap().len();
    assert_eq!(orders, 12, "{claim}");
    let jobs = claim["prints"].as_array().unwrap();
    assert_eq!(jobs.len(), 13, "{claim}");
    assert!(jobs.iter().all(|j| j["state"] == "sent"), "{claim}");
    let made = files_in(&slips);
    assert_eq!(made.len(), 13, "{made:?}");
    assert_eq!(
        made.iter().filter(|f| f.contains("_pick_sheet-")).count(),
        1,
        "{made:?}"
    );
    pick_and_pack(&site, &claim);

    // The wave: twelve labels bought, and twelve printed before the command says so.
    let args = ["label", "buy", "--all-packed"];
    let out = site.run_unlocked(&args);
    assert_ok(&out, &args);
    let text = stdout(&out);
    assert_eq!(
        text.lines().last(),
        Some("12 order(s) bought, 0 need a person, labels: 12 printed"),
        "{text}"
    );
    assert_eq!(files_in(&labels).len(), 12);

    // A wave to a printer that cannot be written: it says which failed, and why, and exits 1.
    let claim = json(&site, &["pick", "claim"]);
    assert_eq!(claim["orders"].as_array().unwrap().len(), 2, "{claim}");
    pick_and_pack(&site, &claim);
    let missing = labels.join("missing");
    let printer = format!("file:{}", missing.display());
    let args = ["label", "buy", "--all-packed", "--printer", &printer];
    let out = site.run_unlocked(&args);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    let last = text.lines().last().unwrap();
    let prefix = format!(
        "2 order(s) bought, 0 need a person, labels: 0 printed, 2 failed: printer {printer}: {}/",
        missing.display()
    );
    assert!(last.starts_with(&prefix), "{last}\nwanted {prefix}…");
    assert!(
        last.ends_with(": No such file or directory (os error 2)"),
        "{last}"
    );
    let mut failed_ids = Vec::new();
    for o in claim["orders"].as_array().unwrap() {
        let line = text
            .lines()
            .find(|l| l.contains(&format!("(order {} label) failed: ", o.as_str().unwrap())))
            .unwrap_or_else(|| panic!("no line for {o}: {text}"));
        failed_ids.push(
            line.strip_prefix("print job ")
                .and_then(|l| l.split_once(' '))
                .unwrap()
                .0
                .to_owned(),
        );
    }

    // `prints --failed` lists them with the reason; `prints` lists every job.
    let failed = json(&site, &["prints", "--failed"]);
    let failed = failed.as_array().unwrap();
    assert_eq!(failed.len(), 2, "{failed:?}");
    for j in failed {
        assert_eq!(j["state"], "failed");
        assert_eq!(j["printer"], printer.as_str());
        assert!(failed_ids.contains(&j["id"].to_string()), "{j}");
        let why = j["error"].as_str().unwrap();
        assert!(
            why.starts_with(&format!("printer {printer}: ")) && why.ends_with("(os error 2)"),
            "{why}"
        );
    }
    assert_eq!(
        json(&site, &["prints"]).as_array().unwrap().len(),
        13 + 12 + 3 + 2
    );
    let listed = site.ok(&["prints", "--failed"]);
    assert_eq!(listed.lines().count(), 2, "{listed}");
    assert!(
        listed
            .lines()
            .all(|l| l.contains(" failed  ") && l.contains(": printer file:")),
        "{listed}"
    );

    // A retry of a job that printed is refused; once the printer is there, the failed ones print.
    let printed_id = json(&site, &["prints"])[0]["id"].to_string();
    let out = site.run_unlocked(&["prints", "retry", &printed_id]);
    assert_fails(
        &out,
        &format!("print job {printed_id} is printed: only a failed job is sent again"),
    );
    std::fs::create_dir(&missing).unwrap();
    let args = ["prints", "retry", "--failed"];
    let out = site.run_unlocked(&args);
    assert_ok(&out, &args);
    assert_eq!(stdout(&out), "2 printed\n");
    assert_eq!(files_in(&missing).len(), 2);
    assert_eq!(json(&site, &["prints", "--failed"]), serde_json::json!([]));
    let out = site.run_unlocked(&["prints", "retry", "--failed"]);
    assert_fails(&out, "no print job has failed");
}

/// Jobs a process left queued: one never begun is sent by the next process to open the store;
/// one cut short while being sent may have printed, so it is marked failed for a person.
#[test]
fn jobs_left_queued_are_sent_by_the_next_process() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("prints");
    std::fs::create_dir(&out).unwrap();
    let printer = format!("file:{}", out.display());
    let data = dir.path().join("data");
    let (left, cut) = {
        let mut store = unlocked_store(dir.path());
        let sheet = OrderId::parse("903-0000001-0000001").unwrap();
        let now = chrono::Utc::now();
        let p = person(sheet.as_str(), "Ann Example");
        imp(&mut store, &[&p], "UNSHIPPED", "2026-11-23T10:00:00Z", now);
        let left = store
            .queue_print(&sheet, Document::SlipZpl, &printer, "lead", now)
            .unwrap();
        let mut cut = store
            .queue_print(&sheet, Document::SlipZpl, &printer, "lead", now)
            .unwrap();
        cut.attempts = 1;
        store.save_print_job(&cut).unwrap();
        (left.id, cut.id)
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut store = packline::store::Store::open(&data).unwrap();
        let key = dir.path().join("master.key");
        store
            .unlock(&packline::store::MasterSource::IdentityFile(key))
            .unwrap();
        let settings = settings_of("lead");
        let service = Service::new(store, settings);
        assert!(service.prints_idle(Duration::from_secs(30)).await);
        let jobs = service.with_store(|s| s.print_jobs().unwrap());
        let state = |id| jobs.iter().find(|j| j.id == id).unwrap().clone();
        assert_eq!(state(left).state, JobState::Sent, "{:?}", state(left));
        assert_eq!(state(cut).state, JobState::Failed);
        assert_eq!(
            state(cut).error.as_deref(),
            Some(
                "cut short by a restart while being sent: it may have printed; look at the printer, then retry it if it did not (packline prints retry ID)"
            )
        );
    });
    assert_eq!(files_in(&out).len(), 1);
}

/// `prints retry` is for a lead and for whoever asked for the job, checked in the service; a
/// packer lists only their own jobs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_job_is_retried_by_its_owner_or_a_lead_only() {
    use packline::service::client::Client;
    use packline::service::{ServiceError, ops};
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("prints");
    std::fs::create_dir(&out).unwrap();
    let mut store = unlocked_store(dir.path());
    let order = OrderId::parse("903-0000001-0000001").unwrap();
    let now = chrono::Utc::now();
    let p = person(order.as_str(), "Ann Example");
    imp(&mut store, &[&p], "UNSHIPPED", "2026-11-23T10:00:00Z", now);
    let mut job = store
        .queue_print(
            &order,
            Document::SlipZpl,
            &format!("file:{}", out.display()),
            "bob",
            now,
        )
        .unwrap();
    job.state = JobState::Failed;
    job.attempts = 3;
    job.error = Some("printer file:/gone: No such file or directory (os error 2)".into());
    store.save_print_job(&job).unwrap();
    let mut settings = settings_of("ann");
    settings.roles = packline::config::RolesConfig {
        leads: vec!["ann".into()],
        labelers: vec!["bob".into()],
        packers: vec!["carl".into()],
    };
    let service = Service::new(store, settings);
    let carl = Client::local(service.clone(), "carl").unwrap();
    let bob = Client::local(service.clone(), "bob").unwrap();
    let retry = |id| ops::RetryPrints {
        id: Some(id),
        failed: false,
    };

    assert_eq!(carl.call(ops::PrintJobs::default()).await.unwrap(), vec![]);
    let refused = carl.call(retry(job.id)).await.unwrap_err();
    assert!(matches!(refused, ServiceError::Forbidden { .. }));
    assert_eq!(
        refused.to_string(),
        format!(
            "sending print job {} again (asked for by bob) is for a lead or above; carl is a packer",
            job.id
        )
    );
    let refused = carl
        .call(ops::RetryPrints {
            id: None,
            failed: true,
        })
        .await
        .unwrap_err();
    assert_eq!(refused.to_string(), "no print job of carl has failed");
    let none = bob.call(ops::RetryPrints::default()).await.unwrap_err();
    assert_eq!(
        none.to_string(),
        "name one print job (its id, from packline prints) or --failed"
    );

    let again = bob.call(retry(job.id)).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].state, JobState::Queued);
    assert!(service.prints_idle(Duration::from_secs(30)).await);
    let listed = bob.call(ops::PrintJobs::default()).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].state, JobState::Sent, "{listed:?}");
    assert_eq!(listed[0].error, None);
    assert_eq!(files_in(&out).len(), 1);
    let twice = bob.call(retry(job.id)).await.unwrap_err();
    assert_eq!(
        twice.to_string(),
        format!(
            "print job {} is printed: only a failed job is sent again",
            job.id
        )
    );
}

fn os_user() -> String {
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .unwrap()
        .unwrap()
        .name
}

/// Pack and ship at one bench: `pack finish --label` (and `[floor] label_at_pack`) buys the
/// order's label by the site's rule and prints it on the packer's printer before the command
/// says so; a packer buys no other way; a purchase that fails leaves the order packed for the
/// labeler, with the reason, and the command exits 1.
#[test]
fn a_packer_buys_and_prints_the_label_as_the_last_box_closes() {
    let m = marketplace(3, "1000");
    let (_creds, amazon) = amazon_config(&m);
    let prints = tempfile::tempdir().unwrap();
    let labels = prints.path().join("labels");
    std::fs::create_dir(&labels).unwrap();
    let shipping = format!(
        "{amazon}[shipping]\napi = \"shipping-v2\"\nlabel_printer = {:?}\n",
        format!("file:{}", labels.display()),
    );
    let from = SHIP_FROM;
    let floor = "[floor]\nbatch_size = 3\nboxes = [{ name = \"S\", mm = [200, 150, 100] }]\n";
    let site = Site::new(&format!("{shipping}{from}{floor}"));
    site.init_identity_keys();
    site.ok(&["sync", "--once"]);
    // From here on the OS user is a packer (the site's lead until a list names someone).
    let head = std::fs::read_to_string(&site.config).unwrap();
    let packer = format!(
        "[roles]\nleads = [\"nobody-here\"]\npackers = [{:?}]\n",
        os_user()
    );
    std::fs::write(&site.config, format!("{head}{packer}")).unwrap();

    let claim = json(&site, &["pick", "claim"]);
    let orders: Vec<String> = claim["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(orders.len(), 3, "{claim}");
    let b = claim["id"].as_u64().unwrap().to_string();
    for line in claim["lines"].as_array().unwrap() {
        for _ in 0..line["needed"].as_u64().unwrap() {
            json(&site, &["pick", "scan", &b, line["sku"].as_str().unwrap()]);
        }
    }
    json(&site, &["pick", "finish", &b]);
    let scan_all = |o: &str| {
        let check = json(&site, &["pack", "start", o]);
        for l in check["lines"].as_array().unwrap() {
            for _ in 0..l["needed"].as_u64().unwrap() {
                json(&site, &["pack", "scan", o, l["sku"].as_str().unwrap()]);
            }
        }
    };

    // On demand: the label is bought and printed before the command says so.
    let o = &orders[0];
    scan_all(o);
    let args = [
        "pack", "finish", o, "--box", "S", "--weight", "500", "--label",
    ];
    let out = site.run_unlocked(&args);
    assert_ok(&out, &args);
    let text = stdout(&out);
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some(format!("order {o} is labelled").as_str())
    );
    let printed = lines.next().unwrap_or_default();
    assert!(printed.starts_with("label printed: "), "{text}");
    let tracking = printed.rsplit(' ').next().unwrap();
    let carrier = printed
        .strip_prefix("label printed: ")
        .and_then(|p| p.strip_suffix(tracking))
        .unwrap()
        .trim();
    assert!(["UPS", "USPS", "FedEx"].contains(&carrier), "{text}");
    assert_eq!(lines.next(), None, "{text}");
    let made = files_in(&labels);
    assert_eq!(made.len(), 1, "{made:?}");
    assert!(made[0].starts_with(o.as_str()), "{made:?}");
    let looked = json(&site, &["lookup", "--order", o]);
    assert!(looked.to_string().contains(tracking), "{looked}");

    // The packer buys no other way: `label buy` stays a labeler's.
    let out = site.run_unlocked(&["label", "buy", &orders[1]]);
    assert_fails(&out, "buying a label is for a labeler or above");

    // A purchase that fails (no ship-from address) leaves the order packed, with the reason.
    let with_from = std::fs::read_to_string(&site.config).unwrap();
    std::fs::write(&site.config, with_from.replace(from, "")).unwrap();
    let o = &orders[1];
    scan_all(o);
    let args = [
        "pack", "finish", o, "--box", "S", "--weight", "500", "--label",
    ];
    let out = site.run_unlocked(&args);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert_eq!(
        stdout(&out),
        format!(
            "order {o} is packed\nlabel not bought: no ship-from address: set [shipping.from] in the config; order {o} waits for the labeler\n"
        )
    );
    assert_eq!(files_in(&labels).len(), 1);
    assert_eq!(
        json(&site, &["lookup", "--order", o])["state"],
        "packed",
        "the order waits for the labeler"
    );

    // `[floor] label_at_pack`: every finish at this user's bench does the same.
    let own = format!("{floor}[floor.users.{}]\nlabel_at_pack = true\n", os_user());
    std::fs::write(&site.config, with_from.replace(floor, &own)).unwrap();
    let o = &orders[2];
    scan_all(o);
    let args = ["pack", "finish", o, "--box", "S", "--weight", "500"];
    let out = site.run_unlocked(&args);
    assert_ok(&out, &args);
    let text = stdout(&out);
    assert!(
        text.starts_with(&format!("order {o} is labelled\nlabel printed: ")),
        "{text}"
    );
    assert_eq!(files_in(&labels).len(), 2);
}
