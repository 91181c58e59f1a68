//! One RELP session over a connection (TCP or TLS): `open` with our offers, `syslog`
//! commands sent up to a window ahead of their answers, each answered `rsp 200` or refused,
//! and `close`.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::frame::{self, Frame, MAX_RESPONSE_DATA, Response};

/// A byte stream a session runs over.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {
    /// Acknowledges what was read at once (TCP_QUICKACK, Linux), where it can. A receiver
    /// whose socket keeps Nagle's algorithm (librelp's does) holds its next answers until the
    /// previous one is acknowledged, and ours would otherwise wait up to 40 ms (delayed ACK)
    /// whenever there is nothing to send with it: at the end of every batch.
    fn ack_now(&self) {}
}

impl Io for tokio::net::TcpStream {
    fn ack_now(&self) {
        quickack(self);
    }
}

impl Io for tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    fn ack_now(&self) {
        quickack(self.get_ref().0);
    }
}

impl Io for tokio::io::DuplexStream {}

fn quickack(tcp: &tokio::net::TcpStream) {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        // Best effort: without it, answers only come later.
        let _ = socket2::SockRef::from(tcp).set_tcp_quickack(true);
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let _ = tcp;
}

/// How long `close` waits for the receiver's answer.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// An open session.
pub(crate) struct Session {
    io: Box<dyn Io>,
    /// Received bytes not yet read as frames.
    received: Vec<u8>,
    /// The last transaction number used.
    txnr: u32,
    /// Frames to write, reused.
    out: Vec<u8>,
    /// The server's answer to `open`: its offers.
    pub offers: Response,
}

/// The offers we make: RELP version 0, the `syslog` command.
fn our_offers() -> String {
    format!(
        "relp_version=0\nrelp_software=siemfwd,{},https://github.com/siemfwd/siemfwd\ncommands=syslog",
        env!("CARGO_PKG_VERSION")
    )
}

/// A record the receiver refused (an answer other than 200), by its index.
#[derive(Debug)]
pub(crate) struct Refused {
    pub index: usize,
    pub response: Response,
}

impl Session {
    /// Opens a session on `io`: our offers, and the server's, which must include `syslog`.
    pub(crate) async fn open(io: Box<dyn Io>) -> Result<Session, String> {
        let mut session = Session {
            io,
            received: Vec::with_capacity(4096),
            txnr: 0,
            out: Vec::with_capacity(64 * 1024),
            offers: Response {
                code: 0,
                message: String::new(),
                body: String::new(),
            },
        };
        let txnr = session.next();
        let mut out = std::mem::take(&mut session.out);
        frame::write_frame(txnr, "open", our_offers().as_bytes(), &mut out);
        session.write(&out).await?;
        session.out = out;
        let answer = session.read_frame().await.map_err(|e| {
            format!(
                "{e} in answer to RELP's `open`: is this a RELP port (with `tls = true` if it is RELP over TLS)?"
            )
        })?;
        if answer.command != "rsp" || answer.txnr != txnr {
            return Err(format!(
                "the receiver answered `open` with `{} {}`: is this a RELP port?",
                answer.txnr, answer.command
            ));
        }
        let offers = Response::parse(&answer.data).map_err(|e| e.to_string())?;
        if offers.code != 200 {
            return Err(format!("the receiver refused the RELP session: {offers}"));
        }
        let commands = offers.offer("commands").unwrap_or("");
        if !commands.split(',').any(|c| c.trim() == "syslog") {
            return Err(format!(
                "the receiver does not offer the syslog command (it offers commands={commands:?})"
            ));
        }
        session.offers = offers;
        Ok(session)
    }

    fn next(&mut self) -> u32 {
        self.txnr = frame::next_txnr(self.txnr);
        self.txnr
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.io
            .write_all(bytes)
            .await
            .map_err(|e| format!("writing failed: {e}"))?;
        self.io
            .flush()
            .await
            .map_err(|e| format!("writing failed: {e}"))
    }

    /// A frame already received whole, if any (no read).
    fn buffered_frame(&mut self) -> Result<Option<Frame>, String> {
        match frame::parse_frame(&self.received, MAX_RESPONSE_DATA).map_err(|e| e.to_string())? {
            Some((frame, used)) => {
                self.received.drain(..used);
                Ok(Some(frame))
            }
            None => Ok(None),
        }
    }

