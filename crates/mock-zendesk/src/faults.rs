//! Deterministic fault injection: which request gets which fault is a pure function of the seed
//! and the request's arrival number, so a run with the same seed and order fails the same way.

use std::fmt;
use std::str::FromStr;

/// A fault the mock can inject instead of (or, for `Slow`, before) the normal answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// 429 with `Retry-After`.
    RateLimited,
    /// 500.
    ServerError,
    /// 503 with `Retry-After`.
    Unavailable,
    /// 409 (concurrent write to the same resource).
    Conflict,
    /// Sleep `slow_ms`, then answer normally.
    Slow,
}

impl FaultKind {
    pub const ALL: [FaultKind; 5] = [
        FaultKind::RateLimited,
        FaultKind::ServerError,
        FaultKind::Unavailable,
        FaultKind::Conflict,
        FaultKind::Slow,
    ];

    /// The token used in fault specs and in `RecordedRequest::fault`.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::RateLimited => "429",
            FaultKind::ServerError => "500",
            FaultKind::Unavailable => "503",
            FaultKind::Conflict => "409",
            FaultKind::Slow => "slow",
        }
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for FaultKind {
    type Err = String;

    fn from_str(token: &str) -> Result<Self, Self::Err> {
        match token.trim().to_ascii_lowercase().as_str() {
            "429" | "rate_limited" => Ok(FaultKind::RateLimited),
            "500" | "server_error" => Ok(FaultKind::ServerError),
            "503" | "unavailable" => Ok(FaultKind::Unavailable),
            "409" | "conflict" => Ok(FaultKind::Conflict),
            "slow" => Ok(FaultKind::Slow),
            other => Err(format!(
                "unknown fault kind `{other}` (expected one of 429, 500, 503, 409, slow)"
            )),
        }
    }
}

/// Fault-injection settings. `rate` is the probability (0..=1) that a request is faulted; the kind
/// is then picked uniformly from `kinds`.
#[derive(Clone, Debug, PartialEq)]
pub struct Faults {
    pub rate: f64,
    pub seed: u64,
    pub kinds: Vec<FaultKind>,
    pub retry_after_seconds: u32,
    pub slow_ms: u64,
}

impl Faults {
    /// No faults at all.
    pub fn none() -> Self {
        Faults {
            rate: 0.0,
            seed: 0,
            kinds: Vec::new(),
            retry_after_seconds: 1,
            slow_ms: 200,
        }
    }

    /// The fault (if any) for the `n`-th request since these faults were set.
    pub(crate) fn decide(&self, n: u64) -> Option<FaultKind> {
        if self.kinds.is_empty() || self.rate <= 0.0 {
            return None;
        }
        let roll = splitmix64(self.seed ^ splitmix64(n));
        // The top 53 bits give a uniform f64 in [0, 1).
        let unit = (roll >> 11) as f64 / (1u64 << 53) as f64;
        if unit >= self.rate {
            return None;
        }
        let pick = splitmix64(roll) % self.kinds.len() as u64;
        self.kinds.get(pick as usize).copied()
    }
}

impl Default for Faults {
    fn default() -> Self {
        Faults::none()
    }
}

/// splitmix64: a tiny, well-distributed mixing function (Steele, Lea, Flood 2014).
pub(crate) fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Parses `rate=0.3,seed=7,kinds=429|500|503|409|slow,retry_after=1,slow_ms=200`.
/// Omitted keys default to rate 0.2, seed 0, kinds 429|500|503|409 (no `slow`: it only costs
/// time), retry_after 1, slow_ms 200. An empty spec or `none` means no faults.
impl FromStr for Faults {
    type Err = String;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let spec = spec.trim();
        if spec.is_empty() || spec.eq_ignore_ascii_case("none") {
            return Ok(Faults::none());
        }
        let mut faults = Faults {
            rate: 0.2,
            kinds: vec![
                FaultKind::RateLimited,
                FaultKind::ServerError,
                FaultKind::Unavailable,
                FaultKind::Conflict,
            ],
            ..Faults::none()
        };
        for pair in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| format!("fault spec item `{pair}` is not key=value"))?;
            let (key, value) = (key.trim(), value.trim());
            match key {
                "rate" => {
                    let rate: f64 = parse_number(key, value)?;
                    if !(0.0..=1.0).contains(&rate) {
                        return Err(format!("rate must be between 0 and 1, got {value}"));
                    }
                    faults.rate = rate;
                }
                "seed" => faults.seed = parse_number(key, value)?,
                "kinds" => {
                    faults.kinds = value
                        .split('|')
                        .map(str::parse)
                        .collect::<Result<Vec<FaultKind>, String>>()?;
                }
                "retry_after" => faults.retry_after_seconds = parse_number(key, value)?,
                "slow_ms" => faults.slow_ms = parse_number(key, value)?,
                other => {
                    return Err(format!(
                        "unknown fault spec key `{other}` (expected rate, seed, kinds, retry_after, slow_ms)"
                    ));
                }
            }
        }
        Ok(faults)
    }
}

fn parse_number<T: FromStr>(key: &str, value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("{key} must be a non-negative number, got `{value}`"))
}
