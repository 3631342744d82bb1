"""Chats as arq jobs: the ChatJobs adapter (gateway side) and the job runner (worker side)."""
