"""What changed between two editions of the guidance, point by point with sources on both sides.

- ``changes``: what a change is (with its cited sides), the curated changes, reading change documents;
- ``finding``: the changes read from the index: curated changes first, Before/Now pairs, change
  statements with the closest older passage matched by meaning, timescale differences from the rules;
- ``comparer``: a comparison between two editions (cached per index build), filtered by topic, with
  summaries quoted or written by a model and checked;
- ``export``: Markdown, CSV and HTML;
- ``cli``: the ``safeguide compare`` command.
"""
