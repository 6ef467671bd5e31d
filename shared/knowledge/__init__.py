"""A tenant's knowledge base: extraction, chunking, embeddings and retrieval (Firestore vectors)."""
