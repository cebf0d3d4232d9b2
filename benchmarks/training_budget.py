"""How depth pays off with the training budget: ResNet-20 against ResNet-56 under one recipe for 10, 20 and 40 epochs.

The paper's ResNet-56 ends below ResNet-20 after 64,000 iterations (182 epochs); chapter 4's stored Fig. 6 run, 10
epochs of the same recipe at 16x16, ends the other way round. This script trains both depths under the ``medium``
recipe (all 45,000 training images at 16x16, learning rate 0.1 with momentum and weight decay, augmentation, a
5,000-image validation split; the rate divided by 10 after half and three quarters of the run) for each budget of
``--budgets``, and measures training, validation and test error after every epoch. The budgets are fixed before the
runs: the question is how the gap between the depths moves with the budget, whichever way it goes.

The runs, in order: the networks the book ships first, so that they are ready soonest: ResNet-20 and ResNet-56 at the
longest budget, then plain-20 and plain-56 there (``--plain``); then both ResNets at the shorter budgets, and at the
longest the ResNets with the other ``--seeds``. All of them go into
one JSON file, rewritten after every finished run and marked incomplete until the last; every epoch is saved under
``--checkpoints`` (one folder per budget), so the same command resumes an interrupted run after its last finished
epoch and reads finished runs back. Cost on 2 CPU cores: 1 to 2.5 minutes an epoch at depth 20 and 2.5 to 7 at
depth 56, depending on the processor; 6 to 15 hours for the eight runs of ``--plain`` with the default budgets.

Usage (from the repository root; keep the checkpoints outside the repository)::

    python benchmarks/training_budget.py --plain --checkpoints ~/resnet-lessons-checkpoints/budget \\
        --json book/data/training_budget_medium.json
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import pathlib
import shlex
import sys

from resnet_lessons import data, hardware, profiles, run_report

DEPTHS = (20, 56)


def parse_arguments(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budgets", type=int, nargs="+", default=[10, 20, 40],
                        help="training budgets in epochs (default: 10 20 40)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0],
                        help="seeds; the first for every budget, the others at the longest (default: 0)")
    parser.add_argument("--plain", action="store_true", help="add plain-20 and plain-56 at the longest budget")
    parser.add_argument("--profile", default="medium", help="the recipe, whose epochs are replaced (default: medium)")
    parser.add_argument("--checkpoints", type=pathlib.Path, default=None,
                        help="folder to save every epoch in, so that the same command resumes after an interruption")
    parser.add_argument("--json", type=pathlib.Path, default=None, help="write the results here after each run")
    arguments = parser.parse_args(argv)
    if any(budget < 2 for budget in arguments.budgets) or len(set(arguments.budgets)) != len(arguments.budgets):
        parser.error(f"--budgets must be distinct numbers of epochs, each at least 2, got {arguments.budgets}")
    if any(seed < 0 for seed in arguments.seeds) or len(set(arguments.seeds)) != len(arguments.seeds):
        parser.error(f"--seeds must be distinct and non-negative, got {arguments.seeds}")
    arguments.budgets = sorted(arguments.budgets)
    return arguments


def recipe_for_budget(config: profiles.TrainConfig, epochs: int) -> profiles.TrainConfig:
    """``config`` trained for ``epochs``, its rate divided by 10 after half and three quarters of them (rounded up);
    the medium profile's own 10 epochs give the medium profile itself."""
    decays = (math.ceil(epochs / 2), math.ceil(3 * epochs / 4))
    if (epochs, decays) == (config.epochs, config.decay_epochs):
        return config
    return dataclasses.replace(config, name=f"{config.name}, {epochs} epochs", epochs=epochs, decay_epochs=decays)


def plan_runs(budgets, seeds, plain: bool) -> list[tuple[int, run_report.PlannedRun]]:
    """``(epochs, run)`` in the order they are trained: the networks the book ships first (every depth at the longest
    budget, the ResNets before the plain nets), then the ResNets at the shorter budgets, longest first, then the
    other seeds."""
    longest, shorter = budgets[-1], sorted(budgets[:-1], reverse=True)
    plan = [(longest, run_report.PlannedRun(depth=depth, residual=True, seed=seeds[0])) for depth in DEPTHS]
    if plain:
        plan += [(longest, run_report.PlannedRun(depth=depth, residual=False, seed=seeds[0])) for depth in DEPTHS]
    plan += [(epochs, run_report.PlannedRun(depth=depth, residual=True, seed=seeds[0]))
             for epochs in shorter for depth in DEPTHS]
    plan += [(longest, run_report.PlannedRun(depth=depth, residual=True, seed=seed))
             for seed in seeds[1:] for depth in DEPTHS]
    return plan


def main(argv=None) -> int:
    arguments = parse_arguments(argv)
    command = "python benchmarks/training_budget.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    config = profiles.get_profile(arguments.profile)
    dataset = data.load_dataset(num_train=None if config.validation_examples else config.train_examples,
                                num_test=config.test_examples)
    plan = plan_runs(arguments.budgets, arguments.seeds, arguments.plain)
    print(f"{len(plan)} runs: " + ", ".join(f"{run.name} seed {run.seed} for {epochs} epochs"
                                             for epochs, run in plan), flush=True)
    reports: dict[int, run_report.RunReport] = {}
    for number, (epochs, planned) in enumerate(plan):
        recipe = recipe_for_budget(config, epochs)
        checkpoints = arguments.checkpoints / f"{epochs}-epochs" if arguments.checkpoints else None
        finished = run_report.run_plan([planned], dataset, recipe, command=command, checkpoints=checkpoints)
        if epochs in reports:
            reports[epochs].runs += finished.runs
            reports[epochs].seconds += finished.seconds
        else:
            reports[epochs] = finished
        complete = number == len(plan) - 1
        for report in reports.values():
            report.complete = complete
            report.load_average_after = hardware.load_average()
        if arguments.json is not None:
            run_report.save_reports(arguments.json, [reports[epochs] for epochs in sorted(reports)], complete=complete)
    print("\nFinal errors (%): training / validation / test")
    for epochs, report in sorted(reports.items()):
        for run in report.runs:
            history = run.history
            print(f"  {epochs:>3} epochs  {run.name:<10} seed {run.seed}: "
                  f"{100 * history.final('train_error'):5.1f} / {100 * history.final('validation_error'):5.1f} / "
                  f"{100 * history.final('test_error'):5.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
