//! An account's bulk-job queue: its settings and the jobs it holds (the state behind the bulk
//! endpoints of `jobs.rs`).

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::faults::splitmix64;

/// Zendesk's cap on queued or running jobs per account.
pub const MAX_INFLIGHT_JOBS: usize = 30;
/// Items one bulk request may carry.
pub(crate) const MAX_ITEMS: usize = 100;

/// How an account's bulk endpoints behave.
#[derive(Clone, Debug, PartialEq)]
pub struct BulkSettings {
    /// Bulk user import (create_many, create_or_update_many); off in Zendesk until Support
    /// enables it. `update_many` and the organization and membership jobs work either way.
    pub user_import: bool,
    /// How long a job stays `queued` before it runs.
    pub job_delay: Duration,
    /// Probability (0..=1) that a job fails as a whole (`failed`, nothing applied).
    pub job_failure_rate: f64,
    /// Probability (0..=1) that one item fails with a transient error (nothing applied for it).
    pub item_failure_rate: f64,
    pub seed: u64,
}

impl Default for BulkSettings {
    fn default() -> Self {
        BulkSettings {
            user_import: false,
            job_delay: Duration::ZERO,
            job_failure_rate: 0.0,
            item_failure_rate: 0.0,
            seed: 0,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum JobKind {
    UsersCreateOrUpdate,
    UsersCreate,
    UsersUpdate,
    OrganizationsCreate,
    OrganizationsUpdate,
    MembershipsCreate,
    TicketsCreate,
    /// `tickets/update_many` with `{"tickets": [{"id", ...}]}`.
    TicketsUpdate,
    /// `destroy_many`: items are ids, or `{"external_id": ..}` resolved when the job runs.
    UsersDestroy,
    OrganizationsDestroy,
    TicketsDestroy,
    /// `custom_objects/{key}/jobs` with `create_or_update_by_external_id` (record items).
    CustomRecordsUpsert(String),
    /// `custom_objects/{key}/jobs` with `delete_by_external_id` (external id items).
    CustomRecordsDelete(String),
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum JobState {
    Queued,
    Completed(Vec<Value>),
    Failed(String),
}

#[derive(Clone, Debug)]
pub(crate) struct Job {
    pub(crate) id: String,
    pub(crate) kind: JobKind,
    pub(crate) items: Vec<Value>,
    pub(crate) due: Instant,
    pub(crate) state: JobState,
}

/// One account's jobs (kept for the account's lifetime; Zendesk keeps them a day).
#[derive(Clone, Debug, Default)]
pub(crate) struct Jobs {
    pub settings: BulkSettings,
    pub(crate) jobs: Vec<Job>,
    /// Jobs and items drawn so far: the input of the failure decisions.
    draws: u64,
}

impl Jobs {
    pub(crate) fn inflight(&self) -> usize {
        self.jobs
            .iter()
            .filter(|j| j.state == JobState::Queued)
            .count()
    }

    pub(crate) fn draw(&mut self, rate: f64) -> bool {
        self.draws += 1;
        rate > 0.0 && unit(self.settings.seed, self.draws) < rate
    }
}

/// A uniform value in [0, 1) for draw `n` under `seed`.
fn unit(seed: u64, n: u64) -> f64 {
    (splitmix64(seed ^ splitmix64(n)) >> 11) as f64 / (1u64 << 53) as f64
}
