//! Bulk endpoints and their background jobs: `users/create_or_update_many|create_many|update_many`,
//! `organizations/create_many|update_many`, `organization_memberships/create_many`,
//! `users|organizations|tickets/destroy_many` (`?ids=` or, but for tickets, `?external_ids=`;
//! results `{"index", "id", "action": "delete", "status": "Deleted", "success": true}`), and
//! `job_statuses/{id}|show_many`.
//!
//! As in Zendesk, a bulk request only queues a job and answers its `job_status` (`queued`); the
//! job runs once its delay has passed (on the account's next request), item by item through the
//! same handlers as the single endpoints, and its status then carries one result per item keyed
//! by `index` (`id`, `status`, `success`, or `error` and `details`). Settings per account
//! ([`BulkSettings`]): bulk user import (off by default: 403), the job delay, and deterministic
//! whole-job and per-item failures. At most [`MAX_INFLIGHT_JOBS`] jobs may be queued at once
//! (TooManyJobs); every bulk answer says how many remain in `Zendesk-RateLimit-inflight-jobs`.

use std::time::Instant;

use serde_json::{Map, Value, json};

use crate::account::{Account, Call};
use crate::faults::splitmix64;
use crate::http::{Handled, Query, Response, bad_request};
use crate::job_queue::{Job, JobKind, JobState, Jobs, MAX_INFLIGHT_JOBS, MAX_ITEMS};
use crate::{custom_objects, deletes, memberships, organizations, tickets, users};

/// Runs every queued job of the account whose delay has passed, oldest first.
pub(crate) fn run_due(account: &mut Account) {
    let now = Instant::now();
    while let Some(index) = account
        .jobs
        .jobs
        .iter()
        .position(|j| j.state == JobState::Queued && j.due <= now)
    {
        let job = account.jobs.jobs[index].clone();
        let state = if account.jobs.draw(account.jobs.settings.job_failure_rate) {
            JobState::Failed("Job failed: an internal error occurred, please retry".into())
        } else {
            JobState::Completed(run(account, &job))
        };
        account.jobs.jobs[index].state = state;
    }
}

fn run(account: &mut Account, job: &Job) -> Vec<Value> {
    job.items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            if account.jobs.draw(account.jobs.settings.item_failure_rate) {
                return failed(index, "InternalError", "Could not be saved, please retry");
            }
            let (answer, key) = apply(account, &job.kind, item);
            match answer {
                Ok(response) if key == DELETED => {
                    let id = response.json_body()[key]["id"].clone();
                    json!({"index": index, "id": id, "success": true, "action": "delete",
                        "status": "Deleted"})
                }
                Ok(response) => {
                    let created = response.status == 201;
                    let id = response.json_body()[key]["id"].clone();
                    json!({"index": index, "id": id, "success": true,
                        "action": if created { "create" } else { "update" },
                        "status": if created { "Created" } else { "Updated" }})
                }
                Err(response) => {
                    let body = response.json_body();
                    let (error, details) = first_error(&body);
                    failed(index, &error, &details)
                }
            }
        })
        .collect()
}

