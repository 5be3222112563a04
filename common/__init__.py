"""The shared kernel: small helpers every app may use. It imports no PatchOps app."""
