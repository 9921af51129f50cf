"""The OPT tokenizer as a `seqio.Vocabulary`, for t5x and SeqIO (part of the SeqIO adapter).

t5x's run files name it (`gin/opt_iml_t5x_model.gin`: `vocabulary = @vocab.OPTVocabulary()`) and
the SeqIO tasks (`optiml_jax.seqio_tasks`) use it as their features' vocabulary. It adds SeqIO's
contract (extra ids, `encode_tf`/`decode_tf`) to `optiml_jax.data.tokenizer.OPTTokenizer`, which
does all the tokenizing, so ids, text, equality and pickling are the core's. Ids and special
tokens: see that module (pad 0, bos = eos 2, unk 3, 50,265 entries); bind
`seqio.DecoderFeatureConverter.bos_id = 2` in t5x.

`_encode_tf`/`_decode_tf` wrap the Rust tokenizer in `tf.py_function`, which makes a tf.data
iterator unsaveable; the OPT-IML Bench's SeqIO tasks therefore tokenize in Python before the data
enters TF, and only third-party tasks that call `seqio.preprocessors.tokenize` on text would reach
these methods. This module imports TensorFlow and SeqIO; the native trainer and evaluator never
import it.
"""

from __future__ import annotations

import seqio
import tensorflow as tf
import tokenizers

from optiml_jax.constants import OPT_BASE_VOCAB_SIZE
from optiml_jax.data.tokenizer import OPTTokenizer


class OPTVocabulary(seqio.Vocabulary):
    """GPT-2 BPE over OPT's `vocab.json` + `merges.txt` (or one `tokenizer.json`), for SeqIO.

    The files are read when first needed, so constructing one (e.g. while registering tasks) costs
    nothing; equality and pickling use the file contents, not their paths.
    """

    def __init__(
        self,
        vocab_file: str | None = None,
        merges_file: str | None = None,
        *,
        tokenizer_file: str | None = None,
        extra_ids: int = 0,
    ):
        self.core = OPTTokenizer(vocab_file, merges_file, tokenizer_file=tokenizer_file)
        super().__init__(extra_ids=extra_ids)

    @property
    def tokenizer(self) -> tokenizers.Tokenizer:
        """The underlying Rust tokenizer (no special-token handling, no BOS added)."""
        return self.core.tokenizer

    # -- seqio.Vocabulary -----------------------------------------------------------------------

    @property
    def bos_id(self) -> int:
        return self.core.bos_id

    @property
    def eos_id(self) -> int:
        return self.core.eos_id

    @property
    def unk_id(self) -> int:
        return self.core.unk_id

    @property
    def _base_vocab_size(self) -> int:
        return OPT_BASE_VOCAB_SIZE

    def _encode(self, s: str) -> list[int]:
        return self.core.encode(s)

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        """Encodes many strings at once (parallel in Rust); same ids as `encode` on each."""
        return self.core.encode_batch(texts)

    def _decode(self, ids) -> str:
        # seqio hands over ids already cut after the first EOS, with unknown ids as `<unk>`.
        return self.core.decode(ids)

    def _encode_tf(self, s: tf.Tensor) -> tf.Tensor:
        def encode_numpy(text):
            return tf.constant(self._encode(text.numpy().decode("utf-8")), dtype=tf.int32)

        ids = tf.py_function(encode_numpy, [s], Tout=tf.int32)
        ids.set_shape([None])
        return ids

    def _decode_tf(self, ids: tf.Tensor) -> tf.Tensor:
        def decode_numpy(batch):
            flat = batch.numpy().reshape(-1, batch.shape[-1])
            texts = [self._decode(row).encode("utf-8") for row in flat]
            return tf.reshape(tf.constant(texts, dtype=tf.string), batch.shape[:-1])

        return tf.py_function(decode_numpy, [ids], Tout=tf.string)

    # -- identity ------------------------------------------------------------------------------

    def fingerprint(self) -> str:
        return self.core.fingerprint()

    def __eq__(self, other) -> bool:
        if not isinstance(other, OPTVocabulary):
            return False
        return other is self or (self.extra_ids == other.extra_ids and self.core == other.core)

    def __hash__(self) -> int:
        return hash((self.core.fingerprint(), self.extra_ids))

    def __getstate__(self):
        return {"core": self.core, "extra_ids": self.extra_ids}  # The core ships file contents.

    def __setstate__(self, state):
        self.core = state["core"]
        super().__init__(extra_ids=state["extra_ids"])

    def __str__(self) -> str:
        return f"OPTVocabulary({self.core.describe()}, extra_ids={self.extra_ids})"

    __repr__ = __str__
