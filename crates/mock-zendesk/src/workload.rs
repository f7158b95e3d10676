//! The standard workload: a seeded stream of CDP events shaped like a product's traffic, for
//! benchmarks and for tests that compare delivery modes.
//!
//! 40% identify (a quarter of them unchanged repeats of the user's previous identify, as web SDKs
//! send on every page load), 50% track, 10% group. Tracks and groups name users that were
//! identified before, so every event can be delivered; each user belongs to one organization.

use serde_json::{Value, json};

use crate::faults::splitmix64;

/// The shape of the stream.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct StandardStream {
    pub events: usize,
    pub users: usize,
    pub organizations: usize,
    pub seed: u64,
}

impl Default for StandardStream {
    fn default() -> Self {
        StandardStream {
            events: 10_000,
            users: 1_000,
            organizations: 100,
            seed: 7,
        }
    }
}

const PLANS: [&str; 3] = ["free", "pro", "enterprise"];
const TRACKS: [&str; 3] = ["Page Viewed", "Signed In", "Order Completed"];

impl StandardStream {
    /// The events, in order (`messageId`s `m0`, `m1`...).
    pub fn generate(&self) -> Vec<Value> {
        let mut rng = Rng(self.seed);
        let mut last_traits: Vec<Option<Value>> = vec![None; self.users.max(1)];
        let mut identified: Vec<usize> = Vec::new();
        let mut logins = 0u64;
        (0..self.events)
            .map(|i| {
                let message_id = format!("m{i}");
                let roll = rng.unit();
                let known =
                    (!identified.is_empty()).then(|| identified[rng.below(identified.len())]);
                match (roll, known) {
                    (r, Some(user)) if (0.4..0.9).contains(&r) => json!({"type": "track",
                        "userId": user_id(user), "messageId": message_id,
                        "event": TRACKS[rng.below(TRACKS.len())],
                        "properties": {"n": i}}),
                    (r, Some(user)) if r >= 0.9 => {
                        let org = user % self.organizations.max(1);
                        json!({"type": "group", "userId": user_id(user), "messageId": message_id,
                            "groupId": format!("g{org}"),
                            "traits": {"name": format!("Org {org}"), "tier": PLANS[org % 3]}})
                    }
                    _ => {
                        // A repeat names a user identified before; a change, any user.
                        let (user, repeat) = match (known, rng.unit() < 0.25) {
                            (Some(user), true) => (user, true),
                            _ => (rng.below(self.users.max(1)), false),
                        };
                        let traits = match (&last_traits[user], repeat) {
                            (Some(previous), true) => previous.clone(),
                            _ => {
                                logins += 1;
                                json!({"name": format!("User {user}"),
                                    "email": format!("u{user}@example.com"),
                                    "plan": PLANS[rng.below(PLANS.len())], "logins": logins})
                            }
                        };
                        last_traits[user] = Some(traits.clone());
                        if !identified.contains(&user) {
                            identified.push(user);
                        }
                        json!({"type": "identify", "userId": user_id(user),
                            "messageId": message_id, "traits": traits})
                    }
                }
            })
            .collect()
    }
}

fn user_id(user: usize) -> String {
    format!("u{user}")
}

/// A tiny deterministic generator (splitmix64 steps).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(1);
        splitmix64(self.0)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_is_as_documented_and_reproducible() {
        let stream = StandardStream::default();
        let events = stream.generate();
        assert_eq!(events, stream.generate());
        let count = |kind: &str| events.iter().filter(|e| e["type"] == kind).count();
        let (identify, track, group) = (count("identify"), count("track"), count("group"));
        assert_eq!(identify + track + group, 10_000);
        assert!((3_800..4_200).contains(&identify), "{identify}");
        assert!((4_800..5_200).contains(&track), "{track}");
        assert!((900..1_100).contains(&group), "{group}");
        // A quarter of the identifies repeat the user's previous one exactly.
        let mut last = std::collections::HashMap::new();
        let mut repeats = 0;
        for event in events.iter().filter(|e| e["type"] == "identify") {
            let previous = last.insert(event["userId"].clone(), event["traits"].clone());
            repeats += usize::from(previous.as_ref() == Some(&event["traits"]));
        }
        assert!(
            (900..1_100).contains(&repeats),
            "{repeats} repeats of {identify}"
        );
    }
}
