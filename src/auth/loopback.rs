//! The listener the browser is redirected to after the sign-in (`http://localhost:PORT/...`):
//! on this machine's loopback address only, one short HTTP/1.1 exchange per connection.
//!
//! A request to the redirect path that carries `code` or `error` is handed to the login with a
//! channel for the answer, so the browser's page can say how the exchange ended. Anything else
//! (a favicon, a browser's speculative connection that sends nothing) gets a small answer or a
//! timeout and never stops the wait.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// How long a connection may take to send its request head.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the browser's request waits for the login's verdict (the code's exchange).
const VERDICT_TIMEOUT: Duration = Duration::from_secs(90);
/// A redirect with a code is under 4 KB; a request head beyond this is not one.
const MAX_HEAD: usize = 16 * 1024;

/// A redirect that reached the listener: its query string, and where to send the page the
/// browser shows.
#[derive(Debug)]
pub struct Arrival {
    pub query: String,
    pub verdict: oneshot::Sender<Verdict>,
    /// Resolves once the page is written (or could not be): the process may end then
    /// without cutting the browser's answer short.
    pub answered: oneshot::Receiver<()>,
}

/// What the browser's page says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    SignedIn(String),
    Failed(String),
}

/// A bound listener, not yet serving.
#[derive(Debug)]
pub struct Loopback {
    listener: TcpListener,
    path: String,
}

impl Loopback {
    /// Binds `addr` (port 0: any free port); requests to `path` are redirects.
    pub async fn bind(addr: SocketAddr, path: &str) -> io::Result<Loopback> {
        let listener = TcpListener::bind(addr).await?;
        let path = if path.is_empty() { "/" } else { path }.to_owned();
        Ok(Loopback { listener, path })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until the returned task is aborted; redirects arrive on the receiver.
    pub fn serve(self) -> (JoinHandle<()>, mpsc::Receiver<Arrival>) {
        let (tx, rx) = mpsc::channel(4);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = self.listener.accept().await else {
                    // Out of file descriptors and the like: keep trying a little later.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let tx = tx.clone();
                let path = self.path.clone();
                tokio::spawn(async move {
                    let _ = handle(stream, &path, &tx).await;
                });
            }
        });
        (task, rx)
    }
}

/// The request target (`/path?query`) of the request head in `head`, if it is a GET.
pub(crate) fn request_target(head: &str) -> Option<&str> {
    let line = head.lines().next()?;
    let mut parts = line.split(' ');
    let method = parts.next()?;
    let target = parts.next()?;
    parts
        .next()
        .filter(|v| v.starts_with("HTTP/"))
        .and(matches!(method, "GET" | "HEAD").then_some(target))
}

async fn handle(mut stream: TcpStream, path: &str, tx: &mpsc::Sender<Arrival>) -> io::Result<()> {
    let mut head = Vec::with_capacity(1024);
    let read = tokio::time::timeout(READ_TIMEOUT, async {
        let mut buf = [0u8; 2048];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_HEAD {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        io::Result::Ok(())
    })
    .await;
    if !matches!(read, Ok(Ok(()))) || head.is_empty() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&head);
    let Some(target) = request_target(&text) else {
        return respond(
            &mut stream,
            400,
            "Bad request",
            "siemfwd expected a GET request.",
        )
        .await;
    };
    let (got_path, query) = target.split_once('?').unwrap_or((target, ""));
    if got_path != path {
        return respond(&mut stream, 404, "Not found", "Nothing here.").await;
    }
    let has = |name: &str| form_urlencoded::parse(query.as_bytes()).any(|(k, _)| k == name);
    if !has("code") && !has("error") {
        return respond(
            &mut stream,
            400,
            "No sign-in answer",
            "This address is where the sign-in returns to siemfwd, but this request carries no code and no error.",
        )
        .await;
    }
    let (verdict_tx, verdict_rx) = oneshot::channel();
    let (answered, answered_rx) = oneshot::channel();
    // Dropped when this function returns, however it returns: that resolves `answered`.
    let _answered = answered;
    let arrival = Arrival {
        query: query.to_owned(),
        verdict: verdict_tx,
        answered: answered_rx,
    };
    if tx.send(arrival).await.is_err() {
        return respond(
            &mut stream,
            410,
            "Sign-in already finished",
            "siemfwd is no longer waiting for this sign-in; see its output.",
        )
        .await;
    }
    match tokio::time::timeout(VERDICT_TIMEOUT, verdict_rx).await {
        Ok(Ok(Verdict::SignedIn(text))) => respond(&mut stream, 200, "Signed in", &text).await,
        Ok(Ok(Verdict::Failed(text))) => respond(&mut stream, 400, "Sign-in failed", &text).await,
        _ => {
            respond(
                &mut stream,
                200,
                "Answer received",
                "siemfwd received the answer; see its output for the result.",
            )
            .await
        }
    }
}

async fn respond(stream: &mut TcpStream, status: u16, title: &str, text: &str) -> io::Result<()> {
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        410 => "Gone",
        _ => "Bad Request",
    };
    let body = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>siemfwd: {t}</title></head>\
         <body style=\"font-family:sans-serif;max-width:40em;margin:3em auto\"><h1>{t}</h1><p>{x}</p></body></html>\n",
        t = html(title),
        x = html(text)
    );
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nCache-Control: no-store\r\nReferrer-Policy: no-referrer\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}

fn html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
