"""Synthetic, verifiable, seeded tasks with disjoint train / validation / test splits.

reachability: a directed graph (edge list), a root and two candidates; exactly one candidate is
reachable from the root. Chain of thought = the BFS frontier, level by level, until a candidate
is reached. Answer = that candidate (one letter).

arithmetic: a + b (2-4 digits) or a * d (2-4 digits times one digit). Chain of thought = the digit
steps from the right with the carry. Answer = the decimal result.

Splits are decided by a hash of the question text, so no question is in two splits whatever the
seeds: test = hash % 10 == 0, validation = hash % 10 == 1, train = the rest.
"""
import hashlib
import random
import re
from collections import namedtuple

Example = namedtuple("Example", "task question cot answer")
TASKS = ("reachability", "arithmetic")
SPLITS = ("train", "val", "test")
NODE_NAMES = "abcdefghijklmnop"
ANSWER_FORMAT = {"reachability": re.compile(r"^[a-p]$"), "arithmetic": re.compile(r"^[0-9]{1,7}$")}


def split_of(question):
    h = int.from_bytes(hashlib.sha256(question.encode("utf-8")).digest()[:8], "big") % 10
    return "test" if h == 0 else "val" if h == 1 else "train"


def bfs_levels(edges, root):
    children = {}
    for a, b in edges:
        children.setdefault(a, []).append(b)
    seen, levels, frontier = {root}, [[root]], [root]
    while frontier:
        nxt = sorted({c for n in frontier for c in children.get(n, []) if c not in seen})
        seen.update(nxt)
        if nxt:
            levels.append(nxt)
        frontier = nxt
    return levels


def make_reachability(rng):
    while True:
        n = rng.randint(6, 9)
        names = rng.sample(NODE_NAMES, n)
        m = rng.randint(n - 1, n + 2)
        edges = []  # a list, not a set: set order depends on PYTHONHASHSEED
        while len(edges) < m:
            a, b = rng.sample(names, 2)
            if (a, b) not in edges:
                edges.append((a, b))
        root = rng.choice(names)
        levels = bfs_levels(edges, root)
        reach = [x for lv in levels[2:] for x in lv]  # at distance >= 2
        unreach = [x for x in names if all(x not in lv for lv in levels)]
        if not reach or not unreach:
            continue
        target, distractor = rng.choice(reach), rng.choice(unreach)
        cands = [target, distractor]
        rng.shuffle(cands)
        question = "Edges: " + " ".join(f"{a}>{b}" for a, b in edges) + f". Root {root}. Reachable: {cands[0]} or {cands[1]}?"
        cot = []
        for lv in levels:
            cot.append("".join(lv))
            if target in lv:
                break
        return Example("reachability", question, " ".join(cot), target)


def make_arithmetic(rng):
    if rng.random() < 0.5:
        a, b = rng.randint(10, 9999), rng.randint(10, 9999)
        da, db = str(a)[::-1], str(b)[::-1]
        steps, carry = [], 0
        for i in range(max(len(da), len(db))):
            x, y = int(da[i]) if i < len(da) else 0, int(db[i]) if i < len(db) else 0
            s = x + y + carry
            steps.append(f"{x}+{y}+{carry}={s}")
            carry = s // 10
        return Example("arithmetic", f"Compute {a}+{b}.", " ".join(steps), str(a + b))
    a, d = rng.randint(10, 9999), rng.randint(2, 9)
    steps, carry = [], 0
    for ch in str(a)[::-1]:
        s = int(ch) * d + carry
        steps.append(f"{ch}*{d}+{carry}={s}")
        carry = s // 10
    return Example("arithmetic", f"Compute {a}*{d}.", " ".join(steps), str(a * d))


GENERATORS = {"reachability": make_reachability, "arithmetic": make_arithmetic}


def generate(task, split, count, seed):
    """`count` distinct examples of `task` in `split`, deterministic in (task, split, seed)."""
    rng = random.Random(f"{task}/{split}/{seed}")
    out, seen = [], set()
    while len(out) < count:
        ex = GENERATORS[task](rng)
        if ex.question in seen or split_of(ex.question) != split:
            continue
        seen.add(ex.question)
        out.append(ex)
    return out


def is_correct(task, question, answer):
    """Verify an answer from the question alone (independent of the generator's stored answer)."""
    answer = answer.strip()
    if task == "arithmetic":
        m = re.fullmatch(r"Compute (\d+)([+*])(\d+)\.", question)
        a, op, b = int(m.group(1)), m.group(2), int(m.group(3))
        return answer == str(a + b if op == "+" else a * b)
    m = re.fullmatch(r"Edges: (.*)\. Root (\w)\. Reachable: (\w) or (\w)\?", question)
    edges = [tuple(e.split(">")) for e in m.group(1).split(" ")]
    reached = {x for lv in bfs_levels(edges, m.group(2)) for x in lv}
    return answer in (m.group(3), m.group(4)) and answer in reached


def is_well_formed(task, answer):
    return bool(ANSWER_FORMAT[task].match(answer.strip()))
