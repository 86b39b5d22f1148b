"""Totals and letters without the database: tenant_apps.grading.calculations,
and the letter scheme's validation."""

from decimal import Decimal

import pytest

from conceptspro.api import ApplicationError
from tenant_apps.grading.calculations import (
    Cell,
    course_totals,
    letter_for,
    letter_scheme_from,
    percentage,
    possible_by_group,
)
from tenant_apps.grading.services import letter_scheme_clean

D = Decimal


def _totals(items, cells, weights=None):
    """`items`: (group, points) of every counted item."""
    return course_totals(cells, possible=possible_by_group(items), weights=weights)


def test_no_items_has_no_total():
    totals = _totals([], [])
    assert totals.current is None and totals.final is None and totals.groups == {}


def test_current_counts_graded_items_and_final_counts_the_rest_as_zero():
    items = [("hw", D(10)), ("hw", D(10)), ("hw", D(20))]
    totals = _totals(items, [Cell("hw", D(10), D(8)), Cell("hw", D(10), D(6))])
    assert totals.current == D("70.00")  # 14 / 20
    assert totals.final == D("35.00")  # 14 / 40
    assert totals.groups["hw"].current == D("70.00")


def test_all_excused_has_no_total_and_excused_counts_neither_way():
    items = [("hw", D(10)), ("hw", D(10))]
    all_excused = _totals(items, [Cell("hw", D(10), None, True), Cell("hw", D(10), D(0), True)])
    assert all_excused.current is None and all_excused.final is None
    one_excused = _totals(items, [Cell("hw", D(10), D(5)), Cell("hw", D(10), D(0), True)])
    assert one_excused.current == one_excused.final == D("50.00")


def test_a_zero_point_item_is_extra_credit():
    items = [("hw", D(10)), ("bonus", D(0))]
    totals = _totals(items, [Cell("hw", D(10), D(8)), Cell("bonus", D(0), D(2))])
    assert totals.current == D("100.00")  # (8 + 2) / 10
    assert totals.groups["bonus"].current is None, "nothing possible: no percentage"
    only_zero = _totals([("bonus", D(0))], [Cell("bonus", D(0), D(2))])
    assert only_zero.current is None


def test_weighted_total_scales_weights_of_groups_with_graded_items():
    items = [("hw", D(10)), ("exam", D(100)), ("quiz", D(10))]
    weights = {"hw": D(20), "exam": D(50), "quiz": D(10)}  # sum 80, not 100
    cells = [Cell("hw", D(10), D(10)), Cell("exam", D(100), D(50))]
    totals = _totals(items, cells, weights)
    # current: (20 * 100% + 50 * 50%) / 70 = 64.29; the quiz has no grade.
    assert totals.current == D("64.29")
    # final: the quiz counts as 0%: (20 + 25 + 0) / 80 = 56.25.
    assert totals.final == D("56.25")


def test_weighted_total_ignores_ungrouped_items_and_zero_weights():
    items = [(None, D(10)), ("hw", D(10)), ("free", D(10))]
    weights = {"hw": D(40), "free": D(0)}
    cells = [Cell(None, D(10), D(0)), Cell("hw", D(10), D(9)), Cell("free", D(10), D(0))]
    assert _totals(items, cells, weights).current == D("90.00")
    assert _totals(items, [Cell(None, D(10), D(5))], weights).current is None


def test_weights_all_zero_give_no_weighted_total():
    totals = _totals([("hw", D(10))], [Cell("hw", D(10), D(5))], {"hw": D(0)})
    assert totals.current is None


def test_cells_of_items_not_counted_still_add_to_their_group():
    # A cell whose group has no counted item (the caller passed more cells).
    totals = _totals([], [Cell("hw", D(10), D(5))])
    assert totals.current == D("50.00") and totals.final is None


def test_percentage_and_letters():
    assert percentage(None, 10) is None and percentage(D(5), 0) is None
    assert percentage(D(1), D(3)) == D("33.33")
    scheme = letter_scheme_from(None)
    assert letter_for(D("94.00"), scheme) == "A"
    assert letter_for(D("93.99"), scheme) == "A-"
    assert letter_for(D("0"), scheme) == "F"
    assert letter_for(None, scheme) is None
    custom = letter_scheme_from([["Pass", "50.00"], ["Fail", "0.00"]])
    assert letter_for(D("50"), custom) == "Pass" and letter_for(D("49.99"), custom) == "Fail"


def test_letter_scheme_clean_orders_and_keeps_two_decimals():
    assert letter_scheme_clean([["F", 0], ["P", D("59.5")]]) == [["P", "59.50"], ["F", "0.00"]]


@pytest.mark.parametrize(
    ("scheme", "field"),
    [
        ([["A", 90], ["A", 0]], "letter_scheme[1].letter"),
        ([["A", 90], ["B", 90], ["F", 0]], "letter_scheme[1].minimum"),
        ([["A", 90], ["B", 50]], "letter_scheme"),
        ([["A", 101], ["F", 0]], "letter_scheme[0].minimum"),
        ([["A", -1], ["F", 0]], "letter_scheme[0].minimum"),
        ([["", 50], ["F", 0]], "letter_scheme[0].letter"),
        ([["A"], ["F", 0]], "letter_scheme[0]"),
        ([["A", "NaN"], ["F", 0]], "letter_scheme[0]"),
        ([], "letter_scheme"),
    ],
)
def test_letter_scheme_clean_refuses(scheme, field):
    with pytest.raises(ApplicationError) as refused:
        letter_scheme_clean(scheme)
    assert field in refused.value.fields
