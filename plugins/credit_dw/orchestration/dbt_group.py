"""The Cosmos task group that runs the dbt project node by node, and the night's tests.

Manifest-based rendering (``LoadMode.DBT_MANIFEST``): the manifest is produced ahead of time by
``credit-dw dbt parse`` (``make setup`` and ``credit-dw demo`` do it), so parsing the DAG never
invokes dbt. dbt runs in-process (``InvocationMode.DBT_RUNNER``) from the same virtualenv.
The profile is the project's own ``profiles.yml``, which reads the same environment as the CLI.
Seeds, staging, intermediate views and tonight's change set run as one task (``dbt_foundation``);
snapshots, marts and steward models are rendered node by node by Cosmos, so the objects analysts
see each have their own task and retries in the Airflow UI; the per-audience disclosure views
over the fact are one task after them (``dbt_disclosure_views``). Every model is incremental on the
change set, so a night's node costs what changed. The data tests a night runs are the cheap ones
(``selectors.yml``: ``nightly``), in one task after the marts (``dbt_tests``); unit tests and the
other data tests run in CI and in the full refresh (``credit-dw build --full-refresh``).
"""

from __future__ import annotations

from pathlib import Path

from credit_dw.config import PROJECT_ROOT

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
MANIFEST = DBT_PROJECT_DIR / "target" / "manifest.json"


class ManifestMissing(RuntimeError):
    pass


# Reference data and plumbing: seeds, the staging / intermediate views and tonight's change set.
# Seconds of dbt work in total, so one task; rendering them node by node would cost ~5 s of
# Airflow overhead each.
FOUNDATION = ["resource_type:seed", "path:models/staging", "path:models/intermediate"]
FOUNDATION_EXCLUDE = ["resource_type:test", "resource_type:unit_test"]
# What analysts and stewards get: rendered node by node, each with its own retries.
PUBLISHED = ["resource_type:snapshot", "path:models/marts", "path:models/stewards"]
# The per-audience disclosure views: definitions over the fact, rewritten each night only
# because the as-of date is written into them. One task (`dbt_disclosure_views`) after the
# marts: five tasks cost ~10 s of invocation overhead a night for ~0.3 s of DDL.
DISCLOSURE_VIEWS = ["path:models/marts/disclosure"]
# Every Cosmos dbt invocation skips writing manifest.json and run_results.json: nothing reads them
# (the DAG renders from the manifest `credit-dw dbt parse` wrote; failures come from dbt's result
# object), and a 2 MB manifest written twice per invocation was a third of each mart task's time.
DBT_FLAGS = ["--no-write-json"]
# The night's data tests (dbt_project/selectors.yml).
NIGHTLY_SELECTOR = "nightly"


def _configs():
    from cosmos import ExecutionConfig, ProfileConfig, ProjectConfig
    from cosmos.constants import ExecutionMode, InvocationMode

    if not MANIFEST.exists():
        raise ManifestMissing(
            f"dbt manifest {MANIFEST} is missing, so the build DAG cannot be rendered. "
            "Run `credit-dw dbt parse` (`credit-dw airflow` and `make demo` do) and reload."
        )
    project = ProjectConfig(dbt_project_path=DBT_PROJECT_DIR, manifest_path=MANIFEST, install_dbt_deps=False)
    profile = ProfileConfig(
        profile_name="credit_dw",
        target_name="warehouse",
        profiles_yml_filepath=Path(DBT_PROJECT_DIR / "profiles.yml"),
    )
    execution = ExecutionConfig(execution_mode=ExecutionMode.LOCAL, invocation_mode=InvocationMode.DBT_RUNNER)
    return project, profile, execution


def dbt_task_group(as_of_date: str, group_id: str = "dbt"):
    """``dbt_foundation`` (one ``dbt build``), a Cosmos ``DbtTaskGroup`` of the marts, then
    ``dbt_tests`` (the night's data tests). Returns the first and the last task."""
    from cosmos import DbtTaskGroup, RenderConfig
    from cosmos.constants import InvocationMode, LoadMode, TestBehavior
    from cosmos.operators.local import DbtBuildLocalOperator, DbtRunLocalOperator, DbtTestLocalOperator

    from credit_dw.dbt import AS_OF_ENV, cheap_behavior_flag_source

    project, profile, execution = _configs()
    # the as-of day in the environment, not --vars: new vars make every task re-parse the project
    as_of_env = {AS_OF_ENV: as_of_date}
    # every dbt task's arguments, rendered by Cosmos or not
    shared = {"env": as_of_env, "retries": 1, "install_deps": False, "dbt_cmd_global_flags": DBT_FLAGS,
              "pre_execute": cheap_behavior_flag_source}
    group = DbtTaskGroup(
        group_id=group_id,
        project_config=project,
        profile_config=profile,
        execution_config=execution,
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            select=PUBLISHED,
            exclude=DISCLOSURE_VIEWS,
            test_behavior=TestBehavior.NONE,
        ),
        operator_args=shared,  # Cosmos works on its own copy (DbtToAirflowConverter)
    )
    # The tasks outside the group, with the group's partial-parse cache: Cosmos gives a cache
    # only to the operators it renders, and without one each of these three re-parsed the whole
    # project every night (6-7 s each on the demo).
    common = {**shared, "project_dir": str(DBT_PROJECT_DIR), "profile_config": profile,
              "invocation_mode": InvocationMode.DBT_RUNNER, "cache_dir": group.dbt_graph.cache_dir}
    foundation = DbtBuildLocalOperator(
        task_id="dbt_foundation",
        select=FOUNDATION,
        # Models only: the night's tests run once, in dbt_tests, after everything is built.
        # An exclude, not `indirect_selection`: a folder selects the tests declared in its YAML
        # directly (86 data tests, source not-nulls over whole raw tables among them, and 10 unit
        # tests ran here every night with indirect selection set to empty).
        exclude=FOUNDATION_EXCLUDE,
        **common,
    )
    views = DbtRunLocalOperator(task_id="dbt_disclosure_views", select=DISCLOSURE_VIEWS, **common)
    tests = DbtTestLocalOperator(task_id="dbt_tests", selector=NIGHTLY_SELECTOR, **common)
    foundation >> group >> views >> tests
    return foundation, tests


def manifest_is_stale() -> bool:
    if not MANIFEST.exists():
        return True
    built = MANIFEST.stat().st_mtime
    sources = [DBT_PROJECT_DIR / "dbt_project.yml"]
    for folder in ("models", "seeds", "snapshots", "macros", "tests"):
        sources += [p for p in (DBT_PROJECT_DIR / folder).rglob("*") if p.is_file()]
    return any(p.stat().st_mtime > built for p in sources if p.exists())


def ensure_manifest() -> None:
    """Run ``dbt parse`` when the manifest is missing or older than the project (about 5 s)."""
    if manifest_is_stale():
        from credit_dw.dbt import run_dbt

        run_dbt(["parse"])
