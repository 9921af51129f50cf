"""README.md renders (every code fence closes) and the commands of its t5x, TPU and GPU sections
are the ones the launchers and the t5x check run."""

import os
import re
import shlex
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()


def section(heading: str) -> str:
    start = README.index(heading)
    end = README.find("\n#", start + len(heading))
    return README[start:end if end != -1 else len(README)]


def code_blocks(text: str) -> list[str]:
    return re.findall(r"^```[a-z]*\n(.*?)^```$", text, flags=re.S | re.M)


def commands(text: str, program_prefix: str) -> list[list[str]]:
    """The shell commands in the code blocks of `text` whose program starts with
    `program_prefix` (continuation lines joined; leading VAR=value assignments kept)."""
    found = []
    for block in code_blocks(text):
        for line in block.replace("\\\n", " ").splitlines():
            argv = shlex.split(line, comments=True)
            program = next((arg for arg in argv if "=" not in arg), None)
            if program and program.startswith(program_prefix):
                found.append(argv)
    return found


def test_every_code_fence_is_closed():
    fences = [line for line in README.splitlines() if line.startswith("```")]
    assert len(fences) % 2 == 0, "an odd number of ``` lines: a code block never closes"
    opening = fences[::2]
    closing = fences[1::2]
    assert all(line == "```" for line in closing), "a closing fence carries a language"
    assert all(re.fullmatch(r"```[a-z]*", line) for line in opening)
    for block in code_blocks(README):
        assert not re.search(r"^#{1,3} [A-Z]", block, flags=re.M), f"a heading inside code:\n{block}"


def dry_run_tpu(argv):
    script, *args = argv
    cut = args.index("--") if "--" in args else len(args)
    done = subprocess.run(["bash", script, "--dry-run", *args[:cut], *args[cut:]], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, (argv, done.stderr)
    return done.stdout


def test_tpu_section_commands_dry_run():
    tpu = commands(section("## TPU VMs (gcloud)"), "tpu_scripts/")
    assert {Path(argv[0]).name for argv in tpu} == {"create.sh", "setup.sh", "run.sh", "logs.sh",
                                                     "delete.sh", "eval.sh"}
    for argv in tpu:
        output = dry_run_tpu(argv)
        if argv[0].endswith("run.sh"):
            assert output.count("tpu-vm ssh opt-iml-30b --worker=") == 8  # v4-64: 8 workers


def test_gpu_section_command_dry_runs_under_slurm():
    [argv] = commands(section("## GPU clusters (SLURM)"), "sbatch")
    assignments = dict(a.split("=", 1) for a in argv[:argv.index("sbatch")])
    sbatch = argv[argv.index("sbatch"):]
    nodes = int(next(a for a in sbatch if a.startswith("--nodes=")).split("=")[1])
    script_at = next(i for i, a in enumerate(sbatch) if a.endswith(".sbatch"))
    env = {**os.environ, **assignments, "DRY_RUN": "1", "SLURM_JOB_NODELIST": "gpu[01-08]",
           "SLURM_NTASKS": str(nodes), "COORDINATOR_HOST": "gpu01"}
    done = subprocess.run(["bash", *sbatch[script_at:]], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    srun = [line for line in done.stdout.splitlines() if line.startswith("srun")]
    assert len(srun) == 2 and f"--process_count={nodes}" in srun[0]
    assert "optiml_jax.eval --checkpoint /shared/runs/opt-iml-30b" in srun[1]


def t5x_invocations(argvs):
    """`(module, gin files)` of each `python -m t5x.*` command."""
    return {(argv[argv.index("-m") + 1],
             tuple(a.split("=", 1)[1] for a in argv if a.startswith("--gin_file=")))
            for argv in argvs if "-m" in argv and argv[argv.index("-m") + 1].startswith("t5x.")}


def test_t5x_section_commands_are_the_ones_the_t5x_check_runs():
    readme = t5x_invocations(commands(section("### Under real t5x"), "python"))
    assert ("t5x.train", ("gin/opt_iml_tiny.gin",)) in readme
    assert ("t5x.eval", ("gin/models/opt_30b.gin", "gin/opt_iml_eval.gin")) in readme
    for _, gin_files in readme:
        assert all((REPO / name).is_file() for name in gin_files), gin_files
    check = (REPO / "scripts" / "check_t5x.sh").read_text()
    assert '"$PYTHON" -m t5x.train --gin_file=gin/opt_iml_tiny.gin --gin.MODEL_DIR=' in check
    assert ('"$PYTHON" -m t5x.eval --gin_file=gin/models/opt_tiny.gin '
            '--gin_file=gin/opt_iml_eval.gin') in check
    assert '-m optiml_jax.convert hf --src "$WORK/hf" --dest "$WORK/converted"' in check
    assert '-m optiml_jax.eval --checkpoint "$MODEL_DIR"' in check
