"""The paper's Fig. 7 from the networks the Fig. 6 benchmark trained: the response of every 3x3 layer, stored.

Sec. 4.2 of He et al. (2015) measures the standard deviation of each 3x3 layer's output after batch norm, in plain
and residual nets, as evidence that residual functions stay close to zero. This script reads the networks that
``benchmarks/figure6.py`` trained (their last epoch, from the same ``--checkpoints`` folder; every network of the
report for its first seed), measures them with :func:`resnet_lessons.responses.response_stds` on the 10,000 test
images, prepared as in training, and writes a :class:`resnet_lessons.responses.ResponseReport` for chapter 4. It
trains nothing: a minute or two on 2 CPU cores. The exit status is 1 if one of the paper's readings of Fig. 7
(:func:`resnet_lessons.responses.findings`) does not hold.

Usage (from the repository root, after benchmarks/figure6.py)::

    python benchmarks/figure7.py --report book/data/figure6_medium.json --checkpoints checkpoints/medium \\
        --json book/data/figure7_medium.json
"""

from __future__ import annotations

import argparse
import pathlib
import shlex
import sys

from resnet_lessons import data, figure6, hardware, responses, run_report, train


def parse_arguments(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--report", type=pathlib.Path, required=True,
                        help="the run report of benchmarks/figure6.py whose networks are measured")
    parser.add_argument("--checkpoints", type=pathlib.Path, required=True,
                        help="the --checkpoints folder that benchmarks/figure6.py trained into")
    parser.add_argument("--json", type=pathlib.Path, default=None, help="write the response report here")
    return parser.parse_args(argv)


def measure(report: run_report.RunReport, dataset: data.ImageDataset, checkpoints, *,
            command: str) -> responses.ResponseReport:
    """Measure the first seed's network of every name in ``report``, read back from ``checkpoints``."""
    config = report.config
    first_seeds = {}
    for run in report.runs:
        first_seeds.setdefault(run.name, run)
    prepared_by_seed = {}  # the normalisation depends on the validation split, which depends on the seed
    networks = []
    for name, run in first_seeds.items():
        if run.seed not in prepared_by_seed:
            prepared_by_seed[run.seed] = train.prepare_data(dataset, config, seed=run.seed)
        prepared = prepared_by_seed[run.seed]
        images = prepared.dataset.x_test
        planned = run_report.PlannedRun(depth=run.depth, residual=run.residual, seed=run.seed)
        model = run_report.trained_network(planned, checkpoints, config, num_classes=dataset.num_classes)
        stds = responses.response_stds(model, images, mean=prepared.mean, std=prepared.std)
        networks.append(responses.NetworkResponses(
            name=name, depth=run.depth, residual=run.residual, seed=run.seed,
            layers=responses.response_layer_names(model), stds=[float(value) for value in stds]))
        print(f"{name} seed {run.seed}: {len(stds)} layers, response std from {stds.min():.2f} to {stds.max():.2f}",
              flush=True)
    source = (f"the last epoch of the networks of {report.command!r} (profile {config.name!r}), measured on "
              f"{len(images):,} test images at {config.image_size}x{config.image_size}")
    return responses.ResponseReport(command=command, source=source, environment=hardware.describe_environment(),
                                    networks=networks)


def main(argv=None) -> int:
    arguments = parse_arguments(argv)
    command = "python benchmarks/figure7.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    report = run_report.RunReport.load(arguments.report)
    if not report.complete:
        print(f"warning: {arguments.report} is incomplete; measuring the networks it has", file=sys.stderr)
    config = report.config
    dataset = data.load_dataset(num_train=None if config.validation_examples else config.train_examples,
                                num_test=config.test_examples)
    result = measure(report, dataset, arguments.checkpoints, command=command)
    if arguments.json is not None:
        result.save(arguments.json)
    print("\nFig. 7's readings:")
    return figure6.report_findings(responses.findings(result))


if __name__ == "__main__":
    sys.exit(main())
