"""``harness encoders list|show|check``: the registered encoders (built-in or from a plugin), one
encoder's spec and shape, and a contract check with throughput for one encoder."""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Annotated, Any

import torch
import typer
from PIL import Image
from rich.markup import escape
from rich.table import Table

from harness.cli.common import (
    check_format,
    command_group,
    console,
    err_console,
    print_json,
    print_table,
)
from harness.encoder import (
    ENCODERS,
    GROUPS,
    TINY_MAX_PARAMETERS,
    TINY_MAX_TOKENS,
    TINY_MAX_WIDTH,
    Encoder,
    EncoderSpec,
    missing_requirements,
    plain,
    unavailable_encoders,
)
from harness.errors import HarnessError
from harness.loaders import build_encoder

app = command_group("The encoders a sweep can use.")


def encoder_rows(group: str | None = None, strict: bool = False) -> list[dict]:
    ENCODERS.discover(strict=strict)
    if group is not None and group not in GROUPS:
        raise HarnessError(f"unknown group {group!r}; valid: {', '.join(GROUPS)}")
    notes = unavailable_encoders()
    rows = []
    for spec in ENCODERS.items():
        if group and spec.group != group:
            continue
        provenance = ENCODERS.provenance(spec.id)
        rows.append({
            "id": spec.id, "group": spec.group, "supervision": spec.supervision,
            "architecture": spec.architecture, "resolution": spec.resolution,
            "loader": spec.loader, "source": spec.source, "weights": spec.weights,
            "feature_layer": spec.feature_layer, "tiny_resolution": spec.tiny_resolution,
            "description": spec.description, "distribution": provenance.distribution,
            "distribution_version": provenance.version,
            "requires": list(spec.requires), "extra": spec.extra,
            "available": spec.id not in notes, "note": notes.get(spec.id, ""),
        })
    return rows


@app.command("list")
def list_encoders(
    group: Annotated[str | None, typer.Option(help=f"Only this group: {', '.join(GROUPS)}.")]
    = None,
    format: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    strict: Annotated[bool, typer.Option(help="Fail on a broken encoder plugin.")] = False,
) -> None:
    """List registered encoders (built-in and plugins)."""
    check_format(format)
    rows = encoder_rows(group, strict)
    if format == "json":
        print_json({"encoders": rows,
                    "problems": [str(p) for p in ENCODERS.problems]})
        return
    table = Table("id", "group", "supervision", "arch", "res", "weights", "distribution")
    for r in rows:
        weights = f"{r['loader']}:{r['source']}" + (f".{r['weights']}" if r["weights"] else "")
        mark = "" if r["available"] else " (not installed)"
        table.add_row(r["id"] + mark, r["group"], r["supervision"], r["architecture"],
                      str(r["resolution"]), weights, r["distribution"])
    print_table(table)
    for r in rows:
        if r["note"]:
            err_console.print(f"[yellow]note:[/] {escape(r['id'])} {escape(r['note'])}")


def describe_encoder(spec: EncoderSpec, *, tiny: bool = False) -> dict[str, Any]:
    """The spec, where it comes from, and the network's input size, grid, width and parameter
    count, measured on the meta device (no weights loaded, no memory used)."""
    provenance = ENCODERS.provenance(spec.id)
    info: dict[str, Any] = {
        "id": spec.id, "network": spec.network, "weights_name": spec.weights_name,
        "tiny": tiny, "group": spec.group, "supervision": spec.supervision,
        "architecture": spec.architecture, "description": spec.description,
        "loader": spec.loader, "source": spec.tiny_source or spec.source if tiny else spec.source,
        "weights": None if tiny else spec.weights,
        "resolution": spec.tiny_resolution if tiny else spec.resolution,
        "feature_layer": spec.feature_layer, "precision": spec.precision,
        "options": plain(spec.options), "requires": list(spec.requires),
        "missing": missing_requirements(spec), "distribution": provenance.distribution,
        "distribution_version": provenance.version, "version": spec.version,
    }
    if info["missing"]:
        info["shape_note"] = unavailable_encoders()[spec.id]
        return info
    try:
        with torch.device("meta"):
            encoder = build_encoder(spec, tiny=tiny, pretrained=False)
    except HarnessError as exc:
        info["shape_note"] = str(exc)
        return info
    info.update({"image_size": encoder.image_size, "grid": list(encoder.grid),
                 "tokens": encoder.num_tokens, "embed_dim": encoder.embed_dim,
                 "parameters": encoder.num_parameters(), "mean": list(encoder.mean),
                 "std": list(encoder.std)})
    return info


