from django.db import models

__all__ = ["StaffRole", "MembershipRole", "TokenScope", "DiscoveryCadence", "ClientLocale"]


class StaffRole(models.TextChoices):
    """Roles of MSP staff; a user with no staff role is a client user."""

    MSP_ADMIN = "msp_admin", "MSP admin"
    ENGINEER = "engineer", "Engineer"
    ACCOUNT_MANAGER = "account_manager", "Account manager"


class MembershipRole(models.TextChoices):
    """Roles a client user holds in the one client they belong to."""

    CLIENT_OWNER = "client_owner", "Client owner"
    CLIENT_VIEWER = "client_viewer", "Client viewer"


class TokenScope(models.TextChoices):
    READ = "read", "Read"
    WRITE = "write", "Read and write"
    AGENT = "agent", "Discovery agent"


class DiscoveryCadence(models.TextChoices):
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"


class ClientLocale(models.TextChoices):
    """A client's language and country (BCP 47 ``language-REGION``): its reports' paper size
    follows the country (Letter where Letter is the norm, A4 elsewhere)."""

    EN_US = "en-US", "English (United States)"
    ES_US = "es-US", "Spanish (United States)"
    EN_CA = "en-CA", "English (Canada)"
    FR_CA = "fr-CA", "French (Canada)"
    ES_MX = "es-MX", "Spanish (Mexico)"
    EN_PH = "en-PH", "English (Philippines)"
    ES_CL = "es-CL", "Spanish (Chile)"
    ES_CO = "es-CO", "Spanish (Colombia)"
    ES_VE = "es-VE", "Spanish (Venezuela)"
    ES_CR = "es-CR", "Spanish (Costa Rica)"
    ES_GT = "es-GT", "Spanish (Guatemala)"
    ES_PA = "es-PA", "Spanish (Panama)"
    ES_SV = "es-SV", "Spanish (El Salvador)"
    ES_NI = "es-NI", "Spanish (Nicaragua)"
    ES_PR = "es-PR", "Spanish (Puerto Rico)"
    EN_BZ = "en-BZ", "English (Belize)"
    EN_GB = "en-GB", "English (United Kingdom)"
    EN_IE = "en-IE", "English (Ireland)"
    EN_AU = "en-AU", "English (Australia)"
    EN_NZ = "en-NZ", "English (New Zealand)"
    EN_IN = "en-IN", "English (India)"
    EN_ZA = "en-ZA", "English (South Africa)"
    EN_SG = "en-SG", "English (Singapore)"
    DE_DE = "de-DE", "German (Germany)"
    DE_AT = "de-AT", "German (Austria)"
    DE_CH = "de-CH", "German (Switzerland)"
    FR_FR = "fr-FR", "French (France)"
    FR_BE = "fr-BE", "French (Belgium)"
    NL_NL = "nl-NL", "Dutch (Netherlands)"
    ES_ES = "es-ES", "Spanish (Spain)"
    ES_AR = "es-AR", "Spanish (Argentina)"
    PT_BR = "pt-BR", "Portuguese (Brazil)"
    PT_PT = "pt-PT", "Portuguese (Portugal)"
    IT_IT = "it-IT", "Italian (Italy)"
    SV_SE = "sv-SE", "Swedish (Sweden)"
    DA_DK = "da-DK", "Danish (Denmark)"
    NB_NO = "nb-NO", "Norwegian (Norway)"
    FI_FI = "fi-FI", "Finnish (Finland)"
    PL_PL = "pl-PL", "Polish (Poland)"
    JA_JP = "ja-JP", "Japanese (Japan)"
