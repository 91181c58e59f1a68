//! The authorization code flow with PKCE (S256) and `state`: the sign-in link, the answer
//! (from the loopback listener or an address the user pastes), and the code's exchange for a
//! refresh token.
//!
//! The answer is accepted in every shape a person may have at hand: the whole redirected
//! address (`https://SiemMsspConnector/?code=...&state=...`, which no browser can load: that
//! is fine, the address is all that is needed), just its query, a fragment
//! (`response_mode=fragment`), an error redirect (`error=...&error_description=...`) or the
//! text of Entra's error page (`AADSTS50011: ...`), each explained in words.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::secret::Secret;
use crate::source::TenantConfig;

use super::login::{self, Endpoint, LoginError, audience, endpoint};
use super::loopback::{Arrival, Loopback, Verdict};
use super::pkce::{Pkce, random_token};

/// How long the browser's page may take to be written after the verdict.
const PAGE_TIMEOUT: Duration = Duration::from_secs(2);

/// Where the browser is sent after the sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedirectUri {
    /// `http://localhost[:PORT]/path` (or 127.0.0.1, [::1]): siemfwd can listen there. Without
    /// a port any free one is taken (Entra lets native apps redirect to any port of a
    /// registered loopback URI).
    Loopback {
        /// As given, to be sent byte for byte (Entra compares redirect URIs exactly).
        text: String,
        /// The loopback address to listen on: `localhost` is 127.0.0.1.
        ip: IpAddr,
        /// The port written in the URI; none: any free port.
        port: Option<u16>,
        /// The path the redirect arrives at, `/` at least.
        path: String,
    },
    /// Any other (https) URI, such as Microsoft's `https://SiemMsspConnector` or
    /// `.../oauth2/nativeclient`: nothing can listen there; the user pastes the address the
    /// browser ends on.
    External {
        /// As given, to be sent byte for byte.
        text: String,
    },
}

/// A `--redirect-uri` that cannot be one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedirectUriError {
    /// Not a URI with a scheme and a host.
    #[error("`{text}` is not an absolute URI: {source}")]
    NotAbsolute {
        /// The `--redirect-uri` as given.
        text: String,
        /// Why it does not parse.
        source: url::ParseError,
    },
    /// It has a `#fragment`, which OAuth forbids in a redirect URI (the `--redirect-uri` here).
    #[error("`{0}`: a redirect URI has no #fragment")]
    Fragment(String),
    /// `http://` to another machine: the code would cross the network in clear text (the
    /// `--redirect-uri` here).
    #[error(
        "`{0}`: http:// only for this machine (localhost, 127.0.0.1, [::1]); other redirect URIs must be https://"
    )]
    ClearTextRemote(String),
    /// A scheme other than http and https.
    #[error("`{text}`: `{scheme}` is not http(s)")]
    Scheme {
        /// The `--redirect-uri` as given.
        text: String,
        /// Its scheme, such as `ftp`.
        scheme: String,
    },
}

/// The redirect URI used when none is given: this machine, any free port.
pub const DEFAULT_REDIRECT: &str = "http://localhost/";

impl RedirectUri {
    /// Reads a `--redirect-uri`: https anywhere, http only to this machine.
    pub fn parse(text: &str) -> Result<RedirectUri, RedirectUriError> {
        let url = url::Url::parse(text).map_err(|source| RedirectUriError::NotAbsolute {
            text: text.to_owned(),
            source,
        })?;
        if url.fragment().is_some() {
            return Err(RedirectUriError::Fragment(text.to_owned()));
        }
        let ip = match url.host() {
            Some(url::Host::Domain(d)) if d.eq_ignore_ascii_case("localhost") => {
                Some(IpAddr::V4(Ipv4Addr::LOCALHOST))
            }
            Some(url::Host::Ipv4(ip)) if ip.is_loopback() => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) if ip.is_loopback() => Some(IpAddr::V6(Ipv6Addr::LOCALHOST)),
            _ => None,
        };
        match (url.scheme(), ip) {
            ("http", Some(ip)) => Ok(RedirectUri::Loopback {
                text: text.to_owned(),
                ip,
                port: explicit_port(text),
                path: url.path().to_owned(),
            }),
            ("http", None) => Err(RedirectUriError::ClearTextRemote(text.to_owned())),
            ("https", _) => Ok(RedirectUri::External {
                text: text.to_owned(),
            }),
            (other, _) => Err(RedirectUriError::Scheme {
                text: text.to_owned(),
                scheme: other.to_owned(),
            }),
        }
    }

    /// The URI as given, as it is sent to Entra (which compares it byte for byte with the
    /// app's registered redirect URIs).
    pub fn text(&self) -> &str {
        match self {
            RedirectUri::Loopback { text, .. } | RedirectUri::External { text } => text,
        }
    }
}

