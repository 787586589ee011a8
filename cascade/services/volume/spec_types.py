"""Top-owned types with key/value specs, described once (no HTTP types here).

Volume types (extra specs) and group types (group specs) are one thing to
Cinder's API: a unique name, a description, public or not, and specs an admin
sets key by key; the pods hold copies, kept in step by the `<kind>.sync` job.
A `SpecType` says what differs (the model, Cinder's names, policy rules and
messages); loading, checking and changing one are written here once. A private
volume type is for admins and the projects given access, a private group type
for admins only (Cinder has no access list for them). Refusals carry Cinder's
status and message (`TypeError_`).
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cascade.db.models import GroupType, VolumeType, VolumeTypeAccess
from cascade.services.copies import now
from cascade.services.workflow import Refused
from cascade.versions import Version

DEFAULT = "__DEFAULT__"  # the default volume type, made with the database
SPEC_KEY = re.compile(r"^[a-zA-Z0-9-_:.]{1,255}$")
T = TypeVar("T", VolumeType, GroupType)
V3_0 = Version(3, 0)


class TypeError_(Refused):
    """A refusal with Cinder's status and message."""


def check_specs(specs: Any) -> dict[str, str]:
    """Specs as Cinder takes them: keys `^[a-zA-Z0-9-_:.]{1,255}$`, string values."""
    if not isinstance(specs, dict):
        raise TypeError_(400, "Invalid input for field/attribute extra_specs.")
    for key, value in specs.items():
        if not isinstance(key, str) or not SPEC_KEY.match(key):
            raise TypeError_(
                400,
                f"Invalid input for field/attribute extra_specs. Value: {specs}. "
                f"'{key}' does not match any of the regexes: '^[a-zA-Z0-9-_:.]{{1,255}}$'",
            )
        if value is not None and not isinstance(value, str | int | float | bool):
            raise TypeError_(400, f"Invalid input for field/attribute {key}. Value: {value}.")
    return {k: "" if v is None else str(v) for k, v in specs.items()}


async def projects_of(db: AsyncSession, type_id: str) -> list[str]:
    """The projects given access to a private volume type."""
    query = select(VolumeTypeAccess.project_id).where(VolumeTypeAccess.volume_type_id == type_id)
    return sorted((await db.scalars(query)).all())


async def usable(db: AsyncSession, row: VolumeType | GroupType, project: str | None) -> bool:
    """Public, or private and `project` None (an admin) or given access to a volume type."""
    if row.is_public or project is None:
        return True
    return isinstance(row, VolumeType) and project in await projects_of(db, row.id)


@dataclasses.dataclass(frozen=True)
class SpecType(Generic[T]):
    """One top-owned type with key/value specs, as Cinder names, serves and refuses it."""

    model: type[T]
    kind: str  # its routings' resource type, body key and `<kind>.sync` job
    specs: str  # the specs' attribute and body key
    view: Callable[[T, bool], dict[str, Any]]  # Cinder's view, for an admin or not
    rules: str  # its policy rules, `{}` the action: create, update, delete
    spec_rules: str  # its specs' rules: create, update, delete and `reads`
    reads: tuple[str, str]  # the actions of the specs' list and show rules
    public: str  # the create body's visibility key
    created: int  # the status of a create, of a type or of specs
    named: str  # 404 of a name or id that is none (`{}`)
    nothing: str  # 400 of an update without a field
    no_spec: tuple[str, str]  # 404 of a spec a show / a delete does not find ({id}, {key})
    hidden: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())  # not in a create / update answer
    since: Version = V3_0  # its first microversion (below: Cinder's 404)
    no_default: str | None = None  # 404 of `GET .../default` (None: served elsewhere)

    @property
    def label(self) -> str:
        """How Cinder's messages name one: `Volume type`."""
        return self.kind.replace("_", " ").capitalize()

    def specs_of(self, row: T) -> dict[str, str]:
        return dict(getattr(row, self.specs) or {})

    async def get(self, db: AsyncSession, type_id: str, project: str | None) -> T:
        """By id only, as Cinder's show: 404 for a missing type or one `project` may not
        use (None: an admin)."""
        found = await db.get(self.model, type_id)
        if found is None or not await usable(db, found, project):
            raise TypeError_(404, f"{self.label} {type_id} could not be found.")
        return found

    async def by_name_or_id(self, db: AsyncSession, wanted: str, project: str | None) -> T:
        """By id, else by name, as a create names one (Cinder's `get_by_name_or_id`)."""
        found = await db.get(self.model, wanted)
        if found is None:
            found = await db.scalar(select(self.model).where(self.model.name == wanted))
        if found is None or not await usable(db, found, project):
            raise TypeError_(404, self.named.format(wanted))
        return found

    def _name(self, raw: Any) -> str:
        if not isinstance(raw, str) or not raw.strip() or len(raw) > 255:
            raise TypeError_(400, f"{self.label} name can not be empty.")
        return raw.strip()

    def _description(self, raw: Any) -> str | None:
        if raw is not None and (not isinstance(raw, str) or len(raw) > 255):
            raise TypeError_(400, "Invalid input for field/attribute description.")
        return raw

    async def _commit(self, db: AsyncSession, name: str) -> None:
        try:
            await db.commit()
        except IntegrityError:
            await db.rollback()
            raise TypeError_(409, f"{self.label.title()} {name} already exists.") from None

    async def create(
        self, db: AsyncSession, name: Any, description: Any, specs: Any, is_public: bool
    ) -> T:
        row = self.model(
            id=str(uuid.uuid4()),
            name=self._name(name),
            description=self._description(description),
            is_public=is_public,
            created_at=now(),
            **{self.specs: check_specs(specs or {})},
        )
        db.add(row)
        await self._commit(db, row.name)
        return row

    async def update(
        self, db: AsyncSession, row: T, name: Any, description: Any, is_public: bool | None
    ) -> None:
        if name is None and description is None and is_public is None:
            raise TypeError_(400, self.nothing)
        if name is not None:
            new = self._name(name)
            if isinstance(row, VolumeType) and row.name == DEFAULT and new != DEFAULT:
                raise TypeError_(400, "The default volume type cannot be renamed.")
            row.name = new
        if description is not None:
            row.description = self._description(description)
        if is_public is not None:
            row.is_public = is_public
        row.updated_at = now()
        await self._commit(db, row.name)

    async def set_specs(self, db: AsyncSession, row: T, specs: dict[str, str]) -> None:
        setattr(row, self.specs, {**self.specs_of(row), **specs})
        row.updated_at = now()
        await db.commit()

    async def unset_spec(self, db: AsyncSession, row: T, key: str) -> None:
        specs = self.specs_of(row)
        if key not in specs:
            raise TypeError_(404, self.no_spec[1].format(id=row.id, key=key))
        del specs[key]
        setattr(row, self.specs, specs)
        row.updated_at = now()
        await db.commit()
