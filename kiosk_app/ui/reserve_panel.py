"""The product screen's way to ask for a size: touch a size with units free, then "Bring it to
a fitting room" or, signed in, "Reserve to collect"; the state of each request for the
product in view shows below, live, until the visit ends. The size chips follow HQ's
figures for the product as they change.
"""

from __future__ import annotations

from kivy.utils import escape_markup

from kiosk_app._reservation_desk import StoreNews, StoreNewsKind
from kiosk_app._reservations import latest_for
from kiosk_app.controls import KioskControls
from kiosk_app.ui import theme
from kiosk_app.ui.host import Host
from kiosk_app.ui.present import size_views
from kiosk_app.ui.present_reservations import REFUSAL_TOASTS, request_line_list, size_label
from kiosk_app.ui.screens import ProductScreen
from kiosk_protocol import Product, ReservationKind


class ReservePanel:
    """What the product screen shows and does of requests, for the product in view."""

    def __init__(self, controls: KioskControls, host: Host, store: str) -> None:
        self._controls, self._host, self._store = controls, host, store
        self._product: Product | None = None

    def show(self, product: Product | None) -> None:
        """A product came into view (None: none): no size chosen yet, its requests' state as it stands."""
        if product is None or self._product is None or product.sku != self._product.sku:
            self._screen().chosen_size = ""
        self._product = product
        self.render()

    def choose_size(self, size: str) -> None:
        """The shopper touched a size: chosen (touched again: no longer), if it has units free."""
        self._host.note_activity()
        screen = self._screen()
        free = self._free()
        screen.chosen_size = "" if screen.chosen_size == size or free.get(size, 0) <= 0 else size
        self.render()

    def ask(self, kind: str) -> None:
        """Ask HQ for the chosen size, for a fitting room or to collect; a refusal is said in a toast."""
        screen = self._screen()
        if self._product is None or not screen.chosen_size:
            return
        refusal = self._controls.reserve(self._product.sku, screen.chosen_size, ReservationKind(kind))
        if refusal is not None:
            self._host.show_toast(REFUSAL_TOASTS[refusal])
        else:
            screen.chosen_size = ""  # asked: the line below says where it stands
        self.render()

    def take_news(self, news: StoreNews) -> None:
        """HQ's word: the visit's requests moved on, or a product's free units changed."""
        if self._product is None:
            return
        if news.kind is StoreNewsKind.VISIT_REQUESTS or (news.kind is StoreNewsKind.STOCK
                                                        and news.sku == self._product.sku):
            self.render()

    def render(self) -> None:
        """The chips, the chosen size and the requests' lines again, in the window's language."""
        screen, tx, language = self._screen(), self._host.tx, self._host.language
        product = self._product
        if product is None:
            screen.chosen_size = screen.chosen_text = screen.requests_text = screen.requests_markup = ""
            screen.can_collect = screen.reserve_open = False
            return
        free = self._free()
        if free.get(screen.chosen_size, 0) <= 0:  # the last one was taken meanwhile
            screen.chosen_size = ""
        screen.show_sizes(size_views(product, self._store, language, free))
        chosen = screen.chosen_size
        screen.chosen_text = (tx["reserve_size_last" if free[chosen] == 1 else "reserve_size"].format(
            size=size_label(chosen, language), count=free[chosen]) if chosen else "")
        visit = self._controls.state.visit
        screen.can_collect = visit.shopper is not None and visit.card_token is not None
        lines = request_line_list(latest_for(visit, product.sku), language)
        screen.requests_text = "\n".join(line for line, _trouble in lines)
        # What went wrong in the warning colour; the words say it too (colour alone must not).
        warn, ok = theme.hex_of(self._host.pal["WARN"]), theme.hex_of(self._host.pal["ACCENT"])
        screen.requests_markup = "\n".join(f"[color={warn if trouble else ok}]{escape_markup(line)}[/color]"
                                            for line, trouble in lines)
        screen.reserve_open = bool(chosen or screen.requests_text)

    def _free(self) -> dict[str, int]:
        return (self._controls.free_units(self._product.sku) or {}) if self._product is not None else {}

    def _screen(self) -> ProductScreen:
        screen: ProductScreen = self._host.sm.get_screen("product")
        return screen
