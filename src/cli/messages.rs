//! `packline message`: a message to a customer, sent through the service to Amazon's Messaging
//! API. The text goes to the service as typed (or read from standard input with `-`), which checks
//! it against Amazon's rules before anything is sent; it is never printed back.

use std::process::ExitCode;

use anyhow::Result;

use packline::domain::message::MessageText;
use packline::service::ops::SendMessage;

use super::args::Output;
use super::{Ctx, Key, emit, text_arg};

/// The text from the command line, or from standard input when it is `-`. Unchecked here: the
/// service checks it against the kind's rules, whichever transport carries it.
fn message_text(arg: String) -> Result<MessageText> {
    Ok(MessageText::typed(text_arg(arg, "--text")?.as_str()))
}

pub fn send(
    ctx: &Ctx,
    order: String,
    kind: String,
    text: Option<String>,
    out: Output,
) -> Result<ExitCode> {
    let text = text.map(message_text).transpose()?;
    let s = ctx.session(Key::No)?;
    let sent = s.call(SendMessage { order, kind, text })?;
    s.finish()?;
    emit(out, &sent, |w, m| {
        write!(
            w,
            "{} message sent to the buyer of order {} through Amazon",
            m.kind, m.order
        )?;
        match m.inquiry {
            Some(id) => writeln!(w, " (noted on inquiry {id})"),
            None => writeln!(w),
        }
    })
}
