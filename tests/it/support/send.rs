//! Plain (non-TLS) syslog senders for tests.

use std::io::Write;
use std::net::{Shutdown, TcpStream, UdpSocket};
use std::time::Duration;

/// RFC 6587 framing of syslog messages over a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `LEN SP MSG` (RFC 6587 §3.4.1; RFC 5425).
    OctetCounting,
    /// `MSG LF` (RFC 6587 §3.4.2, non-transparent framing).
    Lf,
}

/// Frames one message.
pub fn frame(msg: &[u8], framing: Framing) -> Vec<u8> {
    let mut out = Vec::with_capacity(msg.len() + 8);
    match framing {
        Framing::OctetCounting => {
            out.extend_from_slice(msg.len().to_string().as_bytes());
            out.push(b' ');
            out.extend_from_slice(msg);
        }
        Framing::Lf => {
            out.extend_from_slice(msg);
            out.push(b'\n');
        }
    }
    out
}

/// Sends `msgs` over one TCP connection to 127.0.0.1:`port`, then closes it cleanly.
pub fn send_tcp<M: AsRef<[u8]>>(port: u16, framing: Framing, msgs: &[M]) {
    let mut s = TcpStream::connect(("127.0.0.1", port))
        .unwrap_or_else(|e| panic!("connect 127.0.0.1:{port}: {e}"));
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = Vec::new();
    for m in msgs {
        buf.extend_from_slice(&frame(m.as_ref(), framing));
    }
    s.write_all(&buf)
        .unwrap_or_else(|e| panic!("write to 127.0.0.1:{port}: {e}"));
    s.flush().unwrap();
    let _ = s.shutdown(Shutdown::Write);
}

/// Sends each message as one UDP datagram to 127.0.0.1:`port`.
pub fn send_udp<M: AsRef<[u8]>>(port: u16, msgs: &[M]) {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind udp");
    for m in msgs {
        let m = m.as_ref();
        let n = s
            .send_to(m, ("127.0.0.1", port))
            .unwrap_or_else(|e| panic!("udp send ({} bytes) to {port}: {e}", m.len()));
        assert_eq!(n, m.len(), "short udp send");
        // loopback buffers are finite; do not outrun the receiver
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// A real receiver confirms what it read by closing its side after the output's half-close
/// (issue 14): the confirmation of everything written comes within seconds, long before the
/// 30 s `write_timeout` after which the output would stop asking and fall back to a weaker rule.
pub async fn assert_confirmed(out: &siemfwd::transport::Output) {
    let mark = out.written_mark();
    tokio::time::timeout(Duration::from_secs(10), out.confirmed(mark))
        .await
        .expect("the receiver closes cleanly after our half-close, confirming what it read");
}
