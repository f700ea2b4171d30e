"""CSVAE against every other model of a part: the highest manipulation accuracy and the most
diverse styles among all of them, and CSVAE beside CCVAE and each peer (``csvae.config.PEERS``)
one at a time. Each comparison of images also compares the 95% bootstrap intervals direction by
direction, and a model ahead of CSVAE is named with its number."""

from __future__ import annotations

from typing import Callable, Optional

from csvae.config import MODEL_NAMES, PEERS, STYLE_MODELS
from csvae.models import MODEL_TITLES
from csvae.report.tables import finite_mean, leakage, mean_diversity, mean_manipulation, number
from csvae.report.verdict import Claim, judged

Runs = dict[str, dict[int, dict]]
"""variant -> seed -> metrics."""
TITLES = {**MODEL_TITLES, "s2vae": "S²-VAE"}
"""How the claims write each model (S²-VAE as its paper and docs/models.md do)."""
PAIRED = ("ccvae", *PEERS)
"""The models CSVAE is also compared with one at a time (the baselines have their own claims)."""


def others(runs: Runs) -> list[str]:
    """The variants of the part that are models other than CSVAE, in ``MODEL_NAMES`` order."""
    return [v for v in MODEL_NAMES if v != "csvae" and v in runs]


def draws_styles(variant: str, seeds: dict[int, dict]) -> bool:
    """Whether the model of a variant has a style space (``STYLE_MODELS``; the model its metrics name)."""
    return seeds[min(seeds)].get("model", variant) in STYLE_MODELS


def cannot_draw(variants: list[str]) -> str:
    """The sentence that names the models without styles ("" when there is none)."""
    if not variants:
        return ""
    return (f"{', '.join(TITLES[v] for v in variants)} cannot draw styles (one code or coordinate per label: "
            f"their edit is deterministic, with no style to sample or transfer)")


def accuracy_interval(metrics: dict) -> dict[str, tuple]:
    """Direction -> the 95% interval of its manipulation accuracy."""
    return {d: (r.get("ci_low"), r.get("ci_high")) for d, r in metrics["manipulation"].get("directions", {}).items()}


def diversity_interval(metrics: dict) -> dict[str, tuple]:
    """Direction -> the 95% interval of its judge-feature diversity (None, None for runs evaluated
    before evaluate recorded it)."""
    return {d: (r.get("feature_ci_low"), r.get("feature_ci_high"))
            for d, r in metrics["manipulation"].get("diversity", {}).items()}


def overlap(runs: Runs, rival: str, intervals: Callable[[dict], dict[str, tuple]]) -> str:
    """How CSVAE's 95% intervals stand against ``rival``'s, per direction and seed both have: wholly
    above, overlapping, wholly below (and how many lack an interval)."""
    counts = {"above": 0, "overlapping": 0, "below": 0, "without": 0}
    for seed in sorted(set(runs["csvae"]) & set(runs[rival])):
        theirs = intervals(runs[rival][seed])
        for direction, (low, high) in intervals(runs["csvae"][seed]).items():
            other_low, other_high = theirs.get(direction, (None, None))
            bounds = [number(b) for b in (low, high, other_low, other_high)]
            if None in bounds:
                counts["without"] += 1
            elif bounds[0] > bounds[3]:
                counts["above"] += 1
            elif bounds[1] < bounds[2]:
                counts["below"] += 1
            else:
                counts["overlapping"] += 1
    compared = counts["above"] + counts["overlapping"] + counts["below"]
    if not compared:
        return f"no 95% intervals to compare with {TITLES[rival]}'s"
    text = (f"95% intervals against {TITLES[rival]}'s, per direction and seed: CSVAE's above in {counts['above']}, "
            f"overlapping in {counts['overlapping']}, below in {counts['below']} of {compared}")
    return text + (f" ({counts['without']} without an interval)" if counts["without"] else "")


def ahead(scores: dict[str, float], ours: float, digits: int) -> str:
    """"; ahead of CSVAE: MSP 0.950 (CSVAE 0.900)" for every model scoring above CSVAE ("" for none)."""
    better = [v for v in scores if scores[v] > ours]
    if not better:
        return ""
    return "; ahead of CSVAE: " + ", ".join(f"{TITLES[v]} {scores[v]:.{digits}f}" for v in better) + \
        f" (CSVAE {ours:.{digits}f})"


