//! Text from orders written into ZPL II so that it can only ever print as text. A label sets
//! `^CI28` (UTF-8) and every data field goes through [`text_field`], which writes `^FH` and
//! hex-escapes (`_XX`, one per byte) everything outside printable ASCII and the three characters
//! ZPL gives meaning to in field data: `^` and `~` (command prefixes) and `_` (the `^FH`
//! indicator). So no name, address or gift message can start a command (ZPL injection).

use std::fmt::Write as _;

use packline_text::is_hazard;

/// The escaped form of `text` for a `^FH^FD…^FS` field: controls and invisible format characters
/// dropped (line breaks become spaces), at most `max_chars` characters kept, and every byte that
/// is not plain printable ASCII, or is `^`, `~` or `_`, written as `_XX`.
pub fn field_data(text: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars * 4));
    let mut kept = 0;
    for c in text.chars() {
        if kept == max_chars {
            break;
        }
        let c = match c {
            '\n' | '\r' | '\t' => ' ',
            c if is_hazard(c) => continue,
            c => c,
        };
        kept += 1;
        let mut buf = [0u8; 4];
        for b in c.encode_utf8(&mut buf).bytes() {
            if (0x20..=0x7E).contains(&b) && !matches!(b, b'^' | b'~' | b'_') {
                out.push(char::from(b));
            } else {
                // Writing to a String cannot fail.
                let _ = write!(out, "_{b:02X}");
            }
        }
    }
    out
}

/// A text field at (`x`, `y`) dots in the scalable font, `height` dots tall, with the text
/// escaped by [`field_data`].
pub fn text_field(x: u32, y: u32, height: u32, text: &str, max_chars: usize) -> String {
    format!(
        "^FO{x},{y}^A0N,{height},{height}^FH^FD{}^FS\n",
        field_data(text, max_chars)
    )
}

/// Reverses `^FH` escaping (what a printer does), for tests and for checking rendered labels.
pub fn unescape(field: &str) -> Vec<u8> {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'_'
            && i + 2 < b.len()
            && let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_in_data_are_escaped() {
        let hostile = "^XA^FO50,50^FDPWNED^FS^XZ ~JA under_score";
        let f = field_data(hostile, 100);
        assert!(!f.contains('^') && !f.contains('~'), "{f}");
        assert_eq!(f, "_5EXA_5EFO50,50_5EFDPWNED_5EFS_5EXZ _7EJA under_5Fscore");
        assert_eq!(unescape(&f), hostile.as_bytes());
    }

    #[test]
    fn utf8_is_hex_escaped_and_hazards_dropped() {
        let f = field_data("Zoë\u{200B} 山田\u{1b}[2J\nx", 100);
        assert!(f.bytes().all(|b| (0x20..=0x7E).contains(&b)), "{f}");
        assert_eq!(String::from_utf8(unescape(&f)).unwrap(), "Zoë 山田[2J x");
    }

    #[test]
    fn long_text_is_cut_by_characters() {
        assert_eq!(field_data(&"é".repeat(50), 3), "_C3_A9_C3_A9_C3_A9");
        assert_eq!(
            text_field(10, 20, 30, "Hi^", 10),
            "^FO10,20^A0N,30,30^FH^FDHi_5E^FS\n"
        );
    }

    proptest::proptest! {
        /// Whatever the text, the field holds no command prefix and no byte outside printable
        /// ASCII, and a printer's unescaping gives back the cleaned text.
        #[test]
        fn no_input_escapes_the_field(s in "\\PC{0,60}") {
            let f = field_data(&s, 200);
            proptest::prop_assert!(!f.contains('^') && !f.contains('~'));
            proptest::prop_assert!(f.bytes().all(|b| (0x20..=0x7E).contains(&b)));
            let cleaned: String = s.chars().filter(|c| !is_hazard(*c) || matches!(c, '\n' | '\r' | '\t'))
                .map(|c| if matches!(c, '\n' | '\r' | '\t') { ' ' } else { c }).collect();
            proptest::prop_assert_eq!(unescape(&f), cleaned.into_bytes());
        }
    }
}
