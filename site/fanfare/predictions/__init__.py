"""The prediction game: rounds that lock exactly, suspensions, four-eyes results, scoring."""
