//! `type = "relp"` outputs (issue 20): their defaults, TLS with `tls = true`, and mistakes.

use super::*;
use crate::transport::Destination;
use crate::transport::framing::Framing;

fn load(output: &str) -> Result<Config, String> {
    Config::from_toml(
        "/etc/siemfwd/siemfwd.toml",
        &format!("[[output]]\nname = \"relp\"\ntype = \"relp\"\n{output}"),
    )
    .map_err(|e| e.to_string())
}

#[test]
fn a_relp_output_defaults_to_plain_rfc5424_and_librelps_window() {
    let c = load("address = \"relay:2514\"").unwrap();
    let o = c.output("relp").unwrap();
    let Destination::Relp {
        address,
        tls,
        window,
    } = &o.destination
    else {
        panic!("relp expected")
    };
    assert_eq!(address, "relay:2514");
    assert!(tls.is_none());
    assert_eq!(*window, 128);
    assert_eq!(
        o.framing,
        Framing::Datagram,
        "RELP frames each record itself"
    );
    assert_eq!(o.max_message_bytes, 8192);
}

#[test]
fn tls_true_takes_the_tls_outputs_keys() {
    let c = load(
        "address = \"relay:2514\"\ntls = true\nca_file = \"ca.pem\"\ncert_file = \"c.pem\"\nkey_file = \"c.key\"\nrelp_window = 32",
    )
    .unwrap();
    let Destination::Relp { tls, window, .. } = &c.output("relp").unwrap().destination else {
        panic!("relp expected")
    };
    let tls = tls.as_ref().unwrap();
    assert_eq!(tls.server_name, "relay");
    assert_eq!(
        tls.ca_file.as_deref(),
        Some(std::path::Path::new("/etc/siemfwd/ca.pem"))
    );
    assert!(tls.client_cert.is_some());
    assert_eq!(*window, 32);
}

#[test]
fn relp_mistakes_are_errors_with_the_key() {
    for (keys, message) in [
        (
            "address = \"r:1\"\nca_file = \"ca.pem\"",
            "a relp output takes `ca_file` with `tls = true` only",
        ),
        ("address = \"r:1\"\nrelp_window = 0", "`relp_window`"),
        ("address = \"r:1\"\nrelp_window = 5000", "`relp_window`"),
        (
            "address = \"r:1\"\nframing = \"lf\"",
            "RELP frames each record itself",
        ),
        (
            "address = \"r:1\"\nreplay_window_bytes = 1000",
            "it has no replay window",
        ),
        ("", "a relp output needs \"host:port\""),
    ] {
        let e = load(keys).unwrap_err();
        assert!(e.contains(message), "{keys}: {e}");
    }
    let e = Config::from_toml(
        "/etc/siemfwd/siemfwd.toml",
        "[[output]]\nname = \"t\"\ntype = \"tcp\"\naddress = \"r:1\"\ntls = true",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("only a relp output has `tls`"), "{e}");
}
