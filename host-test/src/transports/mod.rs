//! The transports the reference host wires in besides the library's real HTTPS one: the
//! in-process mock, and the test routing that sends requests to a loopback mock server.

mod mock;
mod routing;

pub use mock::MockTransport;
pub use routing::{LoopbackOrigin, RoutingTransport, SUBDOMAIN_HEADER};
