//! Idempotent requests: the first answer to an `Idempotency-Key` is stored
//! and replayed for retries, so a retried request changes nothing twice.

use crate::db::{Db, SqlValue, StoreError};

/// What a stored key says about an incoming request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replay {
    /// Never seen: do the work, then [`remember`] the answer.
    New,
    /// Seen with the same request: answer this again.
    Answer { status: u16, body: String },
    /// Seen with a different request: the caller reused a key by mistake.
    Mismatch,
}

/// Looks up `key` in `scope` (a workspace id, or `platform`).
pub fn replay(
    db: &impl Db,
    scope: &str,
    key: &str,
    request_hash: &str,
) -> Result<Replay, StoreError> {
    let rows = db.execute(
        "SELECT request_hash, status, body FROM idempotency_keys WHERE workspace_id = ? AND key = ?",
        &[scope.into(), key.into()],
    )?;
    Ok(match rows.first() {
        None => Replay::New,
        Some(row) if row.text("request_hash").as_deref() == Some(request_hash) => Replay::Answer {
            status: row.int("status").unwrap_or(200) as u16,
            body: row.text("body").unwrap_or_default(),
        },
        Some(_) => Replay::Mismatch,
    })
}

/// Stores the answer given to `key`; call it in the same transaction as the
/// work so both commit or neither does.
pub fn remember(
    db: &impl Db,
    scope: &str,
    key: &str,
    request_hash: &str,
    status: u16,
    body: &str,
    now: &str,
) -> Result<(), StoreError> {
    db.execute(
        "INSERT INTO idempotency_keys (workspace_id, key, request_hash, status, body, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        &[scope.into(), key.into(), request_hash.into(), SqlValue::Integer(i64::from(status)), body.into(), now.into()],
    )?;
    Ok(())
}

#[cfg(all(test, feature = "native"))]
mod tests {
    use super::*;
    use crate::NativeDb;

    #[test]
    fn replays_the_same_request_and_flags_a_different_one() {
        let db = NativeDb::in_memory();
        crate::migrate(&db).unwrap();
        assert_eq!(replay(&db, "w1", "k", "h1").unwrap(), Replay::New);
        remember(&db, "w1", "k", "h1", 201, "{\"id\":1}", "now").unwrap();
        assert_eq!(
            replay(&db, "w1", "k", "h1").unwrap(),
            Replay::Answer {
                status: 201,
                body: "{\"id\":1}".into()
            }
        );
        assert_eq!(replay(&db, "w1", "k", "h2").unwrap(), Replay::Mismatch);
        assert_eq!(replay(&db, "w2", "k", "h1").unwrap(), Replay::New);
    }

    #[test]
    fn nested_transactions_join_the_outer_one() {
        let db = NativeDb::in_memory();
        crate::migrate(&db).unwrap();
        let r: Result<(), StoreError> = db.transaction(|db| {
            db.transaction(|db| remember(db, "w", "a", "h", 200, "{}", "now"))?;
            Err(StoreError::Sql("outer failed".into()))
        });
        assert!(r.is_err());
        assert_eq!(replay(&db, "w", "a", "h").unwrap(), Replay::New);
    }
}
