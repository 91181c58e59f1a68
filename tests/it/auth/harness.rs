//! The pieces of the `siemfwd auth` tests: a simulator on a runtime of its own (the test
//! thread stays free to drive child processes), config files, the real binary as a child
//! whose standard error is read line by line as it comes, and a plain HTTP/1.1 client that
//! plays the browser.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use siemfwd_simulator::{Simulator, SimulatorConfig, TenantInfo};

/// How long any one step may take before the test fails (each normally takes milliseconds
/// to a second or two).
pub const STEP: Duration = Duration::from_secs(20);

/// A simulator served by a runtime of its own.
pub struct Sim {
    // Dropped before the runtime that serves it.
    pub sim: Simulator,
    _rt: tokio::runtime::Runtime,
}

impl Sim {
    pub fn start(config: SimulatorConfig) -> Sim {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let sim = rt
            .block_on(Simulator::start("127.0.0.1:0".parse().unwrap(), config))
            .expect("start the simulator");
        Sim { sim, _rt: rt }
    }

    pub fn tenant(&self, i: usize) -> TenantInfo {
        self.sim.tenants()[i].clone()
    }

    /// `host:port` of the simulator.
    pub fn addr(&self) -> String {
        self.sim.addr().to_string()
    }

    /// Waits for the first sign-in held at `/authorize`.
    pub fn pending_authorization(&self) -> siemfwd_simulator::PendingAuthorization {
        wait_for(STEP, "a sign-in held at /authorize", || {
            self.sim.pending_authorizations().into_iter().next()
        })
    }
}

/// Polls `f` every 10 ms until it gives a value.
pub fn wait_for<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "no {what} within {timeout:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A config for `tenants` (name, tenant id, extra keys) against the simulator, with a `file`
/// output at `dir/alerts.cef`.
pub fn write_config(dir: &Path, sim: &Simulator, tenants: &[(&str, &str, &str)]) -> PathBuf {
    let mut text = format!(
        "state_dir = \"state\"\n\n[defaults]\nclient_id = \"{client}\"\nlogin_url = \"{url}\"\n\
         api_url = \"{url}\"\npoll_interval = \"1s\"\ninitial_lookback = \"48h\"\n\
         request_timeout = \"10s\"\n",
        client = sim.client_id(),
        url = sim.url(),
    );
    for (name, id, extra) in tenants {
        text.push_str(&format!(
            "\n[[tenant]]\nname = \"{name}\"\ntenant_id = \"{id}\"\n{extra}"
        ));
    }
    text.push_str("\n[[output]]\nname = \"siem\"\ntype = \"file\"\npath = \"alerts.cef\"\n");
    let path = dir.join("siemfwd.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// `siemfwd` as a child: standard input open for pasting, standard error read as it comes.
pub struct Siemfwd {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    stderr: Arc<Mutex<String>>,
    stdout: Option<std::thread::JoinHandle<String>>,
}

impl Siemfwd {
    pub fn spawn(args: &[&str]) -> Siemfwd {
        Self::spawn_with(args, true)
    }

    /// `pipe_stdin = false`: standard input is closed at once (nothing to paste).
    pub fn spawn_with(args: &[&str], pipe_stdin: bool) -> Siemfwd {
        let mut child = Command::new(env!("CARGO_BIN_EXE_siemfwd"))
            .args(args)
            .stdin(if pipe_stdin {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run siemfwd");
        let stdin = child.stdin.take();
        let (tx, lines) = mpsc::channel();
        let stderr = Arc::new(Mutex::new(String::new()));
        let all = stderr.clone();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                all.lock().unwrap().push_str(&format!("{line}\n"));
                let _ = tx.send(line);
            }
        });
        let mut out = child.stdout.take().unwrap();
        let stdout = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = out.read_to_string(&mut s);
            s
        });
        Siemfwd {
            child,
            stdin,
            lines,
            stderr,
            stdout: Some(stdout),
        }
    }

    /// The first line of standard error (from here on) for which `pick` gives a value.
    pub fn wait_line<T>(&mut self, what: &str, mut pick: impl FnMut(&str) -> Option<T>) -> T {
        let deadline = Instant::now() + STEP;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(v) = pick(&line) {
                        return v;
                    }
                }
                Err(_) => panic!(
                    "siemfwd printed no {what} within {STEP:?}; stderr so far:\n{}",
                    self.stderr()
                ),
            }
        }
    }

    /// The sign-in link it printed.
    pub fn authorize_url(&mut self) -> String {
        self.wait_line("sign-in link", |l| {
            let l = l.trim();
            (l.starts_with("http") && l.contains("/authorize?")).then(|| l.to_owned())
        })
    }

    /// Writes a line to its standard input, as a person pasting.
    pub fn paste(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin is piped");
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for it to exit: (status, stdout, stderr).
    pub fn finish(mut self) -> (ExitStatus, String, String) {
        self.stdin.take();
        let deadline = Instant::now() + STEP;
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                panic!(
                    "siemfwd did not exit within {STEP:?}; stderr:\n{}",
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let stdout = self.stdout.take().unwrap().join().unwrap();
        // Standard error is complete when its reader thread has seen the end of it.
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            match self.lines.recv_timeout(Duration::from_millis(50)) {
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                _ if Instant::now() >= deadline => break,
                _ => {}
            }
        }
        (status, stdout, self.stderr())
    }
}

impl Drop for Siemfwd {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs `siemfwd args` to the end with standard input closed: (exit code, stdout, stderr).
pub fn siemfwd(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_siemfwd"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// An HTTP answer: status, headers (lower-case names), body.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request to `addr` (`host:port`), the connection closed after it: what a
/// browser does when it follows a link, without following redirects.
pub fn http(addr: &str, method: &str, target: &str, form: Option<&str>) -> Reply {
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(STEP)).unwrap();
    let body = form.unwrap_or("");
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if form.is_some() {
        head.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {text}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Reply {
        status,
        headers,
        body: body.to_owned(),
    }
}

/// Splits `http://host:port/path?query` into (`host:port`, `/path?query`).
pub fn split_url(url: &str) -> (String, String) {
    let rest = url
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("not http: {url}"));
    let at = rest.find('/').unwrap_or(rest.len());
    let target = if at == rest.len() { "/" } else { &rest[at..] };
    (rest[..at].to_owned(), target.to_owned())
}

/// The query parameters of a URL.
pub fn query(url: &str) -> Vec<(String, String)> {
    let q = url.split_once('?').map_or("", |(_, q)| q);
    form_urlencoded::parse(q.as_bytes()).into_owned().collect()
}

pub fn param(params: &[(String, String)], name: &str) -> Option<String> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}
