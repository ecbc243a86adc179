#!/usr/bin/env python3
"""Network benchmark: minivmm's e1000 on user-mode networking against QEMU's, in the same run.

Both VMMs boot the same Debian kernel and test initramfs (tests/e2e/guest-init.sh in its net
mode; 2 vCPUs, 512 MiB) with one e1000 on a user network whose forwarded ports reach three
servers in the guest (busybox nc): a sink that reads in 64 KiB blocks and answers with dd's
count of them (host to guest; busybox's `wc -c` counts byte by byte, six times dd's CPU time
natively, spent by both guests alike on the vCPU that also runs the network stack), a source of
--mib MiB of zeros (guest to host), and an echo (round trips). The VMMs take turns, round by
round (who goes first alternates): each round boots each VMM's guest in turn, measures it and
powers it off, so that only one guest loads the sandbox at a time (two at once made the nested
KVM of the sandbox crash or freeze) while both see the same host over the run. A round whose
guest dies (the sandbox's nested KVM triple-faults guests now and then) is run again, up to
--retries times.
Each throughput is timed from connect to the last byte (for host to guest: to the guest's
count, which comes after it read everything); the latency is the median of 1000 round trips of
64 bytes on one connection with TCP_NODELAY. Prints a table of medians; never pass/fail.
--also adds other minivmm binaries (e.g. the build before a change) to the same rounds.

To show where the time goes, each measure also counts the guest's eth0 interrupts (from its
/proc/interrupts, read over the console before and after) and the VM's KVM exits (from the
host's debugfs, /sys/kernel/debug/kvm/PID-FD/, when it can be read), per MiB moved or per round
trip; each round also prints the kinds of exit (MMIO, port I/O, HLT, interrupt window) and the
injections.
"""
import argparse
import glob
import json
import os
import re
import socket
import statistics
import subprocess
import threading
import time

# iomem=relaxed lets the diagnosis of a failed round read the NIC's registers with devmem while
# the driver holds them (Debian sets CONFIG_IO_STRICT_DEVMEM).
CMDLINE = "console=ttyS0 panic=-1 mvm.mode=net iomem=relaxed"
GUEST_PORTS = {"sink": 22, "source": 23, "echo": 24}
# The host ports forwarded to them (PORT_BASE, + 2, + 4): 5555 is the seed's rule. One guest runs
# at a time, so every VMM uses the same ports.
PORT_BASE = 5555
ECHO_SIZE = 64
# A round trip takes 4 to 10 ms in the sandbox: 1000 of them take several seconds, so that the
# median outlasts a stall of the sandbox.
ECHO_COUNT = 1000
# What a failed round prints of the guest's state: its NIC's counters and interrupts, its TCP
# sockets (queues) and the kernel's TCP counters.
# Then the e1000's ring registers and interrupt mask (devmem on BAR0; never ICR, which reading
# clears), and whether an interrupt forced through ICS (TXDW) reaches the guest and restarts it.
DIAGNOSE = ("mvm_stats eth0; grep -E 'eth0|LOC' /proc/interrupts; netstat -tn; "
            "grep Tcp: /proc/net/snmp; grep TcpExt: /proc/net/netstat; "
            "bar=$(head -n 1 /sys/class/net/eth0/device/resource | cut -d' ' -f1); "
            "for r in IMS:0xd0 TDH:0x3810 TDT:0x3818 RDH:0x2810 RDT:0x2818; do "
            "echo \"$r=$(devmem $((bar + ${r#*:})) 32)\"; done; "
            "devmem $((bar + 0xc8)) 32 1; sleep 2; grep eth0 /proc/interrupts; netstat -tn")
# A guest not up after this long (they take about 30 s) hangs: the round fails and runs again.
BOOT_S = 150
# A transfer that moves no byte for this long has a frozen guest: the round fails and runs again.
STALL_S = 120
# KVM's per-VM debugfs counters the bench reads: all exits, then the kinds that tell them apart.
KVM_STATS = ("exits", "mmio_exits", "io_exits", "halt_exits", "irq_window_exits",
             "irq_injections")


