"""Files → articles → chunks: reading corpus files (text, HTML, JSON, newspaper
pages as text or PDF), segmenting pages into articles, cleaning text, and
cutting articles into sentence-aligned chunks."""
