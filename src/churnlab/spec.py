"""Experiment specs: the YAML file that says which data, which parameters and which notebooks a run has.

A spec is validated completely before anything runs; each problem raises :class:`~churnlab.errors.SpecError`
with one line naming the file and the key::

    name: demo                       # letters, digits, '_', '-', '.'
    description: Data overview of the Telco snapshot.
    data: {source: telco}            # a name in churnlab.data.SOURCES, with its settings
    parameters: {seed: 0}            # shared: passed to every notebook that declares them
    notebooks:
      - path: notebooks/00_data_overview.ipynb
        parameters: {}               # this notebook's own parameters
    key_metrics: [rows, churn_rate]  # optional: metrics shown first in lists and reports

Notebook and files-config paths are taken relative to the project root, then to the spec's folder.
A notebook's declared parameters are the assignments in its code cell tagged ``parameters``.
"""

from __future__ import annotations

import ast
import datetime as dt
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import yaml

from churnlab.config import project_root
from churnlab.errors import ChurnlabError, SpecError
from churnlab.present import KeyMetric, key_metric

__all__ = [
    "DataSpec",
    "NotebookSpec",
    "Spec",
    "Declared",
    "load_spec",
    "parse_spec",
    "declared_parameters",
    "parse_override",
]

_TOP_KEYS = ("name", "description", "data", "parameters", "notebooks", "key_metrics")
_NOTEBOOK_KEYS = ("path", "parameters", "key_metrics")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
#: Parameter the runner passes to every notebook that declares it: the prepared data folder.
DATA_DIR = "data_dir"


@dataclass(frozen=True)
class Declared:
    """One assignment of a notebook's ``parameters`` cell: name, annotation text and default."""

    name: str
    annotation: str | None
    default: Any
    has_literal_default: bool


@dataclass(frozen=True)
class DataSpec:
    """Where a run's data comes from: a source name and its settings (JSON-safe values)."""

    source: str
    settings: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """Cache key ``<source>-<12 hex>`` from the source and its settings (sorted canonical JSON)."""
        payload = json.dumps({"source": self.source, **dict(self.settings)}, sort_keys=True, default=str)
        return f"{self.source}-{hashlib.sha256(payload.encode()).hexdigest()[:12]}"


@dataclass(frozen=True)
class NotebookSpec:
    """One notebook of a spec: its absolute path, own parameters and what its parameters cell declares."""

    path: Path
    parameters: Mapping[str, Any]
    declared: Mapping[str, Declared]
    key_metrics: tuple[KeyMetric, ...] = ()

    @property
    def stem(self) -> str:
        """File name without ``.ipynb``: the notebook's name in runs, reports and metric prefixes."""
        return self.path.stem


@dataclass(frozen=True)
class Spec:
    """A validated experiment spec.

    ``parameters`` are shared; :meth:`parameters_for` gives the exact set one notebook receives.
    ``text`` is the spec file as read (logged with each run); ``overrides`` the ``-p`` values applied.
    """

    name: str
    description: str
    data: DataSpec
    parameters: Mapping[str, Any]
    notebooks: tuple[NotebookSpec, ...]
    key_metrics: tuple[KeyMetric, ...] = ()
    path: Path | None = None
    text: str = ""
    overrides: Mapping[str, Any] = field(default_factory=dict)

    def parameters_for(self, notebook: NotebookSpec, data_dir: str | None = None) -> dict[str, Any]:
        """Parameters injected into ``notebook``: ``data_dir``, the shared ones it declares, then its own."""
        out: dict[str, Any] = {}
        if data_dir is not None and DATA_DIR in notebook.declared:
            out[DATA_DIR] = data_dir
        out.update({k: v for k, v in self.parameters.items() if k in notebook.declared})
        out.update(notebook.parameters)
        return out

    def resolved(self) -> dict[str, Any]:
        """Return the spec as plain data after overrides (what the run folder's ``spec.resolved.yaml`` holds)."""
        return {
            "name": self.name,
            "description": self.description,
            "data": {"source": self.data.source, **dict(self.data.settings)},
            "parameters": dict(self.parameters),
            "notebooks": [{"path": str(nb.path), "parameters": dict(nb.parameters),
                           **({"key_metrics": [m.to_dict() for m in nb.key_metrics]} if nb.key_metrics else {})}
                          for nb in self.notebooks],
            "key_metrics": [m.to_dict() for m in self.key_metrics],
        }


def _where(origin: str, key: str) -> str:
    return f"{origin}: {key}"


