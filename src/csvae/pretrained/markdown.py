"""A model card as people read it: the whole card in Markdown (card.md) and its row in the table
of shipped models (docs/pretrained.md, ``csvae pretrained table``)."""

from __future__ import annotations

import json

from csvae.models import MODEL_TITLES


def _number(value) -> str:
    return "–" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def _omitted(keys) -> str:
    """The sentence on the training-only parameters a shipped model.pt leaves out ('' for none)."""
    if not keys:
        return ""
    modules = sorted({key.split(".")[0] for key in keys})
    return (f". Left out, as only training reads them: the parameters of {', '.join(modules)} ({len(keys)} tensors); "
            f"loading rebuilds them at their initial values")


def _label_accuracy(check: dict) -> list[str]:
    """The check's lines on the inferred labels' accuracy ([] when the model infers none)."""
    accuracy = check["metrics"].get("label_accuracy")
    if not accuracy:
        return []
    values = ", ".join(f"{k} {_number(v)}" for k, v in accuracy.items())
    return ["", f"and the accuracy of the labels it infers for these images as for a new photo (to within "
                f"{check['tolerance']['label_accuracy']}): {values}."]


def card_markdown(card: dict) -> str:
    """The card as Markdown: the same data as card.json, for people."""
    data, train, metrics, check = card["data"], card["training"], card["metrics"], card["check"]
    lines = [f"# {card['name']}", "", card["summary"] + ".", "",
             "## Data", "",
             f"- data set: {data['name']} (fingerprint {data['fingerprint'][:16]}…), metrics on its "
             f"{data['split']} split; split sizes: "
             + ", ".join(f"{k} {v}" for k, v in data["split_sizes"].items()),
             f"- attributes: {', '.join(data['attributes'])} ({data['label_kind']})",
             f"- image size: {' x '.join(map(str, data['image_size']))} (C x H x W), crop "
             f"{data['crop'] or 'the largest centred square'}", "",
             "## Training", "",
             f"- command: `{train['command']}`",
             f"- commit: {train['commit']}",
             f"- time: {train['time']}",
             f"- hardware: {train['hardware']}", "",
             "## Test metrics", "",
             f"recon R² {_number(metrics['recon_r2'])}, bits/dim {_number(metrics.get('bits_per_dim'))}, mean "
             f"manipulation accuracy {_number(metrics['mean_accuracy'])}, mean preservation "
             f"{_number(metrics.get('mean_preservation'))}.", "",
             "| direction | n | accuracy (95 % CI) | preserved (label judge) | preserved (attribute judge) |",
             "| --- | --- | --- | --- | --- |"]
    for name, row in metrics["manipulation"].items():
        kept = (metrics["preservation"] or {}).get(name)
        lines.append(f"| {name} | {_number(row['n'])} | {_number(row['accuracy'])} ({_number(row['ci_low'])}–"
                     f"{_number(row['ci_high'])}) | {_number(row['preserved_accuracy'])} | {_number(kept)} |")
    realism = metrics["realism"]
    if realism:
        lines += ["", "Realism (attribute judge's features; lower is closer to real test images): " + ", ".join(
            f"{part} Fréchet {_number(v.get('frechet'))}, kernel {_number(v.get('kernel'))}"
            for part, v in realism.items())]
    tolerance = check["tolerance"]
    lines += ["", "## Check", "",
              f"`tests/test_pretrained_shipped.py` measures these again on the first {check['rows']} images of the "
              f"{check['split']} split: recon R² {_number(check['metrics']['recon_r2'])} (to within "
              f"{tolerance['recon_r2']}), and the mean RMS change each edit makes to the reconstruction (to within "
              f"{tolerance['edit_rms']:.0%}):", "", "| direction | edit RMS |", "| --- | --- |",
              *[f"| {k} | {'–' if v is None else format(v, '.5f')} |" for k, v in check["metrics"]["edit_rms"].items()],
              *_label_accuracy(check), "",
              f"The test metrics above are those of the trained float32 weights (`csvae evaluate`); on these "
              f"images the shipped float16 weights give recon R² {_number(check['metrics']['recon_r2'])} where the "
              f"float32 ones gave {_number(check['float32_metrics']['recon_r2'])}.", "",
              "## Weights", "",
              f"`{card['weights']['file']}`, {card['weights']['bytes']} bytes, {card['weights']['dtype']}, sha256 "
              f"`{card['weights']['sha256']}`" + _omitted(card['weights'].get("omitted")), "",
              "## Known limits", "", *[f"- {text}" for text in card["limits"]], "",
              "## Licence", "", card["licence"], "",
              "## Config", "", "```json", json.dumps(train["config"], indent=1), "```", ""]
    return "\n".join(lines)


TABLE_HEAD = ("| name | model | data | size | attributes | manipulation (per direction) | preservation | recon R² |\n"
              "| --- | --- | --- | --- | --- | --- | --- | --- |")


def table_row(card: dict) -> str:
    """One row of docs/pretrained.md's table of shipped models, from a card."""
    metrics = card["metrics"]
    flips = ", ".join(f"{name} {_number(row['accuracy'])}" for name, row in metrics["manipulation"].items())
    size = card["data"]["image_size"]
    return (f"| {card['name']} | {MODEL_TITLES.get(card['model'], card['model'])} | {card['data']['name']} | "
            f"{size[1]} px | {', '.join(card['data']['attributes'])} | {flips or '–'} | "
            f"{_number(metrics.get('mean_preservation'))} | {_number(metrics['recon_r2'])} |")


TABLE_START, TABLE_END = "<!-- csvae pretrained table: start -->", "<!-- csvae pretrained table: end -->"
"""The lines around the table in docs/pretrained.md that ``csvae pretrained table --docs`` rewrites."""


def with_table(text: str, table: str, source: str = "the page") -> str:
    """``text`` with the lines between ``TABLE_START`` and ``TABLE_END`` replaced by ``table``;
    ValueError naming ``source`` when the markers are not there once each, in order."""
    start, end = text.find(TABLE_START), text.find(TABLE_END)
    if text.count(TABLE_START) != 1 or text.count(TABLE_END) != 1 or end < start:
        raise ValueError(f"{source} must hold the lines {TABLE_START!r} and {TABLE_END!r} once each, in this order, "
                         f"around the table of shipped models")
    return f"{text[:start + len(TABLE_START)]}\n{table}\n{text[end:]}"
