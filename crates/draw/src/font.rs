//! The 8×8 bitmap font (public-domain font8x8) that draws text where there is no font: the
//! training carrier's label images and the big slot numbers of the pick screen.

use packline_text::is_hazard;

/// The 8×8 bitmap of a character (bit 0 the leftmost pixel): Basic Latin and Latin-1; hazards
/// have none; anything else shows as `?`.
pub fn glyph(c: char) -> Option<[u8; 8]> {
    use font8x8::legacy::{BASIC_LEGACY, LATIN_LEGACY};
    if is_hazard(c) {
        return None;
    }
    Some(match c as u32 {
        n @ 0x20..=0x7E => BASIC_LEGACY[n as usize],
        n @ 0xA0..=0xFF => LATIN_LEGACY[(n - 0xA0) as usize],
        _ => BASIC_LEGACY[usize::from(b'?')],
    })
}

/// Text drawn large in terminal cells: each character 8 columns by 4 rows, two pixel rows to a
/// cell with half blocks. Shapes only, so it reads the same without colour.
pub fn big(text: &str) -> [String; 4] {
    let mut rows: [String; 4] = Default::default();
    for c in text.chars() {
        let Some(g) = glyph(c) else { continue };
        for (r, row) in rows.iter_mut().enumerate() {
            let (top, bottom) = (g[2 * r], g[2 * r + 1]);
            for bit in 0..8 {
                row.push(match (top >> bit & 1, bottom >> bit & 1) {
                    (1, 1) => '█',
                    (1, 0) => '▀',
                    (0, 1) => '▄',
                    _ => ' ',
                });
            }
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_text_is_eight_columns_a_character() {
        let rows = big("12");
        assert!(rows.iter().all(|r| r.chars().count() == 16));
        // "1" has ink in its first row pair; a space has none.
        assert!(rows[0].chars().take(8).any(|c| c != ' '));
        assert!(big(" ").iter().all(|r| r.trim().is_empty()));
        assert!(big("\u{1b}").iter().all(String::is_empty));
    }
}
