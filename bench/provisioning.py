"""Provisioning and routing benchmark.

    .venv/bin/python bench/provisioning.py [--n 10] [--routing-requests 5000]

Provisions N institutions by each path in the same run, on a fresh database:
the warm pool (claim by rename), the cold path (template catalog replayed in one
transaction) and the migrate path (Django migrations, the baseline). Prints the
median time of `institution_provision` (schema, domain row, admin row with a
pre-hashed password, settings, activation) and of its schema step, and their
ratios to the migrate path. Then times the routing middleware on a warm request
against a bare view called directly.

Without DATABASE_URL / REDIS_URL it starts the embedded servers, as `make run` does.
"""

import argparse
import statistics
import sys
import time

from harness import django_on_fresh_database, median_ms

BENCH_DB = "conceptspro_bench"


def _provision(slug: str, method: str) -> tuple[float, float]:
    from provisioning import services
    from shared_apps.institutions.models import Institution

    institution = services.institution_create(
        name=slug,
        slug=slug,
        admin_email=f"admin@{slug}.test",
        admin_password="bench-password-not-common",
        enqueue=False,
    )  # hashes the admin's password: not timed, as the target says
    started = time.perf_counter()
    services.institution_provision(institution_id=institution.id, method=method)
    total = time.perf_counter() - started
    institution = Institution.objects.get(pk=institution.pk)
    assert institution.status == "active"
    return total, institution.provisioning_job.timings_ms["schema"] / 1000


def bench_provisioning(n: int) -> None:
    from provisioning.models import ProvisioningJob
    from provisioning.pool import pool_top_up
    from provisioning.schemas import template_ensure

    template_ensure()
    _provision("warmup", "template")  # captures the template once, like a long-lived worker

    results = {}
    results["migrations"] = [_provision(f"mig-{i}", "migrations") for i in range(n)]
    results["template"] = [_provision(f"cold-{i}", "template") for i in range(n)]
    started = time.perf_counter()
    pool_top_up(size=n)
    fill = (time.perf_counter() - started) / n
    results["pool"] = [_provision(f"pool-{i}", "auto") for i in range(n)]
    sources = set(
        ProvisioningJob.objects.filter(institution__slug__startswith="pool-").values_list(
            "schema_source", flat=True
        )
    )
    assert sources == {"pool"}, f"pool runs did not all claim from the pool: {sources}"

    baseline_total = median_ms([t for t, _ in results["migrations"]])
    baseline_schema = median_ms([s for _, s in results["migrations"]])
    print(f"\nProvisioning, n={n} per path, median ms (ratio = migrate path / this path)")
    print(f"{'path':<22}{'provision':>12}{'schema step':>14}{'speed-up':>11}")
    names = {"migrations": "migrate (baseline)", "template": "cold path", "pool": "warm pool"}
    for key in ("migrations", "template", "pool"):
        total = median_ms([t for t, _ in results[key]])
        schema = median_ms([s for _, s in results[key]])
        print(f"{names[key]:<22}{total:>12.1f}{schema:>14.1f}{baseline_total / total:>10.1f}x")
    print(f"pool top-up, per schema (background): {fill * 1000:.1f} ms")
    cold_schema = median_ms([s for _, s in results["template"]])
    pool_schema = median_ms([s for _, s in results["pool"]])
    print(
        f"(schema step alone: cold path {baseline_schema / cold_schema:.1f}x, "
        f"pool {baseline_schema / pool_schema:.1f}x faster)"
    )


def bench_routing(requests: int) -> None:
    from django.core.cache import cache
    from django.http import HttpResponse
    from django.test import RequestFactory

    from shared_apps.institutions.routing import InstitutionRoutingMiddleware

    def bare_view(request):
        return HttpResponse("ok")

    routed = InstitutionRoutingMiddleware(bare_view)
    factory = RequestFactory()
    cache.clear()

    def timed(handler) -> list[float]:
        samples = []
        for _ in range(requests):
            request = factory.get("/", HTTP_HOST="cold-0.localhost")
            started = time.perf_counter()
            response = handler(request)
            samples.append(time.perf_counter() - started)
            assert response.status_code == 200
        return samples

    routed(factory.get("/", HTTP_HOST="cold-0.localhost"))  # warms the routing cache
    bare = timed(bare_view)
    with_routing = timed(routed)
    bare_us = statistics.median(bare) * 1e6
    routed_us = statistics.median(with_routing) * 1e6
    print(f"\nRouting, {requests} warm requests, median µs")
    print(f"bare view (baseline)   {bare_us:8.1f}")
    print(f"through routing        {routed_us:8.1f}   ratio {routed_us / bare_us:.1f}x")
    print(
        f"routing overhead       {routed_us - bare_us:8.1f}   "
        f"(p95 {statistics.quantiles(with_routing, n=20)[-1] * 1e6 - bare_us:.1f})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=10)
    parser.add_argument("--routing-requests", type=int, default=5000)
    options = parser.parse_args()

    with django_on_fresh_database(BENCH_DB):
        bench_provisioning(options.n)
        bench_routing(options.routing_requests)
    return 0


if __name__ == "__main__":
    sys.exit(main())
