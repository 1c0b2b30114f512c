"""Risk rules: CRM-style red alerts as thresholds on point-in-time feature columns.

A rule set is a YAML list of ``{name, when, zone, words}``; ``when`` is an expression over the
feature columns of :func:`churnlab.features.build_features` such as ``days_since_last_session >= 21``.
Expressions are parsed with :mod:`ast` and evaluated by a small interpreter that accepts only
feature names, numbers, comparisons, ``and``/``or``/``not`` and ``+ - * /`` -- no attribute access, no
calls, no other names -- so a rule file cannot run code. A customer's zone is the highest zone of
the rules that fire (``red`` > ``amber``); the at-risk list says which rules fired, in words.

Rules work on any feature names: a rule that reads a feature the frame lacks (a dataset without
tickets has no ``unresolved_tickets``) is skipped, and the skipped rules travel with the result in
``attrs["skipped"]`` (rule name -> the missing feature) so a notebook can say so in one line. Only
when no rule at all can be evaluated is it an error.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from churnlab import config as C
from churnlab.errors import AnalysisError, SpecError
from churnlab.patterns.exposure import compare_exposed
from churnlab.schema import require_columns

__all__ = ["Rule", "RuleSet", "ZONES", "MISSING_FEATURES", "default_rules_path", "load_rules", "parse_rules",
           "evaluate_expression", "expression_names", "evaluate_rules", "assign_zones", "rule_performance",
           "at_risk_list"]

#: Zones from most to least urgent.
ZONES = ("red", "amber")
_KEYS = {"name", "when", "zone", "words"}
_COMPARE = {ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Lt: operator.lt, ast.LtE: operator.le,
            ast.Eq: operator.eq, ast.NotEq: operator.ne}
_ARITH = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}
#: What :func:`evaluate_rules` does with a rule that reads a feature the frame lacks.
MISSING_FEATURES = ("skip", "raise")


@dataclass(frozen=True)
class Rule:
    """One risk rule: fires when ``when`` holds; puts the customer in ``zone``; says ``words``."""

    name: str
    when: str
    zone: str
    words: str


@dataclass(frozen=True)
class RuleSet:
    """An ordered set of rules and where it came from."""

    rules: tuple[Rule, ...]
    source: str = ""

    def __iter__(self):
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def __repr__(self) -> str:
        zones = ", ".join(f"{z}={sum(r.zone == z for r in self.rules)}" for z in ZONES)
        return f"RuleSet({len(self.rules)} rules, {zones}, source={self.source!r})"

    @property
    def summary(self) -> pd.DataFrame:
        """One row per rule: ``name, zone, when, words``."""
        return pd.DataFrame([{"name": r.name, "zone": r.zone, "when": r.when, "words": r.words} for r in self.rules])

    def _repr_html_(self) -> str:
        return f"<p>{self!r}</p>" + self.summary.to_html(index=False)

    @property
    def features(self) -> list[str]:
        """Feature names the rules read, in first-use order."""
        seen: dict[str, None] = {}
        for r in self.rules:
            for n in expression_names(r.when, rule=r.name):
                seen.setdefault(n)
        return list(seen)

    def split(self, columns: Iterable[str]) -> tuple[RuleSet, dict[str, str]]:
        """Split the rules into those whose features are all in ``columns`` and those that are not.

        Parameters
        ----------
        columns : iterable of str
            The feature columns available (``features.columns``).

        Returns
        -------
        (RuleSet, dict of str to str)
            The rules that can be evaluated, in order, and each skipped rule's name with the first
            feature it lacks.

        Examples
        --------
        >>> rules = parse_rules([{"name": "quiet", "when": "days_since_last_session >= 21", "zone": "red",
        ...                       "words": "quiet"}, {"name": "late", "when": "late_payments_90d >= 1",
        ...                       "zone": "amber", "words": "late"}])
        >>> usable, skipped = rules.split(["days_since_last_session"])
        >>> [r.name for r in usable], skipped
        (['quiet'], {'late': 'late_payments_90d'})
        """
        have = set(columns)
        keep, skipped = [], {}
        for r in self.rules:
            lacking = [n for n in expression_names(r.when, rule=r.name) if n not in have]
            if lacking:
                skipped[r.name] = lacking[0]
            else:
                keep.append(r)
        return RuleSet(tuple(keep), self.source), skipped


def default_rules_path() -> Path:
    """Path of the packaged default rule set, ``churnlab/rules/default_rules.yaml``."""
    return Path(str(resources.files("churnlab") / "rules" / "default_rules.yaml"))


def parse_rules(items: Iterable[dict], source: str = "") -> RuleSet:
    """Validate a list of rule mappings into a :class:`RuleSet`.

    Raises
    ------
    SpecError
        One line naming the rule and the problem: a missing or unknown key, an unknown zone, a
        duplicate name, or an expression outside the allowed grammar.
    """
    if not isinstance(items, list) or not items:
        raise SpecError(f"risk rules {source}: expected a non-empty list of rules")
    rules, names = [], set()
    for i, item in enumerate(items):
        label = item.get("name", f"#{i + 1}") if isinstance(item, dict) else f"#{i + 1}"
        if not isinstance(item, dict):
            raise SpecError(f"risk rule {label}: expected a mapping with keys {sorted(_KEYS)}")
        missing, unknown = _KEYS - set(item), set(item) - _KEYS
        if missing:
            raise SpecError(f"risk rule {label!r}: missing key(s) {sorted(missing)}")
        if unknown:
            raise SpecError(f"risk rule {label!r}: unknown key(s) {sorted(unknown)}; allowed {sorted(_KEYS)}")
        if item["zone"] not in ZONES:
            raise SpecError(f"risk rule {label!r}: zone {item['zone']!r}; expected one of {list(ZONES)}")
        if item["name"] in names:
            raise SpecError(f"risk rule {label!r}: duplicate name")
        names.add(item["name"])
        rule = Rule(str(item["name"]), str(item["when"]), str(item["zone"]), str(item["words"]))
        expression_names(rule.when, rule=rule.name)
        rules.append(rule)
    return RuleSet(tuple(rules), source)


def load_rules(path: str | Path | None = None) -> RuleSet:
    """Read a YAML rule set (default: the packaged one, :func:`default_rules_path`).

    Raises
    ------
    SpecError
        When the file is missing or a rule is malformed (see :func:`parse_rules`).
    """
    p = Path(path) if path else default_rules_path()
    if not p.is_file():
        raise SpecError(f"risk rules: {p} does not exist")
    return parse_rules(yaml.safe_load(p.read_text(encoding="utf-8")), str(p))


def _tree(expr: str, rule: str) -> ast.Expression:
    try:
        return ast.parse(expr, mode="eval")
    except SyntaxError as exc:
        raise SpecError(f"risk rule {rule!r}: cannot parse {expr!r} ({exc.msg})") from None


def expression_names(expr: str, *, rule: str = "?") -> list[str]:
    """Return the names an expression reads, checking it uses only the allowed grammar.

    Raises
    ------
    SpecError
        Naming the rule and the first construct that is not allowed.

    Examples
    --------
    >>> expression_names("days_since_last_session >= 21 and late_payments_90d > 0")
    ['days_since_last_session', 'late_payments_90d']
    >>> expression_names("os.system(1)", rule="bad")
    Traceback (most recent call last):
    ...
    churnlab.errors.SpecError: risk rule 'bad': Call is not allowed in 'os.system(1)'
    """
    allowed = (ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.Compare,
               ast.BinOp, ast.Name, ast.Load, ast.Constant, *_COMPARE, *_ARITH)
    names: list[str] = []
    for node in ast.walk(_tree(expr, rule)):
        if not isinstance(node, allowed):
            raise SpecError(f"risk rule {rule!r}: {type(node).__name__} is not allowed in {expr!r}")
        if isinstance(node, ast.Constant) and not isinstance(node.value, (int, float, bool)):
            raise SpecError(f"risk rule {rule!r}: only numbers are allowed as constants in {expr!r}")
        if isinstance(node, ast.Name) and node.id not in names:
            names.append(node.id)
    return names


def _eval(node: ast.AST, frame: pd.DataFrame):
    if isinstance(node, ast.Expression):
        return _eval(node.body, frame)
    if isinstance(node, ast.Name):
        return _numeric(frame[node.id])
    if isinstance(node, ast.Constant):
        return float(node.value)
    if isinstance(node, ast.UnaryOp):
        v = _eval(node.operand, frame)
        return ~np.asarray(v, dtype=bool) if isinstance(node.op, ast.Not) else -v
    if isinstance(node, ast.BinOp):
        with np.errstate(divide="ignore", invalid="ignore"):
            return _ARITH[type(node.op)](_eval(node.left, frame), _eval(node.right, frame))
    if isinstance(node, ast.BoolOp):
        values = [np.asarray(_eval(v, frame), dtype=bool) for v in node.values]
        combine = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
        out = values[0]
        for v in values[1:]:
            out = combine(out, v)
        return out
    if isinstance(node, ast.Compare):
        left, out = _eval(node.left, frame), None
        for op, comp in zip(node.ops, node.comparators):
            right = _eval(comp, frame)
            with np.errstate(invalid="ignore"):
                part = _COMPARE[type(op)](left, right)
            out = part if out is None else out & part
            left = right
        return out
    raise SpecError(f"{type(node).__name__} is not allowed")  # pragma: no cover - checked before


def _numeric(values: pd.Series) -> np.ndarray:
    """Return a feature column as float64 (booleans as 0/1, missing as NaN); refuse text by name."""
    if not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)):
        raise SpecError(f"feature {values.name!r} is not numeric (dtype {values.dtype}); rules compare numbers")
    return values.astype("float64").to_numpy()


def evaluate_expression(expr: str, frame: pd.DataFrame, *, rule: str = "?") -> pd.Series:
    """Evaluate a rule expression on a feature frame; a missing value never fires.

    Raises
    ------
    SpecError
        When the expression leaves the grammar or names a column the frame does not have
        (``risk rule 'x': unknown feature 'y'; known: ...``).

    Examples
    --------
    >>> f = pd.DataFrame({"days_since_last_session": [3.0, 30.0, float("nan")]})
    >>> evaluate_expression("days_since_last_session >= 21", f).tolist()
    [False, True, False]
    """
    for name in expression_names(expr, rule=rule):
        if name not in frame.columns:
            known = ", ".join(c for c in frame.columns if c not in (C.CUSTOMER_ID, C.CUTOFF, C.LABEL))
            raise SpecError(f"risk rule {rule!r}: unknown feature {name!r}; known: {known}")
    try:
        value = np.broadcast_to(np.asarray(_eval(_tree(expr, rule), frame)), (len(frame),))
    except SpecError as exc:
        raise SpecError(f"risk rule {rule!r}: {exc}") from None
    return pd.Series(value.astype(bool), index=frame.index)


def evaluate_rules(rules: RuleSet | Sequence[Rule], features: pd.DataFrame, *, missing: str = "skip"
                   ) -> pd.DataFrame:
    """Evaluate every rule on every row of a feature frame.

    Parameters
    ----------
    rules : RuleSet
        The rules to evaluate.
    features : DataFrame
        ``customer_id, cutoff`` and the feature columns the rules read.
    missing : {"skip", "raise"}
        A rule that reads a feature the frame lacks is skipped (and listed in ``attrs["skipped"]``)
        or raises (to catch a typo in a rule file written for this data).

    Returns
    -------
    DataFrame
        One row per feature row: ``customer_id, cutoff`` and one boolean column per evaluated rule;
        ``attrs["skipped"]`` maps each skipped rule to the feature it lacks.

    Raises
    ------
    SpecError
        With ``missing="raise"``, naming the rule and the unknown feature; for a rule that compares
        a text column.
    AnalysisError
        When no rule can be evaluated on these features (every one lacks a feature).

    Examples
    --------
    >>> rules = parse_rules([{"name": "quiet", "when": "days_since_last_session >= 21", "zone": "red",
    ...                       "words": "quiet"}, {"name": "late", "when": "late_payments_90d >= 1",
    ...                       "zone": "amber", "words": "late"}])
    >>> f = pd.DataFrame({"customer_id": ["a", "b"], "cutoff": pd.Timestamp("2024-06-01"),
    ...                   "days_since_last_session": [30.0, 2.0]})
    >>> fired = evaluate_rules(rules, f)
    >>> fired["quiet"].tolist(), fired.attrs["skipped"]
    ([True, False], {'late': 'late_payments_90d'})
    """
    if missing not in MISSING_FEATURES:
        raise SpecError(f"evaluate_rules: missing={missing!r}; expected one of {list(MISSING_FEATURES)}")
    require_columns(features, [C.CUSTOMER_ID, C.CUTOFF], table="features")
    rules = rules if isinstance(rules, RuleSet) else RuleSet(tuple(rules))
    usable, skipped = rules.split(features.columns) if missing == "skip" else (rules, {})
    if len(rules) and not len(usable):
        lacks = "; ".join(f"{name} needs {feature}" for name, feature in skipped.items())
        raise AnalysisError(f"risk rules: none of the {len(rules)} rules can be evaluated on these features ({lacks})")
    out = features[[C.CUSTOMER_ID, C.CUTOFF]].copy()
    for r in usable:
        out[r.name] = evaluate_expression(r.when, features, rule=r.name)
    out.attrs["skipped"] = skipped
    return out


def _evaluated(fired: pd.DataFrame, rules: RuleSet | Sequence[Rule]) -> list[Rule]:
    """Return the rules evaluated into ``fired``, leaving out those :func:`evaluate_rules` skipped."""
    skipped = fired.attrs.get("skipped", {})
    return [r for r in rules if r.name not in skipped or r.name in fired.columns]


def assign_zones(fired: pd.DataFrame, rules: RuleSet | Sequence[Rule]) -> pd.DataFrame:
    """Place each customer in the highest zone of the rules that fired and say why.

    Returns
    -------
    DataFrame
        One row per row of ``fired``: ``customer_id, cutoff, zone`` (``red``, ``amber`` or
        ``none``), ``n_rules``, ``rules_fired`` (names, ``;``-separated), ``reasons`` (the rules'
        words, red first). Rules :func:`evaluate_rules` skipped are left out.
    """
    rules = _evaluated(fired, rules)
    require_columns(fired, [C.CUSTOMER_ID, C.CUTOFF, *[r.name for r in rules]], table="fired")
    ordered = sorted(rules, key=lambda r: ZONES.index(r.zone))
    zone = pd.Series("none", index=fired.index, dtype="object")
    for z in reversed(ZONES):
        hit = fired[[r.name for r in rules if r.zone == z]].any(axis=1) if any(r.zone == z for r in rules) else None
        if hit is not None:
            zone = zone.where(~hit, z)
    flags = fired[[r.name for r in ordered]].to_numpy(dtype=bool)
    names = np.array([r.name for r in ordered], dtype=object)
    words = np.array([r.words for r in ordered], dtype=object)
    out = fired[[C.CUSTOMER_ID, C.CUTOFF]].copy()
    out["zone"] = zone
    out["n_rules"] = flags.sum(axis=1)
    out["rules_fired"] = ["; ".join(names[row]) for row in flags]
    out["reasons"] = ["; ".join(words[row]) for row in flags]
    return out


def rule_performance(fired: pd.DataFrame, zones: pd.DataFrame, labels: pd.DataFrame,
                     rules: RuleSet | Sequence[Rule], alpha: float = 0.05) -> pd.DataFrame:
    """Measure each rule and each zone against the churn that followed: precision, recall, lift.

    Parameters
    ----------
    fired : DataFrame
        From :func:`evaluate_rules`.
    zones : DataFrame
        From :func:`assign_zones`.
    labels : DataFrame
        ``customer_id, cutoff, label``.
    rules : RuleSet
        The rules that were evaluated.
    alpha : float
        Interval level.

    Returns
    -------
    DataFrame
        One row per rule, then ``zone:red`` and ``zone:red+amber``: ``kind`` (``rule``/``zone``),
        ``zone``, ``words`` and the :data:`churnlab.patterns.exposure.COLUMNS` (``exposure`` is the
        rule or zone name). Rules :func:`evaluate_rules` skipped are left out.
    """
    rules = _evaluated(fired, rules)
    require_columns(labels, [C.CUSTOMER_ID, C.CUTOFF, C.LABEL], table="labels")
    keys = [C.CUSTOMER_ID, C.CUTOFF]
    lab = labels[keys + [C.LABEL]].assign(**{C.CUSTOMER_ID: labels[C.CUSTOMER_ID].astype(str)})
    frame = fired.assign(**{C.CUSTOMER_ID: fired[C.CUSTOMER_ID].astype(str)}).merge(
        zones[keys + ["zone"]].assign(**{C.CUSTOMER_ID: zones[C.CUSTOMER_ID].astype(str)}), on=keys)
    frame = frame.merge(lab, on=keys, how="inner")
    frame["zone:red"] = frame["zone"] == "red"
    frame["zone:red+amber"] = frame["zone"].isin(ZONES)
    table = compare_exposed(frame, [r.name for r in rules] + ["zone:red", "zone:red+amber"], alpha=alpha)
    meta = {r.name: ("rule", r.zone, r.words) for r in rules}
    meta["zone:red"] = ("zone", "red", "any red rule")
    meta["zone:red+amber"] = ("zone", "red+amber", "any rule")
    head = pd.DataFrame([meta[e] for e in table["exposure"]], columns=["kind", "zone", "words"])
    return pd.concat([head, table], axis=1)


def at_risk_list(zones: pd.DataFrame, path: str | Path | None = None, *,
                 extra: pd.DataFrame | None = None) -> pd.DataFrame:
    """List the customers in a risk zone, red first, with the rules that fired; optionally as CSV.

    Parameters
    ----------
    zones : DataFrame
        From :func:`assign_zones`.
    path : str or Path, optional
        Where to write the CSV (folders are created).
    extra : DataFrame, optional
        ``customer_id`` and columns to add (segment, plan, account manager).

    Returns
    -------
    DataFrame
        One row per customer in a zone: ``customer_id, cutoff, zone, n_rules, rules_fired, reasons``
        and the extra columns, sorted by zone, then number of rules (most first), then id.
    """
    out = zones[zones["zone"].isin(ZONES)].copy()
    out["_z"] = out["zone"].map({z: i for i, z in enumerate(ZONES)})
    out = out.sort_values(["_z", "n_rules", C.CUSTOMER_ID], ascending=[True, False, True]).drop(columns="_z")
    if extra is not None:
        require_columns(extra, [C.CUSTOMER_ID], table="extra")
        ex = extra.assign(**{C.CUSTOMER_ID: extra[C.CUSTOMER_ID].astype(str)}).drop_duplicates(C.CUSTOMER_ID)
        out = out.assign(**{C.CUSTOMER_ID: out[C.CUSTOMER_ID].astype(str)}).merge(ex, on=C.CUSTOMER_ID, how="left")
    out = out.reset_index(drop=True)
    if path is not None:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        out.to_csv(p, index=False)
    return out
