#!/usr/bin/env python3
"""Boot-time and memory-overhead benchmark: minivmm against QEMU with KVM, in the same run.

Each round boots the same Debian kernel and test initramfs (2 vCPUs, 512 MiB) once with minivmm
and once with qemu-system-x86_64 -enable-kvm, alternating, and times process start to the guest
init's first console line ("MVM boot"). The kernel is given in both of its forms: the bzImage
and the ELF vmlinux inside it (QEMU boots that through PVH, which its pc-i440fx-2.9 machine
lacks, so QEMU runs the newest i440FX machine, "pc", for it). QEMU's guest decompresses the
bzImage itself; minivmm unpacks it on the host by default (kernel.decompress "host") and keeps
the unpacked kernel in its cache, and each round also boots it with "guest", the kernel's own
decompressor, to show what that saves. Then it measures minivmm's own memory: the process's RSS minus the resident guest RAM, with
the guest up and idle. Prints a table; never pass/fail.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import threading
import time

CMDLINE = "console=ttyS0 panic=-1 mvm.mode={mode}"


def time_to_marker(cmd, marker=b"MVM boot", timeout=120):
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    # A guest that hangs (seen now and then under nested KVM in the sandbox) is killed, and the
    # round is reported as a hang instead of stalling the benchmark.
    watchdog = threading.Timer(timeout, proc.kill)
    watchdog.start()
    elapsed = None
    try:
        for line in proc.stdout:
            if marker in line and elapsed is None:
                elapsed = time.monotonic() - start
        proc.wait()
    finally:
        watchdog.cancel()
    return elapsed


def minivmm_config(args, workdir, mode, kernel=None, decompress="host"):
    config = {
        "name": "bench", "cpus": {"count": 2}, "memory": {"size": "512M"},
        "kernel": {"path": kernel or args.kernel, "initrd": args.initrd,
                   "cmdline": CMDLINE.format(mode=mode), "decompress": decompress},
    }
    path = os.path.join(workdir, f"bench-{mode}-{os.path.basename(kernel or args.kernel)}"
                                 f"-{decompress}.json")
    with open(path, "w") as f:
        json.dump(config, f)
    return path


def rss_overhead_kib(args, workdir):
    """VmRSS minus the Rss of the guest-RAM mapping, while the guest holds at its prompt."""
    cfg = minivmm_config(args, workdir, "hold mvm.touch_mib=64")
    proc = subprocess.Popen([args.minivmm, "--config", cfg], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        for line in proc.stdout:
            if b"MVM ready" in line:
                break
        time.sleep(1)
        with open(f"/proc/{proc.pid}/status") as f:
            vm_rss = int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
        guest_rss = 0
        with open(f"/proc/{proc.pid}/smaps") as f:
            size = 0
            for line in f:
                m = re.match(r"^Size:\s+(\d+) kB", line)
                if m:
                    size = int(m.group(1))
                m = re.match(r"^Rss:\s+(\d+) kB", line)
                if m and size == 512 * 1024:
                    guest_rss += int(m.group(1))
        proc.stdin.write(b"done\n")
        proc.stdin.flush()
        proc.wait(timeout=120)
        return vm_rss, guest_rss
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--minivmm", required=True)
    parser.add_argument("--kernel", required=True)
    parser.add_argument("--vmlinux", required=True, help="the ELF kernel inside --kernel")
    parser.add_argument("--initrd", required=True)
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    # minivmm keeps the bzImage it unpacked in its cache folder ($HOME/.cache/minivmm by default,
    # read-only in the KVM sandbox): here the work folder's, kept from run to run as a user's is.
    os.environ.setdefault("MINIVMM_CACHE_DIR", os.path.join(args.workdir, "kernel-cache"))
    rows = []
    for form, kernel, machine in [("bzImage", args.kernel, "pc-i440fx-2.9"),
                                  ("ELF vmlinux", args.vmlinux, "pc")]:
        # minivmm as configured by default (a bzImage unpacked on the host), and for the bzImage
        # also with kernel.decompress "guest", the kernel's own decompressor, as QEMU runs it.
        variants = {form: minivmm_config(args, args.workdir, "report", kernel)}
        if form == "bzImage":
            variants[f"{form}, decompressed in the guest"] = minivmm_config(
                args, args.workdir, "report", kernel, decompress="guest")
        qemu = ["qemu-system-x86_64", "-enable-kvm", "-cpu", "host", "-machine", machine,
                "-m", "512M", "-smp", "2", "-kernel", kernel, "-initrd", args.initrd,
                "-append", CMDLINE.format(mode="report"), "-nographic", "-no-reboot",
                "-nodefaults", "-serial", "stdio", "-net", "none"]
        ours, theirs = {label: [] for label in variants}, []
        for i in range(args.rounds):
            times = {label: time_to_marker([args.minivmm, "--config", cfg])
                     for label, cfg in variants.items()}
            b = time_to_marker(qemu)
            if b is None or None in times.values():
                print(f"{form} round {i + 1}: HANG (minivmm {times}, qemu {b}); round dropped",
                      flush=True)
                continue
            for label, a in times.items():
                ours[label].append(a)
            theirs.append(b)
            print(f"{form} round {i + 1}: " +
                  ", ".join(f"minivmm ({label}) {a:.2f} s" for label, a in times.items()) +
                  f", qemu {b:.2f} s", flush=True)
        for label in variants:
            rows.append((label, len(theirs), statistics.median(ours[label]),
                         statistics.median(theirs)))
    vm_rss, guest_rss = rss_overhead_kib(args, args.workdir)
    print()
    print("| measure (2 vCPUs, 512 MiB) | minivmm | QEMU | ratio |")
    print("|---|---|---|---|")
    for form, count, m_ours, m_theirs in rows:
        print(f"| boot to init, {form}, median of {count} | {m_ours:.2f} s | {m_theirs:.2f} s | "
              f"{m_ours / m_theirs:.2f} |")
    print(f"| RSS minus resident guest RAM | {(vm_rss - guest_rss) / 1024:.2f} MiB | | |")
    print(f"(VmRSS {vm_rss} KiB, guest RAM resident {guest_rss} KiB)")


if __name__ == "__main__":
    main()
