#!/usr/bin/env python3
"""The measuring and reporting half of scripts/bench (read that script's header first).

    scripts/bench.py              measure and write the report; run by scripts/bench, which
                                  passes everything through BENCH_* environment variables
    scripts/bench.py --check FILE check that FILE (BENCHMARKS.md) has exactly the structure
                                  this script writes: its fixed text, sections and lines, the
                                  rows in order with their units and targets; the figures
                                  themselves are not checked (no broker, no measuring)

The report is built once, by `report()`, from values; `--check` renders it with a
placeholder for every value and matches the file against the result, so a hand edit of
BENCHMARKS.md that the generator would not write fails the check (scripts/test runs it).
"""

import json
import os
import platform
import random
import re
import shlex
import statistics
import subprocess
import sys
import time

# The rows of the report, in report order: number, unit, target (issue 13's: a ratio ours/C,
# or "ours <= N" for an absolute figure), whether it has a details line. What each row
# measures (and so its `what` text) is in the rows_* functions below.
ROWS = [
    ("1", "ms", "<= 0.95 (stretch <= 0.85)", True),
    ("2", "ms", "<= 0.9", True),
    ("3", "msg/s", ">= 0.85", True),
    ("3N", "msg/s", ">= 1.1", True),
    ("4", "msg/s", ">= 1.0", True),
    ("4A", "msg/s", ">= 1.0", True),
    ("5", "ms", "<= 1.0", True),
    ("6", "x body", "ours <= 1.1", False),
    ("7", "MiB", "<= 1.0", False),
    ("8", "switches", "ours <= 12", False),
    ("9", "threads", "ours <= 1", False),
]
HZ = os.sysconf("SC_CLK_TCK")


def log(msg):
    print("==> " + msg, file=sys.stderr, flush=True)


# ----------------------------------------------------------------- the run ---


