"""Every string the kiosk's screens show, keyed by language and then by text key.

Templates use ``str.format`` fields. Both languages must hold the same keys.
"""

from __future__ import annotations

LANGUAGES: tuple[str, ...] = ("es", "en")

TEXTS: dict[str, dict[str, str]] = {
    "es": {
        "attract_title": "Acerca un producto al lector",
        "attract_subtitle": "Verás su precio, sus tallas y cuántas quedan en esta tienda.",
        "attract_card_hint": "¿Tienes tarjeta de cliente? Acércala al lector para identificarte.",
        "product_colour": "Color: {colour}",
        "product_sizes": "Tallas en esta tienda",
        "product_one_size": "Talla única",
        "size_one": "Única",
        "stock_units": "{count} en tienda",
        "stock_sold_out": "Agotado",
        "product_hint": "Acerca otro producto para verlo aquí.",
        "suggestions_title": "También te puede gustar",
        "reason_tapped": "Porque has visto {anchor}",
        "reason_tapped_this": "Ya lo has visto aquí",
        "reason_seen_online": "Porque viste {anchor} en la web",
        "reason_seen_online_this": "Visto en la web",
        "reason_seen_in_store": "Porque viste {anchor} en otra tienda",
        "reason_seen_in_store_this": "Visto en otra tienda",
        "reason_similar": "Parecido a {anchor}",
        "reason_similar_this": "Parecido",
        "reason_popular_in_store": "Popular en esta tienda",
        "reason_popular": "Popular ahora",
        "phone_title": "Sigue en tu móvil",
        "phone_caption": "Escanea el código para verlo en la tienda online.",
        "back_to_start": "Volver al inicio",
        "welcome_title": "Hola, {shopper}",
        "welcome_question": "¿Vinculamos esta visita a tu perfil?",
        "welcome_explain": "Si dices que sí, los productos que mires hoy se guardarán en tu perfil "
        "para recomendarte mejor.",
        "welcome_signout_hint": "Para cerrar sesión, vuelve a acercar tu tarjeta.",
        "consent_yes": "Sí, vincular",
        "consent_no": "No, gracias",
        "consent_given": "Hecho: esta visita se guardará en tu perfil.",
        "consent_refused": "De acuerdo: esta visita no se vinculará a tu perfil.",
        "broker_online": "Conectado",
        "broker_offline": "Sin conexión (los datos se guardan)",
        "reader_online": "Lector listo",
        "reader_offline": "Lector no disponible",
        "toast_signed_out": "Has cerrado sesión. ¡Hasta pronto!",
        "toast_unknown_product": "No encontramos este producto. Pregunta a nuestro equipo.",
        "toast_unreadable": "No hemos podido leer la etiqueta. Acércala de nuevo.",
        "toast_card_rejected": "No podemos usar esta tarjeta. Pregunta en caja.",
        "toast_not_handled": "Esta etiqueta no se usa en este punto.",
    },
    "en": {
        "attract_title": "Tap any product on the reader",
        "attract_subtitle": "See its price, its sizes and how many are left in this store.",
        "attract_card_hint": "Got a loyalty card? Tap it on the reader to sign in.",
        "product_colour": "Colour: {colour}",
        "product_sizes": "Sizes in this store",
        "product_one_size": "One size",
        "size_one": "One size",
        "stock_units": "{count} in store",
        "stock_sold_out": "Sold out",
        "product_hint": "Tap another product to see it here.",
        "suggestions_title": "You may also like",
        "reason_tapped": "Because you tapped {anchor}",
        "reason_tapped_this": "You tapped this earlier",
        "reason_seen_online": "Because you looked at {anchor} online",
        "reason_seen_online_this": "Seen online",
        "reason_seen_in_store": "Because you looked at {anchor} in another store",
        "reason_seen_in_store_this": "Seen in another store",
        "reason_similar": "Similar to {anchor}",
        "reason_similar_this": "Similar",
        "reason_popular_in_store": "Popular in this store",
        "reason_popular": "Popular right now",
        "phone_title": "Continue on your phone",
        "phone_caption": "Scan the code to see it in the online shop.",
        "back_to_start": "Back to start",
        "welcome_title": "Hello, {shopper}",
        "welcome_question": "Link this visit to your profile?",
        "welcome_explain": "If you say yes, the products you look at today are saved to your profile "
        "for better suggestions.",
        "welcome_signout_hint": "To sign out, tap your card again.",
        "consent_yes": "Yes, link it",
        "consent_no": "No, thanks",
        "consent_given": "Done: this visit will be saved to your profile.",
        "consent_refused": "All right: this visit won't be linked to your profile.",
        "broker_online": "Connected",
        "broker_offline": "Offline (data is kept)",
        "reader_online": "Reader ready",
        "reader_offline": "Reader unavailable",
        "toast_signed_out": "You're signed out. See you soon!",
        "toast_unknown_product": "We can't find this product. Please ask our team.",
        "toast_unreadable": "We couldn't read that tag. Please tap it again.",
        "toast_card_rejected": "We can't use this card. Please ask at the till.",
        "toast_not_handled": "This tag isn't used at this point.",
    },
}


def texts_for(language: str) -> dict[str, str]:
    """The strings for ``language``, falling back to Spanish like the catalog does."""
    return TEXTS.get(language, TEXTS["es"])


def other_language(language: str) -> str:
    """The language the toggle switches to."""
    return "en" if language == "es" else "es"
