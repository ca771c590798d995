//! Text that came from outside (Amazon, a file, a scanner) made safe to show, and normalised to
//! compare. Nothing here allocates more than its input needs, and nothing panics on any input.
//! `message` holds the rules a message's text meets before it goes to a customer.
//!
//! A crate of its own, below packline and the training marketplace: packline's domain
//! (`packline::domain::text`, `packline::domain::message`), its labels and the marketplace all
//! read text by these rules. It imports nothing of theirs.
#![deny(clippy::print_stdout)]

pub mod message;

use std::fmt::Write as _;

use unicode_normalization::UnicodeNormalization;

/// True for characters that change how a terminal or a renderer treats what follows, or that
/// cannot be seen: controls (C0/C1: escape sequences start here), line and paragraph separators,
/// the invisible format characters (zero-width spaces and joiners, bidirectional overrides and
/// isolates, the byte-order mark, tag characters) and the rest of Unicode's default-ignorable
/// code points (variation selectors, fillers).
pub fn is_hazard(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{0600}'..='\u{0605}'
                | '\u{061C}'
                | '\u{06DD}'
                | '\u{070F}'
                | '\u{08E2}'
                | '\u{115F}'..='\u{1160}'
                | '\u{17B4}'..='\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{FFF0}'..='\u{FFFB}'
                | '\u{110BD}'
                | '\u{110CD}'
                | '\u{1BCA0}'..='\u{1BCA3}'
                | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0000}'..='\u{E0FFF}'
        )
}

