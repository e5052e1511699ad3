"""The two-process SFT (data_parallel.py): the same gradient as one process, deterministic, resumable."""
import copy
import os
import random
import signal
import sys
import time

import pytest
import torch

from training.data import mixed_pool
from training.data_parallel import GradientHelper, cpu_seconds
from training.model import LlamaConfig, LlamaForCausalLM
from training.sft import _step_loss, train_sft

CFG = LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1)


def test_a_split_step_has_the_gradient_and_losses_of_the_whole_batch():
    """Half the rows in a helper process, half here: the summed gradient is the whole batch's mean-loss
    gradient (up to the order of float additions), and the logged losses are the same per row."""
    torch.manual_seed(0)
    one = LlamaForCausalLM(CFG)
    two = copy.deepcopy(one)
    batch = mixed_pool("train", 8, 5)[:7]  # an odd batch: the halves differ in size and in length
    rows1, copy1 = _step_loss(one, batch, random.Random("d"), 5, 0.5, None)
    helper = GradientHelper(two)
    try:
        rows2, copy2 = _step_loss(two, batch, random.Random("d"), 5, 0.5, helper)
    finally:
        helper.close()
    assert torch.allclose(rows1, rows2, rtol=1e-5, atol=1e-6)
    assert copy1 == pytest.approx(copy2, rel=1e-5)
    for (name, a), b in zip(one.named_parameters(), two.parameters()):
        assert torch.allclose(a.grad, b.grad, rtol=1e-4, atol=1e-7), name
    assert any(float(p.grad.abs().max()) > 1e-3 for p in two.parameters())
    assert not helper.process.is_alive()


def test_an_interrupted_two_process_sft_continues_to_the_same_weights(tmp_path):
    """With the helper process, a run is deterministic and a killed run resumed ends bit for bit where an
    uninterrupted one does (the helper of the killed run is stopped with it)."""
    pool = mixed_pool("train", 40, 3)

    def run(resume_path=None, stop_at=None):
        torch.manual_seed(0)
        m = LlamaForCausalLM(CFG)

        def killed(step):
            if step == stop_at:
                raise KeyboardInterrupt
        h = train_sft(m, pool, 10, 4, 1e-3, 2, log=lambda s: None, log_every=5, seed=1, checkpoint_every=4,
                      copy_rows=2, copy_weight=0.5, resume_path=resume_path, on_checkpoint=killed, procs=2)
        return m, h

    straight, h_straight = run()
    state = str(tmp_path / "sft.partial.pt")
    with pytest.raises(KeyboardInterrupt):
        run(state, stop_at=8)
    saved = torch.load(state)
    assert saved["step"] == 8 and saved["time_s"]["cpu"] > 0
    resumed, h_resumed = run(state)
    assert h_resumed == h_straight and h_straight[-1]["step"] == 10
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name


def test_a_dead_helper_is_an_error_not_a_hang():
    torch.manual_seed(0)
    m = LlamaForCausalLM(CFG)
    helper = GradientHelper(m)
    try:
        helper.process.terminate()
        helper.process.join()
        with pytest.raises(RuntimeError, match="helper process died"):
            helper.add_to(m)
    finally:
        helper.close()


def test_cpu_seconds_count_a_finished_helper():
    before = cpu_seconds()
    m = LlamaForCausalLM(CFG)
    helper = GradientHelper(m)
    helper.close()
    assert cpu_seconds() - before > 0.2  # the helper started Python and imported torch: its seconds count


def test_procs_must_be_one_or_two_and_two_needs_halves_to_split():
    pool = mixed_pool("train", 10, 3)
    with pytest.raises(ValueError, match="procs"):
        train_sft(LlamaForCausalLM(CFG), pool, 2, 4, 1e-3, 1, log=lambda s: None, procs=3)
    with pytest.raises(ValueError, match="batch_size >= 2"):
        train_sft(LlamaForCausalLM(CFG), pool, 2, 1, 1e-3, 1, log=lambda s: None, procs=2)
    with pytest.raises(ValueError, match="copy_rows 0 or >= 2"):
        train_sft(LlamaForCausalLM(CFG), pool, 2, 4, 1e-3, 1, log=lambda s: None, copy_rows=1, procs=2)


def _orphan_candidate(parent_pid, pid_file):
    from training.data_parallel import die_with_parent

    die_with_parent(parent_pid)
    with open(pid_file, "w") as f:
        f.write(str(os.getpid()))
    time.sleep(60)


def _killed_run(pid_file):
    """A training run that starts a helper and is then killed (no cleanup runs)."""
    import multiprocessing

    child = multiprocessing.get_context("spawn").Process(target=_orphan_candidate, args=(os.getpid(), pid_file))
    child.start()
    for _ in range(300):
        if os.path.exists(pid_file):
            break
        time.sleep(0.1)
    os.kill(os.getpid(), signal.SIGKILL)


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")  # a zombie has ended
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_helper_process_ends_when_the_run_that_started_it_is_killed(tmp_path):
    """A killed make_default must not leave its SFT helper or RL workers running: a worker would go on
    writing the resume state that the restarted run continues from."""
    import multiprocessing

    pid_file = str(tmp_path / "helper.pid")
    run = multiprocessing.get_context("spawn").Process(target=_killed_run, args=(pid_file,))
    run.start()
    run.join(60)
    assert run.exitcode == -signal.SIGKILL
    helper = int(open(pid_file).read())
    for _ in range(50):
        if not _alive(helper):
            break
        time.sleep(0.1)
    assert not _alive(helper)
