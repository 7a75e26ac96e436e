"""Writes of the redemption engine: validation sessions, redemptions (one transaction each, a row
for every attempt), rollbacks (once), and session release."""

from __future__ import annotations

import logging
import secrets

from django.db import transaction

from core import locks as row_locks
from core import metrics
from core.context import current_client_ip, current_request_id
from core.errors import ApiError, InvalidPayload, NotFound
from core.fields import new_public_id
from core.permissions import restrict
from core.rawsql import WriteChain
from core.throttling import customer_ref
from customers import services as customer_services
from customers.models import Order
from promo import abuse, locks, presenters
from promo.context import Context, build_context
from promo.engine import APPLICABLE, INAPPLICABLE, Evaluation, evaluate
from promo.models import FailedAttempt, Redemption, RedemptionRollback, Voucher
from promo.registry import RedeemableError, handler_for
from promo.stacking import StackingRules, project_stacking_rules
from rules import counters
from rules import evaluation as rule_evaluation

logger = logging.getLogger(__name__)


class RedemptionFailed(ApiError):
    """A redemption that could not be made: the attempt is recorded and its reasons returned."""

    status = 400


def _context(payload: dict, api_key) -> tuple[Context, StackingRules]:
    rules = project_stacking_rules()
    if len(payload["redeemables"]) > rules.redeemables_limit:
        raise InvalidPayload(f"At most {rules.redeemables_limit} redeemables may be sent at once",
                             key="redeemables_limit_exceeded", message="Too many redeemables")
    return build_context(payload, api_key=api_key), rules


# ---------------------------------------------------------------- validation

def validate(payload: dict, *, api_key=None, guarded: bool = False) -> dict:
    """`guarded` (API callers): refused while the caller is locked out, and a refusal is recorded and counted
    towards lockouts (promo.abuse)."""
    caller = abuse.subjects(payload, api_key) if guarded else None
    abuse.refuse_if_locked(caller)
    ctx, rules = _context(payload, api_key)
    evaluation = evaluate(ctx, rules)
    session = _lock_session(evaluation) if ctx.session and evaluation.valid else None
    valid = evaluation.valid
    metrics.validation(valid, None if valid else _failure_key(evaluation))
    answer = presenters.validation_json(evaluation, validation_id=new_public_id("valid_"),
                                        request_id=current_request_id(), session=session)
    if caller is not None:
        abuse.after_attempt(FailedAttempt.Kind.VALIDATION, evaluation, caller)
    return answer


def _lock_session(evaluation: Evaluation) -> dict | None:
    """Reserve one use of each applicable limited voucher for the session."""
    ctx = evaluation.ctx
    session = dict(ctx.session)
    if session.get("type", "LOCK") != "LOCK":
        return None
    key = session.get("key") or "ssn_" + secrets.token_urlsafe(24)
    ttl = locks.session_ttl(session)
    taken: list = []
    for candidate in evaluation.applicable:
        voucher = candidate.obj
        if not isinstance(voucher, Voucher):
            continue
        if locks.acquire(key, voucher, ttl, customer=ctx.customer):
            taken.append(candidate)
            error = _handler_lock(candidate, ctx, key, ttl)
            if error is None:
                continue
        else:
            error = RedeemableError("quantity_exceeded", "Quantity exceeded",
                                    "The last use of this voucher is reserved by another session")
        for earlier in taken:  # lost a race for the last use (or the credits): reserve nothing
            _release_session(earlier.handler, earlier.obj, key)
        candidate.status = INAPPLICABLE
        candidate.error = error
        return None
    return {"key": key, "type": "LOCK", "ttl": session.get("ttl") or locks.DEFAULT_TTL[0],
            "ttl_unit": session.get("ttl_unit") or locks.DEFAULT_TTL[1]}


# Handler hook (giftcards): besides one use of the voucher, a handler may reserve more under the session --
# a gift card the credits the validation would spend -- with `lock(obj, ctx, session_key, ttl, applied)`
# (raising RedeemableError when it cannot) and give it back with `unlock(obj, session_key) -> bool`.
# The redemption with the same session key consumes the reservation in the handler's own redeem().
def _handler_lock(candidate, ctx, key: str, ttl) -> RedeemableError | None:
    lock = getattr(candidate.handler, "lock", None)
    if lock is None:
        return None
    try:
        lock(candidate.obj, ctx, key, ttl, candidate.applied)
    except RedeemableError as error:
        return error
    return None


