"""Integer money arithmetic: half-up rounding and largest-remainder splits.

Amounts are ints in minor units. Percentages are Decimals. Nothing here ever returns a float.
"""

from decimal import ROUND_HALF_UP, Decimal


def round_half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def percent_of(amount: int, percent: Decimal | int | str) -> int:
    """`percent`% of `amount`, rounded half-up to a whole minor unit. In integers, exactly: Decimal's
    context keeps 28 digits, and a long percentage of a large amount rounded there first can land on a
    half unit it was just below."""
    numerator, denominator = Decimal(str(percent)).as_integer_ratio()
    return _divide_half_up(amount * numerator, denominator * 100)


def _divide_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator (> 0) rounded half away from zero, as ROUND_HALF_UP does."""
    magnitude = (2 * abs(numerator) + denominator) // (2 * denominator)
    return magnitude if numerator >= 0 else -magnitude


def split_largest_remainder(total: int, weights: list[int]) -> list[int]:
    """Split `total` in proportion to `weights` so that the parts add up exactly to `total`.

    Each part is floor(total * w / sum); the units left over go to the largest fractional
    remainders (ties: earlier position first). Zero weights get zero.
    """
    weight_sum = sum(weights)
    if total <= 0 or weight_sum <= 0:
        return [0] * len(weights)
    parts = [total * w // weight_sum for w in weights]
    remainders = [(total * w % weight_sum, -i) for i, w in enumerate(weights)]
    leftover = total - sum(parts)
    for _, neg_index in sorted(remainders, reverse=True)[:leftover]:
        parts[-neg_index] += 1
    return parts


def split_capped(total: int, weights: list[int], caps: list[int]) -> list[int]:
    """Split `total` by `weights` (largest remainder) without any part exceeding its cap;
    what a capped part cannot take is re-split among the others. Sum = min(total, sum(caps))."""
    total = min(total, sum(caps))
    parts = [0] * len(weights)
    open_idx = [i for i, cap in enumerate(caps) if cap > 0]
    remaining = total
    while remaining > 0 and open_idx:
        shares = split_largest_remainder(remaining, [max(weights[i], 0) for i in open_idx])
        if sum(shares) == 0:  # all remaining weights are zero: spread by capacity instead
            shares = split_largest_remainder(remaining, [caps[i] - parts[i] for i in open_idx])
        still_open = []
        for i, share in zip(open_idx, shares, strict=True):
            room = caps[i] - parts[i]
            take = min(share, room)
            parts[i] += take
            remaining -= take
            if parts[i] < caps[i]:
                still_open.append(i)
        if len(still_open) == len(open_idx) and remaining > 0 and sum(shares) == 0:
            break
        open_idx = still_open
    return parts
