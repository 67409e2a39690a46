//! Attribute conditions for the condition node (SPEC A-N1) and the condition
//! trigger (SPEC A-T2).
//!
//! A [`Condition`] combines [`Rule`]s with `all` / `any` over attributes of a
//! customer, ticket, call, conversation or any linked variable, addressed by a
//! dotted path into a JSON run context (`customer.tags`, `order.total`,
//! `order.items.0.sku`). The JSON shape is the one flows store:
//!
//! ```
//! use careflow_condition::Condition;
//! use chrono::{TimeZone, Utc};
//! use serde_json::json;
//!
//! let condition: Condition = serde_json::from_value(json!(
//!     {"all": [ {"field": "customer.tags", "op": "has_tag", "value": "VIPCustomer"},
//!               {"any": [ {"field": "order.total", "op": "gt", "value": 500000},
//!                         {"field": "customer.city", "op": "in", "value": ["Hà Nội", "Huế"]} ]} ]}
//! ))
//! .unwrap();
//! let context = json!({
//!     "customer": {"tags": ["VIPCustomer"], "city": "hà nội"},
//!     "order": {"total": "120000"}
//! });
//! let now = Utc.with_ymd_and_hms(2024, 6, 10, 12, 0, 0).unwrap();
//! assert!(condition.evaluate(&context, now));
//! ```
//!
//! The crate is pure: it never reads the clock (`now` is an argument) and does
//! no I/O, so it links into Wasm components and tests run without fakes.
//! [`Condition::evaluate`] never panics: a rule that cannot be evaluated is
//! simply false. [`Condition::validate`] is the save-time check that reports
//! those rules before a flow is published.
//!
//! # Semantics
//!
//! - Numbers compare numerically, also against numeric strings (`"500000"`
//!   vs `500000`). Ordering operators (`gt`, `between`, …) also order dates.
//! - Text compares case-insensitively with Unicode case folding (`"Nguyễn"`
//!   equals `"nguyễn"`); tags compare exactly.
//! - A field that is missing or `null` makes every operator false except the
//!   negative ones (`ne`, `not_in`, `not_contains`, `not_has_tag`) and
//!   `is_empty` / `not_exists`. For a present field each negative operator is
//!   exactly the negation of its positive twin.
//! - A rule whose `value` has the wrong shape for its operator (what
//!   `validate` reports as a missing or malformed value) is false, negative
//!   operators included.
//! - Empty `all` is true, empty `any` is false.
//! - Dates are RFC 3339 strings, `YYYY-MM-DD`, naive `YYYY-MM-DDTHH:MM[:SS]`,
//!   or unix seconds. Dates without an offset are read in the zone given to
//!   [`Condition::evaluate_in`] (UTC for [`Condition::evaluate`]).

mod error;
mod eval;
mod model;
mod validate;
mod value;

pub use error::ConditionError;
pub use model::{Condition, Operator, Rule};
pub use validate::{Problem, ProblemKind, ValueType};
