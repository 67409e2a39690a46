//! The carrier's behaviour: the outcome mix, ring and talk time
//! distributions, and a small seeded random source so a run replays.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// What a dialled number does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Answered,
    Busy,
    NoAnswer,
    Voicemail,
    Failed,
}

/// `PUT /sim/carrier`: every field optional, defaults below.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CarrierConfig {
    pub answer_rate: f64,
    pub busy_rate: f64,
    pub voicemail_rate: f64,
    pub failed_rate: f64,
    /// Mean ring time before an answer, busy or voicemail (lognormal).
    pub ring_mean_s: f64,
    /// Ring time of an unanswered call.
    pub no_answer_after_s: f64,
    /// Mean talk time once bridged to an agent (lognormal).
    pub talk_mean_s: f64,
    pub talk_sigma: f64,
    /// How long an IVR scenario plays.
    pub ivr_seconds: f64,
    /// A forced outcome per destination number.
    pub numbers: HashMap<String, Outcome>,
    /// Caller numbers whose originates are refused with 503.
    pub failing_hotlines: Vec<String>,
}

impl Default for CarrierConfig {
    fn default() -> Self {
        Self {
            answer_rate: 0.3,
            busy_rate: 0.1,
            voicemail_rate: 0.05,
            failed_rate: 0.0,
            ring_mean_s: 12.0,
            no_answer_after_s: 25.0,
            talk_mean_s: 180.0,
            talk_sigma: 0.6,
            ivr_seconds: 20.0,
            numbers: HashMap::new(),
            failing_hotlines: Vec::new(),
        }
    }
}

impl CarrierConfig {
    pub fn validate(&self) -> Result<(), (String, String)> {
        let rates = [
            ("answer_rate", self.answer_rate),
            ("busy_rate", self.busy_rate),
            ("voicemail_rate", self.voicemail_rate),
            ("failed_rate", self.failed_rate),
        ];
        for (field, r) in rates {
            if !(0.0..=1.0).contains(&r) {
                return Err((field.into(), "a rate is 0 to 1".into()));
            }
        }
        if rates.iter().map(|(_, r)| r).sum::<f64>() > 1.0 + 1e-9 {
            return Err((
                "answer_rate".into(),
                "the rates add up to more than 1".into(),
            ));
        }
        for (field, v) in [
            ("ring_mean_s", self.ring_mean_s),
            ("no_answer_after_s", self.no_answer_after_s),
            ("talk_mean_s", self.talk_mean_s),
            ("ivr_seconds", self.ivr_seconds),
        ] {
            if !(v > 0.0 && v < 86_400.0) {
                return Err((field.into(), "a duration is above 0 and under a day".into()));
            }
        }
        if !(0.0..=3.0).contains(&self.talk_sigma) {
            return Err(("talk_sigma".into(), "talk_sigma is 0 to 3".into()));
        }
        Ok(())
    }

    /// Draws the outcome of a call to `to`.
    pub fn outcome(&self, to: &str, rng: &mut Rng) -> Outcome {
        if let Some(o) = self.numbers.get(to) {
            return *o;
        }
        let x = rng.uniform();
        let mut edge = self.answer_rate;
        if x < edge {
            return Outcome::Answered;
        }
        edge += self.busy_rate;
        if x < edge {
            return Outcome::Busy;
        }
        edge += self.voicemail_rate;
        if x < edge {
            return Outcome::Voicemail;
        }
        edge += self.failed_rate;
        if x < edge {
            return Outcome::Failed;
        }
        Outcome::NoAnswer
    }
}

/// splitmix64: small, fast and seedable.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Lognormal with the given mean and sigma of the underlying normal.
    pub fn lognormal(&mut self, mean: f64, sigma: f64) -> f64 {
        let u1 = self.uniform().max(f64::MIN_POSITIVE);
        let u2 = self.uniform();
        let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
        let mu = mean.ln() - sigma * sigma / 2.0;
        (mu + sigma * z).exp()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_draws_the_same_outcomes() {
        let c = CarrierConfig::default();
        let draw = |seed| {
            let mut rng = Rng::new(seed);
            (0..50)
                .map(|_| c.outcome("849", &mut rng))
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
    }

    #[test]
    fn outcome_rates_match_the_mix_over_many_draws() {
        let c = CarrierConfig {
            answer_rate: 0.3,
            busy_rate: 0.1,
            voicemail_rate: 0.05,
            ..Default::default()
        };
        let mut rng = Rng::new(1);
        let n = 20_000;
        let answered = (0..n)
            .filter(|_| c.outcome("x", &mut rng) == Outcome::Answered)
            .count();
        let rate = answered as f64 / n as f64;
        assert!((rate - 0.3).abs() < 0.015, "{rate}");
    }

    #[test]
    fn lognormal_draws_have_the_asked_mean() {
        let mut rng = Rng::new(3);
        let n = 50_000;
        let mean = (0..n).map(|_| rng.lognormal(180.0, 0.6)).sum::<f64>() / n as f64;
        assert!((mean - 180.0).abs() < 5.0, "{mean}");
    }

    #[test]
    fn a_forced_number_always_gets_its_outcome() {
        let mut c = CarrierConfig::default();
        c.numbers.insert("84900000001".into(), Outcome::Busy);
        let mut rng = Rng::new(1);
        assert!((0..20).all(|_| c.outcome("84900000001", &mut rng) == Outcome::Busy));
    }

    #[test]
    fn refuses_rates_that_add_up_past_one() {
        let c = CarrierConfig {
            answer_rate: 0.8,
            busy_rate: 0.3,
            ..Default::default()
        };
        assert_eq!(c.validate().unwrap_err().0, "answer_rate");
    }
}
