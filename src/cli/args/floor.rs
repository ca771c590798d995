//! The floor's commands as clap sees them: picking, packing, labels, prints, exceptions and
//! returns.

use std::path::PathBuf;

use clap::Subcommand;

use super::Output;

#[derive(Subcommand)]
pub enum LabelCommand {
    /// The offers for a packed order, best first (the default choice marked *).
    Rates {
        order: String,
        #[command(flatten)]
        out: Output,
    },
    /// Buy the label: the cheapest offer that meets the promise, or --service ID. With
    /// --all-packed, every packed order at once (a wave), printed in pack order.
    Buy {
        #[arg(required_unless_present = "all_packed", conflicts_with = "all_packed")]
        order: Option<String>,
        #[arg(long, value_name = "ID")]
        service: Option<String>,
        /// Every packed order (every package), at the quota's pace; run again, it buys nothing twice.
        #[arg(long)]
        all_packed: bool,
        /// With --all-packed: only this carrier's offers.
        #[arg(long, value_name = "NAME", requires = "all_packed")]
        carrier: Option<String>,
        /// With --all-packed: where the labels print (a printer of the site, by name).
        #[arg(
            long,
            value_name = "NAME",
            requires = "all_packed",
            env = "PACKLINE_LABEL_PRINTER"
        )]
        printer: Option<String>,
        /// With --all-packed: buy only; print later with `label print`.
        #[arg(long, requires = "all_packed")]
        no_print: bool,
        #[command(flatten)]
        out: Output,
    },
    /// Print (or reprint) the bought labels, one per package.
    Print {
        order: String,
        /// A printer of the site, by name (default: this terminal's, else the user's, else [shipping] label_printer).
        #[arg(long, value_name = "NAME", env = "PACKLINE_LABEL_PRINTER")]
        printer: Option<String>,
        /// Only this package's label (1, 2, …).
        #[arg(long, value_name = "N")]
        package: Option<u32>,
        #[command(flatten)]
        out: Output,
    },
    /// Void the bought labels (or one package's); the order goes back to Packed.
    Void {
        order: String,
        #[arg(long)]
        reason: String,
        /// Only this package's label (1, 2, …).
        #[arg(long, value_name = "N")]
        package: Option<u32>,
        #[command(flatten)]
        out: Output,
    },
    /// After a purchase whose outcome was unknown: record the shipment found in Seller Central.
    Check {
        order: String,
        #[arg(long, value_name = "ID")]
        shipment_id: String,
        #[command(flatten)]
        out: Output,
    },
    /// After a purchase whose outcome was unknown: Amazon bought nothing (leads; audited).
    Clear {
        order: String,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        out: Output,
    },
}

#[derive(Subcommand)]
pub enum PrintsCommand {
    /// Send failed print jobs again, and wait for the printer (leads, and whoever asked for
    /// the job).
    Retry {
        /// The job's id (see `packline prints`).
        #[arg(required_unless_present = "failed", conflicts_with = "failed")]
        id: Option<u64>,
        /// Every failed job (a lead's: all of them; anyone else's: their own).
        #[arg(long)]
        failed: bool,
        #[command(flatten)]
        out: Output,
    },
}

#[derive(Subcommand)]
pub enum PickCommand {
    /// Claim the next batch of open orders (the site's batch size unless given).
    Claim {
        #[arg(long, value_name = "N")]
        size: Option<u32>,
        #[command(flatten)]
        out: Output,
    },
    /// Count one scanned unit (or bin label) into a batch.
    Scan {
        batch: u64,
        code: String,
        #[command(flatten)]
        out: Output,
    },
    /// Put the unit in hand into its cart slot (`[floor] confirm_put`): the slot's number or
    /// label (SLOT-3); a wrong slot is refused.
    Put {
        batch: u64,
        slot: String,
        #[command(flatten)]
        out: Output,
    },
    /// A SKU that cannot be found: its orders leave the batch as exceptions.
    Short {
        batch: u64,
        sku: String,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        out: Output,
    },
    /// Every unit is on the cart: the batch's orders are picked.
    Finish {
        batch: u64,
        #[command(flatten)]
        out: Output,
    },
    /// Give a batch back: its orders return to the queue.
    Release {
        batch: u64,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        out: Output,
    },
    /// Move a batch to another picker (leads).
    Reassign {
        batch: u64,
        #[arg(long, value_name = "USER")]
        to: String,
        #[command(flatten)]
        out: Output,
    },
    /// Open batches: your own, or everyone's with --all (leads).
    List {
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        out: Output,
    },
}

