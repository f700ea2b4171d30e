"""The judge whose probabilities the page shows: the file given with --judge, else one found
where ``csvae evaluate`` and ``csvae reproduce`` cache judges for the run (``$CSVAE_JUDGE_DIR``,
the run's experiment folder's judges/, a judges/ folder beside the run)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Optional, Sequence

from csvae.evaluate.judge import Judge, load_judge
from csvae.explore.views import RunView
from csvae.rundir import ExperimentDir
from csvae.runs import judge_dir

log = logging.getLogger("csvae.explore")

MAX_CANDIDATES = 20
"""Judge files looked at per folder (the newest first)."""


def judge_folders(view: RunView) -> list[Path]:
    """Where judges of this run may be cached, nearest first."""
    folders = [Path(os.environ["CSVAE_JUDGE_DIR"])] if os.environ.get("CSVAE_JUDGE_DIR") else []
    root = view.run.root.resolve()
    folders += [ExperimentDir(p).judges for p in root.parents if ExperimentDir(p).manifest.is_file()]
    folders.append(judge_dir(root))
    return list(dict.fromkeys(folders))


def fits(judge: Judge, view: RunView) -> bool:
    try:
        judge.check_compatible(view.card.name, view.model.x_shape, view.names)
    except ValueError:
        return False
    return True


def find_judge(view: RunView) -> Optional[Judge]:
    """A cached judge that scores this run's images, or None."""
    for folder in judge_folders(view):
        if not folder.is_dir():
            continue
        files = sorted(folder.glob("judge-*.pt"), key=lambda p: p.stat().st_mtime, reverse=True)
        for path in files[:MAX_CANDIDATES]:
            try:
                judge = load_judge(path)
            except ValueError as err:
                log.warning("skipping %s: %s", path, err)
                continue
            if fits(judge, view):
                log.info("%s: judge %s", view.run.root, path)
                return judge
    return None


def run_judges(views: Sequence[RunView], path: Optional[str | os.PathLike]) -> list[Optional[Judge]]:
    """One judge (or None) per run: the --judge file for the runs it fits (ValueError naming the
    file when it fits none), else a found one; vector runs get none."""
    if path is not None:
        judge = load_judge(path)
        chosen = [judge if view.kind == "image" and fits(judge, view) else None for view in views]
        if not any(chosen):
            raise ValueError(f"--judge {path} scores {judge.dataset_name!r} images of shape {judge.image_shape} with "
                             f"attributes {', '.join(judge.attribute_names)}; it fits none of the runs given")
        for view, got in zip(views, chosen):
            if got is None:
                log.warning("--judge %s does not fit %s; no judge for that run", path, view.run.root)
        return chosen
    return [find_judge(view) if view.kind == "image" else None for view in views]
