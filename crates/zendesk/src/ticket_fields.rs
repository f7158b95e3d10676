//! Ticket fields: listed from the ticket fields API (all pages) and cached; a record's columns
//! name custom ticket fields by title or by id, and are written as `custom_fields: [{id, value}]`.

use crate::client::Client;
use crate::outcome::Error;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// How long a listed set of ticket fields is trusted.
const TTL_SECONDS: u32 = 3600;
const CACHE_KEY: &str = "fields:ticket";
const LIST: &str = "/api/v2/ticket_fields?page[size]=100";

/// A custom (removable) ticket field, as cached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Custom {
    id: u64,
    title: String,
}

/// Every ticket field definition (all pages), system fields included.
pub fn list_definitions(client: &mut Client) -> Result<Vec<Value>, Error> {
    client.list_all(LIST, "ticket_fields")
}

/// `columns` (name -> value) as `custom_fields` entries. A column names a field by its id or its
/// title (exact, then case-insensitive). A cached list that misses one is listed again once; a
/// column that still names no field is an invalid event.
pub fn custom_fields(
    client: &mut Client,
    columns: &Map<String, Value>,
) -> Result<Vec<Value>, Error> {
    if columns.is_empty() {
        return Ok(Vec::new());
    }
    if let Some(cached) = cached(client)
        && let Ok(resolved) = resolve(&cached, columns)
    {
        return Ok(resolved);
    }
    let listed: Vec<Custom> = list_definitions(client)?
        .iter()
        .filter(|field| field.get("removable").and_then(Value::as_bool) != Some(false))
        .filter_map(|field| {
            Some(Custom {
                id: field.get("id")?.as_u64()?,
                title: field.get("title")?.as_str()?.to_string(),
            })
        })
        .collect();
    if let Ok(text) = serde_json::to_string(&listed) {
        client.cache_set(CACHE_KEY, &text, TTL_SECONDS);
    }
    resolve(&listed, columns).map_err(|column| {
        Error::InvalidEvent(format!(
            "no custom ticket field has the id or title {column:?} in this Zendesk account \
             (list them with `host-test fields --object tickets`)"
        ))
    })
}

/// Each column's `{id, value}`, or the first column that names no field.
fn resolve(fields: &[Custom], columns: &Map<String, Value>) -> Result<Vec<Value>, String> {
    columns
        .iter()
        .map(|(column, value)| {
            let by_id = column
                .parse::<u64>()
                .ok()
                .and_then(|id| fields.iter().find(|f| f.id == id));
            let field = by_id
                .or_else(|| fields.iter().find(|f| f.title == *column))
                .or_else(|| fields.iter().find(|f| f.title.eq_ignore_ascii_case(column)));
            field
                .map(|f| json!({"id": f.id, "value": value}))
                .ok_or_else(|| column.clone())
        })
        .collect()
}

fn cached(client: &Client) -> Option<Vec<Custom>> {
    serde_json::from_str(&client.cache_get(CACHE_KEY)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{FakeHost, config};

    #[test]
    fn columns_name_fields_by_id_or_title_and_a_stale_cache_relists_once() {
        let host = FakeHost::new();
        host.put_cache(CACHE_KEY, r#"[{"id":11,"title":"Plan"}]"#);
        host.on(
            "GET",
            LIST,
            200,
            json!({"ticket_fields": [
            {"id": 1, "type": "subject", "title": "Subject", "removable": false},
            {"id": 11, "type": "text", "title": "Plan", "removable": true},
            {"id": 12, "type": "checkbox", "title": "VIP Customer", "removable": true}]}),
        );
        let config = config(json!({}));
        let mut client = Client::new(&host, &config);
        let columns = json!({"Plan": "pro"});
        assert_eq!(
            custom_fields(&mut client, columns.as_object().unwrap()).unwrap(),
            vec![json!({"id": 11, "value": "pro"})]
        );
        let columns = json!({"11": "x"});
        assert_eq!(
            custom_fields(&mut client, columns.as_object().unwrap()).unwrap(),
            vec![json!({"id": 11, "value": "x"})]
        );
        assert!(host.requests().is_empty(), "answered from the cache");

        let columns = json!({"vip customer": true});
        assert_eq!(
            custom_fields(&mut client, columns.as_object().unwrap()).unwrap(),
            vec![json!({"id": 12, "value": true})]
        );
        assert_eq!(host.calls(), vec![format!("GET {LIST}")]);

        // A system field is not a custom field; an unknown title fails naming it.
        let columns = json!({"Subject": "x"});
        let error = custom_fields(&mut client, columns.as_object().unwrap()).unwrap_err();
        assert!(
            matches!(&error, Error::InvalidEvent(m) if m.contains("\"Subject\"")),
            "{error:?}"
        );
        assert_eq!(host.requests().len(), 2);
    }
}