class Run:
    """One benchmark run: the node, the two sets of tools, the rows measured so far."""

    def __init__(self):
        self.work = os.environ["BENCH_WORK"]
        self.dirs = {"ours": os.environ["BENCH_OURS_DIR"], "C": os.environ["BENCH_C_DIR"]}
        self.quick = os.environ.get("BENCH_QUICK") == "1"
        self.node = os.path.join(self.work, "node")
        with open(os.path.join(self.node, "env")) as f:
            env_file = dict(re.findall(r"export (\w+)=(\S+)", f.read()))
        self.url = env_file["AMQP_TEST_URL"]
        with open(os.path.join(self.node, "run", "rabbitmq.pid")) as f:
            self.beam_pid = int(f.read().strip())
        self.raw = []  # every measurement, for BENCH_KEEP
        self.rows = {}  # number -> row dict (see add_row)

    def tool(self, who, name):
        return os.path.join(self.dirs[who], name)

    def c_run(self, *args, stdin=None):
        """Runs an original tool for set-up (not measured)."""
        with open(stdin or os.devnull, "rb") as f:
            subprocess.run([self.tool("C", args[0]), "--url", self.url, *args[1:]], stdin=f,
                           stdout=subprocess.DEVNULL, check=True)

    def declare(self, queue):
        """Deletes and declares `queue`: empty, whatever the previous round left."""
        self.c_run("amqp-delete-queue", "-q", queue)
        self.c_run("amqp-declare-queue", "-q", queue)

    def broker_cpu(self):
        """The broker's user+sys CPU so far, in seconds."""
        fields = proc_stat(self.beam_pid)
        return (int(fields[11]) + int(fields[12])) / HZ

    def measure(self, argv, stdin=None, stdout=None):
        """Runs argv; returns wall seconds, the process's own user+sys CPU (not its
        children's), its children's CPU, its peak RSS (KiB) and the broker's CPU meanwhile.

        The process is started by GNU time, not forked from this Python: a process's peak RSS
        includes what it had before exec, and a fork of this interpreter has megabytes of it."""
        tfile = os.path.join(self.work, "time.out")
        with open(stdin or os.devnull, "rb") as fin, open(stdout or os.devnull, "wb") as fout:
            b0 = self.broker_cpu()
            t0 = time.perf_counter()
            p = subprocess.Popen(["/usr/bin/time", "-f", "%U %S %M", "-o", tfile, *argv],
                                 stdin=fin, stdout=fout)
            last = own_stat_while_running(p)
            wall = time.perf_counter() - t0
            b1 = self.broker_cpu()
        if p.returncode != 0:
            raise SystemExit(f"scripts/bench: {shlex.join(argv)} failed with status "
                             f"{p.returncode}")
        with open(tfile) as f:
            user, system, maxrss = f.read().split()[-3:]
        total = float(user) + float(system)
        own = (int(last[11]) + int(last[12])) / HZ if last else total
        children = (int(last[13]) + int(last[14])) / HZ if last else 0.0
        return {"wall": wall, "cpu": max(own, 0.0), "total_cpu": total,
                "children_cpu": max(total - own, children), "maxrss": int(maxrss),
                "broker_cpu": b1 - b0}

    def ceiling(self, lines, mode):
        """Runs scripts/ceiling.py (the broker's ceiling for `-l`, `mode` "confirm" or
        "no-confirm") on `lines`; returns its wall and CPU seconds as it measures them (from
        the connect on, its serialising left out) and the broker's CPU meanwhile."""
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ceiling.py")
        port = re.search(r":(\d+)/?$", self.url).group(1)
        b0 = self.broker_cpu()
        out = subprocess.run([sys.executable, script, port, lines, mode], check=True,
                             capture_output=True, text=True).stdout
        b1 = self.broker_cpu()
        m = json.loads(out)
        return {"wall": m["wall"], "total_cpu": m["cpu"], "broker_cpu": b1 - b0}

    def hyperfine(self, argv, runs, prepare=None):
        """Wall times per call (s) and mean user+sys CPU (s) of `runs` calls, by hyperfine -N."""
        out = os.path.join(self.work, "hyperfine.json")
        cmd = ["hyperfine", "-N", "--style", "none", "-w", "2", "-r", str(runs),
               "--export-json", out]
        if prepare:
            cmd += ["--prepare", prepare]
        cmd.append(shlex.join(argv))
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(out) as f:
            result = json.load(f)["results"][0]
        return result["times"], result["user"] + result["system"]

    def hyperfine_with_broker(self, argv, runs, prepare=None):
        """As hyperfine(), plus the broker's CPU per call (s), warm-up calls included."""
        b0 = self.broker_cpu()
        times, cpu = self.hyperfine(argv, runs, prepare)
        return times, cpu, (self.broker_cpu() - b0) / (runs + 2)

    def add_row(self, num, what, ours_vals, c_vals, extra=""):
        """Records row `num` of ROWS from both tools' samples; `extra` is its details line."""
        unit, target = next((r[1], r[2]) for r in ROWS if r[0] == num)
        o, c = med(ours_vals), med(c_vals)
        ratio = o / c if c else float("nan")
        row = {"num": num, "what": what, "unit": unit, "ours_med": o, "C_med": c,
               "ours_min": min(ours_vals), "ours_max": max(ours_vals),
               "C_min": min(c_vals), "C_max": max(c_vals), "ratio": ratio,
               "target": target, "extra": extra}
        row["verdict"] = verdict(row)
        self.rows[num] = row
        self.raw.append({"row": num, "what": what, "ours": ours_vals, "C": c_vals})
        log(f"row {num}: {what}: ours {o:.4g} {unit}, C {c:.4g} {unit}, ours/C {ratio:.2f}")


