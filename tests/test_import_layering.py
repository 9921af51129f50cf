"""Layering: the native path runs without TensorFlow and SeqIO, and the data, evaluation and catalog
packages import each other in one direction only (docs/architecture.md, "Layering").

The native trainer, evaluator, catalog and packed stream import neither TensorFlow nor SeqIO;
only the SeqIO adapter (`optiml_jax.vocab`, `optiml_jax.seqio_tasks`, `optiml_jax.seqio_*`) does.
One exception is data-dependent: a task read from a TFDS dataset imports `tensorflow_datasets`
(and so TensorFlow) when its rows are first read (`optiml_jax.data.formats.tfds_rows`). The local
data has no TFDS datasets, so the first batch below is built without TensorFlow; with TFDS
datasets present, TensorFlow may be loaded only together with `tensorflow_datasets`.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

from data_fixtures import real_data_dir

REPO = Path(__file__).resolve().parents[1]
# The three packages and where their files are (`tasks/` is installed as `optiml_jax.tasks`).
PACKAGES = {"data": REPO / "optiml_jax" / "data", "evaluation": REPO / "optiml_jax" / "evaluation",
            "tasks": REPO / "tasks"}
MODULE_PREFIXES = {"optiml_jax.data": "data", "optiml_jax.evaluation": "evaluation", "optiml_jax.tasks": "tasks"}
ALLOWED = {("evaluation", "data"), ("tasks", "data")}  # tasks → data → constants ← data ← evaluation
# What the native packages may never import, anywhere: SeqIO, TensorFlow and the SeqIO adapter.
ADAPTER = ("seqio", "tensorflow", "optiml_jax.vocab", "optiml_jax.seqio_tasks", "optiml_jax.seqio_preprocessors",
           "optiml_jax.seqio_evaluation")
NO_HEAVY_MODULES = """
import json, sys
loaded = {name: name in sys.modules for name in ("tensorflow", "seqio", "tensorflow_datasets")}
print("RESULT " + json.dumps(loaded))
"""


def _run(code: str, **env) -> dict:
    done = subprocess.run([sys.executable, "-c", code + NO_HEAVY_MODULES], cwd=REPO, capture_output=True, text=True,
                          timeout=600, env={**os.environ, **env})
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.split("RESULT ", 1)[1])


def test_native_entry_points_import_neither_tensorflow_nor_seqio():
    real_data_dir()  # With the data present, registration reads PromptSource templates too.
    loaded = _run("import optiml_jax.tasks, optiml_jax.data.pipeline, optiml_jax.train, optiml_jax.eval\n")
    assert loaded == {"tensorflow": False, "seqio": False, "tensorflow_datasets": False}


def test_first_packed_batch_is_built_without_tensorflow_or_seqio(tmp_path):
    real_data_dir()
    loaded = _run("import optiml_jax.tasks\n"
                  "from optiml_jax.data.pipeline import PackedBatchStream\n"
                  "batch = next(PackedBatchStream('opt_iml_train', batch_size=2, sequence_length=256))\n"
                  "assert batch['decoder_input_tokens'].shape == (2, 256)\n",
                  OPTIML_CACHE_DIR=str(tmp_path / "cache"))
    assert not loaded["seqio"]
    # TensorFlow only for a TFDS-backed task's rows (the module docstring); never on the local data.
    assert not loaded["tensorflow"] or loaded["tensorflow_datasets"], loaded


def test_training_and_evaluating_run_without_tensorflow_or_seqio(tmp_path):
    """The native trainer (with its prefetch workers and TensorBoard events) and the native
    evaluator, run for real: two tiny steps, then one dev task scored."""
    real_data_dir()
    model_dir = tmp_path / "run"
    loaded = _run(f"""
from optiml_jax import eval as evaluator, train
train.main(["--gin_file=gin/native/opt_iml_tiny.gin", '--gin.MODEL_DIR="{model_dir}"', "--gin.TRAIN_STEPS=2",
            "--gin.TASK_FEATURE_LENGTHS={{'inputs': 64, 'targets': 64}}", "--gin.WARMUP_STEPS=1",
            "--gin.train_script.train.progress_bar=False"])
evaluator.main(["--checkpoint", "{model_dir}", "--split", "dev", "--shots", "0", "--max_examples_per_task", "1",
                "--tasks", "super_glue", "--out", "{model_dir}/eval"])
