"""What a deployment serves: variants over model references, their traffic, and the rollout.

A spec is a value. Every change to a deployment (``split``, ``canary``, ``shadow``,
``switch``) computes a new spec from the old one with the pure functions here, and the
service in :mod:`.deployments` stores it as the next revision. Keeping the arithmetic
of weights pure makes it easy to test and impossible to half-apply.

Weights are whole percentages of live traffic and always sum to 100 over the live
variants. A variant with weight 0 stays loaded (the idle colour of a blue-green pair),
so switching back to it is instant. Shadow variants get a copy of a share of requests;
their answers are logged and never returned.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from ..errors import Conflict, InvalidInput
from ..registry.refs import ModelRef, parse_model_ref

_VARIANT = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,62}$")
_STICKY = re.compile(r"^(header|field):[A-Za-z0-9_.-]{1,128}$")
MAIN = "main"


@dataclass(frozen=True)
class Variant:
    """One model behind a deployment and its share of traffic (percent)."""

    name: str
    model: str
    weight: int
    shadow: bool = False


@dataclass(frozen=True)
class Canary:
    """A step-by-step rollout of the ``canary`` variant, with the limits that stop it."""

    steps: tuple[int, ...]
    interval_s: float
    max_error_rate: float | None = None
    max_p99_ms: float | None = None
    step: int = 0
    step_started_at: int = 0
    status: str = "running"  # running | promoted | rolled_back | aborted
    reason: str | None = None
    stable: str = "main"  # the variant the canary is compared against
    moved: tuple[str, str, int | None, int] | None = None
    """On promotion through an alias: (model, alias, version before, version after)."""


@dataclass(frozen=True)
class DeploymentSpec:
    variants: tuple[Variant, ...]
    sticky: str | None = None
    canary: Canary | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def live(self) -> tuple[Variant, ...]:
        return tuple(v for v in self.variants if not v.shadow)

    @property
    def shadows(self) -> tuple[Variant, ...]:
        return tuple(v for v in self.variants if v.shadow)

    @property
    def strategy(self) -> str:
        """single, ab, canary, shadow or blue-green, as a person would describe it."""
        if self.canary is not None and self.canary.status == "running":
            return "canary"
        serving = [v for v in self.live if v.weight > 0]
        if len(serving) > 1:
            return "ab"
        if self.shadows:
            return "shadow"
        if len(self.live) > 1:
            return "blue-green"
        return "single"

    def variant(self, name: str) -> Variant:
        for variant in self.variants:
            if variant.name == name:
                return variant
        known = ", ".join(v.name for v in self.variants)
        raise InvalidInput(f"no variant '{name}' (variants: {known})")

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "variants": [asdict(v) for v in self.variants],
            "sticky": self.sticky,
            "canary": None,
        }
        if self.canary is not None:
            data["canary"] = {**asdict(self.canary), "steps": list(self.canary.steps)}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeploymentSpec:
        canary = data.get("canary")
        return cls(
            variants=tuple(Variant(**v) for v in data["variants"]),
            sticky=data.get("sticky"),
            canary=Canary(
                **{
                    **canary,
                    "steps": tuple(canary["steps"]),
                    "moved": tuple(canary["moved"]) if canary.get("moved") else None,
                }
            )
            if canary
            else None,
        )


def check_variant_name(name: object) -> str:
    if not isinstance(name, str) or not _VARIANT.fullmatch(name):
        raise InvalidInput(
            f"invalid variant name {name!r}",
            hint="start with a letter; use letters, digits, '_' and '-' (e.g. b, challenger)",
        )
    return name


def check_model(text: object) -> str:
    """A registered-model reference in its short form (``churn@champion``, ``churn/3``)."""
    ref = parse_model_ref(text)
    if not isinstance(ref, ModelRef):
        raise InvalidInput(
            f"a deployment serves registered models, not {text}",
            hint="register it first: loopml models register NAME " + str(text),
        )
    return str(ref)


def check_sticky(text: str | None) -> str | None:
    if text is None or text == "":
        return None
    if not _STICKY.fullmatch(text):
        raise InvalidInput(
            f"invalid sticky key {text!r}",
            hint="use header:NAME (e.g. header:X-User-Id) or field:NAME (a payload column)",
        )
    return text


def single(model: str) -> DeploymentSpec:
    return DeploymentSpec(variants=(Variant(MAIN, check_model(model), 100),))


def with_split(
    spec: DeploymentSpec, variants: dict[str, tuple[str | None, int]], sticky: str | None
) -> DeploymentSpec:
    """``spec`` with the named live variants set to (model, weight); the first one absorbs
    the rest of the traffic. A weight of 0 with no model removes the variant."""
    _no_running_canary(spec)
    live = {v.name: v for v in spec.live}
    order = [v.name for v in spec.live]
    first = order[0]
    shadows = {v.name for v in spec.shadows}
    for name, (model, weight) in variants.items():
        check_variant_name(name)
        if name in shadows:
            raise InvalidInput(
                f"'{name}' is a shadow variant", hint="give the live variant another name"
            )
        if not 0 <= weight <= 100:
            raise InvalidInput(
                f"variant '{name}' has weight {weight}", hint="weights are percents, 0 to 100"
            )
        if name == first:
            raise InvalidInput(
                f"variant '{name}' takes whatever traffic the others leave",
                hint="set the other variants' weights instead",
            )
        if model is None and name not in live:
            raise InvalidInput(
                f"variant '{name}' does not exist yet", hint=f"give it a model: {name}=MODEL:20"
            )
        if model is None and weight == 0:
            live.pop(name, None)
            order.remove(name)
            continue
        current = live.get(name)
        live[name] = Variant(name, check_model(model) if model else current.model, weight)
        if name not in order:
            order.append(name)
    others = sum(live[name].weight for name in order[1:])
    if others > 100:
        raise InvalidInput(
            f"the variants' weights add up to {others}%",
            hint="keep the sum of the non-main variants at or below 100",
        )
    live[first] = replace(live[first], weight=100 - others)
    return replace(
        spec,
        variants=tuple(live[name] for name in order) + spec.shadows,
        sticky=check_sticky(sticky) if sticky is not None else spec.sticky,
    )


def with_shadow(spec: DeploymentSpec, name: str, model: str | None, percent: int) -> DeploymentSpec:
    """``spec`` with a shadow variant mirroring ``percent`` of requests; None removes it."""
    check_variant_name(name)
    if any(v.name == name and not v.shadow for v in spec.variants):
        raise InvalidInput(f"'{name}' is a live variant", hint="pick another shadow name")
    kept = tuple(v for v in spec.variants if v.name != name)
    if model is None:
        if len(kept) == len(spec.variants):
            raise InvalidInput(f"there is no shadow variant '{name}' to remove")
        return replace(spec, variants=kept)
    if not 1 <= percent <= 100:
        raise InvalidInput(f"shadow share {percent}%", hint="mirror between 1 and 100 percent")
    return replace(spec, variants=(*kept, Variant(name, check_model(model), percent, True)))


def with_canary(
    spec: DeploymentSpec,
    model: str,
    steps: list[int],
    interval_s: float,
    max_error_rate: float | None,
    max_p99_ms: float | None,
    now: int,
) -> DeploymentSpec:
    """``spec`` with a ``canary`` variant at the first step's weight, against the variant
    that takes the traffic now (the stable one)."""
    _no_running_canary(spec)
    if not steps or any(not 0 < s <= 100 for s in steps) or list(steps) != sorted(set(steps)):
        raise InvalidInput(
            f"invalid canary steps {steps}",
            hint="give increasing percents between 1 and 100, e.g. 5,25,50,100",
        )
    if steps[-1] != 100:
        steps = [*steps, 100]
    if interval_s <= 0:
        raise InvalidInput("the canary interval must be positive", hint="e.g. --interval 10m")
    if max_error_rate is not None and not 0 <= max_error_rate <= 1:
        raise InvalidInput("--max-error-rate is a fraction between 0 and 1", hint="e.g. 0.01")
    if max_p99_ms is not None and max_p99_ms <= 0:
        raise InvalidInput("--max-p99-ms must be positive", hint="e.g. 50")
    serving = [v for v in spec.live if v.weight > 0]
    if len(serving) != 1:
        raise Conflict(
            f"a canary is compared with one stable variant; {len(serving)} take traffic now",
            hint="end the A/B split first: loopml deploy split NAME --variant b=:0",
        )
    stable = serving[0]
    if stable.name == "canary" or any(v.shadow and v.name == "canary" for v in spec.variants):
        raise InvalidInput(
            "a serving or shadow variant is named 'canary'",
            hint="rename it before starting a canary",
        )
    # Idle (weight 0) and shadow variants stay as they are; an idle 'canary' is replaced.
    others = tuple(v for v in spec.variants if v.name not in (stable.name, "canary"))
    variants = (
        replace(stable, weight=100 - steps[0]),
        Variant("canary", check_model(model), steps[0]),
        *others,
    )
    canary = Canary(
        tuple(steps), interval_s, max_error_rate, max_p99_ms, 0, now, stable=stable.name
    )
    return replace(spec, variants=variants, canary=canary)


def canary_weight(spec: DeploymentSpec, weight: int) -> DeploymentSpec:
    assert spec.canary is not None
    return replace(
        spec,
        variants=tuple(
            replace(v, weight=weight if v.name == "canary" else 100 - weight)
            if v.name in (spec.canary.stable, "canary")
            else v
            for v in spec.variants
        ),
    )


def without_canary(spec: DeploymentSpec, status: str, reason: str) -> DeploymentSpec:
    """``spec`` with all traffic back on the stable variant, the canary marked ``status``."""
    stable = spec.canary.stable if spec.canary else spec.live[0].name
    variants = tuple(
        replace(v, weight=100) if v.name == stable else v
        for v in spec.variants
        if v.name != "canary"
    )
    canary = replace(spec.canary, status=status, reason=reason) if spec.canary else None
    return replace(spec, variants=variants, canary=canary)


def switched(spec: DeploymentSpec, model: str | None) -> DeploymentSpec:
    """Blue-green: all traffic to the idle variant (set to ``model`` if given).

    The variant that was live stays in the spec with weight 0, loaded, for a rollback.
    """
    _no_running_canary(spec)
    live = spec.live
    serving = [v for v in live if v.weight > 0]
    if len(serving) != 1:
        raise Conflict(
            f"switch flips one live variant; {len(serving)} take traffic now",
            hint="end the A/B split first: loopml deploy split NAME --variant b=:0",
        )
    current = serving[0]
    idle = [v for v in live if v.weight == 0]
    if model is not None:
        # The new model takes the idle colour's place: blue-green keeps two colours.
        taken = {current.name} | {v.name for v in spec.shadows}
        name = next(
            n for n in ("green", "blue", *(f"green-{i}" for i in range(2, 1000))) if n not in taken
        )
        target = Variant(name, check_model(model), 100)
        kept = [replace(current, weight=0)]
    elif idle:
        target = replace(idle[0], weight=100)
        kept = [replace(current, weight=0), *idle[1:]]
    else:
        raise Conflict(
            "there is no idle variant to switch to",
            hint="name the new model: loopml deploy switch NAME --to MODEL",
        )
    variants = (target, *kept, *spec.shadows)
    return replace(spec, variants=variants)


def _no_running_canary(spec: DeploymentSpec) -> None:
    if spec.canary is not None and spec.canary.status == "running":
        raise Conflict(
            "a canary is running on this deployment",
            hint="wait for it, or stop it: loopml deploy canary NAME --abort",
        )
