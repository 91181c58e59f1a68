//! The configuration file: outputs and tenants with their defaults, every mistake reported with
//! file, line and key, bounds of every number and duration, secrets that cannot be read, and
//! names that must be unique.
//!
//! Long because each key's range is tested at both limits and just beyond, each refusal with
//! its whole message, on TOML written out in the test; output and tenant cases share the
//! `load`/`output_with`/`tenant_with` helpers.

use std::time::Duration;

use super::*;
use crate::mapping::Format;
use crate::transport::{Destination, Framing, SyslogFormat};

fn load(text: &str) -> Result<Config, String> {
    Config::from_toml("/etc/siemfwd/siemfwd.toml", text).map_err(|e| e.to_string())
}

#[test]
fn the_design_example_output_is_valid_with_its_defaults() {
    let c = load(
        r#"
state_dir = "/var/lib/siemfwd"

[[tenant]]
name = "contoso"
tenant_id = "8f0b6c2e-1a2b-4c3d-9e8f-0a1b2c3d4e5f"
client_id = "0aa1b2c3-d4e5-4f60-8a9b-c0d1e2f3a4b5"
client_secret = "literal"

[[output]]
name = "arcsight"
type = "tls"
address = "arcsight.example.net:6514"
format = "cef"
syslog = "rfc5424"
framing = "octet-counting"
ca_file = "/etc/siemfwd/ca.pem"
cert_file = "/etc/siemfwd/client.pem"
key_file = "client.key"
server_name = "arcsight.example.net"
"#,
    )
    .unwrap();
    assert_eq!(c.tenants.len(), 1);
    let o = c.output("arcsight").unwrap();
    assert_eq!(o.format, Format::Cef);
    assert_eq!(o.syslog, SyslogFormat::Rfc5424);
    assert_eq!(o.framing, Framing::OctetCounting);
    assert_eq!(o.max_message_bytes, 8192);
    let Destination::Tls { address, tls } = &o.destination else {
        panic!("tls expected")
    };
    assert_eq!(address, "arcsight.example.net:6514");
    assert_eq!(tls.server_name, "arcsight.example.net");
    assert!(!tls.system_roots, "a ca_file replaces the system roots");
    let (_, key) = tls.client_cert.as_ref().unwrap();
    assert_eq!(
        key,
        &PathBuf::from("/etc/siemfwd/client.key"),
        "relative to the config"
    );
    assert_eq!(
        c.dead_letter_path("arcsight"),
        PathBuf::from("/var/lib/siemfwd/dead-letter/arcsight.ndjson")
    );
}

#[test]
fn defaults_follow_the_output_type() {
    let c = load(
        r#"
[[output]]
name = "u"
type = "udp"
address = "[::1]:514"
[[output]]
name = "t"
type = "tcp"
address = "siem:514"
[[output]]
name = "f"
type = "file"
path = "out/alerts.cef"
[[output]]
name = "s"
type = "stdout"
format = "json"
[[output]]
name = "local"
type = "unix"
"#,
    )
    .unwrap();
    let u = c.output("u").unwrap();
    assert_eq!((u.framing, u.max_message_bytes), (Framing::Datagram, 2048));
    let t = c.output("t").unwrap();
    assert_eq!(
        (t.framing, t.max_message_bytes),
        (Framing::OctetCounting, 8192)
    );
    let f = c.output("f").unwrap();
    assert_eq!((f.framing, f.syslog), (Framing::Lf, SyslogFormat::None));
    assert!(
        matches!(&f.destination, Destination::File { path } if path == &PathBuf::from("/etc/siemfwd/out/alerts.cef"))
    );
    assert_eq!(c.output("s").unwrap().format, Format::Json);
    assert!(
        matches!(&c.output("local").unwrap().destination, Destination::Unix { path } if path == &PathBuf::from("/dev/log"))
    );
    assert_eq!(c.state_dir, PathBuf::from(DEFAULT_STATE_DIR));
}

