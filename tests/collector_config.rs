//! The files under `collector/` (Collector config and overlays, compose
//! stack, Prometheus, Grafana, Kubernetes manifests) agree with each other
//! and with the code: component names, ports, service names, mounted files,
//! the metric and label names the dashboard queries (derived from
//! `xmtp_opmon::semconv`, so a rename there breaks this test), and the opmon
//! flags the Jobs use. No network, no Docker; `promtool` checks
//! `prometheus.yml` when it is installed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;
use serde_json::Value as Json;
use serde_yaml_ng::Value as Yaml;
use xmtp_opmon::semconv;

// --- helpers ---------------------------------------------------------------

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn collector_dir() -> PathBuf {
    repo().join("collector")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Every YAML document in a file.
fn yaml_docs(path: &Path) -> Vec<Yaml> {
    let text = read(path);
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|doc| {
            Yaml::deserialize(doc)
                .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()))
        })
        .filter(|doc| !doc.is_null())
        .collect()
}

/// The single YAML document of a file.
fn yaml(path: &Path) -> Yaml {
    let mut docs = yaml_docs(path);
    assert_eq!(docs.len(), 1, "{} should hold one document", path.display());
    docs.remove(0)
}

fn json(path: &Path) -> Json {
    serde_json::from_str(&read(path))
        .unwrap_or_else(|e| panic!("{} is not valid JSON: {e}", path.display()))
}

/// `value[a][b]...`, or `Null` when any step is missing.
fn at<'a>(value: &'a Yaml, path: &[&str]) -> &'a Yaml {
    static NULL: Yaml = Yaml::Null;
    path.iter()
        .fold(value, |v, key| v.get(*key).unwrap_or(&NULL))
}

fn str_at<'a>(value: &'a Yaml, path: &[&str]) -> &'a str {
    at(value, path)
        .as_str()
        .unwrap_or_else(|| panic!("no string at {path:?}"))
}

