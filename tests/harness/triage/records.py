"""Hand-made records for triage tests: proxy scores and measured scores of named encoders."""

from __future__ import annotations

from harness.record import EncoderInfo, ResultRecord, Score
from harness.store import Store, ingest_record


def proxy_score(proxy: str, value: float) -> Score:
    return Score(benchmark=f"proxy:{proxy}", metric="accuracy", subset="overall", value=value,
                 n=100, kind="proxy", ci_low=value - 5, ci_high=value + 5)


def measured_score(benchmark: str, value: float, category: str = "Vision-Centric",
                   metric: str = "accuracy") -> Score:
    return Score(benchmark=benchmark, metric=metric, subset="overall", value=value, n=100,
                 category=category)


def record(key: str, encoder: str, recipe: str, scores: list[Score], *, smoke: bool = False,
           seed: int = 0) -> ResultRecord:
    return ResultRecord(
        run_key=key, status="done", smoke=smoke,
        encoder=EncoderInfo(id=encoder, group="other", supervision="labels",
                            architecture="convnet", resolution=224, tiny=smoke),
        recipe=recipe, llm="" if recipe == "triage" else "tiny-llm",
        connector="" if recipe == "triage" else "mlp2x_gelu", seed=seed,
        preset=recipe if recipe == "triage" else "test", config={"key": key},
        scores=tuple(scores), started_at="2026-12-06T00:00:00+00:00",
        finished_at="2026-12-06T00:01:00+00:00", wall_seconds=60.0)


def study(store: Store, measured: dict[str, float], proxies: dict[str, dict[str, float]],
          *, smoke: bool = False) -> None:
    """Each encoder's measured probe accuracy (two seeds, 1 point apart) and its proxies."""
    for encoder, value in measured.items():
        for seed, shift in ((0, -0.5), (1, 0.5)):
            ingest_record(store, record(f"m-{encoder}-{seed}", encoder, "frozen",
                                        [measured_score("probe", value + shift),
                                         measured_score("probe", 40.0, metric="accuracy_blind")],
                                        smoke=smoke, seed=seed))
    for proxy, values in proxies.items():
        for encoder, value in values.items():
            ingest_record(store, record(f"p-{proxy}-{encoder}", encoder, "triage",
                                        [proxy_score(proxy, value)], smoke=smoke))
