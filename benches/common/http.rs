//! The benchmarks' HTTP side (the portal's, the desk's): a small keep-alive
//! HTTP/1.1 client and the load it drives — one connection per session
//! token, requests back to back, every answer checked — with its latency
//! figures.
//!
//! The client shares the two cores with the server it measures, so it does
//! as little as it can: it reads each answer where it landed (no copy of the
//! body) and hands it to the check as it is.

// Each benchmark that includes this file uses a part of it.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long each session keeps sending.
#[derive(Clone, Copy)]
pub enum Load {
    /// Every session sends requests until this much time has passed.
    For(Duration),
    /// Every session sends this many requests.
    Requests(usize),
}

impl Load {
    /// The warm-up before a measured run: a fifth of its time, or one request.
    pub fn warm_up(self) -> Load {
        match self {
            Load::For(d) => Load::For(d / 5),
            Load::Requests(_) => Load::Requests(1),
        }
    }

    /// One session alone: a quarter of the time (what a request costs when
    /// nothing waits).
    pub fn alone(self) -> Load {
        match self {
            Load::For(d) => Load::For(d / 4),
            Load::Requests(n) => Load::Requests(n),
        }
    }
}

/// What a run measured.
pub struct Figures {
    pub n: usize,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
    pub rate: f64,
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `GET path` with the session cookie, keep-alive.
pub fn get_request(addr: &str, path: &str, token: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: ticketd={token}\r\nConnection: keep-alive\r\n\r\n")
}

/// One connection per session token, requesting `path` back to back for
/// `load`; each answer must be 200 and pass `check` (which panics when it
/// does not).
pub async fn run_load<C>(
    addr: &str,
    tokens: &[String],
    path: &str,
    check: &C,
    load: Load,
) -> Figures
where
    C: Fn(&str) + ?Sized,
{
    let start = Instant::now();
    // FuturesUnordered polls only the session that was woken (a join of
    // all of them polls every one at each wake).
    let mut clients: FuturesUnordered<_> = tokens
        .iter()
        .map(|token| async move {
            let mut conn = Http::connect(addr).await;
            let req = get_request(addr, path, token);
            let mut lat = Vec::new();
            loop {
                match load {
                    Load::For(d) if start.elapsed() >= d => break,
                    Load::Requests(n) if lat.len() >= n => break,
                    _ => {}
                }
                let t = Instant::now();
                let r = conn.send(req.as_bytes()).await;
                lat.push(t.elapsed());
                assert_eq!(r.status, 200, "GET {path}: {}", r.head);
                check(std::str::from_utf8(r.body).expect("UTF-8 page"));
            }
            lat
        })
        .collect();
    let mut lat: Vec<Duration> = Vec::new();
    while let Some(l) = clients.next().await {
        lat.extend(l);
    }
    let elapsed = start.elapsed();
    lat.sort();
    let n = lat.len();
    assert!(n > 0, "no request was answered");
    let at = |q: f64| lat[((n as f64 * q).ceil() as usize).clamp(1, n) - 1];
    Figures {
        n,
        p50: at(0.50),
        p99: at(0.99),
        max: lat[n - 1],
        rate: n as f64 / elapsed.as_secs_f64(),
    }
}

/// `GET path` once on a connection of its own, checked.
pub async fn check_once(addr: &str, token: &str, path: &str, check: impl Fn(&str)) {
    let mut conn = Http::connect(addr).await;
    let r = conn.send(get_request(addr, path, token).as_bytes()).await;
    assert_eq!(r.status, 200, "GET {path}: {}", r.head);
    check(std::str::from_utf8(r.body).expect("UTF-8 page"));
}

/// One keep-alive HTTP/1.1 connection; responses read by Content-Length.
pub struct Http {
    stream: TcpStream,
    buf: Vec<u8>,
    /// How much of `buf` the last response took: dropped at the next send.
    used: usize,
}

pub struct Response<'a> {
    pub status: u16,
    pub head: String,
    pub body: &'a [u8],
}

impl Http {
    pub async fn connect(addr: &str) -> Http {
        let stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        Http {
            stream,
            buf: Vec::with_capacity(256 * 1024),
            used: 0,
        }
    }

    async fn fill(&mut self) {
        if self.buf.capacity() - self.buf.len() < 16 * 1024 {
            self.buf.reserve(64 * 1024);
        }
        let n = self.stream.read_buf(&mut self.buf).await.expect("read");
        assert!(n > 0, "the server closed the connection");
    }

