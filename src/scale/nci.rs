//! The NCI / SMA serial scale protocol (NCI's "SCP-01", also spoken by Avery Weigh-Tronix,
//! Brecknell, Fairbanks and Ohaus shipping scales; close to the SMA scale standard). The host
//! sends `W<CR>`; the scale answers
//!
//! ```text
//! <LF>  0001.25LB<CR><LF>hh<CR><ETX>     weight, unit, then status
//! <LF>hh<CR><ETX>                        status only (in motion, under zero, over capacity…)
//! ```
//!
//! Status bytes have the high nibble `0011` (bit 6 may say "another byte follows", bit 7 is
//! parity): byte 1 bit 0 in motion, bit 1 at zero, bit 2 RAM error, bit 3 EEPROM error; byte 2
//! bit 0 under capacity, bit 1 over capacity, bit 2 ROM error, bit 3 faulty calibration; an
//! optional byte 3 bit 3 initial zero error. Some scales put an `S` before the status bytes.
//! A weight field of `^` is over capacity, `_` under capacity, `-` a zero error.

use super::{Fault, Reading, Unit, to_grams};

/// The weight request.
pub const POLL: &[u8] = b"W\r";

/// End of an answer.
const ETX: u8 = 0x03;

/// The longest answer kept while waiting for its end: a scale that never sends ETX does not
/// grow the buffer without bound.
const MAX_FRAME: usize = 128;

/// Splits a serial stream into answers and reads each one.
#[derive(Debug, Default)]
pub struct Frames {
    buf: Vec<u8>,
}

impl Frames {
    /// Takes the bytes read and returns the reading of every answer they complete (an answer
    /// that cannot be read gives none).
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Reading> {
        let mut out = Vec::new();
        for &b in bytes {
            if b & 0x7F == ETX {
                if let Some(r) = parse_answer(&self.buf) {
                    out.push(r);
                }
                self.buf.clear();
            } else if self.buf.len() < MAX_FRAME {
                self.buf.push(b);
            } else {
                // Too long to be an answer: drop it and wait for the next ETX.
                self.buf.clear();
            }
        }
        out
    }
}

/// Reads one answer (the bytes before its ETX).
pub fn parse_answer(bytes: &[u8]) -> Option<Reading> {
    // Parity is the line's business: 7E1 bytes read as 8N1 carry it in bit 7.
    let text: Vec<u8> = bytes.iter().map(|b| b & 0x7F).collect();
    let lines: Vec<&[u8]> = text
        .split(|&b| b == b'\r' || b == b'\n')
        .map(trim)
        .filter(|l| !l.is_empty())
        .collect();
    let (status, rest) = lines.split_last()?;
    let status = status.strip_prefix(b"S").unwrap_or(status);
    let status = status.strip_prefix(b" ").unwrap_or(status);
    if !(2..=4).contains(&status.len()) || status.iter().any(|&b| b & 0x30 != 0x30) {
        return None;
    }
    let weight = match rest {
        [] => None,
        [w] => Some(parse_weight(w)?),
        _ => return None,
    };
    let (s1, s2) = (status[0], status[1]);
    let s3 = status.get(2).copied().unwrap_or(0x30);
    if s1 & 0b1100 != 0 || s2 & 0b0100 != 0 {
        return Some(Reading::Fault(Fault::Hardware));
    }
    if s2 & 0b1000 != 0 {
        return Some(Reading::Fault(Fault::NeedsCalibration));
    }
    if s3 & 0b1000 != 0 || weight == Some(Field::ZeroError) {
        return Some(Reading::Fault(Fault::NeedsRezero));
    }
    if s2 & 0b0010 != 0 || weight == Some(Field::Over) {
        return Some(Reading::OverCapacity);
    }
    if s2 & 0b0001 != 0 || weight == Some(Field::Under) {
        return Some(Reading::UnderZero);
    }
    let grams = match weight {
        Some(Field::Grams(g)) => Some(g),
        Some(Field::Unit) => return Some(Reading::Fault(Fault::Unit)),
        _ => None,
    };
    if s1 & 0b0001 != 0 {
        return Some(Reading::Moving(grams));
    }
    match grams {
        _ if s1 & 0b0010 != 0 => Some(Reading::Zero),
        Some(0) => Some(Reading::Zero),
        Some(g) => Some(Reading::Stable(g)),
        // Status alone, settled, not at zero, no error: nothing to weigh by.
        None => None,
    }
}

