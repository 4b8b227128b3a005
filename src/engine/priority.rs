//! Thread priorities: the UI's thread draws at the process's own priority, and everything that
//! can wait runs nicer, so a frame is not late while a fleet's start-up fills both cores.
//! Relative to the calling thread, so a process the user started with `nice` keeps its place.

/// How much nicer than the thread that started it a pool worker runs (forecasts,
/// calibrations, backtests): with both cores forecasting at the UI's priority, the UI thread
/// shared them as an equal.
pub(crate) const WORKER_NICER_BY: i32 = 10;

/// How much nicer the async runtime's threads run (the engine's loop, the cluster's polls, the
/// simulator's clock, network reads): ahead of the pool's work, behind the UI's frames.
pub const RUNTIME_NICER_BY: i32 = 5;

/// The calling thread's nice value (Linux keeps it per thread: PRIO_PROCESS with `who` = 0 is
/// the calling thread). -1 is also an error's value; read as a nice value it only shifts the
/// thread's by one.
#[cfg(target_os = "linux")]
pub(crate) fn this_threads_nice() -> i32 {
    // SAFETY: getpriority takes plain integers and touches no memory of ours.
    #[allow(unsafe_code)]
    unsafe {
        libc::getpriority(libc::PRIO_PROCESS, 0)
    }
}

/// Lower the calling thread's scheduling priority by `by` (up to 19). Best effort: a refusal
/// only logs.
pub fn lower_this_threads_priority(by: i32) {
    #[cfg(target_os = "linux")]
    {
        let nice = (this_threads_nice() + by).min(19);
        // SAFETY: setpriority takes plain integers and touches no memory of ours.
        #[allow(unsafe_code)]
        let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, nice) };
        if rc != 0 {
            tracing::debug!(
                "thread keeps its priority: {}",
                std::io::Error::last_os_error()
            );
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = by;
}
