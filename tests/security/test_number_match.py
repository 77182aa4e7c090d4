"""Number matching: two digits, three choices, only the right pick approves."""

from __future__ import annotations

from pushgate.security import number_match
from pushgate.security.push_limits import REPORTED, WRONG_NUMBER, judge_answer


def test_numbers_have_two_digits_and_three_distinct_choices() -> None:
    seen_positions = set()
    for _ in range(300):
        number = number_match.new_number()
        assert 10 <= number <= 99
        choices = number_match.choices_for(number)
        assert len(choices) == 3 == len(set(choices))
        assert number in choices
        assert all(10 <= n <= 99 for n in choices)
        seen_positions.add(choices.index(number))
    # The right number is not always in the same place.
    assert seen_positions == {0, 1, 2}


def test_only_the_right_pick_approves() -> None:
    assert judge_answer("approved", 42, 42, reported=False).status == "approved"
    wrong = judge_answer("approved", 42, 17, reported=False)
    assert (wrong.status, wrong.flagged, wrong.reason) == ("denied", True, WRONG_NUMBER)
    missing = judge_answer("approved", 42, None, reported=False)
    assert missing.status == "denied" and missing.flagged
    # Requests made without a number (older clients) need no pick.
    assert judge_answer("approved", None, None, reported=False).status == "approved"
    # A plain deny is not flagged and needs no pick.
    plain = judge_answer("denied", 42, None, reported=False)
    assert (plain.status, plain.flagged, plain.pause) == ("denied", False, False)


def test_deny_and_report_flags_and_pauses() -> None:
    report = judge_answer("denied", 42, None, reported=True)
    assert (report.status, report.flagged, report.reason, report.pause) == (
        "denied",
        True,
        REPORTED,
        True,
    )
    # Reporting wins even over an approval with the right number.
    assert judge_answer("approved", 42, 42, reported=True).status == "denied"
