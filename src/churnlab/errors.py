"""Named exceptions: an impossible request raises one of these with a one-line message."""

from __future__ import annotations


class ChurnlabError(Exception):
    """Base class of every error churnlab raises on purpose."""


class SchemaError(ChurnlabError, ValueError):
    """A table does not match its canonical schema (column, dtype, key, time sanity)."""


class MissingTableError(SchemaError):
    """A function needs a table the dataset does not provide."""


class DataSourceError(ChurnlabError, ValueError):
    """A source (file, config, packaged dataset) cannot be read as described."""


class SpecError(ChurnlabError, ValueError):
    """An experiment spec is malformed: unknown key, wrong type, missing notebook or parameter."""


class AnalysisError(ChurnlabError, ValueError):
    """A statistical analysis cannot be carried out on the data given (no customers, no variance)."""


class SampleRatioMismatchError(AnalysisError):
    """The observed allocation differs from the planned one: the verdict is blocked."""


class ModelError(ChurnlabError, ValueError):
    """A model cannot be fitted or applied (single-class labels, missing features at scoring)."""
