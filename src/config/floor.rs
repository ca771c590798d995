//! `[floor]`: where things are (locations, scales, carts), what a claim prints, who buys the
//! label at the pack bench, and the boxes orders go out in.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

/// The floor: where things are and what they go out in.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FloorConfig {
    /// The locations file: `sku,bin,barcodes` CSV.
    pub locations: Option<PathBuf>,
    /// Orders per pick batch (default 8).
    pub batch_size: Option<u32>,
    /// Box presets offered at the pack bench.
    #[serde(default)]
    pub boxes: Vec<BoxConfig>,
    /// Slots on a pick cart, one order each (default: the batch size). A batch never holds more
    /// orders than the cart has slots.
    pub cart_slots: Option<u32>,
    /// The picker scans the slot's label (`SLOT-n`, or its tote) after each unit; a wrong slot
    /// is refused.
    #[serde(default)]
    pub confirm_put: bool,
    /// Orders go to totes: the picker scans an empty tote for each order of a claimed batch (in
    /// slot order) before its first unit, and the pack bench opens an order by its tote.
    #[serde(default)]
    pub totes: bool,
    /// How tote barcodes begin (default `TOTE-`).
    pub tote_prefix: Option<String>,
    /// Paperwork printed when a batch is claimed, to the picker's slip printer: "none" (the
    /// default), "slips" (each order's packing slip, in slot order, its slot printed large),
    /// "sheet" (the batch's pick sheet: bins, SKUs, quantities, slots) or "both".
    #[serde(default)]
    pub print_at_claim: PrintAtClaim,
    /// When the carrier collects, local time `HH:MM` (default 16:00): the lead's dashboard sets
    /// apart the orders due before the next pickup.
    pub pickup: Option<String>,
    /// Pack and ship at one bench: when the packer closes an order's last box, its label is
    /// bought by the site's rule and printed on the packer's label printer.
    #[serde(default)]
    pub label_at_pack: bool,
    /// Per-user floor settings, overriding the site's: `[floor.users.bo] label_at_pack = true`.
    #[serde(default)]
    pub users: BTreeMap<String, FloorUser>,
    /// The site's scales by name: `NAME = "serial:/dev/ttyUSB0"` (an NCI / SMA serial scale,
    /// `?baud=9600&frame=7E1` when it is not 9600 8N1) or `"hid:/dev/hidraw0"` (a USB
    /// point-of-sale scale).
    #[serde(default)]
    pub scales: BTreeMap<String, String>,
    /// The scale every bench weighs on, by its name in `[floor.scales]` (a user's own
    /// `[floor.users.NAME] scale` and a terminal's `PACKLINE_SCALE` come first).
    pub scale: Option<String>,
}

/// One user's floor settings (`[floor.users.NAME]`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FloorUser {
    /// Overrides `[floor] label_at_pack` for this user.
    pub label_at_pack: Option<bool>,
    /// The scale at this user's bench, by its name in `[floor.scales]`.
    pub scale: Option<String>,
}

/// Who buys and prints the label at the pack bench (`[floor] label_at_pack`, per user under
/// `[floor.users.NAME]`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelAtPack {
    pub site: bool,
    pub users: BTreeMap<String, bool>,
}

impl LabelAtPack {
    /// Whether `user`'s bench buys and prints the label when the last box is closed.
    pub fn for_user(&self, user: &str) -> bool {
        self.users.get(user).copied().unwrap_or(self.site)
    }
}

/// What a claim prints.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrintAtClaim {
    #[default]
    None,
    Slips,
    Sheet,
    Both,
}

impl PrintAtClaim {
    pub fn slips(self) -> bool {
        matches!(self, PrintAtClaim::Slips | PrintAtClaim::Both)
    }

