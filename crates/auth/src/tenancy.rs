//! Workspaces, their members and their API keys.

use careflow_api::ApiError;
use careflow_store::{Db, Row, SqlValue};
use serde::{Deserialize, Serialize};

use crate::keys::{hash_key, new_api_key};
use crate::{Context, Role};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewWorkspace {
    pub name: String,
    #[serde(default)]
    pub timezone: Option<String>,
    pub owner_email: String,
    pub owner_name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub email: String,
    pub name: String,
    pub role: Role,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    pub name: String,
    #[serde(default)]
    pub role: Option<Role>,
    /// The member the key acts as (an agent's softphone); its role is at
    /// most the member's.
    #[serde(default)]
    pub user_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct WorkspaceView {
    pub id: String,
    pub name: String,
    pub timezone: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct UserView {
    pub id: String,
    pub workspace_id: String,
    pub email: String,
    pub name: String,
    pub role: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ApiKeyView {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub prefix: String,
    pub role: String,
    pub user_id: Option<String>,
    pub created_at: String,
    pub revoked_at: Option<String>,
    /// The key itself: present only in the answer that created it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

fn text(row: &Row<'_>, column: &str) -> String {
    row.text(column).unwrap_or_default()
}

fn workspace_of(row: &Row<'_>) -> WorkspaceView {
    WorkspaceView {
        id: text(row, "id"),
        name: text(row, "name"),
        timezone: text(row, "timezone"),
        created_at: text(row, "created_at"),
    }
}

fn user_of(row: &Row<'_>) -> UserView {
    UserView {
        id: text(row, "id"),
        workspace_id: text(row, "workspace_id"),
        email: text(row, "email"),
        name: text(row, "name"),
        role: text(row, "role"),
        created_at: text(row, "created_at"),
    }
}

fn key_of(row: &Row<'_>) -> ApiKeyView {
    ApiKeyView {
        id: text(row, "id"),
        workspace_id: text(row, "workspace_id"),
        name: text(row, "name"),
        prefix: text(row, "prefix"),
        role: text(row, "role"),
        user_id: row.text("user_id"),
        created_at: text(row, "created_at"),
        revoked_at: row.text("revoked_at"),
        key: None,
    }
}

fn required(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ApiError::validation(
            field,
            format!("`{field}` must not be empty"),
        ));
    }
    if value.chars().count() > max {
        return Err(ApiError::validation(
            field,
            format!("`{field}` is longer than {max} characters"),
        ));
    }
    Ok(value.to_string())
}

fn email(field: &str, value: &str) -> Result<String, ApiError> {
    let value = required(field, value, 254)?.to_lowercase();
    let valid = value.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
    }) && !value.contains(char::is_whitespace);
    if !valid {
        return Err(ApiError::validation(
            field,
            format!("{value:?} is not an email address"),
        ));
    }
    Ok(value)
}

fn timezone(value: Option<&str>) -> Result<String, ApiError> {
    let tz = value.unwrap_or("Asia/Ho_Chi_Minh").trim();
    // IANA names are Area/Location (or UTC); the zone itself is checked
    // where times are evaluated (chrono-tz), this catches obvious typos.
    let valid = tz == "UTC"
        || (tz.contains('/')
            && tz
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "/_-+".contains(c))
            && !tz.starts_with('/')
            && !tz.ends_with('/'));
    if !valid {
        return Err(ApiError::validation(
            "timezone",
            format!("{tz:?} is not an IANA time zone such as \"Asia/Ho_Chi_Minh\""),
        ));
    }
    Ok(tz.to_string())
}

