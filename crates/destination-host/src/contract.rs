//! The contract versions this host links, and conversions from their types to the host's own.
//!
//! `0.1.0` and `0.2.0` are frozen (`wit/v0.1.0`, `wit/v0.2.0`): components built against them
//! keep loading. `0.2.0` added the config facts to `validate-config`, `list-fields`,
//! `transform-batch` and the `timer` import; `0.3.0` adds object types to `list-fields`. A
//! plugin is tried against the newest version first.

use wasmtime::Store;
use wasmtime::component::{Component, HasSelf, Linker};

use crate::call_state::CallState;
use crate::report::{
    ConfigFacts, Description, FieldInfo, GuestError, ObjectType, Operation, Outcome,
};

/// `cdp:destination@0.1.0`, frozen.
pub mod v0_1 {
    wasmtime::component::bindgen!({
        path: "../../wit/v0.1.0",
        world: "destination-plugin",
        imports: { default: async | trappable },
        exports: { default: async },
    });
}

/// `cdp:destination@0.2.0`, frozen.
pub mod v0_2 {
    wasmtime::component::bindgen!({
        path: "../../wit/v0.2.0",
        world: "destination-plugin",
        imports: { default: async | trappable },
        exports: { default: async },
    });
}

/// `cdp:destination@0.3.0`, the current contract.
pub mod v0_3 {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "destination-plugin",
        imports: { default: async | trappable },
        exports: { default: async },
    });
}

/// The contract versions, newest first, as `wasm-tools component wit` names them.
pub const CONTRACT_VERSIONS: [&str; 3] = ["0.3.0", "0.2.0", "0.1.0"];

/// Adds the imports of every contract version to `linker`.
pub fn add_to_linker(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    v0_1::DestinationPlugin::add_to_linker::<_, HasSelf<_>>(linker, |state| state)?;
    v0_2::DestinationPlugin::add_to_linker::<_, HasSelf<_>>(linker, |state| state)?;
    v0_3::DestinationPlugin::add_to_linker::<_, HasSelf<_>>(linker, |state| state)?;
    Ok(())
}

/// A component linked against one contract version.
pub enum Pre {
    V0_1(v0_1::DestinationPluginPre<CallState>),
    V0_2(v0_2::DestinationPluginPre<CallState>),
    V0_3(v0_3::DestinationPluginPre<CallState>),
}

/// One instance of a plugin, in the Store of one call.
pub enum Instance {
    V0_1(v0_1::DestinationPlugin),
    V0_2(v0_2::DestinationPlugin),
    V0_3(v0_3::DestinationPlugin),
}

impl Pre {
    /// Links `component` against the newest contract version it implements.
    pub fn new(linker: &Linker<CallState>, component: &Component) -> wasmtime::Result<Pre> {
        let pre = || linker.instantiate_pre(component);
        let newest = pre().and_then(v0_3::DestinationPluginPre::new);
        match newest {
            Ok(pre) => Ok(Pre::V0_3(pre)),
            Err(newest_error) => (pre()
                .and_then(v0_2::DestinationPluginPre::new)
                .map(Pre::V0_2))
            .or_else(|_| {
                pre()
                    .and_then(v0_1::DestinationPluginPre::new)
                    .map(Pre::V0_1)
            })
            // The newest version's complaint is the useful one for a plugin author.
            .map_err(|_| newest_error),
        }
    }

    /// The contract version the component implements.
    pub fn contract_version(&self) -> &'static str {
        match self {
            Pre::V0_1(_) => "0.1.0",
            Pre::V0_2(_) => "0.2.0",
            Pre::V0_3(_) => "0.3.0",
        }
    }

    pub fn engine(&self) -> &wasmtime::Engine {
        match self {
            Pre::V0_1(pre) => pre.engine(),
            Pre::V0_2(pre) => pre.engine(),
            Pre::V0_3(pre) => pre.engine(),
        }
    }

    pub async fn instantiate(&self, store: &mut Store<CallState>) -> wasmtime::Result<Instance> {
        Ok(match self {
            Pre::V0_1(pre) => Instance::V0_1(pre.instantiate_async(store).await?),
            Pre::V0_2(pre) => Instance::V0_2(pre.instantiate_async(store).await?),
            Pre::V0_3(pre) => Instance::V0_3(pre.instantiate_async(store).await?),
        })
    }
}

