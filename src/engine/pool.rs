//! One pool of worker threads for the process, sized to the cores: forecasts, calibrations and
//! backtests run here, never on tokio's blocking pool (which would start a thread per
//! deployment). The engine's `WorkQueue` decides what runs next and hands the pool at most one
//! job per worker, so the pool's own queue stays short and its order does not matter.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send + 'static>;

pub(super) struct Pool {
    jobs: Mutex<Sender<Job>>,
    workers: usize,
}

/// The process's pool (started at first use; its threads live as long as the process, so a
/// `:ctx` swap or several engines never add threads).
pub(super) fn shared() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool::new(std::thread::available_parallelism().map_or(1, |n| n.get())))
}

impl Pool {
    /// A pool of `workers` threads (at least one).
    pub(super) fn new(workers: usize) -> Self {
        let workers = workers.max(1);
        let (tx, rx) = channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..workers {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("ai4k8s-work-{i}"))
                .spawn(move || work(&rx));
            if let Err(e) = spawned {
                tracing::error!("cannot start worker thread {i}: {e}");
            }
        }
        Self {
            jobs: Mutex::new(tx),
            workers,
        }
    }

    pub(super) fn workers(&self) -> usize {
        self.workers
    }

    /// Run `f` on a worker; the receiver gets its result, or the panic's message.
    pub(super) fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> oneshot::Receiver<Result<T, String>> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            let result = catch_unwind(AssertUnwindSafe(f)).map_err(|p| panic_message(&*p));
            let _ = tx.send(result);
        });
        let sent = self
            .jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .send(job);
        if sent.is_err() {
            // No worker could be started: the receiver sees its sender dropped.
            tracing::error!("the worker pool has no threads");
        }
        rx
    }
}

fn work(jobs: &Mutex<Receiver<Job>>) {
    crate::engine::priority::lower_this_threads_priority(crate::engine::priority::WORKER_NICER_BY);
    // Calibrations on a worker replay their candidates one after another: the pool is the
    // parallelism, a thread per core per calibration would multiply the threads.
    crate::backtest::calibrate::replay_candidates_inline_on_this_thread();
    loop {
        // The lock is held only while waiting for the next job, not while running it.
        let next = jobs.lock().unwrap_or_else(PoisonError::into_inner).recv();
        match next {
            Ok(job) => job(),
            Err(_) => return,
        }
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[tokio::test]
    async fn jobs_run_on_the_pools_own_threads_and_a_panic_is_an_error() {
        let pool = Pool::new(2);
        let receivers: Vec<_> = (0..20)
            .map(|i| {
                pool.run(move || {
                    let name = std::thread::current().name().map(str::to_string);
                    (i * 2, name)
                })
            })
            .collect();
        let mut names = HashSet::new();
        for (i, rx) in receivers.into_iter().enumerate() {
            let (v, name) = rx.await.expect("answered").expect("no panic");
            assert_eq!(v, i * 2);
            names.insert(name.expect("named"));
        }
        assert!(!names.is_empty() && names.len() <= 2, "{names:?}");
        assert!(names.iter().all(|n| n.starts_with("ai4k8s-work-")));
        let panicked = pool
            .run(|| -> u32 { panic!("boom") })
            .await
            .expect("answered");
        assert_eq!(panicked, Err("boom".to_string()));
        // The worker survived the panic.
        assert_eq!(pool.run(|| 7).await.expect("answered"), Ok(7));
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn workers_run_nicer_than_the_thread_that_started_them() {
        // Workers are started from a thread of known niceness and inherit it first.
        let started_at =
            std::thread::spawn(|| (crate::engine::priority::this_threads_nice(), Pool::new(1)))
                .join()
                .expect("joined");
        let (nice, pool) = started_at;
        let worker = pool
            .run(crate::engine::priority::this_threads_nice)
            .await
            .expect("answered");
        assert_eq!(
            worker,
            Ok((nice + crate::engine::priority::WORKER_NICER_BY).min(19))
        );
        if nice < 19 {
            assert_ne!(worker, Ok(nice), "a worker runs at the starter's priority");
        }
    }
}
