//! The syslog-ng test harness (`tests/it/support/syslog_ng.rs`) with real bytes: a real
//! syslog-ng 3.38 started per test on its own ports, fed by the plain std senders of
//! `support::send`.
//!
//! Needs syslog-ng unpacked by `scripts/install-receivers.sh` (run as root).
//! `SIEMFWD_KEEP_TEST_DIRS=1` keeps the receivers' temp dirs.

use crate::support;

use std::time::Duration;

use serde_json::{Value, json};
use support::process::is_bound_by;
use support::send::{Framing, send_tcp, send_udp};
use support::syslog_ng::{SyslogNg, SyslogNgOpts, field};

const WAIT: Duration = Duration::from_secs(20);

/// RFC 5424 message with `msgid` and CEF payload `CEF:0|hdr|ext`.
fn rfc5424(msgid: &str, hdr: &str, ext: &str) -> String {
    format!("<134>1 2024-05-01T12:00:00.000Z host1 siemfwd - {msgid} - CEF:0|{hdr}|{ext}")
}

fn by_msgid<'a>(events: &'a [Value], msgid: &str) -> &'a Value {
    events
        .iter()
        .find(|e| field(e, "MSGID") == Some(msgid))
        .unwrap_or_else(|| panic!("no event with MSGID {msgid}: {events:?}"))
}

fn by_source<'a>(events: &'a [Value], source: &str) -> &'a Value {
    events
        .iter()
        .find(|e| field(e, "SOURCE") == Some(source))
        .unwrap_or_else(|| panic!("no event from {source}: {events:?}"))
}

#[test]
fn field_reads_nested_and_flat_keys() {
    let nested = json!({
        "_cef": {"ext": {"src": "10.0.0.1", "a.b": "dotted"}, "extension_strict_ok": "yes"},
        "SOURCE": "s_tcp_framed",
        "_SDATA": {"ex@32473": {"k": "v"}},
    });
    assert_eq!(field(&nested, ".cef.ext.src"), Some("10.0.0.1"));
    assert_eq!(field(&nested, ".cef.ext.a.b"), Some("dotted"));
    assert_eq!(field(&nested, ".cef.extension_strict_ok"), Some("yes"));
    assert_eq!(field(&nested, "_cef.ext.src"), Some("10.0.0.1"));
    assert_eq!(field(&nested, "SOURCE"), Some("s_tcp_framed"));
    assert_eq!(field(&nested, "_SDATA.ex@32473.k"), Some("v"));
    assert_eq!(field(&nested, ".cef.ext"), None, "not a string");
    assert_eq!(field(&nested, ".cef.ext.dst"), None);
    assert_eq!(field(&nested, ""), None);
    let flat = json!({".cef.ext.src": "1", "_cef.ext.dst": "2", "_cef": {"ext.spt": "3"}});
    assert_eq!(field(&flat, ".cef.ext.src"), Some("1"));
    assert_eq!(field(&flat, ".cef.ext.dst"), Some("2"));
    assert_eq!(field(&flat, ".cef.ext.spt"), Some("3"));
}

#[test]
fn octet_framed_cef_is_decoded() {
    let sng = SyslogNg::start(SyslogNgOpts::default());
    let m1 = rfc5424(
        "m1",
        r"Microsoft|Defender for Endpoint|1.0|Sig\|1|Name one|7",
        r"src=10.0.0.1 msg=a\=b line1\nline2 c:\\x cs1=x y",
    );
    let m2 = rfc5424(
        "m2",
        "Microsoft|MDE|1.0|S2|Name two|High",
        "suser=alice dst=10.0.0.2",
    );
    send_tcp(sng.ports().tcp_framed, Framing::OctetCounting, &[&m1, &m2]);

    let events = sng.wait_for_events(2, WAIT);
    assert_eq!(events.len(), 2, "{events:?}");
    let e1 = by_msgid(&events, "m1");
    let e2 = by_msgid(&events, "m2");
    for (e, raw) in [(e1, &m1), (e2, &m2)] {
        assert_eq!(field(e, "SOURCE"), Some("s_tcp_framed"));
        assert_eq!(field(e, "RAWMSG"), Some(raw.as_str()));
        assert_eq!(field(e, ".cef.extension_strict_ok"), Some("yes"), "{e}");
        assert_eq!(field(e, ".cef.version"), Some("0"));
        assert_eq!(field(e, ".cef.device_vendor"), Some("Microsoft"));
    }
    // header escapes are undone, extension values stay escaped
    assert_eq!(field(e1, ".cef.device_event_class_id"), Some("Sig|1"));
    assert_eq!(field(e1, ".cef.severity"), Some("7"));
    assert_eq!(field(e1, ".cef.ext.src"), Some("10.0.0.1"));
    assert_eq!(field(e1, ".cef.ext.msg"), Some(r"a\=b line1\nline2 c:\\x"));
    assert_eq!(field(e1, ".cef.ext.cs1"), Some("x y"));
    assert_eq!(field(e2, ".cef.name"), Some("Name two"));
    assert_eq!(field(e2, ".cef.severity"), Some("High"));
    assert_eq!(field(e2, ".cef.ext.suser"), Some("alice"));
    assert_eq!(field(e2, ".cef.ext.dst"), Some("10.0.0.2"));

    let raw = sng.wait_for_lines(&sng.raw_log(), 2, WAIT);
    assert!(raw.contains(&format!("s_tcp_framed {m1}")), "{raw:?}");
    assert!(raw.contains(&format!("s_tcp_framed {m2}")), "{raw:?}");

    // a raw '=' in a value is not strict CEF: decoded, but the flag is not set
    let bad = rfc5424("bad", "V|P|1|id|n|3", "msg=a=b");
    send_tcp(sng.ports().tcp_framed, Framing::OctetCounting, &[&bad]);
    let events = sng.wait_for_events(3, WAIT);
    let e3 = by_msgid(&events, "bad");
    assert_eq!(field(e3, ".cef.extension"), Some("msg=a=b"));
    assert_eq!(field(e3, ".cef.extension_strict_ok"), None, "{e3}");
    assert_eq!(sng.regexp_errors(), 0);
}

