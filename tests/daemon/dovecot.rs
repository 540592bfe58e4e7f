//! A private Dovecot per test, started by the project's own
//! `scripts/dovecot-up` on a free loopback port with its own config and
//! maildirs in a temp folder; stopped and wiped on drop. A missing Dovecot
//! fails the test with the script's message — never a skip.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

pub struct Dovecot {
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub tls_port: u16,
    capability: Option<String>,
    /// Mailboxes besides support@ and agent@example.test.
    users: Vec<String>,
    /// XOAUTH2/OAUTHBEARER checked against this introspection URL.
    oauth2: Option<String>,
}

pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(name)
}

impl Dovecot {
    pub fn start() -> Dovecot {
        Dovecot::start_with(None)
    }

    /// A server that advertises only `capability` (no IDLE, no MOVE, say).
    pub fn start_with(capability: Option<&str>) -> Dovecot {
        Dovecot::start_full(capability, &[])
    }

    /// A server with mailboxes for `users` too (customers, on-call…).
    pub fn start_users(users: &[&str]) -> Dovecot {
        Dovecot::start_full(None, users)
    }

    /// A server that also takes OAuth2 bearer tokens, validated by its
    /// oauth2 passdb against the introspection endpoint `introspect`.
    pub fn start_oauth2(users: &[&str], introspect: &str) -> Dovecot {
        Dovecot::start_all(None, users, Some(introspect))
    }

    fn start_full(capability: Option<&str>, users: &[&str]) -> Dovecot {
        Dovecot::start_all(capability, users, None)
    }

    fn start_all(capability: Option<&str>, users: &[&str], oauth2: Option<&str>) -> Dovecot {
        let dir = tempfile::tempdir().expect("temp dir");
        let d = Dovecot {
            dir,
            port: free_port(),
            tls_port: free_port(),
            capability: capability.map(str::to_owned),
            users: users.iter().map(|u| u.to_string()).collect(),
            oauth2: oauth2.map(str::to_owned),
        };
        d.up();
        d
    }

    pub fn state(&self) -> PathBuf {
        self.dir.path().join("dovecot")
    }

    /// Starts (or restarts) the server on the same state and ports.
    pub fn up(&self) {
        // Output to a file: the daemon would inherit a pipe and hang a reader.
        let log = self.dir.path().join("up.log");
        let out = std::fs::File::create(&log).expect("log");
        let mut cmd = Command::new(script("dovecot-up"));
        if let Some(c) = &self.capability {
            cmd.env("DOVECOT_CAPABILITY", c);
        }
        cmd.env("EXTRA_USERS", self.users.join(" "));
        if let Some(url) = &self.oauth2 {
            cmd.env("DOVECOT_OAUTH2_INTROSPECT", url);
        }
        let status = cmd
            .arg(self.state())
            .arg(self.port.to_string())
            .arg(self.tls_port.to_string())
            .stdout(out.try_clone().expect("clone"))
            .stderr(out)
            .status()
            .expect("run scripts/dovecot-up");
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(status.success(), "scripts/dovecot-up failed:\n{text}");
    }

    pub fn down(&self) {
        let log = std::fs::File::create(self.dir.path().join("down.log")).expect("log");
        let _ = Command::new(script("dovecot-down"))
            .arg(self.state())
            .stdout(log.try_clone().expect("clone"))
            .stderr(log)
            .status();
    }

    /// The private CA that signed the server's certificate.
    pub fn ca(&self) -> PathBuf {
        self.state().join("tls/ca.pem")
    }

    /// The support mailbox's Maildir (INBOX at its root).
    pub fn maildir(&self) -> PathBuf {
        self.state().join("mail/example.test/support/Maildir")
    }

    pub fn imap(&self) -> Imap {
        Imap::login(self.port, "support@example.test", "secret")
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        self.down();
    }
}

/// A tiny synchronous IMAP client for the tests' own reads and writes.
pub struct Imap {
    r: BufReader<TcpStream>,
    w: TcpStream,
    tag: u32,
}

