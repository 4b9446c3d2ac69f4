"""`gankit sample`'s flags for the runs of a GANTask (image and audio GANs). Light: the CLI
imports it to build its parser, before any run is opened."""
from __future__ import annotations

from typing import Any


def add_sample_flags(parser: Any, by_name: bool = False) -> None:
    """`gankit sample`'s flags for a run of a GANTask (image and audio GANs): --label for a
    conditional one (`by_name`: a class may be named, as its folder is), --no-ema."""
    named = " (or by name: its class folder's)" if by_name else ""
    parser.add_argument("--label", help=f"conditional runs: draw only this class, by number{named};"
                        " default: every class equally often; a .npz gets their `labels`")
    parser.add_argument("--no-ema", action="store_true",
                        help="use the raw generator, not its average")


def sample_options(gan: Any, args: Any) -> dict[str, Any]:
    """What those flags ask of the facade's sample(): the class labels and the EMA switch."""
    label = args.label
    if label is not None and label.lstrip("-").isdigit():
        label = int(label)
    return {"labels": gan.labels_for(label, args.num), "ema": not args.no_ema}
