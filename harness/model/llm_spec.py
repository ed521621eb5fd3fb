"""What names the fixed LLM: a Hugging Face model, a GGUF file, or the tiny random Llama.
Its own module so the loaders (``gguf_llm``) and the registry (``llm``) both build on it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from harness.config import KEPT_OUT_AT_DEFAULT
from harness.errors import HarnessError

# Fields added after runs were keyed: left out of a run key while at their default, so the keys
# of runs on the tiny LLM and on ``hf:`` LLMs stay what they were.
_LATER = {KEPT_OUT_AT_DEFAULT: True}


@dataclass(frozen=True)
class LLMSpec:
    """The fixed LLM: a Hugging Face causal LM (``source`` = hub id or local folder), a GGUF
    file (``gguf``, dequantised once into a cached safetensors folder), or, with neither, a
    tiny Llama built from the fields below with random weights. For a GGUF LLM those fields
    state the shape the file must have (checked when it loads) and size it without loading."""

    id: str
    description: str
    source: str | None = None
    """Hub id or local folder for ``AutoModelForCausalLM.from_pretrained``."""
    revision: str | None = field(default=None, metadata={KEPT_OUT_AT_DEFAULT: True})
    """The hub revision (a commit) the weights are pinned to: ``hf:<id>@<revision>``."""
    hidden_size: int = 128
    intermediate_size: int = 344
    num_layers: int = 2
    num_heads: int = 4
    vocab_size: int = 1024
    max_positions: int = 1024
    system_prompt: str = ""
    """Put before the first user turn (LLaVA's chat models use one; the tiny LLM does not)."""
    gguf: str | None = field(default=None, metadata=_LATER)
    """A GGUF file holding weights, tokenizer and chat template: ``package:module/path`` (a
    file shipped inside an installed Python package) or a filesystem path."""
    sha256: str | None = field(default=None, metadata=_LATER)
    """The GGUF file's sha256: any other bytes are refused, and it names the cached folder."""
    quantization: str = field(default="", metadata=_LATER)
    """How the GGUF's weights are quantised (``Q4_1``: 4-bit). Dequantised weights are close
    to the released model's, not identical: every listing of the LLM says so."""
    num_kv_heads: int | None = field(default=None, metadata=_LATER)
    """Key/value heads (grouped-query attention); None: as many as ``num_heads``."""
    requires: tuple[str, ...] = field(default=(), metadata=_LATER)
    """Import names this LLM needs beyond the core install (e.g. ``gguf``)."""
    extra: str = field(default="", metadata=_LATER)
    """The pip extra of the providing distribution that installs ``requires``."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "requires", tuple(self.requires))
        if self.gguf is None:
            return
        if self.source is not None:
            raise HarnessError(f"LLM {self.id!r}: give source (a Hugging Face model) or gguf "
                               "(a GGUF file), not both")
        if not re.fullmatch(r"[0-9a-f]{64}", self.sha256 or ""):
            raise HarnessError(f"LLM {self.id!r}: bad sha256 {self.sha256!r}; a GGUF file is "
                               "pinned by its sha256, 64 lowercase hex digits")

    @property
    def kind(self) -> str:
        """Where the weights come from: ``hf``, ``gguf`` or ``tiny`` (random)."""
        return "hf" if self.source else "gguf" if self.gguf else "tiny"
