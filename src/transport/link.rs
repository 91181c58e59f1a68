//! One connection (or socket, or file) of an output, and how to open it.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpStream, UdpSocket, UnixDatagram};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::batch::Batch;
use super::config::Destination;
use super::tls::TlsClient;

/// How long to wait after a handshake in which the server asked for a client certificate: a
/// TLS 1.3 server rejects one only after the client thinks the handshake is done.
const CLIENT_CERT_VERDICT_WAIT: Duration = Duration::from_millis(300);

/// Why a connection could not be opened, in words for the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConnectError(pub String);

/// Opens links to one destination. DNS is resolved again on every connect, so a SIEM that
/// moved is found after a reconnect.
#[derive(Debug, Clone)]
pub struct Connector {
    destination: Destination,
    tls: Option<TlsClient>,
}

/// An open link.
pub enum Link {
    /// A plain TCP connection (`type = "tcp"`).
    Tcp(TcpStream),
    /// A TLS connection over TCP, verified by the output's [`TlsClient`] (`type = "tls"`).
    Tls(Box<TlsStream<TcpStream>>),
    /// A UDP socket connected to the receiver: one record per datagram (`type = "udp"`).
    Udp(UdpSocket),
    /// The local syslog socket, one record per datagram (`type = "unix"`).
    Unix(UnixDatagram),
    /// A file opened for appending (`type = "file"`).
    File(tokio::fs::File),
    /// The process's standard output (`type = "stdout"`).
    Stdout(tokio::io::Stdout),
}

impl Connector {
    /// A connector to `destination`; `tls` is required for [`Destination::Tls`] and ignored
    /// for the others.
    pub fn new(destination: Destination, tls: Option<TlsClient>) -> Connector {
        Connector { destination, tls }
    }

    /// Where it connects to.
    pub(crate) fn destination(&self) -> &Destination {
        &self.destination
    }

    /// Whether its links are byte streams (TCP, TLS), which can lose unread data on a break.
    pub fn is_stream(&self) -> bool {
        matches!(
            self.destination,
            Destination::Tcp { .. } | Destination::Tls { .. }
        )
    }

    /// Opens a link; `timeout` bounds name resolution, TCP connect and the TLS handshake.
    pub async fn connect(&self, timeout: Duration) -> Result<Link, ConnectError> {
        let tcp_connected = std::sync::atomic::AtomicBool::new(false);
        match tokio::time::timeout(timeout, self.connect_inner(&tcp_connected)).await {
            Ok(r) => r,
            Err(_) if tcp_connected.load(std::sync::atomic::Ordering::Relaxed) => {
                Err(ConnectError(format!(
                    "connecting to {}: the TCP connection was made but no TLS answer came within {}: is this a TLS port? (a plain TCP syslog port, such as QRadar's 514, never answers a TLS hello: use type = \"tcp\" for it)",
                    self.destination.describe(),
                    humantime(timeout)
                )))
            }
            Err(_) => Err(ConnectError(format!(
                "connecting to {} timed out after {}",
                self.destination.describe(),
                humantime(timeout)
            ))),
        }
    }

