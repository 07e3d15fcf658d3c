"""Reports over finished runs: learning curves and a Markdown summary."""
