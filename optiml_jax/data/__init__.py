"""OPT-IML Bench data: readers, prompting, mixing, packing and the packed batch stream.

Entry point for training: `optiml_jax.data.pipeline.PackedBatchStream`.
"""
