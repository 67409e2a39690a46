//! A second-by-second simulation of an outbound shift. Customers come from
//! one seeded stream, so every pacer meets the same people; answered
//! customers wait for an agent and hang up after the campaign's maximum
//! wait (counted as abandoned).

use std::collections::VecDeque;

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, LogNormal};

use crate::pacing::{Pacer, View};

#[derive(Debug, Clone, Copy)]
pub struct Scenario {
    pub agents: usize,
    pub answer_rate: f64,
    /// Mean talk time, seconds (log-normal, σ = half the mean).
    pub mean_handle: f64,
    pub wrap_up: u32,
    pub shift: u32,
    /// Seconds an answered customer waits before hanging up.
    pub max_wait: u32,
    pub cap: f64,
    pub seed: u64,
}

impl Scenario {
    /// The scenarios: 8-hour shift, handle time mean 180 s.
    pub fn standard(agents: usize, answer_rate: f64, seed: u64) -> Self {
        Self {
            agents,
            answer_rate,
            mean_handle: 180.0,
            wrap_up: 10,
            shift: 8 * 3600,
            max_wait: 3,
            cap: 0.03,
            seed,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Customer {
    answers: bool,
    /// Seconds until answer, or until the line gives up (no answer).
    ring: u32,
    handle: u32,
}

struct Stream {
    rng: StdRng,
    answer_rate: f64,
    ring: LogNormal<f64>,
    handle: LogNormal<f64>,
}

fn lognormal(mean: f64, sd: f64) -> LogNormal<f64> {
    let sigma2 = (1.0 + (sd / mean).powi(2)).ln();
    LogNormal::new(mean.ln() - sigma2 / 2.0, sigma2.sqrt()).expect("valid parameters")
}

impl Stream {
    fn new(s: &Scenario) -> Self {
        Self {
            rng: StdRng::seed_from_u64(s.seed),
            answer_rate: s.answer_rate,
            ring: lognormal(12.0, 6.0),
            handle: lognormal(s.mean_handle, s.mean_handle / 2.0),
        }
    }

    fn next(&mut self) -> Customer {
        use rand::Rng;
        let answers = self.rng.gen_bool(self.answer_rate);
        let ring = if answers {
            self.ring.sample(&mut self.rng).clamp(3.0, 40.0) as u32
        } else {
            25
        };
        let handle = self.handle.sample(&mut self.rng).clamp(10.0, 3600.0) as u32;
        Customer {
            answers,
            ring,
            handle,
        }
    }
}

/// What a shift produced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outcome {
    /// Talk time / logged-in time.
    pub occupancy: f64,
    pub abandon_rate: f64,
    pub worst_hour_abandon: f64,
    /// Seconds from answer to agent, 95th percentile (connected calls).
    pub wait_p95: f64,
    pub contacts_per_agent_hour: f64,
    pub placed: u64,
    pub answered: u64,
    pub abandoned: u64,
}

/// Plays one shift of `scenario` with `pacer`.
pub fn run(scenario: &Scenario, pacer: &mut dyn Pacer) -> Outcome {
    let s = scenario;
    let mut stream = Stream::new(s);
    let mut free_at = vec![0u32; s.agents];
    // When each agent's current conversation started and ends (the pacer
    // sees only how long it has lasted).
    let mut talk_start = vec![0u32; s.agents];
    let mut talk_end = vec![0u32; s.agents];
    let (mut handles, mut handle_sum, mut handle_sq) = (0u64, 0f64, 0f64);
    let (mut rings, mut ring_sum, mut ring_sq) = (0u64, 0f64, 0f64);
    let mut reserved = vec![false; s.agents];
    // (placed at, stops ringing at, customer)
    let mut ringing: Vec<(u32, u32, Customer)> = Vec::new();
    let mut queue: VecDeque<(u32, Customer)> = VecDeque::new();
    let (mut placed, mut resolved, mut answered, mut abandoned, mut connected) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut talk = 0u64;
    let mut waits: Vec<u32> = Vec::new();
    let hours = (s.shift / 3600).max(1) as usize;
    let mut hour_answered = vec![0u64; hours];
    let mut hour_abandoned = vec![0u64; hours];
    let window = 300usize;
    let mut recent_answered = vec![0u64; window];
    let mut recent_abandoned = vec![0u64; window];
    let oracle = pacer.is_oracle();
    let mut oracle_next: Option<Customer> = None;

    for t in 0..s.shift {
        let hour = ((t / 3600) as usize).min(hours - 1);
        let slot = t as usize % window;
        recent_answered[slot] = 0;
        recent_abandoned[slot] = 0;
        // Calls that stop ringing now.
        let mut still = Vec::with_capacity(ringing.len());
        for (at, end, c) in ringing.drain(..) {
            if end > t {
                still.push((at, end, c));
                continue;
            }
            resolved += 1;
            if c.answers {
                let r = f64::from(c.ring);
                rings += 1;
                ring_sum += r;
                ring_sq += r * r;
                answered += 1;
                hour_answered[hour] += 1;
                recent_answered[slot] += 1;
                queue.push_back((t, c));
            }
        }
        ringing = still;
        // Idle agents take waiting customers, oldest first.
        for a in 0..s.agents {
            if free_at[a] <= t
                && let Some((since, c)) = queue.pop_front()
            {
                waits.push(t - since);
                connected += 1;
                let end = t + c.handle;
                talk += u64::from(end.min(s.shift) - t);
                talk_start[a] = t;
                talk_end[a] = end;
                free_at[a] = end + s.wrap_up;
                reserved[a] = false;
            }
        }
        // Customers who waited too long hang up.
        while queue
            .front()
            .is_some_and(|(since, _)| t - since >= s.max_wait)
        {
            queue.pop_front();
            abandoned += 1;
            hour_abandoned[hour] += 1;
            recent_abandoned[slot] += 1;
        }
        if oracle {
            // For each agent, dial the next answering customer exactly when
            // the answer will meet the agent becoming free.
            for a in 0..s.agents {
                if reserved[a] {
                    continue;
                }
                let c = *oracle_next.get_or_insert_with(|| {
                    loop {
                        let c = stream.next();
                        if c.answers {
                            break c;
                        }
                    }
                });
                if free_at[a] <= t + c.ring {
                    oracle_next = None;
                    reserved[a] = true;
                    placed += 1;
                    ringing.push((t, t + c.ring, c));
                }
            }
            continue;
        }
        for a in 0..s.agents {
            if talk_end[a] == t && t > 0 {
                let h = f64::from(talk_end[a] - talk_start[a]);
                handles += 1;
                handle_sum += h;
                handle_sq += h * h;
            }
        }
        let view = View {
            talking_for: (0..s.agents)
                .filter(|a| talk_end[*a] > t)
                .map(|a| t - talk_start[a])
                .collect(),
            wrap_left: (0..s.agents)
                .filter(|a| talk_end[*a] <= t && free_at[*a] > t)
                .map(|a| free_at[a] - t)
                .collect(),
            handle: (handles >= 10).then(|| {
                let mean = handle_sum / handles as f64;
                let var = (handle_sq / handles as f64 - mean * mean).max(1.0);
                (mean, var.sqrt())
            }),
            ring: (rings >= 10).then(|| {
                let mean = ring_sum / rings as f64;
                (
                    mean,
                    (ring_sq / rings as f64 - mean * mean).max(0.01).sqrt(),
                )
            }),
            max_wait: s.max_wait,
            now: t,
            agents: s.agents,
            idle_agents: free_at.iter().filter(|f| **f <= t).count(),
            ringing_for: ringing.iter().map(|(at, _, _)| t - at).collect(),
            queued: queue.len(),
            placed,
            resolved,
            answered,
            abandoned,
            recent_answered: recent_answered.iter().sum(),
            recent_abandoned: recent_abandoned.iter().sum(),
            cap: s.cap,
        };
        for _ in 0..pacer.calls_to_place(&view) {
            let c = stream.next();
            placed += 1;
            ringing.push((t, t + c.ring, c));
        }
    }
    waits.sort_unstable();
    let rate = |ab: u64, an: u64| if an == 0 { 0.0 } else { ab as f64 / an as f64 };
    Outcome {
        occupancy: talk as f64 / (s.agents as f64 * f64::from(s.shift)),
        abandon_rate: rate(abandoned, answered),
        worst_hour_abandon: (0..hours)
            .map(|h| rate(hour_abandoned[h], hour_answered[h]))
            .fold(0.0, f64::max),
        wait_p95: waits
            .get(waits.len() * 95 / 100)
            .map_or(0.0, |w| f64::from(*w)),
        contacts_per_agent_hour: connected as f64 / (s.agents as f64 * f64::from(s.shift) / 3600.0),
        placed,
        answered,
        abandoned,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pacing::{Adaptive, Oracle, Predictive, Progressive};

    fn short(agents: usize, rate: f64) -> Scenario {
        Scenario {
            shift: 2 * 3600,
            ..Scenario::standard(agents, rate, 7)
        }
    }

    #[test]
    fn progressive_never_abandons_and_the_oracle_bounds_everyone() {
        // SPEC B-G B-D
        let s = short(20, 0.3);
        let progressive = run(&s, &mut Progressive);
        assert_eq!(
            progressive.abandoned, 0,
            "one call per idle agent never strands a customer"
        );
        let oracle = run(&s, &mut Oracle);
        let predictive = run(&s, &mut Predictive::default());
        let adaptive = run(&s, &mut Adaptive::default());
        for o in [progressive, predictive, adaptive] {
            assert!(
                o.occupancy <= oracle.occupancy + 0.02,
                "{o:?} vs oracle {oracle:?}"
            );
        }
        assert!(
            predictive.occupancy > progressive.occupancy,
            "dialling ahead keeps agents busier: {predictive:?} vs {progressive:?}"
        );
    }

    #[test]
    fn predictive_stays_under_the_abandon_cap() {
        // SPEC B-D
        for (agents, rate) in [(5, 0.3), (20, 0.15), (20, 0.6), (100, 0.3)] {
            let o = run(&short(agents, rate), &mut Predictive::default());
            assert!(o.abandon_rate <= 0.03, "{agents} agents at {rate}: {o:?}");
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_shift() {
        let s = short(5, 0.3);
        assert_eq!(
            run(&s, &mut Predictive::default()),
            run(&s, &mut Predictive::default())
        );
    }
}
