//! careflow's system of record. One SQL API ([`Db`]) with two backends: Spin's
//! SQLite interface inside components (feature `spin`) and rusqlite for fast
//! native tests (feature `native`). Numbered migrations ([`migrate`]) are
//! applied idempotently, in one transaction, by whichever component touches
//! the store first, so no deployment needs a manual step.
//!
//! Every business table carries `workspace_id`; queries of business data
//! always filter by it.

mod db;
pub mod idempotency;
mod migrations;
#[cfg(feature = "native")]
mod native;
#[cfg(feature = "spin")]
mod spin;

pub use db::{Db, Row, Rows, SqlValue, StoreError};
pub use migrations::{MIGRATIONS, Migration, migrate, schema_version};
#[cfg(feature = "native")]
pub use native::NativeDb;
#[cfg(feature = "spin")]
pub use spin::SpinDb;
