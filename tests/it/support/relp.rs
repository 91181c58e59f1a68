//! A minimal RELP client (std only), to talk to the receivers' imrelp inputs without siemfwd.

use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A minimal RELP client over plain TCP: frames are `TXNR SP COMMAND SP DATALEN [SP DATA] LF`,
/// one command at a time, each answered by `TXNR rsp DATALEN [SP DATA] LF`.
pub struct RelpClient {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    txnr: u64,
}

impl RelpClient {
    /// Connects and opens a session offering the `syslog` command.
    pub fn open(port: u16) -> RelpClient {
        let writer = TcpStream::connect(("127.0.0.1", port)).unwrap();
        writer
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let reader = BufReader::new(writer.try_clone().unwrap());
        let mut relp = RelpClient {
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
    pub fn syslog(&mut self, msg: &str) -> String {
        self.command("syslog", msg)
    }

    /// Closes the session (the server answers with an empty response).
    pub fn close(mut self) {
        assert_eq!(self.command("close", ""), "");
    }

    /// Sends `cmd` with `data` and returns the data of its response.
    pub fn command(&mut self, cmd: &str, data: &str) -> String {
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
