//! Zendesk's asynchronous bulk jobs: submitting one (within the account's in-flight job cap),
//! polling several at once with `job_statuses/show_many`, and reading each item's result by
//! `index`.

use std::collections::HashMap;

use serde_json::Value;

use super::Batch;
use crate::client::{Client, encode};
use crate::outcome::Error;

/// The first polls come quickly (a small job is often done at once), then back off.
const POLL_DELAYS_MS: [u32; 6] = [0, 250, 500, 1_000, 2_000, 4_000];

/// Item error codes that mean the item itself is wrong: retrying cannot help.
const PERMANENT_ITEM_ERRORS: &[&str] = &[
    "BlankValue",
    "DuplicateValue",
    "InvalidFormat",
    "InvalidValue",
    "PermissionDenied",
    "RecordInvalid",
    "RecordNotFound",
    "TakenValue",
    "TooLong",
];

/// One item's result in a finished job.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// Created, updated or deleted: the record's id.
    Saved(u64),
    /// Done, for a record whose id is not a number (custom object records).
    Done,
    /// Zendesk's error code and details.
    Failed { error: String, details: String },
}

impl Item {
    /// Whether the item failed because the record already exists (a taken name, a membership
    /// that is already there).
    pub fn is_duplicate(&self) -> bool {
        matches!(self, Item::Failed { error, details }
            if error == "DuplicateValue" || error == "TakenValue"
                || details.to_ascii_lowercase().contains("already"))
    }

    /// The record's id, or the event's error for a failed item.
    pub fn into_id(self, what: &str) -> Result<u64, Error> {
        match self {
            Item::Saved(id) => Ok(id),
            Item::Done => Err(Error::Retryable {
                message: format!("{what}: its bulk job reported no id for it"),
                retry_after_seconds: None,
            }),
            failed => Err(failed.error(what).expect("a failed item has an error")),
        }
    }

    /// The event's error for a failed item (`what` names the item, e.g. `user u1`).
    pub fn error(&self, what: &str) -> Option<Error> {
        let Item::Failed { error, details } = self else {
            return None;
        };
        Some(if PERMANENT_ITEM_ERRORS.contains(&error.as_str()) {
            Error::Rejected {
                status: 422,
                message: format!("{what} was refused in its bulk job: {error}: {details}"),
            }
        } else {
            Error::Retryable {
                message: format!("{what} failed in its bulk job ({error}: {details})"),
                retry_after_seconds: None,
            }
        })
    }
}

/// How a job ended, as far as this call saw.
#[derive(Debug, Clone, PartialEq)]
pub enum JobEnd {
    /// One entry per submitted item, by `index` (`None`: Zendesk reported nothing for it).
    Completed(Vec<Option<Item>>),
    /// The whole job failed (nothing to trust of it).
    Failed(String),
    /// Still queued or working when the call ran out of time.
    Unfinished,
}

impl JobEnd {
    /// What happened to item `index` (of `what`): its id, or the event's error.
    pub fn item(&self, index: usize, what: &str) -> Result<&Item, Error> {
        match self {
            JobEnd::Completed(items) => {
                items
                    .get(index)
                    .and_then(Option::as_ref)
                    .ok_or_else(|| Error::Retryable {
                        message: format!("{what}: its bulk job reported no result for it"),
                        retry_after_seconds: None,
                    })
            }
            JobEnd::Failed(message) => Err(Error::Retryable {
                message: format!("{what}: its bulk job failed ({message})"),
                retry_after_seconds: None,
            }),
            JobEnd::Unfinished => Err(Error::Retryable {
                message: format!("{what}: its bulk job had not finished within the call"),
                retry_after_seconds: None,
            }),
        }
    }
}

/// One item of a step (its index) and what became of it.
pub type ItemResult = (usize, Result<Item, Error>);

/// The jobs of one step, each with the indexes of the step's items it carries.
#[derive(Default)]
pub struct Submitted(Vec<(String, Vec<usize>)>);

impl Submitted {
    pub fn push(&mut self, job: String, items: Vec<usize>) {
        self.0.push((job, items));
    }