#[derive(Subcommand)]
pub enum PackCommand {
    /// Open a picked order at this bench (or resume it).
    Start {
        order: String,
        #[command(flatten)]
        out: Output,
    },
    /// Check one scanned unit against the order: a wrong or extra unit is refused. A unit
    /// whose serial number or Transparency code Amazon asks for takes it with --code (twice
    /// when it needs both: serial first); a duplicate code within the order is refused.
    Scan {
        order: String,
        code: String,
        #[arg(long = "code", value_name = "CODE")]
        unit_codes: Vec<String>,
        #[command(flatten)]
        out: Output,
    },
    /// Close the box being filled (its preset and weight) and open the next: an order may
    /// leave in several boxes, each with its own label and tracking number.
    CloseBox {
        order: String,
        /// A box preset's name ([floor] boxes).
        #[arg(long = "box", value_name = "NAME")]
        box_name: String,
        #[arg(long, value_name = "GRAMS")]
        weight: u32,
        #[command(flatten)]
        out: Output,
    },
    /// Box and weigh the last box of a fully scanned order: it is packed. No box or weight is
    /// needed when every box is closed already. --partial (leads) ships the units packed now
    /// and leaves the rest on the queue.
    Finish {
        order: String,
        /// A box preset's name ([floor] boxes).
        #[arg(long = "box", value_name = "NAME")]
        box_name: Option<String>,
        /// The box's weight, packed, in grams (1 to 70000).
        #[arg(long, value_name = "GRAMS")]
        weight: Option<u32>,
        /// Ship only the units packed, for this reason (leads; `-` reads it from standard input).
        #[arg(long, value_name = "REASON")]
        partial: Option<String>,
        /// Then buy the label by the site's rule and print it on your label printer (what
        /// [floor] label_at_pack does at every finish); a failed purchase leaves the order
        /// packed for the labeler, with the reason.
        #[arg(long)]
        label: bool,
        #[command(flatten)]
        out: Output,
    },
}

#[derive(Subcommand)]
pub enum ExceptionsCommand {
    /// The open exceptions with the note that raised each (leads).
    List {
        #[command(flatten)]
        out: Output,
    },
    /// Take an order off the line with a note.
    Raise {
        order: String,
        /// What is wrong (`-`: read from standard input, out of the process list).
        #[arg(long)]
        note: String,
        #[command(flatten)]
        out: Output,
    },
    /// Put an exception back onto the line in a state (leads).
    Resolve {
        order: String,
        /// The state it resumes in: new, picked, packed or labelled.
        #[arg(long, value_name = "STATE")]
        to: String,
        #[arg(long)]
        resolution: String,
        #[command(flatten)]
        out: Output,
    },
}

#[derive(Subcommand)]
pub enum ReturnsCommand {
    /// Pull Amazon's returns report (GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE) since the last
    /// pull, the last 60 days the first time (leads). The daemon pulls it on a schedule of its own.
    Sync {
        #[command(flatten)]
        out: Output,
    },
    /// Record the returns of a downloaded returns report (tab-separated) (leads). Only the
    /// order, RMA id, SKU, quantity, reason, dates, status and the return label's tracking are
    /// kept; nothing of the buyer.
    Import {
        #[arg(value_name = "FILE")]
        file: PathBuf,
        #[command(flatten)]
        out: Output,
    },
    /// Every return kept, with its id, state and units received of those expected.
    List {
        #[command(flatten)]
        out: Output,
    },
    /// Record units of a returned parcel: CODE is its return label's tracking number, the RMA
    /// id, the order id (an order with no return expected gets an unexpected one), or RET-n from
    /// `returns list`. Prints the bin a sellable unit goes back to; a damaged unit is never
    /// restocked.
    Receive {
        code: String,
        /// The unit's SKU (or ASIN, or a barcode of the locations file).
        #[arg(long)]
        sku: String,
        #[arg(long, value_parser = ["sellable", "damaged", "wrong-item", "missing"])]
        condition: String,
        #[arg(long, default_value_t = 1, value_name = "N")]
        quantity: u32,
        #[command(flatten)]
        out: Output,
    },
    /// Close a return (CODE as for receive): it takes no more units.
    Close {
        code: String,
        #[command(flatten)]
        out: Output,
    },
}