#[test]
fn mistakes_are_errors_with_file_line_and_key() {
    let cases: &[(&str, &str)] = &[
        (
            "[[output]]\nname = \"a\"\ntype = \"tls\"\naddres = \"x:1\"\n",
            "siemfwd.toml:4: unknown field `addres`",
        ),
        (
            "\n[[output]]\nname = \"a\"\ntype = \"tls\"\naddress = \"x:1\"\nframing = \"lf\"\n",
            "siemfwd.toml:2: [[output]] \"a\": `framing`: TLS always uses octet counting",
        ),
        (
            "[[output]]\nname = \"a\"\ntype = \"tcp\"\naddress = \"x\"\n",
            "`address`: `x` is not \"host:port\"",
        ),
        (
            "[[output]]\nname = \"a\"\ntype = \"tcp\"\naddress = \"x:1\"\nca_file = \"ca.pem\"\n",
            "`ca_file`: only a tls output has `ca_file`",
        ),
        (
            "[[output]]\nname = \"a\"\ntype = \"tls\"\naddress = \"x:1\"\ncert_file = \"c.pem\"\n",
            "`key_file`: cert_file needs key_file too",
        ),
        (
            "[[output]]\nname = \"a\"\ntype = \"tls\"\naddress = \"x:1\"\npin_sha256 = \"abc\"\n",
            "is not a SHA-256 fingerprint",
        ),
        (
            "[[output]]\nname = \"a\"\ntype = \"tls\"\naddress = \"x:1\"\ninsecure_skip_verify = true\nca_file = \"ca.pem\"\n",
            "cannot be combined with ca_file",
        ),
        (
            "[[output]]\nname = \"a\"\ntype = \"udp\"\naddress = \"x:1\"\nframing = \"octet-counting\"\n",
            "does not apply to a udp output",
        ),
        (
            "[[output]]\nname = \"a\"\ntype = \"syslog\"\n",
            "unknown output type `syslog`",
        ),
        (
            "[[output]]\nname = \"a\"\ntype = \"tcp\"\naddress = \"x:1\"\ndelivery_timeout = \"30\"\n",
            "`delivery_timeout`: `30` has no unit",
        ),
        (
            "[[output]]\nname = \"a\"\ntype = \"tcp\"\naddress = \"x:1\"\nmax_message_bytes = 100\n",
            "100 is too small",
        ),
        (
            "[[output]]\nname = \"a\"\ntype = \"stdout\"\n[[output]]\nname = \"a\"\ntype = \"stdout\"\n",
            "siemfwd.toml:4: [[output]] `name`: \"a\" is used by another output",
        ),
        (
            "[[output]]\nname = \"a/b\"\ntype = \"stdout\"\n",
            "must be letters, digits",
        ),
        (
            "stat_dir = \"/x\"\n",
            "siemfwd.toml:1: unknown field `stat_dir`",
        ),
    ];
    for (text, want) in cases {
        let e = load(text).expect_err(text);
        assert!(e.contains(want), "for\n{text}\nexpected `{want}` in: {e}");
    }
}

#[test]
fn pins_are_read_with_or_without_colons() {
    let hex = "AB".repeat(32);
    let colons = vec!["ab"; 32].join(":");
    for pin in [hex, colons] {
        let c = load(&format!(
            "[[output]]\nname = \"a\"\ntype = \"tls\"\naddress = \"x:1\"\npin_sha256 = \"{pin}\"\n"
        ))
        .unwrap();
        let Destination::Tls { tls, .. } = &c.output("a").unwrap().destination else {
            panic!()
        };
        assert_eq!(tls.pin_sha256, Some([0xab; 32]));
    }
}

const APP: &str = "client_id = \"0aa1b2c3-d4e5-4f60-8a9b-c0d1e2f3a4b5\"\n";
const T1: &str = "8f0b6c2e-1a2b-4c3d-9e8f-0a1b2c3d4e5f";

#[test]
fn tenants_take_defaults_and_their_own_keys_win() {
    expect_env("SIEMFWD_TEST_SECRET_A", "s3cr3t-from-env");
    let c = load(&format!(
        r#"
[defaults]
{APP}client_secret_env = "SIEMFWD_TEST_SECRET_A"
poll_interval = "30s"

[[tenant]]
name = "contoso"
tenant_id = "{T1}"

[[tenant]]
name = "fabrikam"
tenant_id = "fabrikam.onmicrosoft.com"
poll_interval = "5m"
api_url = "https://api-eu.securitycenter.microsoft.com"
login_url = "http://127.0.0.1:8080"
token_version = "v1"
"#
    ))
    .unwrap();
    let a = c.tenant("contoso").unwrap();
    assert_eq!(a.poll_interval, Duration::from_secs(30));
    assert_eq!(
        a.client_secret.as_ref().unwrap().expose(),
        "s3cr3t-from-env"
    );
    assert_eq!(
        a.api_url.as_str(),
        "https://api.securitycenter.microsoft.com/"
    );
    assert_eq!(a.page_size, 5_000);
    assert_eq!((a.limits.per_minute, a.limits.per_hour), (100, 1500));
    let b = c.tenant("fabrikam").unwrap();
    assert_eq!(b.poll_interval, Duration::from_secs(300));
    assert_eq!(b.token_version, crate::entra::TokenVersion::V1);
    assert_eq!(b.login_url.as_str(), "http://127.0.0.1:8080/");
    assert!(
        !format!("{c:?}").contains("s3cr3t"),
        "a secret in Debug output"
    );
    assert!(c.warnings.is_empty());
}

