"""The OPT tokenizer (GPT-2 byte-level BPE in fairseq order), without TensorFlow or SeqIO.

Ids are exactly those of Hugging Face `GPT2Tokenizer`/`GPT2TokenizerFast` for OPT called with
`add_special_tokens=False` on text without special-token strings (HF maps a literal "</s>" in the
text to id 2; here it stays text): `<s>`=0, `<pad>`=1, `</s>`=2, `<unk>`=3, 50,265 entries (the model's
embedding has 50,272 rows). SeqIO and t5x treat id 0 as padding; OPT text never produces `<s>`
because special-token strings are not split out of text here (literal "</s>" in text is encoded as
its characters), so 0 only ever means padding. (A `tokenizer.json` is used as it is: its added
tokens, if any, are matched in text.) BOS = EOS = `</s>` (2), which is what OPT's HF tokenizer
prepends at inference.

This is the one tokenizer implementation: the packed stream, the SeqIO tasks and the evaluator
encode with it (`task_reader.default_vocabulary`), and `optiml_jax.vocab.OPTVocabulary`, the
`seqio.Vocabulary` that t5x's run files name, is a thin adapter over it. `decode` follows
`seqio.Vocabulary.decode` (ids past the vocabulary read as `<unk>`, everything after the first
EOS is dropped), so both give the same text.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Iterable

import tokenizers

from optiml_jax.constants import EOS_ID, OPT_BASE_VOCAB_SIZE, PAD_ID, UNK_ID
from optiml_jax.data import paths

TOKENIZER_DIR_ENV = "OPTIML_TOKENIZER_DIR"
OPT_PAD_TOKEN_ID = 1  # `<pad>`, OPT's own padding token (ours is 0, see the module docstring).
_NO_TEXT_IDS = frozenset({PAD_ID, OPT_PAD_TOKEN_ID, EOS_ID})


def default_tokenizer_dir() -> str:
    """`$OPTIML_TOKENIZER_DIR`, else `$OPTIML_DATA_DIR/tokenizers/opt`."""
    if os.environ.get(TOKENIZER_DIR_ENV):
        return os.environ[TOKENIZER_DIR_ENV]
    if paths.data_dir():
        return os.path.join(paths.data_dir(), "tokenizers", "opt")
    raise FileNotFoundError(
        f"OPT tokenizer: no tokenizer files given. Pass vocab_file/merges_file (or tokenizer_file), "
        f"or set {TOKENIZER_DIR_ENV} to a folder with vocab.json and merges.txt, or "
        f"{paths.DATA_DIR_ENV} to the data folder that holds tokenizers/opt/."
    )


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


class OPTTokenizer:
    """GPT-2 BPE over OPT's `vocab.json` + `merges.txt` (or one `tokenizer.json`).

    The files are read when first needed, so constructing one (e.g. while registering tasks) costs
    nothing; equality and pickling use the file contents, not their paths.
    """

    pad_id = PAD_ID
    bos_id = EOS_ID
    eos_id = EOS_ID
    unk_id = UNK_ID
    vocab_size = OPT_BASE_VOCAB_SIZE

    def __init__(self, vocab_file: str | None = None, merges_file: str | None = None, *,
                 tokenizer_file: str | None = None):
        if tokenizer_file is None and (vocab_file is None) != (merges_file is None):
            raise ValueError("OPT tokenizer: give both vocab_file and merges_file, or neither.")
        self._vocab_file = vocab_file
        self._merges_file = merges_file
        self._tokenizer_file = tokenizer_file
        self._file_contents: dict[str, bytes] | None = None
        self._tokenizer: tokenizers.Tokenizer | None = None
        self._fingerprint: str | None = None

    # -- loading --------------------------------------------------------------------------------

    def _contents(self) -> dict[str, bytes]:
        if self._file_contents is None:
            if self._tokenizer_file is not None:
                self._file_contents = {"tokenizer.json": _read_bytes(self._tokenizer_file)}
            else:
                vocab_file, merges_file = self._vocab_file, self._merges_file
                if vocab_file is None:
                    folder = default_tokenizer_dir()
                    vocab_file = os.path.join(folder, "vocab.json")
                    merges_file = os.path.join(folder, "merges.txt")
                self._file_contents = {
                    "vocab.json": _read_bytes(vocab_file),
                    "merges.txt": _read_bytes(merges_file),
                }
        return self._file_contents

    @property
    def tokenizer(self) -> tokenizers.Tokenizer:
        """The underlying Rust tokenizer (no special-token handling, no BOS added)."""
        if self._tokenizer is None:
            contents = self._contents()
            if "tokenizer.json" in contents:
                tokenizer = tokenizers.Tokenizer.from_str(contents["tokenizer.json"].decode("utf-8"))
                tokenizer.post_processor = None  # OPT's tokenizer.json would prepend `</s>`.
            else:
                tokenizer = _tokenizer_from_vocab_and_merges(contents)
            if tokenizer.get_vocab_size(with_added_tokens=False) != OPT_BASE_VOCAB_SIZE:
                raise ValueError(
                    f"OPT tokenizer: expected {OPT_BASE_VOCAB_SIZE} base tokens, the files give "
                    f"{tokenizer.get_vocab_size(with_added_tokens=False)}: is this OPT's tokenizer?"
                )
            self._tokenizer = tokenizer
        return self._tokenizer

    # -- encoding and decoding ------------------------------------------------------------------

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        """Encodes many strings at once (parallel in Rust); same ids as `encode` on each."""
        return [e.ids for e in self.tokenizer.encode_batch(texts, add_special_tokens=False)]

    def decode(self, ids: Iterable[int]) -> str:
        """The text of `ids` up to the first EOS (`seqio.Vocabulary.decode`'s rule: ids past the
        vocabulary read as `<unk>`); padding (0 and OPT's 1) carries no text."""
        ids = [UNK_ID if int(i) >= OPT_BASE_VOCAB_SIZE else int(i) for i in ids]
        if EOS_ID in ids:
            ids = ids[:ids.index(EOS_ID)]
        return self.tokenizer.decode([i for i in ids if i not in _NO_TEXT_IDS], skip_special_tokens=False)

    # -- identity ------------------------------------------------------------------------------

    def fingerprint(self) -> str:
        # Hashed once: SeqIO compares every task's vocabulary with every other when a mixture
        # of 2,000 tasks builds its dataset, and the file contents never change once read.
        if self._fingerprint is None:
            digest = hashlib.sha256()
            for name, content in sorted(self._contents().items()):
                digest.update(name.encode())
                digest.update(content)
            self._fingerprint = digest.hexdigest()
        return self._fingerprint

    def __eq__(self, other) -> bool:
        if not isinstance(other, OPTTokenizer):
            return False
        return other is self or self.fingerprint() == other.fingerprint()

    def __hash__(self) -> int:
        return hash(self.fingerprint())

    def __getstate__(self):
        # Ship file contents, not paths, so an unpickled copy works on any machine (Beam workers).
        return {"contents": self._contents()}

    def __setstate__(self, state):
        self.__init__()
        self._file_contents = state["contents"]

    def describe(self) -> str:
        """Where the files come from, for messages."""
        return self._tokenizer_file or self._vocab_file or "default tokenizer folder"

    def __repr__(self) -> str:
        return f"OPTTokenizer({self.describe()})"


def _tokenizer_from_vocab_and_merges(contents: dict[str, bytes]) -> tokenizers.Tokenizer:
    vocab = json.loads(contents["vocab.json"].decode("utf-8"))
    merges = []
    for line in contents["merges.txt"].decode("utf-8").splitlines():
        if line and not line.startswith("#version"):
            left, right = line.split(" ")
            merges.append((left, right))
    tokenizer = tokenizers.Tokenizer(tokenizers.models.BPE(vocab=vocab, merges=merges))
    # GPT-2 pre-tokenization: byte-level with the GPT-2 split regex, no prefix space.
    tokenizer.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = tokenizers.decoders.ByteLevel()
    return tokenizer
