"""Learning: consolidation of what the memory layer holds (promotion, merging, reflection,
pattern learning, selective forgetting, compaction). The step logic is plain Python over
records, with no Ray; ``echoray.serve.consolidator`` runs it as Ray tasks per shard."""