fn insert_key(
    db: &impl Db,
    ctx: &mut impl Context,
    workspace_id: &str,
    name: &str,
    role: Role,
    user_id: Option<&str>,
) -> Result<ApiKeyView, ApiError> {
    let (plaintext, prefix) = new_api_key(&ctx.secret());
    let id = ctx.new_id();
    let now = ctx.now();
    db.execute(
        "INSERT INTO api_keys (id, workspace_id, name, prefix, key_hash, role, user_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        &[id.as_str().into(), workspace_id.into(), name.into(), prefix.as_str().into(), hash_key(&plaintext).into(), role.as_str().into(), user_id.map_or(SqlValue::Null, SqlValue::from), now.as_str().into()],
    )?;
    Ok(ApiKeyView {
        id,
        workspace_id: workspace_id.to_string(),
        name: name.to_string(),
        prefix,
        role: role.as_str().to_string(),
        user_id: user_id.map(str::to_string),
        created_at: now,
        revoked_at: None,
        key: Some(plaintext),
    })
}

/// Creates a workspace with its owner and the owner's first API key, all or
/// nothing.
pub fn create_workspace(
    db: &impl Db,
    ctx: &mut impl Context,
    input: NewWorkspace,
) -> Result<(WorkspaceView, UserView, ApiKeyView), ApiError> {
    let name = required("name", &input.name, 200)?;
    let tz = timezone(input.timezone.as_deref())?;
    let owner_email = email("owner_email", &input.owner_email)?;
    let owner_name = required("owner_name", &input.owner_name, 200)?;
    db.transaction(|db| {
        let workspace = WorkspaceView {
            id: ctx.new_id(),
            name,
            timezone: tz,
            created_at: ctx.now(),
        };
        db.execute(
            "INSERT INTO workspaces (id, name, timezone, created_at) VALUES (?, ?, ?, ?)",
            &[
                workspace.id.as_str().into(),
                workspace.name.as_str().into(),
                workspace.timezone.as_str().into(),
                workspace.created_at.as_str().into(),
            ],
        )?;
        let owner = insert_user(db, ctx, &workspace.id, owner_email, owner_name, Role::Owner)?;
        let key = insert_key(
            db,
            ctx,
            &workspace.id,
            "owner key",
            Role::Owner,
            Some(&owner.id),
        )?;
        Ok((workspace, owner, key))
    })
}

pub fn get_workspace(db: &impl Db, workspace_id: &str) -> Result<WorkspaceView, ApiError> {
    let rows = db.execute(
        "SELECT id, name, timezone, created_at FROM workspaces WHERE id = ?",
        &[workspace_id.into()],
    )?;
    rows.first()
        .map(|r| workspace_of(&r))
        .ok_or_else(|| ApiError::not_found("no such workspace"))
}

fn insert_user(
    db: &impl Db,
    ctx: &mut impl Context,
    workspace_id: &str,
    email: String,
    name: String,
    role: Role,
) -> Result<UserView, ApiError> {
    let taken = db.execute(
        "SELECT 1 AS x FROM users WHERE workspace_id = ? AND email = ?",
        &[workspace_id.into(), email.as_str().into()],
    )?;
    if taken.first().is_some() {
        return Err(
            ApiError::conflict(format!("a member with email {email} already exists"))
                .with_field("email"),
        );
    }
    let user = UserView {
        id: ctx.new_id(),
        workspace_id: workspace_id.to_string(),
        email,
        name,
        role: role.as_str().to_string(),
        created_at: ctx.now(),
    };
    db.execute(
        "INSERT INTO users (id, workspace_id, email, name, role, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        &[user.id.as_str().into(), workspace_id.into(), user.email.as_str().into(), user.name.as_str().into(), user.role.as_str().into(), user.created_at.as_str().into()],
    )?;
    Ok(user)
}

pub fn create_user(
    db: &impl Db,
    ctx: &mut impl Context,
    workspace_id: &str,
    input: NewUser,
) -> Result<UserView, ApiError> {
    let email = email("email", &input.email)?;
    let name = required("name", &input.name, 200)?;
    if input.role == Role::Owner {
        return Err(ApiError::validation(
            "role",
            "a workspace has one owner, set when it is created",
        ));
    }
    insert_user(db, ctx, workspace_id, email, name, input.role)
}