/// The port written in `text` (the `url` crate hides a scheme's default port).
fn explicit_port(text: &str) -> Option<u16> {
    let authority = authority(text)?;
    let host_end = authority.rfind(']').map_or(0, |i| i + 1);
    let (_, port) = authority[host_end..].rsplit_once(':')?;
    port.parse().ok()
}

/// The `host[:port]` part of `scheme://host[:port]/...`.
fn authority(text: &str) -> Option<&str> {
    let rest = &text[text.find("://")? + 3..];
    Some(&rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())])
}

/// `text` with `:port` written after its host (the URI otherwise as given).
pub(crate) fn with_port(text: &str, port: u16) -> String {
    let start = text.find("://").map_or(0, |i| i + 3);
    let end = start
        + text[start..]
            .find(['/', '?', '#'])
            .unwrap_or(text.len() - start);
    let mut out = String::with_capacity(text.len() + 6);
    out.push_str(&text[..end]);
    out.push_str(&format!(":{port}"));
    let rest = &text[end..];
    // `http://localhost` and `http://localhost/` are the same place; write the slash.
    if rest.is_empty() {
        out.push('/');
    }
    out.push_str(rest);
    out
}

/// The sign-in link of `tenant`: v2 `scope` (with `offline_access`) or v1 `resource`, PKCE
/// S256, `state`, and `prompt=select_account` so that the MSSP's own browser session is not
/// used by mistake for the customer's tenant.
pub fn authorize_url(
    tenant: &TenantConfig,
    redirect_uri: &str,
    pkce: &Pkce,
    state: &str,
) -> String {
    let (key, value) = audience(tenant);
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("client_id", &tenant.client_id)
        .append_pair("response_type", "code")
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("response_mode", "query")
        .append_pair(key, &value)
        .append_pair("state", state)
        .append_pair("code_challenge", pkce.challenge())
        .append_pair("code_challenge_method", "S256")
        .append_pair("prompt", "select_account");
    format!("{}?{}", endpoint(tenant, Endpoint::Authorize), q.finish())
}

/// The parameters of a redirect, from whatever the user pasted: a whole address (query and
/// fragment), or just `code=...&state=...`. `Err` says what is wrong with the input.
pub(crate) fn pasted_params(input: &str) -> Result<Vec<(String, String)>, PastedError> {
    let text = input
        .trim()
        .trim_matches(|c| matches!(c, '"' | '\'' | '<' | '>'))
        .trim();
    if text.is_empty() {
        return Err(PastedError::Nothing);
    }
    let mut params: Vec<(String, String)> = Vec::new();
    let mut parse = |q: &str| params.extend(form_urlencoded::parse(q.as_bytes()).into_owned());
    if let Ok(url) = url::Url::parse(text)
        && url.has_host()
    {
        parse(url.query().unwrap_or(""));
        parse(url.fragment().unwrap_or(""));
    } else if text.contains('=') && !text.contains(char::is_whitespace) {
        parse(text.trim_start_matches(['?', '#']));
    }
    if params.iter().any(|(k, _)| k == "code" || k == "error") {
        Ok(params)
    } else {
        Err(PastedError::NotTheAddress)
    }
}

/// Pasted text that holds no redirect's parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PastedError {
    #[error("nothing was pasted")]
    Nothing,
    #[error(
        "this is not the address the sign-in ended on: paste the whole address from the browser's address bar (it contains code=... or error=...)"
    )]
    NotTheAddress,
}