    /// Sets `tcp_connected` once a TLS output's TCP connection is made, so that a timeout can
    /// say whether it was the TLS answer that never came.
    async fn connect_inner(
        &self,
        tcp_connected: &std::sync::atomic::AtomicBool,
    ) -> Result<Link, ConnectError> {
        match &self.destination {
            Destination::Tcp { address }
            | Destination::Relp {
                address, tls: None, ..
            } => Ok(Link::Tcp(tcp_connect(address).await?)),
            Destination::Tls { address, .. }
            | Destination::Relp {
                address,
                tls: Some(_),
                ..
            } => {
                let tls = self
                    .tls
                    .as_ref()
                    .ok_or_else(|| ConnectError(format!("TLS with {address}: no TLS settings")))?;
                let tcp = tcp_connect(address).await?;
                tcp_connected.store(true, std::sync::atomic::Ordering::Relaxed);
                tls.reset_request_flag();
                let connector = TlsConnector::from(tls.config.clone());
                let mut stream = connector
                    .connect(tls.server_name.clone(), tcp)
                    .await
                    .map_err(|e| {
                        ConnectError(format!("TLS with {address}: {}", tls.explain(&e)))
                    })?;
                if tls.client_cert_requested() {
                    let verdict =
                        tokio::time::timeout(CLIENT_CERT_VERDICT_WAIT, read_one(&mut stream)).await;
                    let closed = match verdict {
                        Err(_) | Ok(Ok(Some(_))) => false,
                        Ok(Ok(None)) => true,
                        // rsyslog (GnuTLS) rejects a client certificate by closing TCP without
                        // an alert or close_notify.
                        Ok(Err(e))
                            if matches!(
                                e.kind(),
                                io::ErrorKind::UnexpectedEof
                                    | io::ErrorKind::ConnectionReset
                                    | io::ErrorKind::ConnectionAborted
                            ) =>
                        {
                            true
                        }
                        Ok(Err(e)) => {
                            return Err(ConnectError(format!(
                                "TLS with {address}: {}",
                                tls.explain(&e)
                            )));
                        }
                    };
                    if closed && let Some(why) = tls.explain_close_after_handshake() {
                        return Err(ConnectError(format!("TLS with {address}: {why}")));
                    }
                }
                Ok(Link::Tls(Box::new(stream)))
            }
            Destination::Udp { address } => {
                let addrs = resolve(address).await?;
                let mut last = None;
                for addr in addrs {
                    let local: SocketAddr = if addr.is_ipv4() {
                        ([0, 0, 0, 0], 0).into()
                    } else {
                        ([0u16; 8], 0).into()
                    };
                    let attempt = async {
                        let socket = UdpSocket::bind(local).await?;
                        socket.connect(addr).await?;
                        Ok::<_, io::Error>(socket)
                    };
                    match attempt.await {
                        Ok(s) => return Ok(Link::Udp(s)),
                        Err(e) => last = Some(io_message(address, &e)),
                    }
                }
                Err(ConnectError(
                    last.unwrap_or_else(|| format!("{address}: no address")),
                ))
            }
            Destination::Unix { path } => {
                let socket = UnixDatagram::unbound()
                    .and_then(|s| s.connect(path).map(|()| s))
                    .map_err(|e| ConnectError(path_message(path, &e)))?;
                Ok(Link::Unix(socket))
            }
            Destination::File { path } => {
                let file = tokio::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .await
                    .map_err(|e| ConnectError(path_message(path, &e)))?;
                Ok(Link::File(file))
            }
            Destination::Stdout => Ok(Link::Stdout(tokio::io::stdout())),
        }
    }
}

async fn resolve(address: &str) -> Result<Vec<SocketAddr>, ConnectError> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host(address)
        .await
        .map_err(|e| ConnectError(format!("cannot resolve {address}: {e}")))?
        .collect();
    if addrs.is_empty() {
        return Err(ConnectError(format!(
            "cannot resolve {address}: no address"
        )));
    }
    Ok(addrs)
}

async fn tcp_connect(address: &str) -> Result<TcpStream, ConnectError> {
    let mut last = String::new();
    for addr in resolve(address).await? {
        match TcpStream::connect(addr).await {
            Ok(s) => {
                // Batches are written whole; no reason to hold the tail of one back.
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => last = io_message(&addr.to_string(), &e),
        }
    }
    Err(ConnectError(last))
}

fn io_message(target: &str, e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => format!("connection refused to {target}"),
        io::ErrorKind::TimedOut => format!("connection to {target} timed out"),
        _ => format!("cannot connect to {target}: {e}"),
    }
}

/// Why `path` cannot be opened, with the absolute path and the fix.
pub(crate) fn path_message(path: &std::path::Path, e: &io::Error) -> String {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let folder = absolute.parent().unwrap_or(std::path::Path::new("/"));
    match e.kind() {
        io::ErrorKind::NotFound if !folder.is_dir() => format!(
            "cannot open {}: the folder {} does not exist: create it (mkdir -p {}) and let the user siemfwd runs as write to it",
            absolute.display(),
            folder.display(),
            folder.display()
        ),
        io::ErrorKind::PermissionDenied => format!(
            "cannot open {}: permission denied: the user siemfwd runs as must be able to write it (under the shipped systemd unit, its folder also belongs in ReadWritePaths=)",
            absolute.display()
        ),
        _ => format!("cannot open {}: {e}", absolute.display()),
    }
}

/// Reads at most one chunk; `None` at end of stream.
async fn read_one<S: AsyncRead + Unpin>(s: &mut S) -> io::Result<Option<usize>> {
    let mut buf = [0u8; 512];
    let mut read = ReadBuf::new(&mut buf);
    std::future::poll_fn(|cx| Pin::new(&mut *s).poll_read(cx, &mut read)).await?;
    Ok(match read.filled().len() {
        0 => None,
        n => Some(n),
    })
}

