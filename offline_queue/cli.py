"""Placeholder until this command group lands; owner fills in register()."""


def register(sub) -> None:
    pass
