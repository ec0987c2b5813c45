"""`make bench`: the key pages at two data sizes, served as in production, measured against the floor.

For each size (1/10 and full: 200 and 2,000 apprentices with 50 evidence items each by default) it
creates a throwaway PostgreSQL database, migrates it, loads ST0220, fills it with `seed_scale` and
starts a gunicorn on it (DEBUG off, Redis as cache and broker) on a loopback port. From a second
process it signs in over HTTP as real users of each role (the sign-in form, with its CSRF token)
and drives each key page with a fixed number of concurrent users, bounded in requests and in time:
each page at one size then at the other, each time right after the floor on the same server, so
that the machine's other work weighs alike on the figures compared.
The load client talks to gunicorn as the TLS proxy in front of it would (`X-Forwarded-Proto:
https`, `X-Forwarded-For`), so production's settings apply unchanged: secure cookies, HTTPS
redirect and HSTS included.

Each page is printed with its median and p95 latency, requests per second, SQL queries per request
(counted once per page through Django's test client against the same database, so no production
code carries a counter) and its p95 over the floor's p95: the floor is `portal.floor.floor`, a
signed-in view through the same middleware that answers a few bytes. At full size it also shows
`EXPLAIN ANALYZE` of the key pages' queries on evidence and reviews tables, and times a cohort
export of one employer's 100 apprentices with a Celery worker of two processes on the PDF queue.

Results go to docs/benchmarks.md between its `bench` markers, with a description of the machine and
the command. Databases, files, Redis keys and processes it started are removed at the end, however
it ends. Settings (environment variables, or the flags of the same name in lower case):

  BENCH_SMALL=200 BENCH_FULL=2000 BENCH_EVIDENCE=50   sizes
  BENCH_QUICK=1                                       tiny sizes and few requests: a smoke test
  BENCH_WORKERS=2 BENCH_CONCURRENCY=2                 gunicorn workers, concurrent users
  BENCH_REQUESTS=200 BENCH_SECONDS=30                 per page: stop at whichever comes first
  BENCH_EXPORT=full                                   size to time the export at: full, small or none
  BENCH_EXPORT_EACH=1                                 also time the same apprentices as separate exports
  BENCH_OUT=docs/benchmarks.md                        where the results go ("-" for nowhere; quick: nowhere)
  BENCH_PG=postgres://postgres@127.0.0.1:5432         PostgreSQL server (databases scale_bench_*)
  BENCH_REDIS=redis://127.0.0.1:6379/13               a Redis database of its own: it is flushed
  BENCH_KEEP=1                                        keep the databases and files, to explore them
"""

# Every command run is the project's own (manage.py, gunicorn, celery) with arguments built here.
# ruff: noqa: S603

from __future__ import annotations

import argparse
import contextlib
import datetime
import http.client
import json
import math
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PASSWORD = "scale-password-2026"  # noqa: S105 (seed_scale's public one, printed by it too)
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"

# Pages whose p95 may be at most this many times the floor's at full size (issue 10's targets).
FLOOR_TARGETS = {
    "apprentice_home": 4,
    "evidence_list": 4,
    "evidence_view": 4,
    "assessor_home": 4,
    "caseload": 4,
    "sign_off": 4,
    "heatmap": 8,
}
GROWTH_TARGET = 1.5


# --- Settings ---------------------------------------------------------------------------------


@dataclass
class Config:
    small: int
    full: int
    evidence: int
    quick: bool
    workers: int
    concurrency: int
    requests: int
    seconds: float
    warmup: int
    export: str
    export_each: bool
    out: str
    pg: str
    redis: str
    keep: bool
    run_id: str = field(default_factory=lambda: f"{os.getpid()}_{int(time.time())}")


def parse_config(argv: list[str]) -> Config:
    env = os.environ
    quick = env.get("BENCH_QUICK", "").lower() in ("1", "true", "yes")
    if "--quick" in argv:
        quick = True
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")

    def option(name: str, kind, default, quick_default=None):
        value = env.get(f"BENCH_{name.upper()}")
        fallback = quick_default if quick and quick_default is not None else default
        parser.add_argument(f"--{name.replace('_', '-')}", type=kind, default=kind(value) if value else fallback)

    option("small", int, 200, 6)
    option("full", int, 2000, 12)
    option("evidence", int, 50, 4)
    option("workers", int, 2)
    option("concurrency", int, 2)
    option("requests", int, 200, 20)
    option("seconds", float, 30.0, 5.0)
    option("warmup", int, 3, 1)
    option("export", str, "full")
    option("export_each", int, 0)
    option("out", str, str(ROOT / "docs" / "benchmarks.md"), "-")
    option("pg", str, "postgres://postgres@127.0.0.1:5432")
    option("redis", str, "redis://127.0.0.1:6379/13")
    option("keep", int, 0)
    args = parser.parse_args(argv)
    if args.export not in ("full", "small", "none"):
        parser.error("--export must be full, small or none")
    return Config(
        small=args.small,
        full=args.full,
        evidence=args.evidence,
        quick=quick,
        workers=args.workers,
        concurrency=args.concurrency,
        requests=args.requests,
        seconds=args.seconds,
        warmup=args.warmup,
        export=args.export,
        export_each=bool(args.export_each),
        out=args.out,
        pg=args.pg.rstrip("/"),
        redis=args.redis,
        keep=bool(args.keep),
    )


