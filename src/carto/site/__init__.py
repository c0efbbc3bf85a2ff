"""The static public site (`carto site build OUT/`): build.py writes it, site.js runs it."""
