"""Second factors at sign-in: TOTP authenticator apps and single-use recovery codes (django-otp)."""
