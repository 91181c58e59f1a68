//! The URL keys of a tenant (`login_url`, `api_url`, `proxy`, `token_version`): where it
//! signs in and fetches alerts, and why tokens go only over https (or to this machine).

use reqwest::Url;

use super::{
    AlertsApi, DEFAULT_API_URL, DEFAULT_GRAPH_URL, DEFAULT_LOGIN_URL, Keys, TenantConfigError,
    TokenVersion,
};

/// A `login_url` or `api_url` that tokens must not be sent to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// Not a URL at all.
    #[error("`{text}` is not a URL: {source}")]
    NotAUrl {
        /// The value as written.
        text: String,
        /// Why the URL parser refused it.
        source: url::ParseError,
    },
    #[error(
        "`{0}`: http:// is accepted only for this machine (localhost, 127.0.0.1, ::1); use https://"
    )]
    /// `http://` to another machine: tokens and secrets would cross the network in clear.
    ClearTextRemote(String),
    /// A scheme other than `https` (or `http` for this machine).
    #[error("`{text}`: `{scheme}` is not http(s)")]
    Scheme {
        /// The value as written.
        text: String,
        /// The scheme it has.
        scheme: String,
    },
    /// A URL without a host, such as `https:///api`.
    #[error("`{0}` has no host")]
    NoHost(String),
}

/// Where the tenant signs in and fetches alerts.
pub(super) struct Endpoints {
    pub(super) login_url: Url,
    pub(super) api_url: Url,
    pub(super) proxy: Option<Url>,
    pub(super) token_version: TokenVersion,
}

/// The URL checks.
impl Keys<'_> {
    /// `login_url`, `api_url`, `proxy` and `token_version`.
    pub(super) fn endpoints(&self, api: &AlertsApi) -> Result<Endpoints, TenantConfigError> {
        let url = |key: &'static str,
                   value: Option<String>,
                   default: &str|
         -> Result<Url, TenantConfigError> {
            let text = value.unwrap_or_else(|| default.to_owned());
            checked_url(&text).map_err(|m| self.err(key, m))
        };
        let login_url = url("login_url", pick!(self, login_url), DEFAULT_LOGIN_URL)?;
        let default_api_url = match api {
            AlertsApi::Mde => DEFAULT_API_URL,
            AlertsApi::Graph { .. } => DEFAULT_GRAPH_URL,
        };
        let api_url = url("api_url", pick!(self, api_url), default_api_url)?;
        // An `api_url` in [defaults] for one API is easily inherited by a tenant of the other:
        // its calls would all be 404s.
        let host = api_url.host_str().unwrap_or_default();
        let other_api = match api {
            AlertsApi::Mde => host.contains("graph.microsoft"),
            AlertsApi::Graph { .. } => host.contains("securitycenter"),
        };
        if other_api {
            return Err(self.err(
                "api_url",
                format!(
                    "{host} is the other API's host: this tenant has api = \"{}\" ({}); set its own api_url, or leave it out for the default",
                    api.name(),
                    match api {
                        AlertsApi::Mde => "the MDE alerts API, api.securitycenter.microsoft.com or a regional host",
                        AlertsApi::Graph { .. } => "Microsoft Graph, graph.microsoft.com or a national cloud's",
                    }
                ),
            ));
        }
        let proxy = match pick!(self, proxy) {
            Some(p) => Some(
                Url::parse(&p)
                    .map_err(|e| self.err("proxy", format!("`{p}` is not a URL: {e}")))?,
            ),
            None => None,
        };
        let token_version = match pick!(self, token_version).as_deref() {
            None | Some("v2") => TokenVersion::V2,
            Some("v1") => TokenVersion::V1,
            Some(other) => {
                return Err(self.err(
                    "token_version",
                    format!("unknown token endpoint version `{other}` (v2 or v1)"),
                ));
            }
        };
        Ok(Endpoints {
            login_url,
            api_url,
            proxy,
            token_version,
        })
    }
}

/// An https URL, or http only to this machine (a simulator, a test): tokens must not cross a
/// network in clear text.
pub fn checked_url(text: &str) -> Result<Url, UrlError> {
    let url = Url::parse(text).map_err(|source| UrlError::NotAUrl {
        text: text.to_owned(),
        source,
    })?;
    match url.scheme() {
        "https" => {}
        "http" => {
            let loopback = match url.host() {
                Some(url::Host::Domain(d)) => d == "localhost",
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                None => false,
            };
            if !loopback {
                return Err(UrlError::ClearTextRemote(text.to_owned()));
            }
        }
        other => {
            return Err(UrlError::Scheme {
                text: text.to_owned(),
                scheme: other.to_owned(),
            });
        }
    }
    if url.host().is_none() {
        return Err(UrlError::NoHost(text.to_owned()));
    }
    Ok(url)
}
