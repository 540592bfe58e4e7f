//! The batch writer's helper: one thread beside the writer that renders the
//! batch's notifications and writes its attachment files while the writer
//! goes on to the next mail. Rendering a new request's three mails (text
//! and HTML) and fsyncing its files were a third of the writer's time in
//! `cargo bench --bench daemon`, all of it under the write lock and on one
//! core.
//!
//! Nothing about what commits changes: the writer joins the helper before
//! `COMMIT`, writes the rendered outbox rows in the order they were queued,
//! and a helper's failure fails the pass as the same failure inline would
//! (the caller then redoes the batch inline, mail by mail).

use std::cell::RefCell;
use std::sync::mpsc::{channel, Receiver, Sender};

use rusqlite::Connection;

use crate::attachments::AttachmentDir;
use crate::render::{Rendered, Renderer};
use crate::store::apply::{store_file, Offload};
use crate::store::notify::Queued;
use crate::store::StoreError;

pub(super) enum Job {
    Render(Box<Queued>),
    File {
        sha256: String,
        data: Vec<u8>,
        name: String,
    },
}

/// The writer's end: hands work to the helper, and writes the outbox rows
/// of what it rendered, as they come back (holding a whole batch's mails
/// rendered would cost megabytes of memory for nothing).
pub(super) struct Helper<'a> {
    files: &'a AttachmentDir,
    jobs: Sender<Vec<Job>>,
    /// Jobs not sent yet: each send may wake the helper (a system call on
    /// the writer's time), so they go a few at a time.
    pending: RefCell<Vec<Job>>,
    back: Receiver<Back>,
}

/// Jobs handed over at once: a new request's three or four.
const HAND_OVER: usize = 4;

/// The largest attachment handed to the helper (its data is copied);
/// a larger one the writer stores itself.
const HAND_OVER_BYTES: usize = 1024 * 1024;

/// What comes back from the helper: a rendered notification, or a failure.
pub(super) type Back = Result<(Box<Queued>, Rendered), StoreError>;

impl Offload for Helper<'_> {
    fn notification(&self, queued: Queued) {
        self.pending
            .borrow_mut()
            .push(Job::Render(Box::new(queued)));
    }

    fn attachment(&self, sha256: &str, data: &[u8], name: &str) -> Result<(), StoreError> {
        if data.len() > HAND_OVER_BYTES {
            // Handing it over means a copy: for a large file that is memory
            // the mail's size would double, and its fsync is no longer the
            // bulk of the cost. Written here and now.
            return store_file(self.files, sha256, data, name);
        }
        self.pending.borrow_mut().push(Job::File {
            sha256: sha256.to_owned(),
            data: data.to_vec(),
            name: name.to_owned(),
        });
        Ok(())
    }
}

impl Helper<'_> {
    /// Writes the outbox rows of the notifications rendered so far, in the
    /// order they were queued; the helper's first failure, if it failed.
    pub(super) fn write_ready(&self, conn: &Connection) -> Result<(), StoreError> {
        if self.pending.borrow().len() >= HAND_OVER {
            self.hand_over();
        }
        for back in self.back.try_iter() {
            let (queued, out) = back?;
            queued.insert(conn, &out)?;
        }
        Ok(())
    }

    /// Waits for the helper to finish (the caller joins its thread), then
    /// writes the rest.
    pub(super) fn finish(self, conn: &Connection) -> Result<(), StoreError> {
        self.hand_over();
        let Helper { jobs, back, .. } = self;
        drop(jobs);
        for b in back {
            let (queued, out) = b?;
            queued.insert(conn, &out)?;
        }
        Ok(())
    }
}

impl Helper<'_> {
    fn hand_over(&self) {
        let jobs = std::mem::take(&mut *self.pending.borrow_mut());
        if !jobs.is_empty() {
            // The helper only stops when this end is dropped: a send cannot
            // fail while it runs, and if it panicked the join says so.
            let _ = self.jobs.send(jobs);
        }
    }
}

/// A helper: the writer's end, and the work to run on a thread of its own.
pub(super) fn helper<'a>(
    renderer: &'a Renderer,
    files: &'a AttachmentDir,
) -> (Helper<'a>, impl FnOnce() + Send + 'a) {
    let (jobs, rx) = channel();
    let (tx, back) = channel();
    let work = move || work(rx, tx, renderer, files);
    let helper = Helper {
        files,
        jobs,
        pending: RefCell::new(Vec::new()),
        back,
    };
    (helper, work)
}

/// The helper's loop: until the writer drops its end. After a failure it
/// stops: the writer sees the failure, and the pass is redone inline.
fn work(jobs: Receiver<Vec<Job>>, back: Sender<Back>, renderer: &Renderer, files: &AttachmentDir) {
    for job in jobs.into_iter().flatten() {
        let sent = match job {
            Job::Render(q) => back.send(q.render(renderer).map(|out| (q, out))),
            Job::File { sha256, data, name } => match store_file(files, &sha256, &data, &name) {
                Ok(()) => Ok(()),
                Err(e) => back.send(Err(e)),
            },
        };
        if sent.is_err() {
            return; // the writer is gone
        }
    }
}
