"""Experiments: named groups of runs."""

from __future__ import annotations

from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError

from ..clock import now_ms
from ..errors import AlreadyExists, NotFound
from ..governance import audit
from ..ops import operation
from ..store import Store
from ..store.schema import experiment_tags, experiments
from ..store.upsert import conflict_insert
from .entities import ACTIVE, Experiment
from .validation import check_description, check_name


@operation("experiments.create", role="writer")
def create_experiment(store: Store, name: str, *, description: str | None = None) -> Experiment:
    """Create an experiment; raises :class:`AlreadyExists` if the name is taken."""
    check_name(name, "experiment")
    description = check_description(description, "experiment")
    try:
        with store.write() as connection:
            if _find(connection, name) is not None:
                raise AlreadyExists(f"experiment '{name}' exists already")
            experiment_id = _insert(connection, store, name, description)
    except IntegrityError:
        raise AlreadyExists(f"experiment '{name}' exists already") from None
    return get_experiment(store, experiment_id)


def get_or_create_experiment(connection: Connection, store: Store, name: str) -> int:
    """The id of experiment ``name``, created (and audited) if missing; inside a write.

    Two processes creating the same new experiment at once both succeed: the database
    keeps one row and the other insert does nothing.
    """
    check_name(name, "experiment")
    found = _find(connection, name)
    if found is not None:
        return found
    now = now_ms()
    created = connection.execute(
        conflict_insert(connection, experiments)
        .values(name=name, lifecycle_stage=ACTIVE, created_at=now, updated_at=now)
        .on_conflict_do_nothing(index_elements=["name"])
        .returning(experiments.c.id)
    ).scalar_one_or_none()
    if created is None:  # another process created it first
        return _find(connection, name)  # type: ignore[return-value]
    _audit_creation(connection, store, created, name, None)
    return created


@operation("experiments.get", role="reader")
def get_experiment(store: Store, ref: str | int) -> Experiment:
    """An experiment by id or name."""
    with store.read() as connection:
        query = select(experiments)
        if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
            by_id = connection.execute(query.where(experiments.c.id == int(ref))).first()
            row = by_id or connection.execute(query.where(experiments.c.name == str(ref))).first()
        else:
            row = connection.execute(query.where(experiments.c.name == ref)).first()
        if row is None:
            raise NotFound(
                f"experiment '{ref}' not found", hint="list experiments with: loopml experiments ls"
            )
        tag_rows = connection.execute(
            select(experiment_tags.c.key, experiment_tags.c.value).where(
                experiment_tags.c.experiment_id == row.id
            )
        ).all()
    return _to_experiment(row, dict(tag_rows))


@operation("experiments.list", role="reader")
def list_experiments(store: Store, *, include_deleted: bool = False) -> list[Experiment]:
    query = select(experiments).order_by(experiments.c.id)
    if not include_deleted:
        query = query.where(experiments.c.lifecycle_stage == ACTIVE)
    with store.read() as connection:
        return [_to_experiment(row, {}) for row in connection.execute(query)]


def _find(connection: Connection, name: str) -> int | None:
    return connection.execute(
        select(experiments.c.id).where(experiments.c.name == name)
    ).scalar_one_or_none()


def _insert(connection: Connection, store: Store, name: str, description: str | None) -> int:
    now = now_ms()
    experiment_id = connection.execute(
        insert(experiments)
        .values(
            name=name,
            description=description,
            lifecycle_stage=ACTIVE,
            created_at=now,
            updated_at=now,
        )
        .returning(experiments.c.id)
    ).scalar_one()
    _audit_creation(connection, store, experiment_id, name, description)
    return experiment_id


def _audit_creation(
    connection: Connection, store: Store, experiment_id: int, name: str, description: str | None
) -> None:
    audit.record(
        connection,
        actor=store.actor,
        action="experiment.create",
        object_type="experiment",
        object_id=str(experiment_id),
        after={"name": name, "description": description},
    )


def _to_experiment(row, tags: dict[str, str]) -> Experiment:
    return Experiment(
        id=row.id,
        name=row.name,
        description=row.description,
        lifecycle_stage=row.lifecycle_stage,
        created_at=row.created_at,
        updated_at=row.updated_at,
        tags=tags,
    )
