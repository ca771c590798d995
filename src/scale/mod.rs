//! The scale at a pack bench: which device it is (`[floor.scales] NAME = "serial:…"` or
//! `"hid:…"`), what its protocols say (pure parsers over bytes, in [`nci`] and [`hid`]), and a
//! watcher that reads the device on its own thread and says each change of state.
//!
//! It owns the device only: it never talks to the service. The weight reaches the store through
//! the bench's ordinary pack operations, as a typed weight would. A parser never panics, whatever
//! bytes a device sends; bytes it cannot read give no reading.

pub mod device;
pub mod hid;
pub mod nci;

use std::fmt;
use std::path::PathBuf;

/// Where a scale is and how to speak to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScaleSpec {
    /// A serial scale (RS-232 or USB-serial) polled with the NCI / SMA weight command.
    Serial {
        path: PathBuf,
        baud: u32,
        frame: SerialFrame,
    },
    /// A USB point-of-sale scale (HID usage page 0x8D) read through Linux hidraw.
    Hid { path: PathBuf },
}

/// Data bits, parity and stop bits of a serial line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SerialFrame {
    /// 8 data bits, no parity, 1 stop bit (the default).
    EightNone1,
    /// 7 data bits, even parity, 1 stop bit (many NCI scales' factory setting).
    SevenEven1,
    /// 7 data bits, odd parity, 1 stop bit.
    SevenOdd1,
}

impl SerialFrame {
    fn name(self) -> &'static str {
        match self {
            SerialFrame::EightNone1 => "8N1",
            SerialFrame::SevenEven1 => "7E1",
            SerialFrame::SevenOdd1 => "7O1",
        }
    }
}

/// The baud rates a serial scale may be set to.
pub const BAUDS: [u32; 6] = [1200, 2400, 4800, 9600, 19200, 38400];

impl ScaleSpec {
    /// Reads `serial:/dev/ttyUSB0` (9600 baud, 8N1), `serial:/dev/ttyUSB0?baud=9600&frame=7E1`
    /// or `hid:/dev/hidraw0`.
    pub fn parse(text: &str) -> Result<ScaleSpec, String> {
        let text = text.trim();
        if let Some(rest) = text.strip_prefix("serial:") {
            let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
            let path = absolute(path, text)?;
            let (mut baud, mut frame) = (9600, SerialFrame::EightNone1);
            for part in query.split('&').filter(|p| !p.is_empty()) {
                match part.split_once('=') {
                    Some(("baud", b)) => {
                        baud = b
                            .parse()
                            .ok()
                            .filter(|b| BAUDS.contains(b))
                            .ok_or_else(|| {
                                format!(
                                    "{text:?}: baud={b} is not a scale's speed: use one of {}",
                                    BAUDS.map(|b| b.to_string()).join(", ")
                                )
                            })?;
                    }
                    Some(("frame", f)) => {
                        frame = match f.to_ascii_uppercase().as_str() {
                            "8N1" => SerialFrame::EightNone1,
                            "7E1" => SerialFrame::SevenEven1,
                            "7O1" => SerialFrame::SevenOdd1,
                            _ => {
                                return Err(format!(
                                    "{text:?}: frame={f} is not one of 8N1, 7E1, 7O1"
                                ));
                            }
                        };
                    }
                    _ => {
                        return Err(format!(
                            "{text:?}: {part:?} is not a serial setting: write \
                             serial:/dev/ttyUSB0?baud=9600&frame=7E1"
                        ));
                    }
                }
            }
            Ok(ScaleSpec::Serial { path, baud, frame })
        } else if let Some(rest) = text.strip_prefix("hid:") {
            Ok(ScaleSpec::Hid {
                path: absolute(rest, text)?,
            })
        } else {
            Err(format!(
                "{text:?} is not a scale: write \"serial:/dev/ttyUSB0\" (NCI / SMA serial scale) \
                 or \"hid:/dev/hidraw0\" (USB point-of-sale scale)"
            ))
        }
    }

