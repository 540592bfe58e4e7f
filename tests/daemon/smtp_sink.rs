//! A real SMTP server for the delivery tests: the project's own
//! `scripts/smtp-sink` (Python aiosmtpd) on a free loopback port. It keeps
//! every message as a file and also delivers it into the private Dovecot's
//! mailboxes, so a test reads a customer's inbox over IMAP as they would.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::dovecot::{free_port, Dovecot};

pub struct Sink {
    pub dir: tempfile::TempDir,
    pub port: u16,
    maildir_root: PathBuf,
    /// `Some((env, cert, key))`: STARTTLS required, or implicit TLS.
    tls: Option<(&'static str, PathBuf, PathBuf)>,
    /// `user:password` the server requires.
    auth: Option<String>,
    /// An OAuth2 bearer login the server requires: the introspection URL
    /// and the mechanisms it offers.
    oauth2: Option<(String, String)>,
}

impl Sink {
    /// Delivers into `dovecot`'s mailboxes.
    pub fn start(dovecot: &Dovecot) -> Sink {
        Sink::start_full(dovecot, None, None)
    }

    /// Requires STARTTLS with the Dovecot's private-CA certificate.
    /// With `auth` (`user:password`), a login is required too.
    pub fn start_starttls(dovecot: &Dovecot, auth: Option<&str>) -> Sink {
        let tls = dovecot.state().join("tls");
        Sink::start_full(
            dovecot,
            Some(("SINK_STARTTLS", tls.join("cert.pem"), tls.join("key.pem"))),
            auth,
        )
    }

    /// TLS from the first byte, with the same certificate.
    pub fn start_tls(dovecot: &Dovecot) -> Sink {
        let tls = dovecot.state().join("tls");
        Sink::start_full(
            dovecot,
            Some(("SINK_TLS", tls.join("cert.pem"), tls.join("key.pem"))),
            None,
        )
    }

    /// Requires STARTTLS and an OAuth2 bearer login (`mechanisms`, e.g.
    /// "XOAUTH2 OAUTHBEARER") whose token `introspect` calls active.
    pub fn start_oauth2(dovecot: &Dovecot, introspect: &str, mechanisms: &str) -> Sink {
        let tls = dovecot.state().join("tls");
        let s = Sink {
            dir: tempfile::tempdir().expect("sink dir"),
            port: free_port(),
            maildir_root: dovecot.state().join("mail"),
            tls: Some(("SINK_STARTTLS", tls.join("cert.pem"), tls.join("key.pem"))),
            auth: None,
            oauth2: Some((introspect.to_owned(), mechanisms.to_owned())),
        };
        s.up();
        s
    }

    fn start_full(
        dovecot: &Dovecot,
        tls: Option<(&'static str, PathBuf, PathBuf)>,
        auth: Option<&str>,
    ) -> Sink {
        let s = Sink {
            dir: tempfile::tempdir().expect("sink dir"),
            port: free_port(),
            maildir_root: dovecot.state().join("mail"),
            tls,
            auth: auth.map(str::to_owned),
            oauth2: None,
        };
        s.up();
        s
    }

    fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    pub fn up(&self) {
        let log = self.dir.path().join("up.log");
        let f = std::fs::File::create(&log).expect("log");
        let mut cmd = Command::new(script());
        cmd.arg("start")
            .arg(self.out())
            .arg(self.port.to_string())
            .env("SINK_MAILDIR_ROOT", &self.maildir_root)
            .env("SINK_MAX_SECONDS", "1800");
        if let Some(auth) = &self.auth {
            cmd.env("SINK_AUTH", auth);
        }
        if let Some((url, mechanisms)) = &self.oauth2 {
            cmd.env("SINK_OAUTH2_INTROSPECT", url)
                .env("SINK_OAUTH2_MECHANISMS", mechanisms);
        }
        if let Some((var, cert, key)) = &self.tls {
            cmd.env(var, format!("{} {}", cert.display(), key.display()));
        }
        let status = cmd
            .stdout(f.try_clone().expect("clone"))
            .stderr(f)
            .status()
            .expect("run scripts/smtp-sink");
        assert!(
            status.success(),
            "scripts/smtp-sink start failed:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    pub fn down(&self) {
        let _ = Command::new(script()).arg("stop").arg(self.out()).output();
    }

    /// Every message received so far, raw, in arrival order.
    pub fn received(&self) -> Vec<String> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.out())
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|e| e == "eml"));
        files.sort();
        files
            .iter()
            .map(|p| String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned())
            .collect()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.down();
    }
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/smtp-sink")
}

/// The value of `name` in a raw message's header (first occurrence, unfolded).
pub fn header(raw: &str, name: &str) -> Option<String> {
    let head = raw.split("\r\n\r\n").next().unwrap_or(raw);
    let head = head.split("\n\n").next().unwrap_or(head);
    let mut value: Option<String> = None;
    for line in head.lines() {
        if let Some(v) = value.as_mut() {
            if line.starts_with([' ', '\t']) {
                v.push(' ');
                v.push_str(line.trim());
                continue;
            }
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case(name) {
                value = Some(v.trim().to_owned());
            }
        }
    }
    value
}
