"""The Cosmos task group that runs the dbt project node by node.

Manifest-based rendering (``LoadMode.DBT_MANIFEST``): the manifest is produced ahead of time by
``credit-dw dbt parse`` (``make setup`` and ``credit-dw demo`` do it), so parsing the DAG never
invokes dbt. dbt runs in-process (``InvocationMode.DBT_RUNNER``) from the same virtualenv.
The profile is the project's own ``profiles.yml``, which reads the same environment as the CLI.
Seeds, staging and intermediate views run as one task (``dbt_foundation``); snapshots, marts and
steward models are rendered node by node by Cosmos, so the objects analysts see each have their
own task, retries and tests in the Airflow UI.
"""

from __future__ import annotations

from pathlib import Path

from credit_dw.config import PROJECT_ROOT

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
MANIFEST = DBT_PROJECT_DIR / "target" / "manifest.json"


class ManifestMissing(RuntimeError):
    pass


# Reference data and plumbing: seeds and the staging / intermediate views. Seconds of dbt work
# in total, so one task; rendering them node by node would cost ~5 s of Airflow overhead each.
FOUNDATION = ["resource_type:seed", "path:models/staging", "path:models/intermediate"]
# What analysts and stewards get: rendered node by node, each with its own retries and tests.
PUBLISHED = ["resource_type:snapshot", "path:models/marts", "path:models/stewards"]


def _configs():
    from cosmos import ExecutionConfig, ProfileConfig, ProjectConfig
    from cosmos.constants import ExecutionMode, InvocationMode, TestIndirectSelection

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
    execution = ExecutionConfig(
        execution_mode=ExecutionMode.LOCAL,
        invocation_mode=InvocationMode.DBT_RUNNER,
        # A test that reads several models (relationships, cross-model checks) must not run in
        # the task of its first parent, before the others exist: cautious selection plus
        # detached multi-parent tests give each such test its own task after all its parents.
        test_indirect_selection=TestIndirectSelection.CAUTIOUS,
    )
    return project, profile, execution


def dbt_task_group(as_of_date: str, group_id: str = "dbt"):
    """``dbt_foundation`` (one ``dbt build``) followed by a Cosmos ``DbtTaskGroup`` of the marts."""
    from cosmos import DbtTaskGroup, RenderConfig
    from cosmos.constants import InvocationMode, LoadMode, TestBehavior
    from cosmos.operators.local import DbtBuildLocalOperator

    project, profile, execution = _configs()
    dbt_vars = {"as_of_date": as_of_date}
    foundation = DbtBuildLocalOperator(
        task_id="dbt_foundation",
        project_dir=str(DBT_PROJECT_DIR),
        profile_config=profile,
        select=FOUNDATION,
        vars=dbt_vars,
        install_deps=False,
        invocation_mode=InvocationMode.DBT_RUNNER,
        indirect_selection="cautious",
        retries=1,
    )
    group = DbtTaskGroup(
        group_id=group_id,
        project_config=project,
        profile_config=profile,
        execution_config=execution,
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            select=PUBLISHED,
            # One `dbt build` task per node: the model and its own tests together.
            test_behavior=TestBehavior.BUILD,
            should_detach_multiple_parents_tests=True,
        ),
        operator_args={"vars": dbt_vars, "retries": 1, "install_deps": False},
    )
    foundation >> group
    return foundation, group


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
