//! A `metrics` recorder that forwards to OpenTelemetry instruments.
//!
//! The instrumentation layers record through the `metrics` facade; this
//! recorder turns each facade metric into the matching OpenTelemetry
//! instrument of one [`Meter`]:
//!
//! | facade | OpenTelemetry |
//! |---|---|
//! | `histogram!` | `f64` histogram, with the unit and explicit boundaries from [`semconv`] |
//! | `gauge!` moved with `increment`/`decrement` | `f64` up-down counter |
//! | `counter!` | `u64` counter |
//!
//! An up-down counter has no "set": a `set` on a gauge cannot be expressed
//! and is dropped (logged once at debug level). Likewise `absolute` on a
//! counter. Labels become attributes; `server.port` becomes an integer
//! attribute as the semantic conventions require.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};
use opentelemetry::metrics::{Meter, MeterProvider as _};
use opentelemetry::KeyValue;
use opentelemetry_sdk::metrics::SdkMeterProvider;

use crate::semconv;

/// Forwards facade metrics to OpenTelemetry instruments, created once per
/// metric name and reused.
pub(super) struct OtelRecorder {
    meter: Meter,
    instruments: RwLock<HashMap<String, Instrument>>,
    described: RwLock<HashMap<String, (Option<Unit>, SharedString)>>,
    /// Histogram handles per full key (name and labels). The layers use
    /// the macros on every call; without this each call would rebuild its
    /// attribute list. Label sets are bounded by design, so is this map.
    histograms: RwLock<HashMap<Key, Histogram>>,
}

#[derive(Clone)]
enum Instrument {
    Histogram(opentelemetry::metrics::Histogram<f64>),
    UpDown(opentelemetry::metrics::UpDownCounter<f64>),
    Counter(opentelemetry::metrics::Counter<u64>),
}

impl OtelRecorder {
    pub(super) fn new(provider: &SdkMeterProvider) -> Self {
        Self {
            meter: provider.meter_with_scope(super::otlp::scope()),
            instruments: RwLock::new(HashMap::new()),
            described: RwLock::new(HashMap::new()),
            histograms: RwLock::new(HashMap::new()),
        }
    }

    fn describe(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        if let Ok(mut described) = self.described.write() {
            described
                .entry(key.as_str().to_owned())
                .or_insert((unit, description));
        }
    }

    /// The instrument for `name`, created on first use. If a name is used
    /// with two kinds, the first kind wins and the other is dropped.
    fn instrument(&self, name: &str, kind: Kind) -> Option<Instrument> {
        if let Some(found) = self.instruments.read().ok()?.get(name) {
            return Some(found.clone());
        }
        let mut instruments = self.instruments.write().ok()?;
        let instrument = instruments
            .entry(name.to_owned())
            .or_insert_with(|| self.create(name, kind));
        Some(instrument.clone())
    }

