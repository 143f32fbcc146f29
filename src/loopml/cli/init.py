"""``loopml init``: create the store and the project file that states the problem."""

from __future__ import annotations

from pathlib import Path

import typer

from ..config import PROJECT_FILENAME, resolve
from ..errors import Conflict
from ..project import Project, load_project, make_project, save_project
from ._output import console, print_json


def init(
    name: str = typer.Option(None, help="Project name (default: the folder's name)."),
    task: str = typer.Option(
        "classification", help="classification, regression, ranking, forecasting or other."
    ),
    target: str = typer.Option(None, help="The column the model predicts."),
    metric: str = typer.Option(None, help="Objective metric (default from the task)."),
    threshold: float = typer.Option(None, help="The business threshold on the metric."),
    direction: str = typer.Option(None, help="maximize or minimize (default from the metric)."),
    force: bool = typer.Option(False, "--force", help="Rewrite an existing loopml.yaml."),
    json_output: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Create the store (.loopml/) here and a loopml.yaml stating the problem."""
    from ..store import open_store

    config = resolve(here=True)
    project_dir = config.project_dir or Path.cwd()
    project_file = project_dir / PROJECT_FILENAME
    existed = project_file.is_file()
    given = {"name": name, "target": target, "metric": metric, "threshold": threshold}
    given |= {"direction": direction, "task": None if task == "classification" else task}
    if existed and not force:
        chosen = sorted(option for option, value in given.items() if value is not None)
        if chosen:
            raise Conflict(
                f"{project_file} exists; not applying --{', --'.join(chosen)}",
                hint="edit the file, or rewrite it with these options: loopml init --force ...",
            )
        project = load_project(project_file)
    else:
        project = make_project(
            name or project_dir.name,
            task=task,
            target=target,
            metric=metric,
            threshold=threshold,
            direction=direction,
        )
        save_project(project, project_file)
    store = open_store(config, create=True)
    store.close()
    if json_output:
        print_json(
            {"store": str(config.home), "project_file": str(project_file), **project.to_dict()}
        )
        return
    verb = "kept" if existed and not force else "wrote"
    console.print(f"Initialised loopml store in {config.home}")
    console.print(
        f"{verb.capitalize()} {project_file}: {project.name} ({project.task}), objective "
        f"{project.objective.metric} {project.objective.direction}" + _threshold_text(project)
    )


def _threshold_text(project: Project) -> str:
    objective = project.objective
    if objective.threshold is None:
        return ""
    return f" {'<=' if objective.direction == 'minimize' else '>='} {objective.threshold}"
