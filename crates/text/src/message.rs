//! A message to a customer, written on the floor and sent only through Amazon: its text and the
//! rules a text must meet before it may leave packline (Amazon's own: a length limit per kind of
//! message, plain text without HTML, no e-mail address; and ours: nothing a screen cannot show).
//! The text may hold personal data, so [`MessageText`] never prints itself, is wiped on drop, and
//! every refusal names a rule and a position, never the text.

use std::fmt;

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::is_hazard;

/// The text of a message as a person typed it. `Debug` shows only its length, there is no
/// `Display`, and it is wiped on drop. Made by [`MessageText::new`], which checks the rules; one
/// that arrives by other means (the socket) is checked again before it is sent.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(transparent)]
pub struct MessageText(String);

/// Why a message's text was refused. Names the rule and where (a character's position, counted
/// from 1), never the text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MessageTextError {
    #[error("is empty: a message needs a text")]
    Empty,
    #[error(
        "is {len} characters long; Amazon takes at most {max} for this kind of message: shorten it"
    )]
    TooLong { len: usize, max: usize },
    #[error(
        "has HTML at character {at} (a tag such as <b> or an entity such as &amp;): Amazon takes plain text only"
    )]
    Html { at: usize },
    #[error(
        "has an e-mail address at character {at}: Amazon forbids e-mail addresses in messages (the buyer answers through Amazon)"
    )]
    Email { at: usize },
    #[error(
        "has an invisible or control character at character {at} (U+{code:04X}): only visible text, spaces, tabs and line breaks are sent"
    )]
    Hidden { at: usize, code: u32 },
}

impl MessageText {
    /// A message's text, trimmed, checked against the rules with `max_chars` the kind's limit
    /// (in Unicode characters, as the model's `maxLength` counts). Never cut short: a person
    /// wrote it, so a text too long is refused and they shorten it.
    pub fn new(text: impl Into<String>, max_chars: usize) -> Result<Self, MessageTextError> {
        let mut s: String = text.into();
        let r = check(s.trim(), max_chars).map(|()| MessageText(s.trim().to_owned()));
        s.zeroize();
        r
    }

    /// A text as typed, not yet checked (a client's, on its way to the service): the service runs
    /// [`MessageText::checked`] on it before anything is sent, whichever transport carried it.
    pub fn typed(text: impl Into<String>) -> Self {
        MessageText(text.into())
    }

    /// Checks a text made elsewhere (one that came over the socket) against the rules again.
    pub fn checked(&self, max_chars: usize) -> Result<Self, MessageTextError> {
        MessageText::new(self.0.as_str(), max_chars)
    }

    /// The text as it was written, for the request to Amazon and for sealing; never for a log.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Its length in characters.
    pub fn chars(&self) -> usize {
        self.0.chars().count()
    }
}

impl fmt::Debug for MessageText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MessageText({} chars, redacted)", self.chars())
    }
}

/// Every rule, in the order a writer would fix them.
fn check(text: &str, max_chars: usize) -> Result<(), MessageTextError> {
    let chars: Vec<char> = text.chars().collect();
    if chars.is_empty() {
        return Err(MessageTextError::Empty);
    }
    if chars.len() > max_chars {
        return Err(MessageTextError::TooLong {
            len: chars.len(),
            max: max_chars,
        });
    }
    if let Some((i, c)) = chars
        .iter()
        .enumerate()
        .find(|(_, c)| is_hazard(**c) && !matches!(c, '\n' | '\t' | '\r'))
    {
        return Err(MessageTextError::Hidden {
            at: i + 1,
            code: *c as u32,
        });
    }
    if let Some(i) = html_at(&chars) {
        return Err(MessageTextError::Html { at: i + 1 });
    }
    if let Some(i) = email_at(&chars) {
        return Err(MessageTextError::Email { at: i + 1 });
    }
    Ok(())
}