class Console:
    """A VMM process with the guest's console on pipes, read line by line on a thread."""

    def __init__(self, name, cmd, workdir):
        self.name = name
        self.log = open(os.path.join(workdir, f"{name}.console.log"), "w")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.log)
        self.lines = []
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace").rstrip("\r\n")
            self.log.write(line + "\n")
            self.log.flush()
            with self.cond:
                self.lines.append(line)
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def wait_for(self, pattern, count=1, timeout=300):
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            while sum(1 for line in self.lines if regex.search(line)) < count:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{self.name}: no console line {pattern!r}; see "
                                       f"{self.log.name}")
                self.cond.wait(1.0)

    def run(self, command, timeout=300):
        with self.cond:
            done = sum(1 for line in self.lines if line.startswith("MVM done "))
        self.proc.stdin.write(command.encode() + b"\n")
        self.proc.stdin.flush()
        self.wait_for(r"^MVM done 0$", count=done + 1, timeout=timeout)

    def command_output(self, command, timeout=300):
        """The lines `command` prints, prefixed with "MVM out " so they stand apart."""
        with self.cond:
            start = len(self.lines)
        self.run(f"{{ {command}; }} | sed 's/^/MVM out /'", timeout)
        with self.cond:
            return [line[8:] for line in self.lines[start:] if line.startswith("MVM out ")]

    def nic_interrupts(self):
        """The guest's eth0 interrupt count, over all CPUs."""
        fields = self.command_output("grep eth0 /proc/interrupts")[0].split()
        return sum(int(f) for f in fields[1:] if f.isdigit())

    def kvm_stats(self):
        """The VM's KVM counters so far (all vCPUs), or None without debugfs."""
        for folder in glob.glob(f"/sys/kernel/debug/kvm/{self.proc.pid}-*"):
            stats = {}
            for name in KVM_STATS:
                path = os.path.join(folder, name)
                if os.path.exists(path):
                    with open(path) as f:
                        stats[name] = int(f.read())
            return stats
        return None

    def stop(self):
        """Powers the guest off (kills it if that takes over a minute)."""
        if self.proc.poll() is None:
            self.proc.stdin.write(b"poweroff\n")
            self.proc.stdin.flush()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def hostfwd_rules():
    """Host port PORT_BASE + 2 * i forwards to the i-th guest server."""
    return [f"tcp:127.0.0.1:{PORT_BASE + 2 * i}-:{port}"
            for i, port in enumerate(GUEST_PORTS.values())]


def host_port(server):
    return PORT_BASE + 2 * list(GUEST_PORTS).index(server)


def start_minivmm(args, binary, log_name):
    config = {
        "name": "bench-net", "cpus": {"count": 2}, "memory": {"size": "512M"},
        "kernel": {"path": args.kernel, "initrd": args.initrd, "cmdline": CMDLINE,
                   "decompress": args.decompress},
        "netdevs": [{"id": "n0", "type": "user", "hostfwd": hostfwd_rules()}],
        "devices": [{"driver": "e1000", "netdev": "n0", "addr": "0x5"}],
    }
    path = os.path.join(args.workdir, f"{log_name}.json")
    with open(path, "w") as f:
        json.dump(config, f)
    return Console(log_name, [binary, "--config", path], args.workdir)


def start_qemu(args, log_name):
    fwd = ",".join(f"hostfwd={rule}" for rule in hostfwd_rules())
    return Console(log_name, [
        "qemu-system-x86_64", "-enable-kvm", "-cpu", "host", "-machine", "pc-i440fx-2.9",
        "-m", "512M", "-smp", "2", "-kernel", args.kernel, "-initrd", args.initrd,
        "-append", CMDLINE, "-nographic", "-no-reboot", "-nodefaults", "-serial", "stdio",
        "-netdev", f"user,id=n0,{fwd}", "-device", "e1000,netdev=n0,addr=0x5"], args.workdir)


