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
    return [argv for block in code_blocks(text) for argv in block_commands(block, program_prefix)]


def block_commands(block: str, program_prefix: str) -> list[list[str]]:
    """`commands` of one code block's text."""
    found = []
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
    workers = {"v4-64": 8, "v5p-128": 16}
    runs = set()
    for argv in tpu:
        output = dry_run_tpu(argv)
        flag = dict(zip(argv, argv[1:]))
        if argv[0].endswith("create.sh"):
            assert f"--accelerator-type={flag['--accelerator']}" in output
        if argv[0].endswith("run.sh"):
            trainer = flag.get("--trainer", "native")
            runs.add((flag["--accelerator"], flag["--gin_file"], trainer))
            assert output.count(f"tpu-vm ssh {flag['--name']} --worker=") == workers[flag["--accelerator"]]
            assert ("--process_index=" in output) == (trainer == "native")
    assert {("v4-64", "gin/native/opt_iml_30b.gin", "native"),
            ("v5p-128", "gin/native/opt_iml_175b.gin", "native"),
            ("v5p-128", "gin/opt_iml_175b.gin", "t5x")} <= runs


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


CHECK_SCRIPT = (REPO / "scripts" / "check_t5x.sh").read_text()
# The tiny commands' CPU-only arguments (the README explains each); the rest equals the 30B run's.
CPU_ONLY = {"--gin.TRAIN_STEPS", "--gin.partitioning.PjitPartitioner.model_parallel_submesh",
            "--gin.partitioning.PjitPartitioner.num_partitions", "--gin.seqio.Evaluator.num_examples",
            "--max_examples_per_task"}


def check_script_commands() -> list[list[str]]:
    """The `"$PYTHON" ...` programs scripts/check_t5x.sh runs, as a reader of the README would
    type them: `$PYTHON` is `python`, the script's defaults (`TRAIN_STEPS=${TRAIN_STEPS:-12}`)
    filled in, `$WORK` kept; output redirection and `|| fail` dropped. Step 3's run from a
    per-layer conversion is the check's own negative case, not a README command."""
    defaults = dict(re.findall(r"^(\w+)=\$\{\1:-(\w+)\}$", CHECK_SCRIPT, flags=re.M))
    found = []
    for line in CHECK_SCRIPT.replace("\\\n", " ").splitlines():
        if not line.startswith('"$PYTHON" '):
            continue
        argv = []
        for arg in shlex.split(line):
            if arg.startswith((">", "2>", "|")):
                break
            argv.append(re.sub(r"\$(\w+)", lambda m: defaults.get(m[1], m[0]), arg))
        argv[0] = "python"
        if argv[1] != "-c" and not any("per_layer" in arg for arg in argv):  # -c: the import check
            found.append(argv)
    return found


def module(argv):
    return argv[argv.index("-m") + 1] if "-m" in argv else argv[1]


def flags(argv):
    """`{flag name: value}`; repeated flags (--gin_file) keep a tuple of values."""
    named = {}
    for i, arg in enumerate(argv):
        if arg.startswith("--"):
            name, eq, value = arg.partition("=")
            if not eq:
                value = argv[i + 1] if i + 1 < len(argv) and not argv[i + 1].startswith("--") else ""
            named[name] = (*named[name], value) if name == "--gin_file" and name in named else \
                ((value,) if name == "--gin_file" else value)
    return named


def test_the_readme_tiny_t5x_block_is_what_the_t5x_check_runs():
    t5x = section("### Under real t5x")
    [tiny] = [block for block in code_blocks(t5x) if "gin/opt_iml_tiny.gin" in block]
    readme = block_commands(tiny, "python")
    script = check_script_commands()
    assert [module(argv) for argv in script] == [
        "scripts/random_hf_opt.py", "optiml_jax.convert", "t5x.train", "t5x.eval", "optiml_jax.eval"]
    assert readme == script  # every argument, in order
    # The environment the script runs them in is the one the README block exports.
    [script_env] = re.findall(r"^export (XLA_FLAGS=.*)$", CHECK_SCRIPT, flags=re.M)
    [readme_env] = [line for line in tiny.splitlines() if line.startswith("export ")]
    assert set(shlex.split(script_env)) <= set(shlex.split(readme_env)[1:])
    assert "WORK=" in readme_env
    for argv in readme:
        for name in flags(argv).get("--gin_file", ()):
            assert (REPO / name).is_file(), name


def test_the_readme_tiny_t5x_commands_are_the_30b_ones_plus_explained_cpu_settings():
    t5x = section("### Under real t5x")
    [tiny] = [block for block in code_blocks(t5x) if "gin/opt_iml_tiny.gin" in block]
    paper = [argv for block in code_blocks(t5x) if block != tiny
             for argv in block_commands(block, "python")]
    prose = re.sub(r"^```[a-z]*\n.*?^```$", "", t5x, flags=re.S | re.M)
    for argv in block_commands(tiny, "python")[1:]:  # after the random HF model, which stands in for opt-30b
        [twin] = [other for other in paper if module(other) == module(argv)]
        tiny_flags, twin_flags = flags(argv), flags(twin)
        assert set(tiny_flags) - CPU_ONLY == set(twin_flags), module(argv)
        gin_files = tiny_flags.get("--gin_file", ())
        assert tuple(name.replace("tiny", "30b") for name in gin_files) == twin_flags.get("--gin_file", ())
        if "--gin.MIXTURE_OR_TASK_NAME" in twin_flags:
            assert tiny_flags["--gin.MIXTURE_OR_TASK_NAME"] == twin_flags["--gin.MIXTURE_OR_TASK_NAME"]
        for name in set(tiny_flags) & CPU_ONLY:
            assert name.rsplit(".", 1)[-1].lstrip("-") in prose, f"{name} is not explained"