impl Instance {
    pub async fn transform(
        &self,
        store: &mut Store<CallState>,
        config: &str,
        event: &str,
    ) -> wasmtime::Result<Result<Outcome, GuestError>> {
        Ok(match self {
            Instance::V0_1(i) => i
                .cdp_destination_destination()
                .call_transform(store, config, event)
                .await?
                .map(Into::into)
                .map_err(Into::into),
            Instance::V0_2(i) => i
                .cdp_destination_destination()
                .call_transform(store, config, event)
                .await?
                .map(Into::into)
                .map_err(Into::into),
            Instance::V0_3(i) => i
                .cdp_destination_destination()
                .call_transform(store, config, event)
                .await?
                .map(Into::into)
                .map_err(Into::into),
        })
    }

    pub async fn describe(&self, store: &mut Store<CallState>) -> wasmtime::Result<Description> {
        Ok(match self {
            Instance::V0_1(i) => i
                .cdp_destination_destination()
                .call_describe(store)
                .await?
                .into(),
            Instance::V0_2(i) => i
                .cdp_destination_destination()
                .call_describe(store)
                .await?
                .into(),
            Instance::V0_3(i) => i
                .cdp_destination_destination()
                .call_describe(store)
                .await?
                .into(),
        })
    }

    /// `validate-config`; a 0.1.0 plugin reports no facts (`None`).
    pub async fn validate_config(
        &self,
        store: &mut Store<CallState>,
        config: &str,
    ) -> wasmtime::Result<Result<Option<ConfigFacts>, GuestError>> {
        Ok(match self {
            Instance::V0_1(i) => i
                .cdp_destination_destination()
                .call_validate_config(store, config)
                .await?
                .map(|()| None)
                .map_err(Into::into),
            Instance::V0_2(i) => i
                .cdp_destination_destination()
                .call_validate_config(store, config)
                .await?
                .map(|facts| Some(ConfigFacts::from(facts)))
                .map_err(Into::into),
            Instance::V0_3(i) => i
                .cdp_destination_destination()
                .call_validate_config(store, config)
                .await?
                .map(|facts| Some(ConfigFacts::from(facts)))
                .map_err(Into::into),
        })
    }
}

impl Instance {
    /// `transform-batch` (new in 0.2.0): the outer error fails the whole batch. `None` for a
    /// 0.1.0 plugin, which does not export it.
    #[allow(clippy::type_complexity)]
    pub async fn transform_batch(
        &self,
        store: &mut Store<CallState>,
        config: &str,
        events: &[String],
    ) -> wasmtime::Result<Option<Result<Vec<Result<Outcome, GuestError>>, GuestError>>> {
        /// The batch's results in the host's types.
        macro_rules! converted {
            ($returned:expr) => {
                $returned.map_err(Into::into).map(|results| {
                    results
                        .into_iter()
                        .map(|result| result.map(Into::into).map_err(Into::into))
                        .collect()
                })
            };
        }
        Ok(match self {
            Instance::V0_1(_) => None,
            Instance::V0_2(i) => Some(converted!(
                i.cdp_destination_destination()
                    .call_transform_batch(store, config, events)
                    .await?
            )),
            Instance::V0_3(i) => Some(converted!(
                i.cdp_destination_destination()
                    .call_transform_batch(store, config, events)
                    .await?
            )),
        })
    }

