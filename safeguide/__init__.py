"""safeguide: cited, edition-aware guidance on child safeguarding procedures in England."""

__version__ = "0.1.0"
