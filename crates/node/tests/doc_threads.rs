//! `samod::DocThreads`, the threads every document's steps run on (patched into samod: see
//! `vendor/README.md`, samod item 2, and `concurrency` in `src/repo.rs`). samod's own tests
//! don't run with the workspace's (only samod-core's unit tests do, from `scripts/test.sh`),
//! so what the node relies on is checked here.

use std::process::Command;
use std::sync::mpsc;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use samod::DocThreads;

const WAIT: Duration = Duration::from_secs(10);

#[test]
fn jobs_run_in_the_order_they_were_queued() {
    let threads = DocThreads::new(1, |i| format!("cg-order-{i}")).unwrap();
    let (tx, rx) = mpsc::channel();
    for i in 0..200 {
        let tx = tx.clone();
        threads.spawn_fifo(move || tx.send(i).unwrap());
    }
    let got: Vec<i32> = (0..200).map(|_| rx.recv_timeout(WAIT).unwrap()).collect();
    assert_eq!(got, (0..200).collect::<Vec<_>>());
}

#[test]
fn jobs_queued_before_the_threads_are_dropped_still_run() {
    let threads = DocThreads::new(1, |i| format!("cg-drop-{i}")).unwrap();
    let (tx, rx) = mpsc::channel();
    // The one thread is held in the first job until the handle has gone, so every other job
    // is still queued when it goes.
    let (release, held) = mpsc::channel::<()>();
    threads.spawn_fifo(move || held.recv_timeout(WAIT).unwrap());
    for i in 0..50 {
        let tx = tx.clone();
        threads.spawn_fifo(move || tx.send(i).unwrap());
    }
    drop(threads);
    release.send(()).unwrap();
    drop(tx);
    let got: Vec<i32> = rx.iter().collect();
    assert_eq!(got, (0..50).collect::<Vec<_>>());
}

#[test]
fn as_many_jobs_run_at_once_as_there_are_threads() {
    let threads = DocThreads::new(3, |i| format!("cg-wide-{i}")).unwrap();
    // Each job waits for the other two: this finishes only if all three run at the same time.
    let barrier = Arc::new(Barrier::new(3));
    let (tx, rx) = mpsc::channel();
    for _ in 0..3 {
        let (barrier, tx) = (barrier.clone(), tx.clone());
        threads.spawn_fifo(move || {
            barrier.wait();
            tx.send(()).unwrap();
        });
    }
    for _ in 0..3 {
        rx.recv_timeout(WAIT).expect("three jobs didn't run side by side on three threads");
    }
}

#[test]
fn the_threads_carry_the_names_given() {
    let threads = DocThreads::new(2, |i| format!("cg-named-{i}")).unwrap();
    let (tx, rx) = mpsc::channel();
    threads.spawn_fifo(move || tx.send(std::thread::current().name().map(str::to_owned)).unwrap());
    let name = rx.recv_timeout(WAIT).unwrap().unwrap();
    assert!(name == "cg-named-0" || name == "cg-named-1", "{name}");
}

#[test]
fn idle_threads_sleep() {
    let threads = DocThreads::new(2, |i| format!("cg-idle-{i}")).unwrap();
    let (tx, rx) = mpsc::channel();
    for _ in 0..1_000 {
        let tx = tx.clone();
        threads.spawn_fifo(move || tx.send(()).unwrap());
    }
    for _ in 0..1_000 {
        rx.recv_timeout(WAIT).unwrap();
    }
    std::thread::sleep(Duration::from_millis(100));
    let (found, before) = cpu_ticks("cg-idle-");
    assert_eq!(found, 2, "the document threads weren't found by name");
    std::thread::sleep(Duration::from_millis(500));
    let used = cpu_ticks("cg-idle-").1 - before;
    // Clock ticks are 10 ms: a thread polling or spinning for the half second would use tens.
    assert!(used <= 2, "idle document threads used {used} clock ticks of CPU in 500 ms");
    drop(threads);
}

/// A job that panics may have left a document half-changed: the process stops (as on a rayon
/// pool without a panic handler) rather than carry on with it, or carry on without the thread.
#[test]
fn a_panicking_job_stops_the_process() {
    let child = Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "panicking_job_child", "--nocapture"])
        .env("CG_PANICKING_JOB_CHILD", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&child.stderr);
    assert!(!child.status.success(), "the process carried on after a job panicked: {stderr}");
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(child.status.signal(), Some(6), "expected SIGABRT; {:?}: {stderr}", child.status);
    }
    assert!(stderr.contains("a job that panics"), "{stderr}");
}

/// Run by [`a_panicking_job_stops_the_process`] in a child process.
#[test]
#[ignore = "run in a child process by a_panicking_job_stops_the_process"]
fn panicking_job_child() {
    if std::env::var_os("CG_PANICKING_JOB_CHILD").is_none() {
        return;
    }
    let threads = DocThreads::new(1, |i| format!("cg-panic-{i}")).unwrap();
    threads.spawn_fifo(|| panic!("a job that panics"));
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    // Reaching here means the process outlived the panic: the parent sees a clean exit.
}

/// How many of this process's threads have names starting with `prefix`, and their CPU time
/// (user + system, in clock ticks; Linux: `/proc/self/task/*/stat`).
fn cpu_ticks(prefix: &str) -> (usize, u64) {
    let (mut found, mut total) = (0, 0);
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else { continue };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else { continue };
        if !stat[open + 1..close].starts_with(prefix) {
            continue;
        }
        // After the name: state is field 3; utime and stime are fields 14 and 15.
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        total += fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        found += 1;
    }
    (found, total)
}
