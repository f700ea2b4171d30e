"""The results page: docs/results.md regenerated from the reference experiment folders
(``csvae results DIR ... --out docs/results.md``; ``scripts/results.sh`` makes the runs and calls
it). It reads the folders as ``csvae report`` does, from their files alone and without writing into
them, and reuses the report's tables and claims.

Modules: ``sources`` (the folders, read and checked), ``sections`` (the page's fixed order),
``notes`` (the hand-written text per section), ``figures`` (which figures, copied), ``page`` (the
Markdown), ``build`` (the command's work), ``command`` (its command line)."""

from csvae.results.build import Written, build_results
from csvae.results.sources import ResultsError

__all__ = ["build_results", "ResultsError", "Written"]
