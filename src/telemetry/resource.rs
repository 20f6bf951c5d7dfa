//! The OpenTelemetry resource: who is sending the telemetry.

use opentelemetry::{Key, KeyValue};
use opentelemetry_sdk::Resource;

use super::DEFAULT_SERVICE_NAME;

const SERVICE_NAME: &str = "service.name";
const SERVICE_VERSION: &str = "service.version";
const DEPLOYMENT_ENVIRONMENT_NAME: &str = "deployment.environment.name";

/// Builds the resource from the SDK's detectors (`OTEL_RESOURCE_ATTRIBUTES`,
/// `OTEL_SERVICE_NAME`, `telemetry.sdk.*`) and the builder's settings, which
/// win over the environment.
pub(super) fn build(
    service_name: Option<&str>,
    environment: Option<&str>,
    extra: &[(&'static str, String)],
) -> Resource {
    let detected = Resource::builder().build();
    // The SDK falls back to `unknown_service[:exe]`; ours is more useful.
    let detected_name = detected
        .get(&Key::from_static_str(SERVICE_NAME))
        .map(|name| name.to_string())
        .filter(|name| !name.starts_with("unknown_service"));
    let name = service_name
        .map(str::to_owned)
        .or(detected_name)
        .unwrap_or_else(|| DEFAULT_SERVICE_NAME.to_owned());

    let mut attributes = vec![
        KeyValue::new(SERVICE_NAME, name),
        KeyValue::new(SERVICE_VERSION, env!("CARGO_PKG_VERSION")),
    ];
    if let Some(environment) = environment {
        attributes.push(KeyValue::new(
            DEPLOYMENT_ENVIRONMENT_NAME,
            environment.to_owned(),
        ));
    }
    attributes.extend(
        extra
            .iter()
            .map(|(key, value)| KeyValue::new(*key, value.clone())),
    );
    Resource::builder().with_attributes(attributes).build()
}
