"""Arithmetic of grades, without the database: percentages, letters from a
course's scheme. The gradebook's totals build on these."""

from decimal import ROUND_HALF_UP, Decimal

from .models import DEFAULT_LETTER_SCHEME, GradingPolicy

CENT = Decimal("0.01")

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