def best_of(text: str, what: str, runs: Runs, variants: list[str], score: Callable[[dict[int, dict]], float],
            intervals: Callable[[dict], dict[str, tuple]], digits: int, note: str = "") -> Claim:
    """The claim that CSVAE scores above every one of ``variants``, with every score, the interval
    overlap against the best of them, and each model ahead of CSVAE."""
    ours = score(runs["csvae"])
    scores = {v: score(runs[v]) for v in variants}
    best = max(scores, key=scores.get)
    listed = ", ".join(f"{TITLES[v]} {s:.{digits}f}" for v, s in scores.items())
    listed = f"; the {len(scores)} others: {listed}" if len(scores) > 1 else f", {listed}"
    evidence = f"{what} CSVAE {ours:.{digits}f}{listed}; {overlap(runs, best, intervals)}{ahead(scores, ours, digits)}"
    return Claim(text, ours > scores[best], evidence + (f"; {note}" if note else ""))


def highest_accuracy(runs: Runs) -> Optional[Claim]:
    """CSVAE's mean manipulation accuracy against every other model's (None: no other model)."""
    if not others(runs):
        return None
    return best_of("CSVAE has the highest manipulation accuracy", "mean manipulation accuracy", runs, others(runs),
                   mean_manipulation, accuracy_interval, 3)


def most_diverse(runs: Runs) -> Optional[Claim]:
    """CSVAE's judge-feature style diversity against every other model that draws styles; the
    models that cannot are named, never scored 0 (None: no other model)."""
    rivals = others(runs)
    if not rivals:
        return None
    text = "CSVAE draws the most diverse styles"
    drawing = [v for v in rivals if draws_styles(v, runs[v])]
    note = cannot_draw([v for v in rivals if v not in drawing])
    if not drawing:
        return Claim(text, mean_diversity(runs["csvae"]) > 0, f"judge-feature diversity CSVAE "
                     f"{mean_diversity(runs['csvae']):.4f}; no other model here draws styles: {note}")
    return best_of(text, "judge-feature diversity", runs, drawing, mean_diversity, diversity_interval, 4, note)


def paired(runs: Runs, rival: str, image: bool) -> list[Claim]:
    """CSVAE against one of ``PAIRED``: which manipulates more accurately, keeps its label-free
    part freer of the label, and (for a model that draws styles) draws more diverse styles."""
    name = TITLES[rival]
    pair = {v: runs[v] for v in ("csvae", rival)}
    with_manipulation = image and all("manipulation" in m for s in pair.values() for m in s.values())
    out = []
    if with_manipulation:
        text = f"CSVAE manipulates more accurately than {name}"
        out.append(judged(text, best_of, text, "mean manipulation accuracy", pair, [rival], mean_manipulation,
                          accuracy_interval, 3))
    part = "style part" if rival == "ccvae" else "label-free part z"
    text = f"CSVAE's z is freer of the label than {name}'s {part}"
    out.append(judged(text, leakage_claim, text, runs, rival, name))
    if with_manipulation and draws_styles(rival, runs[rival]):
        text = f"CSVAE draws more diverse attribute styles than {name}"
        out.append(judged(text, best_of, text, "judge-feature diversity", pair, [rival], mean_diversity,
                          diversity_interval, 4))
    return out


def overall_claims(runs: Runs, image: bool) -> list[Claim]:
    """On images: CSVAE against all the other models, in manipulation accuracy and in styles."""
    if not (image and all("manipulation" in m for s in runs.values() for m in s.values())):
        return []
    found = [judged(text, check, runs) for text, check in (
        ("CSVAE has the highest manipulation accuracy", highest_accuracy),
        ("CSVAE draws the most diverse styles", most_diverse))]
    return [claim for claim in found if claim is not None]


def paired_claims(runs: Runs, image: bool) -> list[Claim]:
    """CSVAE against each of ``PAIRED`` present (``paired``)."""
    return [claim for rival in PAIRED if rival in runs for claim in paired(runs, rival, image)]


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
