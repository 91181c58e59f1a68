//! What every HTTP exchange with Entra ID and the alerts API shares: answers read only up to a
//! bound, and reqwest's errors in words. The client itself, per tenant, is
//! [`crate::source::http`].

/// The most of a token answer or an error answer read: a token answer is a few KB and an
/// error's message a few hundred bytes; a proxy's or a broken server's endless body must not
/// grow memory (a 2 GB error body once took 4 GB).
pub const MAX_SMALL_BODY: usize = 1 << 20;

/// Reads the body of `response` into `body`, stopping at `limit` bytes. Returns whether the
/// whole body was read; when not, the rest is left unread (the connection is dropped).
pub async fn read_limited(
    response: &mut reqwest::Response,
    limit: usize,
    body: &mut Vec<u8>,
) -> Result<bool, reqwest::Error> {
    while let Some(chunk) = response.chunk().await? {
        let room = limit.saturating_sub(body.len());
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            return Ok(false);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(true)
}

/// The start of a small body (a token or error answer), at most [`MAX_SMALL_BODY`] bytes of it.
pub async fn small_body(mut response: reqwest::Response) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    read_limited(&mut response, MAX_SMALL_BODY, &mut body).await?;
    Ok(body)
}

/// A reqwest error without the URL's query (which could hold a token in other APIs).
pub fn describe_reqwest(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "the response broke off"
    } else {
        "failed"
    };
    let mut source = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        what.to_owned()
    } else {
        format!("{what} ({detail})")
    }
}
