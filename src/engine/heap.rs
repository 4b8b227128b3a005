//! Give the heap freed by a burst back to the system. A fleet's Prometheus backfill parses
//! millions of points per deployment and frees them once folded; glibc keeps that memory in its
//! arenas, so the process's RSS stayed at the burst's level for its whole life.

/// Blocks of at least this many bytes are mapped on their own and unmapped when freed.
const MMAP_THRESHOLD: i32 = 128 * 1024;
/// glibc's default is 8 arenas per core, each keeping what its threads freed.
const ARENA_MAX: i32 = 2;

/// Tune glibc's allocator for a long-lived process with bursts of large buffers (answers of
/// megabytes, a fleet's forecasts): call first thing in `main`, before any thread starts.
///
/// By default glibc raises its mmap threshold to the size of each large block freed, up to
/// 32 MiB, so after the first answers every buffer came from the arenas and stayed resident;
/// and each thread may get an arena of its own. A fixed threshold and two arenas took the
/// 1,000-deployment kube path from 246 to 146 MiB at 70 s (docs/benchmarks.md). A setting the
/// user made in the environment (`MALLOC_ARENA_MAX`, or `glibc.malloc.arena_max` in
/// `GLIBC_TUNABLES`; the same for the mmap threshold) is theirs: it is left as glibc read it.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let tunables = std::env::var("GLIBC_TUNABLES").unwrap_or_default();
        let set_by_user = |var: &str, tunable: &str| {
            std::env::var_os(var).is_some() || tunables.contains(tunable)
        };
        // SAFETY: mallopt takes two plain integers and only sets the allocator's parameters;
        // called before other threads exist.
        #[allow(unsafe_code)]
        unsafe {
            if !set_by_user("MALLOC_MMAP_THRESHOLD_", "glibc.malloc.mmap_threshold") {
                libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
            }
            if !set_by_user("MALLOC_ARENA_MAX", "glibc.malloc.arena_max") {
                libc::mallopt(libc::M_ARENA_MAX, ARENA_MAX);
            }
        }
    }
}

/// How often the engine hands back what was freed since the last time: polls, forecasts and
/// calibrations free megabytes every few seconds, and glibc returns none of it on its own (a
/// 1,000-deployment fleet went from 86 MiB after the backfill's trim back to 100–104 within
/// four minutes; trimmed every 10 s it saw-tooths between 81 and 99 for half an hour). A trim
/// takes 1–25 ms of the engine's thread there.
pub(super) const TRIM_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Return what the allocator holds free to the system (glibc only; elsewhere nothing). Bytes of
/// RSS before and after, when /proc says.
pub(super) fn return_freed_memory() -> Option<(u64, u64)> {
    let before = rss_bytes();
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim takes a plain integer and only walks the allocator's own lists.
        #[allow(unsafe_code)]
        unsafe {
            libc::malloc_trim(0);
        }
    }
    Some((before?, rss_bytes()?))
}

/// Resident set size from /proc/self/statm (pages of 4 KiB, as on x86_64 and most arm64
/// kernels; only logged and tested).
fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn a_freed_burst_is_returned_to_the_system() {
        // Many small blocks (below the mmap threshold, so they live in the arena), touched so
        // they are resident, then freed: glibc keeps them until trimmed.
        let mut blocks: Vec<Vec<u8>> = (0..200_000).map(|i| vec![(i % 251) as u8; 512]).collect();
        let live = rss_bytes().expect("statm");
        // Keep a few blocks at the end so the arena's top is not simply released on free.
        let keep: Vec<Vec<u8>> = blocks.split_off(blocks.len() - 10);
        drop(blocks);
        let (before, after) = return_freed_memory().expect("statm");
        assert!(
            before > after + 50 * 1024 * 1024,
            "RSS before {before}, after {after}, with the blocks {live}"
        );
        assert_eq!(keep.len(), 10);
    }
}
