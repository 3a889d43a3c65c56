//! Common Ground patch: a small FIFO pool of threads for document actors that sleep when
//! there is no work, for `ConcurrencyConfig::Threads`.
//!
//! A rayon worker that runs out of work spins, yielding the CPU 32 times or more, before it
//! sleeps. samod gives a pool one job per document step, so every step ends in a spin: with
//! many nodes on few cores (the sync benchmark runs 30 on 2) the spinning took 28% of the
//! CPU samples of a latency run. These threads wait on a condition variable instead.

use std::{
    collections::VecDeque,
    io,
    sync::{Arc, Condvar, Mutex, MutexGuard},
    thread,
};

type Job = Box<dyn FnOnce() + Send + 'static>;

/// Threads that run jobs in the order they were spawned; dropped, they finish the jobs
/// already queued and exit.
pub struct DocThreads {
    shared: Arc<Shared>,
}

struct Shared {
    queue: Mutex<Queue>,
    ready: Condvar,
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    stopping: bool,
}

impl DocThreads {
    /// Starts `threads` threads (at least one), named by `name(index)`.
    pub fn new(threads: usize, name: impl Fn(usize) -> String) -> io::Result<Self> {
        let shared = Arc::new(Shared { queue: Mutex::new(Queue::default()), ready: Condvar::new() });
        for index in 0..threads.max(1) {
            let worker = shared.clone();
            let started = thread::Builder::new().name(name(index)).spawn(move || worker.run());
            if let Err(e) = started {
                stop(&shared);
                return Err(e);
            }
        }
        Ok(Self { shared })
    }

    /// Queues `job` behind every job queued before it.
    pub fn spawn_fifo(&self, job: impl FnOnce() + Send + 'static) {
        lock(&self.shared.queue).jobs.push_back(Box::new(job));
        self.shared.ready.notify_one();
    }
}

impl Drop for DocThreads {
    fn drop(&mut self) {
        // Not joined: the last handle may be dropped on one of the threads themselves.
        stop(&self.shared);
    }
}

fn stop(shared: &Shared) {
    lock(&shared.queue).stopping = true;
    shared.ready.notify_all();
}

impl Shared {
    fn run(&self) {
        loop {
            let job = {
                let mut queue = lock(&self.queue);
                loop {
                    if let Some(job) = queue.jobs.pop_front() {
                        break job;
                    }
                    if queue.stopping {
                        return;
                    }
                    queue = self.ready.wait(queue).unwrap_or_else(|e| e.into_inner());
                }
            };
            // As on a rayon pool without a panic handler: a job that panics may have left a
            // document's state half-changed, so the process stops rather than carry on.
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).is_err() {
                tracing::error!("a document task panicked; stopping");
                std::process::abort();
            }
        }
    }
}

fn lock(queue: &Mutex<Queue>) -> MutexGuard<'_, Queue> {
    // Jobs never run under the lock, so a panic can't leave the queue half-changed.
    queue.lock().unwrap_or_else(|e| e.into_inner())
}

/// The pool a threadpool runner spawns document steps on.
pub(crate) enum Pool {
    Rayon(rayon::ThreadPool),
    Threads(DocThreads),
}

impl Pool {
    pub(crate) fn spawn_fifo(&self, job: impl FnOnce() + Send + 'static) {
        match self {
            Pool::Rayon(pool) => pool.spawn_fifo(job),
            Pool::Threads(threads) => threads.spawn_fifo(job),
        }
    }

    #[cfg(test)]
    pub(crate) fn spawn(&self, job: impl FnOnce() + Send + 'static) {
        match self {
            Pool::Rayon(pool) => pool.spawn(job),
            Pool::Threads(threads) => threads.spawn_fifo(job),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::{sync::mpsc, time::Duration};

    use super::*;

    #[test]
    fn jobs_run_in_order_and_queued_jobs_finish_after_drop() {
        let pool = DocThreads::new(1, |i| format!("test-{i}")).unwrap();
        let (tx, rx) = mpsc::channel();
        for i in 0..100 {
            let tx = tx.clone();
            pool.spawn_fifo(move || tx.send(i).unwrap());
        }
        drop(pool);
        let got: Vec<i32> = (0..100).map(|_| rx.recv_timeout(Duration::from_secs(5)).unwrap()).collect();
        assert_eq!(got, (0..100).collect::<Vec<_>>());
    }
}