    pub fn path(&self) -> &std::path::Path {
        match self {
            ScaleSpec::Serial { path, .. } | ScaleSpec::Hid { path } => path,
        }
    }
}

fn absolute(path: &str, text: &str) -> Result<PathBuf, String> {
    if path.starts_with('/') && path.len() > 1 {
        Ok(PathBuf::from(path))
    } else {
        Err(format!(
            "{text:?}: the device must be an absolute path, such as /dev/ttyUSB0"
        ))
    }
}

impl fmt::Display for ScaleSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScaleSpec::Serial { path, baud, frame } => {
                write!(f, "serial:{}", path.display())?;
                if (*baud, *frame) != (9600, SerialFrame::EightNone1) {
                    write!(f, "?baud={baud}&frame={}", frame.name())?;
                }
                Ok(())
            }
            ScaleSpec::Hid { path } => write!(f, "hid:{}", path.display()),
        }
    }
}

/// What one message of a scale says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reading {
    /// A settled weight, in grams (rounded), above zero.
    Stable(u32),
    /// Settled at zero: nothing on the platform.
    Zero,
    /// The weight is still changing (its passing value, when the scale gave one).
    Moving(Option<u32>),
    /// Below zero: the platform was zeroed with something on it.
    UnderZero,
    /// More than the scale can weigh.
    OverCapacity,
    /// The scale says it cannot weigh until someone sees to it.
    Fault(Fault),
}

/// Why a scale cannot weigh.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// A hardware or memory error the scale reports.
    Hardware,
    NeedsCalibration,
    NeedsRezero,
    /// A unit packline does not convert (carats, grains…).
    Unit,
}

/// What the bench knows of its scale, as the pack screen shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScaleState {
    /// Opened, no answer yet.
    Starting,
    /// It said this.
    Reading(Reading),
    /// It cannot be read: the device is missing, or it did not answer in time.
    Off(String),
}

impl ScaleState {
    /// The weight to take: a settled weight above zero.
    pub fn stable_grams(&self) -> Option<u32> {
        match self {
            ScaleState::Reading(Reading::Stable(g)) => Some(*g),
            _ => None,
        }
    }

    /// The bench's line: "scale: 1.234 kg (stable)", "scale: moving…", "scale: off (…)".
    pub fn line(&self) -> String {
        match self {
            ScaleState::Starting => "scale: waiting for its first answer…".to_owned(),
            ScaleState::Reading(r) => match r {
                Reading::Stable(g) => format!("scale: {} (stable)", show_grams(*g)),
                Reading::Zero => "scale: 0 g (put the box on it)".to_owned(),
                Reading::Moving(Some(g)) => format!("scale: moving… ({})", show_grams(*g)),
                Reading::Moving(None) => "scale: moving…".to_owned(),
                Reading::UnderZero => "scale: under zero (empty it and zero it)".to_owned(),
                Reading::OverCapacity => "scale: over capacity".to_owned(),
                Reading::Fault(Fault::Hardware) => "scale: fault (it reports an error)".to_owned(),
                Reading::Fault(Fault::NeedsCalibration) => "scale: needs calibration".to_owned(),
                Reading::Fault(Fault::NeedsRezero) => "scale: needs zeroing".to_owned(),
                Reading::Fault(Fault::Unit) => {
                    "scale: set it to g, kg, oz or lb (its unit is not one)".to_owned()
                }
            },
            ScaleState::Off(why) => format!("scale: off ({why})"),
        }
    }
}

/// Grams as a person reads them: "850 g", "1.234 kg".
pub fn show_grams(g: u32) -> String {
    if g >= 1000 {
        format!("{}.{:03} kg", g / 1000, g % 1000)
    } else {
        format!("{g} g")
    }
}

