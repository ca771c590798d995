//! The help overlay: every key of the screen in front and the global ones, scrolled with the
//! keys that move.

use std::sync::atomic::{AtomicU16, Ordering};

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use super::action::Action;
use super::keymap::Keymap;

/// What the overlay learnt when it was last drawn: the last line it may scroll to (how many
/// lines did not fit), and how many it showed at once (a page of it).
#[derive(Debug)]
pub struct Help {
    max: AtomicU16,
    page: AtomicU16,
}

impl Default for Help {
    fn default() -> Self {
        Help {
            max: AtomicU16::new(0),
            page: AtomicU16::new(1),
        }
    }
}

impl Help {
    /// Scrolls the overlay for a key that moves; false for any other key (it closes it).
    pub fn scroll(&self, scroll: &mut u16, action: &Action) -> bool {
        let max = self.max.load(Ordering::Relaxed);
        let page = self.page.load(Ordering::Relaxed).max(1);
        let to = match action {
            Action::Up => scroll.saturating_sub(1),
            Action::Down => scroll.saturating_add(1),
            Action::PageUp => scroll.saturating_sub(page),
            Action::PageDown => scroll.saturating_add(page),
            _ => return false,
        };
        *scroll = to.min(max);
        true
    }

    /// Every key of the screen and the global ones, each description wrapped at word
    /// boundaries to the width there is; what does not fit scrolls (Up/Down, PageUp/PageDown).
    pub fn render(&self, f: &mut Frame, area: Rect, keymap: &Keymap, screen: &str, scroll: u16) {
        let entries = keymap.help(screen);
        let inner_w = usize::from(area.width.saturating_sub(2));
        let inner_h = usize::from(area.height.saturating_sub(2)).max(1);
        let key_w = entries
            .iter()
            .map(|(k, _)| k.chars().count())
            .max()
            .unwrap_or(1)
            .min(inner_w / 3);
        let text_w = inner_w.saturating_sub(key_w + 2).max(8);
        let mut lines = Vec::new();
        for (k, d) in &entries {
            for (i, part) in wrap_words(d, text_w).into_iter().enumerate() {
                let key = if i == 0 { k.as_str() } else { "" };
                lines.push(Line::from(format!("{key:>key_w$}  {part}")));
            }
        }
        let max = lines.len().saturating_sub(inner_h);
        self.page.store(
            u16::try_from(inner_h).unwrap_or(u16::MAX),
            Ordering::Relaxed,
        );
        self.max
            .store(u16::try_from(max).unwrap_or(u16::MAX), Ordering::Relaxed);
        let scroll = usize::from(scroll).min(max);
        let title = if max > 0 {
            format!(
                "keys: {} ({}-{} of {}, Up/Down)",
                screen,
                scroll + 1,
                (scroll + inner_h).min(lines.len()),
                lines.len()
            )
        } else {
            format!("keys: {screen}")
        };
        f.render_widget(Clear, area);
        f.render_widget(
            Paragraph::new(lines)
                .scroll((u16::try_from(scroll).unwrap_or(u16::MAX), 0))
                .block(Block::default().borders(Borders::ALL).title(title)),
            area,
        );
    }
}

/// Splits a text into lines of at most `width` characters at spaces (a word longer than the
/// line is split where it must be).
fn wrap_words(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let mut word: Vec<char> = word.chars().collect();
        while word.len() > width {
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            lines.push(word.drain(..width).collect());
        }
        let word: String = word.into_iter().collect();
        let len = line.chars().count();
        if len > 0 && len + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&word);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}