# --- Processes and clean-up -------------------------------------------------------------------


class Stopped(Exception):
    """SIGTERM or SIGINT: unwind so that every clean-up runs."""


def _stop(signum, frame):
    raise Stopped(signal.Signals(signum).name)


def say(text: str = "") -> None:
    print(text, flush=True)


def run(args: list[str], env: dict[str, str], *, quiet: bool = True) -> str:
    """Runs a command to completion; on failure shows its output and stops the benchmark."""
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        say(done.stdout[-4000:])
        say(done.stderr[-4000:])
        raise RuntimeError(f"{' '.join(args[:3])} … exited with {done.returncode}")
    if not quiet:
        say(done.stdout)
    return done.stdout


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """A long-running process in a session of its own, so that it and its children stop together."""
    handle = open(log, "ab")  # noqa: SIM115 (closed with the process, in stop())
    process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
    process.log = handle  # type: ignore[attr-defined]
    return process


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    process.log.close()  # type: ignore[attr-defined]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_connect(config: Config, database: str = "postgres"):
    import psycopg2

    connection = psycopg2.connect(f"{config.pg}/{database}")
    connection.autocommit = True
    return connection


def create_database(config: Config, name: str) -> None:
    with contextlib.closing(pg_connect(config)) as connection, connection.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')


def drop_database(config: Config, name: str) -> None:
    with contextlib.closing(pg_connect(config)) as connection, connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def flush_redis(config: Config) -> None:
    import redis

    redis.Redis.from_url(config.redis).flushdb()


# --- One size ---------------------------------------------------------------------------------


@dataclass
class Size:
    label: str
    slug: str  # in file names
    apprentices: int
    database: str
    media: Path
    seed_output: str = ""
    seed_seconds: float = 0.0
    seed_rate: float = 0.0
    rows: int = 0
    plan: dict = field(default_factory=dict)
    results: dict = field(default_factory=dict)
    explain: list = field(default_factory=list)
    export: dict = field(default_factory=dict)