/// `std::env::set_var` is unsafe in edition 2024 and the crate forbids unsafe code, so the
/// variable comes from `.cargo/config.toml` (`[env]`), which `cargo test` applies.
fn expect_env(key: &str, value: &str) {
    assert_eq!(
        std::env::var(key).as_deref(),
        Ok(value),
        "run unit tests through cargo test: .cargo/config.toml sets {key}"
    );
}

#[test]
fn tenant_mistakes_are_errors() {
    let cases: &[(String, &str)] = &[
        (
            format!(
                "[[tenant]]\nname = \"a\"\ntenant_id = \"{T1}\"\n{APP}client_secret = \"x\"\npol_interval = \"1m\"\n"
            ),
            "unknown field `pol_interval`",
        ),
        (
            format!("[[tenant]]\nname = \"a\"\ntenant_id = \"{T1}\"\n{APP}"),
            "client_credentials needs a secret",
        ),
        (
            format!(
                "[[tenant]]\nname = \"a\"\ntenant_id = \"{T1}\"\n{APP}client_secret_env = \"SIEMFWD_TEST_UNSET_VARIABLE\"\n"
            ),
            "the environment variable SIEMFWD_TEST_UNSET_VARIABLE is not set",
        ),
        (
            format!(
                "[[tenant]]\nname = \"a\"\ntenant_id = \"{T1}\"\n{APP}client_secret_file = \"/nonexistent/secret\"\n"
            ),
            "cannot read /nonexistent/secret",
        ),
        (
            format!(
                "[[tenant]]\nname = \"a\"\ntenant_id = \"{T1}\"\n{APP}client_secret = \"x\"\napi_url = \"http://api.example.com\"\n"
            ),
            "http:// is accepted only for this machine",
        ),
        (
            format!(
                "[[tenant]]\nname = \"a\"\ntenant_id = \"{T1}\"\nclient_id = \"app\"\nclient_secret = \"x\"\n"
            ),
            "is not an application (client) id",
        ),
        (
            format!(
                "[[tenant]]\nname = \"a\"\ntenant_id = \"not a tenant\"\n{APP}client_secret = \"x\"\n"
            ),
            "is not a tenant id",
        ),
        (
            format!(
                "[[tenant]]\nname = \"a\"\ntenant_id = \"{T1}\"\n{APP}client_secret = \"x\"\npage_size = 20000\n"
            ),
            "1 to 10000",
        ),
        (
            format!(
                "[[tenant]]\nname = \"a\"\ntenant_id = \"{T1}\"\n{APP}client_secret = \"x\"\noutputs = [\"siem\"]\n"
            ),
            "no [[output]] is named \"siem\"",
        ),
        (
            format!(
                "[defaults]\n{APP}client_secret = \"x\"\n[[tenant]]\nname = \"a\"\ntenant_id = \"{T1}\"\n[[tenant]]\nname = \"b\"\ntenant_id = \"{}\"\n",
                T1.to_uppercase()
            ),
            "every alert would be sent twice",
        ),
        (
            format!("[defaults]\n{APP}client_secret = \"x\"\nname = \"a\"\n"),
            "unknown field `name`",
        ),
    ];
    for (text, want) in cases {
        let e = load(text).expect_err(text);
        assert!(e.contains(want), "for\n{text}\nexpected `{want}` in: {e}");
    }
}

#[test]
fn a_literal_secret_works_with_a_warning_and_refresh_tokens_need_none() {
    let c = load(&format!(
        "[[tenant]]\nname = \"a\"\ntenant_id = \"{T1}\"\n{APP}client_secret = \"x\"\n\
         [[tenant]]\nname = \"b\"\ntenant_id = \"{T1}\"\nclient_id = \"1aa1b2c3-d4e5-4f60-8a9b-c0d1e2f3a4b5\"\nauth = \"refresh_token\"\nrefresh_token_file = \"b.token\"\n"
    ))
    .unwrap();
    assert_eq!(c.warnings.len(), 1);
    assert!(
        c.warnings[0].contains("tenant \"a\": the client secret is written in the config file")
    );
    assert_eq!(
        c.tenant("b").unwrap().auth,
        crate::entra::AuthMode::RefreshToken {
            initial: Some(PathBuf::from("/etc/siemfwd/b.token"))
        }
    );
}

