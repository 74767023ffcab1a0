//! Opaque bearer tokens and codes: generated from the OS RNG, stored only as SHA-256 digests.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Prefix of session tokens, so a bearer token names its own kind.
pub const SESSION_PREFIX: &str = "ogs_";
/// Prefix of kiosk tokens.
pub const KIOSK_PREFIX: &str = "ogk_";
/// Prefix of tenant integration keys.
pub const INTEGRATION_PREFIX: &str = "ogi_";

/// A new 256-bit random token with `prefix`.
pub fn new_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// The hex SHA-256 digest under which a token or code is stored.
pub fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Compares a presented key with a configured one through their digests, in constant time.
/// An unset key matches nothing.
pub fn key_matches(presented: &str, configured: Option<&str>) -> bool {
    match configured {
        Some(configured) if !configured.is_empty() => {
            let a = Sha256::digest(presented.as_bytes());
            let b = Sha256::digest(configured.as_bytes());
            a.ct_eq(&b).into()
        }
        _ => false,
    }
}

/// Crockford base32 alphabet (no I, L, O, U), used for codes people type.
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A random code of `len` Crockford base32 characters (5 bits each).
pub fn new_code(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| CROCKFORD[(rng.next_u32() % 32) as usize] as char)
        .collect()
}

/// Normalises a typed code: upper case, no separators, and Crockford's look-alikes mapped
/// (`I`/`L` → `1`, `O` → `0`). `None` when it holds other characters.
pub fn normalize_code(code: &str) -> Option<String> {
    let mut out = String::with_capacity(code.len());
    for c in code.chars() {
        let c = match c.to_ascii_uppercase() {
            '-' | ' ' => continue,
            'I' | 'L' => '1',
            'O' => '0',
            c if CROCKFORD.contains(&(c as u8)) && c.is_ascii() => c,
            _ => return None,
        };
        out.push(c);
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_prefixed() {
        let a = new_token(SESSION_PREFIX);
        let b = new_token(SESSION_PREFIX);
        assert_ne!(a, b);
        assert!(a.starts_with("ogs_"));
        assert_eq!(a.len(), 4 + 43);
        assert_eq!(digest("abc").len(), 64);
    }

    #[test]
    fn keys_compare_and_unset_matches_nothing() {
        assert!(key_matches("k", Some("k")));
        assert!(!key_matches("k", Some("j")));
        assert!(!key_matches("", None));
        assert!(!key_matches("", Some("")));
    }

    #[test]
    fn codes_normalise() {
        let code = new_code(10);
        assert_eq!(code.len(), 10);
        assert_eq!(normalize_code(&code), Some(code.clone()));
        assert_eq!(normalize_code("abcd-efgh"), Some("ABCDEFGH".into()));
        assert_eq!(normalize_code("o1l"), Some("011".into()));
        assert_eq!(normalize_code("ab!"), None);
        assert_eq!(normalize_code("  "), None);
    }
}