/// The code of a redirect's parameters, once its `state` is this sign-in's; an error redirect
/// explained in words.
pub(crate) fn code_from_params(
    tenant: &TenantConfig,
    params: &[(String, String)],
    expected_state: &str,
) -> Result<String, LoginError> {
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    // Checked before anything else: an answer of another sign-in is never exchanged, and its
    // error (or a forged one sent to the listener) is not taken for this sign-in's. Entra
    // returns `state` with errors too.
    if get("state") != Some(expected_state) {
        return Err(LoginError::StateMismatch {
            tenant: tenant.name.clone(),
        });
    }
    if let Some(error) = get("error") {
        return Err(login::sign_in_error(
            tenant,
            error,
            get("error_description").unwrap_or(""),
        ));
    }
    match get("code") {
        Some(code) if !code.is_empty() => Ok(code.to_owned()),
        _ => Err(LoginError::failed(
            tenant,
            "the answer carries no code: sign in again",
        )),
    }
}

/// What the user pasted, read as an answer: Entra's error text (`AADSTS...`) is explained
/// too, since Entra shows errors such as a redirect URI mismatch on its own page instead of
/// redirecting.
pub fn code_from_pasted(
    tenant: &TenantConfig,
    input: &str,
    expected_state: &str,
) -> Result<String, LoginError> {
    match pasted_params(input) {
        Ok(params) => code_from_params(tenant, &params, expected_state),
        Err(message) => match login::aadsts_code(input) {
            Some(_) => Err(login::sign_in_error(tenant, "", input.trim())),
            None => Err(LoginError::failed(tenant, message.to_string())),
        },
    }
}

/// Redeems `code` for a refresh token: the same redirect URI, the PKCE verifier, and the
/// client secret when the tenant has one (a confidential "Web" app); without one siemfwd is a
/// public client.
pub async fn exchange(
    http: &reqwest::Client,
    tenant: &TenantConfig,
    code: &str,
    redirect_uri: &str,
    pkce: &Pkce,
) -> Result<Secret, LoginError> {
    let (key, value) = audience(tenant);
    let mut form: Vec<(&str, &str)> = vec![
        ("grant_type", "authorization_code"),
        ("client_id", &tenant.client_id),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("code_verifier", pkce.verifier()),
        (key, &value),
    ];
    if let Some(secret) = &tenant.client_secret {
        form.push(("client_secret", secret.expose()));
    }
    let url = endpoint(tenant, Endpoint::Token);
    let (status, body) = login::post_form(http, tenant, &url, &form).await?;
    if status != 200 {
        return Err(login::entra_error(tenant, status, &body));
    }
    login::refresh_token_of(tenant, &body)
}

/// One sign-in by authorization code: its secrets, the link, and the listener when the
/// redirect URI is on this machine.
pub struct CodeLogin {
    tenant: TenantConfig,
    pkce: Pkce,
    state: String,
    redirect_uri: String,
    listener: Option<Loopback>,
}

impl CodeLogin {
    /// Makes the PKCE pair and `state`; with a loopback redirect URI and `listen`, binds the
    /// listener first, so the link names the port that is actually open.
    pub async fn start(
        tenant: TenantConfig,
        redirect: &RedirectUri,
        listen: bool,
    ) -> Result<CodeLogin, LoginError> {
        let pkce = Pkce::generate().map_err(|e| LoginError::random(&tenant, e))?;
        let state = random_token(16).map_err(|e| LoginError::random(&tenant, e))?;
        let (redirect_uri, listener) = match redirect {
            RedirectUri::Loopback {
                text,
                ip,
                port,
                path,
            } if listen => {
                let addr = SocketAddr::new(*ip, port.unwrap_or(0));
                let listener = Loopback::bind(addr, path).await.map_err(|e| {
                    LoginError::failed(
                        &tenant,
                        format!(
                            "cannot listen on {addr} for the redirect: {e}{}",
                            if port.is_some() {
                                " (choose another port in --redirect-uri, or use --paste)"
                            } else {
                                ""
                            }
                        ),
                    )
                })?;
                let uri = match port {
                    Some(_) => text.clone(),
                    None => {
                        let bound = listener
                            .local_addr()
                            .map_err(|e| LoginError::failed(&tenant, e.to_string()))?;
                        with_port(text, bound.port())
                    }
                };
                (uri, Some(listener))
            }
            other => (other.text().to_owned(), None),
        };
        Ok(CodeLogin {
            tenant,
            pkce,
            state,
            redirect_uri,
            listener,
        })
    }

