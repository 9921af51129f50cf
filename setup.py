"""optiml_jax: OPT-IML instruction meta-learning, JAX/TPU-native."""

from setuptools import find_packages, setup

setup(
    name="optiml_jax",
    version="0.1.0",
    description="OPT-IML (instruction meta-learning on OPT-IML Bench) in JAX/Flax, t5x-compatible.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    packages=find_packages(include=["optiml_jax", "optiml_jax.*"]),
    install_requires=[
        "jax>=0.10.2",
        "flax>=0.12.8",
        "optax>=0.2.8",
        "numpy>=2.0",
        "ml_dtypes>=0.5.0",
        # t5x-layout checkpoints; >=0.12.8 for the partial-save API the converter streams with.
        "orbax-checkpoint>=0.12.8",
    ],
    extras_require={
        "test": ["pytest>=8.0"],
        # Reading / writing HF and metaseq checkpoints (CPU torch is enough; see Makefile).
        # safetensors>=0.8 reads and writes bfloat16 numpy arrays (ml_dtypes).
        "convert": ["torch>=2.13.0", "transformers>=5.0", "safetensors>=0.8.0", "tqdm>=4.66"],
        "tpu": ["jax[tpu]>=0.10.2"],
        "gpu": ["jax[cuda12]>=0.10.2"],
    },
)