    /// Every item carried, in submission order.
    pub fn items(&self) -> Vec<usize> {
        self.0.iter().flat_map(|(_, items)| items.clone()).collect()
    }
}

/// One bulk step of a batch: the jobs it submits, polled together, and the events each of its
/// items stands for (which get the step's calls, and its failures).
pub struct Step<'s> {
    jobs: &'s mut Jobs,
    batch: &'s mut Batch,
    events_of: &'s dyn Fn(&[usize]) -> Vec<usize>,
    mark: usize,
    submitted: Submitted,
}

impl<'s> Step<'s> {
    /// A step whose calls start now.
    pub fn new(
        jobs: &'s mut Jobs,
        batch: &'s mut Batch,
        client: &Client,
        events_of: &'s dyn Fn(&[usize]) -> Vec<usize>,
    ) -> Step<'s> {
        Step {
            jobs,
            batch,
            events_of,
            mark: client.operations().len(),
            submitted: Submitted::default(),
        }
    }

    /// Submits one job carrying `items` (the step's item indexes); a refused job fails their
    /// events (a 401 fails the batch: `Err`).
    pub fn submit(
        &mut self,
        client: &mut Client,
        method: &str,
        path: &str,
        body: Option<&Value>,
        items: Vec<usize>,
    ) -> Result<(), Error> {
        match self.jobs.submit(client, method, path, body) {
            Ok(job) => {
                self.submitted.push(job, items);
                Ok(())
            }
            Err(error) => self.batch.fail_or_abort(&(self.events_of)(&items), error),
        }
    }

    /// Polls the step's jobs: each item's result, or `None` when polling itself failed (the
    /// items' events then have its error). Their events get the step's calls either way.
    pub fn results(
        self,
        client: &mut Client,
        name: impl Fn(usize) -> String,
    ) -> Result<Option<Vec<ItemResult>>, Error> {
        let polled = self.jobs.results(client, &self.submitted, name);
        let events = (self.events_of)(&self.submitted.items());
        self.batch.attribute(client, self.mark, &events);
        match polled {
            Ok(results) => Ok(Some(results)),
            Err(error) => self.batch.fail_or_abort(&events, error).map(|()| None),
        }
    }
}

/// The jobs one call submits.
#[derive(Default)]
pub struct Jobs {
    /// How many more jobs the account may queue, from the last answer that said so.
    remaining: Option<u32>,
}

