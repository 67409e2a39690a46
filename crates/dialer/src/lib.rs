//! Outbound dialer pacing and the simulator that measures it (B-G
//! progressive, B-D predictive). Pure: a pacer sees a [`View`] of the
//! floor and answers how many calls to place now; [`sim::run`] plays a
//! shift second by second with seeded randomness, so every strategy meets
//! the same customers.

pub mod pacing;
pub mod sim;

pub use pacing::{Adaptive, Oracle, Pacer, Predictive, Progressive, View};
pub use sim::{Outcome, Scenario, run};
