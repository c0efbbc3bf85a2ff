"""Reading, validating and geocoding an incoming file: reading, validation, pipeline, session."""
