"""Reference tables shipped with the package (see README.md here for provenance and licences)."""