def base_env(config: Config, size: Size, static_root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CELERY_", "DATABASE_"))}
    env.update(
        DATABASE_URL=f"{config.pg}/{size.database}",
        REDIS_URL=config.redis,
        MEDIA_ROOT=str(size.media),
        MEDIA_STORAGE="local",
        STATIC_ROOT=str(static_root),
        CELERY_QUEUE=f"bench_{config.run_id}",
        CELERY_PDF_QUEUE=f"bench_pdf_{config.run_id}",
        EMAIL_URL="dummymail://",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    return env


def production_env(env: dict[str, str], secret: str) -> dict[str, str]:
    """What gunicorn runs with: DEBUG off and every production default, on the loopback host."""
    return {**env, "DEBUG": "false", "SECRET_KEY": secret, "ALLOWED_HOSTS": "127.0.0.1"}


def seed(config: Config, size: Size, env: dict[str, str]) -> None:
    manage = [sys.executable, "manage.py"]
    create_database(config, size.database)
    seeding = {**env, "DEBUG": "true"}  # seed_scale's public password is refused with DEBUG off
    say(f"  migrating {size.database}…")
    run([*manage, "migrate", "--noinput", "-v0"], seeding)
    run([*manage, "loaddata", "st0220", "-v0"], seeding)
    say(f"  seeding {size.apprentices:,} apprentices × {config.evidence} items…")
    size.seed_output = run(
        [
            *manage,
            "seed_scale",
            f"--apprentices={size.apprentices}",
            f"--evidence-per-apprentice={config.evidence}",
        ],
        seeding,
    )
    done = re.search(r"Done in ([\d.]+) s: ([\d,]+) rows/s", size.seed_output)
    total = re.search(r"total\s+([\d,]+)", size.seed_output)
    if done and total:
        size.seed_seconds = float(done.group(1))
        size.seed_rate = float(done.group(2).replace(",", ""))
        size.rows = int(total.group(1).replace(",", ""))
    say(f"  seeded {size.rows:,} rows in {size.seed_seconds:.0f} s ({size.seed_rate:,.0f} rows/s)")
    run([*manage, "shell", "-c", "from django.db import connection; connection.cursor().execute('ANALYZE')"], env)


def wait_for_http(port: int, process: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            say(log.read_text()[-3000:])
            raise RuntimeError("gunicorn stopped while starting")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/accounts/sign-in/", headers=PROXY_HEADERS)
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"gunicorn did not answer on port {port}")


def gunicorn_for(config: Config, size: Size, env: dict[str, str], workdir: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    log = workdir / f"gunicorn-{size.slug}.log"
    process = start(
        [
            str(BIN / "gunicorn"),
            "portal.wsgi:application",
            f"--bind=127.0.0.1:{port}",
            f"--workers={config.workers}",
            "--timeout=120",
            "--log-level=warning",
        ],
        env,
        log,
    )
    wait_for_http(port, process, log)
    return process, port


def measure(config: Config, sizes: list[Size], envs: dict[str, dict[str, str]], workdir: Path) -> None:
    """Both sizes served at once, by a gunicorn each; the load client takes each page at one size, then the
    other, each right after the floor on the same server, so that what the machine's other work does to
    the timings is shared by the figures compared."""
    servers = []
    try:
        targets = []
        for size in sizes:
            prod = production_env(envs[size.slug], secrets.token_urlsafe(50))
            plan_path = workdir / f"plan-{size.slug}.json"
            run([sys.executable, __file__, "_prepare", str(plan_path), str(config.concurrency)], prod)
            size.plan = json.loads(plan_path.read_text())
            process, port = gunicorn_for(config, size, prod, workdir)
            servers.append(process)
            targets.append({"slug": size.slug, "port": port, "plan": size.plan})
            say(f"  {size.label}: gunicorn on 127.0.0.1:{port}, {config.workers} workers")
        say(f"  load: {config.concurrency} users at once, each page at both sizes in turn…")
        load = {
            "targets": targets,
            "concurrency": config.concurrency,
            "requests": config.requests,
            "seconds": config.seconds,
            "warmup": config.warmup,
        }
        (workdir / "load.json").write_text(json.dumps(load))
        run(
            [sys.executable, __file__, "_load", str(workdir / "load.json"), str(workdir / "results.json")],
            envs["small"],
        )
        results = json.loads((workdir / "results.json").read_text())
        for size in sizes:
            size.results = results[size.slug]
    finally:
        for process in servers:
            stop(process)


def explain(size: Size, env: dict[str, str], workdir: Path) -> None:
    path = workdir / f"explain-{size.slug}.json"
    plan = str(workdir / f"plan-{size.slug}.json")
    run([sys.executable, __file__, "_explain", plan, str(path)], production_env(env, secrets.token_urlsafe(50)))
    size.explain = json.loads(path.read_text())


def export(config: Config, size: Size, env: dict[str, str], workdir: Path) -> None:
    # As in production: with DEBUG on, a worker would also keep the SQL of every query it ran.
    env = production_env(env, secrets.token_urlsafe(50))
    log = workdir / f"celery-{size.slug}.log"
    hostname = f"bench-{config.run_id}@{socket.gethostname()}"
    worker = start(
        [
            str(BIN / "celery"),
            "-A",
            "portal",
            "worker",
            f"--queues={env['CELERY_PDF_QUEUE']},{env['CELERY_QUEUE']}",
            "--concurrency=2",
            f"--hostname={hostname}",
            "--loglevel=WARNING",
            "--without-gossip",
            "--without-mingle",
        ],
        env,
        log,
    )
    try:
        for _ in range(60):
            ping = subprocess.run(
                [str(BIN / "celery"), "-A", "portal", "inspect", "ping", f"--destination={hostname}", "--timeout=2"],
                cwd=ROOT,
                env=env,
                capture_output=True,
            )
            if ping.returncode == 0:
                break
            if worker.poll() is not None:
                break
            time.sleep(1)
        else:
            raise RuntimeError("the Celery worker did not answer")
        if worker.poll() is not None:
            say(log.read_text()[-3000:])
            raise RuntimeError("the Celery worker stopped while starting")
        say("  exporting (a Celery worker of two processes on the PDF queue)…")
        path = workdir / f"export-{size.slug}.json"
        args = [sys.executable, __file__, "_export", str(workdir / f"plan-{size.slug}.json"), str(path)]
        run([*args, "each" if config.export_each else "cohort"], env)
        size.export = json.loads(path.read_text())
    finally:
        stop(worker)


# --- Statistics and output --------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    """Nearest rank: the smallest value with at least `share` of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)] if ordered else float("nan")


def page_stats(size: Size) -> dict[str, dict]:
    """Each page's figures; its ratio is over the floor measured just before it, on the same server."""

    def figures(name: str, path: str, queries: int, result: dict) -> dict:
        latencies = result["latencies"]
        return {
            "name": name,
            "path": path,
            "n": len(latencies),
            "errors": result["errors"],
            "median": statistics.median(latencies) if latencies else float("nan"),
            "p95": percentile(latencies, 0.95),
            "rps": len(latencies) / result["wall"] if result["wall"] else 0.0,
            "queries": queries,
        }

    floors = size.results["floors"]
    every_floor = {
        "latencies": [ms for run_ in floors.values() for ms in run_["latencies"]],
        "errors": sum(run_["errors"] for run_ in floors.values()),
        "wall": sum(run_["wall"] for run_ in floors.values()),
    }
    stats = {}
    for page in size.plan["pages"]:
        key = page["key"]
        if key == "floor":
            stats[key] = figures(page["name"], page["paths"][0], page["queries"], every_floor)
            stats[key]["ratio"] = 1.0
            continue
        stats[key] = figures(page["name"], page["paths"][0], page["queries"], size.results["pages"][key])
        floor = percentile(floors[key]["latencies"], 0.95)
        stats[key]["ratio"] = stats[key]["p95"] / floor if floor else float("nan")
        stats[key]["floor_p95"] = floor
    return stats


def size_table(size: Size, stats: dict[str, dict]) -> list[str]:
    lines = [
        "| Page | Path (first user's) | Requests | Median ms | p95 ms | Requests/s | SQL/request | p95 / floor p95 |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for entry in stats.values():
        errors = f" ({entry['errors']} failed)" if entry["errors"] else ""
        lines.append(
            f"| {entry['name']} | `{entry['path']}` | {entry['n']}{errors} | {entry['median']:.1f} | "
            f"{entry['p95']:.1f} | {entry['rps']:.1f} | {entry['queries']} | {entry['ratio']:.2f} |"
        )
    return lines


def comparison_table(small: dict[str, dict], full: dict[str, dict]) -> list[str]:
    lines = [
        "| Page | SQL/request 1/10 → full | p95 full / p95 1/10 | p95 / floor at full | Targets |",
        "|---|---|---:|---:|---|",
    ]
    for key, entry in full.items():
        if key == "floor":
            continue
        before = small[key]
        growth = entry["p95"] / before["p95"] if before["p95"] else float("nan")
        checks = [
            ("same SQL", before["queries"] == entry["queries"]),
            (f"p95 growth ≤ {GROWTH_TARGET}", growth <= GROWTH_TARGET),
        ]
        if key in FLOOR_TARGETS:
            checks.append((f"≤ {FLOOR_TARGETS[key]} × floor", entry["ratio"] <= FLOOR_TARGETS[key]))
        verdict = ", ".join(f"{name} {'met' if ok else '**missed**'}" for name, ok in checks)
        lines.append(
            f"| {entry['name']} | {before['queries']} → {entry['queries']} | {growth:.2f} | {entry['ratio']:.2f} | "
            f"{verdict} |"
        )
    return lines


def explain_section(size: Size) -> list[str]:
    lines = [
        f"Queries on evidence and reviews tables that each page runs, with `EXPLAIN (ANALYZE, BUFFERS)` on the "
        f"{size.label} database ({size.apprentices:,} apprentices). A sequential scan is flagged when it reads a "
        "table of evidence or reviews.",
        "",
        "| Page | Query | Execution ms | Sequential scans on evidence/reviews tables |",
        "|---|---|---:|---|",
    ]
    for entry in size.explain:
        scans = ", ".join(f"`{t}`" for t in entry["seq_scans"]) or "none"
        lines.append(f"| {entry['page']} | {entry['summary']} | {entry['ms']:.2f} | {scans} |")
    lines.append("")
    shown = set()
    for entry in size.explain:
        # The plan of each page's costliest query, and of any query with a flagged scan.
        costliest = max((e for e in size.explain if e["page"] == entry["page"]), key=lambda e: e["ms"])
        if entry is not costliest and not entry["seq_scans"]:
            continue
        if id(entry) in shown:
            continue
        shown.add(id(entry))
        lines += [
            f"<details><summary>{entry['page']}: {entry['summary']} ({entry['ms']:.2f} ms)</summary>",
            "",
            "```sql",
            entry["sql"],
            "```",
            "",
            "```",
            entry["plan"],
            "```",
            "",
            "</details>",
            "",
        ]
    return lines


def machine() -> list[str]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GB"
    return [
        f"- CPU: {cpu}, `nproc` {len(os.sched_getaffinity(0))}",
        f"- Memory: {memory}",
        f"- OS: {platform.platform()}; Python {platform.python_version()}",
    ]


def service_versions(config: Config) -> list[str]:
    import django
    import redis

    with contextlib.closing(pg_connect(config)) as connection, connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg = cursor.fetchone()[0]
    redis_version = redis.Redis.from_url(config.redis).info("server")["redis_version"]
    gunicorn = subprocess.run([str(BIN / "gunicorn"), "--version"], capture_output=True, text=True).stdout.strip()
    return [f"- PostgreSQL {pg}, Redis {redis_version}, Django {django.get_version()}, {gunicorn}"]


def command_line(argv: list[str]) -> str:
    settings = " ".join(f"{k}={v}" for k, v in sorted(os.environ.items()) if k.startswith("BENCH_"))
    if os.environ.get("MAKELEVEL"):
        return f"make bench {settings}".strip()
    return " ".join(filter(None, [settings, ".venv/bin/python scripts/bench.py", *argv]))


def report(config: Config, sizes: list[Size], argv: list[str], started: float, loads: tuple) -> str:
    small, full = sizes
    small_stats, full_stats = page_stats(small), page_stats(full)
    when = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    lines = [
        f"Produced by `{command_line(argv)}` on {when}, in {(time.monotonic() - started) / 60:.0f} minutes.",
        "",
        *machine(),
        *service_versions(config),
        f"- Load average (1 min) {loads[0]:.2f} at the start and {loads[1]:.2f} at the end: other work shared "
        "the machine, so compare ratios taken in this run rather than absolute times across runs.",
        f"- Each size served by its own gunicorn ({config.workers} sync workers, DEBUG off), both running at "
        f"once; the load client took each page at one size then the other, each time right after the floor "
        f"on the same server, with {config.concurrency} concurrent users (one session each, signed in through "
        f"the form), at most {config.requests} requests or {config.seconds:.0f} s per run after "
        f"{config.warmup} warm-up requests per user. A page's p95 / floor p95 is over the floor run just "
        "before it; the floor's own row gathers all its runs.",
        "",
    ]
    for size, stats in ((small, small_stats), (full, full_stats)):
        lines += [
            f"### {size.label}: {size.apprentices:,} apprentices × {config.evidence} evidence items",
            "",
            f"`seed_scale` wrote {size.rows:,} rows in {size.seed_seconds:.0f} s ({size.seed_rate:,.0f} rows/s). "
            f"{size.plan['facts']}",
            "",
            *size_table(size, stats),
            "",
        ]
    lines += ["### From 1/10 to full size", "", *comparison_table(small_stats, full_stats), ""]
    for size in sizes:
        if size.export:
            lines += ["### Cohort export", "", *export_lines(size.export, size), ""]
    for size in sizes:
        if size.explain:
            lines += ["### Query plans", "", *explain_section(size)]
    return "\n".join(lines).rstrip() + "\n"


def export_lines(result: dict, size: Size) -> list[str]:
    lines = []
    for run_ in result["runs"]:
        state = "" if run_["state"] == "done" else f" **{run_['state']}: {run_['error']}**"
        lines.append(
            f"- {run_['what']} ({size.label} database): {run_['apprentices']} portfolios in "
            f"{run_['seconds']:.0f} s, **{run_['per_minute']:.1f} portfolios a minute**"
            f"{', ' + run_['size'] if run_.get('size') else ''}.{state}"
        )
    lines.append(
        "- The worker: one `celery worker` with two processes (`--concurrency=2`) reading the PDF and default "
        "queues. A cohort export renders each portfolio as a task of its own, so both processes share it; "
        "the zip is then assembled by one task on the default queue."
    )
    return lines


def write_out(config: Config, text: str) -> None:
    if config.out == "-":
        return
    path = Path(config.out)
    existing = path.read_text() if path.exists() else f"# Benchmarks\n\n{BEGIN}\n{END}\n"
    if BEGIN not in existing or END not in existing:
        existing = existing.rstrip() + f"\n\n{BEGIN}\n{END}\n"
    head, rest = existing.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    path.write_text(f"{head}{BEGIN}\n{text}{END}{tail}")
    say(f"Written to {path}")


def print_size(size: Size, stats: dict[str, dict]) -> None:
    say(
        f"\n{size.label}: {size.apprentices:,} apprentices ({size.rows:,} rows, seeded at {size.seed_rate:,.0f} rows/s)"
    )
    say(f"  {'page':<34} {'n':>5} {'median ms':>10} {'p95 ms':>9} {'req/s':>7} {'SQL':>5} {'p95/floor':>10}")
    for entry in stats.values():
        failed = f"  ({entry['errors']} failed)" if entry["errors"] else ""
        say(
            f"  {entry['name']:<34} {entry['n']:>5} {entry['median']:>10.1f} {entry['p95']:>9.1f} "
            f"{entry['rps']:>7.1f} {entry['queries']:>5} {entry['ratio']:>10.2f}{failed}"
        )


def main(argv: list[str]) -> int:
    config = parse_config(argv)
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    started = time.monotonic()
    load_before = os.getloadavg()[0]
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    static_root = workdir / "static"
    sizes = [
        Size("1/10", "small", config.small, f"scale_bench_{config.run_id}_small", workdir / "media-small"),
        Size("full", "full", config.full, f"scale_bench_{config.run_id}_full", workdir / "media-full"),
    ]
    created: list[str] = []
    try:
        flush_redis(config)
        envs = {size.slug: base_env(config, size, static_root) for size in sizes}
        run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], production_env(envs["small"], "x" * 50))
        for size in sizes:
            say(f"{size.label} size: {size.apprentices:,} apprentices")
            created.append(size.database)
            seed(config, size, envs[size.slug])
        flush_redis(config)
        measure(config, sizes, envs, workdir)
        for size in sizes:
            print_size(size, page_stats(size))
        explain(sizes[1], envs["full"], workdir)
        exported = {"full": sizes[1], "small": sizes[0]}.get(config.export)
        if exported:
            export(config, exported, envs[exported.slug], workdir)
            for line in export_lines(exported.export, exported)[:-1]:
                say(line.replace("**", ""))
        text = report(config, sizes, argv, started, (load_before, os.getloadavg()[0]))
        say("\nFrom 1/10 to full size:")
        say("\n".join(comparison_table(page_stats(sizes[0]), page_stats(sizes[1]))))
        write_out(config, text)
        return 0
    except Stopped as why:
        say(f"Stopped ({why}); cleaning up.")
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        with contextlib.suppress(Exception):
            flush_redis(config)
        if config.keep:
            say(f"Kept: databases {', '.join(created)}; files in {workdir}")
        else:
            for name in created:
                with contextlib.suppress(Exception):
                    drop_database(config, name)
            shutil.rmtree(workdir, ignore_errors=True)


# --- The load client (a second process) -------------------------------------------------------

PROXY_HEADERS = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "127.0.0.1"}


class Session:
    """One signed-in person over plain HTTP, as seen through the TLS proxy: cookies kept by hand,
    since the cookies are `Secure` and `__Host-` and a client library would not send them over http."""

    def __init__(self, port: int):
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            all_headers = {**PROXY_HEADERS, "Accept": "text/html", **(headers or {})}
            if self.cookies:
                all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
            connection.request(method, path, body=body, headers=all_headers)
            response = connection.getresponse()
            data = response.read()
            for header in response.headers.get_all("Set-Cookie") or []:
                name, _, rest = header.partition("=")
                value = rest.split(";", 1)[0]
                if value and "max-age=0" not in header.lower():
                    self.cookies[name.strip()] = value
                else:
                    self.cookies.pop(name.strip(), None)
            return response.status, response.headers, data
        finally:
            connection.close()

    def sign_in(self, email: str) -> None:
        status, _, page = self.request("GET", "/accounts/sign-in/")
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        if status != 200 or not token:
            raise RuntimeError(f"no sign-in form ({status})")
        body = urllib.parse.urlencode(
            {"username": email, "password": PASSWORD, "csrfmiddlewaretoken": token.group(1).decode()}
        ).encode()
        origin = f"https://127.0.0.1:{self.port}"
        status, headers, _ = self.request(
            "POST",
            "/accounts/sign-in/",
            body,
            {
                "Content-Type": "application/x-www-form-urlencoded",
                "Origin": origin,
                "Referer": f"{origin}/accounts/sign-in/",
            },
        )
        if status != 302:
            raise RuntimeError(f"signing in as {email} answered {status}")


def load_main(load_path: str, out_path: str) -> None:
    load = json.loads(Path(load_path).read_text())
    targets, users = load["targets"], load["concurrency"]
    sessions: dict[str, dict[str, list[Session]]] = {}
    for target in targets:
        sessions[target["slug"]] = {}
        for role, emails in target["plan"]["users"].items():
            signed_in = []
            for n in range(users):
                session = Session(target["port"])
                session.sign_in(emails[n % len(emails)])
                signed_in.append(session)
            sessions[target["slug"]][role] = signed_in
    results = {target["slug"]: {"pages": {}, "floors": {}} for target in targets}
    keys = [page["key"] for page in targets[0]["plan"]["pages"] if page["key"] != "floor"]
    for key in keys:
        for target in targets:
            pages = {page["key"]: page for page in target["plan"]["pages"]}
            mine, floor = sessions[target["slug"]], pages["floor"]
            results[target["slug"]]["floors"][key] = drive(floor, mine[floor["role"]], load)
            results[target["slug"]]["pages"][key] = drive(pages[key], mine[pages[key]["role"]], load)
    Path(out_path).write_text(json.dumps(results))


def drive(page: dict, sessions: list[Session], load: dict) -> dict:
    """`len(sessions)` users request the page at once until `requests` are done or `seconds` have passed."""
    lock = threading.Lock()
    claimed = [0]
    latencies: list[float] = []
    errors = [0]

    clock = {}  # when the measured requests began, and when they must stop

    def user(n: int) -> None:
        session, path = sessions[n], page["paths"][n % len(page["paths"])]
        for _ in range(load["warmup"]):
            session.request("GET", path)
        barrier.wait()
        while True:
            with lock:
                if claimed[0] >= load["requests"] or time.monotonic() > clock["deadline"]:
                    return
                claimed[0] += 1
            began = time.perf_counter()
            try:
                status, _, _ = session.request("GET", path)
            except OSError:
                status = 0
            elapsed = (time.perf_counter() - began) * 1000
            with lock:
                if status == 200:
                    latencies.append(elapsed)
                else:
                    errors[0] += 1

    def go() -> None:
        clock["began"] = time.monotonic()
        clock["deadline"] = clock["began"] + load["seconds"]

    barrier = threading.Barrier(len(sessions), action=go)
    threads = [threading.Thread(target=user, args=(n,)) for n in range(len(sessions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"latencies": latencies, "errors": errors[0], "wall": time.monotonic() - clock.get("began", 0)}


# --- Inside Django (children run with the size's environment) ---------------------------------


def django_setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()


def prepare_main(out_path: str, concurrency: str) -> None:
    """Picks the users and pages, and counts each page's SQL queries through the test client."""
    django_setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from evidence.models import EvidenceItem
    from portal.models import Apprenticeship, Organisation, User
    from reviews.models import KSBJudgement, SignOff

    users = int(concurrency)
    provider = Organisation.objects.filter(name="Scale Provider 1").get()
    year_ago = timezone.localdate() - datetime.timedelta(days=365)
    settled = Apprenticeship.objects.filter(provider=provider, status=Apprenticeship.Status.ACTIVE).order_by("pk")
    # Apprentices and caseload members well into their programme, so that their pages have plenty to show.
    apprentices = list(settled.filter(start_date__lte=year_ago)[:users]) or list(settled[:users])
    assessors = list(User.objects.filter(organisation=provider, role=User.Role.ASSESSOR).order_by("pk")[:users])
    admins = list(User.objects.filter(organisation=provider, role=User.Role.PROVIDER_ADMIN).order_by("pk")[:users])

    def evidence_of(a: Apprenticeship) -> str:
        items = EvidenceItem.objects.filter(apprenticeship=a, status=EvidenceItem.Status.ACCEPTED)
        item = items.filter(versions__files__isnull=False).order_by("pk").first() or items.order_by("pk").first()
        return f"/evidence/{item.pk}/"

    def caseload_member(assessor: User) -> Apprenticeship:
        own = settled.filter(assessor=assessor)
        return own.filter(start_date__lte=year_ago).first() or own.first()

    def sign_off_page(a: Apprenticeship) -> str:
        # A KSB with confirmed, accepted evidence and no sign-off yet: the page shows the sign-off form.
        signed = SignOff.objects.live().filter(apprenticeship=a).values("ksb_id")
        judgement = (
            KSBJudgement.objects.filter(confirmed=True, decision__version__item__apprenticeship=a)
            .exclude(mapping__ksb_id__in=signed)
            .select_related("mapping__ksb")
            .order_by("mapping__ksb__kind", "mapping__ksb__number")
            .first()
        )
        ksb = judgement.mapping.ksb if judgement else SignOff.objects.filter(apprenticeship=a).first().ksb
        return f"/apprenticeships/{a.pk}/ksbs/{ksb.code}/"

    cohort = Apprenticeship.objects.filter(provider=provider).count()
    heatmap = "/provider/?page=2" if cohort > 50 else "/provider/"
    members = [caseload_member(a) for a in assessors]
    pages = [
        ("floor", "Floor (bare signed-in view)", "apprentice", ["/floor/"]),
        ("apprentice_home", "Apprentice's home", "apprentice", ["/portfolio/"]),
        ("evidence_list", "Evidence list", "apprentice", ["/evidence/"]),
        ("evidence_view", "Evidence item", "apprentice", [evidence_of(a) for a in apprentices]),
        ("assessor_home", "Assessor's queue and caseload", "assessor", ["/assessor/"]),
        ("caseload", "Caseload: an apprenticeship", "assessor", [f"/apprenticeships/{a.pk}/" for a in members]),
        ("sign_off", "KSB sign-off page", "assessor", [sign_off_page(a) for a in members]),
        ("heatmap", "Cohort heatmap (50 a page)", "provider_admin", [heatmap]),
        ("catalogue", "Standard's catalogue page", "apprentice", ["/standards/ST0220/1.0/"]),
    ]
    people = {"apprentice": [a.apprentice for a in apprentices], "assessor": assessors, "provider_admin": admins}
    client = Client()
    counted = []
    for key, name, role, paths in pages:
        client.force_login(people[role][0])
        # Once to warm what is read once per process, then counted.
        first = client.get(paths[0], secure=True, HTTP_HOST="127.0.0.1")
        if first.status_code != 200:
            raise SystemExit(f"{paths[0]} answered {first.status_code} for {people[role][0].email}")
        with CaptureQueriesContext(connection) as queries:
            client.get(paths[0], secure=True, HTTP_HOST="127.0.0.1")
        counted.append({"key": key, "name": name, "role": role, "paths": paths, "queries": len(queries)})
    caseloads = [Apprenticeship.objects.filter(assessor=a).count() for a in assessors]
    facts = (
        f"Provider 1 has {cohort:,} apprentices; the assessors measured have caseloads of "
        f"{', '.join(map(str, caseloads))}; the apprentices measured have "
        f"{EvidenceItem.objects.filter(apprenticeship=apprentices[0]).count()} items each."
    )
    Path(out_path).write_text(
        json.dumps(
            {
                "users": {role: [p.email for p in persons] for role, persons in people.items()},
                "pages": counted,
                "facts": facts,
                "employer": apprentices[0].employer_id,
            }
        )
    )


# A table read, as Django writes it: FROM "evidence_evidenceitem" U0, or "evidence_evidenceitem"."status".
EVIDENCE_TABLES = re.compile(r'(?:(?:FROM|JOIN) "((?:evidence|reviews)_\w+)")|(?:"((?:evidence|reviews)_\w+)"\.")')
SEQ_SCAN = re.compile(r"Seq Scan on (\w+)")
EXPLAINED = {"evidence_list", "assessor_home", "heatmap", "sign_off"}


def explain_main(plan_path: str, out_path: str) -> None:
    """EXPLAIN ANALYZE of every query on evidence or reviews tables that the key pages run.

    With nothing cached, as a page is read after a change: progress's own queries are explained too.
    """
    django_setup()
    from django.db import connection
    from django.test import Client, override_settings
    from django.test.utils import CaptureQueriesContext

    from portal.models import User

    plan = json.loads(Path(plan_path).read_text())
    client = Client()
    entries = []
    uncached = override_settings(CACHES={"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}})
    uncached.enable()
    for page in plan["pages"]:
        if page["key"] not in EXPLAINED:
            continue
        client.force_login(User.objects.get(email=plan["users"][page["role"]][0]))
        client.get(page["paths"][0], secure=True, HTTP_HOST="127.0.0.1")
        with CaptureQueriesContext(connection) as queries:
            client.get(page["paths"][0], secure=True, HTTP_HOST="127.0.0.1")
        for n, query in enumerate(queries.captured_queries, start=1):
            sql = query["sql"]
            tables = sorted({name for pair in EVIDENCE_TABLES.findall(sql) for name in pair if name})
            if not sql.lstrip().upper().startswith("SELECT") or not tables:
                continue
            with connection.cursor() as cursor:
                cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
                text = "\n".join(row[0] for row in cursor.fetchall())
            ms = re.search(r"Execution Time: ([\d.]+) ms", text)
            scans = sorted({t for t in SEQ_SCAN.findall(text) if t.startswith(("evidence_", "reviews_"))})
            entries.append(
                {
                    "page": page["name"],
                    "summary": f"#{n}: {', '.join(f'`{t}`' for t in tables)}",
                    "ms": float(ms.group(1)) if ms else 0.0,
                    "seq_scans": scans,
                    "sql": sql,
                    "plan": text,
                }
            )
    Path(out_path).write_text(json.dumps(entries))


def export_main(plan_path: str, out_path: str, mode: str) -> None:
    """Times the cohort export of one employer's apprentices; with `each`, also one export per apprentice."""
    django_setup()
    from django.db.models import Sum

    from portal.models import Apprenticeship, Organisation, User
    from reviews import exports
    from reviews.models import Export

    plan = json.loads(Path(plan_path).read_text())
    admin = User.objects.get(email=plan["users"]["provider_admin"][0])
    employer = Organisation.objects.get(pk=plan["employer"])
    cohort = list(Apprenticeship.objects.visible_to(admin).filter(employer=employer))
    runs = []

    def wait(pks: list[int], what: str, limit: float = 3600) -> None:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            states = Export.objects.filter(pk__in=pks)
            if all(e.is_finished for e in states):
                break
            time.sleep(1)
        finished = list(Export.objects.filter(pk__in=pks))
        seconds = (
            max(e.finished_at or datetime.datetime.now(datetime.UTC) for e in finished)
            - min(e.created_at for e in finished)
        ).total_seconds()
        failed = [e for e in finished if e.state != Export.State.DONE]
        total = Export.objects.filter(pk__in=pks).aggregate(size=Sum("size"))["size"] or 0
        runs.append(
            {
                "what": what,
                "apprentices": len(cohort),
                "seconds": seconds,
                "per_minute": len(cohort) / (seconds / 60) if seconds else 0.0,
                "size": f"{total / 1024 / 1024:.0f} MB in all",
                "state": "done" if not failed else failed[0].state,
                "error": failed[0].error if failed else "",
            }
        )

    export = exports.request_cohort_export(by=admin, employer=employer)
    wait([export.pk], f"One cohort zip of an employer's {len(cohort)} apprentices")
    if mode == "each":
        pks = [exports.request_portfolio_export(apprenticeship=a, by=admin).pk for a in cohort]
        wait(pks, f"The same {len(cohort)} as separate portfolio exports, queued at once")
    Path(out_path).write_text(json.dumps({"runs": runs}))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_load":
        load_main(*sys.argv[2:])
    elif len(sys.argv) > 1 and sys.argv[1] == "_prepare":
        prepare_main(*sys.argv[2:])
    elif len(sys.argv) > 1 and sys.argv[1] == "_explain":
        explain_main(*sys.argv[2:])
    elif len(sys.argv) > 1 and sys.argv[1] == "_export":
        export_main(*sys.argv[2:])
    else:
        sys.exit(main(sys.argv[1:]))