/// Units scales weigh in, as grams per unit: numerator / denominator (exact, international
/// avoirdupois pound of 0.45359237 kg).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Milligram,
    Gram,
    Kilogram,
    Ounce,
    Pound,
}

impl Unit {
    fn grams_per_unit(self) -> (u128, u128) {
        match self {
            Unit::Milligram => (1, 1000),
            Unit::Gram => (1, 1),
            Unit::Kilogram => (1000, 1),
            Unit::Ounce => (28_349_523_125, 1_000_000_000),
            Unit::Pound => (45_359_237, 100_000),
        }
    }
}

/// The heaviest weight taken, in grams (a tonne: far beyond any parcel; the service refuses
/// what it does not ship).
const MAX_GRAMS: u128 = 1_000_000;

/// `mantissa × 10^exp` of `unit`, in grams rounded to the nearest; `None` when out of reach.
pub fn to_grams(mantissa: u64, exp: i32, unit: Unit) -> Option<u32> {
    if !(-12..=6).contains(&exp) {
        return None;
    }
    let (num, den) = unit.grams_per_unit();
    let ten = 10u128.pow(exp.unsigned_abs());
    let (num, den) = if exp >= 0 {
        (u128::from(mantissa) * num * ten, den)
    } else {
        (u128::from(mantissa) * num, den * ten)
    };
    let g = (num + den / 2) / den;
    (g <= MAX_GRAMS).then(|| u32::try_from(g).ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_read_and_refused() {
        assert_eq!(
            ScaleSpec::parse("serial:/dev/ttyUSB0").unwrap(),
            ScaleSpec::Serial {
                path: "/dev/ttyUSB0".into(),
                baud: 9600,
                frame: SerialFrame::EightNone1
            }
        );
        let s = ScaleSpec::parse("serial:/dev/ttyS1?baud=2400&frame=7e1").unwrap();
        assert_eq!(s.to_string(), "serial:/dev/ttyS1?baud=2400&frame=7E1");
        assert_eq!(
            ScaleSpec::parse("hid:/dev/hidraw0").unwrap().to_string(),
            "hid:/dev/hidraw0"
        );
        for bad in [
            "usb:/dev/x",
            "serial:ttyUSB0",
            "serial:",
            "hid:",
            "serial:/dev/x?baud=1234",
            "serial:/dev/x?frame=9Z9",
            "serial:/dev/x?speed=9600",
        ] {
            assert!(ScaleSpec::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn units_convert_exactly() {
        assert_eq!(to_grams(1234, -3, Unit::Kilogram), Some(1234));
        assert_eq!(to_grams(850, 0, Unit::Gram), Some(850));
        assert_eq!(to_grams(125, -2, Unit::Pound), Some(567)); // 1.25 lb = 566.99 g
        assert_eq!(to_grams(1, 0, Unit::Pound), Some(454));
        assert_eq!(to_grams(35, -1, Unit::Ounce), Some(99)); // 3.5 oz = 99.22 g
        assert_eq!(to_grams(1500, 0, Unit::Milligram), Some(2));
        assert_eq!(to_grams(u64::MAX, 6, Unit::Pound), None);
        assert_eq!(to_grams(1, 40, Unit::Gram), None);
        assert_eq!(to_grams(1, -40, Unit::Gram), None);
    }

    #[test]
    fn lines_say_the_state_plainly() {
        assert_eq!(
            ScaleState::Reading(Reading::Stable(1234)).line(),
            "scale: 1.234 kg (stable)"
        );
        assert_eq!(
            ScaleState::Reading(Reading::Moving(None)).line(),
            "scale: moving…"
        );
        assert_eq!(
            ScaleState::Off("no answer from serial:/dev/ttyUSB0".into()).line(),
            "scale: off (no answer from serial:/dev/ttyUSB0)"
        );
        assert_eq!(show_grams(850), "850 g");
        assert_eq!(show_grams(70_000), "70.000 kg");
    }
}