def proc_stat(pid):
    """The fields of /proc/PID/stat after the command name, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None


def own_stat_while_running(p):
    """Waits for `p` (GNU time) to end; returns the last /proc stat fields of its child (the
    measured process), read while it ran: GNU time's figures add those of the children the
    measured process waited for (the commands amqp-consume runs)."""
    child, last = None, None
    while p.poll() is None:
        if child is None:
            try:
                with open(f"/proc/{p.pid}/task/{p.pid}/children") as f:
                    kids = f.read().split()
                child = int(kids[0]) if kids else None
            except OSError:
                pass
        if child is not None:
            fields = proc_stat(child)
            if fields:
                last = fields
        time.sleep(0.002)
    return last


def alternate(rounds, fn, whos=("ours", "C")):
    """Calls fn(who) for each of `whos` (both tools by default), `rounds` times, the order
    rotated every round."""
    results = {who: [] for who in whos}
    for r in range(rounds):
        for who in whos[r % len(whos):] + whos[:r % len(whos)]:
            results[who].append(fn(who))
    return results


def med(xs):
    return statistics.median(xs)


def verdict(r):
    """"met" or "**missed**", with the stretch target's verdict when the row has one."""
    absolute = re.fullmatch(r"ours <= ([0-9.]+)", r["target"])
    if absolute:
        return "met" if r["ours_med"] <= float(absolute.group(1)) else "**missed**"
    m = re.search(r"([<>]=) ([0-9.]+)", r["target"])
    s = re.search(r"stretch ([<>]=) ([0-9.]+)", r["target"])

    def holds(op, v):
        return r["ratio"] <= float(v) if op == "<=" else r["ratio"] >= float(v)

    if not holds(m.group(1), m.group(2)):
        return "**missed**"
    if s and holds(s.group(1), s.group(2)):
        return "met, stretch met"
    return "met" + (", stretch missed" if s else "")


# -------------------------------------------------------------------- rows ---


def rows_small_publish(run, samples):
    """Rows 1 (wall time of one small publish) and 7 (its peak RSS)."""
    calls, per_round = samples["calls"], samples["per_round"]
    run.declare("bench.small")
    log(f"row 1: one small publish, {calls} calls each")
    small = ["--url", run.url, "-r", "bench.small", "-b", "hello"]
    # Alternating too, for reference: ours without confirms (as the original), two fewer
    # round trips (confirm.select, and the wait for the broker's ack).
    nc_times = []

    def small_publish(who):
        if who == "ours":
            nc_times.extend(run.hyperfine([run.tool(who, "amqp-publish"), *small,
                                           "--no-confirm"], per_round)[0])
        return run.hyperfine_with_broker([run.tool(who, "amqp-publish"), *small], per_round)

    res = alternate(calls // per_round, small_publish)
    times = {w: [t * 1000 for ts, _, _ in res[w] for t in ts] for w in res}
    cpu = {w: med([c * 1000 for _, c, _ in res[w]]) for w in res}
    bcpu = {w: med([b * 1000 for _, _, b in res[w]]) for w in res}
    run.add_row("1", "one small publish (`-r q -b hello`), wall time per call",
                times["ours"], times["C"],
                f"CPU (user+sys) per call: ours {cpu['ours']:.2f} ms, C {cpu['C']:.2f} ms; "
                f"the broker's: {bcpu['ours']:.2f} ms with ours, {bcpu['C']:.2f} ms with C; "
                f"ours with `--no-confirm` (equal guarantees: as the original, no "
                f"confirm.select and no wait for the broker's ack): median "
                f"{med(nc_times) * 1000:.2f} ms, ours/C {med(nc_times) * 1000 / med(times['C']):.2f}")

    log("row 7: peak RSS of one small publish")
    res = alternate(samples["rss_runs"],
                    lambda who: run.measure([run.tool(who, "amqp-publish"), *small]))
    rss = {w: [m["maxrss"] / 1024 for m in res[w]] for w in res}
    run.add_row("7", "peak RSS of one small publish", rss["ours"], rss["C"])


def row_get(run, samples):
    """Row 2: wall time of amqp-get of one message."""
    calls, per_round = samples["calls"], samples["per_round"]
    run.declare("bench.get")
    log(f"row 2: amqp-get of one message, {calls} calls each")
    prepare = shlex.join([run.tool("C", "amqp-publish"), "--url", run.url, "-r", "bench.get",
                          "-b", "hello"])
    res = alternate(calls // per_round, lambda who: run.hyperfine_with_broker(
        [run.tool(who, "amqp-get"), "--url", run.url, "-q", "bench.get"], per_round, prepare))
    times = {w: [t * 1000 for ts, _, _ in res[w] for t in ts] for w in res}
    cpu = {w: med([c * 1000 for _, c, _ in res[w]]) for w in res}
    bcpu = {w: med([b * 1000 for _, _, b in res[w]]) for w in res}
    run.add_row("2", "`amqp-get` of one message, wall time per call", times["ours"],
                times["C"],
                f"CPU (user+sys) per call: ours {cpu['ours']:.2f} ms, C {cpu['C']:.2f} ms; "
                f"the broker's (the set-up publish included): {bcpu['ours']:.2f} ms with ours, "
                f"{bcpu['C']:.2f} ms with C")


