"""CSV invitation import benchmark.

    .venv/bin/python bench/invitations.py [--rows 5000] [--repeat 5]

Imports a CSV of ROWS new addresses into one institution with
`invitations_import_csv` (parse, validate, insert, audit, render the emails),
against the baseline of inserting the same number of invitation rows with a
bare `bulk_create`, measured in the same run. Each repetition runs in a
transaction that is rolled back, so every one starts from the same state and
no mail leaves (sending happens after commit and is not counted).

Without DATABASE_URL / REDIS_URL it starts the embedded servers, as `make run` does.
"""

import argparse
import hashlib
import sys
import time
from datetime import timedelta

from harness import bench_institution, django_on_fresh_database, median_ms

BENCH_DB = "conceptspro_bench_invitations"


class _Rollback(Exception):
    pass


def _timed_and_rolled_back(work) -> float:
    from django.db import transaction

    started = time.perf_counter()
    try:
        with transaction.atomic():
            work()
            elapsed = time.perf_counter() - started
            raise _Rollback
    except _Rollback:
        return elapsed


def bench(rows: int, repeat: int) -> None:
    from django.test import RequestFactory
    from django.utils import timezone
    from django_tenants.utils import tenant_context

    from tenant_apps.accounts.invitations import invitations_import_csv
    from tenant_apps.accounts.models import Invitation, Role, User

    institution = bench_institution()
    data = (
        "email,first_name,last_name,role\n"
        + "".join(f"person{i}@bench.test,Given{i},Family{i},student\n" for i in range(rows))
    ).encode()

    with tenant_context(institution):
        admin = User.objects.get(email="admin@bench.test")
        request = RequestFactory().post(
            "/api/v1/users/invitations/import/", HTTP_HOST="bench.localhost"
        )
        request.user = admin
        request.tenant = institution

        def import_csv():
            report = invitations_import_csv(data=data, invited_by=admin, request=request)
            assert report.counts["created"] == rows

        def bare_insert():
            expires = timezone.now() + timedelta(days=14)
            Invitation.objects.bulk_create(
                [
                    Invitation(
                        email=f"person{i}@bench.test",
                        role=Role.STUDENT,
                        key_hash=hashlib.sha256(str(i).encode()).hexdigest(),
                        invited_by=admin,
                        expires_at=expires,
                    )
                    for i in range(rows)
                ],
                batch_size=1000,
            )

        _timed_and_rolled_back(import_csv)  # warm-up: templates, query plans
        baseline = [_timed_and_rolled_back(bare_insert) for _ in range(repeat)]
        imported = [_timed_and_rolled_back(import_csv) for _ in range(repeat)]

    base_ms, import_ms = median_ms(baseline), median_ms(imported)
    print(f"\nCSV invitation import, {rows} rows, median of {repeat}, ms")
    print(f"bare bulk_create of the rows (baseline) {base_ms:9.1f}")
    print(f"invitations_import_csv                  {import_ms:9.1f}", end="")
    print(f"   ratio {import_ms / base_ms:.1f}x")
    print(f"per row                                 {import_ms / rows * 1000:9.1f} µs")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    with django_on_fresh_database(BENCH_DB):
        bench(options.rows, options.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