/// Where the first HTML tag (`<b>`, `</p>`, `<!-- -->`, `<br/>`) or character reference
/// (`&amp;`, `&#64;`, `&#x40;`) starts. A lone `<` or `&` in prose ("a < b", "R&D") is text.
fn html_at(chars: &[char]) -> Option<usize> {
    (0..chars.len()).find(|&i| match chars[i] {
        '<' => {
            let next = chars.get(i + 1).copied();
            let opens = match next {
                Some('/') => chars.get(i + 2).is_some_and(char::is_ascii_alphabetic),
                Some('!') | Some('?') => true,
                Some(c) => c.is_ascii_alphabetic(),
                None => false,
            };
            opens && chars[i + 1..].contains(&'>')
        }
        '&' => {
            let rest = &chars[i + 1..];
            let body: Vec<char> = rest.iter().take_while(|c| **c != ';').copied().collect();
            if body.len() == rest.len() || body.is_empty() || body.len() > 32 {
                return false;
            }
            match body.as_slice() {
                ['#', 'x' | 'X', hex @ ..] => {
                    !hex.is_empty() && hex.iter().all(char::is_ascii_hexdigit)
                }
                ['#', digits @ ..] => !digits.is_empty() && digits.iter().all(char::is_ascii_digit),
                // A named reference: `&amp;`, `&nbsp;` (a single letter, as in "R&D;", is prose).
                [first, rest @ ..] => {
                    first.is_ascii_alphabetic()
                        && !rest.is_empty()
                        && rest.iter().all(char::is_ascii_alphanumeric)
                }
                [] => false,
            }
        }
        _ => false,
    })
}

fn local_part(c: char) -> bool {
    c.is_alphanumeric() || "._%+-'!#$&*/=?^`{|}~".contains(c)
}

fn domain_part(c: char) -> bool {
    c.is_alphanumeric() || c == '-' || c == '.'
}

/// A character as a reader sees it: compatibility forms (full-width `＠`, small `﹫`, full-width
/// letters) folded to their plain form, one character for one, so positions stay the writer's.
fn folded(c: char) -> char {
    use unicode_normalization::UnicodeNormalization;
    let mut plain = std::iter::once(c).nfkc();
    match (plain.next(), plain.next()) {
        (Some(p), None) => p,
        _ => c,
    }
}

