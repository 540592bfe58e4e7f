//! A batch's mails parsed on a thread of their own while the one writer
//! applies the mails before them: parsing (decoding, HTML, quote stripping,
//! hashing) is a fifth of a mail's time, and the writer need not wait for
//! the whole batch before it starts. The first mail is parsed before the
//! write lock is taken, so a mail that travels alone (one over the batch's
//! byte budget: the huge ones) is never parsed under the lock; the rest of
//! a batch is at most that budget, parsed a mail ahead of the writer.

use std::sync::mpsc::{channel, Receiver};
use std::thread::{Scope, ScopedJoinHandle};

use super::Parsed;

/// The mails parsed so far, in batch order, and the thread parsing the rest.
pub(super) struct Parsing<'scope, 't> {
    recv: Receiver<Parsed<'t>>,
    done: Vec<Parsed<'t>>,
    parser: Option<ScopedJoinHandle<'scope, ()>>,
}

impl<'scope, 't: 'scope> Parsing<'scope, 't> {
    /// Starts parsing `items` in order with `parse` on a thread of `scope`.
    pub fn start<'env, T: Sync>(
        scope: &'scope Scope<'scope, 'env>,
        items: &'env [T],
        parse: impl Fn(&'env T) -> Parsed<'t> + Send + 'scope,
    ) -> Parsing<'scope, 't> {
        let (send, recv) = channel();
        let parser = scope.spawn(move || {
            for item in items {
                // The writer stopped reading (it failed): nothing to do.
                if send.send(parse(item)).is_err() {
                    break;
                }
            }
        });
        Parsing {
            recv,
            done: Vec::with_capacity(items.len()),
            parser: Some(parser),
        }
    }
}

impl<'t> Parsing<'_, 't> {
    /// Mail `i`, waiting for the parser if it is not there yet. A panic of
    /// the parser's is raised here, on the writer's thread.
    pub fn get(&mut self, i: usize) -> &Parsed<'t> {
        while self.done.len() <= i {
            match self.recv.recv() {
                Ok(p) => self.done.push(p),
                Err(_) => {
                    // The parser ended without sending mail `i`: only a
                    // panic does that (or a caller asking past the batch).
                    if let Some(Err(panic)) = self.parser.take().map(|p| p.join()) {
                        std::panic::resume_unwind(panic);
                    }
                    panic!("mail {i} asked of a batch of {}", self.done.len());
                }
            }
        }
        &self.done[i]
    }
}
