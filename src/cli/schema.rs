//! The JSON Schema of every `--json` answer (docs/json.md): one file per command in
//! `docs/schema/`, generated here from the very types the commands serialize, so a schema
//! cannot say one thing while the output does another. `error.json` is the shape of every
//! error on standard error. The tests below keep the files fresh and the list complete (every
//! command that takes `--json` has its schema); `tests/it/json_schema.rs` runs each command and
//! validates its answer against its file.

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Serialize;

/// The answer of a command that only succeeds: `{"ok": true}`.
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Done {
    /// Always true.
    #[schemars(schema_with = "always_true")]
    pub ok: bool,
}

fn always_true(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "const": true })
}

/// A failure, as one line on standard error: `{"error": {"kind": …, "message": …}}`.
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ErrorAnswer {
    pub error: ErrorBody,
}

#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ErrorBody {
    /// What kind of failure (`usage`, `forbidden`, `not_found`, `amazon_unavailable`, …;
    /// docs/json.md lists them).
    pub kind: String,
    /// The same sentence the text output gives; never personal data.
    pub message: String,
}

impl ErrorAnswer {
    /// The one line written to standard error.
    pub fn line(kind: &str, message: String) -> String {
        let doc = ErrorAnswer {
            error: ErrorBody {
                kind: kind.to_owned(),
                message,
            },
        };
        serde_json::to_string(&doc).expect("an error document is always JSON")
    }
}

/// The schemas themselves, made and checked by the tests (`docs/schema/` is what they wrote).
#[cfg(test)]
mod generate {
    use std::any::TypeId;

    use clap::CommandFactory;
    use schemars::generate::SchemaSettings;
    use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

    use packline::service::Operation;
    use packline::service::ops;

    use super::{Done, ErrorAnswer};

    /// One alternative of an answer's schema.
    type Part = fn(&mut SchemaGenerator) -> Schema;

