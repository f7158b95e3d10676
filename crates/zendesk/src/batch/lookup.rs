//! Finding records by external id, 100 a call (`{collection}/show_many?external_ids=`), as
//! the bulk steps do before `update_many` or `destroy_many`.

use serde_json::Value;

use crate::client::{Client, encode};
use crate::outcome::Error;

/// The id of the user or organization (`collection`) with each external id, by position
/// (matched case-insensitively, as Zendesk matches external ids).
pub(crate) fn ids_by_external_id(
    client: &mut Client,
    collection: &str,
    external_ids: &[&str],
) -> Result<Vec<Option<u64>>, Error> {
    let mut found = Vec::with_capacity(external_ids.len());
    for chunk in external_ids.chunks(100) {
        let list: Vec<String> = chunk.iter().map(|e| encode(e)).collect();
        let path = format!(
            "/api/v2/{collection}/show_many?external_ids={}",
            list.join(",")
        );
        let answer = client.call("GET", &path, None)?;
        let listed = answer[collection].as_array().cloned().unwrap_or_default();
        found.extend(chunk.iter().map(|wanted| {
            listed
                .iter()
                .find(|record| {
                    (record["external_id"].as_str()).is_some_and(|e| e.eq_ignore_ascii_case(wanted))
                })
                .and_then(|record| record["id"].as_u64())
        }));
    }
    Ok(found)
}

/// The text of an item's `external_id` (empty when it has none).
pub(crate) fn external_id_of(item: &Value) -> &str {
    item["external_id"].as_str().unwrap_or_default()
}
