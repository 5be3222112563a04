from django.apps import AppConfig


class ExceptionsRegisterConfig(AppConfig):
    name = "exceptions_register"
