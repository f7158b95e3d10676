use serde_json::json;

use super::{SUB, expect, send};
use crate::MockZendesk;

#[test]
fn make_primary_swaps_and_keeps_the_old_primary_as_secondary() {
    let mock = MockZendesk::new();
    let user = mock.seed_user(SUB, json!({"name": "Ann", "email": "old@x.com"}));
    let added = expect(
        &mock,
        "POST",
        &format!("/api/v2/users/{user}/identities.json"),
        Some(
            json!({"identity": {"type": "email", "value": "new@x.com"}, "skip_verify_email": true}),
        ),
        201,
    );
    assert_eq!(added["identity"]["primary"], false);
    let new_id = added["identity"]["id"].as_u64().unwrap_or(0);
    let swapped = expect(
        &mock,
        "PUT",
        &format!("/api/v2/users/{user}/identities/{new_id}/make_primary"),
        Some(json!({})),
        200,
    );
    let primaries: Vec<(String, bool)> = swapped["identities"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| {
            (
                i["value"].as_str().unwrap_or_default().to_string(),
                i["primary"] == json!(true),
            )
        })
        .collect();
    assert_eq!(
        primaries,
        vec![("old@x.com".into(), false), ("new@x.com".into(), true)]
    );
    let state = mock.account(SUB);
    assert_eq!(
        state.user(user).and_then(|u| u.email.clone()).as_deref(),
        Some("new@x.com")
    );
    assert_eq!(state.emails_of(user), vec!["new@x.com", "old@x.com"]);

    // An address used by anyone is a 422; listing pages with a cursor.
    let taken = expect(
        &mock,
        "POST",
        &format!("/api/v2/users/{user}/identities"),
        Some(json!({"identity": {"type": "email", "value": "OLD@x.com"}})),
        422,
    );
    assert_eq!(taken["details"]["value"][0]["error"], "DuplicateValue");
    let page = expect(
        &mock,
        "GET",
        &format!("/api/v2/users/{user}/identities?page[size]=1"),
        None,
        200,
    );
    assert_eq!(page["meta"]["has_more"], true);
    let (all, pages) = super::collect_cursor_pages(
        &mock,
        &format!("/api/v2/users/{user}/identities?page%5Bsize%5D=1"),
        "identities",
    );
    assert_eq!((all.len(), pages), (2, 2));

    let old_id = state
        .identity_by_email("old@x.com")
        .map(|i| i.id)
        .unwrap_or(0);
    assert_eq!(
        send(
            &mock,
            "DELETE",
            &format!("/api/v2/users/{user}/identities/{old_id}"),
            None
        )
        .status,
        204
    );
    assert_eq!(mock.account(SUB).emails_of(user), vec!["new@x.com"]);
    assert_eq!(
        send(
            &mock,
            "DELETE",
            &format!("/api/v2/users/{user}/identities/{old_id}"),
            None
        )
        .status,
        404
    );
}