def _jsonable(value: Any) -> Any:
    """YAML dates become ISO strings (papermill and MLflow need plain values); containers recurse."""
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def _mapping(value: Any, origin: str, key: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SpecError(f"{_where(origin, key)}: expected a mapping, got {type(value).__name__}")
    return {str(k): _jsonable(v) for k, v in value.items()}


def _check_keys(found: Mapping[str, Any], allowed: tuple[str, ...], origin: str, where: str) -> None:
    unknown = sorted(set(found) - set(allowed))
    if unknown:
        raise SpecError(f"{_where(origin, where)}: unknown key(s) {unknown}; allowed: {list(allowed)}")


def _resolve_path(text: str, spec_dir: Path | None) -> Path:
    """Absolute path of ``text``: as given when absolute, else under the project root, else the spec's folder."""
    path = Path(text).expanduser()
    if path.is_absolute():
        return path
    candidates = [project_root() / path] + ([spec_dir / path] if spec_dir else [])
    for candidate in candidates:
        if candidate.exists():
            return candidate.resolve()
    return candidates[0]


def declared_parameters(path: Path) -> dict[str, Declared]:
    """Parse the assignments of a notebook's code cell tagged ``parameters``.

    Parameters
    ----------
    path : Path
        The ``.ipynb`` file.

    Returns
    -------
    dict of str to Declared
        One entry per assigned name, in order; empty when the notebook has no ``parameters`` cell.

    Raises
    ------
    SpecError
        When the file is not a readable notebook or its parameters cell is not valid Python.
    """
    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception as exc:  # nbformat raises several unrelated types for a broken file
        raise SpecError(f"notebook {path}: cannot be read as a notebook ({exc.__class__.__name__}: {exc})") from exc
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            try:
                tree = ast.parse(cell.source)
            except SyntaxError as exc:
                raise SpecError(f"notebook {path}: parameters cell is not valid Python ({exc.msg})") from exc
            return _assignments(tree)
    return {}


def _assignments(tree: ast.Module) -> dict[str, Declared]:
    found: dict[str, Declared] = {}
    for node in tree.body:
        targets: list[ast.expr]
        annotation = None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign):
            targets, value, annotation = [node.target], node.value, ast.unparse(node.annotation)
        else:
            continue
        for target in targets:
            if isinstance(target, ast.Name):
                try:
                    default, literal = (ast.literal_eval(value), True) if value is not None else (None, False)
                except ValueError:
                    default, literal = None, False
                found[target.id] = Declared(target.id, annotation, default, literal)
    return found


_SIMPLE_TYPES: dict[str, tuple[type, ...]] = {
    "int": (int,),
    "float": (int, float),
    "str": (str,),
    "bool": (bool,),
    "list": (list,),
    "dict": (dict,),
}


def _expected_types(declared: Declared) -> tuple[tuple[type, ...], bool] | None:
    """Types a value for ``declared`` may have and whether ``None`` is allowed; ``None`` when unknown."""
    text = (declared.annotation or "").replace(" ", "")
    optional = False
    match = re.fullmatch(r"(?:typing\.)?Optional\[(.+)\]", text)
    if match:
        text, optional = match.group(1), True
    text = re.sub(r"\[.*\]$", "", text).lower()
    if text in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[text], optional
    if declared.annotation is None and declared.has_literal_default and declared.default is not None:
        kind = type(declared.default).__name__
        if kind in _SIMPLE_TYPES:
            return _SIMPLE_TYPES[kind], False
        if kind == "tuple":
            return (list, tuple), False
    return None


def _check_value(name: str, value: Any, declared: Declared, origin: str, where: str) -> None:
    expected = _expected_types(declared)
    if expected is None:
        return
    types, optional = expected
    if value is None and optional:
        return
    ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
    if not ok:
        names = " or ".join(t.__name__ for t in types) + (" or None" if optional else "")
        raise SpecError(
            f"{_where(origin, where)}: parameter {name!r} expects {names} (declared "
            f"{declared.annotation or repr(declared.default)}), got {type(value).__name__} {value!r}"
        )


