"""Your own training data: text files, pre-tokenized token files, Parquet/JSONL text columns (torch-free).

A sweep spec names them in its ``data`` table::

    data = { path = "corpus/**/*.txt" }                              # bytes: vocab 256, bits/byte exact
    data = { path = "corpus/*.txt.gz", tokenizer = "tok.json" }      # a Hugging Face `tokenizers` file
    data = { path = "corpus/*.txt", tokenizer = { bpe = 8192 } }     # a BPE trained on the training split
    data = { path = "data/train.bin", dtype = "uint16", vocab_size = 50304 }   # nanoGPT-style flat ids
    data = { path = "data/train.bin", val_path = "data/val.bin" }    # dtype/vocab_size from a JSON sidecar
    data = { path = "tokens.npy", vocab_size = 32000 }
    data = { path = "docs/*.parquet", column = "text", tokenizer = { bpe = 4096 } }   # also .jsonl

Relative paths are relative to the spec file. Options: ``tokenizer``, ``column`` (default ``"text"``),
``dtype`` and ``vocab_size`` (token files; else read from ``<file>.json`` or ``meta.json`` beside it),
``bytes_per_token`` (token files: enables bits/byte), ``val_path``, ``val_fraction`` (default 0.1),
``block`` (split unit in bytes/characters/tokens; default ``min(4096, total // 20)``), ``split_seed``.

**Split.** The data is cut into blocks of ``block`` units; a seeded permutation (``split_seed``) picks
``val_fraction`` of them as validation. Train and validation are disjoint, and the validation windows are
the same evenly spaced, non-overlapping windows for every run of a sweep (whatever the run's seed). Text is
split *before* tokenizing, so a trained BPE never sees validation text.

**Cache.** Text is tokenized once per (files, tokenizer) into ``uint16``/``uint32`` memmaps under the cache
folder (``$SCALINGLAB_DATA_CACHE``, else ``.scalinglab-cache`` beside the store), keyed by the files' paths,
sizes and modification times; a trained BPE is cached by the sha256 of its training text. Token files are
memory-mapped in place (their id range is checked once and remembered in the cache).

**Units.** Loss in nats/token always; bits/byte = nats/token / (ln 2 × bytes/token) where bytes per token are
known (text: measured on the validation split; token files: only when ``bytes_per_token`` is given).

Every problem raises `InputError` naming the file: no file matches, empty corpus, text that is not UTF-8
(for a tokenizers tokenizer), token ids ≥ the vocabulary, a corpus too small to split.
"""

from __future__ import annotations

import glob
import gzip
import hashlib
import json
import logging
import math
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import InputError
from .corpus import Source

__all__ = ["DATA_KEYS", "normalize_data", "data_vocab_size", "load_files_source", "check_source_fits",
           "prepare_sweep_data", "default_cache_dir", "resolve_files", "files_fingerprint"]

log = logging.getLogger(__name__)

#: keys a ``{ path = ... }`` data table may have.
DATA_KEYS = {"name", "path", "val_path", "tokenizer", "column", "dtype", "vocab_size", "bytes_per_token",
             "val_fraction", "block", "split_seed"}
_TOKEN_SUFFIXES = (".bin", ".npy")
_TABLE_SUFFIXES = (".parquet", ".jsonl", ".ndjson")
_CACHE_VERSION = 1