#[test]
fn an_unreadable_secret_sets_only_its_tenant_apart_for_check_and_auth() {
    expect_env("SIEMFWD_TEST_SECRET_A", "s3cr3t-from-env");
    let text = format!(
        "[defaults]\n{APP}client_secret_env = \"SIEMFWD_TEST_SECRET_A\"\n\n\
         [[tenant]]\nname = \"ok\"\ntenant_id = \"{T1}\"\n\n\
         [[tenant]]\nname = \"unset\"\ntenant_id = \"fabrikam.onmicrosoft.com\"\n\
         client_secret_env = \"SIEMFWD_TEST_UNSET_VARIABLE\"\n\n\
         [[tenant]]\nname = \"device\"\ntenant_id = \"tailspin.onmicrosoft.com\"\n\
         auth = \"refresh_token\"\nclient_secret_file = \"/nonexistent/secret\"\n"
    );
    // `run` refuses the file, naming the first tenant that cannot work and its line.
    let strict = load(&text).unwrap_err();
    assert!(
        strict
            .starts_with("/etc/siemfwd/siemfwd.toml:9: [[tenant]] \"unset\": `client_secret_env`"),
        "{strict}"
    );
    let c = Config::from_toml_with(
        "/etc/siemfwd/siemfwd.toml",
        &text,
        UnreadableSecret::SetsTenantApart,
    )
    .unwrap();
    let usable: Vec<&str> = c.tenants.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(usable, ["ok"]);
    let apart: Vec<(&str, String)> = c
        .unusable
        .iter()
        .map(|u| (u.config.name.as_str(), u.error.to_string()))
        .collect();
    assert_eq!(apart.len(), 2, "{apart:?}");
    assert_eq!(apart[0].0, "unset");
    assert!(
        apart[0]
            .1
            .ends_with(":9: [[tenant]] \"unset\": `client_secret_env`: the environment variable SIEMFWD_TEST_UNSET_VARIABLE is not set"),
        "{}",
        apart[0].1
    );
    assert_eq!(apart[1].0, "device");
    assert!(
        apart[1].1.contains(
            ":14: [[tenant]] \"device\": `client_secret_file`: cannot read /nonexistent/secret"
        ),
        "{}",
        apart[1].1
    );
    assert!(c.unusable.iter().all(|u| u.config.client_secret.is_none()));
    assert!(matches!(
        c.unusable[1].config.auth,
        crate::entra::AuthMode::RefreshToken { .. }
    ));
}

#[test]
fn a_tenant_set_apart_still_counts_for_unique_names_and_other_mistakes() {
    let twice = format!(
        "[[tenant]]\nname = \"a\"\ntenant_id = \"{T1}\"\n{APP}client_secret_env = \"SIEMFWD_TEST_UNSET_VARIABLE\"\n\n\
         [[tenant]]\nname = \"a\"\ntenant_id = \"b.onmicrosoft.com\"\n{APP}client_secret = \"x\"\n"
    );
    let mistake = format!(
        "[[tenant]]\nname = \"a\"\ntenant_id = \"{T1}\"\n{APP}client_secret_env = \"SIEMFWD_TEST_UNSET_VARIABLE\"\npage_size = 20000\n"
    );
    for (text, want) in [
        (twice, "\"a\" is used by another tenant"),
        (mistake, "`page_size`: 20000"),
    ] {
        let e = Config::from_toml_with("f.toml", &text, UnreadableSecret::SetsTenantApart)
            .unwrap_err()
            .to_string();
        assert!(e.contains(want), "{e}");
    }
}

/// An output on line 2, with `keys` added.
fn output_with(kind: &str, keys: &str) -> String {
    let address = match kind {
        "tls" | "tcp" | "udp" => "address = \"x:1\"\n",
        "file" => "path = \"x.log\"\n",
        _ => "",
    };
    format!("\n[[output]]\nname = \"a\"\ntype = \"{kind}\"\n{address}{keys}")
}

