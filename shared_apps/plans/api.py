"""What tenant apps (and the other public apps) may use of plans: limits and
feature flags for the institution the connection is in. See README.md."""

from .limits import (
    INSTITUTION_READ_ONLY,
    PLAN_LIMIT_REACHED,
    LimitKind,
    PlanFeature,
    feature_require,
    limit_check,
    plan_limits_and_usage,
    read_only_refusal,
    usage_release,
    usage_reserve,
)

__all__ = [
    "INSTITUTION_READ_ONLY",
    "PLAN_LIMIT_REACHED",
    "LimitKind",
    "PlanFeature",
    "feature_require",
    "limit_check",
    "plan_limits_and_usage",
    "read_only_refusal",
    "usage_release",
    "usage_reserve",
]
