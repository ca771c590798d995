//! The recipient of an order: the only personal data packline keeps, and only while it is needed.
//! This type never prints its contents: `Debug` is redacted, there is no `Display`, and its memory
//! is wiped on drop. Showing it to a person goes through `Recipient::reveal_lines`, which escapes
//! every control character.

use std::fmt;

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::text::{escape_hazards, tokens};

/// A gift message for one order item.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct GiftMessage {
    pub item_id: String,
    pub message: String,
}

/// Where and to whom an order ships. No purchaser e-mail, purchaser name or payment data ever
/// lands here: the parser has no field to put them in.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct Recipient {
    pub name: String,
    pub company: Option<String>,
    pub address_line1: Option<String>,
    pub address_line2: Option<String>,
    pub address_line3: Option<String>,
    pub city: Option<String>,
    pub district_or_county: Option<String>,
    pub state_or_region: Option<String>,
    pub postal_code: Option<String>,
    pub country_code: Option<String>,
    pub phone: Option<String>,
    pub delivery_instructions: Option<String>,
    pub gift_messages: Vec<GiftMessage>,
}

impl fmt::Debug for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Recipient { <personal data redacted> }")
    }
}

impl fmt::Debug for GiftMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "GiftMessage {{ item_id: {:?}, <redacted> }}",
            self.item_id
        )
    }
}

impl Recipient {
    /// A recipient with only a name; set the other fields after (the type wipes itself on drop,
    /// so struct-update syntax is not available).
    pub fn named(name: impl Into<String>) -> Self {
        let mut r = Recipient::default();
        r.name = name.into();
        r
    }

    /// The masked name packers see: initial of the first word, a dot, the initial of the last word
    /// and four stars (`J. D****`); `D****` for a one-word name; `?` for a character that is not a
    /// letter or digit. Never more than two characters of the real name.
    pub fn mask(&self) -> String {
        let folded_words: Vec<&str> = tokens(&self.name).collect();
        let initial = |w: &str| -> String {
            match w.chars().next() {
                Some(c) if c.is_alphanumeric() => c.to_uppercase().collect(),
                _ => "?".to_owned(),
            }
        };
        match folded_words.as_slice() {
            [] => "****".to_owned(),
            [only] => format!("{}****", initial(only)),
            [first, .., last] => format!("{}. {}****", initial(first), initial(last)),
        }
    }

    /// The recipient as labelled lines for a lead's reveal, every control and invisible format
    /// character shown escaped (`\u{1B}`), never raw.
    pub fn reveal_lines(&self) -> Vec<(String, String)> {
        let mut out = vec![("name".to_owned(), escape_hazards(&self.name))];
        let fields: [(&str, &Option<String>); 11] = [
            ("company", &self.company),
            ("address line 1", &self.address_line1),
            ("address line 2", &self.address_line2),
            ("address line 3", &self.address_line3),
            ("city", &self.city),
            ("district/county", &self.district_or_county),
            ("state/region", &self.state_or_region),
            ("postal code", &self.postal_code),
            ("country", &self.country_code),
            ("phone", &self.phone),
            ("delivery instructions", &self.delivery_instructions),
        ];
        for (label, value) in fields {
            if let Some(v) = value {
                out.push((label.to_owned(), escape_hazards(v)));
            }
        }
        for g in &self.gift_messages {
            out.push((
                format!("gift message ({})", escape_hazards(&g.item_id)),
                escape_hazards(&g.message),
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(name: &str) -> Recipient {
        Recipient::named(name)
    }

    #[test]
    fn debug_shows_no_personal_data() {
        let mut r = Recipient::named("Jane Doe");
        r.phone = Some("555-0100".into());
        r.gift_messages = vec![GiftMessage {
            item_id: "1".into(),
            message: "Happy birthday".into(),
        }];
        let d = format!("{r:?} {:?}", r.gift_messages);
        assert!(!d.contains("Jane") && !d.contains("555") && !d.contains("birthday"));
    }

    #[test]
    fn masks_keep_two_initials_at_most() {
        assert_eq!(named("John Doe").mask(), "J. D****");
        assert_eq!(named("john ronald reuel tolkien").mask(), "J. T****");
        assert_eq!(named("Cher").mask(), "C****");
        assert_eq!(named("").mask(), "****");
        assert_eq!(named("\u{1b}[31m").mask(), "3****");
        assert_eq!(named("山田 太郎").mask(), "山. 太****");
    }

    #[test]
    fn reveal_escapes_controls() {
        let mut r = Recipient::named("Eve\u{1b}]0;pwned\u{7}");
        r.city = Some("Köln\u{202E}".into());
        let lines = r.reveal_lines();
        assert_eq!(lines[0].1, "Eve\\u{001B}]0;pwned\\u{0007}");
        assert_eq!(lines[1], ("city".into(), "Köln\\u{202E}".into()));
    }
}