def _release_session(handler, voucher: Voucher, session_key: str) -> bool:
    released = locks.release(session_key, voucher)
    unlock = getattr(handler, "unlock", None)
    return bool(unlock(voucher, session_key)) | released if unlock is not None else released


def session_release(code: str, session_key: str) -> None:
    voucher = restrict(Voucher.objects.filter(code=code), action="view").first()
    if voucher is None:
        raise NotFound.for_object("voucher", code)
    if not _release_session(handler_for(voucher.type), voucher, session_key):
        raise NotFound(f"Cannot find session {session_key} for voucher {code}")


# ---------------------------------------------------------------- redemption

def redeem(payload: dict, *, api_key=None, guarded: bool = False) -> dict:
    """Redeem the stacked request in one transaction, or record the failed attempt and raise RedemptionFailed.
    `guarded`: as for validate()."""
    caller = abuse.subjects(payload, api_key) if guarded else None
    abuse.refuse_if_locked(caller)
    ctx, rules = _context(payload, api_key)
    customer_before = ctx.customer  # a customer upserted inside a rolled-back transaction no longer exists
    evaluation = None
    try:
        with transaction.atomic():
            evaluation = evaluate(ctx, rules)
            if not evaluation.valid:
                raise _Refused(evaluation)
            answer = _persist(evaluation, payload)
    except _Refused as refused:
        raise _failed(refused.evaluation, caller)
    except RedeemableError as error:  # a limit reached by a concurrent redemption: nothing was written
        ctx.customer = customer_before
        raise _failed(_evaluation_after_race(evaluation, error), caller)
    metrics.redemption(True)  # after its transaction
    if caller is not None:  # some of the stacked codes may have been refused (PARTIAL application mode)
        abuse.after_attempt(FailedAttempt.Kind.REDEMPTION, evaluation, caller,
                            redemption=ctx.scratch["parent_redemption"])
    return answer


def _failed(evaluation: Evaluation, caller: list | None) -> RedemptionFailed:
    """Record the failed attempt (its own transaction: after the redemption's rollback) and the refusal."""
    parent = _record_failure(evaluation)
    if caller is not None:
        abuse.after_attempt(FailedAttempt.Kind.REDEMPTION, evaluation, caller, redemption=parent)
    return _failure(evaluation)


class _Refused(Exception):
    def __init__(self, evaluation: Evaluation):
        self.evaluation = evaluation


def _evaluation_after_race(evaluation: Evaluation, error: RedeemableError) -> Evaluation:
    culprit = evaluation.ctx.scratch.get("redeeming")
    for candidate in evaluation.candidates:
        if candidate is culprit:
            candidate.status, candidate.error, candidate.applied = INAPPLICABLE, error, None
        elif candidate.status == APPLICABLE:
            candidate.status, candidate.skip_key, candidate.applied = "SKIPPED", "preceding_validation_failed", None
    return evaluation


def _failure(evaluation: Evaluation) -> RedemptionFailed:
    error = evaluation.first_error() or RedeemableError("redemption_failed", "Redemption failed",
                                                        "No redeemable could be applied")
    request_id = current_request_id()
    redeemables = [presenters.redeemable_json(c, evaluation.ctx, request_id) for c in evaluation.candidates]
    return RedemptionFailed(error.details, key=error.key, message=error.message, extra={
        "error": presenters.error_json(error, request_id),
        "redemption_id": evaluation.ctx.scratch.get("failed_redemption_id"),
        "inapplicable_redeemables": [r for r in redeemables if r["status"] == "INAPPLICABLE"],
        "skipped_redeemables": [r for r in redeemables if r["status"] == "SKIPPED"],
    })


def _customer_for_write(ctx: Context):
    """The redeeming customer: the one named (updated with any other fields sent), or upserted by source_id."""
    data = ctx.customer_input
    if not data:
        return ctx.customer
    fields = {k: v for k, v in data.items() if k not in ("id", "source_id")}
    if ctx.customer is not None:
        return customer_services.customer_update(ctx.customer, fields) if fields else ctx.customer
    if not data.get("source_id"):
        if data.get("id"):
            raise NotFound.for_object("customer", data["id"])
        return None if not fields else customer_services.customer_create_or_update(fields)[0]
    return customer_services.customer_create_or_update({k: v for k, v in data.items() if k != "id"})[0]


