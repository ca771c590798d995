//! Keymaps: `keymaps/{default,vim,rf-gun}.toml` (built in), one section per screen plus
//! `[global]`, each binding `"key" = { action = "...", desc = "..." }`. A user file merges over
//! the chosen preset. A bad file is refused at start with its path, line and reason.

use std::collections::BTreeMap;
use std::path::Path;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde::Deserialize;

use super::action::Action;

pub const PRESETS: [(&str, &str); 3] = [
    ("default", include_str!("../../keymaps/default.toml")),
    ("vim", include_str!("../../keymaps/vim.toml")),
    ("rf-gun", include_str!("../../keymaps/rf-gun.toml")),
];

pub const SCREENS: [&str; 9] = [
    "global",
    "queue",
    "pick",
    "pack",
    "exceptions",
    "label",
    "inquiries",
    "returns",
    "dashboard",
];

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Binding {
    action: Action,
    desc: String,
}

/// A key as keymaps write it: `q`, `Q`, `Enter`, `Esc`, `Tab`, `Up`, `F1`, `PageDown`, `C-c`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key {
    code: KeyCodeOrd,
    ctrl: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum KeyCodeOrd {
    Char(char),
    F(u8),
    Named(u8),
}

const NAMED: [(&str, KeyCode); 11] = [
    ("Enter", KeyCode::Enter),
    ("Esc", KeyCode::Esc),
    ("Tab", KeyCode::Tab),
    ("Backspace", KeyCode::Backspace),
    ("Up", KeyCode::Up),
    ("Down", KeyCode::Down),
    ("Left", KeyCode::Left),
    ("Right", KeyCode::Right),
    ("PageUp", KeyCode::PageUp),
    ("PageDown", KeyCode::PageDown),
    ("Space", KeyCode::Char(' ')),
];

impl Key {
    pub fn parse(s: &str) -> Option<Key> {
        let (ctrl, rest) = match s.strip_prefix("C-") {
            Some(r) => (true, r),
            None => (false, s),
        };
        let code = if let Some(i) = NAMED.iter().position(|(n, _)| *n == rest) {
            match NAMED[i].1 {
                KeyCode::Char(c) => KeyCodeOrd::Char(c),
                _ => KeyCodeOrd::Named(i as u8),
            }
        } else if let Some(n) = rest.strip_prefix('F').and_then(|n| n.parse::<u8>().ok()) {
            if !(1..=12).contains(&n) {
                return None;
            }
            KeyCodeOrd::F(n)
        } else {
            let mut chars = rest.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) if !c.is_control() => KeyCodeOrd::Char(c),
                _ => return None,
            }
        };
        Some(Key { code, ctrl })
    }

    pub fn from_event(e: &KeyEvent) -> Option<Key> {
        let ctrl = e.modifiers.contains(KeyModifiers::CONTROL);
        let code = match e.code {
            KeyCode::Char(c) => KeyCodeOrd::Char(c),
            KeyCode::F(n) => KeyCodeOrd::F(n),
            other => KeyCodeOrd::Named(NAMED.iter().position(|(_, k)| *k == other)? as u8),
        };
        Some(Key { code, ctrl })
    }

    pub fn label(&self) -> String {
        let base = match self.code {
            KeyCodeOrd::Char(' ') => "Space".to_owned(),
            KeyCodeOrd::Char(c) => c.to_string(),
            KeyCodeOrd::F(n) => format!("F{n}"),
            KeyCodeOrd::Named(i) => NAMED[i as usize].0.to_owned(),
        };
        if self.ctrl { format!("C-{base}") } else { base }
    }

    pub fn is_printable(&self) -> bool {
        matches!(self.code, KeyCodeOrd::Char(_)) && !self.ctrl
    }
}

#[derive(Clone, Debug, Default)]
pub struct Keymap {
    /// Screen → key → (action, description).
    screens: BTreeMap<String, BTreeMap<Key, (Action, String)>>,
}

#[derive(Debug, thiserror::Error)]
#[error("keymap {path}{}: {reason}", line.map(|l| format!(" line {l}")).unwrap_or_default())]
pub struct KeymapError {
    pub path: String,
    pub line: Option<usize>,
    pub reason: String,
}

impl Keymap {
    /// A preset by name, with the user's file (if any) merged over it.
    pub fn load(preset: &str, user_file: Option<&Path>) -> Result<Keymap, KeymapError> {
        let (_, text) = PRESETS
            .iter()
            .find(|(n, _)| *n == preset)
            .ok_or_else(|| KeymapError {
                path: preset.to_owned(),
                line: None,
                reason: format!(
                    "no keymap preset named {preset:?}; presets: {}",
                    PRESETS.map(|p| p.0).join(", ")
                ),
            })?;
        let mut map = Keymap::default();
        map.merge(text, &format!("keymaps/{preset}.toml"))?;
        if let Some(p) = user_file {
            let text = crate::files::read_regular_to_string(p).map_err(|e| KeymapError {
                path: p.display().to_string(),
                line: None,
                reason: e.to_string(),
            })?;
            map.merge(&text, &p.display().to_string())?;
        }
        Ok(map)
    }

