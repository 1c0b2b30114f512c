"""The one registry of data sources: name -> loader, its settings and their types.

A spec's ``data: {source: NAME, ...}`` names an entry of :data:`SOURCES`; the spec checker
(:mod:`churnlab.spec`) validates the other keys against the entry's :class:`Setting` list, the runner
calls the entry's :attr:`Source.build` to write the data once into its cache folder, and
``churnlab data list`` prints every entry with its settings. Adding a source is one entry here::

    SOURCES["my_crm"] = Source(
        name="my_crm",
        description="Our CRM export.",
        settings=(Setting("day", "date", required=True, help="export date"),),
        open=lambda settings: load_my_crm(settings["day"]),
    )

Settings are given in the spec exactly as the user wrote them (no defaults filled in), so the data's
cache key and the recorded settings only name what the spec sets; each loader applies its defaults.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from churnlab.data.files import load_files
from churnlab.data.public import load_cdnow, load_mlc_churn, load_telco
from churnlab.data.synthetic.knobs import Knobs
from churnlab.errors import DataSourceError
from churnlab.schema import Dataset

__all__ = ["Setting", "Source", "SOURCES", "source", "named_without_settings", "KINDS"]

#: What a setting's value may be, by kind: ``int``, ``float`` (an int is accepted), ``text``,
#: ``optional text`` (text or null), ``date`` (ISO 8601 such as 2024-01-01) and ``file`` (a path to an
#: existing file, resolved by the spec checker against the project root, then the spec's folder).
KINDS = ("int", "float", "text", "optional text", "date", "file", "folder")

#: Customers of a synthetic world when a spec does not say (the default of ``churnlab data generate``).
DEFAULT_SYNTHETIC_CUSTOMERS = 10_000


@dataclass(frozen=True)
class Setting:
    """One setting a source accepts in a spec's ``data`` mapping.

    Parameters
    ----------
    name : str
        The key in the spec (``customers``, ``config``).
    kind : str
        One of :data:`KINDS`.
    default : any, optional
        What the loader uses when the spec leaves the setting out (shown by ``churnlab data list``).
    required : bool
        The spec must give it.
    minimum : float, optional
        Smallest allowed value of an ``int`` or ``float`` setting.
    help : str
        A few words for ``churnlab data list``.
    group : str
        Settings sharing a non-empty group (the synthetic world's ``knobs``) are listed together.
    """

    name: str
    kind: str
    default: Any = None
    required: bool = False
    minimum: float | None = None
    help: str = ""
    group: str = ""

    def problem(self, value: Any) -> str | None:
        """Return what is wrong with ``value`` for this setting (one phrase), ``None`` when it is fine.

        ``file`` and ``folder`` settings are checked for type only; whether the path exists depends on
        where it is resolved, which the spec checker does.

        Examples
        --------
        >>> Setting("customers", "int", minimum=1).problem(0)
        'expected at least 1, got 0'
        >>> Setting("start", "date").problem("2024-13-01")
        "expected a date like 2024-01-01, got '2024-13-01'"
        >>> Setting("seed", "int").problem(3) is None
        True
        """
        if self.kind == "int":
            if not isinstance(value, int) or isinstance(value, bool):
                return f"expected an integer, got {value!r}"
        elif self.kind == "float":
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                return f"expected a number, got {value!r}"
        elif self.kind in ("text", "file", "folder"):
            if not isinstance(value, str) or not value:
                return f"expected text, got {value!r}" if self.kind == "text" else f"expected a path, got {value!r}"
        elif self.kind == "optional text":
            if value is not None and not isinstance(value, str):
                return f"expected text or null, got {value!r}"
        elif self.kind == "date":
            if not isinstance(value, str) or not _is_iso_date(value):
                return f"expected a date like 2024-01-01, got {value!r}"
        if self.minimum is not None and self.kind in ("int", "float") and value < self.minimum:
            return f"expected at least {self.minimum:g}, got {value}"
        return None

    def describe(self) -> str:
        """``kind`` with its bounds and default, as ``churnlab data list`` shows it.

        Examples
        --------
        >>> Setting("customers", "int", default=10000, minimum=1).describe()
        'int >= 1, default 10000'
        """
        text = self.kind + (f" >= {self.minimum:g}" if self.minimum is not None else "")
        if self.required:
            return text + ", required"
        return text + ("" if self.default is None else f", default {self.default}")


def _is_iso_date(text: str) -> bool:
    try:
        dt.datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def _no_inputs(settings: Mapping[str, Any]) -> bytes:
    return b""


@dataclass(frozen=True)
class Source:
    """A data source: how to open it from its settings, and how to write it to a cache folder.

    Parameters
    ----------
    name : str
        What a spec's ``data.source`` says.
    description : str
        One line for ``churnlab data list``.
    settings : tuple of Setting
        Every key the spec's ``data`` mapping may hold besides ``source``.
    open : callable
        ``open(settings) -> Dataset`` with the settings as the spec gives them (defaults are the
        loader's).
    build : callable, optional
        ``build(settings, folder)`` writes the source to ``folder`` (``Dataset.save`` layout); by
        default ``open(settings).save(folder)``. The synthetic world also writes its truth.
    inputs : callable, optional
        ``inputs(settings) -> bytes``: what besides the settings and the loader code decides the data
        (a files source: its config and the size and time of the files next to it). Part of the
        runner's cache key, so changed files rebuild the cache.
    in_place : callable, optional
        ``in_place(settings) -> Path``: the source already is a folder in the ``Dataset.save`` layout,
        which runs read where it lies (no copy into the cache; a 1M-customer world is gigabytes).
    """

    name: str
    description: str
    settings: tuple[Setting, ...]
    open: Callable[[Mapping[str, Any]], Dataset]
    build: Callable[[Mapping[str, Any], Path], None] | None = None
    inputs: Callable[[Mapping[str, Any]], bytes] = _no_inputs
    in_place: Callable[[Mapping[str, Any]], Path] | None = None

    @property
    def setting_names(self) -> tuple[str, ...]:
        """The keys a spec may give, in order."""
        return tuple(s.name for s in self.settings)

    def setting(self, name: str) -> Setting | None:
        """Return the setting called ``name``, ``None`` when the source has none by that name."""
        return next((s for s in self.settings if s.name == name), None)

    def write(self, settings: Mapping[str, Any], folder: Path) -> None:
        """Write the source with ``settings`` to ``folder`` (see ``build``)."""
        if self.build is not None:
            self.build(settings, folder)
        else:
            self.open(settings).save(folder)


# --- the synthetic world ------------------------------------------------------------------------

_KNOB_KINDS = {"float": "float", "int": "int", "str": "text", "str | None": "optional text"}


def _knob_settings() -> tuple[Setting, ...]:
    """One setting per field of :class:`~churnlab.data.synthetic.knobs.Knobs`, typed from its annotation."""
    return tuple(
        Setting(f.name, _KNOB_KINDS.get(str(f.type), "text"), default=f.default, group="knobs")
        for f in dataclasses.fields(Knobs)
    )


def _synthetic_arguments(settings: Mapping[str, Any]) -> dict[str, Any]:
    values = dict(settings)
    return {"n_customers": values.pop("customers", DEFAULT_SYNTHETIC_CUSTOMERS), **values}


def _open_synthetic(settings: Mapping[str, Any]) -> Dataset:
    from churnlab.data.synthetic import generate

    return generate(**_synthetic_arguments(settings))[0]


def _build_synthetic(settings: Mapping[str, Any], folder: Path) -> None:
    from churnlab.data.synthetic import generate, save_world
    from churnlab.data.synthetic.build import STREAM_CUSTOMERS, stream_world

    arguments = _synthetic_arguments(settings)
    if arguments["n_customers"] > STREAM_CUSTOMERS:
        # past this size the world streams to Parquet chunk by chunk; its big tables are read where they lie
        stream_world(folder, **arguments)
        return
    dataset, truth = generate(**arguments)
    save_world(dataset, truth, folder)


# --- a saved folder -------------------------------------------------------------------------------


def _saved_folder(settings: Mapping[str, Any]) -> Path:
    folder = Path(settings["path"])
    if not (folder / "dataset.json").is_file():
        raise DataSourceError(f"data.path {str(folder)!r}: no dataset.json there; expected a folder written by "
                              f"`churnlab data generate` or Dataset.save")
    return folder


def _open_folder(settings: Mapping[str, Any]) -> Dataset:
    return Dataset.load(_saved_folder(settings))


def _folder_inputs(settings: Mapping[str, Any]) -> bytes:
    return (_saved_folder(settings) / "dataset.json").read_bytes()


# --- user files -----------------------------------------------------------------------------------


def _files_inputs(settings: Mapping[str, Any]) -> bytes:
    """Return the config's bytes and the name, size and modification time of every file next to it."""
    config = Path(settings["config"])
    parts = [config.read_bytes()]
    for path in sorted(p for p in config.parent.iterdir() if p.is_file()):
        stat = path.stat()
        parts.append(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return b"\n".join(parts)


def _public(name: str, loader: Callable[[], Dataset]) -> Source:
    return Source(
        name=name,
        description=(loader.__doc__ or name).strip().splitlines()[0],
        settings=(),
        open=lambda settings: loader(),
    )


#: Every data source a spec may name, in the order ``churnlab data list`` shows them.
SOURCES: dict[str, Source] = {
    "synthetic": Source(
        name="synthetic",
        description="The synthetic world with ground truth (true churn drivers and offer effects).",
        settings=(
            Setting("customers", "int", DEFAULT_SYNTHETIC_CUSTOMERS, minimum=1, help="customers who sign up"),
            Setting("seed", "int", 0, help="same seed, same world"),
            Setting("start", "date", "2024-01-01", help="first day of the simulated period"),
            Setting("end", "date", "2024-12-31", help="last day of the period (the dataset's as_of)"),
            *_knob_settings(),
        ),
        open=_open_synthetic,
        build=_build_synthetic,
    ),
    "telco": _public("telco", load_telco),
    "mlc_churn": _public("mlc_churn", load_mlc_churn),
    "cdnow": _public("cdnow", load_cdnow),
    "folder": Source(
        name="folder",
        description="A folder written by `churnlab data generate` or Dataset.save, read where it lies (big tables "
                    "stay on disk).",
        settings=(Setting("path", "folder", required=True, help="the folder holding dataset.json"),),
        open=_open_folder,
        inputs=_folder_inputs,
        in_place=_saved_folder,
    ),
    "files": Source(
        name="files",
        description="Your own CSV/Parquet files, mapped to the canonical tables by a YAML config.",
        settings=(Setting("config", "file", required=True, help="the YAML config that describes the files"),),
        open=lambda settings: load_files(Path(settings["config"])),
        inputs=_files_inputs,
    ),
}


def source(name: str) -> Source:
    """Return the registered source ``name``.

    Raises
    ------
    DataSourceError
        When no source has that name; the message lists the registered names.
    """
    try:
        return SOURCES[name]
    except (KeyError, TypeError):
        raise DataSourceError(f"data source {name!r}: expected one of {sorted(SOURCES)}") from None


def named_without_settings() -> Iterable[str]:
    """Names of the sources that open by name alone (they take no settings): the public datasets."""
    return [name for name, entry in SOURCES.items() if not entry.settings]
