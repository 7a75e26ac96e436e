"""Row locks in one global order, so that transactions changing several rows never deadlock.

A transaction that updates rows one by one, in an order its input decides (the stacking order of a
redemption, the children of a rollback), deadlocks with one that meets the same rows the other way round.
A writer that changes several such rows takes them here first, all at once: table by table in
TABLE_ORDER, each table's rows in primary-key order, one `SELECT ... FOR NO KEY UPDATE` per table. Its
conditional UPDATEs then find their rows held. (DESIGN.md: "where several rows must be locked, lock them
in primary-key order".)

Tables not named in TABLE_ORDER come after those named, by label. Limit counters (rules.counters.lock)
come after every table. SQLite locks the whole database for a writer: nothing to order there.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.db import connection
from django.db.models import Model, Q

# The global order of the tables a redemption changes; a gift card row is changed only under its voucher's lock.
TABLE_ORDER = ("promo.voucher", "promo.promotiontier")

# (model, field, value): the row of `model` whose `field` (the primary key, or a unique field) is `value`.
Row = tuple[type[Model], str, Any]


def ordering_needed() -> bool:
    return connection.features.has_select_for_update


def _rank(model: type[Model]) -> tuple[int, str]:
    label = model._meta.label_lower
    return (TABLE_ORDER.index(label) if label in TABLE_ORDER else len(TABLE_ORDER), label)


def lock_rows(rows: Iterable[Row], *, leave_last: bool = False) -> None:
    """Lock `rows` in the global order. `leave_last`: the caller takes the greatest row itself (its own
    UPDATE, after these: still in order), which saves the query when there is only one row to order."""
    by_model: dict[type[Model], dict[str, set]] = defaultdict(lambda: defaultdict(set))
    for model, field, value in rows:
        by_model[model][field].add(value)
    tables = sorted(by_model, key=_rank)
    if leave_last and tables and set(by_model[tables[-1]]) == {"pk"}:
        last = by_model[tables[-1]]["pk"]
        last.discard(max(last))
        if not last:
            tables.pop()
    for model in tables:
        lookups = Q()
        for field, values in by_model[model].items():
            lookups |= Q(**{f"{field}__in": sorted(values)})
        # NO KEY UPDATE: the lock the UPDATE itself would take; inserts referencing the row still pass.
        list(model.objects.filter(lookups).order_by("pk").select_for_update(no_key=True).values_list("pk", flat=True))