def start_servers(guest, mib):
    """The guest's three servers, which with the NIC's interrupt all run on vCPU 0, in both
    guests. Left to Linux, the placement differs from boot to boot and between the VMMs: QEMU's
    guest takes the interrupt on CPU 0 (ISA IRQ 10, through the PIIX's PCI interrupt links),
    minivmm's on CPU 1 (GSI 17 in the _PRT), and the sender lands on either. Whether the sender
    shares the interrupt's CPU decides how guest to host runs: on it, the NAPI poll that takes
    slirp's ACKs also sends the next segments, and each interrupt covers several doorbells; off
    it, every doorbell costs an interrupt on the other CPU (a profile measured 115 interrupts
    per MiB that way against 20). Pinned, the table compares the devices rather than Linux's
    choices."""
    sink, source, echo = GUEST_PORTS.values()
    guest.run("for irq in $(awk -F: '/eth0/ { print $1 }' /proc/interrupts); do "
              "echo 1 > /proc/irq/$irq/smp_affinity; done")
    guest.run(f"taskset 1 nc -ll -p {sink} -e sh -c 'dd of=/dev/null bs=65536 iflag=fullblock "
              f"2>&1' </dev/null 2>/dev/null & "
              f"taskset 1 nc -ll -p {source} -e dd if=/dev/zero bs=65536 count={mib * 16} "
              f"</dev/null 2>/dev/null & "
              f"taskset 1 nc -ll -p {echo} -e cat </dev/null 2>/dev/null & "
              f"mvm_wait_listen {sink}; mvm_wait_listen {source}; mvm_wait_listen {echo}")


def set_thp(mode):
    """The sandbox kernel's transparent huge pages (always, madvise or never) for both VMMs'
    guest RAM. Never by default: pages that khugepaged moves under a running guest are one
    suspect for the sandbox's failures under this load (guests looping in nested page faults at
    addresses outside their RAM, kernels panicking on corrupted stacks). Turning them off did not
    end those failures, but it takes one suspect out of the measurement."""
    with open("/sys/kernel/mm/transparent_hugepage/enabled", "w") as f:
        f.write(mode)


def mount_debugfs():
    """KVM's per-VM statistics live in debugfs; the sandbox runs as root but does not mount it."""
    if not os.path.exists("/sys/kernel/debug/kvm"):
        subprocess.run(["mount", "-t", "debugfs", "none", "/sys/kernel/debug"],
                       stderr=subprocess.DEVNULL, check=False)


def counted(guest, measurement, units):
    """Runs `measurement`; returns its result with the NIC interrupts and each KVM counter per
    unit of work (MiB or round trip; None without debugfs)."""
    irqs, before = guest.nic_interrupts(), guest.kvm_stats()
    result = measurement()
    after = guest.kvm_stats()
    kvm = None if before is None else {k: (after[k] - v) / units for k, v in before.items()}
    return result, (guest.nic_interrupts() - irqs) / units, kvm


def host_to_guest(port, mib):
    payload = bytes(1 << 20)
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=STALL_S) as conn:
        for _ in range(mib):
            conn.sendall(payload)
        conn.shutdown(socket.SHUT_WR)
        reply = b""
        while chunk := conn.recv(4096):
            reply += chunk
    took = time.monotonic() - start
    # dd's report: whole blocks + partial ones, in then out.
    if not reply.startswith(f"{mib * 16}+0 records in\n".encode()):
        raise RuntimeError(f"the guest's dd read {reply!r}, want {mib * 16} blocks of 64 KiB")
    return mib / took


def guest_to_host(port, mib):
    start = time.monotonic()
    got = 0
    # Into one buffer: recv(1 MiB) allocated a fresh MiB per call, 150 to 240 ms of the
    # sandbox's CPU per MiB received, taken from the VMM's threads.
    buffer = bytearray(1 << 20)
    with socket.create_connection(("127.0.0.1", port), timeout=STALL_S) as conn:
        while n := conn.recv_into(buffer):
            got += n
    took = time.monotonic() - start
    if got != mib << 20:
        raise RuntimeError(f"the guest sent {got} bytes, want {mib << 20}")
    return mib / took


def round_trip_us(port):
    message = bytes(range(ECHO_SIZE))
    times = []
    with socket.create_connection(("127.0.0.1", port), timeout=STALL_S) as conn:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(ECHO_COUNT):
            start = time.monotonic()
            conn.sendall(message)
            got = b""
            while len(got) < ECHO_SIZE:
                chunk = conn.recv(ECHO_SIZE - len(got))
                if not chunk:
                    raise RuntimeError("the echo server closed the connection")
                got += chunk
            times.append(time.monotonic() - start)
    return statistics.median(times) * 1e6


