"""Is the degradation problem robust? Train plain nets of several depths under one recipe for several seeds.

The paper's degradation is a deep plain net that trains, but ends with a higher *training* error than a shallower
one under the same recipe, not a failure to start. This script trains plain nets of several depths for several
seeds (the seed decides the initial weights and the order of the batches) and prints the final training and test
error of every run, then, per seed, the gap between the deepest and the shallowest net and how far below chance the
deepest one got. It exits with status 1 if, for some
seed, the deepest net's final training error is not at least ``--min-gap`` percentage points above the shallowest
net's, or not at least ``--min-below-chance`` points below chance level (90 % for ten classes).

The data are what ``data.load_dataset()`` finds: CIFAR-10 (the official release, or the image-folder copy named by
``$RESNET_LESSONS_CIFAR10_FOLDER``), else the synthetic set; the first line printed says which.

With ``--json`` it writes a :class:`resnet_lessons.run_report.RunReport` (every epoch of every run, the recipe, the
command, machine, date, versions and load) after each finished run; with ``--checkpoints`` every epoch is saved, and
the same command run again resumes where it stopped. Chapter 1 plots the stored run made by

    python benchmarks/degradation_seeds.py --profile medium --checkpoints checkpoints/medium \
        --json book/data/degradation_medium.json

(about 80 minutes on 2 CPU cores: per seed about 8 minutes for plain-20 and 19 for plain-56), because in the quick
profile's few hundred steps plain-56 barely leaves chance, if at all, while the paper's recipe on all the images lets
it learn and then stall.
``benchmarks/figure6.py`` with the same ``--checkpoints`` folder reads these runs back instead of training them again.

Usage (from the repository root; about 6 minutes for the defaults on 2 idle CPU cores):

    python benchmarks/degradation_seeds.py                      # quick profile: seeds 0 1 2, plain-20 against plain-56
    python benchmarks/degradation_seeds.py --depths 20 32 44 56 --seeds 0
    python benchmarks/degradation_seeds.py --learning-rate 0.05
    python benchmarks/degradation_seeds.py --seeds 0 --epochs 40              # five times the steps (about 10 min)
    RESNET_LESSONS_PROFILE=paper python benchmarks/degradation_seeds.py   # the full recipe: for a GPU
"""

from __future__ import annotations

import argparse
import dataclasses
import pathlib
import shlex
import sys

from resnet_lessons import data, models, profiles, run_report


def parse_arguments(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds to run (default: 0 1 2)")
    parser.add_argument("--depths", type=int, nargs="+", default=[20, 56],
                        help="plain-net depths, 6n + 2 (default: 20 56)")
    parser.add_argument("--profile", default=None,
                        help="quick, medium or paper (default: $RESNET_LESSONS_PROFILE or quick)")
    parser.add_argument("--learning-rate", type=float, default=None, help="override the profile's learning rate")
    parser.add_argument("--epochs", type=int, default=None,
                        help="override the profile's epochs (the learning-rate decays stay where the profile has them)")
    parser.add_argument("--min-gap", type=float, default=5.0,
                        help="required gap in training error, percentage points (default: 5)")
    parser.add_argument("--min-below-chance", type=float, default=5.0,
                        help="how far below chance the deepest net's training error must end, percentage points, "
                             "so that it learns (default: 5)")
    parser.add_argument("--checkpoints", type=pathlib.Path, default=None,
                        help="folder to save every epoch in, so that the same command resumes after an interruption")
    parser.add_argument("--json", type=pathlib.Path, default=None,
                        help="write a run report (every epoch of every run, recipe, machine) here after each run")
    arguments = parser.parse_args(argv)
    for depth in arguments.depths:
        try:
            models.blocks_per_stage(depth)
        except ValueError as error:
            parser.error(str(error))
    if len(arguments.depths) < 2:
        parser.error("--depths needs at least two depths to compare")
    if any(seed < 0 for seed in arguments.seeds):
        parser.error(f"--seeds must be non-negative, got {arguments.seeds}")
    if arguments.learning_rate is not None and arguments.learning_rate <= 0:
        parser.error(f"--learning-rate must be positive, got {arguments.learning_rate}")
    if arguments.epochs is not None and arguments.epochs < 1:
        parser.error(f"--epochs must be positive, got {arguments.epochs}")
    return arguments


def main(argv=None) -> int:
    arguments = parse_arguments(argv)
    command = "python benchmarks/degradation_seeds.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    config = profiles.get_profile(arguments.profile)
    if arguments.learning_rate is not None:
        config = dataclasses.replace(config, learning_rate=arguments.learning_rate)
    if arguments.epochs is not None:
        config = dataclasses.replace(config, epochs=arguments.epochs)
    dataset = data.load_dataset(num_train=None if config.validation_examples else config.train_examples,
                                num_test=config.test_examples)
    depths = sorted(arguments.depths)
    print(f"Profile: {config.describe()}")
    plan = [run_report.PlannedRun(depth=depth, residual=False, seed=seed)
            for seed in arguments.seeds for depth in depths]
    report = run_report.run_plan(plan, dataset, config, command=command, report_path=arguments.json,
                                 checkpoints=arguments.checkpoints)
    final_train_error = {(run.seed, run.depth): 100 * run.history.final("train_error") for run in report.runs}
    return _verdict(arguments, depths, final_train_error, dataset.num_classes, report.seconds)


def _verdict(arguments, depths, final_train_error, num_classes, seconds) -> int:
    shallow, deep = depths[0], depths[-1]
    chance = 100 * (1 - 1 / num_classes)
    print(f"\nplain-{shallow} against plain-{deep}, final training error (percent; chance is {chance:.0f} %):")
    failures = 0
    for seed in arguments.seeds:
        gap = final_train_error[seed, deep] - final_train_error[seed, shallow]
        below_chance = chance - final_train_error[seed, deep]
        problems = ([f"gap below {arguments.min_gap:g} points"] if gap < arguments.min_gap else []) + (
            [f"plain-{deep} within {arguments.min_below_chance:g} points of chance: it barely learns"]
            if below_chance < arguments.min_below_chance else [])
        failures += bool(problems)
        print(f"  seed {seed}: {final_train_error[seed, shallow]:5.1f} against {final_train_error[seed, deep]:5.1f}"
              f"  (gap {gap:+5.1f} points; plain-{deep} {below_chance:.1f} points below chance: "
              f"{'; '.join(problems) or 'degradation'})")
    print(f"Training time: {seconds / 60:.1f} minutes")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