    /// The link to open in a browser.
    pub fn authorize_url(&self) -> String {
        authorize_url(&self.tenant, &self.redirect_uri, &self.pkce, &self.state)
    }

    /// The redirect URI as sent to Entra (with the listener's port).
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// Whether the browser's redirect is awaited on this machine.
    pub fn listens(&self) -> bool {
        self.listener.is_some()
    }

    /// Waits up to `timeout` for the answer: from the listener, or a line of `pasted` (each
    /// line one attempt; lines that are not an answer are reported through `on_bad_paste` and
    /// the wait goes on). Then checks `state`, exchanges the code and, for the listener, tells
    /// the browser how it ended.
    pub async fn finish(
        self,
        http: &reqwest::Client,
        mut pasted: Option<mpsc::Receiver<String>>,
        timeout: Duration,
        on_bad_paste: &mut dyn FnMut(&LoginError),
    ) -> Result<Secret, LoginError> {
        let tenant = &self.tenant;
        let (server, mut arrivals) = match self.listener {
            Some(l) => {
                let (task, rx) = l.serve();
                (Some(task), Some(rx))
            }
            None => (None, None),
        };
        let _stop_server = AbortOnDrop(server);
        if arrivals.is_none() && pasted.is_none() {
            return Err(LoginError::failed(
                tenant,
                "no way to receive the answer (no listener and no input to paste into)",
            ));
        }
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                arrival = next(&mut arrivals) => {
                    let Some(Arrival { query, verdict, answered }) = arrival else {
                        arrivals = None;
                        continue;
                    };
                    let params: Vec<(String, String)> =
                        form_urlencoded::parse(query.as_bytes()).into_owned().collect();
                    let result = match code_from_params(tenant, &params, &self.state) {
                        Ok(code) => exchange(http, tenant, &code, &self.redirect_uri, &self.pkce).await,
                        Err(e) => Err(e),
                    };
                    let _ = verdict.send(match &result {
                        Ok(_) => Verdict::SignedIn(
                            "siemfwd received the refresh token. You can close this tab.".into(),
                        ),
                        Err(e) => Verdict::Failed(format!("{e}")),
                    });
                    // Let the page reach the browser before the caller may end the process.
                    let _ = tokio::time::timeout(PAGE_TIMEOUT, answered).await;
                    return result;
                }
                line = next(&mut pasted) => {
                    let Some(line) = line else {
                        // Standard input ended: only the listener is left, if there is one.
                        pasted = None;
                        if arrivals.is_none() {
                            return Err(LoginError::failed(
                                tenant,
                                "standard input ended before the address the sign-in ended on was pasted",
                            ));
                        }
                        continue;
                    };
                    if line.trim().is_empty() {
                        continue;
                    }
                    match code_from_pasted(tenant, &line, &self.state) {
                        Ok(code) => {
                            return exchange(http, tenant, &code, &self.redirect_uri, &self.pkce).await;
                        }
                        // Not an answer at all (a stray line): say so and keep waiting.
                        Err(e @ LoginError::Failed { .. }) => on_bad_paste(&e),
                        Err(e) => return Err(e),
                    }
                }
                _ = &mut deadline => {
                    return Err(LoginError::failed(
                        tenant,
                        format!(
                            "no answer within {}s: run the command again (--timeout sets the wait)",
                            timeout.as_secs()
                        ),
                    ));
                }
            }
        }
    }
}

/// The next item of an optional receiver; pending forever without one.
async fn next<T>(rx: &mut Option<mpsc::Receiver<T>>) -> Option<T> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Stops the listener however the wait ends.
struct AbortOnDrop(Option<tokio::task::JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(task) = &self.0 {
            task.abort();
        }
    }
}