/// Where the first e-mail address starts: a `mailto:` link, or `local@domain` where the domain
/// is a name (`bob@localhost`), dotted labels ending in two letters or more, or a bracketed
/// address literal. Compatibility forms count as what they look like (`bob＠example.com`).
fn email_at(chars: &[char]) -> Option<usize> {
    let chars: Vec<char> = chars.iter().map(|c| folded(*c)).collect();
    let chars = chars.as_slice();
    const MAILTO: [char; 7] = ['m', 'a', 'i', 'l', 't', 'o', ':'];
    if let Some(i) = chars.windows(MAILTO.len()).position(|w| {
        w.iter()
            .zip(MAILTO)
            .all(|(c, m)| c.eq_ignore_ascii_case(&m))
    }) {
        return Some(i);
    }
    for (i, c) in chars.iter().enumerate() {
        if *c != '@' {
            continue;
        }
        let start = chars[..i]
            .iter()
            .rposition(|c| !local_part(*c))
            .map_or(0, |p| p + 1);
        if start == i {
            continue;
        }
        if chars.get(i + 1) == Some(&'[') {
            return Some(start);
        }
        let domain: String = chars[i + 1..]
            .iter()
            .take_while(|c| domain_part(**c))
            .collect();
        let domain = domain.trim_end_matches(['.', '-']);
        let labels: Vec<&str> = domain.split('.').collect();
        let tld = labels.last().copied().unwrap_or_default();
        let dotted = labels.len() >= 2
            && labels.iter().all(|l| !l.is_empty())
            && tld.chars().count() >= 2
            && tld.chars().all(char::is_alphabetic);
        // One label (`bob@localhost`): a host name, when it starts with a letter.
        let host = labels.len() == 1 && domain.chars().next().is_some_and(char::is_alphabetic);
        if dotted || host {
            return Some(start);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(text: &str, max: usize) -> MessageTextError {
        MessageText::new(text, max).unwrap_err()
    }

    #[test]
    fn a_plain_text_within_the_limit_is_kept_trimmed() {
        let t = MessageText::new("  Your parcel leaves today.\nThank you!  ", 2000).unwrap();
        assert_eq!(t.as_str(), "Your parcel leaves today.\nThank you!");
        let max = "é".repeat(800);
        assert_eq!(MessageText::new(max.clone(), 800).unwrap().chars(), 800);
        assert_eq!(
            refusal(&format!("{max}x"), 800),
            MessageTextError::TooLong { len: 801, max: 800 }
        );
        assert_eq!(refusal(" \n\t ", 2000), MessageTextError::Empty);
        // Prose with the characters HTML and addresses use is text.
        for ok in [
            "Sizes: S < M < L, and R&D; 3 > 2",
            "Order 5 @ $3 each",
            "Track it at https://www.amazon.com/progress-tracker",
            "We ship @ noon. Thanks",
            "<3 from the team",
            "a&b;",
        ] {
            assert!(MessageText::new(ok, 2000).is_ok(), "{ok}");
        }
    }

    #[test]
    fn html_addresses_and_hidden_characters_are_refused_by_position() {
        assert_eq!(
            refusal("Hi <b>there</b>", 2000),
            MessageTextError::Html { at: 4 }
        );
        assert_eq!(refusal("Hi</p>", 2000), MessageTextError::Html { at: 3 });
        assert_eq!(
            refusal("x <!-- y -->", 2000),
            MessageTextError::Html { at: 3 }
        );
        assert_eq!(
            refusal("Fish &amp; chips", 2000),
            MessageTextError::Html { at: 6 }
        );
        assert_eq!(refusal("a&#64;b", 2000), MessageTextError::Html { at: 2 });
        assert_eq!(refusal("a&#x40;b", 2000), MessageTextError::Html { at: 2 });
        assert_eq!(
            refusal("Write to jane.doe+shop@example.co.uk today", 2000),
            MessageTextError::Email { at: 10 }
        );
        assert_eq!(
            refusal("Ünïcødé: zoë@bücher.de", 2000),
            MessageTextError::Email { at: 10 }
        );
        assert_eq!(
            refusal("click MAILTO:someone", 2000),
            MessageTextError::Email { at: 7 }
        );
        // A one-label host, a full-width or small at sign, full-width letters, a literal.
        assert_eq!(
            refusal("mail bob@localhost", 2000),
            MessageTextError::Email { at: 6 }
        );
        assert_eq!(
            refusal("mail bob\u{FF20}example.com", 2000),
            MessageTextError::Email { at: 6 }
        );
        assert_eq!(
            refusal("mail bob\u{FE6B}example.com", 2000),
            MessageTextError::Email { at: 6 }
        );
        assert_eq!(
            refusal("\u{FF42}\u{FF4F}\u{FF42}@\u{FF45}\u{FF58}.com", 2000),
            MessageTextError::Email { at: 1 }
        );
        assert_eq!(
            refusal("to bob@[127.0.0.1]", 2000),
            MessageTextError::Email { at: 4 }
        );
        assert_eq!(
            refusal("ok\u{1b}[2J", 2000),
            MessageTextError::Hidden { at: 3, code: 0x1B }
        );
        assert_eq!(
            refusal("abc\u{202E}def", 2000),
            MessageTextError::Hidden {
                at: 4,
                code: 0x202E
            }
        );
        assert_eq!(
            refusal("Hi <b>x</b>", 2000).to_string(),
            "has HTML at character 4 (a tag such as <b> or an entity such as &amp;): Amazon takes plain text only"
        );
        assert_eq!(
            MessageTextError::TooLong {
                len: 2001,
                max: 2000
            }
            .to_string(),
            "is 2001 characters long; Amazon takes at most 2000 for this kind of message: shorten it"
        );
    }

    #[test]
    fn the_text_never_prints_itself() {
        let t = MessageText::new("Dear Jane Doe, your parcel", 2000).unwrap();
        assert_eq!(format!("{t:?}"), "MessageText(26 chars, redacted)");
        let e = refusal("Jane Doe <jane@example.com>", 2000).to_string();
        assert!(!e.contains("Jane") && !e.contains("example"), "{e}");
        // Arriving over the socket, it is checked again.
        let raw: MessageText = serde_json::from_str("\"<i>x</i>\"").unwrap();
        assert_eq!(raw.checked(2000), Err(MessageTextError::Html { at: 1 }));
    }
}
