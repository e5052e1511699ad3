import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
import training  # noqa: E402,F401  (names OpenBLAS's kernels before torch loads it)
import torch  # noqa: E402

torch.set_num_threads(1)
