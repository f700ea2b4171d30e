"""``csvae results``: write docs/results.md from experiment folders (docs/commands.md). Its parser
is added to ``csvae.cli``'s."""

from __future__ import annotations

import sys


def cmd_results(args, overrides) -> None:
    """Build the page and say what was written (and which experiments were still being written)."""
    from csvae.results import build_results

    written = build_results(args.dirs, args.out, notes=args.notes, figures=args.figures)
    for line in written.in_progress:
        print(f"csvae results: note: read while in progress: {line}", file=sys.stderr)
    removed = f"; {len(written.removed)} figures it no longer links removed" if written.removed else ""
    print(f"results: {written.page} ({len(written.figures)} figures under {written.folder}{removed})")


def add_results(sub) -> None:
    """Add ``csvae results`` to the sub-commands ``sub`` of the csvae parser."""
    res = sub.add_parser("results", help="write the results page (docs/results.md) from experiment folders: the "
                         "report's tables and claims per data set, figures copied beside it, hand-written notes "
                         "inserted; nothing is written into the folders")
    res.add_argument("dirs", nargs="+", metavar="DIR", help="an experiment folder that csvae reproduce --out wrote "
                     "(one or more; the page orders the data sets itself)")
    res.add_argument("--out", default="docs/results.md", help="the page to write (default: docs/results.md)")
    res.add_argument("--notes", default=None, metavar="DIR", help="the folder of hand-written notes, one "
                     "<section>.md each and intro.md (default: results-notes/ beside --out)")
    res.add_argument("--figures", default=None, metavar="DIR", help="where the figures are copied, under "
                     "<experiment>/ (default: --out without .md, docs/results/)")
    res.set_defaults(handler=cmd_results)
