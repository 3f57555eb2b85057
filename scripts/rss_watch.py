#!/usr/bin/env python3
"""Runs a command and samples its resident memory (VmRSS, VmHWM from /proc/PID/status) every
second; prints a summary (peak, first/last, growth over the second half) and, with --csv, every
sample. Linux only.

    scripts/rss_watch.py [--csv samples.csv] -- stylecam live --source testcard --benchmark 60 ...
"""

import argparse
import subprocess
import sys
import time


def status_kib(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--csv")
    ap.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    cmd = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not cmd:
        sys.exit("give the command after --")
    start = time.monotonic()
    proc = subprocess.Popen(cmd)
    samples = []  # (seconds, rss MiB, hwm MiB)
    while proc.poll() is None:
        rss, hwm = status_kib(proc.pid, "VmRSS"), status_kib(proc.pid, "VmHWM")
        if rss is not None and hwm is not None:
            samples.append((time.monotonic() - start, rss / 1024, hwm / 1024))
        time.sleep(args.interval)
    rc = proc.wait()
    if args.csv:
        with open(args.csv, "w") as f:
            f.write("seconds,rss_mib,hwm_mib\n")
            for s in samples:
                f.write(f"{s[0]:.1f},{s[1]:.1f},{s[2]:.1f}\n")
    if not samples:
        sys.exit(f"no samples (exit status {rc})")
    half = samples[len(samples) // 2:]
    growth = half[-1][1] - half[0][1]
    span = max(half[-1][0] - half[0][0], 1e-9)
    print(f"rss_watch: {len(samples)} samples over {samples[-1][0]:.0f} s, exit status {rc}")
    print(f"rss_watch: peak RSS (VmHWM) {max(s[2] for s in samples):.1f} MiB; "
          f"RSS first {samples[0][1]:.1f}, max {max(s[1] for s in samples):.1f}, last {samples[-1][1]:.1f} MiB")
    print(f"rss_watch: second half RSS {half[0][1]:.1f} → {half[-1][1]:.1f} MiB "
          f"({growth:+.1f} MiB, {growth / span * 60:+.2f} MiB/min), "
          f"min {min(s[1] for s in half):.1f}, max {max(s[1] for s in half):.1f}")
    sys.exit(rc)


if __name__ == "__main__":
    main()
