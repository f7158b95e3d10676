//! Reading the run's inputs: the tenants file and the JSONL event stream.
//!
//! Nothing here fails on a bad event line: such lines become [`MalformedLine`]s that the runner
//! dead-letters with their raw text, so every input line is accounted for.

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Map, Value};

use destination_host::{Limits, OriginTemplate, RuntimeOptions};

/// The key in `"limits"` whose values apply to every tenant.
pub const ALL_TENANTS: &str = "*";

/// One tenant as declared in the tenants file.
#[derive(Clone)]
pub struct TenantSpec {
    pub id: String,
    /// The plugin config as JSON text. Holds credentials: never print it.
    pub config_json: String,
    pub limits: Limits,
    /// Where its plugin may send requests (templates filled from the plugin's config facts).
    pub allowed_origins: Vec<OriginTemplate>,
}

// Hand-written so a `{:?}` anywhere can never print the config's credentials.
impl fmt::Debug for TenantSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantSpec")
            .field("id", &self.id)
            .field("config_json", &"[not shown: may hold credentials]")
            .field("limits", &self.limits)
            .finish()
    }
}

/// Parses `{"tenants": {"<id>": <config>, ...}, "limits": {"<id>" | "*": Limits}}`.
///
/// A tenant's limits are the built-in defaults, overlaid by `"*"`, overlaid by the tenant's own
/// entry, key by key (so `{"cpu_ms": 500}` for one tenant keeps the `"*"` memory limit).
/// Reads the tenants file; every tenant's limits must fit a runtime sized by `runtime`.
pub fn parse_tenants(text: &str, runtime: &RuntimeOptions) -> Result<Vec<TenantSpec>> {
    let root: Value = serde_json::from_str(text).context("the tenants file is not valid JSON")?;
    let root = root
        .as_object()
        .ok_or_else(|| anyhow!("the tenants file must be a JSON object with a \"tenants\" key"))?;
    if let Some(unknown) = root
        .keys()
        .find(|k| !["tenants", "limits", "allowed_origins"].contains(&k.as_str()))
    {
        bail!(
            "the tenants file has an unknown key {unknown:?} (expected \"tenants\", \"limits\" \
             and \"allowed_origins\")"
        );
    }
    let allowed_origins = allowed_origins(root.get("allowed_origins"))?;
    let tenants = root
        .get("tenants")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            anyhow!("the tenants file needs \"tenants\": {{\"<id>\": <config>, ...}}")
        })?;
    if tenants.is_empty() {
        bail!("the tenants file declares no tenants");
    }
    let empty = Map::new();
    let limits = match root.get("limits") {
        None => &empty,
        Some(Value::Object(limits)) => limits,
        Some(_) => bail!("\"limits\" must be an object keyed by tenant id or \"*\""),
    };
    if let Some(stray) = limits
        .keys()
        .find(|k| *k != ALL_TENANTS && !tenants.contains_key(*k))
    {
        bail!("\"limits\" names tenant {stray:?}, which is not declared in \"tenants\"");
    }
    let shared = limits_object(limits, ALL_TENANTS)?;

    tenants
        .iter()
        .map(|(id, config)| {
            if id.trim().is_empty() {
                bail!("a tenant id is empty");
            }
            if !config.is_object() {
                bail!("the config of tenant {id:?} must be a JSON object");
            }
            let mut merged = shared.clone();
            merged.extend(limits_object(limits, id)?);
            let limits: Limits = serde_json::from_value(Value::Object(merged))
                .with_context(|| format!("invalid limits for tenant {id:?}"))?;
            limits
                .validate(runtime)
                .with_context(|| format!("invalid limits for tenant {id:?}"))?;
            Ok(TenantSpec {
                id: id.clone(),
                config_json: config.to_string(),
                limits,
                allowed_origins: allowed_origins.clone(),
            })
        })
        .collect()
}

/// `"allowed_origins": ["https://{subdomain}.zendesk.com", ...]`; Zendesk's when absent.
fn allowed_origins(value: Option<&Value>) -> Result<Vec<OriginTemplate>> {
    let Some(value) = value else {
        return Ok(crate::zendesk_origins());
    };
    let templates = value
        .as_array()
        .ok_or_else(|| anyhow!("\"allowed_origins\" must be a list of origin templates"))?;
    templates
        .iter()
        .map(|template| {
            let text = template
                .as_str()
                .ok_or_else(|| anyhow!("\"allowed_origins\" entries must be strings"))?;
            text.parse::<OriginTemplate>()
                .map_err(|e| anyhow!("\"allowed_origins\": {e}"))
        })
        .collect()
}

fn limits_object(limits: &Map<String, Value>, key: &str) -> Result<Map<String, Value>> {
    match limits.get(key) {
        None => Ok(Map::new()),
        Some(Value::Object(entry)) => Ok(entry.clone()),
        Some(_) => bail!("\"limits\".{key:?} must be an object"),
    }
}

/// One line of the event stream that names a known tenant and carries an event.
#[derive(Clone, Debug)]
pub struct EventLine {
    /// 1-based line number in the input.
    pub line: usize,
    pub tenant: String,
    pub event: Value,
}

