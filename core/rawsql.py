"""Hot-path reads and writes without the ORM's per-call query compilation.

On the checkout path (a validation costs three reads) Django spends longer building each SELECT
than PostgreSQL spends answering it. A RowLoader writes the SELECT of a model and its forward
foreign keys once per process and turns rows back into linked model instances, with the same
database converters the ORM applies, so callers get ordinary model objects.

    loader = RowLoader(Voucher, ["campaign", "campaign__category", "category"])
    vouchers = loader.fetch("t0.code = %s", [code], limit=1)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import connections
from django.db.models import Model

from core import jsonfast


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


# ---------------------------------------------------------------- writes

@dataclass(frozen=True, eq=False)
class Ref:
    """Stands for the primary key of the row that an earlier insert step of a WriteChain adds (a
    one-row step), wherever a field value or a dependency is expected."""

    step: int


@dataclass
class _Step:
    kind: str  # "insert", "execute" or "select"
    sql: str = ""
    params: list = field(default_factory=list)
    depends: tuple[int, ...] = ()
    plan: _Plan | None = None
    rows: list[list] = field(default_factory=list)  # prepared values, Refs left in place
    objs: list[Model] = field(default_factory=list)
    ignore_conflicts: bool = False
    as_json: bool = False  # rows hold JSON-ready values (PostgreSQL), not database-ready ones
    refs: list[int] = field(default_factory=list)  # positions of the fields that hold a Ref in some row
    uniform: bool = True  # every row holds the same Ref at each of those positions


@dataclass
class _Plan:
    """What an INSERT of a model needs, worked out once per model and database."""

    fields: list
    table: str
    columns: str  # quoted, comma-separated
    pk: str  # quoted primary key column
    quoted: list[str]  # per field: its quoted column
    names: list[str]  # per field: its column as a JSON key
    casts: list[str]  # per field: the type to cast one value to (PostgreSQL)
    # per field: value -> its JSON form (None: as it is), for rows sent as one JSON document (PostgreSQL);
    # None when a field's type has no JSON form here
    as_json: list | None


_plans: dict[tuple, _Plan] = {}

# Types whose values PostgreSQL's jsonb_populate_record reads back exactly from their JSON form.
_JSON_AS_IS = {"AutoField", "BigAutoField", "SmallAutoField", "IntegerField", "BigIntegerField",
               "SmallIntegerField", "PositiveIntegerField", "PositiveBigIntegerField", "PositiveSmallIntegerField",
               "CharField", "TextField", "SlugField", "EmailField", "URLField", "BooleanField", "JSONField",
               "GenericIPAddressField"}  # inet reads its text form
_JSON_ISO = {"DateTimeField", "DateField"}


def _iso(value):
    return None if value is None else value.isoformat()


def _json_form(f):
    target = f.target_field if f.is_relation else f
    kind = target.get_internal_type()
    if kind in _JSON_AS_IS and getattr(target, "encoder", None) is None:
        return None
    if kind in _JSON_ISO:
        return _iso
    raise LookupError(kind)


def _plan(model: type[Model], connection) -> _Plan:
    key = (model, connection.alias)
    plan = _plans.get(key)
    if plan is None:
        quote = connection.ops.quote_name
        auto = model._meta.auto_field
        fields = [f for f in model._meta.concrete_fields if f is not auto]
        try:
            as_json = [_json_form(f) for f in fields]
        except LookupError:
            as_json = None
        quoted = [quote(f.column) for f in fields]
        plan = _plans[key] = _Plan(
            fields=fields, table=quote(model._meta.db_table), columns=", ".join(quoted),
            pk=quote(model._meta.pk.column), quoted=quoted, names=[f.column for f in fields],
            casts=[f.cast_db_type(connection) for f in fields],
            as_json=as_json)
    return plan


class ChainResult:
    def __init__(self, ids: dict[int, list[int]], selected: dict[int, list[dict]]):
        self._ids, self._selected = ids, selected

    def ids(self, ref: Ref) -> list[int]:
        return self._ids.get(ref.step, [])

    def inserted(self, ref: Ref) -> bool:
        return bool(self._ids.get(ref.step))

    def rows(self, ref: Ref) -> list[dict]:
        return self._selected.get(ref.step, [])


class WriteChain:
    """Inserts and updates that depend on each other's new primary keys (an order and its items, a
    parent redemption and its children), sent to PostgreSQL as ONE statement of data-modifying CTEs
    and run one after another elsewhere (SQLite). On the checkout path each statement the ORM builds
    costs more Python than PostgreSQL needs to run it, and each round trip is a wait for the CPU on a
    busy machine.

        chain = WriteChain()
        order = chain.insert([Order(...)], ignore_conflicts=True)
        chain.insert([OrderItem(order_id=order, ...) for ...])       # a Ref as a value: the new order's pk
        chain.execute("UPDATE customers_customer SET ... WHERE id = %s", [pk], when=order)
        result = chain.run()                                         # result.inserted(order)

    A step that names a Ref (as a value or in `when`) runs only if that step inserted its row, so an
    insert skipped by ON CONFLICT DO NOTHING skips everything that hangs on it. Model instances get
    their field defaults and pre_save values (auto_now, public ids) when queued and their primary keys
    after run(). No signals are sent (the project uses none for business effects)."""

    def __init__(self, using: str = "default"):
        self.using = using
        self.steps: list[_Step] = []

    def insert(self, objs: Sequence[Model], *, ignore_conflicts: bool = False, when: Ref | None = None) -> Ref:
        """Queue an INSERT of instances of one model; the Ref names its first row's primary key."""
        if not objs:
            raise ValueError("Nothing to insert")
        connection = connections[self.using]
        plan = _plan(type(objs[0]), connection)
        as_json = plan.as_json is not None and connection.vendor == "postgresql"
        rows, depends, refs = [], {when.step} if when is not None else set(), {}
        for obj in objs:
            row = []
            for position, (f, form) in enumerate(zip(plan.fields, plan.as_json or plan.fields, strict=True)):
                value = f.pre_save(obj, True)
                if isinstance(value, Ref):
                    depends.add(value.step)
                    refs.setdefault(position, set()).add(value.step)
                elif as_json:
                    value = f.get_prep_value(value) if form is None else form(value)
                else:
                    value = f.get_db_prep_save(value, connection)
                row.append(value)
            rows.append(row)
        # Whether every row names the same Ref in the same columns (as an order's items do): then one
        # document carries the rows and the Ref is a column of the statement.
        uniform = all(len(steps) == 1 for steps in refs.values()) and all(
            isinstance(row[position], Ref) for row in rows for position in refs)
        self.steps.append(_Step("insert", depends=tuple(sorted(depends)), plan=plan, rows=rows, objs=list(objs),
                                ignore_conflicts=ignore_conflicts, as_json=as_json, refs=sorted(refs),
                                uniform=uniform))
        return Ref(len(self.steps) - 1)

    def execute(self, sql: str, params: Sequence = (), *, when: Ref | None = None) -> None:
        """Queue an UPDATE or DELETE. With `when`, the chain ANDs "that step inserted its row" onto the
        statement's WHERE clause, which must therefore come last in `sql`."""
        depends = (when.step,) if when is not None else ()
        self.steps.append(_Step("execute", sql=sql, params=list(params), depends=depends))

    def select(self, sql: str, params: Sequence = ()) -> Ref:
        """Queue a SELECT whose rows (as dicts) run() returns; on PostgreSQL it sees the database as it
        was before the chain's own writes."""
        self.steps.append(_Step("select", sql=sql, params=list(params)))
        return Ref(len(self.steps) - 1)

    def run(self) -> ChainResult:
        connection = connections[self.using]
        if connection.vendor == "postgresql":
            ids, selected = self._run_as_one(connection)
        else:
            ids, selected = self._run_in_turn(connection)
        for index, step in enumerate(self.steps):
            if step.kind == "insert":
                self._settle(step, ids.get(index, []), ids)
        return ChainResult(ids, selected)

    # -- PostgreSQL: one statement

    def _run_as_one(self, connection) -> tuple[dict, dict]:
        ctes, params, outputs = [], [], []
        for index, step in enumerate(self.steps):
            name = f"w{index}"
            if step.kind == "insert":
                sql, step_params = self._insert_sql(step)
                outputs.append((index, f"(SELECT json_agg({step.plan.pk}) FROM {name})::text"))
            elif step.kind == "execute":
                sql, step_params = step.sql, step.params
                if step.depends:
                    sql += " AND " + " AND ".join(f"EXISTS (SELECT 1 FROM w{d})" for d in step.depends)
            else:
                sql, step_params = step.sql, step.params
                outputs.append((index, f"(SELECT json_agg(r) FROM {name} r)::text"))
            ctes.append(f"{name} AS ({sql})")
            params.extend(step_params)
        final = ", ".join(expression for _index, expression in outputs) or "1"
        with connection.cursor() as cursor:
            cursor.execute(f"WITH {', '.join(ctes)} SELECT {final}", params)
            row = cursor.fetchone()
        ids, selected = {}, {}
        for (index, _expression), value in zip(outputs, row, strict=False):
            decoded = json.loads(value) if value else []
            (selected if self.steps[index].kind == "select" else ids)[index] = decoded
        return ids, selected

    def _insert_sql(self, step: _Step) -> tuple[str, list]:
        plan = step.plan
        sources = [f"w{d}" for d in step.depends]
        if step.as_json and step.uniform:
            # The rows as one JSON document read back into the table's row type: one parameter whatever
            # the number of rows and columns, so the statement's text never changes (PostgreSQL prepares
            # it once per connection) and psycopg adapts one string instead of every value.
            first = step.rows[0]
            expressions = [f"w{first[n].step}.{self.steps[first[n].step].plan.pk}" if n in step.refs else f"u.{name}"
                           for n, name in enumerate(plan.quoted)]
            keys = [(n, plan.names[n]) for n in range(len(plan.fields)) if n not in step.refs]
            document = [{key: row[n] for n, key in keys} for row in step.rows]
            function = "jsonb_populate_recordset" if len(step.rows) > 1 else "jsonb_populate_record"
            source = f"{function}(NULL::{plan.table}, %s::jsonb) AS u"
            selects = [f"SELECT {', '.join(expressions)} FROM {', '.join([*sources, source])}"]
            params = [jsonfast.dumps(document if len(step.rows) > 1 else document[0])]
        else:
            source = f" FROM {', '.join(sources)}" if sources else ""
            selects, params = [], []
            for row in step.rows:
                values = []
                for f, value, cast in zip(plan.fields, row, plan.casts, strict=True):
                    if isinstance(value, Ref):
                        values.append(f"w{value.step}.{self.steps[value.step].plan.pk}")
                    else:
                        values.append(f"%s::{cast}")
                        params.append(f.get_db_prep_save(value, connections[self.using]) if step.as_json else value)
                selects.append(f"SELECT {', '.join(values)}{source}")
        sql = f"INSERT INTO {plan.table} ({plan.columns}) {' UNION ALL '.join(selects)}"
        if step.ignore_conflicts:
            sql += " ON CONFLICT DO NOTHING"
        return sql + f" RETURNING {plan.pk}", params

    # -- other databases: one statement after another

    def _run_in_turn(self, connection) -> tuple[dict, dict]:
        ids: dict[int, list[int]] = {}
        selected: dict[int, list[dict]] = {}
        with connection.cursor() as cursor:
            for index, step in enumerate(self.steps):
                if any(not ids.get(d) for d in step.depends):
                    ids[index] = []
                    continue
                if step.kind == "insert":
                    plan = step.plan
                    rows = [[ids[v.step][0] if isinstance(v, Ref) else v for v in row] for row in step.rows]
                    marks = ", ".join(["(" + ", ".join(["%s"] * len(plan.fields)) + ")"] * len(rows))
                    conflict = " ON CONFLICT DO NOTHING" if step.ignore_conflicts else ""
                    cursor.execute(f"INSERT INTO {plan.table} ({plan.columns}) VALUES {marks}{conflict} "
                                   f"RETURNING {plan.pk}", [value for row in rows for value in row])
                    ids[index] = [r[0] for r in cursor.fetchall()]
                elif step.kind == "execute":
                    cursor.execute(step.sql, step.params)
                else:
                    cursor.execute(step.sql, step.params)
                    names = [column[0] for column in cursor.description]
                    selected[index] = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
        return ids, selected

    def _settle(self, step: _Step, new_ids: list[int], ids: dict) -> None:
        """Primary keys onto the inserted instances, and the Refs they held replaced by real keys."""
        if len(new_ids) != len(step.objs):
            return  # skipped or ignored on conflict: the instances stay unsaved
        held = [step.plan.fields[position].attname for position in step.refs]
        for obj, pk in zip(step.objs, new_ids, strict=True):
            obj.pk = pk
            obj._state.adding, obj._state.db = False, self.using
            for attname in held:
                value = getattr(obj, attname)
                if isinstance(value, Ref):
                    setattr(obj, attname, ids[value.step][0])
