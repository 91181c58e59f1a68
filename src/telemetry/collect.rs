//! Every metric, encoded at scrape time from the tenants' status, the outputs' counters and
//! the process (`/proc/self`). Names follow Prometheus conventions: `siemfwd_` prefix, base
//! units in the name (`_seconds`, `_bytes`), `_total` on counters (added by the encoder);
//! timestamps are Unix seconds. README lists them.

use std::fmt::Error;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeCounterValue, EncodeGaugeValue, EncodeLabelSet, EncodeMetric,
};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::{MetricType, TypedMetric};

use super::{ApiOutcome, AuthState, Telemetry, TenantStatus};
use crate::alert::Timestamp;

/// Labels: pairs of a name and a value.
type Labels = Vec<(&'static str, String)>;

/// The collector registered with the admin listener's registry.
#[derive(Debug)]
pub(super) struct TelemetryCollector(pub Arc<Telemetry>);

fn seconds(t: Timestamp) -> f64 {
    t.unix_nanos() as f64 / 1e9
}

/// A family of counters: one sample per label set.
fn counters<L: EncodeLabelSet>(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    samples: &[(L, u64)],
) -> Result<(), Error> {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, value) in samples {
        ConstCounter::new(*value).encode(family.encode_family(labels)?)?;
    }
    Ok(())
}

/// A family of gauges: one sample per label set.
fn gauges<L: EncodeLabelSet>(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    samples: &[(L, f64)],
) -> Result<(), Error> {
    let mut family = encoder.encode_descriptor(name, help, None, ConstGauge::<f64>::TYPE)?;
    for (labels, value) in samples {
        ConstGauge::new(*value).encode(family.encode_family(labels)?)?;
    }
    Ok(())
}

impl Collector for TelemetryCollector {
    fn encode(&self, mut e: DescriptorEncoder<'_>) -> Result<(), Error> {
        let t = &self.0;
        let now = Timestamp::now();
        self.tenants(&mut e, now)?;
        self.outputs(&mut e)?;
        gauges(
            &mut e,
            "siemfwd_build_info",
            "The running siemfwd's version (always 1).",
            &[(vec![("version", env!("CARGO_PKG_VERSION").to_owned())], 1.0)],
        )?;
        counters(
            &mut e,
            "siemfwd_config_reloads",
            "SIGHUP reloads of the config: ok (it took effect) or failed (the running config stayed).",
            &[
                (
                    vec![("result", "ok".to_owned())],
                    t.reloads_ok.load(std::sync::atomic::Ordering::Relaxed),
                ),
                (
                    vec![("result", "failed".to_owned())],
                    t.reloads_failed.load(std::sync::atomic::Ordering::Relaxed),
                ),
            ],
        )?;
        process(&mut e, t.started)
    }
}

impl TelemetryCollector {
    fn tenants(&self, e: &mut DescriptorEncoder<'_>, now: Timestamp) -> Result<(), Error> {
        TenantFamilies {
            tenants: &self.0.tenants(),
            now,
        }
        .encode(e)
    }

    fn outputs(&self, e: &mut DescriptorEncoder<'_>) -> Result<(), Error> {
        let outputs = self.0.outputs();
        let one = |name: &str| -> Labels { vec![("output", name.to_owned())] };
        let stats: Vec<_> = outputs
            .iter()
            .map(|(name, o)| (one(name), o.stats(), o.queue_depth()))
            .collect();
        let count = |f: fn(&crate::transport::OutputStats) -> u64| -> Vec<(Labels, u64)> {
            stats.iter().map(|(l, s, _)| (l.clone(), f(s))).collect()
        };
        counters(
            e,
            "siemfwd_output_records_sent",
            "Records written whole to the output's receiver.",
            &count(|s| s.records_delivered),
        )?;
        counters(
            e,
            "siemfwd_output_bytes_sent",
            "Bytes of those records, framing included.",
            &count(|s| s.bytes_delivered),
        )?;
        counters(
            e,
            "siemfwd_output_batches_undelivered",
            "Batches given back undelivered after delivery_timeout (their windows are fetched again).",
            &count(|s| s.batches_failed),
        )?;
        counters(
            e,
            "siemfwd_output_records_resent",
            "Records written again from the replay window after a connection broke.",
            &count(|s| s.records_resent),
        )?;
        counters(
            e,
            "siemfwd_output_connections_opened",
            "Connections opened to the receiver (the first included; one per confirmation over TCP and TLS).",
            &count(|s| s.connects),
        )?;
        let connected: Vec<(Labels, f64)> = stats
            .iter()
            .map(|(l, s, _)| (l.clone(), f64::from(u8::from(s.connected))))
            .collect();
        gauges(
            e,
            "siemfwd_output_connected",
            "1 when the receiver is reachable (the last connection attempt and write succeeded).",
            &connected,
        )?;
        let depth: Vec<(Labels, f64)> = stats
            .iter()
            .map(|(l, _, d)| (l.clone(), *d as f64))
            .collect();
        gauges(
            e,
            "siemfwd_output_queue_depth",
            "Batches queued for the output and not yet taken by its sender.",
            &depth,
        )
    }
}

