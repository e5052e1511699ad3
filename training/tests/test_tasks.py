import json
import os
import re
import tempfile

import pytest

from training import phrasings as P
from training.export_evals import eval_sets, write
from training.tasks import (SPLITS, TASKS, Example, bfs_levels, generate, is_correct, is_well_formed, problem_key,
                            random_graph, split_of)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


@pytest.mark.parametrize("task", TASKS)
def test_generators_are_deterministic_and_seed_dependent(task):
    a, b = generate(task, "train", 50, seed=7), generate(task, "train", 50, seed=7)
    assert a == b
    assert generate(task, "train", 50, seed=8) != a


@pytest.mark.parametrize("task", TASKS)
def test_splits_are_disjoint_by_problem_in_any_phrasing(task):
    keys = {s: {problem_key(task, e.meta) for e in generate(task, s, 300, seed=1)} for s in SPLITS}
    assert not keys["train"] & keys["val"] and not keys["train"] & keys["test"] and not keys["val"] & keys["test"]
    for s in SPLITS:
        assert all(split_of(task, e.meta) == s for e in generate(task, s, 50, seed=1))
    other_seed = {problem_key(task, e.meta) for e in generate(task, "train", 300, seed=2)}
    assert not other_seed & keys["test"]


@pytest.mark.parametrize("task", TASKS)
def test_verifier_accepts_the_answer_and_rejects_others(task):
    for ex in generate(task, "test", 100, seed=3):
        assert is_correct(ex, ex.answer)
        assert is_correct(ex, f"  {ex.answer}\n")
        assert is_well_formed(task, ex.answer)
        if task == "arithmetic":
            assert not is_correct(ex, str(int(ex.answer) + 1))
        else:
            other = [c for c in ex.meta[2] if c != ex.answer][0]
            assert not is_correct(ex, other)


def test_verifier_hand_cases():
    add = Example("arithmetic", "q", "", "", (999, "+", 1))
    assert is_correct(add, "1000") and not is_correct(add, "999")
    assert is_correct(Example("arithmetic", "q", "", "", (125, "*", 8)), "1000")
    g = Example("reachability", "q", "", "", ((("a", ("b",)), ("b", ("c",)), ("d", ("e",))), "a", ("c", "e")))
    assert is_correct(g, "c") and not is_correct(g, "e")
    assert not is_correct(g, "b")  # reachable, but not a candidate
    assert not is_well_formed("arithmetic", "12a") and not is_well_formed("reachability", "AB")
    assert is_well_formed("reachability", "C") and not is_well_formed("reachability", "c")


def test_bfs_levels_in_reading_order():
    adjacency = [("c", ("e", "d")), ("a", ("c", "b")), ("b", ("d",)), ("d", ("a",)), ("x", ("y",))]
    assert bfs_levels(adjacency, "a") == [["a"], ["c", "b"], ["e", "d"]]


def test_reachability_graphs_branch_so_a_single_path_must_choose():
    import random
    rng = random.Random(0)
    widths, depths = [], []
    for _ in range(300):
        adjacency, root, target, distractor = random_graph(rng)
        levels = bfs_levels(adjacency, root)
        assert distractor not in {x for lv in levels for x in lv}
        depth = next(i for i, lv in enumerate(levels) if target in lv)
        assert depth >= 2
        depths.append(depth)
        widths.append(max(len(lv) for lv in levels[1:depth + 1]))
    assert sum(w >= 2 for w in widths) / len(widths) > 0.85  # frontiers hold several nodes
    assert {2, 3, 4} <= set(depths)


def test_chain_of_thought_matches_the_algorithm():
    for ex in generate("arithmetic", "train", 100, seed=4):
        canon, *steps = ex.cot.split(" ")
        a, op, b = ex.meta
        # restated in the question's order: a multiplication may name its one-digit factor first
        first, second = re.findall(r"\d+", ex.question)
        assert canon == f"{first}{op}{second}"
        digits = [int(s.split("=")[1]) % 10 for s in steps]
        carry = int(steps[-1].split("=")[1]) // 10
        value = int("".join(map(str, reversed(digits))))
        assert (str(carry) if carry else "") + str(value).zfill(len(digits)) == ex.answer
    for ex in generate("reachability", "train", 100, seed=4):
        adjacency, root, cands = ex.meta
        prefix, rest = ex.cot.split(": ", 1)
        assert prefix == f"root {root}"
        groups = rest.split(" | ")
        children = dict(adjacency)
        levels = bfs_levels(adjacency, root)
        for i, (group, level) in enumerate(zip(groups, levels)):
            # each level's nodes expanded in reading order by their adjacency entry, copied verbatim;
            # the last level cut right after the first child that is a candidate: the answer
            full = " ".join(f"{x}>" + ",".join(children.get(x, ())) for x in level)
            if i < len(groups) - 1:
                assert group == full and not set(cands) & set(full)
            else:
                assert full.startswith(group) and group.endswith(ex.answer) and ex.answer in cands
                assert not set(cands) & set(group[:-1])
            assert all(f"{x}>" + ",".join(children[x]) in ex.question for x in level if x in children)
        assert len(groups) >= 2


