"""The ledger of scheduled jobs run in this institution."""

from django.db import models


class JobRun(models.Model):
    """One scheduled job's run for one period ("2026-11-25", "2026-W48", an
    assignment's reminder window). The unique pair is what makes a job run
    once per institution and period, whatever beat or Celery retries do."""

    job = models.CharField(max_length=100)
    period = models.CharField(max_length=100)
    started_at = models.DateTimeField(auto_now_add=True)
    result = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "period"], name="jobrun_once")]

    def __str__(self) -> str:
        return f"{self.job} {self.period}"
