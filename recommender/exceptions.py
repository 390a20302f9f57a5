"""Errors the recommender raises, one tree under :class:`RecommenderError`.

::

    RecommenderError
    ├── InputError                       bad data handed to a build or an evaluation
    │   ├── CatalogInputError            item features that do not make a catalog (an id twice)
    │   │   └── EmptyCatalogError        no items at all
    │   └── EventLogError                unreadable or malformed event log
    │       └── EmptyEventLogError       an event log with no clicks
    ├── UnknownStoreError                stock asked for a store the model does not know
    ├── EvaluationError                  an evaluation that cannot produce a figure
    └── ArtifactError                    a model file that cannot be used
        ├── ForeignArtifactError         not a recommender model file at all
        ├── CorruptArtifactError         truncated, checksum mismatch, malformed content
        └── UnsupportedArtifactVersionError   a format version this code cannot read

Programming mistakes (a negative ``k``, a bad config value) raise ``ValueError``.
"""

from __future__ import annotations


class RecommenderError(Exception):
    """Base of every error the recommender raises on purpose."""


class InputError(RecommenderError):
    """Input data (catalog, event log, session files) cannot be used."""


class CatalogInputError(InputError):
    """Item features that cannot be a catalog: two items share an id."""


class EmptyCatalogError(CatalogInputError):
    """A build given a catalog with no items."""


class EventLogError(InputError):
    """An event log file is unreadable or malformed."""


class EmptyEventLogError(EventLogError):
    """An event log has no clicks."""


class UnknownStoreError(RecommenderError):
    """The model has no stock for the store asked about, and the caller gave none."""


class EvaluationError(RecommenderError):
    """An evaluation has nothing to evaluate (e.g. no test click left to predict)."""


class ArtifactError(RecommenderError):
    """A model file cannot be used; the caller keeps the model it has."""


class ForeignArtifactError(ArtifactError):
    """The file is not a recommender model file."""


class CorruptArtifactError(ArtifactError):
    """The file is a model file but truncated, altered or malformed."""


class UnsupportedArtifactVersionError(ArtifactError):
    """The file uses a format version this code cannot read."""
