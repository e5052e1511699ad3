"""Synthetic, verifiable, seeded tasks with disjoint train / validation / test splits.

reachability: a directed graph (an adjacency list: each node with its children), a root and two
candidates; exactly one candidate is reachable from the root. The root's part of the graph is a
layered DAG with branches (several nodes per level, dead ends), so a chain of thought that follows
one path must choose a branch, while the BFS frontier (a superposition of the branches) never has
to. Chain of thought = the BFS, level by level, each node expanded by copying its entry, until a
child is a candidate, where it stops (`root B: B>M,K,I | M>P K>J,Q I> | P>T`). Answer = that candidate.

arithmetic: a + b (1-4 digits each) or a * d (2-4 digits times one digit, asked either way round).
Chain of thought = the problem restated compactly in the question's order (`345+78`, `7*345`, whatever
the wording), then the digit steps from the right with the carry. Answer = the decimal result.

Every question is rendered in one of many phrasings (phrasings.py); the held-out phrasings there
are used only by the evaluation sets, never by `generate`.

Splits are decided by a hash of the canonical problem (the numbers, or the graph, root and
candidates), not of the text, so a test problem is never trained on in any phrasing, whatever the
seeds: test = hash % 10 == 0, validation = hash % 10 == 1, train = the rest.
"""
import hashlib
import random
import re
from collections import namedtuple

from . import phrasings as P

# meta: arithmetic (a, op, b); reachability (adjacency ((node, children), ...), root, (cand1, cand2))
Example = namedtuple("Example", "task question cot answer meta")
TASKS = ("reachability", "arithmetic")
# Bumped whenever the generated text changes (phrasings, chains of thought), so that saved SFT / latent
# weights of an earlier version are never reused (make_default.cached).
DATA_VERSION = 4
SPLITS = ("train", "val", "test")
NODE_NAMES = "ABCDEFGHIJKLMNOPQRST"  # capitals: a node never looks like a letter of a word
ANSWER_FORMAT = {"reachability": re.compile(r"^[A-T]$"), "arithmetic": re.compile(r"^[0-9]{1,7}$")}


def problem_key(task, meta):
    if task == "arithmetic":
        a, op, b = meta
        return f"{a}{op}{b}"
    adjacency, root, cands = meta
    edges = sorted((x, y) for x, children in adjacency for y in children)
    return " ".join(f"{x}>{y}" for x, y in edges) + f"|{root}|{','.join(sorted(cands))}"


def split_of(task, meta):
    h = int.from_bytes(hashlib.sha256(problem_key(task, meta).encode("utf-8")).digest()[:8], "big") % 10
    return "test" if h == 0 else "val" if h == 1 else "train"


def bfs_levels(adjacency, root):
    """BFS levels in reading order: each level lists the children of the previous level's nodes in
    the order the question lists them (node by node), skipping nodes already seen."""
    children = {}
    for x, ys in adjacency:
        children.setdefault(x, []).extend(ys)
    seen, levels, frontier = {root}, [[root]], [root]
    while frontier:
        nxt = []
        for n in frontier:
            for c in children.get(n, []):
                if c not in seen:
                    seen.add(c)
                    nxt.append(c)
        if nxt:
            levels.append(nxt)
        frontier = nxt
    return levels


def reachability_cot(adjacency, root, target):
    """`root B: B>M,K,I | M>P K>J,Q I> | P>T`: the root, then the BFS level by level, each node of a
    level expanded by copying its adjacency entry verbatim (`I>` when it has none), and it stops right
    after the first child that is a candidate (the entry `P>T,R` is cut to `P>T`). Every step is a
    copy the model can find by the text just before it (`root `, `M>`), the kind of lookup a
    transformer learns fastest (an induction head); the one decision, after each child, is whether
    the child just written is a candidate: a match of that token with the end of the question. (It
    used to stop only after the whole level, which asks whether any child of the level matched, and
    most of the greedy errors were a stop a level too early or too late.)"""
    children = dict(adjacency)
    groups = []
    for lv in bfs_levels(adjacency, root):
        entries = []
        for x in lv:
            ys = children.get(x, ())
            if target in ys:
                entries.append(f"{x}>" + ",".join(ys[:ys.index(target) + 1]))
                groups.append(" ".join(entries))
                return f"root {root}: " + " | ".join(groups)
            entries.append(f"{x}>" + ",".join(ys))
        groups.append(" ".join(entries))
    raise ValueError(f"{target} is not reachable from {root}")


