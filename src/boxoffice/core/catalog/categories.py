"""Event categories: a managed list (platform admins), named per locale."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.catalog.models import Category
from boxoffice.core.catalog.schemas import CategoryIn, CategoryOut
from boxoffice.core.clock import Clock
from boxoffice.core.errors import Conflict, FieldError, NotFound, ValidationFailed


def localized(names: dict[str, str], locale: str) -> str:
    """The name for ``locale`` ("de-AT" falls back to "de", then to English)."""
    tag = locale.replace("_", "-").lower()
    for candidate in (tag, tag.split("-")[0], "en"):
        for key, value in names.items():
            if key.replace("_", "-").lower() == candidate:
                return value
    return next(iter(names.values()), "")


def category_out(category: Category, locale: str = "en") -> CategoryOut:
    return CategoryOut(
        id=category.id,
        slug=category.slug,
        name=localized(category.names, locale),
        names=dict(category.names),
        position=category.position,
    )


def _check(data: CategoryIn) -> None:
    if "en" not in data.names:
        raise ValidationFailed(
            "a category needs an English name", errors=[FieldError("names.en", "required")]
        )


async def create_category(session: AsyncSession, clock: Clock, data: CategoryIn) -> Category:
    _check(data)
    if await session.scalar(select(Category.id).where(Category.slug == data.slug)):
        raise Conflict(f"the category {data.slug!r} exists")
    category = Category(
        slug=data.slug, names=dict(data.names), position=data.position, created_at=clock.now()
    )
    session.add(category)
    await session.flush()
    return category


async def update_category(
    session: AsyncSession, category_id: uuid.UUID, data: CategoryIn
) -> Category:
    _check(data)
    category = await session.get(Category, category_id)
    if category is None:
        raise NotFound(f"no category {category_id}")
    clash = await session.scalar(
        select(Category.id).where(Category.slug == data.slug, Category.id != category_id)
    )
    if clash:
        raise Conflict(f"the category {data.slug!r} exists")
    category.slug, category.names, category.position = data.slug, dict(data.names), data.position
    return category


async def list_categories(session: AsyncSession) -> list[Category]:
    return list(await session.scalars(select(Category).order_by(Category.position, Category.slug)))


async def category_by_slug(session: AsyncSession, slug: str) -> Category:
    category = await session.scalar(select(Category).where(Category.slug == slug))
    if category is None:
        raise ValidationFailed(
            "unknown category", errors=[FieldError("category", f"no category {slug!r}")]
        )
    return category
