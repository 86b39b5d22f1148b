"""What other apps may use of jobs."""

from .services import job_period_claim, job_result_record

__all__ = ["job_period_claim", "job_result_record"]
