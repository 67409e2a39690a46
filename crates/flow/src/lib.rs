//! Flows: the model a business builds (declared variables, one trigger,
//! nodes and edges), the node types with their settings, ports and
//! validation declared in one place each, save/publish validation (A-V),
//! and the run state machine the engine drives. Pure: time and randomness
//! are passed in.

pub mod binding;
pub mod condition_trigger;
pub mod form;
mod model;
pub mod nodes;
pub mod partner;
mod problem;
pub mod run;
mod schema;
pub mod simulate;
mod validate;
pub mod webhook;

pub use careflow_condition::ValueType;
pub use model::{Edge, Flow, Node, TRIGGER_NODE, Trigger, TriggerKind, VariableDecl};
pub use problem::{Problem, Severity};
pub use schema::VariableTypes;
pub use validate::validate;