def write_lines(path, nlines):
    """Writes `nlines` lines of 8 to 100 bytes (the newline included), the same every run."""
    rng = random.Random(6)
    with open(path, "wb") as f:
        for i in range(nlines):
            n = rng.randint(8, 100)
            f.write((b"%08d" % i + b"x" * 100)[: n - 1] + b"\n")


def row_lines(run, samples, lines):
    """Row 3: messages/s of `-l` with many short lines."""
    nlines, rounds = samples["nlines"], samples["rounds3"]
    url = run.url
    run.declare("bench.lines")

    def publish_lines(ours_flags):
        def one(who):
            if who == "ceiling":
                m = run.ceiling(lines, "no-confirm" if ours_flags else "confirm")
            else:
                flags = ours_flags if who == "ours" else []
                m = run.measure([run.tool(who, "amqp-publish"), "--url", url, "-r",
                                 "bench.lines", "-l", *flags], stdin=lines)
            run.declare("bench.lines")
            return m
        return one

    for num, flags, what in (
            ("3", [], "ours with confirms"),
            ("3N", ["--no-confirm"], "equal guarantees: ours with `--no-confirm`")):
        log(f"row {num}: -l with {nlines} lines {' '.join(flags)}, {rounds} runs each, "
            "and scripts/ceiling.py as many")
        res = alternate(rounds, publish_lines(flags), ("ours", "C", "ceiling"))
        rate = {w: [nlines / m["wall"] for m in res[w]] for w in res}
        cpu = {w: med([m["total_cpu"] / nlines * 1e6 for m in res[w]]) for w in res}
        bcpu = {w: med([m["broker_cpu"] / nlines * 1e6 for m in res[w]]) for w in res}
        mode = "without confirms" if flags else "with confirms"
        run.add_row(
            num, f"`-l` with {nlines} lines of 8 to 100 bytes, messages/s ({what})",
            rate["ours"], rate["C"],
            f"CPU (user+sys) per message: ours {cpu['ours']:.2f} µs, C {cpu['C']:.2f} µs; "
            f"the broker's: {bcpu['ours']:.1f} µs with ours, {bcpu['C']:.1f} µs with C. "
            f"The broker's ceiling {mode} (`scripts/ceiling.py`: the same frames, all "
            f"serialised before the clock starts and written at once): "
            f"{fmt(med(rate['ceiling']), 'msg/s')} msg/s, "
            f"{med(rate['ceiling']) / med(rate['C']):.2f} of C's rate "
            f"(its CPU {cpu['ceiling']:.2f} µs per message, the broker's "
            f"{bcpu['ceiling']:.1f} µs)")


