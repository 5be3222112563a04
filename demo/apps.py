from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo MSP (``seed_demo``): seeds every app, so it sits above all of them."""

    name = "demo"
