//! `transform_batch`: many messages of one config in one call, on Zendesk's bulk endpoints.
//!
//! The work is grouped by object: field definitions, then organizations, then users, then
//! memberships (each in requests of at most 100 items, jobs polled together), and last, one by
//! one through [`crate::transform`] in input order, everything the bulk endpoints cannot express
//! (tracks, tickets, records, audiences, an identify that changes a primary email or leaves an
//! organization, a group whose user is not known yet). Events of one person keep their order:
//! once one of them must run alone, the person's later events run alone too, and an event whose
//! earlier sibling failed in the bulk part is held back as retryable.

mod custom_objects;
mod deletes;
mod jobs;
mod lookup;
mod memberships;
mod organizations;
mod plan;
mod tickets;
mod users;

use std::collections::HashSet;

use crate::client::Client;
use crate::config::Config;
use crate::host::Host;
use crate::outcome::{Error, Operation, Outcome};

/// The most events one call takes: one bulk request's worth, which keeps a batch inside the
/// per-call limits a host sets for single events (even when every event must run alone).
pub const MAX_BATCH_SIZE: usize = 100;

/// How long a 403 from bulk user import keeps this tenant on the fallback.
const BULK_OFF_TTL_SECONDS: u32 = 86_400;

pub fn transform_batch(
    host: &dyn Host,
    config_text: &str,
    events: &[String],
) -> Result<Vec<Result<Outcome, Error>>, Error> {
    if events.len() > MAX_BATCH_SIZE {
        return Err(Error::InvalidEvent(format!(
            "a batch takes at most {MAX_BATCH_SIZE} events; this one has {}",
            events.len()
        )));
    }
    let config = Config::parse_for_calls(config_text)?;
    let mut client = Client::new(host, &config);
    let mut plan = plan::Plan::classify(&client, &config, config_text, events);
    let mut batch = Batch::new(events.len());
    for (index, result) in plan.settled.drain(..) {
        batch.settle(index, result);
    }
    let mut jobs = jobs::Jobs::default();
    let org_ids = organizations::upsert(&mut client, &mut jobs, &mut batch, &plan.organizations)?;
    let user_ids = users::upsert(&mut client, &mut jobs, &mut batch, &plan.users)?;
    let (wanted, orphans) = plan.memberships(&user_ids, &org_ids);
    let unmade = Error::Retryable {
        message: "its user or organization failed in this batch: the membership is not made yet"
            .into(),
        retry_after_seconds: None,
    };
    batch.fail(&orphans, &unmade);
    memberships::add(&mut client, &mut jobs, &mut batch, &wanted)?;
    tickets::sync(
        &mut client,
        &mut jobs,
        &mut batch,
        config.sync.sync_mode,
        &plan.tickets,
    )?;
    deletes::destroy(&mut client, &mut jobs, &mut batch, &plan.deletes)?;
    if let Some(key) = config.sync.custom_object_key.as_deref() {
        custom_objects::sync(
            &mut client,
            &mut jobs,
            &mut batch,
            key,
            &plan.custom_records,
        )?;
    }
    for fingerprint in plan.fingerprints.iter() {
        if batch.succeeded(fingerprint.0) {
            fingerprint.1.remember(host);
        }
    }
    // Everything else, one by one, in input order.
    let mut failed_people: HashSet<String> = HashSet::new();
    for index in 0..events.len() {
        let person = plan.person_of(index).map(str::to_string);
        if batch.is_failed(index) {
            failed_people.extend(person);
            continue;
        }
        let Some(message) = plan.take_alone(index) else {
            continue;
        };
        if let Some(person) = person.as_ref().filter(|p| failed_people.contains(*p)) {
            batch.settle(index, Err(held_back(person)));
            continue;
        }
        let result = crate::deliver(host, &config, config_text, message);
        if result.is_err() {
            failed_people.extend(person);
        }
        batch.settle(index, result);
    }
    Ok(batch.finish())
}

fn held_back(person: &str) -> Error {
    Error::Retryable {
        message: format!("held back: an earlier event of `{person}` in the batch failed"),
        retry_after_seconds: None,
    }
}

