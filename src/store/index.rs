//! The blind name index: keyed HMAC-SHA256 of a recipient's folded full name and of each of its
//! words. Only the HMAC values reach sled; the key is sealed to the master recipient, so without
//! an unlock nobody (a thief with the disk included) can test a guessed name against the index.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::domain::text::{fold, tokens};

/// Bytes of an index key: HMAC-SHA256 truncated to 128 bits, ample against collisions at any
/// store size (a collision would only add a candidate to a search), and half the index size.
pub const NAME_KEY_LEN: usize = 16;
pub type NameKey = [u8; NAME_KEY_LEN];

fn mac(key: &[u8; 32], domain: &[u8], text: &str) -> NameKey {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(domain);
    m.update(text.as_bytes());
    let full = m.finalize().into_bytes();
    let mut out = [0u8; NAME_KEY_LEN];
    out.copy_from_slice(&full[..NAME_KEY_LEN]);
    out
}

/// The index entries for a name: the full folded name first, then each distinct word.
pub fn name_keys(key: &[u8; 32], name: &str) -> Vec<NameKey> {
    let folded = fold(name);
    if folded.is_empty() {
        return Vec::new();
    }
    let mut out = vec![mac(key, b"full\0", &folded)];
    for t in tokens(&folded) {
        let k = mac(key, b"word\0", t);
        if !out.contains(&k) {
            out.push(k);
        }
    }
    out
}

/// What a name search looks for: the whole query as a full name, and its words (all of which must
/// match for a word match).
pub struct NameQuery {
    pub full: NameKey,
    pub words: Vec<NameKey>,
}

pub fn query(key: &[u8; 32], text: &str) -> Option<NameQuery> {
    let folded = fold(text);
    if folded.is_empty() {
        return None;
    }
    let mut words = Vec::new();
    for t in tokens(&folded) {
        let k = mac(key, b"word\0", t);
        if !words.contains(&k) {
            words.push(k);
        }
    }
    Some(NameQuery {
        full: mac(key, b"full\0", &folded),
        words,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_names_give_equal_keys_under_one_key_only() {
        let k1 = [1u8; 32];
        let k2 = [2u8; 32];
        assert_eq!(name_keys(&k1, "JOHN  Smith"), name_keys(&k1, "john smith"));
        assert_ne!(name_keys(&k1, "john smith"), name_keys(&k2, "john smith"));
        let q = query(&k1, "Smith").unwrap();
        assert!(name_keys(&k1, "John Smith").contains(&q.words[0]));
        assert_eq!(name_keys(&k1, "John Smith").len(), 3);
        assert!(query(&k1, " \u{200B} ").is_none());
    }
}