#[test]
fn absurd_output_numbers_are_refused_with_the_range() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "tcp",
            "max_message_bytes = 18446744073709551615\n",
            "siemfwd.toml:2: [[output]] \"a\": `max_message_bytes`: 18446744073709551615 is too large (480 to 1048576)",
        ),
        (
            "file",
            "max_message_bytes = 1048577\n",
            "`max_message_bytes`: 1048577 is too large (480 to 1048576)",
        ),
        (
            "udp",
            "max_message_bytes = 65001\n",
            "`max_message_bytes`: 65001 is too large (480 to 65000); a UDP datagram carries at most 65,000 bytes",
        ),
        (
            "tcp",
            "max_message_bytes = 479\n",
            "`max_message_bytes`: 479 is too small (480 to 1048576)",
        ),
        (
            "tcp",
            "batch_max_bytes = 67108865\n",
            "siemfwd.toml:2: [[output]] \"a\": `batch_max_bytes`: 67108865 is too large (0 to 67108864)",
        ),
        (
            "tcp",
            "queue = 0\n",
            "siemfwd.toml:2: [[output]] \"a\": `queue`: 0 is too small (1 to 1024)",
        ),
        (
            "stdout",
            "queue = 1025\n",
            "`queue`: 1025 is too large (1 to 1024)",
        ),
        (
            "tls",
            "replay_window_bytes = 1073741825\n",
            "`replay_window_bytes`: 1073741825 is too large (0 to 1073741824)",
        ),
        (
            "tcp",
            "queue = -1\n",
            "siemfwd.toml:6: invalid value: integer `-1`, expected usize",
        ),
    ];
    for (kind, keys, want) in cases {
        let text = output_with(kind, keys);
        let e = load(&text).expect_err(&text);
        assert!(e.contains(want), "for\n{text}\nexpected `{want}` in: {e}");
    }
}

#[test]
fn output_durations_are_refused_at_zero_and_beyond_their_maximum() {
    let cases: &[(&str, &str)] = &[
        (
            "connect_timeout = \"0s\"\n",
            "siemfwd.toml:2: [[output]] \"a\": `connect_timeout`: `0s` is too short (1ms to 1h)",
        ),
        (
            "connect_timeout = \"61m\"\n",
            "`connect_timeout`: `61m` is too long (1ms to 1h)",
        ),
        (
            "write_timeout = \"0ms\"\n",
            "`write_timeout`: `0ms` is too short (1ms to 1h)",
        ),
        (
            "write_timeout = \"2h\"\n",
            "`write_timeout`: `2h` is too long (1ms to 1h)",
        ),
        (
            "delivery_timeout = \"0s\"\n",
            "`delivery_timeout`: `0s` is too short (1ms to 1d)",
        ),
        (
            "delivery_timeout = \"18446744073709551615ms\"\n",
            "`delivery_timeout`: `18446744073709551615ms` is too long (1ms to 1d)",
        ),
        (
            "reconnect_backoff = \"0s\"\n",
            "`reconnect_backoff`: `0s` is too short (1ms to 1h)",
        ),
        (
            "reconnect_backoff_max = \"2h\"\n",
            "`reconnect_backoff_max`: `2h` is too long (1ms to 1h)",
        ),
        (
            "reconnect_backoff = \"2s\"\nreconnect_backoff_max = \"1s\"\n",
            "`reconnect_backoff_max`: must be at least reconnect_backoff",
        ),
    ];
    for (keys, want) in cases {
        let text = output_with("tcp", keys);
        let e = load(&text).expect_err(&text);
        assert!(e.contains(want), "for\n{text}\nexpected `{want}` in: {e}");
    }
}

#[test]
fn output_bounds_accept_their_limits() {
    let c = load(&output_with(
        "tls",
        "max_message_bytes = 1048576\nbatch_max_bytes = 67108864\nqueue = 1024\n\
         replay_window_bytes = 1073741824\nconnect_timeout = \"1h\"\nwrite_timeout = \"1ms\"\n\
         delivery_timeout = \"1d\"\nreconnect_backoff = \"1ms\"\nreconnect_backoff_max = \"1h\"\n",
    ))
    .unwrap();
    let o = c.output("a").unwrap();
    assert_eq!(
        (o.max_message_bytes, o.batch_max_bytes),
        (1 << 20, 64 << 20)
    );
    assert_eq!(
        (o.connection.queue, o.connection.replay_window_bytes),
        (1024, 1 << 30)
    );
    assert_eq!(o.connection.delivery_timeout, Duration::from_secs(86_400));
    // A batch below one record is raised to one record, as before.
    let c = load(&output_with("tcp", "batch_max_bytes = 0\n")).unwrap();
    assert_eq!(c.output("a").unwrap().batch_max_bytes, 8192);
}

/// A tenant on line 2, with `keys` added.
fn tenant_with(keys: &str) -> String {
    format!("\n[[tenant]]\nname = \"a\"\ntenant_id = \"{T1}\"\n{APP}client_secret = \"x\"\n{keys}")
}