/// The batch's results as they are decided, and the calls made for each event.
pub(crate) struct Batch {
    results: Vec<Option<Result<(), Error>>>,
    /// Why a bulk event that succeeded changed nothing (a record that was gone).
    skipped: Vec<Option<String>>,
    alone: Vec<Option<Result<Outcome, Error>>>,
    operations: Vec<Vec<Operation>>,
}

impl Batch {
    fn new(len: usize) -> Batch {
        Batch {
            results: vec![None; len],
            skipped: vec![None; len],
            alone: vec![None; len],
            operations: vec![Vec::new(); len],
        }
    }

    /// An event handled outside the bulk part (on its own, or skipped or invalid).
    fn settle(&mut self, index: usize, result: Result<Outcome, Error>) {
        self.alone[index] = Some(result);
    }

    /// Records an error for `events` (the first error an event gets is the one it keeps).
    pub fn fail(&mut self, events: &[usize], error: &Error) {
        for &index in events {
            if !matches!(self.results[index], Some(Err(_))) {
                self.results[index] = Some(Err(error.clone()));
            }
        }
    }

    /// Marks `events` as having done their part in a bulk step.
    pub fn succeed(&mut self, events: &[usize]) {
        for &index in events {
            self.results[index].get_or_insert(Ok(()));
        }
    }

    /// Marks a bulk event done without a change, for `reason`.
    pub fn skip(&mut self, index: usize, reason: String) {
        self.succeed(&[index]);
        self.skipped[index] = Some(reason);
    }

    pub fn is_failed(&self, index: usize) -> bool {
        matches!(self.results[index], Some(Err(_)))
    }

    fn succeeded(&self, index: usize) -> bool {
        matches!(self.results[index], Some(Ok(())))
    }

    /// Runs one step's requests for `events`, which get the calls it made. When it fails, they
    /// fail (a 401 fails the whole batch: `Err`) and the answer is `Ok(None)`.
    pub fn run_for<T>(
        &mut self,
        client: &mut Client,
        events: &[usize],
        step: impl FnOnce(&mut Client) -> Result<T, Error>,
    ) -> Result<Option<T>, Error> {
        let mark = client.operations().len();
        let result = step(client);
        self.attribute(client, mark, events);
        match result {
            Ok(value) => Ok(Some(value)),
            Err(error) => self.fail_or_abort(events, error).map(|()| None),
        }
    }

    /// Fails `events` with `error`; a 401 (the credentials) fails the whole batch instead.
    pub fn fail_or_abort(&mut self, events: &[usize], error: Error) -> Result<(), Error> {
        if matches!(error, Error::Rejected { status: 401, .. }) {
            return Err(error);
        }
        self.fail(events, &error);
        Ok(())
    }

    /// Gives `events` the calls made since `mark` (a bulk request serves them all).
    pub fn attribute(&mut self, client: &Client, mark: usize, events: &[usize]) {
        let calls = &client.operations()[mark..];
        for &index in events {
            self.operations[index].extend(calls.iter().cloned());
        }
    }

    fn finish(self) -> Vec<Result<Outcome, Error>> {
        self.results
            .into_iter()
            .zip(self.alone)
            .zip(self.operations)
            .zip(self.skipped)
            .map(
                |(((bulk, alone), operations), skipped)| match (alone, bulk) {
                    (Some(result), _) => result,
                    (None, Some(Err(error))) => Err(error),
                    (None, _) => Ok(Outcome {
                        operations,
                        skipped,
                    }),
                },
            )
            .collect()
    }
}

/// Remembers (per tenant) that bulk user import is off, so later batches go straight to the
/// fallback. True the first time, so the caller reports it once.
fn remember_bulk_off(client: &Client) -> bool {
    let first = client.cache_get(BULK_OFF_KEY).is_none();
    client.cache_set(BULK_OFF_KEY, "1", BULK_OFF_TTL_SECONDS);
    first
}

fn bulk_is_off(client: &Client) -> bool {
    client.cache_get(BULK_OFF_KEY).is_some()
}

const BULK_OFF_KEY: &str = "bulk:users:off";