def test_questions_state_their_problem():
    swapped = 0
    for ex in generate("arithmetic", "train", 400, seed=5):
        a, op, b = ex.meta
        numbers = re.findall(r"\d+", ex.question)
        assert numbers == [str(a), str(b)] or (op == "*" and numbers == [str(b), str(a)])
        swapped += numbers == [str(b), str(a)] and a != b
    assert swapped > 20
    for ex in generate("reachability", "train", 200, seed=5):
        adjacency, root, cands = ex.meta
        for x, ys in adjacency:  # each node's entry, children in order
            assert f"{x}>" + ",".join(ys) in ex.question
        # the question ends with the root at a fixed distance from the end
        assert ex.question.endswith(f"{root}{ex.question[-20:]}") and ex.question[-20:].lower() in (
            f". reachable: {cands[0]} or {cands[1]}?".lower(), f", reachable: {cands[0]} or {cands[1]}?".lower())


def test_training_phrasings_vary_and_never_produce_a_held_out_one():
    qs = [e.question for t in TASKS for e in generate(t, "train", 3000, seed=6)]
    assert len({re.sub(r"\d+", "N", q) for q in qs if not q.lower().startswith(("edges", "graph"))}) > 200
    for name, template in {**P.ARITHMETIC_HELD_OUT, **P.REACH_HELD_OUT}.items():
        words = re.escape(template)
        for slot in ("a", "b", "edges", "root", "c1", "c2"):
            words = words.replace(re.escape("{" + slot + "}"), ".+")
        pattern = re.compile(words, re.IGNORECASE)
        assert not any(pattern.fullmatch(q) for q in qs), name
    assert not any(" leads to " in q for q in qs)  # the held-out graph format
    assert not any("Source " in q for q in qs)


def test_filler_words_follow_numbers_but_never_split_a_symbol():
    import random
    rng = random.Random(0)
    template = "What is {a} plus {b}?"
    outs = [P._filled(rng, template) for _ in range(2000)]
    assert 0.35 < sum(o != template for o in outs) / len(outs) < 0.45
    assert all(re.fullmatch(r"What is \{a\}( [a-z ]+)? plus \{b\}( [a-z ]+)?\?", o) for o in outs)
    assert any(not o.startswith("What is {a} plus") for o in outs)  # after a too, not only after b
    # `{a}+{b}`: only the end of the template may take words, never the place between a number and `+`
    assert all(re.fullmatch(r"\{a\}\+\{b\}( [a-z ]+)?", P._filled(rng, "{a}+{b}")) for _ in range(500))
    assert all(P._filled(rng, "{a}x{b}=?") == "{a}x{b}=?" for _ in range(200))


def test_a_share_of_the_additions_lists_its_operands_with_a_comma():
    exs = generate("arithmetic", "train", 4000, seed=8, op="+")
    listed = [e for e in exs if re.search(rf"\b{e.meta[0]}\b[a-z ]*, {e.meta[2]}\b", e.question)]
    assert 0.07 < len(listed) / len(exs) < 0.13  # COMMA_SHARE, with no other template listing them so
    assert {P.COMMA_TEMPLATES[0].format(a=e.meta[0], b=e.meta[2]) for e in listed} & {e.question for e in listed}
    assert not any(q.question.lower().startswith(("sum:", "sum ")) for q in listed)  # sum-colon's words stay held out


def test_named_phrasings_render_verbatim():
    exs = generate("arithmetic", "test", 5, seed=1, phrasing="plus", op="+", digits=(3, 3))
    for ex in exs:
        a, op, b = ex.meta
        assert ex.question == f"What is {a} plus {b}?" and op == "+" and 100 <= a <= 999 and 100 <= b <= 999


def test_generators_do_not_depend_on_the_hash_seed():
    import subprocess
    import sys

    code = "from training.tasks import generate; print([e.question for t in ('reachability', 'arithmetic') for e in generate(t, 'test', 20, 5)])"
    outs = {subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": str(h)}).stdout for h in (1, 2)}
    assert len(outs) == 1


def test_committed_eval_sets_are_what_the_generators_write():
    with tempfile.TemporaryDirectory() as d:
        write(d)
        for name in eval_sets():
            with open(os.path.join(d, name), encoding="utf-8") as a, open(os.path.join(ROOT, "evals", name), encoding="utf-8") as b:
                assert a.read() == b.read(), f"evals/{name} is stale: python3 -m training.export_evals"
    with open(os.path.join(ROOT, "evals", "arithmetic-phrasings.jsonl"), encoding="utf-8") as f:
        groups = {json.loads(line)["group"] for line in f}
    assert {f"trained: {n}" for n in P.ARITHMETIC_NAMED} | {f"held-out: {n}" for n in P.ARITHMETIC_HELD_OUT} == groups