/// What a weight field says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    Grams(u32),
    Over,
    Under,
    ZeroError,
    /// A number in a unit packline does not convert.
    Unit,
}

fn trim(mut l: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = l {
        l = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = l {
        l = rest;
    }
    l
}

/// `0001.25LB`, `-0.40kg`, `1LB 03.5OZ`, `^^^^^^LB`.
fn parse_weight(field: &[u8]) -> Option<Field> {
    let digits = |c: u8| field.iter().filter(|&&b| b == c).count();
    let marks = field
        .iter()
        .filter(|b| !b.is_ascii_alphabetic() && **b != b' ')
        .count();
    if marks > 0 {
        for (c, f) in [
            (b'^', Field::Over),
            (b'_', Field::Under),
            (b'-', Field::ZeroError),
        ] {
            if digits(c) == marks {
                return Some(f);
            }
        }
    }
    let upper: Vec<u8> = field.to_ascii_uppercase();
    // Pounds and ounces: `1LB 03.5OZ`.
    if let Some(at) = find(&upper, b"LB")
        && upper.ends_with(b"OZ")
        && at + 2 < upper.len() - 2
    {
        let (lb_m, lb_e, lb_neg) = number(trim(&upper[..at]))?;
        let (oz_m, oz_e, oz_neg) = number(trim(&upper[at + 2..upper.len() - 2]))?;
        if lb_neg || oz_neg {
            return Some(Field::Under);
        }
        let g = u64::from(to_grams(lb_m, lb_e, Unit::Pound)?)
            + u64::from(to_grams(oz_m, oz_e, Unit::Ounce)?);
        return Some(Field::Grams(u32::try_from(g).ok()?));
    }
    let split = upper
        .iter()
        .rposition(|b| !b.is_ascii_alphabetic())
        .map_or(0, |i| i + 1);
    let (num, unit) = upper.split_at(split);
    let (m, e, neg) = number(trim(num))?;
    let unit = match unit {
        b"LB" | b"LBS" => Unit::Pound,
        b"KG" => Unit::Kilogram,
        b"OZ" => Unit::Ounce,
        b"G" | b"GM" => Unit::Gram,
        [] => return None,
        _ => return Some(Field::Unit),
    };
    if neg && m != 0 {
        return Some(Field::Under);
    }
    to_grams(m, e, unit).map(Field::Grams)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A decimal number: its digits as an integer, the power of ten to apply, and its sign.
fn number(text: &[u8]) -> Option<(u64, i32, bool)> {
    let (neg, text) = match text {
        [b'-', rest @ ..] => (true, trim(rest)),
        [b'+', rest @ ..] => (false, trim(rest)),
        _ => (false, text),
    };
    let mut mantissa: u64 = 0;
    let mut decimals: Option<i32> = None;
    let mut n_digits = 0;
    for &b in text {
        match b {
            b'0'..=b'9' => {
                n_digits += 1;
                if n_digits > 12 {
                    return None;
                }
                mantissa = mantissa * 10 + u64::from(b - b'0');
                if let Some(d) = decimals.as_mut() {
                    *d += 1;
                }
            }
            b'.' if decimals.is_none() => decimals = Some(0),
            _ => return None,
        }
    }
    (n_digits > 0).then_some((mantissa, -decimals.unwrap_or(0), neg))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn one(bytes: &[u8]) -> Vec<Reading> {
        Frames::default().push(bytes)
    }

    #[test]
    fn weights_in_each_unit() {
        assert_eq!(one(b"\n0001.25LB\r\n00\r\x03"), [Reading::Stable(567)]);
        assert_eq!(one(b"\n  0.850KG\r\n00\r\x03"), [Reading::Stable(850)]);
        assert_eq!(one(b"\n 1234.0 g\r\n00\r\x03"), [Reading::Stable(1234)]);
        assert_eq!(one(b"\n0012.50oz\r\n00\r\x03"), [Reading::Stable(354)]);
        // Pounds and ounces: 1 lb 3.5 oz = 552.8 g.
        assert_eq!(one(b"\n1LB 03.5OZ\r\n00\r\x03"), [Reading::Stable(553)]);
    }

    #[test]
    fn states_from_the_status_bytes() {
        // At zero (byte 1 bit 1).
        assert_eq!(one(b"\n0000.00LB\r\n20\r\x03"), [Reading::Zero]);
        // In motion, with and without the passing weight.
        assert_eq!(
            one(b"\n0001.30LB\r\n10\r\x03"),
            [Reading::Moving(Some(590))]
        );
        assert_eq!(one(b"\n10\r\x03"), [Reading::Moving(None)]);
        // Under and over capacity (byte 2 bits 0 and 1), by status and by field.
        assert_eq!(one(b"\n01\r\x03"), [Reading::UnderZero]);
        assert_eq!(one(b"\n_______LB\r\n00\r\x03"), [Reading::UnderZero]);
        assert_eq!(one(b"\n-0000.40LB\r\n00\r\x03"), [Reading::UnderZero]);
        assert_eq!(one(b"\n^^^^^^^LB\r\n02\r\x03"), [Reading::OverCapacity]);
        // RAM, EEPROM and ROM errors; faulty calibration; an initial zero error (byte 3,
        // announced by bit 6 of byte 2).
        assert_eq!(one(b"\n40\r\x03"), [Reading::Fault(Fault::Hardware)]);
        assert_eq!(one(b"\n80\r\x03"), [Reading::Fault(Fault::Hardware)]);
        assert_eq!(one(b"\n04\r\x03"), [Reading::Fault(Fault::Hardware)]);
        assert_eq!(
            one(b"\n08\r\x03"),
            [Reading::Fault(Fault::NeedsCalibration)]
        );
        assert_eq!(one(b"\n0p8\r\x03"), [Reading::Fault(Fault::NeedsRezero)]);
        assert_eq!(
            one(b"\n-------LB\r\n00\r\x03"),
            [Reading::Fault(Fault::NeedsRezero)]
        );
        // A status with an `S` before it (Fairbanks' example: at zero).
        assert_eq!(one(b"\nS20\r\x03"), [Reading::Zero]);
        // A unit packline does not convert.
        assert_eq!(
            one(b"\n0001.25CT\r\n00\r\x03"),
            [Reading::Fault(Fault::Unit)]
        );
    }

    #[test]
    fn seven_bit_parity_and_split_reads() {
        // 7E1 read as 8N1: bit 7 holds the parity.
        let with_parity: Vec<u8> = b"\n0000.85KG\r\n00\r\x03"
            .iter()
            .map(|b| {
                if b.count_ones() % 2 == 1 {
                    b | 0x80
                } else {
                    *b
                }
            })
            .collect();
        assert_eq!(one(&with_parity), [Reading::Stable(850)]);
        // An answer in pieces, two in one read, noise between them.
        let mut f = Frames::default();
        assert!(f.push(b"\n0001.").is_empty());
        assert_eq!(
            f.push(b"00KG\r\n00\r\x03garbage\x03\n10\r\x03"),
            [Reading::Stable(1000), Reading::Moving(None)]
        );
    }

    #[test]
    fn garbage_gives_no_reading() {
        for bad in [
            &b"\x03"[..],
            b"\n\r\x03",
            b"\nhello\r\x03",
            b"\n12.5LB\r\x03",
            b"\n1.2.3LB\r\n00\r\x03",
            b"\n0001.25LB\r\n0001.25LB\r\n00\r\x03",
            b"\n0001.25\r\n00\r\x03",
            b"\n00\r\x03",
            b"\n99999999999999LB\r\n00\r\x03",
        ] {
            assert_eq!(one(bad), [], "{:?}", String::from_utf8_lossy(bad));
        }
    }

    proptest! {
        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let mut f = Frames::default();
            for chunk in bytes.chunks(7) {
                for r in f.push(chunk) {
                    if let Reading::Stable(g) = r {
                        prop_assert!(g > 0);
                    }
                }
            }
            prop_assert!(f.buf.len() <= MAX_FRAME);
        }

        /// Bytes close to real answers (digits, signs, units, marks, line ends, status
        /// bytes), where a parser's corner cases are.
        #[test]
        fn near_answers_never_panic(
            bytes in proptest::collection::vec(
                proptest::sample::select(b"0123456789.-+ LBKGOZlbgS^_\r\n\x03\x0212p8".to_vec()),
                0..60,
            )
        ) {
            let mut f = Frames::default();
            let _ = f.push(&bytes);
            let _ = parse_answer(&bytes);
        }

        #[test]
        fn any_weight_in_grams_reads_back(g in 1u32..=999_999) {
            let frame = format!("\n{g:07}G\r\n00\r\x03");
            prop_assert_eq!(one(frame.as_bytes()), vec![Reading::Stable(g)]);
        }
    }
}