/// Writes `s` with every hazardous character shown as a `\u{..}` escape (and `\` doubled so the
/// escape is unambiguous). The result never contains a control or format character.
pub fn escape_hazards(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c == '\\' {
            out.push_str("\\\\");
        } else if is_hazard(c) {
            // Writing to a String cannot fail.
            let _ = write!(out, "\\u{{{:04X}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    out
}

/// The form a name is compared in: compatibility-normalised (NFKC), case-folded, hazards removed,
/// whitespace collapsed. "  JOHN\u{200B}  Smith " and "john smith" compare equal.
pub fn fold(s: &str) -> String {
    let cleaned: String = s
        .nfkc()
        .filter(|c| !is_hazard(*c) || c.is_whitespace())
        .collect();
    let folded: String = caseless::default_case_fold_str(&cleaned).nfkc().collect();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The form a name is searched in: [`fold`], then the accents of Latin, Greek and Cyrillic
/// letters taken off and the letters a US keyboard lacks written as people type them ("Björn
/// Müller" and "bjorn muller", "São Paulo" and "sao paulo", "Łukasz" and "lukasz" are one).
/// Only the combining diacritics are dropped, never the marks other scripts write vowels with,
/// so a Devanagari or Thai name keeps its words. The blind index stores this form: a change to it
/// is a new [`SEARCH_FOLD`], and stores indexed under an older one are indexed again.
pub fn search_fold(s: &str) -> String {
    let folded = fold(s);
    let mut out = String::with_capacity(folded.len());
    for c in folded.nfd() {
        match c {
            '\u{0300}'..='\u{036F}'
            | '\u{1AB0}'..='\u{1AFF}'
            | '\u{1DC0}'..='\u{1DFF}'
            | '\u{20D0}'..='\u{20FF}'
            | '\u{FE20}'..='\u{FE2F}' => {}
            'ø' => out.push('o'),
            'đ' | 'ð' => out.push('d'),
            'ł' => out.push('l'),
            'ı' => out.push('i'),
            'ħ' => out.push('h'),
            'ŧ' => out.push('t'),
            'æ' => out.push_str("ae"),
            'œ' => out.push_str("oe"),
            'þ' => out.push_str("th"),
            c => out.push(c),
        }
    }
    out.nfc().collect()
}

/// The version of [`search_fold`] the blind index is built with: 1 was [`fold`] alone (accents
/// kept), 2 takes them off.
pub const SEARCH_FOLD: u32 = 2;

/// The words of a folded name: maximal runs of letters, marks and digits ("Müller-Lüdenscheidt"
/// gives "müller" and "lüdenscheidt").
pub fn tokens(folded: &str) -> impl Iterator<Item = &str> {
    folded
        .split(|c: char| !(c.is_alphanumeric() || is_mark(c)))
        .filter(|t| !t.is_empty())
}

/// Combining marks, so that scripts written with them (Devanagari, Thai, Arabic harakat) stay in
/// one token. A coarse test on the main combining blocks is enough: splitting inside a word only
/// makes a name search less exact, never wrong.
fn is_mark(c: char) -> bool {
    matches!(c,
        '\u{0300}'..='\u{036F}'
            | '\u{0483}'..='\u{0489}'
            | '\u{0591}'..='\u{05C7}'
            | '\u{0610}'..='\u{061A}'
            | '\u{064B}'..='\u{065F}'
            | '\u{0670}'
            | '\u{06D6}'..='\u{06ED}'
            | '\u{0900}'..='\u{0903}'
            | '\u{093A}'..='\u{094F}'
            | '\u{0951}'..='\u{0957}'
            | '\u{0962}'..='\u{0963}'
            | '\u{0E31}'
            | '\u{0E34}'..='\u{0E3A}'
            | '\u{0E47}'..='\u{0E4E}'
            | '\u{1AB0}'..='\u{1AFF}'
            | '\u{1DC0}'..='\u{1DFF}'
            | '\u{20D0}'..='\u{20FF}'
            | '\u{FE20}'..='\u{FE2F}'
    )
}

/// `s` cut to at most `max` characters, the cut marked with a trailing `…` (so a reader sees the
/// text was longer); `s` itself when it fits. One imported field can never outgrow a page.
pub fn bounded(mut s: String, max: usize) -> String {
    let Some((cut, _)) = s.char_indices().nth(max.saturating_sub(1)) else {
        return s;
    };
    if s[cut..].chars().nth(1).is_none() {
        return s;
    }
    s.truncate(cut);
    s.push('…');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_text_is_cut_at_a_character_and_marked() {
        assert_eq!(bounded("abcde".into(), 5), "abcde");
        assert_eq!(bounded("abc".into(), 5), "abc");
        assert_eq!(bounded("abcdefg".into(), 5), "abcd…");
        // Never inside a character: four-byte characters are cut whole.
        let long: String = "😀".repeat(10);
        let cut = bounded(long, 4);
        assert_eq!(cut, "😀😀😀…");
        assert_eq!(cut.chars().count(), 4);
        let huge = "x".repeat(10 << 20);
        assert_eq!(bounded(huge, 300).chars().count(), 300);
    }

    #[test]
    fn escapes_every_control_and_format_character() {
        let s = "a\u{1b}[31mb\u{202E}c\u{200B}d\\e\n";
        let e = escape_hazards(s);
        assert_eq!(e, "a\\u{001B}[31mb\\u{202E}c\\u{200B}d\\\\e\\u{000A}");
        assert!(!e.chars().any(is_hazard));
        // Tag characters can smuggle invisible text; they are shown too.
        assert_eq!(
            escape_hazards("x\u{E0041}\u{E007F}"),
            "x\\u{E0041}\\u{E007F}"
        );
    }

    #[test]
    fn fold_ignores_case_width_invisibles_and_spacing() {
        assert_eq!(fold("  JOHN\u{200B}  Smith "), "john smith");
        assert_eq!(fold("Straße"), fold("STRASSE"));
        assert_eq!(fold("ＪＯＨＮ"), "john");
        assert_eq!(fold("Jo\u{200D}hn"), "john");
    }

    #[test]
    fn a_search_finds_a_name_typed_without_its_accents() {
        assert_eq!(search_fold("Björn Müller"), "bjorn muller");
        assert_eq!(search_fold("SÃO PAULO"), "sao paulo");
        assert_eq!(search_fold("Łukasz Żółć"), "lukasz zolc");
        assert_eq!(search_fold("Øyvind Ærø"), "oyvind aero");
        assert_eq!(search_fold("François Ðorđević"), "francois dordevic");
        assert_eq!(search_fold("Straße"), "strasse");
        // Precomposed or written with combining marks: the same.
        assert_eq!(search_fold("Jo\u{0308}rg"), search_fold("Jörg"));
        // Greek and Cyrillic lose their accents as Latin does.
        assert_eq!(search_fold("Ἀθηνᾶ"), search_fold("αθηνα"));
        assert_eq!(search_fold("Йосиф"), search_fold("иосиф"));
        // Other scripts keep the marks their vowels are written with.
        assert_eq!(search_fold("देवनागरी"), fold("देवनागरी"));
        assert_ne!(search_fold("कि"), search_fold("क"));
    }

    #[test]
    fn tokens_split_on_punctuation_and_keep_scripts_whole() {
        let f = fold("Müller-Lüdenscheidt, Jörg");
        assert_eq!(
            tokens(&f).collect::<Vec<_>>(),
            ["müller", "lüdenscheidt", "jörg"]
        );
        let f = fold("محمد عبد الله");
        assert_eq!(tokens(&f).count(), 3);
        let f = fold("देवनागरी नाम");
        assert_eq!(tokens(&f).collect::<Vec<_>>(), ["देवनागरी", "नाम"]);
    }
}