fn keys(value: &Yaml) -> BTreeSet<String> {
    value
        .as_mapping()
        .map(|m| {
            m.keys()
                .filter_map(|k| k.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn strings(value: &Yaml) -> Vec<String> {
    value
        .as_sequence()
        .map(|s| {
            s.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The Collector's merge of several `--config` files: maps merge key by
/// key, everything else (lists included) is replaced by the later file.
fn merge(base: &mut Yaml, overlay: &Yaml) {
    match (base, overlay) {
        (Yaml::Mapping(base), Yaml::Mapping(overlay)) => {
            for (key, value) in overlay {
                match base.get_mut(key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        base.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (base, overlay) => *base = overlay.clone(),
    }
}

/// The port at the end of `host:port` or a URL.
fn port_of(endpoint: &str) -> u16 {
    endpoint
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in `{endpoint}`"))
}

/// The host of `host:port` or `scheme://host:port/...`.
fn host_of(endpoint: &str) -> &str {
    let rest = endpoint.split_once("://").map_or(endpoint, |(_, r)| r);
    rest.split(['/', ':']).next().unwrap_or("")
}

fn opmon_help(subcommand: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_opmon"))
        .args([subcommand, "--help"])
        .output()
        .expect("opmon runs");
    assert!(out.status.success(), "opmon {subcommand} --help failed");
    String::from_utf8(out.stdout).expect("help is UTF-8")
}

/// Long flags (`--name`) in a text.
fn long_flags(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|t| t.len() > 2 && t.starts_with("--") && !t.starts_with("---"))
        .map(str::to_owned)
        .collect()
}

fn otelcol() -> Yaml {
    yaml(&collector_dir().join("otelcol.yaml"))
}

/// `otelcol.yaml` alone and merged with each overlay beside it.
fn otelcol_variants() -> Vec<(String, Yaml)> {
    let mut variants = vec![("otelcol.yaml".to_owned(), otelcol())];
    let mut overlays: Vec<PathBuf> = std::fs::read_dir(collector_dir())
        .expect("collector/ exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.starts_with("otelcol.") && name.ends_with(".yaml") && name != "otelcol.yaml"
        })
        .collect();
    overlays.sort();
    assert!(!overlays.is_empty(), "the no-honeycomb overlay is missing");
    for overlay in overlays {
        let mut merged = otelcol();
        merge(&mut merged, &yaml(&overlay));
        let name = overlay.file_name().unwrap().to_string_lossy().into_owned();
        variants.push((format!("otelcol.yaml + {name}"), merged));
    }
    variants
}

fn compose() -> Yaml {
    yaml(&collector_dir().join("docker-compose.yml"))
}

/// The compose service running the Collector.
fn collector_service(compose: &Yaml) -> (String, Yaml) {
    let services = at(compose, &["services"]);
    let name = keys(services)
        .into_iter()
        .find(|name| name.contains("collector"))
        .expect("a collector service in docker-compose.yml");
    let service = services[name.as_str()].clone();
    (name, service)
}

// --- every file parses -----------------------------------------------------

#[test]
fn every_yaml_and_json_file_parses() {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("readable dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                walk(&path, found);
            } else {
                found.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&collector_dir(), &mut files);
    let mut checked = 0;
    for file in &files {
        match file.extension().and_then(|e| e.to_str()) {
            Some("yaml" | "yml") => {
                assert!(!yaml_docs(file).is_empty(), "{} is empty", file.display());
                checked += 1;
            }
            Some("json") => {
                json(file);
                checked += 1;
            }
            _ => {}
        }
    }
    assert!(
        checked >= 12,
        "expected the whole stack, parsed {checked} files"
    );
}

// --- the Collector ---------------------------------------------------------

#[test]
fn pipelines_name_only_defined_components() {
    for (name, config) in otelcol_variants() {
        let extensions = keys(at(&config, &["extensions"]));
        for used in strings(at(&config, &["service", "extensions"])) {
            assert!(
                extensions.contains(&used),
                "{name}: service extension `{used}` is not defined"
            );
        }
        let pipelines = at(&config, &["service", "pipelines"]);
        let pipeline_names = keys(pipelines);
        assert!(
            pipeline_names.contains("traces") && pipeline_names.contains("metrics"),
            "{name}: needs a traces and a metrics pipeline, has {pipeline_names:?}"
        );
        for pipeline in &pipeline_names {
            let spec = &pipelines[pipeline.as_str()];
            for kind in ["receivers", "processors", "exporters"] {
                let defined = keys(at(&config, &[kind]));
                let used = strings(&spec[kind]);
                if kind != "processors" {
                    assert!(!used.is_empty(), "{name}: {pipeline} has no {kind}");
                }
                for component in &used {
                    assert!(
                        defined.contains(component),
                        "{name}: {pipeline} uses {kind} `{component}`, not defined (defined: {defined:?})"
                    );
                }
            }
            let processors = strings(&spec["processors"]);
            assert_eq!(
                processors.first().map(String::as_str),
                Some("memory_limiter"),
                "{name}: {pipeline} should start with memory_limiter"
            );
            assert!(
                processors.iter().any(|p| p == "batch"),
                "{name}: {pipeline} should batch"
            );
        }
        // An exporter's authenticator must be a running extension.
        let running = strings(at(&config, &["service", "extensions"]));
        for (exporter, spec) in at(&config, &["exporters"]).as_mapping().unwrap() {
            if let Some(auth) = at(spec, &["auth", "authenticator"]).as_str() {
                assert!(
                    running.iter().any(|e| e == auth),
                    "{name}: exporter {exporter:?} authenticates with `{auth}`, not in service.extensions"
                );
            }
        }
    }
}

#[test]
fn receiver_ports_match_opmon_and_exporters_name_their_backends() {
    let config = otelcol();
    let grpc = str_at(
        &config,
        &["receivers", "otlp", "protocols", "grpc", "endpoint"],
    );
    let http = str_at(
        &config,
        &["receivers", "otlp", "protocols", "http", "endpoint"],
    );
    assert_eq!(port_of(grpc), 4317);
    assert_eq!(port_of(http), 4318);

    // opmon's default OTLP endpoint, as its help states it.
    let help = opmon_help("bench");
    let default = help
        .split_whitespace()
        .find(|w| w.starts_with("http://localhost:"))
        .expect("`opmon bench --help` names its default OTLP endpoint");
    assert_eq!(
        port_of(default.trim_end_matches(']')),
        port_of(grpc),
        "opmon's default endpoint and the Collector's gRPC receiver"
    );

    // Jaeger: OTLP to the jaeger service of the compose file.
    let compose = compose();
    let services = keys(at(&compose, &["services"]));
    let exporters = at(&config, &["exporters"]);
    let jaeger = str_at(exporters, &["otlp/jaeger", "endpoint"]);
    assert!(
        services.contains(host_of(jaeger)),
        "the Jaeger exporter sends to `{jaeger}`, not a compose service ({services:?})"
    );
    assert_eq!(port_of(jaeger), 4317);
    assert_eq!(
        at(
            &compose,
            &[
                "services",
                "jaeger",
                "environment",
                "COLLECTOR_OTLP_ENABLED"
            ]
        )
        .as_str(),
        Some("true")
    );

    // Honeycomb: TLS endpoint, key from the environment, a metrics dataset.
    let mut honeycomb = 0;
    for (name, spec) in exporters.as_mapping().unwrap() {
        let name = name.as_str().unwrap();
        if !name.contains("honeycomb") {
            continue;
        }
        honeycomb += 1;
        assert_eq!(
            str_at(spec, &["endpoint"]),
            "api.honeycomb.io:443",
            "{name}"
        );
        assert!(
            at(spec, &["tls", "insecure"]).as_bool() != Some(true),
            "{name} must use TLS"
        );
        let team = at(spec, &["headers", "x-honeycomb-team"]);
        assert_eq!(
            team.as_str(),
            Some("${env:HONEYCOMB_API_KEY}"),
            "{name}: the key comes from HONEYCOMB_API_KEY"
        );
        if name.contains("metrics") {
            assert!(
                at(spec, &["headers", "x-honeycomb-dataset"])
                    .as_str()
                    .is_some(),
                "{name}: metrics need x-honeycomb-dataset"
            );
        }
    }
    assert_eq!(honeycomb, 2, "a trace and a metrics exporter for Honeycomb");

    // The passthrough overlay keeps request metadata for headers_setter.
    let mut passthrough = otelcol();
    merge(
        &mut passthrough,
        &yaml(&collector_dir().join("otelcol.honeycomb-passthrough.yaml")),
    );
    assert_eq!(
        at(
            &passthrough,
            &["receivers", "otlp", "protocols", "grpc", "include_metadata"]
        )
        .as_bool(),
        Some(true)
    );
    assert_eq!(
        strings(at(&passthrough, &["processors", "batch", "metadata_keys"])),
        ["x-honeycomb-team"]
    );
    let setter = &at(
        &passthrough,
        &["extensions", "headers_setter/honeycomb", "headers"],
    )[0];
    assert_eq!(str_at(setter, &["from_context"]), "x-honeycomb-team");
}

#[test]
fn prometheus_scrapes_the_collector_exporter_and_the_pushgateway() {
    let config = otelcol();
    let exporter_port = port_of(str_at(&config, &["exporters", "prometheus", "endpoint"]));
    let compose = compose();
    let (collector_name, collector) = collector_service(&compose);

    let prometheus = yaml(&collector_dir().join("prometheus.yml"));
    let targets: Vec<String> = at(&prometheus, &["scrape_configs"])
        .as_sequence()
        .expect("scrape_configs")
        .iter()
        .flat_map(|job| {
            at(job, &["static_configs"])
                .as_sequence()
                .cloned()
                .unwrap_or_default()
        })
        .flat_map(|sc| strings(at(&sc, &["targets"])))
        .collect();
    let collector_target = format!("{collector_name}:{exporter_port}");
    assert!(
        targets.contains(&collector_target),
        "prometheus.yml should scrape {collector_target}, scrapes {targets:?}"
    );
    assert!(
        published_ports(&collector).contains(&exporter_port),
        "the compose Collector publishes its prometheus exporter port"
    );

    // The Pushgateway: its default port, published, scraped with honor_labels.
    let pushgateway = at(&compose, &["services", "pushgateway"]);
    assert!(published_ports(pushgateway).contains(&9091));
    assert!(
        targets.contains(&"pushgateway:9091".to_owned()),
        "{targets:?}"
    );
    let push_job = at(&prometheus, &["scrape_configs"])
        .as_sequence()
        .unwrap()
        .iter()
        .find(|job| {
            strings(at(job, &["static_configs"])[0].get("targets").unwrap())
                .contains(&"pushgateway:9091".to_owned())
        })
        .expect("a pushgateway scrape job");
    assert_eq!(at(push_job, &["honor_labels"]).as_bool(), Some(true));

    // The Collector publishes the OTLP ports on the host.
    let ports = published_ports(&collector);
    assert!(ports.contains(&4317) && ports.contains(&4318), "{ports:?}");
}

/// Container ports a compose service publishes (`"host:container"`).
fn published_ports(service: &Yaml) -> Vec<u16> {
    strings(at(service, &["ports"]))
        .iter()
        .map(|p| port_of(p.split('/').next().unwrap()))
        .collect()
}

#[test]
#[ignore = "needs promtool (apt-get install prometheus)"]
fn promtool_accepts_prometheus_yml() {
    let file = collector_dir().join("prometheus.yml");
    let out = Command::new("promtool")
        .args(["check", "config"])
        .arg(&file)
        .output()
        .expect("promtool runs: install it with `apt-get install prometheus`");
    assert!(
        out.status.success(),
        "promtool check config failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

// --- docker compose --------------------------------------------------------

#[test]
fn compose_has_the_stack_and_mounts_files_that_exist() {
    let compose = compose();
    let services = keys(at(&compose, &["services"]));
    for needed in ["jaeger", "prometheus", "pushgateway", "grafana"] {
        assert!(
            services.contains(needed),
            "no `{needed}` service: {services:?}"
        );
    }
    let (_, collector) = collector_service(&compose);
    assert!(str_at(&collector, &["image"]).contains("opentelemetry-collector-contrib"));

    let mut mounted = BTreeMap::new();
    for service in &services {
        let spec = &at(&compose, &["services"])[service.as_str()];
        for volume in strings(at(spec, &["volumes"])) {
            let mut parts = volume.split(':');
            let (source, target) = (parts.next().unwrap(), parts.next().unwrap_or(""));
            if source.starts_with('.') {
                let path = collector_dir().join(source);
                assert!(
                    path.exists(),
                    "{service} mounts {source}, which does not exist"
                );
                mounted.insert(target.to_owned(), path);
            }
        }
        for dependency in strings(at(spec, &["depends_on"])) {
            assert!(
                services.contains(&dependency),
                "{service} depends on unknown {dependency}"
            );
        }
    }

    // Every --config the Collector starts with is a mounted file (an
    // overlay variable falls back to its default).
    let configs: Vec<String> = strings(at(&collector, &["command"]))
        .into_iter()
        .filter_map(|arg| arg.strip_prefix("--config=").map(str::to_owned))
        .collect();
    assert!(
        configs.len() >= 2,
        "base config and an overlay: {configs:?}"
    );
    for config in configs {
        let resolved = match (config.find("${"), config.find(":-")) {
            (Some(start), Some(dash)) => {
                let end = config[dash..]
                    .find('}')
                    .map(|e| e + dash)
                    .expect("closing brace");
                format!(
                    "{}{}{}",
                    &config[..start],
                    &config[dash + 2..end],
                    &config[end + 1..]
                )
            }
            _ => config.clone(),
        };
        assert!(
            mounted.contains_key(&resolved),
            "{resolved} is not mounted into the Collector"
        );
    }
    // Every overlay is mounted, so OTELCOL_OVERLAY can name any of them.
    for entry in std::fs::read_dir(collector_dir()).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.starts_with("otelcol.") {
            assert!(
                mounted.contains_key(&format!("/etc/otelcol/{name}")),
                "{name} is not mounted into the Collector"
            );
        }
    }

    // The opmon image builds from the repository's Dockerfile.
    let opmon = at(&compose, &["services", "opmon"]);
    let context = collector_dir().join(str_at(opmon, &["build", "context"]));
    let dockerfile = read(&context.join(str_at(opmon, &["build", "dockerfile"])));
    for needed in [
        "FROM rust:1-bookworm",
        "cargo build --release --bin opmon",
        "FROM debian:bookworm-slim",
        "ca-certificates",
        "ENTRYPOINT [\"opmon\"]",
    ] {
        assert!(dockerfile.contains(needed), "Dockerfile lacks `{needed}`");
    }
}

#[test]
fn grafana_provisioning_points_at_prometheus_and_the_dashboard() {
    let compose = compose();
    let datasources =
        yaml(&collector_dir().join("grafana/provisioning/datasources/prometheus.yaml"));
    let source = &at(&datasources, &["datasources"])[0];
    assert_eq!(str_at(source, &["type"]), "prometheus");
    let url = str_at(source, &["url"]);
    assert!(
        keys(at(&compose, &["services"])).contains(host_of(url)),
        "the data source {url} is not a compose service"
    );
    assert_eq!(port_of(url), 9090);
    let uid = str_at(source, &["uid"]);

    let providers = yaml(&collector_dir().join("grafana/provisioning/dashboards/opmon.yaml"));
    let path = str_at(&at(&providers, &["providers"])[0], &["options", "path"]);
    let grafana_volumes = strings(at(&compose, &["services", "grafana", "volumes"]));
    assert!(
        grafana_volumes
            .iter()
            .any(|v| v.starts_with("./grafana/dashboards:") && v.contains(path)),
        "grafana/dashboards is not mounted at the provider path {path}: {grafana_volumes:?}"
    );

    // Every datasource reference in the dashboard is the provisioned one.
    let dashboard = json(&collector_dir().join("grafana/dashboards/opmon.json"));
    let mut refs = Vec::new();
    walk_json(&dashboard, &mut |key, value| {
        if key == "datasource" {
            refs.push(value.clone());
        }
    });
    assert!(!refs.is_empty());
    for reference in refs {
        assert_eq!(reference["uid"], uid, "dashboard datasource {reference}");
    }
}

// --- the dashboard queries what the code emits -----------------------------

fn walk_json(value: &Json, visit: &mut dyn FnMut(&str, &Json)) {
    match value {
        Json::Object(map) => {
            for (key, child) in map {
                visit(key, child);
                walk_json(child, visit);
            }
        }
        Json::Array(items) => {
            for item in items {
                visit("", item);
                walk_json(item, visit);
            }
        }
        _ => {}
    }
}

/// A Prometheus name from an OpenTelemetry one, as the Collector's
/// prometheus exporter (and our Pushgateway renderer) write it.
fn prom_name(otel: &str) -> String {
    otel.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// Series names and the labels each carries, derived from `semconv`.
fn expected_series() -> BTreeMap<String, BTreeSet<String>> {
    use semconv::*;
    let op_labels = [
        XMTP_OPERATION,
        XMTP_API,
        XMTP_TRAFFIC,
        XMTP_OUTCOME,
        XMTP_ERROR_CLASS,
        ERROR_TYPE,
        XMTP_GROUP_SIZE_BUCKET,
    ];
    let phase_labels = [
        XMTP_PHASE,
        XMTP_OPERATION,
        XMTP_API,
        XMTP_TRAFFIC,
        XMTP_OUTCOME,
    ];
    let active_labels = [XMTP_OPERATION, XMTP_API, XMTP_TRAFFIC];
    let rpc_labels = [
        RPC_SYSTEM_NAME,
        RPC_METHOD,
        XMTP_RPC_FAMILY,
        RPC_RESPONSE_STATUS_CODE,
        ERROR_TYPE,
        SERVER_ADDRESS,
        SERVER_PORT,
    ];
    let metrics: [(&str, &[&str]); 4] = [
        (OPERATION_DURATION, &op_labels),
        (PHASE_DURATION, &phase_labels),
        (OPERATION_ACTIVE, &active_labels),
        (RPC_CLIENT_CALL_DURATION, &rpc_labels),
    ];
    let mut series = BTreeMap::new();
    for (metric, labels) in metrics {
        let mut labels: BTreeSet<String> = labels.iter().map(|l| prom_name(l)).collect();
        // The unit becomes a suffix; `{annotations}` are dropped.
        let base = match unit(metric) {
            Some(UNIT_SECONDS) => format!("{}_seconds", prom_name(metric)),
            _ => prom_name(metric),
        };
        if histogram_boundaries(metric).is_some() {
            for suffix in ["_sum", "_count"] {
                series.insert(format!("{base}{suffix}"), labels.clone());
            }
            labels.insert("le".to_owned());
            series.insert(format!("{base}_bucket"), labels);
        } else {
            series.insert(base, labels);
        }
    }
    series
}

/// Identifiers in a PromQL expression or legend, outside quoted strings
/// and not Grafana variables (`$name`).
fn identifiers(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut chars = text.char_indices().peekable();
    let mut quote = None;
    let mut previous = ' ';
    while let Some((i, c)) = chars.next() {
        if let Some(q) = quote {
            if c == q && previous != '\\' {
                quote = None;
            }
            previous = c;
            continue;
        }
        if c == '"' || c == '\'' || c == '`' {
            quote = Some(c);
        } else if c.is_ascii_alphabetic() || c == '_' {
            let mut end = i + c.len_utf8();
            while let Some(&(j, d)) = chars.peek() {
                if d.is_ascii_alphanumeric() || d == '_' {
                    end = j + 1;
                    chars.next();
                } else {
                    break;
                }
            }
            if previous != '$' {
                found.push(text[i..end].to_owned());
            }
            previous = 'a';
            continue;
        }
        previous = c;
    }
    found
}

#[test]
fn dashboard_queries_only_names_the_code_emits() {
    let series = expected_series();
    let dashboard = json(&collector_dir().join("grafana/dashboards/opmon.json"));

    // (expression, legend) pairs: panel targets and variable queries.
    let mut queries: Vec<(String, String)> = Vec::new();
    walk_json(&dashboard, &mut |_, value| {
        if let Some(expr) = value.get("expr").and_then(Json::as_str) {
            let legend = value
                .get("legendFormat")
                .and_then(Json::as_str)
                .unwrap_or("");
            queries.push((expr.to_owned(), legend.to_owned()));
        }
        if value.get("type").and_then(Json::as_str) == Some("query") {
            if let Some(query) = value["query"]["query"].as_str() {
                queries.push((query.to_owned(), String::new()));
            }
        }
    });
    assert!(queries.len() >= 10, "found only {} queries", queries.len());

    let mut used = BTreeSet::new();
    for (expr, legend) in &queries {
        let names: Vec<String> = identifiers(expr)
            .into_iter()
            .chain(identifiers(legend))
            .filter(|id| id.starts_with("xmtp_") || id.starts_with("rpc_"))
            .collect();
        let metrics: Vec<&String> = names.iter().filter(|n| series.contains_key(*n)).collect();
        assert!(
            !metrics.is_empty(),
            "`{expr}` queries none of {:?}",
            series.keys()
        );
        let labels: BTreeSet<&String> = metrics.iter().flat_map(|m| &series[*m]).collect();
        for name in &names {
            assert!(
                series.contains_key(name) || labels.contains(name),
                "`{name}` in `{expr}` (legend `{legend}`) is neither a series the code emits nor a label of {metrics:?}"
            );
            used.insert(name.clone());
        }
        if expr.contains("histogram_quantile") {
            assert!(
                expr.contains("_bucket") && identifiers(expr).iter().any(|i| i == "le"),
                "{expr}"
            );
        }
    }

    // The panels the issue asks for.
    let must = [
        format!("{}_seconds_bucket", prom_name(semconv::OPERATION_DURATION)),
        format!("{}_seconds_count", prom_name(semconv::OPERATION_DURATION)),
        format!("{}_seconds_bucket", prom_name(semconv::PHASE_DURATION)),
        prom_name(semconv::XMTP_OPERATION),
        prom_name(semconv::XMTP_PHASE),
        prom_name(semconv::XMTP_ERROR_CLASS),
        prom_name(semconv::XMTP_TRAFFIC),
        prom_name(semconv::XMTP_API),
        prom_name(semconv::XMTP_OUTCOME),
    ];
    for name in must {
        assert!(used.contains(&name), "the dashboard never uses {name}");
    }
    // The names are the ones the issue spells out.
    assert!(used.contains("xmtp_client_operation_duration_seconds_bucket"));
    assert!(used.contains("xmtp_client_phase_duration_seconds_bucket"));
}

// --- Kubernetes ------------------------------------------------------------

fn manifests() -> Vec<(String, Yaml)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(collector_dir().join("k8s"))
        .expect("collector/k8s exists")
        .map(|e| e.unwrap().path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
        .collect();
    files.sort();
    files
        .iter()
        .flat_map(|f| {
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            yaml_docs(f).into_iter().map(move |doc| (name.clone(), doc))
        })
        .collect()
}

fn check_pod_spec(file: &str, pod: &Yaml, claims: &BTreeSet<String>) {
    let containers = at(pod, &["containers"]).as_sequence().expect("containers");
    assert!(!containers.is_empty(), "{file}: no containers");
    let volumes: BTreeSet<String> = at(pod, &["volumes"])
        .as_sequence()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|v| str_at(v, &["name"]).to_owned())
        .collect();
    for container in containers {
        assert!(
            !str_at(container, &["name"]).is_empty(),
            "{file}: container name"
        );
        assert!(
            !str_at(container, &["image"]).is_empty(),
            "{file}: container image"
        );
        for mount in at(container, &["volumeMounts"])
            .as_sequence()
            .cloned()
            .unwrap_or_default()
        {
            let name = str_at(&mount, &["name"]);
            assert!(
                volumes.contains(name),
                "{file}: mount of unknown volume {name}"
            );
        }
    }
    for volume in at(pod, &["volumes"])
        .as_sequence()
        .cloned()
        .unwrap_or_default()
    {
        if let Some(claim) = at(&volume, &["persistentVolumeClaim", "claimName"]).as_str() {
            assert!(
                claims.contains(claim),
                "{file}: claim {claim} has no manifest"
            );
        }
    }
}

#[test]
fn kubernetes_manifests_are_valid_objects() {
    let docs = manifests();
    let claims: BTreeSet<String> = docs
        .iter()
        .filter(|(_, d)| d["kind"] == "PersistentVolumeClaim")
        .map(|(_, d)| str_at(d, &["metadata", "name"]).to_owned())
        .collect();
    let mut kinds = BTreeSet::new();
    for (file, doc) in &docs {
        let kind = str_at(doc, &["kind"]);
        assert!(
            !str_at(doc, &["apiVersion"]).is_empty(),
            "{file}: apiVersion"
        );
        assert!(
            !str_at(doc, &["metadata", "name"]).is_empty(),
            "{file}: metadata.name"
        );
        kinds.insert(kind.to_owned());
        match kind {
            "Job" => {
                assert_eq!(str_at(doc, &["apiVersion"]), "batch/v1");
                let pod = at(doc, &["spec", "template", "spec"]);
                let restart = str_at(pod, &["restartPolicy"]);
                assert!(
                    matches!(restart, "Never" | "OnFailure"),
                    "{file}: restartPolicy {restart}"
                );
                check_pod_spec(file, pod, &claims);
            }
            "Deployment" => {
                assert_eq!(str_at(doc, &["apiVersion"]), "apps/v1");
                let selector = at(doc, &["spec", "selector", "matchLabels"]);
                let labels = at(doc, &["spec", "template", "metadata", "labels"]);
                assert!(!keys(selector).is_empty(), "{file}: empty selector");
                for key in keys(selector) {
                    assert_eq!(
                        selector[key.as_str()],
                        labels[key.as_str()],
                        "{file}: selector {key}"
                    );
                }
                check_pod_spec(file, at(doc, &["spec", "template", "spec"]), &claims);
            }
            "Service" => {
                let ports = at(doc, &["spec", "ports"]).as_sequence().expect("ports");
                assert!(!ports.is_empty(), "{file}: a Service needs ports");
                for port in ports {
                    assert!(
                        at(port, &["port"]).as_u64().is_some(),
                        "{file}: port number"
                    );
                }
                assert!(
                    !keys(at(doc, &["spec", "selector"])).is_empty(),
                    "{file}: selector"
                );
            }
            "PersistentVolumeClaim" => {
                assert!(
                    !strings(at(doc, &["spec", "accessModes"])).is_empty(),
                    "{file}: accessModes"
                );
                assert!(
                    at(doc, &["spec", "resources", "requests", "storage"])
                        .as_str()
                        .is_some(),
                    "{file}: storage request"
                );
            }
            "ConfigMap" => assert!(at(doc, &["data"]).is_mapping(), "{file}: data"),
            other => panic!("{file}: unexpected kind {other}"),
        }
    }
    for kind in ["Job", "Deployment", "Service", "PersistentVolumeClaim"] {
        assert!(kinds.contains(kind), "no {kind} manifest");
    }
    // Every Service selects the pods of some Deployment (the Collector's).
    for (file, service) in docs.iter().filter(|(_, d)| d["kind"] == "Service") {
        let selector = at(service, &["spec", "selector"]);
        let selects = |deployment: &Yaml| {
            let pod_labels = at(deployment, &["spec", "template", "metadata", "labels"]);
            keys(selector)
                .iter()
                .all(|key| selector[key.as_str()] == pod_labels[key.as_str()])
        };
        assert!(
            docs.iter()
                .any(|(_, d)| d["kind"] == "Deployment" && selects(d)),
            "{file}: the Service selects no Deployment's pods"
        );
    }
}

#[test]
fn the_monitor_deployment_runs_opmon_monitor_with_probes_and_scraping() {
    let docs = manifests();
    let (_, deployment) = docs
        .iter()
        .find(|(file, d)| file == "monitor-deployment.yaml" && d["kind"] == "Deployment")
        .expect("monitor-deployment.yaml holds a Deployment");
    let pod = at(deployment, &["spec", "template"]);
    let container = &at(pod, &["spec", "containers"])[0];
    let args = command_line(container);
    assert_eq!(args.first().map(String::as_str), Some("monitor"));
    let known = long_flags(&opmon_help("monitor"));
    for flag in args.iter().filter(|a| a.starts_with("--")) {
        assert!(
            known.contains(flag.as_str()),
            "`opmon monitor` has no {flag}"
        );
    }
    let value = |flag: &str| {
        let at = args.iter().position(|a| a == flag)?;
        args.get(at + 1).cloned()
    };

    // Prometheus is told where /metrics is, and it is where opmon listens.
    let listen = value("--metrics-listen").expect("--metrics-listen");
    let port = port_of(&format!("http://{listen}"));
    let annotations = at(pod, &["metadata", "annotations"]);
    assert_eq!(str_at(annotations, &["prometheus.io/scrape"]), "true");
    assert_eq!(str_at(annotations, &["prometheus.io/path"]), "/metrics");
    assert_eq!(
        str_at(annotations, &["prometheus.io/port"]),
        port.to_string()
    );
    assert!(
        !listen.starts_with("127."),
        "{listen}: the kubelet and Prometheus connect from outside the pod"
    );

    // The probes ask opmon's own endpoints, on that port.
    let ports = at(container, &["ports"]).as_sequence().expect("ports");
    let named = |name: &str| {
        ports
            .iter()
            .find(|p| str_at(p, &["name"]) == name)
            .and_then(|p| at(p, &["containerPort"]).as_u64())
    };
    for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
        let get = at(container, &[probe, "httpGet"]);
        assert_eq!(str_at(get, &["path"]), path, "{probe}");
        let probed = match at(get, &["port"]).as_u64() {
            Some(number) => Some(number),
            None => named(str_at(get, &["port"])),
        };
        assert_eq!(probed, Some(u64::from(port)), "{probe} port");
    }

    // --otlp, if given, names the Collector's Service on its gRPC port.
    if let Some(otlp) = value("--otlp") {
        assert!(
            docs.iter().any(|(_, d)| d["kind"] == "Service"
                && str_at(d, &["metadata", "name"]) == host_of(&otlp)),
            "--otlp {otlp} names no Service"
        );
        assert_eq!(port_of(&otlp), 4317);
    }
}

/// A container's command line: command followed by args.
fn command_line(container: &Yaml) -> Vec<String> {
    let mut line = strings(at(container, &["command"]));
    line.extend(strings(at(container, &["args"])));
    line
}

#[test]
fn the_jobs_run_real_opmon_commands() {
    let docs = manifests();
    let jobs: Vec<&Yaml> = docs
        .iter()
        .map(|(_, d)| d)
        .filter(|d| d["kind"] == "Job")
        .collect();
    let container = |job: &Yaml| at(job, &["spec", "template", "spec", "containers"])[0].clone();
    let line = |job: &Yaml| command_line(&container(job));
    let bench = jobs
        .iter()
        .find(|j| line(j).first().map(String::as_str) == Some("bench"))
        .expect("a Job running `opmon bench` (the image's entrypoint is opmon)");
    let merge = jobs
        .iter()
        .find(|j| line(j).join(" ").contains("opmon merge"))
        .expect("a Job running `opmon merge`");

    // Indexed, parallel.
    assert_eq!(str_at(bench, &["spec", "completionMode"]), "Indexed");
    assert!(at(bench, &["spec", "parallelism"]).as_u64().unwrap_or(0) > 1);

    // Every flag is one `opmon bench` has.
    let args = line(bench);
    let known = long_flags(&opmon_help("bench"));
    for flag in args.iter().filter(|a| a.starts_with("--")) {
        assert!(
            known.contains(flag.as_str()),
            "`opmon bench` has no {flag} (it has {known:?})"
        );
    }
    let value = |flag: &str| {
        let at = args.iter().position(|a| a == flag)?;
        args.get(at + 1).cloned()
    };
    assert!(args.iter().any(|a| a == "--quiet"));
    assert!(
        value("--env").is_some() || (value("--node").is_some() && value("--gateway").is_some()),
        "one real target for every pod: {args:?}"
    );

    // --otlp names the Collector's Service on its gRPC port.
    let otlp = value("--otlp").expect("--otlp URL");
    let service = docs
        .iter()
        .find(|(_, d)| d["kind"] == "Service" && str_at(d, &["metadata", "name"]) == host_of(&otlp))
        .unwrap_or_else(|| panic!("--otlp {otlp} names no Service"));
    let ports: Vec<u64> = at(&service.1, &["spec", "ports"])
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|p| at(p, &["port"]).as_u64())
        .collect();
    assert!(
        ports.contains(&u64::from(port_of(&otlp))),
        "{otlp} vs {ports:?}"
    );
    assert_eq!(port_of(&otlp), 4317);

    // --out is per pod, on the shared volume the merge Job reads.
    let out = value("--out").expect("--out DIR");
    assert!(out.contains("$(JOB_COMPLETION_INDEX)"), "{out}");
    let mount = |job: &Yaml| {
        let c = container(job);
        let m = &at(&c, &["volumeMounts"])[0];
        let volume = str_at(m, &["name"]).to_owned();
        let claim = at(job, &["spec", "template", "spec", "volumes"])
            .as_sequence()
            .unwrap()
            .iter()
            .find(|v| str_at(v, &["name"]) == volume)
            .map(|v| str_at(v, &["persistentVolumeClaim", "claimName"]).to_owned())
            .expect("the results volume is a claim");
        (str_at(m, &["mountPath"]).to_owned(), claim)
    };
    let (bench_path, bench_claim) = mount(bench);
    let (merge_path, merge_claim) = mount(merge);
    assert_eq!(bench_claim, merge_claim, "both Jobs use one results volume");
    assert!(
        out.starts_with(&format!("{bench_path}/")),
        "{out} is not under {bench_path}"
    );

    // The merge reads the pods' directories and writes elsewhere, with real flags.
    let script = line(merge).join(" ");
    let merge_cmd = script
        .split("&&")
        .find(|part| part.contains("opmon merge"))
        .unwrap()
        .trim()
        .to_owned();
    let merge_known = long_flags(&opmon_help("merge"));
    let words: Vec<&str> = merge_cmd.split_whitespace().collect();
    for flag in words.iter().filter(|w| w.starts_with("--")) {
        assert!(merge_known.contains(*flag), "`opmon merge` has no {flag}");
    }
    let out_at = words
        .iter()
        .position(|w| *w == "-o" || *w == "--out")
        .expect("opmon merge -o DIR");
    assert!(opmon_help("merge").contains("-o, --out"));
    let merged = words[out_at + 1];
    assert!(merged.starts_with(&format!("{merge_path}/")), "{merged}");
    let merge_at = words.iter().position(|w| *w == "merge").unwrap();
    let inputs = &words[merge_at + 1..out_at];
    assert!(
        !inputs.is_empty()
            && inputs
                .iter()
                .all(|i| i.starts_with(&format!("{merge_path}/")))
    );
}
