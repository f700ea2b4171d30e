"""The paper's claims (and ours), each checked against the numbers of a part: supported or not.
CSVAE against all the other models and each peer: ``csvae.report.rivals``."""

from __future__ import annotations

from collections import defaultdict

from csvae.config import BASELINES, PEERS
from csvae.report.rivals import leakage_claim, overall_claims, paired_claims
from csvae.report.tables import DISTANCES, NullMetric, interval_text, number
from csvae.report.verdict import Claim, judged

__all__ = ["Claim", "claims", "counterfactual_claims", "judged"]

WITHOUT_STYLES = (*BASELINES, *PEERS)
"""The models whose counterfactuals CSVAE's are compared with: those with no style space (their
transfer is a label flip), the paper's baselines and the peers."""


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
    if "csvae" not in runs:
        return []
    lines = overall_claims(runs, image) + (counterfactual_claims(runs) if image else [])
    if "vae" in runs:
        text = "z is (more) label-free in CSVAE"
        lines.append(judged(text, leakage_claim, text, runs, "vae", "VAE"))
    return lines + paired_claims(runs, image)
