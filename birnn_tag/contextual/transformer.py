"""Word features from a pretrained transformer: chosen hidden layers, pooled over each word's subwords.

Words are tokenised as the user split them (``is_split_into_words=True``, never re-joined into a
string, which would move word boundaries), and ``word_ids()`` maps every subword back to its word;
a word that yields no subword at all (``"\\u200b"``, ``""``) is given the tokenizer's unknown token,
so every word gets a vector. A sentence longer than the model's positions is encoded in windows of
``width`` subwords that overlap by half, the last one aligned to the end; each subword takes its
vector from the window in which it is farthest from an edge, i.e. the one giving it the most
context on its poorer side (ties to the earlier window). For 300 subwords and width 126:

    window 0   [0 ......... 125]
    window 1         [63 ......... 188]
    window 2               [126 ......... 251]
    window 3                     [174 ......... 299]

subword 100 is 25 from window 0's right edge and 37 from window 1's left: it comes from window 1.

Frozen weights (``fine_tune=False``) are kept out of the module's registered children, so they are
not in the tagger's ``parameters()`` (an optimiser never sees them) or its ``state_dict()`` (a
checkpoint stays megabytes, and :meth:`TransformerFeatures.fingerprint` names the weights instead);
``_apply`` still moves them with the module. They run under ``torch.inference_mode()``, and in
bfloat16 autocast where the device multiplies bf16 natively (see ``birnn_tag/runtime/precision.py``); the
features are float32 either way. Fine-tuned weights are an ordinary submodule, trained and saved.
"""

from __future__ import annotations

import hashlib
import json
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from birnn_tag.runtime.devices import has_native_bf16
from birnn_tag.errors import BirnnTagError, first_line

POOLINGS: tuple[str, ...] = ("first", "mean", "last")
# Padded batch size × length of one forward pass: bounds activation memory whatever the lengths.
BATCH_SUBWORDS = 8192
DEFAULT_LAYERS = 4  # hidden states mixed when model.transformer.layers is null
# Weight files as transformers loads them: safetensors when present, else PyTorch pickles.
WEIGHT_FILES: tuple[tuple[str, ...], ...] = (("model.safetensors", "model-*.safetensors"),
                                              ("pytorch_model.bin", "pytorch_model-*.bin"))


