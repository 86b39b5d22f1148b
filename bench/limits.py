"""Plan limit check benchmark: the reservation against counting the schema.

    .venv/bin/python bench/limits.py [--users 50000] [--files 20000] [--runs 300]

An institution with USERS accounts and FILES stored files. Every creation of
a user, course or file checks the plan's limit. Measured, each the median of
RUNS inside a transaction rolled back afterwards:

- reservation: `shared_apps.plans.api.usage_reserve` (users, then storage),
  one conditional UPDATE of the institution's row in the public schema;
- baseline: what a check without the counters costs, counting the
  institution's active users and summing its files' sizes in its schema,
  then comparing with the plan's limits (the naive check, which also could
  not hold under concurrency without a lock).

It also prints how long one nightly recount (`usage_measure`) takes.

Without DATABASE_URL / REDIS_URL it starts the embedded servers, as `make run` does.
"""

import argparse
import time
import uuid

from harness import bench_institution, django_on_fresh_database, median_ms

BENCH_DB = "conceptspro_bench_limits"


def _fill(users: int, files: int) -> None:
    from tenant_apps.accounts.models import User
    from tenant_apps.files.models import StoredFile

    User.objects.bulk_create(
        [
            User(email=f"person{i}@bench.test", first_name="P", last_name=str(i), password="!")
            for i in range(users)
        ],
        batch_size=5000,
    )
    owner = User.objects.get(email="admin@bench.test")
    StoredFile.objects.bulk_create(
        [
            StoredFile(
                uploader=owner,
                original_name=f"f{i}.pdf",
                stored_name=uuid.uuid4().hex,
                file_path=f"bench/{uuid.uuid4().hex}",
                mime_type="application/pdf",
                file_size_bytes=10_000 + i,
                sha256="0" * 64,
            )
            for i in range(files)
        ],
        batch_size=5000,
    )


def _timed(call, runs: int) -> list[float]:
    from django.db import transaction

    times = []
    for _ in range(runs):
        with transaction.atomic():
            started = time.perf_counter()
            call()
            times.append(time.perf_counter() - started)
            transaction.set_rollback(True)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()

    with django_on_fresh_database(BENCH_DB):
        from django.db import connection
        from django.db.models import Sum
        from django_tenants.utils import tenant_context

        from shared_apps.plans.api import LimitKind, usage_reserve
        from shared_apps.plans.metering import usage_measure
        from shared_apps.plans.models import Plan
        from tenant_apps.accounts.models import User
        from tenant_apps.files.models import StoredFile

        institution = bench_institution()
        Plan.objects.filter(pk=institution.plan_id).update(max_users=None, max_storage_bytes=None)
        with tenant_context(institution):
            _fill(args.users, args.files)
        started = time.perf_counter()
        usage_measure(institution=institution)
        recount_ms = (time.perf_counter() - started) * 1000

        plan = Plan.objects.get(pk=institution.plan_id)

        def reservation():
            usage_reserve(kind=LimitKind.USERS)
            usage_reserve(kind=LimitKind.STORAGE_BYTES, amount=1_000_000)

        def baseline():
            users = User.objects.filter(is_active=True, deleted_at__isnull=True).count()
            stored = StoredFile.objects.filter(deleted_at__isnull=True).aggregate(
                total=Sum("file_size_bytes")
            )["total"]
            assert plan.max_users is None or users + 1 <= plan.max_users
            assert plan.max_storage_bytes is None or stored + 1_000_000 <= plan.max_storage_bytes

        with tenant_context(institution):
            connection.queries_log.clear()
            reserve, count = [], []
            for _ in range(args.runs // 10):  # alternate, so both see the same machine
                reserve += _timed(reservation, 10)
                count += _timed(baseline, 10)

    reserve_ms, count_ms = median_ms(reserve), median_ms(count)
    print(f"institution: {args.users:,} users, {args.files:,} files; median of {len(reserve)}")
    print(f"reservation (users + storage, public counters): {reserve_ms:8.3f} ms")
    print(f"baseline (count users + sum file sizes in the schema): {count_ms:8.3f} ms")
    print(f"ratio reservation/baseline: {reserve_ms / count_ms:.3f}x")
    print(f"nightly recount of this institution (usage_measure): {recount_ms:.1f} ms")


if __name__ == "__main__":
    main()
