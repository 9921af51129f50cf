"""Fault-injection campaign: the native trainer is killed, starved and corrupted at random points;
after every fault it must resume exactly, or name the bad checkpoint and fall back to the
previous good one.

    OPTIML_DATA_DIR=/path/to/data python benchmarks/faults.py [--seed 0] [--out DIR]

Two chains of faults, each on a fresh MODEL_DIR, run the tiny model (`gin/native/opt_iml_tiny.gin`,
2 CPU devices, 2 x 128-token rows, a checkpoint every 3 steps) to the end through
`python -m optiml_jax.train`'s `main`; after each fault the job is restarted. Fault kinds:

  kill -9 during the first save         SIGKILL while checkpoint_3 is being written
  kill -9 during a training step        SIGKILL at a random moment between saves
  kill -9 during an async save          SIGKILL while a later checkpoint is being written
  kill -9 right after a save            SIGKILL as soon as a checkpoint is committed
  newest checkpoint truncated           between runs: a file of it cut to half (data or JSON)
  newest checkpoint's marker deleted    between runs: its commit_success.txt removed
  disk full during a save               the job runs with RLIMIT_FSIZE at 2 MiB: its writes fail
                                        (EFBIG, as a full disk fails them with ENOSPC)
  SIGTERM during evaluation             SIGTERM while the in-training evaluation runs

A fault is *survived* when the next start resumes from the checkpoint it should (the newest
committed one; for a corrupted one, the previous one, after naming the bad one), *resumed
exactly* when every per-step loss logged so far equals the uninterrupted run's bit for bit (and,
at the chain's end, so do the final parameters), and *data lost* counts the steps whose loss is
then missing or different. Every job is a fresh process forked from this one after the imports
(importing JAX, the trainer and the bench would otherwise dominate the campaign's time), with the JAX
compilation cache on disk; nothing else is shared. Prints the table and a JSON summary.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import hashlib
import json
import os
import random
import re
import resource
import shutil
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

# Before JAX is imported: 2 CPU devices for every job, and one compilation cache for all of them.
os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
os.environ["JAX_PLATFORMS"] = "cpu"
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "-1")

REPO = Path(__file__).resolve().parents[1]
STEPS = 60
SAVE_PERIOD = 3
BINDINGS = (f"TRAIN_STEPS={STEPS}", f"SAVE_PERIOD={SAVE_PERIOD}", "BATCH_SIZE=2",
            "WARMUP_STEPS=2", "TASK_FEATURE_LENGTHS={'inputs': 64, 'targets': 64}",
            "train_script.train.progress_bar=False")
WRITE_LIMIT = 2 * 2**20  # bytes per file; every checkpoint has larger files
TIMEOUT = 180.0  # seconds any one wait may take

KILL_FIRST_SAVE = "kill -9 during the first save"
KILL_STEP = "kill -9 during a training step"
KILL_ASYNC_SAVE = "kill -9 during an async save"
KILL_AFTER_SAVE = "kill -9 right after a save"
TRUNCATED = "newest checkpoint truncated"
MARKER_DELETED = "newest checkpoint's marker deleted"
DISK_FULL = "disk full during a save"
SIGTERM_EVAL = "SIGTERM during evaluation"
KINDS = (KILL_FIRST_SAVE, KILL_STEP, KILL_ASYNC_SAVE, KILL_AFTER_SAVE, TRUNCATED, MARKER_DELETED,
         DISK_FULL, SIGTERM_EVAL)
# A corruption follows two commits at least (it must leave a previous good checkpoint).
CHAINS = (
    (KILL_FIRST_SAVE, KILL_AFTER_SAVE, KILL_STEP, KILL_AFTER_SAVE, TRUNCATED, KILL_ASYNC_SAVE,
     KILL_AFTER_SAVE, MARKER_DELETED, DISK_FULL, KILL_STEP, KILL_AFTER_SAVE, SIGTERM_EVAL),
    (KILL_FIRST_SAVE, KILL_STEP, KILL_AFTER_SAVE, KILL_AFTER_SAVE, MARKER_DELETED,
     KILL_ASYNC_SAVE, KILL_AFTER_SAVE, TRUNCATED, DISK_FULL, KILL_STEP, SIGTERM_EVAL,
     KILL_ASYNC_SAVE),
)
# What `newest checkpoint truncated` cuts, by chain: array data, or the data stream's position.
TRUNCATION_VICTIMS = ("largest file", "dataset/metadata")


@dataclasses.dataclass
class Fault:
    kind: str
    detail: str = ""
    expected_start: int = 0          # the step the next start must resume from
    expected_unusable: int | None = None  # the checkpoint the next start must name as unusable
    survived: bool = False
    resumed_exactly: bool = False
    data_lost: int = 0


class Job:
    """One training job: a child forked from this process, logging to `log`."""

    def __init__(self, model_dir: Path, log: Path, bindings=(), write_limit: int | None = None):
        from optiml_jax.train import main

        self.log = log
        argv = ["--gin_file=gin/native/opt_iml_tiny.gin", f'--gin.MODEL_DIR="{model_dir}"',
                *(f"--gin.{b}" for b in (*BINDINGS, *bindings))]
        descriptor = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        self.pid = os.fork()
        if self.pid == 0:  # the job
            os.dup2(descriptor, 1)
            os.dup2(descriptor, 2)
            if write_limit:  # writes past the limit fail with EFBIG instead of killing the job
                signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
                resource.setrlimit(resource.RLIMIT_FSIZE, (write_limit, write_limit))
            code = 0
            try:
                os.chdir(REPO)
                main(argv)
            except BaseException:  # the job's failure is what the campaign inspects
                traceback.print_exc()
                code = 1
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        os.close(descriptor)
        self.returncode: int | None = None

    def running(self) -> bool:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode is None

    def send(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def wait(self, timeout: float = TIMEOUT) -> int:
        wait_for(lambda: not self.running(), self, timeout, allow_exit=True)
        return self.returncode

    def text(self) -> str:
        return self.log.read_text(errors="replace")


def wait_for(condition, job: Job, timeout: float = TIMEOUT, poll: float = 0.001,
             allow_exit: bool = False) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if not allow_exit and not job.running():
            raise RuntimeError(f"the job ended (exit {job.returncode}) before the fault could be "
                               f"injected; see {job.log}")
        if time.monotonic() > deadline:
            job.send(signal.SIGKILL)
            raise TimeoutError(f"no progress within {timeout:.0f} s; see {job.log}")
        time.sleep(poll)


# --- what is on disk --------------------------------------------------------------------------

def committed(model_dir: Path) -> list[int]:
    from optiml_jax import checkpoints

    return [step for step, _ in checkpoints.step_dirs(model_dir)]


def saving(model_dir: Path) -> bool:
    return model_dir.is_dir() and any(".orbax-checkpoint-tmp" in p.name
                                      for p in model_dir.iterdir())


def logged_losses(model_dir: Path) -> dict[int, float]:
    path = model_dir / "train" / "metrics.jsonl"
    if not path.exists():
        return {}
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]
    return {m["step"]: m["loss"] for m in lines if "loss" in m}


def params_digest(model_dir: Path) -> str:
    """sha256 over the final parameters, computed in a forked child (JAX stays uninitialised
    here, so that later forks stay safe)."""
    handle, result = tempfile.mkstemp(suffix=".digest")
    os.close(handle)
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            import jax

            from optiml_jax import checkpoints

            params = checkpoints.restore_params(checkpoints.resolve_step_dir(model_dir))
            digest = hashlib.sha256()
            for leaf in jax.tree.leaves(params):
                digest.update(leaf.tobytes())
            Path(result).write_text(digest.hexdigest())
        except BaseException:  # reported by the parent as an empty digest
            traceback.print_exc()
            code = 1
        os._exit(code)
    os.waitpid(pid, 0)
    digest = Path(result).read_text()
    os.unlink(result)
    if not digest:
        raise RuntimeError(f"could not read the final parameters of {model_dir}")
    return digest


# --- injecting ----------------------------------------------------------------------------------

class Chain:
    """One MODEL_DIR driven to the end through a sequence of faults."""

    def __init__(self, name: str, out: Path, reference: dict[int, float], rng: random.Random,
                 eval_pattern: str, truncation_victim: str):
        self.model_dir = (out / name).absolute()
        self.truncation_victim = truncation_victim
        self.logs = out / f"{name}_logs"
        self.logs.mkdir(parents=True)
        self.reference, self.rng, self.eval_pattern = reference, rng, eval_pattern
        self.jobs = 0
        self.unverified: list[Fault] = []  # faults waiting for the next start to judge them

    def start(self, bindings=(), write_limit=None) -> Job:
        self.jobs += 1
        return Job(self.model_dir, self.logs / f"job_{self.jobs:02d}.log", bindings, write_limit)

    def judge(self, job: Job) -> None:
        """The pending faults' verdicts, from how `job` started and what it logged."""
        text = job.text()
        for fault in self.unverified:
            if fault.expected_start:
                started = f"resumed from {self.model_dir}/checkpoint_{fault.expected_start}\n"
            else:
                started = "training steps 0 →"
            fault.survived = started in text and (
                fault.expected_unusable is None
                or f"checkpoint {self.model_dir}/checkpoint_{fault.expected_unusable} is unusable"
                in text)
            if fault.expected_start == 0:
                fault.survived &= "resumed from" not in text
            losses = logged_losses(self.model_dir)
            wrong = [s for s, loss in losses.items() if self.reference.get(s) != loss]
            fault.data_lost = len(wrong)
            fault.resumed_exactly = fault.survived and not wrong
        self.unverified = []

    def inject(self, kind: str) -> Fault:
        fault = Fault(kind)
        if kind in (TRUNCATED, MARKER_DELETED):
            self._corrupt_newest(fault)
        else:
            job = self._run_until_fault(fault)
            self.judge(job)
            fault.expected_start = max(committed(self.model_dir), default=0)
        self.unverified.append(fault)
        return fault

    def _run_until_fault(self, fault: Fault) -> Job:
        kind, model_dir = fault.kind, self.model_dir
        if kind == DISK_FULL:
            job = self.start(write_limit=WRITE_LIMIT)
            code = job.wait()
            if code == 0 or "Writing a checkpoint in" not in job.text():
                raise RuntimeError(f"{kind}: the job did not stop naming the failed write "
                                   f"(exit {code}); see {job.log}")
            fault.detail = "exit 1: " + re.search(r"Writing a checkpoint in .*? failed",
                                                  job.text()).group(0)
            return job
        if kind == SIGTERM_EVAL:
            at = max(committed(model_dir), default=0) + self.rng.randint(1, 3)
            job = self.start((f"EVAL_PERIOD={at}", "TRAIN_EVAL_EXAMPLES_PER_TASK=1",
                              f"train_hook.train_eval_fn.task_pattern={self.eval_pattern!r}",
                              "train_hook.train_eval_fn.max_new_tokens=2",
                              "train_hook.train_eval_fn.batch_size=2"))
            wait_for(lambda: f"evaluating at step {at}" in job.text(), job, poll=0.01)
            job.send(signal.SIGTERM)
            code = job.wait()
            if code != 0 or f"saved step {at}, exiting" not in job.text():
                raise RuntimeError(f"{kind}: the job did not save step {at} and exit "
                                   f"(exit {code}); see {job.log}")
            fault.detail = f"at step {at}; saved it and exited 0"
            return job
        job = self.start()
        # Armed once the job has restored (and removed what an earlier kill left half-written).
        wait_for(lambda: "training steps" in job.text(), job, poll=0.01)
        before = committed(model_dir)
        if kind == KILL_FIRST_SAVE:
            wait_for(lambda: saving(model_dir), job)
        elif kind == KILL_ASYNC_SAVE:
            wait_for(lambda: saving(model_dir) and committed(model_dir), job)
        elif kind == KILL_AFTER_SAVE:
            wait_for(lambda: max(committed(model_dir), default=0) > max(before, default=0), job)
        else:  # KILL_STEP: a few steps in, then a random moment
            target = max(logged_losses(model_dir), default=0) + self.rng.randint(1, 4)
            wait_for(lambda: max(logged_losses(model_dir), default=0) >= target, job)
            time.sleep(self.rng.uniform(0.0, 0.15))
        job.send(signal.SIGKILL)
        job.wait()
        partial = saving(model_dir)
        if kind in (KILL_FIRST_SAVE, KILL_ASYNC_SAVE) and not partial:
            fault.kind = KILL_AFTER_SAVE  # the save committed before the signal landed
        fault.detail = (f"at step {max(logged_losses(model_dir), default=0)}, committed "
                        f"{committed(model_dir) or 'none'}"
                        + (", a save left half-written" if partial else ""))
        return job

    def _corrupt_newest(self, fault: Fault) -> None:
        from optiml_jax import checkpoints

        steps = committed(self.model_dir)
        if len(steps) < 2:
            raise RuntimeError(f"{fault.kind}: needs two committed checkpoints, found {steps}")
        newest = checkpoints.step_dir(self.model_dir, steps[-1])
        if fault.kind == MARKER_DELETED:
            (Path(newest) / "commit_success.txt").unlink()
            fault.detail = f"checkpoint_{steps[-1]}/commit_success.txt deleted"
        else:
            victim = Path(newest) / self.truncation_victim
            if self.truncation_victim == "largest file":
                victim = max((p for p in Path(newest).rglob("*") if p.is_file()),
                             key=lambda p: p.stat().st_size)
            os.truncate(victim, victim.stat().st_size // 2)
            fault.detail = f"{victim.relative_to(self.model_dir)} cut to half"
        # The unverified kill before this one expected the newest; the start after must fall back.
        for pending in (*self.unverified, fault):
            pending.expected_start = steps[-2]
            pending.expected_unusable = steps[-1]

    def finish(self) -> Job:
        job = self.start()
        if job.wait() != 0:
            raise RuntimeError(f"the final run failed; see {job.log}")
        self.judge(job)
        return job


def run_campaign(out: Path, seed: int) -> dict:
    import optiml_jax.tasks  # noqa: F401  (registers the bench before the jobs fork)
    from optiml_jax.evaluation.runner import evaluation_tasks

    present, _ = evaluation_tasks("dev", [0])
    eval_pattern = "^" + re.escape(sorted(spec.name for spec in present)[0]) + "$"
    rng = random.Random(seed)
    started = time.monotonic()
    reference_dir = out / "uninterrupted"
    job = Job(reference_dir.absolute(), out / "uninterrupted.log")
    if job.wait() != 0:
        raise RuntimeError(f"the uninterrupted run failed; see {job.log}")
    reference = logged_losses(reference_dir)
    reference_digest = params_digest(reference_dir)

    faults: list[Fault] = []
    chains = []
    for index, plan in enumerate(CHAINS):
        chain = Chain(f"chain_{index}", out, reference, rng, eval_pattern,
                      TRUNCATION_VICTIMS[index % len(TRUNCATION_VICTIMS)])
        for kind in plan:
            fault = chain.inject(kind)
            faults.append(fault)
            print(f"chain {index}: {fault.kind:<36} {fault.detail}", flush=True)
        chain.finish()
        final = logged_losses(chain.model_dir)
        missing = [s for s in reference if final.get(s) != reference[s]]
        same_params = params_digest(chain.model_dir) == reference_digest
        chains.append({"jobs": chain.jobs, "steps_equal": len(reference) - len(missing),
                       "steps": len(reference), "final_params_equal": same_params})
        if missing or not same_params:  # the chain lost data: none of its faults resumed exactly
            for fault in faults[-len(plan):]:
                fault.resumed_exactly = False
                fault.data_lost = max(fault.data_lost, len(missing) + (not same_params))
    return summarize(faults, chains, time.monotonic() - started)


def summarize(faults: list[Fault], chains: list[dict], seconds: float) -> dict:
    by_kind = collections.defaultdict(list)
    for fault in faults:
        by_kind[fault.kind].append(fault)
    rows = [(kind, len(group), sum(f.survived for f in group),
             sum(f.resumed_exactly for f in group), sum(f.data_lost for f in group))
            for kind, group in ((k, by_kind[k]) for k in KINDS if by_kind[k])]
    totals = ("total", *(sum(row[i] for row in rows) for i in range(1, 5)))
    print(f"\n{'fault':<36} {'injected':>8} {'survived':>8} {'resumed exactly':>15} "
          f"{'data lost':>9}")
    for row in (*rows, totals):
        print(f"{row[0]:<36} {row[1]:>8} {row[2]:>8} {row[3]:>15} {row[4]:>9}")
    for index, chain in enumerate(chains):
        print(f"chain {index}: {chain['jobs']} job starts; per-step losses equal to the "
              f"uninterrupted run: {chain['steps_equal']}/{chain['steps']}; final parameters "
              f"bitwise equal: {'yes' if chain['final_params_equal'] else 'NO'}")
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    cpu = sum(u.ru_utime + u.ru_stime for u in usage)
    print(f"campaign: {seconds:.0f} s wall, {cpu:.0f} s CPU (this process and its jobs)")
    summary = {"benchmark": "faults", "faults": totals[1], "kinds": len(rows),
               "survived": totals[2], "resumed_exactly": totals[3], "data_lost": totals[4],
               "chains": chains, "wall_s": round(seconds), "cpu_s": round(cpu)}
    print(json.dumps(summary))
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0, help="where the faults land")
    parser.add_argument("--out", help="working folder (default: a temporary one, removed after)")
    args = parser.parse_args()
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="optiml_faults_"))
    out.mkdir(parents=True, exist_ok=True)
    # One compilation cache for every job (read when JAX is first imported, in the jobs' parent).
    os.environ["JAX_COMPILATION_CACHE_DIR"] = str((out / "jax_cache").absolute())
    try:
        summary = run_campaign(out, args.seed)
    finally:
        if not args.out:
            shutil.rmtree(out, ignore_errors=True)
    healthy = summary["survived"] == summary["resumed_exactly"] == summary["faults"]
    sys.exit(0 if healthy and summary["data_lost"] == 0 else 1)


if __name__ == "__main__":
    main()