impl EventLine {
    /// The event type (`type`, else `action`), lower-cased; "unknown" when absent.
    pub fn event_type(&self) -> String {
        ["type", "action"]
            .iter()
            .find_map(|key| self.event.get(key).and_then(Value::as_str))
            .map(str::to_ascii_lowercase)
            .unwrap_or_else(|| "unknown".to_string())
    }

    /// The `event` name of a track call, if any.
    pub fn event_name(&self) -> Option<&str> {
        self.event.get("event").and_then(Value::as_str)
    }
}

/// An input line the runner cannot deliver, with the reason.
#[derive(Clone, Debug, PartialEq)]
pub struct MalformedLine {
    pub line: usize,
    pub raw: String,
    /// The tenant the line named, when it named one.
    pub tenant: Option<String>,
    pub reason: String,
}

#[derive(Debug, Default)]
pub struct ParsedEvents {
    pub events: Vec<EventLine>,
    pub malformed: Vec<MalformedLine>,
}

impl ParsedEvents {
    /// Non-blank input lines (each one ends delivered, skipped or dead-lettered).
    pub fn line_count(&self) -> usize {
        self.events.len() + self.malformed.len()
    }

    /// Events grouped by tenant, each group in input order.
    pub fn by_tenant(&self) -> BTreeMap<String, Vec<EventLine>> {
        let mut groups: BTreeMap<String, Vec<EventLine>> = BTreeMap::new();
        for event in &self.events {
            groups
                .entry(event.tenant.clone())
                .or_default()
                .push(event.clone());
        }
        groups
    }
}

/// Parses a JSONL stream of `{"tenant": "<id>", "event": {...}}` lines. Blank lines are ignored.
pub fn parse_events(text: &str, known_tenants: &HashSet<&str>) -> ParsedEvents {
    let mut parsed = ParsedEvents::default();
    for (index, raw) in text.lines().enumerate() {
        match parse_line(index + 1, raw, known_tenants) {
            Some(Ok(event)) => parsed.events.push(event),
            Some(Err(malformed)) => parsed.malformed.push(malformed),
            None => {}
        }
    }
    parsed
}

/// One input line (1-based `line`): an event, a malformed line with the reason, or `None` for a
/// blank line.
pub fn parse_line(
    line: usize,
    raw: &str,
    known_tenants: &HashSet<&str>,
) -> Option<Result<EventLine, MalformedLine>> {
    parse_line_for(line, raw, Some(known_tenants))
}

/// [`parse_line`] for any tenant (a producer does not know the tenants; workers check them).
pub fn parse_line_any_tenant(line: usize, raw: &str) -> Option<Result<EventLine, MalformedLine>> {
    parse_line_for(line, raw, None)
}

fn parse_line_for(
    line: usize,
    raw: &str,
    known_tenants: Option<&HashSet<&str>>,
) -> Option<Result<EventLine, MalformedLine>> {
    if raw.trim().is_empty() {
        return None;
    }
    Some(match parse_event_line(raw, known_tenants) {
        Ok((tenant, event)) => Ok(EventLine {
            line,
            tenant,
            event,
        }),
        Err((tenant, reason)) => Err(MalformedLine {
            line,
            raw: raw.to_string(),
            tenant,
            reason,
        }),
    })
}

type LineError = (Option<String>, String);

