"""Which database errors are about the rows written (isolated, kept as dead letters) and which
about every row (the batch spooled whole): oilnews.storage.refusals.is_refusal."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError, ProgrammingError

from oilnews.storage.refusals import is_refusal, refusal_kind


class _Driver(Exception):
    def __init__(self, sqlstate: str | None) -> None:
        super().__init__(sqlstate or "no sqlstate")
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("error", "refusal"),
    [
        (IntegrityError("INSERT", {}, _Driver("23505")), True),  # unique violation
        (IntegrityError("INSERT", {}, _Driver("23502")), True),  # not null
        (DataError("INSERT", {}, _Driver("22001")), True),  # value too long
        (ProgrammingError("INSERT", {}, _Driver("P0001")), True),  # a trigger's RAISE EXCEPTION
        (ProgrammingError("INSERT", {}, _Driver("42P01")), False),  # no such table: every row
        (OperationalError("INSERT", {}, _Driver("08006")), False),  # connection failure
        (OperationalError("INSERT", {}, _Driver("57P01")), False),  # the server shutting down
        (IntegrityError("INSERT", {}, _Driver(None)), True),  # SQLite: a constraint or RAISE(ABORT)
        (OperationalError("INSERT", {}, _Driver(None)), False),  # SQLite: locked, no such table
        (TypeError("the writer failed on a value"), True),  # a bug: isolated too
    ],
)
def test_which_errors_are_about_the_rows(error: BaseException, refusal: bool) -> None:
    assert is_refusal(error) is refusal


def test_a_refusal_is_told_from_a_bug() -> None:
    assert refusal_kind(IntegrityError("INSERT", {}, _Driver("23505"))) == "refused"
    assert refusal_kind(TypeError("x")) == "bug"
    assert isinstance(IntegrityError("INSERT", {}, _Driver("23505")), DBAPIError)
