"""The paper's claims (and ours), each checked against the numbers of a part: supported or not.
CSVAE against all the other models and each peer: ``csvae.report.rivals``."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Callable, Optional

from csvae.config import BASELINES, PEERS
from csvae.report.tables import (
    DISTANCES,
    NullMetric,
    finite_mean,
    interval_text,
    leakage,
    number,
)

WITHOUT_STYLES = (*BASELINES, *PEERS)
"""The models whose counterfactuals CSVAE's are compared with: those with no style space (their
transfer is a label flip), the paper's baselines and the peers."""


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


def _summary_text(summary: dict | None) -> str:
    return f"{summary['mean']:.3f} {interval_text(summary)}" if summary else "no inputs"


def below_every_rival(runs: dict[str, dict[int, dict]], scores, metric: str) -> tuple[int, dict[str, list[str]]]:
    """Compare CSVAE with every model of ``WITHOUT_STYLES`` present, seed by seed (seeds both
    have), on every key, in one distance ``metric`` ("pixel" or "feature", see ``DISTANCES``).

    scores(variant, metrics) -> key -> {"pixel", "feature"} bootstrap summaries. A comparison holds
    when CSVAE's interval lies wholly below the other model's. Returns (number of comparisons, key
    -> texts of those that fail; a summary of None, no inputs, fails). NullMetric when a compared
    interval holds a null (a NaN or inf when evaluated)."""
    total, failures = 0, defaultdict(list)
    for variant in (v for v in WITHOUT_STYLES if v in runs):
        for seed in sorted(set(runs["csvae"]) & set(runs[variant])):
            ours, theirs = scores("csvae", runs["csvae"][seed]), scores(variant, runs[variant][seed])
            for key, row in ours.items():
                total += 1
                a, b = row.get(metric), theirs.get(key, {}).get(metric)
                if a is not None and b is not None and (number(a["ci_high"]) is None or number(b["ci_low"]) is None):
                    raise NullMetric(f"{key}'s {DISTANCES[metric]} interval is null (NaN or infinite when evaluated) "
                                     f"for CSVAE or {variant}, seed {seed}")
                if a is None or b is None or not a["ci_high"] < b["ci_low"]:
                    failures[key].append(f"vs {variant}, seed {seed}: CSVAE {_summary_text(a)}, "
                                         f"{variant} {_summary_text(b)}")
    return total, failures


def _separation_claim(text: str, what: str, metric: str, total: int, failures: dict[str, list[str]],
                      keys: int) -> Claim:
    if not failures:
        return Claim(text, True, f"all {total} comparisons hold: {keys} {what} × models × seeds, in "
                                 f"{DISTANCES[metric]}")
    fails = sum(len(f) for f in failures.values())
    detail = "; ".join(f"{key}: {texts[0]}" + (f" (+{len(texts) - 1} more)" if len(texts) > 1 else "")
                       for key, texts in failures.items())
    return Claim(text, False, f"fails in {fails} of {total} comparisons, in {len(failures)} of {keys} {what}: "
                              f"{detail}")


def separation(runs: dict[str, dict[int, dict]], scores, text: str, what: str, metric: str, keys: int) -> Claim:
    """The claim that CSVAE lies below every model without styles in ``metric`` (``below_every_rival``)."""
    return _separation_claim(text, what, metric, *below_every_rival(runs, scores, metric), keys)


def counterfactual_claims(runs: dict[str, dict[int, dict]]) -> list[Claim]:
    """Claim lines on the rendered truth, each in pixels and, separately, in judge features:
    CSVAE's counterfactual distance, its transfer against the label flip of the models that cannot
    draw styles (baselines and peers) and (for runs evaluated with it) its counterfactuals' energy
    distance, below every such model's with non-overlapping 95% intervals.

    The two distances answer different questions (docs/evaluation.md): every model's pixel
    distance sits on its own reconstruction error, which changing one attribute moves little, so
    pixels mostly rank reconstructions; judge features rank how the attribute and its style are
    drawn. Neither verdict is hidden behind the other."""
    have = {v: s for v, s in runs.items() if all("counterfactual" in m for m in s.values())}
    if "csvae" not in have or not any(v in have for v in WITHOUT_STYLES):
        return []

    def transfer(variant, metrics):
        method = "transfer" if variant == "csvae" else "label_flip"
        return {a: {m: t[m].get(method) for m in DISTANCES} for a, t in metrics["counterfactual"]["transfer"].items()}

    first = have["csvae"][min(have["csvae"])]["counterfactual"]
    checks = (  # scores, claim text with a slot for the distance, what is compared, how many
        (lambda v, m: m["counterfactual"]["directions"],
         "CSVAE's counterfactual distance in {} is below every baseline's and peer's in every direction (95% "
         "intervals do not overlap)", "directions", len(first["directions"])),
        (transfer, "CSVAE's style transfer is closer in {} to the rendered truth than the label flip of every "
                   "baseline and peer (they cannot draw styles), for every attribute (95% intervals do not overlap)",
         "attributes", len(first["transfer"])))
    if all("energy" in m["counterfactual"] for s in have.values() for m in s.values()):
        checks += ((lambda v, m: m["counterfactual"]["energy"],
                   "CSVAE's counterfactuals are distributed closer to the true ones than every baseline's and "
                   "peer's, by the energy distance in {}, in every direction (95% intervals do not overlap)",
                   "directions",
                   len(first["energy"])),)
    lines = []
    for scores, text, what, keys in checks:
        for metric, label in DISTANCES.items():
            lines.append(judged(text.format(label), separation, have, scores, text.format(label), what, metric, keys))
    return lines


def claims(runs: dict[str, dict[int, dict]], image: bool) -> list[Claim]:
    """The claims of the paper (and our leakage, rendered-truth and rival checks) on one part's runs
    (variant -> seed -> metrics), each with its verdict."""
    from csvae.report.rivals import overall_claims, paired_claims  # they build on this module's Claim

    if "csvae" not in runs:
        return []
    lines = overall_claims(runs, image) + (counterfactual_claims(runs) if image else [])
    if "vae" in runs:
        text = "z is (more) label-free in CSVAE"
        lines.append(judged(text, leakage_claim, text, runs, "vae", "VAE"))
    return lines + paired_claims(runs, image)


def leakage_claim(text: str, runs: dict[str, dict[int, dict]], other: str, name: str) -> Claim:
    """CSVAE's z against ``other``'s z (CCVAE: its style part) by the nonlinear probe: balanced
    accuracy when the test split is imbalanced (majority rate above 0.6), else accuracy above chance.
    NullMetric when a number it needs is null or missing."""
    chance = max(finite_mean([m.get("label_chance")], "label_chance") for m in runs["csvae"].values())
    if chance > 0.6:
        key = "z_label_balanced_accuracy_nonlinear"
        ours, theirs = (finite_mean([m.get(key) for m in runs[v].values()], f"{key} of {v}") for v in ("csvae", other))
        return Claim(text, ours < theirs, f"the test split is imbalanced, majority rate {chance:.3f}, so balanced "
                                          f"accuracy of the nonlinear probe, chance 0.5: CSVAE {ours:.3f}, {name} "
                                          f"{theirs:.3f}")
    ours, theirs = (finite_mean([leakage(m) for m in runs[v].values()], f"the nonlinear leakage of {v}")
                    for v in ("csvae", other))
    return Claim(text, ours < theirs, f"nonlinear leakage above chance: CSVAE {ours:.3f}, {name} {theirs:.3f}")
