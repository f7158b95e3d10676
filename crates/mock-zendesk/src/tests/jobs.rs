//! Bulk endpoints: queued jobs, results keyed by index, the 403 without bulk import, the job
//! cap, injected whole-job and per-item failures.

use std::time::Duration;

use serde_json::json;

use super::{SUB, expect, send};
use crate::{BulkSettings, MAX_INFLIGHT_JOBS, MockZendesk};

fn with_import() -> MockZendesk {
    let mock = MockZendesk::new();
    mock.set_bulk(
        SUB,
        BulkSettings {
            user_import: true,
            ..BulkSettings::default()
        },
    );
    mock
}

fn job_id(answer: &serde_json::Value) -> String {
    answer["job_status"]["id"].as_str().unwrap().to_string()
}

/// `GET job_statuses/{id}` of the job `submitted` answered with.
fn status_of(mock: &MockZendesk, submitted: &serde_json::Value) -> serde_json::Value {
    let path = format!("/api/v2/job_statuses/{}", job_id(submitted));
    expect(mock, "GET", &path, None, 200)
}

#[test]
fn user_import_is_off_by_default_but_update_many_works() {
    let mock = MockZendesk::new();
    let users = json!({"users": [{"name": "Ann", "email": "ann@x.com"}]});
    let answer = expect(
        &mock,
        "POST",
        "/api/v2/users/create_or_update_many",
        Some(users),
        403,
    );
    assert_eq!(answer["error"], "Forbidden");
    let id = mock.seed_user(SUB, json!({"name": "Bob", "external_id": "b"}));
    let body = json!({"users": [{"id": id, "name": "Bobby"}]});
    let job = expect(&mock, "PUT", "/api/v2/users/update_many", Some(body), 200);
    let status = status_of(&mock, &job);
    assert_eq!(
        status["job_status"]["results"],
        json!([{"index": 0, "id": id, "success": true, "action": "update", "status": "Updated"}])
    );
    assert_eq!(mock.account(SUB).user(id).unwrap().name, "Bobby");
}

#[test]
fn a_job_is_queued_then_completes_with_one_result_per_index() {
    let mock = with_import();
    let existing = mock.seed_user(SUB, json!({"name": "Ann", "email": "ann@x.com"}));
    let body = json!({"users": [
        {"name": "Ann Lee", "email": "ann@x.com"},
        {"name": "Cy", "external_id": "c"},
        {"name": "Bad", "email": "not-an-email"}]});
    let answer = send(
        &mock,
        "POST",
        "/api/v2/users/create_or_update_many",
        Some(body),
    );
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.header_value("Zendesk-RateLimit-inflight-jobs"),
        Some("total=30; remaining=29; resets=1")
    );
    let job = answer.json_body();
    assert_eq!(job["job_status"]["status"], "queued");
    assert_eq!(job["job_status"]["results"], json!(null));
    // Nothing applied until the job runs.
    assert_eq!(mock.account(SUB).users.len(), 1);
    let path = format!(
        "/api/v2/job_statuses/show_many?ids={},unknown",
        job_id(&job)
    );
    let statuses = expect(&mock, "GET", &path, None, 200);
    let status = &statuses["job_statuses"][0];
    assert_eq!(status["status"], "completed");
    let results = status["results"].as_array().unwrap();
    assert_eq!(results[0]["id"], existing);
    assert_eq!(results[0]["status"], "Updated");
    assert_eq!(results[1]["status"], "Created");
    assert_eq!(results[1]["index"], 1);
    assert_eq!(
        results[2],
        json!({"index": 2, "status": "Failed", "success": false, "error": "InvalidFormat",
            "details": "Email: not-an-email is not properly formatted"})
    );
    let state = mock.account(SUB);
    assert_eq!(state.users.len(), 2);
    assert_eq!(state.user(existing).unwrap().name, "Ann Lee");
}

