//! Code 128 barcodes (ISO/IEC 15417), code sets B and C: printable ASCII, with runs of digits
//! packed two to a symbol. It only encodes: turning bars into dots or vectors is the caller's
//! business (a PNG raster, PDF rectangles), and ZPL printers encode `^BC` themselves.
//!
//! Payloads are validated, never escaped: anything outside printable ASCII is refused.

/// Bar and space widths (in modules) of symbol values 0–105, six elements each, bar first.
const PATTERNS: [[u8; 6]; 106] = [
    [2, 1, 2, 2, 2, 2],
    [2, 2, 2, 1, 2, 2],
    [2, 2, 2, 2, 2, 1],
    [1, 2, 1, 2, 2, 3],
    [1, 2, 1, 3, 2, 2],
    [1, 3, 1, 2, 2, 2],
    [1, 2, 2, 2, 1, 3],
    [1, 2, 2, 3, 1, 2],
    [1, 3, 2, 2, 1, 2],
    [2, 2, 1, 2, 1, 3],
    [2, 2, 1, 3, 1, 2],
    [2, 3, 1, 2, 1, 2],
    [1, 1, 2, 2, 3, 2],
    [1, 2, 2, 1, 3, 2],
    [1, 2, 2, 2, 3, 1],
    [1, 1, 3, 2, 2, 2],
    [1, 2, 3, 1, 2, 2],
    [1, 2, 3, 2, 2, 1],
    [2, 2, 3, 2, 1, 1],
    [2, 2, 1, 1, 3, 2],
    [2, 2, 1, 2, 3, 1],
    [2, 1, 3, 2, 1, 2],
    [2, 2, 3, 1, 1, 2],
    [3, 1, 2, 1, 3, 1],
    [3, 1, 1, 2, 2, 2],
    [3, 2, 1, 1, 2, 2],
    [3, 2, 1, 2, 2, 1],
    [3, 1, 2, 2, 1, 2],
    [3, 2, 2, 1, 1, 2],
    [3, 2, 2, 2, 1, 1],
    [2, 1, 2, 1, 2, 3],
    [2, 1, 2, 3, 2, 1],
    [2, 3, 2, 1, 2, 1],
    [1, 1, 1, 3, 2, 3],
    [1, 3, 1, 1, 2, 3],
    [1, 3, 1, 3, 2, 1],
    [1, 1, 2, 3, 1, 3],
    [1, 3, 2, 1, 1, 3],
    [1, 3, 2, 3, 1, 1],
    [2, 1, 1, 3, 1, 3],
    [2, 3, 1, 1, 1, 3],
    [2, 3, 1, 3, 1, 1],
    [1, 1, 2, 1, 3, 3],
    [1, 1, 2, 3, 3, 1],
    [1, 3, 2, 1, 3, 1],
    [1, 1, 3, 1, 2, 3],
    [1, 1, 3, 3, 2, 1],
    [1, 3, 3, 1, 2, 1],
    [3, 1, 3, 1, 2, 1],
    [2, 1, 1, 3, 3, 1],
    [2, 3, 1, 1, 3, 1],
    [2, 1, 3, 1, 1, 3],
    [2, 1, 3, 3, 1, 1],
    [2, 1, 3, 1, 3, 1],
    [3, 1, 1, 1, 2, 3],
    [3, 1, 1, 3, 2, 1],
    [3, 3, 1, 1, 2, 1],
    [3, 1, 2, 1, 1, 3],
    [3, 1, 2, 3, 1, 1],
    [3, 3, 2, 1, 1, 1],
    [3, 1, 4, 1, 1, 1],
    [2, 2, 1, 4, 1, 1],
    [4, 3, 1, 1, 1, 1],
    [1, 1, 1, 2, 2, 4],
    [1, 1, 1, 4, 2, 2],
    [1, 2, 1, 1, 2, 4],
    [1, 2, 1, 4, 2, 1],
    [1, 4, 1, 1, 2, 2],
    [1, 4, 1, 2, 2, 1],
    [1, 1, 2, 2, 1, 4],
    [1, 1, 2, 4, 1, 2],
    [1, 2, 2, 1, 1, 4],
    [1, 2, 2, 4, 1, 1],
    [1, 4, 2, 1, 1, 2],
    [1, 4, 2, 2, 1, 1],
    [2, 4, 1, 2, 1, 1],
    [2, 2, 1, 1, 1, 4],
    [4, 1, 3, 1, 1, 1],
    [2, 4, 1, 1, 1, 2],
    [1, 3, 4, 1, 1, 1],
    [1, 1, 1, 2, 4, 2],
    [1, 2, 1, 1, 4, 2],
    [1, 2, 1, 2, 4, 1],
    [1, 1, 4, 2, 1, 2],
    [1, 2, 4, 1, 1, 2],
    [1, 2, 4, 2, 1, 1],
    [4, 1, 1, 2, 1, 2],
    [4, 2, 1, 1, 1, 2],
    [4, 2, 1, 2, 1, 1],
    [2, 1, 2, 1, 4, 1],
    [2, 1, 4, 1, 2, 1],
    [4, 1, 2, 1, 2, 1],
    [1, 1, 1, 1, 4, 3],
    [1, 1, 1, 3, 4, 1],
    [1, 3, 1, 1, 4, 1],
    [1, 1, 4, 1, 1, 3],
    [1, 1, 4, 3, 1, 1],
    [4, 1, 1, 1, 1, 3],
    [4, 1, 1, 3, 1, 1],
    [1, 1, 3, 1, 4, 1],
    [1, 1, 4, 1, 3, 1],
    [3, 1, 1, 1, 4, 1],
    [4, 1, 1, 1, 3, 1],
    [2, 1, 1, 4, 1, 2],
    [2, 1, 1, 2, 1, 4],
    [2, 1, 1, 2, 3, 2],
];
/// The stop symbol: seven elements, ending with the two-module termination bar.
const STOP: [u8; 7] = [2, 3, 3, 1, 1, 1, 2];

