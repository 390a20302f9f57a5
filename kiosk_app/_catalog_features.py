"""The one adapter between the catalog and the recommender: the kiosk's
``kiosk_protocol.Catalog`` as the recommender's ``ItemFeatures`` (the recommender knows
nothing of kiosk_protocol)."""

from __future__ import annotations

from kiosk_protocol import Catalog
from recommender import ItemFeatures


def item_features(catalog: Catalog) -> tuple[ItemFeatures, ...]:
    """The recommender's view of every catalog product: texts in both languages, stock per store."""
    return tuple(
        ItemFeatures(
            item_id=product.sku,
            texts=(product.name.es, product.name.en, product.description.es, product.description.en,
                   product.colour.es, product.colour.en),
            category=product.category,
            brand=product.brand,
            price=product.price,
            attributes=(f"colour:{product.colour.es.lower()}",),
            stock={store: sum(units.values()) for store, units in product.stock.items()},
        )
        for product in catalog.products
    )
