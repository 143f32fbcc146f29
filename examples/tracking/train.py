"""Train three scikit-learn classifiers, track each as a loopml run, and compare them.

Run it from this folder after ``loopml init`` (``make demo`` does both). The data is
scikit-learn's bundled breast-cancer set, so nothing is downloaded.
"""

from __future__ import annotations

import time

import pandas as pd
from rich.console import Console
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import loopml
from loopml.cli.runs import compare_table

EXPERIMENT = "breast-cancer"

CANDIDATES = {
    "logistic-regression": (
        lambda p: make_pipeline(StandardScaler(), LogisticRegression(C=p["C"], max_iter=1000)),
        {"model": "logreg", "C": 0.5},
    ),
    "random-forest": (
        lambda p: RandomForestClassifier(
            n_estimators=p["n_estimators"], max_depth=p["max_depth"], random_state=0
        ),
        {"model": "rf", "n_estimators": 300, "max_depth": 6},
    ),
    "gradient-boosting": (
        lambda p: GradientBoostingClassifier(
            n_estimators=p["n_estimators"], learning_rate=p["learning_rate"], random_state=0
        ),
        {"model": "gbm", "n_estimators": 150, "learning_rate": 0.1},
    ),
}


def main() -> None:
    data = load_breast_cancer(as_frame=True)
    x_train, x_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.25, stratify=data.target, random_state=0
    )
    run_ids = []
    for name, (build, params) in CANDIDATES.items():
        with loopml.start_run(experiment=EXPERIMENT, run_name=name, params=params) as run:
            run.set_tags({"dataset": "sklearn.breast_cancer", "rows": len(data.data)})
            model = build(params)
            started = time.perf_counter()
            model.fit(x_train, y_train)
            run.log_metric("fit_seconds", time.perf_counter() - started)
            if hasattr(model, "staged_predict_proba"):  # a learning curve, one point per stage
                for stage, proba in enumerate(model.staged_predict_proba(x_test)):
                    run.log_metric("test_log_loss", log_loss(y_test, proba), step=stage)
            proba = model.predict_proba(x_test)[:, 1]
            predicted = (proba >= 0.5).astype(int)
            run.log_metrics(
                {
                    "roc_auc": roc_auc_score(y_test, proba),
                    "accuracy": accuracy_score(y_test, predicted),
                    "f1": f1_score(y_test, predicted),
                    "log_loss": log_loss(y_test, proba),
                }
            )
            run.log_table(
                pd.DataFrame({"label": y_test.to_numpy(), "probability": proba}),
                "predictions.parquet",
            )
            run.log_dict({"features": list(data.data.columns)}, "features.json")
            run_ids.append(run.id)
            print(f"logged run {run.id[:8]} {name}")

    best = loopml.search_runs(
        f"experiment = '{EXPERIMENT}'", order_by=["metrics.roc_auc desc"], max_results=1
    )
    store = loopml.default_store()
    console = Console()
    console.print(compare_table(store, [loopml.get_run(run_id) for run_id in run_ids]))
    console.print(
        f"best by roc_auc: {best.iloc[0]['run_name']} ({best.iloc[0]['metrics.roc_auc']:.4f})"
        "  - explore with: loopml runs ls, loopml runs show RUN_ID"
    )


if __name__ == "__main__":
    main()