def rows_consume(run, samples, lines):
    """Rows 4 and 4A: messages/s of amqp-consume running `cat`, with and without -A."""
    count, rounds = samples["count"], samples["rounds4"]
    run.declare("bench.consume")
    fill = os.path.join(run.work, "fill.txt")
    with open(lines, "rb") as src, open(fill, "wb") as dst:
        for _ in range(count):
            dst.write(src.readline())

    def consume(flags):
        def one(who):
            run.c_run("amqp-publish", "-r", "bench.consume", "-l", stdin=fill)
            return run.measure([run.tool(who, "amqp-consume"), "--url", run.url, "-q",
                                "bench.consume", "-c", str(count), *flags, "cat"])
        return one

    for num, flags in (("4", []), ("4A", ["-A"])):
        label = " ".join(["-c", str(count), *flags, "cat"])
        log(f"row {num}: amqp-consume {label} >/dev/null, {rounds} runs each")
        res = alternate(rounds, consume(flags))
        rate = {w: [count / m["wall"] for m in res[w]] for w in res}
        cpu = {w: med([m["cpu"] / count * 1e6 for m in res[w]]) for w in res}
        ccpu = {w: med([m["children_cpu"] / count * 1e6 for m in res[w]]) for w in res}
        bcpu = {w: med([m["broker_cpu"] / count * 1e6 for m in res[w]]) for w in res}
        run.add_row(num, f"`amqp-consume {label} >/dev/null`, messages/s", rate["ours"],
                    rate["C"],
                    f"CPU (user+sys) per message, the consumer alone: ours {cpu['ours']:.0f} "
                    f"µs, C {cpu['C']:.0f} µs (each `cat`: "
                    f"~{med([ccpu['ours'], ccpu['C']]):.0f} µs); the broker's: "
                    f"{bcpu['ours']:.0f} µs with ours, {bcpu['C']:.0f} µs with C")


def rows_big_body(run, samples):
    """Rows 5 (wall time of a large body from stdin) and 6 (peak RSS relative to it)."""
    body_mib, rounds = samples["body_mib"], samples["rounds5"]
    body = os.path.join(run.work, "body.bin")
    with open(body, "wb") as f:
        block = os.urandom(1 << 20)
        for _ in range(body_mib):
            f.write(block)
    run.declare("bench.big")

    def publish_big(who):
        m = run.measure([run.tool(who, "amqp-publish"), "--url", run.url, "-r", "bench.big"],
                        stdin=body)
        run.declare("bench.big")
        return m

    log(f"row 5/6: a {body_mib} MiB body from stdin, {rounds} runs each")
    res = alternate(rounds, publish_big)
    walls = {w: [m["wall"] * 1000 for m in res[w]] for w in res}
    cpu = {w: med([m["total_cpu"] * 1000 for m in res[w]]) for w in res}
    run.add_row("5", f"a {body_mib} MiB body from stdin, wall time", walls["ours"],
                walls["C"], f"CPU (user+sys): ours {cpu['ours']:.0f} ms, C {cpu['C']:.0f} ms")
    rel = {w: [m["maxrss"] / 1024 / body_mib for m in res[w]] for w in res}
    run.add_row("6", f"the same: peak RSS relative to the body size ({body_mib} MiB)",
                rel["ours"], rel["C"])


def row_context_switches(run, samples):
    """Row 8: context switches of one small publish (`perf stat -e context-switches`)."""
    run.declare("bench.small")
    log(f"row 8: context switches per publish, {samples['rss_runs']} runs each")

    def switches(who):
        out = subprocess.run(
            ["perf", "stat", "-x", ",", "-e", "context-switches", "--",
             run.tool(who, "amqp-publish"), "--url", run.url, "-r", "bench.small", "-b", "hello"],
            capture_output=True, text=True, check=True).stderr
        return int(next(line for line in out.splitlines()
                        if "context-switches" in line).split(",")[0])

    res = alternate(samples["rss_runs"], switches)
    run.add_row("8", "context switches of one small publish (`perf stat`)", res["ours"],
                res["C"])