""", XLA_FLAGS="--xla_force_host_platform_device_count=2", JAX_PLATFORMS="cpu")
    assert (model_dir / "checkpoint_2").is_dir() and (model_dir / "eval" / "results.json").is_file()
    assert list((model_dir / "train").glob("events.out.tfevents.*"))
    assert loaded == {"tensorflow": False, "seqio": False, "tensorflow_datasets": False}


def test_the_seqio_adapter_mirrors_exactly_the_registered_bench():
    real_data_dir()
    code = """
import sys
import optiml_jax.tasks as bench
assert "seqio" not in sys.modules
import seqio
assert not seqio.TaskRegistry.names() and not seqio.MixtureRegistry.names()  # The catalog registers ours only.
import optiml_jax.seqio_tasks
assert set(seqio.TaskRegistry.names()) == set(bench.REPORT.tasks)
assert set(seqio.MixtureRegistry.names()) == set(bench.REPORT.mixtures) >= set(bench.DIALOGUE_MIXTURES)
assert "opt_iml_train" in seqio.MixtureRegistry.names()
task = seqio.TaskRegistry.get("superni:task1557_jfleg_answer_generation")
assert task.output_features["targets"].vocabulary.eos_id == 2
optiml_jax.seqio_tasks.register_in_seqio(bench.REPORT.tasks, bench.REPORT.mixtures)  # Idempotent.
"""
    loaded = _run(code)
    assert loaded["tensorflow"] and loaded["seqio"]


# -- static import graph -------------------------------------------------------------------------


def _package_of_module(module: str) -> str | None:
    for prefix, package in MODULE_PREFIXES.items():
        if module == prefix or module.startswith(prefix + "."):
            return package
    return None


def _imports(path: Path, package: str):
    """`(line, imported module, inside a function)` for every import in a file, function bodies too;
    `from X import y` counts as importing `X.y` (a module or a name of X: both load X)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    own = f"optiml_jax.{package}." + ".".join(path.relative_to(PACKAGES[package]).with_suffix("").parts)
    in_function = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            in_function.update(id(child) for child in ast.walk(node) if child is not node)
    for node in ast.walk(tree):
        lazy = id(node) in in_function
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, lazy
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # Relative: resolved against this file's package.
                parent = own.rsplit(".", node.level)[0]
                base = f"{parent}.{base}" if base else parent
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}", lazy


def _project_imports():
    for package, folder in PACKAGES.items():
        for path in sorted(folder.rglob("*.py")):
            for line, module, lazy in _imports(path, package):
                yield f"{path.relative_to(REPO)}:{line}", package, module, lazy


def _cycles(edges: set[tuple[str, str]]) -> list[list[str]]:
    """Every cycle of the package graph, each as the list of packages along it."""
    found = []

    def walk(path):
        for source, target in sorted(edges):
            if source != path[-1]:
                continue
            if target == path[0]:
                found.append(path + [target])
            elif target not in path and target > path[0]:  # Each cycle once, from its smallest node.
                walk(path + [target])

    for start in sorted({source for source, _ in edges}):
        walk([start])
    return found


def test_data_evaluation_and_tasks_import_each_other_in_one_direction():
    edges: dict[tuple[str, str], list[str]] = {}
    for where, package, module, _ in _project_imports():
        target = _package_of_module(module)
        if target is not None and target != package:
            edges.setdefault((package, target), []).append(f"{where} imports {module}")
    wrong = [f"{source} → {target}: {where}" for (source, target), places in sorted(edges.items())
             if (source, target) not in ALLOWED for where in places]
    cycles = _cycles(set(edges))
    assert not wrong and not cycles, (
        "package imports against the layering (allowed: tasks → data, evaluation → data):\n" + "\n".join(wrong)
        + (f"\ncycles: {cycles}" if cycles else ""))


def test_native_packages_never_import_seqio_tensorflow_or_the_adapter():
    offending = []
    for where, _, module, lazy in _project_imports():
        if any(module == name or module.startswith(name + ".") for name in ADAPTER):
            offending.append(f"{where} imports {module}")
        elif module.split(".")[0] == "tensorflow_datasets" and not lazy:
            offending.append(f"{where} imports {module} at module level (only a TFDS reader may, when it reads)")
    assert not offending, "\n".join(offending)


def test_constants_import_nothing_from_the_project():
    path = REPO / "optiml_jax" / "constants.py"
    imported = [f"{path.relative_to(REPO)}:{node.lineno}" for node in ast.walk(ast.parse(path.read_text()))
                if isinstance(node, (ast.Import, ast.ImportFrom))]
    assert not imported, imported