pub fn list_users(db: &impl Db, workspace_id: &str) -> Result<Vec<UserView>, ApiError> {
    let rows = db.execute(
        "SELECT id, workspace_id, email, name, role, created_at FROM users WHERE workspace_id = ? ORDER BY created_at, email",
        &[workspace_id.into()],
    )?;
    Ok(rows.iter().map(|r| user_of(&r)).collect())
}

pub fn get_user(db: &impl Db, workspace_id: &str, user_id: &str) -> Result<UserView, ApiError> {
    let rows = db.execute(
        "SELECT id, workspace_id, email, name, role, created_at FROM users WHERE workspace_id = ? AND id = ?",
        &[workspace_id.into(), user_id.into()],
    )?;
    rows.first()
        .map(|r| user_of(&r))
        .ok_or_else(|| ApiError::not_found(format!("no user {user_id}")))
}

pub fn create_api_key(
    db: &impl Db,
    ctx: &mut impl Context,
    workspace_id: &str,
    caller: Role,
    input: NewApiKey,
) -> Result<ApiKeyView, ApiError> {
    let name = required("name", &input.name, 200)?;
    let member = match input.user_id.as_deref() {
        Some(user) => Some(get_user(db, workspace_id, user).map_err(|_| {
            ApiError::validation("user_id", format!("no member {user} in this workspace"))
        })?),
        None => None,
    };
    let member_role = member.as_ref().and_then(|m| Role::parse(&m.role));
    let role = input.role.or(member_role).unwrap_or(Role::Admin);
    if let Some(limit) = member_role
        && role > limit
    {
        return Err(ApiError::validation(
            "role",
            format!(
                "a key bound to a `{}` member cannot have role `{}`",
                limit.as_str(),
                role.as_str()
            ),
        ));
    }
    if role > caller {
        return Err(ApiError::forbidden(format!(
            "a `{}` key cannot create a `{}` key",
            caller.as_str(),
            role.as_str()
        ))
        .with_field("role"));
    }
    insert_key(
        db,
        ctx,
        workspace_id,
        &name,
        role,
        member.as_ref().map(|m| m.id.as_str()),
    )
}

pub fn list_api_keys(db: &impl Db, workspace_id: &str) -> Result<Vec<ApiKeyView>, ApiError> {
    let rows = db.execute(
        "SELECT id, workspace_id, name, prefix, role, user_id, created_at, revoked_at FROM api_keys WHERE workspace_id = ? ORDER BY created_at, id",
        &[workspace_id.into()],
    )?;
    Ok(rows.iter().map(|r| key_of(&r)).collect())
}

