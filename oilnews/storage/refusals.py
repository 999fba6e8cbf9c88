"""Rows a database refuses while it is up: which errors are about the rows written (a
constraint, a type, a size; or the writer failing on them), and the write that isolates them.

A refused batch is written half by half, down to single rows, so that every row the database
takes is stored and only the refused ones are left out, each with its error. Any other error
is about every row (an outage, an unusable database) and is raised for the caller to spool the
batch whole."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Connection
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError

from oilnews.errors import DatabaseUnusable
from oilnews.storage.batch import Batch
from oilnews.storage.writer import BatchResult

# What a database says of particular rows. PostgreSQL names it by SQLSTATE: class 22 (a value
# of the wrong type, out of range, too long), class 23 (a constraint: unique, not null, check,
# foreign key) and P0001 (a trigger's RAISE EXCEPTION); its class 42 (a table or column that is
# not there) is about every row. sqlite3 raises IntegrityError for a constraint and for a
# trigger's RAISE(ABORT), DataError for a value too big.
ROW_SQLSTATE_CLASSES = ("22", "23")
ROW_SQLSTATES = ("P0001",)
ROW_REFUSALS = (IntegrityError, DataError)


def is_refusal(error: BaseException) -> bool:
    """Whether `error` is about the rows written (the database refused them, or the writer
    failed on them: a bug), so that other rows would go in. Anything else from the database
    (unreachable, restarting, a schema that is not there) is about every row: the batch waits
    whole in the spool."""
    if not isinstance(error, DBAPIError):
        return True
    state = getattr(error.orig, "sqlstate", None)
    if state:
        return state[:2] in ROW_SQLSTATE_CLASSES or state in ROW_SQLSTATES
    return isinstance(error, ROW_REFUSALS)


def refusal_kind(error: BaseException) -> str:
    """`refused`: the database said no to these rows (constraint, type, size, a trigger);
    `bug`: oilnews failed on them before the database had its say."""
    return "refused" if isinstance(error, DBAPIError) else "bug"


@dataclass
class Isolated:
    """What `write_isolating` stored and what the database refused, row by row."""

    results: list[BatchResult] = field(default_factory=list)
    refused: list[tuple[Batch, BaseException]] = field(default_factory=list)


Transaction = Callable[[Callable[[Connection], BatchResult]], BatchResult]


def write_isolating(transaction: Transaction, batch: Batch, max_versions_per_day: int = 0) -> Isolated:
    """Write `batch` in one transaction; if the database refuses rows of it (is_refusal), write
    its halves, and so on down to single rows, so that only the refused rows are left out. Any
    other error (an outage, an unusable database) is raised: the caller spools the whole batch,
    whose rows stored meanwhile a replay writes again unchanged."""
    outcome = Isolated()

    def attempt(parts: list[Batch]) -> None:
        joined = Batch.joined(parts)
        try:
            outcome.results.append(transaction(lambda conn: joined.write(conn, max_versions_per_day)))
            return
        except DatabaseUnusable:
            raise
        except Exception as error:
            if not is_refusal(error):
                raise
            if len(parts) == 1:
                outcome.refused.append((parts[0], error))
                return
        middle = len(parts) // 2
        attempt(parts[:middle])
        attempt(parts[middle:])

    units = batch.units()
    if units:
        attempt(units)
    return outcome
