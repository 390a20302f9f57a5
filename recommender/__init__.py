"""Suggestions for the shopper in front of the kiosk: catalog features, item-item
neighbours, session-aware scoring and business rules. No Kivy, MQTT or NFC inside.
"""

__all__: list[str] = []
