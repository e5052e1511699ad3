import json

import pytest
import torch

from training import make_default, screen_sft


def test_a_screened_sft_is_the_sft_make_default_trains(tmp_path):
    """The screen's point is to judge the data stream and initial weights make_default would train
    from a seed: on the CPU, one screened run must end with the very weights make_default caches (a
    second seed must not), and its validations must come at the asked steps."""
    make_default.main(["--smoke", "--rl", "", "--out", str(tmp_path / "m"), "--variants", "", "--fixtures", "",
                       "--evals", "", "--work", str(tmp_path / "work"), "--seed", "7"])
    cached = torch.load(next((tmp_path / "work").glob("sft-7-*.pt")))["state"]
    hp = dict(make_default.SMOKE)
    rows = []
    model = screen_sft.train_one("base", 7, hp, "cpu", 10, rows.append, log=lambda m: None)
    assert all(torch.equal(cached[k], v) for k, v in model.state_dict().items())
    other = screen_sft.train_one("base", 8, hp, "cpu", 0, [].append, log=lambda m: None)
    assert not all(torch.equal(cached[k], v) for k, v in other.state_dict().items())
    assert [r["step"] for r in rows] == [10, 20, 30]  # every 10 steps, the last one at the end
    assert {"compute", "added-to", "multiplication", "val_reachability", "val_arithmetic"} <= set(rows[-1])
    assert all(0 <= rows[-1][k] <= 1 for k in rows[-1] if k not in ("arm", "seed", "step", "wall_s"))


def test_screen_runs_every_arm_and_seed_side_by_side_and_tabulates_them(tmp_path, capsys):
    out = tmp_path / "screen.jsonl"
    out.write_text('{"arm": "stale", "seed": 1, "step": 5}\n')  # an earlier screen's lines are not this one's
    screen_sft.main(["--smoke", "--seeds", "1,2", "--arm", "base:", "--arm", "short:sft_steps=20", "--every", "0",
                     "--procs", "2", "--out", str(out)])
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted((r["arm"], r["seed"], r["step"]) for r in rows) == [
        ("base", 1, 30), ("base", 2, 30), ("short", 1, 20), ("short", 2, 20)]
    printed = capsys.readouterr().out
    assert "| short | median of 2 |" in printed and "| base | min of 2 |" in printed and "stale" not in printed


def test_screen_arms_are_checked_before_anything_trains():
    base = make_default.SMOKE
    assert screen_sft.parse_arm("long:sft_steps=12000,sft_lr=0.001", base)[1] == dict(base, sft_steps=12000, sft_lr=0.001)
    assert screen_sft.parse_arm("base:", base) == ("base", base)
    for bad in ("sft_steps=5", "x:bogus=1", "x:sft_steps"):
        with pytest.raises(ValueError):
            screen_sft.parse_arm(bad, base)
    # a screened run is one process whatever make_default's FULL says (runs go side by side)
    assert [hp["sft_procs"] for _, hp in screen_sft.arms(["new:", "old:sft_steps=8000"], make_default.FULL)] == [1, 1]
    assert screen_sft.arms([], make_default.FULL) == [("base", dict(make_default.FULL, sft_procs=1))]
    with pytest.raises(SystemExit):
        screen_sft.main(["--smoke", "--arm", "two:sft_procs=2"])
    with pytest.raises(SystemExit):  # make_default's --set shares the parser (with_overrides)
        make_default.main(["--smoke", "--set", "bogus=1", "--out", "/nonexistent/never-written"])
