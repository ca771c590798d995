//! USB point-of-sale scales (HID usage page 0x8D, "Scales", of the USB HID Point of Sale Usage
//! Tables). Their data report, read from Linux hidraw with its report id first, is six bytes:
//!
//! ```text
//! 0x03  status  unit  exponent  weight-lo  weight-hi
//! ```
//!
//! Status: 1 fault, 2 stable at zero, 3 in motion, 4 stable, 5 under zero, 6 over weight,
//! 7 requires calibration, 8 requires re-zeroing. Unit: 1 mg, 2 g, 3 kg, 11 oz, 12 lb (others
//! are carats, grains, taels… which packline does not take). The weight is an unsigned 16-bit
//! little-endian number scaled by ten to the signed exponent.

use super::{Fault, Reading, Unit, to_grams};

/// The report id of the scale data report.
pub const DATA_REPORT: u8 = 0x03;

/// The length of a data report, its id included.
pub const REPORT_LEN: usize = 6;

/// Reads what one read of the device returned: one report, or several back to back (a pipe or
/// a test's pseudo-terminal joins them). Reports other than the data report give nothing.
pub fn parse_reads(bytes: &[u8]) -> Vec<Reading> {
    if bytes.len() > REPORT_LEN && bytes.len().is_multiple_of(REPORT_LEN) {
        bytes.chunks(REPORT_LEN).filter_map(parse_report).collect()
    } else {
        parse_report(bytes).into_iter().collect()
    }
}

/// Reads one data report.
pub fn parse_report(report: &[u8]) -> Option<Reading> {
    let [id, status, unit, exp, lo, hi, ..] = *report else {
        return None;
    };
    if id != DATA_REPORT {
        return None;
    }
    let value = u16::from_le_bytes([lo, hi]);
    let grams = || {
        let unit = match unit {
            1 => Unit::Milligram,
            2 => Unit::Gram,
            3 => Unit::Kilogram,
            11 => Unit::Ounce,
            12 => Unit::Pound,
            _ => return Err(Reading::Fault(Fault::Unit)),
        };
        to_grams(u64::from(value), i32::from(exp as i8), unit).ok_or(Reading::OverCapacity)
    };
    Some(match status {
        1 => Reading::Fault(Fault::Hardware),
        2 => Reading::Zero,
        3 => Reading::Moving(grams().ok()),
        4 => match grams() {
            Ok(0) => Reading::Zero,
            Ok(g) => Reading::Stable(g),
            Err(r) => r,
        },
        5 => Reading::UnderZero,
        6 => Reading::OverCapacity,
        7 => Reading::Fault(Fault::NeedsCalibration),
        8 => Reading::Fault(Fault::NeedsRezero),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn data_reports() {
        // 1234 g, exponent 0.
        assert_eq!(
            parse_report(&[3, 4, 2, 0, 0xD2, 0x04]),
            Some(Reading::Stable(1234))
        );
        // 1.5 kg as 15 × 10^-1 kg.
        assert_eq!(
            parse_report(&[3, 4, 3, 0xFF, 15, 0]),
            Some(Reading::Stable(1500))
        );
        // 2.5 lb as 25 × 10^-1 lb = 1133.98 g; 12.3 oz = 348.7 g.
        assert_eq!(
            parse_report(&[3, 4, 12, 0xFF, 25, 0]),
            Some(Reading::Stable(1134))
        );
        assert_eq!(
            parse_report(&[3, 4, 11, 0xFF, 123, 0]),
            Some(Reading::Stable(349))
        );
        assert_eq!(parse_report(&[3, 2, 11, 0xFF, 0, 0]), Some(Reading::Zero));
        assert_eq!(
            parse_report(&[3, 3, 2, 0, 100, 0]),
            Some(Reading::Moving(Some(100)))
        );
        assert_eq!(parse_report(&[3, 5, 2, 0, 0, 0]), Some(Reading::UnderZero));
        assert_eq!(
            parse_report(&[3, 6, 2, 0, 0xFF, 0xFF]),
            Some(Reading::OverCapacity)
        );
        assert_eq!(
            parse_report(&[3, 1, 2, 0, 0, 0]),
            Some(Reading::Fault(Fault::Hardware))
        );
        assert_eq!(
            parse_report(&[3, 7, 2, 0, 0, 0]),
            Some(Reading::Fault(Fault::NeedsCalibration))
        );
        assert_eq!(
            parse_report(&[3, 8, 2, 0, 0, 0]),
            Some(Reading::Fault(Fault::NeedsRezero))
        );
        // Carats.
        assert_eq!(
            parse_report(&[3, 4, 4, 0, 10, 0]),
            Some(Reading::Fault(Fault::Unit))
        );
        // Two reports in one read.
        assert_eq!(
            parse_reads(&[3, 3, 2, 0, 1, 0, 3, 4, 2, 0, 2, 0]),
            [Reading::Moving(Some(1)), Reading::Stable(2)]
        );
    }

    #[test]
    fn other_reports_and_garbage_give_nothing() {
        assert_eq!(parse_report(&[]), None);
        assert_eq!(parse_report(&[3, 4, 2, 0, 1]), None);
        assert_eq!(parse_report(&[4, 4, 2, 0, 1, 0]), None);
        assert_eq!(parse_report(&[3, 0, 2, 0, 1, 0]), None);
        assert_eq!(parse_report(&[3, 9, 2, 0, 1, 0]), None);
    }

    proptest! {
        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            for r in parse_reads(&bytes) {
                if let Reading::Stable(g) = r {
                    prop_assert!(g > 0);
                }
            }
        }

        #[test]
        fn any_gram_weight_reads_back(g in 1u16..) {
            let [lo, hi] = g.to_le_bytes();
            prop_assert_eq!(parse_report(&[3, 4, 2, 0, lo, hi]), Some(Reading::Stable(u32::from(g))));
        }
    }
}
