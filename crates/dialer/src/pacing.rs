//! The pacing strategies, one type each.

/// What a pacer knows when it decides.
#[derive(Debug, Clone)]
pub struct View {
    pub now: u32,
    pub agents: usize,
    pub idle_agents: usize,
    /// Seconds each call still ringing has rung.
    pub ringing_for: Vec<u32>,
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
    /// Seconds each talking agent has been on their current call.
    pub talking_for: Vec<u32>,
    /// Seconds until each agent in wrap-up is free (wrap-up is fixed).
    pub wrap_left: Vec<u32>,
    /// Mean and standard deviation of completed talk times, seconds
    /// (`None` before any call completed).
    pub handle: Option<(f64, f64)>,
    /// Mean and standard deviation of the seconds from dialling to an
    /// answer (`None`: no answer measured yet).
    pub ring: Option<(f64, f64)>,
    /// Seconds an answered customer waits for an agent before the call
    /// is dropped.
    pub max_wait: u32,
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
        v.idle_agents.saturating_sub(v.ringing_for.len() + v.queued)
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
        target.saturating_sub(v.ringing_for.len() + v.queued)
    }
}

/// careflow's predictive pacing (B-D): place the most calls such that the
/// expected number of answers no agent can take stays a small share of
/// the expected answers. Agents who will be free when the new calls are
/// answered count too: the wrap-up's end is known exactly, and a talking
/// agent finishes within the horizon with the probability the measured
/// talk-time distribution gives after the time they have already talked.
/// A call already ringing counts by the chance it is still to be answered
/// after ringing that long, and the answer rate is taken at an upper
/// bound while few calls are measured. The share shrinks as the measured
/// abandon rate (shift and trailing five minutes) nears the cap, and
/// grows back when well under it.
///
/// The state (`share`, `trust`) is small; the runtime stores it between
/// ticks.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Predictive {
    share: f64,
    /// How far the forecast of talking agents finishing is believed
    /// (0–1): lowered while abandons run near the cap, raised slowly
    /// while well under it. It corrects the forecast where it is biased
    /// (a short history of talk times, answers bunching).
    trust: f64,
}

impl Default for Predictive {
    fn default() -> Self {
        Self {
            share: 0.01,
            trust: 0.9,
        }
    }
}

/// Quantiles (10 … 90 %) of the standard normal: the ring times a new
/// call's answer is averaged over.
const RING_QUANTILES: [f64; 5] = [-1.2816, -0.5244, 0.0, 0.5244, 1.2816];

fn lognormal_params(mean: f64, sd: f64) -> (f64, f64) {
    let sigma2 = (1.0 + (sd / mean).powi(2)).ln();
    (mean.ln() - sigma2 / 2.0, sigma2.sqrt())
}

/// Standard normal CDF (Abramowitz–Stegun 7.1.26, error < 1.5e-7).
fn normal_cdf(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs() / std::f64::consts::SQRT_2);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-(x * x) / 2.0).exp();
    if x >= 0.0 {
        0.5 * (1.0 + erf)
    } else {
        0.5 * (1.0 - erf)
    }
}

/// P(talk ends within `h` s | already `e` s long), talk ~ lognormal with
/// the given mean and standard deviation.
fn finishes_within(e: f64, h: f64, mean: f64, sd: f64) -> f64 {
    let (mu, sigma) = lognormal_params(mean, sd);
    let cdf = |x: f64| {
        if x <= 0.0 {
            0.0
        } else {
            normal_cdf((x.ln() - mu) / sigma)
        }
    };
    let survive = 1.0 - cdf(e);
    if survive < 1e-9 {
        return 1.0;
    }
    ((cdf(e + h) - cdf(e)) / survive).clamp(0.0, 1.0)
}

/// Two standard deviations above the mean of the answer rate's
/// Beta(answered + 1, unanswered + 1) posterior.
fn answer_rate_bound(answered: u64, resolved: u64) -> f64 {
    let (a, b) = (
        answered as f64 + 1.0,
        (resolved - answered.min(resolved)) as f64 + 1.0,
    );
    let mean = a / (a + b);
    let sd = (a * b / ((a + b).powi(2) * (a + b + 1.0))).sqrt();
    (mean + 2.0 * sd).min(0.999)
}

/// Log-normal parameters of the measured ring time before an answer (a
/// prior of 12 ± 6 s until measured).
fn ring_params(v: &View) -> (f64, f64) {
    let (m, s) = v.ring.unwrap_or((12.0, 6.0));
    lognormal_params(m.max(1.0), s.max(0.1))
}

