//! What the socket benchmarks measure and how: a latency histogram of fixed size, a
//! process's CPU time, resident memory and open files read from `/proc`, core pinning, the
//! open-files limit, the servers' listener, a clock shared by processes, medians and
//! quantiles.

// Each benchmark binary (echo, idle, fanout) uses a part of it.
#![allow(dead_code)]

use std::io;
use std::time::Duration;

/// Sub-buckets per power of two: a recorded value is kept to within 1/32 (3%).
const SUB: u64 = 32;
/// Buckets: values below 32 ns exactly, then 32 per power of two up to 2^45 ns (about 10 h).
const BUCKETS: usize = (SUB as usize) * 42;

/// A log-linear latency histogram in nanoseconds: fixed memory whatever the count.
#[derive(Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
}

impl Histogram {
    /// An empty histogram.
    pub fn new() -> Self {
        Self {
            counts: vec![0; BUCKETS],
            total: 0,
        }
    }

    fn index(ns: u64) -> usize {
        if ns < SUB {
            return ns as usize;
        }
        let exp = 63 - u64::from(ns.leading_zeros()); // >= 5
        let mantissa = (ns >> (exp - 5)) - SUB; // 0..32
        let index = SUB + (exp - 5) * SUB + mantissa;
        (index as usize).min(BUCKETS - 1)
    }

    /// The middle of bucket `index`, in nanoseconds.
    fn value(index: usize) -> u64 {
        let index = index as u64;
        if index < SUB {
            return index;
        }
        let exp = (index - SUB) / SUB + 5;
        let mantissa = (index - SUB) % SUB + SUB;
        let low = mantissa << (exp - 5);
        low + (1u64 << (exp - 5)) / 2
    }

    /// Records one value.
    pub fn record(&mut self, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.counts[Self::index(ns)] += 1;
        self.total += 1;
    }

    /// Adds every value recorded in `other`.
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
    }

    /// How many values were recorded.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// The value at quantile `q` (0 to 1); zero when empty.
    pub fn quantile(&self, q: f64) -> Duration {
        if self.total == 0 {
            return Duration::ZERO;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Duration::from_nanos(Self::value(i));
            }
        }
        Duration::from_nanos(Self::value(BUCKETS - 1))
    }
}

/// CPU time (user + system) of every thread of process `pid` so far, in nanoseconds.
///
/// From `/proc/PID/task/*/schedstat` (nanoseconds on CPU); where the kernel has no
/// schedstat, from `/proc/PID/stat`'s utime + stime (clock ticks, 10 ms apart).
pub fn cpu_ns(pid: u32) -> io::Result<u64> {
    let mut total = 0u64;
    let mut any = false;
    for entry in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let path = entry?.path().join("schedstat");
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        if let Some(ns) = text
            .split_whitespace()
            .next()
            .and_then(|f| f.parse::<u64>().ok())
        {
            total += ns;
            any = true;
        }
    }
    if any {
        return Ok(total);
    }
    let (user, sys) = user_sys_ns(pid)?;
    Ok(user + sys)
}

/// User and system CPU time of process `pid` so far (all its threads), in nanoseconds, from
/// `/proc/PID/stat` (clock ticks: 10 ms apart, so only meaningful over long windows).
pub fn user_sys_ns(pid: u32) -> io::Result<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (in parentheses, which may hold spaces): utime is the
    // 14th field of the line, the 12th after the name.
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| io::Error::other("unexpected /proc/PID/stat"))?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| -> io::Result<u64> {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| io::Error::other("unexpected /proc/PID/stat"))
    };
    let ns_per_tick = 1_000_000_000 / 100; // USER_HZ on Linux
    Ok((ticks(11)? * ns_per_tick, ticks(12)? * ns_per_tick))
}

/// Pins the calling process (all its threads created afterwards) to one CPU. False when the
/// machine has no such CPU or the kernel refused.
pub fn pin_to_cpu(cpu: usize) -> bool {
    // SAFETY: `cpu_set_t` is plain data (all zeroes is the empty set); CPU_SET writes inside
    // it for cpu < CPU_SETSIZE (checked); sched_setaffinity reads `size_of::<cpu_set_t>()`
    // bytes from a valid pointer and changes nothing else of this process's memory.
    unsafe {
        if cpu >= libc::CPU_SETSIZE as usize {
            return false;
        }
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
    }
}

/// The median of `values` (the mean of the middle two for an even count); NaN when empty.
pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Raises this process's soft limit on open files to its hard limit; returns the new soft
/// limit (the idle and fan-out benchmarks hold thousands of sockets per process).
pub fn raise_nofile_limit() -> io::Result<u64> {
    // SAFETY: getrlimit/setrlimit read and write one `rlimit` we own; nothing else.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return Err(io::Error::last_os_error());
        }
        limit.rlim_cur = limit.rlim_max;
        if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(limit.rlim_cur)
    }
}

/// The listen backlog of the benchmark servers: the client processes open thousands of
/// connections at once, and a full accept queue drops them for seconds of SYN retries
/// (tokio's `TcpListener::bind` asks for 1,024; the kernel caps it at `somaxconn`).
pub const BACKLOG: u32 = 4096;

/// A benchmark server's listener on 127.0.0.1, any free port, with [`BACKLOG`]. Call it
/// within the tokio runtime.
pub fn local_listener() -> io::Result<tokio::net::TcpListener> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))?;
    socket.listen(BACKLOG)
}

/// The resident set size of process `pid` in bytes (`VmRSS` of `/proc/PID/status`).
pub fn rss_bytes(pid: u32) -> io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|kb| kb.trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or_else(|| io::Error::other("no VmRSS in /proc/PID/status"))
}

/// How many files process `pid` has open (entries of `/proc/PID/fd`).
pub fn open_files(pid: u32) -> io::Result<usize> {
    Ok(std::fs::read_dir(format!("/proc/{pid}/fd"))?.count())
}

/// `CLOCK_MONOTONIC` in nanoseconds: the same clock in every process of the machine, so a
/// time stamped by the server and one read by a client process can be subtracted.
pub fn monotonic_ns() -> u64 {
    // SAFETY: clock_gettime writes one `timespec` we own.
    let ts = unsafe {
        let mut ts: libc::timespec = std::mem::zeroed();
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts);
        ts
    };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The value at quantile `q` (0 to 1) of `values` (nearest rank); NaN when empty.
pub fn quantile(values: &[f64], q: f64) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

/// A socket benchmark's arguments (cargo's own `--bench`-style flags left out), whether
/// `quick` is among them, and the workspace root (where `docs/` and `target/` are).
pub fn bench_args() -> (Vec<String>, bool, std::path::PathBuf) {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let quick = args.iter().any(|a| a == "quick");
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    (args, quick, root)
}
