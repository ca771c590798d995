//! `packline inquiry`: customer inquiries on orders. Notes go to the service as typed (or read
//! from standard input with `-`) and are sealed there; only `inquiry show` prints them, for a
//! lead, escaped.

use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use packline::domain::inquiry::{Inquiry, InquiryCategory, NoteText};
use packline::domain::text::escape_hazards;
use packline::service::ops::{Inquiries, NoteInquiry, OpenInquiry, ReadInquiry, ResolveInquiry};

use super::args::InquiryCommand;
use super::{Ctx, Key, done, one, text_arg};

/// A note's text from the command line, or from standard input when it is `-`.
fn note_text(arg: String, flag: &str) -> Result<NoteText> {
    match NoteText::new(text_arg(arg, flag)?.as_str()) {
        Ok(t) => Ok(t),
        Err(e) => bail!("{flag} {e}"),
    }
}

fn when(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

fn print_list(w: &mut dyn std::io::Write, rows: &[Inquiry]) -> std::io::Result<()> {
    if rows.is_empty() {
        return writeln!(w, "no inquiries");
    }
    writeln!(
        w,
        "{:>6}  {:<22} {:<18} {:<16}  {:<12} {:>5}  resolved",
        "id", "order", "category", "opened", "by", "notes"
    )?;
    for q in rows {
        let resolved = match (q.resolved_at, &q.resolved_by) {
            (Some(at), Some(by)) => format!("{} by {}", when(at), escape_hazards(by)),
            (Some(at), None) => when(at),
            _ => "open".to_owned(),
        };
        writeln!(
            w,
            "{:>6}  {:<22} {:<18} {:<16}  {:<12} {:>5}  {resolved}",
            q.id,
            q.order,
            q.category,
            when(q.opened_at),
            escape_hazards(&q.opened_by),
            q.notes.len(),
        )?;
    }
    Ok(())
}

pub fn run(ctx: &Ctx, command: InquiryCommand) -> Result<ExitCode> {
    match command {
        InquiryCommand::Open {
            order,
            category,
            note,
            out,
        } => {
            let category = InquiryCategory::parse(&category)
                .with_context(|| format!("--category {category:?} is not a category"))?;
            let note = note_text(note, "--note")?;
            let op = OpenInquiry {
                order,
                category,
                note,
            };
            one(ctx, Key::No, op, out, |w, q| {
                writeln!(
                    w,
                    "inquiry {} opened on order {} ({})",
                    q.id, q.order, q.category
                )
            })
        }
        InquiryCommand::Note { id, note, out } => {
            let note = note_text(note, "--note")?;
            one(ctx, Key::No, NoteInquiry { id, note }, out, done)
        }
        InquiryCommand::Resolve {
            id,
            resolution,
            out,
        } => {
            let resolution = note_text(resolution, "--resolution")?;
            one(ctx, Key::No, ResolveInquiry { id, resolution }, out, done)
        }
        InquiryCommand::List { out } => one(ctx, Key::No, Inquiries {}, out, |w, rows| {
            print_list(w, rows)
        }),
        InquiryCommand::Show { id, out } => {
            one(ctx, Key::Needed, ReadInquiry { id }, out, |w, r| {
                let q = &r.inquiry;
                print_list(w, std::slice::from_ref(q))?;
                for n in &r.notes {
                    writeln!(
                        w,
                        "\n{}  {}  {}",
                        when(n.meta.at),
                        escape_hazards(&n.meta.by),
                        n.meta.kind.name()
                    )?;
                    // Escaped by the service: no control character reaches the terminal.
                    writeln!(w, "  {}", n.text.as_str())?;
                }
                Ok(())
            })
        }
    }
}
