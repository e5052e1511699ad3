"""reverie's soft-token RL trainer: tasks, a small Llama, SFT, RLOO (hard/soft/fuzzy), evaluation."""
import os


def _openblas_coretype(flags):
    """The OpenBLAS kernel family for a CPU with these /proc/cpuinfo flags, or None."""
    if {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= flags:
        return "SkylakeX"
    if {"avx2", "fma"} <= flags:
        return "Haswell"
    if "avx" in flags:
        return "SandyBridge"
    return None


def _pin_openblas_kernel():
    """Name OpenBLAS's kernels from the CPU's features, unless the user did (OPENBLAS_CORETYPE).
    OpenBLAS 0.3.21 (Debian 12) picks them from the CPU model, and on a VM whose hypervisor hides the
    model ("Intel(R) Xeon(R) Processor", as on our 2-core CI machines) it falls back to Prescott,
    its generic SSE3 kernels: the default's SFT then took 0.9-1.0 s a step (steps 25-150 of two
    runs), with SkylakeX 0.49 s (the whole 8000 steps: 3885 s), one thread, 2026-12-03. OpenBLAS reads the variable when it loads, so this
    runs before anything imports torch."""
    try:
        with open("/proc/cpuinfo") as f:
            line = next((line for line in f if line.startswith("flags")), "")
    except OSError:
        return None
    core = _openblas_coretype(set(line.split(":", 1)[-1].split()))
    if core and "OPENBLAS_CORETYPE" not in os.environ:
        os.environ["OPENBLAS_CORETYPE"] = core
    return core


# The kernels this CPU's flags name. A user's OPENBLAS_CORETYPE wins, but other kernels sum floats in
# another order and the run takes another path: the committed weights' command with Haswell kernels
# (set by a machine's environment) on a CPU that runs SkylakeX ones ended with other, weaker weights,
# and with SkylakeX its losses were the committed run's (training/README.md); make_default warns.
CPU_CORETYPE = _pin_openblas_kernel()
