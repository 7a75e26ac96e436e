"""Hot-path reads without the ORM's per-call query compilation.

On the checkout path (a validation costs three reads) Django spends longer building each SELECT
than PostgreSQL spends answering it. A RowLoader writes the SELECT of a model and its forward
foreign keys once per process and turns rows back into linked model instances, with the same
database converters the ORM applies, so callers get ordinary model objects.

    loader = RowLoader(Voucher, ["campaign", "campaign__category", "category"])
    vouchers = loader.fetch("t0.code = %s", [code], limit=1)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connections
from django.db.models import Model


@dataclass
class _Node:
    model: type[Model]
    alias: str
    parent: _Node | None  # None for the root
    field: object | None  # the ForeignKey on the parent that leads here
    start: int = 0  # position of this node's first column in the row
    key_position: int = 0  # of the joined-on column within this node's columns (null: no related row)
    parent_index: int = -1
    converters: list | None = None


class RowLoader:
    def __init__(self, model: type[Model], related: Sequence[str] = (), using: str = "default", *,
                 extra: dict[str, str] | None = None):
        """`extra`: attribute name -> SQL expression over the aliases, set on each root instance as read."""
        # Built on first use: module-level loaders must not touch the app registry at import time.
        self.model, self.related, self.using = model, tuple(related), using
        self.extra = dict(extra or {})
        self.nodes: list[_Node] = []
        self._sql: str | None = None

    def _prepare(self) -> None:
        root = _Node(model=self.model, alias="t0", parent=None, field=None)
        nodes, by_path = [root], {"": root}
        for path in sorted(self.related, key=lambda p: p.count("__")):
            parent_path, _, name = path.rpartition("__")
            parent = by_path[parent_path]
            field = parent.model._meta.get_field(name)
            node = _Node(model=field.related_model, alias=f"t{len(nodes)}", parent=parent, field=field,
                         parent_index=nodes.index(parent))
            node.key_position = list(node.model._meta.concrete_fields).index(field.target_field)
            by_path[path] = node
            nodes.append(node)
        self.nodes = nodes
        self._sql = self._build_sql()

    def _build_sql(self) -> str:
        connection = connections[self.using]
        quote = connection.ops.quote_name
        columns, joins, position = [], [], 0
        for node in self.nodes:
            node.start = position
            fields = node.model._meta.concrete_fields
            columns.extend(f"{node.alias}.{quote(f.column)}" for f in fields)
            position += len(fields)
            if node.parent is not None:
                target = node.field.target_field
                joins.append(f"LEFT OUTER JOIN {quote(node.model._meta.db_table)} {node.alias} ON "
                             f"{node.alias}.{quote(target.column)} = {node.parent.alias}.{quote(node.field.column)}")
        columns.extend(f"({expression})" for expression in self.extra.values())
        self._extra_start = position
        table = quote(self.model._meta.db_table)
        return f"SELECT {', '.join(columns)} FROM {table} t0 {' '.join(joins)}"

    def _converters(self, node: _Node, connection) -> list:
        if node.converters is None:
            node.converters = []
            for field in node.model._meta.concrete_fields:
                col = field.get_col(node.alias)
                converters = connection.ops.get_db_converters(col) + field.get_db_converters(connection)
                node.converters.append((col, converters))
        return node.converters

    def fetch(self, where: str, params: Sequence, *, limit: int | None = None) -> list[Model]:
        """Instances matching `where`: SQL over the aliases t0 (the model) and t1, t2... (the relations,
        shallowest first)."""
        connection = connections[self.using]
        if self._sql is None:
            self._prepare()
        sql = f"{self._sql} WHERE {where}" + (f" LIMIT {int(limit)}" if limit is not None else "")
        with connection.cursor() as cursor:
            cursor.execute(sql, list(params))
            rows = cursor.fetchall()
        return [self._instance(row, connection) for row in rows]

    def _instance(self, row: tuple, connection) -> Model:
        built: dict[int, Model | None] = {}
        for index, node in enumerate(self.nodes):
            fields = node.model._meta.concrete_fields
            values = list(row[node.start:node.start + len(fields)])
            if node.parent is not None and values[node.key_position] is None:
                built[index] = None  # the foreign key is null (or points nowhere)
            else:
                for position, (col, converters) in enumerate(self._converters(node, connection)):
                    for converter in converters:
                        values[position] = converter(values[position], col, connection)
                built[index] = node.model.from_db(self.using, [f.attname for f in fields], values)
            if node.parent is not None:
                parent = built[node.parent_index]
                if parent is not None:
                    node.field.set_cached_value(parent, built[index])
        for offset, name in enumerate(self.extra):
            setattr(built[0], name, row[self._extra_start + offset])
        return built[0]


def placeholders(values: Sequence) -> str:
    """`%s, %s, ...` for an IN list (works on every backend, unlike PostgreSQL's = ANY(%s))."""
    return ", ".join(["%s"] * len(values))
