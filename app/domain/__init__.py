"""Pure types and rules; imports nothing but the standard library and pydantic."""
