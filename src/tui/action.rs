//! Everything the TUI can do, as data. Keymaps name the bindable actions; the internal ones are
//! skipped by serde so no keymap can bind them.

use serde::Deserialize;

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Quit,
    Help,
    Up,
    Down,
    PageUp,
    PageDown,
    /// Screens.
    Queue,
    Pick,
    Pack,
    Exceptions,
    Labels,
    Inquiries,
    Returns,
    /// The lead's dashboard.
    Dashboard,
    /// Dashboard: open (or close) the list of held orders.
    Holds,
    /// Pick: claim a batch; finish it; short-pick the current line; give the batch back.
    Claim,
    FinishPick,
    ShortPick,
    Release,
    /// Pack: cycle the box preset; confirm box and weight; close the box being filled (the
    /// typed weight, or the scale's) and start the next.
    NextBox,
    Confirm,
    CloseBox,
    /// Take the order at the bench (or the selected one) off the line, with the typed note.
    RaiseException,
    /// Exceptions (leads): choose where a resolved order goes back to; resolve it with the typed
    /// note; hand the selected batch to the user typed in the code field. On the inquiries
    /// screen, resolve resolves the selected inquiry with the typed text.
    CycleResume,
    Resolve,
    Reassign,
    /// Inquiries (leads): read the selected inquiry's notes (audited).
    ReadNotes,
    /// Returns: the condition the next unit scanned is recorded in (sellable, damaged, wrong
    /// item, missing); close the return open at the bench.
    CycleCondition,
    CloseReturn,
    /// Labels: ask for offers; next offer; buy the chosen one; buy for every packed order (a
    /// wave, printed in pack order); print label or slip; void; ship with the carrier and
    /// tracking number typed ("UPS 1Z…"); close the day.
    Rates,
    NextOffer,
    Buy,
    BuyAll,
    PrintLabel,
    PrintSlip,
    Void,
    OwnCarrier,
    EndOfDay,
    /// Clear the typed code or close the help / alert.
    Back,
    Refresh,
    /// A complete code from the scanner (or typed and Enter).
    #[serde(skip)]
    Scan(String),
    /// A character typed by hand into the code field.
    #[serde(skip)]
    Char(char),
    #[serde(skip)]
    Backspace,
    /// Enter on the code field.
    #[serde(skip)]
    Submit,
}

impl Action {
    pub fn describe(&self) -> &'static str {
        match self {
            Action::Quit => "quit",
            Action::Help => "help",
            Action::Up => "up",
            Action::Down => "down",
            Action::PageUp => "page up",
            Action::PageDown => "page down",
            Action::Queue => "queue",
            Action::Pick => "pick",
            Action::Pack => "pack",
            Action::Exceptions => "exceptions",
            Action::Labels => "labels",
            Action::Inquiries => "inquiries",
            Action::ReadNotes => "read notes",
            Action::Returns => "returns",
            Action::Dashboard => "dashboard",
            Action::Holds => "holds list",
            Action::CycleCondition => "unit condition",
            Action::CloseReturn => "close return",
            Action::Rates => "offers",
            Action::NextOffer => "next offer",
            Action::Buy => "buy label",
            Action::BuyAll => "buy all packed",
            Action::PrintLabel => "print label",
            Action::PrintSlip => "print slip",
            Action::Void => "void label",
            Action::OwnCarrier => "own carrier",
            Action::EndOfDay => "end of day",
            Action::RaiseException => "raise exception",
            Action::CycleResume => "resume state",
            Action::Resolve => "resolve",
            Action::Reassign => "reassign batch",
            Action::Claim => "claim batch",
            Action::FinishPick => "finish pick",
            Action::ShortPick => "short-pick line",
            Action::Release => "release batch",
            Action::NextBox => "next box",
            Action::Confirm => "confirm",
            Action::CloseBox => "close box",
            Action::Back => "back",
            Action::Refresh => "refresh",
            _ => "",
        }
    }
}
