"""The paper's Fig. 6 at CPU scale: plain and residual nets of 20 to 56 layers under one recipe, stored for chapter 4.

Fig. 6 of He et al. (2015) shows plain-20/32/44/56, whose error rises with depth, beside ResNet-20/32/44/56/110,
whose error falls. A chapter cannot train those nets long enough in its minutes; this script trains them under the
``medium`` profile (the paper's recipe on all the images at 16x16: learning rate 0.1, momentum, weight decay,
pad-crop-flip augmentation, a 5,000-image validation split, decays at half and three quarters of 10 epochs; see
``resnet_lessons/profiles.py``), and measures the 10,000 test images after every epoch for the curves. It writes a
:class:`resnet_lessons.run_report.RunReport` after each finished run and prints the checks of
:func:`resnet_lessons.figure6.findings`; the exit status is 1 if one of them fails.

Every epoch is saved under ``--checkpoints``: the same command, run again after an interruption (or in a later
session), resumes where it stopped, and runs that ``benchmarks/degradation_seeds.py --profile medium`` already
finished with the same folder (plain-20 and plain-56) are read back instead of trained again.

The runs, in order: depths 20 and 56 first (plain and ResNet, for every seed of ``--seeds``), then the other
``--depths`` with the first seed; ``--resnet110`` adds ResNet-110 with the paper's warm-up. Cost on 2 CPU cores, by
our measurement of epochs of 351 steps: about 0.13 s per step at depth 20 and 0.3 s at depth 56, so about 2.7 hours
for the default plan.

Usage (from the repository root)::

    python benchmarks/figure6.py --checkpoints checkpoints/medium --json book/data/figure6_medium.json
"""

from __future__ import annotations

import argparse
import dataclasses
import pathlib
import shlex
import sys

from resnet_lessons import data, figure6, models, profiles, run_report


def parse_arguments(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--depths", type=int, nargs="+", default=[20, 32, 44, 56],
                        help="depths (6n + 2) to train plain and residual (default: 20 32 44 56)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1],
                        help="seeds for the shallowest and the deepest depth; the others use the first (default: 0 1)")
    parser.add_argument("--resnet110", action="store_true", help="add ResNet-110 (first seed, the paper's warm-up)")
    parser.add_argument("--profile", default="medium", help="training profile (default: medium)")
    parser.add_argument("--checkpoints", type=pathlib.Path, default=None,
                        help="folder to save every epoch in, so that the same command resumes after an interruption")
    parser.add_argument("--json", type=pathlib.Path, default=None, help="write the run report here after each run")
    arguments = parser.parse_args(argv)
    for depth in arguments.depths:
        try:
            models.blocks_per_stage(depth)
        except ValueError as error:
            parser.error(str(error))
    if any(seed < 0 for seed in arguments.seeds) or len(set(arguments.seeds)) != len(arguments.seeds):
        parser.error(f"--seeds must be distinct and non-negative, got {arguments.seeds}")
    return arguments


def plan_runs(depths, seeds, resnet110: bool = False) -> list[run_report.PlannedRun]:
    """The runs in the order they are trained: the extremes first (all seeds), then the depths in between."""
    depths = sorted(set(depths))
    extremes = [depths[0], depths[-1]] if len(depths) > 1 else depths
    plan = [run_report.PlannedRun(depth=depth, residual=residual, seed=seed)
            for seed in seeds for depth in extremes for residual in (False, True)]
    plan += [run_report.PlannedRun(depth=depth, residual=residual, seed=seeds[0])
             for depth in depths if depth not in extremes for residual in (False, True)]
    if resnet110:
        plan.append(run_report.PlannedRun(depth=110, residual=True, seed=seeds[0]))
    return plan


def main(argv=None) -> int:
    arguments = parse_arguments(argv)
    command = "python benchmarks/figure6.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    config = profiles.get_profile(arguments.profile)
    if config.validation_examples and not config.test_every_epoch:
        # Fig. 6 plots test error over the iterations: measure the test split after every epoch (nothing is chosen
        # on it; the schedule is the profile's). A profile without a validation split measures it every epoch anyway.
        config = dataclasses.replace(config, test_every_epoch=True)
    dataset = data.load_dataset(num_train=None if config.validation_examples else config.train_examples,
                                num_test=config.test_examples)
    print(f"Profile: {config.describe()}")
    plan = plan_runs(arguments.depths, arguments.seeds, arguments.resnet110)
    print(f"{len(plan)} runs: {', '.join(f'{run.name} (seed {run.seed})' for run in plan)}", flush=True)
    report = run_report.run_plan(plan, dataset, config, command=command, report_path=arguments.json,
                                 checkpoints=arguments.checkpoints)
    print(f"\nFig. 6's shape, final errors averaged over seeds ({report.seconds / 3600:.1f} hours of training):")
    return figure6.report_findings(figure6.findings(report))


if __name__ == "__main__":
    sys.exit(main())