/// One item through the single endpoint's handler: (its answer, the answer's object key).
fn apply(account: &mut Account, kind: &JobKind, item: &Value) -> (Handled, &'static str) {
    let call = |account, key: &str, item: &Value| Call {
        account,
        query: Query::default(),
        body: Some(json!({ key: item })),
    };
    let without_id = |item: &Value| -> (Option<u64>, Value) {
        let mut attrs = item.as_object().cloned().unwrap_or_default();
        let id = attrs.remove("id").and_then(|id| id.as_u64());
        (id, Value::Object(attrs))
    };
    match kind {
        JobKind::UsersCreateOrUpdate => {
            (users::create_or_update(call(account, "user", item)), "user")
        }
        JobKind::UsersCreate => (users::create_only(call(account, "user", item)), "user"),
        JobKind::UsersUpdate => {
            let (id, attrs) = without_id(item);
            let answer = match id {
                Some(id) => users::update_by_id(call(account, "user", &attrs), id),
                None => Err(missing_id()),
            };
            (answer, "user")
        }
        JobKind::OrganizationsCreate => (
            organizations::create_only(call(account, "organization", item)),
            "organization",
        ),
        JobKind::OrganizationsUpdate => {
            let (id, attrs) = without_id(item);
            let answer = match id {
                Some(id) => organizations::update_by_id(call(account, "organization", &attrs), id),
                None => Err(missing_id()),
            };
            (answer, "organization")
        }
        JobKind::MembershipsCreate => (
            memberships::create(call(account, "organization_membership", item), None),
            "organization_membership",
        ),
        JobKind::TicketsCreate => (tickets::create(call(account, "ticket", item)), "ticket"),
        JobKind::TicketsUpdate => {
            let (id, attrs) = without_id(item);
            let answer = match id {
                Some(id) => tickets::update(call(account, "ticket", &attrs), id),
                None => Err(missing_id()),
            };
            (answer, "ticket")
        }
        JobKind::CustomRecordsUpsert(object) => {
            let mut record = item.as_object().cloned().unwrap_or_default();
            let external_id = record.remove("external_id");
            let call = Call {
                account,
                query: external_id_query(external_id.as_ref()),
                body: Some(json!({ "custom_object_record": record })),
            };
            (
                custom_objects::upsert_record(call, object),
                "custom_object_record",
            )
        }
        JobKind::CustomRecordsDelete(object) => {
            let call = Call {
                account,
                query: external_id_query(Some(item)),
                body: None,
            };
            let answer = custom_objects::delete_by_external_id(call, object);
            let id = answer.as_ref().map(|_| item.clone()).unwrap_or_default();
            (
                answer.map(|_| Response::json(200, &json!({ DELETED: {"id": id} }))),
                DELETED,
            )
        }
        JobKind::UsersDestroy | JobKind::OrganizationsDestroy | JobKind::TicketsDestroy => {
            let answer = match destroyed_id(account, kind, item) {
                None => Err(crate::http::record_not_found()),
                Some(id) => {
                    let call = Call {
                        account,
                        query: Query::default(),
                        body: None,
                    };
                    let deleted = match kind {
                        JobKind::UsersDestroy => deletes::user(call, id),
                        JobKind::OrganizationsDestroy => deletes::organization(call, id),
                        _ => deletes::ticket(call, id),
                    };
                    deleted.map(|_| Response::json(200, &json!({ DELETED: {"id": id} })))
                }
            };
            (answer, DELETED)
        }
    }
}

/// `external_id=<value>` (a string value), as the single endpoints take it.
fn external_id_query(value: Option<&Value>) -> Query {
    let value = value.and_then(Value::as_str).unwrap_or_default();
    Query::parse(&format!(
        "external_id={}",
        crate::http::encode_query_value(value)
    ))
}

/// The answer key of a destroy item (its answer has no object to read).
const DELETED: &str = "deleted";

/// The id a destroy item names, if that record exists (ids are checked, external ids resolved).
fn destroyed_id(account: &Account, kind: &JobKind, item: &Value) -> Option<u64> {
    let data = &account.data;
    if let Some(id) = item.as_u64() {
        let exists = match kind {
            JobKind::UsersDestroy => data.user(id).is_some(),
            JobKind::OrganizationsDestroy => data.organization(id).is_some(),
            _ => data.ticket(id).is_some(),
        };
        return exists.then_some(id);
    }
    let external_id = item["external_id"].as_str()?;
    match kind {
        JobKind::UsersDestroy => data.user_by_external_id(external_id).map(|u| u.id),
        JobKind::OrganizationsDestroy => data
            .organizations
            .iter()
            .find(|o| {
                (o.external_id.as_deref()).is_some_and(|e| e.eq_ignore_ascii_case(external_id))
            })
            .map(|o| o.id),
        _ => None,
    }
}

fn missing_id() -> Response {
    crate::http::record_invalid("id", "Id cannot be blank", "BlankValue")
}

fn failed(index: usize, error: &str, details: &str) -> Value {
    json!({"index": index, "status": "Failed", "success": false, "error": error, "details": details})
}

