"""A dataset's own vocabularies: its segments, plans, funnel stages, channels, ticket lines and more.

Vocabularies belong to the data. A source declares the values its tables use (a files config under
``vocabulary:``); what it does not declare falls back to the synthetic world's, which are the
defaults in :mod:`churnlab.config`. Validation checks each table's values against the dataset's
vocabulary, and analyses read it through :meth:`churnlab.schema.Dataset.vocabulary`, never from a
hard-coded list.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from churnlab import config as C
from churnlab.errors import SchemaError

__all__ = ["Vocabulary", "VOCABULARY_NAMES", "DEFAULT_EMAIL_CHANNELS", "DEFAULT_CSAT_SCALE"]

#: Channels of the synthetic world that behave like email (opens are tracked, newsletters go there).
DEFAULT_EMAIL_CHANNELS: tuple[str, ...] = ("email",)
#: CSAT scale of the synthetic world: 1 (very unhappy) to 5 (very happy). OPINIONS.md, "Value ranges".
DEFAULT_CSAT_SCALE: tuple[float, float] = (1.0, 5.0)


@dataclass(frozen=True)
class Vocabulary:
    """The values a dataset's categorical columns may take, and the scale of its CSAT scores.

    Parameters
    ----------
    segments : tuple of str
        ``customers.segment`` values (synthetic: B2B, B2C).
    plans : tuple of str
        ``customers.plan`` values.
    funnel_stages : tuple of str
        ``funnel.stage`` values **in funnel order**, first stage first.
    message_channels : tuple of str
        ``messages.channel`` values.
    email_channels : tuple of str
        The message channels that behave like email (opens tracked); a subset of ``message_channels``.
    ticket_lines : tuple of int
        ``tickets.line`` values, first line (often a bot) first.
    ticket_categories : tuple of str
        ``tickets.category`` values.
    components : tuple of str
        ``events.component`` values (product components).
    churn_reasons : tuple of str
        ``subscriptions.churn_reason`` values.
    csat_scale : tuple of float
        Lowest and highest CSAT score (``tickets.csat``, ``surveys.score`` of kind ``csat``).
    """

    segments: tuple[str, ...] = C.SEGMENTS
    plans: tuple[str, ...] = C.PLANS
    funnel_stages: tuple[str, ...] = C.FUNNEL_STAGES
    message_channels: tuple[str, ...] = C.MESSAGE_CHANNELS
    email_channels: tuple[str, ...] = DEFAULT_EMAIL_CHANNELS
    ticket_lines: tuple[int, ...] = C.TICKET_LINES
    ticket_categories: tuple[str, ...] = C.TICKET_CATEGORIES
    components: tuple[str, ...] = C.COMPONENTS
    churn_reasons: tuple[str, ...] = C.CHURN_REASONS
    csat_scale: tuple[float, float] = DEFAULT_CSAT_SCALE

    @classmethod
    def from_mapping(cls, declared: Mapping[str, Any] | None, *, where: str = "vocabulary") -> Vocabulary:
        """Build a vocabulary from declared entries; undeclared ones keep the synthetic world's defaults.

        Parameters
        ----------
        declared : mapping of str to list, optional
            Entry name to its values (``{"segments": ["SMB", "Enterprise"]}``); ``csat_scale`` is
            ``[low, high]``.
        where : str
            Named in error messages (the config file and key).

        Returns
        -------
        Vocabulary

        Raises
        ------
        SchemaError
            Unknown entry name, an entry that is not a non-empty list of distinct values, an
            ``email_channels`` value that is not a message channel, or a CSAT scale that is not
            two increasing numbers.

        Examples
        --------
        >>> Vocabulary.from_mapping({"segments": ["SMB", "Enterprise"]}).segments
        ('SMB', 'Enterprise')
        >>> Vocabulary.from_mapping({}).funnel_stages
        ('visit', 'signup', 'activation', 'first_payment')
        """
        declared = dict(declared or {})
        unknown = sorted(set(declared) - set(VOCABULARY_NAMES))
        if unknown:
            raise SchemaError(f"{where}: unknown entry {unknown[0]!r}; known entries are {', '.join(VOCABULARY_NAMES)}")
        values: dict[str, tuple] = {}
        for name, given in declared.items():
            if not isinstance(given, (list, tuple)) or not given:
                raise SchemaError(f"{where}.{name}: expected a non-empty list of values, found {given!r}")
            if name == "csat_scale":
                values[name] = _scale(given, f"{where}.{name}")
                continue
            if name == "ticket_lines":
                if not all(isinstance(v, int) and not isinstance(v, bool) for v in given):
                    raise SchemaError(f"{where}.{name}: expected whole numbers (1, 2, 3), found {list(given)!r}")
                items: tuple = tuple(given)
            else:
                items = tuple(str(v) for v in given)
            if len(set(items)) < len(items):
                raise SchemaError(f"{where}.{name}: expected distinct values, found {list(items)!r}")
            values[name] = items
        vocabulary = cls(**values)
        if "message_channels" in values and "email_channels" not in values:
            # Declared channels without email-like ones: the default 'email' counts only if declared.
            vocabulary = cls(**{**values, "email_channels": tuple(
                c for c in DEFAULT_EMAIL_CHANNELS if c in vocabulary.message_channels)})
        stray = [c for c in vocabulary.email_channels if c not in vocabulary.message_channels]
        if stray:
            raise SchemaError(
                f"{where}.email_channels: expected a subset of message_channels "
                f"{list(vocabulary.message_channels)}, found {stray[0]!r}"
            )
        return vocabulary

    def get(self, name: str) -> tuple:
        """Return the entry ``name`` (a tuple); raise :class:`SchemaError` listing the known names."""
        if name not in VOCABULARY_NAMES:
            raise SchemaError(f"vocabulary: unknown entry {name!r}; known entries are {', '.join(VOCABULARY_NAMES)}")
        return getattr(self, name)

    def to_dict(self) -> dict[str, list]:
        """Every entry as a plain list (JSON- and YAML-safe)."""
        return {name: list(getattr(self, name)) for name in VOCABULARY_NAMES}


def _scale(given: list | tuple, where: str) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in given)
    except (TypeError, ValueError):
        raise SchemaError(f"{where}: expected two numbers [low, high], found {list(given)!r}") from None
    if not low < high:
        raise SchemaError(f"{where}: expected low < high, found {list(given)!r}")
    return (low, high)


#: Entry names of :class:`Vocabulary`, in declaration order.
VOCABULARY_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Vocabulary))
