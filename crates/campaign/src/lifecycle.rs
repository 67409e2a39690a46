//! The campaign lifecycle (SPEC B-4) as one transition table:
//! created → unapproved → approved → running ⇄ paused → finished.
//! `finished` absorbs nothing: every action on it is refused.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Being set up; editable.
    Created,
    /// Submitted, waiting for a manager's approval; editable.
    Unapproved,
    /// Approved; starts by itself at its start time.
    Approved,
    Running,
    Paused,
    Finished,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Unapproved => "unapproved",
            Status::Approved => "approved",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Finished => "finished",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(text.into())).ok()
    }

    /// Settings and customers may change only before approval or while
    /// paused.
    pub fn is_editable(self) -> bool {
        matches!(self, Status::Created | Status::Unapproved | Status::Paused)
    }
}

/// What happens to a campaign: an operator's verb or the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Submit,
    Approve,
    Reject,
    Start,
    Pause,
    Resume,
    Finish,
    /// The start time came (clock).
    StartTimeReached,
    /// The end time came (clock): stops even with customers left.
    EndTimeReached,
}

impl Action {
    pub fn parse(text: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(text.into())).ok()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a {} campaign cannot {action:?}", from.as_str())]
pub struct InvalidTransition {
    pub from: Status,
    pub action: Action,
}

/// The transition table.
pub fn transition(from: Status, action: Action) -> Result<Status, InvalidTransition> {
    use Action as A;
    use Status as S;
    let to = match (from, action) {
        (S::Created, A::Submit) => S::Unapproved,
        (S::Unapproved, A::Approve) => S::Approved,
        (S::Unapproved, A::Reject) => S::Created,
        (S::Approved, A::Start | A::StartTimeReached) => S::Running,
        (S::Running, A::Pause) => S::Paused,
        (S::Paused, A::Resume | A::Start) => S::Running,
        (S::Created | S::Unapproved | S::Approved | S::Running | S::Paused, A::Finish) => {
            S::Finished
        }
        (S::Approved | S::Running | S::Paused, A::EndTimeReached) => S::Finished,
        _ => return Err(InvalidTransition { from, action }),
    };
    Ok(to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_the_happy_path_of_b4() {
        // SPEC B-4
        let mut s = Status::Created;
        for a in [
            Action::Submit,
            Action::Approve,
            Action::StartTimeReached,
            Action::Pause,
            Action::Resume,
            Action::EndTimeReached,
        ] {
            s = transition(s, a).unwrap();
        }
        assert_eq!(s, Status::Finished);
    }

    #[test]
    fn refuses_to_start_an_unapproved_campaign() {
        let e = transition(Status::Unapproved, Action::Start).unwrap_err();
        assert_eq!(e.from, Status::Unapproved);
        assert!(transition(Status::Created, Action::Approve).is_err());
    }

    #[test]
    fn finished_absorbs_nothing() {
        for a in [
            Action::Submit,
            Action::Approve,
            Action::Start,
            Action::Resume,
            Action::Finish,
            Action::EndTimeReached,
        ] {
            assert!(transition(Status::Finished, a).is_err(), "{a:?}");
        }
    }
}