impl Link {
    /// The byte stream of a TCP or TLS link, for a protocol of its own (RELP).
    pub(crate) fn into_stream(self) -> Option<Box<dyn crate::transport::relp::session::Io>> {
        match self {
            Link::Tcp(s) => Some(Box::new(s)),
            Link::Tls(s) => Some(s),
            _ => None,
        }
    }

    /// Writes already framed bytes to a stream link and flushes them.
    pub async fn write_stream(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Link::Tcp(s) => {
                s.write_all(bytes).await?;
                s.flush().await
            }
            Link::Tls(s) => {
                s.write_all(bytes).await?;
                s.flush().await
            }
            _ => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "not a stream link",
            )),
        }
    }

    /// Writes every record of `batch` and flushes it to the operating system.
    pub async fn write_batch(&mut self, batch: &Batch) -> io::Result<()> {
        match self {
            Link::Tcp(_) | Link::Tls(_) => self.write_stream(batch.bytes()).await,
            Link::Udp(s) => {
                for record in batch.records() {
                    s.send(record).await?;
                }
                Ok(())
            }
            Link::Unix(s) => {
                for record in batch.records() {
                    s.send(record).await?;
                }
                Ok(())
            }
            Link::File(f) => {
                f.write_all(batch.bytes()).await?;
                f.flush().await
            }
            Link::Stdout(s) => {
                s.write_all(batch.bytes()).await?;
                s.flush().await
            }
        }
    }

    /// Whether the peer has closed (or reset) a stream connection, seen without waiting. A
    /// syslog receiver never sends, so anything readable is the end of the connection, a TLS
    /// alert, or TLS housekeeping (session tickets), which is read and dropped.
    pub fn peer_closed(&mut self) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        let mut buf = [0u8; 1024];
        for _ in 0..16 {
            let mut read = ReadBuf::new(&mut buf);
            let poll = match self {
                Link::Tcp(s) => Pin::new(s).poll_read(&mut cx, &mut read),
                Link::Tls(s) => Pin::new(s.as_mut()).poll_read(&mut cx, &mut read),
                _ => return false,
            };
            match poll {
                Poll::Pending => return false,
                Poll::Ready(Err(_)) => return true,
                Poll::Ready(Ok(())) if read.filled().is_empty() => return true,
                Poll::Ready(Ok(())) => continue,
            }
        }
        false
    }

    /// Resolves when the peer closes a stream connection: `Ok` for a clean end, the error for
    /// a reset; never for other links. A TLS peer that ends the TCP connection without its own
    /// close_notify (rsyslog's gtls does) has read what it wanted as surely as one that sends
    /// it: that is a clean end too. Cancel-safe: a syslog receiver sends nothing, so what is
    /// read is dropped anyway.
    pub async fn closed_by_peer(&mut self) -> io::Result<()> {
        loop {
            let read = match self {
                Link::Tcp(s) => read_one(s).await,
                Link::Tls(s) => read_one(s.as_mut()).await,
                _ => return std::future::pending().await,
            };
            match read {
                Ok(Some(_)) => continue,
                Ok(None) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }

    /// Ends the sending side of a stream (TLS close_notify, then a FIN) and keeps reading it:
    /// a receiver closes its side once it has read everything before the FIN.
    pub async fn half_close(&mut self) -> io::Result<()> {
        match self {
            Link::Tcp(s) => s.shutdown().await,
            Link::Tls(s) => s.shutdown().await,
            _ => Ok(()),
        }
    }

    /// Ends the link cleanly: TLS sends close_notify, TCP a FIN, files are flushed.
    pub async fn close(mut self) -> io::Result<()> {
        match self {
            Link::Tcp(_) | Link::Tls(_) => self.half_close().await,
            Link::File(mut f) => f.flush().await,
            Link::Stdout(mut s) => s.flush().await,
            Link::Udp(_) | Link::Unix(_) => Ok(()),
        }
    }
}

/// `1.5s`, `300ms`, `2m` for log lines.
pub fn humantime(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1_000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        if ms % 1_000 == 0 {
            format!("{}s", ms / 1_000)
        } else {
            format!("{:.1}s", ms as f64 / 1_000.0)
        }
    } else {
        format!("{}m{}s", ms / 60_000, (ms % 60_000) / 1_000)
    }
}