    /// Merges a keymap file's bindings over these.
    pub fn merge(&mut self, text: &str, path: &str) -> Result<(), KeymapError> {
        let line_of = |span: Option<std::ops::Range<usize>>| {
            span.map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
        };
        let parsed: BTreeMap<String, BTreeMap<String, toml::Spanned<Binding>>> =
            toml::from_str(text).map_err(|e| KeymapError {
                path: path.to_owned(),
                // TOML's own rendering names the line and puts a caret under the column.
                line: None,
                reason: crate::config::parser_rendering(&e),
            })?;
        for (screen, bindings) in parsed {
            if !SCREENS.contains(&screen.as_str()) {
                return Err(KeymapError {
                    path: path.to_owned(),
                    line: None,
                    reason: format!(
                        "unknown section [{screen}]; sections: {}",
                        SCREENS.join(", ")
                    ),
                });
            }
            let table = self.screens.entry(screen).or_default();
            for (key, b) in bindings {
                let line = line_of(Some(b.span()));
                let k = Key::parse(&key).ok_or_else(|| KeymapError {
                    path: path.to_owned(),
                    line,
                    reason: format!("{key:?} is not a key (write q, Enter, Esc, Tab, F1, C-c, …)"),
                })?;
                let b = b.into_inner();
                table.insert(k, (b.action, b.desc));
            }
        }
        Ok(())
    }

    /// The action a key has on a screen (screen bindings first, then global).
    pub fn action(&self, screen: &str, key: &Key) -> Option<&Action> {
        [screen, "global"]
            .iter()
            .filter_map(|s| self.screens.get(*s))
            .find_map(|t| t.get(key).map(|(a, _)| a))
    }

    /// Help lines for a screen, from the live bindings: (key, description).
    pub fn help(&self, screen: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for s in [screen, "global"] {
            if let Some(t) = self.screens.get(s) {
                for (k, (_, d)) in t {
                    out.push((k.label(), d.clone()));
                }
            }
        }
        out
    }

    /// The first key bound to an action on a screen, for hints.
    pub fn key_for(&self, screen: &str, action: &Action) -> Option<String> {
        [screen, "global"]
            .iter()
            .filter_map(|s| self.screens.get(*s))
            .find_map(|t| {
                t.iter()
                    .find(|(_, (a, _))| a == action)
                    .map(|(k, _)| k.label())
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_loads_and_binds_help_and_quit() {
        for (name, _) in PRESETS {
            let k = Keymap::load(name, None).unwrap();
            assert!(k.key_for("queue", &Action::Help).is_some(), "{name}");
            assert!(k.key_for("queue", &Action::Quit).is_some(), "{name}");
            assert!(k.key_for("pick", &Action::Claim).is_some(), "{name}");
            assert!(k.key_for("queue", &Action::Returns).is_some(), "{name}");
            assert!(
                k.key_for("returns", &Action::CycleCondition).is_some(),
                "{name}"
            );
            assert!(
                k.key_for("returns", &Action::CloseReturn).is_some(),
                "{name}"
            );
            assert!(k.key_for("queue", &Action::Dashboard).is_some(), "{name}");
            for a in [
                Action::Release,
                Action::Reassign,
                Action::Holds,
                Action::Exceptions,
            ] {
                let key = k.key_for("dashboard", &a).unwrap_or_default();
                assert_eq!(
                    k.action("dashboard", &Key::parse(&key).unwrap()),
                    Some(&a),
                    "{name}: {a:?} on the dashboard"
                );
            }
        }
    }

    #[test]
    fn rf_gun_needs_no_letters() {
        let k = Keymap::load("rf-gun", None).unwrap();
        for s in SCREENS {
            for (key, _) in k.help(s) {
                let letter = key.chars().count() == 1 && key.chars().all(char::is_alphabetic);
                assert!(!letter, "rf-gun binds the letter {key}");
            }
        }
    }

    #[test]
    fn a_bad_binding_names_file_line_and_reason() {
        let mut k = Keymap::default();
        let e = k
            .merge("[queue]\nq = { action = \"quit\", desc = \"quit\" }\nx = { action = \"launch\", desc = \"?\" }\n", "mine.toml")
            .unwrap_err();
        assert_eq!(e.path, "mine.toml");
        // The parser's own rendering: the line, and a caret under the column, on lines of
        // their own.
        assert!(
            e.reason.starts_with(
                "TOML parse error at line 3, column 16\n  |\n3 | x = { action = \"launch\", desc = \"?\" }\n  |                ^^^^^^^^\n"
            ),
            "{}",
            e.reason
        );
        assert!(
            e.reason.contains("unknown variant `launch`"),
            "{}",
            e.reason
        );
        let e = k
            .merge(
                "[queue]\n\"Ctrl+Q\" = { action = \"quit\", desc = \"quit\" }\n",
                "mine.toml",
            )
            .unwrap_err();
        assert_eq!(e.line, Some(2));
        let e = k.merge("[scan]\n", "mine.toml").unwrap_err();
        assert!(e.reason.contains("unknown section [scan]"));
    }

    #[test]
    fn a_user_file_merges_over_the_preset() {
        let mut k = Keymap::load("default", None).unwrap();
        k.merge(
            "[global]\nz = { action = \"quit\", desc = \"quit\" }\nx = { action = \"quit\", desc = \"quit\" }\n",
            "mine.toml",
        )
        .unwrap();
        assert_eq!(
            k.action("pick", &Key::parse("z").unwrap()),
            Some(&Action::Quit)
        );
        // A screen's own binding wins over a global one.
        assert_eq!(
            k.action("pick", &Key::parse("x").unwrap()),
            Some(&Action::Release)
        );
        assert_eq!(
            k.action("pick", &Key::parse("c").unwrap()),
            Some(&Action::Claim)
        );
    }
}