/// Revokes a key; revoking it again changes nothing and answers the same.
pub fn revoke_api_key(
    db: &impl Db,
    ctx: &impl Context,
    workspace_id: &str,
    key_id: &str,
) -> Result<ApiKeyView, ApiError> {
    db.execute(
        "UPDATE api_keys SET revoked_at = ? WHERE workspace_id = ? AND id = ? AND revoked_at IS NULL",
        &[ctx.now().into(), workspace_id.into(), key_id.into()],
    )?;
    let rows = db.execute(
        "SELECT id, workspace_id, name, prefix, role, user_id, created_at, revoked_at FROM api_keys WHERE workspace_id = ? AND id = ?",
        &[workspace_id.into(), SqlValue::from(key_id)],
    )?;
    rows.first()
        .map(|r| key_of(&r))
        .ok_or_else(|| ApiError::not_found(format!("no API key {key_id}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Principal, authenticate};
    use careflow_store::NativeDb;

    struct FakeContext(u32);
    impl Context for FakeContext {
        fn now(&self) -> String {
            "2026-11-25T10:00:00Z".into()
        }
        fn new_id(&mut self) -> String {
            self.0 += 1;
            format!("id{}", self.0)
        }
        fn secret(&mut self) -> String {
            self.0 += 1;
            format!("{:032x}", self.0)
        }
    }

    fn setup() -> (NativeDb, FakeContext) {
        let db = NativeDb::in_memory();
        careflow_store::migrate(&db).unwrap();
        (db, FakeContext(0))
    }

    fn workspace(db: &NativeDb, ctx: &mut FakeContext, name: &str) -> (WorkspaceView, ApiKeyView) {
        let (w, _, k) = create_workspace(
            db,
            ctx,
            NewWorkspace {
                name: name.into(),
                timezone: None,
                owner_email: format!("owner@{name}.vn"),
                owner_name: "Chủ".into(),
            },
        )
        .unwrap();
        (w, k)
    }

    #[test]
    fn created_key_authenticates_to_its_workspace_and_is_stored_hashed() {
        let (db, mut ctx) = setup();
        let (w, key) = workspace(&db, &mut ctx, "alpha");
        assert_eq!(w.timezone, "Asia/Ho_Chi_Minh");
        let plaintext = key.key.clone().unwrap();
        let p = authenticate(&db, Some(&format!("Bearer {plaintext}")), None).unwrap();
        assert_eq!(
            p,
            Principal::Key {
                workspace_id: w.id.clone(),
                key_id: key.id.clone(),
                role: Role::Owner,
                user_id: key.user_id.clone(),
            }
        );
        let stored = db.execute("SELECT key_hash FROM api_keys", &[]).unwrap();
        assert_ne!(stored.first().unwrap().text("key_hash").unwrap(), plaintext);
        assert!(
            list_api_keys(&db, &w.id)
                .unwrap()
                .iter()
                .all(|k| k.key.is_none())
        );
    }

    #[test]
    fn revoked_and_unknown_keys_are_401() {
        let (db, mut ctx) = setup();
        let (w, key) = workspace(&db, &mut ctx, "alpha");
        revoke_api_key(&db, &ctx, &w.id, &key.id).unwrap();
        let again = revoke_api_key(&db, &ctx, &w.id, &key.id).unwrap();
        assert!(again.revoked_at.is_some());
        let e = authenticate(&db, Some(&format!("Bearer {}", key.key.unwrap())), None).unwrap_err();
        assert_eq!(e.status, 401);
        assert_eq!(
            authenticate(&db, Some("Bearer cf_nope"), None)
                .unwrap_err()
                .status,
            401
        );
        assert_eq!(authenticate(&db, None, None).unwrap_err().status, 401);
    }

    #[test]
    fn another_workspace_sees_404_not_the_data() {
        let (db, mut ctx) = setup();
        let (a, _) = workspace(&db, &mut ctx, "alpha");
        let (b, _) = workspace(&db, &mut ctx, "beta");
        let user = create_user(
            &db,
            &mut ctx,
            &a.id,
            NewUser {
                email: "Lan@Alpha.vn".into(),
                name: "Lan".into(),
                role: Role::Agent,
            },
        )
        .unwrap();
        assert_eq!(user.email, "lan@alpha.vn");
        assert_eq!(get_user(&db, &b.id, &user.id).unwrap_err().status, 404);
        assert!(
            list_users(&db, &b.id)
                .unwrap()
                .iter()
                .all(|u| u.workspace_id == b.id)
        );
        let a_key = list_api_keys(&db, &a.id).unwrap().remove(0);
        assert_eq!(
            revoke_api_key(&db, &ctx, &b.id, &a_key.id)
                .unwrap_err()
                .status,
            404
        );
        assert!(list_api_keys(&db, &a.id).unwrap()[0].revoked_at.is_none());
    }

    #[test]
    fn validation_names_the_field_and_writes_nothing() {
        let (db, mut ctx) = setup();
        let e = create_workspace(
            &db,
            &mut ctx,
            NewWorkspace {
                name: "x".into(),
                timezone: Some("Mars".into()),
                owner_email: "a@b.vn".into(),
                owner_name: "A".into(),
            },
        )
        .unwrap_err();
        assert_eq!((e.status, e.field.as_deref()), (422, Some("timezone")));
        let e = create_workspace(
            &db,
            &mut ctx,
            NewWorkspace {
                name: "x".into(),
                timezone: None,
                owner_email: "nope".into(),
                owner_name: "A".into(),
            },
        )
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("owner_email"));
        let n = db
            .execute("SELECT count(*) AS n FROM workspaces", &[])
            .unwrap();
        assert_eq!(n.first().unwrap().int("n"), Some(0));
    }

    #[test]
    fn duplicate_member_is_409_and_agents_cannot_mint_admin_keys() {
        let (db, mut ctx) = setup();
        let (w, _) = workspace(&db, &mut ctx, "alpha");
        let dup = create_user(
            &db,
            &mut ctx,
            &w.id,
            NewUser {
                email: "owner@alpha.vn".into(),
                name: "X".into(),
                role: Role::Agent,
            },
        )
        .unwrap_err();
        assert_eq!(dup.status, 409);
        let e = create_api_key(
            &db,
            &mut ctx,
            &w.id,
            Role::Agent,
            NewApiKey {
                name: "k".into(),
                role: Some(Role::Admin),
                user_id: None,
            },
        )
        .unwrap_err();
        assert_eq!(e.status, 403);
    }

    #[test]
    fn a_key_bound_to_a_member_takes_at_most_the_members_role() {
        // SPEC B-3: an agent's softphone key.
        let (db, mut ctx) = setup();
        let (w, _) = workspace(&db, &mut ctx, "alpha");
        let agent = create_user(
            &db,
            &mut ctx,
            &w.id,
            NewUser {
                email: "lan@alpha.vn".into(),
                name: "Lan".into(),
                role: Role::Agent,
            },
        )
        .unwrap();
        let bound = |role: Option<Role>, user: &str| NewApiKey {
            name: "softphone".into(),
            role,
            user_id: Some(user.into()),
        };
        let key =
            create_api_key(&db, &mut ctx, &w.id, Role::Owner, bound(None, &agent.id)).unwrap();
        assert_eq!(
            (key.role.as_str(), key.user_id.as_deref()),
            ("agent", Some(agent.id.as_str()))
        );
        let p = authenticate(&db, Some(&format!("Bearer {}", key.key.unwrap())), None).unwrap();
        assert_eq!(p.act_for("me").unwrap(), agent.id);
        let too_high = create_api_key(
            &db,
            &mut ctx,
            &w.id,
            Role::Owner,
            bound(Some(Role::Admin), &agent.id),
        )
        .unwrap_err();
        assert_eq!(
            (too_high.status, too_high.field.as_deref()),
            (422, Some("role"))
        );
        let stranger =
            create_api_key(&db, &mut ctx, &w.id, Role::Owner, bound(None, "nobody")).unwrap_err();
        assert_eq!(
            (stranger.status, stranger.field.as_deref()),
            (422, Some("user_id"))
        );
        assert_eq!(
            db.execute(
                "SELECT count(*) AS n FROM api_keys WHERE name = 'softphone'",
                &[]
            )
            .unwrap()
            .first()
            .unwrap()
            .int("n"),
            Some(1)
        );
    }

    #[test]
    fn admin_token_is_the_platform_admin() {
        let (db, _) = setup();
        assert_eq!(
            authenticate(&db, Some("Bearer root-token"), Some("root-token")).unwrap(),
            Principal::PlatformAdmin
        );
        assert_eq!(
            authenticate(&db, Some("Bearer root-tokex"), Some("root-token"))
                .unwrap_err()
                .status,
            401
        );
        assert_eq!(
            authenticate(&db, Some("Bearer "), Some(""))
                .unwrap_err()
                .status,
            401
        );
    }
}
