"""``csvae reproduce``: train every run of an experiment over seeds, evaluate, write a report.

An experiment is a list of parts (one data set each); a part runs variants (the five models, or
for ablations one model with one choice changed) for some seeds. The experiment folder's layout
is ``csvae.rundir.ExperimentDir``: DIR/experiment.json (what runs, written first), each run in
DIR/runs/<data>/<variant>/seed<s>, judges cached in DIR/judges. A run whose metrics.json exists
(with the same config) is skipped, an unfinished one is resumed, so a killed reproduction
continues where it stopped. Runs are spread over worker processes (one torch thread each). The
report is then built from the folder's files alone (``csvae.report.build_report``).

One job a module: ``experiments`` (the experiments as data: parts, variants, seeds), ``planning``
(every run of an experiment, and its cost), ``folder`` (the experiment folder's set-up), ``tasks``
(what a worker runs: fit, evaluate, train a judge), ``scheduler`` (the worker pool) and
``runner`` (``reproduce``, which puts them together).
"""