/// The chance a call still ringing after `e` s is answered, given the
/// ring time's log-normal `(mu, sigma)`: answered
/// calls ring for the measured ring-time distribution, unanswered ones
/// are assumed to ring on (a carrier's ring-out is longer than most
/// answers), so a call loses its chance as it outlives the usual answer.
fn still_answers(p: f64, e: f64, (mu, sigma): (f64, f64)) -> f64 {
    let survive = if e <= 0.0 {
        1.0
    } else {
        1.0 - normal_cdf((e.ln() - mu) / sigma)
    };
    p * survive / (p * survive + (1.0 - p))
}

/// Distribution of the number of agents free in time for a call placed
/// now: by its answer (a ring time drawn from the measured distribution)
/// plus the customer's maximum wait. The idle ones are certain; the rest
/// are a Poisson-binomial.
fn free_agents(v: &View, trust: f64) -> Vec<f64> {
    let (mean, sd) = v.handle.unwrap_or((180.0, 90.0));
    let (ring_mu, ring_sigma) = ring_params(v);
    let horizons: Vec<f64> = RING_QUANTILES
        .iter()
        .map(|z| (ring_mu + ring_sigma * z).exp() + f64::from(v.max_wait))
        .collect();
    let average = |q: &dyn Fn(f64) -> f64| {
        horizons.iter().map(|h| q(*h)).sum::<f64>() / horizons.len() as f64
    };
    let mut p: Vec<f64> = v
        .wrap_left
        .iter()
        .map(|w| trust * average(&|h| if f64::from(*w) <= h { 1.0 } else { 0.0 }))
        .collect();
    p.extend(
        v.talking_for
            .iter()
            .map(|e| trust * average(&|h| finishes_within(f64::from(*e), h, mean, sd))),
    );
    let mut dist = vec![1.0];
    for q in p {
        let mut next = vec![0.0; dist.len() + 1];
        for (k, d) in dist.iter().enumerate() {
            next[k] += d * (1.0 - q);
            next[k + 1] += d * q;
        }
        dist = next;
    }
    let idle = v.idle_agents.saturating_sub(v.queued);
    let mut shifted = vec![0.0; idle];
    shifted.extend(dist);
    shifted
}

/// E[max(0, X − F)] for answers X ~ Binomial(n, p) and free agents F with
/// the distribution `free`.
fn expected_overflow(n: usize, p: f64, free: &[f64]) -> f64 {
    let p = p.clamp(1e-6, 1.0 - 1e-6);
    // Built outwards from the mode and normalised, so no term underflows
    // however many calls are in flight.
    let mut pmf = vec![0.0; n + 1];
    let mode = (((n + 1) as f64 * p).floor() as usize).min(n);
    pmf[mode] = 1.0;
    for x in mode + 1..=n {
        pmf[x] = pmf[x - 1] * (n - x + 1) as f64 / x as f64 * p / (1.0 - p);
    }
    for x in (0..mode).rev() {
        pmf[x] = pmf[x + 1] * (x + 1) as f64 / (n - x) as f64 * (1.0 - p) / p;
    }
    let total: f64 = pmf.iter().sum();
    pmf.iter_mut().for_each(|x| *x /= total);
    // Suffix sums make each E[max(0, X − f)] O(1): Σ_{x>f} x·P(x) − f·Σ_{x>f} P(x).
    let mut tail_p = vec![0.0; n + 2];
    let mut tail_xp = vec![0.0; n + 2];
    for x in (0..=n).rev() {
        tail_p[x] = tail_p[x + 1] + pmf[x];
        tail_xp[x] = tail_xp[x + 1] + x as f64 * pmf[x];
    }
    free.iter()
        .enumerate()
        .filter(|(f, _)| *f < n)
        .map(|(f, pf)| pf * (tail_xp[f + 1] - f as f64 * tail_p[f + 1]))
        .sum()
}

