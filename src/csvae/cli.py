"""The csvae command: fit | evaluate | reproduce | explore | pretrained | ...

fit takes any config field after its options as --section.field value (YAML syntax for the
value: --model.z_dim 3, --model.hidden [128,128], --model.betas.entropy 5). csvae presets lists
the shipped configs that --config takes by name (toy/csvae, celeba/csvae, ...)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Optional, Sequence

import yaml

from csvae.config import ConfigError, RunConfig
from csvae.configfile import with_overrides, yaml_value
from csvae.pretrained.command import add_pretrained
from csvae.results.command import add_results


def apply_overrides(config: RunConfig, pairs: Sequence[str]) -> RunConfig:
    """Apply ``--a.b value`` / ``--a.b=value`` overrides to a config (each value read as YAML);
    errors name the key."""
    return with_overrides(config, parse_overrides(pairs))


def parse_overrides(pairs: Sequence[str]) -> list[tuple[str, object]]:
    """``--a.b value`` / ``--a.b=value`` -> [("a.b", value read as YAML), ...]."""
    items, parsed, i = list(pairs), [], 0
    while i < len(items):
        key = items[i]
        if not key.startswith("--") or "." not in key:
            raise ConfigError(f"unexpected argument {key!r}; overrides look like --model.z_dim 3")
        key = key[2:]
        if "=" in key:
            key, raw = key.split("=", 1)
            i += 1
        else:
            if i + 1 >= len(items):
                raise ConfigError(f"--{key} needs a value")
            raw = items[i + 1]
            i += 2
        try:
            parsed.append((key, yaml_value(raw)))
        except yaml.YAMLError as err:
            raise ConfigError(f"--{key}: cannot read the value {raw!r}: {err}") from err
    return parsed


def cmd_fit(args, overrides) -> None:
    from csvae.presets import load_named_config
    from csvae.runs import fit_run

    config, source = load_named_config(args.config)
    config = apply_overrides(config, overrides)
    from lightning_fabric.utilities.rank_zero import rank_zero_only

    if rank_zero_only.rank == 0 and args.config is None:
        print(f"csvae fit: no --config given, so it trains the {source} ({config.model.name} on "
              f"{config.data.name}); `csvae presets` lists the others", file=sys.stderr)
    try:
        fit_run(config, args.out, resume=args.resume, overwrite=args.overwrite)
    except RuntimeError as err:
        from csvae.distributed import lost_peer

        if not lost_peer(err):
            raise
        raise RuntimeError(f"another training process ended (killed, or out of memory), so this one stopped too "
                           f"({str(err).splitlines()[0]}); continue the run from its last checkpoint with `csvae fit "
                           f"--config {args.out}/config.yaml --out {args.out} --resume`") from None
    if rank_zero_only.rank == 0:  # with train.devices > 1 every process runs this command
        print(f"trained {config.model.name} on {config.data.name}: {args.out}")


def cmd_presets(args, overrides) -> None:
    from csvae.presets import preset_names, preset_summary

    names = preset_names()
    width = max(map(len, names))
    for name in names:
        print(f"{name:<{width}}  {preset_summary(name)}")


def cmd_evaluate(args, overrides) -> None:
    from csvae.runs import evaluate_run

    metrics = evaluate_run(args.run, precision=args.precision, data_root=args.data_root)
    flat = {k: round(v, 4) for k, v in metrics.items() if isinstance(v, float)}
    print(json.dumps(flat, indent=1))
    scores = metrics.get("disentanglement")
    if scores:
        print(f"disentanglement against {', '.join(scores['factors'])}:")
        for part, row in scores["parts"].items():
            cells = [f"{name} {'–' if row.get(key) is None else format(row[key], '.3f')}" for name, key in
                     (("DCI-D", "dci_disentanglement"), ("DCI-C", "dci_completeness"), ("MIG", "mig"), ("SAP", "sap"))]
            print(f"  {part}: {', '.join(cells)}")


def cmd_reproduce(args, overrides) -> None:
    from csvae.reproduce.runner import reproduce

    report = reproduce(args.name, args.out, seeds=args.seeds, jobs=args.jobs, data_root=args.data_root,
                       quick=args.quick)
    print(f"report: {report} (and report.html)")


def cmd_report(args, overrides) -> None:
    from csvae.report import build_report

    print(f"report: {build_report(args.dir)} (and report.html)")


def cmd_judge(args, overrides) -> None:
    from csvae.config import DataConfig
    from csvae.data import load_dataset
    from csvae.evaluate.judge import load_or_fit_judge
    from csvae.runfiles import accuracy_text

    if os.path.exists(args.out) and not os.path.isdir(args.out):  # refused before minutes of work
        raise ConfigError(f"--out {args.out} is a file; the judge cache is a folder")
    data = load_dataset(DataConfig(name=args.data, root=args.data_root, image_size=args.image_size,
                                   n_samples=args.n_samples))
    if data.x.ndim != 4:
        raise ConfigError(f"a judge classifies images; {args.data!r} is not an image data set")
    judge = load_or_fit_judge(data, args.out, device=args.device)
    accuracy = accuracy_text(judge.test_accuracy, judge.test_balanced_accuracy)
    print(f"judge for {args.data} at {args.image_size}px in {args.out}: test accuracy {accuracy}")
    if judge.factor_names:
        read = ", ".join(f"{name} {r2:.2f}" for name, r2 in judge.test_factor_r2.items())
        print(f"it reads {len(judge.factor_names)} ground-truth factors; R^2 on real test images: {read}")


def cmd_prepare_data(args, overrides) -> None:
    from csvae.data.images import prepare_data

    options = {name: getattr(args, name) for name in ("attributes", "crop", "seed", "csv", "filename_column",
                                                       "fold", "balance") if getattr(args, name) is not None}
    options.update({name: True for name in ("strict", "skip_bad") if getattr(args, name)})
    out = prepare_data(args.reader, args.root, args.size, args.out, workers=args.workers, force=args.force,
                       progress=sys.stderr.isatty(), **options)
    print(f"image cache: {out}")


def cmd_manipulate(args, overrides) -> None:
    from csvae.apply import manipulate_files
    from csvae.apply.run import list_image_files

    out = manipulate_files(args.run, list_image_files(args.images), args.attribute, args.to, args.out, style=args.style,
                           samples=args.samples, seed=args.seed, current=args.current, judge=args.judge,
                           scale=args.scale, pretrained=args.pretrained)
    print(f"manipulation grid: {out}")


def cmd_transfer(args, overrides) -> None:
    from csvae.apply import transfer_files

    out = transfer_files(args.run, args.content, args.style, args.attribute, args.out, judge=args.judge,
                         scale=args.scale, current=args.current, pretrained=args.pretrained)
    print(f"transfer grid: {out}")


def cmd_explore(args, overrides) -> None:
    import logging

    from csvae.explore import serve

    logging.basicConfig(level=logging.WARNING, format="csvae explore: %(levelname)s: %(message)s")
    serve(args.runs, args.images or (), judge=args.judge, host=args.host, port=args.port,
          open_browser=args.open, max_upload_mb=args.max_upload_mb, pretrained=args.pretrained or ())


def add_fit(sub) -> None:
    fit = sub.add_parser("fit", help="train one model from a config (overrides: --section.field value)",
                         description="Train one model from a preset or YAML config into a run folder. Any config "
                         "field can follow the options as --section.field value.")
    fit.add_argument("--config", metavar="NAME_OR_FILE",
                     help="a preset by name (toy/csvae, celeba/csvae; csvae presets lists them) or a YAML file "
                          "such as runs/x/config.yaml (default: the preset toy/csvae)")
    fit.add_argument("--out", required=True, help="the run folder to write")
    fit.add_argument("--resume", action="store_true", help="continue the unfinished run in --out")
    fit.add_argument("--overwrite", action="store_true", help="replace the run in --out")
    fit.set_defaults(handler=cmd_fit)
    presets = sub.add_parser("presets", help="list the presets that fit --config takes by name")
    presets.set_defaults(handler=cmd_presets)


def add_evaluate(sub) -> None:
    evaluate = sub.add_parser("evaluate", help="evaluate a finished run; writes RUN/metrics.json, RUN/arrays.npz "
                              "and the run's figures")
    evaluate.add_argument("run", help="a finished run folder (csvae fit --out)")
    evaluate.add_argument("--precision", choices=["32-true", "bf16-mixed", "16-mixed"], default=None,
                          help="precision of the model's conv nets (default: the run's train.precision, the one it "
                               "trained at; the judges always run in float32)")
    evaluate.add_argument("--data-root", default=None, metavar="DIR",
                          help="where the run's data are now, when they moved since training (default: data.root "
                               "in RUN/config.yaml); the data must be the same (checked by their fingerprint)")
    evaluate.set_defaults(handler=cmd_evaluate)


def add_reproduce(sub) -> None:
    from csvae.reproduce.experiments import EXPERIMENTS

    rep = sub.add_parser("reproduce", help="train, evaluate and report a whole experiment")
    rep.add_argument("name", help=f"the experiment: {', '.join(sorted(EXPERIMENTS))}")
    rep.add_argument("--out", required=True, help="the experiment folder to write (its report: OUT/report.md)")
    rep.add_argument("--seeds", type=int, default=None, help="number of seeds (default: the experiment's)")
    rep.add_argument("--jobs", type=int, default=None, help="worker processes (default: one per core)")
    rep.add_argument("--data-root", default=None, help="the data (CelebA folder, TFD .mat) for face experiments")
    rep.add_argument("--quick", action="store_true",
                     help="a smoke test of the whole pipeline: tiny data, one epoch, one seed; its report says "
                          "so and its numbers mean nothing")
    rep.set_defaults(handler=cmd_reproduce)
    report = sub.add_parser("report", help="(re)build DIR/report.md and report.html from an experiment folder's "
                            "files alone (no model is loaded)")
    report.add_argument("dir", help="the folder that csvae reproduce --out wrote")
    report.set_defaults(handler=cmd_report)


def add_judge(sub) -> None:
    judge = sub.add_parser("judge", help="attribute classifiers that score manipulations")
    judge_sub = judge.add_subparsers(dest="judge_command", required=True)
    judge_fit = judge_sub.add_parser("fit", help="train (or reuse) the judge of a data set on its real images")
    judge_fit.add_argument("--data", required=True, help="synthetic_faces, celeba-glasses, ..., tfd, folder")
    judge_fit.add_argument("--data-root", default=None, help="the data's folder (tfd: the .mat file); not for "
                           "synthetic_faces")
    judge_fit.add_argument("--image-size", type=int, default=32, help="side of the square images (default 32)")
    judge_fit.add_argument("--n-samples", type=int, default=6000, help="synthetic faces: how many to generate")
    judge_fit.add_argument("--out", default="judges", help="judge cache folder (default: judges)")
    judge_fit.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    judge_fit.set_defaults(handler=cmd_judge)


def add_apply(sub) -> None:
    man = sub.add_parser("manipulate", help="change an attribute of image files with a trained run")
    man.add_argument("run", nargs="?", default=None, help="a finished run folder of image data (or --pretrained)")
    man.add_argument("--pretrained", default=None, metavar="NAME",
                     help="a shipped model instead of a run folder (csvae pretrained lists them)")
    man.add_argument("--images", nargs="+", required=True, metavar="FILE_OR_DIR",
                     help="image files, or folders whose image files (by name, not recursive) are taken")
    man.add_argument("--attribute", default=None, help="attribute name (leave out for a categorical label)")
    man.add_argument("--to", required=True, help="target value: 0/1, or a class name or index")
    man.add_argument("--style", default="sample", choices=["sample", "class_mean", "prior_mean"],
                     help="CSVAE and CCVAE: the new point of the attribute's subspace, drawn from its prior "
                          "(sample), or the class mean or prior mean (default sample)")
    man.add_argument("--samples", type=int, default=1, help="manipulations per image (CSVAE: different styles)")
    man.add_argument("--seed", type=int, default=0, help="seed of the sampled styles (default 0)")
    man.add_argument("--current", default=None, help="the inputs' current value (default: inferred)")
    man.add_argument("--judge", default=None, help="a judge file that infers the current labels")
    man.add_argument("--scale", type=int, default=1, help="enlarge the grid this many times")
    man.add_argument("--out", required=True, help="the grid to write: .png, .jpg or .jpeg (never an input)")
    man.set_defaults(handler=cmd_manipulate)
    tra = sub.add_parser("transfer", help="give a content image the attribute style of another (CSVAE, CCVAE)")
    tra.add_argument("run", nargs="?", default=None,
                     help="a finished CSVAE or CCVAE run folder of image data (or --pretrained)")
    tra.add_argument("--pretrained", default=None, metavar="NAME",
                     help="a shipped CSVAE or CCVAE model instead of a run folder (csvae pretrained lists them)")
    tra.add_argument("--content", required=True, help="the image whose attribute changes")
    tra.add_argument("--style", required=True, help="the image whose attribute style is taken")
    tra.add_argument("--attribute", default=None, help="attribute name (leave out for a categorical label: "
                     "every class's subspace)")
    tra.add_argument("--current", default=None, help="the content image's current value of --attribute "
                     "(default: inferred)")
    tra.add_argument("--judge", default=None, help="a judge file that infers the images' labels")
    tra.add_argument("--scale", type=int, default=1, help="enlarge the grid this many times")
    tra.add_argument("--out", required=True, help="the grid to write: .png, .jpg or .jpeg (never an input)")
    tra.set_defaults(handler=cmd_transfer)


def add_explore(sub) -> None:
    exp = sub.add_parser("explore", help="a latent explorer in the browser for finished runs (docs/explore.md)")
    exp.add_argument("runs", nargs="*", metavar="RUN", help="run folders (several: compare models on one input)")
    exp.add_argument("--pretrained", nargs="+", default=None, metavar="NAME",
                     help="shipped models instead of run folders (csvae pretrained lists them)")
    exp.add_argument("--images", nargs="+", default=None, metavar="FILE_OR_DIR",
                     help="image files or folders to offer besides the runs' test images")
    exp.add_argument("--judge", default=None, help="a judge file whose probabilities the page shows (default: "
                     "one cached for the run, if any)")
    exp.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this "
                     "machine only; the page has no login)")
    exp.add_argument("--port", type=int, default=0, help="port (default 0: a free one)")
    exp.add_argument("--open", action="store_true", help="open the page in a browser")
    exp.add_argument("--max-upload-mb", dest="max_upload_mb", type=float, default=4.0,
                     help="largest upload accepted, in MB (default 4)")
    exp.set_defaults(handler=cmd_explore)


def add_prepare_data(sub) -> None:
    prep = sub.add_parser("prepare-data", help="decode an image data set once into a uint8 cache")
    prep.add_argument("reader",
                      help="celeba, celeba-glasses, celeba-facialhair, celeba-glasses-facialhair, tfd, folder")
    prep.add_argument("--root", required=True, help="the data set's folder (tfd: the .mat file)")
    prep.add_argument("--size", type=int, default=64, help="side of the square images (default 64)")
    prep.add_argument("--out", default=None, help="cache folder (default: one per settings under ~/.cache/csvae)")
    prep.add_argument("--workers", type=int, default=None, help="decoding processes (default: all cores)")
    prep.add_argument("--attributes", nargs="+", default=None, help="CelebA/folder attribute names")
    prep.add_argument("--crop", type=int, default=None, help="centred square cut before resizing")
    prep.add_argument("--seed", type=int, default=None, help="seed of balancing and derived splits")
    prep.add_argument("--balance", action=argparse.BooleanOptionalAction, default=None,
                      help="balance the training split over label combinations (default: the reader's)")
    prep.add_argument("--strict", action="store_true", help="a listed image that is missing is an error")
    prep.add_argument("--skip-bad", dest="skip_bad", action="store_true", help="skip unreadable images")
    prep.add_argument("--fold", type=int, default=None, help="TFD fold 0..4")
    prep.add_argument("--csv", default=None, help="folder: the label CSV (default: labels.csv, else the only .csv)")
    prep.add_argument("--filename-column", dest="filename_column", default=None,
                      help="folder: the CSV column of image file names (default: the first column)")
    prep.add_argument("--force", action="store_true", help="rebuild even when the cache is current")
    prep.set_defaults(handler=cmd_prepare_data)


def parser() -> argparse.ArgumentParser:
    """The csvae command line: one sub-command per task, each option with its help."""
    from csvae import __version__

    top = argparse.ArgumentParser(prog="csvae", description=__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    top.add_argument("--version", action="version", version=f"csvae {__version__}",
                     help="print the version of csvae and exit")
    sub = top.add_subparsers(dest="command", required=True)
    for add in (add_fit, add_evaluate, add_reproduce, add_results, add_judge, add_apply, add_explore,
                add_pretrained, add_prepare_data):
        add(sub)
    return top


def quiet_stdout() -> None:
    """Point stdout at /dev/null, so flushing it at exit does not fail on a closed pipe again."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # a stdout without a descriptor (captured, redirected in Python)
        pass


def main(argv: Optional[Sequence[str]] = None) -> int:
    args, rest = parser().parse_known_args(argv)
    if rest and args.command != "fit":
        parser().error(f"unrecognized arguments: {' '.join(rest)}")
    try:
        args.handler(args, rest)
    except BrokenPipeError:  # the reader of the output left (`csvae evaluate | head`): not an error
        quiet_stdout()
        return 0
    except (ConfigError, ValueError, RuntimeError, OSError) as err:
        print(f"csvae {args.command}: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
