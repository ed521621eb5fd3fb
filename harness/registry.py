"""One generic registry with entry-point discovery, used for encoders, recipes, presets,
connectors, benchmarks and CLI commands alike.

A plugin is a distribution that declares ``[project.entry-points."<group>"]``; each entry point
names an object that is an item, an iterable of items, or a callable returning either.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Generic, TypeVar

from harness.errors import HarnessError

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Provenance:
    """Which distribution supplied an item (recorded with every result that uses it)."""

    distribution: str
    version: str
    entry_point: str = ""


BUILTIN = Provenance(distribution="encoder-harness", version="builtin")


@dataclass(frozen=True)
class PluginProblem:
    """A plugin that could not be loaded, by name, with the reason."""

    entry_point: str
    distribution: str
    reason: str
    names: tuple[str, ...] = ()
    """The item names it gave, when it got as far as giving any."""

    def __str__(self) -> str:
        return f"plugin {self.entry_point!r} from {self.distribution}: {self.reason}"

    def provides(self, name: str) -> bool:
        """Whether the skipped plugin would have given ``name``: among its items, or named in
        its problem (a spec that refused to be built says which one it was)."""
        return name in self.names or repr(name) in self.reason


class UnknownNameError(HarnessError):
    """A name that is not in a registry; the message lists the valid names."""


class Registry(Generic[T]):
    """Items of one kind by unique name, filled by decorators and by entry points.

    Discovery is lazy (on first lookup) and defensive: a plugin that fails to import or gives
    a bad item is recorded in ``problems`` and skipped, unless ``strict`` is set. A duplicate
    name is always an error so that a plugin can never silently shadow a built-in.
    """

    def __init__(
        self,
        kind: str,
        group: str | None,
        *,
        name_of: Callable[[T], str],
        item_type: type | tuple[type, ...] | None = None,
    ) -> None:
        self.kind = kind
        self.group = group
        self._name_of = name_of
        self._item_type = item_type
        self._items: dict[str, T] = {}
        self._provenance: dict[str, Provenance] = {}
        self.problems: list[PluginProblem] = []
        self._discovered = group is None

    # -- filling -------------------------------------------------------------------------
    def register(self, item: T, provenance: Provenance = BUILTIN) -> T:
        """Add one item; usable as a decorator. A duplicate name raises."""
        self._check_type(item)
        name = self._name_of(item)
        if name in self._items:
            first = self._provenance[name]
            raise HarnessError(
                f"duplicate {self.kind} {name!r}: already registered by {first.distribution}"
                f" {first.version}, again by {provenance.distribution} {provenance.version}"
            )
        self._items[name] = item
        self._provenance[name] = provenance
        return item

    def discover(self, *, strict: bool = False) -> list[PluginProblem]:
        """Load every entry point of the group once; return the problems met."""
        if self._discovered:
            if strict and self.problems:
                raise HarnessError(f"broken {self.kind} plugin: {self.problems[0]}")
            return self.problems
        self._discovered = True
        # The harness's own entry points load first, so a plugin repeating a built-in name is
        # the one reported as a duplicate, whatever its entry point is called.
        for ep in sorted(entry_points(group=self.group),
                         key=lambda e: (getattr(e.dist, "name", "") != BUILTIN.distribution,
                                        e.name)):
            self._load_entry_point(ep, strict=strict)
        return self.problems

    def _load_entry_point(self, ep: EntryPoint, *, strict: bool) -> None:
        dist = ep.dist
        provenance = Provenance(
            distribution=dist.name if dist else "unknown",
            version=dist.version if dist else "unknown",
            entry_point=f"{ep.name} = {ep.value}",
        )
        names: list[str] = []
        try:
            loaded = ep.load()
            items = list(_as_items(loaded() if callable(loaded) and not self._is_item(loaded)
                                   else loaded, self._is_item))
            names = [self._name_of(i) for i in items if self._is_item(i)]
            for item in items:
                self._check_type(item)
            # Register all or nothing, so a half-broken plugin leaves no partial state.
            fresh = [self._name_of(i) for i in items]
            for name in fresh:
                if name in self._items:
                    first = self._provenance[name]
                    raise HarnessError(
                        f"duplicate {self.kind} {name!r} (already registered by"
                        f" {first.distribution})"
                    )
            for item in items:
                self.register(item, provenance)
        except Exception as exc:  # a plugin may fail in any way; report it by name
            problem = PluginProblem(ep.name, provenance.distribution, _one_line(exc),
                                    tuple(names))
            if strict:
                raise HarnessError(f"broken {self.kind} plugin: {problem}") from exc
            # The one report of it (commands do not print it again); `--strict` raises.
            log.warning("skipping %s", problem)
            self.problems.append(problem)

    # -- lookup --------------------------------------------------------------------------
    def get(self, name: str) -> T:
        self.discover()
        try:
            return self._items[name]
        except KeyError:
            raise self.unknown(name) from None

    def unknown(self, name: str, *, where: str = "",
                also_valid: tuple[str, ...] = ()) -> UnknownNameError:
        """The error for a name that is not registered: when a skipped plugin would have given
        it, that plugin and its problem (fixing it is the next step); else the valid names,
        and which plugins were skipped."""
        for problem in self.problems:
            if problem.provides(name):
                return UnknownNameError(f"{self.kind} {name!r}{where} is not available: it"
                                        f" comes from {problem}; the plugin was skipped")
        valid = ", ".join([*also_valid, *sorted(self._items)]) or "(none registered)"
        skipped = "".join(f"; skipped plugin {p.entry_point!r} from {p.distribution}"
                          for p in self.problems)
        return UnknownNameError(f"unknown {self.kind} {name!r}{where}; valid: {valid}{skipped}")

    def provenance(self, name: str) -> Provenance:
        self.get(name)
        return self._provenance[name]

    def names(self) -> list[str]:
        self.discover()
        return sorted(self._items)

    def items(self) -> list[T]:
        return [self._items[n] for n in self.names()]

    def in_order(self) -> list[T]:
        """Every item in the order it was registered (built-ins first, as declared)."""
        self.discover()
        return list(self._items.values())

    def __contains__(self, name: object) -> bool:
        self.discover()
        return name in self._items

    def __iter__(self) -> Iterator[T]:
        return iter(self.items())

    def __len__(self) -> int:
        return len(self.names())

    # -- helpers -------------------------------------------------------------------------
    def _is_item(self, obj: object) -> bool:
        return self._item_type is not None and isinstance(obj, self._item_type)

    def _check_type(self, item: object) -> None:
        if self._item_type is not None and not isinstance(item, self._item_type):
            expected = getattr(self._item_type, "__name__", str(self._item_type))
            raise HarnessError(
                f"bad {self.kind}: expected {expected}, got {type(item).__name__}"
            )


def _as_items(obj: object, is_item: Callable[[object], bool]) -> Iterable:
    if is_item(obj) or not isinstance(obj, Iterable) or isinstance(obj, str | bytes):
        return [obj]
    return obj


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")
