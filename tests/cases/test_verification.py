import datetime as dt

import pytest

from cases.verification import Verification, parse_birth_date, parse_verification

TODAY = dt.date(2026, 11, 24)
BORN = dt.date(1990, 3, 12)


@pytest.mark.parametrize(
    "typed",
    [
        "12.03.1990",
        "12/03/1990",
        "12-03-1990",
        "12 03 1990",
        "1990-03-12",
        "1990.03.12",
        "12.3.1990",
        "12.03.90",
        "12 March 1990",
        "12 march 1990",
        "March 12, 1990",
        "Mar 12 1990",
        "12 Mar. 1990",
        "12 марта 1990",
        "12 марта 1990 г.",
        "12 марта 1990 года",
        "12 март 1990",
        "12 mart 1990",
        "12 martda 1990",
        "  12.03.1990  ",
    ],
)
def test_birth_dates_in_usual_formats(typed):
    assert parse_birth_date(typed, TODAY) == BORN


@pytest.mark.parametrize(
    "typed",
    [
        "31.02.1990",
        "12.13.1990",
        "2027-01-01",
        "01.01.1890",
        "tomorrow",
        "",
        "12 blorp 1990",
        "1990",
    ],
)
def test_impossible_or_unreadable_dates(typed):
    assert parse_birth_date(typed, TODAY) is None


def test_two_digit_years_pivot_on_today():
    assert parse_birth_date("01.01.05", TODAY) == dt.date(2005, 1, 1)
    assert parse_birth_date("01.01.30", TODAY) == dt.date(1930, 1, 1)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("12.03.1990", Verification(date_of_birth=BORN)),
        ("5ZK2L9B", Verification(personal_id="5ZK2L9B")),
        ("5zk 2l9b", Verification(personal_id="5ZK2L9B")),
        ("hello", None),
        ("1234567", None),
        ("ABCDEFG", None),
        ("5ZK2L9BX", None),
    ],
)
def test_verification_is_a_date_or_a_fin(typed, expected):
    assert parse_verification(typed, TODAY) == expected


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("my date of birth is 12.03.1990", Verification(date_of_birth=BORN)),
        ("родился 12 марта 1990", Verification(date_of_birth=BORN)),
        ("doğum tarixim 12.03.1990", Verification(date_of_birth=BORN)),
        ("FİN kodum 5ZK2L9B", Verification(personal_id="5ZK2L9B")),
        ("my fin is 5zk2l9b, thanks", Verification(personal_id="5ZK2L9B")),
        ("my number is TRP-2026-000102", None),
        ("born in 1990", None),
        ("version 1.2.3", None),
    ],
)
def test_a_date_or_fin_inside_a_sentence(typed, expected):
    assert parse_verification(typed, TODAY) == expected