def _order_payload(evaluation: Evaluation, customer) -> dict:
    ctx, state = evaluation.ctx, evaluation.ctx.state
    items = []
    for line in state.lines:
        info = ctx.items[line.index] if line.index < len(ctx.items) else None
        item = {"quantity": line.quantity, "price": line.price, "amount": line.amount,
                "discount_amount": line.discount_amount, "discount_quantity": line.discount_quantity,
                "related_object": info.related_object if info else ("sku" if line.sku_id else "product")}
        if line.sku_id:
            item["sku_id"] = line.sku_id
        elif line.product_id:
            item["product_id"] = line.product_id
        if info is not None:
            if info.source_id:
                item["source_id"] = info.source_id
            if info.metadata:
                item["metadata"] = info.metadata
        items.append(item)
    data = {"amount": state.amount, "discount_amount": state.discount_amount,
            "status": ctx.order_input.get("status") or Order.Status.PAID,
            "metadata": ctx.order_input.get("metadata"), "items": items or None}
    if ctx.has_items and state.amount != ctx.initial_amount:
        data["initial_amount"] = ctx.initial_amount
    if ctx.existing_order is None and ctx.order_input.get("source_id"):
        data["source_id"] = ctx.order_input["source_id"]
    return data


def _save_order(evaluation: Evaluation, customer) -> Order | None:
    ctx = evaluation.ctx
    if not ctx.has_order:
        return None
    data = _order_payload(evaluation, customer)
    if ctx.existing_order is not None:
        return customer_services.order_update(ctx.existing_order, data, reload=False, catalog=ctx.catalog,
                                              customer=customer, savepoint=False)
    order, _created = customer_services.order_create_or_update(data, reload=False, catalog=ctx.catalog,
                                                               customer=customer, savepoint=False)
    return order


def _persist(evaluation: Evaluation, payload: dict) -> dict:
    ctx = evaluation.ctx
    customer = _customer_for_write(ctx)
    ctx.customer = customer  # per-customer limits are keyed by the stored customer
    order = _save_order(evaluation, customer)
    common = {"customer": customer, "order": order, "tracking_id": ctx.tracking_id or "",
              "session_key": ctx.session_key or "", "metadata": ctx.metadata, "channel": "API",
              "api_key": ctx.api_key, **_caller_fields(ctx), "request_id": current_request_id() or ""}
    total = sum(c.applied.amount for c in evaluation.applicable)
    parent_id = new_public_id("r_")  # a parent redemption names itself as its related object
    parent = Redemption(public_id=parent_id, result=Redemption.Result.SUCCESS, status=Redemption.Status.SUCCEEDED,
                        related_object_type="redemption", related_object_id=parent_id, amount=total, **common)
    # Everything but what the counters take is made first. Then the counters, then every row in one
    # statement (core.rawsql.WriteChain): a popular code's row stays locked from its UPDATE until COMMIT,
    # so only that statement and the COMMIT come after it.
    rows = [(candidate, {
        "result": Redemption.Result.SUCCESS, "status": Redemption.Status.SUCCEEDED,
        "related_object_type": candidate.ref.object, "related_object_id": _object_id(candidate),
        "voucher": candidate.obj if isinstance(candidate.obj, Voucher) else None,
        "campaign": candidate.handler.campaign(candidate.obj), "amount": candidate.applied.amount,
        "details": {"redeemable": presenters.redeemable_json(candidate, ctx, common["request_id"]),
                    "described": candidate.handler.describe(candidate.obj)}, **common})
        for candidate in evaluation.applicable]
    chain = WriteChain()
    parent_ref = chain.insert([parent])
    if customer is not None:
        chain.insert([customer_services.customer_activity_row(customer, "customer.redemption.succeeded", {
            "redemption_id": parent.public_id, "amount": total,
            "redeemables": [c.ref.id for c in evaluation.applicable]})])
    ctx.scratch.update(parent_redemption=parent, order=order)  # handlers' ledgers name what they belong to
    _lock_for_redemption(evaluation)
    taken_by = []
    for candidate, _fields in rows:
        ctx.scratch["redeeming"] = candidate
        taken_by.append(candidate.handler.redeem(candidate.obj, ctx, candidate.ref, candidate.applied))
    children = [Redemption(parent_id=parent_ref, effect={"kind": candidate.handler.kind, "taken": taken}, **fields)
                for (candidate, fields), taken in zip(rows, taken_by, strict=True)]
    if children:
        chain.insert(children)
    chain.run()
    for child in children:
        child.parent = parent
    return presenters.redemption_response(evaluation, parent, children, order, customer)


def _object_id(candidate) -> str:
    obj = candidate.obj
    return getattr(obj, "public_id", None) or candidate.ref.id


