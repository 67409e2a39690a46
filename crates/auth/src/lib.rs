//! Tenancy and authentication, one library for every component.
//!
//! A request carries `Authorization: Bearer <key>`. The key is either the
//! platform's `admin_token` (bootstraps workspaces) or a workspace API key,
//! which is shown once at creation and stored only as its SHA-256 hash.
//! Everything a key can reach is filtered by its workspace, so a key of
//! workspace A asking for a resource of B gets 404, never B's data.

mod keys;
mod principal;
mod role;
mod tenancy;

pub use keys::{KEY_PREFIX, hash_key, new_api_key};
pub use principal::{Principal, authenticate, bearer};
pub use role::Role;
pub use tenancy::{
    ApiKeyView, NewApiKey, NewUser, NewWorkspace, UserView, WorkspaceView, create_api_key,
    create_user, create_workspace, get_user, get_workspace, list_api_keys, list_users,
    revoke_api_key,
};

/// What tenancy operations need from their caller: the time and fresh
/// randomness, injected so tests are deterministic.
pub trait Context {
    /// Now, RFC 3339 UTC.
    fn now(&self) -> String;
    /// A fresh unique id.
    fn new_id(&mut self) -> String;
    /// 32 fresh random hex characters (128 bits) for a secret.
    fn secret(&mut self) -> String;
}