impl Imap {
    /// Logs in, retrying while Dovecot's auth service is still starting.
    pub fn login(port: u16, user: &str, pass: &str) -> Imap {
        for _ in 0..40 {
            if let Some(i) = Imap::try_login(port, user, pass) {
                return i;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        panic!("cannot log in to dovecot on port {port} as {user}");
    }

    fn try_login(port: u16, user: &str, pass: &str) -> Option<Imap> {
        let s = TcpStream::connect(("127.0.0.1", port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        let mut i = Imap {
            r: BufReader::new(s.try_clone().expect("clone")),
            w: s,
            tag: 0,
        };
        let mut greeting = String::new();
        i.r.read_line(&mut greeting).ok()?;
        i.tag += 1;
        write!(i.w, "t{} LOGIN \"{user}\" \"{pass}\"\r\n", i.tag).ok()?;
        loop {
            let mut line = String::new();
            if i.r.read_line(&mut line).ok()? == 0 {
                return None;
            }
            if let Some(rest) = line.strip_prefix(&format!("t{} ", i.tag)) {
                return rest.starts_with("OK").then_some(i);
            }
        }
    }

    /// Sends a command and returns the untagged lines; panics unless OK.
    pub fn cmd(&mut self, command: &str) -> Vec<String> {
        self.tag += 1;
        let tag = format!("t{}", self.tag);
        write!(self.w, "{tag} {command}\r\n").expect("write");
        self.read_until(&tag)
    }

    fn read_until(&mut self, tag: &str) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let n = self.r.read_line(&mut line).expect("read");
            assert!(n > 0, "dovecot closed the connection");
            if let Some(rest) = line.strip_prefix(&format!("{tag} ")) {
                assert!(rest.starts_with("OK"), "{tag}: {rest}");
                return lines;
            }
            // Literals ({n}) in responses: read their bytes.
            if let Some(n) = line
                .trim_end()
                .strip_suffix('}')
                .and_then(|l| l.rsplit_once('{'))
                .and_then(|(_, n)| n.parse::<usize>().ok())
            {
                let mut buf = vec![0; n];
                self.r.read_exact(&mut buf).expect("literal");
                line.push_str(&String::from_utf8_lossy(&buf));
            }
            lines.push(line);
        }
    }

    pub fn append(&mut self, folder: &str, raw: &[u8]) {
        self.append_with(folder, "", raw);
    }

    /// APPEND with an INTERNALDATE (when the server took the mail in), as
    /// IMAP writes it: `"30-Nov-2026 08:00:00 +0000"`.
    pub fn append_at(&mut self, folder: &str, internal_date: &str, raw: &[u8]) {
        self.append_with(folder, &format!("\"{internal_date}\" "), raw);
    }

    fn append_with(&mut self, folder: &str, date: &str, raw: &[u8]) {
        self.tag += 1;
        let tag = format!("t{}", self.tag);
        write!(self.w, "{tag} APPEND {folder} {date}{{{}}}\r\n", raw.len()).expect("write");
        let mut cont = String::new();
        self.r.read_line(&mut cont).expect("continuation");
        assert!(cont.starts_with('+'), "APPEND refused: {cont}");
        self.w.write_all(raw).expect("write");
        self.w.write_all(b"\r\n").expect("write");
        self.read_until(&tag);
    }

    /// Every message in `folder`, raw, oldest first.
    pub fn fetch_all(&mut self, folder: &str) -> Vec<String> {
        let exists = self.count(folder);
        if exists == 0 {
            return Vec::new();
        }
        self.cmd(&format!("EXAMINE {folder}"));
        self.cmd("FETCH 1:* (BODY.PEEK[])")
            .into_iter()
            .filter(|l| l.contains("FETCH (BODY[]"))
            .map(|l| {
                // "* n FETCH (BODY[] {len}\r\n<literal>": keep the literal.
                let start = l.find("}\r\n").map(|i| i + 3).unwrap_or(0);
                l[start..].to_owned()
            })
            .collect()
    }

    /// How many messages `folder` holds.
    pub fn count(&mut self, folder: &str) -> usize {
        let lines = self.cmd(&format!("STATUS {folder} (MESSAGES)"));
        lines
            .iter()
            .find_map(|l| l.split("MESSAGES ").nth(1))
            .and_then(|r| r.trim_end().trim_end_matches(')').parse().ok())
            .expect("STATUS MESSAGES")
    }
}

/// Delivers messages straight into the Maildir's `new/` (as an MTA would):
/// thousands in a second, owned by the mail user.
pub fn deliver(dovecot: &Dovecot, raws: &[Vec<u8>]) {
    // Dovecot makes the Maildir at the first login.
    dovecot.imap().cmd("SELECT INBOX");
    let maildir = &dovecot.maildir();
    let new = maildir.join("new");
    let owner = std::fs::metadata(maildir).expect("maildir");
    use std::os::unix::fs::MetadataExt;
    for (i, raw) in raws.iter().enumerate() {
        let name = format!("{}.M{i}P{}.test", 1_800_000_000 + i, std::process::id());
        let tmp = maildir.join("tmp").join(&name);
        std::fs::write(&tmp, raw).expect("write mail");
        std::os::unix::fs::chown(&tmp, Some(owner.uid()), Some(owner.gid())).expect("chown");
        std::fs::rename(&tmp, new.join(&name)).expect("deliver");
    }
}
