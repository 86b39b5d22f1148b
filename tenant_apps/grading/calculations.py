"""Arithmetic of grades, without the database: percentages, letters from a
course's scheme, group and course totals. The gradebook, the export and a
student's own grades all total through `course_totals`, so they agree.

Totals, as Canvas computes them:
- A group's *current* percentage is points earned over points possible of its
  graded, not excused items; its *final* percentage counts every item that
  counts (published, not excused) and an ungraded one as zero.
- Unweighted course: points earned over points possible across every item.
- Weighted course: Σ weight * group percentage / Σ weight, over the groups
  that have a percentage (current: a graded item; final: any item). Weights
  that do not sum to 100 are thereby scaled to 100; a group without a
  percentage does not count, rather than counting as zero; items outside any
  group count for nothing, as their weight is zero.
- Excused grades count neither for nor against; an item worth zero points adds
  its score as extra credit.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

from .models import DEFAULT_LETTER_SCHEME, GradingPolicy

CENT = Decimal("0.01")
ZERO = Decimal("0")
HUNDRED = Decimal("100")

LetterScheme = list[tuple[str, Decimal]]


def letter_scheme_of(course) -> LetterScheme:
    """The course's letters with their minimum percentages, highest first."""
    policy = GradingPolicy.objects.filter(course=course).first()
    return letter_scheme_from(policy.letter_scheme if policy else None)


def letter_scheme_from(raw) -> LetterScheme:
    rows = raw or DEFAULT_LETTER_SCHEME
    return sorted(
        ((str(letter), Decimal(str(m))) for letter, m in rows), key=lambda r: r[1], reverse=True
    )


def percentage(score, points_possible) -> Decimal | None:
    """score / points possible as a percentage with two decimals; None when
    there is no score or nothing is possible."""
    if score is None or not points_possible:
        return None
    return (Decimal(score) * 100 / Decimal(points_possible)).quantize(CENT, ROUND_HALF_UP)


def letter_for(percent: Decimal | None, scheme: LetterScheme) -> str | None:
    """The first letter whose minimum the percentage reaches."""
    if percent is None:
        return None
    for letter, minimum in scheme:
        if percent >= minimum:
            return letter
    return scheme[-1][0] if scheme else None


class Cell(NamedTuple):
    """A grade as totals see it: given (`score`) or excused. A grade not
    given, or (for a student) not released, is no cell at all: it must not
    move their totals."""

    group_id: object
    points_possible: Decimal
    score: Decimal | None = None
    excused: bool = False


@dataclass(frozen=True, slots=True)
class GroupTotal:
    earned: Decimal = ZERO
    possible_current: Decimal = ZERO
    possible_final: Decimal = ZERO

    @property
    def current(self) -> Decimal | None:
        return percentage(self.earned, self.possible_current)

    @property
    def final(self) -> Decimal | None:
        return percentage(self.earned, self.possible_final)


@dataclass(frozen=True, slots=True)
class Totals:
    groups: dict  # group id -> GroupTotal
    current: Decimal | None
    final: Decimal | None


def possible_by_group(items: Iterable[tuple]) -> dict:
    """Points possible of every counted item, per group, from (group id,
    points possible) pairs."""
    possible: dict = {}
    for group_id, points in items:
        possible[group_id] = possible.get(group_id, ZERO) + points
    return possible


def group_totals(cells: Iterable, possible: dict) -> dict:
    """Points earned and possible per group (None: items in no group).
    `cells` are the grades given or excused (Cell or plain tuples of the same
    four); `possible` is possible_by_group of every counted item, so an item
    without a cell counts as zero in the final total only."""
    sums = {group_id: [ZERO, ZERO, points] for group_id, points in possible.items()}
    for group_id, points, score, excused in cells:
        group = sums.setdefault(group_id, [ZERO, ZERO, ZERO])
        if excused:
            group[2] -= points
        elif score is not None:
            group[0] += score
            group[1] += points
    return {group_id: GroupTotal(*values) for group_id, values in sums.items()}


def _ratio(earned: Decimal, possible: Decimal) -> Decimal | None:
    return earned / possible if possible else None


def _weighted(groups: dict, weights: dict, possible: str) -> Decimal | None:
    weighted_sum = total_weight = ZERO
    for group_id, total in groups.items():
        weight = weights.get(group_id, ZERO) if group_id is not None else ZERO
        ratio = _ratio(total.earned, getattr(total, possible))
        if ratio is None or not weight:
            continue
        weighted_sum += weight * ratio
        total_weight += weight
    if not total_weight:
        return None
    return (weighted_sum * 100 / total_weight).quantize(CENT, ROUND_HALF_UP)


def _unweighted(groups: dict, possible: str) -> Decimal | None:
    earned = sum((t.earned for t in groups.values()), ZERO)
    return percentage(earned, sum((getattr(t, possible) for t in groups.values()), ZERO))


def course_totals(cells: Iterable, *, possible: dict, weights: dict | None = None) -> Totals:
    """Group totals and the course's current and final percentages (see
    group_totals for `cells` and `possible`); `weights` (group id -> percent)
    when the course weights its groups, else None."""
    groups = group_totals(cells, possible)
    if weights is None:
        current = _unweighted(groups, "possible_current")
        final = _unweighted(groups, "possible_final")
    else:
        current = _weighted(groups, weights, "possible_current")
        final = _weighted(groups, weights, "possible_final")
    return Totals(groups=groups, current=current, final=final)
