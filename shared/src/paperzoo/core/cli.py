"""The ``paperzoo`` command.

Method packages add their sub-commands through the ``paperzoo.methods``
entry-point group: each entry is a function ``register(subparsers)`` that adds
one sub-parser and sets ``func`` on it. ``paperzoo --help`` therefore lists
exactly the methods installed. The core adds ``datasets``, ``encoders`` and
``embed``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points, version
from pathlib import Path

log = logging.getLogger("paperzoo")

# Errors caused by the user's input: printed as one line, exit status 2.
USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, KeyError, FileNotFoundError, FileExistsError)


def _user_errors() -> tuple[type[BaseException], ...]:
    from paperzoo.core.features.encoders import EncoderLoadError
    from paperzoo.core.runs import RunConflictError

    return (*USER_ERRORS, RunConflictError, EncoderLoadError)


def _list_datasets(args: argparse.Namespace) -> int:
    from paperzoo.core.data import get_dataset_info, list_datasets

    infos = [get_dataset_info(name) for name in list_datasets()]
    rows = [
        (name, info.modality, ",".join(info.splits), info.description) for name, info in zip(list_datasets(), infos)
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    for name, modality, splits, description in rows:
        print(f"{name:{widths[0]}s}  {modality:{widths[1]}s}  splits: {splits:{widths[2]}s}  {description}")
    return 0


def _list_encoders(args: argparse.Namespace) -> int:
    from paperzoo.core.features import list_encoders

    print("\n".join(list_encoders()))
    return 0


def _embed(args: argparse.Namespace) -> int:
    import numpy as np

    from paperzoo.core.data import load_dataset
    from paperzoo.core.features import embed, get_encoder
    from paperzoo.core.files import atomic_save_npy

    dataset = load_dataset(args.dataset, split=args.split, data_dir=args.data_dir)
    encoder = get_encoder(args.encoder, precision=args.precision, weights=args.encoder_weights)
    vectors = embed(dataset, encoder, batch_size=args.batch_size, num_workers=args.num_workers)
    print(f"{args.dataset}/{args.split}: {vectors.shape[0]} x {vectors.shape[1]} embeddings from {encoder.name}")
    if args.output is not None:
        atomic_save_npy(args.output, np.asarray(vectors))
        if dataset.labels is not None:
            atomic_save_npy(args.output.with_name(args.output.stem + "-labels.npy"), dataset.labels)
        print(f"wrote {args.output}")
    return 0


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--dataset``, ``--split`` and ``--data-dir`` (shared by commands that read data)."""
    parser.add_argument("--dataset", required=True, help="a registered data set (see 'paperzoo datasets')")
    parser.add_argument("--split", default="train", help="the split to read (default: train)")
    parser.add_argument("--data-dir", type=Path, default=None, help="folder holding the data set's files")


def build_parser() -> argparse.ArgumentParser:
    """Return the parser with every installed method's sub-command."""
    parser = argparse.ArgumentParser(
        prog="paperzoo",
        description="Run and compare representation-learning methods on real data.",
    )
    parser.add_argument("--version", action="version", version=f"paperzoo-core {version('paperzoo-core')}")
    verbosity = parser.add_mutually_exclusive_group()
    verbosity.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    verbosity.add_argument("-q", "--quiet", action="store_true", help="log warnings only and hide progress bars")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="methods and commands")

    for entry in sorted(entry_points(group="paperzoo.methods"), key=lambda e: e.name):
        try:
            entry.load()(commands)
        except Exception as error:  # noqa: BLE001 - one broken plug-in must not hide the others
            print(f"paperzoo: warning: method {entry.name!r} failed to load: {error}", file=sys.stderr)

    datasets = commands.add_parser("datasets", help="list the registered data sets")
    datasets.set_defaults(func=_list_datasets)
    encoders = commands.add_parser("encoders", help="list the registered encoders")
    encoders.set_defaults(func=_list_encoders)
    embed = commands.add_parser("embed", help="embed a data set with a frozen encoder (cached)")
    add_data_arguments(embed)
    embed.add_argument("--encoder", required=True, help="an encoder name (see 'paperzoo encoders')")
    embed.add_argument("--encoder-weights", default=None, help="local weights overriding the encoder's default source")
    embed.add_argument("--precision", choices=("fp32", "bf16"), default=None, help="inference precision")
    embed.add_argument("--batch-size", type=int, default=None, help="rows per forward pass")
    embed.add_argument("--num-workers", type=int, default=0, help="data loader worker processes")
    embed.add_argument("--output", type=Path, default=None, help="also save the embeddings to this .npy file")
    embed.set_defaults(func=_embed)
    return parser


def configure_logging(verbose: bool = False, quiet: bool = False) -> None:
    """Log paperzoo messages to stderr at INFO (DEBUG with -v, WARNING with -q)."""
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("paperzoo").setLevel(level)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``paperzoo`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.verbose, args.quiet)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 0 if args.command is None else 2
    try:
        status = int(func(args) or 0)
    except _user_errors() as error:
        if args.verbose:
            log.exception("command failed")
        message = error.args[0] if isinstance(error, KeyError) and error.args else str(error)
        print(f"paperzoo: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("paperzoo: interrupted; rerun the same command with the same --output-dir to resume", file=sys.stderr)
        return 130
    if "torch.distributed" in sys.modules:  # only commands that imported torch can hold a process group
        from paperzoo.core.training.distributed import shutdown

        shutdown()
    return status


if __name__ == "__main__":
    sys.exit(main())