#[test]
fn absurd_tenant_numbers_and_durations_are_refused_with_the_range() {
    let cases: &[(&str, &str)] = &[
        (
            "poll_interval = \"999ms\"\n",
            "siemfwd.toml:2: [[tenant]] \"a\": `poll_interval`: `999ms` is too short (1s to 1d)",
        ),
        (
            "poll_interval = \"25h\"\n",
            "`poll_interval`: `25h` is too long (1s to 1d)",
        ),
        (
            "initial_lookback = \"181d\"\n",
            "`initial_lookback`: `181d` is too long (at most 180d)",
        ),
        (
            "initial_lookback = \"0s\"\n",
            "`initial_lookback`: 0s must be longer than `lag` (0s): the first poll would have no window",
        ),
        (
            "initial_lookback = \"1h\"\nlag = \"1h\"\n",
            "`initial_lookback`: 1h must be longer than `lag` (1h)",
        ),
        (
            "overlap = \"8d\"\n",
            "`overlap`: `8d` is too long (at most 7d)",
        ),
        ("lag = \"2d\"\n", "`lag`: `2d` is too long (at most 1d)"),
        (
            "request_timeout = \"0s\"\n",
            "`request_timeout`: `0s` is too short (1s to 1h)",
        ),
        (
            "request_timeout = \"61m\"\n",
            "`request_timeout`: `61m` is too long (1s to 1h)",
        ),
        (
            "lag = \"9999999999999d\"\n",
            "`lag`: `9999999999999d` is too long",
        ),
        (
            "max_calls_per_minute = 0\n",
            "siemfwd.toml:2: [[tenant]] \"a\": `max_calls_per_minute`: 0 is too small (1 to 10000)",
        ),
        (
            "max_calls_per_minute = 10001\n",
            "`max_calls_per_minute`: 10001 is too large (1 to 10000)",
        ),
        (
            "max_calls_per_hour = 0\n",
            "`max_calls_per_hour`: 0 is too small (1 to 150000)",
        ),
        (
            "max_calls_per_hour = 4294967295\n",
            "`max_calls_per_hour`: 4294967295 is too large (1 to 150000)",
        ),
    ];
    for (keys, want) in cases {
        let text = tenant_with(keys);
        let e = load(&text).expect_err(&text);
        assert!(e.contains(want), "for\n{text}\nexpected `{want}` in: {e}");
    }
    // A bound broken in [defaults] is reported at the first tenant that takes it.
    let e = load(&format!(
        "[defaults]\n{APP}client_secret = \"x\"\noverlap = \"30d\"\n\n[[tenant]]\nname = \"a\"\ntenant_id = \"{T1}\"\n"
    ))
    .unwrap_err();
    assert!(
        e.ends_with("siemfwd.toml:6: [[tenant]] \"a\": `overlap`: `30d` is too long (at most 7d)"),
        "{e}"
    );
}

#[test]
fn tenant_bounds_accept_their_limits_and_call_limits_above_the_api_warn() {
    let c = load(&tenant_with(
        "poll_interval = \"1d\"\ninitial_lookback = \"180d\"\noverlap = \"7d\"\nlag = \"1d\"\n\
         request_timeout = \"1h\"\nmax_calls_per_minute = 10000\nmax_calls_per_hour = 150000\n",
    ))
    .unwrap();
    let t = c.tenant("a").unwrap();
    assert_eq!(t.initial_lookback, Duration::from_secs(180 * 86_400));
    assert_eq!((t.limits.per_minute, t.limits.per_hour), (10_000, 150_000));
    assert!(
        c.warnings
            .iter()
            .any(|w| w.contains("call limits above the API's 100/min and 1500/h")),
        "{:?}",
        c.warnings
    );
    let c = load(&tenant_with(
        "poll_interval = \"1s\"\ninitial_lookback = \"1ms\"\noverlap = \"0s\"\nrequest_timeout = \"1s\"\n",
    ))
    .unwrap();
    assert_eq!(c.tenant("a").unwrap().overlap, Duration::ZERO);
}

#[test]
fn a_tenant_routed_to_no_output_or_to_one_twice_is_refused() {
    let outputs = "[[output]]\nname = \"s\"\ntype = \"stdout\"\n[[output]]\nname = \"t\"\ntype = \"stdout\"\n";
    let cases = [
        (
            "outputs = []\n",
            "siemfwd.toml:2: [[tenant]] \"a\": `outputs`: empty: this tenant's alerts would go nowhere; leave the key out to send to every output, or name one",
        ),
        (
            "outputs = [\"s\", \"t\", \"s\"]\n",
            "siemfwd.toml:2: [[tenant]] \"a\": `outputs`: \"s\" is named twice: every alert would be sent to it twice",
        ),
    ];
    for (keys, want) in cases {
        let text = format!("{}{outputs}", tenant_with(keys));
        let e = load(&text).expect_err(&text);
        assert!(e.ends_with(want), "for\n{text}\nexpected `{want}` in: {e}");
    }
    // [defaults] has no `outputs`: it is each tenant's own.
    let e = load(&format!("[defaults]\noutputs = []\n{outputs}")).unwrap_err();
    assert!(e.contains("unknown field `outputs`"), "{e}");
}

