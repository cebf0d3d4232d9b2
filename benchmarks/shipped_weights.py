"""Does every shipped network still give its manifest's test error? The full check of ``book/data/weights/``.

Each network of the manifest is loaded (its file checked against the SHA-256 there) and measured on the whole test
split of the data copy it was trained on; the script prints both errors and fails if any pair differs by more than
0.1 point (the float16 storage's allowance). The unit tests check the first 1,000 test images only.

Usage (from the repository root): ``python benchmarks/shipped_weights.py``
"""

from __future__ import annotations

import argparse
import pathlib
import sys

from resnet_lessons import data, shipped_weights


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", type=pathlib.Path, default=shipped_weights.default_folder(),
                        help="the folder of the manifest and the weights (default: book/data/weights)")
    folder = parser.parse_args(argv).folder
    manifest = shipped_weights.read_manifest(folder)
    dataset = data.load_dataset()
    failed = False
    print(f"{'network':<12} {'manifest':>9} {'measured':>9}")
    for name, shipped in manifest.items():
        measured = shipped_weights.measure_test_error(shipped_weights.load(name, folder=folder), shipped, dataset)
        within = shipped.reproduces(measured)
        failed |= not within
        print(f"{name:<12} {shipped.errors['test_error']:>8.2f}% {measured:>8.2f}%"
              f"{'' if within else f'  more than {shipped_weights.TOLERANCE_POINTS} point apart'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