#[test]
fn lf_framed_tcp_and_udp_arrive() {
    let sng = SyslogNg::start(SyslogNgOpts::default());
    let lf = "<13>May  1 12:00:00 host2 app: CEF:0|V|P|1|id|n|3|act=lf";
    let udp = "<13>May  1 12:00:00 host3 app: LEEF:1.0|V|P|1|ev|usrName=bob\tsrc=10.0.0.3";
    send_tcp(sng.ports().tcp_lf, Framing::Lf, &[lf]);
    send_udp(sng.ports().udp, &[udp]);

    let events = sng.wait_for_events(2, WAIT);
    let e_lf = by_source(&events, "s_tcp_lf");
    assert_eq!(field(e_lf, "RAWMSG"), Some(lf));
    assert_eq!(field(e_lf, "HOST"), Some("host2"));
    assert_eq!(field(e_lf, ".cef.ext.act"), Some("lf"));
    assert_eq!(field(e_lf, ".cef.extension_strict_ok"), Some("yes"));
    let e_udp = by_source(&events, "s_udp");
    assert_eq!(field(e_udp, "RAWMSG"), Some(udp));
    assert_eq!(field(e_udp, ".leef.version"), Some("1.0"));
    assert_eq!(field(e_udp, ".leef.attr.usrName"), Some("bob"));
    assert_eq!(field(e_udp, ".leef.attr.src"), Some("10.0.0.3"));

    let raw = sng.wait_for_lines(&sng.raw_log(), 2, WAIT);
    assert!(raw.contains(&format!("s_tcp_lf {lf}")), "{raw:?}");
    assert!(raw.contains(&format!("s_udp {udp}")), "{raw:?}");
}

#[test]
fn oversize_frame_closes_or_is_trimmed() {
    let sng = SyslogNg::start(SyslogNgOpts {
        log_msg_size: 4096,
        ..SyslogNgOpts::default()
    });
    let big = rfc5424("big", "V|P|1|id|n|3", &format!("msg={}", "A".repeat(5000)));
    let after = rfc5424("after", "V|P|1|id|n|3", "act=after");
    // plain: the oversize frame is dropped and the connection closed, so `after` is lost too
    send_tcp(
        sng.ports().tcp_framed,
        Framing::OctetCounting,
        &[&big, &after],
    );
    sng.wait_for_line_containing(
        &sng.internal_log(),
        "Incoming frame larger than log_msg_size()",
        WAIT,
    );
    // trim: cut to log_msg_size bytes, connection kept
    send_tcp(
        sng.ports().tcp_framed_trim,
        Framing::OctetCounting,
        &[&big, &after],
    );
    let events = sng.wait_for_events(2, WAIT);
    assert_eq!(events.len(), 2, "{events:?}");
    for e in &events {
        assert_eq!(field(e, "SOURCE"), Some("s_tcp_framed_trim"), "{e}");
    }
    let trimmed = by_msgid(&events, "big");
    assert_eq!(field(trimmed, "RAWMSG").map(str::len), Some(4096));
    assert_eq!(
        field(by_msgid(&events, "after"), ".cef.ext.act"),
        Some("after")
    );
}

#[test]
fn listens_on_all_ports_and_restarts_on_the_same_ones() {
    let mut sng = SyslogNg::start(SyslogNgOpts::default());
    sng.validate_config().expect("config accepted");
    let conf = std::fs::read_to_string(sng.config_path()).unwrap();
    let ca = sng.certs().ca_crt.to_str().unwrap().to_string();
    assert!(conf.contains(&format!("ca-file(\"{ca}\") peer-verify(required-trusted)")));
    assert!(
        !sng.daemon_output().contains("WARNING"),
        "{}",
        sng.daemon_output()
    );

    let ports = sng.ports();
    let check_bound = |sng: &SyslogNg| {
        let pid = sng.pid().expect("running");
        for (name, port, udp) in [
            ("tls_framed", ports.tls_framed, false),
            ("tcp_framed", ports.tcp_framed, false),
            ("tcp_framed_trim", ports.tcp_framed_trim, false),
            ("tcp_lf", ports.tcp_lf, false),
            ("tcp_lf5424", ports.tcp_lf5424, false),
            ("tls_lf", ports.tls_lf, false),
            ("udp", ports.udp, true),
        ] {
            assert!(is_bound_by(pid, port, udp), "{name} port {port} not bound");
        }
    };
    check_bound(&sng);
    assert!(sng.is_running());

    sng.restart();
    assert_eq!(sng.ports(), ports);
    check_bound(&sng);
    let m = "<134>1 2024-05-01T12:00:00.000Z host1 siemfwd - again - CEF:0|V|P|1|id|n|3|act=again";
    send_tcp(ports.tcp_lf5424, Framing::Lf, &[m]);
    let events = sng.wait_for_events(1, WAIT);
    assert_eq!(field(&events[0], "SOURCE"), Some("s_tcp_lf5424"));
    assert_eq!(field(&events[0], "MSGID"), Some("again"));
    assert_eq!(field(&events[0], ".cef.ext.act"), Some("again"));

    sng.stop();
    assert!(!sng.is_running());
    assert!(sng.pid().is_none());
}
