"""Deadlines as real dates, never from a model.

- ``rules``: the timescale rules (national and each area's own, reviewed or read from documents) and
  which rule applies where;
- ``calendar``: working days, bank holidays and office closures of England;
- ``questions``: reading a timescale question ("when is the review if the conference was on 3 March?");
- ``review``: a person approving or correcting the timescales read from a document;
- ``ics``: deadlines as a calendar file;
- ``cli``: the ``safeguide timescales`` commands.
"""
