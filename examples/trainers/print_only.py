"""A trainer that only prints lines: the ``metrics_regex`` route, for scripts you cannot edit.

It stands in for any trainer whose progress is a line of text per eval. To keep it instant and its answer
known, it does not train: the loss it prints follows a Chinchilla-form law with fixed constants,
``L(N, D) = E + A / N^alpha + B / D^beta`` (nats/token), evaluated at the tokens seen so far. A sweep fits
those constants back from its output::

    [trainer]
    command = ["python", "print_only.py", "--params={params}", "--tokens={tokens}", "--steps={steps}"]
    metrics_regex = 'step (?P<step>\\d+) tokens (?P<tokens>\\d+) train_loss (?P<loss>[-+0-9.eE]+) val_loss (?P<val_loss>[-+0-9.eE]+)'

Options ``--fail_at`` (exit 3 at that step, after printing an error to stderr), ``--hang_at`` (stop
printing and sleep forever at that step) and ``--diverge_at`` (print ``nan`` losses from that step on, then
exit 0, as a run whose lr is too high) show how the runner records, retries and kills broken trainers.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

E, A, B, ALPHA, BETA = 1.69, 406.4, 410.7, 0.34, 0.28


def law(params: float, tokens: float) -> float:
    """The loss (nats/token) this fake trainer reports for ``params`` parameters after ``tokens`` tokens."""
    return E + A / params**ALPHA + B / tokens**BETA


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", type=float, required=True)
    ap.add_argument("--tokens", type=float, required=True)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--every", type=int, default=5)
    ap.add_argument("--fail_at", type=int, default=-1)
    ap.add_argument("--fail_marker", default="", help="fail only while this file does not exist (then create it)")
    ap.add_argument("--hang_at", type=int, default=-1)
    ap.add_argument("--hang_marker", default="", help="hang only while this file does not exist (then create it)")
    ap.add_argument("--diverge_at", type=int, default=-1)
    a = ap.parse_args()
    for step in range(1, a.steps + 1):
        if step == a.fail_at and not (a.fail_marker and os.path.exists(a.fail_marker)):
            if a.fail_marker:
                open(a.fail_marker, "w").close()
            print(f"RuntimeError: CUDA out of memory at step {step} (simulated)", file=sys.stderr, flush=True)
            sys.exit(3)
        if step == a.hang_at and not (a.hang_marker and os.path.exists(a.hang_marker)):
            if a.hang_marker:
                open(a.hang_marker, "w").close()
            time.sleep(10**6)
        tokens = round(a.tokens * step / a.steps)
        if step % a.every == 0 or step == a.steps:
            val = law(a.params, tokens) if not 0 < a.diverge_at <= step else float("nan")
            print(f"step {step} tokens {tokens} train_loss {val * 0.99:.6f} val_loss {val:.6f}", flush=True)


if __name__ == "__main__":
    main()
