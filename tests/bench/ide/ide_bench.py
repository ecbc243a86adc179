#!/usr/bin/env python3
"""IDE disk benchmark: minivmm's PIIX3 IDE against QEMU's, with KVM, in the same run.

Each round boots the same kernel and benchmark initramfs (tests/bench/ide/bench-init.sh: 2 vCPUs,
512 MiB) once with minivmm and once with qemu-system-x86_64 -enable-kvm, alternating, each on a
fresh copy of the same empty qcow2 image (in this machine's /tmp, so that host storage does not
decide) on the seed's ide.0 unit 0. The guest's diskbench measures, with O_DIRECT on /dev/sda:
sequential writes that allocate, sequential reads of what it wrote, both in 1 MiB requests, and
4 KiB random reads. Prints each round and a table of medians and ratios (higher is better for
minivmm); never pass/fail.
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import threading

MEASURES = [("seq_write_mib_s", "sequential write, 1 MiB direct", "MiB/s"),
            ("seq_read_mib_s", "sequential read, 1 MiB direct", "MiB/s"),
            ("rand_read_iops", "random read, 4 KiB direct", "IOPS")]


def run_guest(cmd, console, timeout=600):
    """The guest's BENCH lines as {name: value}; None when it hung or failed. The console goes
    to the file `console`, for a look at a round that failed."""
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    watchdog = threading.Timer(timeout, proc.kill)
    watchdog.start()
    results = {}
    try:
        with open(console, "wb") as log:
            for raw in proc.stdout:
                log.write(raw)
                log.flush()
                # QEMU's firmware leaves terminal escapes before the first line.
                m = re.search(r"BENCH (\S+) ?(.*)$", raw.decode(errors="replace").strip())
                if m:
                    results[m.group(1)] = m.group(2)
        proc.wait()
    finally:
        watchdog.cancel()
    if "done" not in results:
        return None
    return results


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--minivmm", required=True)
    parser.add_argument("--kernel", required=True)
    parser.add_argument("--initrd", required=True)
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--reads", type=int, default=2000)
    args = parser.parse_args()
    cmdline = f"console=ttyS0 panic=-1 quiet mvm.mib={args.mib} mvm.reads={args.reads}"
    scratch = tempfile.mkdtemp(prefix="ide-bench-")
    base = os.path.join(scratch, "base.qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", base, f"{args.mib + 64}M"],
                   check=True)
    image = os.path.join(scratch, "disk.qcow2")
    config_path = os.path.join(args.workdir, "bench-ide.json")
    with open(config_path, "w") as f:
        json.dump({
            "name": "bench", "cpus": {"count": 2}, "memory": {"size": "512M"},
            "kernel": {"path": args.kernel, "initrd": args.initrd, "cmdline": cmdline},
            "drives": [{"id": "drive-ide0-0-0", "file": image, "format": "qcow2"}],
            "devices": [{"driver": "ide-hd", "bus": "ide.0", "unit": 0,
                         "drive": "drive-ide0-0-0"}],
        }, f)
    qemu = ["qemu-system-x86_64", "-enable-kvm", "-cpu", "host", "-machine", "pc-i440fx-2.9",
            "-m", "512M", "-smp", "2", "-kernel", args.kernel, "-initrd", args.initrd,
            "-append", cmdline, "-nographic", "-no-reboot", "-nodefaults", "-serial", "stdio",
            "-net", "none",
            "-drive", f"file={image},format=qcow2,if=none,id=drive-ide0-0-0",
            "-device", "ide-hd,bus=ide.0,unit=0,drive=drive-ide0-0-0"]
    runs = {"minivmm": {}, "qemu": {}}  # round -> results
    for i in range(args.rounds):
        for name, cmd in [("minivmm", [args.minivmm, "--config", config_path]), ("qemu", qemu)]:
            shutil.copyfile(base, image)
            console = os.path.join(args.workdir, f"console-{name}-{i + 1}.log")
            result = run_guest(cmd, console)
            if result is None:
                print(f"round {i + 1} {name}: HANG or failure; not counted (see {console})",
                      flush=True)
                continue
            runs[name][i] = result
            print(f"round {i + 1} {name}: " +
                  ", ".join(f"{k} {result.get(k)}" for k, _, _ in MEASURES) +
                  f" ({result.get('mode')})", flush=True)
    shutil.rmtree(scratch)
    if not any(i in runs["qemu"] for i in runs["minivmm"]):
        print("no round completed for both: no table")
        return
    # Rounds run back to back share the machine's momentary load, so the median of the per-round
    # ratios is steadier than the ratio of the medians on a noisy machine; both are shown.
    pairs = [(runs["minivmm"][i], runs["qemu"][i]) for i in runs["minivmm"] if i in runs["qemu"]]
    print()
    print(f"| IDE, qcow2, {args.mib} MiB, {len(pairs)} rounds | minivmm median | QEMU median | "
          "ratio of medians | median of per-round ratios |")
    print("|---|---|---|---|---|")
    for key, label, unit in MEASURES:
        ours = statistics.median(float(r[key]) for r in runs["minivmm"].values())
        theirs = statistics.median(float(r[key]) for r in runs["qemu"].values())
        ratio = statistics.median(float(m[key]) / float(q[key]) for m, q in pairs)
        print(f"| {label} | {ours:.1f} {unit} | {theirs:.1f} {unit} | {ours / theirs:.2f} | "
              f"{ratio:.2f} |")

if __name__ == "__main__":
    main()