fn parse_event_line(
    raw: &str,
    known_tenants: Option<&HashSet<&str>>,
) -> Result<(String, Value), LineError> {
    let value: Value =
        serde_json::from_str(raw).map_err(|e| (None, format!("not valid JSON: {e}")))?;
    let Value::Object(mut object) = value else {
        return Err((
            None,
            "not a JSON object with \"tenant\" and \"event\"".into(),
        ));
    };
    let tenant = match object.get("tenant") {
        Some(Value::String(tenant)) => tenant.clone(),
        Some(_) => return Err((None, "\"tenant\" must be a string".into())),
        None => return Err((None, "missing \"tenant\"".into())),
    };
    if known_tenants.is_some_and(|known| !known.contains(tenant.as_str())) {
        let reason = format!("unknown tenant {tenant:?} (not in the tenants file)");
        return Err((Some(tenant), reason));
    }
    match object.remove("event") {
        Some(Value::Null) | None => Err((Some(tenant), "missing \"event\"".into())),
        Some(event) => Ok((tenant, event)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenants_get_defaults_then_shared_then_own_limits() {
        let tenants = parse_tenants(
            r#"{"tenants": {"a": {"subdomain": "a"}, "b": {"subdomain": "b"}},
                "limits": {"*": {"cpu_ms": 500, "memory_mib": 32}, "b": {"cpu_ms": 50}}}"#,
            &RuntimeOptions::default(),
        )
        .unwrap();
        let defaults = Limits::default();
        let a = &tenants[0];
        assert_eq!(a.id, "a");
        assert_eq!(a.config_json, r#"{"subdomain":"a"}"#);
        assert_eq!((a.limits.cpu_ms, a.limits.memory_mib), (500, 32));
        assert_eq!(a.limits.wall_ms, defaults.wall_ms);
        let b = &tenants[1];
        assert_eq!((b.limits.cpu_ms, b.limits.memory_mib), (50, 32));
    }

    #[test]
    fn tenants_file_errors_are_explained() {
        let err = |text: &str| {
            format!(
                "{:#}",
                parse_tenants(text, &RuntimeOptions::default()).unwrap_err()
            )
        };
        assert!(err("[").contains("not valid JSON"));
        assert!(err("{}").contains("\"tenants\""));
        assert!(err(r#"{"tenants": {}}"#).contains("no tenants"));
        assert!(err(r#"{"tenants": {"a": 1}}"#).contains("must be a JSON object"));
        assert!(err(r#"{"tenants": {"a": {}}, "limits": {"b": {}}}"#).contains("\"b\""));
        assert!(err(r#"{"tenants": {"a": {}}, "limits": {"a": {"cpu": 1}}}"#).contains("\"a\""));
        assert!(err(r#"{"tenants": {"a": {}}, "extra": 1}"#).contains("unknown key"));
        assert!(
            err(r#"{"tenants": {"a": {}}, "allowed_origins": ["https://{s}"]}"#)
                .contains("allowed_origins")
        );
    }

    #[test]
    fn impossible_limits_are_refused_naming_the_key() {
        let err = |limits: &str| {
            let text = format!(r#"{{"tenants": {{"a": {{}}}}, "limits": {{"a": {limits}}}}}"#);
            format!(
                "{:#}",
                parse_tenants(&text, &RuntimeOptions::default()).unwrap_err()
            )
        };
        let memory = err(r#"{"memory_mib": 512}"#);
        assert!(
            memory.contains("`memory_mib`") && memory.contains("max_memory_mib"),
            "{memory}"
        );
        assert!(err(r#"{"wall_ms": 0}"#).contains("`wall_ms`"));
        assert!(err(r#"{"max_fetches": 0}"#).contains("`max_fetches`"));
    }

    #[test]
    fn origins_default_to_the_tenants_zendesk_account() {
        let text = r#"{"tenants": {"a": {}}}"#;
        let tenants = parse_tenants(text, &RuntimeOptions::default()).unwrap();
        assert_eq!(tenants[0].allowed_origins, crate::zendesk_origins());
        let text =
            r#"{"tenants": {"a": {}}, "allowed_origins": ["https://{subdomain}.example.com"]}"#;
        let tenants = parse_tenants(text, &RuntimeOptions::default()).unwrap();
        assert_eq!(
            tenants[0].allowed_origins[0].to_string(),
            "https://{subdomain}.example.com"
        );
    }

    #[test]
    fn tenant_debug_never_shows_the_config() {
        let tenants = parse_tenants(
            r#"{"tenants": {"a": {"apiToken": "SECRET-1"}}}"#,
            &RuntimeOptions::default(),
        )
        .unwrap();
        let shown = format!("{:?}", tenants[0]);
        assert!(!shown.contains("SECRET-1"), "{shown}");
    }

    #[test]
    fn event_lines_keep_order_and_malformed_lines_keep_reasons() {
        let known: HashSet<&str> = ["a", "b"].into();
        let text = [
            r#"{"tenant": "a", "event": {"type": "identify", "userId": "1"}}"#,
            "",
            r#"{"tenant": "b", "event": {"type": "track", "event": "Paid"}}"#,
            "{not json",
            r#"{"event": {}}"#,
            r#"{"tenant": "zz", "event": {}}"#,
            r#"{"tenant": "a"}"#,
            r#"{"tenant": 7, "event": {}}"#,
            r#"[1]"#,
            r#"{"tenant": "a", "event": {"action": "Group"}}"#,
        ]
        .join("\n");
        let parsed = parse_events(&text, &known);
        assert_eq!(parsed.line_count(), 9);
        let lines: Vec<_> = parsed
            .events
            .iter()
            .map(|e| (e.line, e.tenant.as_str()))
            .collect();
        assert_eq!(lines, vec![(1, "a"), (3, "b"), (10, "a")]);
        assert_eq!(parsed.events[0].event_type(), "identify");
        assert_eq!(parsed.events[1].event_name(), Some("Paid"));
        assert_eq!(parsed.events[2].event_type(), "group");

        let reasons: Vec<_> = parsed
            .malformed
            .iter()
            .map(|m| (m.line, m.tenant.as_deref(), m.reason.as_str()))
            .collect();
        assert_eq!(reasons[0].0, 4);
        assert!(reasons[0].2.starts_with("not valid JSON"));
        assert_eq!(reasons[1], (5, None, "missing \"tenant\""));
        assert_eq!(
            reasons[2],
            (
                6,
                Some("zz"),
                "unknown tenant \"zz\" (not in the tenants file)"
            )
        );
        assert_eq!(reasons[3], (7, Some("a"), "missing \"event\""));
        assert_eq!(reasons[4], (8, None, "\"tenant\" must be a string"));
        assert_eq!(parsed.malformed[5].raw, "[1]");

        let groups = parsed.by_tenant();
        let a_lines: Vec<_> = groups["a"].iter().map(|e| e.line).collect();
        assert_eq!(a_lines, vec![1, 10]);
    }
}
