"""The category table: it travels from the dataset into the checkpoint and onto ``~/categories``.

Channel conventions used everywhere in the network: semantic channel ``i`` is ``stuff[i]`` for
``i < num_stuff`` and ``things[i - num_stuff]`` after; detection label ``l`` (1-based, 0 =
background) is ``things[l - 1]``.
"""
from __future__ import annotations

import dataclasses
import functools
from typing import Any, Iterator, Sequence

import torch

VOID = 255  # semantic map value of void pixels


@dataclasses.dataclass(frozen=True)
class Category:
    """One category: the id that panoptic ids, messages and evaluations carry, its name,
    whether it is a thing (has instances) and its overlay colour."""

    id: int
    name: str
    is_thing: bool
    color: tuple[int, int, int]


@dataclasses.dataclass(frozen=True)
class CategoryTable:
    """A model's or data set's categories. Checkpoints carry the table, so a model names its own
    outputs; the network's semantic channels follow ``semantic_order`` (stuff, then things)."""

    categories: tuple[Category, ...]

    def __post_init__(self) -> None:
        ids = [c.id for c in self.categories]
        if len(set(ids)) != len(ids):
            raise ValueError("category ids must be unique")
        if len({c.name for c in self.categories}) != len(ids):
            raise ValueError("category names must be unique (messages and reports name categories by them)")
        if any(not 0 <= i < VOID for i in ids):
            raise ValueError(f"category ids must be in 0..{VOID - 1} (they are written to a mono8 image)")
        if not self.things or not self.stuff:
            raise ValueError("a panoptic category table needs at least one thing and one stuff category")

    def __iter__(self) -> Iterator[Category]:
        return iter(self.categories)

    @property
    def stuff(self) -> tuple[Category, ...]:
        return tuple(c for c in self.categories if not c.is_thing)

    @property
    def things(self) -> tuple[Category, ...]:
        return tuple(c for c in self.categories if c.is_thing)

    @property
    def num_stuff(self) -> int:
        return len(self.stuff)

    @property
    def num_things(self) -> int:
        return len(self.things)

    @property
    def semantic_order(self) -> tuple[Category, ...]:
        """Categories in semantic-channel order: stuff first, then things."""
        return self.stuff + self.things

    def semantic_index(self) -> dict[int, int]:
        """Category id -> semantic channel."""
        return {c.id: i for i, c in enumerate(self.semantic_order)}

    def channel_category_ids(self, device: torch.device | str = "cpu") -> torch.Tensor:
        """Semantic channel -> category id, as a lookup tensor (read-only: made once per device, since
        on a GPU building a tensor from host data waits for the device, and results need it every frame)."""
        return _channel_category_ids(self, torch.device(device))

    def colors_by_id(self, device: torch.device | str = "cpu") -> torch.Tensor:
        """[256, 3] uint8 colour lookup indexed by category id (void and unknown ids are black)."""
        lut = torch.zeros(256, 3, dtype=torch.uint8)
        for c in self.categories:
            lut[c.id] = torch.tensor(c.color, dtype=torch.uint8)
        return lut.to(device)

    def to_list(self) -> list[dict[str, Any]]:
        """The table as plain records (JSON/YAML-friendly: colours as lists), as checkpoints store it."""
        return [dataclasses.asdict(c) | {"color": list(c.color)} for c in self.categories]

    @classmethod
    def from_list(cls, items: Sequence[dict[str, Any]]) -> "CategoryTable":
        """From COCO-panoptic-style records (``categories_from_records``), under the table's rules."""
        return cls(categories_from_records(items))


class OtherClasses(ValueError):
    """Two category tables that do not hold the same classes (``check_same_classes``)."""


def check_same_classes(a: CategoryTable, b: CategoryTable, a_name: str, b_name: str) -> None:
    """Raise ``OtherClasses`` unless ``a`` and ``b`` hold the same classes: the same ids with the same
    names and kinds, whatever their order and colours (targets, scores and messages go by id; a model's
    channels follow its own table), naming what each has that the other has not."""
    def described(table: CategoryTable) -> set[tuple[int, str, bool]]:
        return {(c.id, c.name, c.is_thing) for c in table.categories}
    if described(a) != described(b):
        only_a, only_b = sorted(described(a) - described(b)), sorted(described(b) - described(a))
        raise OtherClasses(f"{a_name}'s categories differ from {b_name}'s: {a_name} has {only_a[:6]}, "
                         f"{b_name} {only_b[:6]} (id, name, thing)")


def categories_from_records(items: Sequence[dict[str, Any]]) -> tuple[Category, ...]:
    """Categories from COCO-panoptic-style records: ``id``, ``name``, ``isthing``/``is_thing``, ``color``.

    Without a ``CategoryTable``'s rules (ids under 255, things and stuff both present), which a model
    needs but scoring another data set's files does not.
    """
    cats = []
    for it in items:
        missing = [key for key in ("id", "name") if key not in it] + (
            [] if "is_thing" in it or "isthing" in it else ["isthing"])
        if missing:
            raise ValueError(f"category record {str(it)[:120]} has no {', '.join(missing)}")
        is_thing = bool(it["is_thing"] if "is_thing" in it else it["isthing"])
        color = tuple(int(v) for v in it.get("color", (128, 128, 128)))
        cats.append(Category(int(it["id"]), str(it["name"]), is_thing, color))  # type: ignore[arg-type]
    return tuple(cats)


@functools.lru_cache(maxsize=16)
def _channel_category_ids(table: CategoryTable, device: torch.device) -> torch.Tensor:
    return torch.tensor([c.id for c in table.semantic_order], dtype=torch.int64, device=device)