#[test]
fn a_delayed_job_stays_queued_and_the_cap_answers_too_many_jobs() {
    let mock = MockZendesk::new();
    mock.set_bulk(
        SUB,
        BulkSettings {
            user_import: true,
            job_delay: Duration::from_secs(3600),
            ..BulkSettings::default()
        },
    );
    let body = json!({"organizations": [{"name": "Acme", "external_id": "g1"}]});
    let mut last = None;
    for _ in 0..MAX_INFLIGHT_JOBS {
        last = Some(expect(
            &mock,
            "POST",
            "/api/v2/organizations/create_many",
            Some(body.clone()),
            200,
        ));
    }
    let status = expect(
        &mock,
        "GET",
        &format!("/api/v2/job_statuses/{}", job_id(&last.unwrap())),
        None,
        200,
    );
    assert_eq!(status["job_status"]["status"], "queued");
    let refused = send(
        &mock,
        "POST",
        "/api/v2/organizations/create_many",
        Some(body),
    );
    assert_eq!(refused.status, 429);
    assert_eq!(refused.json_body()["error"], "TooManyJobs");
    assert_eq!(
        refused.header_value("Zendesk-RateLimit-inflight-jobs"),
        Some("total=30; remaining=0; resets=1")
    );
    assert!(mock.account(SUB).organizations.is_empty());
}

#[test]
fn organizations_and_memberships_in_bulk() {
    let mock = MockZendesk::new();
    let user = mock.seed_user(SUB, json!({"name": "Ann", "external_id": "a"}));
    let old = mock.seed_organization(SUB, json!({"name": "Old", "external_id": "g0"}));
    mock.seed_membership(SUB, user, old);
    let found = expect(
        &mock,
        "GET",
        "/api/v2/organizations/show_many?external_ids=G0,g9",
        None,
        200,
    );
    assert_eq!(found["organizations"].as_array().unwrap().len(), 1);
    let created = expect(
        &mock,
        "POST",
        "/api/v2/organizations/create_many",
        Some(json!({"organizations": [{"name": "New", "external_id": "g1"}]})),
        200,
    );
    let updated = expect(
        &mock,
        "PUT",
        "/api/v2/organizations/update_many",
        Some(json!({"organizations": [{"id": old, "tags": ["vip"]}]})),
        200,
    );
    let ids = format!("{},{}", job_id(&created), job_id(&updated));
    let statuses = expect(
        &mock,
        "GET",
        &format!("/api/v2/job_statuses/show_many?ids={ids}"),
        None,
        200,
    );
    let new_id = statuses["job_statuses"][0]["results"][0]["id"]
        .as_u64()
        .unwrap();
    assert_eq!(
        statuses["job_statuses"][1]["results"][0]["status"],
        "Updated"
    );
    let body = json!({"organization_memberships": [
        {"user_id": user, "organization_id": new_id},
        {"user_id": user, "organization_id": old}]});
    let job = expect(
        &mock,
        "POST",
        "/api/v2/organization_memberships/create_many",
        Some(body),
        200,
    );
    let status = status_of(&mock, &job);
    let results = &status["job_status"]["results"];
    assert_eq!(results[0]["status"], "Created");
    assert_eq!(results[1]["error"], "DuplicateValue");
    let state = mock.account(SUB);
    assert_eq!(state.memberships_of(user).len(), 2);
    assert_eq!(state.organization(old).unwrap().tags, vec!["vip"]);
}

#[test]
fn injected_failures_apply_nothing() {
    let mock = MockZendesk::new();
    mock.set_bulk(
        SUB,
        BulkSettings {
            user_import: true,
            job_failure_rate: 1.0,
            ..BulkSettings::default()
        },
    );
    let body = json!({"users": [{"name": "Ann", "email": "ann@x.com"}]});
    let job = expect(
        &mock,
        "POST",
        "/api/v2/users/create_or_update_many",
        Some(body.clone()),
        200,
    );
    let status = status_of(&mock, &job);
    assert_eq!(status["job_status"]["status"], "failed");
    assert!(mock.account(SUB).users.is_empty());
    mock.set_bulk(
        SUB,
        BulkSettings {
            user_import: true,
            item_failure_rate: 1.0,
            ..BulkSettings::default()
        },
    );
    let job = expect(
        &mock,
        "POST",
        "/api/v2/users/create_or_update_many",
        Some(body),
        200,
    );
    let status = status_of(&mock, &job);
    assert_eq!(status["job_status"]["status"], "completed");
    assert_eq!(status["job_status"]["results"][0]["error"], "InternalError");
    assert!(mock.account(SUB).users.is_empty());
}
