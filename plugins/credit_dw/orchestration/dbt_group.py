"""The Cosmos task group that runs the dbt project node by node.

Manifest-based rendering (``LoadMode.DBT_MANIFEST``): the manifest is produced ahead of time by
``credit-dw dbt parse`` (``make setup`` and ``credit-dw demo`` do it), so parsing the DAG never
invokes dbt. dbt runs in-process (``InvocationMode.DBT_RUNNER``) from the same virtualenv.
The profile is the project's own ``profiles.yml``, which reads the same environment as the CLI.
"""

from __future__ import annotations

from pathlib import Path

from credit_dw.config import PROJECT_ROOT

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
MANIFEST = DBT_PROJECT_DIR / "target" / "manifest.json"


class ManifestMissing(RuntimeError):
    pass


def dbt_task_group(as_of_date: str, group_id: str = "dbt"):
    from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
    from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior

    if not MANIFEST.exists():
        raise ManifestMissing(
            f"dbt manifest {MANIFEST} is missing, so the build DAG cannot be rendered. "
            "Run `credit-dw dbt parse` (make setup does) and reload."
        )
    return DbtTaskGroup(
        group_id=group_id,
        project_config=ProjectConfig(
            dbt_project_path=DBT_PROJECT_DIR,
            manifest_path=MANIFEST,
            install_dbt_deps=False,
        ),
        profile_config=ProfileConfig(
            profile_name="credit_dw",
            target_name="warehouse",
            profiles_yml_filepath=Path(DBT_PROJECT_DIR / "profiles.yml"),
        ),
        execution_config=ExecutionConfig(
            execution_mode=ExecutionMode.LOCAL,
            invocation_mode=InvocationMode.DBT_RUNNER,
        ),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            # One `dbt build` task per node (model + its tests): half the tasks of AFTER_EACH, and
            # Airflow costs ~5 s per task however small the node.
            test_behavior=TestBehavior.BUILD,
        ),
        operator_args={"vars": {"as_of_date": as_of_date}, "retries": 1},
    )


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
