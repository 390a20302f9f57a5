"""Every word the phone pages say, in the kiosk's two languages, and which one a phone gets.

The language is the page's ``?lang=`` (the kiosk's own, carried by its link, or the
page's switch), else the phone's ``Accept-Language``, else Spanish as on the kiosk.
Templates fill ``str.format`` fields.
"""

from __future__ import annotations

LANGUAGES = ("es", "en")
DEFAULT_LANGUAGE = "es"

TEXTS: dict[str, dict[str, str]] = {
    "es": {
        "switch_to": "English",
        "switch_label": "Read this page in English",
        "colour": "Color: {colour}",
        "sizes_at": "Tallas en {store}",
        "one_size_at": "Talla única en {store}",
        "one_size": "Única",
        "stock_one": "Queda 1",
        "stock_units": "Quedan {count}",
        "sold_out": "Agotada",
        "sold_out_here": "Agotado",
        "in_sizes": "Hay en {count} de {total} tallas",
        "in_stock_at": "Disponible en: {stores}",
        "in_no_store": "Ahora mismo no queda en ninguna tienda.",
        "not_sold_at": "No se vende en {store}.",
        "see_product": "Ver producto",
        "back_to_visit": "Volver a tu visita",
        "not_found_title": "No encontramos este producto",
        "not_found_body": "El código {sku} no está en nuestro catálogo. Puede que ya no se venda.",
        "visit_title": "Tu visita en {store}",
        "visit_signed_in": "Con tu tarjeta de cliente",
        "visit_signed_in_named": "Hola, {name}: con tu tarjeta de cliente",
        "visit_anonymous": "Para guardar una lista de deseos, acerca tu tarjeta de cliente al quiosco y acepta.",
        "taps_title": "Lo que miraste en el quiosco",
        "taps_empty": "Todavía no has acercado ningún producto al quiosco en esta visita.",
        "wishlist_title": "Tu lista de deseos",
        "wishlist_empty": "Tu lista de deseos está vacía.",
        "wishlist_add": "Añadir a mi lista",
        "wishlist_remove": "Quitar de mi lista",
        "wishlist_added": "{product}: añadido a tu lista de deseos.",
        "wishlist_removed": "{product}: quitado de tu lista de deseos.",
        "open_for": "Esta página sigue abierta en este móvil {duration} más.",
        "duration_hours": "{hours}\u00a0h\u00a0{minutes}\u00a0min",
        "duration_minutes": "{minutes}\u00a0min",
        "expired_title": "Este enlace ha caducado",
        "expired_body": "Los enlaces del quiosco valen {minutes} minutos. Vuelve a escanear el código del quiosco "
                        "para abrir uno nuevo.",
        "used_title": "Este enlace ya se ha abierto",
        "used_body": "Se abrió en otro móvil, y cada enlace se abre en uno solo. Escanea el código del quiosco "
                     "para abrir uno nuevo.",
        "forged_title": "Este enlace no es válido",
        "forged_body": "No viene de uno de nuestros quioscos o se ha modificado. Escanea de nuevo el código del "
                       "quiosco.",
        "no_visit_title": "Tu visita no está abierta en este móvil",
        "no_visit_body": "Escanea el código del quiosco para seguir tu visita aquí.",
        "refused_title": "No se ha podido hacer",
        "refused_body": "La petición no venía de esta página. Vuelve a tu visita e inténtalo otra vez.",
        "erased_body": "Esta cuenta se ha borrado; ya no guardamos nada de ella.",
        "offer_label": "Oferta",
        "offer_until": "Hasta el {date}",
        "offer_ended_on": "Esta oferta terminó el {date}.",
        "offer_starts_on": "Esta oferta empieza el {date}.",
        "offer_ended_body": "Ya no se aplica en ninguna tienda. Pregunta en tienda por las ofertas de ahora.",
        "offer_scheduled_body": "Hasta entonces los productos tienen su precio de siempre.",
        "offer_stores": "En {stores}",
        "offer_members": "Solo para clientes con tarjeta de fidelidad",
        "offer_terms": "Condiciones",
        "offer_products": "Productos en oferta",
        "offer_no_products": "Ahora mismo no hay productos a la venta con esta oferta.",
        "usual_price": "Antes {price}",
        "discount_percent": "{percent}\u00a0% de descuento",
        "discount_amount": "{amount} menos",
        "discount_price": "Ahora a {amount}",
        "coupon_save": "Guardar en mi tarjeta",
        "coupon_saved": "Guardada en tu tarjeta: úsala en tienda o en la web.",
        "coupon_sign_in": "Para guardarla en tu tarjeta, acerca tu tarjeta de cliente al quiosco y escanea su código.",
        "coupon_refused_body": "Esta oferta no se puede guardar en tu tarjeta ahora. Vuelve a la oferta e "
                               "inténtalo otra vez.",
        "offer_not_found_title": "No encontramos esta oferta",
        "offer_not_found_body": "La oferta {offer} no existe o el cartel está mal escrito. Pregunta en tienda.",
    },
    "en": {
        "switch_to": "Español",
        "switch_label": "Leer esta página en español",
        "colour": "Colour: {colour}",
        "sizes_at": "Sizes at {store}",
        "one_size_at": "One size at {store}",
        "one_size": "One size",
        "stock_one": "1 left",
        "stock_units": "{count} left",
        "sold_out": "Sold out",
        "sold_out_here": "Sold out",
        "in_sizes": "In stock in {count} of {total} sizes",
        "in_stock_at": "In stock at: {stores}",
        "in_no_store": "Not in stock in any store right now.",
        "not_sold_at": "Not sold at {store}.",
        "see_product": "See product",
        "back_to_visit": "Back to your visit",
        "not_found_title": "We can't find this product",
        "not_found_body": "The code {sku} is not in our catalogue. It may no longer be sold.",
        "visit_title": "Your visit at {store}",
        "visit_signed_in": "With your loyalty card",
        "visit_signed_in_named": "Hello {name}, with your loyalty card",
        "visit_anonymous": "To keep a wishlist, tap your loyalty card on the kiosk and agree.",
        "taps_title": "What you looked at on the kiosk",
        "taps_empty": "You have not tapped a product on the kiosk in this visit yet.",
        "wishlist_title": "Your wishlist",
        "wishlist_empty": "Your wishlist is empty.",
        "wishlist_add": "Add to my wishlist",
        "wishlist_remove": "Remove from my wishlist",
        "wishlist_added": "{product}: added to your wishlist.",
        "wishlist_removed": "{product}: removed from your wishlist.",
        "open_for": "This page stays open on this phone for {duration} more.",
        "duration_hours": "{hours}\u00a0h\u00a0{minutes}\u00a0min",
        "duration_minutes": "{minutes}\u00a0min",
        "expired_title": "This link has expired",
        "expired_body": "Links from the kiosk work for {minutes} minutes. Scan the code on the kiosk again for a "
                        "new one.",
        "used_title": "This link has already been opened",
        "used_body": "It was opened on another phone, and each link opens on one phone only. Scan the code on the "
                     "kiosk for a new one.",
        "forged_title": "This link is not valid",
        "forged_body": "It did not come from one of our kiosks, or it was changed. Scan the code on the kiosk again.",
        "no_visit_title": "Your visit is not open on this phone",
        "no_visit_body": "Scan the code on the kiosk to continue your visit here.",
        "refused_title": "That did not work",
        "refused_body": "The request did not come from this page. Go back to your visit and try again.",
        "erased_body": "This account was erased; we keep nothing more about it.",
        "offer_label": "Offer",
        "offer_until": "Until {date}",
        "offer_ended_on": "This offer ended on {date}.",
        "offer_starts_on": "This offer starts on {date}.",
        "offer_ended_body": "It no longer applies in any store. Ask in store about today's offers.",
        "offer_scheduled_body": "Until then the products keep their usual price.",
        "offer_stores": "At {stores}",
        "offer_members": "For loyalty card members only",
        "offer_terms": "Terms",
        "offer_products": "Products on offer",
        "offer_no_products": "No product on sale has this offer right now.",
        "usual_price": "Was {price}",
        "discount_percent": "{percent}% off",
        "discount_amount": "{amount} off",
        "discount_price": "Now {amount}",
        "coupon_save": "Save to my card",
        "coupon_saved": "Saved to your card: use it in store or online.",
        "coupon_sign_in": "To save it to your card, tap your loyalty card on the kiosk and scan its code.",
        "coupon_refused_body": "This offer cannot be saved to your card now. Go back to the offer and try again.",
        "offer_not_found_title": "We can't find this offer",
        "offer_not_found_body": "The offer {offer} does not exist, or the sign was misread. Ask in store.",
    },
}


def texts_for(language: str) -> dict[str, str]:
    """The words of the phone pages in ``language`` (Spanish for any other)."""
    return TEXTS[language if language in TEXTS else DEFAULT_LANGUAGE]


def other_language(language: str) -> str:
    """The language the page's switch leads to."""
    return "en" if language == "es" else "es"


def pick_language(asked: str | None, accept_language: str | None) -> str:
    """The page's language: ``asked`` (``?lang=``) when it is one of ours, else the phone's
    first preference among ours (``Accept-Language`` with its q-values), else Spanish."""
    if asked in LANGUAGES:
        return str(asked)
    preferences: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "")[:512].split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and quality > 0:
            preferences.append((-quality, position, primary))
    return min(preferences)[2] if preferences else DEFAULT_LANGUAGE
