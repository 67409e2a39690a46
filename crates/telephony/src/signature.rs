//! Webhook signatures of the generic shape:
//! `X-Careflow-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
//! The timestamp inside the signed text stops an old event being replayed
//! later with a valid signature.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::TelephonyError;

/// How far a signature's time may be from ours.
pub const MAX_SKEW_SECONDS: i64 = 300;

fn mac(secret: &str, t: i64, body: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    m.update(t.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    m.finalize().into_bytes().to_vec()
}

/// The header value for `body` signed at `now_unix`.
pub fn sign_generic(secret: &str, body: &[u8], now_unix: i64) -> String {
    format!(
        "t={now_unix},v1={}",
        hex::encode(mac(secret, now_unix, body))
    )
}

/// Constant-time equality.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub(crate) fn verify_generic(
    secret: &str,
    body: &[u8],
    header: &str,
    now_unix: i64,
) -> Result<(), TelephonyError> {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => t = value.parse::<i64>().ok(),
            Some(("v1", value)) => v1 = hex::decode(value).ok(),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return Err(TelephonyError::BadSignature);
    };
    if secret.is_empty() || !same(&mac(secret, t, body), &v1) {
        return Err(TelephonyError::BadSignature);
    }
    if (now_unix - t).abs() > MAX_SKEW_SECONDS {
        return Err(TelephonyError::StaleSignature);
    }
    Ok(())
}
