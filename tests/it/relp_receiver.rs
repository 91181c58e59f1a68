//! The test rsyslog's RELP inputs (imrelp), without siemfwd: a hand-written RELP client gets its
//! messages acknowledged and into `raw.log` under `relp_plain`, and a `kill -9` of rsyslogd
//! loses none it acknowledged (the RELP output's crash tests rely on both).

use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::support::files::read_lines;
use crate::support::rsyslog::{Rsyslog, RsyslogOpts};

/// A minimal RELP client: frames are `TXNR SP COMMAND SP DATALEN [SP DATA] LF`, one command
/// at a time, each answered by `TXNR rsp DATALEN [SP DATA] LF`.
struct Relp {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    txnr: u64,
}

impl Relp {
    /// Connects and opens a session offering the `syslog` command.
    fn open(port: u16) -> Relp {
        let writer = TcpStream::connect(("127.0.0.1", port)).unwrap();
        writer
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let reader = BufReader::new(writer.try_clone().unwrap());
        let mut relp = Relp {
            reader,
            writer,
            txnr: 0,
        };
        let rsp = relp.command(
            "open",
            "relp_version=0\nrelp_software=test\ncommands=syslog",
        );
        assert!(rsp.starts_with("200 OK\n"), "open: {rsp:?}");
        relp
    }

    /// Sends one syslog message; the response's data (`200 OK` when accepted).
    fn syslog(&mut self, msg: &str) -> String {
        self.command("syslog", msg)
    }

    /// Closes the session (the server answers with an empty response).
    fn close(mut self) {
        assert_eq!(self.command("close", ""), "");
    }

    /// Sends `cmd` with `data` and returns the data of its response.
    fn command(&mut self, cmd: &str, data: &str) -> String {
        self.txnr += 1;
        let mut frame = format!("{} {cmd} {}", self.txnr, data.len());
        if !data.is_empty() {
            frame.push(' ');
            frame.push_str(data);
        }
        frame.push('\n');
        self.writer.write_all(frame.as_bytes()).unwrap();
        let (txnr, _) = self.token();
        let (command, _) = self.token();
        let (len, after_len) = self.token();
        assert_eq!(
            (txnr.as_str(), command.as_str()),
            (self.txnr.to_string().as_str(), "rsp"),
            "response to {cmd}"
        );
        let len: usize = len.parse().unwrap();
        let mut data = vec![0; len];
        if len > 0 {
            assert_eq!(after_len, b' ', "response to {cmd}");
            self.reader.read_exact(&mut data).unwrap();
            let mut lf = [0];
            self.reader.read_exact(&mut lf).unwrap();
            assert_eq!(lf, *b"\n", "response to {cmd}: frame not ended by LF");
        } else {
            assert_eq!(after_len, b'\n', "response to {cmd}");
        }
        String::from_utf8(data).unwrap()
    }

    /// The next header field and the byte (SP or LF) that ended it.
    fn token(&mut self) -> (String, u8) {
        let mut field = Vec::new();
        loop {
            let mut b = [0];
            self.reader.read_exact(&mut b).unwrap();
            if b[0] == b' ' || b[0] == b'\n' {
                return (String::from_utf8(field).unwrap(), b[0]);
            }
            field.push(b[0]);
            assert!(field.len() < 20, "RELP header field too long: {field:?}");
        }
    }
}

/// `n` distinct RFC 5424 messages tagged `tag`.
fn messages(tag: &str, n: usize) -> Vec<String> {
    (1..=n)
        .map(|i| format!("<13>1 2024-05-01T10:00:00Z host relptest - - - {tag} {i}"))
        .collect()
}

#[test]
fn rsyslog_imrelp_acks_relp_messages_and_logs_them_under_relp_plain() {
    let rs = Rsyslog::start(RsyslogOpts::default());
    let mut relp = Relp::open(rs.ports().relp);
    let sent = messages("smoke", 3);
    for m in &sent {
        assert_eq!(relp.syslog(m), "200 OK");
    }
    relp.close();
    let lines = rs.wait_for_lines(&rs.raw_log(), sent.len(), Duration::from_secs(10));
    let expected: Vec<String> = sent.iter().map(|m| format!("relp_plain {m}")).collect();
    assert_eq!(lines, expected, "{}", rs.diagnostics());
    // Both imrelp listeners (the TLS one too) came up without complaint.
    assert!(
        !rs.daemon_output().contains("imrelp"),
        "{}",
        rs.diagnostics()
    );
}

#[test]
fn rsyslog_imrelp_has_written_every_message_it_acked_when_killed_9_and_restarts_on_its_port() {
    let mut rs = Rsyslog::start(RsyslogOpts::default());
    let port = rs.ports().relp;
    let mut relp = Relp::open(port);
    let sent = messages("before-kill", 200);
    for m in &sent {
        assert_eq!(relp.syslog(m), "200 OK");
    }
    rs.kill9();
    // Read at once: what rsyslogd acknowledged must already be in the file.
    let lines = read_lines(&rs.raw_log());
    let expected: Vec<String> = sent.iter().map(|m| format!("relp_plain {m}")).collect();
    let lost: Vec<&String> = expected.iter().filter(|m| !lines.contains(m)).collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged messages not in raw.log after kill -9, first {:?}\n{}",
        lost.len(),
        sent.len(),
        lost[0],
        rs.diagnostics()
    );
    assert_eq!(lines, expected);
    drop(relp);

    rs.restart();
    assert_eq!(rs.ports().relp, port);
    let mut relp = Relp::open(port);
    assert_eq!(
        relp.syslog("<13>1 - host relptest - - - after restart"),
        "200 OK"
    );
    relp.close();
    rs.wait_for_line_containing(&rs.raw_log(), "after restart", Duration::from_secs(10));
}
