//! The settings schema that `describe` publishes and `validate-config` say the same about every
//! config of the table: a platform that validates a form with the schema never saves a config
//! the plugin then refuses, nor refuses one it would take.

use serde_json::{Value, json};

fn base() -> Value {
    json!({"subdomain": "acme", "email": "admin@acme.com", "apiToken": "t0k3n"})
}

fn with(changes: Value) -> Value {
    let mut config = base();
    for (key, value) in changes.as_object().unwrap() {
        config[key] = value.clone();
    }
    config
}

fn without(key: &str) -> Value {
    let mut config = base();
    config.as_object_mut().unwrap().remove(key);
    config
}

#[test]
fn the_schema_and_validate_config_agree() {
    let schema: Value = serde_json::from_str(&zendesk::describe().settings_schema).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let table: Vec<(Value, bool)> = vec![
        (base(), true),
        // Subdomain shapes.
        (with(json!({"subdomain": "ACME"})), true),
        (with(json!({"subdomain": " acme "})), true),
        (with(json!({"subdomain": "acme.zendesk.com"})), true),
        (with(json!({"subdomain": "acme.zendesk.com/"})), true),
        (with(json!({"subdomain": "https://acme.zendesk.com"})), true),
        (
            with(json!({"subdomain": "https://acme.zendesk.com/agent/tickets"})),
            true,
        ),
        (with(json!({"subdomain": "HTTP://Acme.Zendesk.Com/"})), true),
        (with(json!({"subdomain": "my-shop2"})), true),
        (with(json!({"subdomain": "acme/../evil"})), false),
        (with(json!({"subdomain": "ac me"})), false),
        (with(json!({"subdomain": "evil.com"})), false),
        (with(json!({"subdomain": "-acme"})), false),
        (
            with(json!({"subdomain": "https://acme.zendesk.com?x=1"})),
            false,
        ),
        (with(json!({"subdomain": 7})), false),
        (with(json!({"subdomain": ""})), false),
        (with(json!({"subdomain": null})), false),
        (with(json!({"subdomain": "", "domain": "acme"})), true),
        (
            with(json!({"subdomain": null, "domain": "https://acme.zendesk.com/agent"})),
            true,
        ),
        (
            with(json!({"subdomain": "acme", "domain": "not valid but unused"})),
            true,
        ),
        (with(json!({"subdomain": "", "domain": "not valid"})), false),
        (without("subdomain"), false),
        // Credentials.
        (without("apiToken"), false),
        // OAuth refreshed by the host: the grant alone is a credential; its shape is checked.
        (
            json!({"subdomain": "acme", "oauth": {"clientId": "c", "clientSecret": "s", "refreshToken": "r"}}),
            true,
        ),
        (
            json!({"subdomain": "acme", "oauth": {"clientId": "c", "clientSecret": "s",
                "grantType": "client_credentials", "scope": "read write"}}),
            true,
        ),
        (
            json!({"subdomain": "acme", "oauth": {"clientId": "c"}, "oauthToken": "injected"}),
            true,
        ),
        (
            json!({"subdomain": "acme", "oauth": {"clientSecret": "s"}}),
            false,
        ),
        (
            json!({"subdomain": "acme", "oauth": {"clientId": " "}}),
            false,
        ),
        (
            json!({"subdomain": "acme", "oauth": {"clientId": "c", "clientSecret": 5}}),
            false,
        ),
        (
            json!({"subdomain": "acme", "oauth": {"clientId": "c", "grantType": "password"}}),
            false,
        ),
        (json!({"subdomain": "acme", "oauth": "c"}), false),
        (json!({"subdomain": "acme", "oauth": null}), false),
        (with(json!({"oauth": null})), true),
        (without("email"), false),
        (with(json!({"apiToken": " "})), false),
        (with(json!({"apiToken": 5})), false),
        (with(json!({"email": null})), false),
        (json!({"subdomain": "acme", "oauthToken": "o"}), true),
        (json!({"subdomain": "acme", "accessToken": "a"}), true),
        (
            json!({"subdomain": "acme", "oauthToken": "", "accessToken": "a"}),
            true,
        ),
        (
            json!({"subdomain": "acme", "oauthToken": "o", "accessToken": 5}),
            true,
        ),
        (
            json!({"subdomain": "acme", "accessToken": 5, "email": "a@b.c", "apiToken": "t"}),
            false,
        ),
        (json!({"subdomain": "acme", "oauthToken": 5}), false),
        (json!({"subdomain": "acme", "oauthToken": ""}), false),
        // Flags.
        (
            with(json!({"createUsersAsVerified": true, "skipVerifyEmail": null})),
            true,
        ),
        (with(json!({"createUsersAsVerified": "yes"})), false),
        (with(json!({"sendGroupCallsWithoutUserId": 1})), false),
        (
            with(json!({"removeUsersFromOrganizations": true, "searchByExternalId": false})),
            true,
        ),
        // Strings, lists, numbers.
        (with(json!({"sourceName": "segment"})), true),
        (with(json!({"sourceName": " ZenDesk "})), false),
        (with(json!({"sourceName": 3})), false),
        (with(json!({"events": ["Order Completed", ""]})), true),
        (with(json!({"events": null})), true),
        (with(json!({"events": "Order Completed"})), false),
        (with(json!({"events": [1]})), false),
        (
            with(json!({"ticketCreatedEvent": "New Ticket", "ticketUpdatedEvent": null})),
            true,
        ),
        (with(json!({"ticketCreatedEvent": false})), false),
        (with(json!({"skipUnchangedWithinSeconds": 600})), true),
        (with(json!({"skipUnchangedWithinSeconds": 86401})), false),
        (with(json!({"skipUnchangedWithinSeconds": -1})), false),
        (with(json!({"skipUnchangedWithinSeconds": "60"})), false),
        // Warehouse sync.
        (
            with(json!({"objectType": "users", "syncMode": "insert", "identifierKey": "email"})),
            true,
        ),
        (
            with(json!({"objectType": "tickets", "syncMode": null})),
            true,
        ),
        (with(json!({"objectType": "", "syncMode": " "})), true),
        (with(json!({"objectType": "Users"})), false),
        (with(json!({"objectType": "contacts"})), false),
        (with(json!({"objectType": 1})), false),
        (with(json!({"syncMode": "mirror"})), false),
        (with(json!({"syncMode": " upsert"})), false),
        (
            with(json!({"objectType": "organizations", "identifierKey": "email"})),
            false,
        ),
        (
            with(json!({"objectType": "tickets", "identifierKey": "email"})),
            false,
        ),
        (with(json!({"identifierKey": "email"})), true),
        (
            with(json!({"identifierKey": "id", "syncMode": "update"})),
            true,
        ),
        (with(json!({"identifierKey": "id"})), false),
        (
            with(json!({"identifierKey": "id", "syncMode": "upsert"})),
            false,
        ),
        // Another identifierKey names a custom field, by its key.
        (with(json!({"identifierKey": "member_id"})), true),
        (with(json!({"identifierKey": "Member ID"})), false),
        (with(json!({"identifierKey": "2024"})), false),
        (
            with(json!({"objectType": "tickets", "identifierKey": "member_id"})),
            false,
        ),
        (with(json!({"objectType": "custom_objects"})), false),
        (
            with(json!({"objectType": "custom_objects", "customObjectKey": "car"})),
            true,
        ),
        (with(json!({"tagsMode": "replace"})), true),
        (with(json!({"tagsMode": "set"})), false),
        (
            with(json!({"fieldMapping": {"mail": "email", "work_mail": "email"}})),
            true,
        ),
        (
            with(json!({"fieldMapping": [{"from": "mail", "to": "email"}]})),
            true,
        ),
        (with(json!({"fieldMapping": null})), true),
        (with(json!({"fieldMapping": {"mail": ""}})), false),
        (with(json!({"fieldMapping": {" ": "email"}})), false),
        (with(json!({"fieldMapping": {"mail": 3}})), false),
        (with(json!({"fieldMapping": [{"from": "mail"}]})), false),
        (with(json!({"fieldMapping": ["mail"]})), false),
        (with(json!({"fieldMapping": "mail=email"})), false),
        // Audiences.
        (
            with(
                json!({"audienceKey": "Churn Risk", "audienceSyncMode": "upsert",
                "audienceFieldTag": "churn_risk"}),
            ),
            true,
        ),
        (
            with(json!({"audienceKey": "", "audienceFieldTag": " "})),
            true,
        ),
        (with(json!({"audienceKey": "2024"})), false),
        (with(json!({"audienceKey": "名前"})), false),
        (with(json!({"audienceKey": 5})), false),
        (with(json!({"audienceSyncMode": "Mirror"})), false),
        (with(json!({"audienceSyncMode": "sync"})), false),
        (with(json!({"audienceFieldTag": "two words"})), false),
        (with(json!({"audienceFieldTag": ["x"]})), false),
        // Unknown keys are ignored by both.
        (with(json!({"someFutureSetting": {"x": 1}})), true),
        (json!([]), false),
    ];
    for (config, valid) in table {
        let plugin = zendesk::validate_config(&config.to_string());
        assert_eq!(
            plugin.is_ok(),
            valid,
            "validate-config on {config}: {plugin:?}"
        );
        assert_eq!(
            validator.is_valid(&config),
            valid,
            "the schema on {config}: {:?}",
            validator
                .iter_errors(&config)
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
        );
    }
}
