"""Suggestions for the shopper in front of the kiosk: catalog features, item-item
neighbours, session-aware scoring and business rules. No Kivy, MQTT or NFC inside.

Build at HQ (or on the kiosk, content-only, from its catalog)::

    items = [ItemFeatures(sku, texts, category, brand, price, stock=...), ...]
    events = read_event_log(["kiosk.tsv", "web.tsv"])
    model = build_model(items, events)
    save_model(model, "model.rec")

Use on the kiosk::

    model = load_model("model.rec")               # a bad file raises an ArtifactError
    answer = model.suggest(history, store="madrid-centro", in_view={"BOOT-CHELSEA-BLK"})

The recommender knows nothing of the kiosk's catalog: ``kiosk_app`` turns it into
``ItemFeatures``.
"""

from recommender._artifact import FORMAT_VERSION, load_model, model_from_bytes, save_model
from recommender._baselines import (
    ImplicitCosineModel,
    OursModel,
    PopularityModel,
    SessionModel,
    VSKNNConfig,
    VSKNNModel,
    default_models,
)
from recommender._build import BuildConfig, build_model
from recommender._content import ContentConfig
from recommender._covisit import CovisitConfig
from recommender._evaluate import (
    MODEL_NAMES,
    EvaluationReport,
    Metrics,
    TestCases,
    evaluate_files,
    evaluate_models,
    format_report,
    prepare_test,
    write_report,
)
from recommender._events import Click, ClickLog, read_event_log
from recommender._model import ModelInfo, Recommender, RecommenderCounters
from recommender._plot import plot_report
from recommender._session import ScoringConfig
from recommender._types import (
    Channel,
    HistoryEvent,
    ItemFeatures,
    Reason,
    ReasonKind,
    ScoredItem,
    Suggestion,
    Suggestions,
)
from recommender.exceptions import (
    ArtifactError,
    CatalogInputError,
    CorruptArtifactError,
    EmptyCatalogError,
    EmptyEventLogError,
    EvaluationError,
    EventLogError,
    ForeignArtifactError,
    InputError,
    RecommenderError,
    UnknownStoreError,
    UnsupportedArtifactVersionError,
)

__all__ = [
    "FORMAT_VERSION",
    "MODEL_NAMES",
    "ArtifactError",
    "BuildConfig",
    "CatalogInputError",
    "Channel",
    "Click",
    "ClickLog",
    "ContentConfig",
    "CorruptArtifactError",
    "CovisitConfig",
    "EmptyCatalogError",
    "EmptyEventLogError",
    "EvaluationError",
    "EvaluationReport",
    "EventLogError",
    "ForeignArtifactError",
    "HistoryEvent",
    "ImplicitCosineModel",
    "InputError",
    "ItemFeatures",
    "Metrics",
    "ModelInfo",
    "OursModel",
    "PopularityModel",
    "Reason",
    "ReasonKind",
    "Recommender",
    "RecommenderCounters",
    "RecommenderError",
    "ScoredItem",
    "ScoringConfig",
    "SessionModel",
    "Suggestion",
    "Suggestions",
    "TestCases",
    "UnknownStoreError",
    "UnsupportedArtifactVersionError",
    "VSKNNConfig",
    "VSKNNModel",
    "build_model",
    "default_models",
    "evaluate_files",
    "evaluate_models",
    "format_report",
    "load_model",
    "model_from_bytes",
    "plot_report",
    "prepare_test",
    "read_event_log",
    "save_model",
    "write_report",
]
