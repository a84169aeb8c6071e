"""Learning: consolidation of what the memory layer holds (promotion, merging, reflection,
pattern learning, selective forgetting, compaction). The step logic is plain Python over
records; ``consolidator`` is the Ray plumbing that runs it as tasks per shard."""