def _data_spec(raw: Any, origin: str, spec_dir: Path | None) -> DataSpec:
    """Check ``data`` against its source's entry in :data:`churnlab.data.SOURCES` (keys, types, files)."""
    from churnlab.data import SOURCES

    data = _mapping(raw, origin, "data")
    name = data.pop("source", None)
    if name not in SOURCES:
        raise SpecError(f"{_where(origin, 'data.source')}: expected one of {sorted(SOURCES)}, got {name!r}")
    source = SOURCES[name]
    _check_keys(data, source.setting_names, origin, "data")
    for setting in source.settings:
        where = f"data.{setting.name}"
        if setting.name not in data:
            if setting.required:
                raise SpecError(
                    f"{_where(origin, where)}: the {name} source needs {setting.name} ({setting.help or setting.kind})"
                )
            continue
        problem = setting.problem(data[setting.name])
        if problem is not None:
            raise SpecError(f"{_where(origin, where)}: {problem}")
        if setting.kind in ("file", "folder"):
            text = data[setting.name]
            path = _resolve_path(text, spec_dir)
            if not (path.is_file() if setting.kind == "file" else path.is_dir()):
                raise SpecError(f"{_where(origin, where)}: {name} {setting.name} {text!r} not found"
                                + ("" if setting.kind == "file" else " (a folder is expected)"))
            data[setting.name] = str(path)
    return DataSpec(source=name, settings=data)


def _notebook_spec(raw: Any, index: int, origin: str, spec_dir: Path | None) -> NotebookSpec:
    where = f"notebooks[{index}]"
    if isinstance(raw, str):
        raw = {"path": raw}
    if not isinstance(raw, dict):
        raise SpecError(f"{_where(origin, where)}: expected a path or a mapping with 'path', got {raw!r}")
    _check_keys(raw, _NOTEBOOK_KEYS, origin, where)
    text = raw.get("path")
    if not isinstance(text, str) or not text.endswith(".ipynb"):
        raise SpecError(f"{_where(origin, where + '.path')}: expected a .ipynb path, got {text!r}")
    path = _resolve_path(text, spec_dir)
    if not path.is_file():
        raise SpecError(f"{_where(origin, where + '.path')}: notebook {text!r} not found (looked in {path.parent})")
    params = _mapping(raw.get("parameters"), origin, where + ".parameters")
    declared = declared_parameters(path)
    for name, value in params.items():
        if name not in declared:
            raise SpecError(
                f"{_where(origin, where + '.parameters')}: {name!r} is not declared in the parameters cell of "
                f"{path.name} (declared: {sorted(declared) or 'none'})"
            )
        if name == DATA_DIR:
            raise SpecError(f"{_where(origin, where + '.parameters')}: {DATA_DIR!r} is set by the runner")
        _check_value(name, value, declared[name], origin, where + ".parameters")
    metrics = _key_metrics(raw.get("key_metrics"), origin, where + ".key_metrics")
    return NotebookSpec(path=path, parameters=params, declared=declared, key_metrics=metrics)


def _key_metrics(raw: Any, origin: str, where: str) -> tuple[KeyMetric, ...]:
    """Read a ``key_metrics`` list: metric names or ``{name, label, format, unit}`` mappings."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise SpecError(f"{_where(origin, where)}: expected a list of metric names or {{name, label, format, unit}}")
    out = []
    for i, entry in enumerate(raw):
        try:
            out.append(key_metric(entry))
        except ChurnlabError as exc:
            raise SpecError(f"{_where(origin, f'{where}[{i}]')}: {exc}") from None
    return tuple(out)


def parse_override(text: str) -> tuple[str, str]:
    """Split a ``-p key=value`` override into key and raw value text.

    Raises
    ------
    SpecError
        When ``text`` has no ``=`` or an empty key.
    """
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise SpecError(f"override {text!r}: expected key=value (data settings as data.key=value)")
    return key.strip(), value


def _override_value(raw: str, declared: list[Declared]) -> Any:
    """Typed value of an override: text stays text for ``str`` parameters, otherwise YAML-parsed."""
    if any(d.annotation and "str" in d.annotation for d in declared) or any(
        d.annotation is None and isinstance(d.default, str) for d in declared
    ):
        return raw
    try:
        return _jsonable(yaml.safe_load(raw)) if raw.strip() else ""
    except yaml.YAMLError:
        return raw


def _data_override_value(source: Any, key: str, raw: str) -> Any:
    """Typed value of a ``-p data.<key>=value`` override: text for the source's text, date and file settings."""
    from churnlab.data import SOURCES

    entry = SOURCES.get(source) if isinstance(source, str) else None
    setting = entry.setting(key) if entry is not None else None
    if key == "source" or (setting is not None and setting.kind in ("text", "optional text", "date", "file", "folder")):
        return raw
    return _override_value(raw, [])