def _caller_fields(ctx: Context) -> dict:
    """Who redeems, besides the stored customer: the customer as named (kept when no customer row is linked)
    and the client's address."""
    named = customer_ref({"customer": ctx.customer_input, "order": ctx.order_input}) or ""
    return {"customer_ref": named[:255], "ip": current_client_ip()}


def _record_failure(evaluation: Evaluation) -> Redemption:
    """A row for the failed attempt and one per redeemable, with failure codes (its own transaction)."""
    ctx = evaluation.ctx
    error = evaluation.first_error()
    common = {"customer": ctx.customer, "tracking_id": ctx.tracking_id or "", "session_key": ctx.session_key or "",
              "metadata": ctx.metadata, "channel": "API", "api_key": ctx.api_key, **_caller_fields(ctx),
              "request_id": current_request_id() or "", "result": Redemption.Result.FAILURE,
              "status": Redemption.Status.FAILED}
    with transaction.atomic():
        parent_id = new_public_id("r_")
        parent = Redemption.objects.create(public_id=parent_id, related_object_type="redemption",
                                           related_object_id=parent_id, failure_code=_failure_key(evaluation),
                                           failure_message=error.details if error else "", **common)
        for candidate in evaluation.candidates:
            reason = candidate.error
            code = reason.key if reason else (candidate.skip_key or "preceding_validation_failed")
            message = reason.details if reason else code
            Redemption.objects.create(
                parent=parent, related_object_type=candidate.ref.object,
                related_object_id=_object_id(candidate) if candidate.obj is not None else candidate.ref.id,
                voucher=candidate.obj if isinstance(candidate.obj, Voucher) else None,
                campaign=candidate.handler.campaign(candidate.obj) if candidate.obj is not None else None,
                failure_code=code, failure_message=message, **common)
    ctx.scratch["failed_redemption_id"] = parent.public_id
    metrics.redemption(False, parent.failure_code)
    return parent


def _failure_key(evaluation: Evaluation) -> str:
    """A refused attempt's failure code: its first redeemable error's key."""
    error = evaluation.first_error()
    return error.key if error else "redemption_failed"


# ---------------------------------------------------------------- rollback

def rollback(redemption_id: str, *, reason: str = "", tracking_id: str = "", metadata: dict | None = None,
             parent_required: bool | None = None) -> dict:
    """Roll back a redemption (a parent rolls back all its children) and restore exactly what it took, once."""
    # Only what the caller may see: a key limited to categories cannot give back another category's money.
    visible = restrict(Redemption.objects.all(), action="view")
    redemption = visible.filter(public_id=redemption_id).select_related("parent").first()
    if redemption is None:
        raise NotFound.for_object("redemption", redemption_id)
    if redemption.parent_id is not None:
        if parent_required:
            raise InvalidPayload("Roll back a stacked redemption through its parent", key="invalid_redemption",
                                 message="Not a parent redemption")
        parent_seen = visible.filter(pk=redemption.parent_id).exists()
        if redemption.parent.children.count() > 1 or not parent_seen:
            name = f" {redemption.parent.public_id}" if parent_seen else ""
            raise InvalidPayload(f"Redemption {redemption_id} is part of a stacked redemption: roll back its "
                                 f"parent{name}", key="invalid_redemption",
                                 message="Cannot roll back a child redemption")
        redemption = redemption.parent
    if redemption.result != Redemption.Result.SUCCESS:
        raise InvalidPayload("A failed redemption cannot be rolled back", key="invalid_redemption",
                             message="Redemption failed")
    try:
        with transaction.atomic():
            return _rollback_parent(redemption, reason, tracking_id, metadata or {})
    except _AlreadyRolledBack:
        raise ApiError(f"Redemption {redemption.public_id} was already rolled back", key="already_rolled_back",
                       message="Already rolled back")


class _AlreadyRolledBack(Exception):
    pass


