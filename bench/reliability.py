"""Reliability figures: fuzzing, kill-and-resume, concurrent writers, hostile law strings, cluster faults.

    python bench/reliability.py            # full: >= 10,000 fuzz cases, 20 SIGKILLs, 8 x 1,000 writers,
                                           #       each cluster fault injected 5 times
    python bench/reliability.py --quick    # a smaller version of each (cluster faults twice each)
    python bench/reliability.py --only-faults --faults 5   # just the cluster faults

Prints, side by side:
  fuzz cases tried / failing properties      (bench/fuzz.py: loaders, units, laws, specs, CLI)
  kill-and-resume trials / runs lost / duplicated / wrong losses vs an uninterrupted reference
  concurrent writers / records lost / duplicated / runs claimed twice; two sweeps on one store
  hostile law strings rejected / executed (audit hook + patched builtins) and the slowest rejection
  cluster faults, each injected N times (tests/test_faults.py, tests/test_ray.py helpers): PostgreSQL
  stopped mid-sweep and restarted; PostgreSQL away past the retry limit, then a rerun; a Ray worker
  SIGKILLed mid-run; a full disk under the checkpoints / the SQLite store; a worker SIGSTOPped past its
  lease — each with runs lost / trained to completion twice / wrong losses (vs. an uninterrupted run)

and ends with ``reliability_failures: <total>`` (target 0). The helpers live in tests/test_fuzz.py,
tests/test_crash.py, tests/test_concurrency.py and tests/test_security.py, so the figures are the tests,
scaled up.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))


def hostile() -> dict:
    from test_parse import HOSTILE, no_execution
    from test_security import MORE_HOSTILE, audited

    from scalinglab._errors import LawParseError
    from scalinglab.laws import parse_law

    with tempfile.TemporaryDirectory() as tmp:
        sentinel = Path(tmp) / "pwned"
        strings = [h.replace("{sentinel}", str(sentinel)).replace("{{", "{").replace("}}", "}") for h in HOSTILE]
        strings += MORE_HOSTILE
        rejected = accepted = executed = 0
        slowest = 0.0
        for expr in strings:
            calls: list[str] = []
            t0 = time.perf_counter()
            with audited() as events, no_execution(calls):
                try:
                    parse_law(expr)
                    accepted += 1
                except LawParseError:
                    rejected += 1
            slowest = max(slowest, time.perf_counter() - t0)
            executed += bool(calls or events)
        executed += sentinel.exists()
    return {"strings": len(strings), "rejected": rejected, "accepted": accepted, "executed": executed,
            "slowest_ms": 1e3 * slowest}


def _bad(r: dict) -> int:
    """Runs lost + duplicated + wrong + trained to completion twice + left running, of one trial."""
    return r["lost"] + r["duplicated"] + r["wrong"] + r["trained_twice"] + r["left_running"]


def _tally(trials: list[dict]) -> dict:
    keys = ("lost", "duplicated", "wrong", "trained_twice", "left_running")
    return {k: sum(t[k] for t in trials) for k in keys}


def hung_trainer_trial(folder: Path) -> dict:
    """An external trainer (examples/trainers/print_only.py) that stops printing at step 7 and never exits,
    once: the runner must kill it after ``progress_timeout_s`` (1.5 s), record the attempt as failed with its
    last output, retry it and finish the run once, with the loss of an uninterrupted run of the same trainer."""
    from test_external_trainer import _regex_spec

    from scalinglab.runner.executor import run_sweep
    from scalinglab.runner.spec import load_spec
    from scalinglab.store import Store

    one = "{ n_layer = 1, d_model = 16, n_heads = 2 }"
    folder.mkdir(parents=True, exist_ok=True)
    ref_spec = _regex_spec(folder, sizes=one, mults="[4]", name="plain")
    ref = run_sweep(load_spec(ref_spec), folder / "ref.db", show_progress=False)[0]
    spec = _regex_spec(folder, extra_args=', "--hang_at=7", "--hang_marker={run_dir}/hung-once"',
                       trainer_extra="progress_timeout_s = 1.5", sizes=one, mults="[4]", name="hang")
    t0 = time.perf_counter()
    res = run_sweep(load_spec(spec), folder / "hang.db", show_progress=False, max_retries=1)[0]
    dt = time.perf_counter() - t0
    st = Store(folder / "hang.db")
    try:
        evals = st.evaluations(res.run_id)
        hist = st.attempts(res.run_id)
        errs = [g["message"] for g in st.logs(res.run_id) if g["level"] == "error"]
        left_running = len(st.list_runs(status="running"))
    finally:
        st.close()
    done = sum(h["outcome"] == "done" for h in hist)
    return {"injected": int(any("no progress" in e for e in errs)), "killed_with_last_output":
            int(any("no progress" in e and "step 5 tokens" in e for e in errs)), "seconds": dt,
            "lost": int(res.status != "done" or done == 0), "duplicated": max(0, len(evals) - 1),
            "trained_twice": int(done > 1), "left_running": left_running,
            "wrong": int(not evals or abs(evals[0]["loss_nats"] - ref.final_loss_nats) > 1e-9)}


def cluster_faults(rows: list[tuple[str, str]], n: int) -> int:
    """Inject each cluster fault ``n`` times; append one row per fault; return the failures counted."""
    from _pgserver import PgServer, why_unavailable
    from test_crash import reference
    from test_faults import (
        ONE_RUN_SPEC,
        disk_full_trial,
        pg_giveup_trial,
        pg_outage_trial,
        reference_for,
        sigstop_trial,
        tiny_reference,
    )

    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # 1. PostgreSQL stopped and started mid-sweep (fast and immediate shutdowns, 3 s away each) -------
        if why_unavailable() is None:
            ref4 = reference(tmp / "ref4", scale=4)
            ref1 = reference(tmp / "ref1")
            with PgServer(durable=True) as pg:  # acknowledged commits survive an immediate shutdown
                t0 = time.perf_counter()
                trials: list[dict] = []
                while sum(t["injected"] for t in trials) < n and len(trials) < 2 * n:
                    left = n - sum(t["injected"] for t in trials)
                    trials.append(pg_outage_trial(pg, tmp / f"pg{len(trials)}", ref4, outages=min(3, left),
                                                  outage_s=3.0, scale=4))
                inj = sum(t["injected"] for t in trials)
                tal = _tally(trials)
                bad = sum(_bad(t) for t in trials) + sum(t["exit"] != 0 for t in trials) + (inj < n) + sum(
                    t["tracebacks"] for t in trials)
                failures += bad
                rows.append(("postgresql restarted mid-sweep / lost / twice / wrong",
                             f"{inj} stops in {len(trials)} sweeps / {tal['lost']} / {tal['trained_twice']} / "
                             f"{tal['wrong']}  (duplicated rows {tal['duplicated']}, left running "
                             f"{tal['left_running']}, sweeps failed {sum(t['exit'] != 0 for t in trials)}, "
                             f"retry log lines {sum(t['retry_lines'] for t in trials)}; "
                             f"{time.perf_counter() - t0:.0f} s)"))
                t0 = time.perf_counter()
                away = [pg_giveup_trial(pg, tmp / f"away{i}", ref1, retry_s=2.0) for i in range(n)]
                inj = sum(t["injected"] for t in away)
                tal = _tally(away)
                clean = sum(t["exit"] == 2 and t["error_lines"] == 1 and t["tracebacks"] == 0 for t in away)
                failures += sum(_bad(t) for t in away) + (inj < n) + (n - clean) + sum(t["rerun_exit"] != 0 for t in away)
                rows.append(("postgresql away past the limit / lost / twice / wrong",
                             f"{inj} outages, {clean} stopped with one error line (after "
                             f"{max(t['stopped_after_s'] for t in away):.1f} s at most, limit 2 s), "
                             f"{sum(t['rerun_exit'] == 0 for t in away)} reruns completed / {tal['lost']} / "
                             f"{tal['trained_twice']} / {tal['wrong']}  (duplicated rows {tal['duplicated']}, "
                             f"left running {tal['left_running']}; {time.perf_counter() - t0:.0f} s)"))
        else:
            rows.append(("postgresql faults", f"skipped: {why_unavailable()}"))

        # 2. a Ray worker killed mid-run ---------------------------------------------------------------------
        try:
            import ray  # noqa: F401
            from test_ray import worker_kill_trial

            t0 = time.perf_counter()
            wk = worker_kill_trial(tmp / "ray", kills=n)
            failures += _bad(wk) + (wk["killed"] < n) + (wk["exit"] != 0) + (wk["killed_attempts_lost"] != wk["killed"])
            rows.append(("ray workers killed mid-run / lost / twice / wrong",
                         f"{wk['killed']} killed in {wk['victim_runs']} runs / {wk['lost']} / {wk['trained_twice']} / "
                         f"{wk['wrong']}  (killed attempts recorded lost {wk['killed_attempts_lost']}, victims "
                         f"finished from a checkpoint {wk['resumed_from_checkpoint']}, duplicated rows "
                         f"{wk['duplicated']}, driver exit {wk['exit']}; {time.perf_counter() - t0:.0f} s)"))
        except ImportError:
            rows.append(("ray worker kills", "skipped: ray is not installed"))

        # 3. disk full under the checkpoints / the store -----------------------------------------------------
        t0 = time.perf_counter()
        tref = tiny_reference(tmp / "tiny-ref")
        disk = [disk_full_trial(tmp / f"disk{i}", tref, target=("checkpoint", "store")[i % 2]) for i in range(2 * n)]
        tal = _tally(disk)
        good = sum(t["injected"] and t["named_path"] and t["disk_full_error"] and t["previous_intact"]
                   and not t["temp_files_left"] and t["resumed_from_step"] >= 6 for t in disk)
        failures += sum(_bad(t) for t in disk) + (2 * n - good)
        rows.append(("disk full (checkpoint, store) / lost / twice / wrong",
                     f"{sum(t['injected'] for t in disk[0::2])} + {sum(t['injected'] for t in disk[1::2])} "
                     f"({'8 MB tmpfs filled' if disk[0]['mounted'] else 'injected ENOSPC / SQLITE_FULL'}) / "
                     f"{tal['lost']} / {tal['trained_twice']} / {tal['wrong']}  (errors naming the path, previous "
                     f"checkpoint intact, resumed after freeing: {good} of {2 * n}; "
                     f"{time.perf_counter() - t0:.0f} s)"))

        # 4. a hung external trainer (no output, never exits) ---------------------------------------------
        try:
            t0 = time.perf_counter()
            hung = [hung_trainer_trial(tmp / f"hung{i}") for i in range(n)]
            tal = _tally(hung)
            inj = sum(t["injected"] for t in hung)
            failures += sum(_bad(t) for t in hung) + (inj < n) + (n - sum(t["killed_with_last_output"] for t in hung))
            rows.append(("hung trainer killed and retried / lost / twice / wrong",
                         f"{inj} hangs (no-progress timeout 1.5 s) / {tal['lost']} / {tal['trained_twice']} / "
                         f"{tal['wrong']}  (killed with its last output kept: "
                         f"{sum(t['killed_with_last_output'] for t in hung)} of {n}, duplicated rows "
                         f"{tal['duplicated']}; {time.perf_counter() - t0:.0f} s)"))
        except ImportError as exc:
            rows.append(("hung trainer", f"skipped: {exc}"))

        # 5. a worker SIGSTOPped past its lease -----------------------------------------------------------
        t0 = time.perf_counter()
        spec_text = ONE_RUN_SPEC.replace("{D}", str(2048 * 4))
        sref = reference_for(tmp / "stop-ref", spec_text)
        stops = [sigstop_trial(tmp / f"stop{i}", sref, spec_text=spec_text, lease_s=2.0) for i in range(n)]
        tal = _tally(stops)
        fenced = sum(t["a_leased"] == 1 and [o for _, _, o in t["attempts"]] == ["lost", "done"]
                     and t["done_logs"] == 1 and t["files_left"] == 0 for t in stops)
        inj = sum(t["injected"] for t in stops)
        failures += sum(_bad(t) for t in stops) + (inj < n) + (n - fenced) + sum(t["b_exit"] != 0 for t in stops)
        rows.append(("worker paused past its lease / lost / twice / wrong",
                     f"{inj} SIGSTOPs (lease 2 s) / {tal['lost']} / {tal['trained_twice']} / {tal['wrong']}  "
                     f"(paused worker stopped without writing: {fenced} of {n}; duplicated rows "
                     f"{tal['duplicated']}; {time.perf_counter() - t0:.0f} s)"))
    return failures


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller budgets (about a minute)")
    ap.add_argument("--kills", type=int, default=None, help="SIGKILL trials (default 20, quick 3)")
    ap.add_argument("--skip-torch", action="store_true", help="skip kill-and-resume, two-sweep and fault trials")
    ap.add_argument("--faults", type=int, default=None, help="injections per cluster fault (default 5, quick 2)")
    ap.add_argument("--only-faults", action="store_true", help="only the cluster-fault trials")
    args = ap.parse_args()
    quick = args.quick
    failures = 0
    rows: list[tuple[str, str]] = []
    if args.only_faults:
        failures += cluster_faults(rows, args.faults if args.faults is not None else (2 if quick else 5))
        width = max(len(k) for k, _ in rows)
        for k, v in rows:
            print(f"{k:<{width}}  {v}")
        print(f"reliability_failures: {failures}")
        return 0

    # 1. fuzzing ----------------------------------------------------------------------------------------
    import fuzz

    t0 = time.perf_counter()
    fz = fuzz.run(scale=0.1 if quick else 1.0, out=lambda *_: None)
    failures += fz["failures"]
    rows.append(("fuzz cases tried / failing properties", f"{fz['cases']} / {fz['failures']}"
                 + (f"  ({', '.join(fz['failed'])})" if fz["failed"] else "")
                 + f"  [{time.perf_counter() - t0:.0f} s]"))

    # 2. hostile law strings ----------------------------------------------------------------------------
    h = hostile()
    failures += h["accepted"] + h["executed"]
    rows.append(("hostile law strings rejected / executed",
                 f"{h['rejected']} of {h['strings']} / {h['executed']}  (slowest rejection {h['slowest_ms']:.1f} ms)"))

    # 3. concurrent writers -----------------------------------------------------------------------------
    from test_concurrency import concurrent_writers, two_sweeps

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        cw = concurrent_writers(Path(tmp), writers=8, records=200 if quick else 1000)
        dt = time.perf_counter() - t0
    bad = cw["lost"] + cw["duplicated"] + cw["wrong"] + cw["double_claims"] + len(cw["errors"])
    failures += bad
    rows.append(("concurrent writers x records / lost / duplicated",
                 f"{cw['writers']} x {cw['records'] // cw['writers']} / {cw['lost']} / {cw['duplicated']}"
                 f"  (runs claimed twice {cw['double_claims']}, writer errors {len(cw['errors'])}; "
                 f"{cw['records'] / dt:,.0f} records/s)"))

    from _pgserver import PgServer, why_unavailable

    if why_unavailable() is None:
        with tempfile.TemporaryDirectory() as tmp, PgServer() as pg:
            t0 = time.perf_counter()
            cwp = concurrent_writers(Path(tmp), writers=8, records=200 if quick else 1000, url=pg.new_database())
            dt = time.perf_counter() - t0
        failures += cwp["lost"] + cwp["duplicated"] + cwp["wrong"] + cwp["double_claims"] + len(cwp["errors"])
        rows.append(("postgresql writers x records / lost / duplicated",
                     f"{cwp['writers']} x {cwp['records'] // cwp['writers']} / {cwp['lost']} / {cwp['duplicated']}"
                     f"  (runs claimed twice {cwp['double_claims']}, writer errors {len(cwp['errors'])}; "
                     f"{cwp['records'] / dt:,.0f} records/s)"))
    else:
        rows.append(("postgresql writers", f"skipped: {why_unavailable()}"))

    # 4. SIGKILL and resume; two sweeps on one store -----------------------------------------------------
    if args.skip_torch:
        rows.append(("kill-and-resume", "skipped (--skip-torch)"))
    else:
        from test_crash import kill_and_resume, reference

        kills = args.kills if args.kills is not None else (3 if quick else 20)
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            # 4x longer training than the test's sweep, so that kills also land in checkpoint writes
            ref4 = reference(Path(tmp) / "ref4", scale=4)
            kr = kill_and_resume(Path(tmp) / "sweep", ref4, kills=kills, seed=12345, kills_per_round=2, scale=4)
            ref = reference(Path(tmp) / "ref")
            dt = time.perf_counter() - t0
            failures += kr["lost"] + kr["duplicated"] + kr["wrong"] + kr["final_exit"] + (kr["killed"] < kills)
            rows.append(("kill-and-resume trials / runs lost / duplicated",
                         f"{kr['killed']} killed mid-sweep ({kr['trials']} tries in {kr['rounds']} rounds, "
                         f"{kr['damaged_checkpoints']} checkpoints damaged) / {kr['lost']} / {kr['duplicated']}  "
                         f"(wrong losses {kr['wrong']}; kill moments in {kr['min_delay_s']:.1f}-{kr['max_delay_s']:.1f} s; {dt:.0f} s)"))
            ts = two_sweeps(Path(tmp) / "both", ref)
            failures += ts["trained_twice"] + ts["lost"] + ts["duplicated"] + ts["wrong"] + sum(
                c != 0 for c in ts["exit_codes"])
            rows.append(("two sweeps on one store: trained twice / lost",
                         f"{ts['trained_twice']} / {ts['lost']}  (max attempts per run {ts['attempts_max']})"))

    if not args.skip_torch:
        failures += cluster_faults(rows, args.faults if args.faults is not None else (2 if quick else 5))

    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    for name, msg in fz["messages"].items():
        print(f"\nfuzz property {name} failed:\n{msg}")
    print(f"reliability_failures: {failures}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
