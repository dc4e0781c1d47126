#!/usr/bin/env python3
"""pktgen in Mininet hosts, driven by pgstate from outside them.

Three hosts on one Linux bridge (no controller, no Open vSwitch): h1 and h2 send with the
kernel's pktgen to h3, which receives both streams. The state this script writes names each
host by its shell's network namespace (`netns: /proc/PID/ns/net`), so one `pgstate run`
configures, starts and counts in every host at once, and h3's receiver reports what
arrived from each sender.

    sudo python3 pgstate_lan.py [--count N] [--pgstate PATH] [--report FILE]

It also shows what the notes that started pgstate claimed about Mininet: a shell that writes
`start` to a host's `/proc/net/pktgen/pgctrl` waits until that host's run is over (the
kernel's write blocks its writer), so a script that starts host after host runs them one
after the other; the kernel itself does not make one host wait for another.

Exits 0 when everything below held, 1 (saying what did not) otherwise. `--report` writes the
figures as JSON.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from mininet.log import setLogLevel
from mininet.net import Mininet
from mininet.nodelib import LinuxBridge
from mininet.topo import Topo

SENDERS = ("h1", "h2")
RECEIVER = "h3"


class Lan(Topo):
    """h1, h2 and h3 on the bridge s1."""

    def build(self):
        s1 = self.addSwitch("s1")
        for i, name in enumerate(SENDERS + (RECEIVER,), start=1):
            self.addLink(self.addHost(name, ip=f"10.0.0.{i}/24"), s1)


def write_state(net, path, count, delay_ns):
    """The state of this LAN: a namespace per host, named by its shell's pid."""
    rx = net.get(RECEIVER)
    lines = ["# Written by pgstate_lan.py for this Mininet run.", "namespaces:"]
    for name in SENDERS:
        h = net.get(name)
        lines += [
            f"  {name}:",
            f"    netns: /proc/{h.pid}/ns/net",
            "    devices:",
            f"      {name}-eth0:",
            "        thread: 0",
            f"        count: {count}",
            "        pkt_size: 60",
            f"        delay: {delay_ns}",
            f"        src_min: {h.IP()}",
            f"        dst: {rx.IP()}",
            f'        dst_mac: "{rx.MAC()}"',
        ]
    streams = ", ".join(f"{name}/{name}-eth0" for name in SENDERS)
    lines += [
        f"  {RECEIVER}:",
        f"    netns: /proc/{rx.pid}/ns/net",
        "    devices: {}",
        "    receivers:",
        f"      {RECEIVER}-eth0:",
        f"        streams: [{streams}]",
        "        max_loss_percent: 1",
    ]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def pgstate(binary, *args, check=True):
    """Runs pgstate; its stdout."""
    done = subprocess.run([binary, *args], capture_output=True, text=True)
    if check and done.returncode != 0:
        raise RuntimeError(
            f"pgstate {' '.join(args)} exited {done.returncode}:\n{done.stderr}{done.stdout}"
        )
    return done


def device_count(host):
    """The `count` pktgen shows for the host's device, read inside the host."""
    text = host.cmd(f"cat /proc/net/pktgen/{host.name}-eth0")
    for line in text.splitlines():
        if line.startswith("Params: count "):
            return int(line.split()[2])
    return None


def starts_from_shells(net, one_after_another):
    """Starts every sender's pktgen from its own shell, as Mininet scripts do; seconds from
    the first start until each host's start returned."""
    t0 = time.monotonic()
    returned = {}
    senders = [net.get(name) for name in SENDERS]
    if one_after_another:
        for h in senders:
            h.cmd("echo start > /proc/net/pktgen/pgctrl")
            returned[h.name] = time.monotonic() - t0
    else:
        for h in senders:
            h.sendCmd("echo start > /proc/net/pktgen/pgctrl")
        for h in senders:
            h.waitOutput()
            returned[h.name] = time.monotonic() - t0
    return returned


