//! The blind name index: keyed HMAC-SHA256 of a recipient's folded full name and of each of its
//! words. Only the HMAC values reach sled; the key is sealed to the master recipient, so without
//! an unlock nobody (a thief with the disk included) can test a guessed name against the index.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::domain::text::{search_fold, tokens};

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

/// The index entries for a name: one per distinct word. A name with no words (only symbols, say)
/// gets one entry for the whole folded name instead, so it can still be found. A full-name entry
/// next to the words would add nothing a search can use: a search matches a record when every
/// entry of the query is among the record's, and a record whose full name equals the query has all
/// its words too. Leaving it out keeps about a third of the name index out of the store.
pub fn name_keys(key: &[u8; 32], name: &str) -> Vec<NameKey> {
    keys_of(key, &search_fold(name))
}

/// The index entries of a name already folded.
pub(super) fn keys_of(key: &[u8; 32], folded: &str) -> Vec<NameKey> {
    if folded.is_empty() {
        return Vec::new();
    }
    let mut out: Vec<NameKey> = Vec::new();
    for t in tokens(folded) {
        let k = mac(key, b"word\0", t);
        if !out.contains(&k) {
            out.push(k);
        }
    }
    if out.is_empty() {
        out.push(mac(key, b"full\0", folded));
    }
    out
}

/// What a name search looks for: the entries of the query text, every one of which a matching
/// record must have. `None` for a query with nothing to search by.
pub fn query(key: &[u8; 32], text: &str) -> Option<Vec<NameKey>> {
    let keys = name_keys(key, text);
    (!keys.is_empty()).then_some(keys)
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
        assert!(name_keys(&k1, "John Smith").contains(&q[0]));
        assert_eq!(name_keys(&k1, "John Smith Smith").len(), 2);
        assert!(query(&k1, " \u{200B} ").is_none());
        // A name of symbols only is found by the whole of it, and only by it.
        let symbols = name_keys(&k1, "\u{2603}\u{2603}");
        assert_eq!(symbols.len(), 1);
        assert_eq!(query(&k1, "\u{2603}\u{2603}").unwrap(), symbols);
        assert_ne!(query(&k1, "\u{2603}").unwrap(), symbols);
    }
}
