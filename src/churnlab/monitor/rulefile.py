"""Reading a YAML list of named rules (alert rules, CRM views): each item a mapping with known keys."""

from __future__ import annotations

from collections.abc import Callable, Set
from pathlib import Path
from typing import Any

import yaml

from churnlab.errors import SpecError

__all__ = ["check_rule_item", "read_rule_file"]


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


def read_rule_file(path: str | Path | None, default: Path, what: str, parse: Callable[[Any, str], Any]) -> Any:
    """Read a YAML rule file (``default`` when ``path`` is empty) and hand its content to ``parse(raw, source)``.

    Raises
    ------
    SpecError
        When the file does not exist (and whatever ``parse`` raises for a malformed rule).
    """
    p = Path(path) if path else default
    if not p.is_file():
        raise SpecError(f"{what}: {p} does not exist")
    return parse(yaml.safe_load(p.read_text(encoding="utf-8")), str(p))
