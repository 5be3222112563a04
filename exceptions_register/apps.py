from django.apps import AppConfig


class ExceptionsRegisterConfig(AppConfig):
    name = "exceptions_register"

    def ready(self) -> None:
        # The findings app ranks covered findings after uncovered work through these rules.
        from findings import coverage

        from .selectors import covering_exceptions, excepted_until

        coverage.register(
            coverage.CoverRules(
                excepted_until=excepted_until, covering_exceptions=covering_exceptions
            )
        )
        # "Request an exception" on the findings pages.
        from findings.hooks import register_finding_action

        from .finding_actions import ACTION

        register_finding_action(ACTION)