impl Pacer for Predictive {
    fn name(&self) -> &'static str {
        "careflow predictive"
    }

    fn calls_to_place(&mut self, v: &View) -> usize {
        // Answer rate: an upper bound while evidence is thin, so a fresh
        // campaign whose customers answer more than expected does not
        // flood its agents; the bound closes on the measured rate.
        let p = answer_rate_bound(v.answered, v.resolved);
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
        if pressure > 1.0 {
            self.share = (self.share * 0.9).max(0.0005);
            self.trust *= 0.9;
        } else if pressure > 0.7 {
            self.share = (self.share * 0.95).max(0.0005);
            self.trust *= 0.98;
        } else if pressure < 0.5 {
            self.share = (self.share * 1.01).min(0.5 * v.cap);
            self.trust = (self.trust + 0.002).min(1.0);
        }
        let free = free_agents(v, self.trust);
        // Calls in flight answer less the longer they have rung; the new
        // ones at the full rate. The answers are then taken as binomial
        // at the mean chance, which slightly overstates their spread.
        let ring = ring_params(v);
        let in_flight: f64 = v
            .ringing_for
            .iter()
            .map(|e| still_answers(p, f64::from(*e), ring))
            .sum();
        let (mut lo, mut hi) = (0usize, 4 * v.agents + 4);
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            let n = v.ringing_for.len() + mid;
            let pn = (in_flight + mid as f64 * p) / n.max(1) as f64;
            if expected_overflow(n, pn, &free) <= self.share * (n as f64 * pn).max(1.0) {
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
        // n = 2, p = 0.5, one free agent: X = 2 with probability 1/4 → overflow 1.
        assert!((expected_overflow(2, 0.5, &[0.0, 1.0]) - 0.25).abs() < 1e-9);
        assert_eq!(expected_overflow(3, 0.5, &[0.0, 0.0, 0.0, 1.0]), 0.0);
    }

    #[test]
    fn progressive_places_one_call_per_idle_agent() {
        // SPEC B-G
        let v = View {
            now: 0,
            agents: 5,
            idle_agents: 3,
            ringing_for: vec![0],
            queued: 0,
            placed: 0,
            resolved: 0,
            answered: 0,
            abandoned: 0,
            recent_answered: 0,
            recent_abandoned: 0,
            cap: 0.03,
            talking_for: vec![],
            wrap_left: vec![],
            handle: None,
            ring: None,
            max_wait: 3,
        };
        assert_eq!(Progressive.calls_to_place(&v), 2);
    }

    fn floor(talking_for: Vec<u32>) -> View {
        View {
            now: 0,
            agents: 10,
            idle_agents: 0,
            ringing_for: vec![],
            queued: 0,
            placed: 1000,
            resolved: 1000,
            answered: 300,
            abandoned: 0,
            recent_answered: 0,
            recent_abandoned: 0,
            cap: 0.03,
            talking_for,
            wrap_left: vec![],
            handle: Some((180.0, 90.0)),
            ring: Some((12.0, 6.0)),
            max_wait: 3,
        }
    }

    #[test]
    fn dials_for_agents_about_to_finish_their_wrap_up() {
        // SPEC B-D: no idle agent, two whose wrap-up ends in 5 s.
        let mut soon = floor(vec![5; 8]);
        soon.wrap_left = vec![2, 2];
        let mut later = floor(vec![5; 8]);
        later.wrap_left = vec![100, 100];
        assert_eq!(
            Predictive::default().calls_to_place(&later),
            0,
            "nobody is free when these calls are answered"
        );
        assert!(
            Predictive::default().calls_to_place(&soon) >= 1,
            "two agents will be free in time"
        );
    }

    #[test]
    fn a_fresh_campaign_starts_close_to_one_call_per_idle_agent() {
        // SPEC B-D: nothing measured yet, so a high answer rate is possible
        // and 100 idle agents must not get 300 calls at once.
        let mut fresh = floor(vec![]);
        fresh.agents = 100;
        fresh.idle_agents = 100;
        (fresh.placed, fresh.resolved, fresh.answered) = (0, 0, 0);
        let n = Predictive::default().calls_to_place(&fresh);
        assert!((100..=120).contains(&n), "{n}");
        let mut measured = fresh.clone();
        (measured.placed, measured.resolved, measured.answered) = (2000, 2000, 300);
        assert!(
            Predictive::default().calls_to_place(&measured) > 3 * n,
            "a measured 15 % answer rate dials ahead"
        );
    }

    #[test]
    fn calls_that_have_rung_long_count_less() {
        // SPEC B-D: ten calls ringing for 30 s have mostly failed already.
        let mut fresh = floor(vec![]);
        fresh.idle_agents = 5;
        fresh.ringing_for = vec![0; 10];
        let mut stale = fresh.clone();
        stale.ringing_for = vec![30; 10];
        let (a, b) = (
            Predictive::default().calls_to_place(&fresh),
            Predictive::default().calls_to_place(&stale),
        );
        assert!(b > a, "stale {b} vs fresh {a}");
        let ring = lognormal_params(12.0, 6.0);
        assert!(still_answers(0.3, 30.0, ring) < 0.05);
        assert!((still_answers(0.3, 0.0, ring) - 0.3).abs() < 1e-9);
    }

    #[test]
    fn the_answer_rate_bound_closes_on_the_measured_rate() {
        assert!(answer_rate_bound(0, 0) > 0.9);
        let b = answer_rate_bound(3000, 10_000);
        assert!(b > 0.3 && b < 0.31, "{b}");
    }

    #[test]
    fn a_talking_agent_is_likelier_to_finish_the_longer_they_have_talked() {
        let early = finishes_within(10.0, 12.0, 180.0, 90.0);
        let late = finishes_within(300.0, 12.0, 180.0, 90.0);
        assert!(early < 0.01 && late > early * 5.0, "{early} {late}");
    }
}