def parse_spec(
    raw: Any,
    *,
    origin: str = "spec",
    spec_dir: Path | None = None,
    overrides: Mapping[str, str] | None = None,
    path: Path | None = None,
    text: str = "",
) -> Spec:
    """Validate a spec given as plain data (as read from YAML) and return it.

    Parameters
    ----------
    raw : mapping
        The spec's content.
    origin : str
        How errors name the spec (its file path).
    spec_dir : Path, optional
        Folder relative paths fall back to.
    overrides : mapping of str to str, optional
        ``-p`` values: ``data.<key>`` sets a data setting, any other key a shared parameter.
    path : Path, optional
        The spec file (recorded with runs).
    text : str
        The spec file's text (logged with runs).

    Raises
    ------
    SpecError
        On the first problem, naming the key: unknown keys, wrong types, a missing notebook or
        config, a parameter no notebook declares.
    """
    if not isinstance(raw, dict):
        raise SpecError(f"{origin}: expected a mapping with keys {list(_TOP_KEYS)}, got {type(raw).__name__}")
    _check_keys(raw, _TOP_KEYS, origin, "top level")
    for key in ("name", "data", "notebooks"):
        if key not in raw:
            raise SpecError(f"{_where(origin, key)}: required key is missing")
    name = raw["name"]
    if not isinstance(name, str) or not _NAME.match(name):
        raise SpecError(f"{_where(origin, 'name')}: expected letters, digits, '_', '-' or '.', got {name!r}")
    description = raw.get("description") or ""
    if not isinstance(description, str):
        raise SpecError(f"{_where(origin, 'description')}: expected text, got {type(description).__name__}")
    overrides = dict(overrides or {})
    data_raw = dict(_mapping(raw["data"], origin, "data"))
    data_overrides = {k[5:]: overrides.pop(k) for k in [k for k in overrides if k.startswith("data.")]}
    source_name = data_overrides.get("source", data_raw.get("source"))
    for key, value in data_overrides.items():
        data_raw[key] = _data_override_value(source_name, key, value)
    data = _data_spec(data_raw, origin, spec_dir)
    if not isinstance(raw["notebooks"], list) or not raw["notebooks"]:
        raise SpecError(f"{_where(origin, 'notebooks')}: expected a non-empty list of notebooks")
    notebooks = tuple(_notebook_spec(item, i, origin, spec_dir) for i, item in enumerate(raw["notebooks"]))
    stems = [nb.stem for nb in notebooks]
    if len(set(stems)) != len(stems):
        raise SpecError(f"{_where(origin, 'notebooks')}: a notebook is listed twice ({stems})")
    shared = _mapping(raw.get("parameters"), origin, "parameters")
    for key, value in overrides.items():
        shared[key] = _override_value(value, [nb.declared[key] for nb in notebooks if key in nb.declared])
    for key, value in shared.items():
        where = "parameters" if key not in overrides else f"override {key}"
        if key == DATA_DIR:
            raise SpecError(f"{_where(origin, where)}: {DATA_DIR!r} is set by the runner")
        users = [nb for nb in notebooks if key in nb.declared]
        if not users:
            raise SpecError(
                f"{_where(origin, where)}: {key!r} is not declared in the parameters cell of any notebook "
                f"({', '.join(nb.path.name for nb in notebooks)})"
            )
        for nb in users:
            _check_value(key, value, nb.declared[key], origin, where)
    key_metrics = _key_metrics(raw.get("key_metrics"), origin, "key_metrics")
    return Spec(
        name=name,
        description=description.strip(),
        data=data,
        parameters=shared,
        notebooks=notebooks,
        key_metrics=key_metrics,
        path=path,
        text=text,
        overrides={k: shared[k] for k in overrides},
    )


def load_spec(path: str | Path, overrides: Mapping[str, str] | None = None) -> Spec:
    """Read and validate the spec file at ``path``.

    Parameters
    ----------
    path : str or Path
        The YAML file.
    overrides : mapping of str to str, optional
        ``-p`` values as text (see :func:`parse_spec`).

    Raises
    ------
    SpecError
        When the file is missing, is not YAML, or fails validation.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise SpecError(f"spec {path}: file not found")
    text = path.read_text(encoding="utf-8")
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        at = f" at line {line + 1}" if line is not None else ""
        raise SpecError(f"spec {path}: not valid YAML{at}") from exc
    return parse_spec(
        raw, origin=str(path), spec_dir=path.resolve().parent, overrides=overrides, path=path.resolve(), text=text
    )
