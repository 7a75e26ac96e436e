"""The `customer.segment` validation-rule condition, registered into the rules app's condition registry
from SegmentsConfig.ready() (the evaluator knows nothing of segments).

`{"name": "customer.segment", "conditions": {"$is": ["seg_..."]}}`: the customer is a member;
`$in` any of several; `$is_not` / `$not_in` not a member. The value is the list of the customer's
segment ids, read once per request (one query, however many rules and redeemables ask).
"""

from rules.conditions import CustomerCondition, register
from segments.selectors import customer_segment_ids

SCRATCH_KEY = "segments.customer_segment_ids"


@register
class CustomerSegment(CustomerCondition):
    name = "customer.segment"

    def value(self, ctx, rule, scope):
        # A customer not stored yet belongs to no segment.
        if ctx.customer is None:
            return []
        if SCRATCH_KEY not in ctx.scratch:
            ctx.scratch[SCRATCH_KEY] = customer_segment_ids(ctx.customer.pk)
        return ctx.scratch[SCRATCH_KEY]