    /// The next frame from the server.
    async fn read_frame(&mut self) -> Result<Frame, String> {
        loop {
            if let Some((frame, used)) =
                frame::parse_frame(&self.received, MAX_RESPONSE_DATA).map_err(|e| e.to_string())?
            {
                self.received.drain(..used);
                return Ok(frame);
            }
            if self.received.len() > MAX_RESPONSE_DATA + 64 {
                return Err("the receiver sent more than a response can hold".into());
            }
            let mut chunk = [0u8; 4096];
            let n = self
                .io
                .read(&mut chunk)
                .await
                .map_err(|e| format!("reading the receiver's answer failed: {e}"))?;
            if n == 0 {
                return Err("the receiver closed the connection".into());
            }
            self.io.ack_now();
            self.received.extend_from_slice(&chunk[..n]);
        }
    }

    /// Sends the records whose `pending` flag is set, at most `window` unanswered at a time,
    /// until each is answered: a 200 clears its flag, anything else is returned as refused.
    /// An error leaves the session unusable (the caller drops it): the records still
    /// pending are those not acknowledged, to be sent again on a new session.
    pub(crate) async fn send(
        &mut self,
        records: &[&[u8]],
        pending: &mut [bool],
        window: usize,
    ) -> Result<Vec<Refused>, String> {
        let mut in_flight: VecDeque<(u32, usize)> = VecDeque::with_capacity(window);
        let mut refused = Vec::new();
        let mut next = 0;
        loop {
            let mut out = std::mem::take(&mut self.out);
            out.clear();
            while in_flight.len() < window.max(1) && next < records.len() {
                if pending[next] {
                    let txnr = self.next();
                    frame::write_frame(txnr, "syslog", records[next], &mut out);
                    in_flight.push_back((txnr, next));
                }
                next += 1;
            }
            let written = if out.is_empty() {
                Ok(())
            } else {
                self.write(&out).await
            };
            self.out = out;
            written?;
            if in_flight.is_empty() {
                return Ok(refused);
            }
            // The answer waited for, then every one already received: the window is refilled
            // with one write, not one per answer.
            let mut answer = self.read_frame().await?;
            loop {
                self.take_answer(answer, &mut in_flight, pending, &mut refused)?;
                if in_flight.is_empty() {
                    break;
                }
                match self.buffered_frame()? {
                    Some(next) => answer = next,
                    None => break,
                }
            }
        }
    }

    /// One frame where an answer was due: an `rsp` settles its record.
    fn take_answer(
        &mut self,
        answer: Frame,
        in_flight: &mut VecDeque<(u32, usize)>,
        pending: &mut [bool],
        refused: &mut Vec<Refused>,
    ) -> Result<(), String> {
        {
            match answer.command.as_str() {
                "rsp" => {
                    let at = in_flight
                        .iter()
                        .position(|(t, _)| *t == answer.txnr)
                        .ok_or_else(|| {
                            format!(
                                "the receiver answered transaction {}, which is not waiting for an answer",
                                answer.txnr
                            )
                        })?;
                    let (_, index) = in_flight.remove(at).unwrap_or((0, 0));
                    let response = Response::parse(&answer.data).map_err(|e| e.to_string())?;
                    if response.code == 200 {
                        pending[index] = false;
                    } else {
                        refused.push(Refused { index, response });
                    }
                }
                "serverclose" => {
                    return Err("the receiver ended the session (serverclose)".into());
                }
                other => {
                    return Err(format!(
                        "the receiver sent a `{other}` frame where an answer was due"
                    ));
                }
            }
        }
        Ok(())
    }

