"""From a checked table to published versions: diffing, import plan, storage."""
