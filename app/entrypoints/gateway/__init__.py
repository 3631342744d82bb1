"""The HTTP gateway: submit chats, stream their progress over SSE, serve the chat page."""
