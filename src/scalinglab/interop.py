"""Bring runs in from (and out to) other experiment trackers: MLflow and Weights & Biases exports.

All readers return a pandas DataFrame with the run-table columns that :func:`scalinglab.data.load_runs`
reads: ``params`` (N, parameters), ``tokens`` (D, training tokens), ``loss`` (as logged; nats/token for
cross-entropy), optional ``flops``, plus ``run_id``, ``name``, ``step`` and the source.

>>> from scalinglab.interop import read_mlflow, read_wandb_history
>>> df = read_mlflow("mlruns", experiment="ladder")                     # doctest: +SKIP
>>> df = read_wandb_history("wandb_export.csv", runs="runs_table.csv")  # doctest: +SKIP

MLflow: a file-store folder (``mlruns/<experiment id>/<run id>/params|metrics|tags``) is read directly,
without the mlflow package; database stores (``sqlite:///mlflow.db``, ``postgresql://…``) go through
``mlflow.MlflowClient`` (``pip install 'scalinglab[mlflow]'``). Remote ``http(s)://`` tracking servers are
not contacted (scalinglab does no network I/O): export from them or point at their backend store.

W&B: the run-history CSV the W&B UI exports from a chart (columns ``Step``, ``<run> - <metric>``,
``<run> - <metric>__MIN``, ``<run> - <metric>__MAX``); N and D come from the runs-table CSV export (one
row per run: ``Name`` plus config columns) or from ``params``/``tokens`` mappings.
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ._errors import DataError, InputError

log = logging.getLogger(__name__)

__all__ = ["read_mlflow", "read_wandb_history", "log_to_mlflow", "PARAM_KEYS", "TOKEN_KEYS", "LOSS_KEYS"]

#: names tried (in order, case-insensitive) for N, D and the loss in a tracker's params/config/metrics
PARAM_KEYS = ("params", "n_params", "num_params", "n_parameters", "num_parameters", "parameters",
              "model_params", "model_parameters", "non_embedding_params", "N")
TOKEN_KEYS = ("tokens", "n_tokens", "num_tokens", "train_tokens", "training_tokens", "tokens_seen", "total_tokens",
              "D")
FLOP_KEYS = ("flops", "train_flops", "training_flops", "compute", "C")
#: held-out losses first: the Hugging Face Trainer's MLflow callback logs the training loss as ``loss`` beside
#: ``eval_loss``, and a scaling law is fitted to validation loss
LOSS_KEYS = ("val_loss", "eval_loss", "validation_loss", "val/loss", "eval/loss", "valid_loss", "loss",
             "train_loss", "train/loss")


def _pick(mapping: Mapping[str, Any], wanted: str | None, candidates: Iterable[str]) -> str | None:
    """The key of ``mapping`` that is ``wanted`` (exact) or the first of ``candidates`` (case-insensitive)."""
    if wanted is not None:
        return wanted if wanted in mapping else None
    lower = {k.lower(): k for k in mapping}
    for c in candidates:
        if c.lower() in lower:
            return lower[c.lower()]
    return None


def _key_for(names: Iterable[str], wanted: str | None, keys: Iterable[str], canonical: str) -> tuple[str | None, float]:
    """``(name, unit factor)`` of the count ``canonical`` among ``names``: ``wanted`` (exact), else the first
    of ``keys``, else the name `load_runs` reads as it (`scalinglab.data.schema.column_holding`: a config path
    such as ``model.n_params``, a unit note such as ``Params (M)``); ``(None, 1.0)`` when none."""
    names = list(map(str, names))
    k = _pick({n: 1 for n in names}, wanted, keys)
    if k is not None or wanted is not None:
        return k, 1.0
    from .data.schema import column_holding

    return column_holding(names, canonical) or (None, 1.0)


def _other_losses(chosen: str, names: Iterable[str]) -> tuple[str, ...]:
    """The loss-like metrics beside the ``chosen`` one (empty when it was the only one)."""
    return tuple(sorted(n for n in names if n != chosen and n.lower() in {k.lower() for k in LOSS_KEYS}))


def _number(value: Any, *, file: str, column: str, row: Any = None) -> float:
    """A float from a tracker value such as ``"124000000"``, ``"1.2e9"`` or ``"124M"`` (scalinglab.units)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    from .units import parse_quantity

    try:
        return float(parse_quantity(str(value).strip()))
    except Exception:
        raise DataError(f"not a number: {str(value)[:60]!r}", file=file, row=row, column=column) from None


