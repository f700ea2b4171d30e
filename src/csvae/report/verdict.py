"""A claim checked on a part's numbers: its statement, its verdict and the numbers behind it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from csvae.report.tables import NullMetric


@dataclass(frozen=True)
class Claim:
    """One claim checked on one part: its statement, whether the numbers support it (None: they
    cannot judge it, e.g. a metric that was NaN; the evidence says why), and the numbers (a short
    text)."""

    text: str
    supported: Optional[bool]
    evidence: str

    @property
    def verdict(self) -> str:
        if self.supported is None:
            return "Cannot be judged"
        return "Supported" if self.supported else "Not supported"

    def line(self) -> str:
        """The claim as a Markdown list item."""
        return f"- {self.verdict}: *{self.text}* ({self.evidence})."


def judged(text: str, check: Callable[..., Claim], *args) -> Claim:
    """The claim ``check(*args)`` makes, or, when a number it needs is null or missing, the claim
    ``text`` as one that cannot be judged, with the reason."""
    try:
        return check(*args)
    except NullMetric as err:
        return Claim(text, None, f"cannot be judged: {err}")
