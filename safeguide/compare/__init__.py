"""What changed between two editions of the guidance, point by point with sources on both sides.

- ``comparer``: the curated structural changes, paragraphs matched across editions by meaning, and each
  change cited to the paragraphs it comes from;
- ``cli``: the ``safeguide compare`` command.
"""