/// The tenants' families, each written straight from the tenants' status with borrowed labels:
/// a scrape of 1,000 tenants allocates no sample (issue 17: building owned samples first cost
/// ~20 MB of memory the allocator kept).
struct TenantFamilies<'t> {
    tenants: &'t [Arc<TenantStatus>],
    now: Timestamp,
}

/// One family of `kind`, a sample per tenant and per item `samples` gives for it.
fn family<'t, S, V>(
    e: &mut DescriptorEncoder<'_>,
    (name, help, kind): (&str, &str, MetricType),
    tenants: &'t [Arc<TenantStatus>],
    samples: impl Fn(&'t TenantStatus, &mut dyn FnMut(S, V) -> Result<(), Error>) -> Result<(), Error>,
) -> Result<(), Error>
where
    S: EncodeLabelSet,
    V: EncodeCounterValue + EncodeGaugeValue + std::fmt::Debug,
{
    let mut f = e.encode_descriptor(name, help, None, kind)?;
    for t in tenants {
        samples(t, &mut |labels, value| {
            let encoder = f.encode_family(&labels)?;
            match kind {
                MetricType::Counter => ConstCounter::new(value).encode(encoder),
                _ => ConstGauge::new(value).encode(encoder),
            }
        })?;
    }
    Ok(())
}

const COUNTER: MetricType = MetricType::Counter;
const GAUGE: MetricType = MetricType::Gauge;

