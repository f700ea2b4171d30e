"""The report's section on real photos: preservation of the other attributes and realism, read
by the attribute judge (``csvae.evaluate.attribute_judge``), from metrics.json alone."""

from __future__ import annotations

from csvae.report.tables import interval_text, mean_sd, table

REALISM = (("reconstruction", "reconstructions"), ("manipulation", "manipulations"))


def _attributes(seeds: dict[int, dict]) -> list[dict]:
    return [m["attributes"] for m in seeds.values() if "attributes" in m]


def preservation_rows(variant: str, seeds: dict[int, dict]) -> list[list[str]]:
    """Per direction: preservation, mean ± sd over seeds and the first seed's 95% interval."""
    per_seed = _attributes(seeds)
    rows = []
    for direction, first in per_seed[0]["preservation"].items():
        values = [(a["preservation"].get(direction) or {}).get("mean") for a in per_seed]
        rows.append([variant, direction, mean_sd(values), interval_text(first), str(first["n"]) if first else "0"])
    return rows


def realism_rows(variant: str, seeds: dict[int, dict]) -> list[list[str]]:
    """Fréchet and kernel distances to the real test photos of reconstructions and manipulations."""
    per_seed = _attributes(seeds)
    cells = []
    for key, _ in REALISM:
        cells += [mean_sd([a["realism"][key]["frechet"] for a in per_seed]),
                  mean_sd([a["realism"][key]["kernel"] for a in per_seed])]
    return [[variant, *cells]]


def attribute_section(runs: dict[str, dict[int, dict]]) -> list[str]:
    """The section, or nothing when no run of the part has the attribute judge's metrics."""
    judged = {v: s for v, s in runs.items() if _attributes(s)}
    if not judged:
        return []
    first = _attributes(next(iter(judged.values())))[0]
    floor = first["realism"]["real_valid"]
    balanced = first["judge"]["test_balanced_accuracy"]
    accuracy = ", ".join(f"{name} {value:.2f}" for name, value in sorted(balanced.items()) if value is not None)
    lines = ["", "### Preservation and realism (the attribute judge)", "",
             f"A judge of all {len(balanced)} CelebA attributes, trained on the "
             f"training split's real photos, reads the test photos and their edits. **Preservation**: the share of the "
             f"{len(first['preserved_attributes'])} attributes the edit should leave alone (every attribute but the "
             f"task's and those that define it) that the judge reads the same on G(x) as on x (AttGAN/STGAN's "
             f"measure). **Realism**: Fréchet distance (FD) and kernel distance (KD, unbiased MMD², polynomial kernel) "
             f"between the judge's features of the real test photos and of the reconstructions or the manipulations "
             f"(all directions pooled); lower is more real. These are distances in this judge's feature space, "
             f"**not** Inception FID/KID. The floor, real validation photos against real test photos: FD "
             f"{floor['frechet']:.3f}, KD {floor['kernel']:.4f}.", "",
             f"The judge's balanced test accuracy per attribute: {accuracy}.", ""]
    lines += table(["variant", "direction", "preservation", "95% interval", "n"],
                   [row for v, s in judged.items() for row in preservation_rows(v, s)])
    lines += [""] + table(["variant", "FD recon", "KD recon", "FD manipulations", "KD manipulations"],
                          [row for v, s in judged.items() for row in realism_rows(v, s)])
    return lines