def row_threads(run, samples):
    """Row 9: threads of a running amqp-consume (waiting for messages)."""
    run.declare("bench.threads")
    log("row 9: threads of a running amqp-consume")

    def threads(who):
        p = subprocess.Popen([run.tool(who, "amqp-consume"), "--url", run.url, "-q",
                              "bench.threads", "cat"], stdout=subprocess.DEVNULL)
        time.sleep(1.0)
        with open(f"/proc/{p.pid}/status") as f:
            n = int(next(line for line in f if line.startswith("Threads:")).split()[1])
        p.terminate()
        p.wait()
        return n

    res = alternate(2, threads)
    run.add_row("9", "threads of a running `amqp-consume` (waiting for messages)", res["ours"],
                res["C"])


def samples_for(quick):
    """How many calls, runs and bytes each row takes (BENCH_QUICK=1: a smoke test)."""
    return {
        "calls": 20 if quick else 60,  # rows 1 and 2, per tool
        "per_round": 10,
        "rss_runs": 10 if quick else 20,  # row 7
        "nlines": 20000 if quick else 200000,  # row 3
        "rounds3": 2 if quick else 3,
        "count": 500 if quick else 2000,  # rows 4 and 4A
        "rounds4": 2 if quick else 3,
        "body_mib": 16 if quick else 64,  # rows 5 and 6
        "rounds5": 3 if quick else 5,
    }


# ------------------------------------------------------------------ report ---


def fmt(v, unit):
    if unit == "ms":
        return f"{v:.2f}"
    if unit == "msg/s":
        return f"{v:,.0f}"
    if unit in ("MiB", "x body"):
        return f"{v:.2f}"
    if unit in ("switches", "threads"):
        return f"{v:g}"
    return f"{v:.3g}"


def sh(cmd):
    """The stripped stdout of a shell command, "?" if it could not run."""
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True,
                              timeout=60).stdout.strip()
    except Exception:
        return "?"


# The tools scripts/bench measures (and scripts/symbol-order profiles).
TOOLS = ("amqp-publish", "amqp-get", "amqp-consume", "amqp-declare-queue", "amqp-delete-queue")


def symbol_order_found(root, ours_dir):
    """How many of the names in link/symbol-order.txt (the functions build.rs has the linker
    place together) ours' five binaries have: fewer once a toolchain or dependency update
    changed their hashes (scripts/symbol-order writes the file again)."""
    try:
        with open(os.path.join(root, "link", "symbol-order.txt"), encoding="utf-8") as f:
            wanted = {line.strip() for line in f if line.strip()}
    except OSError:
        return "no link/symbol-order.txt"
    binaries = " ".join(shlex.quote(os.path.join(ours_dir, tool)) for tool in TOOLS)
    symbols = set(sh(f"nm {binaries} 2>/dev/null | awk 'NF == 3 {{print $3}}'").split())
    return f"{len(wanted & symbols)} of the {len(wanted)} functions it names are in the binaries"


def machine_facts(run, root):
    """What the report says about the machine, the versions and the revision measured."""
    node = run.node
    cpu_model = (sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-").strip()
                 or platform.processor())
    dirty = sh(f"git -C {shlex.quote(root)} status --porcelain --untracked-files=no")
    erlang = sh(f"{os.path.join(node, 'diagnostics')} -q erlang_version 2>/dev/null | head -1")
    return {
        "cpus": os.cpu_count(),
        "nproc": sh("nproc"),
        "cpu_model": cpu_model,
        "mem": sh("free -h | awk '/^Mem:/{print $2}'"),
        "kernel": f"{platform.system()} {platform.release()}",
        "rabbit": sh(f"{os.path.join(node, 'ctl')} -q version"),
        "erlang": f", Erlang {erlang}" if erlang else "",
        "ours_label": os.environ["BENCH_OURS_LABEL"],
        "order": symbol_order_found(root, os.environ["BENCH_OURS_DIR"]),
        "rev": sh(f"git -C {shlex.quote(root)} rev-parse --short HEAD"),
        "dirty": " with uncommitted changes" if dirty else "",
        "c_from": os.environ["BENCH_C_FROM"],
        "c_version": sh("dpkg-query -W -f '${Version}' amqp-tools 2>/dev/null") or "none",
        "load": os.getloadavg(),
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
    }


