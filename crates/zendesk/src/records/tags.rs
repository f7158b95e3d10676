//! A user or organization row's `tags` column under the config's `tagsMode`. `replace` writes
//! the list in the object's body; `add` and `remove` use the object's tags endpoint after the
//! write (`PUT` adds, `DELETE` removes), since a `tags` attribute always replaces the list and
//! would wipe what agents and triggers tagged.

use super::Row;
use crate::client::Client;
use crate::outcome::Error;
use crate::sync_config::TagsMode;
use serde_json::{Value, json};

#[derive(Debug, Clone, PartialEq)]
pub struct Tags {
    mode: TagsMode,
    tags: Vec<String>,
}

impl Tags {
    /// The row's `tags` column (a list, or one comma-separated string), if it has one.
    pub fn take(row: &mut Row, mode: TagsMode) -> Result<Option<Tags>, Error> {
        Ok(row.take_list("tags")?.map(|tags| Tags {
            mode,
            // Zendesk keeps tags lowercased.
            tags: tags.iter().map(|t| t.to_lowercase()).collect(),
        }))
    }

    /// The `tags` attribute of a body that updates, or may update, an object: only `replace`.
    pub fn in_body(&self) -> Option<Value> {
        (self.mode == TagsMode::Replace).then(|| json!(self.tags))
    }

    /// The `tags` attribute of a body that creates an object: a new object has no tags to keep,
    /// so `add` writes them too; `remove` has nothing to remove.
    pub fn on_create(&self) -> Option<Value> {
        (self.mode != TagsMode::Remove).then(|| json!(self.tags))
    }

    /// Whether the list must go through the tags endpoint after the write, bulk items included.
    pub fn needs_call(&self) -> bool {
        self.mode != TagsMode::Replace
    }

    /// After object `id` was written (`collection` is `users` or `organizations`): adds or
    /// removes the tags, unless `current` (the tags in the write's answer) shows it is done.
    pub fn apply(
        &self,
        client: &mut Client,
        collection: &str,
        id: u64,
        current: Option<&Value>,
    ) -> Result<(), Error> {
        let method = match self.mode {
            TagsMode::Replace => return Ok(()),
            TagsMode::Add => "PUT",
            TagsMode::Remove => "DELETE",
        };
        if let Some(current) = current.and_then(Value::as_array) {
            let has = |tag: &String| current.iter().any(|c| c.as_str() == Some(tag));
            let done = match self.mode {
                TagsMode::Add => self.tags.iter().all(has),
                _ => !self.tags.iter().any(has),
            };
            if done {
                return Ok(());
            }
        }
        let path = format!("/api/v2/{collection}/{id}/tags");
        client
            .call(method, &path, Some(&json!({ "tags": self.tags })))
            .map(|_| ())
    }
}
