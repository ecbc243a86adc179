#!/usr/bin/env python3
"""Network benchmark: minivmm's e1000 on user-mode networking against QEMU's, in the same run.

Both VMMs boot the same Debian kernel and test initramfs (tests/e2e/guest-init.sh in its net
mode; 2 vCPUs, 512 MiB) with one e1000 on a user network whose forwarded ports reach three
servers in the guest (busybox nc): a sink that answers with the byte count it read (host to
guest), a source of --mib MiB of zeros (guest to host), and an echo (round trips). Both guests
run at once and are measured alternately, round by round, so that both see the same host load.
Each throughput is timed from connect to the last byte (for host to guest: to the guest's
count, which comes after it read everything); the latency is the median of 200 round trips of
64 bytes on one connection with TCP_NODELAY. Prints a table of medians; never pass/fail.
"""
import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import threading
import time

CMDLINE = "console=ttyS0 panic=-1 mvm.mode=net"
GUEST_PORTS = {"sink": 22, "source": 23, "echo": 24}
ECHO_SIZE = 64
ECHO_COUNT = 200


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

    def run(self, command):
        with self.cond:
            done = sum(1 for line in self.lines if line.startswith("MVM done "))
        self.proc.stdin.write(command.encode() + b"\n")
        self.proc.stdin.flush()
        self.wait_for(r"^MVM done 0$", count=done + 1)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.stdin.write(b"poweroff\n")
            self.proc.stdin.flush()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def hostfwd_rules(base):
    """Host port base + 2 * i forwards to the i-th guest server."""
    return [f"tcp:127.0.0.1:{base + 2 * i}-:{port}"
            for i, port in enumerate(GUEST_PORTS.values())]


def host_port(base, server):
    return base + 2 * list(GUEST_PORTS).index(server)


def start_minivmm(args, base):
    config = {
        "name": "bench-net", "cpus": {"count": 2}, "memory": {"size": "512M"},
        "kernel": {"path": args.kernel, "initrd": args.initrd, "cmdline": CMDLINE},
        "netdevs": [{"id": "n0", "type": "user", "hostfwd": hostfwd_rules(base)}],
        "devices": [{"driver": "e1000", "netdev": "n0", "addr": "0x5"}],
    }
    path = os.path.join(args.workdir, "minivmm.json")
    with open(path, "w") as f:
        json.dump(config, f)
    return Console("minivmm", [args.minivmm, "--config", path], args.workdir)


def start_qemu(args, base):
    fwd = ",".join(f"hostfwd={rule}" for rule in hostfwd_rules(base))
    return Console("qemu", [
        "qemu-system-x86_64", "-enable-kvm", "-cpu", "host", "-machine", "pc-i440fx-2.9",
        "-m", "512M", "-smp", "2", "-kernel", args.kernel, "-initrd", args.initrd,
        "-append", CMDLINE, "-nographic", "-no-reboot", "-nodefaults", "-serial", "stdio",
        "-netdev", f"user,id=n0,{fwd}", "-device", "e1000,netdev=n0,addr=0x5"], args.workdir)


def start_servers(guest, mib):
    sink, source, echo = GUEST_PORTS.values()
    guest.run(f"nc -ll -p {sink} -e sh -c 'wc -c' </dev/null 2>/dev/null & "
              f"nc -ll -p {source} -e dd if=/dev/zero bs=65536 count={mib * 16} "
              f"</dev/null 2>/dev/null & "
              f"nc -ll -p {echo} -e cat </dev/null 2>/dev/null & "
              f"mvm_wait_listen {sink}; mvm_wait_listen {source}; mvm_wait_listen {echo}")


def host_to_guest(port, mib):
    payload = bytes(1 << 20)
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port)) as conn:
        for _ in range(mib):
            conn.sendall(payload)
        conn.shutdown(socket.SHUT_WR)
        reply = b""
        while chunk := conn.recv(4096):
            reply += chunk
    took = time.monotonic() - start
    if reply.strip() != str(mib << 20).encode():
        raise RuntimeError(f"the guest read {reply!r} bytes, want {mib << 20}")
    return mib / took


def guest_to_host(port, mib):
    start = time.monotonic()
    got = 0
    with socket.create_connection(("127.0.0.1", port)) as conn:
        while chunk := conn.recv(1 << 20):
            got += len(chunk)
    took = time.monotonic() - start
    if got != mib << 20:
        raise RuntimeError(f"the guest sent {got} bytes, want {mib << 20}")
    return mib / took


def round_trip_us(port):
    message = bytes(range(ECHO_SIZE))
    times = []
    with socket.create_connection(("127.0.0.1", port)) as conn:
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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--minivmm", required=True)
    parser.add_argument("--kernel", required=True)
    parser.add_argument("--initrd", required=True)
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--mib", type=int, default=64, help="MiB per transfer and direction")
    args = parser.parse_args()
    # The config's paths are relative to its folder, the work directory.
    args.kernel, args.initrd = os.path.abspath(args.kernel), os.path.abspath(args.initrd)
    os.makedirs(args.workdir, exist_ok=True)
    guests = {"minivmm": start_minivmm(args, 5555), "qemu": start_qemu(args, 5556)}
    bases = {"minivmm": 5555, "qemu": 5556}
    try:
        for guest in guests.values():
            guest.wait_for(r"^MVM ready")
        for guest in guests.values():
            start_servers(guest, args.mib)
        results = {name: {"h2g": [], "g2h": [], "rtt": []} for name in guests}
        rounds = 0
        for i in range(args.rounds):
            try:
                row = {}
                for name in guests:
                    base = bases[name]
                    row[name] = {"h2g": host_to_guest(host_port(base, "sink"), args.mib),
                                 "g2h": guest_to_host(host_port(base, "source"), args.mib),
                                 "rtt": round_trip_us(host_port(base, "echo"))}
            except (OSError, RuntimeError) as e:
                # A guest that died (seen once: a triple fault under nested KVM) ends the
                # measurements; the complete rounds still count.
                print(f"round {i + 1}: FAILED ({e}); see the consoles in {args.workdir}",
                      flush=True)
                break
            rounds += 1
            for name, m in row.items():
                for key, value in m.items():
                    results[name][key].append(value)
                print(f"round {i + 1} {name}: host->guest {m['h2g']:.1f} MiB/s, "
                      f"guest->host {m['g2h']:.1f} MiB/s, round trip {m['rtt']:.0f} us",
                      flush=True)
        if rounds == 0:
            raise SystemExit("no complete round")
    finally:
        for guest in guests.values():
            guest.stop()
    med = {name: {k: statistics.median(v) for k, v in r.items()} for name, r in results.items()}
    print()
    print(f"| measure (e1000, user net, median of {rounds}) | minivmm | QEMU | ratio |")
    print("|---|---|---|---|")
    rows = [("h2g", f"TCP host -> guest, {args.mib} MiB", "MiB/s"),
            ("g2h", f"TCP guest -> host, {args.mib} MiB", "MiB/s"),
            ("rtt", f"round trip, {ECHO_SIZE} B (median of {ECHO_COUNT})", "us")]
    for key, label, unit in rows:
        a, b = med["minivmm"][key], med["qemu"][key]
        print(f"| {label} | {a:.1f} {unit} | {b:.1f} {unit} | {a / b:.2f} |")


if __name__ == "__main__":
    main()
