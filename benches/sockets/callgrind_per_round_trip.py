#!/usr/bin/env python3
"""User-space instructions per round trip of one echo server, counted by callgrind.

usage: benches/sockets/callgrind_per_round_trip.py BENCH_BINARY SERVER SIZE CONNECTIONS

BENCH_BINARY is the echo benchmark (`cargo bench -p benches --bench echo --no-run` prints its
path). The server runs twice under `valgrind --tool=callgrind` (ECHO_BENCH_WRAP), with a
300 ms and a 1200 ms window; the result is the difference in instructions over the
difference in round trips (the server's calls to `send` and `writev`, one per echo), so
start-up, handshakes and shutdown cancel out. Timings under callgrind mean nothing; the
instruction counts are stable on a noisy machine. Needs valgrind.
"""
import glob
import os
import re
import subprocess
import sys
import tempfile

SENDS = re.compile(r"^(send|writev)$")


def profile(binary, server, size, connections, window_ms, out_dir):
    """Runs the server under callgrind; returns (instructions, send calls) of its process."""
    for f in glob.glob(os.path.join(out_dir, "cg.*.out")):
        os.remove(f)
    env = dict(os.environ)
    env["ECHO_BENCH_WRAP"] = (
        f"valgrind --tool=callgrind --callgrind-out-file={out_dir}/cg.%p.out"
    )
    args = [binary, "quick", f"only={server}", f"sizes={size}", f"conns={connections}",
            "deflate=off", f"window={window_ms}", "warmup=100",
            f"chart={out_dir}/chart.svg"]
    subprocess.run(args, env=env, check=True, stdout=subprocess.DEVNULL, timeout=600)
    (path,) = glob.glob(os.path.join(out_dir, "cg.*.out"))
    return read_profile(path)


def read_profile(path):
    """The total instructions of a callgrind profile and its calls to `send`/`writev`."""
    names, total, calls, callee = {}, 0, 0, None
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                total = int(line.split()[1])
                continue
            m = re.match(r"^(c?fn)=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
            if m:
                kind, i, name = m.groups()
                if name is not None:
                    names[i] = name
                if kind == "cfn":
                    callee = names.get(i)
                continue
            if line.startswith("calls=") and callee and SENDS.match(callee):
                calls += int(line.split("=")[1].split()[0])
    return total, calls


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    binary, server, size, connections = sys.argv[1:]
    with tempfile.TemporaryDirectory() as out_dir:
        short = profile(binary, server, size, connections, 300, out_dir)
        long = profile(binary, server, size, connections, 1200, out_dir)
    round_trips = long[1] - short[1]
    if round_trips <= 0:
        sys.exit(f"no more round trips in the long run than in the short one: {short} {long}")
    per = (long[0] - short[0]) / round_trips
    print(f"{server} {size} B x {connections}: {per:.0f} instructions per round trip "
          f"({round_trips} round trips between the two runs)")


if __name__ == "__main__":
    main()