def _rollback_parent(parent: Redemption, reason: str, tracking_id: str, metadata: dict) -> dict:
    # The status flip is the claim: only one concurrent rollback changes the row.
    if not Redemption.objects.filter(pk=parent.pk, status=Redemption.Status.SUCCEEDED).update(
            status=Redemption.Status.ROLLED_BACK):
        raise _AlreadyRolledBack
    common = {"reason": reason, "tracking_id": tracking_id, "metadata": metadata,
              "request_id": current_request_id() or ""}
    parent_rollback = RedemptionRollback.objects.create(redemption=parent, amount=parent.amount, **common)
    child_rollbacks = []
    children = list(parent.children.filter(result=Redemption.Result.SUCCESS).select_related("voucher").order_by("pk"))
    _lock_for_rollback(children)
    for child in children:
        handler = handler_for(child.effect.get("kind", ""))
        if handler is not None:
            handler.rollback(child, child.effect.get("taken", {}))
        Redemption.objects.filter(pk=child.pk).update(status=Redemption.Status.ROLLED_BACK)
        child_rollbacks.append(RedemptionRollback.objects.create(redemption=child, parent=parent_rollback,
                                                                 amount=child.amount, **common))
    if parent.customer_id:
        customer_services.customer_activity_create(parent.customer, "customer.redemption.rollback.succeeded", {
            "redemption_id": parent.public_id, "rollback_id": parent_rollback.public_id, "reason": reason})
    return presenters.rollback_response(parent, parent_rollback, children, child_rollbacks)


# ---------------------------------------------------------------- lock order

# The engine, not the handlers, decides the order in which a redemption (or its rollback) takes rows: the
# handlers name what they will change (optional hooks `rows(obj)` and `rollback_rows(redemption, taken)`,
# each a list of core.locks.Row; counters come from the rules' limits) and the engine locks it all at once
# in the global order (core.locks, then rules.counters) before any handler changes anything. Their
# conditional UPDATEs then find their rows held, whatever the stacking order: no deadlock.

def _lock_for_redemption(evaluation: Evaluation) -> None:
    ctx = evaluation.ctx
    _lock([(candidate.handler.rows(candidate.obj) if hasattr(candidate.handler, "rows") else [],
            rule_evaluation.limit_counters(candidate.applied.limits, ctx)) for candidate in evaluation.applicable])


def _lock_for_rollback(children: list[Redemption]) -> None:
    parts = []
    for child in children:
        handler, taken = handler_for(child.effect.get("kind", "")), child.effect.get("taken", {})
        rows = handler.rollback_rows(child, taken) if hasattr(handler, "rollback_rows") else []
        parts.append((rows, dict.fromkeys(rule_evaluation.taken_counters(taken))))
    _lock(parts)


def _lock(parts: list[tuple[list, dict]]) -> None:
    """`parts`: for each redeemable, (the rows it changes, the counters it takes: key -> limit). Rows in
    table and primary-key order, then counters in key order. The greatest of all is left to the handler
    that changes it: taking it last keeps the order. One redeemable with one row and at most one counter
    takes them in that order itself: no query."""
    if not row_locks.ordering_needed():
        return
    rows = [row for part_rows, _limits in parts for row in part_rows]
    limits = {key: limit for _rows, part_limits in parts for key, limit in part_limits.items()}
    if len(parts) == 1 and len(rows) <= 1 and len(limits) <= 1:
        return
    row_locks.lock_rows(rows, leave_last=not limits)
    counters.lock(limits, leave_last=True)


# ---------------------------------------------------------------- budgets

def budget_exhausted(scope: str, condition: str, limit: int) -> None:
    """A campaign (or voucher) budget was used up by the redemption in progress: disable it in the same
    transaction and record why. A later rollback gives the budget back but does not re-enable it: a
    person decides that."""
    from distribution.services import emit  # webhooks; sent only if the redemption commits
    from promo.models import Campaign, CampaignEvent

    kind, _, public_id = scope.partition(":")
    if kind == "campaign":
        campaign = Campaign.objects.filter(public_id=public_id).first()
        if campaign is not None and Campaign.objects.filter(pk=campaign.pk, active=True).update(active=False):
            CampaignEvent.objects.create(campaign=campaign, type="campaign.budget_exhausted",
                                         data={"condition": condition, "limit": limit, "disabled": True})
            emit("campaign.budget_exhausted", {"condition": condition, "limit": limit, "disabled": True},
                 campaign=campaign)
    elif kind == "voucher":
        voucher = Voucher.objects.filter(public_id=public_id).select_related("campaign").first()
        if voucher is not None and Voucher.objects.filter(pk=voucher.pk, active=True).update(active=False) \
                and voucher.campaign_id:
            CampaignEvent.objects.create(campaign_id=voucher.campaign_id, type="voucher.budget_exhausted",
                                         data={"code": voucher.code, "condition": condition, "limit": limit,
                                               "disabled": True})
            emit("voucher.budget_exhausted", {"voucher": {"id": voucher.public_id, "code": voucher.code,
                                                          "object": "voucher"},
                                              "condition": condition, "limit": limit, "disabled": True},
                 campaign=voucher.campaign)