# ------------------------------------------------------------------------------------------ spec side
def normalize_data(data: Mapping[str, Any], base_dir: str | os.PathLike | None) -> dict:
    """A ``{ path = ... }`` data table with absolute paths (relative ones joined to ``base_dir``, the spec's
    folder) and ``name = "files"``. Tables without ``path`` are returned unchanged.

    Raises
    ------
    InputError
        On an unknown key or a value of the wrong type.
    """
    d = dict(data)
    if "path" not in d:
        return d
    unknown = set(d) - DATA_KEYS
    if unknown:
        raise InputError(f"unknown data option {sorted(unknown)[0]!r}; known: {', '.join(sorted(DATA_KEYS))}")
    if d.setdefault("name", "files") != "files":
        raise InputError(f"a data table with 'path' is your own files (name = 'files'), not {d['name']!r}")
    for k in ("path", "val_path"):
        if k in d:
            if not isinstance(d[k], str) or not d[k]:
                raise InputError(f"data.{k} must be a path or glob string, got {d[k]!r}")
            p = os.path.expanduser(d[k])
            if base_dir is not None and not os.path.isabs(p):
                p = os.path.join(str(base_dir), p)
            d[k] = os.path.normpath(os.path.abspath(p))
    def number(key: str, *, integer: bool, lo: float, hi: float = math.inf) -> None:
        if key not in d:
            return
        v = d[key]
        ok = isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and lo <= v <= hi \
            and (not integer or float(v).is_integer())
        if not ok:
            raise InputError(f"data.{key} must be {'an integer' if integer else 'a number'} in [{lo:g}, {hi:g}], "
                             f"got {v!r}")
        d[key] = int(v) if integer else float(v)

    number("block", integer=True, lo=2)
    number("split_seed", integer=True, lo=0)
    number("vocab_size", integer=True, lo=2, hi=2**32)
    number("bytes_per_token", integer=False, lo=1e-6)
    number("val_fraction", integer=False, lo=1e-9, hi=1 - 1e-9)
    if "column" in d and (not isinstance(d["column"], str) or not d["column"]):
        raise InputError(f"data.column must be a column name, got {d['column']!r}")
    if "dtype" in d:
        try:
            dt = np.dtype(str(d["dtype"]))
        except TypeError:
            dt = None
        if dt is None or dt.kind not in "ui":
            raise InputError(f"data.dtype must be an integer dtype such as 'uint16' or 'uint32', got {d['dtype']!r}")
        d["dtype"] = dt.name
    tok = d.get("tokenizer", "bytes")
    if isinstance(tok, str) and tok != "bytes":
        p = os.path.expanduser(tok)
        if base_dir is not None and not os.path.isabs(p):
            p = os.path.join(str(base_dir), p)
        d["tokenizer"] = os.path.normpath(os.path.abspath(p))
    elif isinstance(tok, Mapping):
        if set(tok) != {"bpe"} or isinstance(tok["bpe"], bool) or not isinstance(tok["bpe"], int) \
                or not 257 <= tok["bpe"] <= 1 << 20:
            raise InputError(f"data.tokenizer must be 'bytes', a tokenizer.json path or {{ bpe = N }} with "
                             f"257 ≤ N ≤ 1048576, got {tok!r}")
        d["tokenizer"] = {"bpe": int(tok["bpe"])}
    elif not isinstance(tok, str):
        raise InputError(f"data.tokenizer must be 'bytes', a tokenizer.json path or {{ bpe = N }}, got {tok!r}")
    return d


def resolve_files(pattern: str) -> list[Path]:
    """The files a path or glob (``**`` recursive) names, sorted.

    Raises
    ------
    InputError
        If nothing matches (the message names the pattern).
    """
    files = sorted(Path(p) for p in glob.glob(pattern, recursive=True) if os.path.isfile(p))
    if not files:
        raise InputError(f"no data file matches {pattern} (missing corpus)")
    return files


def _kind(files: list[Path]) -> str:
    def base(p: Path) -> str:
        n = p.name.lower()
        return n[:-3] if n.endswith(".gz") else n

    kinds = {"tokens" if base(p).endswith(_TOKEN_SUFFIXES) else
             "table" if base(p).endswith(_TABLE_SUFFIXES) else "text" for p in files}
    if len(kinds) > 1:
        raise InputError(f"{files[0].parent}: mixed token, table and text files in one data path; "
                         f"give one kind")
    return kinds.pop()