# ---------------------------------------------------------------------------------------------- MLflow
def _read_meta(path: Path) -> dict[str, str]:
    """Top-level ``key: value`` pairs of an MLflow ``meta.yaml`` (safe: no YAML tags are honoured)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return {}
    try:
        import yaml

        data = yaml.safe_load(text)
        if isinstance(data, dict):
            return {str(k): "" if v is None else str(v) for k, v in data.items()}
    except ImportError:  # pragma: no cover - pyyaml is in the test extra
        pass
    except Exception:  # noqa: S110 - fall back to the line reader below
        pass
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and not line.startswith((" ", "-")):
            out[key.strip()] = value.strip().strip("'\"")
    return out


#: a file store's meta.yaml writes a run's status as the RunStatus number
_MLFLOW_STATUS = {"1": "RUNNING", "2": "SCHEDULED", "3": "FINISHED", "4": "FAILED", "5": "KILLED"}


def _file_store_runs(root: Path, experiment: str | None, include_deleted: bool) -> list[dict]:
    experiments = []
    for meta in sorted(root.glob("*/meta.yaml")):
        m = _read_meta(meta)
        if not m.get("experiment_id") and not m.get("name"):
            continue
        if m.get("lifecycle_stage", "active") != "active" and not include_deleted:
            continue
        experiments.append((meta.parent, m.get("name", meta.parent.name), m.get("experiment_id", meta.parent.name)))
    if experiment is not None:
        experiments = [e for e in experiments if experiment in (e[1], e[2])]
        if not experiments:
            raise InputError(f"no MLflow experiment named {experiment!r} in {root}")
    runs = []
    for folder, exp_name, _exp_id in experiments:
        for meta in sorted(folder.glob("*/meta.yaml")):
            m = _read_meta(meta)
            if m.get("lifecycle_stage", "active") != "active" and not include_deleted:
                continue
            run_dir = meta.parent

            def kv(sub: str, rd: Path = run_dir) -> dict[str, str]:
                d = rd / sub
                return {str(p.relative_to(d)): p.read_text(encoding="utf-8").strip()
                        for p in sorted(d.rglob("*")) if p.is_file()} if d.is_dir() else {}

            metrics: dict[str, list[tuple[int, float]]] = {}
            mdir = run_dir / "metrics"
            for p in sorted(mdir.rglob("*")) if mdir.is_dir() else []:
                if not p.is_file():
                    continue
                pts = []
                for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
                    parts = line.split()
                    if len(parts) < 2:
                        continue
                    try:
                        pts.append((int(parts[2]) if len(parts) > 2 else 0, float(parts[1])))
                    except ValueError:
                        raise DataError(f"malformed MLflow metric line {line[:80]!r}", file=str(p), row=i) from None
                metrics[str(p.relative_to(mdir))] = pts
            tags = kv("tags")
            runs.append({"run_id": m.get("run_id", run_dir.name), "name": m.get("run_name") or tags.get(
                "mlflow.runName", ""), "experiment": exp_name, "params": kv("params"), "tags": tags,
                "metrics": metrics, "source": str(run_dir), "status": _MLFLOW_STATUS.get(
                    str(m.get("status", "")).strip(), str(m.get("status", "")).strip())})
    return runs


def _client_runs(uri: str, experiment: str | None, include_deleted: bool) -> list[dict]:
    try:
        from mlflow.entities import ViewType
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise InputError(f"reading {uri} needs the mlflow package: pip install 'scalinglab[mlflow]' "
                         "(a file-store folder such as ./mlruns is read without it)") from None
    client = MlflowClient(tracking_uri=uri)
    view = ViewType.ALL if include_deleted else ViewType.ACTIVE_ONLY
    exps = client.search_experiments(view_type=view)
    if experiment is not None:
        exps = [e for e in exps if experiment in (e.name, e.experiment_id)]
        if not exps:
            raise InputError(f"no MLflow experiment named {experiment!r} at {uri}")
    runs = []
    for e in exps:
        for r in client.search_runs([e.experiment_id], run_view_type=view, max_results=50_000):
            metrics = {k: [(m.step, m.value) for m in client.get_metric_history(r.info.run_id, k)]
                       for k in r.data.metrics}
            runs.append({"run_id": r.info.run_id, "name": r.info.run_name or "", "experiment": e.name,
                         "params": dict(r.data.params), "tags": dict(r.data.tags), "metrics": metrics,
                         "source": uri, "status": str(r.info.status or "")})
    return runs


def read_mlflow(location: str | os.PathLike, *, experiment: str | None = None, params_key: str | None = None,
                tokens_key: str | None = None, loss_key: str | None = None, curves: bool = False,
                include_deleted: bool = False):
    """Runs of an MLflow tracking store as a run table (pandas DataFrame).

    N comes from a run param (or final metric) named like ``params``/``n_params``/… (``params_key``
    overrides), D likewise from ``tokens``/``n_tokens``/… (``tokens_key``), the loss from the last logged
    point of ``loss``/``val_loss``/… (``loss_key``). ``curves=True`` gives one row per logged step of the
    loss instead, with ``tokens`` from a logged tokens metric at that step when there is one (else from
    the ``tokens_per_step`` param × step, else the run's D scaled by step / last step). ``status`` carries
    the run's state (FINISHED, FAILED, KILLED, RUNNING): a run table warns about runs that did not finish.
    Runs without N, D or a loss are skipped, listed in ``df.attrs["skipped"]``.

    Raises
    ------
    InputError
        If ``location`` is a remote (http) server or not a tracking store, the experiment does not exist, or a
        database store is given without the ``mlflow`` package installed.
    DataError
        If a metric file of a file store is malformed or a value is not a number (names file and row).
    """
    import pandas as pd

    loc = str(location)
    if re.match(r"^https?://", loc, re.I):
        raise InputError("scalinglab does not contact remote MLflow servers; pass the backend store "
                         "(a ./mlruns folder or a database URI such as sqlite:///mlflow.db)")
    path = Path(loc[len("file://"):] if loc.startswith("file://") else loc).expanduser()
    if path.is_dir():
        runs = _file_store_runs(path, experiment, include_deleted)
    elif "://" in loc or loc.endswith(".db"):
        runs = _client_runs(loc if "://" in loc else f"sqlite:///{path.resolve()}", experiment, include_deleted)
    else:
        raise InputError(f"no MLflow tracking store at {loc} (expected a folder like ./mlruns or a URI)")

    rows, skipped, chosen = [], [], {}
    for r in runs:
        merged: dict[str, Any] = {**{k: pts[-1][1] for k, pts in r["metrics"].items() if pts}, **r["params"]}
        kp, fp = _key_for(merged, params_key, PARAM_KEYS, "params")
        kt, ft = _key_for(merged, tokens_key, TOKEN_KEYS, "tokens")
        kl = _pick(r["metrics"], loss_key, LOSS_KEYS)
        kf = _pick(merged, None, FLOP_KEYS)
        missing = [w for w, k in (("params", kp), ("tokens", kt), ("loss", kl)) if k is None]
        if missing:
            skipped.append({"run_id": r["run_id"], "name": r["name"], "missing": missing,
                            "params": sorted(r["params"]), "metrics": sorted(r["metrics"])})
            continue
        where = r["source"]
        if loss_key is None and (others := _other_losses(kl, r["metrics"])):
            chosen.setdefault((kl, others), []).append(r["name"] or r["run_id"])
        n = _number(merged[kp], file=where, column=kp) * fp
        d = _number(merged[kt], file=where, column=kt) * ft
        base = {"params": n, "run_id": r["run_id"], "name": r["name"], "experiment": r["experiment"],
                "dataset": r["tags"].get("dataset", r["params"].get("dataset", "")), "source": "mlflow",
                "status": r.get("status", "")}
        pts = sorted(r["metrics"][kl])
        if not curves:
            step, loss = pts[-1]
            row = {**base, "tokens": d, "loss": loss, "step": step}
            if kf is not None:
                row["flops"] = _number(merged[kf], file=where, column=kf)
            rows.append(row)
            continue
        tok_curve = dict(r["metrics"].get(kt, [])) if kt in r["metrics"] else {}
        tps = r["params"].get("tokens_per_step")
        last = pts[-1][0] or 1
        for step, loss in pts:
            if step in tok_curve:
                t = tok_curve[step]
            elif tps is not None:
                t = step * _number(tps, file=where, column="tokens_per_step")
            else:
                t = d * step / last
            rows.append({**base, "tokens": t, "loss": loss, "step": step})
    cols = ["params", "tokens", "flops", "loss", "step", "run_id", "name", "experiment", "dataset", "status",
            "source"]
    df = pd.DataFrame(rows, columns=[c for c in cols if c != "flops" or any("flops" in r for r in rows)])
    if curves:
        df = df[df["tokens"] > 0].reset_index(drop=True) if len(df) else df
    df.attrs["skipped"] = skipped
    df.attrs["notes"] = [f"loss read from {k!r} (also logged: {', '.join(o)}) in {len(who)} run(s) "
                         f"({', '.join(who[:3])}{', ...' if len(who) > 3 else ''}); --loss-key picks another"
                         for (k, o), who in chosen.items()]
    return df


# ---------------------------------------------------------------------------------------------- W&B
#: ``<run> - <metric>``: split at the last " - " (run names hold dashes, metric names do not)
_WB_COL = re.compile(r"^(?P<run>.+) - (?P<metric>.+?)(?P<agg>__MIN|__MAX)?$")


def read_wandb_history(path: str | os.PathLike, *, metric: str | None = None, runs: Any = None,
                       params: Mapping[str, float] | None = None, tokens: Mapping[str, float] | None = None,
                       tokens_per_step: float | None = None, curves: bool = True):
    """A W&B run-history CSV export (``Step``, ``<run> - <metric>``[``__MIN``/``__MAX``]) as a run table.

    ``metric`` picks the logged metric when the export holds several (default: the one named like a loss).
    N and D per run come from ``runs`` (a W&B runs-table CSV export or DataFrame: a ``Name`` column and
    config columns named like ``params``/``tokens``), or from the ``params``/``tokens`` mappings (run name →
    value). With ``tokens_per_step`` the curve's tokens are ``Step × tokens_per_step``; otherwise they are
    the run's D × step / its planned steps (a runs table's ``total_steps``, ``max_steps``... column), else /
    its last logged step. The runs table's ``State`` is carried as ``state`` and its planned steps as
    ``total_steps``: a crashed run's last point is not its end, and the run table warns about it.
    ``curves=False`` keeps only each run's last point. ``loss_min``/
    ``loss_max`` carry the ``__MIN``/``__MAX`` columns (W&B's bucketed min/max) when present.

    Raises
    ------
    InputError
        If the file does not exist, or ``metric`` is missing/ambiguous among the logged metrics.
    DataError
        If the CSV cannot be read, is not a run-history export (no ``Step`` or ``<run> - <metric>``
        columns), a value is not a number or a loss is not finite, or the runs table has no ``Name`` column.
    """
    import pandas as pd

    path = Path(path)
    src = str(path)
    try:
        raw = pd.read_csv(path)
    except FileNotFoundError:
        raise InputError(f"no such file: {path}") from None
    except Exception as exc:
        raise DataError(f"cannot read the CSV: {exc}", file=src) from None
    step_col = next((c for c in raw.columns if c.strip().lower() in ("step", "_step", "global_step",
                                                                      "trainer/global_step")), None)
    if step_col is None:
        raise DataError("no 'Step' column: expected a W&B run-history export (Step, '<run> - <metric>', …)",
                        file=src)
    series: dict[tuple[str, str], dict[str, str]] = {}
    base_of: dict[str, str] = {}  # a second run of one display name -> that name (its N and D)
    for c, name, k in zip(raw.columns, *_header_names(path, list(map(str, raw.columns))), strict=True):
        if c == step_col:
            continue
        m = _WB_COL.match(name)
        if not m:
            continue
        run = m["run"] if k == 1 else f"{m['run']} #{k}"
        base_of[run] = m["run"]
        series.setdefault((run, m["metric"]), {})[m["agg"] or ""] = c
    twice = sorted({base_of[r] for r, _ in series if base_of[r] != r})
    if twice:  # W&B names a chart's series by display name, and a relaunched run keeps it
        log.warning("%s: runs %s each have more than one series; read as separate runs ('%s #2', ...), with the "
                    "N and D the runs table gives that name", src, ", ".join(map(repr, twice[:5])), twice[0])
    if not series:
        raise DataError("no '<run> - <metric>' columns found", file=src)
    metrics = sorted({k[1] for k in series})
    if metric is None:
        metric = _pick({m: 1 for m in metrics}, None, LOSS_KEYS) or (metrics[0] if len(metrics) == 1 else None)
        if metric is None:
            raise InputError(f"{src} logs several metrics ({', '.join(metrics)}); choose one with --metric")
    elif metric not in metrics:
        raise InputError(f"metric {metric!r} not in {src} (found: {', '.join(metrics)})")

    meta = _runs_meta(runs) if runs is not None else {}
    rows = []
    for (run, m), cols in sorted(series.items()):
        if m != metric or "" not in cols:
            continue
        sub = raw[[step_col, *cols.values()]].dropna(subset=[cols[""]])
        if sub.empty:
            continue
        info = meta.get(base_of[run], {})
        n = (params or {}).get(run, (params or {}).get(base_of[run], info.get("params")))
        d = (tokens or {}).get(run, (tokens or {}).get(base_of[run], info.get("tokens")))
        last = float(info.get("planned_steps") or sub[step_col].max()) or 1.0  # the run's planned end
        if not curves:
            sub = sub[sub[step_col] == sub[step_col].max()]
        for i, rec in sub.iterrows():
            step = float(rec[step_col])
            if tokens_per_step is not None:
                t = step * tokens_per_step
            elif d is not None:
                t = float(d) * step / last
            else:
                t = math.nan
            row = {"params": math.nan if n is None else float(n), "tokens": t, "loss": float(rec[cols[""]]),
                   "step": int(step), "run_id": run, "name": run, "source": "wandb"}
            if "state" in info:
                row["state"] = info["state"]
            if "planned_steps" in info:
                row["total_steps"] = info["planned_steps"]
            if "__MIN" in cols:
                row["loss_min"] = float(rec[cols["__MIN"]])
            if "__MAX" in cols:
                row["loss_max"] = float(rec[cols["__MAX"]])
            if not math.isfinite(row["loss"]):
                raise DataError("non-finite loss", file=src, row=int(i) + 2, column=cols[""])
            rows.append(row)
    df = pd.DataFrame(rows)
    if len(df):
        df = df[~(df["tokens"] <= 0)].reset_index(drop=True)
    df.attrs["metric"] = metric
    df.attrs["missing_params"] = sorted({r["run_id"] for r in rows if math.isnan(r["params"])})
    return df


def _header_names(path: Path, columns: list[str]) -> tuple[list[str], list[int]]:
    """A CSV's header names as written and each one's occurrence (1 for the first ``a - loss``, 2 for the
    second), where pandas renamed repeats in ``columns`` (``a - loss.1``)."""
    import csv

    with open(path, newline="", encoding="utf-8-sig", errors="replace") as fh:
        header = next(csv.reader(fh), [])
    if len(header) != len(columns):  # pandas saw another header (index column...): its names as they are
        return columns, [1] * len(columns)
    seen: dict[str, int] = {}
    occurrence = []
    for h in header:
        seen[h] = seen.get(h, 0) + 1
        occurrence.append(seen[h])
    return header, occurrence


def _runs_meta(runs: Any) -> dict[str, dict[str, Any]]:
    """name → {params, tokens, state, planned_steps} (those it has) from a W&B runs-table export (path or
    DataFrame)."""
    import pandas as pd

    from .data.checkpoints import planned_column, state_column

    src = str(runs) if not isinstance(runs, pd.DataFrame) else "<runs table>"
    df = runs if isinstance(runs, pd.DataFrame) else pd.read_csv(runs)
    name_col = _pick({c: 1 for c in df.columns}, None, ("Name", "name", "run", "run_name", "display_name"))
    if name_col is None:
        raise DataError("the runs table has no 'Name' column", file=src)
    kp, fp = _key_for(df.columns, None, PARAM_KEYS, "params")  # as load_runs reads them: model.n_params too
    kt, ft = _key_for(df.columns, None, TOKEN_KEYS, "tokens")
    ks, kn = state_column(df.columns), planned_column(df.columns)
    if kp is None:
        log.warning("%s: no column of parameter counts among %s", src, ", ".join(map(str, df.columns)))
    names = df[name_col].astype(str)
    repeated = sorted(names[names.duplicated()].unique())
    if repeated:  # a relaunched run reuses its display name: which row belongs to the curve is unknown
        log.warning("%s: run names %s appear more than once; the last row of each is used (give the runs unique "
                    "names, or export one row per run)", src, ", ".join(repeated[:5]))
    out = {}
    for i, rec in df.iterrows():
        entry = {}
        if kp is not None and pd.notna(rec[kp]):
            entry["params"] = _number(rec[kp], file=src, row=int(i) + 2, column=kp) * fp
        if kt is not None and pd.notna(rec[kt]):
            entry["tokens"] = _number(rec[kt], file=src, row=int(i) + 2, column=kt) * ft
        if ks is not None and pd.notna(rec[ks]):
            entry["state"] = str(rec[ks]).strip()
        if kn is not None and pd.notna(rec[kn]):
            entry["planned_steps"] = _number(rec[kn], file=src, row=int(i) + 2, column=kn)
        out[str(rec[name_col])] = entry
    return out


# ---------------------------------------------------------------------------------------------- export
def log_to_mlflow(store: Any, tracking_uri: str, *, experiment: str = "scalinglab", curves: bool = True) -> list[str]:
    """Log the finished runs of a scalinglab store to MLflow (one MLflow run per scalinglab run).

    Params: ``params`` (N), ``tokens`` (D), ``flops`` (C), conventions, architecture; metrics: the final
    ``loss`` (nats/token) and ``loss_bpb`` and, with ``curves``, the validation curve as ``val_loss`` by step.
    Idempotent: runs already logged (tag ``scalinglab.run_id``) are skipped. Returns the MLflow run ids created.

    Raises
    ------
    InputError
        If the ``mlflow`` package is not installed or ``tracking_uri`` is a remote server.
    """
    try:
        from mlflow.entities import Metric, Param, RunTag
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise InputError("logging to MLflow needs the mlflow package: pip install 'scalinglab[mlflow]'") from None
    from .store import Store

    if re.match(r"^https?://", str(tracking_uri), re.I):
        raise InputError("scalinglab does not contact remote MLflow servers; pass a local tracking store")
    st = store if isinstance(store, Store) else Store(store)
    client = MlflowClient(tracking_uri=str(tracking_uri))
    exp = client.get_experiment_by_name(experiment)
    exp_id = exp.experiment_id if exp is not None else client.create_experiment(experiment)
    done = {r.data.tags.get("scalinglab.run_id") for r in client.search_runs([exp_id], max_results=50_000)}
    created = []
    df = st.to_frame()
    for rec in df.to_dict("records"):
        key = f"{rec['run_id']}/{rec['branch']}" if rec["branch"] else rec["run_id"]
        if key in done:
            continue
        name = rec["name"] + (f" [{rec['branch']}]" if rec["branch"] else "")
        run = client.create_run(exp_id, run_name=name or key, tags={"scalinglab.run_id": key})
        params = {"params": int(rec["params"]), "tokens": int(rec["tokens"]), "flops": float(rec["flops"]),
                  "param_convention": rec["param_convention"], "flops_convention": rec["flops_convention"],
                  "n_layer": rec["n_layer"], "d_model": rec["d_model"], "dataset": rec["dataset"],
                  "sweep": rec["sweep"], "branch": rec["branch"]}
        ts = 0
        metrics = [Metric("loss", float(rec["loss"]), ts, int(rec["step"]))]
        if rec.get("loss_bpb") is not None and math.isfinite(rec["loss_bpb"]):
            metrics.append(Metric("loss_bpb", float(rec["loss_bpb"]), ts, int(rec["step"])))
        if curves and not rec["branch"]:
            metrics += [Metric("val_loss", float(m["loss_nats"]), ts, int(m["step"]))
                        for m in st.metrics(rec["run_id"]) if m["split"] == "val" and not m["branch"]]
        client.log_batch(run.info.run_id, metrics=metrics,
                         params=[Param(k, str(v)) for k, v in params.items() if v is not None],
                         tags=[RunTag("dataset", str(rec["dataset"] or ""))])
        client.set_terminated(run.info.run_id)
        created.append(run.info.run_id)
    return created
