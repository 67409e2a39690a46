//! The call state machine: one outbound call from the moment it is
//! planned until the carrier says it ended. States are facts (`Ringing`,
//! `Queued`), events are occurrences (`Answered`, `OfferTimedOut`); the
//! whole table is [`transition`]. `Ended` absorbs every late event, and
//! carrier events that arrive out of order are ignored rather than
//! applied backwards (a `ringing` after `answered`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallState {
    /// B-P: the agent sees the customer; nothing is dialled yet.
    Previewing,
    /// Originate sent to the carrier.
    Dialing,
    Ringing,
    /// The customer picked up; not yet with an agent or an IVR.
    Answered,
    /// B-D: on hold music, waiting for a free agent.
    Queued,
    /// B-D: an agent's phone rings with this customer.
    Offered,
    /// Customer and agent talk.
    Bridged,
    /// B-A: the IVR scenario plays.
    Playing,
    Ended,
}

impl CallState {
    pub fn as_str(self) -> &'static str {
        match self {
            CallState::Previewing => "previewing",
            CallState::Dialing => "dialing",
            CallState::Ringing => "ringing",
            CallState::Answered => "answered",
            CallState::Queued => "queued",
            CallState::Offered => "offered",
            CallState::Bridged => "bridged",
            CallState::Playing => "playing",
            CallState::Ended => "ended",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(text.into())).ok()
    }

    /// Calls that hold a line at the carrier (count against the cap).
    pub fn holds_a_line(self) -> bool {
        !matches!(self, CallState::Previewing | CallState::Ended)
    }
}

/// Why a call ended: the dial result per customer (SPEC B-4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallResult {
    /// The customer talked to an agent (or heard the whole IVR).
    Answered,
    NoAnswer,
    Busy,
    Failed,
    Voicemail,
    /// Answered but dropped before reaching an agent.
    Abandoned,
    /// B-P: the agent skipped the customer in preview.
    Skipped,
}