def random_graph(rng):
    """(adjacency, root, target, distractor) over 8-11 nodes. Below the root a layered DAG of depth 2-4 with 2-3 nodes
    per level (fewer when the graph is small) and dead ends; a separate component holds the
    distractor (its nodes may point into the root's part, never the other way). The adjacency list
    names each node with children once, in random order, its children in random order."""
    names = rng.sample(NODE_NAMES, rng.randint(8, 11))
    sizes = [rng.randint(2, 3) for _ in range(rng.randint(2, 4))]
    while 1 + sum(sizes) > len(names) - 2:  # leave at least 2 nodes for the distractor's component
        sizes[sizes.index(max(sizes))] -= 1
    levels, at = [[names[0]]], 1
    for k in sizes:
        levels.append(names[at:at + k])
        at += k
    rest = names[at:]
    edges = []
    for upper, lower in zip(levels, levels[1:]):
        parents = rng.sample(upper, rng.randint(1, len(upper)))  # the other nodes of `upper` are dead ends
        for node in lower:
            edges.append((rng.choice(parents), node))
            p2 = rng.choice(parents)
            if rng.random() < 0.2 and (p2, node) not in edges:  # a second parent
                edges.append((p2, node))
    for i, node in enumerate(rest[1:], 1):  # the distractor's component: a small tree
        edges.append((rng.choice(rest[:i]), node))
    below_root = [n for lv in levels[1:] for n in lv]
    for _ in range(rng.randint(0, 2)):  # links from it into the root's part
        link = (rng.choice(rest), rng.choice(below_root))
        if link not in edges:
            edges.append(link)
    adjacency = {}
    for x, y in edges:
        adjacency.setdefault(x, []).append(y)
    adjacency = [(x, tuple(rng.sample(ys, len(ys)))) for x, ys in adjacency.items()]
    rng.shuffle(adjacency)
    target = rng.choice(levels[rng.randint(2, len(levels) - 1)])  # its level uniform over 2..depth
    return tuple(adjacency), levels[0][0], target, rng.choice(rest)


def make_reachability(rng, phrasing=None):
    adjacency, root, target, distractor = random_graph(rng)
    cands = [target, distractor]
    rng.shuffle(cands)
    meta = (adjacency, root, tuple(cands))
    question = P.render_reachability(rng, adjacency, root, cands, phrasing)
    return Example("reachability", question, reachability_cot(adjacency, root, target), target, meta)


def operand(rng, digits):
    return rng.randint(10 ** (digits - 1) if digits > 1 else 0, 10 ** digits - 1)


def arithmetic_cot(a, op, b, digit_first=False):
    """`345+78 8+5+0=13 ...`: the problem restated in the question's order (`digit_first`: a
    multiplication asked as `7*345`), then the digit steps from the right."""
    steps, carry = [], 0
    if op == "+":
        da, db = str(a)[::-1], str(b)[::-1]
        for i in range(max(len(da), len(db))):
            x, y = int(da[i]) if i < len(da) else 0, int(db[i]) if i < len(db) else 0
            s = x + y + carry
            steps.append(f"{x}+{y}+{carry}={s}")
            carry = s // 10
    else:
        for ch in str(a)[::-1]:
            s = int(ch) * b + carry
            steps.append(f"{ch}*{b}+{carry}={s}")
            carry = s // 10
    return (f"{b}{op}{a} " if digit_first else f"{a}{op}{b} ") + " ".join(steps)


def make_arithmetic(rng, phrasing=None, op=None, digits=None):
    op = op or ("+" if rng.random() < 0.7 else "*")
    if op == "+":
        da, db = digits or (rng.choice((1, 2, 3, 3, 4)), rng.choice((1, 2, 3, 3, 4)))
        a, b = operand(rng, da), operand(rng, db)
    else:
        a, b = operand(rng, digits[0] if digits else rng.randint(2, 4)), rng.randint(2, 9)
    # half the multiplications name the one-digit factor first (`Multiply 7 by 345`), so that `by` or
    # `times` before a number says nothing about its length; the meta stays (multi-digit, op, digit)
    digit_first = op == "*" and phrasing is None and rng.random() < 0.5
    question = P.render_arithmetic(rng, *((b, op, a) if digit_first else (a, op, b)), phrasing)
    return Example("arithmetic", question, arithmetic_cot(a, op, b, digit_first), str(a + b if op == "+" else a * b),
                   (a, op, b))


GENERATORS = {"reachability": make_reachability, "arithmetic": make_arithmetic}


def generate(task, split, count, seed, **kwargs):
    """`count` examples of `task` in `split` with distinct problems, deterministic in (task, split, seed).

    Training phrasings are drawn at random; `phrasing=NAME` renders every question in one named
    phrasing (phrasings.py), held-out ones included (for the evaluation sets only)."""
    rng = random.Random(f"{task}/{split}/{seed}/{kwargs.get('phrasing')}")
    out, seen = [], set()
    while len(out) < count:
        ex = GENERATORS[task](rng, **kwargs)
        key = problem_key(task, ex.meta)
        if key in seen or split_of(task, ex.meta) != split:
            continue
        seen.add(key)
        out.append(ex)
    return out


def is_correct(example, answer):
    """Verify an answer from the problem (not from the generator's stored answer)."""
    answer = answer.strip()
    if example.task == "arithmetic":
        a, op, b = example.meta
        return answer == str(a + b if op == "+" else a * b)
    adjacency, root, cands = example.meta
    reached = {x for lv in bfs_levels(adjacency, root) for x in lv}
    return answer in cands and answer in reached


def is_well_formed(task, answer):
    return bool(ANSWER_FORMAT[task].match(answer.strip()))