    /// Ends the session: `close`, the receiver's answer (briefly waited for), then the
    /// connection's end (TLS close_notify).
    pub(crate) async fn close(mut self) {
        let txnr = self.next();
        let mut out = Vec::new();
        frame::write_frame(txnr, "close", b"", &mut out);
        if self.write(&out).await.is_ok() {
            let _ = tokio::time::timeout(CLOSE_WAIT, self.read_frame()).await;
        }
        let _ = self.io.shutdown().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server side written by hand: what it answers to each frame it reads.
    async fn serve(
        mut server: tokio::io::DuplexStream,
        answer: impl Fn(&Frame) -> Vec<u8> + Send + 'static,
    ) {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            while let Ok(Some((f, used))) = frame::parse_frame(&buf, 1 << 20) {
                buf.drain(..used);
                let reply = answer(&f);
                if server.write_all(&reply).await.is_err() {
                    return;
                }
            }
            match server.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    fn rsp(txnr: u32, data: &str) -> Vec<u8> {
        let mut out = Vec::new();
        frame::write_frame(txnr, "rsp", data.as_bytes(), &mut out);
        out
    }

    fn librelp(f: &Frame) -> Vec<u8> {
        match f.command.as_str() {
            "open" => rsp(
                f.txnr,
                "200 OK\nrelp_version=0\nrelp_software=librelp,1.11.0,http://librelp.adiscon.com\ncommands=syslog",
            ),
            "syslog" if f.data.starts_with(b"refuse") => rsp(f.txnr, "500 not today"),
            _ => rsp(f.txnr, "200 OK"),
        }
    }

    #[tokio::test]
    async fn records_are_acknowledged_or_refused_one_by_one() {
        let (client, server) = tokio::io::duplex(1 << 16);
        tokio::spawn(serve(server, librelp));
        let mut s = Session::open(Box::new(client)).await.unwrap();
        assert_eq!(s.offers.offer("commands"), Some("syslog"));
        let records: Vec<&[u8]> = vec![b"one", b"refuse two", b"three", b"four", b"five"];
        let mut pending = vec![true; 5];
        let refused = s.send(&records, &mut pending, 2).await.unwrap();
        assert_eq!(pending, [false, true, false, false, false]);
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].index, 1);
        assert_eq!(refused[0].response.code, 500);
        assert_eq!(refused[0].response.message, "not today");
        s.close().await;
    }

    #[tokio::test]
    async fn a_server_without_syslog_or_that_refuses_the_session_is_told_apart() {
        let (client, server) = tokio::io::duplex(1 << 16);
        tokio::spawn(serve(server, |f| {
            rsp(f.txnr, "200 OK\nrelp_version=0\ncommands=")
        }));
        let e = Session::open(Box::new(client)).await.err().unwrap();
        assert!(e.contains("does not offer the syslog command"), "{e}");
        let (client, server) = tokio::io::duplex(1 << 16);
        tokio::spawn(serve(server, |f| rsp(f.txnr, "500 busy")));
        let e = Session::open(Box::new(client)).await.err().unwrap();
        assert!(e.contains("refused the RELP session: 500 busy"), "{e}");
        // A syslog port answering in syslog, not RELP.
        let (client, mut server) = tokio::io::duplex(1 << 16);
        tokio::spawn(async move {
            let mut b = [0u8; 64];
            let _ = server.read(&mut b).await;
            let _ = server.write_all(b"<13>hello\n").await;
        });
        let e = Session::open(Box::new(client)).await.err().unwrap();
        assert!(
            e.contains("not a RELP frame") && e.contains("is this a RELP port"),
            "{e}"
        );
        // A TLS port read in clear: it closes without an answer.
        let (client, mut server) = tokio::io::duplex(1 << 16);
        tokio::spawn(async move {
            let mut b = [0u8; 64];
            let _ = server.read(&mut b).await;
        });
        let e = Session::open(Box::new(client)).await.err().unwrap();
        assert!(
            e.contains("closed the connection") && e.contains("`tls = true`"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn serverclose_and_a_closed_connection_leave_the_unanswered_pending() {
        let (client, server) = tokio::io::duplex(1 << 16);
        tokio::spawn(serve(server, |f| match f.command.as_str() {
            "open" => librelp(f),
            // The third record is not answered: the server ends the session instead.
            "syslog" if f.data == b"three" => b"0 serverclose 0\n".to_vec(),
            _ => rsp(f.txnr, "200 OK"),
        }));
        let mut s = Session::open(Box::new(client)).await.unwrap();
        let records: Vec<&[u8]> = vec![b"one", b"two", b"three", b"four"];
        let mut pending = vec![true; 4];
        let e = s.send(&records, &mut pending, 1).await.unwrap_err();
        assert!(e.contains("serverclose"), "{e}");
        assert_eq!(pending, [false, false, true, true]);
    }
}
