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
        # OPT-IML Bench data core: SeqIO tasks/mixtures (seqio imports tensorflow_text at import
        # time), the OPT BPE tokenizer, and tensorboard, which TF 2.21 no longer pulls in.
        "seqio>=0.0.20",
        "tensorflow>=2.21",
        "tensorflow-text>=2.21.1",
        "tensorboard>=2.20",
        "tokenizers>=0.21",
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
        "test": ["pytest>=8.0"],
        # Reading / writing HF and metaseq checkpoints (CPU torch is enough; see Makefile).
        # safetensors>=0.8 reads and writes bfloat16 numpy arrays (ml_dtypes).
        "convert": ["torch>=2.13.0", "transformers>=5.0", "safetensors>=0.8.0"],
        "tpu": ["jax[tpu]>=0.10.2"],
        "gpu": ["jax[cuda12]>=0.10.2"],
    },
)
