//! Outbound call campaigns (SPEC B-1…B-4, B-M, B-P, B-G, B-D, B-A, B-C).
//!
//! Pure parts: [`settings`] (every setting, its default and limit),
//! [`lifecycle`] (created → … → finished), [`hours`] (working hours in the
//! workspace zone) and [`call`] (the call state machine).
//! Store parts, over any [`careflow_store::Db`]: [`campaigns`],
//! [`customers`] (imports and the manual pick), [`agents`] (agent state
//! API, groups), [`calls`] (carrier events → call records), [`dispatch`]
//! (who to dial now, per mode) and [`reports`]. Carrier I/O stays in the
//! `telephony` component, which executes the [`calls::Order`]s returned.

pub mod agents;
pub mod call;
pub mod calls;
pub mod campaigns;
pub mod customers;
pub mod dispatch;
pub mod hours;
pub mod lifecycle;
pub mod reports;
pub mod settings;

pub use calls::{CarrierEvent, Order};
