//! API key format and hashing.

use sha2::{Digest, Sha256};

/// Every careflow API key starts with this, so leaked keys are greppable.
pub const KEY_PREFIX: &str = "cf_";

/// A new key from 128 bits of randomness (hex): the plaintext to show once
/// and the short prefix kept to recognise it in listings.
pub fn new_api_key(secret_hex: &str) -> (String, String) {
    let plaintext = format!("{KEY_PREFIX}{secret_hex}");
    let prefix = plaintext.chars().take(KEY_PREFIX.len() + 6).collect();
    (plaintext, prefix)
}

/// The stored form of a key. Keys carry 128 random bits, so a fast hash is
/// safe here (unlike passwords).
pub fn hash_key(plaintext: &str) -> String {
    hex::encode(Sha256::digest(plaintext.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_prefixed_and_hash_is_stable() {
        let (key, prefix) = new_api_key("0123456789abcdef0123456789abcdef");
        assert_eq!(key, "cf_0123456789abcdef0123456789abcdef");
        assert_eq!(prefix, "cf_012345");
        assert_eq!(hash_key(&key), hash_key(&key));
        assert_ne!(hash_key(&key), hash_key("cf_other"));
        assert_eq!(hash_key(&key).len(), 64);
    }
}
