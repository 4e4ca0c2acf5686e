"""Toy tasks for emergence experiments: data sources the runner trains on, and per-example evaluations.

Two tasks, each a stream of independent examples, one token per character (each token is one ASCII byte, so
bits/byte = nats/token / ln 2):

* ``addition``: ``"123+456=0579\\n"`` — two zero-padded ``digits``-digit operands and their zero-padded
  ``digits + 1``-digit sum. Vocabulary ``0123456789+=\\n`` (13 tokens).
* ``copy``: ``"cafbe|cafbe\\n"`` — a random string of ``length`` symbols from ``symbols`` letters, then the
  same string. Vocabulary: the letters, ``|`` and ``\\n``.

The operands / strings are uniform, so the **entropy rate is known exactly** (only they carry information;
``=``, ``|``, the answer and the newline are determined): addition ``2 k ln 10 / (3 k + 4)`` nats/token,
copy ``L ln s / (2 L + 2)``. Train and validation use *disjoint problems* (a seeded hash of the problem picks
the ~10 % that are validation-only), so validation measures generalisation, not memorisation.

Use them in a spec as ``data = { name = "addition", digits = 3 }`` (see :data:`corpus.TASK_SOURCES`).
:func:`evaluate_task` scores a trained model on held-out problems, per example: ``n_tokens`` (answer tokens),
``tokens_correct`` (teacher-forced greedy: the argmax at each answer position is the right token),
``exact`` (all of them — the same as greedy decoding producing the whole answer), ``logprob`` (nats, sum of
the log-probabilities of the correct answer tokens) and ``p_correct`` = exp(logprob). :func:`train_task_ladder`
trains a ladder through the runner and returns the per-example table that
:func:`scalinglab.emergence.analyze_emergence` reads (columns ``model``, ``params``, ``tokens``, ``flops``,
``example_id``, ``n_tokens``, ``tokens_correct``, ``exact``, ``logprob``, ``p_correct``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import InputError
from .corpus import Source

__all__ = ["ToyTask", "get_task", "make_task_source", "task_vocab_size", "evaluate_task", "train_task_ladder",
           "toy_emergence_ladder", "TOY_EMERGENCE", "TASKS"]

TASKS = ("addition", "copy", "lookup")
_VAL_MOD = 10  # one problem in ten is validation-only


@dataclass(frozen=True)
class ToyTask:
    """One toy task: how to sample examples, which tokens are the answer, and its exact entropy rate.

    Build it with :func:`get_task`. ``alphabet[i]`` is the text of token id ``i`` (one ASCII character for
    addition and copy; a short string for lookup). ``size``: digits per operand (addition), string length
    (copy) or key/value pairs per example (lookup); ``symbols``: letters (copy) or keys (lookup);
    ``values``: value tokens (lookup); ``zipf``: exponent of the key frequencies (lookup).
    """

    name: str
    alphabet: str | tuple[str, ...]  # token id i is alphabet[i]
    size: int                     # addition: digits per operand; copy: string length; lookup: pairs
    symbols: int = 0              # copy: letters used; lookup: keys
    seed: int = 0
    values: int = 0               # lookup: value tokens
    zipf: float = 0.0             # lookup: key i has probability ∝ (i + 1) ** -zipf

    @property
    def vocab_size(self) -> int:
        """Number of token ids."""
        return len(self.alphabet)

    @property
    def example_len(self) -> int:
        """Tokens per example, the newline included."""
        k = self.size
        if self.name == "addition":
            return 3 * k + 4
        return 2 * k + 2 if self.name == "copy" else 2 * k + 1

    @property
    def answer_slice(self) -> slice:
        """Positions of the scored answer tokens within one example (the newline is not scored); for lookup,
        whose answers are interleaved with the keys, the slice steps over them (see :attr:`answer_positions`)."""
        k = self.size
        if self.name == "addition":
            return slice(2 * k + 2, 3 * k + 3)
        return slice(k + 1, 2 * k + 1) if self.name == "copy" else slice(1, 2 * k, 2)

    @property
    def answer_positions(self) -> np.ndarray:
        """Positions of the scored answer tokens within one example, ``(n_answer_tokens,)`` int array."""
        return np.arange(self.example_len)[self.answer_slice]

    @property
    def key_probs(self) -> np.ndarray:
        """lookup: probability of each key, ``(symbols,)``, a truncated Zipf law."""
        p = np.arange(1, self.symbols + 1, dtype=float) ** -self.zipf
        return p / p.sum()

    @property
    def table(self) -> np.ndarray:
        """lookup: the value (0-based, among ``values``) of each key, ``(symbols,)``; fixed by ``seed``."""
        return np.random.default_rng([self.seed, 7]).integers(0, self.values, size=self.symbols)

    @property
    def entropy_rate_nats(self) -> float:
        """Exact entropy rate of the example stream, nats/token (only operands / strings / keys are random)."""
        k = self.size
        if self.name == "addition":
            return 2 * k * math.log(10) / self.example_len
        if self.name == "lookup":
            p = self.key_probs
            return k * float(-(p * np.log(p)).sum()) / self.example_len
        return k * math.log(self.symbols) / self.example_len

    # ------------------------------------------------------------------ examples
    def _problems(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``(n, 2)`` operands (addition), ``(n, size)`` letter ids (copy) or key ids (lookup)."""
        if self.name == "addition":
            return rng.integers(0, 10 ** self.size, size=(n, 2))
        if self.name == "lookup":
            return rng.choice(self.symbols, size=(n, self.size), p=self.key_probs)
        return rng.integers(0, self.symbols, size=(n, self.size))

    def is_val(self, problems: np.ndarray) -> np.ndarray:
        """Whether each problem is validation-only (a seeded hash of the problem)."""
        p = problems.astype(np.uint64)
        h = np.full(len(p), np.uint64(1469598103934665603 ^ (self.seed * 7919)), dtype=np.uint64)
        with np.errstate(over="ignore"):
            for j in range(p.shape[1]):
                h = (h ^ p[:, j]) * np.uint64(1099511628211)
                h ^= h >> np.uint64(29)
        return (h % np.uint64(_VAL_MOD)) == 0

    def render(self, problems: np.ndarray) -> np.ndarray:
        """Token ids ``(n, example_len)`` of the examples (``problems`` as from :meth:`sample`)."""
        n, k = len(problems), self.size
        if self.name == "addition":
            pw = 10 ** np.arange(k - 1, -1, -1)
            a, b = problems[:, 0], problems[:, 1]
            s = a + b
            pw1 = 10 ** np.arange(k, -1, -1)
            return np.concatenate([(a[:, None] // pw) % 10, np.full((n, 1), 10), (b[:, None] // pw) % 10,
                                   np.full((n, 1), 11), (s[:, None] // pw1) % 10, np.full((n, 1), 12)],
                                  axis=1).astype(np.int64)
        if self.name == "lookup":
            out = np.full((n, self.example_len), self.symbols + self.values, dtype=np.int64)
            out[:, 0:2 * k:2] = problems
            out[:, 1:2 * k:2] = self.symbols + self.table[problems]
            return out
        sep, nl = self.symbols, self.symbols + 1
        return np.concatenate([problems, np.full((n, 1), sep), problems, np.full((n, 1), nl)], axis=1).astype(np.int64)

    def sample(self, n: int, *, split: str, seed: int) -> np.ndarray:
        """``n`` problems of ``split`` ("train" or "val"), deterministic in ``(task seed, seed, split)``.

        Returns ``(n, 2)`` operands (addition) or ``(n, size)`` symbol / key ids (copy, lookup).
        """
        rng = np.random.default_rng([self.seed, seed, 0 if split == "train" else 1])
        out, have = [], 0
        while have < n:
            p = self._problems(rng, max(64, 2 * (n - have) if split == "train" else _VAL_MOD * 2 * (n - have)))
            keep = p[self.is_val(p) == (split == "val")]
            out.append(keep)
            have += len(keep)
        return np.concatenate(out)[:n]

    def to_text(self, tokens: np.ndarray) -> str:
        """The text of token ids (any shape, read in C order)."""
        return "".join(self.alphabet[int(t)] for t in np.ravel(tokens))

    def source(self, *, train_tokens: int = 1_000_000, val_tokens: int = 65_536, data_seed: int = 0) -> Source:
        """The runner's data :class:`~scalinglab.runner.corpus.Source`: about ``train_tokens`` / ``val_tokens``
        tokens of whole train / validation examples (disjoint problems), one stream each."""
        n_tr = max(2, -(-int(train_tokens) // self.example_len))
        n_va = max(2, -(-int(val_tokens) // self.example_len))
        train = self.render(self.sample(n_tr, split="train", seed=data_seed)).reshape(1, -1)
        val = self.render(self.sample(n_va, split="val", seed=data_seed)).reshape(1, -1)
        desc = (f"toy task {self.name!r} (size {self.size}), e.g. {self.to_text(val[0, :self.example_len])!r}; "
                f"entropy rate {self.entropy_rate_nats:.4f} nats/token")
        return Source(name=self.name, vocab_size=self.vocab_size, train=train, val=val, bytes_per_token=1.0,
                      entropy_rate_nats=self.entropy_rate_nats, description=desc,
                      info={"task": self, "data_seed": data_seed})


def get_task(name: str, options: Mapping[str, Any] | None = None) -> ToyTask:
    """The task ``name`` with ``options`` (addition: ``digits``; copy: ``length``, ``symbols``; lookup:
    ``pairs``, ``keys``, ``values``, ``zipf``; all: ``seed``).

    Raises :class:`~scalinglab.InputError` for an unknown task, an unknown option or an out-of-range value.
    """
    o = dict(options or {})
    o.pop("name", None)
    for k in ("train_tokens", "val_tokens", "data_seed"):
        o.pop(k, None)
    seed = int(o.pop("seed", 0))
    if name == "addition":
        k = int(o.pop("digits", 3))
        if not 1 <= k <= 9:
            raise InputError(f"addition digits must be in [1, 9], got {k}")
        task = ToyTask("addition", "0123456789+=\n", k, seed=seed)
    elif name == "copy":
        k, s = int(o.pop("length", 5)), int(o.pop("symbols", 8))
        if not 1 <= k <= 64 or not 2 <= s <= 26:
            raise InputError(f"copy needs 1 <= length <= 64 and 2 <= symbols <= 26, got {k}, {s}")
        task = ToyTask("copy", "abcdefghijklmnopqrstuvwxyz"[:s] + "|\n", k, symbols=s, seed=seed)
    elif name == "lookup":
        k, nk, nv = int(o.pop("pairs", 8)), int(o.pop("keys", 512)), int(o.pop("values", 16))
        z = float(o.pop("zipf", 1.0))
        if not (1 <= k <= 64 and 2 <= nk <= 100_000 and 2 <= nv <= 26 and 0 <= z <= 4):
            raise InputError(f"lookup needs 1 <= pairs <= 64, 2 <= keys <= 100000, 2 <= values <= 26 and "
                             f"0 <= zipf <= 4, got {k}, {nk}, {nv}, {z}")
        alphabet = tuple(f"k{i}:" for i in range(nk)) + tuple(f"{c} " for c in "abcdefghijklmnopqrstuvwxyz"[:nv])
        task = ToyTask("lookup", alphabet + ("\n",), k, symbols=nk, seed=seed, values=nv, zipf=z)
    else:
        raise InputError(f"unknown toy task {name!r}; expected one of {', '.join(TASKS)}")
    if o:
        raise InputError(f"unknown option(s) for toy task {name!r}: {', '.join(sorted(o))}")
    return task


def task_vocab_size(name: str, options: Mapping[str, Any]) -> int:
    """Vocabulary size (token ids) of a task data spec (used by the sweep spec without building the data).

    Raises :class:`~scalinglab.InputError` as :func:`get_task`.
    """
    return get_task(name, options).vocab_size


def make_task_source(name: str, options: Mapping[str, Any]) -> Source:
    """The :class:`~scalinglab.runner.corpus.Source` for a task spec (``corpus.make_source`` calls this);
    ``train_tokens``, ``val_tokens`` (tokens) and ``data_seed`` options size and seed the streams.

    Raises :class:`~scalinglab.InputError` as :func:`get_task`.
    """
    o = dict(options)
    kw = {k: int(o[k]) for k in ("train_tokens", "val_tokens", "data_seed") if k in o}
    return get_task(name, o).source(**kw)


# ------------------------------------------------------------------------------------------ evaluation
def evaluate_task(model, task: ToyTask, *, n_examples: int = 256, seed: int = 0, device: str = "cpu"):
    """Per-example scores of ``model`` (a runner GPT) on ``n_examples`` held-out problems (module docstring).

    Each example follows one other held-out example as context (as in the training stream). Returns a dict
    of arrays: ``example_id``, ``n_tokens``, ``tokens_correct``, ``exact``, ``logprob`` (nats), ``p_correct``.
    Each has shape ``(n_examples,)``; ``logprob`` is the summed log-probability of the answer tokens and
    ``p_correct = exp(logprob)``. The model's training/eval mode is restored afterwards.

    Raises
    ------
    InputError
        If two of the task's examples do not fit in the model's context (``model.arch.seq_len`` tokens).
    """
    import torch

    probs = task.sample(n_examples + 1, split="val", seed=10_000 + seed)
    ex = task.render(probs)
    seqs = np.concatenate([ex[:-1], ex[1:]], axis=1)  # previous example, then the scored one
    if seqs.shape[1] - 1 > model.arch.seq_len:
        raise InputError(f"two {task.name} examples need seq_len >= {seqs.shape[1] - 1}, the model has "
                         f"{model.arch.seq_len}")
    L = task.example_len
    pos = L + task.answer_positions                  # answer positions in the sequence
    x = torch.from_numpy(seqs[:, :-1]).to(device)
    y = torch.from_numpy(seqs[:, pos]).to(device)
    was = model.training
    model.eval()  # safe: torch Module.eval() (evaluation mode), not Python's eval
    with torch.no_grad():
        logits, _ = model(x)
        logp = torch.log_softmax(logits.float()[:, pos - 1, :], dim=-1)
        correct = logp.argmax(-1) == y
        lp = logp.gather(-1, y[..., None])[..., 0].sum(-1)
    model.train(was)
    tc = correct.sum(-1).cpu().numpy().astype(np.int64)
    n = len(pos)
    lp = lp.cpu().numpy().astype(float)
    return {"example_id": np.arange(n_examples), "n_tokens": np.full(n_examples, n), "tokens_correct": tc,
            "exact": (tc == n).astype(np.int64), "logprob": lp, "p_correct": np.exp(lp)}


def _load_model(cfg, workdir: Path, file: str = "last.pt"):
    from .model import GPT
    from .train import load_checkpoint

    state = load_checkpoint(Path(workdir) / cfg.run_id / file, cfg.run_id)
    if state is None:
        raise InputError(f"no saved weights {file} for run {cfg.name or cfg.run_id} in {workdir}: it was trained "
                         "without keeping them; use a fresh store (or another workdir) to retrain it")
    model = GPT(cfg.architecture())
    model.load_state_dict(state["model"])
    return model


def _checkpoint_steps(total: int, checkpoints: Sequence[float] | None) -> list[int]:
    """Optimizer steps (ascending, ending at ``total``) at which a run of ``total`` steps is evaluated."""
    if checkpoints is None:
        return [total]
    fr = [float(f) for f in checkpoints]
    if not fr or any(not 0 < f <= 1 for f in fr):
        raise InputError(f"checkpoints must be fractions of each run in (0, 1], got {list(checkpoints)}")
    return sorted({max(1, round(f * total)) for f in fr} | {total})


def _train_with_checkpoints(cfg, st, workdir: Path, steps: list[int]) -> None:
    """Train ``cfg`` to completion, stopping at each of ``steps`` to keep a copy of the weights there
    (``step-<k>.pt`` beside the runner's ``last.pt``); copies that exist already are not re-made."""
    import shutil

    from .train import load_checkpoint, train_run

    run_dir = Path(workdir) / cfg.run_id
    for k in steps[:-1]:
        if (run_dir / f"step-{k}.pt").exists():
            continue
        state = load_checkpoint(run_dir / "last.pt", cfg.run_id)
        at = int(state["step"]) if state is not None else 0
        if st.status(cfg.run_id) == "done" or at > k:
            raise InputError(f"run {cfg.name} was already trained past step {k} without keeping its weights "
                             f"there: use a fresh store and workdir to evaluate checkpoints")
        if at < k:
            res = train_run(cfg, store=st, workdir=workdir, keep_checkpoints=True, progress=None,
                            stop_after_steps=k - at)
            if res.status != "interrupted":
                raise InputError(f"run {cfg.name} did not stop at step {k} ({res.status}: {res.error})")
        shutil.copyfile(run_dir / "last.pt", run_dir / f"step-{k}.pt")
    res = train_run(cfg, store=st, workdir=workdir, keep_checkpoints=True, progress=None)
    if res.status not in ("done", "skipped"):
        raise InputError(f"run {cfg.name} did not finish ({res.status}: {res.error})")


def train_task_ladder(sizes: Sequence[tuple[int, int]], *, task: Mapping[str, Any], tokens: int | Sequence[int],
                      store: Any, workdir: str | Path, seq_len: int | None = None, n_examples: int = 256,
                      head_dim: int = 8, name: str = "task-ladder", defaults: Mapping[str, Any] | None = None,
                      checkpoints: Sequence[float] | None = None, eval_seed: int = 0, console: Any = None,
                      show_progress: bool = False):
    """Train a ladder of ``(n_layer, d_model)`` GPTs on a toy task through the runner (store, content-hash ids,
    resumable; final weights kept in ``workdir``) and evaluate each on the same held-out problems.

    Args:
        sizes: ``(n_layer, d_model)`` per model (``n_heads = d_model // head_dim``).
        task: the data spec, e.g. ``{"name": "lookup", "pairs": 8}`` (see :func:`get_task`).
        tokens: training tokens per model (one number for all, or one per size).
        store: a :class:`~scalinglab.store.Store` or the path of its SQLite file.
        workdir: folder for the runner's checkpoints (the final weights are kept there).
        seq_len: tokens per training window (default two examples).
        n_examples: held-out problems each model is scored on (the same ones for every model).
        defaults: extra run fields for every run (``lr``, ``schedule``, ``seed``, ``arch``, ...).
        checkpoints: fractions of each run's optimizer steps (in (0, 1]) at which its weights are also
            evaluated (the run is stopped there through the runner's ``stop_after_steps`` and resumed,
            step-for-step the same as an uninterrupted run); each checkpoint is one more row group, so the
            ladder spans sizes *and* training time. ``None``: only the final weights.
        eval_seed: which held-out problems are drawn.

    Returns:
        A pandas DataFrame, one row per (model or checkpoint) × example, that
        :func:`scalinglab.emergence.analyze_emergence` reads: ``model`` (run name, plus ``@<tokens>`` for
        checkpoints), ``params`` (N, total parameters), ``tokens`` (D, training tokens seen so far),
        ``flops`` (C, training FLOPs so far under the run's FLOP convention), ``step``, ``run_id``, ``loss``
        (final validation loss of the run, nats/token), ``example_id``, ``n_tokens``, ``tokens_correct``,
        ``exact``, ``logprob`` (nats) and ``p_correct``.

    Raises:
        InputError: bad task options, ``tokens`` not matching ``sizes``, bad ``checkpoints``, a run that did
            not finish, or checkpoints requested for a run that a reused store trained without them.
    """
    import pandas as pd

    from ..store import Store
    from .spec import expand_spec

    tspec = {"name": task["name"], **{k: v for k, v in task.items() if k != "name"}}
    t = get_task(tspec["name"], tspec)
    seq_len = int(seq_len or 2 * t.example_len)
    toks = [int(tokens)] * len(sizes) if np.ndim(tokens) == 0 else [int(v) for v in tokens]
    if len(toks) != len(sizes):
        raise InputError(f"tokens: one number or one per size ({len(sizes)}), got {len(toks)}")
    spec = {"sweep": {"name": name, "kind": "list"},
            "defaults": {"data": tspec, "seq_len": seq_len, "schedule": "cosine", "eval_every": 10 ** 9,
                         "eval_windows": 32, **dict(defaults or {})},
            "runs": [{"arch": {"n_layer": L, "d_model": d, "n_heads": max(1, d // head_dim)}, "tokens": D}
                     for (L, d), D in zip(sizes, toks, strict=True)]}
    sweep = expand_spec(spec)
    st = store if isinstance(store, Store) else Store(store)
    frames = []
    try:
        for cfg in sweep.runs:
            steps = _checkpoint_steps(cfg.steps_for(cfg.tokens), checkpoints)
            _train_with_checkpoints(cfg, st, Path(workdir), steps)
            run = st.get_run(cfg.run_id)
            label = cfg.name.rsplit("/", 1)[-1]
            for k in steps:
                last = k == steps[-1]
                model = _load_model(cfg, Path(workdir), "last.pt" if last else f"step-{k}.pt")
                scores = evaluate_task(model, t, n_examples=n_examples, seed=eval_seed)
                D = int(k * cfg.batch_tokens)
                frames.append(pd.DataFrame({
                    "model": label if checkpoints is None else f"{label}@{D}", "params": cfg.n_params(),
                    "tokens": D, "flops": cfg.flops_per_token() * D, "step": k, "loss": run["final_loss_nats"],
                    "run_id": cfg.run_id, **scores}))
                if console is not None:
                    f = frames[-1]
                    console.print(f"  {f['model'].iloc[0]}: N={cfg.n_params():,} D={D:,} C={f['flops'].iloc[0]:.3g} "
                                  f"token acc {f['tokens_correct'].sum() / f['n_tokens'].sum():.3f}, "
                                  f"exact {f['exact'].mean():.3f}")
    finally:
        if st is not store:
            st.close()
    return pd.concat(frames, ignore_index=True)


#: The measured toy-emergence recipe (:func:`toy_emergence_ladder`): a 1-layer, d_model 32 GPT (146,112 parameters)
#: on the lookup task — 16 key→value pairs per example, 4,096 Zipf(1) keys, 16 values — trained for 400k tokens
#: at a constant learning rate 3e-3 (1 warmup step, no weight decay) in batches of one 66-token window, and
#: evaluated at 10 checkpoints log-spaced from 2 % of the run to its end (8k → 400k tokens, 1.7 decades; the
#: range was fixed before measuring). Small batches and many keys make each key's value learned after a
#: number of tokens ∝ 1 / its frequency, so per-token accuracy (the Zipf mass of the known keys) rises
#: gradually; with batches of 8 windows, 1,024 keys, lr 1e-2 and weight decay 0.1 all keys were learned
#: within ~0.3 decades of compute and per-token accuracy looked sharp too. Measured for seeds 0-2 on a CPU.
TOY_EMERGENCE: dict[str, Any] = {
    "task": {"name": "lookup", "pairs": 16, "keys": 4096, "values": 16, "zipf": 1.0},
    "sizes": [(1, 32)],
    "tokens": 400_000,
    # np.geomspace(0.02, 1, 10), rounded to 4 decimals
    "checkpoints": (0.02, 0.0309, 0.0477, 0.0737, 0.1138, 0.1758, 0.2714, 0.4192, 0.6475, 1.0),
    "defaults": {"schedule": "constant", "batch_size": 1, "lr": 3e-3, "warmup_steps": 1, "weight_decay": 0.0},
    "n_examples": 1000,
}


def toy_emergence_ladder(*, store: Any, workdir: str | Path, seed: int = 0, n_examples: int | None = None,
                         console: Any = None):
    """Train the :data:`TOY_EMERGENCE` ladder (~40-60 CPU-seconds on one core) and return its per-example table.

    A small GPT (146,112 parameters) learns a key→value lookup; it is evaluated on the same ``n_examples``
    held-out examples (16 answer tokens each) at 10 checkpoints log-spaced between ~8k and 400k training
    tokens, so training compute spans 1.7 decades. Per-token accuracy (~0.2 → ~0.94) and the log-probability
    of the answer improve steadily — frequent keys are learned first, rare ones later; exact match (all 16
    tokens right, ≈ per-token^16) stays ~0 and then shoots up — the Schaeffer et al. (2023) "mirage", with
    real training. For seeds 0-2, :func:`~scalinglab.emergence.analyze_emergence` flags exact match
    "sharp" and per-token accuracy and log-probability "smooth".

    Args:
        store: a :class:`~scalinglab.store.Store` or the path of its SQLite file (use a fresh one).
        workdir: folder for the runner's checkpoints.
        seed: training seed (model init and batch order); the held-out examples are the same for every seed.
        n_examples: held-out examples per checkpoint (default 1,000).

    Returns:
        The :func:`train_task_ladder` table (one row per checkpoint × example, i.e. 10 × ``n_examples`` rows;
        ``params`` in parameters,
        ``tokens`` in training tokens, ``flops`` in training FLOPs under the 6N convention), ready for
        ``scalinglab.emergence.analyze_emergence(table, scale="flops")``.

    Raises:
        InputError: as :func:`train_task_ladder`.
    """
    p = TOY_EMERGENCE
    return train_task_ladder(p["sizes"], task=p["task"], tokens=p["tokens"], store=store, workdir=workdir,
                             n_examples=int(n_examples or p["n_examples"]), name=f"toy-emergence-s{seed}",
                             defaults={**p["defaults"], "seed": int(seed)}, checkpoints=p["checkpoints"],
                             console=console)
