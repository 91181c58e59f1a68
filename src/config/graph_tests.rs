//! `api = "graph"` (issue 19): its defaults, `service_sources`, and its mistakes.

use super::*;
use crate::entra::{GraphCloud, Resource};
use crate::source::AlertsApi;

const TENANT: &str = r#"
[[tenant]]
name = "contoso"
tenant_id = "8f0b6c2e-1a2b-4c3d-9e8f-0a1b2c3d4e5f"
client_id = "0aa1b2c3-d4e5-4f60-8a9b-c0d1e2f3a4b5"
client_secret = "literal"
"#;

const OUTPUT: &str = r#"
[[output]]
name = "stdout"
type = "stdout"
format = "cef"
"#;

fn load(extra: &str) -> Result<Config, String> {
    let text = format!("state_dir = \"/tmp/s\"\n{TENANT}{extra}\n{OUTPUT}");
    Config::from_toml("/etc/siemfwd/siemfwd.toml", &text).map_err(|e| e.to_string())
}

#[test]
fn a_graph_tenant_gets_graphs_url_scope_page_and_limits() {
    let c = load("api = \"graph\"").unwrap();
    let t = &c.tenants[0];
    assert_eq!(
        t.api,
        AlertsApi::Graph {
            service_sources: Vec::new()
        }
    );
    assert_eq!(t.api_url.as_str(), "https://graph.microsoft.com/");
    assert_eq!(t.entra.resource, Resource::Graph(GraphCloud::Global));
    assert_eq!(t.page_size, 2000);
    assert_eq!((t.limits.per_minute, t.limits.per_hour), (150, 9000));
    // An MDE tenant keeps its own.
    let c = load("").unwrap();
    let t = &c.tenants[0];
    assert_eq!(t.api, AlertsApi::Mde);
    assert_eq!(t.entra.resource, Resource::Defender);
    assert_eq!(
        t.api_url.as_str(),
        "https://api.securitycenter.microsoft.com/"
    );
    assert_eq!((t.page_size, t.limits.per_minute), (5000, 100));
}

#[test]
fn national_clouds_are_their_own_token_audience() {
    for (url, cloud) in [
        ("https://graph.microsoft.us", GraphCloud::UsGov),
        ("https://dod-graph.microsoft.us", GraphCloud::UsDod),
        ("http://127.0.0.1:8080", GraphCloud::Global),
    ] {
        let c = load(&format!("api = \"graph\"\napi_url = \"{url}\"")).unwrap();
        assert_eq!(c.tenants[0].entra.resource, Resource::Graph(cloud), "{url}");
    }
    assert_eq!(
        Resource::Graph(GraphCloud::UsGov).delegated_scope(),
        "https://graph.microsoft.us/SecurityAlert.Read.All offline_access"
    );
}

#[test]
fn defaults_may_set_the_api_and_service_sources_limit_the_products() {
    let text = format!(
        "state_dir = \"/tmp/s\"\n[defaults]\napi = \"graph\"\nservice_sources = [\"microsoftDefenderForEndpoint\", \"microsoftDefenderForOffice365\"]\n{TENANT}{OUTPUT}"
    );
    let c = Config::from_toml("/etc/siemfwd/siemfwd.toml", &text).unwrap();
    assert_eq!(
        c.tenants[0].api,
        AlertsApi::Graph {
            service_sources: vec![
                "microsoftDefenderForEndpoint".into(),
                "microsoftDefenderForOffice365".into()
            ]
        }
    );
}

#[test]
fn graph_mistakes_are_errors_with_the_key() {
    for (extra, message) in [
        ("api = \"grpah\"", "unknown api `grpah`"),
        (
            "service_sources = [\"microsoftDefenderForOffice365\"]",
            "`service_sources`: only for `api = \"graph\"`",
        ),
        (
            "api = \"graph\"\nservice_sources = []",
            "`service_sources`: empty: no alert would be fetched",
        ),
        (
            "api = \"graph\"\nservice_sources = [\"x' or 1 eq 1\"]",
            "is not a Graph serviceSource",
        ),
        (
            "api = \"graph\"\npage_size = 5000",
            "5000: the API returns 1 to 2000 alerts per call",
        ),
        ("servce_sources = [\"a\"]", "did you mean `service_sources`"),
        (
            "api = \"graph\"\napi_url = \"https://api-eu.securitycenter.microsoft.com\"",
            "api-eu.securitycenter.microsoft.com is the other API's host",
        ),
        (
            "api_url = \"https://graph.microsoft.com\"",
            "this tenant has api = \"mde\"",
        ),
    ] {
        let e = load(extra).unwrap_err();
        assert!(e.contains(message), "{extra}: {e}");
        assert!(e.contains("siemfwd.toml:"), "{extra}: {e}");
    }
}
