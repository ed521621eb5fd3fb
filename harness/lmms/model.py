"""A finished harness run as an lmms-eval model: lmms-eval's evaluator asks it through its
``lmms`` interface (``generate_until``, ``loglikelihood``), and it answers the way the harness's
own evaluation does: the run's model rebuilt from its folder, the image through the run's
transform, the question in the chat format the run was trained on, greedy decoding.

lmms-eval finds it as the model ``harness`` (the ``lmms_eval.models`` entry point), so its
own CLI runs it too: ``python -m lmms_eval --model harness --model_args run=RUN_DIR``.
Importing this module needs lmms-eval (``pip install 'encoder-harness[lmms-eval]'``).
"""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from lmms_eval.api.instance import GenerationResult, Instance
from lmms_eval.api.model import lmms
from lmms_eval.models.registry_v2 import ModelManifest

from harness.errors import HarnessError
from harness.eval.runner import pad_rows
from harness.model.chat import prompt_ids
from harness.model.ensemble import stack_pixels
from harness.model.llm import IMAGE_TOKEN
from harness.sweep.evaluation import run_folder
from harness.sweep.execute import run_transform
from harness.sweep.model import load_model
from harness.sweep.plan import load_run

MANIFEST = ModelManifest(model_id="harness", simple_class_path=f"{__name__}.HarnessModel")
"""What the ``lmms_eval.models`` entry point gives lmms-eval: the model ``harness``."""

DEFAULT_MAX_NEW_TOKENS = 16


class HarnessModel(lmms):
    """``run``: a finished run's folder (``harness-runs/runs/<key>``, or its ``model/``);
    ``batch_size``: questions answered together by ``generate_until``."""

    def __init__(self, run: str, device: str | None = None, batch_size: int | str = 1,
                 **_ignored: Any) -> None:
        super().__init__()
        folder = run_folder(Path(run))
        self.run = replace(load_run(folder), run_dir=str(folder))
        self.device = torch.device(device or "cpu")
        self.model, self.tokenizer, self.info = load_model(self.run, self.device)
        self.model.eval()
        self.transform = run_transform(self.model.encoder, self.run.config.image_aspect)
        self.system = self.run.config.llm.system_prompt
        # lmms-eval's "auto" (it sizes batches only for its own models): the run's eval batch.
        self.batch_size = self.run.eval_batch if str(batch_size).startswith("auto") else int(
            batch_size)

    # -- what both request kinds share ----------------------------------------------------
    def _inputs(self, context: str, doc_to_visual, doc_id: int, task: str, split: str
                ) -> tuple[list[int], torch.Tensor | None]:
        """The prompt's ids and the image's pixels (None without one), as the harness's own
        evaluation builds them; only the first image is used (the MLLM takes one)."""
        visuals = doc_to_visual(self.task_dict[task][split][doc_id]) if doc_to_visual else []
        visuals = [v for v in (visuals or []) if v is not None]
        if visuals and not hasattr(visuals[0], "convert"):
            raise HarnessError(f"task {task!r} gives {type(visuals[0]).__name__} visuals; the "
                               "harness model reads images only")
        pixels = self.transform(visuals[0].convert("RGB")) if visuals else None
        text = f"{IMAGE_TOKEN}\n{context}" if pixels is not None else context
        ids = prompt_ids(text, self.tokenizer, num_image_tokens=self.model.num_image_tokens,
                         system=self.system)
        return ids, pixels

    def _tensors(self, ids: list[int], pixels: Any):
        input_ids = torch.tensor([ids], device=self.device)
        batch = None if pixels is None else stack_pixels([pixels]).to(self.device)
        return input_ids, torch.ones_like(input_ids), batch

    # -- lmms ------------------------------------------------------------------------------
    @torch.no_grad()
    def generate_until(self, requests: list[Instance]) -> list[str]:
        """Greedy answers, ``batch_size`` requests at a time (those with the same generation
        settings together), each cut at the first of its ``until`` strings."""
        out = [""] * len(requests)

        def settings(i: int) -> str:
            return json.dumps(requests[i].args[1] or {}, sort_keys=True, default=str)

        for _, group in itertools.groupby(sorted(range(len(requests)), key=settings),
                                          key=settings):
            chosen = list(group)
            kwargs = dict(requests[chosen[0]].args[1] or {})
            until = kwargs.get("until") or []
            until = [until] if isinstance(until, str) else list(until)
            new_tokens = int(kwargs.get("max_new_tokens", DEFAULT_MAX_NEW_TOKENS))
            for start in range(0, len(chosen), self.batch_size):
                batch = chosen[start:start + self.batch_size]
                prepared = [self._inputs(context, doc_to_visual, doc_id, task, split)
                            for context, _, doc_to_visual, doc_id, task, split
                            in (requests[i].args for i in batch)]
                # Left padding keeps every prompt's last token at the end, where decoding
                # starts; only the rows with an image give pixels, in row order.
                ids, mask = pad_rows([p[0] for p in prepared], self.tokenizer.pad_token_id,
                                     "left")
                pixels = [p[1] for p in prepared if p[1] is not None]
                new = self.model.generate(
                    ids.to(self.device), mask.to(self.device),
                    stack_pixels(pixels).to(self.device) if pixels else None,
                    max_new_tokens=new_tokens)
                for i, tokens in zip(batch, new, strict=True):
                    text = self.tokenizer.decode(tokens, skip_special_tokens=True)
                    for stop in until:
                        text = text.split(stop)[0]
                    out[i] = text.strip()
        return out

    @torch.no_grad()
    def loglikelihood(self, requests: list[Instance]) -> list[GenerationResult]:
        """Per request, (the continuation's loss, whether greedy decoding gives it).

        The loss is the mean negative log-likelihood of the continuation's tokens: what
        lmms-eval's own models return (its ``llava_hf`` gives the LM loss), and what its
        multiple-choice scoring expects, since it picks the option with the smallest value.
        Each pair is wrapped in a ``GenerationResult``: lmms-eval 0.7.3's evaluator turns any
        answer that is neither text nor a ``GenerationResult`` into its ``str()``, and its
        scoring would then read the text ``"(1.2, False)"``.
        """
        out = []
        for request in requests:
            context, doc_to_target, doc_to_visual, doc_id, task, split = request.args
            continuation = doc_to_target if isinstance(doc_to_target, str) else doc_to_target(
                self.task_dict[task][split][doc_id])
            ids, pixels = self._inputs(context, doc_to_visual, doc_id, task, split)
            target = self.tokenizer.encode(continuation, add_special_tokens=False)
            if not target:
                raise HarnessError(f"task {task!r}: an empty continuation to score")
            input_ids, mask, batch = self._tensors(ids + target, pixels)
            hidden = self.model.llm.get_decoder()(
                inputs_embeds=self.model.embed(input_ids, batch), attention_mask=mask,
            ).last_hidden_state
            # Position p predicts token p + 1: the continuation's tokens are predicted by the
            # positions just before each of them.
            head = self.model.llm.get_output_embeddings()
            logp = head(hidden[0, -len(target) - 1:-1]).float().log_softmax(-1)
            wanted = torch.tensor(target, device=logp.device)
            loss = -logp.gather(-1, wanted[:, None]).mean().item()
            greedy = bool((logp.argmax(-1) == wanted).all())
            out.append(GenerationResult(text=(loss, greedy)))  # type: ignore[arg-type]
        return out

    def generate_until_multi_round(self, requests) -> list[str]:
        raise NotImplementedError("the harness model answers one-turn questions only")