def report(m, rows, samples):
    """The Markdown report, as a list of lines: `m` from machine_facts(), `rows` in ROWS
    order (dicts as add_row makes them), `samples` from samples_for()."""
    out = []
    w = out.append
    w("# Benchmarks")
    w("")
    w("Ours (this repository) against the original C tools (rabbitmq-c's `amqp-tools` from "
      "Debian), on the same private RabbitMQ node, in one run of `scripts/bench`, the two "
      "alternating round by round. Generated by `scripts/bench`; do not edit by hand.")
    w("")
    w("## Machine")
    w("")
    w(f"- CPUs: {m['cpus']} (`nproc`: {m['nproc']}), {m['cpu_model']}")
    w(f"- Memory: {m['mem']}")
    w(f"- Kernel: {m['kernel']}")
    w(f"- RabbitMQ {m['rabbit']}{m['erlang']}, a private node on 127.0.0.1 "
      "(`scripts/rabbitmq`), the client on the same machine")
    w(f"- Ours: {m['ours_label']}, revision {m['rev']}{m['dirty']}")
    w(f"- Ours' code layout (`link/symbol-order.txt`, see build.rs): {m['order']}")
    w(f"- C: {m['c_from']} (installed amqp-tools: {m['c_version']}), run from a copy")
    load = m["load"]
    w(f"- Load average at the end of the run: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
      "(other work on the machine shows up as noise in every row)")
    w(f"- Date: {m['date']}")
    w("")
    w("## Results")
    w("")
    w("Median and range (min to max) of each tool; ratio = ours / C of the medians. Lower is "
      "better for times and memory, higher for messages/s.")
    w("")
    w("| # | what | unit | ours median | ours range | C median | C range | ours / C | target "
      "| |")
    w("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        u = r["unit"]
        w(f"| {r['num']} | {r['what']} | {u} | {fmt(r['ours_med'], u)} | "
          f"{fmt(r['ours_min'], u)} to {fmt(r['ours_max'], u)} | {fmt(r['C_med'], u)} | "
          f"{fmt(r['C_min'], u)} to {fmt(r['C_max'], u)} | {r['ratio']:.2f} | "
          f"{r['target']} | {r['verdict']} |")
    w("")
    w("## CPU and details")
    w("")
    for r in rows:
        if r["extra"]:
            w(f"- Row {r['num']}: {r['extra']}.")
    s = samples
    w(f"- Samples: rows 1 and 2: {s['calls']} calls per tool (hyperfine -N, in rounds of "
      f"{s['per_round']}); rows 3 and 3N: {s['rounds3']} runs; rows 4 and 4A: {s['rounds4']} "
      f"runs; rows 5 and 6: {s['rounds5']} runs; rows 7 and 8: {s['rss_runs']} runs; row 9: 2 "
      "runs.")
    w("- Targets are issue 13's: a ratio ours/C, or an absolute figure for ours (`ours <= N`); "
      "row 3's also asks for at most 1.5 µs of client CPU per message, row 4's at most 90 µs "
      "for the consumer.")
    w("- Ours publishes with publisher confirms (the default): it waits for the broker to "
      "confirm every message, which costs the broker more work per message than the original, "
      "which does not wait. A call of ours makes one round trip to the broker fewer than the "
      "original's: channel.open goes with connection.open (lapin patch 8), confirm.select with "
      "the first basic.publish, channel.close with connection.close.")
    w("- Row 4: both consumers start one `cat` per message; that, not the AMQP side, bounds "
      "the rate. Rows 3 and 3N are bound by the broker's ingest, on the same cores as the "
      "client: their details give the broker's ceiling, the rate of a client that spends "
      "nothing per message (`scripts/ceiling.py`), beside C's.")
    w("- Peak RSS is the kernel's high-water mark (`ru_maxrss`): anonymous memory plus the "
      "pages of the binary and libraries mapped.")
    return out


# ------------------------------------------------------------------- check ---

# In --check, every value the report prints is MARK (whatever its format spec), and MARK
# becomes "any text on the line" in the pattern the file is matched against.
MARK = "\x00"


class AnyValue:
    """Stands for any value: formats as MARK, indexes to itself."""

    def __format__(self, spec):
        return MARK

    def __getitem__(self, i):
        return self


def check(path):
    """0 if the file at `path` has the structure report() writes; 1, naming the first line
    that differs, otherwise."""
    v = AnyValue()
    m = {k: v for k in ("cpus", "nproc", "cpu_model", "mem", "kernel", "rabbit", "erlang",
                        "ours_label", "order", "c_from", "c_version", "load", "date")}
    # The revision: a commit id, and nothing after it but the generator's own note.
    m["rev"] = "\x01"
    m["dirty"] = "\x02"
    rows = [{"num": num, "what": v, "unit": unit, "ours_med": v, "ours_min": v,
             "ours_max": v, "C_med": v, "C_min": v, "C_max": v, "ratio": v,
             "target": target, "verdict": v, "extra": v if extra else ""}
            for num, unit, target, extra in ROWS]
    expected = report(m, rows, {k: v for k in samples_for(False)})
    with open(path, encoding="utf-8") as f:
        actual = f.read().split("\n")
    if actual[-1] == "":
        actual.pop()  # the final newline
    for i, want in enumerate(expected):
        got = actual[i] if i < len(actual) else "(end of file)"
        pattern = ".*".join(re.escape(part) for part in want.split(MARK))
        pattern = pattern.replace("\x01", "[0-9a-f]{7,40}")
        pattern = pattern.replace("\x02", "( with uncommitted changes)?")
        if not re.fullmatch(pattern, got):
            shown = want.replace(MARK, "…").replace("\x01", "REV").replace("\x02", "")
            print(f"{path}:{i + 1}: not what scripts/bench writes\n  expected: {shown}\n"
                  f"  found:    {got}", file=sys.stderr)
            return 1
    if len(actual) != len(expected):
        print(f"{path}: {len(actual)} lines, scripts/bench writes {len(expected)}",
              file=sys.stderr)
        return 1
    return 0


# -------------------------------------------------------------------- main ---


def main(argv):
    if len(argv) == 3 and argv[1] == "--check":
        return check(argv[2])
    if len(argv) != 1:
        print("usage: scripts/bench.py [--check FILE]  (to measure, run scripts/bench)",
              file=sys.stderr)
        return 2
    run = Run()
    samples = samples_for(run.quick)
    lines = os.path.join(run.work, "lines.txt")
    write_lines(lines, samples["nlines"])
    rows_small_publish(run, samples)
    row_get(run, samples)
    row_lines(run, samples, lines)
    rows_consume(run, samples, lines)
    rows_big_body(run, samples)
    row_context_switches(run, samples)
    row_threads(run, samples)
    output = os.environ["BENCH_OUTPUT"]
    text = report(machine_facts(run, os.environ["BENCH_ROOT"]),
                  [run.rows[num] for num, *_ in ROWS], samples)
    with open(output, "w", encoding="utf-8") as f:
        f.write("\n".join(text) + "\n")
    with open(os.path.join(run.work, "raw.json"), "w") as f:
        json.dump(run.raw, f)
    log(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