@app.command("show")
def show(
    encoder_id: Annotated[str, typer.Argument(metavar="ID", help="An encoder id.")],
    tiny: Annotated[bool, typer.Option(help="Describe the tiny twin instead.")] = False,
    format: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """One encoder: spec, source, resolution, token grid, width and parameter count."""
    check_format(format)
    info = describe_encoder(ENCODERS.get(encoder_id), tiny=tiny)
    if format == "json":
        print_json(info)
        return
    table = Table("field", "value", title=f"{encoder_id}" + (" (tiny twin)" if tiny else ""),
                  show_header=False)
    for key, value in info.items():
        if key == "parameters":
            value = f"{value:,}"
        elif key == "grid":
            value = f"{value[0]}x{value[1]}"
        table.add_row(key, "" if value is None else str(value))
    print_table(table)


def check_encoder(spec: EncoderSpec, *, tiny: bool, batch: int = 4, repeats: int = 3,
                  weights_path: Path | None = None) -> dict[str, Any]:
    """Build the encoder, run it, check the contract, and time frozen forwards."""
    start = time.perf_counter()
    encoder = build_encoder(spec, tiny=tiny, weights_path=weights_path)
    build_s = time.perf_counter() - start
    checks: list[tuple[str, bool, str]] = []

    def check(name: str, ok: bool, detail: str = "") -> None:
        checks.append((name, bool(ok), detail))

    generator = torch.Generator().manual_seed(0)
    images = [Image.fromarray(torch.randint(0, 256, (61 + 7 * i, 97, 3), dtype=torch.uint8,
                                            generator=generator).numpy()) for i in range(batch)]
    transform = encoder.transform()
    pixels = torch.stack([transform(image) for image in images])
    size = encoder.image_size
    check("transform", pixels.shape == (batch, 3, size, size) and pixels.dtype == torch.float32,
          f"{tuple(pixels.shape)} {pixels.dtype}")
    encoder.set_trainable(False)
    with torch.no_grad():
        tokens = encoder(pixels)
        again = encoder(pixels)
    expected = (batch, encoder.num_tokens, encoder.embed_dim)
    check("tokens [B, h*w, C]", tuple(tokens.shape) == expected,
          f"{tuple(tokens.shape)}, grid {encoder.grid[0]}x{encoder.grid[1]}")
    check("finite", bool(torch.isfinite(tokens).all()))
    check("deterministic", torch.equal(tokens, again))
    check("frozen", not encoder.trainable and not encoder.training
          and not encoder(pixels[:1]).requires_grad)
    encoder.set_trainable(True)
    encoder(pixels[:1]).float().pow(2).mean().backward()
    grads = sum(p.grad is not None for p in encoder.parameters())
    check("trainable", grads > 0, f"{grads} tensors got gradients")
    encoder.set_trainable(False)
    encoder.zero_grad(set_to_none=True)
    if tiny:
        check(*twin_size_check(encoder.num_parameters(), encoder.embed_dim,
                               encoder.num_tokens))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        with torch.no_grad():
            encoder(pixels)
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    return {"id": spec.id, "tiny": tiny, "build_seconds": round(build_s, 2),
            "image_size": size, "grid": list(encoder.grid), "embed_dim": encoder.embed_dim,
            "parameters": encoder.num_parameters(), "batch": batch,
            "forward_seconds": round(median, 4), "images_per_second": round(batch / median, 1),
            "checks": [{"name": n, "ok": ok, "detail": d} for n, ok, d in checks],
            "ok": all(ok for _, ok, _ in checks)}


def twin_size_check(parameters: int, width: int, tokens: int) -> tuple[str, bool, str]:
    """Whether a tiny twin is tiny: constructor overrides may leave a wide network wide (a
    ResNet-50 with one block per stage is still 10M parameters with 2048-wide tokens)."""
    size = f"{parameters / 1e6:.2f}M parameters, {width}-wide tokens, {tokens} tokens"
    ok = (parameters <= TINY_MAX_PARAMETERS and width <= TINY_MAX_WIDTH
          and tokens <= TINY_MAX_TOKENS)
    if not ok:
        size += (f"; a twin should stay within {TINY_MAX_PARAMETERS / 1e6:g}M parameters,"
                 f" {TINY_MAX_WIDTH} wide and {TINY_MAX_TOKENS} tokens: shrink the widths in"
                 " `tiny`, or set `tiny_source` to a small model of the same family (timm's"
                 " test_resnet, test_efficientnet, ...)")
    return "tiny twin size", ok, size


@app.command("check")
def check(
    encoder_id: Annotated[str, typer.Argument(metavar="ID", help="An encoder id.")],
    tiny: Annotated[bool, typer.Option(help="Check the tiny random-weight twin.")] = False,
    weights: Annotated[Path | None, typer.Option(
        help="A weights file or folder for this encoder (default: $HARNESS_WEIGHTS_DIR, "
             "then the hub).")] = None,
    batch: Annotated[int, typer.Option(min=1, help="Images per forward pass.")] = 4,
    repeats: Annotated[int, typer.Option(min=1, help="Timed forward passes.")] = 3,
    format: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """Build an encoder, run a forward pass, check the contract and print throughput."""
    check_format(format)
    result = check_encoder(ENCODERS.get(encoder_id), tiny=tiny, batch=batch, repeats=repeats,
                           weights_path=weights)
    if format == "json":
        print_json(result)
    else:
        title = f"{encoder_id}" + (" (tiny twin, random weights)" if tiny else "")
        table = Table("check", "result", "detail", title=title)
        for c in result["checks"]:
            table.add_row(c["name"], "[green]ok[/]" if c["ok"] else "[red]FAIL[/]", c["detail"])
        print_table(table)
        console.print(f"{result['parameters']:,} parameters, built in"
                      f" {result['build_seconds']:.1f} s; {result['images_per_second']:.1f}"
                      f" images/s at {result['image_size']} px (batch {batch}, frozen forward)")
    if not result["ok"]:
        raise typer.Exit(1)


__all__ = ["app", "check_encoder", "describe_encoder", "encoder_rows", "Encoder"]
