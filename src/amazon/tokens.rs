//! Tokens kept until shortly before they expire: the LWA access token (one), and Restricted
//! Data Tokens (one per scope of restricted resources). The cache knows nothing of what a token
//! is for; the client says how to fetch one.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::time::{Duration, Instant};

use age::secrecy::SecretString;

/// How long before its end a token stops being used.
const MARGIN_SECS: u64 = 60;

/// Tokens by key, each until a minute before it expires.
pub(crate) struct TokenCache<K> {
    slots: tokio::sync::Mutex<HashMap<K, (SecretString, Instant)>>,
}

impl<K: Eq + Hash> TokenCache<K> {
    pub(crate) fn new() -> Self {
        TokenCache {
            slots: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// The token kept under `key` while it lives, else the one `fetch` gives with its lifetime
    /// in seconds. Callers wait for one fetch rather than each asking for a token.
    pub(crate) async fn get_or_fetch<E, Fut>(
        &self,
        key: K,
        fetch: impl FnOnce() -> Fut,
    ) -> Result<SecretString, E>
    where
        Fut: Future<Output = Result<(SecretString, u64), E>>,
    {
        let mut slots = self.slots.lock().await;
        if let Some((t, until)) = slots.get(&key)
            && Instant::now() < *until
        {
            return Ok(t.clone());
        }
        let (token, expires_in) = fetch().await?;
        let lifetime = Duration::from_secs(expires_in.saturating_sub(MARGIN_SECS));
        slots.insert(key, (token.clone(), Instant::now() + lifetime));
        Ok(token)
    }

    /// Forgets the token kept under `key` (Amazon refused it), so the next use fetches another.
    pub(crate) async fn forget(&self, key: &K) {
        self.slots.lock().await.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use age::secrecy::ExposeSecret;

    #[tokio::test]
    async fn a_token_is_kept_until_a_minute_before_it_expires() {
        let cache = TokenCache::<&str>::new();
        let fetch = |t: &'static str, life: u64| {
            move || async move { Ok::<_, ()>((SecretString::from(t.to_owned()), life)) }
        };
        let a = cache.get_or_fetch("a", fetch("one", 3600)).await.unwrap();
        let again = cache.get_or_fetch("a", fetch("two", 3600)).await.unwrap();
        assert_eq!((a.expose_secret(), again.expose_secret()), ("one", "one"));
        // Another key is another token; a token living a minute or less is never reused.
        let b = cache.get_or_fetch("b", fetch("three", 60)).await.unwrap();
        let b2 = cache.get_or_fetch("b", fetch("four", 60)).await.unwrap();
        assert_eq!((b.expose_secret(), b2.expose_secret()), ("three", "four"));
        cache.forget(&"a").await;
        let renewed = cache.get_or_fetch("a", fetch("five", 3600)).await.unwrap();
        assert_eq!(renewed.expose_secret(), "five");
        let failed = cache
            .get_or_fetch("c", || async { Err::<(SecretString, u64), _>("refused") })
            .await;
        assert_eq!(failed.err(), Some("refused"));
    }
}
