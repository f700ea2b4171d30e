"""``csvae reproduce``: train every run of an experiment over seeds, evaluate, write a report.

An experiment is a list of parts (one data set each); a part runs variants (the five models, or
for ablations one model with one choice changed) for some seeds. The experiment folder's layout
is ``csvae.rundir.ExperimentDir``: DIR/experiment.json (what runs, written first), each run in
DIR/runs/<data>/<variant>/seed<s>, judges cached in DIR/judges. A run whose metrics.json exists
(with the same config) is skipped, an unfinished one is resumed, so a killed reproduction
continues where it stopped. Runs are spread over worker processes (one torch thread each). The
report is then built from the folder's files alone (``csvae.report.build_report``).
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import json
import multiprocessing
import os
import queue
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import torch
from threadpoolctl import threadpool_limits

from csvae.config import ConfigError, RunConfig, config_to_dict, load_config
from csvae.presets import presets_dir
from csvae.rundir import ExperimentDir, ManifestError, RunDir
from csvae.safeio import FolderLock, read_json

MODEL_ORDER = ("vae", "condvae", "condvae_info", "csvae", "ccvae")
MODEL_VARIANTS = tuple((m, m, ()) for m in MODEL_ORDER)


@dataclass(frozen=True)
class Part:
    """One data set of an experiment: its presets folder, variants and config overrides.

    variants: (label, model preset, overrides) with overrides as (("model.w_dim", 4), ...)."""

    data: str
    presets: str
    variants: tuple = MODEL_VARIANTS
    overrides: tuple = ()
    needs_root: bool = False
    shared: Optional[str] = None
    """The folder of ../shared/data read when no --data-root is given (``shared_root``)."""
    seeds: Optional[int] = None
    """Seeds of this part (None: the experiment's)."""
    variant_seeds: tuple = ()
    """(label, seeds) pairs: variants run over more (or fewer) seeds than the part's."""


@dataclass(frozen=True)
class Experiment:
    name: str
    parts: tuple[Part, ...]
    seeds: int = 5
    description: str = ""


def ablation_variants() -> tuple:
    """CSVAE with each documented choice flipped on its own (see docs/models.md)."""
    flips = {
        "paper defaults": (),
        "tight prior on y=1": (("model.prior_mean_0", 3.0), ("model.prior_scale_0", 1.0),
                               ("model.prior_mean_1", 0.0), ("model.prior_scale_1", 0.1)),
        "0.1 read as variance": (("model.prior_scale_is", "variance"),),
        "learned prior": (("model.prior_learned", True),),
        "beta4 = 0": (("model.betas.entropy", 0.0),),
        "no adversary": (("model.betas.entropy", 0.0), ("model.betas.adversary", 0.0)),
        "cross-entropy encoder": (("model.encoder_objective", "cross_entropy"),),
        "dim w_i = 1": (("model.w_dim", 1),),
        "dim w_i = 4": (("model.w_dim", 4),),
        "mean reduction": (("model.reduction", "mean"),),
        "beta2 = 8 (face preset)": (("model.betas.kl_w", 8.0),),
        "W independence 10 (ours)": (("model.w_independence", 10.0),),
    }
    return tuple((label, "csvae", overrides) for label, overrides in flips.items())


def independence_variants() -> tuple:
    """CSVAE on the swiss roll with the ways of removing y from z (docs/models.md): the adversary's
    steps and capacity, HSIC, CLUB, the posterior mean as its input, and a 1-D z with each."""
    steps = ("train.adversary_steps", 5)
    flips = {
        "paper defaults": (),
        "adversary x5": (steps,),
        "adversary x5, 256x2": (steps, ("model.adversary_hidden", [256, 256])),
        "HSIC, beta4 = 100": (("model.independence", "hsic"), ("model.betas.entropy", 100.0)),
        "HSIC, beta4 = 1000": (("model.independence", "hsic"), ("model.betas.entropy", 1000.0)),
        "CLUB, beta4 = 10": (("model.independence", "club"),),
        "posterior mean, adversary x5": (("model.independence_input", "mean"), steps),
        "dim z = 1": (("model.z_dim", 1),),
        "dim z = 1, adversary x5": (("model.z_dim", 1), steps),
        "dim z = 1, HSIC, beta4 = 100": (("model.z_dim", 1), ("model.independence", "hsic"),
                                         ("model.betas.entropy", 100.0)),
        "dim z = 1, CLUB, beta4 = 10": (("model.z_dim", 1), ("model.independence", "club")),
    }
    return tuple((label, "csvae", overrides) for label, overrides in flips.items())


INDEPENDENCE_FIVE_SEEDS = tuple((label, 5) for label in ("dim z = 1, adversary x5", "dim z = 1, HSIC, beta4 = 100",
                                                          "dim z = 1, CLUB, beta4 = 10"))
"""The candidates for the swiss-roll target (mean over 5 seeds), chosen from one-seed trials."""
TOY_PARTS = tuple(Part(name, "toy") for name in ("swiss_roll", "s_curve", "moons3d", "swiss_roll_k2"))
ABLATION_FACES = (("data.n_samples", 4000), ("train.epochs", 6), ("model.w_dim", 2), ("model.betas.kl_w", 1.0),
                  ("model.w_independence", 0.0), ("model.conv_film", False))
"""Synthetic faces for the ablations: smaller and shorter, and with the paper's model (2-D w_i,
β2 = 1, no W-independence term, Larsen's decoder) as the base that each choice is flipped from (the
synthetic-face preset uses 3-D, β2 = 8, W independence 10 and a FiLM decoder)."""
CELEBA_PARTS = tuple(Part(name, "celeba64", needs_root=True, shared="celeba-20k") for name in (
    "celeba-glasses", "celeba-facialhair", "celeba-glasses-facialhair", "celeba-smiling"))
"""The paper's three CelebA tasks and Smiling, 64 px CPU presets, on celeba-20k."""
EXPERIMENTS = {
    "toy": Experiment("toy", TOY_PARTS, 5, "the paper's toy experiment and three more toy sets"),
    "synthetic-faces": Experiment("synthetic-faces", (Part("synthetic_faces", "synthetic_faces"),), 3,
                                  "synthetic faces with ground-truth styles"),
    "celeba": Experiment("celeba", CELEBA_PARTS, 1,
                         "the paper's CelebA study at 64 px on every image of celeba-20k (three tasks, and Smiling)"),
    "celeba-glasses": Experiment("celeba-glasses", (CELEBA_PARTS[0],), 3),
    "celeba-facialhair": Experiment("celeba-facialhair", (CELEBA_PARTS[1],), 3),
    "celeba-glasses-facialhair": Experiment("celeba-glasses-facialhair", (CELEBA_PARTS[2],), 3),
    "tfd-expressions": Experiment("tfd-expressions", (Part("tfd", "tfd", needs_root=True),), 3),
    "demo": Experiment("demo", (TOY_PARTS[0], Part("synthetic_faces", "synthetic_faces"),
                                Part("celeba-glasses", "celeba", needs_root=True, shared="celeba-20k")), 1,
                       "the README's main job: the swiss roll (one seed; `reproduce toy` runs five, and three "
                       "more toy sets), synthetic faces and the real CelebA subset"),
    "ablations": Experiment("ablations", (Part("swiss_roll", "toy", ablation_variants()),
                                          Part("synthetic_faces", "synthetic_faces", ablation_variants(),
                                               overrides=ABLATION_FACES)), 3,
                            "each of the authors' choices flipped on its own"),
    "independence": Experiment("independence", (Part("swiss_roll", "toy", independence_variants(),
                                                     variant_seeds=INDEPENDENCE_FIVE_SEEDS),), 3,
                               "CSVAE's ways of removing y from z on the swiss roll (docs/ablations.md)"),
}


def preset_path(folder: str, model: str) -> Path:
    """configs/<folder>/<model>.yaml, shipped inside the package."""
    return presets_dir() / folder / f"{model}.yaml"


SHARED_DATA = {"celeba-subset": "CSVAE_CELEBA_SUBSET", "celeba-20k": "CSVAE_CELEBA_20K"}
"""The folders of ../shared/data the experiments read, and the variable that points elsewhere."""


def shared_root(folder: Optional[str]) -> Optional[Path]:
    """The data folder ``folder`` of ``SHARED_DATA``: its environment variable, else
    <repo>/../shared/data/<folder> when it is there (None otherwise, and for None)."""
    if folder is None:
        return None
    if os.environ.get(SHARED_DATA[folder]):
        return Path(os.environ[SHARED_DATA[folder]])
    candidate = Path(__file__).resolve().parents[3] / "shared" / "data" / folder
    return candidate if candidate.is_dir() else None


def with_overrides(config: RunConfig, overrides) -> RunConfig:
    from csvae.config import config_from_dict

    values = config_to_dict(config)
    for key, value in overrides:
        *path, leaf = key.split(".")
        node = values
        for part in path:
            node = node[part]
        if leaf not in node:
            raise ConfigError(f"unknown config key {key!r} in an experiment override")
        node[leaf] = value
    return config_from_dict(values)


@dataclass(frozen=True)
class Job:
    config: RunConfig
    out: str
    judges: str
    data_label: str
    variant: str
    seed: int


def plan(experiment: Experiment, out: Path, seeds: Optional[int], data_root: Optional[str]) -> list[Job]:
    """Every run of the experiment; ``seeds`` (when given) replaces every part's number of seeds."""
    exp = ExperimentDir(out)
    jobs = []
    for part in experiment.parts:
        root = data_root or shared_root(part.shared)
        if part.needs_root and root is None:
            if experiment.name == "demo":
                continue  # the demo runs the CelebA part only where the subset is present
            raise ConfigError(f"experiment {experiment.name} needs --data-root (the {part.data} data)")
        for label, model, variant_overrides in part.variants:
            base = load_config(preset_path(part.presets, model))
            overrides = [("data.name", part.data), *part.overrides, *variant_overrides]
            if part.needs_root:
                overrides.append(("data.root", str(Path(root).resolve())))
            for seed in range(seeds or dict(part.variant_seeds).get(label) or part.seeds or experiment.seeds):
                config = with_overrides(base, [*overrides, ("data.seed", seed), ("train.seed", seed)])
                jobs.append(Job(config, str(exp.run(part.data, label, seed).root), str(exp.judges), part.data,
                                label, seed))
    return jobs


def expected_cost(job: Job) -> tuple:
    """A sort key for scheduling: image runs before vector runs, longer and two-encoder (CSVAE) runs
    first, so the workers finish together (the report does not depend on the order)."""
    c = job.config
    encoders = 2 if c.model.name in ("csvae", "ccvae") else 1  # CCVAE: one encoder, but K classifier samples
    return c.model.backbone == "conv", c.data.n_samples * c.train.epochs * encoders


def fit_job(job: Job) -> bool:
    """Fit (or resume) one run on one torch thread; True when it still needs its evaluation
    (False: its metrics.json, of this config, is there)."""
    from csvae.api import stored_config
    from csvae.runs import fit_run

    torch.set_num_threads(1)
    run = RunDir(Path(job.out))
    # model.pt is this job's only if it was trained with its config (an overwrite that did not
    # finish leaves the old model.pt beside the new config.yaml)
    finished = run.final.exists() and stored_config(run.final) == job.config
    if run.config.exists():
        if load_config(run.config) != job.config:
            raise ConfigError(f"{run.root} holds a run with another config; remove it or choose another --out")
        if run.evaluation.exists() and finished:
            return False
    if not finished:
        with threadpool_limits(1):  # sklearn's OpenMP probes too: the workers already fill the cores
            fit_run(job.config, run.root, resume=run.config.exists())
    return True


def evaluate_job(job: Job) -> dict:
    """Evaluate a fitted run on one torch thread and, for seed 0 (the seed the report shows), draw
    its figures (in the workers, beside other runs, rather than one after another in the report);
    returns its metrics."""
    from csvae.data.checks import DataError
    from csvae.figures import run_figures
    from csvae.runs import evaluate_run

    torch.set_num_threads(1)
    with threadpool_limits(1):
        metrics = evaluate_run(job.out, figures=False, judges=job.judges)
        if job.seed == 0:
            try:
                run_figures(job.out)
            except (DataError, ConfigError):  # the report draws what is missing and says why it cannot
                RunDir(Path(job.out)).latents_figure.unlink(missing_ok=True)
    return metrics


def run_job(job: Job) -> dict:
    """Fit (or resume) and evaluate one run; reuse its metrics.json when it is finished. Returns
    the run's metrics."""
    if fit_job(job):
        return evaluate_job(job)
    return read_json(RunDir(Path(job.out)).evaluation, "metrics.json")


EVALUATION_SHARE = 0.2
"""An evaluation's expected cost as a share of its run's fit (docs/performance.md, "Figures behind
the code")."""


def task_rank(function, job: Job) -> tuple:
    """Which waiting task a free worker takes first (the largest): judges, then fits and
    evaluations by ``expected_cost`` (an evaluation at ``EVALUATION_SHARE`` of its fit's)."""
    if function in JUDGES:
        return True, float("inf")
    image, cost = expected_cost(job)
    return image, cost if function is fit_job else EVALUATION_SHARE * cost


def run_in_pool(pool, workers: int, judged: list[tuple], todo: list[Job]) -> Iterator[Job]:
    """Train the judges, then fit and evaluate the runs on a pool of ``workers`` processes; yield
    each run when it is done. The first error is raised.

    The main process hands a task to each free worker, the largest waiting one first
    (``task_rank``); a run's evaluation waits from the end of its fit. So the long fits start
    first and the evaluations of the first ones fill the workers while the last long fit runs (five
    face runs on two workers). There is no barrier between judges and runs: a run needs its judge
    only for its evaluation (one that got there first would train the same judge itself: one
    thread and one seed give the same weights)."""
    results, waiting, order = queue.SimpleQueue(), [], itertools.count()

    def add(function, job: Job) -> None:
        rank = task_rank(function, job)
        heapq.heappush(waiting, ((not rank[0], -rank[1]), next(order), function, job))

    for function, job in judged:
        add(function, job)
    for job in todo:
        add(fit_job, job)
    running = 0
    while waiting or running:
        while waiting and running < workers:
            *_, function, job = heapq.heappop(waiting)
            pool.apply_async(function, (job,), callback=lambda out, f=function, j=job: results.put((f, j, out, None)),
                             error_callback=lambda err, f=function, j=job: results.put((f, j, None, err)))
            running += 1
        function, job, needs_evaluation, err = results.get()
        running -= 1
        if err is not None:
            raise err
        if function is fit_job and needs_evaluation:
            add(evaluate_job, job)
        elif function not in JUDGES:
            yield job


QUICK_OVERRIDES = (("train.epochs", 1), ("data.n_samples", 600))
QUICK_NOTE = ("QUICK SMOKE TEST (csvae reproduce --quick: small generated data, one epoch, one seed, no data from "
              "disk): it checks that every stage runs; its numbers mean nothing")


def quick_experiment(experiment: Experiment) -> Experiment:
    """``reproduce --quick``: the experiment's parts that need no data from disk, on small data for
    one epoch and one seed, its description marked as a smoke test."""
    parts = tuple(dataclasses.replace(p, overrides=(*p.overrides, *QUICK_OVERRIDES), seeds=1, variant_seeds=())
                  for p in experiment.parts if not p.needs_root)
    if not parts:
        raise ConfigError(f"experiment {experiment.name} reads its data from disk; --quick runs only the parts "
                          f"that generate theirs (try: csvae reproduce demo --quick)")
    return dataclasses.replace(experiment, parts=parts, seeds=1,
                               description=f"{QUICK_NOTE}. Data: {', '.join(p.data for p in parts)}")


def reproduce(name: str, out: str | os.PathLike, seeds: Optional[int] = None, jobs: Optional[int] = None,
              data_root: Optional[str] = None, quick: bool = False) -> Path:
    """Run experiment ``name`` into ``out``; write out/report.md and out/report.html. ``quick``:
    a smoke test (``quick_experiment``)."""
    if name not in EXPERIMENTS:
        raise ConfigError(f"unknown experiment {name!r}; choose one of {sorted(EXPERIMENTS)}")
    experiment = quick_experiment(EXPERIMENTS[name]) if quick else EXPERIMENTS[name]
    out = Path(out)
    if seeds is not None and seeds < 1:
        raise ConfigError(f"--seeds must be at least 1, got {seeds}")
    if jobs is not None and jobs < 1:
        raise ConfigError(f"--jobs must be at least 1, got {jobs}")
    planned = plan(experiment, out, seeds, data_root)
    with FolderLock(out, "experiment folder"):  # one reproduce (or report) at a time
        return run_experiment(prepare_experiment_folder(out, experiment, planned), name, planned, jobs)


def run_experiment(exp: ExperimentDir, name: str, planned: list[Job], jobs: Optional[int]) -> Path:
    """Fit and evaluate the ``planned`` runs of experiment ``name`` in ``jobs`` worker processes,
    then build the report of ``exp``; returns the path of report.md."""
    todo = sorted(planned, key=expected_cost, reverse=True)
    judged = prepare_shared_data(todo)
    workers = max(1, min(jobs or os.cpu_count() or 1, len(todo)))
    from tqdm.auto import tqdm

    with tqdm(total=len(todo), desc=f"reproduce {name}", disable=not sys.stderr.isatty()) as bar:
        if workers == 1:
            for function, job in judged:
                function(job)
            for job in todo:
                run_job(job)
                bar.update(1)
        else:
            with multiprocessing.get_context("spawn").Pool(workers) as pool:
                for _ in run_in_pool(pool, workers, judged, todo):
                    bar.update(1)
    from csvae.report import build_report

    return build_report(exp.root, redraw_figures=False)  # the workers drew each run's figures


def prepare_experiment_folder(out: Path, experiment: Experiment, jobs: list[Job]) -> ExperimentDir:
    """Make ``out`` and write its experiment.json, refusing a folder that holds another experiment
    or a report.md that csvae did not write or that was edited since (a user's own file is never
    replaced)."""
    exp = ExperimentDir(out)
    if exp.root.exists() and not exp.root.is_dir():
        raise ConfigError(f"--out {exp.root} is a file; give a folder")
    if exp.manifest.exists():
        try:
            held = exp.read_manifest()["name"]
        except ManifestError as err:
            raise ConfigError(f"--out {exp.root}: {err}; choose another folder") from None
        if held != experiment.name:
            raise ConfigError(f"--out {exp.root} holds the experiment {held!r}; choose another folder for "
                              f"{experiment.name!r}")
    elif any(p.exists() for p in (exp.report, exp.report_html)):
        raise ConfigError(f"--out {exp.root} holds a report.md or report.html that no `csvae reproduce` wrote there "
                          f"(no experiment.json); it is not replaced: choose another folder")
    from csvae.report.document import check_reports_replaceable

    check_reports_replaceable(exp)
    exp.root.mkdir(parents=True, exist_ok=True)
    planned = {j.data_label for j in jobs}
    parts = [{"data": p.data, "variants": [label for label, _, _ in p.variants]} for p in experiment.parts
             if p.data in planned]
    description = experiment.description
    skipped = [p for p in experiment.parts if p.data not in planned]
    if skipped:  # the demo's CelebA part where its data is absent: said on screen and in the report
        missing = "; ".join(f"{p.data} not run here: its data was not found (set ${SHARED_DATA[p.shared]} or put "
                            f"{p.shared} at <repo>/../shared/data/{p.shared})" for p in skipped)
        description += f"; {missing}"
        print(f"csvae reproduce {experiment.name}: {missing}", file=sys.stderr)
    exp.write_manifest(experiment.name, description, parts,
                       [{"data": j.data_label, "variant": j.variant, "seed": j.seed} for j in jobs])
    return exp


def prepare_shared_data(jobs: list[Job]) -> list[tuple]:
    """Build each image cache once, before the workers start (they would race to build the same
    files, each doing the whole work); return the judges to train as (function, job) pairs: one
    ``fit_judge`` per distinct image data set, one ``fit_attribute_judge`` per CelebA tree."""
    from csvae.data import load_dataset
    from csvae.evaluate.attribute_judge import attribute_data

    seen, judged = set(), []
    for job in jobs:
        for function, data in ((fit_judge, job.config.data), (fit_attribute_judge, attribute_data(job.config.data))):
            key = json.dumps(config_to_dict(job.config)["data"] if data is None else dataclasses.asdict(data),
                             sort_keys=True)
            if data is None or key in seen:
                continue
            seen.add(key)
            if load_dataset(data).x.ndim == 4:
                judged.append((function, job))
    return judged


def fit_judge(job: Job) -> None:
    """Train (or find in its cache) the judge of a job's image data, on one thread like the runs
    (the judge's weights then do not depend on the machine's core count, and it does not thrash a
    shared machine)."""
    from csvae.data import load_dataset
    from csvae.evaluate.judge import load_or_fit_judge

    torch.set_num_threads(1)
    with threadpool_limits(1):
        load_or_fit_judge(load_dataset(job.config.data), job.judges)


def fit_attribute_judge(job: Job) -> None:
    """Train (or find in its cache) the attribute judge of a CelebA job's tree, on one thread."""
    from csvae.evaluate.attribute_judge import attribute_data, load_attribute_judge

    torch.set_num_threads(1)
    with threadpool_limits(1):
        load_attribute_judge(attribute_data(job.config.data), job.judges)


JUDGES = (fit_judge, fit_attribute_judge)
