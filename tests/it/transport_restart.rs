//! A real rsyslog restarted while an output streams to it over mutual TLS: the output notices,
//! reconnects and goes on, and every record either arrives or is reported undelivered.

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::Value;
use siemfwd::alert::Timestamp;
use siemfwd::config::Config;
use siemfwd::mapping::TenantIdentity;
use siemfwd::reader::{self, Item};
use siemfwd::transport::{Batch, Output};
use support::rsyslog::{Rsyslog, RsyslogOpts};

const BATCHES: usize = 200;
const PER_BATCH: usize = 100;

/// A page of `n` realistic alerts with ids `restart-<first>`.. so that each record is known.
fn page(template: &Value, first: usize, n: usize) -> Vec<u8> {
    let alerts: Vec<Value> = (first..first + n)
        .map(|i| {
            let mut a = template.clone();
            a["id"] = Value::String(format!("restart-{i:06}"));
            a
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({ "value": alerts })).unwrap()
}

fn encode(out: &Output, page: &[u8]) -> Batch {
    let mut batch = out.new_batch();
    let now = Timestamp::from_unix_nanos(1_764_000_000_000_000_000, 6);
    let tenant = TenantIdentity {
        name: "Contoso",
        id: "t",
    };
    reader::read_page(page, false, |item| {
        let Item::Alert(a) = item else { panic!() };
        out.encoder()
            .encode(&a, tenant, now, &mut batch)
            .map(|_| ())
    })
    .unwrap();
    batch
}

/// `restart-NNNNNN` ids in rsyslog's raw log, with how often each arrived.
fn received_ids(rs: &Rsyslog) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for line in support::files::read_lines(&rs.raw_log()) {
        if let Some(at) = line.find("externalId=restart-") {
            let id = &line[at + "externalId=".len()..at + "externalId=".len() + 14];
            *seen.entry(id.to_owned()).or_insert(0) += 1;
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_restart_mid_stream_loses_nothing_unreported() {
    let rs = Rsyslog::start(RsyslogOpts::default());
    let certs = rs.certs().clone();
    let config = Config::from_toml(
        "test.toml",
        &format!(
            r#"
[[output]]
name = "rsyslog"
type = "tls"
address = "localhost:{port}"
ca_file = "{ca}"
cert_file = "{crt}"
key_file = "{key}"
reconnect_backoff = "100ms"
reconnect_backoff_max = "1s"
delivery_timeout = "30s"
"#,
            port = rs.ports().tls_gtls,
            ca = certs.ca_crt.display(),
            crt = certs.client_crt.display(),
            key = certs.client_key.display(),
        ),
    )
    .unwrap();
    let out = Output::start(config.output("rsyslog").unwrap(), None).unwrap();
    let template: Value = {
        let p: Value = serde_json::from_slice(
            &std::fs::read(support::manifest_dir().join("examples/alerts/realistic-page.json"))
                .unwrap(),
        )
        .unwrap();
        p["value"][1].clone()
    };

    let rs = std::sync::Arc::new(std::sync::Mutex::new(rs));
    let mut restart = None;
    let mut undelivered = BTreeSet::new();
    for b in 0..BATCHES {
        if b == BATCHES / 3 {
            let rs = rs.clone();
            restart = Some(tokio::task::spawn_blocking(move || {
                rs.lock().unwrap().restart()
            }));
        }
        let batch = encode(&out, &page(&template, b * PER_BATCH, PER_BATCH));
        if let Err(e) = out.send(batch).await {
            undelivered.extend(e.batch.alert_ids().map(str::to_owned));
        }
        tokio::task::yield_now().await;
    }
    restart.unwrap().await.unwrap();
    // The end marker: everything sent before it on the last connection is in before it.
    out.send(encode(&out, &page(&template, 999_999, 1)))
        .await
        .unwrap();
    let stats = out.stats();
    out.shutdown().await;
    let rs = rs.lock().unwrap();
    rs.wait_for_line_containing(&rs.raw_log(), "restart-999999", Duration::from_secs(20));

    let seen = received_ids(&rs);
    let sent: BTreeSet<String> = (0..BATCHES * PER_BATCH)
        .map(|i| format!("restart-{i:06}"))
        .collect();
    let lost: Vec<&String> = sent
        .iter()
        .filter(|id| !seen.contains_key(*id) && !undelivered.contains(*id))
        .collect();
    let duplicated = seen.values().filter(|&&n| n > 1).count();
    eprintln!(
        "sent {}, received {}, duplicated {duplicated}, reported undelivered {}, lost unreported {}; {stats:?}",
        sent.len(),
        seen.len(),
        undelivered.len(),
        lost.len()
    );
    assert!(
        stats.connects >= 2 && stats.broken_links >= 1,
        "the restart was not seen by the output: {stats:?}"
    );
    assert!(
        lost.is_empty(),
        "{} records neither arrived nor were reported: {:?}...",
        lost.len(),
        &lost[..lost.len().min(10)]
    );
}