impl Jobs {
    /// Submits a bulk request (`body` holds at most 100 items); the job's id. A full job queue
    /// (`Zendesk-RateLimit-inflight-jobs` at 0, or TooManyJobs) is retryable.
    pub fn submit(
        &mut self,
        client: &mut Client,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<String, Error> {
        if self.remaining == Some(0) {
            return Err(Error::Retryable {
                message: "Zendesk's job queue for the account is full (30 jobs in flight)".into(),
                retry_after_seconds: Some(5),
            });
        }
        let reply = client.send(method, path, body)?;
        if let Some(remaining) = reply.inflight_jobs_remaining {
            self.remaining = Some(remaining);
        }
        if !reply.is_success() {
            return Err(reply.into_error());
        }
        reply
            .json()?
            .pointer("/job_status/id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| crate::client::unexpected(200, &format!("no `job_status.id` ({path})")))
    }

    /// Polls a step's jobs together: each item's result (its job's failure for all of its items),
    /// in submission order. `Err` when polling itself failed.
    pub fn results(
        &mut self,
        client: &mut Client,
        submitted: &Submitted,
        name: impl Fn(usize) -> String,
    ) -> Result<Vec<ItemResult>, Error> {
        let ids: Vec<String> = submitted.0.iter().map(|(id, _)| id.clone()).collect();
        let ends = self.wait_all(client, &ids)?;
        let mut results = Vec::new();
        for (job, items) in &submitted.0 {
            let end = ends.get(job).unwrap_or(&JobEnd::Unfinished);
            for (position, &item) in items.iter().enumerate() {
                results.push((item, end.item(position, &name(item)).cloned()));
            }
        }
        Ok(results)
    }

    /// Polls `ids` together until every job finished or the call has no time left to wait.
    fn wait_all(
        &mut self,
        client: &mut Client,
        ids: &[String],
    ) -> Result<HashMap<String, JobEnd>, Error> {
        let mut ends: HashMap<String, JobEnd> = HashMap::new();
        for delay in POLL_DELAYS_MS.iter().chain(std::iter::repeat(&4_000)) {
            let pending: Vec<&String> = ids.iter().filter(|id| !ends.contains_key(*id)).collect();
            if pending.is_empty() || (*delay > 0 && !client.wait(*delay)) {
                break;
            }
            for chunk in pending.chunks(100) {
                let list: Vec<String> = chunk.iter().map(|id| encode(id)).collect();
                let path = format!("/api/v2/job_statuses/show_many?ids={}", list.join(","));
                let answer = client.call("GET", &path, None)?;
                for status in answer["job_statuses"].as_array().into_iter().flatten() {
                    if let (Some(id), Some(end)) = (status["id"].as_str(), finished(status)) {
                        ends.insert(id.to_string(), end);
                        // A finished job of ours frees a place in the account's queue.
                        self.remaining = self.remaining.map(|r| r.saturating_add(1));
                    }
                }
            }
        }
        for id in ids {
            ends.entry(id.clone()).or_insert(JobEnd::Unfinished);
        }
        Ok(ends)
    }
}

/// A job status's end, `None` while it is queued or working.
fn finished(status: &Value) -> Option<JobEnd> {
    match status["status"].as_str()? {
        "completed" => {
            let total = status["total"].as_u64().unwrap_or(0) as usize;
            let mut items = vec![None; total];
            // By `index`; results without one (destroy_many's, in Zendesk's examples) are taken
            // to be in item order.
            let results = status["results"].as_array().into_iter().flatten();
            for (position, result) in results.enumerate() {
                let index = result["index"].as_u64().map_or(position, |i| i as usize);
                if index >= items.len() {
                    items.resize(index + 1, None);
                }
                items[index] = Some(item(result));
            }
            Some(JobEnd::Completed(items))
        }
        "failed" | "killed" => Some(JobEnd::Failed(
            status["message"]
                .as_str()
                .unwrap_or("no message")
                .to_string(),
        )),
        _ => None,
    }
}

fn item(result: &Value) -> Item {
    let success = result["success"]
        .as_bool()
        .unwrap_or(result["error"].is_null());
    match (success, result["id"].as_u64(), result["id"].is_string()) {
        (true, Some(id), _) => Item::Saved(id),
        (true, None, true) => Item::Done,
        _ => Item::Failed {
            error: result["error"].as_str().unwrap_or("Failed").to_string(),
            details: match &result["details"] {
                Value::String(details) => details.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn results_are_read_by_index() {
        let status = json!({"id": "j", "status": "completed", "total": 3, "results": [
            {"index": 2, "id": 7, "status": "Created", "success": true},
            {"index": 0, "status": "Failed", "success": false, "error": "InvalidFormat",
                "details": "Email: x is not properly formatted"}]});
        let Some(JobEnd::Completed(items)) = finished(&status) else {
            panic!("completed")
        };
        assert_eq!(items[2], Some(Item::Saved(7)));
        assert_eq!(items[1], None);
        let end = JobEnd::Completed(items);
        assert!(matches!(end.item(0, "user a").unwrap().error("user a"),
            Some(Error::Rejected { status: 422, message }) if message.contains("InvalidFormat")));
        assert!(matches!(
            end.item(1, "user b"),
            Err(Error::Retryable { .. })
        ));
        assert_eq!(finished(&json!({"status": "working"})), None);
        assert_eq!(
            finished(&json!({"status": "failed", "message": "boom"})),
            Some(JobEnd::Failed("boom".into()))
        );
    }

    #[test]
    fn unknown_item_errors_are_retryable() {
        let item = Item::Failed {
            error: "InternalError".into(),
            details: "please retry".into(),
        };
        assert!(matches!(
            item.error("user a"),
            Some(Error::Retryable { .. })
        ));
        assert!(!item.is_duplicate());
    }
}