def watch_repairs(binary, state, host, desired, timeout=60):
    """Starts `pgstate watch`, changes the host's count by hand, and waits for the watch to
    put it back; seconds it took, or None."""
    watch = subprocess.Popen(
        [binary, "watch", "--poll-interval", "1s", state],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(3)  # its first reconcile: the box is already as the state says
        host.cmd(f"echo 'count 7' > /proc/net/pktgen/{host.name}-eth0")
        changed = time.monotonic()
        while time.monotonic() - changed < timeout:
            if device_count(host) == desired:
                return time.monotonic() - changed
            time.sleep(0.2)
        return None
    finally:
        watch.terminate()
        watch.wait(timeout=30)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=20000, help="packets per sender")
    ap.add_argument("--delay-ns", type=int, default=100000, help="pktgen delay per packet")
    ap.add_argument("--pgstate", default=shutil.which("pgstate"), help="the pgstate binary")
    ap.add_argument("--report", help="write the figures here as JSON")
    args = ap.parse_args()
    if not args.pgstate:
        sys.exit("no pgstate on PATH (pip install pgstate, or --pgstate PATH)")
    setLogLevel("warning")

    problems, report = [], {}
    net = Mininet(topo=Lan(), switch=LinuxBridge, controller=None, autoSetMacs=True)
    net.start()
    work = tempfile.mkdtemp(prefix="pgstate-mininet-")
    state = os.path.join(work, "lan.yaml")
    try:
        write_state(net, state, args.count, args.delay_ns)
        pgstate(args.pgstate, "validate", state)

        # 1. apply: every sender's device, configured inside its host.
        pgstate(args.pgstate, "apply", state)
        seen = {name: device_count(net.get(name)) for name in SENDERS}
        report["configured_counts"] = seen
        if any(c != args.count for c in seen.values()):
            problems.append(f"after apply the hosts show counts {seen}, not {args.count}")
        if pgstate(args.pgstate, "plan", "--detailed-exitcode", state, check=False).returncode:
            problems.append("plan after apply is not empty")

        # 2. The seed notes' claim, from the hosts' own shells.
        one_after_another = starts_from_shells(net, one_after_another=True)
        together = starts_from_shells(net, one_after_another=False)
        report["shell_starts_one_after_another_s"] = one_after_another
        report["shell_starts_together_s"] = together
        first, second = (one_after_another[n] for n in SENDERS)
        if not second > 1.6 * first:
            problems.append(f"one shell after another: {one_after_another}, not in sequence")
        if not max(together.values()) < 0.75 * second:
            problems.append(f"shells together {together} took as long as in sequence")

        # 3. pgstate run: every host at once, and what arrived at h3.
        run = pgstate(args.pgstate, "run", "--no-progress", "--json", state, check=False)
        result = json.loads(run.stdout)
        report["run_exit"] = run.returncode
        report["overlap"] = result["overlap"]
        report["sent"] = {d["namespace"]: d["packets"] for d in result["devices"]}
        streams = [s for r in result["receivers"] for s in r["streams"]]
        report["received"] = {",".join(s["streams"]): s["received"] for s in streams}
        report["lost"] = {",".join(s["streams"]): s["lost"] for s in streams}
        if run.returncode != 0:
            problems.append(f"pgstate run exited {run.returncode}:\n{run.stderr}")
        if not (result["overlap"] or {}).get("concurrent"):
            problems.append(f"the senders did not run at the same time: {result['overlap']}")
        if len(streams) != len(SENDERS) or any(s["received"] == 0 for s in streams):
            problems.append(f"h3 did not receive each sender's stream: {report['received']}")

        # 4. watch: a count changed by hand inside h1 is put back.
        pgstate(args.pgstate, "apply", state)
        took = watch_repairs(args.pgstate, state, net.get(SENDERS[0]), args.count)
        report["watch_repair_s"] = took
        if took is None:
            problems.append("watch did not repair the count changed inside h1")
        pgstate(args.pgstate, "destroy", "--yes", state)
    except (RuntimeError, KeyError, ValueError) as e:
        problems.append(str(e))
    finally:
        net.stop()
        shutil.rmtree(work, ignore_errors=True)

    report["problems"] = problems
    print(json.dumps(report, indent=2))
    if args.report:
        with open(args.report, "w") as f:
            json.dump(report, f, indent=2)
            f.write("\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
