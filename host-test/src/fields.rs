//! `host-test fields`: schema introspection for one tenant and object type. Every field a
//! `record` can write (standard attributes and the account's custom fields, read through the
//! plugin's `list-fields` export) as a table, or as JSON.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use destination_host::credentials::CredentialKey;
use destination_host::{CallError, FieldInfo, ObjectType, Runtime};
use mock_zendesk::MockZendesk;
use serde_json::json;

use crate::demo;
use crate::runner::oauth::attach_token_sources;
use crate::runner::{self, PluginSource, RunOptions, Target};

pub struct FieldsOptions {
    /// The tenants file's text.
    pub tenants_json: String,
    pub tenant: String,
    pub object: ObjectType,
    pub plugin: PathBuf,
    pub target: Target,
    /// An OAuth tenant's credential store (as `run --credential-store`).
    pub credential_store: Option<PathBuf>,
}

/// Lists the fields through the plugin, in a sandbox, under the tenant's limits and policy.
pub fn list(options: &FieldsOptions) -> Result<Vec<FieldInfo>> {
    let runtime_options = runner::runtime_options(1);
    let specs = runner::tenant_specs(&options.tenants_json, &runtime_options)?;
    let spec = specs
        .into_iter()
        .find(|spec| spec.id == options.tenant)
        .ok_or_else(|| anyhow!("the tenants file has no tenant {:?}", options.tenant))?;
    let runtime = Runtime::new(runtime_options).context("cannot start the wasm runtime")?;
    let plugin = runtime
        .load_plugin_file(&options.plugin)
        .with_context(|| format!("cannot load the plugin {}", options.plugin.display()))?;
    let transport = runner::transport_for(&options.target);
    let mut tenants = HashMap::from([(spec.id.clone(), spec.tenant(Arc::clone(&transport)))]);
    attach_token_sources(
        std::slice::from_ref(&spec),
        &mut tenants,
        options.credential_store.as_deref(),
        CredentialKey::from_env()?.as_ref(),
        &transport,
    )?;
    let failed = |error: CallError| {
        anyhow!(
            "cannot list the {} fields of tenant {:?} ({}): {error}",
            options.object.name(),
            options.tenant,
            error.class()
        )
    };
    let (tenant, _) = tenants[&spec.id].authorized().map_err(failed)?;
    let report = runtime.list_fields(&plugin, &tenant, options.object);
    report.result.map_err(failed)
}

/// The demo account after the bundled sample stream: an in-process mock with the fields the
/// demo's events created, and the demo tenant.
pub fn demo_account(plugin: PathBuf) -> Result<(MockZendesk, String)> {
    let mock = MockZendesk::new();
    let config: serde_json::Value = serde_json::from_str(demo::TENANT_CONFIG)?;
    let tenants = json!({ "tenants": { demo::TENANT_ID: config } }).to_string();
    let mut options = RunOptions::new(
        tenants.clone(),
        demo::for_tenant(demo::SAMPLE_EVENTS),
        Target::Mock(mock.clone()),
    );
    options.plugin = PluginSource::File(plugin);
    options.concurrency = 1;
    let summary = runner::run(options)?;
    if summary.dead_lettered > 0 {
        bail!("the demo stream did not deliver: {}", summary.render());
    }
    Ok((mock, tenants))
}

/// One line per field: what a mapping targets, title, type, required, active, custom, choices.
pub fn render_table(fields: &[FieldInfo]) -> String {
    let yes = |flag: bool| if flag { "yes" } else { "no" };
    let rows: Vec<[String; 7]> = fields
        .iter()
        .map(|f| {
            let name = match (&f.key, f.id) {
                (Some(key), _) => key.clone(),
                (None, Some(id)) => id.to_string(),
                (None, None) => "-".into(),
            };
            let options: Vec<&str> = f.options.iter().map(|(_, value)| value.as_str()).collect();
            [
                name,
                f.title.clone(),
                f.field_type.clone(),
                yes(f.required).into(),
                yes(f.active).into(),
                yes(f.custom).into(),
                options.join(", "),
            ]
        })
        .collect();
    let header = [
        "key / id", "title", "type", "required", "active", "custom", "options",
    ];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: &[&str]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        let _ = writeln!(out, "{}", padded.join("  ").trim_end());
    };
    line(&mut out, &header);
    for row in &rows {
        line(&mut out, &row.each_ref().map(String::as_str));
    }
    out
}

/// The fields as JSON: one object per field, `options` as `{name, value}`.
pub fn render_json(fields: &[FieldInfo]) -> Result<String> {
    let fields: Vec<serde_json::Value> = fields
        .iter()
        .map(|f| {
            json!({"key": f.key, "id": f.id, "title": f.title, "type": f.field_type,
                "required": f.required, "active": f.active, "custom": f.custom,
                "options": f.options.iter().map(|(name, value)| json!({"name": name, "value": value}))
                    .collect::<Vec<_>>()})
        })
        .collect();
    Ok(serde_json::to_string_pretty(&fields)? + "\n")
}
