"""The contract every task declares once: a `TaskSpec` subclass, registered with
`gankit.tasks.register(...)`. The core (the CLI, `info`, `report`, `eval`, `export`) asks a run's
spec what it needs to know, and never checks a task's name.

This module imports nothing heavy: the CLI reads every registered spec to build `gankit --help`,
so a spec imports its task's code inside its methods, when a run of it is made or opened.

What a spec declares (attributes) and answers (methods):

    name, summary, aliases   config.json's task name; one line for `--task` help; other names
    default                  the task `gankit train` trains with no --task (one task only)
    options()                its TaskOptions subclass: its own fields and defaults (its flags)
    presets                  the names `--preset` offers (see gankit.presets), or none
    needs_dataset            whether `gankit train --task NAME` needs --dataset
    new_run(cfg, out)        a new run's facade for a resolved config
    load_run(run_dir, cfg, device=, weights_only=, **given)
                             an existing run's facade; `given` holds only the names in
                             `load_options` that the caller passed (dataset=, generator=, ...)
    previews                 the file types of its samples/step-* previews (".png", ".txt", ...)
    sample_output            an example `gankit sample --output` for its runs; None: its runs are
                             not sampled (the facade's `sample` says what to use instead)
    add_sample_flags(p), sample_options(gan, args), save_options(gan, args)
                             `gankit sample` flags of its own (--label, --no-ema, a video run's
                             --format) and what they pass to the facade's `sample` and `save`
    next_step(run_dir)       the one line `gankit train` ends with: how to use the run
    sample_help, eval_help   what `gankit sample --output` takes and `gankit eval` scores for its
                             runs, where that differs from images (shown in those commands' help)
    report_data              whether its report page takes --data (the real table)
    exports                  whether `gankit export` writes its generator (noise -> samples)
    export_output, export_notes(cfg, G)
                             the exported file's output name (None: images or samples, from the
                             data's shape) and what FILE.json adds about it (layouts, how z splits)
    plugin_parts             whether its nets and loss may be named from plugin code (then
                             opening a run checks that the code is imported)
    add_commands(sub)        subcommands of its own (`gankit translate`, ...): {name: handler}
    describe(run_dir)        more facts for `gankit info` ({key: value}; shown by info_data)
    report(...)              a report page of its own, or None for the shared run page (whose
                             task sections come from the facade's `report_sections`)
    templates                a folder of jinja2 templates its report sections use, or None

The facade of a run (tasks/base.py, `TaskFacade`) is the other half: fit, sample, save,
labels_for, metric_results (what `gankit eval` prints), report_sections.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Callable, ClassVar, Optional


class TaskSpec:
    """A task as the core sees it. Subclass it, set the attributes, implement `new_run` and
    `load_run` (and `options` if the task has options), then `gankit.tasks.register(Spec())`."""

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    aliases: ClassVar[tuple[str, ...]] = ()
    default: ClassVar[bool] = False
    order: ClassVar[int] = 100   # where it stands in `--task` help (lower first)
    presets: ClassVar[tuple[str, ...]] = ()
    needs_dataset: ClassVar[bool] = True
    load_options: ClassVar[tuple[str, ...]] = ()
    previews: ClassVar[tuple[str, ...]] = (".png",)
    sample_output: ClassVar[Optional[str]] = "samples.png"
    sample_help: ClassVar[str] = ""   # what `gankit sample --output` takes for its runs, if other
    eval_help: ClassVar[str] = ""     # what `gankit eval` scores on its runs, if other
    report_data: ClassVar[bool] = False   # its own report compares with --data (a real table)
    exports: ClassVar[bool] = False
    export_output: ClassVar[Optional[str]] = None   # the exported generator's output name
    plugin_parts: ClassVar[bool] = False   # its nets and loss may come from --plugins code
    templates: ClassVar[Optional[Path]] = None

    # --- the run -------------------------------------------------------------------------------
    def options(self) -> type:
        """Its TaskOptions subclass (gankit.config): the options that apply to it alone."""
        from ..config import TaskOptions
        return TaskOptions

    def new_run(self, cfg: Any, out: Optional[Path]) -> Any:
        """A new run's facade for `cfg` (a RunConfig made by gankit.tasks.new_config)."""
        raise NotImplementedError(f"the {self.name} task does not say how to make a run")

    def load_run(self, run_dir: Path, cfg: Any, *, device: str, weights_only: bool,
                 **given: Any) -> Any:
        """The facade of the run in `run_dir` (its config `cfg`), at its latest checkpoint:
        weights alone, or ready to train on (`fit` goes on exactly where it stopped)."""
        raise NotImplementedError(f"the {self.name} task does not say how to load a run")

    # --- what the core shows -------------------------------------------------------------------
    def next_step(self, run_dir: Path) -> str:
        """How to use a trained run: the last line `gankit train` prints."""
        if self.sample_output is None:
            return f"inspect it: gankit report {run_dir}"
        return f"sample more: gankit sample {run_dir} --num 64 --output {self.sample_output}"

    def add_sample_flags(self, parser: argparse.ArgumentParser) -> None:
        """`gankit sample` flags its runs take besides --num, --seed, --output and --overwrite
        (a conditional GAN's --label, say)."""

    def sample_options(self, gan: Any, args: argparse.Namespace) -> dict[str, Any]:
        """The keyword arguments of the facade's `sample` (and `labels` of its `save`) from
        those flags."""
        return {}

    def save_options(self, gan: Any, args: argparse.Namespace) -> dict[str, Any]:
        """The keyword arguments of the facade's `save` from those flags, besides `overwrite`
        and `labels` (which every `save` takes): a video run's file format, say."""
        return {}

    def describe(self, run_dir: Path) -> dict[str, Any]:
        """Task facts `gankit info` adds to its JSON (say, how many items are labeled)."""
        return {}

    def info_data(self, facts: dict[str, Any]) -> str:
        """What `gankit info` adds to its data line from what `describe` returned."""
        return ""

    def add_commands(self, sub: argparse._SubParsersAction) -> dict[str, Callable[..., int]]:
        """Subcommands this task brings (`gankit translate`, `gankit impute`, ...): add their
        parsers to `sub`; return {command: handler(args) -> exit code}."""
        return {}

    def export_notes(self, cfg: Any, G: Any) -> dict[str, Any]:
        """What `gankit export`'s FILE.json says about its runs' exported generator `G` beyond
        the shared fields: entries added or replaced at the top level, and under "output" ones
        that update the output's description (its layout, say)."""
        return {}

    def report(self, gan: Any, output: Path, overwrite: bool, data: Optional[Path]
               ) -> Optional[Path]:
        """A report page of the task's own (returns its path), or None: the shared run page."""
        return None

    def __repr__(self) -> str:
        return f"<task {self.name}>"


__all__ = ["TaskSpec"]