    pub fn sheet(self) -> bool {
        matches!(self, PrintAtClaim::Sheet | PrintAtClaim::Both)
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoxConfig {
    pub name: String,
    /// Outside length, width, height in millimetres.
    pub mm: [u32; 3],
}

impl FloorConfig {
    /// The carrier's daily pickup, local time.
    pub fn pickup(&self) -> Result<chrono::NaiveTime, String> {
        match &self.pickup {
            None => Ok(chrono::NaiveTime::from_hms_opt(16, 0, 0).unwrap_or_default()),
            Some(s) => chrono::NaiveTime::parse_from_str(s.trim(), "%H:%M").map_err(|_| {
                format!("[floor] pickup = {s:?} is not a time of day: write it as \"16:00\"")
            }),
        }
    }

    pub fn batch_size(&self) -> u32 {
        self.batch_size.unwrap_or(8).clamp(1, 100)
    }

    /// The users who buy and print the label as they close an order's last box: everyone
    /// (`[floor] label_at_pack`) but those whose own table says not, and those whose own table
    /// says so.
    pub fn label_at_pack(&self) -> LabelAtPack {
        LabelAtPack {
            site: self.label_at_pack,
            users: self
                .users
                .iter()
                .filter_map(|(u, f)| f.label_at_pack.map(|on| (u.clone(), on)))
                .collect(),
        }
    }

    /// The scale at `user`'s bench: the terminal's own (`PACKLINE_SCALE`, given here as
    /// `terminal`: a name of `[floor.scales]` or a device such as `serial:/dev/ttyUSB0`), else the
    /// user's (`[floor.users.NAME] scale`), else the site's (`[floor] scale`); none without
    /// any of them.
    pub fn scale_for(
        &self,
        user: &str,
        terminal: Option<&str>,
    ) -> Result<Option<crate::scale::ScaleSpec>, String> {
        if let Some(t) = terminal.map(str::trim).filter(|t| !t.is_empty()) {
            return match self.scales.get(t) {
                Some(spec) => crate::scale::ScaleSpec::parse(spec)
                    .map(Some)
                    .map_err(|e| format!("[floor.scales] {t}: {e}")),
                None if t.contains(':') => crate::scale::ScaleSpec::parse(t)
                    .map(Some)
                    .map_err(|e| format!("PACKLINE_SCALE: {e}")),
                None => Err(format!(
                    "PACKLINE_SCALE = {t:?}: {}",
                    self.no_scale_named(t)
                )),
            };
        }
        let (key, name) = match self.users.get(user).and_then(|u| u.scale.as_ref()) {
            Some(n) => (format!("[floor.users.{user}] scale"), n),
            None => match &self.scale {
                Some(n) => ("[floor] scale".to_owned(), n),
                None => return Ok(None),
            },
        };
        match self.scales.get(name) {
            Some(spec) => crate::scale::ScaleSpec::parse(spec)
                .map(Some)
                .map_err(|e| format!("[floor.scales] {name}: {e}")),
            None => Err(format!("{key} = {name:?}: {}", self.no_scale_named(name))),
        }
    }

    fn no_scale_named(&self, name: &str) -> String {
        if self.scales.is_empty() {
            format!(
                "there is no scale named {name}: name it in [floor.scales], such as \
                 {name} = \"serial:/dev/ttyUSB0\""
            )
        } else {
            let names: Vec<&str> = self.scales.keys().map(String::as_str).collect();
            format!(
                "there is no scale named {name} in [floor.scales] (its scales: {})",
                names.join(", ")
            )
        }
    }

    /// Every scale named in `[floor.scales]` can be read, and every bench's scale is one of them.
    pub(super) fn check_scales(&self) -> Result<(), String> {
        for (name, spec) in &self.scales {
            crate::scale::ScaleSpec::parse(spec)
                .map_err(|e| format!("[floor.scales] {name} = {spec:?}: {e}"))?;
        }
        if let Some(n) = &self.scale
            && !self.scales.contains_key(n)
        {
            return Err(format!("[floor] scale = {n:?}: {}", self.no_scale_named(n)));
        }
        for (user, u) in &self.users {
            if let Some(n) = &u.scale
                && !self.scales.contains_key(n)
            {
                return Err(format!(
                    "[floor.users.{user}] scale = {n:?}: {}",
                    self.no_scale_named(n)
                ));
            }
        }
        Ok(())
    }

    /// How this site's carts work.
    pub fn cart_rules(&self) -> crate::domain::CartRules {
        crate::domain::CartRules {
            confirm_put: self.confirm_put,
            tote_prefix: self
                .totes
                .then(|| self.tote_prefix.clone().unwrap_or_else(|| "TOTE-".into())),
        }
    }

    pub fn cart_slots(&self) -> u32 {
        self.cart_slots.unwrap_or(self.batch_size()).clamp(1, 100)
    }

    /// The configured boxes, or a small default set.
    pub fn boxes(&self) -> Vec<BoxConfig> {
        if !self.boxes.is_empty() {
            return self.boxes.clone();
        }
        [
            ("S 20x15x10", [200, 150, 100]),
            ("M 30x20x15", [300, 200, 150]),
            ("L 40x30x20", [400, 300, 200]),
            ("Mailer 35x25", [350, 250, 20]),
        ]
        .into_iter()
        .map(|(n, mm)| BoxConfig { name: n.into(), mm })
        .collect()
    }
}
