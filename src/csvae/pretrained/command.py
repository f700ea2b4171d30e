"""``csvae pretrained``: list the shipped models, show a card, print the cards' table, or export a
run as a shipped model (docs/pretrained.md). Its parser is added to ``csvae.cli``'s."""

from __future__ import annotations

from pathlib import Path

from csvae import pretrained
from csvae.fileio import atomic_write_bytes
from csvae.pretrained.export import export_run
from csvae.pretrained.markdown import TABLE_HEAD, table_row, with_table
from csvae.pretrained.registry import PretrainedError, read_registry, shipped


def cmd_pretrained(args, overrides) -> None:
    """The ``csvae pretrained`` command and its sub-commands (show, table, export)."""
    if args.pretrained_command == "export":
        folder = export_run(args.run, args.name, root=args.to, data_root=args.data_root, command=args.command_line,
                            hardware=args.hardware, limits=args.limit or (), overwrite=args.overwrite)
        card = pretrained.card(args.name, args.to)
        print(f"shipped {args.name}: {folder} ({card['weights']['bytes'] / 1e6:.1f} MB of weights, sha256 "
              f"{card['weights']['sha256']}); registry: {folder.parent / 'registry.txt'}")
    elif args.pretrained_command == "show":
        print(shipped(args.name).card_md.read_text(encoding="utf-8"))
    elif args.pretrained_command == "figure":
        from csvae.pretrained.figure import pretrained_figures

        for path in pretrained_figures(args.names, args.out, args.attribute, args.images):
            print(f"wrote {path}")
    elif args.pretrained_command == "table":
        table_command(args.docs)
    else:
        found = pretrained.names()
        if not found:
            print("no pretrained model is shipped with this csvae (docs/pretrained.md)")
        width = max(map(len, found), default=0)
        for name in found:
            print(f"{name:<{width}}  {pretrained.card(name)['summary']}")


def table_command(docs) -> None:
    """Print the cards' table and the shipped files' total size; with ``docs`` (a Markdown file)
    also rewrite the table there, between its ``TABLE_START`` and ``TABLE_END`` lines (atomically)."""
    entries = read_registry().values()
    rows = [table_row(pretrained.card(e.name)) for e in entries] or ["| *none yet* | | | | | | | |"]
    table = "\n".join([TABLE_HEAD, *rows])
    weights = sum(e.weights.stat().st_size for e in entries)
    total = sum(p.stat().st_size for e in entries for p in e.folder.iterdir() if p.is_file())
    print(table)
    print(f"\n{len(entries)} models, {total / 1e6:.1f} MB in all ({weights / 1e6:.1f} MB of weights; the rest cards "
          f"and explorer images)")
    if docs:
        path = Path(docs)
        try:
            text = with_table(path.read_text(encoding="utf-8"), table, str(path))
        except (OSError, ValueError) as err:
            raise PretrainedError(f"cannot write the table into {path}: {err}") from None
        atomic_write_bytes(path, text.encode("utf-8"))
        print(f"wrote the table into {path}")


def add_pretrained(sub) -> None:
    """Add ``csvae pretrained`` to the sub-commands ``sub`` of the csvae parser."""
    pre = sub.add_parser("pretrained", help="list the shipped pretrained models, show a card, or export a run as "
                         "one (docs/pretrained.md)", description="Without a sub-command: one line per shipped model.")
    pre_sub = pre.add_subparsers(dest="pretrained_command")
    show = pre_sub.add_parser("show", help="print a shipped model's card")
    show.add_argument("name", help="a shipped model (csvae pretrained lists them)")
    table = pre_sub.add_parser("table", help="the cards' numbers side by side (the table of docs/pretrained.md) "
                               "and the shipped files' total size")
    table.add_argument("--docs", default=None, metavar="FILE", help="also rewrite the table in FILE (e.g. "
                       "docs/pretrained.md) between its csvae pretrained table start and end lines")
    figure = pre_sub.add_parser("figure", help="the README's pictures: test photos with an attribute added and "
                                "removed by each model, and a style transfer")
    figure.add_argument("names", nargs="+", help="shipped models of one data set (the first also reconstructs and, "
                        "when it has attribute subspaces, transfers)")
    figure.add_argument("--out", required=True, metavar="DIR", help="the folder for pretrained_edit.png and "
                        "pretrained_transfer.png")
    figure.add_argument("--attribute", default=None, help="the attribute to change (default: the first model's first)")
    figure.add_argument("--images", type=int, default=4, metavar="N", help="test photos of each class (default 4)")
    export = pre_sub.add_parser("export", help="make a shipped model (half-precision weights, card, registry line) "
                                "from a finished, evaluated run folder")
    export.add_argument("run", help="a finished run folder that csvae evaluate has evaluated")
    export.add_argument("--name", required=True, help="the model's name: lower-case letters, digits and '-'")
    export.add_argument("--to", default=None, metavar="DIR", help="the registry folder (default: "
                        "$CSVAE_PRETRAINED_DIR, else the package's src/csvae/pretrained/models)")
    export.add_argument("--data-root", default=None, metavar="DIR", help="where the run's data are now, when they "
                        "moved since training (as csvae evaluate --data-root)")
    export.add_argument("--command", dest="command_line", default=None, metavar="TEXT",
                        help="the command that trained the run, for the card (default: csvae fit with its config)")
    export.add_argument("--hardware", default=None, metavar="TEXT", help="the machine it trained on, for the card "
                        "(default: versions.json's record, else unknown)")
    export.add_argument("--limit", action="append", default=None, metavar="TEXT",
                        help="a known limit for the card (repeat for several)")
    export.add_argument("--overwrite", action="store_true", help="replace a shipped model of the same name")
    pre.set_defaults(handler=cmd_pretrained)
