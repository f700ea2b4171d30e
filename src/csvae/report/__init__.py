"""Reports: an experiment folder's files -> DIR/report.md and DIR/report.html (``build_report``;
``csvae report DIR``). The report reads only files (``csvae.rundir`` names them): no model is
loaded and no data set read, so it can be rebuilt, and tested, without training.

It opens with a summary table of every claim per data set (supported or not, with the numbers).
Then per data set: the vector metrics (mean ± sd over seeds), on images the judge's accuracy and the
manipulation table (accuracy with its bootstrap 95% interval, preservation, diversity), on
synthetic faces the ground-truth style scores and the distances to the rendered true
counterfactuals (``csvae.evaluate.counterfactual``), the figures, a line for each of the paper's
claims (and ours) saying whether our numbers support it, and the config of every run.

Modules: ``tables``, ``verdict`` (a claim and its verdict), ``claims``, ``rivals`` (CSVAE against every
other model), ``document`` (the report itself), ``html``.
"""

from csvae.report.claims import Claim, claims, counterfactual_claims
from csvae.report.document import build_report
from csvae.report.html import markdown_to_html
from csvae.report.tables import counterfactual_section

__all__ = ["build_report", "Claim", "claims", "counterfactual_claims", "counterfactual_section", "markdown_to_html"]