    fn create(&self, name: &str, kind: Kind) -> Instrument {
        let (described_unit, described_text) = self
            .described
            .read()
            .ok()
            .and_then(|described| described.get(name).cloned())
            .unzip();
        let unit = semconv::unit(name)
            .map(str::to_owned)
            .or_else(|| {
                described_unit
                    .flatten()
                    .map(|u| u.as_canonical_label().to_owned())
            })
            .unwrap_or_default();
        let description = super::description(name)
            .map(str::to_owned)
            .or_else(|| described_text.map(|text| text.to_string()))
            .unwrap_or_default();
        let bounds = semconv::histogram_boundaries(name);
        let name = name.to_owned();
        match kind {
            Kind::Histogram => {
                let mut builder = self
                    .meter
                    .f64_histogram(name)
                    .with_unit(unit)
                    .with_description(description);
                if let Some(bounds) = bounds {
                    builder = builder.with_boundaries(bounds.to_vec());
                }
                Instrument::Histogram(builder.build())
            }
            Kind::UpDown => Instrument::UpDown(
                self.meter
                    .f64_up_down_counter(name)
                    .with_unit(unit)
                    .with_description(description)
                    .build(),
            ),
            Kind::Counter => Instrument::Counter(
                self.meter
                    .u64_counter(name)
                    .with_unit(unit)
                    .with_description(description)
                    .build(),
            ),
        }
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Histogram,
    UpDown,
    Counter,
}

/// Facade labels as OpenTelemetry attributes, in a stable (sorted) order.
fn attributes(key: &Key) -> Arc<[KeyValue]> {
    let mut attributes: Vec<KeyValue> = key
        .labels()
        .map(|label| {
            let name = label.key().to_owned();
            match label.value().parse::<i64>() {
                Ok(port) if label.key() == semconv::SERVER_PORT => KeyValue::new(name, port),
                _ => KeyValue::new(name, label.value().to_owned()),
            }
        })
        .collect();
    attributes.sort_by(|a, b| a.key.as_str().cmp(b.key.as_str()));
    attributes.into()
}

/// Logs `what` at debug level the first time only.
fn log_once(flag: &AtomicBool, what: &str) {
    if !flag.swap(true, Ordering::Relaxed) {
        tracing::debug!("{what}; such calls are dropped by the OpenTelemetry bridge");
    }
}

static GAUGE_SET_DROPPED: AtomicBool = AtomicBool::new(false);
static COUNTER_ABSOLUTE_DROPPED: AtomicBool = AtomicBool::new(false);

struct OtelHistogram(opentelemetry::metrics::Histogram<f64>, Arc<[KeyValue]>);
struct OtelUpDown(opentelemetry::metrics::UpDownCounter<f64>, Arc<[KeyValue]>);
struct OtelCounter(opentelemetry::metrics::Counter<u64>, Arc<[KeyValue]>);

impl HistogramFn for OtelHistogram {
    fn record(&self, value: f64) {
        self.0.record(value, &self.1);
    }
}

impl GaugeFn for OtelUpDown {
    fn increment(&self, value: f64) {
        self.0.add(value, &self.1);
    }

    fn decrement(&self, value: f64) {
        self.0.add(-value, &self.1);
    }

    fn set(&self, _value: f64) {
        log_once(
            &GAUGE_SET_DROPPED,
            "gauge `set` cannot be expressed on an up-down counter",
        );
    }
}

impl CounterFn for OtelCounter {
    fn increment(&self, value: u64) {
        self.0.add(value, &self.1);
    }

    fn absolute(&self, _value: u64) {
        log_once(
            &COUNTER_ABSOLUTE_DROPPED,
            "counter `absolute` cannot be expressed on an OpenTelemetry counter",
        );
    }
}

impl Recorder for OtelRecorder {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.describe(key, unit, description);
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.describe(key, unit, description);
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.describe(key, unit, description);
    }

    fn register_counter(&self, key: &Key, _metadata: &Metadata<'_>) -> Counter {
        match self.instrument(key.name(), Kind::Counter) {
            Some(Instrument::Counter(counter)) => {
                Counter::from_arc(Arc::new(OtelCounter(counter, attributes(key))))
            }
            _ => Counter::noop(),
        }
    }

    fn register_gauge(&self, key: &Key, _metadata: &Metadata<'_>) -> Gauge {
        match self.instrument(key.name(), Kind::UpDown) {
            Some(Instrument::UpDown(counter)) => {
                Gauge::from_arc(Arc::new(OtelUpDown(counter, attributes(key))))
            }
            _ => Gauge::noop(),
        }
    }

    fn register_histogram(&self, key: &Key, _metadata: &Metadata<'_>) -> Histogram {
        if let Some(handle) = self
            .histograms
            .read()
            .ok()
            .and_then(|h| h.get(key).cloned())
        {
            return handle;
        }
        let handle = match self.instrument(key.name(), Kind::Histogram) {
            Some(Instrument::Histogram(histogram)) => {
                Histogram::from_arc(Arc::new(OtelHistogram(histogram, attributes(key))))
            }
            _ => return Histogram::noop(),
        };
        if let Ok(mut histograms) = self.histograms.write() {
            histograms.insert(key.clone(), handle.clone());
        }
        handle
    }
}
