"""Reading a YAML list of named rules (alert rules, CRM views): each item a mapping with known keys."""

from __future__ import annotations

from collections.abc import Set
from typing import Any

from churnlab.errors import SpecError

__all__ = ["check_rule_item"]


def check_rule_item(item: Any, index: int, what: str, required: Set[str], optional: Set[str]) -> str:
    """Check one rule of a YAML rule list and return its label for messages (its name, else ``#<n>``).

    Raises
    ------
    SpecError
        When the item is not a mapping, lacks a required key or has an unknown one (the message names the rule).
    """
    label = item.get("name", f"#{index + 1}") if isinstance(item, dict) else f"#{index + 1}"
    if not isinstance(item, dict):
        raise SpecError(f"{what} {label}: expected a mapping with keys {sorted(required)}")
    missing, unknown = set(required) - set(item), set(item) - set(required) - set(optional)
    if missing:
        raise SpecError(f"{what} {label!r}: missing key(s) {sorted(missing)}")
    if unknown:
        allowed = sorted(set(required) | set(optional))
        raise SpecError(f"{what} {label!r}: unknown key(s) {sorted(unknown)}; allowed {allowed}")
    return label
