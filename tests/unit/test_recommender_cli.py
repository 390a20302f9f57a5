"""``kiosk recommender build|evaluate`` on tiny files, and the catalog adapter."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from kiosk_app._catalog_features import item_features
from kiosk_app.cli_recommender import recommender
from kiosk_protocol import load_catalog
from recommender import HistoryEvent, ReasonKind, load_model

DEMO_CATALOG = Path(__file__).resolve().parents[2] / "assets" / "catalog" / "demo.json"
TRAIN = """SessionId\tItemId\tTime
1\tBOOT-CHELSEA-BLK\t100
1\tBAG-TOTE-BRN\t110
1\tBOOT-CHELSEA-BLK\t120
2\tBOOT-CHELSEA-BLK\t200
2\tBAG-TOTE-BRN\t210
3\tKNIT-CREW-OAT\t300
3\tCOAT-WOOL-GRY\t310
3\tKNIT-CREW-OAT\t320
4\tSNK-COURT-WHT\t400
4\tSNK-CANVAS-NVY\t410
"""
TEST = """SessionId\tItemId\tTime
10\tBOOT-CHELSEA-BLK\t1000
10\tBAG-TOTE-BRN\t1010
10\tBOOT-CHELSEA-BLK\t1020
11\tKNIT-CREW-OAT\t1100
11\tNEVER-SEEN\t1110
11\tCOAT-WOOL-GRY\t1120
"""


def test_adapter_gives_the_recommender_both_languages_stock_per_store_and_groups() -> None:
    items = item_features(load_catalog(DEMO_CATALOG))
    assert len(items) == 12
    boot = items[0]
    assert boot.item_id == "BOOT-CHELSEA-BLK"
    assert "Botín Chelsea negro" in boot.texts and "Black Chelsea boot" in boot.texts
    assert boot.stock == {"madrid-centro": 11, "barcelona-diagonal": 7}  # units of every size
    assert boot.diversity_group == items[1].diversity_group == "Norte|footwear/boots"
    assert boot.attributes == ("colour:negro",)


def test_build_from_catalog_and_events_gives_a_loadable_model(tmp_path: Path) -> None:
    (tmp_path / "train.tsv").write_text(TRAIN)
    model_path = tmp_path / "model.rec"
    result = CliRunner().invoke(
        recommender, ["build", "--catalog", str(DEMO_CATALOG), "--events", str(tmp_path / "train.tsv"),
                      "-o", str(model_path)],
    )
    assert result.exit_code == 0, result.output
    assert "12 items (12 in the catalog)" in result.output and "10 clicks in 4 sessions" in result.output
    model = load_model(model_path)
    answer = model.suggest([HistoryEvent("BOOT-CHELSEA-BLK", 0.0)], "madrid-centro", in_view={"BOOT-CHELSEA-BLK"})
    assert answer.items[0].item_id == "BAG-TOTE-BRN"
    assert answer.items[0].reason.kind is ReasonKind.TAPPED_HERE


def test_build_needs_something_and_reports_bad_input(tmp_path: Path) -> None:
    runner = CliRunner()
    nothing = runner.invoke(recommender, ["build", "-o", str(tmp_path / "m.rec")])
    assert nothing.exit_code == 2 and "--catalog, --events or both" in nothing.output
    (tmp_path / "empty.tsv").write_text("SessionId\tItemId\tTime\n")
    empty = runner.invoke(recommender, ["build", "--events", str(tmp_path / "empty.tsv"), "-o", str(tmp_path / "m")])
    assert empty.exit_code == 1 and "no clicks" in empty.output
    assert not (tmp_path / "m").exists()
    catalog = json.loads(DEMO_CATALOG.read_text())
    (tmp_path / "empty.json").write_text(json.dumps({**catalog, "products": []}))
    no_products = runner.invoke(recommender, ["build", "--catalog", str(tmp_path / "empty.json"), "-o", "m"])
    assert no_products.exit_code == 1 and "no items" in no_products.output
    (tmp_path / "broken.json").write_text("{")
    broken = runner.invoke(recommender, ["build", "--catalog", str(tmp_path / "broken.json"), "-o", "m"])
    assert broken.exit_code == 1 and "broken.json" in broken.output


def test_evaluate_writes_the_json_schema_and_the_plot(tmp_path: Path) -> None:
    (tmp_path / "train.tsv").write_text(TRAIN)
    (tmp_path / "test.tsv").write_text(TEST)
    out, png = tmp_path / "eval.json", tmp_path / "eval.png"
    result = CliRunner().invoke(
        recommender,
        ["evaluate", "--train", str(tmp_path / "train.tsv"), "--test", str(tmp_path / "test.tsv"),
         "--json", str(out), "--plot", str(png), "--no-progress"],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert list(report["models"]) == ["ours", "pop", "vsknn", "implicit_cosine"]
    keys = {"hr@5", "hr@10", "hr@20", "mrr@5", "mrr@10", "mrr@20", "coverage@20", "popularity@20", "fit_s",
            "predict_ms_p50", "predict_ms_p99"}
    assert all(set(figures) == keys for figures in report["models"].values())
    assert report["dataset"]["test_clicks_dropped_unseen_item"] == 1
    assert report["dataset"]["predictions"] == 3
    assert report["models"]["ours"]["hr@5"] == 1.0  # each next click here was seen after its prefix in training
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "ours" in result.output and "implicit_cosine" in result.output


def test_evaluate_rejects_unknown_models(tmp_path: Path) -> None:
    (tmp_path / "t.tsv").write_text(TRAIN)
    result = CliRunner().invoke(
        recommender, ["evaluate", "--train", str(tmp_path / "t.tsv"), "--test", str(tmp_path / "t.tsv"),
                      "--json", str(tmp_path / "o.json"), "--models", "ours,gru4rec"],
    )
    assert result.exit_code == 2 and "gru4rec" in result.output
