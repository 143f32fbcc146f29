"""The metadata tables (SQLAlchemy Core). Persistence only: no business rules here.

The tracking and registry tables can hold everything MLflow's tracking and model-registry
model holds (experiments, runs, params, metrics, tags, registered models, versions,
aliases), so an MLflow-client-compatible API can be layered on without reshaping them.
Times are integer milliseconds since the epoch, as in MLflow. Changing a table means
adding an Alembic revision in ``store/migrations/versions``.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Double,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only aliases the rowid (fast appends) for a column declared exactly INTEGER.
_RowId = BigInteger().with_variant(Integer(), "sqlite")
# Narrow tables keyed by (run, key) are stored clustered on that key on SQLite: one
# B-tree search per lookup instead of two, ~30% faster searches over 10,000 runs.
_CLUSTERED = {"sqlite_with_rowid": False}

KEY_LENGTH = 250
NAME_LENGTH = 256
RUN_ID_LENGTH = 32
HASH_LENGTH = 64

experiments = Table(
    "experiments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(NAME_LENGTH), nullable=False, unique=True),
    Column("description", Text),
    Column("lifecycle_stage", String(16), nullable=False, default="active"),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

experiment_tags = Table(
    "experiment_tags",
    metadata,
    Column("experiment_id", ForeignKey("experiments.id"), primary_key=True),
    Column("key", String(KEY_LENGTH), primary_key=True),
    Column("value", Text, nullable=False),
    **_CLUSTERED,
)

runs = Table(
    "runs",
    metadata,
    Column("id", String(RUN_ID_LENGTH), primary_key=True),
    Column("experiment_id", ForeignKey("experiments.id"), nullable=False),
    Column("parent_run_id", ForeignKey("runs.id"), index=True),
    Column("name", String(NAME_LENGTH), nullable=False),
    Column("status", String(16), nullable=False),
    Column("lifecycle_stage", String(16), nullable=False, default="active"),
    Column("user", String(NAME_LENGTH), nullable=False),
    Column("description", Text),
    Column("start_time", BigInteger, nullable=False),
    Column("end_time", BigInteger),
    Column("deleted_time", BigInteger),
    Column("source", String(1024)),
    Column("git_commit", String(40)),
    Column("git_dirty", Boolean),
    Column("git_diff_hash", String(HASH_LENGTH)),
    Column("host", String(NAME_LENGTH)),
    Column("pid", Integer),
    Column("python_version", String(32)),
    Column("environment", Text),
    Index(None, "experiment_id", "start_time"),
)

params = Table(
    "params",
    metadata,
    Column("run_id", ForeignKey("runs.id"), primary_key=True),
    Column("key", String(KEY_LENGTH), primary_key=True),
    Column("value", Text, nullable=False),
    # The value as a number when it parses as one, so `params.lr < 0.01` compares numbers.
    Column("value_num", Double),
    **_CLUSTERED,
)

tags = Table(
    "tags",
    metadata,
    Column("run_id", ForeignKey("runs.id"), primary_key=True),
    Column("key", String(KEY_LENGTH), primary_key=True),
    Column("value", Text, nullable=False),
    **_CLUSTERED,
)

metrics = Table(
    "metrics",
    metadata,
    Column("id", _RowId, primary_key=True, autoincrement=True),
    Column("run_id", ForeignKey("runs.id"), nullable=False),
    Column("key", String(KEY_LENGTH), nullable=False),
    Column("value", Double),  # NULL holds NaN: SQLite cannot store a NaN
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Index(None, "run_id", "key", "step"),
)

# The value with the highest (step, timestamp) per run and key, maintained on every
# flush, so filtering and sorting runs by a metric never scans the history.
latest_metrics = Table(
    "latest_metrics",
    metadata,
    Column("run_id", ForeignKey("runs.id"), primary_key=True),
    Column("key", String(KEY_LENGTH), primary_key=True),
    Column("value", Double),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Index(None, "key", "value"),
    **_CLUSTERED,
)

blobs = Table(
    "blobs",
    metadata,
    Column("hash", String(HASH_LENGTH), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    **_CLUSTERED,
)

run_artifacts = Table(
    "run_artifacts",
    metadata,
    Column("run_id", ForeignKey("runs.id"), primary_key=True),
    Column("path", String(1024), primary_key=True),
    Column("blob", ForeignKey("blobs.hash"), nullable=False, index=True),
    Column("size", BigInteger, nullable=False),
    Column("media_type", String(128)),
    Column("created_at", BigInteger, nullable=False),
    **_CLUSTERED,
)

# Content that lives inside a larger blob: many small files are packed into one blob (one
# write instead of thousands); each keeps its own hash, found here with its offset.
blob_parts = Table(
    "blob_parts",
    metadata,
    Column("hash", String(HASH_LENGTH), primary_key=True),
    Column("pack", ForeignKey("blobs.hash"), nullable=False, index=True),
    Column("offset", BigInteger, nullable=False),
    Column("size", BigInteger, nullable=False),
    **_CLUSTERED,
)

datasets = Table(
    "datasets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(NAME_LENGTH), nullable=False, unique=True),
    Column("description", Text),
    # The validation schema (YAML) that `loopml data add` checks new versions against.
    Column("schema_yaml", Text),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

dataset_versions = Table(
    "dataset_versions",
    metadata,
    Column("dataset_id", ForeignKey("datasets.id"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("kind", String(16), nullable=False),  # file | folder | table
    Column("format", String(16)),  # csv | parquet | jsonl for tables
    Column("content_hash", String(HASH_LENGTH), nullable=False),
    Column("blob", ForeignKey("blobs.hash"), nullable=False),  # the bytes, or a folder's manifest
    Column("size", BigInteger, nullable=False),
    Column("file_count", Integer, nullable=False),
    Column("row_count", BigInteger),
    Column("columns", Text),  # JSON: [[name, arrow type], ...] for tables
    Column("profile_blob", ForeignKey("blobs.hash")),
    Column("anomalies", Text),  # JSON: validation anomalies stored with --warn-only
    Column("parent_version", Integer),
    Column("author", String(NAME_LENGTH), nullable=False),
    Column("message", Text),
    Column("source", Text),  # JSON: where the data came from (path, dataframe, sql, url)
    Column("created_at", BigInteger, nullable=False),
    Index(None, "content_hash"),
)

dataset_tags = Table(
    "dataset_tags",
    metadata,
    Column("dataset_id", ForeignKey("datasets.id"), primary_key=True),
    Column("tag", String(NAME_LENGTH), primary_key=True),
    Column("version", Integer, nullable=False),
    ForeignKeyConstraint(
        ["dataset_id", "version"], ["dataset_versions.dataset_id", "dataset_versions.version"]
    ),
    **_CLUSTERED,
)

# Lineage: which dataset versions a run read.
run_inputs = Table(
    "run_inputs",
    metadata,
    Column("run_id", ForeignKey("runs.id"), primary_key=True),
    Column("dataset_id", Integer, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("created_at", BigInteger, nullable=False),
    ForeignKeyConstraint(
        ["dataset_id", "version"], ["dataset_versions.dataset_id", "dataset_versions.version"]
    ),
    Index(None, "dataset_id", "version"),
    **_CLUSTERED,
)

registered_models = Table(
    "registered_models",
    metadata,
    Column("name", String(NAME_LENGTH), primary_key=True),
    Column("description", Text),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

registered_model_tags = Table(
    "registered_model_tags",
    metadata,
    Column("name", ForeignKey("registered_models.name"), primary_key=True),
    Column("key", String(KEY_LENGTH), primary_key=True),
    Column("value", Text, nullable=False),
    **_CLUSTERED,
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("name", ForeignKey("registered_models.name"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("run_id", ForeignKey("runs.id"), index=True),
    Column("source", String(1024)),
    Column("status", String(20), nullable=False),
    Column("description", Text),
    Column("user", String(NAME_LENGTH)),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("flavor", String(32)),
    # The model's manifest (loopml-model.json) as a blob: it lists every file's hash, so
    # the chain of trust for loading a version starts at this column.
    Column("manifest_blob", ForeignKey("blobs.hash"), index=True),
    Column("signature", Text),  # JSON
    Column("requirements", Text),  # JSON list of pinned requirement lines
    Column("metrics", Text),  # JSON: the run's latest metrics when the version was made
    # JSON: dataset versions read, git commit and dirty flag, pipeline and pipeline run
    Column("lineage", Text),
    Column("pipeline_run_id", String(RUN_ID_LENGTH), index=True),
)

model_version_tags = Table(
    "model_version_tags",
    metadata,
    Column("name", String(NAME_LENGTH), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("key", String(KEY_LENGTH), primary_key=True),
    Column("value", Text, nullable=False),
    ForeignKeyConstraint(["name", "version"], ["model_versions.name", "model_versions.version"]),
    **_CLUSTERED,
)

model_aliases = Table(
    "model_aliases",
    metadata,
    Column("name", String(NAME_LENGTH), primary_key=True),
    Column("alias", String(NAME_LENGTH), primary_key=True),
    Column("version", Integer, nullable=False),
    ForeignKeyConstraint(["name", "version"], ["model_versions.name", "model_versions.version"]),
    **_CLUSTERED,
)

# Every move of an alias, newest last. A rollback undoes the newest move not yet undone
# (``undone_by`` points at the rollback), so repeated rollbacks walk back through history.
model_alias_history = Table(
    "model_alias_history",
    metadata,
    Column("id", _RowId, primary_key=True, autoincrement=True),
    Column("name", ForeignKey("registered_models.name"), nullable=False),
    Column("alias", String(NAME_LENGTH), nullable=False),
    Column("version", Integer),  # NULL when the alias was removed
    Column("previous_version", Integer),
    Column("action", String(16), nullable=False),  # set | delete | rollback
    Column("undone_by", BigInteger),
    Column("actor", String(NAME_LENGTH), nullable=False),
    Column("reason", Text),
    Column("time", BigInteger, nullable=False),
    Index(None, "name", "alias", "id"),
)

# One evaluation of a model version on one dataset: metrics, fairness and the report.
model_evaluations = Table(
    "model_evaluations",
    metadata,
    Column("id", _RowId, primary_key=True, autoincrement=True),
    Column("name", String(NAME_LENGTH), nullable=False),
    Column("version", Integer, nullable=False),
    Column("data_ref", String(NAME_LENGTH)),  # customers@3, or None for an in-memory frame
    Column("data_hash", String(HASH_LENGTH), nullable=False),
    Column("task", String(16), nullable=False),
    Column("target", String(NAME_LENGTH), nullable=False),
    Column("metrics", Text, nullable=False),  # JSON
    Column("result_blob", ForeignKey("blobs.hash"), nullable=False),  # the full JSON result
    Column("report_blob", ForeignKey("blobs.hash")),  # the HTML report
    Column("created_by", String(NAME_LENGTH), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    ForeignKeyConstraint(["name", "version"], ["model_versions.name", "model_versions.version"]),
    Index(None, "name", "version"),
)

# A request to point an alias at a version, with the gates it was checked against; held
# as pending until another user approves it when approval is required.
model_promotions = Table(
    "model_promotions",
    metadata,
    Column("id", _RowId, primary_key=True, autoincrement=True),
    Column("name", String(NAME_LENGTH), nullable=False),
    Column("version", Integer, nullable=False),
    Column("alias", String(NAME_LENGTH), nullable=False),
    Column("status", String(16), nullable=False),  # pending | promoted | refused | rejected
    Column("gates", Text, nullable=False),  # JSON: the gate expressions
    Column("report", Text),  # JSON: each gate with both values
    Column("data_ref", String(NAME_LENGTH)),
    Column("reason", Text),
    Column("requested_by", String(NAME_LENGTH), nullable=False),
    Column("requested_at", BigInteger, nullable=False),
    Column("decided_by", String(NAME_LENGTH)),
    Column("decided_at", BigInteger),
    ForeignKeyConstraint(["name", "version"], ["model_versions.name", "model_versions.version"]),
    Index(None, "name", "status"),
)

# Pipelines: a pipeline run is a tracked run (its row in `runs`) plus what only a pipeline
# has; each step execution is a tracked child run, recorded with its cache key.
pipeline_runs = Table(
    "pipeline_runs",
    metadata,
    Column("run_id", ForeignKey("runs.id"), primary_key=True),
    Column("pipeline", String(NAME_LENGTH), nullable=False),
    Column("file", String(1024), nullable=False),
    Column("params", Text, nullable=False),  # JSON: the overrides given, by dotted name
    Column("executor", String(64), nullable=False),
    Column("resumed_from", String(RUN_ID_LENGTH)),
    Column("reproduced_from", String(RUN_ID_LENGTH)),
    # JSON: what a finished run depended on (file hashes, params, packages, datasets), so
    # an unchanged re-run is recognised without importing the pipeline's code.
    Column("manifest", Text),
    Column("created_at", BigInteger, nullable=False),
    Index(None, "pipeline", "created_at"),
)

step_runs = Table(
    "step_runs",
    metadata,
    Column("pipeline_run_id", ForeignKey("pipeline_runs.run_id"), primary_key=True),
    Column("name", String(NAME_LENGTH), primary_key=True),  # node name: train, score[3]
    Column("step", String(NAME_LENGTH), nullable=False),  # the step function's name
    Column("status", String(16), nullable=False),
    Column("run_id", ForeignKey("runs.id")),  # the execution's run; NULL when reused
    Column("cache_key", String(HASH_LENGTH)),
    Column("key_parts", Text),  # JSON: source, code, params, inputs, packages
    Column("reused_from", String(RUN_ID_LENGTH)),  # pipeline run whose outputs were reused
    Column("reason", Text),
    Column("attempts", Integer, nullable=False, default=0),
    Column("error", Text),
    Column("outputs", Text),  # JSON: [{hash, materializer, type, size}]
    Column("started_at", BigInteger),
    Column("ended_at", BigInteger),
    Index(None, "cache_key"),
    Index(None, "run_id"),
    **_CLUSTERED,
)

# Which artifact went into or came out of which step run: lineage by artifact hash.
step_artifacts = Table(
    "step_artifacts",
    metadata,
    Column("pipeline_run_id", String(RUN_ID_LENGTH), primary_key=True),
    Column("step", String(NAME_LENGTH), primary_key=True),
    Column("role", String(8), primary_key=True),  # in | out
    Column("name", String(NAME_LENGTH), primary_key=True),  # argument name or output index
    Column("blob", ForeignKey("blobs.hash"), nullable=False, index=True),
    ForeignKeyConstraint(
        ["pipeline_run_id", "step"], ["step_runs.pipeline_run_id", "step_runs.name"]
    ),
    **_CLUSTERED,
)

schedules = Table(
    "schedules",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(NAME_LENGTH), nullable=False, unique=True),
    Column("file", String(1024), nullable=False),
    Column("params", Text, nullable=False),  # JSON overrides
    Column("trigger", String(16), nullable=False),  # cron | dataset | alert
    Column("spec", String(NAME_LENGTH), nullable=False),  # cron expression or object name
    Column("enabled", Boolean, nullable=False, default=True),
    Column("cursor", Text),  # last cron time handled (ms) or last dataset version seen
    Column("created_by", String(NAME_LENGTH), nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

# One row per tick that a scheduler claimed; the primary key is what keeps two
# schedulers from starting the same tick twice.
schedule_ticks = Table(
    "schedule_ticks",
    metadata,
    Column("schedule_id", ForeignKey("schedules.id"), primary_key=True),
    Column("tick", String(128), primary_key=True),
    Column("claimed_by", String(NAME_LENGTH), nullable=False),
    Column("claimed_at", BigInteger, nullable=False),
    Column("pipeline_run_id", String(RUN_ID_LENGTH)),
    Column("status", String(16), nullable=False),
    Column("error", Text),
    **_CLUSTERED,
)


# Serving: a deployment is a named endpoint whose spec (JSON: variants with model refs and
# weights, shadows, the canary's steps and limits, the sticky key) changes by revisions.
# Every revision is kept, so a rollback reinstates an earlier spec and says which.
deployments = Table(
    "deployments",
    metadata,
    Column("name", String(NAME_LENGTH), primary_key=True),
    Column("spec", Text, nullable=False),  # JSON, the current revision's
    Column("revision", Integer, nullable=False),
    Column("created_by", String(NAME_LENGTH), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    **_CLUSTERED,
)

deployment_revisions = Table(
    "deployment_revisions",
    metadata,
    Column("name", ForeignKey("deployments.name"), primary_key=True),
    Column("revision", Integer, primary_key=True),
    Column("spec", Text, nullable=False),
    Column("action", String(32), nullable=False),  # create | split | canary | switch | ...
    Column("undone_by", Integer),  # the rollback revision that undid this one
    Column("actor", String(NAME_LENGTH), nullable=False),
    Column("reason", Text),
    Column("time", BigInteger, nullable=False),
    **_CLUSTERED,
)

# The prediction log lives in Parquet segments in the artifact store; one row here per
# segment makes a time window's segments cheap to find.
prediction_segments = Table(
    "prediction_segments",
    metadata,
    Column("id", _RowId, primary_key=True, autoincrement=True),
    Column("deployment", String(NAME_LENGTH), nullable=False),
    Column("start_time", BigInteger, nullable=False),
    Column("end_time", BigInteger, nullable=False),
    Column("rows", Integer, nullable=False),
    Column("blob", ForeignKey("blobs.hash"), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index(None, "deployment", "end_time"),
)

# Ground truth joined to logged predictions by the prediction's id; the newest label wins.
prediction_feedback = Table(
    "prediction_feedback",
    metadata,
    Column("deployment", String(NAME_LENGTH), primary_key=True),
    Column("prediction_id", String(64), primary_key=True),
    Column("label", Text, nullable=False),  # JSON
    Column("prediction_time", BigInteger, nullable=False),
    Column("time", BigInteger, nullable=False),
    Column("actor", String(NAME_LENGTH), nullable=False),
    Index(None, "deployment", "prediction_time"),
    **_CLUSTERED,
)


# Monitoring: each run of a monitor over a window of logged predictions is one report
# (its full JSON and HTML are blobs; the headline figures are columns, for listing and
# for the Prometheus gauges); alerts are the policy's breaches with their delivery.
monitor_reports = Table(
    "monitor_reports",
    metadata,
    Column("id", _RowId, primary_key=True, autoincrement=True),
    Column("deployment", String(NAME_LENGTH), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("window_start", BigInteger, nullable=False),
    Column("window_end", BigInteger, nullable=False),
    Column("rows", Integer, nullable=False),
    Column("labelled", Integer, nullable=False),
    Column("model", String(NAME_LENGTH), nullable=False),  # churn/3: the stable variant's
    Column("reference", String(NAME_LENGTH), nullable=False),  # customers@2
    Column("dataset_drift", Boolean, nullable=False),
    Column("drift_share", Float, nullable=False),
    Column("summary", Text, nullable=False),  # JSON: metrics, drifted features, breaches
    Column("blob", ForeignKey("blobs.hash"), nullable=False),  # the whole report, JSON
    Column("html_blob", ForeignKey("blobs.hash")),
    Index(None, "deployment", "created_at"),
)

monitor_alerts = Table(
    "monitor_alerts",
    metadata,
    Column("id", _RowId, primary_key=True, autoincrement=True),
    Column("deployment", String(NAME_LENGTH), nullable=False),
    Column("report_id", ForeignKey("monitor_reports.id")),
    Column("created_at", BigInteger, nullable=False),
    Column("rule", String(NAME_LENGTH), nullable=False),
    Column("value", Float),
    Column("message", Text, nullable=False),
    Column("delivery", String(16), nullable=False),  # none | delivered | failed
    Column("attempts", Integer, nullable=False),
    Column("delivery_error", Text),
    Index(None, "deployment", "created_at"),
)

# A deployment's policy: what to watch, when to retrain, how to roll the result out.
monitor_policies = Table(
    "monitor_policies",
    metadata,
    Column("deployment", String(NAME_LENGTH), primary_key=True),
    Column("spec", Text, nullable=False),  # JSON
    Column("created_by", String(NAME_LENGTH), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("last_scheduled", BigInteger),  # the newest schedule slot already acted on
    **_CLUSTERED,
)

# Retraining the policy started: from the trigger to the candidate's canary and its end.
monitor_retrains = Table(
    "monitor_retrains",
    metadata,
    Column("id", _RowId, primary_key=True, autoincrement=True),
    Column("deployment", String(NAME_LENGTH), nullable=False),
    Column("trigger", String(NAME_LENGTH), nullable=False),  # alert #4 | schedule | manual
    Column("status", String(16), nullable=False),  # running|canary|promoted|rejected|failed
    Column("started_at", BigInteger, nullable=False),
    Column("finished_at", BigInteger),
    Column("pipeline_run", String(32)),
    Column("candidate", String(NAME_LENGTH)),  # churn/4
    Column("detail", Text),  # why it ended so
    Column("owner", String(NAME_LENGTH)),  # host:pid of the process running it
    Index(None, "deployment", "started_at"),
)

# A model's reference for monitoring (its training inputs, target and its own
# predictions on them), computed once per model version and dataset version.
monitor_references = Table(
    "monitor_references",
    metadata,
    Column("key", String(HASH_LENGTH), primary_key=True),
    Column("model", String(NAME_LENGTH), nullable=False),
    Column("dataset", String(NAME_LENGTH), nullable=False),
    Column("blob", ForeignKey("blobs.hash"), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    **_CLUSTERED,
)

# API tokens of the team server: only a SHA-256 of each secret is kept; `id` is the public
# part a token starts with, so a lookup is one primary-key read.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("user", String(NAME_LENGTH), nullable=False),
    Column("role", String(16), nullable=False),
    Column("secret_hash", String(HASH_LENGTH), nullable=False),
    Column("description", Text, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(NAME_LENGTH), nullable=False),
    Column("expires_at", BigInteger, nullable=True),
    Column("revoked_at", BigInteger, nullable=True),
    **_CLUSTERED,
)

# The audit log is an append-only hash chain: each event's hash covers its content and the
# previous event's hash; `audit_head` holds the newest (seq, hash) so that deleting the
# tail of the chain is detectable too, and its row lock serialises appends.
audit_events = Table(
    "audit_events",
    metadata,
    Column("seq", _RowId, primary_key=True, autoincrement=False),
    Column("time", BigInteger, nullable=False),
    Column("actor", String(NAME_LENGTH), nullable=False),
    Column("action", String(64), nullable=False),
    Column("object_type", String(64), nullable=False),
    Column("object_id", String(512), nullable=False),
    Column("before", Text),
    Column("after", Text),
    Column("prev_hash", String(HASH_LENGTH), nullable=False),
    Column("hash", String(HASH_LENGTH), nullable=False),
    Index(None, "object_type", "object_id"),
)

audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(HASH_LENGTH), nullable=False),
)

GENESIS_HASH = "0" * HASH_LENGTH