def _sidecar(path: Path) -> dict:
    for side in (path.with_name(path.name + ".json"), path.with_name("meta.json")):
        if side.is_file():
            try:
                meta = json.loads(side.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise InputError(f"{side}: cannot read the token-file sidecar: {exc}") from None
            if isinstance(meta, dict):
                return meta
    return {}


def _token_meta(data: Mapping[str, Any], path: Path) -> tuple[np.dtype, int, float | None]:
    meta = {**_sidecar(path), **{k: data[k] for k in ("dtype", "vocab_size", "bytes_per_token") if k in data}}
    try:
        meta_dtype = np.dtype(str(meta.get("dtype", "uint16")))
    except TypeError:
        raise InputError(f"{path}: dtype {meta.get('dtype')!r} is not a numpy dtype (use uint16 or uint32)") from None
    if path.suffix.lower() == ".npy":
        try:
            arr = np.load(path, mmap_mode="r")
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}: not a readable .npy file: {exc}") from None
        dtype = arr.dtype
    else:
        dtype = meta_dtype
    if dtype.kind not in "ui":
        raise InputError(f"{path}: token ids must be integers, got dtype {dtype}")
    vocab = meta.get("vocab_size")
    if vocab is None or isinstance(vocab, bool) or not isinstance(vocab, int) or vocab < 2:
        raise InputError(f"{path}: state vocab_size (an integer ≥ 2) in the spec's data table or in a sidecar "
                         f"{path.name}.json / meta.json, got {vocab!r}")
    bpt = meta.get("bytes_per_token")
    if bpt is not None and (isinstance(bpt, bool) or not isinstance(bpt, int | float) or not bpt > 0):
        raise InputError(f"{path}: bytes_per_token must be a positive number, got {bpt!r}")
    return dtype, int(vocab), (float(bpt) if bpt is not None else None)


def _tokenizer_file(path: str):
    try:
        from tokenizers import Tokenizer
    except ImportError:
        raise InputError("a tokenizer file needs the `tokenizers` package: pip install 'scalinglab[runner]'") \
            from None
    if not os.path.isfile(path):
        raise InputError(f"tokenizer file not found: {path}")
    try:
        return Tokenizer.from_file(path)
    except Exception as exc:
        raise InputError(f"{path}: not a Hugging Face tokenizers JSON file: {exc}") from None


def data_vocab_size(data: Mapping[str, Any]) -> int:
    """Vocabulary size of a (normalised) ``{ path = ... }`` data table, without tokenizing anything.

    Raises
    ------
    InputError
        If no file matches, a tokenizer file is missing or unreadable, or a token file's vocabulary is not stated.
    """
    files = resolve_files(data["path"])
    if _kind(files) == "tokens":
        return _token_meta(data, files[0])[1]
    tok = data.get("tokenizer", "bytes")
    if tok == "bytes":
        return 256
    if isinstance(tok, Mapping):
        return int(tok["bpe"])
    return int(_tokenizer_file(tok).get_vocab_size(with_added_tokens=True))


# ------------------------------------------------------------------------------------------ reading
def _read_bytes(path: Path) -> bytes:
    try:
        if path.name.lower().endswith(".gz"):
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None