def median(values):
    """None when a count could not be read (no debugfs)."""
    return None if None in values else statistics.median(values)


def fmt(value):
    return "n/a" if value is None else f"{value:.1f}"


def report_vmm_threads(guest):
    """The VMM's threads as the host sees them: each one's state, CPU time and where it waits in
    the kernel, then every thread's stack (gdb). A vCPU thread running in KVM_RUN with a frozen
    guest points at the (nested) KVM; a thread blocked on a lock points at the VMM."""
    ticks = os.sysconf("SC_CLK_TCK")
    for task in sorted(glob.glob(f"/proc/{guest.proc.pid}/task/*")):
        try:
            with open(f"{task}/stat") as f:
                stat = f.read()
            with open(f"{task}/wchan") as f:
                wchan = f.read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        cpu_s = (int(fields[11]) + int(fields[12])) / ticks
        print(f"{guest.name} thread {os.path.basename(task)} {comm}: state {fields[0]}, "
              f"{cpu_s:.1f} s CPU, waits in {wchan or '-'}", flush=True)
    try:
        gdb = subprocess.run(["gdb", "-batch", "-p", str(guest.proc.pid), "-ex",
                              "thread apply all bt"], capture_output=True, text=True, timeout=60,
                             check=False)
        for line in gdb.stdout.splitlines():
            if line.startswith(("Thread", "#")):
                print(f"{guest.name} gdb: {line}", flush=True)
    except (OSError, subprocess.TimeoutExpired) as e:
        print(f"{guest.name}: no stacks ({e})", flush=True)
    report_kvm_activity(guest)
    # The sandbox kernel's last words: a soft lockup or a KVM complaint about the guest.
    dmesg = subprocess.run(["dmesg"], capture_output=True, text=True, check=False).stdout
    for line in dmesg.splitlines()[-20:]:
        print(f"host dmesg: {line}", flush=True)


def report_kvm_activity(guest):
    """What KVM does for the VM over two seconds: its counters' growth, then its exits and
    injections as its tracepoints record them (reason and guest rIP), most frequent first. A
    guest that loops in KVM without reaching the VMM shows up here."""
    tracing = "/sys/kernel/debug/tracing"
    events = ("kvm/kvm_exit", "kvm/kvm_inj_virq", "kvm/kvm_page_fault", "kvm/kvm_msr")
    before = guest.kvm_stats()
    try:
        with open(f"{tracing}/trace", "w"):
            pass  # opened for writing: cleared
        for event in events:
            with open(f"{tracing}/events/{event}/enable", "w") as f:
                f.write("1")
        time.sleep(2)
        for event in events:
            with open(f"{tracing}/events/{event}/enable", "w") as f:
                f.write("0")
        with open(f"{tracing}/trace") as f:
            trace = [line for line in f if not line.startswith("#")]
    except OSError as e:
        print(f"{guest.name}: no KVM trace ({e})", flush=True)
        trace = []
    after = guest.kvm_stats()
    if before and after:
        print(f"{guest.name} KVM counters over 2 s: " +
              ", ".join(f"{k} +{after[k] - v}" for k, v in before.items()), flush=True)
    # "... kvm_exit: vcpu 0 reason npf rip 0xffffffff81... info ..." -> "kvm_exit: vcpu 0 reason
    # npf rip 0x...": the event without its task, time and per-exit details.
    kinds = {}
    for line in trace:
        m = re.search(r"(kvm_\w+): (.*)", line)
        if m:
            key = f"{m[1]}: {' '.join(m[2].split()[:6])}"
            kinds[key] = kinds.get(key, 0) + 1
    print(f"{guest.name} KVM trace over 2 s: {len(trace)} events", flush=True)
    for key, n in sorted(kinds.items(), key=lambda kv: -kv[1])[:25]:
        print(f"{guest.name} KVM trace: {n} x {key}", flush=True)