impl CallResult {
    pub fn as_str(self) -> &'static str {
        match self {
            CallResult::Answered => "answered",
            CallResult::NoAnswer => "no_answer",
            CallResult::Busy => "busy",
            CallResult::Failed => "failed",
            CallResult::Voicemail => "voicemail",
            CallResult::Abandoned => "abandoned",
            CallResult::Skipped => "skipped",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(text.into())).ok()
    }

    /// Results after which the customer may be tried again.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            CallResult::NoAnswer
                | CallResult::Busy
                | CallResult::Failed
                | CallResult::Abandoned
                | CallResult::Voicemail
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallEvent {
    // From careflow.
    Originated,
    Skipped,
    Queued,
    Offered,
    OfferTimedOut,
    AgentAccepted,
    IvrStarted,
    /// Waited past the maximum wait with no agent.
    Dropped,
    // From the carrier.
    Ringing,
    Answered,
    Voicemail,
    Busy,
    NoAnswer,
    Failed,
    Completed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Moved(CallState),
    Ended(CallResult),
    /// A duplicate, stale or late event: nothing changes.
    Ignored,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a {} call cannot take {event:?}", state.as_str())]
pub struct UnexpectedEvent {
    pub state: CallState,
    pub event: CallEvent,
}

/// The transition table.
pub fn transition(state: CallState, event: CallEvent) -> Result<Transition, UnexpectedEvent> {
    use CallEvent as E;
    use CallState as S;
    use Transition::{Ended, Ignored, Moved};
    let next = match (state, event) {
        (S::Ended, _) => Ignored,
        (S::Previewing, E::Originated) => Moved(S::Dialing),
        (S::Previewing, E::Skipped) => Ended(CallResult::Skipped),
        (S::Dialing, E::Ringing) => Moved(S::Ringing),
        (S::Dialing | S::Ringing, E::Answered) => Moved(S::Answered),
        (S::Dialing | S::Ringing, E::Voicemail) => Ended(CallResult::Voicemail),
        (S::Dialing | S::Ringing, E::Busy) => Ended(CallResult::Busy),
        (S::Dialing | S::Ringing, E::NoAnswer | E::Completed) => Ended(CallResult::NoAnswer),
        (S::Dialing | S::Ringing, E::Failed) => Ended(CallResult::Failed),
        // Carrier events that arrive after a later one.
        (S::Ringing, E::Ringing) => Ignored,
        (
            S::Answered | S::Queued | S::Offered | S::Bridged | S::Playing,
            E::Ringing | E::Answered,
        ) => Ignored,
        (S::Answered, E::Queued) => Moved(S::Queued),
        (S::Answered | S::Queued, E::Offered) => Moved(S::Offered),
        (S::Offered, E::OfferTimedOut) => Moved(S::Queued),
        (S::Answered | S::Offered, E::AgentAccepted) => Moved(S::Bridged),
        (S::Answered, E::IvrStarted) => Moved(S::Playing),
        (S::Answered | S::Queued | S::Offered, E::Dropped) => Ended(CallResult::Abandoned),
        // The customer hung up before anyone took the call.
        (S::Answered | S::Queued | S::Offered, E::Completed | E::Failed) => {
            Ended(CallResult::Abandoned)
        }
        (S::Bridged | S::Playing, E::Completed | E::Failed) => Ended(CallResult::Answered),
        // A dropped call's hang-up confirmation, or a late busy/no-answer
        // after the call was already answered.
        (
            S::Answered | S::Queued | S::Offered | S::Bridged | S::Playing,
            E::Voicemail | E::Busy | E::NoAnswer,
        ) => Ignored,
        _ => return Err(UnexpectedEvent { state, event }),
    };
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(events: &[CallEvent]) -> (CallState, Option<CallResult>) {
        let mut state = CallState::Dialing;
        let mut result = None;
        for e in events {
            match transition(state, *e).unwrap() {
                Transition::Moved(s) => state = s,
                Transition::Ended(r) => {
                    state = CallState::Ended;
                    result = Some(r);
                }
                Transition::Ignored => {}
            }
        }
        (state, result)
    }

    #[test]
    fn a_predictive_call_waits_on_hold_then_talks() {
        // SPEC B-D
        use CallEvent::*;
        let (s, r) = run(&[
            Ringing,
            Answered,
            Queued,
            Offered,
            OfferTimedOut,
            Offered,
            AgentAccepted,
            Completed,
        ]);
        assert_eq!((s, r), (CallState::Ended, Some(CallResult::Answered)));
    }

    #[test]
    fn counts_a_customer_dropped_on_hold_as_abandoned() {
        use CallEvent::*;
        assert_eq!(
            run(&[Answered, Queued, Dropped]).1,
            Some(CallResult::Abandoned)
        );
        assert_eq!(
            run(&[Answered, Queued, Completed]).1,
            Some(CallResult::Abandoned)
        );
    }

    #[test]
    fn ignores_a_ringing_that_arrives_after_answered() {
        use CallEvent::*;
        assert_eq!(run(&[Answered, Ringing]).0, CallState::Answered);
    }

    #[test]
    fn a_completed_that_overtakes_answered_still_ends_the_call() {
        use CallEvent::*;
        assert_eq!(
            run(&[Ringing, Completed]),
            (CallState::Ended, Some(CallResult::NoAnswer))
        );
    }

    #[test]
    fn ended_absorbs_late_events() {
        for e in [
            CallEvent::Answered,
            CallEvent::Completed,
            CallEvent::AgentAccepted,
            CallEvent::Dropped,
        ] {
            assert_eq!(
                transition(CallState::Ended, e).unwrap(),
                Transition::Ignored
            );
        }
    }

    #[test]
    fn refuses_an_agent_accepting_a_call_still_ringing() {
        let e = transition(CallState::Ringing, CallEvent::AgentAccepted).unwrap_err();
        assert_eq!(e.state, CallState::Ringing);
    }
}
