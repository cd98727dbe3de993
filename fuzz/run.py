"""The long fuzzing run: the targets of fuzz/targets.py on mutated valid inputs, hundreds of thousands of cases.

    PYTHONPATH=src python fuzz/run.py --cases 1000000 --seconds 3600 --seed 0

Deterministic for a seed (one random.Random drives every mutation). Each case is a valid seed input (a model
file, a checkpoint, a CSV, an IDX file, an .npz data file, a network file, a config file, a --limit value, a
trace or gradcheck command line run in-process) with bytes flipped, inserted, deleted or cut, or
pieces of another spliced in. A target must return or raise DeltapropError; anything else is a failure, printed
and saved under fuzz/crashes/ so that it can be replayed. Prints the cases run per target and exits 1 on any
failure. Targets run in turn. A case slower than ``--case-seconds`` (default 5) is a failure too: every
reader and command checks its budget before the work, so none may hang.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import targets  # noqa: E402

TOKENS = [b",", b"\n", b"\r\n", b'"', b"nan", b"inf", b"-", b"1e400", b"0", b"1", b"\x00", b"\xff", b"[", b"{",
          b"=", b"[[layer]]", b"size = ", b"activation = ", b"weights = ", b"9" * 12,
          b"a." * 40, b"[" * 70, b"{a=" * 70, b"size = 100000", b"size = 1000000", b"=1,", b"memory=", b"2GiB",
          b"--limit", b"trace_values=", b"1e99"]


def mutate(rng: random.Random, data: bytes, corpus: list[bytes]) -> bytes:
    b = bytearray(data)
    for _ in range(rng.choice((1, 1, 2, 4, 8))):
        op = rng.randrange(6)
        i = rng.randrange(len(b) + 1)
        if op == 0 and b:  # flip a byte
            b[min(i, len(b) - 1)] = rng.randrange(256)
        elif op == 1:  # insert a token
            b[i:i] = rng.choice(TOKENS)
        elif op == 2:  # delete a run
            del b[i:i + rng.randrange(1, 16)]
        elif op == 3:  # cut short
            del b[i:]
        elif op == 4:  # splice in a piece of another seed
            other = rng.choice(corpus)
            j = rng.randrange(len(other) + 1)
            b[i:i] = other[j:j + rng.randrange(1, 64)]
        else:  # random bytes
            b[i:i] = rng.randbytes(rng.randrange(1, 16))
    return bytes(b)


def seeds() -> dict[str, tuple[callable, list[bytes]]]:
    root = Path(__file__).parent.parent
    netfiles = [p.read_bytes() for p in sorted((root / "examples").glob("**/*.toml"))] or [
        b'inputs = 2\n[[layer]]\nsize = 2\nactivation = "tanh"\n[[layer]]\nsize = 1\nactivation = "identity"\n']
    return {
        "model": (targets.model_bytes, [targets.sample_model_bytes(t) for t in ("classification", "regression")]),
        "checkpoint": (targets.checkpoint_bytes, [targets.sample_checkpoint_bytes()]),
        "csv": (lambda b: targets.csv_text(b.decode("utf-8", "replace")), [targets.SAMPLE_CSV.encode()]),
        "idx": (targets.idx_bytes, [targets.sample_idx_bytes(), targets.sample_idx_bytes((4,), 0x0D)]),
        "netfile": (lambda b: targets.netfile_text(b.decode("utf-8", "replace")), netfiles),
        "formula": (lambda b: targets.formula_text(b.decode("utf-8", "replace")),
                    [f.encode() for f in targets.SAMPLE_FORMULAS]),
        "trace": (lambda b: targets.trace_text(b.decode("utf-8", "replace")), netfiles),
        "config": (lambda b: targets.config_text(b.decode("utf-8", "replace")), CONFIGS),
        "limits": (lambda b: targets.limits_text(b.decode("utf-8", "replace")), LIMITS),
        "npz": (targets.npz_data_bytes, targets.SAMPLE_NPZ),
        "cli": (cli_case, [b" ".join(a) for a in CLI_ARGS]),
    }


CONFIGS = [b'data = "xor"\nhidden = [8, 8]\nepochs = 3\nlr = 0.01\n', b'batch-size = 16\noptimizer = "adam"\nseed = 1\n']
LIMITS = [b"memory=2GiB", b"trace_values=1000,toml_depth=10", b"idx_elements=100,memory=1e9"]
_EX = str(Path(__file__).parent.parent / "examples")
CLI_ARGS = [[b"trace", f"{_EX}/exam_004.toml".encode(), b"--json"],
            [b"trace", f"{_EX}/layered_2-3-2.toml".encode(), b"--lr", b"0.1"],
            [b"--limit", b"trace_values=10", b"trace", f"{_EX}/chain_001.toml".encode()],
            [b"gradcheck", f"{_EX}/skip_graph.toml".encode(), b"--samples", b"2"],
            [b"trace", f"{_EX}/layered_003.toml".encode(), b"--x", b"0.5,0.1", b"--t", b"1"]]


def cli_case(data: bytes) -> None:
    """Mutated command lines (split on spaces) for trace and gradcheck, in-process."""
    args = data.decode("utf-8", "replace").replace("\x00", "").split(" ")
    if args and args[0] in ("train", "derive", "evaluate", "predict"):  # writes files, or is SymPy's: elsewhere
        return
    targets.cli_args([a for a in args if a])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=300_000, help="cases in all, shared among the targets")
    ap.add_argument("--seconds", type=float, default=3600, help="stop after this long even if cases remain")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", help="comma-separated targets (default: all)")
    ap.add_argument("--case-seconds", type=float, default=5.0, help="a case slower than this is a failure")
    args = ap.parse_args()
    table = seeds()
    names = args.only.split(",") if args.only else list(table)
    rng = random.Random(args.seed)
    corpus = [s for _, seeds_ in table.values() for s in seeds_]
    counts = {n: 0 for n in names}
    failures = 0
    crashes = Path(__file__).parent / "crashes"
    t0 = time.perf_counter()
    for case in range(args.cases):
        if time.perf_counter() - t0 > args.seconds:
            break
        name = names[case % len(names)]
        fn, seeds_ = table[name]
        data = mutate(rng, rng.choice(seeds_), corpus)
        counts[name] += 1
        t_case = time.perf_counter()
        try:
            fn(data)
            slow = time.perf_counter() - t_case
            if slow > args.case_seconds:
                raise AssertionError(f"case took {slow:.1f} s (budgets should refuse before {args.case_seconds:g} s)")
        except Exception:  # DeltapropError is caught inside the targets: anything reaching here is a bug
            failures += 1
            crashes.mkdir(exist_ok=True)
            (crashes / f"{name}-{args.seed}-{case}.bin").write_bytes(data)
            print(f"FAIL {name} case {case}:\n{traceback.format_exc()}", file=sys.stderr)
        if (case + 1) % 20000 == 0:
            print(f"{case + 1} cases, {failures} failures, {time.perf_counter() - t0:.0f} s", flush=True)
    seconds = time.perf_counter() - t0
    print(f"seed {args.seed}: {sum(counts.values())} cases in {seconds:.0f} s, {failures} failures; " +
          ", ".join(f"{n} {c}" for n, c in counts.items()))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
