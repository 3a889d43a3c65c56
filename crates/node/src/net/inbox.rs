//! Where a channel's messages wait for samod: handed over one at a time, and merged while
//! they wait.
//!
//! samod reads a connection as fast as messages come and queues each one for the document,
//! which then takes one step per message: it applies the changes, stores the document (often
//! in full), works out what to tell every peer, and this laptop derives view events. A laptop
//! that has fallen behind — catching up after working offline, or the facilitator's laptop
//! forwarding 29 others' changes — was sent many small messages and paid all of that for each.
//!
//! So the inbox gives samod the next message only once the document has handled the one
//! before: after handing one over, it waits until samod asks for another (samod has then put
//! the message in the document's queue) and then for a *barrier* — an empty task queued on the
//! document after it (`Doc::barrier`). Messages that arrive meanwhile wait here, and each is
//! merged into the one before it where that means the same (`crate::repo::coalesce`), so a
//! busy laptop takes a few large steps instead of many small ones. A laptop that keeps up
//! sees no difference: the barrier returns as soon as the message has been handled.
//!
//! At most [`INBOUND_QUEUE`] messages wait (a merged one is at most 4 MiB); past that the
//! reader stops reading and TCP pushes back on the sender. A barrier that hasn't returned
//! within [`BARRIER_TIMEOUT`] lets the next message through anyway.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::Stream;
use tokio::sync::Notify;

use super::channel::INBOUND_QUEUE;
use crate::repo::coalesce;

/// How long a barrier may take before the next message is let through regardless.
pub(crate) const BARRIER_TIMEOUT: Duration = Duration::from_secs(10);

/// The most messages merged into one: each merge decodes and re-encodes the whole message,
/// so a flood of small ones would otherwise cost time in proportion to the square of their
/// number.
pub(crate) const MAX_MERGES: usize = 64;

/// Resolves once the document has handled every message samod has queued for it so far.
pub(crate) type Barrier = Arc<dyn Fn() -> BoxFuture<'static, ()> + Send + Sync>;

#[derive(Default)]
struct State {
    /// Messages waiting, each with how many were merged into it.
    queue: VecDeque<(Vec<u8>, usize)>,
    /// A message was handed to samod and samod hasn't asked for the next one yet.
    taken: bool,
    /// The reader has finished: the stream ends once the queue is empty.
    closed: bool,
    /// samod has dropped the stream: the reader stops.
    gone: bool,
    waker: Option<Waker>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    /// Wakes the reader when a message has been taken.
    room: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Plain fields, each left consistent: a panic elsewhere can't leave them half-made.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The reader's end.
pub(crate) struct Inbox {
    shared: Arc<Shared>,
}

/// samod's end: a stream of messages.
pub(crate) struct Incoming {
    shared: Arc<Shared>,
    barrier: Option<Barrier>,
    waiting: Option<BoxFuture<'static, ()>>,
}

/// samod has stopped reading this connection.
#[derive(Debug)]
pub(crate) struct Gone;

/// A new inbox; with no barrier (a workshop this laptop hasn't opened yet, such as one it is
/// joining), messages are handed over as fast as samod takes them, and merged only while
/// samod hasn't taken them.
pub(crate) fn inbox(barrier: Option<Barrier>) -> (Inbox, Incoming) {
    let shared = Arc::new(Shared::default());
    (Inbox { shared: shared.clone() }, Incoming { shared, barrier, waiting: None })
}

impl Inbox {
    /// Queues `message` for samod, merged into the last one waiting where it can be; waits
    /// while [`INBOUND_QUEUE`] messages are waiting already.
    pub(crate) async fn push(&self, message: Vec<u8>) -> Result<(), Gone> {
        loop {
            let room = self.shared.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            {
                let mut state = self.shared.lock();
                if state.gone {
                    return Err(Gone);
                }
                let merged = state
                    .queue
                    .back()
                    .filter(|(_, merges)| *merges < MAX_MERGES)
                    .and_then(|(last, _)| coalesce(last, &message));
                if let Some(merged) = merged {
                    if let Some((last, merges)) = state.queue.back_mut() {
                        *last = merged;
                        *merges += 1;
                    }
                    return Ok(());
                }
                if state.queue.len() < INBOUND_QUEUE {
                    state.queue.push_back((message, 0));
                    if let Some(waker) = state.waker.take() {
                        waker.wake();
                    }
                    return Ok(());
                }
            }
            room.await;
        }
    }
}

impl Drop for Inbox {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.closed = true;
        if let Some(waker) = state.waker.take() {
            waker.wake();
        }
    }
}

