"""Analysis: pure maths on a capture (attention, rollout, relevance, embeddings), `analyze`, explanation methods and faithfulness."""