def report_state(guest):
    """After a failed transfer: whether the guest still answers, its network's state and the
    VMM's threads."""
    if guest.proc.poll() is None:
        try:
            for line in guest.command_output(DIAGNOSE, timeout=60):
                print(f"{guest.name} guest: {line}", flush=True)
        except (OSError, RuntimeError):  # OSError: the VMM closed its console as it went
            print(f"{guest.name}: the guest's shell does not answer", flush=True)
    # Checked again: the VMM may have died while the guest was asked.
    if guest.proc.poll() is not None:
        print(f"{guest.name} exited with status {guest.proc.returncode}", flush=True)
        return
    report_vmm_threads(guest)


def measure(args, name, binary, log_name):
    """Boots a guest (QEMU's when `binary` is None), runs one round of measurements and powers
    it off."""
    guest = (start_qemu(args, log_name) if binary is None
             else start_minivmm(args, binary, log_name))
    try:
        guest.wait_for(r"^MVM ready", timeout=BOOT_S)
        start_servers(guest, args.mib)
        m, kvm = {}, {}
        m["h2g"], m["h2g_irq"], kvm["h2g"] = counted(
            guest, lambda: host_to_guest(host_port("sink"), args.mib), args.mib)
        m["g2h"], m["g2h_irq"], kvm["g2h"] = counted(
            guest, lambda: guest_to_host(host_port("source"), args.mib), args.mib)
        m["rtt"], m["rtt_irq"], kvm["rtt"] = counted(
            guest, lambda: round_trip_us(host_port("echo")), ECHO_COUNT)
    except (OSError, RuntimeError):
        report_state(guest)
        raise
    finally:
        guest.stop()
    for way in ("h2g", "g2h", "rtt"):
        m[f"{way}_exit"] = kvm[way]["exits"] if kvm[way] else None
        if kvm[way]:
            unit = "round trip" if way == "rtt" else "MiB"
            print(f"{name} {way} KVM counters per {unit}: " +
                  ", ".join(f"{k} {v:.1f}" for k, v in kvm[way].items()), flush=True)
    return m


