//! Failed sign-ins, counted per account and per client (DESIGN §8): past
//! the limit, sign-in answers "too many attempts" for a while, whether or
//! not the password is right, so a password cannot be guessed by volume.
//! Kept in memory: a restart forgets, which costs an attacker a restart of
//! ticketd per few guesses.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures within [`WINDOW`] that lock an account.
pub const PER_ACCOUNT: usize = 5;
/// Failures within [`WINDOW`] that lock a client address.
pub const PER_CLIENT: usize = 20;
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Keys kept at most; past that the oldest are forgotten (bounded memory
/// whatever an attacker sends).
const MAX_KEYS: usize = 50_000;

#[derive(Debug, Default)]
pub struct SignInLimiter {
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl SignInLimiter {
    /// Whether this account or client may try now.
    pub fn allowed(&self, email: &str, client: Option<IpAddr>, now: Instant) -> bool {
        let Ok(mut map) = self.failures.lock() else {
            return false;
        };
        let mut recent = |key: String| {
            map.get_mut(&key).map_or(0, |q| {
                while q.front().is_some_and(|t| now.duration_since(*t) > WINDOW) {
                    q.pop_front();
                }
                q.len()
            })
        };
        recent(account_key(email)) < PER_ACCOUNT
            && client.is_none_or(|ip| recent(client_key(ip)) < PER_CLIENT)
    }

    /// Records a failed attempt.
    pub fn failed(&self, email: &str, client: Option<IpAddr>, now: Instant) {
        let Ok(mut map) = self.failures.lock() else {
            return;
        };
        if map.len() >= MAX_KEYS {
            map.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) <= WINDOW));
            if map.len() >= MAX_KEYS {
                map.clear();
            }
        }
        for key in std::iter::once(account_key(email)).chain(client.map(client_key)) {
            let q = map.entry(key).or_default();
            q.push_back(now);
            while q.len() > PER_CLIENT {
                q.pop_front();
            }
        }
    }

    /// A successful sign-in clears the account's failures.
    pub fn succeeded(&self, email: &str) {
        if let Ok(mut map) = self.failures.lock() {
            map.remove(&account_key(email));
        }
    }
}

fn account_key(email: &str) -> String {
    format!("a:{}", email.trim().to_ascii_lowercase())
}

fn client_key(ip: IpAddr) -> String {
    // IPv6 clients are counted by their /64: one host has many addresses.
    match ip {
        IpAddr::V4(v4) => format!("c:{v4}"),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("c:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_locks_after_five_failures_and_unlocks_after_the_window() {
        let l = SignInLimiter::default();
        let t0 = Instant::now();
        let ip: Option<IpAddr> = "192.0.2.1".parse().ok();
        for _ in 0..PER_ACCOUNT {
            assert!(l.allowed("Ann@acme.test", ip, t0));
            l.failed("ann@acme.test", ip, t0);
        }
        assert!(!l.allowed("ann@acme.test", ip, t0), "locked");
        assert!(
            l.allowed("bob@acme.test", ip, t0),
            "another account from the same client"
        );
        assert!(l.allowed("ann@acme.test", ip, t0 + WINDOW + Duration::from_secs(1)));
    }

    #[test]
    fn a_client_locks_after_twenty_failures_across_accounts() {
        let l = SignInLimiter::default();
        let t0 = Instant::now();
        let ip: Option<IpAddr> = "2001:db8::1".parse().ok();
        for i in 0..PER_CLIENT {
            l.failed(&format!("u{i}@acme.test"), ip, t0);
        }
        let same_64: Option<IpAddr> = "2001:db8::2".parse().ok();
        assert!(!l.allowed("new@acme.test", same_64, t0));
        assert!(l.allowed("new@acme.test", "192.0.2.9".parse().ok(), t0));
    }
}