#[test]
fn an_output_no_tenant_uses_is_a_warning_when_there_are_tenants() {
    // Tenant "a" on line 2, "b" (set apart: its secret is unset) on line 9, outputs on 16 and 20.
    let file = |a: &str, b: &str| {
        format!(
            "{}\n[[tenant]]\nname = \"b\"\ntenant_id = \"b.onmicrosoft.com\"\n{APP}\
             client_secret_env = \"SIEMFWD_TEST_UNSET_VARIABLE\"\n{b}\n\
             [[output]]\nname = \"s\"\ntype = \"stdout\"\n\n[[output]]\nname = \"idle\"\ntype = \"stdout\"\n",
            tenant_with(a)
        )
    };
    let unused = |text: &str| -> Vec<String> {
        Config::from_toml_with(
            "/etc/siemfwd/siemfwd.toml",
            text,
            UnreadableSecret::SetsTenantApart,
        )
        .unwrap()
        .warnings
        .into_iter()
        .filter(|w| w.contains("receives nothing"))
        .collect()
    };
    let both_name_s = "outputs = [\"s\"]\n";
    assert_eq!(
        unused(&file(both_name_s, both_name_s)),
        [
            "/etc/siemfwd/siemfwd.toml:20: [[output]] \"idle\": no tenant lists it in `outputs`, so it receives nothing"
        ]
    );
    // Named only by the tenant set apart, which comes back with its secret.
    assert!(unused(&file(both_name_s, "outputs = [\"idle\"]\n")).is_empty());
    // A tenant without `outputs` sends to every output.
    assert!(unused(&file(both_name_s, "")).is_empty());
    // Outputs only (for `map --config F --output NAME`): valid and quiet.
    let c = load("[[output]]\nname = \"s\"\ntype = \"stdout\"\n").unwrap();
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

#[test]
fn duplicates_are_refused_with_the_line_of_the_second() {
    let cases: &[(String, &str)] = &[
        (
            "[[output]]\nname = \"a\"\ntype = \"stdout\"\n\n[[output]]\nname = \"a\"\ntype = \"file\"\npath = \"x\"\n".into(),
            "siemfwd.toml:5: [[output]] `name`: \"a\" is used by another output; names must be unique",
        ),
        (
            format!(
                "[defaults]\n{APP}client_secret = \"x\"\n\n[[tenant]]\nname = \"a\"\ntenant_id = \"{T1}\"\n\n[[tenant]]\nname = \"a\"\ntenant_id = \"b.onmicrosoft.com\"\n"
            ),
            "siemfwd.toml:9: [[tenant]] `name`: \"a\" is used by another tenant; names must be unique",
        ),
        (
            format!(
                "[defaults]\n{APP}client_secret = \"x\"\n\n[[tenant]]\nname = \"a\"\ntenant_id = \"{T1}\"\n\n[[tenant]]\nname = \"b\"\ntenant_id = \"{T1}\"\n"
            ),
            "siemfwd.toml:9: [[tenant]] \"b\": `tenant_id`: the same tenant and app as \"a\": every alert would be sent twice",
        ),
    ];
    for (text, want) in cases {
        let e = load(text).expect_err(text);
        assert!(e.ends_with(want), "for\n{text}\nexpected `{want}` in: {e}");
    }
    // The same tenant with another app is not a duplicate (two apps, two sets of permissions).
    let c = load(&format!(
        "[defaults]\n{APP}client_secret = \"x\"\n[[tenant]]\nname = \"a\"\ntenant_id = \"{T1}\"\n\
         [[tenant]]\nname = \"b\"\ntenant_id = \"{T1}\"\nclient_id = \"1aa1b2c3-d4e5-4f60-8a9b-c0d1e2f3a4b5\"\n"
    ))
    .unwrap();
    assert_eq!(c.tenants.len(), 2);
}

#[test]
fn shutdown_grace_defaults_to_10s_and_is_bounded() {
    assert_eq!(load("").unwrap().shutdown_grace, DEFAULT_SHUTDOWN_GRACE);
    assert_eq!(
        load("shutdown_grace = \"3s\"\n").unwrap().shutdown_grace,
        Duration::from_secs(3)
    );
    for bad in ["0s", "11m", "3"] {
        let e = load(&format!("\nshutdown_grace = \"{bad}\"\n")).unwrap_err();
        assert!(
            e.starts_with("/etc/siemfwd/siemfwd.toml:2: `shutdown_grace`"),
            "{bad}: {e}"
        );
    }
}

#[test]
fn max_calls_in_flight_defaults_to_64_and_is_bounded() {
    assert_eq!(
        load("").unwrap().max_calls_in_flight,
        DEFAULT_MAX_CALLS_IN_FLIGHT
    );
    assert_eq!(
        load("max_calls_in_flight = 8\n")
            .unwrap()
            .max_calls_in_flight,
        8
    );
    for bad in ["0", "4097"] {
        let e = load(&format!("\nmax_calls_in_flight = {bad}\n")).unwrap_err();
        assert!(
            e.starts_with("/etc/siemfwd/siemfwd.toml:2: `max_calls_in_flight`: "),
            "{bad}: {e}"
        );
    }
    // A string is refused by the TOML reader, with the line of the key.
    let e = load("\nmax_calls_in_flight = \"8\"\n").unwrap_err();
    assert!(
        e.starts_with("/etc/siemfwd/siemfwd.toml:2: invalid type: string"),
        "{e}"
    );
}

#[test]
fn max_page_bytes_defaults_to_32_mib_and_is_bounded() {
    let tenant = |extra: &str| {
        format!(
            "[[tenant]]\nname = \"a\"\ntenant_id = \"{T1}\"\n{APP}client_secret = \"x\"\n{extra}"
        )
    };
    let c = load(&tenant("")).unwrap();
    assert_eq!(c.tenants[0].max_page_bytes, 32 << 20);
    let c = load(&tenant("max_page_bytes = 2097152\n")).unwrap();
    assert_eq!(c.tenants[0].max_page_bytes, 2 << 20);
    for bad in ["1000", "2000000000", "18446744073709551615"] {
        let e = load(&tenant(&format!("max_page_bytes = {bad}\n"))).unwrap_err();
        assert!(
            e.contains("`max_page_bytes`") && e.contains("1048576 to 1073741824"),
            "{bad}: {e}"
        );
    }
}

#[test]
fn the_admin_table_and_log_format_are_validated_with_their_lines() {
    let c = load("log_format = \"json\"\n[admin]\nlisten = \"127.0.0.1:9400\"\nfailing_tenant_grace = \"5m\"\n").unwrap();
    assert_eq!(c.log_format, LogFormat::Json);
    assert_eq!(c.admin.listen, Some("127.0.0.1:9400".parse().unwrap()));
    assert_eq!(c.admin.failing_grace, std::time::Duration::from_secs(300));
    let c = load("").unwrap();
    assert_eq!(
        (c.log_format, c.admin.clone()),
        (LogFormat::Text, AdminConfig::default()),
        "off unless set"
    );
    let e = load("\n[admin]\nlisten = \"localhost\"\n").unwrap_err();
    assert!(e.starts_with("/etc/siemfwd/siemfwd.toml:3: [admin] `listen`: \"localhost\" is not an address and port"), "{e}");
    let e = load("log_format = \"xml\"\n").unwrap_err();
    assert!(
        e.contains(":1: `log_format`: unknown log format \"xml\": text or json"),
        "{e}"
    );
    let e = load("[admin]\nlisten = \"127.0.0.1:1\"\nport = 3\n").unwrap_err();
    assert!(e.contains("unknown field `port`"), "{e}");
}

#[test]
fn a_misspelt_tenant_key_gets_the_key_meant_and_the_list() {
    let e = load("[[tenant]]\nname = \"x\"\ntenant_id = \"00000000-0000-0000-0000-000000000001\"\nclient_secert_env = \"X\"\n").unwrap_err();
    assert!(
        e.contains("unknown field `client_secert_env` (did you mean `client_secret_env`?), expected one of `name`, `tenant_id`"),
        "{e}"
    );
    let e = load("stat_dir = \"x\"\n").unwrap_err();
    assert!(
        e.contains("unknown field `stat_dir` (did you mean `state_dir`?)"),
        "{e}"
    );
    // The list of tenant keys is the keys a tenant takes.
    for key in crate::source::config::TENANT_KEYS {
        let e = load(&format!("[[tenant]]\n{key} = 1\n"))
            .map(|_| ())
            .unwrap_err();
        assert!(!e.contains("unknown field"), "{key}: {e}");
    }
}