/// The first field error of a Zendesk error body: (code, description).
fn first_error(body: &Value) -> (String, String) {
    let field_error = body["details"]
        .as_object()
        .and_then(|details| details.values().next())
        .and_then(|errors| errors.get(0));
    match field_error {
        Some(e) => (
            e["error"].as_str().unwrap_or("RecordInvalid").to_string(),
            e["description"].as_str().unwrap_or("").to_string(),
        ),
        None => (
            body["error"]
                .as_str()
                .unwrap_or("RecordInvalid")
                .to_string(),
            body["description"].as_str().unwrap_or("").to_string(),
        ),
    }
}

// ---- the endpoints ----------------------------------------------------------------------------

pub(crate) fn users_create_or_update_many(call: Call) -> Handled {
    user_import(call, JobKind::UsersCreateOrUpdate)
}

pub(crate) fn users_create_many(call: Call) -> Handled {
    user_import(call, JobKind::UsersCreate)
}

fn user_import(call: Call, kind: JobKind) -> Handled {
    if !call.account.jobs.settings.user_import {
        // "Bulk user imports are not enabled by default... A 403 Forbidden error is returned".
        return Err(Response::json(
            403,
            &json!({"error": "Forbidden", "description": "Bulk user imports are not enabled for this account"}),
        ));
    }
    submit(call, "users", kind)
}

pub(crate) fn users_update_many(call: Call) -> Handled {
    submit(call, "users", JobKind::UsersUpdate)
}

pub(crate) fn organizations_create_many(call: Call) -> Handled {
    submit(call, "organizations", JobKind::OrganizationsCreate)
}

pub(crate) fn organizations_update_many(call: Call) -> Handled {
    submit(call, "organizations", JobKind::OrganizationsUpdate)
}

pub(crate) fn memberships_create_many(call: Call) -> Handled {
    submit(call, "organization_memberships", JobKind::MembershipsCreate)
}

/// `POST custom_objects/{key}/jobs` with `{"job": {"action", "items"}}`: the actions
/// `create_or_update_by_external_id` and `delete_by_external_id`.
pub(crate) fn custom_object_records(call: Call, object: &str) -> Handled {
    let job = call.body.as_ref().and_then(|b| b.get("job"));
    let action = job.and_then(|j| j.get("action")).and_then(Value::as_str);
    let kind = match action {
        Some("create_or_update_by_external_id") => JobKind::CustomRecordsUpsert(object.into()),
        Some("delete_by_external_id") => JobKind::CustomRecordsDelete(object.into()),
        _ => {
            return Err(bad_request(
                "InvalidParameter",
                "job.action must be one of the custom object job actions the mock knows",
            ));
        }
    };
    if !call
        .account
        .data
        .custom_objects
        .iter()
        .any(|o| o.key == object)
    {
        return Err(crate::http::record_not_found());
    }
    let items = match job.and_then(|j| j.get("items")) {
        Some(Value::Array(items)) => items.clone(),
        _ => return Err(crate::http::missing_parameter("job.items")),
    };
    queue(call.account, kind, items, "job.items")
}

pub(crate) fn tickets_create_many(call: Call) -> Handled {
    submit(call, "tickets", JobKind::TicketsCreate)
}

pub(crate) fn tickets_update_many(call: Call) -> Handled {
    submit(call, "tickets", JobKind::TicketsUpdate)
}

pub(crate) fn users_destroy_many(call: Call) -> Handled {
    destroy_many(call, JobKind::UsersDestroy, true)
}

pub(crate) fn organizations_destroy_many(call: Call) -> Handled {
    destroy_many(call, JobKind::OrganizationsDestroy, true)
}

pub(crate) fn tickets_destroy_many(call: Call) -> Handled {
    destroy_many(call, JobKind::TicketsDestroy, false)
}

/// `DELETE .../destroy_many?ids=1,2` (or `?external_ids=a,b` where `by_external_id`).
fn destroy_many(call: Call, kind: JobKind, by_external_id: bool) -> Handled {
    let items: Vec<Value> = match (call.query.get("ids"), call.query.get("external_ids")) {
        (Some(ids), None) => ids
            .split(',')
            .map(|id| id.trim().parse::<u64>().map(Value::from))
            .collect::<Result<_, _>>()
            .map_err(|_| bad_request("InvalidParameter", "ids must be numbers"))?,
        (None, Some(external_ids)) if by_external_id => external_ids
            .split(',')
            .map(|e| json!({"external_id": e.trim()}))
            .collect(),
        _ => {
            return Err(bad_request(
                "InvalidParameter",
                "exactly one of ids or external_ids is required",
            ));
        }
    };
    queue(call.account, kind, items, "ids")
}