def _read_documents(path: Path, column: str) -> list[str]:
    import pandas as pd

    name = path.name.lower().removesuffix(".gz")
    try:
        if name.endswith(".parquet"):
            df = pd.read_parquet(path)
        else:
            df = pd.read_json(path, lines=True, compression="infer", dtype=False)
    except Exception as exc:
        raise InputError(f"{path}: cannot read as {'Parquet' if name.endswith('.parquet') else 'JSONL'}: "
                         f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    if column not in df.columns:
        raise InputError(f"{path}: no column {column!r} (columns: {', '.join(map(str, df.columns))}); "
                         f"set data.column")
    docs = df[column].dropna()
    bad = docs.map(lambda v: not isinstance(v, str))
    if bad.any():
        raise InputError(f"{path}: column {column!r} row {int(bad.idxmax())} is not text "
                         f"({type(docs[bad].iloc[0]).__name__})")
    return docs.tolist()


def _corpus(files: list[Path], kind: str, column: str, as_text: bool) -> bytes | str:
    """All files joined by newlines, as bytes (bytes tokenizer) or str (tokenizers)."""
    parts: list[Any] = []
    for p in files:
        if kind == "table":
            docs = _read_documents(p, column)
            parts.append("\n".join(docs) if as_text else "\n".join(docs).encode("utf-8"))
            continue
        raw = _read_bytes(p)
        if as_text:
            try:
                parts.append(raw.decode("utf-8"))
            except UnicodeDecodeError as exc:
                raise InputError(f"{p}: not UTF-8 text (bad byte at offset {exc.start}); convert it to UTF-8 or "
                                 f"use tokenizer = 'bytes'") from None
        else:
            parts.append(raw)
    joined = ("\n" if as_text else b"\n").join(x for x in parts if x)
    if not joined:
        raise InputError(f"the corpus is empty: {len(files)} file(s) matching "
                         f"{files[0] if len(files) == 1 else str(files[0].parent) + '/…'} hold no data")
    return joined


def _split_blocks(n: int, data: Mapping[str, Any], what: str) -> tuple[int, np.ndarray, np.ndarray]:
    """(block, train block ids, val block ids) of a sequence of ``n`` units."""
    block = data.get("block")
    block = int(block) if block else max(16, min(4096, n // 20))
    n_blocks = n // block
    if n_blocks < 2:
        raise InputError(f"{what}: the corpus ({n} units) is too small to split into train and validation "
                         f"blocks of {block}; add data or lower data.block")
    frac = float(data.get("val_fraction", 0.1))
    if not 0 < frac < 1:
        raise InputError(f"{what}: data.val_fraction must be in (0, 1), got {frac}")
    perm = np.random.default_rng(int(data.get("split_seed", 0))).permutation(n_blocks)
    n_val = min(n_blocks - 1, max(1, round(frac * n_blocks)))
    return block, np.sort(perm[n_val:]), np.sort(perm[:n_val])


# ------------------------------------------------------------------------------------------ cache
def default_cache_dir(workdir: str | os.PathLike | None = None) -> Path:
    """Where tokenized data is cached: ``$SCALINGLAB_DATA_CACHE``, else ``.scalinglab-cache`` beside the
    checkpoint folder ``workdir`` (which sits beside the store), else in the current folder."""
    env = os.environ.get("SCALINGLAB_DATA_CACHE")
    if env:
        return Path(env).expanduser()
    return (Path(workdir).resolve().parent if workdir else Path.cwd()) / ".scalinglab-cache"


def _stat_key(files: list[Path], extra: Any) -> str:
    h = hashlib.sha256(json.dumps(extra, sort_keys=True, default=str).encode())
    for p in files:
        st = p.stat()
        h.update(f"{p.resolve()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:24]


def files_fingerprint(data: Mapping[str, Any]) -> str:
    """A short hash of the paths, sizes and modification times of the files a data table names ("" when
    nothing matches: loading then raises the clear error)."""
    try:
        files = resolve_files(str(data.get("path", "")))
        if data.get("val_path"):
            files += resolve_files(str(data["val_path"]))
    except InputError:
        return ""
    return _stat_key(files, None)


def _atomic_dir(final: Path, fill) -> None:
    """Create folder ``final`` atomically: ``fill(tmp)`` writes into a temp folder that is then renamed."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f"{final.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        fill(tmp)
        try:
            os.replace(tmp, final)
        except OSError:  # another process finished first: keep theirs
            if not (final / "meta.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _write_memmap(path: Path, tokens: np.ndarray, dtype: np.dtype) -> None:
    mm = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=tokens.shape)
    mm[:] = tokens
    mm.flush()
    del mm


def _train_bpe(texts: list[str], vocab: int, cache: Path):
    """A byte-level BPE with ``vocab`` tokens trained on ``texts`` (the training split), cached by the sha256
    of that text."""
    try:
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    except ImportError:
        raise InputError("tokenizer = { bpe = N } needs the `tokenizers` package: pip install "
                         "'scalinglab[runner]'") from None
    h = hashlib.sha256(f"bpe{vocab}\0".encode())
    for t in texts:
        h.update(t.encode("utf-8"))
    path = cache / f"bpe-{vocab}-{h.hexdigest()[:24]}.json"
    if path.is_file():
        return Tokenizer.from_file(str(path)), path
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False, special_tokens=[])
    tok.train_from_iterator(texts, trainer=trainer)
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tok.save(str(tmp))
    os.replace(tmp, path)
    log.info("trained a %d-token BPE on %d training blocks → %s", tok.get_vocab_size(), len(texts), path)
    return tok, path


def _build_text_cache(data: Mapping[str, Any], files: list[Path], kind: str, out: Path, cache: Path) -> None:
    tok_spec = data.get("tokenizer", "bytes")
    as_text = tok_spec != "bytes"
    corpus = _corpus(files, kind, str(data.get("column", "text")), as_text)
    block, train_ids, val_ids = _split_blocks(len(corpus), data, data["path"])
    blocks = [corpus[i * block:(i + 1) * block] for i in range(len(corpus) // block)]
    tail = corpus[(len(corpus) // block) * block:]
    train_parts = [blocks[i] for i in train_ids] + ([tail] if tail else [])
    val_parts = [blocks[i] for i in val_ids]
    content = hashlib.sha256(corpus.encode("utf-8") if as_text else corpus).hexdigest()
    info: dict[str, Any] = {}
    if not as_text:
        vocab = 256
        train = np.frombuffer(b"".join(train_parts), dtype=np.uint8)
        val = np.frombuffer(b"".join(val_parts), dtype=np.uint8)
        val_bytes = len(val)
    else:
        if isinstance(tok_spec, Mapping):
            tok, tok_path = _train_bpe(train_parts, int(tok_spec["bpe"]), cache)
            vocab = int(tok_spec["bpe"])
            info["tokenizer_file"] = str(tok_path)
        else:
            tok = _tokenizer_file(tok_spec)
            vocab = int(tok.get_vocab_size(with_added_tokens=True))
        enc = lambda parts: np.fromiter(  # noqa: E731
            (i for e in tok.encode_batch(parts, add_special_tokens=False) for i in e.ids), dtype=np.int64)
        train, val = enc(train_parts), enc(val_parts)
        val_bytes = sum(len(p.encode("utf-8")) for p in val_parts)
    dtype = np.dtype(np.uint16 if vocab <= 1 << 16 else np.uint32)
    for name, arr in (("train", train), ("val", val)):
        if len(arr) == 0:
            raise InputError(f"{data['path']}: the {name} split has no tokens")
        if arr.max() >= vocab:
            raise InputError(f"{data['path']}: token id {int(arr.max())} ≥ vocab_size {vocab}")
    _write_memmap(out / "train.npy", train, dtype)
    _write_memmap(out / "val.npy", val, dtype)
    meta = {"version": _CACHE_VERSION, "vocab_size": vocab, "files": [str(p) for p in files],
            "content_sha256": content, "tokenizer": tok_spec, "block": block,
            "train_tokens": int(len(train)), "val_tokens": int(len(val)), "val_bytes": int(val_bytes),
            "bytes_per_token": val_bytes / len(val),
            "val_sha256": hashlib.sha256(np.ascontiguousarray(val, dtype=np.int64).tobytes()).hexdigest(), **info}
    (out / "meta.json").write_text(json.dumps(meta, indent=1, default=str), encoding="utf-8")


def _check_ids(arr: np.ndarray, vocab: int, path: Path, chunk: int = 1 << 24) -> None:
    for i in range(0, len(arr), chunk):
        part = arr[i:i + chunk]
        hi = int(part.max()) if len(part) else 0
        if hi >= vocab:
            j = i + int(np.argmax(part >= vocab))
            raise InputError(f"{path}: token id {int(arr[j])} at position {j} ≥ vocab_size {vocab}")
        if arr.dtype.kind == "i" and len(part) and int(part.min()) < 0:
            raise InputError(f"{path}: negative token id at position {i + int(np.argmax(part < 0))}")


def _open_tokens(path: Path, dtype: np.dtype) -> np.ndarray:
    try:
        if path.suffix.lower() == ".npy":
            arr = np.load(path, mmap_mode="r")
            if arr.ndim != 1:
                arr = arr.reshape(-1)
            return arr
        size = path.stat().st_size
        if size == 0:
            raise InputError(f"{path}: the token file is empty")
        if size % dtype.itemsize:
            raise InputError(f"{path}: {size} bytes is not a whole number of {dtype} tokens; check data.dtype")
        return np.memmap(path, dtype=dtype, mode="r")
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read the token file: {exc}") from None


# ------------------------------------------------------------------------------------------ sources
def load_files_source(data: Mapping[str, Any], *, cache_dir: str | os.PathLike | None = None) -> Source:
    """The `Source` of a ``{ path = ... }`` data table (see the module docstring): tokenized once into the
    memmap cache, split deterministically into disjoint train/validation, validation windows fixed.

    Raises
    ------
    InputError
        Missing or empty corpus, unreadable file or encoding, unknown option, token ids ≥ vocab_size, a corpus
        too small to split (each message names the file).
    """
    data = normalize_data({"name": "files", **data}, None)
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    files = resolve_files(data["path"])
    kind = _kind(files)
    if kind == "tokens":
        return _token_source(data, files, cache)
    if "val_path" in data:
        raise InputError(f"{data['path']}: data.val_path is for token files; text is split by data.val_fraction")
    key = _stat_key(files, {k: data.get(k) for k in ("tokenizer", "column", "val_fraction", "block",
                                                     "split_seed")} | {"v": _CACHE_VERSION})
    out = cache / f"tokens-{key}"
    if not (out / "meta.json").is_file():
        log.info("tokenizing %d file(s) of %s into %s", len(files), data["path"], out)
        _atomic_dir(out, lambda tmp: _build_text_cache(data, files, kind, tmp, cache))
    meta = json.loads((out / "meta.json").read_text(encoding="utf-8"))
    train = np.load(out / "train.npy", mmap_mode="r")
    val = np.load(out / "val.npy", mmap_mode="r")
    tok = data.get("tokenizer", "bytes")
    return Source(name="files", vocab_size=int(meta["vocab_size"]), train=train.reshape(1, -1),
                  val=val.reshape(1, -1), bytes_per_token=float(meta["bytes_per_token"]), fixed_val=True,
                  description=f"{len(files)} file(s) {data['path']}, tokenizer {tok}",
                  info={"cache": str(out), **{k: meta[k] for k in ("content_sha256", "val_sha256", "train_tokens",
                                                                    "val_tokens", "block", "files")}})


def _token_source(data: Mapping[str, Any], files: list[Path], cache: Path) -> Source:
    dtype, vocab, bpt = _token_meta(data, files[0])
    val_files = resolve_files(data["val_path"]) if "val_path" in data else []
    every = files + val_files
    key = _stat_key(every, {"dtype": str(dtype), "vocab": vocab, "v": _CACHE_VERSION})
    mark = cache / f"checked-{key}.json"
    if len(files) == 1:
        arr = _open_tokens(files[0], dtype)
    else:  # several token files: concatenated once into the cache
        cat = cache / f"concat-{key}.npy"
        if not cat.is_file():
            cache.mkdir(parents=True, exist_ok=True)
            parts = [_open_tokens(p, dtype) for p in files]
            tmp = cat.with_name(cat.name + f".tmp{os.getpid()}.npy")
            _write_memmap(tmp, np.concatenate(parts), dtype)
            os.replace(tmp, cat)
        arr = np.load(cat, mmap_mode="r")
    val_arr = None
    if val_files:
        val_arr = _open_tokens(val_files[0], dtype) if len(val_files) == 1 else \
            np.concatenate([_open_tokens(p, dtype) for p in val_files])
    if len(arr) == 0:
        raise InputError(f"{files[0]}: the token file is empty")
    if not mark.is_file():  # id range checked once per (files, dtype, vocab)
        for p in files:
            _check_ids(_open_tokens(p, dtype), vocab, p)
        for p in val_files:
            _check_ids(_open_tokens(p, dtype), vocab, p)
        cache.mkdir(parents=True, exist_ok=True)
        tmp = mark.with_name(mark.name + f".tmp{os.getpid()}")
        tmp.write_text(json.dumps({"files": [str(p) for p in every], "vocab_size": vocab}), encoding="utf-8")
        os.replace(tmp, mark)
    info: dict[str, Any] = {"files": [str(p) for p in every]}
    if val_arr is not None:
        train2d, val2d = np.asarray(arr).reshape(1, -1), np.asarray(val_arr).reshape(1, -1)
        train_rows = val_rows = None
        info["block"] = None
    else:
        block, train_rows, val_rows = _split_blocks(len(arr), data, str(files[0]))
        n_blocks = len(arr) // block
        train2d = val2d = arr[: n_blocks * block].reshape(n_blocks, block)
        info["block"] = block
    src = Source(name="files", vocab_size=vocab, train=train2d, val=val2d, bytes_per_token=bpt,
                 train_rows=train_rows, val_rows=val_rows, fixed_val=True,
                 description=f"token file(s) {data['path']} ({dtype}, vocab {vocab})", info=info)
    info["train_tokens"], info["val_tokens"] = src.split_tokens("train"), src.split_tokens("val")
    h = hashlib.sha256()
    for r in (range(val2d.shape[0]) if val_rows is None else val_rows):
        h.update(np.ascontiguousarray(val2d[r], dtype=np.int64).tobytes())
    info["val_sha256"] = h.hexdigest()
    return src


# ------------------------------------------------------------------------------------------ checks
def check_source_fits(src: Source, *, batch_size: int, seq_len: int, eval_windows: int, what: str) -> None:
    """Check a run's batch and validation windows fit in the source's splits.

    Raises
    ------
    InputError
        If the training split holds fewer tokens than one batch (``batch_size × seq_len``) or a training
        segment is shorter than ``seq_len + 1``, or the validation split has no window of ``seq_len + 1``.
    """
    n_train = src.split_tokens("train")
    if n_train < batch_size * seq_len or src.train.shape[1] < seq_len + 1:
        raise InputError(f"{what}: the training split has {n_train} tokens (segments of {src.train.shape[1]}), "
                         f"smaller than one batch of {batch_size} × {seq_len} tokens; add data, or lower "
                         f"batch_size/seq_len")
    if src.val.shape[1] < seq_len + 1:
        raise InputError(f"{what}: the validation split's segments hold {src.val.shape[1]} tokens, fewer than "
                         f"one window of seq_len + 1 = {seq_len + 1}; raise data.block or data.val_fraction")
    got = len(src.val_windows(eval_windows, seq_len))
    if got < eval_windows:
        log.info("%s: the validation split holds %d windows of %d tokens (eval_windows = %d asked): using all "
                 "of them", what, got, seq_len + 1, eval_windows)


def prepare_sweep_data(runs, cache_dir: str | os.PathLike | None) -> dict[str, Source]:
    """Tokenize (into the cache) and check the user data of every run of a sweep *before* anything is
    written to a store. Returns {data label: Source}; runs on built-in sources are not touched.

    Raises
    ------
    InputError
        The first data problem found (naming the file), see `load_files_source` and `check_source_fits`.
    """
    from .corpus import make_source

    out: dict[str, Source] = {}
    for cfg in runs:
        d = dict(cfg.data)
        if d.get("name", "files" if "path" in d else "") != "files" or getattr(cfg, "trainer", None):
            continue
        src = make_source(d, cache_dir=None if cache_dir is None else str(cache_dir))
        out[json.dumps(d, sort_keys=True, default=str)] = src
        check_source_fits(src, batch_size=cfg.batch_size, seq_len=cfg.seq_len, eval_windows=cfg.eval_windows,
                          what=str(d["path"]))
    return out
