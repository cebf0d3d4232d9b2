"""Copy finished runs of the training-budget benchmark into ``book/data/weights/`` as the book's shipped networks.

For each network named, at one budget of ``benchmarks/training_budget.py``: its last checkpoint is loaded, stored in
float16 with :func:`resnet_lessons.shipped_weights.ship` (the manifest gets the recipe, the data, the seed, the final
errors of the run's history, the channel statistics the network expects and the benchmark's command), then reloaded
from the repository's copy and measured on the whole test split and on its first 1,000 images. The command fails if
the reloaded network's test error is more than 0.1 point from the history's.

Usage (from the repository root, with the benchmark's result file and checkpoints)::

    python tools/ship_weights.py --report book/data/training_budget_medium.json \\
        --checkpoints ~/resnet-lessons-checkpoints/budget --epochs 40 resnet-20 resnet-56 plain-20 plain-56
"""

from __future__ import annotations

import argparse
import pathlib
import sys

from resnet_lessons import data, run_report, shipped_weights, train

QUICK_CHECK_IMAGES = 1000  # the unit tests measure the first this many test images


def parse_arguments(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("networks", nargs="+", help="e.g. resnet-20 plain-56")
    parser.add_argument("--report", type=pathlib.Path, required=True, help="the benchmark's JSON result file")
    parser.add_argument("--checkpoints", type=pathlib.Path, required=True, help="the benchmark's --checkpoints")
    parser.add_argument("--epochs", type=int, required=True, help="the budget whose runs to ship")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--folder", type=pathlib.Path, default=shipped_weights.default_folder())
    return parser.parse_args(argv)


def main(argv=None) -> int:
    arguments = parse_arguments(argv)
    reports = [report for report in run_report.load_reports(arguments.report)
               if report.config.epochs == arguments.epochs]
    if not reports:
        print(f"error: no runs of {arguments.epochs} epochs in {arguments.report}", file=sys.stderr)
        return 1
    report = reports[0]
    dataset = data.load_dataset()
    failed = False
    for name in arguments.networks:
        run = report.run(name, arguments.seed)
        planned = run_report.PlannedRun(depth=run.depth, residual=run.residual, seed=run.seed)
        model = run_report.trained_network(planned, arguments.checkpoints / f"{arguments.epochs}-epochs",
                                           report.config)
        prepared = train.prepare_data(dataset, report.config, seed=run.seed)
        errors = {key: 100 * run.history.final(metric) for key, metric in
                  (("train_error", "train_error"), ("val_error", "validation_error"), ("test_error", "test_error"))}
        shipped = shipped_weights.ship(model, name=name, folder=arguments.folder, config=report.config,
                                       data=dataset.description, seed=run.seed, epochs=arguments.epochs,
                                       errors=errors, mean=prepared.mean, std=prepared.std, command=report.command,
                                       residual=run.residual, depth=run.depth)
        reloaded = shipped_weights.load(name, folder=arguments.folder)
        full = shipped_weights.measure_test_error(reloaded, shipped, dataset)
        first = shipped_weights.measure_test_error(reloaded, shipped, dataset, limit=QUICK_CHECK_IMAGES)
        # shipped again with the quick check's error in the manifest (the same weights, a new file and digest)
        shipped = shipped_weights.ship(model, name=name, folder=arguments.folder, config=report.config,
                                       data=dataset.description, seed=run.seed, epochs=arguments.epochs,
                                       errors={**errors, "test_error_first_1000": first}, mean=prepared.mean,
                                       std=prepared.std, command=report.command, residual=run.residual,
                                       depth=run.depth)
        within = shipped.reproduces(full)
        failed |= not within
        print(f"{shipped.describe()}; reloaded from float16: {full:.2f} % "
              f"({'within' if within else 'NOT within'} {shipped_weights.TOLERANCE_POINTS} point); "
              f"first 1,000: {first:.1f} %")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