fn submit(call: Call, key: &str, kind: JobKind) -> Handled {
    let items = match call.body.as_ref().and_then(|b| b.get(key)) {
        Some(Value::Array(items)) => items.clone(),
        _ => return Err(crate::http::missing_parameter(key)),
    };
    queue(call.account, kind, items, key)
}

/// Queues a job of `items` (checked: 1 to 100, and a place in the account's job queue).
fn queue(account: &mut Account, kind: JobKind, items: Vec<Value>, key: &str) -> Handled {
    if items.is_empty() || items.len() > MAX_ITEMS {
        return Err(bad_request(
            "InvalidParameter",
            &format!("`{key}` must hold 1 to {MAX_ITEMS} items"),
        ));
    }
    let jobs = &mut account.jobs;
    if jobs.inflight() >= MAX_INFLIGHT_JOBS {
        return Err(inflight_header(
            Response::json(
                429,
                &json!({"error": "TooManyJobs", "description": format!("Number of allowed concurrent jobs ({MAX_INFLIGHT_JOBS}) exceeded")}),
            ),
            jobs,
        ));
    }
    let id = format!(
        "{:032x}",
        splitmix64(jobs.settings.seed ^ (jobs.jobs.len() as u64 + 1))
    );
    jobs.jobs.push(Job {
        id: id.clone(),
        kind,
        items,
        due: Instant::now() + jobs.settings.job_delay,
        state: JobState::Queued,
    });
    let status = render(account, &id);
    Ok(inflight_header(
        Response::json(200, &json!({ "job_status": status })),
        &account.jobs,
    ))
}

fn inflight_header(response: Response, jobs: &Jobs) -> Response {
    let remaining = MAX_INFLIGHT_JOBS.saturating_sub(jobs.inflight());
    response.with_header(
        "Zendesk-RateLimit-inflight-jobs",
        &format!("total={MAX_INFLIGHT_JOBS}; remaining={remaining}; resets=1"),
    )
}

/// `GET job_statuses/{id}`.
pub(crate) fn show(call: Call, id: &str) -> Handled {
    if !call.account.jobs.jobs.iter().any(|j| j.id == id) {
        return Err(crate::http::record_not_found());
    }
    Ok(Response::json(
        200,
        &json!({"job_status": render(call.account, id)}),
    ))
}

/// `GET job_statuses/show_many?ids=a,b` (unknown ids are left out).
pub(crate) fn show_many(call: Call) -> Handled {
    let Some(ids) = call.query.get("ids") else {
        return Err(bad_request("InvalidParameter", "ids is required"));
    };
    let statuses: Vec<Value> = ids
        .split(',')
        .map(str::trim)
        .filter(|id| call.account.jobs.jobs.iter().any(|j| j.id == *id))
        .map(|id| render(call.account, id))
        .collect();
    Ok(Response::json(200, &json!({"job_statuses": statuses})))
}

fn render(account: &Account, id: &str) -> Value {
    let Some(job) = account.jobs.jobs.iter().find(|j| j.id == id) else {
        return Value::Null;
    };
    let mut status = Map::new();
    status.insert("id".into(), id.into());
    status.insert(
        "url".into(),
        format!("{}/api/v2/job_statuses/{id}.json", account.base_url).into(),
    );
    status.insert("total".into(), job.items.len().into());
    let (state, progress, message, results) = match &job.state {
        JobState::Queued => ("queued", Value::Null, Value::Null, Value::Null),
        JobState::Completed(results) => (
            "completed",
            job.items.len().into(),
            "Completed".into(),
            Value::Array(results.clone()),
        ),
        JobState::Failed(message) => ("failed", 0.into(), message.clone().into(), Value::Null),
    };
    status.insert("status".into(), state.into());
    status.insert("progress".into(), progress);
    status.insert("message".into(), message);
    status.insert("results".into(), results);
    Value::Object(status)
}
