"""Names and numbers that the data, evaluation and catalog packages share, each defined once.

This module imports nothing from the project, so every package can import it without pulling in
another (docs/architecture.md, "Layering").
"""

# -- the OPT vocabulary (GPT-2 byte-level BPE in fairseq order) ------------------------------------
OPT_BASE_VOCAB_SIZE = 50265  # Entries of OPT's vocab.json (the model's embedding has 50,272 rows).
PAD_ID = 0  # `<s>`: SeqIO's and t5x's padding id; never produced from text.
EOS_ID = 2  # `</s>`: ends every target, and is the BOS that starts every example.
UNK_ID = 3

# -- evaluation metrics (what a catalog task is scored by) -------------------------------------------
ROUGE_L = "rouge_l"  # Generation tasks (the paper's number), with exact match beside it.
EXACT_MATCH = "exact_match"
ACCURACY = "accuracy"  # Tasks with answer options: rank-classification accuracy.

# -- generalization levels of the evaluation tasks (§4.1) ------------------------------------------------
FULLY_HELD_OUT = "fully_held_out"
PARTIALLY_HELD_OUT = "partially_held_out"
FULLY_SUPERVISED = "fully_supervised"
LEVELS = (FULLY_HELD_OUT, PARTIALLY_HELD_OUT, FULLY_SUPERVISED)

# -- splits ------------------------------------------------------------------------------------------
EVALUATION_SPLITS = {"dev": "validation", "test": "test"}  # OPT-IML split → registered task split
