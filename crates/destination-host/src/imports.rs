//! The contract's imports (`http-fetch`, `cache`, `log`, and since 0.2.0 `timer`) for every
//! contract version: thin
//! adapters from the generated traits to [`crate::fetch`], [`crate::cache`] and [`crate::logs`].

use std::time::Duration;

use crate::call_state::CallState;
use crate::contract::{v0_1, v0_2, v0_3};
use crate::fetch::{self, FetchRefusal, GuestRequest};

/// The import interfaces have the same shape in every version: one adapter, stamped per version.
/// Whether a version's request says it may be sent twice (0.1.0 requests cannot say: never).
trait Idempotency {
    fn idempotent(&self) -> bool;
}

impl Idempotency for v0_1::cdp::destination::http_fetch::Request {
    fn idempotent(&self) -> bool {
        false
    }
}

impl Idempotency for v0_2::cdp::destination::http_fetch::Request {
    fn idempotent(&self) -> bool {
        self.idempotent
    }
}

impl Idempotency for v0_3::cdp::destination::http_fetch::Request {
    fn idempotent(&self) -> bool {
        self.idempotent
    }
}

macro_rules! impl_imports {
    ($version:ident) => {
        impl $version::cdp::destination::http_fetch::Host for CallState {
            async fn fetch(
                &mut self,
                request: $version::cdp::destination::http_fetch::Request,
            ) -> wasmtime::Result<
                Result<
                    $version::cdp::destination::http_fetch::Response,
                    $version::cdp::destination::http_fetch::FetchError,
                >,
            > {
                use $version::cdp::destination::http_fetch as wit;
                let request = GuestRequest {
                    idempotent: request.idempotent(),
                    method: request.method,
                    url: request.url,
                    headers: request.headers,
                    body: request.body,
                };
                Ok(fetch::fetch(self, request)
                    .await?
                    .map(|response| wit::Response {
                        status: response.status,
                        headers: response.headers,
                        body: response.body,
                    })
                    .map_err(|refusal| match refusal {
                        FetchRefusal::Denied(why) => wit::FetchError::Denied(why),
                        FetchRefusal::Timeout => wit::FetchError::Timeout,
                        FetchRefusal::Connection(why) => wit::FetchError::Connection(why),
                        FetchRefusal::Misconfigured(why) => wit::FetchError::Denied(why),
                        FetchRefusal::TooLarge(cap) => wit::FetchError::TooLarge(cap),
                    }))
            }
        }

        impl $version::cdp::destination::cache::Host for CallState {
            async fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
                Ok(crate::cache::readable(&key)
                    .then(|| self.tenant.cache().get(&key))
                    .flatten())
            }

            async fn set(
                &mut self,
                key: String,
                value: String,
                ttl_seconds: u32,
            ) -> wasmtime::Result<()> {
                let ttl = Duration::from_secs(u64::from(ttl_seconds));
                if crate::cache::storable(&key, &value, ttl) {
                    self.tenant.cache().set(&key, &value, ttl);
                }
                Ok(())
            }

            async fn remove(&mut self, key: String) -> wasmtime::Result<()> {
                self.tenant.cache().remove(&key);
                Ok(())
            }
        }

        impl $version::cdp::destination::log::Host for CallState {
            async fn log(
                &mut self,
                level: $version::cdp::destination::log::Level,
                message: String,
                fields: Vec<(String, String)>,
            ) -> wasmtime::Result<()> {
                use $version::cdp::destination::log::Level;
                let level = match level {
                    Level::Trace => "trace",
                    Level::Debug => "debug",
                    Level::Info => "info",
                    Level::Warn => "warn",
                    Level::Error => "error",
                };
                self.guest_log(level, message, fields)
            }
        }
    };
}

impl_imports!(v0_1);
impl_imports!(v0_2);
impl_imports!(v0_3);

/// Waits within the call's wall budget (holding no thread); false (no wait) when the budget has
/// no room.
async fn wait_within_budget(state: &mut CallState, millis: u32) -> bool {
    let wait = Duration::from_millis(u64::from(millis));
    if !state.budget.may_wait(wait) {
        return false;
    }
    tokio::time::sleep(wait).await;
    state.budget.add_host_time(wait);
    true
}

impl v0_2::cdp::destination::timer::Host for CallState {
    async fn wait(&mut self, millis: u32) -> wasmtime::Result<bool> {
        Ok(wait_within_budget(self, millis).await)
    }
}

impl v0_3::cdp::destination::timer::Host for CallState {
    async fn wait(&mut self, millis: u32) -> wasmtime::Result<bool> {
        Ok(wait_within_budget(self, millis).await)
    }
}