const CODE_C: u8 = 99;
const CODE_B: u8 = 100;
const START_B: u8 = 104;
const START_C: u8 = 105;

/// Why a payload cannot be a Code 128 barcode. Names the position, never the text.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Code128Error {
    #[error("barcode payload is empty")]
    Empty,
    #[error("barcode payload has a character outside printable ASCII at position {0}")]
    NotPrintable(usize),
    #[error("barcode payload is longer than {MAX_LEN} characters")]
    TooLong,
}

/// The longest payload accepted: far beyond any tracking or order id, short enough that a symbol
/// always fits a raster.
pub const MAX_LEN: usize = 80;

/// An encoded barcode: the symbol values (start, data, check) and the bar/space widths.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Code128 {
    values: Vec<u8>,
}

impl Code128 {
    /// Encodes `text` (printable ASCII, 1 to [`MAX_LEN`] characters) with code set B, switching
    /// to code set C for runs of digits where that makes the symbol shorter.
    pub fn encode(text: &str) -> Result<Code128, Code128Error> {
        let bytes = text.as_bytes();
        if bytes.is_empty() {
            return Err(Code128Error::Empty);
        }
        if let Some(i) = bytes.iter().position(|b| !(0x20..=0x7E).contains(b)) {
            // A multi-byte character's position in characters, not bytes.
            return Err(Code128Error::NotPrintable(text[..i].chars().count()));
        }
        if bytes.len() > MAX_LEN {
            return Err(Code128Error::TooLong);
        }
        let digits_from = |i: usize| bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        let mut values = Vec::with_capacity(bytes.len() + 4);
        let mut i = 0;
        // Start in C when the text opens with four or more digits (or is exactly two).
        let lead = digits_from(0);
        let mut in_c = lead >= 4 || (lead == 2 && bytes.len() == 2);
        values.push(if in_c { START_C } else { START_B });
        while i < bytes.len() {
            if in_c {
                if digits_from(i) >= 2 {
                    values.push((bytes[i] - b'0') * 10 + (bytes[i + 1] - b'0'));
                    i += 2;
                    continue;
                }
                values.push(CODE_B);
                in_c = false;
            }
            let run = digits_from(i);
            let at_end = i + run == bytes.len();
            // Switching costs one symbol: worth it for 4 digits at the end, 6 in the middle.
            if run >= 6 || (at_end && run >= 4) {
                if run % 2 == 1 {
                    values.push(bytes[i] - 0x20);
                    i += 1;
                }
                values.push(CODE_C);
                in_c = true;
                continue;
            }
            values.push(bytes[i] - 0x20);
            i += 1;
        }
        let check = values
            .iter()
            .enumerate()
            .map(|(pos, v)| pos.max(1) as u32 * u32::from(*v))
            .sum::<u32>()
            % 103;
        values.push(check as u8);
        Ok(Code128 { values })
    }

