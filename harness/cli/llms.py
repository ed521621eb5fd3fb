"""``harness llms list``: the registered LLMs a preset can name (``llm = "<id>"``), where each
one's weights come from, its size (from its declared shape, on the meta device: no weights are
read) and whether it can be used here."""

from __future__ import annotations

import re
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from harness.cli.common import check_format, command_group, err_console, print_json, print_table
from harness.model.llm import (
    HF_PREFIX,
    LLMS,
    LLMSpec,
    count_parameters,
    llm_install_hint,
    missing_llm_requirements,
    unavailable_note,
)

app = command_group("The fixed LLMs a sweep can use.")

HF_NOTE = (f"any Hugging Face causal LM: llm = \"{HF_PREFIX}<hub id or folder>[@revision]\""
           " (its size is in its own config)")


def source_of(spec: LLMSpec) -> str:
    if spec.kind == "gguf":
        return spec.gguf
    if spec.kind == "hf":
        return spec.source + (f"@{spec.revision}" if spec.revision else "")
    return "built locally"


def weights_note(spec: LLMSpec) -> str:
    """What the weights are, said wherever the LLM is listed: a quantised file's are not
    the released model's."""
    if spec.kind == "tiny":
        return "random weights: smoke runs, never scores"
    if spec.kind == "gguf":
        # GGUF type names carry the bits per weight: Q4_1, Q8_0, IQ2_XS, ...
        bits = re.match(r"I?Q(\d+)", spec.quantization)
        quantised = (f"{spec.quantization} ({bits[1]}-bit)" if bits
                     else spec.quantization or "unknown")
        return (f"GGUF quantised {quantised}, dequantised to fp32: close to the released "
                "model, not identical")
    return "as published"


def llm_rows() -> list[dict[str, Any]]:
    rows = []
    for spec in LLMS.items():
        provenance = LLMS.provenance(spec.id)
        note = unavailable_note(spec)
        sized = spec.kind != "hf"  # a hub model's shape is in its config, not the spec
        rows.append({
            "id": spec.id, "kind": spec.kind, "source": source_of(spec),
            "description": spec.description,
            "parameters": count_parameters(spec) if sized else None,
            "hidden": spec.hidden_size if sized else None,
            "layers": spec.num_layers if sized else None,
            "vocab": spec.vocab_size if sized else None,
            "system_prompt": spec.system_prompt, "sha256": spec.sha256,
            "quantization": spec.quantization or None, "weights_note": weights_note(spec),
            "requires": list(spec.requires), "extra": spec.extra,
            "missing": missing_llm_requirements(spec), "available": note is None,
            "install": llm_install_hint(spec) if note else "", "note": note or "",
            "distribution": provenance.distribution,
        })
    return rows


def _millions(n: int | None) -> str:
    return "" if n is None else f"{n / 1e6:.1f}M"


@app.command("list")
def list_llms(
    format: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """List the registered LLMs: source, size, availability, what the weights are."""
    check_format(format)
    rows = llm_rows()
    if format == "json":
        print_json({"llms": rows, "also": HF_NOTE})
        return
    table = Table("id", "source", "params", "hidden", "layers", "vocab", "available", "weights")
    for r in rows:
        available = "yes" if r["available"] else f"no: {r['install']}"
        cells = (r["id"], r["source"], _millions(r["parameters"]), str(r["hidden"] or ""),
                 str(r["layers"] or ""), str(r["vocab"] or ""), available, r["weights_note"])
        # Escaped: rich would read an install hint's "[real]" as a markup tag and drop it.
        table.add_row(*map(escape, cells))
    print_table(table)
    for r in rows:
        if r["note"]:
            err_console.print(f"[yellow]note:[/] {escape(r['note'])}")
    err_console.print(f"[dim]also:[/] {escape(HF_NOTE)}")
