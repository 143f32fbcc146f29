"""Judging a running canary against its stable variant, the way Argo Rollouts' analysis does.

The verdict is made from this process's own measurements since the canary's current
step began: the canary rolls back as soon as it has seen enough requests to tell and
breaches a limit (its error rate above the stable variant's by more than
``max_error_rate``, or its p99 latency above ``max_p99_ms`` and above the stable
variant's); it moves to the next step once ``interval_s`` has passed within its limits.
Without traffic it waits: no evidence is no promotion.
"""

from __future__ import annotations

from .metrics import VariantWindow
from .spec import Canary

MIN_REQUESTS = 20


def judge(
    canary: Canary, stable: VariantWindow, candidate: VariantWindow, now: int
) -> tuple[str, str] | None:
    """("rollback" | "next", why) or None to keep waiting."""
    if canary.status != "running" or candidate.requests < MIN_REQUESTS:
        return None
    if canary.max_error_rate is not None:
        excess = candidate.error_rate() - stable.error_rate()
        if excess > canary.max_error_rate:
            return (
                "rollback",
                f"canary error rate {candidate.error_rate():.2%} is {excess:.2%} above the "
                f"stable variant's {stable.error_rate():.2%} (limit {canary.max_error_rate:.2%})",
            )
    if canary.max_p99_ms is not None:
        p99 = candidate.p99_ms() or 0.0
        stable_p99 = stable.p99_ms() or 0.0
        if p99 > canary.max_p99_ms and p99 > stable_p99:
            return (
                "rollback",
                f"canary p99 latency {p99:.1f} ms is over the {canary.max_p99_ms:g} ms limit "
                f"(stable variant: {stable_p99:.1f} ms)",
            )
    if now - canary.step_started_at >= canary.interval_s * 1000:
        step = canary.steps[canary.step]
        return (
            "next",
            f"step {canary.step + 1}/{len(canary.steps)} ({step}%) held its limits over "
            f"{candidate.requests} requests",
        )
    return None