    /// `list-fields` (new in 0.2.0); `None` for a 0.1.0 plugin, which does not export it, and
    /// for an object type its version does not know (0.2.0 knows users, organizations and
    /// tickets).
    pub async fn list_fields(
        &self,
        store: &mut Store<CallState>,
        config: &str,
        object: ObjectType,
    ) -> wasmtime::Result<Option<Result<Vec<FieldInfo>, GuestError>>> {
        use v0_2::exports::cdp::destination::destination as v2;
        use v0_3::exports::cdp::destination::destination as v3;
        /// `list-fields` on one version's instance, its fields in the host's type.
        macro_rules! list {
            ($instance:expr, $object:expr) => {
                $instance
                    .cdp_destination_destination()
                    .call_list_fields(store, config, $object)
                    .await?
                    .map(|fields| fields.into_iter().map(FieldInfo::from).collect())
                    .map_err(GuestError::from)
            };
        }
        let listed = match (self, object) {
            (Instance::V0_1(_), _) => return Ok(None),
            (Instance::V0_2(i), ObjectType::Users) => list!(i, v2::ObjectType::Users),
            (Instance::V0_2(i), ObjectType::Organizations) => {
                list!(i, v2::ObjectType::Organizations)
            }
            (Instance::V0_2(i), ObjectType::Tickets) => list!(i, v2::ObjectType::Tickets),
            (Instance::V0_2(_), _) => return Ok(None),
            (Instance::V0_3(i), object) => list!(
                i,
                match object {
                    ObjectType::Users => v3::ObjectType::Users,
                    ObjectType::Organizations => v3::ObjectType::Organizations,
                    ObjectType::Tickets => v3::ObjectType::Tickets,
                    ObjectType::OrganizationMemberships => v3::ObjectType::OrganizationMemberships,
                    ObjectType::TicketComments => v3::ObjectType::TicketComments,
                    ObjectType::CustomObjects => v3::ObjectType::CustomObjects,
                }
            ),
        };
        Ok(Some(listed))
    }
}

/// The types since 0.2.0 have the same shape in every version: one conversion, stamped per version.
macro_rules! convert_since_0_2 {
    ($version:ident) => {
        impl From<$version::exports::cdp::destination::destination::FieldInfo> for FieldInfo {
            fn from(f: $version::exports::cdp::destination::destination::FieldInfo) -> FieldInfo {
                FieldInfo {
                    key: f.key,
                    id: f.id,
                    title: f.title,
                    field_type: f.field_type,
                    options: f.options.into_iter().map(|o| (o.name, o.value)).collect(),
                    required: f.required,
                    active: f.active,
                    custom: f.custom,
                }
            }
        }

        impl From<$version::exports::cdp::destination::destination::ConfigFacts> for ConfigFacts {
            fn from(
                facts: $version::exports::cdp::destination::destination::ConfigFacts,
            ) -> ConfigFacts {
                ConfigFacts {
                    origin_values: facts.origin_values,
                    secrets: facts.secrets,
                }
            }
        }

        impl From<$version::exports::cdp::destination::destination::Description> for Description {
            fn from(
                d: $version::exports::cdp::destination::destination::Description,
            ) -> Description {
                Description {
                    name: d.name,
                    version: d.version,
                    event_types: d.event_types,
                    settings_schema: d.settings_schema,
                    max_batch_size: d.max_batch_size.max(1),
                }
            }
        }
    };
}

/// The export types have the same shape in every version: one conversion, stamped per version.
macro_rules! convert_exports {
    ($version:ident) => {
        impl From<$version::exports::cdp::destination::destination::Outcome> for Outcome {
            fn from(outcome: $version::exports::cdp::destination::destination::Outcome) -> Outcome {
                Outcome {
                    operations: outcome
                        .operations
                        .into_iter()
                        .map(|op| Operation {
                            method: op.method,
                            path: op.path,
                            status: op.status,
                        })
                        .collect(),
                    skipped: outcome.skipped,
                }
            }
        }

        impl From<$version::exports::cdp::destination::destination::Error> for GuestError {
            fn from(error: $version::exports::cdp::destination::destination::Error) -> GuestError {
                use $version::exports::cdp::destination::destination::Error as E;
                match error {
                    E::InvalidConfig(m) => GuestError::InvalidConfig(m),
                    E::InvalidEvent(m) => GuestError::InvalidEvent(m),
                    E::UnsupportedEvent(m) => GuestError::UnsupportedEvent(m),
                    E::Retryable(retry) => GuestError::Retryable {
                        message: retry.message,
                        retry_after_seconds: retry.retry_after_seconds,
                    },
                    E::Rejected(rejection) => GuestError::Rejected {
                        status: rejection.status,
                        message: rejection.message,
                    },
                }
            }
        }
    };
}

impl From<v0_1::exports::cdp::destination::destination::Description> for Description {
    fn from(d: v0_1::exports::cdp::destination::destination::Description) -> Description {
        Description {
            name: d.name,
            version: d.version,
            event_types: d.event_types,
            settings_schema: d.settings_schema,
            max_batch_size: 1,
        }
    }
}

convert_exports!(v0_1);
convert_exports!(v0_2);
convert_exports!(v0_3);
convert_since_0_2!(v0_2);
convert_since_0_2!(v0_3);