    /// The schema of a type the command prints.
    fn of<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
        g.subschema_for::<T>()
    }

    /// The schema of an operation's answer as `emit` prints it: an answer that is nothing but
    /// success is `{"ok": true}`.
    fn answer<O: Operation>(g: &mut SchemaGenerator) -> Schema
    where
        O::Answer: JsonSchema,
    {
        if TypeId::of::<O::Answer>() == TypeId::of::<()>() {
            g.subschema_for::<Done>()
        } else {
            g.subschema_for::<O::Answer>()
        }
    }

    /// Every command that takes `--json`, by its path (`orders list`), with the shapes its answer
    /// may take (one, or several when its arguments choose: `lookup --name` and `lookup --order`).
    pub const ANSWERS: &[(&str, &[Part])] = &[
        ("access review", &[answer::<ops::ReviewAccess>]),
        ("audit list", &[answer::<ops::AuditList>]),
        ("audit verify", &[of::<crate::cli::audit::Verified>]),
        ("backup", &[answer::<ops::Backup>]),
        ("check", &[answer::<ops::Check>]),
        ("dashboard", &[answer::<ops::Dashboard>]),
        ("exceptions list", &[answer::<ops::Exceptions>]),
        ("exceptions raise", &[answer::<ops::RaiseException>]),
        ("exceptions resolve", &[answer::<ops::ResolveException>]),
        ("import", &[answer::<ops::ImportOrders>]),
        ("inquiry list", &[answer::<ops::Inquiries>]),
        ("inquiry note", &[answer::<ops::NoteInquiry>]),
        ("inquiry open", &[answer::<ops::OpenInquiry>]),
        ("inquiry resolve", &[answer::<ops::ResolveInquiry>]),
        ("inquiry show", &[answer::<ops::ReadInquiry>]),
        ("keys rotate", &[answer::<ops::KeysRotate>]),
        ("keys show", &[answer::<ops::KeysShow>]),
        (
            "label buy",
            &[
                answer::<ops::BuyLabel>,
                of::<crate::cli::prints::Printed<'static, ops::WaveReport>>,
            ],
        ),
        ("label check", &[answer::<ops::CheckPurchase>]),
        ("label clear", &[answer::<ops::ClearPurchase>]),
        ("label print", &[answer::<ops::PrintLabel>]),
        ("label rates", &[answer::<ops::Rates>]),
        ("label void", &[answer::<ops::VoidLabel>]),
        (
            "lookup",
            &[
                of::<crate::cli::orders::OrderDetail<'static>>,
                answer::<ops::LookupName>,
                answer::<ops::Reveal>,
            ],
        ),
        ("manifest", &[answer::<ops::Manifest>]),
        ("message", &[answer::<ops::SendMessage>]),
        ("metrics", &[answer::<ops::Metrics>]),
        ("orders hold", &[answer::<ops::HoldOrder>]),
        ("orders holds", &[answer::<ops::Holds>]),
        (
            "orders list",
            &[of::<Vec<crate::cli::orders::OrderLine<'static>>>],
        ),
        ("orders move", &[answer::<ops::MoveOrder>]),
        ("orders release", &[answer::<ops::ReleaseHold>]),
        ("pack close-box", &[answer::<ops::PackCloseBox>]),
        (
            "pack finish",
            &[of::<crate::cli::prints::Printed<'static, ops::Finished>>],
        ),
        ("pack scan", &[answer::<ops::PackScan>]),
        ("pack start", &[answer::<ops::PackStart>]),
        (
            "pick claim",
            &[of::<Option<crate::cli::prints::Printed<'static, packline::domain::PickBatch>>>],
        ),
        ("pick finish", &[answer::<ops::FinishPick>]),
        ("pick list", &[answer::<ops::Batches>]),
        ("pick put", &[answer::<ops::PickPut>]),
        ("pick reassign", &[answer::<ops::ReassignBatch>]),
        ("pick release", &[answer::<ops::ReleaseBatch>]),
        ("pick scan", &[answer::<ops::PickScan>]),
        ("pick short", &[answer::<ops::ShortPick>]),
        ("prints", &[answer::<ops::PrintJobs>]),
        ("prints retry", &[answer::<ops::RetryPrints>]),
        ("purge", &[answer::<ops::Purge>]),
        (
            "report",
            &[
                answer::<ops::BuildReport>,
                of::<Vec<crate::cli::lead::SiteReport>>,
            ],
        ),
        ("restore", &[of::<packline::store::backup::BackupSummary>]),
        ("returns close", &[answer::<ops::CloseReturn>]),
        ("returns import", &[answer::<ops::ImportReturns>]),
        ("returns list", &[answer::<ops::Returns>]),
        ("returns receive", &[answer::<ops::ReceiveReturn>]),
        ("returns sync", &[answer::<ops::SyncReturns>]),
        ("ship", &[answer::<ops::ShipOwnCarrier>]),
        // `slip` waits for its one job and says how it ended, as `label print` does: a list.
        ("slip", &[of::<Vec<packline::store::shipping::PrintJob>>]),
        ("store migrate", &[of::<packline::store::migrate::Migrated>]),
        ("sync", &[answer::<ops::SyncOrders>]),
        ("sync problems", &[answer::<ops::SyncProblems>]),
    ];

    /// The settings every schema is made with: JSON Schema 2020-12, describing what packline
    /// writes (not what it would read).
    fn generator() -> SchemaGenerator {
        SchemaSettings::draft2020_12()
            .for_serialize()
            .into_generator()
    }

    /// The schema of one document, titled `title`, that is one of `parts`.
    fn document(title: &str, description: &str, parts: &[Part]) -> Schema {
        let mut g = generator();
        let mut alternatives: Vec<Schema> = parts.iter().map(|p| p(&mut g)).collect();
        let mut schema = if alternatives.len() == 1 {
            alternatives.remove(0)
        } else {
            json_schema!({ "anyOf": alternatives })
        };
        let defs = g.take_definitions(true);
        let mut doc = serde_json::Map::new();
        doc.insert(
            "$schema".into(),
            "https://json-schema.org/draft/2020-12/schema".into(),
        );
        doc.insert("title".into(), title.into());
        doc.insert("description".into(), description.into());
        if let Some(own) = schema.as_object_mut() {
            doc.append(own);
        }
        if !defs.is_empty() {
            doc.insert("$defs".into(), defs.into());
        }
        Schema::from(doc)
    }

    /// The file name of a command's schema: its path with dashes (`orders-list.json`).
    pub fn file_name(command: &str) -> String {
        format!("{}.json", command.replace(' ', "-"))
    }

    /// Every schema file of `docs/schema/`: each command's answer, and `error.json`.
    pub fn files() -> Vec<(String, String)> {
        let mut files: Vec<(String, String)> = ANSWERS
            .iter()
            .map(|(command, parts)| {
                let about = format!("The answer of `packline {command} --json` (docs/json.md).");
                (
                    file_name(command),
                    text(&document(&format!("packline {command}"), &about, parts)),
                )
            })
            .collect();
        files.push((
            "error.json".into(),
            text(&document(
                "packline error",
                "A failure of any command asked for JSON: one line on standard error (docs/json.md).",
                &[of::<ErrorAnswer>],
            )),
        ));
        files
    }

    fn text(schema: &Schema) -> String {
        let mut s = serde_json::to_string_pretty(schema).expect("a schema is JSON");
        s.push('\n');
        s
    }

    const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/schema");

    /// The paths of every command (and subcommand) that takes `--json`, from clap's tree.
    fn json_commands(cmd: &clap::Command, path: &str, found: &mut Vec<String>) {
        for sub in cmd.get_subcommands() {
            let here = format!(
                "{path}{}{}",
                if path.is_empty() { "" } else { " " },
                sub.get_name()
            );
            if sub.get_arguments().any(|a| a.get_long() == Some("json")) {
                found.push(here.clone());
            }
            json_commands(sub, &here, found);
        }
    }

    #[test]
    fn every_command_that_takes_json_has_a_schema() {
        let mut want = Vec::new();
        json_commands(&crate::cli::args::Cli::command(), "", &mut want);
        want.sort();
        let have: Vec<String> = ANSWERS.iter().map(|(c, _)| c.to_string()).collect();
        assert_eq!(
            have, want,
            "ANSWERS (sorted by command) against clap's commands"
        );
    }

    /// docs/schema/ holds exactly the schemas made here (set PACKLINE_WRITE_DOCS=1 to write
    /// them again).
    #[test]
    fn the_schema_files_are_fresh() {
        let want = files();
        if std::env::var_os("PACKLINE_WRITE_DOCS").is_some() {
            let _ = std::fs::remove_dir_all(DIR);
            std::fs::create_dir_all(DIR).unwrap();
            for (name, text) in &want {
                std::fs::write(format!("{DIR}/{name}"), text).unwrap();
            }
        }
        let mut on_disk: Vec<String> = std::fs::read_dir(DIR)
            .unwrap_or_else(|e| panic!("{DIR}: {e} (PACKLINE_WRITE_DOCS=1 writes it)"))
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        on_disk.sort();
        let mut names: Vec<String> = want.iter().map(|(n, _)| n.clone()).collect();
        names.sort();
        assert_eq!(
            on_disk, names,
            "{DIR} holds other files than the schemas (PACKLINE_WRITE_DOCS=1 writes them again)"
        );
        for (name, text) in &want {
            let kept = std::fs::read_to_string(format!("{DIR}/{name}")).unwrap();
            assert!(
                kept == *text,
                "{DIR}/{name} is stale (PACKLINE_WRITE_DOCS=1 writes it again)"
            );
        }
    }
}
