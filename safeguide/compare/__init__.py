"""What changed between two editions of the guidance, point by point with sources on both sides.

- ``changes``: what a change is (with its cited sides), the curated changes, reading change documents;
- ``comparer``: the comparison itself: curated changes first, Before/Now pairs, change statements with
  the closest older passage matched by meaning, timescale differences from the rules;
- ``export``: Markdown, CSV and HTML;
- ``cli``: the ``safeguide compare`` command.
"""
