"""Training data that ships with scalinglab (nothing is downloaded): natural text and a synthetic source.

* :class:`TextCorpus` — ``public_domain.txt`` (≈435 KB of public-domain English: the US Declaration of
  Independence and Constitution, and Genesis–Exodus of the King James Bible; provenance and licence in
  ``_corpus/PROVENANCE.txt``), tokenised byte by byte (vocabulary 256, one token = one byte, so
  bits/byte = nats/token / ln 2).
* :class:`MarkovSource` — a random sparse Markov chain of order 1 or 2 over a small alphabet with a seeded
  transition matrix. Its **entropy rate is known exactly** (stationary distribution · row entropies), so a
  fitted irreducible loss E can be checked against the truth. Each token is written as one ASCII byte.

Both give a deterministic, seeded train/validation split and deterministic batches: the batch of step
``i`` depends only on ``(seed, i)``, so a resumed run sees exactly the data an uninterrupted run would.
Every loss is reported in nats/token and in bits/byte (:meth:`Source.bits_per_byte`).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from importlib import resources

import numpy as np

from .._errors import InputError

__all__ = ["Source", "TextCorpus", "MarkovSource", "make_source", "CORPUS_SHA256"]

LN2 = math.log(2.0)
#: sha256 of the bundled ``_corpus/public_domain.txt`` (checked on load).
CORPUS_SHA256 = "123bf6d22f8797d5ea02a4d43a30dbca1b3199363e4265ce445c8c2ada26b46e"


@dataclass
class Source:
    """Tokens split into train and validation, with everything needed to report bits/byte.

    ``train``/``val`` are 2-D int arrays ``(n_segments, segment_len)``: a training window never crosses a
    segment boundary (text has one long segment per split; the Markov source many independent chains).
    """

    name: str
    vocab_size: int
    train: np.ndarray
    val: np.ndarray
    #: bytes of the underlying text per token (None when unknown, e.g. pre-tokenized ids: no bits/byte).
    bytes_per_token: float | None = 1.0
    #: exact entropy rate of the source in nats/token (None for natural text).
    entropy_rate_nats: float | None = None
    description: str = ""
    info: dict = field(default_factory=dict)
    #: rows of ``train``/``val`` that belong to the split (None: every row). Lets both splits share one
    #: memory-mapped ``(n_blocks, block)`` view of a token file without copying it.
    train_rows: np.ndarray | None = None
    val_rows: np.ndarray | None = None
    #: True: `val_windows` returns the same evenly spaced, non-overlapping windows whatever the seed, so
    #: every run of a sweep is scored on identical validation tokens (user data sources).
    fixed_val: bool = False

    def bits_per_byte(self, nats_per_token: float) -> float | None:
        """Convert a loss in nats/token into bits/byte of the underlying byte stream (None when the bytes
        per token are unknown)."""
        if self.bytes_per_token is None:
            return None
        return nats_per_token / (LN2 * self.bytes_per_token)

    def split_tokens(self, split: str = "train") -> int:
        """Number of tokens in the ``train`` or ``val`` split."""
        data, rows = (self.train, self.train_rows) if split == "train" else (self.val, self.val_rows)
        return int((data.shape[0] if rows is None else len(rows)) * data.shape[1])

    def min_window_loss(self, seq_len: int) -> float | None:
        """Best achievable mean loss (nats/token) over windows of ``seq_len`` predictions (None if unknown).

        Equals the entropy rate for an order-1 chain; for order 2 the first prediction in a window lacks one
        token of context, which this accounts for exactly.
        """
        fn = self.info.get("window_loss_fn")
        return None if fn is None else float(fn(seq_len))

    # ------------------------------------------------------------------ batches (numpy; torch-free)
    def _windows(self, data: np.ndarray, rng: np.random.Generator, n: int, seq_len: int,
                 allowed: np.ndarray | None = None) -> np.ndarray:
        n_seg, seg_len = data.shape
        if seg_len < seq_len + 1:
            raise InputError(f"source {self.name!r}: segments of {seg_len} tokens are shorter than "
                             f"seq_len + 1 = {seq_len + 1}")
        rows = rng.integers(0, n_seg if allowed is None else len(allowed), size=n)
        if allowed is not None:
            rows = allowed[rows]
        cols = rng.integers(0, seg_len - seq_len, size=n)
        out = data[rows[:, None], cols[:, None] + np.arange(seq_len + 1)]
        return out if out.dtype == np.int64 else out.astype(np.int64)

    def train_batch(self, step: int, batch_size: int, seq_len: int, seed: int) -> np.ndarray:
        """``(batch_size, seq_len + 1)`` token windows for training step ``step`` (a pure function)."""
        return self._windows(self.train, np.random.default_rng([seed, step, 1]), batch_size, seq_len,
                             self.train_rows)

    def val_windows(self, n: int, seq_len: int, seed: int = 0) -> np.ndarray:
        """A fixed set of ``n`` validation windows (the same for every run with this seed; with
        ``fixed_val`` the same for every seed too: evenly spaced, non-overlapping windows of the split,
        fewer than ``n`` when the split holds fewer).

        Raises
        ------
        InputError
            If a validation segment is shorter than ``seq_len + 1`` tokens.
        """
        if not self.fixed_val:
            return self._windows(self.val, np.random.default_rng([seed, 2]), n, seq_len, self.val_rows)
        rows = np.arange(self.val.shape[0]) if self.val_rows is None else self.val_rows
        seg_len = self.val.shape[1]
        per_row = seg_len // (seq_len + 1)
        if per_row < 1:
            raise InputError(f"source {self.name!r}: validation segments of {seg_len} tokens are shorter than "
                             f"seq_len + 1 = {seq_len + 1}")
        total = len(rows) * per_row
        pick = np.unique(np.linspace(0, total - 1, min(n, total)).round().astype(np.int64))
        r, c = rows[pick // per_row], (pick % per_row) * (seq_len + 1)
        return np.asarray(self.val[r[:, None], c[:, None] + np.arange(seq_len + 1)], dtype=np.int64)


class TextCorpus:
    """The bundled public-domain text, byte-tokenised (vocab 256). ``val_fraction`` of 4 KiB blocks,
    chosen with a seeded permutation, form the validation split."""

    @staticmethod
    def load(*, val_fraction: float = 0.1, seed: int = 0, block: int = 4096) -> Source:
        """The bundled public-domain text as a byte-level `Source` (vocab 256, 1 byte/token): 4096-byte blocks
        split at random (``seed``) into train and a ``val_fraction`` validation part.

        Raises
        ------
        InputError
            If the bundled corpus fails its SHA-256 check.
        """
        raw = resources.files("scalinglab.runner").joinpath("_corpus/public_domain.txt").read_bytes()
        if hashlib.sha256(raw).hexdigest() != CORPUS_SHA256:
            raise InputError("the bundled corpus _corpus/public_domain.txt is corrupt (sha256 mismatch)")
        data = np.frombuffer(raw, dtype=np.uint8)
        n_blocks = len(data) // block
        perm = np.random.default_rng(seed).permutation(n_blocks)
        n_val = max(1, round(val_fraction * n_blocks))
        val_ids, train_ids = np.sort(perm[:n_val]), np.sort(perm[n_val:])
        blocks = data[: n_blocks * block].reshape(n_blocks, block)
        return Source(
            name="text", vocab_size=256, bytes_per_token=1.0,
            train=blocks[train_ids].reshape(1, -1).astype(np.int64),
            val=blocks[val_ids].reshape(1, -1).astype(np.int64),
            description="public-domain English (US founding documents + KJV Genesis-Exodus), bytes",
            info={"bytes": len(raw), "sha256": CORPUS_SHA256, "license": "public domain (see PROVENANCE.txt)"},
        )


def _row_entropy(p: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.where(p > 0, p * np.log(p), 0.0).sum(axis=-1)


class MarkovSource:
    """A seeded random sparse Markov chain over ``alphabet`` symbols with exactly known entropy rate.

    Each context (the previous ``order`` symbols) allows ``support`` next symbols, always including the
    cyclic successor of the last symbol (so the chain is irreducible) and the last symbol itself (so it is
    aperiodic), with Dirichlet(``concentration``) probabilities. Sequences are ``n_chains`` independent
    chains started from the stationary distribution.
    """

    ALPHABET = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,;:!?-+*/=<>()[]{}"

    def __init__(self, alphabet: int = 32, order: int = 2, support: int = 4, concentration: float = 0.5,
                 seed: int = 0):
        if not 2 <= alphabet <= len(self.ALPHABET):
            raise InputError(f"markov alphabet must be in [2, {len(self.ALPHABET)}], got {alphabet}")
        if order not in (1, 2):
            raise InputError(f"markov order must be 1 or 2, got {order}")
        if not 2 <= support <= alphabet:
            raise InputError(f"markov support must be in [2, alphabet={alphabet}], got {support}")
        self.K, self.order, self.support, self.concentration, self.seed = alphabet, order, support, \
            concentration, seed
        rng = np.random.default_rng([seed, 7])
        n_ctx = alphabet ** order
        P = np.zeros((n_ctx, alphabet))
        for c in range(n_ctx):
            last = c % alphabet
            must = {last, (last + 1) % alphabet}
            others = [s for s in rng.permutation(alphabet) if s not in must][: support - len(must)]
            idx = np.array(sorted(must | set(others)))
            P[c, idx] = rng.dirichlet(np.full(len(idx), concentration))
            P[c, idx] = np.maximum(P[c, idx], 1e-4)
            P[c] /= P[c].sum()
        self.P = P  # P[context, next]; context = prev2 * K + prev1 (order 2) or prev1 (order 1)
        self.pi = self._stationary()

    # ------------------------------------------------------------------ exact quantities
    def _ctx_transition(self) -> np.ndarray:
        """Transition matrix between contexts (n_ctx × n_ctx)."""
        K, n = self.K, self.K ** self.order
        T = np.zeros((n, n))
        for c in range(n):
            for s in np.flatnonzero(self.P[c]):
                nxt = s if self.order == 1 else (c % K) * K + s
                T[c, nxt] += self.P[c, s]
        return T

    def _stationary(self) -> np.ndarray:
        T = self._ctx_transition()
        pi = np.full(len(T), 1.0 / len(T))
        for _ in range(100_000):  # power iteration; aperiodic + irreducible ⇒ converges
            new = pi @ T
            if np.abs(new - pi).sum() < 1e-15:
                break
            pi = new
        return new / new.sum()

    @property
    def entropy_rate_nats(self) -> float:
        """H = Σ_context π(context) · H(next | context), in nats/token."""
        return float(self.pi @ _row_entropy(self.P))

    @property
    def entropy_rate_bits(self) -> float:
        """Entropy rate in bits/token = bits/byte (one byte per token)."""
        return self.entropy_rate_nats / LN2

    def window_loss(self, seq_len: int) -> float:
        """Bayes-optimal mean loss (nats/token) over the ``seq_len`` predictions of one window.

        Order 1: every prediction has its full context, so this is the entropy rate. Order 2: the first
        prediction only sees one symbol, costing H(X₁ | X₀) instead of H(X₂ | X₀, X₁).
        """
        h = self.entropy_rate_nats
        if self.order == 1:
            return h
        K = self.K
        joint = (self.pi[:, None] * self.P).reshape(K, K, K)  # p(a, b, c) at stationarity
        p_bc = joint.sum(axis=0)  # p(b, c)
        p_b = p_bc.sum(axis=1, keepdims=True)
        h1 = float(-(p_bc[p_bc > 0] * np.log((p_bc / np.where(p_b > 0, p_b, 1))[p_bc > 0])).sum())
        return (h1 + (seq_len - 1) * h) / seq_len

    # ------------------------------------------------------------------ sampling
    def sample(self, n_chains: int, length: int, seed: int) -> np.ndarray:
        """``(n_chains, length)`` symbols, each row an independent stationary chain (vectorised)."""
        rng = np.random.default_rng([self.seed, seed, 11])
        K = self.K
        cdf = np.cumsum(self.P, axis=1)
        cdf[:, -1] = 1.0
        ctx = rng.choice(len(self.pi), size=n_chains, p=self.pi)
        out = np.empty((n_chains, length), dtype=np.int64)
        if self.order == 1:
            out[:, 0] = ctx
            start = 1
        else:
            out[:, 0], out[:, 1] = ctx // K, ctx % K
            start = 2
        u = rng.random((n_chains, length))
        for t in range(start, length):
            nxt = (u[:, t, None] > cdf[ctx]).sum(axis=1)
            out[:, t] = nxt
            ctx = nxt if self.order == 1 else (ctx % K) * K + nxt
        return out

    def to_bytes(self, tokens: np.ndarray) -> bytes:
        """Render tokens as the ASCII bytes they stand for (one byte per token)."""
        return np.frombuffer(self.ALPHABET[: self.K], dtype=np.uint8)[tokens].tobytes()

    def load(self, *, train_tokens: int = 4_000_000, val_tokens: int = 262_144, chain_len: int = 1024,
             seed: int = 0) -> Source:
        """A `Source` of ``train_tokens`` / ``val_tokens`` tokens (rounded up to whole chains of ``chain_len``)
        sampled from this chain, with its exact entropy rate (nats/token) for the loss floor.
        """
        n_train = max(1, -(-train_tokens // chain_len))
        n_val = max(1, -(-val_tokens // chain_len))
        return Source(
            name="markov", vocab_size=self.K, bytes_per_token=1.0,
            train=self.sample(n_train, chain_len, seed=2 * seed),
            val=self.sample(n_val, chain_len, seed=2 * seed + 1),
            entropy_rate_nats=self.entropy_rate_nats,
            description=(f"random sparse order-{self.order} Markov chain, alphabet {self.K}, support "
                         f"{self.support}, seed {self.seed}; entropy rate {self.entropy_rate_nats:.4f} nats/token"
                         f" = {self.entropy_rate_bits:.4f} bits/byte"),
            info={"window_loss_fn": self.window_loss, "alphabet": self.K, "order": self.order,
                  "support": self.support, "concentration": self.concentration, "seed": self.seed},
        )


_CACHE: dict[tuple, Source] = {}

#: toy-task data sources: name → module with ``make_task_source(name, options)`` and
#: ``task_vocab_size(name, options)`` (imported on first use).
TASK_SOURCES: dict[str, str] = {"addition": "scalinglab.runner.tasks", "copy": "scalinglab.runner.tasks",
                                "lookup": "scalinglab.runner.tasks"}


def make_source(spec: dict, *, cache_dir: str | None = None) -> Source:
    """Build (and cache per process) a source from its config dict, e.g. ``{"name": "markov", "order": 2}``.

    ``{"name": "text"}`` → :class:`TextCorpus`; ``{"name": "markov", "alphabet", "order", "support",
    "concentration", "seed", "train_tokens", "val_tokens"}`` → :class:`MarkovSource`; ``{"path": ...}``
    (``name = "files"``) → the user's own text or token files (:mod:`scalinglab.runner.datasets`, tokenized
    once into a memmap cache under ``cache_dir``).

    Raises
    ------
    InputError
        If the source name is unknown, ``spec`` has options the source does not take, or user data files
        are missing, empty, unreadable or hold token ids past the vocabulary.
    """
    spec = dict(spec)
    name = spec.pop("name", "files" if "path" in spec else "markov")
    key = (name, json.dumps(spec, sort_keys=True, default=str), cache_dir if name == "files" else None)
    if name == "files":  # the files may change between calls: key on their paths, sizes and mtimes too
        from .datasets import files_fingerprint

        key = (*key, files_fingerprint(spec))
    if key in _CACHE:
        return _CACHE[key]
    if name == "files":  # the user's own data (runner/datasets.py)
        from .datasets import load_files_source

        src = load_files_source(spec, cache_dir=cache_dir)
        spec = {}
    elif name == "text":
        src = TextCorpus.load(val_fraction=spec.pop("val_fraction", 0.1), seed=spec.pop("split_seed", 0))
    elif name == "markov":
        load_kw = {k: spec.pop(k) for k in ("train_tokens", "val_tokens", "chain_len") if k in spec}
        src = MarkovSource(**{k: spec.pop(k) for k in ("alphabet", "order", "support", "concentration", "seed")
                              if k in spec}).load(**load_kw)
    elif name in TASK_SOURCES:  # toy tasks (runner/tasks.py), e.g. {"name": "addition", "digits": 3}
        from importlib import import_module

        src = import_module(TASK_SOURCES[name]).make_task_source(name, spec)
        spec = {}
    else:
        raise InputError(f"unknown data source {name!r}; expected 'text', 'markov', a {{ path = ... }} of "
                         f"your own files, or one of "
                         f"{', '.join(sorted(TASK_SOURCES))}")
    if spec:
        raise InputError(f"unknown option(s) for data source {name!r}: {', '.join(sorted(spec))}")
    _CACHE[key] = src
    return src