    /// The symbol values: start code, data, check symbol (the stop is implied).
    pub fn values(&self) -> &[u8] {
        &self.values
    }

    /// Element widths in modules, bar first, alternating bar and space, stop included.
    pub fn widths(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.values.len() * 6 + 7);
        for v in &self.values {
            out.extend_from_slice(&PATTERNS[usize::from(*v)]);
        }
        out.extend_from_slice(&STOP);
        out
    }

    /// The symbol as modules, `true` for a bar, without quiet zones.
    pub fn modules(&self) -> Vec<bool> {
        let mut out = Vec::with_capacity(self.width_in_modules());
        for (i, w) in self.widths().into_iter().enumerate() {
            out.extend(std::iter::repeat_n(i % 2 == 0, usize::from(w)));
        }
        out
    }

    /// The width of the symbol in modules, without quiet zones (each needs ten more).
    pub fn width_in_modules(&self) -> usize {
        self.values.len() * 11 + 13
    }

    /// The bars as (start, width) in modules from the symbol's left edge, for vector drawing.
    pub fn bars(&self) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut x = 0;
        for (i, w) in self.widths().into_iter().enumerate() {
            let w = usize::from(w);
            if i % 2 == 0 {
                out.push((x, w));
            }
            x += w;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pattern_is_eleven_modules_with_even_bars_and_unique() {
        for (v, p) in PATTERNS.iter().enumerate() {
            assert_eq!(
                p.iter().map(|&w| u32::from(w)).sum::<u32>(),
                11,
                "value {v}"
            );
            assert_eq!((p[0] + p[2] + p[4]) % 2, 0, "value {v}: bars must be even");
        }
        let unique: std::collections::HashSet<_> = PATTERNS.iter().collect();
        assert_eq!(unique.len(), PATTERNS.len());
        assert_eq!(STOP.iter().map(|&w| u32::from(w)).sum::<u32>(), 13);
    }

    #[test]
    fn known_symbols() {
        // "PJJ123C" in code set B (a run of three digits is not worth code set C): start B,
        // data, and the check 879 mod 103 = 55.
        let c = Code128::encode("PJJ123C").unwrap();
        assert_eq!(c.values(), &[104, 48, 42, 42, 17, 18, 19, 35, 55]);
        // All digits, even length: code set C throughout.
        let c = Code128::encode("123456").unwrap();
        assert_eq!(c.values()[..4], [105, 12, 34, 56]);
        // A UPS tracking id: B for "1Z999AA" and the first of the 11 digits at the end, then C.
        let c = Code128::encode("1Z999AA10123456784").unwrap();
        assert_eq!(
            c.values()[..15],
            [104, 17, 58, 25, 25, 25, 33, 33, 17, 99, 1, 23, 45, 67, 84]
        );
        assert_eq!(c.width_in_modules(), c.modules().len());
        assert_eq!(c.modules().first(), Some(&true));
        assert_eq!(c.modules().last(), Some(&true));
    }

    #[test]
    fn odd_digit_runs_and_switching_back() {
        let c = Code128::encode("A1234567B").unwrap();
        // A, then 1 in B, then C for 234567, then back to B for the final letter.
        assert_eq!(c.values()[..8], [104, 33, 17, 99, 23, 45, 67, 100]);
        assert_eq!(c.values()[8], b'B' - 0x20);
    }

    #[test]
    fn refuses_what_it_cannot_encode() {
        assert_eq!(Code128::encode(""), Err(Code128Error::Empty));
        assert_eq!(
            Code128::encode("ab\u{1b}c"),
            Err(Code128Error::NotPrintable(2))
        );
        assert_eq!(Code128::encode("Zoë"), Err(Code128Error::NotPrintable(2)));
        assert_eq!(
            Code128::encode(&"9".repeat(MAX_LEN + 1)),
            Err(Code128Error::TooLong)
        );
    }

    proptest::proptest! {
        /// Any printable ASCII encodes, and the check symbol is the weighted sum mod 103.
        #[test]
        fn printable_ascii_always_encodes(s in "[ -~]{1,80}") {
            let c = Code128::encode(&s).unwrap();
            let v = c.values();
            let sum: u32 = v[..v.len() - 1].iter().enumerate().map(|(i, x)| i.max(1) as u32 * u32::from(*x)).sum();
            proptest::prop_assert_eq!(u32::from(v[v.len() - 1]), sum % 103);
            proptest::prop_assert_eq!(c.modules().len(), c.width_in_modules());
        }
    }
}
