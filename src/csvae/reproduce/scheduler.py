"""The scheduler of ``csvae reproduce``: a pool of worker processes takes the largest waiting task
first (judges, then fits and evaluations by expected cost)."""

from __future__ import annotations

import heapq
import itertools
import queue
from typing import Iterator

from csvae.reproduce.planning import Job, expected_cost
from csvae.reproduce.tasks import JUDGES, evaluate_job, fit_job

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
