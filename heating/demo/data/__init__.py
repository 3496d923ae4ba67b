"""Real reference facts of 屯留区 used by the demo (see README.md for provenance and licences)."""
