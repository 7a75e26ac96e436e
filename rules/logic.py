"""The `logic` expression of a validation rule: "(1 and 2) or 3", "1 and not 2".

A tiny recursive-descent parser over numbers, and/or/not and parentheses: no eval(), so a rule
typed by a marketer can never run code. Precedence: not > and > or.
"""

import re

_TOKEN = re.compile(r"\s*(\d+|and\b|or\b|not\b|\(|\))", re.IGNORECASE)


class LogicError(ValueError):
    pass


def tokenize(text: str) -> list[str]:
    tokens, pos = [], 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match:
            raise LogicError(f"Unexpected text in logic at position {pos}: {text[pos:pos + 10]!r}")
        tokens.append(match.group(1).lower())
        pos = match.end()
    return tokens


def parse(text: str):
    """Parse into nested tuples: ("or", a, b), ("and", a, b), ("not", a), or a rule number (str)."""
    tokens = tokenize(text)
    if not tokens:
        raise LogicError("Empty logic expression")
    tree, pos = _or(tokens, 0)
    if pos != len(tokens):
        raise LogicError(f"Unexpected {tokens[pos]!r} in logic")
    return tree


def _or(tokens, pos):
    left, pos = _and(tokens, pos)
    while pos < len(tokens) and tokens[pos] == "or":
        right, pos = _and(tokens, pos + 1)
        left = ("or", left, right)
    return left, pos


def _and(tokens, pos):
    left, pos = _not(tokens, pos)
    while pos < len(tokens) and tokens[pos] == "and":
        right, pos = _not(tokens, pos + 1)
        left = ("and", left, right)
    return left, pos


def _not(tokens, pos):
    if pos < len(tokens) and tokens[pos] == "not":
        operand, pos = _not(tokens, pos + 1)
        return ("not", operand), pos
    return _atom(tokens, pos)


def _atom(tokens, pos):
    if pos >= len(tokens):
        raise LogicError("Logic ends too early")
    token = tokens[pos]
    if token == "(":
        inner, pos = _or(tokens, pos + 1)
        if pos >= len(tokens) or tokens[pos] != ")":
            raise LogicError("Missing closing parenthesis in logic")
        return inner, pos + 1
    if token.isdigit():
        return token, pos + 1
    raise LogicError(f"Unexpected {token!r} in logic")


def referenced(tree) -> set[str]:
    if isinstance(tree, str):
        return {tree}
    return set().union(*(referenced(part) for part in tree[1:]))


def evaluate(tree, value_of) -> bool:
    """`value_of(number)` evaluates one numbered rule (lazily: `and`/`or` short-circuit)."""
    if isinstance(tree, str):
        return value_of(tree)
    op = tree[0]
    if op == "not":
        return not evaluate(tree[1], value_of)
    if op == "and":
        return evaluate(tree[1], value_of) and evaluate(tree[2], value_of)
    return evaluate(tree[1], value_of) or evaluate(tree[2], value_of)


def default_logic(numbers: list[str]) -> str:
    return " and ".join(sorted(numbers, key=int))