def load_rounds(path):
    """The rounds earlier sandbox runs of this bench completed (none without a state file)."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return json.load(f)["rounds"]


def save_rounds(path, rounds):
    with open(path + ".tmp", "w") as f:
        json.dump({"rounds": rounds}, f)
    os.replace(path + ".tmp", path)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--minivmm", required=True)
    parser.add_argument("--kernel", required=True)
    parser.add_argument("--initrd", required=True)
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--retries", type=int, default=3,
                        help="further tries of a round whose guest died")
    parser.add_argument("--mib", type=int, default=64, help="MiB per transfer and direction")
    parser.add_argument("--also", action="append", default=[], metavar="MINIVMM",
                        help="another minivmm binary (e.g. an older build) measured in the same "
                             "rounds, as a further column")
    parser.add_argument("--decompress", choices=("host", "guest"), default="host",
                        help="minivmm's kernel.decompress (guest: the kernel unpacks itself and "
                             "picks a random address, as under QEMU)")
    parser.add_argument("--thp", choices=("always", "madvise", "never"), default="never",
                        help="the sandbox kernel's transparent huge pages (see set_thp)")
    parser.add_argument("--state", help="a file keeping the completed rounds, so that a run in a "
                                        "new sandbox goes on where a dead one stopped")
    parser.add_argument("--sandbox-run", type=int, default=1,
                        help="which sandbox run this is (recorded with each round)")
    args = parser.parse_args()
    # The config's paths are relative to its folder, the work directory.
    args.kernel, args.initrd = os.path.abspath(args.kernel), os.path.abspath(args.initrd)
    os.makedirs(args.workdir, exist_ok=True)
    # Each VMM's binary; None is QEMU.
    vmms = {"minivmm": args.minivmm}
    for i, binary in enumerate(args.also):
        vmms[f"minivmm-{i + 2}"] = os.path.abspath(binary)
        print(f"minivmm-{i + 2} is {vmms[f'minivmm-{i + 2}']}", flush=True)
    vmms["qemu"] = None
    rounds = load_rounds(args.state) if args.state else []
    failures = 0
    if len(rounds) < args.rounds:
        mount_debugfs()
        set_thp(args.thp)
    # A round counts only once every VMM has been measured in it, all in this sandbox run: a
    # round that a dead sandbox cut short runs again whole in the next.
    while len(rounds) < args.rounds:
        i = len(rounds)
        this_round = {"sandbox_run": args.sandbox_run}
        # Who goes first alternates (QEMU in the first round), so that neither always meets a
        # freshly booted sandbox.
        order = list(vmms.items())
        if i % 2 == 0:
            order.reverse()
        for name, binary in order:
            while True:
                try:
                    m = measure(args, name, binary,
                                f"{name}-s{args.sandbox_run}-r{i + 1}-{failures}")
                    break
                except (OSError, RuntimeError) as e:  # socket.timeout is an OSError
                    failures += 1
                    print(f"round {i + 1} {name}: FAILED ({e}); see the consoles in "
                          f"{args.workdir}", flush=True)
                    if failures > args.retries:
                        raise SystemExit(f"{failures} failed tries; stopping")
            this_round[name] = m
            print(f"round {i + 1} {name}: host->guest {m['h2g']:.1f} MiB/s "
                  f"({m['h2g_irq']:.0f} irq/MiB, {fmt(m['h2g_exit'])} exits/MiB), "
                  f"guest->host {m['g2h']:.1f} MiB/s ({m['g2h_irq']:.0f} irq/MiB, "
                  f"{fmt(m['g2h_exit'])} exits/MiB), round trip {m['rtt']:.0f} us "
                  f"({m['rtt_irq']:.1f} irq, {fmt(m['rtt_exit'])} exits each)",
                  flush=True)
        rounds.append(this_round)
        if args.state:
            save_rounds(args.state, rounds)
    results = {name: {} for name in vmms}
    for r in rounds:
        for name in vmms:
            for key, value in r[name].items():
                results[name].setdefault(key, []).append(value)
    med = {name: {k: median(v) for k, v in r.items()} for name, r in results.items()}
    print()
    others = [name for name in vmms if name not in ("minivmm", "qemu")]
    # Two ratios: of the medians, and the median of each round's own ratio. The sandbox's speed
    # drifts between rounds (threefold between runs), and the VMMs of one round ran minutes
    # apart, so the second is the steadier where they disagree.
    print(f"| measure (e1000, user net, median of {args.rounds}) | minivmm | QEMU | ratio | "
          f"per-round ratio |" +
          "".join(f" {name} | ratio | per-round ratio |" for name in others))
    print("|---|---|---|---|---|" + "---|---|---|" * len(others))
    rows = [("h2g", f"TCP host -> guest, {args.mib} MiB", "MiB/s"),
            ("g2h", f"TCP guest -> host, {args.mib} MiB", "MiB/s"),
            ("rtt", f"round trip, {ECHO_SIZE} B (median of {ECHO_COUNT})", "us"),
            ("h2g_irq", "host -> guest: guest NIC interrupts", "/MiB"),
            ("h2g_exit", "host -> guest: KVM exits", "/MiB"),
            ("g2h_irq", "guest -> host: guest NIC interrupts", "/MiB"),
            ("g2h_exit", "guest -> host: KVM exits", "/MiB"),
            ("rtt_irq", "round trip: guest NIC interrupts", "each"),
            ("rtt_exit", "round trip: KVM exits", "each")]
    for key, label, unit in rows:
        b = med["qemu"][key]

        def cell(name):
            a = med[name][key]
            if a is None or not b:
                return f"{fmt(a)} {unit}", "n/a", "n/a"
            # A round where QEMU's count was 0 (no interrupt at all) has no ratio.
            paired = median([r[name][key] / r["qemu"][key] for r in rounds if r["qemu"][key]])
            return f"{fmt(a)} {unit}", f"{a / b:.2f}", f"{paired:.2f}"

        value, ratio, paired = cell("minivmm")
        line = f"| {label} | {value} | {fmt(b)} {unit} | {ratio} | {paired} |"
        for name in others:
            line += " {} | {} | {} |".format(*cell(name))
        print(line)
    runs = sorted({r["sandbox_run"] for r in rounds})
    print(f"(rounds by sandbox run: " +
          ", ".join(f"run {n}: {sum(r['sandbox_run'] == n for r in rounds)}" for n in runs) +
          f"; {failures} failed tries in this run were run again)")


if __name__ == "__main__":
    main()
