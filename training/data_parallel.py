"""Data-parallel SFT on the CPU's second core: a helper process computes the gradient of part of each batch.

The 2-core machine runs one SFT step in 0.50 s with one torch thread; two threads in one process are
slower (OpenMP waits dominate the small matrices of a 1 M model), but two processes of one thread each
run side by side at full speed (a half batch: 0.24 s each, 2026-12-04). So the batch is split: the
main process computes the loss gradient of its rows, the helper that of the others, on the same
weights (the parameters live in shared memory, so the optimizer's in-place step is what the helper
reads next), and the main process adds the helper's gradient to its own before clipping and stepping.
Each side's loss is its rows' summed token losses over the whole batch's token count, so the sum of
the two gradients is the gradient of the whole batch's mean; only the order of the floating-point
additions differs from one process (the weights agree to the last bits at first and drift apart over a
long run, as on another device). The run is deterministic: the split and every sum are fixed.
"""
import ctypes
import os
import queue
import signal
import sys
import time

import torch
import torch.multiprocessing as mp
import torch.nn.functional as F


def cpu_seconds():
    """CPU seconds of this process and of its children that have ended (the SFT's helper once joined):
    the stage times of make_default count both cores' work."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def token_loss_sum(model, ids, target):
    """(sum of the token cross-entropies of the predicted tokens, mean loss per row) of a batch."""
    logits = model.forward_ids(ids[:, :-1])
    mask = target[:, 1:]
    per = F.cross_entropy(logits.transpose(1, 2), ids[:, 1:], reduction="none") * mask
    with torch.no_grad():
        rows = per.sum(1) / mask.sum(1).clamp(min=1)
    return per.sum(), rows


def predicted_tokens(target):
    return int(target[:, 1:].sum())


def part_loss(model, part, totals, copy_weight):
    """The loss of one process's share of a step: `part` = (ids, target, copy_ids, copy_target), the
    copy tensors None without the drill; `totals` = the whole step's predicted tokens of the task rows
    and of the drill rows. Returns (loss, per-row task losses, summed drill loss or None)."""
    ids, target, copy_ids, copy_target = part
    task_sum, rows = token_loss_sum(model, ids, target)
    loss = task_sum / totals[0]
    copy_sum = None
    if copy_ids is not None:
        copy_sum, _ = token_loss_sum(model, copy_ids, copy_target)
        loss = loss + copy_weight * copy_sum / totals[1]
    return loss, rows, copy_sum


def die_with_parent(parent_pid):
    """Ends this spawned process when `parent_pid`, the run that started it, dies (killed mid-run).
    `daemon=True` covers only a parent that exits normally; without this an SFT helper was left waiting
    on its queue after a kill, and an RL worker would go on training and writing the resume state that
    the restarted run reads. Linux (prctl PR_SET_PDEATHSIG); a no-op elsewhere. The states are written
    atomically, so SIGKILL mid-save leaves the previous one."""
    if not sys.platform.startswith("linux"):
        return
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    if os.getppid() != parent_pid:  # it died before prctl took effect
        os._exit(1)


def _helper(model, grads, jobs, results, parent_pid):
    die_with_parent(parent_pid)
    torch.set_num_threads(1)
    model.train()
    while True:
        job = jobs.get()
        if job is None:
            return
        part, totals, copy_weight = job
        for p in model.parameters():
            p.grad = None
        loss, rows, copy_sum = part_loss(model, part, totals, copy_weight)
        loss.backward()
        for p, g in zip(model.parameters(), grads):
            g.copy_(p.grad)
        results.put((rows.tolist(), None if copy_sum is None else copy_sum.item(), time.process_time()))


class GradientHelper:
    """The helper process of a data-parallel SFT. `model`'s parameters are moved to shared memory.
    `submit(part, totals, copy_weight)` starts the helper on its share of a step; `add_to(model)` waits
    for it, adds its gradient to the model's and returns (its per-row losses, its summed drill loss)."""

    def __init__(self, model):
        model.share_memory()
        self.grads = [torch.zeros_like(p).share_memory_() for p in model.parameters()]
        self.cpu_s = 0.0  # the helper's CPU seconds so far, as it last reported them
        ctx = mp.get_context("spawn")  # fork after torch has started its thread pools is not safe
        self.jobs, self.results = ctx.Queue(), ctx.Queue()
        self.process = ctx.Process(target=_helper, args=(model, self.grads, self.jobs, self.results, os.getpid()),
                                   daemon=True)
        self.process.start()

    def submit(self, part, totals, copy_weight):
        self.jobs.put((part, totals, copy_weight))

    def add_to(self, model):
        while True:
            try:
                rows, copy_sum, self.cpu_s = self.results.get(timeout=5)
                break
            except queue.Empty:  # a step takes well under 5 s: check that the helper is still alive
                if not self.process.is_alive():
                    raise RuntimeError(f"the SFT helper process died (exit code {self.process.exitcode})")
        for p, g in zip(model.parameters(), self.grads):
            p.grad.add_(g)
        return rows, copy_sum

    def close(self):
        if self.process.is_alive():
            self.jobs.put(None)
            self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join()


def split(batch_tensors, at):
    """Rows [:at] and [at:] of (ids, target), each cut to its own longest row (less padding)."""
    ids, target = batch_tensors

    def trim(i, t):
        keep = int(t.any(0).nonzero().max()) + 1 if bool(t.any()) else i.shape[1]
        return i[:, :keep].contiguous(), t[:, :keep].contiguous()

    return trim(ids[:at], target[:at]), trim(ids[at:], target[at:])