/// The label set of a tenant's own sample.
fn one(t: &TenantStatus) -> [(&'static str, &str); 1] {
    [("tenant", t.name.as_str())]
}

impl TenantFamilies<'_> {
    fn encode(&self, e: &mut DescriptorEncoder<'_>) -> Result<(), Error> {
        self.counters(e)?;
        self.gauges(e)
    }

    /// What the tenants' polls and calls did.
    fn counters(&self, e: &mut DescriptorEncoder<'_>) -> Result<(), Error> {
        let ts = self.tenants;
        family(
            e,
            (
                "siemfwd_alerts_fetched",
                "Alert versions the alerts API returned, per tenant.",
                COUNTER,
            ),
            ts,
            |t, put| put(one(t), t.fetched()),
        )?;
        family(
            e,
            (
                "siemfwd_alerts_sent",
                "Alerts sent, per tenant and output.",
                COUNTER,
            ),
            ts,
            |t, put| {
                for (output, n) in t.sent_per_output() {
                    put([("tenant", t.name.as_str()), ("output", output)], n)?;
                }
                Ok(())
            },
        )?;
        family(
            e,
            (
                "siemfwd_alerts_deduplicated",
                "Alert versions not sent again (delivered before, in the overlap; or not new with emit = \"new\").",
                COUNTER,
            ),
            ts,
            |t, put| put(one(t), t.deduplicated()),
        )?;
        family(
            e,
            (
                "siemfwd_alerts_dead_lettered",
                "Alerts kept in a dead-letter file: malformed (the API sent an item that is no alert) or unencodable (larger than an output takes).",
                COUNTER,
            ),
            ts,
            |t, put| {
                let (malformed, unencodable) = t.dead_lettered();
                put(
                    [("tenant", t.name.as_str()), ("reason", "malformed")],
                    malformed,
                )?;
                put(
                    [("tenant", t.name.as_str()), ("reason", "unencodable")],
                    unencodable,
                )
            },
        )?;
        family(
            e,
            (
                "siemfwd_api_requests_sent",
                "Calls to the alerts API, per tenant and outcome (ok, throttled, server_error, network_error, auth_error, rejected).",
                COUNTER,
            ),
            ts,
            |t, put| {
                for (outcome, label) in ApiOutcome::ALL {
                    put(
                        [("tenant", t.name.as_str()), ("outcome", label)],
                        t.api.get(outcome),
                    )?;
                }
                Ok(())
            },
        )?;
        Ok(())
    }

    /// How the tenants stand.
    fn gauges(&self, e: &mut DescriptorEncoder<'_>) -> Result<(), Error> {
        let ts = self.tenants;
        let now = seconds(self.now);
        family(
            e,
            (
                "siemfwd_tenant_checkpoint_timestamp_seconds",
                "Where the tenant's checkpoint stands: the next poll fetches from here (less the overlap).",
                GAUGE,
            ),
            ts,
            |t, put| t.cursor().map_or(Ok(()), |c| put(one(t), seconds(c))),
        )?;
        family(
            e,
            (
                "siemfwd_tenant_last_success_timestamp_seconds",
                "When the tenant's last poll was delivered.",
                GAUGE,
            ),
            ts,
            |t, put| t.last_success().map_or(Ok(()), |c| put(one(t), seconds(c))),
        )?;
        family(
            e,
            (
                "siemfwd_tenant_lag_seconds",
                "Now less the newest lastUpdateTime delivered for the tenant (grows while the tenant has no new alerts).",
                GAUGE,
            ),
            ts,
            |t, put| {
                t.newest_delivered()
                    .map_or(Ok(()), |c| put(one(t), (now - seconds(c)).max(0.0)))
            },
        )?;
        family(
            e,
            (
                "siemfwd_tenant_healthy",
                "1 when the tenant's last poll was delivered, 0 while it fails or after it stopped.",
                GAUGE,
            ),
            ts,
            |t, put| put(one(t), f64::from(u8::from(t.health().0))),
        )?;
        family(
            e,
            (
                "siemfwd_tenant_auth_state",
                "1 for the tenant's auth state (ok, reconsent_required, secret_invalid, failing), 0 for the others.",
                GAUGE,
            ),
            ts,
            |t, put| {
                let auth = t.health().1;
                for (state, label) in AuthState::ALL {
                    put(
                        [("tenant", t.name.as_str()), ("state", label)],
                        f64::from(u8::from(auth == state)),
                    )?;
                }
                Ok(())
            },
        )?;
        family(
            e,
            (
                "siemfwd_tenant_refresh_token_expiry_timestamp_seconds",
                "When a refresh-token tenant's stored token expires if unused (90 days after it was issued).",
                GAUGE,
            ),
            ts,
            |t, put| {
                t.refresh_expiry()
                    .map_or(Ok(()), |c| put(one(t), seconds(c)))
            },
        )
    }
}

/// The process collector's usual metrics, from `/proc/self` (Linux).
fn process(e: &mut DescriptorEncoder<'_>, started: Timestamp) -> Result<(), Error> {
    gauges(
        e,
        "process_start_time_seconds",
        "Start time of the process since the Unix epoch in seconds.",
        &[(Labels::new(), seconds(started))],
    )?;
    if let Some(rss) = resident_bytes() {
        gauges(
            e,
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            &[(Labels::new(), rss as f64)],
        )?;
    }
    if let Some(cpu) = cpu_seconds() {
        let mut family = e.encode_descriptor(
            "process_cpu_seconds",
            "Total user and system CPU time spent in seconds.",
            None,
            MetricType::Counter,
        )?;
        ConstCounter::new(cpu).encode(family.encode_family(&Labels::new())?)?;
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        gauges(
            e,
            "process_open_fds",
            "Number of open file descriptors.",
            &[(Labels::new(), fds.count() as f64)],
        )?;
    }
    Ok(())
}

/// `VmRSS` of `/proc/self/status`, in bytes.
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// User and system time of `/proc/self/stat`, in seconds.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // USER_HZ is 100 on every Linux architecture siemfwd is built for.
    Some(ticks as f64 / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_process_figures_are_read_from_proc() {
        assert!(resident_bytes().is_some_and(|b| b > 1 << 20));
        assert!(cpu_seconds().is_some_and(|s| s >= 0.0));
    }
}
