//! The pacing strategies, one type each.

/// What a pacer knows when it decides.
#[derive(Debug, Clone)]
pub struct View {
    pub now: u32,
    pub agents: usize,
    pub idle_agents: usize,
    pub ringing: usize,
    /// Answered calls waiting for an agent.
    pub queued: usize,
    /// Calls placed, calls that stopped ringing (answered or not), and
    /// answered calls so far. The answer rate is answered / resolved:
    /// counting calls still ringing would bias it low and over-dial.
    pub placed: u64,
    pub resolved: u64,
    pub answered: u64,
    /// Abandoned so far over the shift (the 24 h window of a one-shift
    /// simulation) and answered/abandoned over the trailing 5 minutes.
    pub abandoned: u64,
    pub recent_answered: u64,
    pub recent_abandoned: u64,
    /// The campaign's abandon cap (e.g. 0.03).
    pub cap: f64,
}

/// A pacing strategy: how many calls to place now.
pub trait Pacer {
    fn name(&self) -> &'static str;
    fn calls_to_place(&mut self, view: &View) -> usize;
    /// The oracle is driven by the simulator, which knows every outcome.
    fn is_oracle(&self) -> bool {
        false
    }
}

/// B-G progressive: one call per idle agent.
pub struct Progressive;

impl Pacer for Progressive {
    fn name(&self) -> &'static str {
        "progressive 1:1"
    }

    fn calls_to_place(&mut self, v: &View) -> usize {
        v.idle_agents.saturating_sub(v.ringing + v.queued)
    }
}

/// A VICIdial-style adaptive dial level: calls in flight per idle agent,
/// raised while agents wait and the trailing drop rate is under the cap,
/// lowered when it is over.
pub struct Adaptive {
    level: f64,
    last_adjust: u32,
}

impl Default for Adaptive {
    fn default() -> Self {
        Self {
            level: 1.0,
            last_adjust: 0,
        }
    }
}

impl Pacer for Adaptive {
    fn name(&self) -> &'static str {
        "adaptive dial level"
    }

    fn calls_to_place(&mut self, v: &View) -> usize {
        if v.now >= self.last_adjust + 15 {
            self.last_adjust = v.now;
            let drop = if v.recent_answered > 0 {
                v.recent_abandoned as f64 / v.recent_answered as f64
            } else {
                0.0
            };
            if drop > v.cap {
                self.level = (self.level - 0.2).max(1.0);
            } else if v.idle_agents > 0 {
                self.level = (self.level + 0.1).min(5.0);
            }
        }
        let target = (self.level * v.idle_agents as f64).floor() as usize;
        target.saturating_sub(v.ringing + v.queued)
    }
}

/// careflow's predictive pacing (B-D): place the most calls such that the
/// expected number of answers no idle agent can take stays a small share
/// of the expected answers, a share that shrinks as the measured abandon
/// rate nears the cap.
pub struct Predictive {
    share: f64,
}

impl Default for Predictive {
    fn default() -> Self {
        Self { share: 0.01 }
    }
}

/// E[max(0, X − free)] for X ~ Binomial(n, p).
fn expected_overflow(n: usize, p: f64, free: usize) -> f64 {
    if n <= free {
        return 0.0;
    }
    let p = p.clamp(1e-6, 1.0 - 1e-6);
    let mut pmf = (1.0 - p).powi(n as i32);
    let mut below = 0.0; // Σ_{x ≤ free} (free − x) P(x)
    for x in 0..=free {
        if x > 0 {
            pmf *= (n - x + 1) as f64 / x as f64 * p / (1.0 - p);
        }
        below += (free - x) as f64 * pmf;
    }
    // E[max(0, X − f)] = E[X] − f + E[max(0, f − X)]
    (n as f64 * p - free as f64 + below).max(0.0)
}

impl Pacer for Predictive {
    fn name(&self) -> &'static str {
        "careflow predictive"
    }

    fn calls_to_place(&mut self, v: &View) -> usize {
        // Answer rate: a prior until there is evidence.
        let p = (v.answered as f64 + 3.0) / (v.resolved as f64 + 10.0);
        let shift = if v.answered > 30 {
            v.abandoned as f64 / v.answered as f64
        } else {
            0.0
        };
        let recent = if v.recent_answered > 30 {
            v.recent_abandoned as f64 / v.recent_answered as f64
        } else {
            0.0
        };
        // Throttle as either window nears the cap; relax when well under.
        let pressure = (shift / v.cap).max(recent / v.cap);
        self.share = if pressure > 0.8 {
            (self.share * 0.9).max(0.001)
        } else if pressure < 0.5 {
            (self.share * 1.01).min(0.5 * v.cap)
        } else {
            self.share
        };
        // Only idle agents can take an answer: handle times are heavy-tailed,
        // so a busy agent's remaining time is no safe bet.
        let free = v.idle_agents.saturating_sub(v.queued);
        let (mut lo, mut hi) = (0usize, 4 * v.agents);
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            let n = v.ringing + mid;
            if expected_overflow(n, p, free) <= self.share * (n as f64 * p).max(1.0) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        lo
    }
}

/// Knows every outcome in advance; the simulator dials for it only the
/// customers who will answer, timed to meet agents as they become free.
pub struct Oracle;

impl Pacer for Oracle {
    fn name(&self) -> &'static str {
        "clairvoyant oracle"
    }

    fn calls_to_place(&mut self, _v: &View) -> usize {
        0
    }

    fn is_oracle(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_overflow_matches_a_hand_count() {
        // n = 2, p = 0.5, free = 1: X = 2 with probability 1/4 → overflow 1.
        assert!((expected_overflow(2, 0.5, 1) - 0.25).abs() < 1e-9);
        assert_eq!(expected_overflow(3, 0.5, 3), 0.0);
    }

    #[test]
    fn progressive_places_one_call_per_idle_agent() {
        // SPEC B-G
        let v = View {
            now: 0,
            agents: 5,
            idle_agents: 3,
            ringing: 1,
            queued: 0,
            placed: 0,
            resolved: 0,
            answered: 0,
            abandoned: 0,
            recent_answered: 0,
            recent_abandoned: 0,
            cap: 0.03,
        };
        assert_eq!(Progressive.calls_to_place(&v), 2);
    }
}