impl Stream for Incoming {
    type Item = io::Result<Vec<u8>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(waiting) = this.waiting.as_mut() {
                if waiting.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                this.waiting = None;
            }
            let mut state = this.shared.lock();
            if std::mem::take(&mut state.taken) {
                // samod asks again, so the message it took is in the document's queue: wait
                // until the document has handled it (later messages merge meanwhile).
                if let Some(barrier) = &this.barrier {
                    let barrier = barrier();
                    this.waiting = Some(Box::pin(async move {
                        let _ = tokio::time::timeout(BARRIER_TIMEOUT, barrier).await;
                    }));
                    continue;
                }
            }
            if let Some((message, _)) = state.queue.pop_front() {
                state.taken = true;
                drop(state);
                this.shared.room.notify_one();
                return Poll::Ready(Some(Ok(message)));
            }
            if state.closed {
                return Poll::Ready(None);
            }
            state.waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
    }
}

impl Drop for Incoming {
    fn drop(&mut self) {
        self.shared.lock().gone = true;
        self.shared.room.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use futures::StreamExt;

    use super::*;

    /// A barrier that returns only when the test says so, counting how often it was asked.
    fn manual() -> (Barrier, Arc<Notify>, Arc<AtomicUsize>) {
        let (open, asked) = (Arc::new(Notify::new()), Arc::new(AtomicUsize::new(0)));
        let (o, a) = (open.clone(), asked.clone());
        let barrier: Barrier = Arc::new(move || {
            a.fetch_add(1, Ordering::SeqCst);
            let o = o.clone();
            Box::pin(async move { o.notified().await })
        });
        (barrier, open, asked)
    }

    #[tokio::test]
    async fn messages_go_one_at_a_time_and_in_order_and_the_stream_ends_with_the_reader() {
        let (barrier, open, asked) = manual();
        let (inbox, mut incoming) = inbox(Some(barrier));
        inbox.push(b"one".to_vec()).await.unwrap();
        inbox.push(b"two".to_vec()).await.unwrap();
        assert_eq!(incoming.next().await.unwrap().unwrap(), b"one");
        // The next one waits for the document to have handled the first.
        let mut next = incoming.next();
        assert!(futures::poll!(&mut next).is_pending());
        assert_eq!(asked.load(Ordering::SeqCst), 1);
        open.notify_one();
        assert_eq!(next.await.unwrap().unwrap(), b"two");
        drop(inbox);
        open.notify_one();
        assert!(incoming.next().await.is_none());
    }

    #[tokio::test]
    async fn sync_messages_that_wait_are_merged() {
        let (messages, heads) = crate::repo::tests::three_sync_messages();
        let (barrier, open, _) = manual();
        let (inbox, mut incoming) = inbox(Some(barrier));
        inbox.push(messages[0].clone()).await.unwrap();
        assert_eq!(incoming.next().await.unwrap().unwrap(), messages[0]);
        // While the document handles the first, the other two arrive and become one.
        inbox.push(messages[1].clone()).await.unwrap();
        inbox.push(messages[2].clone()).await.unwrap();
        open.notify_one();
        let merged = incoming.next().await.unwrap().unwrap();
        assert_ne!(merged, messages[2]);
        drop(inbox);
        open.notify_one();
        assert!(incoming.next().await.is_none(), "two messages became one");
        // The merged message carries both changes (and the first's, which the receiver has).
        let mut both = crate::repo::tests::heads_after(&merged);
        both.sort();
        let mut want = heads.clone();
        want.sort();
        assert_eq!(both, want);
    }

    #[tokio::test]
    async fn a_full_inbox_holds_the_reader_until_samod_takes_one() {
        let (inbox, mut incoming) = inbox(None);
        // Messages that don't merge (not samod sync messages) each take a place.
        for i in 0..INBOUND_QUEUE {
            inbox.push(vec![i as u8]).await.unwrap();
        }
        let mut push = Box::pin(inbox.push(vec![9]));
        assert!(futures::poll!(&mut push).is_pending());
        assert_eq!(incoming.next().await.unwrap().unwrap(), vec![0]);
        push.await.unwrap();
        drop(incoming);
        assert!(inbox.push(vec![10]).await.is_err(), "samod has gone");
    }

    #[tokio::test]
    async fn a_barrier_that_never_returns_holds_messages_only_for_a_while() {
        tokio::time::pause();
        let (barrier, _open, _) = manual();
        let (inbox, mut incoming) = inbox(Some(barrier));
        inbox.push(vec![1]).await.unwrap();
        inbox.push(vec![2]).await.unwrap();
        assert_eq!(incoming.next().await.unwrap().unwrap(), vec![1]);
        let started = tokio::time::Instant::now();
        assert_eq!(incoming.next().await.unwrap().unwrap(), vec![2]);
        assert!(started.elapsed() >= BARRIER_TIMEOUT);
    }
}
