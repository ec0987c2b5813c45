#!/usr/bin/env python
"""Where the time of the cohort heatmap, the assessor's home and the apprentice's home goes.

Builds bulk cohorts (reviews/tests/bulk.py) of each size, one provider per size, in one
database, then requests each page through Django's test client, signed in as a real user, and
prints per page: median and p95 wall time, the shares of it spent in SQL and in rendering the
template (lazy queries run from the template count in both), the number of queries and the
slowest statements. It is a measuring aid for deciding what is worth caching, not a benchmark
(no concurrency, no gunicorn): compare pages and sizes within one run, not figures across
machines.

    # SQLite, in a throwaway file:
    .venv/bin/python scripts/profile_pages.py
    # PostgreSQL: an empty database that the script migrates (and leaves behind):
    createdb -h 127.0.0.1 -U postgres scale_profile
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/scale_profile .venv/bin/python scripts/profile_pages.py

Options: --sizes 200 2000 (apprentices per provider), --items 50, --repeat 15, --per-assessor 40.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[200, 2000], help="apprentices per provider")
    parser.add_argument("--items", type=int, default=50, help="evidence items per apprentice")
    parser.add_argument("--repeat", type=int, default=15, help="timed requests per page")
    parser.add_argument("--per-assessor", type=int, default=40, help="caseload of each assessor")
    return parser.parse_args()


def setup() -> None:
    if not os.environ.get("DATABASE_URL"):
        path = Path(tempfile.mkdtemp(prefix="profile-pages-")) / "db.sqlite3"
        os.environ["DATABASE_URL"] = f"sqlite:///{path}"
    # The development settings (DEBUG on: no HTTPS redirect, no collected static files needed);
    # DEBUG's own cost, keeping each query's text, is the same for every page compared.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    from django.test.utils import setup_test_environment

    setup_test_environment()


class SQLTimer:
    """An execute wrapper that adds up the time of each statement, grouped by its shape."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.count = 0
        self.seconds = 0.0
        self.by_shape: dict[str, float] = defaultdict(float)

    def __call__(self, execute, sql, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            spent = time.perf_counter() - start
            self.count += 1
            self.seconds += spent
            self.by_shape[shape(sql)] += spent


class RenderTimer:
    """Adds up the time spent rendering the view's template (includes and lazy queries in it too)."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def install(self) -> None:
        from django.template.backends.django import Template

        original = Template.render
        timer = self

        def render(template, *args, **kwargs):
            start = time.perf_counter()
            try:
                return original(template, *args, **kwargs)
            finally:
                timer.seconds += time.perf_counter() - start

        Template.render = render


def shape(sql: str) -> str:
    """A statement shortened to what it reads: the table after FROM and the first selected columns."""
    tables = re.findall(r'FROM "?(\w+)"?', sql)
    head = " ".join(sql.split())[:70]
    return f"{'/'.join(dict.fromkeys(tables))[:60]}: {head}"


def people(sizes: list[int], items: int, per_assessor: int):
    """For each size, a provider with that many apprentices, built once: a second run reuses them."""
    from django.core.management import call_command
    from django.db import connection

    from portal.models import Apprenticeship, Organisation, User
    from portal.tests.factories import AssessorFactory, EmployerFactory, ProviderAdminFactory, ProviderFactory
    from reviews.tests.bulk import build_cohort
    from standards.models import Standard

    call_command("migrate", verbosity=0)
    if not Standard.objects.filter(reference="ST0220", version="1.0").exists():
        call_command("loaddata", "st0220", verbosity=0)
    standard = Standard.objects.get(reference="ST0220", version="1.0")
    setups = []
    for size in sizes:
        name = f"Profile provider {size}x{items}"
        provider = Organisation.objects.filter(name=name).first()
        if provider is None:
            provider = ProviderFactory(name=name)
            assessors = [AssessorFactory(organisation=provider) for _ in range(max(1, size // per_assessor))]
            ProviderAdminFactory(organisation=provider)
            start = time.perf_counter()
            build_cohort(
                provider=provider,
                employer=EmployerFactory(name=f"Profile employer {size}x{items}"),
                assessors=assessors,
                standard=standard,
                apprentices=size,
                items_each=items,
            )
            print(f"built {size} apprentices x {items} items in {time.perf_counter() - start:.0f} s", flush=True)
        admin = User.objects.filter(organisation=provider, role=User.Role.PROVIDER_ADMIN).first()
        first = Apprenticeship.objects.filter(provider=provider).order_by("pk").first()
        setups.append((size, admin, first.assessor, first.apprentice))
    if connection.vendor == "postgresql":
        # Bulk inserts leave the planner's statistics behind until autovacuum catches up, and
        # with them it picks plans that scan whole tables: measure what a settled database does.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return setups


def measure(client, user, url: str, repeat: int, timer: SQLTimer, rendering: RenderTimer) -> dict:
    client.force_login(user)
    for _ in range(2):
        assert client.get(url).status_code == 200, url
    walls, sqls, renders, shapes = [], [], [], defaultdict(float)
    for _ in range(repeat):
        timer.reset()
        rendering.seconds = 0.0
        start = time.perf_counter()
        response = client.get(url)
        walls.append(time.perf_counter() - start)
        assert response.status_code == 200, url
        sqls.append(timer.seconds)
        renders.append(rendering.seconds)
        for key, spent in timer.by_shape.items():
            shapes[key] += spent / repeat
        queries = timer.count
    walls.sort()
    return {
        "median": statistics.median(walls) * 1000,
        "p95": walls[min(len(walls) - 1, round(0.95 * (len(walls) - 1)))] * 1000,
        "sql": statistics.median(sqls) * 1000,
        "render": statistics.median(renders) * 1000,
        # The one candidate for a cache that never goes stale between imports: a standard's KSBs.
        "ksb_list": sum(spent for key, spent in shapes.items() if key.startswith("standards_ksb:")) * 1000,
        "queries": queries,
        "top": sorted(shapes.items(), key=lambda pair: -pair[1])[:4],
    }


def main() -> None:
    args = parse_args()
    setup()
    # Sign-in bookkeeping logs a line per login; only the figures matter here.
    logging.disable(logging.INFO)
    from django.db import connection
    from django.test import Client

    print(f"database: {connection.vendor}; sizes {args.sizes}; {args.items} items each; {args.repeat} requests a page")
    setups = people(args.sizes, args.items, args.per_assessor)
    timer = SQLTimer()
    rendering = RenderTimer()
    rendering.install()
    client = Client()
    with connection.execute_wrapper(timer):
        for size, admin, assessor, apprentice in setups:
            pages = [
                ("heatmap p1", admin, "/provider/"),
                ("heatmap p3 by progress", admin, "/provider/?sort=-progress&page=3"),
                ("heatmap inactive only", admin, "/provider/?inactive=on&sort=progress"),
                ("assessor home", assessor, "/assessor/"),
                ("apprentice home", apprentice, "/portfolio/"),
                ("home list (reference)", apprentice, "/home/"),
            ]
            for name, user, url in pages:
                result = measure(client, user, url, args.repeat, timer, rendering)
                print(
                    f"{size:>6} {name:<24} median {result['median']:7.1f} ms  p95 {result['p95']:7.1f} ms  "
                    f"SQL {result['sql']:6.1f} ms ({result['sql'] / result['median']:4.0%})  "
                    f"template {result['render']:6.1f} ms ({result['render'] / result['median']:4.0%})  "
                    f"KSB list {result['ksb_list']:5.2f} ms  {result['queries']:>3} queries",
                    flush=True,
                )
                for key, spent in result["top"]:
                    print(f"{'':>8}{spent * 1000:7.2f} ms  {key}")


if __name__ == "__main__":
    main()
