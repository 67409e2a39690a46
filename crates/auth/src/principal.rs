//! Who is calling: the platform admin, or an API key of one workspace.

use careflow_api::ApiError;
use careflow_store::{Db, SqlValue};

use crate::Role;
use crate::keys::hash_key;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// Holder of the `admin_token` variable: may create workspaces.
    PlatformAdmin,
    /// A workspace API key, bound to one member or not.
    Key {
        workspace_id: String,
        key_id: String,
        role: Role,
        user_id: Option<String>,
    },
}

impl Principal {
    /// The workspace this caller acts in; the platform admin has none.
    pub fn workspace(&self) -> Result<(&str, Role), ApiError> {
        match self {
            Self::Key {
                workspace_id, role, ..
            } => Ok((workspace_id, *role)),
            Self::PlatformAdmin => Err(ApiError::forbidden(
                "the admin token manages workspaces; use a workspace API key here",
            )),
        }
    }

    /// The member an agent-scoped action (B-3: agent state, offered calls,
    /// manual picks) is for. `me` names the key's own member. An
    /// `agent` key acts only for its own member; supervisors and above act
    /// for anyone in the workspace.
    pub fn act_for(&self, requested: &str) -> Result<String, ApiError> {
        let (_, role) = self.workspace()?;
        let own = match self {
            Self::Key { user_id, .. } => user_id.as_deref(),
            Self::PlatformAdmin => None,
        };
        let wanted = if requested == "me" {
            own.ok_or_else(|| {
                ApiError::forbidden("`me` needs a key bound to a member (create it with `user_id`)")
            })?
        } else {
            requested
        };
        if role == Role::Agent && own != Some(wanted) {
            return Err(ApiError::forbidden(
                "an `agent` key acts only for the member it is bound to",
            ));
        }
        Ok(wanted.to_string())
    }

    /// Fails with 403 unless the caller may manage members and keys.
    pub fn require_manager(&self) -> Result<&str, ApiError> {
        let (workspace, role) = self.workspace()?;
        if !role.can_manage_members() {
            return Err(ApiError::forbidden(format!(
                "a key with role `{}` cannot do this; it needs `admin` or `owner`",
                role.as_str()
            )));
        }
        Ok(workspace)
    }
}

/// The token of an `Authorization: Bearer <token>` header.
pub fn bearer(header: Option<&str>) -> Option<&str> {
    let header = header?.trim();
    let (scheme, token) = header.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty()).then(|| token.trim())
}

/// Constant-time comparison, so the admin token cannot be guessed by timing.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Resolves the caller from the `Authorization` header: 401 when missing,
/// malformed, unknown or revoked.
pub fn authenticate(
    db: &impl Db,
    authorization: Option<&str>,
    admin_token: Option<&str>,
) -> Result<Principal, ApiError> {
    let token = bearer(authorization)
        .ok_or_else(|| ApiError::unauthorized("send `Authorization: Bearer <api key>`"))?;
    if let Some(admin) = admin_token.filter(|t| !t.is_empty())
        && same_secret(token, admin)
    {
        return Ok(Principal::PlatformAdmin);
    }
    let rows = db.execute(
        "SELECT id, workspace_id, role, user_id FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL",
        &[SqlValue::Text(hash_key(token))],
    )?;
    let row = rows
        .first()
        .ok_or_else(|| ApiError::unauthorized("the API key is unknown or revoked"))?;
    Ok(Principal::Key {
        workspace_id: row.text("workspace_id").unwrap_or_default(),
        key_id: row.text("id").unwrap_or_default(),
        role: row
            .text("role")
            .and_then(|r| Role::parse(&r))
            .unwrap_or(Role::Agent),
        user_id: row.text("user_id"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_accepts_only_the_bearer_scheme() {
        assert_eq!(bearer(Some("Bearer abc")), Some("abc"));
        assert_eq!(bearer(Some("bearer  abc ")), Some("abc"));
        assert_eq!(bearer(Some("Basic abc")), None);
        assert_eq!(bearer(Some("Bearer ")), None);
        assert_eq!(bearer(None), None);
    }

    fn key(role: Role, user: Option<&str>) -> Principal {
        Principal::Key {
            workspace_id: "w".into(),
            key_id: "k".into(),
            role,
            user_id: user.map(str::to_string),
        }
    }

    #[test]
    fn an_agent_key_acts_only_for_its_own_member() {
        // SPEC B-3
        let agent = key(Role::Agent, Some("u1"));
        assert_eq!(agent.act_for("me").unwrap(), "u1");
        assert_eq!(agent.act_for("u1").unwrap(), "u1");
        assert_eq!(agent.act_for("u2").unwrap_err().status, 403);
        let unbound = key(Role::Agent, None);
        assert_eq!(unbound.act_for("u1").unwrap_err().status, 403);
        assert_eq!(unbound.act_for("me").unwrap_err().status, 403);
        let supervisor = key(Role::Supervisor, Some("s1"));
        assert_eq!(supervisor.act_for("u2").unwrap(), "u2");
        assert_eq!(supervisor.act_for("me").unwrap(), "s1");
        assert_eq!(
            key(Role::Admin, None).act_for("me").unwrap_err().status,
            403
        );
    }

    #[test]
    fn secrets_compare_exactly() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "abcd"));
    }
}
