"""Names the Measurement Protocol reserves or knows, from Google's reference (see shared/reference)."""

from __future__ import annotations

__all__ = [
    "DEVICE_KEYS",
    "RESERVED_EVENTS",
    "RESERVED_PARAMS",
    "RESERVED_PREFIXES",
    "RESERVED_USER_PROPERTIES",
    "STANDARD_ITEM_FIELDS",
    "TOP_LEVEL_KEYS",
    "USER_PROPERTY_PREFIXES",
]

RESERVED_EVENTS = frozenset(
    {
        "ad_activeview", "ad_click", "ad_exposure", "ad_query", "ad_reward", "adunit_exposure", "app_clear_data",
        "app_exception", "app_install", "app_remove", "app_store_refund", "app_update", "app_upgrade",
        "dynamic_link_app_open", "dynamic_link_app_update", "dynamic_link_first_open", "error", "firebase_campaign",
        "firebase_in_app_message_action", "firebase_in_app_message_dismiss", "firebase_in_app_message_impression",
        "first_open", "first_visit", "notification_dismiss", "notification_foreground", "notification_open",
        "notification_receive", "notification_send", "os_update", "session_start", "user_engagement",
        # app streams only: reserved for the web streams this gateway sends to
        "ad_impression", "in_app_purchase", "screen_view",
    }
)  # fmt: skip
RESERVED_PREFIXES = ("_", "firebase_", "ga_", "google_", "gtag.")
RESERVED_PARAMS = frozenset({"firebase_conversion"})
RESERVED_USER_PROPERTIES = frozenset(
    {"first_open_time", "first_visit_time", "last_deep_link_referrer", "user_id", "first_open_after_install"}
)
USER_PROPERTY_PREFIXES = ("_", "firebase_", "ga_", "google_")
STANDARD_ITEM_FIELDS = frozenset(
    {
        "item_id", "item_name", "affiliation", "coupon", "discount", "index", "item_brand", "item_category",
        "item_category2", "item_category3", "item_category4", "item_category5", "item_list_id", "item_list_name",
        "item_variant", "location_id", "price", "quantity", "promotion_id", "promotion_name", "creative_name",
        "creative_slot",
    }
)  # fmt: skip
TOP_LEVEL_KEYS = frozenset(
    {
        "client_id", "app_instance_id", "user_id", "timestamp_micros", "user_properties", "consent", "user_data",
        "user_location", "ip_override", "device", "user_agent", "validation_behavior", "non_personalized_ads", "events",
    }
)  # fmt: skip
DEVICE_KEYS = frozenset(
    {
        "category", "language", "screen_resolution", "operating_system", "operating_system_version", "model", "brand",
        "browser", "browser_version",
    }
)  # fmt: skip
