//! Scanner detection. A keyboard-wedge scanner types a burst and Enter. Printable keys are held
//! for one gap (30 ms by default) before they count as typing: if more follow within the gap and
//! the burst (at least 4 characters) ends in Enter, the whole burst is one scan. Keys come out in
//! the order they went in, so scans are handled strictly in order.

use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    Key(KeyEvent),
    Scan(String),
}

#[derive(Clone, Debug)]
pub struct ScanDetector {
    gap: Duration,
    min_len: usize,
    held: Vec<KeyEvent>,
    last: Option<Instant>,
}

impl ScanDetector {
    pub fn new(gap: Duration, min_len: usize) -> Self {
        ScanDetector {
            gap,
            min_len: min_len.max(1),
            held: Vec::new(),
            last: None,
        }
    }

    fn printable(k: &KeyEvent) -> Option<char> {
        match k.code {
            KeyCode::Char(c)
                if !k
                    .modifiers
                    .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) =>
            {
                Some(c)
            }
            _ => None,
        }
    }

    /// When held keys must be released as typing, if nothing else arrives.
    pub fn deadline(&self) -> Option<Instant> {
        self.last
            .filter(|_| !self.held.is_empty())
            .map(|t| t + self.gap)
    }

    /// A key arrived at `at`.
    pub fn push(&mut self, key: KeyEvent, at: Instant) -> Vec<Input> {
        let mut out = Vec::new();
        let in_burst = self.last.is_some_and(|t| at.duration_since(t) <= self.gap);
        if !in_burst {
            out.extend(self.release());
        }
        self.last = Some(at);
        if Self::printable(&key).is_some() {
            self.held.push(key);
            return out;
        }
        if key.code == KeyCode::Enter && in_burst && self.held.len() >= self.min_len {
            let code: String = self
                .held
                .drain(..)
                .filter_map(|k| Self::printable(&k))
                .collect();
            out.push(Input::Scan(code));
            return out;
        }
        out.extend(self.release());
        out.push(Input::Key(key));
        out
    }

    /// Time passed: held keys older than the gap are typing.
    pub fn tick(&mut self, now: Instant) -> Vec<Input> {
        match self.deadline() {
            Some(d) if now >= d => self.release(),
            _ => Vec::new(),
        }
    }

    fn release(&mut self) -> Vec<Input> {
        self.held.drain(..).map(Input::Key).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(c: char) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
    }
    fn enter() -> KeyEvent {
        KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)
    }

    #[test]
    fn a_fast_burst_ending_in_enter_is_one_scan() {
        let t0 = Instant::now();
        let mut d = ScanDetector::new(Duration::from_millis(30), 4);
        let mut out = Vec::new();
        for (i, c) in "SKU-1".chars().enumerate() {
            out.extend(d.push(k(c), t0 + Duration::from_millis(5 * i as u64)));
        }
        out.extend(d.push(enter(), t0 + Duration::from_millis(30)));
        assert_eq!(out, [Input::Scan("SKU-1".into())]);
    }

    #[test]
    fn slow_typing_is_keys_and_short_bursts_are_not_scans() {
        let t0 = Instant::now();
        let mut d = ScanDetector::new(Duration::from_millis(30), 4);
        let mut out = d.push(k('c'), t0);
        assert!(out.is_empty(), "held for one gap");
        out.extend(d.tick(t0 + Duration::from_millis(31)));
        assert_eq!(out, [Input::Key(k('c'))]);
        let t1 = t0 + Duration::from_secs(1);
        let mut out = d.push(k('a'), t1);
        out.extend(d.push(k('b'), t1 + Duration::from_millis(5)));
        out.extend(d.push(enter(), t1 + Duration::from_millis(10)));
        assert_eq!(
            out,
            [Input::Key(k('a')), Input::Key(k('b')), Input::Key(enter())]
        );
    }

    #[test]
    fn two_scans_back_to_back_stay_in_order() {
        let t0 = Instant::now();
        let mut d = ScanDetector::new(Duration::from_millis(30), 4);
        let mut out = Vec::new();
        let mut t = t0;
        for code in ["1111", "2222"] {
            for c in code.chars() {
                t += Duration::from_millis(3);
                out.extend(d.push(k(c), t));
            }
            t += Duration::from_millis(3);
            out.extend(d.push(enter(), t));
        }
        assert_eq!(
            out,
            [Input::Scan("1111".into()), Input::Scan("2222".into())]
        );
    }
}