def window_starts(count: int, width: int) -> list[int]:
    """Start offsets of the windows of at most ``width`` subwords that cover ``count`` subwords:
    one window when they fit, else a stride of ``width // 2`` with the last window ending at ``count``."""
    if count <= width:
        return [0]
    return list(range(0, count - width, max(1, width // 2))) + [count - width]


def owner_windows(count: int, width: int) -> list[int]:
    """For each of ``count`` subwords, the index into :func:`window_starts` of the window its vector
    is taken from: the one in which it is farthest from either edge, the earlier one on a tie."""
    margins, owners = [-1] * count, [0] * count
    for window, start in enumerate(window_starts(count, width)):
        for position in range(start, min(start + width, count)):
            margin = min(position - start, start + width - 1 - position)
            if margin > margins[position]:
                margins[position], owners[position] = margin, window
    return owners


def _import_transformers() -> Any:
    try:
        import transformers
    except ImportError:
        raise BirnnTagError("model.transformer: needs the transformers package: "
                            "pip install 'birnn-tag[transformers]'") from None
    return transformers


def _needs_prefix_space(tokenizer: Any) -> bool:
    """Whether a byte-level BPE tokenizer (RoBERTa, GPT-2) would read each pre-split word as if it
    began the text: those vocabularies mark a word inside a sentence by its leading space ("Ġcat"),
    which pre-split words lack unless the tokenizer is loaded with ``add_prefix_space=True``."""
    pre_tokenizer = tokenizer.backend_tokenizer.pre_tokenizer
    state = json.loads(pre_tokenizer.__getstate__()) if pre_tokenizer is not None else {}
    return any(step.get("type") == "ByteLevel" and not step.get("add_prefix_space")
               for step in state.get("pretokenizers", [state]))


def _max_subwords(model: Any, tokenizer: Any) -> int:
    """The most subwords, special tokens included, that one window of ``model`` can hold."""
    limits = []
    positions = getattr(model.config, "max_position_embeddings", None)
    if positions:
        # RoBERTa-family embeddings (those that derive positions from the input ids) number real
        # tokens from pad_token_id + 1, so roberta-base's 514 positions hold 512 tokens; BERT counts from 0.
        numbered_after_padding = hasattr(getattr(model, "embeddings", None), "create_position_ids_from_input_ids")
        limits.append(positions - ((model.config.pad_token_id or 0) + 1 if numbered_after_padding else 0))
    if tokenizer.model_max_length < 1e6:  # unset, it is a huge placeholder
        limits.append(tokenizer.model_max_length)
    return min(limits, default=512)  # neither known: BERT's length, which every encoder accepts


def _sha256(folder: Path) -> str | None:
    """Hex SHA-256 over the weight files in ``folder`` (in name order), or None when there are none."""
    for patterns in WEIGHT_FILES:
        files = sorted({path for pattern in patterns for path in folder.glob(pattern)})
        if files:
            digest = hashlib.sha256()
            for path in files:
                with path.open("rb") as stream:
                    while chunk := stream.read(1 << 20):
                        digest.update(chunk)
            return digest.hexdigest()
    return None


def _load(name: str, fine_tune: bool, files: str | Path | None) -> tuple[Any, Any]:
    """The fast tokenizer and the model for :class:`TransformerFeatures`' arguments."""
    transformers = _import_transformers()
    source = str(files) if files is not None else name
    # Its per-load progress bars ("Loading weights") would interleave with our own output.
    bars = transformers.utils.logging.is_progress_bar_enabled()
    transformers.utils.logging.disable_progress_bar()
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(source)
        if tokenizer.is_fast and _needs_prefix_space(tokenizer):
            tokenizer = transformers.AutoTokenizer.from_pretrained(source, add_prefix_space=True)
        if files is not None and fine_tune:
            model = transformers.AutoModel.from_config(transformers.AutoConfig.from_pretrained(source))
        else:
            model = transformers.AutoModel.from_pretrained(name)
    except Exception as error:  # hub, file-system and format errors share no base class
        asked = repr(name) + (f" (tokenizer and config from {str(files)!r})" if files is not None else "")
        raise BirnnTagError(f"model.transformer.name: cannot load {asked}: {first_line(error)}") from None
    finally:
        if bars:
            transformers.utils.logging.enable_progress_bar()
    if not tokenizer.is_fast:
        raise BirnnTagError(f"model.transformer.name: {name!r} has no fast tokenizer, which birnn-tag "
                            "needs to map subwords back to words (word_ids())")
    # Some checkpoints are stored in half precision; autocast, not the weights, picks the compute type.
    return tokenizer, model.float()


class TransformerFeatures(nn.Module):
    """(batch, time, num_layers, dim) features of the words of sentences from a Hugging Face encoder.

    Args:
        name: a hub id or a local model folder.
        layers: indices into the model's hidden states (0 = embeddings, 1..N = layers, -1 = last);
            None: the top :data:`DEFAULT_LAYERS` (all states of a smaller model).
        pooling: which subwords make a word's vector: ``first``, ``mean`` or ``last``.
        fine_tune: train the weights (and save them in ``state_dict()``) rather than freeze them.
        files: a folder written by :meth:`save_files` to read the tokenizer and config from; with
            ``fine_tune`` the architecture is built from it alone and the weights come from the caller's checkpoint.
    """

    def __init__(self, name: str, layers: list[int] | None, pooling: str = "first", fine_tune: bool = False, *,
                 files: str | Path | None = None) -> None:
        super().__init__()
        if pooling not in POOLINGS:
            raise BirnnTagError(f"model.transformer.pooling: unknown pooling {pooling!r}; expected one of {', '.join(POOLINGS)}")
        self.name, self.pooling, self.fine_tune = str(name), pooling, fine_tune
        self._fingerprint: dict | None = None  # see fingerprint()
        if layers is not None and not layers:
            raise BirnnTagError("model.transformer.layers: must name at least one layer")
        tokenizer, model = _load(self.name, fine_tune, files)
        self.tokenizer = tokenizer
        if fine_tune:
            self.model = model.train(self.training)  # from_pretrained leaves it in eval mode
        else:
            # Set past nn.Module.__setattr__, so the weights are not a registered child (see the module docstring).
            object.__setattr__(self, "model", model.eval().requires_grad_(False))
        total = model.config.num_hidden_layers
        if layers is None:  # the top four hidden states, or all a smaller model has
            layers = list(range(-1, -min(DEFAULT_LAYERS, total + 1) - 1, -1))
        for layer in layers:
            if not -(total + 1) <= layer <= total:
                raise BirnnTagError(f"model.transformer.layers: {layer} is out of range for {self.name!r}; expected "
                                    f"{-(total + 1)}..{total} (0 = embeddings, {total} or -1 = last layer)")
        self.layers = [layer % (total + 1) for layer in layers]
        self.num_layers, self.dim = len(layers), model.config.hidden_size
        self.max_subwords = _max_subwords(model, tokenizer)
        # The special tokens around one word, e.g. [CLS] a [SEP] or <s> Ġa </s>, wrap every window.
        probe = tokenizer([["a"]], is_split_into_words=True)
        word_ids, ids = probe.word_ids(0), probe["input_ids"][0]
        self._prefix, self._suffix = ids[:word_ids.index(0)], ids[len(ids) - word_ids[::-1].index(0):]

    def _apply(self, fn: Callable[[torch.Tensor], torch.Tensor], recurse: bool = True) -> TransformerFeatures:
        # .to(), .cuda(), .float() all end here; frozen weights are not a child, so move them by hand.
        if not self.fine_tune:
            self.model._apply(fn)
        return super()._apply(fn, recurse)

    def forward(self, sentences: list[list[str]]) -> torch.Tensor:
        """(batch, time, num_layers, dim) float32 features of ``sentences`` (lists of words); ``time``
        is the longest sentence's length, and positions past a sentence's end hold zeros."""
        device = next(self.model.parameters()).device
        time = max((len(words) for words in sentences), default=0)
        output = torch.zeros(len(sentences) * time, self.num_layers, self.dim, device=device)
        width = self.max_subwords - len(self._prefix) - len(self._suffix)
        windows: list[list[int]] = []
        rows: list[int] = []  # each subword's row in the windows' concatenated outputs, sentences in order
        firsts: list[int] = []  # each word's first subword in ``rows``; the sentinel closes the last word
        slots: list[int] = []  # each word's row in ``output`` viewed as (batch * time, ...)
        encoded = 0  # subwords in ``windows`` so far
        for sentence, ids, offsets in self._subwords(sentences):
            firsts.extend(len(rows) + offset for offset in offsets[:-1])
            slots.extend(range(sentence * time, sentence * time + len(offsets) - 1))
            bases = []
            for start in window_starts(len(ids), width):
                bases.append(encoded - start)  # subword i of the window is row bases[-1] + i
                windows.append(ids[start:start + width])
                encoded += len(windows[-1])
            rows.extend(bases[window] + position for position, window in enumerate(owner_windows(len(ids), width)))
        if not rows:
            return output.view(len(sentences), time, self.num_layers, self.dim)
        firsts.append(len(rows))
        subwords = self._encode(windows, device).index_select(0, torch.tensor(rows, device=device))
        bounds = torch.tensor(firsts, device=device)
        if self.pooling == "mean":
            counts = bounds.diff()  # (words,)
            owner = torch.repeat_interleave(torch.arange(len(counts), device=device), counts)  # (subwords,)
            sums = subwords.new_zeros(len(counts), self.num_layers, self.dim).index_add(0, owner, subwords)
            words = sums / counts[:, None, None]
        else:
            words = subwords.index_select(0, bounds[:-1] if self.pooling == "first" else bounds[1:] - 1)
        output = output.index_copy(0, torch.tensor(slots, device=device), words)
        return output.view(len(sentences), time, self.num_layers, self.dim)

    def _subwords(self, sentences: list[list[str]]) -> list[tuple[int, list[int], list[int]]]:
        """For each non-empty sentence: its index, its subword ids, and the offset of each word's
        first subword followed by the subword count."""
        indices = [index for index, words in enumerate(sentences) if words]
        if not indices:
            return []
        encoded = self.tokenizer([list(sentences[index]) for index in indices], is_split_into_words=True,
                                 add_special_tokens=False, truncation=False, verbose=False)
        result = []
        for row, index in enumerate(indices):
            pieces: list[list[int]] = [[] for _ in sentences[index]]
            for token, word in zip(encoded["input_ids"][row], encoded.word_ids(row)):
                pieces[word].append(token)
            ids, offsets = [], [0]
            for piece in pieces:
                ids.extend(piece or [self.tokenizer.unk_token_id or 0])  # no unknown token: the first id
                offsets.append(len(ids))
            result.append((index, ids, offsets))
        return result

    def _encode(self, windows: list[list[int]], device: torch.device) -> torch.Tensor:
        """(total subwords, num_layers, dim) float32 hidden states of the windows' subwords (special
        tokens dropped), window after window. Windows of similar lengths run together, at most
        :data:`BATCH_SUBWORDS` padded subwords a batch."""
        padding = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        outputs: list[torch.Tensor] = [torch.empty(0)] * len(windows)
        order = sorted(range(len(windows)), key=lambda window: -len(windows[window]))
        while order:
            longest = len(self._prefix) + len(windows[order[0]]) + len(self._suffix)
            size = max(1, BATCH_SUBWORDS // longest)
            batch, order = order[:size], order[size:]
            wrapped = [self._prefix + windows[window] + self._suffix for window in batch]
            ids = torch.tensor([tokens + [padding] * (longest - len(tokens)) for tokens in wrapped], device=device)
            mask = torch.tensor([[1] * len(tokens) + [0] * (longest - len(tokens)) for tokens in wrapped], device=device)
            with ExitStack() as context:
                if not self.fine_tune:
                    context.enter_context(torch.inference_mode())
                    if has_native_bf16(device):
                        context.enter_context(torch.autocast(device.type, dtype=torch.bfloat16))
                hidden = self.model(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states
            # Past inference mode, functional ops make ordinary tensors, which a trained layer may save for backward.
            chosen = torch.stack([hidden[layer] for layer in self.layers], dim=2).float()  # (batch, longest, num_layers, dim)
            for row, window in enumerate(batch):
                outputs[window] = chosen[row, len(self._prefix):len(self._prefix) + len(windows[window])]
        return torch.cat(outputs)

    def fingerprint(self) -> dict:
        """``{"name", "revision", "sha256"}`` of the weights ``name`` resolves to on this machine;
        ``revision`` (a hub commit) and ``sha256`` are None where they cannot be found. Worked out
        once per module: hashing a base-size model's weights reads hundreds of MB, and checking a
        run, keying its cache and keeping its files all ask."""
        if self._fingerprint is None:
            self._fingerprint = self._find_fingerprint()
        return self._fingerprint

    def _find_fingerprint(self) -> dict:
        folder = Path(self.name)
        if not folder.is_dir():
            try:
                from transformers.utils import cached_file
                config = cached_file(self.name, "config.json", local_files_only=True,
                                     _raise_exceptions_for_missing_entries=False,
                                     _raise_exceptions_for_connection_errors=False)
            except Exception:  # best effort: any failure means "not found here"
                config = None
            if config is None:
                return {"name": self.name, "revision": None, "sha256": None}
            folder = Path(config).parent
        # The hub cache keeps each revision in snapshots/<commit hash>/.
        revision = folder.name if folder.parent.name == "snapshots" else None
        return {"name": self.name, "revision": revision, "sha256": _sha256(folder)}

    def cache_key(self) -> dict:
        """What frozen features depend on (:mod:`birnn_tag.contextual.feature_cache`): the weights,
        the layers and the pooling. Fine-tuned weights change every step and are never cached."""
        return {"transformer": self.fingerprint(), "layers": self.layers, "pooling": self.pooling, "window": self.max_subwords}

    def check_fingerprint(self, expected: dict) -> None:
        """Raise when the weights found for ``name`` are not those of ``expected`` (a :meth:`fingerprint`):
        their sha256 when both are known, else their revision when both are known."""
        found = self.fingerprint()
        for key in ("sha256", "revision"):
            if expected.get(key) and found[key]:
                if expected[key] != found[key]:
                    raise BirnnTagError(f"model.transformer.name: {self.name} is not the model this run was trained "
                                        f"with (expected {key} {expected[key][:12]}..., found {found[key][:12]}...)")
                return

    def save_files(self, folder: Path) -> None:
        """Write the tokenizer and the model config into ``folder`` (created), for ``files=folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.tokenizer.save_pretrained(folder)
        self.model.config.save_pretrained(folder)
