//! The mailbox operations of the fetch loop, each bounded by the request
//! timeout: select, find new UIDs, fetch sizes and bodies, move, wait.

use crate::domain::time::Timestamp;
use std::time::Duration;

use async_imap::extensions::idle::IdleResponse;
use async_imap::Session;
use futures_util::TryStreamExt;

use super::connect::Stream;
use super::ImapError;

/// A logged-in connection and what the server can do.
pub struct Mailbox {
    session: Option<Session<Stream>>,
    host: String,
    limit: Duration,
    pub idle: bool,
    pub has_move: bool,
    pub uidplus: bool,
}

/// The selected folder's identity: UIDs are only comparable under one UIDVALIDITY.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Selected {
    pub uid_validity: u32,
    pub exists: u32,
}

/// One fetched message.
#[derive(Debug)]
pub struct Fetched {
    pub uid: u32,
    pub raw: Vec<u8>,
    /// INTERNALDATE: when the receiving server took the mail in.
    pub arrived: Option<Timestamp>,
}

/// Why a wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// The server announced a change, or the poll interval passed: look.
    Look,
    /// Shutdown was asked for.
    Shutdown,
}

/// A UID set as IMAP writes it, runs collapsed: `3:7,9,12:13`.
pub fn uid_set(uids: &[u32]) -> String {
    let mut sorted = uids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out = String::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

/// An IMAP quoted string.
fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

impl Mailbox {
    pub(super) fn new(
        session: Session<Stream>,
        host: String,
        limit: Duration,
        idle: bool,
        has_move: bool,
        uidplus: bool,
    ) -> Mailbox {
        Mailbox {
            session: Some(session),
            host,
            limit,
            idle,
            has_move,
            uidplus,
        }
    }

    fn session(&mut self) -> Result<&mut Session<Stream>, ImapError> {
        self.session
            .as_mut()
            .ok_or_else(|| ImapError::Closed(" earlier (session lost during IDLE)".into()))
    }

    /// Runs one request under the timeout.
    async fn timed<T>(
        limit: Duration,
        command: &str,
        f: impl std::future::Future<Output = Result<T, async_imap::error::Error>>,
    ) -> Result<T, ImapError> {
        match tokio::time::timeout(limit, f).await {
            Err(_) => Err(ImapError::Timeout {
                command: command.to_owned(),
                secs: limit.as_secs(),
            }),
            Ok(r) => r.map_err(|e| ImapError::command(command, e)),
        }
    }

    /// Creates `folder` unless it exists.
    pub async fn ensure_folder(&mut self, folder: &str) -> Result<(), ImapError> {
        let limit = self.limit;
        let s = self.session()?;
        let pattern = quoted(folder);
        let names: Vec<_> = Self::timed(limit, "LIST", async {
            s.list(Some(""), Some(&pattern)).await?.try_collect().await
        })
        .await?;
        if names.iter().any(|n| n.name() == folder) {
            return Ok(());
        }
        Self::timed(limit, &format!("CREATE {folder}"), s.create(folder)).await?;
        tracing::info!(folder, host = %self.host, "created IMAP folder");
        Ok(())
    }

    pub async fn select(&mut self, folder: &str) -> Result<Selected, ImapError> {
        let limit = self.limit;
        let s = self.session()?;
        let m = Self::timed(limit, &format!("SELECT {folder}"), s.select(folder)).await?;
        let uid_validity = m.uid_validity.ok_or_else(|| ImapError::Unsupported {
            host: self.host.clone(),
            what: "UIDVALIDITY (UIDs) on the selected folder".into(),
        })?;
        Ok(Selected {
            uid_validity,
            exists: m.exists,
        })
    }

    /// UIDs above `after`, ascending. (`n:*` always matches the highest UID,
    /// even below `n`: filtered here.)
    pub async fn uids_after(&mut self, after: u32) -> Result<Vec<u32>, ImapError> {
        let limit = self.limit;
        let s = self.session()?;
        let query = format!("UID {}:*", after.saturating_add(1));
        let found = Self::timed(limit, "UID SEARCH", s.uid_search(&query)).await?;
        let mut uids: Vec<u32> = found.into_iter().filter(|u| *u > after).collect();
        uids.sort_unstable();
        Ok(uids)
    }

    /// Sizes in bytes, to plan fetches that stay within a memory budget.
    pub async fn sizes(&mut self, uids: &[u32]) -> Result<Vec<(u32, u32)>, ImapError> {
        if uids.is_empty() {
            return Ok(Vec::new());
        }
        let limit = self.limit;
        let s = self.session()?;
        let set = uid_set(uids);
        // Each response is reduced to its two numbers as it arrives: a
        // collected `Fetch` pins the read buffer it was cut from, which at
        // 10,000 waiting messages was 6.5 KB each, before the first batch.
        let mut out: Vec<(u32, u32)> = Self::timed(limit, "UID FETCH RFC822.SIZE", async {
            let mut stream = s.uid_fetch(&set, "(UID RFC822.SIZE)").await?;
            let mut out = Vec::with_capacity(uids.len());
            while let Some(f) = stream.try_next().await? {
                if let Some(uid) = f.uid {
                    out.push((uid, f.size.unwrap_or(0)));
                }
            }
            Ok(out)
        })
        .await?;
        out.sort_unstable();
        Ok(out)
    }

    /// The raw messages, unmarked (`BODY.PEEK[]` leaves `\Seen` alone).
    /// Each response is copied out and dropped as it arrives: holding them
    /// all would pin every read buffer they were cut from.
    pub async fn fetch(&mut self, uids: &[u32]) -> Result<Vec<Fetched>, ImapError> {
        if uids.is_empty() {
            return Ok(Vec::new());
        }
        let limit = self.limit;
        let s = self.session()?;
        let set = uid_set(uids);
        let mut out: Vec<Fetched> = Self::timed(limit, "UID FETCH BODY.PEEK[]", async {
            let mut stream = s.uid_fetch(&set, "(UID INTERNALDATE BODY.PEEK[])").await?;
            let mut out = Vec::with_capacity(uids.len());
            while let Some(f) = stream.try_next().await? {
                if let (Some(uid), Some(body)) = (f.uid, f.body()) {
                    out.push(Fetched {
                        uid,
                        raw: body.to_vec(),
                        arrived: f.internal_date().map(|d| Timestamp(d.timestamp())),
                    });
                }
            }
            Ok(out)
        })
        .await?;
        out.sort_unstable_by_key(|f| f.uid);
        Ok(out)
    }

    /// Moves messages out of the selected folder: MOVE where offered, else
    /// COPY, flag `\Deleted`, and expunge just those (UIDPLUS) or all.
    pub async fn move_to(&mut self, uids: &[u32], folder: &str) -> Result<(), ImapError> {
        if uids.is_empty() {
            return Ok(());
        }
        let limit = self.limit;
        let (has_move, uidplus) = (self.has_move, self.uidplus);
        let s = self.session()?;
        let set = uid_set(uids);
        if has_move {
            return Self::timed(limit, "UID MOVE", s.uid_mv(&set, folder)).await;
        }
        Self::timed(limit, "UID COPY", s.uid_copy(&set, folder)).await?;
        Self::timed(limit, "UID STORE", async {
            s.uid_store(&set, "+FLAGS.SILENT (\\Deleted)")
                .await?
                .try_collect::<Vec<_>>()
                .await
        })
        .await?;
        if uidplus {
            Self::timed(limit, "UID EXPUNGE", async {
                s.uid_expunge(&set).await?.try_collect::<Vec<_>>().await
            })
            .await?;
        } else {
            Self::timed(limit, "EXPUNGE", async {
                s.expunge().await?.try_collect::<Vec<_>>().await
            })
            .await?;
        }
        Ok(())
    }

    /// Waits for news: IDLE (re-issued by the caller every `idle_for`) where
    /// the server has it, else a plain sleep of `poll`. Ends early on shutdown.
    pub async fn wait(
        &mut self,
        idle_for: Duration,
        poll: Duration,
        shutdown: &mut tokio::sync::watch::Receiver<bool>,
    ) -> Result<Wake, ImapError> {
        if *shutdown.borrow() {
            return Ok(Wake::Shutdown);
        }
        // The server may have announced new mail in the middle of an earlier
        // command (a MOVE, say): it will not say so again in IDLE, so look now.
        let mut announced = false;
        if let Some(s) = self.session.as_mut() {
            while let Ok(r) = s.unsolicited_responses.try_recv() {
                announced |= matches!(
                    r,
                    async_imap::types::UnsolicitedResponse::Exists(_)
                        | async_imap::types::UnsolicitedResponse::Recent(_)
                );
            }
        }
        if announced {
            return Ok(Wake::Look);
        }
        if !self.idle {
            return Ok(tokio::select! {
                _ = tokio::time::sleep(poll) => Wake::Look,
                _ = shutdown.changed() => Wake::Shutdown,
            });
        }
        let limit = self.limit;
        let session = self
            .session
            .take()
            .ok_or_else(|| ImapError::Closed(" earlier".into()))?;
        let mut handle = session.idle();
        Self::timed(limit, "IDLE", handle.init()).await?;
        let wake = {
            let (fut, _stop) = handle.wait_with_timeout(idle_for);
            tokio::pin!(fut);
            tokio::select! {
                r = &mut fut => match r {
                    Ok(IdleResponse::NewData(_) | IdleResponse::Timeout | IdleResponse::ManualInterrupt) => Wake::Look,
                    Err(e) => return Err(ImapError::command("IDLE", e)),
                },
                // async-imap restarts its timeout on every keepalive the
                // server sends; this deadline does not move, so IDLE is
                // re-issued in time (RFC 2177: before 29 minutes).
                _ = tokio::time::sleep(idle_for) => Wake::Look,
                _ = shutdown.changed() => Wake::Shutdown,
            }
        };
        let session = Self::timed(limit, "DONE", handle.done()).await?;
        self.session = Some(session);
        Ok(wake)
    }

    /// Says goodbye; errors do not matter any more.
    pub async fn logout(mut self) {
        if let Some(mut s) = self.session.take() {
            let _ = tokio::time::timeout(self.limit, s.logout()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_sets_collapse_runs() {
        assert_eq!(uid_set(&[5, 3, 4, 9, 12, 13, 3]), "3:5,9,12:13");
        assert_eq!(uid_set(&[1]), "1");
        assert_eq!(uid_set(&[]), "");
    }

    #[test]
    fn folder_names_are_quoted_for_list() {
        assert_eq!(quoted("Processed"), "\"Processed\"");
        assert_eq!(quoted("a\"b\\c"), "\"a\\\"b\\\\c\"");
    }
}
