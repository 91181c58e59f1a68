//! The test rsyslog's RELP inputs (imrelp), without siemfwd: a hand-written RELP client gets its
//! messages acknowledged and into `raw.log` under `relp_plain`, and a `kill -9` of rsyslogd
//! loses none it acknowledged (the RELP output's crash tests rely on both).

use std::time::Duration;

use crate::support::files::read_lines;
use crate::support::relp::RelpClient;
use crate::support::rsyslog::{Rsyslog, RsyslogOpts};

/// `n` distinct RFC 5424 messages tagged `tag`.
fn messages(tag: &str, n: usize) -> Vec<String> {
    (1..=n)
        .map(|i| format!("<13>1 2024-05-01T10:00:00Z host relptest - - - {tag} {i}"))
        .collect()
}

#[test]
fn rsyslog_imrelp_acks_relp_messages_and_logs_them_under_relp_plain() {
    let rs = Rsyslog::start(RsyslogOpts::default());
    let mut relp = RelpClient::open(rs.ports().relp);
    let sent = messages("smoke", 3);
    for m in &sent {
        assert_eq!(relp.syslog(m), "200 OK");
    }
    relp.close();
    let lines = rs.wait_for_lines(&rs.raw_log(), sent.len(), Duration::from_secs(10));
    let expected: Vec<String> = sent.iter().map(|m| format!("relp_plain {m}")).collect();
    assert_eq!(lines, expected, "{}", rs.diagnostics());
    // Both imrelp listeners (the TLS one too) came up without complaint.
    assert!(
        !rs.daemon_output().contains("imrelp"),
        "{}",
        rs.diagnostics()
    );
}

#[test]
fn rsyslog_imrelp_has_written_every_message_it_acked_when_killed_9_and_restarts_on_its_port() {
    let mut rs = Rsyslog::start(RsyslogOpts::default());
    let port = rs.ports().relp;
    let mut relp = RelpClient::open(port);
    let sent = messages("before-kill", 200);
    for m in &sent {
        assert_eq!(relp.syslog(m), "200 OK");
    }
    rs.kill9();
    // Read at once: what rsyslogd acknowledged must already be in the file.
    let lines = read_lines(&rs.raw_log());
    let expected: Vec<String> = sent.iter().map(|m| format!("relp_plain {m}")).collect();
    let lost: Vec<&String> = expected.iter().filter(|m| !lines.contains(m)).collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged messages not in raw.log after kill -9, first {:?}\n{}",
        lost.len(),
        sent.len(),
        lost[0],
        rs.diagnostics()
    );
    assert_eq!(lines, expected);
    drop(relp);

    rs.restart();
    assert_eq!(rs.ports().relp, port);
    let mut relp = RelpClient::open(port);
    assert_eq!(
        relp.syslog("<13>1 - host relptest - - - after restart"),
        "200 OK"
    );
    relp.close();
    rs.wait_for_line_containing(&rs.raw_log(), "after restart", Duration::from_secs(10));
}