    pub async fn send(&mut self, req: &[u8]) -> Response<'_> {
        self.buf.drain(..self.used);
        self.used = 0;
        self.stream.write_all(req).await.expect("write");
        let end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            self.fill().await;
        };
        let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("a status line");
        let header = |name: &str| {
            head.lines().skip(1).find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
            })
        };
        assert!(
            header("transfer-encoding").is_none(),
            "a chunked response: {head}"
        );
        let len: usize = header("content-length")
            .map(|v| v.parse().expect("Content-Length"))
            .unwrap_or_else(|| panic!("no Content-Length: {head}"));
        let total = end + 4 + len;
        while self.buf.len() < total {
            self.fill().await;
        }
        self.used = total;
        Response {
            status,
            head,
            body: &self.buf[end + 4..total],
        }
    }
}

/// What both HTTP benchmarks start from: the size and load knobs, the
/// database's folder (`BENCH_DB`, a kept one, or a fresh temporary one), a
/// listener on a free loopback port, the config for it, and the hash of
/// [`super::big_db::PASSWORD`].
pub struct Bench {
    /// No `--bench` argument, or `TICKETD_BENCH_SMALL=1`: a smoke run.
    pub small: bool,
    pub messages: usize,
    pub tickets: usize,
    pub load: Load,
    /// `BENCH_DB`: the folder of a database kept by an earlier run (BENCH_KEEP=1).
    pub kept: Option<std::path::PathBuf>,
    pub dir: tempfile::TempDir,
    pub listener: std::net::TcpListener,
    pub addr: String,
    pub config: ticketd::config::Config,
    pub password_hash: String,
}

impl Bench {
    /// `BENCH_SECONDS` per query, else `default_seconds`; smoke runs send
    /// a couple of requests per session instead.
    pub fn new(default_seconds: f64) -> Bench {
        let bench = std::env::args().any(|a| a == "--bench");
        let small = !bench || std::env::var("TICKETD_BENCH_SMALL").is_ok_and(|v| v == "1");
        let messages = super::report::messages(!small, 500_000, 5_000).max(5_000);
        let seconds: f64 = std::env::var("BENCH_SECONDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default_seconds);
        let load = if small {
            Load::Requests(2)
        } else {
            Load::For(Duration::from_secs_f64(seconds))
        };
        let kept = std::env::var_os("BENCH_DB").map(std::path::PathBuf::from);
        let dir = tempfile::tempdir().expect("temp dir");
        let folder = kept.clone().unwrap_or_else(|| dir.path().to_owned());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("address").port();
        let config_text = format!(
            "{}[portal]\nlisten = \"127.0.0.1:0\"\ncategories = [\"Billing\", \"Export\"]\n",
            super::big_db::config_toml(&format!("http://127.0.0.1:{port}"))
        );
        let config = ticketd::config::Config::parse(&config_text, &folder)
            .unwrap_or_else(|p| panic!("config: {p:?}"));
        let password_hash = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(ticketd::web::auth::hash_password(
                super::big_db::PASSWORD.to_owned(),
            ))
            .expect("hash the password");
        Bench {
            small,
            messages,
            tickets: messages / 5,
            load,
            kept,
            dir,
            listener,
            addr: format!("127.0.0.1:{port}"),
            config,
            password_hash,
        }
    }

    /// Serves the portal on the listener, on a thread and a current-thread
    /// runtime of its own (as `ticketd portal` runs it).
    pub fn serve(&self) -> Server {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let config = self.config.clone();
        let listener = self.listener.try_clone().expect("the listener");
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("server runtime");
            rt.block_on(async move {
                let state = ticketd::web::state(&config).expect("portal state");
                listener.set_nonblocking(true).expect("nonblocking");
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                ticketd::web::serve(listener, state, stopped)
                    .await
                    .expect("serve");
            });
        });
        Server { stop, thread }
    }

    /// Keeps a database built here when `BENCH_KEEP=1` (never a kept one:
    /// it stays where it is).
    pub fn finish(self) {
        if self.kept.is_none() && std::env::var("BENCH_KEEP").is_ok_and(|v| v == "1") {
            println!("database kept: {}", self.config.store.path.display());
            let _ = self.dir.keep();
        }
    }
}

/// The server [`Bench::serve`] started.
pub struct Server {
    stop: tokio::sync::watch::Sender<bool>,
    thread: std::thread::JoinHandle<()>,
}

impl Server {
    pub fn stop(self) {
        self.stop.send(true).expect("stop the server");
        self.thread.join().expect("server thread");
    }
}
