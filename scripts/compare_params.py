"""Compares the params of two t5x checkpoints leaf by leaf (either layout; t5x train states too).

    python scripts/compare_params.py CHECKPOINT_A CHECKPOINT_B [--expect same|different]

Prints one line: how many leaves (and parameters) are identical. Exits 1 unless every leaf is
identical (`--expect same`, the default) or every leaf differs (`--expect different`, e.g. a
trained checkpoint against its starting point).
"""

from __future__ import annotations

import argparse
import sys


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("a", help="model dir (latest step) or checkpoint_<step> dir")
    parser.add_argument("b", help="model dir (latest step) or checkpoint_<step> dir")
    parser.add_argument("--expect", choices=("same", "different"), default="same")
    args = parser.parse_args()

    import numpy as np
    from flax import traverse_util

    from optiml_jax.checkpoints import restore_params

    a = traverse_util.flatten_dict(restore_params(args.a, scan_layers=True))
    b = traverse_util.flatten_dict(restore_params(args.b, scan_layers=True))
    if a.keys() != b.keys():
        print(f"different trees: only in A {sorted(a.keys() - b.keys())[:5]}, "
              f"only in B {sorted(b.keys() - a.keys())[:5]}")
        return 1
    same = [path for path in a if a[path].dtype == b[path].dtype and np.array_equal(a[path], b[path])]
    count = sum(int(a[path].size) for path in same)
    total = sum(int(value.size) for value in a.values())
    print(f"{len(same)} of {len(a)} param leaves identical ({count:,} of {total:,} parameters): "
          f"{args.a} vs {args.b}")
    expected = len(a) if args.expect == "same" else 0
    return 0 if len(same) == expected else 1


if __name__ == "__main__":
    sys.exit(main())
